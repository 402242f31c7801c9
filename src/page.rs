//! Page decoding: a response is read in one scan ([`crate::scan`]) that
//! splits its record lists into records and each record into fields (see
//! [`crate::record`]); most of a record passes through unparsed. A page's
//! other fields are small and parsed.

use std::collections::HashMap;
use std::ops::Range;

use serde::de::IgnoredAny;
use serde_json::Value;

use crate::error::{Error, Result};
use crate::record::{Fields, Records, object, split_object, unescape};
use crate::scan::{Cursor, Malformed, Scan};

/// An element of a list in a response: an object (a record), or anything else.
#[derive(Debug)]
enum Item {
    Object(Fields),
    Other(Value),
}

/// A response object. Its top-level arrays (Intercom's record lists) are
/// split into records and fields while the body is read; other fields are
/// small and parsed.
#[derive(Debug)]
pub struct Page {
    text: String,
    fields: HashMap<String, PageField>,
}

#[derive(Debug)]
enum PageField {
    Items(Vec<Item>),
    Value(Value),
}

/// Decoding a response body.
pub trait Decode: Sized {
    fn decode(body: Vec<u8>) -> serde_json::Result<Self>;
}

impl Decode for Value {
    fn decode(body: Vec<u8>) -> serde_json::Result<Self> {
        serde_json::from_slice(&body)
    }
}

impl Decode for Page {
    fn decode(body: Vec<u8>) -> serde_json::Result<Self> {
        if simdutf8::basic::from_utf8(&body).is_err() {
            return Err(serde_json::from_slice::<IgnoredAny>(&body)
                .err()
                .unwrap_or_else(|| serde::de::Error::custom("invalid UTF-8")));
        }
        // SAFETY: simdutf8 has just checked that `body` is UTF-8 (16 bytes
        // at a time where the standard library's check takes 4 in wasm32).
        let text = unsafe { String::from_utf8_unchecked(body) };
        match read_page(&text) {
            Ok(fields) => Ok(Page { text, fields }),
            Err(malformed) => Err(explain(&text, malformed)),
        }
    }
}

/// What is wrong with a text the scan rejected, in serde_json's words when
/// the text is not JSON; else it is JSON of another shape (a data error).
fn explain(text: &str, malformed: Malformed) -> serde_json::Error {
    match serde_json::from_str::<IgnoredAny>(text) {
        Err(e) => e,
        Ok(_) => serde::de::Error::custom(format_args!(
            "expected {} at byte {}",
            malformed.expected, malformed.at
        )),
    }
}

/// A response object's fields; its arrays split into items.
fn read_page(text: &str) -> Scan<HashMap<String, PageField>> {
    let mut cursor = Cursor::new(text, 0);
    cursor.expect(b'{', "a JSON object")?;
    let mut fields = HashMap::new();
    if !cursor.take(b'}') {
        loop {
            let key = match cursor.string()? {
                (range, false) => text[range].to_string(),
                (range, true) => unescape(text, range)?,
            };
            cursor.expect(b':', "`:`")?;
            let field = match cursor.peek() {
                Some(b'[') => PageField::Items(items(&mut cursor, text)?),
                _ => PageField::Value(parsed(text, cursor.value()?)?),
            };
            fields.insert(key, field);
            if !cursor.more(b'}', "`,` or `}`")? {
                break;
            }
        }
    }
    match cursor.at_end() {
        true => Ok(fields),
        false => cursor.fail("the end of the text"),
    }
}

/// The elements of the array at the cursor; objects split into fields.
fn items(cursor: &mut Cursor, text: &str) -> Scan<Vec<Item>> {
    cursor.expect(b'[', "`[`")?;
    let mut items = Vec::new();
    if cursor.take(b']') {
        return Ok(items);
    }
    // Records of a list have about as many fields as the one before.
    let mut fields = 32;
    loop {
        let item = match cursor.peek() {
            Some(b'{') => {
                let object = split_object(cursor, text, fields)?;
                fields = object.len();
                Item::Object(object)
            }
            _ => Item::Other(parsed(text, cursor.value()?)?),
        };
        items.push(item);
        if !cursor.more(b']', "`,` or `]`")? {
            return Ok(items);
        }
    }
}

/// The value whose text lies at `range`, parsed.
fn parsed(text: &str, range: Range<usize>) -> Scan<Value> {
    serde_json::from_str(&text[range.clone()]).map_err(|_| Malformed {
        expected: "a JSON value",
        at: range.start,
    })
}

impl Page {
    /// The value of `key`; Null when absent.
    pub fn value(&self, key: &str) -> Value {
        match self.fields.get(key) {
            Some(PageField::Value(value)) => value.clone(),
            Some(PageField::Items(items)) => Value::Array(
                items
                    .iter()
                    .map(|item| match item {
                        Item::Object(fields) => object(&self.text, fields),
                        Item::Other(value) => value.clone(),
                    })
                    .collect(),
            ),
            None => Value::Null,
        }
    }

    /// The page's `total_count`: how many records the list holds.
    pub fn total_count(&self) -> Option<u64> {
        match self.fields.get("total_count") {
            Some(PageField::Value(total)) => total.as_u64(),
            _ => None,
        }
    }

    /// The value at a JSON pointer of object keys, e.g. `/a/b`.
    pub fn pointer(&self, pointer: &str) -> Value {
        let mut keys = pointer.trim_start_matches('/').splitn(2, '/');
        let first = keys.next().unwrap_or_default();
        match (keys.next(), self.fields.get(first)) {
            (None, _) => self.value(first),
            (Some(rest), Some(PageField::Value(value))) => value
                .pointer(&format!("/{rest}"))
                .cloned()
                .unwrap_or(Value::Null),
            _ => Value::Null,
        }
    }

    /// Takes the records array at a pointer of object keys.
    pub fn take_records(&mut self, pointer: &str, what: &str) -> Result<Records> {
        let missing = || Error::api(format!("{what}: response has no `{pointer}` array"));
        let not_array = || Error::api(format!("{what}: `{pointer}` is not an array"));
        let not_object = || Error::api(format!("{what}: a record is not a JSON object"));
        let mut keys = pointer.trim_start_matches('/').splitn(2, '/');
        let first = keys.next().unwrap_or_default();
        let field = match keys.next() {
            None => self.fields.remove(first),
            // Nested lists (a conversation's parts) arrive parsed; write them back.
            Some(rest) => match self.fields.get_mut(first) {
                Some(PageField::Value(value)) => value
                    .pointer_mut(&format!("/{rest}"))
                    .map(|v| PageField::Value(v.take())),
                _ => None,
            },
        };
        match field.ok_or_else(missing)? {
            PageField::Items(items) => {
                let records = items
                    .into_iter()
                    .map(|item| match item {
                        Item::Object(fields) => Ok(fields),
                        Item::Other(_) => Err(not_object()),
                    })
                    .collect::<Result<Vec<_>>>()?;
                if self.text.is_empty() && !records.is_empty() {
                    return Err(Error::internal(format!(
                        "{what}: two record lists taken from one response"
                    )));
                }
                Ok(Records::new(std::mem::take(&mut self.text), records))
            }
            PageField::Value(Value::Null) => Err(missing()),
            PageField::Value(Value::Array(items)) => {
                Records::from_values(items).ok_or_else(not_object)
            }
            PageField::Value(_) => Err(not_array()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{FieldName, Record};
    use serde_json::json;

    fn decoded(body: Value) -> Page {
        Page::decode(body.to_string().into_bytes()).unwrap()
    }

    #[test]
    fn pages_give_records_at_pointers_and_say_what_is_missing() {
        let body = json!({"parts": {"list": [{"id": 1}, {"id": 2}], "total": 9}, "next": "x"});
        let mut page = decoded(body);
        assert_eq!(page.value("next"), json!("x"));
        assert_eq!(page.pointer("/parts/total"), json!(9));
        let mut records = page.take_records("/parts/list", "GET /x").unwrap();
        assert_eq!(records.len(), 2);
        assert_eq!(records.records()[1].to_json(), r#"{"id":2}"#);
        let e = page.take_records("/parts/list", "GET /x").unwrap_err();
        assert_eq!(e.message, "GET /x: response has no `/parts/list` array");
        let e = decoded(json!({"data": 3}))
            .take_records("data", "GET /x")
            .unwrap_err();
        assert_eq!(e.message, "GET /x: `data` is not an array");
        let e = decoded(json!({"data": [{"id": 1}, 2]}))
            .take_records("data", "GET /x")
            .unwrap_err();
        assert_eq!(e.message, "GET /x: a record is not a JSON object");
        assert!(Record::parse("[1]", "s").is_err());
    }

    #[test]
    fn broken_bodies_are_syntax_errors_and_other_shapes_data_errors() {
        use serde_json::error::Category;
        // The API layer retries the first kinds and reports the last.
        let category = |body: &str| {
            Page::decode(body.as_bytes().to_vec())
                .unwrap_err()
                .classify()
        };
        assert_eq!(category(r#"{"data":[{"id":"1"},{"id":"#), Category::Eof);
        assert_eq!(category(r#"{"data":[{"id":"1" "x":2}]}"#), Category::Syntax);
        assert_eq!(category(r#"{"data":[{"id":nul}]}"#), Category::Syntax);
        assert_eq!(category(r#"{"data":[{"id":"1"}]} x"#), Category::Syntax);
        assert_eq!(category(r#"[{"id":"1"}]"#), Category::Data);
    }

    #[test]
    fn pretty_pages_split_as_compact_ones_do() {
        let body = json!({"data": [{"id": "a", "n": {"x": [1, {"y": "]}\\\""}]}, "at": 5}],
            "pages": {"next": null}});
        let mut page = Page::decode(serde_json::to_vec_pretty(&body).unwrap()).unwrap();
        let mut records = page.take_records("data", "GET /x").unwrap();
        let record: Value = serde_json::from_str(&records.records()[0].to_json()).unwrap();
        assert_eq!(record, body["data"][0]);
        assert_eq!(page.pointer("/pages/next"), Value::Null);
    }

    #[test]
    fn top_level_lists_are_records_read_in_one_pass() {
        let body = json!({"type": "list", "team_ids": [1, 2], "data": [
            {"id": "a", "n\u{e9}\"x": {"deep": [1]}, "at": 5},
            {"id": "b", "at": null}
        ], "pages": {"next": {"starting_after": "c"}}});
        let mut page = decoded(body);
        assert_eq!(page.value("team_ids"), json!([1, 2]));
        assert_eq!(page.value("data")[0]["n\u{e9}\"x"], json!({"deep": [1]}));
        assert_eq!(page.pointer("/pages/next/starting_after"), json!("c"));
        let mut records = page.take_records("data", "GET /x").unwrap();
        assert_eq!(records.value_of(1, "id"), Some(json!("b")));
        records.retain(|i| i == 0);
        let list = records.records();
        assert_eq!(list.len(), 1);
        assert_eq!(list[0].seconds(&FieldName::new("at")), Some(5));
        assert_eq!(
            list[0].to_json(),
            r#"{"at":5,"id":"a","né\"x":{"deep":[1]}}"#
        );
    }
}

//! Pages and records as their top-level fields, each kept as JSON text until
//! something needs its value. A response is read in one scan ([`crate::scan`])
//! that splits its record lists into records and each record into fields,
//! noting where each field's text lies; most of a record passes through
//! unparsed. A page's other fields are small and parsed.

use std::cell::Cell;
use std::collections::HashMap;
use std::ops::Range;

use memchr::memmem;
use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::Value;

use crate::error::{Error, Result};
use crate::record::{date_time_text, names_date_time, push_rfc3339};
use crate::scan::{Cursor, Malformed, Scan, integer};

/// A field's name: where it lies in the text, or the unescaped name when it
/// had escapes.
#[derive(Debug)]
enum Name {
    At(Range<usize>),
    Owned(String),
}

/// A field's value: where its JSON text lies, or a value the connector set.
#[derive(Debug)]
enum Field {
    Raw(Range<usize>),
    Value(Value),
    /// Whole UNIX seconds that name a date-time, written as RFC 3339 text
    /// straight into the output (most records carry several).
    Time(i64),
}

/// One object's top-level fields, in the API's order.
type Fields = Vec<(Name, Field)>;

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

/// The fields of the object at the cursor, with room for `capacity`.
fn split_object(cursor: &mut Cursor, text: &str, capacity: usize) -> Scan<Fields> {
    cursor.expect(b'{', "a JSON object")?;
    let mut fields = Vec::with_capacity(capacity);
    if cursor.take(b'}') {
        return Ok(fields);
    }
    loop {
        let name = match cursor.string()? {
            (range, false) => Name::At(range),
            (range, true) => Name::Owned(unescape(text, range)?),
        };
        cursor.expect(b':', "`:`")?;
        fields.push((name, Field::Raw(cursor.value()?)));
        if !cursor.more(b'}', "`,` or `}`")? {
            return Ok(fields);
        }
    }
}

/// The string whose contents (with escapes) lie at `range`.
fn unescape(text: &str, range: Range<usize>) -> Scan<String> {
    let quoted = text.get(range.start - 1..range.end + 1).unwrap_or_default();
    serde_json::from_str(quoted).map_err(|_| Malformed {
        expected: "a string with valid escapes",
        at: range.start,
    })
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
                Ok(Records {
                    text: std::mem::take(&mut self.text),
                    records,
                })
            }
            PageField::Value(Value::Null) => Err(missing()),
            PageField::Value(Value::Array(items)) => {
                Records::from_values(items).ok_or_else(not_object)
            }
            PageField::Value(_) => Err(not_array()),
        }
    }
}

/// Records taken from a response: its text, and each record's fields.
#[derive(Debug)]
pub struct Records {
    text: String,
    records: Vec<Fields>,
}

impl Records {
    /// Records from parsed objects; None when one is not an object.
    fn from_values(items: Vec<Value>) -> Option<Records> {
        let mut text = String::new();
        let mut ranges = Vec::with_capacity(items.len());
        for item in &items {
            if !item.is_object() {
                return None;
            }
            let start = text.len();
            push_json(&mut text, item);
            ranges.push(start..text.len());
        }
        let records = ranges
            .into_iter()
            .map(|range| split_object(&mut Cursor::new(&text, range.start), &text, 32).ok())
            .collect::<Option<Vec<_>>>()?;
        Some(Records { text, records })
    }

    pub fn len(&self) -> usize {
        self.records.len()
    }

    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// The value of `key` in record `index`; None when absent.
    pub fn value_of(&self, index: usize, key: &str) -> Option<Value> {
        let fields = self.records.get(index)?;
        let i = position(&self.text, fields, key)?;
        Some(value(&self.text, &fields[i].1))
    }

    /// Keeps the records whose index `keep` accepts.
    pub fn retain(&mut self, mut keep: impl FnMut(usize) -> bool) {
        let mut index = 0..;
        self.records.retain(|_| index.next().is_some_and(&mut keep));
    }

    /// The records, borrowing this list's text; the list is left empty.
    pub fn records(&mut self) -> Vec<Record<'_>> {
        let text = self.text.as_str();
        std::mem::take(&mut self.records)
            .into_iter()
            .map(|fields| Record { text, fields })
            .collect()
    }
}

fn name<'t>(text: &'t str, name: &'t Name) -> &'t str {
    match name {
        Name::At(range) => text.get(range.clone()).unwrap_or_default(),
        Name::Owned(name) => name,
    }
}

/// [`name`] as bytes, for comparisons: no check that the range falls on
/// character boundaries.
fn name_bytes<'t>(text: &'t str, name: &'t Name) -> &'t [u8] {
    match name {
        Name::At(range) => text.as_bytes().get(range.clone()).unwrap_or_default(),
        Name::Owned(name) => name.as_bytes(),
    }
}

fn raw<'t>(text: &'t str, range: &Range<usize>) -> &'t str {
    text.get(range.clone()).unwrap_or("null")
}

fn position(text: &str, fields: &Fields, key: &str) -> Option<usize> {
    fields
        .iter()
        .position(|(n, _)| same(name_bytes(text, n), key.as_bytes()))
}

/// Whether two field names are equal: lengths first, then eight bytes at a
/// time, with no loop for names of 8 to 16 bytes. Every lookup the shape
/// makes compares names, and in the component each loop iteration of a
/// byte-wise comparison also pays the watchdog's check.
fn same(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    match (a.first_chunk::<8>(), b.first_chunk::<8>()) {
        (Some(a_head), Some(b_head)) if a.len() <= 16 => {
            a_head == b_head && a.last_chunk::<8>() == b.last_chunk::<8>()
        }
        _ => a == b,
    }
}

fn value(text: &str, field: &Field) -> Value {
    match field {
        Field::Raw(range) => parse(raw(text, range)),
        Field::Value(value) => value.clone(),
        Field::Time(seconds) => date_time_text(*seconds).map_or(Value::Null, Value::String),
    }
}

fn object(text: &str, fields: &Fields) -> Value {
    Value::Object(
        fields
            .iter()
            .map(|(n, field)| (name(text, n).to_string(), value(text, field)))
            .collect(),
    )
}

fn parse(raw: &str) -> Value {
    serde_json::from_str(raw).unwrap_or(Value::Null)
}

/// [`parse`], skipping the parser for the common scalars (timestamps).
fn parse_scalar(raw: &str) -> Value {
    match raw {
        "null" => Value::Null,
        _ => raw.parse::<i64>().map_or_else(|_| parse(raw), Value::from),
    }
}

/// One record's top-level fields, borrowing the text they came in.
#[derive(Debug)]
pub struct Record<'a> {
    text: &'a str,
    fields: Fields,
}

impl<'a> Record<'a> {
    /// A record from its own text (a JSON object).
    #[cfg(test)]
    pub fn parse(text: &'a str, stream: &str) -> Result<Self> {
        let not_object = || Error::api(format!("{stream}: a record is not a JSON object"));
        let mut cursor = Cursor::new(text, 0);
        let fields = split_object(&mut cursor, text, 32).map_err(|_| not_object())?;
        match cursor.at_end() {
            true => Ok(Record { text, fields }),
            false => Err(not_object()),
        }
    }

    fn position(&self, key: &str) -> Option<usize> {
        position(self.text, &self.fields, key)
    }

    /// The value of `key`, parsed; None when absent.
    pub fn get(&self, key: &str) -> Option<Value> {
        self.position(key)
            .map(|i| value(self.text, &self.fields[i].1))
    }

    /// Reads part of a field without building its whole value.
    pub fn peek<T: Deserialize<'a>>(&self, key: &str) -> Option<T> {
        match &self.fields[self.position(key)?].1 {
            Field::Raw(range) => serde_json::from_str(raw(self.text, range)).ok(),
            Field::Value(_) | Field::Time(_) => None,
        }
    }

    /// Whether `key`'s API text contains what `finder` looks for: a cheap
    /// test before parsing. False once the connector has changed the field.
    /// `hint` as in [`Self::locate`].
    pub fn contains(&self, key: &str, hint: &Cell<usize>, finder: &memmem::Finder) -> bool {
        self.locate(key, hint)
            .is_some_and(|i| match &self.fields[i].1 {
                Field::Raw(range) => finder.find(raw(self.text, range).as_bytes()).is_some(),
                Field::Value(_) | Field::Time(_) => false,
            })
    }

    /// A number field as whole seconds; `hint` as in [`Self::locate`].
    pub fn seconds(&self, key: &str, hint: &Cell<usize>) -> Option<i64> {
        let i = self.locate(key, hint)?;
        // Whole seconds, the usual case, without building a value.
        if let Field::Raw(range) = &self.fields[i].1
            && let Some(seconds) = integer(raw(self.text, range))
        {
            return Some(seconds);
        }
        let value = value(self.text, &self.fields[i].1);
        value.as_i64().or_else(|| value.as_f64().map(|f| f as i64))
    }

    /// A string or number field as text (an id).
    pub fn text(&self, key: &str) -> Option<String> {
        match self.get(key)? {
            Value::String(s) => Some(s),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    }

    /// Sets `key`, in place when present, else at the end.
    pub fn set(&mut self, key: &str, value: Value) {
        match self.position(key) {
            Some(i) => self.fields[i].1 = Field::Value(value),
            None => self
                .fields
                .push((Name::Owned(key.to_string()), Field::Value(value))),
        }
    }

    /// Changes the value of `key`, when present.
    pub fn update(&mut self, key: &str, change: impl FnOnce(&mut Value)) {
        if let Some(i) = self.position(key) {
            self.change_at(i, change);
        }
    }

    /// [`Self::update`], leaving an API null as it is; `hint` as in
    /// [`Self::locate`].
    pub fn update_unless_null(
        &mut self,
        key: &str,
        hint: &Cell<usize>,
        change: impl FnOnce(&mut Value),
    ) {
        let Some(i) = self.locate(key, hint) else {
            return;
        };
        if !matches!(&self.fields[i].1, Field::Raw(range) if raw(self.text, range) == "null") {
            self.change_at(i, change);
        }
    }

    /// Where `key` is, looking first where `hint` says it was in the last
    /// record (records of one stream share their field order), and noting
    /// where it is now.
    fn locate(&self, key: &str, hint: &Cell<usize>) -> Option<usize> {
        let i = match self.fields.get(hint.get()) {
            Some((n, _)) if same(name_bytes(self.text, n), key.as_bytes()) => hint.get(),
            _ => self.position(key)?,
        };
        hint.set(i);
        Some(i)
    }

    /// Marks `key`, when it holds whole UNIX seconds, to be written as RFC
    /// 3339 text. False when it holds anything else but null, which is left
    /// to [`Self::update_unless_null`]. `hint` as in [`Self::locate`].
    pub fn seconds_to_date_time(&mut self, key: &str, hint: &Cell<usize>) -> bool {
        let Some(i) = self.locate(key, hint) else {
            return true;
        };
        let field = &mut self.fields[i].1;
        let Field::Raw(range) = field else {
            return false;
        };
        let text = raw(self.text, range);
        if text == "null" {
            return true;
        }
        match integer(text) {
            Some(seconds) if names_date_time(seconds) => {
                *field = Field::Time(seconds);
                true
            }
            _ => false,
        }
    }

    fn change_at(&mut self, i: usize, change: impl FnOnce(&mut Value)) {
        let field = &mut self.fields[i].1;
        match field {
            Field::Raw(range) => *field = Field::Value(parse_scalar(raw(self.text, range))),
            Field::Time(_) => *field = Field::Value(value(self.text, field)),
            Field::Value(_) => {}
        }
        if let Field::Value(value) = field {
            change(value);
        }
    }

    pub fn retain(&mut self, mut keep: impl FnMut(&str) -> bool) {
        let text = self.text;
        self.fields.retain(|(n, _)| keep(name(text, n)));
    }

    pub fn to_json(&self) -> String {
        // The API's text of the record, and room for what changed (a
        // timestamp grows by 12 bytes), without a loop over the fields.
        let last = self.fields.iter().rev().find_map(|(_, field)| match field {
            Field::Raw(range) => Some(range.end),
            _ => None,
        });
        let text = match (self.fields.first(), last) {
            (Some((Name::At(first), _)), Some(last)) => last.saturating_sub(first.start),
            _ => 0,
        };
        let mut out = String::with_capacity(text + 16 * self.fields.len() + 2);
        out.push('{');
        // Untouched fields that were neighbours in the text are copied as one
        // slice: a copy a run rather than two a field.
        let mut run: Option<Range<usize>> = None;
        for (key, field) in &self.fields {
            if let Some(member) = self.member(key, field) {
                match &mut run {
                    Some(run) if self.adjacent(run.end, member.start) => run.end = member.end,
                    _ => {
                        self.push_run(&mut out, run.take());
                        run = Some(member);
                    }
                }
                continue;
            }
            self.push_run(&mut out, run.take());
            if out.len() > 1 {
                out.push(',');
            }
            match key {
                // A name read from the text had no escapes: its text is its JSON.
                Name::At(_) => {
                    out.push('"');
                    out.push_str(name(self.text, key));
                    out.push('"');
                }
                Name::Owned(name) => push_json(&mut out, name),
            }
            out.push(':');
            match field {
                Field::Raw(range) => out.push_str(raw(self.text, range)),
                Field::Time(seconds) => {
                    out.push('"');
                    push_rfc3339(&mut out, *seconds);
                    out.push('"');
                }
                // Strings the connector set (nested timestamps, hashes):
                // text that needs no escapes, mostly.
                Field::Value(Value::String(text))
                    if !text.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\') =>
                {
                    out.push('"');
                    out.push_str(text);
                    out.push('"');
                }
                Field::Value(value) => push_json(&mut out, value),
            }
        }
        self.push_run(&mut out, run);
        out.push('}');
        out
    }

    /// Where an untouched field's `"name": value` lies in the text.
    fn member(&self, key: &Name, field: &Field) -> Option<Range<usize>> {
        match (key, field) {
            (Name::At(name), Field::Raw(value))
                if name.start > 0 && self.text.as_bytes().get(name.start - 1) == Some(&b'"') =>
            {
                Some(name.start - 1..value.end)
            }
            _ => None,
        }
    }

    /// Whether only a comma (and whitespace) lies between `end` and `start`.
    fn adjacent(&self, end: usize, start: usize) -> bool {
        match self.text.as_bytes().get(end..start) {
            Some(b",") => true,
            Some(gap) => gap.trim_ascii() == b",",
            None => false,
        }
    }

    fn push_run(&self, out: &mut String, run: Option<Range<usize>>) {
        if let Some(run) = run {
            if out.len() > 1 {
                out.push(',');
            }
            out.push_str(raw(self.text, &run));
        }
    }
}

fn push_json<T: serde::Serialize + ?Sized>(out: &mut String, value: &T) {
    // Strings and values always serialize; a failure would be a serde_json bug.
    if let Ok(text) = serde_json::to_string(value) {
        out.push_str(&text);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn decoded(body: Value) -> Page {
        Page::decode(body.to_string().into_bytes()).unwrap()
    }

    #[test]
    fn untouched_fields_pass_through_and_changes_land_in_place() {
        let text = r#"{"id": "7", "a\"b": 1, "at": 1709632800, "n": {"x": [1, 2]}}"#;
        let mut record = Record::parse(text, "s").unwrap();
        assert_eq!(record.text("id").as_deref(), Some("7"));
        assert_eq!(record.seconds("at", &Cell::default()), Some(1709632800));
        record.update("at", |v| *v = json!("2024-03-05T10:00:00Z"));
        record.set("extra", json!(null));
        record.retain(|k| k != "n");
        assert_eq!(
            record.to_json(),
            r#"{"id": "7","a\"b":1,"at":"2024-03-05T10:00:00Z","extra":null}"#
        );
    }

    #[test]
    fn timestamps_are_written_between_their_neighbours() {
        let text = r#"{"a":1, "at" : 1709632800,"b":[2],"c":null,"gone":3,"end":0}"#;
        let mut record = Record::parse(text, "s").unwrap();
        let hint = Cell::default();
        for key in ["at", "c", "end"] {
            assert!(record.seconds_to_date_time(key, &hint), "{key}");
        }
        record.retain(|k| k != "gone");
        assert_eq!(
            record.to_json(),
            r#"{"a":1,"at":"2024-03-05T10:00:00Z","b":[2],"c":null,"end":"1970-01-01T00:00:00Z"}"#
        );
        assert_eq!(record.get("at"), Some(json!("2024-03-05T10:00:00Z")));
    }

    #[test]
    fn neighbouring_fields_are_copied_together_and_gaps_break_the_run() {
        let text = r#"{"a":1, "b":2,"c":[3],"d":{"e":4},"f":5}"#;
        let mut record = Record::parse(text, "s").unwrap();
        record.retain(|k| k != "b");
        assert_eq!(record.to_json(), r#"{"a":1,"c":[3],"d":{"e":4},"f":5}"#);
        record.update("d", |v| *v = json!(0));
        assert_eq!(record.to_json(), r#"{"a":1,"c":[3],"d":0,"f":5}"#);
        record.retain(|k| k == "f");
        assert_eq!(record.to_json(), r#"{"f":5}"#);
        record.retain(|_| false);
        assert_eq!(record.to_json(), "{}");
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
        assert_eq!(list[0].seconds("at", &Cell::default()), Some(5));
        assert_eq!(
            list[0].to_json(),
            r#"{"at":5,"id":"a","né\"x":{"deep":[1]}}"#
        );
    }
}

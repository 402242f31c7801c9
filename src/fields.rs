//! Pages and records as their top-level fields, each kept as JSON text until
//! something needs its value. Most of a record passes through unparsed, so
//! shaping costs a scan of the text rather than a tree of every value.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;

use serde::Deserialize;
use serde::de::value::MapAccessDeserializer;
use serde::de::{Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use serde_json::value::RawValue;

use crate::error::{Error, Result};

/// One record as the API sent it.
pub type RawRecord = Box<RawValue>;

/// A response object. Top-level arrays (Intercom's record lists) are split
/// into records while the body is read, so records cost one scan; other
/// fields are small and parsed.
#[derive(Debug, Deserialize)]
#[serde(transparent)]
pub struct Page(HashMap<String, PageField>);

#[derive(Debug)]
enum PageField {
    Records(Vec<RawRecord>),
    Value(Value),
}

impl<'de> Deserialize<'de> for PageField {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        struct Field;
        impl<'de> Visitor<'de> for Field {
            type Value = PageField;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_seq<S: SeqAccess<'de>>(
                self,
                mut seq: S,
            ) -> std::result::Result<PageField, S::Error> {
                let mut records = Vec::with_capacity(seq.size_hint().unwrap_or(64));
                while let Some(record) = seq.next_element()? {
                    records.push(record);
                }
                Ok(PageField::Records(records))
            }
            fn visit_map<M: MapAccess<'de>>(
                self,
                map: M,
            ) -> std::result::Result<PageField, M::Error> {
                Value::deserialize(MapAccessDeserializer::new(map)).map(PageField::Value)
            }
            fn visit_bool<E>(self, v: bool) -> std::result::Result<PageField, E> {
                Ok(PageField::Value(Value::Bool(v)))
            }
            fn visit_i64<E>(self, v: i64) -> std::result::Result<PageField, E> {
                Ok(PageField::Value(v.into()))
            }
            fn visit_u64<E>(self, v: u64) -> std::result::Result<PageField, E> {
                Ok(PageField::Value(v.into()))
            }
            fn visit_f64<E>(self, v: f64) -> std::result::Result<PageField, E> {
                Ok(PageField::Value(v.into()))
            }
            fn visit_str<E>(self, v: &str) -> std::result::Result<PageField, E> {
                Ok(PageField::Value(v.into()))
            }
            fn visit_unit<E>(self) -> std::result::Result<PageField, E> {
                Ok(PageField::Value(Value::Null))
            }
        }
        deserializer.deserialize_any(Field)
    }
}

impl Page {
    /// The value of `key`; Null when absent.
    pub fn value(&self, key: &str) -> Value {
        match self.0.get(key) {
            Some(PageField::Value(value)) => value.clone(),
            Some(PageField::Records(records)) => {
                Value::Array(records.iter().map(|r| parse(r.get())).collect())
            }
            None => Value::Null,
        }
    }

    /// The value at a JSON pointer of object keys, e.g. `/a/b`.
    pub fn pointer(&self, pointer: &str) -> Value {
        let mut keys = pointer.trim_start_matches('/').splitn(2, '/');
        let first = keys.next().unwrap_or_default();
        match (keys.next(), self.0.get(first)) {
            (None, _) => self.value(first),
            (Some(rest), Some(PageField::Value(value))) => value
                .pointer(&format!("/{rest}"))
                .cloned()
                .unwrap_or(Value::Null),
            _ => Value::Null,
        }
    }

    /// Takes the records array at a pointer of object keys.
    pub fn take_records(&mut self, pointer: &str, what: &str) -> Result<Vec<RawRecord>> {
        let missing = || Error::api(format!("{what}: response has no `{pointer}` array"));
        let not_array = || Error::api(format!("{what}: `{pointer}` is not an array"));
        let mut keys = pointer.trim_start_matches('/').splitn(2, '/');
        let first = keys.next().unwrap_or_default();
        let field = match keys.next() {
            None => self.0.remove(first),
            // Nested lists (a conversation's parts) arrive parsed; write them back.
            Some(rest) => match self.0.get_mut(first) {
                Some(PageField::Value(value)) => value
                    .pointer_mut(&format!("/{rest}"))
                    .map(|v| PageField::Value(v.take())),
                _ => None,
            },
        };
        match field.ok_or_else(missing)? {
            PageField::Records(records) => Ok(records),
            PageField::Value(Value::Null) => Err(missing()),
            PageField::Value(Value::Array(items)) => items
                .iter()
                .map(|item| RawValue::from_string(item.to_string()).map_err(|_| not_array()))
                .collect(),
            PageField::Value(_) => Err(not_array()),
        }
    }
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

/// A field's value: the API's text, or a value the connector set.
#[derive(Debug)]
enum Field<'a> {
    Raw(&'a RawValue),
    Value(Value),
}

/// A record's top-level fields in the API's order, borrowing its text.
#[derive(Debug)]
pub struct Record<'a> {
    fields: Vec<(Cow<'a, str>, Field<'a>)>,
    size: usize,
}

impl<'a> Record<'a> {
    pub fn parse(raw: &'a RawValue, stream: &str) -> Result<Self> {
        let mut record: Record = serde_json::from_str(raw.get())
            .map_err(|_| Error::api(format!("{stream}: a record is not a JSON object")))?;
        record.size = raw.get().len();
        Ok(record)
    }

    fn position(&self, key: &str) -> Option<usize> {
        self.fields.iter().position(|(k, _)| k == key)
    }

    /// The value of `key`, parsed; None when absent.
    pub fn get(&self, key: &str) -> Option<Value> {
        self.position(key).map(|i| match &self.fields[i].1 {
            Field::Raw(raw) => parse(raw.get()),
            Field::Value(value) => value.clone(),
        })
    }

    /// Reads part of a field without building its whole value.
    pub fn peek<T: Deserialize<'a>>(&self, key: &str) -> Option<T> {
        match &self.fields[self.position(key)?].1 {
            Field::Raw(raw) => serde_json::from_str(raw.get()).ok(),
            Field::Value(_) => None,
        }
    }

    /// Whether `key`'s text contains `needle`: a cheap test before parsing.
    pub fn contains(&self, key: &str, needle: &str) -> bool {
        self.position(key).is_some_and(|i| match &self.fields[i].1 {
            Field::Raw(raw) => raw.get().contains(needle),
            Field::Value(value) => value.to_string().contains(needle),
        })
    }

    /// A number field as whole seconds.
    pub fn seconds(&self, key: &str) -> Option<i64> {
        self.get(key)
            .and_then(|v| v.as_i64().or_else(|| v.as_f64().map(|f| f as i64)))
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
                .push((Cow::Owned(key.to_string()), Field::Value(value))),
        }
    }

    /// Changes the value of `key`, when present.
    pub fn update(&mut self, key: &str, change: impl FnOnce(&mut Value)) {
        let Some(i) = self.position(key) else { return };
        let field = &mut self.fields[i].1;
        if let Field::Raw(raw) = field {
            *field = Field::Value(parse_scalar(raw.get()));
        }
        if let Field::Value(value) = field {
            change(value);
        }
    }

    pub fn retain(&mut self, mut keep: impl FnMut(&str) -> bool) {
        self.fields.retain(|(key, _)| keep(key));
    }

    pub fn to_json(&self) -> String {
        let mut out = String::with_capacity(self.size + 256);
        out.push('{');
        for (i, (key, field)) in self.fields.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            match key {
                // Borrowed names had no escapes, so their text is their JSON.
                Cow::Borrowed(name) => {
                    out.push('"');
                    out.push_str(name);
                    out.push('"');
                }
                Cow::Owned(name) => push_json(&mut out, name),
            }
            out.push(':');
            match field {
                Field::Raw(raw) => out.push_str(raw.get()),
                Field::Value(value) => push_json(&mut out, value),
            }
        }
        out.push('}');
        out
    }
}

fn push_json<T: serde::Serialize + ?Sized>(out: &mut String, value: &T) {
    // Strings and values always serialize; a failure would be a serde_json bug.
    if let Ok(text) = serde_json::to_string(value) {
        out.push_str(&text);
    }
}

impl<'de> Deserialize<'de> for Record<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        struct Fields;
        impl<'de> Visitor<'de> for Fields {
            type Value = Record<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<M: MapAccess<'de>>(
                self,
                mut map: M,
            ) -> std::result::Result<Self::Value, M::Error> {
                let mut fields = Vec::with_capacity(map.size_hint().unwrap_or(32));
                while let Some((Key(key), value)) = map.next_entry::<Key, &RawValue>()? {
                    fields.push((key, Field::Raw(value)));
                }
                Ok(Record { fields, size: 0 })
            }
        }
        deserializer.deserialize_map(Fields)
    }
}

/// A field name, borrowed unless it had escapes.
struct Key<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        struct Name;
        impl<'de> Visitor<'de> for Name {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a field name")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> std::result::Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> std::result::Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_string())))
            }
        }
        deserializer.deserialize_str(Name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn raw(value: Value) -> Box<RawValue> {
        RawValue::from_string(value.to_string()).unwrap()
    }

    #[test]
    fn untouched_fields_pass_through_and_changes_land_in_place() {
        let text = RawValue::from_string(
            r#"{"id": "7", "a\"b": 1, "at": 1709632800, "n": {"x": [1, 2]}}"#.to_string(),
        )
        .unwrap();
        let mut record = Record::parse(&text, "s").unwrap();
        assert_eq!(record.text("id").as_deref(), Some("7"));
        assert_eq!(record.seconds("at"), Some(1709632800));
        record.update("at", |v| *v = json!("2024-03-05T10:00:00Z"));
        record.set("extra", json!(null));
        record.retain(|k| k != "n");
        assert_eq!(
            record.to_json(),
            r#"{"id":"7","a\"b":1,"at":"2024-03-05T10:00:00Z","extra":null}"#
        );
    }

    #[test]
    fn pages_give_records_at_pointers_and_say_what_is_missing() {
        let body = json!({"parts": {"list": [{"id": 1}, {"id": 2}], "total": 9}, "next": "x"});
        let mut page: Page = serde_json::from_str(&body.to_string()).unwrap();
        assert_eq!(page.value("next"), json!("x"));
        assert_eq!(page.pointer("/parts/total"), json!(9));
        let records = page.take_records("/parts/list", "GET /x").unwrap();
        assert_eq!(records.len(), 2);
        assert_eq!(records[1].get(), r#"{"id":2}"#);
        let e = page.take_records("/parts/list", "GET /x").unwrap_err();
        assert_eq!(e.message, "GET /x: response has no `/parts/list` array");
        let mut page: Page = serde_json::from_str(r#"{"data": 3}"#).unwrap();
        let e = page.take_records("data", "GET /x").unwrap_err();
        assert_eq!(e.message, "GET /x: `data` is not an array");
        assert!(Record::parse(&raw(json!([1])), "s").is_err());
    }
}

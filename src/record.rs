//! A record as its top-level fields, each kept as JSON text until something
//! needs its value, and written back to JSON with untouched fields copied
//! as they came.

use std::cell::Cell;
use std::ops::Range;

use memchr::memmem;
use serde::Deserialize;
use serde_json::Value;

use crate::dates::{date_time_text, names_date_time, push_rfc3339};
use crate::scan::{Cursor, Malformed, Scan, integer};

/// A field's name: where it lies in the text, or the unescaped name when it
/// had escapes.
#[derive(Debug)]
pub(crate) enum Name {
    At(Range<usize>),
    Owned(String),
}

/// A field's value: where its JSON text lies, or a value the connector set.
#[derive(Debug)]
pub(crate) enum Field {
    Raw(Range<usize>),
    Value(Value),
    /// Whole UNIX seconds that name a date-time, written as RFC 3339 text
    /// straight into the output (most records carry several).
    Time(i64),
}

/// One object's top-level fields, in the API's order.
pub(crate) type Fields = Vec<(Name, Field)>;

/// The fields of the object at the cursor, with room for `capacity`.
pub(crate) fn split_object(cursor: &mut Cursor, text: &str, capacity: usize) -> Scan<Fields> {
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
pub(crate) fn unescape(text: &str, range: Range<usize>) -> Scan<String> {
    let quoted = text.get(range.start - 1..range.end + 1).unwrap_or_default();
    serde_json::from_str(quoted).map_err(|_| Malformed {
        expected: "a string with valid escapes",
        at: range.start,
    })
}

/// Records taken from a response: its text, and each record's fields.
#[derive(Debug)]
pub struct Records {
    text: String,
    records: Vec<Fields>,
}

impl Records {
    /// Records split from `text`.
    pub(crate) fn new(text: String, records: Vec<Fields>) -> Self {
        Self { text, records }
    }

    /// Records from parsed objects; None when one is not an object.
    pub(crate) fn from_values(items: Vec<Value>) -> Option<Records> {
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

pub(crate) fn object(text: &str, fields: &Fields) -> Value {
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

/// A field's name, remembering where the field was in the last record it
/// was looked up in: records of one stream share their field order, so a
/// lookup usually compares one name.
#[derive(Debug)]
pub struct FieldName<N = &'static str> {
    name: N,
    last: Cell<usize>,
}

impl<N: AsRef<str>> FieldName<N> {
    pub fn new(name: N) -> Self {
        Self {
            name,
            last: Cell::new(0),
        }
    }

    pub fn as_str(&self) -> &str {
        self.name.as_ref()
    }
}

/// What [`Record::seconds_to_date_time`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DateTimeMarking {
    /// No such field.
    Absent,
    /// An API null, left as it is.
    Null,
    /// Whole UNIX seconds, now written as RFC 3339 text.
    Marked,
    /// Anything else, left as it is for [`Record::update_unless_null`].
    Other,
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
    pub fn parse(text: &'a str, stream: &str) -> crate::error::Result<Self> {
        let not_object =
            || crate::error::Error::api(format!("{stream}: a record is not a JSON object"));
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
    pub fn contains(&self, key: &FieldName<impl AsRef<str>>, finder: &memmem::Finder) -> bool {
        self.locate(key).is_some_and(|i| match &self.fields[i].1 {
            Field::Raw(range) => finder.find(raw(self.text, range).as_bytes()).is_some(),
            Field::Value(_) | Field::Time(_) => false,
        })
    }

    /// A number field as whole seconds.
    pub fn seconds(&self, key: &FieldName<impl AsRef<str>>) -> Option<i64> {
        let i = self.locate(key)?;
        // Whole seconds, the usual case, without building a value.
        if let Field::Raw(range) = &self.fields[i].1
            && let Some(seconds) = integer(raw(self.text, range))
        {
            return Some(seconds);
        }
        let value = value(self.text, &self.fields[i].1);
        value.as_i64().or_else(|| value.as_f64().map(|f| f as i64))
    }

    /// Whether `key` holds a number as the API sent it.
    pub fn is_number(&self, key: &FieldName<impl AsRef<str>>) -> bool {
        self.locate(key).is_some_and(|i| match &self.fields[i].1 {
            Field::Raw(range) => raw(self.text, range)
                .bytes()
                .next()
                .is_some_and(|b| b == b'-' || b.is_ascii_digit()),
            Field::Value(value) => value.is_number(),
            Field::Time(_) => false,
        })
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

    /// [`Self::update`], leaving an API null as it is.
    pub fn update_unless_null(
        &mut self,
        key: &FieldName<impl AsRef<str>>,
        change: impl FnOnce(&mut Value),
    ) {
        let Some(i) = self.locate(key) else {
            return;
        };
        if !matches!(&self.fields[i].1, Field::Raw(range) if raw(self.text, range) == "null") {
            self.change_at(i, change);
        }
    }

    /// Where `key` is, looking first where it was in the last record, and
    /// noting where it is now.
    fn locate(&self, key: &FieldName<impl AsRef<str>>) -> Option<usize> {
        let name = key.as_str();
        let last = key.last.get();
        let i = match self.fields.get(last) {
            Some((n, _)) if same(name_bytes(self.text, n), name.as_bytes()) => last,
            _ => self.position(name)?,
        };
        key.last.set(i);
        Some(i)
    }

    /// Marks `key`, when it holds whole UNIX seconds, to be written as RFC
    /// 3339 text.
    pub fn seconds_to_date_time(&mut self, key: &FieldName<impl AsRef<str>>) -> DateTimeMarking {
        let Some(i) = self.locate(key) else {
            return DateTimeMarking::Absent;
        };
        let field = &mut self.fields[i].1;
        let Field::Raw(range) = field else {
            return DateTimeMarking::Other;
        };
        let text = raw(self.text, range);
        if text == "null" {
            return DateTimeMarking::Null;
        }
        match integer(text) {
            Some(seconds) if names_date_time(seconds) => {
                *field = Field::Time(seconds);
                DateTimeMarking::Marked
            }
            _ => DateTimeMarking::Other,
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

    /// The first 8 bytes of the SHA-256 of the record's text, to tell an
    /// unchanged record from a changed one across runs.
    pub fn fingerprint(&self) -> u64 {
        use sha2::{Digest, Sha256};
        let untouched = self
            .fields
            .iter()
            .all(|(name, field)| matches!((name, field), (Name::At(_), Field::Raw(_))));
        let digest = match (self.fields.first(), self.fields.last()) {
            (Some((Name::At(first), _)), Some((_, Field::Raw(last)))) if untouched => {
                Sha256::digest(&self.text[first.start..last.end])
            }
            _ => Sha256::digest(self.to_json()),
        };
        let mut head = [0u8; 8];
        head.copy_from_slice(&digest[..8]);
        u64::from_be_bytes(head)
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

    #[test]
    fn untouched_fields_pass_through_and_changes_land_in_place() {
        let text = r#"{"id": "7", "a\"b": 1, "at": 1709632800, "n": {"x": [1, 2]}}"#;
        let mut record = Record::parse(text, "s").unwrap();
        assert_eq!(record.text("id").as_deref(), Some("7"));
        assert_eq!(record.seconds(&FieldName::new("at")), Some(1709632800));
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
        for (key, found) in [
            ("at", DateTimeMarking::Marked),
            ("c", DateTimeMarking::Null),
            ("end", DateTimeMarking::Marked),
        ] {
            let key = FieldName::new(key);
            assert_eq!(record.seconds_to_date_time(&key), found, "{}", key.as_str());
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
}

//! Shaping API objects into records: schema-driven timestamp conversion and
//! field selection, planned once per stream and applied per record.

use std::cell::Cell;
use std::collections::HashSet;

use chrono::{DateTime, SecondsFormat};
use serde_json::{Map, Value};

use crate::fields::Record;

/// Where in a record the schema declares date-times.
#[derive(Debug, PartialEq)]
enum Node {
    Timestamp,
    Object(Vec<(String, Node)>),
    Array(Box<Node>),
}

#[derive(Debug)]
pub struct RecordShape {
    timestamps: Vec<(String, Node)>,
    /// Where each timestamp field was in the last record.
    hints: Vec<Cell<usize>>,
    /// Top-level fields the catalog deselected.
    excluded: HashSet<String>,
}

impl RecordShape {
    pub fn new(schema: &Value, excluded: HashSet<String>) -> Self {
        let timestamps = match plan(schema) {
            Some(Node::Object(fields)) => fields,
            _ => Vec::new(),
        };
        Self {
            hints: timestamps.iter().map(|_| Cell::new(0)).collect(),
            timestamps,
            excluded,
        }
    }

    pub fn apply(&self, record: &mut Record) {
        if !self.excluded.is_empty() {
            record.retain(|k| !self.excluded.contains(k));
        }
        for ((name, node), hint) in self.timestamps.iter().zip(&self.hints) {
            if *node == Node::Timestamp && record.seconds_to_date_time(name, hint) {
                continue;
            }
            record.update_unless_null(name, hint, |v| convert(node, v));
        }
    }
}

fn plan(schema: &Value) -> Option<Node> {
    if schema["format"] == "date-time" {
        return Some(Node::Timestamp);
    }
    if let Some(properties) = schema["properties"].as_object() {
        let fields: Vec<_> = properties
            .iter()
            .filter_map(|(name, s)| plan(s).map(|n| (name.clone(), n)))
            .collect();
        return (!fields.is_empty()).then_some(Node::Object(fields));
    }
    plan(schema.get("items")?).map(|n| Node::Array(Box::new(n)))
}

fn convert_fields(fields: &[(String, Node)], object: &mut Map<String, Value>) {
    for (name, node) in fields {
        if let Some(value) = object.get_mut(name) {
            convert(node, value);
        }
    }
}

fn convert(node: &Node, value: &mut Value) {
    match (node, value) {
        (Node::Timestamp, value @ Value::Number(_)) => {
            if let Some(text) = value.as_f64().and_then(rfc3339) {
                *value = Value::String(text);
            }
        }
        (Node::Object(fields), Value::Object(object)) => convert_fields(fields, object),
        (Node::Array(item), Value::Array(items)) => {
            items.iter_mut().for_each(|v| convert(item, v));
        }
        _ => {}
    }
}

/// UNIX seconds to RFC 3339 UTC, e.g. `2024-03-05T10:00:00Z`.
pub fn rfc3339(seconds: f64) -> Option<String> {
    date_time_text(seconds.trunc() as i64)
}

/// Whole UNIX seconds as RFC 3339 text, written by [`push_rfc3339`]; None
/// when no date-time has them.
pub fn date_time_text(seconds: i64) -> Option<String> {
    let mut text = String::with_capacity(20);
    push_rfc3339(&mut text, seconds).then_some(text)
}

/// Seconds from 0000-03-01T00:00:00Z to 9999-12-31T23:59:59Z: the dates
/// [`civil_date`] computes (its years start in March).
const CIVIL_DATES: std::ops::RangeInclusive<i64> = -62_162_035_200..=253_402_300_799;

/// Whether some date-time is whole UNIX `seconds` from 1970.
pub fn names_date_time(seconds: i64) -> bool {
    CIVIL_DATES.contains(&seconds) || DateTime::from_timestamp(seconds, 0).is_some()
}

/// Appends whole UNIX `seconds` as RFC 3339 text to `out`; false, with
/// nothing written, when no date-time has them. Dates from 0000-03-01 to
/// 9999 are computed and written without loops, tables or chrono: every record
/// carries several, and in the component each loop iteration also pays the
/// watchdog's check.
pub fn push_rfc3339(out: &mut String, seconds: i64) -> bool {
    if !CIVIL_DATES.contains(&seconds) {
        let Some(time) = DateTime::from_timestamp(seconds, 0) else {
            return false;
        };
        out.push_str(&time.to_rfc3339_opts(SecondsFormat::Secs, true));
        return true;
    }
    let (year, month, day) = civil_date(seconds.div_euclid(86_400));
    let second = seconds.rem_euclid(86_400) as u32;
    let [y0, y1] = two_digits(year / 100);
    let [y2, y3] = two_digits(year % 100);
    let [mo0, mo1] = two_digits(month);
    let [d0, d1] = two_digits(day);
    let [h0, h1] = two_digits(second / 3600);
    let [mi0, mi1] = two_digits(second / 60 % 60);
    let [s0, s1] = two_digits(second % 60);
    let text = [
        y0, y1, y2, y3, b'-', mo0, mo1, b'-', d0, d1, b'T', h0, h1, b':', mi0, mi1, b':', s0, s1,
        b'Z',
    ];
    // Digits and ASCII punctuation: always UTF-8.
    out.push_str(std::str::from_utf8(&text).unwrap_or_default());
    true
}

/// Year, month and day of the proleptic Gregorian calendar, `days` after
/// 1970-01-01, from 0000-03-01 to 9999 (Howard Hinnant's `civil_from_days`).
fn civil_date(days: i64) -> (u32, u32, u32) {
    // Days since 0000-03-01: years start in March, so leap days come last.
    let days = (days + 719_468) as u32;
    let era = days / 146_097;
    let day_of_era = days % 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = year_of_era + era * 400 + u32::from(month <= 2);
    (year, month, day)
}

fn two_digits(number: u32) -> [u8; 2] {
    [b'0' + (number / 10 % 10) as u8, b'0' + (number % 10) as u8]
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn shaped(shape: &RecordShape, record: Value) -> Value {
        let text = record.to_string();
        let mut record = Record::parse(&text, "test").unwrap();
        shape.apply(&mut record);
        serde_json::from_str(&record.to_json()).unwrap()
    }

    fn schema() -> Value {
        json!({"type": "object", "properties": {
            "id": {"type": "string"},
            "created_at": {"type": ["string", "null"], "format": "date-time"},
            "tags": {"type": "array", "items": {"type": "object", "properties": {
                "applied_at": {"type": "string", "format": "date-time"}}}},
            "nested": {"type": "object", "properties": {"at": {"format": "date-time"}}},
            "secret": {"type": "string"}
        }})
    }

    #[test]
    fn converts_timestamps_at_any_depth_and_drops_deselected_fields() {
        let shape = RecordShape::new(&schema(), HashSet::from(["secret".to_string()]));
        let record = json!({
            "id": "1", "created_at": 1709632800, "secret": "x",
            "tags": [{"applied_at": 0}, {"applied_at": null}],
            "nested": {"at": 1709632800.9}, "extra": 5
        });
        assert_eq!(
            shaped(&shape, record),
            json!({
                "id": "1", "created_at": "2024-03-05T10:00:00Z",
                "tags": [{"applied_at": "1970-01-01T00:00:00Z"}, {"applied_at": null}],
                "nested": {"at": "2024-03-05T10:00:00Z"}, "extra": 5
            })
        );
    }

    #[test]
    fn whole_and_fractional_seconds_read_back_as_text() {
        let shape = RecordShape::new(&schema(), HashSet::new());
        for at in [json!(1709632800), json!(1709632800.9), json!(-1)] {
            let text = json!({"created_at": at}).to_string();
            let mut record = Record::parse(&text, "test").unwrap();
            shape.apply(&mut record);
            let expected = rfc3339(at.as_f64().unwrap()).unwrap();
            assert_eq!(record.get("created_at"), Some(json!(expected)));
            assert_eq!(
                record.to_json(),
                json!({"created_at": expected}).to_string()
            );
        }
    }

    #[test]
    fn the_ends_of_the_computed_dates_match_chrono() {
        // Year 0 before March, the first computed day, the last second of
        // year 9999 and the first of 10000.
        for seconds in [
            -62_167_219_200,
            -62_162_035_201,
            -62_162_035_200,
            253_402_300_799,
            253_402_300_800,
        ] {
            let time = DateTime::from_timestamp(seconds, 0).unwrap();
            let expected = time.to_rfc3339_opts(SecondsFormat::Secs, true);
            assert_eq!(date_time_text(seconds), Some(expected), "{seconds}");
        }
        assert_eq!(date_time_text(i64::MAX), None);
    }

    proptest::proptest! {
        #[test]
        fn written_like_chrono_writes_it(seconds in -70_000_000_000i64..300_000_000_000) {
            let time = DateTime::from_timestamp(seconds, 0).unwrap();
            let text = date_time_text(seconds);
            proptest::prop_assert_eq!(text, Some(time.to_rfc3339_opts(SecondsFormat::Secs, true)));
        }
    }

    #[test]
    fn leaves_unexpected_types_alone() {
        let shape = RecordShape::new(&schema(), HashSet::new());
        let record =
            json!({"created_at": "already text", "tags": {"not": "an array"}, "nested": 3});
        assert_eq!(shaped(&shape, record.clone()), record);
        let huge = json!({"created_at": 1e300});
        assert_eq!(shaped(&shape, huge)["created_at"], 1e300);
    }
}

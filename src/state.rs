//! The state document: one versioned JSON object with a bookmark per stream,
//! and the table versions of streams sent whole.

use std::collections::HashMap;

use chrono::DateTime;
use serde_json::{Map, Value, json};

use crate::dates::{FUTURE_TOLERANCE_SECONDS, describe};
use crate::error::{Error, Result};
use crate::streams::STREAMS;

pub const STATE_VERSION: u64 = 1;

/// What every refusal of a state document's form ends with.
const ACCEPTED_FORMS: &str = "accepted state forms: {\"version\": 1, \"bookmarks\": {STREAM: {FIELD: RFC 3339 date-time}}, \"table_versions\": {STREAM: {\"current\": N, \"activated\": N, \"list_cursor\": CURSOR, \"listed\": true}}, \"recent\": {STREAM: {ID: [UNIX seconds, FINGERPRINT]}}} as this connector writes it; a Singer STATE message {\"type\": \"STATE\", \"value\": <that document>}; {} or an empty file for none";

fn unaccepted(problem: &str) -> Error {
    Error::state(format!("state: {problem}; {ACCEPTED_FORMS}"))
}

/// Where a complete pass's list has come to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ListPosition {
    Start,
    /// The next page starts after this cursor.
    After(String),
    /// Read through.
    Done,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct State {
    bookmarks: Map<String, Value>,
    /// Per stream sent whole: `current`, the Singer table version of the
    /// pass in progress, and `activated`, that of the last completed pass;
    /// for a pass read through a list, `list_cursor` (the next page) or
    /// `listed` (read through), so a resumed pass goes on from there.
    table_versions: Map<String, Value>,
    /// Per stream read with a lookback: the records (or, for a child, the
    /// parents) already sent whose key falls within the lookback before the
    /// bookmark, by id, with that key: a later run reads them again and
    /// skips the ones unchanged.
    recent: Map<String, Value>,
}

impl State {
    /// Parses the document a previous run checkpointed. A Singer STATE
    /// message's `value` wrapper is accepted too.
    pub fn parse(text: Option<&str>) -> Result<State> {
        let Some(text) = text.filter(|t| !t.trim().is_empty()) else {
            return Ok(State::default());
        };
        let mut doc: Value = serde_json::from_str(text)
            .map_err(|e| Error::state(format!("state is not valid JSON: {e}")))?;
        if doc["type"] == "STATE" && doc["value"].is_object() {
            doc = doc["value"].take();
        }
        let Value::Object(mut doc) = doc else {
            return Err(unaccepted("the document must be a JSON object"));
        };
        match doc.get("version") {
            Some(v) if v.as_u64() == Some(STATE_VERSION) => {}
            Some(v) => {
                return Err(unaccepted(&format!(
                    "field `version` is {v}, this connector reads version {STATE_VERSION}"
                )));
            }
            None if doc.is_empty() => return Ok(State::default()),
            None => return Err(unaccepted("field `version` is missing")),
        }
        let bookmarks = match doc.remove("bookmarks") {
            None => Map::new(),
            Some(Value::Object(map)) => map,
            Some(_) => return Err(unaccepted("field `bookmarks` must be an object")),
        };
        if let Some((stream, _)) = bookmarks.iter().find(|(_, b)| !b.is_object()) {
            return Err(unaccepted(&format!(
                "field `bookmarks.{stream}` must be an object"
            )));
        }
        let table_versions = match doc.remove("table_versions") {
            None => Map::new(),
            Some(Value::Object(map)) => map,
            Some(_) => return Err(unaccepted("field `table_versions` must be an object")),
        };
        for (stream, entry) in &table_versions {
            let valid = entry.as_object().is_some_and(|fields| {
                fields.iter().all(|(name, value)| match name.as_str() {
                    "current" | "activated" => value.as_i64().is_some_and(|v| v > 0),
                    "list_cursor" => value.is_string(),
                    "listed" => value == &Value::Bool(true),
                    _ => false,
                })
            });
            if !valid {
                return Err(unaccepted(&format!(
                    "field `table_versions.{stream}` must hold positive integers `current` and `activated`, a string `list_cursor` and `listed: true` only"
                )));
            }
        }
        let recent = match doc.remove("recent") {
            None => Map::new(),
            Some(Value::Object(map)) => map,
            Some(_) => return Err(unaccepted("field `recent` must be an object")),
        };
        for (stream, entry) in &recent {
            let valid = entry
                .as_object()
                .is_some_and(|ids| ids.values().all(|v| sent(v).is_some()));
            if !valid {
                return Err(unaccepted(&format!(
                    "field `recent.{stream}` must map ids to [UNIX seconds, 16 hex digits]"
                )));
            }
        }
        Ok(State {
            bookmarks,
            table_versions,
            recent,
        })
    }

    /// The table version of `stream`'s pass: the one a killed run began,
    /// which its rows already carry, or a new one, later than every earlier;
    /// and whether no pass of it completed before (its first load).
    pub fn begin_table_version(&mut self, stream: &str, now_ms: i64) -> (i64, bool) {
        let entry = self
            .table_versions
            .entry(stream.to_string())
            .or_insert_with(|| json!({}));
        let first_load = entry["activated"].is_null();
        if let Some(current) = entry["current"].as_i64() {
            return (current, first_load);
        }
        let version = now_ms.max(entry["activated"].as_i64().unwrap_or(0) + 1);
        entry["current"] = json!(version);
        (version, first_load)
    }

    /// Whether `stream` is due a complete pass: one is under way (a killed
    /// run began it), none was ever completed, or the last began at least
    /// `interval_ms` before `now_ms`.
    pub fn complete_pass_due(&self, stream: &str, now_ms: i64, interval_ms: i64) -> bool {
        let entry = self.table_versions.get(stream);
        if entry.is_some_and(|e| e.get("current").is_some()) {
            return true;
        }
        match entry.and_then(|e| e["activated"].as_i64()) {
            None => true,
            Some(activated) => now_ms - activated >= interval_ms,
        }
    }

    /// `stream`'s pass is complete: its version becomes the activated one.
    pub fn activate_table_version(&mut self, stream: &str) {
        if let Some(entry) = self
            .table_versions
            .get_mut(stream)
            .and_then(Value::as_object_mut)
            && let Some(current) = entry.remove("current")
        {
            entry.remove("list_cursor");
            entry.remove("listed");
            entry.insert("activated".to_string(), current);
        }
    }

    /// How far the list of `stream`'s pass under way has been read.
    pub fn list_position(&self, stream: &str) -> ListPosition {
        let entry = self.table_versions.get(stream);
        if entry.is_some_and(|e| e["listed"] == true) {
            return ListPosition::Done;
        }
        match entry.and_then(|e| e["list_cursor"].as_str()) {
            Some(cursor) => ListPosition::After(cursor.to_string()),
            None => ListPosition::Start,
        }
    }

    pub fn set_list_position(&mut self, stream: &str, position: ListPosition) {
        let Some(entry) = self
            .table_versions
            .get_mut(stream)
            .and_then(Value::as_object_mut)
        else {
            return;
        };
        entry.remove("list_cursor");
        entry.remove("listed");
        match position {
            ListPosition::Start => {}
            ListPosition::After(cursor) => {
                entry.insert("list_cursor".to_string(), Value::String(cursor));
            }
            ListPosition::Done => {
                entry.insert("listed".to_string(), Value::Bool(true));
            }
        }
    }

    /// The bookmark `field` of `stream`, in UNIX seconds. Accepts RFC 3339
    /// text (what this connector writes) and integers.
    pub fn bookmark(&self, stream: &str, field: &str) -> Result<Option<i64>> {
        let Some(value) = self.bookmarks.get(stream).and_then(|b| b.get(field)) else {
            return Ok(None);
        };
        let parsed = match value {
            Value::Number(n) => n.as_i64(),
            Value::String(s) => DateTime::parse_from_rfc3339(s).ok().map(|t| t.timestamp()),
            _ => None,
        };
        parsed.map(Some).ok_or_else(|| {
            Error::state(format!(
                "state: field `bookmarks.{stream}.{field}` must be an RFC 3339 date-time, got {value}"
            ))
        })
    }

    /// Parses every bookmark the connector reads, so a bad one fails the run
    /// before anything is sent; one further ahead of `now` (UNIX seconds)
    /// than [`FUTURE_TOLERANCE_SECONDS`] would skip every record.
    pub fn validate(&self, now: i64) -> Result<()> {
        for stream in STREAMS.iter().filter(|s| s.replication.key().is_some()) {
            let field = stream.bookmark_field();
            let Some(seconds) = self.bookmark(stream.name, field)? else {
                continue;
            };
            if seconds > now + FUTURE_TOLERANCE_SECONDS {
                return Err(Error::state(format!(
                    "state: field `bookmarks.{}.{field}` is {}, more than a day ahead of this machine's clock; it would skip every record",
                    stream.name,
                    describe(seconds)
                )));
            }
        }
        Ok(())
    }

    pub fn set_bookmark(&mut self, stream: &str, field: &str, seconds: i64) {
        let text = crate::dates::rfc3339(seconds as f64).unwrap_or_default();
        let entry = self
            .bookmarks
            .entry(stream.to_string())
            .or_insert_with(|| json!({}));
        if let Value::Object(map) = entry {
            map.insert(field.to_string(), Value::String(text));
        } else {
            *entry = json!({ field: text });
        }
    }

    /// What `stream` sent within the lookback before its bookmark: by id,
    /// the key and the record's fingerprint.
    pub fn recent(&self, stream: &str) -> HashMap<String, Sent> {
        self.recent
            .get(stream)
            .and_then(Value::as_object)
            .map(|ids| {
                ids.iter()
                    .filter_map(|(id, entry)| Some((id.clone(), sent(entry)?)))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Replaces what `stream` sent within the lookback.
    pub fn set_recent<'k>(
        &mut self,
        stream: &str,
        recent: impl Iterator<Item = (&'k String, &'k Sent)>,
    ) {
        let ids: Map<String, Value> = recent
            .map(|(id, sent)| {
                let entry = json!([sent.key, format!("{:016x}", sent.fingerprint)]);
                (id.clone(), entry)
            })
            .collect();
        self.recent.insert(stream.to_string(), Value::Object(ids));
    }

    /// Forgets what `stream` sent: its next run sends the lookback again.
    pub fn forget_recent(&mut self, stream: &str) {
        self.recent.remove(stream);
    }

    pub fn to_json(&self) -> String {
        let mut doc = json!({ "version": STATE_VERSION, "bookmarks": self.bookmarks });
        if !self.table_versions.is_empty() {
            doc["table_versions"] = Value::Object(self.table_versions.clone());
        }
        if !self.recent.is_empty() {
            doc["recent"] = Value::Object(self.recent.clone());
        }
        doc.to_string()
    }
}

/// A record (or a child's parent) a run sent: its replication key and
/// [`crate::record::Record::fingerprint`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sent {
    pub key: i64,
    pub fingerprint: u64,
}

fn sent(entry: &Value) -> Option<Sent> {
    match entry.as_array()?.as_slice() {
        [key, fingerprint] => Some(Sent {
            key: key.as_i64()?,
            fingerprint: u64::from_str_radix(fingerprint.as_str().filter(|f| f.len() == 16)?, 16)
                .ok()?,
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_accepts_singer_wrapper() {
        let text =
            r#"{"version":1,"bookmarks":{"contacts":{"updated_at":"2024-01-01T00:00:00Z"}}}"#;
        let state = State::parse(Some(text)).unwrap();
        assert_eq!(State::parse(Some(&state.to_json())).unwrap(), state);
        let wrapped = format!(r#"{{"type":"STATE","value":{text}}}"#);
        assert_eq!(State::parse(Some(&wrapped)).unwrap(), state);
        assert_eq!(State::parse(None).unwrap(), State::default());
        assert_eq!(State::parse(Some("{}")).unwrap(), State::default());
    }

    #[test]
    fn a_table_version_survives_a_resume_and_grows_after_activation() {
        let mut state = State::default();
        assert_eq!(state.begin_table_version("teams", 1_000), (1_000, true));
        let resumed = State::parse(Some(&state.to_json())).unwrap();
        let mut state = resumed;
        assert_eq!(state.begin_table_version("teams", 5_000), (1_000, true));
        state.activate_table_version("teams");
        // A clock set back still gives a later version.
        assert_eq!(state.begin_table_version("teams", 900), (1_001, false));
        assert!(state.complete_pass_due("teams", 1_002, 10), "under way");
        state.activate_table_version("teams");
        assert!(!state.complete_pass_due("teams", 1_002, 10));
        assert!(state.complete_pass_due("teams", 1_011, 10));
        assert!(state.complete_pass_due("companies", 0, 10), "never passed");
        let mut state = State::default();
        state.begin_table_version("contacts", 7_000);
        assert_eq!(state.list_position("contacts"), ListPosition::Start);
        state.set_list_position("contacts", ListPosition::After("WzE3".into()));
        let mut state = State::parse(Some(&state.to_json())).unwrap();
        assert_eq!(
            state.list_position("contacts"),
            ListPosition::After("WzE3".into())
        );
        state.set_list_position("contacts", ListPosition::Done);
        assert_eq!(state.begin_table_version("contacts", 9_000), (7_000, true));
        assert_eq!(state.list_position("contacts"), ListPosition::Done);
        state.activate_table_version("contacts");
        assert_eq!(state.list_position("contacts"), ListPosition::Start);
        let text = r#"{"version":1,"table_versions":{"teams":{"current":"x"}}}"#;
        let e = State::parse(Some(text)).unwrap_err();
        assert!(
            e.message.contains("`table_versions.teams`"),
            "{}",
            e.message
        );
    }

    #[test]
    fn what_was_sent_within_the_lookback_round_trips_and_a_bad_entry_is_refused() {
        let mut state = State::default();
        let sent = Sent {
            key: 1_780_160_531,
            fingerprint: 0x9f2c_4e1a_7b3d_5c60,
        };
        let ids = HashMap::from([("c1".to_string(), sent)]);
        state.set_recent("contacts", ids.iter());
        let state = State::parse(Some(&state.to_json())).unwrap();
        assert_eq!(state.recent("contacts"), ids);
        assert!(state.recent("tickets").is_empty());
        for bad in [r#"[1, "x"]"#, r#"[1, "9f2c4e1a7b3d5c6"]"#, r#"1"#] {
            let text = format!(r#"{{"version":1,"recent":{{"contacts":{{"c1":{bad}}}}}}}"#);
            let e = State::parse(Some(&text)).unwrap_err();
            assert!(e.message.contains("`recent.contacts`"), "{}", e.message);
        }
    }

    #[test]
    fn bookmarks_round_trip_as_rfc3339() {
        let mut state = State::default();
        assert_eq!(state.bookmark("contacts", "updated_at").unwrap(), None);
        state.set_bookmark("contacts", "updated_at", 1709632800);
        assert!(
            state
                .to_json()
                .contains(r#""updated_at":"2024-03-05T10:00:00Z""#)
        );
        let again = State::parse(Some(&state.to_json())).unwrap();
        assert_eq!(
            again.bookmark("contacts", "updated_at").unwrap(),
            Some(1709632800)
        );
        let numeric = State::parse(Some(r#"{"version":1,"bookmarks":{"c":{"updated_at":5}}}"#));
        assert_eq!(
            numeric.unwrap().bookmark("c", "updated_at").unwrap(),
            Some(5)
        );
        let bad = State::parse(Some(
            r#"{"version":1,"bookmarks":{"c":{"updated_at":"soon"}}}"#,
        ));
        let e = bad.unwrap().bookmark("c", "updated_at").unwrap_err();
        assert!(
            e.message.contains("bookmarks.c.updated_at"),
            "{}",
            e.message
        );
    }

    #[test]
    fn rejects_foreign_or_future_documents() {
        for (text, needle) in [
            ("[]", "JSON object"),
            ("{x", "not valid JSON"),
            (r#"{"version":2}"#, "`version` is 2"),
            (r#"{"bookmarks":{}}"#, "`version` is missing"),
            (r#"{"version":1,"bookmarks":[]}"#, "`bookmarks`"),
        ] {
            let e = State::parse(Some(text)).unwrap_err();
            assert!(e.message.contains(needle), "{text}: {}", e.message);
        }
    }

    #[test]
    fn a_refused_form_lists_the_accepted_forms() {
        for text in [
            "[]",
            r#"{"bookmarks":{"contacts":{"updated_at":"2024-01-01T00:00:00Z"}}}"#,
            r#"{"version":3,"bookmarks":{}}"#,
            r#"{"version":1,"bookmarks":{"contacts":"2024-01-01"}}"#,
        ] {
            let e = State::parse(Some(text)).unwrap_err();
            assert!(
                e.message
                    .contains("accepted state forms: {\"version\": 1, \"bookmarks\""),
                "{text}: {}",
                e.message
            );
            assert!(e.message.contains("Singer STATE message"), "{}", e.message);
            assert!(!e.message.contains('\n'));
        }
    }

    #[test]
    fn validation_parses_every_bookmark_and_refuses_far_future_ones() {
        let now = 1_764_633_600; // 2025-12-02
        let parse = |bookmarks: Value| {
            State::parse(Some(
                &json!({"version": 1, "bookmarks": bookmarks}).to_string(),
            ))
            .unwrap()
        };
        let good = parse(json!({
            "contacts": {"updated_at": "2025-12-02T12:00:00Z"},
            "conversations": {"updated_at": now + 3600},
            "admins": {"anything": "ignored"}
        }));
        assert_eq!(good.validate(now), Ok(()));
        let garbage = parse(json!({"contacts": {"updated_at": "garbage"}}));
        let e = garbage.validate(now).unwrap_err();
        assert!(
            e.message.contains("`bookmarks.contacts.updated_at`"),
            "{}",
            e.message
        );
        let future = parse(json!({"conversations": {"updated_at": "9999-01-01T00:00:00Z"}}));
        let e = future.validate(now).unwrap_err();
        assert_eq!(
            e.message,
            "state: field `bookmarks.conversations.updated_at` is 9999-01-01T00:00:00Z, more than a day ahead of this machine's clock; it would skip every record"
        );
        let tomorrow = parse(json!({"contacts": {"updated_at": now + FUTURE_TOLERANCE_SECONDS}}));
        assert_eq!(tomorrow.validate(now), Ok(()));
        let past_tolerance =
            parse(json!({"contacts": {"updated_at": now + FUTURE_TOLERANCE_SECONDS + 1}}));
        assert!(past_tolerance.validate(now).is_err());
    }
}

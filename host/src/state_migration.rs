//! State documents of other releases and taps, brought to the form the
//! component reads (version 1) before a run, so an upgrade or a switch from
//! Stitch's tap-intercom resumes where the last run stopped.

use serde_json::{Map, Value, json};

/// The state version the component reads.
pub const STATE_VERSION: u64 = 1;

/// Where a migrated document came from, for the log line saying so.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// Already this release's form (or not a state at all: the component
    /// then says what is wrong with it).
    Current,
    /// singer-io's tap-intercom (Stitch): `{"bookmarks": {stream:
    /// {"updated_at": ...}}}` without `version`, older runs of it a bare
    /// date per stream.
    Stitch,
}

/// `text` in the current form, and where it came from.
pub fn migrate(text: &str) -> (String, Origin) {
    let Ok(Value::Object(mut doc)) = serde_json::from_str::<Value>(text) else {
        return (text.to_owned(), Origin::Current);
    };
    if doc.get("type") == Some(&json!("STATE"))
        && let Some(Value::Object(value)) = doc.remove("value")
    {
        doc = value;
    }
    match (doc.get("version"), doc.get("bookmarks")) {
        (None, Some(Value::Object(bookmarks))) => {
            let doc = json!({"version": STATE_VERSION, "bookmarks": from_stitch(bookmarks)});
            (doc.to_string(), Origin::Stitch)
        }
        _ => (text.to_owned(), Origin::Current),
    }
}

/// tap-intercom keeps each stream's `updated_at` (for conversation_parts,
/// the updated_at of the last conversation whose parts it read, which is
/// this connector's `parent_updated_at`). Its resume hints inside a
/// conversation search (`last_processed`, `last_sync_started_at`) and
/// `currently_syncing` are dropped: `updated_at` alone is a safe start.
fn from_stitch(bookmarks: &Map<String, Value>) -> Map<String, Value> {
    let mut converted = Map::new();
    for (stream, bookmark) in bookmarks {
        let updated_at = match bookmark {
            Value::String(_) => Some(bookmark),
            Value::Object(fields) => fields.get("updated_at"),
            _ => None,
        };
        let Some(updated_at) = updated_at else {
            continue;
        };
        let field = if stream == "conversation_parts" {
            "parent_updated_at"
        } else {
            "updated_at"
        };
        converted.insert(stream.clone(), json!({ field: updated_at }));
    }
    converted
}

/// `text` (a state in the current form) without the bookmarks of
/// `streams`, so the next run reads them from the start; None when it is
/// not such a document.
pub fn without_bookmarks(text: &str, streams: &[String]) -> Option<String> {
    let mut doc: Value = serde_json::from_str(text).ok()?;
    let bookmarks = doc.get_mut("bookmarks")?.as_object_mut()?;
    for stream in streams {
        bookmarks.remove(stream);
    }
    if let Some(recent) = doc.get_mut("recent").and_then(Value::as_object_mut) {
        for stream in streams {
            recent.remove(stream);
        }
    }
    Some(doc.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn migrated(text: &str) -> (Value, Origin) {
        let (text, origin) = migrate(text);
        (serde_json::from_str(&text).unwrap(), origin)
    }

    #[test]
    fn a_stitch_state_becomes_version_one_with_its_bookmarks() {
        let stitch = r#"{"currently_syncing": "contacts", "bookmarks": {
            "contacts": {"updated_at": "2024-03-01T10:00:00.000000Z"},
            "conversations": {"updated_at": "2024-02-01T00:00:00.000000Z",
                              "last_processed": "1234", "last_sync_started_at": "2024-03-02T00:00:00Z"},
            "conversation_parts": {"updated_at": "2024-01-15T00:00:00.000000Z"},
            "company_segments": "2021-12-20T21:30:35.000000Z"}}"#;
        assert_eq!(
            migrated(stitch),
            (
                json!({"version": 1, "bookmarks": {
                    "contacts": {"updated_at": "2024-03-01T10:00:00.000000Z"},
                    "conversations": {"updated_at": "2024-02-01T00:00:00.000000Z"},
                    "conversation_parts": {"parent_updated_at": "2024-01-15T00:00:00.000000Z"},
                    "company_segments": {"updated_at": "2021-12-20T21:30:35.000000Z"}}}),
                Origin::Stitch
            )
        );
        let wrapped = format!(r#"{{"type": "STATE", "value": {stitch}}}"#);
        assert_eq!(migrated(&wrapped).1, Origin::Stitch);
    }

    #[test]
    fn a_reset_drops_only_the_streams_named() {
        let state = r#"{"version":1,"bookmarks":{"contacts":{"updated_at":"x"},"companies":{"updated_at":"y"}}}"#;
        let reset = without_bookmarks(state, &["contacts".into()]).unwrap();
        assert_eq!(
            serde_json::from_str::<Value>(&reset).unwrap(),
            json!({"version": 1, "bookmarks": {"companies": {"updated_at": "y"}}})
        );
        assert_eq!(without_bookmarks("[]", &[]), None);
    }

    #[test]
    fn current_and_foreign_documents_pass_unchanged() {
        for text in [
            r#"{"version":1,"bookmarks":{"contacts":{"updated_at":"2024-01-01T00:00:00Z"}}}"#,
            r#"{"version":2}"#,
            "{}",
            "[]",
            "{not json",
        ] {
            assert_eq!(migrate(text), (text.to_owned(), Origin::Current), "{text}");
        }
    }
}

//! The state document: one versioned JSON object with a bookmark per stream.

use serde_json::{Map, Value, json};

use crate::error::{Error, Result};

pub const STATE_VERSION: u64 = 1;

#[derive(Clone, Debug, Default, PartialEq)]
pub struct State {
    bookmarks: Map<String, Value>,
}

impl State {
    /// Parses the document a previous run checkpointed. A Singer STATE
    /// message's `value` wrapper is accepted too.
    pub fn parse(text: Option<&str>) -> Result<State> {
        let Some(text) = text.filter(|t| !t.trim().is_empty()) else {
            return Ok(State::default());
        };
        let mut doc: Value = serde_json::from_str(text)
            .map_err(|e| Error::config(format!("state is not valid JSON: {e}")))?;
        if doc["type"] == "STATE" && doc["value"].is_object() {
            doc = doc["value"].take();
        }
        let Value::Object(mut doc) = doc else {
            return Err(Error::config("state must be a JSON object"));
        };
        match doc.get("version") {
            Some(v) if v.as_u64() == Some(STATE_VERSION) => {}
            Some(v) => {
                return Err(Error::config(format!(
                    "state: field `version` is {v}, this connector reads version {STATE_VERSION}"
                )));
            }
            None if doc.is_empty() => return Ok(State::default()),
            None => return Err(Error::config("state: field `version` is missing")),
        }
        let bookmarks = match doc.remove("bookmarks") {
            None => Map::new(),
            Some(Value::Object(map)) => map,
            Some(_) => return Err(Error::config("state: field `bookmarks` must be an object")),
        };
        Ok(State { bookmarks })
    }

    pub fn to_json(&self) -> String {
        json!({ "version": STATE_VERSION, "bookmarks": self.bookmarks }).to_string()
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
}

//! A [`Sink`] that writes Singer messages (SCHEMA, RECORD, STATE,
//! ACTIVATE_VERSION) as JSON lines, flushing at every STATE so a downstream
//! target sees records before the state that covers them.
//!
//! Table versions: the records of a stream after `stream-version`, a
//! complete pass, carry its version, and `stream-complete` with
//! `whole-table` activates it (ACTIVATE_VERSION), so targets that honour
//! versions drop the rows the pass did not send. On a table's first load
//! the version is also activated before its first record, so the rows show
//! at once.

use std::collections::HashMap;
use std::io::Write;

use chrono::{SecondsFormat, Utc};
use serde::Serialize;
use serde_json::value::RawValue;
use wasmtime::Result;

use crate::bindings::LogLevel;
use crate::types::Sink;

pub struct SingerSink<W: Write + Send + 'static> {
    out: W,
    /// The table version of each stream being sent whole.
    versions: HashMap<String, u64>,
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "UPPERCASE")]
enum Message<'a> {
    Schema {
        stream: &'a str,
        schema: &'a RawValue,
        key_properties: &'a [String],
        bookmark_properties: &'a [String],
    },
    Record {
        stream: &'a str,
        record: &'a RawValue,
        #[serde(skip_serializing_if = "Option::is_none")]
        version: Option<u64>,
        time_extracted: &'a str,
    },
    #[serde(rename = "ACTIVATE_VERSION")]
    ActivateVersion {
        stream: &'a str,
        version: u64,
    },
    State {
        value: &'a RawValue,
    },
}

impl<W: Write + Send + 'static> SingerSink<W> {
    pub fn new(out: W) -> Self {
        Self {
            out,
            versions: HashMap::new(),
        }
    }

    fn write(&mut self, message: &Message) -> Result<()> {
        serde_json::to_writer(&mut self.out, message)?;
        self.out.write_all(b"\n")?;
        Ok(())
    }

    pub fn into_inner(self) -> W {
        self.out
    }
}

impl<W: Write + Send + 'static> Sink for SingerSink<W> {
    fn schema(
        &mut self,
        stream: &str,
        schema: &RawValue,
        key_properties: &[String],
        bookmark_properties: &[String],
    ) -> Result<()> {
        self.write(&Message::Schema {
            stream,
            schema,
            key_properties,
            bookmark_properties,
        })
    }

    fn records(&mut self, stream: &str, records: &[Box<RawValue>]) -> Result<()> {
        let time_extracted = Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true);
        let version = self.versions.get(stream).copied();
        for record in records {
            self.write(&Message::Record {
                stream,
                record,
                version,
                time_extracted: &time_extracted,
            })?;
        }
        Ok(())
    }

    fn stream_version(&mut self, stream: &str, version: u64, first_load: bool) -> Result<()> {
        self.versions.insert(stream.to_string(), version);
        if first_load {
            self.write(&Message::ActivateVersion { stream, version })?;
        }
        Ok(())
    }

    fn stream_complete(&mut self, stream: &str, whole_table: bool) -> Result<()> {
        match self.versions.remove(stream) {
            Some(version) if whole_table => {
                self.write(&Message::ActivateVersion { stream, version })
            }
            _ => Ok(()),
        }
    }

    fn checkpoint(&mut self, state: &RawValue) -> Result<()> {
        self.write(&Message::State { value: state })?;
        self.out.flush()?;
        Ok(())
    }

    fn log(&mut self, level: LogLevel, message: &str) {
        crate::logging::guest(level, message);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn raw(value: Value) -> Box<RawValue> {
        RawValue::from_string(value.to_string()).unwrap()
    }

    /// The messages of one read of `teams`, as `TYPE:version`.
    fn pass(version: Option<(u64, bool)>) -> Vec<String> {
        let mut sink = SingerSink::new(Vec::new());
        let schema = raw(json!({"type": "object"}));
        sink.schema("teams", &schema, &["id".into()], &[]).unwrap();
        sink.checkpoint(&raw(json!({}))).unwrap();
        if let Some((version, first_load)) = version {
            sink.stream_version("teams", version, first_load).unwrap();
        }
        let records = [raw(json!({"id": "1"})), raw(json!({"id": "2"}))];
        sink.records("teams", &records).unwrap();
        sink.stream_complete("teams", true).unwrap();
        sink.checkpoint(&raw(json!({}))).unwrap();
        let text = String::from_utf8(sink.into_inner()).unwrap();
        text.lines()
            .map(|line| {
                let m: Value = serde_json::from_str(line).unwrap();
                format!("{}:{}", m["type"].as_str().unwrap(), m["version"])
            })
            .collect()
    }

    #[test]
    fn a_pass_activates_its_version_after_its_records_and_first_loads_before() {
        assert_eq!(
            pass(Some((7, true))),
            [
                "SCHEMA:null",
                "STATE:null",
                "ACTIVATE_VERSION:7",
                "RECORD:7",
                "RECORD:7",
                "ACTIVATE_VERSION:7",
                "STATE:null"
            ]
        );
        assert_eq!(
            pass(Some((8, false))),
            [
                "SCHEMA:null",
                "STATE:null",
                "RECORD:8",
                "RECORD:8",
                "ACTIVATE_VERSION:8",
                "STATE:null"
            ]
        );
    }

    #[test]
    fn streams_without_a_version_get_none() {
        assert_eq!(
            pass(None),
            [
                "SCHEMA:null",
                "STATE:null",
                "RECORD:null",
                "RECORD:null",
                "STATE:null"
            ]
        );
    }
}

//! A [`Sink`] that writes Singer messages (SCHEMA, RECORD, STATE) as JSON
//! lines, flushing at every STATE so a downstream target sees records before
//! the state that covers them.

use std::io::Write;

use chrono::{SecondsFormat, Utc};
use serde::Serialize;
use serde_json::value::RawValue;
use wasmtime::Result;

use crate::bindings::LogLevel;
use crate::types::Sink;

pub struct SingerSink<W: Write + Send + 'static> {
    out: W,
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
        time_extracted: &'a str,
    },
    State {
        value: &'a RawValue,
    },
}

impl<W: Write + Send + 'static> SingerSink<W> {
    pub fn new(out: W) -> Self {
        Self { out }
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
        for record in records {
            self.write(&Message::Record {
                stream,
                record,
                time_extracted: &time_extracted,
            })?;
        }
        Ok(())
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

//! The `output` import, and the `Sink` that receives what a guest emits.
//! Guest output is untrusted: schemas, records and states are checked to be
//! JSON objects and records to belong to a declared stream before a sink
//! sees them (records and schemas on the sink's thread, see
//! [`crate::sink_thread`]).

use serde_json::value::RawValue;
use wasmtime::{Result, format_err};

use crate::bindings::LogLevel;
use crate::bindings::connector::source::clock::WaitReason;
use crate::bindings::connector::source::output;
use crate::instance::HostState;

/// Where a run's output goes. `checkpoint` is a commit point: a sink must make
/// every record it received before it durable no later than the state.
pub trait Sink: Send + 'static {
    fn schema(
        &mut self,
        stream: &str,
        schema: &RawValue,
        key_properties: &[String],
        bookmark_properties: &[String],
    ) -> Result<()>;
    fn records(&mut self, stream: &str, records: &[Box<RawValue>]) -> Result<()>;
    fn checkpoint(&mut self, state: &RawValue) -> Result<()>;
    fn log(&mut self, level: LogLevel, message: &str);
    /// The guest is about to wait; sinks that show progress may say so.
    fn wait(&mut self, _reason: WaitReason, _duration: std::time::Duration) {}
    /// The guest sent this many HTTP requests (one call, or one batch).
    fn requests(&mut self, _count: usize) {}
    /// An export call ended; where its time went.
    fn finished(&mut self, _time: CallTime) {}
}

/// Wall time of one export call, and the part spent inside the host's
/// imports (HTTP, output, sleeps); the rest ran in the component.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CallTime {
    pub total: std::time::Duration,
    pub in_host: std::time::Duration,
    /// The sleeps among `in_host`.
    pub waits: crate::clock::Waits,
}

impl std::ops::AddAssign for CallTime {
    fn add_assign(&mut self, other: Self) {
        self.total = self.total.saturating_add(other.total);
        self.in_host = self.in_host.saturating_add(other.in_host);
        self.waits += other.waits;
    }
}

/// Parses guest JSON and insists on an object.
pub(crate) fn json_object(what: &str, text: String) -> Result<Box<RawValue>> {
    let raw =
        RawValue::from_string(text).map_err(|e| format_err!("{what} is not valid JSON: {e}"))?;
    if !raw.get().starts_with('{') {
        return Err(format_err!("{what} is not a JSON object"));
    }
    Ok(raw)
}

impl<S: Sink> output::Host for HostState<S> {
    fn schema(
        &mut self,
        stream: String,
        schema: String,
        key_properties: Vec<String>,
        bookmark_properties: Vec<String>,
    ) -> wasmtime::Result<()> {
        self.watchdog.progressed();
        self.in_host(|s| {
            // Checked here, not on the sink thread: a stream is declared only
            // once its schema is known to be an object. Schemas are few.
            let schema = json_object(&format!("schema of stream `{stream}`"), schema)?;
            s.declared_streams.insert(stream.clone());
            s.sink
                .schema(stream, schema, key_properties, bookmark_properties)
        })
    }

    fn records(&mut self, stream: String, records: Vec<String>) -> wasmtime::Result<()> {
        self.watchdog.progressed();
        self.in_host(|s| {
            if !s.declared_streams.contains(&stream) {
                return Err(format_err!(
                    "component emitted records for undeclared stream `{stream}`"
                ));
            }
            s.sink.records(stream, records)
        })
    }

    fn log(&mut self, level: LogLevel, message: String) -> wasmtime::Result<()> {
        self.in_host(|s| s.sink.log(level, message));
        Ok(())
    }
}

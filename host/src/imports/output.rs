//! The `output` import. Guest output is untrusted: schemas, records and
//! states are checked to be JSON objects and records to belong to a declared
//! stream before a sink sees them (records on the sink's thread, see
//! [`crate::sink_thread`]).

use wasmtime::format_err;

use crate::bindings::LogLevel;
use crate::bindings::connector::source::output;
use crate::instance::HostState;
use crate::types::{Sink, json_object};

impl<S: Sink> output::Host for HostState<S> {
    fn schema(
        &mut self,
        stream: String,
        schema: String,
        key_properties: Vec<String>,
        bookmark_properties: Vec<String>,
    ) -> wasmtime::Result<()> {
        self.progress(|s| {
            // Checked here, not on the sink thread: a stream is declared only
            // once its schema is known to be an object. Schemas are few.
            let schema = json_object(&format!("schema of stream `{stream}`"), schema)?;
            s.declared_streams.insert(stream.clone());
            s.sink
                .schema(stream, schema, key_properties, bookmark_properties)
        })
    }

    fn records(&mut self, stream: String, records: Vec<String>) -> wasmtime::Result<()> {
        self.progress(|s| {
            if !s.declared_streams.contains(&stream) {
                return Err(format_err!(
                    "component emitted records for undeclared stream `{stream}`"
                ));
            }
            s.sink.records(stream, records)
        })
    }

    fn stream_version(
        &mut self,
        stream: String,
        version: u64,
        first_load: bool,
    ) -> wasmtime::Result<()> {
        self.progress(|s| {
            if !s.declared_streams.contains(&stream) {
                return Err(format_err!(
                    "component versioned undeclared stream `{stream}`"
                ));
            }
            s.sink.stream_version(stream, version, first_load)
        })
    }

    fn stream_complete(&mut self, stream: String, whole_table: bool) -> wasmtime::Result<()> {
        self.progress(|s| {
            if !s.declared_streams.contains(&stream) {
                return Err(format_err!(
                    "component completed undeclared stream `{stream}`"
                ));
            }
            s.sink.stream_complete(stream, whole_table)
        })
    }

    fn absent_keys(&mut self, stream: String, limit: u32) -> wasmtime::Result<Vec<String>> {
        self.progress(|s| {
            if !s.declared_streams.contains(&stream) {
                return Err(format_err!(
                    "component asked for absent keys of undeclared stream `{stream}`"
                ));
            }
            s.sink.absent_keys(stream, limit)
        })
    }

    fn stream_progress(&mut self, stream: String, done: u64, total: u64) -> wasmtime::Result<()> {
        if !self.declared_streams.contains(&stream) {
            return Err(format_err!(
                "component reported progress of undeclared stream `{stream}`"
            ));
        }
        self.in_host(|s| s.sink.stream_progress(stream, done, total));
        Ok(())
    }

    fn stream_skipped(&mut self, stream: String, reason: String) -> wasmtime::Result<()> {
        self.in_host(|s| s.sink.stream_skipped(stream, reason));
        Ok(())
    }

    fn log(&mut self, level: LogLevel, message: String) -> wasmtime::Result<()> {
        self.in_host(|s| s.sink.log(level, message));
        Ok(())
    }
}

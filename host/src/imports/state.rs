//! The `state` import: each checkpoint goes to the sink as a commit point.

use crate::bindings::connector::source::state;
use crate::instance::HostState;
use crate::types::{Sink, json_object};

impl<S: Sink> state::Host for HostState<S> {
    fn checkpoint(&mut self, document: String) -> wasmtime::Result<Result<(), String>> {
        self.progress(|s| {
            let raw = json_object("checkpointed state", document)?;
            Ok(s.sink.checkpoint(raw).map_err(|e| format!("{e:#}")))
        })
    }
}

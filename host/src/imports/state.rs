//! The `state` import: the host keeps the latest checkpointed state document
//! and passes each checkpoint to the sink as a commit point.

use crate::bindings::connector::source::state;
use crate::instance::HostState;
use crate::types::{Sink, json_object};

impl<S: Sink> state::Host for HostState<S> {
    fn get(&mut self) -> wasmtime::Result<Option<String>> {
        Ok(self.state.clone())
    }

    fn checkpoint(&mut self, document: String) -> wasmtime::Result<Result<(), String>> {
        self.progress(|s| {
            let raw = json_object("checkpointed state", document)?;
            let state = raw.get().to_string();
            if let Err(e) = s.sink.checkpoint(raw) {
                return Ok(Err(format!("{e:#}")));
            }
            s.state = Some(state);
            Ok(Ok(()))
        })
    }
}

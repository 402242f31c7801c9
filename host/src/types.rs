//! What the host's modules share: the [`Sink`] that receives a run's output,
//! the waits and timing of a call, and the check every guest JSON passes.

use std::time::Duration;

use serde_json::value::RawValue;
use wasmtime::{Result, format_err};

use crate::bindings::LogLevel;
use crate::bindings::connector::source::clock::WaitReason;

/// Where a run's output goes. `checkpoint` is a commit point: a sink must make
/// every record it received before it durable no later than the state.
pub trait Sink: Send + 'static {
    /// Sinks that only count or drop output need not keep schemas,
    /// checkpoints or logs: each is ignored unless a sink says otherwise.
    fn schema(
        &mut self,
        _stream: &str,
        _schema: &RawValue,
        _key_properties: &[String],
        _bookmark_properties: &[String],
    ) -> Result<()> {
        Ok(())
    }
    fn records(&mut self, stream: &str, records: &[Box<RawValue>]) -> Result<()>;
    /// What follows of `stream`, to its completion, is a complete pass with
    /// this table version (see the WIT's `stream-version`).
    fn stream_version(&mut self, _stream: &str, _version: u64, _first_load: bool) -> Result<()> {
        Ok(())
    }
    /// No more records of `stream` this run; with `whole_table`, what came
    /// since its schema is all the stream holds. Part of the next commit.
    fn stream_complete(&mut self, _stream: &str, _whole_table: bool) -> Result<()> {
        Ok(())
    }
    /// Up to `limit` keys of rows kept for `stream` that its pass has not
    /// sent (see the WIT's `absent-keys`); a sink keeping no copy has none.
    fn absent_keys(&mut self, _stream: &str, _limit: u32) -> Result<Vec<String>> {
        Ok(Vec::new())
    }
    fn checkpoint(&mut self, _state: &RawValue) -> Result<()> {
        Ok(())
    }
    fn log(&mut self, _level: LogLevel, _message: &str) {}
    /// `done` of about `total` records of `stream` read, for a display.
    fn stream_progress(&mut self, _stream: &str, _done: u64, _total: u64) {}
    /// `stream` is not read this run, for `reason`.
    fn stream_skipped(&mut self, _stream: &str, _reason: &str) {}
    /// The guest is about to wait; sinks that show progress may say so.
    fn wait(&mut self, _reason: WaitReason, _duration: Duration) {}
    /// The guest sent this many HTTP requests (one call, or one batch).
    fn requests(&mut self, _count: usize) {}
    /// This many answers the guest got had status 429.
    fn rate_limited(&mut self, _count: usize) {}
    /// An export call ended; where its time went.
    fn finished(&mut self, _time: CallTime) {}
}

/// Waits a guest asked for during one call.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Waits {
    pub rate_limit: Duration,
    pub retry: Duration,
    pub busy: Duration,
    pub count: u64,
}

impl std::ops::AddAssign for Waits {
    fn add_assign(&mut self, other: Self) {
        self.rate_limit = self.rate_limit.saturating_add(other.rate_limit);
        self.retry = self.retry.saturating_add(other.retry);
        self.busy = self.busy.saturating_add(other.busy);
        self.count = self.count.saturating_add(other.count);
    }
}

impl Waits {
    pub fn total(&self) -> Duration {
        self.rate_limit
            .saturating_add(self.retry)
            .saturating_add(self.busy)
    }
}

/// Wall time of one export call, and the part spent inside the host's
/// imports (HTTP, output, sleeps); the rest ran in the component.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CallTime {
    pub total: Duration,
    pub in_host: Duration,
    /// The sleeps among `in_host`.
    pub waits: Waits,
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

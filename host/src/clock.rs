//! The `clock` import: wall-clock time, and waits the host counts by reason
//! so summaries and progress can show time lost to rate limits and retries.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::bindings::connector::source::clock::{self, WaitReason};
use crate::instance::HostState;
use crate::output::Sink;

/// Waits a guest asked for during one call.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Waits {
    pub rate_limit: Duration,
    pub retry: Duration,
    pub busy: Duration,
    pub count: u64,
}

impl<S: Sink> clock::Host for HostState<S> {
    fn now_ms(&mut self) -> wasmtime::Result<u64> {
        Ok(SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0))
    }

    fn sleep(&mut self, ms: u32, reason: WaitReason) -> wasmtime::Result<()> {
        let duration = Duration::from_millis(ms.into());
        self.watchdog.sleeping(duration)?;
        self.sink.wait(reason, duration);
        self.in_host(|_| std::thread::sleep(duration));
        let waits = &mut self.waits;
        waits.count += 1;
        match reason {
            WaitReason::RateLimit => waits.rate_limit += duration,
            WaitReason::Retry => waits.retry += duration,
            WaitReason::Busy => waits.busy += duration,
        }
        Ok(())
    }
}

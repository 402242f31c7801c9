//! The `clock` import: wall-clock time, and waits the host counts by reason
//! so summaries and progress can show time lost to rate limits and retries.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::bindings::connector::source::clock::{self, WaitReason};
use crate::instance::HostState;
use crate::types::Sink;

impl<S: Sink> clock::Host for HostState<S> {
    fn now_ms(&mut self) -> wasmtime::Result<u64> {
        Ok(SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0))
    }

    /// Not progress: capped by the max wait instead, and off the watchdog's
    /// count.
    fn sleep(&mut self, ms: u32, reason: WaitReason) -> wasmtime::Result<()> {
        let duration = Duration::from_millis(ms.into());
        self.watchdog.may_sleep(duration)?;
        self.sink.wait(reason, duration);
        let started = Instant::now();
        self.in_host(|_| std::thread::sleep(duration));
        self.watchdog.slept(started.elapsed());
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

//! How much a guest may use: memory, compute and waits without progress,
//! response sizes, timeouts, concurrency.

use std::time::Duration;

use wasmtime::{ResourceLimiter, Result, bail};

/// Resource limits for one component instance.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Cap on the guest's linear memories, all of them together.
    pub memory_bytes: usize,
    /// Longest the guest may compute without progress: a request, output or
    /// a checkpoint. Time inside the host does not count, so a long sync is
    /// fine; a guest stuck in a loop is stopped, even one that keeps reading
    /// the clock or logging.
    pub watchdog: Duration,
    /// Longest the guest may sleep (`clock.sleep`, in one call or several)
    /// between two progress calls: Intercom's waits are seconds, so more
    /// means a guest idling forever.
    pub max_wait: Duration,
    /// Cap on one response body.
    pub max_response_bytes: u64,
    /// Upper bound on any request's timeout, whatever the guest asks.
    pub max_request_timeout: Duration,
    /// How many requests of one batch run at once: at 100 ms of latency, 32
    /// in flight are needed to spend Intercom's 167 requests a second.
    pub batch_concurrency: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            memory_bytes: 512 << 20,
            watchdog: Duration::from_secs(60),
            max_wait: Duration::from_secs(300),
            max_response_bytes: 64 << 20,
            max_request_timeout: Duration::from_secs(300),
            batch_concurrency: 32,
        }
    }
}

/// Table elements one instance may hold; tables live in host memory, so an
/// unbounded `table.grow` would bypass the memory cap. Real components use a
/// few hundred.
const MAX_TABLE_ELEMENTS: usize = 1 << 20;

/// Enforces [`Limits::memory_bytes`] over every memory of an instance,
/// trapping with an error that names the limit (a failed `memory.grow` would
/// only surface as the guest's own out-of-memory abort).
pub(crate) struct MemoryLimiter {
    limit: usize,
    used: usize,
}

impl MemoryLimiter {
    pub(crate) fn new(limit: usize) -> Self {
        Self { limit, used: 0 }
    }
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(&mut self, current: usize, desired: usize, _: Option<usize>) -> Result<bool> {
        // Called for every memory's creation too (from 0), so `used` is the
        // instance's total.
        let used = self.used + desired.saturating_sub(current);
        if used > self.limit {
            bail!("memory limit of {} MiB exceeded", self.limit >> 20);
        }
        self.used = used;
        Ok(true)
    }

    fn table_growing(&mut self, _: usize, desired: usize, _: Option<usize>) -> Result<bool> {
        if desired > MAX_TABLE_ELEMENTS {
            bail!("table limit of {MAX_TABLE_ELEMENTS} elements exceeded");
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_is_capped_across_all_memories() {
        let mut limiter = MemoryLimiter::new(4 << 20);
        assert!(limiter.memory_growing(0, 2 << 20, None).unwrap());
        assert!(limiter.memory_growing(0, 1 << 20, None).unwrap());
        let e = limiter.memory_growing(2 << 20, 4 << 20, None).unwrap_err();
        assert_eq!(e.to_string(), "memory limit of 4 MiB exceeded");
        assert!(limiter.memory_growing(1 << 20, 2 << 20, None).unwrap());
    }
}

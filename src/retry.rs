//! Retry policy: which failures are worth another try, and how long to back
//! off (exponential, jittered, bounded in tries and total time).

use std::cell::Cell;

/// Tries per request for transient failures (429s are paced, not counted).
pub const MAX_ATTEMPTS: u32 = 6;
/// No request is retried after this long since its first try.
pub const MAX_ELAPSED_MS: u64 = 10 * 60 * 1000;
const BASE_DELAY_MS: u64 = 500;
const MAX_DELAY_MS: u64 = 30_000;

/// Delay before try `attempt + 1`: 2^(attempt-1) × base, capped, with the
/// upper half jittered so concurrent clients spread out.
pub fn backoff_ms(attempt: u32, jitter: &Jitter) -> u64 {
    let exponential = BASE_DELAY_MS.saturating_mul(1 << attempt.saturating_sub(1).min(16));
    let capped = exponential.min(MAX_DELAY_MS);
    capped / 2 + jitter.next() % (capped / 2 + 1)
}

/// A small xorshift generator: jitter needs spread, not secrecy.
pub struct Jitter(Cell<u64>);

impl Jitter {
    pub fn new(seed: u64) -> Self {
        Self(Cell::new(seed | 1))
    }

    pub fn next(&self) -> u64 {
        let mut x = self.0.get();
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0.set(x);
        x
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_exponentially_within_jittered_bounds_and_caps() {
        let jitter = Jitter::new(7);
        for attempt in 1..=10 {
            let full = (BASE_DELAY_MS << (attempt - 1)).min(MAX_DELAY_MS);
            for _ in 0..50 {
                let delay = backoff_ms(attempt, &jitter);
                assert!(
                    delay >= full / 2 && delay <= full,
                    "attempt {attempt}: {delay}"
                );
            }
        }
        assert!(backoff_ms(u32::MAX, &jitter) <= MAX_DELAY_MS);
    }
}

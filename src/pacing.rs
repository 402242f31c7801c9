//! Spends Intercom's rate-limit budget without exceeding it, from the
//! `X-RateLimit-Limit`, `-Remaining` and `-Reset` headers of every response
//! (10-second windows; Reset is the window's end in UNIX seconds).

use crate::host::{Host, Response, WaitReason};

/// Slack after a window's announced end, for clock skew with the server.
const RESET_MARGIN_MS: u64 = 100;
/// Wait when a 429 carries no Reset header: one window.
const DEFAULT_WINDOW_MS: u64 = 10_000;

#[derive(Debug)]
pub struct Pacer {
    /// Share of each window's budget this connector may spend (0, 1].
    share: f64,
    limit: Option<u64>,
    remaining: Option<u64>,
    /// End of the current window, UNIX milliseconds.
    reset_ms: u64,
}

impl Pacer {
    pub fn new(share: f64) -> Self {
        Self {
            share,
            limit: None,
            remaining: None,
            reset_ms: 0,
        }
    }

    /// How many of `wanted` requests may go now; waits for the next window
    /// when this one is spent. Before the first response, everything may go.
    pub fn allowance(&mut self, host: &dyn Host, wanted: usize) -> usize {
        loop {
            let (Some(limit), Some(remaining)) = (self.limit, self.remaining) else {
                return wanted;
            };
            let reserve = (limit as f64 * (1.0 - self.share)).ceil() as u64;
            let usable = remaining.saturating_sub(reserve);
            if usable > 0 {
                return wanted.min(usable as usize);
            }
            self.wait_for_reset(host);
        }
    }

    fn wait_for_reset(&mut self, host: &dyn Host) {
        let now = host.now_ms();
        let until = self.reset_ms.max(now) + RESET_MARGIN_MS;
        host.sleep(
            (until - now).min(u32::MAX as u64) as u32,
            WaitReason::RateLimit,
        );
        self.remaining = self.limit;
        self.reset_ms = until.saturating_sub(RESET_MARGIN_MS) + DEFAULT_WINDOW_MS;
    }

    /// Counts requests about to be sent, so a batch cannot overdraw.
    pub fn spend(&mut self, count: usize) {
        if let Some(remaining) = &mut self.remaining {
            *remaining = remaining.saturating_sub(count as u64);
        }
    }

    /// Learns the budget from a response's headers; a 429 empties the window.
    pub fn observe(&mut self, host: &dyn Host, response: &Response) {
        let number = |name| {
            response
                .header(name)
                .and_then(|v| v.trim().parse::<u64>().ok())
        };
        let reset_ms = number("x-ratelimit-reset").map(|s| s.saturating_mul(1000));
        if let Some(limit) = number("x-ratelimit-limit") {
            self.limit = Some(limit);
        }
        if let (Some(remaining), Some(reset_ms)) = (number("x-ratelimit-remaining"), reset_ms) {
            if reset_ms > self.reset_ms {
                // A newer window: its count replaces ours.
                self.reset_ms = reset_ms;
                self.remaining = Some(remaining);
            } else if reset_ms == self.reset_ms {
                self.remaining = Some(self.remaining.map_or(remaining, |r| r.min(remaining)));
            }
        }
        if response.status == 429 {
            self.remaining = Some(0);
            self.limit = self.limit.or(Some(1));
            if reset_ms.is_none() {
                self.reset_ms = host.now_ms() + DEFAULT_WINDOW_MS;
            }
        }
    }
}

//! Spends Intercom's rate-limit budget without exceeding it, from the
//! `X-RateLimit-Limit`, `-Remaining` and `-Reset` headers of every response
//! (10-second windows; Reset is the window's end in UNIX seconds by the
//! server's clock, read against the response's `Date`), and honours
//! `Retry-After`.

use chrono::DateTime;

use crate::host::{Host, Response, WaitReason};

/// Slack after a window's announced end: `Date` has whole seconds.
const RESET_MARGIN_MS: u64 = 100;
/// Wait when a 429 carries no Reset header: one window.
const DEFAULT_WINDOW_MS: u64 = 10_000;
/// Longest wait for a window or a `Retry-After`: Intercom's allowance is
/// per minute, so a longer one is a wrong header, not a reason to stall.
pub const MAX_WAIT_MS: u64 = 60_000;

#[derive(Debug)]
pub struct Pacer {
    /// Share of each window's budget this connector may spend (0, 1].
    share: f64,
    limit: Option<u64>,
    remaining: Option<u64>,
    /// The window `remaining` counts, by its `X-RateLimit-Reset` as sent (UNIX
    /// seconds, server's clock). Windows are told apart by this value, never
    /// by its conversion to our clock, which moves with each `Date`.
    window: Option<u64>,
    /// End of that window, UNIX milliseconds by our clock.
    reset_ms: u64,
    /// No request before this (a `Retry-After` on a 429), our clock.
    not_before_ms: u64,
}

/// The server's clock minus ours, in milliseconds, from a response's `Date`
/// (0 without one). `Date` is truncated to the second, so this errs towards
/// waiting longer.
fn server_offset_ms(host: &dyn Host, response: &Response) -> i64 {
    response
        .header("date")
        .and_then(http_date_ms)
        .map_or(0, |date| date - host.now_ms() as i64)
}

/// An HTTP date (IMF-fixdate, `Tue, 01 Dec 2026 23:19:08 GMT`) in UNIX ms.
fn http_date_ms(text: &str) -> Option<i64> {
    DateTime::parse_from_rfc2822(text.trim())
        .ok()
        .map(|t| t.timestamp_millis())
}

/// A server-clock time in ms, converted to ours.
fn local_ms(server_ms: i64, offset_ms: i64) -> u64 {
    server_ms.saturating_sub(offset_ms).max(0) as u64
}

/// How long a response's `Retry-After` (seconds, or an HTTP date by the
/// server's clock) asks to wait, at most [`MAX_WAIT_MS`].
pub fn retry_after_ms(host: &dyn Host, response: &Response) -> Option<u64> {
    let text = response.header("retry-after")?.trim();
    let ms = match text.parse::<u64>() {
        Ok(seconds) => seconds.saturating_mul(1000),
        Err(_) => {
            let at = local_ms(http_date_ms(text)?, server_offset_ms(host, response));
            at.saturating_sub(host.now_ms())
        }
    };
    Some(ms.min(MAX_WAIT_MS))
}

impl Pacer {
    pub fn new(share: f64) -> Self {
        Self {
            share,
            limit: None,
            remaining: None,
            window: None,
            reset_ms: 0,
            not_before_ms: 0,
        }
    }

    /// How many of `wanted` requests may go now; waits for the next window
    /// when this one is spent. Before the first response, everything may go.
    pub fn allowance(&mut self, host: &dyn Host, wanted: usize) -> usize {
        let now = host.now_ms();
        if self.not_before_ms > now {
            let wait = (self.not_before_ms - now).min(MAX_WAIT_MS);
            host.sleep(wait as u32, WaitReason::RateLimit);
        }
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
        let until = (self.reset_ms.max(now) + RESET_MARGIN_MS).min(now + MAX_WAIT_MS);
        host.sleep((until - now) as u32, WaitReason::RateLimit);
        self.remaining = self.limit;
        self.window = self.window.map(|w| w + DEFAULT_WINDOW_MS / 1000);
        self.reset_ms = until.saturating_sub(RESET_MARGIN_MS) + DEFAULT_WINDOW_MS;
    }

    /// Counts requests about to be sent, so a batch cannot overdraw.
    pub fn spend(&mut self, count: usize) {
        if let Some(remaining) = &mut self.remaining {
            *remaining = remaining.saturating_sub(count as u64);
        }
    }

    /// Learns the budget from a response's headers; a 429 empties the window
    /// and holds requests for its `Retry-After`.
    pub fn observe(&mut self, host: &dyn Host, response: &Response) {
        let number = |name| {
            response
                .header(name)
                .and_then(|v| v.trim().parse::<u64>().ok())
        };
        let offset = server_offset_ms(host, response);
        let reset = number("x-ratelimit-reset");
        if let Some(limit) = number("x-ratelimit-limit") {
            self.limit = Some(limit);
        }
        if let (Some(remaining), Some(reset)) = (number("x-ratelimit-remaining"), reset) {
            let reset_ms = local_ms(reset.saturating_mul(1000) as i64, offset)
                // A reset further off than a window is our clocks disagreeing.
                .min(host.now_ms() + DEFAULT_WINDOW_MS);
            match self.window {
                Some(window) if reset < window => {}
                Some(window) if reset == window => {
                    // Answers to requests sent before ours were counted may
                    // report more than is left.
                    self.remaining = Some(self.remaining.map_or(remaining, |r| r.min(remaining)));
                    self.reset_ms = self.reset_ms.max(reset_ms);
                }
                _ => {
                    // A newer window: its count replaces ours.
                    self.window = Some(reset);
                    self.remaining = Some(remaining);
                    self.reset_ms = reset_ms;
                }
            }
        }
        if response.status == 429 {
            self.remaining = Some(0);
            self.limit = self.limit.or(Some(1));
            if reset.is_none() {
                self.reset_ms = host.now_ms() + DEFAULT_WINDOW_MS;
            }
            if let Some(wait) = retry_after_ms(host, response) {
                self.not_before_ms = self.not_before_ms.max(host.now_ms() + wait);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::cell::{Cell, RefCell};

    use super::*;
    use crate::host::{LogLevel, Request, TransportError};

    /// A clock that sleeps instantly; nothing else is used.
    struct Clock {
        now: Cell<u64>,
        slept: RefCell<Vec<u32>>,
    }

    impl Host for Clock {
        fn send(&self, _: Request) -> std::result::Result<Response, TransportError> {
            unreachable!("the pacer sends nothing")
        }
        fn send_batch(
            &self,
            _: Vec<Request>,
        ) -> Vec<std::result::Result<Response, TransportError>> {
            unreachable!("the pacer sends nothing")
        }
        fn schema(&self, _: &str, _: &str, _: &[String], _: &[String]) {}
        fn records(&self, _: &str, _: Vec<String>) {}
        fn stream_complete(&self, _: &str, _: bool) {}
        fn stream_version(&self, _: &str, _: u64, _: bool) {}
        fn stream_progress(&self, _: &str, _: u64, _: u64) {}
        fn stream_skipped(&self, _: &str, _: &str) {}
        fn log(&self, _: LogLevel, _: &str) {}
        fn now_ms(&self) -> u64 {
            self.now.get()
        }
        fn sleep(&self, ms: u32, _: WaitReason) {
            self.slept.borrow_mut().push(ms);
            self.now.set(self.now.get() + u64::from(ms));
        }
        fn checkpoint(&self, _: &str) -> crate::error::Result<()> {
            Ok(())
        }
    }

    const OUR_NOW_S: i64 = 1_800_000_000;

    fn clock() -> Clock {
        Clock {
            now: Cell::new(OUR_NOW_S as u64 * 1000),
            slept: RefCell::new(Vec::new()),
        }
    }

    fn http_date(seconds: i64) -> String {
        DateTime::from_timestamp(seconds, 0)
            .unwrap()
            .format("%a, %d %b %Y %H:%M:%S GMT")
            .to_string()
    }

    fn response(status: u16, headers: &[(&str, String)]) -> Response {
        Response {
            status,
            headers: headers
                .iter()
                .map(|(n, v)| (n.to_string(), v.clone()))
                .collect(),
            body: Vec::new(),
        }
    }

    #[test]
    fn a_spent_window_waits_for_its_reset_by_the_servers_clock() {
        for skew in [0, 120, -120, 400, -400] {
            let host = clock();
            let server_now = OUR_NOW_S + skew;
            let mut pacer = Pacer::new(1.0);
            pacer.observe(
                &host,
                &response(
                    200,
                    &[
                        ("date", http_date(server_now)),
                        ("x-ratelimit-limit", "100".into()),
                        ("x-ratelimit-remaining", "0".into()),
                        ("x-ratelimit-reset", (server_now + 4).to_string()),
                    ],
                ),
            );
            assert_eq!(pacer.allowance(&host, 5), 5, "{skew}");
            assert_eq!(*host.slept.borrow(), vec![4_100], "{skew}");
        }
    }

    #[test]
    fn a_window_is_one_window_however_its_date_rounds() {
        for skew in [0, -400, 400] {
            let host = clock();
            let mut pacer = Pacer::new(1.0);
            let reset = OUR_NOW_S + skew + 9;
            let answer = |remaining: u64, date: i64| {
                response(
                    200,
                    &[
                        ("date", http_date(date)),
                        ("x-ratelimit-limit", "100".into()),
                        ("x-ratelimit-remaining", remaining.to_string()),
                        ("x-ratelimit-reset", reset.to_string()),
                    ],
                )
            };
            pacer.observe(&host, &answer(99, OUR_NOW_S + skew));
            assert_eq!(pacer.allowance(&host, 200), 99, "{skew}");
            pacer.spend(99);
            // A late answer to an earlier request, in the same second by its
            // Date: converted, the window seems to end 0.6 s later.
            host.now.set(host.now.get() + 600);
            pacer.observe(&host, &answer(50, OUR_NOW_S + skew));
            pacer.allowance(&host, 1);
            assert_eq!(host.slept.borrow().len(), 1, "{skew}: waits, spent");
        }
    }

    #[test]
    fn retry_after_is_read_as_seconds_or_a_date_on_the_servers_clock() {
        let host = clock();
        let seconds = response(503, &[("retry-after", "2".into())]);
        assert_eq!(retry_after_ms(&host, &seconds), Some(2_000));
        let server_now = OUR_NOW_S - 400;
        let dated = response(
            503,
            &[
                ("date", http_date(server_now)),
                ("retry-after", http_date(server_now + 3)),
            ],
        );
        assert_eq!(retry_after_ms(&host, &dated), Some(3_000));
        let absurd = response(503, &[("retry-after", "86400".into())]);
        assert_eq!(retry_after_ms(&host, &absurd), Some(MAX_WAIT_MS));
        assert_eq!(retry_after_ms(&host, &response(503, &[])), None);
    }

    #[test]
    fn a_429_with_retry_after_holds_the_next_request() {
        let host = clock();
        let mut pacer = Pacer::new(1.0);
        pacer.observe(&host, &response(429, &[("retry-after", "7".into())]));
        pacer.allowance(&host, 1);
        assert_eq!(host.slept.borrow()[0], 7_000);
    }
}

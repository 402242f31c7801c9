//! Generated timestamps and the app's calendar days.
//!
//! Real workspaces have bursts: imports and bulk updates stamp thousands of
//! records with the same second, and activity clusters on busy days. Bookmark
//! bugs (`>` versus `>=`, day-truncated search) hide exactly there, so the
//! generator reuses a small pool of seconds and of days on purpose.

use chrono::{NaiveTime, TimeZone};
use chrono_tz::Tz;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// 2026-06-01T00:00:00Z: generated data ends here, whatever the real clock says.
pub const EPOCH: i64 = 1_780_272_000;
/// Generated records span the two years before [`EPOCH`].
pub(crate) const START: i64 = EPOCH - 2 * 365 * 86_400;
const DAY: i64 = 86_400;

#[derive(Clone, Debug)]
/// Draws timestamps in `[START, EPOCH)` with shared seconds and busy days.
pub(crate) struct Timeline {
    /// Sorted seconds that many records share.
    seconds: Vec<i64>,
    /// Sorted starts (UTC) of the busy days.
    days: Vec<i64>,
}

impl Timeline {
    pub(crate) fn new(rng: &mut ChaCha8Rng) -> Timeline {
        let mut seconds: Vec<i64> = (0..48).map(|_| rng.random_range(START..EPOCH)).collect();
        seconds.sort_unstable();
        let mut days: Vec<i64> = (0..60)
            .map(|_| START + rng.random_range(0..(EPOCH - START) / DAY) * DAY)
            .collect();
        days.sort_unstable();
        Timeline { seconds, days }
    }

    /// A timestamp at or after `lo` (and before [`EPOCH`] when `lo` is).
    pub(crate) fn at_or_after(&self, rng: &mut ChaCha8Rng, lo: i64) -> i64 {
        let lo = lo.clamp(START, EPOCH - 1);
        let roll: f64 = rng.random();
        if roll < 0.3 {
            let from = self.seconds.partition_point(|&s| s < lo);
            if from < self.seconds.len() {
                return self.seconds[rng.random_range(from..self.seconds.len())];
            }
        } else if roll < 0.6 {
            let from = self.days.partition_point(|&d| d + DAY <= lo);
            if from < self.days.len() {
                let day = self.days[rng.random_range(from..self.days.len())];
                return (day + rng.random_range(0..DAY)).clamp(lo, EPOCH - 1);
            }
        }
        rng.random_range(lo..EPOCH)
    }

    /// `(created_at, updated_at)` with `updated_at >= created_at`; a fifth of the
    /// records were never updated.
    pub(crate) fn created_updated(&self, rng: &mut ChaCha8Rng) -> (i64, i64) {
        let created = self.at_or_after(rng, START);
        let updated = if rng.random_bool(0.2) {
            created
        } else {
            self.at_or_after(rng, created)
        };
        (created, updated)
    }
}

/// Start (UNIX seconds) of the calendar day holding `ts` in `tz`, and of the next.
pub(crate) fn day_bounds(ts: i64, tz: Tz) -> (i64, i64) {
    let Some(local) = tz.timestamp_opt(ts, 0).single() else {
        return (ts - ts.rem_euclid(DAY), ts - ts.rem_euclid(DAY) + DAY);
    };
    let date = local.date_naive();
    let start_of = |date: chrono::NaiveDate| {
        tz.from_local_datetime(&date.and_time(NaiveTime::MIN))
            .earliest()
            .map_or(ts, |start| start.timestamp())
    };
    let next = date.succ_opt().map_or(ts + DAY, start_of);
    (start_of(date), next)
}

/// The real clock, in UNIX seconds.
pub(crate) fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_follow_the_app_timezone() {
        let tz: Tz = "America/Los_Angeles".parse().unwrap();
        // 2026-05-31T06:59:59Z is 23:59:59 on May 30 in Los Angeles (PDT, UTC-7).
        let (start, end) = day_bounds(1_780_210_799, tz);
        assert_eq!((start, end), (1_780_124_400, 1_780_210_800));
        // 2025-11-02 has 25 hours there.
        let (start, end) = day_bounds(1_762_070_400, tz);
        assert_eq!(end - start, 25 * 3600);
    }
}

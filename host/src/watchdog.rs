//! The no-progress watchdog and the epoch ticker that drives it.

use std::time::{Duration, Instant};

use wasmtime::{Result, UpdateDeadline, bail};

use crate::limits::Limits;

/// How often the engine's epoch advances, so the watchdog's resolution.
const EPOCH_TICK: Duration = Duration::from_millis(100);

/// The no-progress watchdog. The engine's epoch advances every
/// [`EPOCH_TICK`]; while guest code runs, each advance calls [`Self::tick`].
/// Progress calls (requests, output, checkpoints) restart the count, so
/// `since` is (to one tick) when the guest last came back from one. Sleeps
/// are not computing: their time is taken off, and what they ask for is
/// capped apart, by [`Limits::max_wait`].
pub(crate) struct Watchdog {
    budget: Duration,
    max_wait: Duration,
    progressed: bool,
    since: Instant,
    /// Sleep asked for since the last progress, against the max wait.
    waited: Duration,
    /// Time actually asleep since the last progress, off the budget.
    asleep: Duration,
}

impl Watchdog {
    pub(crate) fn new(limits: &Limits) -> Self {
        Self {
            budget: limits.watchdog,
            max_wait: limits.max_wait,
            progressed: false,
            since: Instant::now(),
            waited: Duration::ZERO,
            asleep: Duration::ZERO,
        }
    }

    /// The guest called an import that does work.
    pub(crate) fn progressed(&mut self) {
        self.progressed = true;
    }

    fn restart_after_progress(&mut self, now: Instant) {
        if std::mem::take(&mut self.progressed) {
            self.since = now;
            self.waited = Duration::ZERO;
            self.asleep = Duration::ZERO;
        }
    }

    /// An epoch tick while the guest runs: stop it if it has computed for the
    /// whole budget since it last made progress.
    pub(crate) fn tick(&mut self) -> Result<UpdateDeadline> {
        let now = Instant::now();
        self.restart_after_progress(now);
        if now.duration_since(self.since).saturating_sub(self.asleep) >= self.budget {
            bail!(
                "component ran {} s without progress: no request, output or checkpoint (watchdog)",
                seconds(self.budget)
            );
        }
        Ok(UpdateDeadline::Continue(1))
    }

    /// The guest asks to sleep `duration`: refused, before sleeping, when its
    /// sleeps since the last progress would exceed the max wait.
    pub(crate) fn may_sleep(&mut self, duration: Duration) -> Result<()> {
        self.restart_after_progress(Instant::now());
        let total = self.waited.saturating_add(duration);
        if total > self.max_wait {
            bail!(
                "component asked to wait {} s without progress; the limit is {} s (max wait)",
                seconds(total),
                seconds(self.max_wait)
            );
        }
        self.waited = total;
        Ok(())
    }

    /// The guest slept this long (a little more than it asked).
    pub(crate) fn slept(&mut self, actual: Duration) {
        self.asleep += actual;
    }
}

/// `d` in seconds to the millisecond, without float noise: `2.2`, `300`.
fn seconds(d: Duration) -> f64 {
    d.as_millis() as f64 / 1000.0
}

/// Advances `engine`'s epoch every [`EPOCH_TICK`] until the engine is
/// dropped. One thread per engine; a tick costs one atomic add.
pub(crate) fn start_epoch_ticker(engine: &wasmtime::Engine) -> std::io::Result<()> {
    let engine = engine.weak();
    std::thread::Builder::new()
        .name("wasm-epoch".into())
        .spawn(move || {
            while let Some(engine) = engine.upgrade() {
                engine.increment_epoch();
                drop(engine);
                std::thread::sleep(EPOCH_TICK);
            }
        })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn watchdog(budget: u64, max_wait: u64) -> Watchdog {
        Watchdog::new(&Limits {
            watchdog: Duration::from_secs(budget),
            max_wait: Duration::from_secs(max_wait),
            ..Limits::default()
        })
    }

    #[test]
    fn sleeps_add_up_to_the_max_wait_until_progress() {
        let mut dog = watchdog(60, 10);
        dog.may_sleep(Duration::from_secs(6)).unwrap();
        let e = dog.may_sleep(Duration::from_millis(4_200)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "component asked to wait 10.2 s without progress; the limit is 10 s (max wait)"
        );
        // The refused sleep is not counted; progress starts afresh.
        dog.may_sleep(Duration::from_secs(4)).unwrap();
        dog.progressed();
        dog.may_sleep(Duration::from_secs(10)).unwrap();
        assert!(dog.may_sleep(Duration::MAX).is_err());
    }

    #[test]
    fn the_watchdog_counts_computing_not_sleeping() {
        let mut dog = watchdog(1, 300);
        dog.since = Instant::now() - Duration::from_secs(2);
        dog.slept(Duration::from_millis(1_500));
        assert!(dog.tick().is_ok(), "0.5 s of computing");
        dog.asleep = Duration::from_millis(500);
        let e = dog.tick().err().expect("1.5 s of computing");
        assert_eq!(
            e.to_string(),
            "component ran 1 s without progress: no request, output or checkpoint (watchdog)"
        );
        dog.progressed();
        assert!(dog.tick().is_ok(), "progress restarts the count");
        assert_eq!(dog.asleep, Duration::ZERO);
    }
}

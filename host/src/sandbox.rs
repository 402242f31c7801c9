//! What a guest may do: memory, compute and waits without progress,
//! response sizes, timeouts, concurrency, and which origins it may reach.
//! Everything else is denied.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use url::Url;
use wasmtime::{ResourceLimiter, Result, UpdateDeadline, bail};
use wasmtime_wasi::WasiCtx;

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

/// How often the engine's epoch advances, so the watchdog's resolution.
pub(crate) const EPOCH_TICK: Duration = Duration::from_millis(100);

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

/// WASI with nothing granted: no files, no environment, no arguments, no
/// sockets, no name lookups, stdin closed and stdout/stderr discarded (the
/// builder's defaults, the socket ones spelled out). Clocks and randomness
/// stay. A Rust guest links these interfaces even when unused.
pub fn wasi_context() -> WasiCtx {
    WasiCtx::builder()
        .allow_tcp(false)
        .allow_udp(false)
        .allow_ip_name_lookup(false)
        .build()
}

/// The origins a guest may send requests to.
#[derive(Clone, Debug, Default)]
pub struct NetworkPolicy {
    origins: Vec<url::Origin>,
    /// The admitted origins the config names: only they may resolve to
    /// addresses outside the public internet ([`crate::address_class`]).
    named: Vec<url::Origin>,
}

impl NetworkPolicy {
    /// No network at all, for calls that need none.
    pub fn deny_all() -> Self {
        Self::default()
    }

    /// Admits the origins the component declared for `config`: https ones,
    /// and loopback ones (http or https) only when the config itself names
    /// that origin, so a component cannot reach local services on its own.
    pub fn from_declared(declared: &[String], config: &str) -> Result<Self> {
        let named = origins_named_in(config);
        let mut origins = Vec::new();
        for text in declared {
            let url = match Url::parse(text) {
                Ok(url) if matches!(url.scheme(), "http" | "https") => url,
                _ => bail!("the component declared `{text}`, which is not an http(s) origin"),
            };
            let origin = url.origin();
            if is_local_host(&url) {
                if !named.contains(&origin) {
                    bail!(
                        "the component declared loopback origin `{text}`, which the config does not name"
                    );
                }
            } else if url.scheme() != "https" {
                bail!("the component declared `{text}`: plain http is allowed only to loopback");
            }
            origins.push(origin);
        }
        let named = origins.iter().filter(|o| named.contains(o)).cloned();
        Ok(Self {
            named: named.collect(),
            origins,
        })
    }

    /// The parsed URL when the policy admits it; else why not.
    pub fn admit(&self, url: &str) -> std::result::Result<Url, String> {
        let parsed = Url::parse(url).map_err(|e| format!("malformed URL: {e}"))?;
        if self.origins.contains(&parsed.origin()) {
            Ok(parsed)
        } else {
            Err(format!(
                "origin {} is not in the allow-list",
                parsed.origin().ascii_serialization()
            ))
        }
    }

    /// The admitted origins that may reach private and local addresses.
    pub(crate) fn named(&self) -> &[url::Origin] {
        &self.named
    }

    pub fn origins(&self) -> Vec<String> {
        self.origins
            .iter()
            .map(|o| o.ascii_serialization())
            .collect()
    }
}

/// Whether `url` names this machine: `localhost` (and `*.localhost`, RFC
/// 6761), a loopback address (IPv4-mapped too), or the unspecified address,
/// which connects to this machine as well.
fn is_local_host(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => {
            let d = d.trim_end_matches('.').to_ascii_lowercase();
            d == "localhost" || d.ends_with(".localhost")
        }
        Some(url::Host::Ipv4(ip)) => is_local_address(IpAddr::V4(ip)),
        Some(url::Host::Ipv6(ip)) => is_local_address(IpAddr::V6(ip)),
        None => false,
    }
}

/// A loopback or unspecified address, IPv4-mapped IPv6 included.
fn is_local_address(ip: IpAddr) -> bool {
    let ip = ip.to_canonical();
    ip.is_loopback() || ip.is_unspecified()
}

/// Origins of every URL-shaped string value anywhere in the config.
fn origins_named_in(config: &str) -> Vec<url::Origin> {
    fn walk(value: &serde_json::Value, out: &mut Vec<url::Origin>) {
        match value {
            serde_json::Value::String(s) => {
                if let Ok(url) = Url::parse(s) {
                    out.push(url.origin());
                }
            }
            serde_json::Value::Array(items) => items.iter().for_each(|v| walk(v, out)),
            serde_json::Value::Object(map) => map.values().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    if let Ok(value) = serde_json::from_str(config) {
        walk(&value, &mut out);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn declared(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

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

    #[test]
    fn https_origins_are_admitted_and_nothing_else() {
        let policy =
            NetworkPolicy::from_declared(&declared(&["https://api.intercom.io"]), "{}").unwrap();
        assert!(policy.admit("https://api.intercom.io/admins?x=1").is_ok());
        let refused = policy.admit("https://evil.example/").unwrap_err();
        assert!(refused.contains("not in the allow-list"), "{refused}");
        assert!(policy.admit("http://api.intercom.io/admins").is_err());
        assert!(policy.admit("not a url").unwrap_err().contains("malformed"));
    }

    #[test]
    fn loopback_only_when_the_config_names_it() {
        let config = r#"{"base_url":"http://127.0.0.1:4010/"}"#;
        let policy =
            NetworkPolicy::from_declared(&declared(&["http://127.0.0.1:4010"]), config).unwrap();
        assert!(policy.admit("http://127.0.0.1:4010/me").is_ok());
        assert!(policy.admit("http://127.0.0.1:4011/me").is_err());
        let e =
            NetworkPolicy::from_declared(&declared(&["http://127.0.0.1:22"]), config).unwrap_err();
        assert!(e.to_string().contains("does not name"), "{e}");
        let e = NetworkPolicy::from_declared(&declared(&["http://example.com"]), "{}").unwrap_err();
        assert!(e.to_string().contains("plain http"), "{e}");
        let e = NetworkPolicy::from_declared(&declared(&["file:///etc/passwd"]), "{}").unwrap_err();
        assert!(e.to_string().contains("not an http(s) origin"), "{e}");
    }

    #[test]
    fn every_spelling_of_this_machine_needs_the_config() {
        for origin in [
            "https://0.0.0.0:4010",
            "https://[::]:4010",
            "https://[::ffff:127.0.0.1]:4010",
            "https://127.1:4010",
            "https://localhost.:4010",
            "https://api.localhost",
        ] {
            let e = NetworkPolicy::from_declared(&declared(&[origin]), "{}").unwrap_err();
            assert!(e.to_string().contains("does not name"), "{origin}: {e}");
        }
    }

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

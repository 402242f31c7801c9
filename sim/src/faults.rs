//! Fault injection: rules and seeded random faults that replace or distort
//! answers, so connector tests can prove a sync survives what Intercom and
//! networks do; and the request statistics tests assert on.
//!
//! This module decides *which* fault a request gets; [`crate::gate`] puts it on
//! the wire.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// What an injected fault does to one authenticated request.
#[derive(Clone, Debug, PartialEq)]
pub enum Fault {
    /// 429 `rate_limit_exceeded` with X-RateLimit-* headers (Remaining 0, Reset = end of the current 10 s window).
    RateLimited,
    /// That status (500, 502, 503, 504) with Intercom's error envelope (`server_error` etc.).
    /// Statuses outside 100..=999 are answered as 500.
    Status(u16),
    /// Answers normally after this delay.
    Delay(Duration),
    /// Never answers (holds the connection open until the client gives up); does not
    /// block Simulator drop/shutdown.
    Hang,
    /// Closes the TCP connection without any response (abortive close: RST).
    Reset,
    /// 200 with the right Content-Length but only part of the body, then closes.
    /// The request is processed first, so server-side effects (a scroll advancing)
    /// happen although the client never sees the page.
    Truncated,
    /// 200 with a body that is not JSON.
    InvalidJson,
    /// 400 `scroll_exists` on /companies/scroll (as if another scroll were open).
    /// Applies only to requests starting a scroll (no `scroll_param`).
    ScrollExists,
    /// 500 "Request failed due to an internal network error. Please restart the scroll operation."
    /// on a scroll page, and the scroll is invalidated (its param no longer works; the slot is
    /// freed). Applies only to `/companies/scroll`.
    ScrollServerError,
    /// The response repeats the previous page's continuation: for search endpoints and
    /// `GET /contacts`, `pages.next.starting_after` equals the request's cursor (a client
    /// following it loops);
    /// for the scroll, the same page and the same scroll_param again. Applies only to requests
    /// carrying a cursor or `scroll_param`.
    RepeatCursor,
    /// 401 `unauthorized`, as if the token were revoked mid-sync.
    Unauthorized,
}

/// When a [`Fault`] fires: on which paths, after how many requests, how often.
#[derive(Clone, Debug)]
pub struct FaultRule {
    pub fault: Fault,
    /// Applies to requests whose path starts with this (None: every path).
    pub path: Option<String>,
    /// Lets this many matching requests through first.
    pub after: u64,
    /// Then fires this many times (u64::MAX: for ever).
    pub times: u64,
}

impl FaultRule {
    /// Fires once, on the first matching request of any path.
    pub fn new(fault: Fault) -> Self {
        FaultRule {
            fault,
            path: None,
            after: 0,
            times: 1,
        }
    }

    pub fn on(self, path_prefix: &str) -> Self {
        FaultRule {
            path: Some(path_prefix.to_owned()),
            ..self
        }
    }

    pub fn after(self, n: u64) -> Self {
        FaultRule { after: n, ..self }
    }

    pub fn times(self, n: u64) -> Self {
        FaultRule { times: n, ..self }
    }
}

/// Faults drawn at random, reproducibly: the same seed and the same sequence of
/// requests give the same faults.
#[derive(Clone, Debug)]
pub struct RandomFaults {
    pub seed: u64,
    /// probability per authenticated request
    pub rate: f64,
    /// Drawn uniformly; a kind that does not apply to the request (a scroll fault
    /// on `/admins`) leaves it unfaulted.
    pub kinds: Vec<Fault>,
}

impl RandomFaults {
    /// The transient faults every client must retry through: 429, 500, 503, reset,
    /// truncated and invalid JSON.
    pub fn new(seed: u64, rate: f64) -> Self {
        RandomFaults {
            seed,
            rate,
            kinds: vec![
                Fault::RateLimited,
                Fault::Status(500),
                Fault::Status(503),
                Fault::Reset,
                Fault::Truncated,
                Fault::InvalidJson,
            ],
        }
    }
}

/// What the simulator has served since it started.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Stats {
    /// Every request, authenticated or not.
    pub requests: u64,
    /// authenticated requests only
    pub authenticated: u64,
    /// Answers by status; resets and hangs have none.
    pub by_status: BTreeMap<u16, u64>,
    /// 429 answers, from the limit or from a fault.
    pub rate_limited: u64,
    pub faults_fired: u64,
    /// Largest number of requests served in any one 10-second rate-limit window.
    /// Counts authenticated requests as they arrive, refused and faulted ones
    /// included, so it shows how hard a client pushed.
    pub peak_window: u64,
    /// Authenticated requests by method and path, ids as `{id}`
    /// (`GET /conversations/{id}`), without the query.
    pub by_endpoint: BTreeMap<String, u64>,
}

/// Parses the `--fault` grammar's kind: `429`/`rate-limited`, `401`/`unauthorized`,
/// any other status number, `delay=200ms` (or `2s`), `hang`, `reset`, `truncated`,
/// `invalid-json`, `scroll-exists`, `scroll-server-error`, `repeat-cursor`.
impl FromStr for Fault {
    type Err = String;

    fn from_str(text: &str) -> Result<Fault, String> {
        let text = text.trim();
        if let Some(delay) = text.strip_prefix("delay=") {
            return parse_duration(delay).map(Fault::Delay);
        }
        Ok(match text {
            "429" | "rate-limited" => Fault::RateLimited,
            "401" | "unauthorized" => Fault::Unauthorized,
            "hang" => Fault::Hang,
            "reset" => Fault::Reset,
            "truncated" => Fault::Truncated,
            "invalid-json" => Fault::InvalidJson,
            "scroll-exists" => Fault::ScrollExists,
            "scroll-server-error" => Fault::ScrollServerError,
            "repeat-cursor" => Fault::RepeatCursor,
            _ => match text.parse::<u16>() {
                Ok(status @ 100..=599) => Fault::Status(status),
                _ => return Err(format!("unknown fault {text:?}")),
            },
        })
    }
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    let number = |digits: &str| {
        digits
            .parse::<u64>()
            .map_err(|_| format!("bad duration {text:?}: use e.g. 200ms or 2s"))
    };
    match text.strip_suffix("ms") {
        Some(ms) => number(ms).map(Duration::from_millis),
        None => match text.strip_suffix('s') {
            Some(secs) => number(secs).map(Duration::from_secs),
            None => Err(format!("bad duration {text:?}: use e.g. 200ms or 2s")),
        },
    }
}

/// Parses `KIND[@PATH_PREFIX][:after=N][:times=N|forever]`, e.g.
/// `500@/contacts/search:after=3:times=2`.
impl FromStr for FaultRule {
    type Err = String;

    fn from_str(spec: &str) -> Result<FaultRule, String> {
        let mut parts = spec.split(':');
        let head = parts.next().unwrap_or_default();
        let (kind, path) = match head.split_once('@') {
            Some((kind, path)) if path.starts_with('/') => (kind, Some(path)),
            Some((_, path)) => return Err(format!("path {path:?} must start with /")),
            None => (head, None),
        };
        let mut rule = FaultRule::new(kind.parse()?);
        rule.path = path.map(str::to_owned);
        for option in parts {
            let count = |value: &str| {
                value
                    .parse::<u64>()
                    .map_err(|_| format!("bad count in {option:?}"))
            };
            match option.split_once('=') {
                Some(("after", n)) => rule.after = count(n)?,
                Some(("times", "forever")) => rule.times = u64::MAX,
                Some(("times", n)) => rule.times = count(n)?,
                _ => return Err(format!("unknown option {option:?}: use after=N or times=N")),
            }
        }
        Ok(rule)
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fault::RateLimited => f.write_str("rate-limited"),
            Fault::Status(status) => write!(f, "{status}"),
            Fault::Delay(delay) => write!(f, "delay={}ms", delay.as_millis()),
            Fault::Hang => f.write_str("hang"),
            Fault::Reset => f.write_str("reset"),
            Fault::Truncated => f.write_str("truncated"),
            Fault::InvalidJson => f.write_str("invalid-json"),
            Fault::ScrollExists => f.write_str("scroll-exists"),
            Fault::ScrollServerError => f.write_str("scroll-server-error"),
            Fault::RepeatCursor => f.write_str("repeat-cursor"),
            Fault::Unauthorized => f.write_str("unauthorized"),
        }
    }
}

/// What a fault needs to know about a request to decide whether it applies.
pub(crate) struct Target<'a> {
    pub(crate) path: &'a str,
    /// A `/companies/scroll` request with a `scroll_param`.
    pub(crate) scroll_param: bool,
    /// A search request with `pagination.starting_after`.
    pub(crate) cursor: bool,
}

pub(crate) const SCROLL_PATH: &str = "/companies/scroll";

impl Fault {
    fn applies_to(&self, target: &Target<'_>) -> bool {
        let scroll = target.path == SCROLL_PATH;
        match self {
            Fault::ScrollExists => scroll && !target.scroll_param,
            Fault::ScrollServerError => scroll,
            Fault::RepeatCursor => target.cursor || (scroll && target.scroll_param),
            _ => true,
        }
    }
}

/// Marks a request whose handler must repeat the previous continuation.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RepeatCursor;

/// A rule and how far it has got.
struct Armed {
    rule: FaultRule,
    seen: u64,
    fired: u64,
    /// Authenticated requests drawn for after its first firing.
    requests_after_first: u64,
}

/// How often the faults fired, so a test can show each did as often as it
/// meant, not just that some fault did.
#[derive(Clone, Debug, Default)]
pub struct Firings {
    /// One per injected rule, in injection order.
    pub rules: Vec<RuleFirings>,
    /// Random faults by kind (as [`Fault`] displays it).
    pub random: BTreeMap<String, u64>,
}

#[derive(Clone, Debug)]
pub struct RuleFirings {
    pub rule: FaultRule,
    pub fired: u64,
    /// Authenticated requests, on any path, that arrived after the rule first
    /// fired: 0 shows a client stopped at that fault.
    pub requests_after_first: u64,
}

struct Random {
    rate: f64,
    kinds: Vec<Fault>,
    rng: ChaCha8Rng,
}

#[derive(Default)]
struct Plan {
    rules: Vec<Armed>,
    random: Option<Random>,
    random_fired: BTreeMap<String, u64>,
}

/// The injected rules and the random source, shared by the server and the handle.
pub(crate) struct Faults(Mutex<Plan>);

impl Faults {
    pub(crate) fn new(random: Option<&RandomFaults>) -> Faults {
        Faults(Mutex::new(Plan {
            rules: Vec::new(),
            random_fired: BTreeMap::new(),
            random: random.map(|random| Random {
                rate: random.rate,
                kinds: random.kinds.clone(),
                rng: ChaCha8Rng::seed_from_u64(random.seed),
            }),
        }))
    }

    fn plan(&self) -> std::sync::MutexGuard<'_, Plan> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn inject(&self, rule: FaultRule) {
        self.plan().rules.push(Armed {
            rule,
            seen: 0,
            fired: 0,
            requests_after_first: 0,
        });
    }

    pub(crate) fn firings(&self) -> Firings {
        let plan = self.plan();
        Firings {
            rules: plan
                .rules
                .iter()
                .map(|armed| RuleFirings {
                    rule: armed.rule.clone(),
                    fired: armed.fired,
                    requests_after_first: armed.requests_after_first,
                })
                .collect(),
            random: plan.random_fired.clone(),
        }
    }

    pub(crate) fn clear(&self) {
        *self.plan() = Plan::default();
    }

    /// Whether some fault may still need to know if a search carries a cursor,
    /// which costs buffering the request body.
    pub(crate) fn wants_cursors(&self) -> bool {
        let plan = self.plan();
        plan.rules
            .iter()
            .any(|armed| armed.rule.fault == Fault::RepeatCursor && armed.fired < armed.rule.times)
            || plan
                .random
                .as_ref()
                .is_some_and(|random| random.kinds.contains(&Fault::RepeatCursor))
    }

    /// The fault this request gets, if any. Every rule counts every request it
    /// matches, so `after` counts requests whatever earlier rules did to them;
    /// the first rule past its `after` with firings left fires. The random source
    /// draws for every request, so its sequence does not depend on the rules.
    pub(crate) fn draw(&self, target: &Target<'_>) -> Option<Fault> {
        let mut plan = self.plan();
        let mut chosen = None;
        for armed in &mut plan.rules {
            if armed.fired > 0 {
                armed.requests_after_first += 1;
            }
            let rule = &armed.rule;
            let on_path = rule
                .path
                .as_deref()
                .is_none_or(|prefix| target.path.starts_with(prefix));
            if !on_path || !rule.fault.applies_to(target) {
                continue;
            }
            if chosen.is_none() && armed.seen >= rule.after && armed.fired < rule.times {
                chosen = Some(rule.fault.clone());
                armed.fired += 1;
            }
            armed.seen = armed.seen.saturating_add(1);
        }
        let Some(random) = plan.random.as_mut() else {
            return chosen;
        };
        let roll: f64 = random.rng.random();
        let pick = random.rng.random::<u64>();
        if chosen.is_some() || roll >= random.rate || random.kinds.is_empty() {
            return chosen;
        }
        let kind = &random.kinds[(pick % random.kinds.len() as u64) as usize];
        if !kind.applies_to(target) {
            return None;
        }
        let kind = kind.clone();
        *plan.random_fired.entry(kind.to_string()).or_default() += 1;
        Some(kind)
    }
}

/// Counts requests for [`Stats`].
pub(crate) struct Recorder(Mutex<(Stats, Window)>);

/// The current 10-second window's start and count.
#[derive(Default)]
struct Window {
    start: u64,
    count: u64,
}

impl Recorder {
    pub(crate) fn new() -> Recorder {
        Recorder(Mutex::new((Stats::default(), Window::default())))
    }

    fn with<R>(&self, f: impl FnOnce(&mut Stats, &mut Window) -> R) -> R {
        let mut guard = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let (stats, window) = &mut *guard;
        f(stats, window)
    }

    pub(crate) fn snapshot(&self) -> Stats {
        self.with(|stats, _| stats.clone())
    }

    pub(crate) fn arrived(&self) {
        self.with(|stats, _| stats.requests += 1);
    }

    /// An authenticated request arriving in the window starting at `window_start`.
    pub(crate) fn authenticated(&self, window_start: u64, method: &str, path: &str) {
        let endpoint = endpoint(method, path);
        self.with(|stats, window| {
            stats.authenticated += 1;
            *stats.by_endpoint.entry(endpoint).or_default() += 1;
            if window.start != window_start {
                *window = Window {
                    start: window_start,
                    count: 0,
                };
            }
            window.count += 1;
            stats.peak_window = stats.peak_window.max(window.count);
        });
    }

    pub(crate) fn fault_fired(&self) {
        self.with(|stats, _| stats.faults_fired += 1);
    }

    pub(crate) fn answered(&self, status: u16) {
        self.with(|stats, _| {
            *stats.by_status.entry(status).or_default() += 1;
            if status == 429 {
                stats.rate_limited += 1;
            }
        });
    }
}

/// `method path` with each id segment (one holding a digit) as `{id}`.
fn endpoint(method: &str, path: &str) -> String {
    let segments: Vec<&str> = path
        .split('/')
        .map(
            |segment| match segment.bytes().any(|b| b.is_ascii_digit()) {
                true => "{id}",
                false => segment,
            },
        )
        .collect();
    format!("{method} {}", segments.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(path: &str) -> Target<'_> {
        Target {
            path,
            scroll_param: false,
            cursor: false,
        }
    }

    #[test]
    fn specs_parse_as_documented() {
        let rule: FaultRule = "500@/contacts/search:after=3:times=2".parse().unwrap();
        assert_eq!(
            (rule.fault, rule.path.as_deref(), rule.after, rule.times),
            (Fault::Status(500), Some("/contacts/search"), 3, 2)
        );
        let rule: FaultRule = "rate-limited:times=forever".parse().unwrap();
        assert_eq!(
            (rule.fault, rule.path, rule.times),
            (Fault::RateLimited, None, u64::MAX)
        );
        let rule: FaultRule = "delay=200ms@/conversations".parse().unwrap();
        assert_eq!(rule.fault, Fault::Delay(Duration::from_millis(200)));
        assert_eq!("delay=2s".parse(), Ok(Fault::Delay(Duration::from_secs(2))));
        for kind in [
            Fault::RateLimited,
            Fault::Status(503),
            Fault::Delay(Duration::from_millis(5)),
            Fault::Hang,
            Fault::Reset,
            Fault::Truncated,
            Fault::InvalidJson,
            Fault::ScrollExists,
            Fault::ScrollServerError,
            Fault::RepeatCursor,
            Fault::Unauthorized,
        ] {
            assert_eq!(kind.to_string().parse(), Ok(kind));
        }
        for bad in [
            "",
            "boom",
            "99",
            "700",
            "delay=5",
            "delay=xs",
            "500@contacts",
            "500:after=x",
            "500:every=2",
            "hang:times",
        ] {
            assert!(bad.parse::<FaultRule>().is_err(), "{bad}");
        }
    }

    #[test]
    fn rules_count_matching_requests_and_fire_in_order() {
        let faults = Faults::new(None);
        faults.inject(FaultRule::new(Fault::Status(500)).on("/a").times(1));
        // Counts the first `/a` although the first rule faulted it.
        faults.inject(FaultRule::new(Fault::Reset).on("/a").after(2).times(2));
        faults.inject(FaultRule::new(Fault::ScrollExists));
        let drawn: Vec<Option<Fault>> = ["/a", "/b", "/a", "/a", "/a", "/a"]
            .into_iter()
            .map(|path| faults.draw(&target(path)))
            .collect();
        assert_eq!(
            drawn,
            [
                Some(Fault::Status(500)),
                None,
                None,
                Some(Fault::Reset),
                Some(Fault::Reset),
                None
            ]
        );
        assert_eq!(faults.draw(&target(SCROLL_PATH)), Some(Fault::ScrollExists));
        let counted: Vec<(u64, u64)> = faults
            .firings()
            .rules
            .iter()
            .map(|r| (r.fired, r.requests_after_first))
            .collect();
        assert_eq!(counted, [(1, 6), (2, 3), (1, 0)]);
        faults.clear();
        faults.inject(FaultRule::new(Fault::RepeatCursor).times(u64::MAX));
        assert!(faults.wants_cursors());
        assert_eq!(faults.draw(&target("/contacts/search")), None);
        let with_cursor = Target {
            cursor: true,
            ..target("/contacts/search")
        };
        assert_eq!(faults.draw(&with_cursor), Some(Fault::RepeatCursor));
    }

    #[test]
    fn random_faults_follow_the_seed_and_the_rate() {
        let draws = |seed, rate| {
            let faults = Faults::new(Some(&RandomFaults::new(seed, rate)));
            (0..400)
                .map(|_| faults.draw(&target("/admins")))
                .collect::<Vec<_>>()
        };
        let faults = Faults::new(Some(&RandomFaults::new(3, 0.5)));
        let drawn: Vec<Fault> = (0..200)
            .filter_map(|_| faults.draw(&target("/admins")))
            .collect();
        let by_kind = faults.firings().random;
        assert_eq!(by_kind.values().sum::<u64>(), drawn.len() as u64);
        assert_eq!(
            by_kind["reset"],
            drawn.iter().filter(|f| **f == Fault::Reset).count() as u64
        );
        let a = draws(1, 0.25);
        assert_eq!(a, draws(1, 0.25));
        assert_ne!(a, draws(2, 0.25));
        let fired = a.iter().flatten().count();
        assert!((60..140).contains(&fired), "{fired}");
        assert!(draws(1, 0.0).iter().all(Option::is_none));
        assert!(draws(1, 1.0).iter().all(Option::is_some));
    }
}

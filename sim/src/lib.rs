//! A simulator of Intercom's REST API (version 2.16) served over loopback HTTP.
//!
//! Integration tests, benchmarks and demos run the connector against it instead of
//! the real API: the data is generated deterministically from a seed, and the
//! simulator enforces the same authentication, version and rate-limit rules.

#![recursion_limit = "256"]

mod dataset;
mod envelope;
mod escape;
mod faults;
mod gate;
mod names;
mod paging;
mod realism;
mod resources;
mod search;
mod server;
mod times;
mod wire;

use std::fmt;
use std::io;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::sync::{Arc, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::sync::oneshot;

pub use dataset::Dataset;
pub use faults::{Fault, FaultRule, Firings, RandomFaults, RuleFirings, Stats};
/// 2026-06-01T00:00:00Z: generated timestamps fall in the two years before it.
pub use times::EPOCH as DATA_EPOCH;

/// How to generate the simulated workspace and how to serve it.
#[derive(Clone)]
pub struct SimConfig {
    /// Seed of every generated record: the same seed always yields the same data.
    pub seed: u64,
    /// The only access token the simulator accepts.
    pub token: String,
    pub admins: usize,
    pub teams: usize,
    pub tags: usize,
    pub contacts: usize,
    pub companies: usize,
    pub conversations: usize,
    /// Tickets, each with a few parts.
    pub tickets: usize,
    /// Help-center articles.
    pub articles: usize,
    /// Admin activity log entries.
    pub activity_logs: usize,
    /// People and company segments together; every third is a company segment.
    pub segments: usize,
    /// Ordinary conversations get 1 to this many parts.
    pub max_parts_per_conversation: usize,
    /// The first this many conversations get 520 to 600 parts, past the 500 that
    /// `GET /conversations/{id}` shows.
    pub huge_conversations: usize,
    /// A companies scroll unused this long expires and frees the app's slot.
    pub scroll_expiry: Duration,
    /// The app's IANA timezone, shown in `/me` and used by contact search's
    /// calendar-day date matching.
    pub timezone: String,
    /// Port on 127.0.0.1; 0 lets the OS pick a free one.
    pub port: u16,
    /// `Some(n)` allows `n / 6` requests per 10-second window, as Intercom splits
    /// its per-minute allowance (default: Intercom's 10,000 a minute). `None` never
    /// answers 429 and advertises an allowance no client reaches.
    pub rate_limit_per_minute: Option<u32>,
    /// How long an update takes to reach the search index: searches see the
    /// workspace as it was this long ago, while `GET` by id sees it at once.
    pub index_lag: Duration,
    /// The server's clock runs this many seconds ahead of the real one (negative:
    /// behind); it stamps `Date`, `X-RateLimit-Reset` and the rate-limit windows.
    pub clock_skew_secs: i64,
    /// Searches ignore the body's `sort` and always list newest created first,
    /// as an API that documents no `sort` may.
    pub ignore_search_sort: bool,
    /// What a `scroll_param` gets once its scroll ended or expired.
    pub scroll_end: ScrollEnd,
    /// A scroll 500 breaks the scroll but keeps the app's scroll slot busy until
    /// it expires, so a new scroll gets `scroll_exists` meanwhile.
    pub scroll_error_keeps_slot: bool,
    /// Behaviour friendlier than Intercom's, each off by default.
    pub lenient: Lenient,
    /// Faults drawn at random for authenticated requests, on top of injected rules.
    pub random_faults: Option<RandomFaults>,
    /// Delays every authenticated answer by this much, as a distant API would.
    pub latency: Option<Duration>,
    /// The OAuth app's client id: `GET /oauth` knows only this client.
    pub oauth_client_id: String,
    /// The OAuth app's client secret, checked by `POST /auth/eagle/token`.
    pub oauth_client_secret: String,
    /// Endpoints the token may not read: requests whose path starts with a
    /// restriction's prefix are refused as it says.
    pub restricted: Vec<Restriction>,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            seed: 42,
            token: "sim-token".to_owned(),
            admins: 25,
            teams: 6,
            tags: 40,
            contacts: 2000,
            companies: 500,
            conversations: 1000,
            tickets: 300,
            articles: 80,
            activity_logs: 250,
            segments: 12,
            max_parts_per_conversation: 12,
            huge_conversations: 1,
            scroll_expiry: Duration::from_secs(60),
            timezone: "America/Los_Angeles".to_owned(),
            port: 0,
            rate_limit_per_minute: Some(INTERCOM_RATE_LIMIT_PER_MINUTE),
            index_lag: Duration::from_secs(5),
            clock_skew_secs: 0,
            ignore_search_sort: false,
            scroll_end: ScrollEnd::BadRequest,
            scroll_error_keeps_slot: false,
            lenient: Lenient::default(),
            random_faults: None,
            latency: None,
            oauth_client_id: "sim-client".to_owned(),
            oauth_client_secret: "sim-secret".to_owned(),
            restricted: Vec::new(),
        }
    }
}

/// Intercom's allowance per app.
pub const INTERCOM_RATE_LIMIT_PER_MINUTE: u32 = 10_000;

/// The answer to a `scroll_param` whose scroll is over: Intercom documents only
/// that such calls fail; incumbents' code handles both of these.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScrollEnd {
    /// 400 `parameter_invalid`.
    BadRequest,
    /// 404 `not_found`.
    NotFound,
}

/// An endpoint the token may not read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Restriction {
    /// Applies to request paths starting with this.
    pub path_prefix: String,
    pub refusal: Refusal,
}

/// How Intercom refuses a token an endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// 403 `api_plan_restricted`: the workspace's plan lacks the feature.
    Plan,
    /// 401 `token_unauthorized`: the app lacks the permission (Intercom's
    /// answer to a missing scope, unlike `unauthorized` for a bad token).
    Permission,
}

impl std::str::FromStr for Restriction {
    type Err = String;

    /// `PREFIX=plan` or `PREFIX=permission`.
    fn from_str(text: &str) -> Result<Self, String> {
        let (prefix, refusal) = text
            .split_once('=')
            .ok_or_else(|| format!("`{text}`: expected PATH_PREFIX=plan|permission"))?;
        let refusal = match refusal {
            "plan" => Refusal::Plan,
            "permission" => Refusal::Permission,
            other => return Err(format!("`{other}`: expected plan or permission")),
        };
        if !prefix.starts_with('/') {
            return Err(format!("`{prefix}`: a path prefix starts with /"));
        }
        Ok(Restriction {
            path_prefix: prefix.to_owned(),
            refusal,
        })
    }
}

/// Ways the simulator can be kinder than Intercom, for tests that show what
/// a client does with and without them. Every one is off by default.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Lenient {
    /// `/contacts/{id}/notes` and `/companies` become page-numbered lists that
    /// honour the undeclared `page` and `per_page` parameters.
    pub numbered_sublists: bool,
    /// Conversation part ids are strings, as the spec types them, rather than
    /// the integers its examples (and Intercom) send.
    pub string_part_ids: bool,
    /// ASCII-only data with few nulls, no unknown fields, no 0 timestamps and no
    /// sub-list longer than a page, written without `\uXXXX` escapes.
    pub plain_data: bool,
    /// A scroll page whose answer is lost (reset, hang, 5xx, a body that is not
    /// JSON) is not consumed, so sending the same `scroll_param` again gets it.
    pub scroll_replays_lost_pages: bool,
}

/// Redacts the token and client secret so that configs can be logged safely.
impl fmt::Debug for SimConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimConfig")
            .field("seed", &self.seed)
            .field("token", &"<redacted>")
            .field("admins", &self.admins)
            .field("teams", &self.teams)
            .field("tags", &self.tags)
            .field("contacts", &self.contacts)
            .field("companies", &self.companies)
            .field("conversations", &self.conversations)
            .field("tickets", &self.tickets)
            .field("articles", &self.articles)
            .field("activity_logs", &self.activity_logs)
            .field("segments", &self.segments)
            .field(
                "max_parts_per_conversation",
                &self.max_parts_per_conversation,
            )
            .field("huge_conversations", &self.huge_conversations)
            .field("scroll_expiry", &self.scroll_expiry)
            .field("timezone", &self.timezone)
            .field("port", &self.port)
            .field("rate_limit_per_minute", &self.rate_limit_per_minute)
            .field("index_lag", &self.index_lag)
            .field("clock_skew_secs", &self.clock_skew_secs)
            .field("ignore_search_sort", &self.ignore_search_sort)
            .field("scroll_end", &self.scroll_end)
            .field("scroll_error_keeps_slot", &self.scroll_error_keeps_slot)
            .field("lenient", &self.lenient)
            .field("random_faults", &self.random_faults)
            .field("latency", &self.latency)
            .field("oauth_client_id", &self.oauth_client_id)
            .field("oauth_client_secret", &"<redacted>")
            .field("restricted", &self.restricted)
            .finish()
    }
}

/// A running simulator. It owns a tokio runtime on a background thread, so it can
/// be used from plain synchronous tests; dropping it stops the server.
pub struct Simulator {
    addr: SocketAddr,
    shared: Arc<server::Shared>,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Simulator {
    /// Generates the dataset and starts serving it. Returns once the port is bound,
    /// so requests can be sent immediately.
    pub fn start(config: SimConfig) -> io::Result<Simulator> {
        if config.admins == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "admins must be at least 1: the access token belongs to the first admin",
            ));
        }
        let timezone: chrono_tz::Tz = config.timezone.parse().map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("unknown timezone {:?}", config.timezone),
            )
        })?;
        if let Some(random) = &config.random_faults
            && !(0.0..=1.0).contains(&random.rate)
        {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("random fault rate {} is not a probability", random.rate),
            ));
        }
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, config.port))?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;

        let shared = Arc::new(server::Shared::new(
            Dataset::generate(&config),
            config.random_faults.as_ref(),
            config.index_lag,
        ));
        let state = server::AppState::new(&config, timezone, Arc::clone(&shared));
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("intercom-sim-worker")
            .enable_all()
            .build()?;
        let (shutdown, stop) = oneshot::channel();
        let thread = std::thread::Builder::new()
            .name("intercom-sim".to_owned())
            .spawn(move || {
                if let Err(err) = runtime.block_on(server::serve(listener, state, stop)) {
                    eprintln!("intercom-sim: server stopped: {err}");
                }
            })?;

        Ok(Simulator {
            addr,
            shared,
            shutdown: Some(shutdown),
            thread: Some(thread),
        })
    }

    /// The root URL to use in place of `https://api.intercom.io`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A copy of the data as served right now, to compare a connector's output to.
    pub fn dataset(&self) -> Dataset {
        self.shared
            .data
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Renders the JSON text of every searchable record now rather than on
    /// first use, so a benchmark measures its client, not the simulator's
    /// first serialization. The texts last until the next mutation.
    pub fn prerender(&self) {
        self.shared
            .data
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .prerender();
    }

    /// Changes the served data while the server runs; the id indexes are rebuilt
    /// afterwards, so records may be edited, added or removed freely.
    pub fn mutate<R>(&self, f: impl FnOnce(&mut Dataset) -> R) -> R {
        self.shared.mutate(f)
    }

    /// UNIX seconds by the real clock: what tests should stamp on mutations, so
    /// they sort after every generated record (all before [`DATA_EPOCH`]).
    pub fn now(&self) -> i64 {
        times::unix_now()
    }

    /// Runs `f` once, as soon as `n` authenticated requests (any status) have been
    /// answered: request `n` still sees the old data, request `n + 1` the new.
    /// Runs at once if `n` requests were already served.
    pub fn mutate_after_requests(&self, n: u64, f: impl FnOnce(&mut Dataset) + Send + 'static) {
        self.shared.after_requests(n, Box::new(f));
    }

    /// Adds a fault rule; rules are checked in injection order and only
    /// authenticated requests are faulted. Faulted requests take nothing from
    /// the rate limit; a hung one never counts for [`Self::mutate_after_requests`].
    pub fn inject(&self, rule: FaultRule) {
        self.shared.faults.inject(rule);
    }

    /// Removes every injected rule and stops random faults.
    pub fn clear_faults(&self) {
        self.shared.faults.clear();
    }

    /// How often each injected rule and each kind of random fault fired
    /// since the last [`Self::clear_faults`].
    pub fn fault_firings(&self) -> Firings {
        self.shared.faults.firings()
    }

    /// What has been served so far.
    pub fn stats(&self) -> Stats {
        self.shared.stats.snapshot()
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            // The server may already have stopped; nothing is left to notify then.
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            // A panic in the server thread was already reported on stderr.
            let _ = thread.join();
        }
    }
}

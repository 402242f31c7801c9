//! Shared state, router assembly and the serve loop.

use std::collections::VecDeque;
use std::io;
use std::ops::Deref;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock, RwLockReadGuard};
use std::time::{Duration, Instant};

use axum::Router;
use axum::http::{Method, Uri};
use tokio::sync::oneshot;

use crate::dataset::Dataset;
use crate::envelope::ApiError;
use crate::faults::{Faults, RandomFaults, Recorder};
use crate::gate::{self, RateLimiter};
use crate::{SimConfig, resources, wire};

/// A mutation waiting for the simulator to have served a number of requests.
type Hook = Box<dyn FnOnce(&mut Dataset) + Send>;

/// Data shared by the server and the [`crate::Simulator`] handle: the dataset,
/// the count of authenticated requests and the mutations waiting on it, the
/// fault plan and the statistics.
pub(crate) struct Shared {
    pub(crate) data: RwLock<Dataset>,
    /// What searches see while the index lags behind `data`.
    indexed: Option<Mutex<Indexed>>,
    index_lag: Duration,
    requests: AtomicU64,
    hooks: Mutex<Vec<(u64, Hook)>>,
    pub(crate) faults: Faults,
    pub(crate) stats: Recorder,
}

/// The search index: the version searches see, and newer versions with when
/// they were written, oldest first.
struct Indexed {
    visible: Arc<Dataset>,
    pending: VecDeque<(Instant, Arc<Dataset>)>,
}

/// The dataset as one handler reads it: live, or as the lagging index holds it.
pub(crate) enum View<'a> {
    Live(RwLockReadGuard<'a, Dataset>),
    Indexed(Arc<Dataset>),
}

impl Deref for View<'_> {
    type Target = Dataset;

    fn deref(&self) -> &Dataset {
        match self {
            View::Live(data) => data,
            View::Indexed(data) => data,
        }
    }
}

impl Shared {
    pub(crate) fn new(
        data: Dataset,
        random_faults: Option<&RandomFaults>,
        index_lag: Duration,
    ) -> Shared {
        let indexed = (!index_lag.is_zero()).then(|| {
            Mutex::new(Indexed {
                visible: Arc::new(data.clone()),
                pending: VecDeque::new(),
            })
        });
        Shared {
            indexed,
            index_lag,
            data: RwLock::new(data),
            requests: AtomicU64::new(0),
            hooks: Mutex::new(Vec::new()),
            faults: Faults::new(random_faults),
            stats: Recorder::new(),
        }
    }

    /// Applies `f` under the write lock, then rebuilds the id indexes.
    pub(crate) fn mutate<R>(&self, f: impl FnOnce(&mut Dataset) -> R) -> R {
        let mut data = self.data.write().unwrap_or_else(PoisonError::into_inner);
        data.forget_searches();
        let result = f(&mut data);
        data.reindex();
        if let Some(indexed) = &self.indexed {
            let version = Arc::new(data.clone());
            let mut indexed = indexed.lock().unwrap_or_else(PoisonError::into_inner);
            indexed.pending.push_back((Instant::now(), version));
        }
        result
    }

    /// The dataset as the search index holds it: every version written at least
    /// the index lag ago.
    pub(crate) fn searchable(&self) -> View<'_> {
        let Some(indexed) = &self.indexed else {
            return View::Live(self.data.read().unwrap_or_else(PoisonError::into_inner));
        };
        let mut indexed = indexed.lock().unwrap_or_else(PoisonError::into_inner);
        while let Some((written, _)) = indexed.pending.front()
            && written.elapsed() >= self.index_lag
        {
            if let Some((_, version)) = indexed.pending.pop_front() {
                indexed.visible = version;
            }
        }
        View::Indexed(Arc::clone(&indexed.visible))
    }

    /// Runs `f` once `n` authenticated requests have been served (at once if they
    /// already have).
    pub(crate) fn after_requests(&self, n: u64, f: Hook) {
        let mut hooks = self.hooks.lock().unwrap_or_else(PoisonError::into_inner);
        if self.requests.load(Ordering::SeqCst) >= n {
            drop(hooks);
            self.mutate(f);
        } else {
            hooks.push((n, f));
        }
    }

    /// Counts one authenticated request as served and runs the hooks now due.
    pub(crate) fn served_one(&self) {
        let mut hooks = self.hooks.lock().unwrap_or_else(PoisonError::into_inner);
        let served = self.requests.fetch_add(1, Ordering::SeqCst) + 1;
        if hooks.is_empty() {
            return;
        }
        let (due, waiting): (Vec<_>, Vec<_>) = hooks.drain(..).partition(|(n, _)| *n <= served);
        *hooks = waiting;
        drop(hooks);
        for (_, hook) in due {
            self.mutate(hook);
        }
    }
}

/// What every handler can reach. Cheap to clone: everything is behind `Arc`.
#[derive(Clone)]
pub(crate) struct AppState {
    pub(crate) shared: Arc<Shared>,
    pub(crate) token: Arc<str>,
    pub(crate) limiter: Arc<RateLimiter>,
    /// The app's timezone: contact search matches dates by calendar day in it.
    pub(crate) timezone: chrono_tz::Tz,
    pub(crate) scroll: Arc<Mutex<Option<crate::resources::companies::Scroll>>>,
    pub(crate) scroll_expiry: Duration,
    /// Added to every authenticated answer.
    pub(crate) latency: Option<Duration>,
    /// The OAuth app, and the tokens its code exchanges issued.
    pub(crate) oauth: Arc<crate::resources::oauth::OAuth>,
    pub(crate) clock_skew_secs: i64,
    pub(crate) ignore_search_sort: bool,
    pub(crate) scroll_end: crate::ScrollEnd,
    pub(crate) scroll_error_keeps_slot: bool,
    pub(crate) lenient: crate::Lenient,
    pub(crate) restricted: Arc<[crate::Restriction]>,
}

impl AppState {
    pub(crate) fn new(
        config: &SimConfig,
        timezone: chrono_tz::Tz,
        shared: Arc<Shared>,
    ) -> AppState {
        AppState {
            shared,
            token: Arc::from(config.token.as_str()),
            limiter: Arc::new(RateLimiter::new(config.rate_limit_per_minute)),
            timezone,
            scroll: Arc::new(Mutex::new(None)),
            scroll_expiry: config.scroll_expiry,
            latency: config.latency,
            oauth: Arc::new(crate::resources::oauth::OAuth::new(config)),
            clock_skew_secs: config.clock_skew_secs,
            ignore_search_sort: config.ignore_search_sort,
            scroll_end: config.scroll_end,
            scroll_error_keeps_slot: config.scroll_error_keeps_slot,
            lenient: config.lenient,
            restricted: config.restricted.clone().into(),
        }
    }

    /// The refusal of `path` to this token, if it may not read it.
    pub(crate) fn refusal(&self, path: &str) -> Option<ApiError> {
        let restriction = self
            .restricted
            .iter()
            .find(|r| path.starts_with(&r.path_prefix))?;
        Some(match restriction.refusal {
            crate::Refusal::Plan => ApiError::new(
                axum::http::StatusCode::FORBIDDEN,
                "api_plan_restricted",
                "Active subscription needed.",
            ),
            crate::Refusal::Permission => ApiError::new(
                axum::http::StatusCode::UNAUTHORIZED,
                "token_unauthorized",
                "Not authorized to access resource",
            ),
        })
    }

    /// UNIX seconds by the server's own, possibly skewed, clock.
    pub(crate) fn server_now(&self) -> u64 {
        u64::try_from(crate::times::unix_now().saturating_add(self.clock_skew_secs)).unwrap_or(0)
    }

    /// Handlers only clone out of the guard, so a poisoned lock still holds
    /// consistent data and is read through rather than turned into a panic.
    pub(crate) fn data(&self) -> RwLockReadGuard<'_, Dataset> {
        self.shared
            .data
            .read()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

pub(crate) fn router(state: AppState) -> Router {
    resources::routes()
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            gate::gate,
        ))
        // After the gate's layer, so OAuth requests, which carry no token, skip it.
        .merge(resources::oauth::routes())
        .with_state(state)
}

pub(crate) async fn serve(
    listener: std::net::TcpListener,
    state: AppState,
    stop: oneshot::Receiver<()>,
) -> io::Result<()> {
    let listener = wire::Listener(tokio::net::TcpListener::from_std(listener)?);
    let app = router(state).into_make_service_with_connect_info::<wire::Cutter>();
    // Open connections are dropped with the runtime rather than drained: a test
    // client's idle keep-alive connection (or a hung request) must not delay
    // shutdown.
    tokio::select! {
        served = axum::serve(listener, app) => served,
        _ = stop => Ok(()),
    }
}

async fn not_found(uri: Uri) -> ApiError {
    ApiError::not_found(format!("Resource Not Found: {}", uri.path()))
}

async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError::not_found(format!(
        "Resource Not Found: no {method} route for {}",
        uri.path()
    ))
}

//! Shared state, router assembly and the serve loop.

use std::io;
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard};

use axum::Router;
use axum::http::{Method, Uri};
use tokio::sync::oneshot;

use crate::dataset::Dataset;
use crate::envelope::ApiError;
use crate::gate::{self, RateLimiter};
use crate::{SimConfig, resources};

/// What every handler can reach. Cheap to clone: everything is behind `Arc`.
#[derive(Clone)]
pub(crate) struct AppState {
    data: Arc<RwLock<Dataset>>,
    pub(crate) token: Arc<str>,
    pub(crate) limiter: Arc<RateLimiter>,
}

impl AppState {
    pub(crate) fn new(config: &SimConfig, data: Arc<RwLock<Dataset>>) -> AppState {
        AppState {
            data,
            token: Arc::from(config.token.as_str()),
            limiter: Arc::new(RateLimiter::new(config.rate_limit_per_minute)),
        }
    }

    /// Handlers only clone out of the guard, so a poisoned lock still holds
    /// consistent data and is read through rather than turned into a panic.
    pub(crate) fn data(&self) -> RwLockReadGuard<'_, Dataset> {
        self.data.read().unwrap_or_else(PoisonError::into_inner)
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
        .with_state(state)
}

pub(crate) async fn serve(
    listener: std::net::TcpListener,
    state: AppState,
    stop: oneshot::Receiver<()>,
) -> io::Result<()> {
    let listener = tokio::net::TcpListener::from_std(listener)?;
    // Open connections are dropped with the runtime rather than drained: a test
    // client's idle keep-alive connection must not delay shutdown.
    tokio::select! {
        served = axum::serve(listener, router(state)) => served,
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

//! Checks every request passes before reaching a resource: the access token, the
//! rate limit and the `Intercom-Version` header, in the order Intercom applies them.

use std::sync::{Mutex, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::{Request, State};
use axum::http::header::AUTHORIZATION;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::envelope::ApiError;
use crate::server::AppState;

/// The `intercom_version` enum of the 2.16 spec.
const VERSIONS: [&str; 22] = [
    "1.0", "1.1", "1.2", "1.3", "1.4", "2.0", "2.1", "2.2", "2.3", "2.4", "2.5", "2.6", "2.7",
    "2.8", "2.9", "2.10", "2.11", "2.12", "2.13", "2.14", "2.15", "2.16",
];

const WINDOW_SECS: u64 = 10;

/// Advertised per window when no limit is configured: large enough that no test
/// or benchmark reaches it, so clients that pace on the headers never wait.
const UNLIMITED_PER_WINDOW: u32 = 1_000_000;

pub(crate) async fn gate(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if !authorized(request.headers(), &state.token) {
        return ApiError::unauthorized().into_response();
    }
    let admission = state.limiter.admit(unix_now());
    let mut response = if !admission.allowed {
        ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limit_exceeded",
            format!(
                "Exceeded rate limit of {} in {WINDOW_SECS}_seconds",
                admission.limit
            ),
        )
        .into_response()
    } else if let Err(err) = check_version(request.headers()) {
        err.into_response()
    } else {
        next.run(request).await
    };
    // Counted once answered, so a hook due after `n` requests changes the data
    // only after the `n`th answer was computed.
    state.shared.served_one();
    let headers = response.headers_mut();
    headers.insert("x-ratelimit-limit", HeaderValue::from(admission.limit));
    headers.insert(
        "x-ratelimit-remaining",
        HeaderValue::from(admission.remaining),
    );
    headers.insert("x-ratelimit-reset", HeaderValue::from(admission.reset));
    response
}

fn authorized(headers: &HeaderMap, token: &str) -> bool {
    headers
        .get(AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().split_once(' '))
        .is_some_and(|(scheme, given)| {
            scheme.eq_ignore_ascii_case("bearer") && given.trim() == token
        })
}

/// Absent means the app's default version (2.16); anything outside the spec's enum
/// is refused the way Intercom refuses versions it does not know.
fn check_version(headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(value) = headers.get("intercom-version") else {
        return Ok(());
    };
    match value.to_str() {
        Ok(version) if VERSIONS.contains(&version.trim()) => Ok(()),
        Ok(version) => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "intercom_version_invalid",
            format!(
                "The requested version could not be found: {:.20}",
                version.trim()
            ),
        )),
        Err(_) => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "intercom_version_invalid",
            "The requested version could not be found",
        )),
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

/// Counts requests in fixed 10-second windows aligned on UNIX time, as Intercom
/// splits a per-minute allowance into six windows.
pub(crate) struct RateLimiter {
    per_window: Option<u32>,
    /// Start of the current window and the requests admitted in it.
    window: Mutex<(u64, u32)>,
}

#[derive(Debug, PartialEq)]
pub(crate) struct Admission {
    allowed: bool,
    limit: u32,
    remaining: u32,
    /// UNIX seconds when the next window opens.
    reset: u64,
}

impl RateLimiter {
    pub(crate) fn new(per_minute: Option<u32>) -> Self {
        RateLimiter {
            per_window: per_minute.map(|n| (n / 6).max(1)),
            window: Mutex::new((0, 0)),
        }
    }

    fn admit(&self, now: u64) -> Admission {
        let start = now - now % WINDOW_SECS;
        let limit = self.per_window.unwrap_or(UNLIMITED_PER_WINDOW);
        let mut window = self.window.lock().unwrap_or_else(PoisonError::into_inner);
        if window.0 != start {
            *window = (start, 0);
        }
        let allowed = self.per_window.is_none_or(|limit| window.1 < limit);
        if allowed {
            window.1 = window.1.saturating_add(1);
        }
        Admission {
            allowed,
            limit,
            remaining: limit.saturating_sub(window.1),
            reset: start + WINDOW_SECS,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limiter_splits_the_minute_into_windows_and_resets() {
        let limiter = RateLimiter::new(Some(12));
        let first = limiter.admit(1_000_003);
        assert_eq!(
            first,
            Admission {
                allowed: true,
                limit: 2,
                remaining: 1,
                reset: 1_000_010
            }
        );
        assert!(limiter.admit(1_000_009).allowed);
        let refused = limiter.admit(1_000_009);
        assert!(!refused.allowed);
        assert_eq!(refused.remaining, 0);
        let next = limiter.admit(1_000_010);
        assert!(next.allowed);
        assert_eq!((next.remaining, next.reset), (1, 1_000_020));
    }

    #[test]
    fn unlimited_never_refuses() {
        let limiter = RateLimiter::new(None);
        for _ in 0..10_000 {
            assert!(limiter.admit(5).allowed);
        }
        assert_eq!(limiter.admit(5).remaining, UNLIMITED_PER_WINDOW - 10_001);
    }

    #[test]
    fn bearer_scheme_is_case_insensitive_and_token_exact() {
        let mut headers = HeaderMap::new();
        assert!(!authorized(&headers, "t"));
        headers.insert(AUTHORIZATION, HeaderValue::from_static("bearer t"));
        assert!(authorized(&headers, "t"));
        headers.insert(AUTHORIZATION, HeaderValue::from_static("Bearer tt"));
        assert!(!authorized(&headers, "t"));
        headers.insert(AUTHORIZATION, HeaderValue::from_static("Basic t"));
        assert!(!authorized(&headers, "t"));
        headers.insert(
            AUTHORIZATION,
            HeaderValue::from_bytes(b"Bearer \xff").unwrap(),
        );
        assert!(!authorized(&headers, "t"));
    }
}

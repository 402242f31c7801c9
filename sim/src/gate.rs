//! Checks every request passes before reaching a resource: the access token, the
//! rate limit and the `Intercom-Version` header, in the order Intercom applies them;
//! then injected faults, configured latency and the statistics.

use std::sync::{Mutex, PoisonError};

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::header::{AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, DATE};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use crate::envelope::ApiError;
use crate::faults::{Fault, RepeatCursor, SCROLL_PATH, Target};
use crate::resources::companies;
use crate::server::AppState;
use crate::wire::{Cutter, Truncated};

/// The `intercom_version` enum of the 2.16 spec.
const VERSIONS: [&str; 22] = [
    "1.0", "1.1", "1.2", "1.3", "1.4", "2.0", "2.1", "2.2", "2.3", "2.4", "2.5", "2.6", "2.7",
    "2.8", "2.9", "2.10", "2.11", "2.12", "2.13", "2.14", "2.15", "2.16",
];

const WINDOW_SECS: u64 = 10;

/// Advertised per window when no limit is configured (a friendliness): large
/// enough that no test or benchmark reaches it.
const UNLIMITED_PER_WINDOW: u32 = 1_000_000;

/// The endpoints whose `pages.next.starting_after` [`Fault::RepeatCursor`] repeats.
const SEARCH_PATHS: [&str; 2] = ["/contacts/search", "/conversations/search"];
/// The list whose query's `starting_after` [`Fault::RepeatCursor`] repeats.
const CONTACT_LIST_PATH: &str = "/contacts";

/// axum's default body limit, which the search handlers' extractor applies too.
const BODY_LIMIT: usize = 2 * 1024 * 1024;

/// What [`Fault::InvalidJson`] serves: a proxy's page under a JSON content type.
const NOT_JSON: &str = "<html><body><h1>Service Temporarily Unavailable</h1></body></html>";

pub(crate) async fn gate(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let stats = &state.shared.stats;
    stats.arrived();
    if !authorized(request.headers(), |given| {
        given == &*state.token || state.oauth.issued(given)
    }) {
        stats.answered(StatusCode::UNAUTHORIZED.as_u16());
        let mut response = ApiError::unauthorized().into_response();
        stamp_date(&state, &mut response);
        return response;
    }
    stats.authenticated(
        window_start(state.server_now()),
        request.method().as_str(),
        request.uri().path(),
    );
    if let Some(latency) = state.latency {
        tokio::time::sleep(latency).await;
    }
    let (request, fault) = match draw_fault(&state, request).await {
        Ok(drawn) => drawn,
        Err(refused) => return finish(&state, refused, Headers::Peek),
    };
    let Some(fault) = fault else {
        let admission = state.limiter.admit(state.server_now());
        let response = if let (true, Some(refusal)) =
            (admission.allowed, state.refusal(request.uri().path()))
        {
            refusal.into_response()
        } else if admission.allowed {
            checked(&state, request, next).await
        } else {
            rate_limited(admission.limit)
        };
        return finish(&state, response, Headers::Admitted(admission));
    };
    stats.fault_fired();
    // On Intercom a scroll page whose answer is lost was served all the same:
    // the scroll moved on.
    let lost_page_served = request.uri().path() == SCROLL_PATH
        && !state.lenient.scroll_replays_lost_pages
        && matches!(
            fault,
            Fault::Status(_) | Fault::Hang | Fault::Reset | Fault::InvalidJson
        );
    // Faulted requests are answered without taking from the window's allowance.
    let response = match fault {
        Fault::RateLimited => {
            let peek = state.limiter.peek(state.server_now());
            let response = rate_limited(peek.limit);
            return finish(
                &state,
                response,
                Headers::Admitted(Admission {
                    remaining: 0,
                    ..peek
                }),
            );
        }
        Fault::Status(status) => {
            if lost_page_served {
                drop(checked(&state, request, next).await);
            }
            status_error(status).into_response()
        }
        Fault::Delay(delay) => {
            tokio::time::sleep(delay).await;
            checked(&state, request, next).await
        }
        // Dropped with the connection when the client gives up, or with the
        // runtime when the simulator stops.
        Fault::Hang => {
            if lost_page_served {
                drop(checked(&state, request, next).await);
            }
            return std::future::pending().await;
        }
        Fault::Reset => {
            // The answer below never reaches the client: the cut connection fails
            // to write it and resets. The cutter is always installed by `serve`.
            let cutter = request
                .extensions()
                .get::<ConnectInfo<Cutter>>()
                .map(|ConnectInfo(cutter)| cutter.clone());
            if lost_page_served {
                drop(checked(&state, request, next).await);
            }
            if let Some(cutter) = cutter {
                cutter.cut();
            }
            state.shared.served_one();
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
        Fault::Truncated => truncate(checked(&state, request, next).await).await,
        Fault::InvalidJson => {
            if lost_page_served {
                drop(checked(&state, request, next).await);
            }
            (
                StatusCode::OK,
                [(CONTENT_TYPE, "application/json; charset=utf-8")],
                NOT_JSON,
            )
                .into_response()
        }
        Fault::ScrollExists => companies::scroll_exists().into_response(),
        Fault::ScrollServerError => {
            companies::break_scroll(&state);
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                "Request failed due to an internal network error. Please restart the scroll operation.",
            )
            .into_response()
        }
        Fault::RepeatCursor => {
            let mut request = request;
            request.extensions_mut().insert(RepeatCursor);
            checked(&state, request, next).await
        }
        // A revoked token is no longer authenticated: no rate-limit headers.
        Fault::Unauthorized => {
            return finish(
                &state,
                ApiError::unauthorized().into_response(),
                Headers::None,
            );
        }
    };
    finish(&state, response, Headers::Peek)
}

/// Which rate-limit headers an authenticated answer carries.
enum Headers {
    /// The admission that let the request through (or refused it).
    Admitted(Admission),
    /// The window as it stands, for answers that took nothing from it.
    Peek,
    None,
}

/// Counts the answer (for hooks and statistics) and adds the rate-limit headers.
fn finish(state: &AppState, mut response: Response, headers: Headers) -> Response {
    // Counted once answered, so a hook due after `n` requests changes the data
    // only after the `n`th answer was computed.
    state.shared.served_one();
    state.shared.stats.answered(response.status().as_u16());
    stamp_date(state, &mut response);
    let admission = match headers {
        Headers::Admitted(admission) => admission,
        Headers::Peek => state.limiter.peek(state.server_now()),
        Headers::None => return response,
    };
    let headers = response.headers_mut();
    headers.insert("x-ratelimit-limit", HeaderValue::from(admission.limit));
    headers.insert(
        "x-ratelimit-remaining",
        HeaderValue::from(admission.remaining),
    );
    headers.insert("x-ratelimit-reset", HeaderValue::from(admission.reset));
    response
}

/// `Date` by the server's clock; hyper adds one from the real clock only when
/// the answer has none.
fn stamp_date(state: &AppState, response: &mut Response) {
    let now = i64::try_from(state.server_now()).unwrap_or(i64::MAX);
    if let Some(date) = chrono::DateTime::from_timestamp(now, 0) {
        let text = date.format("%a, %d %b %Y %H:%M:%S GMT").to_string();
        if let Ok(value) = HeaderValue::from_str(&text) {
            response.headers_mut().insert(DATE, value);
        }
    }
}

/// The version check, then the resource, its JSON written with the escapes
/// Intercom's encoder uses unless the data is plain.
async fn checked(state: &AppState, request: Request, next: Next) -> Response {
    let response = match check_version(request.headers()) {
        Ok(()) => next.run(request).await,
        Err(err) => return err.into_response(),
    };
    if state.lenient.plain_data {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    // Handlers' bodies are in memory and cannot fail; answer 500 if one ever did.
    let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
        return status_error(500).into_response();
    };
    let escaped = crate::escape::escape_json(&bytes);
    parts
        .headers
        .insert(CONTENT_LENGTH, HeaderValue::from(escaped.len()));
    Response::from_parts(parts, Body::from(escaped))
}

fn rate_limited(limit: u32) -> Response {
    ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limit_exceeded",
        format!("Exceeded rate limit of {limit} in {WINDOW_SECS}_seconds"),
    )
    .into_response()
}

/// [`Fault::Status`]: Intercom's envelope with a code naming the status.
fn status_error(status: u16) -> ApiError {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let code = match status.as_u16() {
        502 => "bad_gateway",
        503 => "service_unavailable",
        504 => "gateway_timeout",
        ..=499 => "client_error",
        _ => "server_error",
    };
    ApiError::new(
        status,
        code,
        status.canonical_reason().unwrap_or("Server Error"),
    )
}

/// Describes the request to the fault rules and draws its fault. A search body
/// is read (and put back) only while a fault may depend on its cursor; a body
/// that cannot be read is refused as the handler would refuse it.
async fn draw_fault(
    state: &AppState,
    request: Request,
) -> Result<(Request, Option<Fault>), Response> {
    let path = request.uri().path().to_owned();
    let scroll_param = path == SCROLL_PATH
        && request.uri().query().is_some_and(|query| {
            query.split('&').any(|pair| {
                pair.strip_prefix("scroll_param=")
                    .is_some_and(|v| !v.is_empty())
            })
        });
    let peek = request.method() == Method::POST
        && SEARCH_PATHS.contains(&path.as_str())
        && state.shared.faults.wants_cursors();
    let (request, cursor) = if peek {
        let (parts, body) = request.into_parts();
        let bytes = axum::body::to_bytes(body, BODY_LIMIT)
            .await
            .map_err(|err| {
                ApiError::new(StatusCode::BAD_REQUEST, "bad_request", err.to_string())
                    .into_response()
            })?;
        let cursor = serde_json::from_slice::<Value>(&bytes).is_ok_and(|body| {
            body.pointer("/pagination/starting_after")
                .is_some_and(Value::is_string)
        });
        (Request::from_parts(parts, Body::from(bytes)), cursor)
    } else {
        let listed_after = request.method() == Method::GET
            && path == CONTACT_LIST_PATH
            && request.uri().query().is_some_and(|query| {
                query
                    .split('&')
                    .any(|pair| pair.starts_with("starting_after="))
            });
        (request, listed_after)
    };
    let fault = state.shared.faults.draw(&Target {
        path: &path,
        scroll_param,
        cursor,
    });
    Ok((request, fault))
}

/// [`Fault::Truncated`]: the real answer's headers and Content-Length, half its body.
async fn truncate(response: Response) -> Response {
    let (mut parts, body) = response.into_parts();
    // Handlers' bodies are in memory and cannot fail; answer 500 if one ever did.
    let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
        return status_error(500).into_response();
    };
    parts
        .headers
        .insert(CONTENT_LENGTH, HeaderValue::from(bytes.len()));
    let part: Bytes = bytes.slice(..bytes.len() / 2);
    Response::from_parts(parts, Body::new(Truncated::new(part)))
}

/// Whether the request carries a bearer token that `accepts` takes.
fn authorized(headers: &HeaderMap, accepts: impl Fn(&str) -> bool) -> bool {
    headers
        .get(AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().split_once(' '))
        .is_some_and(|(scheme, given)| {
            scheme.eq_ignore_ascii_case("bearer") && accepts(given.trim())
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

fn window_start(now: u64) -> u64 {
    now - now % WINDOW_SECS
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

    /// Counts a request in the window of `now`, if the limit allows it.
    fn admit(&self, now: u64) -> Admission {
        self.take(now, true)
    }

    /// The window of `now` as it stands, taking nothing from it.
    fn peek(&self, now: u64) -> Admission {
        self.take(now, false)
    }

    fn take(&self, now: u64, consume: bool) -> Admission {
        let start = window_start(now);
        let limit = self.per_window.unwrap_or(UNLIMITED_PER_WINDOW);
        let mut window = self.window.lock().unwrap_or_else(PoisonError::into_inner);
        if window.0 != start {
            *window = (start, 0);
        }
        let allowed = self.per_window.is_none_or(|limit| window.1 < limit);
        if allowed && consume {
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
    fn peeking_takes_nothing_from_the_window() {
        let limiter = RateLimiter::new(Some(12));
        assert_eq!(limiter.peek(1_000_003).remaining, 2);
        assert_eq!(limiter.admit(1_000_004).remaining, 1);
        let peek = limiter.peek(1_000_005);
        assert_eq!((peek.remaining, peek.reset), (1, 1_000_010));
        assert_eq!(limiter.peek(1_000_010).remaining, 2, "a new window");
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
        let t = |given: &str| given == "t";
        let mut headers = HeaderMap::new();
        assert!(!authorized(&headers, t));
        headers.insert(AUTHORIZATION, HeaderValue::from_static("bearer t"));
        assert!(authorized(&headers, t));
        headers.insert(AUTHORIZATION, HeaderValue::from_static("Bearer tt"));
        assert!(!authorized(&headers, t));
        headers.insert(AUTHORIZATION, HeaderValue::from_static("Basic t"));
        assert!(!authorized(&headers, t));
        headers.insert(
            AUTHORIZATION,
            HeaderValue::from_bytes(b"Bearer \xff").unwrap(),
        );
        assert!(!authorized(&headers, t));
    }
}

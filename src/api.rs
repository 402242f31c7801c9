//! Intercom's HTTP conventions (auth and version headers, the error
//! envelope, statuses to error categories) and the request loop that paces
//! to the rate limit and retries what may pass.

use std::cell::{Cell, RefCell};

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::Value;

use crate::config::{API_VERSION, Config};
use crate::error::{Category, Error, Result};
use crate::host::{Host, LogLevel, Method, Request, Response, TransportError, WaitReason};
use crate::pacing::{Pacer, retry_after_ms};
use crate::page::Decode;
use crate::retry::{Jitter, MAX_ATTEMPTS, MAX_ELAPSED_MS, backoff_ms};

/// Bytes escaped in a path segment: all but RFC 3986's unreserved
/// characters and `*`, which a path carries as they are.
const PATH_SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'*');

/// `text` (an id) as one segment of a path.
pub fn path_segment(text: &str) -> String {
    utf8_percent_encode(text, PATH_SEGMENT).to_string()
}

/// Which failures a call retries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Retry {
    /// 5xx, timeouts, broken connections, truncated or invalid JSON; 429s wait.
    Transient,
    /// Only 429s wait; anything else goes back to the caller (the scroll must
    /// restart rather than repeat a failed page).
    RateLimitOnly,
}

pub struct Api<'a> {
    host: &'a dyn Host,
    config: &'a Config,
    pacer: RefCell<Pacer>,
    jitter: Jitter,
    /// Requests sent, for the end-of-run log.
    pub requests: Cell<u64>,
    /// Backoff waits before retrying, counted as hosts count waits tagged
    /// `retry`, so the log and a host's summary agree.
    pub retries: Cell<u64>,
    /// Answers with status 429.
    pub rate_limited: Cell<u64>,
    /// The `Date` of the latest response that carried one, in UNIX seconds:
    /// the server's clock, which bounds what a scroll may bookmark.
    server_date: Cell<Option<i64>>,
}

/// What one try of one request came to.
enum Outcome<T> {
    Done(Result<T>),
    /// Worth another try after a backoff, at least the `Retry-After` if any.
    Again(Error, Option<u64>),
    /// Rate limited: another try once the window resets.
    Paced(Error),
}

impl<'a> Api<'a> {
    pub fn new(host: &'a dyn Host, config: &'a Config) -> Self {
        Self {
            host,
            config,
            pacer: RefCell::new(Pacer::new(config.rate_limit_share)),
            jitter: Jitter::new(host.now_ms()),
            requests: Cell::new(0),
            retries: Cell::new(0),
            rate_limited: Cell::new(0),
            server_date: Cell::new(None),
        }
    }

    pub fn host(&self) -> &'a dyn Host {
        self.host
    }

    /// The server's clock as the latest response's `Date` showed it.
    pub fn server_date(&self) -> Option<i64> {
        self.server_date.get()
    }

    /// `path` starts with `/` and may carry a query string.
    pub fn request(&self, method: Method, path: &str, body: Option<&Value>) -> Request {
        let mut headers = vec![
            (
                "authorization".to_string(),
                format!("Bearer {}", self.config.access_token),
            ),
            ("accept".to_string(), "application/json".to_string()),
            ("intercom-version".to_string(), API_VERSION.to_string()),
        ];
        if body.is_some() {
            headers.push(("content-type".to_string(), "application/json".to_string()));
        }
        Request {
            method,
            url: format!("{}{path}", self.config.base_url),
            headers,
            body: body.map(|b| b.to_string().into_bytes()),
            timeout_ms: self.config.timeout_ms,
        }
    }

    /// The path (and query) of a link the API returned, when it points back
    /// at the API: relative, or absolute on the configured origin.
    pub fn path_of_link(&self, link: &str) -> Option<String> {
        if link.starts_with('/') {
            return Some(link.to_string());
        }
        let url = url::Url::parse(link).ok()?;
        if url.origin().ascii_serialization() != self.config.origin() {
            return None;
        }
        let prefix = url::Url::parse(&self.config.base_url)
            .ok()?
            .path()
            .trim_end_matches('/')
            .to_string();
        let path = url.path().strip_prefix(&prefix).unwrap_or(url.path());
        Some(match url.query() {
            Some(query) => format!("{path}?{query}"),
            None => path.to_string(),
        })
    }

    pub fn get<T: Decode>(&self, path: &str) -> Result<T> {
        self.get_with(path, Retry::Transient)
    }

    pub fn get_with<T: Decode>(&self, path: &str, retry: Retry) -> Result<T> {
        let request = self.request(Method::Get, path, None);
        self.first(self.execute(vec![request], retry))
    }

    pub fn post<T: Decode>(&self, path: &str, body: &Value) -> Result<T> {
        let request = self.request(Method::Post, path, Some(body));
        self.first(self.execute(vec![request], Retry::Transient))
    }

    /// GETs independent paths through the host's batch call; results keep
    /// the order of `paths`.
    pub fn get_batch<T: Decode>(&self, paths: &[String]) -> Vec<Result<T>> {
        let requests = paths
            .iter()
            .map(|p| self.request(Method::Get, p, None))
            .collect();
        self.execute(requests, Retry::Transient)
    }

    fn first<T>(&self, mut results: Vec<Result<T>>) -> Result<T> {
        results
            .pop()
            .unwrap_or_else(|| Err(Error::internal("a request produced no result")))
    }

    /// Sends `requests`, in batches the rate limit allows, retrying per
    /// `retry` until each has a final outcome.
    fn execute<T: Decode>(&self, requests: Vec<Request>, retry: Retry) -> Vec<Result<T>> {
        let started = self.host.now_ms();
        let mut results: Vec<Option<Result<T>>> = requests.iter().map(|_| None).collect();
        let mut attempts = vec![0u32; requests.len()];
        let mut pending: Vec<usize> = (0..requests.len()).collect();
        while !pending.is_empty() {
            let allowed = self.pacer.borrow_mut().allowance(self.host, pending.len());
            let chunk: Vec<usize> = pending.drain(..allowed.max(1)).collect();
            self.pacer.borrow_mut().spend(chunk.len());
            self.requests.set(self.requests.get() + chunk.len() as u64);
            let responses = match chunk.as_slice() {
                [single] => vec![self.host.send(requests[*single].clone())],
                _ => self
                    .host
                    .send_batch(chunk.iter().map(|&i| requests[i].clone()).collect()),
            };
            let elapsed = self.host.now_ms().saturating_sub(started);
            let mut backoff_attempt = 0;
            let mut retry_after = 0;
            let mut first_failure = None;
            for (&index, response) in chunk.iter().zip(responses) {
                attempts[index] += 1;
                let request = &requests[index];
                match self.classify(request, response) {
                    Outcome::Done(result) => results[index] = Some(result),
                    Outcome::Paced(e) if elapsed < MAX_ELAPSED_MS => {
                        attempts[index] -= 1;
                        pending.push(index);
                        first_failure.get_or_insert(e);
                    }
                    Outcome::Again(e, asked)
                        if retry == Retry::Transient
                            && attempts[index] < MAX_ATTEMPTS
                            && elapsed < MAX_ELAPSED_MS =>
                    {
                        backoff_attempt = backoff_attempt.max(attempts[index]);
                        retry_after = retry_after.max(asked.unwrap_or(0));
                        pending.push(index);
                        first_failure.get_or_insert(e);
                    }
                    Outcome::Again(e, _) | Outcome::Paced(e) => results[index] = Some(Err(e)),
                }
            }
            if backoff_attempt > 0 {
                let delay = backoff_ms(backoff_attempt, &self.jitter).max(retry_after);
                let retried = pending.len() as u64;
                self.retries.set(self.retries.get() + 1);
                let reason = first_failure.map(|e| e.message).unwrap_or_default();
                self.host.log(
                    LogLevel::Warn,
                    &format!(
                        "retrying {retried} request(s) in {delay} ms (try {}): {reason}",
                        backoff_attempt + 1
                    ),
                );
                self.host.sleep(delay as u32, WaitReason::Retry);
            }
        }
        results
            .into_iter()
            .map(|r| r.unwrap_or_else(|| Err(Error::internal("a request was never sent"))))
            .collect()
    }

    fn classify<T: Decode>(
        &self,
        request: &Request,
        response: std::result::Result<Response, TransportError>,
    ) -> Outcome<T> {
        let path = request
            .url
            .strip_prefix(&self.config.base_url)
            .unwrap_or(&request.url);
        let what = format!(
            "{} {}",
            method_name(request.method),
            path.split('?').next().unwrap_or(path)
        );
        let response = match response {
            Ok(response) => response,
            Err(e) => {
                let error = Error::new(Category::Transient, format!("{what}: {}", e.message));
                return if e.retryable {
                    Outcome::Again(error, None)
                } else {
                    Outcome::Done(Err(error))
                };
            }
        };
        self.pacer.borrow_mut().observe(self.host, &response);
        if let Some(date) = response.header("date").and_then(http_date) {
            self.server_date.set(Some(date));
        }
        let status = response.status;
        let retry_after = retry_after_ms(self.host, &response);
        match parse_response(&what, response) {
            Ok(value) => Outcome::Done(Ok(value)),
            Err(e) if status == 429 => {
                self.rate_limited.set(self.rate_limited.get() + 1);
                Outcome::Paced(e)
            }
            Err(e) if e.category == Category::Transient => Outcome::Again(e, retry_after),
            Err(e) => Outcome::Done(Err(e)),
        }
    }
}

/// An HTTP `Date` (RFC 7231's IMF-fixdate, an RFC 2822 form) in UNIX seconds.
fn http_date(text: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc2822(text)
        .ok()
        .map(|t| t.timestamp())
}

fn method_name(method: Method) -> &'static str {
    match method {
        Method::Get => "GET",
        Method::Post => "POST",
    }
}

/// Turns a response into its JSON body, or an error that says what to fix.
/// A 2xx with a body that is not JSON (truncated, garbled) is transient.
pub fn parse_response<T: Decode>(what: &str, response: Response) -> Result<T> {
    if (200..300).contains(&response.status) {
        return T::decode(response.body).map_err(|e| match e.classify() {
            serde_json::error::Category::Data => Error::api(format!(
                "{what}: response body is not the JSON object the API documents: {e}"
            )),
            _ => Error::new(
                Category::Transient,
                format!("{what}: response body is not valid JSON: {e}"),
            ),
        });
    }
    let (code, detail) = error_detail(&response.body);
    let status = response.status;
    let (category, hint) = match status {
        401 => (
            Category::Auth,
            "the access token was rejected; check `access_token` and `region`",
        ),
        403 => (
            Category::Auth,
            "the token lacks a permission or the plan excludes this API",
        ),
        429 => (Category::RateLimit, "rate limit exceeded"),
        500..=599 => (Category::Transient, "Intercom server error"),
        _ => (Category::Api, "request rejected"),
    };
    let mut error = Error::new(category, format!("{what}: HTTP {status}: {hint}{detail}"));
    error.status = Some(status);
    error.code = code;
    Err(error)
}

/// Intercom's error code, and " (code: message)" for the user, when the body
/// is Intercom's error envelope.
fn error_detail(body: &[u8]) -> (Option<String>, String) {
    let Ok(value) = serde_json::from_slice::<Value>(body) else {
        return (None, String::new());
    };
    let Some(first) = value["errors"].get(0) else {
        return (None, String::new());
    };
    let code = first["code"].as_str().unwrap_or("unknown");
    let detail = match first["message"].as_str() {
        Some(message) => format!(" ({code}: {message})"),
        None => format!(" ({code})"),
    };
    (Some(code.to_string()), detail)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_segments_escape_spaces_slashes_and_queries() {
        assert_eq!(path_segment("a b"), "a%20b");
        assert_eq!(path_segment("x/y?z#%+é"), "x%2Fy%3Fz%23%25%2B%C3%A9");
        assert_eq!(path_segment("6f-A.9_~*"), "6f-A.9_~*");
    }

    fn response(status: u16, body: &str) -> Response {
        Response {
            status,
            headers: vec![],
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn maps_statuses_to_categories_with_intercom_detail() {
        let body = r#"{"type":"error.list","errors":[{"code":"unauthorized","message":"Access Token Invalid"}]}"#;
        let e = parse_response::<Value>("GET /admins", response(401, body)).unwrap_err();
        assert_eq!(e.category, Category::Auth);
        assert_eq!(e.status, Some(401));
        assert_eq!(e.code.as_deref(), Some("unauthorized"));
        assert_eq!(
            e.message,
            "GET /admins: HTTP 401: the access token was rejected; check `access_token` and `region` (unauthorized: Access Token Invalid)"
        );
        let cases = [
            (403, Category::Auth),
            (429, Category::RateLimit),
            (503, Category::Transient),
            (404, Category::Api),
        ];
        for (status, category) in cases {
            let e = parse_response::<Value>("GET /x", response(status, "not json")).unwrap_err();
            assert_eq!(e.category, category, "{status}");
        }
    }

    #[test]
    fn reads_http_dates() {
        assert_eq!(
            http_date("Tue, 01 Dec 2026 23:11:17 GMT"),
            Some(1_796_166_677)
        );
        assert_eq!(http_date("yesterday"), None);
    }

    #[test]
    fn invalid_json_is_transient_not_a_panic() {
        let e = parse_response::<Value>("GET /tags", response(200, r#"{"type":"li"#)).unwrap_err();
        assert_eq!(e.category, Category::Transient);
        assert!(
            e.message
                .starts_with("GET /tags: response body is not valid JSON")
        );
    }
}

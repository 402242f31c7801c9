//! Intercom's HTTP conventions: auth and version headers, the error envelope,
//! and the mapping of statuses to error categories.

use serde_json::Value;

use crate::config::{API_VERSION, Config};
use crate::error::{Category, Error, Result};
use crate::host::{Host, Method, Request, Response};

pub struct Api<'a> {
    host: &'a dyn Host,
    config: &'a Config,
}

impl<'a> Api<'a> {
    pub fn new(host: &'a dyn Host, config: &'a Config) -> Self {
        Self { host, config }
    }

    pub fn host(&self) -> &'a dyn Host {
        self.host
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

    pub fn get(&self, path: &str) -> Result<Value> {
        self.call(Method::Get, path, None)
    }

    pub fn post(&self, path: &str, body: &Value) -> Result<Value> {
        self.call(Method::Post, path, Some(body))
    }

    fn call(&self, method: Method, path: &str, body: Option<&Value>) -> Result<Value> {
        let name = method_name(method);
        let response = self
            .host
            .send(self.request(method, path, body))
            .map_err(|e| Error::new(Category::Transient, format!("{name} {path}: {}", e.0)))?;
        parse_response(name, path, &response)
    }

    /// GETs independent paths through the host's batch call; results keep
    /// the order of `paths`.
    pub fn get_batch(&self, paths: &[String]) -> Vec<(u16, Result<Value>)> {
        let requests = paths
            .iter()
            .map(|p| self.request(Method::Get, p, None))
            .collect();
        self.host
            .send_batch(requests)
            .into_iter()
            .zip(paths)
            .map(|(result, path)| match result {
                Ok(response) => (response.status, parse_response("GET", path, &response)),
                Err(e) => (
                    0,
                    Err(Error::new(
                        Category::Transient,
                        format!("GET {path}: {}", e.0),
                    )),
                ),
            })
            .collect()
    }
}

fn method_name(method: Method) -> &'static str {
    match method {
        Method::Get => "GET",
        Method::Post => "POST",
    }
}

/// Turns a response into its JSON body, or an error that says what to fix.
pub fn parse_response(method: &str, path: &str, response: &Response) -> Result<Value> {
    let what = format!("{method} {}", path.split('?').next().unwrap_or(path));
    if (200..300).contains(&response.status) {
        return serde_json::from_slice(&response.body).map_err(|e| {
            Error::new(
                Category::Transient,
                format!("{what}: response body is not valid JSON: {e}"),
            )
        });
    }
    let detail = error_detail(&response.body);
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
    Err(Error::new(
        category,
        format!("{what}: HTTP {status}: {hint}{detail}"),
    ))
}

/// "(code: message)" from Intercom's error envelope, if the body is one.
fn error_detail(body: &[u8]) -> String {
    let Ok(value) = serde_json::from_slice::<Value>(body) else {
        return String::new();
    };
    let Some(first) = value["errors"].get(0) else {
        return String::new();
    };
    let code = first["code"].as_str().unwrap_or("unknown");
    match first["message"].as_str() {
        Some(message) => format!(" ({code}: {message})"),
        None => format!(" ({code})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let e = parse_response("GET", "/admins?x=1", &response(401, body)).unwrap_err();
        assert_eq!(e.category, Category::Auth);
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
            let e = parse_response("GET", "/x", &response(status, "not json")).unwrap_err();
            assert_eq!(e.category, category, "{status}");
        }
    }

    #[test]
    fn invalid_json_is_transient_not_a_panic() {
        let e = parse_response("GET", "/tags", &response(200, r#"{"type":"li"#)).unwrap_err();
        assert_eq!(e.category, Category::Transient);
        assert!(
            e.message
                .starts_with("GET /tags: response body is not valid JSON")
        );
    }
}

//! A minimal blocking client for talking to the simulator.

use intercom_sim::{SimConfig, Simulator};
use serde_json::Value;

pub struct Reply {
    pub status: u16,
    pub headers: ureq::http::HeaderMap,
    pub body: Value,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }

    /// The one error's `code`, after checking the `error.list` envelope around it.
    pub fn error_code(&self) -> &str {
        assert_eq!(self.body["type"], "error.list", "{}", self.body);
        let request_id = self.body["request_id"].as_str().unwrap_or_default();
        assert_eq!(request_id.len(), 36, "request_id {request_id:?}");
        let errors = self.body["errors"].as_array().expect("errors array");
        assert_eq!(errors.len(), 1, "{}", self.body);
        errors[0]["code"].as_str().expect("error code")
    }
}

/// A client that hands back every answer as it is: statuses are not
/// errors, redirects are not followed.
pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .new_agent()
}

pub fn start(config: SimConfig) -> Simulator {
    Simulator::start(config).expect("simulator starts")
}

pub fn bearer() -> String {
    format!("Bearer {}", SimConfig::default().token)
}

/// `GET path` with the default token.
pub fn get(sim: &Simulator, path: &str) -> Reply {
    request(sim, "GET", path, &[("Authorization", bearer().as_bytes())])
}

/// `POST path` with a JSON body, the default token and optional extra headers.
pub fn post(sim: &Simulator, path: &str, body: &Value, extra: &[(&str, &str)]) -> Reply {
    let mut headers: Vec<(&str, &[u8])> = vec![("Authorization", b"Bearer sim-token")];
    headers.push(("Content-Type", b"application/json"));
    headers.extend(extra.iter().map(|(k, v)| (*k, v.as_bytes())));
    send(sim, "POST", path, &headers, body.to_string())
}

/// Any method, with exactly the given headers (raw bytes, so tests can send
/// invalid ones).
pub fn request(sim: &Simulator, method: &str, path: &str, headers: &[(&str, &[u8])]) -> Reply {
    send(sim, method, path, headers, String::new())
}

/// Any method, headers and raw body.
pub fn send(
    sim: &Simulator,
    method: &str,
    path: &str,
    headers: &[(&str, &[u8])],
    body: String,
) -> Reply {
    let mut builder = ureq::http::Request::builder()
        .method(method)
        .uri(format!("{}{path}", sim.base_url()));
    for &(name, value) in headers {
        builder = builder.header(name, value);
    }
    let request = builder.body(()).expect("valid request");
    let agent = agent();
    let mut response = if body.is_empty() {
        agent.run(request)
    } else {
        let (parts, ()) = request.into_parts();
        agent.run(ureq::http::Request::from_parts(parts, body))
    }
    .expect("simulator answers");
    let text = response.body_mut().read_to_string().expect("readable body");
    Reply {
        status: response.status().as_u16(),
        headers: response.headers().clone(),
        body: serde_json::from_str(&text)
            .unwrap_or_else(|err| panic!("{method} {path}: body is not JSON ({err}): {text}")),
    }
}

/// An answer whose body may be cut short or not be JSON.
pub struct Raw {
    pub status: u16,
    pub headers: ureq::http::HeaderMap,
    /// The bytes received, and the error that ended reading early, if any.
    pub body: (Vec<u8>, Option<std::io::Error>),
}

/// A request with the default token that gives up after `timeout`, returning
/// transport failures instead of panicking on them.
pub fn attempt(
    sim: &Simulator,
    method: &str,
    path: &str,
    body: Option<&Value>,
    timeout: std::time::Duration,
) -> Result<Raw, ureq::Error> {
    let request = ureq::http::Request::builder()
        .method(method)
        .uri(format!("{}{path}", sim.base_url()))
        .header("Authorization", bearer())
        .header("Content-Type", "application/json")
        .body(())
        .expect("valid request");
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(timeout))
        .build()
        .new_agent();
    let mut response = match body {
        None => agent.run(request),
        Some(body) => {
            let (parts, ()) = request.into_parts();
            agent.run(ureq::http::Request::from_parts(parts, body.to_string()))
        }
    }?;
    let mut bytes = Vec::new();
    let read = std::io::Read::read_to_end(&mut response.body_mut().as_reader(), &mut bytes);
    Ok(Raw {
        status: response.status().as_u16(),
        headers: response.headers().clone(),
        body: (bytes, read.err()),
    })
}

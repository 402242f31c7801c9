//! The `http` import: requests on a pooled rustls client, filtered by the
//! network policy, with capped timeouts and body sizes; batches run on a
//! bounded set of threads.

use std::sync::Mutex;
use std::time::Duration;

use crate::bindings::{Method, Request, Response, TransportError};
use crate::sandbox::{Limits, NetworkPolicy};

pub struct HttpClient {
    agent: ureq::Agent,
    policy: NetworkPolicy,
    limits: Limits,
}

impl HttpClient {
    pub fn new(policy: NetworkPolicy, limits: Limits) -> Self {
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .user_agent(concat!("intercom-connector/", env!("CARGO_PKG_VERSION")))
            .build();
        Self {
            agent: config.into(),
            policy,
            limits,
        }
    }

    pub fn send(&self, request: Request) -> Result<Response, TransportError> {
        let url = self
            .policy
            .admit(&request.url)
            .map_err(TransportError::Denied)?;
        let mut builder = ureq::http::Request::builder()
            .method(match request.method {
                Method::Get => "GET",
                Method::Post => "POST",
                Method::Put => "PUT",
                Method::Patch => "PATCH",
                Method::Delete => "DELETE",
            })
            .uri(url.as_str());
        for (name, value) in &request.headers {
            builder = builder.header(name, value);
        }
        let http_request = builder
            .body(request.body.unwrap_or_default())
            .map_err(|e| TransportError::Denied(format!("invalid request: {e}")))?;
        let timeout =
            Duration::from_millis(request.timeout_ms.into()).min(self.limits.max_request_timeout);
        let http_request = self
            .agent
            .configure_request(http_request)
            .timeout_global(Some(timeout))
            .build();
        let response = self.agent.run(http_request).map_err(transport_error)?;
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(n, v)| {
                (
                    n.as_str().to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into(),
                )
            })
            .collect();
        let body = response
            .into_body()
            .with_config()
            .limit(self.limits.max_response_bytes)
            .read_to_vec()
            .map_err(transport_error)?;
        Ok(Response {
            status,
            headers,
            body,
        })
    }

    /// Runs the batch on up to `batch_concurrency` threads; results keep the
    /// order of `requests`.
    pub fn send_batch(&self, requests: Vec<Request>) -> Vec<Result<Response, TransportError>> {
        let count = requests.len();
        let workers = self.limits.batch_concurrency.clamp(1, count.max(1));
        let queue = Mutex::new(requests.into_iter().enumerate());
        let results = Mutex::new((0..count).map(|_| None).collect::<Vec<_>>());
        std::thread::scope(|scope| {
            for _ in 0..workers {
                scope.spawn(|| {
                    loop {
                        let next = queue.lock().unwrap_or_else(|p| p.into_inner()).next();
                        let Some((index, request)) = next else { break };
                        let result = self.send(request);
                        results.lock().unwrap_or_else(|p| p.into_inner())[index] = Some(result);
                    }
                });
            }
        });
        results
            .into_inner()
            .unwrap_or_else(|p| p.into_inner())
            .into_iter()
            .map(|r| r.unwrap_or_else(|| Err(TransportError::Other("request not run".into()))))
            .collect()
    }
}

fn transport_error(error: ureq::Error) -> TransportError {
    match error {
        ureq::Error::Timeout(_) => TransportError::Timeout,
        ureq::Error::Io(e) if e.kind() == std::io::ErrorKind::TimedOut => TransportError::Timeout,
        ureq::Error::BodyExceedsLimit(limit) => TransportError::TooLarge(limit),
        ureq::Error::HostNotFound | ureq::Error::ConnectionFailed | ureq::Error::Io(_) => {
            TransportError::Connection(error.to_string())
        }
        ureq::Error::Tls(_) | ureq::Error::Rustls(_) => TransportError::Tls(error.to_string()),
        other => TransportError::Other(other.to_string()),
    }
}

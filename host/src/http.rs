//! The `http` import: requests on a pooled rustls client, filtered by the
//! network policy, with capped timeouts and body sizes; batches run on a
//! bounded set of threads.
//!
//! Redirects are never followed by the host: a 3xx reaches the guest as a
//! normal response, and following it means a new request, which the policy
//! vets like any other. Request headers (the credentials) are never logged.

use std::io;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::Duration;

use ureq::http::Uri;
use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::{DefaultConnector, NextTimeout};

use crate::bindings::{Method, Request, Response, TransportError};
use crate::sandbox::{self, Limits, NetworkPolicy};

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
            // Keep a connection per concurrent request of a batch: ureq keeps
            // 3 a host by default, so every batch would reconnect the rest.
            .max_idle_connections_per_host(limits.batch_concurrency.max(1))
            .max_idle_connections(limits.batch_concurrency.max(10))
            .user_agent(concat!("intercom-connector/", env!("CARGO_PKG_VERSION")))
            .build();
        Self {
            agent: ureq::Agent::with_parts(config, DefaultConnector::default(), NoLocalResolver),
            policy,
            limits,
        }
    }

    pub fn send(&self, request: Request) -> Result<Response, TransportError> {
        let url = self
            .policy
            .admit(&request.url)
            .map_err(TransportError::Denied)?;
        // Send exactly what the policy admitted: the same host and port as
        // the `url` crate parsed, whatever another parser would make of it.
        let uri: Uri = url
            .as_str()
            .parse()
            .map_err(|e| TransportError::Denied(format!("malformed URL: {e}")))?;
        if uri.host() != url.host_str() || uri.port_u16() != url.port() {
            return Err(TransportError::Denied(format!(
                "ambiguous URL {}",
                url.origin().ascii_serialization()
            )));
        }
        let mut builder = ureq::http::Request::builder()
            .method(match request.method {
                Method::Get => "GET",
                Method::Post => "POST",
                Method::Put => "PUT",
                Method::Patch => "PATCH",
                Method::Delete => "DELETE",
            })
            .uri(uri);
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

/// The default resolver, except that a name the policy did not treat as
/// local ([`sandbox::is_local_authority`]) may not resolve to this machine:
/// otherwise `https://name-resolving-to-127.0.0.1` (or DNS rebinding) would
/// reach local services the config never named.
#[derive(Debug)]
struct NoLocalResolver;

impl Resolver for NoLocalResolver {
    fn resolve(
        &self,
        uri: &Uri,
        config: &ureq::config::Config,
        timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        let resolved = DefaultResolver::default().resolve(uri, config, timeout)?;
        let host = uri.host().unwrap_or_default();
        if sandbox::is_local_authority(host) {
            return Ok(resolved);
        }
        let mut kept = self.empty();
        for addr in remote_only(host, &resolved).map_err(ureq::Error::Io)? {
            kept.push(addr);
        }
        Ok(kept)
    }
}

/// The addresses of `resolved` that are not this machine's; an error (kind
/// `PermissionDenied`, reported as `denied`) when none is left.
fn remote_only(host: &str, resolved: &[SocketAddr]) -> io::Result<Vec<SocketAddr>> {
    let kept: Vec<SocketAddr> = resolved
        .iter()
        .copied()
        .filter(|a| !sandbox::is_local_address(a.ip()))
        .collect();
    if kept.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!("{host} resolves to this machine, which the config does not name"),
        ));
    }
    Ok(kept)
}

fn transport_error(error: ureq::Error) -> TransportError {
    match error {
        ureq::Error::Io(e) if e.kind() == io::ErrorKind::PermissionDenied => {
            TransportError::Denied(e.to_string())
        }
        ureq::Error::Timeout(_) => TransportError::Timeout,
        ureq::Error::Io(e) if e.kind() == std::io::ErrorKind::TimedOut => TransportError::Timeout,
        // The guest sees `too-large(limit)`; the variant names the cap.
        ureq::Error::BodyExceedsLimit(limit) => TransportError::TooLarge(limit),
        ureq::Error::HostNotFound | ureq::Error::ConnectionFailed | ureq::Error::Io(_) => {
            TransportError::Connection(error.to_string())
        }
        ureq::Error::Tls(_) | ureq::Error::Rustls(_) => TransportError::Tls(error.to_string()),
        other => TransportError::Other(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_resolving_to_this_machine_are_refused() {
        let local: Vec<SocketAddr> = ["127.0.0.1:443", "[::1]:443", "0.0.0.0:443"]
            .iter()
            .map(|a| a.parse().unwrap())
            .collect();
        let error = remote_only("rebind.example", &local).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::PermissionDenied);
        assert!(
            matches!(transport_error(ureq::Error::Io(error)), TransportError::Denied(m) if m.contains("resolves to this machine"))
        );
        let mixed: Vec<SocketAddr> = vec![
            "127.0.0.1:443".parse().unwrap(),
            "[::ffff:127.0.0.1]:443".parse().unwrap(),
            "93.184.215.14:443".parse().unwrap(),
        ];
        assert_eq!(
            remote_only("example.com", &mixed).unwrap(),
            ["93.184.215.14:443".parse().unwrap()]
        );
    }

    #[test]
    fn local_authorities_are_the_ones_the_policy_vets() {
        for host in [
            "localhost",
            "LOCALHOST.",
            "api.localhost",
            "127.0.0.2",
            "[::1]",
            "0.0.0.0",
            "[::ffff:127.0.0.1]",
        ] {
            assert!(sandbox::is_local_authority(host), "{host}");
        }
        for host in [
            "api.intercom.io",
            "10.0.0.1",
            "[2001:db8::1]",
            "localhost.example",
        ] {
            assert!(!sandbox::is_local_authority(host), "{host}");
        }
    }
}

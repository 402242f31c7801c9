//! The client behind the `http` import: requests on a pooled rustls client,
//! filtered by the network policy, with capped timeouts and body sizes;
//! batches run on a bounded set of threads.
//!
//! Redirects are never followed by the host: a 3xx reaches the guest as a
//! normal response, and following it means a new request, which the policy
//! vets like any other. Request headers (the credentials) are never logged.

use std::io;
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use ureq::http::Uri;
use ureq::unversioned::resolver::DefaultResolver;
use ureq::unversioned::transport::DefaultConnector;

use crate::address_class::PublicOnlyResolver;
use crate::bindings::{Method, Request, Response, TransportError};
use crate::limits::Limits;
use crate::network::NetworkPolicy;

pub struct HttpClient {
    inner: Arc<Client>,
    workers: Mutex<Workers>,
}

struct Client {
    agent: ureq::Agent,
    policy: NetworkPolicy,
    limits: Limits,
}

impl Client {
    fn new(policy: NetworkPolicy, limits: Limits) -> Self {
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            // Keep a connection per concurrent request of a batch: ureq keeps
            // 3 a host by default, so every batch would reconnect the rest.
            .max_idle_connections_per_host(limits.batch_concurrency.max(1))
            .max_idle_connections(limits.batch_concurrency.max(10))
            .user_agent(concat!("intercom-connector/", env!("CARGO_PKG_VERSION")))
            // No proxy from the environment (HTTPS_PROXY and the like): the
            // address check must see the origin's addresses, not a proxy's.
            .proxy(None)
            .build();
        // Only the origins the config names may resolve to private or local
        // addresses.
        let resolver = PublicOnlyResolver::new(DefaultResolver::default(), policy.named().to_vec());
        Self {
            agent: ureq::Agent::with_parts(config, DefaultConnector::default(), resolver),
            policy,
            limits,
        }
    }

    fn send(&self, request: Request) -> Result<Response, TransportError> {
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
}

impl HttpClient {
    pub fn new(policy: NetworkPolicy, limits: Limits) -> Self {
        Self {
            inner: Arc::new(Client::new(policy, limits)),
            workers: Mutex::new(Workers::new()),
        }
    }

    pub fn send(&self, request: Request) -> Result<Response, TransportError> {
        self.inner.send(request)
    }

    /// Runs the batch on up to `batch_concurrency` threads; results keep the
    /// order of `requests`.
    pub fn send_batch(&self, requests: Vec<Request>) -> Vec<Result<Response, TransportError>> {
        let count = requests.len();
        let (done, results) = mpsc::channel();
        {
            let mut workers = self.workers.lock().unwrap_or_else(|p| p.into_inner());
            workers.grow(self.inner.limits.batch_concurrency.clamp(1, count.max(1)));
            for (index, request) in requests.into_iter().enumerate() {
                let (client, done) = (Arc::clone(&self.inner), done.clone());
                let job: Job = Box::new(move || {
                    let _ = done.send((index, client.send(request)));
                });
                // No thread could be started: send it from this one.
                if let Err(mpsc::SendError(job)) = workers.queue(job) {
                    job();
                }
            }
        }
        drop(done);
        let mut ordered: Vec<_> = (0..count).map(|_| None).collect();
        for (index, result) in results {
            ordered[index] = Some(result);
        }
        ordered
            .into_iter()
            .map(|r| r.unwrap_or_else(|| Err(TransportError::Other("request not run".into()))))
            .collect()
    }
}

type Job = Box<dyn FnOnce() + Send>;

/// Threads for batch requests, started as batches need them and kept for
/// the client's lifetime (a sync sends hundreds of batches). Idle ones sleep
/// on the queue; they end when the client is dropped.
struct Workers {
    queue: mpsc::Sender<Job>,
    jobs: Arc<Mutex<mpsc::Receiver<Job>>>,
    started: usize,
}

impl Workers {
    fn new() -> Self {
        let (queue, jobs) = mpsc::channel();
        Self {
            queue,
            jobs: Arc::new(Mutex::new(jobs)),
            started: 0,
        }
    }

    fn grow(&mut self, wanted: usize) {
        while self.started < wanted {
            let jobs = Arc::clone(&self.jobs);
            let spawned = std::thread::Builder::new()
                .name(format!("http-{}", self.started))
                .spawn(move || {
                    loop {
                        let job = jobs.lock().unwrap_or_else(|p| p.into_inner()).recv();
                        match job {
                            Ok(job) => job(),
                            Err(_) => break,
                        }
                    }
                });
            if spawned.is_err() {
                break;
            }
            self.started += 1;
        }
    }

    fn queue(&self, job: Job) -> Result<(), mpsc::SendError<Job>> {
        match self.started {
            0 => Err(mpsc::SendError(job)),
            _ => self.queue.send(job),
        }
    }
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

    /// A server that answers only once `count` connections are open at the
    /// same time, each with its request's path, `rounds` times: a batch sent
    /// one request at a time would time out.
    fn rendezvous_server(count: usize, rounds: usize) -> String {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let origin = format!("http://{}", listener.local_addr().unwrap());
        std::thread::spawn(move || {
            for _ in 0..rounds {
                let open: Vec<_> = listener.incoming().take(count).flatten().collect();
                for mut stream in open {
                    let mut request = Vec::new();
                    let mut buffer = [0u8; 1024];
                    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                        match stream.read(&mut buffer) {
                            Ok(0) | Err(_) => break,
                            Ok(n) => request.extend_from_slice(&buffer[..n]),
                        }
                    }
                    let text = String::from_utf8_lossy(&request).to_string();
                    let path = text.split_whitespace().nth(1).unwrap_or_default();
                    let _ = write!(
                        stream,
                        "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{path}",
                        path.len()
                    );
                }
            }
        });
        origin
    }

    #[test]
    fn a_batch_runs_its_requests_at_once_and_keeps_their_order() {
        let origin = rendezvous_server(4, 2);
        let config = serde_json::json!({ "base_url": origin }).to_string();
        let policy = NetworkPolicy::new(
            &crate::network::NetworkGrant::Declared,
            std::slice::from_ref(&origin),
            &config,
        )
        .unwrap();
        let limits = Limits {
            batch_concurrency: 4,
            ..Limits::default()
        };
        let client = HttpClient::new(policy, limits);
        for round in 0..2 {
            let requests = (0..4)
                .map(|i| Request {
                    method: Method::Get,
                    url: format!("{origin}/r{i}"),
                    headers: vec![],
                    body: None,
                    timeout_ms: 5_000,
                })
                .collect();
            let bodies: Vec<String> = client
                .send_batch(requests)
                .into_iter()
                .map(|r| String::from_utf8(r.expect("answered").body).unwrap())
                .collect();
            // The second batch runs on the threads the first started.
            assert_eq!(bodies, ["/r0", "/r1", "/r2", "/r3"], "round {round}");
        }
    }

    #[test]
    fn refused_addresses_reach_the_guest_as_denied() {
        let resolved = ["10.0.0.1:443".parse().unwrap()];
        let error = crate::address_class::public_only("rebind.example", &resolved).unwrap_err();
        assert!(
            matches!(transport_error(ureq::Error::Io(error)), TransportError::Denied(m) if m.contains("outside the public internet"))
        );
    }
}

//! The `http` import: requests go to the instance's [`crate::http_client`].
//! Here, at the boundary, secrets enter request header values on the way
//! out and leave responses on the way back ([`crate::secrets`]).

use url::Url;

use crate::bindings::connector::source::http;
use crate::bindings::{Request, Response, TransportError};
use crate::instance::HostState;
use crate::secrets::Secrets;
use crate::types::Sink;

impl<S: Sink> http::Host for HostState<S> {
    fn send(&mut self, request: Request) -> wasmtime::Result<Result<Response, TransportError>> {
        self.sink.requests(1);
        let request = reveal(&self.secrets, request);
        let result = self.progress(|s| s.http.send(request));
        self.sink
            .rate_limited(rate_limited(std::slice::from_ref(&result)));
        Ok(redact(&self.secrets, result))
    }

    fn send_batch(
        &mut self,
        requests: Vec<Request>,
    ) -> wasmtime::Result<Vec<Result<Response, TransportError>>> {
        self.sink.requests(requests.len());
        let requests = requests
            .into_iter()
            .map(|r| reveal(&self.secrets, r))
            .collect();
        let results = self.progress(|s| s.http.send_batch(requests));
        self.sink.rate_limited(rate_limited(&results));
        Ok(results
            .into_iter()
            .map(|r| redact(&self.secrets, r))
            .collect())
    }
}

/// How many of `results` are 429 answers.
fn rate_limited(results: &[Result<Response, TransportError>]) -> usize {
    results
        .iter()
        .filter(|r| matches!(r, Ok(response) if response.status == 429))
        .count()
}

/// The request with the secrets its origin may receive in its header
/// values. The origin is the one the network policy judges, parsed the same
/// way; a URL that does not parse is refused there.
fn reveal(secrets: &Secrets, mut request: Request) -> Request {
    if let Ok(url) = Url::parse(&request.url) {
        secrets.reveal(&url.origin(), &mut request.headers);
    }
    request
}

fn redact(
    secrets: &Secrets,
    mut result: Result<Response, TransportError>,
) -> Result<Response, TransportError> {
    match &mut result {
        Ok(response) => secrets.redact_response(response),
        Err(error) => secrets.redact_error(error),
    }
    result
}

//! The `http` import: requests go to the instance's [`crate::http_client`].

use crate::bindings::connector::source::http;
use crate::bindings::{Request, Response, TransportError};
use crate::instance::HostState;
use crate::types::Sink;

impl<S: Sink> http::Host for HostState<S> {
    fn send(&mut self, request: Request) -> wasmtime::Result<Result<Response, TransportError>> {
        self.sink.requests(1);
        let result = self.progress(|s| s.http.send(request));
        self.sink
            .rate_limited(rate_limited(std::slice::from_ref(&result)));
        Ok(result)
    }

    fn send_batch(
        &mut self,
        requests: Vec<Request>,
    ) -> wasmtime::Result<Vec<Result<Response, TransportError>>> {
        self.sink.requests(requests.len());
        let results = self.progress(|s| s.http.send_batch(requests));
        self.sink.rate_limited(rate_limited(&results));
        Ok(results)
    }
}

/// How many of `results` are 429 answers.
fn rate_limited(results: &[Result<Response, TransportError>]) -> usize {
    results
        .iter()
        .filter(|r| matches!(r, Ok(response) if response.status == 429))
        .count()
}

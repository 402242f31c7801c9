//! The `http` import: requests go to the instance's [`crate::http_client`].

use crate::bindings::connector::source::http;
use crate::bindings::{Request, Response, TransportError};
use crate::instance::HostState;
use crate::types::Sink;

impl<S: Sink> http::Host for HostState<S> {
    fn send(&mut self, request: Request) -> wasmtime::Result<Result<Response, TransportError>> {
        self.sink.requests(1);
        Ok(self.progress(|s| s.http.send(request)))
    }

    fn send_batch(
        &mut self,
        requests: Vec<Request>,
    ) -> wasmtime::Result<Vec<Result<Response, TransportError>>> {
        self.sink.requests(requests.len());
        Ok(self.progress(|s| s.http.send_batch(requests)))
    }
}

//! One guest instance's store data, and the linker that wires the WIT
//! imports and a deny-by-default WASI to it.

use std::collections::HashSet;

use wasmtime::component::{HasSelf, Linker, ResourceTable};
use wasmtime::{Engine, StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use crate::bindings::connector::source::{http, types};
use crate::bindings::{Request, Response, SourceConnector, TransportError};
use crate::http::HttpClient;
use crate::output::Sink;
use crate::sandbox::{self, Limits, NetworkPolicy};

pub struct HostState<S> {
    wasi: WasiCtx,
    table: ResourceTable,
    pub(crate) limits: StoreLimits,
    http: HttpClient,
    pub(crate) sink: S,
    pub(crate) state: Option<String>,
    pub(crate) declared_streams: HashSet<String>,
    /// Why the last checkpoint could not be committed, for the caller.
    pub(crate) commit_failure: Option<wasmtime::Error>,
    pub(crate) waits: crate::clock::Waits,
}

impl<S: Sink> HostState<S> {
    pub fn new(sink: S, policy: NetworkPolicy, limits: &Limits, state: Option<String>) -> Self {
        Self {
            wasi: sandbox::wasi_context(),
            table: ResourceTable::new(),
            limits: StoreLimitsBuilder::new()
                .memory_size(limits.memory_bytes)
                .trap_on_grow_failure(true)
                .build(),
            http: HttpClient::new(policy, limits.clone()),
            sink,
            state,
            declared_streams: HashSet::new(),
            commit_failure: None,
            waits: Default::default(),
        }
    }
}

pub fn linker<S: Sink>(engine: &Engine) -> wasmtime::Result<Linker<HostState<S>>> {
    let mut linker = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_sync(&mut linker)?;
    SourceConnector::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s)?;
    Ok(linker)
}

impl<S: Send> WasiView for HostState<S> {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl<S> types::Host for HostState<S> {}

impl<S: Sink> http::Host for HostState<S> {
    fn send(&mut self, request: Request) -> wasmtime::Result<Result<Response, TransportError>> {
        self.sink.requests(1);
        Ok(self.http.send(request))
    }

    fn send_batch(
        &mut self,
        requests: Vec<Request>,
    ) -> wasmtime::Result<Vec<Result<Response, TransportError>>> {
        self.sink.requests(requests.len());
        Ok(self.http.send_batch(requests))
    }
}

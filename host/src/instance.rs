//! One guest instance's store data, and the linker that wires the WIT
//! imports and a deny-by-default WASI to it.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use wasmtime::Engine;
use wasmtime::component::{HasSelf, Linker, ResourceTable};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use crate::bindings::connector::source::{http, types};
use crate::bindings::{Request, Response, SourceConnector, TransportError};
use crate::http::HttpClient;
use crate::output::Sink;
use crate::sandbox::{self, Limits, MemoryLimiter, NetworkPolicy, Watchdog};
use crate::sink_thread::SinkThread;

pub struct HostState<S> {
    wasi: WasiCtx,
    table: ResourceTable,
    pub(crate) limiter: MemoryLimiter,
    pub(crate) watchdog: Watchdog,
    http: HttpClient,
    pub(crate) sink: SinkThread<S>,
    pub(crate) state: Option<String>,
    pub(crate) declared_streams: HashSet<String>,
    pub(crate) waits: crate::clock::Waits,
    /// Time inside the world's imports, for [`crate::CallTime`].
    pub(crate) in_host: Duration,
}

impl<S: Sink> HostState<S> {
    pub fn new(
        sink: S,
        policy: NetworkPolicy,
        limits: &Limits,
        state: Option<String>,
    ) -> wasmtime::Result<Self> {
        Ok(Self {
            wasi: sandbox::wasi_context(),
            table: ResourceTable::new(),
            limiter: MemoryLimiter::new(limits.memory_bytes),
            watchdog: Watchdog::new(limits),
            http: HttpClient::new(policy, limits.clone()),
            sink: SinkThread::spawn(sink)?,
            state,
            declared_streams: HashSet::new(),
            waits: Default::default(),
            in_host: Duration::ZERO,
        })
    }

    /// Runs an import's work, counting its time as the host's.
    pub(crate) fn in_host<T>(&mut self, work: impl FnOnce(&mut Self) -> T) -> T {
        let started = Instant::now();
        let result = work(self);
        self.in_host += started.elapsed();
        result
    }
}

/// Only imports that do work feed the watchdog (see [`Watchdog`]); WASI
/// calls, the clock and logs answer instantly, so a guest could spin on them.
pub fn linker<S: Sink>(engine: &Engine) -> wasmtime::Result<Linker<HostState<S>>> {
    let mut linker = Linker::<HostState<S>>::new(engine);
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
        self.watchdog.progressed();
        self.sink.requests(1);
        Ok(self.in_host(|s| s.http.send(request)))
    }

    fn send_batch(
        &mut self,
        requests: Vec<Request>,
    ) -> wasmtime::Result<Vec<Result<Response, TransportError>>> {
        self.watchdog.progressed();
        self.sink.requests(requests.len());
        Ok(self.in_host(|s| s.http.send_batch(requests)))
    }
}

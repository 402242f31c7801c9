//! One guest instance's store data: what its imports need, and the WASI it
//! is given (none of the host's resources).

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use crate::http_client::HttpClient;
use crate::limits::{Limits, MemoryLimiter};
use crate::network::NetworkPolicy;
use crate::secrets::Secrets;
use crate::sink_thread::SinkThread;
use crate::types::{Sink, Waits};
use crate::watchdog::Watchdog;

pub struct HostState<S> {
    wasi: WasiCtx,
    table: ResourceTable,
    pub(crate) limiter: MemoryLimiter,
    pub(crate) watchdog: Watchdog,
    pub(crate) http: HttpClient,
    /// The config's secrets, which only the `http` import handles.
    pub(crate) secrets: Arc<Secrets>,
    pub(crate) sink: SinkThread<S>,
    pub(crate) declared_streams: HashSet<String>,
    pub(crate) waits: Waits,
    /// Time inside the world's imports, for [`crate::types::CallTime`].
    pub(crate) in_host: Duration,
}

impl<S: Sink> HostState<S> {
    pub fn new(
        sink: S,
        policy: NetworkPolicy,
        secrets: Arc<Secrets>,
        limits: &Limits,
    ) -> wasmtime::Result<Self> {
        Ok(Self {
            wasi: wasi_context(),
            table: ResourceTable::new(),
            limiter: MemoryLimiter::new(limits.memory_bytes),
            watchdog: Watchdog::new(limits),
            http: HttpClient::new(policy, limits.clone()),
            secrets,
            sink: SinkThread::spawn(sink)?,
            declared_streams: HashSet::new(),
            waits: Default::default(),
            in_host: Duration::ZERO,
        })
    }
}

impl<S> HostState<S> {
    /// Runs an import's work, counting its time as the host's.
    pub(crate) fn in_host<T>(&mut self, work: impl FnOnce(&mut Self) -> T) -> T {
        let started = Instant::now();
        let result = work(self);
        self.in_host += started.elapsed();
        result
    }

    /// Runs the work of a progress call (a request, output or a checkpoint),
    /// which restarts the watchdog's count.
    pub(crate) fn progress<T>(&mut self, work: impl FnOnce(&mut Self) -> T) -> T {
        self.watchdog.progressed();
        self.in_host(work)
    }
}

/// WASI with nothing granted: no files, no environment, no arguments, no
/// sockets, no name lookups, stdin closed and stdout/stderr discarded (the
/// builder's defaults, the socket ones spelled out). Clocks and randomness
/// stay. A Rust guest links these interfaces even when unused.
fn wasi_context() -> WasiCtx {
    WasiCtx::builder()
        .allow_tcp(false)
        .allow_udp(false)
        .allow_ip_name_lookup(false)
        .build()
}

impl<S: Send> WasiView for HostState<S> {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

//! Loading components (with an on-disk cache of compiled artifacts) and
//! calling their exports, each call in a fresh, sandboxed instance.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use wasmtime::component::Component;
use wasmtime::error::Context;
use wasmtime::{Engine, Store};
use wasmtime::{Result, format_err};

use crate::bindings::{ConnectorError, SourceConnector};
use crate::cache::ArtifactCache;
use crate::imports::linker;
use crate::instance::HostState;
use crate::limits::Limits;
use crate::network::{NetworkGrant, NetworkPolicy};
use crate::secrets::{Config, Secrets};
use crate::types::{CallTime, Sink};
use crate::watchdog;

/// What an export returned: the connector's own error is an outcome, not a
/// host failure.
pub type Outcome<T> = std::result::Result<T, ConnectorError>;

/// How the host compiles components. Epoch checks in compiled code drive the
/// watchdog; they cost the component about a fifth of its speed in tight
/// loops, which inlining small functions (fewer entry checks, fewer calls)
/// wins part of back. Both are part of the engine's compatibility hash, so
/// cached artifacts follow.
pub fn engine_config() -> wasmtime::Config {
    let mut config = wasmtime::Config::new();
    config
        .epoch_interruption(true)
        .compiler_inlining(wasmtime::Inlining::Yes);
    config
}

pub struct Runtime {
    engine: Engine,
    cache: Option<ArtifactCache>,
    limits: Limits,
}

impl Runtime {
    /// `cache_dir`: where compiled components are kept; None compiles every time.
    pub fn new(limits: Limits, cache_dir: Option<PathBuf>) -> Result<Self> {
        let engine = Engine::new(&engine_config())?;
        watchdog::start_epoch_ticker(&engine).context("cannot start the watchdog thread")?;
        Ok(Self {
            engine,
            cache: cache_dir.map(ArtifactCache::new),
            limits,
        })
    }

    pub fn load(&self, path: &Path) -> Result<Connector> {
        let bytes = std::fs::read(path)
            .with_context(|| format!("cannot read component {}", path.display()))?;
        self.load_bytes(&bytes, &format!("component {}", path.display()))
    }

    /// Loads the component in `bytes`; `name` says which in errors.
    pub fn load_bytes(&self, bytes: &[u8], name: &str) -> Result<Connector> {
        let component = self
            .compile_cached(bytes)
            .with_context(|| format!("cannot load {name}"))?;
        Ok(Connector {
            engine: self.engine.clone(),
            component,
            limits: self.limits.clone(),
        })
    }

    fn compile_cached(&self, bytes: &[u8]) -> Result<Component> {
        let Some(cache) = &self.cache else {
            return Component::new(&self.engine, bytes);
        };
        let key = ArtifactCache::key(&self.engine, bytes);
        if let Some(component) = cache.load(&self.engine, &key) {
            return Ok(component);
        }
        tracing::info!(
            "compiling the component for this machine, once: later runs load it from {}",
            cache.dir().display()
        );
        let component = Component::new(&self.engine, bytes)?;
        cache.store(&key, &component.serialize()?);
        Ok(component)
    }
}

/// A loaded component, ready to be instantiated per call.
pub struct Connector {
    engine: Engine,
    component: Component,
    limits: Limits,
}

impl Connector {
    /// Runs `call` in a fresh instance whose output goes to `sink`, and
    /// returns the sink with the result. `secrets` are those of the config
    /// the call is given.
    fn with_instance<S: Sink, T>(
        &self,
        sink: S,
        policy: NetworkPolicy,
        secrets: Arc<Secrets>,
        call: impl FnOnce(&SourceConnector, &mut Store<HostState<S>>) -> wasmtime::Result<T>,
    ) -> Result<(S, T)> {
        let mut store = Store::new(
            &self.engine,
            HostState::new(sink, policy, secrets, &self.limits)?,
        );
        store.limiter(|s| &mut s.limiter);
        store.epoch_deadline_callback(|mut store| store.data_mut().watchdog.tick());
        store.set_epoch_deadline(1);
        let linker = linker::<S>(&self.engine)?;
        let instance = SourceConnector::instantiate(&mut store, &self.component, &linker)
            .map_err(|e| format_err!("cannot instantiate component: {e:#}"))?;
        // The root cause is the trap or host error; the rest is a wasm backtrace.
        let started = std::time::Instant::now();
        let result = call(&instance, &mut store)
            .map_err(|e| format_err!("component failed: {}", e.root_cause()));
        let data = store.into_data();
        let returned = std::time::Instant::now();
        let (sink, written) = data.sink.finish();
        let mut sink = sink.ok_or_else(|| format_err!("the output thread panicked"))?;
        sink.finished(CallTime {
            total: started.elapsed(),
            // Writing what was still queued is the host's time too.
            in_host: data.in_host + returned.elapsed(),
            waits: data.waits,
        });
        // What stopped the output explains a failed call best.
        written?;
        Ok((sink, result?))
    }

    pub fn spec<S: Sink>(&self, sink: S) -> Result<String> {
        let (_, spec) = self.with_instance(
            sink,
            NetworkPolicy::deny_all(),
            Secrets::none(),
            |c, store| c.connector_source_source().call_spec(store),
        )?;
        Ok(spec)
    }

    /// The origins the component declares for `config`, not yet vetted.
    pub fn allowed_origins<S: Sink>(
        &self,
        config: &Config,
        sink: S,
    ) -> Result<Outcome<Vec<String>>> {
        let (_, declared) = self.with_instance(
            sink,
            NetworkPolicy::deny_all(),
            config.secrets(),
            |c, store| {
                c.connector_source_source()
                    .call_allowed_origins(store, config.sealed())
            },
        )?;
        Ok(declared)
    }

    /// The network policy for `config`: the component's declared origins
    /// within `grant`, vetted by [`NetworkPolicy::new`].
    pub fn network_policy<S: Sink>(
        &self,
        config: &Config,
        grant: &NetworkGrant,
        sink: S,
    ) -> Result<Outcome<NetworkPolicy>> {
        match self.allowed_origins(config, sink)? {
            Ok(origins) => Ok(Ok(NetworkPolicy::new(grant, &origins, config.sealed())?)),
            Err(e) => Ok(Err(e)),
        }
    }

    /// The catalog; under `policy`, as discovery may read the API (the
    /// connector reads the workspace's data attributes).
    pub fn discover<S: Sink>(
        &self,
        config: &Config,
        policy: NetworkPolicy,
        sink: S,
    ) -> Result<Outcome<String>> {
        let (_, catalog) = self.with_instance(sink, policy, config.secrets(), |c, store| {
            c.connector_source_source()
                .call_discover(store, config.sealed())
        })?;
        Ok(catalog)
    }

    pub fn check<S: Sink>(
        &self,
        config: &Config,
        policy: NetworkPolicy,
        sink: S,
    ) -> Result<Outcome<String>> {
        let (_, result) = self.with_instance(sink, policy, config.secrets(), |c, store| {
            c.connector_source_source()
                .call_check(store, config.sealed())
        })?;
        Ok(result)
    }

    /// Runs a sync. The sink comes back so the caller can inspect or flush it.
    pub fn read<S: Sink>(
        &self,
        config: &Config,
        catalog: Option<&str>,
        state: Option<&str>,
        policy: NetworkPolicy,
        sink: S,
    ) -> Result<(S, Outcome<()>)> {
        self.with_instance(sink, policy, config.secrets(), |c, store| {
            c.connector_source_source()
                .call_read(store, config.sealed(), catalog, state)
        })
    }
}

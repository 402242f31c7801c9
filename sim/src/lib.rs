//! A simulator of Intercom's REST API (version 2.16) served over loopback HTTP.
//!
//! Integration tests, benchmarks and demos run the connector against it instead of
//! the real API: the data is generated deterministically from a seed, and the
//! simulator enforces the same authentication, version and rate-limit rules.

mod dataset;
mod envelope;
mod gate;
mod names;
mod resources;
mod server;

use std::fmt;
use std::io;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::sync::{Arc, PoisonError, RwLock};
use std::thread::JoinHandle;

use tokio::sync::oneshot;

pub use dataset::Dataset;

/// How to generate the simulated workspace and how to serve it.
#[derive(Clone)]
pub struct SimConfig {
    /// Seed of every generated record: the same seed always yields the same data.
    pub seed: u64,
    /// The only access token the simulator accepts.
    pub token: String,
    pub admins: usize,
    pub teams: usize,
    pub tags: usize,
    /// Port on 127.0.0.1; 0 lets the OS pick a free one.
    pub port: u16,
    /// `None` never answers 429 (headers still sent); `Some(n)` allows `n / 6`
    /// requests per 10-second window, as Intercom splits its per-minute allowance.
    pub rate_limit_per_minute: Option<u32>,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            seed: 42,
            token: "sim-token".to_owned(),
            admins: 25,
            teams: 6,
            tags: 40,
            port: 0,
            rate_limit_per_minute: None,
        }
    }
}

/// Redacts the token so that configs can be logged safely.
impl fmt::Debug for SimConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimConfig")
            .field("seed", &self.seed)
            .field("token", &"<redacted>")
            .field("admins", &self.admins)
            .field("teams", &self.teams)
            .field("tags", &self.tags)
            .field("port", &self.port)
            .field("rate_limit_per_minute", &self.rate_limit_per_minute)
            .finish()
    }
}

/// A running simulator. It owns a tokio runtime on a background thread, so it can
/// be used from plain synchronous tests; dropping it stops the server.
pub struct Simulator {
    addr: SocketAddr,
    data: Arc<RwLock<Dataset>>,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Simulator {
    /// Generates the dataset and starts serving it. Returns once the port is bound,
    /// so requests can be sent immediately.
    pub fn start(config: SimConfig) -> io::Result<Simulator> {
        if config.admins == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "admins must be at least 1: the access token belongs to the first admin",
            ));
        }
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, config.port))?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;

        let data = Arc::new(RwLock::new(Dataset::generate(&config)));
        let state = server::AppState::new(&config, Arc::clone(&data));
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("intercom-sim-worker")
            .enable_all()
            .build()?;
        let (shutdown, stop) = oneshot::channel();
        let thread = std::thread::Builder::new()
            .name("intercom-sim".to_owned())
            .spawn(move || {
                if let Err(err) = runtime.block_on(server::serve(listener, state, stop)) {
                    eprintln!("intercom-sim: server stopped: {err}");
                }
            })?;

        Ok(Simulator {
            addr,
            data,
            shutdown: Some(shutdown),
            thread: Some(thread),
        })
    }

    /// The root URL to use in place of `https://api.intercom.io`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A copy of the data as served right now, to compare a connector's output to.
    pub fn dataset(&self) -> Dataset {
        self.data
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            // The server may already have stopped; nothing is left to notify then.
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            // A panic in the server thread was already reported on stderr.
            let _ = thread.join();
        }
    }
}

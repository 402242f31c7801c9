//! A wasmtime host for components of the `connector:source` world: loads and
//! caches them, sandboxes them, serves their imports, and hands their output
//! to a [`Sink`].

pub mod address_class;
pub mod bindings;
mod cache;
pub mod commands;
pub mod config;
pub mod error;
mod http_client;
mod imports;
mod instance;
pub mod limits;
pub mod logging;
pub mod network;
pub mod oauth;
mod private_file;
pub mod progress;
pub mod runtime;
pub mod secrets;
pub mod singer;
mod sink_thread;
pub mod sqlite;
pub mod state_migration;
pub mod types;
mod watchdog;

pub use bindings::{ConnectorError, ErrorCategory, LogLevel};
pub use error::{Document, Error};
pub use limits::Limits;
pub use network::{NetworkGrant, NetworkPolicy};
pub use runtime::{Connector, Outcome, Runtime};
pub use secrets::{Config, SecretField};
pub use types::{CallTime, Sink, Waits};

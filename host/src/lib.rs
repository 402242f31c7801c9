//! A wasmtime host for components of the `connector:source` world: loads and
//! caches them, sandboxes them, serves their imports, and hands their output
//! to a [`Sink`].

pub mod address_class;
pub mod bindings;
mod cache;
pub mod clock;
pub mod http;
pub mod instance;
pub mod logging;
pub mod oauth;
pub mod output;
mod private_file;
pub mod progress;
pub mod runtime;
pub mod sandbox;
pub mod singer;
pub mod sink_thread;
pub mod sqlite;
pub mod state;

pub use bindings::{ConnectorError, ErrorCategory, LogLevel};
pub use output::{CallTime, Sink};
pub use runtime::{Connector, Outcome, Runtime};
pub use sandbox::{Limits, NetworkPolicy};

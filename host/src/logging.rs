//! Logs go to stderr through `tracing`, so stdout stays pure Singer.

use tracing::{debug, error, info, trace, warn};

use crate::bindings::LogLevel;

/// Installs the stderr subscriber; `json` selects machine-readable lines.
/// A non-empty RUST_LOG overrides the default `info` filter.
pub fn init(json: bool) {
    let wanted = std::env::var("RUST_LOG")
        .ok()
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| "info".to_string());
    // The HTTP client's debug and trace levels describe raw requests (trace
    // dumps the Authorization header): held at info whatever RUST_LOG says
    // (same-target directives replace the user's).
    let filter = tracing_subscriber::EnvFilter::try_new(&wanted)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"))
        .add_directive("ureq=info".parse().expect("valid directive"))
        .add_directive("ureq_proto=info".parse().expect("valid directive"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

/// Forwards a guest's log line at its level.
pub fn guest(level: LogLevel, message: &str) {
    match level {
        LogLevel::Trace => trace!(target: "connector", "{message}"),
        LogLevel::Debug => debug!(target: "connector", "{message}"),
        LogLevel::Info => info!(target: "connector", "{message}"),
        LogLevel::Warn => warn!(target: "connector", "{message}"),
        LogLevel::Error => error!(target: "connector", "{message}"),
    }
}

//! Rust types and traits generated from the WIT world. Every import is
//! trappable so the host can stop a guest (sink failure, policy violation)
//! from inside any call.

wasmtime::component::bindgen!({
    world: "source-connector",
    path: "../wit",
    imports: { default: trappable },
});

pub use connector::source::types::{
    ConnectorError, ErrorCategory, LogLevel, Method, Request, Response, TransportError,
};

impl std::fmt::Display for ErrorCategory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ErrorCategory::Config => "config",
            ErrorCategory::Auth => "auth",
            ErrorCategory::RateLimit => "rate-limit",
            ErrorCategory::Transient => "transient",
            ErrorCategory::Api => "api",
            ErrorCategory::Internal => "internal",
        })
    }
}

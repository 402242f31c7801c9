//! Intercom source connector. The Intercom logic is plain Rust over the
//! [`host::Host`] trait, so it runs natively in unit tests; `component`
//! binds it to the WIT world when built for wasm32.

pub mod api;
pub mod catalog;
pub mod config;
pub mod custom_dates;
pub mod dates;
pub mod error;
pub mod host;
pub mod lists;
pub mod pacing;
pub mod page;
pub mod pager;
pub mod record;
pub mod retry;
pub mod scan;
pub mod shape;
pub mod state;
pub mod streams;
pub mod sync;

#[cfg(target_arch = "wasm32")]
mod component;

#[cfg(test)]
mod robustness_tests;

use api::Api;
use config::Config;
use error::Result;
use host::Host;
use state::State;

pub fn spec() -> String {
    config::SPEC.to_string()
}

pub fn allowed_origins(config: &str) -> Result<Vec<String>> {
    Ok(vec![Config::parse(config)?.origin()])
}

/// Reads `/me`: proves the token and region, and names the workspace.
pub fn check(host: &dyn Host, config: &str) -> Result<String> {
    let config = Config::parse(config)?;
    config.validate_dates(now_seconds(host))?;
    warn_all(host, config.unknown_keys_warning());
    let me: serde_json::Value = Api::new(host, &config).get("/me")?;
    let app = &me["app"];
    Ok(format!(
        "workspace `{}` (id {}, region {}) as {}",
        app["name"].as_str().unwrap_or("?"),
        app["id_code"].as_str().unwrap_or("?"),
        app["region"].as_str().unwrap_or("?"),
        me["email"].as_str().unwrap_or("?"),
    ))
}

/// The catalog. Reads the workspace's data attributes to declare custom
/// date attributes; when they cannot be read, the catalog goes out without
/// them, with a warning (a sync still converts them).
pub fn discover(host: &dyn Host, config: &str) -> Result<String> {
    let config = Config::parse(config)?;
    let api = Api::new(host, &config);
    let catalog = catalog::discover(|stream| {
        let Some(source) = stream.shaping.custom_dates.and_then(streams::find) else {
            return Vec::new();
        };
        custom_dates::fetch(&api, source, true).unwrap_or_else(|e| {
            let warning = format!(
                "discovery: {}'s custom date attributes are not declared: `{}` could not be read ({})",
                stream.name, source.name, e.message
            );
            host.log(host::LogLevel::Warn, &warning);
            Vec::new()
        })
    });
    Ok(catalog.to_string())
}

pub fn read(
    host: &dyn Host,
    config: &str,
    catalog: Option<&str>,
    state: Option<&str>,
) -> Result<()> {
    // Every document is validated whole before anything is sent or committed.
    let config = Config::parse(config)?;
    let selection = catalog::select(catalog)?;
    let state = State::parse(state)?;
    let now = now_seconds(host);
    config.validate_dates(now)?;
    state.validate(now)?;
    warn_all(host, config.unknown_keys_warning());
    warn_all(host, selection.warnings);
    let api = Api::new(host, &config);
    let mut sync = sync::Replicator::new(&api, &config, state);
    let result = sync.run(&selection.streams);
    host.log(
        host::LogLevel::Info,
        &format!(
            "{} requests, {} retries, {} answered 429",
            api.requests.get(),
            api.retries.get(),
            api.rate_limited.get()
        ),
    );
    result?;
    host.checkpoint(&sync.state().to_json())
}

fn now_seconds(host: &dyn Host) -> i64 {
    (host.now_ms() / 1000) as i64
}

fn warn_all(host: &dyn Host, warnings: impl IntoIterator<Item = String>) {
    for warning in warnings {
        host.log(host::LogLevel::Warn, &warning);
    }
}

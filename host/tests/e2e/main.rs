//! End-to-end tests: the real release component in the real host (as a
//! library and as the `intercom-connector` binary), syncing from the real
//! simulator over loopback. One binary for all of them links wasmtime once.

mod support;

mod auth_paste;
mod cli;
mod config_sources;
mod crash_resume;
mod faults;
mod foundation;
mod js_host;
mod model;
mod more_streams;
mod oauth;
mod postgres;
mod replica;
mod robustness;
mod sandbox;
#[cfg(unix)]
mod sandbox_files;
mod singer_target;
mod sqlite;
mod streams;
mod table_versions;
mod upgrades;
mod validation;
mod versions;

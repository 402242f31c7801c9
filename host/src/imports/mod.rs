//! The world's imports, one module per WIT interface, each holding its
//! `Host` impl on [`HostState`], and the linker that wires them (and a
//! deny-by-default WASI) to an instance.

mod clock;
mod http;
mod output;
mod state;

use wasmtime::Engine;
use wasmtime::component::{HasSelf, Linker};

use crate::bindings::SourceConnector;
use crate::bindings::connector::source::types;
use crate::instance::HostState;
use crate::types::Sink;

/// The `types` interface declares no functions.
impl<S> types::Host for HostState<S> {}

/// Only imports that do work feed the watchdog (see
/// [`HostState::progress`]); WASI calls, the clock and logs answer
/// instantly, so a guest could spin on them.
pub fn linker<S: Sink>(engine: &Engine) -> wasmtime::Result<Linker<HostState<S>>> {
    let mut linker = Linker::<HostState<S>>::new(engine);
    wasmtime_wasi::p2::add_to_linker_sync(&mut linker)?;
    SourceConnector::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s)?;
    Ok(linker)
}

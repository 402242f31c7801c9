//! The record pipeline alone (parse pages, shape records, serialize them),
//! with HTTP answered from memory: the release component in a minimal
//! wasmtime embedding of its own, against the same Rust code built natively.

use std::cell::Cell;
use std::path::Path;
use std::time::Instant;

use intercom_connector::host as native;
use intercom_host::bindings::connector::source::{clock, http, output, state, types};
use intercom_host::bindings::{self, SourceConnector};
use intercom_host::{LogLevel, Runtime, Sink};
use intercom_sim::{SimConfig, Simulator};
use serde_json::value::RawValue;
use serde_json::{Value, json};
use wasmtime::component::{Component, HasSelf, Linker, ResourceTable};
use wasmtime::{Engine, Store};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

const PAGES: usize = 200;
const CONFIG: &str = r#"{"access_token":"t","base_url":"https://api.example.test"}"#;
const CATALOG: &str = r#"{"streams":[{"tap_stream_id":"contacts"}]}"#;

/// A sink that drops everything, for calls whose output is not measured.
pub struct NullSink;

impl Sink for NullSink {
    fn records(&mut self, _: &str, _: &[Box<RawValue>]) -> wasmtime::Result<()> {
        Ok(())
    }
}

/// Search pages of real simulator contacts, each with a fresh cursor.
fn pages() -> Vec<Vec<u8>> {
    let sim = Simulator::start(SimConfig {
        contacts: 150,
        ..SimConfig::default()
    })
    .expect("simulator");
    let mut contacts = sim.dataset().contacts;
    for contact in &mut contacts {
        for list in ["tags", "companies", "notes"] {
            contact[list]["has_more"] = json!(false);
        }
    }
    (0..PAGES)
        .map(|i| {
            let next = (i + 1 < PAGES).then(|| json!({"starting_after": format!("c{i}")}));
            let page = json!({"type": "list", "data": contacts, "total_count": 150 * PAGES,
                "pages": {"type": "pages", "next": next}});
            serde_json::to_vec(&page).expect("page")
        })
        .collect()
}

fn records_per_second(records: u64, started: Instant) -> f64 {
    records as f64 / started.elapsed().as_secs_f64()
}

/// Rounds of each side, alternating, so both see the same machine; the best
/// round of each is compared (noise on a shared machine only slows a run).
const ROUNDS: usize = 7;

pub fn compare(_runtime: &Runtime, component: &Path) {
    let pages = pages();
    // As the host compiles it (watchdog epoch checks on), and the same code
    // without those checks: the second shows what the watchdog costs.
    let hosted = WasmPipeline::new(component, intercom_host::runtime::engine_config());
    let mut unwatched_config = intercom_host::runtime::engine_config();
    unwatched_config.epoch_interruption(false);
    let unwatched = WasmPipeline::new(component, unwatched_config);
    let (mut native, mut wasm, mut bare) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        native.push(native_run(&pages));
        wasm.push(hosted.run(&pages));
        bare.push(unwatched.run(&pages));
    }
    let best = |runs: &[f64]| runs.iter().copied().fold(0.0, f64::max);
    let median = |runs: &mut Vec<f64>| {
        runs.sort_by(f64::total_cmp);
        runs[runs.len() / 2]
    };
    println!(
        "record pipeline (contacts, {} records, HTTP from memory), best of {ROUNDS}: native {:.0} records/s; wasm as the host runs it {:.0} records/s, native/wasm {:.2}x (medians {:.2}x); wasm without the watchdog's epoch checks {:.0} records/s, {:.2}x (medians {:.2}x)",
        150 * PAGES,
        best(&native),
        best(&wasm),
        best(&native) / best(&wasm),
        median(&mut native) / median(&mut wasm),
        best(&bare),
        best(&native) / best(&bare),
        median(&mut native) / median(&mut bare),
    );
}

struct NativeHost<'p> {
    pages: &'p [Vec<u8>],
    next: Cell<usize>,
    records: Cell<u64>,
}

impl native::Host for NativeHost<'_> {
    fn send(&self, _: native::Request) -> Result<native::Response, native::TransportError> {
        let index = self.next.get();
        self.next.set(index + 1);
        Ok(native::Response {
            status: 200,
            headers: vec![],
            body: self.pages[index.min(PAGES - 1)].clone(),
        })
    }
    fn send_batch(
        &self,
        requests: Vec<native::Request>,
    ) -> Vec<Result<native::Response, native::TransportError>> {
        requests.into_iter().map(|r| self.send(r)).collect()
    }
    fn schema(&self, _: &str, _: &str, _: &[String], _: &[String]) {}
    fn records(&self, _: &str, records: Vec<String>) {
        self.records.set(self.records.get() + records.len() as u64);
    }
    fn stream_complete(&self, _: &str, _: bool) {}
    fn stream_version(&self, _: &str, _: u64, _: bool) {}
    fn stream_progress(&self, _: &str, _: u64, _: u64) {}
    fn stream_skipped(&self, _: &str, _: &str) {}
    fn log(&self, _: native::LogLevel, _: &str) {}
    fn now_ms(&self) -> u64 {
        0
    }
    fn sleep(&self, _: u32, _: native::WaitReason) {}
    fn checkpoint(&self, _: &str) -> intercom_connector::error::Result<()> {
        Ok(())
    }
}

fn native_run(pages: &[Vec<u8>]) -> f64 {
    let host = NativeHost {
        pages,
        next: Cell::new(0),
        records: Cell::new(0),
    };
    let started = Instant::now();
    intercom_connector::read(&host, CONFIG, Some(CATALOG), None).expect("native read");
    records_per_second(host.records.get(), started)
}

/// Store data of the minimal embedding: WASI with nothing granted, and the
/// canned pages.
struct Canned {
    wasi: WasiCtx,
    table: ResourceTable,
    pages: Vec<Vec<u8>>,
    next: usize,
    records: u64,
}

impl WasiView for Canned {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl types::Host for Canned {}

impl http::Host for Canned {
    fn send(
        &mut self,
        _: bindings::Request,
    ) -> wasmtime::Result<Result<bindings::Response, bindings::TransportError>> {
        let index = self.next.min(PAGES - 1);
        self.next += 1;
        Ok(Ok(bindings::Response {
            status: 200,
            headers: vec![],
            body: self.pages[index].clone(),
        }))
    }
    fn send_batch(
        &mut self,
        requests: Vec<bindings::Request>,
    ) -> wasmtime::Result<Vec<Result<bindings::Response, bindings::TransportError>>> {
        requests.into_iter().map(|r| self.send(r)).collect()
    }
}

impl clock::Host for Canned {
    fn now_ms(&mut self) -> wasmtime::Result<u64> {
        Ok(0)
    }
    fn sleep(&mut self, _: u32, _: clock::WaitReason) -> wasmtime::Result<()> {
        Ok(())
    }
}

impl state::Host for Canned {
    fn checkpoint(&mut self, _: String) -> wasmtime::Result<Result<(), String>> {
        Ok(Ok(()))
    }
}

impl output::Host for Canned {
    fn schema(
        &mut self,
        _: String,
        _: String,
        _: Vec<String>,
        _: Vec<String>,
    ) -> wasmtime::Result<()> {
        Ok(())
    }
    fn records(&mut self, _: String, records: Vec<String>) -> wasmtime::Result<()> {
        self.records += records.len() as u64;
        Ok(())
    }
    fn stream_complete(&mut self, _: String, _: bool) -> wasmtime::Result<()> {
        Ok(())
    }
    fn stream_version(&mut self, _: String, _: u64, _: bool) -> wasmtime::Result<()> {
        Ok(())
    }
    /// Keeps no copy.
    fn absent_keys(&mut self, _: String, _: u32) -> wasmtime::Result<Vec<String>> {
        Ok(Vec::new())
    }
    fn stream_progress(&mut self, _: String, _: u64, _: u64) -> wasmtime::Result<()> {
        Ok(())
    }
    fn stream_skipped(&mut self, _: String, _: String) -> wasmtime::Result<()> {
        Ok(())
    }
    fn log(&mut self, _: LogLevel, _: String) -> wasmtime::Result<()> {
        Ok(())
    }
}

/// The component compiled once, instantiated afresh for every round.
struct WasmPipeline {
    engine: Engine,
    component: Component,
    linker: Linker<Canned>,
}

impl WasmPipeline {
    fn new(component: &Path, config: wasmtime::Config) -> Self {
        let engine = Engine::new(&config).expect("engine");
        let component = Component::from_file(&engine, component).expect("compile the component");
        let mut linker = Linker::<Canned>::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker).expect("link WASI");
        SourceConnector::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s).expect("link imports");
        Self {
            engine,
            component,
            linker,
        }
    }

    fn run(&self, pages: &[Vec<u8>]) -> f64 {
        let data = Canned {
            wasi: WasiCtx::builder().build(),
            table: ResourceTable::new(),
            pages: pages.to_vec(),
            next: 0,
            records: 0,
        };
        let mut store = Store::new(&self.engine, data);
        // Nothing advances this engine's epoch: the checks run, never fire.
        store.set_epoch_deadline(1);
        let instance = SourceConnector::instantiate(&mut store, &self.component, &self.linker)
            .expect("instantiate");
        let started = Instant::now();
        let result: Result<(), Value> = instance
            .connector_source_source()
            .call_read(&mut store, CONFIG, Some(CATALOG), None)
            .expect("no trap")
            .map_err(|e| json!(e.message));
        result.expect("wasm read");
        records_per_second(store.data().records, started)
    }
}

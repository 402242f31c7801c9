//! Shared setup for the end-to-end tests: the real release component, loaded
//! into the real host, syncing from the real simulator over loopback HTTP.

#![allow(dead_code)] // each test binary uses a different part of this module

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use intercom_host::{Connector, Limits, LogLevel, Outcome, Runtime, Sink};
use intercom_sim::{SimConfig, Simulator};
use serde_json::{Value, json};
use serde_json::value::RawValue;

/// The component under test: `INTERCOM_CONNECTOR_COMPONENT`, or the release
/// build. Refuses a build older than the sources, so a test never passes on
/// stale code.
pub fn component_path() -> PathBuf {
    if let Some(path) = std::env::var_os("INTERCOM_CONNECTOR_COMPONENT") {
        return PathBuf::from(path);
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let wasm = root.join("target/wasm32-wasip2/release/intercom_connector.wasm");
    let built = std::fs::metadata(&wasm)
        .and_then(|m| m.modified())
        .unwrap_or_else(|_| panic!("{} is missing: run scripts/build first", wasm.display()));
    for dir in ["src", "wit"] {
        if let Some(newer) = newest_file(&root.join(dir)).filter(|(t, _)| *t > built) {
            panic!(
                "the component is older than {}: run scripts/build first",
                newer.1.display()
            );
        }
    }
    wasm
}

fn newest_file(dir: &Path) -> Option<(std::time::SystemTime, PathBuf)> {
    std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .filter_map(|entry| {
            let path = entry.path();
            if path.is_dir() {
                newest_file(&path)
            } else {
                Some((entry.metadata().ok()?.modified().ok()?, path))
            }
        })
        .max()
}

/// One compiled component shared by every test of a binary.
pub fn connector() -> &'static Connector {
    static CONNECTOR: OnceLock<Connector> = OnceLock::new();
    CONNECTOR.get_or_init(|| {
        let runtime = Runtime::new(Limits::default(), None).expect("engine");
        runtime.load(&component_path()).expect("load component")
    })
}

pub fn start_sim(config: SimConfig) -> Simulator {
    Simulator::start(config).expect("start simulator")
}

pub fn config_for(sim: &Simulator) -> String {
    json!({ "access_token": "sim-token", "base_url": sim.base_url() }).to_string()
}

/// Everything a run emitted, in order.
#[derive(Default, Debug)]
pub struct Collected {
    pub schemas: Vec<(String, Value, Vec<String>, Vec<String>)>,
    pub records: Vec<(String, Value)>,
    pub states: Vec<Value>,
    pub logs: Vec<(LogLevel, String)>,
}

impl Collected {
    pub fn records_of(&self, stream: &str) -> Vec<Value> {
        self.records
            .iter()
            .filter(|(s, _)| s == stream)
            .map(|(_, r)| r.clone())
            .collect()
    }
}

impl Sink for Collected {
    fn schema(
        &mut self,
        stream: &str,
        schema: &RawValue,
        key_properties: &[String],
        bookmark_properties: &[String],
    ) -> wasmtime::Result<()> {
        self.schemas.push((
            stream.to_string(),
            serde_json::from_str(schema.get())?,
            key_properties.to_vec(),
            bookmark_properties.to_vec(),
        ));
        Ok(())
    }

    fn records(&mut self, stream: &str, records: &[Box<RawValue>]) -> wasmtime::Result<()> {
        for record in records {
            self.records
                .push((stream.to_string(), serde_json::from_str(record.get())?));
        }
        Ok(())
    }

    fn checkpoint(&mut self, state: &RawValue) -> wasmtime::Result<()> {
        self.states.push(serde_json::from_str(state.get())?);
        Ok(())
    }

    fn log(&mut self, level: LogLevel, message: &str) {
        self.logs.push((level, message.to_string()));
    }
}

/// A full read through the network policy the component declares.
pub fn read(config: &str, catalog: Option<&str>, state: Option<&str>) -> (Collected, Outcome<()>) {
    let connector = connector();
    let policy = connector
        .network_policy(config, Collected::default())
        .expect("host")
        .expect("allowed origins");
    connector
        .read(config, catalog, state, policy, Collected::default())
        .expect("host failure")
}

/// Sorts by `id` so record sets compare regardless of order.
pub fn by_id(mut records: Vec<Value>) -> Vec<Value> {
    records.sort_by(|a, b| a["id"].to_string().cmp(&b["id"].to_string()));
    records
}

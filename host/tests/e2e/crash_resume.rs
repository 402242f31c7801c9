//! Kill -9 the host at many points of a sync, rerun from the last committed
//! state each time, and check the committed output covers the dataset.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::path::Path;

use crate::support::{dataset_keys, key, tap_from_state};
use intercom_sim::{SimConfig, Simulator};
use serde_json::{Value, json};

/// Kill when this run has emitted this many records of this stream.
const KILL_POINTS: &[(&str, usize)] = &[
    ("admins", 3),
    ("companies", 1),
    ("companies", 180),
    ("companies", 420),
    ("company_segments", 2),
    ("company_attributes", 4),
    ("contact_attributes", 7),
    ("contacts", 1),
    ("contacts", 149),
    ("contacts", 151),
    ("contacts", 900),
    ("contacts", 1700),
    ("conversation_parts", 1),
    ("conversation_parts", 800),
    ("conversations", 40),
    ("conversations", 300),
    ("conversation_parts", 2500),
    ("conversations", 700),
    ("conversation_parts", 5000),
    ("segments", 2),
    ("tags", 15),
    ("teams", 4),
];

struct Run {
    /// Records up to the last STATE, by stream.
    committed: Vec<(String, Value)>,
    state: Option<Value>,
    killed: bool,
}

fn run(config: &Path, state: Option<&Value>, kill: Option<(&str, usize)>, dir: &Path) -> Run {
    let mut child = tap_from_state(config, state, dir).spawn().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut seen = 0;
    let mut killed = false;
    let mut committed = Vec::new();
    let mut pending = Vec::new();
    let mut last_state = None;
    for line in lines.by_ref() {
        let Ok(line) = line else { break };
        // A line torn by the kill is not output.
        let Ok(message) = serde_json::from_str::<Value>(&line) else {
            continue;
        };
        match message["type"].as_str() {
            Some("RECORD") => {
                let stream = message["stream"].as_str().unwrap().to_string();
                if kill.is_some_and(|(s, _)| s == stream) {
                    seen += 1;
                }
                pending.push((stream, message["record"].clone()));
            }
            Some("STATE") => {
                committed.append(&mut pending);
                last_state = Some(message["value"].clone());
            }
            _ => {}
        }
        if !killed && kill.is_some_and(|(_, at)| seen == at) {
            child.kill().unwrap(); // SIGKILL: no cleanup, no flush
            killed = true;
        }
    }
    let status = child.wait().unwrap();
    assert!(
        killed || status.success(),
        "an unkilled run failed: {status}"
    );
    Run {
        committed,
        state: last_state.or_else(|| state.cloned()),
        killed,
    }
}

#[test]
fn killed_runs_resumed_from_their_state_lose_nothing() {
    // A killed run leaves its scroll open until it expires; keep that short.
    let sim = Simulator::start(SimConfig {
        scroll_expiry: std::time::Duration::from_secs(1),
        ..SimConfig::default()
    })
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.json");
    let body = json!({"access_token": "sim-token", "base_url": sim.base_url()});
    std::fs::write(&config, body.to_string()).unwrap();

    let mut union: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut state: Option<Value> = None;
    let mut kills = 0;
    for &(stream, at) in KILL_POINTS {
        let result = run(&config, state.as_ref(), Some((stream, at)), dir.path());
        for (stream, record) in &result.committed {
            union.entry(stream.clone()).or_default().insert(key(record));
        }
        kills += usize::from(result.killed);
        // A run that finished before its kill point starts the next one afresh.
        state = if result.killed { result.state } else { None };
    }
    let last = run(&config, state.as_ref(), None, dir.path());
    for (stream, record) in &last.committed {
        union.entry(stream.clone()).or_default().insert(key(record));
    }
    assert!(kills >= 20, "only {kills} runs were killed");
    let data = sim.dataset();
    for (stream, expected) in dataset_keys(&data) {
        assert_eq!(union.get(stream), Some(&expected), "{stream}");
    }
}

//! Kill -9 the Singer tap at many points of a sync and resume each killed
//! run from the last state it emitted, as a Singer runner does; the records
//! committed along each chain of runs are the dataset, row for row.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;

use crate::support::{
    Collected, assert_dataset, dropped_parts, key, tap_from_state, warned_dropped_parts,
};
use intercom_sim::{SimConfig, Simulator};
use serde_json::{Value, json};

/// SIGKILL a run once it has emitted this many records of this stream.
type KillPoint = (&'static str, usize);

/// Each chain starts from no state; each of its runs is killed at its kill
/// point and the next resumes from the state the killed run last emitted;
/// a last run completes the chain. The points of a chain come in the order
/// the streams are read, and each is within what its run still has to
/// read after the kills before it, so every one lands.
const CHAINS: &[&[KillPoint]] = &[
    &[
        ("activity_logs", 100),
        ("admins", 3),
        ("companies", 1),
        ("contacts", 1),
        ("contacts", 149),
        ("conversations", 40),
        ("conversation_parts", 1),
        ("segments", 2),
        ("tags", 15),
        ("teams", 4),
    ],
    &[
        ("articles", 30),
        ("companies", 80),
        ("company_segments", 2),
        ("contacts", 151),
        ("contacts", 450),
        ("conversation_parts", 400),
        ("conversations", 160),
        ("help_center_collections", 3),
        ("tickets", 100),
    ],
    &[
        ("companies", 170),
        ("company_attributes", 4),
        ("contact_attributes", 7),
        ("contacts", 700),
        ("conversation_parts", 1200),
        ("ticket_parts", 300),
    ],
    &[("conversations", 320), ("ticket_states", 2)],
    &[("conversation_parts", 2500), ("ticket_types", 2)],
];

/// A dataset of a few pages a stream, so the test's 37 runs stay quick.
fn crash_data() -> SimConfig {
    SimConfig {
        contacts: 800,
        companies: 200,
        conversations: 400,
        // Three pages: work is left after the first page's parts.
        tickets: 400,
        ..SimConfig::default()
    }
}

struct Run {
    /// Records up to the last STATE.
    committed: Collected,
    /// The last STATE's value, else the state the run started from.
    state: Option<Value>,
    /// What the run logged.
    stderr: String,
}

/// One tap run from `state`, SIGKILLed at `kill` if given: then it must
/// have been running when the kill reached it.
fn run(config: &Path, state: Option<&Value>, kill: Option<KillPoint>, dir: &Path) -> Run {
    let log = dir.join("stderr.log");
    let mut child = tap_from_state(config, state, dir)
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut seen = 0;
    let mut killed = false;
    let mut committed = Collected::default();
    let mut pending = Vec::new();
    let mut emitted = BTreeSet::new();
    for line in lines {
        let Ok(line) = line else { break };
        // A line torn by the kill is not output.
        let Ok(message) = serde_json::from_str::<Value>(&line) else {
            continue;
        };
        match message["type"].as_str() {
            Some("RECORD") => {
                let stream = message["stream"].as_str().unwrap().to_string();
                let record = message["record"].clone();
                // Singer output has no key to stop a record coming twice.
                assert!(
                    emitted.insert((stream.clone(), key(&record))),
                    "{stream} {} emitted twice in one run",
                    key(&record)
                );
                if kill.is_some_and(|(s, _)| s == stream) {
                    seen += 1;
                }
                pending.push((stream, record));
            }
            Some("STATE") => {
                committed.records.append(&mut pending);
                committed.states.push(message["value"].clone());
            }
            _ => {}
        }
        if !killed && kill.is_some_and(|(_, at)| seen == at) {
            child.kill().unwrap(); // SIGKILL: no cleanup, no flush
            killed = true;
        }
    }
    let status = child.wait().unwrap();
    match kill {
        Some(point) => {
            assert!(killed, "{point:?}: the run ended before it");
            assert_eq!(
                status.signal(),
                Some(9),
                "{point:?}: the run had ended: {status}"
            );
        }
        None => assert!(status.success(), "an unkilled run failed: {status}"),
    }
    Run {
        state: committed.states.last().cloned().or_else(|| state.cloned()),
        committed,
        stderr: std::fs::read_to_string(log).unwrap(),
    }
}

#[test]
fn killed_runs_resumed_from_their_state_lose_nothing() {
    // A killed run leaves its scroll open until it expires; keep that short.
    let sim = Simulator::start(SimConfig {
        scroll_expiry: std::time::Duration::from_secs(1),
        ..crash_data()
    })
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.json");
    let body = json!({"access_token": "sim-token", "base_url": sim.base_url()});
    std::fs::write(&config, body.to_string()).unwrap();
    let dropped = dropped_parts(&sim.dataset());
    assert!(
        !dropped.is_empty(),
        "a conversation has parts beyond the newest 500"
    );

    let mut kills = 0;
    for (n, chain) in CHAINS.iter().enumerate() {
        let mut runs = Vec::new();
        let mut state: Option<Value> = None;
        for &point in chain.iter() {
            let killed = run(&config, state.as_ref(), Some(point), dir.path());
            state = killed.state.clone();
            runs.push(killed);
            kills += 1;
        }
        runs.push(run(&config, state.as_ref(), None, dir.path()));
        let committed: Vec<&Collected> = runs.iter().map(|r| &r.committed).collect();
        assert_dataset(&sim, &committed, &format!("chain {n}"));
        let logs: String = runs.iter().map(|r| r.stderr.as_str()).collect();
        assert_eq!(
            warned_dropped_parts(&logs),
            dropped,
            "chain {n}: parts left out"
        );
    }
    let points: usize = CHAINS.iter().map(|c| c.len()).sum();
    assert_eq!(kills, points);
}

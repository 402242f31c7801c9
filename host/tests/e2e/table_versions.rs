//! Singer table versions through the real CLI: every full-table stream, and
//! every complete pass of companies, is a new version, activated after its
//! last record (and before its first on a table's first load), and a
//! resumed run keeps the version it began.

use std::io::{BufRead, BufReader};
use std::path::Path;

use crate::support::{catalog_of, start_sim, tap_from_state};
use intercom_sim::SimConfig;
use serde_json::{Value, json};

const STREAMS: [&str; 2] = ["admins", "teams"];

/// Runs `read` over `dir`'s config and catalog, from `state`; with `kill`,
/// SIGKILLs it once it has printed that many records of that stream.
/// Returns the messages read.
fn read(dir: &Path, state: Option<&Value>, kill: Option<(&str, usize)>) -> Vec<Value> {
    let mut command = tap_from_state(&dir.join("config.json"), state, dir);
    let mut child = command
        .arg("--catalog")
        .arg(dir.join("catalog.json"))
        .spawn()
        .unwrap();
    let mut messages = Vec::new();
    let mut seen = 0;
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let Ok(message) = serde_json::from_str::<Value>(&line.unwrap()) else {
            continue;
        };
        if message["type"] == "RECORD" && kill.is_some_and(|(s, _)| message["stream"] == s) {
            seen += 1;
        }
        messages.push(message);
        if kill.is_some_and(|(_, at)| seen == at) {
            child.kill().unwrap();
            break;
        }
    }
    let status = child.wait().unwrap();
    assert!(kill.is_some() || status.success(), "read failed: {status}");
    messages
}

fn setup() -> (intercom_sim::Simulator, tempfile::TempDir) {
    let sim = start_sim(SimConfig::default());
    let dir = tempfile::tempdir().unwrap();
    let config = json!({"access_token": "sim-token", "base_url": sim.base_url()});
    std::fs::write(dir.path().join("config.json"), config.to_string()).unwrap();
    std::fs::write(dir.path().join("catalog.json"), catalog_of(&STREAMS)).unwrap();
    (sim, dir)
}

/// The version the states of `messages` began for `stream`.
fn version_of(messages: &[Value], stream: &str) -> i64 {
    messages
        .iter()
        .filter(|m| m["type"] == "STATE")
        .find_map(|m| m["value"]["table_versions"][stream]["current"].as_i64())
        .unwrap_or_else(|| panic!("no table version for {stream}"))
}

/// `stream`'s messages as `TYPE:version`, runs of records as one `RECORD`.
fn shape_of(messages: &[Value], stream: &str) -> Vec<String> {
    let mut shape: Vec<String> = Vec::new();
    for m in messages.iter().filter(|m| m["stream"] == stream) {
        let entry = format!("{}:{}", m["type"].as_str().unwrap(), m["version"]);
        if shape.last() != Some(&entry) || m["type"] != "RECORD" {
            shape.push(entry);
        }
    }
    shape
}

fn last_state(messages: &[Value]) -> Value {
    let state = messages.iter().rev().find(|m| m["type"] == "STATE");
    state.unwrap()["value"].clone()
}

#[test]
fn full_table_streams_are_a_new_table_version_each_run() {
    let (sim, dir) = setup();
    let first = read(dir.path(), None, None);
    let data = sim.dataset();
    let counts = [data.admins.len(), data.teams.len()];
    let mut versions = Vec::new();
    for (stream, count) in STREAMS.into_iter().zip(counts) {
        let v = version_of(&first, stream);
        // First load: activated before the records too, so they show at once.
        assert_eq!(
            shape_of(&first, stream),
            [
                "SCHEMA:null".to_string(),
                format!("ACTIVATE_VERSION:{v}"),
                format!("RECORD:{v}"),
                format!("ACTIVATE_VERSION:{v}"),
            ],
            "{stream}"
        );
        let records = first
            .iter()
            .filter(|m| m["type"] == "RECORD" && m["stream"] == stream);
        assert_eq!(records.count(), count, "{stream}");
        versions.push(v);
    }
    let state = last_state(&first);
    for (stream, v) in STREAMS.into_iter().zip(&versions) {
        assert_eq!(state["table_versions"][stream], json!({"activated": v}));
    }

    let second = read(dir.path(), Some(&state), None);
    for (stream, v) in STREAMS.into_iter().zip(versions) {
        let next = version_of(&second, stream);
        assert!(next > v, "{stream}: {next} after {v}");
        // Not a first load: the old rows stay until the new pass is whole.
        assert_eq!(
            shape_of(&second, stream),
            [
                "SCHEMA:null".to_string(),
                format!("RECORD:{next}"),
                format!("ACTIVATE_VERSION:{next}"),
            ],
            "{stream}"
        );
    }
}

#[test]
fn a_resumed_run_keeps_the_version_its_killed_run_began() {
    let (_sim, dir) = setup();
    let done = read(dir.path(), None, None);
    let killed = read(dir.path(), Some(&last_state(&done)), Some(("teams", 2)));
    let began = version_of(&killed, "teams");
    let state = last_state(&killed);
    assert_eq!(state["table_versions"]["teams"]["current"], json!(began));
    assert!(
        !killed
            .iter()
            .any(|m| m["type"] == "ACTIVATE_VERSION" && m["stream"] == "teams"),
        "the killed pass activated nothing"
    );

    let resumed = read(dir.path(), Some(&state), None);
    assert_eq!(version_of(&resumed, "teams"), began);
    assert_eq!(
        shape_of(&resumed, "teams"),
        [
            "SCHEMA:null".to_string(),
            format!("RECORD:{began}"),
            format!("ACTIVATE_VERSION:{began}"),
        ]
    );
    assert!(version_of(&resumed, "admins") > version_of(&killed, "admins"));
}

#[test]
fn a_complete_pass_of_companies_is_a_table_version_at_its_interval() {
    let (sim, dir) = setup();
    let config = json!({"access_token": "sim-token", "base_url": sim.base_url(),
        "complete_pass_interval_hours": 0});
    std::fs::write(dir.path().join("config.json"), config.to_string()).unwrap();
    std::fs::write(dir.path().join("catalog.json"), catalog_of(&["companies"])).unwrap();
    let first = read(dir.path(), None, None);
    let v = version_of(&first, "companies");
    let second = read(dir.path(), Some(&last_state(&first)), None);
    let next = version_of(&second, "companies");
    assert!(next > v);
    assert_eq!(
        shape_of(&second, "companies"),
        [
            "SCHEMA:null".to_string(),
            format!("RECORD:{next}"),
            format!("ACTIVATE_VERSION:{next}"),
        ]
    );
    let sent = second
        .iter()
        .filter(|m| m["type"] == "RECORD" && m["stream"] == "companies");
    assert_eq!(sent.count(), sim.dataset().companies.len(), "every company");

    // Within the default interval, the next run is incremental again.
    let config = json!({"access_token": "sim-token", "base_url": sim.base_url()});
    std::fs::write(dir.path().join("config.json"), config.to_string()).unwrap();
    let third = read(dir.path(), Some(&last_state(&second)), None);
    assert!(
        !third
            .iter()
            .any(|m| m["type"] == "ACTIVATE_VERSION" || m["version"].is_i64()),
        "no version outside a pass"
    );
}

/// Through Singer a contacts pass reads the list, stamps its version and
/// activates it; a deleted contact is simply not sent. The tap keeps no copy,
/// so it has nothing to confirm: no tombstone, the target's version drops the row.
#[test]
fn a_complete_pass_of_contacts_is_a_table_version_without_tombstones() {
    let (sim, dir) = setup();
    let config = json!({"access_token": "sim-token", "base_url": sim.base_url(),
        "complete_pass_interval_hours": 0});
    std::fs::write(dir.path().join("config.json"), config.to_string()).unwrap();
    std::fs::write(dir.path().join("catalog.json"), catalog_of(&["contacts"])).unwrap();
    let first = read(dir.path(), None, None);
    let gone = sim.mutate(|d| {
        let id = d.contacts[7]["id"].as_str().unwrap().to_string();
        assert!(d.delete_contact(&id));
        id
    });
    let second = read(dir.path(), Some(&last_state(&first)), None);
    let next = version_of(&second, "contacts");
    assert!(next > version_of(&first, "contacts"));
    assert_eq!(
        shape_of(&second, "contacts"),
        [
            "SCHEMA:null".to_string(),
            format!("RECORD:{next}"),
            format!("ACTIVATE_VERSION:{next}"),
        ]
    );
    let schema = second
        .iter()
        .find(|m| m["type"] == "SCHEMA" && m["stream"] == "contacts")
        .unwrap();
    assert!(schema["schema"]["properties"]["_sdc_deleted_at"].is_object());
    let records: Vec<&Value> = second
        .iter()
        .filter(|m| m["type"] == "RECORD" && m["stream"] == "contacts")
        .map(|m| &m["record"])
        .collect();
    let ids: std::collections::BTreeSet<&str> =
        records.iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), sim.dataset().contacts.len(), "every contact");
    assert!(!ids.contains(gone.as_str()));
    assert!(records.iter().all(|r| r.get("_sdc_deleted_at").is_none()));
}

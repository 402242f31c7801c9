//! The binary's inputs in the Singer SDK's forms: `--config` repeated and
//! `--config ENV`, and a state document from Stitch's tap-intercom.

use std::process::{Command, Output};

use crate::support::component_path;
use intercom_sim::{SimConfig, Simulator};
use serde_json::{Value, json};

fn run(dir: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_intercom-connector"))
        .args(args)
        .arg("--component")
        .arg(component_path())
        .arg("--cache-dir")
        .arg(dir.join("cache"))
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The RECORD messages of `stream` and the last STATE's value.
fn messages(output: &Output, stream: &str) -> (Vec<Value>, Value) {
    let mut records = Vec::new();
    let mut state = Value::Null;
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        let message: Value = serde_json::from_str(line).unwrap();
        match message["type"].as_str() {
            Some("RECORD") if message["stream"] == stream => {
                records.push(message["record"].clone())
            }
            Some("STATE") => state = message["value"].clone(),
            _ => {}
        }
    }
    (records, state)
}

#[test]
fn configs_merge_in_order_and_env_reads_tap_intercom_variables() {
    let sim = Simulator::start(SimConfig::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("config.json");
    let settings = json!({"access_token": "revoked-token", "base_url": sim.base_url()});
    std::fs::write(&file, settings.to_string()).unwrap();
    let file = file.to_str().unwrap();
    let env = [
        ("TAP_INTERCOM_ACCESS_TOKEN", "sim-token"),
        ("TAP_INTERCOM_PAGE_SIZE", "7"),
    ];

    // The environment's token, given later, wins over the file's.
    let later = run(
        dir.path(),
        &["--config", file, "--config", "ENV", "check"],
        &env,
    );
    assert!(later.status.success(), "{}", stderr(&later));
    // Given first, the file's token wins and is refused.
    let earlier = run(
        dir.path(),
        &["--config", "ENV", "--config", file, "check"],
        &env,
    );
    assert_eq!(earlier.status.code(), Some(1), "{}", stderr(&earlier));
    assert!(
        stderr(&earlier).contains("auth error"),
        "{}",
        stderr(&earlier)
    );

    // ENV alone, every setting from variables; values typed by the spec.
    let base_url = sim.base_url();
    let alone = [
        ("TAP_INTERCOM_ACCESS_TOKEN", "sim-token"),
        ("TAP_INTERCOM_BASE_URL", base_url.as_str()),
        ("TAP_INTERCOM_START_DATE", "2020-01-01"),
        ("TAP_INTERCOM_PAGE_SIZE", "5"),
    ];
    let synced = run(
        dir.path(),
        &["--config", "ENV", "--streams", "tags"],
        &alone,
    );
    assert!(synced.status.success(), "{}", stderr(&synced));
    assert!(!messages(&synced, "tags").0.is_empty());
    let mistyped = run(
        dir.path(),
        &["--config", "ENV", "check"],
        &[("TAP_INTERCOM_PAGE_SIZE", "many")],
    );
    assert_eq!(mistyped.status.code(), Some(2));
    assert!(
        stderr(&mistyped).contains("TAP_INTERCOM_PAGE_SIZE must be an integer"),
        "{}",
        stderr(&mistyped)
    );
}

#[test]
fn a_stitch_state_resumes_from_its_bookmarks() {
    let sim = Simulator::start(SimConfig::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.json");
    let settings = json!({"access_token": "sim-token", "base_url": sim.base_url()});
    std::fs::write(&config, settings.to_string()).unwrap();
    let config = config.to_str().unwrap();
    let streams = ["--streams", "conversations"];

    let full = run(
        dir.path(),
        &[&["--config", config][..], &streams[..]].concat(),
        &[],
    );
    assert!(full.status.success(), "{}", stderr(&full));
    let (all, _) = messages(&full, "conversations");
    let mut times: Vec<&str> = all
        .iter()
        .map(|r| r["updated_at"].as_str().unwrap())
        .collect();
    times.sort();
    let middle = chrono::DateTime::parse_from_rfc3339(times[times.len() / 2]).unwrap();

    // What tap-intercom writes: microseconds, beside its resume hints.
    let bookmark = middle.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string();
    let stitch = json!({"currently_syncing": null, "bookmarks": {
        "conversations": {"updated_at": bookmark, "last_processed": "1"},
        "contacts": {"updated_at": bookmark}}});
    let state = dir.path().join("stitch-state.json");
    std::fs::write(&state, stitch.to_string()).unwrap();
    let args = [
        &["--config", config, "--state", state.to_str().unwrap()][..],
        &streams[..],
    ]
    .concat();
    let resumed = run(dir.path(), &args, &[]);
    assert!(resumed.status.success(), "{}", stderr(&resumed));
    assert!(
        stderr(&resumed).contains("Stitch tap-intercom state"),
        "{}",
        stderr(&resumed)
    );
    let (records, last_state) = messages(&resumed, "conversations");
    assert!(
        !records.is_empty() && records.len() < all.len(),
        "{} of {}",
        records.len(),
        all.len()
    );
    // The search started at the bookmark, less the documented lookback.
    let from = middle.timestamp() - 600 - 1;
    for record in &records {
        let at = chrono::DateTime::parse_from_rfc3339(record["updated_at"].as_str().unwrap());
        assert!(at.unwrap().timestamp() >= from, "{record}");
    }
    assert_eq!(last_state["version"], 1);
    // Bookmarks of streams not synced are carried over in this release's form.
    assert_eq!(
        last_state["bookmarks"]["contacts"],
        json!({"updated_at": bookmark})
    );
}

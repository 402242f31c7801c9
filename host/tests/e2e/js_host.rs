//! The contract is host-agnostic: the same component, run by an independent
//! JavaScript host (tests/js-host: jco-transpiled, on Node.js), discovers the
//! same catalog and syncs the same records, schemas and states as the Rust
//! host from a simulator with the same seed.
//!
//! Needs Node.js >= 20 and npm on PATH; installs tests/js-host's locked
//! dependencies with `npm ci` when they are missing or stale.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::support::*;
use intercom_sim::SimConfig;
use serde_json::{Value, json};

/// A run of the JS host may take this long before the test gives up on it.
const RUN_TIMEOUT: Duration = Duration::from_secs(180);

fn js_dir() -> PathBuf {
    root().join("tests/js-host")
}

/// Node is present and recent enough, and the JS host's dependencies are
/// installed exactly as package-lock.json pins them. Once per test binary.
fn prepared() {
    static READY: OnceLock<()> = OnceLock::new();
    READY.get_or_init(|| {
        let version = Command::new("node")
            .arg("--version")
            .stdin(Stdio::null())
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_else(|| {
                panic!("the js_host test needs Node.js >= 20 (`node` on PATH) and npm; none found")
            });
        let major: u32 = version
            .trim_start_matches('v')
            .split('.')
            .next()
            .and_then(|m| m.parse().ok())
            .unwrap_or(0);
        assert!(
            major >= 20,
            "the js_host test needs Node.js >= 20, found {version}"
        );

        let dir = js_dir();
        let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
        let lock =
            modified(&dir.join("package-lock.json")).expect("tests/js-host/package-lock.json");
        // npm ci leaves node_modules/.package-lock.json behind; older than the
        // lockfile (or missing) means the install is stale.
        let installed = modified(&dir.join("node_modules/.package-lock.json"));
        if installed.is_none_or(|t| t < lock) {
            let output = Command::new("npm")
                .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
                .current_dir(&dir)
                .env("CI", "true")
                .stdin(Stdio::null())
                .output()
                .unwrap_or_else(|e| {
                    panic!("the js_host test needs npm (with Node.js >= 20) on PATH: {e}")
                });
            assert!(
                output.status.success(),
                "npm ci in tests/js-host failed:\n{}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
    });
}

/// Runs `node host.mjs --component <release build> ARGS`, with a deadline.
fn js_host(args: &[&str]) -> Output {
    js_host_on(&component_path(), args)
}

/// Runs `node host.mjs --component COMPONENT ARGS`, with a deadline.
pub(crate) fn js_host_on(component: &Path, args: &[&str]) -> Output {
    prepared();
    let out_dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("js-host");
    let mut child = Command::new("node")
        .arg(js_dir().join("host.mjs"))
        .arg("--component")
        .arg(component)
        .arg("--out-dir")
        .arg(&out_dir)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start node");
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            pipe.read_to_end(&mut bytes).map(|_| bytes)
        })
    };
    let stdout = drain(Box::new(child.stdout.take().unwrap()));
    let stderr = drain(Box::new(child.stderr.take().unwrap()));
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for node") {
            break status;
        }
        if started.elapsed() > RUN_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the JS host ran longer than {RUN_TIMEOUT:?}: {args:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Output {
        status,
        stdout: stdout.join().unwrap().expect("read stdout"),
        stderr: stderr.join().unwrap().expect("read stderr"),
    }
}

fn succeeded(output: &Output) -> String {
    assert!(
        output.status.success(),
        "the JS host failed ({}):\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout.clone()).expect("UTF-8 stdout")
}

fn config_file(config: &str) -> tempfile::NamedTempFile {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), config).unwrap();
    file
}

/// The JS host's Singer output, parsed into the same shape as the Rust
/// host's `Collected`.
/// Notes a table version the first time a message shows it.
fn note_version(out: &mut Collected, stream: String, version: u64, first_load: bool) {
    if !out
        .versions
        .iter()
        .any(|(s, v, _)| *s == stream && *v == version)
    {
        out.versions.push((stream, version, first_load));
    }
}

fn parse_singer(stdout: &str) -> Collected {
    let mut out = Collected::default();
    for line in stdout.lines() {
        let message: Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("stdout line is not JSON ({e}): {line}"));
        let strings = |v: &Value| -> Vec<String> {
            v.as_array()
                .unwrap_or_else(|| panic!("not an array in {line}"))
                .iter()
                .map(|s| s.as_str().unwrap().to_string())
                .collect()
        };
        let stream = || message["stream"].as_str().unwrap().to_string();
        match message["type"].as_str() {
            Some("SCHEMA") => out.schemas.push((
                stream(),
                message["schema"].clone(),
                strings(&message["key_properties"]),
                strings(&message["bookmark_properties"]),
            )),
            Some("RECORD") => {
                assert!(
                    message["time_extracted"].is_string(),
                    "RECORD without time_extracted"
                );
                out.records.push((stream(), message["record"].clone()));
                // A version first seen on a record: a pass that is no first load.
                if let Some(version) = message["version"].as_u64() {
                    note_version(&mut out, stream(), version, false);
                }
            }
            // Before any record of its version: a first load.
            Some("ACTIVATE_VERSION") => {
                note_version(
                    &mut out,
                    stream(),
                    message["version"].as_u64().unwrap(),
                    true,
                );
            }
            Some("STATE") => out.states.push(message["value"].clone()),
            _ => panic!("unexpected Singer message: {line}"),
        }
    }
    out
}

#[test]
fn the_js_host_discovers_the_same_catalog() {
    let sim = start_sim(SimConfig::default());
    let config = config_for(&sim);
    let rust = discover(&config);
    let file = config_file(&config);
    let js = succeeded(&js_host(&[
        "--discover",
        "--config",
        file.path().to_str().unwrap(),
    ]));
    assert_eq!(js.strip_suffix('\n'), Some(rust.as_str()));
    let catalog: Value = serde_json::from_str(&rust).unwrap();
    assert_eq!(
        catalog["streams"].as_array().unwrap().len(),
        ALL_STREAMS.len()
    );
}

#[test]
fn the_js_host_syncs_what_the_rust_host_syncs() {
    // Two simulators with the same (default) seed, one per host.
    let rust_sim = start_sim(SimConfig::default());
    let (rust, outcome) = read(&config_for(&rust_sim), None, None);
    outcome.expect("rust host sync succeeds");

    let js_sim = start_sim(SimConfig::default());
    let file = config_file(&config_for(&js_sim));
    let started = Instant::now();
    let output = js_host(&["--read", "--config", file.path().to_str().unwrap()]);
    let elapsed = started.elapsed();
    let js = parse_singer(&succeeded(&output));
    eprintln!(
        "JS host: {} records, {} states in {elapsed:.1?}",
        js.records.len(),
        js.states.len()
    );

    let data = js_sim.dataset();
    for stream in ALL_STREAMS {
        let records = by_key(js.records_of(stream));
        assert!(!records.is_empty(), "{stream}: no records");
        assert_eq!(
            records,
            by_key(rust.records_of(stream)),
            "{stream}: JS vs Rust host"
        );
        assert_eq!(
            records,
            by_key(expected(stream, &data)),
            "{stream}: JS host vs dataset"
        );
    }
    assert_eq!(js.records.len(), rust.records.len());
    // Same declarations, in the same order.
    assert_eq!(js.schemas, rust.schemas);
    // Same commits: the connector checkpoints per page, so the sequence is
    // deterministic for a seed, whichever host runs it.
    let (js_states, rust_states) = (clockless(&js.states), clockless(&rust.states));
    assert_eq!(js_states.last(), rust_states.last(), "final state");
    assert!(js.states.last().unwrap()["bookmarks"]["contacts"].is_object());
    assert_eq!(js_states, rust_states, "checkpoint sequence");
    // The same streams sent whole, each a first load.
    let passes = |out: &Collected| -> Vec<(String, bool)> {
        out.versions
            .iter()
            .map(|(s, _, first)| (s.clone(), *first))
            .collect()
    };
    assert!(!rust.versions.is_empty());
    assert_eq!(passes(&js), passes(&rust));
}

/// States with each table version (a clock reading) replaced by `true`; a
/// pass's list cursor is the same for a seed and stays.
fn clockless(states: &[Value]) -> Vec<Value> {
    let mut states = states.to_vec();
    for state in &mut states {
        let versions = state["table_versions"].as_object_mut().into_iter();
        for entry in versions.flat_map(|v| v.values_mut()) {
            let entry = entry.as_object_mut().unwrap();
            for (name, version) in entry.iter_mut() {
                if matches!(name.as_str(), "current" | "activated") {
                    assert!(version.is_i64(), "{version}");
                    *version = Value::Bool(true);
                }
            }
        }
    }
    states
}

#[test]
fn the_js_host_reports_connector_errors_by_category() {
    let sim = start_sim(SimConfig::default());
    let config = json!({ "access_token": "wrong-token", "base_url": sim.base_url() }).to_string();
    let file = config_file(&config);
    let output = js_host(&["--read", "--config", file.path().to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("error: auth error: "), "{stderr}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        !stdout.contains(r#""type":"RECORD""#),
        "no records on failure"
    );

    // A config error names the file and exits 2, as the Rust host does.
    let file = config_file("{}");
    let output = js_host(&["--read", "--config", file.path().to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("access_token"), "{stderr}");
}

#[test]
fn the_js_host_enforces_the_network_rule() {
    prepared();
    let output = Command::new("node")
        .args(["--test", "policy.test.mjs"])
        .current_dir(js_dir())
        .stdin(Stdio::null())
        .output()
        .expect("run node --test");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );
    // A component that declares a non-loopback plain-http origin is refused
    // before it runs.
    let file = config_file(r#"{"access_token":"tok_x_secret","base_url":"http://example.com"}"#);
    let output = js_host(&["--read", "--config", file.path().to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("plain http is allowed only to loopback"),
        "{stderr}"
    );
}

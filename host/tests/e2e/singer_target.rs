//! The tap's Singer output loads into real Singer targets from PyPI:
//! MeltanoLabs' `target-csv`, built on the Meltano SDK, which validates every
//! SCHEMA message against the JSON Schema metaschema and every RECORD
//! against its stream's schema; `target-jsonl`; and `target-duckdb`, which
//! flattens nested objects by their schemas into columns. Row counts equal
//! the records the tap emitted, so no message was dropped or refused. Every
//! RECORD is also checked against its SCHEMA with formats asserted, as the
//! strictest targets do.
//!
//! Needs python3 (3.10+) with venv and pip, and PyPI; each target is
//! installed once into a venv under `target/singer-targets`.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use intercom_sim::{SimConfig, Simulator};
use serde_json::{Value, json};

use crate::support::{ALL_STREAMS, cli, key, root};

/// The venv named `name` holding its requirements from `singer-targets.txt`
/// (which `scripts/singer-targets` installs ahead); created and filled on
/// first use. A marker naming the requirements makes later runs skip pip.
pub(crate) fn venv(name: &str) -> PathBuf {
    let requirement = include_str!("singer-targets.txt")
        .lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("singer-targets.txt has no line for {name}"));
    let requirements: Vec<&str> = requirement.split(' ').collect();
    let dir = root().join("target/singer-targets").join(name);
    let marker = dir.join("installed.txt");
    if std::fs::read_to_string(&marker).is_ok_and(|m| m.trim() == requirement) {
        return dir;
    }
    let run = |program: &Path, args: &[&str], what: &str| {
        let output = Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| {
                panic!(
                    "{what}: cannot run {}: {e}; this test needs python3 (3.10+) with venv and pip",
                    program.display()
                )
            });
        assert!(
            output.status.success(),
            "{what} failed ({}); this test needs python3 (3.10+) with venv and pip, and PyPI:\n{}{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    };
    let dir_arg = dir.to_str().unwrap();
    run(
        Path::new("python3"),
        &["-m", "venv", "--clear", dir_arg],
        "python3 -m venv",
    );
    run(
        &dir.join("bin/python"),
        &[
            &[
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
            ],
            requirements.as_slice(),
        ]
        .concat(),
        &format!("pip install {requirement}"),
    );
    std::fs::write(&marker, requirement).unwrap();
    dir
}

#[test]
fn every_stream_loads_into_target_csv() {
    let venv = venv("csv");
    // target-csv writes only the columns a SCHEMA lists and refuses a record
    // with any other field; the connector passes fields Intercom adds beyond
    // its description through (see the README), so this test leaves them out.
    let sim = Simulator::start(SimConfig {
        lenient: intercom_sim::Lenient {
            plain_data: true,
            ..Default::default()
        },
        ..SimConfig::default()
    })
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.json");
    let config_doc = json!({"access_token": "sim-token", "base_url": sim.base_url()});
    std::fs::write(&config, config_doc.to_string()).unwrap();
    let out = dir.path().join("csv");
    std::fs::create_dir(&out).unwrap();
    let target_config = dir.path().join("target.json");
    let target_doc = json!({"output_path": out, "validate_records": true});
    std::fs::write(&target_config, target_doc.to_string()).unwrap();

    // Logs go to files: an unread stderr pipe would fill and stall the pipeline.
    let tap_log = dir.path().join("tap.log");
    let target_log = dir.path().join("target.log");
    let mut tap = cli()
        .arg("--config")
        .arg(&config)
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&tap_log).unwrap())
        .spawn()
        .unwrap();
    let mut target = Command::new(venv.join("bin/target-csv"))
        .arg("--config")
        .arg(&target_config)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&target_log).unwrap())
        .spawn()
        .unwrap();

    // tap | target, counting the records on the way through.
    let mut emitted: BTreeMap<String, usize> = BTreeMap::new();
    let mut into_target = target.stdin.take().unwrap();
    for line in BufReader::new(tap.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        let message: Value = serde_json::from_str(&line).unwrap();
        if message["type"] == "RECORD" {
            *emitted
                .entry(message["stream"].as_str().unwrap().to_owned())
                .or_default() += 1;
        }
        if writeln!(into_target, "{line}").is_err() {
            break; // The target quit; its stderr says why.
        }
    }
    drop(into_target);
    let (tap, target) = (tap.wait().unwrap(), target.wait().unwrap());
    let log = |path| std::fs::read_to_string(path).unwrap();
    assert!(
        target.success(),
        "target-csv refused the tap's output ({target}):\n{}",
        last_lines(&log(&target_log), 40)
    );
    assert!(tap.success(), "{}", log(&tap_log));
    assert_eq!(emitted.len(), ALL_STREAMS.len(), "{emitted:?}");

    assert_eq!(csv_rows(&venv, &out), emitted);
}

/// Data rows per `<stream>.csv`, counted by Python's csv module (values may
/// hold newlines).
fn csv_rows(venv: &Path, dir: &Path) -> BTreeMap<String, usize> {
    const COUNT: &str = "import csv, json, pathlib, sys
rows = {}
for f in sorted(pathlib.Path(sys.argv[1]).glob('*.csv')):
    with open(f, newline='', encoding='utf-8') as h:
        rows[f.stem] = sum(1 for _ in csv.reader(h)) - 1
print(json.dumps(rows))";
    serde_json::from_value(python(venv, COUNT, dir)).unwrap()
}

/// What `script`, run by the venv's Python with `arg`, prints as JSON.
fn python(venv: &Path, script: &str, arg: &Path) -> Value {
    let output = succeeded(
        Command::new(venv.join("bin/python"))
            .args(["-c", script])
            .arg(arg),
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

/// The output of `command`, which must exit 0 (else its stderr fails the test).
fn succeeded(command: &mut Command) -> std::process::Output {
    let output = command.output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// A full sync of every stream from a fresh simulator, as Singer messages
/// in `dir/sync.jsonl`, and the records emitted per stream.
fn full_sync(dir: &Path) -> (PathBuf, BTreeMap<String, usize>) {
    let sim = Simulator::start(SimConfig::default()).unwrap();
    let config = dir.join("config.json");
    let config_doc = json!({"access_token": "sim-token", "base_url": sim.base_url()});
    std::fs::write(&config, config_doc.to_string()).unwrap();
    let out = dir.join("sync.jsonl");
    succeeded(
        cli()
            .arg("--config")
            .arg(&config)
            .stdout(std::fs::File::create(&out).unwrap()),
    );
    let mut emitted: BTreeMap<String, usize> = BTreeMap::new();
    for message in messages(&out) {
        if message["type"] == "RECORD" {
            *emitted
                .entry(message["stream"].as_str().unwrap().to_owned())
                .or_default() += 1;
        }
    }
    assert_eq!(emitted.len(), ALL_STREAMS.len(), "{emitted:?}");
    (out, emitted)
}

pub(crate) fn messages(path: &Path) -> impl Iterator<Item = Value> {
    let file = std::fs::File::open(path).unwrap();
    BufReader::new(file)
        .lines()
        .map(|line| serde_json::from_str(&line.unwrap()).unwrap())
}

#[test]
fn every_record_matches_its_schema_with_formats_checked() {
    let dir = tempfile::tempdir().unwrap();
    let (sync, emitted) = full_sync(dir.path());
    let mut validators = BTreeMap::new();
    let mut failures = Vec::new();
    let mut failed = 0;
    for message in messages(&sync) {
        let stream = message["stream"].as_str().unwrap_or_default().to_owned();
        if message["type"] == "SCHEMA" {
            let validator = jsonschema::options()
                .should_validate_formats(true)
                .build(&message["schema"])
                .unwrap_or_else(|e| panic!("the schema of {stream} does not compile: {e}"));
            validators.insert(stream, validator);
        } else if message["type"] == "RECORD" {
            for error in validators[&stream].iter_errors(&message["record"]) {
                failed += 1;
                if failures.len() < 20 {
                    failures.push(format!("{stream} {}: {error}", error.instance_path()));
                }
            }
        }
    }
    assert_eq!(
        failed,
        0,
        "{failed} failures in {} records, the first ones:\n{}",
        emitted.values().sum::<usize>(),
        failures.join("\n")
    );
}

#[test]
fn a_full_sync_loads_into_target_jsonl_and_target_duckdb() {
    let dir = tempfile::tempdir().unwrap();
    let (sync, emitted) = full_sync(dir.path());

    let jsonl = dir.path().join("jsonl");
    let jsonl_config = json!({"destination_path": jsonl, "do_timestamp_file": false});
    load("jsonl", &jsonl_config, &sync, dir.path());
    let lines = |stream: &str| {
        let path = jsonl.join(format!("{stream}.jsonl"));
        std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
            .lines()
            .count()
    };
    let written: BTreeMap<String, usize> = emitted.keys().map(|s| (s.clone(), lines(s))).collect();
    assert_eq!(written, emitted);

    // target-duckdb flattens nested objects into columns by their schemas
    // (target-sqlite, the older flattener, no longer runs on Python 3.10+).
    let database = dir.path().join("loaded.duckdb");
    let duckdb_config = json!({"path": database, "default_target_schema": "intercom", "data_flattening_max_level": 10});
    let venv = load("duckdb", &duckdb_config, &sync, dir.path());
    const COUNT: &str = "import duckdb, json, sys
db = duckdb.connect(sys.argv[1], read_only=True)
tables = [t for (t,) in db.execute(\"SELECT table_name FROM information_schema.tables WHERE table_schema = 'intercom'\").fetchall()]
rows = {t: db.execute(f'SELECT count(*) FROM intercom.\"{t}\"').fetchone()[0] for t in tables}
columns = [c for (c,) in db.execute(\"SELECT column_name FROM information_schema.columns WHERE table_name = 'conversations'\").fetchall()]
print(json.dumps({'rows': rows, 'columns': columns}))";
    let loaded = python(&venv, COUNT, &database);
    // The target upserts by key; a full sync emits a few records twice.
    let mut keys: BTreeMap<String, std::collections::BTreeSet<String>> = BTreeMap::new();
    for message in messages(&sync).filter(|m| m["type"] == "RECORD") {
        let stream = message["stream"].as_str().unwrap().to_owned();
        keys.entry(stream)
            .or_default()
            .insert(key(&message["record"]));
    }
    let distinct: BTreeMap<String, usize> = keys.into_iter().map(|(s, k)| (s, k.len())).collect();
    assert_eq!(loaded["rows"], json!(distinct));
    let columns = loaded["columns"].as_array().unwrap();
    assert!(
        columns.contains(&json!("ai_agent__content_sources__total_count")),
        "conversations were not flattened: {columns:?}"
    );
}

/// Feeds the Singer messages in `sync` to the target in venv `name`, whose
/// executable is `target-<name>`, checks it exits 0 and returns its venv.
pub(crate) fn load(name: &str, config: &Value, sync: &Path, dir: &Path) -> PathBuf {
    let venv = venv(name);
    let config_path = dir.join(format!("target-{name}.json"));
    std::fs::write(&config_path, config.to_string()).unwrap();
    let log = dir.join(format!("target-{name}.log"));
    let status = Command::new(venv.join(format!("bin/target-{name}")))
        .arg("--config")
        .arg(&config_path)
        .stdin(std::fs::File::open(sync).unwrap())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .status()
        .unwrap();
    assert!(
        status.success(),
        "target-{name} refused the tap's output ({status}):\n{}",
        last_lines(&std::fs::read_to_string(&log).unwrap(), 40)
    );
    venv
}

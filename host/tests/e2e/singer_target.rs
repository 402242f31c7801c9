//! The tap's Singer output loads into a real Singer target: MeltanoLabs'
//! `target-csv` from PyPI, built on the Meltano SDK, which validates every
//! SCHEMA message against the JSON Schema metaschema and every RECORD
//! against its stream's schema. Row counts per CSV equal the records the
//! tap emitted, so no message was dropped or refused.
//!
//! Needs python3 (3.10+) with venv and pip, and PyPI; the target is
//! installed once into `target/singer-venv`.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::support::{component_path, root};
use intercom_sim::{SimConfig, Simulator};
use serde_json::{Value, json};

const REQUIREMENT: &str = "meltanolabs-target-csv==0.5.0";

/// The venv holding the target; created and filled on first use. A marker
/// naming the requirement makes later runs skip pip.
fn venv() -> PathBuf {
    let dir = root().join("target/singer-venv");
    let marker = dir.join("installed.txt");
    if std::fs::read_to_string(&marker).is_ok_and(|m| m.trim() == REQUIREMENT) {
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
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            REQUIREMENT,
        ],
        &format!("pip install {REQUIREMENT}"),
    );
    std::fs::write(&marker, REQUIREMENT).unwrap();
    dir
}

#[test]
fn every_stream_loads_into_target_csv() {
    let venv = venv();
    let sim = Simulator::start(SimConfig::for_current_connector()).unwrap();
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
    let mut tap = Command::new(env!("CARGO_BIN_EXE_intercom-connector"))
        .arg("--config")
        .arg(&config)
        .arg("--component")
        .arg(component_path())
        .arg("--cache-dir")
        .arg(dir.path().join("cache"))
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
    assert_eq!(emitted.len(), 11, "{emitted:?}");

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
    let output = Command::new(venv.join("bin/python"))
        .args(["-c", COUNT])
        .arg(dir)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

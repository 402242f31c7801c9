//! Streams read at no extra call, and streams the token may not read.

use std::process::Command;

use crate::support::*;
use intercom_host::LogLevel;
use intercom_sim::{Refusal, Restriction, SimConfig, Simulator};
use serde_json::{Value, json};

/// A read of `streams` and the authenticated requests it cost.
fn read_counting(sim: &Simulator, config: &str, streams: &[&str]) -> (Collected, u64) {
    let before = sim.stats().authenticated;
    let (out, outcome) = read(config, Some(&catalog_of(streams)), None);
    outcome.expect("sync succeeds");
    (out, sim.stats().authenticated - before)
}

#[test]
fn company_segments_come_from_the_scroll_at_no_extra_call() {
    let sim = start_sim(SimConfig {
        companies: 240,
        ..SimConfig::default()
    });
    let config = config_for(&sim);
    let (_, companies_alone) = read_counting(&sim, &config, &["companies"]);
    let (out, both) = read_counting(&sim, &config, &["companies", "company_segments"]);
    assert_eq!(both, companies_alone, "company_segments cost extra calls");
    let expected = expected("company_segments", &sim.dataset());
    assert_eq!(
        by_key(out.records_of("company_segments")),
        by_key(expected.clone())
    );

    // The documented option reads them with one call per company instead.
    let mut per_company: Value = serde_json::from_str(&config).unwrap();
    per_company["company_segments_per_company"] = json!(true);
    let (out, calls) = read_counting(
        &sim,
        &per_company.to_string(),
        &["companies", "company_segments"],
    );
    assert_eq!(calls, companies_alone + 240);
    assert_eq!(by_key(out.records_of("company_segments")), by_key(expected));
}

fn restricted() -> SimConfig {
    SimConfig {
        restricted: vec![
            Restriction {
                path_prefix: "/conversations".into(),
                refusal: Refusal::Plan,
            },
            Restriction {
                path_prefix: "/tags".into(),
                refusal: Refusal::Permission,
            },
        ],
        ..SimConfig::default()
    }
}

#[test]
fn streams_the_token_may_not_read_are_skipped_with_one_warning_each() {
    let sim = start_sim(restricted());
    let (out, outcome) = read(&config_for(&sim), None, None);
    outcome.expect("the sync goes on and succeeds");
    let skipped = ["conversation_parts", "conversations", "tags"];
    for stream in skipped {
        let warnings: Vec<&String> = out
            .logs
            .iter()
            .filter(|(level, m)| {
                *level == LogLevel::Warn && m.starts_with(&format!("skipped stream `{stream}`"))
            })
            .map(|(_, m)| m)
            .collect();
        assert_eq!(warnings.len(), 1, "{stream}: {:?}", out.logs);
        let permission = if stream == "tags" {
            "Read tags"
        } else {
            "Read conversations"
        };
        assert!(warnings[0].contains(permission), "{}", warnings[0]);
        assert!(out.records_of(stream).is_empty(), "{stream}");
    }
    assert!(
        out.logs
            .iter()
            .any(|(_, m)| m.contains("api_plan_restricted"))
    );
    assert!(
        out.logs
            .iter()
            .any(|(_, m)| m.contains("token_unauthorized"))
    );
    let data = sim.dataset();
    for stream in ALL_STREAMS.iter().filter(|s| !skipped.contains(*s)) {
        assert_eq!(
            by_key(out.records_of(stream)),
            by_key(expected(stream, &data)),
            "{stream}"
        );
    }
}

#[test]
fn the_summary_lists_the_skipped_streams_and_the_exit_code_is_zero() {
    let sim = start_sim(restricted());
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.json");
    std::fs::write(&config, config_for(&sim)).unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_intercom-connector"))
        .arg("--config")
        .arg(&config)
        .args(["--log-format", "json", "sync", "--database"])
        .arg(dir.path().join("out.db"))
        .arg("--component")
        .arg(component_path())
        .arg("--cache-dir")
        .arg(dir.path().join("cache"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let summary: Value = stderr
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|l| l["fields"]["skipped_streams"].is_array())
        .expect("a summary line");
    assert_eq!(
        summary["fields"]["skipped_streams"],
        json!(["conversations", "conversation_parts", "tags"])
    );
}

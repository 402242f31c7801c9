//! Streams beyond the seed's eleven, streams read at no extra call, and
//! streams the token may not read.

use std::collections::BTreeSet;
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
    let skipped = [
        "conversation_attributes",
        "conversation_parts",
        "conversations",
        "tags",
    ];
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
        let calls: Vec<&String> = out
            .skipped
            .iter()
            .filter(|(s, _)| s == stream)
            .map(|(_, reason)| reason)
            .collect();
        assert_eq!(calls.len(), 1, "{stream}: {:?}", out.skipped);
        assert!(calls[0].contains(permission), "{}", calls[0]);
    }
    assert_eq!(out.skipped.len(), skipped.len(), "{:?}", out.skipped);
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
        json!([
            "conversation_attributes",
            "conversations",
            "conversation_parts",
            "tags"
        ])
    );
}

/// UNIX seconds of a bookmark in a state document.
fn bookmark(state: &Value, stream: &str, field: &str) -> i64 {
    let text = state["bookmarks"][stream][field].as_str().unwrap();
    chrono::DateTime::parse_from_rfc3339(text)
        .unwrap()
        .timestamp()
}

fn ids(records: &[Value]) -> BTreeSet<String> {
    records.iter().map(key).collect()
}

/// A config without search lookback, so a run's overlap with the one
/// before is only the records at the bookmark second.
fn no_lookback(sim: &Simulator) -> String {
    json!({
        "access_token": "sim-token",
        "base_url": sim.base_url(),
        "search_lookback_seconds": 0,
    })
    .to_string()
}

#[test]
fn tickets_come_from_search_pages_of_150_and_their_parts_from_each_changed_ticket() {
    let sim = start_sim(realistic());
    let config = no_lookback(&sim);
    let tickets = sim.dataset().tickets.len() as u64;
    let (out, calls) = read_counting(&sim, &config, &["tickets"]);
    assert_eq!(calls, tickets.div_ceil(150), "search pages");
    let data = sim.dataset();
    assert_eq!(
        by_key(out.records_of("tickets")),
        by_key(expected("tickets", &data))
    );

    let (first, calls) = read_counting(&sim, &config, &["tickets", "ticket_parts"]);
    assert_eq!(calls, tickets.div_ceil(150) + tickets, "one GET a ticket");
    assert_eq!(
        by_key(first.records_of("ticket_parts")),
        by_key(expected("ticket_parts", &data))
    );
    let state = first.states.last().unwrap().clone();
    let at = bookmark(&state, "tickets", "updated_at");
    assert_eq!(bookmark(&state, "ticket_parts", "parent_updated_at"), at);

    // One ticket changed at the bookmark second itself, one given a part later.
    let (changed, parted, part) = sim.mutate(|d| {
        let changed = d.tickets[5]["id"].as_str().unwrap().to_string();
        let parted = d.tickets[77]["id"].as_str().unwrap().to_string();
        d.update_ticket(&changed, at).unwrap();
        let part = d.add_ticket_part(&parted, at + 30).unwrap();
        (changed, parted, part)
    });
    wait_for_index();
    let (second, outcome) = read(
        &config,
        Some(&catalog_of(&["tickets", "ticket_parts"])),
        Some(&state.to_string()),
    );
    outcome.expect("incremental sync");
    let data = sim.dataset();
    let emitted = second.records_of("tickets");
    let current: Vec<Value> = expected("tickets", &data)
        .into_iter()
        .filter(|t| ids(&emitted).contains(&key(t)))
        .collect();
    assert_eq!(by_key(emitted.clone()), by_key(current));
    for id in [&changed, &parted] {
        assert!(ids(&emitted).contains(id), "ticket {id} not replicated");
    }
    assert!(emitted.len() < 10, "{} tickets re-read", emitted.len());
    // Every part of each changed ticket, the new one among them.
    let parts = second.records_of("ticket_parts");
    assert!(ids(&parts).contains(&part));
    let of_emitted: Vec<Value> = expected("ticket_parts", &data)
        .into_iter()
        .filter(|p| ids(&emitted).contains(p["ticket_id"].as_str().unwrap()))
        .collect();
    assert_eq!(by_key(parts), by_key(of_emitted));
    let state = second.states.last().unwrap();
    assert_eq!(bookmark(state, "tickets", "updated_at"), at + 30);
}

#[test]
fn a_ticket_with_more_parts_than_the_api_shows_is_reported() {
    let sim = start_sim(SimConfig {
        tickets: 3,
        ..SimConfig::default()
    });
    let id = sim.mutate(|d| {
        let id = d.tickets[1]["id"].as_str().unwrap().to_string();
        for n in 0..505 {
            d.add_ticket_part(&id, 1_700_000_000 + n).unwrap();
        }
        id
    });
    let (out, _) = read_counting(&sim, &config_for(&sim), &["tickets", "ticket_parts"]);
    let shown = out
        .records_of("ticket_parts")
        .iter()
        .filter(|p| p["ticket_id"] == id.as_str())
        .count();
    assert_eq!(shown, 500);
    assert!(
        out.logs.iter().any(|(level, m)| *level == LogLevel::Warn
            && m.starts_with("ticket_parts:")
            && m.contains(&id)
            && m.contains("500")),
        "{:?}",
        out.logs
    );
}

#[test]
fn settings_lists_are_read_whole_with_one_call_each() {
    let sim = start_sim(SimConfig::default());
    let config = config_for(&sim);
    let data = sim.dataset();
    for stream in [
        "conversation_attributes",
        "subscription_types",
        "help_centers",
    ] {
        let (out, calls) = read_counting(&sim, &config, &[stream]);
        assert_eq!(calls, 1, "{stream}");
        assert_eq!(
            by_key(out.records_of(stream)),
            by_key(expected(stream, &data)),
            "{stream}"
        );
    }
    // Archived conversation attributes are included.
    assert!(
        data.conversation_attributes
            .iter()
            .any(|a| a["archived"] == true)
    );
}

#[test]
fn articles_and_collections_newest_first_stop_paging_past_the_bookmark() {
    let sim = start_sim(SimConfig::default());
    let config = config_for(&sim);
    let data = sim.dataset();
    let (first, calls) = read_counting(&sim, &config, &["articles", "help_center_collections"]);
    let pages = (data.articles.len() as u64).div_ceil(25) + 1;
    assert_eq!(calls, pages);
    for stream in ["articles", "help_center_collections"] {
        assert_eq!(
            by_key(first.records_of(stream)),
            by_key(expected(stream, &data)),
            "{stream}"
        );
    }
    // The bookmark moves only once the whole list is read.
    let last_article = first
        .records
        .iter()
        .rposition(|(stream, _)| stream == "articles")
        .unwrap();
    let first_bookmarked = first
        .states
        .iter()
        .position(|s| s["bookmarks"]["articles"].is_object())
        .unwrap();
    assert!(first.records_before_state[first_bookmarked] > last_article);
    let state = first.states.last().unwrap().clone();

    let now = sim.now();
    let (article, collection) = sim.mutate(|d| {
        let article = d.articles[40]["id"].as_str().unwrap().to_string();
        let collection = d.help_center_collections[2]["id"]
            .as_str()
            .unwrap()
            .to_string();
        d.update_article(&article, now).unwrap();
        d.update_collection(&collection, now).unwrap();
        (article, collection)
    });
    let before = sim.stats().authenticated;
    let (second, outcome) = read(
        &config,
        Some(&catalog_of(&["articles", "help_center_collections"])),
        Some(&state.to_string()),
    );
    outcome.expect("incremental sync");
    // One page each: the first already reaches past the bookmark.
    assert_eq!(sim.stats().authenticated - before, 2);
    let data = sim.dataset();
    for (stream, id) in [
        ("articles", &article),
        ("help_center_collections", &collection),
    ] {
        let emitted = second.records_of(stream);
        assert!(ids(&emitted).contains(id), "{stream}: {id} missing");
        let current: Vec<Value> = expected(stream, &data)
            .into_iter()
            .filter(|r| ids(&emitted).contains(&key(r)))
            .collect();
        assert_eq!(by_key(emitted.clone()), by_key(current), "{stream}");
        let since = bookmark(&state, stream, "updated_at");
        let older = emitted.iter().filter(|r| {
            chrono::DateTime::parse_from_rfc3339(r["updated_at"].as_str().unwrap())
                .unwrap()
                .timestamp()
                < since
        });
        assert_eq!(older.count(), 0, "{stream}: records before the bookmark");
        assert_eq!(
            bookmark(second.states.last().unwrap(), stream, "updated_at"),
            now
        );
    }
}

#[test]
fn activity_logs_are_read_in_a_window_ending_at_the_run_start() {
    let sim = start_sim(SimConfig::default());
    let config = config_for(&sim);
    let data = sim.dataset();
    let (first, calls) = read_counting(&sim, &config, &["activity_logs"]);
    assert_eq!(calls, (data.activity_logs.len() as u64).div_ceil(20));
    assert_eq!(
        by_key(first.records_of("activity_logs")),
        by_key(expected("activity_logs", &data))
    );
    let state = first.states.last().unwrap().clone();
    let newest = data
        .activity_logs
        .iter()
        .map(|l| l["created_at"].as_i64().unwrap())
        .max()
        .unwrap();
    assert_eq!(bookmark(&state, "activity_logs", "created_at"), newest);

    let now = sim.now();
    let (logged, later) =
        sim.mutate(|d| (d.add_activity_log(now - 5), d.add_activity_log(now + 3600)));
    let (second, outcome) = read(
        &config,
        Some(&catalog_of(&["activity_logs"])),
        Some(&state.to_string()),
    );
    outcome.expect("incremental sync");
    let emitted = ids(&second.records_of("activity_logs"));
    assert!(emitted.contains(&logged));
    // Created after the run started: left for a later run.
    assert!(!emitted.contains(&later));
    let at_bookmark = data
        .activity_logs
        .iter()
        .filter(|l| l["created_at"] == newest)
        .count();
    assert_eq!(emitted.len(), 1 + at_bookmark);
    assert_eq!(
        bookmark(second.states.last().unwrap(), "activity_logs", "created_at"),
        now - 5
    );
}

#[test]
fn custom_date_attributes_are_date_times_declared_in_the_schema_at_no_extra_call() {
    let sim = start_sim(SimConfig {
        contacts: 120,
        ..SimConfig::default()
    });
    let config = config_for(&sim);
    let data = sim.dataset();
    let declared = |schema: &Value| schema["properties"]["custom_attributes"]["properties"].clone();
    let expected_dates = json!({"trial_ends_at": {"type": ["null", "string"], "format": "date-time",
        "description": "A custom attribute of type date."}});

    let catalog: Value = serde_json::from_str(&discover(&config)).unwrap();
    let contacts = catalog["streams"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["stream"] == "contacts")
        .unwrap();
    assert_eq!(declared(&contacts["schema"]), expected_dates);

    let (_, attributes_alone) = read_counting(&sim, &config, &["contact_attributes"]);
    let (_, contacts_alone) = read_counting(&sim, &config, &["contacts"]);
    let (out, both) = read_counting(&sim, &config, &["contact_attributes", "contacts"]);
    assert_eq!(
        both,
        attributes_alone + contacts_alone - 1,
        "contacts read the data attributes again although contact_attributes did"
    );
    let (_, schema, _, _) = out.schemas.iter().find(|(s, ..)| s == "contacts").unwrap();
    assert_eq!(declared(schema), expected_dates);
    let records = out.records_of("contacts");
    let dated = records
        .iter()
        .filter(|r| r["custom_attributes"]["trial_ends_at"].is_string())
        .count();
    assert!(dated > 0, "no contact has a trial_ends_at date-time");
    assert_eq!(by_key(records), by_key(expected("contacts", &data)));

    // A token that may not read data attributes: the values stay UNIX
    // seconds, with a warning, and contacts are still read.
    let refused = start_sim(SimConfig {
        contacts: 120,
        restricted: vec![Restriction {
            path_prefix: "/data_attributes".into(),
            refusal: Refusal::Permission,
        }],
        ..SimConfig::default()
    });
    let (out, outcome) = read(
        &config_for(&refused),
        Some(&catalog_of(&["contacts"])),
        None,
    );
    outcome.expect("the sync succeeds");
    assert!(
        out.logs.iter().any(|(level, m)| *level == LogLevel::Warn
            && m.contains("custom date attributes stay UNIX seconds")
            && m.contains("Read and list users and companies")),
        "{:?}",
        out.logs
    );
    let records = out.records_of("contacts");
    assert!(
        records
            .iter()
            .any(|r| r["custom_attributes"]["trial_ends_at"].is_number())
    );
    assert_eq!(records.len(), 120);
}

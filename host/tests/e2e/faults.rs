//! The fault matrix: a sync under each kind of fault Intercom and networks
//! produce ends with exactly the clean dataset, or, for fatal faults, with a
//! clear error and a state from which a rerun completes it.

use std::time::Duration;

use crate::support::*;
use intercom_host::{ErrorCategory, LogLevel};
use intercom_sim::{Fault, FaultRule, RandomFaults, RuleFirings, SimConfig, Simulator};
use serde_json::json;

fn small() -> SimConfig {
    SimConfig {
        contacts: 400,
        companies: 160,
        conversations: 200,
        tickets: 60,
        articles: 30,
        activity_logs: 40,
        scroll_expiry: Duration::from_secs(2),
        ..SimConfig::default()
    }
}

fn config(sim: &Simulator) -> String {
    json!({"access_token": "sim-token", "base_url": sim.base_url(), "request_timeout_seconds": 2})
        .to_string()
}

/// One sync of every stream with `rules` injected must still yield the
/// clean dataset, each rule having fired as often as it was told to. A
/// first sync reads contacts in a complete pass (`GET /contacts`, then one
/// search page): rules on `/contacts` hit the list and contacts' sub-lists.
fn survives(rules: Vec<FaultRule>) {
    let what = format!("{rules:?}");
    let sim = Simulator::start(small()).unwrap();
    for rule in rules {
        sim.inject(rule);
    }
    let (out, outcome) = read(&config(&sim), None, None);
    if let Err(e) = outcome {
        panic!("{what}: sync failed: {e:?}");
    }
    let firings = sim.fault_firings();
    for fired in &firings.rules {
        assert_eq!(fired.fired, fired.rule.times, "{:?} fired", fired.rule);
    }
    let total: u64 = firings.rules.iter().map(|r| r.fired).sum();
    assert_eq!(sim.stats().faults_fired, total, "{what}");
    assert_dataset(&sim, &[&out], &what);
}

#[test]
fn transient_server_errors_are_retried() {
    for status in [500, 502, 503, 504] {
        survives(vec![
            FaultRule::new(Fault::Status(status))
                .on("/contacts")
                .after(1)
                .times(2),
            FaultRule::new(Fault::Status(status))
                .on("/conversations/")
                .times(3),
            FaultRule::new(Fault::Status(status)).on("/admins"),
        ]);
    }
}

#[test]
fn broken_transports_and_bodies_are_retried() {
    for fault in [Fault::Reset, Fault::Truncated, Fault::InvalidJson] {
        survives(vec![
            FaultRule::new(fault.clone())
                .on("/contacts")
                .after(2)
                .times(2),
            FaultRule::new(fault.clone())
                .on("/conversations/")
                .after(5)
                .times(3),
            FaultRule::new(fault).on("/companies/").after(2),
        ]);
    }
}

#[test]
fn slow_and_hung_responses_time_out_and_are_retried() {
    survives(vec![
        FaultRule::new(Fault::Delay(Duration::from_millis(300)))
            .on("/contacts")
            .times(3),
        FaultRule::new(Fault::Hang)
            .on("/conversations/search")
            .after(1),
        FaultRule::new(Fault::Hang)
            .on("/conversations/")
            .after(20)
            .times(2),
    ]);
}

#[test]
fn a_429_burst_waits_for_the_window() {
    survives(vec![
        FaultRule::new(Fault::RateLimited)
            .on("/contacts")
            .after(1)
            .times(2),
    ]);
}

#[test]
fn the_scroll_survives_a_busy_slot_a_server_error_and_expiry() {
    survives(vec![FaultRule::new(Fault::ScrollExists).times(2)]);
    survives(vec![FaultRule::new(Fault::ScrollServerError).after(2)]);
    // A truncated page advanced the server's scroll: the connector restarts,
    // waiting out the abandoned scroll's expiry.
    survives(vec![
        FaultRule::new(Fault::Truncated)
            .on("/companies/scroll")
            .after(1),
    ]);
}

#[test]
fn seeded_random_faults_everywhere() {
    let sim = Simulator::start(SimConfig {
        random_faults: Some(RandomFaults::new(7, 0.12)),
        ..small()
    })
    .unwrap();
    let (out, outcome) = read(&config(&sim), None, None);
    outcome.expect("the sync survives random faults");
    let random = sim.fault_firings().random;
    let stats = sim.stats();
    assert_eq!(random.values().sum::<u64>(), stats.faults_fired);
    for kind in RandomFaults::new(7, 0.12).kinds {
        assert!(
            random.get(&kind.to_string()) > Some(&0),
            "{kind} never fired: {random:?}"
        );
    }
    // Each request draws a fault with probability 0.12.
    let share = stats.faults_fired as f64 / stats.authenticated as f64;
    assert!((0.06..0.18).contains(&share), "{stats:?}");
    sim.clear_faults();
    assert_dataset(&sim, &[&out], "random faults");
}

/// A fatal fault ends the sync with `category`, the rule having fired once;
/// after it clears, a rerun from the last committed state completes the
/// dataset, reading the `resumed` streams only from their bookmarks.
fn fatal_then_resumed(
    rule: FaultRule,
    category: ErrorCategory,
    needle: &str,
    (stopped, resumed): (&str, &[&str]),
) -> RuleFirings {
    let sim = Simulator::start(small()).unwrap();
    sim.inject(rule);
    let (first, outcome) = read(&config(&sim), None, None);
    let error = outcome.expect_err("the fault is fatal");
    assert_eq!(error.category, category, "{}", error.message);
    assert!(error.message.contains(needle), "{}", error.message);
    let fired = sim.fault_firings().rules.remove(0);
    assert_eq!(fired.fired, 1, "{fired:?}");
    sim.clear_faults();
    let state = first.states.last().expect("a committed state").clone();
    let (second, outcome) = read(&config(&sim), None, Some(&state.to_string()));
    outcome.expect("the rerun completes");
    assert_dataset(&sim, &[&first, &second], needle);
    let data = sim.dataset();
    for stream in resumed {
        let bookmark = &state["bookmarks"][stream]["updated_at"];
        let bookmark = chrono::DateTime::parse_from_rfc3339(bookmark.as_str().unwrap_or_default())
            .unwrap_or_else(|e| panic!("{stream}: no bookmark in {state}: {e}"));
        // Search streams re-read the default lookback before the bookmark.
        let from = bookmark - chrono::Duration::seconds(600);
        let again = second.records_of(stream);
        assert!(
            again.len() < expected_raw(stream, &data).len(),
            "{stream}: the rerun read {} records, as many as a full sync",
            again.len()
        );
        for record in &again {
            let updated =
                chrono::DateTime::parse_from_rfc3339(record["updated_at"].as_str().unwrap())
                    .unwrap();
            assert!(
                updated >= from,
                "{stream}: {} is before the bookmark {bookmark}",
                record["id"]
            );
        }
    }
    // A stream stopped before its first commit point keeps no bookmark.
    if !resumed.contains(&stopped) {
        assert!(state["bookmarks"][stopped].is_null(), "{state}");
    }
    fired
}

#[test]
fn a_revoked_token_stops_at_once_and_a_rerun_resumes() {
    // The second page of conversations: contacts and the first page are
    // committed by then, and every request after it would get a 401 too.
    let fired = fatal_then_resumed(
        FaultRule::new(Fault::Unauthorized)
            .on("/conversations/search")
            .after(1)
            .times(u64::MAX),
        ErrorCategory::Auth,
        "access token was rejected",
        ("conversations", &["contacts", "conversations"]),
    );
    assert_eq!(fired.requests_after_first, 0, "requests after the 401");
}

#[test]
fn repeating_cursors_end_the_loop_with_an_error() {
    // The contacts list's third page: a pass keeps no bookmark until it is
    // read through, and the rerun resumes it from the list cursor.
    fatal_then_resumed(
        FaultRule::new(Fault::RepeatCursor).on("/contacts").after(1),
        ErrorCategory::Api,
        "twice",
        ("contacts", &[]),
    );
    // Companies keep no bookmark: the rerun reads them all.
    fatal_then_resumed(
        FaultRule::new(Fault::RepeatCursor)
            .on("/companies/scroll")
            .after(1),
        ErrorCategory::Api,
        "same page twice",
        ("companies", &[]),
    );
}

#[test]
fn a_merged_contact_keeps_its_embedded_list() {
    let sim = Simulator::start(small()).unwrap();
    let data = sim.dataset();
    let contact = data
        .contacts
        .iter()
        .find(|c| c["tags"]["has_more"] == json!(true))
        .expect("a contact with more than ten tags");
    let id = contact["id"].as_str().unwrap().to_string();
    sim.inject(FaultRule::new(Fault::Status(410)).on(&format!("/contacts/{id}/tags")));
    let catalog = json!({"streams": [{"tap_stream_id": "contacts"}]}).to_string();
    let (out, outcome) = read(&config(&sim), Some(&catalog), None);
    outcome.unwrap();
    let emitted = out.record_with_id("contacts", &id);
    assert_eq!(emitted["tags"], contact["tags"]);
    assert!(
        out.logs
            .iter()
            .any(|(level, m)| *level == LogLevel::Info && m.contains(&id) && m.contains("410"))
    );
}

#[test]
fn pacing_spends_the_budget_without_429s() {
    // 600 a minute: 100 per 10-second window.
    let sim = Simulator::start(SimConfig {
        rate_limit_per_minute: Some(600),
        ..small()
    })
    .unwrap();
    let started = std::time::Instant::now();
    let (out, outcome) = read(&config(&sim), None, None);
    outcome.unwrap();
    let stats = sim.stats();
    assert_eq!(stats.rate_limited, 0, "{stats:?}");
    assert!(
        stats.authenticated > 200,
        "the sync must span windows: {stats:?}"
    );
    assert!(
        stats.peak_window >= 90,
        "most of a window's 100 was used: {stats:?}"
    );
    let windows = stats.authenticated.div_ceil(100);
    let elapsed = started.elapsed().as_secs();
    assert!(
        elapsed <= windows * 10 + 10,
        "{elapsed}s for {windows} windows"
    );
    assert_dataset(&sim, &[&out], "paced");
}

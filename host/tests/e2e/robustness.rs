//! The connector against the realistic simulator (issue 17): random faults
//! of every kind, sub-lists longer than a page, skewed server clocks, and
//! every record against its schema.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::support::*;
use intercom_sim::{Fault, FaultRule, RandomFaults, ScrollEnd, SimConfig, Simulator};
use serde_json::{Value, json};

/// Short timings with the same semantics: a scroll expires in 2 s, the
/// search index lags 200 ms.
fn small() -> SimConfig {
    SimConfig {
        contacts: 300,
        companies: 160,
        conversations: 150,
        tickets: 10,
        articles: 10,
        activity_logs: 10,
        scroll_expiry: Duration::from_secs(2),
        index_lag: Duration::from_millis(200),
        ..SimConfig::default()
    }
}

/// The streams the 20 % run's budget was set for.
const BUDGETED_STREAMS: [&str; 13] = [
    "admins",
    "companies",
    "company_attributes",
    "company_segments",
    "contact_attributes",
    "contacts",
    "conversation_parts",
    "conversations",
    "segments",
    "tags",
    "teams",
    "ticket_states",
    "ticket_types",
];

fn config(sim: &Simulator) -> String {
    json!({"access_token": "sim-token", "base_url": sim.base_url(), "request_timeout_seconds": 1})
        .to_string()
}

/// Every fault a sync must get through: all but a revoked token and a
/// server that repeats its cursor (which end the sync by design).
fn every_kind() -> Vec<Fault> {
    vec![
        Fault::RateLimited,
        Fault::Status(500),
        Fault::Status(502),
        Fault::Status(503),
        Fault::Status(504),
        Fault::Delay(Duration::from_millis(50)),
        Fault::Hang,
        Fault::Reset,
        Fault::Truncated,
        Fault::InvalidJson,
        Fault::ScrollExists,
        Fault::ScrollServerError,
    ]
}

/// The run's records upserted by key must be each of `streams`' clean dataset.
fn assert_clean_dataset(sim: &Simulator, out: &Collected, what: &str, streams: &[&'static str]) {
    let mut tables: BTreeMap<&str, BTreeMap<String, Value>> = BTreeMap::new();
    for (stream, record) in &out.records {
        let stream = streams.iter().find(|s| *s == stream).unwrap();
        tables
            .entry(stream)
            .or_default()
            .insert(key(record), record.clone());
    }
    let data = sim.dataset();
    for &stream in streams {
        let expected: BTreeMap<String, Value> = expected(stream, &data)
            .into_iter()
            .map(|r| (key(&r), r))
            .collect();
        let got = tables.remove(stream).unwrap_or_default();
        assert_eq!(got.len(), expected.len(), "{what}: {stream}: record count");
        assert!(got == expected, "{what}: {stream}: records differ");
    }
}

fn sync_under(sim: &Simulator, what: &str) -> Collected {
    sync_streams_under(sim, what, &ALL_STREAMS)
}

/// A sync of `streams` only, which must end with their clean dataset.
fn sync_streams_under(sim: &Simulator, what: &str, streams: &[&'static str]) -> Collected {
    let entries: Vec<Value> = streams
        .iter()
        .map(|s| serde_json::json!({"tap_stream_id": s}))
        .collect();
    let catalog = serde_json::json!({ "streams": entries }).to_string();
    let (out, outcome) = read(&config(sim), Some(&catalog), None);
    if let Err(e) = outcome {
        panic!("{what}: sync failed: {e:?}");
    }
    sim.clear_faults();
    assert_clean_dataset(sim, &out, what, streams);
    out
}

/// 20 % of requests faulted, every kind on every endpoint but the scroll;
/// the scroll gets only the answer shown not to serve a page (429s).
/// Budget: 60 s, for the thirteen streams it was set for: each rate-limit
/// fault waits out its window, and every stream read adds calls that may
/// draw one (the streams after them run under 10 % faults below, and under
/// each fault kind in `faults.rs`).
#[test]
fn twenty_percent_faults_of_every_kind_off_the_scroll() {
    let sim = Simulator::start(SimConfig {
        random_faults: Some(RandomFaults {
            seed: 20,
            rate: 0.2,
            kinds: every_kind(),
        }),
        ..small()
    })
    .unwrap();
    for after in [0, 2, 3, 6] {
        sim.inject(
            FaultRule::new(Fault::RateLimited)
                .on("/companies/scroll")
                .after(after),
        );
    }
    // Rules go first, so this keeps random faults off the scroll.
    sim.inject(
        FaultRule::new(Fault::Delay(Duration::ZERO))
            .on("/companies/scroll")
            .times(u64::MAX),
    );
    let started = Instant::now();
    sync_streams_under(&sim, "20% faults", &BUDGETED_STREAMS);
    assert!(sim.stats().faults_fired > 50, "{:?}", sim.stats());
    assert!(started.elapsed() < Duration::from_secs(60));
}

/// 10 % of requests faulted, every kind everywhere, a lost scroll page
/// included (both end-of-scroll answers). Budget: 90 s each.
#[test]
fn ten_percent_faults_of_every_kind_everywhere() {
    for (seed, scroll_end, keeps_slot) in [
        (10, ScrollEnd::BadRequest, false),
        (11, ScrollEnd::NotFound, true),
    ] {
        let sim = Simulator::start(SimConfig {
            random_faults: Some(RandomFaults {
                seed,
                rate: 0.1,
                kinds: every_kind(),
            }),
            scroll_end,
            scroll_error_keeps_slot: keeps_slot,
            ..small()
        })
        .unwrap();
        let started = Instant::now();
        sync_under(&sim, &format!("10% faults, seed {seed}"));
        assert!(started.elapsed() < Duration::from_secs(90));
    }
}

/// Lost scroll pages of each ambiguous kind: the scroll reads on, then
/// again for what it missed. Budget: 30 s.
#[test]
fn a_lost_scroll_page_costs_a_second_pass_not_a_gap() {
    for fault in [
        Fault::Status(503),
        Fault::Reset,
        Fault::Truncated,
        Fault::InvalidJson,
        Fault::Hang,
        Fault::ScrollServerError,
    ] {
        let sim = Simulator::start(small()).unwrap();
        sim.inject(
            FaultRule::new(fault.clone())
                .on("/companies/scroll")
                .after(1),
        );
        let (out, outcome) = read(
            &config(&sim),
            Some(&json!({"streams": [{"tap_stream_id": "companies"}]}).to_string()),
            None,
        );
        outcome.unwrap_or_else(|e| panic!("{fault:?}: {e:?}"));
        let ids: Vec<String> = out.records_of("companies").iter().map(key).collect();
        let unique: std::collections::BTreeSet<&String> = ids.iter().collect();
        assert_eq!(
            unique.len(),
            ids.len(),
            "{fault:?}: a company emitted twice"
        );
        assert_eq!(ids.len(), sim.dataset().companies.len(), "{fault:?}");
    }
}

/// A contact with 200 notes gets all of them through the spec's cursor
/// pagination, in one request per page of 50. Budget: 10 s.
#[test]
fn a_sub_list_of_200_notes_is_complete() {
    let sim = Simulator::start(small()).unwrap();
    let id = sim.mutate(|data| {
        let id = data.contacts[0]["id"].as_str().unwrap().to_string();
        let template = data
            .contact_notes
            .values()
            .find_map(|notes| notes.first().cloned())
            .expect("a note");
        let notes = (0..200)
            .map(|i| {
                let mut note = template.clone();
                note["id"] = json!(format!("{}", 900_000 + i));
                note
            })
            .collect();
        data.contact_notes.insert(id.clone(), notes);
        data.refresh_contact_embeds();
        id
    });
    let before = sim.stats().authenticated;
    let catalog = json!({"streams": [{"tap_stream_id": "contacts"}]}).to_string();
    let (out, outcome) = read(&config(&sim), Some(&catalog), None);
    outcome.unwrap();
    let contact = out
        .records_of("contacts")
        .into_iter()
        .find(|c| c["id"] == id.as_str())
        .unwrap();
    let notes = contact["notes"]["data"].as_array().unwrap();
    assert_eq!(notes.len(), 200);
    assert_eq!(notes[199]["id"], "900199");
    // Searches and every contact's sub-lists: far below a loop's thousands.
    let requests = sim.stats().authenticated - before;
    assert!(requests < 400, "{requests} requests");
}

/// The server's clock 120 s and 400 s ahead and behind: pacing reads the
/// reset against the response's `Date`, so no 429 storm and no wait the
/// host refuses. A 1,200-a-minute limit makes the sync span windows.
/// Budget: 40 s each.
#[test]
fn skewed_server_clocks_pace_without_a_429_storm() {
    for skew in [120, -120, 400, -400] {
        let sim = Simulator::start(SimConfig {
            rate_limit_per_minute: Some(600),
            clock_skew_secs: skew,
            contacts: 200,
            companies: 60,
            ..small()
        })
        .unwrap();
        let started = Instant::now();
        let out = sync_under(&sim, &format!("clock skew {skew} s"));
        let stats = sim.stats();
        // More than one window's allowance (100), so pacing has to wait.
        assert!(stats.authenticated > 100, "{skew}: {stats:?}");
        assert!(stats.rate_limited <= 2, "{skew}: {stats:?}");
        assert!(started.elapsed() < Duration::from_secs(40), "{skew}");
        assert!(
            !out.logs
                .iter()
                .any(|(_, m)| m.contains("watchdog") || m.contains("max wait")),
            "{skew}"
        );
    }
}

/// Records lacking their replication key (an `updated_at` of null) are
/// emitted with a warning, and the bookmark does not pass them.
#[test]
fn a_record_without_its_replication_key_is_emitted_and_holds_the_bookmark() {
    let sim = Simulator::start(small()).unwrap();
    let id = sim.mutate(|data| {
        let company = &mut data.companies[5];
        company["updated_at"] = Value::Null;
        company["id"].as_str().unwrap().to_string()
    });
    let catalog = json!({"streams": [{"tap_stream_id": "companies"}]}).to_string();
    let (out, outcome) = read(&config(&sim), Some(&catalog), None);
    outcome.unwrap();
    assert!(
        out.records_of("companies")
            .iter()
            .any(|c| c["id"] == id.as_str())
    );
    assert!(
        out.logs
            .iter()
            .any(|(_, m)| m.contains(&id) && m.contains("updated_at"))
    );
}

/// Searches that ignore `sort` (newest first): everything is read, and no
/// checkpoint before the end moves the bookmark past unread records.
#[test]
fn unordered_search_results_hold_the_bookmark_until_the_end() {
    let sim = Simulator::start(SimConfig {
        ignore_search_sort: true,
        // Several pages of 150, so there are checkpoints mid-read.
        conversations: 400,
        ..small()
    })
    .unwrap();
    let catalog = json!({"streams": [{"tap_stream_id": "conversations"}]}).to_string();
    let (out, outcome) = read(&config(&sim), Some(&catalog), None);
    outcome.unwrap();
    let data = sim.dataset();
    assert_eq!(
        out.records_of("conversations").len(),
        data.conversations.len()
    );
    let oldest = data
        .conversations
        .iter()
        .map(|c| c["updated_at"].as_i64().unwrap())
        .min()
        .unwrap();
    let bookmark = |state: &Value| {
        state["bookmarks"]["conversations"]["updated_at"]
            .as_str()
            .map(|t| chrono::DateTime::parse_from_rfc3339(t).unwrap().timestamp())
    };
    let read_all = out.records.len();
    let states = out.states.iter().zip(&out.records_before_state);
    let mid_read: Vec<&Value> = states
        .filter(|(_, before)| (1..read_all).contains(*before))
        .map(|(state, _)| state)
        .collect();
    assert!(!mid_read.is_empty());
    for state in mid_read {
        assert!(bookmark(state).is_none_or(|b| b <= oldest), "{state}");
    }
    let newest = data
        .conversations
        .iter()
        .map(|c| c["updated_at"].as_i64().unwrap())
        .max();
    assert_eq!(bookmark(out.states.last().unwrap()), newest);
}

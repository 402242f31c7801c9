//! Every stream against the simulator: complete full syncs, and
//! incremental syncs that pick up every change and little else.

use std::collections::{BTreeMap, BTreeSet};

use crate::support::*;
use intercom_host::LogLevel;
use intercom_sim::{DATA_EPOCH, Dataset, SimConfig, Simulator};
use serde_json::{Value, json};

fn large() -> SimConfig {
    SimConfig {
        contacts: 3000,
        companies: 1200,
        conversations: 1500,
        huge_conversations: 2,
        ..realistic()
    }
}

/// Bookmark (UNIX seconds) of `stream` in a state document.
fn bookmark(state: &Value, stream: &str, field: &str) -> i64 {
    let text = state["bookmarks"][stream][field].as_str().unwrap();
    chrono::DateTime::parse_from_rfc3339(text)
        .unwrap()
        .timestamp()
}

fn seconds(rfc3339: &Value) -> i64 {
    chrono::DateTime::parse_from_rfc3339(rfc3339.as_str().unwrap())
        .unwrap()
        .timestamp()
}

#[test]
fn a_full_sync_yields_exactly_the_dataset() {
    let sim = Simulator::start(large()).unwrap();
    let (out, outcome) = read(&config_for(&sim), None, None);
    outcome.expect("sync succeeds");
    let data = sim.dataset();
    for stream in ALL_STREAMS {
        let records = out.records_of(stream);
        let keys: BTreeSet<String> = records.iter().map(key).collect();
        assert_eq!(keys.len(), records.len(), "{stream}: duplicate records");
        let expected = expected(stream, &data);
        assert!(!expected.is_empty(), "{stream}: the dataset is empty");
        assert_eq!(by_key(records), by_key(expected), "{stream}");
    }
    assert!(out.records_of("contacts").len() >= 3000);
    assert!(out.records_of("conversation_parts").len() > 5000);
    // Contacts with truncated lists were completed beyond ten items.
    assert!(
        out.records_of("contacts")
            .iter()
            .any(|c| c["tags"]["data"].as_array().unwrap().len() > 10)
    );
    // The state has a bookmark for every incremental stream.
    let state = out.states.last().unwrap();
    for stream in [
        "articles",
        "companies",
        "contacts",
        "conversations",
        "help_center_collections",
        "tickets",
    ] {
        assert!(
            bookmark(state, stream, "updated_at") <= DATA_EPOCH,
            "{stream}"
        );
    }
    // Searches report their totals, page by page, up to every record.
    for stream in ["contacts", "conversations", "tickets"] {
        let progress: Vec<(u64, u64)> = out
            .progress
            .iter()
            .filter(|(s, _, _)| s == stream)
            .map(|(_, done, total)| (*done, *total))
            .collect();
        let read = out.records_of(stream).len() as u64;
        assert!(progress.len() > 1, "{stream}: {progress:?}");
        assert!(progress.is_sorted(), "{stream}: {progress:?}");
        assert_eq!(progress.last(), Some(&(read, read)), "{stream}");
    }
    assert!(bookmark(state, "activity_logs", "created_at") <= DATA_EPOCH);
    for stream in ["conversation_parts", "ticket_parts"] {
        assert!(
            bookmark(state, stream, "parent_updated_at") <= DATA_EPOCH,
            "{stream}"
        );
    }
}

#[test]
fn parts_beyond_the_newest_500_are_reported_by_conversation() {
    let sim = Simulator::start(SimConfig {
        huge_conversations: 1,
        ..SimConfig::default()
    })
    .unwrap();
    let (out, outcome) = read(&config_for(&sim), None, None);
    outcome.unwrap();
    let data = sim.dataset();
    let huge: Vec<&String> = data
        .conversation_parts
        .iter()
        .filter(|(_, parts)| parts.len() > 500)
        .map(|(id, _)| id)
        .collect();
    assert_eq!(huge.len(), 1);
    let warnings: Vec<&String> = out
        .logs
        .iter()
        .filter(|(level, _)| *level == LogLevel::Warn)
        .map(|(_, m)| m)
        .collect();
    assert!(
        warnings
            .iter()
            .any(|w| w.contains(huge[0].as_str()) && w.contains("500")),
        "{warnings:?}"
    );
}

/// Changes made after a first sync: several in one day, one at the
/// bookmark second, creations, new parts. Returns the changed ids per stream.
fn mutate(sim: &Simulator, state: &Value) -> BTreeMap<&'static str, BTreeSet<String>> {
    let contacts_at = bookmark(state, "contacts", "updated_at");
    let companies_at = bookmark(state, "companies", "updated_at");
    let conversations_at = bookmark(state, "conversations", "updated_at");
    sim.mutate(|data: &mut Dataset| {
        let contact = |i: usize| data.contacts[i]["id"].as_str().unwrap().to_string();
        let (c1, c2, c3, c4) = (contact(10), contact(200), contact(1500), contact(2999));
        let company = data.companies[7]["id"].as_str().unwrap().to_string();
        let conversation = data.conversations[42]["id"].as_str().unwrap().to_string();
        let parted = data.conversations[99]["id"].as_str().unwrap().to_string();
        let mut changed: BTreeMap<&'static str, BTreeSet<String>> = BTreeMap::new();
        let mut note = |stream, id: String| {
            changed.entry(stream).or_default().insert(id);
        };
        // At the bookmark second itself, and three more within the same day.
        note("contacts", data.update_contact(&c1, contacts_at).unwrap());
        note(
            "contacts",
            data.update_contact(&c2, contacts_at + 60).unwrap(),
        );
        note(
            "contacts",
            data.update_contact(&c3, contacts_at + 3600).unwrap(),
        );
        note(
            "contacts",
            data.update_contact(&c4, contacts_at + 3 * 86400).unwrap(),
        );
        note("contacts", data.create_contact(contacts_at + 7200));
        note(
            "companies",
            data.update_company(&company, companies_at + 1).unwrap(),
        );
        note("companies", data.create_company(companies_at));
        note(
            "conversations",
            data.update_conversation(&conversation, conversations_at)
                .unwrap(),
        );
        let part = data
            .add_conversation_part(&parted, conversations_at + 30)
            .unwrap();
        note("conversations", parted);
        note("conversation_parts", part);
        changed
    })
}

#[test]
fn an_incremental_sync_yields_every_change_and_only_the_documented_overlap() {
    let sim = Simulator::start(large()).unwrap();
    // No lookback: the overlap is then only records at the bookmark second.
    let config = json!({
        "access_token": "sim-token",
        "base_url": sim.base_url(),
        "search_lookback_seconds": 0,
    })
    .to_string();
    let (first, outcome) = read(&config, None, None);
    outcome.unwrap();
    let state = first.states.last().unwrap().clone();
    let changed = mutate(&sim, &state);
    wait_for_index();

    let (second, outcome) = read(&config, None, Some(&state.to_string()));
    outcome.unwrap();
    let data = sim.dataset();

    for stream in ["contacts", "companies", "conversations"] {
        let emitted = second.records_of(stream);
        let expected: BTreeMap<String, Value> = expected(stream, &data)
            .into_iter()
            .map(|r| (key(&r), r))
            .collect();
        let ids: BTreeSet<String> = emitted
            .iter()
            .map(|r| r["id"].as_str().unwrap().into())
            .collect();
        for id in &changed[stream] {
            assert!(
                ids.contains(id),
                "{stream}: changed record {id} was not replicated"
            );
        }
        let since = bookmark(&state, stream, "updated_at");
        for record in &emitted {
            // Every record emitted is current, and either changed or in the overlap.
            assert_eq!(Some(record), expected.get(&key(record)), "{stream}");
            let id = record["id"].as_str().unwrap();
            assert!(
                changed[stream].contains(id) || seconds(&record["updated_at"]) >= since,
                "{stream}: unchanged record {id} emitted again"
            );
        }
        let overlap = emitted.len() - changed[stream].len();
        assert!(
            overlap < 20,
            "{stream}: {overlap} unchanged records emitted again"
        );
    }
    // The new part arrives with every other part of its conversation.
    let parts = second.records_of("conversation_parts");
    let part_ids: BTreeSet<String> = parts.iter().map(|p| p["id"].to_string()).collect();
    for id in &changed["conversation_parts"] {
        assert!(
            part_ids.contains(&json!(id).to_string()),
            "new part {id} missing"
        );
    }
    let conversations: BTreeSet<String> = parts
        .iter()
        .map(|p| p["conversation_id"].as_str().unwrap().to_string())
        .collect();
    let expected_parts: Vec<Value> = expected("conversation_parts", &data)
        .into_iter()
        .filter(|p| conversations.contains(p["conversation_id"].as_str().unwrap()))
        .collect();
    assert_eq!(by_key(parts), by_key(expected_parts));
    assert!(
        conversations.len() < 20,
        "parts re-read for {} conversations",
        conversations.len()
    );

    // A third run with nothing changed emits only the bookmark-second overlap.
    let state = second.states.last().unwrap().to_string();
    let (third, outcome) = read(&config, None, Some(&state));
    outcome.unwrap();
    for stream in ["contacts", "companies", "conversations"] {
        assert!(third.records_of(stream).len() < 20, "{stream}");
    }
}

/// The searches re-read `search_lookback_seconds` before their bookmarks,
/// but what an earlier run sent unchanged is not sent (or its parts read)
/// again: a rerun with nothing changed sends nothing and costs one page a
/// search. A change that reaches the index late, dated within the lookback,
/// still arrives with every part of its conversation, and a record changed
/// again within its bookmark's second is sent again.
#[test]
fn a_rerun_sends_again_only_what_changed_within_the_lookback() {
    let sim = Simulator::start(realistic()).unwrap();
    let config = config_for(&sim);
    let (first, outcome) = read(&config, None, None);
    outcome.unwrap();
    let state = first.states.last().unwrap().clone();

    let before = sim.stats().by_endpoint;
    let (second, outcome) = read(&config, None, Some(&state.to_string()));
    outcome.unwrap();
    let after = sim.stats().by_endpoint;
    let calls =
        |endpoint: &str| after.get(endpoint).unwrap_or(&0) - before.get(endpoint).unwrap_or(&0);
    for stream in [
        "contacts",
        "conversations",
        "conversation_parts",
        "tickets",
        "ticket_parts",
    ] {
        assert_eq!(
            second.records_of(stream),
            Vec::<Value>::new(),
            "{stream} sent again"
        );
    }
    for search in [
        "POST /contacts/search",
        "POST /conversations/search",
        "POST /tickets/search",
    ] {
        assert_eq!(calls(search), 1, "{search}");
    }
    for per_record in [
        "GET /conversations/{id}",
        "GET /tickets/{id}",
        "GET /contacts/{id}/tags",
    ] {
        assert_eq!(calls(per_record), 0, "{per_record}");
    }

    let state = second.states.last().unwrap().clone();
    let contacts_at = bookmark(&state, "contacts", "updated_at");
    let conversations_at = bookmark(&state, "conversations", "updated_at");
    let (late, again, parted, part) = sim.mutate(|data: &mut Dataset| {
        let late = data.contacts[5]["id"].as_str().unwrap().to_string();
        data.update_contact(&late, contacts_at - 300).unwrap();
        let newest = data
            .contacts
            .iter_mut()
            .find(|c| c["updated_at"] == json!(contacts_at))
            .unwrap();
        newest["name"] = json!("Renamed within the second");
        let again = newest["id"].as_str().unwrap().to_string();
        let parted = data.conversations[7]["id"].as_str().unwrap().to_string();
        let part = data
            .add_conversation_part(&parted, conversations_at - 300)
            .unwrap();
        (late, again, parted, part)
    });
    wait_for_index();
    let (third, outcome) = read(&config, None, Some(&state.to_string()));
    outcome.unwrap();
    let ids = |stream: &str| -> BTreeSet<String> {
        third
            .records_of(stream)
            .iter()
            .map(|r| r["id"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(ids("contacts"), BTreeSet::from([late, again]));
    assert_eq!(ids("conversations"), BTreeSet::from([parted.clone()]));
    let parts = third.records_of("conversation_parts");
    assert!(parts.iter().all(|p| p["conversation_id"] == json!(parted)));
    assert!(
        parts.iter().any(|p| p["id"] == json!(part)),
        "the late part is missing"
    );
    let expected_parts: Vec<Value> = expected("conversation_parts", &sim.dataset())
        .into_iter()
        .filter(|p| p["conversation_id"] == json!(parted))
        .collect();
    assert_eq!(by_key(parts), by_key(expected_parts));
}

#[test]
fn changes_made_during_a_sync_arrive_by_the_next_one() {
    let sim = Simulator::start(realistic()).unwrap();
    let config = config_for(&sim);
    let first_contact = sim.dataset().contacts[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let now = sim.now();
    // Mid-sync: touch a contact the search has already passed, delete a
    // conversation before its parts are read, and add a company.
    sim.mutate_after_requests(40, move |data: &mut Dataset| {
        data.update_contact(&first_contact, now);
        let victim = data.conversations[900]["id"].as_str().unwrap().to_string();
        data.delete_conversation(&victim);
        data.create_company(now);
    });
    let (first, outcome) = read(&config, None, None);
    outcome.expect("a sync survives concurrent changes");
    let state = first.states.last().unwrap().to_string();
    wait_for_index();
    let (second, outcome) = read(&config, None, Some(&state));
    outcome.unwrap();
    // Upserting both runs' output gives the dataset as it is now.
    let data = sim.dataset();
    for stream in ["contacts", "companies"] {
        let mut merged: BTreeMap<String, Value> = BTreeMap::new();
        for record in first
            .records_of(stream)
            .into_iter()
            .chain(second.records_of(stream))
        {
            merged.insert(key(&record), record);
        }
        let expected: BTreeMap<String, Value> = expected(stream, &data)
            .into_iter()
            .map(|r| (key(&r), r))
            .collect();
        assert_eq!(merged, expected, "{stream}");
    }
}

#[test]
fn the_scroll_is_closed_so_the_next_sync_can_open_one() {
    let sim = Simulator::start(SimConfig::default()).unwrap();
    let catalog = json!({"streams": [{"tap_stream_id": "companies"}]}).to_string();
    for _ in 0..2 {
        let (out, outcome) = read(&config_for(&sim), Some(&catalog), None);
        outcome.expect("no scroll_exists");
        assert_eq!(
            out.records_of("companies").len(),
            sim.dataset().companies.len()
        );
    }
}

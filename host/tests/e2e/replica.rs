//! The replica equals the workspace: changes made while a sync runs, and
//! deletes, reach it by the next run.

use intercom_sim::{Dataset, SimConfig, Simulator};
use serde_json::{Value, json};

use crate::support::{catalog_of, config_for, expected, key, read};

fn unix_now() -> i64 {
    let since_epoch = std::time::UNIX_EPOCH.elapsed().unwrap();
    since_epoch.as_secs() as i64
}

/// The scroll returns companies in no order, so its highest `updated_at`
/// may be later than a change made to a company it had already returned.
#[test]
fn a_company_changed_during_the_scroll_is_read_by_the_next_run() {
    let sim = Simulator::start(SimConfig::default()).unwrap();
    let config = config_for(&sim);
    let catalog = catalog_of(&["companies"]);
    let data = sim.dataset();
    let read_early = data.companies[0]["id"].as_str().unwrap().to_string();
    let read_late = data.companies[data.companies.len() - 1]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (early, late) = (read_early.clone(), read_late.clone());
    // After the company data attributes (for custom dates) and the scroll's
    // first page: the company it returned first changes, then one on its
    // last page, a second later.
    sim.mutate_after_requests(2, move |data: &mut Dataset| {
        let now = unix_now();
        data.update_company(&early, now);
        data.update_company(&late, now + 1);
    });
    let (first, outcome) = read(&config, Some(&catalog), None);
    outcome.unwrap();
    let stale = first
        .records_of("companies")
        .into_iter()
        .find(|c| key(c) == read_early)
        .unwrap();
    let now = sim.dataset();
    let current = |id: &str| {
        expected("companies", &now)
            .into_iter()
            .find(|c| key(c) == id)
            .unwrap()
    };
    assert_ne!(
        stale,
        current(&read_early),
        "the scroll read it before the change"
    );
    assert!(first.records_of("companies").contains(&current(&read_late)));

    let state = first.states.last().unwrap().to_string();
    let (second, outcome) = read(&config, Some(&catalog), Some(&state));
    outcome.unwrap();
    assert!(
        second
            .records_of("companies")
            .contains(&current(&read_early)),
        "the next run rereads from the scroll's opening"
    );
}

#[test]
fn deleted_conversations_come_as_tombstones_once() {
    let sim = Simulator::start(SimConfig {
        conversations: 40,
        huge_conversations: 0,
        ..SimConfig::default()
    })
    .unwrap();
    let config = config_for(&sim);
    let catalog = catalog_of(&["conversations"]);
    let (first, outcome) = read(&config, Some(&catalog), None);
    outcome.unwrap();
    let gone = sim.mutate(|d| {
        let id = d.conversations[5]["id"].as_str().unwrap().to_string();
        assert!(d.delete_conversation(&id));
        id
    });
    let state = first.states.last().unwrap().to_string();
    let (second, outcome) = read(&config, Some(&catalog), Some(&state));
    outcome.unwrap();
    let tombstones: Vec<Value> = second
        .records_of("conversations")
        .into_iter()
        .filter(|r| r.get("_sdc_deleted_at").is_some())
        .collect();
    assert_eq!(tombstones.len(), 1, "{tombstones:?}");
    assert_eq!(tombstones[0]["id"], json!(gone));
    assert_eq!(tombstones[0].as_object().unwrap().len(), 2);
    let state = second.states.last().unwrap();
    assert!(state["bookmarks"]["conversations"]["deleted_at"].is_string());

    let (third, outcome) = read(&config, Some(&catalog), Some(&state.to_string()));
    outcome.unwrap();
    let again = third
        .records_of("conversations")
        .into_iter()
        .filter(|r| r.get("_sdc_deleted_at").is_some())
        .count();
    assert!(again <= 1, "only the bookmark's own second is read again");
}

//! The realistic defaults (issue 17) and the options that soften or sharpen them.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use intercom_sim::{Fault, FaultRule, Lenient, ScrollEnd, SimConfig, Simulator};
use serde_json::{Value, json};

use crate::http::{agent, bearer, get, post, start};
use crate::openapi::Spec;

fn small() -> SimConfig {
    SimConfig {
        contacts: 300,
        companies: 120,
        conversations: 60,
        ..SimConfig::default()
    }
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// The body exactly as sent.
fn raw(sim: &Simulator, path: &str) -> String {
    let mut response = ureq::get(format!("{}{path}", sim.base_url()))
        .header("Authorization", bearer())
        .call()
        .expect("answer");
    response.body_mut().read_to_string().unwrap()
}

#[test]
fn sub_list_pages_conform_and_follow_the_specs_continuations() {
    let Some(spec) = Spec::load("sub_list_pages_conform_and_follow_the_specs_continuations") else {
        return;
    };
    let sim = start(small());
    let data = sim.dataset();
    for (contact, list, schema) in [
        (
            0,
            "notes",
            spec.response("/contacts/{contact_id}/notes", "get", 200),
        ),
        (
            1,
            "companies",
            spec.response("/contacts/{contact_id}/companies", "get", 200),
        ),
    ] {
        let id = data.contacts[contact]["id"].as_str().unwrap();
        let mut path = format!("/contacts/{id}/{list}?page=3");
        let mut pages = 0;
        loop {
            let reply = get(&sim, &path);
            assert_eq!(reply.status, 200, "{path}: {}", reply.body);
            schema.assert_valid(&reply.body);
            pages += 1;
            path = match &reply.body["pages"]["next"] {
                Value::Null => break,
                Value::String(link) => link.strip_prefix(&sim.base_url()).unwrap().to_owned(),
                next => format!(
                    "/contacts/{id}/{list}?starting_after={}",
                    next["starting_after"].as_str().unwrap()
                ),
            };
        }
        assert!(pages >= 3, "{list}: {pages} pages");
    }
}

#[test]
fn text_is_escaped_and_varied_with_nulls_unknown_fields_and_zero_timestamps() {
    let sim = start(small());
    let data = sim.dataset();
    let id = data.contacts[0]["id"].as_str().unwrap();
    let text = raw(&sim, &format!("/contacts/{id}/notes"));
    assert!(text.contains("\\u003cp\\u003e"), "HTML escaped");
    let all: Vec<String> = data
        .conversations
        .iter()
        .take(40)
        .map(|c| {
            raw(
                &sim,
                &format!("/conversations/{}", c["id"].as_str().unwrap()),
            )
        })
        .collect();
    assert!(all.iter().any(|t| t.contains("\\ud83d")), "surrogate pairs");
    let contacts = serde_json::to_string(&data.contacts).unwrap();
    assert!(contacts.contains("Zoë") || contacts.contains("José"));
    assert!(data.contacts.iter().any(|c| c["name"].is_null()));
    assert!(data.contacts.iter().any(|c| c["signed_up_at"] == 0));
    assert!(data.contacts.iter().all(|c| c.get("sms_consent").is_some()));
    assert!(data.companies.iter().any(|c| c["remote_created_at"] == 0));
    assert!(
        data.companies
            .iter()
            .all(|c| c.get("x_account_health").is_some())
    );
    assert!(
        data.data_attributes
            .iter()
            .any(|a| a["name"] == "score (β) 🎯")
    );
    let tickets = serde_json::to_string(&data.tickets).unwrap();
    assert!(!tickets.is_ascii(), "ticket titles and parts vary");
    assert!(
        data.tickets
            .iter()
            .all(|t| t.get("x_escalation_level").is_some())
    );
    assert!(
        data.articles
            .iter()
            .any(|a| !a["title"].as_str().unwrap().is_ascii())
    );
    assert!(
        data.help_center_collections
            .iter()
            .any(|c| !c["name"].as_str().unwrap().is_ascii())
    );

    let plain = start(SimConfig {
        lenient: Lenient {
            plain_data: true,
            ..Lenient::default()
        },
        ..small()
    });
    let data = plain.dataset();
    let id = data.contacts[0]["id"].as_str().unwrap();
    let text = raw(&plain, &format!("/contacts/{id}"));
    assert!(text.is_ascii() && !text.contains("\\u"), "{text}");
    assert!(
        data.companies
            .iter()
            .all(|c| c.get("x_account_health").is_none())
    );
}

#[test]
fn lenient_part_ids_are_strings() {
    let config = |string_part_ids| SimConfig {
        lenient: Lenient {
            string_part_ids,
            ..Lenient::default()
        },
        ..small()
    };
    for (string_part_ids, is_string) in [(false, false), (true, true)] {
        let data = start(config(string_part_ids)).dataset();
        let (_, part) = &data.all_conversation_parts()[0];
        assert_eq!(part["id"].is_string(), is_string, "{part}");
    }
}

#[test]
fn the_server_clock_can_be_skewed() {
    for skew in [400_i64, -400] {
        let sim = start(SimConfig {
            clock_skew_secs: skew,
            ..small()
        });
        let reply = get(&sim, "/admins");
        let reset: i64 = reply.header("x-ratelimit-reset").unwrap().parse().unwrap();
        let expected = unix_now() + skew;
        assert!(
            (expected..=expected + 11).contains(&reset),
            "{skew}: {reset}"
        );
        let date = reply.header("date").unwrap();
        let date = chrono_date(date);
        assert!(
            (date - expected).abs() <= 2,
            "{skew}: Date {date}, expected {expected}"
        );
    }
}

/// `Tue, 01 Dec 2026 20:01:45 GMT` as UNIX seconds.
fn chrono_date(text: &str) -> i64 {
    let months = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let parts: Vec<&str> = text.split([' ', ':']).collect();
    let (day, month, year) = (
        parts[1].parse::<i64>().unwrap(),
        months.iter().position(|m| *m == parts[2]).unwrap() as i64 + 1,
        parts[3].parse::<i64>().unwrap(),
    );
    let (h, m, s): (i64, i64, i64) = (
        parts[4].parse().unwrap(),
        parts[5].parse().unwrap(),
        parts[6].parse().unwrap(),
    );
    // Days from civil (Howard Hinnant's algorithm).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    days * 86_400 + h * 3600 + m * 60 + s
}

fn search_by_id(sim: &Simulator, id: &str) -> Value {
    let body = json!({"query": {"field": "id", "operator": "=", "value": id}});
    let reply = post(sim, "/contacts/search", &body, &[]);
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.body["data"][0].clone()
}

#[test]
fn search_lags_behind_updates() {
    let sim = start(SimConfig {
        index_lag: Duration::from_millis(600),
        ..small()
    });
    let id = sim.dataset().contacts[0]["id"].as_str().unwrap().to_owned();
    let before = search_by_id(&sim, &id)["updated_at"].clone();
    let now = sim.now();
    sim.mutate(|data| data.update_contact(&id, now));
    assert_eq!(
        get(&sim, &format!("/contacts/{id}")).body["updated_at"],
        now
    );
    assert_eq!(
        search_by_id(&sim, &id)["updated_at"],
        before,
        "not yet indexed"
    );
    std::thread::sleep(Duration::from_millis(700));
    assert_eq!(search_by_id(&sim, &id)["updated_at"], now, "indexed");
}

#[test]
fn sort_can_be_ignored() {
    let body = json!({"query": {"field": "updated_at", "operator": ">", "value": 0},
        "sort": {"field": "updated_at", "order": "ascending"}});
    let updated = |sim: &Simulator| -> Vec<i64> {
        let reply = post(sim, "/conversations/search", &body, &[]);
        reply.body["conversations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["updated_at"].as_i64().unwrap())
            .collect()
    };
    let sorted = updated(&start(small()));
    assert!(sorted.is_sorted());
    let ignored = start(SimConfig {
        ignore_search_sort: true,
        ..small()
    });
    assert!(
        !updated(&ignored).is_sorted(),
        "newest created first instead"
    );
}

#[test]
fn one_admin_by_id() {
    let sim = start(small());
    let admin = sim.dataset().admins[2].clone();
    let reply = get(&sim, &format!("/admins/{}", admin["id"].as_str().unwrap()));
    assert_eq!((reply.status, reply.body), (200, admin));
    let missing = get(&sim, "/admins/1");
    assert_eq!(
        (missing.status, missing.error_code()),
        (404, "admin_not_found")
    );
}

fn scroll_ids(sim: &Simulator, param: &str) -> (u16, Vec<String>) {
    let reply = get(sim, &format!("/companies/scroll?scroll_param={param}"));
    let ids = reply.body["data"]
        .as_array()
        .map(|page| {
            page.iter()
                .map(|c| c["id"].as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default();
    (reply.status, ids)
}

#[test]
fn a_lost_scroll_page_is_gone_unless_lenient() {
    for (replays, fault) in [
        (false, Fault::Reset),
        (false, Fault::Status(503)),
        (true, Fault::Reset),
    ] {
        let sim = start(SimConfig {
            lenient: Lenient {
                scroll_replays_lost_pages: replays,
                ..Lenient::default()
            },
            ..small()
        });
        let first = get(&sim, "/companies/scroll");
        let param = first.body["scroll_param"].as_str().unwrap().to_owned();
        let companies: Vec<String> = sim
            .dataset()
            .companies
            .iter()
            .map(|c| c["id"].as_str().unwrap().to_owned())
            .collect();
        sim.inject(FaultRule::new(fault.clone()).on("/companies/scroll"));
        let lost = get_status(&sim, &format!("/companies/scroll?scroll_param={param}"));
        assert_ne!(lost, Some(200));
        let (status, next) = scroll_ids(&sim, &param);
        assert_eq!(status, 200);
        let expected = if replays {
            &companies[50..100]
        } else {
            &companies[100..]
        };
        assert_eq!(
            next[..],
            expected[..next.len()],
            "{fault} replays={replays}"
        );
    }
}

/// The status, or `None` when the connection was reset.
fn get_status(sim: &Simulator, path: &str) -> Option<u16> {
    agent()
        .get(format!("{}{path}", sim.base_url()))
        .header("Authorization", bearer())
        .call()
        .ok()
        .map(|response| response.status().as_u16())
}

#[test]
fn scroll_end_and_a_busy_slot_after_a_scroll_error_are_options() {
    let sim = start(SimConfig {
        scroll_end: ScrollEnd::NotFound,
        scroll_error_keeps_slot: true,
        scroll_expiry: Duration::from_millis(500),
        ..small()
    });
    let param = get(&sim, "/companies/scroll").body["scroll_param"]
        .as_str()
        .unwrap()
        .to_owned();
    sim.inject(FaultRule::new(Fault::ScrollServerError));
    assert_eq!(scroll_ids(&sim, &param).0, 500);
    assert_eq!(scroll_ids(&sim, &param).0, 404, "the broken scroll's param");
    let busy = get(&sim, "/companies/scroll");
    assert_eq!((busy.status, busy.error_code()), (400, "scroll_exists"));
    std::thread::sleep(Duration::from_millis(600));
    assert_eq!(get(&sim, "/companies/scroll").status, 200, "expired");
}

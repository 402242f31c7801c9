//! `POST /contacts/search` and `POST /conversations/search`: operators, nesting,
//! sorting, cursors and the version-dependent date semantics.

use std::collections::HashSet;

use chrono::{NaiveTime, TimeZone};
use intercom_sim::{SimConfig, Simulator};
use serde_json::{Value, json};

use crate::http::{Reply, post, start};

fn small() -> Simulator {
    start(SimConfig {
        contacts: 700,
        conversations: 400,
        ..SimConfig::default()
    })
}

fn search(sim: &Simulator, path: &str, body: Value, version: &str) -> Reply {
    post(sim, path, &body, &[("Intercom-Version", version)])
}

fn items<'a>(reply: &'a Reply, key: &str) -> &'a Vec<Value> {
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.body[key].as_array().expect("items")
}

fn ids(records: &[Value]) -> Vec<String> {
    records
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect()
}

/// Pages through a search, returning every record in order and the page count.
fn all_pages(sim: &Simulator, path: &str, mut body: Value, version: &str) -> (Vec<Value>, usize) {
    let key = if path.starts_with("/contacts") {
        "data"
    } else {
        "conversations"
    };
    let (mut out, mut pages) = (Vec::new(), 0);
    loop {
        let reply = search(sim, path, body.clone(), version);
        out.extend(items(&reply, key).iter().cloned());
        pages += 1;
        match reply.body["pages"]["next"]["starting_after"].as_str() {
            Some(next) => body["pagination"]["starting_after"] = json!(next),
            None => return (out, pages),
        }
    }
}

fn count(sim: &Simulator, path: &str, query: Value, version: &str) -> u64 {
    let reply = search(sim, path, json!({"query": query}), version);
    assert_eq!(reply.status, 200, "{query}: {}", reply.body);
    reply.body["total_count"].as_u64().unwrap()
}

fn error(sim: &Simulator, path: &str, body: Value, version: &str) -> String {
    let reply = search(sim, path, body, version);
    assert_eq!(reply.status, 400, "{}", reply.body);
    reply.error_code().to_owned()
}

#[test]
fn cursor_paging_visits_every_record_exactly_once_in_order() {
    let sim = small();
    let data = sim.dataset();
    for (path, records, sort) in [
        ("/contacts/search", &data.contacts, "updated_at"),
        ("/conversations/search", &data.conversations, "updated_at"),
        ("/contacts/search", &data.contacts, "email"),
    ] {
        for order in ["ascending", "descending"] {
            let body = json!({
                "query": {"field": "created_at", "operator": ">", "value": 0},
                "pagination": {"per_page": 37},
                "sort": {"field": sort, "order": order},
            });
            let (seen, pages) = all_pages(&sim, path, body, "2.13");
            let got = ids(&seen);
            assert_eq!(got.len(), records.len(), "{path} {sort} {order}");
            assert_eq!(
                got.iter().collect::<HashSet<_>>().len(),
                got.len(),
                "duplicates"
            );
            assert_eq!(pages, records.len().div_ceil(37));
            // Stable order: sort key, then id, both in the requested direction.
            let mut expected: Vec<&Value> = records.iter().collect();
            expected.sort_by_key(|r| {
                let id = r["id"].as_str().unwrap().to_owned();
                (
                    r[sort].as_i64(),
                    r[sort].as_str().map(str::to_owned),
                    id.len(),
                    id,
                )
            });
            if order == "descending" {
                expected.reverse();
            }
            let expected: Vec<String> = expected
                .iter()
                .map(|r| r["id"].as_str().unwrap().to_owned())
                .collect();
            assert_eq!(got, expected, "{path} {sort} {order}");
            // Records are served exactly as the dataset holds them.
            for record in &seen {
                let id = record["id"].as_str().unwrap();
                let expected = if path.starts_with("/contacts") {
                    data.contact(id)
                } else {
                    data.conversation(id)
                };
                assert_eq!(Some(record), expected);
            }
        }
    }
}

#[test]
fn many_records_share_the_same_updated_at_second() {
    let data = small().dataset();
    let mut seconds = std::collections::HashMap::new();
    for c in &data.contacts {
        *seconds
            .entry(c["updated_at"].as_i64().unwrap())
            .or_insert(0) += 1;
    }
    let shared = seconds.values().filter(|&&n| n > 1).count();
    assert!(shared >= 10, "only {shared} seconds shared");
    assert!(seconds.values().any(|&n| n >= 5));
}

#[test]
fn per_page_is_capped_at_150_and_defaults_differ() {
    let sim = start(SimConfig {
        contacts: 400,
        conversations: 400,
        ..SimConfig::default()
    });
    let all = json!({"field": "created_at", "operator": ">", "value": 0});
    for (path, key, default) in [
        ("/contacts/search", "data", 50),
        ("/conversations/search", "conversations", 20),
    ] {
        let reply = search(
            &sim,
            path,
            json!({"query": all, "pagination": {"per_page": 1000}}),
            "2.13",
        );
        assert_eq!(items(&reply, key).len(), 150, "{path}");
        assert_eq!(reply.body["pages"]["per_page"], 150);
        assert_eq!(reply.body["pages"]["total_pages"], 3);
        let reply = search(&sim, path, json!({"query": all}), "2.13");
        assert_eq!(items(&reply, key).len(), default, "{path}");
        assert_eq!(
            error(
                &sim,
                path,
                json!({"query": all, "pagination": {"per_page": 0}}),
                "2.16"
            ),
            "parameter_invalid"
        );
    }
}

#[test]
fn malformed_cursors_and_queries_are_400() {
    let sim = small();
    let all = json!({"field": "id", "operator": "!=", "value": "x"});
    for path in ["/contacts/search", "/conversations/search"] {
        for cursor in [
            json!("%%%"),
            json!("bm90IGpzb24="),
            json!("WzFd"),
            json!(12),
        ] {
            let body = json!({"query": all, "pagination": {"starting_after": cursor}});
            assert_eq!(
                error(&sim, path, body, "2.16"),
                "parameter_invalid",
                "{cursor}"
            );
        }
        let bad = [
            json!({}),
            json!({"query": {"field": "nope", "operator": "=", "value": 1}}),
            json!({"query": {"field": "id", "operator": "LIKE", "value": "1"}}),
            json!({"query": {"field": "id", "operator": "IN", "value": "1"}}),
            json!({"query": {"field": "created_at", "operator": "~", "value": "1"}}),
            json!({"query": {"field": "created_at", "operator": "<", "value": "yesterday"}}),
            json!({"query": {"operator": "AND", "value": []}}),
            json!({"query": all, "sort": {"field": "nope"}}),
        ];
        for body in bad {
            assert_eq!(
                error(&sim, path, body.clone(), "2.13"),
                "parameter_invalid",
                "{body}"
            );
        }
        let order = json!({"query": all, "sort": {"field": "id", "order": "desc"}});
        assert_eq!(error(&sim, path, order, "2.16"), "invalid_sort_order");
        let reply = crate::http::send(
            &sim,
            "POST",
            path,
            &[("Authorization", crate::http::bearer().as_bytes())],
            "{\"query\": ".to_owned(),
        );
        assert_eq!(reply.status, 400);
        assert_eq!(reply.error_code(), "bad_request");
    }
}

#[test]
fn operators_match_like_intercoms() {
    let sim = small();
    let data = sim.dataset();
    let path = "/contacts/search";
    let expect = |query: Value, pred: &dyn Fn(&Value) -> bool| {
        let expected = data.contacts.iter().filter(|c| pred(c)).count() as u64;
        assert!(
            expected > 0 || query["operator"] == "NIN",
            "{query} matches nothing"
        );
        assert_eq!(
            count(&sim, path, query.clone(), "2.16"),
            expected,
            "{query}"
        );
    };
    let first = &data.contacts[3];
    let email = first["email"].as_str().unwrap();
    let s = |c: &Value, f: &str| c[f].as_str().unwrap_or_default().to_owned();
    expect(
        json!({"field": "id", "operator": "=", "value": first["id"]}),
        &|c| c["id"] == first["id"],
    );
    expect(
        json!({"field": "email", "operator": "=", "value": email}),
        &|c| s(c, "email") == email,
    );
    expect(
        json!({"field": "role", "operator": "=", "value": "lead"}),
        &|c| c["role"] == "lead",
    );
    expect(
        json!({"field": "role", "operator": "!=", "value": "lead"}),
        &|c| c["role"] != "lead",
    );
    expect(
        json!({"field": "role", "operator": "IN", "value": ["lead", "user"]}),
        &|_| true,
    );
    expect(
        json!({"field": "role", "operator": "NIN", "value": ["lead"]}),
        &|c| c["role"] == "user",
    );
    expect(
        json!({"field": "email", "operator": "~", "value": "ada"}),
        &|c| s(c, "email").contains("ada"),
    );
    expect(
        json!({"field": "email", "operator": "!~", "value": "ada"}),
        &|c| !s(c, "email").contains("ada"),
    );
    expect(
        json!({"field": "name", "operator": "^", "value": "Ada "}),
        &|c| s(c, "name").starts_with("Ada "),
    );
    expect(
        json!({"field": "email", "operator": "$", "value": "acme.example.com"}),
        &|c| s(c, "email").ends_with("acme.example.com"),
    );
    expect(
        json!({"field": "name", "operator": "=", "value": null}),
        &|c| c["name"].is_null(),
    );
    expect(
        json!({"field": "custom_attributes.seats", "operator": ">=", "value": 250}),
        &|c| {
            c["custom_attributes"]["seats"]
                .as_i64()
                .is_some_and(|n| n >= 250)
        },
    );
    expect(
        json!({"field": "custom_attributes.seats", "operator": "<", "value": 100}),
        &|c| {
            c["custom_attributes"]["seats"]
                .as_i64()
                .is_some_and(|n| n < 100)
        },
    );
    expect(
        json!({"operator": "AND", "value": [
            {"field": "role", "operator": "=", "value": "user"},
            {"operator": "OR", "value": [
                {"field": "email", "operator": "^", "value": "ada"},
                {"field": "email", "operator": "^", "value": "zoe"}]}]}),
        &|c| {
            c["role"] == "user"
                && (s(c, "email").starts_with("ada") || s(c, "email").starts_with("zoe"))
        },
    );
    let convs = &data.conversations;
    let open = convs.iter().filter(|c| c["open"] == true).count() as u64;
    let q = json!({"field": "open", "operator": "=", "value": true});
    assert_eq!(count(&sim, "/conversations/search", q, "2.16"), open);
    let closed = convs.iter().filter(|c| c["state"] == "closed").count() as u64;
    let q = json!({"field": "state", "operator": "=", "value": "closed"});
    assert_eq!(count(&sim, "/conversations/search", q, "2.16"), closed);
    assert_eq!(closed + open, convs.len() as u64);
}

#[test]
fn nesting_is_limited_to_two_levels_and_fifteen_filters() {
    let sim = small();
    let leaf = json!({"field": "role", "operator": "=", "value": "user"});
    let group = |n: usize| json!({"operator": "OR", "value": vec![leaf.clone(); n]});
    for path in ["/contacts/search", "/conversations/search"] {
        let leaf = if path.starts_with("/contacts") {
            leaf.clone()
        } else {
            json!({"field": "state", "operator": "=", "value": "open"})
        };
        let group = |n: usize| json!({"operator": "OR", "value": vec![leaf.clone(); n]});
        let two = json!({"query": {"operator": "AND", "value": [group(15), group(2)]}});
        assert_eq!(search(&sim, path, two, "2.16").status, 200, "{path}");
        let three = json!({"query": {"operator": "AND", "value": [
            {"operator": "OR", "value": [group(2)]}]}});
        assert_eq!(error(&sim, path, three, "2.16"), "parameter_invalid");
        let wide = json!({"query": {"operator": "AND", "value": [group(16)]}});
        assert_eq!(error(&sim, path, wide, "2.16"), "parameter_invalid");
    }
    assert_eq!(
        search(&sim, "/contacts/search", json!({"query": group(1)}), "2.16").status,
        200
    );
}

/// Start of the Los Angeles calendar day holding `ts`, and of the next.
fn la_day(ts: i64) -> (i64, i64) {
    let tz = chrono_tz::America::Los_Angeles;
    let date = tz.timestamp_opt(ts, 0).unwrap().date_naive();
    let start = |d: chrono::NaiveDate| {
        tz.from_local_datetime(&d.and_time(NaiveTime::MIN))
            .earliest()
            .unwrap()
            .timestamp()
    };
    (start(date), start(date.succ_opt().unwrap()))
}

#[test]
fn contact_search_matches_dates_by_calendar_day_since_2_14() {
    let sim = small();
    let data = sim.dataset();
    // A second many contacts share, in the middle of a busy day.
    let mut seconds = std::collections::HashMap::new();
    for c in &data.contacts {
        *seconds
            .entry(c["updated_at"].as_i64().unwrap())
            .or_insert(0) += 1;
    }
    let t = *seconds.iter().max_by_key(|(s, n)| (**n, **s)).unwrap().0;
    let (day, next) = la_day(t);
    let updated = |c: &Value| c["updated_at"].as_i64().unwrap();
    let n = |pred: &dyn Fn(i64) -> bool| {
        data.contacts.iter().filter(|c| pred(updated(c))).count() as u64
    };
    let q = |op: &str, value: i64| json!({"field": "updated_at", "operator": op, "value": value});
    for version in ["2.14", "2.15", "2.16"] {
        assert_eq!(
            count(&sim, "/contacts/search", q("=", t), version),
            n(&|u| (day..next).contains(&u))
        );
        assert_eq!(
            count(&sim, "/contacts/search", q(">", t), version),
            n(&|u| u >= next)
        );
        assert_eq!(
            count(&sim, "/contacts/search", q("<", t), version),
            n(&|u| u < day)
        );
        for op in ["!=", ">=", "<=", "IN", "NIN"] {
            let value = if op.contains('N') {
                json!([t])
            } else {
                json!(t)
            };
            let body = json!({"query": {"field": "updated_at", "operator": op, "value": value}});
            assert_eq!(
                error(&sim, "/contacts/search", body, version),
                "parameter_invalid",
                "{op}"
            );
        }
    }
    // No header is the app's default version, 2.16.
    let reply = post(&sim, "/contacts/search", &json!({"query": q(">", t)}), &[]);
    assert_eq!(reply.body["total_count"].as_u64(), Some(n(&|u| u >= next)));
    // Before 2.14, exact seconds.
    for version in ["2.13", "2.0"] {
        assert_eq!(
            count(&sim, "/contacts/search", q("=", t), version),
            n(&|u| u == t)
        );
        assert_eq!(
            count(&sim, "/contacts/search", q(">", t), version),
            n(&|u| u > t)
        );
        assert_eq!(
            count(&sim, "/contacts/search", q(">=", t), version),
            n(&|u| u >= t)
        );
        assert_eq!(
            count(&sim, "/contacts/search", q("<=", t), version),
            n(&|u| u <= t)
        );
        assert_eq!(
            count(&sim, "/contacts/search", q("!=", t), version),
            n(&|u| u != t)
        );
    }
    assert!(n(&|u| u == t) > 1, "the sample second is shared");
    assert!(
        n(&|u| (day..next).contains(&u)) > n(&|u| u == t),
        "the day holds other seconds"
    );
}

#[test]
fn conversation_search_inequalities_include_the_bound() {
    let sim = small();
    let data = sim.dataset();
    let t = data.conversations[5]["updated_at"].as_i64().unwrap();
    let n = |pred: &dyn Fn(i64) -> bool| {
        data.conversations
            .iter()
            .filter(|c| pred(c["updated_at"].as_i64().unwrap()))
            .count() as u64
    };
    let q = |op: &str| json!({"field": "updated_at", "operator": op, "value": t});
    for version in ["2.13", "2.16"] {
        let path = "/conversations/search";
        assert_eq!(count(&sim, path, q(">"), version), n(&|u| u >= t));
        assert_eq!(count(&sim, path, q("<"), version), n(&|u| u <= t));
        assert_eq!(count(&sim, path, q(">="), version), n(&|u| u >= t));
        assert_eq!(count(&sim, path, q("="), version), n(&|u| u == t));
        assert_eq!(count(&sim, path, q("!="), version), n(&|u| u != t));
    }
}

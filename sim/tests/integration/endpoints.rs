//! Behaviour of the served API: bodies, auth, versions, rate limits, determinism.

use std::collections::BTreeSet;

use intercom_sim::{SimConfig, Simulator};
use serde_json::{Value, json};

use crate::http::{Reply, bearer, get, request, start};

#[test]
fn list_endpoints_serve_the_dataset() {
    let sim = start(SimConfig::default());
    let data = sim.dataset();
    assert_eq!(
        (data.admins.len(), data.teams.len(), data.tags.len()),
        (25, 6, 40)
    );
    let expected = [
        (
            "/admins",
            json!({"type": "admin.list", "admins": data.admins}),
        ),
        ("/teams", json!({"type": "team.list", "teams": data.teams})),
        ("/tags", json!({"type": "list", "data": data.tags})),
    ];
    for (path, body) in expected {
        let reply = get(&sim, path);
        assert_eq!(reply.status, 200, "{path}");
        assert_eq!(reply.body, body, "{path}");
    }
}

#[test]
fn me_shows_the_first_admin_and_the_app() {
    let sim = start(SimConfig::default());
    let data = sim.dataset();
    let me = get(&sim, "/me").body;
    assert_eq!(me["app"], data.app);
    assert_eq!(me["app"]["region"], "US");
    let admin = &data.admins[0];
    for field in ["id", "name", "email", "team_ids", "has_inbox_seat"] {
        assert_eq!(me[field], admin[field], "{field}");
    }
    assert_eq!(
        me["avatar"],
        json!({"type": "avatar", "image_url": admin["avatar"]})
    );
}

#[test]
fn team_membership_agrees_on_both_sides() {
    let data = start(SimConfig::default()).dataset();
    let from_admins: BTreeSet<(i64, i64)> = data
        .admins
        .iter()
        .flat_map(|admin| {
            let admin_id: i64 = admin["id"].as_str().unwrap().parse().unwrap();
            let team_ids = admin["team_ids"].as_array().unwrap();
            team_ids
                .iter()
                .map(move |team| (admin_id, team.as_i64().unwrap()))
        })
        .collect();
    let from_teams: BTreeSet<(i64, i64)> = data
        .teams
        .iter()
        .flat_map(|team| {
            let team_id: i64 = team["id"].as_str().unwrap().parse().unwrap();
            let admin_ids = team["admin_ids"].as_array().unwrap();
            admin_ids
                .iter()
                .map(move |admin| (admin.as_i64().unwrap(), team_id))
        })
        .collect();
    assert!(!from_admins.is_empty());
    assert_eq!(from_admins, from_teams);
}

fn assert_unauthorized(reply: &Reply) {
    assert_eq!(reply.status, 401, "{}", reply.body);
    assert_eq!(reply.error_code(), "unauthorized");
    assert_eq!(reply.body["errors"][0]["message"], "Access Token Invalid");
    assert!(
        reply.header("x-ratelimit-limit").is_none(),
        "only authenticated answers count"
    );
}

#[test]
fn requests_without_the_token_get_401() {
    let sim = start(SimConfig::default());
    // A non-UTF-8 token is covered by a unit test: ureq refuses to send one.
    let cases: [&[(&str, &[u8])]; 4] = [
        &[],
        &[("Authorization", b"Bearer wrong")],
        &[("Authorization", b"Basic sim-token")],
        &[("Authorization", b"sim-token")],
    ];
    for headers in cases {
        assert_unauthorized(&request(&sim, "GET", "/admins", headers));
    }
    assert_unauthorized(&request(&sim, "GET", "/no-such-path", &[]));
    let accepted = request(
        &sim,
        "GET",
        "/tags",
        &[("authorization", b"bearer sim-token")],
    );
    assert_eq!(accepted.status, 200);
}

#[test]
fn intercom_version_header_is_checked() {
    let sim = start(SimConfig::default());
    let token = bearer();
    let with_version = |version: &[u8]| {
        request(
            &sim,
            "GET",
            "/teams",
            &[
                ("Authorization", token.as_bytes()),
                ("Intercom-Version", version),
            ],
        )
    };
    for good in [&b"2.16"[..], b"2.11", b"1.0"] {
        assert_eq!(with_version(good).status, 200);
    }
    for bad in [&b"2.17"[..], b"3", b"", b"Unstable", b"2.\xff"] {
        let reply = with_version(bad);
        assert_eq!(reply.status, 400, "{}", String::from_utf8_lossy(bad));
        assert_eq!(reply.error_code(), "intercom_version_invalid");
        assert!(reply.header("x-ratelimit-remaining").is_some());
    }
}

#[test]
fn unknown_paths_and_methods_get_404_envelopes() {
    let sim = start(SimConfig::default());
    let token = bearer();
    for (method, path) in [
        ("GET", "/nope"),
        ("GET", "/admins/1/extra"),
        ("POST", "/admins"),
        ("DELETE", "/me"),
    ] {
        let reply = request(&sim, method, path, &[("Authorization", token.as_bytes())]);
        assert_eq!(reply.status, 404, "{method} {path}");
        assert_eq!(reply.error_code(), "not_found");
    }
}

fn numeric_header(reply: &Reply, name: &str) -> u64 {
    reply
        .header(name)
        .unwrap_or_else(|| panic!("missing {name}"))
        .parse()
        .unwrap_or_else(|err| panic!("{name}: {err}"))
}

#[test]
fn rate_limit_headers_are_always_sent() {
    let sim = start(SimConfig::default());
    let first = get(&sim, "/admins");
    let second = get(&sim, "/tags");
    let limit = numeric_header(&first, "x-ratelimit-limit");
    assert_eq!(limit, 10_000 / 6, "Intercom's 10,000 a minute, per 10 s");
    let (r1, r2) = (
        numeric_header(&first, "x-ratelimit-remaining"),
        numeric_header(&second, "x-ratelimit-remaining"),
    );
    assert!(r1 < limit && (r2 < r1 || r2 == limit - 1), "{r1} then {r2}");
    let reset = numeric_header(&second, "x-ratelimit-reset");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert_eq!(reset % 10, 0, "windows are aligned on 10 seconds");
    assert!(
        reset > now - 1 && reset <= now + 10,
        "reset {reset}, now {now}"
    );
    let unlimited = start(SimConfig {
        rate_limit_per_minute: None,
        ..SimConfig::default()
    });
    let large = numeric_header(&get(&unlimited, "/admins"), "x-ratelimit-limit");
    assert!(large >= 100_000, "unlimited advertises a large limit");
}

#[test]
fn rate_limit_is_enforced_per_ten_second_window() {
    let sim = start(SimConfig {
        rate_limit_per_minute: Some(60),
        ..SimConfig::default()
    });
    // 10 per window; two windows plus one guarantees a refusal even if a window
    // boundary passes during the loop.
    let refused = (0..21)
        .map(|_| get(&sim, "/tags"))
        .find(|reply| reply.status != 200)
        .expect("a request past the limit is refused");
    assert_eq!(refused.status, 429);
    assert_eq!(refused.error_code(), "rate_limit_exceeded");
    assert_eq!(
        refused.body["errors"][0]["message"],
        "Exceeded rate limit of 10 in 10_seconds"
    );
    assert_eq!(numeric_header(&refused, "x-ratelimit-limit"), 10);
    assert_eq!(numeric_header(&refused, "x-ratelimit-remaining"), 0);
}

fn dataset_json(sim: &Simulator) -> Value {
    let data = sim.dataset();
    json!({"app": data.app, "admins": data.admins, "teams": data.teams, "tags": data.tags})
}

#[test]
fn data_is_determined_by_the_seed() {
    let config = |seed| SimConfig {
        seed,
        ..SimConfig::default()
    };
    let a = dataset_json(&start(config(7)));
    assert_eq!(a, dataset_json(&start(config(7))));
    assert_ne!(a["admins"], dataset_json(&start(config(8)))["admins"]);

    // Families draw from separate streams: more tags leave admins untouched.
    let more_tags = dataset_json(&start(SimConfig {
        tags: 400,
        ..config(7)
    }));
    assert_eq!(a["admins"], more_tags["admins"]);
    assert_eq!(a["teams"], more_tags["teams"]);
    assert_eq!(more_tags["tags"].as_array().unwrap().len(), 400);
}

#[test]
fn generated_names_and_emails_are_unique() {
    let data = start(SimConfig {
        admins: 2_000,
        teams: 30,
        tags: 1_000,
        ..SimConfig::default()
    })
    .dataset();
    let distinct = |records: &[Value], field: &str| {
        let values: BTreeSet<String> = records.iter().map(|r| r[field].to_string()).collect();
        assert_eq!(values.len(), records.len(), "{field}");
    };
    distinct(&data.admins, "id");
    distinct(&data.admins, "email");
    distinct(&data.teams, "name");
    distinct(&data.tags, "name");
    distinct(&data.tags, "id");
}

#[test]
fn zero_admins_is_rejected_and_debug_hides_the_token() {
    let config = SimConfig {
        admins: 0,
        token: "very-secret".to_owned(),
        ..SimConfig::default()
    };
    assert!(!format!("{config:?}").contains("very-secret"));
    let err = Simulator::start(config)
        .err()
        .expect("zero admins is refused");
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
}

//! Fault injection as a plain HTTP client sees it, rule matching, random faults,
//! latency and the request statistics.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use intercom_sim::{Fault, FaultRule, RandomFaults, SimConfig, Simulator, Stats};
use serde_json::{Value, json};

use crate::http::{Raw, Reply, attempt, get, post, request, start};

const SHORT: Duration = Duration::from_millis(500);

fn small() -> SimConfig {
    SimConfig {
        contacts: 60,
        companies: 120,
        conversations: 40,
        ..SimConfig::default()
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn header(raw: &Raw, name: &str) -> Option<u64> {
    raw.headers.get(name)?.to_str().ok()?.parse().ok()
}

fn numeric_header(reply: &Reply, name: &str) -> u64 {
    reply
        .header(name)
        .unwrap_or_else(|| panic!("missing {name}"))
        .parse()
        .unwrap()
}

/// What a client makes of one `GET path`: the status, or that the transport failed.
fn outcome(sim: &Simulator, path: &str) -> String {
    match attempt(sim, "GET", path, None, SHORT) {
        Ok(raw) if raw.body.1.is_some() => "cut".to_owned(),
        Ok(raw) if serde_json::from_slice::<Value>(&raw.body.0).is_err() => "not-json".to_owned(),
        Ok(raw) => raw.status.to_string(),
        Err(_) => "error".to_owned(),
    }
}

#[test]
fn status_faults_answer_with_intercoms_envelope() {
    let sim = start(small());
    for status in [500, 502, 503, 504] {
        sim.inject(FaultRule::new(Fault::Status(status)).on("/admins"));
    }
    let expected = [
        (500, "server_error"),
        (502, "bad_gateway"),
        (503, "service_unavailable"),
        (504, "gateway_timeout"),
    ];
    for (status, code) in expected {
        let reply = get(&sim, "/admins");
        assert_eq!(reply.status, status);
        assert_eq!(reply.error_code(), code);
        assert!(reply.header("x-ratelimit-remaining").is_some());
    }
    assert_eq!(get(&sim, "/admins").status, 200, "each rule fired once");
}

#[test]
fn rate_limited_fault_shows_an_empty_window_but_takes_nothing_from_it() {
    let sim = start(SimConfig {
        rate_limit_per_minute: Some(60),
        ..small()
    });
    sim.inject(FaultRule::new(Fault::RateLimited).times(3));
    for _ in 0..3 {
        let reply = get(&sim, "/tags");
        assert_eq!(reply.status, 429);
        assert_eq!(reply.error_code(), "rate_limit_exceeded");
        assert_eq!(
            reply.body["errors"][0]["message"],
            "Exceeded rate limit of 10 in 10_seconds"
        );
        assert_eq!(numeric_header(&reply, "x-ratelimit-limit"), 10);
        assert_eq!(numeric_header(&reply, "x-ratelimit-remaining"), 0);
        let reset = numeric_header(&reply, "x-ratelimit-reset");
        let now = unix_now();
        assert_eq!(reset % 10, 0);
        assert!(
            reset > now - 1 && reset <= now + 10,
            "reset {reset}, now {now}"
        );
    }
    let next = get(&sim, "/tags");
    assert_eq!(next.status, 200);
    assert_eq!(numeric_header(&next, "x-ratelimit-remaining"), 9);
    let stats = sim.stats();
    assert_eq!((stats.rate_limited, stats.faults_fired), (3, 3));
}

#[test]
fn unauthorized_fault_looks_like_a_revoked_token_and_skips_bad_tokens() {
    let sim = start(small());
    sim.inject(FaultRule::new(Fault::Unauthorized));
    // An unauthenticated request stays an ordinary 401 and leaves the rule armed.
    assert_eq!(request(&sim, "GET", "/me", &[]).status, 401);
    let revoked = get(&sim, "/me");
    assert_eq!(revoked.status, 401);
    assert_eq!(revoked.error_code(), "unauthorized");
    assert!(revoked.header("x-ratelimit-limit").is_none());
    assert_eq!(get(&sim, "/me").status, 200);
    assert_eq!(sim.stats().faults_fired, 1);
}

#[test]
fn reset_and_truncated_are_transport_errors() {
    let sim = start(small());
    sim.inject(FaultRule::new(Fault::Reset).on("/contacts/search"));
    let body = json!({"query": {"field": "role", "operator": "=", "value": "user"}});
    let reset = attempt(&sim, "POST", "/contacts/search", Some(&body), SHORT);
    assert!(reset.is_err(), "no response at all");

    sim.inject(FaultRule::new(Fault::Truncated).on("/tags"));
    let truncated = attempt(&sim, "GET", "/tags", None, SHORT).expect("headers arrive");
    assert_eq!(truncated.status, 200);
    let length = header(&truncated, "content-length").expect("content-length");
    let (received, error) = &truncated.body;
    assert!(error.is_some(), "reading the body fails");
    assert!(
        !received.is_empty() && (received.len() as u64) < length,
        "{} of {length} bytes",
        received.len()
    );
    assert!(serde_json::from_slice::<Value>(received).is_err());

    sim.inject(FaultRule::new(Fault::InvalidJson));
    let invalid = attempt(&sim, "GET", "/teams", None, SHORT).expect("answered");
    assert_eq!(invalid.status, 200);
    assert!(invalid.body.1.is_none());
    assert!(serde_json::from_slice::<Value>(&invalid.body.0).is_err());

    // The server carries on normally afterwards.
    assert_eq!(post(&sim, "/contacts/search", &body, &[]).status, 200);
    let stats = sim.stats();
    assert_eq!(stats.faults_fired, 3);
    assert_eq!(
        stats.by_status.get(&200),
        Some(&3),
        "truncated, invalid, ok"
    );
}

#[test]
fn hang_times_out_and_does_not_hold_up_shutdown() {
    let sim = start(small());
    sim.inject(
        FaultRule::new(Fault::Hang)
            .on("/companies/scroll")
            .times(u64::MAX),
    );
    let started = Instant::now();
    let hung = attempt(
        &sim,
        "GET",
        "/companies/scroll",
        None,
        Duration::from_millis(300),
    );
    assert!(hung.is_err());
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(
        get(&sim, "/admins").status,
        200,
        "other requests are served"
    );

    // A client still waiting when the simulator stops gets an error, and the
    // simulator does not wait for it.
    let base = sim.base_url();
    let waiting = std::thread::spawn(move || {
        ureq::get(format!("{base}/companies/scroll"))
            .header("Authorization", crate::http::bearer())
            .config()
            .timeout_global(Some(Duration::from_secs(30)))
            .build()
            .call()
            .is_err()
    });
    std::thread::sleep(Duration::from_millis(200));
    let stats = sim.stats();
    assert_eq!((stats.authenticated, stats.faults_fired), (3, 2));
    let stopping = Instant::now();
    drop(sim);
    assert!(
        stopping.elapsed() < Duration::from_secs(2),
        "{:?}",
        stopping.elapsed()
    );
    assert!(waiting.join().unwrap(), "the waiting client sees an error");
}

#[test]
fn delay_fault_and_latency_slow_answers_down() {
    let sim = start(SimConfig {
        latency: Some(Duration::from_millis(150)),
        ..small()
    });
    let timed = |path: &str| {
        let started = Instant::now();
        let status = get(&sim, path).status;
        (status, started.elapsed())
    };
    let (status, took) = timed("/admins");
    assert_eq!(status, 200);
    assert!(took >= Duration::from_millis(150), "{took:?}");
    sim.inject(FaultRule::new(Fault::Delay(Duration::from_millis(300))).on("/teams"));
    let (status, took) = timed("/teams");
    assert_eq!(status, 200);
    assert!(took >= Duration::from_millis(450), "{took:?}");
    // Unauthenticated answers are not delayed.
    let started = Instant::now();
    assert_eq!(request(&sim, "GET", "/teams", &[]).status, 401);
    assert!(started.elapsed() < Duration::from_millis(150));
}

#[test]
fn rules_match_by_path_then_let_after_through_then_fire_times() {
    let sim = start(small());
    sim.inject(
        FaultRule::new(Fault::Status(503))
            .on("/contacts")
            .after(1)
            .times(u64::MAX),
    );
    sim.inject(FaultRule::new(Fault::Status(500)).after(5));
    let search = json!({"query": {"field": "role", "operator": "=", "value": "lead"}});
    let mut statuses = Vec::new();
    for i in 0..6 {
        // Interleaved requests on another path do not count for the first rule.
        statuses.push(get(&sim, "/tags").status);
        statuses.push(post(&sim, "/contacts/search", &search, &[]).status);
        if i == 4 {
            sim.clear_faults();
        }
    }
    // Rule 2 counts every request: the 6th (the third search) is past its
    // `after`, but rule 1 fires first; the 7th is rule 2's. Cleared after the 10th.
    assert_eq!(
        statuses,
        [200, 200, 200, 503, 200, 503, 500, 503, 200, 503, 200, 200]
    );
}

#[test]
fn random_faults_are_deterministic_per_seed() {
    let run = |seed| {
        let sim = start(SimConfig {
            random_faults: Some(RandomFaults::new(seed, 0.4)),
            ..small()
        });
        let outcomes: Vec<String> = (0..30).map(|_| outcome(&sim, "/tags")).collect();
        (outcomes, sim.stats())
    };
    let (a, stats) = run(3);
    assert_eq!(a, run(3).0);
    assert_ne!(a, run(4).0);
    let faulted = a.iter().filter(|o| *o != "200").count() as u64;
    assert_eq!(stats.faults_fired, faulted);
    assert!((3..=24).contains(&faulted), "{a:?}");
    for kind in a.iter().filter(|o| *o != "200") {
        assert!(
            ["429", "500", "503", "error", "cut", "not-json"].contains(&kind.as_str()),
            "{kind}"
        );
    }
    let bad_rate = Simulator::start(SimConfig {
        random_faults: Some(RandomFaults::new(1, 1.5)),
        ..small()
    });
    assert!(bad_rate.is_err());
}

/// Waits until at least `margin` is left in the current 10-second window.
fn early_in_a_window(margin: u64) {
    while 10 - unix_now() % 10 < margin {
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn stats_count_requests_statuses_faults_and_the_peak_window() {
    let sim = start(SimConfig {
        rate_limit_per_minute: Some(60),
        ..small()
    });
    assert_eq!(sim.stats(), Stats::default());
    sim.inject(FaultRule::new(Fault::Status(503)).on("/teams"));
    early_in_a_window(4);
    assert_eq!(request(&sim, "GET", "/tags", &[]).status, 401);
    assert_eq!(get(&sim, "/teams").status, 503);
    let statuses: Vec<u16> = (0..12).map(|_| get(&sim, "/tags").status).collect();
    // The fault took nothing from the window's 10.
    assert_eq!(statuses[..10], [200; 10]);
    assert_eq!(statuses[10..], [429, 429]);
    let stats = sim.stats();
    assert_eq!(
        stats,
        Stats {
            requests: 14,
            authenticated: 13,
            by_status: [(200, 10), (401, 1), (429, 2), (503, 1)].into(),
            rate_limited: 2,
            faults_fired: 1,
            peak_window: 13,
            by_endpoint: [("GET /teams".into(), 1), ("GET /tags".into(), 12)].into(),
        }
    );
}

fn scroll(sim: &Simulator, param: Option<&str>) -> Reply {
    match param {
        None => get(sim, "/companies/scroll"),
        Some(param) => get(sim, &format!("/companies/scroll?scroll_param={param}")),
    }
}

fn ids(page: &Value) -> Vec<String> {
    page.as_array()
        .unwrap()
        .iter()
        .map(|record| record["id"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn scroll_faults_refuse_a_start_or_kill_the_open_scroll() {
    let sim = start(small());
    sim.inject(FaultRule::new(Fault::ScrollExists));
    assert_eq!(get(&sim, "/admins").status, 200, "only scroll starts apply");
    let refused = scroll(&sim, None);
    assert_eq!(refused.status, 400);
    assert_eq!(refused.error_code(), "scroll_exists");

    let first = scroll(&sim, None);
    assert_eq!(first.status, 200, "no scroll was really open");
    let param = first.body["scroll_param"].as_str().unwrap().to_owned();
    sim.inject(FaultRule::new(Fault::ScrollServerError).on("/companies/scroll"));
    let failed = scroll(&sim, Some(&param));
    assert_eq!(failed.status, 500);
    assert_eq!(failed.error_code(), "server_error");
    assert_eq!(
        failed.body["errors"][0]["message"],
        "Request failed due to an internal network error. Please restart the scroll operation."
    );
    let dead = scroll(&sim, Some(&param));
    assert_eq!(dead.status, 400);
    assert_eq!(dead.error_code(), "parameter_invalid");
    let restarted = scroll(&sim, None);
    assert_eq!(restarted.status, 200, "the slot was freed");
    assert_eq!(ids(&restarted.body["data"]), ids(&first.body["data"]));
}

#[test]
fn repeat_cursor_loops_search_and_replays_a_scroll_page() {
    let sim = start(small());
    let body = |cursor: Option<&str>| {
        json!({
            "query": {"field": "updated_at", "operator": ">", "value": 0},
            "pagination": {"per_page": 10, "starting_after": cursor},
            "sort": {"field": "updated_at", "order": "ascending"},
        })
    };
    for (path, key) in [
        ("/contacts/search", "data"),
        ("/conversations/search", "conversations"),
    ] {
        sim.inject(FaultRule::new(Fault::RepeatCursor).on(path));
        // A first page has no cursor to repeat: the rule waits.
        let first = post(&sim, path, &body(None), &[]);
        let cursor = first.body["pages"]["next"]["starting_after"]
            .as_str()
            .unwrap()
            .to_owned();
        let looped = post(&sim, path, &body(Some(&cursor)), &[]);
        assert_eq!(looped.status, 200);
        assert_eq!(
            looped.body["pages"]["next"]["starting_after"],
            cursor.as_str()
        );
        let again = post(&sim, path, &body(Some(&cursor)), &[]);
        assert_eq!(again.body[key], looped.body[key], "{path}: same page");
        assert_ne!(
            again.body["pages"]["next"]["starting_after"],
            cursor.as_str()
        );
        assert_ne!(ids(&again.body[key]), ids(&first.body[key]));
    }

    sim.inject(
        FaultRule::new(Fault::RepeatCursor)
            .on("/companies/scroll")
            .after(1),
    );
    let first = scroll(&sim, None);
    let param = first.body["scroll_param"].as_str().unwrap().to_owned();
    let second = scroll(&sim, Some(&param));
    let replayed = scroll(&sim, Some(&param));
    assert_eq!(replayed.status, 200);
    assert_eq!(replayed.body["scroll_param"], param.as_str());
    assert_eq!(ids(&replayed.body["data"]), ids(&second.body["data"]));
    let third = scroll(&sim, Some(&param));
    assert_eq!(
        third.body["data"].as_array().unwrap().len(),
        20,
        "120 = 50 + 50 + 20"
    );
    assert_eq!(sim.stats().faults_fired, 3);
}

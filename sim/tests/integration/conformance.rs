//! Every served body validates against the official 2.16 spec.

use intercom_sim::SimConfig;
use serde_json::{Value, json};

use crate::http::{get, request, start};
use crate::openapi::Spec;

/// Each served `GET` endpoint; add a line per new endpoint.
const SERVED: &[&str] = &["/me", "/admins", "/teams", "/tags"];

/// Large enough that every optional and nullable branch of the generator occurs.
fn varied() -> SimConfig {
    SimConfig {
        admins: 200,
        teams: 15,
        tags: 500,
        ..SimConfig::default()
    }
}

#[test]
fn success_bodies_conform() {
    let spec = Spec::load();
    let sim = start(varied());
    for path in SERVED {
        let reply = get(&sim, path);
        assert_eq!(reply.status, 200, "{path}: {}", reply.body);
        spec.response(path, "get", 200).assert_valid(&reply.body);
    }
}

#[test]
fn the_dataset_exercises_nullable_fields_both_ways() {
    let data = start(varied()).dataset();
    let both = |records: &[Value], field: &str| {
        let nulls = records.iter().filter(|r| r[field].is_null()).count();
        assert!(
            nulls > 0 && nulls < records.len(),
            "{field}: {nulls} of {} null",
            records.len()
        );
    };
    both(&data.admins, "avatar");
    both(&data.admins, "away_status_reason_id");
    both(&data.teams, "admin_priority_level");
    both(&data.teams, "assignment_limit");
}

#[test]
fn error_bodies_conform() {
    let spec = Spec::load();
    let sim = start(SimConfig {
        rate_limit_per_minute: Some(6),
        ..SimConfig::default()
    });
    let error = spec.component("error");
    for path in SERVED {
        let reply = request(&sim, "GET", path, &[]);
        assert_eq!(reply.status, 401);
        // Use the operation's own 401 schema where the spec declares one.
        if *path == "/me" {
            error.assert_valid(&reply.body);
        } else {
            spec.response(path, "get", 401).assert_valid(&reply.body);
        }
    }
    // One request per window is allowed: 404 then 429, unless a window boundary
    // passes in between; three requests see a 429 either way.
    let replies: Vec<_> = (0..3).map(|_| get(&sim, "/nope")).collect();
    for reply in &replies {
        assert!(matches!(reply.status, 404 | 429), "{}", reply.status);
        error.assert_valid(&reply.body);
    }
    assert!(replies.iter().any(|reply| reply.status == 429));
}

#[test]
fn version_error_conforms() {
    let spec = Spec::load();
    let sim = start(SimConfig::default());
    let token = crate::http::bearer();
    let reply = request(
        &sim,
        "GET",
        "/admins",
        &[
            ("Authorization", token.as_bytes()),
            ("Intercom-Version", b"9.9"),
        ],
    );
    assert_eq!(reply.status, 400);
    spec.component("error").assert_valid(&reply.body);
}

/// Guards against a converter that accepts anything.
#[test]
fn validators_reject_off_spec_bodies() {
    let spec = Spec::load();
    let admins = spec.response("/admins", "get", 200);
    let off_spec =
        json!({"type": "admin.list", "admins": [{"type": "admin", "id": "1", "team_ids": ["7"]}]});
    assert!(!admins.errors(&off_spec).is_empty());
    let numeric_id = json!({"type": "admin.list", "admins": [{"id": 1}]});
    assert!(!admins.errors(&numeric_id).is_empty());
    let avatar_object = json!({"type": "admin.list", "admins": [{"avatar": {"image_url": "x"}}]});
    assert!(!admins.errors(&avatar_object).is_empty());
    let relative_avatar = json!({"type": "admin.list", "admins": [{"avatar": "not a uri"}]});
    assert!(
        !admins.errors(&relative_avatar).is_empty(),
        "avatar is a uri"
    );
    let null_admin = json!({"type": "admin.list", "admins": [null]});
    assert!(admins.errors(&null_admin).is_empty(), "admin is nullable");
    let error = spec.component("error");
    assert!(!error.errors(&json!({"type": "error.list"})).is_empty());
    let bad_uuid = json!({"type": "error.list", "request_id": "nope", "errors": [{"code": "x"}]});
    assert!(!error.errors(&bad_uuid).is_empty(), "formats are checked");
}

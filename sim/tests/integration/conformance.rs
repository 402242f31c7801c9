//! Every served body validates against the official 2.16 spec.

use intercom_sim::{Dataset, SimConfig};
use serde_json::{Value, json};

use crate::http::{get, post, request, send, start};
use crate::openapi::Spec;

/// Each served endpoint as `(method, path as the spec names it)`; add a line per
/// new endpoint. [`concrete`] fills in ids and the interesting query variants.
const SERVED: &[(&str, &str)] = &[
    ("get", "/me"),
    ("get", "/admins"),
    ("get", "/admins/{admin_id}"),
    ("get", "/teams"),
    ("get", "/tags"),
    ("get", "/segments"),
    ("get", "/data_attributes"),
    ("get", "/companies/scroll"),
    ("get", "/companies/{company_id}"),
    ("get", "/companies/{company_id}/segments"),
    ("get", "/contacts"),
    ("post", "/contacts/search"),
    ("get", "/contacts/{contact_id}"),
    ("get", "/contacts/{contact_id}/tags"),
    ("get", "/contacts/{contact_id}/companies"),
    ("get", "/contacts/{contact_id}/notes"),
    ("post", "/conversations/search"),
    ("get", "/conversations/{conversation_id}"),
    ("get", "/ticket_types"),
    ("get", "/ticket_states"),
    ("post", "/tickets/search"),
    ("get", "/tickets/{ticket_id}"),
    ("get", "/conversations/attributes"),
    ("get", "/subscription_types"),
    ("get", "/help_center/help_centers"),
    ("get", "/help_center/collections"),
    ("get", "/articles"),
    ("get", "/admins/activity_logs"),
];

/// Concrete requests for a spec path: ids of records with many relations (so
/// embedded lists are full) and every query variant worth checking.
fn concrete(path: &str, data: &Dataset) -> Vec<String> {
    let busy_contact = data
        .contacts
        .iter()
        .max_by_key(|c| {
            c["companies"]["total_count"].as_u64().unwrap_or(0)
                + c["notes"]["total_count"].as_u64().unwrap_or(0)
        })
        .expect("contacts");
    let busy_company = data
        .companies
        .iter()
        .max_by_key(|c| c["segments"]["segments"].as_array().map_or(0, Vec::len))
        .expect("companies");
    let contact = busy_contact["id"].as_str().unwrap();
    let company = busy_company["id"].as_str().unwrap();
    let conversation = data.conversations[0]["id"].as_str().unwrap();
    let filled = path
        .replace("{contact_id}", contact)
        .replace("{company_id}", company)
        .replace("{conversation_id}", conversation)
        .replace("{ticket_id}", data.tickets[0]["id"].as_str().unwrap())
        .replace("{admin_id}", data.admins[0]["id"].as_str().unwrap());
    match path {
        "/segments" => vec![
            filled.clone(),
            format!("{filled}?include_count=true"),
            format!("{filled}?type=company&include_count=true"),
        ],
        "/data_attributes" => vec![
            format!("{filled}?model=contact&include_archived=true"),
            format!("{filled}?model=company"),
            filled,
        ],
        "/conversations/attributes" => {
            vec![filled.clone(), format!("{filled}?include_archived=true")]
        }
        "/admins/activity_logs" => vec![
            format!("{filled}?created_at_after=0"),
            format!("{filled}?created_at_after=0&created_at_before=1770000000"),
        ],
        "/contacts" => vec![filled.clone(), format!("{filled}?per_page=150")],
        "/contacts/{contact_id}/companies" | "/contacts/{contact_id}/notes" => {
            vec![filled.clone(), format!("{filled}?per_page=2&page=2")]
        }
        _ => vec![filled],
    }
}

fn search_bodies(path: &str) -> Vec<Value> {
    let field = if path.starts_with("/contacts") {
        "role"
    } else {
        "state"
    };
    vec![
        json!({"query": {"field": "updated_at", "operator": ">", "value": 0},
               "pagination": {"per_page": 150}, "sort": {"field": "updated_at", "order": "ascending"}}),
        json!({"query": {"operator": "OR", "value": [
                {"field": field, "operator": "IN", "value": ["lead", "closed"]},
                {"field": "id", "operator": "^", "value": "6"}]}}),
    ]
}

/// Large enough that every optional and nullable branch of the generator occurs.
fn varied() -> SimConfig {
    SimConfig {
        admins: 200,
        teams: 15,
        tags: 500,
        contacts: 3_000,
        companies: 600,
        conversations: 1_200,
        segments: 30,
        ..SimConfig::default()
    }
}

#[test]
fn success_bodies_conform() {
    let Some(spec) = Spec::load("success_bodies_conform") else {
        return;
    };
    let sim = start(varied());
    let data = sim.dataset();
    for &(method, path) in SERVED {
        let schema = spec.response(path, method, 200);
        if method == "post" {
            for body in search_bodies(path) {
                let mut cursor = None;
                // Every page, so every generated record is checked.
                loop {
                    let mut body = body.clone();
                    if let Some(after) = cursor.take() {
                        body["pagination"] = json!({"per_page": 150, "starting_after": after});
                    }
                    let reply = post(&sim, path, &body, &[]);
                    assert_eq!(reply.status, 200, "{path}: {}", reply.body);
                    schema.assert_valid(&reply.body);
                    match reply.body["pages"]["next"]["starting_after"].as_str() {
                        Some(next) => cursor = Some(next.to_owned()),
                        None => break,
                    }
                }
            }
            continue;
        }
        for url in concrete(path, &data) {
            let reply = get(&sim, &url);
            assert_eq!(reply.status, 200, "{url}: {}", reply.body);
            schema.assert_valid(&reply.body);
        }
    }
    // Every contact, company and conversation as served, not just the samples.
    let contact = spec.response("/contacts/{contact_id}", "get", 200);
    data.contacts.iter().for_each(|c| contact.assert_valid(c));
    let company = spec.response("/companies/{company_id}", "get", 200);
    data.companies.iter().for_each(|c| company.assert_valid(c));
    let ticket = spec.response("/tickets/{ticket_id}", "get", 200);
    data.tickets.iter().for_each(|t| ticket.assert_valid(t));
    let article = spec.component("article_list_item");
    data.articles.iter().for_each(|a| article.assert_valid(a));
    let log = spec.component("activity_log");
    data.activity_logs.iter().for_each(|l| log.assert_valid(l));
    let conversation = spec.response("/conversations/{conversation_id}", "get", 200);
    for c in data.conversations.iter().take(200) {
        let full = data
            .conversation_with_parts(c["id"].as_str().unwrap())
            .unwrap();
        conversation.assert_valid(&full);
    }
}

#[test]
fn client_errors_conform() {
    let Some(spec) = Spec::load("client_errors_conform") else {
        return;
    };
    let sim = start(SimConfig {
        contacts: 50,
        conversations: 20,
        ..SimConfig::default()
    });
    let error = spec.component("error");
    let token = crate::http::bearer();
    let auth: &[(&str, &[u8])] = &[("Authorization", token.as_bytes())];
    let cases = [
        ("POST", "/contacts/search", "{not json"),
        (
            "POST",
            "/contacts/search",
            r#"{"query": {"field": "nope", "operator": "=", "value": 1}}"#,
        ),
        (
            "POST",
            "/conversations/search",
            r#"{"query": {"field": "id", "operator": "=", "value": "1"}, "pagination": {"starting_after": "%%%"}}"#,
        ),
        ("GET", "/contacts/nope", ""),
        ("GET", "/admins/1", ""),
        ("GET", "/contacts/nope/tags", ""),
        ("GET", "/companies/nope", ""),
        ("GET", "/companies/nope/segments", ""),
        ("GET", "/conversations/1", ""),
        ("GET", "/companies/scroll?scroll_param=unknown", ""),
        ("GET", "/data_attributes?model=conversation", ""),
        ("GET", "/segments?include_count=maybe", ""),
    ];
    for (method, path, body) in cases {
        let reply = send(&sim, method, path, auth, body.to_owned());
        assert!(
            matches!(reply.status, 400 | 404 | 422),
            "{method} {path}: {}",
            reply.status
        );
        let spec_path = SERVED
            .iter()
            .map(|(_, p)| *p)
            .find(|p| {
                let bare = path.split('?').next().unwrap();
                p.split('/').count() == bare.split('/').count()
                    && p.split('/')
                        .zip(bare.split('/'))
                        .all(|(a, b)| a == b || a.starts_with('{'))
            })
            .unwrap_or_else(|| panic!("{path} is not served"));
        if spec.declares(spec_path, method, reply.status) {
            spec.response(spec_path, method, reply.status)
                .assert_valid(&reply.body);
        } else {
            error.assert_valid(&reply.body);
        }
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
    let Some(spec) = Spec::load("error_bodies_conform") else {
        return;
    };
    let sim = start(SimConfig {
        rate_limit_per_minute: Some(6),
        ..SimConfig::default()
    });
    let error = spec.component("error");
    for &(method, path) in SERVED {
        let reply = request(&sim, &method.to_ascii_uppercase(), path, &[]);
        assert_eq!(reply.status, 401);
        // Use the operation's own 401 schema where the spec declares one.
        if path != "/me" && spec.declares(path, method, 401) {
            spec.response(path, method, 401).assert_valid(&reply.body);
        } else {
            error.assert_valid(&reply.body);
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
    let Some(spec) = Spec::load("version_error_conforms") else {
        return;
    };
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
    let Some(spec) = Spec::load("validators_reject_off_spec_bodies") else {
        return;
    };
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

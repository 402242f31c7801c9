//! Tickets: `POST /tickets/search` and `GET /tickets/{id}`, both serving a
//! ticket with its parts (2.16 schema `ticket`), and the unpaginated
//! `GET /ticket_types` and `GET /ticket_states`. Each type embeds its
//! attributes and the states it may be in; each state embeds the types that
//! use it, as the schemas `ticket_type` and `ticket_state_detailed` describe.

use axum::Extension;
use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};

use crate::envelope::{self, ApiError, ApiJson, ApiPath};
use crate::faults::RepeatCursor;
use crate::names::{NOUNS, pick};
use crate::resources::conversations::{People, admin_author};
use crate::search::{Kind, Location, Searchable, answer};
use crate::server::AppState;
use crate::times::Timeline;

/// `GET /tickets/{id}` shows at most this many parts ("There is a limit of
/// 500 parts").
pub(crate) const SHOWN_PARTS: usize = 500;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/ticket_types", get(types))
        .route("/ticket_states", get(states))
        .route("/tickets/search", post(search))
        .route("/tickets/{id}", get(show))
}

/// A ticket type's custom attributes as `(name, data_type)`.
type Attributes = &'static [(&'static str, &'static str)];

/// `(name, category, icon, custom attributes)`.
const TYPES: &[(&str, &str, &str, Attributes)] = &[
    (
        "Bug Report",
        "Customer",
        "🐞",
        &[("Severity", "list"), ("Steps to reproduce", "string")],
    ),
    ("Feature Request", "Customer", "💡", &[("Votes", "integer")]),
    (
        "Billing Dispute",
        "Back-office",
        "🧾",
        &[("Amount", "decimal"), ("Refund issued", "boolean")],
    ),
    (
        "Outage Tracker",
        "Tracker",
        "🚨",
        &[("Started at", "datetime"), ("Postmortem", "files")],
    ),
];

/// `(category, internal label, external label)`; the archived one last.
const STATES: &[(&str, &str, &str)] = &[
    ("submitted", "Submitted", "Submitted"),
    ("in_progress", "In progress", "In progress"),
    ("in_progress", "With Dev Team", "In progress"),
    (
        "waiting_on_customer",
        "Waiting on customer",
        "Awaiting your reply",
    ),
    ("resolved", "Resolved", "Resolved"),
    ("resolved", "Won't fix", "Closed"),
];

/// `(ticket types, ticket states)` with their links both ways.
pub(crate) fn generate(
    rng: &mut ChaCha8Rng,
    timeline: &Timeline,
    workspace_id: &str,
) -> (Vec<Value>, Vec<Value>) {
    let state_ids: Vec<String> = (0..STATES.len())
        .map(|i| (8_200 + i * 3 + rng.random_range(0..3)).to_string())
        .collect();
    let state_of = |i: usize| {
        let (category, internal, external) = STATES[i];
        json!({
            "type": "ticket_state",
            "id": state_ids[i],
            "category": category,
            "internal_label": internal,
            "external_label": external,
        })
    };
    let mut next_attribute = 160 + rng.random_range(0..10);
    let mut types = Vec::new();
    // Which states each type uses: every category at least once.
    let mut uses: Vec<Vec<usize>> = Vec::new();
    for (i, &(name, category, icon, custom)) in TYPES.iter().enumerate() {
        let id = 60 + i as u64 * 2 + rng.random_range(0..2);
        let (created, updated) = timeline.created_updated(rng);
        let mut attribute = |name: &str, description: &str, data_type: &str, default: bool| {
            next_attribute += 1;
            let options = match data_type {
                "string" => json!({"multiline": !default}),
                "list" => json!({"list_options": [
                    {"label": "Low", "id": "1"}, {"label": "High", "id": "2"}]}),
                _ => json!({}),
            };
            json!({
                "type": "ticket_type_attribute",
                "id": next_attribute.to_string(),
                "workspace_id": workspace_id,
                "name": name,
                "description": description,
                "data_type": data_type,
                "input_options": options,
                "order": next_attribute % 7,
                "required_to_create": default && name == "_default_title_",
                "required_to_create_for_contacts": false,
                "visible_on_create": true,
                "visible_to_contacts": category == "Customer",
                "default": default,
                "ticket_type_id": id,
                "archived": false,
                "created_at": created,
                "updated_at": updated,
            })
        };
        let mut attributes = vec![
            attribute("_default_title_", "", "string", true),
            attribute("_default_description_", "", "string", true),
        ];
        for &(custom_name, data_type) in custom {
            attributes.push(attribute(
                custom_name,
                "Filled in by the team",
                data_type,
                false,
            ));
        }
        let used: Vec<usize> = (0..STATES.len())
            .filter(|&s| s == 0 || s == 4 || rng.random_bool(0.6))
            .collect();
        types.push(json!({
            "type": "ticket_type",
            "id": id.to_string(),
            "category": category,
            "name": name,
            "description": format!("{name} template"),
            "icon": icon,
            "workspace_id": workspace_id,
            "ticket_type_attributes": {
                "type": "ticket_type_attributes.list",
                "ticket_type_attributes": attributes,
            },
            "ticket_states": {
                "type": "list",
                "data": used.iter().map(|&s| state_of(s)).collect::<Vec<_>>(),
            },
            "archived": i == TYPES.len() - 1 && rng.random_bool(0.5),
            "created_at": created,
            "updated_at": updated,
        }));
        uses.push(used);
    }
    let states = (0..STATES.len())
        .map(|s| {
            let mut state = state_of(s);
            state["archived"] = json!(s == STATES.len() - 1);
            let linked: Vec<Value> = types
                .iter()
                .zip(&uses)
                .filter(|(_, used)| used.contains(&s))
                .map(|(ticket_type, _)| {
                    let mut basic = ticket_type.clone();
                    if let Some(object) = basic.as_object_mut() {
                        for nested in ["ticket_type_attributes", "ticket_states", "workspace_id"] {
                            object.remove(nested);
                        }
                    }
                    basic
                })
                .collect();
            state["ticket_types"] = json!({"type": "list", "data": linked});
            state
        })
        .collect();
    (types, states)
}

async fn types(State(state): State<AppState>) -> Json<Value> {
    envelope::list("list", "data", state.data().ticket_types.clone())
}

async fn states(State(state): State<AppState>) -> Json<Value> {
    envelope::list("list", "data", state.data().ticket_states.clone())
}

const TITLES: &[&str] = &[
    "Export fails",
    "Refund request",
    "Cannot sign in",
    "Invoice missing",
    "Dashboard is slow",
    "Webhook not firing",
];

/// A ticket's parts move it through these state categories in order.
const PROGRESSION: &[&str] = &[
    "submitted",
    "in_progress",
    "waiting_on_customer",
    "resolved",
];

/// One ticket part at `at`, leaving the ticket in `state` (from `previous`).
pub(crate) fn part(
    rng: &mut ChaCha8Rng,
    id: u64,
    at: i64,
    author: Value,
    (previous, state): (&str, &str),
) -> Value {
    let part_type = match (previous == state, author["type"] == "user") {
        (false, _) => "ticket_state_updated_by_admin",
        (true, true) => "comment",
        (true, false) => pick(rng, &["comment", "note", "assignment"]),
    };
    let body = matches!(part_type, "comment" | "note")
        .then(|| format!("<p>About the {}.</p>", pick(rng, NOUNS)));
    json!({
        "type": "ticket_part",
        "id": id.to_string(),
        "part_type": part_type,
        "body": body,
        "previous_ticket_state": previous,
        "ticket_state": state,
        "created_at": at,
        "updated_at": at,
        "assigned_to": null,
        "author": author,
        "attachments": [],
        "external_id": null,
        "redacted": false,
    })
}

/// A contact as a ticket part's author (`ticket_part_author` knows no leads).
fn contact_author(contact: &Value) -> Value {
    json!({"type": "user", "id": contact["id"], "name": contact["name"], "email": contact["email"]})
}

/// The ticket's parts as the API embeds them: the newest 500, with the count of all.
pub(crate) fn embed_parts(ticket: &mut Value, parts: &[Value]) {
    let shown = &parts[parts.len().saturating_sub(SHOWN_PARTS)..];
    ticket["ticket_parts"] = json!({
        "type": "ticket_part.list",
        "ticket_parts": shown,
        "total_count": parts.len(),
    });
}

/// One ticket of a random type and its parts, oldest first. `updated_at` is
/// at least the newest part's.
pub(crate) fn generate_one(
    rng: &mut ChaCha8Rng,
    (id, number): (u64, u64),
    part_count: usize,
    timeline: &Timeline,
    people: &People<'_>,
    types: &[Value],
    next_part_id: &mut u64,
) -> (Value, Vec<Value>) {
    let (created, mut updated) = timeline.created_updated(rng);
    let ticket_type = &types[rng.random_range(0..types.len())];
    let contact = (!people.contacts.is_empty())
        .then(|| &people.contacts[rng.random_range(0..people.contacts.len())]);
    let admin = &people.admins[rng.random_range(0..people.admins.len())];
    let mut times: Vec<i64> = (0..part_count)
        .map(|_| rng.random_range(created..=updated))
        .collect();
    times.sort_unstable();
    let mut state = 0;
    let parts: Vec<Value> = times
        .into_iter()
        .map(|at| {
            *next_part_id += rng.random_range(1..4);
            let previous = state;
            if state + 1 < PROGRESSION.len() && rng.random_bool(0.35) {
                state += 1;
            }
            let author = match contact {
                Some(contact) if previous == state && rng.random_bool(0.4) => {
                    contact_author(contact)
                }
                _ => admin_author(admin),
            };
            part(
                rng,
                *next_part_id,
                at,
                author,
                (PROGRESSION[previous], PROGRESSION[state]),
            )
        })
        .collect();
    if let Some(last) = parts.last().and_then(|p| p["updated_at"].as_i64()) {
        updated = updated.max(last);
    }
    let category = PROGRESSION[state];
    let states = ticket_type["ticket_states"]["data"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    let ticket_state = states
        .iter()
        .find(|s| s["category"] == category)
        .or(states.first())
        .cloned()
        .unwrap_or(Value::Null);
    let team_assignee_id = match people.teams.len() {
        0 => 0,
        n => people.teams[rng.random_range(0..n)]["id"]
            .as_str()
            .and_then(|id| id.parse::<i64>().ok())
            .unwrap_or(0),
    };
    let title = pick(rng, TITLES);
    let mut ticket = json!({
        "type": "ticket",
        "id": id.to_string(),
        "ticket_id": number.to_string(),
        "category": ticket_type["category"],
        "ticket_attributes": {
            "_default_title_": title,
            "_default_description_": rng.random_bool(0.7).then(|| format!("{title}: see the {}", pick(rng, NOUNS))),
        },
        "ticket_state": ticket_state,
        "ticket_type": ticket_type,
        "contacts": {
            "type": "contact.list",
            "contacts": contact.map(|c| vec![json!({"type": "contact", "id": c["id"], "external_id": c["external_id"]})]).unwrap_or_default(),
        },
        "admin_assignee_id": admin["id"].as_str().and_then(|id| id.parse::<i64>().ok()).unwrap_or(0),
        "team_assignee_id": team_assignee_id,
        "created_at": created,
        "updated_at": updated,
        "open": category != "resolved",
        "linked_objects": {"type": "list", "data": [], "total_count": 0, "has_more": false},
        "is_shared": ticket_type["category"] == "Customer",
        "previous_ticket_state_id": null,
    });
    if category == "waiting_on_customer" && rng.random_bool(0.3) {
        ticket["snoozed_until"] = json!(updated + rng.random_range(3_600..3 * 86_400));
    }
    (ticket, parts)
}

/// Fields of the spec's table for ticket search that the simulator searches.
fn field(name: &str) -> Option<(Kind, Location)> {
    let scalar = |kind, pointer: &str| Some((kind, Location::Scalar(pointer.to_owned())));
    match name {
        "id" | "category" => scalar(Kind::Str, &format!("/{name}")),
        "title" => scalar(Kind::Str, "/ticket_attributes/_default_title_"),
        "description" => scalar(Kind::Str, "/ticket_attributes/_default_description_"),
        "ticket_type_id" => scalar(Kind::Str, "/ticket_type/id"),
        "state" => scalar(Kind::Str, "/ticket_state/category"),
        "created_at" | "updated_at" | "snoozed_until" => scalar(Kind::Date, &format!("/{name}")),
        "admin_assignee_id" | "team_assignee_id" => scalar(Kind::Int, &format!("/{name}")),
        "open" => scalar(Kind::Bool, "/open"),
        "contact_ids" => Some((
            Kind::Str,
            Location::Each("/contacts/contacts".to_owned(), "id"),
        )),
        _ => None,
    }
}

async fn search(
    State(state): State<AppState>,
    repeat: Option<Extension<RepeatCursor>>,
    ApiJson(body): ApiJson,
) -> Result<axum::response::Response, ApiError> {
    answer(
        &state,
        repeat.is_some(),
        &body,
        &Searchable::by_second(&field, &state),
        |d| (&d.tickets, d.ticket_searches()),
        ("ticket.list", "tickets"),
    )
}

async fn show(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Value>, ApiError> {
    state
        .data()
        .ticket(&id)
        .cloned()
        .map(Json)
        .ok_or_else(|| ApiError::not_found("Ticket not found"))
}

//! Conversations: `POST /conversations/search` (list items, no parts) and
//! `GET /conversations/{id}` (with at most the 500 newest parts and the real
//! `total_count`) and `GET /conversations/deleted`.

use std::collections::HashMap;

use axum::Extension;
use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};

use crate::envelope::{self, ApiError, ApiJson, ApiPath, ApiQuery};
use crate::faults::RepeatCursor;
use crate::names::{NOUNS, pick};
use crate::search::{Kind, Location, Searchable, answer};
use crate::server::AppState;
use crate::times::Timeline;

/// `GET /conversations/{id}` shows at most this many parts, the newest.
pub(crate) const SHOWN_PARTS: usize = 500;

const PART_TYPES: &[&str] = &[
    "comment",
    "comment",
    "comment",
    "note",
    "assignment",
    "close",
    "open",
];
const SUBJECTS: &[&str] = &[
    "Billing question",
    "Login trouble",
    "Feature request",
    "Bug report",
    "Upgrade",
];

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/conversations/search", post(search))
        .route("/conversations/deleted", get(deleted))
        .route("/conversations/{id}", get(show))
}

/// `GET /conversations/deleted` shows at most this many a page.
const DELETED_MAX_PER_PAGE: usize = 60;

/// `GET /conversations/deleted`: page-numbered, `per_page` 20 by default and
/// at most 60, by deletion time (`order`, newest first by default).
async fn deleted(
    State(state): State<AppState>,
    ApiQuery(params): ApiQuery<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let (page, per_page) = envelope::page_params(&params, 20, DELETED_MAX_PER_PAGE)?;
    let ascending = match params.get("order").map(String::as_str) {
        None | Some("desc") => false,
        Some("asc") => true,
        Some(other) => {
            return Err(ApiError::invalid(format!(
                "order must be asc or desc, not {other}"
            )));
        }
    };
    let data = state.data();
    let mut items = data.deleted_conversations.clone();
    // Stable: deletions in one second keep the order they happened in.
    items.sort_by_key(|item| item["deleted_at"].as_i64());
    if !ascending {
        items.reverse();
    }
    let total = items.len();
    let shown: Vec<Value> = items
        .into_iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .collect();
    Ok(Json(json!({
        "type": "conversations.list",
        "total_count": total,
        "pages": envelope::numbered_pages(page, per_page, total),
        "conversations": shown,
    })))
}

/// Who a conversation involves, drawn from the other families.
pub(crate) struct People<'a> {
    pub(crate) contacts: &'a [Value],
    pub(crate) admins: &'a [Value],
    pub(crate) teams: &'a [Value],
    pub(crate) tags: &'a [Value],
    /// Part ids as integers, as Intercom sends them; strings when lenient.
    pub(crate) integer_part_ids: bool,
}

/// A conversation part authored by `author` at `at`. The spec types part ids
/// as strings, but its examples (and Intercom) send integers.
pub(crate) fn part(
    rng: &mut ChaCha8Rng,
    (id, integer_id): (u64, bool),
    at: i64,
    author: Value,
    part_type: &str,
) -> Value {
    let body = matches!(part_type, "comment" | "note").then(|| {
        format!(
            "<p>About the {}: {}</p>",
            pick(rng, NOUNS),
            rng.random_range(1..1_000)
        )
    });
    json!({
        "type": "conversation_part",
        "id": if integer_id { json!(id) } else { json!(id.to_string()) },
        "part_type": part_type,
        "body": body,
        "created_at": at,
        "updated_at": at,
        "notified_at": at,
        "assigned_to": null,
        "author": author,
        "attachments": [],
        "external_id": null,
        "redacted": false,
    })
}

pub(crate) fn admin_author(admin: &Value) -> Value {
    json!({"type": "admin", "id": admin["id"], "name": admin["name"], "email": admin["email"]})
}

fn contact_author(contact: &Value) -> Value {
    json!({"type": contact["role"], "id": contact["id"], "name": contact["name"], "email": contact["email"]})
}

/// One conversation (as search lists it) and its parts, oldest first.
/// `updated_at` is at least the newest part's `updated_at`.
pub(crate) fn generate_one(
    rng: &mut ChaCha8Rng,
    id: u64,
    part_count: usize,
    timeline: &Timeline,
    people: &People<'_>,
    next_part_id: &mut u64,
) -> (Value, Vec<Value>) {
    let (created, mut updated) = timeline.created_updated(rng);
    let contact = (!people.contacts.is_empty())
        .then(|| &people.contacts[rng.random_range(0..people.contacts.len())]);
    let admin = &people.admins[rng.random_range(0..people.admins.len())];
    let mut times: Vec<i64> = (0..part_count)
        .map(|_| rng.random_range(created..=updated.max(created)))
        .collect();
    times.sort_unstable();
    let parts: Vec<Value> = times
        .into_iter()
        .map(|at| {
            *next_part_id += rng.random_range(1..5);
            let by_contact = contact.is_some_and(|_| rng.random_bool(0.4));
            let author = match contact {
                Some(contact) if by_contact => contact_author(contact),
                _ => admin_author(&people.admins[rng.random_range(0..people.admins.len())]),
            };
            let part_type = if by_contact {
                "comment"
            } else {
                pick(rng, PART_TYPES)
            };
            part(
                rng,
                (*next_part_id, people.integer_part_ids),
                at,
                author,
                part_type,
            )
        })
        .collect();
    if let Some(last) = parts.last().and_then(|p| p["updated_at"].as_i64()) {
        updated = updated.max(last);
    }
    let state = match rng.random_range(0..10) {
        0..3 => "open",
        3..4 => "snoozed",
        _ => "closed",
    };
    let tags: Vec<Value> = (0..rng.random_range(0..=2).min(people.tags.len()))
        .map(|_| {
            let tag = &people.tags[rng.random_range(0..people.tags.len())];
            json!({
                "type": "tag", "id": tag["id"], "name": tag["name"],
                "applied_at": created, "applied_by": {"type": "admin", "id": admin["id"]},
            })
        })
        .collect();
    let source_author = contact.map_or_else(|| admin_author(admin), contact_author);
    let mut conversation = json!({
        "type": "conversation",
        "id": id.to_string(),
        "title": rng.random_bool(0.3).then(|| pick(rng, SUBJECTS)),
        "created_at": created,
        "updated_at": updated,
        "waiting_since": (state == "open" && rng.random_bool(0.5)).then_some(updated),
        "snoozed_until": (state == "snoozed").then(|| updated + rng.random_range(3_600..7 * 86_400)),
        "open": state != "closed",
        "state": state,
        "read": rng.random_bool(0.7),
        "priority": if rng.random_bool(0.2) { "high" } else { "none" },
        "admin_assignee_id": admin["id"].as_str().and_then(|id| id.parse::<i64>().ok()).unwrap_or(0),
        "company": null,
        "tags": {"type": "tag.list", "tags": tags},
        "source": {
            "type": "conversation",
            "id": (id * 7 + 3).to_string(),
            "delivered_as": if contact.is_some() { "customer_initiated" } else { "admin_initiated" },
            "subject": "",
            "body": format!("<p>{}</p>", pick(rng, SUBJECTS)),
            "author": source_author,
            "attachments": [],
            "url": null,
            "redacted": false,
        },
        "contacts": {
            "type": "contact.list",
            "contacts": contact.map(|c| vec![json!({"type": "contact", "id": c["id"], "external_id": c["external_id"]})]).unwrap_or_default(),
        },
        "teammates": {"type": "admin.list", "teammates": [{"type": "admin", "id": admin["id"]}]},
        "custom_attributes": {},
        "statistics": {
            "type": "conversation_statistics",
            "count_conversation_parts": parts.len(),
            "count_reopens": rng.random_range(0..3),
            "count_assignments": rng.random_range(0..4),
        },
        "ai_agent_participated": false,
    });
    if !people.teams.is_empty() {
        let team = &people.teams[rng.random_range(0..people.teams.len())];
        conversation["team_assignee_id"] = json!(
            team["id"]
                .as_str()
                .and_then(|id| id.parse::<i64>().ok())
                .unwrap_or(0)
        );
    }
    (conversation, parts)
}

/// The conversation as `GET /conversations/{id}` serves it.
pub(crate) fn with_parts(conversation: &Value, parts: &[Value]) -> Value {
    let mut full = conversation.clone();
    let shown = &parts[parts.len().saturating_sub(SHOWN_PARTS)..];
    full["conversation_parts"] = json!({
        "type": "conversation_part.list",
        "conversation_parts": shown,
        "total_count": parts.len(),
    });
    full
}

/// Fields of the spec's table for conversation search that the simulator searches.
pub(crate) fn field(name: &str) -> Option<(Kind, Location)> {
    let scalar = |kind, pointer: String| Some((kind, Location::Scalar(pointer)));
    let pointer = format!("/{}", name.replace('.', "/"));
    match name {
        "id"
        | "state"
        | "priority"
        | "source.type"
        | "source.id"
        | "source.delivered_as"
        | "source.subject"
        | "source.body"
        | "source.author.id"
        | "source.author.type"
        | "source.author.name"
        | "source.author.email"
        | "source.url"
        | "title" => scalar(Kind::Str, pointer),
        "created_at" | "updated_at" | "waiting_since" | "snoozed_until" => {
            scalar(Kind::Date, pointer)
        }
        "admin_assignee_id"
        | "team_assignee_id"
        | "statistics.count_conversation_parts"
        | "statistics.count_reopens"
        | "statistics.count_assignments" => scalar(Kind::Int, pointer),
        "open" | "read" | "ai_agent_participated" => scalar(Kind::Bool, pointer),
        "contact_ids" => Some((
            Kind::Str,
            Location::Each("/contacts/contacts".to_owned(), "id"),
        )),
        "teammate_ids" => Some((
            Kind::Str,
            Location::Each("/teammates/teammates".to_owned(), "id"),
        )),
        "tag_ids" => Some((Kind::Str, Location::Each("/tags/tags".to_owned(), "id"))),
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
        |d| (&d.conversations, d.conversation_searches()),
        ("conversation.list", "conversations"),
    )
}

async fn show(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Value>, ApiError> {
    let data = state.data();
    data.conversation_with_parts(&id)
        .map(Json)
        .ok_or_else(|| ApiError::not_found("Resource Not Found"))
}

//! The workspace's settings and audit trail: `GET /conversations/attributes`
//! and `GET /subscription_types` (unpaginated), and
//! `GET /admins/activity_logs`, which requires `created_at_after` and is
//! paged by `pages.next.starting_after`, newest first (the spec states no
//! order).

use std::collections::HashMap;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};

use crate::envelope::{self, ApiError, ApiQuery, uuid};
use crate::names::pick;
use crate::paging::{Continuation, CursorPage};
use crate::server::AppState;
use crate::times::Timeline;

/// The page size of the spec's example.
const ACTIVITY_LOGS_PER_PAGE: usize = 20;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/conversations/attributes", get(conversation_attributes))
        .route("/subscription_types", get(subscription_types))
        .route("/admins/activity_logs", get(activity_logs))
}

/// `(name, data_type, archived)` of the conversation attributes.
const CONVERSATION_ATTRIBUTES: &[(&str, &str, bool)] = &[
    ("Issue type", "list", false),
    ("Order number", "string", false),
    ("Refund amount", "decimal", false),
    ("Escalated", "boolean", false),
    ("Follow up at", "datetime", false),
    ("Affected seats", "integer", false),
    ("Customer object", "relationship", false),
    ("Old queue", "string", true),
];

/// Conversation attributes (2.16 `conversation_attribute`), archived ones included.
pub(crate) fn conversation_attributes_generate(
    rng: &mut ChaCha8Rng,
    timeline: &Timeline,
    admins: &[Value],
    teams: &[Value],
) -> Vec<Value> {
    let mut next_id = rng.random_range(1..20u64);
    CONVERSATION_ATTRIBUTES
        .iter()
        .map(|&(name, data_type, archived)| {
            next_id += rng.random_range(1..4);
            let (created, updated) = timeline.created_updated(rng);
            let admin = &admins[rng.random_range(0..admins.len())];
            let visible: Vec<Value> = teams
                .iter()
                .filter(|_| rng.random_bool(0.2))
                .map(|team| team["id"].clone())
                .collect();
            let mut attribute = json!({
                "type": "conversation_attribute",
                "id": next_id,
                "name": name,
                "description": format!("Set by the team on {}", name.to_lowercase()),
                "data_type": data_type,
                "required": rng.random_bool(0.2),
                "visible_to_team_ids": visible,
                "archived": archived,
                "created_at": created,
                "updated_at": updated,
                "admin_id": admin["id"],
            });
            match data_type {
                "string" => attribute["multiline"] = json!(rng.random_bool(0.3)),
                "list" => {
                    attribute["options"] = ["Billing", "Bug", "Question"]
                        .iter()
                        .map(|label| json!({"id": uuid(rng.random()), "label": label, "archived": false}))
                        .collect();
                }
                "relationship" => {
                    attribute["reference"] = json!({"type": "many", "object_type_id": "Order"});
                }
                _ => {}
            }
            attribute
        })
        .collect()
}

/// `(name, consent type, state, content types)` of the subscription types.
const SUBSCRIPTIONS: &[(&str, &str, &str, &[&str])] = &[
    ("Newsletters", "opt_out", "live", &["email"]),
    (
        "Product updates",
        "opt_out",
        "live",
        &["email", "sms_message"],
    ),
    ("Beta invitations", "opt_in", "live", &["email"]),
    ("Event reminders", "opt_in", "draft", &["sms_message"]),
    ("Legacy digest", "opt_out", "archived", &["email"]),
];

/// Subscription types (2.16 `subscription_type`) with their translations.
pub(crate) fn subscription_types_generate(rng: &mut ChaCha8Rng) -> Vec<Value> {
    let mut next_id = 130 + rng.random_range(0..10u64);
    SUBSCRIPTIONS
        .iter()
        .map(|&(name, consent, state, content_types)| {
            next_id += rng.random_range(1..3);
            let english = json!({"name": name, "description": format!("{name} we send now and then"), "locale": "en"});
            let mut translations = vec![english.clone()];
            if rng.random_bool(0.5) {
                translations.push(json!({"name": format!("{name} (fr)"), "description": "Envois occasionnels", "locale": "fr"}));
            }
            json!({
                "type": "subscription",
                "id": next_id.to_string(),
                "state": state,
                "consent_type": consent,
                "default_translation": english,
                "translations": translations,
                "content_types": content_types,
            })
        })
        .collect()
}

const ACTIVITY_TYPES: &[(&str, &str)] = &[
    ("admin_login_success", "logged in"),
    ("admin_logout", "logged out"),
    ("app_name_change", "changed the app name"),
    (
        "app_team_membership_modification",
        "changed a team's members",
    ),
    ("admin_away_mode_change", "changed their away mode"),
    ("macro_creation", "created a macro"),
    ("message_state_change", "changed a message's state"),
];

/// One activity log entry (2.16 `activity_log`) by a random admin at `at`.
pub(crate) fn activity_log(rng: &mut ChaCha8Rng, admins: &[Value], at: i64) -> Value {
    let admin = &admins[rng.random_range(0..admins.len())];
    let (activity_type, what) = ACTIVITY_TYPES[rng.random_range(0..ACTIVITY_TYPES.len())];
    let metadata = match activity_type {
        "admin_login_success" => {
            json!({"sign_in_method": pick(rng, &["email_password", "google_sso", "saml"])})
        }
        "admin_away_mode_change" => {
            json!({"away_mode": rng.random_bool(0.5), "reassign_conversations": false})
        }
        "app_name_change" | "message_state_change" => {
            json!({"before": {"name": "Acme"}, "after": {"name": "Acme Inc"}})
        }
        _ => json!({}),
    };
    json!({
        "id": uuid(rng.random()),
        "performed_by": {
            "type": "admin",
            "id": admin["id"],
            "email": admin["email"],
            "ip": format!("10.0.{}.{}", rng.random_range(0..255), rng.random_range(1..255)),
        },
        "metadata": metadata,
        "created_at": at,
        "activity_type": activity_type,
        "activity_description": format!("{} {what}.", admin["name"].as_str().unwrap_or("An admin")),
    })
}

/// `count` activity log entries, oldest first.
pub(crate) fn activity_logs_generate(
    rng: &mut ChaCha8Rng,
    timeline: &Timeline,
    admins: &[Value],
    count: usize,
) -> Vec<Value> {
    let mut times: Vec<i64> = (0..count)
        .map(|_| timeline.created_updated(rng).0)
        .collect();
    times.sort_unstable();
    times
        .into_iter()
        .map(|at| activity_log(rng, admins, at))
        .collect()
}

async fn conversation_attributes(
    State(state): State<AppState>,
    ApiQuery(params): ApiQuery<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let archived = envelope::flag(
        params.get("include_archived").map(String::as_str),
        "include_archived",
    )?;
    let listed = state
        .data()
        .conversation_attributes
        .iter()
        .filter(|a| archived || a["archived"] != true)
        .cloned()
        .collect();
    Ok(envelope::list("list", "data", listed))
}

async fn subscription_types(State(state): State<AppState>) -> Json<Value> {
    envelope::list("list", "data", state.data().subscription_types.clone())
}

/// A UNIX-seconds query parameter; `None` when absent.
fn seconds(params: &HashMap<String, String>, name: &str) -> Result<Option<i64>, ApiError> {
    params
        .get(name)
        .map(|text| {
            text.parse::<i64>()
                .map_err(|_| ApiError::invalid(format!("{name} must be a UNIX timestamp")))
        })
        .transpose()
}

/// Entries created from `created_at_after` to `created_at_before`, both
/// inclusive (inferred: the spec says only "the start/end date that you
/// request data for"), newest first.
async fn activity_logs(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiQuery(params): ApiQuery<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let after = seconds(&params, "created_at_after")?
        .ok_or_else(|| ApiError::invalid("created_at_after is required"))?;
    let before = seconds(&params, "created_at_before")?.unwrap_or(i64::MAX);
    let data = state.data();
    let listed: Vec<&Value> = data
        .activity_logs
        .iter()
        .rev()
        .filter(|log| {
            let at = log["created_at"].as_i64().unwrap_or(0);
            (after..=before).contains(&at)
        })
        .collect();
    let page = CursorPage {
        path: "/admins/activity_logs",
        list_type: "activity_log.list",
        key: "activity_logs",
        per_page: ACTIVITY_LOGS_PER_PAGE,
        continuation: Continuation::Cursor,
    };
    page.serve(
        &headers,
        &listed,
        params.get("starting_after").map(String::as_str),
    )
}

//! `GET /ticket_types` and `GET /ticket_states`, unpaginated. Each type
//! embeds its attributes and the states it may be in; each state embeds the
//! types that use it, as the 2.16 schemas `ticket_type` and
//! `ticket_state_detailed` describe.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};

use crate::envelope;
use crate::server::AppState;
use crate::times::Timeline;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/ticket_types", get(types))
        .route("/ticket_states", get(states))
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

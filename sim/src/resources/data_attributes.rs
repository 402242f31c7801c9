//! `GET /data_attributes?model=contact|company[&include_archived=true]`.
//!
//! Standard attributes carry no `id`, `admin_id` or timestamps, custom ones do,
//! as in the spec's example. The custom ones name the keys the generated
//! contacts and companies hold in `custom_attributes`.

use std::collections::HashMap;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};

use crate::envelope::{self, ApiError, ApiQuery};
use crate::server::AppState;
use crate::times::{START, Timeline};

/// A custom attribute: key in `custom_attributes`, `data_type`, archived.
pub(crate) type Custom = (&'static str, &'static str, bool);

/// Custom contact attributes; the archived one still appears on old contacts.
pub(crate) const CONTACT_CUSTOM: &[Custom] = &[
    ("plan_tier", "string", false),
    ("seats", "integer", false),
    ("mrr", "float", false),
    ("beta_tester", "boolean", false),
    ("trial_ends_at", "date", false),
    ("legacy_crm_id", "string", true),
];

/// Custom company attributes. The spec types company `custom_attributes` values as
/// strings, so every one is a string.
pub(crate) const COMPANY_CUSTOM: &[Custom] = &[
    ("industry_vertical", "string", false),
    ("account_tier", "string", false),
    ("region_code", "string", false),
    ("old_billing_id", "string", true),
];

pub(crate) const PLAN_TIERS: &[&str] = &["free", "starter", "pro", "enterprise"];

/// `(name, full_name, data_type)` of the standard attributes.
const CONTACT_STANDARD: &[(&str, &str, &str)] = &[
    ("id", "id", "string"),
    ("name", "name", "string"),
    ("email", "email", "string"),
    ("phone", "phone", "string"),
    ("role", "role", "string"),
    ("external_id", "external_id", "string"),
    ("owner_id", "owner_id", "integer"),
    ("created_at", "created_at", "date"),
    ("updated_at", "updated_at", "date"),
    ("signed_up_at", "signed_up_at", "date"),
    ("last_seen_at", "last_seen_at", "date"),
    (
        "unsubscribed_from_emails",
        "unsubscribed_from_emails",
        "boolean",
    ),
    ("country", "location.country", "string"),
    ("city", "location.city", "string"),
];

const COMPANY_STANDARD: &[(&str, &str, &str)] = &[
    ("id", "id", "string"),
    ("name", "name", "string"),
    ("company_id", "company_id", "string"),
    ("created_at", "created_at", "date"),
    ("updated_at", "updated_at", "date"),
    ("last_request_at", "last_request_at", "date"),
    ("remote_created_at", "remote_created_at", "date"),
    ("user_count", "user_count", "integer"),
    ("session_count", "session_count", "integer"),
    ("monthly_spend", "monthly_spend", "float"),
    ("size", "size", "integer"),
    ("industry", "industry", "string"),
    ("website", "website", "string"),
    ("name", "plan.name", "string"),
];

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/data_attributes", get(list))
}

/// Every data attribute of both models, archived ones included.
pub(crate) fn generate(rng: &mut ChaCha8Rng, timeline: &Timeline, admins: &[Value]) -> Vec<Value> {
    let mut out = Vec::new();
    let mut next_id = rng.random_range(10..1_000);
    for (model, standard, custom) in [
        ("contact", CONTACT_STANDARD, CONTACT_CUSTOM),
        ("company", COMPANY_STANDARD, COMPANY_CUSTOM),
    ] {
        for &(name, full_name, data_type) in standard {
            out.push(json!({
                "type": "data_attribute",
                "name": name,
                "full_name": full_name,
                "label": label(full_name),
                "description": format!("The {} of the {model}", full_name.replace(['_', '.'], " ")),
                "data_type": data_type,
                "api_writable": !matches!(name, "id" | "created_at" | "updated_at"),
                "ui_writable": false,
                "messenger_writable": true,
                "custom": false,
                "archived": false,
                "model": model,
            }));
        }
        for &(name, data_type, archived) in custom {
            next_id += rng.random_range(1..20);
            let created = timeline.at_or_after(rng, START);
            let updated = if archived {
                timeline.at_or_after(rng, created)
            } else {
                created
            };
            let admin = &admins[rng.random_range(0..admins.len())];
            let mut attribute = json!({
                "type": "data_attribute",
                "id": next_id,
                "name": name,
                "full_name": format!("custom_attributes.{name}"),
                "label": label(name),
                "description": format!("Custom {model} attribute {name}"),
                "data_type": data_type,
                "api_writable": true,
                "ui_writable": true,
                "messenger_writable": false,
                "custom": true,
                "archived": archived,
                "admin_id": admin["id"],
                "created_at": created,
                "updated_at": updated,
                "model": model,
            });
            if name == "plan_tier" {
                attribute["options"] = json!(PLAN_TIERS);
            }
            out.push(attribute);
        }
    }
    out
}

fn label(name: &str) -> String {
    let words = name.replace(['_', '.'], " ");
    let mut chars = words.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

async fn list(
    State(state): State<AppState>,
    ApiQuery(params): ApiQuery<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let model = params.get("model").map(String::as_str);
    if let Some(other) = model.filter(|m| !matches!(*m, "contact" | "company")) {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "parameter_invalid",
            if other == "conversation" {
                "model=conversation is no longer supported. Use GET /conversations/attributes instead"
                    .to_owned()
            } else {
                format!("model must be contact or company, not {other:.30}")
            },
        ));
    }
    let archived = envelope::flag(
        params.get("include_archived").map(String::as_str),
        "include_archived",
    )?;
    let data = state.data();
    Ok(envelope::list(
        "list",
        "data",
        data.data_attributes(model, archived),
    ))
}

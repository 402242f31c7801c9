//! `GET /admins`: the workspace's teammates, unpaginated; `GET /admins/{id}`: one.

use std::collections::HashSet;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};

use crate::envelope::{self, ApiError, ApiPath};
use crate::names::{FIRST_NAMES, JOB_TITLES, LAST_NAMES, ids, pick, unique};
use crate::server::AppState;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/admins", get(list))
        .route("/admins/{id}", get(show))
}

/// Admins in the `admin` schema. `team_ids` start empty: team generation fills
/// them so that both sides of the membership agree.
pub(crate) fn generate(rng: &mut ChaCha8Rng, count: usize, app: &Value) -> Vec<Value> {
    let domain = email_domain(app);
    let mut emails = HashSet::new();
    ids(rng, 4_000_000, count)
        .into_iter()
        .map(|id| {
            let (first, last) = (pick(rng, FIRST_NAMES), pick(rng, LAST_NAMES));
            let local = format!("{}.{}", first, last).to_ascii_lowercase();
            let email = unique(&mut emails, local, "") + "@" + &domain;
            let away = rng.random_bool(0.15);
            let reason = (away && rng.random_bool(0.7)).then(|| rng.random_range(100..108));
            let avatar = rng.random_bool(0.7).then(|| {
                format!("https://static.intercomassets.com/avatars/{id}/square_128/avatar.png")
            });
            json!({
                "type": "admin",
                "id": id.to_string(),
                "name": format!("{first} {last}"),
                "email": email,
                "job_title": pick(rng, JOB_TITLES),
                "away_mode_enabled": away,
                "away_mode_reassign": away && rng.random_bool(0.5),
                "away_status_reason_id": reason,
                "has_inbox_seat": rng.random_bool(0.85),
                "team_ids": [],
                "avatar": avatar,
            })
        })
        .collect()
}

/// `northwind-beta.example.com` for an app named "Northwind Beta".
fn email_domain(app: &Value) -> String {
    let name = app["name"].as_str().unwrap_or("app");
    let slug: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    format!("{slug}.example.com")
}

async fn list(State(state): State<AppState>) -> Json<Value> {
    envelope::list("admin.list", "admins", state.data().admins.clone())
}

async fn show(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Value>, ApiError> {
    state
        .data()
        .admins
        .iter()
        .find(|admin| admin["id"] == id.as_str())
        .cloned()
        .map(Json)
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "admin_not_found", "Admin not found"))
}

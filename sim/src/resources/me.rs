//! `GET /me`: the app and the admin who owns the access token.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use rand::Rng;
use rand::distr::Alphanumeric;
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};

use crate::envelope::ApiError;
use crate::names::{COMPANY_WORDS, NOUNS, TIMEZONES, pick};
use crate::server::AppState;

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/me", get(me))
}

/// The `app` schema, plus `secure`, which the live API also returns.
pub(crate) fn generate_app(rng: &mut ChaCha8Rng) -> Value {
    let id_code: String = (0..8)
        .map(|_| char::from(rng.sample(Alphanumeric)).to_ascii_lowercase())
        .collect();
    let name = format!(
        "{} {}",
        pick(rng, COMPANY_WORDS),
        capitalize(pick(rng, NOUNS))
    );
    json!({
        "type": "app",
        "id_code": id_code,
        "name": name,
        "created_at": rng.random_range(1_450_000_000..1_650_000_000_i64),
        "secure": rng.random_bool(0.5),
        "identity_verification": rng.random_bool(0.3),
        "timezone": pick(rng, TIMEZONES),
        "region": "US",
    })
}

fn capitalize(word: &str) -> String {
    let mut chars = word.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// The token belongs to the first admin; `/me` shows it in the `admin_with_app`
/// shape, whose `avatar` is an object rather than the list's URL string. Once that
/// admin is removed from the data, the token is as good as revoked.
async fn me(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let data = state.data();
    let admin = data.admins.first().ok_or_else(ApiError::unauthorized)?;
    let field = |name: &str| admin.get(name).cloned().unwrap_or(Value::Null);
    Ok(Json(json!({
        "type": "admin",
        "id": field("id"),
        "name": field("name"),
        "email": field("email"),
        "email_verified": true,
        "job_title": field("job_title"),
        "away_mode_enabled": field("away_mode_enabled"),
        "away_mode_reassign": field("away_mode_reassign"),
        "has_inbox_seat": field("has_inbox_seat"),
        "team_ids": field("team_ids"),
        "avatar": {"type": "avatar", "image_url": field("avatar")},
        "app": data.app.clone(),
    })))
}

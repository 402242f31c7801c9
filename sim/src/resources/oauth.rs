//! Intercom's OAuth authorization-code flow: `GET /oauth` (on
//! `app.intercom.com` for real, here on the same host as the API) and
//! `POST /auth/eagle/token`. Served outside the token gate: neither request
//! carries an access token.

use std::collections::HashSet;
use std::sync::{Mutex, PoisonError};

use axum::extract::State;
use axum::http::StatusCode;
use axum::http::header::LOCATION;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rand::RngCore;
use serde::Deserialize;
use serde_json::json;

use crate::SimConfig;
use crate::envelope::{ApiError, ApiQuery};
use crate::server::AppState;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/oauth", get(authorize))
        .route("/auth/eagle/token", post(token))
}

/// The app registered for OAuth, the codes it has been given and not yet
/// exchanged, and the tokens exchanged for them (accepted like the
/// configured token).
pub(crate) struct OAuth {
    client_id: String,
    client_secret: String,
    codes: Mutex<HashSet<String>>,
    tokens: Mutex<HashSet<String>>,
}

impl OAuth {
    pub(crate) fn new(config: &SimConfig) -> OAuth {
        OAuth {
            client_id: config.oauth_client_id.clone(),
            client_secret: config.oauth_client_secret.clone(),
            codes: Mutex::new(HashSet::new()),
            tokens: Mutex::new(HashSet::new()),
        }
    }

    /// Whether `token` was issued by a code exchange.
    pub(crate) fn issued(&self, token: &str) -> bool {
        self.tokens
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(token)
    }
}

#[derive(Deserialize)]
struct AuthorizeQuery {
    client_id: Option<String>,
    state: Option<String>,
    redirect_uri: Option<String>,
}

/// The user has approved the app at once: redirect with a fresh code and the
/// client's `state` untouched. The simulator has no registered redirect URL,
/// so `redirect_uri` is required.
async fn authorize(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<AuthorizeQuery>,
) -> Result<Response, ApiError> {
    if query.client_id.as_deref() != Some(state.oauth.client_id.as_str()) {
        return Err(ApiError::invalid("unknown client_id"));
    }
    let redirect = query
        .redirect_uri
        .as_deref()
        .ok_or_else(|| ApiError::invalid("redirect_uri is required"))?;
    let mut location = url::Url::parse(redirect)
        .map_err(|err| ApiError::invalid(format!("redirect_uri is not a URL: {err}")))?;
    let code = random_base64(16);
    location.query_pairs_mut().append_pair("code", &code);
    if let Some(client_state) = &query.state {
        location
            .query_pairs_mut()
            .append_pair("state", client_state);
    }
    state
        .oauth
        .codes
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(code);
    Ok((StatusCode::FOUND, [(LOCATION, location.to_string())]).into_response())
}

#[derive(Deserialize)]
struct TokenForm {
    code: String,
    client_id: String,
    client_secret: String,
}

/// Exchanges a code once; a wrong client or secret, or an unknown or spent
/// code, is a 401 as Intercom answers it.
async fn token(
    State(state): State<AppState>,
    form: Result<Form<TokenForm>, axum::extract::rejection::FormRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let Form(form) =
        form.map_err(|err| ApiError::new(StatusCode::BAD_REQUEST, "bad_request", err.body_text()))?;
    let oauth = &state.oauth;
    if form.client_id != oauth.client_id || form.client_secret != oauth.client_secret {
        return Err(ApiError::unauthorized());
    }
    let spent = oauth
        .codes
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .remove(&form.code);
    if !spent {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Invalid authorization code",
        ));
    }
    // Base64 of `tok:…`, like Intercom's tokens.
    let token = STANDARD.encode(format!("tok:{}", random_base64(24)));
    oauth
        .tokens
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(token.clone());
    Ok(Json(json!({
        "token_type": "Bearer",
        "token": token,
        "access_token": token,
    })))
}

/// Standard base64 of random bytes: `+`, `/` and trailing `=` test the
/// client's encoding of codes and tokens.
fn random_base64(bytes: usize) -> String {
    let mut buf = vec![0; bytes];
    rand::rng().fill_bytes(&mut buf);
    STANDARD.encode(buf)
}

//! Companies: `GET /companies/scroll`, `GET /companies/{id}` and
//! `GET /companies/{id}/segments`.
//!
//! Scroll rules (spec and API-NOTES): one open scroll per app; the first call has
//! no `scroll_param`, every answer returns the param for the next call (the same
//! one for the whole scroll, as Intercom's does); an empty `data` page ends the
//! scroll; a param unused for `scroll_expiry` expires. The scroll walks a snapshot
//! of the company ids taken when it starts, serving each company as it is when
//! its page is read; companies deleted meanwhile are skipped. Under
//! [`crate::Fault::RepeatCursor`] a page is served again instead of the next.

use std::collections::HashMap;
use std::time::Instant;

use axum::Extension;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use rand::Rng;
use rand::seq::index;
use rand_chacha::ChaCha8Rng;
use serde_json::{Map, Value, json};

use crate::ScrollEnd;
use crate::envelope::{self, ApiError, ApiPath, ApiQuery};
use crate::faults::RepeatCursor;
use crate::names::{ADJECTIVES, COMPANY_WORDS, NOUNS, pick};
use crate::resources::contacts::object_id;
use crate::resources::data_attributes::COMPANY_CUSTOM;
use crate::resources::segments::without_count;
use crate::server::AppState;

/// Companies per scroll page: the spec names no page size.
pub(crate) const SCROLL_PAGE: usize = 50;

const INDUSTRIES: &[&str] = &[
    "SaaS",
    "ecommerce",
    "Fintech",
    "Healthcare",
    "Education",
    "Logistics",
];
const PLANS: &[&str] = &["Free", "Starter", "Growth", "Enterprise"];
const TIERS: &[&str] = &["bronze", "silver", "gold", "platinum"];
const REGIONS: &[&str] = &["NA", "EMEA", "APAC", "LATAM"];

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/companies/scroll", get(scroll))
        .route("/companies/{id}", get(show))
        .route("/companies/{id}/segments", get(segments))
}

/// One company in the `company` schema.
pub(crate) fn generate_one(
    rng: &mut ChaCha8Rng,
    serial: usize,
    (created, updated): (i64, i64),
    workspace_id: &str,
    tags: &[Value],
    segments: &[Value],
) -> Value {
    let name = format!(
        "{} {} {}",
        pick(rng, COMPANY_WORDS),
        capitalize(pick(rng, NOUNS)),
        serial + 1
    );
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
    let mut custom = Map::new();
    for &(key, _, archived) in COMPANY_CUSTOM {
        if rng.random_bool(if archived { 0.2 } else { 0.75 }) {
            let value = match key {
                "industry_vertical" => {
                    format!("{} {}", pick(rng, ADJECTIVES), pick(rng, INDUSTRIES))
                }
                "account_tier" => pick(rng, TIERS).to_owned(),
                "region_code" => pick(rng, REGIONS).to_owned(),
                _ => format!("bill-{}", rng.random_range(10_000..99_999)),
            };
            custom.insert(key.to_owned(), Value::from(value));
        }
    }
    let sample = |rng: &mut ChaCha8Rng, from: &[Value], max: usize| -> Vec<Value> {
        let n = rng.random_range(0..=max).min(from.len());
        let mut chosen = index::sample(rng, from.len(), n).into_vec();
        chosen.sort_unstable();
        chosen.into_iter().map(|i| from[i].clone()).collect()
    };
    let tags: Vec<Value> = sample(rng, tags, 3)
        .iter()
        .map(|tag| json!({"type": "tag", "id": tag["id"], "name": tag["name"]}))
        .collect();
    let segments: Vec<Value> = sample(rng, segments, 2).iter().map(without_count).collect();
    let plan = if rng.random_bool(0.8) {
        let plan = rng.random_range(0..PLANS.len());
        json!({"type": "plan", "id": (100 + plan).to_string(), "name": PLANS[plan]})
    } else {
        json!({})
    };
    json!({
        "type": "company",
        "id": object_id(rng, created),
        "name": name,
        "app_id": workspace_id,
        "plan": plan,
        "company_id": format!("cmp-{:06}", serial + 1),
        "remote_created_at": created - rng.random_range(0..400) * 86_400,
        "created_at": created,
        "updated_at": updated,
        "last_request_at": rng.random_range(created..=updated),
        "size": rng.random_range(1..5_000),
        "website": format!("https://{slug}.example.com"),
        "industry": pick(rng, INDUSTRIES),
        "monthly_spend": rng.random_range(0..50_000),
        "session_count": rng.random_range(0..10_000),
        "user_count": rng.random_range(0..300),
        "custom_attributes": custom,
        "tags": {"type": "tag.list", "tags": tags},
        "segments": {"type": "segment.list", "segments": segments},
    })
}

fn capitalize(word: &str) -> String {
    let mut chars = word.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// The app's one open scroll.
pub(crate) struct Scroll {
    param: String,
    ids: Vec<String>,
    /// Where the page last served started, and where the next one starts.
    page_start: usize,
    next: usize,
    last_used: Instant,
    /// A scroll 500 broke it: its param fails, but it holds the slot until it expires.
    broken: bool,
}

/// [`crate::Fault::ScrollServerError`]: the scroll can only be restarted. Its
/// slot is freed, unless the server keeps it busy until the scroll expires.
pub(crate) fn break_scroll(state: &AppState) {
    let mut slot = state
        .scroll
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if state.scroll_error_keeps_slot {
        if let Some(open) = slot.as_mut() {
            open.broken = true;
        }
    } else {
        *slot = None;
    }
}

/// A `scroll_param` whose scroll ended, expired, broke or never was.
fn scroll_over(state: &AppState) -> ApiError {
    let message = "scroll_param is invalid or has expired; start a new scroll";
    match state.scroll_end {
        ScrollEnd::BadRequest => ApiError::invalid(message),
        ScrollEnd::NotFound => ApiError::not_found(message),
    }
}

/// 400 `scroll_exists`: the app already has an open scroll.
pub(crate) fn scroll_exists() -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "scroll_exists",
        "scroll already exists for this workspace",
    )
}

fn company_not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "company_not_found",
        "Company Not Found",
    )
}

async fn show(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Value>, ApiError> {
    let data = state.data();
    data.company(&id)
        .cloned()
        .map(Json)
        .ok_or_else(company_not_found)
}

async fn segments(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Value>, ApiError> {
    let data = state.data();
    let company = data.company(&id).ok_or_else(company_not_found)?;
    let segments = company["segments"]["segments"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    Ok(envelope::list("list", "data", segments))
}

/// Expired or unknown params are answered as [`crate::SimConfig::scroll_end`]
/// says (the spec only says such calls "will fail"); an expired scroll also
/// frees the app's slot.
async fn scroll(
    State(state): State<AppState>,
    ApiQuery(params): ApiQuery<HashMap<String, String>>,
    repeat: Option<Extension<RepeatCursor>>,
) -> Result<Json<Value>, ApiError> {
    let now = Instant::now();
    let mut slot = state
        .scroll
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if slot
        .as_ref()
        .is_some_and(|open| now.duration_since(open.last_used) >= state.scroll_expiry)
    {
        *slot = None;
    }
    let data = state.data();
    let open = match params.get("scroll_param").filter(|p| !p.is_empty()) {
        None => {
            if slot.is_some() {
                return Err(scroll_exists());
            }
            slot.insert(Scroll {
                param: envelope::request_id(),
                ids: data
                    .companies
                    .iter()
                    .map(|c| c["id"].as_str().unwrap_or_default().to_owned())
                    .filter(|id| !data.hidden_from_lists.contains(id))
                    .collect(),
                page_start: 0,
                next: 0,
                last_used: now,
                broken: false,
            })
        }
        Some(param) => match slot.as_mut() {
            Some(open) if open.param == *param && !open.broken => open,
            _ => return Err(scroll_over(&state)),
        },
    };
    open.last_used = now;
    if repeat.is_some() {
        open.next = open.page_start;
    }
    open.page_start = open.next;
    let mut page = Vec::with_capacity(SCROLL_PAGE);
    while page.len() < SCROLL_PAGE && open.next < open.ids.len() {
        if let Some(company) = data.company(&open.ids[open.next]) {
            page.push(company.clone());
        }
        open.next += 1;
    }
    let param = open.param.clone();
    if page.is_empty() {
        // The empty page ends the scroll and frees the app's slot.
        *slot = None;
    }
    Ok(Json(json!({
        "type": "list",
        "data": page,
        "pages": null,
        "total_count": null,
        "scroll_param": param,
    })))
}

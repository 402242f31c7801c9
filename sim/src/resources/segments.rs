//! `GET /segments[?include_count=true][&type=company]`.
//!
//! The spec lists no `type` parameter; Intercom's SDKs send `type=company` to list
//! company segments, and without it the list holds the people segments only.
//! Company segments still say `person_type: "user"`: the spec's enum has no
//! company value.

use std::collections::HashMap;

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};

use crate::envelope::{self, ApiError, ApiQuery};
use crate::names::{ADJECTIVES, NOUNS, pick};
use crate::resources::contacts::object_id;
use crate::server::AppState;
use crate::times::Timeline;

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/segments", get(list))
}

/// `(people segments, company segments)`: every third segment is a company one.
/// Records carry `count` as `include_count=true` serves it.
pub(crate) fn generate(
    rng: &mut ChaCha8Rng,
    timeline: &Timeline,
    count: usize,
) -> (Vec<Value>, Vec<Value>) {
    let (mut people, mut companies) = (Vec::new(), Vec::new());
    for i in 0..count {
        let company = i % 3 == 2;
        let (created, updated) = timeline.created_updated(rng);
        let name = format!(
            "{} {} #{}",
            capitalize(pick(rng, ADJECTIVES)),
            pick(rng, NOUNS),
            i + 1
        );
        let person_type = if company || rng.random_bool(0.6) {
            "user"
        } else {
            "contact"
        };
        let segment = json!({
            "type": "segment",
            "id": object_id(rng, created),
            "name": if company { format!("Companies: {name}") } else { name },
            "created_at": created,
            "updated_at": updated,
            "person_type": person_type,
            "count": rng.random_range(0..5_000),
        });
        if company {
            companies.push(segment);
        } else {
            people.push(segment);
        }
    }
    (people, companies)
}

fn capitalize(word: &str) -> String {
    let mut chars = word.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// A segment as embedded or listed without `include_count`: no `count`.
pub(crate) fn without_count(segment: &Value) -> Value {
    let mut segment = segment.clone();
    if let Some(object) = segment.as_object_mut() {
        object.remove("count");
    }
    segment
}

async fn list(
    State(state): State<AppState>,
    ApiQuery(params): ApiQuery<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let include_count = envelope::flag(
        params.get("include_count").map(String::as_str),
        "include_count",
    )?;
    let data = state.data();
    let segments = match params.get("type").map(String::as_str) {
        None | Some("") | Some("user") | Some("contact") => &data.segments,
        Some("company") => &data.company_segments,
        Some(other) => {
            return Err(ApiError::invalid(format!(
                "type must be company or absent, not {other:.30}"
            )));
        }
    };
    let items = segments
        .iter()
        .map(|segment| {
            if include_count {
                segment.clone()
            } else {
                without_count(segment)
            }
        })
        .collect();
    Ok(envelope::list("segment.list", "segments", items))
}

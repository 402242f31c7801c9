//! `GET /tags`: every tag of the workspace in one unpaginated `list`.

use std::collections::HashSet;

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};

use crate::envelope;
use crate::names::{ADJECTIVES, NOUNS, ids, pick, unique};
use crate::server::AppState;

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/tags", get(list))
}

/// Tags in the `tag` schema; `applied_at`/`applied_by` only appear when a tag is
/// embedded in a tagged object, never in this list.
pub(crate) fn generate(rng: &mut ChaCha8Rng, count: usize) -> Vec<Value> {
    let mut names = HashSet::new();
    ids(rng, 9_000_000, count)
        .into_iter()
        .map(|id| {
            let candidate = format!("{}-{}", pick(rng, ADJECTIVES), pick(rng, NOUNS));
            json!({
                "type": "tag",
                "id": id.to_string(),
                "name": unique(&mut names, candidate, "-"),
            })
        })
        .collect()
}

async fn list(State(state): State<AppState>) -> Json<Value> {
    envelope::list("list", "data", state.data().tags.clone())
}

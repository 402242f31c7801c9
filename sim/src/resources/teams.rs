//! `GET /teams`: groups of admins, unpaginated.

use std::collections::HashSet;

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use rand::Rng;
use rand::seq::index;
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};

use crate::envelope;
use crate::names::{TEAM_NAMES, ids, unique};
use crate::server::AppState;

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/teams", get(list))
}

/// Teams in the `team` schema. Each admin joins up to two teams; the integer ids
/// go both into the team's `admin_ids` and the admin's `team_ids`.
pub(crate) fn generate(rng: &mut ChaCha8Rng, count: usize, admins: &mut [Value]) -> Vec<Value> {
    let team_ids = ids(rng, 7_000_000, count);
    let mut members: Vec<Vec<u64>> = vec![Vec::new(); count];
    for admin in admins.iter_mut() {
        let joins = match rng.random_range(0..10) {
            0..2 => 0,
            2..8 => 1,
            _ => 2,
        }
        .min(count);
        let mut chosen = index::sample(rng, count, joins).into_vec();
        chosen.sort_unstable();
        let admin_id = admin["id"]
            .as_str()
            .and_then(|id| id.parse().ok())
            .unwrap_or(0);
        for &team in &chosen {
            members[team].push(admin_id);
        }
        admin["team_ids"] = chosen.iter().map(|&team| team_ids[team]).collect();
    }

    let mut names = HashSet::new();
    team_ids
        .iter()
        .zip(members)
        .enumerate()
        .map(|(i, (id, admin_ids))| {
            let name = unique(&mut names, TEAM_NAMES[i % TEAM_NAMES.len()].to_owned(), " ");
            let load_balanced = rng.random_bool(0.4);
            let priority = (!admin_ids.is_empty() && rng.random_bool(0.6)).then(|| {
                let primary = rng.random_range(1..=admin_ids.len());
                json!({
                    "primary_admin_ids": admin_ids[..primary],
                    "secondary_admin_ids": admin_ids[primary..],
                })
            });
            json!({
                "type": "team",
                "id": id.to_string(),
                "name": name,
                "admin_ids": admin_ids,
                "admin_priority_level": priority,
                "assignment_limit": load_balanced.then(|| rng.random_range(5..=25)),
                "distribution_method": if load_balanced { "load_balanced" } else { "round_robin" },
            })
        })
        .collect()
}

async fn list(State(state): State<AppState>) -> Json<Value> {
    envelope::list("team.list", "teams", state.data().teams.clone())
}

//! Help-center content: `GET /help_center/help_centers` (unpaginated),
//! `GET /help_center/collections` and `GET /articles`, both newest updated
//! first (as the spec says) and paged by `pages.next.starting_after`.

use std::collections::HashMap;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};

use crate::envelope::{self, ApiError, ApiQuery};
use crate::names::{NOUNS, pick};
use crate::paging::{Continuation, CursorPage};
use crate::server::AppState;
use crate::times::Timeline;

/// Page sizes of the spec's examples.
const COLLECTIONS_PER_PAGE: usize = 20;
const ARTICLES_PER_PAGE: usize = 25;

const COLLECTION_NAMES: &[(&str, &str)] = &[
    ("Getting started", "rocket"),
    ("Billing", "credit-card"),
    ("Integrations", "plug"),
    ("Troubleshooting", "wrench"),
    ("Security", "lock"),
    ("API", "code"),
];

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/help_center/help_centers", get(help_centers))
        .route("/help_center/collections", get(collections))
        .route("/articles", get(articles))
}

/// Help centers, collections (some nested as sections) and articles.
pub(crate) struct HelpCenter {
    pub(crate) help_centers: Vec<Value>,
    pub(crate) collections: Vec<Value>,
    pub(crate) articles: Vec<Value>,
}

pub(crate) fn generate(
    rng: &mut ChaCha8Rng,
    timeline: &Timeline,
    workspace_id: &str,
    admins: &[Value],
    article_count: usize,
) -> HelpCenter {
    let base = 70 + rng.random_range(0..20u64);
    let help_centers: Vec<Value> = ["Help", "Developers"]
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let (created, updated) = timeline.created_updated(rng);
            let identifier = format!("{}-{}", name.to_lowercase(), workspace_id);
            json!({
                "id": (base + i as u64).to_string(),
                "workspace_id": workspace_id,
                "created_at": created,
                "updated_at": updated,
                "identifier": identifier,
                "website_turned_on": i == 0 || rng.random_bool(0.5),
                "display_name": format!("{name} Center"),
                "url": format!("https://intercom.help/{identifier}"),
                "custom_domain": (i == 0).then_some("help.example.test"),
                "default": i == 0,
                "locales": if i == 0 { json!(["en", "fr"]) } else { json!(["en"]) },
            })
        })
        .collect();
    let mut collections: Vec<Value> = Vec::new();
    let mut next_id = 150 + rng.random_range(0..20u64);
    for (order, &(name, icon)) in COLLECTION_NAMES.iter().enumerate() {
        let center = &help_centers[usize::from(order % 3 == 2)];
        let center_id: Option<u64> = center["id"].as_str().and_then(|id| id.parse().ok());
        // A top-level collection, or sometimes a section inside the last one.
        let parent = collections
            .iter()
            .rev()
            .find(|c| c["parent_id"].is_null() && c["help_center_id"] == json!(center_id))
            .filter(|_| rng.random_bool(0.3))
            .map(|c| c["id"].clone());
        next_id += rng.random_range(1..4);
        let (created, updated) = timeline.created_updated(rng);
        let description = rng
            .random_bool(0.8)
            .then(|| format!("Everything about {}", name.to_lowercase()));
        collections.push(json!({
            "id": next_id.to_string(),
            "workspace_id": workspace_id,
            "name": name,
            "description": description,
            "created_at": created,
            "updated_at": updated,
            "url": format!("{}/collections/{next_id}", center["url"].as_str().unwrap_or_default()),
            "icon": icon,
            "order": order + 1,
            "default_locale": "en",
            "translated_content": {
                "type": "group_translated_content",
                "en": {"type": "group_content", "name": name, "description": description.clone().unwrap_or_default()},
            },
            "parent_id": parent.unwrap_or(Value::Null),
            "help_center_id": center_id,
        }));
    }
    let mut next_article = 30 + rng.random_range(0..10u64);
    let articles = (0..article_count)
        .map(|_| {
            next_article += rng.random_range(1..5);
            let (created, updated) = timeline.created_updated(rng);
            let author = &admins[rng.random_range(0..admins.len())];
            let author_id = author["id"].as_str().and_then(|id| id.parse::<i64>().ok());
            let published = rng.random_bool(0.8);
            let title = format!("How to set up the {}", pick(rng, NOUNS));
            let body = format!("<p>{title} in three steps.</p>");
            let collection = &collections[rng.random_range(0..collections.len())];
            let parent: Option<u64> = collection["id"].as_str().and_then(|id| id.parse().ok());
            let state = if published { "published" } else { "draft" };
            // A draft has no public URL; its content keeps the one it will get.
            let content_url = format!("https://intercom.help/articles/{next_article}");
            let url = published.then(|| content_url.clone());
            json!({
                "type": "article",
                "id": next_article.to_string(),
                "workspace_id": workspace_id,
                "title": title,
                "description": "",
                "body": body,
                "author_id": author_id,
                "state": state,
                "created_at": created,
                "updated_at": updated,
                "url": url,
                "parent_ids": parent.into_iter().collect::<Vec<_>>(),
                "default_locale": "en",
                "translated_content": {
                    "type": "article_translated_content",
                    "en": {
                        "type": "article_content", "title": title, "description": "",
                        "body": body, "author_id": author_id, "state": state,
                        "created_at": created, "updated_at": updated, "url": content_url,
                    },
                },
                "tags": {"type": "tag.list", "tags": []},
            })
        })
        .collect();
    HelpCenter {
        help_centers,
        collections,
        articles,
    }
}

/// `records` newest updated first, ties by id (descending too).
fn newest_first(records: &[Value]) -> Vec<&Value> {
    let mut sorted: Vec<&Value> = records.iter().collect();
    let key = |r: &Value| {
        let id = r["id"].as_str().and_then(|id| id.parse::<u64>().ok());
        (r["updated_at"].as_i64(), id)
    };
    sorted.sort_by_key(|r| std::cmp::Reverse(key(r)));
    sorted
}

async fn help_centers(State(state): State<AppState>) -> Json<Value> {
    envelope::list("list", "data", state.data().help_centers.clone())
}

/// A page of `records` newest updated first, after the request's cursor.
fn newest_first_page(
    (headers, params): (&HeaderMap, &HashMap<String, String>),
    path: &str,
    per_page: usize,
    records: &[Value],
) -> Result<Response, ApiError> {
    let page = CursorPage {
        path,
        list_type: "list",
        key: "data",
        per_page,
        continuation: Continuation::Cursor,
    };
    let cursor = params.get("starting_after").map(String::as_str);
    page.serve(headers, &newest_first(records), cursor)
}

async fn collections(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiQuery(params): ApiQuery<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let records = &state.data().help_center_collections;
    let path = "/help_center/collections";
    newest_first_page((&headers, &params), path, COLLECTIONS_PER_PAGE, records)
}

async fn articles(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiQuery(params): ApiQuery<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let records = &state.data().articles;
    newest_first_page((&headers, &params), "/articles", ARTICLES_PER_PAGE, records)
}

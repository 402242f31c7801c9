//! Contacts: `GET /contacts`, `POST /contacts/search`, `GET /contacts/{id}`
//! and the full lists behind the embedded ones,
//! `GET /contacts/{id}/tags|companies|notes`.

use std::collections::HashMap;

use axum::Extension;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use rand::Rng;
use rand::seq::index;
use rand_chacha::ChaCha8Rng;
use serde_json::{Map, Value, json};

use crate::dataset::Dataset;
use crate::envelope::{self, ApiError, ApiJson, ApiPath, ApiQuery};
use crate::faults::RepeatCursor;
use crate::names::{COMPANY_WORDS, FIRST_NAMES, LAST_NAMES, pick};
use crate::paging::{Continuation, CursorPage};
use crate::resources::data_attributes::{CONTACT_CUSTOM, PLAN_TIERS};
use crate::search::{self, Kind, Location, Search, Searchable, requested_version};
use crate::server::AppState;
use crate::times::Timeline;

/// Embedded `tags`, `notes` and `companies` lists stop at this many items.
pub(crate) const EMBEDDED_LIMIT: usize = 10;

const COUNTRIES: &[(&str, &str, &str)] = &[
    ("United States", "California", "San Francisco"),
    ("United States", "New York", "New York"),
    ("Ireland", "Leinster", "Dublin"),
    ("Germany", "Berlin", "Berlin"),
    ("Japan", "Tokyo", "Tokyo"),
    ("Brazil", "Sao Paulo", "Sao Paulo"),
];
const BROWSERS: &[&str] = &["chrome", "firefox", "safari", "edge"];
const OSES: &[&str] = &["OS X 14.4", "Windows 11", "Linux", "iOS 17.2", "Android 14"];

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/contacts", get(list))
        .route("/contacts/search", post(search))
        .route("/contacts/{id}", get(show))
        .route("/contacts/{id}/tags", get(tags))
        .route("/contacts/{id}/companies", get(companies))
        .route("/contacts/{id}/notes", get(notes))
}

/// A 24-hex id like Intercom's (Mongo ObjectId: creation second, then random).
pub(crate) fn object_id(rng: &mut ChaCha8Rng, created: i64) -> String {
    format!("{:08x}{:016x}", created as u32, rng.random::<u64>())
}

/// What a new contact links to, drawn from the other families.
pub(crate) struct Links<'a> {
    pub(crate) workspace_id: &'a str,
    pub(crate) tag_ids: Vec<String>,
    pub(crate) company_ids: Vec<String>,
    pub(crate) admins: &'a [Value],
}

/// A contact's record plus its full relation lists.
pub(crate) struct NewContact {
    pub(crate) record: Value,
    pub(crate) tags: Vec<String>,
    pub(crate) companies: Vec<String>,
    pub(crate) notes: Vec<Value>,
}

/// How many related items: mostly a few, about 4 % past the embedded limit.
fn relation_count(rng: &mut ChaCha8Rng, available: usize) -> usize {
    let wanted = if rng.random_bool(0.04) {
        rng.random_range(EMBEDDED_LIMIT + 1..=EMBEDDED_LIMIT + 15)
    } else {
        rng.random_range(0..=3)
    };
    wanted.min(available)
}

pub(crate) fn generate_one(
    rng: &mut ChaCha8Rng,
    links: &Links<'_>,
    serial: usize,
    (created, updated): (i64, i64),
    timeline: &Timeline,
    next_note_id: &mut u64,
) -> NewContact {
    let id = object_id(rng, created);
    let user = rng.random_bool(0.7);
    let (first, last) = (pick(rng, FIRST_NAMES), pick(rng, LAST_NAMES));
    let domain = format!(
        "{}.example.com",
        pick(rng, COMPANY_WORDS).to_ascii_lowercase()
    );
    let email = format!(
        "{}.{}{serial}@{domain}",
        first.to_ascii_lowercase(),
        last.to_ascii_lowercase()
    );
    let between = |rng: &mut ChaCha8Rng| -> Option<i64> {
        rng.random_bool(0.7)
            .then(|| rng.random_range(created..=updated))
    };
    let (country, region, city) = COUNTRIES[rng.random_range(0..COUNTRIES.len())];
    let owner = (rng.random_bool(0.5) && !links.admins.is_empty())
        .then(|| links.admins[rng.random_range(0..links.admins.len())]["id"].clone());

    let mut custom = Map::new();
    for &(key, _, archived) in CONTACT_CUSTOM {
        if rng.random_bool(if archived { 0.2 } else { 0.8 }) {
            let value = match key {
                "plan_tier" => json!(pick(rng, PLAN_TIERS)),
                "seats" => json!(rng.random_range(1..500)),
                "mrr" => json!(f64::from(rng.random_range(0..1_000_000)) / 100.0),
                "beta_tester" => json!(rng.random_bool(0.3)),
                "trial_ends_at" => json!(rng.random_range(created..created + 30 * 86_400)),
                _ => json!(format!("crm-{}", rng.random_range(1_000..99_999))),
            };
            custom.insert(key.to_owned(), value);
        }
    }

    let sample = |rng: &mut ChaCha8Rng, from: &[String]| -> Vec<String> {
        let n = relation_count(rng, from.len());
        let mut chosen = index::sample(rng, from.len(), n).into_vec();
        chosen.sort_unstable();
        chosen.into_iter().map(|i| from[i].clone()).collect()
    };
    let tags = sample(rng, &links.tag_ids);
    let companies = sample(rng, &links.company_ids);
    let note_count = if links.admins.is_empty() {
        0
    } else {
        relation_count(rng, usize::MAX)
    };
    let mut notes: Vec<Value> = (0..note_count)
        .map(|_| {
            *next_note_id += rng.random_range(1..50);
            let author = &links.admins[rng.random_range(0..links.admins.len())];
            json!({
                "type": "note",
                "id": next_note_id.to_string(),
                "created_at": timeline.at_or_after(rng, created).min(updated.max(created)),
                "contact": {"type": "contact", "id": id},
                "author": author,
                "body": format!("<p>Call with {first} about {}.</p>", pick(rng, PLAN_TIERS)),
            })
        })
        .collect();
    notes.sort_by_key(|note| std::cmp::Reverse(note["created_at"].as_i64()));

    let mut record = json!({
        "type": "contact",
        "id": id,
        "workspace_id": links.workspace_id,
        "external_id": user.then(|| format!("usr-{serial}")),
        "role": if user { "user" } else { "lead" },
        "email": email,
        "email_domain": domain,
        "phone": rng.random_bool(0.4).then(|| format!("+1555{:07}", rng.random_range(0..10_000_000))),
        "name": rng.random_bool(0.95).then(|| format!("{first} {last}")),
        "owner_id": owner,
        "has_hard_bounced": rng.random_bool(0.02),
        "marked_email_as_spam": rng.random_bool(0.01),
        "unsubscribed_from_emails": rng.random_bool(0.1),
        "created_at": created,
        "updated_at": updated,
        "signed_up_at": user.then_some(created),
        "last_seen_at": between(rng),
        "last_replied_at": between(rng),
        "last_contacted_at": between(rng),
        "last_email_opened_at": between(rng),
        "last_email_clicked_at": between(rng),
        "language_override": None::<String>,
        "browser": pick(rng, BROWSERS),
        "browser_version": format!("{}.0", rng.random_range(90..130)),
        "browser_language": "en",
        "os": pick(rng, OSES),
        "android_app_name": None::<String>,
        "android_app_version": None::<String>,
        "android_device": None::<String>,
        "android_os_version": None::<String>,
        "android_sdk_version": None::<String>,
        "android_last_seen_at": None::<i64>,
        "ios_app_name": None::<String>,
        "ios_app_version": None::<String>,
        "ios_device": None::<String>,
        "ios_os_version": None::<String>,
        "ios_sdk_version": None::<String>,
        "ios_last_seen_at": None::<i64>,
        "custom_attributes": custom,
        "avatar": {"type": "avatar", "image_url": None::<String>},
        "location": {"type": "location", "country": country, "region": region, "city": city},
        "social_profiles": {"type": "list", "data": []},
    });
    embed_relations(&mut record, &tags, &companies, &notes);
    NewContact {
        record,
        tags,
        companies,
        notes,
    }
}

/// Writes the embedded `tags`, `notes` and `companies` lists (first ten items,
/// `url` of the full list, `total_count`, `has_more`).
pub(crate) fn embed_relations(
    record: &mut Value,
    tags: &[String],
    companies: &[String],
    notes: &[Value],
) {
    let id = record["id"].as_str().unwrap_or_default().to_owned();
    let embedded = |kind: &str, path: &str, ids: &mut dyn Iterator<Item = &str>, total: usize| {
        let data: Vec<Value> = ids
            .take(EMBEDDED_LIMIT)
            .map(|item| json!({"type": kind, "id": item, "url": format!("/{path}/{item}")}))
            .collect();
        json!({
            "type": "list",
            "data": data,
            "url": format!("/contacts/{id}/{path}"),
            "total_count": total,
            "has_more": total > EMBEDDED_LIMIT,
        })
    };
    record["tags"] = embedded(
        "tag",
        "tags",
        &mut tags.iter().map(String::as_str),
        tags.len(),
    );
    record["notes"] = embedded(
        "note",
        "notes",
        &mut notes
            .iter()
            .map(|note| note["id"].as_str().unwrap_or_default()),
        notes.len(),
    );
    record["companies"] = embedded(
        "company",
        "companies",
        &mut companies.iter().map(String::as_str),
        companies.len(),
    );
}

/// Fields of the spec's "Accepted Fields" table that the simulator searches.
pub(crate) fn field(name: &str) -> Option<(Kind, Location)> {
    let scalar = |kind, pointer: &str| Some((kind, Location::Scalar(pointer.to_owned())));
    match name {
        "id" | "role" | "name" | "owner_id" | "email" | "email_domain" | "phone"
        | "external_id" | "language_override" | "browser" | "browser_language" | "os" => {
            scalar(Kind::Str, &format!("/{name}"))
        }
        "created_at"
        | "signed_up_at"
        | "updated_at"
        | "last_seen_at"
        | "last_contacted_at"
        | "last_replied_at"
        | "last_email_opened_at"
        | "last_email_clicked_at" => scalar(Kind::Date, &format!("/{name}")),
        "unsubscribed_from_emails" | "marked_email_as_spam" | "has_hard_bounced" => {
            scalar(Kind::Bool, &format!("/{name}"))
        }
        "location.country" | "location.region" | "location.city" => {
            scalar(Kind::Str, &format!("/{}", name.replace('.', "/")))
        }
        _ => {
            let key = name.strip_prefix("custom_attributes.")?;
            let &(_, data_type, _) = CONTACT_CUSTOM.iter().find(|(k, _, _)| *k == key)?;
            let kind = match data_type {
                "integer" => Kind::Int,
                "float" => Kind::Float,
                "boolean" => Kind::Bool,
                "date" => Kind::Date,
                _ => Kind::Str,
            };
            scalar(kind, &format!("/custom_attributes/{key}"))
        }
    }
}

async fn search(
    State(state): State<AppState>,
    headers: HeaderMap,
    repeat: Option<Extension<RepeatCursor>>,
    ApiJson(body): ApiJson,
) -> Result<axum::response::Response, ApiError> {
    // Since 2.14 dates match by calendar day in the app's timezone.
    let calendar_days = (requested_version(&headers) >= (2, 14)).then_some(state.timezone);
    search::answer(
        &state,
        repeat.is_some(),
        &body,
        &Searchable {
            field: &field,
            calendar_days,
            inclusive_inequalities: false,
            default_per_page: 50,
            ignore_sort: state.ignore_search_sort,
        },
        |d| (&d.contacts, d.contact_searches()),
        ("list", "data"),
    )
}

/// `GET /contacts`: 50 a page unless `per_page` asks for more (at most
/// 150, Intercom's pagination rules), `starting_after` cursors. Archived and
/// merged contacts are not listed; the list reads the live data, not the
/// lagging search index.
async fn list(
    State(state): State<AppState>,
    repeat: Option<Extension<RepeatCursor>>,
    ApiQuery(params): ApiQuery<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let per_page = match params.get("per_page") {
        None => 50,
        Some(text) => text
            .parse::<usize>()
            .ok()
            .filter(|&n| n >= 1)
            .ok_or_else(|| ApiError::invalid("per_page must be a positive integer"))?,
    };
    let data = state.data();
    let cursor = params.get("starting_after").map(String::as_str);
    let search = Search::list(per_page, cursor, &data.hidden_from_lists)?;
    let mut page = search.run(&data.contacts, data.contact_list_cache());
    if repeat.is_some() {
        search::repeat_cursor(
            &json!({"pagination": {"starting_after": cursor}}),
            &mut page.pages,
        );
    }
    Ok(page.into_response("list", "data"))
}

fn contact_not_found() -> ApiError {
    ApiError::not_found("User Not Found")
}

/// 410 `contact_merged` for a contact merged away, with the `Link` to the
/// contact it ended in; 404 for one deleted, archived or never known.
fn gone_or_not_found(data: &Dataset, id: &str) -> ApiError {
    match data.merged_contacts.get(id) {
        Some(into) => ApiError::new(
            StatusCode::GONE,
            "contact_merged",
            "This contact has been merged. See the 'Link' header for the canonical contact.",
        )
        .with_header("link", format!("</contacts/{into}>; rel=\"canonical\"")),
        None => contact_not_found(),
    }
}

fn with_contact<T>(
    state: &AppState,
    id: &str,
    f: impl FnOnce(&Dataset, &Value) -> T,
) -> Result<T, ApiError> {
    let data = state.data();
    let contact = data
        .contact(id)
        .ok_or_else(|| gone_or_not_found(&data, id))?;
    Ok(f(&data, contact))
}

async fn show(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Value>, ApiError> {
    with_contact(&state, &id, |_, contact| Json(contact.clone()))
}

/// Every tag of the contact, unpaginated (`tag_list`).
async fn tags(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Value>, ApiError> {
    with_contact(&state, &id, |data, _| {
        envelope::list("list", "data", data.contact_tag_list(&id))
    })
}

/// Items per page of the cursor-paged sub-lists, as the spec's examples show.
pub(crate) const SUBLIST_PAGE: usize = 50;

/// Page `page` of `all` in a page-numbered list envelope, items under `key`,
/// written straight from the dataset.
fn numbered_page<'a>(
    key: &str,
    all: impl ExactSizeIterator<Item = &'a Value>,
    page: usize,
    per_page: usize,
) -> Response {
    let total_count = all.len();
    search::Page {
        items: all.skip((page - 1) * per_page).take(per_page).collect(),
        total_count,
        pages: envelope::numbered_pages(page, per_page, total_count),
    }
    .into_response("list", key)
}

/// The contact's companies (`contact_attached_companies`), paged by `pages.next`
/// links, or page-numbered when lenient.
async fn companies(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiPath(id): ApiPath<String>,
    ApiQuery(params): ApiQuery<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let numbered = state.lenient.numbered_sublists;
    let (page, per_page) = if numbered {
        envelope::page_params(&params, 50, 150)?
    } else {
        (1, SUBLIST_PAGE)
    };
    with_contact(&state, &id, |data, _| {
        let all = data.contact_company_list(&id);
        if numbered {
            return Ok(numbered_page("companies", all.into_iter(), page, per_page));
        }
        let path = format!("/contacts/{id}/companies");
        let cursor = params.get("starting_after").map(String::as_str);
        let page = CursorPage {
            path: &path,
            list_type: "list",
            key: "companies",
            per_page: SUBLIST_PAGE,
            continuation: Continuation::Link,
        };
        page.serve(&headers, &all, cursor)
    })?
}

/// The contact's notes, newest first (`note_list`), paged by
/// `pages.next.starting_after`, or page-numbered when lenient.
async fn notes(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiPath(id): ApiPath<String>,
    ApiQuery(params): ApiQuery<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let numbered = state.lenient.numbered_sublists;
    let (page, per_page) = if numbered {
        envelope::page_params(&params, 50, 150)?
    } else {
        (1, SUBLIST_PAGE)
    };
    with_contact(&state, &id, |data, _| {
        let all = data
            .contact_notes
            .get(id.as_str())
            .map(Vec::as_slice)
            .unwrap_or_default();
        if numbered {
            return Ok(numbered_page("data", all.iter(), page, per_page));
        }
        let all: Vec<&Value> = all.iter().collect();
        let path = format!("/contacts/{id}/notes");
        let cursor = params.get("starting_after").map(String::as_str);
        let page = CursorPage {
            path: &path,
            list_type: "list",
            key: "data",
            per_page: SUBLIST_PAGE,
            continuation: Continuation::Cursor,
        };
        page.serve(&headers, &all, cursor)
    })?
}

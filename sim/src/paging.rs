//! Lists paged by an opaque `starting_after` cursor: contacts' sub-lists,
//! articles, help-center collections and activity logs.

use axum::http::HeaderMap;
use axum::response::Response;
use serde_json::{Value, json};

use crate::envelope::ApiError;
use crate::search;

/// How a list continues after a page: the spec pages most lists with
/// `pages.next.starting_after`, and a contact's companies with a
/// `pages.next` link.
#[derive(Clone, Copy)]
pub(crate) enum Continuation {
    Cursor,
    Link,
}

/// The opaque cursor after the item `id`: base64 of a JSON array, like Intercom's.
fn cursor_after(id: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(json!([id]).to_string())
}

/// Where the page after `cursor` starts in `ids`; a cursor naming no item is refused.
fn start_after<'a>(
    mut ids: impl Iterator<Item = &'a str>,
    cursor: Option<&str>,
) -> Result<usize, ApiError> {
    use base64::Engine;
    let Some(cursor) = cursor else {
        return Ok(0);
    };
    let invalid = || ApiError::invalid("starting_after is not a valid cursor");
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(cursor.trim())
        .map_err(|_| invalid())?;
    let after: Vec<String> = serde_json::from_slice(&bytes).map_err(|_| invalid())?;
    let [after] = after.as_slice() else {
        return Err(invalid());
    };
    ids.position(|id| id == after)
        .map(|at| at + 1)
        .ok_or_else(invalid)
}

/// One cursor-paged list: where it is served, its `type` and item key, and
/// its page size.
/// Only `starting_after` is read: the undeclared `page` and `per_page` are
/// ignored, as Intercom ignores unknown parameters.
pub(crate) struct CursorPage<'a> {
    pub(crate) path: &'a str,
    pub(crate) list_type: &'a str,
    pub(crate) key: &'a str,
    pub(crate) per_page: usize,
    pub(crate) continuation: Continuation,
}

impl CursorPage<'_> {
    /// The page of `all` after `cursor`.
    pub(crate) fn serve(
        &self,
        headers: &HeaderMap,
        all: &[&Value],
        cursor: Option<&str>,
    ) -> Result<Response, ApiError> {
        let per_page = self.per_page;
        let id = |item: &&Value| item["id"].as_str().unwrap_or_default().to_owned();
        let start = start_after(
            all.iter()
                .map(|item| item["id"].as_str().unwrap_or_default()),
            cursor,
        )?;
        let end = (start + per_page).min(all.len());
        let mut pages = json!({
            "type": "pages",
            "page": start / per_page + 1,
            "per_page": per_page,
            "total_pages": all.len().div_ceil(per_page),
            "next": null,
        });
        if end < all.len() {
            let after = cursor_after(&id(&all[end - 1]));
            pages["next"] = match self.continuation {
                Continuation::Cursor => {
                    json!({"page": start / per_page + 2, "starting_after": after})
                }
                Continuation::Link => {
                    let host = headers
                        .get(axum::http::header::HOST)
                        .and_then(|host| host.to_str().ok())
                        .unwrap_or("127.0.0.1");
                    let mut link = url::Url::parse(&format!("http://{host}{}", self.path))
                        .map_err(|err| ApiError::invalid(err.to_string()))?;
                    link.query_pairs_mut().append_pair("starting_after", &after);
                    Value::from(link.to_string())
                }
            };
        }
        Ok(search::Page {
            items: all[start..end].to_vec(),
            total_count: all.len(),
            pages,
        }
        .into_response(self.list_type, self.key))
    }
}

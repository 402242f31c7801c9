//! Completing the lists Intercom embeds in a contact (`tags`, `companies`,
//! `notes`): at most 10 items are embedded, with `has_more` when there are
//! more; the rest come from `GET /contacts/{id}/<list>`.

use std::cell::Cell;

use serde::Deserialize;
use serde_json::{Value, json};

use crate::api::Api;
use crate::error::{Error, Result};
use crate::fields::{Page, Record};
use crate::host::LogLevel;
use crate::pager::{ListPager, Pager};
use crate::streams::StreamDef;

/// Where each list endpoint puts its items.
fn items_key(list: &str) -> &'static str {
    match list {
        "companies" => "companies",
        _ => "data",
    }
}

/// The part of an embedded list that says whether it is truncated.
#[derive(Deserialize)]
struct ListHead {
    has_more: Option<Value>,
}

/// Replaces every truncated embedded list in `records` by the full one,
/// fetching the first pages of all of them in one batch.
pub fn complete(api: &Api, stream: &StreamDef, records: &mut [Record]) -> Result<()> {
    let mut wanted = Vec::new();
    let hints: Vec<Cell<usize>> = stream
        .shaping
        .complete_lists
        .iter()
        .map(|_| Cell::new(0))
        .collect();
    let truth = memchr::memmem::Finder::new("true");
    for (index, record) in records.iter().enumerate() {
        for (list, hint) in stream.shaping.complete_lists.iter().zip(&hints) {
            // Without a `true` anywhere in its text, a list is complete.
            let head: Option<ListHead> = record
                .contains(list, hint, &truth)
                .then(|| record.peek(list))
                .flatten();
            if head.and_then(|h| h.has_more) == Some(Value::Bool(true)) {
                let id = match record.get("id") {
                    Some(Value::String(id)) => id,
                    _ => {
                        return Err(Error::api(format!(
                            "{}: a record has no string `id`",
                            stream.name
                        )));
                    }
                };
                let id: String = url::form_urlencoded::byte_serialize(id.as_bytes()).collect();
                wanted.push((index, *list, format!("/contacts/{id}/{list}")));
            }
        }
    }
    if wanted.is_empty() {
        return Ok(());
    }
    let paths: Vec<String> = wanted.iter().map(|(_, _, p)| p.clone()).collect();
    let pages = api.get_batch::<Page>(&paths);
    for ((index, list, path), response) in wanted.into_iter().zip(pages) {
        let page = match response {
            Ok(page) => page,
            // Merged (410) or deleted (404) since the search: the embedded
            // list is all there is.
            Err(e) if matches!(e.status, Some(404 | 410)) => {
                api.host().log(
                    LogLevel::Info,
                    &format!("{path}: {}; kept the embedded list", e.message),
                );
                continue;
            }
            Err(e) => return Err(e),
        };
        let mut pager = ListPager::new(path.clone(), items_key(list));
        let mut items = pager.accept(api, page)?;
        let mut refs = Vec::new();
        loop {
            refs.extend(items.records().iter().map(|item| reference(list, item)));
            match pager.next_page(api)? {
                Some(more) => items = more,
                None => break,
            }
        }
        records[index].update(list, |embedded| {
            if let Value::Object(embedded) = embedded {
                embedded.insert("total_count".into(), json!(refs.len()));
                embedded.insert("has_more".into(), Value::Bool(false));
                embedded.insert("data".into(), Value::Array(refs));
            }
        });
    }
    Ok(())
}

/// The embedded form of a listed object: its type, id and API path.
fn reference(list: &str, item: &Record) -> Value {
    let id = item.text("id").unwrap_or_default();
    json!({
        "type": item.get("type").unwrap_or(Value::Null),
        "id": id,
        "url": format!("/{list}/{id}"),
    })
}

//! Completing the lists Intercom embeds in a contact (`tags`, `companies`,
//! `notes`): at most 10 items are embedded, with `has_more` when there are
//! more; the rest come from `GET /contacts/{id}/<list>`.

use serde_json::{Map, Value, json};

use crate::api::Api;
use crate::error::{Error, Result};
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

/// Replaces every truncated embedded list in `records` by the full one,
/// fetching the first pages of all of them in one batch.
pub fn complete(api: &Api, stream: &StreamDef, records: &mut [Map<String, Value>]) -> Result<()> {
    let mut wanted = Vec::new();
    for (index, record) in records.iter().enumerate() {
        for list in stream.shaping.complete_lists {
            if record.get(*list).and_then(|l| l.get("has_more")) == Some(&Value::Bool(true)) {
                let id = record.get("id").and_then(Value::as_str).ok_or_else(|| {
                    Error::api(format!("{}: a record has no string `id`", stream.name))
                })?;
                let id: String = url::form_urlencoded::byte_serialize(id.as_bytes()).collect();
                wanted.push((index, *list, format!("/contacts/{id}/{list}")));
            }
        }
    }
    if wanted.is_empty() {
        return Ok(());
    }
    let paths: Vec<String> = wanted.iter().map(|(_, _, p)| p.clone()).collect();
    for ((index, list, path), response) in wanted.into_iter().zip(api.get_batch(&paths)) {
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
        let mut pager = ListPager::new(path, items_key(list));
        let mut items = pager.accept(api, page)?;
        while let Some(more) = pager.next_page(api)? {
            items.extend(more);
        }
        let refs: Vec<Value> = items.iter().map(|item| reference(list, item)).collect();
        if let Some(Value::Object(embedded)) = records[index].get_mut(list) {
            embedded.insert("total_count".into(), json!(refs.len()));
            embedded.insert("has_more".into(), Value::Bool(false));
            embedded.insert("data".into(), Value::Array(refs));
        }
    }
    Ok(())
}

/// The embedded form of a listed object: its type, id and API path.
fn reference(list: &str, item: &Value) -> Value {
    let id = match &item["id"] {
        Value::Number(n) => n.to_string(),
        other => other.as_str().unwrap_or_default().to_string(),
    };
    json!({
        "type": item["type"],
        "id": id,
        "url": format!("/{list}/{id}"),
    })
}

//! Completing the lists an API object embeds truncated (at most some items,
//! with `has_more` when there are more) from the list's own endpoint, as
//! each stream's [`EmbeddedList`]s describe.

use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::api::{Api, path_segment};
use crate::error::{Error, Result};
use crate::host::LogLevel;
use crate::page::Page;
use crate::pager::{ListPager, Pager};
use crate::record::{FieldName, Record};
use crate::streams::{EmbeddedList, ReferencePart, StreamDef};

/// The part of an embedded list that says whether it is truncated.
#[derive(Deserialize)]
struct ListHead {
    has_more: Option<Value>,
}

/// Replaces every truncated embedded list in `records` by the full one,
/// fetching the first pages of all of them in one batch.
pub fn complete(api: &Api, stream: &StreamDef, records: &mut [Record]) -> Result<()> {
    let mut wanted = Vec::new();
    let fields: Vec<FieldName> = stream
        .shaping
        .complete_lists
        .iter()
        .map(|list| FieldName::new(list.field))
        .collect();
    let truth = memchr::memmem::Finder::new("true");
    for (index, record) in records.iter().enumerate() {
        for (list, field) in stream.shaping.complete_lists.iter().zip(&fields) {
            // Without a `true` anywhere in its text, a list is complete.
            let head: Option<ListHead> = record
                .contains(field, &truth)
                .then(|| record.peek(list.field))
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
                wanted.push((index, list, list.path.replace("{id}", &path_segment(&id))));
            }
        }
    }
    if wanted.is_empty() {
        return Ok(());
    }
    let paths: Vec<String> = wanted.iter().map(|(_, _, p)| p.clone()).collect();
    let pages = api.get_batch::<Page>(&paths);
    // Merged (410) or deleted (404) since the search, before any page of
    // its list or between two: the embedded list is all there is.
    let gone = |path: &str, e: &crate::error::Error| {
        let found = matches!(e.status, Some(404 | 410));
        if found {
            api.host().log(
                LogLevel::Info,
                &format!("{path}: {}; kept the embedded list", e.message),
            );
        }
        found
    };
    'lists: for ((index, list, path), response) in wanted.into_iter().zip(pages) {
        let page = match response {
            Ok(page) => page,
            Err(e) if gone(&path, &e) => continue,
            Err(e) => return Err(e),
        };
        let mut pager = ListPager::new(path.clone(), list.items_key);
        let mut items = pager.accept(api, page)?;
        let mut refs = Vec::new();
        loop {
            refs.extend(items.records().iter().map(|item| reference(list, item)));
            match pager.next_page(api) {
                Ok(Some(more)) => items = more,
                Ok(None) => break,
                Err(e) if gone(&path, &e) => continue 'lists,
                Err(e) => return Err(e),
            }
        }
        records[index].update(list.field, |embedded| {
            if let Value::Object(embedded) = embedded {
                embedded.insert("total_count".into(), json!(refs.len()));
                embedded.insert("has_more".into(), Value::Bool(false));
                embedded.insert("data".into(), Value::Array(refs));
            }
        });
    }
    Ok(())
}

/// The embedded form of a listed object, as `list` describes it.
fn reference(list: &EmbeddedList, item: &Record) -> Value {
    let id = item.text("id").unwrap_or_default();
    let fields: Map<String, Value> = list
        .reference
        .iter()
        .map(|(field, part)| {
            let value = match part {
                ReferencePart::Value(key) => item.get(key).unwrap_or(Value::Null),
                ReferencePart::Id => Value::String(id.clone()),
                ReferencePart::Url(path) => Value::String(path.replace("{id}", &id)),
            };
            (field.to_string(), value)
        })
        .collect();
    Value::Object(fields)
}

//! Singer discovery output, and reading stream and field selection back from
//! a catalog the user edited.

use std::collections::HashSet;

use serde_json::{Value, json};

use crate::error::{Error, Result};
use crate::streams::{STREAMS, StreamDef};

/// The Singer catalog of every stream.
pub fn discover() -> Value {
    let streams: Vec<Value> = STREAMS.iter().map(catalog_entry).collect();
    json!({ "streams": streams })
}

fn catalog_entry(stream: &StreamDef) -> Value {
    let schema: Value = serde_json::from_str(stream.schema).unwrap_or_default();
    let replication_key = stream.replication.key();
    let mut top = json!({
        "table-key-properties": stream.key_properties,
        "forced-replication-method": stream.replication.singer_name(),
        "inclusion": "available",
        "selected-by-default": true,
    });
    if let Some(key) = replication_key {
        top["valid-replication-keys"] = json!([key]);
    }
    if let Some(parent) = stream.parent() {
        top["parent-tap-stream-id"] = json!(parent.name());
    }
    let mut metadata = vec![json!({ "breadcrumb": [], "metadata": top })];
    if let Some(properties) = schema["properties"].as_object() {
        for field in properties.keys() {
            let automatic = stream.key_properties.contains(&field.as_str())
                || replication_key == Some(field.as_str());
            let inclusion = if automatic { "automatic" } else { "available" };
            metadata.push(json!({
                "breadcrumb": ["properties", field],
                "metadata": { "inclusion": inclusion, "selected-by-default": true }
            }));
        }
    }
    let mut entry = json!({
        "tap_stream_id": stream.name,
        "stream": stream.name,
        "key_properties": stream.key_properties,
        "replication_method": stream.replication.singer_name(),
        "schema": schema,
        "metadata": metadata,
    });
    if let Some(key) = replication_key {
        entry["replication_key"] = json!(key);
    }
    entry
}

/// A stream chosen for this run, with the top-level fields left out.
#[derive(Debug)]
pub struct Selected {
    pub stream: &'static StreamDef,
    pub excluded_fields: HashSet<String>,
}

/// Streams in catalog order. Without a catalog, every stream.
pub fn select(catalog: Option<&str>) -> Result<Vec<Selected>> {
    let Some(text) = catalog else {
        return Ok(STREAMS
            .iter()
            .map(|stream| Selected {
                stream,
                excluded_fields: HashSet::new(),
            })
            .collect());
    };
    let catalog: Value = serde_json::from_str(text)
        .map_err(|e| Error::catalog(format!("catalog is not valid JSON: {e}")))?;
    let entries = catalog["streams"]
        .as_array()
        .ok_or_else(|| Error::catalog("catalog: field `streams` must be an array"))?;
    let mut selected = Vec::new();
    for (index, entry) in entries.iter().enumerate() {
        let name = entry["tap_stream_id"]
            .as_str()
            .or_else(|| entry["stream"].as_str())
            .ok_or_else(|| {
                Error::catalog(format!("catalog: streams[{index}] has no `tap_stream_id`"))
            })?;
        let stream = crate::streams::find(name)
            .ok_or_else(|| Error::catalog(format!("catalog: unknown stream `{name}`")))?;
        let metadata = metadata_entries(entry, name)?;
        let stream_metadata = metadata.iter().find(|(b, _)| b.is_empty()).map(|(_, m)| m);
        if !is_selected(stream_metadata) {
            continue;
        }
        let excluded_fields = metadata
            .iter()
            .filter_map(|(breadcrumb, m)| match breadcrumb.as_slice() {
                [properties, field]
                    if properties == "properties"
                        && !is_selected(Some(m))
                        && !stream.key_properties.contains(&field.as_str())
                        && stream.replication.key() != Some(field.as_str()) =>
                {
                    Some(field.clone())
                }
                _ => None,
            })
            .collect();
        selected.push(Selected {
            stream,
            excluded_fields,
        });
    }
    Ok(selected)
}

/// Singer: `selected` decides; absent, `selected-by-default`; absent, selected.
fn is_selected(metadata: Option<&Value>) -> bool {
    let Some(m) = metadata else { return true };
    if m["inclusion"] == "automatic" {
        return true;
    }
    m["selected"]
        .as_bool()
        .or_else(|| m["selected-by-default"].as_bool())
        .unwrap_or(true)
}

fn metadata_entries(entry: &Value, name: &str) -> Result<Vec<(Vec<String>, Value)>> {
    let Some(list) = entry.get("metadata") else {
        return Ok(Vec::new());
    };
    let list = list.as_array().ok_or_else(|| {
        Error::catalog(format!(
            "catalog: stream `{name}`: `metadata` must be an array"
        ))
    })?;
    list.iter()
        .map(|item| {
            let breadcrumb = item["breadcrumb"]
                .as_array()
                .and_then(|b| b.iter().map(|p| p.as_str().map(String::from)).collect())
                .ok_or_else(|| {
                    Error::catalog(format!(
                        "catalog: stream `{name}`: metadata `breadcrumb` must be an array of strings"
                    ))
                })?;
            Ok((breadcrumb, item["metadata"].clone()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(selected: &[Selected]) -> Vec<&str> {
        selected.iter().map(|s| s.stream.name).collect()
    }

    #[test]
    fn discovery_lists_every_stream_with_singer_metadata() {
        let catalog = discover();
        let streams = catalog["streams"].as_array().unwrap();
        assert_eq!(streams.len(), STREAMS.len());
        let admins = &streams[0];
        assert_eq!(admins["tap_stream_id"], "admins");
        let top = &admins["metadata"][0]["metadata"];
        assert_eq!(top["table-key-properties"], json!(["id"]));
        assert_eq!(top["forced-replication-method"], "FULL_TABLE");
        let id = admins["metadata"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["breadcrumb"] == json!(["properties", "id"]))
            .unwrap();
        assert_eq!(id["metadata"]["inclusion"], "automatic");
        let contacts = streams.iter().find(|s| s["stream"] == "contacts").unwrap();
        let top = &contacts["metadata"][0]["metadata"];
        assert_eq!(top["forced-replication-method"], "INCREMENTAL");
        assert_eq!(top["valid-replication-keys"], json!(["updated_at"]));
        assert_eq!(contacts["replication_key"], "updated_at");
        let parts = streams
            .iter()
            .find(|s| s["stream"] == "conversation_parts")
            .unwrap();
        assert_eq!(
            parts["metadata"][0]["metadata"]["parent-tap-stream-id"],
            "conversations"
        );
    }

    #[test]
    fn discovery_output_selects_everything_when_fed_back() {
        let text = discover().to_string();
        let all: Vec<&str> = STREAMS.iter().map(|s| s.name).collect();
        assert_eq!(names(&select(Some(&text)).unwrap()), all);
        assert_eq!(names(&select(None).unwrap()), all);
    }

    #[test]
    fn honours_stream_and_field_selection() {
        let catalog = json!({"streams": [
            {"tap_stream_id": "teams", "metadata": [
                {"breadcrumb": [], "metadata": {"selected": true}},
                {"breadcrumb": ["properties", "name"], "metadata": {"selected": false}},
                {"breadcrumb": ["properties", "id"], "metadata": {"selected": false}}
            ]},
            {"tap_stream_id": "tags", "metadata": [
                {"breadcrumb": [], "metadata": {"selected": false, "selected-by-default": true}}
            ]}
        ]});
        let selected = select(Some(&catalog.to_string())).unwrap();
        assert_eq!(names(&selected), ["teams"]);
        assert_eq!(
            selected[0].excluded_fields,
            HashSet::from(["name".to_string()])
        );
    }

    #[test]
    fn rejects_malformed_catalogs_naming_the_problem() {
        for (text, needle) in [
            ("nope", "not valid JSON"),
            ("{}", "`streams`"),
            (r#"{"streams":[{}]}"#, "streams[0]"),
            (
                r#"{"streams":[{"tap_stream_id":"users"}]}"#,
                "unknown stream `users`",
            ),
            (
                r#"{"streams":[{"tap_stream_id":"tags","metadata":{}}]}"#,
                "`metadata`",
            ),
            (
                r#"{"streams":[{"tap_stream_id":"tags","metadata":[{"breadcrumb":[1]}]}]}"#,
                "`breadcrumb`",
            ),
        ] {
            let e = select(Some(text)).unwrap_err();
            assert!(e.message.contains(needle), "{text}: {}", e.message);
        }
    }
}

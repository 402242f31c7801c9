//! Singer discovery output, and reading stream and field selection back from
//! a catalog the user edited.

use std::collections::HashSet;

use serde_json::{Value, json};

use crate::error::{Error, Result};
use crate::streams::{STREAMS, StreamDef};

/// The Singer catalog of every stream, with the custom date attributes
/// `custom_dates` finds for a stream declared in its schema.
pub fn discover(mut custom_dates: impl FnMut(&StreamDef) -> Vec<String>) -> Value {
    let streams: Vec<Value> = STREAMS
        .iter()
        .map(|stream| catalog_entry(stream, &custom_dates(stream)))
        .collect();
    json!({ "streams": streams })
}

fn catalog_entry(stream: &StreamDef, custom_dates: &[String]) -> Value {
    let mut schema: Value = serde_json::from_str(stream.schema).unwrap_or_default();
    crate::custom_dates::declare(&mut schema, custom_dates);
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
        // Not Singer's: the child's fields holding its parent's key, so a
        // destination can take a deleted parent's children with it.
        let parent_keys = crate::streams::find(parent.name()).map_or(&[][..], |p| p.key_properties);
        let fields: Option<Vec<&str>> = parent_keys
            .iter()
            .map(|key| {
                stream
                    .parent_fields()
                    .iter()
                    .find(|f| f.from == *key)
                    .map(|f| f.name)
            })
            .collect();
        if let Some(fields) = fields.filter(|f| !f.is_empty()) {
            top["parent-key-properties"] = json!(fields);
        }
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

/// The streams a catalog selects, and one warning line per stream whose
/// selection names fields its schema lacks.
#[derive(Debug, Default)]
pub struct Selection {
    pub streams: Vec<Selected>,
    pub warnings: Vec<String>,
}

/// Streams in catalog order. Without a catalog, every stream. A stream
/// listed twice is an error: its two selections could disagree.
pub fn select(catalog: Option<&str>) -> Result<Selection> {
    let Some(text) = catalog else {
        return Ok(Selection {
            streams: STREAMS
                .iter()
                .map(|stream| Selected {
                    stream,
                    excluded_fields: HashSet::new(),
                })
                .collect(),
            warnings: Vec::new(),
        });
    };
    let catalog: Value = serde_json::from_str(text)
        .map_err(|e| Error::catalog(format!("catalog is not valid JSON: {e}")))?;
    let entries = catalog["streams"]
        .as_array()
        .ok_or_else(|| Error::catalog("catalog: field `streams` must be an array"))?;
    let mut selection = Selection::default();
    let mut listed: Vec<&str> = Vec::new();
    for (index, entry) in entries.iter().enumerate() {
        let name = entry["tap_stream_id"]
            .as_str()
            .or_else(|| entry["stream"].as_str())
            .ok_or_else(|| {
                Error::catalog(format!("catalog: streams[{index}] has no `tap_stream_id`"))
            })?;
        let stream = crate::streams::find(name)
            .ok_or_else(|| Error::catalog(format!("catalog: unknown stream `{name}`")))?;
        if let Some(first) = listed.iter().position(|n| *n == name) {
            return Err(Error::catalog(format!(
                "catalog: field `streams[{index}].tap_stream_id`: stream `{name}` is listed twice (also streams[{first}])"
            )));
        }
        listed.push(name);
        let metadata = metadata_entries(entry, name)?;
        let stream_metadata = metadata.iter().find(|(b, _)| b.is_empty()).map(|(_, m)| m);
        if !is_selected(stream_metadata, entry["selected"].as_bool()) {
            continue;
        }
        let schema: Value = serde_json::from_str(stream.schema).unwrap_or_default();
        let mut excluded_fields = HashSet::new();
        let mut unknown = Vec::new();
        for (breadcrumb, m) in &metadata {
            let [properties, field] = breadcrumb.as_slice() else {
                continue;
            };
            if properties != "properties" {
                continue;
            }
            let selected = is_selected(Some(m), None);
            if schema["properties"].get(field.as_str()).is_none() {
                if selected {
                    unknown.push(format!("`{field}`"));
                }
            } else if !selected
                && !stream.key_properties.contains(&field.as_str())
                && stream.replication.key() != Some(field.as_str())
            {
                excluded_fields.insert(field.clone());
            }
        }
        if !unknown.is_empty() {
            selection.warnings.push(format!(
                "catalog: stream `{name}` selects {} that its schema does not have; ignored",
                unknown.join(", ")
            ));
        }
        selection.streams.push(Selected {
            stream,
            excluded_fields,
        });
    }
    Ok(selection)
}

/// Singer: `selected` decides; absent, `legacy` (the old Singer form's
/// `selected` on the stream entry itself, not in its metadata); absent,
/// `selected-by-default`; absent, selected. Automatic inclusion always is.
fn is_selected(metadata: Option<&Value>, legacy: Option<bool>) -> bool {
    let Some(m) = metadata else {
        return legacy.unwrap_or(true);
    };
    if m["inclusion"] == "automatic" {
        return true;
    }
    m["selected"]
        .as_bool()
        .or(legacy)
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

    fn names(selection: &Selection) -> Vec<&str> {
        selection.streams.iter().map(|s| s.stream.name).collect()
    }

    #[test]
    fn discovery_lists_every_stream_with_singer_metadata() {
        let catalog = discover(|_| Vec::new());
        let streams = catalog["streams"].as_array().unwrap();
        assert_eq!(streams.len(), STREAMS.len());
        let admins = streams.iter().find(|s| s["stream"] == "admins").unwrap();
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
        assert_eq!(
            parts["metadata"][0]["metadata"]["parent-key-properties"],
            json!(["conversation_id"])
        );
        let logs = streams
            .iter()
            .find(|s| s["stream"] == "activity_logs")
            .unwrap();
        assert_eq!(logs["replication_key"], "created_at");
        let ticket_parts = streams
            .iter()
            .find(|s| s["stream"] == "ticket_parts")
            .unwrap();
        assert_eq!(
            ticket_parts["metadata"][0]["metadata"]["parent-tap-stream-id"],
            "tickets"
        );
    }

    #[test]
    fn discovery_output_selects_everything_when_fed_back() {
        let text = discover(|_| Vec::new()).to_string();
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
            selected.streams[0].excluded_fields,
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

    #[test]
    fn a_stream_listed_twice_is_refused_naming_both_places() {
        let text =
            r#"{"streams":[{"tap_stream_id":"tags"},{"tap_stream_id":"teams"},{"stream":"tags"}]}"#;
        let e = select(Some(text)).unwrap_err();
        assert_eq!(
            e.message,
            "catalog: field `streams[2].tap_stream_id`: stream `tags` is listed twice (also streams[0])"
        );
    }

    #[test]
    fn selected_fields_the_schema_lacks_are_one_warning_per_stream() {
        let catalog = json!({"streams": [
            {"tap_stream_id": "teams", "metadata": [
                {"breadcrumb": ["properties", "nickname"], "metadata": {"selected": true}},
                {"breadcrumb": ["properties", "shoe_size"], "metadata": {}},
                {"breadcrumb": ["properties", "gone"], "metadata": {"selected": false}},
                {"breadcrumb": ["properties", "name"], "metadata": {"selected": true}}
            ]},
            {"tap_stream_id": "tags"}
        ]});
        let selection = select(Some(&catalog.to_string())).unwrap();
        assert_eq!(names(&selection), ["teams", "tags"]);
        assert_eq!(
            selection.warnings,
            [
                "catalog: stream `teams` selects `nickname`, `shoe_size` that its schema does not have; ignored"
            ]
        );
        assert!(selection.streams[0].excluded_fields.is_empty());
    }

    #[test]
    fn legacy_stream_level_selected_yields_to_metadata() {
        let entry = |legacy: Value, metadata: Value| {
            let mut entry = json!({"tap_stream_id": "tags", "selected": legacy});
            if !metadata.is_null() {
                entry["metadata"] = json!([{"breadcrumb": [], "metadata": metadata}]);
            }
            let catalog = json!({"streams": [entry]}).to_string();
            !select(Some(&catalog)).unwrap().streams.is_empty()
        };
        assert!(!entry(json!(false), Value::Null));
        assert!(entry(json!(true), Value::Null));
        assert!(!entry(json!(false), json!({"selected-by-default": true})));
        assert!(entry(
            json!(true),
            json!({"selected-by-default": false, "inclusion": "available"})
        ));
        assert!(entry(json!(false), json!({"selected": true})));
        assert!(!entry(json!(true), json!({"selected": false})));
        assert!(entry(Value::Null, json!({})));
    }
}

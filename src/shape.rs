//! Shaping API objects into records: schema-driven timestamp conversion, ids
//! in the type the schema declares, and field selection, planned once per
//! stream and applied per record.

use std::collections::HashSet;

use serde_json::{Map, Value};

use crate::dates::rfc3339;
use crate::record::{DateTimeMarking, FieldName, Record};

/// Where in a record the schema declares date-times, and string ids that
/// Intercom may send as numbers (conversation part ids).
#[derive(Debug, PartialEq)]
enum Node {
    Timestamp,
    Text,
    Object(Vec<(String, Node)>),
    Array(Box<Node>),
}

#[derive(Debug)]
pub struct RecordShape {
    timestamps: Vec<(FieldName<String>, Node)>,
    /// Top-level fields the catalog deselected.
    excluded: HashSet<String>,
}

impl RecordShape {
    pub fn new(schema: &Value, excluded: HashSet<String>) -> Self {
        let timestamps = match plan(schema, None) {
            Some(Node::Object(fields)) => fields,
            _ => Vec::new(),
        };
        Self {
            timestamps: timestamps
                .into_iter()
                .map(|(name, node)| (FieldName::new(name), node))
                .collect(),
            excluded,
        }
    }

    pub fn apply(&self, record: &mut Record) {
        if !self.excluded.is_empty() {
            record.retain(|k| !self.excluded.contains(k));
        }
        for (name, node) in &self.timestamps {
            if *node == Node::Timestamp
                && record.seconds_to_date_time(name) != DateTimeMarking::Other
            {
                continue;
            }
            // Most ids are already strings: skip parsing them.
            if *node == Node::Text && !record.is_number(name) {
                continue;
            }
            record.update_unless_null(name, |v| convert(node, v));
        }
    }
}

/// The plan of the schema of field `name` (None: the record itself).
fn plan(schema: &Value, name: Option<&str>) -> Option<Node> {
    if schema["format"] == "date-time" {
        return Some(Node::Timestamp);
    }
    if name.is_some_and(|n| n == "id" || n.ends_with("_id")) && declares_only_text(schema) {
        return Some(Node::Text);
    }
    if let Some(properties) = schema["properties"].as_object() {
        let fields: Vec<_> = properties
            .iter()
            .filter_map(|(name, s)| plan(s, Some(name)).map(|n| (name.clone(), n)))
            .collect();
        return (!fields.is_empty()).then_some(Node::Object(fields));
    }
    plan(schema.get("items")?, None).map(|n| Node::Array(Box::new(n)))
}

/// Whether `schema`'s type is string (or string and null).
fn declares_only_text(schema: &Value) -> bool {
    match &schema["type"] {
        Value::String(t) => t == "string",
        Value::Array(types) => {
            types.contains(&Value::from("string"))
                && types.iter().all(|t| t == "string" || t == "null")
        }
        _ => false,
    }
}

fn convert_fields(fields: &[(String, Node)], object: &mut Map<String, Value>) {
    for (name, node) in fields {
        if let Some(value) = object.get_mut(name) {
            convert(node, value);
        }
    }
}

fn convert(node: &Node, value: &mut Value) {
    match (node, value) {
        (Node::Timestamp, value @ Value::Number(_)) => {
            if let Some(text) = value.as_f64().and_then(rfc3339) {
                *value = Value::String(text);
            }
        }
        (Node::Text, value @ Value::Number(_)) => *value = Value::String(value.to_string()),
        (Node::Object(fields), Value::Object(object)) => convert_fields(fields, object),
        (Node::Array(item), Value::Array(items)) => {
            items.iter_mut().for_each(|v| convert(item, v));
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn shaped(shape: &RecordShape, record: Value) -> Value {
        let text = record.to_string();
        let mut record = Record::parse(&text, "test").unwrap();
        shape.apply(&mut record);
        serde_json::from_str(&record.to_json()).unwrap()
    }

    fn schema() -> Value {
        json!({"type": "object", "properties": {
            "id": {"type": "string"},
            "created_at": {"type": ["string", "null"], "format": "date-time"},
            "tags": {"type": "array", "items": {"type": "object", "properties": {
                "applied_at": {"type": "string", "format": "date-time"}}}},
            "nested": {"type": "object", "properties": {"at": {"format": "date-time"}}},
            "secret": {"type": "string"},
            "parts": {"type": "array", "items": {"type": "object", "properties": {
                "id": {"type": "string"}, "count_id": {"type": "integer"}}}},
            "author_id": {"type": ["string", "null"]}
        }})
    }

    #[test]
    fn converts_timestamps_at_any_depth_and_drops_deselected_fields() {
        let shape = RecordShape::new(&schema(), HashSet::from(["secret".to_string()]));
        let record = json!({
            "id": "1", "created_at": 1709632800, "secret": "x",
            "tags": [{"applied_at": 0}, {"applied_at": null}],
            "nested": {"at": 1709632800.9}, "extra": 5
        });
        assert_eq!(
            shaped(&shape, record),
            json!({
                "id": "1", "created_at": "2024-03-05T10:00:00Z",
                "tags": [{"applied_at": "1970-01-01T00:00:00Z"}, {"applied_at": null}],
                "nested": {"at": "2024-03-05T10:00:00Z"}, "extra": 5
            })
        );
    }

    #[test]
    fn whole_and_fractional_seconds_read_back_as_text() {
        let shape = RecordShape::new(&schema(), HashSet::new());
        for at in [json!(1709632800), json!(1709632800.9), json!(-1)] {
            let text = json!({"created_at": at}).to_string();
            let mut record = Record::parse(&text, "test").unwrap();
            shape.apply(&mut record);
            let expected = rfc3339(at.as_f64().unwrap()).unwrap();
            assert_eq!(record.get("created_at"), Some(json!(expected)));
            assert_eq!(
                record.to_json(),
                json!({"created_at": expected}).to_string()
            );
        }
    }

    #[test]
    fn numeric_ids_become_the_strings_the_schema_declares() {
        let shape = RecordShape::new(&schema(), HashSet::new());
        let record = json!({"id": 7, "author_id": 12, "secret": 3,
            "parts": [{"id": 9, "count_id": 4}, {"id": "x"}]});
        assert_eq!(
            shaped(&shape, record),
            json!({"id": "7", "author_id": "12", "secret": 3,
                "parts": [{"id": "9", "count_id": 4}, {"id": "x"}]})
        );
        let text = json!({"id": "already", "author_id": null}).to_string();
        let mut record = Record::parse(&text, "test").unwrap();
        shape.apply(&mut record);
        assert_eq!(record.to_json(), text);
    }

    #[test]
    fn leaves_unexpected_types_alone() {
        let shape = RecordShape::new(&schema(), HashSet::new());
        let record =
            json!({"created_at": "already text", "tags": {"not": "an array"}, "nested": 3});
        assert_eq!(shaped(&shape, record.clone()), record);
        let huge = json!({"created_at": 1e300});
        assert_eq!(shaped(&shape, huge)["created_at"], 1e300);
    }
}

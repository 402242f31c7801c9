//! Custom attributes of type `date`. Intercom sends their values inside
//! `custom_attributes` as UNIX seconds, like the top-level timestamps, but
//! only the workspace's data attributes say which ones are dates; declared
//! in the schema as date-times, the schema-driven shaping converts them.

use serde_json::{Value, json};

use crate::api::Api;
use crate::error::{Error, Result};
use crate::pager::{ListPager, Pager};
use crate::record::Record;
use crate::streams::{Source, StreamDef};

/// The object holding a record's custom attributes.
pub const FIELD: &str = "custom_attributes";

/// Names (keys in [`FIELD`]) of the custom date attributes among data
/// attribute records.
pub fn date_names(attributes: &[Record]) -> Vec<String> {
    attributes
        .iter()
        .filter(|a| a.peek::<bool>("custom") == Some(true))
        .filter(|a| a.text("data_type").as_deref() == Some("date"))
        .filter_map(|a| {
            let full = a.text("full_name").or_else(|| a.text("name"))?;
            let name = full.strip_prefix("custom_attributes.").unwrap_or(&full);
            (!name.is_empty() && !name.contains('.')).then(|| name.to_string())
        })
        .collect()
}

/// Reads the attribute stream `source` whole, for its date names; with
/// `fail_fast`, only 429s are retried.
pub fn fetch(api: &Api, source: &StreamDef, fail_fast: bool) -> Result<Vec<String>> {
    let Source::List { path, records_key } = source.source else {
        return Err(Error::internal(format!(
            "{}: custom dates come from a list stream",
            source.name
        )));
    };
    let mut pager = ListPager::new(path.to_string(), records_key);
    if fail_fast {
        pager = pager.failing_fast();
    }
    let mut names = Vec::new();
    while let Some(mut page) = pager.next_page(api)? {
        names.extend(date_names(&page.records()));
    }
    Ok(names)
}

/// Declares `names` in `schema`'s [`FIELD`] as date-times.
pub fn declare(schema: &mut Value, names: &[String]) {
    if names.is_empty() {
        return;
    }
    let Some(field) = schema.pointer_mut(&format!("/properties/{FIELD}")) else {
        return;
    };
    let Some(object) = field.as_object_mut() else {
        return;
    };
    let properties = object.entry("properties").or_insert_with(|| json!({}));
    if let Some(properties) = properties.as_object_mut() {
        for name in names {
            properties.insert(
                name.clone(),
                json!({
                    "type": ["null", "string"],
                    "format": "date-time",
                    "description": "A custom attribute of type date.",
                }),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Records;
    use crate::shape::RecordShape;

    #[test]
    fn custom_date_attributes_become_date_times_and_others_stay() {
        let attributes = Records::from_values(vec![
            json!({"name": "trial_ends_at", "full_name": "custom_attributes.trial_ends_at",
                   "data_type": "date", "custom": true}),
            json!({"name": "seats", "full_name": "custom_attributes.seats",
                   "data_type": "integer", "custom": true}),
            json!({"name": "signed_up_at", "full_name": "signed_up_at",
                   "data_type": "date", "custom": false}),
        ])
        .unwrap();
        let mut attributes = attributes;
        let names = date_names(&attributes.records());
        assert_eq!(names, ["trial_ends_at"]);

        let mut schema = json!({"properties": {"custom_attributes": {"type": ["object", "null"]}}});
        declare(&mut schema, &names);
        assert_eq!(
            schema["properties"]["custom_attributes"]["properties"]["trial_ends_at"]["format"],
            "date-time"
        );
        let shape = RecordShape::new(&schema, Default::default());
        let mut records = Records::from_values(vec![json!({
            "custom_attributes": {"trial_ends_at": 1_717_000_000, "seats": 1_717_000_000}
        })])
        .unwrap();
        let mut record = records.records().remove(0);
        shape.apply(&mut record);
        let shaped: Value = serde_json::from_str(&record.to_json()).unwrap();
        assert_eq!(
            shaped["custom_attributes"],
            json!({"trial_ends_at": "2024-05-29T16:26:40Z", "seats": 1_717_000_000})
        );
    }
}

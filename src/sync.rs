//! The generic sync loop: for each selected stream, fetch pages as its
//! definition says, shape records, emit them, checkpoint.

use serde_json::Value;

use crate::api::Api;
use crate::catalog::Selected;
use crate::error::{Error, Result};
use crate::host::LogLevel;
use crate::record::RecordShape;
use crate::state::State;
use crate::streams::{Pagination, StreamDef};

pub fn run(api: &Api, selected: &[Selected], _state: &mut State) -> Result<()> {
    selected.iter().try_for_each(|s| sync_stream(api, s))
}

fn sync_stream(api: &Api, selection: &Selected) -> Result<()> {
    let stream = selection.stream;
    let mut schema: Value = serde_json::from_str(stream.schema)
        .map_err(|e| Error::internal(format!("{}: bad built-in schema: {e}", stream.name)))?;
    if let Some(properties) = schema["properties"].as_object_mut() {
        properties.retain(|field, _| !selection.excluded_fields.contains(field));
    }
    let keys: Vec<String> = stream
        .key_properties
        .iter()
        .map(|k| k.to_string())
        .collect();
    api.host()
        .schema(stream.name, &schema.to_string(), &keys, &[]);
    let shape = RecordShape::new(&schema, selection.excluded_fields.clone());
    let count = match stream.pagination {
        Pagination::Unpaginated => {
            let page = api.get(stream.path)?;
            emit_page(api, stream, &shape, page)?
        }
    };
    api.host()
        .log(LogLevel::Info, &format!("{}: {count} records", stream.name));
    Ok(())
}

/// Emits the records of one response page; returns how many.
fn emit_page(api: &Api, stream: &StreamDef, shape: &RecordShape, mut page: Value) -> Result<usize> {
    let Value::Array(items) = page[stream.records_key].take() else {
        return Err(Error::api(format!(
            "GET {}: response has no `{}` array",
            stream.path, stream.records_key
        )));
    };
    let mut records = Vec::with_capacity(items.len());
    for item in items {
        let Value::Object(mut object) = item else {
            return Err(Error::api(format!(
                "GET {}: `{}` holds a non-object item",
                stream.path, stream.records_key
            )));
        };
        shape.apply(&mut object);
        records.push(Value::Object(object).to_string());
    }
    let count = records.len();
    api.host().records(stream.name, records);
    Ok(count)
}

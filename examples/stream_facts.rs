//! Prints the stream facts scripts/gen-schemas.py derives schemas from, as
//! JSON, so the generator reads them from `src/streams.rs` itself.

use intercom_connector::streams::{RECORD_HASH_FIELD, STREAMS};
use serde_json::{Value, json};

fn main() {
    let streams: Vec<Value> = STREAMS
        .iter()
        .map(|stream| {
            let parent_fields: Vec<Value> = stream
                .parent_fields()
                .iter()
                .map(|field| {
                    json!({
                        "name": field.name,
                        "from": field.from,
                        "description": field.description,
                    })
                })
                .collect();
            json!({
                "name": stream.name,
                "openapi_schema": stream.openapi_schema,
                "key_properties": stream.key_properties,
                "parent": stream.parent().map(|p| p.name()),
                "parent_fields": parent_fields,
                "record_hash": stream.shaping.record_hash,
                "drop": stream.shaping.drop,
            })
        })
        .collect();
    let facts = json!({ "record_hash_field": RECORD_HASH_FIELD, "streams": streams });
    println!("{facts}");
}

//! Shared by the CLI-level tests: where the release component is, and the
//! primary keys every stream must end up with for a simulator dataset.

#![allow(dead_code)] // each test binary uses a different part of this module

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use intercom_sim::Dataset;
use serde_json::{Value, json};

/// The release component, built by `scripts/build`.
pub fn component() -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../target/wasm32-wasip2/release/intercom_connector.wasm");
    assert!(
        path.is_file(),
        "{} is missing: run scripts/build",
        path.display()
    );
    path
}

/// `_sdc_record_hash` as the README documents it.
pub fn attribute_hash(record: &Value) -> String {
    use sha2::Digest;
    let identity = json!([record["model"], record["full_name"], record["name"]]);
    let digest = sha2::Sha256::digest(serde_json::to_vec(&identity).unwrap());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// A record's primary key as text: `_sdc_record_hash`, else `id`.
pub fn key(record: &Value) -> String {
    let value = record.get("_sdc_record_hash").or_else(|| record.get("id"));
    match value {
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
        None => panic!("a record without a key: {record}"),
    }
}

/// Primary keys per stream of the whole dataset.
pub fn dataset_keys(data: &Dataset) -> BTreeMap<&'static str, BTreeSet<String>> {
    let ids = |records: &[Value]| records.iter().map(key).collect::<BTreeSet<_>>();
    let hashes = |model: &str| {
        data.data_attributes(Some(model), true)
            .iter()
            .map(attribute_hash)
            .collect::<BTreeSet<_>>()
    };
    let mut keys = BTreeMap::new();
    keys.insert("admins", ids(&data.admins));
    keys.insert("teams", ids(&data.teams));
    keys.insert("tags", ids(&data.tags));
    keys.insert("segments", ids(&data.segments));
    keys.insert("companies", ids(&data.companies));
    keys.insert("contacts", ids(&data.contacts));
    keys.insert("conversations", ids(&data.conversations));
    keys.insert("company_attributes", hashes("company"));
    keys.insert("contact_attributes", hashes("contact"));
    let segments: Vec<Value> = data
        .companies
        .iter()
        .flat_map(|c| c["segments"]["segments"].as_array().unwrap().clone())
        .collect();
    keys.insert("company_segments", ids(&segments));
    // What `GET /conversations/{id}` shows: the newest 500 parts at most.
    let parts: Vec<Value> = data
        .conversations
        .iter()
        .flat_map(|c| {
            let full = data
                .conversation_with_parts(c["id"].as_str().unwrap())
                .unwrap();
            full["conversation_parts"]["conversation_parts"]
                .as_array()
                .unwrap()
                .clone()
        })
        .collect();
    keys.insert("conversation_parts", ids(&parts));
    keys
}

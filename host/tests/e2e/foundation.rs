//! The foundation end to end: contract, component, host, simulator.

use crate::support::*;
use intercom_host::{ErrorCategory, NetworkGrant, NetworkPolicy};
use intercom_sim::SimConfig;
use serde_json::{Value, json};

#[test]
fn catalog_selects_streams_and_fields() {
    let sim = start_sim(SimConfig::default());
    let catalog = json!({"streams": [
        {"tap_stream_id": "teams", "metadata": [
            {"breadcrumb": [], "metadata": {"selected": true}},
            {"breadcrumb": ["properties", "admin_ids"], "metadata": {"selected": false}}
        ]},
        {"tap_stream_id": "admins", "metadata": [
            {"breadcrumb": [], "metadata": {"selected": false}}
        ]}
    ]});
    let (out, outcome) = read(&config_for(&sim), Some(&catalog.to_string()), None);
    outcome.expect("sync succeeds");
    assert_eq!(out.schemas.len(), 1);
    let (_, schema, _, _) = &out.schemas[0];
    assert!(schema["properties"].get("admin_ids").is_none());
    let expected: Vec<Value> = sim
        .dataset()
        .teams
        .into_iter()
        .map(|mut t| {
            t.as_object_mut().unwrap().remove("admin_ids");
            t
        })
        .collect();
    assert_eq!(by_key(out.records_of("teams")), by_key(expected));
    assert!(out.records.iter().all(|(s, _)| s == "teams"));
}

#[test]
fn discover_lists_streams_with_singer_metadata() {
    let sim = start_sim(SimConfig::default());
    let catalog: Value = serde_json::from_str(&discover(&config_for(&sim))).unwrap();
    let streams = catalog["streams"].as_array().unwrap();
    let names: Vec<_> = streams
        .iter()
        .map(|s| s["tap_stream_id"].as_str().unwrap())
        .collect();
    assert_eq!(names, ALL_STREAMS);
    for stream in streams
        .iter()
        .filter(|s| ["admins", "tags", "teams"].contains(&s["stream"].as_str().unwrap()))
    {
        assert_eq!(stream["schema"]["type"], "object");
        let top = stream["metadata"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["breadcrumb"] == json!([]))
            .unwrap();
        assert_eq!(top["metadata"]["table-key-properties"], json!(["id"]));
        assert_eq!(top["metadata"]["forced-replication-method"], "FULL_TABLE");
        assert_eq!(top["metadata"]["inclusion"], "available");
    }
}

#[test]
fn rejected_token_is_an_auth_error() {
    let sim = start_sim(SimConfig::default());
    let config = json!({ "access_token": "wrong-token", "base_url": sim.base_url() }).to_string();
    let (out, outcome) = read(&config, None, None);
    let error = outcome.unwrap_err();
    assert_eq!(error.category, ErrorCategory::Auth);
    assert!(error.message.contains("HTTP 401"), "{}", error.message);
    assert!(out.records.is_empty());
    assert!(
        !error.message.contains("wrong"),
        "the token leaked: {}",
        error.message
    );
}

#[test]
fn check_names_the_workspace() {
    let sim = start_sim(SimConfig::default());
    let config = sealed(&config_for(&sim));
    let policy = connector()
        .network_policy(&config, &NetworkGrant::Declared, Collected::default())
        .unwrap()
        .unwrap();
    let description = connector()
        .check(&config, policy, Collected::default())
        .unwrap()
        .unwrap();
    let app_name = sim.dataset().app["name"].as_str().unwrap().to_string();
    assert!(description.contains(&app_name), "{description}");
}

#[test]
fn the_host_refuses_origins_outside_the_policy() {
    let sim = start_sim(SimConfig::default());
    let (out, outcome) = connector()
        .read(
            &sealed(&config_for(&sim)),
            None,
            None,
            NetworkPolicy::deny_all(),
            Collected::default(),
        )
        .unwrap();
    let error = outcome.unwrap_err();
    assert_eq!(error.category, ErrorCategory::Transient);
    assert!(
        error.message.contains("not in the allow-list"),
        "{}",
        error.message
    );
    assert!(out.records.is_empty());
}

#[test]
fn the_component_imports_only_the_world_and_wasi_p2() {
    let engine = wasmtime::Engine::default();
    let component = wasmtime::component::Component::from_file(&engine, component_path()).unwrap();
    let imports: Vec<String> = component
        .component_type()
        .imports(&engine)
        .map(|(name, _)| name.to_string())
        .collect();
    assert!(
        imports.iter().any(|i| i == "connector:source/http@0.3.0"),
        "{imports:?}"
    );
    for import in &imports {
        let allowed = import.starts_with("connector:source/")
            || (import.starts_with("wasi:") && import.contains("@0.2."));
        assert!(allowed, "unexpected import {import}");
    }
    let exports: Vec<String> = component
        .component_type()
        .exports(&engine)
        .map(|(name, _)| name.to_string())
        .collect();
    assert_eq!(exports, ["connector:source/source@0.3.0"]);
}

//! Config, catalog and state are validated whole before anything is sent or
//! committed: each bad document exits 2 with one line naming the file and
//! the field, prints no Singer message and leaves a SQLite replica as it
//! was; what is only suspicious is one warning line and the run goes on.

use std::path::Path;

use rusqlite::Connection;
use serde_json::{Value, json};

use crate::cli::{Fixture, stderr, stdout};

/// The one line a refused run prints, checked to be its only error and to
/// name `file` and `needle`.
fn refused(f: &Fixture, args: &[&str], file: &str, needle: &str) -> String {
    let output = f.run(args);
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(2), "{args:?}: {err}");
    assert!(
        stdout(&output).is_empty(),
        "{args:?} printed Singer messages"
    );
    let errors: Vec<&str> = err.lines().filter(|l| l.starts_with("error: ")).collect();
    assert_eq!(errors.len(), 1, "{args:?}: {err}");
    assert_eq!(err.lines().last(), Some(errors[0]), "{args:?}: {err}");
    assert!(
        errors[0].contains(file) && errors[0].contains(needle),
        "{args:?}: {}",
        errors[0]
    );
    errors[0].to_string()
}

fn state_file(f: &Fixture, name: &str, state: &Value) -> String {
    f.write(name, &state.to_string())
}

#[test]
fn bad_state_catalog_and_config_exit_2_before_the_tap_prints_anything() {
    let f = Fixture::new();
    let config = f.path("config.json");
    let garbage = state_file(
        &f,
        "garbage.json",
        &json!({"version": 1, "bookmarks": {
            "conversations": {"updated_at": "2024-01-01T00:00:00Z"},
            "contacts": {"updated_at": "garbage"}
        }}),
    );
    let far_future = state_file(
        &f,
        "year-9999.json",
        &json!({"version": 1, "bookmarks": {
            "conversations": {"updated_at": "9999-01-01T00:00:00Z"}
        }}),
    );
    let unaccepted = state_file(
        &f,
        "flat.json",
        &json!({"contacts": {"updated_at": "2024-01-01T00:00:00Z"}}),
    );
    let twice = f.write(
        "twice.json",
        &json!({"streams": [
            {"tap_stream_id": "admins"},
            {"tap_stream_id": "contacts"},
            {"tap_stream_id": "admins"}
        ]})
        .to_string(),
    );
    let start_2999 = f.write(
        "start-2999.json",
        &json!({"access_token": "sim-token", "base_url": f.sim.base_url(), "start_date": "2999-01-01"})
            .to_string(),
    );
    let before = f.sim.stats().authenticated;
    refused(
        &f,
        &["--config", &config, "--state", &garbage],
        &garbage,
        "field `bookmarks.contacts.updated_at` must be an RFC 3339 date-time",
    );
    refused(
        &f,
        &["--config", &config, "--state", &far_future],
        &far_future,
        "field `bookmarks.conversations.updated_at` is 9999-01-01T00:00:00Z, more than a day ahead",
    );
    let line = refused(
        &f,
        &["--config", &config, "--state", &unaccepted],
        &unaccepted,
        "field `version` is missing; accepted state forms: ",
    );
    assert!(line.contains(
        r#"{"version": 1, "bookmarks": {STREAM: {FIELD: RFC 3339 date-time}}, "table_versions": {STREAM: {"current": N, "activated": N, "list_cursor": CURSOR, "listed": true}}, "recent": {STREAM: {ID: [UNIX seconds, FINGERPRINT]}}}"#
    ));
    assert!(line.contains(r#"a Singer STATE message {"type": "STATE", "value": <that document>}"#));
    refused(
        &f,
        &["--config", &config, "--catalog", &twice],
        &twice,
        "field `streams[2].tap_stream_id`: stream `admins` is listed twice",
    );
    refused(
        &f,
        &["--config", &start_2999],
        &start_2999,
        "field `start_date` is 2999-01-01T00:00:00Z, more than a day ahead",
    );
    refused(
        &f,
        &["--config", &start_2999, "check"],
        &start_2999,
        "field `start_date`",
    );
    assert_eq!(
        f.sim.stats().authenticated,
        before,
        "a refused run sent requests"
    );
    // The state files are the tap's input only: left as they were.
    let kept: Value = serde_json::from_str(&std::fs::read_to_string(&garbage).unwrap()).unwrap();
    assert_eq!(kept["bookmarks"]["contacts"]["updated_at"], "garbage");
}

#[test]
fn unknown_config_keys_and_missing_fields_warn_one_line_each_and_the_run_goes_on() {
    let f = Fixture::new();
    let config = f.write(
        "extra.json",
        &json!({
            "access_token": "sim-token",
            "base_url": f.sim.base_url(),
            "acces_token": "typo",
            "colour": "blue"
        })
        .to_string(),
    );
    let catalog = f.write(
        "fields.json",
        &json!({"streams": [{"tap_stream_id": "tags", "metadata": [
            {"breadcrumb": [], "metadata": {"selected": true}},
            {"breadcrumb": ["properties", "name"], "metadata": {"selected": true}},
            {"breadcrumb": ["properties", "colour"], "metadata": {"selected": true}}
        ]}]})
        .to_string(),
    );
    let output = f.run(&["--config", &config, "--catalog", &catalog]);
    let err = stderr(&output);
    assert!(output.status.success(), "{err}");
    let warnings: Vec<&str> = err.lines().filter(|l| l.contains("WARN")).collect();
    assert_eq!(warnings.len(), 2, "{err}");
    assert!(
        warnings[0].ends_with("config: unknown keys `acces_token`, `colour` ignored"),
        "{err}"
    );
    assert!(
        warnings[1].ends_with(
            "catalog: stream `tags` selects `colour` that its schema does not have; ignored"
        ),
        "{err}"
    );
    let tags = stdout(&output)
        .lines()
        .filter(|l| l.contains(r#""type":"RECORD""#))
        .count();
    assert_eq!(tags, f.sim.dataset().tags.len());
}

/// Every row of every table, to show a refused run changed nothing.
fn dump(db: &Path) -> Vec<(String, Vec<String>)> {
    let conn = Connection::open(db).unwrap();
    let mut tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    tables.retain(|t| t != "sqlite_sequence");
    tables
        .into_iter()
        .map(|table| {
            let mut statement = conn
                .prepare(&format!("SELECT * FROM \"{table}\" ORDER BY rowid"))
                .unwrap();
            let columns = statement.column_count();
            let rows = statement
                .query_map([], |row| {
                    let values: Vec<String> = (0..columns)
                        .map(|i| format!("{:?}", row.get_ref(i).unwrap()))
                        .collect();
                    Ok(values.join("|"))
                })
                .unwrap()
                .map(Result::unwrap)
                .collect();
            (table, rows)
        })
        .collect()
}

#[test]
fn a_refused_sync_commits_nothing_to_the_database() {
    let f = Fixture::new();
    let config = f.path("config.json");
    let db = f.path("intercom.db");
    let catalog = f.write(
        "catalog.json",
        &json!({"streams": [
            {"tap_stream_id": "admins"},
            {"tap_stream_id": "contacts"},
            {"tap_stream_id": "conversations"}
        ]})
        .to_string(),
    );
    let first = f.run(&[
        "--config",
        &config,
        "--catalog",
        &catalog,
        "sync",
        "--database",
        &db,
    ]);
    assert!(first.status.success(), "{}", stderr(&first));
    // A garbage contacts bookmark: admins, synced first, must not commit either.
    {
        let conn = Connection::open(&db).unwrap();
        let state: String = conn
            .query_row("SELECT state FROM _connector_state", [], |r| r.get(0))
            .unwrap();
        let mut state: Value = serde_json::from_str(&state).unwrap();
        assert!(state["bookmarks"]["contacts"]["updated_at"].is_string());
        state["bookmarks"]["contacts"]["updated_at"] = json!("garbage");
        conn.execute(
            "UPDATE _connector_state SET state = ?1",
            [state.to_string()],
        )
        .unwrap();
    }
    let before = dump(Path::new(&db));
    let twice = f.write(
        "twice.json",
        &json!({"streams": [{"tap_stream_id": "tags"}, {"tap_stream_id": "tags"}]}).to_string(),
    );
    let start_2999 = f.write(
        "start-2999.json",
        &json!({"access_token": "sim-token", "base_url": f.sim.base_url(), "start_date": "2999-01-01"})
            .to_string(),
    );
    let requests = f.sim.stats().authenticated;
    refused(
        &f,
        &["--config", &config, "sync", "--database", &db],
        &db,
        "field `bookmarks.contacts.updated_at` must be an RFC 3339 date-time",
    );
    refused(
        &f,
        &[
            "--config",
            &config,
            "--catalog",
            &twice,
            "sync",
            "--database",
            &db,
        ],
        &twice,
        "stream `tags` is listed twice",
    );
    refused(
        &f,
        &["--config", &start_2999, "sync", "--database", &db],
        &start_2999,
        "field `start_date`",
    );
    assert_eq!(f.sim.stats().authenticated, requests);
    assert_eq!(dump(Path::new(&db)), before);
}

//! Deletes through Singer into a stock target: two tap runs of every stream,
//! with deletes, merges, archives and updates between them, piped into
//! MeltanoLabs' `target-postgres` from PyPI (`hard_delete: true`), end with
//! the same live rows as two `sync`s of the same simulator into SQLite. A
//! row the target marks deleted (`_sdc_deleted_at` set: how it keeps a
//! tombstoned record) counts as deleted; the parts of a deleted
//! conversation are deleted by `conversation_id` as the README tells Singer
//! users to.
//!
//! Needs the PostgreSQL server at `INTERCOM_TEST_POSTGRES` (`127.0.0.1:PORT`,
//! user `postgres`; `scripts/test` starts one with `scripts/postgres`):
//! without it the test is skipped with a notice, except under `CI=true`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

use intercom_sim::{SimConfig, Simulator};
use rusqlite::Connection;
use serde_json::{Value, json};

use crate::singer_target::{load, messages, venv};
use crate::sqlite::FULL_TABLE;
use crate::support::{
    ALL_STREAMS, INDEX_LAG, cli, dataset_keys, key, key_column, root, wait_for_index,
};
use crate::table_versions::shape_of;

/// The shared server's host and port; `None` (after a notice) without one.
fn server() -> Option<(String, u16)> {
    let Ok(address) = std::env::var("INTERCOM_TEST_POSTGRES") else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "INTERCOM_TEST_POSTGRES is not set: scripts/test starts the server (scripts/postgres start)"
        );
        eprintln!(
            "notice: postgres::* skipped: no INTERCOM_TEST_POSTGRES (127.0.0.1:PORT of a server scripts/postgres started)"
        );
        return None;
    };
    let (host, port) = address
        .rsplit_once(':')
        .unwrap_or_else(|| panic!("INTERCOM_TEST_POSTGRES={address}: not HOST:PORT"));
    assert_eq!(host, "127.0.0.1", "the tests use loopback only");
    Some((host.to_string(), port.parse().unwrap()))
}

/// A tap run (`--config`, and `--state` when given) into `dir/<name>.jsonl`,
/// loaded into target-postgres; returns the messages and the last state.
fn tap_into_target(
    dir: &Path,
    name: &str,
    state: Option<&Value>,
    target: &Value,
) -> (Vec<Value>, Value) {
    let out = dir.join(format!("{name}.jsonl"));
    let mut tap = cli();
    tap.arg("--config").arg(dir.join("config.json"));
    if let Some(state) = state {
        let path = dir.join(format!("{name}-state.json"));
        std::fs::write(&path, state.to_string()).unwrap();
        tap.arg("--state").arg(path);
    }
    let output = tap
        .stdout(std::fs::File::create(&out).unwrap())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{name}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    load("postgres", target, &out, dir);
    let sent: Vec<Value> = messages(&out).collect();
    let last = sent.iter().rev().find(|m| m["type"] == "STATE").unwrap();
    let state = last["value"].clone();
    (sent, state)
}

fn sync_sqlite(dir: &Path) {
    let output = cli()
        .arg("--config")
        .arg(dir.join("config.json"))
        .args(["sync", "--database"])
        .arg(dir.join("replica.db"))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The key column and the compared columns of `stream`: `updated_at`, and
/// the fields the simulator's updates change, where the schema has them.
fn columns_of(stream: &str) -> (&'static str, Vec<&'static str>) {
    let path = root().join(format!("src/schemas/{stream}.json"));
    let schema: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let properties = &schema["properties"];
    let key = key_column(stream);
    let compared = ["updated_at", "last_seen_at", "read", "name"]
        .into_iter()
        .filter(|c| properties.get(*c).is_some())
        .collect();
    (key, compared)
}

/// Rows by key of every stream, the compared columns as text (date-times as
/// RFC 3339, booleans as 0 and 1, as SQLite holds them).
type Tables = BTreeMap<String, BTreeMap<String, Vec<Option<String>>>>;

/// The live rows of every stream in the target's `schema`: those not marked
/// deleted (under `hard_delete` the others are gone).
fn postgres_rows(venv: &Path, (host, port): &(String, u16), schema: &str) -> Tables {
    const QUERY: &str = r#"import datetime, json, sys, psycopg
host, port, schema, spec = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
utc = datetime.timezone.utc
def text(v):
    if v is None:
        return None
    if isinstance(v, bool):
        return str(int(v))
    if isinstance(v, datetime.datetime):
        v = v.replace(tzinfo=utc) if v.tzinfo is None else v.astimezone(utc)
        return v.strftime('%Y-%m-%dT%H:%M:%SZ')
    return str(v)
tables = {}
with psycopg.connect(host=host, port=port, user='postgres', dbname='postgres') as db:
    for stream, key, columns in spec:
        cols = ', '.join(f'"{c}"' for c in [key] + columns)
        rows = db.execute(f'SELECT {cols} FROM "{schema}"."{stream}" WHERE _sdc_deleted_at IS NULL').fetchall()
        tables[stream] = {str(r[0]): [text(v) for v in r[1:]] for r in rows}
print(json.dumps(tables))"#;
    let spec: Vec<Value> = ALL_STREAMS
        .into_iter()
        .map(|s| {
            let (key, columns) = columns_of(s);
            json!([s, key, columns])
        })
        .collect();
    let spec = Value::from(spec).to_string();
    let output = python(venv, QUERY, &[host, &port.to_string(), schema, &spec]);
    serde_json::from_value(output).unwrap()
}

/// Runs `sql` on the server (the target's venv has psycopg).
fn execute(venv: &Path, (host, port): &(String, u16), sql: &str) -> Value {
    const RUN: &str = r#"import json, sys, psycopg
with psycopg.connect(host=sys.argv[1], port=sys.argv[2], user='postgres', dbname='postgres', autocommit=True) as db:
    cur = db.execute(sys.argv[3])
    print(json.dumps(cur.fetchall() if cur.description else cur.rowcount))"#;
    python(venv, RUN, &[host, &port.to_string(), sql])
}

/// The JSON `script` prints, run by the target venv's python with `args`.
fn python(venv: &Path, script: &str, args: &[&str]) -> Value {
    let output = Command::new(venv.join("bin/python"))
        .args(["-c", script])
        .args(args)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

fn sqlite_rows(db: &Path) -> Tables {
    let conn = Connection::open(db).unwrap();
    let mut tables = Tables::new();
    for stream in ALL_STREAMS {
        let (key, columns) = columns_of(stream);
        let cols: Vec<String> = std::iter::once(key)
            .chain(columns.iter().copied())
            .map(|c| format!("CAST(\"{c}\" AS TEXT)"))
            .collect();
        let sql = format!("SELECT {} FROM {stream}", cols.join(", "));
        let mut statement = conn.prepare(&sql).unwrap();
        let rows = statement
            .query_map([], |r| {
                let values = (1..=columns.len())
                    .map(|i| r.get(i))
                    .collect::<Result<_, _>>()?;
                Ok((r.get::<_, String>(0)?, values))
            })
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        tables.insert(stream.to_string(), rows);
    }
    tables
}

fn id_at(records: &[Value], i: usize) -> String {
    records[i]["id"].as_str().unwrap().to_string()
}

#[test]
fn deletes_through_singer_into_target_postgres_match_the_sqlite_replica() {
    let Some(server) = server() else { return };
    let sim = Simulator::start(SimConfig {
        contacts: 60,
        companies: 20,
        conversations: 40,
        huge_conversations: 0,
        index_lag: INDEX_LAG,
        ..SimConfig::default()
    })
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = json!({"access_token": "sim-token", "base_url": sim.base_url(),
        "complete_pass_interval_hours": 0});
    std::fs::write(dir.path().join("config.json"), config.to_string()).unwrap();
    let schema = format!("e2e_deletes_{}", std::process::id());
    let target = json!({"host": server.0, "port": server.1, "user": "postgres",
        "password": "unused", "database": "postgres", "default_target_schema": schema,
        "hard_delete": true, "add_record_metadata": true, "activate_version": true});
    let venv = venv("postgres");
    execute(
        &venv,
        &server,
        &format!("DROP SCHEMA IF EXISTS {schema} CASCADE"),
    );

    let (first, state) = tap_into_target(dir.path(), "first", None, &target);
    sync_sqlite(dir.path());

    // Upstream: two conversations with parts deleted, a contact deleted, a
    // lead merged into a user, a contact archived, two companies deleted, a
    // tag and a team gone (full-table), and a contact, a company and a
    // conversation updated, a part added.
    let now = sim.now();
    let data = sim.dataset();
    let gone_conversations = [id_at(&data.conversations, 0), id_at(&data.conversations, 1)];
    for id in &gone_conversations {
        let parts =
            data.conversation_with_parts(id).unwrap()["conversation_parts"]["conversation_parts"]
                .as_array()
                .unwrap()
                .len();
        assert!(parts > 0, "conversation {id} has parts");
    }
    let lead = data.contacts.iter().find(|c| c["role"] == "lead").unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let user = data.contacts.iter().find(|c| c["role"] == "user").unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (deleted, archived, updated) = (
        id_at(&data.contacts, 10),
        id_at(&data.contacts, 11),
        id_at(&data.contacts, 12),
    );
    assert!(
        [&deleted, &archived, &updated]
            .iter()
            .all(|c| **c != lead && **c != user)
    );
    let gone_companies = [id_at(&data.companies, 3), id_at(&data.companies, 4)];
    let updated_company = id_at(&data.companies, 5);
    let updated_conversation = id_at(&data.conversations, 6);
    let (gone_tag, gone_team) = sim.mutate(|d| {
        for id in &gone_conversations {
            assert!(d.delete_conversation(id));
        }
        assert!(d.delete_contact(&deleted));
        assert!(d.merge_contact(&lead, &user, now));
        assert!(d.archive_contact(&archived));
        for id in &gone_companies {
            assert!(d.delete_company(id));
        }
        d.update_contact(&updated, now).unwrap();
        d.update_company(&updated_company, now).unwrap();
        d.update_conversation(&updated_conversation, now).unwrap();
        d.add_conversation_part(&updated_conversation, now).unwrap();
        let tag = d.tags.remove(0)["id"].as_str().unwrap().to_string();
        let team = key(&d.teams.pop().unwrap());
        (tag, team)
    });
    wait_for_index();

    let (second, _) = tap_into_target(dir.path(), "second", Some(&state), &target);
    sync_sqlite(dir.path());

    // The second run's tombstones: exactly the deleted conversations.
    let tombstones: BTreeMap<String, String> = second
        .iter()
        .filter(|m| m["type"] == "RECORD" && m["record"].get("_sdc_deleted_at").is_some())
        .map(|m| {
            assert_eq!(m["stream"], "conversations", "{m}");
            let record = &m["record"];
            (
                record["id"].as_str().unwrap().into(),
                record["_sdc_deleted_at"].to_string(),
            )
        })
        .collect();
    assert_eq!(
        tombstones.keys().cloned().collect::<BTreeSet<_>>(),
        BTreeSet::from(gone_conversations.clone())
    );
    // ACTIVATE_VERSION for the full-table streams and the complete passes:
    // after the last record, and before the first only on the first load.
    let whole: BTreeSet<&str> = FULL_TABLE
        .into_iter()
        .chain(["companies", "contacts"])
        .collect();
    for (run, first_load) in [(&first, true), (&second, false)] {
        let activated: BTreeSet<&str> = run
            .iter()
            .filter(|m| m["type"] == "ACTIVATE_VERSION")
            .map(|m| m["stream"].as_str().unwrap())
            .collect();
        assert_eq!(activated, whole, "first load: {first_load}");
        for stream in &whole {
            let version = run
                .iter()
                .find(|m| m["type"] == "ACTIVATE_VERSION" && m["stream"] == *stream)
                .unwrap()["version"]
                .clone();
            let mut expected = vec!["SCHEMA:null".to_string()];
            if first_load {
                expected.push(format!("ACTIVATE_VERSION:{version}"));
            }
            expected.push(format!("RECORD:{version}"));
            expected.push(format!("ACTIVATE_VERSION:{version}"));
            assert_eq!(
                shape_of(run, stream),
                expected,
                "{stream}, first load: {first_load}"
            );
        }
    }

    // The target keeps a tombstoned conversation as a row marked deleted,
    // and its parts unmarked, which the README's statement then deletes.
    let marked = execute(
        &venv,
        &server,
        &format!(
            "SELECT id FROM {schema}.conversations WHERE _sdc_deleted_at IS NOT NULL ORDER BY id"
        ),
    );
    let mut gone_sorted = gone_conversations.to_vec();
    gone_sorted.sort();
    assert_eq!(
        marked,
        json!(gone_sorted.iter().map(|id| [id]).collect::<Vec<_>>())
    );
    let kept_parts = execute(
        &venv,
        &server,
        &format!(
            "SELECT count(*) FROM {schema}.conversation_parts WHERE conversation_id IN ('{}')",
            gone_conversations.join("', '")
        ),
    );
    assert!(kept_parts[0][0].as_i64().unwrap() > 0, "{kept_parts}");
    let deleted_parts = execute(
        &venv,
        &server,
        &format!(
            "DELETE FROM {schema}.conversation_parts WHERE conversation_id IN (SELECT id FROM {schema}.conversations WHERE _sdc_deleted_at IS NOT NULL)"
        ),
    );
    assert_eq!(deleted_parts, kept_parts[0][0]);

    // Live rows: PostgreSQL's equal the SQLite replica's, key for key and
    // value for value, and the keys are the simulator's.
    let postgres = postgres_rows(&venv, &server, &schema);
    let sqlite = sqlite_rows(&dir.path().join("replica.db"));
    let keys = dataset_keys(&sim.dataset());
    for stream in ALL_STREAMS {
        let (pg, lite) = (&postgres[stream], &sqlite[stream]);
        let differing: Vec<_> = lite
            .iter()
            .filter(|(k, v)| pg.get(*k) != Some(v))
            .chain(pg.iter().filter(|(k, _)| !lite.contains_key(*k)))
            .take(5)
            .collect();
        assert!(
            differing.is_empty(),
            "{stream}: rows differing between PostgreSQL and SQLite (SQLite's, or PostgreSQL's extra): {differing:?}"
        );
        let lite_keys: BTreeSet<String> = lite.keys().cloned().collect();
        assert_eq!(
            lite_keys, keys[stream],
            "{stream}: the SQLite replica's keys"
        );
    }
    let contacts = &postgres["contacts"];
    for id in [&deleted, &lead, &archived] {
        assert!(!contacts.contains_key(id), "contact {id} is live");
    }
    let (_, contact_columns) = columns_of("contacts");
    let seen = contact_columns
        .iter()
        .position(|c| *c == "last_seen_at")
        .unwrap();
    let stamp = chrono::DateTime::from_timestamp(now, 0)
        .unwrap()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    assert_eq!(contacts[&updated][seen].as_deref(), Some(stamp.as_str()));
    assert!(
        gone_companies
            .iter()
            .all(|id| !postgres["companies"].contains_key(id))
    );
    assert!(!postgres["tags"].contains_key(&gone_tag));
    assert!(!postgres["teams"].contains_key(&gone_team));

    execute(&venv, &server, &format!("DROP SCHEMA {schema} CASCADE"));
}

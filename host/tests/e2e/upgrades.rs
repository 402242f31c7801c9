//! Upgrades: a replica in the first release's layout keeps syncing, and
//! `sync --reset` starts one stream over.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::support::component_path;
use intercom_sim::{SimConfig, Simulator};
use rusqlite::Connection;
use serde_json::{Value, json};

struct Replica {
    dir: tempfile::TempDir,
    sim: Simulator,
}

impl Replica {
    fn new() -> Self {
        let replica = Self {
            dir: tempfile::tempdir().unwrap(),
            sim: Simulator::start(SimConfig::default()).unwrap(),
        };
        let config = json!({"access_token": "sim-token", "base_url": replica.sim.base_url()});
        std::fs::write(replica.path("config.json"), config.to_string()).unwrap();
        replica
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn sync(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_intercom-connector"))
            .arg("--config")
            .arg(self.path("config.json"))
            .arg("--component")
            .arg(component_path())
            .arg("--cache-dir")
            .arg(self.path("cache"))
            .args(["sync", "--database"])
            .arg(self.path("intercom.db"))
            .args(["--streams", "contacts,tags"])
            .args(args)
            .output()
            .unwrap()
    }

    fn db(&self) -> Connection {
        Connection::open(self.path("intercom.db")).unwrap()
    }
}

fn count(conn: &Connection, sql: &str) -> i64 {
    conn.query_row(sql, [], |r| r.get(0)).unwrap()
}

fn ok(output: &Output) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "{stderr}");
    stderr
}

fn state(conn: &Connection) -> Value {
    let text: String = conn
        .query_row("SELECT state FROM _connector_state", [], |r| r.get(0))
        .unwrap();
    serde_json::from_str(&text).unwrap()
}

/// Takes a replica back to the layout the first release (dcbc5eb) wrote:
/// no `user_version`, no `_connector_runs.reset`.
fn as_first_release(path: &Path) {
    let conn = Connection::open(path).unwrap();
    conn.execute_batch("ALTER TABLE _connector_runs DROP COLUMN reset; PRAGMA user_version = 0;")
        .unwrap();
}

#[test]
fn a_first_release_replica_migrates_and_resumes_incrementally() {
    let replica = Replica::new();
    ok(&replica.sync(&[]));
    as_first_release(&replica.path("intercom.db"));
    let contacts = count(&replica.db(), "SELECT count(*) FROM contacts");
    let bookmark = state(&replica.db())["bookmarks"]["contacts"].clone();
    assert!(bookmark.is_object(), "{bookmark}");

    ok(&replica.sync(&[]));
    let conn = replica.db();
    assert_eq!(count(&conn, "PRAGMA user_version"), 1);
    assert_eq!(count(&conn, "SELECT count(*) FROM contacts"), contacts);
    // Resumed from its bookmark: the second run rewrote few contacts.
    let last_run = count(&conn, "SELECT max(id) FROM _connector_runs");
    let rewritten = count(
        &conn,
        &format!("SELECT count(*) FROM contacts WHERE _sdc_run_id = {last_run}"),
    );
    assert!(rewritten < contacts, "{rewritten} of {contacts} rewritten");
}

#[test]
fn a_reset_starts_one_stream_over_and_drops_rows_it_did_not_write() {
    let replica = Replica::new();
    ok(&replica.sync(&[]));
    let conn = replica.db();
    let contacts = count(&conn, "SELECT count(*) FROM contacts");
    // A contact deleted upstream since it was copied.
    conn.execute_batch("INSERT INTO contacts (id, _sdc_run_id) VALUES ('gone-upstream', 1);")
        .unwrap();
    drop(conn);

    let stderr = ok(&replica.sync(&["--reset", "contacts"]));
    assert!(stderr.contains("starting over: contacts"), "{stderr}");
    // Not a terminal: no live display, plain lines only.
    assert!(stderr.contains("sync finished"), "{stderr}");
    assert!(
        !stderr.contains('\x1b') && !stderr.contains('\r'),
        "{stderr:?}"
    );
    let conn = replica.db();
    assert_eq!(count(&conn, "SELECT count(*) FROM contacts"), contacts);
    let last_run = count(&conn, "SELECT max(id) FROM _connector_runs");
    // Every contact was read again, and the reset is in the run history.
    assert_eq!(
        count(
            &conn,
            &format!("SELECT count(*) FROM contacts WHERE _sdc_run_id = {last_run}")
        ),
        contacts
    );
    let reset: String = conn
        .query_row(
            "SELECT reset FROM _connector_runs WHERE id = ?1",
            [last_run],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(reset, "contacts");
    assert!(state(&conn)["bookmarks"]["contacts"].is_object());

    let unknown = replica.sync(&["--reset", "contact"]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("--reset: unknown stream `contact`"));
}

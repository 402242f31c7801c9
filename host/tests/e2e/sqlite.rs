//! `intercom-connector sync` as a data engineer runs it: the real binary and
//! release component against the real simulator, into a real SQLite file.

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::support::{
    ALL_STREAMS, assert_replica, cli_running, component_cache, component_path, dataset_keys,
    dropped_parts, key_column, realistic, wait_for_index, warned_dropped_parts,
};
use intercom_sim::{Dataset, Fault, FaultRule, SimConfig, Simulator};
use rusqlite::{Connection, OpenFlags};
use serde_json::{Value, json};

pub(crate) const FULL_TABLE: [&str; 12] = [
    "admins",
    "company_attributes",
    "company_segments",
    "contact_attributes",
    "conversation_attributes",
    "help_centers",
    "segments",
    "subscription_types",
    "tags",
    "teams",
    "ticket_states",
    "ticket_types",
];

struct Fixture {
    dir: tempfile::TempDir,
    sim: Simulator,
}

impl Fixture {
    fn new(config: SimConfig) -> Self {
        let fixture = Self {
            dir: tempfile::tempdir().unwrap(),
            sim: Simulator::start(config).unwrap(),
        };
        let config = json!({"access_token": "sim-token", "base_url": fixture.sim.base_url()});
        std::fs::write(fixture.path("config.json"), config.to_string()).unwrap();
        fixture
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn db(&self) -> PathBuf {
        self.path("intercom.db")
    }

    fn command(&self, args: &[&str]) -> Command {
        let component = component_path();
        let mut command = cli_running(&component, component_cache());
        command
            .arg("--config")
            .arg(self.path("config.json"))
            .args(args);
        command
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    /// A sync into the fixture's database that must succeed.
    fn sync(&self, extra: &[&str]) -> Output {
        let db = self.db();
        let mut args = vec!["sync", "--database", db.to_str().unwrap()];
        args.extend(extra);
        let output = self.run(&args);
        assert!(output.status.success(), "{}", stderr(&output));
        output
    }

    /// A sync into `db` in the background, its log into `log`.
    fn spawn_sync(&self, db: &Path, log: &Path) -> Child {
        self.command(&["sync", "--database", db.to_str().unwrap()])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(log).unwrap())
            .spawn()
            .unwrap()
    }

    fn open(&self) -> Connection {
        open(&self.db())
    }
}

fn open(db: &Path) -> Connection {
    let conn = Connection::open(db).unwrap();
    conn.busy_timeout(Duration::from_secs(5)).unwrap();
    conn
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Keys of a table (its primary key: no duplicates).
fn table_keys(conn: &Connection, stream: &str) -> BTreeSet<String> {
    let sql = format!("SELECT CAST({} AS TEXT) FROM {stream}", key_column(stream));
    let Ok(mut statement) = conn.prepare(&sql) else {
        return BTreeSet::new(); // not created yet
    };
    statement
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// The database is the dataset, row by row.
fn assert_copy_of(conn: &Connection, data: &Dataset) {
    let excepted = assert_replica(conn, data, "the copy");
    assert_eq!(excepted, 0, "parts beyond the newest 500 of unchanged data");
}

fn rfc3339(unix: &Value) -> String {
    chrono::DateTime::from_timestamp(unix.as_i64().unwrap(), 0)
        .unwrap()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// One column of one row, as SQLite holds it: (typeof, value as text).
fn cell(conn: &Connection, table: &str, column: &str, id: &str) -> (String, Option<String>) {
    let sql = format!("SELECT typeof({column}), CAST({column} AS TEXT) FROM {table} WHERE id = ?1");
    conn.query_row(&sql, [id], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
}

#[test]
fn sync_makes_a_typed_copy_and_a_second_sync_applies_exactly_the_changes() {
    let f = Fixture::new(realistic());
    let output = f.sync(&[]);
    let summary = stderr(&output);
    assert!(summary.contains("sync finished"), "{summary}");
    assert!(summary.contains("requests"), "{summary}");
    let data = f.sim.dataset();
    let conn = f.open();
    assert_copy_of(&conn, &data);

    // Typed columns: booleans as 0/1, date-times as RFC 3339 text, nested
    // values as JSON text.
    let admin = &data.admins[0];
    let id = admin["id"].as_str().unwrap();
    let away = cell(&conn, "admins", "away_mode_enabled", id);
    let expected = i64::from(admin["away_mode_enabled"].as_bool().unwrap()).to_string();
    assert_eq!(away, ("integer".into(), Some(expected)));
    let (kind, teams) = cell(&conn, "admins", "team_ids", id);
    assert_eq!(kind, "text");
    assert_eq!(
        serde_json::from_str::<Value>(&teams.unwrap()).unwrap(),
        admin["team_ids"]
    );
    let contact = &data.contacts[7];
    let id = contact["id"].as_str().unwrap();
    let created = cell(&conn, "contacts", "created_at", id);
    assert_eq!(
        created,
        ("text".into(), Some(rfc3339(&contact["created_at"])))
    );
    let (_, custom) = cell(&conn, "contacts", "custom_attributes", id);
    let emitted = crate::support::expected("contacts", &data)
        .into_iter()
        .find(|c| c["id"] == id)
        .unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(&custom.unwrap()).unwrap(),
        emitted["custom_attributes"]
    );
    let conversation = &data.conversations[3];
    let id = conversation["id"].as_str().unwrap();
    let read = cell(&conn, "conversations", "read", id);
    let expected = i64::from(conversation["read"].as_bool().unwrap()).to_string();
    assert_eq!(read, ("integer".into(), Some(expected)));
    let state: String = conn
        .query_row("SELECT state FROM _connector_state", [], |r| r.get(0))
        .unwrap();
    let state: Value = serde_json::from_str(&state).unwrap();
    assert!(state["bookmarks"]["contacts"]["updated_at"].is_string());

    // Upstream changes: an updated contact, a new company, a tag and an
    // admin deleted (full-table streams), a tag added.
    let now = f.sim.now();
    let (updated, company, gone_tag, gone_admin, new_tag) = f.sim.mutate(|d| {
        let updated = d.update_contact(contact["id"].as_str().unwrap(), now);
        let company = d.create_company(now);
        let gone_tag = d.tags.remove(0)["id"].as_str().unwrap().to_string();
        let gone_admin = d.admins.pop().unwrap()["id"].as_str().unwrap().to_string();
        let mut tag = d.tags[0].clone();
        tag["id"] = json!("99999999");
        tag["name"] = json!("added later");
        d.tags.push(tag);
        (updated.unwrap(), company, gone_tag, gone_admin, "99999999")
    });
    wait_for_index();
    f.sync(&[]);
    let data = f.sim.dataset();
    assert_copy_of(&conn, &data);
    let seen = cell(&conn, "contacts", "last_seen_at", &updated);
    assert_eq!(seen.1, Some(rfc3339(&json!(now))));
    assert!(table_keys(&conn, "companies").contains(&company));
    assert!(!table_keys(&conn, "tags").contains(&gone_tag));
    assert!(!table_keys(&conn, "admins").contains(&gone_admin));
    assert_eq!(
        cell(&conn, "tags", "name", new_tag).1.as_deref(),
        Some("added later")
    );
    let runs: i64 = conn
        .query_row(
            "SELECT count(*) FROM _connector_runs WHERE finished_at IS NOT NULL",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(runs, 2);
}

/// The id of the last run recorded in the database, 0 for none.
fn last_run(conn: &Connection) -> i64 {
    conn.query_row(
        "SELECT coalesce(max(id), 0) FROM _connector_runs",
        [],
        |r| r.get(0),
    )
    .unwrap_or(0)
}

/// Rows runs after `run` have committed to `stream`.
fn committed_after(conn: &Connection, run: i64, stream: &str) -> usize {
    let sql = format!("SELECT count(*) FROM {stream} WHERE _sdc_run_id > ?1");
    conn.query_row(&sql, [run], |r| r.get::<_, i64>(0))
        .map_or(0, |n| n as usize)
}

fn row_counts(conn: &Connection) -> BTreeMap<String, i64> {
    ALL_STREAMS
        .iter()
        .filter_map(|stream| {
            let sql = format!("SELECT count(*) FROM {stream}");
            let n = conn.query_row(&sql, [], |r| r.get(0)).ok()?;
            Some((stream.to_string(), n))
        })
        .collect()
}

/// SIGKILL a sync once it has committed this many rows of this stream.
type KillPoint = (&'static str, usize);

/// Each chain starts from an empty database; each of its syncs is killed at
/// its kill point and the next resumes from the same database; a last sync
/// completes the chain. The points of a chain come in the order the streams
/// are read, each within what its sync still has to commit after the kills
/// before it, so every one lands.
const KILL_CHAINS: &[&[KillPoint]] = &[
    &[
        ("activity_logs", 1),
        ("admins", 1),
        ("companies", 1),
        ("contacts", 1),
        ("conversations", 1),
        ("conversation_parts", 1),
        ("segments", 1),
        ("tags", 1),
        ("teams", 1),
    ],
    &[
        ("articles", 1),
        ("company_segments", 1),
        ("company_attributes", 1),
        ("contact_attributes", 1),
        ("contacts", 300),
        ("conversations", 150),
        ("help_center_collections", 1),
        ("tickets", 1),
    ],
    &[
        ("companies", 120),
        ("contacts", 600),
        ("conversation_parts", 1500),
        ("ticket_parts", 1),
    ],
    &[("conversations", 300), ("ticket_types", 1)],
];

/// A sync into `db`, SIGKILLed at `kill` if given: then it must have been
/// running when the kill reached it. Returns what it logged.
fn sync_killed_at(f: &Fixture, db: &Path, kill: Option<KillPoint>) -> String {
    let log = f.path("sync.log");
    let before = if db.exists() { last_run(&open(db)) } else { 0 };
    let mut child = f.spawn_sync(db, &log);
    let started = Instant::now();
    // Opened once the sync has created the database, which it makes 0600.
    let mut conn = None;
    loop {
        if conn.is_none() {
            conn = Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_ONLY).ok();
        }
        if let Some((stream, at)) = kill
            && let Some(conn) = &conn
            && committed_after(conn, before, stream) >= at
        {
            assert!(
                child.try_wait().unwrap().is_none(),
                "{stream} {at}: the sync had ended"
            );
            child.kill().unwrap(); // SIGKILL: no cleanup
            let status = child.wait().unwrap();
            assert_eq!(status.signal(), Some(9), "{stream} {at}: {status}");
            break;
        }
        if let Some(status) = child.try_wait().unwrap() {
            assert!(kill.is_none(), "{kill:?}: the sync ended before it");
            assert!(status.success(), "an unkilled sync failed: {status}");
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(120), "sync hangs");
        std::thread::sleep(Duration::from_millis(3));
    }
    std::fs::read_to_string(log).unwrap()
}

#[test]
fn killed_syncs_resume_from_the_database_and_end_with_an_exact_copy() {
    // A killed run leaves its scroll open until it expires; keep that short.
    let f = Fixture::new(SimConfig {
        scroll_expiry: Duration::from_secs(1),
        contacts: 800,
        companies: 200,
        conversations: 400,
        // Three pages: work is left after the first page's parts commit.
        tickets: 400,
        ..SimConfig::default()
    });
    let data = f.sim.dataset();
    let dropped = dropped_parts(&data);
    assert!(
        !dropped.is_empty(),
        "a conversation has parts beyond the newest 500"
    );
    let mut kills = 0;
    for (n, chain) in KILL_CHAINS.iter().enumerate() {
        let db = f.path(&format!("chain-{n}.db"));
        let mut logs = String::new();
        let mut before = BTreeMap::new();
        for &point in chain.iter() {
            logs += &sync_killed_at(&f, &db, Some(point));
            kills += 1;
            // A kill never takes committed rows away.
            let after = row_counts(&open(&db));
            for (table, n) in &before {
                assert!(
                    after[table] >= *n,
                    "{table} lost rows: {n} -> {}",
                    after[table]
                );
            }
            before = after;
        }
        logs += &sync_killed_at(&f, &db, None);
        let conn = open(&db);
        assert_copy_of(&conn, &data);
        assert_eq!(
            warned_dropped_parts(&logs),
            dropped,
            "chain {n}: parts left out"
        );
        let runs: i64 = conn
            .query_row("SELECT count(*) FROM _connector_runs", [], |r| r.get(0))
            .unwrap();
        assert_eq!(runs as usize, chain.len() + 1, "chain {n}: runs");
    }
    let points: usize = KILL_CHAINS.iter().map(|c| c.len()).sum();
    assert_eq!(kills, points);
}

#[test]
fn a_kill_during_full_table_streams_keeps_their_committed_rows() {
    let f = Fixture::new(SimConfig {
        scroll_expiry: Duration::from_secs(1),
        ..SimConfig::default()
    });
    f.sync(&[]);
    let conn = f.open();
    let old_tags = table_keys(&conn, "tags");
    let gone_admin = f
        .sim
        .mutate(|d| d.admins.pop().unwrap()["id"].as_str().unwrap().to_string());
    let gone_tag = f
        .sim
        .mutate(|d| d.tags.remove(0)["id"].as_str().unwrap().to_string());

    // Killed while `tags` is being read: its previous rows are all there.
    let killed_at = |path: &str| {
        f.sim.clear_faults();
        let fired = f.sim.stats().faults_fired;
        f.sim.inject(FaultRule::new(Fault::Hang).on(path));
        let mut child = f.spawn_sync(&f.db(), &f.path("sync.log"));
        let started = Instant::now();
        while f.sim.stats().faults_fired == fired {
            assert!(
                started.elapsed() < Duration::from_secs(120),
                "no request to {path}"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        child.kill().unwrap();
        child.wait().unwrap();
    };
    killed_at("/tags");
    assert_eq!(table_keys(&conn, "tags"), old_tags);
    // Admins finished before: the vanished admin is gone already.
    assert!(!table_keys(&conn, "admins").contains(&gone_admin));

    // Killed after `tags` was read: its sweep committed with its last
    // checkpoint, so the table is the source's copy, every kept row there.
    killed_at("/teams");
    let mut new_tags = old_tags.clone();
    assert!(new_tags.remove(&gone_tag));
    assert_eq!(table_keys(&conn, "tags"), new_tags);

    f.sim.clear_faults();
    f.sync(&[]);
    let tags = table_keys(&conn, "tags");
    assert!(!tags.contains(&gone_tag));
    assert_copy_of(&conn, &f.sim.dataset());
    for stream in FULL_TABLE {
        assert!(!table_keys(&conn, stream).is_empty(), "{stream}");
    }
}

#[test]
fn streams_selects_without_a_catalog_and_names_the_valid_ones() {
    let f = Fixture::new(SimConfig::default());
    f.sync(&["--streams", "admins,tags"]);
    let conn = f.open();
    let tables: BTreeSet<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '\\_%' ESCAPE '\\' AND name NOT LIKE 'sqlite%'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(tables, BTreeSet::from(["admins".into(), "tags".into()]));
    let data = f.sim.dataset();
    assert_eq!(table_keys(&conn, "admins"), dataset_keys(&data)["admins"]);

    let db = f.db();
    let output = f.run(&[
        "sync",
        "--database",
        db.to_str().unwrap(),
        "--streams",
        "admins,nope",
    ]);
    assert_eq!(output.status.code(), Some(2));
    let message = stderr(&output);
    assert_eq!(message.lines().count(), 1, "{message}");
    assert!(message.contains("unknown stream `nope`"), "{message}");
    assert!(
        message.contains("valid streams: activity_logs, admins, articles, companies"),
        "{message}"
    );

    // The Singer tap honours it too.
    let output = f.run(&["--streams", "teams"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let streams: BTreeSet<String> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .filter_map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["stream"]
                .as_str()
                .map(String::from)
        })
        .collect();
    assert_eq!(streams, BTreeSet::from(["teams".into()]));
}

#[test]
fn the_summary_is_one_json_line_with_json_logs() {
    let f = Fixture::new(SimConfig::default());
    let output = f.sync(&["--log-format", "json", "--streams", "teams,segments"]);
    let text = stderr(&output);
    let summary: Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    let fields = &summary["fields"];
    assert_eq!(fields["message"], "sync finished");
    assert_eq!(fields["records"]["teams"], 6);
    assert!(fields["requests"].as_u64().unwrap() >= 2);
    assert_eq!(fields["retries"], 0);
    let duration = fields["duration_seconds"].as_f64().unwrap();
    // The read's time, split: requests and output in the host.
    let host = fields["host_seconds"].as_f64().unwrap();
    let component = fields["component_seconds"].as_f64().unwrap();
    assert!(host > 0.0, "{fields}");
    assert!(component >= 0.0, "{fields}");
    assert!(host + component <= duration + 0.002, "{fields}");
    assert_eq!(fields["wait_seconds"], 0.0);
    assert!(!text.contains("sim-token"));
}

fn small() -> SimConfig {
    SimConfig {
        contacts: 60,
        companies: 20,
        conversations: 40,
        huge_conversations: 0,
        ..SimConfig::default()
    }
}

/// Deletes two conversations between syncs; returns their ids.
fn delete_two_conversations(f: &Fixture) -> Vec<String> {
    f.sim.mutate(|d| {
        let ids: Vec<String> = d.conversations[..2]
            .iter()
            .map(|c| c["id"].as_str().unwrap().to_string())
            .collect();
        for id in &ids {
            assert!(d.delete_conversation(id));
        }
        ids
    })
}

/// `_sdc_deleted_at` of the rows of `table` whose `column` is `id`.
fn deletion_marks(conn: &Connection, table: &str, column: &str, id: &str) -> Vec<Option<String>> {
    let sql = format!("SELECT _sdc_deleted_at FROM {table} WHERE {column} = ?1");
    let mut statement = conn.prepare(&sql).unwrap();
    statement
        .query_map([id], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

#[test]
fn a_deleted_conversation_leaves_the_copy_with_its_parts() {
    let f = Fixture::new(small());
    f.sync(&[]);
    let gone = delete_two_conversations(&f);
    f.sync(&[]);
    let conn = f.open();
    assert_copy_of(&conn, &f.sim.dataset());
    for id in &gone {
        let parts: i64 = conn
            .query_row(
                "SELECT count(*) FROM conversation_parts WHERE conversation_id = ?1",
                [id],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(parts, 0, "parts of {id}");
    }
}

#[test]
fn soft_delete_keeps_a_deleted_conversation_and_its_parts_marked() {
    let f = Fixture::new(small());
    let before = f.sim.dataset();
    f.sync(&["--soft-delete"]);
    let gone = delete_two_conversations(&f);
    f.sync(&["--soft-delete"]);
    let conn = f.open();
    // Every row stays; only the deleted ones are marked.
    assert_copy_of(&conn, &before);
    for id in &gone {
        let marks = deletion_marks(&conn, "conversations", "id", id);
        assert!(matches!(marks.as_slice(), [Some(_)]), "{id}: {marks:?}");
        let parts = deletion_marks(&conn, "conversation_parts", "conversation_id", id);
        assert!(
            !parts.is_empty() && parts.iter().all(Option::is_some),
            "{id}: {parts:?}"
        );
    }
    let unmarked: i64 = conn
        .query_row(
            "SELECT count(*) FROM conversations WHERE _sdc_deleted_at IS NULL",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(unmarked as usize, before.conversations.len() - gone.len());
}

#[test]
fn a_complete_pass_drops_deleted_companies_at_its_interval() {
    let f = Fixture::new(small());
    let companies = |conn: &Connection| table_keys(conn, "companies");
    f.sync(&["--streams", "companies"]);
    let gone = f.sim.mutate(|d| {
        let id = d.companies[3]["id"].as_str().unwrap().to_string();
        assert!(d.delete_company(&id));
        id
    });
    // The first run was the pass; the default interval is a day.
    let output = f.sync(&["--streams", "companies"]);
    assert!(!stderr(&output).contains("a complete pass"));
    assert!(companies(&f.open()).contains(&gone));

    let config = json!({"access_token": "sim-token", "base_url": f.sim.base_url(),
        "complete_pass_interval_hours": 0});
    std::fs::write(f.path("config.json"), config.to_string()).unwrap();
    let output = f.sync(&["--streams", "companies"]);
    assert!(stderr(&output).contains("companies: a complete pass"));
    let expected = dataset_keys(&f.sim.dataset())["companies"].clone();
    assert!(!expected.contains(&gone));
    assert_eq!(companies(&f.open()), expected);
}

/// Contacts for complete passes: more than one list page of 150.
fn contacts_fixture() -> Fixture {
    Fixture::new(SimConfig {
        contacts: 320,
        companies: 20,
        conversations: 0,
        huge_conversations: 0,
        // The catch-up search sees no change made during a pass: only the
        // list and the confirming `GET`s do.
        index_lag: Duration::from_secs(600),
        ..SimConfig::default()
    })
}

impl Fixture {
    /// Every run a complete pass.
    fn pass_every_run(&self) {
        let config = json!({"access_token": "sim-token", "base_url": self.sim.base_url(),
            "complete_pass_interval_hours": 0});
        std::fs::write(self.path("config.json"), config.to_string()).unwrap();
    }

    fn id_of(&self, stream: &str, pick: impl Fn(&Value) -> bool) -> String {
        let data = self.sim.dataset();
        let records = match stream {
            "contacts" => &data.contacts,
            _ => &data.companies,
        };
        let record = records.iter().find(|r| pick(r)).expect("a record");
        record["id"].as_str().unwrap().to_string()
    }
}

/// A deleted contact, a lead merged into a user and an archived contact:
/// the ids gone, after the first sync.
fn delete_merge_archive(f: &Fixture) -> [String; 3] {
    let lead = f.id_of("contacts", |c| c["role"] == "lead");
    let user = f.id_of("contacts", |c| c["role"] == "user");
    let others: Vec<String> = (0..2)
        .map(|n| {
            f.sim.dataset().contacts[10 + n]["id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert!(!others.contains(&lead) && !others.contains(&user));
    let now = f.sim.now();
    f.sim.mutate(|d| {
        assert!(d.delete_contact(&others[0]));
        assert!(d.merge_contact(&lead, &user, now));
        assert!(d.archive_contact(&others[1]));
    });
    [others[0].clone(), lead, others[1].clone()]
}

#[test]
fn a_due_pass_drops_deleted_merged_and_archived_contacts() {
    let f = contacts_fixture();
    f.sync(&["--streams", "contacts"]);
    let gone = delete_merge_archive(&f);
    // Within the interval the run is incremental: nothing is dropped.
    let output = f.sync(&["--streams", "contacts"]);
    assert!(!stderr(&output).contains("a complete pass"));
    let kept = table_keys(&f.open(), "contacts");
    assert!(gone.iter().all(|id| kept.contains(id)));

    f.pass_every_run();
    let output = f.sync(&["--streams", "contacts"]);
    let log = stderr(&output);
    assert!(log.contains("contacts: a complete pass"), "{log}");
    assert!(log.contains("0 still exist, 3 are deleted"), "{log}");
    let expected = dataset_keys(&f.sim.dataset())["contacts"].clone();
    assert!(gone.iter().all(|id| !expected.contains(id)));
    assert_eq!(table_keys(&f.open(), "contacts"), expected);
}

#[test]
fn under_soft_delete_a_pass_marks_deleted_and_merged_contacts() {
    let f = contacts_fixture();
    f.pass_every_run();
    f.sync(&["--streams", "contacts", "--soft-delete"]);
    let before = table_keys(&f.open(), "contacts");
    let gone = delete_merge_archive(&f);
    f.sync(&["--streams", "contacts", "--soft-delete"]);
    let conn = f.open();
    assert_eq!(table_keys(&conn, "contacts"), before, "every row stays");
    for id in &gone {
        let marks = deletion_marks(&conn, "contacts", "id", id);
        assert!(matches!(marks.as_slice(), [Some(_)]), "{id}: {marks:?}");
    }
    let unmarked: i64 = conn
        .query_row(
            "SELECT count(*) FROM contacts WHERE _sdc_deleted_at IS NULL",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(unmarked as usize, before.len() - gone.len());
}

/// The list misses one contact that exists, and another is updated while
/// the pass runs (the catch-up search, lagging, misses it too): `GET`
/// confirms both, and both rows are sent again, not deleted.
#[test]
fn contacts_the_pass_did_not_list_are_confirmed_by_get_and_kept() {
    let f = contacts_fixture();
    f.pass_every_run();
    f.sync(&["--streams", "contacts"]);
    let hidden = f.sim.dataset().contacts[5]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let changed = f.sim.dataset().contacts[6]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let hide = hidden.clone();
    f.sim.mutate(move |d| d.hidden_from_lists.insert(hide));
    let id = changed.clone();
    let served = f.sim.stats().authenticated;
    // After the run's first request: while the pass runs, after it began.
    f.sim.mutate_after_requests(served + 1, move |d| {
        let now = std::time::UNIX_EPOCH.elapsed().unwrap().as_secs() as i64;
        d.update_contact(&id, now).unwrap();
        d.hidden_from_lists.insert(id);
    });
    let output = f.sync(&["--streams", "contacts"]);
    let log = stderr(&output);
    assert!(log.contains("2 still exist, 0 are deleted"), "{log}");
    let conn = f.open();
    assert_eq!(
        table_keys(&conn, "contacts"),
        dataset_keys(&f.sim.dataset())["contacts"]
    );
    let at = f.sim.dataset().contact(&changed).unwrap()["updated_at"].clone();
    assert_eq!(
        cell(&conn, "contacts", "updated_at", &changed).1,
        Some(rfc3339(&at)),
        "the confirming GET sent it again"
    );
}

/// A pass killed after its first pages resumes with its version and list
/// cursor, and deletes nothing before it completes.
#[test]
fn a_killed_pass_resumes_with_its_version_and_deletes_only_when_complete() {
    let f = contacts_fixture();
    f.pass_every_run();
    f.sync(&["--streams", "contacts"]);
    let gone = delete_merge_archive(&f);
    f.sim.inject(
        FaultRule::new(Fault::Delay(Duration::from_millis(400)))
            .on("/contacts")
            .times(1_000),
    );
    let state = |conn: &Connection| -> Value {
        let text: String = conn
            .query_row("SELECT state FROM _connector_state", [], |r| r.get(0))
            .unwrap();
        serde_json::from_str(&text).unwrap()
    };
    let conn = f.open();
    let mut child = f
        .command(&[
            "sync",
            "--database",
            f.db().to_str().unwrap(),
            "--streams",
            "contacts",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let version = loop {
        let pass = &state(&conn)["table_versions"]["contacts"];
        if pass["list_cursor"].is_string() {
            child.kill().unwrap();
            child.wait().unwrap();
            break pass["current"].as_i64().unwrap();
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "the sync ended unkilled"
        );
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no list page committed"
        );
        std::thread::sleep(Duration::from_millis(5));
    };
    let kept = table_keys(&conn, "contacts");
    assert!(
        gone.iter().all(|id| kept.contains(id)),
        "deleted before completion"
    );
    let written: i64 = conn
        .query_row(
            "SELECT count(*) FROM contacts WHERE _sdc_table_version = ?1",
            [version],
            |r| r.get(0),
        )
        .unwrap();
    assert!(written >= 150, "the killed run's first page: {written}");

    f.sim.clear_faults();
    f.sync(&["--streams", "contacts"]);
    let pass = &state(&conn)["table_versions"]["contacts"];
    assert_eq!(
        pass,
        &json!({"activated": version}),
        "resumed with its version"
    );
    assert_eq!(
        table_keys(&conn, "contacts"),
        dataset_keys(&f.sim.dataset())["contacts"]
    );
}

/// With its company segments: those only the missed company embeds stay,
/// those only the deleted one embedded go.
#[test]
fn a_company_the_scroll_missed_is_confirmed_and_kept() {
    let f = Fixture::new(small());
    f.pass_every_run();
    let (missed, deleted) = (
        f.id_of("companies", |_| true),
        f.sim.dataset().companies[4]["id"]
            .as_str()
            .unwrap()
            .to_string(),
    );
    // A segment each of the two alone embeds.
    let only = |company: &str| format!("9{}", &company[company.len().saturating_sub(7)..]);
    let (missed_only, deleted_only) = (only(&missed), only(&deleted));
    let (hide, gone) = (missed.clone(), deleted.clone());
    let segments = [
        (hide.clone(), missed_only.clone()),
        (gone.clone(), deleted_only.clone()),
    ];
    f.sim.mutate(move |d| {
        let mut template = d.company_segments[0].clone();
        template.as_object_mut().unwrap().remove("count");
        for (company, segment) in &segments {
            let c = d
                .companies
                .iter_mut()
                .find(|c| c["id"] == company.as_str())
                .unwrap();
            let mut own = template.clone();
            own["id"] = json!(segment);
            c["segments"]["segments"].as_array_mut().unwrap().push(own);
        }
    });
    let streams = ["--streams", "companies,company_segments"];
    f.sync(&streams);
    let segments = table_keys(&f.open(), "company_segments");
    assert!(segments.contains(&missed_only) && segments.contains(&deleted_only));
    f.sim.mutate(move |d| {
        d.hidden_from_lists.insert(hide);
        assert!(d.delete_company(&gone));
    });
    let output = f.sync(&streams);
    let log = stderr(&output);
    assert!(
        log.contains("companies: of the rows the pass did not send, 1 still exist, 1 are deleted"),
        "{log}"
    );
    let conn = f.open();
    let kept = table_keys(&conn, "companies");
    assert!(kept.contains(&missed) && !kept.contains(&deleted));
    let expected = dataset_keys(&f.sim.dataset());
    assert_eq!(kept, expected["companies"]);
    let segments = table_keys(&conn, "company_segments");
    assert!(segments.contains(&missed_only) && !segments.contains(&deleted_only));
    assert_eq!(segments, expected["company_segments"]);
}

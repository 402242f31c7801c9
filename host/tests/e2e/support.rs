//! Shared setup for the end-to-end tests: where the release component is,
//! the host and simulator to run it in, and what each stream must contain
//! for a simulator dataset.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use intercom_host::{
    Config, Connector, Limits, LogLevel, NetworkGrant, NetworkPolicy, Outcome, Runtime, Sink,
    commands,
};
use intercom_sim::{SimConfig, Simulator};
use serde_json::value::RawValue;
use serde_json::{Value, json};

/// The workspace root, where the connector's sources and the build are.
pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap()
}

/// The component under test: `INTERCOM_CONNECTOR_COMPONENT`, or the release
/// build.
pub fn component_path() -> PathBuf {
    match std::env::var_os("INTERCOM_CONNECTOR_COMPONENT") {
        Some(path) => PathBuf::from(path),
        None => built("intercom_connector", &["src", "wit"]),
    }
}

/// The release component `name` that `scripts/build` makes, refused when it
/// is missing or older than a file under `sources`, so a test never passes
/// on stale code.
pub fn built(name: &str, sources: &[&str]) -> PathBuf {
    let relative = format!("target/wasm32-wasip2/release/{name}.wasm");
    let wasm = root().join(&relative);
    let Ok(built) = std::fs::metadata(&wasm).and_then(|m| m.modified()) else {
        panic!("{relative} is missing: run scripts/build");
    };
    for dir in sources {
        if let Some((_, newer)) = newest_file(&root().join(dir)).filter(|(t, _)| *t > built) {
            let newer = newer.strip_prefix(root()).unwrap_or(&newer).display();
            panic!("{relative} is older than {newer}: run scripts/build");
        }
    }
    wasm
}

fn newest_file(dir: &Path) -> Option<(std::time::SystemTime, PathBuf)> {
    std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .filter_map(|entry| {
            let path = entry.path();
            if path.is_dir() {
                newest_file(&path)
            } else {
                Some((entry.metadata().ok()?.modified().ok()?, path))
            }
        })
        .max()
}

/// One compiled component shared by every test of a binary, stored in
/// [`component_cache`] for the binaries the tests start.
pub fn connector() -> &'static Connector {
    static CONNECTOR: OnceLock<Connector> = OnceLock::new();
    CONNECTOR.get_or_init(|| {
        // Emptied first: artifacts of older builds would pile up.
        if let Err(e) = std::fs::remove_dir_all(COMPONENT_CACHE)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            panic!("cannot empty {COMPONENT_CACHE}: {e}");
        }
        let runtime =
            Runtime::new(Limits::default(), Some(COMPONENT_CACHE.into())).expect("engine");
        runtime.load(&component_path()).expect("load component")
    })
}

/// The search index lag of tests that change data between syncs:
/// Intercom's behaviour with a shorter lag.
pub const INDEX_LAG: std::time::Duration = std::time::Duration::from_millis(200);

/// The realistic simulator with [`INDEX_LAG`].
pub fn realistic() -> SimConfig {
    SimConfig {
        index_lag: INDEX_LAG,
        ..SimConfig::default()
    }
}

/// Waits until searches see every change made so far.
pub fn wait_for_index() {
    std::thread::sleep(INDEX_LAG * 2);
}

/// The compiled-component cache the tests' `intercom-connector` runs share,
/// so the component is compiled once a test run, not once a test.
pub fn component_cache() -> &'static Path {
    connector();
    Path::new(COMPONENT_CACHE)
}

const COMPONENT_CACHE: &str = concat!(env!("CARGO_TARGET_TMPDIR"), "/component-cache");

/// The `intercom-connector` binary running `component`, compiled through
/// `cache`.
pub fn cli_running(component: &Path, cache: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_intercom-connector"));
    command
        .arg("--component")
        .arg(component)
        .arg("--cache-dir")
        .arg(cache);
    command
}

/// The `intercom-connector` binary running the component under test through
/// the shared [`component_cache`].
pub fn cli() -> Command {
    cli_running(&component_path(), component_cache())
}

pub fn start_sim(config: SimConfig) -> Simulator {
    Simulator::start(config).expect("start simulator")
}

/// A catalog selecting `streams`.
pub fn catalog_of(streams: &[&str]) -> String {
    let streams: Vec<Value> = streams
        .iter()
        .map(|s| json!({"tap_stream_id": s}))
        .collect();
    json!({ "streams": streams }).to_string()
}

/// A tap run of the CLI with `config`, resuming from `state` (written into
/// `dir`), its stdout piped and its stderr dropped.
pub fn tap_from_state(config: &Path, state: Option<&Value>, dir: &Path) -> Command {
    let mut command = cli();
    command
        .arg("--config")
        .arg(config)
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    if let Some(state) = state {
        let path = dir.join("state.json");
        std::fs::write(&path, state.to_string()).unwrap();
        command.arg("--state").arg(path);
    }
    command
}

pub fn config_for(sim: &Simulator) -> String {
    json!({ "access_token": "sim-token", "base_url": sim.base_url() }).to_string()
}

/// Everything a run emitted, in order.
#[derive(Default, Debug)]
pub struct Collected {
    pub schemas: Vec<(String, Value, Vec<String>, Vec<String>)>,
    pub records: Vec<(String, Value)>,
    pub states: Vec<Value>,
    /// How many records had come when each state did.
    pub records_before_state: Vec<usize>,
    /// `stream-version` calls: stream, version, first load.
    pub versions: Vec<(String, u64, bool)>,
    /// `stream-progress` calls: stream, done, total.
    pub progress: Vec<(String, u64, u64)>,
    /// `stream-skipped` calls: stream, reason.
    pub skipped: Vec<(String, String)>,
    pub logs: Vec<(LogLevel, String)>,
}

impl Collected {
    /// The record of `stream` whose `id` is `id`.
    pub fn record_with_id(&self, stream: &str, id: &str) -> Value {
        self.records
            .iter()
            .find(|(s, r)| s == stream && r["id"] == id)
            .map(|(_, r)| r.clone())
            .unwrap_or_else(|| panic!("no {stream} record with id {id}"))
    }

    pub fn records_of(&self, stream: &str) -> Vec<Value> {
        self.records
            .iter()
            .filter(|(s, _)| s == stream)
            .map(|(_, r)| r.clone())
            .collect()
    }
}

impl Sink for Collected {
    fn schema(
        &mut self,
        stream: &str,
        schema: &RawValue,
        key_properties: &[String],
        bookmark_properties: &[String],
    ) -> wasmtime::Result<()> {
        self.schemas.push((
            stream.to_string(),
            serde_json::from_str(schema.get())?,
            key_properties.to_vec(),
            bookmark_properties.to_vec(),
        ));
        Ok(())
    }

    fn records(&mut self, stream: &str, records: &[Box<RawValue>]) -> wasmtime::Result<()> {
        for record in records {
            self.records
                .push((stream.to_string(), serde_json::from_str(record.get())?));
        }
        Ok(())
    }

    fn checkpoint(&mut self, state: &RawValue) -> wasmtime::Result<()> {
        self.states.push(serde_json::from_str(state.get())?);
        self.records_before_state.push(self.records.len());
        Ok(())
    }

    fn log(&mut self, level: LogLevel, message: &str) {
        self.logs.push((level, message.to_string()));
    }

    fn stream_version(
        &mut self,
        stream: &str,
        version: u64,
        first_load: bool,
    ) -> wasmtime::Result<()> {
        self.versions
            .push((stream.to_string(), version, first_load));
        Ok(())
    }

    fn stream_progress(&mut self, stream: &str, done: u64, total: u64) {
        self.progress.push((stream.to_string(), done, total));
    }

    fn stream_skipped(&mut self, stream: &str, reason: &str) {
        self.skipped.push((stream.to_string(), reason.to_string()));
    }
}

/// `config` sealed as the CLI seals it: exports see a placeholder for the
/// token, and the host puts it only into headers to the API origin.
pub fn sealed(config: &str) -> Config {
    commands::seal_config(connector(), config, Path::new("config.json")).expect("seal the config")
}

/// A full read through the network policy the component declares.
pub fn read(config: &str, catalog: Option<&str>, state: Option<&str>) -> (Collected, Outcome<()>) {
    let (connector, config, policy) = declared_policy(config);
    connector
        .read(&config, catalog, state, policy, Collected::default())
        .expect("host failure")
}

/// The catalog `discover` gives for `config`, with the network `read` gets.
pub fn discover(config: &str) -> String {
    let (connector, config, policy) = declared_policy(config);
    connector
        .discover(&config, policy, Collected::default())
        .expect("host failure")
        .expect("discover")
}

/// The component, `config` sealed, and the origins it declares for it.
fn declared_policy(config: &str) -> (&'static Connector, Config, NetworkPolicy) {
    let connector = connector();
    let config = sealed(config);
    let policy = connector
        .network_policy(&config, &NetworkGrant::Declared, Collected::default())
        .expect("host")
        .expect("allowed origins");
    (connector, config, policy)
}

/// Intercom's cap on the parts `GET /conversations/{id}` returns: the newest
/// this many.
pub const PART_LIMIT: usize = 500;

const CREATED_UPDATED: &[&str] = &["created_at", "updated_at"];

/// The fields whose UNIX seconds the connector writes as RFC 3339 text, by
/// stream: dotted paths, `*` for every item of an array or value of an
/// object. Listed here, not read from the connector's schemas, so that a
/// timestamp its schema fails to mark is caught.
const TIMESTAMPS: &[(&str, &[&str])] = &[
    (
        "activity_logs",
        &[
            "created_at",
            "metadata.expired_at",
            "metadata.last_activity_at",
        ],
    ),
    ("admins", &[]),
    (
        "articles",
        &[
            "created_at",
            "updated_at",
            "draft_updated_at",
            "scheduled_publish_at",
            "scheduled_unpublish_at",
            "tags.tags.*.applied_at",
            "translated_content.*.created_at",
            "translated_content.*.updated_at",
            "translated_content.*.draft_updated_at",
        ],
    ),
    (
        "companies",
        &[
            "created_at",
            "updated_at",
            "last_request_at",
            "remote_created_at",
            "notes.notes.*.created_at",
            "segments.segments.*.created_at",
            "segments.segments.*.updated_at",
        ],
    ),
    ("company_attributes", CREATED_UPDATED),
    ("company_segments", CREATED_UPDATED),
    ("contact_attributes", CREATED_UPDATED),
    (
        "contacts",
        &[
            "created_at",
            "updated_at",
            "signed_up_at",
            "last_seen_at",
            "last_contacted_at",
            "last_replied_at",
            "last_email_opened_at",
            "last_email_clicked_at",
            "android_last_seen_at",
            "ios_last_seen_at",
            "merge_history.*.merged_at",
        ],
    ),
    ("conversation_attributes", CREATED_UPDATED),
    (
        "conversation_parts",
        &[
            "created_at",
            "updated_at",
            "notified_at",
            "conversation_created_at",
            "conversation_updated_at",
        ],
    ),
    (
        "conversations",
        &[
            "created_at",
            "updated_at",
            "waiting_since",
            "snoozed_until",
            "tags.tags.*.applied_at",
            "ai_agent.created_at",
            "ai_agent.updated_at",
            "company.created_at",
            "company.updated_at",
            "company.last_request_at",
            "company.remote_created_at",
            "company.notes.notes.*.created_at",
            "company.segments.segments.*.created_at",
            "company.segments.segments.*.updated_at",
            "conversation_rating.created_at",
            "conversation_rating.updated_at",
            "first_contact_reply.created_at",
            "monitor_evaluations.*.evaluated_at",
            "scorecards.*.evaluated_at",
            "statistics.first_admin_reply_at",
            "statistics.first_assignment_at",
            "statistics.first_close_at",
            "statistics.first_contact_reply_at",
            "statistics.last_admin_reply_at",
            "statistics.last_assignment_admin_reply_at",
            "statistics.last_assignment_at",
            "statistics.last_close_at",
            "statistics.last_contact_reply_at",
        ],
    ),
    ("help_center_collections", CREATED_UPDATED),
    ("help_centers", CREATED_UPDATED),
    ("segments", CREATED_UPDATED),
    ("subscription_types", &[]),
    ("tags", &["applied_at"]),
    ("teams", &[]),
    (
        "ticket_parts",
        &[
            "created_at",
            "updated_at",
            "ticket_created_at",
            "ticket_updated_at",
        ],
    ),
    (
        "ticket_states",
        &[
            "ticket_types.data.*.created_at",
            "ticket_types.data.*.updated_at",
            "ticket_types.data.*.ticket_type_attributes.ticket_type_attributes.*.created_at",
            "ticket_types.data.*.ticket_type_attributes.ticket_type_attributes.*.updated_at",
        ],
    ),
    (
        "ticket_types",
        &[
            "created_at",
            "updated_at",
            "ticket_type_attributes.ticket_type_attributes.*.created_at",
            "ticket_type_attributes.ticket_type_attributes.*.updated_at",
        ],
    ),
    (
        "tickets",
        &[
            "created_at",
            "updated_at",
            "snoozed_until",
            "ticket_type.created_at",
            "ticket_type.updated_at",
            "ticket_type.ticket_type_attributes.ticket_type_attributes.*.created_at",
            "ticket_type.ticket_type_attributes.ticket_type_attributes.*.updated_at",
        ],
    ),
];

/// Fields Intercom sends as numbers that the schemas type as strings, by
/// stream: the connector writes them as their decimal text.
const TEXT_IDS: &[(&str, &[&str])] = &[("conversation_parts", &["id"])];

/// Applies `change` to every value at the dotted `path` in `value`.
fn at_path(value: &mut Value, path: &[&str], change: &impl Fn(&mut Value)) {
    match path.split_first() {
        None => change(value),
        Some((&"*", rest)) => match value {
            Value::Array(items) => items.iter_mut().for_each(|v| at_path(v, rest, change)),
            Value::Object(map) => map.values_mut().for_each(|v| at_path(v, rest, change)),
            _ => {}
        },
        Some((key, rest)) => {
            if let Some(inner) = value.get_mut(*key) {
                at_path(inner, rest, change);
            }
        }
    }
}

/// The fields of `stream` in `table` (one of [`TIMESTAMPS`], [`TEXT_IDS`]).
fn fields_of(table: &[(&str, &'static [&'static str])], stream: &str) -> &'static [&'static str] {
    table
        .iter()
        .find(|(s, _)| *s == stream)
        .map_or(&[], |(_, fields)| fields)
}

/// UNIX seconds as the connector writes them.
pub fn rfc3339(seconds: i64) -> String {
    chrono::DateTime::from_timestamp(seconds, 0)
        .unwrap()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// The documented transformations of a record of `stream`, applied
/// independently of the connector: the [`TIMESTAMPS`] become RFC 3339, the
/// [`TEXT_IDS`] their text.
pub fn emitted_form(stream: &str, record: &mut Value) {
    for path in fields_of(TIMESTAMPS, stream) {
        let path: Vec<&str> = path.split('.').collect();
        at_path(record, &path, &|v| {
            if let Some(seconds) = v.as_f64() {
                *v = Value::String(rfc3339(seconds.trunc() as i64));
            }
        });
    }
    for path in fields_of(TEXT_IDS, stream) {
        let path: Vec<&str> = path.split('.').collect();
        at_path(record, &path, &|v| {
            if let Value::Number(n) = v {
                *v = Value::String(n.to_string());
            }
        });
    }
}

/// `_sdc_record_hash` as the README documents it.
pub fn attribute_hash(record: &Value) -> String {
    use sha2::Digest;
    let identity = json!([record["model"], record["full_name"], record["name"]]);
    format!(
        "{:x}",
        sha2::Sha256::digest(serde_json::to_vec(&identity).unwrap())
    )
}

/// What each stream must contain for a simulator dataset, before the
/// timestamp transformation.
pub fn expected_raw(stream: &str, data: &intercom_sim::Dataset) -> Vec<Value> {
    let with_hash = |model: &str| -> Vec<Value> {
        data.data_attributes(Some(model), true)
            .into_iter()
            .map(|mut a| {
                a["_sdc_record_hash"] = json!(attribute_hash(&a));
                a
            })
            .collect()
    };
    match stream {
        "admins" => data.admins.clone(),
        "teams" => data.teams.clone(),
        "ticket_types" => data.ticket_types.clone(),
        "ticket_states" => data.ticket_states.clone(),
        "tickets" => data
            .tickets
            .iter()
            .map(|t| {
                let mut ticket = t.clone();
                ticket.as_object_mut().unwrap().remove("ticket_parts");
                ticket
            })
            .collect(),
        "ticket_parts" => data
            .tickets
            .iter()
            .flat_map(|t| {
                t["ticket_parts"]["ticket_parts"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|part| {
                        let mut part = part.clone();
                        part["ticket_id"] = t["id"].clone();
                        part["ticket_created_at"] = t["created_at"].clone();
                        part["ticket_updated_at"] = t["updated_at"].clone();
                        part
                    })
                    .collect::<Vec<_>>()
            })
            .collect(),
        "conversation_attributes" => data.conversation_attributes.clone(),
        "subscription_types" => data.subscription_types.clone(),
        "help_centers" => data.help_centers.clone(),
        "help_center_collections" => data.help_center_collections.clone(),
        "articles" => data.articles.clone(),
        "activity_logs" => data.activity_logs.clone(),
        "tags" => data.tags.clone(),
        "segments" => data.segments.clone(),
        "companies" => data.companies.clone(),
        "conversations" => data.conversations.clone(),
        "company_attributes" => with_hash("company"),
        "contact_attributes" => with_hash("contact"),
        "company_segments" => {
            let mut seen = BTreeMap::new();
            for company in &data.companies {
                for segment in company["segments"]["segments"].as_array().unwrap() {
                    seen.insert(segment["id"].to_string(), segment.clone());
                }
            }
            seen.into_values().collect()
        }
        "contacts" => data
            .contacts
            .iter()
            .map(|contact| complete_contact_lists(contact.clone(), data))
            .collect(),
        "conversation_parts" => data
            .conversations
            .iter()
            .flat_map(|c| {
                let id = c["id"].as_str().unwrap();
                let parts = data
                    .conversation_parts
                    .get(id)
                    .map_or(&[][..], Vec::as_slice);
                parts[parts.len().saturating_sub(PART_LIMIT)..]
                    .iter()
                    .map(|part| {
                        let mut part = part.clone();
                        part["conversation_id"] = c["id"].clone();
                        part["conversation_created_at"] = c["created_at"].clone();
                        part["conversation_updated_at"] = c["updated_at"].clone();
                        part
                    })
                    .collect::<Vec<_>>()
            })
            .collect(),
        other => panic!("no expectation for stream {other}"),
    }
}

/// Truncated embedded lists replaced by `{type, id, url}` references to
/// every item of the full list.
fn complete_contact_lists(mut contact: Value, data: &intercom_sim::Dataset) -> Value {
    let id = contact["id"].as_str().unwrap().to_string();
    for (list, kind) in [("tags", "tag"), ("companies", "company"), ("notes", "note")] {
        if contact[list]["has_more"] != json!(true) {
            continue;
        }
        let ids: Vec<String> = match list {
            "tags" => data.contact_tags[&id].clone(),
            "companies" => data.contact_companies[&id].clone(),
            _ => data.contact_notes[&id]
                .iter()
                .map(|n| n["id"].as_str().unwrap().to_string())
                .collect(),
        };
        let refs: Vec<Value> = ids
            .iter()
            .map(|i| json!({"type": kind, "id": i, "url": format!("/{list}/{i}")}))
            .collect();
        contact[list]["total_count"] = json!(refs.len());
        contact[list]["has_more"] = json!(false);
        contact[list]["data"] = json!(refs);
    }
    contact
}

/// What each stream must contain, as the connector emits it.
pub fn expected(stream: &str, data: &intercom_sim::Dataset) -> Vec<Value> {
    let dates = custom_dates(stream, data);
    expected_raw(stream, data)
        .into_iter()
        .map(|mut r| {
            emitted_form(stream, &mut r);
            for name in &dates {
                at_path(&mut r, &["custom_attributes", name], &|v| {
                    if let Some(seconds) = v.as_f64() {
                        *v = Value::String(rfc3339(seconds.trunc() as i64));
                    }
                });
            }
            r
        })
        .collect()
}

/// The custom attributes of type `date` the simulator's data attributes
/// list for `stream`'s model: the README says records carry them as
/// RFC 3339 date-times.
fn custom_dates(stream: &str, data: &intercom_sim::Dataset) -> Vec<String> {
    let model = match stream {
        "contacts" => "contact",
        "companies" => "company",
        _ => return Vec::new(),
    };
    data.data_attributes
        .iter()
        .filter(|a| a["model"] == model && a["custom"] == true && a["data_type"] == "date")
        .map(|a| a["name"].as_str().unwrap().to_string())
        .collect()
}

/// Conversation id → how many of its parts are older than the newest
/// [`PART_LIMIT`], for the conversations that have such parts.
pub fn dropped_parts(data: &intercom_sim::Dataset) -> BTreeMap<String, usize> {
    data.conversations
        .iter()
        .filter_map(|c| {
            let id = c["id"].as_str()?;
            let parts = data.conversation_parts.get(id)?.len();
            (parts > PART_LIMIT).then(|| (id.to_string(), parts - PART_LIMIT))
        })
        .collect()
}

/// Conversation id → the parts the connector's warnings say Intercom left
/// out, the last warning about each conversation in `logs` winning.
pub fn warned_dropped_parts(logs: &str) -> BTreeMap<String, usize> {
    logs.lines()
        .filter_map(|line| {
            let (_, rest) = line.split_once("conversation_parts: conversation ")?;
            let (id, rest) = rest.split_once(" has ")?;
            let (total, rest) = rest.split_once(" but Intercom returned only the newest ")?;
            let total: usize = total.parse().ok()?;
            let shown: usize = rest.trim().parse().ok()?;
            Some((id.to_string(), total.checked_sub(shown)?))
        })
        .collect()
}

pub const ALL_STREAMS: [&str; 21] = [
    "activity_logs",
    "admins",
    "articles",
    "companies",
    "company_attributes",
    "company_segments",
    "contact_attributes",
    "contacts",
    "conversation_attributes",
    "conversation_parts",
    "conversations",
    "help_center_collections",
    "help_centers",
    "segments",
    "subscription_types",
    "tags",
    "teams",
    "ticket_parts",
    "ticket_states",
    "ticket_types",
    "tickets",
];

/// A record's primary key as text: `_sdc_record_hash`, else `id`.
pub fn key(record: &Value) -> String {
    let value = record.get("_sdc_record_hash").or_else(|| record.get("id"));
    match value {
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
        None => panic!("a record without a key: {record}"),
    }
}

/// Records by stream and key, later versions replacing earlier ones, as a
/// destination upserting on the primary key holds them.
pub fn upserted(runs: &[&Collected]) -> BTreeMap<String, BTreeMap<String, Value>> {
    let mut tables: BTreeMap<String, BTreeMap<String, Value>> = BTreeMap::new();
    for run in runs {
        for (stream, record) in &run.records {
            tables
                .entry(stream.clone())
                .or_default()
                .insert(key(record), record.clone());
        }
    }
    tables
}

/// The runs' records, upserted by key, are every stream's dataset exactly.
pub fn assert_dataset(sim: &Simulator, runs: &[&Collected], what: &str) {
    let mut tables = upserted(runs);
    let data = sim.dataset();
    for stream in ALL_STREAMS {
        let expected: BTreeMap<String, Value> = expected(stream, &data)
            .into_iter()
            .map(|r| (key(&r), r))
            .collect();
        let got = tables.remove(stream).unwrap_or_default();
        assert_eq!(got.len(), expected.len(), "{what}: {stream}: record count");
        let differing = expected.iter().find(|(k, r)| got.get(*k) != Some(r));
        assert!(
            differing.is_none(),
            "{what}: {stream}: {differing:?} differs"
        );
    }
    assert!(
        tables.is_empty(),
        "{what}: streams beyond the dataset: {tables:?}"
    );
}

/// Sorts by primary key for set comparison.
pub fn by_key(mut records: Vec<Value>) -> Vec<Value> {
    records.sort_by_key(key);
    records
}

/// Primary keys per stream of the whole dataset.
pub fn dataset_keys(data: &intercom_sim::Dataset) -> BTreeMap<&'static str, BTreeSet<String>> {
    ALL_STREAMS
        .into_iter()
        .map(|stream| (stream, expected_raw(stream, data).iter().map(key).collect()))
        .collect()
}

/// The streams keyed by `_sdc_record_hash` (records without an id).
pub const HASH_KEYED: [&str; 2] = ["company_attributes", "contact_attributes"];

/// The primary-key column of `stream`'s table.
pub fn key_column(stream: &str) -> &'static str {
    if HASH_KEYED.contains(&stream) {
        "_sdc_record_hash"
    } else {
        "id"
    }
}

/// Whether SQLite's `cell` holds `expected` (`None`: the record lacks the
/// field) as the README's mapping writes it: booleans 0/1, objects and
/// arrays JSON text, and numbers and numeric text as a column's type
/// affinity stores them.
fn cell_holds(cell: &rusqlite::types::Value, expected: Option<&Value>) -> bool {
    use rusqlite::types::Value as Sql;
    match (expected, cell) {
        (None | Some(Value::Null), Sql::Null) => true,
        (Some(Value::Bool(b)), Sql::Integer(i)) => *i == i64::from(*b),
        (Some(Value::Number(n)), Sql::Integer(i)) => n.as_i64() == Some(*i),
        (Some(Value::Number(n)), Sql::Real(f)) => n.as_f64() == Some(*f),
        (Some(Value::Number(n)), Sql::Text(t)) => n.to_string() == *t,
        (Some(Value::String(s)), Sql::Text(t)) => s == t,
        (Some(Value::String(s)), Sql::Integer(i)) => s.parse() == Ok(*i),
        (Some(Value::String(s)), Sql::Real(f)) => s.parse() == Ok(*f),
        (Some(nested @ (Value::Object(_) | Value::Array(_))), Sql::Text(t)) => {
            serde_json::from_str::<Value>(t).ok().as_ref() == Some(nested)
        }
        _ => false,
    }
}

/// The rows of `table` by primary key, each column by name; none when the
/// table was never created. Asserts the key column is the table's primary
/// key, so the rows have no duplicate keys.
fn rows_of(
    conn: &rusqlite::Connection,
    table: &str,
) -> BTreeMap<String, BTreeMap<String, rusqlite::types::Value>> {
    use rusqlite::types::Value as Sql;
    let column = key_column(table);
    let pk: Vec<String> = conn
        .prepare(&format!(
            "SELECT name FROM pragma_table_info('{table}') WHERE pk > 0"
        ))
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let mut rows = BTreeMap::new();
    if pk.is_empty() {
        return rows; // not created: a table has a primary key
    }
    assert_eq!(pk, [column], "{table}: the primary key");
    let mut statement = conn.prepare(&format!("SELECT * FROM \"{table}\"")).unwrap();
    let names: Vec<String> = statement.column_names().map(String::from).collect();
    let mut query = statement.query([]).unwrap();
    while let Some(row) = query.next().unwrap() {
        let cells: BTreeMap<String, Sql> = names
            .iter()
            .enumerate()
            .map(|(i, name)| (name.clone(), row.get(i).unwrap()))
            .collect();
        let key = match &cells[column] {
            Sql::Text(t) => t.clone(),
            Sql::Integer(i) => i.to_string(),
            other => panic!("{table}: a key {other:?}"),
        };
        rows.insert(key, cells);
    }
    rows
}

/// The replica in `conn` is `data`, table by table, row by row: each row
/// holds its record's fields (after the documented transformations) and
/// NULL in the columns the record lacks (the `_sdc_` bookkeeping columns
/// aside). The one exception: parts of a conversation older than its newest
/// [`PART_LIMIT`], which a replica keeps from when they were among them;
/// they are counted and returned.
pub fn assert_replica(
    conn: &rusqlite::Connection,
    data: &intercom_sim::Dataset,
    what: &str,
) -> usize {
    let older_parts: BTreeSet<String> = data
        .conversation_parts
        .iter()
        .filter(|(id, _)| data.conversation(id).is_some())
        .flat_map(|(_, parts)| &parts[..parts.len().saturating_sub(PART_LIMIT)])
        .map(key)
        .collect();
    let mut excepted = 0;
    for stream in ALL_STREAMS {
        let mut rows = rows_of(conn, stream);
        let expected = expected(stream, data);
        let count = expected.len();
        for record in expected {
            let key = key(&record);
            let Some(row) = rows.remove(&key) else {
                panic!("{what}: {stream}: no row {key} (of {count} expected): {record}");
            };
            let fields = record.as_object().unwrap();
            for (column, cell) in &row {
                let field = fields.get(column);
                if field.is_none() && column.starts_with("_sdc_") {
                    continue;
                }
                assert!(
                    cell_holds(cell, field),
                    "{what}: {stream} {key}: column {column} holds {cell:?}, not {field:?}"
                );
            }
            let missing: Vec<&String> = fields.keys().filter(|f| !row.contains_key(*f)).collect();
            assert!(
                missing.is_empty(),
                "{what}: {stream}: no columns {missing:?}"
            );
        }
        if stream == "conversation_parts" {
            let before = rows.len();
            rows.retain(|key, _| !older_parts.contains(key));
            excepted = before - rows.len();
        }
        let extra: Vec<&String> = rows.keys().take(5).collect();
        assert!(
            extra.is_empty(),
            "{what}: {stream}: {} rows beyond the dataset, e.g. {extra:?}",
            rows.len()
        );
    }
    excepted
}

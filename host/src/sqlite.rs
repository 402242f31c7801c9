//! A [`Sink`] that keeps a queryable copy of the source in an embedded SQLite
//! database: one table per stream, the connector's state beside the data.
//!
//! Commit protocol: everything a guest emits goes into one open transaction,
//! and each `checkpoint` writes the state into `_connector_state` and commits.
//! Records and the state that covers them therefore land together or not at
//! all, so a killed sync resumes from its last commit without losing or
//! duplicating a row (rows are upserted by the stream's key properties).
//!
//! Streams the component sends whole (`stream-complete` with `whole-table`)
//! are replaced by mark and sweep: every row carries the id of the run that
//! last wrote it (`_sdc_run_id`) and the table version of the complete pass
//! that did (`_sdc_table_version`, so rows a killed run of the same pass
//! wrote count as sent after a resume); at `stream-complete`, rows no record
//! of the pass wrote are deleted in the same transaction as the next commit,
//! but for rows changed since the pass began. Before that the component
//! confirms each such row (`absent-keys`, answered from the open
//! transaction, so it sees every record sent before), and the sweep finds
//! none left unconfirmed. Until then the
//! previous copy stays, so a crash mid-stream never leaves a table empty or
//! half-replaced (it may hold rows of both runs, the next complete run sweeps
//! the old ones).
//! A stream a run starts over ([`SqliteSink::start_over`]) is swept the same
//! way when its run completes.
//!
//! Upgrades: `PRAGMA user_version` records the layout of the database
//! ([`SCHEMA_VERSION`]); [`SqliteSink::open`] migrates an older one, and a
//! column whose type the stream's schema changed (an id that becomes a
//! string, say) is rebuilt in place, both inside an open transaction, so a
//! failed run leaves the database as it was.
//!
//! Tombstones (records with [`DELETED_AT_COLUMN`] set) delete their row and
//! its children: rows of the streams the catalog names as its children
//! (`parent-tap-stream-id`), matched on the field that holds the parent's
//! key (`parent-key-properties`), such as a deleted conversation's
//! `conversation_parts`. Under soft delete the rows stay, with
//! [`DELETED_AT_COLUMN`] set. Either way the change joins the open
//! transaction, so it commits with the state that covers it.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use chrono::{SecondsFormat, Utc};
use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, OptionalExtension, params_from_iter};
use serde_json::Value;
use serde_json::value::RawValue;
use wasmtime::{Result, bail, format_err};

use crate::bindings::LogLevel;
use crate::types::Sink;

/// The column stamping each row with the run that last wrote it.
pub const RUN_COLUMN: &str = "_sdc_run_id";

/// The column stamping each row with the table version of the complete
/// pass that last wrote it (null: written outside a pass).
pub const VERSION_COLUMN: &str = "_sdc_table_version";

/// The database layout this release writes. 0: the first release's (no
/// version recorded). 1: `_connector_runs.reset` names the streams a run
/// started over.
pub const SCHEMA_VERSION: i64 = 1;

/// The Singer column of a tombstone: when its record was deleted.
pub const DELETED_AT_COLUMN: &str = "_sdc_deleted_at";

pub struct SqliteSink {
    conn: Connection,
    run_id: i64,
    tables: BTreeMap<String, Table>,
    /// Streams this run starts over (`sync --reset`).
    reset: Vec<String>,
    /// Tombstones mark rows deleted instead of deleting them.
    soft_delete: bool,
    /// Parent stream → its children, each with the field holding the
    /// parent's key.
    children: BTreeMap<String, Vec<ChildStream>>,
    /// The replication key column of each incremental stream.
    bookmark_columns: BTreeMap<String, String>,
    /// The table version of each pass under way: its start in UNIX
    /// milliseconds by the server's clock.
    versions: BTreeMap<String, i64>,
}

/// A stream whose rows belong to a parent stream's row.
struct ChildStream {
    table: String,
    /// The child's field that holds its parent's key.
    parent_key: String,
}

/// A stream's table as this run knows it.
struct Table {
    keys: Vec<String>,
    /// Every column, [`VERSION_COLUMN`] and [`RUN_COLUMN`] last.
    columns: Vec<String>,
    known: HashSet<String>,
    upsert: String,
}

impl SqliteSink {
    /// Opens (or creates) the database, migrates it to [`SCHEMA_VERSION`],
    /// registers a new run and takes the write lock, so two syncs into one
    /// file fail fast instead of interleaving.
    pub fn open(path: &Path) -> Result<Self> {
        // Created owner-only before SQLite opens it; its `-wal` and `-shm`
        // files take the database file's mode.
        crate::private_file::create_private_file(path)
            .map_err(|e| format_err!("cannot create database {}: {e}", path.display()))?;
        let conn = Connection::open(path)
            .map_err(|e| format_err!("cannot open database {}: {e}", path.display()))?;
        // WAL: readers can query while a sync writes. NORMAL stays consistent
        // on a crash; a power loss can only lose whole, most recent commits.
        conn.execute_batch(
            "PRAGMA journal_mode = WAL;
             PRAGMA synchronous = NORMAL;",
        )
        .map_err(|e| format_err!("cannot use database {}: {e}", path.display()))?;
        conn.execute_batch("BEGIN IMMEDIATE")
            .map_err(|e| format_err!("database {} is busy (another sync?): {e}", path.display()))?;
        // Registered inside the run's first transaction: a run that fails
        // before its first checkpoint (bad input, say) leaves no trace, and
        // neither does its migration.
        migrate(&conn).map_err(|e| format_err!("database {}: {e:#}", path.display()))?;
        conn.execute(
            "INSERT INTO _connector_runs (started_at) VALUES (?1)",
            [now()],
        )?;
        let run_id = conn.last_insert_rowid();
        Ok(Self {
            conn,
            run_id,
            tables: BTreeMap::new(),
            reset: Vec::new(),
            soft_delete: false,
            children: BTreeMap::new(),
            bookmark_columns: BTreeMap::new(),
            versions: BTreeMap::new(),
        })
    }

    /// This run starts `streams` over: rows it does not write again are
    /// deleted when their stream's run completes, like a full-table
    /// stream's. (Their bookmarks are the caller's to drop from the state.)
    pub fn start_over(&mut self, streams: &[String]) -> Result<()> {
        self.conn.execute(
            "UPDATE _connector_runs SET reset = ?1 WHERE id = ?2",
            rusqlite::params![streams.join(","), self.run_id],
        )?;
        self.reset = streams.to_vec();
        Ok(())
    }

    /// Keeps deleted rows, with [`DELETED_AT_COLUMN`] set, rather than
    /// deleting them.
    pub fn with_soft_delete(self, soft_delete: bool) -> Self {
        Self {
            soft_delete,
            ..self
        }
    }

    /// Learns from the connector's catalog which streams are whose
    /// children, so a tombstone takes its children with it.
    pub fn with_children_from(self, catalog: &Value) -> Self {
        let mut children: BTreeMap<String, Vec<ChildStream>> = BTreeMap::new();
        for entry in catalog["streams"].as_array().into_iter().flatten() {
            let Some(top) = entry["metadata"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|m| m["breadcrumb"].as_array().is_some_and(Vec::is_empty))
            else {
                continue;
            };
            let top = &top["metadata"];
            let (Some(parent), Some(stream), Some([Value::String(column)])) = (
                top["parent-tap-stream-id"].as_str(),
                entry["tap_stream_id"].as_str(),
                top["parent-key-properties"].as_array().map(Vec::as_slice),
            ) else {
                continue;
            };
            children
                .entry(parent.to_string())
                .or_default()
                .push(ChildStream {
                    table: stream.to_string(),
                    parent_key: column.clone(),
                });
        }
        Self { children, ..self }
    }

    /// Deletes (or marks deleted) the row a tombstone names, and its children.
    fn apply_tombstone(
        &mut self,
        stream: &str,
        record: &serde_json::Map<String, Value>,
        deleted_at: &Value,
    ) -> Result<()> {
        let keys = self.tables[stream].keys.clone();
        let [key] = keys.as_slice() else {
            bail!("a tombstone of stream `{stream}` needs a one-column key");
        };
        let id = record
            .get(key)
            .filter(|v| !v.is_null())
            .map(to_sql)
            .ok_or_else(|| format_err!("a tombstone of stream `{stream}` has no `{key}`"))?;
        let mut targets = vec![(stream.to_string(), key.clone())];
        for child in self.children.get(stream).into_iter().flatten() {
            // A child not synced into this database has no table to clean.
            let columns = self.columns_of(&child.table)?;
            if columns.iter().any(|(c, _)| *c == child.parent_key) {
                targets.push((child.table.clone(), child.parent_key.clone()));
            }
        }
        for (table, column) in targets {
            if self.soft_delete {
                self.ensure_deleted_at_column(&table)?;
                let sql = format!(
                    "UPDATE {} SET {} = ?1, {} = ?2 WHERE {} = ?3",
                    quote(&table),
                    quote(DELETED_AT_COLUMN),
                    quote(RUN_COLUMN),
                    quote(&column)
                );
                self.conn.execute(
                    &sql,
                    rusqlite::params![to_sql(deleted_at), self.run_id, id.clone()],
                )?;
            } else {
                let sql = format!(
                    "DELETE FROM {} WHERE {} = ?1",
                    quote(&table),
                    quote(&column)
                );
                self.conn.execute(&sql, [id.clone()])?;
            }
        }
        Ok(())
    }

    /// Adds [`DELETED_AT_COLUMN`] to a table whose schema lacks it.
    fn ensure_deleted_at_column(&mut self, table: &str) -> Result<()> {
        if self
            .columns_of(table)?
            .iter()
            .any(|(c, _)| c == DELETED_AT_COLUMN)
        {
            return Ok(());
        }
        self.add_column(table, DELETED_AT_COLUMN, "TEXT")?;
        if let Some(known) = self.tables.get(table) {
            let columns = known
                .fields()
                .iter()
                .cloned()
                .chain([DELETED_AT_COLUMN.to_string()])
                .collect();
            let rebuilt = Table::new(known.keys.clone(), columns, table);
            self.tables.insert(table.to_string(), rebuilt);
        }
        Ok(())
    }

    /// The state of the last committed checkpoint, to resume from.
    pub fn state(&self) -> Result<Option<String>> {
        Ok(self
            .conn
            .query_row("SELECT state FROM _connector_state WHERE id = 1", [], |r| {
                r.get(0)
            })
            .optional()?)
    }

    /// The read succeeded: commit what followed the last checkpoint.
    pub fn finish(self) -> Result<()> {
        self.conn.execute(
            "UPDATE _connector_runs SET finished_at = ?1 WHERE id = ?2",
            rusqlite::params![now(), self.run_id],
        )?;
        self.conn.execute_batch("COMMIT")?;
        Ok(())
    }

    /// Creates the table or adds the columns it lacks.
    fn ensure_table(
        &mut self,
        stream: &str,
        properties: &serde_json::Map<String, Value>,
        keys: &[String],
    ) -> Result<()> {
        let mut wanted: Vec<(String, &'static str)> = properties
            .iter()
            .map(|(name, schema)| (name.clone(), sql_type(schema)))
            .collect();
        for key in keys {
            if !properties.contains_key(key) {
                wanted.push((key.clone(), ""));
            }
        }
        for (name, _) in &wanted {
            check_column(stream, name)?;
        }
        let existing = self.columns_of(stream)?;
        if existing.is_empty() {
            let mut defs: Vec<String> = wanted
                .iter()
                .map(|(name, ty)| {
                    let not_null = if keys.contains(name) { " NOT NULL" } else { "" };
                    format!("{} {ty}{not_null}", quote(name))
                })
                .collect();
            defs.push(format!("{} INTEGER", quote(VERSION_COLUMN)));
            defs.push(format!("{} INTEGER NOT NULL", quote(RUN_COLUMN)));
            if !keys.is_empty() {
                let keys: Vec<String> = keys.iter().map(|k| quote(k)).collect();
                defs.push(format!("PRIMARY KEY ({})", keys.join(", ")));
            }
            let sql = format!("CREATE TABLE {} ({})", quote(stream), defs.join(", "));
            self.conn.execute(&sql, [])?;
        } else {
            let primary: Vec<&String> = {
                let mut pk: Vec<&(String, i64)> = existing.iter().filter(|(_, p)| *p > 0).collect();
                pk.sort_by_key(|(_, p)| *p);
                pk.into_iter().map(|(name, _)| name).collect()
            };
            if primary
                .iter()
                .map(|s| s.as_str())
                .ne(keys.iter().map(String::as_str))
            {
                bail!(
                    "table `{stream}` has primary key ({}) but the stream's key is ({}); drop the table to sync it again",
                    primary
                        .iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                    keys.join(", ")
                );
            }
            let declared = self.declared_types(stream)?;
            let changed: BTreeMap<&str, &str> = wanted
                .iter()
                .filter(|(name, ty)| {
                    declared
                        .get(name)
                        .is_some_and(|have| !ty.is_empty() && !have.eq_ignore_ascii_case(ty))
                })
                .map(|(name, ty)| (name.as_str(), *ty))
                .collect();
            if !changed.is_empty() {
                self.rebuild(stream, &changed)?;
            }
            for (name, ty) in wanted.iter().filter(|(n, _)| !declared.contains_key(n)) {
                self.add_column(stream, name, ty)?;
            }
            // Tables of releases before table versions lack the column.
            if !declared.contains_key(VERSION_COLUMN) {
                self.add_column(stream, VERSION_COLUMN, "INTEGER")?;
            }
        }
        let columns: Vec<String> = self
            .columns_of(stream)?
            .into_iter()
            .map(|(n, _)| n)
            .filter(|n| n != RUN_COLUMN && n != VERSION_COLUMN)
            .collect();
        let table = Table::new(keys.to_vec(), columns, stream);
        self.tables.insert(stream.to_string(), table);
        Ok(())
    }

    fn add_column(&self, stream: &str, name: &str, ty: &str) -> Result<()> {
        let sql = format!(
            "ALTER TABLE {} ADD COLUMN {} {ty}",
            quote(stream),
            quote(name)
        );
        self.conn.execute(&sql, [])?;
        Ok(())
    }

    /// The declared type of each column of `table`.
    fn declared_types(&self, table: &str) -> Result<BTreeMap<String, String>> {
        let mut statement = self
            .conn
            .prepare("SELECT name, type FROM pragma_table_info(?1)")?;
        let rows = statement.query_map([table], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Gives the columns in `types` their new declared type the way SQLite
    /// changes a column: a new table, the rows copied (each value converted
    /// by the new column's affinity: integers become text losslessly, text
    /// that is a number becomes one, other text stays), the old table
    /// dropped and the new one renamed, all in the open transaction.
    fn rebuild(&self, stream: &str, types: &BTreeMap<&str, &str>) -> Result<()> {
        let mut statement = self.conn.prepare(
            "SELECT name, type, \"notnull\", pk FROM pragma_table_info(?1) ORDER BY cid",
        )?;
        let columns: Vec<(String, String, bool, i64)> = statement
            .query_map([stream], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })?
            .collect::<rusqlite::Result<_>>()?;
        let mut defs: Vec<String> = columns
            .iter()
            .map(|(name, ty, not_null, _)| {
                let ty = types.get(name.as_str()).copied().unwrap_or(ty.as_str());
                let not_null = if *not_null { " NOT NULL" } else { "" };
                format!("{} {ty}{not_null}", quote(name))
            })
            .collect();
        let mut keys: Vec<&(String, String, bool, i64)> =
            columns.iter().filter(|c| c.3 > 0).collect();
        keys.sort_by_key(|c| c.3);
        if !keys.is_empty() {
            let keys: Vec<String> = keys.iter().map(|c| quote(&c.0)).collect();
            defs.push(format!("PRIMARY KEY ({})", keys.join(", ")));
        }
        let names: Vec<String> = columns.iter().map(|c| quote(&c.0)).collect();
        self.conn.execute_batch(&format!(
            "CREATE TABLE {new} ({defs});
             INSERT INTO {new} ({names}) SELECT {names} FROM {old};
             DROP TABLE {old};
             ALTER TABLE {new} RENAME TO {old};",
            new = quote(&format!("_connector_rebuild_{stream}")),
            old = quote(stream),
            defs = defs.join(", "),
            names = names.join(", "),
        ))?;
        let changes: Vec<String> = types.iter().map(|(n, t)| format!("{n} {t}")).collect();
        tracing::info!(
            "database: columns of `{stream}` changed type in place ({})",
            changes.join(", ")
        );
        Ok(())
    }

    /// The condition, with its parameters numbered from `first`, on the rows
    /// of `stream` its completed run did not send: for a pass (a whole table
    /// with a version), rows no record of the version wrote whose bookmark
    /// is before the version, the pass's start; else rows of other runs.
    fn unsent(
        &self,
        stream: &str,
        whole_table: bool,
        first: usize,
    ) -> Result<(String, Vec<SqlValue>)> {
        let Some(&version) = self.versions.get(stream).filter(|_| whole_table) else {
            let sql = format!("{} IS NOT ?{first}", quote(RUN_COLUMN));
            return Ok((sql, vec![SqlValue::Integer(self.run_id)]));
        };
        let mut sql = format!("{} IS NOT ?{first}", quote(VERSION_COLUMN));
        let mut params = vec![SqlValue::Integer(version)];
        if let Some(column) = self.bookmark_columns.get(stream) {
            let started = version / 1000;
            let started = chrono::DateTime::from_timestamp(started, 0)
                .map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true))
                .ok_or_else(|| format_err!("stream `{stream}`: pass start {started} is no date"))?;
            sql.push_str(&format!(
                " AND ({0} IS NULL OR {0} < ?{1})",
                quote(column),
                first + 1
            ));
            params.push(SqlValue::Text(started));
        }
        Ok((sql, params))
    }

    /// Columns of `table` and their position in the primary key (0: none).
    fn columns_of(&self, table: &str) -> Result<Vec<(String, i64)>> {
        let mut statement = self
            .conn
            .prepare("SELECT name, pk FROM pragma_table_info(?1) ORDER BY cid")?;
        let rows = statement.query_map([table], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}

impl Table {
    /// The stream's own columns, without the two this sink adds.
    fn fields(&self) -> &[String] {
        &self.columns[..self.columns.len() - 2]
    }

    fn new(keys: Vec<String>, mut columns: Vec<String>, stream: &str) -> Self {
        columns.push(VERSION_COLUMN.to_string());
        columns.push(RUN_COLUMN.to_string());
        let names: Vec<String> = columns.iter().map(|c| quote(c)).collect();
        let placeholders: Vec<String> = (1..=columns.len()).map(|i| format!("?{i}")).collect();
        let mut upsert = format!(
            "INSERT INTO {} ({}) VALUES ({})",
            quote(stream),
            names.join(", "),
            placeholders.join(", ")
        );
        if !keys.is_empty() {
            let updates: Vec<String> = columns
                .iter()
                .filter(|c| !keys.contains(c))
                .map(|c| format!("{0} = excluded.{0}", quote(c)))
                .collect();
            let conflict: Vec<String> = keys.iter().map(|k| quote(k)).collect();
            upsert.push_str(&format!(
                " ON CONFLICT ({}) DO UPDATE SET {}",
                conflict.join(", "),
                updates.join(", ")
            ));
        }
        let known = columns.iter().cloned().collect();
        Self {
            keys,
            columns,
            known,
            upsert,
        }
    }
}

impl Sink for SqliteSink {
    fn schema(
        &mut self,
        stream: &str,
        schema: &RawValue,
        key_properties: &[String],
        bookmark_properties: &[String],
    ) -> Result<()> {
        check_stream(stream)?;
        match bookmark_properties.first() {
            Some(column) => self
                .bookmark_columns
                .insert(stream.to_string(), column.clone()),
            None => self.bookmark_columns.remove(stream),
        };
        let schema: Value = serde_json::from_str(schema.get())?;
        let empty = serde_json::Map::new();
        let properties = schema["properties"].as_object().unwrap_or(&empty);
        self.ensure_table(stream, properties, key_properties)?;
        Ok(())
    }

    fn records(&mut self, stream: &str, records: &[Box<RawValue>]) -> Result<()> {
        for raw in records {
            let record: serde_json::Map<String, Value> = serde_json::from_str(raw.get())?;
            if !self.tables.contains_key(stream) {
                bail!("records for undeclared stream `{stream}`");
            }
            if let Some(deleted_at) = record.get(DELETED_AT_COLUMN).filter(|v| !v.is_null()) {
                self.apply_tombstone(stream, &record, deleted_at)?;
                continue;
            }
            let table = &self.tables[stream];
            let new: Vec<String> = record
                .keys()
                .filter(|k| !table.known.contains(*k))
                .cloned()
                .collect();
            if !new.is_empty() {
                // A field the schema did not declare: keep it rather than drop it.
                for name in &new {
                    check_column(stream, name)?;
                    self.add_column(stream, name, "")?;
                }
                let table = &self.tables[stream];
                let columns = table.fields().iter().cloned().chain(new).collect();
                let rebuilt = Table::new(table.keys.clone(), columns, stream);
                self.tables.insert(stream.to_string(), rebuilt);
            }
            let table = &self.tables[stream];
            if let Some(key) = table
                .keys
                .iter()
                .find(|k| record.get(*k).is_none_or(Value::is_null))
            {
                bail!("a record of stream `{stream}` has no key property `{key}`");
            }
            let version = self.versions.get(stream).copied();
            let values = table.columns.iter().map(|column| {
                if column == RUN_COLUMN {
                    SqlValue::Integer(self.run_id)
                } else if column == VERSION_COLUMN {
                    version.map_or(SqlValue::Null, SqlValue::Integer)
                } else {
                    record.get(column).map_or(SqlValue::Null, to_sql)
                }
            });
            self.conn
                .prepare_cached(&table.upsert)?
                .execute(params_from_iter(values))?;
        }
        Ok(())
    }

    /// A whole table: rows its pass did not send are gone from the source,
    /// but for rows changed since the pass began, which paging may have missed.
    fn stream_complete(&mut self, stream: &str, whole_table: bool) -> Result<()> {
        let started_over = self.reset.iter().any(|s| s == stream);
        if !(whole_table || started_over) || !self.tables.contains_key(stream) {
            self.versions.remove(stream);
            return Ok(());
        }
        let (sql, params) = if self.soft_delete {
            self.ensure_deleted_at_column(stream)?;
            let (unsent, mut params) = self.unsent(stream, whole_table, 2)?;
            let sql = format!(
                "UPDATE {} SET {deleted_at} = ?1 WHERE {deleted_at} IS NULL AND {unsent}",
                quote(stream),
                deleted_at = quote(DELETED_AT_COLUMN),
            );
            params.insert(0, SqlValue::Text(now()));
            (sql, params)
        } else {
            let (unsent, params) = self.unsent(stream, whole_table, 1)?;
            (
                format!("DELETE FROM {} WHERE {unsent}", quote(stream)),
                params,
            )
        };
        self.conn.execute(&sql, params_from_iter(params))?;
        self.versions.remove(stream);
        Ok(())
    }

    /// Keys of the rows `stream_complete` would remove now, live ones only.
    fn absent_keys(&mut self, stream: &str, limit: u32) -> Result<Vec<String>> {
        let Some(table) = self.tables.get(stream) else {
            return Ok(Vec::new());
        };
        let [key] = table.keys.as_slice() else {
            return Ok(Vec::new());
        };
        if !self.versions.contains_key(stream) {
            return Ok(Vec::new());
        }
        let key = quote(key);
        let (mut unsent, mut params) = self.unsent(stream, true, 1)?;
        if self
            .columns_of(stream)?
            .iter()
            .any(|(c, _)| c == DELETED_AT_COLUMN)
        {
            unsent.push_str(&format!(" AND {} IS NULL", quote(DELETED_AT_COLUMN)));
        }
        params.push(SqlValue::Integer(limit.into()));
        let sql = format!(
            "SELECT CAST({key} AS TEXT) FROM {} WHERE {unsent} LIMIT ?{}",
            quote(stream),
            params.len()
        );
        let mut statement = self.conn.prepare(&sql)?;
        let keys = statement.query_map(params_from_iter(params), |r| r.get(0))?;
        Ok(keys.collect::<rusqlite::Result<_>>()?)
    }

    fn stream_version(&mut self, stream: &str, version: u64, _first_load: bool) -> Result<()> {
        let version = i64::try_from(version)
            .map_err(|_| format_err!("stream `{stream}`: table version {version} is too large"))?;
        self.versions.insert(stream.to_string(), version);
        Ok(())
    }

    fn checkpoint(&mut self, state: &RawValue) -> Result<()> {
        self.conn.execute(
            "INSERT INTO _connector_state (id, state, committed_at) VALUES (1, ?1, ?2)
             ON CONFLICT (id) DO UPDATE SET state = excluded.state, committed_at = excluded.committed_at",
            [state.get(), &now()],
        )?;
        self.conn.execute_batch("COMMIT; BEGIN IMMEDIATE")?;
        Ok(())
    }

    fn log(&mut self, level: LogLevel, message: &str) {
        crate::logging::guest(level, message);
    }
}

/// Brings the database's own tables to [`SCHEMA_VERSION`] in the open
/// transaction; a database of a newer release is refused untouched.
fn migrate(conn: &Connection) -> Result<()> {
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version > SCHEMA_VERSION {
        bail!(
            "written by a newer release (layout version {version}, this one knows up to {SCHEMA_VERSION}); upgrade intercom-connector"
        );
    }
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS _connector_state (
             id INTEGER PRIMARY KEY CHECK (id = 1),
             state TEXT NOT NULL,
             committed_at TEXT NOT NULL);
         CREATE TABLE IF NOT EXISTS _connector_runs (
             id INTEGER PRIMARY KEY AUTOINCREMENT,
             started_at TEXT NOT NULL,
             finished_at TEXT);",
    )?;
    let has_reset: i64 = conn.query_row(
        "SELECT count(*) FROM pragma_table_info('_connector_runs') WHERE name = 'reset'",
        [],
        |r| r.get(0),
    )?;
    if has_reset == 0 {
        conn.execute_batch("ALTER TABLE _connector_runs ADD COLUMN reset TEXT")?;
    }
    conn.execute_batch(&format!("PRAGMA user_version = {SCHEMA_VERSION}"))?;
    Ok(())
}

fn now() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Quotes an identifier for SQL.
fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Stream names come from the guest and become table names: lowercase
/// letters, digits and `_`, starting with a letter, so they can never name
/// this sink's own `_connector_*` tables or SQLite's.
fn check_stream(stream: &str) -> Result<()> {
    let mut chars = stream.chars();
    let valid = chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && stream.len() <= 64
        && !stream.starts_with("sqlite_");
    if !valid {
        bail!(
            "stream name `{stream}` is not a valid table name ([a-z][a-z0-9_]*, at most 64, not sqlite_*)"
        );
    }
    Ok(())
}

/// Field names are quoted, so any text works except what SQL text cannot
/// carry, and the run column is ours.
fn check_column(stream: &str, name: &str) -> Result<()> {
    if name.is_empty() || name.len() > 128 || name.chars().any(char::is_control) {
        bail!("stream `{stream}` has a field name unfit for a column: {name:?}");
    }
    for reserved in [RUN_COLUMN, VERSION_COLUMN] {
        if name.eq_ignore_ascii_case(reserved) {
            bail!("stream `{stream}` has a field named `{reserved}`, which the database reserves");
        }
    }
    Ok(())
}

/// The column type for a property's JSON Schema. Mixed or unknown types get
/// no declared type, so SQLite keeps each value as it comes.
fn sql_type(schema: &Value) -> &'static str {
    let types: Vec<&str> = match &schema["type"] {
        Value::String(t) => vec![t.as_str()],
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    let types: Vec<&str> = types.into_iter().filter(|t| *t != "null").collect();
    match types.as_slice() {
        ["integer"] | ["boolean"] => "INTEGER",
        ["number"] | ["integer", "number"] | ["number", "integer"] => "REAL",
        ["string"] | ["object"] | ["array"] => "TEXT",
        _ => "",
    }
}

/// Scalars as themselves (booleans 0/1), objects and arrays as JSON text.
fn to_sql(value: &Value) -> SqlValue {
    match value {
        Value::Null => SqlValue::Null,
        Value::Bool(b) => SqlValue::Integer(i64::from(*b)),
        Value::Number(n) => match n.as_i64() {
            Some(i) => SqlValue::Integer(i),
            None => SqlValue::Real(n.as_f64().unwrap_or(f64::NAN)),
        },
        Value::String(s) => SqlValue::Text(s.clone()),
        other => SqlValue::Text(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn raw(v: Value) -> Box<RawValue> {
        RawValue::from_string(v.to_string()).unwrap()
    }

    fn schema(properties: Value) -> Box<RawValue> {
        raw(json!({ "properties": properties }))
    }

    #[test]
    fn types_upserts_and_evolves_columns() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let mut sink = SqliteSink::open(&path).unwrap();
        let props = json!({"id": {"type": "string"}, "n": {"type": ["integer", "null"]},
            "ok": {"type": ["boolean", "null"]}, "tags": {"type": ["array", "null"]}});
        sink.schema("things", &schema(props), &["id".into()], &["n".into()])
            .unwrap();
        let rows = [
            raw(json!({"id": "a", "n": 1, "ok": true, "tags": ["x"]})),
            raw(json!({"id": "a", "n": 2, "ok": false, "tags": []})),
        ];
        sink.records("things", &rows).unwrap();
        sink.checkpoint(&raw(json!({"version": 1}))).unwrap();
        sink.finish().unwrap();

        let mut sink = SqliteSink::open(&path).unwrap();
        assert_eq!(sink.state().unwrap().as_deref(), Some(r#"{"version":1}"#));
        let props = json!({"id": {"type": "string"}, "extra": {"type": "number"}});
        sink.schema("things", &schema(props), &["id".into()], &["n".into()])
            .unwrap();
        sink.records("things", &[raw(json!({"id": "b", "extra": 1.5}))])
            .unwrap();
        sink.finish().unwrap();

        let conn = Connection::open(&path).unwrap();
        let row: (i64, i64, String, String) = conn
            .query_row(
                "SELECT n, ok, tags, typeof(n) FROM things WHERE id = 'a'",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .unwrap();
        assert_eq!(row, (2, 0, "[]".into(), "integer".into()));
        let extra: f64 = conn
            .query_row("SELECT extra FROM things WHERE id = 'b'", [], |r| r.get(0))
            .unwrap();
        assert_eq!(extra, 1.5);
    }

    /// Loads a conversation with two parts and another with one, then
    /// tombstones the first; returns the rows left, as `table:id:deleted_at`.
    fn after_tombstone(soft_delete: bool, kill_before_checkpoint: bool) -> Vec<String> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let mut sink = SqliteSink::open(&path).unwrap();
        let conversation = json!({"id": {"type": "string"},
            "_sdc_deleted_at": {"type": ["null", "string"]}});
        let part = json!({"id": {"type": "string"}, "conversation_id": {"type": "string"}});
        sink.schema(
            "conversations",
            &schema(conversation),
            &["id".into()],
            &["updated_at".into()],
        )
        .unwrap();
        sink.schema(
            "conversation_parts",
            &schema(part),
            &["id".into()],
            &["updated_at".into()],
        )
        .unwrap();
        sink.records(
            "conversations",
            &[raw(json!({"id": "1"})), raw(json!({"id": "2"}))],
        )
        .unwrap();
        let parts = [
            raw(json!({"id": "p1", "conversation_id": "1"})),
            raw(json!({"id": "p2", "conversation_id": "1"})),
            raw(json!({"id": "p3", "conversation_id": "2"})),
        ];
        sink.records("conversation_parts", &parts).unwrap();
        sink.checkpoint(&raw(json!({"version": 1}))).unwrap();
        let deleted_at = "2026-12-01T00:00:00Z";
        let tombstone = raw(json!({"id": "1", "_sdc_deleted_at": deleted_at}));
        let catalog = json!({"streams": [{"tap_stream_id": "conversation_parts", "metadata": [
            {"breadcrumb": [], "metadata": {"parent-tap-stream-id": "conversations",
                "parent-key-properties": ["conversation_id"]}}]}]});
        let mut sink = sink
            .with_soft_delete(soft_delete)
            .with_children_from(&catalog);
        sink.records("conversations", &[tombstone]).unwrap();
        if kill_before_checkpoint {
            drop(sink);
        } else {
            sink.checkpoint(&raw(json!({"version": 1}))).unwrap();
            sink.finish().unwrap();
        }
        let conn = Connection::open(&path).unwrap();
        let mut rows = Vec::new();
        for table in ["conversations", "conversation_parts"] {
            let has_mark = conn
                .prepare(&format!("SELECT _sdc_deleted_at FROM {table}"))
                .is_ok();
            let mark = if has_mark { "_sdc_deleted_at" } else { "''" };
            let sql = format!("SELECT id, coalesce({mark}, '') FROM {table} ORDER BY id");
            let mut statement = conn.prepare(&sql).unwrap();
            let found = statement
                .query_map([], |r| {
                    Ok(format!(
                        "{table}:{}:{}",
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?
                    ))
                })
                .unwrap();
            rows.extend(found.map(Result::unwrap));
        }
        rows
    }

    #[test]
    fn a_tombstone_deletes_its_row_and_children_when_committed() {
        assert_eq!(
            after_tombstone(false, false),
            ["conversations:2:", "conversation_parts:p3:"]
        );
        assert_eq!(
            after_tombstone(false, true).len(),
            5,
            "a killed run deletes nothing"
        );
    }

    #[test]
    fn soft_delete_marks_the_row_and_children() {
        let at = "2026-12-01T00:00:00Z";
        assert_eq!(
            after_tombstone(true, false),
            [
                format!("conversations:1:{at}"),
                "conversations:2:".to_string(),
                format!("conversation_parts:p1:{at}"),
                format!("conversation_parts:p2:{at}"),
                "conversation_parts:p3:".to_string(),
            ]
        );
    }

    #[test]
    fn whole_tables_are_swept_only_when_complete() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let props = json!({"id": {"type": "string"}});
        let count = |path: &Path| -> i64 {
            Connection::open(path)
                .unwrap()
                .query_row("SELECT count(*) FROM tags", [], |r| r.get(0))
                .unwrap()
        };
        let mut sink = SqliteSink::open(&path).unwrap();
        sink.schema("tags", &schema(props.clone()), &["id".into()], &[])
            .unwrap();
        sink.records("tags", &[raw(json!({"id": "a"})), raw(json!({"id": "b"}))])
            .unwrap();
        sink.stream_complete("tags", true).unwrap();
        sink.checkpoint(&raw(json!({}))).unwrap();
        sink.finish().unwrap();
        assert_eq!(count(&path), 2);

        // Complete but not whole (an incremental pass) keeps every row.
        let mut sink = SqliteSink::open(&path).unwrap();
        sink.schema("tags", &schema(props.clone()), &["id".into()], &[])
            .unwrap();
        sink.records("tags", &[raw(json!({"id": "c"}))]).unwrap();
        sink.stream_complete("tags", false).unwrap();
        sink.checkpoint(&raw(json!({}))).unwrap();
        sink.finish().unwrap();
        assert_eq!(count(&path), 3);

        // A run that stops mid-stream keeps the old rows beside the new.
        let mut sink = SqliteSink::open(&path).unwrap();
        sink.schema("tags", &schema(props.clone()), &["id".into()], &[])
            .unwrap();
        sink.records("tags", &[raw(json!({"id": "d"}))]).unwrap();
        sink.checkpoint(&raw(json!({}))).unwrap();
        drop(sink);
        assert_eq!(count(&path), 4);

        // The sweep commits with the checkpoint after `stream-complete`.
        let mut sink = SqliteSink::open(&path).unwrap();
        sink.schema("tags", &schema(props), &["id".into()], &[])
            .unwrap();
        sink.records("tags", &[raw(json!({"id": "a"}))]).unwrap();
        sink.stream_complete("tags", true).unwrap();
        drop(sink);
        assert_eq!(count(&path), 4);
        let mut sink = SqliteSink::open(&path).unwrap();
        sink.schema(
            "tags",
            &schema(json!({"id": {"type": "string"}})),
            &["id".into()],
            &[],
        )
        .unwrap();
        sink.records("tags", &[raw(json!({"id": "a"}))]).unwrap();
        sink.stream_complete("tags", true).unwrap();
        sink.checkpoint(&raw(json!({}))).unwrap();
        drop(sink);
        assert_eq!(count(&path), 1);
    }

    #[test]
    fn a_complete_pass_keeps_rows_changed_since_it_began() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let props = json!({"id": {"type": "string"}, "updated_at": {"type": "string"}});
        let declare = |sink: &mut SqliteSink| {
            sink.schema(
                "companies",
                &schema(props.clone()),
                &["id".into()],
                &["updated_at".into()],
            )
            .unwrap();
        };
        let mut sink = SqliteSink::open(&path).unwrap();
        declare(&mut sink);
        let rows = [
            raw(json!({"id": "gone", "updated_at": "2026-11-30T23:59:59Z"})),
            raw(json!({"id": "missed", "updated_at": "2026-12-01T00:00:00Z"})),
            raw(json!({"id": "sent", "updated_at": "2026-11-01T00:00:00Z"})),
        ];
        sink.records("companies", &rows).unwrap();
        sink.checkpoint(&raw(json!({}))).unwrap();
        sink.finish().unwrap();

        // A pass begun at 2026-12-01T00:00:00Z sends only `sent` again.
        let mut sink = SqliteSink::open(&path).unwrap();
        declare(&mut sink);
        sink.stream_version("companies", 1_796_083_200_000, false)
            .unwrap();
        sink.records("companies", &rows[2..]).unwrap();
        sink.stream_complete("companies", true).unwrap();
        sink.checkpoint(&raw(json!({}))).unwrap();
        sink.finish().unwrap();
        let conn = Connection::open(&path).unwrap();
        let mut statement = conn
            .prepare("SELECT id FROM companies ORDER BY id")
            .unwrap();
        let ids: Vec<String> = statement
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(ids, ["missed", "sent"]);
    }

    #[test]
    fn absent_keys_are_the_rows_a_pass_would_sweep_and_a_resumed_pass_keeps_its_own() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let props = json!({"id": {"type": "string"}, "updated_at": {"type": "string"},
            "_sdc_deleted_at": {"type": ["null", "string"]}});
        let open = |soft: bool| {
            let mut sink = SqliteSink::open(&path).unwrap().with_soft_delete(soft);
            sink.schema(
                "contacts",
                &schema(props.clone()),
                &["id".into()],
                &["updated_at".into()],
            )
            .unwrap();
            sink
        };
        let row = |id: &str, at: &str| raw(json!({"id": id, "updated_at": at}));
        let old = "2026-11-01T00:00:00Z";
        let mut sink = open(false);
        let rows: Vec<_> = ["a", "b", "c", "d"].iter().map(|id| row(id, old)).collect();
        sink.records("contacts", &rows).unwrap();
        sink.records("contacts", &[row("e", "2026-12-01T00:00:00Z")])
            .unwrap();
        sink.checkpoint(&raw(json!({}))).unwrap();
        sink.finish().unwrap();
        // A pass begun at 2026-12-01T00:00:00Z sends `a`, commits, and is killed.
        let version = 1_796_083_200_000;
        let mut sink = open(false);
        sink.stream_version("contacts", version, false).unwrap();
        assert_eq!(sink.absent_keys("contacts", 10).unwrap().len(), 4);
        sink.records("contacts", &[row("a", old)]).unwrap();
        sink.checkpoint(&raw(json!({}))).unwrap();
        drop(sink);
        // Resumed, it keeps its version: `a` is sent, `e` changed since it began.
        let mut sink = open(true);
        assert!(
            sink.absent_keys("contacts", 10).unwrap().is_empty(),
            "no pass"
        );
        sink.stream_version("contacts", version, false).unwrap();
        sink.records("contacts", &[row("b", old)]).unwrap();
        let mut absent = sink.absent_keys("contacts", 10).unwrap();
        absent.sort();
        assert_eq!(absent, ["c", "d"]);
        assert_eq!(sink.absent_keys("contacts", 1).unwrap().len(), 1);
        // `c` still exists, `d` is confirmed deleted: nothing is left to confirm.
        let tombstone = raw(json!({"id": "d", "_sdc_deleted_at": "2026-12-01T00:00:05Z"}));
        sink.records("contacts", &[row("c", old), tombstone])
            .unwrap();
        assert!(sink.absent_keys("contacts", 10).unwrap().is_empty());
        sink.stream_complete("contacts", true).unwrap();
        sink.checkpoint(&raw(json!({}))).unwrap();
        sink.finish().unwrap();
        let conn = Connection::open(&path).unwrap();
        let rows: Vec<(String, bool)> = conn
            .prepare("SELECT id, _sdc_deleted_at IS NOT NULL FROM contacts ORDER BY id")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let expected = [
            ("a", false),
            ("b", false),
            ("c", false),
            ("d", true),
            ("e", false),
        ];
        let expected: Vec<(String, bool)> = expected
            .iter()
            .map(|(id, d)| (id.to_string(), *d))
            .collect();
        assert_eq!(rows, expected);
    }

    #[test]
    fn under_soft_delete_a_sweep_marks_the_rows_it_would_delete() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let props = json!({"id": {"type": "string"}});
        for (run, ids) in [["a", "b"], ["a", "a"]].into_iter().enumerate() {
            let mut sink = SqliteSink::open(&path).unwrap().with_soft_delete(run > 0);
            sink.schema("tags", &schema(props.clone()), &["id".into()], &[])
                .unwrap();
            let rows: Vec<_> = ids.iter().map(|id| raw(json!({"id": id}))).collect();
            sink.records("tags", &rows).unwrap();
            sink.stream_complete("tags", true).unwrap();
            sink.checkpoint(&raw(json!({}))).unwrap();
            sink.finish().unwrap();
        }
        let conn = Connection::open(&path).unwrap();
        let marked: Vec<(String, bool)> = conn
            .prepare("SELECT id, _sdc_deleted_at IS NOT NULL FROM tags ORDER BY id")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(marked, [("a".to_string(), false), ("b".to_string(), true)]);
    }

    #[test]
    fn a_first_release_database_migrates_and_changed_column_types_rebuild_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        // The first release's layout, with an id column a later schema types as text.
        let old = Connection::open(&path).unwrap();
        old.execute_batch(
            "CREATE TABLE _connector_state (id INTEGER PRIMARY KEY CHECK (id = 1),
                 state TEXT NOT NULL, committed_at TEXT NOT NULL);
             CREATE TABLE _connector_runs (id INTEGER PRIMARY KEY AUTOINCREMENT,
                 started_at TEXT NOT NULL, finished_at TEXT);
             INSERT INTO _connector_state VALUES (1, '{\"version\":1}', '2026-12-01T00:00:00Z');
             CREATE TABLE parts (\"id\" INTEGER NOT NULL, \"body\" TEXT,
                 \"_sdc_run_id\" INTEGER NOT NULL, PRIMARY KEY (\"id\"));
             INSERT INTO parts VALUES (7, 'seven', 1), (8, 'eight', 1);",
        )
        .unwrap();
        drop(old);

        let mut sink = SqliteSink::open(&path).unwrap();
        assert_eq!(sink.state().unwrap().as_deref(), Some(r#"{"version":1}"#));
        let props = json!({"id": {"type": "string"}, "body": {"type": ["string", "null"]}});
        sink.schema("parts", &schema(props), &["id".into()], &["id".into()])
            .unwrap();
        sink.records("parts", &[raw(json!({"id": "7", "body": "again"}))])
            .unwrap();
        sink.finish().unwrap();

        let conn = Connection::open(&path).unwrap();
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(version, SCHEMA_VERSION);
        let id_type: String = conn
            .query_row(
                "SELECT type FROM pragma_table_info('parts') WHERE name = 'id'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(id_type, "TEXT");
        let rows: Vec<(String, String, String)> = conn
            .prepare("SELECT id, typeof(id), body FROM parts ORDER BY id")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        // The old integer 7 became "7", so the new record updated it.
        assert_eq!(
            rows,
            [
                ("7".into(), "text".into(), "again".into()),
                ("8".into(), "text".into(), "eight".into())
            ]
        );
        conn.execute_batch("PRAGMA user_version = 99").unwrap();
        drop(conn);
        let e = SqliteSink::open(&path).err().unwrap().to_string();
        assert!(e.contains("newer release"), "{e}");
    }

    #[test]
    fn a_stream_started_over_loses_the_rows_its_run_did_not_write() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let props = json!({"id": {"type": "string"}, "updated_at": {"type": "string"}});
        let ids = |path: &Path| -> Vec<String> {
            let conn = Connection::open(path).unwrap();
            let mut statement = conn.prepare("SELECT id FROM contacts ORDER BY id").unwrap();
            let rows = statement.query_map([], |r| r.get(0)).unwrap();
            rows.collect::<rusqlite::Result<_>>().unwrap()
        };
        let keys = (vec!["id".to_string()], vec!["updated_at".to_string()]);
        let mut sink = SqliteSink::open(&path).unwrap();
        sink.schema("contacts", &schema(props.clone()), &keys.0, &keys.1)
            .unwrap();
        sink.records(
            "contacts",
            &[raw(json!({"id": "a"})), raw(json!({"id": "b"}))],
        )
        .unwrap();
        sink.stream_complete("contacts", false).unwrap();
        sink.finish().unwrap();
        // Incremental: a run that does not start over keeps what it did not see.
        let mut sink = SqliteSink::open(&path).unwrap();
        sink.schema("contacts", &schema(props.clone()), &keys.0, &keys.1)
            .unwrap();
        sink.records("contacts", &[raw(json!({"id": "c"}))])
            .unwrap();
        sink.stream_complete("contacts", false).unwrap();
        sink.finish().unwrap();
        assert_eq!(ids(&path), ["a", "b", "c"]);
        let mut sink = SqliteSink::open(&path).unwrap();
        sink.start_over(&["contacts".into()]).unwrap();
        sink.schema("contacts", &schema(props), &keys.0, &keys.1)
            .unwrap();
        sink.records("contacts", &[raw(json!({"id": "b"}))])
            .unwrap();
        // Swept when its run completes, though the stream is incremental.
        sink.stream_complete("contacts", false).unwrap();
        sink.finish().unwrap();
        assert_eq!(ids(&path), ["b"]);
        let reset: String = Connection::open(&path)
            .unwrap()
            .query_row(
                "SELECT reset FROM _connector_runs ORDER BY id DESC LIMIT 1",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(reset, "contacts");
    }

    #[test]
    fn rejects_names_unfit_for_tables() {
        let dir = tempfile::tempdir().unwrap();
        let mut sink = SqliteSink::open(&dir.path().join("t.db")).unwrap();
        let props = schema(json!({}));
        for bad in [
            "",
            "_connector_state",
            "Tags",
            "a-b",
            "sqlite_master",
            "x\"y",
        ] {
            assert!(sink.schema(bad, &props, &[], &[]).is_err(), "{bad}");
        }
    }
}

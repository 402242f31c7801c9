//! The generic sync loop. Streams are grouped by root (a stream without a
//! parent); each root's pages are read once and feed the root's records and
//! its children's requests. Bookmarks only move past emitted records and are
//! checkpointed after every page of a search while its keys ascend; a record
//! without its key never moves a bookmark past it.

use std::collections::{HashMap, HashSet};

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::api::{Api, path_segment};
use crate::catalog::Selected;
use crate::config::Config;
use crate::custom_dates;
use crate::error::{Error, Result};
use crate::host::{Host, LogLevel};
use crate::page::Page;
use crate::pager::{ListPager, Pager, PassPager, ScrollPager, SearchPager};
use crate::record::{FieldName, Record, Records};
use crate::shape::RecordShape;
use crate::state::{ListPosition, Sent, State};
use crate::streams::{
    CompletePass, DELETED_AT_FIELD, DateMatching, Deletions, Parent, PassList, RECORD_HASH_FIELD,
    STREAMS, Source, StreamDef, deletions_of,
};

const DAY: i64 = 86_400;
const HOUR_MS: i64 = 3_600_000;
/// Rows a complete pass did not send, asked of the host and confirmed (one
/// `GET` each, in one batch) at a time.
const CONFIRM_BATCH: u32 = 100;
/// Most records a stream remembers as sent within its lookback; with more,
/// the next run sends them all again.
const RECENT_LIMIT: usize = 1_000;

/// Replicates the selected streams, moving their bookmarks.
pub struct Replicator<'a> {
    api: &'a Api<'a>,
    config: &'a Config,
    state: State,
    /// Streams the token may not read, skipped with a warning.
    skipped: Vec<&'static str>,
    /// Custom date attribute names, by the attribute stream they come from.
    custom_dates: HashMap<&'static str, Vec<String>>,
}

/// One selected stream during a run.
struct Run {
    stream: &'static StreamDef,
    shape: RecordShape,
    /// Lower bound (UNIX seconds) of the replication key to emit, or, for
    /// `Parent::Changed` children, of the parents to read.
    since: Option<i64>,
    /// Highest key emitted (or parent key read) so far.
    reached: Option<i64>,
    emitted: u64,
    /// Keys already emitted, for children read from every parent.
    seen: HashSet<String>,
    /// Whether keys arrive ascending (a search), so checkpoints may move
    /// the bookmark before the read ends.
    ordered: bool,
    /// Last key read, to see whether an ordered source keeps its order.
    last: Option<i64>,
    /// An ordered source sent a key below one before it: until the read
    /// ends, only `since` is known to have everything before it.
    disordered: bool,
    /// A record without its key was read when the run had reached this
    /// far: the bookmark stays at or below it.
    cap: Option<i64>,
    /// This run sends the whole table: a full-table stream, or a complete
    /// pass of an incremental one.
    whole: bool,
    /// How far before its bookmark the read starts (seconds), for a search
    /// and the children of one, since the index lags writes.
    lookback: i64,
    /// What an earlier run sent within the lookback (by id), not sent
    /// or fetched again while unchanged.
    known: HashMap<String, Sent>,
    /// What the state will say was sent within the lookback.
    recent: HashMap<String, Sent>,
    /// Size of `recent` at which what fell out of the lookback is dropped.
    prune_at: usize,
}

impl Run {
    /// Notes one replication key read (None: the record lacks it).
    fn observe(&mut self, host: &dyn Host, key: &str, value: Option<i64>, record: &Record) {
        let Some(value) = value else {
            let here = self.reached.or(self.since);
            self.cap = self.cap.min(here).or(here);
            let id = record.text("id").unwrap_or_default();
            host.log(
                LogLevel::Warn,
                &format!(
                    "{}: record {id} has no integer `{key}`; emitted, and the bookmark does not move past it",
                    self.stream.name
                ),
            );
            return;
        };
        if self.ordered && !self.disordered && self.last.is_some_and(|last| value < last) {
            self.disordered = true;
            host.log(
                LogLevel::Warn,
                &format!(
                    "{}: the API returned `{key}` out of ascending order; the bookmark stays at the run's start until every page is read",
                    self.stream.name
                ),
            );
        }
        self.last = Some(value);
        self.reached = self.reached.max(Some(value));
    }

    /// The lowest key the next run reads again: the lookback before the
    /// highest key so far.
    fn lookback_floor(&self) -> i64 {
        self.reached
            .unwrap_or(i64::MIN)
            .saturating_sub(self.lookback)
    }

    /// Whether a record with this key may be read again by the next run,
    /// and so is worth remembering (and fingerprinting).
    fn rereads(&self, key: i64) -> bool {
        self.lookback > 0 && key >= self.lookback_floor()
    }

    /// Whether `record` (or a child's parent), with this key, was sent
    /// before as it is now; if not, it is remembered as sent now. For
    /// keys [`Run::rereads`] accepts.
    fn sent_before(&mut self, id: String, key: i64, record: &Record) -> bool {
        let floor = self.lookback_floor();
        let sent = Sent {
            key,
            fingerprint: record.fingerprint(),
        };
        if self.known.get(&id) == Some(&sent) {
            return true;
        }
        self.recent.insert(id, sent);
        if self.recent.len() > self.prune_at {
            self.recent.retain(|_, sent| sent.key >= floor);
            // Doubling the next threshold keeps a burst of changes linear.
            self.prune_at = (2 * self.recent.len()).max(2 * RECENT_LIMIT);
        }
        false
    }

    /// The bookmark to save: how far everything is known read.
    fn bookmark(&self, read_complete: bool) -> Option<i64> {
        let reached = match read_complete || !self.disordered {
            true => self.reached,
            false => self.since,
        };
        match (reached, self.cap) {
            (Some(reached), Some(cap)) => Some(reached.min(cap)),
            (reached, cap) => reached.or(cap),
        }
    }
}

impl<'a> Replicator<'a> {
    pub fn new(api: &'a Api<'a>, config: &'a Config, state: State) -> Self {
        Self {
            api,
            config,
            state,
            skipped: Vec::new(),
            custom_dates: HashMap::new(),
        }
    }

    pub fn state(&self) -> &State {
        &self.state
    }

    pub fn run(&mut self, selected: &[Selected]) -> Result<()> {
        // Attribute streams first: the streams after them learn their
        // custom date attributes at no extra request.
        let roots = STREAMS.iter().filter(|s| s.parent().is_none());
        let (sources, others): (Vec<_>, Vec<_>) = roots.partition(|s| s.is_custom_dates_source());
        for root in sources.into_iter().chain(others) {
            let own = selected.iter().find(|s| s.stream.name == root.name);
            let children: Vec<&Selected> = selected
                .iter()
                .filter(|s| s.stream.parent().map(Parent::name) == Some(root.name))
                .collect();
            if own.is_none() && children.is_empty() {
                continue;
            }
            match self.sync_root(root, own, &children) {
                Err(e) if e.is_refusal() => {
                    for run in own.iter().chain(&children) {
                        self.skip(run.stream, &e);
                    }
                    // What was emitted before the refusal stays committed.
                    self.api.host().checkpoint(&self.state.to_json())?;
                }
                other => other?,
            }
        }
        if !self.skipped.is_empty() {
            self.api.host().log(
                LogLevel::Warn,
                &format!(
                    "{} stream(s) skipped for want of permission: {}",
                    self.skipped.len(),
                    self.skipped.join(", ")
                ),
            );
        }
        Ok(())
    }

    /// Skips `stream`, which the token may not read, with one warning.
    fn skip(&mut self, stream: &'static StreamDef, refusal: &Error) {
        if self.skipped.contains(&stream.name) {
            return;
        }
        self.skipped.push(stream.name);
        let reason = format!(
            "the token may not read it; grant the app the `{}` permission ({})",
            stream.permission, refusal.message
        );
        let host = self.api.host();
        host.log(
            LogLevel::Warn,
            &format!("skipped stream `{}`: {reason}", stream.name),
        );
        host.stream_skipped(stream.name, &reason);
    }

    /// The custom date attributes of `source`, read now unless this run
    /// already read that stream. A token that may not read them leaves the
    /// values as Intercom sends them, with a warning.
    fn custom_dates_of(&mut self, stream: &StreamDef, source: &'static str) -> Result<Vec<String>> {
        if let Some(names) = self.custom_dates.get(source) {
            return Ok(names.clone());
        }
        let def = crate::streams::find(source)
            .ok_or_else(|| Error::internal(format!("{}: no stream `{source}`", stream.name)))?;
        let names = match custom_dates::fetch(self.api, def, false) {
            Err(e) if e.is_refusal() => {
                self.api.host().log(
                    LogLevel::Warn,
                    &format!(
                        "{}: custom date attributes stay UNIX seconds this run: the token may not read `{source}` (grant `{}`): {}",
                        stream.name, def.permission, e.message
                    ),
                );
                Vec::new()
            }
            other => other?,
        };
        self.custom_dates.insert(source, names.clone());
        Ok(names)
    }

    fn start_run(&mut self, selection: &Selected) -> Result<Run> {
        let stream = selection.stream;
        let mut schema: Value = serde_json::from_str(stream.schema)
            .map_err(|e| Error::internal(format!("{}: bad built-in schema: {e}", stream.name)))?;
        if let Some(source) = stream.shaping.custom_dates
            && !selection.excluded_fields.contains(custom_dates::FIELD)
        {
            let names = self.custom_dates_of(stream, source)?;
            custom_dates::declare(&mut schema, &names);
        }
        if let Some(properties) = schema["properties"].as_object_mut() {
            properties.retain(|field, _| !selection.excluded_fields.contains(field));
            if stream.has_tombstones() {
                properties.insert(
                    DELETED_AT_FIELD.to_string(),
                    json!({
                        "type": ["null", "string"],
                        "format": "date-time",
                        "description": "When the record was deleted; set only on tombstones.",
                    }),
                );
            }
        }
        let keys: Vec<String> = stream
            .key_properties
            .iter()
            .map(|k| k.to_string())
            .collect();
        let bookmarks: Vec<String> = stream
            .replication
            .key()
            .map(String::from)
            .into_iter()
            .collect();
        self.api
            .host()
            .schema(stream.name, &schema.to_string(), &keys, &bookmarks);
        let whole = stream.sends_whole_table()
            || (stream.has_complete_passes()
                && self.state.complete_pass_due(
                    stream.name,
                    self.api.host().now_ms() as i64,
                    i64::from(self.config.complete_pass_interval_hours) * HOUR_MS,
                ));
        let searched = |s: &StreamDef| matches!(s.source, Source::Search { .. });
        let lookback = match stream.parent() {
            None if searched(stream) => self.config.search_lookback_seconds,
            Some(Parent::Changed { stream: parent, .. })
                if crate::streams::find(parent).is_some_and(searched) =>
            {
                self.config.search_lookback_seconds
            }
            _ => 0,
        };
        // What was sent is known only together with the bookmark it was
        // sent below: a state stripped of the bookmark starts over.
        let bookmark = match stream.replication.key() {
            Some(_) => self.state.bookmark(stream.name, stream.bookmark_field())?,
            None => None,
        };
        let starts_over = lookback == 0 || bookmark.is_none();
        let known = match whole || starts_over {
            true => HashMap::new(),
            false => self.state.recent(stream.name),
        };
        let since = match stream.replication.key() {
            None => None,
            Some(_) if whole => {
                self.api.host().log(
                    LogLevel::Info,
                    &format!("{}: a complete pass, every record sent", stream.name),
                );
                Some(self.config.start_date.timestamp())
            }
            Some(_) => Some(match bookmark {
                Some(b) => b - lookback,
                None => self.config.start_date.timestamp(),
            }),
        };
        Ok(Run {
            stream,
            shape: RecordShape::new(&schema, selection.excluded_fields.clone()),
            since,
            reached: None,
            emitted: 0,
            seen: HashSet::new(),
            ordered: false,
            last: None,
            disordered: false,
            cap: None,
            whole,
            lookback,
            recent: known.clone(),
            known,
            prune_at: 2 * RECENT_LIMIT,
        })
    }

    fn sync_root(
        &mut self,
        root: &'static StreamDef,
        own: Option<&Selected>,
        children: &[&Selected],
    ) -> Result<()> {
        let mut own = own.map(|s| self.start_run(s)).transpose()?;
        let mut children = children
            .iter()
            .map(|s| self.start_run(s))
            .collect::<Result<Vec<_>>>()?;
        // A stream sent whole gets a table version, committed before its
        // first record so a resumed pass keeps it. It is the pass's start by
        // the server's clock when known, so a destination can compare it
        // with `updated_at`.
        let started_ms = match self.api.server_date() {
            Some(seconds) => seconds * 1000,
            None => self.api.host().now_ms() as i64,
        };
        let whole: Vec<&'static str> = own
            .iter()
            .chain(&children)
            .filter(|run| run.whole)
            .map(|run| run.stream.name)
            .collect();
        let versions: Vec<(&str, i64, bool)> = whole
            .iter()
            .map(|stream| {
                let (version, first_load) = self.state.begin_table_version(stream, started_ms);
                (*stream, version, first_load)
            })
            .collect();
        if !versions.is_empty() {
            self.api.host().checkpoint(&self.state.to_json())?;
        }
        let own_version = versions
            .iter()
            .find(|(stream, ..)| *stream == root.name)
            .map(|(_, version, _)| *version);
        for (stream, version, first_load) in versions {
            let version = u64::try_from(version).unwrap_or_default();
            self.api.host().stream_version(stream, version, first_load);
        }
        // Read parents from the earliest point any of the runs needs.
        let lower = own
            .iter()
            .map(|r| r.since)
            .chain(
                children
                    .iter()
                    .filter(|c| matches!(c.stream.parent(), Some(Parent::Changed { .. })))
                    .map(|c| c.since),
            )
            .map(|since| since.unwrap_or(i64::MIN))
            .min();
        let pass_list = root.complete_pass.as_ref().and_then(|p| p.list.as_ref());
        let (mut pager, monotonic) = match (pass_list, own_version) {
            (Some(list), Some(version)) => (self.pass_pager(root, list, version)?, false),
            _ => (
                self.pager(root, lower)?,
                matches!(
                    root.source,
                    Source::Search {
                        dates: DateMatching::Seconds,
                        ..
                    }
                ),
            ),
        };
        for run in own.iter_mut().chain(&mut children) {
            run.ordered = monotonic;
        }
        while let Some(mut page) = pager.next_page(self.api)? {
            let records = page.records();
            if own.is_some() && root.is_custom_dates_source() {
                let names = custom_dates::date_names(&records);
                self.custom_dates
                    .entry(root.name)
                    .or_default()
                    .extend(names);
            }
            let mut refused = Vec::new();
            for (i, child) in children.iter_mut().enumerate() {
                match self.sync_children(root, child, &records) {
                    Err(e) if e.is_refusal() => refused.push((i, e)),
                    other => other?,
                }
            }
            for (i, e) in refused.into_iter().rev() {
                let child = children.remove(i);
                self.skip(child.stream, &e);
            }
            if let Some(run) = &mut own {
                self.emit(run, records, true)?;
                if let Some(total) = pager.total() {
                    let host = self.api.host();
                    host.stream_progress(run.stream.name, run.emitted, total);
                }
            }
            // A commit point per page; the bookmark moves only where pages
            // come in replication-key order.
            if monotonic {
                self.save_bookmarks(own.iter().chain(&children), false);
            }
            if let Some(position) = pager.list_position() {
                self.state.set_list_position(root.name, position);
            }
            self.api.host().checkpoint(&self.state.to_json())?;
        }
        // A record changed after the scroll opened may have been read in its
        // earlier form: the next run must read again from the opening.
        if let Some(ceiling) = pager.bookmark_ceiling() {
            for run in own.iter_mut().chain(&mut children) {
                run.reached = run.reached.map(|reached| reached.min(ceiling));
            }
        }
        self.save_bookmarks(own.iter().chain(&children), true);
        if let Some(run) = &own
            && let Some(deletions) = deletions_of(root.name)
        {
            self.api.host().checkpoint(&self.state.to_json())?;
            self.sync_deletions(run, deletions)?;
        }
        if let Some(run) = &mut own
            && run.whole
            && let Some(pass) = &root.complete_pass
        {
            self.api.host().checkpoint(&self.state.to_json())?;
            self.confirm_absent(run, &mut children, pass)?;
        }
        // Before the last commit, so a host's sweep commits with the state.
        for run in own.iter().chain(&children) {
            let whole_table = run.whole;
            self.api
                .host()
                .stream_complete(run.stream.name, whole_table);
            if whole_table {
                self.state.activate_table_version(run.stream.name);
            }
        }
        self.api.host().checkpoint(&self.state.to_json())?;
        for run in own.iter().chain(&children) {
            self.api.host().log(
                LogLevel::Info,
                &format!("{}: {} records", run.stream.name, run.emitted),
            );
        }
        Ok(())
    }

    fn pager(&self, root: &StreamDef, lower: Option<i64>) -> Result<Box<dyn Pager>> {
        Ok(match root.source {
            Source::List { path, records_key } => {
                Box::new(ListPager::new(path.to_string(), records_key))
            }
            Source::NewestFirst { path, records_key } => {
                let pager = ListPager::new(path.to_string(), records_key);
                match (root.replication.key(), lower) {
                    (Some(key), Some(lower)) => Box::new(pager.until_older_than(key, lower)),
                    _ => Box::new(pager),
                }
            }
            Source::Window {
                path,
                records_key,
                after,
                before,
            } => {
                // Whether the endpoint's bounds include their values is not
                // documented: start a second early, filter here.
                let after_value = lower.unwrap_or(0).saturating_sub(1).max(0);
                let run_start = self.api.host().now_ms() / 1000;
                let path = format!("{path}?{after}={after_value}&{before}={run_start}");
                Box::new(ListPager::new(path, records_key))
            }
            Source::Scroll { path, records_key } => {
                Box::new(ScrollPager::new(root.name, path, records_key))
            }
            Source::Search {
                path,
                records_key,
                dates,
            } => {
                let key = root.replication.key().ok_or_else(|| {
                    Error::internal(format!(
                        "{}: a search stream needs a replication key",
                        root.name
                    ))
                })?;
                let lower = lower.unwrap_or(0).max(0);
                // Both endpoints' `>` may include or exclude the value itself
                // (and contacts compare whole days): start early, filter here.
                let value = match dates {
                    DateMatching::CalendarDay => (lower - 2 * DAY).max(0),
                    DateMatching::Seconds => (lower - 1).max(0),
                };
                let query = json!({
                    "operator": "AND",
                    "value": [{ "field": key, "operator": ">", "value": value }],
                });
                let pager = SearchPager::new(path, records_key, query, key, self.config.page_size);
                // A whole-day filter would have every run read the days
                // before its bookmark: newest first, paging stops there.
                match dates {
                    DateMatching::CalendarDay => Box::new(pager.newest_first_until(lower)),
                    DateMatching::Seconds => Box::new(pager),
                }
            }
            Source::PerParent { .. } => {
                return Err(Error::internal(format!(
                    "{}: a root cannot be per-parent",
                    root.name
                )));
            }
        })
    }

    /// A complete pass read through `list`, from where a killed run of it
    /// stopped, then the stream's own source from the pass's start (the
    /// table `version`, in milliseconds).
    fn pass_pager(
        &self,
        root: &'static StreamDef,
        list: &PassList,
        version: i64,
    ) -> Result<Box<dyn Pager>> {
        let path = format!("{}?per_page={}", list.path, list.per_page);
        let lister = ListPager::new(path, list.records_key);
        let lister = match self.state.list_position(root.name) {
            ListPosition::Start => Some(lister),
            ListPosition::After(cursor) => Some(lister.resume_after(cursor)),
            ListPosition::Done => None,
        };
        let catch_up = self.pager(root, Some(version.div_euclid(1000)))?;
        Ok(Box::new(PassPager::new(root.name, lister, catch_up)))
    }

    /// Confirms each row the host keeps that the pass did not send: the
    /// record again when `GET` finds it (the list missed it), with its
    /// children (a child sent whole would otherwise lose what only that
    /// record holds), a tombstone on a 404 or 410. Any other answer fails
    /// the run, deleting nothing.
    fn confirm_absent(
        &self,
        run: &mut Run,
        children: &mut [Run],
        pass: &CompletePass,
    ) -> Result<()> {
        let host = self.api.host();
        let stream = run.stream;
        let key = stream.key_properties.first().copied().unwrap_or("id");
        // Each key is answered once; a host naming one again would loop.
        let mut asked = HashSet::new();
        let (mut kept, mut deleted) = (0u64, 0u64);
        loop {
            let keys = host.absent_keys(stream.name, CONFIRM_BATCH);
            if keys.is_empty() {
                break;
            }
            if let Some(again) = keys.iter().find(|k| !asked.insert(k.to_string())) {
                return Err(Error::internal(format!(
                    "{}: the host named row {again} as not sent after it was confirmed",
                    stream.name
                )));
            }
            let paths: Vec<String> = keys
                .iter()
                .map(|k| pass.confirm.replace("{id}", &path_segment(k)))
                .collect();
            let answers = self.api.get_batch::<Value>(&paths);
            let deleted_at =
                crate::dates::rfc3339((host.now_ms() / 1000) as f64).unwrap_or_default();
            let (mut found, mut tombstones) = (Vec::new(), Vec::new());
            for ((answer, id), path) in answers.into_iter().zip(keys).zip(&paths) {
                match answer {
                    Ok(record) if record.get(key).and_then(Value::as_str) == Some(id.as_str()) => {
                        found.push(record);
                    }
                    Ok(_) => {
                        return Err(Error::api(format!(
                            "GET {path}: the answer is not {} {id}",
                            stream.noun
                        )));
                    }
                    Err(e) if matches!(e.status, Some(404 | 410)) => {
                        tombstones
                            .push(json!({ key: id, DELETED_AT_FIELD: deleted_at }).to_string());
                    }
                    Err(e) => return Err(e),
                }
            }
            kept += found.len() as u64;
            deleted += tombstones.len() as u64;
            let mut found = Records::from_values(found).ok_or_else(|| {
                Error::internal(format!(
                    "{}: a confirmed record is not an object",
                    stream.name
                ))
            })?;
            let found = found.records();
            for child in children.iter_mut() {
                self.sync_children(stream, child, &found)?;
            }
            self.emit(run, found, false)?;
            if !tombstones.is_empty() {
                run.emitted += tombstones.len() as u64;
                host.records(stream.name, tombstones);
            }
            host.checkpoint(&self.state.to_json())?;
        }
        host.log(
            LogLevel::Info,
            &format!(
                "{}: of the rows the pass did not send, {kept} still exist, {deleted} are deleted",
                stream.name
            ),
        );
        Ok(())
    }

    /// Shapes and emits records of `run`. With `own_key`, only those at or
    /// after its bookmark, tracking how far they reach.
    fn emit(&self, run: &mut Run, records: Vec<Record>, own_key: bool) -> Result<()> {
        let stream = run.stream;
        let key_name = stream.replication.key().filter(|_| own_key);
        let key = key_name.map(FieldName::new);
        let deduplicate = matches!(stream.parent(), Some(Parent::Every(_)));
        let mut passing = Vec::with_capacity(records.len());
        for record in records {
            let value = key.as_ref().and_then(|k| record.seconds(k));
            if let (Some(value), Some(since)) = (value, run.since)
                && value < since
            {
                continue;
            }
            if deduplicate {
                let id = primary_key(&record, stream)?;
                if !run.seen.insert(id) {
                    continue;
                }
            }
            if let Some(key) = key_name {
                run.observe(self.api.host(), key, value, &record);
            }
            if let Some(value) = value.filter(|v| run.rereads(*v))
                && run.sent_before(primary_key(&record, stream)?, value, &record)
            {
                continue;
            }
            passing.push(record);
        }
        if !stream.shaping.complete_lists.is_empty() {
            crate::lists::complete(self.api, stream, &mut passing)?;
        }
        let mut lines = Vec::with_capacity(passing.len());
        for mut record in passing {
            if !stream.shaping.drop.is_empty() {
                record.retain(|field| !stream.shaping.drop.contains(&field));
            }
            if let Some(fields) = stream.shaping.record_hash {
                let hash = record_hash(&record, fields);
                record.set(RECORD_HASH_FIELD, Value::String(hash));
            }
            run.shape.apply(&mut record);
            lines.push(record.to_json());
        }
        run.emitted += lines.len() as u64;
        if !lines.is_empty() {
            self.api.host().records(stream.name, lines);
        }
        Ok(())
    }

    /// Fetches and emits the child records of one page of parents.
    fn sync_children(&self, parent: &StreamDef, run: &mut Run, parents: &[Record]) -> Result<()> {
        let Source::PerParent {
            parent: link,
            path,
            records_at,
            total_at,
            parent_fields,
            embedded_at,
        } = run.stream.source
        else {
            return Err(Error::internal(format!(
                "{}: a child must be per-parent",
                run.stream.name
            )));
        };
        let parent_key = parent.replication.key();
        let parent_field = parent_key.map(FieldName::new);
        let mut chosen = Vec::new();
        for record in parents {
            let id = primary_key(record, parent)?;
            if let (Parent::Changed { .. }, Some(key), Some(field)) =
                (link, parent_key, &parent_field)
            {
                let updated = record.seconds(field);
                if let (Some(updated), Some(since)) = (updated, run.since)
                    && updated < since
                {
                    continue;
                }
                run.observe(self.api.host(), key, updated, record);
                if let Some(updated) = updated.filter(|u| run.rereads(*u))
                    && run.sent_before(id.clone(), updated, record)
                {
                    continue;
                }
            }
            chosen.push((id, record));
        }
        let embedded_at = embedded_at.filter(|_| !self.config.reads_per_parent(run.stream.name));
        let mut fetched: Vec<(Records, &Record)> = Vec::new();
        let mut to_fetch = Vec::new();
        for (id, parent_record) in chosen {
            match embedded_at.and_then(|at| embedded(parent_record, at)) {
                Some(items) => {
                    let records = Records::from_values(items).ok_or_else(|| {
                        Error::api(format!(
                            "{}: {} {id} embeds a {} that is not a JSON object",
                            run.stream.name, parent.noun, run.stream.noun
                        ))
                    })?;
                    fetched.push((records, parent_record));
                }
                None => to_fetch.push((id, parent_record)),
            }
        }
        let paths: Vec<String> = to_fetch
            .iter()
            .map(|(id, _)| path.replace("{id}", &path_segment(id)))
            .collect();
        let pages = self.api.get_batch::<Page>(&paths);
        for (response, (id, parent_record)) in pages.into_iter().zip(to_fetch) {
            let mut body = match response {
                Ok(body) => body,
                Err(e) if e.status == Some(404) => {
                    self.api.host().log(
                        LogLevel::Warn,
                        &format!(
                            "{}: {} {id} disappeared during the sync; skipped",
                            run.stream.name, parent.noun
                        ),
                    );
                    continue;
                }
                Err(e) => return Err(e),
            };
            let what = format!("GET {}", path.replace("{id}", &id));
            let records = body.take_records(records_at, &what)?;
            if let Some(total) = total_at.and_then(|p| body.pointer(p).as_u64())
                && total > records.len() as u64
            {
                self.api.host().log(
                    LogLevel::Warn,
                    &format!(
                        "{}: {} {id} has {total} but Intercom returned only the newest {}",
                        run.stream.name,
                        parent.noun,
                        records.len()
                    ),
                );
            }
            fetched.push((records, parent_record));
        }
        let mut children = Vec::new();
        for (records, parent_record) in &mut fetched {
            for mut child in records.records() {
                for field in parent_fields {
                    child.set(
                        field.name,
                        parent_record.get(field.from).unwrap_or(Value::Null),
                    );
                }
                children.push(child);
            }
        }
        // Children of changed parents are all replicated: no filter of their own.
        let own_key = matches!(link, Parent::Every(_));
        self.emit(run, children, own_key)
    }

    /// Emits a tombstone for each record deleted at or after the deletions'
    /// bookmark (the stream's own lower bound before the first time), newest
    /// first; pages stop at the first older one. Deletions made while paging
    /// push items to later pages, so some may come twice, none is missed.
    fn sync_deletions(&mut self, run: &Run, deletions: &Deletions) -> Result<()> {
        let stream = run.stream;
        let since = self
            .state
            .bookmark(stream.name, deletions.deleted_at)?
            .or(run.since);
        let deleted_at = FieldName::new(deletions.deleted_at);
        let what = format!("GET {}", deletions.path);
        let mut newest = None;
        let mut emitted = 0u64;
        for page_number in 1.. {
            let path = format!(
                "{}?order=desc&per_page={}&page={page_number}",
                deletions.path, deletions.per_page
            );
            let mut page: Page = self.api.get(&path)?;
            let mut records = page.take_records(deletions.records_key, &what)?;
            let mut lines = Vec::new();
            let mut reached_older = false;
            for record in records.records() {
                let at = record.seconds(&deleted_at).ok_or_else(|| {
                    Error::api(format!(
                        "{what}: a deletion has no integer `{}`",
                        deleted_at.as_str()
                    ))
                })?;
                if since.is_some_and(|since| at < since) {
                    reached_older = true;
                    break;
                }
                newest = newest.max(Some(at));
                let id = primary_key(&record, stream)?;
                let when = crate::dates::rfc3339(at as f64).unwrap_or_default();
                lines.push(json!({ "id": id, DELETED_AT_FIELD: when }).to_string());
            }
            let empty = lines.is_empty();
            emitted += lines.len() as u64;
            if !empty {
                self.api.host().records(stream.name, lines);
            }
            let last_page = page
                .pointer("/pages/total_pages")
                .as_u64()
                .is_none_or(|total| page_number >= total);
            if reached_older || empty || last_page {
                break;
            }
        }
        // With none found, the bound read stays: the stream's own bookmark
        // moves on, and a deletion made during this run may be older than it.
        if let Some(bookmark) = newest.or(since) {
            self.state
                .set_bookmark(stream.name, deletions.deleted_at, bookmark);
        }
        self.api.host().checkpoint(&self.state.to_json())?;
        self.api.host().log(
            LogLevel::Info,
            &format!("{}: {emitted} deleted", stream.name),
        );
        Ok(())
    }

    /// Saves each run's bookmark; `read_complete` once its pages are all read.
    fn save_bookmarks<'r>(&mut self, runs: impl Iterator<Item = &'r Run>, read_complete: bool) {
        for run in runs {
            if let Some(reached) = run.bookmark(read_complete) {
                self.state
                    .set_bookmark(run.stream.name, run.stream.bookmark_field(), reached);
                if run.lookback > 0 {
                    let floor = reached - run.lookback;
                    let within = || run.recent.iter().filter(move |(_, s)| s.key >= floor);
                    match within().count() <= RECENT_LIMIT {
                        true => self.state.set_recent(run.stream.name, within()),
                        false => self.state.forget_recent(run.stream.name),
                    }
                }
            }
        }
    }
}

/// The array at JSON pointer `at` of `record`; None when absent.
fn embedded(record: &Record, at: &str) -> Option<Vec<Value>> {
    let mut keys = at.trim_start_matches('/').splitn(2, '/');
    let field = record.get(keys.next()?)?;
    let list = match keys.next() {
        Some(rest) => field.pointer(&format!("/{rest}"))?.clone(),
        None => field,
    };
    match list {
        Value::Array(items) => Some(items),
        _ => None,
    }
}

fn primary_key(record: &Record, stream: &StreamDef) -> Result<String> {
    let field = stream.key_properties.first().copied().unwrap_or("id");
    record
        .text(field)
        .ok_or_else(|| Error::api(format!("{}: a record has no `{field}`", stream.name)))
}

/// SHA-256 (hex) of the JSON array of `fields`' values, absent ones as null.
pub fn record_hash(record: &Record, fields: &[&str]) -> String {
    let values: Vec<Value> = fields
        .iter()
        .map(|f| record.get(f).unwrap_or(Value::Null))
        .collect();
    let digest = Sha256::digest(serde_json::to_vec(&values).unwrap_or_default());
    format!("{digest:x}")
}

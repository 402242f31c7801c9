//! The three ways Intercom pages through records: `pages.next` lists, search
//! cursors, and scrolls. Each detects a server that repeats
//! itself instead of looping forever.

use std::collections::HashSet;

use serde_json::{Value, json};
use url::form_urlencoded::byte_serialize;

use crate::api::{Api, Retry};
use crate::error::{Category, Error, Result};
use crate::host::{LogLevel, WaitReason};
use crate::page::Page;
use crate::record::Records;
use crate::state::ListPosition;

pub trait Pager {
    /// The next page's records; None when the source is exhausted.
    fn next_page(&mut self, api: &Api) -> Result<Option<Records>>;

    /// How many records the source holds, when its last page said.
    fn total(&self) -> Option<u64> {
        None
    }

    /// The highest bookmark the records read so far justify, when that is
    /// less than the highest key among them (a scroll's unordered snapshot).
    fn bookmark_ceiling(&self) -> Option<i64> {
        None
    }

    /// Where a complete pass's list has come to, for pagers that read one.
    fn list_position(&self) -> Option<ListPosition> {
        None
    }
}

fn encode(text: &str) -> String {
    byte_serialize(text.as_bytes()).collect()
}

fn with_query(path: &str, key: &str, value: &str) -> String {
    let separator = if path.contains('?') { '&' } else { '?' };
    format!("{path}{separator}{key}={}", encode(value))
}

/// Remembers cursors (as 8-byte fingerprints) so a server that hands one
/// out twice ends the loop.
#[derive(Default)]
struct Cursors(HashSet<u64>);

impl Cursors {
    fn fresh(&mut self, cursor: &str, what: &str) -> Result<()> {
        if self.0.insert(fingerprint(cursor)) {
            Ok(())
        } else {
            Err(Error::api(format!(
                "{what}: the API returned cursor `{cursor}` twice; stopping instead of looping"
            )))
        }
    }
}

/// `GET path` lists, following `pages.next` (a `starting_after` cursor or a
/// link) when present.
pub struct ListPager {
    base: String,
    records_key: &'static str,
    next: Option<String>,
    /// The `starting_after` of the next page, when it has one.
    cursor: Option<String>,
    cursors: Cursors,
    /// Page numbers the server said it served, for lists paged by number.
    numbers: HashSet<u64>,
    total: Option<u64>,
    /// For lists newest first by this field: the list ends at a record
    /// older than this (UNIX seconds).
    older_than: Option<(&'static str, i64)>,
    retry: Retry,
}

impl ListPager {
    pub fn new(path: String, records_key: &'static str) -> Self {
        Self {
            base: path.clone(),
            records_key,
            next: Some(path),
            cursor: None,
            cursors: Cursors::default(),
            numbers: HashSet::new(),
            total: None,
            older_than: None,
            retry: Retry::Transient,
        }
    }

    /// Retries only 429s: for reads that may fail without failing the call.
    pub fn failing_fast(self) -> Self {
        Self {
            retry: Retry::RateLimitOnly,
            ..self
        }
    }

    /// Starts at the page after `cursor`, where an earlier run stopped.
    pub fn resume_after(self, cursor: String) -> Self {
        Self {
            next: Some(with_query(&self.base, "starting_after", &cursor)),
            cursor: Some(cursor),
            ..self
        }
    }

    fn position(&self) -> ListPosition {
        match (&self.next, &self.cursor) {
            (None, _) => ListPosition::Done,
            (Some(_), Some(cursor)) => ListPosition::After(cursor.clone()),
            (Some(_), None) => ListPosition::Start,
        }
    }

    /// Stops after the page holding a record whose `field` is below `since`.
    pub fn until_older_than(self, field: &'static str, since: i64) -> Self {
        Self {
            older_than: Some((field, since)),
            ..self
        }
    }
}

impl ListPager {
    /// Takes the records of a page fetched elsewhere (e.g. in a batch) and
    /// notes where the next one is.
    pub fn accept(&mut self, api: &Api, mut page: Page) -> Result<Records> {
        let what = format!("GET {}", self.base);
        let records = page.take_records(self.records_key, &what)?;
        self.total = page.total_count();
        let pages = page.value("pages");
        self.cursor = pages["next"]["starting_after"].as_str().map(String::from);
        self.next = match &pages["next"] {
            Value::Object(next) => match next.get("starting_after").and_then(Value::as_str) {
                Some(cursor) => {
                    self.cursors.fresh(cursor, &what)?;
                    Some(with_query(&self.base, "starting_after", cursor))
                }
                None => None,
            },
            Value::String(link) if !link.is_empty() => {
                self.cursors.fresh(link, &what)?;
                Some(api.path_of_link(link).ok_or_else(|| {
                    Error::api(format!("{what}: next link `{link}` leaves the API"))
                })?)
            }
            // Page-numbered lists may announce more pages without a link. A
            // server that ignores `page` serves the same number again.
            _ => match (pages["page"].as_u64(), pages["total_pages"].as_u64()) {
                (Some(current), Some(total)) if current < total && !records.is_empty() => {
                    if self.numbers.insert(current) {
                        Some(with_query(&self.base, "page", &(current + 1).to_string()))
                    } else {
                        api.host().log(
                            LogLevel::Warn,
                            &format!(
                                "{what}: the API served page {current} again; the list ends there"
                            ),
                        );
                        None
                    }
                }
                _ => None,
            },
        };
        if let Some((field, since)) = self.older_than
            && reaches_below(&records, field, since)
        {
            self.next = None;
        }
        Ok(records)
    }
}

/// Whether a record of `records` has an integer `field` below `since`.
fn reaches_below(records: &Records, field: &str, since: i64) -> bool {
    (0..records.len()).any(|i| {
        records
            .value_of(i, field)
            .and_then(|v| v.as_i64())
            .is_some_and(|v| v < since)
    })
}

impl Pager for ListPager {
    fn next_page(&mut self, api: &Api) -> Result<Option<Records>> {
        let Some(path) = self.next.take() else {
            return Ok(None);
        };
        let page = api.get_with(&path, self.retry)?;
        self.accept(api, page).map(Some)
    }

    fn total(&self) -> Option<u64> {
        self.total
    }
}

/// A complete pass through a list, then `catch_up` (the stream's own source
/// from the pass's start) for the records the list's stateless cursors
/// missed because they changed while it ran.
pub struct PassPager {
    stream: &'static str,
    /// None once read through.
    list: Option<ListPager>,
    catch_up: Box<dyn Pager>,
    /// The list resumes from a saved cursor, and has served no page yet.
    resumed: bool,
}

impl PassPager {
    pub fn new(stream: &'static str, list: Option<ListPager>, catch_up: Box<dyn Pager>) -> Self {
        let resumed = list.as_ref().is_some_and(|l| l.cursor.is_some());
        Self {
            stream,
            list,
            catch_up,
            resumed,
        }
    }
}

impl Pager for PassPager {
    fn next_page(&mut self, api: &Api) -> Result<Option<Records>> {
        if let Some(list) = &mut self.list {
            match list.next_page(api) {
                Ok(Some(records)) => {
                    self.resumed = false;
                    return Ok(Some(records));
                }
                Ok(None) => self.list = None,
                // A saved cursor the API no longer takes would fail every
                // resume: the list starts over instead, once.
                Err(e) if self.resumed && e.status == Some(400) => {
                    api.host().log(
                        LogLevel::Warn,
                        &format!(
                            "{}: the API refused the saved list cursor ({}); listing from the start",
                            self.stream, e.message
                        ),
                    );
                    self.resumed = false;
                    *list = ListPager::new(list.base.clone(), list.records_key);
                    return self.next_page(api);
                }
                Err(e) => return Err(e),
            }
        }
        self.catch_up.next_page(api)
    }

    fn total(&self) -> Option<u64> {
        self.list.as_ref().and_then(Pager::total)
    }

    fn list_position(&self) -> Option<ListPosition> {
        Some(
            self.list
                .as_ref()
                .map_or(ListPosition::Done, ListPager::position),
        )
    }
}

/// `POST` search, ascending by `sort_field`, `per_page` at a time.
pub struct SearchPager {
    path: &'static str,
    records_key: &'static str,
    query: Value,
    sort_field: &'static str,
    per_page: u32,
    cursor: Option<String>,
    done: bool,
    cursors: Cursors,
    total: Option<u64>,
    /// Newest first, stopping after the page that reaches below this.
    older_than: Option<i64>,
}

impl SearchPager {
    pub fn new(
        path: &'static str,
        records_key: &'static str,
        query: Value,
        sort_field: &'static str,
        per_page: u32,
    ) -> Self {
        Self {
            path,
            records_key,
            query,
            sort_field,
            per_page,
            cursor: None,
            done: false,
            cursors: Cursors::default(),
            total: None,
            older_than: None,
        }
    }

    /// Reads newest first and stops after the page holding a record whose
    /// sort field is below `since`: for a filter that cannot say "since"
    /// precisely, the pages past it are not read.
    pub fn newest_first_until(self, since: i64) -> Self {
        Self {
            older_than: Some(since),
            ..self
        }
    }

    pub fn body(&self) -> Value {
        let mut pagination = json!({ "per_page": self.per_page });
        if let Some(cursor) = &self.cursor {
            pagination["starting_after"] = json!(cursor);
        }
        let order = match self.older_than {
            Some(_) => "descending",
            None => "ascending",
        };
        json!({
            "query": self.query,
            "pagination": pagination,
            "sort": { "field": self.sort_field, "order": order },
        })
    }
}

impl Pager for SearchPager {
    fn next_page(&mut self, api: &Api) -> Result<Option<Records>> {
        if self.done {
            return Ok(None);
        }
        let what = format!("POST {}", self.path);
        let mut page: Page = api.post(self.path, &self.body())?;
        let records = page.take_records(self.records_key, &what)?;
        self.total = page.total_count();
        match page.pointer("/pages/next/starting_after").as_str() {
            Some(cursor) if !records.is_empty() => {
                self.cursors.fresh(cursor, &what)?;
                self.cursor = Some(cursor.to_string());
            }
            _ => self.done = true,
        }
        if let Some(since) = self.older_than {
            self.done |= reaches_below(&records, self.sort_field, since);
        }
        Ok(Some(records))
    }

    fn total(&self) -> Option<u64> {
        self.total
    }
}

/// Passes in a row that bring no new record, while pages keep getting
/// lost, before the sync gives up.
const MAX_FRUITLESS_PASSES: u32 = 5;
/// Scroll requests in a row that fail before the sync gives up.
const MAX_FAILURES_IN_ROW: u32 = 6;
/// While another client (or a killed earlier run) holds the app's one
/// scroll, wait 2 s, 4 s, 8 s, then 15 s between tries: an unused scroll
/// expires after a minute, so the tries span about three minutes.
const SCROLL_BUSY_TRIES: u32 = 15;

fn scroll_busy_wait_ms(try_number: u32) -> u32 {
    (2_000u32 << try_number.min(3)).min(15_000)
}

/// A scroll: the first call opens it, each response carries the
/// `scroll_param` for the next, and an empty page ends (and closes) it.
///
/// A `scroll_param` cannot go back: a page whose answer is lost (a reset,
/// a timeout, a 5xx, a body that is not the page) was served all the same,
/// and the same param gets the next page. Only a 429 (retried by the API
/// layer) shows a page was not served. So after any other failure the
/// pager reads on with the same param, which also ends the old scroll
/// sooner than waiting for it to expire, and then reads a new scroll
/// through, emitting only companies not returned before. A param the API
/// refuses (400 or 404: the scroll ended, expired or broke) ends the pass
/// the same way; a pass that served every company again, brought nothing
/// new and lost nothing ends the scroll.
pub struct ScrollPager {
    /// The stream read, for log messages.
    stream: &'static str,
    path: &'static str,
    records_key: &'static str,
    param: Option<String>,
    done: bool,
    /// This pass may have missed a page.
    lost: bool,
    /// This pass returned a record not returned before.
    fruitful: bool,
    /// Records this pass served, new or not: a refused pass that served
    /// fewer than were returned before was cut short, not read through.
    served_this_pass: usize,
    fruitless_passes: u32,
    failures_in_row: u32,
    /// Fingerprints of the ids returned so far: 8 bytes a record.
    returned: HashSet<u64>,
    busy_tries: u32,
    /// First and last id of the previous page, to catch a scroll that
    /// returns the same page again.
    previous: Option<(Value, Value)>,
    /// When the first scroll opened, in the server's UNIX seconds.
    opened: Option<i64>,
}

impl ScrollPager {
    pub fn new(stream: &'static str, path: &'static str, records_key: &'static str) -> Self {
        Self {
            stream,
            path,
            records_key,
            param: None,
            done: false,
            lost: false,
            fruitful: false,
            served_this_pass: 0,
            fruitless_passes: 0,
            failures_in_row: 0,
            busy_tries: 0,
            returned: HashSet::new(),
            previous: None,
            opened: None,
        }
    }

    /// The pass ended (an empty page, or a refused param): the scroll is
    /// read through, or another pass starts.
    fn end_pass(&mut self, api: &Api, refused: Option<Error>) -> Result<()> {
        let whole = refused.is_none() && !self.lost;
        let read_through = self.served_this_pass >= self.returned.len();
        if whole || (!self.fruitful && !self.lost && read_through) {
            self.done = true;
            return Ok(());
        }
        if self.fruitful {
            self.fruitless_passes = 0;
        } else {
            self.fruitless_passes += 1;
        }
        let why = match &refused {
            Some(e) => e.message.clone(),
            None => "a page of it was lost".to_string(),
        };
        if self.fruitless_passes >= MAX_FRUITLESS_PASSES {
            return Err(Error::new(
                Category::Transient,
                format!(
                    "{}: {} scroll passes in a row brought nothing new: {why}",
                    self.stream, self.fruitless_passes
                ),
            ));
        }
        api.host().log(
            LogLevel::Warn,
            &format!(
                "reading the {} scroll again for what it missed ({why}); companies already read are skipped",
                self.stream
            ),
        );
        self.param = None;
        self.previous = None;
        self.lost = false;
        self.fruitful = false;
        self.served_this_pass = 0;
        Ok(())
    }

    /// A request of the scroll failed without an answer to act on.
    fn failed(&mut self, api: &Api, error: Error) -> Result<()> {
        self.failures_in_row += 1;
        if self.failures_in_row >= MAX_FAILURES_IN_ROW {
            return Err(Error {
                message: format!(
                    "{} (the scroll failed {} times in a row)",
                    error.message, self.failures_in_row
                ),
                ..error
            });
        }
        api.host().log(
            LogLevel::Warn,
            &format!(
                "the {} scroll lost a page ({}); reading on, then again for what it missed",
                self.stream, error.message
            ),
        );
        // A failed first call may have opened a scroll, whose param is unknown.
        self.lost = true;
        Ok(())
    }

    /// Waits while another scroll holds the app's slot, or gives up.
    fn busy(&mut self, api: &Api, error: Error) -> Result<()> {
        if self.busy_tries >= SCROLL_BUSY_TRIES {
            return Err(Error {
                message: format!(
                    "{}: another client keeps the app's only {} scroll open",
                    error.message, self.stream
                ),
                ..error
            });
        }
        let wait = scroll_busy_wait_ms(self.busy_tries);
        self.busy_tries += 1;
        api.host().log(
            LogLevel::Info,
            &format!(
                "another {} scroll is open; retrying in {wait} ms",
                self.stream
            ),
        );
        api.host().sleep(wait, WaitReason::Busy);
        Ok(())
    }
}

/// When a request sent at `sent_ms` (host clock) reached the server, by the
/// server's clock: its answer's `Date` less the round trip, rounded down, so
/// that the result is never later than the real moment. Without a `Date`,
/// the host's clock at sending, a second early.
fn opening_time(api: &Api, sent_ms: u64) -> i64 {
    let round_trip_ms = api.host().now_ms().saturating_sub(sent_ms);
    match api.server_date() {
        Some(date) => date - round_trip_ms.div_ceil(1000) as i64,
        None => (sent_ms / 1000) as i64 - 1,
    }
}

impl Pager for ScrollPager {
    fn bookmark_ceiling(&self) -> Option<i64> {
        self.opened
    }

    fn next_page(&mut self, api: &Api) -> Result<Option<Records>> {
        loop {
            if self.done {
                return Ok(None);
            }
            let what = format!("GET {}", self.path);
            let path = match &self.param {
                Some(param) => with_query(self.path, "scroll_param", param),
                None => self.path.to_string(),
            };
            let rate_limited = api.rate_limited.get();
            let sent_ms = api.host().now_ms();
            let mut page: Page = match api.get_with(&path, Retry::RateLimitOnly) {
                Ok(page) => {
                    if self.opened.is_none() {
                        self.opened = Some(opening_time(api, sent_ms));
                    }
                    page
                }
                Err(e) if self.param.is_none() && e.code.as_deref() == Some("scroll_exists") => {
                    self.busy(api, e)?;
                    continue;
                }
                Err(e) if self.param.is_some() && matches!(e.status, Some(400 | 404)) => {
                    self.failures_in_row = 0;
                    // The param may have expired while a 429 was waited out:
                    // the rest of this pass is lost, not read.
                    if api.rate_limited.get() > rate_limited {
                        self.lost = true;
                    }
                    self.end_pass(api, Some(e))?;
                    continue;
                }
                Err(e) if e.category == Category::Transient => {
                    self.failed(api, e)?;
                    continue;
                }
                Err(e) => return Err(e),
            };
            let records = page.take_records(self.records_key, &what);
            let mut records = match records {
                Ok(records) => records,
                // A page of another shape was served and is gone all the same.
                Err(e) => {
                    self.failed(api, e)?;
                    continue;
                }
            };
            self.failures_in_row = 0;
            // A record without an id is reported by the engine later.
            let ids: Vec<Value> = (0..records.len())
                .map(|i| records.value_of(i, "id").unwrap_or(Value::Null))
                .collect();
            let (Some(first), Some(last)) = (ids.first(), ids.last()) else {
                self.end_pass(api, None)?;
                continue;
            };
            self.busy_tries = 0;
            let ends = (first.clone(), last.clone());
            if self.previous.as_ref() == Some(&ends) {
                return Err(Error::api(format!(
                    "{what}: the scroll returned the same page twice; stopping instead of looping"
                )));
            }
            self.previous = Some(ends);
            self.served_this_pass += ids.len();
            let param = page.value("scroll_param");
            let param = param.as_str().filter(|p| !p.is_empty());
            self.param = Some(
                param
                    .ok_or_else(|| {
                        Error::api(format!("{what}: a non-empty page has no `scroll_param`"))
                    })?
                    .to_string(),
            );
            records.retain(|i| self.returned.insert(fingerprint(&ids[i].to_string())));
            if !records.is_empty() {
                self.fruitful = true;
            }
            return Ok(Some(records));
        }
    }
}

/// A fixed-key 64-bit hash: collisions are negligible at these sizes.
fn fingerprint(text: &str) -> u64 {
    use std::hash::{DefaultHasher, Hash, Hasher};
    let mut hasher = DefaultHasher::new();
    text.hash(&mut hasher);
    hasher.finish()
}

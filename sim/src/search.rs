//! `POST /contacts/search` and `POST /conversations/search`: the query language,
//! sorting and the stateless `starting_after` cursors both endpoints share.

use std::cmp::Ordering;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use base64::Engine;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::{DecodePaddingMode, general_purpose};
use chrono_tz::Tz;
use serde_json::value::RawValue;
use serde_json::{Map, Value, json};

use crate::envelope::ApiError;
use crate::times::day_bounds;

/// Intercom's limits: "max 2 nested filters", "max 15 filters for each AND or OR group".
const MAX_GROUP_DEPTH: usize = 2;
const MAX_GROUP_SIZE: usize = 15;
const MAX_PER_PAGE: usize = 150;

/// What a searchable field holds, which decides the operators it accepts.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Kind {
    Str,
    Int,
    Float,
    Bool,
    Date,
}

/// Where a field's value sits in a record.
#[derive(Clone, Debug)]
pub(crate) enum Location {
    /// A JSON pointer to one scalar.
    Scalar(String),
    /// A JSON pointer to an array, and the key of each item to read (`contact_ids`).
    Each(String, &'static str),
}

/// How one endpoint searches: its fields and its quirks.
pub(crate) struct Searchable<'a> {
    pub(crate) field: &'a dyn Fn(&str) -> Option<(Kind, Location)>,
    /// Contact search since 2.14: dates match by calendar day in this timezone.
    pub(crate) calendar_days: Option<Tz>,
    /// Conversation search documents `>` and `<` as "greater (or equal)" and "lower (or equal)".
    pub(crate) inclusive_inequalities: bool,
    pub(crate) default_per_page: usize,
    /// The body's `sort` is ignored: results come newest created first.
    pub(crate) ignore_sort: bool,
}

/// Answers a search `body` over the records (and their memoized searches)
/// that `of` picks from the dataset as the lagging index holds it; `repeat`
/// serves the request's own cursor again (a fault).
pub(crate) fn answer(
    state: &crate::server::AppState,
    repeat: bool,
    body: &Value,
    on: &Searchable<'_>,
    of: fn(&crate::dataset::Dataset) -> (&[Value], &SearchCache),
    (list_type, key): (&str, &str),
) -> Result<axum::response::Response, ApiError> {
    let search = Search::parse(body, on)?;
    let data = state.shared.searchable();
    let (records, cache) = of(&data);
    let mut page = search.run(records, cache);
    if repeat {
        repeat_cursor(body, &mut page.pages);
    }
    Ok(page.into_response(list_type, key))
}

impl<'a> Searchable<'a> {
    /// Conversation and ticket search: dates by second, `>` and `<`
    /// documented as "greater (or equal)" and "lower (or equal)", pages of 20
    /// by default.
    pub(crate) fn by_second(
        field: &'a dyn Fn(&str) -> Option<(Kind, Location)>,
        state: &crate::server::AppState,
    ) -> Self {
        Searchable {
            field,
            calendar_days: None,
            inclusive_inequalities: true,
            default_per_page: 20,
            ignore_sort: state.ignore_search_sort,
        }
    }
}

/// A parsed search: filter, order and the page to serve.
pub(crate) struct Search {
    filter: Node,
    sort: Location,
    descending: bool,
    per_page: usize,
    after: Option<(SortKey, String)>,
}

/// One page of results and the `pages` object describing it. Items are
/// borrowed: the response is written straight from the dataset.
pub(crate) struct Page<T> {
    pub(crate) items: Vec<T>,
    pub(crate) total_count: usize,
    pub(crate) pages: Value,
}

impl<T: serde::Serialize> Page<T> {
    /// A list response: `{"type", <key>: items, "total_count", "pages"}`.
    pub(crate) fn into_response(self, list_type: &str, key: &str) -> axum::response::Response {
        use axum::response::IntoResponse;
        use serde::ser::{SerializeMap, Serializer};
        let mut body = Vec::with_capacity(4096);
        let mut serializer = serde_json::Serializer::new(&mut body);
        let written = (|| {
            let mut map = serializer.serialize_map(Some(4))?;
            map.serialize_entry("type", list_type)?;
            map.serialize_entry(key, &self.items)?;
            map.serialize_entry("total_count", &self.total_count)?;
            map.serialize_entry("pages", &self.pages)?;
            map.end()
        })();
        match written {
            Ok(()) => (
                [(axum::http::header::CONTENT_TYPE, "application/json")],
                body,
            )
                .into_response(),
            Err(e) => crate::envelope::ApiError::new(
                axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                e.to_string(),
            )
            .into_response(),
        }
    }
}

#[derive(Debug)]
enum Node {
    All(Vec<Node>),
    Any(Vec<Node>),
    Leaf(Location, Predicate),
}

#[derive(Debug)]
enum Predicate {
    /// `=` and `IN`: some value of the field is one of these (`null` matches a missing value).
    OneOf(Vec<Value>),
    /// `!=` and `NIN`: no value of the field is one of these.
    NoneOf(Vec<Value>),
    /// Numeric bounds, each `(bound, inclusive)`.
    Range(Option<(f64, bool)>, Option<(f64, bool)>),
    Contains(String),
    NotContains(String),
    StartsWith(String),
    EndsWith(String),
}

impl Search {
    /// `GET /contacts`: every record, newest updated first (the order is
    /// not documented; this one lets an update made while a client pages
    /// move a record onto a page already read, which stateless cursors
    /// allow), `per_page` at most [`MAX_PER_PAGE`], after `starting_after`,
    /// leaving out the ids `hidden`.
    pub(crate) fn list(
        per_page: usize,
        cursor: Option<&str>,
        hidden: &std::collections::HashSet<String>,
    ) -> Result<Search, ApiError> {
        let mut hidden: Vec<Value> = hidden.iter().map(|id| Value::from(id.as_str())).collect();
        hidden.sort_by(|a, b| a.as_str().cmp(&b.as_str()));
        let visible = Node::Leaf(
            Location::Scalar("/id".to_owned()),
            Predicate::NoneOf(hidden),
        );
        Ok(Search {
            filter: Node::All(vec![visible]),
            sort: Location::Scalar("/updated_at".to_owned()),
            descending: true,
            per_page: per_page.min(MAX_PER_PAGE),
            after: cursor.map(decode_cursor).transpose()?,
        })
    }

    /// Parses a search body, answering 400 for anything Intercom would refuse.
    pub(crate) fn parse(body: &Value, on: &Searchable<'_>) -> Result<Search, ApiError> {
        let body = body
            .as_object()
            .ok_or_else(|| ApiError::invalid("the request body must be a JSON object"))?;
        let query = body
            .get("query")
            .ok_or_else(|| ApiError::invalid("query is required"))?;
        let filter = parse_node(query, on, 0)?;

        let sort = body.get("sort").filter(|_| !on.ignore_sort);
        let (sort, descending) = match sort {
            None | Some(Value::Null) => (Location::Scalar("/created_at".to_owned()), true),
            Some(Value::Object(sort)) => {
                let name = sort
                    .get("field")
                    .and_then(Value::as_str)
                    .ok_or_else(|| ApiError::invalid("sort.field must be a string"))?;
                let location = match (on.field)(name) {
                    Some((_, location @ Location::Scalar(_))) => location,
                    _ => return Err(ApiError::invalid(format!("cannot sort on field {name}"))),
                };
                let descending = match sort.get("order") {
                    None | Some(Value::Null) => true,
                    Some(Value::String(order)) if order == "descending" => true,
                    Some(Value::String(order)) if order == "ascending" => false,
                    Some(other) => {
                        return Err(ApiError::new(
                            axum::http::StatusCode::BAD_REQUEST,
                            "invalid_sort_order",
                            format!(
                                "Invalid sort order {}. Must be one of: ascending, descending",
                                short(other)
                            ),
                        ));
                    }
                };
                (location, descending)
            }
            Some(_) => return Err(ApiError::invalid("sort must be an object")),
        };

        let pagination = match body.get("pagination") {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(pagination)) => pagination.clone(),
            Some(_) => return Err(ApiError::invalid("pagination must be an object")),
        };
        let per_page = match pagination.get("per_page") {
            None | Some(Value::Null) => on.default_per_page,
            // Larger pages are cut to Intercom's maximum rather than refused.
            Some(value) => match value.as_u64() {
                Some(n) if n >= 1 => (n as usize).min(MAX_PER_PAGE),
                _ => return Err(ApiError::invalid("per_page must be a positive integer")),
            },
        };
        let after = match pagination.get("starting_after") {
            None | Some(Value::Null) => None,
            Some(Value::String(cursor)) => Some(decode_cursor(cursor)?),
            Some(_) => return Err(ApiError::invalid("starting_after must be a string")),
        };
        Ok(Search {
            filter,
            sort,
            descending,
            per_page,
            after,
        })
    }

    /// Filters, sorts (ties broken by id, in the same direction) and cuts the page.
    /// The sorted hits of a filter and order are memoized in `cache` until the
    /// next mutation, so following a query's cursors costs a binary search a page.
    pub(crate) fn run<'a>(
        &self,
        records: &'a [Value],
        cache: &'a SearchCache,
    ) -> Page<&'a RawValue> {
        let key = format!("{:?}|{:?}|{}", self.filter, self.sort, self.descending);
        let hits = cache.get(&key).unwrap_or_else(|| {
            let hits = Arc::new(self.sorted_hits(records));
            cache.put(key, Arc::clone(&hits));
            hits
        });
        let id = |index: usize| records[index]["id"].as_str().unwrap_or_default();
        let start = match &self.after {
            None => 0,
            Some((key, after)) => {
                hits.partition_point(|hit| self.order(&hit.0, id(hit.1), key, after).is_le())
            }
        };
        let total_count = hits.len();
        let end = (start + self.per_page).min(total_count);
        let page = start / self.per_page + 1;
        let mut pages = json!({
            "type": "pages",
            "page": page,
            "per_page": self.per_page,
            "total_pages": total_count.div_ceil(self.per_page),
        });
        if end < total_count && end > start {
            let (key, index) = &hits[end - 1];
            pages["next"] = json!({
                "page": page + 1,
                "starting_after": encode_cursor(key, id(*index)),
            });
        }
        Page {
            items: hits[start..end]
                .iter()
                .map(|hit| cache.text(records, hit.1))
                .collect(),
            total_count,
            pages,
        }
    }

    /// The matching records' sort keys and positions, in the requested order.
    fn sorted_hits(&self, records: &[Value]) -> Vec<(SortKey, usize)> {
        let mut hits: Vec<(SortKey, &str, usize)> = records
            .iter()
            .enumerate()
            .filter(|(_, record)| self.filter.matches(record))
            .map(|(index, record)| {
                let key = match &self.sort {
                    Location::Scalar(pointer) => SortKey::of(record.pointer(pointer)),
                    Location::Each(..) => SortKey::Null,
                };
                (key, record["id"].as_str().unwrap_or_default(), index)
            })
            .collect();
        hits.sort_by(|a, b| self.order(&a.0, a.1, &b.0, b.1));
        hits.into_iter()
            .map(|(key, _, index)| (key, index))
            .collect()
    }

    /// The requested order: by sort value, ties broken by id, in the same direction.
    fn order(&self, a: &SortKey, a_id: &str, b: &SortKey, b_id: &str) -> Ordering {
        let ascending = a.cmp(b).then_with(|| compare_ids(a_id, b_id));
        if self.descending {
            ascending.reverse()
        } else {
            ascending
        }
    }
}

/// How many distinct searches a collection remembers between mutations.
const CACHED_SEARCHES: usize = 16;

/// Sorted hits of recent searches on one collection, keyed by filter and order,
/// and the records' JSON text, rendered once, so a page is written by copying
/// text; emptied by every mutation. Clones start empty.
#[derive(Default)]
pub(crate) struct SearchCache {
    hits: Mutex<Vec<(String, SortedHits)>>,
    texts: OnceLock<Vec<OnceLock<Box<RawValue>>>>,
}

type SortedHits = Arc<Vec<(SortKey, usize)>>;

impl SearchCache {
    fn get(&self, key: &str) -> Option<SortedHits> {
        let entries = self.hits.lock().unwrap_or_else(PoisonError::into_inner);
        entries
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, hits)| Arc::clone(hits))
    }

    fn put(&self, key: String, hits: SortedHits) {
        let mut entries = self.hits.lock().unwrap_or_else(PoisonError::into_inner);
        if entries.iter().any(|(k, _)| *k == key) {
            return;
        }
        if entries.len() >= CACHED_SEARCHES {
            entries.remove(0);
        }
        entries.push((key, hits));
    }

    /// The JSON text of `records[index]`.
    fn text<'a>(&'a self, records: &[Value], index: usize) -> &'a RawValue {
        let texts = self
            .texts
            .get_or_init(|| records.iter().map(|_| OnceLock::new()).collect());
        texts[index].get_or_init(|| {
            // A Value always serializes.
            serde_json::value::to_raw_value(&records[index])
                .unwrap_or_else(|_| RawValue::NULL.to_owned())
        })
    }

    pub(crate) fn render_all(&self, records: &[Value]) {
        for index in 0..records.len() {
            self.text(records, index);
        }
    }

    pub(crate) fn clear(&self) {
        self.hits
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }
}

impl Clone for SearchCache {
    fn clone(&self) -> Self {
        SearchCache::default()
    }
}

impl std::fmt::Debug for SearchCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SearchCache")
    }
}

/// [`crate::Fault::RepeatCursor`]: the page's continuation is the request's own
/// cursor, so a client that follows it asks for the same page again, even past
/// the last page.
pub(crate) fn repeat_cursor(body: &Value, pages: &mut Value) {
    if let Some(cursor) = body
        .pointer("/pagination/starting_after")
        .and_then(Value::as_str)
    {
        let page = pages["page"].as_u64().unwrap_or(1);
        pages["next"] = json!({"page": page + 1, "starting_after": cursor});
    }
}

/// Numeric-looking ids (conversations) compare as numbers; equal-length hex ids
/// (contacts) compare the same way as strings.
fn compare_ids(a: &str, b: &str) -> Ordering {
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

fn short(value: &Value) -> String {
    let text = value.to_string();
    text.chars().take(40).collect()
}

fn parse_node(node: &Value, on: &Searchable<'_>, depth: usize) -> Result<Node, ApiError> {
    let object = node
        .as_object()
        .ok_or_else(|| ApiError::invalid("each query must be an object"))?;
    let operator = object
        .get("operator")
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::invalid("each query needs an operator"))?;
    if matches!(operator, "AND" | "OR") && !object.contains_key("field") {
        if depth >= MAX_GROUP_DEPTH {
            return Err(ApiError::invalid(format!(
                "queries can nest at most {MAX_GROUP_DEPTH} levels of AND/OR"
            )));
        }
        let children = object
            .get("value")
            .and_then(Value::as_array)
            .ok_or_else(|| ApiError::invalid(format!("{operator} needs an array of queries")))?;
        if children.is_empty() || children.len() > MAX_GROUP_SIZE {
            return Err(ApiError::invalid(format!(
                "{operator} must hold between 1 and {MAX_GROUP_SIZE} queries, not {}",
                children.len()
            )));
        }
        let children = children
            .iter()
            .map(|child| parse_node(child, on, depth + 1))
            .collect::<Result<Vec<_>, _>>()?;
        return Ok(if operator == "AND" {
            Node::All(children)
        } else {
            Node::Any(children)
        });
    }
    let name = object
        .get("field")
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::invalid("each filter needs a field"))?;
    let (kind, location) = (on.field)(name)
        .ok_or_else(|| ApiError::invalid(format!("{name} is not a searchable field")))?;
    let value = object.get("value").unwrap_or(&Value::Null);
    let predicate = predicate(name, kind, operator, value, on)?;
    Ok(Node::Leaf(location, predicate))
}

fn predicate(
    name: &str,
    kind: Kind,
    operator: &str,
    value: &Value,
    on: &Searchable<'_>,
) -> Result<Predicate, ApiError> {
    let refuse = || {
        ApiError::invalid(format!(
            "operator {operator} is not supported on field {name}"
        ))
    };
    let mismatch =
        || ApiError::invalid(format!("{} is not a valid value for {name}", short(value)));
    let typed = |value: &Value| -> Result<Value, ApiError> {
        match (kind, value) {
            (_, Value::Null) => Ok(Value::Null),
            (Kind::Str, Value::String(_)) => Ok(value.clone()),
            (Kind::Int | Kind::Date, Value::Number(n)) if n.is_i64() || n.is_u64() => {
                Ok(value.clone())
            }
            (Kind::Float, Value::Number(_)) => Ok(value.clone()),
            (Kind::Bool, Value::Bool(_)) => Ok(value.clone()),
            (Kind::Bool, Value::String(text)) => match text.as_str() {
                "true" => Ok(Value::Bool(true)),
                "false" => Ok(Value::Bool(false)),
                _ => Err(mismatch()),
            },
            _ => Err(mismatch()),
        }
    };
    let number = || match (kind, value.as_f64()) {
        (Kind::Int | Kind::Date, Some(_)) if value.is_i64() || value.is_u64() => {
            Ok(value.as_f64().unwrap_or_default())
        }
        (Kind::Float, Some(n)) => Ok(n),
        (Kind::Int | Kind::Date | Kind::Float, None) => Err(mismatch()),
        _ => Err(refuse()),
    };
    let text = || match (kind, value) {
        (Kind::Str, Value::String(text)) => Ok(text.clone()),
        (Kind::Str, _) => Err(mismatch()),
        _ => Err(refuse()),
    };
    let list = || match value {
        Value::Array(items) => items.iter().map(typed).collect::<Result<Vec<_>, _>>(),
        _ => Err(ApiError::invalid(format!(
            "{operator} needs an array value"
        ))),
    };

    if let (Kind::Date, Some(tz)) = (kind, on.calendar_days) {
        // Since 2.14, contact search truncates dates to the app's calendar day.
        let ts = value.as_i64().ok_or_else(mismatch)?;
        let (day, next) = day_bounds(ts, tz);
        let (day, next) = (day as f64, next as f64);
        return match operator {
            "=" => Ok(Predicate::Range(Some((day, true)), Some((next, false)))),
            ">" => Ok(Predicate::Range(Some((next, true)), None)),
            "<" => Ok(Predicate::Range(None, Some((day, false)))),
            "!=" | ">=" | "<=" | "IN" | "NIN" | "~" | "!~" | "^" | "$" => Err(refuse()),
            _ => Err(ApiError::invalid(format!("unknown operator {operator}"))),
        };
    }
    let inclusive = on.inclusive_inequalities;
    Ok(match operator {
        "=" => Predicate::OneOf(vec![typed(value)?]),
        "!=" => Predicate::NoneOf(vec![typed(value)?]),
        "IN" => Predicate::OneOf(list()?),
        "NIN" => Predicate::NoneOf(list()?),
        ">" => Predicate::Range(Some((number()?, inclusive)), None),
        ">=" => Predicate::Range(Some((number()?, true)), None),
        "<" => Predicate::Range(None, Some((number()?, inclusive))),
        "<=" => Predicate::Range(None, Some((number()?, true))),
        "~" => Predicate::Contains(text()?),
        "!~" => Predicate::NotContains(text()?),
        "^" => Predicate::StartsWith(text()?),
        "$" => Predicate::EndsWith(text()?),
        _ => return Err(ApiError::invalid(format!("unknown operator {operator}"))),
    })
}

impl Node {
    fn matches(&self, record: &Value) -> bool {
        match self {
            Node::All(children) => children.iter().all(|child| child.matches(record)),
            Node::Any(children) => children.iter().any(|child| child.matches(record)),
            Node::Leaf(location, predicate) => predicate.matches(&values(record, location)),
        }
    }
}

/// The field's values in a record: one for scalars (`null` when missing), each
/// item's key for arrays.
fn values<'a>(record: &'a Value, location: &Location) -> Vec<&'a Value> {
    match location {
        Location::Scalar(pointer) => vec![record.pointer(pointer).unwrap_or(&Value::Null)],
        Location::Each(pointer, key) => record
            .pointer(pointer)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|item| item.get(*key))
            .collect(),
    }
}

fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

impl Predicate {
    fn matches(&self, values: &[&Value]) -> bool {
        let strings = || values.iter().filter_map(|value| value.as_str());
        match self {
            Predicate::OneOf(wanted) => {
                if values.is_empty() {
                    return wanted.iter().any(Value::is_null);
                }
                values.iter().any(|v| wanted.iter().any(|w| same(v, w)))
            }
            Predicate::NoneOf(unwanted) => {
                let present: &[&Value] = if values.is_empty() {
                    &[&Value::Null]
                } else {
                    values
                };
                !present.iter().any(|v| unwanted.iter().any(|u| same(v, u)))
            }
            Predicate::Range(lo, hi) => values.iter().filter_map(|v| v.as_f64()).any(|n| {
                lo.is_none_or(|(bound, inclusive)| n > bound || (inclusive && n == bound))
                    && hi.is_none_or(|(bound, inclusive)| n < bound || (inclusive && n == bound))
            }),
            Predicate::Contains(text) => strings().any(|s| s.contains(text.as_str())),
            Predicate::NotContains(text) => !strings().any(|s| s.contains(text.as_str())),
            Predicate::StartsWith(text) => strings().any(|s| s.starts_with(text.as_str())),
            Predicate::EndsWith(text) => strings().any(|s| s.ends_with(text.as_str())),
        }
    }
}

/// A sort value, ordered `null < booleans < numbers < strings`.
#[derive(Clone, Debug)]
enum SortKey {
    Null,
    Bool(bool),
    Num(f64),
    Str(String),
}

impl SortKey {
    fn of(value: Option<&Value>) -> SortKey {
        match value {
            Some(Value::Bool(b)) => SortKey::Bool(*b),
            Some(Value::Number(n)) => SortKey::Num(n.as_f64().unwrap_or_default()),
            Some(Value::String(s)) => SortKey::Str(s.clone()),
            _ => SortKey::Null,
        }
    }

    fn rank(&self) -> u8 {
        match self {
            SortKey::Null => 0,
            SortKey::Bool(_) => 1,
            SortKey::Num(_) => 2,
            SortKey::Str(_) => 3,
        }
    }

    fn to_json(&self) -> Value {
        match self {
            SortKey::Null => Value::Null,
            SortKey::Bool(b) => Value::Bool(*b),
            SortKey::Num(n) if n.fract() == 0.0 && n.abs() < 9e15 => Value::from(*n as i64),
            SortKey::Num(n) => Value::from(*n),
            SortKey::Str(s) => Value::from(s.as_str()),
        }
    }
}

impl Ord for SortKey {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (SortKey::Bool(a), SortKey::Bool(b)) => a.cmp(b),
            (SortKey::Num(a), SortKey::Num(b)) => a.total_cmp(b),
            (SortKey::Str(a), SortKey::Str(b)) => a.cmp(b),
            _ => self.rank().cmp(&other.rank()),
        }
    }
}

impl PartialOrd for SortKey {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for SortKey {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for SortKey {}

/// Standard base64 like Intercom's cursors (`WzE3…` is `[17…`); padding optional on input.
const CURSOR: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// The cursor is base64 of the JSON array `[sort value, id]` of the page's last
/// record: stateless, so paging resumes after that key even if records change.
fn encode_cursor(key: &SortKey, id: &str) -> String {
    general_purpose::STANDARD.encode(json!([key.to_json(), id]).to_string())
}

fn decode_cursor(cursor: &str) -> Result<(SortKey, String), ApiError> {
    let invalid = || ApiError::invalid("starting_after is not a valid cursor");
    let bytes = CURSOR.decode(cursor.trim()).map_err(|_| invalid())?;
    let parsed: Value = serde_json::from_slice(&bytes).map_err(|_| invalid())?;
    match parsed.as_array().map(Vec::as_slice) {
        Some(
            [
                key @ (Value::Null | Value::Bool(_) | Value::Number(_) | Value::String(_)),
                Value::String(id),
            ],
        ) => Ok((SortKey::of(Some(key)), id.clone())),
        _ => Err(invalid()),
    }
}

/// The `Intercom-Version` a request asked for, as `(major, minor)`; absent means
/// the app's default, 2.16. The gate has already refused unknown versions.
pub(crate) fn requested_version(headers: &axum::http::HeaderMap) -> (u32, u32) {
    headers
        .get("intercom-version")
        .and_then(|value| value.to_str().ok())
        .and_then(|text| text.trim().split_once('.'))
        .and_then(|(major, minor)| Some((major.parse().ok()?, minor.parse().ok()?)))
        .unwrap_or((2, 16))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_look_like_intercoms() {
        let cursor = encode_cursor(&SortKey::Num(1_719_493_757.0), "123");
        assert!(cursor.starts_with("WzE3"), "{cursor}");
        let (key, id) = decode_cursor(&cursor).unwrap();
        assert_eq!((key, id.as_str()), (SortKey::Num(1_719_493_757.0), "123"));
        for bad in ["", "!!!", "e30=", "WzFd", "WzEsMl0="] {
            assert!(decode_cursor(bad).is_err(), "{bad}");
        }
    }
}

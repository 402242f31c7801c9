//! The connector's config document: parsing, validation and defaults.

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};
use serde::Deserialize;
use serde_json::Value;

use crate::dates::{FUTURE_TOLERANCE_SECONDS, describe};
use crate::error::{Error, Result};

/// The Intercom API version every request pins. 2.16 is the newest stable
/// version and the one whose OpenAPI description the schemas derive from.
pub const API_VERSION: &str = "2.16";

/// Intercom caps search pages at 150 records.
pub const MAX_PAGE_SIZE: u32 = 150;

const DEFAULT_TIMEOUT_SECONDS: u32 = 60;
const DEFAULT_SEARCH_LOOKBACK_SECONDS: i64 = 600;
const DEFAULT_COMPLETE_PASS_INTERVAL_HOURS: u32 = 24;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Region {
    Us,
    Eu,
    Au,
}

impl Region {
    pub fn base_url(self) -> &'static str {
        match self {
            Region::Us => "https://api.intercom.io",
            Region::Eu => "https://api.eu.intercom.io",
            Region::Au => "https://api.au.intercom.io",
        }
    }
}

/// The raw document, as a user writes it.
#[derive(Deserialize)]
struct RawConfig {
    access_token: Option<String>,
    start_date: Option<String>,
    region: Option<String>,
    base_url: Option<String>,
    page_size: Option<u32>,
    request_timeout_seconds: Option<u32>,
    search_lookback_seconds: Option<i64>,
    rate_limit_share: Option<f64>,
    company_segments_per_company: Option<bool>,
    complete_pass_interval_hours: Option<u32>,
}

#[derive(Clone, Debug)]
pub struct Config {
    pub access_token: String,
    /// Records updated before this are not replicated on a first sync.
    pub start_date: DateTime<Utc>,
    /// Without a trailing slash.
    pub base_url: String,
    pub page_size: u32,
    pub timeout_ms: u32,
    /// Search streams re-read this far before their bookmark: Intercom
    /// indexes new and changed records for search with a delay of minutes.
    pub search_lookback_seconds: i64,
    /// Share of the app's rate-limit budget this connector may spend; other
    /// apps of the workspace share the workspace's limit.
    pub rate_limit_share: f64,
    /// Top-level keys the spec does not define: warned about, not refused,
    /// since Singer runners add settings of their own.
    pub unknown_keys: Vec<String>,
    /// Reads each company's segments with `GET /companies/{id}/segments`
    /// instead of from the company record, for workspaces whose embedded
    /// list proves incomplete.
    pub company_segments_per_company: bool,
    /// Streams with complete passes are sent whole at most this far apart
    /// (0: every run), so destinations learn what was deleted.
    pub complete_pass_interval_hours: u32,
}

/// The JSON Schema of the config, returned by `spec`.
pub const SPEC: &str = include_str!("spec.json");

impl Config {
    pub fn parse(text: &str) -> Result<Config> {
        let value: Value = serde_json::from_str(text)
            .map_err(|e| Error::config(format!("config is not valid JSON: {e}")))?;
        let Some(document) = value.as_object() else {
            return Err(Error::config("config must be a JSON object"));
        };
        let spec: Value = serde_json::from_str(SPEC).unwrap_or_default();
        let unknown_keys = document
            .keys()
            .filter(|key| spec["properties"].get(key.as_str()).is_none())
            .cloned()
            .collect();
        let raw: RawConfig = serde_path_to_error::deserialize(value)
            .map_err(|e| Error::config(format!("config: field `{}`: {}", e.path(), e.inner())))?;
        let access_token = raw
            .access_token
            .filter(|t| !t.trim().is_empty())
            .ok_or_else(|| Error::config("config: field `access_token` is required"))?;
        let start_date = match raw.start_date.as_deref() {
            None | Some("") => DateTime::UNIX_EPOCH,
            Some(text) => parse_start_date(text).ok_or_else(|| {
                Error::config(format!(
                    "config: field `start_date`: `{text}` is neither ISO 8601 nor MM/DD/YYYY"
                ))
            })?,
        };
        let base_url = api_base_url(raw.base_url.as_deref(), raw.region.as_deref())?;
        let page_size = raw.page_size.unwrap_or(MAX_PAGE_SIZE);
        if !(1..=MAX_PAGE_SIZE).contains(&page_size) {
            return Err(Error::config(format!(
                "config: field `page_size` must be between 1 and {MAX_PAGE_SIZE}, got {page_size}"
            )));
        }
        let timeout = raw
            .request_timeout_seconds
            .unwrap_or(DEFAULT_TIMEOUT_SECONDS);
        if timeout == 0 {
            return Err(Error::config(
                "config: field `request_timeout_seconds` must be positive",
            ));
        }
        let search_lookback_seconds = raw
            .search_lookback_seconds
            .unwrap_or(DEFAULT_SEARCH_LOOKBACK_SECONDS);
        if search_lookback_seconds < 0 {
            return Err(Error::config(
                "config: field `search_lookback_seconds` must not be negative",
            ));
        }
        let rate_limit_share = raw.rate_limit_share.unwrap_or(1.0);
        if !(rate_limit_share > 0.0 && rate_limit_share <= 1.0) {
            return Err(Error::config(format!(
                "config: field `rate_limit_share` must be in (0, 1], got {rate_limit_share}"
            )));
        }
        Ok(Config {
            unknown_keys,
            rate_limit_share,
            company_segments_per_company: raw.company_segments_per_company.unwrap_or(false),
            complete_pass_interval_hours: raw
                .complete_pass_interval_hours
                .unwrap_or(DEFAULT_COMPLETE_PASS_INTERVAL_HOURS),
            search_lookback_seconds,
            access_token,
            start_date,
            base_url,
            page_size,
            timeout_ms: timeout.saturating_mul(1000),
        })
    }

    /// Refuses a `start_date` further ahead of `now` (UNIX seconds) than
    /// clock skew explains: nothing would ever be synced.
    pub fn validate_dates(&self, now: i64) -> Result<()> {
        let start = self.start_date.timestamp();
        if start > now + FUTURE_TOLERANCE_SECONDS {
            return Err(Error::config(format!(
                "config: field `start_date` is {}, more than a day ahead of this machine's clock; nothing would be synced",
                describe(start)
            )));
        }
        Ok(())
    }

    /// One warning line naming the unknown keys, if any.
    pub fn unknown_keys_warning(&self) -> Option<String> {
        (!self.unknown_keys.is_empty()).then(|| {
            let keys: Vec<String> = self.unknown_keys.iter().map(|k| format!("`{k}`")).collect();
            format!("config: unknown keys {} ignored", keys.join(", "))
        })
    }

    /// Whether `stream`, whose parents embed its records, is read with one
    /// call per parent instead.
    pub fn reads_per_parent(&self, stream: &str) -> bool {
        stream == "company_segments" && self.company_segments_per_company
    }

    /// The single origin every request of this config goes to.
    pub fn origin(&self) -> String {
        // base_url was validated as an absolute URL in `parse`.
        url::Url::parse(&self.base_url)
            .map(|u| u.origin().ascii_serialization())
            .unwrap_or_default()
    }
}

/// The API's base URL for a config's `base_url`, else its `region` (else
/// the US): the one region table, which the host's CLI reads for its grant.
pub fn api_base_url(base_url: Option<&str>, region: Option<&str>) -> Result<String> {
    match (base_url, region) {
        (Some(url), _) => parse_base_url(url),
        (None, Some(region)) => Ok(region_from_name(region)?.base_url().to_string()),
        (None, None) => Ok(Region::Us.base_url().to_string()),
    }
}

fn region_from_name(name: &str) -> Result<Region> {
    serde_json::from_value(Value::String(name.to_ascii_lowercase())).map_err(|_| {
        Error::config(format!(
            "config: field `region` must be one of us, eu, au; got `{name}`"
        ))
    })
}

fn parse_base_url(text: &str) -> Result<String> {
    let url = url::Url::parse(text).map_err(|e| {
        Error::config(format!(
            "config: field `base_url`: `{text}` is not a URL: {e}"
        ))
    })?;
    // Checked first, so no message below repeats a password.
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Error::config(
            "config: field `base_url` must not carry user info (`user:password@`)",
        ));
    }
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(Error::config(format!(
            "config: field `base_url` must be an http(s) URL with a host, got `{text}`"
        )));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(Error::config(
            "config: field `base_url` must not carry a query or fragment",
        ));
    }
    Ok(url.as_str().trim_end_matches('/').to_string())
}

/// Accepts RFC 3339 / ISO 8601 date-times (with or without offset), ISO dates,
/// and the MM/DD/YYYY form some Singer UIs produce. Times without offset are UTC.
pub fn parse_start_date(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t.with_timezone(&Utc));
    }
    for format in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(text, format) {
            return Some(Utc.from_utc_datetime(&t));
        }
    }
    ["%Y-%m-%d", "%m/%d/%Y"]
        .iter()
        .find_map(|format| NaiveDate::parse_from_str(text, format).ok())
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| Utc.from_utc_datetime(&t))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Result<Config> {
        Config::parse(json)
    }

    #[test]
    fn defaults_to_us_region_and_full_pages() {
        let c = parse(r#"{"access_token":"t"}"#).unwrap();
        assert_eq!(c.base_url, "https://api.intercom.io");
        assert_eq!(c.page_size, 150);
        assert_eq!(c.start_date, DateTime::UNIX_EPOCH);
        assert_eq!(c.origin(), "https://api.intercom.io");
    }

    #[test]
    fn region_and_base_url() {
        let c = parse(r#"{"access_token":"t","region":"EU"}"#).unwrap();
        assert_eq!(c.base_url, "https://api.eu.intercom.io");
        let c = parse(r#"{"access_token":"t","region":"au","base_url":"http://127.0.0.1:8080/"}"#)
            .unwrap();
        assert_eq!(c.base_url, "http://127.0.0.1:8080");
        assert_eq!(c.origin(), "http://127.0.0.1:8080");
        let e = parse(r#"{"access_token":"t","region":"mars"}"#).unwrap_err();
        assert!(e.message.contains("`region`"), "{}", e.message);
        let e = parse(r#"{"access_token":"t","base_url":"ftp://x"}"#).unwrap_err();
        assert!(e.message.contains("`base_url`"), "{}", e.message);
    }

    #[test]
    fn start_date_forms() {
        let expected = Utc.with_ymd_and_hms(2024, 3, 5, 0, 0, 0).unwrap();
        for text in [
            "2024-03-05",
            "03/05/2024",
            "2024-03-05T00:00:00Z",
            "2024-03-05T01:00:00+01:00",
            "2024-03-05T00:00:00",
        ] {
            assert_eq!(parse_start_date(text), Some(expected), "{text}");
        }
        assert_eq!(parse_start_date("05.03.2024"), None);
        let e = parse(r#"{"access_token":"t","start_date":"yesterday"}"#).unwrap_err();
        assert!(e.message.contains("`start_date`"), "{}", e.message);
    }

    #[test]
    fn rejects_bad_documents_with_the_field_named() {
        for (json, field) in [
            ("{}", "access_token"),
            (r#"{"access_token":"  "}"#, "access_token"),
            (r#"{"access_token":5}"#, "access_token"),
            (r#"{"access_token":"t","page_size":151}"#, "page_size"),
            (r#"{"access_token":"t","page_size":"x"}"#, "page_size"),
            (
                r#"{"access_token":"t","request_timeout_seconds":0}"#,
                "request_timeout_seconds",
            ),
        ] {
            let e = parse(json).unwrap_err();
            assert!(e.message.contains(field), "{json}: {}", e.message);
        }
        let e = parse(r#"{"access_token":"t","base_url":"https://u:hunter2@api.intercom.io"}"#)
            .unwrap_err();
        assert!(e.message.contains("user info"), "{}", e.message);
        assert!(!e.message.contains("hunter2"), "{}", e.message);
        assert_eq!(e.document, Some(crate::error::Document::Config));
        assert!(parse("[1]").unwrap_err().message.contains("object"));
        assert!(parse("{").unwrap_err().message.contains("JSON"));
    }

    #[test]
    fn spec_is_a_json_schema_object() {
        let spec: Value = serde_json::from_str(SPEC).unwrap();
        assert_eq!(spec["type"], "object");
        assert_eq!(spec["required"][0], "access_token");
    }

    #[test]
    fn unknown_keys_are_named_in_one_warning() {
        let c = parse(r#"{"access_token":"t","start_date":"2024-01-01"}"#).unwrap();
        assert_eq!(c.unknown_keys_warning(), None);
        let c = parse(r#"{"access_token":"t","acces_token":"x","region":"us","user_agent":1}"#)
            .unwrap();
        assert_eq!(
            c.unknown_keys_warning().as_deref(),
            Some("config: unknown keys `acces_token`, `user_agent` ignored")
        );
    }

    #[test]
    fn a_start_date_past_clock_skew_is_refused() {
        let now = Utc
            .with_ymd_and_hms(2026, 12, 1, 0, 0, 0)
            .unwrap()
            .timestamp();
        let c = parse(r#"{"access_token":"t","start_date":"2026-12-02"}"#).unwrap();
        assert_eq!(c.validate_dates(now), Ok(()));
        let c = parse(r#"{"access_token":"t","start_date":"2999-01-01"}"#).unwrap();
        assert_eq!(
            c.validate_dates(now).unwrap_err().message,
            "config: field `start_date` is 2999-01-01T00:00:00Z, more than a day ahead of this machine's clock; nothing would be synced"
        );
    }
}

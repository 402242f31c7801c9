//! What the connector needs from its host, as a trait: the WIT imports in
//! production, a test double in native unit tests.

use crate::error::Result;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
}

#[derive(Clone, Debug)]
pub struct Request {
    pub method: Method,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<Vec<u8>>,
    pub timeout_ms: u32,
}

#[derive(Clone, Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    /// Header names arrive lower-cased from the host.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    Debug,
    Info,
    Warn,
    Error,
}

/// Why the connector waits; hosts may show or count waits by reason.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WaitReason {
    RateLimit,
    Retry,
    Busy,
}

/// A transport failure, rendered to one line by the bindings layer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TransportError {
    /// Timeouts and broken connections may pass; a refused origin or an
    /// oversized body will not.
    pub retryable: bool,
    pub message: String,
}

pub trait Host {
    fn send(&self, request: Request) -> std::result::Result<Response, TransportError>;
    fn send_batch(
        &self,
        requests: Vec<Request>,
    ) -> Vec<std::result::Result<Response, TransportError>>;
    fn schema(&self, stream: &str, schema: &str, key_properties: &[String], bookmarks: &[String]);
    fn records(&self, stream: &str, records: Vec<String>);
    /// What follows of `stream` is a complete pass with this table version.
    fn stream_version(&self, stream: &str, version: u64, first_load: bool);
    /// Up to `limit` keys of rows the host keeps for `stream` that its pass
    /// has not sent; none from a host that keeps no copy.
    fn absent_keys(&self, _stream: &str, _limit: u32) -> Vec<String> {
        Vec::new()
    }
    /// No more records of `stream` this run; `whole_table` when they were
    /// all of it.
    fn stream_complete(&self, stream: &str, whole_table: bool);
    /// `done` of about `total` records of `stream` read so far.
    fn stream_progress(&self, stream: &str, done: u64, total: u64);
    /// `stream` is not read this run, for `reason`.
    fn stream_skipped(&self, stream: &str, reason: &str);
    fn log(&self, level: LogLevel, message: &str);
    /// Milliseconds since the UNIX epoch.
    fn now_ms(&self) -> u64;
    fn sleep(&self, ms: u32, reason: WaitReason);
    /// Commits everything emitted so far together with `state`.
    fn checkpoint(&self, state: &str) -> Result<()>;
}

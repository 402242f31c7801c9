//! The thin layer between the WIT world and the native logic.

wit_bindgen::generate!({ path: "wit", world: "source-connector" });

use connector::source::types as wit;
use connector::source::{clock, http, output, state};
use exports::connector::source::source::Guest;

use crate::error::{Category, Document, Error};
use crate::host::{Host, LogLevel, Method, Request, Response, TransportError, WaitReason};

struct Component;

export!(Component);

impl Guest for Component {
    fn spec() -> String {
        crate::spec()
    }

    fn allowed_origins(config: String) -> Result<Vec<String>, wit::ConnectorError> {
        crate::allowed_origins(&config).map_err(into_wit)
    }

    fn check(config: String) -> Result<String, wit::ConnectorError> {
        crate::check(&WitHost, &config).map_err(into_wit)
    }

    fn discover(config: String) -> Result<String, wit::ConnectorError> {
        crate::discover(&WitHost, &config).map_err(into_wit)
    }

    fn read(
        config: String,
        catalog: Option<String>,
        state: Option<String>,
    ) -> Result<(), wit::ConnectorError> {
        crate::read(&WitHost, &config, catalog.as_deref(), state.as_deref()).map_err(into_wit)
    }
}

fn into_wit(error: Error) -> wit::ConnectorError {
    let category = match error.category {
        Category::Config => wit::ErrorCategory::Config,
        Category::Auth => wit::ErrorCategory::Auth,
        Category::RateLimit => wit::ErrorCategory::RateLimit,
        Category::Transient => wit::ErrorCategory::Transient,
        Category::Api => wit::ErrorCategory::Api,
        Category::Internal => wit::ErrorCategory::Internal,
    };
    let document = error.document.map(|d| match d {
        Document::Config => wit::Document::Config,
        Document::Catalog => wit::Document::Catalog,
        Document::State => wit::Document::State,
    });
    wit::ConnectorError {
        category,
        message: error.message,
        document,
    }
}

struct WitHost;

fn to_wit(request: Request) -> wit::Request {
    wit::Request {
        method: match request.method {
            Method::Get => wit::Method::Get,
            Method::Post => wit::Method::Post,
        },
        url: request.url,
        headers: request.headers,
        body: request.body,
        timeout_ms: request.timeout_ms,
    }
}

fn from_wit(
    result: Result<wit::Response, wit::TransportError>,
) -> Result<Response, TransportError> {
    match result {
        Ok(r) => Ok(Response {
            status: r.status,
            headers: r.headers,
            body: r.body,
        }),
        Err(e) => Err(match e {
            wit::TransportError::Timeout => retryable("timed out".to_string()),
            wit::TransportError::Connection(m) => retryable(format!("connection failed: {m}")),
            wit::TransportError::Other(m) => retryable(m),
            wit::TransportError::Tls(m) => final_error(format!("TLS failed: {m}")),
            wit::TransportError::Denied(m) => final_error(format!("refused by the host: {m}")),
            wit::TransportError::TooLarge(n) => {
                final_error(format!("response larger than the host's {n}-byte cap"))
            }
        }),
    }
}

fn retryable(message: String) -> TransportError {
    TransportError {
        retryable: true,
        message,
    }
}

fn final_error(message: String) -> TransportError {
    TransportError {
        retryable: false,
        message,
    }
}

impl Host for WitHost {
    fn send(&self, request: Request) -> Result<Response, TransportError> {
        from_wit(http::send(&to_wit(request)))
    }

    fn send_batch(&self, requests: Vec<Request>) -> Vec<Result<Response, TransportError>> {
        let requests: Vec<_> = requests.into_iter().map(to_wit).collect();
        http::send_batch(&requests)
            .into_iter()
            .map(from_wit)
            .collect()
    }

    fn schema(&self, stream: &str, schema: &str, key_properties: &[String], bookmarks: &[String]) {
        output::schema(stream, schema, key_properties, bookmarks);
    }

    fn records(&self, stream: &str, records: Vec<String>) {
        output::records(stream, &records);
    }

    fn stream_complete(&self, stream: &str, whole_table: bool) {
        output::stream_complete(stream, whole_table);
    }

    fn absent_keys(&self, stream: &str, limit: u32) -> Vec<String> {
        output::absent_keys(stream, limit)
    }

    fn stream_version(&self, stream: &str, version: u64, first_load: bool) {
        output::stream_version(stream, version, first_load);
    }

    fn stream_progress(&self, stream: &str, done: u64, total: u64) {
        output::stream_progress(stream, done, total);
    }

    fn stream_skipped(&self, stream: &str, reason: &str) {
        output::stream_skipped(stream, reason);
    }

    fn log(&self, level: LogLevel, message: &str) {
        let level = match level {
            LogLevel::Debug => wit::LogLevel::Debug,
            LogLevel::Info => wit::LogLevel::Info,
            LogLevel::Warn => wit::LogLevel::Warn,
            LogLevel::Error => wit::LogLevel::Error,
        };
        output::log(level, message);
    }

    fn now_ms(&self) -> u64 {
        clock::now_ms()
    }

    fn sleep(&self, ms: u32, reason: WaitReason) {
        let reason = match reason {
            WaitReason::RateLimit => clock::WaitReason::RateLimit,
            WaitReason::Retry => clock::WaitReason::Retry,
            WaitReason::Busy => clock::WaitReason::Busy,
        };
        clock::sleep(ms, reason);
    }

    fn checkpoint(&self, document: &str) -> crate::error::Result<()> {
        state::checkpoint(document)
            .map_err(|m| Error::internal(format!("the host could not commit state: {m}")))
    }
}

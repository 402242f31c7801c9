//! The token held by the host: the hostile guest's `exfiltrate` tries every
//! way out for it (its error, a log line, a record, a checkpoint, a URL, a
//! body, headers to another admitted origin, an API that echoes request
//! headers into its body and headers), under the Rust host as a library and
//! as the CLI, and under the JavaScript host. The token reaches the API's
//! request headers and nothing else: not stdout, stderr, the database, the
//! other origin, nor anything the guest saw.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use intercom_host::{CallTime, LogLevel, NetworkGrant, Sink, commands};
use serde_json::value::RawValue;
use serde_json::{Value, json};

use super::{cli, hostile, hostile_wasm};
use crate::js_host::js_host_on;

const TOKEN: &str = "tok_Sup3r/Secret+Value==";

/// What no output may hold: the token, or a telling part of it, in any
/// encoding a server might echo.
fn assert_no_token(what: &str, text: &str) {
    let percent: String = url::form_urlencoded::byte_serialize(TOKEN.as_bytes()).collect();
    for form in [TOKEN, "Sup3r", &percent] {
        assert!(
            !text.contains(form),
            "{what} holds the token ({form}):\n{text}"
        );
    }
}

/// A loopback server that answers every request with the request itself
/// (line, headers and body) in a JSON body, its `authorization` header in
/// `x-echo-authorization` and its `x-token` header percent-encoded in
/// `location`; it keeps every byte it received.
struct Echo {
    authority: String,
    received: Arc<Mutex<Vec<u8>>>,
}

impl Echo {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let authority = listener.local_addr().unwrap().to_string();
        let received = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&received);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let log = Arc::clone(&log);
                std::thread::spawn(move || answer(stream, &log));
            }
        });
        Self {
            authority,
            received,
        }
    }

    fn origin(&self) -> String {
        format!("http://{}", self.authority)
    }

    fn received(&self) -> String {
        String::from_utf8_lossy(&self.received.lock().unwrap()).into_owned()
    }
}

fn answer(mut stream: TcpStream, log: &Mutex<Vec<u8>>) {
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut request = Vec::new();
    let mut buffer = [0u8; 4096];
    let mut more = |request: &mut Vec<u8>| match stream.read(&mut buffer) {
        Ok(0) | Err(_) => false,
        Ok(n) => {
            request.extend_from_slice(&buffer[..n]);
            true
        }
    };
    let head_end = loop {
        if let Some(at) = request.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        if !more(&mut request) {
            return;
        }
    };
    let head = String::from_utf8_lossy(&request[..head_end]).into_owned();
    let header = |name: &str| {
        head.lines()
            .find_map(|line| {
                let (n, v) = line.split_once(':')?;
                n.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
            })
            .unwrap_or_default()
    };
    let length: usize = header("content-length").parse().unwrap_or(0);
    while request.len() < head_end + length && more(&mut request) {}
    log.lock().unwrap().extend_from_slice(&request);
    let authorization = header("authorization");
    let token: String =
        url::form_urlencoded::byte_serialize(header("x-token").as_bytes()).collect();
    let body = json!({
        "request": String::from_utf8_lossy(&request),
        "authorization": authorization,
    })
    .to_string();
    let _ = write!(
        stream,
        "HTTP/1.1 200 OK\r\nx-echo-authorization: {authorization}\r\nlocation: /?t={token}\r\n\
         content-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
}

/// The guest's config: the API (the token's origin) and another origin,
/// both declared by the guest and named by the config.
fn exfiltrate_config(api: &Echo, other: &Echo) -> Value {
    json!({
        "behavior": "exfiltrate",
        "access_token": TOKEN,
        "base_url": api.origin(),
        "other_url": other.origin(),
        "origins": [["http", api.authority], ["http", other.authority]],
    })
}

/// What each server got: the API the token in its two headers of both
/// requests to it, and nowhere else (not the URL nor the body); the other
/// origin its request, with only the placeholder.
fn assert_delivered(api: &Echo, other: &Echo) {
    let received = api.received();
    let carrying: Vec<&str> = received.lines().filter(|l| l.contains(TOKEN)).collect();
    assert_eq!(carrying.len(), 4, "the API's requests:\n{received}");
    for line in carrying {
        let (name, value) = line.split_once(": ").unwrap_or_default();
        let expected = match name.to_ascii_lowercase().as_str() {
            "authorization" => format!("Bearer {TOKEN}"),
            "x-token" => TOKEN.to_string(),
            _ => panic!("the token went out outside a header value: {line}"),
        };
        assert_eq!(value, expected, "{line}");
    }
    assert!(
        received.contains("/echo?token={{secret:access_token:"),
        "{received}"
    );
    assert!(
        received.contains(r#"{"token":"{{secret:access_token:"#),
        "{received}"
    );
    let received = other.received();
    assert_no_token("what the other origin received", &received);
    assert!(
        received.contains("/steal?token={{secret:access_token:"),
        "{received}"
    );
    assert!(
        received.contains("Bearer {{secret:access_token:"),
        "{received}"
    );
}

/// What the guest saw of the echoes: the placeholder where the token was.
/// A Singer run of the exfiltrating guest: it failed as the guest means to,
/// committed state, and nothing it printed or sent carried the token.
fn assert_singer_run_kept_the_token(run: &std::process::Output, api: &Echo, other: &Echo) {
    let stdout = String::from_utf8_lossy(&run.stdout);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("giving up with "), "{stderr}");
    assert_no_token("stdout", &stdout);
    assert_no_token("stderr", &stderr);
    assert!(stdout.contains(r#""type":"STATE""#), "{stdout}");
    assert_saw_placeholders(&stdout);
    assert_delivered(api, other);
}

fn assert_saw_placeholders(seen: &str) {
    for echoed in [
        r#"authorization: Bearer {{secret:access_token:"#,
        r#"x-echo-authorization","Bearer {{secret:access_token:"#,
        r#"location","/?t={{secret:access_token:"#,
    ] {
        let escaped = echoed.replace('"', "\\\"");
        assert!(
            seen.contains(echoed) || seen.contains(&escaped),
            "the guest did not see `{echoed}`:\n{seen}"
        );
    }
}

/// Everything a call emitted, as text.
#[derive(Default)]
struct Everything(String);

impl Sink for Everything {
    fn schema(
        &mut self,
        _: &str,
        schema: &RawValue,
        _: &[String],
        _: &[String],
    ) -> wasmtime::Result<()> {
        self.0 += schema.get();
        Ok(())
    }

    fn records(&mut self, _: &str, records: &[Box<RawValue>]) -> wasmtime::Result<()> {
        records.iter().for_each(|r| self.0 += r.get());
        Ok(())
    }

    fn checkpoint(&mut self, state: &RawValue) -> wasmtime::Result<()> {
        self.0 += state.get();
        Ok(())
    }

    fn log(&mut self, _: LogLevel, message: &str) {
        self.0 += message;
    }

    fn finished(&mut self, _: CallTime) {}
}

#[test]
fn the_rust_host_keeps_the_token_from_a_hostile_guest() {
    let (api, other) = (Echo::start(), Echo::start());
    let text = exfiltrate_config(&api, &other).to_string();
    // The guest's spec marks nothing secret: the token is sealed anyway.
    let config = commands::seal_config(hostile(), &text, Path::new("config.json")).unwrap();
    assert_no_token("the config exports see", config.sealed());
    let policy = hostile()
        .network_policy(&config, &NetworkGrant::Declared, Everything::default())
        .unwrap()
        .unwrap();
    let (sink, outcome) = hostile()
        .read(&config, None, None, policy, Everything::default())
        .unwrap();
    let error = outcome.expect_err("the guest gives up").message;
    assert!(error.starts_with("giving up with "), "{error}");
    let seen = format!("{}\n{error}", sink.0);
    assert_no_token("the guest's output", &seen);
    assert_saw_placeholders(&seen);
    assert_delivered(&api, &other);
}

#[test]
fn the_cli_keeps_the_token_from_stdout_stderr_and_the_database() {
    let (api, other) = (Echo::start(), Echo::start());
    let config = exfiltrate_config(&api, &other);
    let dir = tempfile::tempdir().unwrap();
    assert_singer_run_kept_the_token(&cli(&[], &config, dir.path()), &api, &other);

    let (api, other) = (Echo::start(), Echo::start());
    let config = exfiltrate_config(&api, &other);
    let database = dir.path().join("loot.db");
    let sync = cli(
        &["sync", "--database", database.to_str().unwrap()],
        &config,
        dir.path(),
    );
    let stderr = String::from_utf8_lossy(&sync.stderr);
    assert_eq!(sync.status.code(), Some(1), "{stderr}");
    assert_no_token("stdout", &String::from_utf8_lossy(&sync.stdout));
    assert_no_token("stderr", &stderr);
    // Every byte SQLite wrote, the committed state included.
    for suffix in ["", "-wal", "-shm"] {
        let path = format!("{}{suffix}", database.display());
        if let Ok(bytes) = std::fs::read(&path) {
            assert_no_token(&path, &String::from_utf8_lossy(&bytes));
        }
    }
    let db = rusqlite::Connection::open(&database).unwrap();
    let tokens: Vec<String> = db
        .prepare("SELECT token FROM loot WHERE id = 0")
        .unwrap()
        .query_map([], |row| row.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(tokens.len(), 1, "the guest's record was committed");
    assert!(
        tokens[0].starts_with("{{secret:access_token:"),
        "{tokens:?}"
    );
    let seen: Vec<String> = db
        .prepare("SELECT headers || body FROM loot WHERE id > 0 ORDER BY id")
        .unwrap()
        .query_map([], |row| row.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_saw_placeholders(&seen.join("\n"));
    assert_delivered(&api, &other);
}

#[test]
fn the_js_host_keeps_the_token_from_a_hostile_guest() {
    let (api, other) = (Echo::start(), Echo::start());
    let config = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(config.path(), exfiltrate_config(&api, &other).to_string()).unwrap();
    let output = js_host_on(
        &hostile_wasm(),
        &["--read", "--config", config.path().to_str().unwrap()],
    );
    assert_singer_run_kept_the_token(&output, &api, &other);
}

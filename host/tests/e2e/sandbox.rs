//! The sandbox against a component that misbehaves on purpose
//! (`tests/guests/hostile`, built by `scripts/build`): every limit stops it with an error
//! naming the limit, and the host carries on, down to syncing the real
//! connector in the same runtime afterwards.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::support::{built, cli_running, component_path};
use intercom_host::{
    CallTime, Config, Connector, Limits, LogLevel, NetworkGrant, NetworkPolicy, Runtime, Sink,
    commands,
};
use intercom_sim::{SimConfig, Simulator};
use serde_json::value::RawValue;
use serde_json::{Value, json};

mod secrets;

const MEMORY_MIB: usize = 128;
const RESPONSE_CAP: u64 = 4 << 20;

fn hostile_wasm() -> PathBuf {
    built("hostile_guest", &["tests/guests/hostile", "wit"])
}

/// One runtime for every test, with test-sized limits: a 1 s watchdog and
/// a 2 s max wait.
fn runtime() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        let limits = Limits {
            memory_bytes: MEMORY_MIB << 20,
            watchdog: Duration::from_secs(1),
            max_wait: Duration::from_secs(2),
            max_response_bytes: RESPONSE_CAP,
            ..Limits::default()
        };
        Runtime::new(limits, None).expect("engine")
    })
}

fn hostile() -> &'static Connector {
    static HOSTILE: OnceLock<Connector> = OnceLock::new();
    HOSTILE.get_or_init(|| {
        runtime()
            .load(&hostile_wasm())
            .expect("load the hostile guest")
    })
}

#[derive(Default)]
struct Collected {
    records: usize,
    logs: Vec<String>,
    time: Option<CallTime>,
}

impl Sink for Collected {
    fn records(&mut self, _: &str, records: &[Box<RawValue>]) -> wasmtime::Result<()> {
        self.records += records.len();
        Ok(())
    }

    fn log(&mut self, _: LogLevel, message: &str) {
        self.logs.push(message.to_string());
    }

    fn finished(&mut self, time: CallTime) {
        assert!(self.time.replace(time).is_none(), "one call, one time");
    }
}

/// `read` of the hostile guest with `behavior`: the host's error, if any.
fn read_hostile(behavior: &str) -> Result<Collected, String> {
    let config = json!({ "behavior": behavior, "budget_ms": 1000 }).to_string();
    let config = Config::seal(&config, &[]).unwrap();
    match hostile().read(
        &config,
        None,
        None,
        NetworkPolicy::deny_all(),
        Collected::default(),
    ) {
        Ok((sink, outcome)) => {
            outcome.map_err(|e| format!("connector error: {}", e.message))?;
            Ok(sink)
        }
        Err(e) => Err(format!("{e:#}")),
    }
}

/// [`read_hostile`] for a behavior that never ends unless the host stops
/// it: a guest the host fails to stop fails the test after `limit` instead
/// of hanging it.
fn read_hostile_within(behavior: &str, limit: Duration) -> Result<Collected, String> {
    let (sender, receiver) = std::sync::mpsc::channel();
    let behavior = behavior.to_string();
    std::thread::spawn(move || sender.send(read_hostile(&behavior)));
    receiver
        .recv_timeout(limit)
        .unwrap_or_else(|_| panic!("the host did not stop the guest within {limit:?}"))
}

/// `check` of the hostile guest under the policy it declares for `config`.
fn check_hostile(config: &Value) -> Result<String, String> {
    let config = Config::seal(&config.to_string(), &[]).unwrap();
    let policy = hostile()
        .network_policy(&config, &NetworkGrant::Declared, Collected::default())
        .map_err(|e| format!("{e:#}"))?
        .expect("the guest declares its origins");
    hostile()
        .check(&config, policy, Collected::default())
        .map_err(|e| format!("{e:#}"))?
        .map_err(|e| e.message)
}

/// A loopback listener that records whether anything connected to it.
struct Tripwire {
    listener: TcpListener,
}

impl Tripwire {
    fn new() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        Self { listener }
    }

    fn authority(&self) -> String {
        self.listener.local_addr().unwrap().to_string()
    }

    fn origin(&self) -> String {
        format!("http://{}", self.authority())
    }

    fn touched(&self) -> bool {
        self.listener.accept().is_ok()
    }
}

#[test]
fn a_spinning_guest_is_stopped_by_the_watchdog() {
    hostile();
    let started = Instant::now();
    let error = read_hostile_within("spin", Duration::from_secs(10))
        .err()
        .expect("the watchdog fires");
    assert_eq!(
        error,
        "component failed: component ran 1 s without progress: no request, output or checkpoint (watchdog)"
    );
    let elapsed = started.elapsed();
    assert!(elapsed >= Duration::from_secs(1), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(3), "{elapsed:?}");
}

#[test]
fn a_guest_looping_on_the_clock_and_logs_is_stopped_by_the_watchdog() {
    hostile();
    let started = Instant::now();
    let error = read_hostile_within("clock-spin", Duration::from_secs(10))
        .err()
        .expect("the watchdog fires");
    assert_eq!(
        error,
        "component failed: component ran 1 s without progress: no request, output or checkpoint (watchdog)"
    );
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[test]
fn sleeping_without_progress_is_stopped_at_the_max_wait() {
    hostile();
    let started = Instant::now();
    let error = read_hostile_within("doze", Duration::from_secs(10))
        .err()
        .expect("the max wait");
    assert_eq!(
        error,
        "component failed: component asked to wait 2.2 s without progress; the limit is 2 s (max wait)"
    );
    let elapsed = started.elapsed();
    assert!(elapsed >= Duration::from_secs(2), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(4), "{elapsed:?}");
    let started = Instant::now();
    let error = read_hostile_within("hibernate", Duration::from_secs(10))
        .err()
        .expect("refused up front");
    assert_eq!(
        error,
        "component failed: component asked to wait 4294967.295 s without progress; the limit is 2 s (max wait)"
    );
    assert!(started.elapsed() < Duration::from_secs(1));
}

#[test]
fn sleeps_and_time_inside_the_host_do_not_count_and_progress_restarts_both() {
    // 3 × (0.5 s computing, 1 s and 0.5 s asleep, a checkpoint): 2 s between
    // checkpoints against a 1 s watchdog, 4.5 s of sleep against a 2 s max
    // wait, 6 s in all.
    let started = Instant::now();
    let sink = read_hostile("patient").expect("a guest that makes progress runs on");
    let elapsed = started.elapsed();
    assert_eq!(sink.logs, ["round 0", "round 1", "round 2"]);
    assert!(elapsed >= Duration::from_secs(6), "{elapsed:?}");
    // Where the time went: the sleeps in the host, the computing in the
    // component.
    let time = sink.time.expect("the call's time");
    assert_eq!(time.waits.rate_limit, Duration::from_secs(3));
    assert_eq!(time.waits.retry, Duration::from_millis(1500));
    assert_eq!(time.waits.count, 6);
    assert!(time.total <= elapsed, "{time:?}");
    assert!(time.in_host >= Duration::from_millis(4500), "{time:?}");
    let component = time.total - time.in_host;
    assert!(component >= Duration::from_millis(1500), "{time:?}");
    assert!(component < Duration::from_millis(2500), "{time:?}");
}

#[test]
fn unbounded_memory_is_stopped_at_the_cap() {
    let error = read_hostile("grow").err().expect("the memory cap");
    assert_eq!(
        error,
        format!("component failed: memory limit of {MEMORY_MIB} MiB exceeded")
    );
}

#[test]
fn unbounded_recursion_is_stopped() {
    let error = read_hostile("recurse").err().expect("the stack limit");
    assert!(error.contains("call stack exhausted"), "{error}");
}

#[test]
fn output_that_breaks_the_contract_is_refused() {
    let error = read_hostile("undeclared").err().unwrap();
    assert_eq!(
        error,
        "component failed: component emitted records for undeclared stream `ghost`"
    );
    // The bad schema traps its own call: its stream is never declared.
    let error = read_hostile("bad-schema").err().unwrap();
    assert_eq!(
        error,
        "component failed: schema of stream `things` is not a JSON object"
    );
    let error = read_hostile("not-json").err().unwrap();
    assert!(
        error.starts_with("component failed: a record of stream `things` is not valid JSON"),
        "{error}"
    );
}

#[test]
fn requests_outside_the_allow_list_are_denied_before_connecting() {
    let named = Tripwire::new();
    let unnamed = Tripwire::new();
    let config = json!({
        "behavior": "fetch",
        "base_url": named.origin(),
        "origins": [["http", named.authority()], ["https", "api.example.com"]],
        "urls": [
            "https://evil.example/steal?token=x",
            "http://api.example.com/",
            format!("{}/admin", unnamed.origin()),
            format!("https://{}/", unnamed.authority()),
            "ftp://api.example.com/",
        ],
    });
    let report = check_hostile(&config).unwrap();
    let lines: Vec<&str> = report.lines().collect();
    assert_eq!(lines.len(), 5, "{report}");
    for line in &lines {
        assert!(
            line.contains("Denied(\"origin ") && line.contains("is not in the allow-list"),
            "{line}"
        );
    }
    assert!(
        !unnamed.touched(),
        "a request reached an origin the config does not name"
    );
}

#[test]
fn origins_the_config_does_not_name_are_refused_up_front() {
    let unnamed = Tripwire::new();
    let port = unnamed.listener.local_addr().unwrap().port();
    for (scheme, authority) in [
        ("http", unnamed.authority()),
        ("https", format!("localhost:{port}")),
        ("https", format!("0.0.0.0:{port}")),
        ("https", format!("[::ffff:127.0.0.1]:{port}")),
        ("http", "api.example.com".to_string()),
    ] {
        let config = json!({ "behavior": "fetch", "origins": [[scheme, authority]], "urls": [] });
        let error = check_hostile(&config).expect_err(&authority);
        assert!(error.starts_with("the component declared"), "{error}");
    }
    assert!(!unnamed.touched());
}

#[test]
fn redirects_are_returned_to_the_guest_not_followed() {
    let target = Tripwire::new();
    let server = TcpListener::bind("127.0.0.1:0").unwrap();
    let origin = format!("http://{}", server.local_addr().unwrap());
    let location = format!("{}/landing", target.origin());
    let redirect = location.clone();
    let handle = std::thread::spawn(move || {
        let (mut stream, _) = server.accept().unwrap();
        let mut request = [0u8; 4096];
        let n = stream.read(&mut request).unwrap();
        let response = format!(
            "HTTP/1.1 302 Found\r\nlocation: {redirect}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
        );
        stream.write_all(response.as_bytes()).unwrap();
        String::from_utf8_lossy(&request[..n]).into_owned()
    });
    let config = json!({
        "behavior": "fetch",
        "base_url": origin,
        "origins": [["http", origin.trim_start_matches("http://")]],
        "urls": [format!("{origin}/start")],
    });
    let report = check_hostile(&config).unwrap();
    assert_eq!(
        report,
        format!("{origin}/start -> status 302 location {location}")
    );
    let request = handle.join().unwrap();
    assert!(request.starts_with("GET /start HTTP/1.1"), "{request}");
    assert!(!target.touched(), "the host followed the redirect");
}

#[test]
fn a_response_over_the_size_cap_is_cut_off() {
    let server = TcpListener::bind("127.0.0.1:0").unwrap();
    let authority = server.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        let (mut stream, _) = server.accept().unwrap();
        let _ = stream.read(&mut [0u8; 4096]);
        let size = RESPONSE_CAP + 1024;
        let head = format!("HTTP/1.1 200 OK\r\ncontent-length: {size}\r\n\r\n");
        let _ = stream.write_all(head.as_bytes());
        let _ = stream.write_all(&vec![b'x'; size as usize]);
    });
    let origin = format!("http://{authority}");
    let config = json!({
        "behavior": "fetch",
        "base_url": origin,
        "origins": [["http", authority]],
        "urls": [format!("{origin}/big")],
    });
    assert_eq!(
        check_hostile(&config).unwrap(),
        format!("{origin}/big -> TransportError::TooLarge({RESPONSE_CAP})")
    );
}

#[test]
fn files_environment_stdio_and_sockets_are_invisible() {
    let tripwire = Tripwire::new();
    let config = json!({
        "behavior": "snoop",
        "connect": tripwire.listener.local_addr().unwrap().to_string(),
    });
    let seen: Value = serde_json::from_str(&check_hostile(&config).unwrap()).unwrap();
    for probe in [
        "read /etc/passwd",
        "list /",
        "list .",
        "write ./x",
        "connect",
        "resolve",
    ] {
        let outcome = seen[probe].as_str().unwrap();
        assert!(outcome.starts_with("error"), "{probe}: {outcome}");
    }
    assert_eq!(seen["env"], json!([]));
    assert_eq!(seen["args"], json!([]));
    assert_eq!(seen["stdin"], "ok: ", "stdin is closed: empty");
    assert!(!tripwire.touched());
}

/// The limits in a row in one runtime, then a real sync in that runtime.
#[test]
fn the_host_outlives_hostile_guests_and_still_syncs() {
    for behavior in [
        "spin",
        "clock-spin",
        "hibernate",
        "grow",
        "recurse",
        "undeclared",
    ] {
        assert!(read_hostile(behavior).is_err(), "{behavior}");
    }
    let connector = runtime()
        .load(&component_path())
        .expect("the real component: run scripts/build");
    let sim = Simulator::start(SimConfig::default()).unwrap();
    let config = json!({ "access_token": "sim-token", "base_url": sim.base_url() }).to_string();
    let config = commands::seal_config(&connector, &config, Path::new("config.json")).unwrap();
    let policy = connector
        .network_policy(&config, &NetworkGrant::Declared, Collected::default())
        .unwrap()
        .unwrap();
    let (sink, outcome) = connector
        .read(&config, None, None, policy, Collected::default())
        .unwrap();
    outcome.expect("the real sync succeeds");
    assert!(sink.records > 1000, "{}", sink.records);
}

/// The CLI on the hostile guest; killed, failing the test, if a limit lets
/// the guest run on for a minute.
fn cli(args: &[&str], config: &Value, dir: &Path) -> Output {
    let path = dir.join("config.json");
    std::fs::write(&path, config.to_string()).unwrap();
    let mut child = cli_running(&hostile_wasm(), &dir.join("cache"))
        .args(args)
        .arg("--config")
        .arg(&path)
        // The user's own trace directives for the HTTP client, which the
        // host caps.
        .env("RUST_LOG", "info,ureq=trace,ureq_proto=trace")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = pipe.read_to_end(&mut bytes);
            bytes
        })
    };
    let stdout = drain(Box::new(child.stdout.take().unwrap()));
    let stderr = drain(Box::new(child.stderr.take().unwrap()));
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the host ran the guest for a minute: {args:?} {config}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Output {
        status,
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
    }
}

fn error_lines(output: &Output) -> Vec<String> {
    String::from_utf8_lossy(&output.stderr)
        .lines()
        .filter(|l| l.starts_with("error:"))
        .map(String::from)
        .collect()
}

#[test]
fn the_cli_names_the_limit_in_one_line_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let output = cli(
        &["--watchdog-seconds", "1"],
        &json!({"behavior": "spin"}),
        dir.path(),
    );
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        error_lines(&output),
        [
            "error: component failed: component ran 1 s without progress: no request, output or checkpoint (watchdog)"
        ]
    );
    let output = cli(
        &["--max-wait-seconds", "1", "--log-format", "json"],
        &json!({"behavior": "doze"}),
        dir.path(),
    );
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        error_lines(&output),
        [
            "error: component failed: component asked to wait 1.2 s without progress; the limit is 1 s (max wait)"
        ]
    );
    // The summary splits the run's time: five 200 ms sleeps in the host.
    let summary = String::from_utf8_lossy(&output.stderr)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|l| l["fields"]["message"] == "sync failed")
        .expect("a JSON summary");
    let fields = &summary["fields"];
    assert_eq!(fields["wait_seconds"], 1.0, "{fields}");
    let host = fields["host_seconds"].as_f64().unwrap();
    let component = fields["component_seconds"].as_f64().unwrap();
    assert!((1.0..1.5).contains(&host), "{fields}");
    assert!((0.0..0.5).contains(&component), "{fields}");
    let output = cli(
        &["--max-memory-mb", "32"],
        &json!({"behavior": "grow"}),
        dir.path(),
    );
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        error_lines(&output),
        ["error: component failed: memory limit of 32 MiB exceeded"]
    );
}

#[test]
fn credentials_never_reach_the_logs_even_at_trace_level() {
    let dir = tempfile::tempdir().unwrap();
    let server = TcpListener::bind("127.0.0.1:0").unwrap();
    let origin = format!("http://{}", server.local_addr().unwrap());
    std::thread::spawn(move || {
        let (mut stream, _) = server.accept().unwrap();
        let mut request = [0u8; 4096];
        let _ = stream.read(&mut request);
        let _ = stream.write_all(b"HTTP/1.1 204 No Content\r\nconnection: close\r\n\r\n");
    });
    let config = json!({
        "behavior": "fetch",
        "base_url": origin,
        "origins": [["http", origin.trim_start_matches("http://")]],
        "urls": [format!("{origin}/me"), "https://evil.example/"],
    });
    let output = cli(&["check"], &config, dir.path());
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("status 204"), "{stdout}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains(" TRACE "), "{stderr}");
    assert!(!stderr.contains("secret"), "{stderr}");
}

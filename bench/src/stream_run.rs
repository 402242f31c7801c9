//! One stream synced by the release host in a child process, so its peak
//! RSS and CPU time are the host's alone (the simulator runs in this
//! process). The peak is read from /proc (VmHWM) while the child runs: a
//! child's rusage would also count the pages it shared with this process
//! before exec. The host's JSON summary says how much of the sync ran in the
//! component and how much in the host (of which how much asleep).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Instant;

use intercom_sim::Simulator;
use serde_json::{Value, json};

use crate::Args;

/// What one run syncs: `stream` alone, or every stream; from `state`.
pub struct Sync<'a> {
    pub stream: Option<&'a str>,
    pub state: Option<&'a Value>,
}

pub struct Figures {
    stream: String,
    records: u64,
    seconds: f64,
    requests: u64,
    rate_limited: u64,
    peak_rss_mb: f64,
    cpu_seconds: f64,
    component_seconds: f64,
    host_seconds: f64,
    /// The guest's sleeps (rate-limit windows, retries), part of the host's.
    wait_seconds: f64,
    /// The last STATE message's value.
    pub state: Value,
    /// Requests by endpoint, as the simulator counted them.
    pub by_endpoint: BTreeMap<String, u64>,
}

impl Figures {
    pub fn seconds(&self) -> f64 {
        self.seconds
    }
}

pub fn print_header() {
    println!(
        "{:<20} {:>9} {:>8} {:>10} {:>9} {:>8} {:>10} {:>6} {:>9} {:>8} {:>11} {:>9} {:>8} {:>8}",
        "stream",
        "records",
        "secs",
        "records/s",
        "requests",
        "req/s",
        "of budget",
        "429s",
        "peak RSS",
        "CPU s",
        "rec/CPU-s",
        "in wasm",
        "in host",
        "waiting"
    );
}

impl Figures {
    pub fn print(&self, budget_per_minute: Option<u32>) {
        let per_second = |n: u64| n as f64 / self.seconds.max(1e-9);
        let share = budget_per_minute.map_or("-".to_string(), |b| {
            format!(
                "{:.0}%",
                100.0 * per_second(self.requests) / (f64::from(b) / 60.0)
            )
        });
        println!(
            "{:<20} {:>9} {:>8.2} {:>10.0} {:>9} {:>8.1} {:>10} {:>6} {:>7.1}MB {:>8.2} {:>11.0} {:>8.2}s {:>7.2}s {:>7.2}s",
            self.stream,
            self.records,
            self.seconds,
            per_second(self.records),
            self.requests,
            per_second(self.requests),
            share,
            self.rate_limited,
            self.peak_rss_mb,
            self.cpu_seconds,
            self.records as f64 / self.cpu_seconds.max(1e-9),
            self.component_seconds,
            self.host_seconds,
            self.wait_seconds
        );
    }
}

pub fn run(args: &Args, sim: &Simulator, sync: &Sync) -> Figures {
    let dir = std::env::temp_dir().join(format!("intercom-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let config = dir.join("config.json");
    let body = json!({"access_token": "sim-token", "base_url": sim.base_url()});
    std::fs::write(&config, body.to_string()).expect("write config");
    let mut documents = Vec::new();
    if let Some(stream) = sync.stream {
        let catalog = dir.join("catalog.json");
        let selection = json!({"streams": [{"tap_stream_id": stream}]});
        std::fs::write(&catalog, selection.to_string()).expect("write catalog");
        documents.extend(["--catalog".into(), catalog]);
    }
    if let Some(state) = sync.state {
        let path = dir.join("state.json");
        std::fs::write(&path, state.to_string()).expect("write state");
        documents.extend(["--state".into(), path]);
    }

    // Compile the component into the cache first: the timed run measures a
    // sync, not Cranelift.
    let warmed = Command::new(&args.host)
        .arg("spec")
        .arg("--component")
        .arg(&args.component)
        .arg("--cache-dir")
        .arg(dir.join("cache"))
        .stdout(Stdio::null())
        .status()
        .expect("start the host");
    assert!(warmed.success(), "the host could not load the component");

    let before = sim.stats();
    let cpu_before = children_cpu_seconds();
    let started = Instant::now();
    let mut child = Command::new(&args.host)
        .arg("--config")
        .arg(&config)
        .args(&documents)
        .arg("--component")
        .arg(&args.component)
        .arg("--cache-dir")
        .arg(dir.join("cache"))
        .arg("--concurrency")
        .arg(args.concurrency.to_string())
        .arg("--log-format")
        .arg("json")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the host");
    let pid = child.id();
    let watcher = std::thread::spawn(move || peak_rss_kb(pid));
    let stderr = child.stderr.take().expect("stderr");
    let summary = std::thread::spawn(move || read_summary(stderr));
    // Consume the Singer output as a target would, counting records.
    let mut records = 0;
    let mut state = Value::Null;
    for line in BufReader::new(child.stdout.take().expect("stdout")).split(b'\n') {
        let line = line.expect("read stdout");
        if line.starts_with(b"{\"type\":\"RECORD\"") {
            records += 1;
        } else if line.starts_with(b"{\"type\":\"STATE\"") {
            let mut message: Value = serde_json::from_slice(&line).expect("a STATE message");
            state = message["value"].take();
        }
    }
    let status = child.wait().expect("wait for the host");
    let seconds = started.elapsed().as_secs_f64();
    let cpu_seconds = children_cpu_seconds() - cpu_before;
    let peak_rss_kb = watcher.join().expect("rss watcher");
    let summary = summary.join().expect("stderr reader");
    if !status.success() {
        eprintln!("warning: the host exited with {status}");
    }
    let after = sim.stats();
    let by_endpoint = after
        .by_endpoint
        .iter()
        .map(|(endpoint, n)| {
            let earlier = before.by_endpoint.get(endpoint).copied().unwrap_or(0);
            (endpoint.clone(), n - earlier)
        })
        .filter(|(_, n)| *n > 0)
        .collect();
    Figures {
        stream: sync.stream.unwrap_or("every stream").to_string(),
        records,
        seconds,
        requests: after.authenticated - before.authenticated,
        rate_limited: after.rate_limited - before.rate_limited,
        peak_rss_mb: peak_rss_kb as f64 / 1024.0,
        cpu_seconds,
        component_seconds: summary["component_seconds"].as_f64().unwrap_or(f64::NAN),
        host_seconds: summary["host_seconds"].as_f64().unwrap_or(f64::NAN),
        wait_seconds: summary["wait_seconds"].as_f64().unwrap_or(f64::NAN),
        state,
        by_endpoint,
    }
}

/// The fields of the host's end-of-run summary. Warnings, errors and
/// anything not a JSON log line are passed through to this process's
/// stderr; info and debug lines are dropped, to keep the table readable.
fn read_summary(stderr: impl std::io::Read) -> Value {
    let mut summary = Value::Null;
    for line in BufReader::new(stderr).lines().map_while(Result::ok) {
        match serde_json::from_str::<Value>(&line) {
            Ok(mut log) if log["fields"]["component_seconds"].is_number() => {
                summary = log["fields"].take();
            }
            Ok(log) if matches!(log["level"].as_str(), Some("INFO" | "DEBUG" | "TRACE")) => {}
            _ => eprintln!("{line}"),
        }
    }
    summary
}

/// User plus system CPU time of this process's waited-for children.
fn children_cpu_seconds() -> f64 {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage fills the struct it is given; zeroed is a valid rusage.
    let usage = unsafe {
        libc::getrusage(libc::RUSAGE_CHILDREN, usage.as_mut_ptr());
        usage.assume_init()
    };
    let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    seconds(usage.ru_utime) + seconds(usage.ru_stime)
}

/// The child's VmHWM (peak RSS, kB), polled until the process is gone.
fn peak_rss_kb(pid: u32) -> u64 {
    let path = format!("/proc/{pid}/status");
    let mut peak = 0;
    while let Ok(status) = std::fs::read_to_string(&path) {
        let hwm = status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok());
        match hwm {
            Some(kb) => peak = peak.max(kb),
            None => break, // a zombie: the process has exited
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    peak
}

//! The `intercom-sim` binary as scripts use it.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use intercom_sim::SimConfig;
use serde_json::Value;

/// Starts the binary; returns it, its stdout, the first line and the base URL.
fn spawn(args: &[&str]) -> (Child, BufReader<ChildStdout>, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_intercom-sim"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("binary starts");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut line = String::new();
    stdout.read_line(&mut line).expect("first line");
    let url = line
        .trim_end()
        .strip_prefix("intercom-sim listening on http://127.0.0.1:")
        .map(|port| format!("http://127.0.0.1:{port}"))
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"));
    (child, stdout, line, url)
}

#[cfg(unix)]
#[test]
fn binary_prints_its_url_serves_and_stops_on_sigterm() {
    let token = "cli-secret-token";
    let (mut child, mut stdout, line, url) = spawn(&[
        "--port", "0", "--seed", "9", "--admins", "3", "--teams", "2", "--tags", "5", "--token",
        token,
    ]);

    let mut response = ureq::get(format!("{url}/admins"))
        .header("Authorization", format!("Bearer {token}"))
        .call()
        .expect("admins");
    let body: Value = serde_json::from_str(&response.body_mut().read_to_string().unwrap()).unwrap();
    let expected = crate::http::start(SimConfig {
        seed: 9,
        admins: 3,
        teams: 2,
        tags: 5,
        ..SimConfig::default()
    })
    .dataset();
    assert_eq!(body["admins"], Value::from(expected.admins));

    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if Instant::now() > deadline {
            child.kill().expect("kill after timeout");
            panic!("intercom-sim did not stop on SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "{status}");

    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut rest)
        .unwrap();
    assert!(
        !line.contains(token) && !rest.contains(token),
        "token leaked"
    );
    assert!(
        rest.trim().is_empty(),
        "exactly one line of output, then {rest:?}"
    );
}

#[test]
fn binary_injects_faults_from_its_flags() {
    let (mut child, _stdout, _, url) = spawn(&[
        "--admins",
        "3",
        "--tags",
        "5",
        "--fault",
        "503@/admins:after=1:times=2",
        "--fault",
        "reset@/tags",
        "--latency-ms",
        "20",
    ]);
    let agent = crate::http::agent();
    let status = |path: &str| {
        agent
            .get(format!("{url}{path}"))
            .header("Authorization", "Bearer sim-token")
            .call()
            .map(|response| response.status().as_u16())
    };
    let admins: Vec<u16> = (0..4).map(|_| status("/admins").unwrap()).collect();
    assert_eq!(admins, [200, 503, 503, 200]);
    assert!(status("/tags").is_err(), "reset");
    assert_eq!(status("/tags").unwrap(), 200);
    child.kill().expect("kill");
    child.wait().expect("wait");

    for (args, error) in [
        (&["--fault", "boom"][..], "unknown fault"),
        (&["--fault", "500:times=x"][..], "bad count"),
        (&["--random-faults", "1.5"][..], "not a probability"),
    ] {
        let output = Command::new(env!("CARGO_BIN_EXE_intercom-sim"))
            .args(args)
            .output()
            .expect("binary runs");
        assert!(!output.status.success(), "{args:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(error), "{args:?}: {stderr}");
    }
}

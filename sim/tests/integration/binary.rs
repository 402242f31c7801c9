//! The `intercom-sim` binary as scripts use it.

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use intercom_sim::SimConfig;
use serde_json::Value;

#[cfg(unix)]
#[test]
fn binary_prints_its_url_serves_and_stops_on_sigterm() {
    let token = "cli-secret-token";
    let mut child = Command::new(env!("CARGO_BIN_EXE_intercom-sim"))
        .args([
            "--port", "0", "--seed", "9", "--admins", "3", "--teams", "2",
        ])
        .args(["--tags", "5", "--token", token])
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

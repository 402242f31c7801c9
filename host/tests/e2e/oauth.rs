//! `intercom-connector auth` end to end: the real binary against the
//! simulator's OAuth endpoints, with the test playing the browser (it reads
//! the authorize URL from stdout, follows the simulator's redirect to the
//! binary's loopback listener, and reads the page it answers).

use std::io::{BufRead, BufReader, Read};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Child, Stdio};

use crate::support::cli;
use intercom_sim::{SimConfig, Simulator};
use serde_json::{Value, json};
use url::Url;

const SECRET: &str = "sim-secret";

fn simulator() -> Simulator {
    Simulator::start(SimConfig {
        contacts: 20,
        companies: 10,
        conversations: 10,
        ..SimConfig::default()
    })
    .unwrap()
}

/// An `auth` run in progress, with the authorize URL it printed.
struct Auth {
    child: Child,
    stdout: BufReader<std::process::ChildStdout>,
    authorize_url: Url,
}

impl Auth {
    fn start(sim: &Simulator, config: &Path, secret: &str, extra: &[String]) -> Auth {
        let mut child = cli()
            .args(["--config", config.to_str().unwrap(), "auth"])
            .args([
                "--client-id",
                "sim-client",
                "--port",
                "0",
                "--timeout",
                "60",
            ])
            .arg("--authorize-url")
            .arg(format!("{}/oauth", sim.base_url()))
            .args(extra)
            .env("INTERCOM_CLIENT_SECRET", secret)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        let authorize_url = Url::parse(line.trim())
            .unwrap_or_else(|e| panic!("first stdout line is the authorize URL ({e}): {line:?}"));
        Auth {
            child,
            stdout,
            authorize_url,
        }
    }

    fn param(&self, name: &str) -> String {
        param(&self.authorize_url, name).unwrap_or_else(|| panic!("no {name} in the URL"))
    }

    /// Exit success, stdout after the URL, stderr.
    fn finish(mut self) -> (bool, String, String) {
        let mut rest = String::new();
        self.stdout.read_to_string(&mut rest).unwrap();
        let output = self.child.wait_with_output().unwrap();
        (
            output.status.success(),
            rest,
            String::from_utf8(output.stderr).unwrap(),
        )
    }
}

fn param(url: &Url, name: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .new_agent()
}

/// The browser: `GET url`, returning the status, `Location` and body.
fn visit(url: &str) -> (u16, Option<String>, String) {
    let mut response = agent().get(url).call().unwrap();
    let location = response
        .headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_owned());
    let body = response.body_mut().read_to_string().unwrap();
    (response.status().as_u16(), location, body)
}

/// The user approves: the simulator redirects, the browser follows to the listener.
fn approve(auth: &Auth) -> (u16, String) {
    let (status, location, _) = visit(auth.authorize_url.as_str());
    assert_eq!(status, 302);
    let (status, _, page) = visit(&location.unwrap());
    (status, page)
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn auth_stores_a_working_token_owner_only_and_keeps_the_other_fields() {
    let sim = simulator();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.json");
    let before = json!({
        "access_token": "old-token",
        "base_url": sim.base_url(),
        "start_date": "2024-01-01",
        "page_size": 50,
    });
    std::fs::write(&config, before.to_string()).unwrap();
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o644)).unwrap();

    let auth = Auth::start(&sim, &config, SECRET, &[]);
    assert_eq!(auth.param("client_id"), "sim-client");
    assert!(auth.param("state").len() >= 32);
    let redirect = Url::parse(&auth.param("redirect_uri")).unwrap();
    assert_eq!(redirect.host_str(), Some("127.0.0.1"));
    let (status, page) = approve(&auth);
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("close this tab"), "{page}");
    let (ok, stdout, stderr) = auth.finish();
    assert!(ok, "{stderr}");

    assert_eq!(mode(&config), 0o600);
    let after: Value = serde_json::from_str(&std::fs::read_to_string(&config).unwrap()).unwrap();
    let token = after["access_token"].as_str().unwrap();
    assert_ne!(token, "old-token");
    for field in ["base_url", "start_date", "page_size"] {
        assert_eq!(after[field], before[field], "{field}");
    }
    assert_eq!(after.as_object().unwrap().len(), 4);
    for secret in [token, SECRET] {
        assert!(!stdout.contains(secret) && !stderr.contains(secret));
    }
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        1,
        "temp file left"
    );

    let check = cli()
        .args(["--config", config.to_str().unwrap(), "check"])
        .output()
        .unwrap();
    let check_out = String::from_utf8_lossy(&check.stdout);
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
    assert!(check_out.starts_with("ok: "), "{check_out}");
}

#[test]
fn auth_creates_a_missing_config_owner_only() {
    let sim = simulator();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("new.json");
    // No config means no base_url: the token endpoint is named explicitly.
    let token_url = format!("{}/auth/eagle/token", sim.base_url());
    let auth = Auth::start(&sim, &config, SECRET, &["--token-url".into(), token_url]);
    let (status, page) = approve(&auth);
    assert_eq!(status, 200, "{page}");
    let (ok, _, stderr) = auth.finish();
    assert!(ok, "{stderr}");
    assert_eq!(mode(&config), 0o600);
    let after: Value = serde_json::from_str(&std::fs::read_to_string(&config).unwrap()).unwrap();
    assert_eq!(after.as_object().unwrap().len(), 1);
    assert!(after["access_token"].is_string());
}

#[test]
fn a_forged_state_fails_without_exchanging_or_writing() {
    let sim = simulator();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.json");
    let before = json!({"base_url": sim.base_url()}).to_string();
    std::fs::write(&config, &before).unwrap();

    let auth = Auth::start(&sim, &config, SECRET, &[]);
    // A real code, delivered with someone else's state.
    let (_, location, _) = visit(auth.authorize_url.as_str());
    let mut forged = Url::parse(&location.unwrap()).unwrap();
    let code = param(&forged, "code").unwrap();
    forged
        .query_pairs_mut()
        .clear()
        .append_pair("code", &code)
        .append_pair("state", "forged");
    let (status, _, page) = visit(forged.as_str());
    assert_eq!(status, 400);
    assert!(page.contains("does not match"), "{page}");
    let (ok, _, stderr) = auth.finish();
    assert!(!ok);
    assert!(stderr.contains("state does not match"), "{stderr}");
    assert!(stderr.contains("nothing was written"), "{stderr}");
    assert_eq!(std::fs::read_to_string(&config).unwrap(), before);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    // The code was never exchanged: it still works once.
    let exchanged = agent()
        .post(format!("{}/auth/eagle/token", sim.base_url()))
        .send_form([
            ("code", code.as_str()),
            ("client_id", "sim-client"),
            ("client_secret", SECRET),
        ])
        .unwrap();
    assert_eq!(exchanged.status().as_u16(), 200);
}

#[test]
fn a_refused_exchange_fails_clearly_and_writes_nothing() {
    let sim = simulator();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.json");
    let before = json!({"base_url": sim.base_url()}).to_string();
    std::fs::write(&config, &before).unwrap();

    let wrong = "not-the-secret-4711";
    let auth = Auth::start(&sim, &config, wrong, &[]);
    let (status, page) = approve(&auth);
    assert_eq!(status, 400);
    assert!(page.contains("refused the token exchange"), "{page}");
    let (ok, stdout, stderr) = auth.finish();
    assert!(!ok);
    assert!(
        stderr.contains("refused the token exchange") && stderr.contains("HTTP 401"),
        "{stderr}"
    );
    assert!(!stdout.contains(wrong) && !stderr.contains(wrong));
    assert_eq!(std::fs::read_to_string(&config).unwrap(), before);
}

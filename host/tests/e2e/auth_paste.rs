//! `auth --paste` end to end: no listener; the test plays the user, who
//! approves at the simulator's consent page, reads the code (or the whole
//! URL) the browser was redirected to, and pastes it on the binary's stdin.
//! The redirect URL is an HTTPS page that is never visited.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use crate::support::component_path;
use intercom_sim::{SimConfig, Simulator};
use serde_json::{Value, json};
use url::Url;

const REDIRECT: &str = "https://connect.example.com/intercom/callback";

fn simulator() -> Simulator {
    Simulator::start(SimConfig {
        contacts: 5,
        companies: 2,
        conversations: 2,
        ..SimConfig::default()
    })
    .unwrap()
}

/// A paste-mode `auth` waiting at its prompt, with the URL it printed.
/// A config naming only the simulator, in a fresh directory: the directory,
/// the file and what it holds.
fn config_of(sim: &Simulator) -> (tempfile::TempDir, std::path::PathBuf, String) {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.json");
    let text = json!({"base_url": sim.base_url()}).to_string();
    std::fs::write(&config, &text).unwrap();
    (dir, config, text)
}

struct Paste {
    child: Child,
    authorize_url: Url,
}

impl Paste {
    fn start(sim: &Simulator, configs: &[&Path]) -> Paste {
        let mut command = Command::new(env!("CARGO_BIN_EXE_intercom-connector"));
        for config in configs {
            command.arg("--config").arg(config);
        }
        let mut child = command
            .args(["auth", "--client-id", "sim-client", "--paste"])
            .args(["--redirect-uri", REDIRECT])
            .arg("--authorize-url")
            .arg(format!("{}/oauth", sim.base_url()))
            .env("INTERCOM_CLIENT_SECRET", "sim-secret")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.as_mut().unwrap())
            .read_line(&mut line)
            .unwrap();
        let authorize_url = Url::parse(line.trim())
            .unwrap_or_else(|e| panic!("first stdout line is the authorize URL ({e}): {line:?}"));
        Paste {
            child,
            authorize_url,
        }
    }

    /// The user approves; where the browser was sent (never visited).
    fn approve(&self) -> Url {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .build()
            .new_agent();
        let response = agent.get(self.authorize_url.as_str()).call().unwrap();
        assert_eq!(response.status().as_u16(), 302);
        let location = response.headers().get("location").unwrap();
        Url::parse(location.to_str().unwrap()).unwrap()
    }

    /// Pastes `text` and a newline; exit success and stderr.
    fn paste(mut self, text: &str) -> (bool, String) {
        let mut stdin = self.child.stdin.take().unwrap();
        writeln!(stdin, "{text}").unwrap();
        drop(stdin);
        let mut stderr = String::new();
        self.child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut stderr)
            .unwrap();
        (self.child.wait().unwrap().success(), stderr)
    }
}

fn param(url: &Url, name: &str) -> String {
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| panic!("no {name} in {url}"))
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn check(configs: &[&Path], cache: &Path) -> std::process::Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_intercom-connector"));
    for config in configs {
        command.arg("--config").arg(config);
    }
    command
        .arg("check")
        .arg("--component")
        .arg(component_path())
        .arg("--cache-dir")
        .arg(cache)
        .output()
        .unwrap()
}

#[test]
fn a_pasted_code_is_exchanged_and_the_token_works() {
    let sim = simulator();
    let (dir, config, _) = config_of(&sim);
    let auth = Paste::start(&sim, &[&config]);
    assert_eq!(param(&auth.authorize_url, "redirect_uri"), REDIRECT);
    let redirected = auth.approve();
    assert_eq!(redirected.host_str(), Some("connect.example.com"));
    let (ok, stderr) = auth.paste(&param(&redirected, "code"));
    assert!(ok, "{stderr}");
    assert!(stderr.contains("Paste the code"), "{stderr}");
    assert!(read_json(&config)["access_token"].is_string());
    let checked = check(&[&config], &dir.path().join("cache"));
    assert!(
        checked.status.success(),
        "{}",
        String::from_utf8_lossy(&checked.stderr)
    );
}

#[test]
fn a_pasted_url_is_checked_for_its_state_then_exchanged() {
    let sim = simulator();
    let (_dir, config, _) = config_of(&sim);
    let auth = Paste::start(&sim, &[&config]);
    let redirected = auth.approve();
    let (ok, stderr) = auth.paste(redirected.as_str());
    assert!(ok, "{stderr}");
    assert!(read_json(&config)["access_token"].is_string());
}

#[test]
fn a_url_with_another_state_is_refused_and_its_code_not_spent() {
    let sim = simulator();
    let (_dir, config, before) = config_of(&sim);
    let auth = Paste::start(&sim, &[&config]);
    let redirected = auth.approve();
    let code = param(&redirected, "code");
    let mut forged = redirected.clone();
    forged
        .query_pairs_mut()
        .clear()
        .append_pair("code", &code)
        .append_pair("state", "someone-elses");
    let (ok, stderr) = auth.paste(forged.as_str());
    assert!(!ok);
    assert!(stderr.contains("state does not match"), "{stderr}");
    assert_eq!(std::fs::read_to_string(&config).unwrap(), before);
    // Not exchanged: the code still works once.
    let exchanged = ureq::post(format!("{}/auth/eagle/token", sim.base_url()))
        .send_form([
            ("code", code.as_str()),
            ("client_id", "sim-client"),
            ("client_secret", "sim-secret"),
        ])
        .unwrap();
    assert_eq!(exchanged.status().as_u16(), 200);
}

#[test]
fn a_wrong_code_is_refused_and_nothing_is_written() {
    let sim = simulator();
    let (_dir, config, before) = config_of(&sim);
    let auth = Paste::start(&sim, &[&config]);
    auth.approve();
    let (ok, stderr) = auth.paste("not-the-code");
    assert!(!ok);
    assert!(stderr.contains("refused the token exchange"), "{stderr}");
    assert_eq!(std::fs::read_to_string(&config).unwrap(), before);
}

#[test]
fn with_several_configs_the_token_goes_into_the_last() {
    let sim = simulator();
    let dir = tempfile::tempdir().unwrap();
    let shared = dir.path().join("shared.json");
    let secrets = dir.path().join("secrets.json");
    let settings = json!({"base_url": sim.base_url(), "page_size": 20}).to_string();
    std::fs::write(&shared, &settings).unwrap();
    let auth = Paste::start(&sim, &[&shared, &secrets]);
    let redirected = auth.approve();
    let (ok, stderr) = auth.paste(redirected.as_str());
    assert!(ok, "{stderr}");
    assert_eq!(std::fs::read_to_string(&shared).unwrap(), settings);
    let written = read_json(&secrets);
    assert_eq!(written.as_object().unwrap().len(), 1, "{written}");
    let checked = check(&[&shared, &secrets], &dir.path().join("cache"));
    assert!(
        checked.status.success(),
        "{}",
        String::from_utf8_lossy(&checked.stderr)
    );
}

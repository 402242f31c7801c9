//! The `intercom-connector` binary as Singer and shell users see it: the real
//! release component, the real simulator over loopback.

use std::process::{Command, Output};

use crate::support::{ALL_STREAMS, cli, cli_running, component_path};
use intercom_sim::{SimConfig, Simulator};
use serde_json::{Value, json};

/// A directory with `config.json` for a simulator, and the binary run in it.
pub(crate) struct Fixture {
    pub(crate) dir: tempfile::TempDir,
    pub(crate) sim: Simulator,
}

impl Fixture {
    pub(crate) fn new() -> Self {
        let fixture = Self {
            dir: tempfile::tempdir().unwrap(),
            sim: Simulator::start(SimConfig::default()).unwrap(),
        };
        let config = json!({"access_token": "sim-token", "base_url": fixture.sim.base_url()});
        fixture.write("config.json", &config.to_string());
        fixture
    }

    pub(crate) fn path(&self, name: &str) -> String {
        self.dir.path().join(name).to_string_lossy().into_owned()
    }

    pub(crate) fn write(&self, name: &str, text: &str) -> String {
        std::fs::write(self.path(name), text).unwrap();
        self.path(name)
    }

    pub(crate) fn run(&self, args: &[&str]) -> Output {
        cli().args(args).output().unwrap()
    }
}

pub(crate) fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

pub(crate) fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).unwrap()
}

#[test]
fn discover_prints_a_singer_catalog() {
    let f = Fixture::new();
    let output = f.run(&["--config", &f.path("config.json"), "--discover"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let catalog: Value = serde_json::from_str(&stdout(&output)).unwrap();
    let streams = catalog["streams"].as_array().unwrap();
    assert_eq!(streams.len(), ALL_STREAMS.len());
    for stream in streams {
        assert!(stream["schema"]["properties"].is_object());
        assert!(stream["key_properties"].is_array());
        assert_eq!(stream["metadata"][0]["breadcrumb"], json!([]));
    }
    // Meltano reads discovery output in lines of at most 64 KiB.
    let longest = stdout(&output).lines().map(str::len).max().unwrap();
    assert!(longest < 4096, "a line of {longest} bytes");
}

#[test]
fn a_tap_run_prints_schema_record_and_state_messages() {
    let f = Fixture::new();
    let catalog = json!({"streams": [{"tap_stream_id": "admins"}, {"tap_stream_id": "tags"}]});
    let catalog = f.write("catalog.json", &catalog.to_string());
    // A cache of its own, to see the compiled component stored in it.
    let output = cli_running(&component_path(), f.dir.path().join("cache").as_path())
        .args(["--config", &f.path("config.json"), "--catalog", &catalog])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let messages: Vec<Value> = stdout(&output)
        .lines()
        .map(|l| serde_json::from_str(l).expect("every stdout line is JSON"))
        .collect();
    let mut declared = std::collections::HashSet::new();
    let mut admins = Vec::new();
    for message in &messages {
        match message["type"].as_str().unwrap() {
            "SCHEMA" => {
                declared.insert(message["stream"].as_str().unwrap().to_string());
                assert_eq!(message["key_properties"], json!(["id"]));
            }
            "RECORD" => {
                let stream = message["stream"].as_str().unwrap();
                assert!(
                    declared.contains(stream),
                    "RECORD before SCHEMA for {stream}"
                );
                assert!(message["time_extracted"].is_string());
                if stream == "admins" {
                    admins.push(message["record"].clone());
                }
            }
            "STATE" => assert_eq!(message["value"]["version"], 1),
            "ACTIVATE_VERSION" => {
                let stream = message["stream"].as_str().unwrap();
                assert!(declared.contains(stream), "ACTIVATE_VERSION before SCHEMA");
                assert!(message["version"].is_i64());
            }
            other => panic!("unexpected message type {other}"),
        }
    }
    assert_eq!(messages.last().unwrap()["type"], "STATE");
    assert_eq!(admins, f.sim.dataset().admins);
    assert!(stderr(&output).contains("sync finished"));
    // The compiled component was cached for the next start.
    assert!(std::fs::read_dir(f.path("cache")).unwrap().count() > 0);
}

#[test]
fn check_reports_the_workspace() {
    let f = Fixture::new();
    let output = f.run(&["--config", &f.path("config.json"), "check"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let name = f.sim.dataset().app["name"].as_str().unwrap().to_string();
    assert!(stdout(&output).contains(&name), "{}", stdout(&output));
}

#[test]
fn bad_input_exits_2_with_a_one_line_error_naming_the_file() {
    let f = Fixture::new();
    let config = f.path("config.json");
    let unknown = f.write("unknown.json", r#"{"streams":[{"tap_stream_id":"users"}]}"#);
    let future = f.write("future.json", r#"{"version":9,"bookmarks":{}}"#);
    let not_json = f.write("broken.json", "{\"access_token\": ");
    let no_token = f.write("no-token.json", r#"{"region":"us"}"#);
    let bad_page = f.write(
        "bad-page.json",
        r#"{"access_token":"tok_12345","page_size":"big"}"#,
    );
    let not_wasm = f.write("not.wasm", "hello");
    let cases: Vec<(Vec<&str>, &str, &str)> = vec![
        (
            vec!["--config", "/nonexistent/config.json"],
            "/nonexistent/config.json",
            "cannot read",
        ),
        (
            vec!["--config", &not_json, "--discover"],
            &not_json,
            "not valid JSON",
        ),
        (vec!["--config", &no_token], &no_token, "`access_token`"),
        (vec!["--config", &bad_page], &bad_page, "`page_size`"),
        (
            vec!["--config", &config, "--catalog", &unknown],
            &unknown,
            "unknown stream `users`",
        ),
        (
            vec!["--config", &config, "--state", &future],
            &future,
            "`version`",
        ),
        (
            vec!["--config", &config, "--state", &not_json],
            &not_json,
            "not valid JSON",
        ),
    ];
    for (args, file, needle) in cases {
        let output = f.run(&args);
        let err = stderr(&output);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {err}");
        let last = err.lines().last().unwrap_or_default();
        assert!(last.starts_with("error: "), "{args:?}: {err}");
        assert!(
            last.contains(file) && last.contains(needle),
            "{args:?}: {last}"
        );
        assert!(stdout(&output).is_empty(), "{args:?} printed output");
    }
    let output = Command::new(env!("CARGO_BIN_EXE_intercom-connector"))
        .args(["--config", &config, "--component", &not_wasm, "--no-cache"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains(&not_wasm), "{}", stderr(&output));
}

#[test]
fn a_rejected_token_exits_1_without_printing_it() {
    let f = Fixture::new();
    let secret = "tok_this-is-secret";
    let config = json!({"access_token": secret, "base_url": f.sim.base_url()});
    let config = f.write("wrong.json", &config.to_string());
    let output = f.run(&["--config", &config]);
    assert_eq!(output.status.code(), Some(1));
    let err = stderr(&output);
    assert!(err.contains("auth error") && err.contains("401"), "{err}");
    assert!(!err.contains(secret) && !stdout(&output).contains(secret));
}

#[test]
fn about_lists_capabilities_and_settings_as_singer_sdk_taps_do() {
    let f = Fixture::new();
    let output = f.run(&["--about", "--format", "json"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let about: Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(about["name"], "intercom-connector");
    assert_eq!(about["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(
        about["capabilities"],
        json!(["catalog", "discover", "state", "about"])
    );
    let settings = &about["settings"];
    assert_eq!(settings["type"], "object");
    assert_eq!(settings["required"], json!(["access_token"]));
    assert_eq!(settings["properties"]["access_token"]["secret"], true);
    assert!(settings["properties"]["start_date"]["secret"].is_null());
    assert_eq!(settings["properties"]["page_size"]["default"], 150);

    let markdown = stdout(&f.run(&["--about", "--format", "markdown"]));
    assert!(
        markdown.starts_with("# `intercom-connector`\n"),
        "{markdown}"
    );
    assert!(markdown.contains("* `state`\n"), "{markdown}");
    assert!(
        markdown.contains("| page_size | False | 150 |"),
        "{markdown}"
    );

    let text = stdout(&f.run(&["--about"]));
    assert!(text.starts_with("Name: intercom-connector\n"), "{text}");
    assert!(
        text.contains(
            "  - Name: access_token\n    Type: string\n    Required: true\n    Secret: true\n"
        ),
        "{text}"
    );

    let output = f.run(&["--format", "json"]);
    assert_eq!(output.status.code(), Some(2), "--format needs --about");
}

/// The `error:` lines a run printed.
fn errors(output: &Output) -> Vec<String> {
    stderr(output)
        .lines()
        .filter(|l| l.starts_with("error:"))
        .map(String::from)
        .collect()
}

#[test]
fn the_admitted_origins_are_printed_once_at_start() {
    let f = Fixture::new();
    let output = f.run(&["check", "--config", &f.path("config.json")]);
    assert!(output.status.success(), "{}", stderr(&output));
    let logged = stderr(&output);
    let printed: Vec<&str> = logged
        .lines()
        .filter_map(|l| l.split_once("admitted origins: ").map(|(_, o)| o))
        .collect();
    assert_eq!(printed, [f.sim.base_url().trim_end_matches('/')]);
}

#[test]
fn a_declared_origin_outside_allow_origin_ends_the_run_before_any_request() {
    let f = Fixture::new();
    // The config names a second origin; granting only that one leaves out
    // the simulator's, which the component declares.
    let other = "http://127.0.0.1:9";
    let config =
        json!({"access_token": "sim-token", "base_url": f.sim.base_url(), "mirror": other});
    let config = f.write("named.json", &config.to_string());
    for command in [&["check"][..], &[]] {
        let mut args = command.to_vec();
        args.extend(["--config", config.as_str(), "--allow-origin", other]);
        let output = f.run(&args);
        assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
        assert_eq!(
            errors(&output),
            [format!(
                "error: the component declared `{}`, which the operator's grant does not include",
                f.sim.base_url().trim_end_matches('/')
            )]
        );
        assert!(stdout(&output).is_empty(), "{}", stdout(&output));
    }
    assert_eq!(f.sim.stats().requests, 0, "a request reached the simulator");
    // An origin the config does not name cannot be granted by the flag.
    let output = f.run(&[
        "check",
        "--config",
        &config,
        "--allow-origin",
        "https://evil.example",
    ]);
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        errors(&output),
        ["error: --allow-origin https://evil.example: the config names no such origin"]
    );
    // Narrowed to the simulator's own origin, the run goes ahead.
    let own = f.sim.base_url();
    let output = f.run(&["check", "--config", &config, "--allow-origin", &own]);
    assert!(output.status.success(), "{}", stderr(&output));
}

#[test]
fn a_base_url_with_user_info_is_a_config_error() {
    let f = Fixture::new();
    let with_user = f
        .sim
        .base_url()
        .replacen("http://", "http://user:hunter2@", 1);
    let config = json!({"access_token": "sim-token", "base_url": with_user});
    let config = f.write("userinfo.json", &config.to_string());
    for command in [&["check"][..], &[]] {
        let mut args = command.to_vec();
        args.extend(["--config", config.as_str()]);
        let output = f.run(&args);
        assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
        assert_eq!(
            errors(&output),
            [format!(
                "error: {config}: config: field `base_url` must not carry user info (`user:password@`)"
            )]
        );
        assert!(!stderr(&output).contains("hunter2"));
    }
    assert_eq!(f.sim.stats().requests, 0);
}

/// An installed binary needs no `.wasm` beside it: the component is built
/// in, compiled on the first run (which says so) and loaded from the cache
/// on later ones.
#[test]
fn a_copied_binary_with_no_component_beside_it_syncs() {
    let f = Fixture::new();
    let bin = f.dir.path().join("intercom-connector");
    std::fs::copy(env!("CARGO_BIN_EXE_intercom-connector"), &bin).unwrap();
    let database = f.path("copy.db");
    let sync = || {
        Command::new(&bin)
            .arg("--config")
            .arg(f.path("config.json"))
            .arg("--cache-dir")
            .arg(f.path("cache"))
            .args(["sync", "--database"])
            .arg(&database)
            .env_remove("INTERCOM_CONNECTOR_COMPONENT")
            .output()
            .unwrap()
    };
    let compiling = "compiling the component for this machine, once";
    let first = sync();
    assert!(first.status.success(), "{}", stderr(&first));
    assert!(stderr(&first).contains(compiling), "{}", stderr(&first));
    let admins: i64 = rusqlite::Connection::open(&database)
        .unwrap()
        .query_row("SELECT count(*) FROM admins", [], |row| row.get(0))
        .unwrap();
    assert_eq!(admins as usize, f.sim.dataset().admins.len());
    let second = sync();
    assert!(second.status.success(), "{}", stderr(&second));
    assert!(!stderr(&second).contains(compiling), "{}", stderr(&second));
}

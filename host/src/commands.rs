//! What the `intercom-connector` commands do, apart from parsing their
//! arguments and printing their results: finding and loading the component,
//! reading the documents given, and running the export calls with the sink
//! each command writes to.

use std::io::BufWriter;
use std::path::{Path, PathBuf};

use serde_json::Value;
use serde_json::value::RawValue;

use crate::config::{self, MergedConfig, Source};
use crate::error::{Document, Documents, Error};
use crate::limits::Limits;
use crate::network::{NetworkGrant, NetworkPolicy, origins_named_in};
use crate::progress::Progress;
use crate::runtime::{Connector, Outcome, Runtime};
use crate::secrets::{self, Config, SecretField};
use crate::singer::SingerSink;
use crate::sqlite::SqliteSink;
use crate::state_migration::{self, Origin};
use crate::types::Sink;

/// A sink for calls whose only output is logs.
fn logs_only() -> SingerSink<std::io::Sink> {
    SingerSink::new(std::io::sink())
}

/// Drops everything, logs too.
struct Silent;

impl Sink for Silent {
    fn records(&mut self, _stream: &str, _records: &[Box<RawValue>]) -> wasmtime::Result<()> {
        Ok(())
    }
}

/// Loads `component`, else the `embedded` one, compiled through `cache`
/// when given.
pub fn load_component(
    component: Option<&Path>,
    embedded: &[u8],
    cache: Option<PathBuf>,
    limits: Limits,
) -> Result<Connector, Error> {
    let runtime = Runtime::new(limits, cache)?;
    let loaded = match component {
        Some(path) => runtime.load(path),
        None => runtime.load_bytes(embedded, "the embedded component"),
    };
    loaded.map_err(|e| Error::Input {
        document: Document::Component,
        message: format!("{e:#}"),
    })
}

/// The user's cache directory for compiled components.
pub fn default_cache_dir() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(base.join("intercom-connector"))
}

/// The text of a document the user named.
pub fn read_document(document: Document, path: &Path) -> Result<String, Error> {
    std::fs::read_to_string(path)
        .map_err(|e| Error::invalid(document, path, format!("cannot read: {e}")))
}

/// Reads a document that must hold JSON, naming the file and position if not.
pub fn read_json_document(document: Document, path: &Path) -> Result<String, Error> {
    let text = read_document(document, path)?;
    serde_json::from_str::<serde_json::Value>(&text)
        .map_err(|e| Error::invalid(document, path, format!("not valid JSON: {e}")))?;
    Ok(text)
}

/// The config as the CLI hands it to exports: `access_token`, and any field
/// the component's spec marks `writeOnly`, sealed, each to be sent only to
/// the API origin the config names ([`config::api_base_url`]). The spec may add
/// secrets, never take this one away.
pub fn seal_config(connector: &Connector, text: &str, path: &Path) -> Result<Config, Error> {
    let invalid = |problem| Error::invalid(Document::Config, path, problem);
    let document: Value =
        serde_json::from_str(text).map_err(|e| invalid(format!("not valid JSON: {e}")))?;
    // A config naming no usable origin seals its token to none (the
    // component then refuses the config).
    let origins: Vec<String> = document
        .as_object()
        .and_then(|config| config::api_base_url(config, path).ok())
        .map(|url| url.origin().ascii_serialization())
        .into_iter()
        .collect();
    let mut names = vec!["access_token".to_string()];
    for name in secrets::proposed_by_spec(&spec(connector)?) {
        if !names.contains(&name) {
            names.push(name);
        }
    }
    let fields: Vec<SecretField> = names
        .into_iter()
        .map(|name| SecretField {
            name,
            origins: origins.clone(),
        })
        .collect();
    Config::seal(text, &fields).map_err(invalid)
}

/// An export's outcome for a call given only the config at `path`.
fn given_config<T>(path: &Path, outcome: Outcome<T>) -> Result<T, Error> {
    outcome.map_err(|e| Documents::config(path).connector_error(e))
}

pub fn spec(connector: &Connector) -> Result<String, Error> {
    Ok(connector.spec(logs_only())?)
}

/// The config's JSON Schema, parsed.
pub fn spec_schema(connector: &Connector) -> Result<serde_json::Value, Error> {
    serde_json::from_str(&spec(connector)?)
        .map_err(|e| Error::Run(format!("the connector's spec is not JSON: {e}")))
}

/// The `--config` sources merged, the environment's typed by the spec.
pub fn load_config(connector: &Connector, sources: &[Source]) -> Result<MergedConfig, Error> {
    config::load(sources, &spec_schema(connector)?)
}

/// The catalog, one value a line: Meltano reads discovery output in lines of
/// at most 64 KiB.
pub fn discover(
    connector: &Connector,
    config: &Config,
    path: &Path,
    policy: NetworkPolicy,
) -> Result<String, Error> {
    let catalog = given_config(path, connector.discover(config, policy, logs_only())?)?;
    let catalog: serde_json::Value = serde_json::from_str(&catalog)
        .map_err(|e| Error::Run(format!("the connector's catalog is not JSON: {e}")))?;
    Ok(format!("{catalog:#}"))
}

/// The CLI's grant: the origins its config names (every URL in it, and the
/// region's API host when it has no `base_url`), never the component's
/// declaration; narrowed to `allowed` (`--allow-origin`) when given.
pub fn config_grant(config: &str, path: &Path, allowed: &[String]) -> Result<NetworkGrant, Error> {
    let value: serde_json::Value = serde_json::from_str(config)
        .map_err(|e| Error::invalid(Document::Config, path, format!("not valid JSON: {e}")))?;
    let object = value
        .as_object()
        .ok_or_else(|| Error::invalid(Document::Config, path, "not a JSON object"))?;
    let api = config::api_base_url(object, path)?;
    let mut granted = origins_named_in(config);
    granted.push(api.origin());
    if allowed.is_empty() {
        return Ok(NetworkGrant::Origins(granted));
    }
    let mut narrowed = Vec::new();
    for text in allowed {
        let origin = url::Url::parse(text)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https"))
            .map(|u| u.origin())
            .ok_or_else(|| Error::Usage(format!("--allow-origin {text}: not an http(s) origin")))?;
        if !granted.contains(&origin) {
            return Err(Error::Usage(format!(
                "--allow-origin {text}: the config names no such origin"
            )));
        }
        narrowed.push(origin);
    }
    Ok(NetworkGrant::Origins(narrowed))
}

/// The admitted origins: the component's declaration within `grant`.
pub fn network_policy(
    connector: &Connector,
    config: &Config,
    path: &Path,
    grant: &NetworkGrant,
) -> Result<NetworkPolicy, Error> {
    let policy = given_config(path, connector.network_policy(config, grant, logs_only())?)?;
    tracing::info!("admitted origins: {}", policy.origins().join(", "));
    Ok(policy)
}

/// The account `check` reached.
pub fn check(
    connector: &Connector,
    config: &Config,
    path: &Path,
    policy: NetworkPolicy,
) -> Result<String, Error> {
    given_config(path, connector.check(config, policy, logs_only())?)
}

/// The connector's own catalog, for its streams and their relations: with
/// no network, and the connector's note that it could not read the API
/// left out.
fn discovery(connector: &Connector, config: &Config) -> Result<serde_json::Value, Error> {
    let discovered = connector
        .discover(config, NetworkPolicy::deny_all(), Silent)?
        .map_err(|e| Error::Run(format!("{} error: {}", e.category, e.message)))?;
    serde_json::from_str(&discovered)
        .map_err(|e| Error::Run(format!("the connector's catalog is not JSON: {e}")))
}

/// A catalog of the connector's own discovery with only `streams` selected.
pub fn select_streams(
    connector: &Connector,
    config: &Config,
    streams: &[String],
) -> Result<String, Error> {
    let mut catalog = discovery(connector, config)?;
    let entries = catalog["streams"]
        .as_array_mut()
        .ok_or_else(|| Error::Run("the connector's catalog has no `streams`".into()))?;
    let name = |entry: &serde_json::Value| entry["tap_stream_id"].as_str().map(String::from);
    let valid: Vec<String> = entries.iter().filter_map(name).collect();
    unknown_stream("--streams", &valid, streams)?;
    for entry in entries {
        let selected = name(entry).is_some_and(|n| streams.contains(&n));
        let top = serde_json::json!({"breadcrumb": [], "metadata": {"selected": selected}});
        match entry["metadata"].as_array_mut() {
            Some(metadata) => match metadata
                .iter_mut()
                .find(|m| m["breadcrumb"] == top["breadcrumb"])
            {
                Some(m) => m["metadata"]["selected"] = selected.into(),
                None => metadata.push(top),
            },
            None => entry["metadata"] = serde_json::json!([top]),
        }
    }
    Ok(catalog.to_string())
}

/// A state document in the form this release reads, saying when it was
/// converted.
fn migrated(text: String, path: Option<&Path>) -> String {
    let (text, origin) = state_migration::migrate(&text);
    if origin == Origin::Stitch {
        let from = path.map_or_else(String::new, |p| format!(" {}", p.display()));
        tracing::info!(
            "state{from}: read as a Stitch tap-intercom state; resuming from its bookmarks"
        );
    }
    text
}

/// Refuses a name in `streams` that is not among `valid`, listing them.
fn unknown_stream(flag: &str, valid: &[String], streams: &[String]) -> Result<(), Error> {
    match streams.iter().find(|s| !valid.contains(s)) {
        Some(unknown) => Err(Error::Usage(format!(
            "{flag}: unknown stream `{unknown}`; valid streams: {}",
            valid.join(", ")
        ))),
        None => Ok(()),
    }
}

/// Checks `streams` against the connector's discovery.
fn check_stream_names(
    flag: &str,
    connector: &Connector,
    config: &Config,
    streams: &[String],
) -> Result<(), Error> {
    let catalog = discovery(connector, config)?;
    let valid: Vec<String> = catalog["streams"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|entry| entry["tap_stream_id"].as_str().map(String::from))
        .collect();
    unknown_stream(flag, &valid, streams)
}

/// One `read`: the documents it is given, and how it reports.
pub struct Read<'a> {
    pub connector: &'a Connector,
    pub config: &'a Config,
    pub catalog: Option<&'a str>,
    pub policy: NetworkPolicy,
    pub json_logs: bool,
    /// Where the config and catalog came from.
    pub config_path: &'a Path,
    pub catalog_path: Option<&'a Path>,
}

impl Read<'_> {
    /// The Singer tap: messages to stdout, resuming from the state file.
    pub fn to_stdout(self, state_path: Option<&Path>) -> Result<(), Error> {
        let state = state_path
            .map(|p| read_json_document(Document::State, p))
            .transpose()?
            .map(|text| migrated(text, state_path));
        let documents = Documents {
            config: self.config_path,
            catalog: self.catalog_path,
            state: state_path.map(|p| (Document::State, p)),
        };
        // Stdout is line-buffered: without a large buffer of our own, records
        // would reach the pipe a few at a time, a write call each time.
        let stdout = BufWriter::with_capacity(1 << 20, std::io::stdout());
        self.run(
            state.as_deref(),
            SingerSink::new(stdout),
            &documents,
            |sink| {
                // Flushes stdout before the summary.
                drop(sink);
                Ok(())
            },
        )
    }

    /// A `sync` into SQLite: resumes from the database's committed state
    /// (less the bookmarks of the streams in `reset`, which start over);
    /// commits the rest (and replaces finished full-table and started-over
    /// streams, and applies deletes) only when the read succeeds.
    pub fn into_database(
        self,
        database: &Path,
        reset: &[String],
        soft_delete: bool,
    ) -> Result<(), Error> {
        if !reset.is_empty() {
            check_stream_names("--reset", self.connector, self.config, reset)?;
        }
        let catalog = discovery(self.connector, self.config)?;
        let mut sink = SqliteSink::open(database)
            .map_err(|e| Error::Input {
                document: Document::Database,
                message: format!("--database: {e:#}"),
            })?
            .with_soft_delete(soft_delete)
            .with_children_from(&catalog);
        let mut state = sink.state()?.map(|text| migrated(text, Some(database)));
        if !reset.is_empty() {
            sink.start_over(reset)?;
            state =
                state.map(|text| state_migration::without_bookmarks(&text, reset).unwrap_or(text));
            tracing::info!("starting over: {}", reset.join(", "));
        }
        let documents = Documents {
            config: self.config_path,
            catalog: self.catalog_path,
            state: Some((Document::Database, database)),
        };
        self.run(
            state.as_deref(),
            sink,
            &documents,
            |sink| Ok(sink.finish()?),
        )
    }

    /// The read from `state` into `sink` with its progress shown; `finish`
    /// gets the sink after a successful read. The summary follows whatever
    /// `finish` wrote.
    fn run<S: Sink>(
        self,
        state: Option<&str>,
        sink: S,
        documents: &Documents,
        finish: impl FnOnce(S) -> Result<(), Error>,
    ) -> Result<(), Error> {
        let progress = Progress::default();
        let result = self
            .connector
            .read(
                self.config,
                self.catalog,
                state,
                self.policy,
                progress.track(sink),
            )
            .map_err(Error::from)
            .and_then(|(sink, outcome)| {
                // Ends the live display, and on failure drops the sink.
                let sink = sink.into_inner();
                outcome.map_err(|e| documents.connector_error(e))?;
                finish(sink)
            });
        let outcome = if result.is_ok() { "finished" } else { "failed" };
        progress.summary(self.json_logs, outcome);
        result
    }
}

/// Opens `url` in the user's browser, best effort; the opener's name if it
/// could not be run.
pub fn open_browser(url: &str) -> Result<(), &'static str> {
    let opener = if cfg!(target_os = "macos") {
        "open"
    } else {
        "xdg-open"
    };
    let opened = std::process::Command::new(opener)
        .arg(url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn();
    match opened {
        // Reaped on the side: some openers stay until the browser exits.
        Ok(mut child) => {
            drop(std::thread::spawn(move || child.wait()));
            Ok(())
        }
        Err(_) => Err(opener),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_host_names_the_origin_the_component_declares_and_seals_the_token_to_it() {
        let component = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../target/wasm32-wasip2/release/intercom_connector.wasm");
        assert!(
            component.is_file(),
            "{} is missing: run scripts/build",
            component.display()
        );
        let connector = load_component(Some(&component), &[], None, Limits::default()).unwrap();
        let named = |config: &Value| {
            config::api_base_url(config.as_object().unwrap(), Path::new("c.json"))
                .map(|url| url.origin().ascii_serialization())
        };
        for config in [
            serde_json::json!({"access_token": "tok_x_secret"}),
            serde_json::json!({"access_token": "tok_x_secret", "region": "EU"}),
            serde_json::json!({"access_token": "tok_x_secret", "region": "au"}),
            serde_json::json!({"access_token": "tok_x_secret", "region": "eu", "base_url": "http://127.0.0.1:4010/v"}),
        ] {
            let sealed = seal_config(&connector, &config.to_string(), Path::new("c.json")).unwrap();
            let declared = connector.allowed_origins(&sealed, logs_only()).unwrap();
            assert_eq!(vec![named(&config).unwrap()], declared.unwrap(), "{config}");
        }
        for config in [
            serde_json::json!({"region": "mars"}),
            serde_json::json!({"base_url": "ftp://x"}),
            serde_json::json!({"base_url": 7}),
        ] {
            let e = named(&config).unwrap_err();
            assert_eq!((e.document(), e.exit_code()), (Some(Document::Config), 2));
            assert!(e.to_string().starts_with("c.json: "), "{e}");
        }
        // The token reaches exports as a placeholder only.
        let text = r#"{"access_token":"tok_secret_value","base_url":"http://127.0.0.1:4010"}"#;
        let config = seal_config(&connector, text, Path::new("c.json")).unwrap();
        assert!(!config.sealed().contains("tok_secret_value"), "{config:?}");
        assert!(
            config.sealed().contains("{{secret:access_token:"),
            "{config:?}"
        );
    }
}

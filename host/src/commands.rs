//! What the `intercom-connector` commands do, apart from parsing their
//! arguments and printing their results: finding and loading the component,
//! reading the documents given, and running the export calls with the sink
//! each command writes to.

use std::io::BufWriter;
use std::path::{Path, PathBuf};

use crate::error::{Document, Documents, Error};
use crate::limits::Limits;
use crate::network::NetworkPolicy;
use crate::progress::Progress;
use crate::runtime::{Connector, Outcome, Runtime};
use crate::singer::SingerSink;
use crate::sqlite::SqliteSink;
use crate::types::Sink;

/// A sink for calls whose only output is logs.
fn logs_only() -> SingerSink<std::io::Sink> {
    SingerSink::new(std::io::sink())
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

/// An export's outcome for a call given only the config at `path`.
fn given_config<T>(path: &Path, outcome: Outcome<T>) -> Result<T, Error> {
    outcome.map_err(|e| Documents::config(path).connector_error(e))
}

pub fn spec(connector: &Connector) -> Result<String, Error> {
    Ok(connector.spec(logs_only())?)
}

/// The catalog, one value a line: Meltano reads discovery output in lines of
/// at most 64 KiB.
pub fn discover(connector: &Connector, config: &str, path: &Path) -> Result<String, Error> {
    let catalog = given_config(path, connector.discover(config, logs_only())?)?;
    let catalog: serde_json::Value = serde_json::from_str(&catalog)
        .map_err(|e| Error::Run(format!("the connector's catalog is not JSON: {e}")))?;
    Ok(format!("{catalog:#}"))
}

pub fn network_policy(
    connector: &Connector,
    config: &str,
    path: &Path,
) -> Result<NetworkPolicy, Error> {
    given_config(path, connector.network_policy(config, logs_only())?)
}

/// The account `check` reached.
pub fn check(
    connector: &Connector,
    config: &str,
    path: &Path,
    policy: NetworkPolicy,
) -> Result<String, Error> {
    given_config(path, connector.check(config, policy, logs_only())?)
}

/// The origin the component declares for `config` (read from `path`).
pub fn api_origin(connector: &Connector, config: &str, path: &Path) -> Result<String, Error> {
    given_config(path, connector.allowed_origins(config, logs_only())?)?
        .into_iter()
        .next()
        .ok_or_else(|| Error::Run("the component declared no origin for the config".into()))
}

/// A catalog of the connector's own discovery with only `streams` selected.
pub fn select_streams(
    connector: &Connector,
    config: &str,
    streams: &[String],
) -> Result<String, Error> {
    let discovered = connector
        .discover(config, logs_only())?
        .map_err(|e| Error::Run(format!("{} error: {}", e.category, e.message)))?;
    let mut catalog: serde_json::Value = serde_json::from_str(&discovered)
        .map_err(|e| Error::Run(format!("the connector's catalog is not JSON: {e}")))?;
    let entries = catalog["streams"]
        .as_array_mut()
        .ok_or_else(|| Error::Run("the connector's catalog has no `streams`".into()))?;
    let name = |entry: &serde_json::Value| entry["tap_stream_id"].as_str().map(String::from);
    let valid: Vec<String> = entries.iter().filter_map(name).collect();
    if let Some(unknown) = streams.iter().find(|s| !valid.contains(s)) {
        return Err(Error::Usage(format!(
            "--streams: unknown stream `{unknown}`; valid streams: {}",
            valid.join(", ")
        )));
    }
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

/// One `read`: the documents it is given, and how it reports.
pub struct Read<'a> {
    pub connector: &'a Connector,
    pub config: &'a str,
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
            .transpose()?;
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

    /// A `sync` into SQLite: resumes from the database's committed state;
    /// commits the rest (and replaces finished full-table streams) only when
    /// the read succeeds.
    pub fn into_database(self, database: &Path) -> Result<(), Error> {
        let sink = SqliteSink::open(database).map_err(|e| Error::Input {
            document: Document::Database,
            message: format!("--database: {e:#}"),
        })?;
        let state = sink.state()?;
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
    fn a_regions_api_origin_comes_from_the_component() {
        let component = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../target/wasm32-wasip2/release/intercom_connector.wasm");
        assert!(
            component.is_file(),
            "{} is missing: run scripts/build",
            component.display()
        );
        let connector = load_component(Some(&component), &[], None, Limits::default()).unwrap();
        let origin = |config: &str| api_origin(&connector, config, Path::new("c.json"));
        for (region, host) in [
            ("", "https://api.intercom.io"),
            (r#","region":"EU""#, "https://api.eu.intercom.io"),
            (r#","region":"au""#, "https://api.au.intercom.io"),
        ] {
            let config = format!(r#"{{"access_token":"unset"{region}}}"#);
            assert_eq!(origin(&config).unwrap(), host, "{config}");
        }
        let e = origin(r#"{"access_token":"unset","region":"mars"}"#).unwrap_err();
        assert_eq!((e.document(), e.exit_code()), (Some(Document::Config), 2));
        assert!(e.to_string().starts_with("c.json: "), "{e}");
        assert!(e.to_string().contains("`region`"), "{e}");
    }
}

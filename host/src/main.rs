//! The `intercom-connector` binary: parses arguments, drives the host
//! library, prints results. Exit codes: 0 success, 1 a failed run, 2 bad
//! input (arguments, config, state, catalog, component).

mod about;
mod cli;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Parser;
use intercom_host::progress::Progress;
use intercom_host::singer::SingerSink;
use intercom_host::sqlite::SqliteSink;
use intercom_host::{Connector, ConnectorError, ErrorCategory, NetworkPolicy, Runtime, logging};

use cli::{Cli, Command, LogFormat};

/// A failure and the exit code it earns.
enum Failure {
    /// Something the user gave us is wrong.
    Input(String),
    /// The run itself failed.
    Run(String),
}

impl From<wasmtime::Error> for Failure {
    fn from(e: wasmtime::Error) -> Self {
        Failure::Run(format!("{e:#}"))
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    logging::init(cli.common.log_format == LogFormat::Json);
    match run(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Input(message)) => {
            eprintln!("error: {message}");
            ExitCode::from(2)
        }
        Err(Failure::Run(message)) => {
            eprintln!("error: {message}");
            ExitCode::from(1)
        }
    }
}

fn run(cli: &Cli) -> Result<(), Failure> {
    // OAuth runs no component: it only talks to Intercom's OAuth endpoints.
    if let Some(Command::Auth(args)) = &cli.command {
        return auth(cli, args);
    }
    let connector = load_component(cli)?;
    let log_only = || SingerSink::new(std::io::sink());
    if let Some(Command::Spec) = cli.command {
        println!("{}", connector.spec(log_only())?);
        return Ok(());
    }
    if cli.about {
        let about = about::render(&connector.spec(log_only())?, cli.format)
            .map_err(|e| Failure::Run(format!("the connector's spec is not JSON: {e}")))?;
        print!("{about}");
        return Ok(());
    }
    let config_path = cli
        .common
        .config
        .as_deref()
        .ok_or_else(|| Failure::Input("--config FILE is required".into()))?;
    let config = read_file("--config", config_path)?;
    let on_config = |e| connector_failure(e, config_path);
    if cli.discover {
        let catalog = connector
            .discover(&config, log_only())?
            .map_err(on_config)?;
        // One line per value: Meltano reads discovery in lines of at most 64 KiB.
        let catalog: serde_json::Value = serde_json::from_str(&catalog)
            .map_err(|e| Failure::Run(format!("the connector's catalog is not JSON: {e}")))?;
        println!("{catalog:#}");
        return Ok(());
    }
    let policy = connector
        .network_policy(&config, log_only())?
        .map_err(on_config)?;
    if let Some(Command::Check) = cli.command {
        let workspace = connector
            .check(&config, policy, log_only())?
            .map_err(on_config)?;
        println!("ok: {workspace}");
        return Ok(());
    }
    let catalog = match cli.catalog.as_deref() {
        Some(_) if !cli.streams.is_empty() => {
            return Err(Failure::Input(
                "--streams and --catalog both select streams; pass one".into(),
            ));
        }
        Some(path) => Some(read_json_file("--catalog", path)?),
        None if cli.streams.is_empty() => None,
        None => Some(select_streams(&connector, &config, &cli.streams)?),
    };
    let json_logs = cli.common.log_format == LogFormat::Json;
    if let Some(Command::Sync(args)) = &cli.command {
        if cli.state.is_some() {
            return Err(Failure::Input(
                "--state: sync resumes from the state stored in its database".into(),
            ));
        }
        let run = SyncRun {
            connector: &connector,
            config: &config,
            config_path,
            catalog: catalog.as_deref(),
            catalog_path: cli.catalog.as_deref(),
            policy,
            json_logs,
        };
        return run.into_database(&args.database);
    }
    let state = cli
        .state
        .as_deref()
        .map(|p| read_json_file("--state", p))
        .transpose()?;
    let progress = Progress::default();
    // Stdout is line-buffered: without a large buffer of our own, records
    // would reach the pipe a few at a time, a write call each time.
    let stdout = std::io::BufWriter::with_capacity(1 << 20, std::io::stdout());
    let result = connector
        .read(
            &config,
            catalog.as_deref(),
            state.as_deref(),
            policy,
            progress.track(SingerSink::new(stdout)),
        )
        .map(|(sink, outcome)| {
            // Flushes stdout and ends the live display before the summary.
            drop(sink.into_inner());
            outcome
        });
    let succeeded = matches!(result, Ok(Ok(())));
    progress.summary(json_logs, if succeeded { "finished" } else { "failed" });
    result?.map_err(|e| {
        // The connector's config errors start with the document they are about.
        let file = match e.message.split([':', ' ']).next() {
            Some("catalog") => cli.catalog.as_deref(),
            Some("state") => cli.state.as_deref(),
            _ => None,
        };
        connector_failure(e, file.unwrap_or(config_path))
    })
}

/// A `sync` into SQLite: what it needs besides the database.
struct SyncRun<'a> {
    connector: &'a Connector,
    config: &'a str,
    config_path: &'a Path,
    catalog: Option<&'a str>,
    catalog_path: Option<&'a Path>,
    policy: NetworkPolicy,
    json_logs: bool,
}

impl SyncRun<'_> {
    /// Resumes from the database's committed state; commits the rest (and
    /// replaces finished full-table streams) only when the read succeeds.
    fn into_database(self, database: &Path) -> Result<(), Failure> {
        let sink =
            SqliteSink::open(database).map_err(|e| Failure::Input(format!("--database: {e:#}")))?;
        let state = sink.state()?;
        let progress = Progress::default();
        let result = self
            .connector
            .read(
                self.config,
                self.catalog,
                state.as_deref(),
                self.policy,
                progress.track(sink),
            )
            .map_err(Failure::from)
            .and_then(|(sink, outcome)| {
                outcome.map_err(|e| {
                    let file = match e.message.split([':', ' ']).next() {
                        Some("catalog") => self.catalog_path,
                        Some("state") => Some(database),
                        _ => None,
                    };
                    connector_failure(e, file.unwrap_or(self.config_path))
                })?;
                Ok(sink.into_inner().finish()?)
            });
        let outcome = if result.is_ok() { "finished" } else { "failed" };
        progress.summary(self.json_logs, outcome);
        result
    }
}

/// A catalog of the connector's own discovery with only `streams` selected.
fn select_streams(
    connector: &Connector,
    config: &str,
    streams: &[String],
) -> Result<String, Failure> {
    let discovered = connector
        .discover(config, SingerSink::new(std::io::sink()))?
        .map_err(|e| Failure::Run(format!("{} error: {}", e.category, e.message)))?;
    let mut catalog: serde_json::Value = serde_json::from_str(&discovered)
        .map_err(|e| Failure::Run(format!("the connector's catalog is not JSON: {e}")))?;
    let entries = catalog["streams"]
        .as_array_mut()
        .ok_or_else(|| Failure::Run("the connector's catalog has no `streams`".into()))?;
    let name = |entry: &serde_json::Value| entry["tap_stream_id"].as_str().map(String::from);
    let valid: Vec<String> = entries.iter().filter_map(name).collect();
    if let Some(unknown) = streams.iter().find(|s| !valid.contains(s)) {
        return Err(Failure::Input(format!(
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

/// Config errors name the file they came from and exit 2.
fn connector_failure(e: ConnectorError, file: &Path) -> Failure {
    if e.category == ErrorCategory::Config {
        Failure::Input(format!("{}: {}", file.display(), e.message))
    } else {
        Failure::Run(format!("{} error: {}", e.category, e.message))
    }
}

/// `auth`: the authorize URL goes to stdout (alone, for scripts); guidance
/// to stderr. Neither the secret nor the token is ever printed.
fn auth(cli: &Cli, args: &cli::AuthArgs) -> Result<(), Failure> {
    use intercom_host::oauth;
    use std::io::IsTerminal;
    let config_path = cli
        .common
        .config
        .as_deref()
        .ok_or_else(|| Failure::Input("--config FILE is required".into()))?;
    let client_secret = args.client_secret.clone().ok_or_else(|| {
        Failure::Input(
            "no client secret: set INTERCOM_CLIENT_SECRET (or pass --client-secret)".into(),
        )
    })?;
    let to_failure = |e| match e {
        oauth::Error::Input(m) => Failure::Input(m),
        oauth::Error::Failed(m) => Failure::Run(m),
    };
    let pending = oauth::start(
        config_path,
        oauth::Options {
            client_id: args.client_id.clone(),
            client_secret,
            authorize_url: args.authorize_url.clone(),
            token_url: args.token_url.clone(),
            redirect_uri: args.redirect_uri.clone(),
            port: args.port,
            timeout: std::time::Duration::from_secs(args.timeout),
        },
    )
    .map_err(to_failure)?;
    eprintln!(
        "Open this URL in a browser and approve the app; waiting {}s for the redirect to {}:",
        args.timeout,
        pending.listening_on()
    );
    println!("{}", pending.authorize_url());
    // Flushed now: a script reading the URL must not wait for the flow to end.
    std::io::Write::flush(&mut std::io::stdout())
        .map_err(|e| Failure::Run(format!("stdout: {e}")))?;
    if !args.no_browser && std::io::stdout().is_terminal() {
        open_browser(pending.authorize_url().as_str());
    }
    pending.finish(config_path).map_err(to_failure)?;
    eprintln!(
        "access token saved to {} (mode 0600)",
        config_path.display()
    );
    Ok(())
}

/// Best effort: the URL is printed either way.
fn open_browser(url: &str) {
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
        Ok(mut child) => drop(std::thread::spawn(move || child.wait())),
        Err(_) => eprintln!("(could not run {opener}; open the URL yourself)"),
    }
}

fn load_component(cli: &Cli) -> Result<Connector, Failure> {
    let path = match &cli.common.component {
        Some(path) => path.clone(),
        None => default_component().ok_or_else(|| {
            Failure::Input(
                "no component found beside this binary; build it (scripts/build) or pass --component".into(),
            )
        })?,
    };
    let cache = if cli.common.no_cache {
        None
    } else {
        cli.common.cache_dir.clone().or_else(default_cache_dir)
    };
    let runtime = Runtime::new(cli.common.limits(), cache)?;
    runtime
        .load(&path)
        .map_err(|e| Failure::Input(format!("{e:#}")))
}

/// The component installed beside the binary, or the workspace's release
/// build when the binary runs from `target/<profile>/`.
fn default_component() -> Option<PathBuf> {
    const FILE: &str = "intercom_connector.wasm";
    let exe = std::env::current_exe().ok()?;
    let dir = exe.parent()?;
    [
        dir.join(FILE),
        dir.join("../wasm32-wasip2/release").join(FILE),
    ]
    .into_iter()
    .find(|p| p.is_file())
}

fn default_cache_dir() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(base.join("intercom-connector"))
}

fn read_file(flag: &str, path: &Path) -> Result<String, Failure> {
    std::fs::read_to_string(path)
        .map_err(|e| Failure::Input(format!("{flag} {}: cannot read: {e}", path.display())))
}

/// Reads a file that must hold JSON, naming the file and position if not.
fn read_json_file(flag: &str, path: &Path) -> Result<String, Failure> {
    let text = read_file(flag, path)?;
    serde_json::from_str::<serde_json::Value>(&text)
        .map_err(|e| Failure::Input(format!("{flag} {}: not valid JSON: {e}", path.display())))?;
    Ok(text)
}

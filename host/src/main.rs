//! The `intercom-connector` binary: parses arguments, drives the host
//! library, prints results. Exit codes: 0 success, 1 a failed run, 2 bad
//! input (arguments, config, state, catalog, component).

mod cli;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Parser;
use intercom_host::singer::SingerSink;
use intercom_host::{Connector, ConnectorError, ErrorCategory, Limits, Runtime, logging};

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
    let connector = load_component(cli)?;
    let log_only = || SingerSink::new(std::io::sink());
    if let Some(Command::Spec) = cli.command {
        println!("{}", connector.spec(log_only())?);
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
        println!("{catalog}");
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
    let catalog = cli
        .catalog
        .as_deref()
        .map(|p| read_json_file("--catalog", p))
        .transpose()?;
    let state = cli
        .state
        .as_deref()
        .map(|p| read_json_file("--state", p))
        .transpose()?;
    let started = std::time::Instant::now();
    let stdout = std::io::BufWriter::new(std::io::stdout());
    let (sink, outcome) = connector.read(
        &config,
        catalog.as_deref(),
        state.as_deref(),
        policy,
        SingerSink::new(stdout),
    )?;
    outcome.map_err(|e| {
        // The connector's config errors start with the document they are about.
        let file = match e.message.split([':', ' ']).next() {
            Some("catalog") => cli.catalog.as_deref(),
            Some("state") => cli.state.as_deref(),
            _ => None,
        };
        connector_failure(e, file.unwrap_or(config_path))
    })?;
    let total: u64 = sink.records.values().sum();
    tracing::info!(
        "sync finished: {total} records ({}) in {:.1}s",
        sink.records
            .iter()
            .map(|(s, n)| format!("{s}: {n}"))
            .collect::<Vec<_>>()
            .join(", "),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Config errors name the file they came from and exit 2.
fn connector_failure(e: ConnectorError, file: &Path) -> Failure {
    if e.category == ErrorCategory::Config {
        Failure::Input(format!("{}: {}", file.display(), e.message))
    } else {
        Failure::Run(format!("{} error: {}", e.category, e.message))
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
    let runtime = Runtime::new(Limits::default(), cache)?;
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

//! Command-line arguments. Singer tap flags at the top level, so Singer
//! targets and Meltano can run the binary as a tap; other jobs as commands.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "intercom-connector",
    version,
    about = "Replicates an Intercom workspace. Runs the connector component in a wasmtime sandbox."
)]
pub struct Cli {
    #[command(flatten)]
    pub common: Common,

    /// Singer: print the catalog of available streams and exit.
    #[arg(long)]
    pub discover: bool,

    /// Singer: state file from a previous run (the last STATE message's value).
    #[arg(long, value_name = "FILE")]
    pub state: Option<PathBuf>,

    /// Singer: catalog selecting streams and fields (default: every stream).
    #[arg(long, value_name = "FILE", alias = "properties")]
    pub catalog: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Args, Debug)]
pub struct Common {
    /// Connector config (JSON): access_token, start_date, region or base_url, ...
    #[arg(long, value_name = "FILE", global = true)]
    pub config: Option<PathBuf>,

    /// The connector component to run (default: the release build beside this binary).
    #[arg(
        long,
        value_name = "WASM",
        global = true,
        env = "INTERCOM_CONNECTOR_COMPONENT"
    )]
    pub component: Option<PathBuf>,

    /// Where compiled components are cached (default: the user cache directory).
    #[arg(long, value_name = "DIR", global = true)]
    pub cache_dir: Option<PathBuf>,

    /// Compile the component on every start instead of caching it.
    #[arg(long, global = true)]
    pub no_cache: bool,

    /// Log lines as JSON objects on stderr.
    #[arg(long, value_enum, default_value = "text", global = true)]
    pub log_format: LogFormat,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Print the JSON Schema of the config document.
    Spec,
    /// Verify the config's credentials and report the workspace reached.
    Check,
}

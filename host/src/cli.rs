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

    /// Singer SDK: print the name, version, capabilities and settings, and exit.
    #[arg(long)]
    pub about: bool,

    /// Output of --about [default: text].
    #[arg(long, value_enum, requires = "about")]
    pub format: Option<crate::about::Format>,

    /// Singer: state file from a previous run (the last STATE message's value).
    #[arg(long, value_name = "FILE")]
    pub state: Option<PathBuf>,

    /// Singer: catalog selecting streams and fields (default: every stream).
    #[arg(long, value_name = "FILE", alias = "properties")]
    pub catalog: Option<PathBuf>,

    /// Sync only these streams (comma-separated), without writing a catalog.
    #[arg(long, value_name = "A,B", value_delimiter = ',', global = true)]
    pub streams: Vec<String>,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Args, Debug)]
pub struct Common {
    /// Connector config (JSON): access_token, start_date, region or base_url,
    /// ... Repeatable, merged in order (later keys win); `ENV` reads the
    /// TAP_INTERCOM_* environment variables.
    #[arg(long, value_name = "FILE|ENV", global = true)]
    pub config: Vec<PathBuf>,

    /// The connector component to run (default: the one built into this binary).
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

    /// Memory cap of the component, in MiB [default: 512].
    #[arg(long, value_name = "MIB", global = true, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_memory_mb: Option<u32>,

    /// Stop the component after it computes this long without progress (a
    /// request, output or checkpoint) [default: 60].
    #[arg(long, value_name = "SECONDS", global = true, value_parser = clap::value_parser!(u32).range(1..))]
    pub watchdog_seconds: Option<u32>,

    /// Stop the component when it asks to sleep longer than this in all
    /// between two progress calls [default: 300].
    #[arg(long, value_name = "SECONDS", global = true, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_wait_seconds: Option<u32>,

    /// Let the component reach only this origin (repeatable), among those
    /// the config names [default: all the config names].
    #[arg(long, value_name = "ORIGIN", global = true)]
    pub allow_origin: Vec<String>,

    /// HTTP requests of one batch sent at once [default: 32].
    #[arg(long, value_name = "N", global = true, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub concurrency: Option<u32>,
}

impl Common {
    /// The sandbox limits: defaults, overridden by the flags given.
    pub fn limits(&self) -> intercom_host::Limits {
        let mut limits = intercom_host::Limits::default();
        if let Some(mib) = self.max_memory_mb {
            limits.memory_bytes = (mib as usize) << 20;
        }
        if let Some(seconds) = self.watchdog_seconds {
            limits.watchdog = std::time::Duration::from_secs(seconds.into());
        }
        if let Some(seconds) = self.max_wait_seconds {
            limits.max_wait = std::time::Duration::from_secs(seconds.into());
        }
        if let Some(n) = self.concurrency {
            limits.batch_concurrency = n as usize;
        }
        limits
    }
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// The OAuth app's credentials come from the Developer Hub; the secret is
/// best given through the environment, where `ps` does not show it.
#[derive(Args, Debug)]
pub struct AuthArgs {
    /// The app's client id.
    #[arg(long, env = "INTERCOM_CLIENT_ID")]
    pub client_id: String,

    /// The app's client secret (prefer the environment variable).
    #[arg(long, env = "INTERCOM_CLIENT_SECRET", hide_env_values = true)]
    pub client_secret: Option<String>,

    /// Redirect URI registered in the app [default: http://127.0.0.1:PORT/callback].
    #[arg(long, value_name = "URI")]
    pub redirect_uri: Option<url::Url>,

    /// Port of the 127.0.0.1 listener; 0 picks a free one [default: the
    /// redirect URI's port if it is on loopback, else 8976].
    #[arg(long, value_name = "N")]
    pub port: Option<u16>,

    /// The consent page [default: https://app.intercom.com/oauth].
    #[arg(long, value_name = "URL")]
    pub authorize_url: Option<url::Url>,

    /// The token endpoint [default: /auth/eagle/token on the config's
    /// base_url or region's API host].
    #[arg(long, value_name = "URL")]
    pub token_url: Option<url::Url>,

    /// Seconds to wait for the browser's redirect.
    #[arg(long, value_name = "SECS", default_value_t = 300)]
    pub timeout: u64,

    /// Print the authorize URL without opening a browser.
    #[arg(long)]
    pub no_browser: bool,

    /// No loopback listener: after approving, paste the code shown on the
    /// redirect page (or the whole redirected URL) at the prompt. Needs
    /// --redirect-uri, e.g. an HTTPS page registered in the app.
    #[arg(long, requires = "redirect_uri", conflicts_with = "port")]
    pub paste: bool,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Print the JSON Schema of the config document.
    Spec,
    /// Verify the config's credentials and report the workspace reached.
    Check,
    /// Get an access token through Intercom's OAuth flow and store it in the
    /// config file (created when missing; other fields are kept).
    Auth(Box<AuthArgs>),
    /// Sync into a local SQLite database (one table per stream), resuming
    /// from the state stored in it.
    Sync(SyncArgs),
}

#[derive(Args, Debug)]
pub struct SyncArgs {
    /// The SQLite database to write (created when missing).
    #[arg(long, value_name = "PATH", default_value = "intercom.db")]
    pub database: PathBuf,

    /// Start these streams over (comma-separated): their bookmarks are
    /// dropped, and rows the run does not write again are deleted once it
    /// completes.
    #[arg(long, value_name = "A,B", value_delimiter = ',')]
    pub reset: Vec<String>,

    /// Keep rows deleted at the source, with `_sdc_deleted_at` set, instead
    /// of deleting them.
    #[arg(long)]
    pub soft_delete: bool,
}

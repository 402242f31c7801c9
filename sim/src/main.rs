//! `intercom-sim`: serve the simulator until SIGINT or SIGTERM, for scripts and demos.

use std::io::{self, Write};
use std::process::ExitCode;

use clap::Parser;
use intercom_sim::{SimConfig, Simulator};

/// Simulator of Intercom's REST API (2.16) on 127.0.0.1.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// Port to listen on; 0 picks a free one (read it from the first output line).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Seed of the generated data.
    #[arg(long, default_value_t = SimConfig::default().seed)]
    seed: u64,
    /// Access token clients must send as `Authorization: Bearer <token>`.
    #[arg(long, default_value_t = SimConfig::default().token, hide_default_value = true)]
    token: String,
    #[arg(long, default_value_t = SimConfig::default().admins)]
    admins: usize,
    #[arg(long, default_value_t = SimConfig::default().teams)]
    teams: usize,
    #[arg(long, default_value_t = SimConfig::default().tags)]
    tags: usize,
    /// Enforce this many requests per minute (split into 10-second windows).
    #[arg(long)]
    rate_limit_per_minute: Option<u32>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let config = SimConfig {
        seed: args.seed,
        token: args.token,
        admins: args.admins,
        teams: args.teams,
        tags: args.tags,
        port: args.port,
        rate_limit_per_minute: args.rate_limit_per_minute,
    };
    match run(config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("intercom-sim: {err}");
            ExitCode::FAILURE
        }
    }
}

fn run(config: SimConfig) -> io::Result<()> {
    let simulator = Simulator::start(config)?;
    let mut stdout = io::stdout().lock();
    writeln!(stdout, "intercom-sim listening on {}", simulator.base_url())?;
    stdout.flush()?;
    drop(stdout);

    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(shutdown_signal())
}

async fn shutdown_signal() -> io::Result<()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut terminate = signal(SignalKind::terminate())?;
        tokio::select! {
            interrupted = tokio::signal::ctrl_c() => interrupted,
            _ = terminate.recv() => Ok(()),
        }
    }
    #[cfg(not(unix))]
    tokio::signal::ctrl_c().await
}

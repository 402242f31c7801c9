//! The `intercom-connector` binary: parses arguments, runs the command
//! through the host library, prints results. Exit codes: 0 success, 1 a
//! failed run, 2 bad input (arguments, config, state, catalog, component,
//! database).

mod about;
mod cli;

use std::process::ExitCode;

use clap::Parser;
use intercom_host::commands::{self, Read};
use intercom_host::{Connector, Document, Error, config, logging, oauth};

use cli::{Cli, Command, LogFormat};

fn main() -> ExitCode {
    let cli = Cli::parse();
    logging::init(cli.common.log_format == LogFormat::Json);
    match run(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}

fn run(cli: &Cli) -> Result<(), Error> {
    // OAuth needs the component only to find the API host of a region.
    if let Some(Command::Auth(args)) = &cli.command {
        return auth(cli, args);
    }
    let connector = load_component(cli)?;
    if let Some(Command::Spec) = cli.command {
        println!("{}", commands::spec(&connector)?);
        return Ok(());
    }
    if cli.about {
        let about = about::render(&commands::spec(&connector)?, cli.format)
            .map_err(|e| Error::Run(format!("the connector's spec is not JSON: {e}")))?;
        print!("{about}");
        return Ok(());
    }
    let merged = commands::load_config(&connector, &config_sources(cli))?;
    let config_path = merged.label.as_path();
    let config = commands::seal_config(&connector, &merged.text, config_path)?;
    let grant = commands::config_grant(config.sealed(), config_path, &cli.common.allow_origin)?;
    let policy =
        |connector: &Connector| commands::network_policy(connector, &config, config_path, &grant);
    if cli.discover {
        let catalog = commands::discover(&connector, &config, config_path, policy(&connector)?)?;
        println!("{catalog}");
        return Ok(());
    }
    if let Some(Command::Check) = cli.command {
        let workspace = commands::check(&connector, &config, config_path, policy(&connector)?)?;
        println!("ok: {workspace}");
        return Ok(());
    }
    // Before the policy is logged: a bad selection is an error alone.
    let catalog = match cli.catalog.as_deref() {
        Some(_) if !cli.streams.is_empty() => {
            return Err(Error::Usage(
                "--streams and --catalog both select streams; pass one".into(),
            ));
        }
        Some(path) => Some(commands::read_json_document(Document::Catalog, path)?),
        None if cli.streams.is_empty() => None,
        None => Some(commands::select_streams(&connector, &config, &cli.streams)?),
    };
    let read = Read {
        connector: &connector,
        config: &config,
        catalog: catalog.as_deref(),
        policy: policy(&connector)?,
        json_logs: cli.common.log_format == LogFormat::Json,
        config_path,
        catalog_path: cli.catalog.as_deref(),
    };
    match &cli.command {
        Some(Command::Sync(_)) if cli.state.is_some() => Err(Error::Usage(
            "--state: sync resumes from the state stored in its database".into(),
        )),
        Some(Command::Sync(args)) => {
            read.into_database(&args.database, &args.reset, args.soft_delete)
        }
        _ => read.to_stdout(cli.state.as_deref()),
    }
}

fn config_sources(cli: &Cli) -> Vec<config::Source> {
    let paths = cli.common.config.iter();
    paths.map(|p| config::Source::parse(p)).collect()
}

/// The release component `scripts/build` made, embedded by `build.rs`.
const EMBEDDED_COMPONENT: &[u8] = include_bytes!(env!("INTERCOM_EMBEDDED_COMPONENT"));

fn load_component(cli: &Cli) -> Result<Connector, Error> {
    let cache = if cli.common.no_cache {
        None
    } else {
        cli.common
            .cache_dir
            .clone()
            .or_else(commands::default_cache_dir)
    };
    commands::load_component(
        cli.common.component.as_deref(),
        EMBEDDED_COMPONENT,
        cache,
        cli.common.limits(),
    )
}

/// `auth`: the authorize URL goes to stdout (alone, for scripts); guidance
/// to stderr. Neither the secret nor the token is ever printed.
fn auth(cli: &Cli, args: &cli::AuthArgs) -> Result<(), Error> {
    use std::io::IsTerminal;
    let sources = config_sources(cli);
    let (earlier, config_path) =
        config::split_for_auth(&sources, || commands::spec_schema(&load_component(cli)?))?;
    let client_secret = args.client_secret.clone().ok_or_else(|| {
        Error::Usage(
            "no client secret: set INTERCOM_CLIENT_SECRET (or pass --client-secret)".into(),
        )
    })?;
    let pending = oauth::start(
        config_path,
        earlier,
        oauth::Options {
            client_id: args.client_id.clone(),
            client_secret,
            authorize_url: args.authorize_url.clone(),
            token_url: args.token_url.clone(),
            redirect_uri: args.redirect_uri.clone(),
            port: args.port,
            timeout: std::time::Duration::from_secs(args.timeout),
            paste: args.paste,
        },
    )?;
    match pending.listening_on() {
        Some(address) => eprintln!(
            "Open this URL in a browser and approve the app; waiting {}s for the redirect to {address}:",
            args.timeout
        ),
        None => eprintln!("Open this URL in a browser and approve the app:"),
    }
    println!("{}", pending.authorize_url());
    // Flushed now: a script reading the URL must not wait for the flow to end.
    std::io::Write::flush(&mut std::io::stdout())
        .map_err(|e| Error::Run(format!("stdout: {e}")))?;
    if !args.no_browser
        && std::io::stdout().is_terminal()
        && let Err(opener) = commands::open_browser(pending.authorize_url().as_str())
    {
        eprintln!("(could not run {opener}; open the URL yourself)");
    }
    if args.paste {
        eprint!(
            "Paste the code shown on the redirect page, or the whole URL you were redirected to: "
        );
        pending.finish_pasted(config_path, std::io::stdin().lock())?;
    } else {
        pending.finish(config_path)?;
    }
    eprintln!(
        "access token saved to {} (mode 0600)",
        config_path.display()
    );
    Ok(())
}

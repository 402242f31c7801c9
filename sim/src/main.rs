//! `intercom-sim`: serve the simulator until SIGINT or SIGTERM, for scripts and demos.

use std::io::{self, Write};
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use intercom_sim::{
    Fault, FaultRule, INTERCOM_RATE_LIMIT_PER_MINUTE, Lenient, RandomFaults, ScrollEnd, SimConfig,
    Simulator,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Simulator of Intercom's REST API (2.16) on 127.0.0.1.
#[derive(Parser)]
#[command(version, after_help = FAULT_HELP)]
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
    #[arg(long, default_value_t = SimConfig::default().contacts)]
    contacts: usize,
    #[arg(long, default_value_t = SimConfig::default().companies)]
    companies: usize,
    #[arg(long, default_value_t = SimConfig::default().conversations)]
    conversations: usize,
    #[arg(long, default_value_t = SimConfig::default().tickets)]
    tickets: usize,
    #[arg(long, default_value_t = SimConfig::default().articles)]
    articles: usize,
    #[arg(long, default_value_t = SimConfig::default().activity_logs)]
    activity_logs: usize,
    #[arg(long, default_value_t = SimConfig::default().segments)]
    segments: usize,
    #[arg(long, default_value_t = SimConfig::default().max_parts_per_conversation)]
    max_parts_per_conversation: usize,
    /// Conversations with 520 to 600 parts (more than `GET /conversations/{id}` shows).
    #[arg(long, default_value_t = SimConfig::default().huge_conversations)]
    huge_conversations: usize,
    /// Seconds an unused companies scroll stays open.
    #[arg(long, default_value_t = SimConfig::default().scroll_expiry.as_secs())]
    scroll_expiry_secs: u64,
    /// The app's IANA timezone.
    #[arg(long, default_value_t = SimConfig::default().timezone)]
    timezone: String,
    /// Enforce this many requests per minute (split into 10-second windows).
    #[arg(long, default_value_t = INTERCOM_RATE_LIMIT_PER_MINUTE)]
    rate_limit_per_minute: u32,
    /// Never answer 429 (a friendliness).
    #[arg(long)]
    no_rate_limit: bool,
    /// Milliseconds an update takes to become visible to search.
    #[arg(long, value_name = "MS", default_value_t = SimConfig::default().index_lag.as_millis() as u64)]
    index_lag_ms: u64,
    /// Run the server's clock (Date, X-RateLimit-Reset) this many seconds ahead
    /// (negative: behind).
    #[arg(
        long,
        value_name = "SECS",
        default_value_t = 0,
        allow_hyphen_values = true
    )]
    clock_skew_secs: i64,
    /// Searches ignore the body's `sort`.
    #[arg(long)]
    ignore_search_sort: bool,
    /// Status for a scroll_param whose scroll ended or expired: 400 or 404.
    #[arg(long, value_name = "STATUS", default_value_t = 400, value_parser = parse_scroll_end)]
    scroll_end: u16,
    /// A scroll 500 keeps the app's scroll slot busy until the scroll expires.
    #[arg(long)]
    scroll_error_keeps_slot: bool,
    /// Notes and companies of a contact as page-numbered lists honouring `page`.
    #[arg(long)]
    numbered_sublists: bool,
    /// Conversation part ids as strings.
    #[arg(long)]
    string_part_ids: bool,
    /// ASCII data with few nulls, no unknown fields, no escapes.
    #[arg(long)]
    plain_data: bool,
    /// A scroll page whose answer was lost is served again for the same param.
    #[arg(long)]
    scroll_replays_lost_pages: bool,
    /// Every N seconds, update a few random contacts and companies (seeded), add
    /// a conversation part, a ticket part and an activity log entry, stamped
    /// with the real clock.
    #[arg(long)]
    mutate_every_secs: Option<u64>,
    /// Inject a fault into authenticated requests (repeatable; grammar below).
    #[arg(long = "fault", value_name = "SPEC", value_parser = parse_rule)]
    faults: Vec<FaultRule>,
    /// Fault this share (0 to 1) of authenticated requests at random.
    #[arg(long, value_name = "RATE")]
    random_faults: Option<f64>,
    /// Seed of the random faults [default: --seed].
    #[arg(long, value_name = "N")]
    fault_seed: Option<u64>,
    /// Kinds of random faults, comma-separated KINDs
    /// [default: 429,500,503,reset,truncated,invalid-json].
    #[arg(long, value_name = "KINDS", value_delimiter = ',', value_parser = parse_fault)]
    fault_kinds: Vec<Fault>,
    /// Delay every authenticated answer by this many milliseconds.
    #[arg(long, value_name = "N")]
    latency_ms: Option<u64>,
    /// OAuth client id that `GET /oauth` accepts.
    #[arg(long, default_value_t = SimConfig::default().oauth_client_id)]
    oauth_client_id: String,
    /// OAuth client secret that `POST /auth/eagle/token` checks.
    #[arg(long, default_value_t = SimConfig::default().oauth_client_secret, hide_default_value = true)]
    oauth_client_secret: String,
    /// Refuse the token an endpoint (repeatable): PATH_PREFIX=plan answers
    /// 403 `api_plan_restricted`, PATH_PREFIX=permission 401 `token_unauthorized`.
    #[arg(long = "restrict", value_name = "PATH_PREFIX=plan|permission")]
    restricted: Vec<intercom_sim::Restriction>,
}

const FAULT_HELP: &str = "\
Fault SPEC: KIND[@PATH_PREFIX][:after=N][:times=N|forever]
  Faults only authenticated requests whose path starts with PATH_PREFIX (default:
  all), letting the first N through (after, default 0), then firing `times` times
  (default 1). Rules are checked in the order given; the first due one fires.
KIND:
  429 | rate-limited      429 rate_limit_exceeded, X-RateLimit-Remaining 0
  401 | unauthorized      401 unauthorized, as if the token were revoked
  500 | 502 | 503 | 504   that status with Intercom's error envelope
  delay=200ms | delay=2s  answer normally after the delay
  hang                    never answer
  reset                   close the connection (RST) without a response
  truncated               full Content-Length, half the body, then close
  invalid-json            200 whose body is not JSON
  scroll-exists           400 scroll_exists when a companies scroll starts
  scroll-server-error     500 on a scroll page; the scroll is closed
  repeat-cursor           a search or the contacts list repeats the request's
                          cursor as the next one; a scroll page is served again
Examples:
  --fault 500@/contacts/search:after=3:times=2
  --fault hang@/companies/scroll --fault rate-limited:times=5
  --fault delay=200ms@/conversations:times=forever
  --random-faults 0.05 --fault-seed 7";

fn parse_scroll_end(status: &str) -> Result<u16, String> {
    match status {
        "400" => Ok(400),
        "404" => Ok(404),
        _ => Err(format!(
            "scroll end status must be 400 or 404, not {status:?}"
        )),
    }
}

fn parse_rule(spec: &str) -> Result<FaultRule, String> {
    spec.parse()
}

fn parse_fault(kind: &str) -> Result<Fault, String> {
    kind.parse()
}

fn main() -> ExitCode {
    let args = Args::parse();
    let random_faults = args.random_faults.map(|rate| {
        let mut random = RandomFaults::new(args.fault_seed.unwrap_or(args.seed), rate);
        if !args.fault_kinds.is_empty() {
            random.kinds = args.fault_kinds;
        }
        random
    });
    let lenient = Lenient {
        numbered_sublists: args.numbered_sublists,
        string_part_ids: args.string_part_ids,
        plain_data: args.plain_data,
        scroll_replays_lost_pages: args.scroll_replays_lost_pages,
    };
    let config = SimConfig {
        seed: args.seed,
        token: args.token,
        admins: args.admins,
        teams: args.teams,
        tags: args.tags,
        contacts: args.contacts,
        companies: args.companies,
        conversations: args.conversations,
        tickets: args.tickets,
        articles: args.articles,
        activity_logs: args.activity_logs,
        segments: args.segments,
        max_parts_per_conversation: args.max_parts_per_conversation,
        huge_conversations: args.huge_conversations,
        scroll_expiry: Duration::from_secs(args.scroll_expiry_secs),
        timezone: args.timezone,
        port: args.port,
        rate_limit_per_minute: (!args.no_rate_limit).then_some(args.rate_limit_per_minute),
        index_lag: Duration::from_millis(args.index_lag_ms),
        clock_skew_secs: args.clock_skew_secs,
        ignore_search_sort: args.ignore_search_sort,
        scroll_end: if args.scroll_end == 404 {
            ScrollEnd::NotFound
        } else {
            ScrollEnd::BadRequest
        },
        scroll_error_keeps_slot: args.scroll_error_keeps_slot,
        lenient,
        random_faults,
        latency: args.latency_ms.map(Duration::from_millis),
        oauth_client_id: args.oauth_client_id,
        oauth_client_secret: args.oauth_client_secret,
        restricted: args.restricted,
    };
    match run(config, args.faults, args.mutate_every_secs) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("intercom-sim: {err}");
            ExitCode::FAILURE
        }
    }
}

fn run(
    config: SimConfig,
    faults: Vec<FaultRule>,
    mutate_every_secs: Option<u64>,
) -> io::Result<()> {
    let seed = config.seed;
    let simulator = Simulator::start(config)?;
    for rule in faults {
        simulator.inject(rule);
    }
    let mut stdout = io::stdout().lock();
    writeln!(stdout, "intercom-sim listening on {}", simulator.base_url())?;
    stdout.flush()?;
    drop(stdout);

    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(async {
            match mutate_every_secs.filter(|&secs| secs > 0) {
                None => shutdown_signal().await,
                Some(secs) => tokio::select! {
                    stopped = shutdown_signal() => stopped,
                    () = mutate_forever(&simulator, secs, seed) => Ok(()),
                },
            }
        })
}

/// Demo activity: a few seeded updates per tick, stamped with the real clock.
async fn mutate_forever(simulator: &Simulator, secs: u64, seed: u64) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5eed_f00d_c4a9_06e5);
    let mut ticks = tokio::time::interval(Duration::from_secs(secs));
    ticks.tick().await;
    loop {
        ticks.tick().await;
        let now = simulator.now();
        simulator.mutate(|data| {
            for _ in 0..3 {
                if let Some(id) = random_id(&mut rng, &data.contacts) {
                    data.update_contact(&id, now);
                }
                if let Some(id) = random_id(&mut rng, &data.companies) {
                    data.update_company(&id, now);
                }
            }
            if let Some(id) = random_id(&mut rng, &data.conversations) {
                data.add_conversation_part(&id, now);
            }
            if let Some(id) = random_id(&mut rng, &data.tickets) {
                data.add_ticket_part(&id, now);
            }
            data.add_activity_log(now);
        });
    }
}

/// The id of a random one of `records`.
fn random_id(rng: &mut ChaCha8Rng, records: &[serde_json::Value]) -> Option<String> {
    let i = rng.random_range(0..records.len().max(1));
    records.get(i)?["id"].as_str().map(str::to_owned)
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

//! `intercom-bench`: runs the release host against the simulator and prints
//! figures (records/s, requests/s against the budget, 429s, peak RSS, CPU
//! time, time in the component versus the host, component start time, and
//! the record pipeline in wasm versus native). Figures, not pass/fail: these
//! machines are shared and noisy.

mod floor;
mod pipeline;
mod stream_run;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::{Parser, ValueEnum};
use intercom_host::{Limits, Runtime};
use intercom_sim::{SimConfig, Simulator};

#[derive(Parser, Debug)]
#[command(about = "Benchmarks the connector against the Intercom simulator")]
struct Args {
    /// What to measure.
    #[arg(value_enum, default_value = "quick")]
    scenario: Scenario,

    /// Simulated latency of every API response.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,

    /// The simulator's rate limit (requests a minute); none by default.
    #[arg(long)]
    rate_per_minute: Option<u32>,

    /// Streams to sync, one run each.
    #[arg(long, value_delimiter = ',', default_value = "contacts")]
    streams: Vec<String>,

    #[arg(long, default_value_t = 20_000)]
    contacts: usize,
    #[arg(long, default_value_t = 2_000)]
    companies: usize,
    #[arg(long, default_value_t = 2_000)]
    conversations: usize,
    #[arg(long, default_value_t = 12)]
    parts_per_conversation: usize,

    /// Concurrent requests of one batch in the host.
    #[arg(long, default_value_t = Limits::default().batch_concurrency)]
    concurrency: usize,

    /// The release host binary and component (built by `scripts/build --release`).
    #[arg(long, default_value = "target/release/intercom-connector")]
    host: PathBuf,
    #[arg(
        long,
        default_value = "target/wasm32-wasip2/release/intercom_connector.wasm"
    )]
    component: PathBuf,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum Scenario {
    /// Sync `--streams` with the given latency, budget and sizes.
    Streams,
    /// 100 ms latency, 10,000 requests a minute: conversation_parts.
    Budget,
    /// No latency, no budget: contacts to Singer output.
    Throughput,
    /// About a million records (conversation_parts), for peak RSS.
    Memory,
    /// Cached component start and the record pipeline, wasm versus native.
    Cpu,
    /// Every stream, a full sync then an incremental run with nothing
    /// changed, against the requests and time a perfect client needs
    /// (100 ms latency and 10,000 requests a minute unless given).
    Floor,
    /// Throughput, budget (short) and cpu.
    Quick,
}

fn main() {
    let args = Args::parse();
    if !args.host.is_file() || !args.component.is_file() {
        eprintln!(
            "error: {} or {} is missing: run scripts/build --release",
            args.host.display(),
            args.component.display()
        );
        std::process::exit(2);
    }
    match args.scenario {
        Scenario::Streams => streams(&args, args.streams.clone(), sizes(&args)),
        Scenario::Budget => budget(&args, 6_000),
        Scenario::Throughput => throughput(&args),
        Scenario::Memory => streams(
            &args,
            vec!["conversation_parts".into()],
            SimConfig {
                conversations: 80_000,
                max_parts_per_conversation: 24,
                huge_conversations: 0,
                contacts: 100,
                companies: 100,
                // Memory, not the budget, is measured here.
                rate_limit_per_minute: None,
                ..SimConfig::default()
            },
        ),
        Scenario::Cpu => cpu(&args),
        Scenario::Floor => floor::run(
            &args,
            SimConfig {
                latency: Some(Duration::from_millis(match args.latency_ms {
                    0 => 100,
                    given => given,
                })),
                rate_limit_per_minute: args.rate_per_minute.or(Some(10_000)),
                ..sizes(&args)
            },
        ),
        Scenario::Quick => {
            throughput(&args);
            budget(&args, 2_500);
            cpu(&args);
        }
    }
}

fn sizes(args: &Args) -> SimConfig {
    SimConfig {
        contacts: args.contacts,
        companies: args.companies,
        conversations: args.conversations,
        max_parts_per_conversation: args.parts_per_conversation,
        latency: (args.latency_ms > 0).then(|| Duration::from_millis(args.latency_ms)),
        rate_limit_per_minute: args.rate_per_minute,
        ..SimConfig::default()
    }
}

fn streams(args: &Args, streams: Vec<String>, sim: SimConfig) {
    let budget = sim.rate_limit_per_minute;
    println!(
        "simulator: latency {} ms, budget {}, {} contacts, {} companies, {} conversations",
        sim.latency.map_or(0, |d| d.as_millis()),
        budget.map_or("none".to_string(), |b| format!("{b}/min")),
        sim.contacts,
        sim.companies,
        sim.conversations
    );
    let started = Instant::now();
    let sim = Simulator::start(sim).expect("start the simulator");
    sim.prerender();
    println!("simulator ready in {:.1}s", started.elapsed().as_secs_f64());
    stream_run::print_header();
    for stream in streams {
        let sync = stream_run::Sync {
            stream: Some(&stream),
            state: None,
        };
        stream_run::run(args, &sim, &sync).print(budget);
    }
}

fn throughput(args: &Args) {
    println!("\n== throughput: no latency, no budget, contacts to Singer output");
    streams(
        args,
        vec!["contacts".into()],
        SimConfig {
            contacts: args.contacts,
            companies: 10,
            conversations: 10,
            rate_limit_per_minute: None,
            ..SimConfig::default()
        },
    );
}

fn budget(args: &Args, conversations: usize) {
    println!("\n== budget: 100 ms latency, 10,000 requests/min, conversation_parts");
    streams(
        args,
        vec!["conversation_parts".into()],
        SimConfig {
            conversations,
            contacts: 10,
            companies: 10,
            latency: Some(Duration::from_millis(100)),
            rate_limit_per_minute: Some(10_000),
            ..SimConfig::default()
        },
    );
}

fn cpu(args: &Args) {
    println!("\n== cpu: cached component start, record pipeline wasm vs native");
    let cache = std::env::temp_dir().join("intercom-bench-cache");
    let runtime = Runtime::new(Limits::default(), Some(cache)).expect("engine");
    runtime.load(&args.component).expect("warm the cache");
    let mut starts: Vec<Duration> = (0..20)
        .map(|_| {
            let started = Instant::now();
            let connector = runtime.load(&args.component).expect("load");
            connector
                .spec(pipeline::NullSink)
                .expect("instantiate and call spec");
            started.elapsed()
        })
        .collect();
    starts.sort();
    println!(
        "cached start (load + instantiate + spec): median {:.1} ms, max {:.1} ms over 20",
        starts[10].as_secs_f64() * 1000.0,
        starts[19].as_secs_f64() * 1000.0
    );
    pipeline::compare(&runtime, &args.component);
}

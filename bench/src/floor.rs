//! A full sync of every stream, then an incremental run in which nothing
//! changed, each against the floor: the requests a perfect client needs
//! (from the simulator's dataset and the API's page sizes) and, for the
//! full sync, the time those take at the rate limit.
//!
//! Floor time: Intercom splits a minute's allowance into six 10-second
//! windows, so C requests at R a minute use up `ceil(C / (R/6)) - 1` whole
//! windows before the last one, whose requests take one round trip when
//! sent at once: `10 s × (ceil(C / (R/6)) - 1) + latency`.

use std::collections::BTreeMap;
use std::time::Duration;

use intercom_sim::{Dataset, SimConfig, Simulator};

use crate::Args;
use crate::stream_run::{self, Sync};

/// The largest pages the API serves: searches and the contacts list, the
/// companies scroll, deleted conversations, a contact's companies and
/// notes, articles, help-center collections, activity logs.
const SEARCH_PAGE: usize = 150;
const SCROLL_PAGE: usize = 50;
const DELETED_PAGE: usize = 60;
const CONTACT_LIST_PAGE: usize = 50;
const ARTICLES_PAGE: usize = 25;
const COLLECTIONS_PAGE: usize = 20;
const ACTIVITY_LOGS_PAGE: usize = 20;
/// Items of a list embedded in a contact.
const EMBEDDED: usize = 10;

const ONE_CALL: &[&str] = &[
    "GET /admins",
    "GET /conversations/attributes",
    "GET /help_center/help_centers",
    "GET /segments",
    "GET /subscription_types",
    "GET /tags",
    "GET /teams",
    "GET /ticket_states",
    "GET /ticket_types",
];

pub fn run(args: &Args, sim: SimConfig) {
    let rate = sim.rate_limit_per_minute.unwrap_or(10_000);
    let latency = sim.latency.unwrap_or_default();
    println!(
        "\n== floor: every stream, {} ms latency, {rate}/min; {} contacts, {} companies, {} conversations",
        latency.as_millis(),
        sim.contacts,
        sim.companies,
        sim.conversations
    );
    let sim = Simulator::start(sim).expect("start the simulator");
    sim.prerender();
    let data = sim.dataset();

    let full = stream_run::run(
        args,
        &sim,
        &Sync {
            stream: None,
            state: None,
        },
    );
    let full_floor = full_sync_floor(&data);
    print_calls("full sync", &full.by_endpoint, &full_floor);
    let calls: u64 = full_floor.values().sum();
    let floor_seconds = floor_time(calls, rate, latency);
    println!(
        "full sync: {:.1} s against a floor of {floor_seconds:.1} s ({calls} requests at {rate}/min): {:.2}x",
        full.seconds(),
        full.seconds() / floor_seconds
    );

    let again = stream_run::run(
        args,
        &sim,
        &Sync {
            stream: None,
            state: Some(&full.state),
        },
    );
    print_calls(
        "incremental, nothing changed",
        &again.by_endpoint,
        &no_change_floor(&data),
    );
    println!("incremental run: {:.1} s", again.seconds());
}

fn pages(items: usize, page: usize) -> u64 {
    items.div_ceil(page).max(1) as u64
}

fn full_sync_floor(data: &Dataset) -> BTreeMap<String, u64> {
    let over = |lists: &std::collections::HashMap<String, Vec<String>>, page: usize| -> u64 {
        let long = lists.values().filter(|items| items.len() > EMBEDDED);
        long.map(|items| pages(items.len(), page)).sum()
    };
    let notes: u64 = data
        .contact_notes
        .values()
        .filter(|notes| notes.len() > EMBEDDED)
        .map(|notes| pages(notes.len(), CONTACT_LIST_PAGE))
        .sum();
    let mut floor = base_floor(data);
    floor.extend([
        // A first sync is a complete pass: the contacts list, then one
        // search page for what its stateless cursors missed.
        ("GET /contacts", pages(data.contacts.len(), SEARCH_PAGE)),
        ("POST /contacts/search", 1),
        (
            "GET /contacts/{id}/tags",
            over(&data.contact_tags, usize::MAX),
        ),
        (
            "GET /contacts/{id}/companies",
            over(&data.contact_companies, CONTACT_LIST_PAGE),
        ),
        ("GET /contacts/{id}/notes", notes),
        (
            "POST /conversations/search",
            pages(data.conversations.len(), SEARCH_PAGE),
        ),
        ("GET /conversations/{id}", data.conversations.len() as u64),
        (
            "GET /conversations/deleted",
            pages(data.deleted_conversations.len(), DELETED_PAGE),
        ),
        (
            "POST /tickets/search",
            pages(data.tickets.len(), SEARCH_PAGE),
        ),
        ("GET /tickets/{id}", data.tickets.len() as u64),
        ("GET /articles", pages(data.articles.len(), ARTICLES_PAGE)),
        (
            "GET /help_center/collections",
            pages(data.help_center_collections.len(), COLLECTIONS_PAGE),
        ),
        (
            "GET /admins/activity_logs",
            pages(data.activity_logs.len(), ACTIVITY_LOGS_PAGE),
        ),
    ]);
    floor
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .map(|(endpoint, n)| (endpoint.to_string(), n))
        .collect()
}

/// Nothing changed: one page of each search and list, the whole scroll.
fn no_change_floor(data: &Dataset) -> BTreeMap<String, u64> {
    let mut floor = base_floor(data);
    floor.extend([
        ("POST /contacts/search", 1),
        ("POST /conversations/search", 1),
        ("GET /conversations/deleted", 1),
        ("POST /tickets/search", 1),
        ("GET /articles", 1),
        ("GET /help_center/collections", 1),
        ("GET /admins/activity_logs", 1),
    ]);
    floor
        .into_iter()
        .map(|(endpoint, n)| (endpoint.to_string(), n))
        .collect()
}

/// What every run needs: the single-call lists, both models' data
/// attributes, the whole companies scroll (its last page is empty).
fn base_floor(data: &Dataset) -> BTreeMap<&'static str, u64> {
    let mut floor: BTreeMap<&'static str, u64> = ONE_CALL.iter().map(|e| (*e, 1)).collect();
    floor.insert("GET /data_attributes", 2);
    floor.insert(
        "GET /companies/scroll",
        data.companies.len().div_ceil(SCROLL_PAGE) as u64 + 1,
    );
    floor
}

fn floor_time(calls: u64, per_minute: u32, latency: Duration) -> f64 {
    let per_window = u64::from((per_minute / 6).max(1));
    10.0 * (calls.div_ceil(per_window).saturating_sub(1)) as f64 + latency.as_secs_f64()
}

fn print_calls(run: &str, made: &BTreeMap<String, u64>, floor: &BTreeMap<String, u64>) {
    println!("{run}: requests by endpoint against the floor");
    println!(
        "  {:<34} {:>9} {:>9} {:>7}",
        "endpoint", "requests", "floor", "ratio"
    );
    let endpoints: std::collections::BTreeSet<&String> = made.keys().chain(floor.keys()).collect();
    for endpoint in endpoints {
        let (n, f) = (
            made.get(endpoint).copied().unwrap_or(0),
            floor.get(endpoint).copied().unwrap_or(0),
        );
        let ratio = match f {
            0 => "-".to_string(),
            f => format!("{:.2}", n as f64 / f as f64),
        };
        println!("  {endpoint:<34} {n:>9} {f:>9} {ratio:>7}");
    }
    let (n, f): (u64, u64) = (made.values().sum(), floor.values().sum());
    println!(
        "  {:<34} {n:>9} {f:>9} {:>7.2}",
        "total",
        n as f64 / f.max(1) as f64
    );
}

//! What a run is doing while it runs, and what it did: a [`Sink`] wrapper
//! that counts records, requests and waits, draws a live line per stream on a
//! terminal, and leaves the totals for an end-of-run summary.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::json;
use serde_json::value::RawValue;
use wasmtime::Result;

use crate::bindings::LogLevel;
use crate::bindings::connector::source::clock::WaitReason;
use crate::types::{CallTime, Sink};

#[derive(Clone, Debug, Default)]
struct Counts {
    records: u64,
    requests: u64,
    retries: u64,
    /// Answers with status 429.
    rate_limited: u64,
    rate_limit_wait: Duration,
}

#[derive(Default)]
struct Tally {
    total: Counts,
    streams: BTreeMap<String, Counts>,
    /// Streams the component skipped because the token may not read them.
    skipped: Vec<String>,
    time: CallTime,
}

/// The run's counters. Shared with the sink wrapper so the summary survives
/// a run that fails and takes its sink with it.
#[derive(Clone)]
pub struct Progress {
    tally: Arc<Mutex<Tally>>,
    started: Instant,
}

impl Default for Progress {
    fn default() -> Self {
        Self {
            tally: Default::default(),
            started: Instant::now(),
        }
    }
}

impl Progress {
    /// Wraps `inner`; live lines are drawn only when stderr is a terminal.
    pub fn track<S: Sink>(&self, inner: S) -> Tracked<S> {
        let live = std::io::stderr().is_terminal();
        let target = if live {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        };
        Tracked {
            inner,
            tally: self.tally.clone(),
            multi: MultiProgress::with_draw_target(target),
            bars: BTreeMap::new(),
            group: Vec::new(),
        }
    }

    /// The end-of-run summary on stderr: a few lines of text, or with `json`
    /// one log line shaped like the JSON logs.
    pub fn summary(&self, json: bool, outcome: &str) {
        let tally = self.tally.lock().unwrap_or_else(PoisonError::into_inner);
        let elapsed = self.started.elapsed().as_secs_f64();
        let t = &tally.total;
        let component = tally.time.total.saturating_sub(tally.time.in_host);
        let waited = tally.time.waits.total();
        if json {
            let records: BTreeMap<&str, u64> = tally
                .streams
                .iter()
                .map(|(s, c)| (s.as_str(), c.records))
                .collect();
            let line = json!({
                "timestamp": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
                "level": "INFO",
                "fields": {
                    "message": format!("sync {outcome}"),
                    "duration_seconds": round(elapsed),
                    "records": records,
                    "records_total": t.records,
                    "requests": t.requests,
                    "retries": t.retries,
                    "rate_limited": t.rate_limited,
                    "rate_limit_wait_seconds": round(t.rate_limit_wait.as_secs_f64()),
                    "component_seconds": round(component.as_secs_f64()),
                    "host_seconds": round(tally.time.in_host.as_secs_f64()),
                    "wait_seconds": round(waited.as_secs_f64()),
                    "skipped_streams": tally.skipped,
                }
            });
            eprintln!("{line}");
            return;
        }
        eprintln!(
            "sync {outcome} in {elapsed:.1}s: {}, {}, {}, {} answered 429, {:.1}s waiting on rate limits",
            counted(t.records, "record"),
            counted(t.requests, "request"),
            counted(t.retries, "retry"),
            t.rate_limited,
            t.rate_limit_wait.as_secs_f64()
        );
        eprintln!(
            "  time in the component {:.1}s, in the host {:.1}s (HTTP, output, {:.1}s of waits)",
            component.as_secs_f64(),
            tally.time.in_host.as_secs_f64(),
            waited.as_secs_f64()
        );
        for (stream, counts) in &tally.streams {
            if !tally.skipped.contains(stream) {
                let noun = if counts.records == 1 {
                    "record"
                } else {
                    "records"
                };
                eprintln!("  {stream:<22} {:>9} {noun}", counts.records);
            }
        }
        for stream in &tally.skipped {
            eprintln!("  {stream:<22} skipped: the token may not read it");
        }
    }
}

/// `n` and the noun, singular for exactly one ("1 request", "0 requests",
/// "2 retries").
pub fn counted(n: u64, singular: &str) -> String {
    if n == 1 {
        return format!("1 {singular}");
    }
    let plural = match singular.strip_suffix('y') {
        Some(stem) if !stem.ends_with(['a', 'e', 'o', 'u']) => format!("{stem}ies"),
        _ => format!("{singular}s"),
    };
    format!("{n} {plural}")
}

/// A stream's line once its API has reported a total: a bar, the
/// percentage and the time left.
fn counted_bar() -> ProgressStyle {
    ProgressStyle::with_template(
        "{spinner} {prefix:<22} [{bar:24}] {percent:>3}% {msg} ({elapsed}, about {eta} left)",
    )
    .map(|style| style.progress_chars("=> "))
    .unwrap_or_else(|_| ProgressStyle::default_bar())
}

/// Records per second over `elapsed`, for a stream whose total is unknown.
fn rate(records: u64, elapsed: Duration) -> String {
    let seconds = elapsed.as_secs_f64();
    if seconds < 0.5 {
        return String::new();
    }
    format!(", {:.0}/s", records as f64 / seconds)
}

fn round(seconds: f64) -> f64 {
    (seconds * 1000.0).round() / 1000.0
}

/// A sink that counts and shows what passes through to `inner`.
pub struct Tracked<S> {
    inner: S,
    tally: Arc<Mutex<Tally>>,
    multi: MultiProgress,
    bars: BTreeMap<String, ProgressBar>,
    /// Streams declared and not yet complete (a parent and its children);
    /// requests and waits are the first one's, the stream whose source is
    /// being read.
    group: Vec<String>,
}

impl<S> Tracked<S> {
    pub fn into_inner(self) -> S {
        for bar in self.bars.values().filter(|b| !b.is_finished()) {
            bar.finish();
        }
        self.inner
    }

    /// Counts `f` against the group's first stream and redraws its line.
    fn count(&mut self, f: impl Fn(&mut Counts)) {
        let mut tally = self.tally.lock().unwrap_or_else(PoisonError::into_inner);
        f(&mut tally.total);
        if let Some(stream) = self.group.first() {
            f(tally.streams.entry(stream.clone()).or_default());
            self.redraw(&tally, stream);
        }
    }

    fn redraw(&self, tally: &Tally, stream: &str) {
        if let (Some(bar), Some(c)) = (self.bars.get(stream), tally.streams.get(stream)) {
            let mut message = counted(c.records, "record");
            message.push_str(&rate(c.records, bar.elapsed()));
            if c.requests > 0 {
                message.push_str(&format!(", {}", counted(c.requests, "request")));
            }
            if c.retries > 0 {
                message.push_str(&format!(", {}", counted(c.retries, "retry")));
            }
            if !c.rate_limit_wait.is_zero() {
                let wait = c.rate_limit_wait.as_secs_f64();
                message.push_str(&format!(", {wait:.1}s rate-limited"));
            }
            bar.set_message(message);
        }
    }
}

impl<S: Sink> Sink for Tracked<S> {
    fn schema(
        &mut self,
        stream: &str,
        schema: &RawValue,
        key_properties: &[String],
        bookmark_properties: &[String],
    ) -> Result<()> {
        self.inner
            .schema(stream, schema, key_properties, bookmark_properties)?;
        if !self.group.iter().any(|s| s == stream) {
            self.group.push(stream.to_string());
        }
        if !self.bars.contains_key(stream) {
            let style = ProgressStyle::with_template("{spinner} {prefix:<22} {msg} ({elapsed})")
                .unwrap_or_else(|_| ProgressStyle::default_spinner());
            let bar = self.multi.add(
                ProgressBar::new_spinner()
                    .with_style(style)
                    .with_prefix(stream.to_string())
                    .with_message("starting"),
            );
            bar.enable_steady_tick(Duration::from_millis(120));
            self.bars.insert(stream.to_string(), bar);
        }
        Ok(())
    }

    fn records(&mut self, stream: &str, records: &[Box<RawValue>]) -> Result<()> {
        self.inner.records(stream, records)?;
        let n = records.len() as u64;
        let mut tally = self.tally.lock().unwrap_or_else(PoisonError::into_inner);
        tally.total.records += n;
        tally.streams.entry(stream.to_string()).or_default().records += n;
        self.redraw(&tally, stream);
        Ok(())
    }

    fn stream_version(&mut self, stream: &str, version: u64, first_load: bool) -> Result<()> {
        self.inner.stream_version(stream, version, first_load)
    }

    fn absent_keys(&mut self, stream: &str, limit: u32) -> Result<Vec<String>> {
        self.inner.absent_keys(stream, limit)
    }

    fn stream_complete(&mut self, stream: &str, whole_table: bool) -> Result<()> {
        self.inner.stream_complete(stream, whole_table)?;
        self.group.retain(|s| s != stream);
        if let Some(bar) = self.bars.get(stream) {
            bar.finish();
        }
        Ok(())
    }

    fn checkpoint(&mut self, state: &RawValue) -> Result<()> {
        self.inner.checkpoint(state)
    }

    fn stream_progress(&mut self, stream: &str, done: u64, total: u64) {
        self.inner.stream_progress(stream, done, total);
        if let Some(bar) = self.bars.get(stream) {
            if bar.length().is_none() {
                bar.set_style(counted_bar());
            }
            // A total that shrank below what was read is no longer one.
            bar.set_length(total.max(done));
            bar.set_position(done);
        }
    }

    fn stream_skipped(&mut self, stream: &str, reason: &str) {
        self.inner.stream_skipped(stream, reason);
        let mut tally = self.tally.lock().unwrap_or_else(PoisonError::into_inner);
        if !tally.skipped.iter().any(|s| s == stream) {
            tally.skipped.push(stream.to_string());
        }
    }

    fn log(&mut self, level: LogLevel, message: &str) {
        // Keep log lines from tearing the live display.
        let inner = &mut self.inner;
        self.multi.suspend(|| inner.log(level, message));
    }

    fn wait(&mut self, reason: WaitReason, duration: Duration) {
        self.inner.wait(reason, duration);
        self.count(|c| match reason {
            WaitReason::Retry => c.retries += 1,
            WaitReason::RateLimit => c.rate_limit_wait += duration,
            WaitReason::Busy => {}
        });
    }

    fn requests(&mut self, count: usize) {
        self.inner.requests(count);
        self.count(|c| c.requests += count as u64);
    }

    fn rate_limited(&mut self, count: usize) {
        self.inner.rate_limited(count);
        self.count(|c| c.rate_limited += count as u64);
    }

    fn finished(&mut self, time: CallTime) {
        self.inner.finished(time);
        let mut tally = self.tally.lock().unwrap_or_else(PoisonError::into_inner);
        tally.time += time;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_is_singular_and_every_other_count_plural() {
        assert_eq!(counted(1, "request"), "1 request");
        assert_eq!(counted(0, "request"), "0 requests");
        assert_eq!(counted(2, "record"), "2 records");
        assert_eq!(counted(1, "retry"), "1 retry");
        assert_eq!(counted(3, "retry"), "3 retries");
        assert_eq!(counted(2, "day"), "2 days");
    }

    struct Discard;

    impl Sink for Discard {
        fn records(&mut self, _: &str, _: &[Box<RawValue>]) -> Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_reported_total_turns_the_line_into_a_bar_and_skips_are_listed() {
        let progress = Progress::default();
        let mut sink = progress.track(Discard);
        let schema = RawValue::from_string("{}".into()).unwrap();
        sink.schema("contacts", &schema, &[], &[]).unwrap();
        let bar = sink.bars["contacts"].clone();
        assert_eq!(bar.length(), None);
        sink.stream_progress("contacts", 150, 1000);
        assert_eq!((bar.position(), bar.length()), (150, Some(1000)));
        sink.stream_progress("contacts", 1010, 1000);
        assert_eq!((bar.position(), bar.length()), (1010, Some(1010)));
        sink.stream_skipped("tags", "the token may not read it");
        sink.stream_skipped("tags", "the token may not read it");
        assert_eq!(progress.tally.lock().unwrap().skipped, ["tags"]);
    }

    #[test]
    fn a_rate_waits_for_half_a_second_of_data() {
        assert_eq!(rate(10, Duration::from_millis(100)), "");
        assert_eq!(rate(300, Duration::from_secs(2)), ", 150/s");
    }
}

//! The sink on a thread of its own, so the guest goes on computing while its
//! records are checked and written. Calls keep their order through one
//! bounded queue (memory stays a few pages). The first failure stops the
//! output: nothing after a bad record or a failed commit is written, and the
//! failure is answered at the guest's next output call and when the call ends.
//! Logs and progress still pass, so what the guest says last is not lost.
//! A question (`absent-keys`) waits in the same queue, so its answer sees
//! every record sent before it.

use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use serde_json::value::RawValue;
use wasmtime::{Result, format_err};

use crate::bindings::LogLevel;
use crate::bindings::connector::source::clock::WaitReason;
use crate::types::{Sink, json_object};

/// Pages of records waiting for the thread, at most.
const QUEUE: usize = 2;

enum Message {
    Schema {
        stream: String,
        schema: Box<RawValue>,
        key_properties: Vec<String>,
        bookmark_properties: Vec<String>,
    },
    Records(String, Vec<String>),
    StreamVersion(String, u64, bool),
    StreamComplete(String, bool),
    AbsentKeys(String, u32, SyncSender<Vec<String>>),
    Checkpoint(Box<RawValue>),
    Log(LogLevel, String),
    Progress(String, u64, u64),
    Skipped(String, String),
    Wait(WaitReason, Duration),
    Requests(usize),
    RateLimited(usize),
}

/// Why the thread stopped taking messages.
enum Failure {
    /// The guest's output broke the contract, or the sink refused it.
    Output(wasmtime::Error),
    /// The sink could not commit a checkpoint.
    Commit(wasmtime::Error),
}

type Shared = Arc<Mutex<Option<Failure>>>;

pub struct SinkThread<S> {
    queue: Option<SyncSender<Message>>,
    worker: Option<JoinHandle<S>>,
    failure: Shared,
}

impl<S: Sink> SinkThread<S> {
    pub fn spawn(sink: S) -> Result<Self> {
        let (queue, messages) = sync_channel(QUEUE);
        let failure = Shared::default();
        let shared = failure.clone();
        let worker = std::thread::Builder::new()
            .name("sink".into())
            .spawn(move || serve(sink, messages, shared))
            .map_err(|e| format_err!("cannot start the output thread: {e}"))?;
        Ok(Self {
            queue: Some(queue),
            worker: Some(worker),
            failure,
        })
    }

    fn send(&self, message: Message) -> Result<()> {
        self.check()?;
        // A closed queue means the thread stopped on a failure, now recorded.
        if let Some(queue) = &self.queue
            && queue.send(message).is_err()
        {
            self.check()?;
        }
        Ok(())
    }

    /// The failure so far, as the error the guest's call answers with.
    fn check(&self) -> Result<()> {
        match &*self.failure.lock().unwrap_or_else(PoisonError::into_inner) {
            None => Ok(()),
            Some(Failure::Output(e)) => Err(format_err!("{e:#}")),
            Some(Failure::Commit(e)) => Err(format_err!("could not commit a checkpoint: {e:#}")),
        }
    }

    pub fn schema(
        &self,
        stream: String,
        schema: Box<RawValue>,
        key_properties: Vec<String>,
        bookmark_properties: Vec<String>,
    ) -> Result<()> {
        self.send(Message::Schema {
            stream,
            schema,
            key_properties,
            bookmark_properties,
        })
    }

    pub fn records(&self, stream: String, records: Vec<String>) -> Result<()> {
        self.send(Message::Records(stream, records))
    }

    pub fn stream_version(&self, stream: String, version: u64, first_load: bool) -> Result<()> {
        self.send(Message::StreamVersion(stream, version, first_load))
    }

    pub fn stream_complete(&self, stream: String, whole_table: bool) -> Result<()> {
        self.send(Message::StreamComplete(stream, whole_table))
    }

    /// Asks the sink, after everything queued before, and waits for it.
    pub fn absent_keys(&self, stream: String, limit: u32) -> Result<Vec<String>> {
        let (reply, answer) = sync_channel(1);
        self.send(Message::AbsentKeys(stream, limit, reply))?;
        // No answer: the thread stopped on a failure, now recorded.
        match answer.recv() {
            Ok(keys) => Ok(keys),
            Err(_) => self
                .check()
                .and_then(|()| Err(format_err!("the output thread stopped without an answer"))),
        }
    }

    /// Commits come in order after the records before them; a failed one is
    /// answered by the next output call, and by [`Self::finish`].
    pub fn checkpoint(&self, state: Box<RawValue>) -> Result<()> {
        self.send(Message::Checkpoint(state))
    }

    pub fn log(&self, level: LogLevel, message: String) {
        self.tell(Message::Log(level, message));
    }

    pub fn stream_progress(&self, stream: String, done: u64, total: u64) {
        self.tell(Message::Progress(stream, done, total));
    }

    pub fn stream_skipped(&self, stream: String, reason: String) {
        self.tell(Message::Skipped(stream, reason));
    }

    pub fn wait(&self, reason: WaitReason, duration: Duration) {
        self.tell(Message::Wait(reason, duration));
    }

    pub fn requests(&self, count: usize) {
        self.tell(Message::Requests(count));
    }

    pub fn rate_limited(&self, count: usize) {
        if count > 0 {
            self.tell(Message::RateLimited(count));
        }
    }

    /// Queues a message that is not output, even after a failure.
    fn tell(&self, message: Message) {
        if let Some(queue) = &self.queue {
            let _ = queue.send(message);
        }
    }

    /// Waits for everything queued to be written and gives the sink back
    /// (None if its thread panicked), with the failure that stopped it if any.
    pub fn finish(mut self) -> (Option<S>, Result<()>) {
        drop(self.queue.take());
        let sink = self.worker.take().and_then(|worker| worker.join().ok());
        let outcome = match self
            .failure
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        {
            None => Ok(()),
            Some(Failure::Output(e)) => Err(format_err!("component failed: {e:#}")),
            Some(Failure::Commit(e)) => Err(e.context("could not commit a checkpoint")),
        };
        (sink, outcome)
    }
}

fn serve<S: Sink>(mut sink: S, messages: Receiver<Message>, failure: Shared) -> S {
    let mut stopped = false;
    for message in messages {
        let outcome = match message {
            Message::Schema { .. }
            | Message::Records(..)
            | Message::StreamVersion(..)
            | Message::StreamComplete(..)
            | Message::AbsentKeys(..)
            | Message::Checkpoint(_)
                if stopped =>
            {
                continue;
            }
            Message::Schema {
                stream,
                schema,
                key_properties,
                bookmark_properties,
            } => sink
                .schema(&stream, &schema, &key_properties, &bookmark_properties)
                .map_err(Failure::Output),
            Message::Records(stream, records) => {
                let what = format!("a record of stream `{stream}`");
                records
                    .into_iter()
                    .map(|r| json_object(&what, r))
                    .collect::<Result<Vec<_>>>()
                    .and_then(|records| sink.records(&stream, &records))
                    .map_err(Failure::Output)
            }
            Message::StreamVersion(stream, version, first_load) => sink
                .stream_version(&stream, version, first_load)
                .map_err(Failure::Output),
            Message::StreamComplete(stream, whole_table) => sink
                .stream_complete(&stream, whole_table)
                .map_err(Failure::Output),
            Message::AbsentKeys(stream, limit, reply) => match sink.absent_keys(&stream, limit) {
                Ok(keys) => {
                    // The guest waits for the answer; it cannot have gone.
                    let _ = reply.send(keys);
                    Ok(())
                }
                Err(e) => {
                    // Recorded before the reply drops, so the guest finds it.
                    *failure.lock().unwrap_or_else(PoisonError::into_inner) =
                        Some(Failure::Output(e));
                    stopped = true;
                    continue;
                }
            },
            Message::Checkpoint(state) => sink.checkpoint(&state).map_err(Failure::Commit),
            Message::Log(level, message) => {
                sink.log(level, &message);
                Ok(())
            }
            Message::Progress(stream, done, total) => {
                sink.stream_progress(&stream, done, total);
                Ok(())
            }
            Message::Skipped(stream, reason) => {
                sink.stream_skipped(&stream, &reason);
                Ok(())
            }
            Message::Wait(reason, duration) => {
                sink.wait(reason, duration);
                Ok(())
            }
            Message::Requests(count) => {
                sink.requests(count);
                Ok(())
            }
            Message::RateLimited(count) => {
                sink.rate_limited(count);
                Ok(())
            }
        };
        if let Err(first) = outcome {
            *failure.lock().unwrap_or_else(PoisonError::into_inner) = Some(first);
            stopped = true;
        }
    }
    sink
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Keeps what it is given; refuses to commit a state holding `"fail"`.
    #[derive(Default)]
    struct Kept {
        lines: Vec<String>,
    }

    impl Sink for Kept {
        fn schema(&mut self, stream: &str, _: &RawValue, _: &[String], _: &[String]) -> Result<()> {
            self.lines.push(format!("schema {stream}"));
            Ok(())
        }
        fn records(&mut self, stream: &str, records: &[Box<RawValue>]) -> Result<()> {
            for record in records {
                self.lines.push(format!("{stream} {}", record.get()));
            }
            Ok(())
        }
        fn checkpoint(&mut self, state: &RawValue) -> Result<()> {
            if state.get().contains("fail") {
                return Err(format_err!("disk full"));
            }
            self.lines.push(format!("state {}", state.get()));
            Ok(())
        }
        fn log(&mut self, _: LogLevel, message: &str) {
            self.lines.push(format!("log {message}"));
        }
        /// How many lines came before the question.
        fn absent_keys(&mut self, _: &str, _: u32) -> Result<Vec<String>> {
            Ok(vec![self.lines.len().to_string()])
        }
    }

    fn json(text: &str) -> Box<RawValue> {
        RawValue::from_string(text.into()).unwrap()
    }

    fn records(texts: &[&str]) -> Vec<String> {
        texts.iter().map(|t| t.to_string()).collect()
    }

    #[test]
    fn everything_arrives_in_order() {
        let sink = SinkThread::spawn(Kept::default()).unwrap();
        sink.schema("s".into(), json("{}"), vec![], vec![]).unwrap();
        for page in 0..50 {
            sink.records("s".into(), records(&[&format!(r#"{{"n":{page}}}"#)]))
                .unwrap();
            sink.log(LogLevel::Info, format!("page {page}"));
            sink.checkpoint(json(&format!(r#"{{"page":{page}}}"#)))
                .unwrap();
        }
        let (kept, outcome) = sink.finish();
        outcome.unwrap();
        let lines = kept.unwrap().lines;
        assert_eq!(lines.len(), 1 + 50 * 3);
        assert_eq!(lines[0], "schema s");
        for page in 0..50 {
            assert_eq!(
                lines[1 + page * 3..4 + page * 3],
                [
                    format!(r#"s {{"n":{page}}}"#),
                    format!("log page {page}"),
                    format!(r#"state {{"page":{page}}}"#)
                ]
            );
        }
    }

    #[test]
    fn a_question_is_answered_after_everything_sent_before_it() {
        let sink = SinkThread::spawn(Kept::default()).unwrap();
        for n in 0..20 {
            sink.records("s".into(), records(&[&format!(r#"{{"n":{n}}}"#)]))
                .unwrap();
        }
        assert_eq!(sink.absent_keys("s".into(), 5).unwrap(), ["20"]);
        sink.records("s".into(), records(&["{oops"])).unwrap();
        let error = (0..1000)
            .find_map(|_| sink.absent_keys("s".into(), 5).err())
            .expect("the failure reaches the guest");
        assert!(error.to_string().contains("not valid JSON"), "{error}");
        let (_, outcome) = sink.finish();
        assert!(outcome.is_err());
    }

    #[test]
    fn nothing_after_a_bad_record_is_written() {
        let sink = SinkThread::spawn(Kept::default()).unwrap();
        sink.records("s".into(), records(&[r#"{"n":1}"#])).unwrap();
        sink.checkpoint(json(r#"{"page":1}"#)).unwrap();
        sink.records("s".into(), records(&[r#"{"n":2}"#, "{oops"]))
            .unwrap();
        // Answered by a later call once the thread has seen it; never committed.
        let _ = sink.checkpoint(json(r#"{"page":2}"#));
        let _ = sink.records("s".into(), records(&[r#"{"n":3}"#]));
        sink.log(LogLevel::Error, "giving up".into());
        let (kept, outcome) = sink.finish();
        let error = outcome.unwrap_err().to_string();
        assert!(
            error.starts_with("component failed: a record of stream `s` is not valid JSON"),
            "{error}"
        );
        assert_eq!(
            kept.unwrap().lines,
            [r#"s {"n":1}"#, r#"state {"page":1}"#, "log giving up"]
        );
    }

    #[test]
    fn a_failed_commit_stops_the_output_and_is_reported() {
        let sink = SinkThread::spawn(Kept::default()).unwrap();
        sink.records("s".into(), records(&[r#"{"n":1}"#])).unwrap();
        sink.checkpoint(json(r#"{"fail":1}"#)).unwrap();
        // Within a few calls the guest hears of it.
        let heard = (0..1000).find_map(|n| {
            std::thread::sleep(Duration::from_millis(1));
            sink.records("s".into(), records(&[&format!(r#"{{"n":{n}}}"#)]))
                .err()
        });
        assert_eq!(
            heard.expect("the failure reaches the guest").to_string(),
            "could not commit a checkpoint: disk full"
        );
        let (kept, outcome) = sink.finish();
        assert_eq!(
            format!("{:#}", outcome.unwrap_err()),
            "could not commit a checkpoint: disk full"
        );
        assert_eq!(kept.unwrap().lines, [r#"s {"n":1}"#]);
    }
}

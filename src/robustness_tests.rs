//! Property test: whatever the API answers, a sync ends in `Ok` or a
//! categorized error, never a panic (which would trap the component).

use std::cell::{Cell, RefCell};

use proptest::prelude::*;
use serde_json::{Map, Value, json};

use crate::error::Result;
use crate::host::{Host, LogLevel, Request, Response, TransportError, WaitReason};

/// Keys the pagers and the engine look for, so random bodies reach deep.
const KEYS: &[&str] = &[
    "data",
    "admins",
    "teams",
    "segments",
    "conversations",
    "pages",
    "next",
    "starting_after",
    "scroll_param",
    "id",
    "updated_at",
    "created_at",
    "conversation_parts",
    "tickets",
    "ticket_parts",
    "activity_logs",
    "total_count",
    "has_more",
    "tags",
    "companies",
    "notes",
    "page",
    "total_pages",
    "errors",
    "code",
    "type",
];

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|f| json!(f)),
        "[a-z0-9=/]{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((prop::sample::select(KEYS), inner), 0..8).prop_map(|pairs| {
                Value::Object(
                    pairs
                        .into_iter()
                        .map(|(k, v)| (k.to_string(), v))
                        .collect::<Map<_, _>>(),
                )
            }),
        ]
    })
}

#[derive(Clone, Debug)]
enum Answer {
    Json(u16, Value),
    Bytes(u16, Vec<u8>),
    Transport(bool),
}

fn answer() -> impl Strategy<Value = Answer> {
    let status = prop::sample::select(vec![200u16, 200, 200, 400, 404, 410, 429, 500]);
    prop_oneof![
        6 => (status.clone(), json_value()).prop_map(|(s, v)| Answer::Json(s, v)),
        1 => (status, prop::collection::vec(any::<u8>(), 0..40)).prop_map(|(s, b)| Answer::Bytes(s, b)),
        1 => any::<bool>().prop_map(Answer::Transport),
    ]
}

/// Answers each request with the next scripted answer, then with `{}`.
struct ScriptedHost {
    answers: Vec<Answer>,
    next: Cell<usize>,
    clock: Cell<u64>,
    checkpoints: RefCell<u32>,
}

impl ScriptedHost {
    fn reply(&self) -> std::result::Result<Response, TransportError> {
        let index = self.next.get();
        self.next.set(index + 1);
        self.clock.set(self.clock.get() + 1000);
        let (status, body) = match self.answers.get(index).cloned() {
            None => (200, b"{}".to_vec()),
            Some(Answer::Json(s, v)) => (s, v.to_string().into_bytes()),
            Some(Answer::Bytes(s, b)) => (s, b),
            Some(Answer::Transport(retryable)) => {
                return Err(TransportError {
                    retryable,
                    message: "reset".into(),
                });
            }
        };
        let headers = vec![
            ("x-ratelimit-limit".into(), "100".into()),
            ("x-ratelimit-remaining".into(), (index % 7).to_string()),
            (
                "x-ratelimit-reset".into(),
                (self.clock.get() / 1000 + 1).to_string(),
            ),
        ];
        Ok(Response {
            status,
            headers,
            body,
        })
    }
}

impl Host for ScriptedHost {
    fn send(&self, _: Request) -> std::result::Result<Response, TransportError> {
        self.reply()
    }
    fn send_batch(
        &self,
        requests: Vec<Request>,
    ) -> Vec<std::result::Result<Response, TransportError>> {
        requests.iter().map(|_| self.reply()).collect()
    }
    fn schema(&self, _: &str, schema: &str, _: &[String], _: &[String]) {
        assert!(serde_json::from_str::<Value>(schema).is_ok());
    }
    fn records(&self, _: &str, records: Vec<String>) {
        for record in records {
            assert!(serde_json::from_str::<Value>(&record).unwrap().is_object());
        }
    }
    fn stream_complete(&self, _: &str, _: bool) {}
    fn stream_version(&self, _: &str, _: u64, _: bool) {}
    fn stream_progress(&self, _: &str, _: u64, _: u64) {}
    fn stream_skipped(&self, _: &str, _: &str) {}
    fn log(&self, _: LogLevel, _: &str) {}
    fn now_ms(&self) -> u64 {
        self.clock.get()
    }
    fn sleep(&self, ms: u32, _: WaitReason) {
        self.clock.set(self.clock.get() + u64::from(ms));
    }
    fn checkpoint(&self, state: &str) -> Result<()> {
        assert!(serde_json::from_str::<Value>(state).is_ok());
        *self.checkpoints.borrow_mut() += 1;
        Ok(())
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    #[test]
    fn any_api_answers_end_in_ok_or_an_error(
        answers in prop::collection::vec(answer(), 0..40),
        stream in prop::sample::select(crate::streams::STREAMS.iter().map(|s| s.name).collect::<Vec<_>>()),
    ) {
        let host = ScriptedHost {
            answers,
            next: Cell::new(0),
            clock: Cell::new(1_700_000_000_000),
            checkpoints: RefCell::new(0),
        };
        let config = r#"{"access_token":"t","base_url":"https://api.example.test"}"#;
        let catalog = json!({"streams": [{"tap_stream_id": stream}]}).to_string();
        let _ = crate::read(&host, config, Some(&catalog), None);
        let _ = crate::check(&host, config);
    }
}

#[test]
fn a_numbered_list_whose_server_ignores_page_ends_after_two_requests() {
    let page = json!({"type": "admin.list", "admins": [{"id": "1", "type": "admin"}],
        "pages": {"type": "pages", "page": 1, "per_page": 1, "total_pages": 500}});
    let host = ScriptedHost {
        answers: vec![Answer::Json(200, page); 600],
        next: Cell::new(0),
        clock: Cell::new(1_700_000_000_000),
        checkpoints: RefCell::new(0),
    };
    let config = r#"{"access_token":"t","base_url":"https://api.example.test"}"#;
    let catalog = json!({"streams": [{"tap_stream_id": "admins"}]}).to_string();
    crate::read(&host, config, Some(&catalog), None).unwrap();
    assert_eq!(host.next.get(), 2);
}

#[test]
fn a_newest_first_list_stops_at_the_page_that_reaches_past_the_bookmark() {
    let page = |times: &[i64], next: Value| {
        let data: Vec<Value> = times
            .iter()
            .map(|t| json!({"id": t.to_string(), "type": "article", "updated_at": t}))
            .collect();
        json!({"type": "list", "data": data, "pages": {"type": "pages", "next": next}})
    };
    let host = ScriptedHost {
        answers: vec![
            Answer::Json(200, page(&[900, 800], json!({"starting_after": "a"}))),
            Answer::Json(200, page(&[700, 400], json!({"starting_after": "b"}))),
            Answer::Json(200, page(&[300, 200], Value::Null)),
        ],
        next: Cell::new(0),
        clock: Cell::new(1_700_000_000_000),
        checkpoints: RefCell::new(0),
    };
    let config = r#"{"access_token":"t","base_url":"https://api.example.test"}"#;
    let catalog = json!({"streams": [{"tap_stream_id": "articles"}]}).to_string();
    let state =
        json!({"version": 1, "bookmarks": {"articles": {"updated_at": "1970-01-01T00:10:00Z"}}});
    crate::read(&host, config, Some(&catalog), Some(&state.to_string())).unwrap();
    assert_eq!(host.next.get(), 2);
}

#[test]
fn a_sub_list_gone_after_its_first_page_keeps_the_embedded_list() {
    let note = |id: &str| json!({"type": "note", "id": id, "body": "b"});
    let first = json!({"type": "list", "data": [note("n1"), note("n2")],
        "pages": {"type": "pages", "next": {"starting_after": "c2"}}});
    let gone = json!({"type": "error.list", "errors": [{"code": "not_found", "message": "User Not Found"}]});
    let host = ScriptedHost {
        answers: vec![Answer::Json(200, first), Answer::Json(404, gone)],
        next: Cell::new(0),
        clock: Cell::new(1_700_000_000_000),
        checkpoints: RefCell::new(0),
    };
    let config = crate::config::Config::parse(
        r#"{"access_token":"t","base_url":"https://api.example.test"}"#,
    )
    .unwrap();
    let api = crate::api::Api::new(&host, &config);
    let embedded = json!({"type": "contact", "id": "c1", "notes": {"type": "list",
        "data": [{"type": "note", "id": "n1"}], "total_count": 12, "has_more": true}})
    .to_string();
    let mut records = vec![crate::record::Record::parse(&embedded, "contacts").unwrap()];
    let contacts = crate::streams::find("contacts").unwrap();
    crate::lists::complete(&api, contacts, &mut records).unwrap();
    assert_eq!(host.next.get(), 2, "both pages were asked for");
    let kept: Value = serde_json::from_str(&records[0].to_json()).unwrap();
    assert_eq!(kept["notes"]["has_more"], json!(true));
    assert_eq!(kept["notes"]["data"], json!([{"type": "note", "id": "n1"}]));
}

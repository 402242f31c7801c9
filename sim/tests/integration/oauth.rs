//! The OAuth flow: `GET /oauth` redirects with a single-use code, which
//! `POST /auth/eagle/token` exchanges for a token the API then accepts.

use intercom_sim::{SimConfig, Simulator};
use serde_json::Value;

use crate::http::{agent, start};

/// `GET /oauth?…` without following the redirect: the status and `Location`.
fn authorize(sim: &Simulator, query: &str) -> (u16, Option<url::Url>) {
    let response = agent()
        .get(format!("{}/oauth?{query}", sim.base_url()))
        .call()
        .expect("simulator answers");
    let location = response
        .headers()
        .get("location")
        .map(|value| url::Url::parse(value.to_str().unwrap()).unwrap());
    (response.status().as_u16(), location)
}

fn param(url: &url::Url, name: &str) -> Option<String> {
    url.query_pairs()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
}

fn exchange(sim: &Simulator, code: &str, secret: &str) -> (u16, Value) {
    let mut response = agent()
        .post(format!("{}/auth/eagle/token", sim.base_url()))
        .send_form([
            ("code", code),
            ("client_id", "sim-client"),
            ("client_secret", secret),
        ])
        .expect("simulator answers");
    let text = response.body_mut().read_to_string().expect("readable body");
    let body = serde_json::from_str(&text).expect("JSON body");
    (response.status().as_u16(), body)
}

fn me(sim: &Simulator, token: &str) -> u16 {
    agent()
        .get(format!("{}/me", sim.base_url()))
        .header("Authorization", format!("Bearer {token}"))
        .call()
        .expect("simulator answers")
        .status()
        .as_u16()
}

fn code(sim: &Simulator) -> String {
    let (status, location) = authorize(
        sim,
        "client_id=sim-client&state=s%2B1&redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fcb%3Fx%3D1",
    );
    assert_eq!(status, 302);
    let location = location.expect("Location header");
    assert_eq!(location.path(), "/cb");
    assert_eq!(param(&location, "x").as_deref(), Some("1"));
    assert_eq!(param(&location, "state").as_deref(), Some("s+1"));
    param(&location, "code").expect("code")
}

#[test]
fn a_code_is_exchanged_once_for_a_token_the_api_accepts() {
    let sim = start(SimConfig {
        contacts: 10,
        companies: 5,
        conversations: 5,
        ..SimConfig::default()
    });
    let code = code(&sim);
    assert!(code.ends_with('='), "{code}");

    let (status, body) = exchange(&sim, &code, "sim-secret");
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["token"], body["access_token"]);
    let token = body["access_token"].as_str().unwrap();
    assert_eq!(me(&sim, token), 200);
    assert_eq!(me(&sim, "not-issued"), 401);

    // Single use.
    let (status, body) = exchange(&sim, &code, "sim-secret");
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["type"], "error.list");
}

#[test]
fn wrong_secret_unknown_code_and_unknown_client_are_refused() {
    let sim = start(SimConfig {
        contacts: 10,
        companies: 5,
        conversations: 5,
        ..SimConfig::default()
    });
    let code = code(&sim);
    let (status, body) = exchange(&sim, &code, "wrong");
    assert_eq!(status, 401);
    assert_eq!(body["errors"][0]["code"], "unauthorized");
    // The refused exchange did not spend the code.
    assert_eq!(exchange(&sim, &code, "sim-secret").0, 200);

    assert_eq!(exchange(&sim, "bm9wZQ==", "sim-secret").0, 401);

    let (status, location) = authorize(
        &sim,
        "client_id=someone-else&state=s&redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2F",
    );
    assert_eq!((status, location), (400, None));
}

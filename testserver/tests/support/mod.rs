//! Helpers shared by the contract tests written after those in `contract/`: a server on
//! loopback, a logged-in client, and requests that return status and body.
#![allow(dead_code)] // each test binary uses its own subset

use guacamole_testserver::{Config, RunningServer, State, start};
use serde_json::{Value, json};

pub struct T {
    pub server: RunningServer,
    pub http: reqwest::Client,
    pub token: String,
}

pub fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        // A redirect must reach the test as it was sent.
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

pub async fn login(http: &reqwest::Client, base: &str, user: &str, password: &str) -> String {
    let r = http
        .post(format!("{base}/api/tokens"))
        .form(&[("username", user), ("password", password)])
        .send()
        .await
        .expect("login");
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.expect("json");
    v["authToken"].as_str().expect("token").to_owned()
}

/// A server under `/guacamole` with `config`'s other settings, logged in as
/// guacadmin.
pub async fn with_config(config: Config) -> T {
    let server = start(Config {
        prefix: "/guacamole".into(),
        ..config
    })
    .await
    .expect("server starts");
    let http = client();
    let token = login(&http, server.base_url(), "guacadmin", "guacadmin").await;
    T {
        server,
        http,
        token,
    }
}

pub async fn setup(state: State) -> T {
    with_config(Config {
        state,
        ..Config::default()
    })
    .await
}

/// Status, `Content-Type` and the body as JSON (a string when it is not JSON).
pub async fn parse_full(r: reqwest::Response) -> (u16, String, Value) {
    let status = r.status().as_u16();
    let content_type = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let text = r.text().await.expect("body");
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, content_type, body)
}

pub async fn parse(r: reqwest::Response) -> (u16, Value) {
    let (status, _, body) = parse_full(r).await;
    (status, body)
}

impl T {
    pub fn url(&self, path: &str) -> String {
        format!(
            "{}/api/session/data/postgresql/{path}",
            self.server.base_url()
        )
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        self.send(reqwest::Method::GET, path, None).await
    }

    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> (u16, Value) {
        parse(self.request(method, path, body).await).await
    }

    pub async fn request(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> reqwest::Response {
        let mut r = self
            .http
            .request(method, self.url(path))
            .header("Guacamole-Token", &self.token);
        if let Some(body) = body {
            r = r.json(body);
        }
        r.send().await.expect("request")
    }

    pub async fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        self.send(reqwest::Method::POST, path, Some(body)).await
    }

    pub async fn patch(&self, path: &str, body: &Value) -> (u16, Value) {
        self.send(reqwest::Method::PATCH, path, Some(body)).await
    }
}

/// Guacamole's error body on 1.6.0 (six fields).
pub fn err(message: &str, kind: &str) -> Value {
    json!({
        "message": message,
        "translatableMessage": {"key": "APP.TEXT_UNTRANSLATED", "variables": {"MESSAGE": message}},
        "statusCode": null, "expected": null, "patches": null, "type": kind
    })
}

pub fn conn(name: &str, parent: &str) -> Value {
    json!({"name": name, "parentIdentifier": parent, "protocol": "ssh", "parameters": {"hostname": "h"}, "attributes": {}})
}

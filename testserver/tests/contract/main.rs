//! Contract tests: one per behaviour of rest-api.md §1–§10, over real HTTP on
//! loopback, asserting status and exact body.
//!
//! One test binary: the helpers (a logged-in client, expected error bodies,
//! state builders) are here, the tests in one module per REST area.

mod auth;
mod connections;
mod directory_patch;
mod groups_and_permissions;
mod test_server;
mod users_sharing_history_schema;

use std::time::Duration;

use guacamole_testserver::state::{
    ActiveConnectionState, ConnectionGroupState, ConnectionState, HistoryState, ObjectPermission,
    SharingProfileState, UserGroupState, UserState,
};
use guacamole_testserver::{Config, Fault, FaultRule, RunningServer, State, start};
use serde_json::{Value, json};

struct T {
    server: RunningServer,
    http: reqwest::Client,
    token: String,
}

fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder().build().expect("client")
}

async fn with_config(config: Config) -> T {
    let server = start(config).await.expect("server starts");
    let http = client();
    let token = login(&http, server.base_url(), "guacadmin", "guacadmin").await;
    T {
        server,
        http,
        token,
    }
}

async fn setup(state: State) -> T {
    with_config(Config {
        state,
        prefix: "/guacamole".into(),
        ..Config::default()
    })
    .await
}

async fn login(http: &reqwest::Client, base: &str, user: &str, password: &str) -> String {
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

async fn parse(r: reqwest::Response) -> (u16, Value) {
    let status = r.status().as_u16();
    let text = r.text().await.expect("body");
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

impl T {
    fn url(&self, path: &str) -> String {
        format!(
            "{}/api/session/data/postgresql/{path}",
            self.server.base_url()
        )
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        parse(
            self.http
                .get(self.url(path))
                .header("Guacamole-Token", &self.token)
                .send()
                .await
                .expect("get"),
        )
        .await
    }

    async fn send(&self, method: reqwest::Method, path: &str, body: &Value) -> (u16, Value) {
        parse(
            self.http
                .request(method, self.url(path))
                .header("Guacamole-Token", &self.token)
                .json(body)
                .send()
                .await
                .expect("request"),
        )
        .await
    }

    async fn patch(&self, path: &str, body: Value) -> (u16, Value) {
        self.send(reqwest::Method::PATCH, path, &body).await
    }
}

fn err(message: &str, kind: &str) -> Value {
    json!({
        "message": message,
        "translatableMessage": {"key": "APP.TEXT_UNTRANSLATED", "variables": {"MESSAGE": message}},
        "statusCode": null, "expected": null, "patches": null, "type": kind
    })
}

fn conn(name: &str, parent: &str) -> Value {
    json!({"name": name, "parentIdentifier": parent, "protocol": "ssh", "parameters": {"hostname": "h"}, "attributes": {}})
}

fn add(value: &Value) -> Value {
    json!({"op": "add", "path": "/", "value": value})
}

fn state_with(f: impl FnOnce(&mut State)) -> State {
    let mut s = State::default();
    f(&mut s);
    s
}

fn connection(id: &str, name: &str, parent: &str) -> ConnectionState {
    ConnectionState {
        identifier: id.into(),
        name: name.into(),
        parent_identifier: parent.into(),
        protocol: "ssh".into(),
        parameters: [
            ("hostname".to_owned(), "h".to_owned()),
            ("password".to_owned(), "pw".to_owned()),
        ]
        .into(),
        attributes: std::collections::BTreeMap::default(),
    }
}

fn group(id: &str, name: &str, parent: &str) -> ConnectionGroupState {
    ConnectionGroupState {
        identifier: id.into(),
        name: name.into(),
        parent_identifier: parent.into(),
        group_type: "ORGANIZATIONAL".into(),
        attributes: std::collections::BTreeMap::default(),
    }
}

fn user(name: &str) -> UserState {
    UserState {
        username: name.into(),
        password: Some("pw".into()),
        disabled: false,
        attributes: std::collections::BTreeMap::default(),
        permissions: guacamole_testserver::state::Permissions::default(),
        last_active: None,
        totp_secret: None,
    }
}

/// Two levels of groups, three connections and a sharing profile: the tree
/// most areas' tests read.
fn nested() -> State {
    state_with(|s| {
        s.connection_groups = vec![
            group("1", "Prod", "ROOT"),
            group("2", "Web", "1"),
            group("3", "Empty", "ROOT"),
        ];
        s.connections = vec![
            connection("1", "top", "ROOT"),
            connection("2", "web-1", "2"),
            connection("3", "web-2", "2"),
        ];
        s.sharing_profiles = vec![SharingProfileState {
            identifier: "1".into(),
            name: "ro".into(),
            primary_connection_identifier: "2".into(),
            parameters: [("read-only".to_owned(), "true".to_owned())].into(),
        }];
    })
}

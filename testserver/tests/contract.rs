//! Contract tests: one per behaviour of rest-api.md §1–§10, over real HTTP on
//! loopback, asserting status and exact body.

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

// ------------------------------------------------------------------ §1 auth

#[tokio::test]
async fn s1_login_response_fields() {
    let t = setup(State::default()).await;
    let r = t
        .http
        .post(format!("{}/api/tokens", t.server.base_url()))
        .form(&[("username", "guacadmin"), ("password", "guacadmin")])
        .send()
        .await
        .expect("post");
    let (status, v) = parse(r).await;
    assert_eq!(status, 200);
    let token = v["authToken"].as_str().expect("token");
    assert_eq!(token.len(), 64);
    assert!(
        token
            .chars()
            .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase())
    );
    assert_eq!(v["username"], "guacadmin");
    assert_eq!(v["dataSource"], "postgresql");
    assert_eq!(
        v["availableDataSources"],
        json!(["postgresql", "postgresql-shared"])
    );
}

#[tokio::test]
async fn s1_bad_credentials_403_invalid_login_with_expected_fields() {
    let t = setup(State::default()).await;
    let r = t
        .http
        .post(format!("{}/api/tokens", t.server.base_url()))
        .form(&[("username", "guacadmin"), ("password", "nope")])
        .send()
        .await
        .expect("post");
    let (status, v) = parse(r).await;
    assert_eq!(status, 403);
    assert_eq!(
        v,
        json!({"message":"Invalid login",
            "translatableMessage":{"key":"APP.TEXT_UNTRANSLATED","variables":{"MESSAGE":"Invalid login"}},
            "statusCode":null,
            "expected":[{"name":"username","type":"USERNAME"},{"name":"password","type":"PASSWORD"}],
            "patches":null,"type":"INVALID_CREDENTIALS"})
    );
}

#[tokio::test]
async fn s1_basic_auth_fallback_and_reauth_with_token_returns_same_token() {
    let t = setup(State::default()).await;
    let base = t.server.base_url();
    let r = t
        .http
        .post(format!("{base}/api/tokens"))
        .basic_auth("guacadmin", Some("guacadmin"))
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 200);
    let r = t
        .http
        .post(format!("{base}/api/tokens"))
        .form(&[("token", t.token.as_str())])
        .send()
        .await
        .expect("post");
    let (_, v) = parse(r).await;
    assert_eq!(v["authToken"], json!(t.token));
}

#[tokio::test]
async fn s1_disabled_user_gets_invalid_login() {
    let t = setup(state_with(|s| {
        let mut u = user("bob");
        u.disabled = true;
        s.users.push(u);
    }))
    .await;
    let r = t
        .http
        .post(format!("{}/api/tokens", t.server.base_url()))
        .form(&[("username", "bob"), ("password", "pw")])
        .send()
        .await
        .expect("post");
    let (status, v) = parse(r).await;
    assert_eq!(
        (status, v["type"].clone()),
        (403, json!("INVALID_CREDENTIALS"))
    );
}

#[tokio::test]
async fn s1_token_in_header_any_case_or_query() {
    let t = setup(State::default()).await;
    let url = t.url("connections");
    let r = t
        .http
        .get(&url)
        .header("guacamole-token", &t.token)
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), 200);
    let r = t
        .http
        .get(format!("{url}?token={}", t.token))
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), 200);
    // An empty header falls back to the query parameter.
    let r = t
        .http
        .get(format!("{url}?token={}", t.token))
        .header("Guacamole-Token", "")
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn s1_missing_or_invalid_token_is_403_permission_denied() {
    let t = setup(State::default()).await;
    for token in [None, Some("0000")] {
        let mut req = t.http.get(t.url("connections"));
        if let Some(tok) = token {
            req = req.header("Guacamole-Token", tok);
        }
        let (status, v) = parse(req.send().await.expect("get")).await;
        assert_eq!(status, 403);
        assert_eq!(v, err("Permission Denied.", "PERMISSION_DENIED"));
    }
}

#[tokio::test]
async fn s1_idle_sessions_expire() {
    let t = with_config(Config {
        session_timeout: Duration::from_millis(300),
        ..Config::default()
    })
    .await;
    assert_eq!(t.get("connections").await.0, 200);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        t.get("connections").await.0,
        200,
        "access refreshes the idle time"
    );
    tokio::time::sleep(Duration::from_millis(450)).await;
    assert_eq!(
        t.get("connections").await,
        (403, err("Permission Denied.", "PERMISSION_DENIED"))
    );
}

#[tokio::test]
async fn s1_logout_204_then_404_no_such_token() {
    let t = setup(State::default()).await;
    let url = format!("{}/api/tokens/{}", t.server.base_url(), t.token);
    assert_eq!(
        t.http.delete(&url).send().await.expect("delete").status(),
        204
    );
    let (status, v) = parse(t.http.delete(&url).send().await.expect("delete")).await;
    assert_eq!((status, v), (404, err("No such token.", "NOT_FOUND")));
    assert_eq!(t.get("connections").await.0, 403);
}

#[tokio::test]
async fn s1_session_head_and_delete() {
    let t = setup(State::default()).await;
    let url = format!("{}/api/session", t.server.base_url());
    assert_eq!(
        t.http
            .head(&url)
            .header("Guacamole-Token", &t.token)
            .send()
            .await
            .expect("head")
            .status(),
        204
    );
    assert_eq!(
        t.http
            .delete(&url)
            .header("Guacamole-Token", &t.token)
            .send()
            .await
            .expect("delete")
            .status(),
        204
    );
    assert_eq!(
        t.http
            .head(&url)
            .header("Guacamole-Token", &t.token)
            .send()
            .await
            .expect("head")
            .status(),
        403
    );
}

#[tokio::test]
async fn s1_unknown_data_source_404_and_shared_source_empty() {
    let t = setup(State::default()).await;
    let url = format!("{}/api/session/data/mysql/connections", t.server.base_url());
    let (status, v) = parse(
        t.http
            .get(url)
            .header("Guacamole-Token", &t.token)
            .send()
            .await
            .expect("get"),
    )
    .await;
    assert_eq!(
        (status, v),
        (
            404,
            err(
                "Session not associated with authentication provider \"mysql\".",
                "NOT_FOUND"
            )
        )
    );
    let url = format!(
        "{}/api/session/data/postgresql-shared/connections",
        t.server.base_url()
    );
    let (status, v) = parse(
        t.http
            .get(url)
            .header("Guacamole-Token", &t.token)
            .send()
            .await
            .expect("get"),
    )
    .await;
    assert_eq!((status, v), (200, json!({})));
}

// ------------------------------------------------------------------ §2 errors

#[tokio::test]
async fn s2_unknown_paths_have_no_api_error_body() {
    let t = setup(State::default()).await;
    let (status, v) = t.get("nonsense").await;
    assert_eq!(status, 404);
    assert!(v.is_string());
}

#[tokio::test]
async fn s2_malformed_json_is_400_without_api_error() {
    let t = setup(State::default()).await;
    let r = t
        .http
        .patch(t.url("connections"))
        .header("Guacamole-Token", &t.token)
        .body("[{")
        .send()
        .await
        .expect("patch");
    let (status, v) = parse(r).await;
    assert_eq!(status, 400);
    assert!(v.is_string(), "{v}");
}

// ------------------------------------------------------------------ §3 connections

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

#[tokio::test]
async fn s3_connection_map_has_all_jdbc_attributes_and_no_parameters() {
    let t = setup(state_with(|s| {
        let mut c = connection("7", "web01", "ROOT");
        c.attributes.insert("failover-only".into(), "true".into());
        c.attributes.insert("x-arbitrary".into(), "kept".into());
        s.connections = vec![c];
        s.history = vec![HistoryState {
            identifier: "1".into(),
            connection_identifier: Some("7".into()),
            connection_name: "web01".into(),
            username: "guacadmin".into(),
            start_date: 1_717_171_717_000,
            end_date: Some(1_717_172_717_000),
            remote_host: None,
            uuid: None,
        }];
    }))
    .await;
    let (status, v) = t.get("connections").await;
    assert_eq!(status, 200);
    assert_eq!(
        v,
        json!({"7": {"name":"web01","identifier":"7","parentIdentifier":"ROOT","protocol":"ssh",
            "attributes":{"max-connections":null,"max-connections-per-user":null,"guacd-hostname":null,
                "guacd-port":null,"guacd-encryption":null,"weight":null,"failover-only":"true","x-arbitrary":"kept"},
            "activeConnections":0,"lastActive":1_717_171_717_000_i64}})
    );
}

#[tokio::test]
async fn s3_get_one_and_404_for_missing_or_non_numeric() {
    let t = setup(nested()).await;
    let (status, v) = t.get("connections/2").await;
    assert_eq!(
        (status, v["name"].clone(), v.get("lastActive")),
        (200, json!("web-1"), None)
    );
    for id in ["99", "abc"] {
        assert_eq!(
            t.get(&format!("connections/{id}")).await,
            (404, err(&format!("Not found: \"{id}\""), "NOT_FOUND"))
        );
    }
}

#[tokio::test]
async fn s3_parameters_plaintext_for_admin_denied_without_update() {
    let t = setup(state_with(|s| {
        s.connections = vec![connection("1", "a", "ROOT")];
        let mut bob = user("bob");
        bob.permissions
            .connection_permissions
            .insert("1".into(), [ObjectPermission::Read].into());
        s.users.push(bob);
    }))
    .await;
    assert_eq!(
        t.get("connections/1/parameters").await,
        (200, json!({"hostname": "h", "password": "pw"}))
    );
    let bob = login(&t.http, t.server.base_url(), "bob", "pw").await;
    let r = t
        .http
        .get(t.url("connections/1/parameters"))
        .header("Guacamole-Token", bob)
        .send()
        .await
        .expect("get");
    assert_eq!(
        parse(r).await,
        (
            403,
            err(
                "Permission to read connection parameters denied.",
                "PERMISSION_DENIED"
            )
        )
    );
}

#[tokio::test]
async fn s3_post_echoes_with_identifier_and_filtered_attributes() {
    let t = setup(State::default()).await;
    let body = json!({"parentIdentifier":"ROOT","name":"web01","protocol":"rdp","parameters":{"hostname":"h","password":"s"},"attributes":{"weight":"2","bogus":"x"}});
    let (status, v) = t.send(reqwest::Method::POST, "connections", &body).await;
    assert_eq!(status, 200);
    assert_eq!(v["identifier"], "1");
    assert_eq!(v["parameters"], json!({"hostname":"h","password":"s"}));
    assert_eq!(v["attributes"], json!({"weight":"2"}));
    // The creator holds every object permission on it.
    let (_, perms) = t.get("self/permissions").await;
    assert_eq!(
        perms["connectionPermissions"]["1"],
        json!(["READ", "UPDATE", "DELETE", "ADMINISTER"])
    );
}

#[tokio::test]
async fn s3_post_validation_in_order() {
    let t = setup(state_with(|s| {
        s.connections = vec![connection("1", "dup", "ROOT")];
    }))
    .await;
    let long = "x".repeat(4097);
    let cases = [
        (
            json!({"name":"a","parentIdentifier":"ROOT","protocol":"ssh","parameters":{"hostname":long},"attributes":{}}),
            413,
            json!({"message":"The value provided for connection parameter \"hostname\" exceeds the maximum allowed length.",
                "translatableMessage":{"key":"CONNECTION_PARAMETERS.DATABASE_PARAMETER_VALUE_TOO_LONG","variables":{"MAX_SIZE":4096,"PARAMETER_NAME":"hostname"}},
                "statusCode":null,"expected":null,"patches":null,"type":"BAD_REQUEST"}),
        ),
        (
            json!({"name":"  ","parentIdentifier":"ROOT","protocol":"ssh","parameters":{},"attributes":{}}),
            400,
            err("Connection names must not be blank.", "BAD_REQUEST"),
        ),
        (
            json!({"name":"dup","parentIdentifier":"ROOT","protocol":"ssh","parameters":{},"attributes":{}}),
            400,
            err("The connection \"dup\" already exists.", "BAD_REQUEST"),
        ),
        (
            json!({"name":"a","parentIdentifier":"ROOT","protocol":"ssh","parameters":{}}),
            500,
            err("Unexpected internal error", "INTERNAL_ERROR"),
        ),
        (
            json!({"name":"a","parentIdentifier":"42","protocol":"ssh","parameters":{},"attributes":{}}),
            500,
            err("Unexpected internal error", "INTERNAL_ERROR"),
        ),
        (
            json!({"name":"a","parentIdentifier":"ROOT","parameters":{},"attributes":{}}),
            500,
            err("Unexpected internal error", "INTERNAL_ERROR"),
        ),
    ];
    for (body, status, expected) in cases {
        assert_eq!(
            t.send(reqwest::Method::POST, "connections", &body).await,
            (status, expected),
            "{body}"
        );
    }
    let (status, v) = t
        .send(reqwest::Method::POST, "connections", &Value::Null)
        .await;
    assert_eq!(
        (status, v),
        (
            400,
            err(
                "Data must be submitted when creating objects.",
                "BAD_REQUEST"
            )
        )
    );
}

#[tokio::test]
async fn s3_put_is_full_replacement_and_needs_both_maps() {
    let t = setup(state_with(|s| {
        let mut c = connection("1", "a", "ROOT");
        c.attributes.insert("weight".into(), "3".into());
        c.attributes.insert("x-arb".into(), "kept".into());
        s.connections = vec![c];
    }))
    .await;
    let body = json!({"name":"b","parentIdentifier":"ROOT","protocol":"vnc","parameters":{"port":"5900","empty":""},"attributes":{"x-new":"dropped"}});
    assert_eq!(
        t.send(reqwest::Method::PUT, "connections/1", &body).await.0,
        204
    );
    let state = t.server.state();
    let c = &state.connections[0];
    assert_eq!((c.name.as_str(), c.protocol.as_str()), ("b", "vnc"));
    assert_eq!(
        c.parameters,
        [("port".to_owned(), "5900".to_owned())].into()
    );
    // Schema attributes absent from the map are cleared; arbitrary ones are kept;
    // unknown names in a PUT are filtered out.
    assert_eq!(
        c.attributes,
        [("x-arb".to_owned(), "kept".to_owned())].into()
    );
    for body in [
        json!({"name":"b","protocol":"vnc","attributes":{}}),
        json!({"name":"b","protocol":"vnc","parameters":{}}),
    ] {
        assert_eq!(
            t.send(reqwest::Method::PUT, "connections/1", &body).await,
            (500, err("Unexpected internal error", "INTERNAL_ERROR"))
        );
    }
}

#[tokio::test]
async fn s3_delete_cascades_and_missing_is_404() {
    let t = setup(nested()).await;
    let r = t
        .http
        .delete(t.url("connections/2"))
        .header("Guacamole-Token", &t.token)
        .send()
        .await
        .expect("delete");
    assert_eq!(r.status(), 204);
    let state = t.server.state();
    assert!(
        state.sharing_profiles.is_empty(),
        "sharing profiles cascade"
    );
    let r = t
        .http
        .delete(t.url("connections/2"))
        .header("Guacamole-Token", &t.token)
        .send()
        .await
        .expect("delete");
    assert_eq!(parse(r).await, (404, err("Not found: \"2\"", "NOT_FOUND")));
}

// ------------------------------------------------------------------ §4 directory PATCH

#[tokio::test]
async fn s4_patch_success_returns_outcomes_in_order() {
    let t = setup(state_with(|s| {
        s.connections = vec![
            connection("5", "old", "ROOT"),
            connection("6", "gone", "ROOT"),
        ];
    }))
    .await;
    let (status, v) = t
        .patch(
            "connections",
            json!([
                add(&conn("new", "ROOT")),
                {"op":"replace","path":"/5","value": conn("old", "ROOT")},
                {"op":"remove","path":"/6"}
            ]),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        v,
        json!({"patches":[
        {"op":"add","identifier":"7","path":"/"},
        {"op":"replace","identifier":"5","path":"/5"},
        {"op":"remove","identifier":"6","path":"/6"}]})
    );
}

#[tokio::test]
async fn s4_patch_second_add_duplicate_returns_400_with_outcomes_and_rolls_back() {
    let t = setup(state_with(|s| {
        s.connections = vec![
            connection("5", "keep", "ROOT"),
            connection("6", "gone", "ROOT"),
        ];
    }))
    .await;
    let before = t.server.state();
    let (status, v) = t
        .patch(
            "connections",
            json!([
                add(&conn("web01", "ROOT")),
                add(&conn("web01", "ROOT")),
                {"op":"replace","path":"/99","value": conn("x", "ROOT")},
                {"op":"replace","path":"/5","value": conn("keep", "ROOT")},
                {"op":"remove","path":"/6"}
            ]),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(
        v,
        json!({"message":"The provided patches failed to apply.",
        "translatableMessage":{"key":"APP.TEXT_UNTRANSLATED","variables":{"MESSAGE":"The provided patches failed to apply."}},
        "statusCode":null,"expected":null,
        "patches":[
            {"op":"add","identifier":null,"path":"/"},
            {"op":"add","identifier":null,"path":"/",
             "error":{"key":"APP.TEXT_UNTRANSLATED","variables":{"MESSAGE":"The connection \"web01\" already exists."}}},
            {"op":"replace","identifier":"99","path":"/99",
             "error":{"key":"APP.TEXT_UNTRANSLATED","variables":{"MESSAGE":"Not found: \"99\""}}},
            {"op":"replace","identifier":"5","path":"/5"},
            {"op":"remove","identifier":null,"path":"/6"}],
        "type":"BAD_REQUEST"})
    );
    let mut after = t.server.state();
    // The failed batch consumed no identifier either way; compare the data.
    after.next_ids = before.next_ids.clone();
    assert_eq!(after, before, "rolled back");
}

#[tokio::test]
async fn s4_remove_then_add_same_name_in_one_batch_works() {
    let t = setup(state_with(|s| {
        s.connections = vec![connection("1", "web", "ROOT")];
    }))
    .await;
    let (status, _) = t
        .patch(
            "connections",
            json!([{"op":"remove","path":"/1"}, add(&conn("web", "ROOT"))]),
        )
        .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn s4_other_ops_501_bad_path_400_null_path_500() {
    let t = setup(State::default()).await;
    let (status, v) = t
        .patch(
            "connections",
            json!([add(&conn("a", "ROOT")), {"op":"test","path":"/1","value":null}]),
        )
        .await;
    assert_eq!(
        (status, v),
        (
            501,
            err(
                "Unsupported patch operation \"test\". Only add, replace, and remove are supported.",
                "INTERNAL_ERROR"
            )
        )
    );
    assert!(t.server.state().connections.is_empty(), "rolled back");
    let (status, v) = t
        .patch("connections", json!([{"op":"remove","path":"1"}]))
        .await;
    assert_eq!(
        (status, v),
        (
            400,
            err("Patch paths must start with \"/\".", "BAD_REQUEST")
        )
    );
    let (status, v) = t.patch("connections", json!([{"op":"remove"}])).await;
    assert_eq!(
        (status, v),
        (500, err("Unexpected internal error", "INTERNAL_ERROR"))
    );
    let (status, _) = t
        .patch("connections", json!([{"op":"ADD","path":"/"}]))
        .await;
    assert_eq!(status, 400, "a wrong enum string fails in Jackson");
}

#[tokio::test]
async fn s4_add_without_attributes_aborts_whole_request_500() {
    let t = setup(State::default()).await;
    let (status, v) = t
        .patch(
            "connections",
            json!([
                add(&conn("a", "ROOT")),
                add(&json!({"name":"b","protocol":"ssh","parameters":{}}))
            ]),
        )
        .await;
    assert_eq!(
        (status, v),
        (500, err("Unexpected internal error", "INTERNAL_ERROR"))
    );
    assert!(t.server.state().connections.is_empty());
}

#[tokio::test]
async fn s4_attributes_filtered_on_add_not_on_replace() {
    let t = setup(State::default()).await;
    let mut value = conn("a", "ROOT");
    value["attributes"] = json!({"weight": "2", "x-arb": "1"});
    t.patch("connections", json!([add(&value.clone())])).await;
    assert_eq!(
        t.server.state().connections[0].attributes,
        [("weight".to_owned(), "2".to_owned())].into()
    );
    t.patch(
        "connections",
        json!([{"op":"replace","path":"/1","value": value}]),
    )
    .await;
    assert_eq!(
        t.server.state().connections[0].attributes,
        [
            ("weight".to_owned(), "2".to_owned()),
            ("x-arb".to_owned(), "1".to_owned())
        ]
        .into()
    );
}

#[tokio::test]
async fn s4_admin_remove_of_missing_numeric_succeeds_non_numeric_500() {
    let t = setup(State::default()).await;
    assert_eq!(
        t.patch("connections", json!([{"op":"remove","path":"/42"}]))
            .await,
        (
            200,
            json!({"patches":[{"op":"remove","identifier":"42","path":"/42"}]})
        )
    );
    assert_eq!(
        t.patch("connections", json!([{"op":"remove","path":"/abc"}]))
            .await,
        (500, err("Unexpected internal error", "INTERNAL_ERROR"))
    );
}

#[tokio::test]
async fn s4_non_admin_remove_of_missing_is_permission_denied() {
    let t = setup(state_with(|s| s.users.push(user("bob")))).await;
    let bob = login(&t.http, t.server.base_url(), "bob", "pw").await;
    let r = t
        .http
        .patch(t.url("connections"))
        .header("Guacamole-Token", bob)
        .json(&json!([{"op":"remove","path":"/42"}]))
        .send()
        .await
        .expect("patch");
    let (status, v) = parse(r).await;
    assert_eq!(status, 400);
    assert_eq!(
        v["patches"][0]["error"]["variables"]["MESSAGE"],
        "Permission denied."
    );
}

#[tokio::test]
async fn s4_users_patch_add_identifier_is_username_and_self_removal_fails() {
    let t = setup(State::default()).await;
    let (status, v) = t
        .patch(
            "users",
            json!([add(&json!({"username":"alice","attributes":{}}))]),
        )
        .await;
    assert_eq!(
        (status, v),
        (
            200,
            json!({"patches":[{"op":"add","identifier":"alice","path":"/"}]})
        )
    );
    let (status, v) = t
        .patch("users", json!([{"op":"remove","path":"/guacadmin"}]))
        .await;
    assert_eq!(status, 400);
    assert_eq!(
        v["patches"][0]["error"]["variables"]["MESSAGE"],
        "Deleting your own user is not allowed."
    );
    let (status, v) = t
        .patch(
            "userGroups",
            json!([add(&json!({"identifier":"ops","attributes":{}}))]),
        )
        .await;
    assert_eq!(
        (status, v),
        (
            200,
            json!({"patches":[{"op":"add","identifier":"ops","path":"/"}]})
        )
    );
}

#[tokio::test]
async fn s4_active_connections_add_501_replace_per_patch_remove_closes() {
    let t = setup(state_with(|s| {
        s.connections = vec![connection("1", "a", "ROOT")];
        s.active_connections = vec![ActiveConnectionState {
            identifier: "uuid-1".into(),
            connection_identifier: "1".into(),
            sharing_profile_identifier: None,
            start_date: 1,
            remote_host: Some("10.0.0.9".into()),
            username: "alice".into(),
        }];
    }))
    .await;
    let (status, v) = t.patch("activeConnections", json!([add(&json!({}))])).await;
    assert_eq!(
        (status, v),
        (
            501,
            err("Active connection records are read-only.", "INTERNAL_ERROR")
        )
    );
    let (status, v) = t
        .patch(
            "activeConnections",
            json!([{"op":"replace","path":"/uuid-1","value":{}}]),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(
        v["patches"][0]["error"]["variables"]["MESSAGE"],
        "Active connection records are read-only."
    );
    let (status, _) = t
        .patch(
            "activeConnections",
            json!([{"op":"remove","path":"/uuid-1"}, {"op":"remove","path":"/unknown"}]),
        )
        .await;
    assert_eq!(status, 200);
    assert!(t.server.state().active_connections.is_empty());
}

// ------------------------------------------------------------------ §5 groups

#[tokio::test]
async fn s5_group_map_excludes_root_root_is_special() {
    let t = setup(nested()).await;
    let (_, map) = t.get("connectionGroups").await;
    assert_eq!(
        map.as_object()
            .map(|m| m.keys().cloned().collect::<Vec<_>>()),
        Some(vec!["1".into(), "2".into(), "3".into()])
    );
    assert_eq!(
        map["1"],
        json!({"name":"Prod","identifier":"1","parentIdentifier":"ROOT","type":"ORGANIZATIONAL","activeConnections":0,
        "attributes":{"max-connections":null,"max-connections-per-user":null,"enable-session-affinity":""}})
    );
    assert_eq!(
        t.get("connectionGroups/ROOT").await,
        (
            200,
            json!({"name":"ROOT","identifier":"ROOT","type":"ORGANIZATIONAL","activeConnections":0,"attributes":{}})
        )
    );
}

#[tokio::test]
async fn s5_tree_of_a_nested_hierarchy() {
    let t = setup(nested()).await;
    let (status, tree) = t.get("connectionGroups/ROOT/tree").await;
    assert_eq!(status, 200);
    let attrs = json!({"max-connections":null,"max-connections-per-user":null,"guacd-hostname":null,"guacd-port":null,"guacd-encryption":null,"weight":null,"failover-only":null});
    let gattrs = json!({"max-connections":null,"max-connections-per-user":null,"enable-session-affinity":""});
    assert_eq!(
        tree,
        json!({"name":"ROOT","identifier":"ROOT","type":"ORGANIZATIONAL","activeConnections":0,"attributes":{},
        "childConnectionGroups":[
            {"name":"Prod","identifier":"1","parentIdentifier":"ROOT","type":"ORGANIZATIONAL","activeConnections":0,"attributes":gattrs,
             "childConnectionGroups":[
                {"name":"Web","identifier":"2","parentIdentifier":"1","type":"ORGANIZATIONAL","activeConnections":0,"attributes":gattrs,
                 "childConnections":[
                    {"name":"web-1","identifier":"2","parentIdentifier":"2","protocol":"ssh","attributes":attrs,"activeConnections":0,
                     "sharingProfiles":[{"name":"ro","identifier":"1","primaryConnectionIdentifier":"2","attributes":{}}]},
                    {"name":"web-2","identifier":"3","parentIdentifier":"2","protocol":"ssh","attributes":attrs,"activeConnections":0}]}]},
            {"name":"Empty","identifier":"3","parentIdentifier":"ROOT","type":"ORGANIZATIONAL","activeConnections":0,"attributes":gattrs}],
        "childConnections":[
            {"name":"top","identifier":"1","parentIdentifier":"ROOT","protocol":"ssh","attributes":attrs,"activeConnections":0}]})
    );
}

#[tokio::test]
async fn s5_group_rules_blank_duplicate_cycle_cascade() {
    let t = setup(nested()).await;
    let g = |name: &str, parent: &str| json!({"name":name,"parentIdentifier":parent,"type":"ORGANIZATIONAL","attributes":{}});
    let (_, v) = t.patch("connectionGroups", json!([add(&g(" ", "ROOT")), add(&g("Prod", "ROOT")), {"op":"replace","path":"/1","value":g("Prod","2")}])).await;
    let messages: Vec<Value> = v["patches"]
        .as_array()
        .expect("list")
        .iter()
        .map(|p| p["error"]["variables"]["MESSAGE"].clone())
        .collect();
    assert_eq!(
        messages,
        [
            json!("Connection group names must not be blank."),
            json!("The connection group \"Prod\" already exists."),
            json!("A connection group may not contain itself.")
        ]
    );
    let (status, _) = t
        .patch("connectionGroups", json!([{"op":"remove","path":"/1"}]))
        .await;
    assert_eq!(status, 200);
    let s = t.server.state();
    assert_eq!(
        s.connection_groups
            .iter()
            .map(|g| g.identifier.as_str())
            .collect::<Vec<_>>(),
        ["3"]
    );
    assert_eq!(
        s.connections
            .iter()
            .map(|c| c.identifier.as_str())
            .collect::<Vec<_>>(),
        ["1"]
    );
}

// ------------------------------------------------------------------ §6 permissions

#[tokio::test]
async fn s6_permissions_have_seven_keys_in_enum_order() {
    let t = setup(State::default()).await;
    let (status, v) = t.get("users/guacadmin/permissions").await;
    assert_eq!(status, 200);
    assert_eq!(
        v,
        json!({"connectionPermissions":{},"connectionGroupPermissions":{},"sharingProfilePermissions":{},
        "activeConnectionPermissions":{},"userPermissions":{"guacadmin":["READ","UPDATE","ADMINISTER"]},"userGroupPermissions":{},
        "systemPermissions":["CREATE_USER","CREATE_USER_GROUP","CREATE_CONNECTION","CREATE_CONNECTION_GROUP","CREATE_SHARING_PROFILE","ADMINISTER"]})
    );
    assert_eq!(t.get("self/permissions").await, (200, v));
}

#[tokio::test]
async fn s6_permission_patch_rules() {
    let t = setup(state_with(|s| {
        s.connections = vec![connection("1", "a", "ROOT")];
        s.users.push(user("bob"));
    }))
    .await;
    let p = |op: &str, path: &str, value: &str| json!({"op": op, "path": path, "value": value});
    assert_eq!(
        t.patch(
            "users/bob/permissions",
            json!([
                p("add", "/connectionPermissions/1", "READ"),
                p("add", "/userPermissions/nobody", "READ")
            ])
        )
        .await
        .0,
        204
    );
    let (_, v) = t.get("users/bob/permissions").await;
    assert_eq!(v["connectionPermissions"], json!({"1": ["READ"]}));
    assert_eq!(
        v["userPermissions"],
        json!({}),
        "a nonexistent user is ignored"
    );
    assert_eq!(
        t.patch(
            "users/bob/permissions",
            json!([p("replace", "/connectionPermissions/1", "READ")])
        )
        .await,
        (
            400,
            err("Unsupported patch operation: \"replace\"", "BAD_REQUEST")
        )
    );
    assert_eq!(
        t.patch(
            "users/bob/permissions",
            json!([p("add", "/connectionPermission/1", "READ")])
        )
        .await,
        (
            400,
            err(
                "Unsupported patch path: \"/connectionPermission/1\"",
                "BAD_REQUEST"
            )
        )
    );
    assert_eq!(
        t.patch(
            "users/bob/permissions",
            json!([p("add", "/connectionPermissions/1", "read")])
        )
        .await,
        (500, err("Unexpected internal error", "INTERNAL_ERROR"))
    );
    assert_eq!(
        t.patch(
            "users/bob/permissions",
            json!([p("add", "/connectionPermissions/99", "READ")])
        )
        .await,
        (500, err("Unexpected internal error", "INTERNAL_ERROR"))
    );
    // Idempotent: adding an existing permission and removing a missing one are no-ops.
    assert_eq!(
        t.patch(
            "users/bob/permissions",
            json!([
                p("add", "/connectionPermissions/1", "READ"),
                p("remove", "/connectionPermissions/1", "DELETE")
            ])
        )
        .await
        .0,
        204
    );
}

#[tokio::test]
async fn s6_permission_patch_later_step_failure_leaves_earlier_step_applied() {
    let t = setup(state_with(|s| {
        s.connections = vec![connection("1", "a", "ROOT")];
        s.users.push(user("bob"));
    }))
    .await;
    // Step 1 (connections) succeeds; step 7 (system) fails: nobody removes their own.
    let (status, v) = t
        .patch(
            "self/permissions",
            json!([
                {"op":"add","path":"/connectionPermissions/1","value":"UPDATE"},
                {"op":"remove","path":"/systemPermissions","value":"CREATE_USER"}
            ]),
        )
        .await;
    assert_eq!(
        (status, v),
        (
            501,
            err(
                "Removing your own administrative permissions is not allowed.",
                "INTERNAL_ERROR"
            )
        )
    );
    let (_, perms) = t.get("self/permissions").await;
    assert_eq!(
        perms["connectionPermissions"]["1"],
        json!(["UPDATE"]),
        "earlier step stays applied"
    );
    // A parse error in any patch means nothing is applied.
    assert_eq!(t.patch("users/bob/permissions", json!([{"op":"add","path":"/connectionPermissions/1","value":"READ"}, {"op":"add","path":"/bogus","value":"READ"}])).await.0, 400);
    assert!(
        t.server
            .state()
            .users
            .iter()
            .find(|u| u.username == "bob")
            .is_some_and(|u| u.permissions.connection_permissions.is_empty())
    );
}

#[tokio::test]
async fn s6_non_admin_needs_update_and_administer_to_change_permissions() {
    let t = setup(state_with(|s| {
        s.connections = vec![connection("1", "a", "ROOT")];
        let mut bob = user("bob");
        // bob may see and update carol, but does not administer connection 1.
        bob.permissions.user_permissions.insert(
            "carol".into(),
            [ObjectPermission::Read, ObjectPermission::Update].into(),
        );
        s.users.push(bob);
        s.users.push(user("carol"));
    }))
    .await;
    let bob = login(&t.http, t.server.base_url(), "bob", "pw").await;
    let r = t
        .http
        .patch(t.url("users/carol/permissions"))
        .header("Guacamole-Token", &bob)
        .json(&json!([{"op":"add","path":"/connectionPermissions/1","value":"READ"}]))
        .send()
        .await
        .expect("patch");
    assert_eq!(
        parse(r).await,
        (403, err("Permission denied.", "PERMISSION_DENIED"))
    );
}

#[tokio::test]
async fn s6_memberships_get_and_patch() {
    let t = setup(state_with(|s| {
        s.users.push(user("alice"));
        s.user_groups = vec![UserGroupState {
            identifier: "ops".into(),
            disabled: false,
            attributes: std::collections::BTreeMap::default(),
            member_users: std::collections::BTreeSet::default(),
            member_user_groups: std::collections::BTreeSet::default(),
            permissions: guacamole_testserver::state::Permissions::default(),
        }];
    }))
    .await;
    assert_eq!(
        t.patch(
            "userGroups/ops/memberUsers",
            json!([{"op":"add","path":"/","value":"alice"},{"op":"add","path":"/","value":"ghost"}])
        )
        .await
        .0,
        204
    );
    assert_eq!(
        t.get("userGroups/ops/memberUsers").await,
        (200, json!(["alice"]))
    );
    assert_eq!(t.get("users/alice/userGroups").await, (200, json!(["ops"])));
    assert_eq!(
        t.patch(
            "userGroups/ops/memberUsers",
            json!([{"op":"add","path":"/x","value":"alice"}])
        )
        .await,
        (400, err("Unsupported patch path: \"/x\"", "BAD_REQUEST"))
    );
    assert_eq!(
        t.patch(
            "userGroups/ops/memberUsers",
            json!([{"op":"replace","path":"/","value":"alice"}])
        )
        .await,
        (
            400,
            err("Unsupported patch operation: \"replace\"", "BAD_REQUEST")
        )
    );
}

// ------------------------------------------------------------------ §7 users

#[tokio::test]
async fn s7_user_shape_create_and_put() {
    let t = setup(State::default()).await;
    let (status, _) = t.send(reqwest::Method::POST, "users", &json!({"username":"alice","password":"pw","disabled":true,"attributes":{"guac-full-name":"Alice","bogus":"x"}})).await;
    assert_eq!(status, 200);
    let (_, v) = t.get("users/alice").await;
    assert_eq!(
        v,
        json!({"username":"alice","disabled":false,"attributes":{"guac-full-name":"Alice","guac-email-address":null,
        "guac-organization":null,"guac-organizational-role":null,"expired":null,"access-window-start":null,
        "access-window-end":null,"valid-from":null,"valid-until":null,"timezone":null}}),
        "disabled is ignored on create"
    );
    assert_eq!(
        t.send(
            reqwest::Method::PUT,
            "users/alice",
            &json!({"username":"x","disabled":true,"attributes":{}})
        )
        .await
        .0,
        204
    );
    assert_eq!(t.get("users/alice").await.1["disabled"], true);
    let (status, v) = t
        .send(
            reqwest::Method::POST,
            "users",
            &json!({"username":"alice","attributes":{}}),
        )
        .await;
    assert_eq!(
        (status, v),
        (400, err("User \"alice\" already exists.", "BAD_REQUEST"))
    );
    assert_eq!(
        t.get("users/ghost").await,
        (404, err("Not found: \"ghost\"", "NOT_FOUND"))
    );
    // A new user can read itself; its creator holds every permission on it.
    let (_, perms) = t.get("users/alice/permissions").await;
    assert_eq!(perms["userPermissions"], json!({"alice":["READ"]}));
}

#[tokio::test]
async fn s7_non_admin_sees_only_readable_objects() {
    let t = setup(state_with(|s| {
        s.connections = vec![
            connection("1", "mine", "ROOT"),
            connection("2", "other", "ROOT"),
        ];
        let mut bob = user("bob");
        bob.permissions
            .connection_permissions
            .insert("1".into(), [ObjectPermission::Read].into());
        s.users.push(bob);
    }))
    .await;
    let bob = login(&t.http, t.server.base_url(), "bob", "pw").await;
    let get = |path: &str| {
        t.http
            .get(t.url(path))
            .header("Guacamole-Token", bob.clone())
            .send()
    };
    let (_, v) = parse(get("connections").await.expect("get")).await;
    assert_eq!(
        v.as_object().map(|m| m.keys().cloned().collect::<Vec<_>>()),
        Some(vec!["1".to_owned()])
    );
    let (_, v) = parse(get("connections?permission=UPDATE").await.expect("get")).await;
    assert_eq!(v, json!({}));
    let (status, _) = parse(get("connections/2").await.expect("get")).await;
    assert_eq!(status, 404);
    let r = t
        .http
        .post(t.url("connections"))
        .header("Guacamole-Token", &bob)
        .json(&conn("x", "ROOT"))
        .send()
        .await
        .expect("post");
    assert_eq!(
        parse(r).await,
        (403, err("Permission denied.", "PERMISSION_DENIED"))
    );
    let (_, users) = parse(get("users").await.expect("get")).await;
    assert_eq!(
        users
            .as_object()
            .map(|m| m.keys().cloned().collect::<Vec<_>>()),
        Some(vec!["bob".to_owned()])
    );
    // A grant made now is seen by bob's next request (permissions are not cached
    // across writes), and so is a revocation.
    let grant = |op: &str| json!([{"op": op, "path": "/connectionPermissions/2", "value": "READ"}]);
    assert_eq!(t.patch("users/bob/permissions", grant("add")).await.0, 204);
    let (status, _) = parse(get("connections/2").await.expect("get")).await;
    assert_eq!(status, 200);
    assert_eq!(
        t.patch("users/bob/permissions", grant("remove")).await.0,
        204
    );
    let (status, _) = parse(get("connections/2").await.expect("get")).await;
    assert_eq!(status, 404);
}

// ------------------------------------------------------------------ §8, §9, §10

#[tokio::test]
async fn s8_sharing_profiles() {
    let t = setup(nested()).await;
    assert_eq!(
        t.get("sharingProfiles").await,
        (
            200,
            json!({"1":{"name":"ro","identifier":"1","primaryConnectionIdentifier":"2","attributes":{}}})
        )
    );
    assert_eq!(
        t.get("sharingProfiles/1/parameters").await,
        (200, json!({"read-only":"true"}))
    );
    assert_eq!(
        t.get("connections/2/sharingProfiles").await.1["1"]["name"],
        "ro"
    );
    let (status, v) = t.patch("sharingProfiles", json!([add(&json!({"name":"ro","primaryConnectionIdentifier":"2","parameters":{},"attributes":{}}))])).await;
    assert_eq!(status, 400);
    assert_eq!(
        v["patches"][0]["error"]["variables"]["MESSAGE"],
        "The sharing profile \"ro\" already exists."
    );
}

#[tokio::test]
async fn s9_active_connections_and_history() {
    let t = setup(state_with(|s| {
        s.connections = vec![connection("1", "web01", "ROOT")];
        s.active_connections = vec![ActiveConnectionState {
            identifier: "6f1c".into(),
            connection_identifier: "1".into(),
            sharing_profile_identifier: None,
            start_date: 1_717_171_717_000,
            remote_host: Some("10.0.0.9".into()),
            username: "alice".into(),
        }];
        s.history = (1..=3)
            .map(|i| HistoryState {
                identifier: i.to_string(),
                connection_identifier: Some("1".into()),
                connection_name: "web01".into(),
                username: if i == 2 { "bob".into() } else { "alice".into() },
                start_date: i64::from(i) * 1000,
                end_date: Some(i64::from(i) * 1000 + 5),
                remote_host: None,
                uuid: None,
            })
            .collect();
    }))
    .await;
    assert_eq!(
        t.get("activeConnections").await,
        (
            200,
            json!({"6f1c":{"identifier":"6f1c","connectionIdentifier":"1","sharingProfileIdentifier":null,
        "startDate":1_717_171_717_000_i64,"remoteHost":"10.0.0.9","username":"alice","connectable":true}})
        )
    );
    assert_eq!(t.get("connections/1").await.1["activeConnections"], 1);
    let (_, list) = t
        .get("history/connections?order=startDate&contains=alice")
        .await;
    let ids: Vec<&str> = list
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|r| r["identifier"].as_str())
        .collect();
    assert_eq!(ids, ["1", "3"]);
    assert_eq!(
        t.get("history/connections?order=name").await,
        (400, err("Invalid sort property: \"name\"", "BAD_REQUEST"))
    );
    let (_, list) = t.get("connections/1/history").await;
    assert_eq!(list[0]["identifier"], "3", "newest first");
    assert_eq!(list[0]["sharingProfileName"], Value::Null);
}

#[tokio::test]
async fn s10_schema_endpoints() {
    let t = setup(State::default()).await;
    let (_, forms) = t.get("schema/connectionAttributes").await;
    assert_eq!(
        forms[0],
        json!({"name":"concurrency","fields":[{"name":"max-connections","type":"NUMERIC"},{"name":"max-connections-per-user","type":"NUMERIC"}]})
    );
    let (_, protocols) = t.get("schema/protocols").await;
    assert_eq!(protocols.as_object().map(serde_json::Map::len), Some(5));
    assert_eq!(
        protocols["ssh"]["sharingProfileForms"][0]["fields"][0]["name"],
        "read-only"
    );
    assert_eq!(t.get("schema/userGroupAttributes").await, (200, json!([])));
}

#[tokio::test]
async fn s10_unparseable_numeric_attributes_become_null() {
    let t = setup(State::default()).await;
    let mut value = conn("a", "ROOT");
    value["attributes"] = json!({"max-connections": "many", "failover-only": "TRUE", "guacd-encryption": "tls", "weight": "5"});
    t.patch("connections", json!([add(&value)])).await;
    assert_eq!(
        t.server.state().connections[0].attributes,
        [("weight".to_owned(), "5".to_owned())].into()
    );
}

// ------------------------------------------------------------------ body limit, hooks

#[tokio::test]
async fn body_limit_413_request_entity_too_large() {
    let t = with_config(Config {
        body_limit: 1000,
        ..Config::default()
    })
    .await;
    let big = json!([add(
        &json!({"name": "x".repeat(2000), "protocol":"ssh","parameters":{},"attributes":{}})
    )]);
    assert_eq!(
        t.patch("connections", big).await,
        (413, err("Request body/entity too large.", "BAD_REQUEST"))
    );
}

#[tokio::test]
async fn hooks_faults_and_request_log() {
    let t = setup(State::default()).await;
    t.server.clear_requests();
    t.server.set_faults(vec![
        FaultRule::nth(
            1,
            Fault::Status {
                code: 503,
                message: None,
            },
        ),
        FaultRule::on(
            "PATCH",
            "/connections",
            Fault::PatchError {
                index: 0,
                message: Some("boom".into()),
            },
        ),
    ]);
    assert_eq!(t.get("connections").await.0, 503);
    assert_eq!(t.get("connections").await.0, 200);
    let (status, v) = t
        .patch("connections", json!([add(&conn("a", "ROOT"))]))
        .await;
    assert_eq!(status, 400);
    assert_eq!(v["patches"][0]["error"]["variables"]["MESSAGE"], "boom");
    let log = t.server.requests();
    assert_eq!(
        log.iter().map(|r| r.method.as_str()).collect::<Vec<_>>(),
        ["GET", "GET", "PATCH"]
    );
    assert_eq!(log[2].path, "/api/session/data/postgresql/connections");
    assert!(log[2].body.contains("\"a\""));
    // Expire-token and drop.
    t.server
        .set_faults(vec![FaultRule::nth(1, Fault::ExpireToken)]);
    assert_eq!(t.get("connections").await.0, 403);
    let token = login(&t.http, t.server.base_url(), "guacadmin", "guacadmin").await;
    t.server.set_faults(vec![FaultRule::nth(1, Fault::Drop)]);
    let dropped = t
        .http
        .get(t.url("connections"))
        .header("Guacamole-Token", &token)
        .send()
        .await;
    assert!(
        dropped.is_err(),
        "the connection is closed without an answer"
    );
    // The same hooks over HTTP.
    let hook = |p: &str| format!("{}/__test/{p}", t.server.base_url());
    assert_eq!(
        t.http
            .post(hook("expire-tokens"))
            .send()
            .await
            .expect("hook")
            .status(),
        204
    );
    let r = t
        .http
        .get(t.url("connections"))
        .header("Guacamole-Token", &token)
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), 403);
    let state: Value = t
        .http
        .get(hook("state"))
        .send()
        .await
        .expect("hook")
        .json()
        .await
        .expect("json");
    assert_eq!(state["users"][0]["username"], "guacadmin");
    let r = t
        .http
        .post(hook("faults"))
        .json(&json!({"method":"GET","path":"/tokens","fault":{"kind":"latency","ms":1}}))
        .send()
        .await
        .expect("hook");
    assert_eq!(r.status(), 204);
}

#[tokio::test]
async fn latency_applies_per_request() {
    let t = with_config(Config {
        latency: Duration::from_millis(150),
        ..Config::default()
    })
    .await;
    let start = std::time::Instant::now();
    t.get("connections").await;
    assert!(start.elapsed() >= Duration::from_millis(150));
}

#[tokio::test]
async fn sixty_four_clients_at_once() {
    let t = setup(state_with(|s| {
        s.connections = (1..=200)
            .map(|i| connection(&i.to_string(), &format!("c{i}"), "ROOT"))
            .collect();
    }))
    .await;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..64u32 {
        let http = client();
        let base = t.server.base_url().to_owned();
        tasks.spawn(async move {
            let token = login(&http, &base, "guacadmin", "guacadmin").await;
            let url = format!("{base}/api/session/data/postgresql/");
            for j in 0..10u32 {
                let id = (i * 10 + j) % 200 + 1;
                let r = http.get(format!("{url}connections/{id}/parameters")).header("Guacamole-Token", &token).send().await.expect("get");
                assert_eq!(r.status(), 200);
            }
            let body = json!([add(&json!({"name": format!("new-{i}"), "parentIdentifier":"ROOT","protocol":"ssh","parameters":{},"attributes":{}}))]);
            let r = http.patch(format!("{url}connections")).header("Guacamole-Token", &token).json(&body).send().await.expect("patch");
            assert_eq!(r.status(), 200);
        });
    }
    while let Some(r) = tasks.join_next().await {
        r.expect("client task");
    }
    assert_eq!(t.server.state().connections.len(), 264);
}

#[tokio::test]
async fn tls_with_a_generated_certificate() {
    let key = rcgen::KeyPair::generate().expect("key");
    let params = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).expect("params");
    let cert = params.self_signed(&key).expect("cert");
    let server = start(Config {
        tls: Some(guacamole_testserver::TlsConfig {
            cert_chain_pem: cert.pem().into_bytes(),
            key_pem: key.serialize_pem().into_bytes(),
        }),
        ..Config::default()
    })
    .await
    .expect("starts");
    assert!(server.base_url().starts_with("https://"));
    let url = format!("https://localhost:{}/api/tokens", server.addr().port());
    let _ = rustls::crypto::ring::default_provider().install_default();
    let trusting = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(cert.pem().as_bytes()).expect("pem")])
        .build()
        .expect("client");
    let r = trusting
        .post(&url)
        .form(&[("username", "guacadmin"), ("password", "guacadmin")])
        .send()
        .await
        .expect("TLS login");
    assert_eq!(r.status(), 200);
    let untrusting = reqwest::Client::builder()
        .tls_certs_only([])
        .build()
        .expect("client");
    assert!(
        untrusting.post(&url).send().await.is_err(),
        "an unknown CA is refused"
    );
}

#[test]
fn binary_prints_its_listening_line_and_stops_on_sigterm() {
    use std::io::BufRead as _;
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("state.json");
    std::fs::write(&path, State::default().to_json_pretty()).expect("write");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_guacamole-testserver"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--prefix",
            "/guacamole",
            "--state",
        ])
        .arg(&path)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("line");
    assert!(
        line.starts_with("listening on http://127.0.0.1:")
            && line.trim_end().ends_with("/guacamole"),
        "{line}"
    );
    let pid = child.id().to_string();
    std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill");
    let status = child.wait().expect("exit");
    assert!(status.success(), "{status}");
}

#[test]
fn state_round_trips_and_is_checked() {
    let s = nested();
    let text = s.to_json_pretty();
    let back: State = serde_json::from_str(&text).expect("parses");
    assert_eq!(back, s);
    let mut bad = nested();
    bad.connections[0].parent_identifier = "42".into();
    assert!(guacamole_testserver::store::Store::from_state(&bad).is_err());
}

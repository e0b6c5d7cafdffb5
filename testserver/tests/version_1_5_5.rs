//! Contract tests of `--guacamole-version 1.5.5`: each difference from 1.6.0 that
//! docs/guacamole-versions.md lists with its source, over real HTTP.

mod support;

use std::collections::BTreeMap;

use guacamole_testserver::state::{ConnectionState, UserGroupState, UserState};
use guacamole_testserver::{Config, Fault, FaultRule, GuacamoleVersion, State};
use serde_json::{Value, json};
use support::{T, conn, err, parse_full, with_config};

fn connection(id: &str, name: &str) -> ConnectionState {
    ConnectionState {
        identifier: id.into(),
        name: name.into(),
        parent_identifier: "ROOT".into(),
        protocol: "ssh".into(),
        parameters: [("hostname".to_owned(), "h".to_owned())].into(),
        attributes: BTreeMap::new(),
    }
}

fn three_connections() -> State {
    State {
        connections: vec![
            connection("1", "a"),
            connection("2", "b"),
            connection("3", "c"),
        ],
        ..State::default()
    }
}

async fn v155(state: State) -> T {
    with_config(Config {
        state,
        guacamole_version: GuacamoleVersion::V1_5_5,
        ..Config::default()
    })
    .await
}

fn names(t: &T) -> Vec<String> {
    t.server
        .state()
        .connections
        .into_iter()
        .map(|c| c.name)
        .collect()
}

/// 1.5.5's `APIError`: the 1.6.0 body without `patches`.
fn err155(message: &str, kind: &str) -> Value {
    let mut v = err(message, kind);
    v.as_object_mut().map(|m| m.remove("patches"));
    v
}

fn alice_disabled(t: &T) -> bool {
    t.server
        .state()
        .users
        .iter()
        .any(|u| u.username == "alice" && u.disabled)
}

async fn put(t: &T, path: &str, body: Value) -> u16 {
    t.send(reqwest::Method::PUT, path, Some(&body)).await.0
}

fn remove(id: &str) -> Value {
    json!({"op": "remove", "path": format!("/{id}")})
}

#[tokio::test]
async fn empty_patch_is_204_on_1_5_5_and_200_on_1_6_0() {
    let old = v155(State::default()).await;
    let r = old
        .request(reqwest::Method::PATCH, "connections", Some(&json!([])))
        .await;
    assert_eq!(r.status(), 204);
    assert_eq!(r.text().await.expect("body"), "");
    let new = with_config(Config::default()).await;
    assert_eq!(
        new.patch("connections", &json!([])).await,
        (200, json!({"patches": []}))
    );
}

#[tokio::test]
async fn an_object_value_fails_in_jackson_before_anything_is_applied() {
    let t = v155(three_connections()).await;
    let body = json!([remove("1"), {"op": "add", "path": "/", "value": conn("x", "ROOT")}]);
    let (status, content_type, v) = parse_full(
        t.request(reqwest::Method::PATCH, "connections", Some(&body))
            .await,
    )
    .await;
    assert_eq!((status, content_type.as_str()), (400, "text/plain"));
    let text = v.as_str().expect("plain text");
    assert!(
        text.starts_with("Cannot deserialize value of type `java.lang.String` from Object value"),
        "{text}"
    );
    assert_eq!(names(&t), ["a", "b", "c"], "nothing applied");
    // A replace carrying an object fails the same way.
    let body = json!([{"op": "replace", "path": "/2", "value": conn("b2", "ROOT")}]);
    assert_eq!(t.patch("connections", &body).await.0, 400);
}

#[tokio::test]
async fn removes_run_one_by_one_until_an_op_that_is_not_remove() {
    let t = v155(three_connections()).await;
    let body = json!([remove("1"), {"op": "add", "path": "/", "value": "x"}, remove("3")]);
    assert_eq!(
        t.patch("connections", &body).await,
        (
            501,
            err155(
                "Only the \"remove\" operation is supported.",
                "INTERNAL_ERROR"
            )
        )
    );
    assert_eq!(names(&t), ["b", "c"], "the remove before it stays applied");
    let body = json!([remove("2"), {"op": "remove", "path": "3"}]);
    assert_eq!(
        t.patch("connections", &body).await,
        (
            400,
            err155("Patch paths must start with \"/\".", "BAD_REQUEST")
        )
    );
    assert_eq!(names(&t), ["c"]);
    let r = t
        .request(
            reqwest::Method::PATCH,
            "connections",
            Some(&json!([remove("3")])),
        )
        .await;
    assert_eq!(r.status(), 204);
    assert!(names(&t).is_empty());
}

#[tokio::test]
async fn an_injected_failure_stops_after_the_removes_before_it() {
    let t = v155(three_connections()).await;
    t.server.set_faults(vec![FaultRule::on(
        "PATCH",
        "/connections",
        Fault::PatchError {
            index: 1,
            message: Some("boom".into()),
        },
    )]);
    let body = json!([remove("1"), remove("2"), remove("3")]);
    assert_eq!(
        t.patch("connections", &body).await,
        (400, err155("boom", "BAD_REQUEST"))
    );
    assert_eq!(names(&t), ["b", "c"]);
}

#[tokio::test]
async fn active_connection_patch_is_remove_only_and_204() {
    let t = v155(State::default()).await;
    let r = t
        .request(
            reqwest::Method::PATCH,
            "activeConnections",
            Some(&json!([{"op": "remove", "path": "/no-such-uuid"}])),
        )
        .await;
    assert_eq!(r.status(), 204);
}

#[tokio::test]
async fn error_bodies_have_no_patches_field() {
    let t = v155(State::default()).await;
    assert_eq!(
        t.get("connections/9").await,
        (404, err155("Not found: \"9\"", "NOT_FOUND"))
    );
}

fn alice() -> State {
    let mut s = State::default();
    s.users.push(UserState {
        username: "alice".into(),
        password: Some("pw".into()),
        disabled: false,
        attributes: BTreeMap::new(),
        permissions: guacamole_testserver::state::Permissions::default(),
        last_active: None,
        totp_secret: None,
    });
    s.user_groups.push(UserGroupState {
        identifier: "ops".into(),
        disabled: false,
        attributes: BTreeMap::new(),
        member_users: std::collections::BTreeSet::new(),
        member_user_groups: std::collections::BTreeSet::new(),
        permissions: guacamole_testserver::state::Permissions::default(),
    });
    s
}

#[tokio::test]
async fn users_carry_disabled_as_a_restriction_attribute() {
    let t = v155(alice()).await;
    let (status, v) = t.get("users/alice").await;
    assert_eq!(status, 200);
    assert_eq!(v.get("disabled"), None, "no top-level property on 1.5.5");
    assert_eq!(v["attributes"]["disabled"], Value::Null);
    // The top-level field is unknown to 1.5.5 and ignored.
    assert_eq!(
        put(
            &t,
            "users/alice",
            json!({"username": "alice", "disabled": true, "attributes": {}})
        )
        .await,
        204
    );
    assert!(!alice_disabled(&t));
    assert_eq!(
        put(
            &t,
            "users/alice",
            json!({"username": "alice", "attributes": {"disabled": "true"}})
        )
        .await,
        204
    );
    assert!(alice_disabled(&t));
    assert_eq!(
        t.get("users/alice").await.1["attributes"]["disabled"],
        "true"
    );
    // A map without the attribute leaves it as it is.
    assert_eq!(
        put(
            &t,
            "users/alice",
            json!({"username": "alice", "attributes": {}})
        )
        .await,
        204
    );
    assert!(alice_disabled(&t));
    // Created disabled through the attribute; the echo has no `disabled`.
    let (status, v) = t
        .post(
            "users",
            &json!({"username": "bob", "password": "pw", "attributes": {"disabled": "true"}}),
        )
        .await;
    assert_eq!(
        (status, v),
        (
            200,
            json!({"username": "bob", "password": "pw", "attributes": {"disabled": "true"}})
        )
    );
    let r = t
        .http
        .post(format!("{}/api/tokens", t.server.base_url()))
        .form(&[("username", "bob"), ("password", "pw")])
        .send()
        .await
        .expect("login");
    assert_eq!(r.status(), 403, "a disabled user cannot log in");
}

#[tokio::test]
async fn user_groups_carry_disabled_as_an_attribute_absent_meaning_enabled() {
    let t = v155(alice()).await;
    assert_eq!(
        t.get("userGroups/ops").await,
        (
            200,
            json!({"identifier": "ops", "attributes": {"disabled": null}})
        )
    );
    assert_eq!(
        put(
            &t,
            "userGroups/ops",
            json!({"identifier": "ops", "attributes": {"disabled": "true"}})
        )
        .await,
        204
    );
    assert!(t.server.state().user_groups[0].disabled);
    assert_eq!(
        put(
            &t,
            "userGroups/ops",
            json!({"identifier": "ops", "disabled": true, "attributes": {}})
        )
        .await,
        204
    );
    assert!(!t.server.state().user_groups[0].disabled);
    // The schema is not empty, so a null map throws while it is filtered.
    assert_eq!(
        t.post("userGroups", &json!({"identifier": "x"})).await,
        (500, err155("Unexpected internal error", "INTERNAL_ERROR"))
    );
}

#[tokio::test]
async fn schemas_differ() {
    let t = v155(State::default()).await;
    let (_, users) = t.get("schema/userAttributes").await;
    assert_eq!(
        users[1],
        json!({"name": "restrictions", "fields": [
            {"name": "disabled", "type": "BOOLEAN", "options": ["true"]},
            {"name": "expired", "type": "BOOLEAN", "options": ["true"]},
            {"name": "access-window-start", "type": "TIME"},
            {"name": "access-window-end", "type": "TIME"},
            {"name": "valid-from", "type": "DATE"},
            {"name": "valid-until", "type": "DATE"},
            {"name": "timezone", "type": "TIMEZONE"}]})
    );
    assert_eq!(
        t.get("schema/userGroupAttributes").await,
        (
            200,
            json!([{"name": "restrictions", "fields": [{"name": "disabled", "type": "BOOLEAN", "options": ["true"]}]}])
        )
    );
    let (status, v) = t.get("schema/userPreferenceAttributes").await;
    assert_eq!(status, 404);
    assert!(v.is_string(), "Jersey's own 404: {v}");
}

#[tokio::test]
async fn there_is_no_audit_permission() {
    let t = v155(State::default()).await;
    let (_, perms) = t.get("self/permissions").await;
    let system = perms["systemPermissions"].as_array().expect("array");
    assert!(
        !system.is_empty() && !system.contains(&json!("AUDIT")),
        "{system:?}"
    );
    let body = json!([{"op": "add", "path": "/systemPermissions", "value": "AUDIT"}]);
    assert_eq!(
        t.patch("users/guacadmin/permissions", &body).await,
        (500, err155("Unexpected internal error", "INTERNAL_ERROR"))
    );
}

#[tokio::test]
async fn a_long_parameter_is_a_database_error_not_a_413() {
    let mut long = conn("a", "ROOT");
    long["parameters"]["hostname"] = json!("x".repeat(4097));
    let old = v155(State::default()).await;
    assert_eq!(
        old.post("connections", &long).await,
        (500, err155("Unexpected internal error", "INTERNAL_ERROR"))
    );
    let new = with_config(Config::default()).await;
    assert_eq!(new.post("connections", &long).await.0, 413);
}

#[tokio::test]
async fn no_head_on_the_session_and_no_put_on_oneself() {
    let t = v155(State::default()).await;
    let r = t
        .http
        .head(format!("{}/api/session", t.server.base_url()))
        .header("Guacamole-Token", &t.token)
        .send()
        .await
        .expect("head");
    assert_eq!(r.status(), 405);
    assert_eq!(
        t.send(
            reqwest::Method::PUT,
            "users/guacadmin",
            Some(&json!({"username": "guacadmin", "attributes": {}}))
        )
        .await,
        (403, err155("Permission denied.", "PERMISSION_DENIED"))
    );
}

#[tokio::test]
async fn the_binary_takes_the_version_flag() {
    use tokio::io::AsyncBufReadExt;
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_guacamole-testserver"))
        .args(["--listen", "127.0.0.1:0", "--guacamole-version", "1.5.5"])
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn");
    let mut line = String::new();
    tokio::io::BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .await
        .expect("line");
    let base = line
        .trim()
        .strip_prefix("listening on ")
        .expect("line")
        .to_owned();
    let http = support::client();
    let token = support::login(&http, &base, "guacadmin", "guacadmin").await;
    let r = http
        .patch(format!("{base}/api/session/data/postgresql/connections"))
        .header("Guacamole-Token", token)
        .json(&json!([]))
        .send()
        .await
        .expect("patch");
    assert_eq!(r.status(), 204, "answers as 1.5.5");
    let _ = child.kill().await;
    let bad = tokio::process::Command::new(env!("CARGO_BIN_EXE_guacamole-testserver"))
        .args(["--guacamole-version", "1.4"])
        .output()
        .await
        .expect("run");
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("1.5.5 or 1.6.0"));
}

//! Contract tests for two fixes: the answer to a creating POST is the submitted
//! object as Guacamole's API class binds it (rest-api.md §3–§8, src/echo.rs), and
//! one trailing slash is accepted wherever Jersey accepts it (every path:
//! docs/guacamole-versions.md, "Trailing slashes").

mod support;

use guacamole_testserver::State;
use guacamole_testserver::state::ConnectionState;
use serde_json::json;
use support::{conn, setup};

#[tokio::test]
async fn connection_post_echo_is_the_bound_object() {
    let t = setup(State::default()).await;
    let (status, v) = t
        .post(
            "connections",
            &json!({"name": "web", "parentIdentifier": "ROOT", "protocol": "ssh",
                "parameters": {"hostname": "h", "port": 22, "password": "s3cret", "cleared": null},
                "attributes": {"weight": "heavy", "max-connections": null, "x-unknown": "1"},
                "activeConnections": 5, "lastActiveX": 1, "identifier": "77", "sharingProfiles": null}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        v,
        json!({"name": "web", "identifier": "1", "parentIdentifier": "ROOT", "protocol": "ssh",
            // Parameters as sent (scalars coerced to strings, nulls kept), the
            // attributes filtered to the schema with explicit nulls and unparseable
            // values kept, and activeConnections never bound from the request.
            "parameters": {"hostname": "h", "port": "22", "password": "s3cret", "cleared": null},
            "attributes": {"weight": "heavy", "max-connections": null},
            "activeConnections": 0})
    );
    // What was stored is what JDBC keeps: the unparseable weight became null.
    let stored = &t.server.state().connections[0];
    assert!(stored.attributes.is_empty(), "{:?}", stored.attributes);
}

#[tokio::test]
async fn group_post_echo_filters_attributes() {
    let t = setup(State::default()).await;
    let (status, v) = t
        .post(
            "connectionGroups",
            &json!({"name": "Prod", "parentIdentifier": "ROOT", "type": "BALANCING",
                "attributes": {"enable-session-affinity": "true", "max-connections": null, "bogus": "x"},
                "childConnections": [], "extra": 1}),
        )
        .await;
    assert_eq!(
        (status, v),
        (
            200,
            json!({"name": "Prod", "identifier": "1", "parentIdentifier": "ROOT", "type": "BALANCING",
                "activeConnections": 0,
                "attributes": {"enable-session-affinity": "true", "max-connections": null}})
        )
    );
}

#[tokio::test]
async fn user_post_echo_filters_attributes_and_keeps_the_password() {
    let t = setup(State::default()).await;
    let (status, v) = t
        .post(
            "users",
            &json!({"username": "alice", "password": "pw", "disabled": true,
                "attributes": {"guac-full-name": "Alice", "timezone": null, "bogus": "x"}, "other": 1}),
        )
        .await;
    // APIUser does not hide its password: the real server echoes it.
    assert_eq!(
        (status, v),
        (
            200,
            json!({"username": "alice", "password": "pw", "disabled": true,
                "attributes": {"guac-full-name": "Alice", "timezone": null}})
        )
    );
    // disabled is ignored on create.
    assert_eq!(t.get("users/alice").await.1["disabled"], false);
}

#[tokio::test]
async fn user_group_and_sharing_profile_post_echoes() {
    let t = setup(State {
        connections: vec![ConnectionState {
            identifier: "1".into(),
            name: "c".into(),
            parent_identifier: "ROOT".into(),
            protocol: "ssh".into(),
            parameters: [("hostname".to_owned(), "h".to_owned())].into(),
            attributes: std::collections::BTreeMap::new(),
        }],
        ..State::default()
    })
    .await;
    let (status, v) = t
        .post(
            "userGroups",
            &json!({"identifier": "ops", "attributes": {"disabled": "true"}, "x": 1}),
        )
        .await;
    assert_eq!(
        (status, v),
        (
            200,
            json!({"identifier": "ops", "disabled": false, "attributes": {}})
        )
    );
    let (status, v) = t
        .post(
            "sharingProfiles",
            &json!({"name": "ro", "primaryConnectionIdentifier": "1",
                "parameters": {"read-only": "true"}, "attributes": {"a": "b"}}),
        )
        .await;
    assert_eq!(
        (status, v),
        (
            200,
            json!({"name": "ro", "identifier": "1", "primaryConnectionIdentifier": "1",
                "parameters": {"read-only": "true"}, "attributes": {}})
        )
    );
}

#[tokio::test]
async fn one_trailing_slash_is_accepted_everywhere() {
    let t = setup(State::default()).await;
    let (status, v) = t.post("connections/", &conn("a", "ROOT")).await;
    assert_eq!((status, v["identifier"].clone()), (200, json!("1")));
    for path in [
        "connections/",
        "connections/1/",
        "connections/1/parameters/",
        "connectionGroups/ROOT/tree/",
        "self/permissions/",
        "schema/protocols/",
    ] {
        assert_eq!(t.get(path).await.0, 200, "{path}");
    }
    let (status, v) = t
        .patch(
            "connections/",
            &json!([{"op": "add", "path": "/", "value": conn("b", "ROOT")}]),
        )
        .await;
    assert_eq!(
        (status, v["patches"][0]["identifier"].clone()),
        (200, json!("2"))
    );
    let r = t
        .http
        .post(format!("{}/api/tokens/", t.server.base_url()))
        .form(&[("username", "guacadmin"), ("password", "guacadmin")])
        .send()
        .await
        .expect("login");
    assert_eq!(r.status(), 200);
    // The log keeps the path as it was sent.
    assert!(
        t.server
            .requests()
            .iter()
            .any(|r| r.path.ends_with("/connections/"))
    );
}

//! §4 directory PATCH: outcomes in order, rollback on a failed step, the
//! operations and paths accepted, attributes on add and replace, removals by
//! admins and non-admins, users' and active connections' directories.

use super::*;

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

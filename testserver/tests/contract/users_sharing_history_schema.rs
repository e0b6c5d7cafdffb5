//! §7 users (shape, create, PUT, what a non-admin sees), §8 sharing
//! profiles, §9 active connections and history, §10 schema endpoints and
//! attribute values.

use super::*;

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

//! §3 connections: the map, one connection, its parameters, POST, PUT and
//! DELETE with their validation order and cascades.

use super::*;

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

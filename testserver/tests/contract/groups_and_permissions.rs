//! §5 connection groups (the map, ROOT, the tree, naming and cycle rules) and
//! §6 permissions and memberships (their documents and PATCH rules).

use super::*;

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

/// Every request sees the permission `PATCH`es before it: a grant to a user reaches
/// that user's next request, a grant to a user group reaches its members', and
/// the administrator who sent them keeps seeing everything (the server keeps each
/// user's merged permissions between writes and forgets only what a write changed).
#[tokio::test]
async fn s6_permission_patches_reach_the_next_request_of_whom_they_change() {
    let t = setup(state_with(|s| {
        s.connections = vec![connection("1", "a", "ROOT"), connection("2", "b", "ROOT")];
        s.users.push(user("alice"));
        s.users.push(user("bob"));
        s.user_groups = vec![UserGroupState {
            identifier: "ops".into(),
            disabled: false,
            attributes: std::collections::BTreeMap::default(),
            member_users: ["bob".to_owned()].into(),
            member_user_groups: std::collections::BTreeSet::default(),
            permissions: guacamole_testserver::state::Permissions::default(),
        }];
    }))
    .await;
    let alice = login(&t.http, t.server.base_url(), "alice", "pw").await;
    let bob = login(&t.http, t.server.base_url(), "bob", "pw").await;
    let status_of = |token: &str, id: &str| {
        let r = t
            .http
            .get(t.url(&format!("connections/{id}")))
            .header("Guacamole-Token", token)
            .send();
        async move { r.await.expect("get").status().as_u16() }
    };
    // Each one's merged permissions are worked out (and kept) before the grants.
    assert_eq!(status_of(&alice, "1").await, 404);
    assert_eq!(status_of(&bob, "2").await, 404);
    assert_eq!(t.get("connections/1").await.0, 200);
    let grant = |id: &str| json!([{"op":"add","path":format!("/connectionPermissions/{id}"),"value":"READ"}]);
    assert_eq!(t.patch("users/alice/permissions", grant("1")).await.0, 204);
    assert_eq!(status_of(&alice, "1").await, 200);
    assert_eq!(status_of(&alice, "2").await, 404);
    assert_eq!(status_of(&bob, "1").await, 404);
    assert_eq!(
        t.patch("userGroups/ops/permissions", grant("2")).await.0,
        204
    );
    assert_eq!(status_of(&bob, "2").await, 200);
    assert_eq!(status_of(&alice, "2").await, 404);
    let remove = json!([{"op":"remove","path":"/connectionPermissions/1","value":"READ"}]);
    assert_eq!(t.patch("users/alice/permissions", remove).await.0, 204);
    assert_eq!(status_of(&alice, "1").await, 404);
    assert_eq!(t.get("connections/2").await.0, 200);
}

//! Every object directory is served by one router over a description per kind
//! (src/kind/, src/api/directory.rs): what `DirectoryResource` does, it does for
//! connections, connection groups, sharing profiles, users and user groups alike.

mod support;

use guacamole_testserver::State;
use serde_json::{Value, json};
use support::{T, err, login, parse, setup};

/// Two objects of each kind; bob may read the first and read and update the
/// second (for users: himself, and carol).
fn two_of_each() -> State {
    let mut state: State = serde_json::from_value(json!({
        "version": 1,
        "users": [
            {"username": "bob", "password": "pw", "permissions": {
                "connectionPermissions": {"1": ["READ"], "2": ["READ", "UPDATE"]},
                "connectionGroupPermissions": {"1": ["READ"], "2": ["READ", "UPDATE"]},
                "sharingProfilePermissions": {"1": ["READ"], "2": ["READ", "UPDATE"]},
                "userPermissions": {"bob": ["READ"], "carol": ["READ", "UPDATE"]},
                "userGroupPermissions": {"ops": ["READ"], "dev": ["READ", "UPDATE"]}}},
            {"username": "carol", "password": "pw"}
        ],
        "userGroups": [{"identifier": "ops"}, {"identifier": "dev"}],
        "connectionGroups": [
            {"identifier": "1", "name": "A"}, {"identifier": "2", "name": "B"}
        ],
        "connections": [
            {"identifier": "1", "name": "a", "protocol": "ssh"},
            {"identifier": "2", "name": "b", "protocol": "ssh"}
        ],
        "sharingProfiles": [
            {"identifier": "1", "name": "x", "primaryConnectionIdentifier": "1"},
            {"identifier": "2", "name": "y", "primaryConnectionIdentifier": "1"}
        ]
    }))
    .expect("state");
    state.users.extend(State::default().users);
    state
}

const ENDPOINTS: [&str; 5] = [
    "connections",
    "connectionGroups",
    "sharingProfiles",
    "users",
    "userGroups",
];

async fn keys_as(t: &T, token: &str, path: &str) -> (u16, Value) {
    let r = t
        .http
        .get(t.url(path))
        .header("Guacamole-Token", token)
        .send()
        .await
        .expect("get");
    let (status, body) = parse(r).await;
    let keys = body
        .as_object()
        .map_or(body.clone(), |m| json!(m.keys().collect::<Vec<_>>()));
    (status, keys)
}

/// `DirectoryResource#getObjects` (1.6.0) reads `?permission=` for every
/// directory: a non-administrator sees only the objects on which it holds one of
/// the listed permissions, an administrator everything, and a value that is not
/// a permission fails the parameter's conversion.
#[tokio::test]
async fn every_listing_filters_by_permission() {
    let t = setup(two_of_each()).await;
    let bob = login(&t.http, t.server.base_url(), "bob", "pw").await;
    let everything = [
        json!(["1", "2"]),
        json!(["1", "2"]),
        json!(["1", "2"]),
        json!(["bob", "carol"]),
        json!(["dev", "ops"]),
    ];
    let updatable = [
        json!(["2"]),
        json!(["2"]),
        json!(["2"]),
        json!(["carol"]),
        json!(["dev"]),
    ];
    for ((endpoint, all), update) in ENDPOINTS.iter().zip(&everything).zip(&updatable) {
        assert_eq!(
            keys_as(&t, &bob, endpoint).await,
            (200, all.clone()),
            "{endpoint}"
        );
        let filtered = format!("{endpoint}?permission=UPDATE");
        assert_eq!(
            keys_as(&t, &bob, &filtered).await,
            (200, update.clone()),
            "{filtered}"
        );
        let either = format!("{endpoint}?permission=DELETE&permission=UPDATE");
        assert_eq!(
            keys_as(&t, &bob, &either).await,
            (200, update.clone()),
            "{either}"
        );
        let none = format!("{endpoint}?permission=ADMINISTER");
        assert_eq!(keys_as(&t, &bob, &none).await, (200, json!([])), "{none}");
        // The administrator holds no grant on these objects and still sees all.
        let (status, v) = keys_as(&t, &t.token, &none).await;
        assert_eq!(status, 200, "{none} as guacadmin");
        assert!(
            v.as_array().is_some_and(|a| a.len() >= 2),
            "{none} as guacadmin: {v}"
        );
        let bad = format!("{endpoint}?permission=read");
        let r = t
            .http
            .get(t.url(&bad))
            .header("Guacamole-Token", &bob)
            .send()
            .await
            .expect("get");
        assert_eq!(
            parse(r).await,
            (404, err("Invalid permission: \"read\"", "NOT_FOUND")),
            "{bad}"
        );
    }
}

/// One object of each kind through its whole life: POST, GET, PUT, DELETE, then
/// gone, with the answers the one router gives every kind.
#[tokio::test]
async fn every_kind_is_created_read_replaced_and_deleted_alike() {
    let t = setup(two_of_each()).await;
    let objects = [
        (
            "connections",
            json!({"name": "c", "parentIdentifier": "ROOT", "protocol": "ssh", "parameters": {}, "attributes": {}}),
            "3",
        ),
        (
            "connectionGroups",
            json!({"name": "C", "parentIdentifier": "ROOT", "type": "ORGANIZATIONAL", "attributes": {}}),
            "3",
        ),
        (
            "sharingProfiles",
            json!({"name": "z", "primaryConnectionIdentifier": "2", "parameters": {}, "attributes": {}}),
            "3",
        ),
        (
            "users",
            json!({"username": "dave", "attributes": {}}),
            "dave",
        ),
        (
            "userGroups",
            json!({"identifier": "qa", "attributes": {}}),
            "qa",
        ),
    ];
    for (endpoint, body, id) in objects {
        let (status, _) = t.post(endpoint, &body).await;
        assert_eq!(status, 200, "POST {endpoint}");
        let one = format!("{endpoint}/{id}");
        let (status, _) = t.get(&one).await;
        assert_eq!(status, 200, "GET {one}");
        let (status, _) = t.send(reqwest::Method::PUT, &one, Some(&body)).await;
        assert_eq!(status, 204, "PUT {one}");
        let (status, _) = t.send(reqwest::Method::DELETE, &one, None).await;
        assert_eq!(status, 204, "DELETE {one}");
        let missing = format!("Not found: \"{id}\"");
        assert_eq!(
            t.get(&one).await,
            (404, err(&missing, "NOT_FOUND")),
            "GET {one} after DELETE"
        );
        let (status, _) = t.send(reqwest::Method::POST, &one, Some(&body)).await;
        assert_eq!(status, 404, "POST {one}: the object is looked up first");
    }
}

//! Users' arbitrary attributes (rest-api.md §7, "Unknown attributes"): a
//! directory PATCH `replace` stores a name no schema field has, and every GET
//! returns it, whoever asks (`ModeledUser#getAttributes` starts from
//! `ModeledDirectoryObject#getAttributes`, guacamole-client 1.5.5 and 1.6.0). That
//! is how a server that once ran the TOTP extension shows a user's
//! `guac-totp-key-secret` once the extension is gone, and what `export --estate`
//! must treat as a secret.

mod support;

use guacamole_testserver::State;
use serde_json::json;
use support::setup;

#[tokio::test]
async fn a_replace_stores_an_arbitrary_attribute_and_get_returns_it() {
    let mut state: State = serde_json::from_value(json!({
        "version": 1,
        "users": [{"username": "alice", "password": "pw",
                   "attributes": {"guac-full-name": "Alice", "x-stored": "from the state file"}}]
    }))
    .expect("state");
    state.users.extend(State::default().users);
    let t = setup(state).await;
    let (_, alice) = t.get("users/alice").await;
    assert_eq!(alice["attributes"]["x-stored"], "from the state file");
    assert_eq!(alice["attributes"]["guac-full-name"], "Alice");

    let replace = json!([{"op": "replace", "path": "/alice", "value": {
        "username": "alice", "disabled": false,
        "attributes": {"guac-full-name": "Alice", "guac-totp-key-secret": "JBSWY3DPEHPK3PXP"}}}]);
    assert_eq!(t.patch("users", &replace).await.0, 200);
    let (_, alice) = t.get("users/alice").await;
    assert_eq!(
        alice["attributes"]["guac-totp-key-secret"], "JBSWY3DPEHPK3PXP",
        "{alice}"
    );
    // Only keys present in the map are touched: the stored one stays.
    assert_eq!(alice["attributes"]["x-stored"], "from the state file");
    let (_, listing) = t.get("users").await;
    assert_eq!(
        listing["alice"]["attributes"]["guac-totp-key-secret"],
        "JBSWY3DPEHPK3PXP"
    );
}

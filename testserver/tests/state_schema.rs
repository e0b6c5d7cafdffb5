//! The state document and its JSON Schema (schemas/state.schema.json) agree: the
//! default state, the bundled example and a state written after changes all
//! validate, and the example loads.

use guacamole_testserver::State;
use serde_json::Value;

fn validator() -> jsonschema::Validator {
    let schema: Value = serde_json::from_str(include_str!("../../schemas/state.schema.json"))
        .expect("schema is JSON");
    jsonschema::draft202012::new(&schema).expect("schema compiles")
}

fn assert_valid(doc: &Value) {
    let v = validator();
    let errors: Vec<String> = v
        .iter_errors(doc)
        .map(|e| format!("{e} at {}", e.instance_path))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
}

#[test]
fn default_state_validates() {
    assert_valid(&serde_json::to_value(State::default()).expect("serialises"));
}

#[test]
fn bundled_example_validates_and_loads() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/server-state.json");
    let doc: Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("read")).expect("JSON");
    assert_valid(&doc);
    let state = State::load(std::path::Path::new(path)).expect("loads");
    assert_eq!(state.connections.len(), 3);
}

#[test]
fn schema_rejects_what_the_loader_rejects() {
    let v = validator();
    for bad in [
        serde_json::json!({"version": 1, "connections": [{"identifier": "x", "name": "a", "protocol": "ssh"}]}),
        serde_json::json!({"version": 1, "users": [{"username": "a", "colour": "red"}]}),
        serde_json::json!({"version": 2}),
    ] {
        assert!(!v.is_valid(&bad), "{bad}");
        let loaded = serde_json::from_value::<State>(bad.clone())
            .map_err(|e| e.to_string())
            .and_then(|s| guacamole_testserver::store::Store::from_state(&s).map(|_| ()));
        assert!(loaded.is_err(), "{bad}");
    }
}

#[tokio::test]
async fn state_after_changes_validates() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let server = guacamole_testserver::start(guacamole_testserver::Config::default())
        .await
        .expect("start");
    let token = server.issue_token("guacadmin");
    let http = reqwest::Client::new();
    let url = format!(
        "{}/api/session/data/postgresql/connections",
        server.base_url()
    );
    let body = serde_json::json!([{"op":"add","path":"/","value":{"name":"a","parentIdentifier":"ROOT","protocol":"ssh","parameters":{"hostname":"h"},"attributes":{"weight":"2"}}}]);
    let r = http
        .patch(url)
        .header("Guacamole-Token", token)
        .json(&body)
        .send()
        .await
        .expect("patch");
    assert_eq!(r.status(), 200);
    assert_valid(&serde_json::to_value(server.state()).expect("serialises"));
}

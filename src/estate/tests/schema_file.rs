//! `schemas/estate.schema.json`: the committed file is the generated one, it
//! accepts the example, and it refuses what the reader refuses where a schema can
//! say so.

use serde_json::Value;

use crate::estate::json_schema::estate_json_schema;
use crate::estate::schema::EstateSchema;
use crate::manifest::node::{Node, ScalarKind, Value as NodeValue};

const PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/schemas/estate.schema.json");

/// The committed schema must equal the generated one; regenerate with
/// `UPDATE_SCHEMAS=1 cargo test estate_schema_file_is_current`.
#[test]
fn estate_schema_file_is_current() {
    let generated = serde_json::to_string_pretty(&estate_json_schema(EstateSchema::builtin()))
        .expect("serialises")
        + "\n";
    if std::env::var_os("UPDATE_SCHEMAS").is_some() {
        std::fs::write(PATH, &generated).expect("writes the schema");
    }
    let committed = std::fs::read_to_string(PATH).expect("schemas/estate.schema.json exists");
    assert!(
        committed == generated,
        "schemas/estate.schema.json is stale; run with UPDATE_SCHEMAS=1"
    );
}

/// A YAML document as the JSON an editor validates.
fn to_json(node: Node) -> Value {
    match node.value {
        NodeValue::Scalar { text, kind } => match kind {
            ScalarKind::Null => Value::Null,
            ScalarKind::Bool => Value::Bool(text == "true"),
            ScalarKind::Number => serde_json::from_str(&text).unwrap_or(Value::String(text)),
            ScalarKind::Text => Value::String(text),
        },
        NodeValue::List(items) => Value::Array(items.into_iter().map(to_json).collect()),
        NodeValue::Map(pairs) => Value::Object(
            pairs
                .into_iter()
                .map(|(k, v)| (k.as_text().unwrap_or_default().to_owned(), to_json(v)))
                .collect(),
        ),
    }
}

fn yaml_json(text: &str) -> Value {
    let (node, issues) = crate::manifest::yaml::read(text);
    assert!(issues.is_empty(), "{issues:?}");
    to_json(node.expect("a document"))
}

fn validator() -> jsonschema::Validator {
    let estate: Value =
        serde_json::from_str(&std::fs::read_to_string(PATH).expect("schema")).expect("JSON");
    let manifest: Value =
        serde_json::from_str(include_str!("../../../schemas/manifest.schema.json")).expect("JSON");
    // The estate schema refers to the manifest schema beside it by a relative
    // reference, which resolves against the default base URI.
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .with_resource(
            "json-schema:///manifest.schema.json",
            jsonschema::Resource::from_contents(manifest).expect("a resource"),
        )
        .build(&estate)
        .expect("the schema compiles")
}

#[test]
fn the_schema_accepts_the_example() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/manifests/estate.yaml"
    ))
    .expect("example");
    let v = validator();
    let doc = yaml_json(&text);
    let errors: Vec<String> = v.iter_errors(&doc).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{errors:?}");
    // And a document with connections, checked through the manifest schema.
    let doc = yaml_json(
        "connections:\n  - {name: web, protocol: ssh, parameters: {hostname: h, port: 22}}\nusers:\n  - {username: a, password: '${env:A}', attributes: {valid-until: '${env:UNTIL}', expired: false}}\n",
    );
    let errors: Vec<String> = v.iter_errors(&doc).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{errors:?}");
}

#[test]
fn the_schema_refuses_what_the_reader_refuses() {
    let v = validator();
    let bad = [
        "colour: 1\n",
        "users: [{name: a}]\n",
        "users: [{username: a, system: [create_user]}]\n",
        "users: [{username: a, permissions: {users: {b: [Read]}}}]\n",
        "users: [{username: a, permissions: {connectionPermissions: {}}}]\n",
        "users: [{username: a, disabled: 'false'}]\n",
        "users: [{username: a, attributes: {valid-until: 30.06.2027}}]\n",
        "users: [{username: a, attributes: {access-window-start: '9:00'}}]\n",
        "connectionGroups: [{path: ROOT/a, type: balancing}]\n",
        "connectionGroups: [{path: ROOT/a, attributes: {max-connections: ten}}]\n",
        "sharingProfiles: [{connection: ROOT/c}]\n",
        "userGroups: [{name: g, members: {user: [a]}}]\n",
        "connections: [{name: web}]\n",
        "connections: [{name: web, protocol: ssh, parameters: {hostnme: h}}]\n",
    ];
    for input in bad {
        assert!(!v.is_valid(&yaml_json(input)), "accepted: {input}");
    }
}

//! The JSON the REST API speaks (rest-api.md §1–§10), written independently of the
//! test server's types so that one checks the other. Liberal in what it accepts:
//! unknown fields are ignored and fields the server may leave out default.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LoginResponse {
    pub username: String,
    pub data_source: String,
    #[serde(default)]
    pub available_data_sources: Vec<String>,
}

/// A translatable message: `{key, variables}`.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
pub struct Translatable {
    #[serde(default)]
    pub key: String,
    #[serde(default)]
    pub variables: Option<serde_json::Value>,
}

impl Translatable {
    /// The message in English: the untranslated text, or the key with its variables.
    #[must_use]
    pub fn text(&self) -> String {
        let var = |name: &str| {
            self.variables
                .as_ref()
                .and_then(|v| v.get(name))
                .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
        };
        match self.key.as_str() {
            "APP.TEXT_UNTRANSLATED" => var("MESSAGE").unwrap_or_default(),
            "CONNECTION_PARAMETERS.DATABASE_PARAMETER_VALUE_TOO_LONG" => format!(
                "the value of parameter {} is longer than {} characters",
                var("PARAMETER_NAME").unwrap_or_default(),
                var("MAX_SIZE").unwrap_or_default()
            ),
            key => match &self.variables {
                Some(v) if !v.as_object().is_some_and(serde_json::Map::is_empty) => {
                    format!("{key} {v}")
                }
                _ => key.to_owned(),
            },
        }
    }
}

/// One outcome of a directory PATCH.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct PatchOutcome {
    pub op: String,
    #[serde(default)]
    pub identifier: Option<String>,
    #[serde(default)]
    pub path: Option<String>,
    #[serde(default)]
    pub error: Option<Translatable>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct PatchResponse {
    pub patches: Vec<PatchOutcome>,
}

/// The error body (`APIError`).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiError {
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub translatable_message: Option<Translatable>,
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub patches: Option<Vec<PatchOutcome>>,
}

/// A directory PATCH operation.
#[derive(Clone, Debug, Serialize, PartialEq)]
#[serde(tag = "op", rename_all = "lowercase")]
pub enum Op<T> {
    Add { path: String, value: T },
    Replace { path: String, value: T },
    Remove { path: String },
}

/// A permission or membership PATCH operation (`value` is a string).
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct StringOp {
    pub op: &'static str,
    pub path: String,
    pub value: String,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TreeConnection {
    pub name: String,
    pub identifier: String,
    #[serde(default)]
    pub protocol: String,
    #[serde(default)]
    pub attributes: BTreeMap<String, Option<String>>,
    #[serde(default)]
    pub active_connections: u32,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TreeGroup {
    pub name: String,
    pub identifier: String,
    #[serde(default, rename = "type")]
    pub group_type: Option<String>,
    #[serde(default)]
    pub attributes: BTreeMap<String, Option<String>>,
    #[serde(default)]
    pub child_connection_groups: Vec<TreeGroup>,
    #[serde(default)]
    pub child_connections: Vec<TreeConnection>,
}

/// A permission set; every key defaults to empty.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PermissionSet {
    #[serde(default)]
    pub connection_permissions: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    pub connection_group_permissions: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    pub system_permissions: Vec<String>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ActiveConnection {
    pub identifier: String,
    #[serde(default)]
    pub connection_identifier: Option<String>,
    #[serde(default)]
    pub username: Option<String>,
}

/// One protocol of `schema/protocols`: its connection forms (fields with their
/// types and options).
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProtocolInfo {
    #[serde(default)]
    pub connection_forms: Vec<crate::schema::Form>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patch_failure_body_parses_with_outcomes() {
        let body = r#"{"message":"The provided patches failed to apply.",
         "translatableMessage":{"key":"APP.TEXT_UNTRANSLATED","variables":{"MESSAGE":"The provided patches failed to apply."}},
         "statusCode":null,"expected":null,
         "patches":[
           {"op":"add","identifier":null,"path":"/"},
           {"op":"add","identifier":null,"path":"/",
            "error":{"key":"APP.TEXT_UNTRANSLATED","variables":{"MESSAGE":"The connection \"web01\" already exists."}}},
           {"op":"replace","identifier":"99","path":"/99",
            "error":{"key":"CONNECTION_PARAMETERS.DATABASE_PARAMETER_VALUE_TOO_LONG","variables":{"MAX_SIZE":4096,"PARAMETER_NAME":"hostname"}}}],
         "type":"BAD_REQUEST"}"#;
        let e: ApiError = serde_json::from_str(body).expect("parses");
        let patches = e.patches.expect("patches");
        assert_eq!(patches.len(), 3);
        assert!(patches[0].error.is_none());
        assert_eq!(
            patches[1].error.as_ref().map(Translatable::text).as_deref(),
            Some("The connection \"web01\" already exists.")
        );
        assert_eq!(
            patches[2].error.as_ref().map(Translatable::text).as_deref(),
            Some("the value of parameter hostname is longer than 4096 characters")
        );
        assert_eq!(e.kind.as_deref(), Some("BAD_REQUEST"));
    }

    #[test]
    fn ops_serialise_as_guacamole_expects() {
        let add: Op<serde_json::Value> = Op::Add {
            path: "/".into(),
            value: serde_json::json!({"name": "x"}),
        };
        assert_eq!(
            serde_json::to_string(&add).expect("json"),
            r#"{"op":"add","path":"/","value":{"name":"x"}}"#
        );
        let rm: Op<serde_json::Value> = Op::Remove { path: "/5".into() };
        assert_eq!(
            serde_json::to_string(&rm).expect("json"),
            r#"{"op":"remove","path":"/5"}"#
        );
    }

    #[test]
    fn tree_with_omitted_child_lists() {
        let t: TreeGroup = serde_json::from_str(r#"{"name":"ROOT","identifier":"ROOT","type":"ORGANIZATIONAL","activeConnections":0,"attributes":{},
           "childConnectionGroups":[{"name":"a/b","identifier":"2","parentIdentifier":"ROOT","attributes":{"enable-session-affinity":""}}]}"#).expect("parses");
        assert_eq!(t.child_connection_groups[0].name, "a/b");
        assert!(t.child_connections.is_empty());
    }
}

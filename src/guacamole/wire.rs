//! The JSON the REST API speaks (rest-api.md §1–§10), written independently of the
//! test server's types so that one checks the other. Liberal in what it accepts:
//! unknown fields are ignored and fields the server may leave out default.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::fields::Fields;

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

/// The `op` of a patch guacsync sent (read back from the request body).
#[derive(Clone, Debug, Deserialize)]
pub struct OpName {
    pub op: String,
}

/// Whether a directory PATCH answer matches what was sent (rest-api.md §4): exactly
/// one outcome per patch, in order, for the same op; on success no error and an
/// identifier for every add; on rejection at least one failed patch. `Err` says
/// what does not match.
pub fn check_outcomes(
    sent: &[OpName],
    outcomes: &[PatchOutcome],
    rejected: bool,
) -> Result<(), String> {
    if outcomes.len() != sent.len() {
        return Err(format!(
            "{} outcome(s) for {} patch(es)",
            outcomes.len(),
            sent.len()
        ));
    }
    for (i, (s, o)) in sent.iter().zip(outcomes).enumerate() {
        if !s.op.eq_ignore_ascii_case(&o.op) {
            return Err(format!(
                "outcome {} is for {:?}, patch {} is {:?}",
                i + 1,
                o.op,
                i + 1,
                s.op
            ));
        }
        if !rejected {
            if o.error.is_some() {
                return Err(format!("a success whose outcome {} is an error", i + 1));
            }
            if s.op == "add" && o.identifier.as_deref().is_none_or(str::is_empty) {
                return Err(format!("no identifier for the add at position {}", i + 1));
            }
        }
    }
    if rejected && outcomes.iter().all(|o| o.error.is_none()) {
        return Err("a rejection that names no failed patch".to_owned());
    }
    Ok(())
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

/// An attribute or parameter map of which only the set values are kept: JDBC lists
/// every schema attribute, null when unset, and empty means unset too. They are
/// dropped while the JSON is read, so a tree of 100,000 connections never holds
/// its million null attributes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SetValues(pub Fields<String>);

impl<'de> Deserialize<'de> for SetValues {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = SetValues;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a map of strings or nulls")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<SetValues, A::Error> {
                let mut set = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, Option<String>>()? {
                    if let Some(v) = v.filter(|v| !v.is_empty()) {
                        set.push((k, v));
                    }
                }
                // Built from a list in one go: sorted once, not shifted per insert.
                Ok(SetValues(set.into_iter().collect()))
            }
        }
        deserializer.deserialize_map(Visit)
    }
}

/// `deserialize_with` for a map of which only the set values are kept.
fn set_values<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Fields<String>, D::Error> {
    SetValues::deserialize(deserializer).map(|s| s.0)
}

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TreeConnection {
    pub name: String,
    pub identifier: String,
    #[serde(default)]
    pub protocol: String,
    /// Only the set ones.
    #[serde(default, deserialize_with = "set_values")]
    pub attributes: Fields<String>,
    #[serde(default)]
    pub active_connections: u32,
    /// Present only in the tree, and only when the connection has some.
    #[serde(default)]
    pub sharing_profiles: Vec<TreeSharingProfile>,
}

/// A sharing profile as the tree lists it (without its parameters).
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TreeSharingProfile {
    pub name: String,
    pub identifier: String,
}

/// A user or user group as `GET .../users` and `.../userGroups` list them.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiPrincipal {
    /// 1.6.x; 1.5.x has the `disabled` attribute instead.
    #[serde(default)]
    pub disabled: Option<bool>,
    #[serde(default)]
    pub attributes: BTreeMap<String, Option<String>>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TreeGroup {
    pub name: String,
    pub identifier: String,
    #[serde(default, rename = "type")]
    pub group_type: Option<String>,
    /// Only the set ones.
    #[serde(default, deserialize_with = "set_values")]
    pub attributes: Fields<String>,
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
    pub sharing_profile_permissions: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    pub user_permissions: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    pub user_group_permissions: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    pub system_permissions: Vec<String>,
}

impl PermissionSet {
    /// The object permissions of one kind, by identifier.
    #[must_use]
    pub fn of(&self, kind: crate::kinds::Kind) -> &BTreeMap<String, Vec<String>> {
        use crate::kinds::Kind;
        match kind {
            Kind::ConnectionGroup => &self.connection_group_permissions,
            Kind::Connection => &self.connection_permissions,
            Kind::SharingProfile => &self.sharing_profile_permissions,
            Kind::UserGroup => &self.user_group_permissions,
            Kind::User => &self.user_permissions,
        }
    }

    /// The object permissions of every kind, by identifier, taken out of the set.
    #[must_use]
    pub fn into_objects(self) -> [(crate::kinds::Kind, BTreeMap<String, Vec<String>>); 5] {
        use crate::kinds::Kind;
        [
            (Kind::ConnectionGroup, self.connection_group_permissions),
            (Kind::Connection, self.connection_permissions),
            (Kind::SharingProfile, self.sharing_profile_permissions),
            (Kind::UserGroup, self.user_group_permissions),
            (Kind::User, self.user_permissions),
        ]
    }

    /// Whether the set holds `permission` on `identifier` of `kind` (or, with no
    /// kind, the system permission).
    #[must_use]
    pub fn holds(
        &self,
        kind: Option<crate::kinds::Kind>,
        identifier: &str,
        permission: &str,
    ) -> bool {
        match kind {
            None => self.system_permissions.iter().any(|p| p == permission),
            Some(k) => self
                .of(k)
                .get(identifier)
                .is_some_and(|l| l.iter().any(|p| p == permission)),
        }
    }
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
    /// The forms of the protocol's sharing profiles (rest-api.md §8).
    #[serde(default)]
    pub sharing_profile_forms: Vec<crate::schema::Form>,
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
    fn outcomes_are_checked_against_what_was_sent() {
        let sent: Vec<OpName> =
            serde_json::from_str(r#"[{"op":"add","value":{}},{"op":"remove","path":"/3"}]"#)
                .expect("ops");
        let outcome = |op: &str, id: Option<&str>, error: bool| PatchOutcome {
            op: op.into(),
            identifier: id.map(Into::into),
            path: None,
            error: error.then(Translatable::default),
        };
        let ok = [
            outcome("add", Some("7"), false),
            outcome("remove", Some("3"), false),
        ];
        assert_eq!(check_outcomes(&sent, &ok, false), Ok(()));
        let three = [ok[0].clone(), ok[1].clone(), ok[1].clone()];
        assert_eq!(
            check_outcomes(&sent, &three, true),
            Err("3 outcome(s) for 2 patch(es)".into())
        );
        assert!(check_outcomes(&sent, &ok[..1], false).is_err());
        let no_id = [outcome("add", None, false), ok[1].clone()];
        assert!(check_outcomes(&sent, &no_id, false).is_err());
        let swapped = [ok[1].clone(), ok[0].clone()];
        assert!(check_outcomes(&sent, &swapped, false).is_err());
        // A rejection: successful adds carry no identifier; one patch failed.
        let rejected = [
            outcome("add", None, false),
            outcome("remove", Some("3"), true),
        ];
        assert_eq!(check_outcomes(&sent, &rejected, true), Ok(()));
        let no_error = [
            outcome("add", None, false),
            outcome("remove", Some("3"), false),
        ];
        assert!(check_outcomes(&sent, &no_error, true).is_err());
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

    #[test]
    fn only_set_values_are_kept_while_reading() {
        // JDBC lists every schema attribute, null when unset; an empty string
        // is unset too (the UI clears a field that way).
        let v: SetValues = serde_json::from_str(
            r#"{"max-connections":"4","failover-only":null,"weight":"","guacd-port":"4822"}"#,
        )
        .expect("parses");
        assert_eq!(
            v.0.into_iter()
                .map(|(k, v)| (String::from(k), v))
                .collect::<Vec<_>>(),
            [
                ("guacd-port".to_owned(), "4822".to_owned()),
                ("max-connections".to_owned(), "4".to_owned()),
            ]
        );
        let e = serde_json::from_str::<SetValues>(r#"{"port":22}"#).expect_err("a number");
        assert!(e.to_string().contains("invalid type"), "{e}");
        let e = serde_json::from_str::<SetValues>(r#"["port"]"#).expect_err("a list");
        assert!(e.to_string().contains("a map of strings or nulls"), "{e}");
    }
}

//! Sensitive values marked by structure in the plan document, as Terraform's
//! `after_sensitive` does: next to every field change's `before`/`after` (every
//! parameter, attribute and field a change shows, an add's and a removal's
//! included) a boolean (`before_sensitive`, `after_sensitive`). A program reading
//! the plan then never has to guess from the text: `"(sensitive)"` could be a
//! literal value, and `"${env:DB_PW}"` is shown for a value that is itself secret.
//!
//! Each helper is a serde `with` module for a field marked `#[serde(flatten)]`:
//! it writes the field and its mark side by side, and reads the field back
//! (the mark follows from the value, so it is not read).

use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serializer};

use crate::value::Value;

/// Writes `name` and `name_sensitive`.
fn marked<S: Serializer>(
    name: &'static str,
    mark: &'static str,
    value: &Value,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    let mut map = serializer.serialize_map(Some(2))?;
    map.serialize_entry(name, value)?;
    map.serialize_entry(mark, &value.is_sensitive())?;
    map.end()
}

/// A field change's `before` and `before_sensitive`.
pub mod before {
    use super::{Deserialize, Deserializer, Serializer, Value};

    pub fn serialize<S: Serializer>(value: &Value, serializer: S) -> Result<S::Ok, S::Error> {
        super::marked("before", "before_sensitive", value, serializer)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Value, D::Error> {
        #[derive(Deserialize)]
        struct Field {
            before: Value,
        }
        Ok(Field::deserialize(deserializer)?.before)
    }
}

/// A field change's `after` and `after_sensitive`.
pub mod after {
    use super::{Deserialize, Deserializer, Serializer, Value};

    pub fn serialize<S: Serializer>(value: &Value, serializer: S) -> Result<S::Ok, S::Error> {
        super::marked("after", "after_sensitive", value, serializer)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Value, D::Error> {
        #[derive(Deserialize)]
        struct Field {
            after: Value,
        }
        Ok(Field::deserialize(deserializer)?.after)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value as Json, json};

    use crate::plan::Plan;
    use crate::plan::render::tests::every_kind;

    /// The changes of a plan document.
    fn changes(doc: &Json) -> &Vec<Json> {
        doc["changes"].as_array().expect("changes")
    }

    /// The change to the object named `name` (its `name` or its last path part).
    fn named<'a>(doc: &'a Json, kind: &str, name: &str) -> &'a Json {
        changes(doc)
            .iter()
            .find(|c| c["kind"] == kind && (c["name"] == name || c["path"] == name))
            .unwrap_or_else(|| panic!("no {kind} {name} in {doc:#}"))
    }

    /// Each field change's name, value shown and marks, of one list of a change.
    fn marks(change: &Json, list: &str) -> Vec<(String, Json, Json, Json, Json)> {
        change[list]
            .as_array()
            .unwrap_or_else(|| panic!("{list} of {change}"))
            .iter()
            .map(|c| {
                (
                    c["name"].as_str().expect("name").to_owned(),
                    c["before"].clone(),
                    c["before_sensitive"].clone(),
                    c["after"].clone(),
                    c["after_sensitive"].clone(),
                )
            })
            .collect()
    }

    #[test]
    fn every_value_carries_its_mark() {
        let plan = every_kind();
        let doc: Json = serde_json::from_str(&plan.to_json()).expect("json");
        let add = named(&doc, "connection", "db-1");
        assert_eq!(add["action"], "add");
        assert_eq!(
            marks(add, "parameters"),
            [
                (
                    "hostname".into(),
                    Json::Null,
                    Json::Null,
                    json!("10.0.0.5"),
                    json!(false)
                ),
                (
                    "passphrase".into(),
                    Json::Null,
                    Json::Null,
                    json!("(sensitive)"),
                    json!(true)
                ),
                (
                    "password".into(),
                    Json::Null,
                    Json::Null,
                    json!("${env:DB_PW}"),
                    json!(true)
                ),
            ]
        );
        let replace = named(&doc, "connection", "web \"1\"");
        let shown: Vec<(String, Json, Json)> = marks(replace, "parameters")
            .into_iter()
            .map(|(name, _, before, _, after)| (name, before, after))
            .collect();
        assert_eq!(
            shown,
            [
                ("domain".into(), Json::Null, json!(false)),
                ("initial-program".into(), json!(false), json!(false)),
                ("password".into(), json!(true), json!(true)),
                ("port".into(), json!(false), Json::Null),
            ]
        );
        let remove = named(&doc, "connection", "old");
        assert_eq!(
            marks(remove, "parameters"),
            [
                (
                    "hostname".into(),
                    json!("h"),
                    json!(false),
                    Json::Null,
                    Json::Null
                ),
                (
                    "password".into(),
                    json!("(sensitive)"),
                    json!(true),
                    Json::Null,
                    Json::Null
                ),
            ]
        );
        // A user's password, set on create, is a field like any other.
        assert_eq!(
            marks(named(&doc, "user", "zoe"), "fields"),
            [(
                "password".into(),
                Json::Null,
                Json::Null,
                json!("${env:ZOE_PW}"),
                json!(true)
            )]
        );
        // What is sent is never part of the document: it holds the secrets.
        for c in changes(&doc) {
            assert!(c.get("body").is_none() && c.get("value").is_none(), "{c}");
        }
    }

    #[test]
    fn a_saved_plan_reads_back_and_still_matches() {
        let plan = every_kind();
        let json = plan.to_json();
        let back: Plan = serde_json::from_str(&json).expect("reads back");
        assert_eq!(back.changes.len(), plan.changes.len());
        // Read back, values are what was shown, and the marks are the same.
        let again: Json = serde_json::from_str(&back.to_json()).expect("json");
        let saved: Json = serde_json::from_str(&json).expect("json");
        assert_eq!(changes(&again), changes(&saved));
        assert_eq!(again, saved);
        assert_eq!(
            crate::plan::saved::check(&back, &plan, &crate::plan::saved::Basis::default()),
            Ok(())
        );
    }
}

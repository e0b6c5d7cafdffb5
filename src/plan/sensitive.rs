//! Sensitive values marked by structure in the plan document, as Terraform's
//! `after_sensitive` does: next to every parameter map a mirror map
//! (`parameters_sensitive`) holding `true` for each sensitive parameter, and next
//! to every field change's `before`/`after` a boolean (`before_sensitive`,
//! `after_sensitive`). A program reading the plan then never has to guess from
//! the text: `"(sensitive)"` could be a literal value, and `"${env:DB_PW}"` is
//! shown for a value that is itself secret.
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

    #[test]
    fn every_value_carries_its_mark() {
        let plan = every_kind();
        let doc: Json = serde_json::from_str(&plan.to_json()).expect("json");
        let add = &doc["connections"][0];
        assert_eq!(
            add["parameters_sensitive"],
            json!({"passphrase": true, "password": true})
        );
        assert_eq!(add["parameters"]["hostname"], "10.0.0.5");
        let replace = &doc["connections"][1];
        let marks: Vec<(String, Json, Json)> = replace["parameters"]
            .as_array()
            .expect("changes")
            .iter()
            .map(|c| {
                (
                    c["name"].as_str().expect("name").to_owned(),
                    c["before_sensitive"].clone(),
                    c["after_sensitive"].clone(),
                )
            })
            .collect();
        assert_eq!(
            marks,
            [
                ("domain".into(), Json::Null, json!(false)),
                ("initial-program".into(), json!(false), json!(false)),
                ("password".into(), json!(true), json!(true)),
                ("port".into(), json!(false), Json::Null),
            ]
        );
        assert_eq!(
            replace["value"]["parameters_sensitive"],
            json!({"password": true})
        );
        assert_eq!(
            doc["connections"][2]["parameters_sensitive"],
            json!({"password": true})
        );
    }

    #[test]
    fn a_saved_plan_reads_back_and_still_matches() {
        let plan = every_kind();
        let json = plan.to_json();
        let back: Plan = serde_json::from_str(&json).expect("reads back");
        assert_eq!(back.connections.len(), 3);
        // Read back, values are what was shown, and the marks are the same.
        let again: Json = serde_json::from_str(&back.to_json()).expect("json");
        let saved: Json = serde_json::from_str(&json).expect("json");
        for i in 0..3 {
            assert_eq!(
                again["connections"][i]["parameters_sensitive"],
                saved["connections"][i]["parameters_sensitive"]
            );
        }
        assert_eq!(
            crate::plan::saved::check(&back, &plan, &crate::plan::saved::Basis::default()),
            Ok(())
        );
    }
}

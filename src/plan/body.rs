//! The body of one `add` or `replace`, as a plan holds it before it is sent.
//!
//! Two things keep a body from being plain JSON until apply: its values keep their
//! sensitivity (a plan is rendered and saved, and must never show a secret), and an
//! object may refer to one created earlier in the same run (a connection to its new
//! group), whose identifier the server only gives when that earlier batch is applied.

use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};

use crate::kinds::ObjectKey;
use crate::value::Value;

/// A JSON value with sensitive strings and references to other objects.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Body {
    Null,
    Bool(bool),
    Text(Value),
    /// The server identifier of another object (known now, or learnt during apply).
    Ref(ObjectKey),
    /// An object; fields in the order they are sent.
    Map(Vec<(String, Body)>),
}

/// The length used for a reference whose identifier is not known yet: longer than
/// any identifier a serial column gives in practice, so sizes are upper bounds.
pub const PLACEHOLDER_ID_LEN: usize = 10;

impl Body {
    /// A map from string pairs, each value plain text.
    #[must_use]
    pub fn text(value: impl Into<String>) -> Self {
        Self::Text(Value::plain(value))
    }

    /// A map of optional values (`None` is sent as null: it clears).
    #[must_use]
    pub fn optional_map<'a>(
        entries: impl IntoIterator<Item = (&'a String, Option<&'a Value>)>,
    ) -> Self {
        Self::Map(
            entries
                .into_iter()
                .map(|(k, v)| (k.clone(), v.map_or(Self::Null, |v| Self::Text(v.clone()))))
                .collect(),
        )
    }

    /// A map of values.
    #[must_use]
    pub fn value_map<'a, K: AsRef<str> + 'a>(
        entries: impl IntoIterator<Item = (&'a K, &'a Value)>,
    ) -> Self {
        Self::Map(
            entries
                .into_iter()
                .map(|(k, v)| (k.as_ref().to_owned(), Self::Text(v.clone())))
                .collect(),
        )
    }

    /// The JSON sent: values exposed, references resolved by `resolve`.
    ///
    /// # Errors
    /// The first reference `resolve` does not know.
    pub fn to_wire(
        &self,
        resolve: &dyn Fn(&ObjectKey) -> Option<String>,
    ) -> Result<serde_json::Value, ObjectKey> {
        Ok(match self {
            Self::Null => serde_json::Value::Null,
            Self::Bool(b) => serde_json::Value::Bool(*b),
            Self::Text(v) => serde_json::Value::String(v.expose().to_owned()),
            Self::Ref(key) => serde_json::Value::String(resolve(key).ok_or_else(|| key.clone())?),
            Self::Map(fields) => {
                let mut map = serde_json::Map::with_capacity(fields.len());
                for (k, v) in fields {
                    map.insert(k.clone(), v.to_wire(resolve)?);
                }
                serde_json::Value::Object(map)
            }
        })
    }

    /// The JSON sent, with every reference that `resolve` does not know written as a
    /// placeholder of [`PLACEHOLDER_ID_LEN`] digits: for sizing requests at plan time.
    #[must_use]
    pub fn to_wire_sized(
        &self,
        resolve: &dyn Fn(&ObjectKey) -> Option<String>,
    ) -> serde_json::Value {
        let placeholder = "9".repeat(PLACEHOLDER_ID_LEN);
        self.to_wire(&|k| Some(resolve(k).unwrap_or_else(|| placeholder.clone())))
            .unwrap_or(serde_json::Value::Null)
    }

    /// A field of a map body.
    #[must_use]
    pub fn get(&self, name: &str) -> Option<&Self> {
        match self {
            Self::Map(fields) => fields.iter().find(|(k, _)| k == name).map(|(_, v)| v),
            _ => None,
        }
    }
}

/// The redacted form (what a plan document shows): sensitive values as
/// `(sensitive)` or their reference text, references as `{"ref": "connection ..."}`.
impl Serialize for Body {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Null => serializer.serialize_none(),
            Self::Bool(b) => serializer.serialize_bool(*b),
            Self::Text(v) => v.serialize(serializer),
            Self::Ref(key) => {
                let mut m = serializer.serialize_map(Some(1))?;
                m.serialize_entry("ref", &key.to_string())?;
                m.end()
            }
            Self::Map(fields) => {
                let mut m = serializer.serialize_map(Some(fields.len()))?;
                for (k, v) in fields {
                    m.serialize_entry(k, v)?;
                }
                m.end()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::GroupPath;

    #[test]
    fn wire_form_exposes_and_resolves() {
        let group = ObjectKey::group(GroupPath::parse("ROOT/New").expect("path"));
        let body = Body::Map(vec![
            ("parentIdentifier".into(), Body::Ref(group.clone())),
            ("name".into(), Body::text("web")),
            (
                "parameters".into(),
                Body::Map(vec![(
                    "password".into(),
                    Body::Text(Value::resolved("hunter2", "${env:PW}")),
                )]),
            ),
            (
                "attributes".into(),
                Body::Map(vec![("weight".into(), Body::Null)]),
            ),
        ]);
        let resolve = |k: &ObjectKey| (*k == group).then(|| "42".to_owned());
        let wire = body.to_wire(&resolve).expect("resolves");
        assert_eq!(
            wire,
            serde_json::json!({"parentIdentifier": "42", "name": "web",
                "parameters": {"password": "hunter2"}, "attributes": {"weight": null}})
        );
        assert_eq!(body.to_wire(&|_| None), Err(group.clone()));
        let sized = body.to_wire_sized(&|_| None);
        assert_eq!(sized["parentIdentifier"], "9999999999");
        let shown = serde_json::to_string(&body).expect("json");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("${env:PW}"), "{shown}");
        assert!(shown.contains(r#"{"ref":"group ROOT/New"}"#), "{shown}");
    }
}

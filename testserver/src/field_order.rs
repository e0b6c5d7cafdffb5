//! The order of an object's fields in the tree answer.
//!
//! `serde_json`'s map keeps its keys sorted, so `Value::to_string` writes a
//! group's `childConnectionGroups` and `childConnections` before its `name`.
//! Guacamole does not: Jackson writes a bean's properties in the order its class
//! declares them, and `APIConnectionGroup` (`rest/connectiongroup/
//! APIConnectionGroup.java`, no `@JsonPropertyOrder`) declares `name`,
//! `identifier`, `parentIdentifier`, `type`, `activeConnections`,
//! `childConnectionGroups`, `childConnections`, `attributes`; `APIConnection`
//! declares `name`, `identifier`, `parentIdentifier`, `protocol` first
//! (rest-api.md §5 shows the tree in that order). A reader that starts work on a
//! group as soon as it knows the group's path depends on the name coming first,
//! and must still read valid JSON in any other order: `Alphabetical` serves that.

use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};
use serde_json::Value;

/// How the tree answer orders each object's fields.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FieldOrder {
    /// As Guacamole writes them: the name, identifier and parent first, the
    /// children after them (the order among the later fields is not modeled
    /// exactly; it matters to no reader).
    #[default]
    Guacamole,
    /// Sorted by name, children before the name (valid JSON no Guacamole writes).
    Alphabetical,
}

/// The fields Guacamole's beans declare, in the order written; any other field
/// (a map's keys: attributes, parameters) follows, sorted.
const DECLARED: &[&str] = &[
    "name",
    "identifier",
    "parentIdentifier",
    "primaryConnectionIdentifier",
    "protocol",
    "type",
    "activeConnections",
    "childConnectionGroups",
    "childConnections",
    "sharingProfiles",
    "attributes",
    "lastActive",
];

/// `value` as JSON text, its objects' fields in `order`.
#[must_use]
pub fn to_json(value: &Value, order: FieldOrder) -> String {
    match order {
        FieldOrder::Alphabetical => value.to_string(),
        // Writing a `Value` to a string cannot fail.
        FieldOrder::Guacamole => serde_json::to_string(&Declared(value)).unwrap_or_default(),
    }
}

/// A value written with each object's declared fields first.
struct Declared<'a>(&'a Value);

impl Serialize for Declared<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Value::Object(map) => {
                let mut fields: Vec<(&String, &Value)> = map.iter().collect();
                // Sorted by name already; a stable sort keeps that among equals.
                fields.sort_by_key(|(k, _)| {
                    DECLARED
                        .iter()
                        .position(|d| d == k)
                        .unwrap_or(DECLARED.len())
                });
                let mut out = s.serialize_map(Some(fields.len()))?;
                for (k, v) in fields {
                    out.serialize_entry(k, &Declared(v))?;
                }
                out.end()
            }
            Value::Array(items) => {
                let mut out = s.serialize_seq(Some(items.len()))?;
                for v in items {
                    out.serialize_element(&Declared(v))?;
                }
                out.end()
            }
            other => other.serialize(s),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::{FieldOrder, to_json};

    #[test]
    fn a_group_is_written_name_first_or_sorted() {
        let tree = json!({
            "name": "ROOT", "identifier": "ROOT", "type": "ORGANIZATIONAL",
            "activeConnections": 0, "attributes": {},
            "childConnectionGroups": [{"name": "A", "identifier": "1",
                "parentIdentifier": "ROOT", "attributes": {"z": null, "max-connections": "2"}}],
            "childConnections": [{"name": "c", "identifier": "4", "protocol": "ssh"}],
        });
        assert_eq!(
            to_json(&tree, FieldOrder::Guacamole),
            concat!(
                r#"{"name":"ROOT","identifier":"ROOT","type":"ORGANIZATIONAL","activeConnections":0,"#,
                r#""childConnectionGroups":[{"name":"A","identifier":"1","parentIdentifier":"ROOT","#,
                r#""attributes":{"max-connections":"2","z":null}}],"#,
                r#""childConnections":[{"name":"c","identifier":"4","protocol":"ssh"}],"attributes":{}}"#
            )
        );
        let sorted = to_json(&tree, FieldOrder::Alphabetical);
        assert!(
            sorted.starts_with(
                r#"{"activeConnections":0,"attributes":{},"childConnectionGroups":[{"attributes""#
            ),
            "{sorted}"
        );
        let back: serde_json::Value = serde_json::from_str(&sorted).expect("valid JSON");
        assert_eq!(back, tree);
    }
}

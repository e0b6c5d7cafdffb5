//! The `attributes` of users and connection groups: only the keys written are
//! managed, a null (or empty, or for a BOOLEAN `false`) value clears one, and each
//! value is checked the way the JDBC data source reads it.

use std::collections::BTreeMap;

use super::Cx;
use super::is_null;
use crate::estate::schema::{AttributeValue, attribute_value};
use crate::manifest::check;
use crate::manifest::node::{Node, ScalarKind, Value};
use crate::schema::Field;

impl Cx<'_, '_> {
    /// `attributes`: only the keys written; a null or empty value clears. Names are
    /// checked against `fields` (a warning, as for connections: extensions add
    /// attributes), values as the data source reads them. Values of `sensitive`
    /// names are remembered for masking.
    pub fn attributes(
        &mut self,
        node: Node,
        what: &str,
        fields: &[Field],
        sensitive: &[&str],
    ) -> BTreeMap<String, Option<String>> {
        let mut out = BTreeMap::new();
        let type_name = node.type_name();
        let pairs = match node.value {
            Value::Map(pairs) => pairs,
            _ if is_null(&node) => return out,
            _ => {
                self.sink.error(
                    "invalid-type",
                    node.pos,
                    format!("`attributes` must be an object of names and values, not {type_name}"),
                    None,
                );
                return out;
            }
        };
        for (key, value) in pairs {
            let name = key.as_text().unwrap_or_default().to_owned();
            let field = fields.iter().find(|f| f.name == name);
            if field.is_none() {
                let help = check::hint_for(&name, self.sink)
                    .then(|| check::did_you_mean(&name, fields.iter().map(|f| f.name.as_str())))
                    .flatten()
                    .unwrap_or_else(|| {
                        format!("the server drops unknown attributes when it creates a {what}, unless an extension declares them")
                    });
                self.sink.strict_warning(
                    "unknown-attribute",
                    key.pos,
                    format!("{name:?} is not a {what} attribute of the JDBC data source"),
                    Some(help),
                );
            }
            if !check::no_nul("an attribute name", &name, key.pos, self.sink) {
                continue;
            }
            let text = match &value.value {
                Value::Scalar {
                    kind: ScalarKind::Null,
                    ..
                } => None,
                Value::Scalar { text, .. } => Some(text.clone()).filter(|t| !t.is_empty()),
                _ => {
                    self.sink.error(
                        "invalid-type",
                        value.pos,
                        format!(
                            "the value of attribute {name:?} must be text or null, not {}",
                            value.type_name()
                        ),
                        Some("null clears the attribute".to_owned()),
                    );
                    continue;
                }
            };
            let Some(text) = text else {
                out.insert(name, None);
                continue;
            };
            if sensitive.contains(&name.as_str()) && !crate::secret::has_reference(&text) {
                self.secrets.push((value.pos, text.clone()));
            }
            if !check::value_checks(&name, &text, value.pos, "attribute", self.sink) {
                continue;
            }
            let stored = match field.map(|f| attribute_value(f, &text)) {
                None => Some(text),
                Some(Ok(AttributeValue::Set(v))) => Some(v),
                Some(Ok(AttributeValue::Clear)) => None,
                Some(Err(expected)) => {
                    self.sink.error(
                        "invalid-attribute-value",
                        value.pos,
                        format!("attribute {name:?} must be {expected}"),
                        Some(format!(
                            "Guacamole ignores any other value silently, so the {what} would never match"
                        )),
                    );
                    continue;
                }
            };
            out.insert(name, stored);
        }
        out
    }
}

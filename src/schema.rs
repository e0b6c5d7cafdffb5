//! The protocol parameter schema and the JDBC connection attribute schema, embedded
//! from `schemas/` so that validation works offline.
//!
//! `schemas/protocols.json` is Guacamole's own list (HEAD, a superset of 1.6.0):
//! protocol name → fields with type and options. The KCM protocols `mysql`,
//! `postgresql` and `sql-server` are known protocols whose parameters are not
//! published, so their parameter names are not checked offline.
//!
//! When a plan is made, the server's own schema (`schema/protocols`, which
//! includes protocols added by extensions, and its attribute schemas) is read into
//! the same type with [`Schema::from_server`]: the server decides what exists.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

/// A form field type as Guacamole names it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum FieldType {
    Text,
    Numeric,
    Username,
    Password,
    Boolean,
    Enum,
    Multiline,
    Timezone,
    TerminalColorScheme,
    Email,
    Date,
    Time,
    #[serde(other)]
    Other,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Field {
    pub name: String,
    #[serde(rename = "type")]
    pub field_type: FieldType,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<String>,
}

impl Field {
    /// The canonical option that `value` means, for ENUM, BOOLEAN and
    /// `TERMINAL_COLOR_SCHEME` fields: upstream compares `value.toLowerCase().trim()`
    /// with each option (rest-api.md §11). Returns `None` when nothing matches (the
    /// value is then kept as written).
    #[must_use]
    pub fn canonical_option(&self, value: &str) -> Option<&str> {
        if !matches!(
            self.field_type,
            FieldType::Enum | FieldType::Boolean | FieldType::TerminalColorScheme
        ) {
            return None;
        }
        let wanted = value.to_lowercase();
        let wanted = wanted.trim();
        self.options
            .iter()
            .find(|o| o.as_str() == wanted || o.to_lowercase() == wanted)
            .map(String::as_str)
    }
}

/// A form: a named group of fields (Guacamole's schema endpoints return these).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Form {
    #[serde(default)]
    pub name: String,
    pub fields: Vec<Field>,
}

/// One protocol. `fields` is `None` for protocols whose parameters are not known
/// offline (the KCM database protocols).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Protocol {
    pub name: String,
    pub fields: Option<Vec<Field>>,
}

impl Protocol {
    #[must_use]
    pub fn field(&self, name: &str) -> Option<&Field> {
        self.fields.as_ref()?.iter().find(|f| f.name == name)
    }

    /// Whether parameter names can be checked for this protocol.
    #[must_use]
    pub fn is_checked(&self) -> bool {
        self.fields.is_some()
    }

    /// The closest known parameter name, for "did you mean".
    #[must_use]
    pub fn suggest_parameter(&self, name: &str) -> Option<&str> {
        suggest(name, self.fields.iter().flatten().map(|f| f.name.as_str()))
    }
}

/// Protocols that Keeper Connection Manager adds; their parameters are not published
/// in Guacamole's schema files, so they are accepted without offline checks.
pub const UNCHECKED_PROTOCOLS: &[&str] = &["mysql", "postgresql", "sql-server"];

/// Parameter names that are sensitive whatever their schema type says
/// (DESIGN.md §2). Every `PASSWORD`-typed field is sensitive too.
pub const SENSITIVE_PARAMETERS: &[&str] = &[
    "private-key",
    "passphrase",
    "sftp-private-key",
    "sftp-passphrase",
    "client-key",
    "gateway-password",
    "sftp-password",
];

/// The schema guacsync validates against: the bundled one, or a server's.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Schema {
    protocols: BTreeMap<String, Protocol>,
    connection_attributes: Vec<Field>,
    /// Known only from a server (`schema/connectionGroupAttributes`); empty in the
    /// bundled schema.
    #[serde(default)]
    connection_group_attributes: Vec<Field>,
    /// Protocol → the parameters its sharing profiles take (`sharingProfileForms`).
    #[serde(default)]
    sharing_profile_parameters: BTreeMap<String, Vec<Field>>,
}

static BUILTIN: OnceLock<Schema> = OnceLock::new();

impl Schema {
    /// The schema embedded from `schemas/` at build time.
    ///
    /// # Panics
    /// Never at run time: the embedded files are checked by a unit test.
    #[must_use]
    #[allow(clippy::expect_used)]
    pub fn builtin() -> &'static Self {
        BUILTIN.get_or_init(|| {
            Self::from_json(
                include_str!("../schemas/protocols.json"),
                include_str!("../schemas/connection-attributes.json"),
            )
            .expect("embedded schemas are valid")
            .with_sharing_profile_parameters(
                crate::estate::schema::EstateSchema::builtin()
                    .sharing_parameters
                    .clone(),
            )
        })
    }

    /// Builds a schema from `protocols.json` (name → field list) and
    /// `connection-attributes.json` (a list of forms).
    ///
    /// # Errors
    /// When either document does not have that shape.
    pub fn from_json(protocols: &str, attributes: &str) -> Result<Self, serde_json::Error> {
        let parsed: BTreeMap<String, Vec<Field>> = serde_json::from_str(protocols)?;
        let forms: Vec<Form> = serde_json::from_str(attributes)?;
        let mut protocols: BTreeMap<String, Protocol> = parsed
            .into_iter()
            .map(|(name, fields)| {
                (
                    name.clone(),
                    Protocol {
                        name,
                        fields: Some(fields),
                    },
                )
            })
            .collect();
        for name in UNCHECKED_PROTOCOLS {
            protocols
                .entry((*name).to_owned())
                .or_insert_with(|| Protocol {
                    name: (*name).to_owned(),
                    fields: None,
                });
        }
        Ok(Self {
            protocols,
            connection_attributes: forms.into_iter().flat_map(|f| f.fields).collect(),
            connection_group_attributes: Vec::new(),
            sharing_profile_parameters: BTreeMap::new(),
        })
    }

    /// This schema with the parameters each protocol's sharing profiles take
    /// (protocol → fields; from `sharingProfileForms`).
    #[must_use]
    pub fn with_sharing_profile_parameters(
        mut self,
        parameters: BTreeMap<String, Vec<Field>>,
    ) -> Self {
        self.sharing_profile_parameters = parameters;
        self
    }

    /// The parameters a sharing profile of a `protocol` connection takes; `None`
    /// when the schema does not say (a protocol it does not know).
    #[must_use]
    pub fn sharing_profile_parameters(&self, protocol: &str) -> Option<&[Field]> {
        self.sharing_profile_parameters
            .get(protocol)
            .map(Vec::as_slice)
    }

    /// A server's schema: its protocols (name → connection forms, as
    /// `schema/protocols` answers) and its connection and connection-group
    /// attribute forms. Every protocol it names is checked: a server that offers a
    /// KCM protocol publishes its parameters.
    #[must_use]
    pub fn from_server(
        protocols: BTreeMap<String, Vec<Form>>,
        connection_attributes: Vec<Form>,
        connection_group_attributes: Vec<Form>,
    ) -> Self {
        Self {
            protocols: protocols
                .into_iter()
                .map(|(name, forms)| {
                    let fields = forms.into_iter().flat_map(|f| f.fields).collect();
                    (
                        name.clone(),
                        Protocol {
                            name,
                            fields: Some(fields),
                        },
                    )
                })
                .collect(),
            connection_attributes: connection_attributes
                .into_iter()
                .flat_map(|f| f.fields)
                .collect(),
            connection_group_attributes: connection_group_attributes
                .into_iter()
                .flat_map(|f| f.fields)
                .collect(),
            sharing_profile_parameters: BTreeMap::new(),
        }
    }

    /// The protocol with exactly this name (protocol names are case-sensitive).
    #[must_use]
    pub fn protocol(&self, name: &str) -> Option<&Protocol> {
        self.protocols.get(name)
    }

    pub fn protocols(&self) -> impl Iterator<Item = &Protocol> {
        self.protocols.values()
    }

    /// For an unknown protocol: the known one it most likely means (same letters in
    /// another case first, then the closest by edit distance).
    #[must_use]
    pub fn suggest_protocol(&self, name: &str) -> Option<&str> {
        let lower = name.to_lowercase();
        if let Some(p) = self.protocols.keys().find(|k| k.to_lowercase() == lower) {
            return Some(p);
        }
        suggest(name, self.protocols.keys().map(String::as_str))
    }

    #[must_use]
    pub fn connection_attribute(&self, name: &str) -> Option<&Field> {
        self.connection_attributes.iter().find(|f| f.name == name)
    }

    pub fn connection_attributes(&self) -> &[Field] {
        &self.connection_attributes
    }

    /// The connection-group attributes (empty unless read from a server).
    pub fn connection_group_attributes(&self) -> &[Field] {
        &self.connection_group_attributes
    }

    /// The closest known connection attribute name, for "did you mean".
    #[must_use]
    pub fn suggest_attribute(&self, name: &str) -> Option<&str> {
        suggest(
            name,
            self.connection_attributes.iter().map(|f| f.name.as_str()),
        )
    }

    /// Whether a parameter's value must never be shown (DESIGN.md §2, §4): its
    /// schema type is PASSWORD in this protocol, its name is one of
    /// [`SENSITIVE_PARAMETERS`], or the protocol's schema does not know the name at
    /// all (`pasword` is most likely a password). For an unknown protocol, a name
    /// that is PASSWORD-typed in any known protocol counts, so nothing leaks by
    /// accident.
    #[must_use]
    pub fn is_sensitive_parameter(&self, protocol: &str, name: &str) -> bool {
        if SENSITIVE_PARAMETERS.contains(&name) {
            return true;
        }
        let is_password = |p: &Protocol| {
            p.field(name)
                .is_some_and(|f| f.field_type == FieldType::Password)
        };
        match self.protocols.get(protocol) {
            Some(p) if p.is_checked() => p
                .field(name)
                .is_none_or(|f| f.field_type == FieldType::Password),
            _ => self.protocols.values().any(is_password),
        }
    }
}

impl Schema {
    /// Every parameter name that is sensitive in some protocol.
    #[must_use]
    pub fn sensitive_names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = SENSITIVE_PARAMETERS.to_vec();
        for p in self.protocols.values() {
            for f in p.fields.iter().flatten() {
                if f.field_type == FieldType::Password && !names.contains(&f.name.as_str()) {
                    names.push(&f.name);
                }
            }
        }
        names
    }
}

/// The candidate closest to `name` by optimal-string-alignment distance (a swap of two letters counts once), if close enough to be a
/// plausible typo (at most a third of the name's length, and at least 1).
fn suggest<'a>(name: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (name.chars().count() / 3).max(1);
    candidates
        .map(|c| {
            (
                strsim::osa_distance(&name.to_lowercase(), &c.to_lowercase()),
                c,
            )
        })
        .filter(|(d, _)| *d <= limit)
        .min()
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_schema_loads_with_upstream_counts() {
        let s = Schema::builtin();
        let count = |p: &str| {
            s.protocol(p)
                .and_then(|p| p.fields.as_ref())
                .map_or(0, Vec::len)
        };
        // rest-api.md §10: counts at HEAD.
        assert_eq!(count("vnc"), 50);
        assert_eq!(count("rdp"), 90);
        assert_eq!(count("ssh"), 45);
        assert_eq!(count("telnet"), 37);
        assert_eq!(count("kubernetes"), 34);
        for kcm in UNCHECKED_PROTOCOLS {
            let p = s.protocol(kcm).expect("known");
            assert!(!p.is_checked());
        }
        assert_eq!(s.connection_attributes().len(), 7);
    }

    #[test]
    fn canonical_options() {
        let s = Schema::builtin();
        let rdp = s.protocol("rdp").expect("rdp");
        let security = rdp.field("security").expect("security");
        assert_eq!(security.canonical_option(" NLA "), Some("nla"));
        assert_eq!(security.canonical_option("bogus"), None);
        let ignore = rdp.field("ignore-cert").expect("ignore-cert");
        assert_eq!(ignore.canonical_option("TRUE"), Some("true"));
        let host = rdp.field("hostname").expect("hostname");
        assert_eq!(host.canonical_option("X"), None);
    }

    #[test]
    fn suggestions() {
        let s = Schema::builtin();
        assert_eq!(s.suggest_protocol("SSH"), Some("ssh"));
        assert_eq!(s.suggest_protocol("rpd"), Some("rdp"));
        assert_eq!(s.suggest_protocol("gopher"), None);
        let ssh = s.protocol("ssh").expect("ssh");
        assert_eq!(ssh.suggest_parameter("hostnme"), Some("hostname"));
        assert_eq!(ssh.suggest_parameter("zzzzzzzz"), None);
        assert_eq!(
            s.suggest_attribute("max-conections"),
            Some("max-connections")
        );
    }

    #[test]
    fn sensitivity() {
        let s = Schema::builtin();
        assert!(s.is_sensitive_parameter("rdp", "password"));
        assert!(s.is_sensitive_parameter("ssh", "private-key"));
        assert!(s.is_sensitive_parameter("mysql", "password"));
        assert!(!s.is_sensitive_parameter("rdp", "hostname"));
        assert!(!s.is_sensitive_parameter("rdp", "username"));
        // A name the protocol does not have is most likely a typo of a secret.
        assert!(s.is_sensitive_parameter("ssh", "pasword"));
        assert!(s.is_sensitive_parameter("ssh", "hostnme"));
        // KCM protocols publish no list: only names that are secrets elsewhere.
        assert!(!s.is_sensitive_parameter("mysql", "hostname"));
    }

    #[test]
    fn a_servers_schema_decides() {
        let field = |name: &str, t: FieldType| Field {
            name: name.into(),
            field_type: t,
            options: vec![],
        };
        let form = |fields: Vec<Field>| Form {
            name: "f".into(),
            fields,
        };
        let s = Schema::from_server(
            [(
                "ssh".to_owned(),
                vec![form(vec![
                    field("hostname", FieldType::Text),
                    field("password", FieldType::Password),
                    field("x-extension", FieldType::Text),
                ])],
            )]
            .into(),
            vec![form(vec![field("max-connections", FieldType::Numeric)])],
            vec![form(vec![field(
                "enable-session-affinity",
                FieldType::Boolean,
            )])],
        );
        let ssh = s.protocol("ssh").expect("ssh");
        assert!(ssh.is_checked());
        assert!(ssh.field("x-extension").is_some());
        assert!(ssh.field("port").is_none(), "only what the server says");
        assert!(s.protocol("rdp").is_none());
        assert!(!s.is_sensitive_parameter("ssh", "x-extension"));
        assert!(s.is_sensitive_parameter("ssh", "port"));
        assert_eq!(s.connection_attributes().len(), 1);
        assert_eq!(s.connection_group_attributes().len(), 1);
        assert!(Schema::builtin().connection_group_attributes().is_empty());
    }
}

/// The JSON Schema of JSON/YAML manifests (`schemas/manifest.schema.json`), built
/// from the same protocol and attribute data that validation uses, so the two never
/// disagree (a test compares it with the committed file).
#[must_use]
#[allow(clippy::too_many_lines)] // one JSON literal, clearer whole
pub fn manifest_json_schema(schema: &Schema) -> serde_json::Value {
    use serde_json::{Map, Value, json};
    let scalar = json!({"type": ["string", "number", "boolean", "null"]});
    let field_schema = |f: &Field| -> Value {
        let options: Vec<&str> = f
            .options
            .iter()
            .filter(|o| !o.is_empty())
            .map(String::as_str)
            .collect();
        let description = format!("{:?}", f.field_type).to_uppercase();
        // Values match options case-insensitively after trimming (upstream), and
        // numbers or booleans are written as text, so accept those spellings too;
        // the `enum` keeps editors' completion.
        let choices = |options: &[&str]| -> Value {
            let mut allowed: Vec<Value> = options.iter().map(|o| json!(o)).collect();
            for o in options {
                if let Ok(n) = o.parse::<i64>() {
                    allowed.push(json!(n));
                }
                if *o == "true" {
                    allowed.push(json!(true));
                }
            }
            let alternatives: Vec<String> = options
                .iter()
                .map(|o| {
                    o.chars()
                        .map(|c| {
                            if c.is_alphabetic() && c.to_lowercase().ne(c.to_uppercase()) {
                                format!("[{}{}]", c.to_lowercase(), c.to_uppercase())
                            } else if ".^$*+?()[]{}|\\/".contains(c) {
                                format!("\\{c}")
                            } else {
                                c.to_string()
                            }
                        })
                        .collect()
                })
                .collect();
            json!({
                "anyOf": [
                    {"enum": allowed},
                    {"type": "string", "pattern": format!("^\\s*(?:{})\\s*$", alternatives.join("|"))}
                ],
                "description": description
            })
        };
        match f.field_type {
            FieldType::Enum | FieldType::Boolean => choices(&options),
            FieldType::Numeric => {
                json!({"type": ["string", "integer"], "pattern": "^-?[0-9]+$", "description": description})
            }
            _ => json!({"type": ["string", "number", "boolean"], "description": description}),
        }
    };
    let mut per_protocol = Vec::new();
    for p in schema.protocols() {
        let Some(fields) = &p.fields else { continue };
        let properties: Map<String, Value> = fields
            .iter()
            .map(|f| (f.name.clone(), field_schema(f)))
            .collect();
        per_protocol.push(json!({
            "if": {"properties": {"protocol": {"const": p.name}}, "required": ["protocol"]},
            "then": {"properties": {"parameters": {
                "type": ["object", "null"],
                "properties": properties,
                "additionalProperties": false
            }}}
        }));
    }
    let attributes: Map<String, Value> = schema
        .connection_attributes()
        .iter()
        .map(|f| (f.name.clone(), field_schema(f)))
        .collect();
    let protocols: Vec<&str> = schema.protocols().map(|p| p.name.as_str()).collect();
    let names =
        json!({"type": ["array", "null"], "items": {"type": ["string", "number", "boolean"]}});
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "guacsync manifest",
        "description": "A list of Guacamole connections in the format of Guacamole's batch import (JSON or YAML). Generated from schemas/protocols.json and schemas/connection-attributes.json; do not edit by hand.",
        "type": "array",
        "items": {"$ref": "#/$defs/connection"},
        "$defs": {
            "connection": {
                "type": "object",
                "required": ["name", "protocol"],
                "properties": {
                    "name": {"type": ["string", "number"], "minLength": 1, "maxLength": 128},
                    "protocol": {"enum": protocols},
                    "group": {"type": "string", "description": "Group path such as ROOT/Prod/Web; `\\/` is a slash inside a group name"},
                    "parentIdentifier": {"type": ["string", "integer"], "description": "Server identifier of the parent group (ROOT or a number)"},
                    "parameters": {"type": ["object", "null"], "additionalProperties": scalar},
                    "attributes": {"type": ["object", "null"], "properties": attributes, "additionalProperties": scalar},
                    "users": names,
                    "groups": names
                },
                "not": {"required": ["group", "parentIdentifier"]},
                "allOf": per_protocol
            }
        }
    })
}

#[cfg(test)]
mod manifest_schema_tests {
    use super::*;

    /// The committed schema must equal the generated one; regenerate with
    /// `UPDATE_SCHEMAS=1 cargo test manifest_schema_file_is_current`.
    #[test]
    fn manifest_schema_file_is_current() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/schemas/manifest.schema.json");
        let generated = serde_json::to_string_pretty(&manifest_json_schema(Schema::builtin()))
            .expect("serialises")
            + "\n";
        if std::env::var_os("UPDATE_SCHEMAS").is_some() {
            std::fs::write(path, &generated).expect("writes the schema");
        }
        let committed = std::fs::read_to_string(path).expect("schemas/manifest.schema.json exists");
        assert!(
            committed == generated,
            "schemas/manifest.schema.json is stale; run with UPDATE_SCHEMAS=1"
        );
    }
}

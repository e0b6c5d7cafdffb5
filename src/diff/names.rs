//! "The server's schema decides what exists" (DESIGN.md §4): every parameter and
//! attribute name a manifest sets is looked up in the schema the server answered
//! (`schema/protocols`, `schema/connectionAttributes`). The server would store a
//! typo'd parameter and never use it, and would drop an unknown attribute on create
//! but keep it on replace, so a plan with an unknown name never settles. Pure: the
//! caller decides whether a finding is an error or, with
//! `allow_unknown_parameters`, a warning.

use std::fmt;

use crate::desired::Desired;
use crate::model::Source;
use crate::schema::Schema;

/// Which kind of name is unknown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NameKind {
    Parameter,
    Attribute,
}

/// One name the server's schema does not know.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownName {
    pub source: Source,
    /// The connection's name, as the manifest gives it.
    pub connection: String,
    pub protocol: String,
    pub kind: NameKind,
    pub name: String,
    /// The closest name the server does know, when one is close.
    pub suggestion: Option<String>,
}

impl fmt::Display for UnknownName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            NameKind::Parameter => write!(
                f,
                "connection {:?}: {:?} is not a parameter of protocol {} on this server",
                self.connection, self.name, self.protocol
            ),
            NameKind::Attribute => write!(
                f,
                "connection {:?}: {:?} is not a connection attribute on this server",
                self.connection, self.name
            ),
        }
    }
}

impl UnknownName {
    /// "did you mean `x`?", or what the server would do with the name.
    #[must_use]
    pub fn help(&self) -> String {
        match (&self.suggestion, self.kind) {
            (Some(s), _) => format!("did you mean `{s}`?"),
            (None, NameKind::Parameter) => {
                "the server would store it and never use it; set [sync] allow_unknown_parameters = true to send it anyway".to_owned()
            }
            (None, NameKind::Attribute) => {
                "the server drops an unknown attribute when it creates a connection and keeps it on a replace; set [sync] allow_unknown_parameters = true to send it anyway".to_owned()
            }
        }
    }
}

/// Whether a "did you mean" is worth its cost (see `manifest::check`).
fn hinted(name: &str) -> bool {
    name.chars().count() <= crate::manifest::check::MAX_HINTED_NAME_CHARS
}

/// Every parameter and attribute name of `desired` that `schema` does not know, in
/// manifest order. A protocol the schema does not offer, or publishes no parameter
/// list for, is not checked here (it is warned about on its own).
#[must_use]
pub fn unknown_names(desired: &Desired, schema: &Schema) -> Vec<UnknownName> {
    let mut out = Vec::new();
    for d in &desired.connections {
        let unknown = |kind: NameKind, name: &str, suggestion: Option<&str>| UnknownName {
            source: d.source.clone(),
            connection: d.name.clone(),
            protocol: d.protocol.clone(),
            kind,
            name: name.to_owned(),
            suggestion: suggestion.map(str::to_owned),
        };
        if let Some(protocol) = schema.protocol(&d.protocol).filter(|p| p.is_checked()) {
            for name in d.parameters.keys() {
                if protocol.field(name).is_none() {
                    let hint = hinted(name).then(|| protocol.suggest_parameter(name));
                    out.push(unknown(NameKind::Parameter, name, hint.flatten()));
                }
            }
        }
        for name in d.attributes.keys() {
            if schema.connection_attribute(name).is_none() {
                let hint = hinted(name).then(|| schema.suggest_attribute(name));
                out.push(unknown(NameKind::Attribute, name, hint.flatten()));
            }
        }
    }
    out
}

//! The desired state: manifest entries with their secret references resolved and
//! each parameter value marked sensitive or not. Building it is the only step
//! before `diff` that reads the environment and files; errors point at the entry's
//! manifest line and never contain a value.

use std::collections::BTreeMap;
use std::path::Path;

use crate::diagnostic::{Diagnostic, Severity};
use crate::model::{Entry, Parent, Source};
use crate::schema::Schema;
use crate::secret::{self, Lookup};
use crate::value::Value;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DesiredConnection {
    pub name: String,
    pub protocol: String,
    pub parent: Parent,
    pub parameters: BTreeMap<String, Value>,
    pub attributes: BTreeMap<String, String>,
    pub users: Vec<String>,
    pub groups: Vec<String>,
    pub source: Source,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Desired {
    pub connections: Vec<DesiredConnection>,
}

impl Desired {
    /// Resolves every entry. Entries with an unresolvable reference are left out
    /// and reported.
    #[must_use]
    pub fn build(
        entries: Vec<Entry>,
        lookup: &dyn Lookup,
        schema: &Schema,
    ) -> (Self, Vec<Diagnostic>) {
        let mut diagnostics = Vec::new();
        let mut connections = Vec::with_capacity(entries.len());
        for entry in entries {
            let base = Path::new(&entry.source.file)
                .parent()
                .map(Path::to_path_buf)
                .unwrap_or_default();
            let mut parameters = BTreeMap::new();
            let mut ok = true;
            for (name, written) in entry.parameters {
                let sensitive = schema.is_sensitive_parameter(&entry.protocol, &name);
                match secret::resolve(&written, &base, lookup) {
                    Ok(Some(resolved)) => {
                        parameters.insert(name, Value::resolved(resolved, written));
                    }
                    Ok(None) if sensitive && !secret::is_token_only(&written) => {
                        parameters.insert(name, Value::secret(written));
                    }
                    Ok(None) => {
                        parameters.insert(name, Value::plain(written));
                    }
                    Err(e) => {
                        ok = false;
                        diagnostics.push(Diagnostic {
                            severity: Severity::Error,
                            code: "unresolved-secret",
                            file: entry.source.file.clone(),
                            line: entry.source.line,
                            column: entry.source.column,
                            message: format!("connection {:?}, parameter {name:?}: {e}", entry.name),
                            help: Some("set the variable or create the file before planning; references are resolved when a plan is made".to_owned()),
                        });
                    }
                }
            }
            if ok {
                connections.push(DesiredConnection {
                    name: entry.name,
                    protocol: entry.protocol,
                    parent: entry.parent,
                    parameters,
                    attributes: entry.attributes,
                    users: entry.users,
                    groups: entry.groups,
                    source: entry.source,
                });
            }
        }
        (Self { connections }, diagnostics)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::GroupPath;

    struct Env;
    impl Lookup for Env {
        fn env(&self, name: &str) -> Option<String> {
            (name == "PW").then(|| "from-env".to_owned())
        }
        fn read_file(&self, path: &Path) -> Result<String, String> {
            if path == Path::new("manifests/../secrets/key") {
                Ok("KEY\n".to_owned())
            } else {
                Err("No such file or directory (os error 2)".to_owned())
            }
        }
    }

    fn entry(params: &[(&str, &str)]) -> Entry {
        Entry {
            name: "web".into(),
            protocol: "ssh".into(),
            parent: Parent::Group(GroupPath::root()),
            parameters: params
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            attributes: BTreeMap::new(),
            users: vec![],
            groups: vec![],
            source: Source {
                file: "manifests/web.yaml".into(),
                line: 3,
                column: 3,
            },
        }
    }

    #[test]
    fn resolves_and_marks_sensitivity() {
        let (d, diags) = Desired::build(
            vec![entry(&[
                ("hostname", "h"),
                ("password", "${env:PW}"),
                ("private-key", "${file:../secrets/key}"),
                ("passphrase", "literal"),
                ("username", "${GUAC_USERNAME}"),
            ])],
            &Env,
            Schema::builtin(),
        );
        assert!(diags.is_empty(), "{diags:?}");
        let p = &d.connections[0].parameters;
        assert_eq!(p["password"].expose(), "from-env");
        assert_eq!(p["password"].shown(), "${env:PW}");
        assert_eq!(p["private-key"].expose(), "KEY");
        assert!(p["passphrase"].is_sensitive());
        assert_eq!(p["passphrase"].shown(), "(sensitive)");
        assert!(!p["hostname"].is_sensitive());
        assert!(!p["username"].is_sensitive());
    }

    #[test]
    fn unresolvable_references_are_errors_at_the_entry() {
        let (d, diags) = Desired::build(
            vec![entry(&[("password", "${env:NOPE}")])],
            &Env,
            Schema::builtin(),
        );
        assert!(d.connections.is_empty());
        assert_eq!(diags.len(), 1);
        assert_eq!((diags[0].code, diags[0].line), ("unresolved-secret", 3));
        assert!(diags[0].message.contains("NOPE"));
    }
}

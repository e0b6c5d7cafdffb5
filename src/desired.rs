//! The desired state: manifest entries with their secret references resolved and
//! each parameter value marked sensitive or not. Building it is the only step
//! before `diff` that reads the environment and files; errors point at the entry's
//! manifest line and never contain a value.

use std::collections::BTreeMap;
use std::path::Path;

use crate::diagnostic::{Diagnostic, Severity};
use crate::fields::Fields;
use crate::model::{Entry, Parent, Source};
use crate::plan::{SecretKind, SecretUse};
use crate::schema::Schema;
use crate::secret::{self, Lookup};
use crate::value::Value;

mod estate;
pub use estate::{
    Attributes, DesiredEstate, DesiredGroup, DesiredSharingProfile, DesiredUser, DesiredUserGroup,
    ReadLists,
};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DesiredConnection {
    pub name: String,
    pub protocol: String,
    pub parent: Parent,
    pub parameters: Fields<Value>,
    pub attributes: Fields<String>,
    pub users: Vec<String>,
    pub groups: Vec<String>,
    pub source: Source,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Desired {
    pub connections: Vec<DesiredConnection>,
    /// The other kinds the estate documents declare (DESIGN.md §8).
    pub estate: DesiredEstate,
    /// The secret references resolved (names and paths, never values), sorted,
    /// for the plan's "secrets used" section.
    pub secrets_used: Vec<SecretUse>,
    /// No `[secrets]` section: any variable of the job could be referenced, which
    /// every plan says.
    pub env_unrestricted: bool,
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
        Self::build_with_estate(entries, crate::estate::Estate::default(), lookup, schema)
    }

    /// [`Desired::build`], with the estate documents' objects resolved too
    /// (passwords, sharing-profile parameters and attribute values under the same
    /// references and allow-lists; their references counted in "secrets used").
    #[must_use]
    pub fn build_with_estate(
        entries: Vec<Entry>,
        estate: crate::estate::Estate,
        lookup: &dyn Lookup,
        schema: &Schema,
    ) -> (Self, Vec<Diagnostic>) {
        let mut diagnostics = Vec::new();
        let mut connections = Vec::with_capacity(entries.len());
        let mut used: BTreeMap<secret::Used, (usize, Source)> = BTreeMap::new();
        let mut this = Vec::new();
        for entry in entries {
            let base = Path::new(&entry.source.file)
                .parent()
                .map(Path::to_path_buf)
                .unwrap_or_default();
            let mut parameters = Vec::new();
            let mut ok = true;
            for (name, written) in entry.parameters {
                let sensitive = schema.is_sensitive_parameter(&entry.protocol, &name);
                this.clear();
                match secret::resolve(&written, &base, lookup, &mut this) {
                    Ok(Some(resolved)) => {
                        if let Some(d) = too_long(&resolved, &this, &entry.source, &|| {
                            format!("connection {:?}, parameter {name:?}", entry.name)
                        }) {
                            ok = false;
                            diagnostics.push(d);
                        }
                        for u in this.drain(..) {
                            used.entry(u).or_insert_with(|| (0, entry.source.clone())).0 += 1;
                        }
                        parameters.push((name, Value::resolved(resolved, written)));
                    }
                    Ok(None) if sensitive && !secret::is_token_only(&written) => {
                        parameters.push((name, Value::secret(written)));
                    }
                    Ok(None) => {
                        parameters.push((name, Value::plain(written)));
                    }
                    Err(e) => {
                        ok = false;
                        let (code, help) = if e.is_refusal() {
                            (
                                "secret-not-allowed",
                                "a reference may name only what guacsync.toml's [secrets] section allows (env: variable names or globs; files: directories), never guacsync's own credentials; see SECURITY.md",
                            )
                        } else {
                            (
                                "unresolved-secret",
                                "set the variable or create the file before planning; references are resolved when a plan is made",
                            )
                        };
                        diagnostics.push(Diagnostic {
                            severity: Severity::Error,
                            code,
                            file: entry.source.file.clone(),
                            line: entry.source.line,
                            column: entry.source.column,
                            message: format!(
                                "connection {:?}, parameter {name:?}: {e}",
                                entry.name
                            ),
                            help: Some(help.to_owned()),
                        });
                    }
                }
            }
            if ok {
                connections.push(DesiredConnection {
                    name: entry.name,
                    protocol: entry.protocol,
                    parent: entry.parent,
                    // In name order already (a `Fields`); collecting sizes it exactly.
                    parameters: parameters.into_iter().collect(),
                    attributes: entry.attributes,
                    users: entry.users,
                    groups: entry.groups,
                    source: entry.source,
                });
            }
        }
        let (estate, estate_diagnostics) = estate::resolve(estate, lookup, &mut used);
        diagnostics.extend(estate_diagnostics);
        let secrets_used = used
            .into_iter()
            .map(|(u, (uses, first))| {
                let (kind, name) = match u {
                    secret::Used::Env(n) => (SecretKind::Env, n),
                    secret::Used::File(p) => (SecretKind::File, p),
                };
                SecretUse {
                    kind,
                    name,
                    uses,
                    first_use: first.to_string(),
                }
            })
            .collect();
        (
            Self {
                connections,
                estate,
                secrets_used,
                env_unrestricted: lookup.env_unrestricted(),
            },
            diagnostics,
        )
    }
}

/// The error for a resolved value longer than Guacamole stores, if it is: a
/// parameter or attribute value is at most 4096 characters (the `PostgreSQL`
/// schema's `varchar(4096)`; 1.6.0 refuses a longer parameter with 413
/// `DATABASE_PARAMETER_VALUE_TOO_LONG`, 1.5.x fails in the database part way
/// through, rest-api.md §3). The manifest check sees only what is written, so
/// a `${file:}` of up to 64 KiB is checked here, before anything is sent. The
/// message names the references, never the value.
pub(crate) fn too_long(
    resolved: &str,
    used: &[secret::Used],
    source: &Source,
    what: &dyn Fn() -> String,
) -> Option<Diagnostic> {
    let limit = crate::manifest::check::MAX_VALUE_UTF16;
    if resolved.encode_utf16().count() <= limit {
        return None;
    }
    let refs: Vec<String> = used
        .iter()
        .map(|u| match u {
            secret::Used::Env(n) => format!("${{env:{n}}}"),
            secret::Used::File(p) => format!("${{file:{p}}}"),
        })
        .collect();
    Some(Diagnostic {
        severity: Severity::Error,
        code: "value-too-long",
        file: source.file.clone(),
        line: source.line,
        column: source.column,
        message: format!(
            "{}: the value of {} is longer than {limit} characters once resolved",
            what(),
            refs.join(" and ")
        ),
        help: Some(format!(
            "Guacamole stores at most {limit} characters in a parameter or attribute value and refuses a longer one (413 on 1.6.0; on 1.5.x a database error part way through the sync)"
        )),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::GroupPath;

    struct Env;
    impl Lookup for Env {
        fn env(&self, name: &str) -> Result<String, secret::ResolveError> {
            match name {
                "PW" => Ok("from-env".to_owned()),
                "BLOCKED" => Err(secret::ResolveError::EnvRefused {
                    name: name.to_owned(),
                    reason: "not allowed".to_owned(),
                }),
                _ => Err(secret::ResolveError::EnvUnset(name.to_owned())),
            }
        }
        fn read_file(
            &self,
            path: &Path,
            _: &Path,
        ) -> Result<(String, String), secret::ResolveError> {
            if path == Path::new("manifests/../secrets/key") {
                Ok(("KEY".to_owned(), "secrets/key".to_owned()))
            } else {
                Err(secret::ResolveError::File {
                    path: path.to_owned(),
                    reason: "No such file or directory (os error 2)".to_owned(),
                })
            }
        }
        fn env_unrestricted(&self) -> bool {
            false
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
            attributes: Fields::new(),
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
        let used: Vec<(SecretKind, &str, usize)> = d
            .secrets_used
            .iter()
            .map(|u| (u.kind, u.name.as_str(), u.uses))
            .collect();
        assert_eq!(
            used,
            vec![
                (SecretKind::Env, "PW", 1),
                (SecretKind::File, "secrets/key", 1)
            ]
        );
        assert_eq!(d.secrets_used[0].first_use, "manifests/web.yaml:3");
    }

    #[test]
    fn refused_references_have_their_own_code() {
        let (d, diags) = Desired::build(
            vec![entry(&[("password", "${env:BLOCKED}")])],
            &Env,
            Schema::builtin(),
        );
        assert!(d.connections.is_empty() && d.secrets_used.is_empty());
        assert_eq!(diags[0].code, "secret-not-allowed");
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

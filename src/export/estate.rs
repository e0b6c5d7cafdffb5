//! `export --estate` (DESIGN.md §8, issue 13): what a server holds beyond its
//! connections, as the objects of an estate document that a plan reads back as
//! "no changes". Pure: `Observed` in, an `Estate` out (written by
//! `estate::write`).
//!
//! What goes in: every user and user group (the login account excepted) with
//! `disabled`, attributes, members, system permissions and object permissions;
//! the connection groups (type, attributes) and sharing profiles (parameters) of
//! the scope; READ on groups and sharing profiles as their `users`/`groups` lists,
//! as the connection export does for connections. Object permissions on
//! connections, groups and sharing profiles are listed where a principal holds
//! more than READ (with READ too when held, so the list is the whole truth for
//! that target); on users and user groups every permission is listed, READ
//! included, since no list carries those. Everything read is written exactly
//! (`system: []`, `{}`), so a later change on the server shows in a plan.
//!
//! What cannot be written exactly is left out where absence means "left alone"
//! (DESIGN.md §8), never half-written, and a warning names it: a name an estate
//! document cannot hold (white space around it, over 128 characters, a NUL),
//! a value the reader would rewrite, a member or grant of a principal whose
//! permissions the server's web container would not let guacsync read. Passwords
//! cannot be read back at all, so none is written.
//!
//! `checks` says what can be written so that it reads back the same, `tree`
//! exports connection groups and sharing profiles, `principals` users and user
//! groups with their members and permissions.

mod checks;
mod principals;
#[cfg(test)]
mod tests;
mod tree;

use std::collections::{BTreeSet, HashMap};

use super::{Secrets, env_var_name, unique_env};
use crate::estate::model::{Estate, Ref, SharingProfileKey};
use crate::model::{ConnKey, GroupPath, Principal, Source};
use crate::observed::Observed;
use crate::secret;

pub use checks::is_sensitive_sharing_parameter;

/// A sensitive value (a user attribute, a sharing profile parameter) left out or
/// replaced by a reference.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EstateSecret {
    /// `user "alice"`, `sharing profile ROOT/Prod/web-1/watch`.
    pub object: String,
    /// `attribute guac-totp-key-secret`, `parameter pasword`.
    pub field: String,
    /// The environment variable that now holds it (`env-ref`).
    pub env: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExportedEstate {
    pub estate: Estate,
    pub secrets: Vec<EstateSecret>,
    /// What was left out and why; what reads as a secret reference.
    pub warnings: Vec<String>,
}

/// Where exported objects say they come from: nowhere in a file.
pub(super) fn nowhere() -> Source {
    Source {
        file: String::new(),
        line: 0,
        column: 0,
    }
}

pub(super) fn at<T>(target: T) -> Ref<T> {
    Ref {
        target,
        source: nowhere(),
    }
}

pub(super) struct Cx<'o> {
    pub observed: &'o Observed,
    scope: &'o [GroupPath],
    mode: Secrets,
    used_env: &'o mut BTreeSet<String>,
    pub out: ExportedEstate,
    /// Objects by server identifier, for permission targets.
    pub connections: HashMap<&'o str, &'o ConnKey>,
    pub groups: HashMap<&'o str, &'o GroupPath>,
    pub profiles: HashMap<&'o str, &'o SharingProfileKey>,
    /// Principals whose names cannot be written (each warned about once).
    unnameable: BTreeSet<Principal>,
}

impl Cx<'_> {
    pub fn in_scope(&self, path: &GroupPath) -> bool {
        self.scope.is_empty() || self.scope.iter().any(|s| path.starts_with(s))
    }

    pub fn warn(&mut self, text: String) {
        self.out.warnings.push(text);
    }

    /// Whether a principal can be named in a list; warns once when it cannot.
    pub fn nameable(&mut self, principal: &Principal) -> bool {
        let Some(why) = checks::unnameable(principal.name()) else {
            return true;
        };
        if self.unnameable.insert(principal.clone()) {
            self.warn(format!(
                "{principal} cannot be written in an estate document ({why}): it is left out, and so is every list that would name it, which a plan then leaves alone"
            ));
        }
        false
    }

    /// A READ list of principals for an object, `None` (left alone) when one of
    /// them cannot be named.
    pub fn list(
        &mut self,
        names: &BTreeSet<String>,
        principal: fn(String) -> Principal,
    ) -> Option<Vec<Ref<String>>> {
        let mut out = Vec::with_capacity(names.len());
        for n in names {
            if !self.nameable(&principal(n.clone())) {
                return None;
            }
            out.push(at(n.clone()));
        }
        Some(out)
    }

    /// A sensitive value: left out (`None`), replaced by a reference, or kept.
    pub fn secret(
        &mut self,
        object: String,
        field: String,
        parts: &[&str],
        value: &str,
    ) -> Option<String> {
        match self.mode {
            Secrets::Include => Some(value.to_owned()),
            Secrets::Omit => {
                self.out.secrets.push(EstateSecret {
                    object,
                    field,
                    env: None,
                });
                None
            }
            Secrets::EnvRef => {
                let env = unique_env(&env_var_name(parts.iter().copied()), self.used_env);
                let reference = format!("${{env:{env}}}");
                self.out.secrets.push(EstateSecret {
                    object,
                    field,
                    env: Some(env),
                });
                Some(reference)
            }
        }
    }

    /// A written value that a plan would resolve as a secret reference.
    pub fn reference_warning(&mut self, object: &str, field: &str, value: &str) {
        if secret::has_reference(value) {
            self.warn(format!(
                "{object}: {field} holds text that reads as a secret reference; a plan would resolve it"
            ));
        }
    }
}
/// What `observed` holds beyond connections, as estate objects: connection
/// groups and sharing profiles under `scope` (all when empty), every user and
/// user group but the login account. Sensitive values follow `secrets`; the
/// names of the environment variables `env-ref` makes avoid `used_env` (the
/// connection export's) and are added to it.
#[must_use]
pub fn export_estate(
    observed: &Observed,
    scope: &[GroupPath],
    secrets: Secrets,
    used_env: &mut BTreeSet<String>,
) -> ExportedEstate {
    let readers = tree::readers(observed);
    let mut cx = Cx {
        observed,
        scope,
        mode: secrets,
        used_env,
        out: ExportedEstate::default(),
        connections: observed
            .connections
            .iter()
            .map(|(k, c)| (c.identifier.as_str(), k))
            .collect(),
        groups: observed
            .groups
            .iter()
            .map(|(p, g)| (g.identifier.as_str(), p))
            .collect(),
        profiles: observed
            .sharing_profiles
            .iter()
            .map(|(k, s)| (s.identifier.as_str(), k))
            .collect(),
        unnameable: BTreeSet::new(),
    };
    tree::connection_groups(&mut cx, &readers);
    tree::sharing_profiles(&mut cx, &readers);
    principals::user_groups(&mut cx);
    principals::users(&mut cx);
    cx.out
}

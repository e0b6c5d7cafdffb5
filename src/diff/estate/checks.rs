//! The estate rules that refuse a plan or warn (DESIGN.md §8), each error at the
//! document line it is about: objects and permission targets outside the scope
//! groups, the login account's declared fields (skipped, with a warning),
//! password resets naming users without a declared password, `AUDIT` on a
//! server that lacks it, sharing-profile parameters the server's schema does not
//! know, and objects a document names that the same plan would remove.

use std::collections::{BTreeMap, BTreeSet};

use super::super::{Diff, PasswordResets, error};
use super::Declared;
use crate::desired::{DesiredConnection, DesiredEstate, DesiredUser};
use crate::estate::{Grant, Permissions, SystemPermission};
use crate::model::{ConnKey, GroupPath, Principal, Source};
use crate::plan::Warning;

/// Every permission target of a principal's `permissions` that lies in a group:
/// (the group it lies in, what it is, where it is written).
fn placed_targets(p: &Permissions) -> Vec<(&GroupPath, String, &Source)> {
    fn each<'a, T>(
        grants: Option<&'a Vec<Grant<T>>>,
        group: fn(&T) -> &GroupPath,
        out: &mut Vec<(&'a GroupPath, String, &'a Source)>,
        what: fn(&T) -> String,
    ) {
        for g in grants.into_iter().flatten() {
            out.push((
                group(&g.target.target),
                what(&g.target.target),
                &g.target.source,
            ));
        }
    }
    let mut out = Vec::new();
    each(
        p.connections.as_ref(),
        |k: &ConnKey| &k.group,
        &mut out,
        |k| format!("connection {k}"),
    );
    each(
        p.connection_groups.as_ref(),
        |g: &GroupPath| g,
        &mut out,
        |g| format!("connection group {g}"),
    );
    each(
        p.sharing_profiles.as_ref(),
        |k: &crate::estate::SharingProfileKey| &k.connection.group,
        &mut out,
        |k| format!("sharing profile {k}"),
    );
    out
}

impl Diff<'_> {
    fn in_scope(&self, path: &GroupPath) -> bool {
        self.options.scope.is_empty() || self.options.scope.iter().any(|s| path.starts_with(s))
    }

    fn outside_scope(&mut self, source: &Source, what: &str) {
        let scopes: Vec<String> = self.options.scope.iter().map(ToString::to_string).collect();
        self.errors.push(error(
            Some(source),
            format!("{what} is outside every scope group ({})", scopes.join(", ")),
            Some("with a scope, declared groups, sharing profiles and permission targets must lie inside it; add the group to [scope] groups"),
        ));
    }

    /// With a scope, declared groups, sharing profiles and permission targets
    /// must lie inside it.
    pub(super) fn check_scope(&mut self, declared: &Declared<'_>) {
        if self.options.scope.is_empty() {
            return;
        }
        for (path, g) in &declared.groups {
            if !self.in_scope(path) {
                self.outside_scope(&g.source, &format!("connection group {path}"));
            }
        }
        for (key, p) in &declared.profiles {
            if !self.in_scope(&key.connection.group) {
                self.outside_scope(&p.source, &format!("sharing profile {key}"));
            }
        }
        let permissions = declared
            .user_groups
            .values()
            .map(|g| &g.permissions)
            .chain(declared.users.values().map(|u| &u.permissions));
        let mut outside = Vec::new();
        for p in permissions {
            for (group, what, source) in placed_targets(p) {
                if !self.in_scope(group) {
                    outside.push((source.clone(), what));
                }
            }
        }
        for (source, what) in outside {
            self.outside_scope(&source, &format!("the permission target {what}"));
        }
    }

    /// The login account is never changed: what a document declares on it is
    /// skipped, with a warning.
    pub(super) fn login_account_declared(&mut self, u: &DesiredUser) {
        let mut fields = Vec::new();
        if u.password.is_some() {
            fields.push("password");
        }
        if u.disabled.is_some() {
            fields.push("disabled");
        }
        if !u.attributes.is_empty() {
            fields.push("attributes");
        }
        if u.system.is_some() {
            fields.push("system");
        }
        if !u.permissions.is_empty() {
            fields.push("permissions");
        }
        if fields.is_empty() {
            return;
        }
        self.warnings.push(Warning {
            code: "login-account".into(),
            message: format!(
                "{}: user {:?} is the account guacsync logs in as, which guacsync never changes; its declared {} are left alone",
                u.source,
                u.username,
                fields.join(", ")
            ),
        });
    }

    /// The users whose declared password is sent again; an error for a named
    /// user that is not declared, has no declared password, or is the login
    /// account.
    pub(super) fn password_resets(&mut self, estate: &DesiredEstate) -> BTreeSet<String> {
        let me = self.observed.session_user.clone();
        match &self.options.reset_passwords {
            PasswordResets::None => BTreeSet::new(),
            PasswordResets::All => estate
                .users
                .iter()
                .filter(|u| u.password.is_some() && u.username != me)
                .map(|u| u.username.clone())
                .collect(),
            PasswordResets::Named(names) => {
                let mut out = BTreeSet::new();
                for name in names {
                    let problem = match estate.user(name) {
                        None => Some(format!(
                            "--reset-password {name}: no estate document declares user {name:?}"
                        )),
                        Some(_) if *name == me => Some(format!(
                            "--reset-password {name}: {name:?} is the account guacsync logs in as, which guacsync never changes"
                        )),
                        Some(u) if u.password.is_none() => Some(format!(
                            "--reset-password {name}: user {name:?} has no declared password ({})",
                            u.source
                        )),
                        Some(_) => None,
                    };
                    match problem {
                        Some(message) => self.errors.push(error(
                            None,
                            message,
                            Some("declare `password: ${env:NAME}` on the user, or leave it out of --reset-password"),
                        )),
                        None => {
                            out.insert(name.clone());
                        }
                    }
                }
                out
            }
        }
    }

    /// `AUDIT` exists from Guacamole 1.6.0 on; a 1.5.x server would fail the
    /// permission PATCH half way (rest-api.md §6, docs/guacamole-versions.md §8).
    pub(super) fn check_system_permissions(&mut self, declared: &Declared<'_>) {
        if !self.observed.object_by_object {
            return;
        }
        let systems = declared
            .user_groups
            .values()
            .filter_map(|g| g.system.as_ref())
            .chain(declared.users.values().filter_map(|u| u.system.as_ref()));
        let audits: Vec<Source> = systems
            .flatten()
            .filter(|r| r.target == SystemPermission::Audit)
            .map(|r| r.source.clone())
            .collect();
        for source in audits {
            self.errors.push(error(
                Some(&source),
                "the system permission AUDIT does not exist on this server (Guacamole 1.5.x; it came with 1.6.0)".to_owned(),
                Some("remove AUDIT from `system`, or upgrade the server"),
            ));
        }
    }

    /// Sharing-profile parameters are checked against the `sharingProfileForms`
    /// of the connection's protocol in the server's schema.
    pub(super) fn check_sharing_parameters(
        &mut self,
        declared: &Declared<'_>,
        wanted: &BTreeMap<ConnKey, &DesiredConnection>,
    ) {
        let schema = self.schema;
        let mut found = Vec::new();
        for (key, p) in &declared.profiles {
            let Some(parameters) = &p.parameters else {
                continue;
            };
            let protocol = wanted
                .get(&key.connection)
                .map(|d| d.protocol.as_str())
                .or_else(|| {
                    self.observed
                        .connections
                        .get(&key.connection)
                        .map(|c| c.protocol.as_str())
                });
            let Some(fields) = protocol.and_then(|p| schema.sharing_profile_parameters(p)) else {
                continue;
            };
            for name in parameters.keys() {
                if fields.iter().any(|f| f.name == *name) {
                    continue;
                }
                let names: Vec<&str> = fields.iter().map(|f| f.name.as_str()).collect();
                let hint = crate::manifest::check::did_you_mean(name, names.iter().copied())
                    .unwrap_or_else(|| {
                        if names.is_empty() {
                            "sharing profiles of this protocol take no parameters".to_owned()
                        } else {
                            format!("they take {}", names.join(", "))
                        }
                    });
                found.push((
                    p.source.clone(),
                    format!(
                        "sharing profile {key}: {name:?} is not a sharing profile parameter of protocol {} on this server",
                        protocol.unwrap_or_default()
                    ),
                    hint,
                ));
            }
        }
        for (source, message, hint) in found {
            if self.options.allow_unknown_parameters {
                self.warnings.push(Warning {
                    code: "unknown-name".into(),
                    message: format!("{source}: {message} (sent: allow_unknown_parameters)"),
                });
            } else {
                self.errors.push(error(Some(&source), message, Some(&hint)));
            }
        }
    }

    /// Objects a document or manifest names that the same plan would remove:
    /// with `[scope] principals = "all"`, a principal named anywhere must be
    /// declared; a declared sharing profile's connection, and a permission
    /// target, must not be pruned.
    pub(in crate::diff) fn check_removed_references(
        &mut self,
        declared: &Declared<'_>,
        wanted: &BTreeMap<ConnKey, &DesiredConnection>,
        removed_connections: &BTreeSet<&ConnKey>,
        removed_profiles: &BTreeSet<crate::kinds::ObjectKey>,
        named: &[(Principal, Source, String)],
    ) {
        if self.options.prune && self.options.principals == super::super::Ownership::All {
            let me = &self.observed.session_user;
            let mut reported = BTreeSet::new();
            for (p, source, by) in named {
                let is_declared = match p {
                    Principal::User(u) => declared.users.contains_key(u) || u == me,
                    Principal::UserGroup(g) => declared.user_groups.contains_key(g),
                };
                if is_declared || !reported.insert(p.clone()) {
                    continue;
                }
                self.errors.push(error(
                    Some(source),
                    format!("{by} {p}, which no estate document declares; with [scope] principals = \"all\" and prune it would be removed"),
                    Some("declare it in an estate document (a `users` or `userGroups` item), or stop naming it"),
                ));
            }
        }
        for (key, p) in &declared.profiles {
            if removed_connections.contains(&key.connection) {
                self.errors.push(error(
                    Some(&p.connection_source),
                    format!("sharing profile {key} belongs to connection {}, which this plan removes (no manifest declares it)", key.connection),
                    Some("declare the connection in a manifest, or remove the sharing profile"),
                ));
            }
        }
        let permissions = declared
            .user_groups
            .values()
            .map(|g| (&g.permissions, format!("user group {:?}", g.name)))
            .chain(
                declared
                    .users
                    .values()
                    .map(|u| (&u.permissions, format!("user {:?}", u.username))),
            );
        let mut problems = Vec::new();
        for (p, by) in permissions {
            for g in p.connections.iter().flatten() {
                let k = &g.target.target;
                if !wanted.contains_key(k) && removed_connections.contains(k) {
                    problems.push((g.target.source.clone(), format!("{by} has permissions on connection {k}, which this plan removes (no manifest declares it)")));
                }
            }
            for g in p.sharing_profiles.iter().flatten() {
                let k = super::sharing_key(&g.target.target);
                if removed_profiles.contains(&k)
                    || removed_connections.contains(&g.target.target.connection)
                {
                    problems.push((g.target.source.clone(), format!("{by} has permissions on {k}, which this plan removes (no document declares it)")));
                }
            }
        }
        for (source, message) in problems {
            self.errors.push(error(
                Some(&source),
                message,
                Some("declare it, or remove the permission"),
            ));
        }
    }
}

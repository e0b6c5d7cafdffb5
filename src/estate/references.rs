//! References between documents: a member user or group, a principal given READ,
//! a sharing profile's connection, a permission target. Each is recorded with the
//! place it was written at ([`Estate::references`]); whether its target exists
//! can only be decided with the server in view, so [`unresolved`] takes what the
//! server holds as an [`Existing`] and is called when a plan is made. `validate`
//! alone checks each reference's syntax (paths, names) while reading.

use std::collections::HashSet;
use std::fmt;

use super::model::{Estate, Grant, Permissions, Ref, SharingProfile, SharingProfileKey};
use crate::diagnostic::{Diagnostic, Severity};
use crate::model::{ConnKey, Entry, GroupPath, Parent, Source};

/// The connections of manifest entries that name their group by path, as
/// [`unresolved`] takes them.
pub fn entry_connections(entries: &[Entry]) -> impl Iterator<Item = (&GroupPath, &str)> {
    entries.iter().filter_map(|e| match &e.parent {
        Parent::Group(g) => Some((g, e.name.as_str())),
        Parent::Identifier(_) => None,
    })
}

/// What a reference names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Target<'a> {
    Connection(&'a ConnKey),
    ConnectionGroup(&'a GroupPath),
    SharingProfile(&'a SharingProfileKey),
    User(&'a str),
    UserGroup(&'a str),
}

impl fmt::Display for Target<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Connection(k) => write!(f, "connection {k}"),
            Self::ConnectionGroup(p) => write!(f, "connection group {p}"),
            Self::SharingProfile(k) => write!(f, "sharing profile {k}"),
            Self::User(u) => write!(f, "user {u:?}"),
            Self::UserGroup(g) => write!(f, "user group {g:?}"),
        }
    }
}

/// One reference: its target, where it was written, and what wrote it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reference<'a> {
    pub target: Target<'a>,
    pub source: &'a Source,
    /// The declaring object and how it refers, e.g. `user group "ops" lists as a
    /// member`.
    pub context: String,
}

/// What the server holds. Implemented over the observed server when a plan is
/// made; [`unresolved`] asks it only for targets no document declares.
pub trait Existing {
    fn has(&self, target: Target<'_>) -> bool;
}

impl Estate {
    /// Every reference, in declaration order.
    #[must_use]
    pub fn references(&self) -> Vec<Reference<'_>> {
        let mut out = Vec::new();
        let mut push = |target, source, context: &dyn Fn() -> String| {
            out.push(Reference {
                target,
                source,
                context: context(),
            });
        };
        for g in &self.connection_groups {
            for (target, r) in read_lists(g.users.as_ref(), g.groups.as_ref()) {
                push(target, &r.source, &|| {
                    format!("connection group {} gives READ to", g.path)
                });
            }
        }
        for p in &self.sharing_profiles {
            let key = p.key();
            push(
                Target::Connection(&p.connection.target),
                &p.connection.source,
                &|| format!("sharing profile {key} belongs to"),
            );
            for (target, r) in read_lists(p.users.as_ref(), p.groups.as_ref()) {
                push(target, &r.source, &|| {
                    format!("sharing profile {key} gives READ to")
                });
            }
        }
        for g in &self.user_groups {
            let by = || format!("user group {:?}", g.name);
            for (target, r) in read_lists(g.member_users.as_ref(), g.member_groups.as_ref()) {
                push(target, &r.source, &|| format!("{} lists as a member", by()));
            }
            permission_references(&g.permissions, &by(), &mut push);
        }
        for u in &self.users {
            let by = format!("user {:?}", u.username);
            permission_references(&u.permissions, &by, &mut push);
        }
        out
    }
}

/// The users, then the user groups, of a pair of name lists.
fn read_lists<'a>(
    users: Option<&'a Vec<Ref<String>>>,
    groups: Option<&'a Vec<Ref<String>>>,
) -> impl Iterator<Item = (Target<'a>, &'a Ref<String>)> {
    let users = users
        .into_iter()
        .flatten()
        .map(|r| (Target::User(&r.target), r));
    let groups = groups
        .into_iter()
        .flatten()
        .map(|r| (Target::UserGroup(&r.target), r));
    users.chain(groups)
}

fn permission_references<'a>(
    p: &'a Permissions,
    by: &str,
    push: &mut impl FnMut(Target<'a>, &'a Source, &dyn Fn() -> String),
) {
    fn each<'a, T>(
        grants: Option<&'a Vec<Grant<T>>>,
        make: fn(&'a T) -> Target<'a>,
        by: &str,
        push: &mut impl FnMut(Target<'a>, &'a Source, &dyn Fn() -> String),
    ) {
        for g in grants.into_iter().flatten() {
            push(make(&g.target.target), &g.target.source, &|| {
                format!("{by} has permissions on")
            });
        }
    }
    each(p.connections.as_ref(), Target::Connection, by, push);
    each(
        p.connection_groups.as_ref(),
        Target::ConnectionGroup,
        by,
        push,
    );
    each(
        p.sharing_profiles.as_ref(),
        Target::SharingProfile,
        by,
        push,
    );
    each(p.users.as_ref(), |u| Target::User(u), by, push);
    each(p.user_groups.as_ref(), |g| Target::UserGroup(g), by, push);
}

/// What the documents declare: the estate's objects, the connections of the
/// import-format entries, and every group on a declared path (they are created
/// when missing).
struct Declared<'a> {
    connections: HashSet<(&'a GroupPath, &'a str)>,
    groups: HashSet<GroupPath>,
    profiles: HashSet<SharingProfileKey>,
    users: HashSet<&'a str>,
    user_groups: HashSet<&'a str>,
}

impl<'a> Declared<'a> {
    fn new(
        estate: &'a Estate,
        declared: impl IntoIterator<Item = (&'a GroupPath, &'a str)>,
    ) -> Self {
        let mut connections = HashSet::new();
        let mut groups = HashSet::new();
        for (group, name) in declared {
            if connections.insert((group, name)) {
                groups.extend(group.lineage());
            }
        }
        for g in &estate.connection_groups {
            groups.extend(g.path.lineage());
        }
        Self {
            connections,
            groups,
            profiles: estate
                .sharing_profiles
                .iter()
                .map(SharingProfile::key)
                .collect(),
            users: estate.users.iter().map(|u| u.username.as_str()).collect(),
            user_groups: estate.user_groups.iter().map(|g| g.name.as_str()).collect(),
        }
    }

    fn has(&self, target: Target<'_>) -> bool {
        match target {
            Target::Connection(k) => self.connections.contains(&(&k.group, k.name.as_str())),
            Target::ConnectionGroup(p) => self.groups.contains(p),
            Target::SharingProfile(k) => self.profiles.contains(k),
            Target::User(u) => self.users.contains(u),
            Target::UserGroup(g) => self.user_groups.contains(g),
        }
    }

    /// "did you mean" among the declared names of the same kind.
    fn suggest(&self, target: Target<'_>) -> Option<String> {
        let (name, names) = match target {
            Target::User(u) => (u, &self.users),
            Target::UserGroup(g) => (g, &self.user_groups),
            _ => return None,
        };
        let mut candidates: Vec<&str> = names.iter().copied().collect();
        candidates.sort_unstable();
        crate::manifest::check::did_you_mean(name, candidates.into_iter())
    }
}

/// A reference whose target no document declares and the server does not hold
/// is an error at the reference, naming what refers to it. `connections` are
/// the connections the manifests declare, by group path and name.
#[must_use]
pub fn unresolved<'a>(
    estate: &'a Estate,
    connections: impl IntoIterator<Item = (&'a GroupPath, &'a str)>,
    server: &dyn Existing,
) -> Vec<Diagnostic> {
    let declared = Declared::new(estate, connections);
    let mut out = Vec::new();
    for r in estate.references() {
        if declared.has(r.target) || server.has(r.target) {
            continue;
        }
        out.push(Diagnostic {
            severity: Severity::Error,
            code: "unknown-reference",
            file: r.source.file.clone(),
            line: r.source.line,
            column: r.source.column,
            message: format!(
                "{} {}, which no document declares and the server does not hold",
                r.context, r.target
            ),
            help: declared.suggest(r.target),
        });
    }
    out.sort_by(|a, b| (&a.file, a.line, a.column).cmp(&(&b.file, b.line, b.column)));
    out
}

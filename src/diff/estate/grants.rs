//! Permissions of the estate (DESIGN.md §8), merged with the READ the
//! manifests' lists give into one `PermissionChange` per principal:
//!
//! - READ from the `users`/`groups` lists of declared groups and sharing
//!   profiles, with `parent_group_read` READ on the ancestor groups too (READ on
//!   a sharing profile comes with READ on its connection's groups); in `exact`
//!   mode READ on such a declared object is also revoked from principals that are
//!   not listed;
//! - a declared principal's `system` (exact) and each kind of its `permissions`
//!   (exact within the scope groups, everywhere without a scope). READ that a
//!   list gives counts as declared, so the two never fight; a user's implicit
//!   READ on itself is kept unless written.
//!
//! The login account's own permissions are never revoked.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::Declared;
use crate::desired::{DesiredConnection, ReadLists};
use crate::estate::{Grant as Declaration, Level, Permissions, SharingProfileKey};
use crate::kinds::{Kind, ObjectKey};
use crate::model::{ConnKey, GroupPath, Principal};
use crate::observed::{Observed, ObservedGrants};
use crate::plan::{Grant, PermissionChange};

use super::super::{Options, PermissionMode};

const READ: &str = "READ";

/// What the estate wants of every principal it names.
#[derive(Debug, Default)]
pub(in crate::diff) struct EstateRead {
    /// Object → levels, per principal: declared `permissions` and the READ of
    /// lists (ancestors included).
    objects: BTreeMap<Principal, BTreeMap<ObjectKey, BTreeSet<&'static str>>>,
    /// The kinds a declared principal's `permissions` makes exact.
    exact: BTreeMap<Principal, BTreeSet<Kind>>,
    /// A declared principal's `system`, exact.
    system: BTreeMap<Principal, BTreeSet<&'static str>>,
    /// Declared groups whose READ lists are written.
    listed_groups: BTreeSet<GroupPath>,
    /// Declared sharing profiles whose READ lists are written, with who is listed.
    listed_profiles: BTreeMap<SharingProfileKey, BTreeSet<Principal>>,
}

impl EstateRead {
    pub fn new(declared: &Declared<'_>, options: &Options) -> Self {
        let mut this = Self::default();
        for g in declared.user_groups.values() {
            let p = Principal::UserGroup(g.name.clone());
            this.declare(&p, &g.permissions, g.system.as_ref());
        }
        for u in declared.users.values() {
            let p = Principal::User(u.username.clone());
            this.declare(&p, &u.permissions, u.system.as_ref());
        }
        for (path, g) in &declared.groups {
            if g.read.is_written() {
                this.listed_groups.insert((*path).clone());
            }
            let lineage = if options.parent_group_read {
                path.lineage()
            } else {
                vec![(*path).clone()]
            };
            this.read_list(&g.read, &lineage, None);
        }
        for (key, p) in &declared.profiles {
            if p.read.is_written() {
                this.listed_profiles.insert(
                    (*key).clone(),
                    p.read.principals().map(|(p, _)| p).collect(),
                );
            }
            let lineage = if options.parent_group_read {
                key.connection.group.lineage()
            } else {
                Vec::new()
            };
            this.read_list(&p.read, &lineage, Some(&super::sharing_key(key)));
        }
        this
    }

    fn want(&mut self, p: &Principal, object: ObjectKey, level: &'static str) {
        self.objects
            .entry(p.clone())
            .or_default()
            .entry(object)
            .or_default()
            .insert(level);
    }

    /// READ for every listed principal on `groups` and `also`.
    fn read_list(&mut self, lists: &ReadLists, groups: &[GroupPath], also: Option<&ObjectKey>) {
        for (p, _) in lists.principals() {
            for g in groups {
                self.want(&p, ObjectKey::group(g.clone()), READ);
            }
            if let Some(o) = also {
                self.want(&p, o.clone(), READ);
            }
        }
    }

    fn declare(
        &mut self,
        p: &Principal,
        permissions: &Permissions,
        system: Option<&Vec<crate::estate::Ref<crate::estate::SystemPermission>>>,
    ) {
        fn each<T>(
            this: &mut EstateRead,
            p: &Principal,
            kind: Kind,
            grants: Option<&Vec<Declaration<T>>>,
            key: fn(&T) -> ObjectKey,
        ) {
            let Some(grants) = grants else {
                return;
            };
            this.exact.entry(p.clone()).or_default().insert(kind);
            for g in grants {
                let object = key(&g.target.target);
                // Written with no level: nothing on that target, still managed.
                this.objects
                    .entry(p.clone())
                    .or_default()
                    .entry(object.clone())
                    .or_default();
                for level in &g.levels {
                    this.want(p, object.clone(), Level::as_str(*level));
                }
            }
        }
        each(
            self,
            p,
            Kind::Connection,
            permissions.connections.as_ref(),
            |k| ObjectKey::connection(k.clone()),
        );
        each(
            self,
            p,
            Kind::ConnectionGroup,
            permissions.connection_groups.as_ref(),
            |g| ObjectKey::group(g.clone()),
        );
        each(
            self,
            p,
            Kind::SharingProfile,
            permissions.sharing_profiles.as_ref(),
            super::sharing_key,
        );
        each(self, p, Kind::User, permissions.users.as_ref(), |u| {
            ObjectKey::User { name: u.clone() }
        });
        each(
            self,
            p,
            Kind::UserGroup,
            permissions.user_groups.as_ref(),
            |g| ObjectKey::UserGroup { name: g.clone() },
        );
        if let Some(system) = system {
            self.system.insert(
                p.clone(),
                system.iter().map(|r| r.target.as_str()).collect(),
            );
        }
    }

    /// Whether the estate wants `p` to hold `level` on `object`.
    fn wants(&self, p: &Principal, object: &ObjectKey, level: &str) -> bool {
        self.objects
            .get(p)
            .and_then(|m| m.get(object))
            .is_some_and(|l| l.contains(level))
    }

    /// The groups each principal needs READ on (what exact mode must not revoke).
    pub fn needed_groups(&self) -> BTreeMap<Principal, BTreeSet<GroupPath>> {
        self.objects
            .iter()
            .map(|(p, objects)| {
                let groups = objects
                    .iter()
                    .filter(|(_, levels)| levels.contains(READ))
                    .filter_map(|(o, _)| match o {
                        ObjectKey::ConnectionGroup { path } => Some(path.clone()),
                        _ => None,
                    })
                    .collect();
                (p.clone(), groups)
            })
            .collect()
    }

    /// Declared groups whose READ exact mode manages even without a scope.
    pub fn listed_groups(&self) -> &BTreeSet<GroupPath> {
        &self.listed_groups
    }
}

/// The server identifier of an object as the view has it (a user's and a user
/// group's is their name).
fn identifier(view: &Observed, object: &ObjectKey) -> Option<String> {
    match object {
        ObjectKey::ConnectionGroup { path } => view.group_identifier(path).map(str::to_owned),
        ObjectKey::Connection { key } => view.connections.get(key).map(|c| c.identifier.clone()),
        ObjectKey::SharingProfile { connection, name } => view
            .sharing_profiles
            .get(&SharingProfileKey {
                connection: connection.clone(),
                name: name.clone(),
            })
            .map(|s| s.identifier.clone()),
        ObjectKey::User { name } | ObjectKey::UserGroup { name } => Some(name.clone()),
    }
}

/// Whether `grants` hold `level` on the object `id` of `kind`.
fn holds(grants: Option<&ObservedGrants>, kind: Kind, id: &str, level: &str) -> bool {
    grants.is_some_and(|g| {
        g.holds(kind, id, level)
            || (level == READ
                && match kind {
                    Kind::Connection => g.connections.contains(id),
                    Kind::ConnectionGroup => g.groups.contains(id),
                    _ => false,
                })
    })
}

/// Server identifiers back to guacsync's identities, for what the server grants.
struct Names<'a> {
    connections: HashMap<&'a str, &'a ConnKey>,
    groups: HashMap<&'a str, &'a GroupPath>,
    profiles: HashMap<&'a str, &'a SharingProfileKey>,
}

impl<'a> Names<'a> {
    fn new(view: &'a Observed) -> Self {
        Self {
            connections: view
                .connections
                .iter()
                .map(|(k, c)| (c.identifier.as_str(), k))
                .collect(),
            groups: view
                .groups
                .iter()
                .map(|(p, g)| (g.identifier.as_str(), p))
                .collect(),
            profiles: view
                .sharing_profiles
                .iter()
                .map(|(k, s)| (s.identifier.as_str(), k))
                .collect(),
        }
    }

    /// The object and the group it lies in (none for principals).
    fn object(&self, kind: Kind, id: &str) -> Option<(ObjectKey, Option<&GroupPath>)> {
        Some(match kind {
            Kind::Connection => {
                let k = self.connections.get(id)?;
                (ObjectKey::connection((*k).clone()), Some(&k.group))
            }
            Kind::ConnectionGroup => {
                let p = self.groups.get(id)?;
                (ObjectKey::group((*p).clone()), Some(*p))
            }
            Kind::SharingProfile => {
                let k = self.profiles.get(id)?;
                (super::sharing_key(k), Some(&k.connection.group))
            }
            Kind::User => (
                ObjectKey::User {
                    name: id.to_owned(),
                },
                None,
            ),
            Kind::UserGroup => (
                ObjectKey::UserGroup {
                    name: id.to_owned(),
                },
                None,
            ),
        })
    }
}

/// Grants and revocations being gathered for one principal.
#[derive(Default)]
struct Pending {
    grant: BTreeSet<Grant>,
    revoke: BTreeSet<Grant>,
}

/// The READ a manifest's lists give each of `principals`: on the connections
/// that list them and, with `parent_group_read`, on those connections' groups.
fn list_read(
    wanted: &BTreeMap<ConnKey, &DesiredConnection>,
    principals: &BTreeSet<&Principal>,
    options: &Options,
) -> HashMap<Principal, BTreeSet<ObjectKey>> {
    let mut out: HashMap<Principal, BTreeSet<ObjectKey>> = HashMap::new();
    if principals.is_empty() {
        return out;
    }
    for (key, d) in wanted {
        let listed = d
            .users
            .iter()
            .map(|u| Principal::User(u.clone()))
            .chain(d.groups.iter().map(|g| Principal::UserGroup(g.clone())));
        for p in listed.filter(|p| principals.contains(p)) {
            let set = out.entry(p).or_default();
            set.insert(ObjectKey::connection(key.clone()));
            if options.parent_group_read {
                set.extend(key.group.lineage().into_iter().map(ObjectKey::group));
            }
        }
    }
    out
}

/// One `PermissionChange` per principal: the manifests' READ changes (`lists`)
/// and exact-mode group revocations (`group_revokes`), with what the estate
/// wants (`read`); no principal twice, nothing both granted and revoked, and the
/// login account's permissions never revoked.
pub(in crate::diff) fn merge_permissions(
    view: &Observed,
    options: &Options,
    wanted: &BTreeMap<ConnKey, &DesiredConnection>,
    read: &EstateRead,
    lists: Vec<PermissionChange>,
    group_revokes: BTreeMap<Principal, Vec<Grant>>,
) -> Vec<PermissionChange> {
    let mut out: BTreeMap<Principal, Pending> = BTreeMap::new();
    let kept = |p: &Principal, g: &Grant| {
        g.object
            .as_ref()
            .is_none_or(|o| !read.wants(p, o, &g.permission))
    };
    for c in lists {
        let entry = out.entry(c.principal.clone()).or_default();
        entry.grant.extend(c.grant);
        let revoke: Vec<Grant> = c
            .revoke
            .into_iter()
            .filter(|g| kept(&c.principal, g))
            .collect();
        entry.revoke.extend(revoke);
    }
    for (p, revoke) in group_revokes {
        let revoke: Vec<Grant> = revoke.into_iter().filter(|g| kept(&p, g)).collect();
        out.entry(p).or_default().revoke.extend(revoke);
    }
    // Everything the estate wants that the server does not hold.
    for (p, objects) in &read.objects {
        let grants = view.grants.get(p);
        for (object, levels) in objects {
            let id = identifier(view, object);
            for level in levels {
                if id
                    .as_deref()
                    .is_some_and(|id| holds(grants, object.kind(), id, level))
                {
                    continue;
                }
                out.entry(p.clone()).or_default().grant.insert(Grant::on(
                    object.clone(),
                    level,
                    id.as_deref(),
                ));
            }
        }
    }
    for (p, system) in &read.system {
        let held = view.grants.get(p).map(|g| &g.system);
        let entry = out.entry(p.clone()).or_default();
        for s in system {
            if !held.is_some_and(|h| h.contains(*s)) {
                entry.grant.insert(Grant::system(s));
            }
        }
        for s in held.into_iter().flatten() {
            if !system.contains(s.as_str()) {
                entry.revoke.insert(Grant::system(s));
            }
        }
    }
    let names = Names::new(view);
    revoke_exact_kinds(view, options, wanted, read, &names, &mut out);
    if options.permissions == PermissionMode::Exact {
        revoke_unlisted_profiles(view, read, &mut out);
    }
    let me = Principal::User(view.session_user.clone());
    out.into_iter()
        .filter_map(|(principal, mut pending)| {
            if principal == me {
                pending.revoke.clear();
            }
            let granted: BTreeSet<(Option<&ObjectKey>, &str)> = pending
                .grant
                .iter()
                .map(|g| (g.object.as_ref(), g.permission.as_str()))
                .collect();
            let revoke: Vec<Grant> = pending
                .revoke
                .iter()
                .filter(|g| !granted.contains(&(g.object.as_ref(), g.permission.as_str())))
                .cloned()
                .collect();
            (!(pending.grant.is_empty() && revoke.is_empty())).then(|| PermissionChange {
                principal,
                grant: pending.grant.into_iter().collect(),
                revoke,
            })
        })
        .collect()
}

/// Each kind a declared principal's `permissions` writes is exact: what it holds
/// there beyond what is declared (and beyond the READ lists give) is revoked,
/// within the scope groups.
fn revoke_exact_kinds(
    view: &Observed,
    options: &Options,
    wanted: &BTreeMap<ConnKey, &DesiredConnection>,
    read: &EstateRead,
    names: &Names<'_>,
    out: &mut BTreeMap<Principal, Pending>,
) {
    let principals: BTreeSet<&Principal> = read.exact.keys().collect();
    let lists = list_read(wanted, &principals, options);
    let in_scope =
        |g: &GroupPath| options.scope.is_empty() || options.scope.iter().any(|s| g.starts_with(s));
    for (p, kinds) in &read.exact {
        let Some(grants) = view.grants.get(p) else {
            continue;
        };
        for kind in kinds {
            for (id, levels) in grants.objects.get(kind).into_iter().flatten() {
                let Some((object, group)) = names.object(*kind, id) else {
                    continue;
                };
                if group.is_some_and(|g| !in_scope(g)) {
                    continue;
                }
                let declared = read.objects.get(p).is_some_and(|m| m.contains_key(&object));
                // Guacamole gives every user READ on itself; kept unless written.
                let itself = *kind == Kind::User && matches!(p, Principal::User(u) if u == id);
                if itself && !declared {
                    continue;
                }
                for level in levels {
                    let listed = level == READ && lists.get(p).is_some_and(|s| s.contains(&object));
                    if listed || read.wants(p, &object, level) {
                        continue;
                    }
                    out.entry(p.clone()).or_default().revoke.insert(Grant::on(
                        object.clone(),
                        level,
                        Some(id),
                    ));
                }
            }
        }
    }
}

/// Exact mode: READ on a declared sharing profile whose lists are written is
/// revoked from every principal not listed (and not declaring it).
fn revoke_unlisted_profiles(
    view: &Observed,
    read: &EstateRead,
    out: &mut BTreeMap<Principal, Pending>,
) {
    if read.listed_profiles.is_empty() {
        return;
    }
    for (key, listed) in &read.listed_profiles {
        let Some(profile) = view.sharing_profiles.get(key) else {
            continue;
        };
        let object = super::sharing_key(key);
        for (p, grants) in &view.grants {
            if listed.contains(p)
                || read.wants(p, &object, READ)
                || !holds(
                    Some(grants),
                    Kind::SharingProfile,
                    &profile.identifier,
                    READ,
                )
            {
                continue;
            }
            out.entry(p.clone()).or_default().revoke.insert(Grant::on(
                object.clone(),
                READ,
                Some(&profile.identifier),
            ));
        }
    }
}

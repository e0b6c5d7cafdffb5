//! The estate kinds in the diff (DESIGN.md §8): connection groups' declared
//! fields, sharing profiles, user groups and users, each a [`Rule`] over the one
//! mechanism of `diff::rule`; then memberships (`members`) and every permission
//! of a declared principal (`grants`), merged with the READ the manifests'
//! lists give. `checks` holds the rules that refuse a plan (scope, the login
//! account, password resets, what the server's version and schema allow).
//!
//! [`Rule`]: super::rule::Rule

mod checks;
mod grants;
mod group_rule;
mod members;
mod principals;
mod sharing;

use std::collections::{BTreeMap, BTreeSet};

use super::rule::{self, Rule};
use super::{Diff, Ownership};
use crate::desired::{
    Attributes, Desired, DesiredConnection, DesiredGroup, DesiredSharingProfile, DesiredUser,
    DesiredUserGroup,
};
use crate::estate::SharingProfileKey;
use crate::kinds::{Kind, ObjectKey};
use crate::model::{ConnKey, GroupPath};
use crate::plan::{Change, FieldChange};
use crate::value::Value;

pub(super) use grants::{EstateRead, merge_permissions};
pub(super) use group_rule::GroupRule;
use principals::{UserGroupRule, UserRule};
use sharing::SharingRule;

/// What the documents declare, by identity. The login account's declared fields
/// are left out (they are never applied); it is still declared, so `users`
/// keeps every other user.
pub(super) struct Declared<'d> {
    pub groups: BTreeMap<&'d GroupPath, &'d DesiredGroup>,
    pub profiles: BTreeMap<&'d SharingProfileKey, &'d DesiredSharingProfile>,
    pub user_groups: BTreeMap<&'d String, &'d DesiredUserGroup>,
    pub users: BTreeMap<&'d String, &'d DesiredUser>,
    /// Users whose declared password is sent again.
    pub resets: BTreeSet<String>,
    /// The login account is declared too (its fields skipped).
    pub login: bool,
}

/// The estate's changes, kind by kind, each in the order a batch sends them
/// (adds, the changes that follow them, other changes); and the removals the
/// rules allow before the deletion guard and the confirmation gate.
#[derive(Default)]
pub(super) struct EstateChanges {
    /// Declared groups that exist and differ (moves are `group_moves`').
    pub groups: Vec<Change>,
    pub sharing_profiles: Vec<Change>,
    pub user_groups: Vec<Change>,
    pub users: Vec<Change>,
    pub removals: BTreeMap<Kind, Vec<Change>>,
}

impl EstateChanges {
    /// How many removals of each kind the rules allow (for the deletion guard).
    pub fn removal_counts(&self) -> BTreeMap<Kind, usize> {
        self.removals.iter().map(|(k, v)| (*k, v.len())).collect()
    }
}

/// Field changes of the declared attributes only (undeclared ones are left
/// alone): a declared value set, changed, or (declared null) cleared.
pub(super) fn attribute_changes(
    declared: &Attributes,
    observed: &BTreeMap<String, Value>,
) -> Vec<FieldChange> {
    declared
        .iter()
        .filter_map(|(name, wanted)| match (observed.get(name), wanted) {
            (None, Some(after)) => Some(FieldChange::Added {
                name: name.clone(),
                after: after.clone(),
            }),
            (Some(before), None) => Some(FieldChange::Removed {
                name: name.clone(),
                before: before.clone(),
            }),
            (Some(before), Some(after)) if before.expose() != after.expose() => {
                let hidden = before.is_sensitive() || after.is_sensitive();
                let show = |v: &Value| {
                    if hidden && !v.is_sensitive() {
                        Value::secret(v.expose())
                    } else {
                        v.clone()
                    }
                };
                Some(FieldChange::Changed {
                    name: name.clone(),
                    before: show(before),
                    after: show(after),
                })
            }
            _ => None,
        })
        .collect()
}

impl Diff<'_> {
    /// The estate by identity, with every rule that refuses a plan checked
    /// (`checks`).
    pub(super) fn declare<'d>(
        &mut self,
        desired: &'d Desired,
        wanted: &BTreeMap<ConnKey, &DesiredConnection>,
    ) -> Declared<'d> {
        let estate = &desired.estate;
        let me = &self.observed.session_user;
        let mut declared = Declared {
            groups: BTreeMap::new(),
            profiles: BTreeMap::new(),
            user_groups: BTreeMap::new(),
            users: BTreeMap::new(),
            resets: BTreeSet::new(),
            login: false,
        };
        for g in &estate.groups {
            if self.first(
                declared.groups.get(&g.path).map(|d| &d.source),
                &g.source,
                &ObjectKey::group(g.path.clone()),
            ) {
                declared.groups.insert(&g.path, g);
            }
        }
        for p in &estate.sharing_profiles {
            let key = sharing_key(&p.key);
            if self.first(
                declared.profiles.get(&p.key).map(|d| &d.source),
                &p.source,
                &key,
            ) {
                declared.profiles.insert(&p.key, p);
            }
        }
        for g in &estate.user_groups {
            let key = ObjectKey::UserGroup {
                name: g.name.clone(),
            };
            if self.first(
                declared.user_groups.get(&g.name).map(|d| &d.source),
                &g.source,
                &key,
            ) {
                declared.user_groups.insert(&g.name, g);
            }
        }
        for u in &estate.users {
            let key = ObjectKey::User {
                name: u.username.clone(),
            };
            if !self.first(
                declared.users.get(&u.username).map(|d| &d.source),
                &u.source,
                &key,
            ) {
                continue;
            }
            if u.username == *me {
                declared.login = true;
                self.login_account_declared(u);
            } else {
                declared.users.insert(&u.username, u);
            }
        }
        declared.resets = self.password_resets(estate);
        self.check_scope(&declared);
        self.check_system_permissions(&declared);
        self.check_sharing_parameters(&declared, wanted);
        declared
    }

    /// `true` when this is the first declaration of `object`; else an error
    /// naming both places.
    fn first(
        &mut self,
        earlier: Option<&crate::model::Source>,
        source: &crate::model::Source,
        object: &ObjectKey,
    ) -> bool {
        let Some(first) = earlier else {
            return true;
        };
        self.errors.push(super::error(
            Some(source),
            format!("{object} is declared twice"),
            Some(&format!("first declared at {first}")),
        ));
        false
    }

    /// The estate's changes and removal candidates. `removed_connections` are
    /// the connections prune removes (their sharing profiles go with them).
    pub(super) fn estate_changes(
        &mut self,
        declared: &Declared<'_>,
        moved_groups: &BTreeSet<&str>,
        removed_connections: &BTreeSet<&ConnKey>,
    ) -> EstateChanges {
        let view = self.observed;
        let mut out = EstateChanges::default();
        let legacy = view.object_by_object;
        let mut group_rule = GroupRule {
            view,
            schema: self.schema,
        };
        // Declared groups that exist and stay where they are; the others are
        // created (`groups_to_create`) or moved (`group_moves`).
        let existing = declared.groups.iter().filter(|(path, _)| {
            view.groups
                .get(**path)
                .is_some_and(|g| !moved_groups.contains(g.identifier.as_str()))
        });
        let matched = rule::drive(&mut group_rule, existing.map(|(k, d)| (*k, *d)), &|k| {
            view.groups.get(k)
        });
        out.groups = self.take(matched);

        let mut sharing = SharingRule { view };
        let matched = rule::drive(
            &mut sharing,
            declared.profiles.iter().map(|(k, d)| (*k, *d)),
            &|k| view.sharing_profiles.get(k),
        );
        out.sharing_profiles = self.take(matched);
        if self.options.prune && self.options.sharing_profiles == Ownership::All {
            let in_scope = |k: &SharingProfileKey| {
                self.options
                    .scope
                    .iter()
                    .any(|s| k.connection.group.starts_with(s))
                    && !removed_connections.contains(&k.connection)
            };
            let gone: Vec<Change> = rule::undeclared(
                &view.sharing_profiles,
                &|k| declared.profiles.contains_key(k),
                &|k, _| in_scope(k),
            )
            .into_iter()
            .map(|(k, o)| sharing.remove(k, o))
            .collect();
            out.removals.insert(Kind::SharingProfile, gone);
        }

        let mut user_groups = UserGroupRule { legacy };
        let matched = rule::drive(
            &mut user_groups,
            declared.user_groups.iter().map(|(k, d)| (*k, *d)),
            &|k| view.user_groups.get(k),
        );
        out.user_groups = self.take(matched);
        let mut users = UserRule {
            legacy,
            resets: &declared.resets,
        };
        let matched = rule::drive(
            &mut users,
            declared.users.iter().map(|(k, d)| (*k, *d)),
            &|k| view.users.get(k),
        );
        out.users = self.take(matched);
        if self.options.prune && self.options.principals == Ownership::All {
            let me = &view.session_user;
            let gone: Vec<Change> = rule::undeclared(
                &view.user_groups,
                &|k| declared.user_groups.contains_key(k),
                &|_, _| true,
            )
            .into_iter()
            .map(|(k, o)| user_groups.remove(k, o))
            .collect();
            out.removals.insert(Kind::UserGroup, gone);
            let gone: Vec<Change> =
                rule::undeclared(&view.users, &|k| declared.users.contains_key(k), &|k, _| {
                    k != me
                })
                .into_iter()
                .map(|(k, o)| users.remove(k, o))
                .collect();
            out.removals.insert(Kind::User, gone);
        }
        out
    }

    /// A rule's changes in batch order; its errors recorded.
    fn take(&mut self, matched: rule::Matched) -> Vec<Change> {
        let (changes, errors) = matched.into_changes();
        self.errors.extend(errors);
        changes
    }
}

/// A sharing profile's identity in the plan.
pub(super) fn sharing_key(key: &SharingProfileKey) -> ObjectKey {
    ObjectKey::sharing_profile(key)
}

/// Every group an estate document names: declared groups and the groups of
/// `permissions` (they stay under `prune_groups` although nothing is in them).
pub(super) fn named_groups(declared: &Declared<'_>) -> Vec<GroupPath> {
    let mut out: Vec<GroupPath> = declared.groups.keys().map(|p| (*p).clone()).collect();
    let permissions = declared
        .user_groups
        .values()
        .map(|g| &g.permissions)
        .chain(declared.users.values().map(|u| &u.permissions));
    for p in permissions {
        out.extend(
            p.connection_groups
                .iter()
                .flatten()
                .map(|g| g.target.target.clone()),
        );
    }
    out
}

/// Every principal named anywhere, with where and by what: the manifests'
/// `users`/`groups` lists, READ lists, members and permission targets.
pub(super) fn named_principals(
    declared: &Declared<'_>,
    wanted: &BTreeMap<ConnKey, &DesiredConnection>,
) -> Vec<(crate::model::Principal, crate::model::Source, String)> {
    use crate::model::Principal;
    let mut out = Vec::new();
    for (key, d) in wanted {
        let by = format!("connection {key} gives READ to");
        for u in &d.users {
            out.push((Principal::User(u.clone()), d.source.clone(), by.clone()));
        }
        for g in &d.groups {
            out.push((
                Principal::UserGroup(g.clone()),
                d.source.clone(),
                by.clone(),
            ));
        }
    }
    for (path, g) in &declared.groups {
        for (p, source) in g.read.principals() {
            out.push((
                p,
                source.clone(),
                format!("connection group {path} gives READ to"),
            ));
        }
    }
    for (key, s) in &declared.profiles {
        for (p, source) in s.read.principals() {
            out.push((
                p,
                source.clone(),
                format!("sharing profile {key} gives READ to"),
            ));
        }
    }
    for (name, g) in &declared.user_groups {
        let lists = crate::desired::ReadLists {
            users: g.member_users.clone(),
            groups: g.member_groups.clone(),
        };
        for (p, source) in lists.principals() {
            out.push((
                p,
                source.clone(),
                format!("user group {name:?} lists as a member"),
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
    for (p, by) in permissions {
        let by = format!("{by} has permissions on");
        for g in p.users.iter().flatten() {
            out.push((
                Principal::User(g.target.target.clone()),
                g.target.source.clone(),
                by.clone(),
            ));
        }
        for g in p.user_groups.iter().flatten() {
            out.push((
                Principal::UserGroup(g.target.target.clone()),
                g.target.source.clone(),
                by.clone(),
            ));
        }
    }
    out
}

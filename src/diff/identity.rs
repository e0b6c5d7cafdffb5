//! Identity and creation (DESIGN.md §4, §8): which connection each manifest
//! entry is (its group path resolved, duplicates and entries outside the scope
//! refused), and which groups and principals must be created for what is
//! declared to have a place.

use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, BTreeSet};

use super::estate::Declared;
use super::{Diff, error};
use crate::desired::{Desired, DesiredConnection};
use crate::model::{ConnKey, GroupPath, Parent, Principal};

impl Diff<'_> {
    /// Identity: resolves `parentIdentifier`, rejects duplicates and entries outside
    /// every scope group.
    pub(super) fn identities<'d>(
        &mut self,
        desired: &'d Desired,
    ) -> BTreeMap<ConnKey, &'d DesiredConnection> {
        let mut wanted: BTreeMap<ConnKey, &DesiredConnection> = BTreeMap::new();
        for d in &desired.connections {
            let group =
                match &d.parent {
                    Parent::Group(g) => g.clone(),
                    Parent::Identifier(id) => {
                        if let Some(g) = self.observed.group_path_of(id) {
                            g
                        } else {
                            self.errors.push(error(
                        Some(&d.source),
                        format!("parentIdentifier {id:?} is not a connection group on the server"),
                        Some("name the group by its path with `group`"),
                    ));
                            continue;
                        }
                    }
                };
            let key = ConnKey {
                group,
                name: d.name.clone(),
            };
            if !self.options.scope.is_empty()
                && !self.options.scope.iter().any(|s| key.group.starts_with(s))
            {
                let scopes: Vec<String> =
                    self.options.scope.iter().map(ToString::to_string).collect();
                self.errors.push(error(
                    Some(&d.source),
                    format!(
                        "connection {key} is outside every scope group ({})",
                        scopes.join(", ")
                    ),
                    Some("add its group to [scope] groups or move the connection"),
                ));
                continue;
            }
            match wanted.entry(key) {
                Entry::Occupied(first) => self.errors.push(error(
                    Some(&d.source),
                    format!("connection {} is declared twice", first.key()),
                    Some(&format!("first declared at {}", first.get().source)),
                )),
                Entry::Vacant(place) => {
                    place.insert(d);
                }
            }
        }

        wanted
    }

    /// Every missing ancestor group of a wanted connection, outermost first; and
    /// every declared group the server lacks (created whatever `create_groups`
    /// says: it is declared), with its missing ancestors.
    pub(super) fn groups_to_create(
        &mut self,
        wanted: &BTreeMap<ConnKey, &DesiredConnection>,
        also: &[GroupPath],
        declared: &Declared<'_>,
    ) -> Vec<GroupPath> {
        let mut group_adds: BTreeSet<(usize, GroupPath)> = BTreeSet::new();
        let mut checked: std::collections::HashSet<&GroupPath> = std::collections::HashSet::new();
        for (key, d) in wanted {
            // Without create_groups each connection in a missing group is reported.
            if self.options.create_groups && !checked.insert(&key.group) {
                continue;
            }
            for path in key.group.lineage() {
                if !self.observed.groups.contains_key(&path) {
                    if self.options.create_groups {
                        group_adds.insert((path.depth(), path));
                    } else {
                        self.errors.push(error(
                            Some(&d.source),
                            format!("connection group {path} does not exist"),
                            Some("create it, or set create_groups = true"),
                        ));
                        break;
                    }
                }
            }
        }
        // The new places of moved objects (DESIGN.md §4: "a missing parent of `to`
        // is created like any group").
        for group in also {
            for path in group.lineage() {
                if self.observed.groups.contains_key(&path) {
                    continue;
                }
                if self.options.create_groups {
                    group_adds.insert((path.depth(), path));
                } else {
                    self.errors.push(error(
                        None,
                        format!("connection group {path}, where a [[moved]] entry moves something, does not exist"),
                        Some("create it, or set create_groups = true"),
                    ));
                    break;
                }
            }
        }

        for (path, g) in &declared.groups {
            for ancestor in path.lineage() {
                if self.observed.groups.contains_key(&ancestor) {
                    continue;
                }
                if ancestor == **path || self.options.create_groups {
                    group_adds.insert((ancestor.depth(), ancestor));
                } else {
                    self.errors.push(error(
                        Some(&g.source),
                        format!("connection group {ancestor}, a parent of declared group {path}, does not exist"),
                        Some("create it, declare it too, or set create_groups = true"),
                    ));
                    break;
                }
            }
        }

        group_adds.into_iter().map(|(_, path)| path).collect()
    }

    /// Users and user groups named in manifests that the server lacks and no
    /// estate document declares (a declared one is created by its own rule,
    /// whatever `create_principals` says).
    pub(super) fn principals_to_create(
        &mut self,
        wanted: &BTreeMap<ConnKey, &DesiredConnection>,
        declared: &Declared<'_>,
    ) -> Vec<Principal> {
        let mut principals: BTreeSet<Principal> = BTreeSet::new();
        let mut missing_reported: BTreeSet<Principal> = BTreeSet::new();
        for d in wanted.values() {
            // Checked by name: a `Principal` (a copy of the name) is made only
            // for one that is missing.
            let users = d.users.iter().filter(|u| {
                !self.observed.users.contains_key(*u) && !declared.users.contains_key(*u)
            });
            let groups = d.groups.iter().filter(|g| {
                !self.observed.user_groups.contains_key(*g)
                    && !declared.user_groups.contains_key(*g)
            });
            let missing: Vec<Principal> = users
                .map(|u| Principal::User(u.clone()))
                .chain(groups.map(|g| Principal::UserGroup(g.clone())))
                .collect();
            for p in missing {
                if self.options.create_principals {
                    principals.insert(p);
                } else if missing_reported.insert(p.clone()) {
                    self.errors.push(error(
                        Some(&d.source),
                        format!("{p} does not exist on the server"),
                        Some("create it first, or set create_principals = true"),
                    ));
                }
            }
        }

        principals.into_iter().collect()
    }
}

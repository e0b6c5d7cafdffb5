//! The two group rules of DESIGN.md §4 that look at whole subtrees:
//!
//! - "Scope and prune": with `prune_groups`, the groups below a scope group that
//!   are (or are left) empty and that no manifest names are removed, deepest
//!   first; the scope groups themselves never are.
//! - "Permissions", exact mode: READ on an in-scope group (scope groups included)
//!   is revoked from a principal that no manifest grants any connection below it.
//!   Memberships are not followed (a user's READ is not "covered" by a user group
//!   it belongs to), and the account guacsync logs in as is never touched.
//!
//! Both work on the view of the server after moves, so a moved group is judged
//! where it will be.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use super::{Options, PermissionMode};
use crate::desired::DesiredConnection;
use crate::kinds::ObjectKey;
use crate::model::{ConnKey, GroupPath, Principal};
use crate::observed::Observed;
use crate::plan::Grant;

fn in_scope(path: &GroupPath, options: &Options) -> bool {
    options.scope.iter().any(|s| path.starts_with(s))
}

/// The groups `prune_groups` removes, deepest first. `keep` are paths that must
/// stay although nothing is in them (the targets of `[[moved]]` entries).
pub(super) fn empty_groups(
    view: &Observed,
    wanted: &BTreeMap<ConnKey, &DesiredConnection>,
    options: &Options,
    keep: &[GroupPath],
) -> Vec<(GroupPath, String)> {
    if !(options.prune && options.prune_groups) || options.scope.is_empty() {
        return Vec::new();
    }
    // Every group that will hold something: the lineage of each connection that
    // stays (declared, or outside every scope group) and of each declared one.
    let mut occupied: HashSet<GroupPath> = HashSet::new();
    let mut mark = |group: &GroupPath| {
        if !occupied.contains(group) {
            occupied.extend(group.lineage());
        }
    };
    for key in wanted.keys() {
        mark(&key.group);
    }
    for key in view.connections.keys() {
        if wanted.contains_key(key) || !in_scope(&key.group, options) {
            mark(&key.group);
        }
    }
    for path in keep {
        mark(path);
    }
    let mut removals: Vec<(GroupPath, String)> = view
        .groups
        .iter()
        .filter(|(path, _)| {
            in_scope(path, options) && !options.scope.contains(path) && !occupied.contains(*path)
        })
        .map(|(path, g)| (path.clone(), g.identifier.clone()))
        .collect();
    removals.sort_by(|a, b| b.0.depth().cmp(&a.0.depth()).then_with(|| a.0.cmp(&b.0)));
    removals
}

/// Exact mode: the READ on in-scope groups (and on declared groups whose READ
/// lists are written, `listed`) to revoke, per principal. Groups in `removed` go
/// with their removal and are left out; `estate_needed` is the READ estate
/// documents give (it counts as declared).
pub(super) fn group_revokes(
    view: &Observed,
    wanted: &BTreeMap<ConnKey, &DesiredConnection>,
    options: &Options,
    removed: &[(GroupPath, String)],
    estate_needed: &BTreeMap<Principal, BTreeSet<GroupPath>>,
    listed: &BTreeSet<GroupPath>,
) -> BTreeMap<Principal, Vec<Grant>> {
    let mut out: BTreeMap<Principal, Vec<Grant>> = BTreeMap::new();
    if options.permissions != PermissionMode::Exact
        || (options.scope.is_empty() && listed.is_empty())
    {
        return out;
    }
    // The groups each principal keeps READ on: the lineage of every connection a
    // manifest grants it.
    let mut needed: HashMap<Principal, HashSet<GroupPath>> = HashMap::new();
    for (key, d) in wanted {
        let lineage = key.group.lineage();
        let listed = d
            .users
            .iter()
            .map(|u| Principal::User(u.clone()))
            .chain(d.groups.iter().map(|g| Principal::UserGroup(g.clone())));
        for p in listed {
            needed.entry(p).or_default().extend(lineage.iter().cloned());
        }
    }
    for (p, groups) in estate_needed {
        needed
            .entry(p.clone())
            .or_default()
            .extend(groups.iter().cloned());
    }
    let path_of: HashMap<&str, &GroupPath> = view
        .groups
        .iter()
        .map(|(path, g)| (g.identifier.as_str(), path))
        .collect();
    let gone: HashSet<&str> = removed.iter().map(|(_, id)| id.as_str()).collect();
    let me = Principal::User(view.session_user.clone());
    let none = HashSet::new();
    for (p, grants) in &view.grants {
        if *p == me {
            continue;
        }
        let keeps = needed.get(p).unwrap_or(&none);
        let mut revoke: Vec<Grant> = grants
            .groups
            .iter()
            .filter(|id| !gone.contains(id.as_str()))
            .filter_map(|id| path_of.get(id.as_str()).map(|path| (id, path)))
            .filter(|(_, path)| {
                (in_scope(path, options) || listed.contains(*path)) && !keeps.contains(**path)
            })
            .map(|(id, path)| Grant::read(ObjectKey::group((*path).clone()), Some(id)))
            .collect();
        if !revoke.is_empty() {
            revoke.sort();
            out.insert(p.clone(), revoke);
        }
    }
    out
}

impl super::Diff<'_> {
    /// The group removals `Options::confirmed_removals` confirms (all without
    /// it). A group is held too while anything below it is held: removing it
    /// would remove what waits for confirmation.
    pub(super) fn gate_groups(
        &mut self,
        removals: Vec<(GroupPath, String)>,
    ) -> Vec<(GroupPath, String)> {
        let Some(confirmed) = &self.options.confirmed_removals else {
            return removals;
        };
        let mut go = Vec::with_capacity(removals.len());
        // Deepest first: a held child is known before its parent is decided.
        for (path, id) in removals {
            let key = ObjectKey::group(path.clone());
            let below = |k: &ObjectKey| match k {
                ObjectKey::ConnectionGroup { path: p } => p.starts_with(&path),
                ObjectKey::Connection { key } => key.group.starts_with(&path),
                ObjectKey::SharingProfile { connection, .. } => connection.group.starts_with(&path),
                ObjectKey::User { .. } | ObjectKey::UserGroup { .. } => false,
            };
            if confirmed.contains(&key) && !self.held.iter().any(below) {
                go.push((path, id));
            } else {
                self.held.push(key);
            }
        }
        go
    }
}

/// The connections prune removes if confirmed: in scope, and in no manifest.
pub(super) fn pruned_connections<'v>(
    view: &'v Observed,
    wanted: &BTreeMap<ConnKey, &DesiredConnection>,
    options: &Options,
) -> BTreeSet<&'v ConnKey> {
    if !options.prune || options.scope.is_empty() {
        return BTreeSet::new();
    }
    view.connections
        .keys()
        .filter(|k| in_scope(&k.group, options) && !wanted.contains_key(*k))
        .collect()
}

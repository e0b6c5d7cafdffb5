//! READ from a connection's `users` and `groups` (DESIGN.md §4 "Permissions"): granted
//! on the connection and, with `parent_group_read`, on every ancestor group; in
//! `exact` mode also revoked from principals a manifest does not list.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::rule::Walk;
use super::{Options, PermissionMode};
use crate::desired::DesiredConnection;
use crate::kinds::ObjectKey;
use crate::model::{ConnKey, GroupPath, Principal};
use crate::observed::{Observed, ObservedGrants};
use crate::plan::{Grant, PermissionChange};

pub(super) fn permission_changes(
    wanted: &BTreeMap<ConnKey, &DesiredConnection>,
    observed: &Observed,
    options: &Options,
) -> Vec<PermissionChange> {
    // One pass over the wanted connections; only what is missing is collected, so
    // an unchanged server of any size costs lookups, not copies. Each group path's
    // lineage (with its identifiers) is worked out once. (Hash sets of each
    // listed principal's grants were slower than these ordered sets: SipHash
    // over every identifier costs more than a dozen short comparisons.)
    let no_grants = ObservedGrants::default();
    let mut user_grants: HashMap<&str, &ObservedGrants> = HashMap::new();
    let mut group_grants: HashMap<&str, &ObservedGrants> = HashMap::new();
    for (p, g) in &observed.grants {
        match p {
            Principal::User(u) => user_grants.insert(u.as_str(), g),
            Principal::UserGroup(u) => group_grants.insert(u.as_str(), g),
        };
    }
    let mut lineages: HashMap<&GroupPath, Vec<(GroupPath, Option<&str>)>> = HashMap::new();
    let mut missing: BTreeMap<Principal, BTreeSet<Grant>> = BTreeMap::new();
    let observed_connections = Walk::new(&observed.connections);
    for (key, d) in wanted {
        let conn_id = observed_connections.get(key).map(|c| c.identifier.as_str());
        let lineage: &[(GroupPath, Option<&str>)] = if options.parent_group_read {
            lineages.entry(&key.group).or_insert_with(|| {
                key.group
                    .lineage()
                    .into_iter()
                    .map(|path| {
                        let id = observed.group_identifier(&path);
                        (path, id)
                    })
                    .collect()
            })
        } else {
            &[]
        };
        let listed = d
            .users
            .iter()
            .map(|u| (u, false))
            .chain(d.groups.iter().map(|g| (g, true)));
        for (name, is_group) in listed {
            let by_name = if is_group {
                &group_grants
            } else {
                &user_grants
            };
            let grants = by_name.get(name.as_str()).copied().unwrap_or(&no_grants);
            let conn_held = conn_id.is_some_and(|id| grants.connections.contains(id));
            let groups_missing: Vec<&(GroupPath, Option<&str>)> = lineage
                .iter()
                .filter(|(_, id)| !id.is_some_and(|id| grants.groups.contains(id)))
                .collect();
            if conn_held && groups_missing.is_empty() {
                continue;
            }
            let principal = if is_group {
                Principal::UserGroup(name.clone())
            } else {
                Principal::User(name.clone())
            };
            let targets = missing.entry(principal).or_default();
            if !conn_held {
                targets.insert(Grant::read(ObjectKey::connection(key.clone()), conn_id));
            }
            for (path, id) in groups_missing {
                targets.insert(Grant::read(ObjectKey::group(path.clone()), *id));
            }
        }
    }
    let mut changes: BTreeMap<Principal, PermissionChange> = missing
        .into_iter()
        .map(|(p, targets)| {
            (
                p.clone(),
                PermissionChange {
                    principal: p,
                    grant: targets.into_iter().collect(),
                    revoke: Vec::new(),
                },
            )
        })
        .collect();
    if options.permissions == PermissionMode::Exact {
        exact_revokes(wanted, observed, &mut changes);
    }
    changes.into_values().collect()
}

/// Exact mode: READ on a wanted connection revoked from every principal its lists
/// do not name.
fn exact_revokes(
    wanted: &BTreeMap<ConnKey, &DesiredConnection>,
    observed: &Observed,
    changes: &mut BTreeMap<Principal, PermissionChange>,
) {
    // The account guacsync logs in as is left alone: the server grants a creator
    // every permission on what it creates, so revoking its READ would undo the
    // previous sync's work on every run.
    for (p, grants) in &observed.grants {
        if *p == Principal::User(observed.session_user.clone()) {
            continue;
        }
        let mut revoke = Vec::new();
        for (key, d) in wanted {
            let Some(c) = observed.connections.get(key) else {
                continue;
            };
            let listed = match p {
                Principal::User(u) => d.users.contains(u),
                Principal::UserGroup(g) => d.groups.contains(g),
            };
            if !listed && grants.connections.contains(&c.identifier) {
                revoke.push(Grant::read(
                    ObjectKey::connection(key.clone()),
                    Some(&c.identifier),
                ));
            }
        }
        if !revoke.is_empty() {
            changes
                .entry(p.clone())
                .or_insert_with(|| PermissionChange {
                    principal: p.clone(),
                    grant: Vec::new(),
                    revoke: Vec::new(),
                })
                .revoke = revoke;
        }
    }
}

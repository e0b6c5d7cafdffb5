//! What the server's answers become: the tree flattened into paths (each value
//! moved, not copied), and a principal's permission set into observed grants.

use std::collections::{BTreeMap, BTreeSet};

use super::super::wire::{ApiPrincipal, PermissionSet, TreeGroup};
use crate::estate::SharingProfileKey;
use crate::fields::Fields;
use crate::model::{ConnKey, GroupPath};
use crate::observed::{
    Levels, ObservedConnection, ObservedGrants, ObservedGroup, ObservedPrincipal,
    ObservedSharingProfile,
};

/// What the tree holds, keyed by guacsync's identities.
#[derive(Debug, Default)]
pub struct Flat {
    pub groups: BTreeMap<GroupPath, ObservedGroup>,
    pub connections: BTreeMap<ConnKey, ObservedConnection>,
    pub sharing_profiles: BTreeMap<SharingProfileKey, ObservedSharingProfile>,
    /// The attributes set on each group, by group identifier.
    pub group_attributes: BTreeMap<String, Fields<String>>,
}

/// Only the values that are set (JDBC lists every schema attribute, null when
/// unset; empty means unset too).
fn set_values(m: &BTreeMap<String, Option<String>>) -> BTreeMap<String, String> {
    m.iter()
        .filter_map(|(k, v)| {
            v.as_ref()
                .filter(|v| !v.is_empty())
                .map(|v| (k.clone(), v.clone()))
        })
        .collect()
}

/// Groups, connections and sharing profiles of a tree, keyed by path (no
/// recursion: a tree may be deep). The tree is consumed: every name, identifier
/// and attribute is moved into the result, and each connection's key shares its
/// group's path.
pub fn flatten_tree(root: TreeGroup) -> Flat {
    let mut flat = Flat::default();
    let mut stack: Vec<(GroupPath, TreeGroup)> = vec![(GroupPath::root(), root)];
    while let Some((path, mut group)) = stack.pop() {
        for c in std::mem::take(&mut group.child_connections) {
            let key = ConnKey {
                group: path.clone(),
                name: c.name,
            };
            for s in c.sharing_profiles {
                flat.sharing_profiles.insert(
                    SharingProfileKey {
                        connection: key.clone(),
                        name: s.name,
                    },
                    ObservedSharingProfile {
                        identifier: s.identifier,
                        parameters: None,
                    },
                );
            }
            flat.connections.entry(key).or_insert(ObservedConnection {
                identifier: c.identifier,
                protocol: c.protocol,
                parameters: None,
                attributes: c.attributes,
                active_connections: c.active_connections,
            });
        }
        for mut g in std::mem::take(&mut group.child_connection_groups) {
            let child = path.child(&g.name);
            let attributes = std::mem::take(&mut g.attributes);
            if !attributes.is_empty() {
                flat.group_attributes
                    .insert(g.identifier.clone(), attributes);
            }
            flat.groups.insert(
                child.clone(),
                ObservedGroup {
                    identifier: g.identifier.clone(),
                    group_type: g
                        .group_type
                        .take()
                        .unwrap_or_else(|| "ORGANIZATIONAL".to_owned()),
                },
            );
            stack.push((child, g));
        }
    }
    flat
}

/// A permission set as observed: the READ grants the manifests' lists manage,
/// and every permission for what estate documents declare. Consumes the decoded
/// set, so each identifier is moved, not copied, into `objects`.
pub(super) fn grants_of(set: PermissionSet) -> ObservedGrants {
    let read = |m: &BTreeMap<String, Vec<String>>| -> BTreeSet<String> {
        m.iter()
            .filter(|(_, p)| p.iter().any(|x| x == "READ"))
            .map(|(k, _)| k.clone())
            .collect()
    };
    let connections = read(&set.connection_permissions);
    let groups = read(&set.connection_group_permissions);
    let system = set.system_permissions.iter().cloned().collect();
    let mut objects = BTreeMap::new();
    for (kind, map) in set.into_objects() {
        let levels: BTreeMap<String, Levels> = map
            .into_iter()
            .filter(|(_, l)| !l.is_empty())
            .map(|(id, l)| (id, l.into_iter().collect()))
            .collect();
        if !levels.is_empty() {
            objects.insert(kind, levels);
        }
    }
    ObservedGrants {
        connections,
        groups,
        objects,
        system,
    }
}

/// A user or user group as observed: 1.5.x's `disabled` attribute becomes the
/// field 1.6 has.
pub(super) fn principal_of(p: &ApiPrincipal) -> ObservedPrincipal {
    let mut attributes = set_values(&p.attributes);
    let attribute = attributes.remove("disabled").is_some_and(|v| v == "true");
    ObservedPrincipal {
        disabled: p.disabled.unwrap_or(false) || attribute,
        attributes,
    }
}

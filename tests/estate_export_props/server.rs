//! `Raw` turned into the `Observed` server guacsync would read: the group tree,
//! connections, sharing profiles, principals with their permissions, and members.

use std::collections::{BTreeMap, BTreeSet};

use guacsync::estate::SharingProfileKey;
use guacsync::kinds::Kind;
use guacsync::model::{ConnKey, GroupPath, Principal};
use guacsync::observed::{
    Observed, ObservedConnection, ObservedGrants, ObservedGroup, ObservedMembers,
    ObservedPrincipal, ObservedSharingProfile,
};

use super::SESSION;
use super::strategy::{Raw, SYSTEM};

pub(crate) fn pick<T: Clone>(items: &[T], i: usize) -> Option<T> {
    (!items.is_empty()).then(|| items[i % items.len()].clone())
}

/// The server `raw` describes, as guacsync observes it with every principal's
/// permissions and every group's members read.
#[allow(clippy::too_many_lines)] // one server, built top to bottom
pub(crate) fn observed(raw: &Raw) -> Observed {
    let mut o = Observed {
        data_source: "postgresql".into(),
        session_user: SESSION.into(),
        ..Observed::default()
    };
    let mut paths: BTreeSet<GroupPath> = BTreeSet::new();
    for segments in &raw.paths {
        let p = GroupPath::from_segments(segments.clone());
        paths.extend(p.lineage());
    }
    for (i, p) in paths.iter().enumerate() {
        let (balancing, limit, affinity) = raw.group_info[i % raw.group_info.len()];
        let id = (i + 1).to_string();
        let mut attributes = BTreeMap::new();
        if let Some(l) = limit {
            attributes.insert("max-connections".to_owned(), l.to_string());
        }
        if affinity {
            attributes.insert("enable-session-affinity".to_owned(), "true".to_owned());
        }
        if !attributes.is_empty() {
            o.group_attributes.insert(id.clone(), attributes.into());
        }
        o.groups.insert(
            p.clone(),
            ObservedGroup {
                identifier: id,
                group_type: if balancing {
                    "BALANCING"
                } else {
                    "ORGANIZATIONAL"
                }
                .into(),
            },
        );
    }
    let group_list: Vec<GroupPath> = std::iter::once(GroupPath::root()).chain(paths).collect();
    for (n, (g, name)) in raw.connections.iter().enumerate() {
        let group = pick(&group_list, *g).unwrap_or_default();
        o.connections
            .entry(ConnKey {
                group,
                name: name.clone(),
            })
            .or_insert_with(|| ObservedConnection {
                identifier: (100 + n).to_string(),
                protocol: "ssh".into(),
                parameters: Some([("hostname".to_owned(), "h".to_owned())].into()),
                attributes: guacsync::fields::Fields::new(),
                active_connections: 0,
            });
    }
    let conns: Vec<ConnKey> = o.connections.keys().cloned().collect();
    for (n, (c, name, params)) in raw.profiles.iter().enumerate() {
        let Some(connection) = pick(&conns, *c) else {
            continue;
        };
        let parameters = match params {
            0 => BTreeMap::new(),
            1 => [("read-only".to_owned(), "true".to_owned())].into(),
            // A name no protocol's sharing form has: a secret to the exporter.
            _ => [("x-share-token".to_owned(), format!("tok-{n}"))].into(),
        };
        o.sharing_profiles
            .entry(SharingProfileKey {
                connection,
                name: name.clone(),
            })
            .or_insert_with(|| ObservedSharingProfile {
                identifier: (200 + n).to_string(),
                parameters: Some(parameters.into()),
            });
    }
    o.users.insert(SESSION.into(), ObservedPrincipal::default());
    for (u, (disabled, attributes)) in &raw.users {
        o.users.insert(
            u.clone(),
            ObservedPrincipal {
                disabled: *disabled,
                attributes: attributes.clone(),
            },
        );
    }
    for (g, disabled) in &raw.user_groups {
        o.user_groups.insert(
            g.clone(),
            ObservedPrincipal {
                disabled: *disabled,
                attributes: BTreeMap::new(),
            },
        );
    }
    let users: Vec<String> = o.users.keys().cloned().collect();
    let groups: Vec<String> = o.user_groups.keys().cloned().collect();
    for g in &groups {
        o.memberships.insert(g.clone(), ObservedMembers::default());
    }
    for (g, us, gs, with_session) in &raw.members {
        let Some(g) = pick(&groups, *g) else { continue };
        let m = o.memberships.entry(g).or_default();
        m.users.extend(us.iter().filter_map(|i| pick(&users, *i)));
        m.groups.extend(gs.iter().filter_map(|i| pick(&groups, *i)));
        if *with_session {
            m.users.insert(SESSION.into());
        }
    }
    let principals: Vec<Principal> = users
        .iter()
        .map(|u| Principal::User(u.clone()))
        .chain(groups.iter().map(|g| Principal::UserGroup(g.clone())))
        .collect();
    for p in &principals {
        o.grants.insert(p.clone(), ObservedGrants::default());
    }
    let ids = |kind: u8| -> Vec<String> {
        match kind {
            0 => o
                .connections
                .values()
                .map(|c| c.identifier.clone())
                .collect(),
            1 => o.groups.values().map(|g| g.identifier.clone()).collect(),
            2 => o
                .sharing_profiles
                .values()
                .map(|s| s.identifier.clone())
                .collect(),
            3 => users.clone(),
            _ => groups.clone(),
        }
    };
    let mut grants = o.grants.clone();
    for (p, objects, system) in &raw.grants {
        let Some(p) = pick(&principals, *p) else {
            continue;
        };
        let g = grants.entry(p).or_default();
        for (kind, target, levels) in objects {
            let Some(id) = pick(&ids(*kind), *target) else {
                continue;
            };
            let kind = [
                Kind::Connection,
                Kind::ConnectionGroup,
                Kind::SharingProfile,
                Kind::User,
                Kind::UserGroup,
            ][*kind as usize];
            g.objects
                .entry(kind)
                .or_default()
                .insert(id, levels.iter().collect());
        }
        g.system
            .extend(system.iter().map(|s| SYSTEM[*s].to_owned()));
    }
    // The READ sets the connection export reads, as observe derives them.
    for g in grants.values_mut() {
        let read = |kind: Kind| -> BTreeSet<String> {
            g.objects
                .get(&kind)
                .into_iter()
                .flatten()
                .filter(|(_, l)| l.contains("READ"))
                .map(|(id, _)| id.clone())
                .collect()
        };
        g.connections = read(Kind::Connection);
        g.groups = read(Kind::ConnectionGroup);
    }
    o.grants = grants;
    o
}

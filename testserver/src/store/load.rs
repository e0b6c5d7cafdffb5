//! The state document in and out of the store (`crate::state`): loading checks
//! what the database would enforce (numeric identifiers, existing parents, unique
//! names, no cycles); writing is deterministic.

use std::collections::{BTreeMap, BTreeSet};

use super::{PermSet, Perms, Store};
use crate::kind::{
    ActiveConnections, Connection, Group, Identifier, SharingProfile, Target, User, UserGroup,
};
use crate::legacy;
use crate::state::{
    ConnectionGroupState, ConnectionState, NextIds, Permissions, SharingProfileState, State,
    UserGroupState, UserState,
};
use crate::store::{numeric_id, parent_str};
use crate::version::GuacamoleVersion;

/// One kind's grants from the state document: identifiers must parse as the kind's.
fn load_grants<T: Target>(from: &Permissions, into: &mut Perms) -> Result<(), String> {
    for (k, v) in T::saved(from) {
        let id = T::Id::parse(k)
            .ok_or_else(|| format!("{} permission on {k:?}: identifiers are numbers", T::NOUN))?;
        T::grants_mut(into).insert(id, v.clone());
    }
    Ok(())
}

/// A parent identifier of the state document: `ROOT`, or a group that exists.
fn parent_in(
    store: &Store,
    raw: &str,
    missing: impl FnOnce(u64) -> String,
) -> Result<Option<u64>, String> {
    if raw == "ROOT" {
        return Ok(None);
    }
    let p = numeric_id(raw).ok_or_else(|| format!("parent identifier {raw:?} is not a number"))?;
    if !store.groups.contains_key(&p) {
        return Err(missing(p));
    }
    Ok(Some(p))
}

fn perms_from(p: &Permissions) -> Result<Perms, String> {
    let mut perms = Perms {
        system: p.system_permissions.clone(),
        ..Perms::default()
    };
    load_grants::<Connection>(p, &mut perms)?;
    load_grants::<Group>(p, &mut perms)?;
    load_grants::<SharingProfile>(p, &mut perms)?;
    load_grants::<ActiveConnections>(p, &mut perms)?;
    load_grants::<User>(p, &mut perms)?;
    load_grants::<UserGroup>(p, &mut perms)?;
    Ok(perms)
}

/// One kind's grants for the state document, empty sets left out.
fn save_grants<T: Target>(from: &Perms, into: &mut Permissions) {
    let saved: BTreeMap<String, PermSet> = T::grants(from)
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    *T::saved_mut(into) = saved;
}

fn perms_to(p: &Perms) -> Permissions {
    let mut saved = Permissions {
        system_permissions: p.system.clone(),
        ..Permissions::default()
    };
    save_grants::<Connection>(p, &mut saved);
    save_grants::<Group>(p, &mut saved);
    save_grants::<SharingProfile>(p, &mut saved);
    save_grants::<ActiveConnections>(p, &mut saved);
    save_grants::<User>(p, &mut saved);
    save_grants::<UserGroup>(p, &mut saved);
    saved
}

impl Store {
    /// `from_state` for a given release: on 1.5.5 the `AUDIT` system permission,
    /// which that database cannot hold, is dropped.
    pub fn from_state_as(
        state: &State,
        version: GuacamoleVersion,
    ) -> std::result::Result<Self, String> {
        let mut store = Self::from_state(state)?;
        store.version = version;
        if version.is_1_5() {
            legacy::strip_audit(&mut store);
        }
        Ok(store)
    }

    /// Builds the store from a state document, checking what the database would
    /// enforce (numeric identifiers, existing parents, unique names).
    #[allow(clippy::too_many_lines)] // one pass per table, in dependency order
    pub fn from_state(state: &State) -> std::result::Result<Self, String> {
        if state.version != 1 {
            return Err(format!(
                "state format version {} is not supported (this server reads version 1)",
                state.version
            ));
        }
        let mut store = Self::default();
        let id_of = |id: &str, what: &str| {
            numeric_id(id).ok_or_else(|| format!("{what} identifier {id:?} is not a number"))
        };
        for g in &state.connection_groups {
            let id = id_of(&g.identifier, "connection group")?;
            if store
                .groups
                .insert(
                    id,
                    Group {
                        name: g.name.clone(),
                        parent: None,
                        group_type: g.group_type.clone(),
                        attributes: g.attributes.clone(),
                    },
                )
                .is_some()
            {
                return Err(format!("connection group {id} is listed twice"));
            }
            if !matches!(g.group_type.as_str(), "ORGANIZATIONAL" | "BALANCING") {
                return Err(format!(
                    "connection group {id}: type must be ORGANIZATIONAL or BALANCING"
                ));
            }
        }
        for g in &state.connection_groups {
            let id = id_of(&g.identifier, "connection group")?;
            let parent = parent_in(&store, &g.parent_identifier, |p| {
                format!("connection group {id}: parent {p} does not exist")
            })?;
            if let Some(group) = store.groups.get_mut(&id) {
                group.parent = parent;
            }
            if store
                .group_names
                .insert((parent, g.name.clone()), id)
                .is_some()
            {
                return Err(format!(
                    "two connection groups named {:?} in one parent",
                    g.name
                ));
            }
        }
        for id in store.groups.keys() {
            let mut seen = BTreeSet::new();
            let mut at = Some(*id);
            while let Some(g) = at {
                if !seen.insert(g) {
                    return Err(format!("connection group {id} is its own ancestor"));
                }
                at = store.groups.get(&g).and_then(|g| g.parent);
            }
        }
        for c in &state.connections {
            let id = id_of(&c.identifier, "connection")?;
            let parent = parent_in(&store, &c.parent_identifier, |p| {
                format!("connection {id}: parent group {p} does not exist")
            })?;
            if store
                .conn_names
                .insert((parent, c.name.clone()), id)
                .is_some()
            {
                return Err(format!("two connections named {:?} in one group", c.name));
            }
            let connection = Connection {
                name: c.name.clone(),
                parent,
                protocol: c.protocol.clone(),
                parameters: c
                    .parameters
                    .iter()
                    .filter(|(_, v)| !v.is_empty())
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
                attributes: c.attributes.clone(),
            };
            if store.connections.insert(id, connection).is_some() {
                return Err(format!("connection {id} is listed twice"));
            }
        }
        for s in &state.sharing_profiles {
            let id = id_of(&s.identifier, "sharing profile")?;
            let primary = id_of(&s.primary_connection_identifier, "connection")?;
            if !store.connections.contains_key(&primary) {
                return Err(format!(
                    "sharing profile {id}: connection {primary} does not exist"
                ));
            }
            store.sharing_profiles.insert(
                id,
                SharingProfile {
                    name: s.name.clone(),
                    primary,
                    parameters: s.parameters.clone(),
                },
            );
        }
        for u in &state.users {
            let user = User {
                password: u.password.clone(),
                disabled: u.disabled,
                attributes: u.attributes.clone(),
                perms: perms_from(&u.permissions)
                    .map_err(|e| format!("user {:?}: {e}", u.username))?,
                last_active: u.last_active,
                totp_secret: u.totp_secret.clone(),
            };
            if store.users.insert(u.username.clone(), user).is_some() {
                return Err(format!("user {:?} is listed twice", u.username));
            }
        }
        for g in &state.user_groups {
            let group = UserGroup {
                disabled: g.disabled,
                attributes: g.attributes.clone(),
                member_users: g.member_users.clone(),
                member_groups: g.member_user_groups.clone(),
                perms: perms_from(&g.permissions)
                    .map_err(|e| format!("user group {:?}: {e}", g.identifier))?,
            };
            if store
                .user_groups
                .insert(g.identifier.clone(), group)
                .is_some()
            {
                return Err(format!("user group {:?} is listed twice", g.identifier));
            }
        }
        for a in &state.active_connections {
            store.active.insert(a.identifier.clone(), a.clone());
        }
        store.history.clone_from(&state.history);
        let max = |it: &mut dyn Iterator<Item = u64>| it.max().map_or(1, |m| m + 1);
        let derived = NextIds {
            connection: max(&mut store.connections.keys().copied()),
            connection_group: max(&mut store.groups.keys().copied()),
            sharing_profile: max(&mut store.sharing_profiles.keys().copied()),
            history: max(&mut store
                .history
                .iter()
                .filter_map(|h| numeric_id(&h.identifier))),
        };
        store.next = match &state.next_ids {
            Some(n) => NextIds {
                connection: n.connection.max(derived.connection),
                connection_group: n.connection_group.max(derived.connection_group),
                sharing_profile: n.sharing_profile.max(derived.sharing_profile),
                history: n.history.max(derived.history),
            },
            None => derived,
        };
        Ok(store)
    }

    /// The state document of this store (deterministic order).
    #[must_use]
    pub fn to_state(&self) -> State {
        State {
            version: 1,
            users: self
                .users
                .iter()
                .map(|(name, u)| UserState {
                    username: name.clone(),
                    password: u.password.clone(),
                    disabled: u.disabled,
                    attributes: u.attributes.clone(),
                    permissions: perms_to(&u.perms),
                    last_active: u.last_active,
                    totp_secret: u.totp_secret.clone(),
                })
                .collect(),
            user_groups: self
                .user_groups
                .iter()
                .map(|(name, g)| UserGroupState {
                    identifier: name.clone(),
                    disabled: g.disabled,
                    attributes: g.attributes.clone(),
                    member_users: g.member_users.clone(),
                    member_user_groups: g.member_groups.clone(),
                    permissions: perms_to(&g.perms),
                })
                .collect(),
            connection_groups: self
                .groups
                .iter()
                .map(|(id, g)| ConnectionGroupState {
                    identifier: id.to_string(),
                    name: g.name.clone(),
                    parent_identifier: parent_str(g.parent),
                    group_type: g.group_type.clone(),
                    attributes: g.attributes.clone(),
                })
                .collect(),
            connections: self
                .connections
                .iter()
                .map(|(id, c)| ConnectionState {
                    identifier: id.to_string(),
                    name: c.name.clone(),
                    parent_identifier: parent_str(c.parent),
                    protocol: c.protocol.clone(),
                    parameters: c.parameters.clone(),
                    attributes: c.attributes.clone(),
                })
                .collect(),
            sharing_profiles: self
                .sharing_profiles
                .iter()
                .map(|(id, s)| SharingProfileState {
                    identifier: id.to_string(),
                    name: s.name.clone(),
                    primary_connection_identifier: s.primary.to_string(),
                    parameters: s.parameters.clone(),
                })
                .collect(),
            active_connections: self.active.values().cloned().collect(),
            history: self.history.clone(),
            next_ids: Some(self.next.clone()),
        }
    }
}

//! The server's data and the rules every kind shares, as the JDBC data source
//! with `PostgreSQL` applies them (rest-api.md §3–§8): one table per kind, the
//! permissions each entity holds, implicit grants to a creator, and deletion with
//! its cascade. What differs between kinds is in `crate::kind`; how fields bind,
//! in `fields`; the state document, in `load`.
//!
//! A directory PATCH runs on a clone of the store and is committed only when every
//! patch succeeded, which is the transaction the real server opens.

mod fields;
mod load;
mod perms;

use std::collections::{BTreeMap, BTreeSet, HashMap};

pub use fields::{
    AttributeMode, NAME_LIMIT, PROTOCOL_LIMIT, apply_attributes, chars, check_name,
    check_parameters, map_field, numeric_id, object, parent_of, parent_str, required_map,
    stored_parameters, text_field,
};
pub use perms::{Actor, PermSet, Perms, denied};

use crate::error::{ApiError, Result};
use crate::kind::{Connection, Group, Kind, SharingProfile, Target, User, UserGroup};
use crate::state::{
    ActiveConnectionState, HistoryState, NextIds, ObjectPermission, SystemPermission,
};
use crate::version::GuacamoleVersion;

/// Everything the server holds: one table per kind, keyed by identifier, plus the
/// records of sessions and history.
#[derive(Clone, Debug, Default)]
pub struct Store {
    pub users: BTreeMap<String, User>,
    pub user_groups: BTreeMap<String, UserGroup>,
    pub groups: BTreeMap<u64, Group>,
    pub connections: BTreeMap<u64, Connection>,
    pub sharing_profiles: BTreeMap<u64, SharingProfile>,
    pub active: BTreeMap<String, ActiveConnectionState>,
    pub history: Vec<HistoryState>,
    pub next: NextIds,
    /// (parent, name) → id: the unique constraints `connection_name_parent` and
    /// `connection_group_name_parent`.
    pub(crate) conn_names: HashMap<(Option<u64>, String), u64>,
    pub(crate) group_names: HashMap<(Option<u64>, String), u64>,
    actors: ActorCache,
    /// The release whose rules apply (`from_state_as`).
    pub version: GuacamoleVersion,
}

/// Each user's merged permissions, worked out once between two writes: an
/// administrator of a large server holds a permission on every object, and copying
/// that per request would make the test server, not the client, the bottleneck.
/// Emptied whenever a write lock on the store is released (see
/// `Shared::write_store`), except after a write that can only have changed one
/// user's own permissions (a permission PATCH of a user), which forgets that
/// user's actor alone; never carried into a copy.
#[derive(Debug, Default)]
struct ActorCache(std::sync::Mutex<HashMap<String, std::sync::Arc<Actor>>>);

impl Clone for ActorCache {
    fn clone(&self) -> Self {
        Self::default()
    }
}

impl ActorCache {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, std::sync::Arc<Actor>>> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Store {
    /// The user groups a user (or a group) belongs to, directly or through other
    /// groups.
    #[must_use]
    pub fn groups_of(&self, user: Option<&str>, group: Option<&str>) -> BTreeSet<String> {
        let mut found: BTreeSet<String> = self
            .user_groups
            .iter()
            .filter(|(_, g)| {
                !g.disabled
                    && (user.is_some_and(|u| g.member_users.contains(u))
                        || group.is_some_and(|x| g.member_groups.contains(x)))
            })
            .map(|(n, _)| n.clone())
            .collect();
        loop {
            let more: Vec<String> = self
                .user_groups
                .iter()
                .filter(|(n, g)| {
                    !g.disabled
                        && !found.contains(*n)
                        && g.member_groups.iter().any(|m| found.contains(m))
                })
                .map(|(n, _)| n.clone())
                .collect();
            if more.is_empty() {
                return found;
            }
            found.extend(more);
        }
    }

    /// A user's own permissions merged with those of every group it belongs to.
    #[must_use]
    pub fn effective_perms(&self, username: &str) -> Perms {
        let mut perms = self
            .users
            .get(username)
            .map(|u| u.perms.clone())
            .unwrap_or_default();
        for g in self.groups_of(Some(username), None) {
            if let Some(group) = self.user_groups.get(&g) {
                perms.merge(&group.perms);
            }
        }
        perms
    }

    /// The actor for a logged-in user: own permissions plus those of every group
    /// the user belongs to.
    #[must_use]
    pub fn actor(&self, username: &str) -> std::sync::Arc<Actor> {
        if let Some(a) = self.actors.lock().get(username) {
            return std::sync::Arc::clone(a);
        }
        let actor = std::sync::Arc::new(self.compute_actor(username));
        self.actors
            .lock()
            .insert(username.to_owned(), std::sync::Arc::clone(&actor));
        actor
    }

    /// Forgets every cached actor; called when a write to the store ends.
    pub fn forget_actors(&self) {
        self.actors.lock().clear();
    }

    /// Forgets the cached actor of one user: after a write that changed that
    /// user's own permissions and nothing else (an actor is the user's own
    /// permissions merged with its groups', so no other actor holds them).
    pub fn forget_actor(&self, username: &str) {
        self.actors.lock().remove(username);
    }

    fn compute_actor(&self, username: &str) -> Actor {
        let perms = self.effective_perms(username);
        Actor {
            username: username.to_owned(),
            admin: perms.system.contains(&SystemPermission::Administer),
            perms,
        }
    }

    /// The implicit grant to whoever creates an object: every object permission on
    /// it (`ModeledDirectoryObjectService#getImplicitPermissions`), unless the
    /// creator has no database row.
    pub fn grant_creator<T: Target>(&mut self, actor: &Actor, id: &T::Id) {
        if let Some(user) = self.users.get_mut(&actor.username) {
            T::grants_mut(&mut user.perms).insert(id.clone(), ObjectPermission::ALL.into());
        }
    }

    /// Stores a new object and grants its creator everything on it.
    pub fn created<K: Kind>(&mut self, actor: &Actor, id: K::Id, object: K) -> K::Id {
        K::put(self, id.clone(), object);
        self.grant_creator::<K>(actor, &id);
        id
    }

    /// The object an update names: `Not found` when there is none.
    pub fn existing<K: Kind>(&self, id: &K::Id) -> Result<&K> {
        K::table(self)
            .get(id)
            .ok_or_else(|| ApiError::not_found_id(&id.to_string()).into())
    }

    /// Drops every permission anyone holds on an object that is gone.
    pub fn forget<T: Target>(&mut self, id: &T::Id) {
        for u in self.users.values_mut() {
            T::grants_mut(&mut u.perms).remove(id);
        }
        for g in self.user_groups.values_mut() {
            T::grants_mut(&mut g.perms).remove(id);
        }
    }

    /// Deletes an object with its cascade. Only the DELETE permission is checked,
    /// so an administrator deleting a missing identifier deletes nothing and
    /// succeeds, as the database's `DELETE` of 0 rows does.
    pub fn delete<K: Kind>(&mut self, actor: &Actor, id: &K::Id) -> Result<()> {
        K::before_delete(actor, id)?;
        if !actor.can::<K>(id, ObjectPermission::Delete) {
            return Err(denied());
        }
        if let Some(removed) = K::table_mut(self).remove(id) {
            self.forget::<K>(id);
            K::cascade(self, id, removed)?;
        }
        Ok(())
    }
}

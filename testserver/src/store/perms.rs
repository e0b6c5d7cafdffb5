//! Who may do what: the permissions one user or user group holds, and the actor of
//! a request with its groups' permissions merged in (rest-api.md §6). Object
//! permissions are kept per kind of target, typed by that kind's identifier, and
//! read through [`Target`] so that every check is written once for all kinds.

use std::collections::{BTreeMap, BTreeSet};

use crate::error::{ApiError, Fail};
use crate::kind::{ActiveConnections, Connection, Group, SharingProfile, Target, User, UserGroup};
use crate::state::{ObjectPermission, SystemPermission};

pub type PermSet = BTreeSet<ObjectPermission>;

/// Permissions of one entity, keyed for fast lookup.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Perms {
    pub system: BTreeSet<SystemPermission>,
    pub connection: BTreeMap<u64, PermSet>,
    pub connection_group: BTreeMap<u64, PermSet>,
    pub sharing_profile: BTreeMap<u64, PermSet>,
    pub active_connection: BTreeMap<String, PermSet>,
    pub user: BTreeMap<String, PermSet>,
    pub user_group: BTreeMap<String, PermSet>,
}

fn merge_grants<T: Target>(into: &mut Perms, from: &Perms) {
    let target = T::grants_mut(into);
    for (id, set) in T::grants(from) {
        target.entry(id.clone()).or_default().extend(set);
    }
}

impl Perms {
    /// Adds another entity's permissions (a group's, for its members).
    pub fn merge(&mut self, other: &Self) {
        self.system.extend(other.system.iter().copied());
        merge_grants::<Connection>(self, other);
        merge_grants::<Group>(self, other);
        merge_grants::<SharingProfile>(self, other);
        merge_grants::<ActiveConnections>(self, other);
        merge_grants::<User>(self, other);
        merge_grants::<UserGroup>(self, other);
    }
}

/// Who is asking, with permissions already merged from the groups they belong to.
#[derive(Clone, Debug)]
pub struct Actor {
    pub username: String,
    pub admin: bool,
    pub perms: Perms,
}

impl Actor {
    /// Whether the actor holds `p` on an object (an administrator holds everything).
    pub fn can<T: Target>(&self, id: &T::Id, p: ObjectPermission) -> bool {
        self.admin
            || T::grants(&self.perms)
                .get(id)
                .is_some_and(|s| s.contains(&p))
    }

    /// Whether the actor's own grants on the object include any of `filter` (an
    /// empty filter passes): the `?permission=` filter of a directory listing or a
    /// tree, which applies to non-administrators only.
    pub fn passes_filter<T: Target>(&self, id: &T::Id, filter: &[ObjectPermission]) -> bool {
        let held = T::grants(&self.perms).get(id);
        filter.is_empty() || filter.iter().any(|p| held.is_some_and(|s| s.contains(p)))
    }

    pub fn has_system(&self, p: SystemPermission) -> bool {
        self.admin || self.perms.system.contains(&p)
    }
}

/// The `GuacamoleSecurityException` every failed permission check throws.
pub fn denied() -> Fail {
    ApiError::permission_denied("Permission denied.").into()
}

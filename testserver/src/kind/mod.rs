//! One description per kind of object the REST API serves: connections,
//! connection groups, sharing profiles, users and user groups (rest-api.md §3–§8).
//! Guacamole serves them all as directories with the same shape (a map to list,
//! POST to create, an atomic PATCH, `{id}` to read, replace or delete, a few
//! sub-resources); what differs is data and rules, which a [`Kind`] gives. The
//! router (`crate::api::directory`), the directory PATCH (`crate::patch`), the
//! permission checks and the state document are written once over these traits,
//! so a new kind is a type and an impl, not another handler.
//!
//! Active connections are a directory of records, not of objects: they are only a
//! permission [`Target`] here and keep their own routes.

/// The [`Target`] accessors of a kind whose objects are the field `$table` of
/// [`Store`] and whose grants are `$held` of [`Perms`] and `$saved` of the state
/// document's [`Permissions`].
macro_rules! target_in {
    ($table:ident, $held:ident, $saved:ident) => {
        fn exists(store: &Store, id: &Self::Id) -> bool {
            store.$table.contains_key(id)
        }
        fn grants(perms: &Perms) -> &BTreeMap<Self::Id, PermSet> {
            &perms.$held
        }
        fn grants_mut(perms: &mut Perms) -> &mut BTreeMap<Self::Id, PermSet> {
            &mut perms.$held
        }
        fn saved(perms: &Permissions) -> &BTreeMap<String, PermSet> {
            &perms.$saved
        }
        fn saved_mut(perms: &mut Permissions) -> &mut BTreeMap<String, PermSet> {
            &mut perms.$saved
        }
    };
}

/// The [`Kind`] accessors of a kind whose objects are the field `$table` of
/// [`Store`].
macro_rules! table_in {
    ($table:ident) => {
        fn table(store: &Store) -> &BTreeMap<Self::Id, Self> {
            &store.$table
        }
        fn table_mut(store: &mut Store) -> &mut BTreeMap<Self::Id, Self> {
            &mut store.$table
        }
    };
}

mod active;
mod connection;
mod group;
mod sharing_profile;
mod user;
mod user_group;

use std::collections::BTreeMap;
use std::fmt;

use serde_json::Value;

pub use active::ActiveConnections;
pub use connection::Connection;
pub use group::Group;
pub use sharing_profile::SharingProfile;
pub use user::User;
pub use user_group::UserGroup;

use crate::api::Call;
use crate::error::Result;
use crate::server::Reply;
use crate::state::{ObjectPermission, Permissions};
use crate::store::{Actor, AttributeMode, PermSet, Perms, Store, numeric_id};
use crate::version::GuacamoleVersion;

/// How a kind's objects are identified.
pub trait Identifier: Clone + Ord + fmt::Display + fmt::Debug + 'static {
    /// Whether a permission on such an object is a row with a foreign key to it
    /// (serial-keyed tables: granting on a missing object is a database error)
    /// rather than an insert joined on the entity names that exist (users, user
    /// groups, active connections: a missing name inserts nothing).
    const FOREIGN_KEY: bool;

    /// An identifier as it arrives in a path or a patch: JDBC ignores the
    /// non-numeric ones of serial-keyed tables (`isValidIdentifier`); any string
    /// names a user or a group.
    fn parse(raw: &str) -> Option<Self>;
}

impl Identifier for u64 {
    const FOREIGN_KEY: bool = true;

    fn parse(raw: &str) -> Option<Self> {
        numeric_id(raw)
    }
}

impl Identifier for String {
    const FOREIGN_KEY: bool = false;

    fn parse(raw: &str) -> Option<Self> {
        Some(raw.to_owned())
    }
}

/// Something an object permission can be held on (the six object keys of a
/// permission set, rest-api.md §6).
pub trait Target: Sized + 'static {
    type Id: Identifier;
    /// What an error message calls one (`connection group`).
    const NOUN: &'static str;
    /// Its key in a permission set, in permission PATCH paths and in the state
    /// document (`connectionGroupPermissions`).
    const PERMISSIONS: &'static str;

    fn grants(perms: &Perms) -> &BTreeMap<Self::Id, PermSet>;
    fn grants_mut(perms: &mut Perms) -> &mut BTreeMap<Self::Id, PermSet>;
    /// The same grants in the state document.
    fn saved(perms: &Permissions) -> &BTreeMap<String, PermSet>;
    fn saved_mut(perms: &mut Permissions) -> &mut BTreeMap<String, PermSet>;
    fn exists(store: &Store, id: &Self::Id) -> bool;

    /// Who, besides an administrator, may grant or revoke a permission on it
    /// (`ModeledObjectPermissionService#canAlterPermissions`): ADMINISTER on it.
    fn may_grant(actor: &Actor, id: &Self::Id) -> bool {
        actor.can::<Self>(id, ObjectPermission::Administer)
    }
}

/// A kind that holds permissions and memberships: users and user groups.
pub trait Principal: Kind<Id = String> {
    fn perms(&self) -> &Perms;
    fn perms_mut(&mut self) -> &mut Perms;

    /// Whether it is the actor itself, who may remove none of its own system
    /// permissions (`SystemPermissionService#deletePermissions`).
    fn is_actor(_actor: &Actor, _id: &String) -> bool {
        false
    }

    /// Whether a change of its own permissions changes the effective
    /// permissions of itself alone (a user's; a group's reach its members).
    const ONLY_ITSELF: bool = false;
}

/// How an update arrived: `PUT {id}` filters the attributes to the schema, a
/// PATCH `replace` does not (rest-api.md §4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Via {
    Put,
    Patch,
}

impl Via {
    #[must_use]
    pub fn attributes(self) -> AttributeMode {
        match self {
            Self::Put => AttributeMode::Filtered,
            Self::Patch => AttributeMode::Unfiltered,
        }
    }
}

/// A resource below an object, `{endpoint}/{id}/{name}`, and what serves it.
pub struct SubResource<K: Kind> {
    pub name: &'static str,
    pub serve: fn(&Call<'_>, &K::Id) -> Result<Reply>,
}

/// A directory of objects: the stored object type itself, with its rules.
pub trait Kind: Target + Clone + Sized {
    /// The directory's path segment below the data source (`connectionGroups`).
    const ENDPOINT: &'static str;
    /// The resources below one object, besides the object itself.
    const SUB_RESOURCES: &'static [SubResource<Self>];

    fn table(store: &Store) -> &BTreeMap<Self::Id, Self>;
    fn table_mut(store: &mut Store) -> &mut BTreeMap<Self::Id, Self>;

    /// Whether the actor sees the object at all, in a list or at `{id}`: READ on
    /// it (for users, also oneself).
    fn visible(actor: &Actor, id: &Self::Id) -> bool {
        actor.can::<Self>(id, ObjectPermission::Read)
    }

    /// The object as a GET answers it.
    fn view(&self, store: &Store, actor: &Actor, id: &Self::Id) -> Value;

    /// What a POST answers for the object it created (`crate::echo`).
    fn echo(body: &Value, id: &Self::Id, version: GuacamoleVersion) -> Result<Value>;

    /// Creates an object from a POST body or a PATCH `add` value, checking what
    /// the JDBC service checks, in its order. Returns the new identifier.
    fn create(store: &mut Store, actor: &Actor, body: &Value) -> Result<Self::Id>;

    /// Applies a PUT body or a PATCH `replace` value to an existing object.
    fn update(
        store: &mut Store,
        actor: &Actor,
        id: &Self::Id,
        body: &Value,
        via: Via,
    ) -> Result<()>;

    /// Stores the object under its identifier; a kind with a unique-name index
    /// keeps it true.
    fn put(store: &mut Store, id: Self::Id, object: Self) {
        Self::table_mut(store).insert(id, object);
    }

    /// What is refused before the DELETE permission is even checked.
    fn before_delete(_actor: &Actor, _id: &Self::Id) -> Result<()> {
        Ok(())
    }

    /// What goes with a deleted object (`ON DELETE CASCADE`, name indexes); its
    /// permissions are already gone.
    fn cascade(_store: &mut Store, _id: &Self::Id, _removed: Self) -> Result<()> {
        Ok(())
    }

    /// An identifier that names no row of the table but is served anyway (a
    /// connection group directory's `ROOT`).
    fn fixed(_call: &Call<'_>, _raw: &str, _sub: &[&str]) -> Option<Result<Reply>> {
        None
    }
}

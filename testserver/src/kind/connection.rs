//! Connections (rest-api.md §3): numbered, named uniquely within their parent
//! group, with parameters readable only with UPDATE, and sharing profiles and
//! history hanging off them. The rules are `ConnectionService`'s, in its order.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::{Group, Kind, SubResource, Target, Via};
use crate::api::{self, Call};
use crate::error::{Fail, Result};
use crate::schema;
use crate::server::{Reply, json_reply};
use crate::state::{ObjectPermission, Permissions, SystemPermission};
use crate::store::{
    Actor, AttributeMode, NAME_LIMIT, PROTOCOL_LIMIT, PermSet, Perms, Store, apply_attributes,
    chars, check_name, check_parameters, denied, map_field, object, parent_of, required_map,
    stored_parameters, text_field,
};
use crate::version::GuacamoleVersion;

#[derive(Clone, Debug)]
pub struct Connection {
    pub name: String,
    pub parent: Option<u64>,
    pub protocol: String,
    pub parameters: BTreeMap<String, String>,
    pub attributes: BTreeMap<String, String>,
}

impl Target for Connection {
    type Id = u64;
    const NOUN: &'static str = "connection";
    const PERMISSIONS: &'static str = "connectionPermissions";

    target_in!(connections, connection, connection_permissions);
}

impl Kind for Connection {
    const ENDPOINT: &'static str = "connections";
    const SUB_RESOURCES: &'static [SubResource<Self>] = &[
        SubResource {
            name: "parameters",
            serve: |call, id| api::parameters::<Self>(call, id, |c| &c.parameters),
        },
        SubResource {
            name: "history",
            serve: |call, id| api::history(call, "connections", Some(*id)),
        },
        SubResource {
            name: "sharingProfiles",
            serve: |call, id| Ok(sharing_profiles(call, *id)),
        },
    ];

    table_in!(connections);

    fn view(&self, store: &Store, _actor: &Actor, id: &u64) -> Value {
        crate::views::connection(store, *id, self)
    }

    fn echo(body: &Value, id: &u64, _version: GuacamoleVersion) -> Result<Value> {
        crate::echo::connection(body, *id)
    }

    fn create(store: &mut Store, actor: &Actor, body: &Value) -> Result<u64> {
        let obj = object(body)?;
        // Translation and attribute filtering happen before the JDBC checks, and a
        // missing `attributes` map is a NullPointerException there.
        let attributes = required_map(obj, "attributes")?;
        let parameters = map_field(obj.get("parameters"), "parameters")?.unwrap_or_default();
        let draft = Draft {
            name: text_field(obj.get("name"), "name")?,
            protocol: text_field(obj.get("protocol"), "protocol")?,
            parameters,
            attributes,
        };
        check_parameters(&draft.parameters, store.version)?;
        let parent = parent_of(obj, &store.groups);
        if !actor.has_system(SystemPermission::CreateConnection) {
            return Err(denied());
        }
        let parent = parent?;
        Group::may_hold(actor, [parent])?;
        let connection = draft.checked(
            store,
            None,
            parent,
            BTreeMap::new(),
            AttributeMode::Filtered,
        )?;
        let id = store.next.connection;
        store.next.connection += 1;
        Ok(store.created::<Self>(actor, id, connection))
    }

    /// A full replacement of name, parent, protocol, parameters and attributes.
    fn update(store: &mut Store, actor: &Actor, id: &u64, body: &Value, via: Via) -> Result<()> {
        let obj = object(body)?;
        let parameters = map_field(obj.get("parameters"), "parameters")?;
        let attributes = map_field(obj.get("attributes"), "attributes")?;
        let name = text_field(obj.get("name"), "name")?;
        let protocol = text_field(obj.get("protocol"), "protocol")?;
        let (Some(parameters), Some(attributes)) = (parameters, attributes) else {
            // `setParameters(null)` / `attributes.get` on null.
            return Err(Fail::Internal);
        };
        let existing = store.existing::<Self>(id)?;
        let (old_parent, old_attributes) = (existing.parent, existing.attributes.clone());
        check_parameters(&parameters, store.version)?;
        let parent = parent_of(obj, &store.groups)?;
        if !actor.can::<Self>(id, ObjectPermission::Update) {
            return Err(denied());
        }
        Group::may_hold(actor, [old_parent, parent])?;
        let draft = Draft {
            name,
            protocol,
            parameters,
            attributes,
        };
        let connection =
            draft.checked(store, Some(*id), parent, old_attributes, via.attributes())?;
        Self::put(store, *id, connection);
        Ok(())
    }

    /// `connection_name_parent`: one name per parent group.
    fn put(store: &mut Store, id: u64, connection: Self) {
        if let Some(old) = store.connections.get(&id) {
            store.conn_names.remove(&(old.parent, old.name.clone()));
        }
        store
            .conn_names
            .insert((connection.parent, connection.name.clone()), id);
        store.connections.insert(id, connection);
    }

    /// Parameters, permissions, sharing profiles and attributes go with it; its
    /// history stays, no longer pointing at it.
    fn cascade(store: &mut Store, id: &u64, removed: Self) -> Result<()> {
        store.conn_names.remove(&(removed.parent, removed.name));
        let profiles: Vec<u64> = store
            .sharing_profiles
            .iter()
            .filter(|(_, s)| s.primary == *id)
            .map(|(k, _)| *k)
            .collect();
        for p in profiles {
            store.sharing_profiles.remove(&p);
            store.forget::<super::SharingProfile>(&p);
        }
        let id = id.to_string();
        for h in &mut store.history {
            if h.connection_identifier.as_deref() == Some(id.as_str()) {
                h.connection_identifier = None;
            }
        }
        Ok(())
    }
}

/// A submitted `APIConnection` as Jackson bound it.
struct Draft {
    name: Option<String>,
    protocol: Option<String>,
    parameters: BTreeMap<String, Option<String>>,
    attributes: BTreeMap<String, Option<String>>,
}

impl Draft {
    /// The connection to store, checked in `ConnectionService`'s order after the
    /// permission checks. `id` is the connection being updated, which may keep its
    /// own name; `attributes` are the stored ones the submitted map applies to.
    fn checked(
        self,
        store: &Store,
        id: Option<u64>,
        parent: Option<u64>,
        mut attributes: BTreeMap<String, String>,
        mode: AttributeMode,
    ) -> Result<Connection> {
        let name = self.name.unwrap_or_default();
        check_name(&name, "Connection names must not be blank.", || {
            store
                .connection_named(parent, &name)
                .filter(|other| Some(*other) != id)
                .map(|_| format!("The connection \"{name}\" already exists."))
        })?;
        let protocol = self.protocol.ok_or(Fail::Internal)?;
        if chars(&name) > NAME_LIMIT || chars(&protocol) > PROTOCOL_LIMIT {
            return Err(Fail::Internal);
        }
        let parameters = stored_parameters(&self.parameters)?;
        apply_attributes(
            &mut attributes,
            &self.attributes,
            schema::CONNECTION_ATTRIBUTES,
            mode,
        );
        Ok(Connection {
            name,
            parent,
            protocol,
            parameters,
            attributes,
        })
    }
}

impl Store {
    /// `(parent, name)` lookup: the unique constraint `connection_name_parent`.
    #[must_use]
    pub fn connection_named(&self, parent: Option<u64>, name: &str) -> Option<u64> {
        self.conn_names.get(&(parent, name.to_owned())).copied()
    }

    /// Sessions open on a connection now.
    #[must_use]
    pub fn active_count(&self, connection: u64) -> usize {
        let id = connection.to_string();
        self.active
            .values()
            .filter(|a| a.connection_identifier == id)
            .count()
    }

    /// When a connection was last used: `MAX(start_date)` of its history.
    #[must_use]
    pub fn last_active(&self, connection: u64) -> Option<i64> {
        let id = connection.to_string();
        self.history
            .iter()
            .filter(|h| h.connection_identifier.as_deref() == Some(id.as_str()))
            .map(|h| h.start_date)
            .max()
    }
}

/// `{id}/sharingProfiles`: the readable profiles whose primary connection this is
/// (a read-only `DirectoryView`).
fn sharing_profiles(call: &Call<'_>, id: u64) -> Reply {
    if call.method != "GET" {
        return api::not_allowed();
    }
    let store = call.shared.read_store();
    let actor = store.actor(call.user);
    let map: Map<String, Value> = store
        .sharing_profiles
        .iter()
        .filter(|(sid, s)| {
            s.primary == id && actor.can::<super::SharingProfile>(sid, ObjectPermission::Read)
        })
        .map(|(sid, s)| (sid.to_string(), s.view(&store, &actor, sid)))
        .collect();
    json_reply(200, &json!(map))
}

//! How objects look on the wire (rest-api.md §3, §5–§9): which fields appear,
//! which nulls are written and which left out.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use crate::kind::{ActiveConnections, Connection, Group, SharingProfile, Target, User, UserGroup};
use crate::legacy;
use crate::schema::{self, CONNECTION_ATTRIBUTE_ORDER};
use crate::state::{ActiveConnectionState, HistoryState, ObjectPermission};
use crate::store::{Actor, PermSet, Perms, Store, parent_str as parent};
use crate::version::GuacamoleVersion;

/// An `APIConnection` without parameters: every JDBC attribute present (null when
/// unset) plus stored arbitrary ones; `lastActive` only when used.
#[must_use]
pub fn connection(store: &Store, id: u64, c: &Connection) -> Value {
    let mut attributes = Map::new();
    for name in CONNECTION_ATTRIBUTE_ORDER {
        attributes.insert(
            (*name).to_owned(),
            c.attributes.get(*name).map_or(Value::Null, |v| json!(v)),
        );
    }
    for (k, v) in &c.attributes {
        attributes.entry(k.clone()).or_insert_with(|| json!(v));
    }
    let mut v = json!({
        "name": c.name,
        "identifier": id.to_string(),
        "parentIdentifier": parent(c.parent),
        "protocol": c.protocol,
        "attributes": attributes,
        "activeConnections": store.active_count(id),
    });
    if let Some(t) = store.last_active(id) {
        v["lastActive"] = json!(t);
    }
    v
}

#[must_use]
pub fn group(id: u64, g: &Group) -> Value {
    json!({
        "name": g.name,
        "identifier": id.to_string(),
        "parentIdentifier": parent(g.parent),
        "type": g.group_type,
        "activeConnections": 0,
        "attributes": {
            "max-connections": g.attributes.get("max-connections"),
            "max-connections-per-user": g.attributes.get("max-connections-per-user"),
            // JDBC reads this one back as "true" or "", never null.
            "enable-session-affinity": g.attributes.get("enable-session-affinity").map_or("", String::as_str),
        }
    })
}

#[must_use]
pub fn root_group() -> Value {
    json!({"name": "ROOT", "identifier": "ROOT", "type": "ORGANIZATIONAL", "activeConnections": 0, "attributes": {}})
}

#[must_use]
pub fn sharing_profile(id: u64, name: &str, primary: u64) -> Value {
    json!({"name": name, "identifier": id.to_string(), "primaryConnectionIdentifier": primary.to_string(), "attributes": {}})
}

/// Whether an object shows in a tree: administrators see everything, others
/// what they can read and, with `?permission=`, hold one of those on.
fn passes<T: Target>(actor: &Actor, id: &T::Id, filter: &[ObjectPermission]) -> bool {
    actor.admin
        || (actor.can::<T>(id, ObjectPermission::Read) && actor.passes_filter::<T>(id, filter))
}

/// Children of each group, indexed once per tree request.
struct Children {
    groups: BTreeMap<Option<u64>, Vec<u64>>,
    connections: BTreeMap<Option<u64>, Vec<u64>>,
    profiles: BTreeMap<u64, Vec<Value>>,
}

fn fill(node: &mut Value, at: Option<u64>, store: &Store, children: &mut Children) {
    if let Some(ids) = children.groups.get(&at).cloned() {
        let mut list = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(g) = store.groups.get(&id) {
                let mut child = group(id, g);
                fill(&mut child, Some(id), store, children);
                list.push(child);
            }
        }
        node["childConnectionGroups"] = Value::Array(list);
    }
    if let Some(ids) = children.connections.get(&at) {
        let mut list = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(c) = store.connections.get(id) {
                let mut v = connection(store, *id, c);
                if let Some(p) = children.profiles.remove(id) {
                    v["sharingProfiles"] = Value::Array(p);
                }
                list.push(v);
            }
        }
        node["childConnections"] = Value::Array(list);
    }
}

/// The tree below a group, built in one pass over the store. Empty child lists are
/// left out; connections carry their sharing profiles; no parameters.
#[must_use]
pub fn tree(store: &Store, actor: &Actor, root: Option<u64>, filter: &[ObjectPermission]) -> Value {
    let mut children = Children {
        groups: BTreeMap::new(),
        connections: BTreeMap::new(),
        profiles: BTreeMap::new(),
    };
    for (id, g) in &store.groups {
        if actor.can::<Group>(id, ObjectPermission::Read) {
            children.groups.entry(g.parent).or_default().push(*id);
        }
    }
    for (id, c) in &store.connections {
        if passes::<Connection>(actor, id, filter) {
            children.connections.entry(c.parent).or_default().push(*id);
        }
    }
    for (id, s) in &store.sharing_profiles {
        if passes::<SharingProfile>(actor, id, filter) {
            children
                .profiles
                .entry(s.primary)
                .or_default()
                .push(sharing_profile(*id, &s.name, s.primary));
        }
    }
    let mut node = match root.and_then(|id| store.groups.get(&id).map(|g| (id, g))) {
        Some((id, g)) => group(id, g),
        None => root_group(),
    };
    fill(&mut node, root, store, &mut children);
    node
}

/// An `APIUser`: `disabled` top-level, every profile attribute (null when unset),
/// restriction attributes only for readers holding ADMINISTER on the user, and
/// the arbitrary attributes stored for it. On
/// 1.5.5 `disabled` is the restriction attribute `disabled` ("true" or null).
#[must_use]
pub fn user(actor: &Actor, name: &str, u: &User, version: GuacamoleVersion) -> Value {
    let show_restricted = actor.can::<User>(&name.to_owned(), ObjectPermission::Administer);
    let mut attributes = Map::new();
    for f in schema::user_attributes(version) {
        if f.restricted && !show_restricted {
            continue;
        }
        let value = if f.name == legacy::DISABLED {
            u.disabled.then(|| "true".to_owned())
        } else {
            u.attributes.get(f.name).cloned()
        };
        attributes.insert(f.name.to_owned(), json!(value));
    }
    // Arbitrary attributes (stored by a PATCH replace, or left behind by a removed
    // extension) come first in `ModeledUser#getAttributes` (1.5.5 and 1.6.0), for
    // every reader: `ModeledDirectoryObject#getAttributes`.
    let fields = schema::user_attributes(version);
    for (k, v) in &u.attributes {
        if !fields.iter().any(|f| f.name == k) {
            attributes.insert(k.clone(), json!(v));
        }
    }
    let mut v = json!({"username": name, "attributes": attributes});
    if !version.is_1_5() {
        v["disabled"] = json!(u.disabled);
    }
    if let Some(t) = u.last_active {
        v["lastActive"] = json!(t);
    }
    v
}

/// An `APIUserGroup`: `disabled` top-level and no attributes on 1.6.0; on 1.5.5
/// no such property, and the `disabled` attribute for readers holding ADMINISTER.
#[must_use]
pub fn user_group(actor: &Actor, name: &str, disabled: bool, version: GuacamoleVersion) -> Value {
    if !version.is_1_5() {
        return json!({"identifier": name, "disabled": disabled, "attributes": {}});
    }
    let mut attributes = Map::new();
    if actor.can::<UserGroup>(&name.to_owned(), ObjectPermission::Administer) {
        attributes.insert(
            legacy::DISABLED.to_owned(),
            json!(disabled.then_some("true")),
        );
    }
    json!({"identifier": name, "attributes": attributes})
}

fn perm_list(s: &PermSet) -> Value {
    // BTreeSet of the enum iterates in Guacamole's enum order.
    json!(s.iter().collect::<Vec<_>>())
}

/// One kind's grants as a permission set shows them: identifier → permissions,
/// empty sets left out.
fn grants<T: Target>(p: &Perms) -> (String, Value) {
    let map = T::grants(p)
        .iter()
        .filter(|(_, s)| !s.is_empty())
        .map(|(k, s)| (k.to_string(), perm_list(s)))
        .collect();
    (T::PERMISSIONS.to_owned(), Value::Object(map))
}

/// The seven-key permission set, arrays in enum order.
#[must_use]
pub fn permissions(p: &Perms) -> Value {
    let mut set: Map<String, Value> = [
        grants::<Connection>(p),
        grants::<Group>(p),
        grants::<SharingProfile>(p),
        grants::<ActiveConnections>(p),
        grants::<User>(p),
        grants::<UserGroup>(p),
    ]
    .into_iter()
    .collect();
    set.insert(
        "systemPermissions".to_owned(),
        json!(p.system.iter().collect::<Vec<_>>()),
    );
    Value::Object(set)
}

/// An `APIActiveConnection`; owner-only fields for others are null.
#[must_use]
pub fn active_connection(actor: &Actor, a: &ActiveConnectionState) -> Value {
    let visible = actor.admin || a.username == actor.username;
    json!({
        "identifier": a.identifier,
        "connectionIdentifier": a.connection_identifier,
        "sharingProfileIdentifier": a.sharing_profile_identifier,
        "startDate": a.start_date,
        "remoteHost": if visible { json!(a.remote_host) } else { Value::Null },
        "username": if visible { json!(a.username) } else { Value::Null },
        "connectable": if visible { json!(true) } else { Value::Null },
    })
}

#[must_use]
pub fn history_record(h: &HistoryState) -> Value {
    json!({
        "startDate": h.start_date,
        "endDate": h.end_date,
        "remoteHost": h.remote_host,
        "username": h.username,
        "active": h.end_date.is_none(),
        "identifier": h.identifier,
        "uuid": h.uuid,
        "attributes": {},
        "logs": {},
        "connectionIdentifier": h.connection_identifier,
        "connectionName": h.connection_name,
        "sharingProfileIdentifier": Value::Null,
        "sharingProfileName": Value::Null,
    })
}

//! Connection groups (rest-api.md §5): numbered, named uniquely within their
//! parent, never their own ancestor, with the fixed `ROOT` above them all and the
//! tree below any of them. The rules are `ConnectionGroupService`'s, in its order.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::{Kind, SubResource, Target, Via};
use crate::api::{self, Call};
use crate::error::{ApiError, Fail, Result};
use crate::schema;
use crate::server::{Reply, json_reply, text_reply};
use crate::state::{ObjectPermission, Permissions, SystemPermission};
use crate::store::{
    Actor, AttributeMode, NAME_LIMIT, PermSet, Perms, Store, apply_attributes, chars, check_name,
    denied, object, parent_of, required_map, text_field,
};
use crate::version::GuacamoleVersion;

#[derive(Clone, Debug)]
pub struct Group {
    pub name: String,
    pub parent: Option<u64>,
    pub group_type: String,
    pub attributes: BTreeMap<String, String>,
}

impl Target for Group {
    type Id = u64;
    const NOUN: &'static str = "connection group";
    const PERMISSIONS: &'static str = "connectionGroupPermissions";

    target_in!(groups, connection_group, connection_group_permissions);
}

impl Kind for Group {
    const ENDPOINT: &'static str = "connectionGroups";
    const SUB_RESOURCES: &'static [SubResource<Self>] = &[SubResource {
        name: "tree",
        serve: |call, id| tree(call, Some(*id)),
    }];

    table_in!(groups);

    fn view(&self, _store: &Store, _actor: &Actor, id: &u64) -> Value {
        crate::views::group(*id, self)
    }

    fn echo(body: &Value, id: &u64, _version: GuacamoleVersion) -> Result<Value> {
        crate::echo::group(body, *id)
    }

    fn create(store: &mut Store, actor: &Actor, body: &Value) -> Result<u64> {
        let obj = object(body)?;
        let attributes = required_map(obj, "attributes")?;
        let (name, group_type) = bound(obj)?;
        let parent = parent_of(obj, &store.groups);
        if !actor.has_system(SystemPermission::CreateConnectionGroup) {
            return Err(denied());
        }
        let parent = parent?;
        Self::may_hold(actor, [parent])?;
        let name = unique_name(store, None, parent, name)?;
        if chars(&name) > NAME_LIMIT {
            return Err(Fail::Internal);
        }
        let mut stored = BTreeMap::new();
        apply_attributes(
            &mut stored,
            &attributes,
            schema::GROUP_ATTRIBUTES,
            AttributeMode::Filtered,
        );
        let id = store.next.connection_group;
        store.next.connection_group += 1;
        let group = Self {
            name,
            parent,
            group_type,
            attributes: stored,
        };
        Ok(store.created::<Self>(actor, id, group))
    }

    /// Replaces name, parent, type and attributes.
    fn update(store: &mut Store, actor: &Actor, id: &u64, body: &Value, via: Via) -> Result<()> {
        let obj = object(body)?;
        let attributes = required_map(obj, "attributes")?;
        let (name, group_type) = bound(obj)?;
        let existing = store.existing::<Self>(id)?.clone();
        let parent = parent_of(obj, &store.groups)?;
        if !actor.can::<Self>(id, ObjectPermission::Update) {
            return Err(denied());
        }
        Self::may_hold(actor, [existing.parent, parent])?;
        let name = unique_name(store, Some(*id), parent, name)?;
        // Moving a group under itself or one of its descendants.
        let mut at = parent;
        while let Some(g) = at {
            if g == *id {
                return Err(
                    ApiError::unsupported("A connection group may not contain itself.").into(),
                );
            }
            at = store.groups.get(&g).and_then(|g| g.parent);
        }
        if chars(&name) > NAME_LIMIT {
            return Err(Fail::Internal);
        }
        let mut stored = existing.attributes.clone();
        apply_attributes(
            &mut stored,
            &attributes,
            schema::GROUP_ATTRIBUTES,
            via.attributes(),
        );
        Self::put(
            store,
            *id,
            Self {
                name,
                parent,
                group_type,
                attributes: stored,
            },
        );
        Ok(())
    }

    /// `connection_group_name_parent`: one name per parent group.
    fn put(store: &mut Store, id: u64, group: Self) {
        if let Some(old) = store.groups.get(&id) {
            store.group_names.remove(&(old.parent, old.name.clone()));
        }
        store
            .group_names
            .insert((group.parent, group.name.clone()), id);
        store.groups.insert(id, group);
    }

    /// Every group and connection below it goes too (`ON DELETE CASCADE`, which
    /// asks nobody's permission).
    fn cascade(store: &mut Store, id: &u64, removed: Self) -> Result<()> {
        store.group_names.remove(&(removed.parent, removed.name));
        let children = inside(&store.groups, |g| g.parent, *id);
        let admin = Actor {
            username: String::new(),
            admin: true,
            perms: Perms::default(),
        };
        for child in children {
            store.delete::<Self>(&admin, &child)?;
        }
        for c in inside(&store.connections, |c| c.parent, *id) {
            store.delete::<super::Connection>(&admin, &c)?;
        }
        Ok(())
    }

    /// `ConnectionGroupDirectoryResource#getObjectResource` answers `ROOT` with the
    /// root group, whose setters throw `UnsupportedOperationException`.
    fn fixed(call: &Call<'_>, raw: &str, sub: &[&str]) -> Option<Result<Reply>> {
        if raw != "ROOT" {
            return None;
        }
        Some(match (call.method, sub) {
            ("GET", []) => Ok(json_reply(200, &crate::views::root_group())),
            ("GET", ["tree"]) => tree(call, None),
            ("PUT" | "DELETE", []) => Err(Fail::Internal),
            _ => Ok(text_reply(405, "Method Not Allowed")),
        })
    }
}

impl Group {
    /// UPDATE on every group an object leaves or enters (ROOT asks for nothing):
    /// `ModeledChildDirectoryObjectService`, for connections and groups alike.
    pub fn may_hold(actor: &Actor, parents: impl IntoIterator<Item = Option<u64>>) -> Result<()> {
        for p in parents.into_iter().flatten() {
            if !actor.can::<Self>(&p, ObjectPermission::Update) {
                return Err(denied());
            }
        }
        Ok(())
    }
}

/// The identifiers of the objects directly inside group `id`.
fn inside<V>(table: &BTreeMap<u64, V>, parent: fn(&V) -> Option<u64>, id: u64) -> Vec<u64> {
    table
        .iter()
        .filter(|(_, v)| parent(v) == Some(id))
        .map(|(k, _)| *k)
        .collect()
}

/// Name and type as Jackson binds them: the type is an enum, so a value outside
/// it fails the binding.
fn bound(obj: &Map<String, Value>) -> Result<(Option<String>, String)> {
    let name = text_field(obj.get("name"), "name")?;
    let group_type =
        text_field(obj.get("type"), "type")?.unwrap_or_else(|| "ORGANIZATIONAL".to_owned());
    if !matches!(group_type.as_str(), "ORGANIZATIONAL" | "BALANCING") {
        return Err(Fail::BadJson(format!(
            "Cannot deserialize value of type `ConnectionGroup$Type` from String \"{group_type}\""
        )));
    }
    Ok((name, group_type))
}

/// The name, not blank and not another group's in the same parent.
fn unique_name(
    store: &Store,
    id: Option<u64>,
    parent: Option<u64>,
    name: Option<String>,
) -> Result<String> {
    let name = name.unwrap_or_default();
    check_name(&name, "Connection group names must not be blank.", || {
        store
            .group_named(parent, &name)
            .filter(|other| Some(*other) != id)
            .map(|_| format!("The connection group \"{name}\" already exists."))
    })?;
    Ok(name)
}

/// `{id}/tree` (and `ROOT/tree`): the group with everything readable below it.
fn tree(call: &Call<'_>, root: Option<u64>) -> Result<Reply> {
    if call.method != "GET" {
        return Ok(text_reply(405, "Method Not Allowed"));
    }
    let filter = api::permission_filter(call.req.query.as_deref())?;
    let store = call.shared.read_store();
    let actor = store.actor(call.user);
    Ok(crate::server::json_text_reply(
        200,
        crate::field_order::to_json(
            &crate::views::tree(&store, &actor, root, &filter),
            call.shared.field_order,
        ),
    ))
}

impl Store {
    /// `(parent, name)` lookup: the unique constraint `connection_group_name_parent`.
    #[must_use]
    pub fn group_named(&self, parent: Option<u64>, name: &str) -> Option<u64> {
        self.group_names.get(&(parent, name.to_owned())).copied()
    }
}

//! Sharing profiles (rest-api.md §8): numbered, named uniquely per primary
//! connection, with parameters readable only with UPDATE and no attributes. The
//! rules are `SharingProfileService`'s, in its order.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::{Connection, Kind, SubResource, Target, Via};
use crate::api;
use crate::error::{Fail, Result};
use crate::state::{ObjectPermission, Permissions, SystemPermission};
use crate::store::{
    Actor, PermSet, Perms, Store, check_name, denied, map_field, numeric_id, object, required_map,
    stored_parameters, text_field,
};
use crate::version::GuacamoleVersion;

#[derive(Clone, Debug)]
pub struct SharingProfile {
    pub name: String,
    pub primary: u64,
    pub parameters: BTreeMap<String, String>,
}

impl Target for SharingProfile {
    type Id = u64;
    const NOUN: &'static str = "sharing profile";
    const PERMISSIONS: &'static str = "sharingProfilePermissions";

    target_in!(
        sharing_profiles,
        sharing_profile,
        sharing_profile_permissions
    );
}

impl Kind for SharingProfile {
    const ENDPOINT: &'static str = "sharingProfiles";
    const SUB_RESOURCES: &'static [SubResource<Self>] = &[SubResource {
        name: "parameters",
        serve: |call, id| api::parameters::<Self>(call, id, |s| &s.parameters),
    }];

    table_in!(sharing_profiles);

    fn view(&self, _store: &Store, _actor: &Actor, id: &u64) -> Value {
        crate::views::sharing_profile(*id, &self.name, self.primary)
    }

    fn echo(body: &Value, id: &u64, _version: GuacamoleVersion) -> Result<Value> {
        crate::echo::sharing_profile(body, *id)
    }

    fn create(store: &mut Store, actor: &Actor, body: &Value) -> Result<u64> {
        let obj = object(body)?;
        let _attributes = required_map(obj, "attributes")?;
        let parameters = map_field(obj.get("parameters"), "parameters")?.unwrap_or_default();
        let (name, primary) = bound(obj)?;
        if !actor.has_system(SystemPermission::CreateSharingProfile) {
            return Err(denied());
        }
        let primary = primary_of(store, primary.as_deref())?;
        if !actor.can::<Connection>(&primary, ObjectPermission::Update) {
            return Err(denied());
        }
        let name = unique_name(store, None, primary, name)?;
        let id = store.next.sharing_profile;
        store.next.sharing_profile += 1;
        let profile = Self {
            name,
            primary,
            parameters: stored_parameters(&parameters)?,
        };
        Ok(store.created::<Self>(actor, id, profile))
    }

    fn update(store: &mut Store, actor: &Actor, id: &u64, body: &Value, _via: Via) -> Result<()> {
        let obj = object(body)?;
        let parameters = required_map(obj, "parameters")?;
        let (name, primary) = bound(obj)?;
        store.existing::<Self>(id)?;
        if !actor.can::<Self>(id, ObjectPermission::Update) {
            return Err(denied());
        }
        let primary = primary_of(store, primary.as_deref())?;
        let name = unique_name(store, Some(*id), primary, name)?;
        Self::put(
            store,
            *id,
            Self {
                name,
                primary,
                parameters: stored_parameters(&parameters)?,
            },
        );
        Ok(())
    }
}

/// Name and primary connection as Jackson binds them.
fn bound(obj: &Map<String, Value>) -> Result<(Option<String>, Option<String>)> {
    let name = text_field(obj.get("name"), "name")?;
    let primary = text_field(
        obj.get("primaryConnectionIdentifier"),
        "primaryConnectionIdentifier",
    )?;
    Ok((name, primary))
}

/// The primary connection: a missing or unknown one breaks a foreign key (500).
fn primary_of(store: &Store, primary: Option<&str>) -> Result<u64> {
    primary
        .and_then(numeric_id)
        .filter(|id| store.connections.contains_key(id))
        .ok_or(Fail::Internal)
}

/// The name, not blank and not another profile's of the same connection.
fn unique_name(
    store: &Store,
    id: Option<u64>,
    primary: u64,
    name: Option<String>,
) -> Result<String> {
    let name = name.unwrap_or_default();
    check_name(&name, "Sharing profile names must not be blank.", || {
        store
            .sharing_profiles
            .iter()
            .any(|(k, s)| Some(*k) != id && s.primary == primary && s.name == name)
            .then(|| format!("The sharing profile \"{name}\" already exists."))
    })?;
    Ok(name)
}

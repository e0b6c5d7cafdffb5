//! One router for every object directory (`DirectoryResource` and
//! `DirectoryObjectResource`, rest-api.md §3–§8): list, create, PATCH, and read,
//! replace or delete one object, then the kind's own sub-resources. What a kind
//! changes is in its [`Kind`] description.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::{Call, body_json, not_allowed, permission_filter};
use crate::error::{ApiError, Fail, Result};
use crate::kind::{Identifier, Kind, Via};
use crate::patch::{self, Directory};
use crate::server::{Reply, empty_reply, json_reply};
use crate::state::ObjectPermission;

/// `{endpoint}/...` of kind `K`.
pub(super) fn serve<K: Kind>(call: &Call<'_>, tail: &[&str]) -> Result<Reply> {
    match (call.method, tail) {
        ("GET", []) => list::<K>(call),
        ("POST", []) => create::<K>(call),
        ("PATCH", []) => patch_directory::<K>(call),
        (_, [raw, sub @ ..]) => {
            if let Some(fixed) = K::fixed(call, raw, sub) {
                return fixed;
            }
            let id = lookup::<K>(call, raw)?;
            object::<K>(call, &id, sub)
        }
        _ => Ok(not_allowed()),
    }
}

/// `GET {endpoint}`: identifier → object for what the user can read; with
/// `?permission=`, only objects on which a non-administrator holds one of them
/// (`DirectoryResource#getObjects`).
fn list<K: Kind>(call: &Call<'_>) -> Result<Reply> {
    let filter = permission_filter(call.req.query.as_deref())?;
    let store = call.shared.read_store();
    let actor = store.actor(call.user);
    let map: Map<String, Value> = K::table(&store)
        .iter()
        .filter(|(id, _)| {
            actor.admin || (K::visible(&actor, id) && actor.passes_filter::<K>(id, &filter))
        })
        .map(|(id, object)| (id.to_string(), object.view(&store, &actor, id)))
        .collect();
    Ok(json_reply(200, &Value::Object(map)))
}

/// `POST {endpoint}`: the created object, as bound, with its identifier.
fn create<K: Kind>(call: &Call<'_>) -> Result<Reply> {
    let body = body_json(call.req)?
        .filter(|v| !v.is_null())
        .ok_or_else(|| {
            Fail::from(ApiError::bad_request(
                "Data must be submitted when creating objects.",
            ))
        })?;
    let mut store = call.shared.write_store();
    let actor = store.actor(call.user);
    let id = K::create(&mut store, &actor, &body)?;
    Ok(json_reply(200, &K::echo(&body, &id, store.version)?))
}

/// `PATCH {endpoint}`: the atomic batch of 1.6.0, or the removes of 1.5.x.
pub(super) fn patch_directory<D: Directory>(call: &Call<'_>) -> Result<Reply> {
    let body = body_json(call.req)?.unwrap_or(Value::Null);
    let mut store = call.shared.write_store();
    let actor = store.actor(call.user);
    let injected = &call.req.injected_patch_error;
    if call.shared.version().is_1_5() {
        crate::legacy::directory_patch::<D>(&mut store, &actor, &body, injected)?;
        return Ok(empty_reply(204));
    }
    let result = patch::directory::<D>(&mut store, &actor, &body, injected)?;
    Ok(json_reply(200, &result))
}

/// The object a path names, if it exists and the user can see it; `Not found`
/// otherwise, as for an identifier the kind cannot have.
fn lookup<K: Kind>(call: &Call<'_>, raw: &str) -> Result<K::Id> {
    let store = call.shared.read_store();
    let actor = store.actor(call.user);
    K::Id::parse(raw)
        .filter(|id| K::table(&store).contains_key(id) && K::visible(&actor, id))
        .ok_or_else(|| ApiError::not_found_id(raw).into())
}

/// `{endpoint}/{id}/...` once the object is known.
fn object<K: Kind>(call: &Call<'_>, id: &K::Id, sub: &[&str]) -> Result<Reply> {
    match (call.method, sub) {
        ("GET", []) => {
            let store = call.shared.read_store();
            let actor = store.actor(call.user);
            let object = K::table(&store).get(id).ok_or(Fail::Internal)?;
            Ok(json_reply(200, &object.view(&store, &actor, id)))
        }
        ("PUT", []) => {
            let body = body_json(call.req)?.ok_or(Fail::Internal)?;
            let mut store = call.shared.write_store();
            let actor = store.actor(call.user);
            K::update(&mut store, &actor, id, &body, Via::Put)?;
            Ok(empty_reply(204))
        }
        ("DELETE", []) => {
            let mut store = call.shared.write_store();
            let actor = store.actor(call.user);
            store.delete::<K>(&actor, id)?;
            Ok(empty_reply(204))
        }
        (_, [name]) => match K::SUB_RESOURCES.iter().find(|s| s.name == *name) {
            Some(resource) => (resource.serve)(call, id),
            None => Ok(not_allowed()),
        },
        _ => Ok(not_allowed()),
    }
}

/// `{id}/parameters` of a connection or sharing profile: in clear, for an
/// administrator or a holder of UPDATE on the object only.
pub fn parameters<K: Kind>(
    call: &Call<'_>,
    id: &K::Id,
    of: fn(&K) -> &BTreeMap<String, String>,
) -> Result<Reply> {
    if call.method != "GET" {
        return Ok(not_allowed());
    }
    let store = call.shared.read_store();
    let actor = store.actor(call.user);
    if !actor.can::<K>(id, ObjectPermission::Update) {
        return Err(ApiError::permission_denied(format!(
            "Permission to read {} parameters denied.",
            K::NOUN
        ))
        .into());
    }
    let object = K::table(&store).get(id).ok_or(Fail::Internal)?;
    Ok(json_reply(200, &json!(of(object))))
}

//! The sub-resources of users and user groups (rest-api.md §6, §7): their
//! permission sets, a user's effective permissions and password, and the four
//! membership sets.

use serde_json::{Value, json};

use super::{Call, body_json, not_allowed};
use crate::error::{ApiError, Fail, Result};
use crate::kind::Principal;
use crate::patch::{self, Membership};
use crate::server::{Reply, empty_reply, json_reply};
use crate::store::Perms;

/// `{id}/permissions`: GET the principal's own permissions (readable by whoever
/// sees the principal, `AbstractPermissionService#canReadPermissions`), PATCH them.
pub fn permissions<P: Principal>(call: &Call<'_>, name: &String) -> Result<Reply> {
    match call.method {
        "GET" => read_permissions::<P>(call, name, |store, name| {
            P::table(store).get(name).map(|p| p.perms().clone())
        }),
        "PATCH" => {
            let body = body_json(call.req)?.unwrap_or(Value::Null);
            let mut store = call.shared.write_store();
            if P::ONLY_ITSELF {
                store.changes_only_user(name);
            }
            let actor = store.actor(call.user);
            patch::permissions::<P>(
                &mut store,
                &actor,
                name,
                &body,
                &call.req.injected_patch_error,
            )?;
            Ok(empty_reply(204))
        }
        _ => Ok(not_allowed()),
    }
}

/// `users/{u}/effectivePermissions`: the user's own permissions and those of
/// every group it belongs to; read-only.
pub fn effective_permissions(call: &Call<'_>, name: &String) -> Result<Reply> {
    match call.method {
        "GET" => read_permissions::<crate::kind::User>(call, name, |store, name| {
            Some(store.effective_perms(name))
        }),
        _ => Ok(not_allowed()),
    }
}

fn read_permissions<P: Principal>(
    call: &Call<'_>,
    name: &String,
    perms: fn(&crate::store::Store, &String) -> Option<Perms>,
) -> Result<Reply> {
    let store = call.shared.read_store();
    let actor = store.actor(call.user);
    if !P::visible(&actor, name) {
        return Err(ApiError::permission_denied("Permission denied.").into());
    }
    let perms = perms(&store, name).unwrap_or_default();
    Ok(json_reply(200, &crate::views::permissions(&perms)))
}

/// A membership set: GET the identifiers, PATCH them.
pub fn membership(call: &Call<'_>, which: &Membership) -> Result<Reply> {
    match call.method {
        "GET" => Ok(json_reply(
            200,
            &json!(which.list(&call.shared.read_store())),
        )),
        "PATCH" => {
            let body = body_json(call.req)?.unwrap_or(Value::Null);
            let mut store = call.shared.write_store();
            let actor = store.actor(call.user);
            patch::membership(&mut store, &actor, which, &body)?;
            Ok(empty_reply(204))
        }
        _ => Ok(not_allowed()),
    }
}

/// `users/{u}/password`: PUT `{oldPassword, newPassword}`; oneself or an
/// administrator, and the old password must match.
pub fn password(call: &Call<'_>, name: &String) -> Result<Reply> {
    if call.method != "PUT" {
        return Ok(not_allowed());
    }
    let body = body_json(call.req)?.unwrap_or(Value::Null);
    let mut store = call.shared.write_store();
    let actor = store.actor(call.user);
    let old = body["oldPassword"].as_str().map(str::to_owned);
    let new = body["newPassword"].as_str().map(str::to_owned);
    let u = store.users.get_mut(name).ok_or(Fail::Internal)?;
    if !(actor.admin || name == call.user) || u.password != old {
        return Err(ApiError::permission_denied("Permission denied.").into());
    }
    u.password = new;
    Ok(empty_reply(204))
}

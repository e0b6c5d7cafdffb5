//! The records that are not objects (rest-api.md §9): active connections, which
//! can be listed, read and closed, and connection history.

use serde_json::{Map, Value, json};

use super::{Call, directory::patch_directory, not_allowed, query_params};
use crate::error::{ApiError, Fail, Result};
use crate::kind::{ActiveConnections, Connection};
use crate::server::{Reply, empty_reply, json_reply};
use crate::state::{ObjectPermission, SystemPermission};
use crate::store::numeric_id;
use crate::views;

/// `activeConnections/...`.
pub(super) fn active_connections(call: &Call<'_>, tail: &[&str]) -> Result<Reply> {
    match (call.method, tail) {
        ("GET", []) => {
            let store = call.shared.read_store();
            let actor = store.actor(call.user);
            let map: Map<String, Value> = store
                .active
                .values()
                .filter(|a| {
                    a.username == call.user
                        || actor.can::<ActiveConnections>(&a.identifier, ObjectPermission::Read)
                })
                .map(|a| (a.identifier.clone(), views::active_connection(&actor, a)))
                .collect();
            Ok(json_reply(200, &Value::Object(map)))
        }
        ("PATCH", []) => patch_directory::<ActiveConnections>(call),
        (_, [uuid, sub @ ..]) => {
            let store = call.shared.read_store();
            let actor = store.actor(call.user);
            let Some(a) = store.active.get(*uuid).cloned() else {
                return Err(ApiError::not_found_id(uuid).into());
            };
            match (call.method, sub) {
                ("GET", []) => Ok(json_reply(200, &views::active_connection(&actor, &a))),
                ("GET", ["connection"]) => {
                    let n = numeric_id(&a.connection_identifier).ok_or(Fail::Internal)?;
                    let c = store.connections.get(&n).ok_or_else(|| {
                        Fail::from(ApiError::not_found_id(&a.connection_identifier))
                    })?;
                    Ok(json_reply(200, &views::connection(&store, n, c)))
                }
                ("DELETE", []) => {
                    drop(store);
                    call.shared.write_store().kill_active(&actor, uuid)?;
                    Ok(empty_reply(204))
                }
                _ => Ok(not_allowed()),
            }
        }
        _ => Ok(not_allowed()),
    }
}

/// At most this many records (`ActivityRecordSetResource.MAXIMUM_HISTORY_SIZE`).
const MAX_HISTORY: usize = 1000;

/// `history/{kind}` and `connections/{id}/history`: connection records, newest
/// first unless `?order=startDate`, filtered by `?contains=`, only those the user
/// may see (AUDIT, their own, or READ on the connection).
pub fn history(call: &Call<'_>, kind: &str, connection: Option<u64>) -> Result<Reply> {
    if call.method != "GET" {
        return Ok(not_allowed());
    }
    let params = query_params(call.req.query.as_deref());
    let mut descending = true;
    for (k, v) in &params {
        if k == "order" {
            descending = match v.as_str() {
                "startDate" => false,
                "-startDate" => true,
                other => {
                    return Err(ApiError::bad_request(format!(
                        "Invalid sort property: \"{other}\""
                    ))
                    .into());
                }
            };
        }
    }
    if kind != "connections" {
        return Ok(json_reply(200, &json!([])));
    }
    let contains: Vec<String> = params
        .iter()
        .filter(|(k, v)| k == "contains" && !v.is_empty())
        .map(|(_, v)| v.to_lowercase())
        .collect();
    let store = call.shared.read_store();
    let actor = store.actor(call.user);
    let audit = actor.has_system(SystemPermission::Audit);
    let mut records: Vec<&crate::state::HistoryState> = store
        .history
        .iter()
        .filter(|h| {
            connection
                .is_none_or(|c| h.connection_identifier.as_deref() == Some(c.to_string().as_str()))
        })
        .filter(|h| {
            audit
                || h.username == call.user
                || h.connection_identifier
                    .as_deref()
                    .and_then(numeric_id)
                    .is_some_and(|c| actor.can::<Connection>(&c, ObjectPermission::Read))
        })
        .filter(|h| {
            contains.iter().all(|c| {
                h.username.to_lowercase().contains(c)
                    || h.connection_name.to_lowercase().contains(c)
                    || h.remote_host
                        .as_deref()
                        .is_some_and(|r| r.to_lowercase().contains(c))
            })
        })
        .collect();
    records.sort_by_key(|h| h.start_date);
    if descending {
        records.reverse();
    }
    records.truncate(MAX_HISTORY);
    Ok(json_reply(
        200,
        &Value::Array(records.into_iter().map(views::history_record).collect()),
    ))
}

//! Guacamole 1.5.5 where its REST API differs from 1.6.0 and a client notices
//! (docs/guacamole-versions.md has each difference with the source it was read
//! from). The rest of the server is shared; each 1.5.5 rule lives here so that
//! the 1.6.0 code paths stay as they are.

use std::collections::BTreeMap;

use http_body_util::BodyExt;
use serde_json::Value;

use crate::error::{ApiError, Fail, Result};
use crate::patch::{self, Directory, Injected};
use crate::server::Reply;
use crate::state::SystemPermission;
use crate::store::{Actor, Store};

/// The attribute that holds `disabled` on 1.5.x (`ModeledUser` and
/// `ModeledUserGroup` `DISABLED_ATTRIBUTE_NAME`).
pub const DISABLED: &str = "disabled";

/// What Jackson says when a `String` field is given an object or an array.
fn not_a_string(index: usize, value: &Value) -> Fail {
    let (shape, token) = if value.is_array() {
        ("Array", "START_ARRAY")
    } else {
        ("Object", "START_OBJECT")
    };
    Fail::BadJson(format!(
        "Cannot deserialize value of type `java.lang.String` from {shape} value (token `JsonToken.{token}`) \
         (through reference chain: java.util.ArrayList[{index}]->org.apache.guacamole.rest.APIPatch[\"value\"])"
    ))
}

/// The 1.5.5 directory PATCH (`1.5.5:guacamole/.../rest/directory/DirectoryResource.java#patchObjects`).
///
/// The body is `List<APIPatch<String>>`: Jackson binds all of it first, so an
/// `add` or `replace` carrying an object fails here, with nothing applied, as a
/// 400 with Jackson's plain-text message (Jersey's `JsonMappingExceptionMapper`).
/// Then the patches run in order, each on its own: an op other than `remove` is
/// 501, a path without `/` is 400, a failing remove answers its own error, and
/// every remove before any of these stays applied. Success is 204, no body.
pub fn directory_patch<D: Directory>(
    store: &mut Store,
    actor: &Actor,
    body: &Value,
    injected: &Injected,
) -> Result<()> {
    let Some(list) = body.as_array() else {
        return Err(Fail::BadJson(
            "Cannot deserialize value of type `java.util.ArrayList<org.apache.guacamole.rest.APIPatch<java.lang.String>>` from Object value (token `JsonToken.START_OBJECT`)".to_owned(),
        ));
    };
    let mut bound = Vec::with_capacity(list.len());
    for (index, patch) in list.iter().enumerate() {
        let Some(obj) = patch.as_object() else {
            if patch.is_null() {
                // A null element binds as null: `patch.getOp()` throws.
                bound.push(None);
                continue;
            }
            return Err(Fail::BadJson("a patch must be an object".to_owned()));
        };
        let remove = patch::op_is_remove(obj.get("op"))?;
        let path = match obj.get("path") {
            None | Some(Value::Null) => None,
            Some(Value::String(p)) => Some(p.clone()),
            Some(_) => return Err(Fail::BadJson("`path` must be a string".to_owned())),
        };
        if let Some(v) = obj.get("value").filter(|v| v.is_object() || v.is_array()) {
            return Err(not_a_string(index, v));
        }
        bound.push(Some((remove, path)));
    }
    for (index, patch) in bound.into_iter().enumerate() {
        let Some((remove, path)) = patch else {
            return Err(Fail::Internal);
        };
        if !remove {
            return Err(
                ApiError::unsupported("Only the \"remove\" operation is supported.").into(),
            );
        }
        // `path.startsWith` on a null path: NullPointerException.
        let path = path.ok_or(Fail::Internal)?;
        let Some(target) = path.strip_prefix('/') else {
            return Err(ApiError::bad_request("Patch paths must start with \"/\".").into());
        };
        if let Some((_, message)) = injected.as_ref().filter(|(i, _)| *i == index) {
            return Err(ApiError::bad_request(message.clone()).into());
        }
        patch::remove_one::<D>(store, actor, target)?;
    }
    Ok(())
}

/// `APIError` on 1.5.5 has no `patches` property (it came with the 1.6.0 batch
/// PATCH), so every JSON error body loses that key.
pub async fn adapt_reply(reply: Reply) -> Reply {
    let is_json = reply
        .headers()
        .get(hyper::header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes() == b"application/json");
    if reply.status().as_u16() < 400 || !is_json {
        return reply;
    }
    let (parts, body) = reply.into_parts();
    let bytes = body
        .collect()
        .await
        .map(http_body_util::Collected::to_bytes)
        .unwrap_or_default();
    let bytes = match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(mut map)) if map.contains_key("type") => {
            map.remove("patches");
            bytes::Bytes::from(Value::Object(map).to_string())
        }
        _ => bytes,
    };
    Reply::from_parts(parts, http_body_util::Full::new(bytes))
}

/// A 1.5.5 database has no `AUDIT` system permission (its enum type lacks it and
/// so does `SystemPermission.Type`): a loaded state loses it.
pub fn strip_audit(store: &mut Store) {
    for u in store.users.values_mut() {
        u.perms.system.remove(&SystemPermission::Audit);
    }
    for g in store.user_groups.values_mut() {
        g.perms.system.remove(&SystemPermission::Audit);
    }
}

/// A user's `disabled` attribute on 1.5.5: applied only when the map names it
/// (`ModeledUser#setRestrictedAttributes` checks `containsKey`).
#[must_use]
pub fn user_disabled(given: &BTreeMap<String, Option<String>>) -> Option<bool> {
    given.get(DISABLED).map(|v| v.as_deref() == Some("true"))
}

/// A user group's `disabled` attribute on 1.5.5: always applied, absent meaning
/// enabled (`ModeledUserGroup#setRestrictedAttributes` does not check).
#[must_use]
pub fn group_disabled(given: &BTreeMap<String, Option<String>>) -> bool {
    given
        .get(DISABLED)
        .is_some_and(|v| v.as_deref() == Some("true"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn disabled_attribute_rules_differ_for_users_and_groups() {
        let none = BTreeMap::new();
        assert_eq!(user_disabled(&none), None);
        assert!(!group_disabled(&none));
        let on: BTreeMap<String, Option<String>> =
            [(DISABLED.to_owned(), Some("true".to_owned()))].into();
        assert_eq!(user_disabled(&on), Some(true));
        assert!(group_disabled(&on));
        let null: BTreeMap<String, Option<String>> = [(DISABLED.to_owned(), None)].into();
        assert_eq!(user_disabled(&null), Some(false));
    }

    #[test]
    fn object_values_fail_before_anything_runs() {
        let mut store = Store::default();
        let actor = store.actor("nobody");
        let body = json!([{"op": "remove", "path": "/1"}, {"op": "add", "path": "/", "value": {"name": "x"}}]);
        let e = directory_patch::<crate::kind::Connection>(&mut store, &actor, &body, &None);
        assert!(matches!(e, Err(Fail::BadJson(m)) if m.contains("ArrayList[1]")));
    }
}

//! The directory PATCH of Guacamole 1.6.0 (rest-api.md §4): add, replace and
//! remove objects in array order inside one transaction; every per-patch failure
//! is collected and any of them rolls the whole batch back. Written once for every
//! [`Directory`]: each [`Kind`] is one, through its own create, update and delete
//! rules, and so are active connections.

use serde_json::{Value, json};

use super::{Op, op_name, parse_op, patch_object, patch_path, patches};
use crate::error::{ApiError, Fail, Result};
use crate::kind::{ActiveConnections, Identifier, Kind, Via};
use crate::store::{Actor, Store};

/// What a directory PATCH does to one object. Answers the identifier the outcome
/// names.
pub trait Directory {
    /// `add`: the value is a whole new object.
    fn add(store: &mut Store, actor: &Actor, value: &Value) -> Result<String>;
    /// `replace`: the value replaces the object at `/{target}`.
    fn replace(store: &mut Store, actor: &Actor, target: &str, value: &Value) -> Result<()>;
    /// `remove`: the object at `/{target}` is deleted.
    fn remove(store: &mut Store, actor: &Actor, target: &str) -> Result<()>;
}

impl<K: Kind> Directory for K {
    fn add(store: &mut Store, actor: &Actor, value: &Value) -> Result<String> {
        K::create(store, actor, value).map(|id| id.to_string())
    }

    /// A replace is an update of an object looked up by identifier: one that
    /// cannot be an identifier of the kind is not found.
    fn replace(store: &mut Store, actor: &Actor, target: &str, value: &Value) -> Result<()> {
        let id = K::Id::parse(target).ok_or_else(|| Fail::from(ApiError::not_found_id(target)))?;
        K::update(store, actor, &id, value, Via::Patch)
    }

    /// A remove goes straight to the database: the `::integer` cast of a
    /// non-numeric identifier fails in `PostgreSQL` (500).
    fn remove(store: &mut Store, actor: &Actor, target: &str) -> Result<()> {
        let id = K::Id::parse(target).ok_or(Fail::Internal)?;
        store.delete::<K>(actor, &id)
    }
}

/// Active connection records are read-only; removing one closes it.
impl Directory for ActiveConnections {
    fn add(_store: &mut Store, _actor: &Actor, _value: &Value) -> Result<String> {
        // Translation runs outside the per-patch try: the whole request fails.
        Err(Fail::Whole(Box::new(ApiError::unsupported(
            "Active connection records are read-only.",
        ))))
    }

    fn replace(store: &mut Store, _actor: &Actor, target: &str, _value: &Value) -> Result<()> {
        if store.active.contains_key(target) {
            Err(ApiError::unsupported("Active connection records are read-only.").into())
        } else {
            Err(ApiError::not_found_id(target).into())
        }
    }

    fn remove(store: &mut Store, actor: &Actor, target: &str) -> Result<()> {
        store.kill_active(actor, target)
    }
}

/// An injected per-patch failure (test hook): index and message.
pub type Injected = Option<(usize, String)>;

struct Outcome {
    op: Op,
    identifier: Option<String>,
    path: String,
    error: Option<ApiError>,
}

impl Outcome {
    fn json(&self) -> Value {
        let mut v =
            json!({"op": op_name(self.op), "identifier": self.identifier, "path": self.path});
        if let Some(e) = &self.error {
            v["error"] = json!(e.translatable);
        }
        v
    }
}

/// Applies a directory PATCH. On success the store is replaced by the patched copy
/// and the 200 body returned; on any per-patch failure nothing changes and the 400
/// `APIError` carries one outcome per patch.
pub fn directory<D: Directory>(
    store: &mut Store,
    actor: &Actor,
    body: &Value,
    injected: &Injected,
) -> Result<Value> {
    let list = patches(body)?;
    let mut work = store.clone();
    let mut outcomes: Vec<Outcome> = Vec::with_capacity(list.len());
    let mut failed = false;
    for (index, patch) in list.iter().enumerate() {
        let obj = patch_object(patch)?;
        let op = parse_op(obj.get("op"))?;
        if matches!(op, Op::Other(_) | Op::Null) {
            return Err(ApiError::unsupported(format!(
                "Unsupported patch operation \"{}\". Only add, replace, and remove are supported.",
                op_name(op)
            ))
            .into());
        }
        let path = patch_path(obj)?;
        let Some(target) = path.strip_prefix('/') else {
            return Err(ApiError::bad_request("Patch paths must start with \"/\".").into());
        };
        let value = obj.get("value").unwrap_or(&Value::Null);
        let result = match injected.as_ref().filter(|(i, _)| *i == index) {
            Some((_, message)) => Err(ApiError::bad_request(message.clone()).into()),
            None => apply_one::<D>(&mut work, actor, op, target, value),
        };
        match result {
            Ok(identifier) => outcomes.push(Outcome {
                op,
                identifier: Some(identifier),
                path,
                error: None,
            }),
            Err(Fail::Api(e)) => {
                failed = true;
                let identifier = (op != Op::Add).then(|| target.to_owned());
                outcomes.push(Outcome {
                    op,
                    identifier,
                    path,
                    error: Some(*e),
                });
            }
            // Anything else aborts the request at once, without a per-patch list.
            Err(other) => return Err(other),
        }
    }
    if failed {
        // Creations are rolled back, so successful adds lose their identifier; a
        // quirk puts successful removes in the same list (rest-api.md §4).
        for o in &mut outcomes {
            if o.error.is_none() && matches!(o.op, Op::Add | Op::Remove) {
                o.identifier = None;
            }
        }
        let mut e = ApiError::bad_request("The provided patches failed to apply.");
        e.patches = Some(outcomes.iter().map(Outcome::json).collect());
        return Err(e.into());
    }
    *store = work;
    Ok(json!({"patches": outcomes.iter().map(Outcome::json).collect::<Vec<_>>()}))
}

/// One patch; the identifier its outcome names.
fn apply_one<D: Directory>(
    store: &mut Store,
    actor: &Actor,
    op: Op,
    target: &str,
    value: &Value,
) -> Result<String> {
    match op {
        Op::Add => D::add(store, actor, value),
        Op::Replace => D::replace(store, actor, target, value).map(|()| target.to_owned()),
        Op::Remove => D::remove(store, actor, target).map(|()| target.to_owned()),
        Op::Other(_) | Op::Null => Err(Fail::Internal),
    }
}

/// One `remove`, as the 1.5.x PATCH applies it: on the store itself, on its own
/// (`crate::legacy`).
pub fn remove_one<D: Directory>(store: &mut Store, actor: &Actor, target: &str) -> Result<()> {
    D::remove(store, actor, target)
}

//! The three kinds of PATCH the REST API has (rest-api.md §4 and §6):
//! - a directory PATCH ([`directory`]): add/replace/remove objects, applied in
//!   order in one transaction, every failure collected, all rolled back on any
//!   failure; on 1.5.5 removes only, one by one (`crate::legacy`);
//! - a permission PATCH ([`permissions`]): parsed first, then applied as seven
//!   separate, non-transactional steps;
//! - a membership PATCH ([`membership`]): adds, then removes.
//!
//! All three bind the same `APIPatch` list, which this module reads.

mod directory;
mod membership;
mod permissions;

use serde_json::{Map, Value};

pub use directory::{Directory, Injected, directory, remove_one};
pub use membership::{Membership, membership};
pub use permissions::permissions;

use crate::error::{ApiError, Fail, Result};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Add,
    Replace,
    Remove,
    Other(&'static str),
    Null,
}

/// Jackson's binding of the `op` enum: lower-case names only.
fn parse_op(v: Option<&Value>) -> Result<Op> {
    match v {
        None | Some(Value::Null) => Ok(Op::Null),
        Some(Value::String(s)) => match s.as_str() {
            "add" => Ok(Op::Add),
            "replace" => Ok(Op::Replace),
            "remove" => Ok(Op::Remove),
            "test" => Ok(Op::Other("test")),
            "copy" => Ok(Op::Other("copy")),
            "move" => Ok(Op::Other("move")),
            other => Err(Fail::BadJson(format!(
                "Cannot deserialize value of type `APIPatch$Operation` from String \"{other}\": not one of the values accepted for Enum class: [add, remove, test, copy, replace, move]"
            ))),
        },
        Some(_) => Err(Fail::BadJson("`op` must be a string".to_owned())),
    }
}

fn op_name(op: Op) -> &'static str {
    match op {
        Op::Add => "add",
        Op::Replace => "replace",
        Op::Remove => "remove",
        Op::Other(s) => s,
        Op::Null => "null",
    }
}

/// Jackson's binding of `op` (a bad enum string fails the whole body): whether
/// it is `remove`.
pub(crate) fn op_is_remove(v: Option<&Value>) -> Result<bool> {
    Ok(parse_op(v)? == Op::Remove)
}

/// The body as the list it must be.
fn patches(body: &Value) -> Result<&Vec<Value>> {
    body.as_array().ok_or_else(|| {
        Fail::BadJson(
            "Cannot deserialize value of type `java.util.ArrayList` from Object value".to_owned(),
        )
    })
}

/// One element of the list as an object.
fn patch_object(patch: &Value) -> Result<&Map<String, Value>> {
    patch
        .as_object()
        .ok_or_else(|| Fail::BadJson("a patch must be an object".to_owned()))
}

/// A path that must be a string: null is a `NullPointerException` where it is
/// read.
fn patch_path(obj: &Map<String, Value>) -> Result<String> {
    match obj.get("path") {
        None | Some(Value::Null) => Err(Fail::Internal),
        Some(Value::String(p)) => Ok(p.clone()),
        Some(_) => Err(Fail::BadJson("`path` must be a string".to_owned())),
    }
}

/// A permission or membership PATCH takes `add` and `remove` only: whether this
/// patch adds.
fn adds(op: Op) -> Result<bool> {
    match op {
        Op::Add => Ok(true),
        Op::Remove => Ok(false),
        other => Err(ApiError::bad_request(format!(
            "Unsupported patch operation: \"{}\"",
            op_name(other)
        ))
        .into()),
    }
}

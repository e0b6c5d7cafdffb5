//! A principal's `system` list and `permissions` map: names checked against
//! Guacamole's permission enums (case-sensitive, as `Enum.valueOf` is on the
//! server, where a wrong name is a 500), targets parsed as paths or names.

use std::collections::BTreeMap;

use super::{Cx, is_null, quoted};
use crate::estate::model::{Grant, Level, Permissions, Ref, SystemPermission};
use crate::manifest::check;
use crate::manifest::node::{Node, Pos, ScalarKind, Value};
use crate::model::GroupPath;

const KINDS: &[&str] = &[
    "connections",
    "connectionGroups",
    "sharingProfiles",
    "users",
    "userGroups",
];

/// The REST API's names of the permission sets (rest-api.md §6), which people
/// copy from a permission dump.
const KIND_HINTS: &[(&str, &str)] = &[
    ("connectionPermissions", "did you mean `connections`?"),
    (
        "connectionGroupPermissions",
        "did you mean `connectionGroups`?",
    ),
    (
        "sharingProfilePermissions",
        "did you mean `sharingProfiles`?",
    ),
    ("userPermissions", "did you mean `users`?"),
    ("userGroupPermissions", "did you mean `userGroups`?"),
    (
        "systemPermissions",
        "system permissions are written beside `permissions`: `system: [CREATE_CONNECTION, ...]`",
    ),
    (
        "system",
        "system permissions are written beside `permissions`: `system: [CREATE_CONNECTION, ...]`",
    ),
    (
        "activeConnectionPermissions",
        "permissions on active connections are not managed: they last only as long as the connection",
    ),
];

/// `system: [...]`: sorted in Guacamole's order, each once. `None` when not
/// written; `[]` revokes every system permission.
pub(super) fn system(cx: &mut Cx<'_, '_>, node: Node) -> Option<Vec<Ref<SystemPermission>>> {
    let items = list_of_names(cx, "system", node, "CREATE_CONNECTION")?;
    let mut out: BTreeMap<SystemPermission, Pos> = BTreeMap::new();
    for (text, pos) in items {
        if !cx.charge(pos) {
            break;
        }
        if let Some(p) = SystemPermission::ALL
            .into_iter()
            .find(|p| p.as_str() == text)
        {
            out.entry(p).or_insert(pos);
            continue;
        }
        let names = SystemPermission::ALL.map(SystemPermission::as_str);
        let help = if Level::ALL.iter().any(|l| l.as_str() == text) {
            format!(
                "{text} on an object goes in `permissions`; the system permissions are {}",
                quoted(&names)
            )
        } else {
            check::hint_for(&text, cx.sink)
                .then(|| check::did_you_mean(&text, names.into_iter()))
                .flatten()
                .unwrap_or_else(|| format!("the system permissions are {}", quoted(&names)))
        };
        cx.sink.error(
            "unknown-permission",
            pos,
            format!("{text:?} is not a system permission"),
            Some(help),
        );
    }
    Some(
        out.into_iter()
            .map(|(target, pos)| Ref {
                target,
                source: cx.source(pos),
            })
            .collect(),
    )
}

/// A list of scalar names with their positions; `None` for null or a wrong type.
fn list_of_names(
    cx: &mut Cx<'_, '_>,
    key: &str,
    node: Node,
    example: &str,
) -> Option<Vec<(String, Pos)>> {
    let type_name = node.type_name();
    let items = match node.value {
        Value::List(items) => items,
        _ if is_null(&node) => return None,
        Value::Scalar { .. } => {
            cx.sink.error(
                "invalid-type",
                node.pos,
                format!("`{key}` must be a list, not {type_name}"),
                Some(format!("write `[{example}]` even for a single one")),
            );
            return None;
        }
        Value::Map(_) => {
            cx.sink.error(
                "invalid-type",
                node.pos,
                format!("`{key}` must be a list, not {type_name}"),
                None,
            );
            return None;
        }
    };
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        match &item.value {
            Value::Scalar {
                kind: ScalarKind::Null,
                ..
            } => {}
            Value::Scalar { text, .. } => out.push((text.clone(), item.pos)),
            _ => cx.sink.error(
                "invalid-type",
                item.pos,
                format!(
                    "each item of `{key}` must be a name, not {}",
                    item.type_name()
                ),
                None,
            ),
        }
    }
    Some(out)
}

/// `permissions: {connections: {...}, ...}`: each kind written is exact.
pub(super) fn permissions(cx: &mut Cx<'_, '_>, node: Node) -> Permissions {
    let mut out = Permissions::default();
    if is_null(&node) {
        return out;
    }
    let Some((_, kinds)) = cx.object(node, "`permissions`", KINDS, KIND_HINTS) else {
        return out;
    };
    for (kind, value) in kinds {
        match kind.as_str() {
            "connections" => {
                out.connections = grants(cx, &kind, value, |cx, text, pos| {
                    cx.connection_path(text, pos)
                });
            }
            "connectionGroups" => {
                out.connection_groups = grants(cx, &kind, value, group_target);
            }
            "sharingProfiles" => {
                out.sharing_profiles = grants(cx, &kind, value, |cx, text, pos| {
                    cx.sharing_profile_path(text, pos)
                });
            }
            "users" => out.users = grants(cx, &kind, value, principal_target),
            _ => out.user_groups = grants(cx, &kind, value, principal_target),
        }
    }
    out
}

/// A group permission target. ROOT is not one: JDBC stores no row for it, so a
/// permission on `ROOT` fails on the server.
fn group_target(cx: &mut Cx<'_, '_>, text: &str, pos: Pos) -> Option<GroupPath> {
    let path = cx.group_path(text, pos)?;
    if path.is_root() {
        cx.sink.error(
            "invalid-group",
            pos,
            "permissions on ROOT cannot be granted",
            Some(
                "Guacamole's root group is not stored in the database; everyone sees it".to_owned(),
            ),
        );
        return None;
    }
    Some(path)
}

fn principal_target(cx: &mut Cx<'_, '_>, text: &str, pos: Pos) -> Option<String> {
    let name = cx.reference_name(text, pos);
    if name.is_none() && crate::manifest::csv::js_trim(text).is_empty() {
        cx.sink.error(
            "missing-name",
            pos,
            "the name of this target is blank",
            None,
        );
    }
    name
}

/// `{target: [levels]}`, sorted by target. Two keys naming the same target once
/// normalised (`ROOT/Prod` and `/Prod`) are an error naming the first.
fn grants<T: Ord + Clone>(
    cx: &mut Cx<'_, '_>,
    kind: &str,
    node: Node,
    mut parse: impl FnMut(&mut Cx<'_, '_>, &str, Pos) -> Option<T>,
) -> Option<Vec<Grant<T>>> {
    let type_name = node.type_name();
    let pairs = match node.value {
        Value::Map(pairs) => pairs,
        _ if is_null(&node) => return None,
        _ => {
            cx.sink.error(
                "invalid-type",
                node.pos,
                format!("`permissions.{kind}` must be an object of targets and permission lists, not {type_name}"),
                Some("for example `connections: {ROOT/Prod/Web/web-1: [READ, UPDATE]}`".to_owned()),
            );
            return None;
        }
    };
    let mut out: BTreeMap<T, (Pos, Vec<Level>)> = BTreeMap::new();
    for (key, value) in pairs {
        if !cx.charge(key.pos) {
            break;
        }
        let text = key.as_text().unwrap_or_default().to_owned();
        let target = parse(cx, &text, key.pos);
        let levels = levels(cx, value);
        let (Some(target), Some(levels)) = (target, levels) else {
            continue;
        };
        if let Some((first, _)) = out.get(&target) {
            cx.sink.error(
                "duplicate-target",
                key.pos,
                format!("{text:?} names a target already listed in `permissions.{kind}`"),
                Some(format!(
                    "first listed at line {}, column {}",
                    first.line, first.column
                )),
            );
            continue;
        }
        out.insert(target, (key.pos, levels));
    }
    Some(
        out.into_iter()
            .map(|(target, (pos, levels))| Grant {
                target: Ref {
                    target,
                    source: cx.source(pos),
                },
                levels,
            })
            .collect(),
    )
}

/// `[READ, UPDATE]`: sorted in Guacamole's order, each once; null is `[]`.
fn levels(cx: &mut Cx<'_, '_>, node: Node) -> Option<Vec<Level>> {
    if is_null(&node) {
        return Some(Vec::new());
    }
    let before = cx.sink.errors();
    let items = list_of_names(cx, "permission levels", node, "READ")?;
    let mut out = Vec::new();
    for (text, pos) in items {
        if let Some(level) = Level::ALL.into_iter().find(|l| l.as_str() == text) {
            out.push(level);
            continue;
        }
        let names = Level::ALL.map(Level::as_str);
        let help = if SystemPermission::ALL.iter().any(|p| p.as_str() == text) {
            format!("{text} is a system permission: write it in `system`")
        } else {
            check::hint_for(&text, cx.sink)
                .then(|| check::did_you_mean(&text, names.into_iter()))
                .flatten()
                .unwrap_or_else(|| format!("the object permissions are {}", quoted(&names)))
        };
        cx.sink.error(
            "unknown-permission",
            pos,
            format!("{text:?} is not an object permission"),
            Some(help),
        );
    }
    out.sort_unstable();
    out.dedup();
    (cx.sink.errors() == before).then_some(out)
}

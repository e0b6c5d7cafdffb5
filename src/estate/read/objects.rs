//! Connection groups and sharing profiles in an estate document: the objects of
//! the connection tree that the import format cannot declare.

use std::collections::BTreeMap;

use super::{Cx, is_null, quoted};
use crate::estate::model::{ConnectionGroup, GroupType, Ref, SharingProfile};
use crate::manifest::check;
use crate::manifest::node::{Node, ScalarKind, Value};

const GROUP_KEYS: &[&str] = &["path", "type", "attributes", "users", "groups"];
const GROUP_HINTS: &[(&str, &str)] = &[
    (
        "name",
        "a connection group is named by its `path`, e.g. `ROOT/Prod/Web`",
    ),
    (
        "parentIdentifier",
        "a connection group is named by its `path`, e.g. `ROOT/Prod/Web`",
    ),
];

const PROFILE_KEYS: &[&str] = &["connection", "name", "parameters", "users", "groups"];
const PROFILE_HINTS: &[(&str, &str)] = &[(
    "primaryConnectionIdentifier",
    "name the connection by its path in `connection`, e.g. `ROOT/Prod/Web/web-1`",
)];

/// One item of `connectionGroups`.
pub(super) fn group(cx: &mut Cx<'_, '_>, node: Node) -> Option<ConnectionGroup> {
    const WHAT: &str = "a connection group";
    let before = cx.sink.errors();
    let (pos, pairs) = cx.object(node, WHAT, GROUP_KEYS, GROUP_HINTS)?;
    let schema = cx.schema;
    let mut path = None;
    let mut path_written = false;
    let mut group_type = None;
    let mut attributes = BTreeMap::new();
    let (mut users, mut groups) = (None, None);
    for (key, value) in pairs {
        match key.as_str() {
            "path" if !is_null(&value) => {
                path_written = true;
                if let Some(text) = cx.scalar("path", &value) {
                    path = cx.group_path(&text, value.pos);
                    if path.as_ref().is_some_and(crate::model::GroupPath::is_root) {
                        cx.sink.error(
                            "invalid-group",
                            value.pos,
                            "ROOT itself cannot be declared",
                            Some("Guacamole's root group has no type, attributes or permissions of its own; declare the groups below it".to_owned()),
                        );
                        path = None;
                    }
                }
            }
            "type" => group_type = self::group_type(cx, &value),
            "attributes" => {
                attributes = cx.attributes(
                    value,
                    "connection group",
                    &schema.connection_group_attributes,
                    &[],
                );
            }
            "users" => users = cx.names("users", value),
            "groups" => groups = cx.names("groups", value),
            _ => {}
        }
    }
    if !path_written {
        cx.missing(pos, WHAT, "path");
    }
    if cx.sink.errors() > before {
        return None;
    }
    Some(ConnectionGroup {
        path: path?,
        group_type,
        attributes,
        users,
        groups,
        source: cx.source(pos),
    })
}

/// `ORGANIZATIONAL` or `BALANCING`, exactly (the server's enum is case-sensitive).
fn group_type(cx: &mut Cx<'_, '_>, node: &Node) -> Option<GroupType> {
    let text = cx.scalar("type", node)?;
    if let Some(t) = GroupType::ALL.into_iter().find(|t| t.as_str() == text) {
        return Some(t);
    }
    let names = GroupType::ALL.map(GroupType::as_str);
    let help = check::hint_for(&text, cx.sink)
        .then(|| check::did_you_mean(&text, names.into_iter()))
        .flatten()
        .unwrap_or_else(|| format!("the types are {}", quoted(&names)));
    cx.sink.error(
        "invalid-group-type",
        node.pos,
        format!("{text:?} is not a connection group type"),
        Some(help),
    );
    None
}

/// One item of `sharingProfiles`.
pub(super) fn profile(cx: &mut Cx<'_, '_>, node: Node) -> Option<SharingProfile> {
    const WHAT: &str = "a sharing profile";
    let before = cx.sink.errors();
    let (pos, pairs) = cx.object(node, WHAT, PROFILE_KEYS, PROFILE_HINTS)?;
    let mut connection = None;
    let mut connection_written = false;
    let mut name_node = None;
    let mut parameters = None;
    let (mut users, mut groups) = (None, None);
    for (key, value) in pairs {
        match key.as_str() {
            "connection" if !is_null(&value) => {
                connection_written = true;
                if let Some(text) = cx.scalar("connection", &value) {
                    connection = cx.connection_path(&text, value.pos).map(|target| Ref {
                        target,
                        source: cx.source(value.pos),
                    });
                }
            }
            "name" => name_node = Some(value),
            "parameters" => parameters = self::parameters(cx, value),
            "users" => users = cx.names("users", value),
            "groups" => groups = cx.names("groups", value),
            _ => {}
        }
    }
    if !connection_written {
        cx.missing(pos, WHAT, "connection");
    }
    let name = cx.identity(pos, WHAT, "name", name_node.as_ref());
    if cx.sink.errors() > before {
        return None;
    }
    Some(SharingProfile {
        connection: connection?,
        name: name?,
        parameters,
        users,
        groups,
        source: cx.source(pos),
    })
}

/// A sharing profile's `parameters`: exact when written; null or empty values are
/// unset. Names are checked against the sharing-profile parameters of every known
/// protocol (the profile's connection may be declared elsewhere, or only exist on
/// the server; the bundled protocols all take the same ones). An unknown name's
/// value is treated as a secret, as for connections.
fn parameters(cx: &mut Cx<'_, '_>, node: Node) -> Option<BTreeMap<String, String>> {
    let type_name = node.type_name();
    let pairs = match node.value {
        Value::Map(pairs) => pairs,
        _ if is_null(&node) => return None,
        _ => {
            cx.sink.error(
                "invalid-type",
                node.pos,
                format!("`parameters` must be an object of names and values, not {type_name}"),
                None,
            );
            return None;
        }
    };
    let schema = cx.schema;
    let mut out = BTreeMap::new();
    for (key, value) in pairs {
        let name = key.as_text().unwrap_or_default().to_owned();
        let field = schema.any_sharing_parameter(&name);
        if field.is_none() {
            let known = schema.sharing_parameter_names();
            let help = check::hint_for(&name, cx.sink)
                .then(|| check::did_you_mean(&name, known.iter().copied()))
                .flatten()
                .unwrap_or_else(|| format!("sharing profiles take {}", quoted(&known)));
            cx.sink.strict_warning(
                "unknown-parameter",
                key.pos,
                format!("{name:?} is not a sharing profile parameter"),
                Some(help),
            );
        }
        let text = match &value.value {
            Value::Scalar {
                kind: ScalarKind::Null,
                ..
            } => continue,
            Value::Scalar { text, .. } => text.clone(),
            _ => {
                cx.sink.error(
                    "invalid-type",
                    value.pos,
                    format!(
                        "the value of parameter {name:?} must be text, not {}",
                        value.type_name()
                    ),
                    None,
                );
                continue;
            }
        };
        if text.is_empty() {
            continue;
        }
        let sensitive =
            field.is_none() || crate::schema::Schema::builtin().is_sensitive_parameter("", &name);
        if sensitive && !crate::secret::has_reference(&text) {
            cx.secrets.push((value.pos, text.clone()));
        }
        let ok = check::no_nul("a parameter name", &name, key.pos, cx.sink)
            & check::value_checks(&name, &text, value.pos, "parameter", cx.sink);
        if ok {
            let text = field
                .and_then(|f| f.canonical_option(&text))
                .map_or(text.clone(), str::to_owned);
            out.insert(name, text);
        }
    }
    Some(out)
}

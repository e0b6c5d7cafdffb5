//! Users and user groups in an estate document, with their memberships and
//! permissions (the permission maps themselves are read by `permissions`).

use super::{Cx, is_null, permissions};
use crate::estate::model::{Password, User, UserGroup};
use crate::estate::schema::SENSITIVE_USER_ATTRIBUTES;
use crate::manifest::check;
use crate::manifest::node::Node;
use crate::secret;

const USER_KEYS: &[&str] = &[
    "username",
    "password",
    "disabled",
    "attributes",
    "system",
    "permissions",
];
const USER_HINTS: &[(&str, &str)] = &[
    ("name", "a user is named by `username`"),
    (
        "groups",
        "memberships are declared on the user group: `members: {users: [...]}`",
    ),
    (
        "userGroups",
        "memberships are declared on the user group: `members: {users: [...]}`",
    ),
    (
        "systemPermissions",
        "system permissions are written `system: [CREATE_CONNECTION, ...]`",
    ),
];

const GROUP_KEYS: &[&str] = &["name", "disabled", "members", "system", "permissions"];
const GROUP_HINTS: &[(&str, &str)] = &[
    ("identifier", "a user group is named by `name`"),
    (
        "users",
        "members are written `members: {users: [...], groups: [...]}`",
    ),
    (
        "memberUsers",
        "members are written `members: {users: [...], groups: [...]}`",
    ),
    (
        "attributes",
        "user groups have no attributes in the JDBC data source",
    ),
    (
        "systemPermissions",
        "system permissions are written `system: [CREATE_CONNECTION, ...]`",
    ),
];

const MEMBER_KEYS: &[&str] = &["users", "groups"];

/// One item of `users`.
pub(super) fn user(cx: &mut Cx<'_, '_>, node: Node) -> Option<User> {
    const WHAT: &str = "a user";
    let before = cx.sink.errors();
    let (pos, pairs) = cx.object(node, WHAT, USER_KEYS, USER_HINTS)?;
    let schema = cx.schema;
    let mut username = None;
    let mut password = None;
    let mut disabled = None;
    let mut attributes = std::collections::BTreeMap::new();
    let mut system = None;
    let mut perms = crate::estate::model::Permissions::default();
    for (key, value) in pairs {
        match key.as_str() {
            "username" => username = Some(value),
            "password" => password = self::password(cx, &value),
            "disabled" => disabled = cx.boolean("disabled", &value),
            "attributes" => {
                attributes = cx.attributes(
                    value,
                    "user",
                    &schema.user_attributes,
                    SENSITIVE_USER_ATTRIBUTES,
                );
            }
            "system" => system = permissions::system(cx, value),
            "permissions" => perms = permissions::permissions(cx, value),
            _ => {}
        }
    }
    let username = cx.identity(pos, WHAT, "username", username.as_ref());
    if cx.sink.errors() > before {
        return None;
    }
    Some(User {
        username: username?,
        password,
        disabled,
        attributes,
        system,
        permissions: perms,
        source: cx.source(pos),
    })
}

/// A password: a secret reference, or (with a warning) a literal. Never in a
/// message.
fn password(cx: &mut Cx<'_, '_>, node: &Node) -> Option<Password> {
    let text = cx.scalar("password", node)?;
    if text.is_empty() {
        cx.sink.error(
            "empty-password",
            node.pos,
            "the password is empty",
            Some("leave `password` out to create the user without one".to_owned()),
        );
        return None;
    }
    if !check::no_nul("the password", &text, node.pos, cx.sink) {
        cx.secrets.push((node.pos, text));
        return None;
    }
    match secret::split(&text) {
        Err(e) => {
            cx.secrets.push((node.pos, text));
            cx.sink.error(
                "invalid-secret-reference",
                node.pos,
                format!("password: {e}"),
                Some(
                    "write `${env:NAME}` or `${file:PATH}`; `$${` escapes a literal `${`"
                        .to_owned(),
                ),
            );
            None
        }
        Ok(_) if secret::has_reference(&text) => Some(Password::new(text, cx.source(node.pos))),
        Ok(_) => {
            cx.secrets.push((node.pos, text.clone()));
            cx.sink.warning(
                "literal-password",
                node.pos,
                "the password is written in the document",
                Some(
                    "write `${env:NAME}` or `${file:PATH}` so that it is not kept in git"
                        .to_owned(),
                ),
            );
            Some(Password::new(text, cx.source(node.pos)))
        }
    }
}

/// One item of `userGroups`.
pub(super) fn group(cx: &mut Cx<'_, '_>, node: Node) -> Option<UserGroup> {
    const WHAT: &str = "a user group";
    let before = cx.sink.errors();
    let (pos, pairs) = cx.object(node, WHAT, GROUP_KEYS, GROUP_HINTS)?;
    let mut name = None;
    let mut disabled = None;
    let (mut member_users, mut member_groups) = (None, None);
    let mut system = None;
    let mut perms = crate::estate::model::Permissions::default();
    for (key, value) in pairs {
        match key.as_str() {
            "name" => name = Some(value),
            "disabled" => disabled = cx.boolean("disabled", &value),
            "members" if !is_null(&value) => {
                if let Some((_, members)) = cx.object(value, "`members`", MEMBER_KEYS, &[]) {
                    for (key, value) in members {
                        if key == "users" {
                            member_users = cx.names("members.users", value);
                        } else {
                            member_groups = cx.names("members.groups", value);
                        }
                    }
                }
            }
            "system" => system = permissions::system(cx, value),
            "permissions" => perms = permissions::permissions(cx, value),
            _ => {}
        }
    }
    let name = cx.identity(pos, WHAT, "name", name.as_ref());
    if let (Some(name), Some(groups)) = (&name, &member_groups)
        && let Some(own) = groups.iter().find(|g| &g.target == name)
    {
        cx.sink.warning(
            "self-membership",
            crate::manifest::node::Pos::new(own.source.line, own.source.column),
            format!("user group {name:?} lists itself as a member"),
            Some("a group's members already have its permissions; remove this line".to_owned()),
        );
    }
    if cx.sink.errors() > before {
        return None;
    }
    Some(UserGroup {
        name: name?,
        disabled,
        member_users,
        member_groups,
        system,
        permissions: perms,
        source: cx.source(pos),
    })
}

//! Users and user groups: `disabled`, attributes, members, system permissions
//! and object permissions (READ on connections, groups and sharing profiles
//! alone stays on their lists; see `tree`).

use std::collections::{BTreeMap, BTreeSet};

use super::checks::{attribute_problem, connection_ok, path_ok, profile_ok};
use super::{Cx, at, nowhere};
use crate::estate::model::{Grant, Level, Permissions, Ref, SystemPermission, User, UserGroup};
use crate::estate::schema::{EstateSchema, SENSITIVE_USER_ATTRIBUTES};
use crate::kinds::Kind;
use crate::model::Principal;
use crate::observed::{Levels, ObservedGrants};

/// The levels of one grant, `None` when one is not a level guacsync knows.
fn levels(held: &Levels) -> Option<Vec<Level>> {
    held.iter()
        .map(|l| Level::ALL.into_iter().find(|x| x.as_str() == l))
        .collect()
}

/// One kind of a principal's object permissions, each target named by `name`
/// (`None` skips it: out of scope); `only_beyond_read` leaves out targets where
/// READ is all that is held (a list carries it). `None` (left alone) when a
/// target or a level cannot be written.
fn grants_of<T>(
    cx: &mut Cx<'_>,
    owner: &Principal,
    held: Option<&BTreeMap<String, Levels>>,
    kind: &str,
    only_beyond_read: bool,
    mut name: impl FnMut(&mut Cx<'_>, &str) -> Result<Option<T>, String>,
) -> Option<Vec<Grant<T>>> {
    let mut out = Vec::new();
    for (id, held) in held.into_iter().flatten() {
        if only_beyond_read && held.iter().all(|l| l == Level::Read.as_str()) {
            continue;
        }
        let target = match name(cx, id) {
            Ok(Some(t)) => t,
            Ok(None) => continue,
            Err(why) => {
                cx.warn(format!(
                    "{owner}: its `permissions.{kind}` are left out ({why}), so a plan leaves them alone"
                ));
                return None;
            }
        };
        let Some(levels) = levels(held) else {
            cx.warn(format!(
                "{owner}: its `permissions.{kind}` are left out (a permission guacsync does not know: {held:?})"
            ));
            return None;
        };
        out.push(Grant {
            target: at(target),
            levels,
        });
    }
    Some(out)
}

/// A user or user group as a permission target.
fn principal_target(cx: &mut Cx<'_>, target: &Principal) -> Result<Option<String>, String> {
    if cx.nameable(target) {
        Ok(Some(target.name().to_owned()))
    } else {
        Err(format!("{target} cannot be named"))
    }
}

/// Every object permission of a principal, each kind exact.
fn permissions(cx: &mut Cx<'_>, owner: &Principal, g: &ObservedGrants) -> Permissions {
    let held = |k: Kind| g.objects.get(&k);
    let connections = grants_of(
        cx,
        owner,
        held(Kind::Connection),
        "connections",
        true,
        |cx, id| match cx.connections.get(id).copied() {
            None => Err(format!("connection {id:?} is not in the tree")),
            Some(k) if !cx.in_scope(&k.group) => Ok(None),
            Some(k) if !connection_ok(k) => Err(format!("connection {k:?} cannot be named")),
            Some(k) => Ok(Some(k.clone())),
        },
    );
    let groups = grants_of(
        cx,
        owner,
        held(Kind::ConnectionGroup),
        "connectionGroups",
        true,
        |cx, id| {
            match cx.groups.get(id).copied() {
                // JDBC stores no row for ROOT; a permission on it cannot exist.
                None if id == "ROOT" => Ok(None),
                None => Err(format!("connection group {id:?} is not in the tree")),
                Some(p) if !cx.in_scope(p) => Ok(None),
                Some(p) if !path_ok(p) => Err(format!("connection group {p:?} cannot be named")),
                Some(p) => Ok(Some(p.clone())),
            }
        },
    );
    let profiles = grants_of(
        cx,
        owner,
        held(Kind::SharingProfile),
        "sharingProfiles",
        true,
        |cx, id| match cx.profiles.get(id).copied() {
            None => Err(format!("sharing profile {id:?} is not in the tree")),
            Some(k) if !cx.in_scope(&k.connection.group) => Ok(None),
            Some(k) if !profile_ok(k) => Err(format!("sharing profile {k:?} cannot be named")),
            Some(k) => Ok(Some(k.clone())),
        },
    );
    let users = grants_of(cx, owner, held(Kind::User), "users", false, |cx, id| {
        principal_target(cx, &Principal::User(id.to_owned()))
    });
    let user_groups = grants_of(
        cx,
        owner,
        held(Kind::UserGroup),
        "userGroups",
        false,
        |cx, id| principal_target(cx, &Principal::UserGroup(id.to_owned())),
    );
    Permissions {
        connections,
        connection_groups: groups,
        sharing_profiles: profiles,
        users,
        user_groups,
    }
}

/// System permissions, `None` (left alone) when one is not known to guacsync.
fn system(
    cx: &mut Cx<'_>,
    owner: &Principal,
    held: &BTreeSet<String>,
) -> Option<Vec<Ref<SystemPermission>>> {
    let known: Option<Vec<SystemPermission>> = held
        .iter()
        .map(|p| SystemPermission::ALL.into_iter().find(|x| x.as_str() == p))
        .collect();
    if known.is_none() {
        cx.warn(format!(
            "{owner}: its `system` permissions are left out (one guacsync does not know: {held:?})"
        ));
    }
    known.map(|k| k.into_iter().map(at).collect())
}

/// The grants of a principal, or a warning that they could not be read.
fn grants_or_warn<'o>(cx: &mut Cx<'o>, owner: &Principal) -> Option<&'o ObservedGrants> {
    let observed = cx.observed;
    let grants = observed.grants.get(owner);
    if grants.is_none() {
        let why = if observed.unaddressable.contains(owner) {
            "the server's web container refuses its name in a request path (rest-api.md has the Tomcat setting)"
        } else {
            "they were not read"
        };
        cx.warn(format!(
            "{owner}: its permissions are left out ({why}), so a plan leaves them alone"
        ));
    }
    grants
}

pub(super) fn users(cx: &mut Cx<'_>) {
    let schema = EstateSchema::builtin();
    let observed = cx.observed;
    for (name, p) in &observed.users {
        let owner = Principal::User(name.clone());
        if *name == observed.session_user || !cx.nameable(&owner) {
            continue;
        }
        let object = format!("user {name:?}");
        let mut attributes = BTreeMap::new();
        for (k, v) in &p.attributes {
            if let Some(why) = attribute_problem(&schema.user_attributes, k, v) {
                cx.warn(format!("{object}: attribute {k:?} is left out ({why})"));
                continue;
            }
            if SENSITIVE_USER_ATTRIBUTES.contains(&k.as_str()) {
                let parts = ["USER", name.as_str(), k.as_str()];
                // Left out, an attribute is left alone by a plan.
                if let Some(written) =
                    cx.secret(object.clone(), format!("attribute {k}"), &parts, v)
                {
                    attributes.insert(k.clone(), Some(written));
                }
                continue;
            }
            cx.reference_warning(&object, &format!("attribute {k:?}"), v);
            attributes.insert(k.clone(), Some(v.clone()));
        }
        let grants = grants_or_warn(cx, &owner);
        let system = grants.and_then(|g| system(cx, &owner, &g.system));
        let permissions = grants
            .map(|g| permissions(cx, &owner, g))
            .unwrap_or_default();
        cx.out.estate.users.push(User {
            username: name.clone(),
            password: None,
            disabled: Some(p.disabled),
            attributes,
            system,
            permissions,
            source: nowhere(),
        });
    }
}

pub(super) fn user_groups(cx: &mut Cx<'_>) {
    let observed = cx.observed;
    for (name, p) in &observed.user_groups {
        let owner = Principal::UserGroup(name.clone());
        if !cx.nameable(&owner) {
            continue;
        }
        let members = observed.memberships.get(name);
        if members.is_none() {
            cx.warn(format!(
                "{owner}: its members were not read; `members` is left out, so a plan leaves them alone"
            ));
        }
        // The login account is never added to or removed from a group
        // (DESIGN.md §8), so it is not listed.
        let member_users = members.and_then(|m| {
            let users: BTreeSet<String> = m
                .users
                .iter()
                .filter(|u| **u != observed.session_user)
                .cloned()
                .collect();
            cx.list(&users, Principal::User)
        });
        let member_groups = members.and_then(|m| cx.list(&m.groups, Principal::UserGroup));
        let grants = grants_or_warn(cx, &owner);
        let system = grants.and_then(|g| system(cx, &owner, &g.system));
        let permissions = grants
            .map(|g| permissions(cx, &owner, g))
            .unwrap_or_default();
        cx.out.estate.user_groups.push(UserGroup {
            name: name.clone(),
            disabled: Some(p.disabled),
            member_users,
            member_groups,
            system,
            permissions,
            source: nowhere(),
        });
    }
}

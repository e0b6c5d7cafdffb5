//! Group membership (rest-api.md §6): the four related-object sets of users and
//! user groups, read as identifier lists and changed by a PATCH whose adds run
//! before its removes, each on its own.

use serde_json::Value;

use super::{adds, parse_op, patch_object, patches};
use crate::error::{ApiError, Fail, Result};
use crate::kind::{User, UserGroup};
use crate::state::ObjectPermission;
use crate::store::{Actor, Store};

/// Which membership set a request reads or changes.
#[derive(Clone, Debug)]
pub enum Membership {
    /// `users/{u}/userGroups`: the groups the user belongs to.
    UserGroupsOfUser(String),
    /// `userGroups/{g}/userGroups`: the groups this group belongs to.
    ParentGroupsOfGroup(String),
    /// `userGroups/{g}/memberUsers`.
    MemberUsers(String),
    /// `userGroups/{g}/memberUserGroups`.
    MemberGroups(String),
}

impl Membership {
    /// The identifiers in the set.
    #[must_use]
    pub fn list(&self, store: &Store) -> Vec<String> {
        let containing = |member: &dyn Fn(&crate::kind::UserGroup) -> bool| -> Vec<String> {
            store
                .user_groups
                .iter()
                .filter(|(_, g)| member(g))
                .map(|(n, _)| n.clone())
                .collect()
        };
        match self {
            Self::UserGroupsOfUser(u) => containing(&|g| g.member_users.contains(u)),
            Self::ParentGroupsOfGroup(x) => containing(&|g| g.member_groups.contains(x)),
            Self::MemberUsers(g) => store
                .user_groups
                .get(g)
                .map(|g| g.member_users.iter().cloned().collect())
                .unwrap_or_default(),
            Self::MemberGroups(g) => store
                .user_groups
                .get(g)
                .map(|g| g.member_groups.iter().cloned().collect())
                .unwrap_or_default(),
        }
    }

    /// The relation with `other` on its far side: (group, whether the member is
    /// a user, member).
    fn pair(&self, other: &str) -> (String, bool, String) {
        match self {
            Self::UserGroupsOfUser(u) => (other.to_owned(), true, u.clone()),
            Self::ParentGroupsOfGroup(g) => (other.to_owned(), false, g.clone()),
            Self::MemberUsers(g) => (g.clone(), true, other.to_owned()),
            Self::MemberGroups(g) => (g.clone(), false, other.to_owned()),
        }
    }
}

/// Applies a membership PATCH: path exactly `/`, adds then removes; unknown
/// identifiers are ignored.
pub fn membership(
    store: &mut Store,
    actor: &Actor,
    which: &Membership,
    body: &Value,
) -> Result<()> {
    let list = patches(body)?;
    let mut added = Vec::new();
    let mut removed = Vec::new();
    for patch in list {
        let obj = patch_object(patch)?;
        let op = parse_op(obj.get("op"))?;
        let path = obj.get("path").and_then(Value::as_str).unwrap_or_default();
        let value = obj
            .get("value")
            .and_then(Value::as_str)
            .ok_or(Fail::Internal)?
            .to_owned();
        let add = adds(op)?;
        if path != "/" {
            return Err(
                ApiError::bad_request(format!("Unsupported patch path: \"{path}\"")).into(),
            );
        }
        if add {
            added.push(value);
        } else {
            removed.push(value);
        }
    }
    // `RelatedObjectSet#canAlterRelation`: UPDATE on both sides.
    if !actor.admin {
        for other in added.iter().chain(&removed) {
            let (group, is_user, member) = which.pair(other);
            let member_ok = if is_user {
                actor.can::<User>(&member, ObjectPermission::Update)
            } else {
                actor.can::<UserGroup>(&member, ObjectPermission::Update)
            };
            if !actor.can::<UserGroup>(&group, ObjectPermission::Update) || !member_ok {
                return Err(ApiError::permission_denied("Permission denied.").into());
            }
        }
    }
    for (add, list) in [(true, added), (false, removed)] {
        for other in list {
            let (group, is_user, member) = which.pair(&other);
            let member_exists = if is_user {
                store.users.contains_key(&member)
            } else {
                store.user_groups.contains_key(&member)
            };
            let Some(g) = store.user_groups.get_mut(&group) else {
                continue;
            };
            let set = if is_user {
                &mut g.member_users
            } else {
                &mut g.member_groups
            };
            if add {
                if member_exists {
                    set.insert(member);
                }
            } else {
                set.remove(&member);
            }
        }
    }
    Ok(())
}

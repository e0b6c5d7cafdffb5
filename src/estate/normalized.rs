//! The estate objects as `guacsync validate --format json` prints them: DESIGN.md
//! §2's normalised document gains one list per kind (`connectionGroups`,
//! `sharingProfiles`, `userGroups`, `users`), each sorted by identity, with paths
//! written canonically (`ROOT/...`, `\/` escapes), lists sorted, and secret
//! references printed as written (literal secrets as `(sensitive)`).
//!
//! What was not written is `null`; what was written empty is `[]` or `{}`: the
//! difference is what the plan acts on ("absent means left alone").

use std::collections::BTreeMap;

use serde::Serialize;

use super::model::{
    ConnectionGroup, Estate, Grant, Permissions, Ref, SharingProfile, User, UserGroup,
};
use super::schema::SENSITIVE_USER_ATTRIBUTES;
use crate::model::Source;
use crate::schema::Schema;
use crate::secret;
use crate::value::REDACTED;

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NormalizedConnectionGroup {
    pub path: String,
    #[serde(rename = "type")]
    pub group_type: Option<&'static str>,
    /// A cleared attribute is `null`.
    pub attributes: BTreeMap<String, Option<String>>,
    pub users: Option<Vec<String>>,
    pub groups: Option<Vec<String>>,
    pub source: Source,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NormalizedSharingProfile {
    pub connection: String,
    pub name: String,
    pub parameters: Option<BTreeMap<String, String>>,
    pub users: Option<Vec<String>>,
    pub groups: Option<Vec<String>>,
    pub source: Source,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NormalizedMembers {
    pub users: Option<Vec<String>>,
    pub groups: Option<Vec<String>>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NormalizedPermissions {
    pub connections: Option<BTreeMap<String, Vec<&'static str>>>,
    pub connection_groups: Option<BTreeMap<String, Vec<&'static str>>>,
    pub sharing_profiles: Option<BTreeMap<String, Vec<&'static str>>>,
    pub users: Option<BTreeMap<String, Vec<&'static str>>>,
    pub user_groups: Option<BTreeMap<String, Vec<&'static str>>>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NormalizedUserGroup {
    pub name: String,
    pub disabled: Option<bool>,
    pub members: NormalizedMembers,
    pub system: Option<Vec<&'static str>>,
    pub permissions: NormalizedPermissions,
    pub source: Source,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NormalizedUser {
    pub username: String,
    /// The reference as written, `(sensitive)` for a literal, null when absent.
    pub password: Option<String>,
    pub disabled: Option<bool>,
    pub attributes: BTreeMap<String, Option<String>>,
    pub system: Option<Vec<&'static str>>,
    pub permissions: NormalizedPermissions,
    pub source: Source,
}

/// The four lists, sorted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NormalizedEstate {
    pub connection_groups: Vec<NormalizedConnectionGroup>,
    pub sharing_profiles: Vec<NormalizedSharingProfile>,
    pub user_groups: Vec<NormalizedUserGroup>,
    pub users: Vec<NormalizedUser>,
}

impl NormalizedEstate {
    #[must_use]
    pub fn new(estate: &Estate) -> Self {
        let mut groups: Vec<&ConnectionGroup> = estate.connection_groups.iter().collect();
        groups.sort_by(|a, b| (&a.path, &a.source).cmp(&(&b.path, &b.source)));
        let mut profiles: Vec<&SharingProfile> = estate.sharing_profiles.iter().collect();
        profiles.sort_by(|a, b| {
            (&a.connection.target, &a.name, &a.source).cmp(&(
                &b.connection.target,
                &b.name,
                &b.source,
            ))
        });
        let mut user_groups: Vec<&UserGroup> = estate.user_groups.iter().collect();
        user_groups.sort_by(|a, b| (&a.name, &a.source).cmp(&(&b.name, &b.source)));
        let mut users: Vec<&User> = estate.users.iter().collect();
        users.sort_by(|a, b| (&a.username, &a.source).cmp(&(&b.username, &b.source)));
        Self {
            connection_groups: groups.into_iter().map(group).collect(),
            sharing_profiles: profiles.into_iter().map(profile).collect(),
            user_groups: user_groups.into_iter().map(user_group).collect(),
            users: users.into_iter().map(user).collect(),
        }
    }
}

fn names(refs: Option<&Vec<Ref<String>>>) -> Option<Vec<String>> {
    refs.map(|r| r.iter().map(|r| r.target.clone()).collect())
}

fn group(g: &ConnectionGroup) -> NormalizedConnectionGroup {
    NormalizedConnectionGroup {
        path: g.path.to_string(),
        group_type: g.group_type.map(super::GroupType::as_str),
        attributes: g.attributes.clone(),
        users: names(g.users.as_ref()),
        groups: names(g.groups.as_ref()),
        source: g.source.clone(),
    }
}

fn profile(p: &SharingProfile) -> NormalizedSharingProfile {
    let schema = Schema::builtin();
    let parameters = p.parameters.as_ref().map(|params| {
        params
            .iter()
            .map(|(k, v)| {
                // A sensitive or unknown parameter's literal value is never shown
                // (DESIGN.md §4: `pasword` is most likely a password).
                let hidden = (schema.is_sensitive_parameter("", k)
                    || super::schema::EstateSchema::builtin()
                        .any_sharing_parameter(k)
                        .is_none())
                    && !secret::has_reference(v);
                (
                    k.clone(),
                    if hidden {
                        REDACTED.to_owned()
                    } else {
                        v.clone()
                    },
                )
            })
            .collect()
    });
    NormalizedSharingProfile {
        connection: p.connection.target.to_string(),
        name: p.name.clone(),
        parameters,
        users: names(p.users.as_ref()),
        groups: names(p.groups.as_ref()),
        source: p.source.clone(),
    }
}

fn system(s: Option<&Vec<Ref<super::SystemPermission>>>) -> Option<Vec<&'static str>> {
    s.map(|s| s.iter().map(|p| p.target.as_str()).collect())
}

fn grants<T: std::fmt::Display>(
    g: Option<&Vec<Grant<T>>>,
) -> Option<BTreeMap<String, Vec<&'static str>>> {
    g.map(|g| {
        g.iter()
            .map(|g| {
                (
                    g.target.target.to_string(),
                    g.levels.iter().map(|l| l.as_str()).collect(),
                )
            })
            .collect()
    })
}

fn permissions(p: &Permissions) -> NormalizedPermissions {
    NormalizedPermissions {
        connections: grants(p.connections.as_ref()),
        connection_groups: grants(p.connection_groups.as_ref()),
        sharing_profiles: grants(p.sharing_profiles.as_ref()),
        users: grants(p.users.as_ref()),
        user_groups: grants(p.user_groups.as_ref()),
    }
}

fn user_group(g: &UserGroup) -> NormalizedUserGroup {
    NormalizedUserGroup {
        name: g.name.clone(),
        disabled: g.disabled,
        members: NormalizedMembers {
            users: names(g.member_users.as_ref()),
            groups: names(g.member_groups.as_ref()),
        },
        system: system(g.system.as_ref()),
        permissions: permissions(&g.permissions),
        source: g.source.clone(),
    }
}

fn user(u: &User) -> NormalizedUser {
    let attributes = u
        .attributes
        .iter()
        .map(|(k, v)| {
            let shown = v.as_ref().map(|v| {
                if SENSITIVE_USER_ATTRIBUTES.contains(&k.as_str()) && !secret::has_reference(v) {
                    REDACTED.to_owned()
                } else {
                    v.clone()
                }
            });
            (k.clone(), shown)
        })
        .collect();
    NormalizedUser {
        username: u.username.clone(),
        password: u.password.as_ref().map(|p| p.shown().to_owned()),
        disabled: u.disabled,
        attributes,
        system: system(u.system.as_ref()),
        permissions: permissions(&u.permissions),
        source: u.source.clone(),
    }
}

//! Writing estate documents (DESIGN.md §8) as YAML and JSON: the inverse of
//! `estate::read`, so that `export --estate` can write what a server holds and
//! the reader (and so a plan) reads back exactly those objects
//! (`tests/estate_export_props/` checks it over generated estates).
//!
//! Deterministic, so a re-export of an unchanged server is byte-identical and git
//! diffs stay small: every kind sorted by its identity, keys in the order the
//! README lists them, one name per line in name lists. A field that is `None` in
//! the model (not written: left alone by a plan) is left out; one that is written
//! empty is `[]` or `{}`. Scalars are quoted only where YAML would read them
//! otherwise (the manifest writer's rules); paths carry their `\/` escapes.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use super::model::{
    ConnectionGroup, Estate, Grant, Level, Permissions, Ref, SharingProfile, SystemPermission,
    User, UserGroup,
};
use crate::manifest::write::{self, JsonEntry, scalar, value};
use crate::model::Entry;

/// YAML reads an implicit (`key: value`) key of at most 1024 characters; longer
/// ones (a deep path of long names) are written as explicit `? key` entries.
const MAX_IMPLICIT_KEY: usize = 1000;

/// The objects in the order they are written: each kind sorted by identity.
struct Sorted<'a> {
    groups: Vec<&'a ConnectionGroup>,
    profiles: Vec<&'a SharingProfile>,
    user_groups: Vec<&'a UserGroup>,
    users: Vec<&'a User>,
}

impl<'a> Sorted<'a> {
    fn new(estate: &'a Estate) -> Self {
        let mut groups: Vec<&ConnectionGroup> = estate.connection_groups.iter().collect();
        groups.sort_by(|a, b| a.path.cmp(&b.path));
        let mut profiles: Vec<&SharingProfile> = estate.sharing_profiles.iter().collect();
        profiles
            .sort_by(|a, b| (&a.connection.target, &a.name).cmp(&(&b.connection.target, &b.name)));
        let mut user_groups: Vec<&UserGroup> = estate.user_groups.iter().collect();
        user_groups.sort_by(|a, b| a.name.cmp(&b.name));
        let mut users: Vec<&User> = estate.users.iter().collect();
        users.sort_by(|a, b| a.username.cmp(&b.username));
        Self {
            groups,
            profiles,
            user_groups,
            users,
        }
    }
}

fn sorted_names(refs: &[Ref<String>]) -> Vec<&str> {
    let mut names: Vec<&str> = refs.iter().map(|r| r.target.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    names
}

// --------------------------------------------------------------------------- YAML

/// Writes `key:` at `indent` (no space or value after the colon yet).
fn key(out: &mut String, indent: usize, key: &str) {
    out.push_str(&" ".repeat(indent));
    let mut quoted = String::new();
    scalar(&mut quoted, key);
    if quoted.chars().count() > MAX_IMPLICIT_KEY {
        let _ = write!(out, "? {quoted}\n{}:", " ".repeat(indent));
    } else {
        out.push_str(&quoted);
        out.push(':');
    }
}

/// `key: value`, a multi-line value as a block scalar indented below the key.
fn text_field(out: &mut String, indent: usize, name: &str, text: &str) {
    key(out, indent, name);
    out.push(' ');
    value(out, text, indent + 2);
}

/// A list of names, one per line (`[]` when empty).
fn name_list(out: &mut String, indent: usize, name: &str, refs: &[Ref<String>]) {
    key(out, indent, name);
    let names = sorted_names(refs);
    if names.is_empty() {
        out.push_str(" []\n");
        return;
    }
    out.push('\n');
    for n in names {
        out.push_str(&" ".repeat(indent + 2));
        out.push_str("- ");
        scalar(out, n);
        out.push('\n');
    }
}

/// A list of Guacamole's enum words, which never need quoting: `[READ, UPDATE]`.
fn word_list<'w>(out: &mut String, words: impl Iterator<Item = &'w str>) {
    let words: Vec<&str> = words.collect();
    let _ = writeln!(out, "[{}]", words.join(", "));
}

fn optional_names(out: &mut String, indent: usize, name: &str, refs: Option<&Vec<Ref<String>>>) {
    if let Some(refs) = refs {
        name_list(out, indent, name, refs);
    }
}

/// A map of names to text or null (`{}` when empty).
fn text_map<'v>(
    out: &mut String,
    indent: usize,
    name: &str,
    entries: impl ExactSizeIterator<Item = (&'v String, Option<&'v String>)>,
) {
    key(out, indent, name);
    if entries.len() == 0 {
        out.push_str(" {}\n");
        return;
    }
    out.push('\n');
    for (k, v) in entries {
        if let Some(v) = v {
            text_field(out, indent + 2, k, v);
        } else {
            key(out, indent + 2, k);
            out.push_str(" null\n");
        }
    }
}

fn system(out: &mut String, indent: usize, system: Option<&Vec<Ref<SystemPermission>>>) {
    if let Some(system) = system {
        let mut permissions: Vec<SystemPermission> = system.iter().map(|p| p.target).collect();
        permissions.sort_unstable();
        permissions.dedup();
        key(out, indent, "system");
        out.push(' ');
        word_list(out, permissions.iter().map(|p| p.as_str()));
    }
}

fn grants<T: std::fmt::Display + Ord>(
    out: &mut String,
    indent: usize,
    name: &str,
    grants: Option<&Vec<Grant<T>>>,
) {
    let Some(grants) = grants else {
        return;
    };
    key(out, indent, name);
    if grants.is_empty() {
        out.push_str(" {}\n");
        return;
    }
    out.push('\n');
    let mut sorted: Vec<&Grant<T>> = grants.iter().collect();
    sorted.sort_by(|a, b| a.target.target.cmp(&b.target.target));
    for g in sorted {
        let mut levels: Vec<Level> = g.levels.clone();
        levels.sort_unstable();
        levels.dedup();
        key(out, indent + 2, &g.target.target.to_string());
        out.push(' ');
        word_list(out, levels.iter().map(|l| l.as_str()));
    }
}

fn permissions(out: &mut String, indent: usize, p: &Permissions) {
    if p.is_empty() {
        return;
    }
    key(out, indent, "permissions");
    let empty = |g: Option<usize>| g == Some(0);
    if empty(p.connections.as_ref().map(Vec::len))
        && empty(p.connection_groups.as_ref().map(Vec::len))
        && empty(p.sharing_profiles.as_ref().map(Vec::len))
        && empty(p.users.as_ref().map(Vec::len))
        && empty(p.user_groups.as_ref().map(Vec::len))
    {
        // None on any target, each kind written (exact): one line, not five.
        out.push_str(
            " {connections: {}, connectionGroups: {}, sharingProfiles: {}, users: {}, userGroups: {}}\n",
        );
        return;
    }
    out.push('\n');
    let inner = indent + 2;
    grants(out, inner, "connections", p.connections.as_ref());
    grants(out, inner, "connectionGroups", p.connection_groups.as_ref());
    grants(out, inner, "sharingProfiles", p.sharing_profiles.as_ref());
    grants(out, inner, "users", p.users.as_ref());
    grants(out, inner, "userGroups", p.user_groups.as_ref());
}

fn boolean(out: &mut String, indent: usize, name: &str, b: Option<bool>) {
    if let Some(b) = b {
        key(out, indent, name);
        let _ = writeln!(out, " {b}");
    }
}

/// One list item: `  - key: value` for the first field, the rest at `FIELD`.
const FIELD: usize = 4;

fn first_field(out: &mut String, name: &str, text: &str) {
    out.push_str("  - ");
    key(out, 0, name);
    out.push(' ');
    value(out, text, FIELD + 2);
}

fn yaml_group(out: &mut String, g: &ConnectionGroup) {
    first_field(out, "path", &g.path.to_string());
    if let Some(t) = g.group_type {
        text_field(out, FIELD, "type", t.as_str());
    }
    if !g.attributes.is_empty() {
        text_map(
            out,
            FIELD,
            "attributes",
            g.attributes.iter().map(|(k, v)| (k, v.as_ref())),
        );
    }
    optional_names(out, FIELD, "users", g.users.as_ref());
    optional_names(out, FIELD, "groups", g.groups.as_ref());
}

fn yaml_profile(out: &mut String, p: &SharingProfile) {
    first_field(out, "connection", &p.connection.target.to_string());
    text_field(out, FIELD, "name", &p.name);
    if let Some(parameters) = &p.parameters {
        text_map(
            out,
            FIELD,
            "parameters",
            parameters.iter().map(|(k, v)| (k, Some(v))),
        );
    }
    optional_names(out, FIELD, "users", p.users.as_ref());
    optional_names(out, FIELD, "groups", p.groups.as_ref());
}

fn yaml_user_group(out: &mut String, g: &UserGroup) {
    first_field(out, "name", &g.name);
    boolean(out, FIELD, "disabled", g.disabled);
    if g.member_users.as_ref().is_some_and(Vec::is_empty)
        && g.member_groups.as_ref().is_some_and(Vec::is_empty)
    {
        key(out, FIELD, "members");
        out.push_str(" {users: [], groups: []}\n");
    } else if g.member_users.is_some() || g.member_groups.is_some() {
        key(out, FIELD, "members");
        out.push('\n');
        optional_names(out, FIELD + 2, "users", g.member_users.as_ref());
        optional_names(out, FIELD + 2, "groups", g.member_groups.as_ref());
    }
    system(out, FIELD, g.system.as_ref());
    permissions(out, FIELD, &g.permissions);
}

fn yaml_user(out: &mut String, u: &User) {
    first_field(out, "username", &u.username);
    if let Some(p) = &u.password {
        text_field(out, FIELD, "password", p.written());
    }
    boolean(out, FIELD, "disabled", u.disabled);
    if !u.attributes.is_empty() {
        text_map(
            out,
            FIELD,
            "attributes",
            u.attributes.iter().map(|(k, v)| (k, v.as_ref())),
        );
    }
    system(out, FIELD, u.system.as_ref());
    permissions(out, FIELD, &u.permissions);
}

/// A top-level list: `name: []`, or `name:` and its items.
fn section<T>(out: &mut String, name: &str, items: &[T], write: impl Fn(&mut String, &T)) {
    if items.is_empty() {
        let _ = writeln!(out, "{name}: []");
        return;
    }
    let _ = writeln!(out, "{name}:");
    for item in items {
        write(out, item);
    }
}

/// The estate as a YAML estate document, after `header` (comment lines). With
/// `connections` (one file holding everything) they follow under `connections`,
/// written as the manifest writer writes them, indented below the key.
#[must_use]
pub fn to_yaml(estate: &Estate, connections: Option<&[Entry]>, header: &str) -> String {
    let s = Sorted::new(estate);
    let mut out = String::from(header);
    section(&mut out, "connectionGroups", &s.groups, |o, g| {
        yaml_group(o, g);
    });
    section(&mut out, "sharingProfiles", &s.profiles, |o, p| {
        yaml_profile(o, p);
    });
    section(&mut out, "userGroups", &s.user_groups, |o, g| {
        yaml_user_group(o, g);
    });
    section(&mut out, "users", &s.users, |o, u| {
        yaml_user(o, u);
    });
    match connections {
        None => {}
        Some([]) => out.push_str("connections: []\n"),
        Some(entries) => {
            out.push_str("connections:\n");
            // Every line two columns further in. Empty lines (inside a literal
            // block) stay empty: they are part of the block at any indentation.
            for line in write::to_yaml(entries).lines() {
                if !line.is_empty() {
                    out.push_str("  ");
                    out.push_str(line);
                }
                out.push('\n');
            }
        }
    }
    out
}

// --------------------------------------------------------------------------- JSON

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct JsonDocument<'a> {
    connection_groups: Vec<JsonGroup<'a>>,
    sharing_profiles: Vec<JsonProfile<'a>>,
    user_groups: Vec<JsonUserGroup<'a>>,
    users: Vec<JsonUser<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    connections: Option<Vec<JsonEntry<'a>>>,
}

#[derive(Serialize)]
struct JsonGroup<'a> {
    path: String,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    group_type: Option<&'static str>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    attributes: &'a BTreeMap<String, Option<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    users: Option<Vec<&'a str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    groups: Option<Vec<&'a str>>,
}

#[derive(Serialize)]
struct JsonProfile<'a> {
    connection: String,
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    parameters: Option<&'a BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    users: Option<Vec<&'a str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    groups: Option<Vec<&'a str>>,
}

#[derive(Serialize)]
struct JsonMembers<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    users: Option<Vec<&'a str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    groups: Option<Vec<&'a str>>,
}

type JsonGrants = Option<BTreeMap<String, Vec<&'static str>>>;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct JsonPermissions {
    #[serde(skip_serializing_if = "Option::is_none")]
    connections: JsonGrants,
    #[serde(skip_serializing_if = "Option::is_none")]
    connection_groups: JsonGrants,
    #[serde(skip_serializing_if = "Option::is_none")]
    sharing_profiles: JsonGrants,
    #[serde(skip_serializing_if = "Option::is_none")]
    users: JsonGrants,
    #[serde(skip_serializing_if = "Option::is_none")]
    user_groups: JsonGrants,
}

#[derive(Serialize)]
struct JsonUserGroup<'a> {
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    disabled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    members: Option<JsonMembers<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    system: Option<Vec<&'static str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    permissions: Option<JsonPermissions>,
}

#[derive(Serialize)]
struct JsonUser<'a> {
    username: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    password: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    disabled: Option<bool>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    attributes: &'a BTreeMap<String, Option<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    system: Option<Vec<&'static str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    permissions: Option<JsonPermissions>,
}

fn json_names(refs: Option<&Vec<Ref<String>>>) -> Option<Vec<&str>> {
    refs.map(|r| sorted_names(r))
}

fn json_system(system: Option<&Vec<Ref<SystemPermission>>>) -> Option<Vec<&'static str>> {
    system.map(|s| {
        let mut p: Vec<SystemPermission> = s.iter().map(|p| p.target).collect();
        p.sort_unstable();
        p.dedup();
        p.into_iter().map(SystemPermission::as_str).collect()
    })
}

fn json_grants<T: std::fmt::Display>(grants: Option<&Vec<Grant<T>>>) -> JsonGrants {
    grants.map(|g| {
        g.iter()
            .map(|g| {
                let mut levels = g.levels.clone();
                levels.sort_unstable();
                levels.dedup();
                (
                    g.target.target.to_string(),
                    levels.into_iter().map(Level::as_str).collect(),
                )
            })
            .collect()
    })
}

fn json_permissions(p: &Permissions) -> Option<JsonPermissions> {
    (!p.is_empty()).then(|| JsonPermissions {
        connections: json_grants(p.connections.as_ref()),
        connection_groups: json_grants(p.connection_groups.as_ref()),
        sharing_profiles: json_grants(p.sharing_profiles.as_ref()),
        users: json_grants(p.users.as_ref()),
        user_groups: json_grants(p.user_groups.as_ref()),
    })
}

/// The estate as a JSON estate document (2-space indent, trailing newline), with
/// `connections` when given.
#[must_use]
pub fn to_json(estate: &Estate, connections: Option<&[Entry]>) -> String {
    let s = Sorted::new(estate);
    let doc = JsonDocument {
        connection_groups: s
            .groups
            .iter()
            .map(|g| JsonGroup {
                path: g.path.to_string(),
                group_type: g.group_type.map(super::GroupType::as_str),
                attributes: &g.attributes,
                users: json_names(g.users.as_ref()),
                groups: json_names(g.groups.as_ref()),
            })
            .collect(),
        sharing_profiles: s
            .profiles
            .iter()
            .map(|p| JsonProfile {
                connection: p.connection.target.to_string(),
                name: &p.name,
                parameters: p.parameters.as_ref(),
                users: json_names(p.users.as_ref()),
                groups: json_names(p.groups.as_ref()),
            })
            .collect(),
        user_groups: s
            .user_groups
            .iter()
            .map(|g| JsonUserGroup {
                name: &g.name,
                disabled: g.disabled,
                members: (g.member_users.is_some() || g.member_groups.is_some()).then(|| {
                    JsonMembers {
                        users: json_names(g.member_users.as_ref()),
                        groups: json_names(g.member_groups.as_ref()),
                    }
                }),
                system: json_system(g.system.as_ref()),
                permissions: json_permissions(&g.permissions),
            })
            .collect(),
        users: s
            .users
            .iter()
            .map(|u| JsonUser {
                username: &u.username,
                password: u.password.as_ref().map(super::Password::written),
                disabled: u.disabled,
                attributes: &u.attributes,
                system: json_system(u.system.as_ref()),
                permissions: json_permissions(&u.permissions),
            })
            .collect(),
        connections: connections.map(write::json_entries),
    };
    // Serialising strings, booleans, lists and maps cannot fail.
    let mut out = serde_json::to_string_pretty(&doc).unwrap_or_default();
    out.push('\n');
    out
}

#[cfg(test)]
mod tests;

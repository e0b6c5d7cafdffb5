//! The estate documents' part of a saved plan's basis: a digest per file of what
//! it declares, without its places (moving a line is formatting) and with
//! secrets as a plan shows them (a reference as written, or `(sensitive)`), so
//! that `sync --plan` names the estate file that changed.

use std::collections::BTreeMap;

use super::Hasher;
use crate::desired::{Attributes, DesiredEstate, ReadLists};
use crate::estate::{Grant, Permissions, Ref, SystemPermission};

fn attributes(h: &mut Hasher, a: &Attributes) {
    for (k, v) in a {
        h.put("ak", k);
        h.put("av", v.as_ref().map_or("(null)", |v| v.shown()));
    }
}

fn names(h: &mut Hasher, tag: &str, list: Option<&Vec<Ref<String>>>) {
    match list {
        None => h.put(tag, "(absent)"),
        Some(list) => {
            for r in list {
                h.put(tag, &r.target);
            }
            h.put(tag, "(end)");
        }
    }
}

fn read(h: &mut Hasher, r: &ReadLists) {
    names(h, "ru", r.users.as_ref());
    names(h, "rg", r.groups.as_ref());
}

fn system(h: &mut Hasher, s: Option<&Vec<Ref<SystemPermission>>>) {
    match s {
        None => h.put("sys", "(absent)"),
        Some(list) => {
            for r in list {
                h.put("sys", r.target.as_str());
            }
            h.put("sys", "(end)");
        }
    }
}

fn permissions(h: &mut Hasher, p: &Permissions) {
    fn kind<T: std::fmt::Display>(h: &mut Hasher, tag: &str, grants: Option<&Vec<Grant<T>>>) {
        let Some(grants) = grants else {
            h.put(tag, "(absent)");
            return;
        };
        for g in grants {
            h.put(tag, &g.target.target.to_string());
            for l in &g.levels {
                h.put("lvl", l.as_str());
            }
        }
        h.put(tag, "(end)");
    }
    kind(h, "pc", p.connections.as_ref());
    kind(h, "pg", p.connection_groups.as_ref());
    kind(h, "ps", p.sharing_profiles.as_ref());
    kind(h, "pu", p.users.as_ref());
    kind(h, "pug", p.user_groups.as_ref());
}

/// Adds each declared object to the digest of the file it is declared in.
pub(super) fn digest(
    estate: &DesiredEstate,
    files: &mut BTreeMap<String, Hasher>,
    label: &dyn Fn(&str) -> String,
) {
    for g in &estate.groups {
        let h = files.entry(label(&g.source.file)).or_default();
        h.put("group", &g.path.to_string());
        h.put("type", g.group_type.map_or("(absent)", |t| t.as_str()));
        attributes(h, &g.attributes);
        read(h, &g.read);
    }
    for p in &estate.sharing_profiles {
        let h = files.entry(label(&p.source.file)).or_default();
        h.put("profile", &p.key.to_string());
        match &p.parameters {
            None => h.put("params", "(absent)"),
            Some(params) => {
                for (k, v) in params {
                    h.put("pk", k);
                    h.put("pv", v.shown());
                }
            }
        }
        read(h, &p.read);
    }
    for g in &estate.user_groups {
        let h = files.entry(label(&g.source.file)).or_default();
        h.put("user group", &g.name);
        h.put("disabled", &format!("{:?}", g.disabled));
        names(h, "mu", g.member_users.as_ref());
        names(h, "mg", g.member_groups.as_ref());
        system(h, g.system.as_ref());
        permissions(h, &g.permissions);
    }
    for u in &estate.users {
        let h = files.entry(label(&u.source.file)).or_default();
        h.put("user", &u.username);
        h.put(
            "password",
            u.password.as_ref().map_or("(absent)", |p| p.shown()),
        );
        h.put("disabled", &format!("{:?}", u.disabled));
        attributes(h, &u.attributes);
        system(h, u.system.as_ref());
        permissions(h, &u.permissions);
    }
}

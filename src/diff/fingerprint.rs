//! The observed fingerprint: what a saved plan is checked against (DESIGN.md §4,
//! "Saved plans").

use sha2::{Digest, Sha256};

use crate::observed::Observed;
use crate::schema::Schema;

/// SHA-256 over what was observed and matters to a plan: groups, connections with
/// their parameters and attributes, principals and grants. Open sessions are left
/// out (they come and go without changing what a sync does). Every field is
/// length-prefixed, so no two different states hash the same bytes.
#[must_use]
pub fn fingerprint(observed: &Observed) -> String {
    let mut h = Sha256::new();
    let mut put = |tag: &str, s: &str| {
        h.update(tag.as_bytes());
        h.update((s.len() as u64).to_le_bytes());
        h.update(s.as_bytes());
    };
    put("ds", &observed.data_source);
    for (path, g) in &observed.groups {
        put("g", &path.to_string());
        put("gi", &g.identifier);
    }
    for (key, c) in &observed.connections {
        put("c", &key.to_string());
        put("ci", &c.identifier);
        put("cp", &c.protocol);
        match &c.parameters {
            None => put("unread", ""),
            Some(params) => {
                for (k, v) in params {
                    put("pk", k);
                    // A hash of a short password in a saved plan could be brute-forced:
                    // secrets count by presence only.
                    if Schema::builtin().is_sensitive_parameter(&c.protocol, k) {
                        put("pv", "(sensitive)");
                    } else {
                        put("pv", v);
                    }
                }
            }
        }
        for (k, v) in &c.attributes {
            put("ak", k);
            put("av", v);
        }
    }
    for (tag, principals) in [("u", &observed.users), ("ug", &observed.user_groups)] {
        for (name, p) in principals {
            put(tag, name);
            put("pd", if p.disabled { "1" } else { "0" });
            for (k, v) in &p.attributes {
                put("pak", k);
                // A TOTP key or another extension's secret counts by presence.
                if crate::estate::schema::SENSITIVE_USER_ATTRIBUTES.contains(&k.as_str()) {
                    put("pav", "(sensitive)");
                } else {
                    put("pav", v);
                }
            }
        }
    }
    for (key, s) in &observed.sharing_profiles {
        put("s", &key.to_string());
        put("si", &s.identifier);
        for (k, v) in s.parameters.iter().flatten() {
            put("sk", k);
            put("sv", v);
        }
    }
    for (group, m) in &observed.memberships {
        put("m", group);
        for u in &m.users {
            put("mu", u);
        }
        for g in &m.groups {
            put("mg", g);
        }
    }
    for (p, grants) in &observed.grants {
        put("p", &p.to_string());
        for c in &grants.connections {
            put("pc", c);
        }
        for g in &grants.groups {
            put("pg", g);
        }
        for (kind, objects) in &grants.objects {
            put("pk", kind.noun());
            for (id, levels) in objects {
                put("po", id);
                for l in levels {
                    put("pl", l);
                }
            }
        }
        for s in &grants.system {
            put("ps", s);
        }
    }
    h.finalize()
        .iter()
        .fold(String::with_capacity(64), |mut s, b| {
            use std::fmt::Write as _;
            let _ = write!(s, "{b:02x}");
            s
        })
}

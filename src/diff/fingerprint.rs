//! The observed fingerprint: what a saved plan is checked against (DESIGN.md §4,
//! "Saved plans").

use std::fmt::{self, Write as _};

use sha2::{Digest, Sha256};

use crate::observed::Observed;
use crate::schema::Schema;

/// SHA-256 over what was observed and matters to a plan: groups, connections with
/// their parameters and attributes, principals and grants. Open sessions are left
/// out (they come and go without changing what a sync does). Every field is
/// length-prefixed, so no two different states hash the same bytes.
#[must_use]
pub fn fingerprint(observed: &Observed) -> String {
    let mut feed = Feed {
        hasher: Sha256::new(),
        pending: Vec::with_capacity(FEED_CHUNK + 1024),
    };
    let mut put = |tag: &str, s: &str| feed.put(tag, s);
    // One buffer for the keys written out, instead of a new string for each.
    let mut text = String::new();
    put("ds", &observed.data_source);
    for (path, g) in &observed.groups {
        put("g", shown(&mut text, path));
        put("gi", &g.identifier);
    }
    for (key, c) in &observed.connections {
        put("c", shown(&mut text, key));
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
    feed.finish()
        .iter()
        .fold(String::with_capacity(64), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// `key` as written, in `text`.
fn shown<'t>(text: &'t mut String, key: &dyn fmt::Display) -> &'t str {
    text.clear();
    let _ = write!(text, "{key}");
    text
}

/// How many bytes are gathered before they are hashed: the fields are short, and
/// hashing each on its own costs more than the hash itself.
const FEED_CHUNK: usize = 64 * 1024;

/// The hasher behind a buffer; the bytes hashed are the same either way.
struct Feed {
    hasher: Sha256,
    pending: Vec<u8>,
}

impl Feed {
    /// A field: its tag, its length, its bytes.
    fn put(&mut self, tag: &str, s: &str) {
        self.pending.extend_from_slice(tag.as_bytes());
        self.pending
            .extend_from_slice(&(s.len() as u64).to_le_bytes());
        self.pending.extend_from_slice(s.as_bytes());
        if self.pending.len() >= FEED_CHUNK {
            self.hasher.update(&self.pending);
            self.pending.clear();
        }
    }

    fn finish(mut self) -> [u8; 32] {
        self.hasher.update(&self.pending);
        self.hasher.finalize().into()
    }
}

//! Saved plans (`plan --out`, `sync --plan`; DESIGN.md §4 "Saved plans"): what a
//! saved plan records besides its changes, and whether a freshly made plan is
//! still the one that was reviewed.
//!
//! A saved plan is stale when the normalised manifests, the options or the
//! observed server changed since it was made; formatting, comments, open sessions
//! and warnings do not count. When it is stale, the reason names what changed: a
//! manifest file, an option, or a server object. To name them, the saved file
//! carries a *basis*: a digest per manifest file and per observed object. Digests
//! never cover a secret value (a hash of a short password in a saved plan could be
//! brute-forced): secrets count by what a plan shows of them, the reference as
//! written or `(sensitive)`.
//!
//! Pure: the caller supplies the manifest labels already made relative.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

mod estate;

use super::{Plan, Stale};
use crate::desired::Desired;
use crate::model::Parent;
use crate::observed::Observed;
use crate::schema::Schema;

/// What a saved plan was made from, in enough detail to say what changed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Basis {
    /// The directory the manifest paths are relative to (the configuration's, else
    /// the current one), absolute: used when `sync --plan` runs elsewhere without
    /// a configuration.
    pub base: String,
    /// Manifest file (relative to `base`) → digest of its normalised connections.
    pub manifests: BTreeMap<String, String>,
    /// Observed object (`connection ROOT/Prod/web-1`, `group ROOT/Prod`,
    /// `user "alice"`, `permissions of user "alice"`) → digest.
    pub objects: BTreeMap<String, String>,
}

/// Length-prefixed fields into a SHA-256, so that no two different inputs hash
/// the same bytes; the first 16 hex digits are kept (a change detector, not a
/// security boundary: the full fingerprint still decides staleness).
#[derive(Default)]
struct Hasher(Sha256);

impl Hasher {
    fn put(&mut self, tag: &str, value: &str) {
        self.0.update(tag.as_bytes());
        self.0.update((value.len() as u64).to_le_bytes());
        self.0.update(value.as_bytes());
    }

    fn finish(self) -> String {
        self.0
            .finalize()
            .iter()
            .take(8)
            .fold(String::with_capacity(16), |mut s, b| {
                let _ = write!(s, "{b:02x}");
                s
            })
    }
}

/// The basis of a plan made from `desired` and `observed`. `label` maps a
/// manifest file label (as entries carry it) to its path relative to `base`.
#[must_use]
pub fn basis(
    desired: &Desired,
    observed: &Observed,
    base: &str,
    label: &dyn Fn(&str) -> String,
) -> Basis {
    let mut files: BTreeMap<String, Hasher> = BTreeMap::new();
    for c in &desired.connections {
        let h = files.entry(label(&c.source.file)).or_default();
        h.put("name", &c.name);
        h.put("protocol", &c.protocol);
        match &c.parent {
            Parent::Group(g) => h.put("group", &g.to_string()),
            Parent::Identifier(id) => h.put("parent", id),
        }
        for (k, v) in &c.parameters {
            h.put("pk", k);
            h.put("pv", v.shown());
        }
        for (k, v) in &c.attributes {
            h.put("ak", k);
            h.put("av", v);
        }
        for u in &c.users {
            h.put("user", u);
        }
        for g in &c.groups {
            h.put("ugroup", g);
        }
        h.put("end", "");
    }
    estate::digest(&desired.estate, &mut files, label);
    Basis {
        base: base.to_owned(),
        manifests: files.into_iter().map(|(f, h)| (f, h.finish())).collect(),
        objects: objects(observed),
    }
}

/// A digest per observed object, over what `diff::fingerprint` covers (open
/// sessions left out).
fn objects(observed: &Observed) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut h = Hasher::default();
    h.put("ds", &observed.data_source);
    out.insert("data source".to_owned(), h.finish());
    for (path, g) in &observed.groups {
        let mut h = Hasher::default();
        h.put("id", &g.identifier);
        h.put("type", &g.group_type);
        out.insert(format!("group {path}"), h.finish());
    }
    for (key, c) in &observed.connections {
        let mut h = Hasher::default();
        h.put("id", &c.identifier);
        h.put("protocol", &c.protocol);
        match &c.parameters {
            None => h.put("unread", ""),
            Some(params) => {
                for (k, v) in params {
                    h.put("pk", k);
                    if Schema::builtin().is_sensitive_parameter(&c.protocol, k) {
                        h.put("pv", "(sensitive)");
                    } else {
                        h.put("pv", v);
                    }
                }
            }
        }
        for (k, v) in &c.attributes {
            h.put("ak", k);
            h.put("av", v);
        }
        out.insert(format!("connection {key}"), h.finish());
    }
    for (tag, principals) in [
        ("user", &observed.users),
        ("user group", &observed.user_groups),
    ] {
        for (name, p) in principals {
            let mut h = Hasher::default();
            h.put("disabled", if p.disabled { "1" } else { "0" });
            for (k, v) in &p.attributes {
                h.put("ak", k);
                if crate::estate::schema::SENSITIVE_USER_ATTRIBUTES.contains(&k.as_str()) {
                    h.put("av", "(sensitive)");
                } else {
                    h.put("av", v);
                }
            }
            out.insert(format!("{tag} {name:?}"), h.finish());
        }
    }
    for (key, sp) in &observed.sharing_profiles {
        let mut h = Hasher::default();
        h.put("id", &sp.identifier);
        for (k, v) in sp.parameters.iter().flatten() {
            h.put("pk", k);
            h.put("pv", v);
        }
        out.insert(format!("sharing profile {key}"), h.finish());
    }
    for (group, m) in &observed.memberships {
        let mut h = Hasher::default();
        for u in &m.users {
            h.put("u", u);
        }
        for g in &m.groups {
            h.put("g", g);
        }
        out.insert(format!("members of user group {group:?}"), h.finish());
    }
    for (p, grants) in &observed.grants {
        let mut h = Hasher::default();
        for c in &grants.connections {
            h.put("c", c);
        }
        for g in &grants.groups {
            h.put("g", g);
        }
        for (kind, objects) in &grants.objects {
            h.put("kind", kind.noun());
            for (id, levels) in objects {
                h.put("o", id);
                for l in levels {
                    h.put("l", l);
                }
            }
        }
        for sys in &grants.system {
            h.put("s", sys);
        }
        out.insert(format!("permissions of {p}"), h.finish());
    }
    out
}

/// Up to three names, then how many more.
fn some(names: &[String]) -> String {
    let mut s = names.iter().take(3).cloned().collect::<Vec<_>>().join(", ");
    if names.len() > 3 {
        let _ = write!(s, " and {} more", names.len() - 3);
    }
    s
}

/// The keys of two digest maps whose digests differ, that only the second has,
/// and that only the first has.
fn differences(
    then: &BTreeMap<String, String>,
    now: &BTreeMap<String, String>,
) -> (Vec<String>, Vec<String>, Vec<String>) {
    let keys: BTreeSet<&String> = then.keys().chain(now.keys()).collect();
    let (mut changed, mut added, mut removed) = (Vec::new(), Vec::new(), Vec::new());
    for k in keys {
        match (then.get(k), now.get(k)) {
            (Some(a), Some(b)) if a != b => changed.push(k.clone()),
            (None, Some(_)) => added.push(k.clone()),
            (Some(_), None) => removed.push(k.clone()),
            _ => {}
        }
    }
    (changed, added, removed)
}

/// The plan as far as it decides what `sync` does: without what comes and goes
/// (open sessions, warnings, the summary), where each change was written in a
/// manifest (formatting and comments move lines), the secrets list, the basis and
/// the fingerprint (compared on their own).
fn decisive(plan: &Plan) -> serde_json::Value {
    let mut v = serde_json::to_value(plan).unwrap_or_default();
    if let Some(map) = v.as_object_mut() {
        for key in [
            "warnings",
            "summary",
            "sessions",
            "secrets_used",
            "basis",
            "fingerprint",
        ] {
            map.remove(key);
        }
        if let Some(changes) = map
            .get_mut("changes")
            .and_then(serde_json::Value::as_array_mut)
        {
            for c in changes
                .iter_mut()
                .filter_map(serde_json::Value::as_object_mut)
            {
                c.remove("source");
                c.remove("active_sessions");
            }
        }
    }
    v
}

/// The first part of two decisive plans that differs, in words.
fn first_difference(then: &serde_json::Value, now: &serde_json::Value) -> String {
    let empty = serde_json::Map::new();
    let (a, b) = (
        then.as_object().unwrap_or(&empty),
        now.as_object().unwrap_or(&empty),
    );
    // The changes first: a batch or a summary differs because a change does.
    let first = ["changes", "memberships", "permissions"];
    let mut keys: Vec<&String> = a
        .keys()
        .chain(b.keys())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    keys.sort_by_key(|k| first.iter().position(|f| f == k).unwrap_or(first.len()));
    for k in keys {
        if a.get(k) == b.get(k) {
            continue;
        }
        if k == "changes"
            && let (Some(x), Some(y)) = (
                a.get(k).and_then(serde_json::Value::as_array),
                b.get(k).and_then(serde_json::Value::as_array),
            )
        {
            // A change names its object by the same fields as an `ObjectKey`.
            let key_of = |c: &serde_json::Value| {
                serde_json::from_value::<crate::kinds::ObjectKey>(c.clone())
                    .map_or_else(|_| "a change".to_owned(), |key| key.to_string())
            };
            for i in 0..x.len().max(y.len()) {
                match (x.get(i), y.get(i)) {
                    (Some(p), Some(q)) if p == q => {}
                    (Some(p), _) => return key_of(p),
                    (None, Some(q)) => return key_of(q),
                    (None, None) => {}
                }
            }
        }
        return k.replace('_', " ");
    }
    "the plan".to_owned()
}

/// Checks `saved` (read from a plan file) against `fresh`, made now from the same
/// manifests and options, with `fresh_basis` its basis.
///
/// # Errors
/// Why the saved plan is stale, naming what changed.
pub fn check(saved: &Plan, fresh: &Plan, fresh_basis: &Basis) -> Result<(), Stale> {
    if saved.version != super::PLAN_VERSION {
        return Err(Stale(format!(
            "the file is a plan of format version {}, this guacsync reads version {}",
            saved.version,
            super::PLAN_VERSION
        )));
    }
    if saved.manifests != fresh.manifests {
        return Err(Stale(format!(
            "it was made from the manifests {}, and now {} are read",
            saved.manifests.join(", "),
            fresh.manifests.join(", ")
        )));
    }
    // A plan printed with `--format json` has no basis: it is checked all the
    // same, only less precisely named.
    if let Some(saved_basis) = &saved.basis
        && let Some(why) = manifest_changes(saved_basis, fresh_basis)
    {
        return Err(Stale(why));
    }
    if let Some(why) = option_changes(saved, fresh) {
        return Err(Stale(why));
    }
    if saved.fingerprint != fresh.fingerprint {
        return Err(Stale(match &saved.basis {
            Some(saved_basis) => server_changes(saved_basis, fresh_basis),
            None => "the server changed since the plan was made (write plans with `plan --out FILE` to be told what changed)".to_owned(),
        }));
    }
    let (then, now) = (decisive(saved), decisive(fresh));
    if then != now {
        let why = if saved.basis.is_some() {
            "a secret reference may now resolve to a different value"
        } else {
            "the manifests may have changed; write plans with `plan --out FILE` to be told which"
        };
        return Err(Stale(format!(
            "the plan made now differs from the saved one at {} ({why})",
            first_difference(&then, &now)
        )));
    }
    Ok(())
}

/// Which manifest files changed, appeared or went, if any.
fn manifest_changes(then: &Basis, now: &Basis) -> Option<String> {
    let (changed, added, removed) = differences(&then.manifests, &now.manifests);
    let mut parts = Vec::new();
    if !changed.is_empty() {
        parts.push(format!(
            "manifest {} changed since the plan was made",
            some(&changed)
        ));
    }
    if !added.is_empty() {
        parts.push(format!("manifest {} is new", some(&added)));
    }
    if !removed.is_empty() {
        parts.push(format!("manifest {} is gone", some(&removed)));
    }
    (!parts.is_empty()).then(|| parts.join("; "))
}

/// Which options differ, if any.
fn option_changes(saved: &Plan, fresh: &Plan) -> Option<String> {
    let (then, now) = (
        serde_json::to_value(&saved.options).unwrap_or_default(),
        serde_json::to_value(&fresh.options).unwrap_or_default(),
    );
    if then == now {
        return None;
    }
    let empty = serde_json::Map::new();
    let (a, b) = (
        then.as_object().unwrap_or(&empty),
        now.as_object().unwrap_or(&empty),
    );
    let diffs: Vec<String> = a
        .iter()
        .filter(|(k, v)| b.get(*k) != Some(*v))
        .map(|(k, v)| {
            format!(
                "{k} was {v} and is now {}",
                b.get(k).unwrap_or(&serde_json::Value::Null)
            )
        })
        .collect();
    Some(format!(
        "the options changed since the plan was made ({})",
        some(&diffs)
    ))
}

/// Which server objects changed, appeared or went.
fn server_changes(then: &Basis, now: &Basis) -> String {
    let (changed, added, removed) = differences(&then.objects, &now.objects);
    let mut parts = Vec::new();
    if !changed.is_empty() {
        parts.push(format!("{} changed on the server", some(&changed)));
    }
    if !added.is_empty() {
        parts.push(format!("{} appeared on the server", some(&added)));
    }
    if !removed.is_empty() {
        parts.push(format!("{} is gone from the server", some(&removed)));
    }
    if parts.is_empty() {
        parts.push("the server changed".to_owned());
    }
    format!("{} since the plan was made", parts.join("; "))
}

/// Whether a file's bytes are a saved guacsync plan (so that one written inside a
/// manifest directory is never read as a manifest). Cheap for real manifests: an
/// import-format JSON file is a list, so only objects are parsed, and those with
/// values skipped rather than built.
#[must_use]
pub fn is_saved_plan(bytes: &[u8]) -> bool {
    #[derive(Deserialize)]
    #[allow(dead_code)] // only whether it deserialises matters
    struct Probe {
        version: u32,
        data_source: String,
        fingerprint: String,
        manifests: Vec<String>,
        options: serde::de::IgnoredAny,
        // Format version 1 called them `connections`: such a file is still a plan
        // (never read as a manifest; `sync --plan` refuses it as unreadable).
        #[serde(alias = "connections")]
        changes: serde::de::IgnoredAny,
    }
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(bytes.len());
    bytes.get(start) == Some(&b'{') && serde_json::from_slice::<Probe>(&bytes[start..]).is_ok()
}

#[cfg(test)]
mod tests;

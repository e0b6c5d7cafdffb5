//! The same object declared twice, in one file or across files, is an error
//! naming both places (DESIGN.md §8); the later declaration is left out, as for
//! connections (`manifest::without_duplicates`).

use std::collections::{BTreeMap, HashMap};
use std::hash::Hash;

use super::model::Estate;
use crate::diagnostic::Diagnostic;
use crate::manifest::node::Pos;
use crate::manifest::records::Sink;
use crate::model::Source;

/// Drops every declaration whose identity an earlier one has, reporting each.
#[must_use]
pub fn remove(estate: Estate, diagnostics: &mut Vec<Diagnostic>) -> Estate {
    // One sink per file, so a file of a million copies keeps a bounded number.
    let mut sinks: BTreeMap<&str, Sink<'_>> = BTreeMap::new();
    let groups = flag(
        estate
            .connection_groups
            .iter()
            .map(|g| (&g.path, &g.source)),
        |k| format!("connection group {k} is declared twice"),
        "duplicate-connection-group",
        &mut sinks,
    );
    let keys: Vec<_> = estate
        .sharing_profiles
        .iter()
        .map(super::SharingProfile::key)
        .collect();
    let profiles = flag(
        keys.iter()
            .zip(estate.sharing_profiles.iter().map(|p| &p.source)),
        |k| format!("sharing profile {k} is declared twice"),
        "duplicate-sharing-profile",
        &mut sinks,
    );
    let user_groups = flag(
        estate.user_groups.iter().map(|g| (&g.name, &g.source)),
        |k| format!("user group {k:?} is declared twice"),
        "duplicate-user-group",
        &mut sinks,
    );
    let users = flag(
        estate.users.iter().map(|u| (&u.username, &u.source)),
        |k| format!("user {k:?} is declared twice"),
        "duplicate-user",
        &mut sinks,
    );
    for sink in sinks.into_values() {
        diagnostics.extend(sink.finish());
    }
    drop(keys);
    Estate {
        connection_groups: keep(estate.connection_groups, groups),
        sharing_profiles: keep(estate.sharing_profiles, profiles),
        user_groups: keep(estate.user_groups, user_groups),
        users: keep(estate.users, users),
    }
}

/// Marks each item whose key an earlier item has, with an error at it naming the
/// first place.
fn flag<'a, K: Hash + Eq>(
    items: impl ExactSizeIterator<Item = (K, &'a Source)>,
    describe: impl Fn(&K) -> String,
    code: &'static str,
    sinks: &mut BTreeMap<&'a str, Sink<'a>>,
) -> Vec<bool> {
    let mut first_of: HashMap<K, &Source> = HashMap::with_capacity(items.len());
    let mut duplicate = vec![false; items.len()];
    for (i, (k, at)) in items.enumerate() {
        if let Some(first) = first_of.get(&k) {
            duplicate[i] = true;
            let file = at.file.as_str();
            sinks
                .entry(file)
                .or_insert_with(|| Sink::new(file, false))
                .error(
                    code,
                    Pos::new(at.line, at.column),
                    describe(&k),
                    Some(format!("first declared at {first}")),
                );
        } else {
            first_of.insert(k, at);
        }
    }
    duplicate
}

/// The items not marked.
fn keep<T>(items: Vec<T>, duplicate: Vec<bool>) -> Vec<T> {
    items
        .into_iter()
        .zip(duplicate)
        .filter_map(|(item, d)| (!d).then_some(item))
        .collect()
}

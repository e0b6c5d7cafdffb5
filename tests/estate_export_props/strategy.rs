//! The generated servers: names and texts that stress both writers, permission
//! levels, user attributes, and `Raw`, a server's groups, connections, sharing
//! profiles, principals, members and grants as plain generated tuples.

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;

use super::SESSION;

/// Characters that stress both writers: YAML indicators, quotes, escapes, path
/// separators, non-ASCII, a line break inside a name.
pub(crate) const TRICKY: &[char] = &[
    'a', 'Z', '0', '9', ' ', ',', ';', '"', '\'', '\\', '/', ':', '#', '-', '?', '{', '}', '[',
    ']', '&', '*', '!', '|', '>', '%', '@', '`', '$', '.', '=', 'é', '中', '\n',
];

/// A name an estate document can hold: not blank, no white space around it.
pub(crate) fn name() -> impl Strategy<Value = String> {
    proptest::collection::vec(proptest::sample::select(TRICKY), 1..10)
        .prop_map(|cs| cs.into_iter().collect::<String>())
        .prop_filter("written as it is", |s| {
            s.trim() == s && !s.is_empty() && s != SESSION
        })
}

/// Free text for attribute values: anything non-empty that is not a reference.
pub(crate) fn text() -> impl Strategy<Value = String> {
    proptest::collection::vec(proptest::sample::select(TRICKY), 1..16)
        .prop_map(|cs| cs.into_iter().collect::<String>())
        .prop_filter("not a reference", |s| !s.contains("${"))
}

pub(crate) const LEVELS: [&str; 4] = ["READ", "UPDATE", "DELETE", "ADMINISTER"];
pub(crate) const SYSTEM: [&str; 7] = [
    "CREATE_USER",
    "CREATE_USER_GROUP",
    "CREATE_CONNECTION",
    "CREATE_CONNECTION_GROUP",
    "CREATE_SHARING_PROFILE",
    "AUDIT",
    "ADMINISTER",
];

pub(crate) fn levels() -> impl Strategy<Value = BTreeSet<String>> {
    proptest::sample::subsequence(LEVELS.to_vec(), 1..=4)
        .prop_map(|l| l.into_iter().map(str::to_owned).collect())
}

pub(crate) fn user_attributes() -> impl Strategy<Value = BTreeMap<String, String>> {
    (
        proptest::option::of(text()),
        proptest::option::of(proptest::sample::select(vec!["2027-06-30", "2028-02-29"])),
        any::<bool>(),
        proptest::option::of(proptest::sample::select(vec!["07:00:00", "23:59:59"])),
        proptest::option::of("[A-Z2-7]{16}"),
    )
        .prop_map(|(full, until, expired, start, totp)| {
            let mut a = BTreeMap::new();
            if let Some(v) = full {
                a.insert("guac-full-name".to_owned(), v);
            }
            if let Some(v) = until {
                a.insert("valid-until".to_owned(), v.to_owned());
            }
            if expired {
                a.insert("expired".to_owned(), "true".to_owned());
            }
            if let Some(v) = start {
                a.insert("access-window-start".to_owned(), v.to_owned());
            }
            if let Some(v) = totp {
                a.insert("guac-totp-key-secret".to_owned(), v);
            }
            a
        })
}

/// Raw material: indices into the generated objects are taken modulo their count.
#[derive(Debug, Clone)]
#[allow(clippy::type_complexity)] // plain generated tuples, named where used
pub(crate) struct Raw {
    pub(crate) paths: Vec<Vec<String>>,
    pub(crate) group_info: Vec<(bool, Option<u16>, bool)>,
    pub(crate) connections: Vec<(usize, String)>,
    pub(crate) profiles: Vec<(usize, String, u8)>,
    pub(crate) users: BTreeMap<String, (bool, BTreeMap<String, String>)>,
    pub(crate) user_groups: BTreeMap<String, bool>,
    pub(crate) members: Vec<(usize, Vec<usize>, Vec<usize>, bool)>,
    pub(crate) grants: Vec<(usize, Vec<(u8, usize, BTreeSet<String>)>, Vec<usize>)>,
}

pub(crate) fn raw() -> impl Strategy<Value = Raw> {
    (
        proptest::collection::vec(proptest::collection::vec(name(), 1..3), 0..4),
        proptest::collection::vec(
            (any::<bool>(), proptest::option::of(0u16..50), any::<bool>()),
            8,
        ),
        proptest::collection::vec((any::<usize>(), name()), 0..5),
        proptest::collection::vec((any::<usize>(), name(), 0u8..3), 0..4),
        proptest::collection::btree_map(name(), (any::<bool>(), user_attributes()), 0..5),
        proptest::collection::btree_map(name(), any::<bool>(), 0..4),
        proptest::collection::vec(
            (
                any::<usize>(),
                proptest::collection::vec(any::<usize>(), 0..4),
                proptest::collection::vec(any::<usize>(), 0..3),
                any::<bool>(),
            ),
            0..4,
        ),
        proptest::collection::vec(
            (
                any::<usize>(),
                proptest::collection::vec((0u8..5, any::<usize>(), levels()), 0..6),
                proptest::collection::vec(0usize..7, 0..3),
            ),
            0..8,
        ),
    )
        .prop_map(
            |(paths, group_info, connections, profiles, users, user_groups, members, grants)| Raw {
                paths,
                group_info,
                connections,
                profiles,
                users,
                user_groups,
                members,
                grants,
            },
        )
}

//! Property tests of the estate document reader: structured noise made of an
//! estate document's own words never panics and gives a bounded result (the
//! no-panic property of `parser_props.rs`, where arbitrary bytes almost never
//! form a top-level mapping); and any well-formed estate written as JSON reads
//! back with no error and the same objects.

use std::collections::BTreeSet;

use guacsync::manifest::{self, Format, Normalized, ParseOptions};
use guacsync::schema::Schema;
use proptest::prelude::*;
use serde_json::{Value, json};

fn parse(format: Format, text: &str) -> manifest::Parsed {
    manifest::parse_bytes(
        "p",
        text.as_bytes(),
        format,
        Schema::builtin(),
        &ParseOptions::default(),
    )
}

/// Keys of estate documents and their entries, and a few that are not.
const KEYS: &[&str] = &[
    "connectionGroups",
    "sharingProfiles",
    "userGroups",
    "users",
    "connections",
    "path",
    "type",
    "attributes",
    "username",
    "password",
    "disabled",
    "members",
    "system",
    "permissions",
    "connection",
    "name",
    "parameters",
    "groups",
    "protocol",
    "max-connections",
    "valid-until",
    "access-window-start",
    "expired",
    "guac-totp-key-secret",
    "read-only",
    "colour",
    "ROOT/a",
    "/a\\/b/",
    "ROOT",
    "alice",
];

/// Scalars, valid somewhere and not elsewhere.
const SCALARS: &[&str] = &[
    "BALANCING",
    "balancing",
    "ORGANIZATIONAL",
    "READ",
    "ADMINISTER",
    "CREATE_USER",
    "Read",
    "ROOT",
    "ROOT/a",
    "/a\\/b/c",
    "ROOT/ /x",
    "ROOTX/a",
    "${env:PW}",
    "${env:",
    "${file:x}",
    "2027-02-30",
    "2028-02-29",
    "12:00:00",
    "25:00:00",
    "ssh",
    "vnc",
    "true",
    "TRUE",
    "",
    " padded ",
    "\0",
    "é中",
    "alice",
    "ops",
];

/// A JSON value built from estate words: objects with estate keys, lists, and
/// scalars of every JSON type, nested a few levels.
fn tree() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        proptest::sample::select(SCALARS).prop_map(|s| json!(s)),
        any::<bool>().prop_map(Value::Bool),
        (-5i64..300).prop_map(|n| json!(n)),
        Just(Value::Null),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            proptest::collection::vec((proptest::sample::select(KEYS), inner), 0..6).prop_map(
                |pairs| Value::Object(pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
            ),
        ]
    })
}

/// An estate-shaped document: a mapping of estate keys to lists of such trees,
/// written as JSON (also YAML); sometimes cut short or with one byte dropped.
fn noise() -> impl Strategy<Value = String> {
    (
        proptest::collection::vec(
            (
                proptest::sample::select(KEYS),
                proptest::collection::vec(tree(), 0..4),
            ),
            0..5,
        ),
        proptest::option::of(any::<prop::sample::Index>()),
    )
        .prop_map(|(pairs, cut)| {
            let doc: serde_json::Map<String, Value> = pairs
                .into_iter()
                .map(|(k, v)| (k.to_owned(), Value::Array(v)))
                .collect();
            let mut text = serde_json::to_string_pretty(&Value::Object(doc)).unwrap_or_default();
            if let Some(i) = cut {
                let at = i.index(text.len().max(1));
                if text.is_char_boundary(at) && at < text.len() {
                    text.remove(at);
                }
            }
            text
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn estate_noise_never_panics(text in noise()) {
        let lines = text.split('\n').count();
        for format in [Format::Json, Format::Yaml] {
            let p = parse(format, &text);
            let e = &p.estate;
            let objects = e.users.len() + e.user_groups.len() + e.connection_groups.len() + e.sharing_profiles.len();
            prop_assert!(objects + p.entries.len() <= lines);
            for d in &p.diagnostics {
                prop_assert!(d.line >= 1 && d.column >= 1);
                prop_assert!(d.line as usize <= lines + 1, "{d:?}");
            }
            // The normalised document can always be written.
            let doc = Normalized::new(&p.entries, e, &p.diagnostics, Schema::builtin());
            prop_assert!(serde_json::to_string(&doc).is_ok());
        }
    }
}

/// Names the reader accepts as they are: not blank, no white space around them,
/// no NUL, at most 128 characters; `/` and `\` included (paths escape them).
fn name() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9 ./\\\\é_-]{1,12}"
        .prop_filter("trimmed, not blank", |s| s.trim() == s && !s.is_empty())
}

/// A path segment written with its escapes.
fn escaped(segment: &str) -> String {
    segment.replace('\\', "\\\\").replace('/', "\\/")
}

fn levels() -> impl Strategy<Value = Vec<&'static str>> {
    proptest::sample::subsequence(vec!["READ", "UPDATE", "DELETE", "ADMINISTER"], 0..=4)
}

/// A well-formed estate document as JSON, and its users, user groups and
/// connection group paths (as they normalise).
fn estate() -> impl Strategy<Value = (Value, BTreeSet<String>, BTreeSet<String>, BTreeSet<String>)>
{
    (
        proptest::collection::btree_set(name(), 0..6),
        proptest::collection::btree_set(name(), 0..6),
        proptest::collection::btree_set(proptest::collection::vec(name(), 1..3), 0..4),
        levels(),
        proptest::option::of(0i32..1000),
        any::<bool>(),
    )
        .prop_map(|(users, groups, paths, levels, limit, balancing)| {
            let paths: BTreeSet<String> = paths
                .iter()
                .map(|segments| {
                    let escaped: Vec<String> = segments.iter().map(|s| escaped(s)).collect();
                    format!("ROOT/{}", escaped.join("/"))
                })
                .collect();
            let user_list: Vec<&String> = users.iter().collect();
            let doc = json!({
                "users": users.iter().map(|u| json!({
                    "username": u,
                    "password": "${env:INITIAL_PW}",
                    "disabled": balancing,
                    "attributes": {"guac-full-name": u, "valid-until": "2028-02-29", "timezone": null},
                    "system": ["CREATE_CONNECTION", "AUDIT"],
                    "permissions": {
                        "users": user_list.iter().map(|v| ((*v).clone(), json!(levels))).collect::<serde_json::Map<_, _>>(),
                        "connectionGroups": paths.iter().map(|p| (p.clone(), json!(levels))).collect::<serde_json::Map<_, _>>(),
                    }
                })).collect::<Vec<_>>(),
                "userGroups": groups.iter().map(|g| json!({
                    "name": g,
                    "members": {"users": user_list, "groups": groups.iter().filter(|h| *h != g).collect::<Vec<_>>()},
                    "system": [],
                })).collect::<Vec<_>>(),
                "connectionGroups": paths.iter().map(|p| json!({
                    "path": p,
                    "type": if balancing { "BALANCING" } else { "ORGANIZATIONAL" },
                    "attributes": {"max-connections": limit.map(|l| l.to_string())},
                    "users": user_list,
                })).collect::<Vec<_>>(),
                "sharingProfiles": paths.iter().map(|p| json!({
                    "connection": format!("{p}/conn"),
                    "name": "watch",
                    "parameters": {"read-only": "true"},
                    "groups": groups,
                })).collect::<Vec<_>>(),
            });
            (doc, users, groups, paths)
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn well_formed_estates_read_back_whole((doc, users, groups, paths) in estate()) {
        let text = serde_json::to_string_pretty(&doc).expect("json");
        let p = parse(Format::Json, &text);
        prop_assert!(p.diagnostics.is_empty(), "{:?}\n{text}", p.diagnostics);
        let e = &p.estate;
        let read_users: BTreeSet<String> = e.users.iter().map(|u| u.username.clone()).collect();
        prop_assert_eq!(read_users, users);
        let read_groups: BTreeSet<String> = e.user_groups.iter().map(|g| g.name.clone()).collect();
        prop_assert_eq!(read_groups, groups);
        let read_paths: BTreeSet<String> = e.connection_groups.iter().map(|g| g.path.to_string()).collect();
        prop_assert_eq!(&read_paths, &paths);
        let profiles: BTreeSet<String> = e.sharing_profiles.iter().map(|s| s.key().to_string()).collect();
        let expected: BTreeSet<String> = paths.iter().map(|p| format!("{p}/conn/watch")).collect();
        prop_assert_eq!(profiles, expected);
        for u in &e.users {
            let targets: BTreeSet<String> = u.permissions.connection_groups.iter().flatten().map(|g| g.target.target.to_string()).collect();
            prop_assert_eq!(&targets, &paths);
        }
    }
}

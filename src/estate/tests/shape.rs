//! The document's shape: what makes a file an estate document, its keys, the
//! types of its lists and objects, and its `connections`.

use super::*;

#[test]
fn top_level_rules() {
    table(&[
        ("{}\n", &[("empty-manifest", 1, 1)]),
        ("connections: []\nusers: ~\n", &[]),
        ("colour: 1\nusers: []\n", &[("unknown-key", 1, 1)]),
        ("userGroup: []\nusers: []\n", &[("unknown-key", 1, 1)]),
        ("users: {username: a}\n", &[("invalid-type", 1, 8)]),
        (
            "users: [1, [a]]\n",
            &[("not-an-object", 1, 9), ("not-an-object", 1, 12)],
        ),
        // One connection without its list is the old mistake, not an estate
        // document with unknown keys.
        ("name: a\nprotocol: ssh\n", &[("not-a-list", 1, 1)]),
        ("name: a\nusers: []\n", &[("unknown-key", 1, 1)]),
    ]);
}

#[test]
fn helps_for_keys() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "userGroup: []\n",
            "unknown key \"userGroup\" in an estate document",
            "did you mean `userGroups`?",
        ),
        (
            "groups: []\n",
            "unknown key \"groups\" in an estate document",
            "user groups are `userGroups`, connection groups `connectionGroups`",
        ),
        (
            "zzz: []\n",
            "unknown key \"zzz\" in an estate document",
            "the keys of an estate document are `connectionGroups`, `sharingProfiles`, `userGroups`, `users` and `connections`",
        ),
        (
            "users:\n  - name: bob\n    username: bob\n",
            "unknown key \"name\" in a user",
            "a user is named by `username`",
        ),
        (
            "userGroups:\n  - name: ops\n    users: [a]\n",
            "unknown key \"users\" in a user group",
            "members are written `members: {users: [...], groups: [...]}`",
        ),
        (
            "userGroups:\n  - name: ops\n    members: {user: [a]}\n",
            "unknown key \"user\" in `members`",
            "did you mean `users`?",
        ),
        (
            "connectionGroups:\n  - path: ROOT/a\n    name: a\n",
            "unknown key \"name\" in a connection group",
            "a connection group is named by its `path`, e.g. `ROOT/Prod/Web`",
        ),
        (
            "users:\n  - username: a\n    permissions: {connectionPermissions: {}}\n",
            "unknown key \"connectionPermissions\" in `permissions`",
            "did you mean `connections`?",
        ),
        (
            "users:\n  - username: a\n    permissions: {system: []}\n",
            "unknown key \"system\" in `permissions`",
            "system permissions are written beside `permissions`: `system: [CREATE_CONNECTION, ...]`",
        ),
    ];
    for (input, message, help) in cases {
        let p = yaml(input);
        let d = the(&p, "unknown-key");
        assert!(
            d.is_error(),
            "{input}: unknown keys are errors in estate documents"
        );
        assert_eq!(d.message, *message, "{input}");
        assert_eq!(d.help.as_deref(), Some(*help), "{input}");
    }
    let p = yaml("name: a\nprotocol: ssh\n");
    let d = the(&p, "not-a-list");
    assert_eq!(
        d.help.as_deref(),
        Some(
            "write it as a list item (`[{...}]` in JSON, `- name: ...` in YAML); a top-level object is an estate document, whose keys are `connectionGroups`, `sharingProfiles`, `userGroups`, `users` and `connections`"
        )
    );
}

/// `connections` holds import-format connections, checked exactly as in a
/// manifest (an unknown key is a warning there, as in an import file), and they
/// join the same entries.
#[test]
fn connections_go_through_the_import_rules() {
    let p = yaml(
        "users: [{username: a}]\nconnections:\n  - {name: web, protocol: ssh, group: Prod, parameters: {hostname: h}}\n  - {name: bad, protocol: SSH}\n  - {name: odd, protocol: ssh, colour: 1}\n",
    );
    assert_eq!(
        codes(&p),
        [("unknown-protocol", 4, 27), ("unknown-key", 5, 32)]
    );
    assert!(!the(&p, "unknown-key").is_error());
    let names: Vec<&str> = p.entries.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["web", "odd"]);
    assert_eq!(
        p.entries[0].parent,
        crate::model::Parent::Group(crate::model::GroupPath::parse("ROOT/Prod").expect("path"))
    );
    assert_eq!(p.estate.users.len(), 1);
    let strict = parse_as(
        Format::Yaml,
        "connections:\n  - {name: a, protocol: ssh, colour: 1}\n",
        true,
    );
    assert!(the(&strict, "unknown-key").is_error());
}

#[test]
fn json_documents_too() {
    let p = parse_as(
        Format::Json,
        r#"{"users": [{"username": "a", "disabled": true, "colour": 1}], "userGroups": {}}"#,
        false,
    );
    assert_eq!(codes(&p), [("unknown-key", 1, 48), ("invalid-type", 1, 77)]);
    let p = parse_as(
        Format::Json,
        r#"{"users": [{"username": "a", "disabled": true}], "connections": [{"name": "c", "protocol": "vnc"}]}"#,
        false,
    );
    assert!(p.diagnostics.is_empty(), "{:?}", p.diagnostics);
    assert_eq!(p.estate.users[0].disabled, Some(true));
    assert_eq!(p.entries.len(), 1);
    // The old top-level-object mistake keeps its diagnostic.
    let p = parse_as(Format::Json, r#"{"name":"a","protocol":"ssh"}"#, false);
    assert_eq!(codes(&p), [("not-a-list", 1, 1)]);
}

/// Every list of names, every object and every value is typed; wrong types are
/// errors at the value.
#[test]
fn wrong_types() {
    table(&[
        ("users:\n  - {username: [a]}\n", &[("invalid-type", 2, 16)]),
        (
            "users:\n  - {username: a, disabled: yes}\n",
            &[("invalid-type", 2, 29)],
        ),
        (
            "users:\n  - {username: a, disabled: 'true'}\n",
            &[("invalid-type", 2, 29)],
        ),
        (
            "users:\n  - {username: a, attributes: [x]}\n",
            &[("invalid-type", 2, 31)],
        ),
        (
            "users:\n  - {username: a, attributes: {timezone: [x]}}\n",
            &[("invalid-type", 2, 42)],
        ),
        (
            "users:\n  - {username: a, system: CREATE_USER}\n",
            &[("invalid-type", 2, 27)],
        ),
        (
            "users:\n  - {username: a, system: [[CREATE_USER]]}\n",
            &[("invalid-type", 2, 28)],
        ),
        (
            "users:\n  - {username: a, permissions: [READ]}\n",
            &[("not-an-object", 2, 32)],
        ),
        (
            "users:\n  - {username: a, permissions: {users: [b]}}\n",
            &[("invalid-type", 2, 40)],
        ),
        (
            "users:\n  - {username: a, permissions: {users: {b: READ}}}\n",
            &[("invalid-type", 2, 44)],
        ),
        (
            "userGroups:\n  - {name: a, members: [b]}\n",
            &[("not-an-object", 2, 24)],
        ),
        (
            "userGroups:\n  - {name: a, members: {users: b}}\n",
            &[("invalid-type", 2, 32)],
        ),
        (
            "userGroups:\n  - {name: a, members: {users: [{b: 1}]}}\n",
            &[("invalid-type", 2, 33)],
        ),
        (
            "connectionGroups:\n  - {path: ROOT/a, users: alice}\n",
            &[("invalid-type", 2, 27)],
        ),
        (
            "connectionGroups:\n  - {path: ROOT/a, type: [BALANCING]}\n",
            &[("invalid-type", 2, 26)],
        ),
        (
            "sharingProfiles:\n  - {connection: ROOT/c, name: p, parameters: [x]}\n",
            &[("invalid-type", 2, 47)],
        ),
        (
            "sharingProfiles:\n  - {connection: ROOT/c, name: p, parameters: {read-only: {a: 1}}}\n",
            &[("invalid-type", 2, 59)],
        ),
    ]);
    let p = yaml("users:\n  - {username: a, disabled: 'true'}\n");
    assert_eq!(
        the(&p, "invalid-type").help.as_deref(),
        Some("write true without quotes")
    );
    let p = yaml("users:\n  - {username: a, system: CREATE_USER}\n");
    assert_eq!(
        the(&p, "invalid-type").help.as_deref(),
        Some("write `[CREATE_CONNECTION]` even for a single one")
    );
}

/// Null is "not written" for every key except attribute values, where it clears.
#[test]
fn null_is_absent() {
    let p = yaml(
        "users:\n  - {username: a, password: ~, disabled: ~, attributes: ~, system: ~, permissions: ~}\nuserGroups:\n  - {name: g, members: ~}\n  - {name: h, members: {users: ~, groups: [x]}}\nconnectionGroups: ~\n",
    );
    assert!(p.diagnostics.is_empty(), "{:?}", p.diagnostics);
    let u = &p.estate.users[0];
    assert!(u.password.is_none() && u.disabled.is_none() && u.system.is_none());
    assert!(u.attributes.is_empty() && u.permissions.is_empty());
    let g = &p.estate.user_groups;
    assert!(g[0].member_users.is_none() && g[0].member_groups.is_none());
    assert!(g[1].member_users.is_none());
    assert_eq!(g[1].member_groups.as_ref().map(Vec::len), Some(1));
}

/// A misspelt key may hold a secret (`pasword: ...`): the value of an unknown key
/// is masked wherever its line is shown, as an unknown parameter's is.
#[test]
fn the_value_of_an_unknown_key_is_masked() {
    let p = yaml("users:\n  - {username: a, pasword: hunter22}\npassword: top-level-secret\n");
    assert_eq!(codes(&p), [("unknown-key", 2, 19), ("unknown-key", 3, 1)]);
    assert_eq!(
        the_first(&p).help.as_deref(),
        Some("did you mean `password`?")
    );
    let secrets = &p.source.as_ref().expect("source").secrets;
    assert!(secrets.contains(&"hunter22".to_owned()), "{secrets:?}");
    assert!(
        secrets.contains(&"top-level-secret".to_owned()),
        "{secrets:?}"
    );
}

fn the_first(p: &Parsed) -> &Diagnostic {
    &p.diagnostics[0]
}

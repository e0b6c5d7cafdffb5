//! Connection groups and sharing profiles: paths, types, attributes, parameters
//! and the READ lists.

use std::collections::BTreeMap;

use super::*;
use crate::estate::{GroupType, Ref};
use crate::model::{ConnKey, GroupPath};

fn path(p: &str) -> GroupPath {
    GroupPath::parse(p).expect("valid path")
}

#[test]
fn connection_groups_are_read_whole() {
    let p = yaml(
        "connectionGroups:\n  - path: /Prod/Web\\/Edge/\n    type: BALANCING\n    attributes: {max-connections: ' 10 ', enable-session-affinity: TRUE, max-connections-per-user: ~}\n    users: [' bob ', alice, bob, '']\n    groups: []\n  - path: Lab\n",
    );
    assert!(p.diagnostics.is_empty(), "{:?}", p.diagnostics);
    let g = &p.estate.connection_groups[0];
    assert_eq!(g.path.segments(), ["Prod", "Web/Edge"]);
    assert_eq!(g.path.to_string(), "ROOT/Prod/Web\\/Edge");
    assert_eq!(g.group_type, Some(GroupType::Balancing));
    assert_eq!(
        g.attributes,
        BTreeMap::from([
            (
                "enable-session-affinity".to_owned(),
                Some("true".to_owned())
            ),
            ("max-connections".to_owned(), Some("10".to_owned())),
            ("max-connections-per-user".to_owned(), None),
        ])
    );
    let users: Vec<(&str, u32, u32)> = g
        .users
        .iter()
        .flatten()
        .map(|r| (r.target.as_str(), r.source.line, r.source.column))
        .collect();
    assert_eq!(
        users,
        [("alice", 5, 22), ("bob", 5, 13)],
        "trimmed, once, sorted"
    );
    assert_eq!(g.groups, Some(vec![]), "written empty is not absent");
    assert_eq!(
        (g.source.file.as_str(), g.source.line, g.source.column),
        ("e", 2, 5)
    );
    let lab = &p.estate.connection_groups[1];
    assert_eq!(lab.path, path("ROOT/Lab"));
    assert_eq!(
        lab.group_type, None,
        "absent: left alone (ORGANIZATIONAL on create)"
    );
    assert!(lab.attributes.is_empty() && lab.users.is_none() && lab.groups.is_none());
}

#[test]
fn connection_group_rules() {
    table(&[
        (
            "connectionGroups:\n  - {type: BALANCING}\n",
            &[("missing-key", 2, 5)],
        ),
        (
            "connectionGroups:\n  - {path: ~}\n",
            &[("missing-key", 2, 5)],
        ),
        (
            "connectionGroups:\n  - {path: ROOT}\n",
            &[("invalid-group", 2, 12)],
        ),
        (
            "connectionGroups:\n  - {path: ''}\n",
            &[("invalid-group", 2, 12)],
        ),
        (
            "connectionGroups:\n  - {path: ROOTX/a}\n",
            &[("invalid-group", 2, 12)],
        ),
        (
            "connectionGroups:\n  - {path: 'ROOT/ /a'}\n",
            &[("invalid-group", 2, 12)],
        ),
        (
            "connectionGroups:\n  - {path: ROOT/a, type: balancing}\n",
            &[("invalid-group-type", 2, 26)],
        ),
        (
            "connectionGroups:\n  - {path: ROOT/a, type: POOL}\n",
            &[("invalid-group-type", 2, 26)],
        ),
        (
            "connectionGroups:\n  - {path: ROOT/a, attributes: {max-connections: ten}}\n",
            &[("invalid-attribute-value", 2, 50)],
        ),
        (
            "connectionGroups:\n  - {path: ROOT/a, attributes: {enable-session-affinity: yes}}\n",
            &[("invalid-attribute-value", 2, 58)],
        ),
        (
            "connectionGroups:\n  - {path: ROOT/a, attributes: {weight: 1}}\n",
            &[("unknown-attribute", 2, 33)],
        ),
        (
            "connectionGroups:\n  - {path: ROOT/a, users: [\"b\\0\"]}\n",
            &[("nul-byte", 2, 28)],
        ),
    ]);
    let p = yaml("connectionGroups:\n  - {path: ROOT/a, type: balancing}\n");
    assert_eq!(
        the(&p, "invalid-group-type").help.as_deref(),
        Some("did you mean `BALANCING`?")
    );
    let p = yaml("connectionGroups:\n  - {path: ROOT/a, type: POOL}\n");
    let d = the(&p, "invalid-group-type");
    assert_eq!(d.message, "\"POOL\" is not a connection group type");
    assert_eq!(
        d.help.as_deref(),
        Some("the types are `ORGANIZATIONAL` and `BALANCING`")
    );
    let p = yaml("connectionGroups:\n  - {path: ROOT}\n");
    assert_eq!(
        the(&p, "invalid-group").message,
        "ROOT itself cannot be declared"
    );
    let p = yaml("connectionGroups:\n  - {path: ROOT/a, attributes: {max-connections: ten}}\n");
    assert_eq!(
        the(&p, "invalid-attribute-value").message,
        "attribute \"max-connections\" must be an integer"
    );
    // A false BOOLEAN attribute is stored as null by the server: it clears.
    let p = yaml(
        "connectionGroups:\n  - {path: ROOT/a, attributes: {enable-session-affinity: false}}\n",
    );
    assert_eq!(
        p.estate.connection_groups[0].attributes["enable-session-affinity"],
        None
    );
    // Unknown attribute names are warnings (extensions declare more), errors under --strict.
    let input = "connectionGroups:\n  - {path: ROOT/a, attributes: {max-conections: 1}}\n";
    let p = yaml(input);
    assert_eq!(
        the(&p, "unknown-attribute").help.as_deref(),
        Some("did you mean `max-connections`?")
    );
    assert_eq!(p.estate.connection_groups.len(), 1);
    let strict = parse_as(Format::Yaml, input, true);
    assert!(the(&strict, "unknown-attribute").is_error());
    assert!(strict.estate.connection_groups.is_empty());
}

#[test]
fn sharing_profiles_are_read_whole() {
    let p = yaml(
        "sharingProfiles:\n  - connection: /Prod/Web/web\\/1\n    name: watch-only\n    parameters: {read-only: 'TRUE'}\n    users: [bob]\n  - connection: ROOT/c\n    name: 7\n    parameters: {read-only: ~}\n",
    );
    assert!(p.diagnostics.is_empty(), "{:?}", p.diagnostics);
    let s = &p.estate.sharing_profiles[0];
    assert_eq!(
        s.connection.target,
        ConnKey {
            group: path("ROOT/Prod/Web"),
            name: "web/1".into()
        }
    );
    assert_eq!(
        (s.connection.source.line, s.connection.source.column),
        (2, 17)
    );
    assert_eq!(s.name, "watch-only");
    assert_eq!(s.key().to_string(), "ROOT/Prod/Web/web\\/1/watch-only");
    assert_eq!(
        s.parameters,
        Some(BTreeMap::from([(
            "read-only".to_owned(),
            "true".to_owned()
        )]))
    );
    assert_eq!(
        s.users,
        Some(vec![Ref {
            target: "bob".to_owned(),
            source: crate::model::Source {
                file: "e".into(),
                line: 5,
                column: 13
            }
        }])
    );
    assert!(s.groups.is_none());
    let t = &p.estate.sharing_profiles[1];
    assert_eq!(t.connection.target.group, GroupPath::root());
    assert_eq!(t.name, "7");
    assert_eq!(
        t.parameters,
        Some(BTreeMap::new()),
        "null values unset, the map written"
    );
}

#[test]
fn sharing_profile_rules() {
    table(&[
        (
            "sharingProfiles:\n  - {name: p}\n",
            &[("missing-key", 2, 5)],
        ),
        (
            "sharingProfiles:\n  - {connection: ROOT/c}\n",
            &[("missing-key", 2, 5)],
        ),
        (
            "sharingProfiles:\n  - {connection: ROOT/c, name: ' '}\n",
            &[("missing-name", 2, 32)],
        ),
        (
            "sharingProfiles:\n  - {connection: ROOT, name: p}\n",
            &[("invalid-path", 2, 18)],
        ),
        (
            "sharingProfiles:\n  - {connection: '', name: p}\n",
            &[("invalid-path", 2, 18)],
        ),
        (
            "sharingProfiles:\n  - {connection: ROOTX/c, name: p}\n",
            &[("invalid-path", 2, 18)],
        ),
        (
            "sharingProfiles:\n  - {connection: [ROOT/c], name: p}\n",
            &[("invalid-type", 2, 18)],
        ),
        (
            "sharingProfiles:\n  - {connection: ROOT/c, name: p, parameters: {read-olny: 'true'}}\n",
            &[("unknown-parameter", 2, 48)],
        ),
        (
            "sharingProfiles:\n  - {connection: ROOT/c, name: p, parameters: {read-only: '${env:}'}}\n",
            &[("invalid-secret-reference", 2, 59)],
        ),
    ]);
    let p = yaml("sharingProfiles:\n  - {connection: ROOT, name: p}\n");
    let d = the(&p, "invalid-path");
    assert_eq!(
        d.message,
        "\"ROOT\" is too short: the path ends with the object's name"
    );
    assert_eq!(
        d.help.as_deref(),
        Some(
            "write the whole path, for example `ROOT/Prod/Web/web-1`; a `/` inside a name is written `\\/`"
        )
    );
    let p = yaml(
        "sharingProfiles:\n  - {connection: ROOT/c, name: p, parameters: {read-olny: 'true'}}\n",
    );
    assert_eq!(
        the(&p, "unknown-parameter").help.as_deref(),
        Some("did you mean `read-only`?")
    );
    let p = yaml("sharingProfiles:\n  - {connection: ROOT/c, name: p, parameters: {colour: x}}\n");
    assert_eq!(
        the(&p, "unknown-parameter").help.as_deref(),
        Some("sharing profiles take `read-only`")
    );
    // The value of an unknown parameter is masked in shown lines (it may be a
    // password written under a misspelt name).
    let source = p.source.as_ref().expect("source");
    assert!(source.secrets.contains(&"x".to_owned()));
}

#[test]
fn names_over_the_database_limit() {
    let long = "n".repeat(129);
    table_owned(&[
        (
            format!("users:\n  - {{username: {long}}}\n"),
            &[("name-too-long", 2, 16)],
        ),
        (
            format!("connectionGroups:\n  - {{path: ROOT/{long}}}\n"),
            &[("invalid-group", 2, 12)],
        ),
        (
            format!("sharingProfiles:\n  - {{connection: ROOT/{long}, name: p}}\n"),
            &[("invalid-path", 2, 18)],
        ),
        (
            format!("userGroups:\n  - {{name: g, members: {{users: [{long}]}}}}\n"),
            &[("name-too-long", 2, 33)],
        ),
    ]);
    let ok = "n".repeat(128);
    let p = yaml(&format!("users:\n  - {{username: {ok}}}\n"));
    assert!(p.diagnostics.is_empty());
}

fn table_owned(cases: &[(String, Expected)]) {
    for (input, expected) in cases {
        table(&[(input.as_str(), *expected)]);
    }
}

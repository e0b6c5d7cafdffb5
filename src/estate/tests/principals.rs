//! Users and user groups: identities, passwords, attributes, members, system
//! permissions and object permissions.

use std::collections::BTreeMap;

use super::*;
use crate::estate::{Level, SystemPermission};
use crate::model::{ConnKey, GroupPath};

#[test]
fn a_user_is_read_whole() {
    let p = yaml(
        "users:\n  - username: alice\n    password: ${env:ALICE_PW}\n    disabled: false\n    attributes:\n      guac-full-name: Alice Doe\n      valid-until: '2027-06-30'\n      access-window-start: '07:00:00'\n      expired: false\n      timezone: ~\n      guac-organization: ''\n    system: [CREATE_USER, ADMINISTER, CREATE_USER]\n    permissions:\n      connections: {ROOT/Prod/web-1: [UPDATE, READ, READ], /Lab/x: []}\n      connectionGroups: {Prod: [ADMINISTER]}\n      sharingProfiles: {ROOT/Prod/web-1/watch: [READ]}\n      users: {' bob ': [READ]}\n      userGroups: {ops: ~}\n",
    );
    assert!(p.diagnostics.is_empty(), "{:?}", p.diagnostics);
    let u = &p.estate.users[0];
    assert_eq!(u.username, "alice");
    let pw = u.password.as_ref().expect("password");
    assert_eq!(
        (pw.written(), pw.shown(), pw.is_reference()),
        ("${env:ALICE_PW}", "${env:ALICE_PW}", true)
    );
    assert_eq!(u.disabled, Some(false));
    let set = |v: &str| Some(v.to_owned());
    assert_eq!(
        u.attributes,
        BTreeMap::from([
            ("access-window-start".to_owned(), set("07:00:00")),
            ("expired".to_owned(), None),
            ("guac-full-name".to_owned(), set("Alice Doe")),
            ("guac-organization".to_owned(), None),
            ("timezone".to_owned(), None),
            ("valid-until".to_owned(), set("2027-06-30")),
        ]),
        "written null, empty and false clear; the rest are kept as written"
    );
    let system: Vec<SystemPermission> = u.system.iter().flatten().map(|r| r.target).collect();
    assert_eq!(
        system,
        [SystemPermission::CreateUser, SystemPermission::Administer]
    );
    let perms = &u.permissions;
    let conns: Vec<(String, Vec<Level>)> = perms
        .connections
        .iter()
        .flatten()
        .map(|g| (g.target.target.to_string(), g.levels.clone()))
        .collect();
    assert_eq!(
        conns,
        [
            ("ROOT/Lab/x".to_owned(), vec![]),
            (
                "ROOT/Prod/web-1".to_owned(),
                vec![Level::Read, Level::Update]
            ),
        ]
    );
    let first = &perms.connections.as_ref().expect("written")[1];
    assert_eq!(
        first.target.target,
        ConnKey {
            group: GroupPath::parse("ROOT/Prod").expect("path"),
            name: "web-1".into()
        }
    );
    assert_eq!(
        (first.target.source.line, first.target.source.column),
        (14, 21)
    );
    let groups = perms.connection_groups.as_ref().expect("written");
    assert_eq!(groups[0].target.target.to_string(), "ROOT/Prod");
    assert_eq!(groups[0].levels, [Level::Administer]);
    let profiles = perms.sharing_profiles.as_ref().expect("written");
    assert_eq!(
        profiles[0].target.target.to_string(),
        "ROOT/Prod/web-1/watch"
    );
    assert_eq!(profiles[0].target.target.connection.name, "web-1");
    assert_eq!(
        perms.users.as_ref().expect("written")[0].target.target,
        "bob"
    );
    let ops = &perms.user_groups.as_ref().expect("written")[0];
    assert_eq!((ops.target.target.as_str(), ops.levels.len()), ("ops", 0));
}

#[test]
fn user_rules() {
    table(&[
        (
            "users:\n  - {password: x}\n",
            &[("missing-key", 2, 5), ("literal-password", 2, 16)],
        ),
        ("users:\n  - {username: ''}\n", &[("missing-name", 2, 16)]),
        (
            "users:\n  - {username: ' alice'}\n",
            &[("invalid-name", 2, 16)],
        ),
        ("users:\n  - {username: \"a\\0\"}\n", &[("nul-byte", 2, 16)]),
        (
            "users:\n  - {username: a, password: ''}\n",
            &[("empty-password", 2, 29)],
        ),
        (
            "users:\n  - {username: a, password: '${env:'}\n",
            &[("invalid-secret-reference", 2, 29)],
        ),
        (
            "users:\n  - {username: a, password: '${env:GUACAMOLE_PASSWORD}'}\n",
            &[("invalid-secret-reference", 2, 29)],
        ),
        (
            "users:\n  - {username: a, password: hunter22}\n",
            &[("literal-password", 2, 29)],
        ),
        (
            "users:\n  - {username: a, password: '${file:pw/a.txt}'}\n",
            &[],
        ),
        (
            "users:\n  - {username: a, attributes: {valid-until: 2027-02-29}}\n",
            &[("invalid-attribute-value", 2, 45)],
        ),
        (
            "users:\n  - {username: a, attributes: {access-window-end: '9:00'}}\n",
            &[("invalid-attribute-value", 2, 51)],
        ),
        (
            "users:\n  - {username: a, attributes: {expired: yes}}\n",
            &[("invalid-attribute-value", 2, 41)],
        ),
        (
            "users:\n  - {username: a, attributes: {valid-until: '${env:UNTIL}'}}\n",
            &[],
        ),
        (
            "users:\n  - {username: a, attributes: {guac-full-name: '${env:}'}}\n",
            &[("invalid-secret-reference", 2, 48)],
        ),
        (
            "users:\n  - {username: a, attributes: {full-name: A}}\n",
            &[("unknown-attribute", 2, 32)],
        ),
    ]);
}

#[test]
fn user_messages_and_masking() {
    let p = yaml("users:\n  - {username: a, password: hunter22}\n");
    let d = the(&p, "literal-password");
    assert_eq!(d.message, "the password is written in the document");
    assert_eq!(
        d.help.as_deref(),
        Some("write `${env:NAME}` or `${file:PATH}` so that it is not kept in git")
    );
    let u = &p.estate.users[0];
    assert_eq!(
        u.password.as_ref().map(crate::estate::Password::shown),
        Some("(sensitive)")
    );
    assert!(
        !format!("{u:?}").contains("hunter22"),
        "Debug never shows a literal password"
    );
    assert!(
        p.source
            .as_ref()
            .expect("source")
            .secrets
            .contains(&"hunter22".to_owned())
    );
    let p = yaml("users:\n  - {username: a, attributes: {full-name: A}}\n");
    assert_eq!(
        the(&p, "unknown-attribute").message,
        "\"full-name\" is not a user attribute of the JDBC data source"
    );
    let p = yaml("users:\n  - {username: a, attributes: {valid-until: 2027-02-29}}\n");
    assert_eq!(
        the(&p, "invalid-attribute-value").message,
        "attribute \"valid-until\" must be a date written YYYY-MM-DD (Guacamole's DateField format)"
    );
    let p = yaml("users:\n  - {password: '${env:PW}'}\n");
    let d = the(&p, "missing-key");
    assert_eq!(d.message, "a user needs `username`");
    assert_eq!(d.help.as_deref(), Some("for example `username: alice`"));
    let long = "x".repeat(4097);
    let p = yaml(&format!(
        "users:\n  - {{username: a, attributes: {{guac-full-name: {long}}}}}\n"
    ));
    assert_eq!(codes(&p), [("value-too-long", 2, 48)]);
    assert!(p.estate.users.is_empty());
    let p = yaml("users:\n  - {username: ' alice'}\n");
    let d = the(&p, "invalid-name");
    assert_eq!(d.message, "\" alice\" begins or ends with white space");
    // A TOTP key is a secret: masked in shown lines.
    let p =
        yaml("users:\n  - {username: a, attributes: {guac-totp-key-secret: JBSWY3DPEHPK3PXP}}\n");
    assert!(
        p.source
            .as_ref()
            .expect("source")
            .secrets
            .contains(&"JBSWY3DPEHPK3PXP".to_owned())
    );
}

#[test]
fn user_group_rules() {
    let p = yaml(
        "userGroups:\n  - name: ops\n    disabled: true\n    members:\n      users: [bob, alice]\n      groups: [oncall]\n    system: []\n  - name: empty\n    members: {users: []}\n",
    );
    assert!(p.diagnostics.is_empty(), "{:?}", p.diagnostics);
    let g = &p.estate.user_groups[0];
    assert_eq!((g.name.as_str(), g.disabled), ("ops", Some(true)));
    let users: Vec<&str> = g
        .member_users
        .iter()
        .flatten()
        .map(|r| r.target.as_str())
        .collect();
    assert_eq!(users, ["alice", "bob"]);
    assert_eq!(g.member_groups.as_ref().map(Vec::len), Some(1));
    assert_eq!(g.system, Some(vec![]), "`system: []` revokes every one");
    let e = &p.estate.user_groups[1];
    assert_eq!(e.member_users, Some(vec![]));
    assert_eq!(
        e.member_groups, None,
        "members.users and members.groups each on its own"
    );

    table(&[
        (
            "userGroups:\n  - {disabled: true}\n",
            &[("missing-key", 2, 5)],
        ),
        (
            "userGroups:\n  - {name: ops, members: {groups: [ops]}}\n",
            &[("self-membership", 2, 36)],
        ),
        (
            "userGroups:\n  - {name: ops, attributes: {}}\n",
            &[("unknown-key", 2, 17)],
        ),
    ]);
    let p = yaml("userGroups:\n  - {name: ops, members: {groups: [ops]}}\n");
    assert_eq!(p.estate.user_groups.len(), 1, "a warning keeps the group");
    assert_eq!(
        the(&p, "self-membership").message,
        "user group \"ops\" lists itself as a member"
    );
    let p = yaml("userGroups:\n  - {name: ops, attributes: {}}\n");
    assert_eq!(
        the(&p, "unknown-key").help.as_deref(),
        Some("user groups have no attributes in the JDBC data source")
    );
}

#[test]
fn permission_names_and_targets() {
    table(&[
        (
            "users:\n  - {username: a, system: [create_user]}\n",
            &[("unknown-permission", 2, 28)],
        ),
        (
            "users:\n  - {username: a, system: [READ]}\n",
            &[("unknown-permission", 2, 28)],
        ),
        (
            "users:\n  - {username: a, system: [SUPERUSER]}\n",
            &[("unknown-permission", 2, 28)],
        ),
        (
            "users:\n  - {username: a, permissions: {users: {b: [Read]}}}\n",
            &[("unknown-permission", 2, 45)],
        ),
        (
            "users:\n  - {username: a, permissions: {users: {b: [CREATE_USER]}}}\n",
            &[("unknown-permission", 2, 45)],
        ),
        (
            "users:\n  - {username: a, permissions: {users: {b: [WRITE]}}}\n",
            &[("unknown-permission", 2, 45)],
        ),
        (
            "users:\n  - {username: a, permissions: {connectionGroups: {ROOT: [READ]}}}\n",
            &[("invalid-group", 2, 52)],
        ),
        (
            "users:\n  - {username: a, permissions: {connectionGroups: {ROOT/a: [READ], /a/: [UPDATE]}}}\n",
            &[("duplicate-target", 2, 68)],
        ),
        (
            "users:\n  - {username: a, permissions: {connections: {ROOT: [READ]}}}\n",
            &[("invalid-path", 2, 47)],
        ),
        (
            "users:\n  - {username: a, permissions: {sharingProfiles: {ROOT/c: [READ]}}}\n",
            &[("invalid-path", 2, 51)],
        ),
        (
            "users:\n  - {username: a, permissions: {users: {' ': [READ]}}}\n",
            &[("missing-name", 2, 41)],
        ),
    ]);
    let helps: &[(&str, &str, &str)] = &[
        (
            "users:\n  - {username: a, system: [create_user]}\n",
            "\"create_user\" is not a system permission",
            "did you mean `CREATE_USER`?",
        ),
        (
            "users:\n  - {username: a, system: [READ]}\n",
            "\"READ\" is not a system permission",
            "READ on an object goes in `permissions`; the system permissions are `CREATE_USER`, `CREATE_USER_GROUP`, `CREATE_CONNECTION`, `CREATE_CONNECTION_GROUP`, `CREATE_SHARING_PROFILE`, `AUDIT` and `ADMINISTER`",
        ),
        (
            "users:\n  - {username: a, permissions: {users: {b: [Read]}}}\n",
            "\"Read\" is not an object permission",
            "did you mean `READ`?",
        ),
        (
            "users:\n  - {username: a, permissions: {users: {b: [CREATE_USER]}}}\n",
            "\"CREATE_USER\" is not an object permission",
            "CREATE_USER is a system permission: write it in `system`",
        ),
        (
            "users:\n  - {username: a, permissions: {users: {b: [WRITE]}}}\n",
            "\"WRITE\" is not an object permission",
            "the object permissions are `READ`, `UPDATE`, `DELETE` and `ADMINISTER`",
        ),
        (
            "users:\n  - {username: a, permissions: {connectionGroups: {ROOT/a: [READ], /a/: [UPDATE]}}}\n",
            "\"/a/\" names a target already listed in `permissions.connectionGroups`",
            "first listed at line 2, column 52",
        ),
    ];
    for (input, message, help) in helps {
        let p = yaml(input);
        let d = &p.diagnostics[0];
        assert_eq!(
            (d.message.as_str(), d.help.as_deref()),
            (*message, Some(*help)),
            "{input}"
        );
    }
    // AUDIT is a 1.6.0 permission; the plan checks the server's version.
    let p = yaml("users:\n  - {username: a, system: [AUDIT]}\n");
    assert!(p.diagnostics.is_empty());
}

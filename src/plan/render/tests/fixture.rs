//! `every_kind`: one plan holding every kind of change (each directory kind
//! added, moved, changed and removed, memberships, READ and other permissions, a
//! session), a multi-line value and secrets, as `diff` would order it. The
//! renderers', markdown and sensitive-mark tests use it.

use std::collections::BTreeSet;

use crate::diff::PermissionMode;
use crate::kinds::{Kind, ObjectKey};
use crate::model::{ConnKey, GroupPath, Principal, Source};
use crate::plan::{
    Action, Batch, Body, Change, FieldChange, Grant, MembershipChange, PermissionChange, Plan,
    PlanOptions, SecretKind, SecretUse, SessionClose, Summary, Warning,
};
use crate::value::Value;

fn path(p: &str) -> GroupPath {
    GroupPath::parse(p).expect("path")
}

pub(super) fn key(group: &str, name: &str) -> ConnKey {
    ConnKey {
        group: path(group),
        name: name.into(),
    }
}

fn source(line: u32) -> Source {
    Source {
        file: "manifests/prod.yaml".into(),
        line,
        column: 3,
    }
}

pub(super) fn group(p: &str) -> ObjectKey {
    ObjectKey::group(path(p))
}

pub(super) fn connection(group: &str, name: &str) -> ObjectKey {
    ObjectKey::connection(key(group, name))
}

fn user(name: &str) -> ObjectKey {
    ObjectKey::User { name: name.into() }
}

fn user_group(name: &str) -> ObjectKey {
    ObjectKey::UserGroup { name: name.into() }
}

fn profile(group: &str, conn: &str, name: &str) -> ObjectKey {
    ObjectKey::SharingProfile {
        connection: key(group, conn),
        name: name.into(),
    }
}

/// A change with nothing shown and nothing sent yet.
fn change(action: Action, object: ObjectKey, identifier: Option<&str>) -> Change {
    Change {
        action,
        object,
        identifier: identifier.map(str::to_owned),
        moved_from: None,
        detail: None,
        fields: Vec::new(),
        parameters: Vec::new(),
        attributes: Vec::new(),
        source: None,
        active_sessions: 0,
        password: None,
        body: None,
    }
}

fn added(name: &str, after: Value) -> FieldChange {
    FieldChange::Added {
        name: name.into(),
        after,
    }
}

fn changed(name: &str, before: Value, after: Value) -> FieldChange {
    FieldChange::Changed {
        name: name.into(),
        before,
        after,
    }
}

fn removed(name: &str, before: Value) -> FieldChange {
    FieldChange::Removed {
        name: name.into(),
        before,
    }
}

fn map(fields: Vec<(&str, Body)>) -> Body {
    Body::Map(fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
}

/// The group changes of `every_kind`: a move, a creation, a change of type.
fn group_changes() -> Vec<Change> {
    let mut moved = change(Action::Change, group("ROOT/Prod/Team"), Some("3"));
    moved.moved_from = Some(group("ROOT/Prod/Old"));
    moved.body = Some(map(vec![
        ("parentIdentifier", Body::text("1")),
        ("name", Body::text("Team")),
        ("type", Body::text("ORGANIZATIONAL")),
        ("attributes", map(vec![("max-connections", Body::Null)])),
    ]));
    let mut add = change(Action::Add, group("ROOT/Prod/New"), None);
    add.body = Some(map(vec![
        ("parentIdentifier", Body::text("1")),
        ("name", Body::text("New")),
        ("type", Body::text("ORGANIZATIONAL")),
        ("attributes", map(vec![])),
    ]));
    let mut pool = change(Action::Change, group("ROOT/Prod/Pool"), Some("6"));
    pool.fields = vec![changed(
        "type",
        Value::plain("ORGANIZATIONAL"),
        Value::plain("BALANCING"),
    )];
    pool.attributes = vec![added("max-connections", Value::plain("10"))];
    pool.source = Some(source(40));
    pool.body = Some(map(vec![
        ("parentIdentifier", Body::text("1")),
        ("name", Body::text("Pool")),
        ("type", Body::text("BALANCING")),
        (
            "attributes",
            map(vec![("max-connections", Body::text("10"))]),
        ),
    ]));
    vec![moved, add, pool]
}

/// The connection changes of `every_kind`: a move, an add with secrets, a change
/// with a multi-line value, a removal.
#[allow(clippy::too_many_lines)] // four literal changes, clearer whole
fn connection_changes() -> Vec<Change> {
    let mut carried = change(
        Action::Change,
        connection("ROOT/Prod/Team", "web-2"),
        Some("8"),
    );
    carried.moved_from = Some(connection("ROOT/Prod", "web-2"));
    carried.detail = Some("rdp".into());
    carried.source = Some(Source {
        file: "guacsync.toml".into(),
        line: 7,
        column: 1,
    });
    carried.body = Some(map(vec![
        ("parentIdentifier", Body::text("3")),
        ("name", Body::text("web-2")),
        ("protocol", Body::text("rdp")),
        (
            "parameters",
            map(vec![(
                "password",
                Body::Text(Value::secret("carried-secret")),
            )]),
        ),
        ("attributes", map(vec![])),
    ]));

    let mut add = change(Action::Add, connection("ROOT/Prod/New", "db-1"), None);
    add.detail = Some("ssh".into());
    add.parameters = vec![
        added("hostname", Value::plain("10.0.0.5")),
        added("passphrase", Value::secret("literal-secret")),
        added("password", Value::resolved("hunter2", "${env:DB_PW}")),
    ];
    add.attributes = vec![added("max-connections", Value::plain("2"))];
    add.source = Some(source(3));
    add.body = Some(map(vec![
        ("parentIdentifier", Body::Ref(group("ROOT/Prod/New"))),
        ("name", Body::text("db-1")),
        ("protocol", Body::text("ssh")),
        (
            "parameters",
            map(vec![
                ("hostname", Body::text("10.0.0.5")),
                ("passphrase", Body::Text(Value::secret("literal-secret"))),
                (
                    "password",
                    Body::Text(Value::resolved("hunter2", "${env:DB_PW}")),
                ),
            ]),
        ),
        (
            "attributes",
            map(vec![("max-connections", Body::text("2"))]),
        ),
    ]));

    let mut replace = change(
        Action::Change,
        connection("ROOT/Prod", "web \"1\""),
        Some("7"),
    );
    replace.detail = Some("ssh".into());
    replace.fields = vec![changed(
        "protocol",
        Value::plain("telnet"),
        Value::plain("ssh"),
    )];
    replace.parameters = vec![
        added("domain", Value::plain("CORP")),
        changed(
            "initial-program",
            Value::plain("echo a\necho b\n"),
            Value::plain("echo a\necho c\necho d\n"),
        ),
        changed(
            "password",
            Value::secret("old-secret"),
            Value::secret("new-secret"),
        ),
        removed("port", Value::plain("2222")),
    ];
    replace.attributes = vec![changed("weight", Value::plain("1"), Value::plain("2"))];
    replace.source = Some(source(12));
    replace.active_sessions = 1;
    replace.body = Some(map(vec![
        ("parentIdentifier", Body::text("1")),
        ("name", Body::text("web \"1\"")),
        ("protocol", Body::text("ssh")),
        (
            "parameters",
            map(vec![
                ("domain", Body::text("CORP")),
                ("initial-program", Body::text("echo a\necho c\necho d\n")),
                ("password", Body::Text(Value::secret("new-secret"))),
            ]),
        ),
        (
            "attributes",
            map(vec![
                ("guacd-port", Body::Null),
                ("weight", Body::text("2")),
            ]),
        ),
    ]));

    let mut remove = change(Action::Remove, connection("ROOT/Prod", "old"), Some("9"));
    remove.detail = Some("vnc".into());
    remove.parameters = vec![
        removed("hostname", Value::plain("h")),
        removed("password", Value::secret("gone-secret")),
    ];
    remove.active_sessions = 2;
    vec![carried, add, replace, remove]
}

/// The sharing profile changes of `every_kind`, and the group removal that
/// follows them.
fn profile_changes() -> Vec<Change> {
    let mut watch = change(Action::Add, profile("ROOT/Prod/New", "db-1", "watch"), None);
    watch.parameters = vec![added("read-only", Value::plain("true"))];
    watch.source = Some(source(20));
    watch.body = Some(map(vec![
        (
            "primaryConnectionIdentifier",
            Body::Ref(connection("ROOT/Prod/New", "db-1")),
        ),
        ("name", Body::text("watch")),
        ("parameters", map(vec![("read-only", Body::text("true"))])),
        ("attributes", map(vec![])),
    ]));
    let mut share = change(
        Action::Change,
        profile("ROOT/Prod", "web \"1\"", "share"),
        Some("12"),
    );
    share.parameters = vec![changed(
        "read-only",
        Value::plain("true"),
        Value::plain("false"),
    )];
    share.source = Some(source(24));
    share.body = Some(map(vec![
        ("primaryConnectionIdentifier", Body::text("7")),
        ("name", Body::text("share")),
        ("parameters", map(vec![("read-only", Body::text("false"))])),
        ("attributes", map(vec![])),
    ]));
    let mut gone_profile = change(
        Action::Remove,
        profile("ROOT/Prod", "old", "old-share"),
        Some("13"),
    );
    gone_profile.parameters = vec![removed("read-only", Value::plain("true"))];

    let gone_group = change(Action::Remove, group("ROOT/Prod/Empty"), Some("4"));
    vec![watch, share, gone_profile, gone_group]
}

/// The user group and user changes of `every_kind`.
fn principal_changes() -> Vec<Change> {
    let mut team = change(Action::Add, user_group("new-team"), None);
    team.source = Some(source(30));
    team.body = Some(map(vec![
        ("identifier", Body::text("new-team")),
        ("attributes", map(vec![])),
    ]));
    let mut ops = change(Action::Change, user_group("ops"), Some("ops"));
    ops.fields = vec![changed(
        "disabled",
        Value::plain("false"),
        Value::plain("true"),
    )];
    ops.source = Some(source(31));
    ops.body = Some(map(vec![
        ("identifier", Body::text("ops")),
        ("attributes", map(vec![("disabled", Body::text("true"))])),
    ]));
    let legacy = change(Action::Remove, user_group("legacy"), Some("legacy"));

    let mut zoe = change(Action::Add, user("zoe"), None);
    zoe.fields = vec![added(
        "password",
        Value::resolved("zoe-initial-pw", "${env:ZOE_PW}"),
    )];
    zoe.attributes = vec![added("guac-full-name", Value::plain("Zoe Example"))];
    zoe.source = Some(source(34));
    zoe.body = Some(map(vec![
        ("username", Body::text("zoe")),
        (
            "password",
            Body::Text(Value::resolved("zoe-initial-pw", "${env:ZOE_PW}")),
        ),
        (
            "attributes",
            map(vec![("guac-full-name", Body::text("Zoe Example"))]),
        ),
    ]));
    let mut alice = change(Action::Change, user("alice"), Some("alice"));
    alice.attributes = vec![changed(
        "guac-email-address",
        Value::plain("alice@old.example"),
        Value::plain("alice@example.com"),
    )];
    alice.source = Some(source(36));
    alice.body = Some(map(vec![
        ("username", Body::text("alice")),
        (
            "attributes",
            map(vec![(
                "guac-email-address",
                Body::text("alice@example.com"),
            )]),
        ),
    ]));
    let mallory = change(Action::Remove, user("mallory"), Some("mallory"));
    vec![team, ops, legacy, zoe, alice, mallory]
}

/// The sections `every_kind` fills, each with its count, in apply order.
pub(in crate::plan) const EVERY_KIND_SECTIONS: [&str; 19] = [
    "Groups to create (1)",
    "Groups to move (1)",
    "Groups to change (1)",
    "Connections to add (1)",
    "Connections to change (2)",
    "Connections to remove (1)",
    "Sharing profiles to add (1)",
    "Sharing profiles to change (1)",
    "Sharing profiles to remove (1)",
    "Groups to remove (1)",
    "User groups to add (1)",
    "User groups to change (1)",
    "User groups to remove (1)",
    "Users to add (1)",
    "Users to change (1)",
    "Users to remove (1)",
    "Memberships (1)",
    "Permissions (3)",
    "Sessions to close (1)",
];

/// A plan with every kind of change, a multi-line value and secrets, in the
/// order `diff` makes it (DESIGN.md §8: groups, connections, sharing profiles,
/// groups removed, user groups, users; then memberships and permissions).
#[allow(clippy::too_many_lines)] // one literal plan, clearer whole
pub(in crate::plan) fn every_kind() -> Plan {
    let mut changes = group_changes();
    changes.extend(connection_changes());
    changes.extend(profile_changes());
    changes.extend(principal_changes());
    let batch = |kind: Kind, start: usize, end: usize, bytes: usize| Batch {
        kind,
        start,
        end,
        bytes,
    };
    let mut plan = Plan {
        version: crate::plan::PLAN_VERSION,
        data_source: "postgresql".into(),
        visibility: None,
        non_atomic: None,
        fingerprint: "0123456789abcdef".repeat(4),
        manifests: vec!["manifests".into()],
        options: PlanOptions {
            scope: vec![path("ROOT/Prod")],
            prune: true,
            permissions: PermissionMode::Exact,
            parent_group_read: true,
            create_groups: true,
            create_principals: true,
            max_request_bytes: 4096,
            terminate_sessions: true,
            prune_groups: true,
            unmanaged_parameters: BTreeSet::new(),
            allow_unknown_parameters: false,
            allow_non_atomic: false,
            moved: vec![],
            principals: crate::diff::Ownership::None,
            sharing_profiles: crate::diff::Ownership::None,
            reset_passwords: crate::diff::PasswordResets::None,
        },
        changes,
        // One stage per group depth and move; the connections cut in two.
        batches: vec![
            batch(Kind::ConnectionGroup, 0, 1, 150),
            batch(Kind::ConnectionGroup, 1, 2, 140),
            batch(Kind::ConnectionGroup, 2, 3, 150),
            batch(Kind::Connection, 3, 5, 3000),
            batch(Kind::Connection, 5, 7, 400),
            batch(Kind::SharingProfile, 7, 10, 300),
            batch(Kind::ConnectionGroup, 10, 11, 40),
            batch(Kind::UserGroup, 11, 14, 200),
            batch(Kind::User, 14, 17, 250),
        ],
        memberships: vec![MembershipChange {
            group: "ops".into(),
            add_users: vec!["zoe".into()],
            remove_users: vec!["bob".into()],
            add_groups: vec!["new-team".into()],
            remove_groups: vec![],
        }],
        permissions: vec![
            PermissionChange {
                principal: Principal::User("alice".into()),
                grant: vec![
                    Grant::on(connection("ROOT/Prod", "web \"1\""), "UPDATE", Some("7")),
                    Grant::system("CREATE_CONNECTION"),
                ],
                revoke: vec![Grant::on(group("ROOT/Prod"), "ADMINISTER", Some("1"))],
            },
            PermissionChange {
                principal: Principal::User("zoe".into()),
                grant: vec![
                    Grant::read(group("ROOT/Prod/New"), None),
                    Grant::read(connection("ROOT/Prod/New", "db-1"), None),
                ],
                revoke: vec![],
            },
            PermissionChange {
                principal: Principal::UserGroup("ops".into()),
                grant: vec![],
                revoke: vec![Grant::read(connection("ROOT/Prod", "web \"1\""), Some("7"))],
            },
        ],
        sessions: vec![SessionClose {
            key: key("ROOT/Prod", "old"),
            identifier: "uuid-1".into(),
            username: Some("alice".into()),
        }],
        warnings: vec![Warning {
            code: "active-sessions".into(),
            message: "ROOT/Prod/old is removed while 2 session(s) are open; they will be closed"
                .into(),
        }],
        secrets_used: vec![
            SecretUse {
                kind: SecretKind::Env,
                name: "DB_PW".into(),
                uses: 1,
                first_use: "manifests/prod.yaml:3".into(),
            },
            SecretUse {
                kind: SecretKind::File,
                name: "secrets/web.key".into(),
                uses: 4,
                first_use: "manifests/prod.yaml:12".into(),
            },
        ],
        held_removals: vec![],
        basis: None,
        summary: Summary::default(),
    };
    plan.summary = Summary::of_plan(&plan);
    plan
}

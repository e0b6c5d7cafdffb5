//! The estate rules of DESIGN.md §8, kind by kind: declared connection groups,
//! sharing profiles, user groups and users (adds with their bodies, declared
//! fields made equal and undeclared ones carried, 1.5.x's `disabled` attribute,
//! passwords set on create and reset, the login account left alone). Memberships,
//! permissions and prune are in `estate_access`.

use super::*;
use crate::desired::{
    Attributes, DesiredEstate, DesiredGroup, DesiredSharingProfile, DesiredUser, ReadLists,
};
use crate::estate::{GroupType, Ref, SharingProfileKey, UserGroup};
use crate::observed::{ObservedPrincipal, ObservedSharingProfile};
use crate::plan::PasswordChange;

pub(super) fn src(line: u32) -> Source {
    Source {
        file: "e.yaml".into(),
        line,
        column: 3,
    }
}

pub(super) fn r(name: &str) -> Ref<String> {
    Ref {
        target: name.to_owned(),
        source: src(9),
    }
}

pub(super) fn dgroup(p: &str) -> DesiredGroup {
    DesiredGroup {
        path: path(p),
        group_type: None,
        attributes: Attributes::new(),
        read: ReadLists::default(),
        source: src(2),
    }
}

pub(super) fn profile_key(group: &str, conn: &str, name: &str) -> SharingProfileKey {
    SharingProfileKey {
        connection: key(group, conn),
        name: name.to_owned(),
    }
}

pub(super) fn dprofile(
    k: &SharingProfileKey,
    params: Option<&[(&str, &str)]>,
) -> DesiredSharingProfile {
    DesiredSharingProfile {
        key: k.clone(),
        connection_source: src(4),
        parameters: params.map(|p| {
            p.iter()
                .map(|(k, v)| ((*k).to_owned(), Value::plain(*v)))
                .collect()
        }),
        read: ReadLists::default(),
        source: src(3),
    }
}

pub(super) fn dugroup(name: &str) -> UserGroup {
    UserGroup {
        name: name.to_owned(),
        disabled: None,
        member_users: None,
        member_groups: None,
        system: None,
        permissions: crate::estate::Permissions::default(),
        source: src(5),
    }
}

pub(super) fn duser(name: &str) -> DesiredUser {
    DesiredUser {
        username: name.to_owned(),
        password: None,
        disabled: None,
        attributes: Attributes::new(),
        system: None,
        permissions: crate::estate::Permissions::default(),
        source: src(6),
    }
}

pub(super) fn attrs(pairs: &[(&str, Option<&str>)]) -> Attributes {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.map(Value::plain)))
        .collect()
}

pub(super) fn with(estate: DesiredEstate) -> Desired {
    Desired {
        estate,
        ..Desired::default()
    }
}

pub(super) fn of(plan: &Plan, kind: Kind) -> Vec<&Change> {
    plan.of_kind(kind).collect()
}

pub(super) fn principal(attributes: &[(&str, &str)], disabled: bool) -> ObservedPrincipal {
    ObservedPrincipal {
        disabled,
        attributes: attributes
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
    }
}

#[test]
fn a_declared_group_is_created_with_its_type_after_its_missing_parents() {
    let mut g = dgroup("ROOT/New/Pool");
    g.group_type = Some(GroupType::Balancing);
    g.attributes = attrs(&[("max-connections", Some("10"))]);
    let d = with(DesiredEstate {
        groups: vec![g],
        ..DesiredEstate::default()
    });
    let plan = ok(&d, &server(), &Options::default());
    let adds = of(&plan, Kind::ConnectionGroup);
    assert_eq!(
        adds.iter().map(|c| c.object.path()).collect::<Vec<_>>(),
        ["ROOT/New", "ROOT/New/Pool"]
    );
    assert_eq!(sent(adds[0])["type"], "ORGANIZATIONAL");
    assert_eq!(
        sent(adds[1]),
        serde_json::json!({"parentIdentifier": "new", "name": "Pool", "type": "BALANCING",
            "attributes": {"max-connections": "10"}})
    );
    assert_eq!(adds[1].detail.as_deref(), Some("BALANCING"));
    // One depth per batch: the child's body needs its parent's identifier.
    assert_eq!(plan.batches.len(), 2);
    // Declared groups are created whatever create_groups says; their missing
    // parents are not.
    let no_create = Options {
        create_groups: false,
        ..Options::default()
    };
    let e = errors(&d, &server(), &no_create);
    assert!(
        e[0].contains("ROOT/New, a parent of declared group ROOT/New/Pool"),
        "{e:?}"
    );
}

#[test]
fn a_declared_group_changes_only_what_is_declared_and_carries_the_rest() {
    let mut o = server();
    o.group_attributes.insert(
        "2".into(),
        [
            ("max-connections".to_owned(), "5".to_owned()),
            ("max-connections-per-user".to_owned(), "1".to_owned()),
        ]
        .into(),
    );
    // Declared as it is: nothing to do.
    let mut g = dgroup("ROOT/Prod/Web");
    g.attributes = attrs(&[("max-connections", Some("5"))]);
    let same = with(DesiredEstate {
        groups: vec![g.clone()],
        ..DesiredEstate::default()
    });
    assert!(ok(&same, &o, &Options::default()).is_empty());
    // The type and one attribute change; the undeclared one is sent as it is.
    g.group_type = Some(GroupType::Balancing);
    g.attributes = attrs(&[
        ("max-connections", Some("10")),
        ("enable-session-affinity", Some("true")),
    ]);
    let d = with(DesiredEstate {
        groups: vec![g.clone()],
        ..DesiredEstate::default()
    });
    let plan = ok(&d, &o, &Options::default());
    let c = of(&plan, Kind::ConnectionGroup)[0];
    assert_eq!(
        (c.action, c.identifier.as_deref()),
        (Action::Change, Some("2"))
    );
    assert_eq!(
        c.fields,
        [FieldChange::Changed {
            name: "type".into(),
            before: Value::plain("ORGANIZATIONAL"),
            after: Value::plain("BALANCING")
        }]
    );
    assert_eq!(
        c.attributes
            .iter()
            .map(FieldChange::name)
            .collect::<Vec<_>>(),
        ["enable-session-affinity", "max-connections"]
    );
    assert_eq!(
        sent(c),
        serde_json::json!({"parentIdentifier": "1", "name": "Web", "type": "BALANCING",
            "attributes": {"enable-session-affinity": "true", "max-connections": "10",
                "max-connections-per-user": "1"}})
    );
    // A declared null clears.
    g.group_type = None;
    g.attributes = attrs(&[("max-connections-per-user", None)]);
    let plan = ok(
        &with(DesiredEstate {
            groups: vec![g],
            ..DesiredEstate::default()
        }),
        &o,
        &Options::default(),
    );
    let c = of(&plan, Kind::ConnectionGroup)[0];
    assert!(
        matches!(&c.attributes[..], [FieldChange::Removed { name, .. }] if name == "max-connections-per-user")
    );
    assert_eq!(
        sent(c)["attributes"]["max-connections-per-user"],
        serde_json::Value::Null
    );
    assert_eq!(sent(c)["attributes"]["max-connections"], "5");
    assert_eq!(sent(c)["type"], "ORGANIZATIONAL");
}

#[test]
fn a_group_moved_and_declared_is_one_replace() {
    let mut g = dgroup("ROOT/Prod/Front");
    g.group_type = Some(GroupType::Balancing);
    let d = with(DesiredEstate {
        groups: vec![g],
        ..DesiredEstate::default()
    });
    let opts = Options {
        moved: vec![crate::diff::Moved {
            from: path("ROOT/Prod/Web"),
            to: path("ROOT/Prod/Front"),
            file: "guacsync.toml".into(),
            line: 1,
            label: "[[moved]] #1".into(),
        }],
        ..Options::default()
    };
    let plan = ok(&d, &server(), &opts);
    let groups = of(&plan, Kind::ConnectionGroup);
    assert_eq!(groups.len(), 1, "{groups:?}");
    assert_eq!(
        groups[0].moved_from,
        Some(ObjectKey::group(path("ROOT/Prod/Web")))
    );
    assert_eq!(sent(groups[0])["type"], "BALANCING");
    assert_eq!(sent(groups[0])["name"], "Front");
}

#[test]
fn sharing_profiles_are_created_on_existing_or_new_connections_and_kept_exact() {
    let mut o = server();
    o.connections.insert(
        key("ROOT/Prod/Web", "web-1"),
        have("7", &[("hostname", "h")]),
    );
    let on_old = profile_key("ROOT/Prod/Web", "web-1", "watch");
    let on_new = profile_key("ROOT/Prod/Web", "web-9", "watch");
    let mut d = with(DesiredEstate {
        sharing_profiles: vec![
            dprofile(&on_old, Some(&[("read-only", "true")])),
            dprofile(&on_new, None),
        ],
        ..DesiredEstate::default()
    });
    d.connections = vec![
        want("ROOT/Prod/Web", "web-1", &[("hostname", "h")]),
        want("ROOT/Prod/Web", "web-9", &[("hostname", "n")]),
    ];
    let plan = ok(&d, &o, &Options::default());
    let profiles = of(&plan, Kind::SharingProfile);
    assert_eq!(profiles.len(), 2);
    assert_eq!(
        sent(profiles[0]),
        serde_json::json!({"primaryConnectionIdentifier": "7", "name": "watch",
            "parameters": {"read-only": "true"}, "attributes": {}})
    );
    // The new connection's identifier is learnt when its batch is applied.
    assert_eq!(
        profiles[1]
            .body
            .as_ref()
            .and_then(|b| b.get("primaryConnectionIdentifier")),
        Some(&Body::Ref(ObjectKey::connection(key(
            "ROOT/Prod/Web",
            "web-9"
        ))))
    );
    // Sharing profiles come after the connections, in their own batch.
    let kinds: Vec<Kind> = plan.batches.iter().map(|b| b.kind).collect();
    assert_eq!(kinds, [Kind::Connection, Kind::SharingProfile]);

    // Existing: parameters exact when written, left alone when not.
    o.sharing_profiles.insert(
        on_old.clone(),
        ObservedSharingProfile {
            identifier: "3".into(),
            parameters: Some([("read-only".to_owned(), "true".to_owned())].into()),
        },
    );
    d.connections.truncate(1);
    d.estate.sharing_profiles = vec![dprofile(&on_old, None)];
    assert!(ok(&d, &o, &Options::default()).is_empty());
    d.estate.sharing_profiles = vec![dprofile(&on_old, Some(&[]))];
    let plan = ok(&d, &o, &Options::default());
    let c = of(&plan, Kind::SharingProfile)[0];
    assert_eq!(
        (c.action, c.identifier.as_deref()),
        (Action::Change, Some("3"))
    );
    assert!(
        matches!(&c.parameters[..], [FieldChange::Removed { name, .. }] if name == "read-only")
    );
    assert_eq!(sent(c)["parameters"], serde_json::json!({}));
}

#[test]
fn sharing_profile_parameters_follow_the_servers_schema() {
    let mut o = server();
    o.connections.insert(
        key("ROOT/Prod/Web", "web-1"),
        have("7", &[("hostname", "h")]),
    );
    let k = profile_key("ROOT/Prod/Web", "web-1", "watch");
    let d = with(DesiredEstate {
        sharing_profiles: vec![dprofile(&k, Some(&[("read-onyl", "true")]))],
        ..DesiredEstate::default()
    });
    let e = errors(&d, &o, &Options::default());
    assert!(
        e[0].contains("\"read-onyl\" is not a sharing profile parameter of protocol ssh"),
        "{e:?}"
    );
    assert!(e[0].contains("did you mean `read-only`?"), "{e:?}");
    let plan = ok(
        &d,
        &o,
        &Options {
            allow_unknown_parameters: true,
            ..Options::default()
        },
    );
    assert_eq!(plan.warnings[0].code, "unknown-name");
    assert_eq!(
        sent(of(&plan, Kind::SharingProfile)[0])["parameters"]["read-onyl"],
        "true"
    );
}

#[test]
fn principals_are_created_disabled_the_way_each_version_can() {
    let mut g = dugroup("auditors");
    g.disabled = Some(true);
    let mut u = duser("carol");
    u.disabled = Some(true);
    u.password = Some(Value::resolved("Carol-Pw-9", "${env:CAROL_PW}"));
    u.attributes = attrs(&[("guac-full-name", Some("Carol")), ("timezone", None)]);
    let d = with(DesiredEstate {
        user_groups: vec![g],
        users: vec![u],
        ..DesiredEstate::default()
    });
    // Guacamole 1.6 ignores `disabled` on create: a replace follows in the batch.
    let plan = ok(&d, &server(), &Options::default());
    let groups = of(&plan, Kind::UserGroup);
    assert_eq!(
        groups.iter().map(|c| c.action).collect::<Vec<_>>(),
        [Action::Add, Action::Change]
    );
    assert_eq!(
        sent(groups[0]),
        serde_json::json!({"identifier": "auditors", "disabled": true, "attributes": {}})
    );
    assert_eq!(groups[1].identifier.as_deref(), Some("auditors"));
    let users = of(&plan, Kind::User);
    assert_eq!(users[0].password, Some(PasswordChange::SetOnCreate));
    assert_eq!(
        sent(users[0]),
        serde_json::json!({"username": "carol", "password": "Carol-Pw-9", "disabled": true,
            "attributes": {"guac-full-name": "Carol", "timezone": null}})
    );
    // The follow-up does not send the password again.
    assert_eq!(
        sent(users[1]),
        serde_json::json!({"username": "carol", "disabled": true,
            "attributes": {"guac-full-name": "Carol", "timezone": null}})
    );
    assert_eq!(users[1].password, None);
    // One batch per kind: the follow-up sees its add (same transaction).
    assert_eq!(plan.batches.len(), 2);
    // The password never reaches the plan document.
    assert!(!plan.to_json().contains("Carol-Pw-9"));
    assert!(plan.to_json().contains("\"password\": \"set_on_create\""));

    // 1.5.x: `disabled` is the attribute, honoured on create; no follow-up.
    let mut legacy = server();
    legacy.object_by_object = true;
    let plan = ok(&d, &legacy, &Options::default());
    let groups = of(&plan, Kind::UserGroup);
    assert_eq!(groups.len(), 1);
    assert_eq!(
        sent(groups[0]),
        serde_json::json!({"identifier": "auditors", "attributes": {"disabled": "true"}})
    );
    let users = of(&plan, Kind::User);
    assert_eq!(users.len(), 1);
    assert_eq!(
        sent(users[0])["attributes"],
        serde_json::json!({"guac-full-name": "Carol", "timezone": null, "disabled": "true"})
    );
    assert!(sent(users[0]).get("disabled").is_none());
}

#[test]
fn a_declared_user_changes_only_what_is_declared() {
    let mut o = server();
    o.users.insert(
        "alice".into(),
        principal(
            &[
                ("guac-full-name", "Alice"),
                ("guac-totp-key-secret", "TOTPKEY123"),
            ],
            true,
        ),
    );
    // Nothing declared but the name: nothing to do (disabled and attributes kept).
    let d = with(DesiredEstate {
        users: vec![duser("alice")],
        ..DesiredEstate::default()
    });
    assert!(ok(&d, &o, &Options::default()).is_empty());
    // One attribute set: the replace carries the others and `disabled` as they are.
    let mut u = duser("alice");
    u.attributes = attrs(&[("guac-email-address", Some("alice@example.com"))]);
    u.password = Some(Value::secret("Alice-Pw-1"));
    let d = with(DesiredEstate {
        users: vec![u.clone()],
        ..DesiredEstate::default()
    });
    let plan = ok(&d, &o, &Options::default());
    let c = of(&plan, Kind::User)[0];
    assert_eq!(c.password, None, "a password is sent on create only");
    assert_eq!(
        sent(c),
        serde_json::json!({"username": "alice", "disabled": true, "attributes": {
            "guac-email-address": "alice@example.com", "guac-full-name": "Alice",
            "guac-totp-key-secret": "TOTPKEY123"}})
    );
    assert_eq!(c.attributes.len(), 1);
    assert!(!plan.to_json().contains("TOTPKEY123"));
    // Declared `disabled: false` enables.
    u.attributes.clear();
    u.disabled = Some(false);
    let plan = ok(
        &with(DesiredEstate {
            users: vec![u],
            ..DesiredEstate::default()
        }),
        &o,
        &Options::default(),
    );
    let c = of(&plan, Kind::User)[0];
    assert_eq!(c.fields[0].name(), "disabled");
    assert_eq!(sent(c)["disabled"], false);
}

#[test]
fn password_resets_send_declared_passwords_again() {
    let mut with_pw = duser("alice");
    with_pw.password = Some(Value::resolved("Alice-Pw-2", "${env:ALICE_PW}"));
    let d = with(DesiredEstate {
        users: vec![with_pw, duser("bob")],
        ..DesiredEstate::default()
    });
    let all = Options {
        reset_passwords: PasswordResets::All,
        ..Options::default()
    };
    let plan = ok(&d, &server(), &all);
    let users = of(&plan, Kind::User);
    assert_eq!(users.len(), 1, "bob has no declared password");
    assert_eq!(users[0].password, Some(PasswordChange::Reset));
    assert_eq!(sent(users[0])["password"], "Alice-Pw-2");
    assert_eq!(
        plan.summary.of(Kind::User).change,
        1,
        "a reset counts as a change"
    );
    let named = |n: &[&str]| Options {
        reset_passwords: PasswordResets::Named(n.iter().map(|s| (*s).to_owned()).collect()),
        ..Options::default()
    };
    assert_eq!(ok(&d, &server(), &named(&["alice"])).changes.len(), 1);
    let e = errors(&d, &server(), &named(&["bob", "zed", "guacadmin"]));
    assert_eq!(e.len(), 3, "{e:?}");
    assert!(
        e.iter()
            .any(|e| e.contains("user \"bob\" has no declared password (e.yaml:6)")),
        "{e:?}"
    );
    assert!(
        e.iter()
            .any(|e| e.contains("no estate document declares user \"zed\"")),
        "{e:?}"
    );
}

#[test]
fn the_login_account_is_never_changed() {
    let mut me = duser("guacadmin");
    me.disabled = Some(true);
    me.password = Some(Value::secret("New-Admin-Pw"));
    me.system = Some(Vec::new());
    let d = with(DesiredEstate {
        users: vec![me],
        ..DesiredEstate::default()
    });
    let plan = ok(&d, &server(), &Options::default());
    assert!(plan.is_empty(), "{:?}", plan.changes);
    assert_eq!(plan.warnings[0].code, "login-account");
    assert!(
        plan.warnings[0]
            .message
            .contains("its declared password, disabled, system are left alone"),
        "{}",
        plan.warnings[0].message
    );
}

#[test]
fn user_groups_change_disabled_only_when_declared() {
    let mut o = server();
    o.user_groups.insert("ops".into(), principal(&[], true));
    let d = with(DesiredEstate {
        user_groups: vec![dugroup("ops")],
        ..DesiredEstate::default()
    });
    assert!(ok(&d, &o, &Options::default()).is_empty());
    let mut g = dugroup("ops");
    g.disabled = Some(false);
    let d = with(DesiredEstate {
        user_groups: vec![g],
        ..DesiredEstate::default()
    });
    let plan = ok(&d, &o, &Options::default());
    let c = of(&plan, Kind::UserGroup)[0];
    assert_eq!(
        sent(c),
        serde_json::json!({"identifier": "ops", "disabled": false, "attributes": {}})
    );
    // 1.5.x: the attribute, null to enable.
    o.object_by_object = true;
    let plan = ok(&d, &o, &Options::default());
    assert_eq!(
        sent(of(&plan, Kind::UserGroup)[0]),
        serde_json::json!({"identifier": "ops", "attributes": {"disabled": null}})
    );
}

#[test]
fn declared_objects_must_lie_in_scope() {
    let scoped = Options {
        scope: vec![path("ROOT/Prod")],
        ..Options::default()
    };
    let mut u = duser("alice");
    u.permissions.connection_groups = Some(vec![crate::estate::Grant {
        target: Ref {
            target: path("ROOT/Lab"),
            source: src(12),
        },
        levels: vec![crate::estate::Level::Read],
    }]);
    let d = with(DesiredEstate {
        groups: vec![dgroup("ROOT/Lab/Pool")],
        sharing_profiles: vec![dprofile(&profile_key("ROOT/Lab", "x", "w"), None)],
        users: vec![u],
        ..DesiredEstate::default()
    });
    let e = errors(&d, &server(), &scoped);
    assert!(
        e.iter().any(|e| e.starts_with(
            "e.yaml:2: connection group ROOT/Lab/Pool is outside every scope group (ROOT/Prod)"
        )),
        "{e:?}"
    );
    assert!(
        e.iter()
            .any(|e| e.starts_with("e.yaml:3: sharing profile ROOT/Lab/x/w is outside")),
        "{e:?}"
    );
    assert!(
        e.iter().any(|e| e
            .starts_with("e.yaml:12: the permission target connection group ROOT/Lab is outside")),
        "{e:?}"
    );
}

//! The estate rules of DESIGN.md §8, kind by kind: declared connection groups,
//! sharing profiles, user groups and users (adds with their bodies, declared
//! fields made equal and undeclared ones carried), and the scope every declared
//! object must lie in. Users and user groups themselves (1.5.x's `disabled`
//! attribute, passwords set on create and reset, the login account left alone)
//! are in `estate_principals`; memberships, permissions and prune in
//! `estate_access`.

use super::*;
use crate::desired::{
    Attributes, DesiredEstate, DesiredGroup, DesiredSharingProfile, DesiredUser, ReadLists,
};
use crate::estate::{GroupType, Ref, SharingProfileKey, UserGroup};
use crate::observed::{ObservedPrincipal, ObservedSharingProfile};

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

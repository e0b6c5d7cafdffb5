//! The estate rules of DESIGN.md §8 that span principals: memberships (exact,
//! the login account never touched), system and object permissions (exact per
//! kind within scope, merged with the manifests' READ into one change per
//! principal), READ from the lists of groups and sharing profiles, and prune of
//! users, user groups and sharing profiles behind the deletion guard and the
//! confirmation gate.

use super::estate::{dgroup, dprofile, dugroup, duser, of, profile_key, r, src, with};
use super::*;
use crate::desired::DesiredEstate;
use crate::diff::Ownership;
use crate::estate::{Grant as Declaration, Level, Ref, SystemPermission};
use crate::observed::{ObservedMembers, ObservedPrincipal, ObservedSharingProfile};
use crate::plan::MembershipChange;

fn grants(p: &Plan, who: &Principal) -> (Vec<String>, Vec<String>) {
    let text = |g: &Grant| match &g.object {
        Some(o) => format!("{} {o}", g.permission),
        None => format!("system {}", g.permission),
    };
    let c = p
        .permissions
        .iter()
        .filter(|c| c.principal == *who)
        .collect::<Vec<_>>();
    assert!(c.len() <= 1, "one change per principal: {c:?}");
    c.first().map_or((vec![], vec![]), |c| {
        (
            c.grant.iter().map(text).collect(),
            c.revoke.iter().map(text).collect(),
        )
    })
}

fn on<T>(target: T, levels: &[Level]) -> Declaration<T> {
    Declaration {
        target: Ref {
            target,
            source: src(20),
        },
        levels: levels.to_vec(),
    }
}

fn system(perms: &[SystemPermission]) -> Vec<Ref<SystemPermission>> {
    perms
        .iter()
        .map(|p| Ref {
            target: *p,
            source: src(21),
        })
        .collect()
}

fn user(name: &str) -> Principal {
    Principal::User(name.to_owned())
}

#[test]
fn members_are_exact_and_the_login_account_is_never_touched() {
    let mut o = server();
    o.user_groups
        .insert("ops".into(), ObservedPrincipal::default());
    o.memberships.insert(
        "ops".into(),
        ObservedMembers {
            users: ["bob".to_owned(), "guacadmin".to_owned()].into(),
            groups: ["old".to_owned()].into(),
        },
    );
    let mut g = dugroup("ops");
    g.member_users = Some(vec![r("alice"), r("guacadmin")]);
    let d = with(DesiredEstate {
        user_groups: vec![g.clone()],
        ..DesiredEstate::default()
    });
    let plan = ok(&d, &o, &Options::default());
    assert_eq!(
        plan.memberships,
        [MembershipChange {
            group: "ops".into(),
            add_users: vec!["alice".into()],
            remove_users: vec!["bob".into()],
            ..MembershipChange::default()
        }],
        "members.groups is not written: left alone; guacadmin neither added nor removed"
    );
    assert_eq!(plan.warnings[0].code, "login-account");
    assert_eq!(plan.summary.memberships, 2);
    g.member_groups = Some(vec![]);
    g.member_users = Some(vec![r("bob")]);
    let plan = ok(
        &with(DesiredEstate {
            user_groups: vec![g],
            ..DesiredEstate::default()
        }),
        &o,
        &Options::default(),
    );
    assert_eq!(plan.memberships[0].remove_groups, ["old"]);
    assert!(plan.memberships[0].remove_users.is_empty());
    // A new group gets every member declared.
    let mut new = dugroup("oncall");
    new.member_users = Some(vec![r("alice")]);
    let plan = ok(
        &with(DesiredEstate {
            user_groups: vec![new],
            ..DesiredEstate::default()
        }),
        &o,
        &Options::default(),
    );
    assert_eq!(plan.memberships[0].add_users, ["alice"]);
}

#[test]
fn system_permissions_are_exact_and_audit_needs_1_6() {
    let mut o = server();
    o.grants.insert(
        user("alice"),
        ObservedGrants {
            system: ["CREATE_USER".to_owned(), "ADMINISTER".to_owned()].into(),
            ..ObservedGrants::default()
        },
    );
    let mut u = duser("alice");
    u.system = Some(system(&[
        SystemPermission::CreateUser,
        SystemPermission::Audit,
    ]));
    let d = with(DesiredEstate {
        users: vec![u.clone()],
        ..DesiredEstate::default()
    });
    let plan = ok(&d, &o, &Options::default());
    assert_eq!(
        grants(&plan, &user("alice")),
        (
            vec!["system AUDIT".into()],
            vec!["system ADMINISTER".into()]
        )
    );
    u.system = Some(vec![]);
    let plan = ok(
        &with(DesiredEstate {
            users: vec![u],
            ..DesiredEstate::default()
        }),
        &o,
        &Options::default(),
    );
    assert_eq!(
        grants(&plan, &user("alice")).1.len(),
        2,
        "[] revokes every one"
    );
    o.object_by_object = true;
    let e = errors(&d, &o, &Options::default());
    assert!(
        e[0].starts_with("e.yaml:21: the system permission AUDIT does not exist on this server"),
        "{e:?}"
    );
}

#[test]
fn object_permissions_are_exact_per_kind_within_scope_and_merge_with_read() {
    let mut o = server();
    o.groups.insert(
        path("ROOT/Lab"),
        ObservedGroup {
            identifier: "3".into(),
            group_type: "ORGANIZATIONAL".into(),
        },
    );
    for (k, id) in [
        (key("ROOT/Prod/Web", "web-1"), "10"),
        (key("ROOT/Prod/Web", "web-2"), "11"),
        (key("ROOT/Prod", "listed"), "12"),
        (key("ROOT/Lab", "lab"), "13"),
    ] {
        o.connections.insert(k, have(id, &[("hostname", "h")]));
    }
    let levels = |l: &[&str]| l.iter().map(|s| (*s).to_owned()).collect();
    o.grants.insert(
        Principal::UserGroup("ops".into()),
        ObservedGrants {
            objects: [(
                Kind::Connection,
                [
                    ("10".to_owned(), levels(&["READ"])),
                    ("11".to_owned(), levels(&["READ", "DELETE"])),
                    ("12".to_owned(), levels(&["READ"])),
                    ("13".to_owned(), levels(&["READ"])),
                ]
                .into(),
            )]
            .into(),
            connections: ["10", "11", "12", "13"]
                .iter()
                .map(|s| (*s).to_owned())
                .collect(),
            ..ObservedGrants::default()
        },
    );
    let mut g = dugroup("ops");
    g.permissions.connections = Some(vec![on(
        key("ROOT/Prod/Web", "web-1"),
        &[Level::Read, Level::Update],
    )]);
    let mut listed = want("ROOT/Prod", "listed", &[("hostname", "h")]);
    listed.groups = vec!["ops".into()];
    let mut d = with(DesiredEstate {
        user_groups: vec![g],
        ..DesiredEstate::default()
    });
    d.connections = vec![listed];
    let opts = Options {
        scope: vec![path("ROOT/Prod")],
        permissions: PermissionMode::Exact,
        ..Options::default()
    };
    let plan = ok(&d, &o, &opts);
    let (grant, revoke) = grants(&plan, &Principal::UserGroup("ops".into()));
    // (READ on ROOT/Prod comes from the manifest's list, parent_group_read.)
    assert_eq!(
        grant,
        [
            "READ group ROOT/Prod",
            "UPDATE connection ROOT/Prod/Web/web-1"
        ]
    );
    // web-2 is in scope and not declared: every level goes. `listed` keeps the
    // READ its manifest gives; ROOT/Lab/lab is outside the scope: left alone.
    assert_eq!(
        revoke,
        [
            "DELETE connection ROOT/Prod/Web/web-2",
            "READ connection ROOT/Prod/Web/web-2"
        ]
    );
}

#[test]
fn read_lists_of_groups_and_profiles_follow_the_sync_rules() {
    let mut seen = server();
    seen.connections.insert(
        key("ROOT/Prod/Web", "web-1"),
        have("10", &[("hostname", "h")]),
    );
    let watch = profile_key("ROOT/Prod/Web", "web-1", "watch");
    seen.sharing_profiles.insert(
        watch.clone(),
        ObservedSharingProfile {
            identifier: "4".into(),
            parameters: None,
        },
    );
    seen.grants.insert(
        user("bob"),
        ObservedGrants {
            groups: ["2".to_owned()].into(),
            objects: [
                (
                    Kind::ConnectionGroup,
                    [("2".to_owned(), ["READ".to_owned()].into())].into(),
                ),
                (
                    Kind::SharingProfile,
                    [("4".to_owned(), ["READ".to_owned()].into())].into(),
                ),
            ]
            .into(),
            ..ObservedGrants::default()
        },
    );
    seen.grants.insert(user("alice"), ObservedGrants::default());
    let mut group = dgroup("ROOT/Prod/Web");
    group.read.users = Some(vec![r("alice")]);
    let mut profile = dprofile(&watch, None);
    profile.read.users = Some(vec![r("alice")]);
    let d = with(DesiredEstate {
        groups: vec![group],
        sharing_profiles: vec![profile],
        ..DesiredEstate::default()
    });
    // Additive: alice gets READ on the group, its parents, and the profile.
    let plan = ok(&d, &seen, &Options::default());
    assert_eq!(
        grants(&plan, &user("alice")).0,
        [
            "READ group ROOT/Prod",
            "READ group ROOT/Prod/Web",
            "READ sharing profile \"watch\" of ROOT/Prod/Web/web-1"
        ]
    );
    assert_eq!(grants(&plan, &user("bob")), (vec![], vec![]));
    // Exact (no scope needed for what is declared): bob is not listed.
    let exact = Options {
        permissions: PermissionMode::Exact,
        ..Options::default()
    };
    let plan = ok(&d, &seen, &exact);
    assert_eq!(
        grants(&plan, &user("bob")).1,
        [
            "READ group ROOT/Prod/Web",
            "READ sharing profile \"watch\" of ROOT/Prod/Web/web-1"
        ]
    );
    // Without parent_group_read only the group itself.
    let plan = ok(
        &d,
        &seen,
        &Options {
            parent_group_read: false,
            ..Options::default()
        },
    );
    assert_eq!(grants(&plan, &user("alice")).0.len(), 2);
}

#[test]
fn a_users_read_on_itself_is_kept_unless_written() {
    let mut o = server();
    o.grants.insert(
        user("alice"),
        ObservedGrants {
            objects: [(
                Kind::User,
                [
                    ("alice".to_owned(), ["READ".to_owned()].into()),
                    ("bob".to_owned(), ["READ".to_owned()].into()),
                ]
                .into(),
            )]
            .into(),
            ..ObservedGrants::default()
        },
    );
    let mut u = duser("alice");
    u.permissions.users = Some(vec![on("carol".to_owned(), &[Level::Read])]);
    let plan = ok(
        &with(DesiredEstate {
            users: vec![u],
            ..DesiredEstate::default()
        }),
        &o,
        &Options::default(),
    );
    assert_eq!(
        grants(&plan, &user("alice")),
        (
            vec!["READ user \"carol\"".into()],
            vec!["READ user \"bob\"".into()]
        )
    );
}

#[test]
fn prune_removes_undeclared_principals_only_when_they_are_owned() {
    let mut o = server();
    o.users.insert("old".into(), ObservedPrincipal::default());
    let d = with(DesiredEstate {
        users: vec![duser("alice"), duser("bob")],
        user_groups: vec![dugroup("ops")],
        ..DesiredEstate::default()
    });
    let prune = Options {
        prune: true,
        scope: vec![path("ROOT/Prod")],
        ..Options::default()
    };
    assert!(
        ok(&d, &o, &prune).is_empty(),
        "principals = \"none\" never removes"
    );
    let all = Options {
        principals: Ownership::All,
        ..prune.clone()
    };
    let plan = ok(&d, &o, &all);
    assert_eq!(paths(&plan, Kind::User, Action::Remove), ["old"]);
    assert!(
        paths(&plan, Kind::User, Action::Remove)
            .iter()
            .all(|u| u != "guacadmin")
    );
    // Without a connection scope, principals = "all" is a scope of its own.
    let alone = Options {
        scope: vec![],
        ..all.clone()
    };
    assert_eq!(
        paths(&ok(&d, &o, &alone), Kind::User, Action::Remove),
        ["old"]
    );
    // Every removal counts toward max_deletions.
    let strict = Options {
        max_deletions: 0,
        ..all.clone()
    };
    let e = errors(&d, &o, &strict);
    assert!(
        e[0].contains(
            "the plan removes 1 objects (0 connections, 1 users), more than max_deletions (0)"
        ),
        "{e:?}"
    );
    // watch: held until a second round confirms it.
    let gated = Options {
        confirmed_removals: Some(BTreeSet::new()),
        ..all.clone()
    };
    let plan = ok(&d, &o, &gated);
    assert!(plan.changes.is_empty());
    assert_eq!(plan.held_removals, [ObjectKey::User { name: "old".into() }]);
    // A principal a manifest names must be declared when principals are owned.
    let mut listed = want("ROOT/Prod", "web", &[("hostname", "h")]);
    listed.users = vec!["old".into()];
    let mut named = d.clone();
    named.connections = vec![listed];
    let e = errors(&named, &o, &all);
    assert!(
        e.iter().any(|e| e.contains(
            "connection ROOT/Prod/web gives READ to user \"old\", which no estate document declares"
        )),
        "{e:?}"
    );
}

#[test]
fn prune_removes_undeclared_sharing_profiles_of_in_scope_connections() {
    let mut o = server();
    o.connections.insert(
        key("ROOT/Prod/Web", "web-1"),
        have("10", &[("hostname", "h")]),
    );
    o.connections.insert(
        key("ROOT/Prod/Web", "gone"),
        have("11", &[("hostname", "h")]),
    );
    for (conn, id) in [("web-1", "4"), ("gone", "5")] {
        o.sharing_profiles.insert(
            profile_key("ROOT/Prod/Web", conn, "watch"),
            ObservedSharingProfile {
                identifier: id.into(),
                parameters: Some([("read-only".to_owned(), "true".to_owned())].into()),
            },
        );
    }
    let d = desired(vec![want("ROOT/Prod/Web", "web-1", &[("hostname", "h")])]);
    let prune = Options {
        prune: true,
        scope: vec![path("ROOT/Prod")],
        ..Options::default()
    };
    let plan = ok(&d, &o, &prune);
    assert!(
        of(&plan, Kind::SharingProfile).is_empty(),
        "sharing_profiles = \"none\""
    );
    let all = Options {
        sharing_profiles: Ownership::All,
        ..prune
    };
    let plan = ok(&d, &o, &all);
    // The profile of the removed connection goes with it (no request of its own).
    let removed = of(&plan, Kind::SharingProfile);
    assert_eq!(removed.len(), 1);
    assert_eq!(removed[0].identifier.as_deref(), Some("4"));
    assert!(matches!(
        &removed[0].parameters[..],
        [FieldChange::Removed { .. }]
    ));
    // Declaring a profile on a connection prune removes is an error.
    let mut declared = d.clone();
    declared.estate.sharing_profiles = vec![dprofile(
        &profile_key("ROOT/Prod/Web", "gone", "watch"),
        None,
    )];
    let e = errors(&declared, &o, &all);
    assert!(
        e[0].contains("belongs to connection ROOT/Prod/Web/gone, which this plan removes"),
        "{e:?}"
    );
}

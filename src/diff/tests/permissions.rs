//! Unit tests of READ from a connection's `users` and `groups` (DESIGN.md §4
//! "Permissions"): granted on the connection and its ancestors, each addressed by
//! the identifier apply sends, and in exact mode revoked from whoever is not
//! listed (the login account excepted).

use super::*;

#[test]
fn permissions_grant_connection_and_ancestors_once() {
    let mut o = server();
    o.connections
        .insert(key("ROOT/Prod/Web", "w"), have("5", &[]));
    o.grants.insert(
        Principal::User("alice".into()),
        ObservedGrants {
            connections: ["5".to_owned()].into(),
            groups: ["1".to_owned()].into(),
            ..ObservedGrants::default()
        },
    );
    o.grants.insert(
        Principal::UserGroup("ops".into()),
        ObservedGrants::default(),
    );
    let mut w = want("ROOT/Prod/Web", "w", &[]);
    w.users = vec!["alice".into()];
    w.groups = vec!["ops".into()];
    let mut n = want("ROOT/Prod/Web/New", "n", &[]);
    n.users = vec!["alice".into()];
    let plan = ok(&desired(vec![w.clone(), n]), &o, &Options::default());
    // Each grant is READ, with the server identifier of an object that exists
    // (one created in the same run gets its identifier from that creation).
    let show = |p: &PermissionChange| -> Vec<String> {
        p.grant
            .iter()
            .map(|g| {
                assert_eq!(g.permission, "READ");
                let id = g.identifier.as_deref().unwrap_or("new");
                match &g.object {
                    Some(ObjectKey::Connection { key }) => format!("c {key} #{id}"),
                    Some(ObjectKey::ConnectionGroup { path }) => format!("g {path} #{id}"),
                    other => panic!("{other:?}"),
                }
            })
            .collect()
    };
    assert_eq!(plan.permissions.len(), 2);
    assert_eq!(
        show(&plan.permissions[0]),
        [
            "g ROOT/Prod/Web #2",
            "g ROOT/Prod/Web/New #new",
            "c ROOT/Prod/Web/New/n #new"
        ]
    );
    assert_eq!(
        show(&plan.permissions[1]),
        [
            "g ROOT/Prod #1",
            "g ROOT/Prod/Web #2",
            "c ROOT/Prod/Web/w #5"
        ]
    );
    let no_parents = ok(
        &desired(vec![w]),
        &o,
        &Options {
            parent_group_read: false,
            ..Options::default()
        },
    );
    assert_eq!(no_parents.permissions.len(), 1);
    assert_eq!(show(&no_parents.permissions[0]), ["c ROOT/Prod/Web/w #5"]);
}

#[test]
fn exact_mode_revokes_unlisted_read_but_not_from_the_session_user() {
    let mut o = server();
    o.connections.insert(key("ROOT", "w"), have("5", &[]));
    o.connections
        .insert(key("ROOT", "unmanaged"), have("6", &[]));
    for p in [
        Principal::User("bob".into()),
        Principal::User("guacadmin".into()),
        Principal::UserGroup("ops".into()),
    ] {
        o.grants.insert(
            p,
            ObservedGrants {
                connections: ["5".to_owned(), "6".to_owned()].into(),
                groups: BTreeSet::new(),
                ..ObservedGrants::default()
            },
        );
    }
    let mut w = want("ROOT", "w", &[]);
    w.groups = vec!["ops".into()];
    let d = desired(vec![w]);
    assert!(
        ok(&d, &o, &Options::default()).permissions.is_empty(),
        "additive never revokes"
    );
    let plan = ok(
        &d,
        &o,
        &Options {
            permissions: PermissionMode::Exact,
            ..Options::default()
        },
    );
    assert_eq!(plan.permissions.len(), 1);
    assert_eq!(plan.permissions[0].principal, Principal::User("bob".into()));
    assert!(plan.permissions[0].grant.is_empty());
    assert_eq!(
        plan.permissions[0].revoke,
        [Grant::read(
            ObjectKey::connection(key("ROOT", "w")),
            Some("5")
        )]
    );
}

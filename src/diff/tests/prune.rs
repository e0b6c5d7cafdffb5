//! Unit tests of "Scope and prune" (DESIGN.md §4): removals only inside a scope
//! and only with prune, the deletion guards, open sessions on what is removed, and
//! removals held until a second `watch` round confirms them.

use super::*;

#[test]
fn emptying_one_scope_group_is_refused() {
    let mut o = server();
    o.connections.insert(key("ROOT/Prod", "p"), have("1", &[]));
    o.connections.insert(key("ROOT/Lab", "l"), have("2", &[]));
    let d = desired(vec![want("ROOT/Prod", "p", &[])]);
    let opts = Options {
        scope: vec![path("ROOT/Prod"), path("ROOT/Lab")],
        prune: true,
        ..Options::default()
    };
    let e = errors(&d, &o, &opts);
    assert!(e[0].contains("scope group ROOT/Lab"), "{e:?}");
    assert_eq!(
        ok(
            &d,
            &o,
            &Options {
                allow_deletions: Some(1),
                ..opts
            }
        )
        .summary
        .remove,
        1
    );
}

#[test]
fn scope_prune_and_guards() {
    let mut o = server();
    for (i, name) in ["a", "b", "c"].iter().enumerate() {
        o.connections.insert(
            key("ROOT/Prod", name),
            have(&i.to_string(), &[("hostname", "h")]),
        );
    }
    o.connections.insert(key("ROOT", "outside"), have("9", &[]));
    let d = desired(vec![want("ROOT/Prod", "a", &[("hostname", "h")])]);
    let scoped = Options {
        scope: vec![path("ROOT/Prod")],
        ..Options::default()
    };
    // No prune: extras are reported, nothing removed.
    let plan = ok(&d, &o, &scoped);
    assert!(plan.changes.is_empty(), "{:?}", plan.changes);
    assert!(
        plan.warnings
            .iter()
            .any(|w| w.code == "unmanaged" && w.message.contains("ROOT/Prod/b")),
        "{:?}",
        plan.warnings
    );
    // Prune: only in scope.
    let pruning = Options {
        prune: true,
        ..scoped.clone()
    };
    let plan = ok(&d, &o, &pruning);
    assert_eq!(plan.changes.len(), 2, "{:?}", plan.changes);
    assert_eq!(
        paths(&plan, Kind::Connection, Action::Remove),
        ["ROOT/Prod/b", "ROOT/Prod/c"]
    );
    assert_eq!(
        plan.changes
            .iter()
            .map(|c| c.op(&|_| None).expect("no reference"))
            .collect::<Vec<_>>(),
        [
            serde_json::json!({"op": "remove", "path": "/1"}),
            serde_json::json!({"op": "remove", "path": "/2"}),
        ]
    );
    // Without a scope nothing is ever removed, and prune says so.
    let e = errors(
        &d,
        &o,
        &Options {
            prune: true,
            ..Options::default()
        },
    );
    assert!(e[0].contains("prune needs a scope"), "{e:?}");
    // An entry outside every scope group is an error.
    let e = errors(&desired(vec![want("ROOT", "x", &[])]), &o, &scoped);
    assert!(e[0].contains("outside every scope group"), "{e:?}");
    // max_deletions.
    let e = errors(
        &d,
        &o,
        &Options {
            max_deletions: 1,
            ..pruning.clone()
        },
    );
    assert!(
        e[0].contains("removes 2 connections, more than max_deletions (1)"),
        "{e:?}"
    );
    assert_eq!(
        ok(
            &d,
            &o,
            &Options {
                max_deletions: 1,
                allow_deletions: Some(2),
                ..pruning.clone()
            }
        )
        .summary
        .remove,
        2
    );
    // Emptying the scope.
    let e = errors(&desired(vec![]), &o, &pruning);
    assert!(
        e[0].contains("removes every connection in scope group ROOT/Prod (3 removals in all)"),
        "{e:?}"
    );
    assert_eq!(
        ok(
            &desired(vec![]),
            &o,
            &Options {
                allow_deletions: Some(3),
                ..pruning
            }
        )
        .summary
        .remove,
        3
    );
}

#[test]
fn active_sessions_warned_and_closed_on_removal_when_asked() {
    let mut o = server();
    let mut c = have("5", &[("hostname", "old")]);
    c.active_connections = 2;
    o.connections.insert(key("ROOT/Prod", "busy"), c.clone());
    let mut gone = have("6", &[]);
    gone.active_connections = 1;
    o.connections.insert(key("ROOT/Prod", "gone"), gone);
    o.active_sessions = vec![ActiveSession {
        identifier: "u-1".into(),
        connection_identifier: "6".into(),
        username: Some("alice".into()),
    }];
    let d = desired(vec![want("ROOT/Prod", "busy", &[("hostname", "new")])]);
    let opts = Options {
        scope: vec![path("ROOT/Prod")],
        prune: true,
        ..Options::default()
    };
    let plan = ok(&d, &o, &opts);
    assert_eq!(
        plan.warnings
            .iter()
            .filter(|w| w.code == "active-sessions")
            .count(),
        2
    );
    assert!(plan.sessions.is_empty());
    let plan = ok(
        &d,
        &o,
        &Options {
            terminate_sessions: true,
            ..opts
        },
    );
    assert_eq!(plan.sessions.len(), 1);
    assert_eq!(plan.sessions[0].identifier, "u-1");
}

#[test]
fn unconfirmed_removals_are_held_and_the_rest_still_planned() {
    let mut o = server();
    for (i, name) in ["a", "b", "c"].iter().enumerate() {
        o.connections.insert(
            key("ROOT/Prod", name),
            have(&i.to_string(), &[("hostname", "h")]),
        );
    }
    // A changed `a`, and `b` and `c` no longer declared.
    let d = desired(vec![want("ROOT/Prod", "a", &[("hostname", "h2")])]);
    let gated = |confirmed: &[&str]| Options {
        scope: vec![path("ROOT/Prod")],
        prune: true,
        confirmed_removals: Some(
            confirmed
                .iter()
                .map(|n| ObjectKey::connection(key("ROOT/Prod", n)))
                .collect(),
        ),
        ..Options::default()
    };
    // First round: nothing confirmed yet; the replace is planned, both removals held.
    let first = ok(&d, &o, &gated(&[]));
    assert_eq!(first.summary.change, 1);
    assert_eq!(first.summary.remove, 0);
    assert_eq!(
        first.held_removals,
        [
            ObjectKey::connection(key("ROOT/Prod", "b")),
            ObjectKey::connection(key("ROOT/Prod", "c"))
        ]
    );
    // Second round confirms `b` only (the first planned it): `b` goes, `c` waits.
    let second = ok(&d, &o, &gated(&["b"]));
    assert_eq!(
        paths(&second, Kind::Connection, Action::Remove),
        ["ROOT/Prod/b"]
    );
    assert_eq!(second.summary.change, 1);
    assert_eq!(
        second.held_removals,
        [ObjectKey::connection(key("ROOT/Prod", "c"))]
    );
    // A confirmed key that is no longer a candidate is not removed.
    let declared = desired(vec![
        want("ROOT/Prod", "a", &[("hostname", "h")]),
        want("ROOT/Prod", "b", &[("hostname", "h")]),
        want("ROOT/Prod", "c", &[("hostname", "h")]),
    ]);
    assert!(ok(&declared, &o, &gated(&["b", "c"])).is_empty());
    // The guards count every candidate, held or not: a truncated manifest that
    // would empty the scope is refused in the first round already.
    let e = errors(&desired(vec![]), &o, &gated(&[]));
    assert!(
        e[0].contains("removes every connection in scope group"),
        "{e:?}"
    );
    // Without the gate (plan, sync), nothing is held.
    let plain = ok(
        &d,
        &o,
        &Options {
            confirmed_removals: None,
            ..gated(&[])
        },
    );
    assert_eq!(plain.summary.remove, 2);
    assert!(plain.held_removals.is_empty());
}

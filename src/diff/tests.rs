//! Table-driven tests of the diff rules (DESIGN.md §4), and a property test: the
//! plan applied to a model of the server gives a state with nothing left to do.

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;

mod moves;
mod rules;

use super::*;
use crate::desired::{Desired, DesiredConnection};
use crate::model::{ConnKey, GroupPath, Parent, Principal, Source};
use crate::observed::{ActiveSession, ObservedConnection, ObservedGrants, ObservedGroup};
use crate::plan::ConnectionChange;
use crate::value::Value;

fn path(s: &str) -> GroupPath {
    GroupPath::parse(s).expect("valid path")
}

fn key(group: &str, name: &str) -> ConnKey {
    ConnKey {
        group: path(group),
        name: name.into(),
    }
}

fn want(group: &str, name: &str, params: &[(&str, &str)]) -> DesiredConnection {
    DesiredConnection {
        name: name.into(),
        protocol: "ssh".into(),
        parent: Parent::Group(path(group)),
        parameters: params
            .iter()
            .map(|(k, v)| {
                let value = if *k == "password" {
                    Value::secret(*v)
                } else {
                    Value::plain(*v)
                };
                ((*k).to_owned(), value)
            })
            .collect(),
        attributes: BTreeMap::new(),
        users: vec![],
        groups: vec![],
        source: Source {
            file: "m.yaml".into(),
            line: 1,
            column: 1,
        },
    }
}

fn have(id: &str, params: &[(&str, &str)]) -> ObservedConnection {
    ObservedConnection {
        identifier: id.into(),
        protocol: "ssh".into(),
        parameters: Some(
            params
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        ),
        attributes: BTreeMap::new(),
        active_connections: 0,
    }
}

/// A server with groups ROOT/Prod (1) and ROOT/Prod/Web (2), users alice and bob,
/// user group ops, logged in as guacadmin.
fn server() -> Observed {
    Observed {
        data_source: "postgresql".into(),
        session_user: "guacadmin".into(),
        groups: [
            (
                path("ROOT/Prod"),
                ObservedGroup {
                    identifier: "1".into(),
                    group_type: "ORGANIZATIONAL".into(),
                },
            ),
            (
                path("ROOT/Prod/Web"),
                ObservedGroup {
                    identifier: "2".into(),
                    group_type: "ORGANIZATIONAL".into(),
                },
            ),
        ]
        .into(),
        users: ["alice", "bob", "guacadmin"]
            .iter()
            .map(|s| (*s).to_owned())
            .collect(),
        user_groups: ["ops"].iter().map(|s| (*s).to_owned()).collect(),
        ..Observed::default()
    }
}

fn desired(list: Vec<DesiredConnection>) -> Desired {
    Desired {
        connections: list,
        ..Desired::default()
    }
}

fn run(d: &Desired, o: &Observed, opts: &Options) -> Result<Plan, Vec<DiffError>> {
    diff(d, o, opts, &["m.yaml".to_owned()])
}

fn ok(d: &Desired, o: &Observed, opts: &Options) -> Plan {
    run(d, o, opts).unwrap_or_else(|e| panic!("{e:?}"))
}

fn errors(d: &Desired, o: &Observed, opts: &Options) -> Vec<String> {
    run(d, o, opts)
        .expect_err("errors")
        .iter()
        .map(ToString::to_string)
        .collect()
}

#[test]
fn missing_connection_is_added_existing_identical_is_left_alone() {
    let mut o = server();
    o.connections.insert(
        key("ROOT/Prod/Web", "same"),
        have("7", &[("hostname", "h")]),
    );
    let d = desired(vec![
        want("ROOT/Prod/Web", "same", &[("hostname", "h")]),
        want("ROOT/Prod/Web", "new", &[("hostname", "n")]),
    ]);
    let plan = ok(&d, &o, &Options::default());
    assert_eq!(plan.connections.len(), 1);
    assert!(
        matches!(&plan.connections[0], ConnectionChange::Add { key: k, .. } if k.name == "new")
    );
    assert!(plan.groups.is_empty());
}

#[test]
fn replace_carries_full_parameters_and_every_attribute() {
    let mut o = server();
    let mut c = have(
        "7",
        &[("hostname", "h"), ("port", "22"), ("domain", "CORP")],
    );
    c.attributes.insert("x-arbitrary".into(), "1".into());
    c.attributes.insert("weight".into(), "3".into());
    o.connections.insert(key("ROOT/Prod", "web"), c);
    let mut w = want("ROOT/Prod", "web", &[("hostname", "h"), ("port", "2222")]);
    w.attributes.insert("max-connections".into(), "2".into());
    let plan = ok(&desired(vec![w]), &o, &Options::default());
    let ConnectionChange::Replace {
        identifier,
        parameters,
        attributes,
        value,
        ..
    } = &plan.connections[0]
    else {
        panic!("{:?}", plan.connections[0]);
    };
    assert_eq!(identifier, "7");
    let names: Vec<(&str, &str)> = parameters
        .iter()
        .map(|c| match c {
            FieldChange::Added { name, .. } => ("added", name.as_str()),
            FieldChange::Changed { name, .. } => ("changed", name.as_str()),
            FieldChange::Removed { name, .. } => ("removed", name.as_str()),
        })
        .collect();
    assert_eq!(names, [("removed", "domain"), ("changed", "port")]);
    assert_eq!(
        attributes.len(),
        3,
        "max-connections added, weight and x-arbitrary removed"
    );
    assert_eq!(
        value.parameters.keys().collect::<Vec<_>>(),
        ["hostname", "port"]
    );
    assert_eq!(
        value.attributes.len(),
        8,
        "7 schema attributes + the arbitrary one"
    );
    assert_eq!(value.attributes["max-connections"].as_deref(), Some("2"));
    assert_eq!(value.attributes["x-arbitrary"], None);
    assert_eq!(plan.summary.change, 1);
}

#[test]
fn protocol_change_is_a_replace() {
    let mut o = server();
    o.connections
        .insert(key("ROOT", "c"), have("1", &[("hostname", "h")]));
    let mut w = want("ROOT", "c", &[("hostname", "h")]);
    w.protocol = "telnet".into();
    let plan = ok(&desired(vec![w]), &o, &Options::default());
    assert!(
        matches!(&plan.connections[0], ConnectionChange::Replace { protocol_change: Some((a, b)), .. } if a == "ssh" && b == "telnet")
    );
}

#[test]
fn secrets_compare_exactly_and_render_redacted() {
    let mut o = server();
    o.connections
        .insert(key("ROOT", "c"), have("1", &[("password", "old-secret")]));
    let plan = ok(
        &desired(vec![want("ROOT", "c", &[("password", "new-secret")])]),
        &o,
        &Options::default(),
    );
    let json = plan.to_json();
    let text = crate::plan::render_text(&plan, false);
    let md = crate::plan::render_markdown(&plan);
    for out in [&json, &text, &md, &format!("{plan:?}")] {
        assert!(
            !out.contains("old-secret") && !out.contains("new-secret"),
            "{out}"
        );
    }
    assert!(
        text.contains("~ password = (sensitive) -> (sensitive)"),
        "{text}"
    );
    let same = ok(
        &desired(vec![want("ROOT", "c", &[("password", "old-secret")])]),
        &o,
        &Options::default(),
    );
    assert!(same.is_empty());
}

#[test]
fn a_value_from_a_reference_redacts_the_servers_copy_too() {
    let mut o = server();
    o.connections.insert(
        key("ROOT", "c"),
        have("1", &[("hostname", "old-secret-host")]),
    );
    let mut w = want("ROOT", "c", &[]);
    w.parameters.insert(
        "hostname".into(),
        Value::resolved("new-secret-host", "${env:API_HOST}"),
    );
    let plan = ok(&desired(vec![w]), &o, &Options::default());
    let text = crate::plan::render_text(&plan, false);
    assert!(
        !text.contains("old-secret-host") && !plan.to_json().contains("old-secret-host"),
        "{text}"
    );
    assert!(
        text.contains("~ hostname = (sensitive) -> ${env:API_HOST}"),
        "{text}"
    );
}

#[test]
fn fingerprint_counts_secrets_by_presence_only() {
    let mut o = server();
    o.connections
        .insert(key("ROOT", "c"), have("1", &[("password", "a")]));
    let mut other = o.clone();
    if let Some(c) = other.connections.get_mut(&key("ROOT", "c")) {
        c.parameters = Some([("password".to_owned(), "b".to_owned())].into());
    }
    assert_eq!(fingerprint(&o), fingerprint(&other));
}

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
fn parent_identifier_is_resolved_against_the_tree() {
    let mut o = server();
    o.connections
        .insert(key("ROOT/Prod/Web", "w"), have("3", &[("hostname", "h")]));
    let mut w = want("ROOT", "w", &[("hostname", "h")]);
    w.parent = Parent::Identifier("2".into());
    assert!(ok(&desired(vec![w.clone()]), &o, &Options::default()).is_empty());
    w.parent = Parent::Identifier("99".into());
    let e = errors(&desired(vec![w.clone()]), &o, &Options::default());
    assert!(e[0].contains("parentIdentifier \"99\""), "{e:?}");
    // The same connection named by path and by identifier is a duplicate.
    w.parent = Parent::Identifier("2".into());
    let e = errors(
        &desired(vec![want("ROOT/Prod/Web", "w", &[]), w]),
        &o,
        &Options::default(),
    );
    assert!(
        e[0].contains("declared twice") && e[0].contains("first declared at m.yaml:1"),
        "{e:?}"
    );
}

#[test]
fn missing_groups_are_created_outermost_first_or_refused() {
    let o = server();
    let d = desired(vec![
        want("ROOT/Lab/K8s/Dev", "a", &[]),
        want("ROOT/Prod/Web/Inner", "b", &[]),
    ]);
    let plan = ok(&d, &o, &Options::default());
    let paths: Vec<String> = plan.groups.iter().map(|g| g.path.to_string()).collect();
    assert_eq!(
        paths,
        [
            "ROOT/Lab",
            "ROOT/Lab/K8s",
            "ROOT/Lab/K8s/Dev",
            "ROOT/Prod/Web/Inner"
        ]
    );
    let opts = Options {
        create_groups: false,
        ..Options::default()
    };
    let e = errors(&d, &o, &opts);
    assert_eq!(e.len(), 2);
    assert!(
        e[0].contains("connection group ROOT/Lab does not exist"),
        "{e:?}"
    );
}

#[test]
fn missing_principals_are_errors_unless_created() {
    let o = server();
    let mut w = want("ROOT", "a", &[]);
    w.users = vec!["alice".into(), "zoe".into()];
    w.groups = vec!["ops".into(), "new-team".into()];
    let e = errors(&desired(vec![w.clone()]), &o, &Options::default());
    assert_eq!(e.len(), 2, "{e:?}");
    assert!(
        e[0].contains("user \"zoe\"") && e[1].contains("user group \"new-team\""),
        "{e:?}"
    );
    let plan = ok(
        &desired(vec![w]),
        &o,
        &Options {
            create_principals: true,
            ..Options::default()
        },
    );
    assert_eq!(
        plan.principals,
        [
            Principal::User("zoe".into()),
            Principal::UserGroup("new-team".into())
        ]
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
    assert!(plan.connections.is_empty());
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
    let removed: Vec<String> = plan
        .connections
        .iter()
        .map(|c| c.key().to_string())
        .collect();
    assert_eq!(removed, ["ROOT/Prod/b", "ROOT/Prod/c"]);
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
fn permissions_grant_connection_and_ancestors_once() {
    let mut o = server();
    o.connections
        .insert(key("ROOT/Prod/Web", "w"), have("5", &[]));
    o.grants.insert(
        Principal::User("alice".into()),
        ObservedGrants {
            connections: ["5".to_owned()].into(),
            groups: ["1".to_owned()].into(),
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
    let show = |p: &PermissionChange| -> Vec<String> {
        p.grant
            .iter()
            .map(|t| match t {
                Target::Connection { key } => format!("c {key}"),
                Target::Group { path } => format!("g {path}"),
            })
            .collect()
    };
    assert_eq!(plan.permissions.len(), 2);
    assert_eq!(
        show(&plan.permissions[0]),
        [
            "g ROOT/Prod/Web",
            "g ROOT/Prod/Web/New",
            "c ROOT/Prod/Web/New/n"
        ]
    );
    assert_eq!(
        show(&plan.permissions[1]),
        ["g ROOT/Prod", "g ROOT/Prod/Web", "c ROOT/Prod/Web/w"]
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
    assert_eq!(show(&no_parents.permissions[0]), ["c ROOT/Prod/Web/w"]);
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
    assert_eq!(
        plan.permissions[0].revoke,
        [Target::Connection {
            key: key("ROOT", "w")
        }]
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
fn batches_split_only_above_the_limit_in_order() {
    let mut o = server();
    o.connections
        .insert(key("ROOT", "old"), have("1", &[("hostname", "a")]));
    let mut list: Vec<DesiredConnection> = (0..20)
        .map(|i| {
            want(
                "ROOT",
                &format!("c{i:02}"),
                &[("hostname", &"x".repeat(100))],
            )
        })
        .collect();
    list.push(want("ROOT", "old", &[("hostname", "b")]));
    let d = desired(list);
    let plan = ok(&d, &o, &Options::default());
    assert_eq!(plan.batches.len(), 1);
    let whole = plan.batches[0].bytes;
    let ops: Vec<serde_json::Value> = plan
        .connections
        .iter()
        .map(|c| connection_op(c, "ROOT"))
        .collect();
    assert_eq!(
        whole,
        serde_json::to_string(&ops).expect("json").len(),
        "the size is the exact body"
    );
    let plan = ok(
        &d,
        &o,
        &Options {
            max_request_bytes: 1024,
            ..Options::default()
        },
    );
    assert!(plan.batches.len() > 2, "{:?}", plan.batches);
    assert_eq!(plan.batches.first().map(|b| b.start), Some(0));
    assert_eq!(
        plan.batches.last().map(|b| b.end),
        Some(plan.connections.len())
    );
    for pair in plan.batches.windows(2) {
        assert_eq!(pair[0].end, pair[1].start);
    }
    assert!(plan.batches.iter().all(|b| b.bytes <= 1024));
    let huge = desired(vec![want(
        "ROOT",
        "big",
        &[("hostname", &"x".repeat(5000))],
    )]);
    let e = errors(
        &huge,
        &o,
        &Options {
            max_request_bytes: 1024,
            ..Options::default()
        },
    );
    assert!(e[0].contains("more than max_request_bytes"), "{e:?}");
}

#[test]
fn fingerprint_ignores_sessions_but_not_parameters() {
    let mut o = server();
    o.connections
        .insert(key("ROOT", "c"), have("1", &[("hostname", "h")]));
    let base = fingerprint(&o);
    let mut busy = o.clone();
    busy.active_sessions.push(ActiveSession {
        identifier: "x".into(),
        connection_identifier: "1".into(),
        username: None,
    });
    if let Some(c) = busy.connections.get_mut(&key("ROOT", "c")) {
        c.active_connections = 3;
    }
    assert_eq!(fingerprint(&busy), base);
    let mut changed = o.clone();
    if let Some(c) = changed.connections.get_mut(&key("ROOT", "c")) {
        c.parameters = Some([("hostname".to_owned(), "other".to_owned())].into());
    }
    assert_ne!(fingerprint(&changed), base);
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
        confirmed_removals: Some(confirmed.iter().map(|n| key("ROOT/Prod", n)).collect()),
        ..Options::default()
    };
    // First round: nothing confirmed yet; the replace is planned, both removals held.
    let first = ok(&d, &o, &gated(&[]));
    assert_eq!(first.summary.change, 1);
    assert_eq!(first.summary.remove, 0);
    assert_eq!(
        first.held_removals,
        [key("ROOT/Prod", "b"), key("ROOT/Prod", "c")]
    );
    // Second round confirms `b` only (the first planned it): `b` goes, `c` waits.
    let second = ok(&d, &o, &gated(&["b"]));
    let removed: Vec<String> = second
        .connections
        .iter()
        .filter(|c| matches!(c, ConnectionChange::Remove { .. }))
        .map(|c| c.key().to_string())
        .collect();
    assert_eq!(removed, ["ROOT/Prod/b"]);
    assert_eq!(second.held_removals, [key("ROOT/Prod", "c")]);
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

// ------------------------------------------------------------- property

/// The server as the plan's requests would leave it: a model of apply against
/// Guacamole's semantics (full replace, new identifiers, READ grants).
/// Group moves as the server makes them: everything below a moved group moves
/// with it.
fn simulate_group_moves(plan: &Plan, o: &mut Observed) {
    for m in &plan.group_moves {
        let groups: Vec<GroupPath> = o
            .groups
            .keys()
            .filter(|p| p.starts_with(&m.from))
            .cloned()
            .collect();
        for p in groups {
            let g = o.groups.remove(&p).expect("listed");
            o.groups.insert(p.rebase(&m.from, &m.to).expect("below"), g);
        }
        let conns: Vec<ConnKey> = o
            .connections
            .keys()
            .filter(|k| k.group.starts_with(&m.from))
            .cloned()
            .collect();
        for k in conns {
            let c = o.connections.remove(&k).expect("listed");
            let group = k.group.rebase(&m.from, &m.to).expect("below");
            o.connections.insert(
                ConnKey {
                    group,
                    name: k.name,
                },
                c,
            );
        }
    }
}

/// Permission changes, by the identifiers the targets have after the plan.
fn simulate_permissions(plan: &Plan, o: &mut Observed) {
    for change in &plan.permissions {
        let ids = |t: &Target, o: &Observed| -> (bool, String) {
            match t {
                Target::Connection { key } => (true, o.connections[key].identifier.clone()),
                Target::Group { path } => (false, o.groups[path].identifier.clone()),
            }
        };
        let resolved_grants: Vec<(bool, String)> = change.grant.iter().map(|t| ids(t, o)).collect();
        let resolved_revokes: Vec<(bool, String)> =
            change.revoke.iter().map(|t| ids(t, o)).collect();
        let grants = o.grants.entry(change.principal.clone()).or_default();
        for (conn, id) in resolved_grants {
            if conn {
                grants.connections.insert(id)
            } else {
                grants.groups.insert(id)
            };
        }
        for (conn, id) in resolved_revokes {
            if conn {
                grants.connections.remove(&id)
            } else {
                grants.groups.remove(&id)
            };
        }
    }
}

fn simulate(plan: &Plan, observed: &Observed) -> Observed {
    let mut o = observed.clone();
    let mut next = 1000;
    let mut fresh = || {
        next += 1;
        next.to_string()
    };
    simulate_group_moves(plan, &mut o);
    for g in &plan.groups {
        o.groups.insert(
            g.path.clone(),
            ObservedGroup {
                identifier: fresh(),
                group_type: "ORGANIZATIONAL".into(),
            },
        );
    }
    for c in &plan.connections {
        match c {
            ConnectionChange::Add {
                key,
                protocol,
                parameters,
                attributes,
                ..
            } => {
                o.connections.insert(
                    key.clone(),
                    ObservedConnection {
                        identifier: fresh(),
                        protocol: protocol.clone(),
                        parameters: Some(
                            parameters
                                .iter()
                                .map(|(k, v)| (k.clone(), v.expose().to_owned()))
                                .collect(),
                        ),
                        attributes: attributes.clone(),
                        active_connections: 0,
                    },
                );
            }
            ConnectionChange::Replace {
                key,
                identifier,
                value,
                ..
            } => {
                // The server replaces by identifier: a replace may move or rename.
                let Some(old) = o
                    .connections
                    .iter()
                    .find(|(_, c)| c.identifier == *identifier)
                    .map(|(k, _)| k.clone())
                else {
                    panic!("replace of a missing connection")
                };
                let mut existing = o.connections.remove(&old).expect("found above");
                existing.protocol.clone_from(&value.protocol);
                existing.parameters = Some(
                    value
                        .parameters
                        .iter()
                        .map(|(k, v)| (k.clone(), v.expose().to_owned()))
                        .collect(),
                );
                existing.attributes = value
                    .attributes
                    .iter()
                    .filter_map(|(k, v)| v.clone().map(|v| (k.clone(), v)))
                    .collect();
                o.connections.insert(key.clone(), existing);
            }
            ConnectionChange::Remove { identifier, .. } => {
                o.connections.retain(|_, c| c.identifier != *identifier);
            }
        }
    }
    for g in &plan.group_removals {
        o.groups.remove(&g.path);
        o.connections.retain(|k, _| !k.group.starts_with(&g.path));
    }
    for p in &plan.principals {
        match p {
            Principal::User(u) => o.users.insert(u.clone()),
            Principal::UserGroup(g) => o.user_groups.insert(g.clone()),
        };
    }
    simulate_permissions(plan, &mut o);
    o
}

fn arb_params() -> impl Strategy<Value = Vec<(String, String)>> {
    proptest::collection::vec(
        (
            proptest::sample::select(vec![
                "hostname",
                "port",
                "password",
                "username",
                "font-size",
            ]),
            "[a-c]{1,2}",
        ),
        0..4,
    )
    .prop_map(|v| v.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
}

#[allow(clippy::too_many_lines)] // one generator, easier to read whole
fn arb_case() -> impl Strategy<Value = (Desired, Observed, bool, PermissionMode)> {
    let names = proptest::sample::select(vec!["a", "b", "c", "d"]);
    let groups = proptest::sample::select(vec![
        "ROOT",
        "ROOT/Prod",
        "ROOT/Prod/Web",
        "ROOT/Lab",
        "ROOT/Lab/X",
    ]);
    let principal = proptest::sample::select(vec!["alice", "bob", "ops"]);
    let wanted = proptest::collection::vec(
        (
            groups.clone(),
            names.clone(),
            arb_params(),
            proptest::collection::vec(principal.clone(), 0..3),
            proptest::option::of(0u8..5),
        ),
        0..6,
    );
    let existing = proptest::collection::vec(
        (
            groups,
            names,
            arb_params(),
            proptest::collection::vec(principal, 0..3),
        ),
        0..6,
    );
    (wanted, existing, any::<bool>(), any::<bool>()).prop_map(|(wanted, existing, prune, exact)| {
        let mut o = server();
        o.groups.insert(
            path("ROOT/Lab"),
            ObservedGroup {
                identifier: "3".into(),
                group_type: "ORGANIZATIONAL".into(),
            },
        );
        let mut id = 0;
        for (g, n, params, who) in existing {
            id += 1;
            let k = key(g, n);
            if o.connections.contains_key(&k) {
                continue;
            }
            let pairs: Vec<(&str, &str)> = params
                .iter()
                .map(|(a, b)| (a.as_str(), b.as_str()))
                .collect();
            o.connections.insert(k, have(&id.to_string(), &pairs));
            for p in who {
                let principal = if p == "ops" {
                    Principal::UserGroup(p.into())
                } else {
                    Principal::User(p.into())
                };
                o.grants
                    .entry(principal)
                    .or_default()
                    .connections
                    .insert(id.to_string());
            }
        }
        for p in [
            Principal::User("alice".into()),
            Principal::User("bob".into()),
            Principal::UserGroup("ops".into()),
        ] {
            o.grants.entry(p).or_default();
        }
        let mut seen = BTreeSet::new();
        let mut list = Vec::new();
        for (g, n, params, who, weight) in wanted {
            if !seen.insert((g, n)) {
                continue;
            }
            let pairs: Vec<(&str, &str)> = params
                .iter()
                .map(|(a, b)| (a.as_str(), b.as_str()))
                .collect();
            let mut w = want(g, n, &pairs);
            for p in who {
                if p == "ops" {
                    w.groups.push(p.into());
                } else {
                    w.users.push(p.into());
                }
            }
            w.users.sort();
            w.users.dedup();
            w.groups.sort();
            w.groups.dedup();
            if let Some(x) = weight {
                w.attributes.insert("weight".into(), x.to_string());
            }
            list.push(w);
        }
        (
            desired(list),
            o,
            prune,
            if exact {
                PermissionMode::Exact
            } else {
                PermissionMode::Additive
            },
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// Applying the plan to the observed state gives a state whose diff is empty.
    #[test]
    fn plan_then_diff_again_is_empty((d, o, prune, mode) in arb_case()) {
        let opts = Options { scope: vec![path("ROOT")], prune, allow_deletions: Some(100), permissions: mode, ..Options::default() };
        let plan = ok(&d, &o, &opts);
        let after = simulate(&plan, &o);
        let second = ok(&d, &after, &opts);
        prop_assert!(second.is_empty(), "second plan: {}", crate::plan::render_text(&second, false));
        // Removed in-scope extras are gone only when pruning.
        if !prune {
            prop_assert_eq!(plan.summary.remove, 0);
        }
    }
}

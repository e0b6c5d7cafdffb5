//! Table-driven tests of the diff rules (DESIGN.md §4): here the connection and
//! group rules and the helpers every test module uses; scope and prune in
//! `prune`, READ in `permissions`, moves in `moves`, the issue-12 rules in
//! `rules`, and the property test (the plan applied to a model of the server
//! leaves nothing to do) in `property`.

use std::collections::BTreeSet;

mod estate;
mod estate_access;
mod estate_principals;
mod moves;
mod permissions;
mod property;
mod prune;
mod rules;

use super::*;
use crate::desired::{Desired, DesiredConnection};
use crate::kinds::Kind;
use crate::model::{ConnKey, GroupPath, Parent, Principal, Source};
use crate::observed::{ActiveSession, ObservedConnection, ObservedGrants, ObservedGroup};
use crate::plan::{Action, Body, Counts, FieldChange, Grant, PermissionChange};
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
        attributes: crate::fields::Fields::new(),
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
        attributes: crate::fields::Fields::new(),
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
            .map(|s| {
                (
                    (*s).to_owned(),
                    crate::observed::ObservedPrincipal::default(),
                )
            })
            .collect(),
        user_groups: [(
            "ops".to_owned(),
            crate::observed::ObservedPrincipal::default(),
        )]
        .into(),
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

/// The connection changes of a plan, in apply order.
fn conns(plan: &Plan) -> Vec<&Change> {
    plan.connections().collect()
}

/// The connection a change is about.
fn conn_key(c: &Change) -> &ConnKey {
    match &c.object {
        ObjectKey::Connection { key } => key,
        other => panic!("not a connection: {other}"),
    }
}

/// The paths of a plan's changes of one kind and action, in apply order.
fn paths(plan: &Plan, kind: Kind, action: Action) -> Vec<String> {
    plan.of_kind(kind)
        .filter(|c| c.action == action)
        .map(|c| c.object.path())
        .collect()
}

/// A change's body as sent, references to objects created in the run resolved
/// to `"new"`.
fn sent(c: &Change) -> serde_json::Value {
    c.body
        .as_ref()
        .expect("an add or a replace has a body")
        .to_wire(&|_| Some("new".to_owned()))
        .expect("resolves")
}

/// A value in a change's body (`parameters`, then the name).
fn body_value<'a>(c: &'a Change, map: &str, name: &str) -> &'a Value {
    match c
        .body
        .as_ref()
        .and_then(|b| b.get(map))
        .and_then(|m| m.get(name))
    {
        Some(Body::Text(v)) => v,
        other => panic!("{map}.{name} is {other:?}"),
    }
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
    assert_eq!(plan.changes.len(), 1, "{:?}", plan.changes);
    let c = &plan.changes[0];
    assert_eq!(c.kind(), Kind::Connection);
    assert_eq!(c.action, Action::Add);
    assert_eq!(conn_key(c), &key("ROOT/Prod/Web", "new"));
    assert_eq!(c.identifier, None);
    assert_eq!(plan.summary.of(Kind::ConnectionGroup), Counts::default());
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
    let [c] = &conns(&plan)[..] else {
        panic!("{:?}", plan.changes);
    };
    assert_eq!(c.action, Action::Change);
    assert_eq!(c.identifier.as_deref(), Some("7"));
    let names: Vec<(&str, &str)> = c
        .parameters
        .iter()
        .map(|c| match c {
            FieldChange::Added { name, .. } => ("added", name.as_str()),
            FieldChange::Changed { name, .. } => ("changed", name.as_str()),
            FieldChange::Removed { name, .. } => ("removed", name.as_str()),
        })
        .collect();
    assert_eq!(names, [("removed", "domain"), ("changed", "port")]);
    assert_eq!(
        c.attributes.len(),
        3,
        "max-connections added, weight and x-arbitrary removed"
    );
    // What is sent: the whole connection, in place.
    let op = c.op(&|_| None).expect("no reference");
    assert_eq!((&op["op"], &op["path"]), (&"replace".into(), &"/7".into()));
    let value = &op["value"];
    assert_eq!(value["parentIdentifier"], "1");
    assert_eq!(value["name"], "web");
    assert_eq!(value["protocol"], "ssh");
    assert_eq!(
        value["parameters"],
        serde_json::json!({"hostname": "h", "port": "2222"})
    );
    let attributes = value["attributes"].as_object().expect("a map");
    assert_eq!(
        attributes.len(),
        8,
        "7 schema attributes + the arbitrary one"
    );
    assert_eq!(attributes["max-connections"], "2");
    assert_eq!(attributes["x-arbitrary"], serde_json::Value::Null);
    assert_eq!(attributes["weight"], serde_json::Value::Null);
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
    let [c] = &conns(&plan)[..] else {
        panic!("{:?}", plan.changes);
    };
    assert_eq!(c.action, Action::Change);
    assert_eq!(
        c.fields,
        [FieldChange::Changed {
            name: "protocol".into(),
            before: Value::plain("ssh"),
            after: Value::plain("telnet"),
        }]
    );
    assert_eq!(c.detail.as_deref(), Some("telnet"));
    assert!(c.parameters.is_empty() && c.attributes.is_empty());
    assert_eq!(sent(c)["protocol"], "telnet");
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
    assert_eq!(
        paths(&plan, Kind::ConnectionGroup, Action::Add),
        [
            "ROOT/Lab",
            "ROOT/Lab/K8s",
            "ROOT/Lab/K8s/Dev",
            "ROOT/Prod/Web/Inner"
        ]
    );
    // One PATCH per depth: a new group's parent is created by an earlier one.
    let group_batches: Vec<(usize, usize)> = plan
        .batches
        .iter()
        .filter(|b| b.kind == Kind::ConnectionGroup)
        .map(|b| (b.start, b.end))
        .collect();
    assert_eq!(group_batches, [(0, 1), (1, 2), (2, 4)]);
    assert_eq!(
        plan.changes[1].op(&|_| None),
        Err(ObjectKey::group(path("ROOT/Lab"))),
        "ROOT/Lab/K8s refers to ROOT/Lab, created in the run"
    );
    assert_eq!(sent(&plan.changes[3])["parentIdentifier"], "2");
    assert_eq!(plan.summary.groups, 4);
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
    let created: Vec<(Action, &ObjectKey)> = plan
        .changes
        .iter()
        .filter(|c| matches!(c.kind(), Kind::User | Kind::UserGroup))
        .map(|c| (c.action, &c.object))
        .collect();
    assert_eq!(
        created,
        [
            (
                Action::Add,
                &ObjectKey::UserGroup {
                    name: "new-team".into()
                }
            ),
            (Action::Add, &ObjectKey::User { name: "zoe".into() }),
        ]
    );
    assert_eq!(plan.summary.principals, 2);
    let ops: Vec<serde_json::Value> = plan
        .changes
        .iter()
        .filter(|c| matches!(c.kind(), Kind::User | Kind::UserGroup))
        .map(|c| c.op(&|_| None).expect("no reference"))
        .collect();
    assert_eq!(
        ops,
        [
            serde_json::json!({"op": "add", "path": "/", "value": {"identifier": "new-team", "attributes": {}}}),
            serde_json::json!({"op": "add", "path": "/", "value": {"username": "zoe", "attributes": {}}}),
        ]
    );
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
    assert_eq!(plan.batches[0].kind, Kind::Connection);
    let whole = plan.batches[0].bytes;
    // Every parent exists: nothing is left to resolve, so the size is exact.
    let ops: Vec<serde_json::Value> = plan
        .changes
        .iter()
        .map(|c| c.op(&|_| None).expect("no reference"))
        .collect();
    assert_eq!(ops.len(), 21);
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
    assert_eq!(plan.batches.last().map(|b| b.end), Some(plan.changes.len()));
    for pair in plan.batches.windows(2) {
        assert_eq!(pair[0].end, pair[1].start);
    }
    assert!(plan.batches.iter().all(|b| b.bytes <= 1024));
    for b in &plan.batches {
        assert_eq!(b.kind, Kind::Connection);
        let ops: Vec<serde_json::Value> = plan.changes[b.start..b.end]
            .iter()
            .map(|c| c.op(&|_| None).expect("no reference"))
            .collect();
        assert_eq!(b.bytes, serde_json::to_string(&ops).expect("json").len());
    }
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

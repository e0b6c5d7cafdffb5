//! Unit tests of "Moves and renames keep the object" (DESIGN.md §4): pairing
//! under prune, ambiguous names, `[[moved]]` entries for connections and groups,
//! and what a moved object's plan and op look like. The helpers here serve
//! `rules.rs` too.

use super::*;
use crate::schema::{Field, FieldType, Form};

pub(super) fn moved(from: &str, to: &str) -> Moved {
    Moved {
        from: path(from),
        to: path(to),
        file: "guacsync.toml".into(),
        line: 7,
        label: format!("([[moved]] #1, from = {from:?}, to = {to:?})"),
    }
}

pub(super) fn scoped(prune: bool) -> Options {
    Options {
        scope: vec![path("ROOT/Prod")],
        prune,
        ..Options::default()
    }
}

pub(super) fn group(o: &mut Observed, p: &str, id: &str) {
    o.groups.insert(
        path(p),
        ObservedGroup {
            identifier: id.into(),
            group_type: "ORGANIZATIONAL".into(),
        },
    );
}

/// Where a change moves its object from (its path), if it moves it.
pub(super) fn moved_from(c: &Change) -> Option<String> {
    c.moved_from.as_ref().map(ObjectKey::path)
}

pub(super) fn field(name: &str, t: FieldType) -> Field {
    Field {
        name: name.into(),
        field_type: t,
        options: vec![],
    }
}

#[test]
fn a_removal_and_an_add_of_one_name_are_paired_into_a_move_under_prune() {
    let mut o = server();
    o.connections.insert(
        key("ROOT/Prod/Web", "web-1"),
        have("7", &[("hostname", "h")]),
    );
    let d = desired(vec![want(
        "ROOT/Prod/Frontend",
        "web-1",
        &[("hostname", "h")],
    )]);
    let plan = ok(&d, &o, &scoped(true));
    let [c] = &conns(&plan)[..] else {
        panic!("{:?}", plan.changes);
    };
    assert_eq!(c.action, Action::Change);
    assert_eq!(c.identifier.as_deref(), Some("7"));
    assert!(c.parameters.is_empty() && c.attributes.is_empty() && c.fields.is_empty());
    assert_eq!(conn_key(c), &key("ROOT/Prod/Frontend", "web-1"));
    assert_eq!(moved_from(c).as_deref(), Some("ROOT/Prod/Web/web-1"));
    assert_eq!(
        paths(&plan, Kind::ConnectionGroup, Action::Add),
        ["ROOT/Prod/Frontend"]
    );
    assert_eq!((plan.summary.moved, plan.summary.remove), (1, 0));
    let text = crate::plan::render_text(&plan, false);
    assert!(
        text.contains(
            "~ connection ROOT/Prod/Frontend/web-1 (moved from ROOT/Prod/Web/web-1) (ssh)"
        ),
        "{text}"
    );
    // The op moves it: the new parent (created in the same run, its identifier
    // learnt then) and name, the old identifier.
    let frontend = ObjectKey::group(path("ROOT/Prod/Frontend"));
    let op = c
        .op(&|k| (*k == frontend).then(|| "55".to_owned()))
        .expect("resolves");
    assert_eq!(op["op"], "replace");
    assert_eq!(op["path"], "/7");
    assert_eq!(op["value"]["parentIdentifier"], "55");
    assert_eq!(op["value"]["name"], "web-1");
    assert_eq!(
        op["value"]["parameters"],
        serde_json::json!({"hostname": "h"})
    );

    // Without prune nothing is removed, so nothing is paired.
    let plan = ok(&d, &o, &scoped(false));
    let actions: Vec<Action> = plan.connections().map(|c| c.action).collect();
    assert_eq!(actions, [Action::Add]);
}

#[test]
fn ambiguous_names_are_not_paired() {
    let mut o = server();
    o.connections
        .insert(key("ROOT/Prod", "web-1"), have("7", &[("hostname", "h")]));
    o.connections.insert(
        key("ROOT/Prod/Web", "web-1"),
        have("8", &[("hostname", "h")]),
    );
    let d = desired(vec![want(
        "ROOT/Prod/Frontend",
        "web-1",
        &[("hostname", "h")],
    )]);
    let plan = ok(&d, &o, &scoped(true));
    assert!(plan.changes.iter().all(|c| moved_from(c).is_none()));
    assert_eq!((plan.summary.add, plan.summary.remove), (1, 2));

    // One removal, two adds of that name: not paired either.
    let mut o = server();
    o.connections
        .insert(key("ROOT/Prod/Web", "x"), have("7", &[("hostname", "h")]));
    let d = desired(vec![
        want("ROOT/Prod/A", "x", &[("hostname", "h")]),
        want("ROOT/Prod/B", "x", &[("hostname", "h")]),
    ]);
    let plan = ok(&d, &o, &scoped(true));
    assert!(plan.changes.iter().all(|c| moved_from(c).is_none()));
    assert_eq!((plan.summary.add, plan.summary.remove), (2, 1));
}

#[test]
fn moved_renames_a_connection_first_and_keeps_it_with_or_without_prune() {
    let mut o = server();
    o.connections.insert(
        key("ROOT/Prod/Web", "web-1"),
        have("7", &[("hostname", "h")]),
    );
    let d = desired(vec![
        want("ROOT/Prod/Web", "web-01", &[("hostname", "h2")]),
        want("ROOT/Prod/Web", "another", &[("hostname", "a")]),
    ]);
    for prune in [false, true] {
        let opts = Options {
            moved: vec![moved("ROOT/Prod/Web/web-1", "ROOT/Prod/Web/web-01")],
            ..scoped(prune)
        };
        let plan = ok(&d, &o, &opts);
        // The move goes first in the batch, then the add.
        let [c, add] = &conns(&plan)[..] else {
            panic!("{:?}", plan.changes);
        };
        assert_eq!(moved_from(c).as_deref(), Some("ROOT/Prod/Web/web-1"));
        assert_eq!(conn_key(c), &key("ROOT/Prod/Web", "web-01"));
        assert_eq!(c.action, Action::Change);
        assert_eq!(c.identifier.as_deref(), Some("7"));
        assert_eq!(c.parameters.len(), 1);
        assert_eq!(add.action, Action::Add);
        assert_eq!(conn_key(add), &key("ROOT/Prod/Web", "another"));
        assert_eq!(plan.changes.len(), 2);
        assert_eq!(
            plan.batches
                .iter()
                .map(|b| (b.kind, b.start, b.end))
                .collect::<Vec<_>>(),
            [(Kind::Connection, 0, 2)],
            "one atomic batch"
        );
        assert_eq!(plan.summary.remove, 0);
    }
}

#[test]
fn moved_connection_no_manifest_declares_is_moved_as_it_is() {
    let mut o = server();
    o.connections.insert(
        key("ROOT/Prod", "db"),
        have("7", &[("hostname", "h"), ("password", "pw-on-server")]),
    );
    let opts = Options {
        moved: vec![moved("ROOT/Prod/db", "ROOT/Prod/Web/db")],
        ..Options::default()
    };
    let plan = ok(&desired(vec![]), &o, &opts);
    let [c] = &plan.changes[..] else {
        panic!("{:?}", plan.changes);
    };
    assert_eq!(c.action, Action::Change);
    assert_eq!(c.identifier.as_deref(), Some("7"));
    assert_eq!(conn_key(c), &key("ROOT/Prod/Web", "db"));
    assert_eq!(
        c.moved_from,
        Some(ObjectKey::connection(key("ROOT/Prod", "db")))
    );
    let password = body_value(c, "parameters", "password");
    assert_eq!(password.expose(), "pw-on-server");
    assert!(password.is_sensitive());
    assert_eq!(body_value(c, "parameters", "hostname").expose(), "h");
    assert_eq!(sent(c)["parentIdentifier"], "2");
    assert_eq!(
        c.source.as_ref().map(ToString::to_string).as_deref(),
        Some("guacsync.toml:7")
    );
    assert!(!plan.to_json().contains("pw-on-server"));
    assert!(!crate::plan::render_text(&plan, false).contains("pw-on-server"));
    // Under prune, a moved connection no manifest declares is removed instead.
    let plan = ok(
        &desired(vec![want("ROOT/Prod", "keep", &[])]),
        &o,
        &Options {
            moved: vec![moved("ROOT/Prod/db", "ROOT/Prod/Web/db")],
            ..scoped(true)
        },
    );
    let shape: Vec<(Action, Option<&str>)> = plan
        .connections()
        .map(|c| (c.action, c.identifier.as_deref()))
        .collect();
    assert_eq!(shape, [(Action::Add, None), (Action::Remove, Some("7"))]);
}

#[test]
fn moved_group_keeps_its_children_and_attributes() {
    let mut o = server();
    group(&mut o, "ROOT/Prod/Old", "3");
    group(&mut o, "ROOT/Prod/Old/Sub", "4");
    o.group_attributes.insert(
        "3".into(),
        [("max-connections".to_owned(), "4".to_owned())].into(),
    );
    o.connections
        .insert(key("ROOT/Prod/Old", "x"), have("8", &[("hostname", "x")]));
    o.connections.insert(
        key("ROOT/Prod/Old/Sub", "y"),
        have("9", &[("hostname", "y")]),
    );
    o.schema = Some(Schema::from_server(
        [(
            "ssh".to_owned(),
            vec![Form {
                name: "f".into(),
                fields: vec![field("hostname", FieldType::Text)],
            }],
        )]
        .into(),
        vec![],
        vec![Form {
            name: "concurrency".into(),
            fields: vec![
                field("max-connections", FieldType::Numeric),
                field("max-connections-per-user", FieldType::Numeric),
            ],
        }],
    ));
    let d = desired(vec![
        want("ROOT/Prod/New/x", "x", &[("hostname", "x")]),
        want("ROOT/Prod/Team/Sub", "y", &[("hostname", "y")]),
    ]);
    let opts = Options {
        moved: vec![moved("ROOT/Prod/Old", "ROOT/Prod/Team")],
        ..scoped(true)
    };
    // x is declared somewhere else: under prune a move of x out of the moved group.
    let plan = ok(&d, &o, &opts);
    let group_moves: Vec<&Change> = plan
        .of_kind(Kind::ConnectionGroup)
        .filter(|c| c.moved_from.is_some())
        .collect();
    let [m] = &group_moves[..] else {
        panic!("{:?}", plan.changes);
    };
    assert_eq!(
        (
            m.action,
            m.identifier.as_deref(),
            moved_from(m),
            m.object.path()
        ),
        (
            Action::Change,
            Some("3"),
            Some("ROOT/Prod/Old".to_owned()),
            "ROOT/Prod/Team".to_owned()
        )
    );
    // The replace carries the group's type and every attribute.
    let value = sent(m);
    assert_eq!(value["parentIdentifier"], "1");
    assert_eq!(value["name"], "Team");
    assert_eq!(value["type"], "ORGANIZATIONAL");
    assert_eq!(value["attributes"]["max-connections"], "4");
    assert_eq!(
        value["attributes"]["max-connections-per-user"],
        serde_json::Value::Null,
        "sent as null"
    );
    assert_eq!(plan.summary.groups_moved, 1);
    assert_eq!(
        plan.connections()
            .map(|c| (conn_key(c).to_string(), moved_from(c)))
            .collect::<Vec<_>>(),
        [(
            "ROOT/Prod/New/x/x".to_owned(),
            Some("ROOT/Prod/Team/x".to_owned())
        )],
        "y stays where its group took it; x is paired from its moved place"
    );
    let text = crate::plan::render_text(&plan, false);
    assert!(
        text.contains("~ group ROOT/Prod/Team (moved from ROOT/Prod/Old)"),
        "{text}"
    );
    assert!(text.contains("1 groups to move"), "{text}");
}

#[test]
fn moved_done_both_neither_scope_and_missing_parents() {
    let mut o = server();
    o.connections
        .insert(key("ROOT/Prod", "b"), have("7", &[("hostname", "h")]));
    o.connections
        .insert(key("ROOT/Prod", "c"), have("8", &[("hostname", "h")]));
    let d = desired(vec![
        want("ROOT/Prod", "b", &[("hostname", "h")]),
        want("ROOT/Prod", "c", &[("hostname", "h")]),
    ]);
    let with = |m: Moved| Options {
        moved: vec![m],
        ..scoped(false)
    };
    // Done: `from` gone, `to` there.
    let plan = ok(&d, &o, &with(moved("ROOT/Prod/a", "ROOT/Prod/b")));
    assert!(plan.is_empty() && plan.warnings.is_empty(), "{plan:?}");
    // Both: an error naming the entry.
    let e = errors(&d, &o, &with(moved("ROOT/Prod/b", "ROOT/Prod/c")));
    assert!(
        e[0].starts_with("guacsync.toml:7 ([[moved]] #1, from = \"ROOT/Prod/b\"")
            && e[0].contains("both connection ROOT/Prod/b and connection ROOT/Prod/c exist"),
        "{e:?}"
    );
    // Neither: a warning.
    let plan = ok(&d, &o, &with(moved("ROOT/Prod/x", "ROOT/Prod/y")));
    assert!(plan.warnings.iter().any(|w| w.code == "moved-not-found"));
    // Outside the scope, and the scope group itself.
    let e = errors(&d, &o, &with(moved("ROOT/Prod/b", "ROOT/Lab/b")));
    assert!(e[0].contains("must both lie inside a scope group"), "{e:?}");
    let e = errors(&d, &o, &with(moved("ROOT/Prod", "ROOT/Prod2")));
    assert!(
        e[0].contains("inside a scope group") || e[0].contains("scope group"),
        "{e:?}"
    );
    // A missing parent of `to` is created, or refused without create_groups.
    let plan = ok(
        &desired(vec![]),
        &o,
        &Options {
            moved: vec![moved("ROOT/Prod/b", "ROOT/Prod/New/Deeper/b")],
            ..Options::default()
        },
    );
    assert_eq!(
        paths(&plan, Kind::ConnectionGroup, Action::Add),
        ["ROOT/Prod/New", "ROOT/Prod/New/Deeper"]
    );
    let e = errors(
        &desired(vec![]),
        &o,
        &Options {
            moved: vec![moved("ROOT/Prod/b", "ROOT/Prod/New/b")],
            create_groups: false,
            ..Options::default()
        },
    );
    assert!(
        e[0].contains("ROOT/Prod/New, where a [[moved]] entry moves something, does not exist"),
        "{e:?}"
    );
}

#[test]
fn a_scope_group_is_never_moved() {
    let mut o = server();
    o.connections.insert(key("ROOT/Prod", "b"), have("7", &[]));
    let opts = Options {
        scope: vec![path("ROOT/Prod"), path("ROOT/Lab")],
        moved: vec![moved("ROOT/Prod", "ROOT/Lab/Prod")],
        ..Options::default()
    };
    let e = errors(&desired(vec![]), &o, &opts);
    assert!(
        e[0].contains("is a scope group; scope groups are never moved"),
        "{e:?}"
    );
}

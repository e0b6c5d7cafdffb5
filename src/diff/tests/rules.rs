//! Unit tests of the other issue-12 rules of DESIGN.md §4: unmanaged
//! parameters, the server's schema deciding which names exist, `prune_groups`,
//! exact mode for group READ, the limited-view note, and the plan schema.

use super::moves::{field, group, moved, scoped};
use super::*;
use crate::schema::{FieldType, Form};

#[test]
fn unmanaged_parameters_are_compared_only_where_a_manifest_sets_them() {
    let mut o = server();
    o.connections.insert(
        key("ROOT", "c"),
        have(
            "1",
            &[("hostname", "h"), ("password", "by-hand"), ("port", "22")],
        ),
    );
    let unmanaged = Options {
        unmanaged_parameters: ["password".to_owned()].into(),
        ..Options::default()
    };
    // Not set in the manifest: no removal, nothing to do.
    let same = desired(vec![want(
        "ROOT",
        "c",
        &[("hostname", "h"), ("port", "22")],
    )]);
    assert!(ok(&same, &o, &unmanaged).is_empty());
    // Without the option it is a removal.
    let plan = ok(&same, &o, &Options::default());
    assert!(crate::plan::render_text(&plan, false).contains("- password = (sensitive)"));
    // Another change carries the server's value in the full replace.
    let changed = desired(vec![want(
        "ROOT",
        "c",
        &[("hostname", "h"), ("port", "2222")],
    )]);
    let plan = ok(&changed, &o, &unmanaged);
    let [c] = &plan.changes[..] else {
        panic!("{:?}", plan.changes);
    };
    assert_eq!(c.action, Action::Change);
    assert_eq!(c.parameters.len(), 1, "only the port: {:?}", c.parameters);
    assert_eq!(c.parameters[0].name(), "port");
    let password = body_value(c, "parameters", "password");
    assert_eq!(password.expose(), "by-hand");
    assert!(password.is_sensitive());
    assert_eq!(
        sent(c)["parameters"],
        serde_json::json!({"hostname": "h", "password": "by-hand", "port": "2222"})
    );
    assert!(!plan.to_json().contains("by-hand"));
    // Set in the manifest: compared as usual.
    let set = desired(vec![want(
        "ROOT",
        "c",
        &[("hostname", "h"), ("port", "22"), ("password", "new")],
    )]);
    let plan = ok(&set, &o, &unmanaged);
    assert!(
        crate::plan::render_text(&plan, false).contains("~ password = (sensitive) -> (sensitive)")
    );
}

#[test]
fn the_servers_schema_decides_which_names_exist() {
    let mut o = server();
    o.schema = Some(Schema::from_server(
        [(
            "ssh".to_owned(),
            vec![Form {
                name: "f".into(),
                fields: vec![
                    field("hostname", FieldType::Text),
                    field("password", FieldType::Password),
                    field("x-extension", FieldType::Text),
                ],
            }],
        )]
        .into(),
        vec![Form {
            name: "concurrency".into(),
            fields: vec![field("max-connections", FieldType::Numeric)],
        }],
        vec![],
    ));
    let mut typo = want(
        "ROOT",
        "c",
        &[("hostname", "h"), ("x-extension", "1"), ("pasword", "v")],
    );
    typo.attributes
        .insert("owner-team".into(), "payments".into());
    typo.attributes.insert("max-connections".into(), "2".into());
    let d = desired(vec![typo]);
    let e = errors(&d, &o, &Options::default());
    assert_eq!(e.len(), 2, "{e:?}");
    assert!(
        e[0].contains("\"pasword\" is not a parameter of protocol ssh on this server")
            && e[0].contains("did you mean `password`?"),
        "{e:?}"
    );
    assert!(
        e[1].contains("\"owner-team\" is not a connection attribute"),
        "{e:?}"
    );
    // A parameter the bundled schema knows but this server does not is unknown too.
    let e = errors(
        &desired(vec![want("ROOT", "c", &[("port", "22")])]),
        &o,
        &Options::default(),
    );
    assert!(e[0].contains("\"port\""), "{e:?}");
    // Allowed: warnings, and the plan is made.
    let plan = ok(
        &d,
        &o,
        &Options {
            allow_unknown_parameters: true,
            ..Options::default()
        },
    );
    assert_eq!(
        plan.warnings
            .iter()
            .filter(|w| w.code == "unknown-name")
            .count(),
        2
    );
    // A protocol the server does not offer is warned about, not checked.
    let mut other = want("ROOT", "t", &[("anything", "1")]);
    other.protocol = "telnet".into();
    let plan = ok(&desired(vec![other]), &o, &Options::default());
    assert!(
        plan.warnings
            .iter()
            .any(|w| w.code == "unknown-protocol-on-server")
    );
}

#[test]
fn prune_groups_removes_empty_unnamed_groups_deepest_first() {
    let mut o = server();
    group(&mut o, "ROOT/Prod/Empty", "3");
    group(&mut o, "ROOT/Prod/Empty/Deeper", "4");
    group(&mut o, "ROOT/Prod/Legacy", "5");
    group(&mut o, "ROOT/Lab", "6");
    o.connections
        .insert(key("ROOT/Prod/Web", "w"), have("7", &[]));
    o.connections
        .insert(key("ROOT/Prod/Legacy", "l"), have("8", &[]));
    let d = desired(vec![want("ROOT/Prod/Web", "w", &[])]);
    let opts = Options {
        prune_groups: true,
        ..scoped(true)
    };
    let plan = ok(&d, &o, &opts);
    assert_eq!(
        paths(&plan, Kind::ConnectionGroup, Action::Remove),
        [
            "ROOT/Prod/Empty/Deeper",
            "ROOT/Prod/Empty",
            "ROOT/Prod/Legacy"
        ]
    );
    let removals: Vec<serde_json::Value> = plan
        .of_kind(Kind::ConnectionGroup)
        .map(|c| c.op(&|_| None).expect("no reference"))
        .collect();
    assert_eq!(
        removals,
        [
            serde_json::json!({"op": "remove", "path": "/4"}),
            serde_json::json!({"op": "remove", "path": "/3"}),
            serde_json::json!({"op": "remove", "path": "/5"}),
        ]
    );
    // The connection in ROOT/Prod/Legacy is removed before its group.
    let order: Vec<(Kind, Action)> = plan.changes.iter().map(|c| (c.kind(), c.action)).collect();
    assert_eq!(
        order,
        [
            (Kind::Connection, Action::Remove),
            (Kind::ConnectionGroup, Action::Remove),
            (Kind::ConnectionGroup, Action::Remove),
            (Kind::ConnectionGroup, Action::Remove),
        ]
    );
    assert_eq!((plan.summary.remove, plan.summary.groups_removed), (1, 3));
    // Each removed group is a deletion.
    let e = errors(
        &d,
        &o,
        &Options {
            max_deletions: 3,
            ..opts.clone()
        },
    );
    assert!(
        e[0].contains("removes 4 objects (1 connections, 3 groups)"),
        "{e:?}"
    );
    // Without prune_groups, or without prune, no group goes.
    let group_removals = |plan: &Plan| paths(plan, Kind::ConnectionGroup, Action::Remove);
    assert!(group_removals(&ok(&d, &o, &scoped(true))).is_empty());
    assert!(
        group_removals(&ok(
            &d,
            &o,
            &Options {
                prune_groups: true,
                ..scoped(false)
            }
        ))
        .is_empty()
    );
    // The scope group itself stays even when everything in it goes.
    let plan = ok(
        &desired(vec![]),
        &o,
        &Options {
            allow_deletions: Some(10),
            ..opts.clone()
        },
    );
    let removed = group_removals(&plan);
    assert!(removed.iter().all(|g| g != "ROOT/Prod"), "{removed:?}");
    assert_eq!(removed.len(), 4, "{removed:?}");
    // An account that cannot see everything may not remove groups.
    o.limited_view = true;
    let e = errors(&d, &o, &opts);
    assert!(e[0].contains("prune_groups is refused"), "{e:?}");
}

#[test]
fn exact_mode_revokes_group_read_no_manifest_needs_in_scope_only() {
    let mut o = server();
    group(&mut o, "ROOT/Prod/Db", "3");
    group(&mut o, "ROOT/Lab", "4");
    o.connections
        .insert(key("ROOT/Prod/Web", "w"), have("7", &[]));
    o.connections
        .insert(key("ROOT/Prod/Db", "d"), have("8", &[]));
    let read = |groups: &[&str]| ObservedGrants {
        connections: BTreeSet::new(),
        groups: groups.iter().map(|g| (*g).to_owned()).collect(),
        ..ObservedGrants::default()
    };
    o.grants
        .insert(Principal::User("alice".into()), read(&["1", "2", "3", "4"]));
    o.grants
        .insert(Principal::User("guacadmin".into()), read(&["1", "2", "3"]));
    o.grants
        .insert(Principal::UserGroup("ops".into()), read(&["1"]));
    let mut w = want("ROOT/Prod/Web", "w", &[]);
    w.users = vec!["alice".into()];
    let d = desired(vec![w, want("ROOT/Prod/Db", "d", &[])]);
    let exact = Options {
        permissions: PermissionMode::Exact,
        ..scoped(false)
    };
    let plan = ok(&d, &o, &exact);
    let revokes: Vec<(String, Vec<String>)> = plan
        .permissions
        .iter()
        .filter(|p| !p.revoke.is_empty())
        .map(|p| {
            (
                p.principal.to_string(),
                p.revoke
                    .iter()
                    .map(|g| {
                        assert_eq!(g.permission, "READ");
                        let object = g.object.as_ref().expect("on an object");
                        assert!(g.identifier.is_some(), "{g:?}");
                        object.to_string()
                    })
                    .collect(),
            )
        })
        .collect();
    assert_eq!(
        revokes,
        [
            (
                "user \"alice\"".to_owned(),
                vec!["group ROOT/Prod/Db".to_owned()]
            ),
            (
                "user group \"ops\"".to_owned(),
                vec!["group ROOT/Prod".to_owned()]
            ),
        ],
        "the scope group counts; ROOT/Lab is outside; the login account is left alone"
    );
    // Additive mode never revokes; without a scope no group is in scope.
    assert!(
        ok(
            &d,
            &o,
            &Options {
                permissions: PermissionMode::Additive,
                ..exact.clone()
            }
        )
        .permissions
        .iter()
        .all(|p| p.revoke.is_empty())
    );
    assert!(
        ok(
            &d,
            &o,
            &Options {
                scope: vec![],
                ..exact
            }
        )
        .permissions
        .iter()
        .all(|p| p.revoke.is_empty())
    );
}

#[test]
fn a_limited_view_is_said_at_the_top_of_every_rendering() {
    let mut o = server();
    o.limited_view = true;
    o.session_user = "ci-bot".into();
    let plan = ok(&desired(vec![]), &o, &Options::default());
    let note = "objects this account cannot read may exist and are neither shown nor touched";
    assert!(
        plan.visibility
            .as_deref()
            .is_some_and(|v| v.contains("\"ci-bot\"") && v.contains(note))
    );
    assert!(
        crate::plan::render_text(&plan, false)
            .starts_with("warning: guacsync is logged in as \"ci-bot\"")
    );
    assert!(crate::plan::render_markdown(&plan).starts_with(
        "<!-- guacsync-plan -->\n### guacsync plan\n\n> **Warning:** guacsync is logged in"
    ));
    let json: serde_json::Value = serde_json::from_str(&plan.to_json()).expect("json");
    assert!(
        json["visibility"]
            .as_str()
            .is_some_and(|v| v.contains(note))
    );
    o.limited_view = false;
    assert!(
        ok(&desired(vec![]), &o, &Options::default())
            .visibility
            .is_none()
    );
}

#[test]
fn plans_with_every_new_field_match_the_plan_schema() {
    let schema: serde_json::Value =
        serde_json::from_str(include_str!("../../../schemas/plan.schema.json")).expect("schema");
    let validator = jsonschema::draft202012::new(&schema).expect("compiles");
    let mut o = server();
    group(&mut o, "ROOT/Prod/Old", "3");
    group(&mut o, "ROOT/Prod/Empty", "4");
    o.connections.insert(
        key("ROOT/Prod/Web", "web-1"),
        have("7", &[("hostname", "h")]),
    );
    o.limited_view = true;
    let d = desired(vec![want("ROOT/Prod/Web", "web-01", &[("hostname", "h")])]);
    let opts = Options {
        moved: vec![
            moved("ROOT/Prod/Web/web-1", "ROOT/Prod/Web/web-01"),
            moved("ROOT/Prod/Old", "ROOT/Prod/New"),
        ],
        unmanaged_parameters: ["password".to_owned()].into(),
        allow_unknown_parameters: true,
        ..scoped(false)
    };
    let with_moves = ok(&d, &o, &opts);
    assert!(with_moves.summary.groups_moved > 0 && with_moves.visibility.is_some());
    assert!(with_moves.summary.moved > 0);
    o.limited_view = false;
    let with_removals = ok(
        &d,
        &o,
        &Options {
            prune: true,
            prune_groups: true,
            ..opts
        },
    );
    assert!(with_removals.summary.groups_removed > 0);
    for plan in [with_moves, with_removals] {
        let doc: serde_json::Value = serde_json::from_str(&plan.to_json()).expect("json");
        let errors: Vec<String> = validator
            .iter_errors(&doc)
            .map(|e| format!("{e} at {}", e.instance_path))
            .collect();
        assert!(errors.is_empty(), "{errors:#?}\n{doc:#}");
        // A saved plan reads back, to the same document.
        let back: Plan = serde_json::from_value(doc).expect("reads back");
        assert_eq!(back.to_json(), plan.to_json());
        assert_eq!(back.changes.len(), plan.changes.len());
    }
}

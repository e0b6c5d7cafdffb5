//! The renderers' tests: text, markdown and JSON snapshots of `every_kind` (in
//! `fixture`), no secret in any rendering, the order of the sections, colour.

mod fixture;

use super::*;
use crate::kinds::ObjectKey;
use crate::plan::render_markdown;
pub(in crate::plan) use fixture::{EVERY_KIND_SECTIONS, every_kind};
use fixture::{connection, group, key};

const SECRETS: &[&str] = &[
    "hunter2",
    "literal-secret",
    "old-secret",
    "new-secret",
    "gone-secret",
    "carried-secret",
    "zoe-initial-pw",
];

#[test]
fn the_fixture_is_a_plan_diff_could_make() {
    let plan = every_kind();
    // Batches cover the changes in order, one kind each.
    let mut next = 0;
    for b in &plan.batches {
        assert_eq!(b.start, next);
        assert!(
            plan.changes[b.start..b.end]
                .iter()
                .all(|c| c.kind() == b.kind)
        );
        next = b.end;
    }
    assert_eq!(next, plan.changes.len());
    // Every kind is added, changed and removed; groups and connections moved.
    for kind in Kind::ALL {
        let n = plan.summary.of(kind);
        assert!(n.add > 0 && n.change > 0 && n.remove > 0, "{kind}: {n:?}");
    }
    assert_eq!((plan.summary.moved, plan.summary.groups_moved), (1, 1));
    // Every add and change has a body; a reference resolves to what apply learnt.
    let learnt = |k: &ObjectKey| {
        [group("ROOT/Prod/New"), connection("ROOT/Prod/New", "db-1")]
            .contains(k)
            .then(|| "42".to_owned())
    };
    for c in &plan.changes {
        let op = c.op(&learnt).expect("op");
        assert_eq!(
            op.get("value").is_some(),
            c.action != Action::Remove,
            "{op}"
        );
    }
}

#[test]
fn text_snapshot() {
    let text = render_text(&every_kind(), false);
    insta::assert_snapshot!(text);
}

#[test]
fn markdown_snapshot() {
    insta::assert_snapshot!(render_markdown(&every_kind()));
}

#[test]
fn json_snapshot_and_schema() {
    let plan = every_kind();
    let json = plan.to_json();
    insta::assert_snapshot!(json.clone());
    let schema: serde_json::Value =
        serde_json::from_str(include_str!("../../../schemas/plan.schema.json")).expect("schema");
    let v = jsonschema::draft202012::new(&schema).expect("compiles");
    // With the notes a plan may carry at its top too.
    let mut noted = plan.clone();
    noted.visibility = Some(crate::diff::limited_view_note("ci-bot"));
    noted.non_atomic = Some("the server applies changes object by object".into());
    noted.held_removals = vec![crate::kinds::ObjectKey::connection(key(
        "ROOT/Prod",
        "later",
    ))];
    for doc in [json.clone(), noted.to_json()] {
        let doc: serde_json::Value = serde_json::from_str(&doc).expect("json");
        let errors: Vec<String> = v
            .iter_errors(&doc)
            .map(|e| format!("{e} at {}", e.instance_path))
            .collect();
        assert!(errors.is_empty(), "{errors:#?}");
    }
    // The schema is strict: a misspelt field, a key of another kind, a grant on
    // half an object, an unknown kind are each refused.
    let valid: serde_json::Value = serde_json::from_str(&json).expect("json");
    for (at, field, value) in [
        ("/changes/0", "identifer", serde_json::json!("3")),
        (
            "/changes/0/moved_from",
            "identifier",
            serde_json::json!("3"),
        ),
        ("/changes/4", "path", serde_json::json!("ROOT/Prod")),
        ("/changes/4", "kind", serde_json::json!("widget")),
        (
            "/permissions/0/grant/1",
            "kind",
            serde_json::json!("connection"),
        ),
        (
            "/permissions/0/grant/0",
            "permission",
            serde_json::json!("CREATE_USER"),
        ),
        ("/batches/0", "kind", serde_json::json!("users")),
        (
            "/summary/kinds",
            "widget",
            serde_json::json!({"add": 1, "change": 0, "remove": 0}),
        ),
    ] {
        let mut doc = valid.clone();
        doc.pointer_mut(at)
            .and_then(serde_json::Value::as_object_mut)
            .expect(at)
            .insert(field.to_owned(), value);
        assert!(!v.is_valid(&doc), "{at}/{field} accepted");
    }
    // A saved plan reads back, to the same document.
    let back: Plan = serde_json::from_str(&json).expect("reads back");
    assert_eq!(back.changes.len(), 17);
    assert_eq!(back.to_json(), json);
}

#[test]
fn no_secret_in_any_rendering() {
    let plan = every_kind();
    for out in [
        render_text(&plan, false),
        render_text(&plan, true),
        render_markdown(&plan),
        plan.to_json(),
        format!("{plan:?}"),
    ] {
        for s in SECRETS {
            assert!(!out.contains(s), "{s} in:\n{out}");
        }
    }
}

#[test]
fn sections_follow_the_apply_order() {
    let plan = every_kind();
    let titles: Vec<String> = sections(&plan, &Paint { on: false })
        .into_iter()
        .filter(|s| !s.entries.is_empty())
        .map(|s| format!("{} ({})", s.title, s.entries.len()))
        .collect();
    assert_eq!(titles, EVERY_KIND_SECTIONS);
}

#[test]
fn colour_only_when_asked_and_empty_plan() {
    assert!(render_text(&every_kind(), true).contains("\x1b[32m+"));
    assert!(!render_text(&every_kind(), false).contains('\x1b'));
    let mut empty = every_kind();
    empty.changes.clear();
    empty.batches.clear();
    empty.memberships.clear();
    empty.permissions.clear();
    empty.sessions.clear();
    empty.warnings.clear();
    // An empty plan still lists the secrets it resolved.
    assert_eq!(
        render_text(&empty, false),
        "No changes. The server matches the manifests.\n\nSecrets used (values never shown):\n  env  DB_PW    1 use, at manifests/prod.yaml:3\n  file secrets/web.key    4 uses, the first at manifests/prod.yaml:12\n"
    );
    assert!(render_markdown(&empty).contains("- env `DB_PW`: 1 use"));
    empty.secrets_used.clear();
    assert_eq!(
        render_text(&empty, false),
        "No changes. The server matches the manifests.\n"
    );
    assert!(render_markdown(&empty).contains("**No changes.**"));
}

#[test]
fn change_lines_head_each_change_and_count_the_rest() {
    let plan = every_kind();
    let (lines, more) = change_lines(&plan, 100);
    assert_eq!(
        lines,
        [
            "+ group ROOT/Prod/New",
            "~ group ROOT/Prod/Team (moved from ROOT/Prod/Old)",
            "~ group ROOT/Prod/Pool    # manifests/prod.yaml:40",
            "+ connection ROOT/Prod/New/db-1 (ssh)    # manifests/prod.yaml:3",
            "~ connection ROOT/Prod/Team/web-2 (moved from ROOT/Prod/web-2) (rdp)    # guacsync.toml:7",
            "~ connection ROOT/Prod/web \"1\" (ssh)  [1 open session]    # manifests/prod.yaml:12",
            "- connection ROOT/Prod/old (vnc)  [2 open sessions]",
            "+ sharing profile \"watch\" of ROOT/Prod/New/db-1    # manifests/prod.yaml:20",
            "~ sharing profile \"share\" of ROOT/Prod/web \"1\"    # manifests/prod.yaml:24",
            "- sharing profile \"old-share\" of ROOT/Prod/old",
            "- group ROOT/Prod/Empty",
            "+ user group \"new-team\"    # manifests/prod.yaml:30",
            "~ user group \"ops\"    # manifests/prod.yaml:31",
            "- user group \"legacy\"",
            "+ user \"zoe\"    # manifests/prod.yaml:34",
            "~ user \"alice\"    # manifests/prod.yaml:36",
            "- user \"mallory\"",
            "~ members of user group \"ops\": + user \"zoe\", + user group \"new-team\", - user \"bob\"",
            "~ permissions of user \"alice\": + UPDATE on connection ROOT/Prod/web \"1\", + system CREATE_CONNECTION, - ADMINISTER on group ROOT/Prod",
            "+ READ for user \"zoe\": + group ROOT/Prod/New, + connection ROOT/Prod/New/db-1",
            "- READ for user group \"ops\": - connection ROOT/Prod/web \"1\"",
            "- close session uuid-1 of alice on ROOT/Prod/old",
        ]
    );
    assert_eq!(more, 0);
    let (first, more) = change_lines(&plan, 3);
    assert_eq!(first, lines[..3]);
    assert_eq!(more, lines.len() - 3);
    for line in &lines {
        for s in SECRETS {
            assert!(!line.contains(s), "{s} in {line}");
        }
    }
}

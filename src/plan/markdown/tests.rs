//! The markdown plan's tests: a small plan shown whole, large ones cut to fit with
//! every section kept, an entry too large for the comment shown in part, and
//! values that cannot break out of their code block.

use super::*;
use crate::kinds::ObjectKey;
use crate::model::Principal;
use crate::model::{ConnKey, GroupPath, Source};
use crate::plan::render::tests::{EVERY_KIND_SECTIONS, every_kind};
use crate::plan::{Action, Change, FieldChange, Grant, PermissionChange};
use crate::value::Value;

/// `every_kind` with `n` more adds, each about 300 characters of markdown.
fn with_adds(n: usize) -> Plan {
    let mut plan = every_kind();
    let adds = (0..n).map(|i| {
        let added = |name: &str, after: Value| FieldChange::Added {
            name: name.into(),
            after,
        };
        Change {
            action: Action::Add,
            object: ObjectKey::connection(ConnKey {
                group: GroupPath::parse("ROOT/Prod/Bulk").expect("path"),
                name: format!("host-{i:05}"),
            }),
            identifier: None,
            moved_from: None,
            detail: Some("ssh".into()),
            fields: vec![],
            parameters: vec![
                added(
                    "hostname",
                    Value::plain(format!("10.1.{}.{}", i / 250, i % 250)),
                ),
                added("port", Value::plain("22")),
                added("username", Value::plain("${GUAC_USERNAME}")),
            ],
            attributes: vec![added("max-connections", Value::plain("2"))],
            source: Some(Source {
                file: "manifests/bulk.csv".into(),
                line: u32::try_from(i).expect("small") + 2,
                column: 1,
            }),
            active_sessions: 0,
            password: None,
            body: None,
        }
    });
    // Before the other adds, as diff orders them (moves, adds, changes,
    // removals); the batch they join grows with them.
    let at = plan
        .changes
        .iter()
        .position(|c| c.kind() == Kind::Connection && c.action == Action::Add)
        .expect("every_kind adds a connection");
    plan.changes.splice(at..at, adds);
    for b in &mut plan.batches {
        if b.start > at {
            b.start += n;
        }
        if b.end > at {
            b.end += n;
        }
    }
    plan.summary.add += n;
    if let Some(counts) = plan.summary.kinds.get_mut(&Kind::Connection) {
        counts.add += n;
    }
    plan
}

/// How many entries a plan's markdown has: one per change, membership,
/// principal's permissions and session.
fn entries(plan: &Plan) -> usize {
    plan.changes.len() + plan.memberships.len() + plan.permissions.len() + plan.sessions.len()
}

#[test]
fn a_small_plan_is_shown_whole() {
    let plan = every_kind();
    let md = render_markdown(&plan);
    assert!(md.starts_with(MARKER), "{md}");
    assert!(!md.contains("too long for one comment"), "{md}");
    assert!(!md.contains("of 1 shown"), "{md}");
    for section in EVERY_KIND_SECTIONS {
        assert!(md.contains(section), "{section}: {md}");
    }
    // Every line of the text plan's body is in it.
    // (The secrets used are listed differently: see `secrets_used`.)
    let text = render_text(&plan);
    let body = text.split("\nSecrets used").next().unwrap_or_default();
    for line in body.lines().filter(|l| l.starts_with("  ")) {
        let moved = diff_line(line);
        assert!(md.contains(&moved), "{moved:?} missing");
    }
}

fn render_text(plan: &Plan) -> String {
    crate::plan::render_text(plan, false)
}

#[test]
fn a_large_plan_is_cut_to_fit_and_small_sections_stay_whole() {
    let plan = with_adds(3_000);
    let whole = render_markdown_with(
        &plan,
        &MarkdownOptions {
            max_size: usize::MAX,
            ..MarkdownOptions::default()
        },
    );
    assert!(size(&whole) > 4 * COMMENT_LIMIT, "{}", size(&whole));
    let url = "https://ci.example.com/runs/42/artifacts";
    let md = render_markdown_with(
        &plan,
        &MarkdownOptions {
            full_plan_url: Some(url.to_owned()),
            ..MarkdownOptions::default()
        },
    );
    assert!(size(&md) <= DEFAULT_MAX_SIZE, "{}", size(&md));
    assert!(md.chars().count() < COMMENT_LIMIT);
    assert!(md.starts_with(&format!(
        "{MARKER}\n### guacsync plan\n\n| change | count |"
    )));
    assert!(md.contains("| connections to add | 3001 |"), "{md}");
    let total = entries(&plan);
    assert_eq!(total, 3_000 + entries(&every_kind()));
    assert!(md.contains(&format!("The full plan: <{url}>")), "{md}");
    let shown = md.matches("\n+   connection ").count();
    assert!(shown > 100 && shown < 3_000, "{shown}");
    let hidden = 3_001 - shown;
    assert!(
        md.contains(&format!("Connections to add ({shown} of 3001 shown)")),
        "{md}"
    );
    assert!(md.contains(&format!("# ... {hidden} more not shown")));
    assert!(md.contains(&format!(
        "**This plan is too long for one comment: {hidden} of {total} entries are not shown.**"
    )));
    // The small sections are shown whole in spite of 3,000 adds.
    for whole_section in [
        "Groups to create (1)",
        "Groups to move (1)",
        "Connections to change (2)",
        "Connections to remove (1)",
        "Sharing profiles to remove (1)",
        "Groups to remove (1)",
        "Users to remove (1)",
        "Memberships (1)",
        "Permissions (3)",
        "Sessions to close (1)",
    ] {
        assert!(md.contains(whole_section), "{whole_section}");
    }
    assert!(md.contains("-   connection ROOT/Prod/old (vnc)"));
    assert!(md.contains("-   user \"mallory\""));
    // Fences still balance: every opening has its closing, one per section.
    let sections = sections(&plan, &Paint { on: false })
        .iter()
        .filter(|s| !s.entries.is_empty())
        .count();
    assert_eq!(sections, 19);
    assert_eq!(md.matches("```diff\n").count(), sections);
    assert_eq!(md.matches("\n```\n").count(), sections);
    // Without a URL the line says how to get the full plan.
    let md = render_markdown(&plan);
    assert!(md.contains("Run `guacsync plan` for the full plan"), "{md}");
    assert!(size(&md) <= DEFAULT_MAX_SIZE);
}

#[test]
fn an_entry_too_large_for_the_comment_shows_its_start() {
    let mut plan = with_adds(2_000);
    let grant: Vec<Grant> = plan
        .connections()
        .map(|c| Grant::read(c.object.clone(), c.identifier.as_deref()))
        .collect();
    let lines = grant.len() + 1;
    assert_eq!(lines, 2_005);
    plan.permissions = vec![PermissionChange {
        principal: Principal::User("alice".into()),
        grant,
        revoke: Vec::new(),
    }];
    let md = render_markdown(&plan);
    assert!(size(&md) <= DEFAULT_MAX_SIZE, "{}", size(&md));
    assert!(
        md.contains("<summary>READ permissions (0 of 1 shown in full, one more in part)</summary>"),
        "{md}"
    );
    assert!(
        md.contains("+   READ for user \"alice\":\n+       connection "),
        "{md}"
    );
    let rest = md
        .lines()
        .find_map(|l| {
            l.strip_prefix("# ... ")
                .and_then(|l| l.strip_suffix(" more line(s) of this entry not shown"))
        })
        .expect("the rest counted");
    let shown_lines = md.matches("\n+       connection ").count();
    assert_eq!(
        shown_lines + rest.parse::<usize>().expect("a number") + 1,
        lines
    );
    // The connections still get their share.
    assert!(md.matches("\n+   connection ").count() > 50);
}

#[test]
fn tiny_budgets_keep_the_frame_and_stay_within() {
    let plan = with_adds(50);
    assert!(size(&render_markdown(&plan)) > 12_000);
    // Just above what is always shown (the table, the warnings and one
    // frame for each of 19 sections), and more.
    for max_size in [4_500, 6_000, 12_000] {
        let md = render_markdown_with(
            &plan,
            &MarkdownOptions {
                max_size,
                ..MarkdownOptions::default()
            },
        );
        assert!(size(&md) <= max_size, "{max_size}: {}", size(&md));
        assert!(md.contains("| connections to add | 51 |"));
        assert!(md.contains("too long for one comment"));
    }
}

#[test]
fn values_cannot_break_out_of_the_code_block_or_inject_html() {
    let mut plan = every_kind();
    let add = plan
        .changes
        .iter_mut()
        .find(|c| c.kind() == Kind::Connection && c.action == Action::Add)
        .expect("every_kind adds a connection");
    add.parameters.push(FieldChange::Added {
        name: "command".into(),
        after: Value::plain("```\n</details><!-- guacsync-plan -->"),
    });
    plan.warnings[0].message = "name <!-- guacsync-plan --> | x".into();
    let md = render_markdown(&plan);
    // The marker starts the comment and no other line (CI matches the start).
    assert!(md.starts_with(MARKER));
    assert_eq!(
        md.lines().filter(|l| l.starts_with(MARKER)).count(),
        1,
        "{md}"
    );
    assert!(md.contains("````diff\n"), "{md}");
    assert!(
        md.contains("- name &lt;!-- guacsync-plan --&gt; \\| x"),
        "{md}"
    );
}

#[test]
fn full_plan_urls_are_checked() {
    assert!(check_full_plan_url("https://github.com/o/r/actions/runs/1").is_ok());
    for bad in [
        "ftp://x",
        "https://x/a b",
        "https://x/<y>",
        "javascript:alert(1)",
    ] {
        assert!(check_full_plan_url(bad).is_err(), "{bad}");
    }
}

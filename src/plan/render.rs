//! Plans as people read them: Terraform-like text (`+` add, `~` change, `-`
//! remove), and the sections that the markdown for a pull-request comment
//! (`markdown.rs`) is built from. Sensitive values show as
//! `(sensitive)` (or the reference as written); multi-line values are diffed line
//! by line.

use std::fmt::Write as _;

use similar::{ChangeTag, TextDiff};

use super::{ConnectionChange, FieldChange, Plan, Target};
use crate::value::Value;

pub(super) struct Paint {
    pub on: bool,
}

impl Paint {
    fn code(&self, code: &str, text: &str) -> String {
        if self.on {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }
    fn add(&self, t: &str) -> String {
        self.code("32", t)
    }
    fn change(&self, t: &str) -> String {
        self.code("33", t)
    }
    fn remove(&self, t: &str) -> String {
        self.code("31", t)
    }
    fn bold(&self, t: &str) -> String {
        self.code("1", t)
    }
}

/// A value as shown: plain text quoted (JSON escapes), references as written,
/// secrets as `(sensitive)`.
fn show(v: &Value) -> String {
    if v.is_sensitive() {
        v.shown().to_owned()
    } else {
        serde_json::to_string(v.shown()).unwrap_or_default()
    }
}

fn multiline(v: &Value) -> bool {
    !v.is_sensitive() && v.expose().contains('\n')
}

fn field_lines(out: &mut String, p: &Paint, kind: &str, changes: &[FieldChange]) {
    let label = |name: &str| {
        if kind.is_empty() {
            name.to_owned()
        } else {
            format!("{kind} {name}")
        }
    };
    for c in changes {
        match c {
            FieldChange::Added { name, after } => {
                let _ = writeln!(
                    out,
                    "      {} {} = {}",
                    p.add("+"),
                    label(name),
                    show(after)
                );
            }
            FieldChange::Removed { name, before } => {
                let _ = writeln!(
                    out,
                    "      {} {} = {}",
                    p.remove("-"),
                    label(name),
                    show(before)
                );
            }
            FieldChange::Changed {
                name,
                before,
                after,
            } if multiline(before) || multiline(after) => {
                let _ = writeln!(out, "      {} {}:", p.change("~"), label(name));
                let diff = TextDiff::from_lines(before.expose(), after.expose());
                for change in diff.iter_all_changes() {
                    let line = change.value().trim_end_matches('\n');
                    let _ = match change.tag() {
                        ChangeTag::Delete => writeln!(out, "          {} {line}", p.remove("-")),
                        ChangeTag::Insert => writeln!(out, "          {} {line}", p.add("+")),
                        ChangeTag::Equal => writeln!(out, "            {line}"),
                    };
                }
            }
            FieldChange::Changed {
                name,
                before,
                after,
            } => {
                let _ = writeln!(
                    out,
                    "      {} {} = {} -> {}",
                    p.change("~"),
                    label(name),
                    show(before),
                    show(after)
                );
            }
        }
    }
}

fn sessions_note(n: u32) -> String {
    match n {
        0 => String::new(),
        1 => "  [1 open session]".to_owned(),
        n => format!("  [{n} open sessions]"),
    }
}

fn target(t: &Target) -> String {
    match t {
        Target::Connection { key } => format!("connection {key}"),
        Target::Group { path } => format!("group {path}"),
    }
}

/// One connection change: its header line and its field lines.
fn connection_block(out: &mut String, p: &Paint, change: &ConnectionChange) {
    match change {
        ConnectionChange::Add {
            key,
            protocol,
            parameters,
            attributes,
            source,
        } => {
            let _ = writeln!(
                out,
                "  {} connection {key} ({protocol})    # {source}",
                p.add("+")
            );
            for (name, v) in parameters {
                let _ = writeln!(out, "      {} {name} = {}", p.add("+"), show(v));
            }
            for (name, v) in attributes {
                let _ = writeln!(
                    out,
                    "      {} attribute {name} = {}",
                    p.add("+"),
                    show(&Value::plain(v.clone()))
                );
            }
        }
        ConnectionChange::Replace {
            key,
            protocol_change,
            parameters,
            attributes,
            value,
            source,
            active_sessions,
            moved_from,
            ..
        } => {
            let moved = moved_from
                .as_ref()
                .map(|from| format!(" (moved from {from})"))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "  {} connection {key}{moved} ({}){}    # {source}",
                p.change("~"),
                value.protocol,
                sessions_note(*active_sessions)
            );
            if let Some((before, after)) = protocol_change {
                let _ = writeln!(
                    out,
                    "      {} protocol = {before:?} -> {after:?}",
                    p.change("~")
                );
            }
            field_lines(out, p, "", parameters);
            field_lines(out, p, "attribute", attributes);
        }
        ConnectionChange::Remove {
            key,
            protocol,
            parameters,
            active_sessions,
            ..
        } => {
            let _ = writeln!(
                out,
                "  {} connection {key} ({protocol}){}",
                p.remove("-"),
                sessions_note(*active_sessions)
            );
            for (name, v) in parameters {
                let _ = writeln!(out, "      {} {name} = {}", p.remove("-"), show(v));
            }
        }
    }
}

/// One part of a plan as shown: its title (a markdown section's heading) and its
/// entries, each the lines of one change. Text and markdown are both built from
/// these, so a new kind of change is one more section for both.
pub(super) struct Section {
    pub title: &'static str,
    /// Each entry's lines, each ending in a newline.
    pub entries: Vec<String>,
    /// A blank line after every entry (multi-line blocks) rather than once after
    /// the section (one-line entries).
    pub spaced: bool,
}

fn permission_block(p: &Paint, change: &super::PermissionChange) -> String {
    let mut out = String::new();
    let mark = match (change.grant.is_empty(), change.revoke.is_empty()) {
        (false, true) => p.add("+"),
        (true, false) => p.remove("-"),
        _ => p.change("~"),
    };
    let _ = writeln!(out, "  {mark} READ for {}:", change.principal);
    for t in &change.grant {
        let _ = writeln!(out, "      {} {}", p.add("+"), target(t));
    }
    for t in &change.revoke {
        let _ = writeln!(out, "      {} {}", p.remove("-"), target(t));
    }
    out
}

/// The plan's changes as sections, in the order apply runs them.
pub(super) fn sections(plan: &Plan, p: &Paint) -> Vec<Section> {
    let block = |change: &ConnectionChange| {
        let mut out = String::new();
        connection_block(&mut out, p, change);
        out
    };
    let connections = |keep: fn(&ConnectionChange) -> bool| {
        plan.connections
            .iter()
            .filter(|c| keep(c))
            .map(block)
            .collect()
    };
    vec![
        Section {
            title: "Groups to create",
            entries: plan
                .groups
                .iter()
                .map(|g| format!("  {} group {}\n", p.add("+"), g.path))
                .collect(),
            spaced: false,
        },
        Section {
            title: "Groups to move",
            entries: plan
                .group_moves
                .iter()
                .map(|m| {
                    format!(
                        "  {} group {} (moved from {})\n",
                        p.change("~"),
                        m.to,
                        m.from
                    )
                })
                .collect(),
            spaced: false,
        },
        Section {
            title: "Connections to add",
            entries: connections(|c| matches!(c, ConnectionChange::Add { .. })),
            spaced: true,
        },
        Section {
            title: "Connections to change",
            entries: connections(|c| matches!(c, ConnectionChange::Replace { .. })),
            spaced: true,
        },
        Section {
            title: "Connections to remove",
            entries: connections(|c| matches!(c, ConnectionChange::Remove { .. })),
            spaced: true,
        },
        Section {
            title: "Groups to remove",
            entries: plan
                .group_removals
                .iter()
                .map(|g| format!("  {} group {}\n", p.remove("-"), g.path))
                .collect(),
            spaced: false,
        },
        Section {
            title: "Users and user groups to create",
            entries: plan
                .principals
                .iter()
                .map(|principal| format!("  {} {principal}\n", p.add("+")))
                .collect(),
            spaced: false,
        },
        Section {
            title: "READ permissions",
            entries: plan
                .permissions
                .iter()
                .map(|c| permission_block(p, c))
                .collect(),
            spaced: true,
        },
        Section {
            title: "Sessions to close",
            entries: plan
                .sessions
                .iter()
                .map(|s| {
                    let who = s
                        .username
                        .as_deref()
                        .map(|u| format!(" of {u}"))
                        .unwrap_or_default();
                    format!(
                        "  {} close session {}{who} on {}\n",
                        p.remove("-"),
                        s.identifier,
                        s.key
                    )
                })
                .collect(),
            spaced: false,
        },
    ]
}

/// The changes, one block each, without header or counts.
fn body(plan: &Plan, p: &Paint) -> String {
    let mut out = String::new();
    for section in sections(plan, p) {
        for entry in &section.entries {
            out.push_str(entry);
            if section.spaced {
                out.push('\n');
            }
        }
        if !section.spaced && !section.entries.is_empty() {
            out.push('\n');
        }
    }
    out
}

pub(super) fn counts(plan: &Plan) -> String {
    let s = &plan.summary;
    let moved = if s.moved > 0 {
        format!(" ({} moved)", s.moved)
    } else {
        String::new()
    };
    let mut line = format!(
        "Plan: {} to add, {} to change{moved}, {} to remove; {} groups to create; {} grants, {} revokes",
        s.add, s.change, s.remove, s.groups, s.grants, s.revokes
    );
    if s.groups_moved > 0 {
        let _ = write!(line, "; {} groups to move", s.groups_moved);
    }
    if s.groups_removed > 0 {
        let _ = write!(line, "; {} groups to remove", s.groups_removed);
    }
    if s.principals > 0 {
        let _ = write!(line, "; {} principals to create", s.principals);
    }
    if s.sessions_closed > 0 {
        let _ = write!(line, "; {} sessions to close", s.sessions_closed);
    }
    if plan.batches.len() > 1 {
        let _ = write!(line, "; connections in {} batches", plan.batches.len());
    }
    line.push('.');
    line
}

/// Where a secret reference is used, in words.
pub(super) fn uses(u: &super::SecretUse) -> String {
    if u.uses == 1 {
        format!("1 use, at {}", u.first_use)
    } else {
        format!("{} uses, the first at {}", u.uses, u.first_use)
    }
}

/// The "secrets used" section: every reference the plan resolved, so a reviewer
/// sees a new one (names and paths only).
fn secrets_text(plan: &Plan) -> String {
    let mut out = String::new();
    if !plan.secrets_used.is_empty() {
        out.push_str("\nSecrets used (values never shown):\n");
        for u in &plan.secrets_used {
            let _ = writeln!(out, "  {}    {}", u.reference(), uses(u));
        }
    }
    out
}

/// Text for a terminal or a log.
#[must_use]
pub fn render_text(plan: &Plan, color: bool) -> String {
    let p = Paint { on: color };
    let mut out = String::new();
    if let Some(note) = &plan.visibility {
        let _ = writeln!(out, "{} {note}\n", p.code("1;33", "warning:"));
    }
    if !plan.warnings.is_empty() {
        for w in &plan.warnings {
            let _ = writeln!(out, "{} {}", p.code("1;33", "warning:"), w.message);
        }
        out.push('\n');
    }
    if plan.is_empty() {
        out.push_str("No changes. The server matches the manifests.\n");
        out.push_str(&secrets_text(plan));
        return out;
    }
    let _ = writeln!(
        out,
        "guacsync will make these changes on data source {}:\n",
        plan.data_source
    );
    out.push_str(&body(plan, &p));
    let _ = writeln!(out, "{}", p.bold(&counts(plan)));
    out.push_str(&secrets_text(plan));
    out
}

/// How many items of one entry (the connections of a READ entry) a change line
/// names before it counts the rest.
const ITEMS_PER_LINE: usize = 5;

/// One line per change, as the text plan heads it (`+ connection ROOT/Prod/web
/// (ssh)    # manifests/web.yaml:3`, `- group ROOT/Old`), for logs that must name
/// what changed on one line (watch). An entry whose head ends in `:` (a READ
/// entry) lists its items below it: they are folded into its line. No colour; a
/// value never appears, so neither does a secret. `limit` lines at most; the
/// number not shown is returned with them.
#[must_use]
pub fn change_lines(plan: &Plan, limit: usize) -> (Vec<String>, usize) {
    let mut lines = Vec::new();
    let mut more = 0;
    for section in sections(plan, &Paint { on: false }) {
        for entry in &section.entries {
            if lines.len() >= limit {
                more += 1;
                continue;
            }
            let mut rows = entry.lines().map(str::trim).filter(|l| !l.is_empty());
            let Some(head) = rows.next() else { continue };
            let mut line = head.to_owned();
            if head.ends_with(':') {
                let items: Vec<&str> = rows.collect();
                line.push(' ');
                line.push_str(&items[..items.len().min(ITEMS_PER_LINE)].join(", "));
                if items.len() > ITEMS_PER_LINE {
                    let _ = write!(line, " and {} more", items.len() - ITEMS_PER_LINE);
                }
            }
            lines.push(line);
        }
    }
    (lines, more)
}

/// Moves a line's `+`/`-`/`~` marker to the first column, where a markdown `diff`
/// code block colours it, keeping the indentation after it.
pub(super) fn diff_line(line: &str) -> String {
    let trimmed = line.trim_start();
    match trimmed.chars().next() {
        Some(c @ ('+' | '-' | '~')) => {
            let indent = line.len() - trimmed.len();
            format!("{c}{}{}", " ".repeat(indent), &trimmed[1..])
        }
        _ => line.to_owned(),
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::diff::PermissionMode;
    use crate::model::{ConnKey, GroupPath, Principal, Source};
    use crate::plan::render_markdown;
    use crate::plan::{
        Batch, FullConnection, GroupAdd, PermissionChange, PlanOptions, SecretKind, SecretUse,
        SessionClose, Summary, Warning,
    };

    fn key(group: &str, name: &str) -> ConnKey {
        ConnKey {
            group: GroupPath::parse(group).expect("path"),
            name: name.into(),
        }
    }

    fn source(line: u32) -> Source {
        Source {
            file: "manifests/prod.yaml".into(),
            line,
            column: 3,
        }
    }

    /// A plan with every kind of change, a multi-line value and secrets.
    #[allow(clippy::too_many_lines)] // one literal plan, clearer whole
    pub(in crate::plan) fn every_kind() -> Plan {
        let add = ConnectionChange::Add {
            key: key("ROOT/Prod/New", "db-1"),
            protocol: "ssh".into(),
            parameters: [
                ("hostname".to_owned(), Value::plain("10.0.0.5")),
                (
                    "password".to_owned(),
                    Value::resolved("hunter2", "${env:DB_PW}"),
                ),
                ("passphrase".to_owned(), Value::secret("literal-secret")),
            ]
            .into(),
            attributes: [("max-connections".to_owned(), "2".to_owned())].into(),
            source: source(3),
        };
        let replace = ConnectionChange::Replace {
            key: key("ROOT/Prod", "web \"1\""),
            identifier: "7".into(),
            protocol_change: Some(("telnet".into(), "ssh".into())),
            parameters: vec![
                FieldChange::Added {
                    name: "domain".into(),
                    after: Value::plain("CORP"),
                },
                FieldChange::Changed {
                    name: "initial-program".into(),
                    before: Value::plain("echo a\necho b\n"),
                    after: Value::plain("echo a\necho c\necho d\n"),
                },
                FieldChange::Changed {
                    name: "password".into(),
                    before: Value::secret("old-secret"),
                    after: Value::secret("new-secret"),
                },
                FieldChange::Removed {
                    name: "port".into(),
                    before: Value::plain("2222"),
                },
            ],
            attributes: vec![FieldChange::Changed {
                name: "weight".into(),
                before: Value::plain("1"),
                after: Value::plain("2"),
            }],
            value: FullConnection {
                protocol: "ssh".into(),
                parameters: [("password".to_owned(), Value::secret("new-secret"))].into(),
                attributes: [
                    ("weight".to_owned(), Some("2".to_owned())),
                    ("guacd-port".to_owned(), None),
                ]
                .into(),
            },
            source: source(12),
            active_sessions: 1,
            moved_from: None,
        };
        let remove = ConnectionChange::Remove {
            key: key("ROOT/Prod", "old"),
            identifier: "9".into(),
            protocol: "vnc".into(),
            parameters: [
                ("hostname".to_owned(), Value::plain("h")),
                ("password".to_owned(), Value::secret("gone-secret")),
            ]
            .into(),
            active_sessions: 2,
        };
        Plan {
            version: crate::plan::PLAN_VERSION,
            data_source: "postgresql".into(),
            visibility: None,
            group_moves: vec![],
            group_removals: vec![],
            fingerprint: "0123456789abcdef".repeat(4),
            manifests: vec!["manifests".into()],
            options: PlanOptions {
                scope: vec![GroupPath::parse("ROOT/Prod").expect("path")],
                prune: true,
                permissions: PermissionMode::Exact,
                parent_group_read: true,
                create_groups: true,
                create_principals: true,
                max_request_bytes: 4096,
                terminate_sessions: true,
                prune_groups: false,
                unmanaged_parameters: std::collections::BTreeSet::new(),
                allow_unknown_parameters: false,
                moved: vec![],
            },
            groups: vec![GroupAdd {
                path: GroupPath::parse("ROOT/Prod/New").expect("path"),
            }],
            connections: vec![add, replace, remove],
            principals: vec![Principal::User("zoe".into())],
            permissions: vec![
                PermissionChange {
                    principal: Principal::User("zoe".into()),
                    grant: vec![
                        Target::Group {
                            path: GroupPath::parse("ROOT/Prod/New").expect("path"),
                        },
                        Target::Connection {
                            key: key("ROOT/Prod/New", "db-1"),
                        },
                    ],
                    revoke: vec![],
                },
                PermissionChange {
                    principal: Principal::UserGroup("ops".into()),
                    grant: vec![],
                    revoke: vec![Target::Connection {
                        key: key("ROOT/Prod", "web \"1\""),
                    }],
                },
            ],
            sessions: vec![SessionClose {
                key: key("ROOT/Prod", "old"),
                identifier: "uuid-1".into(),
                username: Some("alice".into()),
            }],
            batches: vec![
                Batch {
                    start: 0,
                    end: 2,
                    bytes: 3000,
                },
                Batch {
                    start: 2,
                    end: 3,
                    bytes: 40,
                },
            ],
            warnings: vec![Warning {
                code: "active-sessions".into(),
                message:
                    "ROOT/Prod/old is removed while 2 session(s) are open; they will be closed"
                        .into(),
            }],
            secrets_used: vec![
                SecretUse {
                    kind: SecretKind::Env,
                    name: "DB_PW".into(),
                    uses: 1,
                    first_use: "manifests/prod.yaml:3".into(),
                },
                SecretUse {
                    kind: SecretKind::File,
                    name: "secrets/web.key".into(),
                    uses: 4,
                    first_use: "manifests/prod.yaml:12".into(),
                },
            ],
            held_removals: vec![],
            basis: None,
            summary: Summary {
                add: 1,
                change: 1,
                remove: 1,
                groups: 1,
                principals: 1,
                grants: 2,
                revokes: 1,
                sessions_closed: 1,
                ..Summary::default()
            },
        }
    }

    const SECRETS: &[&str] = &[
        "hunter2",
        "literal-secret",
        "old-secret",
        "new-secret",
        "gone-secret",
    ];

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
            serde_json::from_str(include_str!("../../schemas/plan.schema.json")).expect("schema");
        let doc: serde_json::Value = serde_json::from_str(&json).expect("json");
        let v = jsonschema::draft202012::new(&schema).expect("compiles");
        let errors: Vec<String> = v
            .iter_errors(&doc)
            .map(|e| format!("{e} at {}", e.instance_path))
            .collect();
        assert!(errors.is_empty(), "{errors:#?}");
        // A saved plan reads back.
        let back: Plan = serde_json::from_str(&json).expect("reads back");
        assert_eq!(back.connections.len(), 3);
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
    fn change_lines_head_each_change_and_count_the_rest() {
        let plan = every_kind();
        let (lines, more) = change_lines(&plan, 20);
        assert_eq!(
            lines,
            [
                "+ group ROOT/Prod/New",
                "+ connection ROOT/Prod/New/db-1 (ssh)    # manifests/prod.yaml:3",
                "~ connection ROOT/Prod/web \"1\" (ssh)  [1 open session]    # manifests/prod.yaml:12",
                "- connection ROOT/Prod/old (vnc)  [2 open sessions]",
                "+ user \"zoe\"",
                "+ READ for user \"zoe\": + group ROOT/Prod/New, + connection ROOT/Prod/New/db-1",
                "- READ for user group \"ops\": - connection ROOT/Prod/web \"1\"",
                "- close session uuid-1 of alice on ROOT/Prod/old",
            ]
        );
        assert_eq!(more, 0);
        let (first, more) = change_lines(&plan, 3);
        assert_eq!(first, lines[..3]);
        assert_eq!(more, 5);
        for line in &lines {
            for s in SECRETS {
                assert!(!line.contains(s), "{s} in {line}");
            }
        }
    }

    #[test]
    fn colour_only_when_asked_and_empty_plan() {
        assert!(render_text(&every_kind(), true).contains("\x1b[32m+"));
        assert!(!render_text(&every_kind(), false).contains('\x1b'));
        let mut empty = every_kind();
        empty.groups.clear();
        empty.connections.clear();
        empty.principals.clear();
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
}

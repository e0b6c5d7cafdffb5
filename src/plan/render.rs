//! Plans as people read them: Terraform-like text (`+` add, `~` change, `-`
//! remove), and the sections that the markdown for a pull-request comment
//! (`markdown.rs`) is built from. Sensitive values show as
//! `(sensitive)` (or the reference as written); multi-line values are diffed line
//! by line.

use std::fmt::Write as _;

use similar::{ChangeTag, TextDiff};

use super::{Action, Change, FieldChange, Grant, MembershipChange, PermissionChange, Plan};
use crate::kinds::Kind;
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

/// How a permission target is shown.
fn grant_text(g: &Grant, with_level: bool) -> String {
    match (&g.object, with_level) {
        (None, _) => format!("system {}", g.permission),
        (Some(o), true) => format!("{} on {o}", g.permission),
        (Some(o), false) => o.to_string(),
    }
}

/// One change: its header line and its field lines.
pub(super) fn change_block(p: &Paint, c: &Change) -> String {
    let mut out = String::new();
    let mark = match c.action {
        Action::Add => p.add("+"),
        Action::Change => p.change("~"),
        Action::Remove => p.remove("-"),
    };
    let moved = c
        .moved_from
        .as_ref()
        .map(|from| format!(" (moved from {})", from.path()))
        .unwrap_or_default();
    let detail = c
        .detail
        .as_ref()
        .map(|d| format!(" ({d})"))
        .unwrap_or_default();
    let sessions = if c.action == Action::Add {
        String::new()
    } else {
        sessions_note(c.active_sessions)
    };
    let source = c
        .source
        .as_ref()
        .filter(|_| c.action != Action::Remove)
        .map(|s| format!("    # {s}"))
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "  {mark} {}{moved}{detail}{sessions}{source}",
        c.object
    );
    match c.password {
        Some(super::PasswordChange::SetOnCreate) => {
            let _ = writeln!(out, "      {} password (set on create)", p.add("+"));
        }
        Some(super::PasswordChange::Reset) => {
            let _ = writeln!(out, "      {} password (reset)", p.change("~"));
        }
        None => {}
    }
    field_lines(&mut out, p, "", &c.fields);
    field_lines(&mut out, p, "", &c.parameters);
    field_lines(&mut out, p, "attribute", &c.attributes);
    out
}

/// One principal's permission changes. READ alone (what manifests grant) keeps
/// its short form; other levels and system permissions are named on each line.
pub(super) fn permission_block(p: &Paint, change: &PermissionChange) -> String {
    let mut out = String::new();
    let mark = match (change.grant.is_empty(), change.revoke.is_empty()) {
        (false, true) => p.add("+"),
        (true, false) => p.remove("-"),
        _ => p.change("~"),
    };
    let read_only = change
        .grant
        .iter()
        .chain(&change.revoke)
        .all(|g| g.object.is_some() && g.permission == "READ");
    if read_only {
        let _ = writeln!(out, "  {mark} READ for {}:", change.principal);
    } else {
        let _ = writeln!(out, "  {mark} permissions of {}:", change.principal);
    }
    for g in &change.grant {
        let _ = writeln!(out, "      {} {}", p.add("+"), grant_text(g, !read_only));
    }
    for g in &change.revoke {
        let _ = writeln!(out, "      {} {}", p.remove("-"), grant_text(g, !read_only));
    }
    out
}

/// One user group's member changes.
pub(super) fn membership_block(p: &Paint, m: &MembershipChange) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "  {} members of user group {:?}:",
        p.change("~"),
        m.group
    );
    for u in &m.add_users {
        let _ = writeln!(out, "      {} user {u:?}", p.add("+"));
    }
    for g in &m.add_groups {
        let _ = writeln!(out, "      {} user group {g:?}", p.add("+"));
    }
    for u in &m.remove_users {
        let _ = writeln!(out, "      {} user {u:?}", p.remove("-"));
    }
    for g in &m.remove_groups {
        let _ = writeln!(out, "      {} user group {g:?}", p.remove("-"));
    }
    out
}

/// One part of a plan as shown: its title (a markdown section's heading) and its
/// entries, each the lines of one change. Text and markdown are both built from
/// these, so a new kind of change is one more section for both.
pub(super) struct Section {
    pub title: String,
    /// Each entry's lines, each ending in a newline.
    pub entries: Vec<String>,
    /// A blank line after every entry (multi-line blocks) rather than once after
    /// the section (one-line entries).
    pub spaced: bool,
}

/// The plan's changes as sections, kind by kind in dependency order (groups,
/// connections, sharing profiles, user groups, users): what is added, moved,
/// changed and removed; then memberships, permissions and sessions. Groups to
/// remove come after the sharing profiles, where apply removes them (after what
/// was in them).
pub(super) fn sections(plan: &Plan, p: &Paint) -> Vec<Section> {
    let mut out = Vec::new();
    let mut groups_removed = None;
    for kind in Kind::ALL {
        let plural = kind.describe().plural;
        let one_line = matches!(kind, Kind::ConnectionGroup | Kind::User | Kind::UserGroup);
        let mut section = |verb: &str, pick: &dyn Fn(&Change) -> bool| {
            let picked: Vec<&Change> = plan.of_kind(kind).filter(|c| pick(c)).collect();
            let fields = picked.iter().any(|c| {
                !(c.fields.is_empty()
                    && c.parameters.is_empty()
                    && c.attributes.is_empty()
                    && c.password.is_none())
            });
            let mut title = format!("{plural} to {verb}");
            if let Some(first) = title.get_mut(..1) {
                first.make_ascii_uppercase();
            }
            out.push(Section {
                title,
                entries: picked.into_iter().map(|c| change_block(p, c)).collect(),
                spaced: !one_line || fields,
            });
        };
        let add = if kind == Kind::ConnectionGroup {
            "create"
        } else {
            "add"
        };
        section(add, &|c| c.action == Action::Add);
        if kind == Kind::Connection {
            // A moved connection is a change like any other, said on its line.
            section("change", &|c| c.action == Action::Change);
        } else {
            section("move", &|c| {
                c.action == Action::Change && c.moved_from.is_some()
            });
            section("change", &|c| {
                c.action == Action::Change && c.moved_from.is_none()
            });
        }
        section("remove", &|c| c.action == Action::Remove);
        match kind {
            Kind::ConnectionGroup => groups_removed = out.pop(),
            Kind::SharingProfile => out.extend(groups_removed.take()),
            _ => {}
        }
    }
    out.push(Section {
        title: "Memberships".to_owned(),
        entries: plan
            .memberships
            .iter()
            .map(|m| membership_block(p, m))
            .collect(),
        spaced: true,
    });
    let read_only = plan.permissions.iter().all(|c| {
        c.grant
            .iter()
            .chain(&c.revoke)
            .all(|g| g.object.is_some() && g.permission == "READ")
    });
    out.push(Section {
        title: if read_only {
            "READ permissions"
        } else {
            "Permissions"
        }
        .to_owned(),
        entries: plan
            .permissions
            .iter()
            .map(|c| permission_block(p, c))
            .collect(),
        spaced: true,
    });
    out.push(Section {
        title: "Sessions to close".to_owned(),
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
    });
    out
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
    let groups = s.of(Kind::ConnectionGroup);
    if groups.change > groups.moved {
        let _ = write!(line, "; {} groups to change", groups.change - groups.moved);
    }
    // Users and user groups created only to hold grants are counted here too.
    for kind in [Kind::SharingProfile, Kind::UserGroup, Kind::User] {
        let c = s.of(kind);
        let parts: Vec<String> = [
            (c.add, "to add"),
            (c.change, "to change"),
            (c.remove, "to remove"),
        ]
        .into_iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, what)| format!("{n} {what}"))
        .collect();
        if !parts.is_empty() {
            let _ = write!(line, "; {}: {}", kind.describe().plural, parts.join(", "));
        }
    }
    if s.memberships > 0 {
        let _ = write!(line, "; {} membership changes", s.memberships);
    }
    if s.sessions_closed > 0 {
        let _ = write!(line, "; {} sessions to close", s.sessions_closed);
    }
    let connection_batches = plan
        .batches
        .iter()
        .filter(|b| b.kind == Kind::Connection)
        .count();
    if connection_batches > 1 {
        let _ = write!(line, "; connections in {connection_batches} batches");
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
    for note in plan.visibility.iter().chain(&plan.non_atomic) {
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
pub(super) mod tests;

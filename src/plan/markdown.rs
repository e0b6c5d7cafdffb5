//! The plan as a pull-request (or merge-request) comment. A GitHub comment holds
//! at most 65,536 characters, and a plan of 2,000 new connections renders to more
//! than four times that, so the comment fits by construction: a hidden marker (CI
//! finds and updates its own comment by it), the summary table and counts, the
//! warnings, then one collapsed `<details>` section per kind of change, filled in
//! turns so that a small section (three removals) is never crowded out by a large
//! one (2,000 adds). What does not fit is counted, and a line says where the full
//! plan is (`--full-plan-url`, e.g. the CI job's artifact).

use std::fmt::Write as _;

use super::Plan;
use super::render::{Paint, Section, counts, diff_line, sections, uses};
use crate::kinds::Kind;

/// The first line of every markdown plan, invisible once rendered: CI scripts
/// find the comment to update by it.
pub const MARKER: &str = "<!-- guacsync-plan -->";

/// GitHub's limit for an issue or pull-request comment.
pub const COMMENT_LIMIT: usize = 65_536;

/// The size a markdown plan stays within, as measured by [`size`]: the limit
/// less room for a CI script to add a line of its own.
pub const DEFAULT_MAX_SIZE: usize = 64_000;

/// How a markdown plan is rendered.
#[derive(Clone, Debug)]
pub struct MarkdownOptions {
    /// Where the whole plan can be read, linked when the comment is cut.
    pub full_plan_url: Option<String>,
    /// At most this [`size`].
    pub max_size: usize,
}

impl Default for MarkdownOptions {
    fn default() -> Self {
        Self {
            full_plan_url: None,
            max_size: DEFAULT_MAX_SIZE,
        }
    }
}

/// The size of a comment, counted so that it bounds every way a forge may count
/// it: UTF-8 bytes (at least the characters or UTF-16 units), and each newline
/// twice (a forge may store it as CRLF).
#[must_use]
pub fn size(text: &str) -> usize {
    text.len() + text.bytes().filter(|b| *b == b'\n').count()
}

/// Markdown for a pull-request comment, within [`DEFAULT_MAX_SIZE`], with no link
/// to a full plan.
#[must_use]
pub fn render_markdown(plan: &Plan) -> String {
    render_markdown_with(plan, &MarkdownOptions::default())
}

/// Markdown for a pull-request comment: the whole plan when it fits
/// `options.max_size`, else the summary, the warnings and as many entries of each
/// section as fit, and a line saying how many are not shown and where they are.
#[must_use]
pub fn render_markdown_with(plan: &Plan, options: &MarkdownOptions) -> String {
    let head = head(plan);
    let foot = foot(plan);
    if plan.is_empty() {
        return format!("{head}{}{foot}", warnings(plan, options.max_size));
    }
    let sections: Vec<Section> = sections(plan, &Paint { on: false })
        .into_iter()
        .filter(|s| !s.entries.is_empty())
        .collect();
    let blocks: Vec<Vec<String>> = sections
        .iter()
        .map(|s| s.entries.iter().map(|e| diff_entry(e, s.spaced)).collect())
        .collect();
    let total: usize = blocks.iter().map(Vec::len).sum();
    let all: Vec<usize> = blocks.iter().map(Vec::len).collect();
    // Warnings get at most half the room: the changes are what is reviewed.
    let warnings = warnings(plan, options.max_size / 2);
    let everything: Vec<Shown> = all
        .iter()
        .map(|&whole| Shown {
            whole,
            partial: None,
        })
        .collect();
    let whole = format!(
        "{head}{warnings}{}{foot}",
        details(&sections, &blocks, &everything)
    );
    if size(&whole) <= options.max_size {
        return whole;
    }
    // Everything that is always shown, with every section's frame at its
    // largest ("N of M shown": N has at most the digits of M, one of which the
    // frame for 0 already counts) and the longest truncation line.
    let frames: usize = sections
        .iter()
        .zip(&blocks)
        .map(|(s, b)| size(&frame(&s.title, b, 0, b.len(), true)) + b.len().to_string().len())
        .sum();
    let fixed = size(&head)
        + size(&warnings)
        + size(&foot)
        + frames
        + size(&cut_line(total, total, options.full_plan_url.as_deref()));
    let shown = fill(&blocks, options.max_size.saturating_sub(fixed));
    // An entry shown in part counts as not shown.
    let hidden = total - shown.iter().map(|s| s.whole).sum::<usize>();
    format!(
        "{head}{warnings}{}{}{foot}",
        details(&sections, &blocks, &shown),
        cut_line(hidden, total, options.full_plan_url.as_deref())
    )
}

/// What of a section is shown: its first `whole` entries, and possibly the start
/// of the next one.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Shown {
    whole: usize,
    /// The first lines of entry `whole`, with a line counting the rest.
    partial: Option<String>,
}

/// What of each section fits in `room`: one entry of each section per turn, in
/// order, until a section's next entry does not fit (its entries stay in order,
/// so that section stops there). A section whose first entry alone does not fit
/// (one user granted 2,000 connections) shows the start of that entry instead, in
/// a share of the room as large as each section still filling would get.
fn fill(blocks: &[Vec<String>], mut room: usize) -> Vec<Shown> {
    let mut shown = vec![Shown::default(); blocks.len()];
    let mut stopped = vec![false; blocks.len()];
    loop {
        let mut progress = false;
        for (i, block) in blocks.iter().enumerate() {
            if stopped[i] {
                continue;
            }
            match block.get(shown[i].whole) {
                Some(entry) if size(entry) <= room => {
                    room -= size(entry);
                    shown[i].whole += 1;
                    progress = true;
                }
                Some(entry) if shown[i].whole == 0 => {
                    stopped[i] = true;
                    let filling = stopped.iter().filter(|s| !**s).count() + 1;
                    if let Some(part) = cut_entry(entry, room / filling) {
                        room -= size(&part);
                        shown[i].partial = Some(part);
                    }
                }
                _ => stopped[i] = true,
            }
        }
        if !progress {
            return shown;
        }
    }
}

/// The first lines of `entry` that fit in `room` with a line counting the others;
/// `None` when not one line fits.
fn cut_entry(entry: &str, room: usize) -> Option<String> {
    let lines: Vec<&str> = entry.trim_end_matches('\n').lines().collect();
    let note = |rest: usize| format!("# ... {rest} more line(s) of this entry not shown\n");
    let mut out = String::new();
    let mut kept = 0;
    for line in &lines {
        let next = size(line) + 1;
        if size(&out) + next + size(&note(lines.len())) > room {
            break;
        }
        out.push_str(line);
        out.push('\n');
        kept += 1;
    }
    if kept == 0 {
        return None;
    }
    out.push_str(&note(lines.len() - kept));
    Some(out)
}

fn head(plan: &Plan) -> String {
    let mut out = format!("{MARKER}\n### guacsync plan\n\n");
    for note in plan.visibility.iter().chain(&plan.non_atomic) {
        let _ = writeln!(out, "> **Warning:** {}\n", inert(note));
    }
    if plan.is_empty() {
        out.push_str("**No changes.** The server matches the manifests.\n");
        return out;
    }
    let s = &plan.summary;
    out.push_str("| change | count |\n|---|---:|\n");
    for (label, n) in [
        ("connections to add", s.add),
        ("connections to change", s.change),
        ("connections to remove", s.remove),
        ("connections moved (counted as changes)", s.moved),
        ("groups to create", s.groups),
        ("groups to move", s.groups_moved),
        ("groups to remove", s.groups_removed),
        (
            "groups to change",
            s.of(Kind::ConnectionGroup)
                .change
                .saturating_sub(s.groups_moved),
        ),
        ("sharing profiles to add", s.of(Kind::SharingProfile).add),
        (
            "sharing profiles to change",
            s.of(Kind::SharingProfile).change,
        ),
        (
            "sharing profiles to remove",
            s.of(Kind::SharingProfile).remove,
        ),
        ("user groups to add", s.of(Kind::UserGroup).add),
        ("user groups to change", s.of(Kind::UserGroup).change),
        ("user groups to remove", s.of(Kind::UserGroup).remove),
        ("users to add", s.of(Kind::User).add),
        ("users to change", s.of(Kind::User).change),
        ("users to remove", s.of(Kind::User).remove),
        ("membership changes", s.memberships),
        ("permission grants", s.grants),
        ("permission revocations", s.revokes),
        ("sessions to close", s.sessions_closed),
    ] {
        if n > 0 {
            let _ = writeln!(out, "| {label} | {n} |");
        }
    }
    let _ = writeln!(out, "\n{}", counts(plan));
    out
}

fn foot(plan: &Plan) -> String {
    let short: String = plan.fingerprint.chars().take(12).collect();
    format!(
        "{}\n<sub>data source `{}`, server state `{short}`</sub>\n",
        secrets_used(plan),
        plan.data_source
    )
}

/// The references the plan resolved (names and paths, never values), always
/// shown so that a reviewer sees a new one; at most [`SECRETS_SHOWN`] lines.
fn secrets_used(plan: &Plan) -> String {
    if plan.secrets_used.is_empty() {
        return String::new();
    }
    let mut out = String::from("\n**Secrets used** (values never shown)\n\n");
    for u in plan.secrets_used.iter().take(SECRETS_SHOWN) {
        let kind = match u.kind {
            super::SecretKind::Env => "env",
            super::SecretKind::File => "file",
        };
        let name = inert(&u.name).replace('`', "'");
        let _ = writeln!(out, "- {kind} `{name}`: {}", inert(&uses(u)));
    }
    if plan.secrets_used.len() > SECRETS_SHOWN {
        let _ = writeln!(
            out,
            "- ... and {} more (see the full plan)",
            plan.secrets_used.len() - SECRETS_SHOWN
        );
    }
    out
}

/// How many secret references the comment lists.
const SECRETS_SHOWN: usize = 50;

/// Text from manifests or the server, made inert in markdown: no HTML (a name
/// holding `<!--` or `</details>` cannot hide or fake anything) and no table
/// cell breaks.
fn inert(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('|', "\\|")
}

/// The warnings as a list, within `room`; the rest counted.
fn warnings(plan: &Plan, room: usize) -> String {
    if plan.warnings.is_empty() {
        return String::new();
    }
    let mut out = String::from("\n**Warnings**\n\n");
    // 80: room kept for the "... and N more" line.
    let mut left = room.saturating_sub(size(&out) + 80);
    for (i, w) in plan.warnings.iter().enumerate() {
        let line = format!("- {}\n", inert(&w.message).replace('\n', " "));
        if size(&line) > left {
            let _ = writeln!(
                out,
                "- ... and {} more warning(s), not shown",
                plan.warnings.len() - i
            );
            break;
        }
        left -= size(&line);
        out.push_str(&line);
    }
    out
}

/// One entry as lines of a `diff` code block (markers in the first column).
fn diff_entry(entry: &str, spaced: bool) -> String {
    let mut out = String::new();
    for line in entry.lines() {
        out.push_str(&diff_line(line));
        out.push('\n');
    }
    if spaced {
        out.push('\n');
    }
    out
}

/// A code fence longer than any run of backticks in `entries`, so no value can
/// close the block early.
fn fence(entries: &[String]) -> String {
    let longest = entries
        .iter()
        .flat_map(|e| e.split(|c| c != '`'))
        .map(str::len)
        .max()
        .unwrap_or(0);
    "`".repeat(longest.max(2) + 1)
}

/// A collapsed section around `shown` of its entries (and the start of one more
/// when `partial`), without them.
fn frame(title: &str, entries: &[String], shown: usize, total: usize, partial: bool) -> String {
    let fence = fence(entries);
    let count = if shown == total {
        total.to_string()
    } else if partial {
        format!("{shown} of {total} shown in full, one more in part")
    } else {
        format!("{shown} of {total} shown")
    };
    let mut out = format!("\n<details><summary>{title} ({count})</summary>\n\n{fence}diff\n");
    let rest = total - shown - usize::from(partial);
    if rest > 0 {
        let _ = writeln!(out, "# ... {rest} more not shown");
    }
    let _ = writeln!(out, "{fence}\n\n</details>");
    out
}

fn details(sections: &[Section], blocks: &[Vec<String>], shown: &[Shown]) -> String {
    let mut out = String::new();
    for ((section, entries), part) in sections.iter().zip(blocks).zip(shown) {
        let n = part.whole;
        let frame = frame(
            &section.title,
            entries,
            n,
            entries.len(),
            part.partial.is_some(),
        );
        // The entries go right after the opening fence line.
        let split = frame.find("diff\n").map_or(frame.len(), |i| i + 5);
        out.push_str(&frame[..split]);
        let mut body: String = entries[..n].concat();
        if n == entries.len() {
            // No blank line before the closing fence.
            while body.ends_with("\n\n") {
                body.pop();
            }
        }
        out.push_str(&body);
        if let Some(partial) = &part.partial {
            out.push_str(partial);
        }
        out.push_str(&frame[split..]);
    }
    out
}

/// The line saying what was cut and where the whole plan is.
fn cut_line(hidden: usize, total: usize, url: Option<&str>) -> String {
    let whole = match url {
        Some(url) => format!("The full plan: <{url}>"),
        None => "Run `guacsync plan` for the full plan, or give `--full-plan-url` (for example the CI job's artifact) to link it here.".to_owned(),
    };
    format!(
        "\n**This plan is too long for one comment: {hidden} of {total} entries are not shown.** {whole}\n"
    )
}

/// Checks a `--full-plan-url`: an http(s) URL that markdown shows as one link.
///
/// # Errors
/// Why the URL cannot be used.
pub fn check_full_plan_url(url: &str) -> Result<(), String> {
    if !(url.starts_with("https://") || url.starts_with("http://")) {
        return Err(format!(
            "--full-plan-url {url:?}: it must start with https:// or http://"
        ));
    }
    if let Some(c) = url
        .chars()
        .find(|c| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | '"' | '`'))
    {
        return Err(format!(
            "--full-plan-url {url:?}: {c:?} cannot be part of a link; percent-encode it"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests;

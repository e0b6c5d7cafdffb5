//! Diagnostics: every problem found in the input, collected (never stop at the
//! first), each with a severity, a stable code, a place and a hint.

use serde::Serialize;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

/// One problem in one file. `line` and `column` are 1-based; a problem with the file
/// as a whole (too large, unreadable) points at 1:1. The column counts characters,
/// not bytes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    pub severity: Severity,
    /// Stable, kebab-case, documented in the README (e.g. `duplicate-connection`).
    pub code: &'static str,
    pub file: String,
    pub line: u32,
    pub column: u32,
    pub message: String,
    pub help: Option<String>,
}

impl Diagnostic {
    #[must_use]
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// Codes of problems found where the text could not be parsed: the line may hold a
/// secret that the parser never classified, so it is shown only when the file names
/// no sensitive parameter at all.
const UNPARSED_CODES: &[&str] = &[
    "csv-syntax",
    "csv-record-length",
    "json-syntax",
    "yaml-syntax",
    "duplicate-key",
];

/// What the renderer needs to know about a file to show a source line safely.
pub struct SourceView<'a> {
    pub text: &'a str,
    /// Byte offsets where each line of `text` starts (see [`line_starts`]); when
    /// empty, lines are found by scanning.
    pub line_starts: &'a [usize],
    /// Literal secret values in the file; masked wherever they appear in a line.
    pub secrets: &'a [String],
    pub may_hold_secrets: bool,
}

impl SourceView<'_> {
    /// Line `n` (1-based) without its line break.
    fn line(&self, n: u32) -> Option<&str> {
        let i = (n as usize).checked_sub(1)?;
        if self.line_starts.is_empty() {
            return self.text.lines().nth(i);
        }
        let start = *self.line_starts.get(i)?;
        let end = self
            .line_starts
            .get(i + 1)
            .copied()
            .unwrap_or(self.text.len());
        let line = self.text.get(start..end)?;
        Some(
            line.strip_suffix('\n')
                .map_or(line, |l| l.strip_suffix('\r').unwrap_or(l)),
        )
    }
}

/// The byte offset of the start of every line of `text` (lines end with `\n`).
#[must_use]
pub fn line_starts(text: &str) -> Vec<usize> {
    std::iter::once(0)
        .chain(text.match_indices('\n').map(|(i, _)| i + 1))
        .filter(|&i| i < text.len() || i == 0)
        .collect()
}

struct Style {
    on: bool,
}

impl Style {
    fn paint(&self, code: &str, text: &str) -> String {
        if self.on {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }
}

/// Renders one diagnostic as text: `file:line:col: severity[code]: message`, the
/// source line with a caret under the column, then the help.
#[must_use]
pub fn render(d: &Diagnostic, source: Option<&SourceView<'_>>, color: bool) -> String {
    use std::fmt::Write as _;
    let style = Style { on: color };
    let (label, paint) = match d.severity {
        Severity::Error => ("error", "1;31"),
        Severity::Warning => ("warning", "1;33"),
    };
    let mut out = format!(
        "{}: {}: {}\n",
        style.paint("1", &format!("{}:{}:{}", d.file, d.line, d.column)),
        style.paint(paint, &format!("{label}[{}]", d.code)),
        d.message
    );
    if let Some(src) = source {
        let line_text = src.line(d.line);
        if let Some(line_text) = line_text {
            let gutter = d.line.to_string();
            let pad = " ".repeat(gutter.len());
            if src.may_hold_secrets && UNPARSED_CODES.contains(&d.code) {
                let _ = writeln!(
                    out,
                    "{pad} | (source line not shown: this file holds secrets)"
                );
            } else {
                let caret_at = (d.column.saturating_sub(1) as usize).min(line_text.chars().count());
                let (shown, caret_at) = masked_window(line_text, src.secrets, caret_at);
                let _ = writeln!(out, "{} | {shown}", style.paint("34", &gutter));
                let _ = writeln!(
                    out,
                    "{pad} | {}{}",
                    " ".repeat(caret_at),
                    style.paint(paint, "^")
                );
            }
        }
    }
    if let Some(help) = &d.help {
        let _ = writeln!(out, "  = {} {help}", style.paint("1", "help:"));
    }
    out
}

/// The longest source line shown whole; a longer one is cut to a window around
/// the caret, so a hostile file cannot make one diagnostic print megabytes.
const MAX_SHOWN_CHARS: usize = 160;

/// What a secret is shown as in a source line, whatever its length: a mask as
/// long as the secret would tell its length.
pub const MASK: &str = "********";

/// The line as shown: each run of secret characters as one [`MASK`], tabs as
/// spaces, cut to a window around `caret` (see [`window_bounds`]), and where the
/// caret falls in it (at a mask's start when it points into a secret). The
/// window is chosen on the line as written, and only the part of a long line
/// that can reach it is searched for secrets (the window widened by the longest
/// secret on each side, so a secret overlapping the window lies wholly in that
/// part): masking a megabyte-long line for each of its diagnostics was quadratic.
fn masked_window(line: &str, secrets: &[String], caret: usize) -> (String, usize) {
    let len = line.chars().count();
    let (start, end) = if len <= MAX_SHOWN_CHARS {
        (0, len)
    } else {
        window_bounds(len, caret)
    };
    let margin = secrets.iter().map(|s| s.chars().count()).max().unwrap_or(0);
    let from = start.saturating_sub(margin);
    let to = end.saturating_add(margin).min(len);
    let part: String = line.chars().skip(from).take(to - from).collect();
    let secret = secret_chars(&part, secrets);
    let chars: Vec<char> = part.chars().collect();
    let mut out = String::new();
    let mut shown = 0;
    let mut at = None;
    if start > 0 {
        out.push('…');
        shown += 1;
    }
    let mut i = start;
    while i < end {
        if secret[i - from] {
            let run_end = (i..end).find(|j| !secret[j - from]).unwrap_or(end);
            if (i..run_end).contains(&caret) {
                at = Some(shown);
            }
            out.push_str(MASK);
            shown += MASK.len();
            i = run_end;
        } else {
            if i == caret {
                at = Some(shown);
            }
            out.push(match chars[i - from] {
                '\t' => ' ',
                c => c,
            });
            shown += 1;
            i += 1;
        }
    }
    if end < len {
        out.push('…');
    }
    (out, at.unwrap_or(shown))
}

/// Which characters of `text` belong to an occurrence of a secret.
fn secret_chars(text: &str, secrets: &[String]) -> Vec<bool> {
    let mut in_secret = vec![false; text.len()];
    for secret in secrets.iter().filter(|s| !s.is_empty()) {
        for (at, found) in text.match_indices(secret.as_str()) {
            in_secret[at..at + found.len()].fill(true);
        }
    }
    text.char_indices().map(|(at, _)| in_secret[at]).collect()
}

/// The window of a line of `len` characters shown around `caret`.
fn window_bounds(len: usize, caret: usize) -> (usize, usize) {
    let half = MAX_SHOWN_CHARS / 2;
    let start = caret.saturating_sub(half).min(len - MAX_SHOWN_CHARS);
    (start, start + MAX_SHOWN_CHARS)
}

/// `2 errors, 1 warning` style counts.
#[must_use]
pub fn summary(diagnostics: &[Diagnostic]) -> String {
    let errors = diagnostics.iter().filter(|d| d.is_error()).count();
    let warnings = diagnostics.len() - errors;
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    format!(
        "{}, {}",
        plural(errors, "error"),
        plural(warnings, "warning")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn diag(code: &'static str, line: u32, column: u32) -> Diagnostic {
        Diagnostic {
            severity: Severity::Error,
            code,
            file: "m.csv".into(),
            line,
            column,
            message: "msg".into(),
            help: Some("try this".into()),
        }
    }

    #[test]
    fn renders_location_line_caret_and_help() {
        let text = "name,protocol\r\nweb,SSH\n";
        let starts = line_starts(text);
        assert_eq!(starts, vec![0, 15]);
        for line_starts in [&starts[..], &[]] {
            let view = SourceView {
                text,
                line_starts,
                secrets: &[],
                may_hold_secrets: false,
            };
            let text = render(&diag("unknown-protocol", 2, 5), Some(&view), false);
            assert_eq!(
                text,
                "m.csv:2:5: error[unknown-protocol]: msg\n2 | web,SSH\n  |     ^\n  = help: try this\n"
            );
        }
    }

    #[test]
    fn a_long_line_is_cut_to_a_window_around_the_caret() {
        let line = format!("{}X{}", "a".repeat(10_000), "b".repeat(10_000));
        let view = SourceView {
            text: &line,
            line_starts: &[0],
            secrets: &[],
            may_hold_secrets: false,
        };
        let text = render(&diag("too-deep", 1, 10_001), Some(&view), false);
        let lines: Vec<&str> = text.lines().collect();
        assert!(
            lines[1].chars().count() < MAX_SHOWN_CHARS + 10,
            "{}",
            lines[1]
        );
        assert!(lines[1].starts_with("1 | …") && lines[1].ends_with('…'));
        // The caret still points at the X.
        let caret = lines[2].chars().position(|c| c == '^').expect("caret");
        assert_eq!(lines[1].chars().nth(caret), Some('X'));
        // Near the start nothing is cut before.
        let (cut, at) = masked_window(&line, &[], 3);
        assert!(!cut.starts_with('…') && cut.ends_with('…') && at == 3);
    }

    #[test]
    fn masks_secrets_and_hides_unparsed_lines() {
        let secrets = vec!["hunter2".to_owned()];
        let view = SourceView {
            text: "name,protocol,password\nweb,ssh,hunter2\n",
            line_starts: &[],
            secrets: &secrets,
            may_hold_secrets: true,
        };
        let text = render(&diag("missing-name", 2, 1), Some(&view), false);
        assert!(text.contains("web,ssh,********\n"), "{text}");
        let text = render(&diag("csv-syntax", 2, 1), Some(&view), false);
        assert!(
            !text.contains("hunter2") && text.contains("not shown"),
            "{text}"
        );
    }

    #[test]
    fn a_long_line_is_masked_where_the_window_can_see_it() {
        // A secret straddling the window's edge is masked whole; one far away is
        // not looked at.
        let secret = "S".repeat(100) + "ecret";
        let line = format!("{}{secret}{}", "a".repeat(300), "b".repeat(5000));
        let secrets = vec![secret.clone(), "far-away".to_owned()];
        let (shown, caret) = masked_window(&line, &secrets, 320);
        assert!(!shown.contains('S') && !shown.contains("ecret"), "{shown}");
        // The window (characters 240-399) ends inside the secret: one mask, the
        // caret on it.
        assert_eq!(shown, format!("…{}{MASK}…", "a".repeat(60)));
        assert_eq!(caret, 61);
        // From inside the secret to past it: one mask, then what follows.
        let (shown, caret) = masked_window(&line, &secrets, 450);
        assert!(shown.starts_with(&format!("…{MASK}bbb")), "{shown}");
        assert_eq!(shown.chars().nth(caret), Some('b'));
    }

    #[test]
    fn a_mask_does_not_tell_the_length_and_the_caret_follows() {
        let check = |line: &str, secrets: &[&str], caret: usize, shown: &str, at: usize| {
            let secrets: Vec<String> = secrets.iter().map(|s| (*s).to_owned()).collect();
            assert_eq!(
                masked_window(line, &secrets, caret),
                (shown.to_owned(), at),
                "{line:?} at {caret}"
            );
        };
        let m = MASK;
        // Short and long secrets look alike; what follows keeps its caret.
        check("p=ab,q=x", &["ab"], 7, &format!("p={m},q=x"), 13);
        check(
            "p=abcdefghijklmnopqrstuvwxyz,q=x",
            &["abcdefghijklmnopqrstuvwxyz"],
            31,
            &format!("p={m},q=x"),
            13,
        );
        // A caret inside a secret points at its mask; before it, unmoved.
        check("k: hunter2 # c", &["hunter2"], 5, &format!("k: {m} # c"), 3);
        check("k: hunter2 # c", &["hunter2"], 1, &format!("k: {m} # c"), 1);
        // Overlapping and adjacent secrets are one run, one mask.
        check("x abcdef y", &["abcd", "cdef"], 9, &format!("x {m} y"), 11);
        // A tab is a space; a caret past the end stays past the end.
        check("a\tb", &[], 3, "a b", 3);
    }

    #[test]
    fn colour_only_when_asked() {
        let plain = render(&diag("x", 1, 1), None, false);
        assert!(!plain.contains('\x1b'));
        let coloured = render(&diag("x", 1, 1), None, true);
        assert!(coloured.contains("\x1b[1;31m"));
    }
}

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
    /// Literal secret values in the file; masked wherever they appear in a line.
    pub secrets: &'a [String],
    pub may_hold_secrets: bool,
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
        let line_text = src.text.lines().nth(d.line.saturating_sub(1) as usize);
        if let Some(line_text) = line_text {
            let gutter = d.line.to_string();
            let pad = " ".repeat(gutter.len());
            if src.may_hold_secrets && UNPARSED_CODES.contains(&d.code) {
                let _ = writeln!(
                    out,
                    "{pad} | (source line not shown: this file holds secrets)"
                );
            } else {
                let shown = mask(line_text, src.secrets);
                let shown = shown.replace('\t', " ");
                let caret_at = (d.column.saturating_sub(1) as usize).min(shown.chars().count());
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

/// Replaces every occurrence of a secret with as many `*` as it has characters,
/// so the caret still points at the right column.
fn mask(line: &str, secrets: &[String]) -> String {
    let mut shown = line.to_owned();
    for secret in secrets.iter().filter(|s| !s.is_empty()) {
        if shown.contains(secret.as_str()) {
            shown = shown.replace(secret.as_str(), &"*".repeat(secret.chars().count()));
        }
    }
    shown
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
        let view = SourceView {
            text: "name,protocol\nweb,SSH\n",
            secrets: &[],
            may_hold_secrets: false,
        };
        let text = render(&diag("unknown-protocol", 2, 5), Some(&view), false);
        assert_eq!(
            text,
            "m.csv:2:5: error[unknown-protocol]: msg\n2 | web,SSH\n  |     ^\n  = help: try this\n"
        );
    }

    #[test]
    fn masks_secrets_and_hides_unparsed_lines() {
        let secrets = vec!["hunter2".to_owned()];
        let view = SourceView {
            text: "name,protocol,password\nweb,ssh,hunter2\n",
            secrets: &secrets,
            may_hold_secrets: true,
        };
        let text = render(&diag("missing-name", 2, 1), Some(&view), false);
        assert!(text.contains("web,ssh,*******"), "{text}");
        let text = render(&diag("csv-syntax", 2, 1), Some(&view), false);
        assert!(
            !text.contains("hunter2") && text.contains("not shown"),
            "{text}"
        );
    }

    #[test]
    fn colour_only_when_asked() {
        let plain = render(&diag("x", 1, 1), None, false);
        assert!(!plain.contains('\x1b'));
        let coloured = render(&diag("x", 1, 1), None, true);
        assert!(coloured.contains("\x1b[1;31m"));
    }
}

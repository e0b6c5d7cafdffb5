//! Table-driven tests of estate documents: input text → expected objects or
//! diagnostics (code, line, column; and the exact message and help where the
//! wording is the point). One file per rule family.

mod load;
mod objects;
mod principals;
mod schema_file;
mod shape;

use crate::diagnostic::Diagnostic;
use crate::manifest::{Format, ParseOptions, Parsed, parse_bytes};
use crate::schema::Schema;

/// Expected diagnostics: (code, line, column).
type Expected = &'static [(&'static str, u32, u32)];

fn parse_as(format: Format, text: &str, strict: bool) -> Parsed {
    parse_bytes(
        "e",
        text.as_bytes(),
        format,
        Schema::builtin(),
        &ParseOptions { strict },
    )
}

fn yaml(text: &str) -> Parsed {
    parse_as(Format::Yaml, text, false)
}

/// (code, line, column) of every diagnostic, in the order of the file.
fn codes(p: &Parsed) -> Vec<(&'static str, u32, u32)> {
    let mut out: Vec<_> = p
        .diagnostics
        .iter()
        .map(|d| (d.code, d.line, d.column))
        .collect();
    out.sort_by_key(|(code, line, column)| (*line, *column, *code));
    out
}

/// The one diagnostic with this code.
fn the<'a>(p: &'a Parsed, code: &str) -> &'a Diagnostic {
    let found: Vec<&Diagnostic> = p.diagnostics.iter().filter(|d| d.code == code).collect();
    assert_eq!(found.len(), 1, "{code}: {:?}", p.diagnostics);
    found[0]
}

/// Runs a table of YAML inputs; each must give exactly its diagnostics, and an
/// input with an error must leave its object out of the model. Every row is run
/// before the test fails, and the failure lists every row that did not match.
fn table(cases: &[(&str, Expected)]) {
    let mut failures = Vec::new();
    for (input, expected) in cases {
        let p = yaml(input);
        if codes(&p) != *expected {
            failures.push(format!("{input}  got {:?}\n  want {expected:?}", codes(&p)));
        }
        let errors = p.diagnostics.iter().any(Diagnostic::is_error);
        let e = &p.estate;
        let objects = e.connection_groups.len()
            + e.sharing_profiles.len()
            + e.user_groups.len()
            + e.users.len();
        if errors && objects > 0 {
            failures.push(format!("{input}  an object with an error is kept"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

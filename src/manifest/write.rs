//! Deterministic writers for the three manifest formats. Whatever they write, the
//! readers read back as the same entries (a property test checks it), and so does
//! Guacamole's own importer: YAML quotes every scalar the YAML 1.2 core schema
//! would type, CSV suffixes a header with ` (parameter)` / ` (attribute)` wherever
//! the bare name would be classified differently. `export` uses these writers, so a
//! re-export of an unchanged server is byte-identical.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use serde::Serialize;

use crate::model::{Entry, Parent};
use crate::schema::Schema;

fn parent_fields(entry: &Entry) -> (Option<String>, Option<String>) {
    match &entry.parent {
        Parent::Group(g) => (Some(g.to_string()), None),
        Parent::Identifier(id) => (None, Some(id.clone())),
    }
}

// ---------------------------------------------------------------------------- CSV

const RESERVED: &[&str] = &[
    "name",
    "protocol",
    "group",
    "parentIdentifier",
    "users",
    "groups",
];

fn csv_cell(out: &mut String, text: &str) {
    if text.contains([',', '"', '\n', '\r']) {
        out.push('"');
        out.push_str(&text.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(text);
    }
}

fn csv_list(items: &[String]) -> String {
    let escaped: Vec<String> = items
        .iter()
        .map(|i| i.replace('\\', "\\\\").replace(';', "\\;"))
        .collect();
    escaped.join(";")
}

/// Whether a bare header `name` would be read as the parameter `name` in every row
/// that has a value for it.
fn bare_parameter_ok(name: &str, entries: &[Entry], schema: &Schema) -> bool {
    if RESERVED.contains(&name)
        || name.ends_with(" (parameter)")
        || name.ends_with(" (attribute)")
        || name.trim() != name
        || schema.connection_attribute(name).is_some()
    {
        return false;
    }
    entries
        .iter()
        .filter(|e| e.parameters.contains_key(name))
        .all(|e| {
            schema
                .protocol(&e.protocol)
                .is_some_and(|p| !p.is_checked() || p.field(name).is_some())
        })
}

fn bare_attribute_ok(name: &str, entries: &[Entry], schema: &Schema) -> bool {
    !RESERVED.contains(&name)
        && !name.ends_with(" (parameter)")
        && !name.ends_with(" (attribute)")
        && schema.connection_attribute(name).is_some()
        && entries
            .iter()
            .filter(|e| e.attributes.contains_key(name))
            .all(|e| {
                schema
                    .protocol(&e.protocol)
                    .is_some_and(|p| p.is_checked() && p.field(name).is_none())
            })
}

/// Writes entries as one CSV file: `name,protocol,group[,parentIdentifier],users,groups`,
/// then one column per parameter and per attribute (sorted).
#[must_use]
pub fn to_csv(entries: &[Entry], schema: &Schema) -> String {
    let parameters: BTreeSet<&str> = entries
        .iter()
        .flat_map(|e| e.parameters.keys().map(crate::fields::Name::as_str))
        .collect();
    let attributes: BTreeSet<&str> = entries
        .iter()
        .flat_map(|e| e.attributes.keys().map(crate::fields::Name::as_str))
        .collect();
    let with_identifier = entries
        .iter()
        .any(|e| matches!(e.parent, Parent::Identifier(_)));

    let mut header: Vec<String> = vec!["name".into(), "protocol".into(), "group".into()];
    if with_identifier {
        header.push("parentIdentifier".into());
    }
    header.push("users".into());
    header.push("groups".into());
    for p in &parameters {
        header.push(if bare_parameter_ok(p, entries, schema) {
            (*p).to_owned()
        } else {
            format!("{p} (parameter)")
        });
    }
    for a in &attributes {
        header.push(if bare_attribute_ok(a, entries, schema) {
            (*a).to_owned()
        } else {
            format!("{a} (attribute)")
        });
    }

    let mut out = String::new();
    for (i, h) in header.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        csv_cell(&mut out, h);
    }
    out.push('\n');
    for e in entries {
        let (group, parent_id) = parent_fields(e);
        let mut cells: Vec<String> = vec![
            e.name.clone(),
            e.protocol.clone(),
            group.unwrap_or_default(),
        ];
        if with_identifier {
            cells.push(parent_id.unwrap_or_default());
        }
        cells.push(csv_list(&e.users));
        cells.push(csv_list(&e.groups));
        for p in &parameters {
            cells.push(e.parameters.get(p).cloned().unwrap_or_default());
        }
        for a in &attributes {
            cells.push(e.attributes.get(a).cloned().unwrap_or_default());
        }
        for (i, c) in cells.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            csv_cell(&mut out, c);
        }
        out.push('\n');
    }
    out
}

// --------------------------------------------------------------------------- JSON

/// One connection as the JSON writer writes it (also inside estate documents).
#[derive(Serialize)]
pub(crate) struct JsonEntry<'a> {
    name: &'a str,
    protocol: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    group: Option<String>,
    #[serde(rename = "parentIdentifier", skip_serializing_if = "Option::is_none")]
    parent_identifier: Option<String>,
    parameters: &'a crate::fields::Fields<String>,
    #[serde(skip_serializing_if = "crate::fields::Fields::is_empty")]
    attributes: &'a crate::fields::Fields<String>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    users: &'a [String],
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    groups: &'a [String],
}

/// Entries in the shape the JSON writer gives them.
pub(crate) fn json_entries(entries: &[Entry]) -> Vec<JsonEntry<'_>> {
    entries
        .iter()
        .map(|e| {
            let (group, parent_identifier) = parent_fields(e);
            JsonEntry {
                name: &e.name,
                protocol: &e.protocol,
                group,
                parent_identifier,
                parameters: &e.parameters,
                attributes: &e.attributes,
                users: &e.users,
                groups: &e.groups,
            }
        })
        .collect()
}

/// Writes entries as a pretty-printed JSON list (2-space indent, trailing newline).
#[must_use]
pub fn to_json(entries: &[Entry]) -> String {
    // Serialising plain strings and maps cannot fail.
    let mut out = serde_json::to_string_pretty(&json_entries(entries)).unwrap_or_default();
    out.push('\n');
    out
}

// --------------------------------------------------------------------------- YAML

fn yaml_printable(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\u{20}'..='\u{7e}' | '\u{a0}'..='\u{d7ff}' | '\u{e000}'..='\u{fffd}' | '\u{10000}'..)
        && c != '\u{feff}'
}

/// True when the YAML 1.2 core schema (or a YAML 1.1 reader) would give the plain
/// scalar a type other than string.
fn looks_typed(s: &str) -> bool {
    const WORDS: &[&str] = &[
        "~", "null", "true", "false", "yes", "no", "on", "off", "y", "n", ".inf", "-.inf", "+.inf",
        ".nan",
    ];
    if WORDS.contains(&s.to_ascii_lowercase().as_str()) {
        return true;
    }
    let body = s.strip_prefix(['-', '+']).unwrap_or(s);
    let first = body.chars().next();
    // Anything that starts like a number is quoted: ints, floats, 0x/0o, dates, times.
    matches!(first, Some('0'..='9'))
        || (first == Some('.') && body[1..].starts_with(|c: char| c.is_ascii_digit()))
}

pub(crate) fn plain_ok(s: &str) -> bool {
    let Some(first) = s.chars().next() else {
        return false;
    };
    if "-?:,[]{}#&*!|>'\"%@`".contains(first) || first == ' ' {
        return false;
    }
    if s.ends_with([' ', ':']) || s.contains(": ") || s.contains(" #") || s.contains('\t') {
        return false;
    }
    if !s.chars().all(|c| yaml_printable(c) && c != '\n') {
        return false;
    }
    !looks_typed(s)
}

pub(crate) fn double_quoted(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if yaml_printable(c) => out.push(c),
            c if u32::from(c) <= 0xFF => {
                let _ = write!(out, "\\x{:02X}", u32::from(c));
            }
            c => {
                let _ = write!(out, "\\u{:04X}", u32::from(c));
            }
        }
    }
    out.push('"');
}

pub(crate) fn scalar(out: &mut String, s: &str) {
    if plain_ok(s) {
        out.push_str(s);
    } else {
        double_quoted(out, s);
    }
}

/// A multi-line value as a literal block (`|`), when that represents it exactly.
fn block_ok(s: &str) -> bool {
    s.contains('\n')
        && !s.starts_with([' ', '\t', '\n'])
        && s.chars()
            .all(|c| c == '\n' || (yaml_printable(c) && c != '\t'))
        && !s.trim_end_matches('\n').is_empty()
        && !s.split('\n').any(|line| line.ends_with(' '))
}

pub(crate) fn value(out: &mut String, s: &str, indent: usize) {
    if block_ok(s) {
        let trailing = s.len() - s.trim_end_matches('\n').len();
        out.push_str(match trailing {
            0 => "|-",
            1 => "|",
            _ => "|+",
        });
        out.push('\n');
        let body = s.strip_suffix('\n').unwrap_or(s);
        for line in body.split('\n') {
            if !line.is_empty() {
                out.push_str(&" ".repeat(indent));
                out.push_str(line);
            }
            out.push('\n');
        }
    } else {
        scalar(out, s);
        out.push('\n');
    }
}

fn yaml_map(out: &mut String, key: &str, map: &crate::fields::Fields<String>) {
    if map.is_empty() {
        return;
    }
    let _ = writeln!(out, "  {key}:");
    for (k, v) in map {
        out.push_str("    ");
        scalar(out, k);
        out.push_str(": ");
        value(out, v, 6);
    }
}

fn yaml_list(out: &mut String, key: &str, items: &[String]) {
    if items.is_empty() {
        return;
    }
    let _ = writeln!(out, "  {key}:");
    for item in items {
        out.push_str("    - ");
        scalar(out, item);
        out.push('\n');
    }
}

/// Writes entries as a YAML list (block style, 2-space indent).
#[must_use]
pub fn to_yaml(entries: &[Entry]) -> String {
    let mut out = String::new();
    if entries.is_empty() {
        out.push_str("[]\n");
        return out;
    }
    for e in entries {
        out.push_str("- name: ");
        value(&mut out, &e.name, 4);
        out.push_str("  protocol: ");
        scalar(&mut out, &e.protocol);
        out.push('\n');
        match &e.parent {
            Parent::Group(g) => {
                out.push_str("  group: ");
                scalar(&mut out, &g.to_string());
                out.push('\n');
            }
            Parent::Identifier(id) => {
                out.push_str("  parentIdentifier: ");
                double_quoted(&mut out, id);
                out.push('\n');
            }
        }
        yaml_map(&mut out, "parameters", &e.parameters);
        yaml_map(&mut out, "attributes", &e.attributes);
        yaml_list(&mut out, "users", &e.users);
        yaml_list(&mut out, "groups", &e.groups);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_scalar_quoting_table() {
        let cases = [
            ("web-1", "web-1"),
            ("0022", "\"0022\""),
            ("22", "\"22\""),
            ("true", "\"true\""),
            ("Yes", "\"Yes\""),
            ("~", "\"~\""),
            ("", "\"\""),
            ("a: b", "\"a: b\""),
            ("-x", "\"-x\""),
            ("${GUAC_USERNAME}", "${GUAC_USERNAME}"),
            ("ROOT/a\\/b", "ROOT/a\\/b"),
            ("tab\there", "\"tab\\there\""),
            ("del\u{7f}", "\"del\\x7F\""),
            (" lead", "\" lead\""),
            ("10.0.0.5", "\"10.0.0.5\""),
        ];
        for (input, expected) in cases {
            let mut out = String::new();
            scalar(&mut out, input);
            assert_eq!(out, expected, "{input:?}");
        }
    }
}

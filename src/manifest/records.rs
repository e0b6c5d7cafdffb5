//! The format-neutral form of one manifest entry before the per-entry rules run:
//! each field with the position it was written at. CSV rows and JSON/YAML objects
//! both become a `RawEntry`; `check` then applies one set of rules to all of them.

use super::node::{Node, Pos, ScalarKind, Value};
use crate::diagnostic::{Diagnostic, Severity};

/// A text value and where it was written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Field {
    pub text: String,
    pub pos: Pos,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RawEntry {
    pub pos: Pos,
    pub name: Option<Field>,
    pub protocol: Option<Field>,
    pub group: Option<Field>,
    pub parent_identifier: Option<Field>,
    /// (name, value) pairs in document order; values are never empty.
    pub parameters: Vec<(Field, Field)>,
    pub attributes: Vec<(Field, Field)>,
    pub users: Vec<Field>,
    pub groups: Vec<Field>,
    /// JSON/YAML: parameter and attribute names are checked against the schema
    /// (upstream does not check them; guacsync warns). CSV headers were classified
    /// against the schema already.
    pub check_names: bool,
    /// A problem was already reported for this entry while reading it; the entry is
    /// not usable, but the other rules still run so every problem is reported.
    pub broken: bool,
    /// Values of cells that were not classified (their row's protocol is invalid)
    /// but sit under a header that names a sensitive parameter, or whose header is
    /// unknown to the row's protocol: they are masked when a source line is shown.
    pub unclassified_secrets: Vec<String>,
}

/// Diagnostics kept per file. Each costs a few hundred bytes, and a hostile file
/// can make one every two bytes (4 million `x` rows under a three-column header
/// took 1.8 GB), so past this many they are counted, and [`Sink::finish`] adds one
/// `too-many-diagnostics` saying how many more there were.
pub const MAX_DIAGNOSTICS_PER_FILE: usize = 500_000;

/// How many distinct group paths a file's entries share (past this many, a path
/// is parsed per entry: correct, only not shared), so a file of a million groups
/// does not grow the cache without bound.
pub const MAX_SHARED_GROUPS: usize = 10_000;

/// "Did you mean" hints are worked out for a file's first this-many diagnostics:
/// each one measures a distance to every known name.
const MAX_HINTED: usize = 1_000;

/// A message or hint longer than this (it names a hostile key of a megabyte, say)
/// keeps its beginning and its end.
const MAX_MESSAGE_CHARS: usize = 400;

/// Collects diagnostics for one file.
pub struct Sink<'a> {
    pub file: &'a str,
    pub strict: bool,
    pub out: Vec<Diagnostic>,
    /// Diagnostics past [`MAX_DIAGNOSTICS_PER_FILE`], not kept: how many, and how
    /// many of them errors.
    dropped: usize,
    dropped_errors: usize,
    /// Errors reported so far, kept or not: a reader compares it before and after
    /// an object to know whether that object had a problem.
    errors: usize,
    /// The valid group paths read so far, by their text: the entries of one group
    /// share one path instead of a copy each. At most [`MAX_SHARED_GROUPS`].
    pub(crate) groups: std::collections::HashMap<String, crate::model::GroupPath>,
}

impl<'a> Sink<'a> {
    #[must_use]
    pub fn new(file: &'a str, strict: bool) -> Self {
        Self {
            file,
            strict,
            out: Vec::new(),
            dropped: 0,
            dropped_errors: 0,
            errors: 0,
            groups: std::collections::HashMap::new(),
        }
    }

    /// How many errors were reported (including those not kept).
    #[must_use]
    pub fn errors(&self) -> usize {
        self.errors
    }

    /// Whether a "did you mean" hint is still worth its cost for this file.
    #[must_use]
    pub fn wants_hints(&self) -> bool {
        self.out.len() < MAX_HINTED
    }

    /// The diagnostics, and one more saying how many were not kept, if any were not.
    #[must_use]
    pub fn finish(mut self) -> Vec<Diagnostic> {
        if self.dropped > 0 {
            self.out.push(Diagnostic {
                severity: if self.dropped_errors > 0 {
                    Severity::Error
                } else {
                    Severity::Warning
                },
                code: "too-many-diagnostics",
                file: self.file.to_owned(),
                line: 1,
                column: 1,
                message: format!(
                    "{} more problem(s) ({} of them errors) were found in this file and not kept: a file keeps its first {MAX_DIAGNOSTICS_PER_FILE}",
                    self.dropped, self.dropped_errors
                ),
                help: None,
            });
        }
        self.out
    }

    pub fn error(
        &mut self,
        code: &'static str,
        pos: Pos,
        message: impl Into<String>,
        help: Option<String>,
    ) {
        self.push(Severity::Error, code, pos, message.into(), help);
    }

    pub fn warning(
        &mut self,
        code: &'static str,
        pos: Pos,
        message: impl Into<String>,
        help: Option<String>,
    ) {
        self.push(Severity::Warning, code, pos, message.into(), help);
    }

    /// A warning that `--strict` turns into an error.
    pub fn strict_warning(
        &mut self,
        code: &'static str,
        pos: Pos,
        message: impl Into<String>,
        help: Option<String>,
    ) {
        let severity = if self.strict {
            Severity::Error
        } else {
            Severity::Warning
        };
        self.push(severity, code, pos, message.into(), help);
    }

    fn push(
        &mut self,
        severity: Severity,
        code: &'static str,
        pos: Pos,
        message: String,
        help: Option<String>,
    ) {
        if severity == Severity::Error {
            self.errors += 1;
        }
        if self.out.len() >= MAX_DIAGNOSTICS_PER_FILE {
            self.dropped += 1;
            if severity == Severity::Error {
                self.dropped_errors += 1;
            }
            return;
        }
        self.out.push(Diagnostic {
            severity,
            code,
            file: self.file.to_owned(),
            line: pos.line,
            column: pos.column,
            message: shorten(message),
            help: help.map(shorten),
        });
    }
}

/// `text` if short; otherwise its first and last characters around an ellipsis.
fn shorten(text: String) -> String {
    let count = text.chars().count();
    if count <= MAX_MESSAGE_CHARS {
        return text;
    }
    let head = MAX_MESSAGE_CHARS * 3 / 5;
    let tail = MAX_MESSAGE_CHARS - head;
    let mut out: String = text.chars().take(head).collect();
    out.push_str(" … ");
    out.extend(text.chars().skip(count - tail));
    out
}

/// The keys of an import-format connection.
pub const KNOWN_KEYS: &[&str] = &[
    "name",
    "protocol",
    "parameters",
    "attributes",
    "group",
    "parentIdentifier",
    "users",
    "groups",
];

/// Turns a JSON/YAML document into raw entries (a top-level list of objects),
/// handing each to `emit` and dropping its nodes as it goes. A top-level mapping
/// is an estate document: see `crate::estate::read`.
pub fn from_document(
    root: Node,
    sink: &mut Sink<'_>,
    emit: &mut dyn FnMut(RawEntry, &mut Sink<'_>),
) {
    let Value::List(items) = root.value else {
        sink.error(
            "not-a-list",
            root.pos,
            format!("a manifest must be a list of connections, but this is {}", root.type_name()),
            Some("write the connections as a list: `[{...}, {...}]` in JSON, `- name: ...` items in YAML".to_owned()),
        );
        return;
    };
    if items.is_empty() {
        sink.warning(
            "empty-manifest",
            root.pos,
            "this manifest declares no connections",
            None,
        );
    }
    entries(items, sink, emit);
}

/// Reads each item of a list of connections (a manifest, or an estate document's
/// `connections`) and hands it to `emit`.
pub fn entries(
    items: Vec<Node>,
    sink: &mut Sink<'_>,
    emit: &mut dyn FnMut(RawEntry, &mut Sink<'_>),
) {
    for item in items {
        if let Some(raw) = entry(item, sink) {
            emit(raw, sink);
        }
    }
}

fn entry(node: Node, sink: &mut Sink<'_>) -> Option<RawEntry> {
    let pos = node.pos;
    let type_name = node.type_name();
    let Value::Map(pairs) = node.value else {
        sink.error(
            "not-an-object",
            pos,
            format!("each connection must be an object, but this is {type_name}"),
            None,
        );
        return None;
    };
    let mut raw = RawEntry {
        pos,
        check_names: true,
        ..RawEntry::default()
    };
    for (key, value) in pairs {
        let key_text = key.as_text().unwrap_or_default().to_owned();
        match key_text.as_str() {
            "name" | "protocol" => {
                let field = scalar_field(&key_text, &value, sink, &mut raw.broken);
                if key_text == "name" {
                    raw.name = field;
                } else {
                    raw.protocol = field;
                }
            }
            "group" => raw.group = string_field("group", &value, sink, &mut raw.broken, false),
            "parentIdentifier" => {
                raw.parent_identifier =
                    string_field("parentIdentifier", &value, sink, &mut raw.broken, true);
            }
            "parameters" | "attributes" => {
                let map = value_map(&key_text, value, sink, &mut raw.broken);
                if key_text == "parameters" {
                    raw.parameters = map;
                } else {
                    raw.attributes = map;
                }
            }
            "users" | "groups" => {
                let list = value_list(&key_text, value, sink, &mut raw.broken);
                if key_text == "users" {
                    raw.users = list;
                } else {
                    raw.groups = list;
                }
            }
            other => {
                let help = if other == "identifier" {
                    Some("guacsync identifies a connection by its group and name; `identifier` is ignored".to_owned())
                } else if sink.wants_hints() {
                    super::check::did_you_mean(other, KNOWN_KEYS.iter().copied())
                } else {
                    None
                };
                sink.strict_warning(
                    "unknown-key",
                    key.pos,
                    format!("unknown key {other:?} is ignored"),
                    help,
                );
            }
        }
    }
    Some(raw)
}

/// A scalar's text: strings, numbers (source text) and booleans; `None` for null.
fn scalar_text(node: &Node) -> Option<&str> {
    match &node.value {
        Value::Scalar {
            kind: ScalarKind::Null,
            ..
        } => None,
        Value::Scalar { text, .. } => Some(text),
        _ => None,
    }
}

fn is_null(node: &Node) -> bool {
    matches!(
        node.value,
        Value::Scalar {
            kind: ScalarKind::Null,
            ..
        }
    )
}

fn scalar_field(key: &str, node: &Node, sink: &mut Sink<'_>, broken: &mut bool) -> Option<Field> {
    if is_null(node) {
        return None;
    }
    if let Some(text) = scalar_text(node) {
        return Some(Field {
            text: text.to_owned(),
            pos: node.pos,
        });
    }
    *broken = true;
    sink.error(
        "invalid-type",
        node.pos,
        format!("`{key}` must be text, not {}", node.type_name()),
        None,
    );
    None
}

/// `group` must be a string (upstream's rule); `parentIdentifier` a string or an
/// integer.
fn string_field(
    key: &str,
    node: &Node,
    sink: &mut Sink<'_>,
    broken: &mut bool,
    allow_number: bool,
) -> Option<Field> {
    match &node.value {
        Value::Scalar {
            kind: ScalarKind::Null,
            ..
        } => None,
        Value::Scalar {
            kind: ScalarKind::Text,
            text,
        } => Some(Field {
            text: text.clone(),
            pos: node.pos,
        }),
        Value::Scalar {
            kind: ScalarKind::Number,
            text,
        } if allow_number => Some(Field {
            text: text.clone(),
            pos: node.pos,
        }),
        _ => {
            *broken = true;
            let expected = if allow_number {
                "a string or an integer"
            } else {
                "a string"
            };
            sink.error(
                "invalid-type",
                node.pos,
                format!("`{key}` must be {expected}, not {}", node.type_name()),
                None,
            );
            None
        }
    }
}

/// `parameters` / `attributes`: an object of scalars; null values mean unset.
fn value_map(key: &str, node: Node, sink: &mut Sink<'_>, broken: &mut bool) -> Vec<(Field, Field)> {
    let pos = node.pos;
    let type_name = node.type_name();
    let pairs = match node.value {
        Value::Map(pairs) => pairs,
        Value::Scalar {
            kind: ScalarKind::Null,
            ..
        } => return Vec::new(),
        _ => {
            *broken = true;
            sink.error(
                "invalid-type",
                pos,
                format!("`{key}` must be an object of names and values, not {type_name}"),
                None,
            );
            return Vec::new();
        }
    };
    let mut out = Vec::with_capacity(pairs.len());
    for (k, v) in pairs {
        let name = k.as_text().unwrap_or_default().to_owned();
        match &v.value {
            Value::Scalar {
                kind: ScalarKind::Null,
                ..
            } => {}
            Value::Scalar { text, .. } => {
                if !text.is_empty() {
                    out.push((
                        Field {
                            text: name,
                            pos: k.pos,
                        },
                        Field {
                            text: text.clone(),
                            pos: v.pos,
                        },
                    ));
                }
            }
            _ => {
                *broken = true;
                let help = (name == "<<").then(|| {
                    "YAML merge keys (`<<`) are not part of YAML 1.2; Guacamole's importer does not merge them either".to_owned()
                });
                sink.error(
                    "invalid-type",
                    v.pos,
                    format!(
                        "the value of {key} {name:?} must be text, not {}",
                        v.type_name()
                    ),
                    help,
                );
            }
        }
    }
    out
}

/// `users` / `groups`: a list of scalars (upstream rejects anything else too).
fn value_list(key: &str, node: Node, sink: &mut Sink<'_>, broken: &mut bool) -> Vec<Field> {
    let pos = node.pos;
    let type_name = node.type_name();
    match node.value {
        Value::List(items) => {
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                match &item.value {
                    Value::Scalar {
                        kind: ScalarKind::Null,
                        ..
                    } => {}
                    Value::Scalar { text, .. } => out.push(Field {
                        text: text.clone(),
                        pos: item.pos,
                    }),
                    _ => {
                        *broken = true;
                        sink.error(
                            "invalid-type",
                            item.pos,
                            format!(
                                "each item of `{key}` must be a name, not {}",
                                item.type_name()
                            ),
                            None,
                        );
                    }
                }
            }
            out
        }
        Value::Scalar {
            kind: ScalarKind::Null,
            ..
        } => Vec::new(),
        _ => {
            *broken = true;
            sink.error(
                "invalid-type",
                pos,
                format!("`{key}` must be a list of names, not {type_name}"),
                Some(format!("write `{key}: [name]` even for a single name")),
            );
            Vec::new()
        }
    }
}

//! A YAML reader built on the event parser of `granit-parser` (the safe, pure-Rust
//! parser under serde-saphyr), because guacsync needs what a typed deserializer
//! throws away: the literal text of plain scalars (`port: 0022` stays `"0022"`,
//! DESIGN.md §2) and the position of every value.
//!
//! Resource limits are enforced while reading: nesting deeper than [`MAX_DEPTH`],
//! alias expansion beyond a budget (a "billion laughs" file is refused after a few
//! thousand nodes, not after exhausting memory), and more than one document.
//!
//! Scalars are typed as the YAML 1.2 core schema says, like upstream's `yaml`
//! package: `~`/`null`/empty → null, `true`/`false` (any of the three casings) →
//! boolean; everything else is text as written (so `yes`, `0x1F`, `1e3` stay text).
//! Tags: `!!str`, `!!int`, `!!float`, `!!bool`, `!!null`, `!!map`, `!!seq` and the
//! non-specific `!` are understood; any other tag is refused. Merge keys (`<<`) are
//! not special in YAML 1.2 and are not special here either.

use std::collections::HashMap;

use granit_parser::{Event, Parser, ScalarStyle, Span, Tag};

use super::json::Issue;
use super::node::{MAX_VALUES, MapBuilder, Node, Pos, ScalarKind, Value, too_many_values};

pub const MAX_DEPTH: usize = 64;

/// Nodes that aliases may add beyond the document's own events. Legitimate
/// manifests that share a parameter block through an anchor stay far below it.
const ALIAS_BUDGET_BASE: usize = 250_000;

fn pos(span: &Span) -> Pos {
    let line = u32::try_from(span.start.line()).unwrap_or(u32::MAX);
    let column = u32::try_from(span.start.col() + 1).unwrap_or(u32::MAX);
    Pos::new(line, column)
}

enum Frame {
    List {
        pos: Pos,
        anchor: usize,
        items: Vec<Node>,
    },
    Map {
        pos: Pos,
        anchor: usize,
        entries: MapBuilder,
        pending_key: Option<Node>,
    },
}

struct Builder {
    stack: Vec<Frame>,
    anchors: HashMap<usize, (Node, (usize, usize))>,
    root: Option<Node>,
    issues: Vec<Issue>,
    alias_nodes: usize,
    alias_bytes: usize,
    alias_budget: usize,
    alias_byte_budget: usize,
    /// Nodes made so far, against [`MAX_VALUES`].
    values: usize,
}

fn issue(code: &'static str, pos: Pos, message: impl Into<String>) -> Issue {
    Issue {
        code,
        pos,
        message: message.into(),
    }
}

/// (nodes, bytes of scalar text) in a subtree: an alias copies both, so both are
/// budgeted (one large anchored scalar repeated is as dangerous as many nodes).
fn size(node: &Node) -> (usize, usize) {
    match &node.value {
        Value::Scalar { text, .. } => (1, text.len()),
        Value::List(items) => items
            .iter()
            .map(size)
            .fold((1, 0), |a, b| (a.0 + b.0, a.1 + b.1)),
        Value::Map(entries) => entries
            .iter()
            .map(|(k, v)| {
                let (a, b) = (size(k), size(v));
                (a.0 + b.0, a.1 + b.1)
            })
            .fold((1, 0), |a, b| (a.0 + b.0, a.1 + b.1)),
    }
}

/// The core-schema suffix of a tag (`str`, `int`, ...), `Some("")` for the
/// non-specific `!`, `None` for any other tag.
fn core_suffix(tag: &Tag) -> Option<&str> {
    // The non-specific tag `!` (the parser may put the `!` in either half).
    if matches!((tag.handle(), tag.suffix()), ("!", "") | ("", "!")) {
        return Some("");
    }
    if tag.is_yaml_core_schema() {
        return Some(tag.suffix());
    }
    None
}

fn tag_text(tag: &Tag) -> String {
    format!("{}{}", tag.handle(), tag.suffix())
}

fn scalar_kind(
    text: &str,
    style: ScalarStyle,
    tag: Option<&Tag>,
    at: Pos,
) -> Result<(ScalarKind, Option<String>), Issue> {
    if let Some(tag) = tag {
        let Some(suffix) = core_suffix(tag) else {
            return Err(issue(
                "yaml-unsupported-tag",
                at,
                format!("the tag `{}` is not supported in manifests", tag_text(tag)),
            ));
        };
        return match suffix {
            "" | "str" => Ok((ScalarKind::Text, None)),
            "int" | "float" => Ok((ScalarKind::Number, None)),
            "null" => Ok((ScalarKind::Null, None)),
            "bool" => match text {
                "true" | "True" | "TRUE" => Ok((ScalarKind::Bool, Some("true".to_owned()))),
                "false" | "False" | "FALSE" => Ok((ScalarKind::Bool, Some("false".to_owned()))),
                _ => Err(issue(
                    "yaml-unsupported-tag",
                    at,
                    format!("`{text}` is not a boolean, but it is tagged `!!bool`"),
                )),
            },
            other => Err(issue(
                "yaml-unsupported-tag",
                at,
                format!("a scalar cannot be tagged `!!{other}`"),
            )),
        };
    }
    if style != ScalarStyle::Plain {
        return Ok((ScalarKind::Text, None));
    }
    Ok(match text {
        "" | "~" | "null" | "Null" | "NULL" => (ScalarKind::Null, None),
        "true" | "True" | "TRUE" => (ScalarKind::Bool, Some("true".to_owned())),
        "false" | "False" | "FALSE" => (ScalarKind::Bool, Some("false".to_owned())),
        _ => (ScalarKind::Text, None),
    })
}

impl Builder {
    /// Attaches a finished node to its parent (or makes it the document).
    fn push(&mut self, node: Node, anchor: usize) -> Result<(), Issue> {
        self.values += 1;
        if self.values > MAX_VALUES {
            return Err(issue("file-too-large", node.pos, too_many_values()));
        }
        if anchor != 0 {
            let weight = size(&node);
            // The copy kept for aliases counts against the same budgets: nested
            // anchors each copy their whole subtree (60 of them around one 8 MB
            // scalar took 515 MB without a single alias).
            self.charge(weight, node.pos)?;
            self.anchors.insert(anchor, (node.clone(), weight));
        }
        match self.stack.last_mut() {
            None => self.root = Some(node),
            Some(Frame::List { items, .. }) => items.push(node),
            Some(Frame::Map {
                entries,
                pending_key,
                ..
            }) => match pending_key.take() {
                None => {
                    if node.as_text().is_none() {
                        return Err(issue(
                            "yaml-syntax",
                            node.pos,
                            "keys must be plain text, not lists or objects",
                        ));
                    }
                    *pending_key = Some(node);
                }
                Some(key) => {
                    let at = key.pos;
                    if let Err((first, _)) = entries.insert(key, node) {
                        let message = format!(
                            "duplicate key {:?} (first at line {}, column {}); the first one is kept",
                            first.as_text().unwrap_or_default(),
                            first.pos.line,
                            first.pos.column
                        );
                        self.issues.push(issue("duplicate-key", at, message));
                    }
                }
            },
        }
        Ok(())
    }

    fn open(&mut self, frame: Frame, at: Pos) -> Result<(), Issue> {
        if self.stack.len() >= MAX_DEPTH {
            return Err(issue(
                "too-deep",
                at,
                format!("values are nested more than {MAX_DEPTH} levels deep"),
            ));
        }
        self.stack.push(frame);
        Ok(())
    }

    /// A copy of the anchored node, within the alias budgets.
    fn expand_alias(&mut self, id: usize, at: Pos) -> Result<Node, Issue> {
        let Some(&(_, weight)) = self.anchors.get(&id) else {
            return Err(issue("yaml-syntax", at, "an alias to an unknown anchor"));
        };
        self.charge(weight, at)?;
        let mut node = self.anchors[&id].0.clone();
        node.pos = at;
        Ok(node)
    }

    /// Counts a copy of `(nodes, bytes)` against the alias budgets.
    fn charge(&mut self, (nodes, bytes): (usize, usize), at: Pos) -> Result<(), Issue> {
        self.alias_nodes += nodes;
        self.alias_bytes += bytes;
        if self.alias_bytes > self.alias_byte_budget {
            return Err(issue(
                "yaml-alias-budget",
                at,
                format!(
                    "anchors and aliases copy more than {} bytes of text; this looks like an alias bomb",
                    self.alias_byte_budget
                ),
            ));
        }
        if self.alias_nodes > self.alias_budget {
            return Err(issue(
                "yaml-alias-budget",
                at,
                format!(
                    "anchors and aliases copy more than {} nodes; this looks like an alias bomb",
                    self.alias_budget
                ),
            ));
        }
        Ok(())
    }

    fn event(&mut self, event: Event<'_>, span: &Span) -> Result<(), Issue> {
        let at = pos(span);
        match event {
            Event::Scalar(text, style, anchor, tag) => {
                let (kind, normalised) = scalar_kind(&text, style, tag.as_deref(), at)?;
                let text = normalised.unwrap_or_else(|| text.into_owned());
                self.push(
                    Node {
                        pos: at,
                        value: Value::Scalar { text, kind },
                    },
                    anchor,
                )?;
            }
            Event::SequenceStart(_, anchor, tag) => {
                check_collection_tag(tag.as_deref(), "seq", at)?;
                self.open(
                    Frame::List {
                        pos: at,
                        anchor,
                        items: Vec::new(),
                    },
                    at,
                )?;
            }
            Event::MappingStart(_, anchor, tag) => {
                check_collection_tag(tag.as_deref(), "map", at)?;
                self.open(
                    Frame::Map {
                        pos: at,
                        anchor,
                        entries: MapBuilder::default(),
                        pending_key: None,
                    },
                    at,
                )?;
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let (node, anchor) = match self.stack.pop() {
                    Some(Frame::List { pos, anchor, items }) => (
                        Node {
                            pos,
                            value: Value::List(items),
                        },
                        anchor,
                    ),
                    Some(Frame::Map {
                        pos,
                        anchor,
                        entries,
                        ..
                    }) => (
                        Node {
                            pos,
                            value: Value::Map(entries.into_entries()),
                        },
                        anchor,
                    ),
                    None => return Err(issue("yaml-syntax", at, "unbalanced end of a collection")),
                };
                self.push(node, anchor)?;
            }
            Event::Alias(id) => {
                let node = self.expand_alias(id, at)?;
                self.push(node, 0)?;
            }
            Event::UnresolvedAlias(name) => {
                return Err(issue(
                    "yaml-syntax",
                    at,
                    format!("the alias `*{name}` has no anchor before it"),
                ));
            }
            _ => {}
        }
        Ok(())
    }
}

fn check_collection_tag(tag: Option<&Tag>, expected: &str, at: Pos) -> Result<(), Issue> {
    match tag {
        None => Ok(()),
        Some(t) if core_suffix(t).is_some_and(|s| s.is_empty() || s == expected) => Ok(()),
        Some(t) => Err(issue(
            "yaml-unsupported-tag",
            at,
            format!("the tag `{}` is not supported in manifests", tag_text(t)),
        )),
    }
}

/// Reads one YAML document. `(None, issues)` when it cannot be read; an empty
/// document gives an `empty-file` issue.
pub fn read(text: &str) -> (Option<Node>, Vec<Issue>) {
    let (node, issues, _) = read_with_written(text);
    (node, issues)
}

/// Whether a scalar's source text `raw` differs from its value: an escape, `''` in
/// single quotes, a block scalar or a folded line. Quotes are not a difference.
fn written_differently(raw: &str, value: &str, style: ScalarStyle) -> bool {
    let inner = match style {
        ScalarStyle::SingleQuoted | ScalarStyle::DoubleQuoted => {
            raw.get(1..raw.len().saturating_sub(1)).unwrap_or(raw)
        }
        _ => raw,
    };
    inner != value
}

/// [`read`], and the source text of every scalar written differently from its
/// value (see [`written_differently`]), by position: a secret written
/// `"hunte\x72"` must be masked in that form when its line is shown.
pub fn read_with_written(text: &str) -> (Option<Node>, Vec<Issue>, Vec<(Pos, String)>) {
    let mut written = Vec::new();
    let mut builder = Builder {
        stack: Vec::new(),
        anchors: HashMap::new(),
        root: None,
        issues: Vec::new(),
        alias_nodes: 0,
        alias_bytes: 0,
        alias_budget: ALIAS_BUDGET_BASE + text.len() / 4,
        alias_byte_budget: 4 * 1024 * 1024 + 4 * text.len(),
        values: 0,
    };
    let mut documents = 0usize;
    let mut last = Pos::new(1, 1);
    for item in Parser::new_from_str(text) {
        let (event, span) = match item {
            Ok(pair) => pair,
            Err(e) => {
                let m = e.marker();
                let at = Pos::new(
                    u32::try_from(m.line()).unwrap_or(u32::MAX),
                    u32::try_from(m.col() + 1).unwrap_or(u32::MAX),
                );
                // The scanner's own depth guard fires before ours on flow
                // collections (`[[[[...`); it is the same limit.
                let code = if e.info().contains("recursion limit") {
                    "too-deep"
                } else {
                    "yaml-syntax"
                };
                builder.issues.push(issue(code, at, e.info()));
                return (None, builder.issues, written);
            }
        };
        last = pos(&span);
        if let Event::Scalar(value, style, ..) = &event
            && let Some(raw) = span.byte_range().and_then(|r| text.get(r))
            && written_differently(raw, value, *style)
        {
            written.push((last, raw.to_owned()));
        }
        if let Event::DocumentStart(..) = event {
            documents += 1;
            if documents > 1 {
                builder.issues.push(issue(
                    "yaml-multiple-documents",
                    last,
                    "a manifest holds one YAML document; this is a second one (`---`)",
                ));
                return (None, builder.issues, written);
            }
        }
        if let Err(e) = builder.event(event, &span) {
            builder.issues.push(e);
            return (None, builder.issues, written);
        }
    }
    match builder.root {
        Some(Node {
            value:
                Value::Scalar {
                    kind: ScalarKind::Null,
                    ..
                },
            ..
        })
        | None => {
            builder.issues.push(issue(
                "empty-file",
                Pos::new(1, 1),
                "the file holds no YAML value",
            ));
            let _ = last;
            (None, builder.issues, written)
        }
        root => (root, builder.issues, written),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map_of(text: &str) -> Vec<(Node, Node)> {
        let (node, issues) = read(text);
        assert!(issues.is_empty(), "{issues:?}");
        match node.expect("parsed").value {
            Value::Map(entries) => entries,
            other => panic!("{other:?}"),
        }
    }

    fn scalar(node: &Node) -> (&str, ScalarKind) {
        match &node.value {
            Value::Scalar { text, kind } => (text, *kind),
            other => panic!("not a scalar: {other:?}"),
        }
    }

    #[test]
    fn plain_scalars_keep_literal_text() {
        let cases: &[(&str, &str, ScalarKind)] = &[
            ("v: 0022", "0022", ScalarKind::Text),
            ("v: 1.50", "1.50", ScalarKind::Text),
            ("v: yes", "yes", ScalarKind::Text),
            ("v: 0x1F", "0x1F", ScalarKind::Text),
            ("v: True", "true", ScalarKind::Bool),
            ("v: FALSE", "false", ScalarKind::Bool),
            ("v: ~", "~", ScalarKind::Null),
            ("v:", "~", ScalarKind::Null),
            ("v: null", "null", ScalarKind::Null),
            ("v: 'null'", "null", ScalarKind::Text),
            ("v: \"true\"", "true", ScalarKind::Text),
            ("v: !!str 0022", "0022", ScalarKind::Text),
            ("v: !!int 22", "22", ScalarKind::Number),
            ("v: ! 12", "12", ScalarKind::Text),
            ("v: |\n  a\n  b\n", "a\nb\n", ScalarKind::Text),
            ("v: |-\n  a\n", "a", ScalarKind::Text),
            ("v: ${GUAC_USERNAME}", "${GUAC_USERNAME}", ScalarKind::Text),
        ];
        for (input, text, kind) in cases {
            let entries = map_of(input);
            assert_eq!(scalar(&entries[0].1), (*text, *kind), "{input}");
        }
    }

    #[test]
    fn positions_are_one_based() {
        let entries = map_of("a: 1\nbb:\n  - x\n  - 'y'\n");
        assert_eq!(entries[0].0.pos, Pos::new(1, 1));
        assert_eq!(entries[0].1.pos, Pos::new(1, 4));
        let Value::List(items) = &entries[1].1.value else {
            panic!()
        };
        assert_eq!(items[0].pos, Pos::new(3, 5));
        assert_eq!(items[1].pos, Pos::new(4, 5));
    }

    #[test]
    fn anchors_and_aliases_within_budget() {
        let entries = map_of("a: &x {p: 1}\nb: *x\n");
        assert_eq!(entries[1].1.pos, Pos::new(2, 4));
        assert!(matches!(&entries[1].1.value, Value::Map(e) if e.len() == 1));
    }

    #[test]
    fn errors_table() {
        let bomb = "a: &a [x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\ng: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\n";
        let deep = format!("{}1{}", "[".repeat(200), "]".repeat(200));
        let cases: Vec<(String, &str)> = vec![
            ("a: [1, 2".to_owned(), "yaml-syntax"),
            ("a: 1\n---\nb: 2\n".to_owned(), "yaml-multiple-documents"),
            ("a: !custom 1".to_owned(), "yaml-unsupported-tag"),
            ("a: !!bool maybe".to_owned(), "yaml-unsupported-tag"),
            ("a: !!binary aGk=".to_owned(), "yaml-unsupported-tag"),
            (bomb.to_owned(), "yaml-alias-budget"),
            (deep, "too-deep"),
            (
                format!(
                    "a: &a {}\nb: [{}]\n",
                    "x".repeat(100_000),
                    "*a,".repeat(200)
                ),
                "yaml-alias-budget",
            ),
            (String::new(), "empty-file"),
            ("# only a comment\n".to_owned(), "empty-file"),
            ("[a]: 1".to_owned(), "yaml-syntax"),
        ];
        for (input, code) in cases {
            let (node, issues) = read(&input);
            assert!(node.is_none(), "{input:?} parsed");
            assert_eq!(
                issues.last().map(|i| i.code),
                Some(code),
                "{input:?}: {issues:?}"
            );
        }
    }

    #[test]
    fn duplicate_keys_reported_with_both_places() {
        let (node, issues) = read("a: 1\nb: 2\na: 3\n");
        assert!(node.is_some());
        assert_eq!(issues.len(), 1);
        assert_eq!(
            (issues[0].code, issues[0].pos),
            ("duplicate-key", Pos::new(3, 1))
        );
        assert!(issues[0].message.contains("line 1, column 1"));
    }
}

//! A JSON reader (RFC 8259) that keeps the source position of every value and the
//! source text of every number, which `serde_json` does not expose.
//!
//! It also refuses what `JSON.parse` would silently accept or what could exhaust
//! resources: duplicate keys (upstream keeps the last one; guacsync reports them),
//! nesting deeper than [`MAX_DEPTH`], and anything after the top-level value.

use super::node::{MAX_VALUES, MapBuilder, Node, Pos, ScalarKind, Value, too_many_values};

/// Manifests need three levels (list → object → parameters); this leaves room and
/// keeps recursion far from the stack's limit.
pub const MAX_DEPTH: usize = 64;

/// A problem found while reading; `code` is the diagnostic code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Issue {
    pub code: &'static str,
    pub pos: Pos,
    pub message: String,
}

/// Reads one JSON document. A syntax error ends reading (`None`); duplicate keys are
/// reported and the first occurrence kept, so reading goes on.
pub fn read(text: &str) -> (Option<Node>, Vec<Issue>) {
    let (node, issues, _) = read_with_written(text);
    (node, issues)
}

/// [`read`], and the source text (quotes included) of every string written with
/// an escape, by position: a secret written `"hunte\u0072"` must be masked in that
/// form when its line is shown.
pub fn read_with_written(text: &str) -> (Option<Node>, Vec<Issue>, Vec<(Pos, String)>) {
    let mut reader = Reader {
        bytes: text.as_bytes(),
        text,
        at: 0,
        line: 1,
        column: 1,
        issues: Vec::new(),
        written: Vec::new(),
        values: 0,
    };
    let result = reader.document();
    let mut issues = reader.issues;
    match result {
        Ok(node) => (Some(node), issues, reader.written),
        Err(issue) => {
            issues.push(issue);
            (None, issues, reader.written)
        }
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    text: &'a str,
    at: usize,
    line: u32,
    column: u32,
    issues: Vec<Issue>,
    written: Vec<(Pos, String)>,
    /// Values read so far, against [`MAX_VALUES`].
    values: usize,
}

type Result<T> = std::result::Result<T, Issue>;

impl Reader<'_> {
    fn pos(&self) -> Pos {
        Pos::new(self.line, self.column)
    }

    fn syntax(&self, message: impl Into<String>) -> Issue {
        Issue {
            code: "json-syntax",
            pos: self.pos(),
            message: message.into(),
        }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    /// Advances over one byte, keeping line and column (columns count characters:
    /// UTF-8 continuation bytes do not move the column).
    fn bump(&mut self) {
        if let Some(&b) = self.bytes.get(self.at) {
            self.at += 1;
            if b == b'\n' {
                self.line += 1;
                self.column = 1;
            } else if b & 0xC0 != 0x80 {
                self.column += 1;
            }
        }
    }

    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.bump();
        }
    }

    fn describe_here(&self) -> String {
        match self.text[self.at..].chars().next() {
            None => "the end of the file".to_owned(),
            Some(c) if c.is_control() => format!("the control character U+{:04X}", u32::from(c)),
            Some(c) => format!("`{c}`"),
        }
    }

    fn document(&mut self) -> Result<Node> {
        self.skip_ws();
        if self.peek().is_none() {
            return Err(Issue {
                code: "empty-file",
                pos: self.pos(),
                message: "the file holds no JSON value".to_owned(),
            });
        }
        let node = self.value(0)?;
        self.skip_ws();
        if self.peek().is_some() {
            return Err(self.syntax(format!(
                "unexpected {} after the end of the JSON value",
                self.describe_here()
            )));
        }
        Ok(node)
    }

    fn value(&mut self, depth: usize) -> Result<Node> {
        let pos = self.pos();
        self.values += 1;
        if self.values > MAX_VALUES {
            return Err(Issue {
                code: "file-too-large",
                pos,
                message: too_many_values(),
            });
        }
        let value = match self.peek() {
            Some(b'{') => self.object(depth, pos)?,
            Some(b'[') => self.array(depth, pos)?,
            Some(b'"') => Value::Scalar {
                text: self.string()?,
                kind: ScalarKind::Text,
            },
            Some(b'-' | b'0'..=b'9') => Value::Scalar {
                text: self.number()?,
                kind: ScalarKind::Number,
            },
            Some(b't') => self.literal("true", ScalarKind::Bool)?,
            Some(b'f') => self.literal("false", ScalarKind::Bool)?,
            Some(b'n') => self.literal("null", ScalarKind::Null)?,
            _ => {
                return Err(self.syntax(format!(
                    "expected a JSON value, found {}",
                    self.describe_here()
                )));
            }
        };
        Ok(Node { pos, value })
    }

    fn enter(&self, depth: usize) -> Result<usize> {
        if depth >= MAX_DEPTH {
            return Err(Issue {
                code: "too-deep",
                pos: self.pos(),
                message: format!("values are nested more than {MAX_DEPTH} levels deep"),
            });
        }
        Ok(depth + 1)
    }

    fn object(&mut self, depth: usize, start: Pos) -> Result<Value> {
        let depth = self.enter(depth)?;
        self.bump(); // {
        let mut entries = MapBuilder::default();
        self.skip_ws();
        if self.peek() == Some(b'}') {
            self.bump();
            return Ok(Value::Map(entries.into_entries()));
        }
        loop {
            self.skip_ws();
            if self.peek() != Some(b'"') {
                return Err(self.syntax(format!(
                    "expected a quoted key, found {}",
                    self.describe_here()
                )));
            }
            let key_pos = self.pos();
            let key = self.string()?;
            self.skip_ws();
            if self.peek() != Some(b':') {
                return Err(self.syntax(format!(
                    "expected `:` after the key, found {}",
                    self.describe_here()
                )));
            }
            self.bump();
            self.skip_ws();
            let value = self.value(depth)?;
            let key = Node {
                pos: key_pos,
                value: Value::Scalar {
                    text: key,
                    kind: ScalarKind::Text,
                },
            };
            if let Err((first, _)) = entries.insert(key, value) {
                let message = format!(
                    "duplicate key {:?} (first at line {}, column {}); the first one is kept",
                    first.as_text().unwrap_or_default(),
                    first.pos.line,
                    first.pos.column
                );
                self.issues.push(Issue {
                    code: "duplicate-key",
                    pos: key_pos,
                    message,
                });
            }
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.bump(),
                Some(b'}') => {
                    self.bump();
                    return Ok(Value::Map(entries.into_entries()));
                }
                _ => {
                    return Err(self.syntax(format!(
                        "expected `,` or `}}` in the object that starts at line {}, column {}, found {}",
                        start.line,
                        start.column,
                        self.describe_here()
                    )));
                }
            }
        }
    }

    fn array(&mut self, depth: usize, start: Pos) -> Result<Value> {
        let depth = self.enter(depth)?;
        self.bump(); // [
        let mut items = Vec::new();
        self.skip_ws();
        if self.peek() == Some(b']') {
            self.bump();
            return Ok(Value::List(items));
        }
        loop {
            self.skip_ws();
            items.push(self.value(depth)?);
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.bump(),
                Some(b']') => {
                    self.bump();
                    return Ok(Value::List(items));
                }
                _ => {
                    return Err(self.syntax(format!(
                        "expected `,` or `]` in the list that starts at line {}, column {}, found {}",
                        start.line,
                        start.column,
                        self.describe_here()
                    )));
                }
            }
        }
    }

    fn literal(&mut self, word: &str, kind: ScalarKind) -> Result<Value> {
        if self.bytes[self.at..].starts_with(word.as_bytes()) {
            for _ in 0..word.len() {
                self.bump();
            }
            Ok(Value::Scalar {
                text: word.to_owned(),
                kind,
            })
        } else {
            Err(self.syntax(format!(
                "expected a JSON value, found {}",
                self.describe_here()
            )))
        }
    }

    fn digits(&mut self) -> usize {
        let mut n = 0;
        while let Some(b'0'..=b'9') = self.peek() {
            self.bump();
            n += 1;
        }
        n
    }

    fn number(&mut self) -> Result<String> {
        let start = self.at;
        if self.peek() == Some(b'-') {
            self.bump();
        }
        match self.peek() {
            Some(b'0') => {
                self.bump();
                if let Some(b'0'..=b'9') = self.peek() {
                    return Err(self.syntax("numbers must not have leading zeros"));
                }
            }
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return Err(self.syntax("expected a digit")),
        }
        if self.peek() == Some(b'.') {
            self.bump();
            if self.digits() == 0 {
                return Err(self.syntax("expected a digit after the decimal point"));
            }
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.bump();
            if let Some(b'+' | b'-') = self.peek() {
                self.bump();
            }
            if self.digits() == 0 {
                return Err(self.syntax("expected a digit in the exponent"));
            }
        }
        Ok(self.text[start..self.at].to_owned())
    }

    fn hex4(&mut self) -> Result<u32> {
        let mut v = 0u32;
        for _ in 0..4 {
            let d = match self.peek() {
                Some(b @ b'0'..=b'9') => b - b'0',
                Some(b @ b'a'..=b'f') => b - b'a' + 10,
                Some(b @ b'A'..=b'F') => b - b'A' + 10,
                _ => return Err(self.syntax("expected four hex digits after `\\u`")),
            };
            v = v * 16 + u32::from(d);
            self.bump();
        }
        Ok(v)
    }

    fn string(&mut self) -> Result<String> {
        let start_pos = self.pos();
        let start = self.at;
        self.bump(); // opening quote
        let mut out = String::new();
        let mut escaped = false;
        loop {
            // Copy the run of plain characters in one go.
            let run_start = self.at;
            while let Some(b) = self.peek() {
                if b == b'"' || b == b'\\' || b < 0x20 {
                    break;
                }
                self.bump();
            }
            out.push_str(&self.text[run_start..self.at]);
            match self.peek() {
                Some(b'"') => {
                    self.bump();
                    if escaped {
                        self.written
                            .push((start_pos, self.text[start..self.at].to_owned()));
                    }
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.bump();
                    escaped = true;
                    let c = match self.peek() {
                        Some(b'"') => '"',
                        Some(b'\\') => '\\',
                        Some(b'/') => '/',
                        Some(b'b') => '\u{8}',
                        Some(b'f') => '\u{c}',
                        Some(b'n') => '\n',
                        Some(b'r') => '\r',
                        Some(b't') => '\t',
                        Some(b'u') => {
                            self.bump();
                            let c = self.unicode_escape()?;
                            out.push(c);
                            continue;
                        }
                        _ => {
                            return Err(self.syntax(format!(
                                "invalid escape `\\{}` in a string",
                                self.describe_here().trim_matches('`')
                            )));
                        }
                    };
                    self.bump();
                    out.push(c);
                }
                Some(_) => {
                    return Err(self.syntax(format!(
                        "{} inside a string (write it escaped)",
                        self.describe_here()
                    )));
                }
                None => {
                    return Err(Issue {
                        code: "json-syntax",
                        pos: start_pos,
                        message: "this string is never closed".to_owned(),
                    });
                }
            }
        }
    }

    fn unicode_escape(&mut self) -> Result<char> {
        let pos = self.pos();
        let first = self.hex4()?;
        let code = if (0xD800..0xDC00).contains(&first) {
            if self.bytes[self.at..].starts_with(b"\\u") {
                self.bump();
                self.bump();
                let second = self.hex4()?;
                if !(0xDC00..0xE000).contains(&second) {
                    return Err(Issue {
                        code: "json-syntax",
                        pos,
                        message: "a high surrogate `\\u` escape is not followed by a low one"
                            .to_owned(),
                    });
                }
                0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00)
            } else {
                return Err(Issue {
                    code: "json-syntax",
                    pos,
                    message: "a lone surrogate `\\u` escape is not a character".to_owned(),
                });
            }
        } else {
            first
        };
        char::from_u32(code).ok_or(Issue {
            code: "json-syntax",
            pos,
            message: "a `\\u` escape that is not a character".to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scalar(node: &Node) -> (&str, ScalarKind) {
        match &node.value {
            Value::Scalar { text, kind } => (text, *kind),
            other => panic!("not a scalar: {other:?}"),
        }
    }

    #[test]
    fn values_keep_source_text_and_positions() {
        let (node, issues) = read("[\n  {\"port\": 22.50e1, \"q\": -0, \"s\": \"a\\u00e9\"}\n]");
        assert!(issues.is_empty(), "{issues:?}");
        let node = node.expect("parsed");
        let Value::List(items) = &node.value else {
            panic!("not a list")
        };
        let Value::Map(entries) = &items[0].value else {
            panic!("not a map")
        };
        assert_eq!(items[0].pos, Pos::new(2, 3));
        assert_eq!(entries[0].0.pos, Pos::new(2, 4));
        assert_eq!(entries[0].1.pos, Pos::new(2, 12));
        assert_eq!(scalar(&entries[0].1), ("22.50e1", ScalarKind::Number));
        assert_eq!(scalar(&entries[1].1), ("-0", ScalarKind::Number));
        assert_eq!(scalar(&entries[2].1), ("a\u{e9}", ScalarKind::Text));
    }

    #[test]
    fn scalars_table() {
        let cases: &[(&str, &str, ScalarKind)] = &[
            ("\"x\"", "x", ScalarKind::Text),
            ("true", "true", ScalarKind::Bool),
            ("false", "false", ScalarKind::Bool),
            ("null", "null", ScalarKind::Null),
            (
                "123456789012345678901234567890",
                "123456789012345678901234567890",
                ScalarKind::Number,
            ),
            ("\"\\ud83d\\ude00\"", "\u{1F600}", ScalarKind::Text),
            ("\"tab\\tq\\\"\\/\"", "tab\tq\"/", ScalarKind::Text),
        ];
        for (input, text, kind) in cases {
            let (node, issues) = read(input);
            assert!(issues.is_empty(), "{input}: {issues:?}");
            assert_eq!(scalar(&node.expect(input)), (*text, *kind), "{input}");
        }
    }

    #[test]
    fn errors_table() {
        let cases: &[(&str, &str, Pos)] = &[
            ("", "empty-file", Pos::new(1, 1)),
            ("[1,]", "json-syntax", Pos::new(1, 4)),
            ("[1] x", "json-syntax", Pos::new(1, 5)),
            ("{\"a\" 1}", "json-syntax", Pos::new(1, 6)),
            ("[\"abc", "json-syntax", Pos::new(1, 2)),
            ("[01]", "json-syntax", Pos::new(1, 3)),
            ("\"a\nb\"", "json-syntax", Pos::new(1, 3)),
            ("[\"\\ud800\"]", "json-syntax", Pos::new(1, 5)),
            ("\n\n  nul", "json-syntax", Pos::new(3, 3)),
            ("{\"é\": [1, 2}", "json-syntax", Pos::new(1, 12)),
        ];
        for (input, code, pos) in cases {
            let (node, issues) = read(input);
            assert!(node.is_none(), "{input:?} parsed");
            let last = issues.last().expect("an issue");
            assert_eq!(
                (last.code, last.pos),
                (*code, *pos),
                "{input:?}: {}",
                last.message
            );
        }
    }

    #[test]
    fn duplicate_keys_are_reported_and_first_kept() {
        let (node, issues) = read("{\"a\": 1,\n \"a\": 2}");
        assert_eq!(issues.len(), 1);
        assert_eq!(
            (issues[0].code, issues[0].pos),
            ("duplicate-key", Pos::new(2, 2))
        );
        let Value::Map(entries) = &node.expect("parsed").value else {
            panic!()
        };
        assert_eq!(entries.len(), 1);
        assert_eq!(scalar(&entries[0].1).0, "1");
    }

    #[test]
    fn deep_nesting_is_refused_quickly() {
        let deep = "[".repeat(100_000);
        let (node, issues) = read(&deep);
        assert!(node.is_none());
        assert_eq!(issues.last().map(|i| i.code), Some("too-deep"));
    }
}

//! CSV manifests, read exactly as Guacamole's web import reads them (rest-api.md
//! §11): `csv-parse` with its defaults (comma, `"` quote and escape, strict quoting,
//! strict record length, empty lines skipped), then the header rules of
//! `connectionCSVService.js`.
//!
//! The tokenizer is our own rather than the `csv` crate's because guacsync needs the
//! line and column of every cell for its diagnostics, and because `csv-parse`
//! rejects malformed quoting that the `csv` crate accepts silently: a file upstream
//! rejects must not get a different meaning here.

use super::check::did_you_mean;
use super::node::Pos;
use super::records::{Field, RawEntry, Sink};
use crate::schema::Schema;

/// One cell: its unquoted text and the position of its first character (the opening
/// quote for a quoted cell).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cell {
    pub text: String,
    pub pos: Pos,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    pub pos: Pos,
    pub cells: Vec<Cell>,
}

/// A syntax error that stops reading (as `csv-parse` throws).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyntaxError {
    pub pos: Pos,
    pub message: String,
}

struct Tokenizer<'a> {
    text: &'a str,
    bytes: &'a [u8],
    at: usize,
    line: u32,
    column: u32,
}

impl Tokenizer<'_> {
    fn pos(&self) -> Pos {
        Pos::new(self.line, self.column)
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn bump(&mut self) {
        if let Some(&b) = self.bytes.get(self.at) {
            self.at += 1;
            match b {
                b'\n' => {
                    self.line += 1;
                    self.column = 1;
                }
                // A lone CR ends a line too; CRLF counts once (at the LF).
                b'\r' if self.peek() != Some(b'\n') => {
                    self.line += 1;
                    self.column = 1;
                }
                b'\r' => {}
                _ if b & 0xC0 != 0x80 => self.column += 1,
                _ => {}
            }
        }
    }

    /// Consumes a record terminator (`\n`, `\r\n` or `\r`) if one is here.
    fn end_of_record(&mut self) -> bool {
        match self.peek() {
            Some(b'\n') => {
                self.bump();
                true
            }
            Some(b'\r') => {
                self.bump();
                if self.peek() == Some(b'\n') {
                    self.bump();
                }
                true
            }
            _ => false,
        }
    }

    fn quoted(&mut self) -> Result<String, SyntaxError> {
        let start = self.pos();
        self.bump(); // opening quote
        let mut out = String::new();
        loop {
            let run = self.at;
            while let Some(b) = self.peek() {
                if b == b'"' {
                    break;
                }
                self.bump();
            }
            out.push_str(&self.text[run..self.at]);
            if self.peek().is_none() {
                return Err(SyntaxError {
                    pos: start,
                    message: "this quoted cell is never closed".to_owned(),
                });
            }
            self.bump(); // a quote: escaped quote or end of the cell
            if self.peek() == Some(b'"') {
                self.bump();
                out.push('"');
                continue;
            }
            match self.peek() {
                None | Some(b',' | b'\n' | b'\r') => return Ok(out),
                Some(_) => {
                    return Err(SyntaxError {
                        pos: self.pos(),
                        message: "unexpected text after the closing quote of a cell".to_owned(),
                    });
                }
            }
        }
    }

    fn unquoted(&mut self) -> Result<String, SyntaxError> {
        let run = self.at;
        while let Some(b) = self.peek() {
            match b {
                b',' | b'\n' | b'\r' => break,
                b'"' => {
                    return Err(SyntaxError {
                        pos: self.pos(),
                        message: "a quote inside a cell that does not start with a quote"
                            .to_owned(),
                    });
                }
                _ => self.bump(),
            }
        }
        Ok(self.text[run..self.at].to_owned())
    }

    fn record(&mut self) -> Result<Option<Record>, SyntaxError> {
        // Empty lines are skipped (`skip_empty_lines`).
        while self.end_of_record() {}
        if self.peek().is_none() {
            return Ok(None);
        }
        let pos = self.pos();
        let mut cells = Vec::new();
        loop {
            let cell_pos = self.pos();
            let text = if self.peek() == Some(b'"') {
                self.quoted()?
            } else {
                self.unquoted()?
            };
            cells.push(Cell {
                text,
                pos: cell_pos,
            });
            if self.peek() == Some(b',') {
                self.bump();
                continue;
            }
            self.end_of_record();
            return Ok(Some(Record { pos, cells }));
        }
    }
}

/// Splits CSV text into records, one at a time (a manifest of 100k rows is never
/// held as cells all at once). Ends after the first syntax error.
pub struct Records<'a> {
    tokenizer: Tokenizer<'a>,
    failed: bool,
}

impl Iterator for Records<'_> {
    type Item = Result<Record, SyntaxError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        match self.tokenizer.record() {
            Ok(r) => r.map(Ok),
            Err(e) => {
                self.failed = true;
                Some(Err(e))
            }
        }
    }
}

#[must_use]
pub fn records(text: &str) -> Records<'_> {
    Records {
        tokenizer: Tokenizer {
            text,
            bytes: text.as_bytes(),
            at: 0,
            line: 1,
            column: 1,
        },
        failed: false,
    }
}

/// All records before the first syntax error, and that error.
pub fn tokenize(text: &str) -> (Vec<Record>, Option<SyntaxError>) {
    let mut out = Vec::new();
    for r in records(text) {
        match r {
            Ok(r) => out.push(r),
            Err(e) => return (out, Some(e)),
        }
    }
    (out, None)
}

/// JavaScript's `String.prototype.trim`: white space and line terminators,
/// including the byte-order mark U+FEFF (which Rust's `trim` keeps) and not U+0085.
pub fn js_trim(s: &str) -> &str {
    s.trim_matches(|c: char| (c.is_whitespace() && c != '\u{85}') || c == '\u{feff}')
}

/// What a header column holds.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Column {
    Name,
    Protocol,
    Group,
    ParentIdentifier,
    Users,
    Groups,
    Parameter(String),
    Attribute(String),
    /// Classified per row against the row's protocol.
    Other(String),
}

const PARAMETER_SUFFIX: &str = " (parameter)";
const ATTRIBUTE_SUFFIX: &str = " (attribute)";

fn classify_header(header: &str) -> Column {
    match header {
        "name" => Column::Name,
        "protocol" => Column::Protocol,
        "group" => Column::Group,
        "parentIdentifier" => Column::ParentIdentifier,
        "users" => Column::Users,
        "groups" => Column::Groups,
        // Upstream removes the first occurrence of the suffix text (`String.replace`).
        h if h.ends_with(PARAMETER_SUFFIX) => {
            Column::Parameter(h.replacen(PARAMETER_SUFFIX, "", 1))
        }
        h if h.ends_with(ATTRIBUTE_SUFFIX) => {
            Column::Attribute(h.replacen(ATTRIBUTE_SUFFIX, "", 1))
        }
        h => Column::Other(h.to_owned()),
    }
}

/// Splits a `users` / `groups` cell on `;`, a backslash escaping the next character;
/// items are trimmed and empty ones dropped. A lone backslash at the end escapes
/// nothing and is dropped, as upstream's `splitIdentifiers` does (1.6.0
/// `connectionCSVService.js`: the backslash only sets "escaped").
pub fn split_list(cell: &str) -> Vec<String> {
    let mut items = Vec::new();
    let mut current = String::new();
    let mut chars = cell.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(next) = chars.next() {
                    current.push(next);
                }
            }
            ';' => items.push(std::mem::take(&mut current)),
            other => current.push(other),
        }
    }
    items.push(current);
    items
        .into_iter()
        .map(|s| js_trim(&s).to_owned())
        .filter(|s| !s.is_empty())
        .collect()
}

/// Reads a CSV manifest, handing each row to `emit` as soon as it is read.
pub fn read(
    text: &str,
    schema: &Schema,
    sink: &mut Sink<'_>,
    emit: &mut dyn FnMut(RawEntry, &mut Sink<'_>),
) {
    let mut records = records(text);
    let header = match records.next() {
        Some(Ok(header)) => header,
        Some(Err(e)) => {
            sink.error("csv-syntax", e.pos, e.message, None);
            return;
        }
        None => {
            sink.error(
                "csv-missing-name-header",
                Pos::new(1, 1),
                "the file is empty: a CSV manifest needs a header row with `name` and `protocol`",
                None,
            );
            return;
        }
    };
    let Some(columns) = header_columns(&header, sink) else {
        return;
    };
    let width = header.cells.len();
    let mut data_rows = 0usize;
    for record in records {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                sink.error("csv-syntax", e.pos, e.message, None);
                return;
            }
        };
        data_rows += 1;
        if record.cells.len() != width {
            sink.error(
                "csv-record-length",
                record.pos,
                format!(
                    "this row has {} cells, but the header has {width}",
                    record.cells.len()
                ),
                Some("every row needs exactly one cell per header column; quote cells that contain commas".to_owned()),
            );
            continue;
        }
        let raw = row(&columns, &header, record, schema, sink);
        emit(raw, sink);
    }
    if data_rows == 0 {
        sink.warning(
            "empty-manifest",
            header.pos,
            "this manifest declares no connections (only a header row)",
            None,
        );
    }
}

fn header_columns(header: &Record, sink: &mut Sink<'_>) -> Option<Vec<Column>> {
    let trimmed: Vec<&str> = header.cells.iter().map(|c| js_trim(&c.text)).collect();
    let mut ok = true;
    // Each header's first column, found by hashing: a linear search per column
    // made a hostile 300,000-column header take minutes.
    let mut first_of: std::collections::HashMap<&str, usize> =
        std::collections::HashMap::with_capacity(trimmed.len());
    for (i, name) in trimmed.iter().enumerate() {
        let first = *first_of.entry(name).or_insert(i);
        if first != i {
            ok = false;
            sink.error(
                "csv-duplicate-header",
                header.cells[i].pos,
                format!(
                    "duplicate header {name:?} (first in column {})",
                    header.cells[first].pos.column
                ),
                None,
            );
        }
    }
    if !ok {
        return None;
    }
    let columns: Vec<Column> = trimmed.iter().map(|h| classify_header(h)).collect();
    if !columns.contains(&Column::Name) {
        ok = false;
        sink.error(
            "csv-missing-name-header",
            header.pos,
            "the header has no `name` column",
            Some("reserved headers are case-sensitive: name, protocol, group, parentIdentifier, users, groups".to_owned()),
        );
    }
    if !columns.contains(&Column::Protocol) {
        ok = false;
        sink.error(
            "csv-missing-protocol-header",
            header.pos,
            "the header has no `protocol` column",
            Some("reserved headers are case-sensitive: name, protocol, group, parentIdentifier, users, groups".to_owned()),
        );
    }
    ok.then_some(columns)
}

fn row(
    columns: &[Column],
    header: &Record,
    record: Record,
    schema: &Schema,
    sink: &mut Sink<'_>,
) -> RawEntry {
    // Names are checked like JSON/YAML ones: the columns classified below are known
    // by construction, and a forced `<n> (parameter)` / `<n> (attribute)` column
    // names something the server's schema decides about too (DESIGN.md §4).
    let mut raw = RawEntry {
        pos: record.pos,
        check_names: true,
        ..RawEntry::default()
    };
    // The protocol decides how the other headers are classified, so find it first.
    let protocol = columns
        .iter()
        .position(|c| *c == Column::Protocol)
        .map(|i| record.cells[i].text.as_str())
        .and_then(|p| schema.protocol(p));
    for ((column, cell), head) in columns.iter().zip(record.cells).zip(&header.cells) {
        if cell.text.is_empty() {
            continue; // empty cells are never stored
        }
        let pos = cell.pos;
        let field = |text: String| Field { text, pos };
        match column {
            Column::Name => raw.name = Some(field(cell.text)),
            Column::Protocol => raw.protocol = Some(field(cell.text)),
            Column::Group => raw.group = Some(field(cell.text)),
            Column::ParentIdentifier => raw.parent_identifier = Some(field(cell.text)),
            Column::Users => raw.users = split_list(&cell.text).into_iter().map(field).collect(),
            Column::Groups => raw.groups = split_list(&cell.text).into_iter().map(field).collect(),
            Column::Parameter(name) => raw.parameters.push((
                Field {
                    text: name.clone(),
                    pos: head.pos,
                },
                field(cell.text),
            )),
            Column::Attribute(name) => raw.attributes.push((
                Field {
                    text: name.clone(),
                    pos: head.pos,
                },
                field(cell.text),
            )),
            Column::Other(name) => {
                // Checked only for rows whose protocol is valid (upstream).
                let Some(protocol) = protocol else {
                    if schema.sensitive_names().contains(&name.as_str()) {
                        raw.unclassified_secrets.push(cell.text);
                    }
                    continue;
                };
                let is_attribute = schema.connection_attribute(name).is_some();
                // KCM protocols publish no parameter list: any non-attribute header
                // is taken as a parameter of theirs.
                let is_parameter = if protocol.is_checked() {
                    protocol.field(name).is_some()
                } else {
                    !is_attribute
                };
                let name_field = Field {
                    text: name.clone(),
                    pos: head.pos,
                };
                match (is_attribute, is_parameter) {
                    (true, true) => {
                        raw.broken = true;
                        sink.error(
                            "csv-ambiguous-header",
                            pos,
                            format!(
                                "header {name:?} is both a connection attribute and a {} parameter",
                                protocol.name
                            ),
                            Some(format!(
                                "name the column `{name} (parameter)` or `{name} (attribute)`"
                            )),
                        );
                        raw.attributes.push((name_field, field(cell.text)));
                    }
                    (true, false) => raw.attributes.push((name_field, field(cell.text))),
                    (false, true) => raw.parameters.push((name_field, field(cell.text))),
                    (false, false) => {
                        raw.broken = true;
                        // The value of an unknown parameter is shown as (sensitive)
                        // everywhere, so the row's source line masks it.
                        raw.unclassified_secrets.push(cell.text);
                        let help = unknown_header_help(name, protocol, schema, sink);
                        sink.error(
                            "csv-unknown-header",
                            pos,
                            format!("header {name:?} is neither a connection attribute nor a {} parameter", protocol.name),
                            Some(help),
                        );
                    }
                }
            }
        }
    }
    raw
}

/// "did you mean" for a header that is neither an attribute nor a parameter of
/// `protocol` (while the file still wants hints), or how to store it anyway.
fn unknown_header_help(
    name: &str,
    protocol: &crate::schema::Protocol,
    schema: &Schema,
    sink: &Sink<'_>,
) -> String {
    let candidates = protocol
        .fields
        .iter()
        .flatten()
        .map(|f| f.name.as_str())
        .chain(
            schema
                .connection_attributes()
                .iter()
                .map(|f| f.name.as_str()),
        );
    sink.wants_hints()
        .then(|| did_you_mean(name, candidates))
        .flatten()
        .unwrap_or_else(|| {
            format!(
                "to store it anyway, name the column `{name} (parameter)` or `{name} (attribute)`"
            )
        })
}

#[cfg(test)]
mod tests;

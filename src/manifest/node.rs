//! The document tree that the JSON and YAML readers both produce, with the source
//! position of every value, so that one set of rules (`records`) turns either format
//! into entries and every diagnostic points at the exact value.

/// A 1-based line and column (the column counts characters).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Pos {
    pub line: u32,
    pub column: u32,
}

impl Pos {
    #[must_use]
    pub fn new(line: u32, column: u32) -> Self {
        Self { line, column }
    }
}

/// What kind of scalar a value was written as. Text is always kept as written
/// (JSON numbers and YAML plain scalars keep their source text, DESIGN.md §2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScalarKind {
    /// A string, a YAML plain scalar that is not null or boolean, or a YAML scalar
    /// tagged `!!str`.
    Text,
    /// A JSON number (or a YAML scalar tagged `!!int`/`!!float`).
    Number,
    /// `true`/`false`; the text is already normalised to lower case.
    Bool,
    /// JSON `null`, YAML `~`, `null`, an empty plain scalar, or `!!null`.
    Null,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    Scalar {
        text: String,
        kind: ScalarKind,
    },
    List(Vec<Node>),
    /// Keys in document order; duplicates are rejected by the readers.
    Map(Vec<(Node, Node)>),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    pub pos: Pos,
    pub value: Value,
}

impl Node {
    /// A short name of the value's type, for "expected X, found Y" messages.
    #[must_use]
    pub fn type_name(&self) -> &'static str {
        match &self.value {
            Value::Scalar { kind, .. } => match kind {
                ScalarKind::Text => "a string",
                ScalarKind::Number => "a number",
                ScalarKind::Bool => "a boolean",
                ScalarKind::Null => "null",
            },
            Value::List(_) => "a list",
            Value::Map(_) => "an object",
        }
    }

    /// The text of a scalar key (map keys are compared as text).
    #[must_use]
    pub fn as_text(&self) -> Option<&str> {
        match &self.value {
            Value::Scalar { text, .. } => Some(text),
            _ => None,
        }
    }
}

/// Values (scalars, lists and objects, keys included) one JSON or YAML manifest may
/// hold. Each costs about 80 bytes once read, so this bounds a document's tree at
/// under 1 GB however short its values are written (`[1,1,1,...]` spends two bytes
/// a value: 32 million of them under the 64 MiB file limit took over 2 GB). 100,000
/// realistic connections hold about 3.5 million.
pub const MAX_VALUES: usize = 10_000_000;

/// The message of the `file-too-large` problem for a document past [`MAX_VALUES`].
#[must_use]
pub fn too_many_values() -> String {
    format!("the file holds more than {MAX_VALUES} values; split it into several files")
}

/// A map being read: its entries in document order, and each key's first
/// occurrence found in constant time. A manifest object has a handful of keys, but
/// a hostile one may have a million, and a linear search per key made reading it
/// quadratic (300,000 keys took minutes).
#[derive(Debug, Default)]
pub struct MapBuilder {
    entries: Vec<(Node, Node)>,
    /// Key text → index in `entries`, built once the map outgrows a linear search.
    index: Option<std::collections::HashMap<String, usize>>,
}

impl MapBuilder {
    const LINEAR: usize = 16;

    /// Adds `key: value`, or returns the earlier entry with the same key text (the
    /// first one is kept and `value` dropped).
    pub fn insert(&mut self, key: Node, value: Node) -> Result<(), &(Node, Node)> {
        let text = key.as_text().unwrap_or_default();
        let first = match &mut self.index {
            Some(index) => index.get(text).copied(),
            None => self
                .entries
                .iter()
                .position(|(k, _)| k.as_text() == Some(text)),
        };
        if let Some(i) = first {
            return Err(&self.entries[i]);
        }
        if let Some(index) = &mut self.index {
            index.insert(text.to_owned(), self.entries.len());
        } else if self.entries.len() >= Self::LINEAR {
            let mut index: std::collections::HashMap<String, usize> = self
                .entries
                .iter()
                .enumerate()
                .map(|(i, (k, _))| (k.as_text().unwrap_or_default().to_owned(), i))
                .collect();
            index.insert(text.to_owned(), self.entries.len());
            self.index = Some(index);
        }
        self.entries.push((key, value));
        Ok(())
    }

    #[must_use]
    pub fn into_entries(self) -> Vec<(Node, Node)> {
        self.entries
    }
}

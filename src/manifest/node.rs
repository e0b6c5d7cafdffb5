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

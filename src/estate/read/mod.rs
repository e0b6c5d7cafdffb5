//! Reading an estate document (DESIGN.md §8): a JSON or YAML file whose top level
//! is a mapping. The document tree (`manifest::node`) becomes typed objects
//! (`estate::model`) with every problem reported at its value's line and column,
//! never stopping at the first. An object with an error is left out, as a
//! connection with an error is.
//!
//! `connections` items are import-format connections and go through
//! `manifest::records` and `manifest::check` exactly as in a manifest file. The
//! per-kind rules are in `objects` (connection groups, sharing profiles),
//! `principals` (users, user groups) and `permissions`; the shared field rules
//! are here (names, name lists), in `paths` and in `attributes`.

mod attributes;
mod objects;
mod paths;
mod permissions;
mod principals;

use std::collections::BTreeMap;

use super::model::{Estate, Ref};
use super::schema::EstateSchema;
use crate::manifest::check::{self, MAX_NAME_CHARS};
use crate::manifest::csv::js_trim;
use crate::manifest::node::{Node, Pos, ScalarKind, Value};
use crate::manifest::records::{self, RawEntry, Sink};
use crate::model::Source;

/// The keys of an estate document, in the order the README lists them.
pub const TOP_KEYS: &[&str] = &[
    "connectionGroups",
    "sharingProfiles",
    "userGroups",
    "users",
    "connections",
];

/// Objects and references (names in lists, permission targets) one estate
/// document may hold. Each costs a few hundred bytes once read (a reference
/// carries its place), while a document's value limit (`node::MAX_VALUES`) allows
/// three million `{username: a}` users in 64 MiB, well over a gigabyte; a real
/// estate has thousands.
pub const MAX_ITEMS_PER_FILE: usize = 1_000_000;

/// What one estate document declares, and the literal secrets it holds (with
/// where each value was written) so that a shown source line can mask them.
#[derive(Debug, Default)]
pub struct ReadOutcome {
    pub estate: Estate,
    pub secrets: Vec<(Pos, String)>,
}

/// Reads a top-level mapping. Its `connections` are handed to `emit` one by one,
/// as a manifest's are.
pub fn document(
    pos: Pos,
    pairs: Vec<(Node, Node)>,
    sink: &mut Sink<'_>,
    emit: &mut dyn FnMut(RawEntry, &mut Sink<'_>),
) -> ReadOutcome {
    let mut cx = Cx {
        sink,
        schema: EstateSchema::builtin(),
        secrets: Vec::new(),
        items: 0,
    };
    let mut estate = Estate::default();
    if looks_like_a_connection(&pairs) {
        cx.sink.error(
            "not-a-list",
            pos,
            "a manifest must be a list of connections, but this is one object",
            Some(format!(
                "write it as a list item (`[{{...}}]` in JSON, `- name: ...` in YAML); a top-level object is an estate document, whose keys are {}",
                quoted(TOP_KEYS)
            )),
        );
        return ReadOutcome::default();
    }
    if pairs.is_empty() {
        cx.sink.warning(
            "empty-manifest",
            pos,
            "this estate document declares nothing",
            None,
        );
    }
    for (key, value) in pairs {
        let name = key.as_text().unwrap_or_default();
        let what = match name {
            "connections" => "connections",
            "connectionGroups" => "connection groups",
            "sharingProfiles" => "sharing profiles",
            "userGroups" => "user groups",
            "users" => "users",
            _ => {
                cx.unknown_key(&key, &value, TOP_KEYS, "an estate document", TOP_HINTS);
                continue;
            }
        };
        let Some(items) = cx.list(name, value, what) else {
            continue;
        };
        if name == "connections" {
            records::entries(items, cx.sink, emit);
            continue;
        }
        for item in items {
            if !cx.charge(item.pos) {
                break;
            }
            match name {
                "connectionGroups" => estate
                    .connection_groups
                    .extend(objects::group(&mut cx, item)),
                "sharingProfiles" => estate
                    .sharing_profiles
                    .extend(objects::profile(&mut cx, item)),
                "userGroups" => estate.user_groups.extend(principals::group(&mut cx, item)),
                _ => estate.users.extend(principals::user(&mut cx, item)),
            }
        }
    }
    ReadOutcome {
        estate,
        secrets: cx.secrets,
    }
}

/// Hints for keys people write at the top by mistake.
const TOP_HINTS: &[(&str, &str)] = &[(
    "groups",
    "user groups are `userGroups`, connection groups `connectionGroups`",
)];

/// A single connection written without its list: the old `not-a-list` mistake,
/// not an estate document with unknown keys.
fn looks_like_a_connection(pairs: &[(Node, Node)]) -> bool {
    let keys = || pairs.iter().filter_map(|(k, _)| k.as_text());
    // `users` and `groups` are keys of both; `groups` alone says nothing.
    keys().all(|k| !TOP_KEYS.contains(&k))
        && keys().any(|k| k != "groups" && records::KNOWN_KEYS.contains(&k))
}

/// `a`, `b` and `c`, each in backquotes.
pub(super) fn quoted(items: &[&str]) -> String {
    let quoted: Vec<String> = items.iter().map(|i| format!("`{i}`")).collect();
    match quoted.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
        _ => quoted.join(""),
    }
}

pub(super) fn is_null(node: &Node) -> bool {
    matches!(
        node.value,
        Value::Scalar {
            kind: ScalarKind::Null,
            ..
        }
    )
}

/// The state of reading one document.
pub(super) struct Cx<'s, 'f> {
    pub sink: &'s mut Sink<'f>,
    pub schema: &'static EstateSchema,
    pub secrets: Vec<(Pos, String)>,
    /// Objects and references read so far (see [`MAX_ITEMS_PER_FILE`]).
    items: usize,
}

impl Cx<'_, '_> {
    /// Counts one object or reference at `pos`. Past [`MAX_ITEMS_PER_FILE`] it
    /// returns false, after one `file-too-large` error, and the rest is not read.
    pub fn charge(&mut self, pos: Pos) -> bool {
        self.items += 1;
        if self.items == MAX_ITEMS_PER_FILE + 1 {
            self.sink.error(
                "file-too-large",
                pos,
                format!(
                    "the file declares more than {MAX_ITEMS_PER_FILE} objects and references; the rest is not read"
                ),
                Some("split it into several files".to_owned()),
            );
        }
        self.items <= MAX_ITEMS_PER_FILE
    }

    pub fn source(&self, pos: Pos) -> Source {
        Source {
            file: self.sink.file.to_owned(),
            line: pos.line,
            column: pos.column,
        }
    }

    /// A list of items; `None` for null (nothing declared) or any other type.
    pub fn list(&mut self, key: &str, node: Node, what: &str) -> Option<Vec<Node>> {
        let type_name = node.type_name();
        match node.value {
            Value::List(items) => Some(items),
            _ if is_null(&node) => None,
            _ => {
                self.sink.error(
                    "invalid-type",
                    node.pos,
                    format!("`{key}` must be a list of {what}, not {type_name}"),
                    Some("write a list: `[{...}]` in JSON, `- ...` items in YAML".to_owned()),
                );
                None
            }
        }
    }

    /// An object's keys and values, the known ones only; every other key is an
    /// error (`what` names the object: "a user").
    pub fn object(
        &mut self,
        node: Node,
        what: &str,
        known: &[&str],
        hints: &[(&str, &str)],
    ) -> Option<(Pos, Vec<(String, Node)>)> {
        let pos = node.pos;
        let type_name = node.type_name();
        let Value::Map(pairs) = node.value else {
            self.sink.error(
                "not-an-object",
                pos,
                format!("{what} must be an object, not {type_name}"),
                Some(format!("its keys are {}", quoted(known))),
            );
            return None;
        };
        let mut out = Vec::with_capacity(pairs.len());
        for (key, value) in pairs {
            let text = key.as_text().unwrap_or_default();
            if known.contains(&text) {
                out.push((text.to_owned(), value));
            } else {
                self.unknown_key(&key, &value, known, what, hints);
            }
        }
        Some((pos, out))
    }

    /// An unknown key is an error. Its value, when text, is masked wherever its
    /// line is shown: a misspelt key (`pasword`) may hold a secret.
    pub fn unknown_key(
        &mut self,
        key_node: &Node,
        value: &Node,
        known: &[&str],
        what: &str,
        hints: &[(&str, &str)],
    ) {
        if let Value::Scalar { text, .. } = &value.value
            && !text.is_empty()
            && !crate::secret::has_reference(text)
        {
            self.secrets.push((value.pos, text.clone()));
        }
        let (pos, key) = (key_node.pos, key_node.as_text().unwrap_or_default());
        let help = hints
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, h)| (*h).to_owned())
            .or_else(|| {
                check::hint_for(key, self.sink)
                    .then(|| check::did_you_mean(key, known.iter().copied()))
                    .flatten()
            })
            .unwrap_or_else(|| format!("the keys of {what} are {}", quoted(known)));
        self.sink.error(
            "unknown-key",
            pos,
            format!("unknown key {key:?} in {what}"),
            Some(help),
        );
    }

    /// A required key that is absent or null.
    pub fn missing(&mut self, pos: Pos, what: &str, key: &str) {
        let example = match key {
            "username" => "`username: alice`",
            "path" => "`path: ROOT/Prod/Web`",
            "connection" => "the connection's path, `connection: ROOT/Prod/Web/web-1`",
            _ => "`name: ops`",
        };
        self.sink.error(
            "missing-key",
            pos,
            format!("{what} needs `{key}`"),
            Some(format!("for example {example}")),
        );
    }

    /// A scalar's text (strings, numbers and booleans as written); `None` for null
    /// and, with an error, for a list or an object.
    pub fn scalar(&mut self, key: &str, node: &Node) -> Option<String> {
        match &node.value {
            Value::Scalar {
                kind: ScalarKind::Null,
                ..
            } => None,
            Value::Scalar { text, .. } => Some(text.clone()),
            _ => {
                self.sink.error(
                    "invalid-type",
                    node.pos,
                    format!("`{key}` must be text, not {}", node.type_name()),
                    None,
                );
                None
            }
        }
    }

    /// The name an object is known by (`username`, a user group's or a sharing
    /// profile's `name`): required, not blank, at most 128 characters (the
    /// database's column), no NUL, and no white space around it (names in member
    /// lists are trimmed, as Guacamole's import trims them, so such a name could
    /// never be referred to).
    pub fn identity(
        &mut self,
        obj: Pos,
        what: &str,
        key: &str,
        node: Option<&Node>,
    ) -> Option<String> {
        let Some(node) = node.filter(|n| !is_null(n)) else {
            self.missing(obj, what, key);
            return None;
        };
        let text = self.scalar(key, node)?;
        if text.trim().is_empty() {
            self.sink.error(
                "missing-name",
                node.pos,
                format!("the `{key}` of {what} is blank"),
                None,
            );
            return None;
        }
        if text.chars().count() > MAX_NAME_CHARS {
            self.sink.error(
                "name-too-long",
                node.pos,
                format!("the `{key}` is longer than {MAX_NAME_CHARS} characters"),
                None,
            );
            return None;
        }
        if js_trim(&text) != text {
            self.sink.error(
                "invalid-name",
                node.pos,
                format!("{text:?} begins or ends with white space"),
                Some("names in member and permission lists are trimmed, so this one could never be referred to".to_owned()),
            );
            return None;
        }
        check::no_nul(&format!("the `{key}`"), &text, node.pos, self.sink).then_some(text)
    }

    /// A name that refers to a user or a user group, trimmed (`None` when blank,
    /// which a list skips, as the import does).
    pub fn reference_name(&mut self, text: &str, pos: Pos) -> Option<String> {
        let name = js_trim(text);
        if name.is_empty() {
            return None;
        }
        if name.chars().count() > MAX_NAME_CHARS {
            self.sink.error(
                "name-too-long",
                pos,
                format!("the name is longer than {MAX_NAME_CHARS} characters"),
                Some("no user or user group can have it".to_owned()),
            );
            return None;
        }
        check::no_nul("a user or group name", name, pos, self.sink).then(|| name.to_owned())
    }

    /// A list of user or user-group names, trimmed, sorted, each once (the first
    /// place kept). `None` when not written.
    pub fn names(&mut self, key: &str, node: Node) -> Option<Vec<Ref<String>>> {
        let type_name = node.type_name();
        let items = match node.value {
            Value::List(items) => items,
            _ if is_null(&node) => return None,
            _ => {
                self.sink.error(
                    "invalid-type",
                    node.pos,
                    format!("`{key}` must be a list of names, not {type_name}"),
                    Some(format!("write `{key}: [name]` even for a single name")),
                );
                return None;
            }
        };
        let mut out: BTreeMap<String, Source> = BTreeMap::new();
        for item in items {
            if !self.charge(item.pos) {
                break;
            }
            match &item.value {
                Value::Scalar {
                    kind: ScalarKind::Null,
                    ..
                } => {}
                Value::Scalar { text, .. } => {
                    if let Some(name) = self.reference_name(text, item.pos) {
                        let source = self.source(item.pos);
                        out.entry(name).or_insert(source);
                    }
                }
                _ => self.sink.error(
                    "invalid-type",
                    item.pos,
                    format!(
                        "each item of `{key}` must be a name, not {}",
                        item.type_name()
                    ),
                    None,
                ),
            }
        }
        Some(
            out.into_iter()
                .map(|(target, source)| Ref { target, source })
                .collect(),
        )
    }

    /// `true` or `false`; `None` for null.
    pub fn boolean(&mut self, key: &str, node: &Node) -> Option<bool> {
        match &node.value {
            Value::Scalar {
                kind: ScalarKind::Bool,
                text,
            } => Some(text == "true"),
            _ if is_null(node) => None,
            Value::Scalar { text, .. } => {
                let help = matches!(text.to_lowercase().as_str(), "true" | "false")
                    .then(|| format!("write {} without quotes", text.to_lowercase()));
                self.sink.error(
                    "invalid-type",
                    node.pos,
                    format!("`{key}` must be true or false, not {}", node.type_name()),
                    help,
                );
                None
            }
            _ => {
                self.sink.error(
                    "invalid-type",
                    node.pos,
                    format!("`{key}` must be true or false, not {}", node.type_name()),
                    None,
                );
                None
            }
        }
    }
}

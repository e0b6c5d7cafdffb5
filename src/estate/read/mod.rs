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
//! (names, name lists, paths, attributes) are here.

mod objects;
mod permissions;
mod principals;

use std::collections::BTreeMap;

use super::model::{Estate, Ref, SharingProfileKey};
use super::schema::{AttributeValue, EstateSchema, attribute_value};
use crate::manifest::check::{self, MAX_NAME_CHARS};
use crate::manifest::csv::js_trim;
use crate::manifest::node::{Node, Pos, ScalarKind, Value};
use crate::manifest::records::{self, Field as TextField, RawEntry, Sink};
use crate::model::{ConnKey, GroupPath, Source};
use crate::schema::Field;

/// The keys of an estate document, in the order the README lists them.
pub const TOP_KEYS: &[&str] = &[
    "connectionGroups",
    "sharingProfiles",
    "userGroups",
    "users",
    "connections",
];

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
            other => {
                cx.unknown_key(key.pos, other, TOP_KEYS, "an estate document", TOP_HINTS);
                continue;
            }
        };
        let Some(items) = cx.list(name, value, what) else {
            continue;
        };
        match name {
            "connections" => records::entries(items, cx.sink, emit),
            "connectionGroups" => estate
                .connection_groups
                .extend(items.into_iter().filter_map(|i| objects::group(&mut cx, i))),
            "sharingProfiles" => estate.sharing_profiles.extend(
                items
                    .into_iter()
                    .filter_map(|i| objects::profile(&mut cx, i)),
            ),
            "userGroups" => estate.user_groups.extend(
                items
                    .into_iter()
                    .filter_map(|i| principals::group(&mut cx, i)),
            ),
            _ => estate.users.extend(
                items
                    .into_iter()
                    .filter_map(|i| principals::user(&mut cx, i)),
            ),
        }
    }
    ReadOutcome {
        estate,
        secrets: cx.secrets,
    }
}

/// Hints for keys people write at the top by mistake.
const TOP_HINTS: &[(&str, &str)] = &[
    (
        "groups",
        "user groups are `userGroups`, connection groups `connectionGroups`",
    ),
    (
        "sharingprofiles",
        "did you mean `sharingProfiles`? (keys are case-sensitive)",
    ),
];

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
}

impl Cx<'_, '_> {
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
                    Some(format!("write `{key}:` followed by `- ...` items")),
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
                self.unknown_key(key.pos, text, known, what, hints);
            }
        }
        Some((pos, out))
    }

    pub fn unknown_key(
        &mut self,
        pos: Pos,
        key: &str,
        known: &[&str],
        what: &str,
        hints: &[(&str, &str)],
    ) {
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
        self.sink
            .error("missing-key", pos, format!("{what} needs `{key}`"), None);
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

    /// `attributes`: only the keys written; a null or empty value clears. Names are
    /// checked against `fields` (a warning, as for connections: extensions add
    /// attributes), values as the data source reads them. Values of `sensitive`
    /// names are remembered for masking.
    pub fn attributes(
        &mut self,
        node: Node,
        what: &str,
        fields: &[Field],
        sensitive: &[&str],
    ) -> BTreeMap<String, Option<String>> {
        let mut out = BTreeMap::new();
        let type_name = node.type_name();
        let pairs = match node.value {
            Value::Map(pairs) => pairs,
            _ if is_null(&node) => return out,
            _ => {
                self.sink.error(
                    "invalid-type",
                    node.pos,
                    format!("`attributes` must be an object of names and values, not {type_name}"),
                    None,
                );
                return out;
            }
        };
        for (key, value) in pairs {
            let name = key.as_text().unwrap_or_default().to_owned();
            let field = fields.iter().find(|f| f.name == name);
            if field.is_none() {
                let help = check::hint_for(&name, self.sink)
                    .then(|| check::did_you_mean(&name, fields.iter().map(|f| f.name.as_str())))
                    .flatten()
                    .unwrap_or_else(|| {
                        format!("the server drops unknown attributes when it creates a {what}, unless an extension declares them")
                    });
                self.sink.strict_warning(
                    "unknown-attribute",
                    key.pos,
                    format!("{name:?} is not a {what} attribute of the JDBC data source"),
                    Some(help),
                );
            }
            if !check::no_nul("an attribute name", &name, key.pos, self.sink) {
                continue;
            }
            let text = match &value.value {
                Value::Scalar {
                    kind: ScalarKind::Null,
                    ..
                } => None,
                Value::Scalar { text, .. } => Some(text.clone()).filter(|t| !t.is_empty()),
                _ => {
                    self.sink.error(
                        "invalid-type",
                        value.pos,
                        format!(
                            "the value of attribute {name:?} must be text or null, not {}",
                            value.type_name()
                        ),
                        Some("null clears the attribute".to_owned()),
                    );
                    continue;
                }
            };
            let Some(text) = text else {
                out.insert(name, None);
                continue;
            };
            if sensitive.contains(&name.as_str()) && !crate::secret::has_reference(&text) {
                self.secrets.push((value.pos, text.clone()));
            }
            if !check::value_checks(&name, &text, value.pos, "attribute", self.sink) {
                continue;
            }
            let stored = match field.map(|f| attribute_value(f, &text)) {
                None => Some(text),
                Some(Ok(AttributeValue::Set(v))) => Some(v),
                Some(Ok(AttributeValue::Clear)) => None,
                Some(Err(expected)) => {
                    self.sink.error(
                        "invalid-attribute-value",
                        value.pos,
                        format!("attribute {name:?} must be {expected}"),
                        Some(format!(
                            "Guacamole ignores any other value silently, so the {what} would never match"
                        )),
                    );
                    continue;
                }
            };
            out.insert(name, stored);
        }
        out
    }

    /// A connection group's path (`invalid-group` errors).
    pub fn group_path(&mut self, text: &str, pos: Pos) -> Option<GroupPath> {
        let field = TextField {
            text: text.to_owned(),
            pos,
        };
        let path = check::group_path(&field, self.sink)?;
        check::no_nul("the path", text, pos, self.sink).then_some(path)
    }

    /// A path to an object below a group: its last `min` segments are the
    /// object's names (`invalid-path` errors).
    fn object_path(
        &mut self,
        text: &str,
        pos: Pos,
        min: usize,
        example: &str,
    ) -> Option<Vec<String>> {
        let path = match GroupPath::parse(text) {
            Ok(path) => path,
            Err(e) => {
                self.sink.error(
                    "invalid-path",
                    pos,
                    e.to_string().replacen("group path", "path", 1),
                    Some(format!("write the whole path, for example `{example}`")),
                );
                return None;
            }
        };
        if path.depth() < min {
            self.sink.error(
                "invalid-path",
                pos,
                format!("{text:?} is too short: the path ends with the object's name"),
                Some(format!("write the whole path, for example `{example}`; a `/` inside a name is written `\\/`")),
            );
            return None;
        }
        if let Some(long) = path
            .segments()
            .iter()
            .find(|s| s.chars().count() > MAX_NAME_CHARS)
        {
            self.sink.error(
                "invalid-path",
                pos,
                format!("the name {long:?} is longer than {MAX_NAME_CHARS} characters"),
                None,
            );
            return None;
        }
        if !check::no_nul("the path", text, pos, self.sink) {
            return None;
        }
        Some(path.segments().to_vec())
    }

    /// A connection's path: its group's path and its name, `ROOT/Prod/Web/web-1`
    /// (a `/` in a name is written `\/`, as in group paths).
    pub fn connection_path(&mut self, text: &str, pos: Pos) -> Option<ConnKey> {
        let mut segments = self.object_path(text, pos, 1, "ROOT/Prod/Web/web-1")?;
        let name = segments.pop()?;
        Some(ConnKey {
            group: GroupPath::from_segments(segments),
            name,
        })
    }

    /// A sharing profile's path: its connection's path and its name,
    /// `ROOT/Prod/Web/web-1/watch-only`.
    pub fn sharing_profile_path(&mut self, text: &str, pos: Pos) -> Option<SharingProfileKey> {
        let mut segments = self.object_path(text, pos, 2, "ROOT/Prod/Web/web-1/watch-only")?;
        let name = segments.pop()?;
        let connection = segments.pop()?;
        Some(SharingProfileKey {
            connection: ConnKey {
                group: GroupPath::from_segments(segments),
                name: connection,
            },
            name,
        })
    }
}

//! The per-entry rules, the same for every format (DESIGN.md §2, rest-api.md §11):
//! required name and protocol, one parent, group path normalisation, option values
//! rewritten to their canonical spelling, parameter and attribute names checked,
//! secret reference syntax, and the database limits a server would fail on.

use super::node::Pos;
use super::records::{Field, RawEntry, Sink};
use crate::fields::{Fields, Name};
use crate::guacamole::limits::MAX_GROUP_DEPTH;
use crate::model::{Entry, GroupPath, GroupPathError, Parent, Source};
use crate::schema::{FieldType, Protocol, Schema};
use crate::secret;

/// Column limits of Guacamole's `PostgreSQL` schema: a longer value makes the server
/// fail (413 for parameter values, a database error for names), so say so here.
pub const MAX_NAME_CHARS: usize = 128;
pub const MAX_VALUE_UTF16: usize = 4096;

/// Names longer than this get no "did you mean": no known name is nearly as long,
/// and the distance costs the product of the lengths (a 1 MB key took 1.4 s).
pub const MAX_HINTED_NAME_CHARS: usize = 64;

/// Whether a "did you mean" for `name` is worth its cost (see [`Sink::wants_hints`]).
pub fn hint_for(name: &str, sink: &Sink<'_>) -> bool {
    sink.wants_hints() && name.chars().count() <= MAX_HINTED_NAME_CHARS
}

/// "did you mean `x`?" for the closest candidate, if any is close.
pub fn did_you_mean<'a>(name: &str, candidates: impl Iterator<Item = &'a str>) -> Option<String> {
    if name.chars().count() > MAX_HINTED_NAME_CHARS {
        return None;
    }
    let limit = (name.chars().count() / 3).max(1);
    candidates
        .map(|c| {
            (
                strsim::osa_distance(&name.to_lowercase(), &c.to_lowercase()),
                c,
            )
        })
        .filter(|(d, _)| *d <= limit)
        .min()
        .map(|(_, c)| format!("did you mean `{c}`?"))
}

/// Applies the rules to one raw entry. Returns `None` when the entry has an error
/// (it is then left out of the model), after reporting every problem it has.
pub fn finish(raw: &RawEntry, schema: &Schema, sink: &mut Sink<'_>) -> Option<Entry> {
    let protocol = protocol(raw, schema, sink);
    let name = name(raw, sink);
    let parent = match (&raw.group, &raw.parent_identifier) {
        (Some(g), Some(p)) => {
            sink.error(
                "ambiguous-parent",
                p.pos,
                "a connection may name a `group` or a `parentIdentifier`, not both",
                Some(format!(
                    "the group is given at line {}, column {}",
                    g.pos.line, g.pos.column
                )),
            );
            None
        }
        (Some(g), None) => group(g, sink),
        (None, Some(p)) => parent_identifier(p, sink),
        (None, None) => Some(Parent::Group(GroupPath::root())),
    };
    let parameters = parameters(raw, protocol, sink);
    let attributes = attributes(raw, schema, sink);
    let mut nul_free = true;
    for (what, field) in [("the name", &raw.name), ("the group", &raw.group)] {
        if let Some(f) = field {
            nul_free &= no_nul(what, &f.text, f.pos, sink);
        }
    }
    for f in raw.users.iter().chain(&raw.groups) {
        nul_free &= no_nul("a user or group name", &f.text, f.pos, sink);
    }
    if raw.broken || !nul_free {
        return None;
    }
    Some(Entry {
        name: name?,
        protocol: protocol?.name.clone(),
        parent: parent?,
        parameters: parameters?,
        attributes: attributes?,
        users: names(&raw.users),
        groups: names(&raw.groups),
        source: Source {
            file: sink.file.to_owned(),
            line: raw.pos.line,
            column: raw.pos.column,
        },
    })
}

/// Required, known, case-sensitive.
fn protocol<'s>(raw: &RawEntry, schema: &'s Schema, sink: &mut Sink<'_>) -> Option<&'s Protocol> {
    let Some(p) = raw.protocol.as_ref().filter(|p| !p.text.is_empty()) else {
        sink.error(
            "missing-protocol",
            raw.pos,
            "this connection has no protocol",
            None,
        );
        return None;
    };
    let known = schema.protocol(&p.text);
    if known.is_none() {
        sink.error(
            "unknown-protocol",
            p.pos,
            format!("unknown protocol {:?}", p.text),
            hint_for(&p.text, sink)
                .then(|| schema.suggest_protocol(&p.text))
                .flatten()
                .map(|s| format!("did you mean `{s}`? (protocol names are case-sensitive)")),
        );
    }
    known
}

/// Required and not blank (the server refuses blank names), at most 128 characters.
fn name(raw: &RawEntry, sink: &mut Sink<'_>) -> Option<String> {
    match &raw.name {
        Some(n) if !n.text.trim().is_empty() => {
            if n.text.chars().count() > MAX_NAME_CHARS {
                sink.error(
                    "name-too-long",
                    n.pos,
                    format!("the name is longer than {MAX_NAME_CHARS} characters"),
                    None,
                );
                return None;
            }
            Some(n.text.clone())
        }
        Some(n) => {
            sink.error("missing-name", n.pos, "the connection name is blank", None);
            None
        }
        None => {
            sink.error("missing-name", raw.pos, "this connection has no name", None);
            None
        }
    }
}

/// Option values rewritten to their canonical spelling; unknown names warned about
/// (JSON/YAML only; CSV headers were classified already).
fn parameters(
    raw: &RawEntry,
    protocol: Option<&Protocol>,
    sink: &mut Sink<'_>,
) -> Option<Fields<String>> {
    let mut ok = true;
    let mut parameters = Fields::new();
    for (key, value) in &raw.parameters {
        let mut text = value.text.clone();
        if let Some(protocol) = protocol {
            match protocol.field(&key.text) {
                Some(field) => {
                    if let Some(canonical) = field.canonical_option(&text) {
                        canonical.clone_into(&mut text);
                    }
                }
                None if raw.check_names && protocol.is_checked() => {
                    sink.strict_warning(
                        "unknown-parameter",
                        key.pos,
                        format!(
                            "{:?} is not a parameter of protocol {}",
                            key.text, protocol.name
                        ),
                        hint_for(&key.text, sink)
                            .then(|| protocol.suggest_parameter(&key.text))
                            .flatten()
                            .map(|s| format!("did you mean `{s}`?")),
                    );
                }
                None => {}
            }
        }
        ok &= no_nul("a parameter name", &key.text, key.pos, sink);
        ok &= value_checks(&key.text, &text, value.pos, "parameter", sink);
        if parameters.insert(Name::new(&key.text), text).is_some() {
            ok = false;
            sink.error(
                "duplicate-parameter",
                key.pos,
                format!("parameter {:?} is given twice", key.text),
                None,
            );
        }
    }
    parameters.shrink_to_fit();
    ok.then_some(parameters)
}

fn attributes(raw: &RawEntry, schema: &Schema, sink: &mut Sink<'_>) -> Option<Fields<String>> {
    let mut ok = true;
    let mut attributes = Fields::new();
    for (key, value) in &raw.attributes {
        let mut text = value.text.clone();
        match schema.connection_attribute(&key.text) {
            Some(field) => match attribute_value(&field.field_type, &field.options, &text) {
                Ok(Some(canonical)) => {
                    if field.field_type == FieldType::Numeric && canonical != text {
                        sink.warning(
                            "numeric-attribute-rewritten",
                            value.pos,
                            format!(
                                "attribute {:?} is written {text:?}; Guacamole stores the number, so guacsync sends {canonical:?}",
                                key.text
                            ),
                            Some(format!("write `{canonical}` to silence this warning")),
                        );
                    }
                    text = canonical;
                }
                Ok(None) => {}
                Err(expected) => {
                    ok = false;
                    sink.error(
                        "invalid-attribute-value",
                        value.pos,
                        format!("attribute {:?} must be {expected}", key.text),
                        Some("Guacamole ignores any other value silently, so the connection would never match".to_owned()),
                    );
                }
            },
            None if raw.check_names => sink.strict_warning(
                "unknown-attribute",
                key.pos,
                format!(
                    "{:?} is not a connection attribute of the JDBC data source",
                    key.text
                ),
                hint_for(&key.text, sink)
                    .then(|| schema.suggest_attribute(&key.text))
                    .flatten()
                    .map(|s| format!("did you mean `{s}`?"))
                    .or_else(|| {
                        Some(
                            "the server drops unknown attributes when it creates a connection"
                                .to_owned(),
                        )
                    }),
            ),
            None => {}
        }
        ok &= no_nul("an attribute name", &key.text, key.pos, sink);
        ok &= value_checks(&key.text, &text, value.pos, "attribute", sink);
        if attributes.insert(Name::new(&key.text), text).is_some() {
            ok = false;
            sink.error(
                "duplicate-attribute",
                key.pos,
                format!("attribute {:?} is given twice", key.text),
                None,
            );
        }
    }
    attributes.shrink_to_fit();
    ok.then_some(attributes)
}

fn names(fields: &[Field]) -> Vec<String> {
    let mut out: Vec<String> = fields
        .iter()
        .map(|f| super::csv::js_trim(&f.text).to_owned())
        .filter(|s| !s.is_empty())
        .collect();
    out.sort();
    out.dedup();
    out
}

fn group(g: &Field, sink: &mut Sink<'_>) -> Option<Parent> {
    group_path(g, sink).map(Parent::Group)
}

/// A group path as written in a document: upstream's normalisation, `\/` escapes,
/// names of at most [`MAX_NAME_CHARS`]. Errors are `invalid-group` at the value.
pub(crate) fn group_path(g: &Field, sink: &mut Sink<'_>) -> Option<GroupPath> {
    if let Some(path) = sink.groups.get(&g.text) {
        return Some(path.clone());
    }
    match GroupPath::parse(&g.text) {
        Ok(path) => {
            if let Some(long) = path
                .segments()
                .iter()
                .find(|s| s.chars().count() > MAX_NAME_CHARS)
            {
                sink.error(
                    "invalid-group",
                    g.pos,
                    format!("the group name {long:?} is longer than {MAX_NAME_CHARS} characters"),
                    None,
                );
                return None;
            }
            if path.depth() > MAX_GROUP_DEPTH {
                sink.error(
                    "group-too-deep",
                    g.pos,
                    format!(
                        "the group path has {} levels below ROOT; guacsync manages at most {MAX_GROUP_DEPTH}",
                        path.depth()
                    ),
                    Some("a deeper tree is more than Guacamole's own JSON writer (and so guacsync) can read back".to_owned()),
                );
                return None;
            }
            if sink.groups.len() < super::records::MAX_SHARED_GROUPS {
                sink.groups.insert(g.text.clone(), path.clone());
            }
            Some(path)
        }
        Err(e) => {
            let help = match e {
                GroupPathError::NotUnderRoot(_) => {
                    Some(format!("write `ROOT/{}` or `/{}`", g.text, g.text))
                }
                GroupPathError::BlankSegment(_) => None,
            };
            sink.error("invalid-group", g.pos, e.to_string(), help);
            None
        }
    }
}

fn parent_identifier(p: &Field, sink: &mut Sink<'_>) -> Option<Parent> {
    let id = p.text.trim();
    if id == "ROOT" {
        return Some(Parent::Identifier(id.to_owned()));
    }
    if !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()) {
        // The server's identifiers are Java `int`s (a `serial` column): a larger
        // number names no group, so say so now rather than after asking the server.
        if id.parse::<i32>().is_ok() {
            return Some(Parent::Identifier(id.to_owned()));
        }
        sink.error(
            "invalid-parent-identifier",
            p.pos,
            format!(
                "{:?} is larger than any connection group identifier (at most {})",
                p.text,
                i32::MAX
            ),
            Some("to name a group by its path, use `group`".to_owned()),
        );
        return None;
    }
    sink.error(
        "invalid-parent-identifier",
        p.pos,
        format!(
            "{:?} is not a connection group identifier (`ROOT` or a number)",
            p.text
        ),
        Some("to name a group by its path, use `group`".to_owned()),
    );
    None
}

/// A NUL character: the file-level check refuses NUL bytes, but a JSON or YAML
/// escape (`\u0000`, `"\0"`) writes one too, and the server's database fails on it
/// in the middle of a batch. Checked here, after the entry was read, so that a
/// secret on the line is known and masked when the line is shown. `what` names
/// the place, never the text (it may be a secret).
pub(crate) fn no_nul(what: &str, text: &str, pos: Pos, sink: &mut Sink<'_>) -> bool {
    if !text.contains('\0') {
        return true;
    }
    sink.error(
        "nul-byte",
        pos,
        format!("{what} holds a NUL character (written as an escape), which no Guacamole database can store"),
        None,
    );
    false
}

/// Secret reference syntax and the server's value length limit. The value itself
/// is never put in a message: it may be a secret.
pub(crate) fn value_checks(
    name: &str,
    value: &str,
    pos: Pos,
    what: &str,
    sink: &mut Sink<'_>,
) -> bool {
    let mut ok = no_nul(&format!("the value of {what} {name:?}"), value, pos, sink);
    if let Err(e) = secret::split(value) {
        ok = false;
        sink.error(
            "invalid-secret-reference",
            pos,
            format!("{what} {name:?}: {e}"),
            Some("write `${env:NAME}` or `${file:PATH}`; `$${` escapes a literal `${`".to_owned()),
        );
    }
    if value.encode_utf16().count() > MAX_VALUE_UTF16 {
        ok = false;
        sink.error(
            "value-too-long",
            pos,
            format!("the value of {what} {name:?} is longer than {MAX_VALUE_UTF16} characters"),
            Some("Guacamole refuses such a value (413)".to_owned()),
        );
    }
    ok
}

/// Normalises an attribute value the way the JDBC data source reads it, so that what
/// the manifest says is what the server keeps: NUMERIC must be an integer, BOOLEAN
/// `true` (any case), ENUM one of its options (any case). `Ok(Some(v))` rewrites.
fn attribute_value(
    kind: &FieldType,
    options: &[String],
    value: &str,
) -> Result<Option<String>, String> {
    match kind {
        FieldType::Numeric => numeric_value(value).map(Some),
        FieldType::Boolean | FieldType::Enum => option_value(options, value),
        _ => Ok(None),
    }
}

/// A NUMERIC attribute as the server will store it. JDBC parses it with
/// `NumericField.parse`, which is Java's `Integer.valueOf` (an optional `+` or `-`,
/// digits, no spaces, within `int`), stores the number and reads it back with
/// `Integer.toString` (`NumericField.format`): `007` comes back as `7`, `+4822` as
/// `4822`. A value that does not parse is ignored by the server (the previous value
/// stays), so it is an error here. Java also reads non-ASCII decimal digits; guacsync
/// asks for ASCII ones rather than carry Unicode's digit tables.
pub fn numeric_value(value: &str) -> Result<String, String> {
    match value.parse::<i32>() {
        Ok(n) => Ok(n.to_string()),
        Err(_) if value.trim() != value && value.trim().parse::<i32>().is_ok() => Err(
            "an integer without spaces (Guacamole does not trim it and would ignore it)".to_owned(),
        ),
        Err(_) => Err(format!(
            "an integer from {} to {} in ASCII digits",
            i32::MIN,
            i32::MAX
        )),
    }
}

/// BOOLEAN or ENUM: one of the options, any case, rewritten to the option.
fn option_value(options: &[String], value: &str) -> Result<Option<String>, String> {
    let lower = value.trim().to_lowercase();
    options
        .iter()
        .find(|o| !o.is_empty() && o.to_lowercase() == lower)
        .map(|o| Some(o.clone()))
        .ok_or_else(|| {
            let list: Vec<String> = options
                .iter()
                .filter(|o| !o.is_empty())
                .map(|o| format!("`{o}`"))
                .collect();
            format!("one of {}", list.join(", "))
        })
}

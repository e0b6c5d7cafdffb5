//! Changes as the plan holds them, built the same way for every kind: the object's
//! identity, what is shown, and the body a directory PATCH sends (DESIGN.md §8:
//! one mechanism for every kind). A reference to a group is its identifier when
//! the server (as the diff sees it, moves included) has it, and a reference to be
//! resolved at apply when the group is created in the same run.

use std::collections::BTreeMap;

use crate::fields::Fields;
use crate::kinds::ObjectKey;
use crate::model::{ConnKey, GroupPath, Principal};
use crate::observed::Observed;
use crate::plan::{Action, Batch, Body, Change, FieldChange};
use crate::value::Value;

/// A change with nothing shown yet.
pub(super) fn change(action: Action, object: ObjectKey) -> Change {
    Change {
        action,
        object,
        identifier: None,
        moved_from: None,
        detail: None,
        fields: Vec::new(),
        parameters: Vec::new(),
        attributes: Vec::new(),
        source: None,
        active_sessions: 0,
        password: None,
        body: None,
    }
}

/// The `parentIdentifier` of something in `group`: known now, or the group created
/// earlier in the same run.
pub(super) fn parent(view: &Observed, group: &GroupPath) -> Body {
    match view.group_identifier(group) {
        Some(id) => Body::text(id),
        None => Body::Ref(ObjectKey::group(group.clone())),
    }
}

/// A map of optional attribute values (`None` is sent as null: it clears).
pub(super) fn attributes(values: &BTreeMap<String, Option<String>>) -> Body {
    Body::Map(
        values
            .iter()
            .map(|(k, v)| (k.clone(), v.as_ref().map_or(Body::Null, Body::text)))
            .collect(),
    )
}

/// Every value of a map shown as added (what an `add` shows).
pub(super) fn added<'a, K: AsRef<str> + 'a>(
    values: impl IntoIterator<Item = (&'a K, &'a Value)>,
) -> Vec<FieldChange> {
    values
        .into_iter()
        .map(|(name, v)| FieldChange::Added {
            name: name.as_ref().to_owned(),
            after: v.clone(),
        })
        .collect()
}

/// Every value of a map shown as removed (what a removal shows).
pub(super) fn removed<'a, K: AsRef<str> + 'a>(
    values: impl IntoIterator<Item = (&'a K, &'a Value)>,
) -> Vec<FieldChange> {
    values
        .into_iter()
        .map(|(name, v)| FieldChange::Removed {
            name: name.as_ref().to_owned(),
            before: v.clone(),
        })
        .collect()
}

/// Plain strings as values.
pub(super) fn plain<'a, K: AsRef<str> + 'a>(
    m: impl IntoIterator<Item = (&'a K, &'a String)>,
) -> BTreeMap<String, Value> {
    m.into_iter()
        .map(|(k, v)| (k.as_ref().to_owned(), Value::plain(v.clone())))
        .collect()
}

/// A connection's body: what an `add` and a `replace` send.
pub(super) fn connection_body(
    view: &Observed,
    key: &ConnKey,
    protocol: &str,
    parameters: &Fields<Value>,
    attributes_sent: &BTreeMap<String, Option<String>>,
) -> Body {
    Body::Map(vec![
        ("parentIdentifier".into(), parent(view, &key.group)),
        ("name".into(), Body::text(key.name.clone())),
        ("protocol".into(), Body::text(protocol)),
        ("parameters".into(), Body::value_map(parameters)),
        ("attributes".into(), self::attributes(attributes_sent)),
    ])
}

/// A connection group's body.
pub(super) fn group_body(
    view: &Observed,
    path: &GroupPath,
    group_type: &str,
    attributes_sent: &BTreeMap<String, Option<String>>,
) -> Body {
    group_body_with(view, path, group_type, self::attributes(attributes_sent))
}

/// A connection group's body with its attributes already a body (values that
/// may be sensitive, from a document).
pub(super) fn group_body_with(
    view: &Observed,
    path: &GroupPath,
    group_type: &str,
    attributes: Body,
) -> Body {
    Body::Map(vec![
        (
            "parentIdentifier".into(),
            parent(view, &path.parent().unwrap_or_default()),
        ),
        (
            "name".into(),
            Body::text(path.name().unwrap_or("ROOT").to_owned()),
        ),
        ("type".into(), Body::text(group_type)),
        ("attributes".into(), attributes),
    ])
}

/// A new organisational group at `path` (a missing ancestor of something declared).
pub(super) fn group_add(view: &Observed, path: &GroupPath) -> Change {
    let mut c = change(Action::Add, ObjectKey::group(path.clone()));
    c.body = Some(group_body(view, path, "ORGANIZATIONAL", &BTreeMap::new()));
    c
}

/// A group `prune_groups` removes.
pub(super) fn group_remove(path: &GroupPath, identifier: &str) -> Change {
    let mut c = change(Action::Remove, ObjectKey::group(path.clone()));
    c.identifier = Some(identifier.to_owned());
    c
}

/// A user or user group to create, named in a manifest's `users`/`groups`.
pub(super) fn principal_add(p: &Principal) -> Change {
    let (object, field) = match p {
        Principal::User(name) => (ObjectKey::User { name: name.clone() }, "username"),
        Principal::UserGroup(name) => (ObjectKey::UserGroup { name: name.clone() }, "identifier"),
    };
    let mut c = change(Action::Add, object);
    c.body = Some(Body::Map(vec![
        (field.into(), Body::text(p.name().to_owned())),
        ("attributes".into(), Body::Map(Vec::new())),
    ]));
    c
}

/// Cuts `changes` into atomic batches: one kind each, never across `breaks` (the
/// indices where a new stage starts: the next depth of new groups, say), and each
/// body within `limit` bytes.
///
/// # Errors
/// The index of a change whose op alone is larger than the limit, with its size.
pub(super) fn batches(
    changes: &[Change],
    breaks: &[usize],
    limit: usize,
) -> Result<Vec<Batch>, (usize, usize)> {
    // References left in bodies are to objects created in the same run.
    let known = |_: &ObjectKey| None;
    let mut out: Vec<Batch> = Vec::new();
    let mut open: Option<Batch> = None;
    for (i, c) in changes.iter().enumerate() {
        let size = c.sized_op(&known).to_string().len();
        if size + 2 > limit {
            return Err((i, size));
        }
        let starts_stage = breaks.contains(&i);
        match open.as_mut() {
            Some(b) if b.kind == c.kind() && !starts_stage && b.bytes + 1 + size <= limit => {
                b.end = i + 1;
                b.bytes += 1 + size;
            }
            _ => {
                out.extend(open.take());
                open = Some(Batch {
                    kind: c.kind(),
                    start: i,
                    end: i + 1,
                    bytes: 2 + size,
                });
            }
        }
    }
    out.extend(open);
    Ok(out)
}

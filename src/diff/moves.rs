//! Moves and renames keep the object (DESIGN.md §4). A `replace` may change a
//! connection's or a group's `parentIdentifier` and `name`, so its identifier,
//! history, sharing profiles and permissions stay; a remove plus an add would lose
//! them all. Two ways to say it:
//!
//! - `[[moved]]` entries in guacsync.toml, applied in file order, with or without
//!   prune (a group keeps its children);
//! - under prune, an in-scope connection about to be removed and a new one with
//!   the same name elsewhere in scope, each the only one of its name among the
//!   removals and the adds.
//!
//! Both rewrite a *view* of the observed server, where every moved object already
//! sits at its new path with its old identifier; the rest of the diff compares the
//! manifests with that view, and [`Moves`] remembers where each object was, so the
//! plan can say `(moved from ...)` and send one `replace` per moved object.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use super::{DiffError, Options, error};
use crate::desired::DesiredConnection;
use crate::kinds::ObjectKey;
use crate::model::{ConnKey, GroupPath, Source};
use crate::observed::Observed;
use crate::plan::{Change, Warning};

/// One `[[moved]]` entry. `from` and `to` are paths of a group or of a connection
/// (its group path and its name); which one is decided against the server.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Moved {
    pub from: GroupPath,
    pub to: GroupPath,
    /// The configuration file the entry is in (messages only: moving it within the
    /// file does not make a saved plan stale).
    #[serde(skip)]
    pub file: String,
    #[serde(skip)]
    pub line: u32,
    /// `[[moved]] #2 (from = "...", to = "...")`.
    #[serde(skip)]
    pub label: String,
}

impl Moved {
    /// Where the entry is written, for messages: `guacsync.toml:12 ([[moved]] #2 ...)`.
    #[must_use]
    pub fn origin(&self) -> String {
        format!("{}:{} {}", self.file, self.line, self.label)
    }

    fn source(&self) -> Source {
        Source {
            file: self.file.clone(),
            line: self.line,
            column: 1,
        }
    }
}

/// A connection's key for a path whose last segment is the connection's name.
fn conn_key(path: &GroupPath) -> Option<ConnKey> {
    Some(ConnKey {
        group: path.parent()?,
        name: path.name()?.to_owned(),
    })
}

/// Where each moved object was on the server, by identifier, in the order the
/// moves were decided (the order their replaces are sent in).
#[derive(Debug, Default)]
pub(super) struct Moves {
    /// Connection identifier → (order, key on the server, the `[[moved]]` entry
    /// that moved it when it was one).
    connections: HashMap<String, (usize, ConnKey, Option<Source>)>,
    /// Group identifier → (order, path on the server).
    groups: HashMap<String, (usize, GroupPath)>,
    next: usize,
}

impl Moves {
    fn record_connection(&mut self, id: &str, from: &ConnKey, by: Option<Source>) {
        if !self.connections.contains_key(id) {
            self.connections
                .insert(id.to_owned(), (self.next, from.clone(), by));
            self.next += 1;
        }
    }

    fn record_group(&mut self, id: &str, from: &GroupPath) {
        if !self.groups.contains_key(id) {
            self.groups.insert(id.to_owned(), (self.next, from.clone()));
            self.next += 1;
        }
    }

    /// Where each moved object is in `view` (the view after every move). A move
    /// back to where an object was is no move.
    pub fn resolve(&self, view: &Observed) -> Resolved {
        let mut resolved = Resolved::default();
        if !self.connections.is_empty() {
            for (key, c) in &view.connections {
                if let Some((order, from, by)) = self.connections.get(&c.identifier)
                    && from != key
                {
                    resolved.connections.insert(
                        c.identifier.clone(),
                        MovedConnection {
                            order: *order,
                            from: from.clone(),
                            to: key.clone(),
                            by: by.clone(),
                        },
                    );
                }
            }
        }
        if !self.groups.is_empty() {
            for (path, g) in &view.groups {
                if let Some((order, from)) = self.groups.get(&g.identifier)
                    && from != path
                {
                    resolved.groups.push((
                        *order,
                        g.identifier.clone(),
                        from.clone(),
                        path.clone(),
                    ));
                }
            }
            resolved.groups.sort();
        }
        resolved
    }
}

/// A moved connection: where it was, where it is in the view.
#[derive(Debug)]
pub(super) struct MovedConnection {
    pub order: usize,
    pub from: ConnKey,
    pub to: ConnKey,
    /// The `[[moved]]` entry that moved it (pairs have none: they are always
    /// declared in a manifest).
    pub by: Option<Source>,
}

/// Every move, resolved against the final view.
#[derive(Debug, Default)]
pub(super) struct Resolved {
    /// By connection identifier.
    pub connections: HashMap<String, MovedConnection>,
    /// (order, identifier, path on the server, path in the view), in order.
    pub groups: Vec<(usize, String, GroupPath, GroupPath)>,
}

impl Resolved {
    /// The groups that must exist for the moves: the new parent of each moved
    /// group, and the group of each moved connection no manifest declares (a
    /// declared one's group is created like any other).
    pub fn required_groups(
        &self,
        wanted: &BTreeMap<ConnKey, &DesiredConnection>,
    ) -> Vec<GroupPath> {
        let mut out: Vec<GroupPath> = self
            .groups
            .iter()
            .filter_map(|(_, _, _, to)| to.parent())
            .collect();
        out.extend(
            self.connections
                .values()
                .filter(|c| !wanted.contains_key(&c.to))
                .map(|c| c.to.group.clone()),
        );
        out
    }

    /// Where moved objects went: kept by `prune_groups` even when empty.
    pub fn targets(&self) -> Vec<GroupPath> {
        self.groups
            .iter()
            .map(|(_, _, _, to)| to.clone())
            .chain(self.connections.values().map(|c| c.to.group.clone()))
            .collect()
    }
}

/// Re-keys every group and connection at or below `from` to lie below `to`.
fn move_group(view: &mut Observed, from: &GroupPath, to: &GroupPath) {
    let groups: Vec<GroupPath> = view
        .groups
        .keys()
        .filter(|p| p.starts_with(from))
        .cloned()
        .collect();
    for path in groups {
        if let (Some(g), Some(new)) = (view.groups.remove(&path), path.rebase(from, to)) {
            view.groups.insert(new, g);
        }
    }
    let connections: Vec<ConnKey> = view
        .connections
        .keys()
        .filter(|k| k.group.starts_with(from))
        .cloned()
        .collect();
    move_profiles(view, &|k| {
        k.group.rebase(from, to).map(|group| ConnKey {
            group,
            name: k.name.clone(),
        })
    });
    for key in connections {
        if let (Some(c), Some(group)) = (view.connections.remove(&key), key.group.rebase(from, to))
        {
            view.connections.insert(
                ConnKey {
                    group,
                    name: key.name,
                },
                c,
            );
        }
    }
}

fn move_connection(view: &mut Observed, from: &ConnKey, to: ConnKey) {
    if let Some(c) = view.connections.remove(from) {
        move_profiles(view, &|k| (k == from).then(|| to.clone()));
        view.connections.insert(to, c);
    }
}

/// Re-keys the sharing profiles of moved connections (`to` gives a connection's
/// new key, `None` when it does not move): a profile goes with its connection.
fn move_profiles(view: &mut Observed, to: &dyn Fn(&ConnKey) -> Option<ConnKey>) {
    if view.sharing_profiles.is_empty() {
        return;
    }
    let moving: Vec<_> = view
        .sharing_profiles
        .keys()
        .filter_map(|k| to(&k.connection).map(|c| (k.clone(), c)))
        .collect();
    for (old, connection) in moving {
        if let Some(p) = view.sharing_profiles.remove(&old) {
            let key = crate::estate::SharingProfileKey {
                connection,
                name: old.name,
            };
            view.sharing_profiles.insert(key, p);
        }
    }
}

/// Applies the `[[moved]]` entries in file order to a view of `observed`. A
/// `moved` whose `from` is gone and whose `to` exists is done (nothing to do);
/// both existing is an error naming the entry; neither is a warning (a manifest
/// may still create `to`).
pub(super) fn apply_moved<'a>(
    observed: &'a Observed,
    options: &Options,
    moves: &mut Moves,
    errors: &mut Vec<DiffError>,
    warnings: &mut Vec<Warning>,
) -> Cow<'a, Observed> {
    let mut view = Cow::Borrowed(observed);
    let in_scope =
        |p: &GroupPath| options.scope.is_empty() || options.scope.iter().any(|s| p.starts_with(s));
    let mut fail = |m: &Moved, message: String, help: Option<&str>| {
        errors.push(error(None, format!("{}: {message}", m.origin()), help));
    };
    for m in &options.moved {
        let (Some(from_key), Some(to_key)) = (conn_key(&m.from), conn_key(&m.to)) else {
            fail(m, "`from` and `to` must lie below ROOT".to_owned(), None);
            continue;
        };
        let group = view.groups.get(&m.from).map(|g| g.identifier.clone());
        let connection = view
            .connections
            .get(&from_key)
            .map(|c| c.identifier.clone());
        let outside = "with a scope, `from` and `to` must both lie inside a scope group";
        match (group, connection) {
            (Some(_), Some(_)) => fail(
                m,
                format!("{} is both a connection group and a connection", m.from),
                Some("rename one of them first"),
            ),
            (Some(id), None) => {
                if !in_scope(&m.from) || !in_scope(&m.to) {
                    fail(m, outside.to_owned(), None);
                } else if options.scope.contains(&m.from) {
                    fail(
                        m,
                        format!("{} is a scope group; scope groups are never moved", m.from),
                        Some("change [scope] groups instead"),
                    );
                } else if view.groups.contains_key(&m.to) {
                    fail(
                        m,
                        format!("both group {} and group {} exist", m.from, m.to),
                        Some(
                            "remove the entry if the move was made by hand, or remove one of the groups",
                        ),
                    );
                } else {
                    move_group(view.to_mut(), &m.from, &m.to);
                    moves.record_group(&id, &m.from);
                }
            }
            (None, Some(id)) => {
                if !in_scope(&from_key.group) || !in_scope(&to_key.group) {
                    fail(m, outside.to_owned(), None);
                } else if view.connections.contains_key(&to_key) {
                    fail(
                        m,
                        format!("both connection {} and connection {} exist", m.from, m.to),
                        Some(
                            "remove the entry if the move was made by hand, or remove one of the connections",
                        ),
                    );
                } else {
                    move_connection(view.to_mut(), &from_key, to_key);
                    moves.record_connection(&id, &from_key, Some(m.source()));
                }
            }
            (None, None) => {
                if !in_scope(&m.from) || !in_scope(&m.to) {
                    fail(m, outside.to_owned(), None);
                    continue;
                }
                let done =
                    view.groups.contains_key(&m.to) || view.connections.contains_key(&to_key);
                if !done {
                    warnings.push(Warning {
                        code: "moved-not-found".into(),
                        message: format!(
                            "{}: neither {} nor {} exists on the server; nothing to move",
                            m.origin(),
                            m.from,
                            m.to
                        ),
                    });
                }
            }
        }
    }
    view
}

/// Under prune: removals and adds that share a name, each the only one of its
/// name on its side, as (key on the server, key in the manifests).
pub(super) fn pairs(
    view: &Observed,
    wanted: &BTreeMap<ConnKey, &DesiredConnection>,
    options: &Options,
) -> Vec<(ConnKey, ConnKey)> {
    if !options.prune || options.scope.is_empty() {
        return Vec::new();
    }
    let in_scope = |g: &GroupPath| options.scope.iter().any(|s| g.starts_with(s));
    let mut removals: BTreeMap<&str, Vec<&ConnKey>> = BTreeMap::new();
    for key in view.connections.keys() {
        if in_scope(&key.group) && !wanted.contains_key(key) {
            removals.entry(key.name.as_str()).or_default().push(key);
        }
    }
    if removals.is_empty() {
        return Vec::new();
    }
    let mut adds: BTreeMap<&str, Vec<&ConnKey>> = BTreeMap::new();
    for key in wanted.keys() {
        if !view.connections.contains_key(key) {
            adds.entry(key.name.as_str()).or_default().push(key);
        }
    }
    removals
        .iter()
        .filter_map(
            |(name, removed)| match (removed.as_slice(), adds.get(name)?.as_slice()) {
                ([from], [to]) => Some(((*from).clone(), (*to).clone())),
                _ => None,
            },
        )
        .collect()
}

/// Moves the paired connections in the view and records them.
pub(super) fn apply_pairs(view: &mut Observed, pairs: Vec<(ConnKey, ConnKey)>, moves: &mut Moves) {
    for (from, to) in pairs {
        let Some(id) = view.connections.get(&from).map(|c| c.identifier.clone()) else {
            continue;
        };
        move_connection(view, &from, to);
        moves.record_connection(&id, &from, None);
    }
}

impl super::Diff<'_> {
    /// One `replace` per moved group. The value carries the group's type and
    /// every attribute (a replace overwrites them all), the declared ones where
    /// an estate document declares the group at its new path.
    pub(super) fn group_moves(
        &mut self,
        moved: &Resolved,
        declared: &BTreeMap<&GroupPath, &crate::desired::DesiredGroup>,
    ) -> Vec<Change> {
        let rule = super::estate::GroupRule {
            view: self.observed,
            schema: self.schema,
        };
        moved
            .groups
            .iter()
            .filter_map(|(_, _, from, to)| {
                let group = self.observed.groups.get(to)?;
                let d = declared.get(to).copied();
                let (mut c, _) = rule.replace(to, d, group);
                if d.is_none() {
                    c.detail = None;
                }
                c.moved_from = Some(ObjectKey::group(from.clone()));
                Some(c)
            })
            .collect()
    }
}

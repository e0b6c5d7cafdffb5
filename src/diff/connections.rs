//! The connection rule (DESIGN.md §4): a declared connection that the server
//! lacks is added; one that differs is replaced whole (a replace is a full
//! overwrite: every parameter the manifest sets, the server's value of each
//! unmanaged parameter it leaves out, every attribute, unset ones as null); under
//! prune, an in-scope connection no manifest declares is removed, behind the
//! deletion guards and, for `watch`, the second-round confirmation.

use std::collections::{BTreeMap, BTreeSet};

use super::full_value::{full_attributes, with_unmanaged};
use super::objects::{self, added, change, plain, removed};
use super::rule::{self, Rule};
use super::{Diff, DiffError, error, moves};
use crate::desired::DesiredConnection;
use crate::fields::Fields;
use crate::kinds::{Kind, ObjectKey};
use crate::model::{ConnKey, GroupPath};
use crate::observed::{Observed, ObservedConnection};
use crate::plan::{Action, Change, FieldChange, SessionClose, Warning};
use crate::schema::Schema;
use crate::value::Value;

/// Observed parameters as values, secrets marked.
pub(super) fn observed_parameters(
    protocol: &str,
    params: Option<&Fields<String>>,
    schema: &Schema,
) -> Fields<Value> {
    params
        .into_iter()
        .flatten()
        .map(|(k, v)| {
            let value =
                if schema.is_sensitive_parameter(protocol, k) && !crate::secret::is_token_only(v) {
                    Value::secret(v.clone())
                } else {
                    Value::plain(v.clone())
                };
            (k, value)
        })
        .collect()
}

/// Per-field changes. A value is shown redacted when either side is sensitive: the
/// server's copy of a value that now comes from `${env:...}` is that secret.
pub(super) fn field_changes(
    desired: &BTreeMap<String, Value>,
    observed: &BTreeMap<String, Value>,
) -> Vec<FieldChange> {
    let names: BTreeSet<&String> = desired.keys().chain(observed.keys()).collect();
    let redacted = |before: &Value, after: &Value| -> Value {
        if after.is_sensitive() && !before.is_sensitive() {
            Value::secret(before.expose())
        } else {
            before.clone()
        }
    };
    names
        .into_iter()
        .filter_map(|name| match (observed.get(name), desired.get(name)) {
            (None, Some(after)) => Some(FieldChange::Added {
                name: name.clone(),
                after: after.clone(),
            }),
            (Some(before), None) => Some(FieldChange::Removed {
                name: name.clone(),
                before: before.clone(),
            }),
            (Some(before), Some(after)) if before.expose() != after.expose() => {
                Some(FieldChange::Changed {
                    name: name.clone(),
                    before: redacted(before, after),
                    after: if before.is_sensitive() && !after.is_sensitive() {
                        Value::secret(after.expose())
                    } else {
                        after.clone()
                    },
                })
            }
            _ => None,
        })
        .collect()
}

/// The add of a declared connection the server lacks.
pub(super) fn add(view: &Observed, key: &ConnKey, d: &DesiredConnection) -> Change {
    let mut c = change(Action::Add, ObjectKey::connection(key.clone()));
    c.detail = Some(d.protocol.clone());
    c.parameters = added(&d.parameters);
    c.attributes = added(&plain(&d.attributes));
    c.source = Some(d.source.clone());
    let sent: BTreeMap<String, Option<String>> = d
        .attributes
        .iter()
        .map(|(k, v)| (k.to_string(), Some(v.clone())))
        .collect();
    c.body = Some(objects::connection_body(
        view,
        key,
        &d.protocol,
        &d.parameters,
        &sent,
    ));
    c
}

/// Everything a connection replace needs besides the two sides.
pub(super) struct ReplaceCtx<'a> {
    pub view: &'a Observed,
    pub schema: &'a Schema,
    pub unmanaged: &'a BTreeSet<String>,
}

/// A `replace` when anything differs, or when the connection moves (`moved_from`);
/// `None` when the connection already matches. Unmanaged parameters the manifest
/// does not set keep the server's value.
pub(super) fn replace(
    ctx: &ReplaceCtx<'_>,
    key: &ConnKey,
    d: &DesiredConnection,
    o: &ObservedConnection,
    moved_from: Option<&ConnKey>,
) -> Result<Option<Change>, DiffError> {
    let Some(params) = o.parameters.as_ref() else {
        return Err(error(
            Some(&d.source),
            format!("the parameters of {key} were not read from the server"),
            Some("the account needs UPDATE on the connection, or ADMINISTER"),
        ));
    };
    let wanted = with_unmanaged(d, o, params, ctx.schema, ctx.unmanaged);
    // The common case, an unchanged connection, is decided without copying.
    if moved_from.is_none()
        && d.protocol == o.protocol
        && d.attributes == o.attributes
        && wanted.len() == params.len()
        && wanted
            .iter()
            .zip(params)
            .all(|((dk, dv), (ok, ov))| dk == ok && dv.expose() == ov)
    {
        return Ok(None);
    }
    let before = observed_parameters(&o.protocol, Some(params), ctx.schema);
    // A changed connection (the rare case) is compared field by field as maps.
    let parameters = field_changes(&wanted.to_btree(), &before.to_btree());
    let attributes = field_changes(&plain(&d.attributes), &plain(&o.attributes));
    let protocol = (d.protocol != o.protocol).then(|| FieldChange::Changed {
        name: "protocol".to_owned(),
        before: Value::plain(o.protocol.clone()),
        after: Value::plain(d.protocol.clone()),
    });
    if moved_from.is_none() && parameters.is_empty() && attributes.is_empty() && protocol.is_none()
    {
        return Ok(None);
    }
    // A replace overwrites everything: every schema attribute and every attribute the
    // server holds is sent, null where the manifest leaves it unset.
    let sent = full_attributes(ctx.schema, &o.attributes, &d.attributes);
    let mut c = change(Action::Change, ObjectKey::connection(key.clone()));
    c.identifier = Some(o.identifier.clone());
    c.moved_from = moved_from.map(|m| ObjectKey::connection(m.clone()));
    c.detail = Some(d.protocol.clone());
    c.fields = protocol.into_iter().collect();
    c.parameters = parameters;
    c.attributes = attributes;
    c.source = Some(d.source.clone());
    c.active_sessions = o.active_connections;
    c.body = Some(objects::connection_body(
        ctx.view,
        key,
        &d.protocol,
        &wanted,
        &sent,
    ));
    Ok(Some(c))
}

/// The replace that moves a connection no manifest declares: everything as the
/// server has it, at its new place. `by` is the `[[moved]]` entry.
pub(super) fn carry(
    ctx: &ReplaceCtx<'_>,
    key: &ConnKey,
    o: &ObservedConnection,
    from: &ConnKey,
    by: &crate::model::Source,
) -> Result<Change, DiffError> {
    let Some(params) = o.parameters.as_ref() else {
        return Err(error(
            Some(by),
            format!("the parameters of {from} were not read from the server"),
            Some("the account needs UPDATE on the connection, or ADMINISTER"),
        ));
    };
    let mut c = change(Action::Change, ObjectKey::connection(key.clone()));
    c.identifier = Some(o.identifier.clone());
    c.moved_from = Some(ObjectKey::connection(from.clone()));
    c.detail = Some(o.protocol.clone());
    c.source = Some(by.clone());
    c.active_sessions = o.active_connections;
    c.body = Some(objects::connection_body(
        ctx.view,
        key,
        &o.protocol,
        &observed_parameters(&o.protocol, Some(params), ctx.schema),
        &full_attributes(ctx.schema, &o.attributes, &o.attributes),
    ));
    Ok(c)
}

/// What a removal shows: the server's parameters.
fn remove(key: &ConnKey, o: &ObservedConnection, schema: &Schema) -> Change {
    let mut c = change(Action::Remove, ObjectKey::connection(key.clone()));
    c.identifier = Some(o.identifier.clone());
    c.detail = Some(o.protocol.clone());
    c.parameters = removed(&observed_parameters(
        &o.protocol,
        o.parameters.as_ref(),
        schema,
    ));
    c.active_sessions = o.active_connections;
    c
}

/// The connection rule over the generic mechanism (`rule`): moves are found by
/// identifier in the moves already decided, and open sessions on a replaced
/// connection are warned about.
struct ConnectionRule<'a> {
    ctx: ReplaceCtx<'a>,
    moved: &'a moves::Resolved,
    warnings: Vec<Warning>,
}

impl Rule for ConnectionRule<'_> {
    type Key = ConnKey;
    type Desired = DesiredConnection;
    type Observed = ObservedConnection;

    fn object(&self, key: &ConnKey) -> ObjectKey {
        ObjectKey::connection(key.clone())
    }

    fn add(&mut self, key: &ConnKey, d: &DesiredConnection) -> Change {
        add(self.ctx.view, key, d)
    }

    fn compare(
        &mut self,
        key: &ConnKey,
        d: &DesiredConnection,
        o: &ObservedConnection,
    ) -> Result<Option<Change>, DiffError> {
        let from = self.moved.connections.get(&o.identifier).map(|m| &m.from);
        let change = replace(&self.ctx, key, d, o, from)?;
        if change.is_some() && o.active_connections > 0 {
            self.warnings.push(Warning {
                code: "active-sessions".into(),
                message: format!(
                    "{key} has {} open session(s); they keep the old settings until they reconnect",
                    o.active_connections
                ),
            });
        }
        Ok(change)
    }

    fn remove(&self, key: &ConnKey, o: &ObservedConnection) -> Change {
        remove(key, o, self.ctx.schema)
    }
}

impl Diff<'_> {
    /// Adds for missing connections and replaces for differing ones: the
    /// replaces that move a connection, with the order their move was decided in,
    /// and then the adds followed by the other replaces.
    pub(super) fn adds_and_replaces(
        &mut self,
        wanted: &BTreeMap<ConnKey, &DesiredConnection>,
        moved: &moves::Resolved,
    ) -> (Vec<(usize, Change)>, Vec<Change>) {
        let mut rule = ConnectionRule {
            ctx: ReplaceCtx {
                view: self.observed,
                schema: self.schema,
                unmanaged: &self.options.unmanaged_parameters,
            },
            moved,
            warnings: Vec::new(),
        };
        let observed = rule::Walk::new(&self.observed.connections);
        let matched = rule::drive(&mut rule, wanted.iter().map(|(k, d)| (k, *d)), &|k| {
            observed.get(k)
        });
        self.warnings.append(&mut rule.warnings);
        self.errors.extend(matched.errors);
        let mut moving = Vec::new();
        let mut adds = matched.adds;
        for change in matched.changes {
            let order = change
                .identifier
                .as_ref()
                .and_then(|id| moved.connections.get(id))
                .filter(|_| change.moved_from.is_some())
                .map(|m| m.order);
            match order {
                Some(order) => moving.push((order, change)),
                None => adds.push(change),
            }
        }
        if self.observed.schema.is_some() {
            for (key, d) in wanted {
                if self.schema.protocol(&d.protocol).is_none() {
                    self.warnings.push(Warning {
                        code: "unknown-protocol-on-server".into(),
                        message: format!(
                            "{key}: the server does not offer protocol {}",
                            d.protocol
                        ),
                    });
                }
            }
        }
        (moving, adds)
    }

    /// Replaces for connections a `[[moved]]` entry moves that no manifest
    /// declares and prune does not remove: moved as they are.
    pub(super) fn carried_moves(
        &mut self,
        wanted: &BTreeMap<ConnKey, &DesiredConnection>,
        moved: &moves::Resolved,
        removes: &[Change],
        out: &mut Vec<(usize, Change)>,
    ) {
        let gone: BTreeSet<&ObjectKey> = removes.iter().map(|c| &c.object).collect();
        let ctx = ReplaceCtx {
            view: self.observed,
            schema: self.schema,
            unmanaged: &self.options.unmanaged_parameters,
        };
        for m in moved.connections.values() {
            if wanted.contains_key(&m.to) || gone.contains(&ObjectKey::connection(m.to.clone())) {
                continue;
            }
            let (Some(o), Some(by)) = (self.observed.connections.get(&m.to), m.by.as_ref()) else {
                continue;
            };
            match carry(&ctx, &m.to, o, &m.from, by) {
                Ok(change) => out.push((m.order, change)),
                Err(e) => self.errors.push(e),
            }
        }
    }

    /// Refuses more than `max_deletions` removals (connections and every other
    /// kind, `others`), and emptying a scope group of connections, unless allowed
    /// explicitly.
    fn deletion_guard(
        &mut self,
        wanted: &BTreeMap<ConnKey, &DesiredConnection>,
        connections: usize,
        others: &BTreeMap<Kind, usize>,
    ) {
        let n = connections + others.values().sum::<usize>();
        let what = if others.values().all(|c| *c == 0) {
            format!("{n} connections")
        } else {
            let mut parts = vec![format!("{connections} connections")];
            for (kind, count) in others.iter().filter(|(_, c)| **c > 0) {
                parts.push(format!("{count} {}", kind.describe().plural));
            }
            format!("{n} objects ({})", parts.join(", "))
        };
        let allowed = self.options.allow_deletions.unwrap_or(0);
        // A scope group whose connections would all go, none being declared: what
        // an empty or unreadable manifest directory for that subtree looks like.
        let emptied: Vec<&GroupPath> = self
            .options
            .scope
            .iter()
            .filter(|s| {
                self.observed
                    .connections
                    .keys()
                    .any(|k| k.group.starts_with(s))
                    && !wanted.keys().any(|k| k.group.starts_with(s))
            })
            .collect();
        if n > self.options.max_deletions && allowed < n {
            self.errors.push(error(
                None,
                format!(
                    "the plan removes {what}, more than max_deletions ({})",
                    self.options.max_deletions
                ),
                Some(&format!(
                    "check the manifests; to go ahead, pass --allow-deletions {n}"
                )),
            ));
        } else if !emptied.is_empty() && connections > 0 && allowed < n {
            let groups: Vec<String> = emptied.iter().map(ToString::to_string).collect();
            self.errors.push(error(
                None,
                format!("the plan removes every connection in scope group {} ({n} removals in all); the manifests declare none there", groups.join(", ")),
                Some(&format!("an empty or unreadable manifest directory looks like this; to go ahead, pass --allow-deletions {n}")),
            ));
        }
    }

    /// The removals confirmed by `Options::confirmed_removals` (all without it);
    /// the others are held. One gate for every kind.
    pub(super) fn gate<T>(&mut self, removals: Vec<T>, key: impl Fn(&T) -> ObjectKey) -> Vec<T> {
        let Some(confirmed) = &self.options.confirmed_removals else {
            return removals;
        };
        let mut go = Vec::with_capacity(removals.len());
        for r in removals {
            let k = key(&r);
            if confirmed.contains(&k) {
                go.push(r);
            } else {
                self.held.push(k);
            }
        }
        go
    }

    /// Removals, only inside a scope and only with prune, with their guards;
    /// the removals of `others` (groups removed by `prune_groups`, sharing
    /// profiles, users, user groups: by kind) count as deletions too.
    pub(super) fn removals(
        &mut self,
        wanted: &BTreeMap<ConnKey, &DesiredConnection>,
        others: &BTreeMap<Kind, usize>,
    ) -> (Vec<Change>, Vec<SessionClose>) {
        let in_scope = |k: &ConnKey| self.options.scope.iter().any(|s| k.group.starts_with(s));
        let extras: Vec<(&ConnKey, &ObservedConnection)> = self
            .observed
            .connections
            .iter()
            .filter(|(k, _)| {
                !self.options.scope.is_empty() && in_scope(k) && !wanted.contains_key(k)
            })
            .collect();
        let mut removes = Vec::new();
        let mut sessions = Vec::new();
        if self.options.prune && (!extras.is_empty() || others.values().any(|c| *c > 0)) {
            self.deletion_guard(wanted, extras.len(), others);
            // Guarded above over every candidate; applied only once confirmed.
            for (key, o) in self.gate(extras, |(key, _)| ObjectKey::connection((*key).clone())) {
                if o.active_connections > 0 {
                    let hint = if self.options.terminate_sessions {
                        "they will be closed"
                    } else {
                        "they stay open until they end; --terminate-sessions closes them"
                    };
                    self.warnings.push(Warning {
                        code: "active-sessions".into(),
                        message: format!(
                            "{key} is removed while {} session(s) are open; {hint}",
                            o.active_connections
                        ),
                    });
                }
                if self.options.terminate_sessions {
                    for s in self
                        .observed
                        .active_sessions
                        .iter()
                        .filter(|s| s.connection_identifier == o.identifier)
                    {
                        sessions.push(SessionClose {
                            key: key.clone(),
                            identifier: s.identifier.clone(),
                            username: s.username.clone(),
                        });
                    }
                }
                removes.push(remove(key, o, self.schema));
            }
        } else if !extras.is_empty() {
            let listed: Vec<String> = extras.iter().take(10).map(|(k, _)| k.to_string()).collect();
            let more = if extras.len() > 10 {
                format!(" and {} more", extras.len() - 10)
            } else {
                String::new()
            };
            self.warnings.push(Warning { code: "unmanaged".into(), message: format!("{} connection(s) in scope are in no manifest and are kept (--prune removes them): {}{more}", extras.len(), listed.join(", ")) });
        }
        (removes, sessions)
    }
}

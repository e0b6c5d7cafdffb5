//! The difference between what the manifests ask for and what the server holds
//! (DESIGN.md §4), as a [`Plan`]. Pure: no I/O, no clock, no environment.

mod assemble;
mod full_value;
mod groups;
mod moves;
pub mod names;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::desired::{Desired, DesiredConnection};
use crate::model::{ConnKey, GroupPath, Parent, Principal, Source};
use crate::observed::{Observed, ObservedConnection, ObservedGrants};
use crate::plan::{
    Batch, ConnectionChange, FieldChange, FullConnection, GroupAdd, PLAN_VERSION, PermissionChange,
    Plan, SessionClose, Summary, Target, Warning,
};

use crate::schema::Schema;
use crate::value::Value;
pub use assemble::limited_view_note;
pub use moves::Moved;

use assemble::{check_names, plan_options, precondition_errors, summarize};
use full_value::{full_attributes, with_unmanaged};

/// Which READ permissions guacsync manages.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PermissionMode {
    /// Grant what manifests list; never revoke.
    #[default]
    Additive,
    /// Also revoke READ on managed connections from principals not listed.
    Exact,
}

#[derive(Clone, Debug, PartialEq, Eq)]
#[allow(clippy::struct_excessive_bools)] // independent switches, each from guacsync.toml
pub struct Options {
    /// Subtrees guacsync owns; prune acts only here. Empty: nothing is ever removed.
    pub scope: Vec<GroupPath>,
    pub prune: bool,
    pub max_deletions: usize,
    /// Removals allowed beyond `max_deletions` (and for emptying the scope).
    pub allow_deletions: Option<usize>,
    pub permissions: PermissionMode,
    pub parent_group_read: bool,
    pub create_groups: bool,
    pub create_principals: bool,
    pub max_request_bytes: usize,
    pub terminate_sessions: bool,
    /// With prune: also remove in-scope groups left empty that no manifest names.
    pub prune_groups: bool,
    /// Connection parameters compared only where a manifest sets them; elsewhere
    /// the server's value is carried over in replaces.
    pub unmanaged_parameters: BTreeSet<String>,
    /// Parameter and attribute names the server's schema does not know are sent
    /// (with a warning) instead of refused.
    pub allow_unknown_parameters: bool,
    /// `[[moved]]` entries, in file order.
    pub moved: Vec<Moved>,
    /// `None`: every removal the rules allow is planned. `Some`: only these are;
    /// any other is held (`Plan::held_removals`). `watch --apply` passes the
    /// removals the previous round planned, so that a removal is applied only when
    /// two consecutive rounds both plan it, and the plan applied is the one shown.
    pub confirmed_removals: Option<BTreeSet<ConnKey>>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            scope: Vec::new(),
            prune: false,
            max_deletions: 10,
            allow_deletions: None,
            permissions: PermissionMode::Additive,
            parent_group_read: true,
            create_groups: true,
            create_principals: false,
            max_request_bytes: crate::config::DEFAULT_MAX_REQUEST_BYTES,
            terminate_sessions: false,
            prune_groups: false,
            unmanaged_parameters: BTreeSet::new(),
            allow_unknown_parameters: false,
            moved: Vec::new(),
            confirmed_removals: None,
        }
    }
}

/// Why a plan cannot be made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DiffError {
    pub source: Option<Source>,
    pub message: String,
    pub help: Option<String>,
}

impl fmt::Display for DiffError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(s) = &self.source {
            write!(f, "{s}: ")?;
        }
        f.write_str(&self.message)?;
        if let Some(h) = &self.help {
            write!(f, " ({h})")?;
        }
        Ok(())
    }
}

fn error(source: Option<&Source>, message: String, help: Option<&str>) -> DiffError {
    DiffError {
        source: source.cloned(),
        message,
        help: help.map(str::to_owned),
    }
}

/// The parent identifier used to size `add` ops whose group is created in the same
/// run: longer than any identifier a serial column produces in practice.
const PLACEHOLDER_PARENT: &str = "9999999999";

/// Makes the plan. `manifests` are recorded in it for `sync --plan`.
///
/// # Errors
/// Every reason the plan cannot be made, each with its manifest line where there is one.
pub fn diff(
    desired: &Desired,
    observed: &Observed,
    options: &Options,
    manifests: &[String],
) -> Result<Plan, Vec<DiffError>> {
    let mut errors = precondition_errors(observed, options);
    if !errors.is_empty() {
        return Err(errors);
    }
    let mut warnings = Vec::new();
    // The server as it will be after the `[[moved]]` entries, then after pairing.
    let mut moves = moves::Moves::default();
    let mut view = moves::apply_moved(observed, options, &mut moves, &mut errors, &mut warnings);
    check_names(desired, &view, options, &mut errors, &mut warnings);
    let mut d = Diff {
        observed: &view,
        options,
        schema: view.schema(),
        errors,
        warnings,
        held: Vec::new(),
    };
    let wanted = d.identities(desired);
    let Diff {
        errors, warnings, ..
    } = d;
    let pairs = moves::pairs(&view, &wanted, options);
    if !pairs.is_empty() {
        moves::apply_pairs(view.to_mut(), pairs, &mut moves);
    }
    let mut d = Diff {
        observed: &view,
        options,
        schema: view.schema(),
        errors,
        warnings,
        held: Vec::new(),
    };
    let resolved = moves.resolve(&view);
    let group_moves = d.group_moves(&resolved);
    let groups = d.groups_to_create(&wanted, &resolved.required_groups(&wanted));
    let principals = d.principals_to_create(&wanted);
    let group_removals = groups::empty_groups(&view, &wanted, options, &resolved.targets());
    let (mut connections, adds_and_replaces) = d.adds_and_replaces(&wanted, &resolved);
    let (removes, sessions) = d.removals(&wanted, group_removals.len());
    d.carried_moves(&wanted, &resolved, &removes, &mut connections);
    connections.sort_by_key(|(order, _)| *order);
    let mut connections: Vec<ConnectionChange> = connections.into_iter().map(|(_, c)| c).collect();
    connections.extend(adds_and_replaces);
    connections.extend(removes);
    let permissions = groups::merge_revokes(
        permission_changes(&wanted, &view, options),
        groups::group_revokes(&view, &wanted, options, &group_removals),
    );
    let Diff {
        mut errors,
        mut warnings,
        held,
        ..
    } = d;
    if desired.env_unrestricted {
        warnings.push(Warning {
            code: "secrets-unrestricted".into(),
            message: "guacsync.toml has no [secrets] section: a manifest's ${env:} may name any variable of this job (guacsync's own excepted); list the allowed ones in [secrets] env".into(),
        });
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let batches = match batch_layout(&connections, &view, options.max_request_bytes) {
        Ok(b) => b,
        Err(e) => {
            errors.push(e);
            return Err(errors);
        }
    };
    let mut plan = Plan {
        version: PLAN_VERSION,
        data_source: observed.data_source.clone(),
        visibility: observed
            .limited_view
            .then(|| limited_view_note(&observed.session_user)),
        fingerprint: fingerprint(observed),
        manifests: manifests.to_vec(),
        options: plan_options(options),
        groups,
        group_moves,
        group_removals,
        connections,
        principals,
        permissions,
        sessions,
        batches,
        warnings,
        secrets_used: desired.secrets_used.clone(),
        summary: Summary::default(),
        held_removals: held,
        basis: None,
    };
    plan.summary = summarize(&plan);
    Ok(plan)
}

/// The state of one diff: its inputs, and the problems found so far.
struct Diff<'a> {
    observed: &'a Observed,
    options: &'a Options,
    schema: &'a Schema,
    errors: Vec<DiffError>,
    warnings: Vec<Warning>,
    /// Removals not yet confirmed (`Options::confirmed_removals`).
    held: Vec<ConnKey>,
}

impl Diff<'_> {
    /// Identity: resolves `parentIdentifier`, rejects duplicates and entries outside
    /// every scope group.
    fn identities<'d>(&mut self, desired: &'d Desired) -> BTreeMap<ConnKey, &'d DesiredConnection> {
        let mut wanted: BTreeMap<ConnKey, &DesiredConnection> = BTreeMap::new();
        for d in &desired.connections {
            let group =
                match &d.parent {
                    Parent::Group(g) => g.clone(),
                    Parent::Identifier(id) => {
                        if let Some(g) = self.observed.group_path_of(id) {
                            g
                        } else {
                            self.errors.push(error(
                        Some(&d.source),
                        format!("parentIdentifier {id:?} is not a connection group on the server"),
                        Some("name the group by its path with `group`"),
                    ));
                            continue;
                        }
                    }
                };
            let key = ConnKey {
                group,
                name: d.name.clone(),
            };
            if !self.options.scope.is_empty()
                && !self.options.scope.iter().any(|s| key.group.starts_with(s))
            {
                let scopes: Vec<String> =
                    self.options.scope.iter().map(ToString::to_string).collect();
                self.errors.push(error(
                    Some(&d.source),
                    format!(
                        "connection {key} is outside every scope group ({})",
                        scopes.join(", ")
                    ),
                    Some("add its group to [scope] groups or move the connection"),
                ));
                continue;
            }
            if let Some(first) = wanted.get(&key) {
                self.errors.push(error(
                    Some(&d.source),
                    format!("connection {key} is declared twice"),
                    Some(&format!("first declared at {}", first.source)),
                ));
                continue;
            }
            wanted.insert(key, d);
        }

        wanted
    }

    /// Every missing ancestor group of a wanted connection, outermost first.
    fn groups_to_create(
        &mut self,
        wanted: &BTreeMap<ConnKey, &DesiredConnection>,
        also: &[GroupPath],
    ) -> Vec<GroupAdd> {
        let mut group_adds: BTreeSet<(usize, GroupPath)> = BTreeSet::new();
        let mut checked: std::collections::HashSet<&GroupPath> = std::collections::HashSet::new();
        for (key, d) in wanted {
            // Without create_groups each connection in a missing group is reported.
            if self.options.create_groups && !checked.insert(&key.group) {
                continue;
            }
            for path in key.group.lineage() {
                if !self.observed.groups.contains_key(&path) {
                    if self.options.create_groups {
                        group_adds.insert((path.depth(), path));
                    } else {
                        self.errors.push(error(
                            Some(&d.source),
                            format!("connection group {path} does not exist"),
                            Some("create it, or set create_groups = true"),
                        ));
                        break;
                    }
                }
            }
        }
        // The new places of moved objects (DESIGN.md §4: "a missing parent of `to`
        // is created like any group").
        for group in also {
            for path in group.lineage() {
                if self.observed.groups.contains_key(&path) {
                    continue;
                }
                if self.options.create_groups {
                    group_adds.insert((path.depth(), path));
                } else {
                    self.errors.push(error(
                        None,
                        format!("connection group {path}, where a [[moved]] entry moves something, does not exist"),
                        Some("create it, or set create_groups = true"),
                    ));
                    break;
                }
            }
        }

        group_adds
            .into_iter()
            .map(|(_, path)| GroupAdd { path })
            .collect()
    }

    /// Users and user groups named in manifests that the server lacks.
    fn principals_to_create(
        &mut self,
        wanted: &BTreeMap<ConnKey, &DesiredConnection>,
    ) -> Vec<Principal> {
        let mut principals: BTreeSet<Principal> = BTreeSet::new();
        let mut missing_reported: BTreeSet<Principal> = BTreeSet::new();
        for d in wanted.values() {
            let listed = d
                .users
                .iter()
                .map(|u| Principal::User(u.clone()))
                .chain(d.groups.iter().map(|g| Principal::UserGroup(g.clone())));
            for p in listed {
                let exists = match &p {
                    Principal::User(u) => self.observed.users.contains(u),
                    Principal::UserGroup(g) => self.observed.user_groups.contains(g),
                };
                if exists {
                    continue;
                }
                if self.options.create_principals {
                    principals.insert(p);
                } else if missing_reported.insert(p.clone()) {
                    self.errors.push(error(
                        Some(&d.source),
                        format!("{p} does not exist on the server"),
                        Some("create it first, or set create_principals = true"),
                    ));
                }
            }
        }

        principals.into_iter().collect()
    }

    /// Adds for missing connections and replaces for differing ones: the
    /// replaces that move a connection, with the order their move was decided in,
    /// and then the adds followed by the other replaces.
    fn adds_and_replaces(
        &mut self,
        wanted: &BTreeMap<ConnKey, &DesiredConnection>,
        moved: &moves::Resolved,
    ) -> (Vec<(usize, ConnectionChange)>, Vec<ConnectionChange>) {
        let mut moving = Vec::new();
        let mut adds = Vec::new();
        let mut replaces = Vec::new();
        for (key, d) in wanted {
            match self.observed.connections.get(key) {
                None => adds.push(ConnectionChange::Add {
                    key: key.clone(),
                    protocol: d.protocol.clone(),
                    parameters: d.parameters.clone(),
                    attributes: d.attributes.clone(),
                    source: d.source.clone(),
                }),
                Some(o) => {
                    let from = moved.connections.get(&o.identifier);
                    let unmanaged = &self.options.unmanaged_parameters;
                    match replace(key, d, o, self.schema, from.map(|m| &m.from), unmanaged) {
                        Ok(Some(change)) => {
                            if o.active_connections > 0 {
                                self.warnings.push(Warning { code: "active-sessions".into(), message: format!("{key} has {} open session(s); they keep the old settings until they reconnect", o.active_connections) });
                            }
                            match from {
                                Some(m) => moving.push((m.order, change)),
                                None => replaces.push(change),
                            }
                        }
                        Ok(None) => {}
                        Err(e) => self.errors.push(e),
                    }
                }
            }
            if self.observed.schema.is_some() && self.schema.protocol(&d.protocol).is_none() {
                self.warnings.push(Warning {
                    code: "unknown-protocol-on-server".into(),
                    message: format!("{key}: the server does not offer protocol {}", d.protocol),
                });
            }
        }

        adds.extend(replaces);
        (moving, adds)
    }

    /// Refuses more than `max_deletions` removals (connections and groups), and
    /// emptying a scope group of connections, unless allowed explicitly.
    fn deletion_guard(
        &mut self,
        wanted: &BTreeMap<ConnKey, &DesiredConnection>,
        connections: usize,
        group_removals: usize,
    ) {
        let n = connections + group_removals;
        let what = if group_removals == 0 {
            format!("{n} connections")
        } else {
            format!("{n} objects ({connections} connections, {group_removals} groups)")
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
        } else if !emptied.is_empty() && allowed < n {
            let groups: Vec<String> = emptied.iter().map(ToString::to_string).collect();
            self.errors.push(error(
                None,
                format!("the plan removes every connection in scope group {} ({n} removals in all); the manifests declare none there", groups.join(", ")),
                Some(&format!("an empty or unreadable manifest directory looks like this; to go ahead, pass --allow-deletions {n}")),
            ));
        }
    }

    /// The removals confirmed by `Options::confirmed_removals` (all without it);
    /// the others are held.
    fn gate<'o>(
        &mut self,
        extras: Vec<(&'o ConnKey, &'o ObservedConnection)>,
    ) -> Vec<(&'o ConnKey, &'o ObservedConnection)> {
        let Some(confirmed) = &self.options.confirmed_removals else {
            return extras;
        };
        let (go, wait): (Vec<_>, Vec<_>) = extras
            .into_iter()
            .partition(|(key, _)| confirmed.contains(*key));
        self.held
            .extend(wait.into_iter().map(|(key, _)| key.clone()));
        go
    }

    /// Removals, only inside a scope and only with prune, with their guards;
    /// `group_removals` groups removed by `prune_groups` count as deletions too.
    fn removals(
        &mut self,
        wanted: &BTreeMap<ConnKey, &DesiredConnection>,
        group_removals: usize,
    ) -> (Vec<ConnectionChange>, Vec<SessionClose>) {
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
        if self.options.prune && (!extras.is_empty() || group_removals > 0) {
            self.deletion_guard(wanted, extras.len(), group_removals);
            // Guarded above over every candidate; applied only once confirmed.
            for (key, o) in self.gate(extras) {
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
                removes.push(ConnectionChange::Remove {
                    key: key.clone(),
                    identifier: o.identifier.clone(),
                    protocol: o.protocol.clone(),
                    parameters: observed_parameters(
                        &o.protocol,
                        o.parameters.as_ref(),
                        self.schema,
                    ),
                    active_sessions: o.active_connections,
                });
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

/// Observed parameters as values, secrets marked.
fn observed_parameters(
    protocol: &str,
    params: Option<&BTreeMap<String, String>>,
    schema: &Schema,
) -> BTreeMap<String, Value> {
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
            (k.clone(), value)
        })
        .collect()
}

/// Per-field changes. A value is shown redacted when either side is sensitive: the
/// server's copy of a value that now comes from `${env:...}` is that secret.
fn field_changes(
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

/// A `replace` when anything differs, or when the connection moves (`moved_from`);
/// `None` when the connection already matches. Unmanaged parameters the manifest
/// does not set keep the server's value.
fn replace(
    key: &ConnKey,
    d: &DesiredConnection,
    o: &ObservedConnection,
    schema: &Schema,
    moved_from: Option<&ConnKey>,
    unmanaged: &BTreeSet<String>,
) -> Result<Option<ConnectionChange>, DiffError> {
    let Some(params) = o.parameters.as_ref() else {
        return Err(error(
            Some(&d.source),
            format!("the parameters of {key} were not read from the server"),
            Some("the account needs UPDATE on the connection, or ADMINISTER"),
        ));
    };
    let wanted = with_unmanaged(d, o, params, schema, unmanaged);
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
    let before = observed_parameters(&o.protocol, Some(params), schema);
    let parameters = field_changes(&wanted, &before);
    let plain = |m: &BTreeMap<String, String>| -> BTreeMap<String, Value> {
        m.iter()
            .map(|(k, v)| (k.clone(), Value::plain(v.clone())))
            .collect()
    };
    let attributes = field_changes(&plain(&d.attributes), &plain(&o.attributes));
    let protocol_change =
        (d.protocol != o.protocol).then(|| (o.protocol.clone(), d.protocol.clone()));
    if moved_from.is_none()
        && parameters.is_empty()
        && attributes.is_empty()
        && protocol_change.is_none()
    {
        return Ok(None);
    }
    // A replace overwrites everything: every schema attribute and every attribute the
    // server holds is sent, null where the manifest leaves it unset.
    let full_attributes = full_attributes(schema, &o.attributes, &d.attributes);
    Ok(Some(ConnectionChange::Replace {
        key: key.clone(),
        identifier: o.identifier.clone(),
        protocol_change,
        parameters,
        attributes,
        value: FullConnection {
            protocol: d.protocol.clone(),
            parameters: wanted.into_owned(),
            attributes: full_attributes,
        },
        source: d.source.clone(),
        active_sessions: o.active_connections,
        moved_from: moved_from.cloned(),
    }))
}

fn permission_changes(
    wanted: &BTreeMap<ConnKey, &DesiredConnection>,
    observed: &Observed,
    options: &Options,
) -> Vec<PermissionChange> {
    // One pass over the wanted connections; only what is missing is collected, so
    // an unchanged server of any size costs lookups, not copies. Each group path's
    // lineage (with its identifiers) is worked out once.
    let no_grants = ObservedGrants::default();
    let mut lineages: HashMap<&GroupPath, Vec<(GroupPath, Option<&str>)>> = HashMap::new();
    let mut missing: BTreeMap<Principal, BTreeSet<Target>> = BTreeMap::new();
    for (key, d) in wanted {
        let conn_id = observed.connections.get(key).map(|c| c.identifier.as_str());
        let lineage: &[(GroupPath, Option<&str>)] = if options.parent_group_read {
            lineages.entry(&key.group).or_insert_with(|| {
                key.group
                    .lineage()
                    .into_iter()
                    .map(|path| {
                        let id = observed.group_identifier(&path);
                        (path, id)
                    })
                    .collect()
            })
        } else {
            &[]
        };
        let listed = d
            .users
            .iter()
            .map(|u| Principal::User(u.clone()))
            .chain(d.groups.iter().map(|g| Principal::UserGroup(g.clone())));
        for p in listed {
            let grants = observed.grants.get(&p).unwrap_or(&no_grants);
            let conn_held = conn_id.is_some_and(|id| grants.connections.contains(id));
            let groups_missing: Vec<&GroupPath> = lineage
                .iter()
                .filter(|(_, id)| !id.is_some_and(|id| grants.groups.contains(id)))
                .map(|(path, _)| path)
                .collect();
            if conn_held && groups_missing.is_empty() {
                continue;
            }
            let targets = missing.entry(p).or_default();
            if !conn_held {
                targets.insert(Target::Connection { key: key.clone() });
            }
            for path in groups_missing {
                targets.insert(Target::Group { path: path.clone() });
            }
        }
    }
    let mut changes: BTreeMap<Principal, PermissionChange> = missing
        .into_iter()
        .map(|(p, targets)| {
            (
                p.clone(),
                PermissionChange {
                    principal: p,
                    grant: targets.into_iter().collect(),
                    revoke: Vec::new(),
                },
            )
        })
        .collect();
    if options.permissions == PermissionMode::Exact {
        // The account guacsync logs in as is left alone: the server grants a creator
        // every permission on what it creates, so revoking its READ would undo the
        // previous sync's work on every run.
        for (p, grants) in &observed.grants {
            if *p == Principal::User(observed.session_user.clone()) {
                continue;
            }
            let mut revoke = Vec::new();
            for (key, d) in wanted {
                let Some(c) = observed.connections.get(key) else {
                    continue;
                };
                let listed = match p {
                    Principal::User(u) => d.users.contains(u),
                    Principal::UserGroup(g) => d.groups.contains(g),
                };
                if !listed && grants.connections.contains(&c.identifier) {
                    revoke.push(Target::Connection { key: key.clone() });
                }
            }
            if !revoke.is_empty() {
                changes
                    .entry(p.clone())
                    .or_insert_with(|| PermissionChange {
                        principal: p.clone(),
                        grant: Vec::new(),
                        revoke: Vec::new(),
                    })
                    .revoke = revoke;
            }
        }
    }
    changes.into_values().collect()
}

/// The JSON op sent for one connection change. `parent` is the identifier of the
/// group an added connection goes into (replace carries its own).
#[must_use]
pub fn connection_op(change: &ConnectionChange, parent: &str) -> serde_json::Value {
    use serde_json::json;
    let params = |m: &BTreeMap<String, Value>| -> serde_json::Map<String, serde_json::Value> {
        m.iter()
            .map(|(k, v)| (k.clone(), json!(v.expose())))
            .collect()
    };
    match change {
        ConnectionChange::Add {
            key,
            protocol,
            parameters,
            attributes,
            ..
        } => json!({
            "op": "add", "path": "/",
            "value": {"parentIdentifier": parent, "name": key.name, "protocol": protocol, "parameters": params(parameters), "attributes": attributes}
        }),
        ConnectionChange::Replace {
            key,
            identifier,
            value,
            ..
        } => json!({
            "op": "replace", "path": format!("/{identifier}"),
            "value": {"parentIdentifier": parent, "name": key.name, "protocol": value.protocol, "parameters": params(&value.parameters), "attributes": value.attributes}
        }),
        ConnectionChange::Remove { identifier, .. } => {
            json!({"op": "remove", "path": format!("/{identifier}")})
        }
    }
}

/// The parent identifier a change needs, when it is known now.
fn known_parent(change: &ConnectionChange, observed: &Observed) -> String {
    observed
        .group_identifier(&change.key().group)
        .unwrap_or(PLACEHOLDER_PARENT)
        .to_owned()
}

/// Splits the connection changes into atomic PATCH bodies of at most `limit` bytes
/// (one batch when everything fits).
fn batch_layout(
    changes: &[ConnectionChange],
    observed: &Observed,
    limit: usize,
) -> Result<Vec<Batch>, DiffError> {
    let mut batches = Vec::new();
    if changes.is_empty() {
        return Ok(batches);
    }
    let sizes: Vec<usize> = changes
        .iter()
        .map(|c| {
            connection_op(c, &known_parent(c, observed))
                .to_string()
                .len()
        })
        .collect();
    let mut start = 0;
    let mut bytes = 2; // "[" and "]"
    for (i, size) in sizes.iter().enumerate() {
        if size + 2 > limit {
            return Err(error(
                changes[i].source(),
                format!(
                    "the change to {} alone is {size} bytes, more than max_request_bytes ({limit})",
                    changes[i].key()
                ),
                Some("raise max_request_bytes (and the server's api-max-request-size)"),
            ));
        }
        let extra = size + usize::from(i > start);
        if bytes + extra > limit {
            batches.push(Batch {
                start,
                end: i,
                bytes,
            });
            start = i;
            bytes = 2 + size;
        } else {
            bytes += extra;
        }
    }
    batches.push(Batch {
        start,
        end: changes.len(),
        bytes,
    });
    Ok(batches)
}

/// SHA-256 over what was observed and matters to a plan: groups, connections with
/// their parameters and attributes, principals and grants. Open sessions are left
/// out (they come and go without changing what a sync does). Every field is
/// length-prefixed, so no two different states hash the same bytes.
#[must_use]
pub fn fingerprint(observed: &Observed) -> String {
    let mut h = Sha256::new();
    let mut put = |tag: &str, s: &str| {
        h.update(tag.as_bytes());
        h.update((s.len() as u64).to_le_bytes());
        h.update(s.as_bytes());
    };
    put("ds", &observed.data_source);
    for (path, g) in &observed.groups {
        put("g", &path.to_string());
        put("gi", &g.identifier);
    }
    for (key, c) in &observed.connections {
        put("c", &key.to_string());
        put("ci", &c.identifier);
        put("cp", &c.protocol);
        match &c.parameters {
            None => put("unread", ""),
            Some(params) => {
                for (k, v) in params {
                    put("pk", k);
                    // A hash of a short password in a saved plan could be brute-forced:
                    // secrets count by presence only.
                    if Schema::builtin().is_sensitive_parameter(&c.protocol, k) {
                        put("pv", "(sensitive)");
                    } else {
                        put("pv", v);
                    }
                }
            }
        }
        for (k, v) in &c.attributes {
            put("ak", k);
            put("av", v);
        }
    }
    for u in &observed.users {
        put("u", u);
    }
    for g in &observed.user_groups {
        put("ug", g);
    }
    for (p, grants) in &observed.grants {
        put("p", &p.to_string());
        for c in &grants.connections {
            put("pc", c);
        }
        for g in &grants.groups {
            put("pg", g);
        }
    }
    h.finalize()
        .iter()
        .fold(String::with_capacity(64), |mut s, b| {
            use std::fmt::Write as _;
            let _ = write!(s, "{b:02x}");
            s
        })
}

#[cfg(test)]
mod tests;

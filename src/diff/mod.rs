//! The difference between what the manifests ask for and what the server holds
//! (DESIGN.md §4), as a [`Plan`]. Pure: no I/O, no clock, no environment.
//!
//! Every kind of directory object ends up as the same [`Change`] (see
//! `objects`); the rules that decide them are per kind: `connections`, the group
//! rules (`groups`, `moves`), principals, and the permission rules.

mod assemble;
mod connections;
mod fingerprint;
mod full_value;
mod groups;
mod moves;
pub mod names;
mod objects;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::desired::{Desired, DesiredConnection};
use crate::kinds::ObjectKey;
use crate::model::{ConnKey, GroupPath, Parent, Principal, Source};
use crate::observed::Observed;
use crate::plan::{Change, PLAN_VERSION, Plan, Summary, Warning};
use crate::schema::Schema;
pub use assemble::limited_view_note;
pub use fingerprint::fingerprint;
pub use moves::Moved;

use assemble::{check_names, plan_options, precondition_errors, summarize};

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
    /// Apply object by object where the server cannot apply a batch atomically
    /// (Guacamole 1.5.x).
    pub allow_non_atomic: bool,
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
            allow_non_atomic: false,
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
    let group_adds = d.groups_to_create(&wanted, &resolved.required_groups(&wanted));
    let principals = d.principals_to_create(&wanted);
    let group_removals = groups::empty_groups(&view, &wanted, options, &resolved.targets());
    let (mut moving, adds_and_replaces) = d.adds_and_replaces(&wanted, &resolved);
    let (removes, sessions) = d.removals(&wanted, group_removals.len());
    d.carried_moves(&wanted, &resolved, &removes, &mut moving);
    moving.sort_by_key(|(order, _)| *order);
    let permissions = groups::merge_revokes(
        permission_changes(&wanted, &view, options),
        groups::group_revokes(&view, &wanted, options, &group_removals),
    );
    let Diff {
        errors,
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
    // Every change in apply order, with the places a new atomic stage starts.
    let mut changes: Vec<Change> = Vec::new();
    let mut breaks: Vec<usize> = Vec::new();
    // Group moves whose new parent exists go before the creations (a moved
    // group may free the name a new one takes), the others after them.
    let (early, late): (Vec<Change>, Vec<Change>) = group_moves.into_iter().partition(|c| {
        matches!(&c.object, ObjectKey::ConnectionGroup { path }
            if view.group_identifier(&path.parent().unwrap_or_default()).is_some())
    });
    changes.extend(early);
    let mut depth = None;
    for path in &group_adds {
        if depth != Some(path.depth()) {
            breaks.push(changes.len());
            depth = Some(path.depth());
        }
        changes.push(objects::group_add(&view, path));
    }
    breaks.push(changes.len());
    changes.extend(late);
    breaks.push(changes.len());
    changes.extend(moving.into_iter().map(|(_, c)| c));
    changes.extend(adds_and_replaces);
    changes.extend(removes);
    breaks.push(changes.len());
    changes.extend(
        group_removals
            .iter()
            .map(|(path, id)| objects::group_remove(path, id)),
    );
    breaks.push(changes.len());
    let (user_groups, users): (Vec<&Principal>, Vec<&Principal>) = principals
        .iter()
        .partition(|p| matches!(p, Principal::UserGroup(_)));
    changes.extend(user_groups.into_iter().map(objects::principal_add));
    changes.extend(users.into_iter().map(objects::principal_add));
    let batches =
        objects::batches(&changes, &breaks, options.max_request_bytes).map_err(|(i, size)| {
            vec![error(
                changes[i].source.as_ref(),
                format!(
                    "the change to {} alone is {size} bytes, more than max_request_bytes ({})",
                    changes[i].object, options.max_request_bytes
                ),
                Some("raise max_request_bytes (and the server's api-max-request-size)"),
            )]
        })?;
    let mut plan = Plan {
        version: PLAN_VERSION,
        data_source: observed.data_source.clone(),
        visibility: observed
            .limited_view
            .then(|| limited_view_note(&observed.session_user)),
        non_atomic: observed.object_by_object.then(|| {
            "this server applies changes object by object (Guacamole 1.5.x: its directory PATCH only removes), not as atomic batches: a failure part way through leaves part of the plan applied".to_owned()
        }),
        fingerprint: fingerprint(observed),
        manifests: manifests.to_vec(),
        options: plan_options(options),
        changes,
        batches,
        memberships: Vec::new(),
        permissions,
        sessions,
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
    ) -> Vec<GroupPath> {
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

        group_adds.into_iter().map(|(_, path)| path).collect()
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
                    Principal::User(u) => self.observed.users.contains_key(u),
                    Principal::UserGroup(g) => self.observed.user_groups.contains_key(g),
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
}

mod permissions;
use permissions::permission_changes;

#[cfg(test)]
mod tests;

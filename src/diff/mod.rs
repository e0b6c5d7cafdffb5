//! The difference between what the manifests ask for and what the server holds
//! (DESIGN.md §4), as a [`Plan`]. Pure: no I/O, no clock, no environment.
//!
//! Every kind of directory object ends up as the same [`Change`] (see
//! `objects`); the rules that decide them are per kind: `connections`, the group
//! rules (`groups`, `moves`), principals, and the permission rules.

mod assemble;
mod beside;
mod connections;
mod estate;
mod fingerprint;
mod full_value;
mod groups;
mod identity;
mod moves;
pub mod names;
mod objects;
mod order;
mod rule;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::desired::{Desired, DesiredConnection};
use crate::kinds::{Kind, ObjectKey};
use crate::model::{ConnKey, GroupPath, Principal, Source};
use crate::observed::Observed;
use crate::plan::{Change, Plan, Warning};
use crate::schema::Schema;
pub use assemble::limited_view_note;
pub use fingerprint::fingerprint;
pub use moves::Moved;

use assemble::{check_names, precondition_errors};

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

/// Whether guacsync owns every object of a kind that no document declares
/// (`[scope] principals`, `[scope] sharing_profiles`): with prune, `All` removes
/// the undeclared ones.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Ownership {
    /// Only what documents declare is managed; nothing else is ever removed.
    #[default]
    None,
    /// Every object of the kind is managed (in scope, for sharing profiles).
    All,
}

impl Ownership {
    // serde's `skip_serializing_if` takes a reference.
    #[allow(clippy::trivially_copy_pass_by_ref)]
    #[must_use]
    pub fn is_none(&self) -> bool {
        *self == Self::None
    }
}

/// Which declared passwords are sent again to users that exist (DESIGN.md §8).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PasswordResets {
    /// Passwords are sent on create only.
    #[default]
    None,
    /// `--reset-passwords`: every declared user with a password.
    All,
    /// `--reset-password NAME` (repeatable).
    Named(BTreeSet<String>),
}

impl PasswordResets {
    #[must_use]
    pub fn is_none(&self) -> bool {
        *self == Self::None
    }
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
    /// Every kind's removals pass this gate.
    pub confirmed_removals: Option<BTreeSet<ObjectKey>>,
    /// `[scope] principals`: with prune and `All`, users and user groups that no
    /// document declares are removed (the login account never is).
    pub principals: Ownership,
    /// `[scope] sharing_profiles`: with prune and `All`, sharing profiles of
    /// in-scope connections that no document declares are removed.
    pub sharing_profiles: Ownership,
    /// Declared passwords sent again to existing users.
    pub reset_passwords: PasswordResets,
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
            principals: Ownership::None,
            sharing_profiles: Ownership::None,
            reset_passwords: PasswordResets::None,
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
    std::thread::scope(|scope| {
        let fingerprint = beside::beside(scope, "guacsync-fingerprint", || fingerprint(observed));
        decide(desired, observed, options, manifests, fingerprint)
    })
}

/// The plan, with the fingerprint being computed beside it.
fn decide<F: FnOnce() -> String>(
    desired: &Desired,
    observed: &Observed,
    options: &Options,
    manifests: &[String],
    fingerprint: beside::Beside<'_, String, F>,
) -> Result<Plan, Vec<DiffError>> {
    let settled = settle(desired, observed, options)?;
    let (wanted, moves) = (settled.wanted, settled.moves);
    // From here the view is settled: the READ lists are checked beside the rest.
    std::thread::scope(|scope| {
        let view = &*settled.view;
        let read_lists = beside::beside(scope, "guacsync-read-lists", || {
            permission_changes(&wanted, view, options)
        });
        let mut d = Diff::new(view, options, settled.errors, settled.warnings);
        let resolved = moves.resolve(view);
        let declared = d.declare(desired, &wanted);
        let group_moves = d.group_moves(&resolved, &declared.groups);
        let group_adds = d.groups_to_create(&wanted, &resolved.required_groups(&wanted), &declared);
        let principals = d.principals_to_create(&wanted, &declared);
        // Groups that stay although nothing is in them: where moved objects went, and
        // every group an estate document names (DESIGN.md §8: declared is named).
        let mut keep = resolved.targets();
        keep.extend(estate::named_groups(&declared));
        let group_removals = groups::empty_groups(view, &wanted, options, &keep);
        let (mut moving, adds_and_replaces) = d.adds_and_replaces(&wanted, &resolved);
        let pruned = groups::pruned_connections(view, &wanted, options);
        let moved_groups: BTreeSet<&str> = resolved.groups.iter().map(|g| g.1.as_str()).collect();
        let mut estate = d.estate_changes(&declared, &moved_groups, &pruned);
        let mut others = estate.removal_counts();
        others.insert(Kind::ConnectionGroup, group_removals.len());
        let (removes, sessions) = d.removals(&wanted, &others);
        let group_removals = d.gate_groups(group_removals);
        let (mut estate_removals, removed_profiles) =
            d.gate_estate_removals(std::mem::take(&mut estate.removals));
        let named = if options.prune && options.principals == Ownership::All {
            estate::named_principals(&declared, &wanted)
        } else {
            Vec::new()
        };
        d.check_removed_references(&declared, &wanted, &pruned, &removed_profiles, &named);
        d.carried_moves(&wanted, &resolved, &removes, &mut moving);
        moving.sort_by_key(|(order, _)| *order);
        let memberships = d.memberships(&declared);
        let permissions = all_permissions(
            view,
            options,
            &wanted,
            &declared,
            &group_removals,
            read_lists.join(),
        );
        let (errors, mut warnings, held) = (d.errors, d.warnings, d.held);
        warnings.extend(secrets_warning(desired));
        if !errors.is_empty() {
            return Err(errors);
        }
        let (early_moves, late_moves) = split_group_moves(view, group_moves);
        let (user_group_adds, user_adds): (Vec<&Principal>, Vec<&Principal>) = principals
            .iter()
            .partition(|p| matches!(p, Principal::UserGroup(_)));
        let mut removals_of = |kind: Kind| estate_removals.remove(&kind).unwrap_or_default();
        let stages = order::Stages {
            early_moves,
            group_adds: group_add_changes(view, &declared, &group_adds),
            late_moves,
            group_changes: estate.groups,
            connections: moving
                .into_iter()
                .map(|(_, c)| c)
                .chain(adds_and_replaces)
                .chain(removes)
                .collect(),
            sharing_profiles: estate
                .sharing_profiles
                .into_iter()
                .chain(removals_of(Kind::SharingProfile))
                .collect(),
            group_removals: group_removals
                .iter()
                .map(|(path, id)| objects::group_remove(path, id))
                .collect(),
            user_groups: principal_stage(
                user_group_adds,
                estate.user_groups,
                removals_of(Kind::UserGroup),
            ),
            users: principal_stage(user_adds, estate.users, removals_of(Kind::User)),
        };
        assemble::plan(
            observed,
            options,
            manifests,
            desired,
            assemble::Parts {
                stages,
                memberships,
                permissions,
                sessions,
                warnings,
                held,
                fingerprint: fingerprint.join(),
            },
        )
    })
}

/// The server as it will be after the `[[moved]]` entries and the pairing of
/// renamed objects, and the declared connections by identity.
struct Settled<'a> {
    view: std::borrow::Cow<'a, Observed>,
    wanted: BTreeMap<ConnKey, &'a DesiredConnection>,
    moves: moves::Moves,
    errors: Vec<DiffError>,
    warnings: Vec<Warning>,
}

fn settle<'a>(
    desired: &'a Desired,
    observed: &'a Observed,
    options: &Options,
) -> Result<Settled<'a>, Vec<DiffError>> {
    let mut errors = precondition_errors(observed, options);
    if !errors.is_empty() {
        return Err(errors);
    }
    let mut warnings = Vec::new();
    // The server as it will be after the `[[moved]]` entries, then after pairing.
    let mut moves = moves::Moves::default();
    let mut view = moves::apply_moved(observed, options, &mut moves, &mut errors, &mut warnings);
    check_names(desired, &view, options, &mut errors, &mut warnings);
    let mut d = Diff::new(&view, options, errors, warnings);
    let wanted = d.identities(desired);
    let (errors, warnings) = (d.errors, d.warnings);
    let pairs = moves::pairs(&view, &wanted, options);
    if !pairs.is_empty() {
        moves::apply_pairs(view.to_mut(), pairs, &mut moves);
    }
    Ok(Settled {
        view,
        wanted,
        moves,
        errors,
        warnings,
    })
}

/// Every principal's permission changes: READ from the connections' lists and
/// the estate documents' lists and permissions, merged per principal, with the
/// group READ that exact mode revokes.
fn all_permissions(
    view: &Observed,
    options: &Options,
    wanted: &BTreeMap<ConnKey, &DesiredConnection>,
    declared: &estate::Declared<'_>,
    group_removals: &[(GroupPath, String)],
    read_lists: Vec<crate::plan::PermissionChange>,
) -> Vec<crate::plan::PermissionChange> {
    let read = estate::EstateRead::new(declared, options);
    estate::merge_permissions(
        view,
        options,
        wanted,
        &read,
        read_lists,
        groups::group_revokes(
            view,
            wanted,
            options,
            group_removals,
            &read.needed_groups(),
            read.listed_groups(),
        ),
    )
}

/// A principal kind's stage: the users or user groups created to hold grants,
/// then the declared ones' changes, then the removals.
fn principal_stage(
    adds: Vec<&Principal>,
    changes: Vec<Change>,
    removals: Vec<Change>,
) -> Vec<Change> {
    adds.into_iter()
        .map(objects::principal_add)
        .chain(changes)
        .chain(removals)
        .collect()
}

/// The `secrets-unrestricted` warning when no `[secrets]` section limits `${env:}`.
fn secrets_warning(desired: &Desired) -> Option<Warning> {
    desired.env_unrestricted.then(|| Warning {
        code: "secrets-unrestricted".into(),
        message: "guacsync.toml has no [secrets] section: a manifest's ${env:} may name any variable of this job (guacsync's own excepted); list the allowed ones in [secrets] env".into(),
    })
}

/// Group moves whose new parent exists go before the creations (a moved group
/// may free the name a new one takes), the others after them.
fn split_group_moves(view: &Observed, group_moves: Vec<Change>) -> (Vec<Change>, Vec<Change>) {
    group_moves.into_iter().partition(|c| {
        matches!(&c.object, ObjectKey::ConnectionGroup { path }
        if view.group_identifier(&path.parent().unwrap_or_default()).is_some())
    })
}

/// The creations of new groups with their depth: a declared group's body comes
/// from its estate document, another's from its path alone.
fn group_add_changes(
    view: &Observed,
    declared: &estate::Declared<'_>,
    group_adds: &[GroupPath],
) -> Vec<(usize, Change)> {
    let mut group_rule = estate::GroupRule {
        view,
        schema: view.schema(),
    };
    group_adds
        .iter()
        .map(|path| {
            let c = match declared.groups.get(path) {
                Some(d) => rule::Rule::add(&mut group_rule, path, d),
                None => objects::group_add(view, path),
            };
            (path.depth(), c)
        })
        .collect()
}

impl<'a> Diff<'a> {
    fn new(
        observed: &'a Observed,
        options: &'a Options,
        errors: Vec<DiffError>,
        warnings: Vec<Warning>,
    ) -> Self {
        Diff {
            observed,
            options,
            schema: observed.schema(),
            errors,
            warnings,
            held: Vec::new(),
        }
    }

    /// The estate kinds' removals through the removal gate, and the sharing
    /// profiles that remain removed (references to them are checked).
    fn gate_estate_removals(
        &mut self,
        removals: BTreeMap<Kind, Vec<Change>>,
    ) -> (BTreeMap<Kind, Vec<Change>>, BTreeSet<ObjectKey>) {
        let mut gated: BTreeMap<Kind, Vec<Change>> = BTreeMap::new();
        for (kind, list) in removals {
            gated.insert(kind, self.gate(list, |c| c.object.clone()));
        }
        let profiles = gated
            .get(&Kind::SharingProfile)
            .into_iter()
            .flatten()
            .map(|c| c.object.clone())
            .collect();
        (gated, profiles)
    }
}

/// The state of one diff: its inputs, and the problems found so far.
struct Diff<'a> {
    observed: &'a Observed,
    options: &'a Options,
    schema: &'a Schema,
    errors: Vec<DiffError>,
    warnings: Vec<Warning>,
    /// Removals not yet confirmed (`Options::confirmed_removals`).
    held: Vec<ObjectKey>,
}

mod permissions;
use permissions::permission_changes;

#[cfg(test)]
mod tests;

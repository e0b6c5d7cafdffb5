//! The plan around its changes: the preconditions no plan can be made without,
//! the unknown-name check's outcome, the options as the plan records them, the
//! note an account without ADMINISTER gets, and the assembly of the rules' parts
//! into batches and a [`Plan`].

use super::{DiffError, Options, error, names, objects, order};
use crate::desired::Desired;
use crate::observed::Observed;

use crate::plan::{
    MembershipChange, PLAN_VERSION, PermissionChange, Plan, PlanOptions, SessionClose, Summary,
    Warning,
};

/// What a plan and an export say at their top when the account lacks ADMINISTER
/// (DESIGN.md §4, "Seeing everything before planning").
#[must_use]
pub fn limited_view_note(account: &str) -> String {
    format!(
        "guacsync is logged in as {account:?}, which lacks the system permission ADMINISTER ([server] delegated_account = true): objects this account cannot read may exist and are neither shown nor touched"
    )
}

/// Option combinations that can never make a sound plan.
pub(super) fn precondition_errors(observed: &Observed, options: &Options) -> Vec<DiffError> {
    let mut errors = Vec::new();
    if options.prune && options.scope.is_empty() && options.principals != super::Ownership::All {
        errors.push(error(
            None,
            "prune needs a scope: without [scope] groups guacsync never removes anything"
                .to_owned(),
            Some("set [scope] groups to the subtrees guacsync owns"),
        ));
    }
    if options.prune && options.prune_groups && observed.limited_view {
        errors.push(error(
            None,
            format!(
                "prune_groups is refused for {:?}, an account without ADMINISTER: removing a group removes everything in it, including what this account cannot see",
                observed.session_user
            ),
            Some("use an account with ADMINISTER, or set prune_groups = false"),
        ));
    }
    errors
}

/// Unknown parameter and attribute names: errors, or with
/// `allow_unknown_parameters` warnings.
pub(super) fn check_names(
    desired: &Desired,
    view: &Observed,
    options: &Options,
    errors: &mut Vec<DiffError>,
    warnings: &mut Vec<Warning>,
) {
    for u in names::unknown_names(desired, view.schema()) {
        if options.allow_unknown_parameters {
            warnings.push(Warning {
                code: "unknown-name".into(),
                message: format!("{}: {u} (sent: allow_unknown_parameters)", u.source),
            });
        } else {
            errors.push(error(Some(&u.source), u.to_string(), Some(&u.help())));
        }
    }
}

/// The options as the plan records them (a saved plan is re-made with them).
pub(super) fn plan_options(options: &Options) -> PlanOptions {
    PlanOptions {
        scope: options.scope.clone(),
        prune: options.prune,
        permissions: options.permissions,
        parent_group_read: options.parent_group_read,
        create_groups: options.create_groups,
        create_principals: options.create_principals,
        max_request_bytes: options.max_request_bytes,
        terminate_sessions: options.terminate_sessions,
        prune_groups: options.prune_groups,
        unmanaged_parameters: options.unmanaged_parameters.clone(),
        allow_unknown_parameters: options.allow_unknown_parameters,
        allow_non_atomic: options.allow_non_atomic,
        moved: options.moved.clone(),
        principals: options.principals,
        sharing_profiles: options.sharing_profiles,
        reset_passwords: options.reset_passwords.clone(),
    }
}

/// Everything the rules decided, before it becomes a plan.
pub(super) struct Parts {
    pub stages: order::Stages,
    pub memberships: Vec<MembershipChange>,
    pub permissions: Vec<PermissionChange>,
    pub sessions: Vec<SessionClose>,
    pub warnings: Vec<Warning>,
    pub held: Vec<crate::kinds::ObjectKey>,
    /// The observed state's fingerprint (`super::fingerprint`), computed beside the rules.
    pub fingerprint: String,
}

/// The plan: the changes in apply order cut into batches that fit
/// `max_request_bytes`, with what every rendering says at its top.
pub(super) fn plan(
    observed: &Observed,
    options: &Options,
    manifests: &[String],
    desired: &Desired,
    parts: Parts,
) -> Result<Plan, Vec<DiffError>> {
    let Parts {
        stages,
        memberships,
        permissions,
        sessions,
        warnings,
        held,
        fingerprint,
    } = parts;
    let (changes, breaks) = stages.into_changes();
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
        fingerprint,
        manifests: manifests.to_vec(),
        options: plan_options(options),
        changes,
        batches,
        memberships,
        permissions,
        sessions,
        warnings,
        secrets_used: desired.secrets_used.clone(),
        summary: Summary::default(),
        held_removals: held,
        basis: None,
    };
    plan.summary = Summary::of_plan(&plan);
    Ok(plan)
}

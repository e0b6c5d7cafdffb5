//! The document `sync --format json` prints (`schemas/sync-result.schema.json`):
//! the plan, what became of it (`outcome`), what was applied, and the error if
//! the apply failed. One JSON document on stdout, so a pipeline reads the plan
//! and the result of the same run together; a failed apply still says exactly
//! what was done before it.

use serde::Serialize;

use crate::apply::{ApplyError, Report};
use crate::model::Source;
use crate::plan::Plan;

/// Format version of the sync result document.
pub const SYNC_RESULT_VERSION: u32 = 1;

/// What became of the plan.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// The server already matched: nothing to apply.
    NoChanges,
    /// `--dry-run`: shown, not applied.
    DryRun,
    /// Every step applied.
    Applied,
    /// A step failed; `applied` says what was done before it.
    Failed,
}

/// What was applied (all zero unless something was).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Applied {
    pub groups_created: usize,
    pub connection_batches: usize,
    pub connections_added: usize,
    pub connections_changed: usize,
    pub connections_removed: usize,
    pub sessions_closed: usize,
    pub principals_created: usize,
    /// Principals whose permissions were changed (all their PATCH requests sent).
    pub permission_patches: usize,
    /// User groups whose members were changed.
    #[serde(default)]
    pub memberships: usize,
    /// Every kind's changes applied.
    pub kinds: std::collections::BTreeMap<crate::kinds::Kind, crate::plan::Counts>,
    /// When a proxy or the server refused a request's size: the size that worked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size_advice: Option<String>,
}

impl From<&Report> for Applied {
    fn from(r: &Report) -> Self {
        use crate::kinds::Kind;
        let connections = r.of(Kind::Connection);
        Self {
            groups_created: r.of(Kind::ConnectionGroup).add,
            connection_batches: r.batches,
            connections_added: connections.add,
            connections_changed: connections.change,
            connections_removed: connections.remove,
            sessions_closed: r.sessions_closed,
            principals_created: r.of(Kind::User).add + r.of(Kind::UserGroup).add,
            permission_patches: r.permission_patches,
            memberships: r.memberships,
            kinds: r.kinds.clone(),
            size_advice: r.size.advice(),
        }
    }
}

/// One patch the server rejected, with the manifest line it came from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Rejected {
    pub what: String,
    pub source: Option<Source>,
    pub message: String,
}

/// Why the apply stopped.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Failure {
    /// The step that failed, e.g. "the connection batch 1 of 1".
    pub step: String,
    /// The whole error as guacsync prints it (secrets replaced).
    pub message: String,
    /// The failed request may have been applied (a timeout or a connection lost
    /// after sending): read the server, or run again (guacsync converges).
    pub outcome_unknown: bool,
    /// For a batch the server rejected as a whole: each rejected patch.
    pub rejected: Vec<Rejected>,
}

impl From<&ApplyError> for Failure {
    fn from(e: &ApplyError) -> Self {
        let message = crate::secret::redact(&e.to_string());
        match e {
            ApplyError::Rejected { step, errors, .. } => Self {
                step: step.clone(),
                message,
                outcome_unknown: false,
                rejected: errors
                    .iter()
                    .map(|p| Rejected {
                        what: p.what.clone(),
                        source: p.source.clone(),
                        message: crate::secret::redact(&p.message),
                    })
                    .collect(),
            },
            ApplyError::Failed { step, .. } => Self {
                step: step.clone(),
                message,
                outcome_unknown: false,
                rejected: Vec::new(),
            },
            ApplyError::Unknown { step, .. } => Self {
                step: step.clone(),
                message,
                outcome_unknown: true,
                rejected: Vec::new(),
            },
            ApplyError::Requests { step, .. } => Self {
                step: step.clone(),
                message,
                outcome_unknown: e.may_have_applied(),
                rejected: Vec::new(),
            },
            ApplyError::Refused { .. } => Self {
                step: "checking the plan".to_owned(),
                message,
                outcome_unknown: false,
                rejected: Vec::new(),
            },
        }
    }
}

/// The document.
#[derive(Debug, Serialize)]
pub struct SyncResult<'a> {
    pub version: u32,
    pub outcome: Outcome,
    /// The plan document, as `plan --format json` prints it.
    pub plan: &'a Plan,
    pub applied: Applied,
    pub error: Option<Failure>,
}

impl<'a> SyncResult<'a> {
    #[must_use]
    pub fn new(plan: &'a Plan, outcome: Outcome, done: Option<&Report>) -> Self {
        Self {
            version: SYNC_RESULT_VERSION,
            outcome,
            plan,
            applied: done.map(Applied::from).unwrap_or_default(),
            error: None,
        }
    }

    /// Pretty JSON with a final newline.
    #[must_use]
    pub fn to_json(&self) -> String {
        // Strings, numbers and maps with string keys always serialise.
        let mut s = serde_json::to_string_pretty(self).unwrap_or_default();
        s.push('\n');
        s
    }
}

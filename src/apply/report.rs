//! What an apply did, and why it stopped: every failure says exactly what was
//! done before it, or, when the outcome of the last write is unknown, what the
//! server was read back to hold (DESIGN.md §4 "Failures").

use std::collections::BTreeMap;
use std::fmt;

use crate::guacamole::ClientError;
use crate::kinds::Kind;
use crate::model::Source;
use crate::plan::Counts;

use super::write::{SizeLearnt, WriteError};

/// What has been done so far.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// Directory changes applied, per kind.
    pub kinds: BTreeMap<Kind, Counts>,
    /// Atomic connection batches applied.
    pub batches: usize,
    pub sessions_closed: usize,
    /// User groups whose members were updated.
    pub memberships: usize,
    /// Principals whose permissions were updated (every request of theirs sent).
    pub permission_patches: usize,
    /// Object by object (Guacamole 1.5.x): each object applied, by name, so that a
    /// failure can say exactly which.
    pub objects: Vec<String>,
    /// What was learnt about the request size a proxy or the server accepts.
    pub size: SizeLearnt,
}

impl Report {
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.kinds.values().all(|c| c.total() == 0)
            && self.sessions_closed == 0
            && self.memberships == 0
            && self.permission_patches == 0
    }

    #[must_use]
    pub fn of(&self, kind: Kind) -> Counts {
        self.kinds.get(&kind).copied().unwrap_or_default()
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return f.write_str("nothing");
        }
        let mut parts = Vec::new();
        let groups = self.of(Kind::ConnectionGroup);
        if groups.add > 0 {
            parts.push(format!("{} group(s) created", groups.add));
        }
        if groups.moved > 0 {
            parts.push(format!("{} group(s) moved", groups.moved));
        }
        if groups.change > groups.moved {
            parts.push(format!("{} group(s) changed", groups.change - groups.moved));
        }
        let conns = self.of(Kind::Connection);
        if conns.total() > 0 {
            parts.push(format!(
                "{} connection batch(es) applied ({} added, {} changed, {} removed)",
                self.batches.max(1),
                conns.add,
                conns.change,
                conns.remove
            ));
        }
        for kind in [Kind::SharingProfile, Kind::UserGroup, Kind::User] {
            let c = self.of(kind);
            if c.change + c.remove > 0 || (c.add > 0 && kind == Kind::SharingProfile) {
                parts.push(format!(
                    "{}: {} added, {} changed, {} removed",
                    kind.describe().plural,
                    c.add,
                    c.change,
                    c.remove
                ));
            }
        }
        if self.sessions_closed > 0 {
            parts.push(format!("{} session(s) closed", self.sessions_closed));
        }
        if groups.remove > 0 {
            parts.push(format!("{} group(s) removed", groups.remove));
        }
        let principals = self.of(Kind::User).add + self.of(Kind::UserGroup).add;
        if principals > 0 {
            parts.push(format!("{principals} user(s)/group(s) created"));
        }
        if self.memberships > 0 {
            parts.push(format!(
                "members of {} user group(s) updated",
                self.memberships
            ));
        }
        if self.permission_patches > 0 {
            parts.push(format!(
                "permissions of {} principal(s) updated",
                self.permission_patches
            ));
        }
        f.write_str(&parts.join(", "))?;
        if !self.objects.is_empty() {
            let shown: Vec<&str> = self.objects.iter().take(20).map(String::as_str).collect();
            write!(f, " [object by object: {}", shown.join("; "))?;
            if self.objects.len() > shown.len() {
                write!(f, "; and {} more", self.objects.len() - shown.len())?;
            }
            f.write_str("]")?;
        }
        Ok(())
    }
}

/// One rejected patch, with where it came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PatchError {
    pub what: String,
    pub source: Option<Source>,
    pub message: String,
}

/// Whether a failed request may have changed the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Applied {
    /// Refused as a whole: nothing of it was applied.
    No,
    /// Its answer was lost (a timeout, a dropped connection, a proxy's 502/503/504):
    /// it may have been applied.
    Unknown,
    /// Guacamole applies it in separate statements (a permission or membership
    /// PATCH, rest-api.md §6) and one of them failed: the statements before it
    /// stay applied.
    Partly,
}

/// One failed request among those of a step: several may fail together when they
/// were in flight at once, and each is named.
#[derive(Debug)]
pub struct RequestFailure {
    /// What the request was doing, e.g. `adding ROOT/web`.
    pub what: String,
    pub error: WriteError,
    pub applied: Applied,
    /// What the server was read back to hold of it (when it may have applied it).
    pub readback: Option<String>,
}

impl fmt::Display for RequestFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.what, self.error)?;
        match self.applied {
            Applied::No => {}
            Applied::Unknown => f.write_str("; the request may have been applied")?,
            Applied::Partly => f.write_str(
                "; Guacamole applies such a request one kind of change at a time, so the changes before the failing one may be applied",
            )?,
        }
        if let Some(r) = &self.readback {
            write!(f, ". {r}")?;
        }
        Ok(())
    }
}

#[derive(Debug)]
pub enum ApplyError {
    /// Nothing was sent: the plan cannot be applied as it stands (a server that
    /// applies object by object without `allow_non_atomic`).
    Refused { reason: String },
    /// The server rejected an atomic batch: nothing of that batch was applied.
    Rejected {
        step: String,
        errors: Vec<PatchError>,
        done: Report,
    },
    /// A request failed; what was done before it is known.
    Failed {
        step: String,
        error: WriteError,
        done: Report,
    },
    /// A write whose outcome is unknown (a timeout, a dropped connection, a
    /// proxy's 502/503/504, a malformed answer): what the server now holds was
    /// read back (`readback`, or why it could not be).
    Unknown {
        step: String,
        error: ClientError,
        done: Report,
        readback: String,
    },
    /// Requests of one step failed (several at once when they were in flight
    /// together, or one the server applies in parts): each with what may have
    /// been applied and what was read back.
    Requests {
        step: String,
        failures: Vec<RequestFailure>,
        /// The other requests of the step: which completed, which never started.
        others: Vec<String>,
        done: Report,
    },
}

impl ApplyError {
    #[must_use]
    pub fn done(&self) -> Option<&Report> {
        match self {
            Self::Refused { .. } => None,
            Self::Rejected { done, .. }
            | Self::Failed { done, .. }
            | Self::Unknown { done, .. }
            | Self::Requests { done, .. } => Some(done),
        }
    }

    /// Whether the server (rather than the plan) failed: `watch` backs off and
    /// reconnects.
    #[must_use]
    pub fn server_failed(&self) -> bool {
        matches!(
            self,
            Self::Failed { .. } | Self::Unknown { .. } | Self::Requests { .. }
        )
    }

    /// Whether a failed request may have changed the server (its outcome is
    /// unknown, or part of it may be applied).
    #[must_use]
    pub fn may_have_applied(&self) -> bool {
        match self {
            Self::Unknown { .. } => true,
            Self::Requests { failures, .. } => failures.iter().any(|f| f.applied != Applied::No),
            Self::Refused { .. } | Self::Rejected { .. } | Self::Failed { .. } => false,
        }
    }
}

impl fmt::Display for ApplyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Refused { reason } => write!(f, "{reason}; nothing was sent"),
            Self::Rejected { step, errors, done } => {
                writeln!(
                    f,
                    "the server rejected {step}; that batch was rolled back and nothing after it was sent:"
                )?;
                for e in errors {
                    match &e.source {
                        Some(s) => writeln!(f, "  {s}: {}: {}", e.what, e.message)?,
                        None => writeln!(f, "  {}: {}", e.what, e.message)?,
                    }
                }
                write!(f, "done before it: {done}")
            }
            Self::Failed { step, error, done } => {
                write!(f, "{step} failed: {error}")?;
                write!(f, "\ndone before it: {done}")
            }
            Self::Unknown {
                step,
                error,
                done,
                readback,
            } => {
                write!(
                    f,
                    "{step} failed: {error}; the request may have been applied. {readback}. Nothing after it was sent; run again: guacsync re-reads the server and converges"
                )?;
                write!(f, "\ndone before it: {done}")
            }
            Self::Requests {
                step,
                failures,
                others,
                done,
            } => {
                writeln!(f, "{step} failed:")?;
                for failure in failures {
                    writeln!(f, "  {failure}")?;
                }
                for line in others {
                    writeln!(f, "  {line}")?;
                }
                if failures.iter().any(|f| f.applied != Applied::No) {
                    writeln!(
                        f,
                        "Nothing after it was sent; run again: guacsync re-reads the server and converges"
                    )?;
                }
                write!(f, "done before it: {done}")
            }
        }
    }
}

impl std::error::Error for ApplyError {}

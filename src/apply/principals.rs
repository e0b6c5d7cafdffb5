//! The last steps of an apply: memberships, then permissions, one principal at a
//! time per request stream but several principals at once (`--concurrency`).
//! Guacamole applies a permission or membership PATCH in separate statements
//! (rest-api.md §6), so nothing here is atomic; each principal's requests are sent
//! in order and each is within the request limit, and a failure says which
//! principals were updated, which was being updated, and which were not started.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};

use futures::StreamExt;

use super::write::{Partial, WriteError};
use super::{ApplyError, Run, missing, readback};
use crate::guacamole::client::encode_segment;
use crate::guacamole::wire::StringOp;
use crate::model::Principal;
use crate::plan::{Grant, PermissionChange};

/// How one principal's requests ended.
enum Outcome {
    Done,
    NotStarted,
    Failed { sent: usize, error: WriteError },
}

impl Run<'_> {
    /// The path below the data source of a principal's permissions.
    fn permissions_path(&self, p: &Principal) -> String {
        match p {
            Principal::User(u) if u == self.client().username() => "self/permissions".to_owned(),
            Principal::User(u) => format!("users/{}/permissions", encode_segment(u)),
            Principal::UserGroup(g) => format!("userGroups/{}/permissions", encode_segment(g)),
        }
    }

    /// The PATCH operation of one grant or revocation.
    fn grant_op(&self, op: &'static str, g: &Grant) -> Result<StringOp, WriteError> {
        let path = match &g.object {
            None => "/systemPermissions".to_owned(),
            Some(object) => {
                let id = g
                    .identifier
                    .clone()
                    .or_else(|| self.resolve(object))
                    .ok_or_else(|| WriteError::Client(missing(object)))?;
                format!("{}{id}", object.kind().describe().permission_path)
            }
        };
        Ok(StringOp {
            op,
            path,
            value: g.permission.clone(),
        })
    }

    fn permission_ops(&self, change: &PermissionChange) -> Result<Vec<StringOp>, WriteError> {
        let mut ops = Vec::with_capacity(change.grant.len() + change.revoke.len());
        for g in &change.grant {
            ops.push(self.grant_op("add", g)?);
        }
        for g in &change.revoke {
            ops.push(self.grant_op("remove", g)?);
        }
        Ok(ops)
    }

    /// Every principal's permission PATCH requests, several principals at once.
    pub(super) async fn permissions(&mut self) -> Result<(), ApplyError> {
        let changes = &self.plan.permissions;
        if changes.is_empty() {
            return Ok(());
        }
        let mut work = Vec::with_capacity(changes.len());
        for c in changes {
            let ops = self
                .permission_ops(c)
                .map_err(|e| self.failed(&format!("the permissions of {}", c.principal), e))?;
            work.push((c, self.permissions_path(&c.principal), ops));
        }
        let halt = AtomicBool::new(false);
        let writer = &self.writer;
        let outcomes: Vec<Outcome> = futures::stream::iter(work.iter())
            .map(|(_, rest, ops)| {
                let halt = &halt;
                async move {
                    if halt.load(Ordering::SeqCst) {
                        return Outcome::NotStarted;
                    }
                    match writer.strings(rest, ops).await {
                        Ok(()) => Outcome::Done,
                        Err(Partial { applied, error, .. }) => {
                            halt.store(true, Ordering::SeqCst);
                            Outcome::Failed {
                                sent: applied,
                                error,
                            }
                        }
                    }
                }
            })
            .buffered(self.concurrency)
            .collect()
            .await;
        let mut updated = Vec::new();
        let mut not_started = Vec::new();
        let mut failure = None;
        for ((change, _, ops), outcome) in work.iter().zip(outcomes) {
            match outcome {
                Outcome::Done => updated.push(change.principal.to_string()),
                Outcome::Failed { sent, error } if failure.is_none() => {
                    failure = Some((*change, sent, ops.len(), error));
                }
                // A second failure (already in flight) counts as not updated.
                Outcome::NotStarted | Outcome::Failed { .. } => {
                    not_started.push(change.principal.to_string());
                }
            }
        }
        self.done.permission_patches += updated.len();
        let Some((change, sent, total, error)) = failure else {
            return Ok(());
        };
        let mut what = format!(
            "updating the permissions of {} (after {sent} of its {total} change(s))",
            change.principal
        );
        if !updated.is_empty() {
            let _ = write!(what, "; updated: {}", list(&updated));
        }
        if !not_started.is_empty() {
            let _ = write!(what, "; not updated: {}", list(&not_started));
        }
        match error {
            WriteError::Client(e) if super::may_have_applied(&e) => Err(ApplyError::Unknown {
                readback: readback::permissions(
                    self.client(),
                    &self.permissions_path(&change.principal),
                    change,
                    &|k| self.resolve(k),
                )
                .await,
                step: what,
                error: e,
                done: self.done.clone(),
            }),
            other => Err(self.failed(&what, other)),
        }
    }

    /// Members added to and removed from each user group (`memberUsers`,
    /// `memberUserGroups`), in order.
    pub(super) async fn memberships(&mut self) -> Result<(), ApplyError> {
        for m in &self.plan.memberships {
            let group = encode_segment(&m.group);
            for (rest, add, remove) in [
                (
                    format!("userGroups/{group}/memberUsers"),
                    &m.add_users,
                    &m.remove_users,
                ),
                (
                    format!("userGroups/{group}/memberUserGroups"),
                    &m.add_groups,
                    &m.remove_groups,
                ),
            ] {
                let ops: Vec<StringOp> = add
                    .iter()
                    .map(|n| ("add", n))
                    .chain(remove.iter().map(|n| ("remove", n)))
                    .map(|(op, n)| StringOp {
                        op,
                        path: "/".to_owned(),
                        value: n.clone(),
                    })
                    .collect();
                if ops.is_empty() {
                    continue;
                }
                if let Err(p) = self.writer.strings(&rest, &ops).await {
                    let step = format!(
                        "updating the members of user group {:?} (after {} of {} change(s))",
                        m.group,
                        p.applied,
                        ops.len()
                    );
                    return Err(match p.error {
                        WriteError::Client(e) if super::may_have_applied(&e) => {
                            ApplyError::Unknown {
                                readback: readback::members(self.client(), &rest, add, remove)
                                    .await,
                                step,
                                error: e,
                                done: self.done.clone(),
                            }
                        }
                        other => self.failed(&step, other),
                    });
                }
            }
            self.done.memberships += 1;
        }
        Ok(())
    }
}

/// Names, the first 20 and how many more.
fn list(names: &[String]) -> String {
    let shown: Vec<&str> = names.iter().take(20).map(String::as_str).collect();
    if names.len() > shown.len() {
        format!(
            "{} and {} more",
            shown.join(", "),
            names.len() - shown.len()
        )
    } else {
        shown.join(", ")
    }
}

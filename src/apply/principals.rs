//! The last steps of an apply: memberships, then permissions, one principal at a
//! time per request stream but several principals at once (`--concurrency`).
//! Guacamole applies a permission or membership PATCH in separate statements
//! (rest-api.md §6), so nothing here is atomic; each principal's requests are sent
//! in order and each is within the request limit, and a failure says which
//! principals were updated, which were not started, and, for every principal
//! whose request failed, what the server was read back to hold of its changes
//! (a failed request may be partly applied).

use std::sync::atomic::{AtomicBool, Ordering};

use futures::StreamExt;

use super::report::{Applied, RequestFailure};
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
        let mut failed = Vec::new();
        for ((change, rest, ops), outcome) in work.iter().zip(outcomes) {
            match outcome {
                Outcome::Done => updated.push(change.principal.to_string()),
                Outcome::NotStarted => not_started.push(change.principal.to_string()),
                // Every failure is kept: requests in flight when the first failed
                // may have failed too, and each may be partly applied.
                Outcome::Failed { sent, error } => {
                    failed.push((*change, rest, sent, ops.len(), error));
                }
            }
        }
        self.done.permission_patches += updated.len();
        if failed.is_empty() {
            return Ok(());
        }
        let mut failures = Vec::with_capacity(failed.len());
        for (change, rest, sent, total, error) in failed {
            let applied = match &error {
                WriteError::Client(e) if super::may_have_applied(e) => Applied::Unknown,
                // Guacamole applies a permission PATCH one kind of permission at
                // a time, each statement committed on its own (rest-api.md §6).
                WriteError::Client(_) => Applied::Partly,
                // Refused for its size before Guacamole read it.
                WriteError::SingleTooLarge { .. } => Applied::No,
            };
            let readback = if applied == Applied::No {
                None
            } else {
                Some(readback::permissions(self.client(), rest, change, &|k| self.resolve(k)).await)
            };
            failures.push(RequestFailure {
                what: format!(
                    "updating the permissions of {} ({sent} of its {total} change(s) applied by earlier requests)",
                    change.principal
                ),
                error,
                applied,
                readback,
            });
        }
        let mut others = Vec::new();
        if !updated.is_empty() {
            others.push(format!("updated: {}", list(&updated)));
        }
        if !not_started.is_empty() {
            others.push(format!("not started: {}", list(&not_started)));
        }
        Err(ApplyError::Requests {
            step: format!("updating the permissions of {} principal(s)", work.len()),
            failures,
            others,
            done: self.done.clone(),
        })
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
                        // Guacamole adds, then removes, each in its own statement
                        // (rest-api.md §6): the adds may stay applied when the
                        // removes fail, so what the group holds is read back.
                        WriteError::Client(e) => ApplyError::Requests {
                            step: format!("updating the members of user group {:?}", m.group),
                            failures: vec![RequestFailure {
                                what: format!(
                                    "{rest} ({} of its {} change(s) applied by earlier requests)",
                                    p.applied,
                                    ops.len()
                                ),
                                error: WriteError::Client(e),
                                applied: Applied::Partly,
                                readback: Some(
                                    readback::members(self.client(), &rest, add, remove).await,
                                ),
                            }],
                            others: Vec::new(),
                            done: self.done.clone(),
                        },
                        other @ WriteError::SingleTooLarge { .. } => self.failed(&step, other),
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

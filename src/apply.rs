//! Executing a plan, in DESIGN.md §1's order, each step safe to run again:
//! connection groups (moves whose new parent exists, then one atomic PATCH per
//! depth of new groups, then the other moves) → connections (the plan's atomic
//! batches) → sessions to close → groups `prune_groups` removes → users and user
//! groups to create → one permission PATCH per principal, using the identifiers
//! the earlier `PATCHes` returned.
//!
//! A move keeps every identifier, so the identifiers of moved objects (and of
//! everything below a moved group) are known before anything is sent: they are
//! re-keyed to their new paths up front.
//!
//! A rejected batch stops everything after it and maps each per-patch error back
//! to its manifest line; any failure reports exactly what was done before it.

// An apply error is built once per run and carries the report of what was done;
// boxing it would buy nothing.
#![allow(clippy::result_large_err)]

use std::collections::HashMap;
use std::fmt;

use serde_json::json;

use crate::diff::connection_op;
use crate::guacamole::wire::{Op, PatchOutcome, StringOp};
use crate::guacamole::{Client, ClientError};
use crate::model::{ConnKey, GroupPath, Principal, Source};
use crate::observed::Observed;
use crate::plan::{ConnectionChange, GroupMove, Plan, Target};

/// What has been done so far.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    pub groups: usize,
    pub groups_moved: usize,
    pub groups_removed: usize,
    pub batches: usize,
    pub added: usize,
    pub changed: usize,
    pub removed: usize,
    pub sessions_closed: usize,
    pub principals: usize,
    pub permission_patches: usize,
}

impl Report {
    #[must_use]
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return f.write_str("nothing");
        }
        let mut parts = Vec::new();
        if self.groups > 0 {
            parts.push(format!("{} group(s) created", self.groups));
        }
        if self.groups_moved > 0 {
            parts.push(format!("{} group(s) moved", self.groups_moved));
        }
        if self.batches > 0 {
            parts.push(format!(
                "{} connection batch(es) applied ({} added, {} changed, {} removed)",
                self.batches, self.added, self.changed, self.removed
            ));
        }
        if self.sessions_closed > 0 {
            parts.push(format!("{} session(s) closed", self.sessions_closed));
        }
        if self.groups_removed > 0 {
            parts.push(format!("{} group(s) removed", self.groups_removed));
        }
        if self.principals > 0 {
            parts.push(format!("{} user(s)/group(s) created", self.principals));
        }
        if self.permission_patches > 0 {
            parts.push(format!(
                "permissions of {} principal(s) updated",
                self.permission_patches
            ));
        }
        f.write_str(&parts.join(", "))
    }
}

/// One rejected patch, with where it came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PatchError {
    pub what: String,
    pub source: Option<Source>,
    pub message: String,
}

#[derive(Debug)]
pub enum ApplyError {
    /// The server rejected an atomic batch: nothing of that batch was applied.
    Rejected {
        step: String,
        errors: Vec<PatchError>,
        done: Report,
    },
    /// A request failed.
    Failed {
        step: String,
        error: ClientError,
        done: Report,
    },
}

impl ApplyError {
    #[must_use]
    pub fn done(&self) -> &Report {
        match self {
            Self::Rejected { done, .. } | Self::Failed { done, .. } => done,
        }
    }
}

impl fmt::Display for ApplyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
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
                if let ClientError::Transport {
                    outcome_unknown: true,
                    ..
                } = error
                {
                    write!(
                        f,
                        " (the request may have been applied; run again: guacsync converges)"
                    )?;
                }
                if let ClientError::UnknownOutcome { .. } = error {
                    write!(
                        f,
                        " ({step} may have been applied in whole; nothing after it was sent; \
                         run again: guacsync re-reads the server and converges)"
                    )?;
                }
                write!(f, "\ndone before it: {done}")
            }
        }
    }
}

impl std::error::Error for ApplyError {}

/// The per-patch errors of a rejected batch. `describe(i)` is called only for
/// positions below `count` (the number of patches sent): the client has checked
/// that the outcome list matches, and a list that still does not is never indexed.
fn rejected(
    step: String,
    outcomes: Option<&[PatchOutcome]>,
    count: usize,
    describe: &dyn Fn(usize) -> (String, Option<Source>),
    done: &Report,
) -> ApplyError {
    let errors = outcomes
        .unwrap_or_default()
        .iter()
        .take(count)
        .enumerate()
        .filter_map(|(i, o)| {
            o.error.as_ref().map(|e| {
                let (what, source) = describe(i);
                PatchError {
                    what,
                    source,
                    message: crate::secret::redact(&e.text()),
                }
            })
        })
        .collect();
    ApplyError::Rejected {
        step,
        errors,
        done: done.clone(),
    }
}

fn fail(
    step: String,
    error: ClientError,
    done: &Report,
    count: usize,
    describe: &dyn Fn(usize) -> (String, Option<Source>),
) -> ApplyError {
    match error {
        ClientError::Api {
            status: 400,
            patches: Some(ref patches),
            ..
        } if patches.len() == count => rejected(step, Some(patches), count, describe, done),
        error => ApplyError::Failed {
            step,
            error,
            done: done.clone(),
        },
    }
}

/// Applies `plan` to the server `observed` was read from.
pub async fn apply(
    plan: &Plan,
    observed: &Observed,
    client: &Client,
) -> Result<Report, ApplyError> {
    let mut group_ids: HashMap<GroupPath, String> = observed
        .groups
        .iter()
        .map(|(p, g)| (p.clone(), g.identifier.clone()))
        .collect();
    group_ids.insert(GroupPath::root(), "ROOT".to_owned());
    let mut conn_ids: HashMap<ConnKey, String> = observed
        .connections
        .iter()
        .map(|(k, c)| (k.clone(), c.identifier.clone()))
        .collect();
    rekey_moved(plan, &mut group_ids, &mut conn_ids);
    let mut run = Run {
        plan,
        client,
        done: Report::default(),
        group_ids,
        conn_ids,
    };
    // Moves into groups that exist go first: a new group may take the name a moved
    // one leaves.
    let (ready, later): (Vec<&GroupMove>, Vec<&GroupMove>) =
        plan.group_moves.iter().partition(|m| {
            m.to.parent()
                .is_some_and(|p| run.group_ids.contains_key(&p))
        });
    run.move_groups(&ready).await?;
    run.groups().await?;
    run.move_groups(&later).await?;
    run.connections().await?;
    run.sessions().await?;
    run.remove_groups().await?;
    run.principals().await?;
    run.permissions().await?;
    Ok(run.done)
}

/// Re-keys the identifiers of moved groups (with everything below them) and moved
/// connections to their new paths, in the order the plan decided the moves.
fn rekey_moved(
    plan: &Plan,
    group_ids: &mut HashMap<GroupPath, String>,
    conn_ids: &mut HashMap<ConnKey, String>,
) {
    for m in &plan.group_moves {
        let below: Vec<GroupPath> = group_ids
            .keys()
            .filter(|p| p.starts_with(&m.from))
            .cloned()
            .collect();
        for path in below {
            if let (Some(id), Some(new)) = (group_ids.remove(&path), path.rebase(&m.from, &m.to)) {
                group_ids.insert(new, id);
            }
        }
        let below: Vec<ConnKey> = conn_ids
            .keys()
            .filter(|k| k.group.starts_with(&m.from))
            .cloned()
            .collect();
        for key in below {
            if let (Some(id), Some(group)) =
                (conn_ids.remove(&key), key.group.rebase(&m.from, &m.to))
            {
                conn_ids.insert(
                    ConnKey {
                        group,
                        name: key.name,
                    },
                    id,
                );
            }
        }
    }
    for c in &plan.connections {
        if let ConnectionChange::Replace {
            key,
            identifier,
            moved_from: Some(_),
            ..
        } = c
        {
            conn_ids.retain(|_, id| id != identifier);
            conn_ids.insert(key.clone(), identifier.clone());
        }
    }
}

/// One apply in progress: what is done, and the identifiers learnt so far.
struct Run<'a> {
    plan: &'a Plan,
    client: &'a Client,
    done: Report,
    group_ids: HashMap<GroupPath, String>,
    conn_ids: HashMap<ConnKey, String>,
}

impl Run<'_> {
    /// An identifier apply needs and does not have: the client checks that every
    /// add's outcome names one, so this is a plan naming an object that neither the
    /// server nor an earlier step produced.
    fn missing(&self, what: &str) -> ApplyError {
        ApplyError::Failed {
            step: "preparing the next request".to_owned(),
            error: ClientError::Decode {
                method: reqwest::Method::PATCH,
                path: String::new(),
                message: format!("no identifier for {what}"),
            },
            done: self.done.clone(),
        }
    }

    fn group_id(&self, path: &GroupPath) -> Result<String, ApplyError> {
        self.group_ids
            .get(path)
            .cloned()
            .ok_or_else(|| self.missing(&path.to_string()))
    }

    /// Connection groups, one atomic PATCH per depth, parents first.
    async fn groups(&mut self) -> Result<(), ApplyError> {
        let groups = &self.plan.groups;
        let mut start = 0;
        while start < groups.len() {
            let depth = groups[start].path.depth();
            let end = groups[start..]
                .iter()
                .position(|g| g.path.depth() != depth)
                .map_or(groups.len(), |n| start + n);
            let adds = &groups[start..end];
            let mut ops = Vec::with_capacity(adds.len());
            for g in adds {
                let parent = self.group_id(&g.parent())?;
                ops.push(Op::Add {
                    path: "/".to_owned(),
                    value: json!({"parentIdentifier": parent, "name": g.name(), "type": "ORGANIZATIONAL", "attributes": {}}),
                });
            }
            let describe = |i: usize| (format!("group {}", adds[i].path), None);
            let step = format!("the connection groups at depth {depth}");
            let outcomes = self
                .client
                .patch_directory("connectionGroups", &ops)
                .await
                .map_err(|e| fail(step, e, &self.done, ops.len(), &describe))?;
            for (g, o) in adds.iter().zip(outcomes) {
                let id = o
                    .identifier
                    .ok_or_else(|| self.missing(&g.path.to_string()))?;
                self.group_ids.insert(g.path.clone(), id);
            }
            self.done.groups += adds.len();
            tracing::info!(
                "created {} connection group(s) at depth {depth}",
                adds.len()
            );
            start = end;
        }
        Ok(())
    }

    /// Group moves and renames: one atomic PATCH of `replace`s, each keeping the
    /// group's identifier (and so its children and permissions).
    async fn move_groups(&mut self, moves: &[&GroupMove]) -> Result<(), ApplyError> {
        if moves.is_empty() {
            return Ok(());
        }
        let mut ops = Vec::with_capacity(moves.len());
        for m in moves {
            let parent = self.group_id(&m.to.parent().unwrap_or_default())?;
            ops.push(Op::Replace {
                path: format!("/{}", m.identifier),
                value: json!({"parentIdentifier": parent, "name": m.to.name().unwrap_or_default(), "type": m.group_type, "attributes": m.attributes}),
            });
        }
        let describe = |i: usize| {
            (
                format!("moving group {} to {}", moves[i].from, moves[i].to),
                None,
            )
        };
        self.client
            .patch_directory("connectionGroups", &ops)
            .await
            .map_err(|e| {
                fail(
                    "the group moves".to_owned(),
                    e,
                    &self.done,
                    ops.len(),
                    &describe,
                )
            })?;
        self.done.groups_moved += moves.len();
        tracing::info!("moved {} connection group(s)", moves.len());
        Ok(())
    }

    /// Groups `prune_groups` removes, deepest first (each is empty when its turn
    /// comes), in one atomic PATCH.
    async fn remove_groups(&mut self) -> Result<(), ApplyError> {
        let removals = &self.plan.group_removals;
        if removals.is_empty() {
            return Ok(());
        }
        let ops: Vec<Op<serde_json::Value>> = removals
            .iter()
            .map(|g| Op::Remove {
                path: format!("/{}", g.identifier),
            })
            .collect();
        let describe = |i: usize| (format!("removing group {}", removals[i].path), None);
        self.client
            .patch_directory("connectionGroups", &ops)
            .await
            .map_err(|e| {
                fail(
                    "removing empty groups".to_owned(),
                    e,
                    &self.done,
                    ops.len(),
                    &describe,
                )
            })?;
        self.done.groups_removed += removals.len();
        Ok(())
    }

    /// Connections, in the plan's atomic batches.
    async fn connections(&mut self) -> Result<(), ApplyError> {
        let batches = &self.plan.batches;
        for (n, batch) in batches.iter().enumerate() {
            let changes = &self.plan.connections[batch.start..batch.end];
            let mut ops = Vec::with_capacity(changes.len());
            for c in changes {
                ops.push(connection_op(c, &self.group_id(&c.key().group)?));
            }
            let describe = |i: usize| {
                let c = &changes[i];
                let verb = match c {
                    ConnectionChange::Add { .. } => "adding",
                    ConnectionChange::Replace { .. } => "changing",
                    ConnectionChange::Remove { .. } => "removing",
                };
                (format!("{verb} {}", c.key()), c.source().cloned())
            };
            let step = if batches.len() == 1 {
                "the connection batch".to_owned()
            } else {
                format!("connection batch {} of {}", n + 1, batches.len())
            };
            let outcomes = self
                .client
                .patch_directory("connections", &ops)
                .await
                .map_err(|e| fail(step.clone(), e, &self.done, ops.len(), &describe))?;
            for (c, o) in changes.iter().zip(outcomes) {
                match c {
                    ConnectionChange::Add { key, .. } => {
                        let id = o.identifier.ok_or_else(|| self.missing(&key.to_string()))?;
                        self.conn_ids.insert(key.clone(), id);
                        self.done.added += 1;
                    }
                    ConnectionChange::Replace { .. } => self.done.changed += 1,
                    ConnectionChange::Remove { key, .. } => {
                        self.conn_ids.remove(key);
                        self.done.removed += 1;
                    }
                }
            }
            self.done.batches += 1;
            tracing::info!("applied {step} ({} change(s))", changes.len());
        }
        Ok(())
    }

    /// Sessions on removed connections (`--terminate-sessions`).
    async fn sessions(&mut self) -> Result<(), ApplyError> {
        let sessions = &self.plan.sessions;
        if sessions.is_empty() {
            return Ok(());
        }
        let ops: Vec<Op<serde_json::Value>> = sessions
            .iter()
            .map(|s| Op::Remove {
                path: format!("/{}", s.identifier),
            })
            .collect();
        let describe = |i: usize| {
            (
                format!(
                    "closing session {} on {}",
                    sessions[i].identifier, sessions[i].key
                ),
                None,
            )
        };
        self.client
            .patch_directory("activeConnections", &ops)
            .await
            .map_err(|e| {
                fail(
                    "closing sessions".to_owned(),
                    e,
                    &self.done,
                    ops.len(),
                    &describe,
                )
            })?;
        self.done.sessions_closed += ops.len();
        Ok(())
    }

    /// Users and user groups to create.
    async fn principals(&mut self) -> Result<(), ApplyError> {
        for (directory, users) in [("users", true), ("userGroups", false)] {
            let names: Vec<&str> = self
                .plan
                .principals
                .iter()
                .filter_map(|p| match p {
                    Principal::User(u) if users => Some(u.as_str()),
                    Principal::UserGroup(g) if !users => Some(g.as_str()),
                    _ => None,
                })
                .collect();
            if names.is_empty() {
                continue;
            }
            let field = if users { "username" } else { "identifier" };
            let ops: Vec<Op<serde_json::Value>> = names
                .iter()
                .map(|n| Op::Add {
                    path: "/".to_owned(),
                    value: json!({field: n, "attributes": {}}),
                })
                .collect();
            let kind = if users { "user" } else { "user group" };
            let describe = |i: usize| (format!("creating {kind} {:?}", names[i]), None);
            self.client
                .patch_directory(directory, &ops)
                .await
                .map_err(|e| {
                    fail(
                        format!("creating {kind}s"),
                        e,
                        &self.done,
                        ops.len(),
                        &describe,
                    )
                })?;
            self.done.principals += names.len();
        }
        Ok(())
    }

    /// One permission PATCH per principal, with the identifiers learnt above.
    async fn permissions(&mut self) -> Result<(), ApplyError> {
        for change in &self.plan.permissions {
            let mut ops = Vec::with_capacity(change.grant.len() + change.revoke.len());
            for (op, targets) in [("add", &change.grant), ("remove", &change.revoke)] {
                for t in targets {
                    let path = match t {
                        Target::Connection { key } => format!(
                            "/connectionPermissions/{}",
                            self.conn_ids
                                .get(key)
                                .ok_or_else(|| self.missing(&key.to_string()))?
                        ),
                        Target::Group { path } => {
                            format!("/connectionGroupPermissions/{}", self.group_id(path)?)
                        }
                    };
                    ops.push(StringOp {
                        op,
                        path,
                        value: "READ".to_owned(),
                    });
                }
            }
            self.client
                .patch_permissions(&change.principal, &ops)
                .await
                .map_err(|error| ApplyError::Failed {
                    step: format!("updating the permissions of {}", change.principal),
                    error,
                    done: self.done.clone(),
                })?;
            self.done.permission_patches += 1;
        }
        Ok(())
    }
}

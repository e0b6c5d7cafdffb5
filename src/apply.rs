//! Executing a plan, in DESIGN.md §1's order, each step safe to run again:
//! connection groups (one atomic PATCH per depth) → connections (the plan's atomic
//! batches) → sessions to close → users and user groups to create → one permission
//! PATCH per principal, using the identifiers the earlier PATCHes returned.
//!
//! A rejected batch stops everything after it and maps each per-patch error back
//! to its manifest line; any failure reports exactly what was done before it.

use std::collections::HashMap;
use std::fmt;

use serde_json::json;

use crate::diff::connection_op;
use crate::guacamole::wire::{Op, PatchOutcome, StringOp};
use crate::guacamole::{Client, ClientError};
use crate::model::{ConnKey, GroupPath, Principal, Source};
use crate::observed::Observed;
use crate::plan::{ConnectionChange, Plan, Target};

/// What has been done so far.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    pub groups: usize,
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
        if self.batches > 0 {
            parts.push(format!(
                "{} connection batch(es) applied ({} added, {} changed, {} removed)",
                self.batches, self.added, self.changed, self.removed
            ));
        }
        if self.sessions_closed > 0 {
            parts.push(format!("{} session(s) closed", self.sessions_closed));
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
                write!(f, "\ndone before it: {done}")
            }
        }
    }
}

impl std::error::Error for ApplyError {}

fn rejected(
    step: String,
    outcomes: Option<&[PatchOutcome]>,
    describe: &dyn Fn(usize) -> (String, Option<Source>),
    done: &Report,
) -> ApplyError {
    let errors = outcomes
        .unwrap_or_default()
        .iter()
        .enumerate()
        .filter_map(|(i, o)| {
            o.error.as_ref().map(|e| {
                let (what, source) = describe(i);
                PatchError {
                    what,
                    source,
                    message: e.text(),
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
    describe: &dyn Fn(usize) -> (String, Option<Source>),
) -> ApplyError {
    match error {
        ClientError::Api {
            status: 400,
            patches: Some(ref patches),
            ..
        } => rejected(step, Some(patches), describe, done),
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
    let mut done = Report::default();
    let mut group_ids: HashMap<GroupPath, String> = observed
        .groups
        .iter()
        .map(|(p, g)| (p.clone(), g.identifier.clone()))
        .collect();
    group_ids.insert(GroupPath::root(), "ROOT".to_owned());
    let missing = |what: &str| ApplyError::Failed {
        step: "planning the request".to_owned(),
        error: ClientError::Decode {
            method: reqwest::Method::PATCH,
            path: String::new(),
            message: format!("no identifier for {what}"),
        },
        done: Report::default(),
    };

    // 1. Groups, one atomic PATCH per depth.
    let mut depth_start = 0;
    while depth_start < plan.groups.len() {
        let depth = plan.groups[depth_start].path.depth();
        let depth_end = plan.groups[depth_start..]
            .iter()
            .position(|g| g.path.depth() != depth)
            .map_or(plan.groups.len(), |n| depth_start + n);
        let adds = &plan.groups[depth_start..depth_end];
        let mut ops = Vec::with_capacity(adds.len());
        for g in adds {
            let parent = group_ids
                .get(&g.parent())
                .ok_or_else(|| missing(&g.parent().to_string()))?;
            ops.push(Op::Add {
                path: "/".to_owned(),
                value: json!({"parentIdentifier": parent, "name": g.name(), "type": "ORGANIZATIONAL", "attributes": {}}),
            });
        }
        let describe = |i: usize| (format!("group {}", adds[i].path), None);
        let step = format!("the connection groups at depth {depth}");
        let outcomes = client
            .patch_directory("connectionGroups", &ops)
            .await
            .map_err(|e| fail(step.clone(), e, &done, &describe))?;
        for (g, o) in adds.iter().zip(outcomes) {
            let id = o.identifier.ok_or_else(|| missing(&g.path.to_string()))?;
            group_ids.insert(g.path.clone(), id);
        }
        done.groups += adds.len();
        tracing::info!(
            "created {} connection group(s) at depth {depth}",
            adds.len()
        );
        depth_start = depth_end;
    }

    // 2. Connections, in the plan's atomic batches.
    let mut conn_ids: HashMap<ConnKey, String> = observed
        .connections
        .iter()
        .map(|(k, c)| (k.clone(), c.identifier.clone()))
        .collect();
    for (n, batch) in plan.batches.iter().enumerate() {
        let changes = &plan.connections[batch.start..batch.end];
        let mut ops = Vec::with_capacity(changes.len());
        for c in changes {
            let parent = group_ids
                .get(&c.key().group)
                .ok_or_else(|| missing(&c.key().group.to_string()))?;
            ops.push(connection_op(c, parent));
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
        let step = if plan.batches.len() == 1 {
            "the connection batch".to_owned()
        } else {
            format!("connection batch {} of {}", n + 1, plan.batches.len())
        };
        let outcomes = client
            .patch_directory("connections", &ops)
            .await
            .map_err(|e| fail(step.clone(), e, &done, &describe))?;
        for (c, o) in changes.iter().zip(outcomes) {
            match c {
                ConnectionChange::Add { key, .. } => {
                    let id = o.identifier.ok_or_else(|| missing(&key.to_string()))?;
                    conn_ids.insert(key.clone(), id);
                    done.added += 1;
                }
                ConnectionChange::Replace { .. } => done.changed += 1,
                ConnectionChange::Remove { key, .. } => {
                    conn_ids.remove(key);
                    done.removed += 1;
                }
            }
        }
        done.batches += 1;
        tracing::info!("applied {step} ({} change(s))", changes.len());
    }

    // 3. Sessions on removed connections.
    if !plan.sessions.is_empty() {
        let ops: Vec<Op<serde_json::Value>> = plan
            .sessions
            .iter()
            .map(|s| Op::Remove {
                path: format!("/{}", s.identifier),
            })
            .collect();
        let describe = |i: usize| {
            (
                format!(
                    "closing session {} on {}",
                    plan.sessions[i].identifier, plan.sessions[i].key
                ),
                None,
            )
        };
        client
            .patch_directory("activeConnections", &ops)
            .await
            .map_err(|e| fail("closing sessions".to_owned(), e, &done, &describe))?;
        done.sessions_closed += ops.len();
    }

    // 4. Users and user groups.
    let users: Vec<&str> = plan
        .principals
        .iter()
        .filter_map(|p| match p {
            Principal::User(u) => Some(u.as_str()),
            Principal::UserGroup(_) => None,
        })
        .collect();
    let groups: Vec<&str> = plan
        .principals
        .iter()
        .filter_map(|p| match p {
            Principal::UserGroup(g) => Some(g.as_str()),
            Principal::User(_) => None,
        })
        .collect();
    if !users.is_empty() {
        let ops: Vec<Op<serde_json::Value>> = users
            .iter()
            .map(|u| Op::Add {
                path: "/".to_owned(),
                value: json!({"username": u, "attributes": {}}),
            })
            .collect();
        let describe = |i: usize| (format!("creating user {:?}", users[i]), None);
        client
            .patch_directory("users", &ops)
            .await
            .map_err(|e| fail("creating users".to_owned(), e, &done, &describe))?;
        done.principals += users.len();
    }
    if !groups.is_empty() {
        let ops: Vec<Op<serde_json::Value>> = groups
            .iter()
            .map(|g| Op::Add {
                path: "/".to_owned(),
                value: json!({"identifier": g, "attributes": {}}),
            })
            .collect();
        let describe = |i: usize| (format!("creating user group {:?}", groups[i]), None);
        client
            .patch_directory("userGroups", &ops)
            .await
            .map_err(|e| fail("creating user groups".to_owned(), e, &done, &describe))?;
        done.principals += groups.len();
    }

    // 5. One permission PATCH per principal.
    for change in &plan.permissions {
        let mut ops = Vec::with_capacity(change.grant.len() + change.revoke.len());
        for (op, targets) in [("add", &change.grant), ("remove", &change.revoke)] {
            for t in targets {
                let path = match t {
                    Target::Connection { key } => format!(
                        "/connectionPermissions/{}",
                        conn_ids.get(key).ok_or_else(|| missing(&key.to_string()))?
                    ),
                    Target::Group { path } => format!(
                        "/connectionGroupPermissions/{}",
                        group_ids
                            .get(path)
                            .ok_or_else(|| missing(&path.to_string()))?
                    ),
                };
                ops.push(StringOp {
                    op,
                    path,
                    value: "READ".to_owned(),
                });
            }
        }
        client
            .patch_permissions(&change.principal, &ops)
            .await
            .map_err(|error| ApplyError::Failed {
                step: format!("updating the permissions of {}", change.principal),
                error,
                done: done.clone(),
            })?;
        done.permission_patches += 1;
    }
    Ok(done)
}

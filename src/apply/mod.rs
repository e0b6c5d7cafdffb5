//! Executing a plan (DESIGN.md §1, §4, §8, §9), the same way for every kind of
//! directory object: the plan's batches in order (groups, connections, sharing
//! profiles, groups removed, user groups, users), each an atomic directory PATCH
//! cut to the request limit (`write`); then the sessions to close, the
//! memberships and the permissions (`principals`). References to objects created
//! earlier in the run are resolved from the identifiers the server answered.
//!
//! On a server that applies directory changes object by object (Guacamole 1.5.x),
//! the plan is refused unless `allow_non_atomic`; with it every change is a
//! single-object POST, PUT or DELETE, moves first and then a few at a time,
//! stopping at the first failure and naming every object applied and every
//! request that failed.
//!
//! A rejected batch maps each per-patch error back to its manifest line; a write
//! whose outcome is unknown is read back (`readback`); every failure reports
//! exactly what was done before it.

// An apply error is built once per run and carries the report of what was done;
// boxing it would buy nothing.
#![allow(clippy::result_large_err)]

mod principals;
mod readback;
mod report;
pub mod write;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};

use futures::StreamExt;

use crate::guacamole::wire::PatchOutcome;
use crate::guacamole::{Client, ClientError};
use crate::kinds::{Identifier, Kind, ObjectKey};
use crate::plan::{Action, Batch, Change, Plan};

pub use report::{ApplyError, PatchError, Report};
use write::{Partial, WriteError, Writer};

/// Applies `plan` to the server it was made against, with at most `concurrency`
/// requests in flight where requests are independent.
pub async fn apply(plan: &Plan, client: &Client, concurrency: usize) -> Result<Report, ApplyError> {
    if let Some(note) = &plan.non_atomic
        && !plan.options.allow_non_atomic
        && !plan.changes.is_empty()
    {
        return Err(ApplyError::Refused {
            reason: format!(
                "{note}. To apply it anyway, object by object, set allow_non_atomic = true under [sync] in guacsync.toml or pass --allow-non-atomic"
            ),
        });
    }
    let mut run = Run {
        plan,
        writer: Writer::new(client, plan.options.max_request_bytes),
        ids: HashMap::new(),
        done: Report::default(),
        concurrency: concurrency.max(1),
        atomic: plan.non_atomic.is_none(),
    };
    let last_connections = plan
        .batches
        .iter()
        .rposition(|b| b.kind == Kind::Connection);
    let connection_batches = plan
        .batches
        .iter()
        .filter(|b| b.kind == Kind::Connection)
        .count();
    let mut seen_connections = 0;
    for (i, batch) in plan.batches.iter().enumerate() {
        let step = if batch.kind == Kind::Connection {
            seen_connections += 1;
            if connection_batches == 1 {
                "the connection batch".to_owned()
            } else {
                format!("connection batch {seen_connections} of {connection_batches}")
            }
        } else {
            step_name(plan, batch)
        };
        run.batch(batch, &step).await?;
        if Some(i) == last_connections {
            run.sessions().await?;
        }
    }
    if last_connections.is_none() {
        run.sessions().await?;
    }
    run.memberships().await?;
    run.permissions().await?;
    run.done.size = run.writer.learnt();
    Ok(run.done)
}

/// How a batch of another kind than connections is named in messages.
fn step_name(plan: &Plan, batch: &Batch) -> String {
    let changes = &plan.changes[batch.start..batch.end];
    let d = batch.kind.describe();
    let all = |a: Action| changes.iter().all(|c| c.action == a);
    if all(Action::Add) {
        if batch.kind == Kind::ConnectionGroup
            && let Some(ObjectKey::ConnectionGroup { path }) = changes.first().map(|c| &c.object)
        {
            return format!("the connection groups at depth {}", path.depth());
        }
        return format!("creating {}", d.plural);
    }
    if all(Action::Remove) {
        return format!("removing {}", d.plural);
    }
    format!("the {} batch", d.noun)
}

/// One apply in progress: what is done, and the identifiers learnt so far.
struct Run<'a> {
    plan: &'a Plan,
    writer: Writer<'a>,
    /// Identifiers of the objects created in this run.
    ids: HashMap<ObjectKey, String>,
    done: Report,
    concurrency: usize,
    atomic: bool,
}

impl Run<'_> {
    fn client(&self) -> &Client {
        self.writer.client()
    }

    /// The identifier of an object created earlier in this run.
    fn resolve(&self, key: &ObjectKey) -> Option<String> {
        self.ids.get(key).cloned()
    }

    /// Counts one applied change and learns an added object's identifier.
    fn record(&mut self, c: &Change, identifier: Option<&str>) {
        let counts = self.done.kinds.entry(c.kind()).or_default();
        match c.action {
            Action::Add => counts.add += 1,
            Action::Change => counts.change += 1,
            Action::Remove => counts.remove += 1,
        }
        if c.moved_from.is_some() {
            counts.moved += 1;
        }
        if c.action == Action::Add {
            let id = match c.kind().describe().identifier {
                Identifier::Name => Some(name_of(&c.object)),
                Identifier::Generated => identifier.map(str::to_owned),
            };
            if let Some(id) = id {
                self.ids.insert(c.object.clone(), id);
            }
        }
        if !self.atomic {
            self.done
                .objects
                .push(format!("{} {}", c.action.op(), c.object));
        }
    }

    fn failed(&self, step: &str, error: WriteError) -> ApplyError {
        ApplyError::Failed {
            step: step.to_owned(),
            error,
            done: self.done.clone(),
        }
    }

    async fn batch(&mut self, batch: &Batch, step: &str) -> Result<(), ApplyError> {
        let changes = &self.plan.changes[batch.start..batch.end];
        if !self.atomic {
            return self.one_by_one(changes, step).await;
        }
        let mut ops = Vec::with_capacity(changes.len());
        for c in changes {
            ops.push(
                c.op(&|k| self.resolve(k))
                    .map_err(|k| self.failed(step, WriteError::Client(missing(&k))))?,
            );
        }
        match self
            .writer
            .directory(batch.kind.describe().endpoint, &ops)
            .await
        {
            Ok(outcomes) => {
                self.record_outcomes(changes, &outcomes);
                if batch.kind == Kind::Connection {
                    self.done.batches += 1;
                }
                tracing::info!("applied {step} ({} change(s))", changes.len());
                Ok(())
            }
            Err(Partial {
                applied,
                outcomes,
                error,
            }) => {
                self.record_outcomes(&changes[..applied], &outcomes);
                Err(self.batch_failed(step, &changes[applied..], error).await)
            }
        }
    }

    fn record_outcomes(&mut self, changes: &[Change], outcomes: &[PatchOutcome]) {
        for (c, o) in changes.iter().zip(outcomes) {
            self.record(c, o.identifier.as_deref());
        }
    }

    /// Why a batch stopped: a rejection (nothing of it applied) mapped to its
    /// manifest lines, an unknown outcome (read back), or a failure.
    async fn batch_failed(&self, step: &str, rest: &[Change], error: WriteError) -> ApplyError {
        match error {
            WriteError::Client(ClientError::Api {
                status: 400,
                patches: Some(outcomes),
                ..
            }) if outcomes.len() == rest.len() => ApplyError::Rejected {
                step: step.to_owned(),
                errors: outcomes
                    .iter()
                    .zip(rest)
                    .filter_map(|(o, c)| {
                        o.error.as_ref().map(|e| PatchError {
                            what: describe(c),
                            source: c.source.clone(),
                            message: crate::secret::redact(&e.text()),
                        })
                    })
                    .collect(),
                done: self.done.clone(),
            },
            WriteError::Client(e) if may_have_applied(&e) => ApplyError::Unknown {
                step: step.to_owned(),
                readback: readback::changes(self.client(), rest).await,
                error: e,
                done: self.done.clone(),
            },
            other => self.failed(step, other),
        }
    }

    /// Object by object (Guacamole 1.5.x): single-object requests. Moves and
    /// renames go first, one at a time in plan order, as the atomic batch applies
    /// them in array order (rest-api.md §4): a move may free the name another
    /// move or an add of the same stage takes, and a POST racing the PUT that
    /// frees its name would be refused. The rest go at most `concurrency` at once.
    /// After a failure no new request starts; every object applied is recorded
    /// and every failure of the requests in flight is reported.
    async fn one_by_one(&mut self, changes: &[Change], step: &str) -> Result<(), ApplyError> {
        let (moves, rest): (Vec<&Change>, Vec<&Change>) =
            changes.iter().partition(|c| c.moved_from.is_some());
        let mut failures = self.singles(&moves, 1).await;
        if failures.is_empty() {
            failures = self.singles(&rest, self.concurrency).await;
        }
        if failures.len() <= 1 {
            let Some((c, e)) = failures.pop() else {
                return Ok(());
            };
            let what = describe(c);
            if may_have_applied(&e) {
                return Err(ApplyError::Unknown {
                    step: format!("{step} ({what})"),
                    readback: readback::changes(self.client(), std::slice::from_ref(c)).await,
                    error: e,
                    done: self.done.clone(),
                });
            }
            return Err(self.failed(&format!("{step} ({what})"), WriteError::Client(e)));
        }
        let mut reported = Vec::with_capacity(failures.len());
        for (c, e) in failures {
            let (applied, readback) = if may_have_applied(&e) {
                let r = readback::changes(self.client(), std::slice::from_ref(c)).await;
                (report::Applied::Unknown, Some(r))
            } else {
                (report::Applied::No, None)
            };
            reported.push(report::RequestFailure {
                what: describe(c),
                error: WriteError::Client(e),
                applied,
                readback,
            });
        }
        Err(ApplyError::Requests {
            step: step.to_owned(),
            failures: reported,
            others: Vec::new(),
            done: self.done.clone(),
        })
    }

    /// Sends `changes` as single-object requests, at most `concurrency` at once;
    /// after the first failure no new one starts. Records each one applied and
    /// returns every failure, in plan order.
    async fn singles<'c>(
        &mut self,
        changes: &[&'c Change],
        concurrency: usize,
    ) -> Vec<(&'c Change, ClientError)> {
        let halt = AtomicBool::new(false);
        let client = self.client().clone();
        let this = &*self;
        let results: Vec<(usize, Option<SingleResult>)> =
            futures::stream::iter(changes.iter().enumerate())
                .map(|(i, c)| {
                    let client = &client;
                    let halt = &halt;
                    async move {
                        if halt.load(Ordering::SeqCst) {
                            return (i, None);
                        }
                        let result = single(client, c, &|k| this.resolve(k)).await;
                        if result.is_err() {
                            halt.store(true, Ordering::SeqCst);
                        }
                        (i, Some(result))
                    }
                })
                .buffered(concurrency.max(1))
                .collect()
                .await;
        let mut failures = Vec::new();
        for (i, result) in results {
            match result {
                Some(Ok(id)) => self.record(changes[i], id.as_deref()),
                Some(Err(e)) => failures.push((changes[i], e)),
                None => {}
            }
        }
        failures
    }

    /// Sessions on removed connections (`--terminate-sessions`).
    async fn sessions(&mut self) -> Result<(), ApplyError> {
        let sessions = &self.plan.sessions;
        if sessions.is_empty() {
            return Ok(());
        }
        let ids: Vec<&str> = sessions.iter().map(|s| s.identifier.as_str()).collect();
        self.client()
            .patch_removals("activeConnections", &ids)
            .await
            .map_err(|e| self.failed("closing sessions", WriteError::Client(e)))?;
        self.done.sessions_closed += ids.len();
        Ok(())
    }
}

/// What one single-object request gives: the new object's identifier for an add.
type SingleResult = Result<Option<String>, ClientError>;

/// One change as a single-object request; the new object's identifier for an add.
async fn single(
    client: &Client,
    c: &Change,
    resolve: &dyn Fn(&ObjectKey) -> Option<String>,
) -> Result<Option<String>, ClientError> {
    let endpoint = c.kind().describe().endpoint;
    let body = || {
        c.body
            .as_ref()
            .ok_or_else(|| missing(&c.object))
            .and_then(|b| b.to_wire(resolve).map_err(|k| missing(&k)))
    };
    let id = || c.identifier.clone().unwrap_or_default();
    match c.action {
        Action::Add => client.create_object(endpoint, &body()?).await,
        Action::Change => client
            .update_object(endpoint, &id(), &body()?)
            .await
            .map(|()| None),
        Action::Remove => client.delete_object(endpoint, &id()).await.map(|()| None),
    }
}

/// A user's or user group's name (their identifier).
fn name_of(key: &ObjectKey) -> String {
    match key {
        ObjectKey::User { name } | ObjectKey::UserGroup { name } => name.clone(),
        other => other.path(),
    }
}

/// A change in words, for a rejected patch's line.
fn describe(c: &Change) -> String {
    let verb = match c.action {
        Action::Add => "adding",
        Action::Change => "changing",
        Action::Remove => "removing",
    };
    format!("{verb} {}", c.object)
}

/// A reference no earlier step answered (never from Guacamole).
fn missing(key: &ObjectKey) -> ClientError {
    ClientError::Decode {
        method: reqwest::Method::PATCH,
        path: String::new(),
        message: format!("no identifier for {key}"),
    }
}

/// A write whose failure does not say whether it was applied: a timeout or a
/// dropped connection after sending, a malformed or oversized answer, or a
/// proxy's 502, 503 or 504 (the request may have reached Guacamole before the
/// proxy gave up).
pub(crate) fn may_have_applied(e: &ClientError) -> bool {
    e.outcome_unknown()
        || matches!(
            e,
            ClientError::Api {
                status: 502..=504,
                kind: None,
                method,
                ..
            } | ClientError::TooLarge { method, .. } if *method != reqwest::Method::GET
        )
}

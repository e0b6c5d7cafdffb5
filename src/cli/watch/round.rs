//! One round of watch: check that the manifests (and the configuration) have
//! settled, pick up an edited configuration, read the manifests, plan, and with
//! `--apply` apply; and the line that reports it. A round never panics on bad
//! input or a failing server: its outcome says what happened.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde::Serialize;

use super::config::{ConfigWatch, Reload};
use super::{LogFormat, WatchCommand, settle};
use crate::apply;
use crate::cli::GlobalArgs;
use crate::cli::common::{self, Target};
use crate::guacamole::ClientError;

/// Change lines a round's log line carries at most; the rest are counted.
pub const CHANGE_LINES: usize = 20;

/// One line per round. Its fields are guacsync's own; `message` quotes error texts
/// that were cleaned of secrets where they were made (a server's message in
/// `ClientError`, a patch outcome in `apply`), and `changed` holds the plan's
/// change lines, which name objects and never show a value; so the line itself is
/// not rewritten and stays valid JSON.
#[derive(Debug, Serialize)]
pub struct RoundLog<'a> {
    pub timestamp: String,
    pub trigger: &'static str,
    pub outcome: &'static str,
    pub changes: usize,
    /// Removals waiting for a second round to plan them too (`--apply`).
    pub held_removals: usize,
    pub duration_ms: u128,
    pub message: &'a str,
    /// The plan's change lines (`+ connection ROOT/Prod/web-1 (ssh)  # file:line`),
    /// at most [`CHANGE_LINES`].
    pub changed: &'a [String],
    /// Change lines not shown.
    pub changed_more: usize,
    /// `reloaded` when an edited configuration was loaded this round,
    /// `kept-last-good` when an edit did not load.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config: Option<&'static str>,
}

/// Control characters (a newline in a name) written as escapes, so a text line
/// stays one line.
fn one_line(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_control() {
            let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
        } else {
            out.push(c);
        }
    }
    out
}

impl RoundLog<'_> {
    pub fn print(&self, format: LogFormat) {
        let line = match format {
            LogFormat::Json => serde_json::to_string(self).unwrap_or_default(),
            LogFormat::Text => {
                let mut line = format!(
                    "{} trigger={} outcome={} changes={} held_removals={} duration_ms={}",
                    self.timestamp,
                    self.trigger,
                    self.outcome,
                    self.changes,
                    self.held_removals,
                    self.duration_ms,
                );
                if let Some(config) = self.config {
                    let _ = write!(line, " config={config}");
                }
                let _ = write!(line, " {}", one_line(self.message));
                for change in self.changed {
                    let _ = write!(line, " | {}", one_line(change));
                }
                if self.changed_more > 0 {
                    let _ = write!(line, " | and {} more", self.changed_more);
                }
                line
            }
        };
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
    }
}

/// A login the server refused, as the ban extension sees it.
#[derive(Debug, Clone, Copy)]
pub enum Refusal {
    /// Refused by Guacamole (`requests` of them): counted by its ban extension.
    Counted { requests: u32 },
    /// 429: the address is banned already.
    Banned,
}

/// What a round did.
#[derive(Default)]
pub struct Round {
    pub outcome: &'static str,
    pub changes: usize,
    pub held: usize,
    pub message: String,
    pub changed: Vec<String>,
    pub changed_more: usize,
    /// The server failed: back off before the next try.
    pub server_failed: bool,
    /// The login was refused.
    pub refusal: Option<Refusal>,
    /// A login succeeded in this round.
    pub logged_in: bool,
    /// The kind of error met (see `health::ERROR_KINDS`).
    pub error: Option<&'static str>,
    /// A plan was made (its changes are the drift).
    pub planned: bool,
    pub apply_time: Option<Duration>,
    pub config: Option<&'static str>,
    /// Run the next round this soon (before the interval), with this trigger:
    /// files to settle, removals to confirm.
    pub next: Option<(Duration, &'static str)>,
}

/// What watch carries from round to round.
pub struct Rounds {
    pub settle: settle::Settle,
    pub pending: settle::PendingRemovals,
    pub config: ConfigWatch,
}

/// What a round works with.
pub struct Context<'a> {
    pub global: &'a GlobalArgs,
    pub args: &'a WatchCommand,
    pub shutdown: &'a AtomicBool,
    /// How long until a login may be tried (`login::LoginGuard`).
    pub login_wait: Duration,
}

fn failed(outcome: &'static str, error: &'static str, message: String) -> Round {
    Round {
        outcome,
        message,
        server_failed: matches!(error, "server" | "login"),
        error: Some(error),
        ..Round::default()
    }
}

/// A round for an error from the server: a refused login is told apart, since
/// logins are paced (`login.rs`).
fn server_error(e: &anyhow::Error) -> Round {
    let refused = e
        .chain()
        .find_map(|c| match c.downcast_ref::<ClientError>() {
            Some(ClientError::LoginRefused {
                status: 429, kind, ..
            }) if kind.is_some() => Some(Refusal::Banned),
            Some(ClientError::LoginRefused {
                kind: Some(_),
                requests,
                ..
            }) => Some(Refusal::Counted {
                requests: *requests,
            }),
            _ => None,
        });
    let text = crate::cli::error_text(e).replace('\n', "; ");
    match refused {
        Some(refusal) => Round {
            refusal: Some(refusal),
            ..failed("login-refused", "login", text)
        },
        None => failed("server-error", "server", text),
    }
}

/// A round that waits for the files to settle (nothing is read from the server).
fn settling(u: &settle::Unsettled) -> Round {
    let mut files = u
        .files
        .iter()
        .take(5)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if u.files.len() > 5 {
        let _ = write!(files, " and {} more", u.files.len() - 5);
    }
    let what = if files.is_empty() {
        String::new()
    } else {
        format!(" ({files} changed)")
    };
    Round {
        outcome: "settling",
        message: format!(
            "waiting for the manifests to stay unchanged for {}{what}; nothing was read from the server",
            humantime::format_duration(u.wait)
        ),
        next: Some((u.wait, "settle")),
        ..Round::default()
    }
}

/// Loads an edited configuration; says so on stderr and in the round.
async fn reload(cx: &Context<'_>, rounds: &mut Rounds, target: &mut Option<Target>) -> Reload {
    let reload = rounds.config.refresh();
    match &reload {
        Reload::Unchanged => {}
        Reload::Reloaded { path, reconnect } => {
            if !cx.global.quiet {
                eprintln!("note: configuration {path} changed; reloaded");
            }
            if *reconnect && let Some(old) = target.take() {
                old.close().await;
            }
        }
        Reload::Kept { error, new } => {
            if *new {
                eprintln!(
                    "error: {}; keeping the last good configuration",
                    error.trim_end()
                );
            }
        }
    }
    reload
}

/// One round: check that the manifests have settled, read them, plan, and (with
/// `--apply`) apply.
pub async fn round(cx: &Context<'_>, target: &mut Option<Target>, rounds: &mut Rounds) -> Round {
    let now = Instant::now();
    let paths = super::super::validate::paths_or_cwd(&cx.args.paths);
    // The configuration is input too: it must have settled before it is loaded.
    let watched: Vec<PathBuf> = paths.iter().cloned().chain(rounds.config.files()).collect();
    let before = settle::Snapshot::take(&watched);
    if let Err(u) = rounds.settle.observe(before.clone(), now) {
        rounds.pending.clear();
        return settling(&u);
    }
    let reloaded = reload(cx, rounds, target).await;
    // Boxed: the plan and apply futures are large (clippy::large_futures).
    let mut round = Box::pin(plan_and_apply(
        cx, target, rounds, &paths, &watched, &before,
    ))
    .await;
    match reloaded {
        Reload::Unchanged => {}
        Reload::Reloaded { path, .. } => {
            round.config = Some("reloaded");
            round.message = format!("configuration {path} reloaded; {}", round.message);
        }
        Reload::Kept { error, .. } => {
            round.config = Some("kept-last-good");
            let first = error.lines().next().unwrap_or_default().to_owned();
            round.message = format!(
                "the edited configuration does not load ({first}); the last good one was used; {}",
                round.message
            );
        }
    }
    round
}

async fn plan_and_apply(
    cx: &Context<'_>,
    target: &mut Option<Target>,
    rounds: &mut Rounds,
    paths: &[PathBuf],
    watched: &[PathBuf],
    before: &settle::Snapshot,
) -> Round {
    let now = Instant::now();
    let settings = rounds.config.settings().clone();
    let inputs = common::read_manifests(paths, &settings, cx.global.quiet, false);
    // A writer may have started while the files were read.
    let after = settle::Snapshot::take(watched);
    if after != *before {
        rounds.pending.clear();
        return settling(&rounds.settle.restart(after, Instant::now()));
    }
    let Some(inputs) = inputs else {
        rounds.pending.clear();
        return failed(
            "invalid-manifests",
            "manifests",
            "the manifests have errors (see above); nothing was changed".to_owned(),
        );
    };
    let mut logged_in = false;
    if target.is_none() {
        if !cx.login_wait.is_zero() {
            rounds.pending.clear();
            return Round {
                refusal: None,
                ..failed(
                    "login-refused",
                    "login",
                    format!(
                        "not logging in for another {} (see the earlier refusals)",
                        humantime::format_duration(Duration::from_secs(cx.login_wait.as_secs()))
                    ),
                )
            };
        }
        match common::connect(cx.global, &settings).await {
            Ok(t) => {
                *target = Some(t);
                logged_in = true;
            }
            Err(e) => {
                rounds.pending.clear();
                return server_error(&e);
            }
        }
    }
    let mut round = plan_round(cx, target, rounds, &inputs, &settings, now).await;
    round.logged_in = logged_in;
    round
}

/// Plans (and with `--apply` applies) with a session.
async fn plan_round(
    cx: &Context<'_>,
    target: &mut Option<Target>,
    rounds: &mut Rounds,
    inputs: &common::Inputs,
    settings: &crate::config::Settings,
    now: Instant,
) -> Round {
    let Some(t) = target.as_ref() else {
        return failed("server-error", "server", "not connected".to_owned());
    };
    // With --apply, only removals the previous round planned too may be applied.
    let period = rounds.settle.period();
    let mut plan_settings = settings.clone();
    if cx.args.apply {
        plan_settings.options.confirmed_removals = Some(rounds.pending.confirmed(now, period));
    }
    let made = match common::make_plan(t, inputs, &plan_settings, false).await {
        Ok(made) => made,
        Err(e) => {
            rounds.pending.clear();
            // Reconnect next time: the server may have restarted.
            if let Some(old) = target.take() {
                old.close().await;
            }
            return server_error(&e);
        }
    };
    let Some((plan, _)) = made else {
        rounds.pending.clear();
        return failed(
            "plan-error",
            "plan",
            "no plan could be made (see above); nothing was changed".to_owned(),
        );
    };
    let removals = plan.held_removals.iter().chain(
        plan.changes
            .iter()
            .filter(|c| c.action == crate::plan::Action::Remove)
            .map(|c| &c.object),
    );
    let confirm_in = rounds.pending.planned(removals, now, period);
    let held = plan.held_removals.len();
    let mut round = decide(cx, &plan);
    if round.outcome == "apply" {
        let started = Instant::now();
        round = apply_round(
            &plan,
            settings.concurrency,
            target,
            round.changes,
            &round.message,
        )
        .await;
        round.apply_time = Some(started.elapsed());
    }
    (round.changed, round.changed_more) = crate::plan::change_lines(&plan, CHANGE_LINES);
    round.planned = true;
    if held > 0 {
        hold(&mut round, &plan.held_removals, period, confirm_in);
    }
    round
}

/// Says in `round` which removals wait for confirmation, and when the round that
/// can confirm them runs.
fn hold(
    round: &mut Round,
    held_removals: &[crate::kinds::ObjectKey],
    period: Duration,
    confirm_in: Option<Duration>,
) {
    let held = held_removals.len();
    let what = if held_removals
        .iter()
        .all(|k| k.kind() == crate::kinds::Kind::Connection)
    {
        "connection(s)"
    } else {
        "object(s)"
    };
    let mut names = held_removals
        .iter()
        .take(5)
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    if held > 5 {
        let _ = write!(names, " and {} more", held - 5);
    }
    let _ = write!(
        round.message,
        "; holding the removal of {held} {what} until a round at least {} later plans it too: {names}",
        humantime::format_duration(period)
    );
    round.held = held;
    round.next = Some((confirm_in.unwrap_or(period), "confirm"));
}

/// What a planned round does before any request: nothing to do, drift only, stop,
/// or apply (outcome `apply`, with its counts as the message).
fn decide(cx: &Context<'_>, plan: &crate::plan::Plan) -> Round {
    let s = &plan.summary;
    let changes = s.add
        + s.change
        + s.remove
        + s.groups
        + s.principals
        + s.grants
        + s.revokes
        + s.sessions_closed
        + s.groups_moved
        + s.groups_removed;
    let counts = format!(
        "{} to add, {} to change, {} to remove, {} groups, {} grants, {} revokes",
        s.add, s.change, s.remove, s.groups, s.grants, s.revokes
    );
    let (outcome, changes, message) = if plan.is_empty() && plan.held_removals.is_empty() {
        ("in-sync", 0, "no changes".to_owned())
    } else if plan.is_empty() {
        ("removal-held", 0, "nothing else to change".to_owned())
    } else if !cx.args.apply {
        (
            "drift",
            changes,
            format!("{counts} (not applied: run with --apply)"),
        )
    } else if cx.shutdown.load(Ordering::SeqCst) {
        (
            "stopped",
            changes,
            format!("{counts}; not applied: shutting down"),
        )
    } else {
        ("apply", changes, counts)
    };
    Round {
        outcome,
        changes,
        message,
        ..Round::default()
    }
}

/// The apply part of a round; a failed request drops the connection so the next
/// round reconnects.
async fn apply_round(
    plan: &crate::plan::Plan,
    concurrency: usize,
    target: &mut Option<Target>,
    changes: usize,
    counts: &str,
) -> Round {
    let Some(t) = target.as_ref() else {
        return failed("server-error", "server", "not connected".to_owned());
    };
    let applied = apply::apply(plan, &t.client, concurrency).await;
    if let Err(e) = t.save_state() {
        return Round {
            changes,
            ..failed(
                "apply-failed",
                "apply",
                format!("cannot write the state file: {e:#}"),
            )
        };
    }
    match applied {
        Ok(report) => Round {
            outcome: "applied",
            changes,
            message: format!("{counts}; {report}"),
            ..Round::default()
        },
        Err(e) => {
            let server_failed = e.server_failed();
            let message = e.to_string().replace('\n', "; ");
            if server_failed && let Some(old) = target.take() {
                old.close().await;
            }
            Round {
                outcome: "apply-failed",
                changes,
                message,
                server_failed,
                error: Some("apply"),
                ..Round::default()
            }
        }
    }
}

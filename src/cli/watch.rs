//! `guacsync watch`: a reconciler beside the server. It re-plans when a manifest
//! changes (file events, debounced so an editor's save-rename dance counts once)
//! and every `--interval` (to catch drift made in the web UI); with `--apply` it
//! applies. A round uses the manifests only once they have settled, and applies a
//! removal only when two consecutive rounds plan it (`settle`). Bad manifests
//! change nothing; a failing server is retried with exponential backoff;
//! SIGINT/SIGTERM end it after the round in flight.

mod settle;

use std::fmt::Write as _;
use std::fs::File;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context as _, anyhow};
use clap::{Args, ValueEnum};
use notify::RecursiveMode;
use notify_debouncer_full::{DebounceEventResult, new_debouncer};
use serde::Serialize;
use tokio::sync::mpsc;

use super::GlobalArgs;
use super::common::{self, PlanArgs, Target};
use crate::apply;
use crate::config::Settings;

#[derive(Debug, Clone, Copy, ValueEnum, Default, PartialEq, Eq)]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

fn parse_settle(s: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(s).map_err(|e| e.to_string())?;
    if d > Duration::from_secs(3600) {
        return Err("the settle period must be at most 1h".to_owned());
    }
    Ok(d)
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(s).map_err(|e| e.to_string())?;
    if d < Duration::from_millis(100) {
        return Err("the interval must be at least 100ms".to_owned());
    }
    Ok(d)
}

#[derive(Debug, Args)]
pub struct WatchCommand {
    /// Manifest files or directories (default: the current directory).
    pub paths: Vec<PathBuf>,
    /// How often to re-check the server for drift (e.g. 30s, 5m, 1h).
    #[arg(long, default_value = "5m", value_parser = parse_duration)]
    pub interval: Duration,
    /// How long every manifest must stay unchanged (size, modification time and
    /// content) before a round uses them; with `--apply`, also the least time
    /// between the two rounds that must both plan a removal (0 turns the wait off,
    /// not the confirmation).
    #[arg(long, default_value = "2s", value_parser = parse_settle)]
    pub settle: Duration,
    /// Apply the changes (without it, only report drift).
    #[arg(long)]
    pub apply: bool,
    #[arg(long, value_enum, default_value_t)]
    pub log_format: LogFormat,
    #[command(flatten)]
    pub plan: PlanArgs,
    #[command(flatten)]
    pub server: super::ServerArgs,
}

/// One line per round. Its fields are guacsync's own; `message` quotes error texts
/// that were cleaned of secrets where they were made (a server's message in
/// `ClientError`, a patch outcome in `apply`), so the line itself is not rewritten
/// and stays valid JSON.
#[derive(Debug, Serialize)]
struct RoundLog {
    timestamp: String,
    trigger: &'static str,
    outcome: &'static str,
    changes: usize,
    /// Removals waiting for a second round to plan them too (`--apply`).
    held_removals: usize,
    duration_ms: u128,
    message: String,
}

impl RoundLog {
    fn print(&self, format: LogFormat) {
        let line = match format {
            LogFormat::Json => serde_json::to_string(self).unwrap_or_default(),
            LogFormat::Text => format!(
                "{} trigger={} outcome={} changes={} held_removals={} duration_ms={} {}",
                self.timestamp,
                self.trigger,
                self.outcome,
                self.changes,
                self.held_removals,
                self.duration_ms,
                self.message
            ),
        };
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
    }
}

/// The exclusive lock that keeps a second watcher off the same manifests. Held
/// for the process's life (the OS releases it if the process dies).
struct Lock {
    _file: File,
    path: PathBuf,
}

impl Drop for Lock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

fn lock_dir(paths: &[PathBuf]) -> PathBuf {
    let first = paths.first().cloned().unwrap_or_else(|| PathBuf::from("."));
    if first.is_dir() {
        first
    } else {
        first
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
    }
}

fn take_lock(dir: &Path) -> anyhow::Result<Lock> {
    let path = dir.join(".guacsync-watch.lock");
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(&path)
        .with_context(|| format!("cannot create the lock file {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            let holder = std::fs::read_to_string(&path).unwrap_or_default();
            return Err(anyhow!(
                "another guacsync watch is running on {} (lock file {}, {})",
                dir.display(),
                path.display(),
                holder.trim()
            ));
        }
        Err(std::fs::TryLockError::Error(e)) => {
            return Err(anyhow!("cannot lock {}: {e}", path.display()));
        }
    }
    file.set_len(0)?;
    writeln!(file, "pid {}", std::process::id())?;
    Ok(Lock { _file: file, path })
}

/// Whether a file event concerns the manifests: not the lock file, editor swap and
/// backup files or other hidden files. (Only the file name is looked at: the
/// directories above the manifests may well be hidden.)
fn relevant(path: &Path) -> bool {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    !name.starts_with('.')
        && !name.ends_with('~')
        && (crate::manifest::Format::from_path(path).is_some() || path.extension().is_none())
}

enum Wake {
    Change,
    Interval,
    Shutdown,
}

/// What a round did.
#[derive(Default)]
struct Round {
    outcome: &'static str,
    changes: usize,
    held: usize,
    message: String,
    /// The server failed: back off before the next try.
    server_failed: bool,
    /// Run the next round this soon (before the interval), with this trigger:
    /// files to settle, removals to confirm.
    next: Option<(Duration, &'static str)>,
}

/// What watch carries from round to round.
struct Rounds {
    settle: settle::Settle,
    pending: settle::PendingRemovals,
}

type Debouncer = notify_debouncer_full::Debouncer<
    notify::RecommendedWatcher,
    notify_debouncer_full::RecommendedCache,
>;

/// Watches the manifests; each burst of relevant changes sends one `()`.
fn watch_paths(paths: &[PathBuf], tx: mpsc::UnboundedSender<()>) -> anyhow::Result<Debouncer> {
    let mut debouncer = new_debouncer(
        Duration::from_millis(400),
        None,
        move |result: DebounceEventResult| {
            if let Ok(events) = result {
                // Reading the manifests (every round does) raises access events: only
                // creations, writes, renames and removals count.
                let changed = events.iter().filter(|e| {
                    !matches!(
                        e.kind,
                        notify::EventKind::Access(_) | notify::EventKind::Other
                    )
                });
                if changed
                    .into_iter()
                    .any(|e| e.paths.iter().any(|p| relevant(p)))
                {
                    let _ = tx.send(());
                }
            }
        },
    )
    .context("cannot watch the manifests")?;
    for path in paths {
        // A single file is watched through its directory: editors replace files by
        // renaming, which a watch on the file itself would lose.
        let (target, mode) = if path.is_dir() {
            (path.clone(), RecursiveMode::Recursive)
        } else {
            (
                lock_dir(std::slice::from_ref(path)),
                RecursiveMode::NonRecursive,
            )
        };
        debouncer
            .watch(&target, mode)
            .with_context(|| format!("cannot watch {}", target.display()))?;
    }
    Ok(debouncer)
}

/// On SIGINT or SIGTERM: set `shutdown` (the round in flight finishes) and wake
/// the loop if it is waiting.
fn on_signal(shutdown: Arc<AtomicBool>, stop: Arc<tokio::sync::Notify>) -> anyhow::Result<()> {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::spawn(async move {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        shutdown.store(true, Ordering::SeqCst);
        stop.notify_one();
    });
    Ok(())
}

pub async fn run(global: &GlobalArgs, args: &WatchCommand) -> anyhow::Result<ExitCode> {
    let settings = common::settings(global, &args.plan)?;
    let paths = super::validate::paths_or_cwd(&args.paths);
    let _lock = take_lock(&lock_dir(&paths))?;

    let (tx, mut events) = mpsc::unbounded_channel::<()>();
    let debouncer = watch_paths(&paths, tx)?;
    let shutdown = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(tokio::sync::Notify::new());
    on_signal(Arc::clone(&shutdown), Arc::clone(&stop))?;

    let mut target: Option<Target> = None;
    let mut trigger = "start";
    let mut backoff = Duration::from_secs(1);
    let mut rounds = Rounds {
        settle: settle::Settle::new(args.settle),
        pending: settle::PendingRemovals::default(),
    };
    loop {
        let started = Instant::now();
        let round = round(global, args, &settings, &mut target, &shutdown, &mut rounds).await;
        RoundLog {
            timestamp: humantime::format_rfc3339_seconds(SystemTime::now()).to_string(),
            trigger,
            outcome: round.outcome,
            changes: round.changes,
            held_removals: round.held,
            duration_ms: started.elapsed().as_millis(),
            message: round.message,
        }
        .print(args.log_format);
        if shutdown.load(Ordering::SeqCst) {
            break;
        }
        let (wait, timed) = if round.server_failed {
            let w = backoff;
            backoff = (backoff * 2).min(Duration::from_secs(300));
            (w, "retry")
        } else {
            backoff = Duration::from_secs(1);
            match round.next {
                Some((soon, why)) if soon < args.interval => (soon, why),
                _ => (args.interval, "interval"),
            }
        };
        let wake = tokio::select! {
            Some(()) = events.recv() => Wake::Change,
            () = tokio::time::sleep(wait) => Wake::Interval,
            () = stop.notified() => Wake::Shutdown,
        };
        // Coalesce events that arrived together.
        while events.try_recv().is_ok() {}
        trigger = match wake {
            Wake::Change => "change",
            Wake::Interval => timed,
            Wake::Shutdown => break,
        };
    }
    if let Some(t) = target.take() {
        t.close().await;
    }
    drop(debouncer);
    Ok(ExitCode::SUCCESS)
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

/// One round: check that the manifests have settled, read them, plan, and (with
/// `--apply`) apply. Never panics on bad input or a failing server: the outcome
/// says what happened.
async fn round(
    global: &GlobalArgs,
    args: &WatchCommand,
    settings: &Settings,
    target: &mut Option<Target>,
    shutdown: &AtomicBool,
    rounds: &mut Rounds,
) -> Round {
    let failed = |outcome: &'static str, message: String, server_failed: bool| Round {
        outcome,
        message,
        server_failed,
        ..Round::default()
    };
    let now = Instant::now();
    let paths = super::validate::paths_or_cwd(&args.paths);
    let before = settle::Snapshot::take(&paths);
    if let Err(u) = rounds.settle.observe(before.clone(), now) {
        rounds.pending.clear();
        return settling(&u);
    }
    let inputs = common::read_manifests(&args.paths, settings, global.quiet, false);
    // A writer may have started while the files were read.
    let after = settle::Snapshot::take(&paths);
    if after != before {
        rounds.pending.clear();
        return settling(&rounds.settle.restart(after, Instant::now()));
    }
    let Some(inputs) = inputs else {
        rounds.pending.clear();
        return failed(
            "invalid-manifests",
            "the manifests have errors (see above); nothing was changed".to_owned(),
            false,
        );
    };
    if target.is_none() {
        match common::connect(global, settings).await {
            Ok(t) => *target = Some(t),
            Err(e) => {
                rounds.pending.clear();
                return failed("server-error", format!("{e:#}"), true);
            }
        }
    }
    let Some(t) = target.as_ref() else {
        return failed("server-error", "not connected".to_owned(), true);
    };
    // With --apply, only removals the previous round planned too may be applied.
    let period = rounds.settle.period();
    let gated;
    let plan_settings = if args.apply {
        let mut s = settings.clone();
        s.options.confirmed_removals = Some(rounds.pending.confirmed(now, period));
        gated = s;
        &gated
    } else {
        settings
    };
    let made = match common::make_plan(t, &inputs, plan_settings, false).await {
        Ok(made) => made,
        Err(e) => {
            rounds.pending.clear();
            // Reconnect next time: the server may have restarted.
            if let Some(old) = target.take() {
                old.close().await;
            }
            return failed("server-error", format!("{e:#}"), true);
        }
    };
    let Some((plan, _)) = made else {
        rounds.pending.clear();
        return failed(
            "plan-error",
            "no plan could be made (see above); nothing was changed".to_owned(),
            false,
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
    let mut round = plan_round(args, &plan, shutdown);
    if round.outcome == "apply" {
        round = apply_round(
            &plan,
            settings.concurrency,
            target,
            round.changes,
            &round.message,
        )
        .await;
    }
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
fn plan_round(args: &WatchCommand, plan: &crate::plan::Plan, shutdown: &AtomicBool) -> Round {
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
    } else if !args.apply {
        (
            "drift",
            changes,
            format!("{counts} (not applied: run with --apply)"),
        )
    } else if shutdown.load(Ordering::SeqCst) {
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
        return Round {
            outcome: "server-error",
            message: "not connected".to_owned(),
            server_failed: true,
            ..Round::default()
        };
    };
    let failed = |outcome: &'static str, message: String, server_failed: bool| Round {
        outcome,
        message,
        server_failed,
        ..Round::default()
    };
    let applied = apply::apply(plan, &t.client, concurrency).await;
    if let Err(e) = t.save_state() {
        return failed(
            "apply-failed",
            format!("cannot write the state file: {e:#}"),
            false,
        );
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
                ..Round::default()
            }
        }
    }
}

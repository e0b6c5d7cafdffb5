//! `guacsync watch`: a reconciler beside the server. It re-plans when a manifest or
//! the configuration changes (file events, debounced so an editor's save-rename
//! dance counts once, and followed through re-pointed symlinks: `files`) and every
//! `--interval` (to catch drift made in the web UI); with `--apply` it applies. A
//! round uses the input only once it has settled, and applies a removal only when
//! two consecutive rounds plan it (`settle`); an edited `guacsync.toml` is loaded
//! by the next round, a broken one kept out (`config`). Bad manifests change
//! nothing; a failing server is retried with exponential backoff, a refused login
//! at a pace that never gets the address banned (`login`); each round logs one
//! line naming what changed (`round`), and `--health-addr` serves its state
//! (`health`). SIGINT/SIGTERM end it after the round in flight.

mod config;
mod files;
mod health;
mod lock;
mod login;
mod round;
mod settle;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

use clap::{Args, ValueEnum};
use tokio::sync::mpsc;

use super::GlobalArgs;
use super::common::{self, PlanArgs, Target};

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

fn parse_ban_duration(s: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(s).map_err(|e| e.to_string())?;
    if d < Duration::from_secs(1) {
        return Err("the ban duration must be at least 1s".to_owned());
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
    /// Serve `GET /healthz` (200 while the last round succeeded, else 503) and
    /// Prometheus `GET /metrics` on this address (e.g. 0.0.0.0:9090; port 0 picks
    /// one, printed on stderr).
    #[arg(long, value_name = "ADDR")]
    pub health_addr: Option<SocketAddr>,
    /// The server's `ban-max-invalid-attempts` (guacamole-auth-ban; 0 if banning
    /// is off): after refused logins, watch makes at most one less in any ban
    /// duration, so a wrong password never gets this address banned.
    #[arg(long, value_name = "N", default_value_t = 5)]
    pub ban_max_invalid_attempts: u32,
    /// The server's `ban-address-duration` (guacamole-auth-ban), e.g. 5m.
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = parse_ban_duration)]
    pub ban_address_duration: Duration,
    #[command(flatten)]
    pub plan: PlanArgs,
    #[command(flatten)]
    pub server: super::ServerArgs,
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

/// How the loop was woken.
enum Wake {
    Change,
    Timer,
    Shutdown,
}

/// What the loop keeps between rounds besides the rounds' own state.
struct Pacing {
    /// Today's backoff for a failing server: 1 s doubling to 5 min.
    backoff: Duration,
    guard: login::LoginGuard,
}

impl Pacing {
    /// How long to wait after `round`, and the trigger of the round that follows
    /// the wait; a note for the log line of a failure.
    fn next(
        &mut self,
        round: &round::Round,
        interval: Duration,
    ) -> (Duration, &'static str, String) {
        let now = Instant::now();
        match round.refusal {
            Some(round::Refusal::Counted { requests }) => self.guard.refused(requests, now),
            Some(round::Refusal::Banned) => self.guard.banned(now),
            None if round.logged_in => self.guard.succeeded(),
            None => {}
        }
        if round.error == Some("login") {
            // Never a busy loop, whatever the guard says.
            let wait = self.guard.wait(now).max(Duration::from_millis(100));
            let why = match round.refusal {
                Some(round::Refusal::Banned) => format!(
                    "; the server refuses logins from this address (too many failed logins, Guacamole's auth-ban extension; other clients at this address count too): next login in {}",
                    shown(wait)
                ),
                _ if self.guard.slowed() => format!(
                    "; {} refused logins in a row: one login every {} from now on, so that Guacamole's auth-ban extension never bans this address; fix the credentials (GUACAMOLE_USERNAME, GUACAMOLE_PASSWORD)",
                    self.guard.in_a_row(),
                    shown(self.guard.slow())
                ),
                _ => format!("; next login in {}", shown(wait)),
            };
            return (wait, "retry", why);
        }
        if round.server_failed {
            // The guard still holds back a login that could be banned.
            let wait = self.backoff.max(self.guard.wait(now));
            self.backoff = (self.backoff * 2).min(Duration::from_secs(300));
            return (wait, "retry", format!("; next try in {}", shown(wait)));
        }
        self.backoff = Duration::from_secs(1);
        match round.next {
            Some((soon, why)) if soon < interval => (soon, why, String::new()),
            _ => (interval, "interval", String::new()),
        }
    }
}

/// Where the events that wake the loop come from.
struct Inputs<'a> {
    events: &'a mut mpsc::UnboundedReceiver<Vec<PathBuf>>,
    files: &'a mut files::FileWatch,
    paths: &'a [PathBuf],
    config: &'a config::ConfigWatch,
}

impl Inputs<'_> {
    /// Events touched these paths: if they matter, move the watches to where
    /// the paths lead now (a re-pointed symlink) and say so.
    fn touched(&mut self, touched: &[PathBuf]) -> bool {
        if !self.files.relevant(touched) {
            return false;
        }
        for problem in self.files.refresh(self.paths, &self.config.files()) {
            eprintln!("warning: {problem}; trying again after the next event or round");
        }
        true
    }

    /// Waits `wait`, or less for a change of the input, but at least
    /// `login_hold` (the next round must log in, and the guard holds logins back);
    /// or until a signal.
    async fn wait(
        &mut self,
        wait: Duration,
        login_hold: Duration,
        stop: &tokio::sync::Notify,
    ) -> Wake {
        let start = tokio::time::Instant::now();
        let hold = start + login_hold;
        let mut deadline = start + wait.max(login_hold);
        let mut changed = false;
        let wake = loop {
            tokio::select! {
                Some(touched) = self.events.recv() => {
                    if !self.touched(&touched) {
                        continue;
                    }
                    changed = true;
                    if tokio::time::Instant::now() >= hold {
                        break Wake::Change;
                    }
                    deadline = deadline.min(hold);
                }
                () = tokio::time::sleep_until(deadline) => {
                    break if changed { Wake::Change } else { Wake::Timer };
                }
                () = stop.notified() => break Wake::Shutdown,
            }
        };
        // Coalesce events that arrived together.
        while let Ok(touched) = self.events.try_recv() {
            self.touched(&touched);
        }
        wake
    }
}

/// A wait as the log shows it (whole milliseconds).
fn shown(d: Duration) -> String {
    humantime::format_duration(Duration::from_millis(
        u64::try_from(d.as_millis()).unwrap_or(u64::MAX),
    ))
    .to_string()
}

pub async fn run(global: &GlobalArgs, args: &WatchCommand) -> anyhow::Result<ExitCode> {
    let settings = common::settings(global, &args.plan)?;
    let paths = super::validate::paths_or_cwd(&args.paths);
    let _lock = lock::take_lock(&lock::lock_dir(&paths))?;
    let mut rounds = round::Rounds {
        settle: settle::Settle::new(args.settle),
        pending: settle::PendingRemovals::default(),
        config: config::ConfigWatch::new(common::overrides(global, &args.plan), settings),
    };

    let (tx, mut events) = mpsc::unbounded_channel::<Vec<PathBuf>>();
    let mut files = files::FileWatch::start(&paths, &rounds.config.files(), tx)?;
    let health = Arc::new(health::Health::new());
    let server = match args.health_addr {
        Some(addr) => {
            let (bound, task) = health::serve(addr, Arc::clone(&health)).await?;
            if !global.quiet {
                eprintln!("note: serving /healthz and /metrics on http://{bound}");
            }
            Some(task)
        }
        None => None,
    };
    let shutdown = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(tokio::sync::Notify::new());
    on_signal(Arc::clone(&shutdown), Arc::clone(&stop))?;

    let mut target: Option<Target> = None;
    let mut trigger = "start";
    let mut pacing = Pacing {
        backoff: Duration::from_secs(1),
        guard: login::LoginGuard::new(login::BanPolicy {
            max_attempts: args.ban_max_invalid_attempts,
            duration: args.ban_address_duration,
        }),
    };
    loop {
        let started = Instant::now();
        let cx = round::Context {
            global,
            args,
            shutdown: &shutdown,
            login_wait: pacing.guard.wait(started),
        };
        let mut round = round::round(&cx, &mut target, &mut rounds).await;
        let (wait, timed, note) = pacing.next(&round, args.interval);
        round.message.push_str(&note);
        // The health state first: whoever reads the line then finds it there.
        health.record(&health::Report {
            outcome: round.outcome,
            message: &round.message,
            changes: round.planned.then_some(round.changes),
            error: round.error,
            config_error: round.config == Some("kept-last-good"),
            apply_time: round.apply_time,
        });
        round::RoundLog {
            timestamp: humantime::format_rfc3339_seconds(SystemTime::now()).to_string(),
            trigger,
            outcome: round.outcome,
            changes: round.changes,
            held_removals: round.held,
            duration_ms: started.elapsed().as_millis(),
            message: &round.message,
            changed: &round.changed,
            changed_more: round.changed_more,
            config: round.config,
        }
        .print(args.log_format);
        if shutdown.load(Ordering::SeqCst) {
            break;
        }
        for problem in files.refresh(&paths, &rounds.config.files()) {
            eprintln!("warning: {problem}; trying again after the next event or round");
        }
        // A change wakes the loop early, but never into a login the guard holds
        // back: it then runs when the guard allows.
        let login_hold = if target.is_none() {
            pacing.guard.wait(Instant::now())
        } else {
            Duration::ZERO
        };
        let mut inputs = Inputs {
            events: &mut events,
            files: &mut files,
            paths: &paths,
            config: &rounds.config,
        };
        let wake = inputs.wait(wait, login_hold, &stop).await;
        trigger = match wake {
            Wake::Change => "change",
            Wake::Timer => timed,
            Wake::Shutdown => break,
        };
    }
    if let Some(t) = target.take() {
        t.close().await;
    }
    if let Some(task) = server {
        task.abort();
    }
    drop(files);
    Ok(ExitCode::SUCCESS)
}

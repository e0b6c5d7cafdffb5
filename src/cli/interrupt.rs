//! Ending a run early without leaving an administrator's token alive. Every
//! session guacsync logs in is registered here until it is released; whatever
//! ends the run (SIGINT, SIGTERM, an error, a panic) releases the registered ones
//! with `DELETE /api/tokens/{t}` before the process exits. Otherwise an
//! interrupted CI job leaves a token that keeps answering until the server's
//! session timeout (60 minutes by default).
//!
//! A signal stops `plan`, `sync` and `export` at once, except inside a *critical
//! section*: a login (its token must be known to be released) and an apply (a
//! write in flight is finished, as `watch` does, so that the server ends in the
//! state the plan described and the report says so; cutting it short would leave
//! connections without their READ grants and an outcome nobody can state). The
//! run stops as soon as the section ends; a second signal stops it at once.
//! Exit codes are the shell's: 130 for SIGINT, 143 for SIGTERM.

use std::future::Future;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::Notify;

use crate::guacamole::Client;

/// How long releasing the tokens may take when the run is being cut short: the
/// user asked to stop, so a dead server must not hold the process for the whole
/// request timeout.
const RELEASE_TIMEOUT: Duration = Duration::from_secs(5);

/// Sessions logged in and not yet released, by registration number.
static LIVE: Mutex<Vec<(u64, Client)>> = Mutex::new(Vec::new());
static NEXT_ID: AtomicU64 = AtomicU64::new(1);
/// Critical sections in progress.
static CRITICAL: AtomicUsize = AtomicUsize::new(0);
/// A critical section ended (wakes a deferred signal).
static SECTION_ENDED: Notify = Notify::const_new();
/// The run was stopped by a second signal inside a critical section.
static CUT_SHORT: AtomicBool = AtomicBool::new(false);
/// A writing critical section was entered.
static WROTE: AtomicBool = AtomicBool::new(false);
/// A signal arrived inside a critical section (1 SIGINT, 2 SIGTERM; 0 none).
static DEFERRED: AtomicU8 = AtomicU8::new(0);

/// Registers a session that must be released at exit.
pub fn register(client: &Client) -> u64 {
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    LIVE.lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push((id, client.clone()));
    id
}

/// Forgets a session released by its owner.
pub fn unregister(id: u64) {
    LIVE.lock()
        .unwrap_or_else(PoisonError::into_inner)
        .retain(|(i, _)| *i != id);
}

/// Releases every registered session (each at most `RELEASE_TIMEOUT`).
pub async fn release_all() {
    let live: Vec<(u64, Client)> =
        std::mem::take(&mut *LIVE.lock().unwrap_or_else(PoisonError::into_inner));
    for (_, client) in live {
        if tokio::time::timeout(RELEASE_TIMEOUT, client.logout())
            .await
            .is_err()
        {
            eprintln!(
                "warning: the session token could not be released within {} s; it ends at the server's session timeout",
                RELEASE_TIMEOUT.as_secs()
            );
        }
    }
}

/// A section a signal does not cut short (see the module comment). Held while it
/// lives.
#[must_use = "the section ends when this is dropped"]
pub struct Critical(());

/// Starts a critical section that writes nothing (a login).
pub fn critical() -> Critical {
    CRITICAL.fetch_add(1, Ordering::SeqCst);
    Critical(())
}

/// Starts a critical section that writes to the server (an apply).
pub fn writing() -> Critical {
    WROTE.store(true, Ordering::SeqCst);
    critical()
}

/// Where a command may be stopped: when a signal arrived during a critical
/// section that has just ended, this never returns, so the command sends
/// nothing more and the runner stops it.
pub async fn checkpoint() {
    if DEFERRED.load(Ordering::SeqCst) != 0 && CRITICAL.load(Ordering::SeqCst) == 0 {
        std::future::pending::<()>().await;
    }
}

/// How a run stopped by a deferred signal ended, in words.
fn after_section() -> &'static str {
    if WROTE.load(Ordering::SeqCst) {
        "after the apply in flight finished (see above for what it did)"
    } else {
        "after the request in flight finished; nothing was changed on the server"
    }
}

impl Drop for Critical {
    fn drop(&mut self) {
        CRITICAL.fetch_sub(1, Ordering::SeqCst);
        SECTION_ENDED.notify_waiters();
    }
}

/// A signal that ends the run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    Interrupt,
    Terminate,
}

impl Stop {
    fn name(self) -> &'static str {
        match self {
            Self::Interrupt => "SIGINT",
            Self::Terminate => "SIGTERM",
        }
    }

    /// 128 + the signal number, as a shell reports a process a signal ended.
    fn code(self) -> u8 {
        match self {
            Self::Interrupt => 130,
            Self::Terminate => 143,
        }
    }
}

/// SIGINT and SIGTERM, caught from the moment this exists.
struct Signals {
    int: tokio::signal::unix::Signal,
    term: tokio::signal::unix::Signal,
}

impl Signals {
    /// Installs the handlers (inside a runtime context).
    fn install() -> std::io::Result<Self> {
        Ok(Self {
            int: signal(SignalKind::interrupt())?,
            term: signal(SignalKind::terminate())?,
        })
    }
}

/// Resolves when the run must stop: at a signal outside a critical section, when
/// the section a signal arrived in ends, or at a second signal.
async fn stop_requested(signals: Signals) -> Stop {
    let Signals { mut int, mut term } = signals;
    let mut deferred: Option<Stop> = None;
    loop {
        let ended = SECTION_ENDED.notified();
        tokio::pin!(ended);
        // Registered before the counter is read, so an end in between still wakes us.
        ended.as_mut().enable();
        if let Some(stop) = deferred
            && CRITICAL.load(Ordering::SeqCst) == 0
        {
            return stop;
        }
        let got = tokio::select! {
            _ = int.recv() => Stop::Interrupt,
            _ = term.recv() => Stop::Terminate,
            () = ended => continue,
        };
        if CRITICAL.load(Ordering::SeqCst) == 0 {
            return got;
        }
        if deferred.is_some() {
            CUT_SHORT.store(true, Ordering::SeqCst);
            return got;
        }
        deferred = Some(got);
        DEFERRED.store(
            match got {
                Stop::Interrupt => 1,
                Stop::Terminate => 2,
            },
            Ordering::SeqCst,
        );
        let what = if WROTE.load(Ordering::SeqCst) {
            "finishing the apply in flight"
        } else {
            "waiting for the login's answer, to release its token"
        };
        eprintln!(
            "{}: {what}, then stopping (send it again to stop at once)",
            got.name()
        );
    }
}

/// The text of a panic's payload.
fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".to_owned())
}

/// Reports panics as an internal error, with known secrets replaced (a panic
/// message can quote a value).
fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let at = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        eprintln!(
            "error: internal error{at}: {}; this is a bug in guacsync, please report it",
            crate::secret::redact(&panic_text(info.payload()))
        );
    }));
}

/// Runs a command to its end on `rt`, then releases whatever session it left
/// registered. With `signals`, SIGINT and SIGTERM stop it as the module comment
/// says (exit 130 / 143); a panic exits 101. Either way the tokens are released.
pub fn run<F>(rt: &tokio::runtime::Runtime, command: F, signals: bool) -> anyhow::Result<ExitCode>
where
    F: Future<Output = anyhow::Result<ExitCode>>,
{
    let previous_hook = std::panic::take_hook();
    install_panic_hook();
    // Caught before the command starts: a signal at any later moment is ours.
    let handlers = if signals {
        let _context = rt.enter();
        Some(Signals::install().map_err(|e| anyhow::anyhow!("cannot handle signals: {e}"))?)
    } else {
        None
    };
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        rt.block_on(async {
            let Some(handlers) = handlers else {
                return Ok(command.await);
            };
            tokio::select! {
                biased;
                result = command => Ok(result),
                stop = stop_requested(handlers) => Err(stop),
            }
        })
    }));
    // Whatever happened, nothing registered may outlive the process.
    rt.block_on(release_all());
    std::panic::set_hook(previous_hook);
    let deferred = match DEFERRED.load(Ordering::SeqCst) {
        1 => Some(Stop::Interrupt),
        2 => Some(Stop::Terminate),
        _ => None,
    };
    match outcome {
        // The command ended on its own, but a signal arrived while it was in a
        // critical section: the signal still decides the exit code.
        Ok(Ok(Ok(_))) if let Some(stop) = deferred => {
            eprintln!("error: stopped by {} {}", stop.name(), after_section());
            Ok(ExitCode::from(stop.code()))
        }
        Ok(Ok(result)) => result,
        Ok(Err(stop)) => {
            if CUT_SHORT.load(Ordering::SeqCst) && WROTE.load(Ordering::SeqCst) {
                eprintln!(
                    "error: stopped by {} during a write to the server: it may or may not have been applied; run `guacsync plan` to see what the server holds",
                    stop.name()
                );
            } else if CUT_SHORT.load(Ordering::SeqCst) {
                eprintln!(
                    "error: stopped by {} during the login; nothing was changed on the server, but a token the server may have issued could not be released (it ends at the server's session timeout)",
                    stop.name()
                );
            } else if deferred.is_some() {
                eprintln!("error: stopped by {} {}", stop.name(), after_section());
            } else if WROTE.load(Ordering::SeqCst) {
                // Outside a critical section nothing is being written, but an
                // apply ran before (the signal came during the logout): what it
                // did is reported above and stays on the server.
                eprintln!(
                    "error: stopped by {} after the apply had ended (see above for what it did)",
                    stop.name()
                );
            } else {
                // Outside a critical section nothing is being written, and no
                // apply has started: a sync stops here only before its apply.
                eprintln!(
                    "error: stopped by {}; nothing was changed on the server",
                    stop.name()
                );
            }
            Ok(ExitCode::from(stop.code()))
        }
        Err(_) => Ok(ExitCode::from(101)),
    }
}

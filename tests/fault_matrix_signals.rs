//! The fault matrix's signal kind (issue 16 item 3): for every request a clean
//! `sync` sends (the same generated list as `tests/fault_matrix.rs`), the server
//! holds that request, and guacsync gets SIGTERM, then in another case SIGINT,
//! while it waits for the answer.
//!
//! What must follow depends on where the run is (`src/cli/interrupt.rs`, DESIGN
//! §4): during the login guacsync waits for the answer, so that the token it
//! brings can be released; while it reads the server (observe, plan) it stops at
//! once; during the apply it lets the apply and its report finish; during the
//! final logout it stops, releasing the token once more. Every way ends with the
//! shell's exit code (143, 130), every token the run used released and no longer
//! answering, no session left on the server, a message that says what was done,
//! and the server holding exactly that: the initial state when nothing was
//! written, the last checkpoint (the whole plan) when the apply ran. Then a
//! fault-free sync converges.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::matrix::{Case, Fixture, Role, SYNC, converges, report};
use common::{kill, server, token_works};
use guacamole_testserver::{Fault, LoggedRequest, RunningServer};
use tokio::io::AsyncReadExt;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Signal {
    Term,
    Int,
}

// Both, though `src/cli/interrupt.rs` takes the same path for each (only the
// name and the exit code differ): each has its own handler, and a moment where
// one is not caught (the default action ends the process, releasing nothing)
// would show for that one only. The second signal costs about half a minute.
const SIGNALS: [Signal; 2] = [Signal::Term, Signal::Int];

impl Signal {
    fn name(self) -> &'static str {
        match self {
            Signal::Term => "TERM",
            Signal::Int => "INT",
        }
    }

    /// 128 + the signal number, as a shell reports it.
    fn code(self) -> i32 {
        match self {
            Signal::Term => 143,
            Signal::Int => 130,
        }
    }
}

/// How long the server holds the request the signal is sent during: long beside
/// the moment a signal takes to arrive on a loaded machine, and what a login or
/// an apply case waits for.
const HOLD_MS: u64 = 3000;

/// The matrix's sync with a request timeout far above the hold, so that the held
/// request is still in flight when the signal arrives (with the matrix's
/// `--timeout 1` it would have timed out).
fn sync_args() -> Vec<&'static str> {
    let mut args = SYNC.to_vec();
    let at = args
        .iter()
        .position(|a| *a == "--timeout")
        .expect("the matrix sets a timeout");
    args[at + 1] = "30";
    args
}

/// Where in the run the held request is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Phase {
    Login,
    /// Observe and plan: every request before the first write.
    Read,
    /// From the first write to the last request before the logout.
    Apply,
    Logout,
}

impl Phase {
    fn of(case: &Case<Signal>, first_write: usize) -> Phase {
        match case.role {
            Role::Login => Phase::Login,
            Role::Logout => Phase::Logout,
            Role::Write(_) => Phase::Apply,
            Role::Read if case.index > first_write => Phase::Apply,
            Role::Read => Phase::Read,
        }
    }

    fn outcome(self) -> &'static str {
        match self {
            Phase::Login => "login answered, then stopped: nothing written",
            Phase::Read => "stopped at once: nothing written",
            Phase::Apply => "apply finished and reported, then stopped",
            Phase::Logout => "stopped after the apply, token released again",
        }
    }
}

/// Runs one case; returns a description of every expectation it broke.
async fn run_case(fx: &Fixture, case: &Case<Signal>, first_write: usize) -> Vec<String> {
    let sig = case.kind;
    let phase = Phase::of(case, first_write);
    let label = format!(
        "#{} {} {} × SIG{} ({phase:?})",
        case.index,
        case.request.method,
        case.request.path,
        sig.name()
    );
    let server = server(fx.initial.clone()).await;
    server.set_faults(vec![case.rule(Fault::Latency { ms: HOLD_MS })]);
    let mut child = common::guacsync_command(&server, &fx.target, &sync_args(), &[])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("guacsync starts");
    // Read while it runs: a full pipe would stop it.
    let out = tokio::spawn(read_all(child.stdout.take()));
    let err = tokio::spawn(read_all(child.stderr.take()));
    if let Err(why) = held(&server, &mut child).await {
        return vec![format!("{label}: {why}")];
    }
    kill(&child, sig.name());
    // Not a time limit on guacsync: a hang must end the test, not stall it.
    let Ok(status) = tokio::time::timeout(Duration::from_secs(120), child.wait()).await else {
        return vec![format!(
            "{label}: still running two minutes after the signal"
        )];
    };
    let status = status.expect("wait");
    let out = out.await.expect("stdout");
    let err = err.await.expect("stderr");
    let mut problems = Vec::new();
    if status.code() != Some(sig.code()) {
        problems.push(format!(
            "{label}: exit {:?}, expected {}\n{err}",
            status.code(),
            sig.code()
        ));
    }
    problems.extend(
        said(fx, phase, sig, &err)
            .into_iter()
            .map(|p| format!("{label}: {p}\n{err}")),
    );
    problems.extend(
        held_state(fx, phase, &server)
            .into_iter()
            .map(|p| format!("{label}: {p}")),
    );
    let log = server.requests();
    if phase < Phase::Apply
        && let Some(p) = nothing_sent_after(case, &log)
    {
        problems.push(format!("{label}: {p}"));
    }
    let tokens = tokens_used(&log);
    problems.extend(
        released(&server, &log, &tokens)
            .await
            .into_iter()
            .map(|p| format!("{label}: {p}")),
    );
    // The plan is printed before the apply starts (and it is where secrets
    // would show).
    if phase >= Phase::Apply && !out.contains("ROOT/Lab") {
        problems.push(format!("{label}: the plan was not printed\n{out}"));
    }
    // Cut short or not, nothing secret is printed: not the manifests' secrets
    // (the plan is printed before the apply), not a token (its release is the
    // one request with the token in its path).
    let secrets = [
        common::SECRET_ENV,
        "example-vnc-secret",
        "Grace-Initial-Pw-2f9c",
        "example-not-a-real-key",
    ];
    for secret in secrets.into_iter().chain(tokens.iter().map(String::as_str)) {
        if out.contains(secret) || err.contains(secret) {
            problems.push(format!("{label}: the output holds a secret or a token"));
        }
    }
    problems.extend(converges(fx, &server, &label).await);
    problems
}

async fn read_all(pipe: Option<impl tokio::io::AsyncRead + Unpin>) -> String {
    let mut text = String::new();
    if let Some(mut pipe) = pipe {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes).await;
        text = String::from_utf8_lossy(&bytes).into_owned();
    }
    text
}

/// Waits until the case's fault has met its request: the server holds it now.
async fn held(server: &RunningServer, child: &mut tokio::process::Child) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if server.fault_hits() == [1] {
            return Ok(());
        }
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!(
                "guacsync ended ({status}) before it sent the request"
            ));
        }
        if Instant::now() > deadline {
            return Err("the request never arrived".to_owned());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// What guacsync must say it did, in its words (`src/cli/interrupt.rs`).
fn said(fx: &Fixture, phase: Phase, sig: Signal, err: &str) -> Vec<String> {
    let name = format!("SIG{}", sig.name());
    let applied = format!("Applied: {}.", report(&fx.writes, fx.writes.len()));
    let (must, must_not): (Vec<String>, Vec<&str>) = match phase {
        Phase::Login => (
            vec![
                format!("{name}: waiting for the login's answer"),
                format!(
                    "stopped by {name} after the request in flight finished; nothing was changed on the server"
                ),
            ],
            vec!["Applied:"],
        ),
        Phase::Read => (
            vec![format!(
                "stopped by {name}; nothing was changed on the server"
            )],
            vec!["Applied:", "in flight"],
        ),
        Phase::Apply => (
            vec![
                format!("{name}: finishing the apply in flight"),
                applied,
                format!("stopped by {name} after the apply in flight finished"),
            ],
            vec!["nothing was changed", "may have been applied"],
        ),
        Phase::Logout => (
            vec![
                applied,
                format!("stopped by {name} after the apply had ended"),
            ],
            vec!["nothing was changed", "may have been applied"],
        ),
    };
    let mut problems: Vec<String> = must
        .into_iter()
        .filter(|m| !err.contains(m.as_str()))
        .map(|m| format!("expected {m:?}"))
        .collect();
    problems.extend(
        must_not
            .into_iter()
            .filter(|m| err.contains(m))
            .map(|m| format!("says {m:?}")),
    );
    problems
}

/// Before the apply, a signal stops the run at the request in flight: after it
/// the server saw nothing but the token's release.
fn nothing_sent_after(case: &Case<Signal>, log: &[LoggedRequest]) -> Option<String> {
    let Some(at) = log
        .iter()
        .enumerate()
        .filter(|(_, r)| r.method == case.request.method && r.path == case.request.path)
        .nth(usize::try_from(case.occurrence - 1).expect("small"))
        .map(|(i, _)| i)
    else {
        return Some("the request in flight is not in the server's log".to_owned());
    };
    let after: Vec<&LoggedRequest> = log[at + 1..].iter().collect();
    let releases = after
        .iter()
        .filter(|r| r.method == "DELETE" && r.path.starts_with("/api/tokens/"))
        .count();
    (releases != 1 || after.len() != 1).then(|| {
        format!(
            "after the request in flight it sent {:?}, expected one release",
            common::summary(&log[at + 1..])
        )
    })
}

/// The server holds what was said: nothing before the apply, all of the plan
/// after it, written by exactly the clean run's requests.
fn held_state(fx: &Fixture, phase: Phase, server: &RunningServer) -> Vec<String> {
    let mut problems = Vec::new();
    let sent: Vec<LoggedRequest> = server
        .requests()
        .into_iter()
        .filter(|r| matches!(common::matrix::role(r, 0), Role::Write(_)))
        .collect();
    let expected: &[LoggedRequest] = if phase < Phase::Apply {
        &[]
    } else {
        &fx.writes
    };
    let key = |r: &LoggedRequest| (r.method.clone(), r.path.clone(), r.body.clone());
    if sent.iter().map(key).ne(expected.iter().map(key)) {
        problems.push(format!(
            "sent writes {:?}, expected {:?}",
            common::summary(&sent),
            common::summary(expected)
        ));
    }
    let checkpoint = if phase < Phase::Apply {
        0
    } else {
        fx.writes.len()
    };
    if common::matrix::comparable(&server.state()) != fx.checkpoints[checkpoint] {
        problems.push(format!(
            "the server is not at checkpoint {checkpoint} of {}",
            fx.writes.len()
        ));
    }
    problems
}

/// Every token the run used: in a header, or in the path of its release.
fn tokens_used(log: &[LoggedRequest]) -> BTreeSet<String> {
    log.iter()
        .filter_map(|r| r.headers.get("guacamole-token").cloned())
        .chain(
            log.iter()
                .filter(|r| r.method == "DELETE")
                .filter_map(|r| r.path.strip_prefix("/api/tokens/").map(str::to_owned)),
        )
        .collect()
}

/// Every token the run used was released and no longer answers, and the server
/// holds no session.
async fn released(
    server: &RunningServer,
    log: &[LoggedRequest],
    tokens: &BTreeSet<String>,
) -> Vec<String> {
    let mut problems = Vec::new();
    if tokens.is_empty() {
        problems.push(format!("no token was used: {:?}", common::summary(log)));
    }
    for token in tokens {
        let path = format!("/api/tokens/{token}");
        if !log.iter().any(|r| r.method == "DELETE" && r.path == path) {
            problems.push("a token used was never released (no DELETE)".to_owned());
        }
        if token_works(server, token).await {
            problems.push("a token used still answers".to_owned());
        }
    }
    let live = server.live_sessions();
    if live != 0 {
        problems.push(format!("{live} session(s) left on the server"));
    }
    problems
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_request_of_a_sync_under_each_signal() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let fixture = common::matrix::fixture(tmp.path()).await;
    let log = &fixture.log;
    // 1-based, as case indexes are.
    let first_write = 1 + log
        .iter()
        .position(|r| matches!(common::matrix::role(r, 0), Role::Write(_)))
        .expect("the clean sync writes");
    let cases = common::matrix::cases(log, &SIGNALS, |_, _, _| true);
    let total = cases.len();
    let results = common::matrix::run_all(&fixture, cases, move |fx, case| async move {
        let phase = Phase::of(&case, first_write);
        (phase, run_case(&fx, &case, first_write).await)
    })
    .await;
    let mut problems = Vec::new();
    let mut by_outcome: BTreeMap<Phase, usize> = BTreeMap::new();
    for (phase, p) in results {
        *by_outcome.entry(phase).or_default() += 1;
        problems.extend(p);
    }
    eprintln!(
        "fault matrix, signals: {} requests × {} signals = {total} interrupted syncs",
        log.len(),
        SIGNALS.len()
    );
    for (phase, n) in &by_outcome {
        eprintln!("  {n:4}  {}", phase.outcome());
    }
    assert_eq!(total, log.len() * SIGNALS.len());
    assert!(
        problems.is_empty(),
        "{} problem(s):\n{}",
        problems.len(),
        problems.join("\n\n")
    );
}

//! The fault matrix (issue 7, part 1): every request a clean `sync` sends, failed
//! once per fault kind, with the outcome checked against what the server holds.
//!
//! The matrix is generated, not listed: a clean sync of the example manifests runs
//! first (groups to create at two depths and one balancing group to change,
//! connections to add and one to replace, a sharing profile, users and user groups
//! to create and change, memberships, system and object permissions for every
//! principal: the example estate document beside the import files), and its
//! request log is the list of requests to fail. For each request and each fault
//! kind a fresh server starts from the same state, the fault is set on exactly
//! that request (method, exact path and occurrence), and `guacsync sync` runs.
//!
//! What "the steps reported as done" means is checked against the server itself:
//! the clean run's writes are replayed one by one on another fresh server, and the
//! state after each is a checkpoint. A failed sync must leave the server at the
//! checkpoint of exactly the writes its "done before it:" line reports (or, for a
//! write whose outcome it cannot know, that one or the next, and it must say so).
//! Then a fault-free sync must converge: a plan afterwards shows no changes and no
//! object exists twice. The scenario, the checkpoints and the convergence check
//! are shared with the signal matrix (`tests/common/matrix.rs`).

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::matrix::{Case, Fixture, Role, SYNC, comparable, converges, report, run};
use common::{server, stderr};
use guacamole_testserver::{Fault, LoggedRequest};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Client4xx,
    Server5xx,
    Drop,
    Timeout,
    ExpiredToken,
    /// The request is handled, then its answer replaced by one that does not
    /// match it (an outcome list of the wrong length).
    Malformed,
    /// An answer larger than guacsync reads (its `Content-Length` says so).
    Oversized,
    /// A proxy answers 504 after Guacamole applied the request.
    ProxyTimeout,
}

const KINDS: [Kind; 8] = [
    Kind::Client4xx,
    Kind::Server5xx,
    Kind::Drop,
    Kind::Timeout,
    Kind::ExpiredToken,
    Kind::Malformed,
    Kind::Oversized,
    Kind::ProxyTimeout,
];

impl Kind {
    fn fault(self) -> Fault {
        match self {
            Kind::Client4xx => Fault::Status {
                code: 400,
                message: Some("Injected client error.".into()),
            },
            Kind::Server5xx => Fault::Status {
                code: 500,
                message: None,
            },
            Kind::Drop => Fault::Drop,
            // Above the client's `--timeout 1`; the server still handles the
            // request afterwards, as a slow real server would.
            Kind::Timeout => Fault::Latency { ms: 2200 },
            Kind::ExpiredToken => Fault::ExpireToken,
            Kind::Malformed => Fault::Answer {
                code: 200,
                body: r#"{"patches":[{"op":"add","identifier":"1","path":"/"},{"op":"add","identifier":"2","path":"/"},{"op":"add","identifier":"3","path":"/"},{"op":"add","identifier":"4","path":"/"},{"op":"add","identifier":"5","path":"/"},{"op":"add","identifier":"6","path":"/"},{"op":"add","identifier":"7","path":"/"},{"op":"add","identifier":"8","path":"/"},{"op":"add","identifier":"9","path":"/"},{"op":"add","identifier":"10","path":"/"},{"op":"add","identifier":"11","path":"/"},{"op":"add","identifier":"12","path":"/"},{"op":"add","identifier":"13","path":"/"},{"op":"add","identifier":"14","path":"/"},{"op":"add","identifier":"15","path":"/"},{"op":"add","identifier":"16","path":"/"},{"op":"add","identifier":"17","path":"/"},{"op":"add","identifier":"18","path":"/"},{"op":"add","identifier":"19","path":"/"},{"op":"add","identifier":"20","path":"/"},{"op":"add","identifier":"21","path":"/"}]}"#.to_owned(),
                after_handling: true,
            },
            Kind::Oversized => Fault::Stream {
                code: 200,
                prefix: "{".to_owned(),
                repeat: " ".repeat(4096),
                total_bytes: Some(300 * 1024 * 1024),
            },
            Kind::ProxyTimeout => Fault::ProxyError {
                code: 504,
                applied: true,
            },
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Expect {
    /// Exit 0 and the desired state (the client retried or renewed its session).
    Success,
    /// Exit 1, the server at checkpoint k, the report saying so.
    Failed(usize),
    /// Exit 1, the server at checkpoint k or k+1, the report saying it may have
    /// been applied.
    Unknown(usize),
}

fn expect(role: Role, kind: Kind) -> Expect {
    match (role, kind) {
        // An expired session is renewed once and the request sent again; a failed
        // logout is a warning.
        (Role::Logout, _) | (_, Kind::ExpiredToken) => Expect::Success,
        // A login is not retried: a TOTP code must not be sent twice. GETs are
        // retried with backoff on 5xx and dropped connections; an answer that is
        // refused (4xx), does not parse or is too large is not.
        (Role::Login, _) | (Role::Read, Kind::Client4xx | Kind::Oversized) => Expect::Failed(0),
        (Role::Read, _) => Expect::Success,
        // A write whose answer does not say what happened.
        (
            Role::Write(k),
            Kind::Timeout | Kind::Malformed | Kind::Oversized | Kind::ProxyTimeout,
        ) => Expect::Unknown(k),
        (Role::Write(k), _) => Expect::Failed(k),
    }
}

/// Runs one case; returns a description of every expectation it broke.
async fn run_case(fx: &Fixture, case: &Case<Kind>) -> Vec<String> {
    let mut problems = Vec::new();
    let label = format!(
        "#{} {} {} × {:?}",
        case.index, case.request.method, case.request.path, case.kind
    );
    let server = server(fx.initial.clone()).await;
    server.set_faults(vec![case.rule(case.kind.fault())]);
    let out = run(&server, &fx.target, SYNC).await;
    if case.kind == Kind::Timeout {
        // The server finishes the request the client gave up on.
        tokio::time::sleep(Duration::from_millis(2600)).await;
    }
    let err = stderr(&out);
    // A case whose fault met no request would test nothing.
    if server.fault_hits() != [1] {
        problems.push(format!("{label}: the fault never met its request\n{err}"));
    }
    let now = comparable(&server.state());
    let expected = expect(case.role, case.kind);
    match &expected {
        Expect::Success => {
            if out.status.code() != Some(0) {
                problems.push(format!(
                    "{label}: exit {:?}, expected 0\n{err}",
                    out.status.code()
                ));
            }
            if now != fx.desired {
                problems.push(format!(
                    "{label}: exit 0 but the server is not in the desired state"
                ));
            }
        }
        Expect::Failed(k) | Expect::Unknown(k) => {
            if out.status.code() != Some(1) {
                problems.push(format!(
                    "{label}: exit {:?}, expected 1\n{err}",
                    out.status.code()
                ));
            }
            let named = match case.role {
                Role::Login => err.contains("login"),
                // Paths are shown relative to the server URL.
                _ => err.contains(case.request.path.trim_start_matches('/')),
            };
            if !named {
                problems.push(format!(
                    "{label}: the message does not name the failed request\n{err}"
                ));
            }
            if matches!(case.role, Role::Write(_)) {
                let done = format!("done before it: {}", report(&fx.writes, *k));
                if !err.contains(&done) {
                    problems.push(format!("{label}: expected {done:?} in\n{err}"));
                }
            } else if err.contains("done before it") && !err.contains("done before it: nothing") {
                problems.push(format!(
                    "{label}: reports writes before any was sent\n{err}"
                ));
            }
            let ok = match expected {
                Expect::Unknown(k) => {
                    if !err.contains("may have been applied") {
                        problems.push(format!("{label}: the unknown outcome is not said\n{err}"));
                    }
                    now == fx.checkpoints[k] || now == fx.checkpoints[k + 1]
                }
                _ => now == fx.checkpoints[*k],
            };
            if !ok {
                problems.push(format!(
                    "{label}: the server is not at the checkpoint the report names ({expected:?})"
                ));
            }
        }
    }
    problems.extend(converges(fx, &server, &label).await);
    problems
}

/// Whether a fault kind says something about a request. A malformed answer is a
/// directory PATCH's outcome list that does not match what was sent; a read is
/// liberal in what it accepts (unknown fields are ignored), and a permission or
/// membership PATCH's answer carries nothing (204, rest-api.md §6), so for them
/// it is not a fault.
fn meaningful(kind: Kind, role: Role, r: &LoggedRequest) -> bool {
    let answer_carries_nothing = r.path.ends_with("/permissions")
        || r.path.ends_with("/memberUsers")
        || r.path.ends_with("/memberUserGroups")
        || r.path.ends_with("/userGroups") && r.path.contains("/users/");
    match kind {
        Kind::Malformed => matches!(role, Role::Write(_)) && !answer_carries_nothing,
        _ => true,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_request_of_a_sync_under_every_fault() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let fixture = common::matrix::fixture(tmp.path()).await;
    let log = &fixture.log;
    let cases = common::matrix::cases(log, &KINDS, meaningful);
    let total = cases.len();
    let results = common::matrix::run_all(&fixture, cases, |fx, case| async move {
        (case.role, case.kind, run_case(&fx, &case).await)
    })
    .await;
    let mut problems = Vec::new();
    let mut by_outcome: BTreeMap<String, usize> = BTreeMap::new();
    for (role, kind, p) in results {
        let expected = match expect(role, kind) {
            Expect::Success => "recovered (exit 0)",
            Expect::Failed(_) => "failed, state at the reported step (exit 1)",
            Expect::Unknown(_) => "failed, outcome unknown and said (exit 1)",
        };
        *by_outcome.entry(expected.to_owned()).or_default() += 1;
        problems.extend(p);
    }
    eprintln!(
        "fault matrix: {} requests × {} kinds = {total} faulted syncs",
        log.len(),
        KINDS.len()
    );
    for (outcome, n) in &by_outcome {
        eprintln!("  {n:4}  {outcome}");
    }
    assert!(total > log.len() * (KINDS.len() - 1));
    assert!(
        problems.is_empty(),
        "{} problem(s):\n{}",
        problems.len(),
        problems.join("\n\n")
    );
}

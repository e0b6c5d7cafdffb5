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
//! object exists twice.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use common::{principals_only, repo, server, stderr, stdout};
use guacamole_testserver::{Fault, FaultRule, LoggedRequest, RunningServer, State};
use serde_json::Value;
use tokio::sync::Semaphore;

const PREFIX_DS: &str = "/api/session/data/postgresql/";

/// The initial state: the example principals without `frank` and `partner-acme`,
/// and the example manifests applied except `lab.json`, `partner-acme`'s grant and
/// with one hostname different, so that the sync under test creates groups,
/// connections and principals, replaces a connection, and grants permissions.
async fn initial_state(dir: &Path) -> State {
    let mut state = principals_only();
    state.users.retain(|u| u.username != "frank");
    state.user_groups.retain(|g| g.identifier != "partner-acme");
    for g in &mut state.user_groups {
        g.member_users.remove("frank");
        g.member_user_groups.remove("partner-acme");
    }
    let before = dir.join("before");
    std::fs::create_dir_all(before.join("manifests")).expect("mkdir");
    copy_dir(&repo().join("examples/secrets"), &before.join("secrets"));
    let csv = std::fs::read_to_string(repo().join("examples/manifests/prod-linux.csv"))
        .expect("csv")
        .replace("10.0.1.11", "10.0.1.99");
    std::fs::write(before.join("manifests/prod-linux.csv"), csv).expect("write");
    let yaml = std::fs::read_to_string(repo().join("examples/manifests/windows.yaml"))
        .expect("yaml")
        .replace("  groups: [partner-acme]\n", "");
    std::fs::write(before.join("manifests/windows.yaml"), yaml).expect("write");
    std::fs::write(before.join("guacsync.toml"), config(false)).expect("write");
    let server = server(state).await;
    let out = run(
        &server,
        &before,
        &["sync", "manifests", "--config", "guacsync.toml"],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    server.state()
}

fn config(create_principals: bool) -> String {
    format!(
        "[scope]\ngroups = [\"ROOT/Prod\", \"ROOT/Lab\", \"ROOT/Partners\"]\n\
         [sync]\ncreate_groups = true\ncreate_principals = {create_principals}\n"
    )
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read_dir") {
        let e = e.expect("entry");
        std::fs::copy(e.path(), to.join(e.file_name())).expect("copy");
    }
}

/// The target: all example manifests, principals created when missing.
fn target_dir(dir: &Path) -> std::path::PathBuf {
    let target = dir.join("target");
    copy_dir(
        &repo().join("examples/manifests"),
        &target.join("manifests"),
    );
    copy_dir(&repo().join("examples/secrets"), &target.join("secrets"));
    std::fs::write(target.join("guacsync.toml"), config(true)).expect("write");
    target
}

// One request at a time, so that the checkpoints (the clean run's writes replayed
// in order) are the states a failure can leave; concurrent permission PATCHes and
// what a failure among them reports are tested in `tests/apply_writes.rs`.
const SYNC: &[&str] = &[
    "sync",
    "manifests",
    "--config",
    "guacsync.toml",
    "--timeout",
    "1",
    "--concurrency",
    "1",
];

async fn run(server: &RunningServer, dir: &Path, args: &[&str]) -> std::process::Output {
    common::guacsync_in(server, dir, args, &[]).await
}

/// The parts of a state a sync may change; volatile fields (login times, the
/// identifier counters, which a rolled-back batch may advance) are left out.
fn comparable(state: &State) -> Value {
    let mut v = serde_json::to_value(state).expect("state serialises");
    if let Some(o) = v.as_object_mut() {
        o.remove("nextIds");
        o.remove("history");
        if let Some(users) = o.get_mut("users").and_then(Value::as_array_mut) {
            for u in users {
                if let Some(u) = u.as_object_mut() {
                    u.remove("lastActive");
                }
            }
        }
    }
    v
}

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

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    Login,
    /// Every GET, the server's schemas included (they decide which names exist,
    /// so a plan cannot be made without them), and the empty PATCH probe.
    Read,
    /// The k-th write (0-based) of the clean run.
    Write(usize),
    Logout,
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

fn role(r: &LoggedRequest, writes_before: usize) -> Role {
    match (r.method.as_str(), r.path.as_str()) {
        ("POST", "/api/tokens") => Role::Login,
        ("DELETE", p) if p.starts_with("/api/tokens/") => Role::Logout,
        ("GET", _) => Role::Read,
        // The empty PATCH that finds out whether batches are atomic changes
        // nothing, and is retried like a read.
        ("PATCH", _) if common::is_probe(r) => Role::Read,
        _ => Role::Write(writes_before),
    }
}

/// The user group a membership write is about (`userGroups/{g}/memberUsers`).
fn membership_group(dir: &str) -> Option<&str> {
    let rest = dir.strip_prefix("userGroups/")?;
    let (group, what) = rest.split_once('/')?;
    matches!(what, "memberUsers" | "memberUserGroups").then_some(group)
}

/// The apply report after the first `k` writes, in guacsync's words.
fn report(writes: &[LoggedRequest], k: usize) -> String {
    let mut groups = 0;
    let mut groups_changed = 0;
    let mut batches = 0;
    // add, replace, remove per directory.
    let mut ops_of: BTreeMap<&str, [usize; 3]> = BTreeMap::new();
    let mut permissions = 0;
    for w in &writes[..k] {
        let ops: Vec<Value> = serde_json::from_str(&w.body).expect("patch body");
        let count = |op: &str| ops.iter().filter(|o| o["op"] == op).count();
        let dir = w.path.strip_prefix(PREFIX_DS).unwrap_or(&w.path);
        if dir.ends_with("/permissions") {
            permissions += 1;
        } else if membership_group(dir).is_some() {
            // Counted below: a group is updated when all its member writes are.
        } else if dir == "connectionGroups" {
            groups += count("add");
            groups_changed += count("replace");
        } else if ["connections", "sharingProfiles", "userGroups", "users"].contains(&dir) {
            if dir == "connections" {
                batches += 1;
            }
            let c = ops_of.entry(dir).or_default();
            c[0] += count("add");
            c[1] += count("replace");
            c[2] += count("remove");
        } else {
            panic!("a write the matrix does not know: {} {}", w.method, w.path);
        }
    }
    // A user group's members are updated once every write for them is sent.
    let mut member_groups: Vec<&str> = writes[..k]
        .iter()
        .filter_map(|w| membership_group(w.path.strip_prefix(PREFIX_DS).unwrap_or(&w.path)))
        .collect();
    member_groups.dedup();
    let memberships = member_groups
        .iter()
        .filter(|g| {
            !writes[k..].iter().any(|w| {
                membership_group(w.path.strip_prefix(PREFIX_DS).unwrap_or(&w.path)) == Some(**g)
            })
        })
        .count();
    let of = |dir: &str| ops_of.get(dir).copied().unwrap_or_default();
    let mut parts = Vec::new();
    if groups > 0 {
        parts.push(format!("{groups} group(s) created"));
    }
    if groups_changed > 0 {
        parts.push(format!("{groups_changed} group(s) changed"));
    }
    if batches > 0 {
        let [added, changed, removed] = of("connections");
        parts.push(format!(
            "{batches} connection batch(es) applied ({added} added, {changed} changed, {removed} removed)"
        ));
    }
    for (dir, plural) in [
        ("sharingProfiles", "sharing profiles"),
        ("userGroups", "user groups"),
        ("users", "users"),
    ] {
        let [added, changed, removed] = of(dir);
        if changed + removed > 0 || (added > 0 && dir == "sharingProfiles") {
            parts.push(format!(
                "{plural}: {added} added, {changed} changed, {removed} removed"
            ));
        }
    }
    let principals = of("users")[0] + of("userGroups")[0];
    if principals > 0 {
        parts.push(format!("{principals} user(s)/group(s) created"));
    }
    if memberships > 0 {
        parts.push(format!("members of {memberships} user group(s) updated"));
    }
    if permissions > 0 {
        parts.push(format!("permissions of {permissions} principal(s) updated"));
    }
    if parts.is_empty() {
        "nothing".to_owned()
    } else {
        parts.join(", ")
    }
}

/// The state after each prefix of the clean run's writes, replayed request by
/// request on a fresh server (checkpoint 0 is the initial state).
async fn checkpoints(initial: &State, writes: &[LoggedRequest]) -> Vec<Value> {
    let server = server(initial.clone()).await;
    let token = server.issue_token("guacadmin");
    // reqwest is built without a default TLS provider (guacsync installs ring).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::new();
    let mut out = vec![comparable(&server.state())];
    for w in writes {
        let method = reqwest::Method::from_bytes(w.method.as_bytes()).expect("method");
        let resp = http
            .request(method, format!("{}{}", server.base_url(), w.path))
            .header("Guacamole-Token", &token)
            .header("Content-Type", "application/json")
            .body(w.body.clone())
            .send()
            .await
            .expect("replay");
        assert!(
            resp.status().is_success(),
            "replaying {} {}: {}",
            w.method,
            w.path,
            resp.status()
        );
        out.push(comparable(&server.state()));
    }
    out
}

struct Case {
    index: usize,
    request: LoggedRequest,
    role: Role,
    kind: Kind,
    occurrence: u64,
}

struct Fixture {
    initial: State,
    target: std::path::PathBuf,
    writes: Vec<LoggedRequest>,
    checkpoints: Vec<Value>,
    desired: Value,
    counts: (usize, usize, usize, usize),
}

fn counts(s: &State) -> (usize, usize, usize, usize) {
    (
        s.connections.len(),
        s.connection_groups.len(),
        s.users.len(),
        s.user_groups.len(),
    )
}

/// Runs one case; returns a description of every expectation it broke.
async fn run_case(fx: &Fixture, case: &Case) -> Vec<String> {
    let mut problems = Vec::new();
    let label = format!(
        "#{} {} {} × {:?}",
        case.index, case.request.method, case.request.path, case.kind
    );
    let server = server(fx.initial.clone()).await;
    server.set_faults(vec![FaultRule::exact(
        &case.request.method,
        &case.request.path,
        case.occurrence,
        case.kind.fault(),
    )]);
    let out = run(&server, &fx.target, SYNC).await;
    if case.kind == Kind::Timeout {
        // The server finishes the request the client gave up on.
        tokio::time::sleep(Duration::from_millis(2600)).await;
    }
    let err = stderr(&out);
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

/// A second, fault-free sync converges to a clean run's state, with nothing twice.
async fn converges(fx: &Fixture, server: &RunningServer, label: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let again = run(server, &fx.target, SYNC).await;
    if again.status.code() != Some(0) {
        problems.push(format!(
            "{label}: the second sync failed\n{}",
            stderr(&again)
        ));
    }
    let plan = run(
        server,
        &fx.target,
        &[
            "plan",
            "manifests",
            "--config",
            "guacsync.toml",
            "--detailed-exitcode",
        ],
    )
    .await;
    if plan.status.code() != Some(0) {
        problems.push(format!(
            "{label}: changes remain after the second sync\n{}",
            stdout(&plan)
        ));
    }
    let state = server.state();
    if counts(&state) != fx.counts {
        problems.push(format!(
            "{label}: {:?} (connections, groups, users, user groups), expected {:?}",
            counts(&state),
            fx.counts
        ));
    }
    if comparable(&state) != fx.desired {
        problems.push(format!(
            "{label}: the converged state differs from a clean run's"
        ));
    }
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

/// One case per logged request and fault kind.
fn cases(log: &[LoggedRequest]) -> Vec<Case> {
    let mut cases = Vec::new();
    let mut writes_before = 0;
    let mut seen: BTreeMap<(String, String), u64> = BTreeMap::new();
    for (index, r) in log.iter().enumerate() {
        let role = role(r, writes_before);
        if matches!(role, Role::Write(_)) {
            writes_before += 1;
        }
        let occurrence = seen
            .entry((r.method.clone(), r.path.clone()))
            .and_modify(|n| *n += 1)
            .or_insert(1);
        for kind in KINDS.into_iter().filter(|k| meaningful(*k, role, r)) {
            cases.push(Case {
                index: index + 1,
                request: r.clone(),
                role,
                kind,
                occurrence: *occurrence,
            });
        }
    }
    cases
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_request_of_a_sync_under_every_fault() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let initial = initial_state(tmp.path()).await;
    let target = target_dir(tmp.path());

    // The clean run: its request log is the matrix.
    let clean = server(initial.clone()).await;
    let out = run(&clean, &target, SYNC).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let log = clean.requests();
    let desired_state = clean.state();
    let writes: Vec<LoggedRequest> = log
        .iter()
        .filter(|r| matches!(role(r, 0), Role::Write(_)))
        .cloned()
        .collect();
    // The scenario exercises every kind of write: every directory, members,
    // system and object permissions beyond READ.
    for dir in [
        "connectionGroups",
        "connections",
        "sharingProfiles",
        "users",
        "userGroups",
        "userGroups/oncall/memberUsers",
    ] {
        let path = format!("{PREFIX_DS}{dir}");
        assert!(
            writes.iter().any(|w| w.path == path),
            "no PATCH {path}: {log:#?}"
        );
    }
    assert!(writes.iter().any(|w| w.body.contains("\"replace\"")));
    assert!(writes.iter().any(|w| w.body.contains("/systemPermissions")));
    assert!(writes.iter().any(|w| w.body.contains("\"UPDATE\"")));
    assert!(
        writes
            .iter()
            .filter(|w| w.path.ends_with("/permissions"))
            .count()
            >= 3,
        "{:#?}",
        common::summary(&log)
    );

    let checkpoints = checkpoints(&initial, &writes).await;
    assert!(
        checkpoints.last() == Some(&comparable(&desired_state)),
        "replaying the writes does not reproduce the clean run"
    );
    let fixture = Arc::new(Fixture {
        initial,
        target,
        desired: comparable(&desired_state),
        counts: counts(&desired_state),
        writes,
        checkpoints,
    });

    let cases = cases(&log);
    let total = cases.len();
    let limit = Arc::new(Semaphore::new(4));
    let mut tasks = tokio::task::JoinSet::new();
    for case in cases {
        let fixture = Arc::clone(&fixture);
        let limit = Arc::clone(&limit);
        tasks.spawn(async move {
            let _permit = limit.acquire().await.expect("semaphore");
            let problems = run_case(&fixture, &case).await;
            (case.role, case.kind, problems)
        });
    }
    let mut problems = Vec::new();
    let mut by_outcome: BTreeMap<String, usize> = BTreeMap::new();
    while let Some(done) = tasks.join_next().await {
        let (role, kind, p) = done.expect("case task");
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
        log.len() >= 20,
        "a clean sync sends more requests: {}",
        log.len()
    );
    assert!(
        problems.is_empty(),
        "{} problem(s):\n{}",
        problems.len(),
        problems.join("\n\n")
    );
}

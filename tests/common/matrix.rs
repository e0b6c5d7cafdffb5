//! What the fault matrices share (`tests/fault_matrix.rs`, one case per request
//! and fault kind; `tests/fault_matrix_signals.rs`, one per request and signal):
//! the scenario, the clean sync whose request log is the list of cases, the
//! checkpoints a failure may leave the server at, the apply report guacsync must
//! print for them, and the check that a fault-free sync converges afterwards.
//! Kept in one place so that both matrices fail exactly the same requests and
//! judge the server by the same checkpoints.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use guacamole_testserver::{Fault, FaultRule, LoggedRequest, RunningServer, State};
use serde_json::Value;
use tokio::sync::Semaphore;

use super::{principals_only, repo, server, stderr, stdout};

pub const PREFIX_DS: &str = "/api/session/data/postgresql/";

/// Cases run at once: each runs up to three guacsync processes in turn, and the
/// machine has two cores.
const CASES_AT_ONCE: usize = 4;

/// The initial state: the example principals without `frank` and `partner-acme`,
/// and the example manifests applied except `lab.json`, `partner-acme`'s grant and
/// with one hostname different, so that the sync under test creates groups,
/// connections and principals, replaces a connection, and grants permissions.
pub async fn initial_state(dir: &Path) -> State {
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
pub fn target_dir(dir: &Path) -> PathBuf {
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
pub const SYNC: &[&str] = &[
    "sync",
    "manifests",
    "--config",
    "guacsync.toml",
    "--timeout",
    "1",
    "--concurrency",
    "1",
];

pub async fn run(server: &RunningServer, dir: &Path, args: &[&str]) -> std::process::Output {
    super::guacsync_in(server, dir, args, &[]).await
}

/// The parts of a state a sync may change; volatile fields (login times, the
/// identifier counters, which a rolled-back batch may advance) are left out.
pub fn comparable(state: &State) -> Value {
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
pub enum Role {
    Login,
    /// Every GET, the server's schemas included (they decide which names exist,
    /// so a plan cannot be made without them), and the empty PATCH probe.
    Read,
    /// The k-th write (0-based) of the clean run.
    Write(usize),
    Logout,
}

pub fn role(r: &LoggedRequest, writes_before: usize) -> Role {
    match (r.method.as_str(), r.path.as_str()) {
        ("POST", "/api/tokens") => Role::Login,
        ("DELETE", p) if p.starts_with("/api/tokens/") => Role::Logout,
        ("GET", _) => Role::Read,
        // The empty PATCH that finds out whether batches are atomic changes
        // nothing, and is retried like a read.
        ("PATCH", _) if super::is_probe(r) => Role::Read,
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
pub fn report(writes: &[LoggedRequest], k: usize) -> String {
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

/// One request of the clean run to fail, and how (`kind`).
pub struct Case<K> {
    /// 1-based, in the clean run's order.
    pub index: usize,
    pub request: LoggedRequest,
    pub role: Role,
    pub kind: K,
    /// Which request with this method and path it is (1 for the first).
    pub occurrence: u64,
}

impl<K> Case<K> {
    /// The rule that makes `fault` hit exactly this request. A logout's path
    /// holds the token, which every run gets anew, so it is matched by method and
    /// `/api/tokens/` (the occurrence counts the run's releases).
    pub fn rule(&self, fault: Fault) -> FaultRule {
        if self.role == Role::Logout {
            let mut rule = FaultRule::on("DELETE", "/api/tokens/", fault);
            rule.occurrence = Some(self.occurrence);
            rule
        } else {
            FaultRule::exact(
                &self.request.method,
                &self.request.path,
                self.occurrence,
                fault,
            )
        }
    }
}

/// One case per logged request and kind, where `meaningful` says the kind says
/// something about that request.
pub fn cases<K: Copy>(
    log: &[LoggedRequest],
    kinds: &[K],
    meaningful: impl Fn(K, Role, &LoggedRequest) -> bool,
) -> Vec<Case<K>> {
    let mut cases = Vec::new();
    let mut writes_before = 0;
    let mut seen: BTreeMap<(String, String), u64> = BTreeMap::new();
    for (index, r) in log.iter().enumerate() {
        let role = role(r, writes_before);
        if matches!(role, Role::Write(_)) {
            writes_before += 1;
        }
        // Releases are counted together: their paths differ by token.
        let path = if role == Role::Logout {
            "/api/tokens/".to_owned()
        } else {
            r.path.clone()
        };
        let occurrence = seen
            .entry((r.method.clone(), path))
            .and_modify(|n| *n += 1)
            .or_insert(1);
        for &kind in kinds.iter().filter(|k| meaningful(**k, role, r)) {
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

pub struct Fixture {
    pub initial: State,
    pub target: PathBuf,
    /// The clean run's writes, in order.
    pub writes: Vec<LoggedRequest>,
    /// The server after each prefix of `writes` (see [`checkpoints`]).
    pub checkpoints: Vec<Value>,
    pub desired: Value,
    pub counts: (usize, usize, usize, usize),
    /// The clean run's request log: the list of requests to fail.
    pub log: Vec<LoggedRequest>,
}

fn counts(s: &State) -> (usize, usize, usize, usize) {
    (
        s.connections.len(),
        s.connection_groups.len(),
        s.users.len(),
        s.user_groups.len(),
    )
}

/// Sets up the scenario in `dir`, runs the clean sync and replays its writes.
pub async fn fixture(dir: &Path) -> Arc<Fixture> {
    let initial = initial_state(dir).await;
    let target = target_dir(dir);

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
        super::summary(&log)
    );
    assert!(
        log.len() >= 20,
        "a clean sync sends more requests: {}",
        log.len()
    );

    let checkpoints = checkpoints(&initial, &writes).await;
    assert!(
        checkpoints.last() == Some(&comparable(&desired_state)),
        "replaying the writes does not reproduce the clean run"
    );
    Arc::new(Fixture {
        initial,
        target,
        desired: comparable(&desired_state),
        counts: counts(&desired_state),
        writes,
        checkpoints,
        log,
    })
}

/// Runs every case through `run_case`, a few at a time, and returns what each
/// returned (in the order they finished).
pub async fn run_all<K, T, F, Fut>(
    fixture: &Arc<Fixture>,
    cases: Vec<Case<K>>,
    run_case: F,
) -> Vec<T>
where
    T: Send + 'static,
    F: Fn(Arc<Fixture>, Case<K>) -> Fut,
    Fut: Future<Output = T> + Send + 'static,
{
    let limit = Arc::new(Semaphore::new(CASES_AT_ONCE));
    let mut tasks = tokio::task::JoinSet::new();
    for case in cases {
        let running = run_case(Arc::clone(fixture), case);
        let limit = Arc::clone(&limit);
        tasks.spawn(async move {
            let _permit = limit.acquire().await.expect("semaphore");
            running.await
        });
    }
    let mut out = Vec::new();
    while let Some(done) = tasks.join_next().await {
        out.push(done.expect("case task"));
    }
    out
}

/// A second, fault-free sync converges to a clean run's state, with nothing twice.
pub async fn converges(fx: &Fixture, server: &RunningServer, label: &str) -> Vec<String> {
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

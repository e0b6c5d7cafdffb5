//! guacsync's benchmark harness (`cargo bench --bench guacsync -- <scenario>`).
//!
//! Each measurement runs in a child process (this binary re-executed with
//! `child-<scenario>`), so the peak RSS it reports (`VmHWM` from `/proc/self/status`) is
//! that measurement's alone. Figures and the machine go into the README's
//! "Benchmarks" section; targets are checked there, never in timed unit tests.

// Byte counts of files and memory fit an f64 exactly far beyond benchmark sizes.
#![allow(clippy::cast_precision_loss)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use guacsync::manifest::{self, ParseOptions, write};
use guacsync::model::{Entry, GroupPath, Parent, Source};
use guacsync::schema::Schema;

// Issue 15's scenarios that drive the release binary beside other processes
// (`#[path]`: a bench's root is its own directory, where a `watch.rs` would be
// taken for another bench target).
#[path = "guacsync/nginx.rs"]
mod nginx;
#[path = "guacsync/watch.rs"]
mod watch;

/// Peak resident set size of this process, in KiB (Linux).
fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// CPU time so far (ns, from `/proc/self/task/*/schedstat`) of this process's
/// main thread, where the benchmark's client runs, and of every other thread (the
/// test server's runtime workers and its latency timer).
fn cpu_split_ns() -> (u64, u64) {
    let me = std::process::id().to_string();
    let mut main = 0;
    let mut rest = 0;
    for task in std::fs::read_dir("/proc/self/task")
        .into_iter()
        .flatten()
        .flatten()
    {
        let ns: u64 = std::fs::read_to_string(task.path().join("schedstat"))
            .ok()
            .and_then(|s| s.split_whitespace().next().and_then(|v| v.parse().ok()))
            .unwrap_or(0);
        if task.file_name().to_str() == Some(me.as_str()) {
            main += ns;
        } else {
            rest += ns;
        }
    }
    (main, rest)
}

/// A realistic inventory: five protocols, three levels of groups, users and groups.
pub fn inventory(count: usize) -> Vec<Entry> {
    let protocols = ["ssh", "rdp", "vnc", "telnet", "kubernetes"];
    (0..count)
        .map(|i| {
            let protocol = protocols[i % protocols.len()];
            let region = format!("Region-{}", i % 7);
            let site = format!("Site-{}", (i / 7) % 13);
            let team = format!("Team {}", (i / 91) % 11);
            let mut parameters = std::collections::BTreeMap::new();
            parameters.insert("hostname".to_owned(), format!("host-{i}.corp.example.com"));
            parameters.insert(
                "port".to_owned(),
                match protocol {
                    "ssh" => "22",
                    "rdp" => "3389",
                    "vnc" => "5901",
                    "telnet" => "23",
                    _ => "6443",
                }
                .to_owned(),
            );
            match protocol {
                "ssh" => {
                    parameters.insert("username".into(), "${GUAC_USERNAME}".into());
                    parameters.insert("password".into(), "${env:SSH_PASSWORD}".into());
                    parameters.insert("color-scheme".into(), "gray-black".into());
                    parameters.insert("font-size".into(), "12".into());
                    parameters.insert(
                        "recording-path".into(),
                        "/var/lib/guacamole/recordings".into(),
                    );
                }
                "rdp" => {
                    parameters.insert("username".into(), format!("svc-{}", i % 100));
                    parameters.insert("domain".into(), "CORP".into());
                    parameters.insert("security".into(), "nla".into());
                    parameters.insert("ignore-cert".into(), "true".into());
                    parameters.insert("resize-method".into(), "display-update".into());
                }
                "vnc" => {
                    parameters.insert("password".into(), "${KEEPER_SERVER_PASSWORD}".into());
                    parameters.insert("color-depth".into(), "24".into());
                    parameters.insert("cursor".into(), "remote".into());
                }
                "telnet" => {
                    parameters.insert("username-regex".into(), "login:".into());
                    parameters.insert("terminal-type".into(), "vt100".into());
                }
                _ => {
                    parameters.insert("namespace".into(), format!("team-{}", i % 20));
                    parameters.insert("pod".into(), format!("toolbox-{i}"));
                    parameters.insert("use-ssl".into(), "true".into());
                }
            }
            let mut attributes = std::collections::BTreeMap::new();
            attributes.insert("max-connections".to_owned(), "4".to_owned());
            Entry {
                name: format!("{protocol}-{i:06}"),
                protocol: protocol.to_owned(),
                parent: Parent::Group(GroupPath::from_segments(vec![region, site, team])),
                parameters,
                attributes,
                users: vec![format!("user{}", i % 500), format!("user{}", (i + 1) % 500)],
                groups: vec![format!("team-{}", i % 11)],
                source: Source {
                    file: String::new(),
                    line: 0,
                    column: 0,
                },
            }
        })
        .collect()
}

fn write_inventory(dir: &Path, count: usize) -> Vec<(String, PathBuf, u64)> {
    let entries = inventory(count);
    let schema = Schema::builtin();
    let mut files = Vec::new();
    for (label, name, text) in [
        ("CSV", "inventory.csv", write::to_csv(&entries, schema)),
        ("JSON", "inventory.json", write::to_json(&entries)),
        ("YAML", "inventory.yaml", write::to_yaml(&entries)),
    ] {
        let path = dir.join(name);
        std::fs::write(&path, &text).expect("write the generated manifest");
        files.push((label.to_owned(), path, text.len() as u64));
    }
    files
}

/// The child side of `parse`: load one file, report time, count and peak RSS.
fn child_parse(path: &Path) {
    let start = Instant::now();
    let loaded = manifest::load(&[path.to_path_buf()], &ParseOptions::default());
    let secs = start.elapsed().as_secs_f64();
    let errors = loaded.diagnostics.iter().filter(|d| d.is_error()).count();
    println!(
        "{secs} {} {errors} {}",
        loaded.entries.len(),
        peak_rss_kib()
    );
}

fn run_child(args: &[&str]) -> Vec<String> {
    let exe = std::env::current_exe().expect("own path");
    // `BENCH_WRAP="heaptrack -o /tmp/plan"` (or `valgrind --tool=massif`, `perf
    // record -g`) runs the plan child under a profiler; its figures then include
    // the profiler's overhead.
    let wrap: Vec<String> = std::env::var("BENCH_WRAP")
        .ok()
        .filter(|_| args.first() == Some(&"child-plan"))
        .map(|w| w.split_whitespace().map(str::to_owned).collect())
        .unwrap_or_default();
    let mut command = match wrap.split_first() {
        Some((program, rest)) => {
            let mut c = Command::new(program);
            c.args(rest).arg(&exe);
            c
        }
        None => Command::new(&exe),
    };
    let out = command.args(args).output().expect("child runs");
    assert!(
        out.status.success(),
        "child failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The child's figures are its last line that starts with a number (a profiler
    // may print around it).
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .rev()
        .find(|l| {
            l.split_whitespace()
                .next()
                .is_some_and(|w| w.parse::<f64>().is_ok())
        })
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

fn parse_scenario(count: usize) {
    let dir = tempfile::tempdir().expect("temp dir");
    let files = write_inventory(dir.path(), count);
    println!("parse + validate, {count} connections (best of 3 runs, each in its own process)");
    println!("| format | file size | time | peak RSS | connections |");
    println!("|---|---|---|---|---|");
    for (label, path, size) in files {
        let mut best: Option<(f64, u64, String)> = None;
        for _ in 0..3 {
            let fields = run_child(&["child-parse", path.to_str().expect("utf-8 path")]);
            let secs: f64 = fields[0].parse().expect("seconds");
            let rss: u64 = fields[3].parse().expect("rss");
            assert_eq!(fields[2], "0", "the generated {label} manifest has errors");
            if best.as_ref().is_none_or(|b| secs < b.0) {
                best = Some((secs, rss, fields[1].clone()));
            }
        }
        let (secs, rss, n) = best.expect("three runs");
        println!(
            "| {label} | {:.1} MB | {:.3} s | {:.0} MB | {n} |",
            size as f64 / 1e6,
            secs,
            rss as f64 / 1024.0
        );
    }
}

// ----------------------------------------------------------------- server side

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use guacamole_testserver::state::{
    ConnectionGroupState, ConnectionState, ObjectPermission, UserGroupState, UserState,
};
use guacsync::desired::Desired;
use guacsync::diff::{self, Options};
use guacsync::guacamole::observe::{ObserveRequest, observe};
use guacsync::guacamole::{Client, ClientConfig, Credentials, Secret};
use guacsync::model::{ConnKey, Principal};

/// Secret references resolve to a fixed value (the bench sets no environment).
struct BenchLookup;

impl guacsync::secret::Lookup for BenchLookup {
    fn env(&self, _: &str) -> Result<String, guacsync::secret::ResolveError> {
        Ok("bench-secret".to_owned())
    }
    fn read_file(
        &self,
        path: &Path,
        _: &Path,
    ) -> Result<(String, String), guacsync::secret::ResolveError> {
        Err(guacsync::secret::ResolveError::File {
            path: path.to_owned(),
            reason: "no files in the benchmark".to_owned(),
        })
    }
    fn env_unrestricted(&self) -> bool {
        false
    }
}

/// A server state that already holds `entries` exactly, with the READ grants a
/// sync would make: a plan against it has no changes.
fn state_for(entries: &[Entry]) -> guacamole_testserver::State {
    let mut state = guacamole_testserver::State::default();
    let mut group_ids: BTreeMap<GroupPath, String> = BTreeMap::new();
    let mut next = 1u64;
    let mut reads: BTreeMap<(bool, String), (BTreeSet<String>, BTreeSet<String>)> = BTreeMap::new();
    for (i, e) in entries.iter().enumerate() {
        let Parent::Group(path) = &e.parent else {
            continue;
        };
        let mut parent = "ROOT".to_owned();
        for p in path.lineage() {
            let id = group_ids.entry(p.clone()).or_insert_with(|| {
                let id = next.to_string();
                next += 1;
                state.connection_groups.push(ConnectionGroupState {
                    identifier: id.clone(),
                    name: p.name().unwrap_or_default().to_owned(),
                    parent_identifier: parent.clone(),
                    group_type: "ORGANIZATIONAL".into(),
                    attributes: BTreeMap::new(),
                });
                id
            });
            parent.clone_from(id);
        }
        let id = (i + 1).to_string();
        let parameters = e
            .parameters
            .iter()
            .map(|(k, v)| {
                (
                    k.clone(),
                    if v.contains("${env:") {
                        "bench-secret".to_owned()
                    } else {
                        v.clone()
                    },
                )
            })
            .collect();
        state.connections.push(ConnectionState {
            identifier: id.clone(),
            name: e.name.clone(),
            parent_identifier: parent,
            protocol: e.protocol.clone(),
            parameters,
            attributes: e.attributes.clone(),
        });
        let lineage: Vec<String> = path
            .lineage()
            .iter()
            .filter_map(|p| group_ids.get(p).cloned())
            .collect();
        for (is_user, names) in [(true, &e.users), (false, &e.groups)] {
            for n in names {
                let r = reads.entry((is_user, n.clone())).or_default();
                r.0.insert(id.clone());
                r.1.extend(lineage.iter().cloned());
            }
        }
    }
    let read = |ids: &BTreeSet<String>| -> BTreeMap<String, BTreeSet<ObjectPermission>> {
        ids.iter()
            .map(|i| (i.clone(), [ObjectPermission::Read].into()))
            .collect()
    };
    for ((is_user, name), (conns, groups)) in reads {
        let permissions = guacamole_testserver::state::Permissions {
            connection_permissions: read(&conns),
            connection_group_permissions: read(&groups),
            ..Default::default()
        };
        if is_user {
            state.users.push(UserState {
                username: name,
                password: None,
                disabled: false,
                attributes: BTreeMap::new(),
                permissions,
                last_active: None,
                totp_secret: None,
            });
        } else {
            state.user_groups.push(UserGroupState {
                identifier: name,
                disabled: false,
                attributes: BTreeMap::new(),
                member_users: BTreeSet::new(),
                member_user_groups: BTreeSet::new(),
                permissions,
            });
        }
    }
    state
}

/// Only the users and user groups the inventory names (an "empty" server).
fn principals_for(entries: &[Entry]) -> guacamole_testserver::State {
    let mut full = state_for(entries);
    full.connection_groups.clear();
    full.connections.clear();
    for u in &mut full.users {
        u.permissions.connection_permissions.clear();
        u.permissions.connection_group_permissions.clear();
    }
    for g in &mut full.user_groups {
        g.permissions = guacamole_testserver::state::Permissions::default();
    }
    full
}

async fn start_server(
    state: guacamole_testserver::State,
    latency: Duration,
    body_limit: usize,
) -> guacamole_testserver::RunningServer {
    guacamole_testserver::start(guacamole_testserver::Config {
        state,
        latency,
        body_limit,
        log_requests: false,
        ..guacamole_testserver::Config::default()
    })
    .await
    .expect("test server starts")
}

async fn client(base: &str, concurrency: usize) -> Client {
    let config = ClientConfig {
        base_url: base.to_owned(),
        data_source: None,
        ca_cert: None,
        insecure: false,
        timeout: Duration::from_secs(120),
        concurrency,
    };
    let credentials = Credentials::Password {
        username: "guacadmin".into(),
        password: Secret::new("guacadmin"),
        totp_secret: None,
    };
    Client::connect(&config, credentials).await.expect("login")
}

fn desired(entries: &[Entry]) -> Desired {
    let (d, diags) = Desired::build(entries.to_vec(), &BenchLookup, Schema::builtin());
    assert!(diags.is_empty(), "{diags:?}");
    d
}

fn request_for(d: &Desired) -> ObserveRequest {
    let mut r = ObserveRequest::default();
    for c in &d.connections {
        if let Parent::Group(g) = &c.parent {
            r.connections.insert(ConnKey {
                group: g.clone(),
                name: c.name.clone(),
            });
        }
        r.principals
            .extend(c.users.iter().map(|u| Principal::User(u.clone())));
        r.principals
            .extend(c.groups.iter().map(|g| Principal::UserGroup(g.clone())));
    }
    r
}

/// One `plan_once` measurement.
struct PlanRun {
    changes: usize,
    requests: u64,
    secs: f64,
    /// CPU seconds of the client (the main thread: observe + diff).
    client_cpu: f64,
    /// CPU seconds of the test server's threads.
    server_cpu: f64,
}

/// Observe + diff: what `guacsync plan` does after parsing, on the main thread
/// (the test server runs on the runtime's worker threads).
async fn plan_once(
    server: &guacamole_testserver::RunningServer,
    d: &Desired,
    concurrency: usize,
    options: &Options,
) -> PlanRun {
    let c = client(server.base_url(), concurrency).await;
    let before = server.request_count();
    let cpu_before = cpu_split_ns();
    let start = Instant::now();
    let observed = observe(&c, &request_for(d), concurrency, false)
        .await
        .expect("observe");
    let plan = diff::diff(d, &observed, options, &[]).expect("plan");
    let secs = start.elapsed().as_secs_f64();
    let cpu_after = cpu_split_ns();
    let requests = server.request_count() - before;
    c.logout().await;
    let s = plan.summary;
    PlanRun {
        changes: s.add + s.change + s.remove + s.grants + s.groups,
        requests,
        secs,
        client_cpu: (cpu_after.0 - cpu_before.0) as f64 / 1e9,
        server_cpu: (cpu_after.1 - cpu_before.1) as f64 / 1e9,
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

/// The floor this machine and test server allow: the same number of GETs (the
/// tree, then every connection's parameters) from a bare loop over one keep-alive
/// pool at `concurrency`, reading each body and parsing nothing.
async fn bare_loop(
    server: &guacamole_testserver::RunningServer,
    requests: u64,
    concurrency: usize,
) -> f64 {
    use futures::StreamExt;
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::new();
    let token = server.issue_token("guacadmin");
    let base = format!("{}/api/session/data/postgresql", server.base_url());
    let ids: Vec<String> = server
        .state()
        .connections
        .iter()
        .map(|c| c.identifier.clone())
        .collect();
    let start = Instant::now();
    let get = |path: String| {
        let req = http.get(path).header("Guacamole-Token", &token);
        async move {
            let resp = req.send().await.expect("bare GET");
            resp.bytes().await.expect("bare body").len()
        }
    };
    get(format!("{base}/connectionGroups/ROOT/tree")).await;
    let paths: Vec<String> = (0..requests.saturating_sub(1))
        .map(|i| {
            let id = &ids[usize::try_from(i).unwrap_or(0) % ids.len()];
            format!("{base}/connections/{id}/parameters")
        })
        .collect();
    futures::stream::iter(paths)
        .map(get)
        .buffer_unordered(concurrency)
        .for_each(|_| async {})
        .await;
    start.elapsed().as_secs_f64()
}

/// Scenario 1: plan of 10k unchanged connections, 2 ms per request, at
/// concurrency 1, 8 and 32, against the lower bound.
fn plan_scenario(count: usize) {
    let entries = inventory(count);
    let d = desired(&entries);
    let rt = runtime();
    rt.block_on(async {
        let server = start_server(
            state_for(&entries),
            Duration::from_millis(2),
            2 * 1024 * 1024,
        )
        .await;
        println!("plan, {count} connections, no changes, 2 ms latency per request");
        println!(
            "| concurrency | requests | time | lower bound | time / bound | speed-up vs 1 | client CPU | server CPU |"
        );
        println!("|---|---|---|---|---|---|---|---|");
        let mut serial = 0.0;
        let only: Option<usize> = std::env::var("BENCH_CONCURRENCY")
            .ok()
            .and_then(|v| v.parse().ok());
        // 1 (the one-at-a-time client), the old default of 8, 16, 32 and the
        // current default: the default concurrency is chosen from these rows.
        let default = guacsync::config::DEFAULT_CONCURRENCY;
        let mut levels = vec![1usize, 8, 16, 32, default];
        levels.sort_unstable();
        levels.dedup();
        for conc in levels
            .into_iter()
            .filter(|c| only.is_none_or(|o| o == *c))
        {
            let run = plan_once(&server, &d, conc, &Options::default()).await;
            assert_eq!(run.changes, 0, "the state must match the inventory");
            let (requests, secs) = (run.requests, run.secs);
            let bound = requests as f64 / conc as f64 * 0.002;
            if conc == 1 {
                serial = secs;
            }
            let speedup = if serial > 0.0 {
                format!("{:.1}x", serial / secs)
            } else {
                "-".to_owned()
            };
            let label = if conc == default {
                format!("{conc} (default)")
            } else {
                conc.to_string()
            };
            println!(
                "| {label} | {requests} | {secs:.2} s | {bound:.2} s | {:.2}x | {speedup} | {:.2} s ({:.0} µs/request) | {:.2} s |",
                secs / bound,
                run.client_cpu,
                run.client_cpu * 1e6 / requests as f64,
                run.server_cpu,
            );
            let floor = bare_loop(&server, requests, conc).await;
            println!(
                "| {conc}, bare HTTP loop | {requests} | {floor:.2} s | {bound:.2} s | {:.2}x | | | |",
                floor / bound
            );
        }
    });
}

/// One timed sync (observe, diff, apply) at the default concurrency, printed as a
/// table row with its latency bound (requests ÷ concurrency × 2 ms, each batch one
/// request); returns the plan's change count.
async fn timed_sync(
    server: &guacamole_testserver::RunningServer,
    d: &Desired,
    options: &Options,
    label: &str,
) -> usize {
    let conc = guacsync::config::DEFAULT_CONCURRENCY;
    let c = client(server.base_url(), conc).await;
    let before = server.request_count();
    let start = Instant::now();
    let observed = observe(&c, &request_for(d), conc, false)
        .await
        .expect("observe");
    let plan = diff::diff(d, &observed, options, &[]).expect("plan");
    let planned = start.elapsed().as_secs_f64();
    guacsync::apply::apply(&plan, &c, conc)
        .await
        .expect("apply");
    let secs = start.elapsed().as_secs_f64();
    let largest = plan.batches.iter().map(|b| b.bytes).max().unwrap_or(0);
    let requests = server.request_count() - before;
    let bound = requests as f64 / conc as f64 * 0.002;
    println!(
        "| {label} | {requests} | {} | {:.3} MB | {secs:.2} s (plan {planned:.2} s, apply {:.2} s) | {bound:.2} s | {:.2}x |",
        plan.batches
            .iter()
            .filter(|b| b.kind == guacsync::kinds::Kind::Connection)
            .count(),
        largest as f64 / 1e6,
        secs - planned,
        secs / bound
    );
    c.logout().await;
    plan.summary.add + plan.summary.change
}

/// Scenarios 2 and 3: sync 10k new connections into an empty server (under a
/// 2 MiB and an 8 MiB body limit); then 100 changed out of 10k.
fn sync_scenario(count: usize) {
    let entries = inventory(count);
    let d = desired(&entries);
    let rt = runtime();
    rt.block_on(async {
        let principals = {
            let s = principals_for(&entries);
            s.users.len() + s.user_groups.len()
        };
        println!(
            "sync, {count} connections, {principals} principals, 2 ms latency per request, concurrency {}",
            guacsync::config::DEFAULT_CONCURRENCY
        );
        println!(
            "| case | requests | connection PATCHes | largest body | time | bound | time / bound |"
        );
        println!("|---|---|---|---|---|---|---|");
        for limit in [2 * 1024 * 1024, 8 * 1024 * 1024] {
            let server =
                start_server(principals_for(&entries), Duration::from_millis(2), limit).await;
            let options = Options {
                max_request_bytes: limit,
                ..Options::default()
            };
            let label = format!(
                "into an empty server, max_request_bytes {} MiB",
                limit >> 20
            );
            assert_eq!(timed_sync(&server, &d, &options, &label).await, count);
            if limit == 8 * 1024 * 1024 {
                let mut state = server.state();
                for c in state.connections.iter_mut().step_by(count / 100).take(100) {
                    c.parameters.insert("port".into(), "1".into());
                }
                server.set_state(&state).expect("state");
                let label = format!("100 changed of {count}");
                assert_eq!(timed_sync(&server, &d, &options, &label).await, 100);
            }
        }
    });
}

/// The child side of `scale`: a whole `plan` (read the CSV manifest, resolve,
/// observe, diff) against the server at `url`, each step handing its input on as
/// the CLI does (`Desired::build` consumes the parsed entries); prints time, the
/// change count and peak RSS.
fn child_plan(url: &str, manifest: &Path) {
    let rt = runtime();
    let start = Instant::now();
    let changes = rt.block_on(async {
        // The rest of what was loaded (the file's text, kept for diagnostics) is
        // dropped here, as the CLI drops it once the manifests are read.
        let entries = {
            let loaded = manifest::load(&[manifest.to_path_buf()], &ParseOptions::default());
            assert!(!loaded.has_errors());
            loaded.entries
        };
        let (d, diags) = Desired::build(entries, &BenchLookup, Schema::builtin());
        assert!(diags.is_empty(), "{diags:?}");
        let c = client(url, 8).await;
        let observed = observe(&c, &request_for(&d), 8, false)
            .await
            .expect("observe");
        let plan = diff::diff(&d, &observed, &Options::default(), &[]).expect("plan");
        c.logout().await;
        plan.summary.add + plan.summary.change + plan.summary.grants
    });
    println!(
        "{} {changes} {}",
        start.elapsed().as_secs_f64(),
        peak_rss_kib()
    );
}

/// `guacsync plan` itself (the release binary) on `csv` against `url`, with a
/// `guacsync.toml` that allows the inventory's `${env:SSH_PASSWORD}`: wall time
/// and peak RSS (from `/usr/bin/time`; `None` where it is not installed).
fn cli_plan(url: &str, csv: &Path) -> Option<(f64, f64)> {
    const TIME: &str = "/usr/bin/time";
    if !Path::new(TIME).exists() {
        return None;
    }
    let dir = tempfile::tempdir().expect("dir");
    std::fs::write(
        dir.path().join("guacsync.toml"),
        "[server]\nconcurrency = 8\n\n[secrets]\nenv = [\"SSH_PASSWORD\"]\n",
    )
    .expect("config");
    let rss = dir.path().join("rss");
    let start = Instant::now();
    let out = Command::new(TIME)
        .arg("-f")
        .arg("%M")
        .arg("-o")
        .arg(&rss)
        .arg(env!("CARGO_BIN_EXE_guacsync"))
        .args(["plan", "-q"])
        .arg(csv)
        .current_dir(dir.path())
        .env_clear()
        .env("GUACAMOLE_URL", url)
        .env("GUACAMOLE_USERNAME", "guacadmin")
        .env("GUACAMOLE_PASSWORD", "guacadmin")
        .env("SSH_PASSWORD", "bench-secret")
        .env("NO_COLOR", "1")
        .output()
        .expect("guacsync runs");
    let secs = start.elapsed().as_secs_f64();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.contains("No changes"),
        "guacsync plan: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let kib: f64 = std::fs::read_to_string(&rss)
        .expect("rss file")
        .trim()
        .parse()
        .expect("kib");
    Some((secs, kib / 1024.0))
}

/// Scenarios 5 and 6: how parse and plan grow from 1k to 100k connections (no
/// latency; the plan runs in its own process so its peak RSS is its own).
fn scale_scenario(sizes: &[usize]) {
    println!(
        "growth, no latency; plan = parse + resolve + observe + diff in one process (concurrency 8); `guacsync plan` = the release binary"
    );
    println!(
        "| connections | CSV parse | CSV parse RSS | plan | plan RSS | requests | plan time per 1k | guacsync plan | its RSS | RSS per connection |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    let rt = runtime();
    for &n in sizes {
        let entries = inventory(n);
        let dir = tempfile::tempdir().expect("dir");
        let csv = dir.path().join("inventory.csv");
        std::fs::write(&csv, write::to_csv(&entries, Schema::builtin())).expect("write");
        let parse = run_child(&["child-parse", csv.to_str().expect("utf-8")]);
        let server = rt.block_on(start_server(state_for(&entries), Duration::ZERO, 0));
        let before = server.request_count();
        let plan = run_child(&[
            "child-plan",
            server.base_url(),
            csv.to_str().expect("utf-8"),
        ]);
        let requests = server.request_count() - before;
        assert_eq!(plan[1], "0", "no changes expected");
        let plan_secs: f64 = plan[0].parse().expect("secs");
        let cli = match cli_plan(server.base_url(), &csv) {
            Some((secs, mb)) => format!(
                "{secs:.2} s | {mb:.0} MB | {:.1} kB",
                mb * 1024.0 / n as f64
            ),
            None => "- | - | -".to_owned(),
        };
        println!(
            "| {n} | {:.3} s | {:.0} MB | {plan_secs:.2} s | {:.0} MB | {requests} | {:.3} s | {cli} |",
            parse[0].parse::<f64>().expect("secs"),
            parse[3].parse::<f64>().expect("rss") / 1024.0,
            plan[2].parse::<f64>().expect("rss") / 1024.0,
            plan_secs / (n as f64 / 1000.0)
        );
        drop(server);
    }
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let count = args
        .iter()
        .position(|a| a == "--count")
        .and_then(|i| args.get(i + 1))
        .and_then(|n| n.parse().ok());
    match args.first().map(String::as_str) {
        Some("child-parse") => child_parse(Path::new(&args[1])),
        Some("child-plan") => child_plan(&args[1], Path::new(&args[2])),
        Some("parse") => parse_scenario(count.unwrap_or(100_000)),
        Some("plan") => plan_scenario(count.unwrap_or(10_000)),
        Some("sync") => sync_scenario(count.unwrap_or(10_000)),
        Some("watch") => {
            let rounds = args
                .iter()
                .position(|a| a == "--rounds")
                .and_then(|i| args.get(i + 1))
                .and_then(|n| n.parse().ok());
            watch::watch_scenario(count.unwrap_or(10_000), rounds.unwrap_or(200));
        }
        Some("nginx") => nginx::nginx_scenario(count.unwrap_or(10_000)),
        Some("scale") => match count {
            Some(n) => scale_scenario(&[n]),
            None => scale_scenario(&[1_000, 10_000, 100_000]),
        },
        Some("all") | None => {
            parse_scenario(100_000);
            println!();
            plan_scenario(10_000);
            println!();
            sync_scenario(10_000);
            println!();
            scale_scenario(&[1_000, 10_000, 100_000]);
            println!();
            watch::watch_scenario(10_000, 200);
            println!();
            nginx::nginx_scenario(10_000);
        }
        Some(other) => {
            eprintln!(
                "unknown scenario {other:?}; scenarios: parse, plan, sync, scale, watch, nginx, all"
            );
            std::process::exit(2);
        }
    }
}

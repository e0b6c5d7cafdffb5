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
#[path = "guacsync/estate.rs"]
mod estate;
#[path = "guacsync/nginx.rs"]
mod nginx;
#[path = "guacsync/plan.rs"]
mod plan;
#[path = "guacsync/scale.rs"]
mod scale;
#[path = "guacsync/sync.rs"]
mod sync;
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

/// CPU time so far (ns, from `/proc/self/task/*/schedstat`) of the client (this
/// process's main thread, the client runtime's threads `bench-client` and the tree
/// decoder `guacsync-tree`) and of every other thread (the test server's runtime
/// `testserver` and its latency timer).
fn cpu_split_ns() -> (u64, u64) {
    let me = std::process::id().to_string();
    let mut client = 0;
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
        let name = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        if task.file_name().to_str() == Some(me.as_str())
            || name.starts_with("bench-client")
            || name.starts_with("guacsync-tree")
        {
            client += ns;
        } else {
            rest += ns;
        }
    }
    (client, rest)
}

/// A realistic inventory: five protocols, three levels of groups, users and groups.
pub fn inventory(count: usize) -> Vec<Entry> {
    let protocols = ["ssh", "rdp", "vnc", "telnet", "kubernetes"];
    // The entries of one group share its path, as the manifest reader makes them
    // (`manifest::records::Sink::groups`).
    let mut paths: std::collections::HashMap<[usize; 3], GroupPath> =
        std::collections::HashMap::new();
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
                parent: Parent::Group(
                    paths
                        .entry([i % 7, (i / 7) % 13, (i / 91) % 11])
                        .or_insert_with(|| GroupPath::from_segments(vec![region, site, team]))
                        .clone(),
                ),
                parameters: parameters.into(),
                attributes: attributes.into(),
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
                    k.to_string(),
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
            attributes: e.attributes.to_btree(),
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
    start_server_with(guacamole_testserver::Config {
        state,
        latency,
        body_limit,
        log_requests: false,
        ..guacamole_testserver::Config::default()
    })
    .await
}

/// Starts the test server on its own runtime ([`server_runtime`]): its work then
/// runs on threads of its own, which [`cpu_split_ns`] counts apart from the client's.
async fn start_server_with(
    config: guacamole_testserver::Config,
) -> guacamole_testserver::RunningServer {
    server_runtime()
        .spawn(guacamole_testserver::start(config))
        .await
        .expect("the server's start task")
        .expect("test server starts")
}

/// The test server's runtime: two workers named `testserver`.
fn server_runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: std::sync::OnceLock<tokio::runtime::Runtime> = std::sync::OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("testserver")
            .enable_all()
            .build()
            .expect("server runtime")
    })
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

/// The client's runtime (the test server has its own, [`server_runtime`]).
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("bench-client")
        .enable_all()
        .build()
        .expect("runtime")
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
        Some("child-plan") => scale::child_plan(&args[1], Path::new(&args[2])),
        Some("parse") => parse_scenario(count.unwrap_or(100_000)),
        Some("plan") => plan::plan_scenario(count.unwrap_or(10_000)),
        Some("sync") => sync::sync_scenario(count.unwrap_or(10_000)),
        Some("watch") => {
            let rounds = args
                .iter()
                .position(|a| a == "--rounds")
                .and_then(|i| args.get(i + 1))
                .and_then(|n| n.parse().ok());
            watch::watch_scenario(count.unwrap_or(10_000), rounds.unwrap_or(200));
        }
        Some("nginx") => nginx::nginx_scenario(count.unwrap_or(10_000)),
        Some("estate") => estate::estate_scenario(count.unwrap_or(10_000)),
        Some("scale") => match count {
            Some(n) => scale::scale_scenario(&[n]),
            None => scale::scale_scenario(&[1_000, 10_000, 100_000]),
        },
        Some("all") | None => {
            parse_scenario(100_000);
            println!();
            plan::plan_scenario(10_000);
            println!();
            sync::sync_scenario(10_000);
            println!();
            scale::scale_scenario(&[1_000, 10_000, 100_000]);
            println!();
            watch::watch_scenario(10_000, 200);
            println!();
            nginx::nginx_scenario(10_000);
            println!();
            estate::estate_scenario(10_000);
        }
        Some(other) => {
            eprintln!(
                "unknown scenario {other:?}; scenarios: parse, plan, sync, scale, watch, nginx, estate, all"
            );
            std::process::exit(2);
        }
    }
}

//! Shared helpers of the integration tests: the test server on loopback, the real
//! `guacsync` binary, and a state with the example users and groups but no
//! connections.
#![allow(dead_code)] // each test binary uses its own subset

pub mod estate;
pub mod nginx;
pub mod watcher;

use std::path::{Path, PathBuf};
use std::process::Output;

use guacamole_testserver::state::Permissions;
use guacamole_testserver::{Config, LoggedRequest, RunningServer, State};

pub const SECRET_ENV: &str = "S3cret-From-Env-7f3a";

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The example server's users and user groups, with nothing else.
pub fn principals_only() -> State {
    let mut s = State::load(&repo().join("examples/server-state.json")).expect("example state");
    s.connection_groups.clear();
    s.connections.clear();
    s.active_connections.clear();
    s.history.clear();
    s.next_ids = None;
    for u in &mut s.users {
        u.permissions.connection_permissions.clear();
        u.permissions.connection_group_permissions.clear();
    }
    for g in &mut s.user_groups {
        g.permissions = Permissions::default();
    }
    s
}

pub async fn server(state: State) -> RunningServer {
    server_with(Config {
        state,
        prefix: "/guacamole".into(),
        ..Config::default()
    })
    .await
}

pub async fn server_with(config: Config) -> RunningServer {
    guacamole_testserver::start(config)
        .await
        .expect("test server starts")
}

/// Runs `guacsync` against `server` from the repository root (so manifest paths
/// are `examples/...`), with the example secret in the environment.
pub async fn guacsync(server: &RunningServer, args: &[&str]) -> Output {
    guacsync_in(server, &repo(), args, &[]).await
}

pub async fn guacsync_in(
    server: &RunningServer,
    dir: &Path,
    args: &[&str],
    env: &[(&str, &str)],
) -> Output {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_guacsync"));
    cmd.current_dir(dir)
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("GUACAMOLE_URL", server.base_url())
        .env("GUACAMOLE_USERNAME", "guacadmin")
        .env("GUACAMOLE_PASSWORD", "guacadmin")
        .env("DB_SSH_PASSWORD", SECRET_ENV)
        .env("NO_COLOR", "1");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().await.expect("guacsync runs")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// `METHOD path` of each request, with the data-source prefix shortened to `ds/`.
pub fn summary(log: &[LoggedRequest]) -> Vec<String> {
    log.iter()
        .map(|r| {
            format!(
                "{} {}",
                r.method,
                r.path.replace("/api/session/data/postgresql/", "ds/")
            )
        })
        .collect()
}

/// Requests that change something (session login/logout excluded).
pub fn writes(log: &[LoggedRequest]) -> Vec<String> {
    let changes: Vec<LoggedRequest> = log.iter().filter(|r| !is_probe(r)).cloned().collect();
    summary(&changes)
        .into_iter()
        .filter(|r| {
            !r.starts_with("GET ")
                && !r.starts_with("POST /api/tokens")
                && !r.starts_with("DELETE /api/tokens/")
        })
        .collect()
}

/// The empty directory PATCH (`[]`) every plan sends to find out whether the
/// server applies batches atomically: it changes nothing.
pub fn is_probe(r: &LoggedRequest) -> bool {
    r.method == "PATCH" && r.body.trim() == "[]"
}

/// The diagnostic codes in guacsync's text output (`severity[code]`), sorted, once
/// each.
pub fn diagnostic_codes(stderr: &str) -> Vec<String> {
    let mut out = Vec::new();
    for severity in ["error[", "warning["] {
        for (i, _) in stderr.match_indices(severity) {
            let rest = &stderr[i + severity.len()..];
            if let Some(end) = rest.find(']') {
                out.push(rest[..end].to_owned());
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

//! Token release on every exit path (issue 16 item 3): SIGINT and SIGTERM during
//! the observe of `plan`, `sync` and `export`, a signal while an apply is in
//! flight, an error, and a panic all end with `DELETE /api/tokens/{t}`, after
//! which the token no longer works.

mod common;

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::*;
use guacamole_testserver::{Fault, FaultRule, LoggedRequest, RunningServer};

fn manifests(dir: &Path) {
    std::fs::create_dir_all(dir.join("manifests")).expect("mkdir");
    std::fs::write(
        dir.join("manifests/a.yaml"),
        "- {name: a, protocol: ssh, group: ROOT/X, parameters: {hostname: a.example.com}, users: [alice]}\n",
    )
    .expect("write");
}

fn spawn(server: &RunningServer, dir: &Path, args: &[&str]) -> tokio::process::Child {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_guacsync"))
        .current_dir(dir)
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("GUACAMOLE_URL", server.base_url())
        .env("GUACAMOLE_USERNAME", "guacadmin")
        .env("GUACAMOLE_PASSWORD", "guacadmin")
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("guacsync starts")
}

/// Waits until the server has seen a request matching `method` and `path_part`.
async fn wait_for(server: &RunningServer, method: &str, path_part: &str) -> LoggedRequest {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(r) = server
            .requests()
            .into_iter()
            .find(|r| r.method == method && r.path.contains(path_part))
        {
            return r;
        }
        assert!(Instant::now() < deadline, "no {method} {path_part} arrived");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The token was released (`DELETE /api/tokens/{token}`) and no longer works.
async fn assert_released(server: &RunningServer, token: &str) {
    let deleted = server
        .requests()
        .iter()
        .any(|r| r.method == "DELETE" && r.path == format!("/api/tokens/{token}"));
    assert!(deleted, "{:?}", summary(&server.requests()));
    assert!(!token_works(server, token).await, "the token still works");
}

fn token_header(r: &LoggedRequest) -> String {
    r.headers
        .get("guacamole-token")
        .cloned()
        .expect("the request carries the token")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signal_during_observe_releases_the_token() {
    for (command, signal, code) in [
        ("plan", "INT", 130),
        ("sync", "TERM", 143),
        ("export", "INT", 130),
        ("plan", "TERM", 143),
    ] {
        let server = server(principals_only()).await;
        let dir = tempfile::tempdir().expect("dir");
        manifests(dir.path());
        server.set_faults(vec![FaultRule::on(
            "GET",
            "/tree",
            Fault::Latency { ms: 4000 },
        )]);
        let args: Vec<&str> = if command == "export" {
            vec![command]
        } else {
            vec![command, "manifests"]
        };
        let child = spawn(&server, dir.path(), &args);
        let tree = wait_for(&server, "GET", "/tree").await;
        let token = token_header(&tree);
        assert!(token_works(&server, &token).await);
        kill(&child, signal);
        let out = tokio::time::timeout(Duration::from_secs(20), child.wait_with_output())
            .await
            .expect("exits in time")
            .expect("output");
        assert_eq!(out.status.code(), Some(code), "{command}: {}", stderr(&out));
        assert!(
            stderr(&out).contains(&format!("stopped by SIG{signal}; nothing was changed")),
            "{command}: {}",
            stderr(&out)
        );
        assert_released(&server, &token).await;
        assert_eq!(
            writes(&server.requests()),
            Vec::<String>::new(),
            "{command}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signal_during_apply_finishes_the_apply_then_releases_the_token() {
    let server = server(principals_only()).await;
    let dir = tempfile::tempdir().expect("dir");
    manifests(dir.path());
    server.set_faults(vec![FaultRule::on(
        "PATCH",
        "/connections",
        Fault::Latency { ms: 1500 },
    )]);
    let child = spawn(&server, dir.path(), &["sync", "manifests"]);
    let patch = wait_for(&server, "PATCH", "/connections").await;
    let token = token_header(&patch);
    kill(&child, "INT");
    let out = tokio::time::timeout(Duration::from_secs(20), child.wait_with_output())
        .await
        .expect("exits in time")
        .expect("output");
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(130), "{err}");
    assert!(
        err.contains("SIGINT: finishing the apply in flight"),
        "{err}"
    );
    assert!(err.contains("Applied:"), "{err}");
    assert!(err.contains("after the apply in flight finished"), "{err}");
    // The whole plan was applied: the connection and alice's READ on it.
    let state = server.state();
    assert_eq!(state.connections.len(), 1);
    let alice = state
        .users
        .iter()
        .find(|u| u.username == "alice")
        .expect("alice");
    assert!(
        !alice.permissions.connection_permissions.is_empty(),
        "the permission step ran too"
    );
    assert_released(&server, &token).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signal_during_the_login_waits_for_its_token_and_releases_it() {
    let server = server(principals_only()).await;
    let dir = tempfile::tempdir().expect("dir");
    manifests(dir.path());
    server.set_faults(vec![FaultRule::on(
        "POST",
        "/api/tokens",
        Fault::Latency { ms: 1500 },
    )]);
    let child = spawn(&server, dir.path(), &["plan", "manifests"]);
    wait_for(&server, "POST", "/api/tokens").await;
    kill(&child, "TERM");
    let out = tokio::time::timeout(Duration::from_secs(20), child.wait_with_output())
        .await
        .expect("exits in time")
        .expect("output");
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(143), "{err}");
    assert!(
        err.contains("SIGTERM: waiting for the login's answer")
            && err.contains(
                "stopped by SIGTERM after the request in flight finished; nothing was changed"
            ),
        "{err}"
    );
    // The token the login answered with is released, and nothing else was read.
    let log = server.requests();
    let released: Vec<&str> = log
        .iter()
        .filter(|r| r.method == "DELETE")
        .filter_map(|r| r.path.strip_prefix("/api/tokens/"))
        .collect();
    assert_eq!(released.len(), 1, "{:?}", summary(&log));
    assert!(!token_works(&server, released[0]).await);
    assert_eq!(
        summary(&log),
        vec![
            "POST /api/tokens".to_owned(),
            format!("DELETE /api/tokens/{}", released[0])
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_error_releases_the_token() {
    let server = server(principals_only()).await;
    let dir = tempfile::tempdir().expect("dir");
    manifests(dir.path());
    let mut rule = FaultRule::on(
        "GET",
        "/tree",
        Fault::Status {
            code: 500,
            message: None,
        },
    );
    rule.times = 100;
    server.set_faults(vec![rule]);
    let out = guacsync_in(&server, dir.path(), &["plan", "manifests"], &[]).await;
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let tree = wait_for(&server, "GET", "/tree").await;
    assert_released(&server, &token_header(&tree)).await;
}

/// A panic anywhere in a command: the library's runner releases the session it
/// registered and exits 101. (No input makes today's binary panic, so the runner
/// the binary uses is driven with a command that panics after logging in.)
#[test]
fn a_panic_releases_the_token() {
    use guacsync::guacamole::{Client, ClientConfig, Credentials, Secret};
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let server = rt.block_on(server(principals_only()));
    let config = ClientConfig {
        base_url: server.base_url().to_owned(),
        data_source: None,
        ca_cert: None,
        insecure: false,
        timeout: Duration::from_secs(10),
        concurrency: 2,
    };
    let code = guacsync::cli::interrupt::run(
        &rt,
        async {
            let client = Client::connect(
                &config,
                Credentials::Password {
                    username: "guacadmin".into(),
                    password: Secret::new("guacadmin"),
                    totp_secret: None,
                },
            )
            .await
            .expect("login");
            guacsync::cli::interrupt::register(&client);
            let _: serde_json::Value = client
                .get(&client.ds_path("self"))
                .await
                .expect("a request with the token");
            panic!("a bug");
        },
        true,
    )
    .expect("a panic is not an error value");
    assert_eq!(code, std::process::ExitCode::from(101));
    let log = server.requests();
    let used = log
        .iter()
        .find(|r| r.path.ends_with("/self"))
        .expect("the request was sent");
    let token = token_header(used);
    rt.block_on(assert_released(&server, &token));
}

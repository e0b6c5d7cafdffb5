//! The sweep's `watch` runs: text and JSON logs while applying, with /healthz and
//! /metrics scraped while the server echoes the PATCH body in its errors, then a
//! watcher with a wrong password whose logins are refused.

use std::time::Duration;

use guacamole_testserver::{Fault, FaultRule, RunningServer};

use super::fixture::{
    CHANGED_PASSWORD, CONFIG, CSV_PASSWORD, MANIFESTS, WRONG_PASSWORD, write_manifests,
};
use super::sweep::{Captured, Logs, Sweep, contains, http_get};

/// Runs them, each stopped by SIGTERM.
#[allow(clippy::too_many_lines)] // one family of commands, read top to bottom
pub(crate) async fn run(s: &mut Sweep, server: &RunningServer) {
    let d = s.dir.path().to_path_buf();
    let (m, c) = (MANIFESTS, CONFIG);
    // watch, text and JSON logs, applying, then SIGTERM; its /healthz and /metrics
    // scraped while the server echoes the PATCH body in its errors.
    for format in ["text", "json"] {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let health = format!("127.0.0.1:{port}");
        let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_guacsync"));
        cmd.current_dir(&d)
            .args([
                "watch",
                m,
                "--config",
                c,
                "--apply",
                "--interval",
                "1s",
                "--settle",
                "200ms",
                "--log-format",
                format,
                "--health-addr",
                &health,
                "-v",
            ])
            .env_clear()
            .kill_on_drop(true);
        for (k, v) in Sweep::base_env(server) {
            cmd.env(k, v);
        }
        let logs = Logs::attach(&mut cmd);
        let child = cmd.spawn().expect("watch starts");
        tokio::time::sleep(Duration::from_millis(1500)).await;
        write_manifests(&d, CSV_PASSWORD);
        server.set_faults(vec![FaultRule::on(
            "PATCH",
            "/connections",
            Fault::Echo { code: 400 },
        )]);
        tokio::time::sleep(Duration::from_millis(2500)).await;
        for path in ["/healthz", "/metrics"] {
            let bytes = http_get(&health, path).await;
            assert!(!bytes.is_empty(), "{path} answered");
            s.outputs.push(Captured {
                label: format!("watch {format} {path}"),
                bytes,
            });
        }
        server.set_faults(Vec::new());
        tokio::time::sleep(Duration::from_millis(1500)).await;
        if let Some(pid) = child.id() {
            let _ = std::process::Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status();
        }
        let out = logs.finish(child).await;
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!out.stdout.is_empty(), "watch logged nothing");
        // The round lines name the changes (the changed password's connection).
        assert!(
            contains(&out.stdout, "~ connection ROOT/"),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
        s.keep(&format!("watch {format}"), &out);
        write_manifests(&d, CHANGED_PASSWORD);
    }

    // watch with a wrong password: refused logins, paced (a 1 s ban duration).
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_guacsync"));
    cmd.current_dir(&d)
        .args([
            "watch",
            m,
            "--config",
            c,
            "--settle",
            "0s",
            "--ban-address-duration",
            "1s",
            "--log-format",
            "json",
            "-v",
        ])
        .env_clear()
        .kill_on_drop(true);
    for (k, v) in Sweep::base_env(server) {
        cmd.env(k, v);
    }
    cmd.env("GUACAMOLE_PASSWORD", WRONG_PASSWORD);
    let logs = Logs::attach(&mut cmd);
    let child = cmd.spawn().expect("watch starts");
    tokio::time::sleep(Duration::from_secs(2)).await;
    if let Some(pid) = child.id() {
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status();
    }
    let out = logs.finish(child).await;
    assert!(
        contains(&out.stdout, "login-refused"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    s.keep("watch, wrong password", &out);
}

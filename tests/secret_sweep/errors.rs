//! The sweep's error paths: syntax errors on the lines that hold literal secrets,
//! an unresolved reference, a wrong password the server echoes back, `${file:}`
//! references outside the allowed roots (refused before anything is sent), and a
//! SIGINT during the observe.

use std::process::Stdio;
use std::time::Duration;

use guacamole_testserver::{Fault, FaultRule, RunningServer};

use super::fixture::{
    CONFIG, CSV_PASSWORD, ESTATE_PASSWORD, MANIFESTS, OUTSIDE_SECRET, WRONG_PASSWORD, YAML_PASSWORD,
};
use super::sweep::Sweep;

/// Runs them; the fault of the SIGINT run is cleared on the way out.
#[allow(clippy::too_many_lines, clippy::many_single_char_names)] // one family of commands, read top to bottom
pub(crate) async fn run(s: &mut Sweep, server: &RunningServer) {
    let d = s.dir.path().to_path_buf();
    let (m, c) = (MANIFESTS, CONFIG);
    // Error paths.
    // A syntax error on the line that holds a literal secret.
    let bad = d.join("bad");
    std::fs::create_dir_all(&bad).expect("mkdir");
    std::fs::write(
        bad.join("broken.csv"),
        format!("name,protocol,password\nweb,ssh,\"{CSV_PASSWORD}\n"),
    )
    .expect("write");
    std::fs::write(
        bad.join("broken.yaml"),
        format!("- name: a\n  protocol: ssh\n  parameters: {{password: {YAML_PASSWORD}\n"),
    )
    .expect("write");
    std::fs::write(
        bad.join("broken-estate.yaml"),
        format!("users:\n  - {{username: a, password: {ESTATE_PASSWORD}\n"),
    )
    .expect("write");
    s.run(server, "validate broken", &["validate", "bad"], &[], &[])
        .await;
    s.run(
        server,
        "validate broken json",
        &["validate", "bad", "--format", "json"],
        &[],
        &[],
    )
    .await;
    s.run(server, "plan broken", &["plan", "bad"], &[], &[])
        .await;
    // An unresolved reference.
    s.run(
        server,
        "plan unset env",
        &["plan", m, "--config", c],
        &[],
        &["SWEEP_ENV"],
    )
    .await;
    // A wrong password, also echoed back by the server.
    s.run(
        server,
        "wrong password",
        &["plan", m, "--config", c],
        &[("GUACAMOLE_PASSWORD", WRONG_PASSWORD)],
        &[],
    )
    .await;
    // `${file:}` outside the allowed roots (the sweep directory holds the
    // configuration and is no repository): a file beside it, a symlink into it
    // leading there, and guacsync's own password file inside it. Each is refused
    // before anything is sent, and its content appears nowhere.
    let outside = tempfile::tempdir().expect("tempdir");
    std::fs::write(outside.path().join("pw"), format!("{OUTSIDE_SECRET}\n")).expect("write");
    let refs = d.join("refs");
    std::fs::create_dir_all(&refs).expect("mkdir");
    std::os::unix::fs::symlink(outside.path().join("pw"), d.join("secrets/escape"))
        .expect("symlink");
    for (label, reference, env, unset) in [
        (
            "file outside the roots",
            format!("${{file:{}}}", outside.path().join("pw").display()),
            vec![],
            vec![],
        ),
        (
            "symlink out of the roots",
            "${file:../secrets/escape}".to_owned(),
            vec![],
            vec![],
        ),
        (
            "guacsync's password file",
            "${file:../password.txt}".to_owned(),
            vec![("GUACAMOLE_PASSWORD_FILE", "password.txt")],
            vec!["GUACAMOLE_PASSWORD"],
        ),
    ] {
        std::fs::write(
            refs.join("ref.yaml"),
            format!("- name: exfil\n  protocol: ssh\n  group: ROOT/Prod\n  parameters:\n    hostname: attacker.example.net\n    password: \"{reference}\"\n"),
        )
        .expect("write");
        // (The request log is kept whole: its tokens are swept at the end.)
        let sent = server.requests().len();
        let o = s
            .run(
                server,
                label,
                &["plan", "refs", "--config", c],
                &env,
                &unset,
            )
            .await;
        assert_eq!(o.status.code(), Some(1), "{label}");
        assert!(
            String::from_utf8_lossy(&o.stderr).contains("error[secret-not-allowed]"),
            "{label}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert_eq!(server.requests().len(), sent, "{label}: nothing is sent");
    }
    std::fs::remove_file(d.join("secrets/escape")).expect("rm");
    // A signal during the observe: the message on the way out holds nothing.
    server.set_faults(vec![FaultRule::on(
        "GET",
        "/tree",
        Fault::Latency { ms: 3000 },
    )]);
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_guacsync"));
    cmd.current_dir(&d)
        .args(["plan", m, "--config", c, "-vv"])
        .env_clear()
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    for (k, v) in Sweep::base_env(server) {
        cmd.env(k, v);
    }
    let sent = server.requests().len();
    let child = cmd.spawn().expect("plan starts");
    while !server.requests()[sent..]
        .iter()
        .any(|r| r.path.ends_with("/tree"))
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let _ = std::process::Command::new("kill")
        .args(["-INT", &child.id().expect("running").to_string()])
        .status();
    let out = tokio::time::timeout(Duration::from_secs(20), child.wait_with_output())
        .await
        .expect("plan exits")
        .expect("output");
    assert_eq!(
        out.status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&out.stderr)
            .lines()
            .rev()
            .take(20)
            .collect::<Vec<_>>()
            .join("\n")
    );
    s.keep("SIGINT during observe", &out);
    server.set_faults(Vec::new());
}

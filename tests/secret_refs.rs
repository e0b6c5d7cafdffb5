//! What `${env:}` and `${file:}` may name (issue 16 item 2, DESIGN.md §2 "Secret
//! references"), through the binary: each refused reference is an error at its
//! manifest line with nothing sent to the server, none blocks or is read whole,
//! and every plan lists the references it resolved (names and paths, never
//! values).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::Duration;

use common::*;
use guacamole_testserver::RunningServer;

const ADMIN_PW: &str = "Admin-Pw-For-Refs-31c1";
const DB_PW: &str = "Db-Pw-Allowed-77aa";
const KEY: &str = "Key-Body-In-File-5e5e";

/// A repository (`.git`) holding `manifests/` and `secrets/`, and a directory
/// beside it that is no part of it.
struct Layout {
    _tmp: tempfile::TempDir,
    repo: PathBuf,
    outside: PathBuf,
}

fn layout() -> Layout {
    let tmp = tempfile::tempdir().expect("dir");
    let repo = tmp.path().join("repo");
    let outside = tmp.path().join("outside");
    for d in [
        repo.join(".git"),
        repo.join("manifests"),
        repo.join("secrets"),
        outside.clone(),
    ] {
        std::fs::create_dir_all(d).expect("mkdir");
    }
    std::fs::write(repo.join("secrets/db.key"), format!("{KEY}\n")).expect("write");
    std::fs::write(repo.join("secrets/admin-pw"), format!("{ADMIN_PW}\n")).expect("write");
    std::fs::write(outside.join("pw.txt"), "outside-secret\n").expect("write");
    Layout {
        _tmp: tmp,
        repo,
        outside,
    }
}

fn manifest(repo: &Path, password: &str) {
    std::fs::write(
        repo.join("manifests/web.yaml"),
        format!(
            "- name: web\n  protocol: ssh\n  group: ROOT/Refs\n  parameters:\n    hostname: attacker.example.net\n    password: \"{password}\"\n"
        ),
    )
    .expect("write");
}

/// Runs guacsync in `dir`, killed if it takes longer than 30 s (a read that
/// blocks must fail the test, not hang it).
async fn run(server: &RunningServer, dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_guacsync"));
    cmd.current_dir(dir)
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("GUACAMOLE_URL", server.base_url())
        .env("GUACAMOLE_USERNAME", "guacadmin")
        .env("GUACAMOLE_PASSWORD", "guacadmin")
        .env("DB_PW", DB_PW)
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let child = cmd.spawn().expect("guacsync starts");
    tokio::time::timeout(Duration::from_secs(30), child.wait_with_output())
        .await
        .expect("guacsync must not block on a secret file")
        .expect("output")
}

/// `plan` refuses the reference at the manifest's line with `needle` in the
/// reason, sends nothing, and prints no secret.
async fn refused(server: &RunningServer, repo: &Path, env: &[(&str, &str)], needle: &str) {
    server.clear_requests();
    let out = run(server, repo, &["plan", "manifests"], env).await;
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("manifests/web.yaml:") && err.contains("error[secret-not-allowed]"),
        "{err}"
    );
    assert!(err.contains(needle), "{needle:?} not in: {err}");
    assert!(err.contains("nothing was sent to the server"), "{err}");
    assert!(
        server.requests().is_empty(),
        "{:?}",
        summary(&server.requests())
    );
    for secret in [ADMIN_PW, "outside-secret", KEY] {
        assert!(
            !err.contains(secret) && !stdout(&out).contains(secret),
            "{secret}: {err}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guacsyncs_own_credentials_are_refused_by_file_and_by_value() {
    let server = server(principals_only()).await;
    let l = layout();
    let pw_file = l.repo.join("secrets/admin-pw");
    let pw_file = pw_file.to_str().expect("utf-8");
    let creds = [
        ("GUACAMOLE_PASSWORD", ""),
        ("GUACAMOLE_PASSWORD_FILE", pw_file),
    ];
    // The password file itself, although it lies inside the repository.
    manifest(&l.repo, "${file:../secrets/admin-pw}");
    refused(
        &server,
        &l.repo,
        &creds,
        "guacsync's own credential file (GUACAMOLE_PASSWORD_FILE)",
    )
    .await;
    // Through a symlink to it.
    std::os::unix::fs::symlink(pw_file, l.repo.join("secrets/innocent")).expect("symlink");
    manifest(&l.repo, "${file:../secrets/innocent}");
    refused(&server, &l.repo, &creds, "guacsync's own credential file").await;
    // A copy of it, and a variable holding the same value.
    std::fs::copy(pw_file, l.repo.join("secrets/copy")).expect("copy");
    manifest(&l.repo, "${file:../secrets/copy}");
    refused(
        &server,
        &l.repo,
        &creds,
        "the same value as guacsync's own credentials",
    )
    .await;
    manifest(&l.repo, "${env:ADMIN_COPY}");
    refused(
        &server,
        &l.repo,
        &[("GUACAMOLE_PASSWORD", ADMIN_PW), ("ADMIN_COPY", ADMIN_PW)],
        "the same value as guacsync's own credentials",
    )
    .await;
    // guacsync's own variables are refused when the manifest is read.
    manifest(&l.repo, "${env:GUACSYNC_CONFIG}");
    let out = run(&server, &l.repo, &["validate", "manifests"], &[]).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("error[invalid-secret-reference]"),
        "{}",
        stderr(&out)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kernel_files_devices_fifos_and_large_files_are_refused_without_reading_them() {
    let server = server(principals_only()).await;
    let l = layout();
    manifest(&l.repo, "${file:/proc/self/environ}");
    refused(&server, &l.repo, &[], "a kernel or device file").await;
    manifest(&l.repo, "${file:/dev/zero}");
    refused(&server, &l.repo, &[], "a kernel or device file").await;
    // A FIFO inside the allowed directory: refused by its metadata, never opened
    // (opening it would wait for a writer forever).
    let fifo = l.repo.join("secrets/pipe");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo runs");
    assert!(made.success());
    manifest(&l.repo, "${file:../secrets/pipe}");
    refused(&server, &l.repo, &[], "not a regular file").await;
    // 65 KiB: over the limit. 64 KiB exactly: read (and then too long for a
    // parameter value, which Guacamole stores in at most 4096 characters).
    std::fs::write(l.repo.join("secrets/big"), "x".repeat(65 * 1024)).expect("write");
    manifest(&l.repo, "${file:../secrets/big}");
    refused(
        &server,
        &l.repo,
        &[],
        "it is 66560 bytes; a secret file may hold at most 65536",
    )
    .await;
    std::fs::write(l.repo.join("secrets/big"), "x".repeat(64 * 1024)).expect("write");
    let out = run(&server, &l.repo, &["plan", "manifests"], &[]).await;
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(!err.contains("a secret file may hold at most"), "{err}");
    assert!(
        err.contains("error[value-too-long]") && err.contains("${file:secrets/big}"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_must_resolve_inside_the_allowed_directories() {
    let server = server(principals_only()).await;
    let l = layout();
    // Default (no [secrets]): the repository of the manifests.
    manifest(&l.repo, "${file:../../outside/pw.txt}");
    refused(&server, &l.repo, &[], "only files inside").await;
    // A symlink inside the repository that leads out of it.
    std::os::unix::fs::symlink(l.outside.join("pw.txt"), l.repo.join("secrets/escape"))
        .expect("symlink");
    manifest(&l.repo, "${file:../secrets/escape}");
    refused(&server, &l.repo, &[], "(symlinks followed)").await;
    // Inside the repository: accepted, and listed by path, never by value.
    manifest(&l.repo, "${file:../secrets/db.key}");
    let out = run(&server, &l.repo, &["plan", "manifests"], &[]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("Secrets used (values never shown):\n  file secrets/db.key    1 use, at manifests/web.yaml:1"), "{text}");
    assert!(!text.contains(KEY), "{text}");
    // [secrets] files lists directories relative to the configuration.
    std::fs::write(
        l.repo.join("guacsync.toml"),
        "[secrets]\nenv = []\nfiles = [\"secrets\"]\n",
    )
    .expect("write");
    std::fs::write(l.repo.join("root-secret"), "in the repo, not in secrets/\n").expect("write");
    manifest(&l.repo, "${file:../root-secret}");
    refused(
        &server,
        &l.repo,
        &[],
        "[secrets] files in guacsync.toml allows only",
    )
    .await;
    manifest(&l.repo, "${file:../secrets/db.key}");
    let out = run(&server, &l.repo, &["plan", "manifests"], &[]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        !stdout(&out).contains("no [secrets] section"),
        "no warning with a [secrets] section"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn env_names_and_globs() {
    let server = server(principals_only()).await;
    let l = layout();
    // Default: any variable, with a warning in every plan (text, markdown, JSON).
    manifest(&l.repo, "${env:DB_PW}");
    for format in ["text", "markdown", "json"] {
        let out = run(
            &server,
            &l.repo,
            &["plan", "manifests", "--format", format],
            &[],
        )
        .await;
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let text = stdout(&out);
        assert!(text.contains("no [secrets] section"), "{format}: {text}");
        assert!(
            text.contains("DB_PW") && !text.contains(DB_PW),
            "{format}: {text}"
        );
        if format == "json" {
            let plan: serde_json::Value = serde_json::from_str(&text).expect("json");
            assert_eq!(
                plan["secrets_used"],
                serde_json::json!([{"kind": "env", "name": "DB_PW", "uses": 1, "first_use": "manifests/web.yaml:1"}])
            );
        }
    }
    std::fs::write(
        l.repo.join("guacsync.toml"),
        "[secrets]\nenv = [\"DB_*\"]\n",
    )
    .expect("write");
    let out = run(&server, &l.repo, &["plan", "manifests"], &[]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(!stdout(&out).contains("no [secrets] section"));
    manifest(&l.repo, "${env:WEB_PW}");
    refused(
        &server,
        &l.repo,
        &[("WEB_PW", "web")],
        "WEB_PW is not allowed by [secrets] env in guacsync.toml (DB_*)",
    )
    .await;
    // Files are not allowed at all by a section that lists none.
    manifest(&l.repo, "${file:../secrets/db.key}");
    refused(&server, &l.repo, &[], "allows no directory").await;
    // A pattern naming guacsync's own variables is a configuration error.
    std::fs::write(
        l.repo.join("guacsync.toml"),
        "[secrets]\nenv = [\"GUACAMOLE_*\"]\n",
    )
    .expect("write");
    let out = run(&server, &l.repo, &["plan", "manifests"], &[]).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains(
            "guacsync.toml: [secrets] env \"GUACAMOLE_*\": it names guacsync's own variables"
        ),
        "{}",
        stderr(&out)
    );
}

/// A `${file:}` may hold up to 64 KiB, but Guacamole stores at most 4096
/// characters in a parameter value (1.6.0 answers 413, 1.5.x fails in the
/// database part way): a longer resolved value is an error at the reference's
/// line naming the file, never the value, before anything is sent, for `plan`
/// and `sync` alike; 4096 characters exactly are fine.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resolved_value_over_4096_characters_is_refused_before_anything_is_sent() {
    let server = server(principals_only()).await;
    let l = layout();
    std::fs::write(
        l.repo.join("guacsync.toml"),
        "[secrets]\nfiles = [\"secrets\"]\n",
    )
    .expect("write");
    // 4097 characters: the marker, then filler (a trailing newline is trimmed).
    let long = format!("{KEY}{}", "k".repeat(4097 - KEY.len()));
    std::fs::write(l.repo.join("secrets/big.key"), format!("{long}\n")).expect("write");
    manifest(&l.repo, "${file:../secrets/big.key}");
    for command in ["plan", "sync"] {
        server.clear_requests();
        let out = run(&server, &l.repo, &[command, "manifests"], &[]).await;
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{command}: {err}");
        assert!(
            err.contains("manifests/web.yaml:1") && err.contains("error[value-too-long]"),
            "{command}: {err}"
        );
        assert!(
            err.contains(
                "connection \"web\", parameter \"password\": the value of ${file:secrets/big.key} is longer than 4096 characters once resolved"
            ),
            "{command}: {err}"
        );
        assert!(err.contains("nothing was sent to the server"), "{err}");
        assert!(
            server.requests().is_empty(),
            "{command}: {:?}",
            summary(&server.requests())
        );
        assert!(
            !err.contains(KEY) && !stdout(&out).contains(KEY),
            "{command}: {err}"
        );
    }
    // At the limit it is planned and applied.
    let exact = format!("{KEY}{}", "k".repeat(4096 - KEY.len()));
    std::fs::write(l.repo.join("secrets/big.key"), format!("{exact}\n")).expect("write");
    let out = run(&server, &l.repo, &["sync", "manifests"], &[]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let state = server.state();
    let web = state
        .connections
        .iter()
        .find(|c| c.name == "web")
        .expect("web");
    assert_eq!(web.parameters.get("password"), Some(&exact));
}

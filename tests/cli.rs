//! The command line itself, through the real binary: help texts (credentials and
//! exit codes; no server options on `validate`), where server options may be
//! written, `--version`, shell completions and man pages.

mod common;

use std::path::Path;
use std::process::Output;

use common::{SECRET_ENV, repo};

const SERVER_FLAGS: &[&str] = &[
    "--url",
    "--data-source",
    "--state",
    "--concurrency",
    "--insecure",
    "--timeout",
];

fn run_in(dir: &Path, args: &[&str]) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_guacsync"))
        .current_dir(dir)
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DB_SSH_PASSWORD", SECRET_ENV)
        .env("NO_COLOR", "1")
        .output()
        .expect("guacsync runs")
}

fn run(args: &[&str]) -> Output {
    run_in(&repo(), args)
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn help_lists_credential_variables_and_exit_codes() {
    for args in [
        &["--help"][..],
        &["plan", "--help"],
        &["sync", "--help"],
        &["export", "--help"],
        &["watch", "--help"],
    ] {
        let out = run(args);
        assert_eq!(out.status.code(), Some(0), "{args:?}");
        let help = stdout(&out);
        for var in [
            "GUACAMOLE_USERNAME",
            "GUACAMOLE_PASSWORD",
            "GUACAMOLE_TOTP_SECRET",
            "GUACAMOLE_TOKEN",
            "NAME_FILE",
            "GUACAMOLE_URL",
            "GUACSYNC_CONFIG",
        ] {
            assert!(help.contains(var), "{args:?} --help lacks {var}:\n{help}");
        }
    }
    for args in [&["--help"][..], &["plan", "--help"], &["sync", "--help"]] {
        let help = stdout(&run(args));
        assert!(help.contains("Exit codes:"), "{args:?}:\n{help}");
        for line in [
            "0  success: no changes, or the changes were applied",
            "1  error",
            "2  changes present (plan and sync with --detailed-exitcode)",
        ] {
            assert!(help.contains(line), "{args:?} lacks {line:?}:\n{help}");
        }
    }
}

#[test]
fn server_options_only_on_commands_that_use_them() {
    let validate = stdout(&run(&["validate", "--help"]));
    for flag in SERVER_FLAGS {
        assert!(
            !validate.contains(flag),
            "validate --help shows {flag}:\n{validate}"
        );
    }
    let offers = |help: &str, flag: &str| help.lines().any(|l| l.trim_start().starts_with(flag));
    assert!(validate.contains("--strict") && validate.contains("--config"));
    assert!(!validate.contains("GUACAMOLE_PASSWORD"), "{validate}");
    for command in ["plan", "sync", "export", "watch"] {
        let help = stdout(&run(&[command, "--help"]));
        for flag in SERVER_FLAGS {
            assert!(offers(&help, flag), "{command} --help lacks {flag}");
        }
        assert!(help.contains("Server options:"), "{command}");
    }
    // The top level keeps the old spelling working but does not advertise it.
    let top = stdout(&run(&["--help"]));
    for flag in SERVER_FLAGS {
        assert!(!offers(&top, flag), "--help shows {flag}:\n{top}");
    }
}

#[test]
fn server_options_work_before_and_after_the_command_name() {
    let state = "examples/server-state.json";
    let config = "examples/guacsync.toml";
    let after = run(&[
        "plan",
        "examples/manifests",
        "--config",
        config,
        "--state",
        state,
        "--timeout",
        "30",
    ]);
    assert_eq!(after.status.code(), Some(0), "{}", stderr(&after));
    let before = run(&[
        "--state",
        state,
        "--timeout",
        "30",
        "plan",
        "examples/manifests",
        "--config",
        config,
    ]);
    assert_eq!(before.status.code(), Some(0), "{}", stderr(&before));
    assert!(stdout(&after).contains("to add"), "{}", stdout(&after));
    assert_eq!(stdout(&before), stdout(&after));
    let mixed = run(&[
        "--state",
        state,
        "plan",
        "examples/manifests",
        "--config",
        config,
        "--timeout=30",
    ]);
    assert_eq!(stdout(&mixed), stdout(&after), "{}", stderr(&mixed));

    let twice = run(&["--state", state, "plan", "--state", state]);
    assert_eq!(twice.status.code(), Some(1));
    assert!(
        stderr(&twice).contains("--state is given both before and after `plan`"),
        "{}",
        stderr(&twice)
    );
    let unused = run(&[
        "--url",
        "http://127.0.0.1:9",
        "validate",
        "examples/manifests",
    ]);
    assert_eq!(unused.status.code(), Some(1));
    assert!(
        stderr(&unused).contains("`guacsync validate` does not contact a server: remove --url"),
        "{}",
        stderr(&unused)
    );
    let rejected = run(&["validate", "--url", "http://127.0.0.1:9"]);
    assert_eq!(rejected.status.code(), Some(1));
    assert!(stderr(&rejected).contains("--url"), "{}", stderr(&rejected));
}

#[test]
fn version_names_the_commit_it_was_built_from() {
    let out = run(&["--version"]);
    assert_eq!(out.status.code(), Some(0));
    let line = stdout(&out);
    let rest = line
        .strip_prefix(concat!("guacsync ", env!("CARGO_PKG_VERSION"), " (commit "))
        .unwrap_or_else(|| panic!("unexpected version line {line:?}"));
    let commit = rest.trim_end().strip_suffix(')').expect("closing paren");
    // A build from a checkout with uncommitted changes says so.
    let (commit, modified) = match commit.strip_suffix("-modified") {
        Some(c) => (c, true),
        None => (commit, false),
    };
    assert!(
        commit == "unknown"
            || (commit.len() >= 12 && commit.chars().all(|c| c.is_ascii_hexdigit())),
        "{commit:?}"
    );
    let dirty = std::process::Command::new("git")
        .args([
            "status",
            "--porcelain",
            "--untracked-files=no",
            "--",
            "src",
            "testserver/src",
            "Cargo.toml",
            "Cargo.lock",
            "build.rs",
        ])
        .current_dir(repo())
        .output()
        .is_ok_and(|o| o.status.success() && !o.stdout.is_empty());
    if dirty && option_env!("GUACSYNC_BUILD_COMMIT").is_none() {
        assert!(
            modified,
            "built from changed sources but not said: {line:?}"
        );
    }
    // In a git checkout (CI's clone, a worktree) it is this checkout's HEAD,
    // unless the build was told otherwise.
    let head = std::process::Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(repo())
        .output();
    if let Ok(head) = head
        && head.status.success()
        && option_env!("GUACSYNC_BUILD_COMMIT").is_none()
    {
        assert_eq!(commit, String::from_utf8_lossy(&head.stdout).trim());
    }
    let short = run(&["-V"]);
    assert_eq!(stdout(&short), line);
}

/// Runs `shell -n` on a script when that shell is installed: a syntax check.
fn syntax_check(shell: &str, flag: &str, script: &str) {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("completion");
    std::fs::write(&path, script).expect("write");
    let Ok(out) = std::process::Command::new(shell)
        .arg(flag)
        .arg(&path)
        .output()
    else {
        return; // not installed here
    };
    assert!(
        out.status.success(),
        "{shell} {flag}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn completions_for_every_shell() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let out = run(&["completions", shell]);
        assert_eq!(out.status.code(), Some(0), "{shell}: {}", stderr(&out));
        let script = stdout(&out);
        // fish writes long options as `-l name`.
        for word in [
            "guacsync",
            "validate",
            "export",
            "detailed-exitcode",
            "full-plan-url",
        ] {
            assert!(script.contains(word), "{shell} completion lacks {word}");
        }
        match shell {
            "bash" => syntax_check("bash", "-n", &script),
            "zsh" => syntax_check("zsh", "-n", &script),
            "fish" => syntax_check("fish", "--no-execute", &script),
            _ => {}
        }
    }
    let bad = run(&["completions", "tcsh"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(stderr(&bad).contains("possible values"), "{}", stderr(&bad));
}

#[test]
fn man_pages_are_generated() {
    let out = run(&["man"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let page = stdout(&out);
    assert!(page.contains(".TH guacsync 1"), "{page}");
    for needle in [
        ".SH NAME",
        ".SH SYNOPSIS",
        "validate",
        "GUACAMOLE_PASSWORD",
        "Exit codes",
    ] {
        assert!(page.contains(needle), "man page lacks {needle}");
    }
    let dir = tempfile::tempdir().expect("dir");
    let target = dir.path().join("man1");
    let out = run(&["man", "--dir", target.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let mut names: Vec<String> = std::fs::read_dir(&target)
        .expect("dir written")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "guacsync-completions.1",
            "guacsync-export.1",
            "guacsync-man.1",
            "guacsync-plan.1",
            "guacsync-sync.1",
            "guacsync-validate.1",
            "guacsync-watch.1",
            "guacsync.1"
        ]
    );
    let plan = std::fs::read_to_string(target.join("guacsync-plan.1")).expect("read");
    assert!(plan.contains(".TH guacsync-plan 1"), "{plan}");
    assert!(plan.contains("detailed\\-exitcode"), "{plan}");
    let validate = std::fs::read_to_string(target.join("guacsync-validate.1")).expect("read");
    assert!(!validate.contains("\\-\\-url"), "{validate}");
}

//! Which `guacsync.toml` a command reads (DESIGN.md §3), through the binary
//! against the test server: from a subdirectory of a git repository, with
//! `GUACSYNC_CONFIG` and `--config`, named files that are missing (nothing is
//! sent), and outside a repository. The file's settings must take effect, not
//! only be named: its scope makes a manifest entry outside it an error.

mod common;

use std::path::Path;

use common::*;

const MANIFEST: &str =
    "- {name: web-1, protocol: ssh, group: ROOT/Prod, parameters: {hostname: 10.0.0.1}}\n";

/// A configuration whose scope excludes the manifest's connection.
const EXCLUDING: &str = "[scope]\ngroups = [\"ROOT/Lab\"]\n";

/// `dir/manifests/web.yaml`.
fn manifests(dir: &Path) -> String {
    std::fs::create_dir_all(dir.join("manifests")).expect("mkdir");
    std::fs::write(dir.join("manifests/web.yaml"), MANIFEST).expect("write");
    dir.join("manifests").display().to_string()
}

fn excluded(stderr: &str) -> bool {
    stderr.contains("outside every scope group")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn found_from_a_subdirectory_of_a_git_repository() {
    let server = server(principals_only()).await;
    let t = tempfile::tempdir().expect("dir");
    let repo = t.path().join("repo");
    let deep = repo.join("envs/prod");
    std::fs::create_dir_all(&deep).expect("mkdir");
    std::fs::create_dir(repo.join(".git")).expect("mkdir");
    let m = manifests(&repo);
    // Above the repository root: never read.
    std::fs::write(t.path().join("guacsync.toml"), EXCLUDING).expect("write");
    let out = guacsync_in(&server, &deep, &["plan", &m], &[]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!(
            "note: no configuration file (no guacsync.toml from {} up to the repository root {}); using the defaults",
            deep.display(),
            repo.display()
        )),
        "{}",
        stderr(&out)
    );

    std::fs::write(repo.join("guacsync.toml"), EXCLUDING).expect("write");
    let out = guacsync_in(&server, &deep, &["plan", &m], &[]).await;
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).starts_with("note: configuration ../../guacsync.toml\n"),
        "{}",
        stderr(&out)
    );
    assert!(excluded(&stderr(&out)), "{}", stderr(&out));

    // -q hides the note, not the error.
    let out = guacsync_in(&server, &deep, &["plan", &m, "-q"], &[]).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(!stderr(&out).contains("note:"), "{}", stderr(&out));
    assert!(excluded(&stderr(&out)));

    // A worktree's `.git` is a file; the search stops there just the same.
    std::fs::remove_dir(repo.join(".git")).expect("rm");
    std::fs::write(repo.join(".git"), "gitdir: /nowhere\n").expect("write");
    let out = guacsync_in(&server, &deep, &["plan", &m], &[]).await;
    assert!(
        stderr(&out).starts_with("note: configuration ../../guacsync.toml\n"),
        "{}",
        stderr(&out)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guacsync_config_and_the_flag_name_the_file() {
    let server = server(principals_only()).await;
    let t = tempfile::tempdir().expect("dir");
    std::fs::create_dir(t.path().join(".git")).expect("mkdir");
    let m = manifests(t.path());
    let elsewhere = t.path().join("conf/excluding.toml");
    std::fs::create_dir_all(elsewhere.parent().expect("parent")).expect("mkdir");
    std::fs::write(&elsewhere, EXCLUDING).expect("write");
    let named = elsewhere.display().to_string();
    // A discovered file that would allow the plan is overridden by the variable.
    std::fs::write(t.path().join("guacsync.toml"), "").expect("write");
    let out = guacsync_in(
        &server,
        t.path(),
        &["plan", &m],
        &[("GUACSYNC_CONFIG", &named)],
    )
    .await;
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).starts_with(&format!("note: configuration {named} (GUACSYNC_CONFIG)\n")),
        "{}",
        stderr(&out)
    );
    assert!(excluded(&stderr(&out)));
    // --config wins over the variable.
    let out = guacsync_in(
        &server,
        t.path(),
        &["plan", &m, "--config", "guacsync.toml"],
        &[("GUACSYNC_CONFIG", &named)],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).starts_with("note: configuration guacsync.toml (--config)\n"),
        "{}",
        stderr(&out)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_named_files_are_errors_and_nothing_is_sent() {
    let server = server(principals_only()).await;
    let t = tempfile::tempdir().expect("dir");
    let m = manifests(t.path());
    std::fs::write(t.path().join("guacsync.toml"), "").expect("write");
    server.clear_requests();
    let out = guacsync_in(
        &server,
        t.path(),
        &["sync", &m, "--config", "nope.toml"],
        &[],
    )
    .await;
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out),
        "error: the configuration file nope.toml named by --config does not exist\n"
    );
    let out = guacsync_in(
        &server,
        t.path(),
        &["sync", &m],
        &[("GUACSYNC_CONFIG", "/nowhere/guacsync.toml")],
    )
    .await;
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out),
        "error: the configuration file /nowhere/guacsync.toml named by GUACSYNC_CONFIG does not exist\n"
    );
    assert!(
        server.requests().is_empty(),
        "{:?}",
        summary(&server.requests())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outside_a_repository_only_the_current_directory_counts() {
    let server = server(principals_only()).await;
    let t = tempfile::tempdir().expect("dir");
    // The temporary directory must not lie inside a git repository itself.
    if t.path().ancestors().any(|d| d.join(".git").exists()) {
        return;
    }
    let sub = t.path().join("sub");
    std::fs::create_dir(&sub).expect("mkdir");
    let m = manifests(t.path());
    std::fs::write(t.path().join("guacsync.toml"), EXCLUDING).expect("write");
    let out = guacsync_in(&server, &sub, &["plan", &m], &[]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!(
            "note: no configuration file (no guacsync.toml in {}, which is in no git repository); using the defaults",
            sub.display()
        )),
        "{}",
        stderr(&out)
    );
    let out = guacsync_in(&server, t.path(), &["plan", &m], &[]).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).starts_with("note: configuration guacsync.toml\n"));
    assert!(excluded(&stderr(&out)));
}

//! `guacsync export --out`: the format follows the file's extension (a YAML file
//! named `.csv` was written before, which `plan` then rejected), a contradicting
//! `--format` is an error, nothing existing is replaced without `--force`, and a
//! `--scope` that names no group is an error naming it. Errors write nothing.

mod common;

use std::path::Path;

use common::*;

const EXAMPLES: &str = "examples/manifests";

/// A server holding the example manifests, and an empty working directory.
async fn synced() -> (guacamole_testserver::RunningServer, tempfile::TempDir) {
    let server = server(principals_only()).await;
    let out = guacsync(&server, &["sync", EXAMPLES, "-q"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    server.clear_requests();
    (server, tempfile::tempdir().expect("dir"))
}

async fn export(
    server: &guacamole_testserver::RunningServer,
    dir: &Path,
    args: &[&str],
) -> std::process::Output {
    let mut all = vec!["export", "--secrets", "include"];
    all.extend_from_slice(args);
    guacsync_in(server, dir, &all, &[]).await
}

async fn plans_no_changes(server: &guacamole_testserver::RunningServer, dir: &Path, path: &str) {
    let plan = guacsync_in(server, dir, &["plan", path, "--detailed-exitcode"], &[]).await;
    assert_eq!(
        plan.status.code(),
        Some(0),
        "{path}: {}{}",
        stdout(&plan),
        stderr(&plan)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_extension_decides_the_format() {
    let (server, dir) = synced().await;
    let out = export(&server, dir.path(), &["--out", "all.csv"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let csv = std::fs::read_to_string(dir.path().join("all.csv")).expect("written");
    assert!(csv.starts_with("name,protocol,"), "{csv}");
    plans_no_changes(&server, dir.path(), "all.csv").await;

    let out = export(&server, dir.path(), &["--out", "all.json"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("all.json")).expect("written"))
            .expect("JSON");
    assert_eq!(json.as_array().map(Vec::len), Some(11));
    plans_no_changes(&server, dir.path(), "all.json").await;

    let out = export(&server, dir.path(), &["--out", "all.yml"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let yaml = std::fs::read_to_string(dir.path().join("all.yml")).expect("written");
    assert!(
        yaml.starts_with("- name:") || yaml.starts_with('#'),
        "{yaml}"
    );

    // The same --format as the extension is fine; state documents are .json.
    let out = export(
        &server,
        dir.path(),
        &["--out", "again.csv", "--format", "csv"],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = export(
        &server,
        dir.path(),
        &["--out", "state.json", "--format", "state"],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    guacamole_testserver::State::load(&dir.path().join("state.json")).expect("a state document");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contradictions_and_unknown_extensions_are_refused_before_reading() {
    let (server, dir) = synced().await;
    for (args, message) in [
        (
            &["--out", "x.csv", "--format", "json"][..],
            "--out x.csv is CSV by its extension, but --format json was given",
        ),
        (
            &["--out", "x.yaml", "--format", "state"],
            "--out x.yaml is YAML by its extension, but --format state was given",
        ),
        (
            &["--out", "x.txt"],
            "--out x.txt: guacsync reads manifests ending in .yaml, .yml, .json or .csv",
        ),
        (
            &["--out", "dir/", "--format", "state"],
            "a state document is one file",
        ),
    ] {
        let out = export(&server, dir.path(), args).await;
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert!(stderr(&out).contains(message), "{args:?}: {}", stderr(&out));
    }
    assert_eq!(std::fs::read_dir(dir.path()).expect("dir").count(), 0);
    assert!(
        server.requests().is_empty(),
        "{:?}",
        summary(&server.requests())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn existing_files_need_force() {
    let (server, dir) = synced().await;
    std::fs::write(dir.path().join("all.yaml"), "keep me\n").expect("write");
    let out = export(&server, dir.path(), &["--out", "all.yaml"]).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("all.yaml exists; add --force to replace it"),
        "{}",
        stderr(&out)
    );
    assert!(
        server.requests().is_empty(),
        "refused before reading the server"
    );
    let out = export(&server, dir.path(), &["--out", "all.yaml", "--force"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_ne!(
        std::fs::read_to_string(dir.path().join("all.yaml")).expect("read"),
        "keep me\n"
    );

    // A directory: the files it would write are checked, all before any is written.
    let out = export(&server, dir.path(), &["--out", "split"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let written = std::fs::read_dir(dir.path().join("split"))
        .expect("a directory")
        .count();
    assert_eq!(written, 3, "one file per top-level group");
    std::fs::write(dir.path().join("split/Prod.yaml"), "keep me\n").expect("write");
    let out = export(&server, dir.path(), &["--out", "split/"]).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("exist"), "{}", stderr(&out));
    assert!(stderr(&out).contains("--force"), "{}", stderr(&out));
    assert_eq!(
        std::fs::read_to_string(dir.path().join("split/Prod.yaml")).expect("read"),
        "keep me\n"
    );
    let out = export(&server, dir.path(), &["--out", "split/", "--force"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    plans_no_changes(&server, dir.path(), "split").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_scope_is_an_error_naming_it() {
    let (server, dir) = synced().await;
    for format in ["yaml", "state"] {
        let out = export(
            &server,
            dir.path(),
            &[
                "--scope",
                "ROOT/Nope",
                "--format",
                format,
                "--out",
                "x.json",
            ],
        )
        .await;
        if format == "yaml" {
            // x.json is JSON by its extension: the conflict comes first.
            assert_eq!(out.status.code(), Some(1));
            continue;
        }
        assert_eq!(out.status.code(), Some(1), "{format}");
        assert!(
            stderr(&out).contains(
                "--scope ROOT/Nope: there is no connection group ROOT/Nope on the server"
            ),
            "{format}: {}",
            stderr(&out)
        );
    }
    let out = export(&server, dir.path(), &["--scope", "ROOT/Nope"]).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("--scope ROOT/Nope: there is no connection group ROOT/Nope"),
        "{}",
        stderr(&out)
    );
    assert!(stdout(&out).is_empty(), "{}", stdout(&out));
    let out = export(
        &server,
        dir.path(),
        &["--scope", "ROOT/Prd", "--out", "p.yaml"],
    )
    .await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("(did you mean ROOT/Prod?)"),
        "{}",
        stderr(&out)
    );
    assert_eq!(std::fs::read_dir(dir.path()).expect("dir").count(), 0);
    // A scope that exists exports only its connections.
    let out = export(
        &server,
        dir.path(),
        &["--scope", "ROOT/Lab", "--out", "lab.json"],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("lab.json")).expect("written"))
            .expect("JSON");
    assert!(
        json.as_array().expect("a list").iter().all(|c| c["group"]
            .as_str()
            .is_some_and(|g| g.starts_with("ROOT/Lab"))),
        "{json}"
    );
}

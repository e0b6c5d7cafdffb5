//! `guacsync export` round trips (issue "export and watch"): a server seeded with
//! 1,000 connections over all five protocols, nested groups, users and user groups
//! with awkward names, exported in every format, plans to no changes.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::*;
use serde_json::{Value, json};

/// 1,000 connections: five protocols, three levels of groups (one name with `/`),
/// names with dots, multi-line values, Guacamole tokens, users and user groups
/// whose names hold `/` and `;`.
fn seed_manifest() -> (Value, BTreeMap<String, String>) {
    let protocols = ["ssh", "rdp", "vnc", "telnet", "kubernetes"];
    let mut list = Vec::new();
    let mut secrets = BTreeMap::new();
    for i in 0..1000 {
        let protocol = protocols[i % 5];
        let region = ["EMEA/APAC", "Americas", "Lab.v2"][i % 3];
        let group = format!(
            "ROOT/{}/Site {}/Rack-{}",
            region.replace('/', "\\/"),
            i % 7,
            i % 4
        );
        let name = format!("host.{i:04}.example");
        let mut parameters =
            json!({"hostname": format!("10.{}.{}.{}", i % 250, i % 17, i % 11), "port": "22"});
        if protocol == "ssh" || protocol == "rdp" || protocol == "vnc" {
            let pw = format!("pw-{i}-s3cr3t");
            parameters["password"] = json!(pw);
            secrets.insert(name.clone(), pw);
        }
        match protocol {
            "ssh" => {
                parameters["username"] = json!("${GUAC_USERNAME}");
                parameters["command"] = json!("echo one\necho two\n");
            }
            "rdp" => parameters["initial-program"] = json!("C:\\tools\\start.cmd\r\nline two"),
            "telnet" => parameters["login-success-regex"] = json!("^\\$ "),
            "kubernetes" => parameters["namespace"] = json!(format!("ns-{}", i % 9)),
            _ => {}
        }
        let users = vec![format!("user.{}", i % 40), "ops/admin".to_owned()];
        let groups = vec![["team;eu", "team/us", "dba"][i % 3].to_owned()];
        let mut entry = json!({"name": name, "protocol": protocol, "group": group, "parameters": parameters, "users": users, "groups": groups});
        if i % 10 == 0 {
            entry["attributes"] = json!({"max-connections": "3", "failover-only": "true"});
        }
        list.push(entry);
    }
    (Value::Array(list), secrets)
}

async fn seeded() -> (
    guacamole_testserver::RunningServer,
    tempfile::TempDir,
    BTreeMap<String, String>,
) {
    // "ops/admin" and "team/us" need `%2F` in request paths: a Tomcat configured
    // with encodedSolidusHandling="passthrough" (a stock one refuses them).
    let server = server_with(guacamole_testserver::Config {
        state: guacamole_testserver::State::default(),
        prefix: "/guacamole".into(),
        path_rules: guacamole_testserver::answers::PathRules {
            allow_encoded_slash: true,
            allow_encoded_backslash: false,
        },
        ..guacamole_testserver::Config::default()
    })
    .await;
    let dir = tempfile::tempdir().expect("dir");
    let (manifest, secrets) = seed_manifest();
    std::fs::create_dir(dir.path().join("seed")).expect("mkdir");
    std::fs::write(
        dir.path().join("seed/all.json"),
        serde_json::to_string_pretty(&manifest).expect("json"),
    )
    .expect("write");
    std::fs::write(
        dir.path().join("create.toml"),
        "[sync]\ncreate_principals = true\n",
    )
    .expect("write");
    let out = guacsync_in(
        &server,
        dir.path(),
        &["sync", "seed", "--config", "create.toml", "-q"],
        &[],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(server.state().connections.len(), 1000);
    (server, dir, secrets)
}

fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .expect("dir")
        .filter_map(Result::ok)
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).expect("read"),
            )
        })
        .collect()
}

/// Exports a directory in `format` and checks that it plans to no changes and that
/// a second export is byte-identical.
async fn round_trip(server: &guacamole_testserver::RunningServer, dir: &Path, format: &str) {
    let out_dir = format!("export-{format}/");
    let args = [
        "export",
        "--format",
        format,
        "--secrets",
        "include",
        "--out",
        &out_dir,
    ];
    let out = guacsync_in(server, dir, &args, &[]).await;
    assert_eq!(out.status.code(), Some(0), "{format}: {}", stderr(&out));
    let written = files(&dir.join(&out_dir));
    assert_eq!(
        written.len(),
        3,
        "one file per top-level group: {:?}",
        written.keys()
    );
    let plan = guacsync_in(server, dir, &["plan", &out_dir, "--detailed-exitcode"], &[]).await;
    assert_eq!(
        plan.status.code(),
        Some(0),
        "{format}: {}{}",
        stdout(&plan),
        stderr(&plan)
    );
    assert!(stdout(&plan).contains("No changes."));
    // Re-exporting an unchanged server is byte-identical.
    let again_dir = format!("again-{format}/");
    let args = [
        "export",
        "--format",
        format,
        "--secrets",
        "include",
        "--out",
        &again_dir,
    ];
    assert_eq!(
        guacsync_in(server, dir, &args, &[]).await.status.code(),
        Some(0)
    );
    assert_eq!(
        files(&dir.join(&again_dir)),
        written,
        "{format}: not byte-identical"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn round_trip_every_format_plans_no_changes() {
    let (server, dir, _) = seeded().await;
    for format in ["yaml", "json", "csv"] {
        round_trip(&server, dir.path(), format).await;
    }
    // One file, and the state format.
    let args = ["export", "--secrets", "include", "--out", "one.yaml"];
    assert_eq!(
        guacsync_in(&server, dir.path(), &args, &[])
            .await
            .status
            .code(),
        Some(0)
    );
    let plan = guacsync_in(
        &server,
        dir.path(),
        &["plan", "one.yaml", "--detailed-exitcode"],
        &[],
    )
    .await;
    assert_eq!(plan.status.code(), Some(0), "{}", stdout(&plan));
    let args = [
        "export",
        "--format",
        "state",
        "--secrets",
        "include",
        "--out",
        "state.json",
    ];
    let state = guacsync_in(&server, dir.path(), &args, &[]).await;
    assert_eq!(state.status.code(), Some(0), "{}", stderr(&state));
    let loaded =
        guacamole_testserver::State::load(&dir.path().join("state.json")).expect("a valid state");
    assert_eq!(loaded.connections.len(), 1000);
    // The exported manifests against the exported state: no changes either.
    let against_state = tokio::process::Command::new(env!("CARGO_BIN_EXE_guacsync"))
        .current_dir(dir.path())
        .args([
            "plan",
            "export-yaml",
            "--state",
            "state.json",
            "--detailed-exitcode",
        ])
        .env_clear()
        .env("GUACAMOLE_USERNAME", "guacadmin")
        .output()
        .await
        .expect("runs");
    assert_eq!(
        against_state.status.code(),
        Some(0),
        "{}{}",
        stdout(&against_state),
        stderr(&against_state)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn env_ref_names_are_listed_and_setting_them_gives_no_changes() {
    let (server, dir, secrets) = seeded().await;
    let out = guacsync_in(
        &server,
        dir.path(),
        &["export", "--secrets", "env-ref", "--out", "refs/"],
        &[],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let err = stderr(&out);
    for secret in secrets.values() {
        assert!(!err.contains(secret.as_str()));
    }
    let mut env: Vec<(String, String)> = Vec::new();
    for line in err.lines().filter(|l| l.starts_with("  GUAC_")) {
        let (name, rest) = line.trim().split_once('\t').expect("NAME\\tKEY PARAM");
        let conn = rest.rsplit_once(' ').map(|(k, _)| k).expect("key");
        let conn_name = conn.rsplit('/').next().expect("name");
        env.push((name.to_owned(), secrets[conn_name].clone()));
    }
    assert_eq!(env.len(), secrets.len());
    let written: String = files(&dir.path().join("refs"))
        .into_values()
        .map(|b| String::from_utf8(b).expect("utf-8"))
        .collect();
    for secret in secrets.values() {
        assert!(!written.contains(secret.as_str()), "a secret was written");
    }
    let env_refs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let plan = guacsync_in(
        &server,
        dir.path(),
        &["plan", "refs", "--detailed-exitcode"],
        &env_refs,
    )
    .await;
    assert_eq!(
        plan.status.code(),
        Some(0),
        "{}{}",
        stdout(&plan),
        stderr(&plan)
    );
    // Without them, the plan fails before contacting the server.
    let missing = guacsync_in(&server, dir.path(), &["plan", "refs"], &[]).await;
    assert_eq!(missing.status.code(), Some(1));
    assert!(stderr(&missing).contains("is not set"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn omit_leaves_secrets_out_and_says_which() {
    let (server, dir, secrets) = seeded().await;
    let out = guacsync_in(
        &server,
        dir.path(),
        &["export", "--scope", "ROOT/Americas"],
        &[],
    )
    .await;
    assert_eq!(out.status.code(), Some(0));
    let text = stdout(&out);
    assert!(
        text.starts_with("# Sensitive parameters left out of this export"),
        "{}",
        &text[..200]
    );
    for secret in secrets.values() {
        assert!(!text.contains(secret.as_str()));
    }
    assert!(stderr(&out).contains("sensitive parameter value(s) were left out"));
    assert!(!text.contains("EMEA"), "scoped to ROOT/Americas");
}

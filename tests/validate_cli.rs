//! `guacsync validate` through the real binary: exact JSON for the bundled examples,
//! exact diagnostics for bad files, exit codes.

use assert_cmd::Command;

fn guacsync() -> Command {
    let mut cmd = Command::cargo_bin("guacsync").expect("binary built");
    cmd.env_remove("NO_COLOR");
    cmd
}

#[test]
fn examples_validate_as_normalised_json() {
    let out = guacsync()
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["validate", "examples/manifests", "--format", "json"])
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).expect("utf-8");
    serde_json::from_str::<serde_json::Value>(&stdout).expect("JSON on stdout");
    // The exact bytes, field order included (DESIGN.md §2).
    insta::assert_snapshot!("examples_normalised", stdout);
}

#[test]
fn examples_validate_as_text() {
    guacsync()
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["validate", "examples/manifests"])
        .assert()
        .success()
        .stdout("11 connections, 1 connection groups, 1 sharing profiles, 7 user groups, 7 users in 4 files: 0 errors, 0 warnings\n")
        .stderr("");
}

#[test]
fn bad_files_give_exact_diagnostics_and_exit_1() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        dir.path().join("a.csv"),
        "name,protocol,group,hostname,password\nweb,SSH,Prod,h,hunter2\n,ssh,Prod,h,x\nok,ssh,Prod,h\n",
    )
    .expect("write");
    std::fs::write(
        dir.path().join("b.yaml"),
        "- name: db\n  protocol: ssh\n  parameters:\n    hostnme: db1\n    password: ${env:}\n",
    )
    .expect("write");
    std::fs::write(
        dir.path().join("c.json"),
        "[{\"name\": \"x\", \"protocol\": \"vnc\"},]",
    )
    .expect("write");
    let out = guacsync()
        .current_dir(dir.path())
        .args(["validate", "."])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr).expect("utf-8");
    let expected = "\
./a.csv:2:5: error[unknown-protocol]: unknown protocol \"SSH\"
2 | web,SSH,Prod,h,********
  |     ^
  = help: did you mean `ssh`? (protocol names are case-sensitive)
./a.csv:3:1: error[missing-name]: this connection has no name
3 | ,ssh,Prod,h,********
  | ^
./a.csv:4:1: error[csv-record-length]: this row has 4 cells, but the header has 5
  | (source line not shown: this file holds secrets)
  = help: every row needs exactly one cell per header column; quote cells that contain commas
./b.yaml:4:5: warning[unknown-parameter]: \"hostnme\" is not a parameter of protocol ssh
4 |     hostnme: ********
  |     ^
  = help: did you mean `hostname`?
./b.yaml:5:15: error[invalid-secret-reference]: parameter \"password\": empty secret reference `${env:}`
5 |     password: ********
  |               ^
  = help: write `${env:NAME}` or `${file:PATH}`; `$${` escapes a literal `${`
./c.json:1:35: error[json-syntax]: expected a JSON value, found `]`
1 | [{\"name\": \"x\", \"protocol\": \"vnc\"},]
  |                                   ^
";
    assert_eq!(stderr, expected);
    assert_eq!(
        String::from_utf8(out.stdout).expect("utf-8"),
        "0 connections in 3 files: 5 errors, 1 warning\n"
    );
    assert!(!stderr.contains("hunter2"));
}

#[test]
fn json_output_even_with_errors() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        dir.path().join("a.csv"),
        "name,protocol\nweb,ssh\nweb,ssh\n",
    )
    .expect("write");
    let out = guacsync()
        .current_dir(dir.path())
        .args(["validate", "a.csv", "--format", "json"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(json["connections"].as_array().map(Vec::len), Some(1));
    assert_eq!(json["diagnostics"][0]["code"], "duplicate-connection");
    assert_eq!(json["diagnostics"][0]["line"], 3);
    assert_eq!(json["diagnostics"][0]["help"], "first declared at a.csv:2");
}

#[test]
fn strict_makes_unknown_names_errors() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        dir.path().join("a.json"),
        r#"[{"name":"a","protocol":"ssh","parameters":{"hostnme":"h"}}]"#,
    )
    .expect("write");
    guacsync()
        .current_dir(dir.path())
        .args(["validate", "a.json"])
        .assert()
        .success();
    guacsync()
        .current_dir(dir.path())
        .args(["validate", "a.json", "--strict"])
        .assert()
        .code(1);
}

#[test]
fn missing_path_and_usage_errors_exit_1() {
    guacsync()
        .args(["validate", "/nonexistent/manifests"])
        .assert()
        .code(1);
    guacsync()
        .args(["validate", "--format", "xml"])
        .assert()
        .code(1);
    guacsync().args(["--help"]).assert().success();
}

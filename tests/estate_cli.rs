//! Estate documents through the real binary: `validate` prints the bundled example
//! as the normalised document (exact bytes) and a summary; errors render with
//! their source lines, secrets masked; `plan` plans an estate document's
//! connections and its other kinds.

use assert_cmd::Command;

fn guacsync() -> Command {
    let mut cmd = Command::cargo_bin("guacsync").expect("binary built");
    cmd.env_remove("NO_COLOR");
    cmd
}

#[test]
fn the_example_estate_validates_as_normalised_json() {
    let out = guacsync()
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "validate",
            "examples/manifests/estate.yaml",
            "--format",
            "json",
            "--strict",
        ])
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).expect("utf-8");
    serde_json::from_str::<serde_json::Value>(&stdout).expect("JSON on stdout");
    // DESIGN.md §2's document, then one list per estate kind, then diagnostics.
    let at: Vec<usize> = [
        "connections",
        "connectionGroups",
        "sharingProfiles",
        "userGroups",
        "users",
        "diagnostics",
    ]
    .iter()
    .map(|k| stdout.find(&format!("\n  \"{k}\":")).expect(k))
    .collect();
    assert!(at.windows(2).all(|w| w[0] < w[1]), "{at:?}");
    // The exact bytes: sorted lists, canonical paths, references as written.
    insta::assert_snapshot!("example_estate_normalised", stdout);
}

#[test]
fn the_example_estate_and_manifests_validate_as_text() {
    guacsync()
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["validate", "examples/manifests"])
        .assert()
        .success()
        .stdout("11 connections, 1 connection groups, 1 sharing profiles, 7 user groups, 7 users in 4 files: 0 errors, 0 warnings\n")
        .stderr("");
}

const TOTP_KEY: &str = "JBSWY3DPEHPK3PXPQRST";
const PASSWORD: &str = "Literal-Estate-Pw-5e5e";

#[test]
fn errors_render_with_source_lines_and_secrets_stay_hidden() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        dir.path().join("estate.yaml"),
        format!(
            "users:\n  - username: alice\n    password: {PASSWORD}\n    attributes: {{guac-totp-key-secret: {TOTP_KEY}, valid-until: '2027-02-30'}}\n    system: [ADMINSTER]\nsharingProfiles:\n  - {{connection: ROOT/Prod/web-1, name: w, parameters: {{pasword: {PASSWORD}}}}}\n"
        ),
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
./estate.yaml:3:15: warning[literal-password]: the password is written in the document
3 |     password: ********
  |               ^
  = help: write `${env:NAME}` or `${file:PATH}` so that it is not kept in git
./estate.yaml:4:18: warning[unknown-attribute]: \"guac-totp-key-secret\" is not a user attribute of the JDBC data source
4 |     attributes: {guac-totp-key-secret: ********, valid-until: '2027-02-30'}
  |                  ^
  = help: the server drops unknown attributes when it creates a user, unless an extension declares them
./estate.yaml:4:75: error[invalid-attribute-value]: attribute \"valid-until\" must be a date written YYYY-MM-DD (Guacamole's DateField format)
4 |     attributes: {guac-totp-key-secret: ********, valid-until: '2027-02-30'}
  |                                                               ^
  = help: Guacamole ignores any other value silently, so the user would never match
./estate.yaml:5:14: error[unknown-permission]: \"ADMINSTER\" is not a system permission
5 |     system: [ADMINSTER]
  |              ^
  = help: did you mean `ADMINISTER`?
./estate.yaml:7:57: warning[unknown-parameter]: \"pasword\" is not a sharing profile parameter
7 |   - {connection: ROOT/Prod/web-1, name: w, parameters: {pasword: ********}}
  |                                                         ^
  = help: sharing profiles take `read-only`
";
    assert_eq!(stderr, expected);
    assert_eq!(
        String::from_utf8(out.stdout).expect("utf-8"),
        "0 connections, 0 connection groups, 1 sharing profiles, 0 user groups, 0 users in 1 files: 2 errors, 3 warnings\n"
    );

    // JSON: the sharing profile is kept (warnings only), its unknown parameter
    // shown as sensitive; a valid user shows its literal password the same way.
    std::fs::write(
        dir.path().join("estate.yaml"),
        format!(
            "users:\n  - username: alice\n    password: {PASSWORD}\n    attributes: {{guac-totp-key-secret: {TOTP_KEY}, timezone: ~}}\n  - username: bob\n    password: ${{env:BOB_PW}}\n    system: []\nsharingProfiles:\n  - {{connection: ROOT/Prod/web-1, name: w, parameters: {{pasword: {PASSWORD}}}}}\n"
        ),
    )
    .expect("write");
    let out = guacsync()
        .current_dir(dir.path())
        .args(["validate", ".", "--format", "json"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8(out.stdout).expect("utf-8");
    assert!(
        !stdout.contains(PASSWORD) && !stdout.contains(TOTP_KEY),
        "{stdout}"
    );
    let json: serde_json::Value = serde_json::from_str(&stdout).expect("JSON");
    let alice = &json["users"][0];
    assert_eq!(alice["password"], "(sensitive)");
    assert_eq!(alice["attributes"]["guac-totp-key-secret"], "(sensitive)");
    assert!(alice["attributes"]["timezone"].is_null(), "null clears");
    assert!(alice["system"].is_null(), "not written");
    let bob = &json["users"][1];
    assert_eq!(bob["password"], "${env:BOB_PW}");
    assert_eq!(bob["system"], serde_json::json!([]), "written empty");
    assert_eq!(
        json["sharingProfiles"][0]["parameters"]["pasword"],
        "(sensitive)"
    );
}

#[test]
fn plan_plans_an_estate_documents_connections_and_its_other_kinds() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        dir.path().join("estate.yaml"),
        "users:\n  - username: zoe\n    attributes: {guac-full-name: Zoe}\nconnections:\n  - {name: estate-shell, protocol: ssh, group: ROOT/Lab, parameters: {hostname: 192.0.2.9}}\n",
    )
    .expect("write");
    let state = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/server-state.json");
    let out = guacsync()
        .current_dir(dir.path())
        .args(["plan", "estate.yaml", "--state"])
        .arg(&state)
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("not yet planned"), "{stderr}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("+ connection ROOT/Lab/estate-shell (ssh)"),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "  + user \"zoe\"    # estate.yaml:2\n      + attribute guac-full-name = \"Zoe\"\n"
        ),
        "{stdout}"
    );
}

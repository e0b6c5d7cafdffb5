//! The secret sweep (issue 7, part 4): every command and output format, with
//! known secret values in manifests (CSV, YAML, JSON literals, a private key, and
//! in an estate document a password, a TOTP key and a misspelt parameter),
//! in references (`${env:}`, `${file:}`), in the login (password, password file,
//! TOTP secret) and in tokens (issued at login, pre-issued), including error paths
//! and a server that echoes the request body in its errors. Not one byte written
//! to stdout, stderr or any file may contain any of them, in any of the forms they
//! take on the wire.
//!
//! `export --secrets include` is the one command meant to write secrets: its
//! output is checked to contain them (so the sweep is shown able to see a
//! leak), and its stderr is swept like everything else. `export --estate` runs
//! against a server that also holds a user's TOTP key (an arbitrary attribute a
//! removed extension left behind) and a sharing profile's secret parameter.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::Duration;

use common::{principals_only, server_with};
use guacamole_testserver::state::{Permissions, SystemPermission, UserState};
use guacamole_testserver::{Config, Fault, FaultRule, RunningServer, State};

const CSV_PASSWORD: &str = "Sw33p-Csv-Literal-91ab";
const YAML_PASSWORD: &str = "Sw33p-Yaml-Literal-77cd";
const KEY_BODY: &str = "Sw33pKeyBody3e3eAAAAB3NzaC1yc2E";
const JSON_PASSPHRASE: &str = "Sw33p-Json-Passphrase-12ef";
const ENV_SECRET: &str = "Sw33p-Env \"Value\"\n5a5a";
const FILE_SECRET: &str = "Sw33p-File-Value-6b6b";
const LOGIN_PASSWORD: &str = "Sw33p-Login-Password&8c8c";
const WRONG_PASSWORD: &str = "Sw33p-Wrong-Password-9d9d";
const TOTP_SECRET: &str = "JBSWY3DPEHPK3PXPJBSWY3DPSWEEPQAA";
const CHANGED_PASSWORD: &str = "Sw33p-Changed-Literal-4f4f";
const USER: &str = "sweeper";
/// Secrets written literally in an estate document: a user's password, a TOTP
/// key attribute, and a sharing profile parameter under a misspelt name.
const ESTATE_PASSWORD: &str = "Sw33p-Estate-Password-1a1a";
const ESTATE_TOTP_KEY: &str = "SW33PESTATETOTPKEY2B2B";
const ESTATE_SHARE_SECRET: &str = "Sw33p-Estate-Share-3c3c";
const OUTSIDE_SECRET: &str = "Sw33p-Outside-Roots-2c2c";
/// Secrets the server holds for `export --estate`: a user's TOTP key attribute
/// and a sharing profile parameter no sharing form declares.
const SERVER_TOTP_KEY: &str = "SW33PSERVERTOTPKEY7E7E";
const SERVER_SHARE_SECRET: &str = "Sw33p-Server-Share-8f8f";
/// A user's TOTP enrolment key as the TOTP extension keeps it (in a state file).
const SERVER_ENROLMENT_KEY: &str = "SW33PENROLMENTKEY9A9A";

fn state() -> State {
    let mut s = principals_only();
    s.users.push(UserState {
        username: USER.into(),
        password: Some(LOGIN_PASSWORD.into()),
        disabled: false,
        attributes: std::collections::BTreeMap::default(),
        permissions: Permissions {
            system_permissions: [
                SystemPermission::Administer,
                SystemPermission::CreateConnection,
                SystemPermission::CreateConnectionGroup,
                SystemPermission::CreateUser,
                SystemPermission::CreateUserGroup,
            ]
            .into(),
            ..Permissions::default()
        },
        last_active: None,
        totp_secret: None,
    });
    s.users.push(UserState {
        username: "enrolled".into(),
        password: None,
        disabled: false,
        attributes: [(
            "guac-totp-key-secret".to_owned(),
            SERVER_TOTP_KEY.to_owned(),
        )]
        .into(),
        permissions: Permissions::default(),
        last_active: None,
        totp_secret: Some(SERVER_ENROLMENT_KEY.into()),
    });
    s
}

fn write_manifests(dir: &Path, csv_password: &str) {
    let m = dir.join("manifests");
    std::fs::create_dir_all(&m).expect("mkdir");
    std::fs::create_dir_all(dir.join("secrets")).expect("mkdir");
    std::fs::write(dir.join("secrets/sweep.txt"), format!("{FILE_SECRET}\n")).expect("write");
    std::fs::write(
        m.join("linux.csv"),
        format!(
            "name,protocol,group,users,hostname,password,passphrase\n\
             web,ssh,ROOT/Prod,alice,web.example.com,{csv_password},${{file:../secrets/sweep.txt}}\n"
        ),
    )
    .expect("write");
    std::fs::write(
        m.join("windows.yaml"),
        format!(
            "- name: desk\n  protocol: rdp\n  group: ROOT/Prod\n  users: [bob]\n  parameters:\n    hostname: desk.example.com\n    password: {YAML_PASSWORD}\n\
             - name: jump\n  protocol: ssh\n  group: ROOT/Prod\n  parameters:\n    hostname: jump.example.com\n    password: ${{env:SWEEP_ENV}}\n    private-key: |\n      -----BEGIN OPENSSH PRIVATE KEY-----\n      {KEY_BODY}\n      -----END OPENSSH PRIVATE KEY-----\n"
        ),
    )
    .expect("write");
    std::fs::write(
        m.join("lab.json"),
        format!(
            "[{{\"name\": \"lab\", \"protocol\": \"ssh\", \"group\": \"ROOT/Lab\", \"parameters\": {{\"hostname\": \"lab\", \"passphrase\": \"{JSON_PASSPHRASE}\"}}}}]\n"
        ),
    )
    .expect("write");
    std::fs::write(
        m.join("estate.yaml"),
        format!(
            "users:\n  - username: newcomer\n    password: {ESTATE_PASSWORD}\n    attributes: {{guac-totp-key-secret: {ESTATE_TOTP_KEY}}}\n  - username: other\n    password: ${{env:SWEEP_ENV}}\nsharingProfiles:\n  - {{connection: ROOT/Prod/web, name: watch, parameters: {{pasword: {ESTATE_SHARE_SECRET}}}}}\n"
        ),
    )
    .expect("write");
    std::fs::write(
        dir.join("guacsync.toml"),
        // The misspelt sharing-profile parameter is sent (with a warning), so
        // that its secret travels the whole way.
        "[scope]\ngroups = [\"ROOT/Prod\", \"ROOT/Lab\"]\n[sync]\ncreate_groups = true\nallow_unknown_parameters = true\n",
    )
    .expect("write");
}

/// Everything one run wrote to stdout and stderr.
struct Captured {
    label: String,
    bytes: Vec<u8>,
}

struct Sweep {
    dir: tempfile::TempDir,
    outputs: Vec<Captured>,
    /// Files holding secrets by design (include exports, `--state` files): swept
    /// only in the checks that say so.
    exempt: Vec<PathBuf>,
}

impl Sweep {
    fn base_env(server: &RunningServer) -> Vec<(String, String)> {
        vec![
            ("GUACAMOLE_URL".into(), server.base_url().to_owned()),
            ("GUACAMOLE_USERNAME".into(), USER.into()),
            ("GUACAMOLE_PASSWORD".into(), LOGIN_PASSWORD.into()),
            ("SWEEP_ENV".into(), ENV_SECRET.into()),
            ("GUACSYNC_LOG".into(), "trace".into()),
            ("NO_COLOR".into(), "1".into()),
        ]
    }

    async fn run(
        &mut self,
        server: &RunningServer,
        label: &str,
        args: &[&str],
        env: &[(&str, &str)],
        unset: &[&str],
    ) -> Output {
        let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_guacsync"));
        cmd.current_dir(self.dir.path())
            .args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default());
        for (k, v) in Self::base_env(server) {
            if !unset.contains(&k.as_str()) {
                cmd.env(k, v);
            }
        }
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = cmd.output().await.expect("guacsync runs");
        self.keep(label, &out);
        out
    }

    fn keep(&mut self, label: &str, out: &Output) {
        self.outputs.push(Captured {
            label: format!("{label}: stdout"),
            bytes: out.stdout.clone(),
        });
        self.outputs.push(Captured {
            label: format!("{label}: stderr"),
            bytes: out.stderr.clone(),
        });
    }
}

/// The forms a secret takes on the wire or in a file: as is, JSON-escaped, and
/// form/URL-encoded.
fn forms(secret: &str) -> Vec<String> {
    let json = serde_json::to_string(secret).expect("json");
    let json = json[1..json.len() - 1].to_owned();
    let mut form = String::new();
    for b in secret.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => {
                form.push(char::from(b));
            }
            b' ' => form.push('+'),
            _ => {
                use std::fmt::Write as _;
                let _ = write!(form, "%{b:02X}");
            }
        }
    }
    let mut all = vec![secret.to_owned(), json, form];
    // A multi-line secret is also looked for line by line.
    all.extend(secret.lines().filter(|l| l.len() >= 6).map(str::to_owned));
    all.sort();
    all.dedup();
    all
}

/// A long-running child's stdout and stderr, written to files (outside the swept
/// directory) rather than pipes: with `GUACSYNC_LOG=trace` a watcher writes more than
/// a pipe holds, and a pipe nobody reads until the end would stop it.
struct Logs {
    dir: tempfile::TempDir,
}

impl Logs {
    fn attach(cmd: &mut tokio::process::Command) -> Self {
        let dir = tempfile::tempdir().expect("log dir");
        let file = |name: &str| std::fs::File::create(dir.path().join(name)).expect("log file");
        cmd.stdout(Stdio::from(file("stdout")))
            .stderr(Stdio::from(file("stderr")));
        Self { dir }
    }

    async fn finish(self, mut child: tokio::process::Child) -> Output {
        let status = tokio::time::timeout(Duration::from_secs(20), child.wait())
            .await
            .expect("exits in time")
            .expect("exit status");
        let read = |name: &str| std::fs::read(self.dir.path().join(name)).expect("log");
        Output {
            status,
            stdout: read("stdout"),
            stderr: read("stderr"),
        }
    }
}

/// `GET path` from watch's health endpoint: the whole answer, headers included.
async fn http_get(addr: &str, path: &str) -> Vec<u8> {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    stream
        .write_all(
            format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .await
        .expect("write");
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(20), stream.read_to_end(&mut answer))
        .await
        .expect("answered in time")
        .expect("read");
    answer
}

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).expect("read_dir").flatten() {
        let p = e.path();
        if p.is_dir() {
            files_under(&p, out);
        } else {
            out.push(p);
        }
    }
}

fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(clippy::too_many_lines, clippy::many_single_char_names)] // one sweep, read top to bottom
async fn no_secret_in_any_output() {
    let server = server_with(Config {
        state: state(),
        prefix: "/guacamole".into(),
        ..Config::default()
    })
    .await;
    let mut s = Sweep {
        dir: tempfile::tempdir().expect("tempdir"),
        outputs: Vec::new(),
        exempt: Vec::new(),
    };
    let d = s.dir.path().to_path_buf();
    write_manifests(&d, CSV_PASSWORD);
    std::fs::write(d.join("password.txt"), format!("{LOGIN_PASSWORD}\n")).expect("write");
    let m = "manifests";
    let c = "guacsync.toml";

    // validate, every format.
    let o = s.run(&server, "validate", &["validate", m], &[], &[]).await;
    // The estate document is read: its literal secrets are on shown lines.
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains("warning[literal-password]")
            && stderr.contains("warning[unknown-parameter]"),
        "{stderr}"
    );
    s.run(
        &server,
        "validate json",
        &["validate", m, "--format", "json"],
        &[],
        &[],
    )
    .await;
    // plan, every format, and a saved plan.
    for format in ["text", "json", "markdown"] {
        let o = s
            .run(
                &server,
                &format!("plan {format}"),
                &["plan", m, "--config", c, "--format", format],
                &[],
                &[],
            )
            .await;
        assert_eq!(
            o.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    s.run(
        &server,
        "plan --out",
        &["plan", m, "--config", c, "--out", "saved-plan.json"],
        &[],
        &[],
    )
    .await;
    s.run(
        &server,
        "sync --dry-run",
        &["sync", m, "--config", c, "--dry-run", "-vv"],
        &[],
        &[],
    )
    .await;
    // Login through a password file, with a TOTP secret.
    let o = s
        .run(
            &server,
            "sync (password file, TOTP)",
            &["sync", m, "--config", c, "-vv"],
            &[
                ("GUACAMOLE_PASSWORD_FILE", "password.txt"),
                ("GUACAMOLE_TOTP_SECRET", TOTP_SECRET),
            ],
            &["GUACAMOLE_PASSWORD"],
        )
        .await;
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    // The estate was applied: the users with their passwords (the sweep can see
    // them where they are meant to be), the profile with its parameter.
    let state = server.state();
    let newcomer = state.users.iter().find(|u| u.username == "newcomer");
    assert_eq!(
        newcomer.and_then(|u| u.password.as_deref()),
        Some(ESTATE_PASSWORD)
    );
    assert!(state.to_json_pretty().contains(ESTATE_SHARE_SECRET));
    // Password resets: planned in every format, then applied.
    for format in ["text", "json", "markdown"] {
        let o = s
            .run(
                &server,
                &format!("plan --reset-passwords {format}"),
                &[
                    "plan",
                    m,
                    "--config",
                    c,
                    "--reset-passwords",
                    "--format",
                    format,
                ],
                &[],
                &[],
            )
            .await;
        let out = String::from_utf8_lossy(&o.stdout);
        assert!(out.contains("reset"), "{format}: {out}");
    }
    let o = s
        .run(
            &server,
            "sync --reset-password",
            &["sync", m, "--config", c, "--reset-password", "other", "-vv"],
            &[],
            &[],
        )
        .await;
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(String::from_utf8_lossy(&o.stdout).contains("~ password (reset)"));
    let other = server.state();
    let other = other.users.iter().find(|u| u.username == "other");
    assert_eq!(other.and_then(|u| u.password.as_deref()), Some(ENV_SECRET));
    // A changed secret: a replace, shown as sensitive.
    write_manifests(&d, CHANGED_PASSWORD);
    let o = s
        .run(
            &server,
            "plan changed",
            &["plan", m, "--config", c],
            &[],
            &[],
        )
        .await;
    assert!(String::from_utf8_lossy(&o.stdout).contains("(sensitive)"));
    s.run(
        &server,
        "plan --out changed",
        &["plan", m, "--config", c, "--out", "saved-2.json"],
        &[],
        &[],
    )
    .await;
    let o = s
        .run(
            &server,
            "sync --plan",
            &[
                "sync",
                m,
                "--config",
                c,
                "--plan",
                "saved-2.json",
                "--format",
                "json",
            ],
            &[],
            &[],
        )
        .await;
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    // A pre-issued token.
    let preissued = server.issue_token(USER);
    s.run(
        &server,
        "plan (token)",
        &["plan", m, "--config", c, "-vv"],
        &[("GUACAMOLE_TOKEN", preissued.as_str())],
        &["GUACAMOLE_USERNAME", "GUACAMOLE_PASSWORD"],
    )
    .await;

    // A sharing profile holding a secret, on a connection the syncs made.
    let mut with_profile = server.state();
    let primary = with_profile.connections[0].identifier.clone();
    with_profile
        .sharing_profiles
        .push(guacamole_testserver::state::SharingProfileState {
            identifier: "900".into(),
            name: "handover".into(),
            primary_connection_identifier: primary,
            parameters: [("x-share-key".to_owned(), SERVER_SHARE_SECRET.to_owned())].into(),
        });
    server.set_state(&with_profile).expect("state");

    // export --estate: omit and env-ref, YAML and JSON, to a directory and stdout.
    for format in ["yaml", "json"] {
        for secrets in ["omit", "env-ref"] {
            let out = format!("estate-{format}-{secrets}");
            let args = [
                "export",
                "--estate",
                "--format",
                format,
                "--secrets",
                secrets,
            ];
            let mut to_dir = args.to_vec();
            to_dir.extend(["--out", &out]);
            s.run(
                &server,
                &format!("export --estate {format} {secrets} dir"),
                &to_dir,
                &[],
                &[],
            )
            .await;
            let o = s
                .run(
                    &server,
                    &format!("export --estate {format} {secrets} stdout"),
                    &args,
                    &[],
                    &[],
                )
                .await;
            assert_eq!(
                o.status.code(),
                Some(0),
                "{}",
                String::from_utf8_lossy(&o.stderr)
            );
        }
    }
    let inc = s
        .run(
            &server,
            "export --estate include (stderr only)",
            &[
                "export",
                "--estate",
                "--secrets",
                "include",
                "--out",
                "included-estate.yaml",
            ],
            &[],
            &[],
        )
        .await;
    s.outputs.pop();
    s.outputs.pop();
    s.keep(
        "export --estate include (stderr only)",
        &Output {
            status: inc.status,
            stdout: Vec::new(),
            stderr: inc.stderr.clone(),
        },
    );
    let included = std::fs::read(d.join("included-estate.yaml")).expect("include output");
    assert!(
        contains(&included, SERVER_TOTP_KEY) && contains(&included, SERVER_SHARE_SECRET),
        "the estate secrets were on the server to leak"
    );
    s.exempt.push(d.join("included-estate.yaml"));

    // export: omit and env-ref in every format, to a directory and to stdout.
    for format in ["yaml", "json", "csv"] {
        for secrets in ["omit", "env-ref"] {
            let out = format!("export-{format}-{secrets}");
            s.run(
                &server,
                &format!("export {format} {secrets} dir"),
                &[
                    "export",
                    "--format",
                    format,
                    "--secrets",
                    secrets,
                    "--out",
                    &out,
                ],
                &[],
                &[],
            )
            .await;
            s.run(
                &server,
                &format!("export {format} {secrets} stdout"),
                &["export", "--format", format, "--secrets", secrets],
                &[],
                &[],
            )
            .await;
        }
    }
    s.run(
        &server,
        "export state omit",
        &["export", "--format", "state", "--out", "state-omit.json"],
        &[],
        &[],
    )
    .await;
    // include: the secrets are in the output (the sweep can see them) and never
    // on stderr.
    let inc = s
        .run(
            &server,
            "export include (stderr only)",
            &[
                "export",
                "--format",
                "yaml",
                "--secrets",
                "include",
                "--out",
                "included.yaml",
            ],
            &[],
            &[],
        )
        .await;
    s.outputs.pop(); // its stderr is kept, its stdout is empty anyway
    s.outputs.pop();
    s.keep(
        "export include (stderr only)",
        &Output {
            status: inc.status,
            stdout: Vec::new(),
            stderr: inc.stderr.clone(),
        },
    );
    let included = std::fs::read(d.join("included.yaml")).expect("include output");
    assert!(contains(&included, CHANGED_PASSWORD) && contains(&included, JSON_PASSPHRASE));
    s.exempt.push(d.join("included.yaml"));

    // --state: plan and sync against a state file with no server.
    let state_file = d.join("server.json");
    std::fs::write(&state_file, server.state().to_json_pretty()).expect("write");
    s.exempt.push(state_file.clone());
    write_manifests(&d, CSV_PASSWORD);
    s.run(
        &server,
        "plan --state",
        &["plan", m, "--config", c, "--state", "server.json"],
        &[],
        &[],
    )
    .await;
    s.run(
        &server,
        "sync --state",
        &["sync", m, "--config", c, "--state", "server.json"],
        &[],
        &[],
    )
    .await;
    // The state document of a state file, and the estate of one: neither holds
    // the TOTP keys or the sharing profile's secret.
    s.run(
        &server,
        "export state from --state",
        &[
            "export",
            "--format",
            "state",
            "--state",
            "server.json",
            "--out",
            "state-from-file.json",
        ],
        &[],
        &[],
    )
    .await;
    s.run(
        &server,
        "export --estate from --state",
        &["export", "--estate", "--state", "server.json"],
        &[],
        &[],
    )
    .await;

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
    s.run(&server, "validate broken", &["validate", "bad"], &[], &[])
        .await;
    s.run(
        &server,
        "validate broken json",
        &["validate", "bad", "--format", "json"],
        &[],
        &[],
    )
    .await;
    s.run(&server, "plan broken", &["plan", "bad"], &[], &[])
        .await;
    // An unresolved reference.
    s.run(
        &server,
        "plan unset env",
        &["plan", m, "--config", c],
        &[],
        &["SWEEP_ENV"],
    )
    .await;
    // A wrong password, also echoed back by the server.
    s.run(
        &server,
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
                &server,
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
    for (k, v) in Sweep::base_env(&server) {
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

    // The manifests now differ from the server (a password to change), and each
    // fault run starts from that same server state.
    write_manifests(&d, CSV_PASSWORD);
    let before_faults = server.state();
    let faults: Vec<(&str, FaultRule)> = vec![
        (
            "rejected batch",
            FaultRule::on(
                "PATCH",
                "/connections",
                Fault::PatchError {
                    index: 0,
                    message: None,
                },
            ),
        ),
        (
            "500 on a GET",
            FaultRule {
                times: 10,
                ..FaultRule::on(
                    "GET",
                    "/parameters",
                    Fault::Status {
                        code: 500,
                        message: None,
                    },
                )
            },
        ),
        (
            "dropped PATCH",
            FaultRule::on("PATCH", "/connections", Fault::Drop),
        ),
        (
            "expired token",
            FaultRule::on("GET", "/tree", Fault::ExpireToken),
        ),
        (
            "echoed PATCH body",
            FaultRule::on("PATCH", "/connections", Fault::Echo { code: 400 }),
        ),
        (
            "echoed login form",
            FaultRule::on("POST", "/api/tokens", Fault::Echo { code: 403 }),
        ),
        (
            "echoed GET",
            FaultRule {
                times: 10,
                ..FaultRule::on("GET", "/parameters", Fault::Echo { code: 500 })
            },
        ),
        // A malformed outcome list that quotes a secret (serde's errors quote
        // the offending value): the unknown outcome is said, the value never.
        (
            "malformed outcome list",
            FaultRule::on(
                "PATCH",
                "/connections",
                Fault::Answer {
                    code: 200,
                    body: format!(r#"{{"patches": "{CHANGED_PASSWORD} {CSV_PASSWORD}"}}"#),
                    after_handling: true,
                },
            ),
        ),
        // An answer over the size guacsync reads, starting with a secret.
        (
            "oversized answer",
            FaultRule::on(
                "PATCH",
                "/connections",
                Fault::Stream {
                    code: 200,
                    prefix: format!("{{\"x\": \"{CHANGED_PASSWORD}"),
                    repeat: " ".repeat(4096),
                    total_bytes: Some(300 * 1024 * 1024),
                },
            ),
        ),
        // A proxy's 504 after the batch was applied: the read-back's message.
        (
            "504 after applying",
            FaultRule::on(
                "PATCH",
                "/connections",
                Fault::ProxyError {
                    code: 504,
                    applied: true,
                },
            ),
        ),
    ];
    for (label, rule) in faults {
        server.set_state(&before_faults).expect("state");
        server.set_faults(vec![rule]);
        s.run(&server, label, &["sync", m, "--config", c, "-vv"], &[], &[])
            .await;
    }
    // The sync result document (`--format json`) of a failed apply quotes the
    // server's error: the echoed body must be redacted there too.
    server.set_state(&before_faults).expect("state");
    server.set_faults(vec![FaultRule::on(
        "PATCH",
        "/connections",
        Fault::Echo { code: 400 },
    )]);
    let o = s
        .run(
            &server,
            "echoed PATCH body, sync --format json",
            &["sync", m, "--config", c, "--format", "json", "-v"],
            &[],
            &[],
        )
        .await;
    assert!(
        contains(&o.stdout, "\"outcome\": \"failed\""),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    server.set_faults(Vec::new());

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
        for (k, v) in Sweep::base_env(&server) {
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
    for (k, v) in Sweep::base_env(&server) {
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

    // Tokens: every one the server saw in a request header, and the pre-issued one.
    let mut tokens: Vec<String> = server
        .requests()
        .iter()
        .filter_map(|r| r.headers.get("guacamole-token").cloned())
        .collect();
    tokens.push(preissued);
    tokens.sort();
    tokens.dedup();
    assert!(tokens.len() >= 10, "only {} tokens seen", tokens.len());

    // Files written anywhere in the working directory, except the manifests and
    // secret files themselves and the ones that hold secrets by design.
    let mut files = Vec::new();
    files_under(&d, &mut files);
    let inputs = [
        d.join("manifests"),
        d.join("secrets"),
        d.join("bad"),
        d.join("refs"),
        d.join("password.txt"),
    ];
    for f in files {
        if inputs.iter().any(|i| f.starts_with(i)) || s.exempt.contains(&f) {
            continue;
        }
        let bytes = std::fs::read(&f).expect("read");
        s.outputs.push(Captured {
            label: format!("file {}", f.strip_prefix(&d).unwrap_or(&f).display()),
            bytes,
        });
    }

    let mut secrets: Vec<String> = [
        CSV_PASSWORD,
        YAML_PASSWORD,
        KEY_BODY,
        JSON_PASSPHRASE,
        ENV_SECRET,
        FILE_SECRET,
        LOGIN_PASSWORD,
        WRONG_PASSWORD,
        TOTP_SECRET,
        CHANGED_PASSWORD,
        ESTATE_PASSWORD,
        ESTATE_TOTP_KEY,
        ESTATE_SHARE_SECRET,
        OUTSIDE_SECRET,
        SERVER_TOTP_KEY,
        SERVER_SHARE_SECRET,
        SERVER_ENROLMENT_KEY,
    ]
    .iter()
    .flat_map(|v| forms(v))
    .collect();
    secrets.extend(tokens.iter().cloned());
    let mut leaks = Vec::new();
    for o in &s.outputs {
        for secret in &secrets {
            if contains(&o.bytes, secret) {
                leaks.push(format!("{} contains {secret:?}", o.label));
            }
        }
    }
    let total_bytes: usize = s.outputs.iter().map(|o| o.bytes.len()).sum();
    eprintln!(
        "secret sweep: {} outputs ({} bytes) × {} secret forms ({} tokens) checked",
        s.outputs.len(),
        total_bytes,
        secrets.len(),
        tokens.len()
    );
    assert!(
        leaks.is_empty(),
        "{} leak(s):\n{}",
        leaks.len(),
        leaks.join("\n")
    );
    assert!(s.outputs.len() >= 90, "{} outputs", s.outputs.len());
    // The echoed errors were really there to leak from.
    assert!(
        s.outputs
            .iter()
            .any(|o| o.label.starts_with("echoed PATCH body")
                && contains(&o.bytes, "Rejected request")),
        "the echo fault was not hit"
    );
}

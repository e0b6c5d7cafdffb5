//! The sweep's machinery: running the binary and keeping everything it wrote,
//! long-running children's logs, the forms a secret takes on the wire, and the
//! final check that no output and no file written holds any secret or token.

use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::Duration;

use guacamole_testserver::RunningServer;

use super::fixture::{
    CHANGED_PASSWORD, CSV_PASSWORD, ENV_SECRET, ESTATE_PASSWORD, ESTATE_SHARE_SECRET,
    ESTATE_TOTP_KEY, FILE_SECRET, JSON_PASSPHRASE, KEY_BODY, LOGIN_PASSWORD, OUTSIDE_SECRET,
    SERVER_ENROLMENT_KEY, SERVER_SHARE_SECRET, SERVER_TOTP_KEY, TOTP_SECRET, USER, WRONG_PASSWORD,
    YAML_PASSWORD,
};

/// Everything one run wrote to stdout and stderr.
pub(crate) struct Captured {
    pub(crate) label: String,
    pub(crate) bytes: Vec<u8>,
}

pub(crate) struct Sweep {
    pub(crate) dir: tempfile::TempDir,
    pub(crate) outputs: Vec<Captured>,
    /// Files holding secrets by design (include exports, `--state` files): swept
    /// only in the checks that say so.
    pub(crate) exempt: Vec<PathBuf>,
}

impl Sweep {
    pub(crate) fn base_env(server: &RunningServer) -> Vec<(String, String)> {
        vec![
            ("GUACAMOLE_URL".into(), server.base_url().to_owned()),
            ("GUACAMOLE_USERNAME".into(), USER.into()),
            ("GUACAMOLE_PASSWORD".into(), LOGIN_PASSWORD.into()),
            ("SWEEP_ENV".into(), ENV_SECRET.into()),
            ("GUACSYNC_LOG".into(), "trace".into()),
            ("NO_COLOR".into(), "1".into()),
        ]
    }

    pub(crate) async fn run(
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

    pub(crate) fn keep(&mut self, label: &str, out: &Output) {
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
pub(crate) fn forms(secret: &str) -> Vec<String> {
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
pub(crate) struct Logs {
    pub(crate) dir: tempfile::TempDir,
}

impl Logs {
    pub(crate) fn attach(cmd: &mut tokio::process::Command) -> Self {
        let dir = tempfile::tempdir().expect("log dir");
        let file = |name: &str| std::fs::File::create(dir.path().join(name)).expect("log file");
        cmd.stdout(Stdio::from(file("stdout")))
            .stderr(Stdio::from(file("stderr")));
        Self { dir }
    }

    pub(crate) async fn finish(self, mut child: tokio::process::Child) -> Output {
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
pub(crate) async fn http_get(addr: &str, path: &str) -> Vec<u8> {
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

pub(crate) fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).expect("read_dir").flatten() {
        let p = e.path();
        if p.is_dir() {
            files_under(&p, out);
        } else {
            out.push(p);
        }
    }
}

pub(crate) fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

/// The sweep itself, after every command ran: every token the server saw (and
/// the pre-issued one) and every secret in each of its forms, looked for in every
/// output kept and in every file written under the sweep directory (except the
/// inputs and the files exempt by design).
pub(crate) fn check(s: &mut Sweep, server: &RunningServer, preissued: String) {
    let d = s.dir.path().to_path_buf();
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

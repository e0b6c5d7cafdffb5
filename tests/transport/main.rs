//! Transport and TLS through the binary (issue 11, items 1 and 2; DESIGN.md §9):
//! trusted and pinned certificates, untrusted certificates' errors, `--insecure`,
//! redirects that are never followed (a second listener proves that nothing reached
//! it), and the errors of the usual URL mistakes and of a proxy's HTML pages.
//!
//! Certificates: the self-signed one operators make with
//! `openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=...` (basicConstraints
//! CA:TRUE) comes from the `openssl` binary (`.ci/run` installs it when missing);
//! CAs, CA-issued, expired and name-less certificates come from rcgen.

#[path = "../common/mod.rs"]
mod common;
mod first_contact;
mod redirects;
mod stand_in;
mod tls;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::*;
use guacamole_testserver::{Config, RunningServer, TlsConfig};

/// A manifest with one connection, in a fresh directory (so no configuration file
/// is found above it).
pub(crate) fn workdir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("dir");
    std::fs::write(
        dir.path().join("web.csv"),
        "name,protocol,hostname,password\nweb-1,ssh,10.0.0.5,${env:DB_SSH_PASSWORD}\n",
    )
    .expect("write");
    dir
}

/// A certificate and its key, in PEM, also written to files.
pub(crate) struct Pem {
    pub cert: String,
    pub key: String,
    pub cert_path: PathBuf,
}

/// The self-signed certificate of the usual `openssl req -x509` command.
pub(crate) fn openssl_self_signed(dir: &Path, name: &str, cn: &str) -> Pem {
    let cert_path = dir.join(format!("{name}.pem"));
    let key_path = dir.join(format!("{name}.key"));
    let out = std::process::Command::new("openssl")
        .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj"])
        .arg(format!("/CN={cn}"))
        .arg("-keyout")
        .arg(&key_path)
        .arg("-out")
        .arg(&cert_path)
        .args(["-days", "30"])
        .output()
        .expect("the openssl binary runs (.ci/run installs it)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Pem {
        cert: std::fs::read_to_string(&cert_path).expect("cert"),
        key: std::fs::read_to_string(&key_path).expect("key"),
        cert_path,
    }
}

/// A private CA (rcgen).
pub(crate) fn rcgen_ca(cn: &str) -> (rcgen::Issuer<'static, rcgen::KeyPair>, String) {
    let key = rcgen::KeyPair::generate().expect("key");
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, cn);
    let cert = params.self_signed(&key).expect("ca");
    (rcgen::Issuer::new(params, key), cert.pem())
}

/// A server certificate for `names`, issued by `issuer` or self-signed, valid until
/// `not_after` (default: rcgen's, far in the future).
pub(crate) fn rcgen_leaf(
    dir: &Path,
    file: &str,
    names: &[&str],
    issuer: Option<&rcgen::Issuer<'static, rcgen::KeyPair>>,
    not_after: Option<(i32, u8, u8)>,
) -> Pem {
    let key = rcgen::KeyPair::generate().expect("key");
    let mut params =
        rcgen::CertificateParams::new(names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>())
            .expect("params");
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "guac.test");
    if let Some((y, m, d)) = not_after {
        params.not_before = rcgen::date_time_ymd(y - 1, m, d);
        params.not_after = rcgen::date_time_ymd(y, m, d);
    }
    let cert = match issuer {
        Some(i) => params.signed_by(&key, i).expect("cert"),
        None => params.self_signed(&key).expect("cert"),
    };
    let cert_path = dir.join(file);
    std::fs::write(&cert_path, cert.pem()).expect("write");
    Pem {
        cert: cert.pem(),
        key: key.serialize_pem(),
        cert_path,
    }
}

/// The test server speaking TLS with `pem`, below `/guacamole`.
pub(crate) async fn tls_server(pem: &Pem) -> RunningServer {
    server_with(Config {
        state: principals_only(),
        prefix: "/guacamole".into(),
        tls: Some(TlsConfig {
            cert_chain_pem: pem.cert.clone().into_bytes(),
            key_pem: pem.key.clone().into_bytes(),
        }),
        ..Config::default()
    })
    .await
}

/// `guacsync plan .` in `dir` against `url`, with extra arguments and environment.
pub(crate) async fn plan(
    server: &RunningServer,
    dir: &Path,
    url: &str,
    args: &[&str],
    env: &[(&str, &str)],
) -> Output {
    let mut all = vec!["plan", ".", "--url", url];
    all.extend_from_slice(args);
    guacsync_in(server, dir, &all, env).await
}

/// The run failed with exactly one error, printed once, and no log line of a
/// library (the TLS stack used to log the same failure again).
pub(crate) fn failed_once(out: &Output) -> String {
    // Notes (which configuration file was read) are not part of the failure.
    let err: String = stderr(out)
        .lines()
        .filter(|l| !l.starts_with("note: "))
        .fold(String::new(), |mut s, l| {
            s.push_str(l);
            s.push('\n');
            s
        });
    assert_eq!(out.status.code(), Some(1), "{err}");
    let errors = err.lines().filter(|l| l.starts_with("error:")).count();
    assert_eq!(errors, 1, "one error line expected:\n{err}");
    // The retry warnings of reads are guacsync's own, and expected.
    assert!(
        !err.lines()
            .any(|l| l.contains(" ERROR ") || l.contains(" WARN ") && !l.contains("retrying in")),
        "the failure logged besides the error printed:\n{err}"
    );
    err
}

/// Nothing in `text` is a secret of the run.
pub(crate) fn no_secret(text: &str, secrets: &[&str]) {
    for s in secrets {
        assert!(!text.contains(s), "{s:?} leaked in:\n{text}");
    }
}

/// `guacsync` in `dir` with no test server behind the URL (a stand-in, or nothing),
/// with the example credentials and secret, plus `env`.
pub(crate) async fn run_without_server(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_guacsync"));
    cmd.current_dir(dir)
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("GUACAMOLE_USERNAME", "guacadmin")
        .env("GUACAMOLE_PASSWORD", PASSWORD)
        .env("DB_SSH_PASSWORD", SECRET_ENV)
        .env("NO_COLOR", "1");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().await.expect("guacsync runs")
}

/// The password `run_without_server` logs in with.
pub(crate) const PASSWORD: &str = "Pw-for-redirect-tests-91c2";
/// A pre-issued token for the runs that use one.
pub(crate) const TOKEN: &str = "0F4C2B9D7E1A3C5B6D8E9F0A1B2C3D4E5F60718293A4B5C6D7E8F90A1B2C3D4E";

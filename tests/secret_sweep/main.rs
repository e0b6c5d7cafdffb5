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
//!
//! One test, run in order through one module per command family (`plan_and_sync`,
//! `export`, `errors`, `faults`, `watch`); `fixture` holds the secrets and what
//! carries them, `sweep` runs the binary, keeps its outputs and does the final check.

#[path = "../common/mod.rs"]
mod common;
mod errors;
mod export;
mod faults;
mod fixture;
mod plan_and_sync;
mod sweep;
mod watch;

use common::server_with;
use guacamole_testserver::Config;

use fixture::{CSV_PASSWORD, LOGIN_PASSWORD, state, write_manifests};
use sweep::Sweep;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
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

    let preissued = plan_and_sync::run(&mut s, &server).await;
    export::run(&mut s, &server).await;
    errors::run(&mut s, &server).await;
    faults::run(&mut s, &server).await;
    watch::run(&mut s, &server).await;
    sweep::check(&mut s, &server, preissued);
}

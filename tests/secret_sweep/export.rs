//! The sweep's exports: `export --estate` (omit, env-ref, include) against a server
//! that also holds a sharing profile's secret parameter, `export` in every format
//! (omit, env-ref, state, include), and `plan`, `sync` and both exports from a
//! `--state` file. The include exports are checked to hold the secrets (the sweep
//! can see a leak) and only their stderr is swept.

use std::process::Output;

use guacamole_testserver::RunningServer;

use super::fixture::{
    CHANGED_PASSWORD, CONFIG, CSV_PASSWORD, JSON_PASSPHRASE, MANIFESTS, SERVER_SHARE_SECRET,
    SERVER_TOTP_KEY, write_manifests,
};
use super::sweep::{Sweep, contains};

/// Runs them; the include exports and the state file are exempted from the file sweep.
#[allow(clippy::too_many_lines, clippy::many_single_char_names)] // one family of commands, read top to bottom
pub(crate) async fn run(s: &mut Sweep, server: &RunningServer) {
    let d = s.dir.path().to_path_buf();
    let (m, c) = (MANIFESTS, CONFIG);
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
                server,
                &format!("export --estate {format} {secrets} dir"),
                &to_dir,
                &[],
                &[],
            )
            .await;
            let o = s
                .run(
                    server,
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
            server,
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
                server,
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
                server,
                &format!("export {format} {secrets} stdout"),
                &["export", "--format", format, "--secrets", secrets],
                &[],
                &[],
            )
            .await;
        }
    }
    s.run(
        server,
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
            server,
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
        server,
        "plan --state",
        &["plan", m, "--config", c, "--state", "server.json"],
        &[],
        &[],
    )
    .await;
    s.run(
        server,
        "sync --state",
        &["sync", m, "--config", c, "--state", "server.json"],
        &[],
        &[],
    )
    .await;
    // The state document of a state file, and the estate of one: neither holds
    // the TOTP keys or the sharing profile's secret.
    s.run(
        server,
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
        server,
        "export --estate from --state",
        &["export", "--estate", "--state", "server.json"],
        &[],
        &[],
    )
    .await;
}

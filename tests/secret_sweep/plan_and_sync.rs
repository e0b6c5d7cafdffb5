//! The first steps of the sweep: `validate` and `plan` in every format, a saved
//! plan, `sync` (dry run; a password file and a TOTP secret for the login), password
//! resets planned and applied, a changed secret applied from a saved plan, and a
//! pre-issued token.

use guacamole_testserver::RunningServer;

use super::fixture::{
    CHANGED_PASSWORD, CONFIG, ENV_SECRET, ESTATE_PASSWORD, ESTATE_SHARE_SECRET, MANIFESTS,
    TOTP_SECRET, USER, write_manifests,
};
use super::sweep::Sweep;

/// Runs them and returns the pre-issued token (swept for at the end).
#[allow(clippy::too_many_lines, clippy::many_single_char_names)] // one family of commands, read top to bottom
pub(crate) async fn run(s: &mut Sweep, server: &RunningServer) -> String {
    let d = s.dir.path().to_path_buf();
    let (m, c) = (MANIFESTS, CONFIG);
    // validate, every format.
    let o = s.run(server, "validate", &["validate", m], &[], &[]).await;
    // The estate document is read: its literal secrets are on shown lines.
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains("warning[literal-password]")
            && stderr.contains("warning[unknown-parameter]"),
        "{stderr}"
    );
    s.run(
        server,
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
                server,
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
        server,
        "plan --out",
        &["plan", m, "--config", c, "--out", "saved-plan.json"],
        &[],
        &[],
    )
    .await;
    s.run(
        server,
        "sync --dry-run",
        &["sync", m, "--config", c, "--dry-run", "-vv"],
        &[],
        &[],
    )
    .await;
    // Login through a password file, with a TOTP secret.
    let o = s
        .run(
            server,
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
                server,
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
            server,
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
            server,
            "plan changed",
            &["plan", m, "--config", c],
            &[],
            &[],
        )
        .await;
    assert!(String::from_utf8_lossy(&o.stdout).contains("(sensitive)"));
    s.run(
        server,
        "plan --out changed",
        &["plan", m, "--config", c, "--out", "saved-2.json"],
        &[],
        &[],
    )
    .await;
    let o = s
        .run(
            server,
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
        server,
        "plan (token)",
        &["plan", m, "--config", c, "-vv"],
        &[("GUACAMOLE_TOKEN", preissued.as_str())],
        &["GUACAMOLE_USERNAME", "GUACAMOLE_PASSWORD"],
    )
    .await;
    preissued
}

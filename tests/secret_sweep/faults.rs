//! The sweep's server faults during `sync`: a rejected batch, 5xx answers, a dropped
//! PATCH, an expired token, the server echoing the request (PATCH body, login form,
//! a GET), a malformed outcome list and an oversized answer quoting secrets, a
//! proxy's 504 after applying, and the sync result document of a failed apply.

use guacamole_testserver::{Fault, FaultRule, RunningServer};

use super::fixture::{CHANGED_PASSWORD, CONFIG, CSV_PASSWORD, MANIFESTS, write_manifests};
use super::sweep::{Sweep, contains};

/// Runs each fault from the same server state; no fault is left set.
#[allow(clippy::too_many_lines, clippy::many_single_char_names)] // one table of faults, read top to bottom
pub(crate) async fn run(s: &mut Sweep, server: &RunningServer) {
    let d = s.dir.path().to_path_buf();
    let (m, c) = (MANIFESTS, CONFIG);
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
        s.run(server, label, &["sync", m, "--config", c, "-vv"], &[], &[])
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
            server,
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
}

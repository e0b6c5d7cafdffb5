//! Test 5: failures mid-run: a rejected batch changes nothing and points at
//! manifest lines, an expired token logs in again once, GETs are retried on
//! 5xx and dropped connections, a failed PATCH is not retried and a rerun
//! converges.

use super::*;

/// Test 5: faults.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t5_rejected_connection_batch_changes_nothing_and_points_at_lines() {
    let server = server(principals_only()).await;
    server.set_faults(vec![FaultRule::on(
        "PATCH",
        "/connections",
        Fault::PatchError {
            index: 2,
            message: Some("Injected rejection.".into()),
        },
    )]);
    let out = guacsync(&server, &["sync", EXAMPLES]).await;
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("the server rejected the connection batch"),
        "{err}"
    );
    assert!(
        err.contains("examples/manifests/") && err.contains("Injected rejection."),
        "{err}"
    );
    assert!(err.contains("done before it: 10 group(s) created"), "{err}");
    let state = server.state();
    assert!(state.connections.is_empty(), "the batch was rolled back");
    assert!(
        !summary(&server.requests())
            .iter()
            .any(|r| r.ends_with("/permissions") && r.starts_with("PATCH")),
        "no permission PATCH after a rejected batch"
    );
    // A re-run converges (the groups created before are reused).
    server.set_faults(vec![]);
    assert_eq!(
        guacsync(&server, &["sync", EXAMPLES]).await.status.code(),
        Some(0)
    );
    assert_eq!(server.state().connections.len(), 11);
    assert_eq!(
        server.state().connection_groups.len(),
        10,
        "no duplicate groups"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t5_expired_token_mid_observe_logs_in_again_once() {
    let server = server(principals_only()).await;
    server.set_faults(vec![FaultRule::on("GET", "/users", Fault::ExpireToken)]);
    let out = guacsync(&server, &["sync", EXAMPLES]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let logins = summary(&server.requests())
        .iter()
        .filter(|r| *r == "POST /api/tokens")
        .count();
    assert_eq!(logins, 2);
    assert_eq!(server.state().connections.len(), 11);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t5_get_5xx_and_dropped_connection_are_retried() {
    let server = server(principals_only()).await;
    server.set_faults(vec![
        FaultRule::on(
            "GET",
            "/connectionGroups/ROOT/tree",
            Fault::Status {
                code: 500,
                message: None,
            },
        ),
        FaultRule::on("GET", "/userGroups", Fault::Drop),
    ]);
    let out = guacsync(&server, &["plan", EXAMPLES]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let gets = summary(&server.requests());
    assert_eq!(
        gets.iter().filter(|r| r.ends_with("ROOT/tree")).count(),
        2,
        "{gets:#?}"
    );
    assert_eq!(
        gets.iter().filter(|r| *r == "GET ds/userGroups").count(),
        2,
        "{gets:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t5_failed_patch_is_not_retried_and_a_rerun_converges() {
    for fault in [
        Fault::Status {
            code: 500,
            message: None,
        },
        Fault::Drop,
    ] {
        let server = server(principals_only()).await;
        server.set_faults(vec![FaultRule::on("PATCH", "/connections", fault.clone())]);
        let out = guacsync(&server, &["sync", EXAMPLES]).await;
        assert_eq!(out.status.code(), Some(1), "{fault:?}");
        let err = stderr(&out);
        assert!(
            err.contains("the connection batch failed")
                && err.contains("PATCH api/session/data/postgresql/connections"),
            "{err}"
        );
        let patches = summary(&server.requests())
            .iter()
            .filter(|r| *r == "PATCH ds/connections")
            .count();
        assert_eq!(patches, 1, "a write is never retried blindly");
        server.set_faults(vec![]);
        assert_eq!(
            guacsync(&server, &["sync", EXAMPLES]).await.status.code(),
            Some(0)
        );
        let again = guacsync(&server, &["plan", EXAMPLES, "--detailed-exitcode"]).await;
        assert_eq!(
            again.status.code(),
            Some(0),
            "converged: {}",
            stdout(&again)
        );
    }
}

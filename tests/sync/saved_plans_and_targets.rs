//! Test 6 (a saved plan applies exactly or is refused as stale), test 8 (a
//! path prefix and TLS with a CA file) and `--state FILE` (plan and sync
//! with no server).

use super::*;

/// Test 6: saved plans.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t6_saved_plan_applies_exactly_or_is_refused_as_stale() {
    let server = server(principals_only()).await;
    let dir = tempfile::tempdir().expect("dir");
    let plan = dir.path().join("plan.json");
    let plan_arg = plan.to_str().expect("utf-8");
    assert_eq!(
        guacsync(&server, &["plan", EXAMPLES, "--out", plan_arg])
            .await
            .status
            .code(),
        Some(0)
    );
    let out = guacsync(&server, &["sync", "--plan", plan_arg]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(server.state().connections.len(), 11);

    // A plan made, then the server changes: refused.
    let second = dir.path().join("second.json");
    let second_arg = second.to_str().expect("utf-8");
    let mut state = server.state();
    state.connections.retain(|c| c.name != "web-2");
    server.set_state(&state).expect("state");
    assert_eq!(
        guacsync(&server, &["plan", EXAMPLES, "--out", second_arg])
            .await
            .status
            .code(),
        Some(0)
    );
    let mut changed = server.state();
    if let Some(c) = changed.connections.iter_mut().find(|c| c.name == "web-1") {
        c.parameters.insert("port".into(), "2200".into());
    }
    server.set_state(&changed).expect("state");
    server.clear_requests();
    let out = guacsync(&server, &["sync", "--plan", second_arg]).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains(
            "plan is stale: connection ROOT/Prod/Web/web-1 changed on the server since the plan was made"
        ),
        "{}",
        stderr(&out)
    );
    assert_eq!(writes(&server.requests()), Vec::<String>::new());
}

/// Test 8: a path prefix and TLS with a CA file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t8_prefix_and_tls_with_a_ca_file() {
    let ca_key = rcgen::KeyPair::generate().expect("key");
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "guacsync test CA");
    let ca = ca_params.self_signed(&ca_key).expect("ca");
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let key = rcgen::KeyPair::generate().expect("key");
    let params = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).expect("params");
    let cert = params.signed_by(&key, &issuer).expect("cert");
    let server = server_with(Config {
        state: principals_only(),
        prefix: "/guac-api".into(),
        tls: Some(guacamole_testserver::TlsConfig {
            cert_chain_pem: cert.pem().into_bytes(),
            key_pem: key.serialize_pem().into_bytes(),
        }),
        ..Config::default()
    })
    .await;
    let url = format!("https://localhost:{}/guac-api/", server.addr().port());
    let dir = tempfile::tempdir().expect("dir");
    std::fs::write(dir.path().join("ca.pem"), ca.pem()).expect("write");
    let config = dir.path().join("guacsync.toml");
    std::fs::write(&config, "[server]\nca_cert = \"ca.pem\"\n").expect("write");
    let config_arg = config.to_str().expect("utf-8");
    // Without the CA the certificate is refused.
    let refused = guacsync_in(&server, &repo(), &["plan", EXAMPLES, "--url", &url], &[]).await;
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        stderr(&refused).to_lowercase().contains("certificate"),
        "{}",
        stderr(&refused)
    );
    let out = guacsync_in(
        &server,
        &repo(),
        &["sync", EXAMPLES, "--url", &url, "--config", config_arg],
        &[],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(server.state().connections.len(), 11);
    // --insecure works too, with a warning.
    let insecure = guacsync_in(
        &server,
        &repo(),
        &["plan", EXAMPLES, "--url", &url, "--insecure"],
        &[],
    )
    .await;
    assert_eq!(insecure.status.code(), Some(0));
    assert!(
        stderr(&insecure).contains("--insecure"),
        "{}",
        stderr(&insecure)
    );
}

/// `--state FILE`: plan and sync with no server; writes are atomic.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_file_plan_and_sync() {
    let dir = tempfile::tempdir().expect("dir");
    let state = dir.path().join("state.json");
    std::fs::copy(repo().join("examples/server-state.json"), &state).expect("copy");
    let state_arg = state.to_str().expect("utf-8");
    let run = |args: Vec<&str>| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_guacsync"));
        cmd.current_dir(repo())
            .args(args)
            .env_clear()
            .env("DB_SSH_PASSWORD", SECRET_ENV)
            .env("NO_COLOR", "1");
        cmd.output().expect("runs")
    };
    let plan = run(vec![
        "plan",
        EXAMPLES,
        "--state",
        state_arg,
        "--detailed-exitcode",
    ]);
    assert_eq!(
        plan.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&plan.stderr)
    );
    let before = std::fs::read_to_string(&state).expect("read");
    assert_eq!(
        before,
        std::fs::read_to_string(repo().join("examples/server-state.json")).expect("read"),
        "plan writes nothing"
    );
    let sync = run(vec!["sync", EXAMPLES, "--state", state_arg]);
    assert_eq!(
        sync.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&sync.stderr)
    );
    let after: State = State::load(&state).expect("still a valid state");
    assert_eq!(after.connections.len(), 12);
    assert!(
        std::fs::read_dir(dir.path()).expect("dir").count() == 1,
        "no temporary file left behind"
    );
    let again = run(vec![
        "plan",
        EXAMPLES,
        "--state",
        state_arg,
        "--detailed-exitcode",
    ]);
    assert_eq!(again.status.code(), Some(0));
}

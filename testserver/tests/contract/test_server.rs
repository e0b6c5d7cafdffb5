//! The test server's own features rather than Guacamole's: the request body
//! limit, fault hooks and the request log, latency, many clients at once, TLS,
//! the binary's listening line and SIGTERM, and the state document's checks.

use super::*;

#[tokio::test]
async fn body_limit_413_request_entity_too_large() {
    let t = with_config(Config {
        body_limit: 1000,
        ..Config::default()
    })
    .await;
    let big = json!([add(
        &json!({"name": "x".repeat(2000), "protocol":"ssh","parameters":{},"attributes":{}})
    )]);
    assert_eq!(
        t.patch("connections", big).await,
        (413, err("Request body/entity too large.", "BAD_REQUEST"))
    );
}

#[tokio::test]
async fn hooks_faults_and_request_log() {
    let t = setup(State::default()).await;
    t.server.clear_requests();
    t.server.set_faults(vec![
        FaultRule::nth(
            1,
            Fault::Status {
                code: 503,
                message: None,
            },
        ),
        FaultRule::on(
            "PATCH",
            "/connections",
            Fault::PatchError {
                index: 0,
                message: Some("boom".into()),
            },
        ),
    ]);
    assert_eq!(t.get("connections").await.0, 503);
    assert_eq!(t.get("connections").await.0, 200);
    let (status, v) = t
        .patch("connections", json!([add(&conn("a", "ROOT"))]))
        .await;
    assert_eq!(status, 400);
    assert_eq!(v["patches"][0]["error"]["variables"]["MESSAGE"], "boom");
    let log = t.server.requests();
    assert_eq!(
        log.iter().map(|r| r.method.as_str()).collect::<Vec<_>>(),
        ["GET", "GET", "PATCH"]
    );
    assert_eq!(log[2].path, "/api/session/data/postgresql/connections");
    assert!(log[2].body.contains("\"a\""));
    // Expire-token and drop.
    t.server
        .set_faults(vec![FaultRule::nth(1, Fault::ExpireToken)]);
    assert_eq!(t.get("connections").await.0, 403);
    let token = login(&t.http, t.server.base_url(), "guacadmin", "guacadmin").await;
    t.server.set_faults(vec![FaultRule::nth(1, Fault::Drop)]);
    let dropped = t
        .http
        .get(t.url("connections"))
        .header("Guacamole-Token", &token)
        .send()
        .await;
    assert!(
        dropped.is_err(),
        "the connection is closed without an answer"
    );
    // The same hooks over HTTP.
    let hook = |p: &str| format!("{}/__test/{p}", t.server.base_url());
    assert_eq!(
        t.http
            .post(hook("expire-tokens"))
            .send()
            .await
            .expect("hook")
            .status(),
        204
    );
    let r = t
        .http
        .get(t.url("connections"))
        .header("Guacamole-Token", &token)
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), 403);
    let state: Value = t
        .http
        .get(hook("state"))
        .send()
        .await
        .expect("hook")
        .json()
        .await
        .expect("json");
    assert_eq!(state["users"][0]["username"], "guacadmin");
    let r = t
        .http
        .post(hook("faults"))
        .json(&json!({"method":"GET","path":"/tokens","fault":{"kind":"latency","ms":1}}))
        .send()
        .await
        .expect("hook");
    assert_eq!(r.status(), 204);
}

#[tokio::test]
async fn latency_applies_per_request() {
    let t = with_config(Config {
        latency: Duration::from_millis(150),
        ..Config::default()
    })
    .await;
    let start = std::time::Instant::now();
    t.get("connections").await;
    assert!(start.elapsed() >= Duration::from_millis(150));
}

#[tokio::test]
async fn sixty_four_clients_at_once() {
    let t = setup(state_with(|s| {
        s.connections = (1..=200)
            .map(|i| connection(&i.to_string(), &format!("c{i}"), "ROOT"))
            .collect();
    }))
    .await;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..64u32 {
        let http = client();
        let base = t.server.base_url().to_owned();
        tasks.spawn(async move {
            let token = login(&http, &base, "guacadmin", "guacadmin").await;
            let url = format!("{base}/api/session/data/postgresql/");
            for j in 0..10u32 {
                let id = (i * 10 + j) % 200 + 1;
                let r = http.get(format!("{url}connections/{id}/parameters")).header("Guacamole-Token", &token).send().await.expect("get");
                assert_eq!(r.status(), 200);
            }
            let body = json!([add(&json!({"name": format!("new-{i}"), "parentIdentifier":"ROOT","protocol":"ssh","parameters":{},"attributes":{}}))]);
            let r = http.patch(format!("{url}connections")).header("Guacamole-Token", &token).json(&body).send().await.expect("patch");
            assert_eq!(r.status(), 200);
        });
    }
    while let Some(r) = tasks.join_next().await {
        r.expect("client task");
    }
    assert_eq!(t.server.state().connections.len(), 264);
}

#[tokio::test]
async fn tls_with_a_generated_certificate() {
    let key = rcgen::KeyPair::generate().expect("key");
    let params = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).expect("params");
    let cert = params.self_signed(&key).expect("cert");
    let server = start(Config {
        tls: Some(guacamole_testserver::TlsConfig {
            cert_chain_pem: cert.pem().into_bytes(),
            key_pem: key.serialize_pem().into_bytes(),
        }),
        ..Config::default()
    })
    .await
    .expect("starts");
    assert!(server.base_url().starts_with("https://"));
    let url = format!("https://localhost:{}/api/tokens", server.addr().port());
    let _ = rustls::crypto::ring::default_provider().install_default();
    let trusting = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(cert.pem().as_bytes()).expect("pem")])
        .build()
        .expect("client");
    let r = trusting
        .post(&url)
        .form(&[("username", "guacadmin"), ("password", "guacadmin")])
        .send()
        .await
        .expect("TLS login");
    assert_eq!(r.status(), 200);
    let untrusting = reqwest::Client::builder()
        .tls_certs_only([])
        .build()
        .expect("client");
    assert!(
        untrusting.post(&url).send().await.is_err(),
        "an unknown CA is refused"
    );
}

#[test]
fn binary_prints_its_listening_line_and_stops_on_sigterm() {
    use std::io::BufRead as _;
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("state.json");
    std::fs::write(&path, State::default().to_json_pretty()).expect("write");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_guacamole-testserver"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--prefix",
            "/guacamole",
            "--state",
        ])
        .arg(&path)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("line");
    assert!(
        line.starts_with("listening on http://127.0.0.1:")
            && line.trim_end().ends_with("/guacamole"),
        "{line}"
    );
    let pid = child.id().to_string();
    std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill");
    let status = child.wait().expect("exit");
    assert!(status.success(), "{status}");
}

#[test]
fn state_round_trips_and_is_checked() {
    let s = nested();
    let text = s.to_json_pretty();
    let back: State = serde_json::from_str(&text).expect("parses");
    assert_eq!(back, s);
    let mut bad = nested();
    bad.connections[0].parent_identifier = "42".into();
    assert!(guacamole_testserver::store::Store::from_state(&bad).is_err());
}

//! The test server behind a real nginx (tests/common/nginx.rs): what a client
//! meets in front of a production Guacamole. Login and the tree through the
//! proxy, nginx's own 413 for a body over its default `client_max_body_size`
//! (compared byte for byte with the test server's imitation of it), TLS with
//! HTTP/2 and with HTTP/1.1, a `/guac-api/` prefix mapped to `/guacamole/`, and
//! a guacsync sync through it. Fails when nginx is not installed (see the
//! harness for why).

mod common;

use common::nginx::{Nginx, NginxOptions, Tls};
use common::*;
use guacamole_testserver::{Config, proxy};
use serde_json::{Value, json};

fn client_trusting(ca_pem: Option<&str>) -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut b = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none());
    if let Some(pem) = ca_pem {
        b = b.tls_certs_only([reqwest::Certificate::from_pem(pem.as_bytes()).expect("CA pem")]);
    }
    b.build().expect("client")
}

async fn login(http: &reqwest::Client, base: &str) -> (reqwest::Version, String) {
    let r = http
        .post(format!("{base}/api/tokens"))
        .form(&[("username", "guacadmin"), ("password", "guacadmin")])
        .send()
        .await
        .expect("login through nginx");
    let version = r.version();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.expect("json");
    (version, v["authToken"].as_str().expect("token").to_owned())
}

/// A directory PATCH adding connections, padded with JSON whitespace to exactly
/// `len` bytes.
fn patch_body(len: usize) -> Vec<u8> {
    let adds: Vec<Value> = (0..4)
        .map(|i| {
            json!({"op": "add", "path": "/", "value": {"name": format!("c{i}"), "parentIdentifier": "ROOT",
                "protocol": "ssh", "parameters": {"hostname": "h"}, "attributes": {}}})
        })
        .collect();
    let mut body = serde_json::to_vec(&adds).expect("json");
    assert!(body.len() < len);
    body.extend(std::iter::repeat_n(b' ', len - body.len()));
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_tree_and_nginx_own_413_at_the_default_limit() {
    let server = server(principals_only()).await;
    let nginx = Nginx::start(server.addr(), NginxOptions::default()).await;
    let http = client_trusting(None);
    let (_, token) = login(&http, &nginx.url()).await;
    let ds = format!("{}/api/session/data/postgresql", nginx.url());
    let r = http
        .get(format!("{ds}/connectionGroups/ROOT/tree"))
        .header("Guacamole-Token", &token)
        .send()
        .await
        .expect("tree");
    assert_eq!(r.status(), 200);
    let tree: Value = r.json().await.expect("json");
    assert_eq!(tree["identifier"], "ROOT");

    // nginx's default client_max_body_size is 1m: 1 MiB passes, one byte more
    // is refused by nginx itself, before the test server sees it.
    server.clear_requests();
    let send = |len: usize| {
        http.patch(format!("{ds}/connections"))
            .header("Guacamole-Token", &token)
            .header("Content-Type", "application/json")
            .body(patch_body(len))
            .send()
    };
    let r = send(1024 * 1024 + 1).await.expect("patch");
    assert_eq!(r.status(), 413);
    assert_eq!(r.headers()["content-type"], "text/html");
    assert_eq!(r.headers()["server"], nginx.version());
    assert_eq!(r.headers()["connection"], "close");
    let page = r.text().await.expect("page");
    // The test server's imitation is nginx's page, byte for byte.
    assert_eq!(
        page.replace(nginx.version(), proxy::NGINX),
        proxy::page(413),
        "nginx's own page"
    );
    assert!(server.requests().is_empty(), "nothing reached the server");
    assert!(server.state().connections.is_empty());
    assert!(
        nginx
            .error_log()
            .contains("client intended to send too large body")
    );

    let r = send(1024 * 1024).await.expect("patch");
    assert_eq!(r.status(), 200, "exactly 1 MiB is allowed");
    assert_eq!(server.state().connections.len(), 4);
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_set_body_limit_lets_a_larger_batch_through() {
    let server = server(principals_only()).await;
    let nginx = Nginx::start(
        server.addr(),
        NginxOptions {
            client_max_body_size: Some("4m".into()),
            ..NginxOptions::default()
        },
    )
    .await;
    let http = client_trusting(None);
    let (_, token) = login(&http, &nginx.url()).await;
    let r = http
        .patch(format!(
            "{}/api/session/data/postgresql/connections",
            nginx.url()
        ))
        .header("Guacamole-Token", &token)
        .header("Content-Type", "application/json")
        .body(patch_body(1536 * 1024))
        .send()
        .await
        .expect("patch");
    assert_eq!(r.status(), 200);
    // Over Guacamole's own 2 MiB: its JSON 413, passed through by nginx.
    let r = http
        .patch(format!(
            "{}/api/session/data/postgresql/connections",
            nginx.url()
        ))
        .header("Guacamole-Token", &token)
        .header("Content-Type", "application/json")
        .body(patch_body(3 * 1024 * 1024))
        .send()
        .await
        .expect("patch");
    assert_eq!(r.status(), 413);
    let v: Value = r.json().await.expect("Guacamole's JSON error");
    assert_eq!(v["message"], "Request body/entity too large.");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_with_http2_and_with_http11() {
    let server = server(principals_only()).await;
    for (tls, expected) in [
        (Tls::Http2, reqwest::Version::HTTP_2),
        (Tls::Http11, reqwest::Version::HTTP_11),
    ] {
        let nginx = Nginx::start(
            server.addr(),
            NginxOptions {
                tls: Some(tls),
                ..NginxOptions::default()
            },
        )
        .await;
        assert!(nginx.url().starts_with("https://127.0.0.1:"));
        let http = client_trusting(nginx.ca_pem());
        let (version, token) = login(&http, &nginx.url()).await;
        assert_eq!(version, expected, "{tls:?}");
        let r = http
            .get(format!(
                "{}/api/session/data/postgresql/self/permissions",
                nginx.url()
            ))
            .header("Guacamole-Token", &token)
            .send()
            .await
            .expect("get");
        assert_eq!((r.version(), r.status().as_u16()), (expected, 200));
        // A client that does not trust the CA is refused.
        let untrusting = client_trusting(None);
        assert!(
            untrusting
                .post(format!("{}/api/tokens", nginx.url()))
                .send()
                .await
                .is_err()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_path_prefix_maps_to_the_web_application() {
    let server = server(principals_only()).await;
    let nginx = Nginx::start(
        server.addr(),
        NginxOptions {
            location: "/guac-api/".into(),
            upstream_path: "/guacamole/".into(),
            ..NginxOptions::default()
        },
    )
    .await;
    assert!(nginx.url().ends_with("/guac-api"));
    let http = client_trusting(None);
    server.clear_requests();
    let (_, token) = login(&http, &nginx.url()).await;
    let r = http
        .get(format!(
            "{}/api/session/data/postgresql/connectionGroups/ROOT/tree",
            nginx.url()
        ))
        .header("Guacamole-Token", &token)
        .send()
        .await
        .expect("tree");
    assert_eq!(r.status(), 200);
    let paths: Vec<String> = server.requests().into_iter().map(|r| r.path).collect();
    assert_eq!(
        paths,
        [
            "/api/tokens",
            "/api/session/data/postgresql/connectionGroups/ROOT/tree"
        ],
        "the server saw its own paths below /guacamole"
    );
    // The old path is not served by this proxy.
    let r = http
        .post(format!(
            "http://127.0.0.1:{}/guacamole/api/tokens",
            nginx.port()
        ))
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guacsync_syncs_through_nginx_under_a_prefix() {
    let server = server_with(Config {
        state: principals_only(),
        prefix: "/guacamole".into(),
        ..Config::default()
    })
    .await;
    let nginx = Nginx::start(
        server.addr(),
        NginxOptions {
            location: "/guac-api/".into(),
            upstream_path: "/guacamole/".into(),
            ..NginxOptions::default()
        },
    )
    .await;
    let url = nginx.url();
    let env = [("GUACAMOLE_URL", url.as_str())];
    let out = guacsync_in(&server, &repo(), &["sync", "examples/manifests"], &env).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(server.state().connections.len(), 11);
    let again = guacsync_in(
        &server,
        &repo(),
        &["plan", "examples/manifests", "--detailed-exitcode"],
        &env,
    )
    .await;
    assert_eq!(
        again.status.code(),
        Some(0),
        "no changes: {}",
        stdout(&again)
    );
    assert!(
        nginx
            .access_log()
            .contains("/guac-api/api/session/data/postgresql/connections"),
        "the requests went through nginx"
    );
}

#[test]
fn the_http2_directive_changed_in_1_25_1() {
    use common::nginx::has_http2_directive;
    assert!(!has_http2_directive("nginx/1.22.1"));
    assert!(!has_http2_directive("nginx/1.25.0"));
    assert!(has_http2_directive("nginx/1.25.1"));
    assert!(has_http2_directive("nginx/1.27.3"));
}

/// 10,000 new connections through nginx's default `client_max_body_size` (1m),
/// with guacsync planning for Guacamole's 2 MiB: nginx refuses the first batch
/// (its own HTML 413, nothing reaches Guacamole), guacsync splits and retries,
/// and one sync applies everything, says which size worked, and leaves nothing
/// half-applied; a plan afterwards (with that size) is empty.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_connections_through_nginx_at_its_default_limit() {
    use std::fmt::Write as _;
    let server = server(principals_only()).await;
    let nginx = Nginx::start(server.addr(), NginxOptions::default()).await;
    let dir = tempfile::tempdir().expect("dir");
    std::fs::create_dir(dir.path().join("manifests")).expect("mkdir");
    let mut csv = String::from("name,protocol,hostname,port,group,groups\n");
    for i in 0..10_000 {
        let _ = writeln!(
            csv,
            "conn-{i:05},rdp,10.{}.{}.{},3389,ROOT/Fleet/g{:02},ops",
            i / 65536,
            (i / 256) % 256,
            i % 256,
            i % 40
        );
    }
    std::fs::write(dir.path().join("manifests/fleet.csv"), csv).expect("csv");
    std::fs::write(
        dir.path().join("guacsync.toml"),
        "[scope]\ngroups = [\"ROOT/Fleet\"]\n",
    )
    .expect("config");
    let url = nginx.url();
    let env = [("GUACAMOLE_URL", url.as_str())];
    let out = guacsync_in(&server, dir.path(), &["sync", "manifests"], &env).await;
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains("a proxy in front of Guacamole refused a request of"),
        "{err}"
    );
    assert!(
        nginx.access_log().contains("\" 413 "),
        "nginx itself refused the first batch"
    );
    let state = server.state();
    assert_eq!(state.connections.len(), 10_000);
    assert_eq!(state.connection_groups.len(), 41);
    // Every grant arrived too: READ for `ops` on each connection and on each group
    // above them (ROOT/Fleet and its 40 groups), nothing half-applied.
    let ops = state
        .user_groups
        .iter()
        .find(|g| g.identifier == "ops")
        .expect("ops");
    let reads = |m: &std::collections::BTreeMap<
        String,
        std::collections::BTreeSet<guacamole_testserver::state::ObjectPermission>,
    >,
                 id: &str| {
        m.get(id)
            .is_some_and(|s| s.contains(&guacamole_testserver::state::ObjectPermission::Read))
    };
    let perms = &ops.permissions;
    assert_eq!(
        state
            .connections
            .iter()
            .filter(|c| reads(&perms.connection_permissions, &c.identifier))
            .count(),
        10_000
    );
    assert_eq!(
        state
            .connection_groups
            .iter()
            .filter(|g| reads(&perms.connection_group_permissions, &g.identifier))
            .count(),
        41
    );
    let suggested: usize = err
        .split("max_request_bytes = ")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .and_then(|s| s.parse().ok())
        .expect("a suggested size");
    assert!(suggested <= 1024 * 1024, "{suggested}");
    std::fs::write(
        dir.path().join("guacsync.toml"),
        format!("[scope]\ngroups = [\"ROOT/Fleet\"]\n[sync]\nmax_request_bytes = {suggested}\n"),
    )
    .expect("config");
    server.clear_requests();
    let again = guacsync_in(
        &server,
        dir.path(),
        &["plan", "manifests", "--detailed-exitcode"],
        &env,
    )
    .await;
    assert_eq!(
        again.status.code(),
        Some(0),
        "no changes: {}",
        stdout(&again)
    );
    assert!(writes(&server.requests()).is_empty());
}

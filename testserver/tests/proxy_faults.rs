//! Contract tests of the faults that play a reverse proxy (src/proxy.rs): nginx's
//! 413 page for a body over `client_max_body_size`, a redirect, and 502/504
//! before or after Guacamole applied the request. The pages are compared with
//! the real nginx in tests/nginx.rs of the workspace root.

mod support;

use guacamole_testserver::{Config, Fault, FaultRule, ProxyEvent, State, proxy};
use serde_json::json;
use support::{conn, parse_full, setup, with_config};

fn add(name: &str) -> serde_json::Value {
    json!([{"op": "add", "path": "/", "value": conn(name, "ROOT")}])
}

#[tokio::test]
async fn a_body_over_the_proxy_limit_gets_nginx_413_and_never_arrives() {
    let t = with_config(Config {
        proxy_body_limit: Some(2000),
        ..Config::default()
    })
    .await;
    t.server.clear_requests();
    let mut big = add("big");
    big[0]["value"]["parameters"]["hostname"] = json!("h".repeat(3000));
    let r = t
        .request(reqwest::Method::PATCH, "connections", Some(&big))
        .await;
    assert_eq!(r.headers()["server"], "nginx/1.22.1");
    assert_eq!(r.headers()["connection"], "close");
    let (status, content_type, body) = parse_full(r).await;
    assert_eq!((status, content_type.as_str()), (413, "text/html"));
    assert_eq!(body, json!(proxy::page(413)));
    assert!(t.server.requests().is_empty(), "Guacamole never saw it");
    assert!(t.server.state().connections.is_empty());
    let events = t.server.proxy_events();
    assert_eq!(events.len(), 1);
    assert_eq!(
        (
            events[0].status,
            events[0].applied,
            events[0].method.as_str()
        ),
        (413, false, "PATCH")
    );
    assert!(events[0].body_bytes > 3000);
    // A body under the limit goes through.
    assert_eq!(t.patch("connections", &add("small")).await.0, 200);
    // The limit can be changed and lifted while the server runs.
    t.server.set_proxy_body_limit(None);
    assert_eq!(t.patch("connections", &big).await.0, 200);
}

#[tokio::test]
async fn a_chunked_body_is_refused_by_whichever_limit_is_smaller() {
    let t = with_config(Config {
        proxy_body_limit: Some(1000),
        body_limit: 5000,
        ..Config::default()
    })
    .await;
    let path = "/guacamole/api/session/data/postgresql/connections";
    let (status, head) = chunked_patch(&t, path, 3000).await;
    assert_eq!(status, 413);
    assert!(
        head.contains("content-type: text/html"),
        "the proxy's: {head}"
    );
    // Over Guacamole's limit but under the proxy's: Guacamole's own JSON 413.
    t.server.set_proxy_body_limit(Some(10_000));
    let (status, head) = chunked_patch(&t, path, 6000).await;
    assert_eq!(status, 413);
    assert!(head.contains("content-type: application/json"), "{head}");
    assert_eq!(t.server.proxy_events().len(), 1);
}

/// Sends a PATCH whose body has no declared length (chunked, written by hand)
/// and returns the status and the lower-cased response head.
async fn chunked_patch(t: &support::T, path: &str, bytes: usize) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(t.server.addr())
        .await
        .expect("connect");
    let head = format!(
        "PATCH {path} HTTP/1.1\r\nHost: localhost\r\nGuacamole-Token: {}\r\n\
         Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n{bytes:x}\r\n",
        t.token
    );
    stream.write_all(head.as_bytes()).await.expect("head");
    // The server may answer and close before the whole body is written.
    let _ = stream.write_all(&vec![b'x'; bytes]).await;
    let _ = stream.write_all(b"\r\n0\r\n\r\n").await;
    let mut response = Vec::new();
    let mut buf = [0u8; 4096];
    while !response.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut buf).await.expect("read");
        assert!(n > 0, "closed before an answer");
        response.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&response).to_lowercase();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status line");
    (status, text)
}

#[tokio::test]
async fn a_redirect_names_its_location_and_is_not_served() {
    let t = setup(State::default()).await;
    t.server.clear_requests();
    t.server.set_faults(vec![FaultRule {
        times: 2,
        occurrence: None,
        ..FaultRule::on(
            "GET",
            "/connections",
            Fault::Redirect {
                code: 308,
                location: "https://elsewhere.example$request_uri".into(),
            },
        )
    }]);
    let r = t
        .request(reqwest::Method::GET, "connections?permission=READ", None)
        .await;
    assert_eq!(r.status(), 308);
    assert_eq!(
        r.headers()["location"],
        "https://elsewhere.example/guacamole/api/session/data/postgresql/connections?permission=READ"
    );
    let (_, content_type, body) = parse_full(r).await;
    assert_eq!(
        (content_type.as_str(), body),
        ("text/html", json!(proxy::page(308)))
    );
    assert!(t.server.requests().is_empty());
    let r = t.request(reqwest::Method::GET, "connections", None).await;
    assert_eq!(r.status(), 308, "times: 2");
    assert_eq!(t.get("connections").await.0, 200, "then served again");
}

#[tokio::test]
async fn a_gateway_timeout_after_the_batch_was_applied() {
    let t = setup(State::default()).await;
    t.server.set_faults(vec![FaultRule::on(
        "PATCH",
        "/connections",
        Fault::ProxyError {
            code: 504,
            applied: true,
        },
    )]);
    let (status, content_type, body) = parse_full(
        t.request(reqwest::Method::PATCH, "connections", Some(&add("a")))
            .await,
    )
    .await;
    assert_eq!(
        (status, content_type.as_str(), body),
        (504, "text/html", json!(proxy::page(504)))
    );
    assert_eq!(
        t.server.state().connections.len(),
        1,
        "applied all the same"
    );
    assert_eq!(
        t.server.proxy_events()[0],
        ProxyEvent {
            method: "PATCH".into(),
            path: "/api/session/data/postgresql/connections".into(),
            status: 504,
            body_bytes: u64::try_from(add("a").to_string().len()).expect("len"),
            applied: true,
        }
    );
    assert_eq!(
        t.server.requests().last().map(|r| r.method.as_str()),
        Some("PATCH")
    );
}

#[tokio::test]
async fn a_bad_gateway_before_forwarding_applies_nothing() {
    let t = setup(State::default()).await;
    // Set over the hook, as a test in another process would.
    let r = t
        .http
        .post(format!("{}/__test/faults", t.server.base_url()))
        .json(&json!({"method": "PATCH", "path": "/connections",
            "fault": {"kind": "proxy-error", "code": 502}}))
        .send()
        .await
        .expect("hook");
    assert_eq!(r.status(), 204);
    let (status, _, body) = parse_full(
        t.request(reqwest::Method::PATCH, "connections", Some(&add("a")))
            .await,
    )
    .await;
    assert_eq!((status, body), (502, json!(proxy::page(502))));
    assert!(t.server.state().connections.is_empty());
    let hook = format!("{}/__test/proxy", t.server.base_url());
    let v: serde_json::Value = t
        .http
        .get(&hook)
        .send()
        .await
        .expect("hook")
        .json()
        .await
        .expect("json");
    assert_eq!(v["events"][0]["status"], 502);
    assert_eq!(v["events"][0]["applied"], false);
    assert_eq!(v["client_max_body_size"], serde_json::Value::Null);
    let put = t
        .http
        .put(&hook)
        .json(&json!({"client_max_body_size": 10}))
        .send()
        .await
        .expect("hook");
    assert_eq!(put.status(), 204);
    assert_eq!(t.patch("connections", &add("b")).await.0, 413);
    assert_eq!(
        t.http.delete(&hook).send().await.expect("hook").status(),
        204
    );
    assert!(t.server.proxy_events().is_empty());
}

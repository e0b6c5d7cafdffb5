//! What a test can ask the server about itself: how many sessions still answer
//! (a client that released its tokens leaves none) and how many requests each
//! fault rule hit (a fault that met no request tests nothing). The fault
//! matrices in the workspace root rely on both.

mod support;

use std::time::Duration;

use guacamole_testserver::{Config, Fault, FaultRule, State};
use support::{login, setup, with_config};

#[tokio::test]
async fn live_sessions_count_logins_and_forget_releases() {
    let t = setup(State::default()).await;
    assert_eq!(t.server.live_sessions(), 1);
    let base = t.server.base_url().to_owned();
    let second = login(&t.http, &base, "guacadmin", "guacadmin").await;
    assert_eq!(t.server.live_sessions(), 2);
    let issued = t.server.issue_token("guacadmin");
    assert_eq!(t.server.live_sessions(), 3);
    for token in [&second, &issued] {
        let r = t
            .http
            .delete(format!("{base}/api/tokens/{token}"))
            .send()
            .await
            .expect("delete");
        assert_eq!(r.status(), 204);
    }
    assert_eq!(t.server.live_sessions(), 1);
    t.server.expire_all_tokens();
    assert_eq!(t.server.live_sessions(), 0);
}

#[tokio::test]
async fn an_idle_session_past_the_timeout_is_not_live() {
    let t = with_config(Config {
        session_timeout: Duration::from_millis(200),
        ..Config::default()
    })
    .await;
    assert_eq!(t.server.live_sessions(), 1);
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(t.server.live_sessions(), 0);
    // The server agrees: the token is refused.
    assert_eq!(t.get("self").await.0, 403);
}

#[tokio::test]
async fn fault_hits_count_the_requests_each_rule_met() {
    let t = setup(State::default()).await;
    let failing = Fault::Status {
        code: 500,
        message: None,
    };
    let mut twice = FaultRule::on("GET", "/self", failing.clone());
    twice.times = 2;
    t.server.set_faults(vec![
        twice,
        FaultRule::exact(
            "GET",
            "/api/session/data/postgresql/connections",
            2,
            failing.clone(),
        ),
        FaultRule::on("DELETE", "/api/tokens/", failing),
    ]);
    assert_eq!(t.server.fault_hits(), [0, 0, 0]);
    for _ in 0..3 {
        t.get("self").await;
    }
    assert_eq!(t.get("connections").await.0, 200);
    assert_eq!(t.get("connections").await.0, 500);
    assert_eq!(t.server.fault_hits(), [2, 1, 0]);
    // New rules count from zero.
    t.server
        .set_faults(vec![FaultRule::on("GET", "/self", Fault::Drop)]);
    assert_eq!(t.server.fault_hits(), [0]);
}

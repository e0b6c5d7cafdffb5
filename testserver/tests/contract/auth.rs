//! §1 authentication: tokens, sessions, logout, data sources; and §2 the
//! shapes of errors (unknown paths, malformed JSON) shared by every area.

use super::*;

#[tokio::test]
async fn s1_login_response_fields() {
    let t = setup(State::default()).await;
    let r = t
        .http
        .post(format!("{}/api/tokens", t.server.base_url()))
        .form(&[("username", "guacadmin"), ("password", "guacadmin")])
        .send()
        .await
        .expect("post");
    let (status, v) = parse(r).await;
    assert_eq!(status, 200);
    let token = v["authToken"].as_str().expect("token");
    assert_eq!(token.len(), 64);
    assert!(
        token
            .chars()
            .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase())
    );
    assert_eq!(v["username"], "guacadmin");
    assert_eq!(v["dataSource"], "postgresql");
    assert_eq!(
        v["availableDataSources"],
        json!(["postgresql", "postgresql-shared"])
    );
}

#[tokio::test]
async fn s1_bad_credentials_403_invalid_login_with_expected_fields() {
    let t = setup(State::default()).await;
    let r = t
        .http
        .post(format!("{}/api/tokens", t.server.base_url()))
        .form(&[("username", "guacadmin"), ("password", "nope")])
        .send()
        .await
        .expect("post");
    let (status, v) = parse(r).await;
    assert_eq!(status, 403);
    assert_eq!(
        v,
        json!({"message":"Invalid login",
            "translatableMessage":{"key":"APP.TEXT_UNTRANSLATED","variables":{"MESSAGE":"Invalid login"}},
            "statusCode":null,
            "expected":[{"name":"username","type":"USERNAME"},{"name":"password","type":"PASSWORD"}],
            "patches":null,"type":"INVALID_CREDENTIALS"})
    );
}

#[tokio::test]
async fn s1_basic_auth_fallback_and_reauth_with_token_returns_same_token() {
    let t = setup(State::default()).await;
    let base = t.server.base_url();
    let r = t
        .http
        .post(format!("{base}/api/tokens"))
        .basic_auth("guacadmin", Some("guacadmin"))
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 200);
    let r = t
        .http
        .post(format!("{base}/api/tokens"))
        .form(&[("token", t.token.as_str())])
        .send()
        .await
        .expect("post");
    let (_, v) = parse(r).await;
    assert_eq!(v["authToken"], json!(t.token));
}

#[tokio::test]
async fn s1_disabled_user_gets_invalid_login() {
    let t = setup(state_with(|s| {
        let mut u = user("bob");
        u.disabled = true;
        s.users.push(u);
    }))
    .await;
    let r = t
        .http
        .post(format!("{}/api/tokens", t.server.base_url()))
        .form(&[("username", "bob"), ("password", "pw")])
        .send()
        .await
        .expect("post");
    let (status, v) = parse(r).await;
    assert_eq!(
        (status, v["type"].clone()),
        (403, json!("INVALID_CREDENTIALS"))
    );
}

#[tokio::test]
async fn s1_token_in_header_any_case_or_query() {
    let t = setup(State::default()).await;
    let url = t.url("connections");
    let r = t
        .http
        .get(&url)
        .header("guacamole-token", &t.token)
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), 200);
    let r = t
        .http
        .get(format!("{url}?token={}", t.token))
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), 200);
    // An empty header falls back to the query parameter.
    let r = t
        .http
        .get(format!("{url}?token={}", t.token))
        .header("Guacamole-Token", "")
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn s1_missing_or_invalid_token_is_403_permission_denied() {
    let t = setup(State::default()).await;
    for token in [None, Some("0000")] {
        let mut req = t.http.get(t.url("connections"));
        if let Some(tok) = token {
            req = req.header("Guacamole-Token", tok);
        }
        let (status, v) = parse(req.send().await.expect("get")).await;
        assert_eq!(status, 403);
        assert_eq!(v, err("Permission Denied.", "PERMISSION_DENIED"));
    }
}

#[tokio::test]
async fn s1_idle_sessions_expire() {
    let t = with_config(Config {
        session_timeout: Duration::from_millis(300),
        ..Config::default()
    })
    .await;
    assert_eq!(t.get("connections").await.0, 200);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        t.get("connections").await.0,
        200,
        "access refreshes the idle time"
    );
    tokio::time::sleep(Duration::from_millis(450)).await;
    assert_eq!(
        t.get("connections").await,
        (403, err("Permission Denied.", "PERMISSION_DENIED"))
    );
}

#[tokio::test]
async fn s1_logout_204_then_404_no_such_token() {
    let t = setup(State::default()).await;
    let url = format!("{}/api/tokens/{}", t.server.base_url(), t.token);
    assert_eq!(
        t.http.delete(&url).send().await.expect("delete").status(),
        204
    );
    let (status, v) = parse(t.http.delete(&url).send().await.expect("delete")).await;
    assert_eq!((status, v), (404, err("No such token.", "NOT_FOUND")));
    assert_eq!(t.get("connections").await.0, 403);
}

#[tokio::test]
async fn s1_session_head_and_delete() {
    let t = setup(State::default()).await;
    let url = format!("{}/api/session", t.server.base_url());
    assert_eq!(
        t.http
            .head(&url)
            .header("Guacamole-Token", &t.token)
            .send()
            .await
            .expect("head")
            .status(),
        204
    );
    assert_eq!(
        t.http
            .delete(&url)
            .header("Guacamole-Token", &t.token)
            .send()
            .await
            .expect("delete")
            .status(),
        204
    );
    assert_eq!(
        t.http
            .head(&url)
            .header("Guacamole-Token", &t.token)
            .send()
            .await
            .expect("head")
            .status(),
        403
    );
}

#[tokio::test]
async fn s1_unknown_data_source_404_and_shared_source_empty() {
    let t = setup(State::default()).await;
    let url = format!("{}/api/session/data/mysql/connections", t.server.base_url());
    let (status, v) = parse(
        t.http
            .get(url)
            .header("Guacamole-Token", &t.token)
            .send()
            .await
            .expect("get"),
    )
    .await;
    assert_eq!(
        (status, v),
        (
            404,
            err(
                "Session not associated with authentication provider \"mysql\".",
                "NOT_FOUND"
            )
        )
    );
    let url = format!(
        "{}/api/session/data/postgresql-shared/connections",
        t.server.base_url()
    );
    let (status, v) = parse(
        t.http
            .get(url)
            .header("Guacamole-Token", &t.token)
            .send()
            .await
            .expect("get"),
    )
    .await;
    assert_eq!((status, v), (200, json!({})));
}

// ------------------------------------------------------------------ §2 errors

#[tokio::test]
async fn s2_unknown_paths_have_no_api_error_body() {
    let t = setup(State::default()).await;
    let (status, v) = t.get("nonsense").await;
    assert_eq!(status, 404);
    assert!(v.is_string());
}

#[tokio::test]
async fn s2_malformed_json_is_400_without_api_error() {
    let t = setup(State::default()).await;
    let r = t
        .http
        .patch(t.url("connections"))
        .header("Guacamole-Token", &t.token)
        .body("[{")
        .send()
        .await
        .expect("patch");
    let (status, v) = parse(r).await;
    assert_eq!(status, 400);
    assert!(v.is_string(), "{v}");
}

//! Redirects are never followed: a 301, 302, 307 or 308 is an error naming the
//! status and the `Location`, and the target receives nothing: not a connection,
//! so no token, no password and no login form (issue 11: an https front end's
//! 302/307/308 used to carry the token, and a 308 the password, elsewhere).

use guacamole_testserver::{Fault, FaultRule};

use super::stand_in::{self, Canned, Otherwise, Tls};
use super::*;

/// A front end answering every request with `status` and `location`.
async fn front(status: u16, location: &str, tls: Option<&Pem>) -> stand_in::StandIn {
    stand_in::start(
        tls.map(|p| Tls {
            cert_pem: p.cert.clone(),
            key_pem: p.key.clone(),
        }),
        vec![],
        Otherwise::Answer(Canned::new(status, &[("Location", location)], "moved")),
    )
    .await
}

/// Logs in (the form with the password) and, separately, uses a pre-issued token
/// through `url`, which redirects with `status` to `shown_target`: each run fails
/// once, naming both, and the front end saw each request once.
async fn refused_both_ways(
    dir: &Path,
    front: &stand_in::StandIn,
    url: &str,
    ca: &str,
    status: u16,
    shown_target: &str,
) -> String {
    let mut last = String::new();
    for with_token in [false, true] {
        let env: &[(&str, &str)] = if with_token {
            &[("GUACAMOLE_TOKEN", TOKEN)]
        } else {
            &[]
        };
        let out = run_without_server(dir, &["plan", ".", "--url", url, "--ca-cert", ca], env).await;
        let label = format!("{status} from {url}, token: {with_token}");
        let err = failed_once(&out);
        // A pre-issued token is looked up with `POST api/tokens` and the `token`
        // field (rest-api.md §1), as a login is.
        let request = format!("login failed: POST {url}/api/tokens");
        assert!(err.contains(&request), "{label}:\n{err}");
        let answered = format!(
            "the server answered {status}, a redirect to {shown_target}; guacsync never follows redirects"
        );
        assert!(err.contains(&answered), "{label}:\n{err}");
        no_secret(&err, &[PASSWORD, TOKEN]);
        last = err;
    }
    let log = front.log();
    assert_eq!(log.requests.len(), 2, "{url}: {:?}", log.requests);
    assert!(
        String::from_utf8_lossy(&log.requests[0].body).contains(PASSWORD),
        "the login form went to the URL given"
    );
    assert!(
        String::from_utf8_lossy(&log.requests[1].body).contains(TOKEN),
        "the token went to the URL given, in the form of POST api/tokens"
    );
    last
}

/// 301, 302, 307 and 308 from an https front end to plain http, and from an http
/// front end to another host and port, at login and with a pre-issued token: the
/// redirect's target receives nothing at all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirects_to_another_origin_or_plain_http_carry_nothing() {
    let dir = workdir();
    let recorder = stand_in::start(
        None,
        vec![],
        Otherwise::Answer(Canned::new(
            200,
            &[("Content-Type", "application/json")],
            "{}",
        )),
    )
    .await;
    let rec = recorder.port();
    let pem = rcgen_leaf(dir.path(), "front.pem", &["localhost"], None, None);
    let ca = pem.cert_path.to_str().expect("utf-8").to_owned();
    for status in [301, 302, 307, 308] {
        // The token in the Location's query must not be shown either.
        let to_http = format!("http://127.0.0.1:{rec}/guacamole/api/tokens?token={TOKEN}");
        let secure = front(status, &to_http, Some(&pem)).await;
        let url = format!("https://localhost:{}/guacamole", secure.port());
        let shown = format!("http://127.0.0.1:{rec}/guacamole/api/tokens?...");
        let err = refused_both_ways(dir.path(), &secure, &url, &ca, status, &shown).await;
        assert!(err.contains("from https to plain http"), "{err}");

        let elsewhere = format!("http://localhost:{rec}/guacamole/api/tokens");
        let plain = front(status, &elsewhere, None).await;
        let url = format!("http://127.0.0.1:{}/guacamole", plain.port());
        refused_both_ways(dir.path(), &plain, &url, &ca, status, &elsewhere).await;
    }
    let log = recorder.log();
    assert_eq!(log.connections, 0, "the redirect's target was contacted");
    assert!(log.raw.is_empty());
}

/// A redirect answering a write is an error that names it; nothing is applied and
/// the run says what was done before it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_on_a_write_is_not_followed() {
    let dir = workdir();
    let server = server(principals_only()).await;
    server.set_faults(vec![FaultRule::on(
        "PATCH",
        "/connections",
        Fault::Status {
            code: 307,
            message: None,
        },
    )]);
    let out = guacsync_in(&server, dir.path(), &["sync", "."], &[]).await;
    let err = failed_once(&out);
    assert!(
        err.contains("the server answered 307, a redirect with no Location"),
        "{err}"
    );
    assert!(err.contains("done before it: nothing"), "{err}");
    assert!(server.state().connections.is_empty());
}

//! First contact: the usual URL mistakes (a wrong path prefix, https to an http
//! server and back, a browser URL, credentials or a query in the URL, a refused
//! connection, an unknown host, no answer) each give one error that names the URL
//! tried and says what to check; a proxy's HTML page is one line in the error and
//! in every retry warning, never the page itself.

use super::stand_in::{self, Canned, Otherwise, Rule};
use super::*;

const NGINX_502: &str = "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx/1.22.1</center>\r\n</body>\r\n</html>\r\n";
const SUMMARY: &str =
    "\"502 Bad Gateway\" (a text/html page of 157 bytes, not Guacamole's JSON error)";

fn has_all(label: &str, err: &str, needles: &[&str]) {
    for n in needles {
        assert!(err.contains(n), "{label}: {n:?} not in:\n{err}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_prefix_and_scheme_name_the_url_and_what_to_check() {
    let dir = workdir();
    let server = server(principals_only()).await;
    let port = server.addr().port();
    let http = format!("http://127.0.0.1:{port}");
    let cases: Vec<(String, Vec<String>)> = vec![
        (
            format!("{http}/guac"),
            vec![
                format!("login failed: POST {http}/guac/api/tokens: the server answered 404"),
                "not Guacamole's JSON error".into(),
                format!("there is no Guacamole REST API below {http}/guac/; check the path prefix"),
            ],
        ),
        (
            format!("{http}/guacamole/api/"),
            vec![
                format!("POST {http}/guacamole/api/api/tokens"),
                format!("guacsync adds api/ itself: try {http}/guacamole/"),
            ],
        ),
        (
            format!("https://127.0.0.1:{port}/guacamole"),
            vec![
                format!("POST https://127.0.0.1:{port}/guacamole/api/tokens"),
                format!("127.0.0.1:{port} does not speak TLS"),
                "use an http:// URL".into(),
            ],
        ),
    ];
    for (url, needles) in &cases {
        let err = failed_once(&plan(&server, dir.path(), url, &[], &[]).await);
        has_all(
            url,
            &err,
            &needles.iter().map(String::as_str).collect::<Vec<_>>(),
        );
    }

    // With a pre-issued token the first request is not a login; same advice.
    let err = failed_once(
        &plan(
            &server,
            dir.path(),
            &format!("{http}/guac"),
            &[],
            &[("GUACAMOLE_TOKEN", TOKEN)],
        )
        .await,
    );
    has_all(
        "token",
        &err,
        &[
            &format!("POST {http}/guac/api/tokens: the server answered 404"),
            "check the path prefix",
        ],
    );
    no_secret(&err, &[TOKEN]);
}

/// A browser URL, credentials or a query in the URL: refused before any request,
/// with the URL to use, and without echoing the credential or the query.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unusable_urls_are_refused_with_the_url_to_use() {
    let dir = workdir();
    let server = server(principals_only()).await;
    let port = server.addr().port();
    let http = format!("http://127.0.0.1:{port}");
    let refused = [
        (
            format!("{http}/guacamole/#/settings/postgresql/connections"),
            vec![
                "is a browser address".to_owned(),
                format!("use {http}/guacamole/"),
            ],
        ),
        (
            format!("http://guacadmin:{PASSWORD}@127.0.0.1:{port}/guacamole/"),
            vec![
                "must not hold a user name or password".to_owned(),
                format!("use {http}/guacamole/"),
            ],
        ),
        (
            format!("{http}/guacamole/?token={TOKEN}"),
            vec!["has a query".to_owned(), format!("use {http}/guacamole/")],
        ),
    ];
    for (url, needles) in &refused {
        let err = failed_once(&plan(&server, dir.path(), url, &[], &[]).await);
        has_all(
            url,
            &err,
            &needles.iter().map(String::as_str).collect::<Vec<_>>(),
        );
        no_secret(&err, &[PASSWORD, TOKEN]);
    }
    assert!(server.requests().is_empty(), "{:?}", server.requests());
}

/// Plain http to a TLS port, nothing listening, an unknown host, no answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_failures_say_what_to_check() {
    let dir = workdir();
    let server = server(principals_only()).await;
    let pem = rcgen_leaf(dir.path(), "tls.pem", &["localhost"], None, None);
    let tls = tls_server(&pem).await;
    let tport = tls.addr().port();
    let err = failed_once(
        &plan(
            &tls,
            dir.path(),
            &format!("http://127.0.0.1:{tport}/guacamole"),
            &[],
            &[],
        )
        .await,
    );
    has_all(
        "http to https",
        &err,
        &[
            &format!("127.0.0.1:{tport} did not answer in HTTP"),
            "if the server expects TLS on this port, use an https:// URL",
        ],
    );

    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let closed_port = closed.local_addr().expect("addr").port();
    drop(closed);
    let err = failed_once(
        &plan(
            &server,
            dir.path(),
            &format!("http://127.0.0.1:{closed_port}/guacamole"),
            &[],
            &[],
        )
        .await,
    );
    has_all(
        "refused",
        &err,
        &[&format!("connection refused by 127.0.0.1:{closed_port}")],
    );
    let err = failed_once(
        &plan(
            &server,
            dir.path(),
            "http://guacsync-test.invalid/guacamole",
            &[],
            &[],
        )
        .await,
    );
    has_all(
        "dns",
        &err,
        &[
            "POST http://guacsync-test.invalid/guacamole/api/tokens",
            "cannot resolve the host name guacsync-test.invalid",
        ],
    );
    let silent = stand_in::start(None, vec![], Otherwise::Hang).await;
    let err = failed_once(
        &plan(
            &server,
            dir.path(),
            &format!("http://127.0.0.1:{}/guacamole", silent.port()),
            &["--timeout", "1"],
            &[],
        )
        .await,
    );
    has_all(
        "timeout",
        &err,
        &[&format!(
            "no answer from 127.0.0.1:{} within 1 s",
            silent.port()
        )],
    );
}

/// A proxy's HTML 502 on a read: three retry warnings and the error, each one line
/// with the page's title, type and size; at login: one error that says a proxy
/// answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_proxy_html_page_is_one_line_in_errors_and_retry_warnings() {
    let dir = workdir();
    let server = server(principals_only()).await;
    let upstream = format!("http://127.0.0.1:{}", server.addr().port());
    let page = Canned::new(502, &[("Content-Type", "text/html")], NGINX_502);
    let rule = |method: &str, path: &str| Rule {
        method: Some(method.to_owned()),
        path_contains: path.to_owned(),
        answer: page.clone(),
    };
    let proxy = stand_in::start(
        None,
        vec![rule("GET", "connectionGroups/ROOT/tree")],
        Otherwise::Forward(upstream.clone()),
    )
    .await;
    let url = format!("http://127.0.0.1:{}/guacamole", proxy.port());
    let out = plan(&server, dir.path(), &url, &[], &[]).await;
    let err = failed_once(&out);
    for fragment in ["<html", "<center", "nginx/1.22.1", "</"] {
        assert!(!err.contains(fragment), "the page was printed:\n{err}");
    }
    let mentions: Vec<&str> = err.lines().filter(|l| l.contains("502")).collect();
    assert_eq!(
        mentions.len(),
        4,
        "three retry warnings and one error:\n{err}"
    );
    for line in &mentions {
        assert!(
            line.contains(&format!(
                "GET api/session/data/postgresql/connectionGroups/ROOT/tree: the server answered 502: {SUMMARY}"
            )),
            "{line}"
        );
    }
    assert_eq!(
        mentions
            .iter()
            .filter(|l| l.contains("retrying in"))
            .count(),
        3,
        "{err}"
    );

    let login_proxy = stand_in::start(
        None,
        vec![rule("POST", "api/tokens")],
        Otherwise::Forward(upstream),
    )
    .await;
    let url = format!("http://127.0.0.1:{}/guacamole", login_proxy.port());
    let err = failed_once(&plan(&server, dir.path(), &url, &[], &[]).await);
    has_all(
        "login 502",
        &err,
        &[
            &format!("login failed: POST {url}/api/tokens: the server answered 502: {SUMMARY}"),
            "a proxy in front of Guacamole answered",
        ],
    );
    assert_eq!(err.lines().count(), 1, "{err}");

    // A sign-in page with status 200 where JSON was expected (an SSO proxy).
    let sso = stand_in::start(
        None,
        vec![Rule {
            method: Some("GET".to_owned()),
            path_contains: "connectionGroups/ROOT/tree".to_owned(),
            answer: Canned::new(
                200,
                &[("Content-Type", "text/html")],
                "<!DOCTYPE html><html><head><title>Sign in - Example SSO</title></head><body><form>...</form></body></html>",
            ),
        }],
        Otherwise::Forward(format!("http://127.0.0.1:{}", server.addr().port())),
    )
    .await;
    let url = format!("http://127.0.0.1:{}/guacamole", sso.port());
    let err = failed_once(&plan(&server, dir.path(), &url, &[], &[]).await);
    has_all(
        "200 page",
        &err,
        &[
            "connectionGroups/ROOT/tree: unexpected response: not JSON but \"Sign in - Example SSO\" (an HTML page of 106 bytes)",
        ],
    );
}

/// An error whose cause is quoted in its own message is printed once, its cause
/// too (`{:#}` used to repeat it: `No such file ...: No such file ...`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_error_and_its_cause_are_printed_once() {
    let dir = workdir();
    let server = server(principals_only()).await;
    let url = server.base_url().to_owned();
    std::fs::create_dir(dir.path().join("conf.d")).expect("mkdir");
    for (args, cause, named) in [
        (&["--config", "conf.d"][..], "Is a directory", "conf.d"),
        (
            &["--ca-cert", "missing.pem"][..],
            "No such file",
            "missing.pem",
        ),
    ] {
        let err = failed_once(&plan(&server, dir.path(), &url, args, &[]).await);
        assert_eq!(err.matches(cause).count(), 1, "{args:?}:\n{err}");
        assert!(err.contains(named), "{err}");
    }
}

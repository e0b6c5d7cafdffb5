//! What a failed request means, in words an operator can act on.
//!
//! reqwest reports a failure as a chain of errors from hyper, the resolver, the
//! socket and rustls (`client error (Connect): received corrupt message of type
//! InvalidContentType`). This module finds the cause that matters in that chain and
//! says what was tried (the host and port, or the URL) and what to check: the port
//! and the scheme for a refused connection or a server that does not speak TLS, the
//! host name for a DNS failure, the certificate for TLS, the path prefix for a 404
//! at `api/tokens`, the redirect's target instead of following it (DESIGN.md §9).

use std::error::Error as StdError;
use std::fmt::Write as _;
use std::io::ErrorKind;
use std::time::Duration;

use url::Url;

use super::endpoint::{self, Endpoint};
use super::tls::{self, CertProblem};

/// Every error in `e`'s chain, including the errors an `io::Error` wraps (its
/// `source()` skips them, and rustls' errors travel inside one).
fn causes<'a>(e: &'a (dyn StdError + 'static)) -> Vec<&'a (dyn StdError + 'static)> {
    let mut out: Vec<&'a (dyn StdError + 'static)> = Vec::new();
    let mut cur = Some(e);
    while let Some(err) = cur {
        out.push(err);
        // An io::Error may wrap another io::Error: each is looked into.
        cur = match err
            .downcast_ref::<std::io::Error>()
            .and_then(std::io::Error::get_ref)
        {
            Some(inner) => Some(inner as &'a (dyn StdError + 'static)),
            None => err.source(),
        };
        if out.len() > 16 {
            break;
        }
    }
    out
}

/// The causes' texts after reqwest's own (which repeats the URL), each once.
fn detail(causes: &[&(dyn StdError + 'static)]) -> String {
    let mut parts: Vec<String> = Vec::new();
    for c in causes.iter().skip(1) {
        let text = c.to_string();
        if !text.is_empty() && !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
    }
    if parts.is_empty() {
        causes.first().map(ToString::to_string).unwrap_or_default()
    } else {
        parts.join(": ")
    }
}

/// A failed request (no HTTP answer): what happened, at which host and port, and
/// what to check.
#[must_use]
pub fn transport(e: &reqwest::Error, endpoint: &Endpoint, timeout: Duration) -> String {
    let at = endpoint.host_port();
    let causes = causes(e);
    for c in &causes {
        if let Some(tls) = c.downcast_ref::<rustls::Error>() {
            return tls_problem(tls, endpoint);
        }
    }
    if e.is_timeout() {
        return if e.is_connect() {
            format!(
                "could not connect to {at} within {} s; check that the server is running and reachable from here (a firewall that drops packets looks like this)",
                timeout.min(Duration::from_secs(10)).as_secs()
            )
        } else {
            format!(
                "no answer from {at} within {} s (timed out); check that the server is running, or raise --timeout",
                timeout.as_secs()
            )
        };
    }
    let io_kind = causes
        .iter()
        .find_map(|c| c.downcast_ref::<std::io::Error>().map(std::io::Error::kind));
    if io_kind == Some(ErrorKind::ConnectionRefused) {
        return format!(
            "connection refused by {at}: nothing accepts connections there; check the host and port of the URL, and that Guacamole (or the proxy in front of it) is running"
        );
    }
    if causes
        .iter()
        .any(|c| c.to_string().starts_with("dns error"))
    {
        let host = at.rsplit_once(':').map_or(at.as_str(), |(h, _)| h);
        let last = causes.last().map(ToString::to_string).unwrap_or_default();
        return format!("cannot resolve the host name {host} ({last}); check the host of the URL");
    }
    let closed = matches!(
        io_kind,
        Some(
            ErrorKind::ConnectionReset
                | ErrorKind::ConnectionAborted
                | ErrorKind::UnexpectedEof
                | ErrorKind::BrokenPipe
        )
    ) || causes.iter().any(|c| {
        let t = c.to_string();
        t.contains("connection closed before message completed")
            || t.contains("invalid HTTP")
            || t.contains("received unexpected message")
    });
    let tls_hint = if endpoint.is_https() {
        String::new()
    } else {
        "; if the server expects TLS on this port, use an https:// URL".to_owned()
    };
    if closed {
        return format!(
            "{at} did not answer in HTTP ({}){tls_hint}",
            detail(&causes)
        );
    }
    if e.is_connect() {
        format!("cannot connect to {at}: {}{tls_hint}", detail(&causes))
    } else {
        format!("the request to {at} failed: {}", detail(&causes))
    }
}

fn tls_problem(e: &rustls::Error, endpoint: &Endpoint) -> String {
    let at = endpoint.host_port();
    match e {
        rustls::Error::InvalidCertificate(rustls::CertificateError::Other(other)) => {
            match other.0.downcast_ref::<CertProblem>() {
                // It names the certificate and how to trust it; the URL is named by
                // the caller. The verifier does not know the port: filled in here.
                Some(problem) => problem.to_string().replace(tls::HOST_PORT, &at),
                None => format!("the TLS certificate of {at} is not trusted: {other:?}"),
            }
        }
        rustls::Error::InvalidCertificate(c) => {
            format!("the TLS certificate of {at} is not trusted: {c:?}")
        }
        rustls::Error::InvalidMessage(_) => format!(
            "{at} does not speak TLS: it answered the TLS handshake in plain HTTP (or another protocol); use an http:// URL if the server serves plain HTTP on this port, or the port where it serves HTTPS"
        ),
        rustls::Error::AlertReceived(alert) => format!(
            "{at} ended the TLS handshake ({alert:?}): it may require a client certificate, or a TLS version or cipher suite that guacsync does not offer"
        ),
        other => format!("TLS with {at} failed: {other}"),
    }
}

/// A 3xx answer, never followed: the status, where it points, and what to do.
#[must_use]
pub fn redirect(endpoint: &Endpoint, request: &Url, location: Option<&str>) -> String {
    let Some(raw) = location else {
        return "a redirect with no Location; guacsync never follows redirects, so that the password and token go only to the URL given".to_owned();
    };
    let target = request.join(raw).ok();
    let shown = target.as_ref().map_or_else(
        || crate::secret::redact(raw).chars().take(200).collect(),
        endpoint::shown,
    );
    let mut text = format!(
        "a redirect to {shown}; guacsync never follows redirects, so that the password and token go only to the URL given"
    );
    let rest = endpoint.relative(request);
    // The same API path below another base: the server (or its scheme) moved.
    let base = match (&target, rest) {
        (Some(t), Some(rest)) if !rest.is_empty() => t
            .as_str()
            .strip_suffix(rest)
            .and_then(|b| Url::parse(b).ok()),
        _ => None,
    };
    let downgrade =
        request.scheme() == "https" && target.as_ref().is_some_and(|t| t.scheme() == "http");
    match base {
        _ if downgrade => text.push_str(
            "; it leads from https to plain http, where the password and token would travel unencrypted: fix the redirect in the proxy or server",
        ),
        Some(base) if base.as_str() != endpoint.as_str() => {
            let _ = write!(
                text,
                "; if the server has moved there, use --url {}",
                endpoint::shown(&base)
            );
        }
        _ => text.push_str(
            "; a redirect to a login page means a single-sign-on proxy guards this URL: give guacsync a URL that reaches Guacamole's API directly",
        ),
    }
    text
}

/// The hint for an answer at first contact that is not Guacamole's: a wrong path
/// prefix (404, 405), a proxy in trouble (502-504), or a proxy's own refusal.
#[must_use]
pub fn first_contact_hint(endpoint: &Endpoint, status: u16) -> String {
    match status {
        404 | 405 => {
            let mut hint = format!(
                "there is no Guacamole REST API below {}; check the path prefix: the URL must be the address of Guacamole's web application (where its login page is), such as https://guac.example.com/guacamole/",
                endpoint.as_str()
            );
            if let Some(without) = endpoint.as_str().strip_suffix("api/") {
                let _ = write!(hint, "; guacsync adds api/ itself: try {without}");
            }
            hint
        }
        502..=504 => "a proxy in front of Guacamole answered: check that Guacamole is running and reachable from the proxy".to_owned(),
        200..=299 => "this is not Guacamole's API: check the path prefix (the address of Guacamole's web application), and whether a single-sign-on proxy intercepts API requests".to_owned(),
        _ => "this is not Guacamole's answer: a proxy in front of it may require its own authentication, or refuse the request".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_texts() {
        let e = Endpoint::parse("http://h/guacamole").expect("url");
        let req = e.url("api/tokens").expect("url");
        let to_https = redirect(&e, &req, Some("https://h/guacamole/api/tokens"));
        assert!(
            to_https.starts_with(
                "a redirect to https://h/guacamole/api/tokens; guacsync never follows"
            ),
            "{to_https}"
        );
        assert!(
            to_https.ends_with("use --url https://h/guacamole/"),
            "{to_https}"
        );
        let sso = redirect(&e, &req, Some("/sso/login?next=%2Fguacamole"));
        assert!(
            sso.starts_with("a redirect to http://h/sso/login?..."),
            "{sso}"
        );
        assert!(sso.contains("single-sign-on"), "{sso}");
        assert!(redirect(&e, &req, None).starts_with("a redirect with no Location"));
        let secure = Endpoint::parse("https://h/guacamole").expect("url");
        let req = secure.url("api/tokens").expect("url");
        let down = redirect(&secure, &req, Some("http://h/guacamole/api/tokens"));
        assert!(down.contains("from https to plain http"), "{down}");
        assert!(!down.contains("--url"), "{down}");
    }

    #[test]
    fn prefix_hints() {
        let e = Endpoint::parse("https://h/guacamole/api").expect("url");
        let hint = first_contact_hint(&e, 404);
        assert!(hint.contains("path prefix"), "{hint}");
        assert!(hint.ends_with("try https://h/guacamole/"), "{hint}");
        assert!(first_contact_hint(&e, 502).contains("proxy"));
    }
}

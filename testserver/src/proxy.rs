//! Faults that play a reverse proxy in front of Guacamole (DESIGN.md §6, §9): the
//! answers come from "nginx", not from the web application, so a client sees an
//! HTML page where it expects Guacamole's JSON. Three shapes matter to a client:
//! - a body over `client_max_body_size` is refused with nginx's 413 page before
//!   Guacamole sees it (nothing applied);
//! - a front end redirects (301/302/307/308 with `Location`) instead of serving;
//! - a 502/503/504 after the request reached Guacamole and was applied (the
//!   proxy gave up waiting), or before it was forwarded.
//!
//! The pages and headers are byte for byte what nginx 1.22.1 (Debian bookworm)
//! sends for `return <code>` and for an oversized body, captured from the real
//! binary; the real-nginx tests (tests/nginx.rs) compare them.

use std::sync::Mutex;

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{CONNECTION, CONTENT_TYPE, HeaderValue, LOCATION, SERVER};
use hyper::{Response, StatusCode};
use serde::{Deserialize, Serialize};

use serde_json::{Value, json};

use crate::server::{Reply, empty_reply, json_reply, text_reply};

/// The `Server` header and page footer of the nginx these pages were captured from.
pub const NGINX: &str = "nginx/1.22.1";

/// One request that the "proxy" answered itself.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct ProxyEvent {
    pub method: String,
    /// The path below the prefix, as received.
    pub path: String,
    /// The status the proxy answered.
    pub status: u16,
    /// The body size the client declared or sent (at least this many bytes when
    /// the proxy stopped reading early).
    pub body_bytes: u64,
    /// True when Guacamole had received and applied the request first.
    pub applied: bool,
}

/// The proxy's own state: its body limit and what it answered.
#[derive(Default)]
pub struct Proxy {
    limit: Mutex<Option<u64>>,
    events: Mutex<Vec<ProxyEvent>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Proxy {
    #[must_use]
    pub fn new(limit: Option<u64>) -> Self {
        Self {
            limit: Mutex::new(limit),
            events: Mutex::new(Vec::new()),
        }
    }

    /// nginx's `client_max_body_size` (`None`: no proxy limit).
    #[must_use]
    pub fn limit(&self) -> Option<u64> {
        *lock(&self.limit)
    }

    pub fn set_limit(&self, limit: Option<u64>) {
        *lock(&self.limit) = limit;
    }

    /// Whether a body of `len` bytes is refused: nginx refuses a length strictly
    /// greater than `client_max_body_size`.
    #[must_use]
    pub fn refuses(&self, len: u64) -> bool {
        self.limit().is_some_and(|limit| len > limit)
    }

    pub fn record(&self, event: ProxyEvent) {
        lock(&self.events).push(event);
    }

    #[must_use]
    pub fn events(&self) -> Vec<ProxyEvent> {
        lock(&self.events).clone()
    }

    pub fn clear_events(&self) {
        lock(&self.events).clear();
    }
}

impl Proxy {
    /// The proxy's own answer, recorded in its event log (not in the request
    /// log: Guacamole never saw the request, or its answer was thrown away).
    #[must_use]
    pub fn answer(
        &self,
        method: &hyper::Method,
        path: &str,
        code: u16,
        location: Option<&str>,
        body_bytes: u64,
        applied: bool,
    ) -> Reply {
        self.record(ProxyEvent {
            method: method.to_string(),
            path: path.to_owned(),
            status: code,
            body_bytes,
            applied,
        });
        reply(code, location)
    }
}

/// `Content-Length`, when the client declared one.
#[must_use]
pub fn declared_length(headers: &hyper::HeaderMap) -> Option<u64> {
    headers
        .get(hyper::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
}

/// `{prefix}/__test/proxy`: `GET` the limit and the events, `PUT
/// {"client_max_body_size": N or null}`, `DELETE` the events.
#[must_use]
pub fn hook(proxy: &Proxy, method: &str, body: &[u8]) -> Reply {
    match method {
        "GET" => json_reply(
            200,
            &json!({"client_max_body_size": proxy.limit(), "events": proxy.events()}),
        ),
        "PUT" => match serde_json::from_slice::<Value>(body)
            .ok()
            .and_then(|v| v.get("client_max_body_size").cloned())
        {
            Some(Value::Null) => {
                proxy.set_limit(None);
                empty_reply(204)
            }
            Some(Value::Number(n)) if n.as_u64().is_some() => {
                proxy.set_limit(n.as_u64());
                empty_reply(204)
            }
            _ => text_reply(400, "expected {\"client_max_body_size\": N or null}"),
        },
        "DELETE" => {
            proxy.clear_events();
            empty_reply(204)
        }
        _ => text_reply(405, "Method Not Allowed"),
    }
}

/// The title nginx prints for a status (its status line may differ: 302 is
/// "Moved Temporarily" on the wire but "Found" on the page).
fn title(code: u16) -> String {
    let text = match code {
        301 => "Moved Permanently",
        302 => "Found",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        413 => "Request Entity Too Large",
        502 => "Bad Gateway",
        503 => "Service Temporarily Unavailable",
        504 => "Gateway Time-out",
        other => StatusCode::from_u16(other)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or("Error"),
    };
    format!("{code} {text}")
}

/// The reason phrase on nginx's status line, where it differs from hyper's.
fn status_line_reason(code: u16) -> Option<&'static [u8]> {
    match code {
        302 => Some(b"Moved Temporarily"),
        503 => Some(b"Service Temporarily Unavailable"),
        504 => Some(b"Gateway Time-out"),
        _ => None,
    }
}

/// nginx's built-in error page for `code` (CRLF line ends, as nginx writes them).
#[must_use]
pub fn page(code: u16) -> String {
    let title = title(code);
    format!(
        "<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n<center><h1>{title}</h1></center>\r\n<hr><center>{NGINX}</center>\r\n</body>\r\n</html>\r\n"
    )
}

/// nginx's answer with status `code`: its page, `text/html`, its `Server` header,
/// `Location` for a redirect, and `Connection: close` for a 413 (nginx stops
/// reading the body and closes).
#[must_use]
pub fn reply(code: u16, location: Option<&str>) -> Reply {
    let mut r = Response::new(Full::new(Bytes::from(page(code))));
    *r.status_mut() = StatusCode::from_u16(code).unwrap_or(StatusCode::BAD_GATEWAY);
    let headers = r.headers_mut();
    headers.insert(SERVER, HeaderValue::from_static(NGINX));
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/html"));
    if let Some(location) = location.and_then(|l| HeaderValue::from_str(l).ok()) {
        headers.insert(LOCATION, location);
    }
    if code == 413 {
        headers.insert(CONNECTION, HeaderValue::from_static("close"));
    }
    if let Some(reason) = status_line_reason(code) {
        r.extensions_mut()
            .insert(hyper::ext::ReasonPhrase::from_static(reason));
    }
    r
}

/// A redirect target with nginx's `$request_uri` (the original path and query)
/// filled in, so `https://other.example$request_uri` names the same resource on
/// another origin.
#[must_use]
pub fn location(template: &str, request_uri: &str) -> String {
    template.replace("$request_uri", request_uri)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_are_nginx_byte_for_byte() {
        // Lengths as nginx 1.22.1 sends them in Content-Length.
        for (code, len) in [
            (301, 169),
            (302, 145),
            (307, 171),
            (308, 171),
            (413, 183),
            (502, 157),
            (503, 197),
            (504, 167),
        ] {
            assert_eq!(page(code).len(), len, "{code}");
        }
        assert!(page(504).starts_with("<html>\r\n<head><title>504 Gateway Time-out</title>"));
    }

    #[test]
    fn limit_is_strictly_greater() {
        let p = Proxy::new(Some(1024));
        assert!(!p.refuses(1024));
        assert!(p.refuses(1025));
        p.set_limit(None);
        assert!(!p.refuses(u64::MAX));
    }

    #[test]
    fn location_fills_request_uri() {
        assert_eq!(
            location("https://x.example$request_uri", "/guacamole/api/tokens?a=1"),
            "https://x.example/guacamole/api/tokens?a=1"
        );
    }
}

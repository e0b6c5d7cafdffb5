//! Fault injection: the rules a test sets (`Fault`, `FaultRule`), which requests
//! they hit, and what each fault does to a request, including the faults that
//! play a reverse proxy in front of the server.

use std::ops::ControlFlow;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Response, StatusCode};
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

use super::shared::lock;
use super::{Reply, Shared, error_reply};
use crate::api;
use crate::error::ApiError;

/// What a fault does to the request it hits.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Fault {
    /// Wait this long first (above a client's timeout: a timeout).
    Latency { ms: u64 },
    /// Answer with this status and an `APIError` body, without handling the request.
    Status { code: u16, message: Option<String> },
    /// Close the TCP connection without answering.
    Drop,
    /// Answer with this status and an `APIError` whose message repeats the request
    /// (query string and body) verbatim, as a careless proxy or server might: a
    /// client must not print such a message unfiltered.
    Echo { code: u16 },
    /// Destroy the request's session first, so it gets the 403 for a bad token.
    ExpireToken,
    /// A directory PATCH fails at patch `index` with a per-patch error; the batch
    /// is rolled back and answered with the real 400 body (on 1.5.5: the removes
    /// before it stay applied and the 400 has no patch list). A permission PATCH
    /// fails at the step (kind of permission) holding patch `index` with a 400,
    /// the steps before it staying applied.
    PatchError {
        index: usize,
        message: Option<String>,
    },
    /// A front end redirects: `code` (301, 302, 307, 308) with nginx's page and
    /// `Location: location`, where `$request_uri` stands for the request's own
    /// path and query. Guacamole never sees the request.
    Redirect { code: u16, location: String },
    /// A proxy answers `code` with nginx's HTML page (502, 503, 504, 413...).
    /// With `applied`, Guacamole received and applied the request first and its
    /// answer was lost (a proxy timeout); without, nothing reached Guacamole.
    ProxyError {
        code: u16,
        #[serde(default)]
        applied: bool,
    },
    /// Answer with this status and this body (sent as `application/json`, whatever
    /// it holds) instead of the real answer. With `after_handling` the request is
    /// handled first and its changes stay, as when a proxy mangles the answer to a
    /// write that was applied.
    Answer {
        code: u16,
        body: String,
        #[serde(default)]
        after_handling: bool,
    },
    /// Answer with this status and a body sent in chunks: `prefix`, then `repeat`
    /// again and again, `total_bytes` in all (with a `Content-Length`), or without
    /// end when `total_bytes` is not given.
    Stream {
        code: u16,
        #[serde(default)]
        prefix: String,
        repeat: String,
        #[serde(default)]
        total_bytes: Option<u64>,
    },
}

/// When a fault applies. With `nth`, the rule hits the nth API request counted from
/// when it was set (and must also match `method`/`path` when given); otherwise it
/// hits the `occurrence`-th request matching `method`/`path` (every one, when
/// `occurrence` is not given), `times` times.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct FaultRule {
    #[serde(default)]
    pub nth: Option<u64>,
    #[serde(default)]
    pub method: Option<String>,
    /// A substring of the path below the prefix (the whole path with `exact_path`).
    #[serde(default)]
    pub path: Option<String>,
    #[serde(default)]
    pub exact_path: bool,
    #[serde(default)]
    pub occurrence: Option<u64>,
    #[serde(default = "one")]
    pub times: u32,
    pub fault: Fault,
}

fn one() -> u32 {
    1
}

impl FaultRule {
    /// A rule that hits the `n`-th API request from now.
    #[must_use]
    pub fn nth(n: u64, fault: Fault) -> Self {
        Self {
            nth: Some(n),
            method: None,
            path: None,
            exact_path: false,
            occurrence: None,
            times: 1,
            fault,
        }
    }

    /// A rule that hits the first request with this method and path substring.
    #[must_use]
    pub fn on(method: &str, path: &str, fault: Fault) -> Self {
        Self {
            nth: None,
            method: Some(method.to_owned()),
            path: Some(path.to_owned()),
            exact_path: false,
            occurrence: Some(1),
            times: 1,
            fault,
        }
    }

    /// A rule that hits the `occurrence`-th request with exactly this method and path.
    #[must_use]
    pub fn exact(method: &str, path: &str, occurrence: u64, fault: Fault) -> Self {
        Self {
            nth: None,
            method: Some(method.to_owned()),
            path: Some(path.to_owned()),
            exact_path: true,
            occurrence: Some(occurrence),
            times: 1,
            fault,
        }
    }
}

pub(super) struct ActiveRule {
    rule: FaultRule,
    seen: u64,
    matched: u64,
    fired: u32,
}

impl Shared {
    pub fn set_rules(&self, rules: Vec<FaultRule>) {
        *lock(&self.rules) = rules
            .into_iter()
            .map(|rule| ActiveRule {
                rule,
                seen: 0,
                matched: 0,
                fired: 0,
            })
            .collect();
    }

    pub fn add_rules(&self, rules: Vec<FaultRule>) {
        lock(&self.rules).extend(rules.into_iter().map(|rule| ActiveRule {
            rule,
            seen: 0,
            matched: 0,
            fired: 0,
        }));
    }

    #[must_use]
    pub fn rules(&self) -> Vec<FaultRule> {
        lock(&self.rules).iter().map(|r| r.rule.clone()).collect()
    }

    /// The faults that hit this request (each rule counts it).
    pub(super) fn faults_for(&self, method: &str, path: &str) -> Vec<Fault> {
        let mut hits = Vec::new();
        let mut rules = lock(&self.rules);
        for r in rules.iter_mut() {
            r.seen += 1;
            let matches = r
                .rule
                .method
                .as_deref()
                .is_none_or(|m| m.eq_ignore_ascii_case(method))
                && r.rule.path.as_deref().is_none_or(|p| {
                    if r.rule.exact_path {
                        path == p
                    } else {
                        path.contains(p)
                    }
                });
            if matches {
                r.matched += 1;
            }
            if r.fired >= r.rule.times || !matches {
                continue;
            }
            let hit = match (r.rule.nth, r.rule.occurrence) {
                (Some(n), _) => r.seen == n,
                (None, Some(k)) => r.matched >= k,
                (None, None) => true,
            };
            if hit {
                r.fired += 1;
                hits.push(r.rule.fault.clone());
            }
        }
        hits
    }
}

/// A reply with this status and body as given, labelled JSON.
fn raw_reply(code: u16, body: String) -> Reply {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    r.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    r
}

/// What the fault rules do to this request: `Err` is the answer to send instead of
/// handling it; otherwise a `patch-error` to inject and an answer to send after
/// handling it. (Proxy faults were dealt with before the request reached here.)
pub(super) async fn run_faults(
    shared: &Shared,
    kill: &Notify,
    parts: &hyper::http::request::Parts,
    path: &str,
    query: Option<&str>,
    body: &Bytes,
    faults: Vec<Fault>,
) -> Result<(Option<(usize, String)>, Option<Reply>), Reply> {
    let mut injected = None;
    let mut replaced = None;
    for fault in faults {
        match fault {
            Fault::Latency { ms } => tokio::time::sleep(Duration::from_millis(ms)).await,
            Fault::Status { code, message } => return Err(status_fault(code, message)),
            Fault::Echo { code } => {
                let echoed = format!(
                    "Rejected request {} {path}?{}: {}",
                    parts.method,
                    query.unwrap_or(""),
                    String::from_utf8_lossy(body)
                );
                return Err(error_reply(&ApiError::with_status(code, echoed)));
            }
            Fault::Drop => {
                kill.notify_one();
                std::future::pending::<()>().await;
            }
            Fault::ExpireToken => {
                if let Some(token) = api::token_of(&parts.headers, query) {
                    shared.end_session(&token);
                }
            }
            Fault::PatchError { index, message } => {
                injected = Some((
                    index,
                    message.unwrap_or_else(|| "Injected failure.".to_owned()),
                ));
            }
            Fault::Answer {
                code,
                body,
                after_handling,
            } => {
                let reply = raw_reply(code, body);
                if !after_handling {
                    return Err(reply);
                }
                replaced = Some(reply);
            }
            Fault::Stream {
                code,
                prefix,
                repeat,
                total_bytes,
            } => {
                let mut reply = raw_reply(code, String::new());
                reply.extensions_mut().insert(crate::answers::StreamOrder {
                    prefix: Bytes::from(prefix),
                    repeat: Bytes::from(repeat),
                    total_bytes,
                });
                return Err(reply);
            }
            Fault::Redirect { .. } | Fault::ProxyError { .. } => {}
        }
    }
    Ok((injected, replaced))
}

/// Proxy faults: a redirect, or an error before forwarding, is the proxy's
/// answer and Guacamole never sees the request (`Break`); an error after
/// applying gives the status to answer once Guacamole is done.
pub(super) fn proxy_faults(
    shared: &Shared,
    parts: &hyper::http::request::Parts,
    path: &str,
    faults: &[Fault],
    body_len: u64,
) -> ControlFlow<Reply, Option<u16>> {
    let mut after = None;
    for fault in faults {
        match fault {
            Fault::Redirect { code, location } => {
                let uri = parts.uri.path_and_query().map_or("/", |p| p.as_str());
                let target = crate::proxy::location(location, uri);
                let r =
                    shared
                        .proxy
                        .answer(&parts.method, path, *code, Some(&target), body_len, false);
                return ControlFlow::Break(r);
            }
            Fault::ProxyError { code, applied } if !applied => {
                return ControlFlow::Break(shared.proxy.answer(
                    &parts.method,
                    path,
                    *code,
                    None,
                    body_len,
                    false,
                ));
            }
            Fault::ProxyError { code, .. } => after = Some(*code),
            _ => {}
        }
    }
    ControlFlow::Continue(after)
}

/// The answer of a `status` fault: 500 without a message is the real server's
/// internal error.
fn status_fault(code: u16, message: Option<String>) -> Reply {
    let e = if code == 500 && message.is_none() {
        crate::error::Fail::Internal
            .into_api()
            .unwrap_or_else(|| ApiError::server("Unexpected internal error"))
    } else {
        ApiError::with_status(
            code,
            message.unwrap_or_else(|| "Injected failure.".to_owned()),
        )
    };
    error_reply(&e)
}

//! One API request from the socket to its answer: the path prefix and the web
//! container's path rules, the body read through the proxy's and Guacamole's
//! limits, the request log, latency and faults, then the REST API itself; and the
//! replies every handler builds.

use std::ops::ControlFlow;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use serde_json::Value;
use tokio::sync::Notify;

use super::faults::{proxy_faults, run_faults};
use super::hooks::hooks;
use super::shared::lock;
use super::{LoggedRequest, Shared};
use crate::api;
use crate::error::ApiError;

pub type Reply = Response<Full<Bytes>>;

pub fn json_reply(status: u16, body: &Value) -> Reply {
    json_text_reply(status, body.to_string())
}

/// A reply of JSON already written (`crate::field_order`).
pub fn json_text_reply(status: u16, body: String) -> Reply {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    r.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    r
}

pub fn empty_reply(status: u16) -> Reply {
    let mut r = Response::new(Full::new(Bytes::new()));
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    r
}

pub fn text_reply(status: u16, text: &str) -> Reply {
    let mut r = Response::new(Full::new(Bytes::from(text.to_owned())));
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    r.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("text/plain"),
    );
    r
}

pub fn error_reply(e: &ApiError) -> Reply {
    json_reply(e.status, &e.body())
}

/// Everything a handler needs to know about the request.
pub struct ApiRequest {
    pub method: Method,
    /// Path below the prefix, still percent-encoded.
    pub path: String,
    pub query: Option<String>,
    pub headers: hyper::HeaderMap,
    pub body: Bytes,
    /// A `patch-error` fault for this request.
    pub injected_patch_error: Option<(usize, String)>,
}

pub(super) async fn handle(
    shared: Arc<Shared>,
    kill: Arc<Notify>,
    req: Request<Incoming>,
) -> Reply {
    let reply = handle_api(&shared, kill, req).await;
    if shared.version.is_1_5() {
        crate::legacy::adapt_reply(reply).await
    } else {
        reply
    }
}

async fn handle_api(shared: &Arc<Shared>, kill: Arc<Notify>, req: Request<Incoming>) -> Reply {
    let shared = Arc::clone(shared);
    let (parts, body) = req.into_parts();
    let full_path = parts.uri.path().to_owned();
    let Some(path) = full_path
        .strip_prefix(shared.prefix.as_str())
        .filter(|p| p.starts_with('/') || p.is_empty())
    else {
        return text_reply(404, "Not Found");
    };
    let path = path.to_owned();
    let query = parts.uri.query().map(str::to_owned);
    if !path.starts_with("/__test/")
        && let Some(refused) = shared.path_rules.refuse(&full_path)
    {
        // The web container answers before the application sees the request.
        return refused;
    }
    if let Some(hook) = path.strip_prefix("/__test/") {
        let body = body
            .collect()
            .await
            .map(http_body_util::Collected::to_bytes)
            .unwrap_or_default();
        return hooks(&shared, &parts.method, hook, &body);
    }
    let body = match read_body(&shared, &parts, &path, query.as_ref(), body).await {
        Ok(body) => body,
        Err(reply) => return reply,
    };
    let faults = shared.faults_for(parts.method.as_str(), &path);
    let body_len = u64::try_from(body.len()).unwrap_or(u64::MAX);
    let proxy_after = match proxy_faults(&shared, &parts, &path, &faults, body_len) {
        ControlFlow::Continue(after) => after,
        ControlFlow::Break(reply) => return reply,
    };
    let index = shared.counter.fetch_add(1, Ordering::Relaxed) + 1;
    log_request(&shared, index, &parts, &path, query.as_ref(), &body);
    let latency = shared.latency_us.load(Ordering::Relaxed);
    if latency > 0 {
        crate::timer::sleep(Duration::from_micros(latency)).await;
    }
    let (injected, replaced) = match run_faults(
        &shared,
        &kill,
        &parts,
        &path,
        query.as_deref(),
        &body,
        faults,
    )
    .await
    {
        Ok(found) => found,
        Err(answer) => return answer,
    };
    let request = ApiRequest {
        method: parts.method.clone(),
        path,
        query,
        headers: parts.headers.clone(),
        body,
        injected_patch_error: injected,
    };
    let reply = api::route(&shared, &request);
    match proxy_after {
        // Guacamole applied it; the proxy gave up waiting and answers instead.
        Some(code) => shared
            .proxy
            .answer(&parts.method, &request.path, code, None, body_len, true),
        None => replaced.unwrap_or(reply),
    }
}

/// Reads the body as the proxy in front (if any) and then Guacamole would: the
/// proxy refuses a declared length over its limit unread; a chunked body is
/// read through the smaller of the two limits and refused by whichever it hit.
async fn read_body(
    shared: &Shared,
    parts: &hyper::http::request::Parts,
    path: &str,
    query: Option<&String>,
    body: Incoming,
) -> Result<Bytes, Reply> {
    if let Some(len) =
        crate::proxy::declared_length(&parts.headers).filter(|l| shared.proxy.refuses(*l))
    {
        return Err(shared
            .proxy
            .answer(&parts.method, path, 413, None, len, false));
    }
    // `api-max-request-size`: the body is read through a limit, and through the
    // proxy's, whichever is smaller (a chunked body has no declared length).
    let guacamole_limit = if shared.body_limit == 0 {
        u64::MAX
    } else {
        u64::try_from(shared.body_limit).unwrap_or(u64::MAX)
    };
    let proxy_limit = shared.proxy.limit().unwrap_or(u64::MAX);
    let limit = usize::try_from(guacamole_limit.min(proxy_limit)).unwrap_or(usize::MAX);
    match read_limited(body, limit).await {
        Ok(b) => Ok(b),
        Err(Overrun::TooLarge) => {
            if proxy_limit <= guacamole_limit {
                let read = proxy_limit.saturating_add(1);
                return Err(shared
                    .proxy
                    .answer(&parts.method, path, 413, None, read, false));
            }
            let index = shared.counter.fetch_add(1, Ordering::Relaxed) + 1;
            log_request(shared, index, parts, path, query, b"(over the limit)");
            Err(error_reply(&ApiError::overrun(
                "Request body/entity too large.",
            )))
        }
        Err(Overrun::Broken) => Err(empty_reply(400)),
    }
}

/// Why a body was not read whole.
enum Overrun {
    TooLarge,
    Broken,
}

/// Tomcat's `maxSwallowSize` default: after refusing a body, up to this much more
/// of it is read and dropped before answering, so a proxy still sending it gets
/// the 413 instead of a reset connection (which nginx reports as a 502).
const SWALLOW_BYTES: usize = 2 * 1024 * 1024;

/// Reads a body up to `limit` bytes; past it, keeps reading (and dropping) up to
/// [`SWALLOW_BYTES`] more, as Tomcat does, then refuses it.
async fn read_limited(mut body: Incoming, limit: usize) -> Result<Bytes, Overrun> {
    let mut kept = Vec::new();
    let mut total: usize = 0;
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else {
            return Err(Overrun::Broken);
        };
        let Ok(data) = frame.into_data() else {
            continue;
        };
        total = total.saturating_add(data.len());
        if total <= limit {
            kept.extend_from_slice(&data);
        } else if total > limit.saturating_add(SWALLOW_BYTES) {
            return Err(Overrun::TooLarge);
        }
    }
    if total > limit {
        return Err(Overrun::TooLarge);
    }
    Ok(Bytes::from(kept))
}

pub(super) fn log_request(
    shared: &Shared,
    index: u64,
    parts: &hyper::http::request::Parts,
    path: &str,
    query: Option<&String>,
    body: &[u8],
) {
    if !shared.log_requests {
        return;
    }
    let headers = parts
        .headers
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    lock(&shared.log).push(LoggedRequest {
        index,
        method: parts.method.to_string(),
        path: path.to_owned(),
        query: query.cloned(),
        headers,
        body: String::from_utf8_lossy(body).into_owned(),
        received_ms: u64::try_from(shared.started.elapsed().as_millis()).unwrap_or(u64::MAX),
    });
}

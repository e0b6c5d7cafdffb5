//! Answers that do not come from the REST API: what the web container in front of
//! Guacamole does to a request path (Tomcat's rules for `%2F` and `%5C`), and the
//! bodies of the `answer` and `stream` faults (a chosen body, or an oversized or
//! endless one sent in chunks).

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body_util::{Either, Full};
use hyper::Response;
use hyper::body::Frame;

use crate::server::{Reply, text_reply};

/// How the web container treats encoded separators in a request path. Guacamole's
/// images run Tomcat (9 for 1.6.0, 8.5 for 1.5.5), whose defaults refuse both:
///
/// - `%2F`: the connector's `encodedSolidusHandling` defaults to `reject`
///   (`org.apache.tomcat.util.buf.UDecoder` throws, `CoyoteAdapter` answers 400).
/// - `%5C`: `encodedReverseSolidusHandling` (Tomcat 9.0.99 and later; earlier
///   versions always decode) defaults to `decode`, and the decoded `\` is then
///   refused by `CoyoteAdapter.normalize` unless the system property
///   `org.apache.catalina.connector.CoyoteAdapter.ALLOW_BACKSLASH` is true, in
///   which case it becomes a `/` (so the name still cannot be addressed).
///
/// `passthrough` for either setting leaves the sequence encoded for the
/// application, which decodes it as part of the name: that is what `allow_*` models.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PathRules {
    /// Tomcat configured with `encodedSolidusHandling="passthrough"`.
    pub allow_encoded_slash: bool,
    /// Tomcat configured with `encodedReverseSolidusHandling="passthrough"`.
    pub allow_encoded_backslash: bool,
}

impl PathRules {
    /// Tomcat's 400 (its HTML error page) for a raw path these rules refuse.
    #[must_use]
    pub fn refuse(&self, raw_path: &str) -> Option<Reply> {
        let lower = raw_path.to_ascii_lowercase();
        let refused = (!self.allow_encoded_slash && lower.contains("%2f"))
            || (!self.allow_encoded_backslash && lower.contains("%5c"));
        refused.then(|| {
            let mut r = text_reply(
                400,
                "<!doctype html><html lang=\"en\"><head><title>HTTP Status 400 – Bad Request</title></head>\
                 <body><h1>HTTP Status 400 – Bad Request</h1></body></html>",
            );
            r.headers_mut().insert(
                hyper::header::CONTENT_TYPE,
                hyper::header::HeaderValue::from_static("text/html;charset=utf-8"),
            );
            r
        })
    }
}

/// What a `stream` fault sends, attached to the reply the request pipeline makes.
#[derive(Clone, Debug)]
pub struct StreamOrder {
    pub prefix: Bytes,
    pub repeat: Bytes,
    /// `None`: never ends (until the client goes away).
    pub total_bytes: Option<u64>,
}

/// A body sent in frames of at least 64 KiB: the prefix, then the repeated part.
pub struct Streamed {
    prefix: Option<Bytes>,
    frame: Bytes,
    remaining: Option<u64>,
}

impl Streamed {
    fn new(order: StreamOrder) -> Self {
        let mut frame = Vec::with_capacity(64 * 1024 + order.repeat.len());
        while !order.repeat.is_empty() && frame.len() < 64 * 1024 {
            frame.extend_from_slice(&order.repeat);
        }
        Self {
            prefix: Some(order.prefix).filter(|p| !p.is_empty()),
            frame: Bytes::from(frame),
            remaining: order.total_bytes,
        }
    }
}

impl hyper::body::Body for Streamed {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let this = self.get_mut();
        let mut next = this.prefix.take().unwrap_or_else(|| this.frame.clone());
        if let Some(remaining) = &mut this.remaining {
            let n = usize::try_from(*remaining)
                .unwrap_or(usize::MAX)
                .min(next.len());
            next.truncate(n);
            *remaining -= n as u64;
        }
        if next.is_empty() {
            return Poll::Ready(None);
        }
        Poll::Ready(Some(Ok(Frame::data(next))))
    }
}

/// The body type the server answers with.
pub type Body = Either<Full<Bytes>, Streamed>;

/// A reply as the connection sends it: streamed when a `stream` fault asked for it.
pub fn into_sent(reply: Reply) -> Response<Body> {
    let (mut parts, full) = reply.into_parts();
    match parts.extensions.remove::<StreamOrder>() {
        Some(order) => {
            if let Some(total) = order.total_bytes {
                parts.headers.insert(
                    hyper::header::CONTENT_LENGTH,
                    hyper::header::HeaderValue::from(total),
                );
            }
            Response::from_parts(parts, Either::Right(Streamed::new(order)))
        }
        None => Response::from_parts(parts, Either::Left(full)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt as _;

    #[test]
    fn tomcat_refuses_encoded_separators_by_default() {
        let stock = PathRules::default();
        assert!(
            stock
                .refuse("/api/session/data/postgresql/users/a%2Fb/permissions")
                .is_some()
        );
        assert!(
            stock
                .refuse("/api/session/data/postgresql/users/a%5cb/permissions")
                .is_some()
        );
        assert!(
            stock
                .refuse("/api/session/data/postgresql/users/a%20b/permissions")
                .is_none()
        );
        let open = PathRules {
            allow_encoded_slash: true,
            allow_encoded_backslash: true,
        };
        assert!(open.refuse("/users/a%2Fb%5Cc").is_none());
    }

    #[tokio::test]
    async fn a_finite_stream_sends_exactly_its_bytes() {
        let body = Streamed::new(StreamOrder {
            prefix: Bytes::from_static(b"{\"a\":["),
            repeat: Bytes::from_static(b"1,"),
            total_bytes: Some(200_000),
        });
        let bytes = body.collect().await.expect("collects").to_bytes();
        assert_eq!(bytes.len(), 200_000);
        assert!(bytes.starts_with(b"{\"a\":[1,1,"));
    }
}

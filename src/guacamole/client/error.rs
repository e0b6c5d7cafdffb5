//! What went wrong with a request, and how a server's error answer becomes one:
//! Guacamole's `APIError` read as such, anything else (a proxy's page) summarised in
//! one line. Never carries a token or a request body.

use reqwest::{Method, StatusCode};

use super::super::totp;
use super::super::transport::{UrlError, body};
use super::super::wire::{self, PatchOutcome};

/// What went wrong with a request. Never carries a token or a request body.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error(transparent)]
    Url(#[from] UrlError),
    #[error("cannot set up TLS: {0}")]
    Tls(String),
    #[error("{method} {path}: {message}")]
    Transport {
        method: Method,
        path: String,
        message: String,
        /// The request was a write and may have reached the server.
        outcome_unknown: bool,
    },
    #[error("{method} {path}: the server answered {status}: {message}")]
    Api {
        method: Method,
        path: String,
        status: u16,
        kind: Option<String>,
        message: String,
        /// For a rejected directory PATCH: one outcome per patch, in order.
        patches: Option<Vec<PatchOutcome>>,
    },
    /// A 3xx answer: never followed (credentials stay on the configured origin).
    #[error("{method} {url}: the server answered {status}, {message}")]
    Redirect {
        method: Method,
        url: String,
        status: u16,
        message: String,
    },
    #[error("{method} {path}: unexpected response: {message}")]
    Decode {
        method: Method,
        path: String,
        message: String,
    },
    #[error(
        "{method} {path}: the answer is larger than {} MiB, the most guacsync reads from one response; nothing of it was used",
        limit / (1024 * 1024)
    )]
    TooLarge {
        method: Method,
        path: String,
        limit: usize,
    },
    /// A write whose answer does not say what happened (a malformed outcome list):
    /// the server may have applied it.
    #[error(
        "{method} {path}: the server's answer is malformed ({message}); the request may have been applied"
    )]
    UnknownOutcome {
        method: Method,
        path: String,
        message: String,
    },
    #[error("login failed: {0}")]
    Login(String),
    /// The server answered the login with a refusal (a wrong password, an expired
    /// one, a ban): kept apart from [`Self::Login`] so that a caller that retries
    /// (watch) can pace its logins; Guacamole's auth-ban extension counts every
    /// refusal of its own against the client's address.
    #[error("login failed: {text}")]
    LoginRefused {
        text: String,
        status: u16,
        /// Guacamole's error `type` (`INVALID_CREDENTIALS`, ...); `None` when the
        /// answer was not Guacamole's JSON error (a proxy's page).
        kind: Option<String>,
        /// How many login requests the server refused (a TOTP code retried once
        /// makes two).
        requests: u32,
    },
    /// The first request with a pre-issued token met something that is not
    /// Guacamole's API (a wrong path prefix, a proxy's page).
    #[error("{0}")]
    FirstContact(String),
    #[error(transparent)]
    Totp(#[from] totp::InvalidSecret),
}

impl ClientError {
    /// True when a write may have been applied although it failed.
    #[must_use]
    pub fn outcome_unknown(&self) -> bool {
        matches!(
            self,
            Self::Transport {
                outcome_unknown: true,
                ..
            } | Self::UnknownOutcome { .. }
        )
    }

    /// True for the answer to a missing, invalid or expired token.
    #[must_use]
    pub fn is_session_denied(&self) -> bool {
        matches!(self, Self::Api { status: 403, kind: Some(k), message, .. } if k == "PERMISSION_DENIED" && message == "Permission Denied.")
    }
}

pub(super) fn retryable(e: &ClientError) -> bool {
    match e {
        ClientError::Transport { .. } => true,
        ClientError::Api { status, .. } => *status >= 500,
        _ => false,
    }
}

pub(in crate::guacamole) fn api_error(
    method: &Method,
    path: &str,
    status: StatusCode,
    content_type: Option<&str>,
    body: &[u8],
) -> ClientError {
    match serde_json::from_slice::<wire::ApiError>(body) {
        // Guacamole's APIError always carries its `type` (rest-api.md §2); other JSON
        // (an API gateway's `{"message": ...}`) is not Guacamole's answer.
        Ok(e) if e.kind.is_some() => ClientError::Api {
            method: method.clone(),
            path: path.to_owned(),
            status: status.as_u16(),
            // A server or proxy may repeat the request in its message.
            message: crate::secret::redact(
                &e.message
                    .clone()
                    .or_else(|| {
                        e.translatable_message
                            .as_ref()
                            .map(wire::Translatable::text)
                    })
                    .unwrap_or_default(),
            ),
            kind: e.kind,
            patches: e.patches,
        },
        // Not an APIError (a proxy's page, Jersey's own error): one line, never the
        // body itself.
        _ => ClientError::Api {
            method: method.clone(),
            path: path.to_owned(),
            status: status.as_u16(),
            kind: None,
            message: crate::secret::redact(&body::summarize(content_type, body)),
            patches: None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_errors_are_recognised() {
        let body = br#"{"message":"Permission Denied.","translatableMessage":{"key":"APP.TEXT_UNTRANSLATED","variables":{"MESSAGE":"Permission Denied."}},"statusCode":null,"expected":null,"patches":null,"type":"PERMISSION_DENIED"}"#;
        let e = api_error(&Method::GET, "api/x", StatusCode::FORBIDDEN, None, body);
        assert!(e.is_session_denied());
        let other = api_error(
            &Method::GET,
            "api/x",
            StatusCode::FORBIDDEN,
            None,
            br#"{"message":"Permission denied.","type":"PERMISSION_DENIED"}"#,
        );
        assert!(!other.is_session_denied());
        let html = api_error(
            &Method::GET,
            "api/x",
            StatusCode::BAD_GATEWAY,
            Some("text/html"),
            b"<html>bad gateway</html>",
        );
        assert!(retryable(&html));
        assert!(html.to_string().contains("502"));
    }
}

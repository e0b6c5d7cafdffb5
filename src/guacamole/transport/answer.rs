//! What an HTTP answer that is not a success means for the client: a redirect
//! (never followed; the error names its status and `Location`), and an answer to
//! the first request that is not Guacamole's (a wrong path prefix, a proxy's page).
//! The `Content-Type` is kept for the one-line summary of such answers.

use reqwest::Method;

use super::endpoint::{self, Endpoint};
use super::explain;
use crate::guacamole::client::ClientError;

/// The media type of a response, for summaries.
pub fn content_type(resp: &reqwest::Response) -> Option<String> {
    resp.headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// The error for a 3xx answer (never followed).
pub fn redirect_error(
    endpoint: &Endpoint,
    method: &Method,
    url: &url::Url,
    resp: &reqwest::Response,
) -> ClientError {
    ClientError::Redirect {
        method: method.clone(),
        url: endpoint::shown(url),
        status: resp.status().as_u16(),
        message: redirect_text(endpoint, url, resp),
    }
}

/// Where a 3xx answer points and what to do (its `Location` may hold a token).
pub fn redirect_text(endpoint: &Endpoint, url: &url::Url, resp: &reqwest::Response) -> String {
    let location = resp
        .headers()
        .get(reqwest::header::LOCATION)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    crate::secret::redact(&explain::redirect(endpoint, url, location.as_deref()))
}

/// An error of the first request made with a pre-issued token, with what to check
/// when the answer is not Guacamole's.
pub fn first_contact(endpoint: &Endpoint, e: ClientError) -> ClientError {
    match e {
        ClientError::Api {
            method,
            path,
            status,
            kind: None,
            message,
            ..
        } => ClientError::FirstContact(format!(
            "{method} {}{path}: the server answered {status}: {message}; {}",
            endpoint.as_str(),
            explain::first_contact_hint(endpoint, status)
        )),
        other => other,
    }
}

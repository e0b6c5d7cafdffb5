//! The HTTP client for Guacamole's REST API: login and token renewal, TLS, timeouts,
//! retries for reads, and errors that say which request failed and what the server
//! answered. The token travels only in the `Guacamole-Token` header.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::Mutex;

use super::credentials::{Credentials, Secret};
use super::limits;
use super::login::{LoginTarget, TotpUse, login, session_info};
use super::transport::{self, Endpoint, answer, body, explain};
use super::wire::{self, PatchOutcome};

mod error;
pub use error::ClientError;
pub(super) use error::api_error;
use error::retryable;

/// What `encodeURIComponent` leaves alone.
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'!')
    .remove(b'~')
    .remove(b'*')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')');

/// Encodes one path segment as the web UI does (`encodeURIComponent`).
#[must_use]
pub fn encode_segment(s: &str) -> String {
    utf8_percent_encode(s, COMPONENT).to_string()
}

/// How to reach the server.
#[derive(Clone, Debug)]
pub struct ClientConfig {
    pub base_url: String,
    /// `None`: the data source the login answers with.
    pub data_source: Option<String>,
    pub ca_cert: Option<PathBuf>,
    pub insecure: bool,
    /// Whole-request timeout.
    pub timeout: Duration,
    /// Requests in flight at once (sizes the connection pool).
    pub concurrency: usize,
}

struct Session {
    token: Secret,
    /// Bumped on every renewal, so concurrent requests renew once.
    generation: u64,
}

/// A logged-in client. Cheap to share (`Arc` inside).
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    endpoint: Endpoint,
    timeout: Duration,
    data_source: String,
    username: String,
    credentials: Credentials,
    session: Mutex<Session>,
    retries: u32,
    /// The last TOTP code a login of this process used (each is accepted once).
    totp: TotpUse,
}

pub use super::transport::install_crypto_provider;

impl Client {
    /// Logs in (or takes a pre-issued token) and learns the data source.
    pub async fn connect(
        config: &ClientConfig,
        credentials: Credentials,
    ) -> Result<Self, ClientError> {
        let endpoint = Endpoint::parse(&config.base_url)?;
        if config.insecure {
            transport::warn_insecure(&endpoint);
        }
        let http = transport::build_http(config)?;
        let totp = TotpUse::default();
        let to = LoginTarget {
            http: &http,
            endpoint: &endpoint,
            timeout: config.timeout,
        };
        let (token, login) = match &credentials {
            Credentials::Token(token) => (token.clone(), session_info(&to, token).await?),
            Credentials::Password { .. } => login(&to, &credentials, &totp).await?,
        };
        let data_source = match &config.data_source {
            Some(ds)
                if !login.available_data_sources.is_empty()
                    && !login.available_data_sources.contains(ds) =>
            {
                return Err(ClientError::Login(format!(
                    "the data source {ds:?} is not one of this session's ({}); use --data-source \
                     with one of them, or leave it out to use {:?}",
                    login.available_data_sources.join(", "),
                    login.data_source
                )));
            }
            Some(ds) => ds.clone(),
            None => login.data_source.clone(),
        };
        let username = login.username;
        let client = Self {
            inner: Arc::new(Inner {
                http,
                endpoint,
                timeout: config.timeout,
                data_source,
                username,
                credentials,
                session: Mutex::new(Session {
                    token,
                    generation: 0,
                }),
                retries: 3,
                totp,
            }),
        };
        Ok(client)
    }

    /// A client using an already-issued token, for a server started in-process.
    pub fn with_token(
        config: &ClientConfig,
        token: &str,
        username: &str,
    ) -> Result<Self, ClientError> {
        let http = transport::build_http(config)?;
        Ok(Self {
            inner: Arc::new(Inner {
                http,
                endpoint: Endpoint::parse(&config.base_url)?,
                timeout: config.timeout,
                data_source: config
                    .data_source
                    .clone()
                    .unwrap_or_else(|| "postgresql".to_owned()),
                username: username.to_owned(),
                credentials: Credentials::Token(Secret::new(token)),
                session: Mutex::new(Session {
                    token: Secret::new(token),
                    generation: 0,
                }),
                retries: 3,
                totp: TotpUse::default(),
            }),
        })
    }

    #[must_use]
    pub fn data_source(&self) -> &str {
        &self.inner.data_source
    }

    /// The user the client acts as.
    #[must_use]
    pub fn username(&self) -> &str {
        &self.inner.username
    }

    /// `api/session/data/{ds}/{rest}`.
    #[must_use]
    pub fn ds_path(&self, rest: &str) -> String {
        format!(
            "api/session/data/{}/{rest}",
            encode_segment(&self.inner.data_source)
        )
    }

    async fn token(&self) -> (Secret, u64) {
        let s = self.inner.session.lock().await;
        (s.token.clone(), s.generation)
    }

    /// Logs in again, unless another request already did since `generation`.
    async fn renew(&self, generation: u64) -> Result<(), ClientError> {
        let mut s = self.inner.session.lock().await;
        if s.generation != generation {
            return Ok(());
        }
        let (token, _) = login(
            &LoginTarget {
                http: &self.inner.http,
                endpoint: &self.inner.endpoint,
                timeout: self.inner.timeout,
            },
            &self.inner.credentials,
            &self.inner.totp,
        )
        .await?;
        s.token = token;
        s.generation += 1;
        tracing::info!("the session expired; logged in again");
        Ok(())
    }

    async fn once(
        &self,
        method: &Method,
        path: &str,
        body: Option<&[u8]>,
        token: &Secret,
    ) -> Result<bytes::Bytes, ClientError> {
        // Checked against the configured origin before the token is attached.
        let url = self.inner.endpoint.url(path)?;
        let mut req = self
            .inner
            .http
            .request(method.clone(), url.clone())
            .header("Guacamole-Token", token.expose());
        if let Some(b) = body {
            req = req
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(b.to_vec());
        }
        let started = std::time::Instant::now();
        let write = *method != Method::GET;
        let transport = |e: &reqwest::Error| ClientError::Transport {
            method: method.clone(),
            path: path.to_owned(),
            message: explain::transport(e, &self.inner.endpoint, self.inner.timeout),
            // A write whose connection failed after it was sent may have been applied.
            outcome_unknown: write && !e.is_connect(),
        };
        // `-v` logs every request: method, path, status, time; never a header
        // (the token) or a body.
        let failed = |e: &reqwest::Error| {
            let error = transport(e);
            tracing::info!(
                "{method} {path} -> failed after {} ms",
                started.elapsed().as_millis()
            );
            error
        };
        let resp = req.send().await.map_err(|e| failed(&e))?;
        let status = resp.status();
        if status.is_redirection() {
            return Err(answer::redirect_error(
                &self.inner.endpoint,
                method,
                &url,
                &resp,
            ));
        }
        let content_type = answer::content_type(&resp);
        let bytes = limits::read_body(resp, method, path, limits::MAX_RESPONSE_BYTES)
            .await
            .map_err(|e| match e {
                limits::BodyError::Transport(e) => failed(&e),
                limits::BodyError::TooLarge(e) => e,
            })?;
        tracing::info!(
            "{method} {path} -> {} ({} ms)",
            status.as_u16(),
            started.elapsed().as_millis()
        );
        if status.is_success() {
            return Ok(bytes);
        }
        Err(api_error(
            method,
            path,
            status,
            content_type.as_deref(),
            &bytes,
        ))
    }

    /// Sends a request: GETs are retried with backoff on 5xx and dropped
    /// connections; any request whose token expired is sent once more after one
    /// new login (the server refused it before doing anything, so that is safe for
    /// writes too). Other failures of writes are never retried.
    pub async fn request(
        &self,
        method: Method,
        path: &str,
        body: Option<&[u8]>,
    ) -> Result<bytes::Bytes, ClientError> {
        let retry = method == Method::GET;
        self.send(method, path, body, retry).await
    }

    /// [`Client::request`] for a write that changes nothing (the empty PATCH that
    /// finds out how the server applies changes): retried like a GET.
    pub async fn request_idempotent(
        &self,
        method: Method,
        path: &str,
        body: Option<&[u8]>,
    ) -> Result<bytes::Bytes, ClientError> {
        self.send(method, path, body, true).await
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&[u8]>,
        retry: bool,
    ) -> Result<bytes::Bytes, ClientError> {
        let mut attempt = 0;
        let mut renewed = false;
        loop {
            let (token, generation) = self.token().await;
            match self.once(&method, path, body, &token).await {
                Ok(b) => return Ok(b),
                Err(e)
                    if e.is_session_denied()
                        && !renewed
                        && matches!(self.inner.credentials, Credentials::Password { .. }) =>
                {
                    renewed = true;
                    self.renew(generation).await?;
                }
                Err(e) if retry && attempt < self.inner.retries && retryable(&e) => {
                    attempt += 1;
                    let wait = Duration::from_millis(200 * (1 << attempt));
                    tracing::warn!("{e}; retrying in {} ms", wait.as_millis());
                    tokio::time::sleep(wait).await;
                }
                Err(e) => return Err(e),
            }
        }
    }

    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        let bytes = self.request(Method::GET, path, None).await?;
        serde_json::from_slice(&bytes).map_err(|e| ClientError::Decode {
            method: Method::GET,
            path: path.to_owned(),
            message: crate::secret::redact(&body::not_json(&e, &bytes)),
        })
    }

    async fn send_json<B: Serialize>(
        &self,
        method: Method,
        path: &str,
        body: &B,
    ) -> Result<bytes::Bytes, ClientError> {
        let bytes = serde_json::to_vec(body).map_err(|e| ClientError::Decode {
            method: method.clone(),
            path: path.to_owned(),
            message: e.to_string(),
        })?;
        self.request(method, path, Some(&bytes)).await
    }

    /// A directory PATCH (`connections`, `connectionGroups`, `users`, `userGroups`,
    /// `activeConnections`): one outcome per op on success; a rejected batch is a
    /// `ClientError::Api` carrying the per-patch outcomes. An answer whose outcomes do
    /// not match the ops (too many or too few, another op, an add without an
    /// identifier, a rejection naming no failed patch) is `UnknownOutcome`: no
    /// server-supplied position is trusted until it has been checked here.
    ///
    /// `body` is the JSON array of the ops whose names are `sent`, in order
    /// (serialised by the caller, which sized each op to cut the batches).
    pub async fn patch_directory(
        &self,
        directory: &str,
        sent: &[wire::OpName],
        body: Vec<u8>,
    ) -> Result<Vec<PatchOutcome>, ClientError> {
        let path = self.ds_path(directory);
        let unknown = |message: String| ClientError::UnknownOutcome {
            method: Method::PATCH,
            path: path.clone(),
            message,
        };
        match self.request(Method::PATCH, &path, Some(&body)).await {
            Ok(bytes) => {
                let resp: wire::PatchResponse = serde_json::from_slice(&bytes).map_err(|e| {
                    // serde quotes the offending value, which comes from the server.
                    let e = crate::secret::redact(&e.to_string());
                    unknown(format!("not a list of patch outcomes: {e}"))
                })?;
                wire::check_outcomes(sent, &resp.patches, false).map_err(unknown)?;
                Ok(resp.patches)
            }
            Err(ClientError::Api {
                status: 400,
                patches: Some(outcomes),
                ..
            }) if wire::check_outcomes(sent, &outcomes, true).is_err() => Err(unknown(
                wire::check_outcomes(sent, &outcomes, true)
                    .err()
                    .unwrap_or_default(),
            )),
            Err(e) => Err(e),
        }
    }

    /// A permission PATCH for a user or user group (204).
    pub async fn patch_permissions(
        &self,
        principal: &crate::model::Principal,
        ops: &[wire::StringOp],
    ) -> Result<(), ClientError> {
        let path = match principal {
            crate::model::Principal::User(u) if *u == self.inner.username => {
                self.ds_path("self/permissions")
            }
            crate::model::Principal::User(u) => {
                self.ds_path(&format!("users/{}/permissions", encode_segment(u)))
            }
            crate::model::Principal::UserGroup(g) => {
                self.ds_path(&format!("userGroups/{}/permissions", encode_segment(g)))
            }
        };
        self.send_json(Method::PATCH, &path, &ops).await.map(|_| ())
    }

    /// Releases the token if this client obtained it (a pre-issued one is left alone).
    pub async fn logout(&self) {
        if !matches!(self.inner.credentials, Credentials::Password { .. }) {
            return;
        }
        let (token, _) = self.token().await;
        // The one request with the token in its path (Guacamole's API wants it there):
        // checked against the origin like every other.
        let url = match self
            .inner
            .endpoint
            .url(&format!("api/tokens/{}", encode_segment(token.expose())))
        {
            Ok(url) => url,
            Err(e) => {
                tracing::warn!("releasing the session token: {e}");
                return;
            }
        };
        let started = std::time::Instant::now();
        let sent = self.inner.http.delete(url).send().await;
        if let Ok(r) = &sent {
            // The token is part of this path: it is never logged.
            tracing::info!(
                "DELETE api/tokens/(token) -> {} ({} ms)",
                r.status().as_u16(),
                started.elapsed().as_millis()
            );
        }
        match sent {
            Ok(r) if r.status().is_success() || r.status() == StatusCode::NOT_FOUND => {}
            Ok(r) => tracing::warn!(
                "releasing the session token: the server answered {}",
                r.status()
            ),
            // The URL holds the token: never describe it.
            Err(e) => tracing::warn!(
                "releasing the session token: {}",
                explain::transport(&e.without_url(), &self.inner.endpoint, self.inner.timeout)
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_are_encoded_like_encode_uri_component() {
        assert_eq!(encode_segment("alice"), "alice");
        assert_eq!(encode_segment("a b/c;d"), "a%20b%2Fc%3Bd");
        assert_eq!(encode_segment("o'neil(x)*!~._-"), "o'neil(x)*!~._-");
        assert_eq!(encode_segment("é"), "%C3%A9");
    }
}

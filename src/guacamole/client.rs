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
use super::totp;
use super::wire::{self, LoginResponse, PatchOutcome};

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

/// What went wrong with a request. Never carries a token or a request body.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("invalid server URL {0:?}: it must start with http:// or https://")]
    Url(String),
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
    #[error("{method} {path}: unexpected response: {message}")]
    Decode {
        method: Method,
        path: String,
        message: String,
    },
    #[error("login failed: {0}")]
    Login(String),
    #[error(transparent)]
    Totp(#[from] totp::InvalidSecret),
}

impl ClientError {
    /// True for the answer to a missing, invalid or expired token.
    #[must_use]
    pub fn is_session_denied(&self) -> bool {
        matches!(self, Self::Api { status: 403, kind: Some(k), message, .. } if k == "PERMISSION_DENIED" && message == "Permission Denied.")
    }
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
    base: String,
    data_source: String,
    username: String,
    credentials: Credentials,
    session: Mutex<Session>,
    retries: u32,
}

/// Installs the ring crypto provider for rustls once per process (reqwest is built
/// without a default provider).
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

fn build_http(config: &ClientConfig) -> Result<reqwest::Client, ClientError> {
    install_crypto_provider();
    let mut builder = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10).min(config.timeout))
        .timeout(config.timeout)
        .pool_max_idle_per_host(config.concurrency.max(1))
        .tcp_nodelay(true)
        .user_agent(concat!("guacsync/", env!("CARGO_PKG_VERSION")));
    if let Some(path) = &config.ca_cert {
        let pem = std::fs::read(path).map_err(|e| {
            ClientError::Tls(format!("cannot read CA file {}: {e}", path.display()))
        })?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem)
            .map_err(|e| ClientError::Tls(format!("{}: {e}", path.display())))?;
        if certs.is_empty() {
            return Err(ClientError::Tls(format!(
                "{} holds no PEM certificate",
                path.display()
            )));
        }
        builder = builder.tls_certs_merge(certs);
    }
    if config.insecure {
        tracing::warn!(
            "--insecure: the server's TLS certificate is not verified; anyone on the path can read the credentials"
        );
        builder = builder.tls_danger_accept_invalid_certs(true);
    }
    builder.build().map_err(|e| ClientError::Tls(e.to_string()))
}

fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        return "timed out".to_owned();
    }
    if e.is_connect() {
        return format!("cannot connect ({})", source_chain(e));
    }
    source_chain(e)
}

fn source_chain(e: &dyn std::error::Error) -> String {
    let mut parts = vec![e.to_string()];
    let mut cur = e.source();
    while let Some(s) = cur {
        let text = s.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        cur = s.source();
    }
    parts.join(": ")
}

impl Client {
    /// Logs in (or takes a pre-issued token) and learns the data source.
    pub async fn connect(
        config: &ClientConfig,
        credentials: Credentials,
    ) -> Result<Self, ClientError> {
        let base = config.base_url.trim_end_matches('/').to_owned();
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(ClientError::Url(config.base_url.clone()));
        }
        let http = build_http(config)?;
        let (token, username, data_source) = match &credentials {
            Credentials::Token(token) => {
                let ds = config
                    .data_source
                    .clone()
                    .unwrap_or_else(|| "postgresql".to_owned());
                (token.clone(), String::new(), ds)
            }
            Credentials::Password { .. } => {
                let (token, login) = login(&http, &base, &credentials).await?;
                let ds = config.data_source.clone().unwrap_or(login.data_source);
                (token, login.username, ds)
            }
        };
        let mut client = Self {
            inner: Arc::new(Inner {
                http,
                base,
                data_source,
                username,
                credentials,
                session: Mutex::new(Session {
                    token,
                    generation: 0,
                }),
                retries: 3,
            }),
        };
        if client.inner.username.is_empty() {
            // A pre-issued token: learn whose it is (and that it works).
            let me: serde_json::Value = client.get(&client.ds_path("self")).await?;
            let name = me
                .get("username")
                .and_then(serde_json::Value::as_str)
                .unwrap_or_default()
                .to_owned();
            if let Some(inner) = Arc::get_mut(&mut client.inner) {
                inner.username = name;
            }
        }
        Ok(client)
    }

    /// A client using an already-issued token, for a server started in-process.
    pub fn with_token(
        config: &ClientConfig,
        token: &str,
        username: &str,
    ) -> Result<Self, ClientError> {
        let http = build_http(config)?;
        Ok(Self {
            inner: Arc::new(Inner {
                http,
                base: config.base_url.trim_end_matches('/').to_owned(),
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
        let (token, _) = login(&self.inner.http, &self.inner.base, &self.inner.credentials).await?;
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
        let url = format!("{}/{path}", self.inner.base);
        let mut req = self
            .inner
            .http
            .request(method.clone(), url)
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
            message: describe(e),
            // A write whose connection failed after it was sent may have been applied.
            outcome_unknown: write && !e.is_connect(),
        };
        let resp = req.send().await.map_err(|e| transport(&e))?;
        let status = resp.status();
        let bytes = resp.bytes().await.map_err(|e| transport(&e))?;
        tracing::debug!(%method, path, status = status.as_u16(), ms = started.elapsed().as_millis(), "request");
        if status.is_success() {
            return Ok(bytes);
        }
        Err(api_error(method, path, status, &bytes))
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
                Err(e)
                    if method == Method::GET && attempt < self.inner.retries && retryable(&e) =>
                {
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
            // serde quotes the offending value, which comes from the server.
            message: crate::secret::redact(&e.to_string()),
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
    /// `ClientError::Api` carrying the per-patch outcomes.
    pub async fn patch_directory<T: Serialize>(
        &self,
        directory: &str,
        ops: &[T],
    ) -> Result<Vec<PatchOutcome>, ClientError> {
        let path = self.ds_path(directory);
        let bytes = self.send_json(Method::PATCH, &path, &ops).await?;
        let resp: wire::PatchResponse =
            serde_json::from_slice(&bytes).map_err(|e| ClientError::Decode {
                method: Method::PATCH,
                path: path.clone(),
                message: crate::secret::redact(&e.to_string()),
            })?;
        if resp.patches.len() != ops.len() {
            return Err(ClientError::Decode {
                method: Method::PATCH,
                path,
                message: format!("{} outcomes for {} patches", resp.patches.len(), ops.len()),
            });
        }
        Ok(resp.patches)
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
        let url = format!(
            "{}/api/tokens/{}",
            self.inner.base,
            encode_segment(token.expose())
        );
        match self.inner.http.delete(url).send().await {
            Ok(r) if r.status().is_success() || r.status() == StatusCode::NOT_FOUND => {}
            Ok(r) => tracing::warn!(
                "releasing the session token: the server answered {}",
                r.status()
            ),
            // The URL holds the token: never describe it.
            Err(e) => tracing::warn!(
                "releasing the session token: {}",
                describe(&e.without_url())
            ),
        }
    }
}

fn retryable(e: &ClientError) -> bool {
    match e {
        ClientError::Transport { .. } => true,
        ClientError::Api { status, .. } => *status >= 500,
        _ => false,
    }
}

fn api_error(method: &Method, path: &str, status: StatusCode, body: &[u8]) -> ClientError {
    match serde_json::from_slice::<wire::ApiError>(body) {
        Ok(e) if e.message.is_some() || e.kind.is_some() => ClientError::Api {
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
        _ => {
            // Not an APIError (a proxy's page, Jersey's own error): show its start,
            // never the whole body.
            let text: String = String::from_utf8_lossy(body).chars().take(200).collect();
            ClientError::Api {
                method: method.clone(),
                path: path.to_owned(),
                status: status.as_u16(),
                kind: None,
                message: crate::secret::redact(text.trim()),
                patches: None,
            }
        }
    }
}

#[derive(serde::Deserialize)]
struct TokenResponse {
    #[serde(rename = "authToken")]
    auth_token: String,
}

async fn login(
    http: &reqwest::Client,
    base: &str,
    credentials: &Credentials,
) -> Result<(Secret, LoginResponse), ClientError> {
    let Credentials::Password {
        username,
        password,
        totp_secret,
    } = credentials
    else {
        return Err(ClientError::Login(
            "a pre-issued token cannot be renewed; issue a new GUACAMOLE_TOKEN".to_owned(),
        ));
    };
    let mut form = vec![
        ("username", username.clone()),
        ("password", password.expose().to_owned()),
    ];
    if let Some(secret) = totp_secret {
        let key = totp::decode_secret(secret.expose())?;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        form.push(("guac-totp", totp::code(&key, now, 6)));
    }
    let path = "api/tokens";
    let resp = http
        .post(format!("{base}/{path}"))
        .form(&form)
        .send()
        .await
        .map_err(|e| ClientError::Login(format!("POST {path}: {}", describe(&e))))?;
    let status = resp.status();
    let bytes = resp
        .bytes()
        .await
        .map_err(|e| ClientError::Login(format!("POST {path}: {}", describe(&e))))?;
    if !status.is_success() {
        return Err(match api_error(&Method::POST, path, status, &bytes) {
            ClientError::Api {
                status,
                message,
                kind,
                ..
            } => ClientError::Login(format!(
                "{message} ({status}{})",
                kind.map(|k| format!(", {k}")).unwrap_or_default()
            )),
            other => other,
        });
    }
    let token: TokenResponse = serde_json::from_slice(&bytes)
        .map_err(|e| ClientError::Login(format!("unexpected login response: {e}")))?;
    let info: LoginResponse = serde_json::from_slice(&bytes)
        .map_err(|e| ClientError::Login(format!("unexpected login response: {e}")))?;
    Ok((Secret::new(token.auth_token), info))
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

    #[test]
    fn api_errors_are_recognised() {
        let body = br#"{"message":"Permission Denied.","translatableMessage":{"key":"APP.TEXT_UNTRANSLATED","variables":{"MESSAGE":"Permission Denied."}},"statusCode":null,"expected":null,"patches":null,"type":"PERMISSION_DENIED"}"#;
        let e = api_error(&Method::GET, "api/x", StatusCode::FORBIDDEN, body);
        assert!(e.is_session_denied());
        let other = api_error(
            &Method::GET,
            "api/x",
            StatusCode::FORBIDDEN,
            br#"{"message":"Permission denied.","type":"PERMISSION_DENIED"}"#,
        );
        assert!(!other.is_session_denied());
        let html = api_error(
            &Method::GET,
            "api/x",
            StatusCode::BAD_GATEWAY,
            b"<html>bad gateway</html>",
        );
        assert!(retryable(&html));
        assert!(html.to_string().contains("502"));
    }
}

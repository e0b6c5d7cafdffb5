//! The HTTP side: the accept loop (plain or TLS), one task per connection that a
//! `drop` fault can abort without answering, the request pipeline (prefix, body
//! limit, request log, latency, faults), sessions, and the `__test` hooks.
//!
//! hyper is used directly rather than through a router framework because the
//! faults need control of the TCP connection itself.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::ops::ControlFlow;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};

use crate::api;
use crate::error::ApiError;
use crate::proxy::{Proxy, ProxyEvent};
use crate::state::State;
use crate::store::Store;
use crate::version::GuacamoleVersion;

/// How to start a server.
#[derive(Clone, Debug)]
pub struct Config {
    pub state: State,
    /// Default `127.0.0.1:0` (a free port).
    pub listen: SocketAddr,
    /// Path prefix of the web application, e.g. `/guacamole` (or empty).
    pub prefix: String,
    /// Added to every API request before it is handled.
    pub latency: Duration,
    /// Idle time after which a session expires (`api-session-timeout`, 60 min).
    pub session_timeout: Duration,
    /// `api-max-request-size`: 2 MiB; 0 turns the limit off.
    pub body_limit: usize,
    pub tls: Option<TlsConfig>,
    /// Keep a log of API requests (for assertions); off for large benchmarks.
    pub log_requests: bool,
    /// The Guacamole release to answer as (1.6.0 by default).
    pub guacamole_version: GuacamoleVersion,
    /// A proxy's `client_max_body_size` in front of the server: a larger body is
    /// refused with nginx's HTML 413 before Guacamole sees it (`None`: no proxy).
    pub proxy_body_limit: Option<u64>,
    /// The data source the login answers with (`postgresql`; `mysql` and
    /// `sqlserver` name the other JDBC extensions). `{name}-shared` is the sharing one.
    pub data_source: String,
    /// What the web container does to `%2F` and `%5C` in a path (Tomcat's defaults:
    /// both refused with 400).
    pub path_rules: crate::answers::PathRules,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            state: State::default(),
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            prefix: String::new(),
            latency: Duration::ZERO,
            session_timeout: Duration::from_secs(60 * 60),
            body_limit: 2 * 1024 * 1024,
            tls: None,
            log_requests: true,
            guacamole_version: GuacamoleVersion::default(),
            proxy_body_limit: None,
            data_source: "postgresql".to_owned(),
            path_rules: crate::answers::PathRules::default(),
        }
    }
}

/// A certificate chain and its private key, PEM-encoded.
#[derive(Clone, Debug)]
pub struct TlsConfig {
    pub cert_chain_pem: Vec<u8>,
    pub key_pem: Vec<u8>,
}

/// One recorded API request.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct LoggedRequest {
    /// 1-based position among API requests since the server started.
    pub index: u64,
    pub method: String,
    /// The path below the prefix, e.g. `/api/session/data/postgresql/connections`.
    pub path: String,
    pub query: Option<String>,
    /// Header names in lower case.
    pub headers: BTreeMap<String, String>,
    pub body: String,
}

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
    /// before it stay applied and the 400 has no patch list).
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

struct ActiveRule {
    rule: FaultRule,
    seen: u64,
    matched: u64,
    fired: u32,
}

struct Session {
    username: String,
    last_access: Instant,
}

/// State shared by every connection.
pub struct Shared {
    pub store: RwLock<Store>,
    sessions: Mutex<HashMap<String, Session>>,
    session_timeout: Duration,
    latency_us: AtomicU64,
    rules: Mutex<Vec<ActiveRule>>,
    log: Mutex<Vec<LoggedRequest>>,
    log_requests: bool,
    /// TOTP codes already used (`CodeUsageTrackingService`).
    pub totp_used: crate::totp::UsedCodes,
    counter: AtomicU64,
    prefix: String,
    body_limit: usize,
    version: GuacamoleVersion,
    proxy: Proxy,
    /// The login's data source (see `Config::data_source`).
    pub data_source: String,
    path_rules: crate::answers::PathRules,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding one of these locks leaves plain data behind; keep going.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Shared {
    /// The Guacamole release the server answers as.
    #[must_use]
    pub fn version(&self) -> GuacamoleVersion {
        self.version
    }

    pub fn read_store(&self) -> std::sync::RwLockReadGuard<'_, Store> {
        self.store
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The store for writing; cached permission look-ups are forgotten when the
    /// guard is dropped, so every later request sees the write.
    pub fn write_store(&self) -> StoreWrite<'_> {
        StoreWrite(
            self.store
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
    }

    /// Creates a session for a user and returns its token (64 upper-case hex).
    pub fn new_session(&self, username: &str) -> String {
        let bytes: [u8; 32] = rand::random();
        let token = bytes.iter().fold(String::with_capacity(64), |mut t, b| {
            use std::fmt::Write as _;
            let _ = write!(t, "{b:02X}");
            t
        });
        lock(&self.sessions).insert(
            token.clone(),
            Session {
                username: username.to_owned(),
                last_access: Instant::now(),
            },
        );
        token
    }

    /// The user of a live session, touching it; an idle session has expired.
    pub fn session_user(&self, token: &str) -> Option<String> {
        let mut sessions = lock(&self.sessions);
        let expired = sessions
            .get(token)
            .is_some_and(|s| s.last_access.elapsed() >= self.session_timeout);
        if expired {
            sessions.remove(token);
            return None;
        }
        let s = sessions.get_mut(token)?;
        s.last_access = Instant::now();
        Some(s.username.clone())
    }

    pub fn end_session(&self, token: &str) -> bool {
        lock(&self.sessions).remove(token).is_some()
    }

    pub fn expire_all_sessions(&self) {
        lock(&self.sessions).clear();
    }

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

    pub fn set_latency(&self, latency: Duration) {
        self.latency_us.store(
            u64::try_from(latency.as_micros()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
    }

    #[must_use]
    pub fn requests(&self) -> Vec<LoggedRequest> {
        lock(&self.log).clone()
    }

    pub fn clear_requests(&self) {
        lock(&self.log).clear();
    }

    /// The faults that hit this request (each rule counts it).
    fn faults_for(&self, method: &str, path: &str) -> Vec<Fault> {
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

/// A write lock on the store (see `Shared::write_store`).
pub struct StoreWrite<'a>(std::sync::RwLockWriteGuard<'a, Store>);

impl std::ops::Deref for StoreWrite<'_> {
    type Target = Store;
    fn deref(&self) -> &Store {
        &self.0
    }
}

impl std::ops::DerefMut for StoreWrite<'_> {
    fn deref_mut(&mut self) -> &mut Store {
        &mut self.0
    }
}

impl Drop for StoreWrite<'_> {
    fn drop(&mut self) {
        self.0.forget_actors();
    }
}

/// A running server; stops when `shutdown` is awaited or when dropped.
pub struct RunningServer {
    shared: Arc<Shared>,
    addr: SocketAddr,
    base_url: String,
    stop: watch::Sender<bool>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl RunningServer {
    /// `http://127.0.0.1:PORT/prefix` (https with TLS), no trailing slash.
    #[must_use]
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    #[must_use]
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// A snapshot of everything the server holds.
    #[must_use]
    pub fn state(&self) -> State {
        self.shared.read_store().to_state()
    }

    /// Replaces everything the server holds (sessions stay).
    ///
    /// # Errors
    /// When the state breaks a rule the database would enforce.
    pub fn set_state(&self, state: &State) -> Result<(), String> {
        let store = Store::from_state_as(state, self.shared.version)?;
        *self.shared.write_store() = store;
        Ok(())
    }

    /// Mints a session for `username` as a login would.
    #[must_use]
    pub fn issue_token(&self, username: &str) -> String {
        self.shared.new_session(username)
    }

    #[must_use]
    pub fn requests(&self) -> Vec<LoggedRequest> {
        self.shared.requests()
    }

    pub fn clear_requests(&self) {
        self.shared.clear_requests();
    }

    /// API requests received since the server started (counted even when the
    /// request log is off).
    #[must_use]
    pub fn request_count(&self) -> u64 {
        self.shared.counter.load(Ordering::Relaxed)
    }

    /// Replaces the fault rules (their counters start now).
    pub fn set_faults(&self, rules: Vec<FaultRule>) {
        self.shared.set_rules(rules);
    }

    pub fn set_latency(&self, latency: Duration) {
        self.shared.set_latency(latency);
    }

    pub fn expire_all_tokens(&self) {
        self.shared.expire_all_sessions();
    }

    /// The Guacamole release the server answers as.
    #[must_use]
    pub fn guacamole_version(&self) -> GuacamoleVersion {
        self.shared.version
    }

    /// Sets the proxy's `client_max_body_size` (`None`: no proxy limit).
    pub fn set_proxy_body_limit(&self, limit: Option<u64>) {
        self.shared.proxy.set_limit(limit);
    }

    /// What the proxy answered by itself (413s, redirects, proxy errors), oldest
    /// first.
    #[must_use]
    pub fn proxy_events(&self) -> Vec<ProxyEvent> {
        self.shared.proxy.events()
    }

    pub fn clear_proxy_events(&self) {
        self.shared.proxy.clear_events();
    }

    /// Stops accepting, lets requests in flight finish (up to 10 s), and returns.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// Why a server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("invalid state: {0}")]
    State(String),
    #[error("invalid TLS certificate or key: {0}")]
    Tls(String),
}

fn tls_acceptor(tls: &TlsConfig) -> Result<tokio_rustls::TlsAcceptor, StartError> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&tls.cert_chain_pem)
        .collect::<Result<_, _>>()
        .map_err(|e| StartError::Tls(e.to_string()))?;
    let key =
        PrivateKeyDer::from_pem_slice(&tls.key_pem).map_err(|e| StartError::Tls(e.to_string()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| StartError::Tls(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| StartError::Tls(e.to_string()))?;
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

/// Starts a server on the current tokio runtime.
///
/// # Errors
/// When the address cannot be bound, the state is invalid or TLS material is bad.
pub async fn start(config: Config) -> Result<RunningServer, StartError> {
    let store =
        Store::from_state_as(&config.state, config.guacamole_version).map_err(StartError::State)?;
    let acceptor = config.tls.as_ref().map(tls_acceptor).transpose()?;
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|source| StartError::Bind {
            addr: config.listen,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| StartError::Bind {
        addr: config.listen,
        source,
    })?;
    let prefix = normalise_prefix(&config.prefix);
    let scheme = if acceptor.is_some() { "https" } else { "http" };
    let base_url = format!("{scheme}://{addr}{prefix}");
    let shared = Arc::new(Shared {
        store: RwLock::new(store),
        sessions: Mutex::new(HashMap::new()),
        session_timeout: config.session_timeout,
        latency_us: AtomicU64::new(u64::try_from(config.latency.as_micros()).unwrap_or(u64::MAX)),
        rules: Mutex::new(Vec::new()),
        log: Mutex::new(Vec::new()),
        log_requests: config.log_requests,
        totp_used: crate::totp::UsedCodes::default(),
        counter: AtomicU64::new(0),
        prefix,
        body_limit: config.body_limit,
        version: config.guacamole_version,
        proxy: Proxy::new(config.proxy_body_limit),
        data_source: config.data_source.clone(),
        path_rules: config.path_rules,
    });
    let (stop, stopped) = watch::channel(false);
    let task = tokio::spawn(accept_loop(
        listener,
        acceptor,
        Arc::clone(&shared),
        stopped,
    ));
    Ok(RunningServer {
        shared,
        addr,
        base_url,
        stop,
        task: Some(task),
    })
}

/// `guacamole/` → `/guacamole`; `/` or empty → empty.
fn normalise_prefix(prefix: &str) -> String {
    let trimmed = prefix.trim_matches('/');
    if trimmed.is_empty() {
        String::new()
    } else {
        format!("/{trimmed}")
    }
}

async fn accept_loop(
    listener: TcpListener,
    acceptor: Option<tokio_rustls::TlsAcceptor>,
    shared: Arc<Shared>,
    mut stopped: watch::Receiver<bool>,
) {
    let graceful = GracefulShutdown::new();
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = stopped.changed() => break,
        };
        let Ok((stream, _)) = accepted else { continue };
        let _ = stream.set_nodelay(true);
        let shared = Arc::clone(&shared);
        let kill = Arc::new(Notify::new());
        if let Some(acceptor) = &acceptor {
            let acceptor = acceptor.clone();
            let watcher = graceful.watcher();
            tokio::spawn(async move {
                if let Ok(tls) = acceptor.accept(stream).await {
                    serve_one(TokioIo::new(tls), shared, kill, watcher).await;
                }
            });
        } else {
            let watcher = graceful.watcher();
            tokio::spawn(serve_one(TokioIo::new(stream), shared, kill, watcher));
        }
    }
    drop(listener);
    let _ = tokio::time::timeout(Duration::from_secs(10), graceful.shutdown()).await;
}

async fn serve_one<I>(
    io: I,
    shared: Arc<Shared>,
    kill: Arc<Notify>,
    watcher: hyper_util::server::graceful::Watcher,
) where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let kill_in = Arc::clone(&kill);
    let service = hyper::service::service_fn(move |req| {
        let shared = Arc::clone(&shared);
        let kill = Arc::clone(&kill_in);
        async move {
            Ok::<_, std::convert::Infallible>(crate::answers::into_sent(
                handle(shared, kill, req).await,
            ))
        }
    });
    let builder = Builder::new(TokioExecutor::new());
    let conn = watcher.watch(builder.serve_connection(io, service).into_owned());
    tokio::select! {
        _ = conn => {}
        () = kill.notified() => {} // dropping the connection closes the socket unanswered
    }
}

pub type Reply = Response<Full<Bytes>>;

pub fn json_reply(status: u16, body: &Value) -> Reply {
    let mut r = Response::new(Full::new(Bytes::from(body.to_string())));
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

async fn handle(shared: Arc<Shared>, kill: Arc<Notify>, req: Request<Incoming>) -> Reply {
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
async fn run_faults(
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
fn proxy_faults(
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

fn log_request(
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
    });
}

#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    Many(Vec<FaultRule>),
    One(FaultRule),
}

/// `{prefix}/__test/...`: test hooks; not counted, not logged.
fn hooks(shared: &Shared, method: &Method, hook: &str, body: &[u8]) -> Reply {
    match (method.as_str(), hook.trim_end_matches('/')) {
        ("GET", "state") => json_reply(
            200,
            &serde_json::to_value(shared.read_store().to_state()).unwrap_or(Value::Null),
        ),
        ("PUT", "state") => match serde_json::from_slice::<State>(body)
            .map_err(|e| e.to_string())
            .and_then(|s| Store::from_state_as(&s, shared.version))
        {
            Ok(store) => {
                *shared.write_store() = store;
                empty_reply(204)
            }
            Err(e) => text_reply(400, &e),
        },
        ("GET", "requests") => json_reply(
            200,
            &serde_json::to_value(shared.requests()).unwrap_or(Value::Null),
        ),
        ("DELETE", "requests") => {
            shared.clear_requests();
            empty_reply(204)
        }
        ("GET", "faults") => json_reply(
            200,
            &serde_json::to_value(shared.rules()).unwrap_or(Value::Null),
        ),
        ("POST", "faults") => match serde_json::from_slice::<OneOrMany>(body) {
            Ok(OneOrMany::Many(rules)) => {
                shared.add_rules(rules);
                empty_reply(204)
            }
            Ok(OneOrMany::One(rule)) => {
                shared.add_rules(vec![rule]);
                empty_reply(204)
            }
            Err(e) => text_reply(400, &e.to_string()),
        },
        ("DELETE", "faults") => {
            shared.set_rules(Vec::new());
            empty_reply(204)
        }
        ("POST", "latency") => match serde_json::from_slice::<Value>(body)
            .ok()
            .and_then(|v| v["ms"].as_u64())
        {
            Some(ms) => {
                shared.set_latency(Duration::from_millis(ms));
                empty_reply(204)
            }
            None => text_reply(400, "expected {\"ms\": N}"),
        },
        ("POST", "expire-tokens") => {
            shared.expire_all_sessions();
            empty_reply(204)
        }
        (_, "proxy") => crate::proxy::hook(&shared.proxy, method.as_str(), body),
        _ => json_reply(
            404,
            &json!({"hooks": [
                "GET state", "PUT state", "GET requests", "DELETE requests", "GET faults",
                "POST faults", "DELETE faults", "POST latency", "POST expire-tokens",
                "GET proxy", "PUT proxy", "DELETE proxy"
            ]}),
        ),
    }
}

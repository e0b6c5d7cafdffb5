//! The HTTP side: the accept loop (plain or TLS) and one task per connection that
//! a `drop` fault can abort without answering (here), the request pipeline
//! (`pipeline`: prefix, body limit, request log, latency, faults), sessions and
//! the state every connection shares (`shared`), fault rules (`faults`) and the
//! `__test` hooks (`hooks`).
//!
//! hyper is used directly rather than through a router framework because the
//! faults need control of the TCP connection itself.

mod faults;
mod hooks;
mod pipeline;
mod shared;

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};

use crate::proxy::{Proxy, ProxyEvent};
use crate::state::State;
use crate::store::Store;
use crate::version::GuacamoleVersion;

pub use faults::{Fault, FaultRule};
pub use pipeline::{
    ApiRequest, Reply, empty_reply, error_reply, json_reply, json_text_reply, text_reply,
};
pub use shared::{Shared, StoreWrite};

use pipeline::handle;

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
    /// How the tree answer orders each object's fields (Guacamole's: name first).
    pub field_order: crate::field_order::FieldOrder,
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
            field_order: crate::field_order::FieldOrder::default(),
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
    /// Milliseconds from the server's start to the request's arrival, so tests
    /// can check how requests were paced (watch's login backoff) without timing
    /// anything themselves.
    #[serde(default)]
    pub received_ms: u64,
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

    /// How many requests each fault rule has hit so far, in the order they were
    /// set: a test can check that the fault it set met its request.
    #[must_use]
    pub fn fault_hits(&self) -> Vec<u32> {
        self.shared.rule_hits()
    }

    pub fn set_latency(&self, latency: Duration) {
        self.shared.set_latency(latency);
    }

    pub fn expire_all_tokens(&self) {
        self.shared.expire_all_sessions();
    }

    /// Sessions that would still answer: a client that released every token it
    /// obtained leaves none.
    #[must_use]
    pub fn live_sessions(&self) -> usize {
        self.shared.live_sessions()
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
        field_order: config.field_order,
        started: std::time::Instant::now(),
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

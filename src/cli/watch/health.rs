//! `watch --health-addr ADDR`: what an orchestrator and a monitoring system ask a
//! long-running reconciler. `GET /healthz` answers 200 while the last round that
//! finished succeeded (it read the server and planned, or applied) and 503
//! otherwise, with a short body saying why; `GET /metrics` is the Prometheus
//! exposition (`OpenMetrics` text, made by the `prometheus-client` crate) of the
//! rounds by outcome, the last success time, the drift found, the errors by kind
//! and the apply durations. Nothing served names a secret: the labels are fixed
//! words, and the body of /healthz quotes the round's message, which is already
//! free of them (see `RoundLog`).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use anyhow::Context as _;
use bytes::Bytes;
use http_body_util::Full;
use hyper::{Method, Request, Response, StatusCode};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use tokio::net::TcpListener;

/// Every round outcome (README "watch"), registered at zero so a rate is known
/// from the first scrape.
pub const OUTCOMES: &[&str] = &[
    "in-sync",
    "drift",
    "applied",
    "settling",
    "removal-held",
    "invalid-manifests",
    "plan-error",
    "server-error",
    "login-refused",
    "apply-failed",
    "stopped",
];

/// The kinds of error counted: the manifests, the configuration, the plan, the
/// login, the server (transport and API), the apply.
pub const ERROR_KINDS: &[&str] = &["manifests", "config", "plan", "login", "server", "apply"];

/// The outcomes that mean a round succeeded.
pub fn succeeded(outcome: &str) -> bool {
    matches!(outcome, "in-sync" | "drift" | "applied" | "removal-held")
}

type Labels = Vec<(String, String)>;

fn label(name: &str, value: &str) -> Labels {
    vec![(name.to_owned(), value.to_owned())]
}

/// The last round that finished (settling rounds do not: they read nothing).
struct Last {
    ok: bool,
    outcome: &'static str,
    message: String,
    at: SystemTime,
}

/// What `/healthz` and `/metrics` serve; updated after every round.
pub struct Health {
    registry: Registry,
    rounds: Family<Labels, Counter>,
    errors: Family<Labels, Counter>,
    last_success: Gauge<f64, AtomicU64>,
    drift: Gauge,
    apply_seconds: Histogram,
    last: Mutex<Option<Last>>,
}

/// What one round tells the health state.
pub struct Report<'a> {
    pub outcome: &'static str,
    pub message: &'a str,
    /// The changes planned, when a plan was made.
    pub changes: Option<usize>,
    pub error: Option<&'static str>,
    /// A broken configuration edit was kept out (the round went on).
    pub config_error: bool,
    pub apply_time: Option<Duration>,
}

impl Health {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("guacsync_watch");
        let rounds = Family::<Labels, Counter>::default();
        registry.register("rounds", "Rounds by outcome", rounds.clone());
        let errors = Family::<Labels, Counter>::default();
        registry.register(
            "errors",
            "Rounds that met an error, by kind (manifests, config, plan, login, server, apply)",
            errors.clone(),
        );
        let last_success = Gauge::<f64, AtomicU64>::default();
        registry.register(
            "last_success_timestamp_seconds",
            "When the last successful round ended (Unix time; 0 before the first)",
            last_success.clone(),
        );
        let drift = Gauge::default();
        registry.register(
            "drift_changes",
            "Changes the last plan made had (0 when the server matched the manifests)",
            drift.clone(),
        );
        // 10 ms to about 10 min.
        let apply_seconds = Histogram::new(exponential_buckets(0.01, 2.0, 17));
        registry.register(
            "apply_duration_seconds",
            "How long each apply took, applied or failed",
            apply_seconds.clone(),
        );
        for outcome in OUTCOMES {
            let _ = rounds.get_or_create(&label("outcome", outcome));
        }
        for kind in ERROR_KINDS {
            let _ = errors.get_or_create(&label("kind", kind));
        }
        Self {
            registry,
            rounds,
            errors,
            last_success,
            drift,
            apply_seconds,
            last: Mutex::new(None),
        }
    }

    pub fn record(&self, r: &Report<'_>) {
        self.rounds
            .get_or_create(&label("outcome", r.outcome))
            .inc();
        if let Some(kind) = r.error {
            self.errors.get_or_create(&label("kind", kind)).inc();
        }
        if r.config_error {
            self.errors.get_or_create(&label("kind", "config")).inc();
        }
        if let Some(n) = r.changes {
            self.drift.set(i64::try_from(n).unwrap_or(i64::MAX));
        }
        if let Some(t) = r.apply_time {
            self.apply_seconds.observe(t.as_secs_f64());
        }
        if r.outcome == "settling" {
            return;
        }
        let now = SystemTime::now();
        let ok = succeeded(r.outcome);
        if ok {
            self.last_success.set(
                now.duration_since(SystemTime::UNIX_EPOCH)
                    .map_or(0.0, |d| d.as_secs_f64()),
            );
        }
        *self
            .last
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(Last {
            ok,
            outcome: r.outcome,
            message: r.message.to_owned(),
            at: now,
        });
    }

    /// `/healthz`: the status and a line saying why.
    fn healthz(&self) -> (StatusCode, String) {
        let last = self
            .last
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let Some(last) = last.as_ref() else {
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                "not ready: no round has finished yet\n".to_owned(),
            );
        };
        let at = humantime::format_rfc3339_seconds(last.at);
        let mut why: String = last.message.chars().take(200).collect();
        if why.len() < last.message.len() {
            why.push_str("...");
        }
        if last.ok {
            (
                StatusCode::OK,
                format!("ok: the last round ({at}) ended {}: {why}\n", last.outcome),
            )
        } else {
            (
                StatusCode::SERVICE_UNAVAILABLE,
                format!(
                    "not ready: the last round ({at}) ended {}: {why}\n",
                    last.outcome
                ),
            )
        }
    }

    fn metrics(&self) -> Result<String, std::fmt::Error> {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)?;
        Ok(out)
    }

    fn answer(&self, req: &Request<hyper::body::Incoming>) -> Response<Full<Bytes>> {
        let reply = |status: StatusCode, content_type: &str, body: String| {
            let mut resp = Response::new(Full::new(Bytes::from(body)));
            *resp.status_mut() = status;
            if let Ok(v) = content_type.parse() {
                resp.headers_mut().insert(hyper::header::CONTENT_TYPE, v);
            }
            resp
        };
        if req.method() != Method::GET && req.method() != Method::HEAD {
            let mut resp = reply(
                StatusCode::METHOD_NOT_ALLOWED,
                "text/plain; charset=utf-8",
                "only GET and HEAD\n".to_owned(),
            );
            if let Ok(v) = "GET, HEAD".parse() {
                resp.headers_mut().insert(hyper::header::ALLOW, v);
            }
            return resp;
        }
        match req.uri().path() {
            "/healthz" => {
                let (status, body) = self.healthz();
                reply(status, "text/plain; charset=utf-8", body)
            }
            "/metrics" => match self.metrics() {
                Ok(body) => reply(
                    StatusCode::OK,
                    "application/openmetrics-text; version=1.0.0; charset=utf-8",
                    body,
                ),
                Err(_) => reply(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "text/plain; charset=utf-8",
                    "the metrics could not be encoded\n".to_owned(),
                ),
            },
            _ => reply(
                StatusCode::NOT_FOUND,
                "text/plain; charset=utf-8",
                "not found: GET /healthz or /metrics\n".to_owned(),
            ),
        }
    }
}

/// Listens on `addr` and serves `health` until the returned task is aborted.
/// Returns the address bound (a port 0 is chosen by the system).
///
/// # Errors
/// The address cannot be bound.
pub async fn serve(
    addr: SocketAddr,
    health: Arc<Health>,
) -> anyhow::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = TcpListener::bind(addr)
        .await
        .with_context(|| format!("--health-addr {addr}: cannot listen there"))?;
    let bound = listener.local_addr()?;
    let task = tokio::spawn(async move {
        loop {
            let stream = match listener.accept().await {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of file descriptors, most likely: let some close.
                    tracing::warn!("health endpoint: cannot accept a connection: {e}");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    continue;
                }
            };
            let health = Arc::clone(&health);
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req| {
                    let resp = health.answer(&req);
                    async move { Ok::<_, Infallible>(resp) }
                });
                // A client that never finishes its request headers is dropped.
                let _ = hyper::server::conn::http1::Builder::new()
                    .timer(hyper_util::rt::TokioTimer::new())
                    .header_read_timeout(Duration::from_secs(10))
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Ok((bound, task))
}

//! A stand-in for what sits between guacsync and Guacamole in real deployments: a
//! front end that answers redirects or a proxy's HTML error pages, forwards the
//! rest to the test server, and records every connection and request it receives
//! (raw bytes included). As a listener nothing should reach, it proves that
//! nothing did: not a TCP connection, let alone a token or a password.
//!
//! HTTP/1.1 only, one request per connection (`Connection: close`), bodies by
//! `Content-Length`: what reqwest sends. Plain or TLS (rustls, no ALPN).

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};
use tokio::net::TcpListener;

/// One request as received.
#[derive(Clone, Debug)]
pub(crate) struct Recorded {
    pub method: String,
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// Everything received.
#[derive(Debug, Default)]
pub(crate) struct Log {
    pub connections: usize,
    pub raw: Vec<u8>,
    pub requests: Vec<Recorded>,
}

/// A canned answer.
#[derive(Clone, Debug)]
pub(crate) struct Canned {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Canned {
    pub fn new(status: u16, headers: &[(&str, &str)], body: &str) -> Self {
        Self {
            status,
            headers: headers
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            body: body.as_bytes().to_vec(),
        }
    }
}

/// A canned answer for the requests whose method and path match.
#[derive(Clone, Debug)]
pub(crate) struct Rule {
    pub method: Option<String>,
    pub path_contains: String,
    pub answer: Canned,
}

/// What to do with a request no rule matches.
#[derive(Clone, Debug)]
pub(crate) enum Otherwise {
    Answer(Canned),
    /// Forward to this origin (`http://127.0.0.1:PORT`) and relay the answer.
    Forward(String),
    /// Accept the connection and never answer (a timeout).
    Hang,
}

/// A running stand-in; stops when dropped.
pub(crate) struct StandIn {
    pub addr: SocketAddr,
    log: Arc<Mutex<Log>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for StandIn {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl StandIn {
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// A snapshot of what was received.
    pub fn log(&self) -> Log {
        let log = self.log.lock().expect("log");
        Log {
            connections: log.connections,
            raw: log.raw.clone(),
            requests: log.requests.clone(),
        }
    }
}

/// PEM certificate chain and key for a TLS stand-in.
pub(crate) struct Tls {
    pub cert_pem: String,
    pub key_pem: String,
}

struct Shared {
    log: Arc<Mutex<Log>>,
    rules: Vec<Rule>,
    otherwise: Otherwise,
    upstream: reqwest::Client,
}

pub(crate) async fn start(tls: Option<Tls>, rules: Vec<Rule>, otherwise: Otherwise) -> StandIn {
    guacsync::guacamole::client::install_crypto_provider();
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let log = Arc::new(Mutex::new(Log::default()));
    let acceptor = tls.map(|t| acceptor(&t));
    let shared = Arc::new(Shared {
        log: log.clone(),
        rules,
        otherwise,
        upstream: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client"),
    });
    let task = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            shared.log.lock().expect("log").connections += 1;
            let shared = shared.clone();
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                match acceptor {
                    Some(a) => {
                        if let Ok(tls) = a.accept(stream).await {
                            serve(tls, &shared).await;
                        }
                    }
                    None => serve(stream, &shared).await,
                }
            });
        }
    });
    StandIn { addr, log, task }
}

fn acceptor(tls: &Tls) -> tokio_rustls::TlsAcceptor {
    use rustls::pki_types::pem::PemObject as _;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs: Vec<CertificateDer<'static>> =
        CertificateDer::pem_slice_iter(tls.cert_pem.as_bytes())
            .collect::<Result<_, _>>()
            .expect("certificate");
    let key = PrivateKeyDer::from_pem_slice(tls.key_pem.as_bytes()).expect("key");
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .expect("server config");
    tokio_rustls::TlsAcceptor::from(Arc::new(config))
}

async fn serve<S: AsyncRead + AsyncWrite + Unpin>(mut stream: S, shared: &Shared) {
    let Some(request) = read_request(&mut stream, shared).await else {
        return;
    };
    let rule = shared.rules.iter().find(|r| {
        r.method.as_ref().is_none_or(|m| *m == request.method)
            && request.target.contains(&r.path_contains)
    });
    let answer = match (rule, &shared.otherwise) {
        (Some(r), _) => r.answer.clone(),
        (None, Otherwise::Answer(a)) => a.clone(),
        (None, Otherwise::Forward(origin)) => forward(&shared.upstream, origin, &request).await,
        (None, Otherwise::Hang) => {
            std::future::pending::<()>().await;
            return;
        }
    };
    let mut head = format!("HTTP/1.1 {} Stand-in\r\n", answer.status);
    for (k, v) in &answer.headers {
        let _ = write!(head, "{k}: {v}\r\n");
    }
    let _ = write!(
        head,
        "Content-Length: {}\r\nConnection: close\r\n\r\n",
        answer.body.len()
    );
    let _ = stream.write_all(head.as_bytes()).await;
    let _ = stream.write_all(&answer.body).await;
    let _ = stream.shutdown().await;
}

/// Reads one request (head and `Content-Length` body), recording its bytes.
async fn read_request<S: AsyncRead + Unpin>(stream: &mut S, shared: &Shared) -> Option<Recorded> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = stream.read(&mut chunk).await.ok()?;
        shared
            .log
            .lock()
            .expect("log")
            .raw
            .extend_from_slice(&chunk[..n]);
        if n == 0 || buf.len() > 1 << 20 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let method = first.next()?.to_owned();
    let target = first.next()?.to_owned();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = buf[head_end..].to_vec();
    while body.len() < length {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            break;
        }
        shared
            .log
            .lock()
            .expect("log")
            .raw
            .extend_from_slice(&chunk[..n]);
        body.extend_from_slice(&chunk[..n]);
    }
    let recorded = Recorded {
        method,
        target,
        headers,
        body,
    };
    shared
        .log
        .lock()
        .expect("log")
        .requests
        .push(recorded.clone());
    Some(recorded)
}

async fn forward(client: &reqwest::Client, origin: &str, request: &Recorded) -> Canned {
    let method = reqwest::Method::from_bytes(request.method.as_bytes()).expect("method");
    let mut req = client.request(method, format!("{origin}{}", request.target));
    for (k, v) in &request.headers {
        if matches!(k.as_str(), "guacamole-token" | "content-type") {
            req = req.header(k, v);
        }
    }
    let resp = req
        .body(request.body.clone())
        .send()
        .await
        .expect("upstream answers");
    let status = resp.status().as_u16();
    let headers = resp
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| vec![("Content-Type".to_owned(), v.to_owned())])
        .unwrap_or_default();
    let body = resp.bytes().await.expect("upstream body").to_vec();
    Canned {
        status,
        headers,
        body,
    }
}

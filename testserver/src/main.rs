//! `guacamole-testserver`: the test server as a process.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use guacamole_testserver::{Config, GuacamoleVersion, State, TlsConfig, start};

/// A Guacamole 1.6.0 (or 1.5.5) `PostgreSQL` compatible REST server for tests.
#[derive(Debug, Parser)]
#[command(name = "guacamole-testserver", version)]
struct Args {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// State file to load (default: a fresh server with guacadmin/guacadmin).
    #[arg(long)]
    state: Option<PathBuf>,
    /// Web application path prefix, e.g. /guacamole.
    #[arg(long, default_value = "")]
    prefix: String,
    /// Latency added to every API request, in milliseconds.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// Idle session timeout, in seconds (Guacamole's default is 60 minutes).
    #[arg(long, default_value_t = 3600)]
    session_timeout_secs: u64,
    /// Request body limit in bytes (0: none).
    #[arg(long, default_value_t = 2 * 1024 * 1024)]
    body_limit: usize,
    /// PEM certificate chain; with --tls-key, serve HTTPS.
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// PEM private key.
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Do not record requests (for large benchmarks).
    #[arg(long)]
    no_request_log: bool,
    /// Answer as this Guacamole release where the REST API differs: 1.6.0 or 1.5.5.
    #[arg(long, default_value = "1.6.0")]
    guacamole_version: GuacamoleVersion,
    /// Play a proxy in front with this `client_max_body_size`: a larger body gets
    /// nginx's HTML 413 and never reaches the server.
    #[arg(long)]
    proxy_body_limit: Option<u64>,
    /// The data source the login answers with (postgresql, mysql, sqlserver, ...).
    #[arg(long, default_value = "postgresql")]
    data_source: String,
    /// Accept `%2F` in request paths (Tomcat's `encodedSolidusHandling="passthrough"`;
    /// by default it is refused with 400, as a stock Tomcat does).
    #[arg(long)]
    allow_encoded_slash: bool,
    /// Accept `%5C` in request paths (Tomcat's `encodedReverseSolidusHandling=
    /// "passthrough"`; by default it is refused with 400).
    #[arg(long)]
    allow_encoded_backslash: bool,
    /// The order of the tree's fields: Guacamole's (a group's name before its
    /// children) or sorted by name (children first).
    #[arg(long, value_parser = ["guacamole", "alphabetical"], default_value = "guacamole")]
    tree_field_order: String,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("guacamole-testserver: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> anyhow::Result<()> {
    // Listen for the signals before saying "listening": a caller that stops the
    // server as soon as it reads that line must not kill it by default action.
    let signals = Signals::new()?;
    let state = match &args.state {
        Some(path) => State::load(path)?,
        None => State::default(),
    };
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(TlsConfig {
            cert_chain_pem: std::fs::read(cert)?,
            key_pem: std::fs::read(key)?,
        }),
        _ => None,
    };
    let server = start(Config {
        state,
        listen: args.listen,
        prefix: args.prefix,
        latency: Duration::from_millis(args.latency_ms),
        session_timeout: Duration::from_secs(args.session_timeout_secs),
        body_limit: args.body_limit,
        tls,
        log_requests: !args.no_request_log,
        guacamole_version: args.guacamole_version,
        proxy_body_limit: args.proxy_body_limit,
        data_source: args.data_source,
        path_rules: guacamole_testserver::answers::PathRules {
            allow_encoded_slash: args.allow_encoded_slash,
            allow_encoded_backslash: args.allow_encoded_backslash,
        },
        field_order: if args.tree_field_order == "alphabetical" {
            guacamole_testserver::field_order::FieldOrder::Alphabetical
        } else {
            guacamole_testserver::field_order::FieldOrder::Guacamole
        },
    })
    .await?;
    println!("listening on {}", server.base_url());
    signals.wait().await;
    server.shutdown().await;
    Ok(())
}

/// SIGINT and SIGTERM, registered when created.
struct Signals {
    interrupt: tokio::signal::unix::Signal,
    terminate: tokio::signal::unix::Signal,
}

impl Signals {
    fn new() -> std::io::Result<Self> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Self {
            interrupt: signal(SignalKind::interrupt())?,
            terminate: signal(SignalKind::terminate())?,
        })
    }

    async fn wait(mut self) {
        tokio::select! {
            _ = self.interrupt.recv() => {}
            _ = self.terminate.recv() => {}
        }
    }
}

//! `guacamole-testserver`: the test server as a process.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use guacamole_testserver::{Config, State, TlsConfig, start};

/// A Guacamole 1.6.0 (`PostgreSQL`) compatible REST server for tests.
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
    })
    .await?;
    // Caught before the line that tells a caller it may signal us: a SIGTERM
    // right after it must stop the server cleanly, not kill it.
    let (mut int, mut term) = signals()?;
    println!("listening on {}", server.base_url());
    tokio::select! {
        _ = int.recv() => {}
        _ = term.recv() => {}
    }
    server.shutdown().await;
    Ok(())
}

fn signals() -> anyhow::Result<(tokio::signal::unix::Signal, tokio::signal::unix::Signal)> {
    use tokio::signal::unix::{SignalKind, signal};
    Ok((
        signal(SignalKind::interrupt())?,
        signal(SignalKind::terminate())?,
    ))
}

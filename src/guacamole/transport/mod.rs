//! Everything between the client's requests and the network (DESIGN.md §9): the
//! server URL and its origin, the HTTP client (TLS trust, no redirects), and what a
//! failure means in words an operator can act on.
//!
//! It is separate from `client` (login, retries, the REST calls) so that the rules
//! that keep credentials on the configured origin live in one small place.

pub mod answer;
pub mod body;
pub mod endpoint;
pub mod explain;
pub mod tls;

use std::sync::Once;
use std::time::Duration;

pub use endpoint::{Endpoint, UrlError};

use super::client::{ClientConfig, ClientError};

/// Installs the ring crypto provider for rustls once per process (reqwest is built
/// without a default provider).
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// The HTTP client for one server: our TLS configuration, and redirects never
/// followed (a 3xx is an error naming its `Location`, see `explain::redirect`).
pub fn build_http(config: &ClientConfig) -> Result<reqwest::Client, ClientError> {
    install_crypto_provider();
    let tls =
        tls::client_config(config.ca_cert.as_deref(), config.insecure).map_err(ClientError::Tls)?;
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(10).min(config.timeout))
        .timeout(config.timeout)
        .pool_max_idle_per_host(config.concurrency.max(1))
        .tcp_nodelay(true)
        .user_agent(concat!("guacsync/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| ClientError::Tls(e.to_string()))
}

/// Says on stderr, once per process and whatever the log level (`-q` included),
/// that the certificate is not verified.
pub fn warn_insecure(endpoint: &Endpoint) {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        if endpoint.is_https() {
            eprintln!(
                "warning: --insecure: the TLS certificate of {} is not verified; anyone on the network path can read the password and the session token, and change what guacsync reads and writes",
                endpoint.host_port()
            );
        } else {
            eprintln!(
                "warning: --insecure has no effect on an http:// URL: the password and the session token travel unencrypted to {}",
                endpoint.host_port()
            );
        }
    });
}

//! A Guacamole-compatible REST server for guacsync's tests, examples and
//! benchmarks. It behaves as Guacamole 1.6.0 with a `PostgreSQL` data source, as
//! `rest-api.md` describes it (read from Guacamole's source): the client is tested
//! against it, so it answers exactly what the real server answers, quirks included.
//!
//! Start it in-process with [`start`] (tests, `guacsync --state`) or as the
//! `guacamole-testserver` binary.

pub mod answers;
pub mod api;
pub mod error;
pub mod patch;
pub mod schema;
pub mod server;
pub mod state;
pub mod store;
pub mod timer;
pub mod totp;
pub mod views;

pub use server::{
    Config, Fault, FaultRule, LoggedRequest, RunningServer, StartError, TlsConfig, start,
};
pub use state::State;

/// Milliseconds since the Unix epoch (Guacamole's date format on the wire).
#[must_use]
pub fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

//! A Guacamole-compatible REST server for guacsync's tests, examples and
//! benchmarks. It behaves as Guacamole 1.6.0 with a `PostgreSQL` data source, as
//! `rest-api.md` describes it (read from Guacamole's source): the client is tested
//! against it, so it answers exactly what the real server answers, quirks included.
//! With [`GuacamoleVersion::V1_5_5`] it answers as 1.5.5 does where the versions
//! differ, and its faults can also play a reverse proxy in front of it (`proxy`).
//!
//! Start it in-process with [`start`] (tests, `guacsync --state`) or as the
//! `guacamole-testserver` binary.

pub mod answers;
pub mod api;
pub mod echo;
pub mod error;
pub mod field_order;
pub mod kind;
pub mod legacy;
pub mod patch;
pub mod proxy;
pub mod schema;
pub mod server;
pub mod state;
pub mod store;
pub mod timer;
pub mod totp;
pub mod version;
pub mod views;

pub use proxy::ProxyEvent;
pub use server::{
    Config, Fault, FaultRule, LoggedRequest, RunningServer, StartError, TlsConfig, start,
};
pub use state::State;
pub use version::GuacamoleVersion;

/// Milliseconds since the Unix epoch (Guacamole's date format on the wire).
#[must_use]
pub fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

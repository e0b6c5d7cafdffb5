//! Talking to a Guacamole server: credentials, the HTTP client, the wire types,
//! and observing the server into an [`crate::observed::Observed`].

pub mod client;
pub mod credentials;
pub mod limits;
mod login;
pub mod observe;
pub mod totp;
pub mod transport;
pub mod wire;
pub mod writes;

pub use client::{Client, ClientConfig, ClientError};
pub use credentials::{Credentials, Secret};

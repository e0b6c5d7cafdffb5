//! guacsync keeps an Apache Guacamole server's connections equal to manifest files.
//!
//! The modules follow the data flow of DESIGN.md §1:
//! `manifest` (parse) → `model` → `diff` (pure) → `plan` → `apply`, with
//! `guacamole` observing the server into `observed`.

pub mod apply;
pub mod cli;
pub mod config;
pub mod desired;
pub mod diagnostic;
pub mod diff;
pub mod estate;
pub mod export;
pub mod fields;
pub mod guacamole;
pub mod kinds;
pub mod manifest;
pub mod model;
pub mod observed;
pub mod plan;
pub mod schema;
pub mod secret;
pub mod value;

use std::process::ExitCode;

/// Runs the command line and turns its outcome into the process exit code.
#[must_use]
pub fn run() -> ExitCode {
    cli::main()
}

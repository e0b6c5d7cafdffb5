//! The command line: what the user typed (clap), turned into calls of the library.
//! Each subcommand lives in its own file; this module holds the options they share
//! and the mapping of outcomes to exit codes (0 ok, 1 error, 2 changes present with
//! `--detailed-exitcode`).

pub mod validate;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

/// Keep an Apache Guacamole server's connections equal to manifest files.
#[derive(Debug, Parser)]
#[command(name = "guacsync", version, about, long_about = None)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command accepts.
#[derive(Debug, Clone, Args)]
pub struct GlobalArgs {
    /// Configuration file (default: ./guacsync.toml when present).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Guacamole base URL, with any path prefix (also `GUACAMOLE_URL`).
    #[arg(long, global = true, value_name = "URL")]
    pub url: Option<String>,
    /// Data source (also `GUACAMOLE_DATA_SOURCE`; default: the one the login answers).
    #[arg(long, global = true, value_name = "DS")]
    pub data_source: Option<String>,
    /// Use a state file instead of a server (the test server's state format).
    #[arg(long, global = true, value_name = "FILE")]
    pub state: Option<PathBuf>,
    /// Requests in flight at once (default 8).
    #[arg(long, global = true, value_name = "N")]
    pub concurrency: Option<usize>,
    /// Do not verify the server's TLS certificate (dangerous; warns).
    #[arg(long, global = true)]
    pub insecure: bool,
    /// More log output (repeat for more).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Only errors.
    #[arg(short, long, global = true)]
    pub quiet: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check manifests without contacting a server.
    Validate(validate::ValidateArgs),
}

/// Whether to colour output written to `stream`: only on a terminal, never with
/// `NO_COLOR` set (<https://no-color.org>).
pub fn use_color(stream: &impl IsTerminal) -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && stream.is_terminal()
}

/// Runs the command line; the library's `run()` calls this.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    let result = match cli.command {
        Command::Validate(args) => validate::run(&cli.global, &args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}

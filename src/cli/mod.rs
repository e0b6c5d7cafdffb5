//! The command line: what the user typed (clap), turned into calls of the library.
//! Each subcommand lives in its own file; this module holds the options they share
//! and the mapping of outcomes to exit codes (0 ok, 1 error, 2 changes present with
//! `--detailed-exitcode`).

pub mod common;
pub mod export;
pub mod interrupt;
mod log_fields;
pub mod plan;
mod saved_plan;
pub mod validate;
pub mod watch;

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
    /// Seconds before a request to the server is abandoned (default 60).
    #[arg(long, global = true, value_name = "SECS")]
    pub timeout: Option<u64>,
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
    /// Show what sync would change.
    Plan(plan::PlanCommand),
    /// Make the server equal to the manifests.
    Sync(plan::SyncCommand),
    /// Write what the server holds as manifests (or a state file).
    Export(export::ExportCommand),
    /// Keep the server equal to the manifests: re-plan on changes and on an interval.
    Watch(watch::WatchCommand),
}

/// Whether to colour output written to `stream`: only on a terminal, never with
/// `NO_COLOR` set (<https://no-color.org>).
pub fn use_color(stream: &impl IsTerminal) -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && stream.is_terminal()
}

/// Logs go to stderr: warnings by default, more with `-v`, errors only with `-q`;
/// `GUACSYNC_LOG` (an `EnvFilter` directive) overrides. Nothing logged carries a
/// secret: requests are logged by method, path and status, and every field value
/// is cleaned of known secrets as it is formatted (`log_fields`).
fn init_logging(global: &GlobalArgs) {
    let level = if global.quiet {
        "error"
    } else {
        match global.verbose {
            0 => "warn",
            1 => "info",
            _ => "debug",
        }
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("GUACSYNC_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(format!("guacsync={level},warn")));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .fmt_fields(log_fields::RedactingFields)
        .with_writer(std::io::stderr)
        .with_ansi(use_color(&std::io::stderr()))
        .with_target(false)
        .try_init();
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
    init_logging(&cli.global);
    let result = match &cli.command {
        Command::Validate(args) => validate::run(&cli.global, args),
        command => match tokio::runtime::Runtime::new() {
            // `watch` handles its own signals (it finishes the round in flight).
            Ok(rt) => interrupt::run(
                &rt,
                async {
                    match command {
                        Command::Plan(args) => plan::run_plan(&cli.global, args).await,
                        Command::Sync(args) => plan::run_sync(&cli.global, args).await,
                        Command::Export(args) => export::run(&cli.global, args).await,
                        Command::Watch(args) => watch::run(&cli.global, args).await,
                        Command::Validate(_) => unreachable!("handled above"),
                    }
                },
                !matches!(command, Command::Watch(_)),
            ),
            Err(e) => Err(anyhow::anyhow!("cannot start the async runtime: {e}")),
        },
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            // Text from outside (a server's message, a decoding error quoting a
            // response) is cleaned where it enters an error, so guacsync's own words
            // around it stay whole.
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}

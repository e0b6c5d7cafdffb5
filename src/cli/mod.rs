//! The command line: what the user typed (clap), turned into calls of the library.
//! Each subcommand lives in its own file; this module holds the options they share
//! and the mapping of outcomes to exit codes (0 ok, 1 error, 2 changes present with
//! `--detailed-exitcode`).

pub mod args;
pub mod common;
pub mod export;
pub mod export_estate;
pub mod export_target;
pub mod generate;
pub mod interrupt;
mod log_fields;
pub mod plan;
mod saved_plan;
pub mod sync_result;
pub mod validate;
pub mod watch;

use std::ffi::OsString;
use std::io::IsTerminal;
use std::process::ExitCode;

use clap::{CommandFactory as _, FromArgMatches as _, Parser, Subcommand};

pub use args::{CommonArgs, GlobalArgs, ServerArgs};

/// The version line: the package version and the commit it was built from
/// (`build.rs`; `GUACSYNC_BUILD_COMMIT` where there is no git checkout).
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("GUACSYNC_COMMIT"),
    ")"
);

/// Keep an Apache Guacamole server's connections equal to manifest files.
#[derive(Debug, Parser)]
#[command(name = "guacsync", version = VERSION, about, long_about = None)]
pub struct Cli {
    #[command(flatten)]
    pub common: CommonArgs,
    /// Server options written before the command name (hidden; see `args`).
    #[command(flatten)]
    pub early: ServerArgs,
    #[command(subcommand)]
    pub command: Command,
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
    /// Print a shell completion script (e.g. `guacsync completions bash > /etc/bash_completion.d/guacsync`).
    Completions(generate::CompletionsArgs),
    /// Print the man page (or write one page per command with --dir).
    Man(generate::ManArgs),
}

impl Command {
    fn name(&self) -> &'static str {
        match self {
            Self::Validate(_) => "validate",
            Self::Plan(_) => "plan",
            Self::Sync(_) => "sync",
            Self::Export(_) => "export",
            Self::Watch(_) => "watch",
            Self::Completions(_) => "completions",
            Self::Man(_) => "man",
        }
    }

    /// The server options written after the command name, for the commands
    /// that contact a server.
    fn server(&self) -> Option<&ServerArgs> {
        match self {
            Self::Plan(a) => Some(&a.server),
            Self::Sync(a) => Some(&a.server),
            Self::Export(a) => Some(&a.server),
            Self::Watch(a) => Some(&a.server),
            Self::Validate(_) | Self::Completions(_) | Self::Man(_) => None,
        }
    }
}

/// The command line's definition: the derived one, with the top-level copies of
/// the server options hidden and the environment and exit codes in `--help`.
/// Completions, the man page and the CI-example test use this same value.
#[must_use]
pub fn command() -> clap::Command {
    let mut cmd = Cli::command().after_long_help(args::top_help());
    for id in args::SERVER_ARG_IDS {
        cmd = cmd.mut_arg(*id, |a| a.hide(true));
    }
    cmd.mut_subcommands(|sub| match sub.get_name() {
        "plan" | "sync" => sub.after_long_help(args::top_help()),
        "export" | "watch" => sub.after_long_help(args::ENVIRONMENT_HELP),
        _ => sub,
    })
}

/// Parses a command line with [`command`].
///
/// # Errors
/// clap's error (also for `--help` and `--version`, which it prints).
pub fn parse_from<I, T>(args: I) -> Result<Cli, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let mut cmd = command();
    let matches = cmd.try_get_matches_from_mut(args)?;
    Cli::from_arg_matches(&matches).map_err(|e| e.format(&mut cmd))
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
fn init_logging(global: &CommonArgs) {
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

/// Parses a command line as `main` does, including the checks clap cannot make
/// (server options given to a command that does not use them, or twice). The
/// CI-example test checks every `guacsync ...` line of the examples with it.
///
/// # Errors
/// What is wrong with the command line.
pub fn check_command_line<I, T>(args: I) -> Result<(Cli, GlobalArgs), String>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = parse_from(args).map_err(|e| e.to_string())?;
    let global = GlobalArgs::merge(
        &cli.common,
        &cli.early,
        cli.command.server(),
        cli.command.name(),
    )?;
    Ok((cli, global))
}

/// Runs the command line; the library's `run()` calls this.
pub fn main() -> ExitCode {
    let cli = match parse_from(std::env::args_os()) {
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
    init_logging(&cli.common);
    let global = match GlobalArgs::merge(
        &cli.common,
        &cli.early,
        cli.command.server(),
        cli.command.name(),
    ) {
        Ok(global) => global,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(1);
        }
    };
    let result = match &cli.command {
        Command::Validate(args) => validate::run(&global, args),
        Command::Completions(args) => generate::completions(args),
        Command::Man(args) => generate::man(args),
        command => match tokio::runtime::Runtime::new() {
            // `watch` handles its own signals (it finishes the round in flight).
            Ok(rt) => interrupt::run(
                &rt,
                async {
                    match command {
                        Command::Plan(args) => plan::run_plan(&global, args).await,
                        Command::Sync(args) => plan::run_sync(&global, args).await,
                        Command::Export(args) => export::run(&global, args).await,
                        Command::Watch(args) => Box::pin(watch::run(&global, args)).await,
                        Command::Validate(_) | Command::Completions(_) | Command::Man(_) => {
                            unreachable!("handled above")
                        }
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
            // around it stay whole; each cause is printed once.
            eprintln!("error: {}", error_text(&e));
            ExitCode::from(1)
        }
    }
}

/// An error and its causes on one line, each cause once: `{:#}` repeats a cause
/// whose text the error's own message already quotes (`cannot read FILE: No such
/// file (os error 2): No such file (os error 2)`).
pub fn error_text(e: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in e.chain() {
        let part = cause.to_string();
        if text.contains(&part) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&part);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_cause_is_printed_once() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "No such file");
        let e = anyhow::Error::new(crate::config::ConfigError::Read {
            path: "x.toml".into(),
            source: io,
        })
        .context("loading the configuration");
        assert_eq!(
            error_text(&e),
            "loading the configuration: cannot read x.toml: No such file"
        );
        assert_eq!(
            format!("{e:#}"),
            "loading the configuration: cannot read x.toml: No such file: No such file",
            "what anyhow prints"
        );
    }
}

//! The options shared between commands, and where each may be written.
//!
//! `--config`, `-v` and `-q` apply to every command. The server options
//! (`--url`, `--data-source`, `--state`, `--concurrency`, `--ca-cert`, `--insecure`,
//! `--timeout`) exist only on the commands that talk to a server, so that
//! `validate --help` does not offer options it would ignore. Earlier versions took
//! them before the command name (`guacsync --url U plan`); that spelling still
//! works through a hidden copy at the top level, merged here into one
//! [`GlobalArgs`] that the commands read.

use std::path::PathBuf;

use clap::Args;

/// Options every command accepts, before or after its name.
#[derive(Debug, Clone, Default, Args)]
pub struct CommonArgs {
    /// Configuration file (default: `GUACSYNC_CONFIG`, else the first guacsync.toml
    /// from the current directory up to the repository root).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// More log output: -v logs every request (method, path, status, time), -vv debug.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Only errors: no notes, no progress.
    #[arg(short, long, global = true)]
    pub quiet: bool,
}

/// How to reach the server (or a state file in its place).
#[derive(Debug, Clone, Default, Args)]
#[command(next_help_heading = "Server options")]
pub struct ServerArgs {
    /// Guacamole base URL, with any path prefix (also `GUACAMOLE_URL`).
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,
    /// Data source (also `GUACAMOLE_DATA_SOURCE`; default: the one the login answers).
    #[arg(long, value_name = "DS")]
    pub data_source: Option<String>,
    /// Use a state file instead of a server (the test server's state format).
    #[arg(long, value_name = "FILE")]
    pub state: Option<PathBuf>,
    /// Requests in flight at once (default 16).
    #[arg(long, value_name = "N")]
    pub concurrency: Option<usize>,
    /// CA certificate, or the server's own self-signed certificate (pinned), in PEM
    /// form (also `GUACAMOLE_CA_CERT`; `[server] ca_cert`).
    #[arg(long, value_name = "FILE")]
    pub ca_cert: Option<PathBuf>,
    /// Do not verify the server's TLS certificate (dangerous; warns on every run).
    #[arg(long)]
    pub insecure: bool,
    /// Seconds before a request to the server is abandoned (default 60).
    #[arg(long, value_name = "SECS")]
    pub timeout: Option<u64>,
}

/// The ids of [`ServerArgs`]' options (hidden at the top level).
pub const SERVER_ARG_IDS: &[&str] = &[
    "url",
    "data_source",
    "state",
    "concurrency",
    "ca_cert",
    "insecure",
    "timeout",
];

impl ServerArgs {
    /// The flags set, as the user would write them (for messages).
    fn given(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        for (set, flag) in [
            (self.url.is_some(), "--url"),
            (self.data_source.is_some(), "--data-source"),
            (self.state.is_some(), "--state"),
            (self.concurrency.is_some(), "--concurrency"),
            (self.ca_cert.is_some(), "--ca-cert"),
            (self.insecure, "--insecure"),
            (self.timeout.is_some(), "--timeout"),
        ] {
            if set {
                out.push(flag);
            }
        }
        out
    }
}

/// Everything a command reads from the shared options, merged.
#[derive(Debug, Clone, Default)]
pub struct GlobalArgs {
    pub config: Option<PathBuf>,
    pub url: Option<String>,
    pub data_source: Option<String>,
    pub state: Option<PathBuf>,
    pub concurrency: Option<usize>,
    pub ca_cert: Option<PathBuf>,
    pub insecure: bool,
    pub timeout: Option<u64>,
    pub verbose: u8,
    pub quiet: bool,
}

impl GlobalArgs {
    /// Merges the options written before the command name (`early`) with those
    /// written after it (`command`, `None` for a command without server options).
    ///
    /// # Errors
    /// A server option given to a command that does not use it, or given both
    /// before and after the command name.
    pub fn merge(
        common: &CommonArgs,
        early: &ServerArgs,
        command: Option<&ServerArgs>,
        command_name: &str,
    ) -> Result<Self, String> {
        let early_given = early.given();
        let server = match command {
            None => {
                if let Some(flag) = early_given.first() {
                    return Err(format!(
                        "`guacsync {command_name}` does not contact a server: remove {flag}"
                    ));
                }
                ServerArgs::default()
            }
            Some(late) => {
                let late_given = late.given();
                if let Some(flag) = early_given.iter().find(|f| late_given.contains(f)) {
                    return Err(format!(
                        "{flag} is given both before and after `{command_name}`: give it once"
                    ));
                }
                ServerArgs {
                    url: late.url.clone().or_else(|| early.url.clone()),
                    data_source: late
                        .data_source
                        .clone()
                        .or_else(|| early.data_source.clone()),
                    state: late.state.clone().or_else(|| early.state.clone()),
                    concurrency: late.concurrency.or(early.concurrency),
                    ca_cert: late.ca_cert.clone().or_else(|| early.ca_cert.clone()),
                    insecure: late.insecure || early.insecure,
                    timeout: late.timeout.or(early.timeout),
                }
            }
        };
        Ok(Self {
            config: common.config.clone(),
            url: server.url,
            data_source: server.data_source,
            state: server.state,
            concurrency: server.concurrency,
            ca_cert: server.ca_cert,
            insecure: server.insecure,
            timeout: server.timeout,
            verbose: common.verbose,
            quiet: common.quiet,
        })
    }
}

/// The environment guacsync reads, shown by `--help` of the commands that
/// contact a server.
pub const ENVIRONMENT_HELP: &str = "\
Credentials (only from the environment; each also as NAME_FILE, a file holding the value):
  GUACAMOLE_USERNAME, GUACAMOLE_PASSWORD  the account guacsync logs in as
  GUACAMOLE_TOTP_SECRET                   base32 TOTP secret, for an account with TOTP
  GUACAMOLE_TOKEN                         a pre-issued token instead (never renewed nor released)

Environment:
  GUACAMOLE_URL, GUACAMOLE_DATA_SOURCE    the server, as --url and --data-source
  GUACAMOLE_CA_CERT                       a CA or pinned certificate, as --ca-cert
  GUACSYNC_CONFIG                         the configuration file when --config is not given
  GUACSYNC_FULL_PLAN_URL                  where the full plan is, as --full-plan-url
  GUACSYNC_LOG                            a log filter (tracing EnvFilter), instead of -v/-q
  NO_COLOR                                no colour";

/// The exit codes, shown by `--help`.
pub const EXIT_CODES_HELP: &str = "\
Exit codes:
  0  success: no changes, or the changes were applied
  1  error (the message says what, if anything, was applied)
  2  changes present (plan and sync with --detailed-exitcode)";

/// `--help` of the top level.
pub fn top_help() -> String {
    format!("{ENVIRONMENT_HELP}\n\n{EXIT_CODES_HELP}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_rules() {
        let common = CommonArgs::default();
        let early = ServerArgs {
            url: Some("http://a".into()),
            ..ServerArgs::default()
        };
        let late = ServerArgs {
            timeout: Some(5),
            ..ServerArgs::default()
        };
        let g = GlobalArgs::merge(&common, &early, Some(&late), "plan").expect("merges");
        assert_eq!(g.url.as_deref(), Some("http://a"));
        assert_eq!(g.timeout, Some(5));
        let e = GlobalArgs::merge(&common, &early, Some(&early), "plan").expect_err("twice");
        assert!(e.contains("--url is given both"), "{e}");
        let e = GlobalArgs::merge(&common, &early, None, "validate").expect_err("unused");
        assert!(e.contains("does not contact a server: remove --url"), "{e}");
        let g = GlobalArgs::merge(&common, &ServerArgs::default(), None, "validate")
            .expect("nothing given");
        assert!(g.url.is_none());
    }
}

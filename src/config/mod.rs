//! Configuration: `guacsync.toml` (DESIGN.md §3), the environment and command-line
//! flags, resolved into one [`Settings`] value that the rest of the program uses.
//! Flags win over the environment, which wins over the file. Credentials come only
//! from the environment or files, never from the configuration file. Which file is
//! read (`--config`, `GUACSYNC_CONFIG`, or the nearest `guacsync.toml` up to the
//! repository root) is decided by [`locate`], so that a command run from any
//! directory of the repository applies the repository's scope and prune rules.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::diff::{Moved, Options, PermissionMode};
use crate::model::GroupPath;

/// Guacamole's default `api-max-request-size`.
pub const DEFAULT_MAX_REQUEST_BYTES: usize = 2 * 1024 * 1024;

/// Requests in flight at once, unless configured. Chosen from the harness
/// (`cargo bench --bench guacsync -- plan --count 2000`, README "Benchmarks"): a
/// no-change plan of 2,000 connections at 2 ms per request is 16.6× faster than one
/// request at a time at 16 and 7.5× at the former 8. 16 is 8 % of a stock Tomcat's
/// 200 worker threads; see the README for why it is safe for the database pool.
pub const DEFAULT_CONCURRENCY: usize = 16;

/// The most requests guacsync keeps in flight. A stock Tomcat serves every
/// request of every user from 200 worker threads (`maxThreads`), and each REST
/// request of the JDBC extensions also waits for one of the 10 pooled
/// database connections (Guacamole 1.6.0 never raises `poolMaximumActiveConnections`),
/// so more in flight only queues inside the server while holding threads the web
/// users' tunnels need. 64 leaves more than two thirds of the threads to them.
pub const MAX_CONCURRENCY: usize = 64;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    #[serde(default)]
    server: ServerSection,
    #[serde(default)]
    scope: ScopeSection,
    #[serde(default)]
    sync: SyncSection,
    /// `[[moved]]` entries, in file order.
    #[serde(default)]
    moved: Vec<MovedSection>,
    /// Absent: the defaults of DESIGN.md §2 (any variable but guacsync's own, files
    /// inside the manifests' repository), with a warning in every plan.
    secrets: Option<SecretsSection>,
}

/// One `[[moved]]` entry: a move or rename that keeps the object.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MovedSection {
    from: toml::Spanned<String>,
    to: String,
}

/// What `${env:}` and `${file:}` references may name.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct SecretsSection {
    /// Variable names or globs (`*`, `?`); absent: none.
    #[serde(default)]
    env: Vec<String>,
    /// Directories, relative to the configuration file; absent: none.
    #[serde(default)]
    files: Vec<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ServerSection {
    url: Option<String>,
    data_source: Option<String>,
    ca_cert: Option<PathBuf>,
    /// Seconds before a request is abandoned.
    timeout_secs: Option<u64>,
    concurrency: Option<usize>,
    /// The account may lack ADMINISTER: plan with what it can read.
    delegated_account: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScopeSection {
    #[serde(default)]
    groups: Vec<String>,
    /// `"none"` (default) or `"all"`: with prune, remove the users and user groups
    /// that no estate document declares.
    principals: Option<crate::diff::Ownership>,
    /// `"none"` (default) or `"all"`: with prune, remove the sharing profiles of
    /// in-scope connections that no estate document declares.
    sharing_profiles: Option<crate::diff::Ownership>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct SyncSection {
    prune: Option<bool>,
    max_deletions: Option<usize>,
    permissions: Option<PermissionMode>,
    parent_group_read: Option<bool>,
    create_groups: Option<bool>,
    create_principals: Option<bool>,
    max_request_bytes: Option<usize>,
    prune_groups: Option<bool>,
    unmanaged_parameters: Option<Vec<String>>,
    allow_unknown_parameters: Option<bool>,
    allow_non_atomic: Option<bool>,
}

/// What the command line says (filled from clap by the CLI).
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub config: Option<PathBuf>,
    pub url: Option<String>,
    pub data_source: Option<String>,
    /// `--ca-cert FILE` (relative to the current directory).
    pub ca_cert: Option<PathBuf>,
    pub concurrency: Option<usize>,
    pub insecure: bool,
    pub timeout_secs: Option<u64>,
    pub prune: Option<bool>,
    pub allow_deletions: Option<usize>,
    pub terminate_sessions: bool,
    /// `--allow-non-atomic`.
    pub allow_non_atomic: bool,
}

/// Everything resolved.
#[derive(Debug, Clone)]
pub struct Settings {
    pub url: Option<String>,
    pub data_source: Option<String>,
    /// `--ca-cert`, else `GUACAMOLE_CA_CERT` (both relative to the current
    /// directory), else `[server] ca_cert` (relative to the configuration file).
    pub ca_cert: Option<PathBuf>,
    pub insecure: bool,
    pub concurrency: usize,
    pub timeout: Duration,
    pub options: Options,
    /// `[server] delegated_account`: plan, sync and export with an account that
    /// lacks ADMINISTER, seeing only what it may read.
    pub delegated_account: bool,
    /// The configuration file read, if any.
    pub config_path: Option<PathBuf>,
    /// How that file was chosen (or why there is none).
    pub config_origin: ConfigOrigin,
    /// `[secrets]`, when the file has the section.
    pub secrets: Option<SecretsConfig>,
}

/// How the configuration file was chosen (DESIGN.md §3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigOrigin {
    /// `--config FILE`.
    Flag,
    /// `GUACSYNC_CONFIG`.
    Env,
    /// The first `guacsync.toml` from the current directory upwards.
    Found,
    /// None was found. `root` is the repository root the search stopped at;
    /// `None` outside a repository (only the current directory was searched).
    NotFound {
        from: PathBuf,
        root: Option<PathBuf>,
    },
}

impl ConfigOrigin {
    /// The line guacsync prints on stderr about its configuration.
    #[must_use]
    pub fn describe(&self, path: Option<&Path>) -> String {
        let shown = path.map(|p| p.display().to_string()).unwrap_or_default();
        match self {
            Self::Flag => format!("note: configuration {shown} (--config)"),
            Self::Env => format!("note: configuration {shown} (GUACSYNC_CONFIG)"),
            Self::Found => format!("note: configuration {shown}"),
            Self::NotFound {
                from,
                root: Some(root),
            } => format!(
                "note: no configuration file (no {FILE_NAME} from {} up to the repository root {}); using the defaults",
                from.display(),
                root.display()
            ),
            Self::NotFound { from, root: None } => format!(
                "note: no configuration file (no {FILE_NAME} in {}, which is in no git repository); using the defaults",
                from.display()
            ),
        }
    }
}

/// The name searched for.
pub const FILE_NAME: &str = "guacsync.toml";

/// Finds the configuration file: `--config`, else `GUACSYNC_CONFIG` (a missing
/// file named either way is an error), else the first `guacsync.toml` from `cwd`
/// up to the repository root: the nearest directory holding `.git` (a directory,
/// or a file in a worktree or submodule). Outside a repository only `cwd` is
/// searched, so a stray file in a parent directory never applies. A file found
/// above `cwd` is named relative to it (`../guacsync.toml`).
///
/// # Errors
/// A file named by `--config` or `GUACSYNC_CONFIG` that does not exist.
pub fn locate(
    explicit: Option<&Path>,
    env: &dyn Fn(&str) -> Option<String>,
    cwd: &Path,
) -> Result<(Option<PathBuf>, ConfigOrigin), ConfigError> {
    let named = explicit
        .map(|p| (p.to_path_buf(), ConfigOrigin::Flag, "--config"))
        .or_else(|| {
            env("GUACSYNC_CONFIG")
                .filter(|v| !v.trim().is_empty())
                .map(|v| (PathBuf::from(v), ConfigOrigin::Env, "GUACSYNC_CONFIG"))
        });
    if let Some((path, origin, by)) = named {
        if !path.exists() {
            return Err(ConfigError::Missing { path, by });
        }
        return Ok((Some(path), origin));
    }
    let root = cwd
        .ancestors()
        .find(|dir| dir.join(".git").exists())
        .map(Path::to_path_buf);
    let mut relative = PathBuf::new();
    for dir in cwd.ancestors() {
        if dir.join(FILE_NAME).is_file() {
            return Ok((Some(relative.join(FILE_NAME)), ConfigOrigin::Found));
        }
        if root.as_deref().is_none_or(|r| r == dir) {
            break;
        }
        relative.push("..");
    }
    Ok((
        None,
        ConfigOrigin::NotFound {
            from: cwd.to_path_buf(),
            root,
        },
    ))
}

/// The `[secrets]` section, checked: env patterns valid and never naming
/// guacsync's own variables; directories joined to the configuration's directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretsConfig {
    pub env: Vec<String>,
    pub files: Vec<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
    #[error("the configuration file {path} named by {by} does not exist")]
    Missing { path: PathBuf, by: &'static str },
    #[error("{0}")]
    Value(String),
}

/// Keys that look like credentials: refused with a pointer to the right place.
const CREDENTIAL_KEYS: &[(&str, &str)] = &[
    ("username", "GUACAMOLE_USERNAME"),
    ("password", "GUACAMOLE_PASSWORD"),
    ("token", "GUACAMOLE_TOKEN"),
    ("totp_secret", "GUACAMOLE_TOTP_SECRET"),
];

fn parse_file(path: &Path, text: &str) -> Result<FileConfig, ConfigError> {
    let invalid = |message: String| ConfigError::Invalid {
        path: path.to_owned(),
        message,
    };
    let table: toml::Table = toml::from_str(text).map_err(|e| invalid(e.to_string()))?;
    for section in table.values().filter_map(toml::Value::as_table) {
        for (key, var) in CREDENTIAL_KEYS {
            if section.contains_key(*key) {
                return Err(invalid(format!(
                    "`{key}` does not belong in a configuration file: credentials are read only from the environment ({var} or {var}_FILE)"
                )));
            }
        }
    }
    toml::from_str(text).map_err(|e| invalid(e.to_string()))
}

/// The 1-based line of a byte offset in `text`.
fn line_of(text: &str, offset: usize) -> usize {
    text.get(..offset)
        .map_or(0, |before| before.matches('\n').count())
        + 1
}

/// The `[[moved]]` entries as paths, each checked on its own (the server decides
/// the rest when a plan is made). `label` names the file for messages.
fn moved_entries(
    entries: &[MovedSection],
    label: &str,
    text: &str,
) -> Result<Vec<Moved>, ConfigError> {
    let mut out = Vec::with_capacity(entries.len());
    for (n, m) in entries.iter().enumerate() {
        let line = line_of(text, m.from.span().start);
        let entry = format!(
            "([[moved]] #{}, from = {:?}, to = {:?})",
            n + 1,
            m.from.get_ref(),
            m.to
        );
        let origin = format!("{label}:{line} {entry}");
        let parse = |what: &str, p: &str| {
            GroupPath::parse(p)
                .map_err(|e| ConfigError::Value(format!("{origin}: `{what}`: {e}")))
                .and_then(|path| {
                    if path.is_root() {
                        Err(ConfigError::Value(format!(
                            "{origin}: `{what}` must name a group or a connection below ROOT"
                        )))
                    } else {
                        Ok(path)
                    }
                })
        };
        let from = parse("from", m.from.get_ref())?;
        let to = parse("to", &m.to)?;
        if from == to {
            return Err(ConfigError::Value(format!(
                "{origin}: `from` and `to` are the same"
            )));
        }
        if to.starts_with(&from) {
            return Err(ConfigError::Value(format!(
                "{origin}: `to` lies inside `from`; a group cannot be moved into itself"
            )));
        }
        out.push(Moved {
            from,
            to,
            file: label.to_owned(),
            line: u32::try_from(line).unwrap_or(u32::MAX),
            label: entry,
        });
    }
    Ok(out)
}

/// Reads the configuration file [`locate`] finds from the current directory.
pub fn load(
    overrides: &Overrides,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Settings, ConfigError> {
    let cwd = std::env::current_dir().map_err(|source| ConfigError::Read {
        path: PathBuf::from("."),
        source,
    })?;
    let (path, origin) = locate(overrides.config.as_deref(), env, &cwd)?;
    let (file, moved) = match &path {
        Some(p) => {
            let text = std::fs::read_to_string(p).map_err(|source| ConfigError::Read {
                path: p.clone(),
                source,
            })?;
            let file = parse_file(p, &text)?;
            let moved = moved_entries(&file.moved, &p.display().to_string(), &text)?;
            (file, moved)
        }
        None => (FileConfig::default(), Vec::new()),
    };
    let mut settings = resolve(file, path, overrides, env)?;
    settings.config_origin = origin;
    settings.options.moved = moved;
    Ok(settings)
}

mod resolve;
#[cfg(test)]
mod tests;

use resolve::resolve;

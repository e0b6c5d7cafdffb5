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

/// `n` when it is in `1..=MAX_CONCURRENCY`; `what` names where it came from.
fn check_concurrency(n: usize, what: &str) -> Result<usize, ConfigError> {
    if (1..=MAX_CONCURRENCY).contains(&n) {
        Ok(n)
    } else {
        Err(ConfigError::Value(format!(
            "{what} {n} is out of range: it must be between 1 and {MAX_CONCURRENCY} (requests in flight at once; the default is {DEFAULT_CONCURRENCY})"
        )))
    }
}

fn resolve(
    file: FileConfig,
    path: Option<PathBuf>,
    overrides: &Overrides,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Settings, ConfigError> {
    let nonempty = |v: Option<String>| v.filter(|s| !s.trim().is_empty());
    let url = overrides
        .url
        .clone()
        .or_else(|| nonempty(env("GUACAMOLE_URL")))
        .or(file.server.url);
    let data_source = overrides
        .data_source
        .clone()
        .or_else(|| nonempty(env("GUACAMOLE_DATA_SOURCE")))
        .or(file.server.data_source);
    let base = path
        .as_deref()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let ca_cert = overrides
        .ca_cert
        .clone()
        .or_else(|| nonempty(env("GUACAMOLE_CA_CERT")).map(PathBuf::from))
        .or_else(|| file.server.ca_cert.map(|c| base.join(c)));
    let concurrency = match (overrides.concurrency, file.server.concurrency) {
        (Some(n), _) => check_concurrency(n, "--concurrency")?,
        (None, Some(n)) => {
            check_concurrency(n, "[server] concurrency").map_err(|e| match &path {
                Some(p) => ConfigError::Invalid {
                    path: p.clone(),
                    message: e.to_string(),
                },
                None => e,
            })?
        }
        (None, None) => DEFAULT_CONCURRENCY,
    };
    let timeout = Duration::from_secs(
        overrides
            .timeout_secs
            .or(file.server.timeout_secs)
            .unwrap_or(60),
    );
    let mut scope = Vec::new();
    for g in &file.scope.groups {
        scope.push(
            GroupPath::parse(g).map_err(|e| ConfigError::Value(format!("[scope] groups: {e}")))?,
        );
    }
    let max_request_bytes = file
        .sync
        .max_request_bytes
        .unwrap_or(DEFAULT_MAX_REQUEST_BYTES);
    if max_request_bytes < 1024 {
        return Err(ConfigError::Value(
            "[sync] max_request_bytes must be at least 1024".to_owned(),
        ));
    }
    let prune = overrides.prune.or(file.sync.prune).unwrap_or(false);
    let principals = file.scope.principals.unwrap_or_default();
    let sharing_profiles = file.scope.sharing_profiles.unwrap_or_default();
    if sharing_profiles == crate::diff::Ownership::All && scope.is_empty() {
        return Err(ConfigError::Value(
            "[scope] sharing_profiles = \"all\" needs [scope] groups: sharing profiles are removed only on the connections of the scope groups".to_owned(),
        ));
    }
    // `[scope] principals = "all"` is a scope of its own: prune may then remove
    // users and user groups even where no connection group is owned.
    if prune && scope.is_empty() && principals != crate::diff::Ownership::All {
        let said = if overrides.prune == Some(true) {
            "--prune".to_owned()
        } else {
            format!(
                "`prune = true` in {}",
                path.as_deref().map_or_else(
                    || "the configuration".to_owned(),
                    |p| p.display().to_string()
                )
            )
        };
        return Err(ConfigError::Value(format!(
            "{said} needs a scope: without [scope] groups guacsync never removes anything, so pruning would do nothing; set [scope] groups = [\"ROOT/...\"] to the subtrees guacsync owns"
        )));
    }
    let secrets = match file.secrets {
        None => None,
        Some(section) => Some(secrets_config(section, &base, path.as_deref())?),
    };
    let options = Options {
        scope,
        prune,
        max_deletions: file.sync.max_deletions.unwrap_or(10),
        allow_deletions: overrides.allow_deletions,
        permissions: file.sync.permissions.unwrap_or_default(),
        parent_group_read: file.sync.parent_group_read.unwrap_or(true),
        create_groups: file.sync.create_groups.unwrap_or(true),
        create_principals: file.sync.create_principals.unwrap_or(false),
        max_request_bytes,
        terminate_sessions: overrides.terminate_sessions,
        prune_groups: file.sync.prune_groups.unwrap_or(false),
        unmanaged_parameters: file
            .sync
            .unmanaged_parameters
            .unwrap_or_default()
            .into_iter()
            .collect(),
        allow_unknown_parameters: file.sync.allow_unknown_parameters.unwrap_or(false),
        allow_non_atomic: overrides.allow_non_atomic || file.sync.allow_non_atomic.unwrap_or(false),
        moved: Vec::new(),
        confirmed_removals: None,
        principals,
        sharing_profiles,
        reset_passwords: crate::diff::PasswordResets::None,
    };
    Ok(Settings {
        url,
        data_source,
        ca_cert,
        insecure: overrides.insecure,
        concurrency,
        timeout,
        options,
        // A path handed in directly counts as named; `load` replaces this with
        // how it chose the file.
        config_origin: if path.is_some() {
            ConfigOrigin::Flag
        } else {
            ConfigOrigin::NotFound {
                from: PathBuf::new(),
                root: None,
            }
        },
        delegated_account: file.server.delegated_account.unwrap_or(false),
        config_path: path,
        secrets,
    })
}

fn secrets_config(
    section: SecretsSection,
    base: &Path,
    path: Option<&Path>,
) -> Result<SecretsConfig, ConfigError> {
    let invalid = |message: String| match path {
        Some(p) => ConfigError::Invalid {
            path: p.to_owned(),
            message,
        },
        None => ConfigError::Value(message),
    };
    for pattern in &section.env {
        crate::secret::policy::check_env_pattern(pattern)
            .map_err(|e| invalid(format!("[secrets] env {pattern:?}: {e}")))?;
    }
    let mut files = Vec::new();
    for dir in section.files {
        if dir.as_os_str().is_empty() {
            return Err(invalid(
                "[secrets] files: an empty path; name a directory (\".\" for the configuration's own)"
                    .to_owned(),
            ));
        }
        files.push(base.join(dir));
    }
    Ok(SecretsConfig {
        env: section.env,
        files,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    fn parse(text: &str) -> Result<FileConfig, ConfigError> {
        parse_file(Path::new("guacsync.toml"), text)
    }

    #[test]
    fn design_example_parses() {
        let text = r#"
[server]
url = "https://guac.example.com/guacamole"
data_source = "postgresql"
ca_cert = "certs/internal-ca.pem"

[scope]
groups = ["ROOT/Prod", "ROOT/Lab"]

[sync]
prune = false
max_deletions = 10
permissions = "additive"
parent_group_read = true
create_groups = true
create_principals = false
max_request_bytes = 2097152
"#;
        let file = parse(text).expect("parses");
        let s = resolve(
            file,
            Some(PathBuf::from("/etc/guacsync/guacsync.toml")),
            &Overrides::default(),
            &no_env,
        )
        .expect("resolves");
        assert_eq!(s.url.as_deref(), Some("https://guac.example.com/guacamole"));
        assert_eq!(
            s.ca_cert,
            Some(PathBuf::from("/etc/guacsync/certs/internal-ca.pem"))
        );
        assert_eq!(s.options.scope.len(), 2);
        assert_eq!(s.options.permissions, PermissionMode::Additive);
        assert_eq!(s.concurrency, 16, "the default");
    }

    #[test]
    fn errors_table() {
        let cases = [
            ("[server]\nurll = \"x\"\n", "unknown field `urll`"),
            ("[server]\npassword = \"x\"\n", "GUACAMOLE_PASSWORD"),
            ("[sync]\nprune = \"yes\"\n", "invalid type"),
            ("[sync]\npermissions = \"strict\"\n", "unknown variant"),
            ("[server\n", "line 1"),
        ];
        for (text, needle) in cases {
            let e = parse(text).expect_err(text).to_string();
            assert!(e.contains(needle), "{text:?}: {e}");
            assert!(e.starts_with("guacsync.toml:"), "{e}");
        }
        let file = parse("[scope]\ngroups = [\"ROOTX/a\"]\n").expect("parses");
        assert!(resolve(file, None, &Overrides::default(), &no_env).is_err());
    }

    #[test]
    fn concurrency_must_be_in_range() {
        for (flag, file, ok) in [
            (Some(0), None, false),
            (Some(1), None, true),
            (Some(MAX_CONCURRENCY), None, true),
            (Some(MAX_CONCURRENCY + 1), None, false),
            (Some(usize::MAX), None, false),
            (None, Some(0), false),
            (None, Some(100_000), false),
            (None, Some(16), true),
            // The flag wins, also over a bad file value.
            (Some(4), Some(0), true),
        ] {
            let text = file.map_or(String::new(), |n| format!("[server]\nconcurrency = {n}\n"));
            let overrides = Overrides {
                concurrency: flag,
                ..Overrides::default()
            };
            let result = resolve(
                parse(&text).expect("parses"),
                Some(PathBuf::from("ci/guacsync.toml")),
                &overrides,
                &no_env,
            );
            match (result, ok) {
                (Ok(s), true) => assert_eq!(Some(s.concurrency), flag.or(file)),
                (Err(e), false) => {
                    let e = e.to_string();
                    assert!(e.contains("between 1 and 64"), "{e}");
                    let origin = if flag.is_some() {
                        "--concurrency"
                    } else {
                        "ci/guacsync.toml: [server] concurrency"
                    };
                    assert!(e.contains(origin), "{e}");
                }
                (r, _) => panic!("{flag:?}/{file:?}: {r:?}"),
            }
        }
    }

    #[test]
    fn precedence_flags_over_env_over_file() {
        let env = |k: &str| match k {
            "GUACAMOLE_URL" => Some("http://env".to_owned()),
            "GUACAMOLE_DATA_SOURCE" => Some("mysql".to_owned()),
            _ => None,
        };
        let file = parse(
            "[server]\nurl = \"http://file\"\ndata_source = \"file-ds\"\n[sync]\nprune = true\n",
        )
        .expect("parses");
        let flags = Overrides {
            url: Some("http://flag".into()),
            prune: Some(false),
            concurrency: Some(32),
            ..Overrides::default()
        };
        let s = resolve(file, None, &flags, &env).expect("resolves");
        assert_eq!(s.url.as_deref(), Some("http://flag"));
        assert_eq!(s.data_source.as_deref(), Some("mysql"));
        assert!(!s.options.prune);
        assert_eq!(s.concurrency, 32);
        let file =
            parse("[scope]\ngroups = [\"ROOT/Prod\"]\n[sync]\nprune = true\n").expect("parses");
        let s = resolve(file, None, &Overrides::default(), &no_env).expect("resolves");
        assert!(s.options.prune);
        assert_eq!(s.options.max_request_bytes, DEFAULT_MAX_REQUEST_BYTES);
    }

    #[test]
    fn ca_cert_from_flag_over_env_over_file() {
        let file = || parse("[server]\nca_cert = \"certs/ca.pem\"\n").expect("parses");
        let config = Some(PathBuf::from("/etc/guacsync/guacsync.toml"));
        let env = |k: &str| (k == "GUACAMOLE_CA_CERT").then(|| "env.pem".to_owned());
        let blank_env = |k: &str| (k == "GUACAMOLE_CA_CERT").then(|| " ".to_owned());
        let flag = Overrides {
            ca_cert: Some(PathBuf::from("flag.pem")),
            ..Overrides::default()
        };
        let none = Overrides::default();
        let got = |o: &Overrides, e: &dyn Fn(&str) -> Option<String>| {
            resolve(file(), config.clone(), o, e)
                .expect("resolves")
                .ca_cert
        };
        assert_eq!(got(&flag, &env), Some(PathBuf::from("flag.pem")));
        assert_eq!(got(&none, &env), Some(PathBuf::from("env.pem")));
        assert_eq!(
            got(&none, &blank_env),
            Some(PathBuf::from("/etc/guacsync/certs/ca.pem"))
        );
        assert_eq!(
            got(&none, &no_env),
            Some(PathBuf::from("/etc/guacsync/certs/ca.pem"))
        );
    }

    #[test]
    fn locate_searches_up_to_the_repository_root() {
        let t = tempfile::tempdir().expect("dir");
        let outer = t.path();
        let repo = outer.join("repo");
        let deep = repo.join("a/b");
        std::fs::create_dir_all(&deep).expect("mkdir");
        std::fs::create_dir(repo.join(".git")).expect("mkdir");
        std::fs::write(outer.join(FILE_NAME), "").expect("write");
        // Above the repository root: not used.
        let (path, origin) = locate(None, &no_env, &deep).expect("locates");
        assert_eq!(path, None);
        assert_eq!(
            origin,
            ConfigOrigin::NotFound {
                from: deep.clone(),
                root: Some(repo.clone())
            }
        );
        std::fs::write(repo.join(FILE_NAME), "").expect("write");
        let (path, origin) = locate(None, &no_env, &deep).expect("locates");
        assert_eq!(path, Some(PathBuf::from("../../guacsync.toml")));
        assert_eq!(origin, ConfigOrigin::Found);
        // The nearest wins.
        std::fs::write(deep.join(FILE_NAME), "").expect("write");
        let (path, _) = locate(None, &no_env, &deep).expect("locates");
        assert_eq!(path, Some(PathBuf::from("guacsync.toml")));
        // A worktree's `.git` is a file.
        std::fs::remove_dir(repo.join(".git")).expect("rm");
        std::fs::write(repo.join(".git"), "gitdir: /elsewhere\n").expect("write");
        std::fs::remove_file(deep.join(FILE_NAME)).expect("rm");
        let (path, _) = locate(None, &no_env, &repo.join("a")).expect("locates");
        assert_eq!(path, Some(PathBuf::from("../guacsync.toml")));
    }

    #[test]
    fn locate_outside_a_repository_reads_only_the_current_directory() {
        let t = tempfile::tempdir().expect("dir");
        let sub = t.path().join("sub");
        std::fs::create_dir(&sub).expect("mkdir");
        std::fs::write(t.path().join(FILE_NAME), "").expect("write");
        let (path, origin) = locate(None, &no_env, &sub).expect("locates");
        assert_eq!(path, None);
        assert!(matches!(origin, ConfigOrigin::NotFound { root: None, .. }));
        assert!(origin.describe(None).contains("in no git repository"));
        let (path, _) = locate(None, &no_env, t.path()).expect("locates");
        assert_eq!(path, Some(PathBuf::from("guacsync.toml")));
    }

    #[test]
    fn named_files_must_exist_and_the_flag_wins() {
        let t = tempfile::tempdir().expect("dir");
        let file = t.path().join("x.toml");
        std::fs::write(&file, "").expect("write");
        let file_text = file.display().to_string();
        let env = |k: &str| (k == "GUACSYNC_CONFIG").then(|| file_text.clone());
        let (path, origin) = locate(None, &env, t.path()).expect("locates");
        assert_eq!(
            (path.as_deref(), origin),
            (Some(file.as_path()), ConfigOrigin::Env)
        );
        let other = t.path().join("missing.toml");
        let e = locate(Some(&other), &env, t.path()).expect_err("missing");
        assert_eq!(
            e.to_string(),
            format!(
                "the configuration file {} named by --config does not exist",
                other.display()
            )
        );
        let missing_env = |k: &str| (k == "GUACSYNC_CONFIG").then(|| "nope.toml".to_owned());
        let e = locate(None, &missing_env, t.path()).expect_err("missing");
        assert!(
            e.to_string().contains("nope.toml named by GUACSYNC_CONFIG"),
            "{e}"
        );
        let (path, origin) = locate(Some(&file), &missing_env, t.path()).expect("flag wins");
        assert_eq!(
            (path.as_deref(), origin),
            (Some(file.as_path()), ConfigOrigin::Flag)
        );
    }
}

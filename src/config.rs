//! Configuration: `guacsync.toml` (DESIGN.md §3), the environment and command-line
//! flags, resolved into one [`Settings`] value that the rest of the program uses.
//! Flags win over the environment, which wins over the file. Credentials come only
//! from the environment or files, never from the configuration file.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::diff::{Moved, Options, PermissionMode};
use crate::model::GroupPath;

/// Guacamole's default `api-max-request-size`.
pub const DEFAULT_MAX_REQUEST_BYTES: usize = 2 * 1024 * 1024;

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
}

/// One `[[moved]]` entry: a move or rename that keeps the object.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MovedSection {
    from: toml::Spanned<String>,
    to: String,
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
}

/// What the command line says (filled from clap by the CLI).
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub config: Option<PathBuf>,
    pub url: Option<String>,
    pub data_source: Option<String>,
    pub concurrency: Option<usize>,
    pub insecure: bool,
    pub timeout_secs: Option<u64>,
    pub prune: Option<bool>,
    pub allow_deletions: Option<usize>,
    pub terminate_sessions: bool,
}

/// Everything resolved.
#[derive(Debug, Clone)]
pub struct Settings {
    pub url: Option<String>,
    pub data_source: Option<String>,
    /// Resolved relative to the configuration file.
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

/// Reads the configuration: `--config FILE`, else `./guacsync.toml` when present.
pub fn load(
    overrides: &Overrides,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Settings, ConfigError> {
    let path = match &overrides.config {
        Some(p) => Some(p.clone()),
        None => Some(PathBuf::from("guacsync.toml")).filter(|p| p.exists()),
    };
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
    settings.options.moved = moved;
    Ok(settings)
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
    let ca_cert = file.server.ca_cert.map(|c| base.join(c));
    let concurrency = overrides
        .concurrency
        .or(file.server.concurrency)
        .unwrap_or(8);
    if concurrency == 0 {
        return Err(ConfigError::Value(
            "concurrency must be at least 1".to_owned(),
        ));
    }
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
    if prune && scope.is_empty() {
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
        moved: Vec::new(),
    };
    Ok(Settings {
        url,
        data_source,
        ca_cert,
        insecure: overrides.insecure,
        concurrency,
        timeout,
        options,
        delegated_account: file.server.delegated_account.unwrap_or(false),
        config_path: path,
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
        assert_eq!(s.concurrency, 8);
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
}

//! Configuration: `guacsync.toml` (DESIGN.md §3), the environment and command-line
//! flags, resolved into one [`Settings`] value that the rest of the program uses.
//! Flags win over the environment, which wins over the file. Credentials come only
//! from the environment or files, never from the configuration file.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::diff::{Options, PermissionMode};
use crate::model::GroupPath;

/// Guacamole's default `api-max-request-size`.
pub const DEFAULT_MAX_REQUEST_BYTES: usize = 2 * 1024 * 1024;

/// Requests in flight at once, unless configured.
pub const DEFAULT_CONCURRENCY: usize = 8;

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
    /// Absent: the defaults of DESIGN.md §2 (any variable but guacsync's own, files
    /// inside the manifests' repository), with a warning in every plan.
    secrets: Option<SecretsSection>,
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
    /// The configuration file read, if any.
    pub config_path: Option<PathBuf>,
    /// `[secrets]`, when the file has the section.
    pub secrets: Option<SecretsConfig>,
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

/// Reads the configuration: `--config FILE`, else `./guacsync.toml` when present.
pub fn load(
    overrides: &Overrides,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Settings, ConfigError> {
    let path = match &overrides.config {
        Some(p) => Some(p.clone()),
        None => Some(PathBuf::from("guacsync.toml")).filter(|p| p.exists()),
    };
    let file = match &path {
        Some(p) => {
            let text = std::fs::read_to_string(p).map_err(|source| ConfigError::Read {
                path: p.clone(),
                source,
            })?;
            parse_file(p, &text)?
        }
        None => FileConfig::default(),
    };
    resolve(file, path, overrides, env)
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
    let ca_cert = file.server.ca_cert.map(|c| base.join(c));
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
    let secrets = match file.secrets {
        None => None,
        Some(section) => Some(secrets_config(section, &base, path.as_deref())?),
    };
    let options = Options {
        scope,
        prune: overrides.prune.or(file.sync.prune).unwrap_or(false),
        max_deletions: file.sync.max_deletions.unwrap_or(10),
        allow_deletions: overrides.allow_deletions,
        permissions: file.sync.permissions.unwrap_or_default(),
        parent_group_read: file.sync.parent_group_read.unwrap_or(true),
        create_groups: file.sync.create_groups.unwrap_or(true),
        create_principals: file.sync.create_principals.unwrap_or(false),
        max_request_bytes,
        terminate_sessions: overrides.terminate_sessions,
        confirmed_removals: None,
    };
    Ok(Settings {
        url,
        data_source,
        ca_cert,
        insecure: overrides.insecure,
        concurrency,
        timeout,
        options,
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
        let file = parse("[sync]\nprune = true\n").expect("parses");
        let s = resolve(file, None, &Overrides::default(), &no_env).expect("resolves");
        assert!(s.options.prune);
        assert_eq!(s.options.max_request_bytes, DEFAULT_MAX_REQUEST_BYTES);
    }
}

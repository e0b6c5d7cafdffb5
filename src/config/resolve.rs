//! Resolution: the file's sections, the environment and the flags become one
//! [`Settings`] value, with every value checked (ranges, scope rules, secrets).

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{
    ConfigError, ConfigOrigin, DEFAULT_CONCURRENCY, DEFAULT_MAX_REQUEST_BYTES, FileConfig,
    MAX_CONCURRENCY, Overrides, SecretsConfig, SecretsSection, Settings, SyncSection,
};
use crate::diff::{Options, Ownership};
use crate::model::GroupPath;

/// `n` when it is in `1..=MAX_CONCURRENCY`; `what` names where it came from.
pub(super) fn check_concurrency(n: usize, what: &str) -> Result<usize, ConfigError> {
    if (1..=MAX_CONCURRENCY).contains(&n) {
        Ok(n)
    } else {
        Err(ConfigError::Value(format!(
            "{what} {n} is out of range: it must be between 1 and {MAX_CONCURRENCY} (requests in flight at once; the default is {DEFAULT_CONCURRENCY})"
        )))
    }
}

pub(super) fn resolve(
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
    let concurrency = concurrency(
        overrides.concurrency,
        file.server.concurrency,
        path.as_deref(),
    )?;
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
    check_ownership(
        prune,
        &scope,
        principals,
        sharing_profiles,
        overrides,
        path.as_deref(),
    )?;
    let secrets = match file.secrets {
        None => None,
        Some(section) => Some(secrets_config(section, &base, path.as_deref())?),
    };
    let mut options = sync_options(file.sync, overrides);
    options.scope = scope;
    options.prune = prune;
    options.max_request_bytes = max_request_bytes;
    options.principals = principals;
    options.sharing_profiles = sharing_profiles;
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

/// `--concurrency` wins over `[server] concurrency`; both are range-checked.
fn concurrency(
    flag: Option<usize>,
    file: Option<usize>,
    path: Option<&Path>,
) -> Result<usize, ConfigError> {
    match (flag, file) {
        (Some(n), _) => check_concurrency(n, "--concurrency"),
        (None, Some(n)) => check_concurrency(n, "[server] concurrency").map_err(|e| match path {
            Some(p) => ConfigError::Invalid {
                path: p.to_owned(),
                message: e.to_string(),
            },
            None => e,
        }),
        (None, None) => Ok(DEFAULT_CONCURRENCY),
    }
}

/// What prune may remove needs something to own: scope groups, or
/// `[scope] principals = "all"`; sharing profiles only on the scope's connections.
fn check_ownership(
    prune: bool,
    scope: &[GroupPath],
    principals: Ownership,
    sharing_profiles: Ownership,
    overrides: &Overrides,
    path: Option<&Path>,
) -> Result<(), ConfigError> {
    if sharing_profiles == Ownership::All && scope.is_empty() {
        return Err(ConfigError::Value(
            "[scope] sharing_profiles = \"all\" needs [scope] groups: sharing profiles are removed only on the connections of the scope groups".to_owned(),
        ));
    }
    // `[scope] principals = "all"` is a scope of its own: prune may then remove
    // users and user groups even where no connection group is owned.
    if prune && scope.is_empty() && principals != Ownership::All {
        let said = if overrides.prune == Some(true) {
            "--prune".to_owned()
        } else {
            format!(
                "`prune = true` in {}",
                path.map_or_else(
                    || "the configuration".to_owned(),
                    |p| p.display().to_string()
                )
            )
        };
        return Err(ConfigError::Value(format!(
            "{said} needs a scope: without [scope] groups guacsync never removes anything, so pruning would do nothing; set [scope] groups = [\"ROOT/...\"] to the subtrees guacsync owns"
        )));
    }
    Ok(())
}

/// The `[sync]` switches and the flags that override them, with their defaults;
/// the scope-dependent fields are set by the caller.
fn sync_options(sync: SyncSection, overrides: &Overrides) -> Options {
    Options {
        max_deletions: sync.max_deletions.unwrap_or(10),
        allow_deletions: overrides.allow_deletions,
        permissions: sync.permissions.unwrap_or_default(),
        parent_group_read: sync.parent_group_read.unwrap_or(true),
        create_groups: sync.create_groups.unwrap_or(true),
        create_principals: sync.create_principals.unwrap_or(false),
        terminate_sessions: overrides.terminate_sessions,
        prune_groups: sync.prune_groups.unwrap_or(false),
        unmanaged_parameters: sync
            .unmanaged_parameters
            .unwrap_or_default()
            .into_iter()
            .collect(),
        allow_unknown_parameters: sync.allow_unknown_parameters.unwrap_or(false),
        allow_non_atomic: overrides.allow_non_atomic || sync.allow_non_atomic.unwrap_or(false),
        moved: Vec::new(),
        confirmed_removals: None,
        reset_passwords: crate::diff::PasswordResets::None,
        ..Options::default()
    }
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

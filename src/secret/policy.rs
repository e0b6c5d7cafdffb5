//! What a secret reference may name (DESIGN.md §2 "Secret references").
//!
//! Manifests arrive through pull requests, so `${env:}` and `${file:}` must not
//! be a way to copy the CI job's other secrets, or guacsync's own credentials,
//! into a connection whose hostname the author chose. The `[secrets]` section of
//! `guacsync.toml` lists what may be named; without it any variable but
//! guacsync's own may be (with a warning in every plan) and files only inside the
//! repository that holds the manifests. A file must also be a regular file of at
//! most 64 KiB: it is checked by its metadata before it is opened and read through
//! a limit, so a FIFO, `/dev/zero` or `/proc/self/environ` is refused without
//! blocking or being read whole.

use std::io::Read as _;
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};

use super::{Lookup, ResolveError};
use crate::config::SecretsConfig;

/// The largest secret file (a private key is a few KiB).
pub const MAX_SECRET_FILE_BYTES: u64 = 64 * 1024;

/// guacsync's own variables: never readable through a reference.
const OWN_PREFIXES: &[&str] = &["GUACAMOLE_", "GUACSYNC_"];

/// Credential variables whose `_FILE` form names a file guacsync reads its own
/// credentials from.
const CREDENTIAL_VARS: &[&str] = &[
    "GUACAMOLE_USERNAME",
    "GUACAMOLE_PASSWORD",
    "GUACAMOLE_TOKEN",
    "GUACAMOLE_TOTP_SECRET",
];

/// Directories whose entries are not files but kernel views (a process's
/// environment, devices): never secret files.
const PSEUDO_ROOTS: &[&str] = &["/proc", "/sys", "/dev"];

/// Whether `name` is one of guacsync's own variables (any case).
#[must_use]
pub fn is_own_variable(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    OWN_PREFIXES.iter().any(|p| upper.starts_with(p))
}

/// Checks a `[secrets] env` entry: a variable name, or a glob of one (`*` any
/// run of characters, `?` one), that cannot name guacsync's own variables.
///
/// # Errors
/// Why the pattern is refused.
pub fn check_env_pattern(pattern: &str) -> Result<(), String> {
    if pattern.is_empty() {
        return Err("an empty pattern".to_owned());
    }
    if let Some(c) = pattern
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '*' | '?')))
    {
        return Err(format!(
            "{c:?} cannot be in a variable name; use letters, digits, `_` and the globs `*` and `?`"
        ));
    }
    // Matching never reaches guacsync's own variables; a pattern that names them
    // outright is a mistake worth saying so at once.
    let literal: String = pattern
        .chars()
        .take_while(|c| !matches!(c, '*' | '?'))
        .collect();
    if is_own_variable(&literal) {
        return Err(
            "it names guacsync's own variables (GUACAMOLE_*, GUACSYNC_*), which are never readable from a manifest"
                .to_owned(),
        );
    }
    Ok(())
}

/// `*` and `?` glob match of an ASCII name (iterative, no backtracking blow-up).
fn glob_match(pattern: &str, name: &str) -> bool {
    let (p, n) = (pattern.as_bytes(), name.as_bytes());
    let (mut pi, mut ni) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        if pi < p.len() && (p[pi] == b'?' || p[pi] == n[ni]) {
            pi += 1;
            ni += 1;
        } else if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, ni));
            pi += 1;
        } else if let Some((sp, sn)) = star {
            pi = sp + 1;
            ni = sn + 1;
            star = Some((sp, sn + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

/// Which files may be read.
#[derive(Clone, Debug)]
enum FileRoots {
    /// The repository (nearest ancestor holding `.git`) of each manifest; outside
    /// a repository, this directory (the configuration's, else the current one).
    Repository { outside: PathBuf },
    /// `[secrets] files`.
    Listed(Vec<PathBuf>),
}

/// The rules a reference is checked against, with what they need from the
/// system gathered once.
#[derive(Clone, Debug)]
pub struct Policy {
    /// `None`: any variable but guacsync's own (no `[secrets]` section).
    env: Option<Vec<String>>,
    files: FileRoots,
    /// Identity (device, inode) of each credential file, with its variable.
    credential_files: Vec<(u64, u64, String)>,
    /// guacsync's own secrets (password, token, TOTP secret): no reference may
    /// resolve to one of them, whatever it names.
    credential_values: Vec<String>,
    /// Where file paths are shown relative to (the configuration's directory,
    /// else the current one).
    base: PathBuf,
}

impl Policy {
    /// The policy of a configuration. `config_dir` is the directory of the
    /// configuration file (`None` without one); `env` reads the environment (for
    /// the credential variables and their files).
    #[must_use]
    pub fn new(
        secrets: Option<&SecretsConfig>,
        config_dir: Option<&Path>,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Self {
        let cwd = std::env::current_dir().unwrap_or_default();
        let base = absolute(config_dir.unwrap_or(Path::new(".")), &cwd);
        let (env_rule, files) = match secrets {
            None => (
                None,
                FileRoots::Repository {
                    outside: base.clone(),
                },
            ),
            Some(s) => (
                Some(s.env.clone()),
                FileRoots::Listed(s.files.iter().map(|d| absolute(d, &cwd)).collect()),
            ),
        };
        let mut credential_files = Vec::new();
        let mut credential_values = Vec::new();
        for var in CREDENTIAL_VARS {
            if *var != "GUACAMOLE_USERNAME"
                && let Some(v) = env(var).filter(|v| !v.is_empty())
            {
                credential_values.push(v);
            }
            let Some(path) = env(&format!("{var}_FILE")).filter(|v| !v.is_empty()) else {
                continue;
            };
            if let Ok(meta) = std::fs::metadata(&path) {
                credential_files.push((meta.dev(), meta.ino(), format!("{var}_FILE")));
                if *var != "GUACAMOLE_USERNAME"
                    && let Ok(text) = read_bounded(Path::new(&path), &meta)
                {
                    credential_values.push(without_trailing_newline(text));
                }
            }
        }
        credential_values.retain(|v| !v.is_empty());
        Self {
            env: env_rule,
            files,
            credential_files,
            credential_values,
            base,
        }
    }

    /// True without a `[secrets]` section: every plan warns that any variable of
    /// the job could be referenced.
    #[must_use]
    pub fn env_unrestricted(&self) -> bool {
        self.env.is_none()
    }

    /// Whether `${env:name}` may be resolved.
    ///
    /// # Errors
    /// The reason, for the diagnostic.
    pub fn check_env(&self, name: &str) -> Result<(), String> {
        if is_own_variable(name) {
            return Err(format!(
                "{name} is one of guacsync's own variables (GUACAMOLE_*, GUACSYNC_*), never readable from a manifest"
            ));
        }
        match &self.env {
            None => Ok(()),
            Some(patterns) if patterns.iter().any(|p| glob_match(p, name)) => Ok(()),
            Some(patterns) if patterns.is_empty() => Err(format!(
                "{name} is not allowed: [secrets] env in guacsync.toml allows no variable"
            )),
            Some(patterns) => Err(format!(
                "{name} is not allowed by [secrets] env in guacsync.toml ({})",
                patterns.join(", ")
            )),
        }
    }

    /// A resolved value must not be one of guacsync's own credentials, whichever
    /// variable or file it came from.
    ///
    /// # Errors
    /// The reason, naming the reference.
    pub fn check_value(&self, reference: &str, value: &str) -> Result<(), String> {
        if self.credential_values.iter().any(|c| c == value) {
            return Err(format!(
                "{reference} holds the same value as guacsync's own credentials (GUACAMOLE_PASSWORD, GUACAMOLE_TOKEN or GUACAMOLE_TOTP_SECRET), which are never written into a connection"
            ));
        }
        Ok(())
    }

    /// The directories files may be read from for a manifest in `manifest_dir`
    /// (absolute, symlinks resolved where they exist).
    fn roots(&self, manifest_dir: &Path) -> Vec<PathBuf> {
        match &self.files {
            FileRoots::Listed(dirs) => dirs
                .iter()
                .map(|d| std::fs::canonicalize(d).unwrap_or_else(|_| d.clone()))
                .collect(),
            FileRoots::Repository { outside } => {
                let dir = std::fs::canonicalize(manifest_dir)
                    .unwrap_or_else(|_| absolute(manifest_dir, &self.base));
                let repo = dir.ancestors().find(|a| a.join(".git").exists());
                vec![match repo {
                    Some(r) => r.to_path_buf(),
                    None => std::fs::canonicalize(outside).unwrap_or_else(|_| outside.clone()),
                }]
            }
        }
    }

    /// `path` as a plan shows it: relative to the configuration's directory (or
    /// the current one) when inside it, else absolute.
    #[must_use]
    pub fn shown(&self, path: &Path) -> String {
        let base = std::fs::canonicalize(&self.base).unwrap_or_else(|_| self.base.clone());
        path.strip_prefix(&base)
            .map_or_else(|_| path.display().to_string(), |p| p.display().to_string())
    }

    /// Reads the secret file `full` (the reference's path joined to the
    /// manifest's directory) under every rule, returning its text and its
    /// resolved path.
    ///
    /// # Errors
    /// [`ResolveError::File`] when it cannot be read, [`ResolveError::FileRefused`]
    /// when a rule refuses it.
    pub fn read_file(
        &self,
        full: &Path,
        manifest_dir: &Path,
    ) -> Result<(String, PathBuf), ResolveError> {
        let shown = full.to_path_buf();
        let refused = |reason: String| ResolveError::FileRefused {
            path: shown.clone(),
            reason,
        };
        let unreadable = |reason: String| ResolveError::File {
            path: shown.clone(),
            reason,
        };
        // Symlinks followed: the rules apply to where the path leads.
        let real = std::fs::canonicalize(full).map_err(|e| unreadable(e.to_string()))?;
        if PSEUDO_ROOTS.iter().any(|r| real.starts_with(r)) {
            return Err(refused(format!(
                "it resolves to {}, a kernel or device file, not a secret file",
                real.display()
            )));
        }
        let meta = std::fs::metadata(&real).map_err(|e| unreadable(e.to_string()))?;
        if let Some((_, _, var)) = self
            .credential_files
            .iter()
            .find(|(dev, ino, _)| *dev == meta.dev() && *ino == meta.ino())
        {
            return Err(refused(format!(
                "it is guacsync's own credential file ({var}), which is never written into a connection"
            )));
        }
        let roots = self.roots(manifest_dir);
        if !roots.iter().any(|r| real.starts_with(r)) {
            let listed: Vec<String> = roots.iter().map(|r| r.display().to_string()).collect();
            let rule = match self.files {
                FileRoots::Listed(_) if listed.is_empty() => {
                    "[secrets] files in guacsync.toml allows no directory".to_owned()
                }
                FileRoots::Listed(_) => format!(
                    "[secrets] files in guacsync.toml allows only {}",
                    listed.join(", ")
                ),
                FileRoots::Repository { .. } => format!(
                    "without a [secrets] section only files inside {} may be named",
                    listed.join(", ")
                ),
            };
            return Err(refused(format!(
                "it resolves to {} (symlinks followed); {rule}",
                real.display()
            )));
        }
        let text = read_bounded(&real, &meta).map_err(refused)?;
        Ok((text, real))
    }
}

impl Default for Policy {
    /// No `[secrets]` section, nothing known about credentials: for tools and
    /// tests that read manifests without a configuration.
    fn default() -> Self {
        Self::new(None, None, &|_| None)
    }
}

/// Reads a regular file of at most `MAX_SECRET_FILE_BYTES`, checking the
/// metadata before opening it and the opened file again (it could have been
/// swapped), and never reading more than the limit plus one byte.
fn read_bounded(path: &Path, meta: &std::fs::Metadata) -> Result<String, String> {
    if !meta.is_file() {
        return Err("it is not a regular file (a FIFO, socket, device or directory)".to_owned());
    }
    if meta.len() > MAX_SECRET_FILE_BYTES {
        return Err(format!(
            "it is {} bytes; a secret file may hold at most {MAX_SECRET_FILE_BYTES} (64 KiB)",
            meta.len()
        ));
    }
    let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let opened = file.metadata().map_err(|e| e.to_string())?;
    if !opened.is_file() || opened.dev() != meta.dev() || opened.ino() != meta.ino() {
        return Err("it changed while it was being opened".to_owned());
    }
    let mut bytes = Vec::new();
    file.take(MAX_SECRET_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| e.to_string())?;
    if bytes.len() as u64 > MAX_SECRET_FILE_BYTES {
        return Err(format!(
            "it holds more than {MAX_SECRET_FILE_BYTES} bytes (64 KiB), the most a secret file may"
        ));
    }
    String::from_utf8(bytes).map_err(|_| "it is not UTF-8 text".to_owned())
}

fn without_trailing_newline(mut text: String) -> String {
    if text.ends_with('\n') {
        text.pop();
        if text.ends_with('\r') {
            text.pop();
        }
    }
    text
}

fn absolute(path: &Path, cwd: &Path) -> PathBuf {
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        cwd.join(path)
    }
}

/// The process environment and the file system, under a [`Policy`].
pub struct SystemLookup {
    policy: Policy,
}

impl SystemLookup {
    #[must_use]
    pub fn new(policy: Policy) -> Self {
        Self { policy }
    }
}

impl Lookup for SystemLookup {
    fn env(&self, name: &str) -> Result<String, ResolveError> {
        self.policy
            .check_env(name)
            .map_err(|reason| ResolveError::EnvRefused {
                name: name.to_owned(),
                reason,
            })?;
        let value = std::env::var(name).map_err(|_| ResolveError::EnvUnset(name.to_owned()))?;
        self.policy
            .check_value(&format!("${{env:{name}}}"), &value)
            .map_err(|reason| ResolveError::EnvRefused {
                name: name.to_owned(),
                reason,
            })?;
        Ok(value)
    }

    fn read_file(
        &self,
        full: &Path,
        manifest_dir: &Path,
    ) -> Result<(String, String), ResolveError> {
        let (text, real) = self.policy.read_file(full, manifest_dir)?;
        let text = without_trailing_newline(text);
        self.policy
            .check_value(&format!("{}", full.display()), &text)
            .map_err(|reason| ResolveError::FileRefused {
                path: full.to_path_buf(),
                reason,
            })?;
        Ok((text, self.policy.shown(&real)))
    }

    fn env_unrestricted(&self) -> bool {
        self.policy.env_unrestricted()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        for (p, n, m) in [
            ("DB_*", "DB_PW", true),
            ("DB_*", "DB_", true),
            ("DB_*", "XDB_PW", false),
            ("*_KEY", "WEB_DEPLOY_KEY", true),
            ("WEB_DEPLOY_KEY", "WEB_DEPLOY_KEY", true),
            ("WEB_DEPLOY_KEY", "WEB_DEPLOY_KEYS", false),
            ("A?C", "ABC", true),
            ("A?C", "AC", false),
            ("*", "ANYTHING", true),
            ("*A*B*", "xxAyyBzz", true),
            ("*A*B*", "xxByyAzz", false),
        ] {
            assert_eq!(glob_match(p, n), m, "{p} {n}");
        }
    }

    #[test]
    fn env_patterns_and_rules() {
        for ok in ["DB_*", "WEB_DEPLOY_KEY", "*", "GUAC_*", "X?"] {
            assert_eq!(check_env_pattern(ok), Ok(()), "{ok}");
        }
        for bad in [
            "",
            "DB-PW",
            "GUACAMOLE_PASSWORD",
            "guacsync_*",
            "GUACAMOLE_*",
            "A B",
        ] {
            assert!(check_env_pattern(bad).is_err(), "{bad}");
        }
        let open = Policy::default();
        assert!(open.env_unrestricted());
        assert!(open.check_env("ANY_VAR").is_ok());
        assert!(open.check_env("GUACSYNC_CONFIG").is_err());
        assert!(open.check_env("guacamole_password").is_err());
        let listed = Policy::new(
            Some(&SecretsConfig {
                env: vec!["DB_*".into(), "*".into()],
                files: vec![],
            }),
            None,
            &|_| None,
        );
        // `*` still never reaches guacsync's own variables.
        assert!(listed.check_env("OTHER").is_ok());
        assert!(listed.check_env("GUACSYNC_LOG").is_err());
        let none = Policy::new(
            Some(&SecretsConfig {
                env: vec![],
                files: vec![],
            }),
            None,
            &|_| None,
        );
        assert!(none.check_env("DB_PW").is_err());
        assert!(!none.env_unrestricted());
    }

    #[test]
    fn credential_values_are_refused_from_any_reference() {
        let p = Policy::new(None, None, &|k| {
            (k == "GUACAMOLE_PASSWORD").then(|| "admin-pw".to_owned())
        });
        assert!(p.check_value("${env:COPY}", "admin-pw").is_err());
        assert!(p.check_value("${env:COPY}", "other").is_ok());
    }
}

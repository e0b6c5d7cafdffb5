//! Picking up an edit of `guacsync.toml` while watch runs. The scope, prune and
//! permission settings live there, and a long-running watcher that kept the
//! settings it started with would apply a merged change under the old rules. An
//! edit that does not load (a syntax error, prune without a scope, a file gone)
//! is reported once and the last good settings are kept: a broken edit must never
//! turn into "no scope" or the defaults.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::config::{self, Overrides, Settings};

/// The file the settings came from (as it was found) and a digest of its bytes.
type Fingerprint = (PathBuf, [u8; 32]);

/// What a look at the configuration found.
#[derive(Debug, PartialEq, Eq)]
pub enum Reload {
    Unchanged,
    /// The edited file loaded; `reconnect` when the way to the server changed.
    Reloaded {
        path: String,
        reconnect: bool,
    },
    /// The edit does not load; `error` says why, `new` the first time it is seen.
    Kept {
        error: String,
        new: bool,
    },
}

pub struct ConfigWatch {
    overrides: Overrides,
    settings: Settings,
    loaded: Option<Fingerprint>,
    /// The last error reported, so a broken file is reported once.
    reported: Option<String>,
}

fn fingerprint(path: &Path) -> std::io::Result<Fingerprint> {
    let bytes = std::fs::read(path)?;
    Ok((path.to_path_buf(), Sha256::digest(&bytes).into()))
}

/// Whether the settings that make the client differ (the session is then made
/// again with the new ones).
fn server_changed(a: &Settings, b: &Settings) -> bool {
    (
        &a.url,
        &a.data_source,
        &a.ca_cert,
        a.insecure,
        a.timeout,
        a.concurrency,
    ) != (
        &b.url,
        &b.data_source,
        &b.ca_cert,
        b.insecure,
        b.timeout,
        b.concurrency,
    )
}

impl ConfigWatch {
    /// `settings` were loaded at start with `overrides`.
    pub fn new(overrides: Overrides, settings: Settings) -> Self {
        let loaded = settings
            .config_path
            .as_deref()
            .and_then(|p| fingerprint(p).ok());
        Self {
            overrides,
            settings,
            loaded,
            reported: None,
        }
    }

    /// The settings in force: the last that loaded.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The configuration file in force, to watch and to wait for (as input to
    /// settle, like the manifests).
    pub fn files(&self) -> Vec<PathBuf> {
        self.settings.config_path.iter().cloned().collect()
    }

    /// Loads the configuration again if its file changed (or another is found).
    pub fn refresh(&mut self) -> Reload {
        let env = |k: &str| std::env::var(k).ok();
        let cwd = match std::env::current_dir() {
            Ok(cwd) => cwd,
            Err(e) => return self.kept(format!("cannot read the current directory: {e}")),
        };
        let path = match config::locate(self.overrides.config.as_deref(), &env, &cwd) {
            Ok((Some(path), _)) => path,
            Ok((None, _)) => {
                return match &self.loaded {
                    None => Reload::Unchanged,
                    Some((path, _)) => {
                        self.kept(format!("the configuration file {} is gone", path.display()))
                    }
                };
            }
            Err(e) => return self.kept(e.to_string()),
        };
        let seen = match fingerprint(&path) {
            Ok(seen) => seen,
            Err(e) => return self.kept(format!("cannot read {}: {e}", path.display())),
        };
        if self.loaded.as_ref() == Some(&seen) {
            self.reported = None;
            return Reload::Unchanged;
        }
        match config::load(&self.overrides, &env) {
            Ok(settings) => {
                let reconnect = server_changed(&self.settings, &settings);
                self.settings = settings;
                self.loaded = Some(seen);
                self.reported = None;
                Reload::Reloaded {
                    path: path.display().to_string(),
                    reconnect,
                }
            }
            Err(e) => {
                let text = e.to_string();
                let shown = path.display().to_string();
                if text.starts_with(&shown) {
                    self.kept(text)
                } else {
                    self.kept(format!("{shown}: {text}"))
                }
            }
        }
    }

    fn kept(&mut self, error: String) -> Reload {
        let new = self.reported.as_ref() != Some(&error);
        self.reported = Some(error.clone());
        Reload::Kept { error, new }
    }
}

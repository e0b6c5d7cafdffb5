//! The server a command talks to: logging in (or the `--state` file standing in
//! for a server), and the state file written back atomically.

use super::*;

/// Where plans are made against: a server, or a state file served in-process.
pub struct Target {
    pub client: Client,
    /// The in-process server holding a `--state` file.
    pub state_server: Option<guacamole_testserver::RunningServer>,
    pub state_path: Option<PathBuf>,
    /// The session's registration for release at any exit (`interrupt`).
    pub session: Option<u64>,
}

impl Target {
    /// Releases the token (a server's own login) and stops an in-process server.
    pub async fn close(self) {
        self.client.logout().await;
        if let Some(id) = self.session {
            crate::cli::interrupt::unregister(id);
        }
        if let Some(server) = self.state_server {
            server.shutdown().await;
        }
    }

    /// Writes the in-process server's state back to the state file (temp file +
    /// rename, so a crash never leaves half a file).
    pub fn save_state(&self) -> anyhow::Result<()> {
        let (Some(server), Some(path)) = (&self.state_server, &self.state_path) else {
            return Ok(());
        };
        write_atomically(path, server.state().to_json_pretty().as_bytes())
    }
}

/// Writes a file through a temporary file in the same directory and a rename.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write as _;
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or_else(|| Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("cannot write in {}", dir.display()))?;
    tmp.write_all(bytes)
        .with_context(|| format!("cannot write {}", path.display()))?;
    tmp.as_file().sync_all().ok();
    tmp.persist(path)
        .map_err(|e| anyhow!("cannot replace {}: {}", path.display(), e.error))?;
    Ok(())
}

/// Connects to the server the settings name, or serves `--state FILE` in-process.
pub async fn connect(global: &GlobalArgs, settings: &Settings) -> anyhow::Result<Target> {
    let client_config = |url: String| ClientConfig {
        base_url: url,
        data_source: settings.data_source.clone(),
        ca_cert: settings.ca_cert.clone(),
        insecure: settings.insecure,
        timeout: settings.timeout,
        concurrency: settings.concurrency,
    };
    if let Some(path) = &global.state {
        let state = guacamole_testserver::State::load(path)?;
        let username = std::env::var("GUACAMOLE_USERNAME")
            .ok()
            .filter(|u| !u.is_empty())
            .or_else(|| {
                state
                    .users
                    .iter()
                    .find(|u| {
                        u.permissions
                            .system_permissions
                            .contains(&guacamole_testserver::state::SystemPermission::Administer)
                    })
                    .map(|u| u.username.clone())
            });
        let Some(username) = username else {
            bail!(
                "{}: no user with ADMINISTER to act as; set GUACAMOLE_USERNAME",
                path.display()
            );
        };
        if !state.users.iter().any(|u| u.username == username) {
            bail!("{}: there is no user {username:?}", path.display());
        }
        let server = guacamole_testserver::start(guacamole_testserver::Config {
            state,
            log_requests: false,
            // No web container stands in front of a state file: every name can be
            // addressed.
            path_rules: guacamole_testserver::answers::PathRules {
                allow_encoded_slash: true,
                allow_encoded_backslash: true,
            },
            ..guacamole_testserver::Config::default()
        })
        .await?;
        let token = server.issue_token(&username);
        let mut config = client_config(server.base_url().to_owned());
        config.data_source = Some("postgresql".to_owned());
        let client = Client::with_token(&config, &token, &username)?;
        return Ok(Target {
            client,
            state_server: Some(server),
            state_path: Some(path.clone()),
            session: None,
        });
    }
    let Some(url) = settings.url.clone() else {
        bail!(
            "no server: set GUACAMOLE_URL, pass --url, set [server] url in guacsync.toml, or use --state FILE"
        );
    };
    let credentials = Credentials::from_system()?;
    // A signal during the login waits for its answer: the token must be known to
    // be released.
    let login = crate::cli::interrupt::critical();
    let client = Client::connect(&client_config(url), credentials).await?;
    let session = Some(crate::cli::interrupt::register(&client));
    drop(login);
    crate::cli::interrupt::checkpoint().await;
    Ok(Target {
        client,
        state_server: None,
        state_path: None,
        session,
    })
}

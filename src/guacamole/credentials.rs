//! Credentials, read only from the environment or files (DESIGN.md §3):
//! `GUACAMOLE_USERNAME` + `GUACAMOLE_PASSWORD` (+ `GUACAMOLE_TOTP_SECRET`), or a
//! pre-issued `GUACAMOLE_TOKEN`; each also as `NAME_FILE`.

use std::fmt;

/// A secret string whose Debug and Display never show it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    #[must_use]
    pub fn new(s: impl Into<String>) -> Self {
        let s = s.into();
        crate::secret::remember(&s);
        Self(s)
    }

    /// The value, for sending. Never print it.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("(sensitive)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("(sensitive)")
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Credentials {
    Password {
        username: String,
        password: Secret,
        /// Base32 TOTP secret: the current code is sent as `guac-totp`.
        totp_secret: Option<Secret>,
    },
    /// A token issued elsewhere: used as it is, never renewed nor released.
    Token(Secret),
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CredentialError {
    #[error("both {0} and {0}_FILE are set; set one")]
    Both(String),
    #[error("cannot read {var}_FILE ({path}): {reason}")]
    File {
        var: String,
        path: String,
        reason: String,
    },
    #[error(
        "no credentials: set GUACAMOLE_USERNAME and GUACAMOLE_PASSWORD (or GUACAMOLE_TOKEN), each also as NAME_FILE"
    )]
    Missing,
    #[error("GUACAMOLE_USERNAME is set but GUACAMOLE_PASSWORD is not")]
    NoPassword,
}

/// `VAR`, or the content of the file `VAR_FILE` names (one trailing newline
/// dropped).
fn read(
    var: &str,
    env: &dyn Fn(&str) -> Option<String>,
    read_file: &dyn Fn(&str) -> Result<String, String>,
) -> Result<Option<String>, CredentialError> {
    let direct = env(var).filter(|v| !v.is_empty());
    let file_var = format!("{var}_FILE");
    let file = env(&file_var).filter(|v| !v.is_empty());
    match (direct, file) {
        (Some(_), Some(_)) => Err(CredentialError::Both(var.to_owned())),
        (Some(v), None) => Ok(Some(v)),
        (None, Some(path)) => {
            let mut text = read_file(&path).map_err(|reason| CredentialError::File {
                var: var.to_owned(),
                path: path.clone(),
                reason,
            })?;
            if text.ends_with('\n') {
                text.pop();
                if text.ends_with('\r') {
                    text.pop();
                }
            }
            Ok(Some(text))
        }
        (None, None) => Ok(None),
    }
}

impl Credentials {
    /// Reads credentials; a token wins over a username and password.
    pub fn from_env(
        env: &dyn Fn(&str) -> Option<String>,
        read_file: &dyn Fn(&str) -> Result<String, String>,
    ) -> Result<Self, CredentialError> {
        if let Some(token) = read("GUACAMOLE_TOKEN", env, read_file)? {
            return Ok(Self::Token(Secret::new(token)));
        }
        let username = read("GUACAMOLE_USERNAME", env, read_file)?;
        let password = read("GUACAMOLE_PASSWORD", env, read_file)?;
        let totp_secret = read("GUACAMOLE_TOTP_SECRET", env, read_file)?.map(Secret::new);
        match (username, password) {
            (Some(username), Some(password)) => Ok(Self::Password {
                username,
                password: Secret::new(password),
                totp_secret,
            }),
            (Some(_), None) => Err(CredentialError::NoPassword),
            _ => Err(CredentialError::Missing),
        }
    }

    /// The process environment and the file system.
    pub fn from_system() -> Result<Self, CredentialError> {
        Self::from_env(&|k| std::env::var(k).ok(), &|p| {
            std::fs::read_to_string(p).map_err(|e| e.to_string())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn creds(vars: &[(&str, &str)]) -> Result<Credentials, CredentialError> {
        let env: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Credentials::from_env(&|k| env.get(k).cloned(), &|p| match p {
            "/run/secrets/pw" => Ok("from-file\n".to_owned()),
            _ => Err("No such file or directory (os error 2)".to_owned()),
        })
    }

    #[test]
    fn table() {
        assert_eq!(
            creds(&[("GUACAMOLE_TOKEN", "T")]),
            Ok(Credentials::Token(Secret::new("T")))
        );
        assert_eq!(
            creds(&[
                ("GUACAMOLE_USERNAME", "u"),
                ("GUACAMOLE_PASSWORD_FILE", "/run/secrets/pw")
            ]),
            Ok(Credentials::Password {
                username: "u".into(),
                password: Secret::new("from-file"),
                totp_secret: None
            })
        );
        assert_eq!(
            creds(&[("GUACAMOLE_USERNAME", "u")]),
            Err(CredentialError::NoPassword)
        );
        assert_eq!(creds(&[]), Err(CredentialError::Missing));
        assert_eq!(
            creds(&[
                ("GUACAMOLE_PASSWORD", "a"),
                ("GUACAMOLE_PASSWORD_FILE", "/x")
            ]),
            Err(CredentialError::Both("GUACAMOLE_PASSWORD".into()))
        );
        assert!(matches!(
            creds(&[
                ("GUACAMOLE_USERNAME", "u"),
                ("GUACAMOLE_PASSWORD_FILE", "/nope")
            ]),
            Err(CredentialError::File { .. })
        ));
    }

    #[test]
    fn secrets_do_not_leak_through_debug() {
        let c = Credentials::Password {
            username: "u".into(),
            password: Secret::new("hunter2"),
            totp_secret: Some(Secret::new("JBSWY3DP")),
        };
        let shown = format!("{c:?}");
        assert!(
            !shown.contains("hunter2") && !shown.contains("JBSWY3DP"),
            "{shown}"
        );
    }
}

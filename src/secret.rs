//! Secret references inside parameter values: `${env:NAME}` and `${file:PATH}`.
//!
//! Every other `${...}` is Guacamole's or KSM's own token (`${GUAC_USERNAME}`,
//! `${KEEPER_SERVER_PASSWORD}`) and `$${...}` is an escape of one: those pass through
//! byte for byte (DESIGN.md §2). References are recognised and syntax-checked when a
//! manifest is parsed, and resolved only when a plan is made.

pub mod policy;

use std::path::{Path, PathBuf};

pub use policy::{Policy, SystemLookup};

/// One piece of a parameter value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Piece<'a> {
    /// Text kept as written (including Guacamole tokens and `$${` escapes).
    Literal(&'a str),
    Env(&'a str),
    File(&'a str),
}

/// A malformed reference: `start` is the byte offset of its `${` in the value.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ReferenceError {
    pub start: usize,
    pub message: String,
}

/// Splits a value into literal text and references.
///
/// # Errors
/// An `${env:` or `${file:` that is not closed, or whose name or path is empty, or an
/// environment variable name that is not `[A-Za-z_][A-Za-z0-9_]*`.
pub fn split(value: &str) -> Result<Vec<Piece<'_>>, ReferenceError> {
    let bytes = value.as_bytes();
    let mut pieces = Vec::new();
    let mut literal_start = 0;
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'$' && bytes.get(i + 1) == Some(&b'$') && bytes.get(i + 2) == Some(&b'{') {
            // `$${...}`: an escaped Guacamole token, kept verbatim.
            i += 3;
            continue;
        }
        if bytes[i] == b'$' && bytes.get(i + 1) == Some(&b'{') {
            let rest = &value[i + 2..];
            let kind = if rest.starts_with("env:") {
                Some(("env:", true))
            } else if rest.starts_with("file:") {
                Some(("file:", false))
            } else {
                None
            };
            if let Some((prefix, is_env)) = kind {
                let body_start = i + 2 + prefix.len();
                let Some(close) = value[body_start..].find('}') else {
                    return Err(ReferenceError {
                        start: i,
                        message: format!("unclosed secret reference `${{{prefix}`"),
                    });
                };
                let body = &value[body_start..body_start + close];
                if body.is_empty() {
                    return Err(ReferenceError {
                        start: i,
                        message: format!("empty secret reference `${{{prefix}}}`"),
                    });
                }
                if is_env && !is_env_name(body) {
                    return Err(ReferenceError {
                        start: i,
                        message: format!(
                            "`{body}` is not an environment variable name (letters, digits and `_`, not starting with a digit)"
                        ),
                    });
                }
                if is_env && policy::is_own_variable(body) {
                    return Err(ReferenceError {
                        start: i,
                        message: format!(
                            "`${{env:{body}}}` names guacsync's own configuration; its credentials are never written into a connection"
                        ),
                    });
                }
                if literal_start < i {
                    pieces.push(Piece::Literal(&value[literal_start..i]));
                }
                pieces.push(if is_env {
                    Piece::Env(body)
                } else {
                    Piece::File(body)
                });
                i = body_start + close + 1;
                literal_start = i;
                continue;
            }
        }
        i += 1;
    }
    if literal_start < value.len() {
        pieces.push(Piece::Literal(&value[literal_start..]));
    }
    Ok(pieces)
}

fn is_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
}

/// True when the value holds at least one `${env:}` or `${file:}` reference.
#[must_use]
pub fn has_reference(value: &str) -> bool {
    split(value).is_ok_and(|p| p.iter().any(|x| !matches!(x, Piece::Literal(_))))
}

/// True when the value is nothing but Guacamole/KSM tokens such as
/// `${GUAC_PASSWORD}` or `${KEEPER_SERVER_PASSWORD}`: the server substitutes them at
/// connect time, so the text itself holds no secret and may be shown.
#[must_use]
pub fn is_token_only(value: &str) -> bool {
    let mut rest = value;
    if rest.is_empty() {
        return false;
    }
    while !rest.is_empty() {
        let Some(body) = rest.strip_prefix("${") else {
            return false;
        };
        let Some(end) = body.find('}') else {
            return false;
        };
        let name = &body[..end];
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
        {
            return false;
        }
        rest = &body[end + 1..];
    }
    true
}

/// Every secret value this process has seen (credentials, tokens, sensitive
/// parameter values from manifests, references and the server), so that text
/// guacsync did not write itself (a server's error message, a log line) can be
/// cleaned before it is printed: a proxy or server that echoes a request body
/// must not make guacsync print a password.
#[derive(Default)]
struct Known {
    seen: std::collections::HashSet<String>,
    /// Longest first (once `sorted`), so that a secret containing another is
    /// replaced whole. Sorted when next needed, not on every insert: a server
    /// with 100,000 distinct passwords is read in one go.
    ordered: Vec<String>,
    sorted: bool,
}

fn known() -> &'static std::sync::RwLock<Known> {
    static KNOWN: std::sync::OnceLock<std::sync::RwLock<Known>> = std::sync::OnceLock::new();
    KNOWN.get_or_init(Default::default)
}

/// Secrets shorter than this are not searched for: replacing every `abc` in a
/// message would garble it, and such a value is no secret anyway.
const MIN_REDACTED_CHARS: usize = 4;

/// Remembers `value` as a secret, with the forms it takes on the wire (JSON
/// string escaping, form and URL percent-encoding).
pub fn remember(value: &str) {
    if value.chars().count() < MIN_REDACTED_CHARS {
        return;
    }
    let json = serde_json::to_string(value).unwrap_or_default();
    let json = json
        .get(1..json.len().saturating_sub(1))
        .unwrap_or_default()
        .to_owned();
    let form: String = url_form(value);
    let mut k = known()
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    for form in [value.to_owned(), json, form] {
        if form.chars().count() >= MIN_REDACTED_CHARS && k.seen.insert(form.clone()) {
            k.ordered.push(form);
            k.sorted = false;
        }
    }
}

/// `application/x-www-form-urlencoded` encoding, as a login form sends it.
fn url_form(value: &str) -> String {
    const FORM: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'.')
        .remove(b'_')
        .remove(b'*')
        .remove(b' ');
    percent_encoding::utf8_percent_encode(value, FORM)
        .to_string()
        .replace(' ', "+")
}

/// `text` with every remembered secret replaced by `(sensitive)`.
#[must_use]
pub fn redact(text: &str) -> String {
    {
        let mut k = known()
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if !k.sorted {
            k.ordered.sort_by_key(|s| std::cmp::Reverse(s.len()));
            k.sorted = true;
        }
    }
    let k = known()
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut out = text.to_owned();
    for secret in &k.ordered {
        if out.contains(secret.as_str()) {
            out = out.replace(secret.as_str(), "(sensitive)");
        }
    }
    out
}

/// Why a reference could not be resolved. Never carries the secret value.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ResolveError {
    #[error(transparent)]
    Syntax(#[from] ReferenceError),
    #[error("environment variable {0} is not set")]
    EnvUnset(String),
    #[error("`${{env:{name}}}` is refused: {reason}")]
    EnvRefused { name: String, reason: String },
    #[error("cannot read secret file {path}: {reason}")]
    File { path: PathBuf, reason: String },
    #[error("secret file {path} is refused: {reason}")]
    FileRefused { path: PathBuf, reason: String },
}

impl ResolveError {
    /// True when a rule refused the reference (rather than the value missing).
    #[must_use]
    pub fn is_refusal(&self) -> bool {
        matches!(self, Self::EnvRefused { .. } | Self::FileRefused { .. })
    }
}

/// A reference that was resolved: the variable's name, or the file's path as a
/// plan shows it (never a value).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Used {
    Env(String),
    File(String),
}

/// Where references get their values from, under the rules of what they may
/// name; injected so that resolution is testable and the environment is read in
/// one place. [`SystemLookup`] is the real one.
pub trait Lookup {
    /// The value of `${env:name}`.
    ///
    /// # Errors
    /// Unset, or refused by a rule.
    fn env(&self, name: &str) -> Result<String, ResolveError>;

    /// The content of `${file:...}` (`full`: its path joined to the manifest's
    /// directory `manifest_dir`) without its trailing newline, and the path to
    /// show for it.
    ///
    /// # Errors
    /// Unreadable, or refused by a rule.
    fn read_file(&self, full: &Path, manifest_dir: &Path)
    -> Result<(String, String), ResolveError>;

    /// True when any variable may be named (no `[secrets]` section).
    fn env_unrestricted(&self) -> bool;
}

/// Resolves every reference in `value`. A relative `${file:PATH}` is relative to
/// `base_dir` (the manifest's directory). Each reference resolved is added to
/// `used`. Returns `None` when the value holds no reference (the common case, so
/// nothing is copied).
///
/// # Errors
/// See [`ResolveError`].
pub fn resolve(
    value: &str,
    base_dir: &Path,
    lookup: &dyn Lookup,
    used: &mut Vec<Used>,
) -> Result<Option<String>, ResolveError> {
    let pieces = split(value)?;
    if pieces.iter().all(|p| matches!(p, Piece::Literal(_))) {
        return Ok(None);
    }
    let mut out = String::with_capacity(value.len());
    for piece in pieces {
        match piece {
            Piece::Literal(text) => out.push_str(text),
            Piece::Env(name) => {
                out.push_str(&lookup.env(name)?);
                used.push(Used::Env(name.to_owned()));
            }
            Piece::File(path) => {
                let (text, shown) = lookup.read_file(&base_dir.join(path), base_dir)?;
                out.push_str(&text);
                used.push(Used::File(shown));
            }
        }
    }
    Ok(Some(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    struct Fake(HashMap<&'static str, &'static str>);
    impl Lookup for Fake {
        fn env(&self, name: &str) -> Result<String, ResolveError> {
            self.0
                .get(name)
                .map(|s| (*s).to_owned())
                .ok_or_else(|| ResolveError::EnvUnset(name.to_owned()))
        }
        fn read_file(&self, path: &Path, _: &Path) -> Result<(String, String), ResolveError> {
            let key = path.to_str().unwrap_or_default();
            self.0
                .get(key)
                .map(|s| {
                    (
                        s.trim_end_matches('\n').trim_end_matches('\r').to_owned(),
                        key.to_owned(),
                    )
                })
                .ok_or_else(|| ResolveError::File {
                    path: path.to_owned(),
                    reason: "No such file or directory (os error 2)".to_owned(),
                })
        }
        fn env_unrestricted(&self) -> bool {
            true
        }
    }

    #[test]
    fn split_table() {
        use Piece::*;
        let cases: Vec<(&str, Vec<Piece>)> = vec![
            ("plain", vec![Literal("plain")]),
            ("${env:PW}", vec![Env("PW")]),
            ("a${env:PW}b", vec![Literal("a"), Env("PW"), Literal("b")]),
            ("${file:pw.txt}", vec![File("pw.txt")]),
            ("${GUAC_USERNAME}", vec![Literal("${GUAC_USERNAME}")]),
            (
                "${KEEPER_SERVER_PASSWORD}",
                vec![Literal("${KEEPER_SERVER_PASSWORD}")],
            ),
            ("$${env:PW}", vec![Literal("$${env:PW}")]),
            ("${ENV:PW}", vec![Literal("${ENV:PW}")]),
            ("", vec![]),
        ];
        for (input, expected) in cases {
            assert_eq!(split(input), Ok(expected), "{input:?}");
        }
    }

    #[test]
    fn remembered_secrets_are_redacted_in_every_wire_form() {
        let secret = "Pa ss\"w\nrd+&=1";
        remember(secret);
        remember("abc"); // too short to be searched for
        let json = serde_json::to_string(secret).expect("json");
        let echoed = format!(
            "raw {secret} | json {json} | form password={} | short abc",
            url_form(secret)
        );
        let clean = redact(&echoed);
        assert!(!clean.contains(secret), "{clean}");
        assert!(!clean.contains(&json[1..json.len() - 1]), "{clean}");
        assert!(!clean.contains(&url_form(secret)), "{clean}");
        assert_eq!(clean.matches("(sensitive)").count(), 3, "{clean}");
        assert!(clean.ends_with("short abc"));
    }

    #[test]
    fn split_errors() {
        for (input, start) in [
            ("x${env:PW", 1),
            ("${env:}", 0),
            ("${file:}", 0),
            ("${env:1A}", 0),
            ("${env:A-B}", 0),
            // guacsync's own credentials cannot be sent to the server.
            ("pw=${env:GUACAMOLE_PASSWORD}", 3),
            ("${env:guacamole_token}", 0),
            ("${env:GUACSYNC_CONFIG}", 0),
        ] {
            let err = split(input).expect_err(input);
            assert_eq!(err.start, start, "{input:?}: {err}");
        }
    }

    #[test]
    fn token_only_values() {
        assert!(is_token_only("${GUAC_PASSWORD}"));
        assert!(is_token_only("${KEEPER_SERVER_PASSWORD}${GUAC_USERNAME}"));
        assert!(!is_token_only("x${GUAC_PASSWORD}"));
        assert!(!is_token_only("${env:PW}"));
        assert!(!is_token_only("${lower}"));
        assert!(!is_token_only(""));
        assert!(!is_token_only("${GUAC"));
    }

    #[test]
    fn resolve_table() {
        let lookup = Fake(HashMap::from([
            ("PW", "s3cret"),
            ("/m/pw.txt", "from-file\n"),
            ("/abs/k", "key\r\n"),
        ]));
        let base = Path::new("/m");
        let mut used = Vec::new();
        assert_eq!(resolve("plain", base, &lookup, &mut used), Ok(None));
        assert_eq!(
            resolve("${env:PW}-${file:pw.txt}", base, &lookup, &mut used),
            Ok(Some("s3cret-from-file".into()))
        );
        assert_eq!(
            resolve("${file:/abs/k}", base, &lookup, &mut used),
            Ok(Some("key".into()))
        );
        assert_eq!(
            used,
            vec![
                Used::Env("PW".into()),
                Used::File("/m/pw.txt".into()),
                Used::File("/abs/k".into())
            ]
        );
        assert_eq!(
            resolve("${env:NOPE}", base, &lookup, &mut used),
            Err(ResolveError::EnvUnset("NOPE".into()))
        );
        assert!(matches!(
            resolve("${file:missing}", base, &lookup, &mut used),
            Err(ResolveError::File { .. })
        ));
    }
}

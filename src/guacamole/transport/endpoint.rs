//! The server URL, parsed once as a URL (`url::Url`) and used for every request.
//!
//! It exists so that one place decides what a usable server URL is (DESIGN.md §9):
//! http or https, any path prefix, no browser fragment, no credentials and no query
//! in it, and so that every request URL is checked against the configured origin
//! before the password, the form or the token is attached to it (a second line of
//! defence behind "never follow redirects").

use url::Url;

/// The server's base URL: scheme, host, port and path prefix, ending in `/`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    base: Url,
}

/// Why a server URL cannot be used. Never shows a user name, password or query
/// that the URL held: they may be credentials or a token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    #[error(
        "invalid server URL {shown:?}: {reason}; give the address of Guacamole's web application, such as https://guac.example.com/guacamole/"
    )]
    Invalid { shown: String, reason: String },
    #[error(
        "invalid server URL {shown:?}: the scheme must be http or https, not {scheme:?}; for example https://guac.example.com/guacamole/"
    )]
    Scheme { shown: String, scheme: String },
    #[error(
        "the server URL {shown:?} is a browser address: the part from `#` names a page of the web application and never reaches the server; use {suggested}"
    )]
    Browser { shown: String, suggested: String },
    #[error(
        "the server URL must not hold a user name or password (a URL shows in logs, shell history and process lists; guacsync logs in with GUACAMOLE_USERNAME and GUACAMOLE_PASSWORD, or their _FILE forms); use {suggested}"
    )]
    UserInfo { suggested: String },
    #[error(
        "the server URL {shown:?} has a query (`?...`, not shown): guacsync appends api/... paths to the URL, so a query would not reach the server where you expect (and a token must never be in a URL); use {suggested}"
    )]
    Query { shown: String, suggested: String },
    #[error(
        "refused to send a request to {url}: it is not on the server's origin {origin} (scheme, host and port of the URL given), so no credential or token was sent"
    )]
    OtherOrigin { url: String, origin: String },
}

impl Endpoint {
    /// Parses the server URL the user gave (`--url`, `GUACAMOLE_URL`, `[server] url`).
    pub fn parse(text: &str) -> Result<Self, UrlError> {
        let text = text.trim();
        let mut url = Url::parse(text).map_err(|e| UrlError::Invalid {
            shown: hide_userinfo(text),
            reason: e.to_string(),
        })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(UrlError::Scheme {
                shown: hide_userinfo(text),
                scheme: url.scheme().to_owned(),
            });
        }
        if url.cannot_be_a_base() || url.host_str().is_none_or(str::is_empty) {
            return Err(UrlError::Invalid {
                shown: hide_userinfo(text),
                reason: "it names no host".to_owned(),
            });
        }
        let has_userinfo = !url.username().is_empty() || url.password().is_some();
        let has_fragment = url.fragment().is_some();
        let has_query = url.query().is_some();
        let suggested = suggestion(&url, has_fragment);
        if has_userinfo {
            return Err(UrlError::UserInfo { suggested });
        }
        if has_fragment {
            url.set_query(None);
            return Err(UrlError::Browser {
                shown: url.to_string(),
                suggested,
            });
        }
        if has_query {
            url.set_query(None);
            return Err(UrlError::Query {
                shown: url.to_string(),
                suggested,
            });
        }
        if !url.path().ends_with('/') {
            let path = format!("{}/", url.path());
            url.set_path(&path);
        }
        Ok(Self { base: url })
    }

    /// The base URL, ending in `/` (for messages).
    #[must_use]
    pub fn as_str(&self) -> &str {
        self.base.as_str()
    }

    /// `host:port` (the port the scheme implies when none was given).
    #[must_use]
    pub fn host_port(&self) -> String {
        host_port(&self.base)
    }

    #[must_use]
    pub fn is_https(&self) -> bool {
        self.base.scheme() == "https"
    }

    /// The path prefix, ending in `/` (`/guacamole/`).
    #[must_use]
    pub fn prefix(&self) -> &str {
        self.base.path()
    }

    /// The URL of `path` (relative, such as `api/tokens`) below the base, checked to
    /// be on the base's origin.
    pub fn url(&self, path: &str) -> Result<Url, UrlError> {
        // Appended as text, not `Url::join`: a relative reference starting with `//`
        // or a scheme would leave the base; text appended after the base cannot.
        let text = format!("{}{}", self.base.as_str(), path.trim_start_matches('/'));
        let url = Url::parse(&text).map_err(|e| UrlError::Invalid {
            shown: text.clone(),
            reason: e.to_string(),
        })?;
        self.check(&url)?;
        Ok(url)
    }

    /// Refuses a URL that is not on the configured origin (scheme, host, port): the
    /// check made before any credential, form or token is attached to a request.
    pub fn check(&self, url: &Url) -> Result<(), UrlError> {
        if url.origin() == self.base.origin() {
            Ok(())
        } else {
            Err(UrlError::OtherOrigin {
                url: shown(url),
                origin: self.base.origin().ascii_serialization(),
            })
        }
    }

    /// The part of `url` below the base (`api/tokens`), when it is below it.
    #[must_use]
    pub fn relative<'a>(&self, url: &'a Url) -> Option<&'a str> {
        url.as_str().strip_prefix(self.base.as_str())
    }
}

/// `host:port` of a URL.
#[must_use]
pub fn host_port(url: &Url) -> String {
    let host = url.host_str().unwrap_or_default();
    match url.port_or_known_default() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    }
}

/// A URL as it may be shown: without user name, password, query or fragment (any of
/// them may hold a credential or a token).
#[must_use]
pub fn shown(url: &Url) -> String {
    let mut url = url.clone();
    let _ = url.set_username("");
    let _ = url.set_password(None);
    let had_query = url.query().is_some();
    url.set_query(None);
    url.set_fragment(None);
    let mut text = url.to_string();
    if had_query {
        text.push_str("?...");
    }
    text
}

/// What to use instead of a URL with a fragment, credentials or a query: the same
/// address without them, a browser's `index.html` dropped, ending in `/`.
fn suggestion(url: &Url, browser: bool) -> String {
    let mut url = url.clone();
    let _ = url.set_username("");
    let _ = url.set_password(None);
    url.set_query(None);
    url.set_fragment(None);
    let mut path = url.path().to_owned();
    if browser && path.ends_with("/index.html") {
        path.truncate(path.len() - "index.html".len());
    }
    if !path.ends_with('/') {
        path.push('/');
    }
    url.set_path(&path);
    url.to_string()
}

/// The text of a URL that did not parse, with anything before an `@` in its
/// authority replaced: it may be a user name and password.
fn hide_userinfo(text: &str) -> String {
    let Some(start) = text.find("://").map(|i| i + 3) else {
        return text.to_owned();
    };
    let rest = &text[start..];
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..end].rfind('@') {
        Some(at) => format!("{}(hidden)@{}", &text[..start], &rest[at + 1..]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn good_urls_keep_their_prefix() {
        for (given, base) in [
            (
                "https://guac.example.com/guacamole",
                "https://guac.example.com/guacamole/",
            ),
            (
                "http://127.0.0.1:8080/guac-api/",
                "http://127.0.0.1:8080/guac-api/",
            ),
            ("https://guac.example.com", "https://guac.example.com/"),
            (
                "  HTTPS://Guac.Example.com:443/a/b ",
                "https://guac.example.com/a/b/",
            ),
            ("http://[::1]:9/x%20y", "http://[::1]:9/x%20y/"),
        ] {
            let e = Endpoint::parse(given).expect(given);
            assert_eq!(e.as_str(), base, "{given}");
        }
        let e = Endpoint::parse("https://h:8443/guac-api").expect("parses");
        assert_eq!(e.host_port(), "h:8443");
        assert_eq!(e.prefix(), "/guac-api/");
        assert_eq!(
            e.url("api/tokens").expect("url").as_str(),
            "https://h:8443/guac-api/api/tokens"
        );
        assert_eq!(Endpoint::parse("http://h").expect("ok").host_port(), "h:80");
    }

    #[test]
    fn mistakes_are_refused_with_the_url_to_use() {
        let browser = Endpoint::parse("https://h/guacamole/#/settings/postgresql/connections")
            .expect_err("browser");
        assert_eq!(
            browser,
            UrlError::Browser {
                shown: "https://h/guacamole/#/settings/postgresql/connections".into(),
                suggested: "https://h/guacamole/".into()
            }
        );
        let index = Endpoint::parse("https://h/guacamole/index.html#/").expect_err("browser");
        assert!(
            index.to_string().ends_with("use https://h/guacamole/"),
            "{index}"
        );
        let creds = Endpoint::parse("https://admin:hunter2@h/guacamole").expect_err("userinfo");
        let text = creds.to_string();
        assert!(
            !text.contains("hunter2") && !text.contains("admin"),
            "{text}"
        );
        assert!(text.contains("use https://h/guacamole/"), "{text}");
        let query = Endpoint::parse("https://h/guacamole/?token=ABCDEF").expect_err("query");
        let text = query.to_string();
        assert!(!text.contains("ABCDEF"), "{text}");
        assert!(text.contains("use https://h/guacamole/"), "{text}");
        let scheme = Endpoint::parse("ftp://h/guacamole").expect_err("scheme");
        assert!(matches!(scheme, UrlError::Scheme { .. }), "{scheme}");
        for bad in [
            "guac.example.com/guacamole",
            "https://",
            "http://h:99999/",
            "",
        ] {
            let e = Endpoint::parse(bad).expect_err(bad);
            assert!(matches!(e, UrlError::Invalid { .. }), "{bad}: {e}");
        }
        let unparsable = Endpoint::parse("https://u:se cret@h:bad/").expect_err("invalid");
        assert!(!unparsable.to_string().contains("se cret"), "{unparsable}");
    }

    #[test]
    fn requests_stay_on_the_origin() {
        let e = Endpoint::parse("https://h/guacamole").expect("parses");
        // A path that would leave the base as a relative reference stays on it.
        let u = e.url("//evil.example/x").expect("stays");
        assert_eq!(u.host_str(), Some("h"));
        for other in [
            "http://h/guacamole/api/tokens",
            "https://h:8443/guacamole/api/tokens",
            "https://evil.example/guacamole/api/tokens",
        ] {
            let url = Url::parse(other).expect("url");
            assert!(
                matches!(e.check(&url), Err(UrlError::OtherOrigin { .. })),
                "{other}"
            );
        }
        let same = Url::parse("https://h:443/elsewhere").expect("url");
        assert!(e.check(&same).is_ok());
    }

    #[test]
    fn shown_urls_carry_no_credentials() {
        let url = Url::parse("https://u:p@h/x?token=T#frag").expect("url");
        assert_eq!(shown(&url), "https://h/x?...");
        assert_eq!(hide_userinfo("https://u:p@h/a@b"), "https://(hidden)@h/a@b");
        assert_eq!(hide_userinfo("not a url"), "not a url");
    }
}

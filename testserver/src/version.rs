//! Which Guacamole release the server answers as. 1.6.0 is the default; 1.5.5
//! exists because operators still run 1.5.x, whose REST API differs where a client
//! such as guacsync writes (docs/guacamole-versions.md lists every difference with
//! its source file; the ones this server reproduces are named on each variant).

use std::fmt;
use std::str::FromStr;

/// A Guacamole release whose REST behaviour the server reproduces.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum GuacamoleVersion {
    /// 1.5.5 (JDBC `PostgreSQL`): the directory PATCH accepts only `remove`, one
    /// object at a time, and answers 204 (`1.5.5:.../rest/directory/DirectoryResource.java`);
    /// patch values are typed `String`, so an object value fails in Jackson first;
    /// `APIError` has no `patches` field; users and user groups carry `disabled` as
    /// a `restrictions` attribute instead of a top-level field; there is no
    /// `AUDIT` system permission, no `HEAD /api/session`, no
    /// `schema/userPreferenceAttributes`, and no 4096-character parameter check
    /// (the database refuses the value: 500).
    V1_5_5,
    /// 1.6.0 (JDBC `PostgreSQL`), as `rest-api.md` describes it.
    #[default]
    V1_6_0,
}

impl GuacamoleVersion {
    /// True for the 1.5.x behaviour.
    #[must_use]
    pub fn is_1_5(self) -> bool {
        self == Self::V1_5_5
    }
}

impl fmt::Display for GuacamoleVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::V1_5_5 => "1.5.5",
            Self::V1_6_0 => "1.6.0",
        })
    }
}

/// The version named on the command line or in a hook was not one this server
/// reproduces.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("unsupported Guacamole version {0:?}: this server answers as 1.5.5 or 1.6.0")]
pub struct UnknownVersion(pub String);

impl FromStr for GuacamoleVersion {
    type Err = UnknownVersion;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "1.5.5" => Ok(Self::V1_5_5),
            "1.6.0" => Ok(Self::V1_6_0),
            other => Err(UnknownVersion(other.to_owned())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_two_releases_and_names_others() {
        assert_eq!("1.5.5".parse(), Ok(GuacamoleVersion::V1_5_5));
        assert_eq!(" 1.6.0 ".parse(), Ok(GuacamoleVersion::V1_6_0));
        assert_eq!(
            "1.5".parse::<GuacamoleVersion>(),
            Err(UnknownVersion("1.5".into()))
        );
        assert_eq!(GuacamoleVersion::default().to_string(), "1.6.0");
    }
}

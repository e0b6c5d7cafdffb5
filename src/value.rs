//! A parameter value that knows whether it may be shown. Sensitive values (secret
//! parameters, resolved `${env:}`/`${file:}` references) are compared exactly but
//! never rendered: Debug, Display and Serialize print the reference as written, or
//! `(sensitive)`.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// What is shown in place of a sensitive value that has no reference text.
pub const REDACTED: &str = "(sensitive)";

/// One value as the manifest or the server gave it.
// An enum of boxed texts (24 bytes, not the 56 of a `String`, a flag and an
// optional `String`): a value never grows once made, and a plan of 100,000
// connections holds about 700,000 of them. The reference text of a resolved value
// is boxed with it, as it is the rare case.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Value(Repr);

#[derive(Clone, PartialEq, Eq, Hash)]
enum Repr {
    /// May be shown.
    Plain(Box<str>),
    /// A secret written literally (or read from the server).
    Secret(Box<str>),
    /// Resolved from a secret reference: the value, then the reference as written.
    Resolved(Box<(Box<str>, Box<str>)>),
}

impl Value {
    /// A value that may be shown.
    #[must_use]
    pub fn plain(text: impl Into<String>) -> Self {
        Self(Repr::Plain(text.into().into_boxed_str()))
    }

    /// A secret written literally (or read from the server).
    #[must_use]
    pub fn secret(text: impl Into<String>) -> Self {
        let text = text.into();
        crate::secret::remember(&text);
        Self(Repr::Secret(text.into_boxed_str()))
    }

    /// A value resolved from a secret reference; `written` is the reference text.
    #[must_use]
    pub fn resolved(text: impl Into<String>, written: impl Into<String>) -> Self {
        let text = text.into();
        crate::secret::remember(&text);
        Self(Repr::Resolved(Box::new((
            text.into_boxed_str(),
            written.into().into_boxed_str(),
        ))))
    }

    /// The real value, for comparing and sending. Never print it.
    #[must_use]
    pub fn expose(&self) -> &str {
        match &self.0 {
            Repr::Plain(t) | Repr::Secret(t) => t,
            Repr::Resolved(r) => &r.0,
        }
    }

    #[must_use]
    pub fn is_sensitive(&self) -> bool {
        !matches!(self.0, Repr::Plain(_))
    }

    /// What may be shown: the value, the reference as written, or `(sensitive)`.
    #[must_use]
    pub fn shown(&self) -> &str {
        match &self.0 {
            Repr::Plain(t) => t,
            Repr::Secret(_) => REDACTED,
            Repr::Resolved(r) => &r.1,
        }
    }
}

impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.shown())
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.shown())
    }
}

impl Serialize for Value {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.shown())
    }
}

/// A saved plan holds only what may be shown; reading it back gives values whose
/// text is that shown form (a saved plan is compared, never applied as such).
impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let shown = String::deserialize(deserializer)?;
        // A reference read back is shown as written again, so that a saved plan
        // serialises as it was saved.
        let shown = shown.into_boxed_str();
        Ok(Self(if crate::secret::has_reference(&shown) {
            Repr::Resolved(Box::new((shown.clone(), shown)))
        } else if &*shown == REDACTED {
            Repr::Secret(shown)
        } else {
            Repr::Plain(shown)
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_shows_a_secret() {
        let s = Value::secret("hunter2");
        let r = Value::resolved("hunter2", "${env:PW}");
        for v in [&s, &r] {
            assert!(!format!("{v:?}").contains("hunter2"));
            assert!(!format!("{v}").contains("hunter2"));
            assert!(!serde_json::to_string(v).expect("json").contains("hunter2"));
            assert_eq!(v.expose(), "hunter2");
        }
        assert_eq!(s.to_string(), "(sensitive)");
        assert_eq!(r.to_string(), "${env:PW}");
        assert_eq!(Value::plain("22").to_string(), "22");
        assert_ne!(Value::secret("a"), Value::secret("b"), "compared exactly");
    }

    #[test]
    fn shown_forms_read_back_as_they_were_written() {
        for v in [
            Value::resolved("hunter2", "${env:PW}"),
            Value::secret("hunter2"),
            Value::plain("22"),
        ] {
            let json = serde_json::to_string(&v).expect("json");
            let back: Value = serde_json::from_str(&json).expect("reads back");
            assert_eq!(serde_json::to_string(&back).expect("json"), json);
            assert_eq!(back.is_sensitive(), v.is_sensitive());
        }
    }
}

//! What an estate document can hold so that it reads back the same: the rules
//! of `estate::read` and `manifest::check`, asked before writing rather than
//! after reading. What fails them is left out (and said) by the exporter.

use crate::estate::model::SharingProfileKey;
use crate::estate::schema::{AttributeValue, EstateSchema, attribute_value};
use crate::guacamole::limits::MAX_GROUP_DEPTH;
use crate::manifest::check::{MAX_NAME_CHARS, MAX_VALUE_UTF16};
use crate::manifest::csv::js_trim;
use crate::model::{ConnKey, GroupPath};
use crate::schema::{Field, Schema};
use crate::secret;

/// Why a name (a username, a user group's or sharing profile's name, a member)
/// cannot be written so that it reads back the same; `None` when it can.
pub(super) fn unnameable(name: &str) -> Option<&'static str> {
    if name.trim().is_empty() {
        Some("it is blank")
    } else if js_trim(name) != name {
        Some("it begins or ends with white space, which the reader trims")
    } else if name.chars().count() > MAX_NAME_CHARS {
        Some("it is longer than 128 characters")
    } else if name.contains('\0') {
        Some("it holds a NUL character")
    } else {
        None
    }
}

/// Whether a path reads back as the same segments.
pub(super) fn path_ok(path: &GroupPath) -> bool {
    path.depth() <= MAX_GROUP_DEPTH && path.segments().iter().all(|s| segment_ok(s))
}

pub(super) fn segment_ok(s: &str) -> bool {
    !s.trim().is_empty() && s.chars().count() <= MAX_NAME_CHARS && !s.contains('\0')
}

pub(super) fn connection_ok(key: &ConnKey) -> bool {
    path_ok(&key.group) && segment_ok(&key.name)
}

pub(super) fn profile_ok(key: &SharingProfileKey) -> bool {
    connection_ok(&key.connection) && unnameable(&key.name).is_none()
}

/// Why a value cannot be written as it is: the reader's checks of every value.
pub(super) fn value_problem(value: &str) -> Option<&'static str> {
    if value.contains('\0') {
        Some("it holds a NUL character")
    } else if secret::split(value).is_err() {
        Some("it holds `${` text that is not a valid secret reference")
    } else if value.encode_utf16().count() > MAX_VALUE_UTF16 {
        Some("it is longer than 4096 characters")
    } else {
        None
    }
}

/// Whether an attribute value reads back unchanged: the value checks, and for a
/// known attribute the form the JDBC data source stores (a NUMERIC `010` would
/// be read as `10`).
pub(super) fn attribute_problem(fields: &[Field], name: &str, value: &str) -> Option<&'static str> {
    if name.contains('\0') {
        return Some("its name holds a NUL character");
    }
    value_problem(value).or_else(|| match fields.iter().find(|f| f.name == name) {
        Some(f) if attribute_value(f, value) != Ok(AttributeValue::Set(value.to_owned())) => {
            Some("an estate document would say it differently")
        }
        _ => None,
    })
}

/// Whether a sharing profile parameter's value is a secret: by the rule
/// `validate` shows them by, a password-like or unknown name (most likely a typo
/// of one), unless the value is only Guacamole's own tokens.
#[must_use]
pub fn is_sensitive_sharing_parameter(name: &str, value: &str) -> bool {
    let sensitive = EstateSchema::builtin()
        .any_sharing_parameter(name)
        .is_none()
        || Schema::builtin().is_sensitive_parameter("", name);
    sensitive && !secret::is_token_only(value)
}

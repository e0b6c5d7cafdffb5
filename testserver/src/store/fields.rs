//! How a submitted object's fields reach the database, shared by every kind:
//! Jackson's binding of scalars and maps, the `PostgreSQL` column limits, the
//! parameter rules, attribute filtering and parent resolution (rest-api.md §3,
//! §5, §7, §10). Each kind's rules (`crate::kind`) call these in the order its
//! JDBC service does.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use crate::error::{ApiError, Fail, Result};
use crate::kind::Group;
use crate::schema;
use crate::version::GuacamoleVersion;

/// JDBC ignores identifiers that are not numeric (`isValidIdentifier`).
#[must_use]
pub fn numeric_id(id: &str) -> Option<u64> {
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    id.parse().ok()
}

/// The submitted object itself: anything else does not bind to the API class.
pub fn object(body: &Value) -> Result<&Map<String, Value>> {
    body.as_object()
        .ok_or_else(|| Fail::BadJson("expected an object".into()))
}

/// A JSON scalar as Jackson binds it to a `String` field.
pub fn text_field(v: Option<&Value>, field: &str) -> Result<Option<String>> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(Value::Bool(b)) => Ok(Some(b.to_string())),
        Some(_) => Err(Fail::BadJson(format!(
            "Cannot deserialize value of type `java.lang.String` from Object value (field \"{field}\")"
        ))),
    }
}

/// A `Map<String, String>` field: `None` when missing or null.
pub fn map_field(
    v: Option<&Value>,
    field: &str,
) -> Result<Option<BTreeMap<String, Option<String>>>> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(m)) => {
            let mut out = BTreeMap::new();
            for (k, v) in m {
                out.insert(k.clone(), text_field(Some(v), field)?);
            }
            Ok(Some(out))
        }
        Some(_) => Err(Fail::BadJson(format!(
            "Cannot deserialize value of type `java.util.Map` (field \"{field}\")"
        ))),
    }
}

/// A map the code goes on to read without a null check: missing or null is a
/// `NullPointerException`, which is a 500.
pub fn required_map(
    obj: &Map<String, Value>,
    field: &str,
) -> Result<BTreeMap<String, Option<String>>> {
    map_field(obj.get(field), field)?.ok_or(Fail::Internal)
}

fn utf16_len(s: &str) -> usize {
    s.encode_utf16().count()
}

pub fn chars(s: &str) -> usize {
    s.chars().count()
}

/// The database column limits (`PostgreSQL` schema): breaking them is a database
/// error, which the REST layer turns into 500.
pub const NAME_LIMIT: usize = 128;
pub const PROTOCOL_LIMIT: usize = 32;
const VALUE_LIMIT: usize = 4096;

/// A name that must not be blank, then must not be taken (`blank` and `taken` are
/// the kind's own messages): the checks every directory service makes in
/// `beforeCreate` and `beforeUpdate`.
pub fn check_name(name: &str, blank: &str, taken: impl FnOnce() -> Option<String>) -> Result<()> {
    if name.trim().is_empty() {
        return Err(ApiError::bad_request(blank).into());
    }
    match taken() {
        Some(message) => Err(ApiError::bad_request(message).into()),
        None => Ok(()),
    }
}

/// The 4096-character check of `ConnectionService#beforeCreate/beforeUpdate`.
pub fn check_parameters(
    parameters: &BTreeMap<String, Option<String>>,
    version: GuacamoleVersion,
) -> Result<()> {
    if version.is_1_5() {
        // GUACAMOLE-1948 came with 1.6.0: 1.5.x leaves the limit to the database.
        return Ok(());
    }
    for (name, value) in parameters {
        if value.as_deref().is_some_and(|v| utf16_len(v) > VALUE_LIMIT) {
            return Err(ApiError::overrun(format!(
                "The value provided for connection parameter \"{name}\" exceeds the maximum allowed length."
            ))
            .with_translation(
                "CONNECTION_PARAMETERS.DATABASE_PARAMETER_VALUE_TOO_LONG",
                json!({"MAX_SIZE": VALUE_LIMIT, "PARAMETER_NAME": name}),
            )
            .into());
        }
    }
    Ok(())
}

/// The stored form of parameters: non-empty values only.
pub fn stored_parameters(
    parameters: &BTreeMap<String, Option<String>>,
) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for (name, value) in parameters {
        if let Some(v) = value.as_deref().filter(|v| !v.is_empty()) {
            // varchar(128) and varchar(4096): the insert fails in the database.
            if chars(name) > NAME_LIMIT || chars(v) > VALUE_LIMIT {
                return Err(Fail::Internal);
            }
            out.insert(name.clone(), v.to_owned());
        }
    }
    Ok(out)
}

/// How an object's attribute map is applied.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum AttributeMode {
    /// POST, PUT, PATCH add: unknown names dropped first (`filterAttributes`).
    Filtered,
    /// PATCH replace: unknown names stored as arbitrary attributes.
    Unfiltered,
}

/// Applies an attribute map the way JDBC does: every schema attribute is set from
/// the map (absent means null); arbitrary attributes are touched only when present.
pub fn apply_attributes(
    current: &mut BTreeMap<String, String>,
    given: &BTreeMap<String, Option<String>>,
    schema_fields: &[schema::AttributeField],
    mode: AttributeMode,
) {
    for field in schema_fields {
        let value = given.get(field.name).cloned().flatten();
        match value.as_deref().map(|v| (v, (field.normalise)(v))) {
            Some((_, Some(v))) => {
                current.insert(field.name.to_owned(), v);
            }
            // `NumericField.parse` / `parseTime` / `parseDate` threw: JDBC logs a
            // warning and skips the setter, so the value the object had stays.
            Some((v, None))
                if !v.is_empty() && matches!(field.field_type, "NUMERIC" | "TIME" | "DATE") => {}
            _ => {
                current.remove(field.name);
            }
        }
    }
    if mode == AttributeMode::Unfiltered {
        for (name, value) in given {
            if schema_fields.iter().any(|f| f.name == name) {
                continue;
            }
            match value {
                Some(v) if !v.is_empty() => {
                    current.insert(name.clone(), v.clone());
                }
                _ => {
                    current.remove(name);
                }
            }
        }
    }
}

/// The `parentIdentifier` of a submitted object as JDBC resolves it: ROOT or null
/// is the top level; anything else must be an existing group, or the insert fails
/// in the database (500).
pub fn parent_of(obj: &Map<String, Value>, groups: &BTreeMap<u64, Group>) -> Result<Option<u64>> {
    match obj.get("parentIdentifier").unwrap_or(&Value::Null) {
        Value::Null => Ok(None),
        Value::String(s) if s == "ROOT" => Ok(None),
        Value::String(s) => match numeric_id(s) {
            Some(id) if groups.contains_key(&id) => Ok(Some(id)),
            _ => Err(Fail::Internal),
        },
        Value::Number(n) => match n.as_u64() {
            Some(id) if groups.contains_key(&id) => Ok(Some(id)),
            _ => Err(Fail::Internal),
        },
        _ => Err(Fail::BadJson(
            "parentIdentifier must be a string".to_owned(),
        )),
    }
}

/// `ROOT` for the top level, else the parent's identifier.
#[must_use]
pub fn parent_str(p: Option<u64>) -> String {
    p.map_or_else(|| "ROOT".to_owned(), |id| id.to_string())
}

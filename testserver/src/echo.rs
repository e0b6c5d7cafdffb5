//! What a POST that creates an object answers (rest-api.md §3, §5, §7, §8):
//! `DirectoryResource#createObject` returns the object it was given, after Jackson
//! bound it to the API class and `filterExternalObject` filtered its attributes,
//! with the identifier the directory assigned. So the echo is the submitted object
//! as that class sees it: unknown top-level fields gone (`ignoreUnknown`), null
//! properties left out (`NON_NULL`), scalar strings coerced (`"port": 22` comes
//! back as `"22"`), attributes kept only where the schema names them (an explicit
//! null kept), and the `int activeConnections` always present and 0 (its setter is
//! `setActiveUsers`, so the submitted value is never bound). The same holds on
//! 1.5.5 (`1.5.5:.../DirectoryResource.java#createObject`), except that users and
//! user groups have no `disabled` property there.
//!
//! A user's echo carries the password it was created with, in clear: `APIUser`
//! does not hide it. A client must never print a POST answer.

use serde_json::{Map, Value, json};

use crate::error::{Fail, Result};
use crate::schema::{self, AttributeField};
use crate::store::{map_field, text_field};
use crate::version::GuacamoleVersion;

/// Copies a `String` property when present and not null, coerced as Jackson does.
fn put_text(out: &mut Map<String, Value>, body: &Map<String, Value>, name: &str) -> Result<()> {
    if let Some(v) = text_field(body.get(name), name)? {
        out.insert(name.to_owned(), Value::String(v));
    }
    Ok(())
}

/// Copies a `Map<String, String>` property: values coerced, null values kept.
fn put_map(out: &mut Map<String, Value>, body: &Map<String, Value>, name: &str) -> Result<()> {
    if let Some(m) = map_field(body.get(name), name)? {
        out.insert(name.to_owned(), json!(m));
    }
    Ok(())
}

/// `filterAttributes`: every schema field the submitted map contains, null or
/// not; a null map has nothing to keep.
fn filtered_attributes(body: &Map<String, Value>, fields: &[AttributeField]) -> Result<Value> {
    let given = map_field(body.get("attributes"), "attributes")?.unwrap_or_default();
    let kept: Map<String, Value> = fields
        .iter()
        .filter_map(|f| given.get(f.name).map(|v| (f.name.to_owned(), json!(v))))
        .collect();
    Ok(Value::Object(kept))
}

/// Jackson's binding of a primitive `boolean`: absent or null is false.
fn boolean(body: &Map<String, Value>, name: &str) -> Value {
    let b = match body.get(name) {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s == "true",
        _ => false,
    };
    Value::Bool(b)
}

fn object(body: &Value) -> Result<&Map<String, Value>> {
    body.as_object()
        .ok_or_else(|| Fail::BadJson("expected an object".into()))
}

/// `APIConnection` after a POST.
pub fn connection(body: &Value, identifier: u64) -> Result<Value> {
    let body = object(body)?;
    let mut out = Map::new();
    put_text(&mut out, body, "name")?;
    out.insert("identifier".into(), json!(identifier.to_string()));
    put_text(&mut out, body, "parentIdentifier")?;
    put_text(&mut out, body, "protocol")?;
    put_map(&mut out, body, "parameters")?;
    out.insert(
        "attributes".into(),
        filtered_attributes(body, schema::CONNECTION_ATTRIBUTES)?,
    );
    out.insert("activeConnections".into(), json!(0));
    Ok(Value::Object(out))
}

/// `APIConnectionGroup` after a POST.
pub fn group(body: &Value, identifier: u64) -> Result<Value> {
    let body = object(body)?;
    let mut out = Map::new();
    put_text(&mut out, body, "name")?;
    out.insert("identifier".into(), json!(identifier.to_string()));
    put_text(&mut out, body, "parentIdentifier")?;
    put_text(&mut out, body, "type")?;
    out.insert("activeConnections".into(), json!(0));
    out.insert(
        "attributes".into(),
        filtered_attributes(body, schema::GROUP_ATTRIBUTES)?,
    );
    Ok(Value::Object(out))
}

/// `APIUser` after a POST (password included, as the server sends it).
pub fn user(body: &Value, version: GuacamoleVersion) -> Result<Value> {
    let body = object(body)?;
    let mut out = Map::new();
    put_text(&mut out, body, "username")?;
    put_text(&mut out, body, "password")?;
    if !version.is_1_5() {
        out.insert("disabled".into(), boolean(body, "disabled"));
    }
    out.insert(
        "attributes".into(),
        filtered_attributes(body, schema::user_attributes(version))?,
    );
    Ok(Value::Object(out))
}

/// `APIUserGroup` after a POST.
pub fn user_group(body: &Value, version: GuacamoleVersion) -> Result<Value> {
    let body = object(body)?;
    let mut out = Map::new();
    put_text(&mut out, body, "identifier")?;
    if !version.is_1_5() {
        out.insert("disabled".into(), boolean(body, "disabled"));
    }
    out.insert(
        "attributes".into(),
        filtered_attributes(body, schema::user_group_attributes(version))?,
    );
    Ok(Value::Object(out))
}

/// `APISharingProfile` after a POST (JDBC declares no attributes for it).
pub fn sharing_profile(body: &Value, identifier: u64) -> Result<Value> {
    let body = object(body)?;
    let mut out = Map::new();
    put_text(&mut out, body, "name")?;
    out.insert("identifier".into(), json!(identifier.to_string()));
    put_text(&mut out, body, "primaryConnectionIdentifier")?;
    put_map(&mut out, body, "parameters")?;
    out.insert("attributes".into(), json!({}));
    Ok(Value::Object(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_echo_is_the_bound_object() {
        let body = json!({"name": "web", "parentIdentifier": "ROOT", "protocol": "ssh",
            "parameters": {"port": 22, "hostname": null}, "attributes": {"weight": "x", "max-connections": null, "bogus": "1"},
            "activeConnections": 7, "unknown": true, "identifier": "99"});
        assert_eq!(
            connection(&body, 4).expect("echo"),
            json!({"name": "web", "identifier": "4", "parentIdentifier": "ROOT", "protocol": "ssh",
                "parameters": {"port": "22", "hostname": null},
                "attributes": {"weight": "x", "max-connections": null}, "activeConnections": 0})
        );
    }

    #[test]
    fn user_echo_depends_on_the_version() {
        let body = json!({"username": "a", "password": "pw", "disabled": true,
            "attributes": {"disabled": "true", "guac-full-name": "A", "x": "y"}});
        assert_eq!(
            user(&body, GuacamoleVersion::V1_6_0).expect("echo"),
            json!({"username": "a", "password": "pw", "disabled": true, "attributes": {"guac-full-name": "A"}})
        );
        assert_eq!(
            user(&body, GuacamoleVersion::V1_5_5).expect("echo"),
            json!({"username": "a", "password": "pw", "attributes": {"disabled": "true", "guac-full-name": "A"}})
        );
    }
}

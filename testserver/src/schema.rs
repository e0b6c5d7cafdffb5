//! Attribute and protocol schemas as the JDBC data source declares them
//! (rest-api.md §5, §7, §10), with how each attribute's value is read back. A
//! NUMERIC, TIME or DATE value that does not parse is ignored with a warning: JDBC
//! does not call the model's setter, so the previous value stays (null for a new
//! object); see `store::apply_attributes`.

use serde_json::{Value, json};

use crate::version::GuacamoleVersion;

/// One attribute of a directory object.
#[derive(Clone, Debug)]
pub struct AttributeField {
    pub name: &'static str,
    pub form: &'static str,
    pub field_type: &'static str,
    pub options: &'static [&'static str],
    /// Visible and settable only with ADMINISTER on the user (user restrictions).
    pub restricted: bool,
    /// The stored value for a given one (`None`: stored as null).
    pub normalise: fn(&str) -> Option<String>,
}

/// `NumericField.parse` is `Integer.valueOf`: an optional sign and digits, no
/// spaces, within Java's `int`; the number is stored and read back without sign or
/// leading zeros (`NumericField.format`). (Java also takes non-ASCII decimal digits;
/// they are not modelled.)
fn numeric(v: &str) -> Option<String> {
    v.parse::<i32>().ok().map(|n| n.to_string())
}

fn text(v: &str) -> Option<String> {
    (!v.is_empty()).then(|| v.to_owned())
}

fn exactly_true(v: &str) -> Option<String> {
    (v == "true").then(|| "true".to_owned())
}

fn encryption(v: &str) -> Option<String> {
    matches!(v, "none" | "ssl").then(|| v.to_owned())
}

fn time(v: &str) -> Option<String> {
    let parts: Vec<&str> = v.split(':').collect();
    let ok = parts.len() == 3
        && parts
            .iter()
            .all(|p| p.len() == 2 && p.bytes().all(|b| b.is_ascii_digit()));
    ok.then(|| v.to_owned())
}

fn date(v: &str) -> Option<String> {
    let parts: Vec<&str> = v.split('-').collect();
    let ok = parts.len() == 3
        && [4, 2, 2]
            .iter()
            .zip(&parts)
            .all(|(n, p)| p.len() == *n && p.bytes().all(|b| b.is_ascii_digit()));
    ok.then(|| v.to_owned())
}

const fn field(
    name: &'static str,
    form: &'static str,
    field_type: &'static str,
    normalise: fn(&str) -> Option<String>,
) -> AttributeField {
    AttributeField {
        name,
        form,
        field_type,
        options: &[],
        restricted: false,
        normalise,
    }
}

pub static CONNECTION_ATTRIBUTES: &[AttributeField] = &[
    field("max-connections", "concurrency", "NUMERIC", numeric),
    field(
        "max-connections-per-user",
        "concurrency",
        "NUMERIC",
        numeric,
    ),
    field("weight", "load-balancing", "NUMERIC", numeric),
    AttributeField {
        options: &["true"],
        ..field("failover-only", "load-balancing", "BOOLEAN", exactly_true)
    },
    field("guacd-hostname", "guacd", "TEXT", text),
    field("guacd-port", "guacd", "NUMERIC", numeric),
    AttributeField {
        options: &["", "none", "ssl"],
        ..field("guacd-encryption", "guacd", "ENUM", encryption)
    },
];

/// The order JDBC's connection attribute map is written in (rest-api.md §3).
pub const CONNECTION_ATTRIBUTE_ORDER: &[&str] = &[
    "max-connections",
    "max-connections-per-user",
    "guacd-hostname",
    "guacd-port",
    "guacd-encryption",
    "weight",
    "failover-only",
];

pub static GROUP_ATTRIBUTES: &[AttributeField] = &[
    field("max-connections", "concurrency", "NUMERIC", numeric),
    field(
        "max-connections-per-user",
        "concurrency",
        "NUMERIC",
        numeric,
    ),
    AttributeField {
        options: &["true"],
        ..field(
            "enable-session-affinity",
            "concurrency",
            "BOOLEAN",
            exactly_true,
        )
    },
];

pub static USER_ATTRIBUTES: &[AttributeField] = &[
    field("guac-full-name", "profile", "TEXT", text),
    field("guac-email-address", "profile", "EMAIL", text),
    field("guac-organization", "profile", "TEXT", text),
    field("guac-organizational-role", "profile", "TEXT", text),
    AttributeField {
        options: &["true"],
        restricted: true,
        ..field("expired", "restrictions", "BOOLEAN", exactly_true)
    },
    AttributeField {
        restricted: true,
        ..field("access-window-start", "restrictions", "TIME", time)
    },
    AttributeField {
        restricted: true,
        ..field("access-window-end", "restrictions", "TIME", time)
    },
    AttributeField {
        restricted: true,
        ..field("valid-from", "restrictions", "DATE", date)
    },
    AttributeField {
        restricted: true,
        ..field("valid-until", "restrictions", "DATE", date)
    },
    AttributeField {
        restricted: true,
        ..field("timezone", "restrictions", "TIMEZONE", text)
    },
];

/// 1.5.x users: `disabled` is the first `restrictions` attribute
/// (`1.5.5:.../jdbc/user/ModeledUser.java` `ACCOUNT_RESTRICTIONS`); 1.6.0 moved it
/// to the top-level `disabled` property.
pub static USER_ATTRIBUTES_1_5: &[AttributeField] = &[
    field("guac-full-name", "profile", "TEXT", text),
    field("guac-email-address", "profile", "EMAIL", text),
    field("guac-organization", "profile", "TEXT", text),
    field("guac-organizational-role", "profile", "TEXT", text),
    AttributeField {
        options: &["true"],
        restricted: true,
        ..field("disabled", "restrictions", "BOOLEAN", exactly_true)
    },
    AttributeField {
        options: &["true"],
        restricted: true,
        ..field("expired", "restrictions", "BOOLEAN", exactly_true)
    },
    AttributeField {
        restricted: true,
        ..field("access-window-start", "restrictions", "TIME", time)
    },
    AttributeField {
        restricted: true,
        ..field("access-window-end", "restrictions", "TIME", time)
    },
    AttributeField {
        restricted: true,
        ..field("valid-from", "restrictions", "DATE", date)
    },
    AttributeField {
        restricted: true,
        ..field("valid-until", "restrictions", "DATE", date)
    },
    AttributeField {
        restricted: true,
        ..field("timezone", "restrictions", "TIMEZONE", text)
    },
];

/// 1.5.x user groups: one `restrictions` form holding `disabled`
/// (`1.5.5:.../jdbc/usergroup/ModeledUserGroup.java`); 1.6.0 declares none.
pub static USER_GROUP_ATTRIBUTES_1_5: &[AttributeField] = &[AttributeField {
    options: &["true"],
    restricted: true,
    ..field("disabled", "restrictions", "BOOLEAN", exactly_true)
}];

/// The user attribute schema of a version.
#[must_use]
pub fn user_attributes(version: GuacamoleVersion) -> &'static [AttributeField] {
    if version.is_1_5() {
        USER_ATTRIBUTES_1_5
    } else {
        USER_ATTRIBUTES
    }
}

/// The user group attribute schema of a version.
#[must_use]
pub fn user_group_attributes(version: GuacamoleVersion) -> &'static [AttributeField] {
    if version.is_1_5() {
        USER_GROUP_ATTRIBUTES_1_5
    } else {
        &[]
    }
}

/// Forms as the schema endpoints return them.
#[must_use]
pub fn forms(fields: &[AttributeField]) -> Value {
    let mut forms: Vec<(&str, Vec<Value>)> = Vec::new();
    for f in fields {
        let mut v = json!({"name": f.name, "type": f.field_type});
        if !f.options.is_empty() {
            v["options"] = json!(f.options);
        }
        match forms.iter_mut().find(|(n, _)| *n == f.form) {
            Some((_, list)) => list.push(v),
            None => forms.push((f.form, vec![v])),
        }
    }
    Value::Array(
        forms
            .into_iter()
            .map(|(name, fields)| json!({"name": name, "fields": fields}))
            .collect(),
    )
}

/// `GET .../schema/protocols`: every protocol of `schemas/protocols.json`, its
/// parameters as one connection form, and the `display` sharing-profile form.
#[must_use]
pub fn protocols() -> Value {
    let raw: serde_json::Map<String, Value> =
        serde_json::from_str(include_str!("../../schemas/protocols.json")).unwrap_or_default();
    let mut out = serde_json::Map::new();
    for (name, fields) in raw {
        out.insert(
            name.clone(),
            json!({
                "name": name,
                "connectionForms": [{"name": "parameters", "fields": fields}],
                "sharingProfileForms": [{"name": "display", "fields": [
                    {"name": "read-only", "type": "BOOLEAN", "options": ["true"]}
                ]}]
            }),
        );
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_protocols_parse() {
        let p = protocols();
        assert_eq!(p.as_object().map(serde_json::Map::len), Some(5));
        assert!(
            p["rdp"]["connectionForms"][0]["fields"]
                .as_array()
                .is_some_and(|f| f.len() == 90)
        );
    }

    #[test]
    fn attribute_values_read_back_like_jdbc() {
        assert_eq!(numeric(" 4 "), None);
        assert_eq!(numeric("007"), Some("7".into()));
        assert_eq!(numeric("+4822"), Some("4822".into()));
        assert_eq!(numeric("-0"), Some("0".into()));
        assert_eq!(numeric("2147483648"), None);
        assert_eq!(numeric("four"), None);
        assert_eq!(exactly_true("TRUE"), None);
        assert_eq!(exactly_true("true"), Some("true".into()));
        assert_eq!(encryption("tls"), None);
        assert_eq!(time("08:30:00"), Some("08:30:00".into()));
        assert_eq!(date("2026-13-1"), None);
    }
}

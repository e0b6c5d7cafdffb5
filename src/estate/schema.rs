//! The attribute and parameter schemas of the estate kinds, embedded from
//! `schemas/` so that estate documents validate offline, and how each attribute
//! value is written so that the server keeps exactly what the document says.
//!
//! Sources (guacamole-client 1.6.0): user attributes `ModeledUser.PROFILE` and
//! `ACCOUNT_RESTRICTIONS`; connection group attributes
//! `ModeledConnectionGroup.CONCURRENCY_LIMITS`; sharing profile parameters the
//! `sharingProfileForms` of `guacamole-ext/.../protocols/*.json` (identical at
//! HEAD). User groups and sharing profiles have no JDBC attributes. Extensions
//! (TOTP, auth-restrict) add attributes on a real server; offline they are
//! unknown names (a warning).

use std::collections::BTreeMap;
use std::sync::OnceLock;

use crate::schema::{Field, FieldType, Form};
use crate::secret;

/// User attributes whose values are secrets: the TOTP extension's key
/// (`TOTPUser.TOTP_KEY_SECRET_ATTRIBUTE_NAME`). Shown as `(sensitive)`.
pub const SENSITIVE_USER_ATTRIBUTES: &[&str] = &["guac-totp-key-secret"];

/// The schemas of the estate kinds.
#[derive(Clone, Debug)]
pub struct EstateSchema {
    pub user_attributes: Vec<Field>,
    pub connection_group_attributes: Vec<Field>,
    /// Protocol → the parameters its sharing profiles take.
    pub sharing_parameters: BTreeMap<String, Vec<Field>>,
}

static BUILTIN: OnceLock<EstateSchema> = OnceLock::new();

impl EstateSchema {
    /// The schemas embedded from `schemas/` at build time.
    ///
    /// # Panics
    /// Never at run time: the embedded files are checked by a unit test.
    #[must_use]
    #[allow(clippy::expect_used)]
    pub fn builtin() -> &'static Self {
        BUILTIN.get_or_init(|| {
            let forms = |text: &str| -> Vec<Field> {
                let forms: Vec<Form> = serde_json::from_str(text).expect("embedded forms");
                forms.into_iter().flat_map(|f| f.fields).collect()
            };
            let sharing: BTreeMap<String, Vec<Form>> = serde_json::from_str(include_str!(
                "../../schemas/sharing-profile-parameters.json"
            ))
            .expect("embedded sharing profile forms");
            Self {
                user_attributes: forms(include_str!("../../schemas/user-attributes.json")),
                connection_group_attributes: forms(include_str!(
                    "../../schemas/connection-group-attributes.json"
                )),
                sharing_parameters: sharing
                    .into_iter()
                    .map(|(p, forms)| (p, forms.into_iter().flat_map(|f| f.fields).collect()))
                    .collect(),
            }
        })
    }

    /// Every sharing profile parameter of any known protocol, once: a profile's
    /// connection may be declared in another file or exist only on the server, so
    /// its protocol is not known while a document is read.
    #[must_use]
    pub fn any_sharing_parameter(&self, name: &str) -> Option<&Field> {
        self.sharing_parameters
            .values()
            .flatten()
            .find(|f| f.name == name)
    }

    /// Names of all sharing profile parameters, sorted, without duplicates.
    #[must_use]
    pub fn sharing_parameter_names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self
            .sharing_parameters
            .values()
            .flatten()
            .map(|f| f.name.as_str())
            .collect();
        names.sort_unstable();
        names.dedup();
        names
    }
}

/// What an attribute value means to the server, as written in a document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AttributeValue {
    /// Stored as this text (possibly rewritten to its canonical spelling).
    Set(String),
    /// Stored as null: `false` for a BOOLEAN attribute, which the server keeps as
    /// null (`ModeledUser#setUnrestrictedAttributes` tests `"true".equals`).
    Clear,
}

/// Checks and normalises one attribute value against its field, the way the JDBC
/// data source reads it. A value the server would silently ignore (or, for a date
/// or time, read leniently into another value) is an error whose text says what
/// is expected. A value holding a secret reference is checked once resolved.
///
/// # Errors
/// What the value must be, e.g. "a date written YYYY-MM-DD".
pub fn attribute_value(field: &Field, value: &str) -> Result<AttributeValue, String> {
    if secret::has_reference(value) {
        return Ok(AttributeValue::Set(value.to_owned()));
    }
    match field.field_type {
        FieldType::Numeric => value
            .trim()
            .parse::<i32>()
            .map(|n| AttributeValue::Set(n.to_string()))
            .map_err(|_| "an integer".to_owned()),
        FieldType::Boolean => {
            let lower = value.trim().to_lowercase();
            if let Some(option) = field.options.iter().find(|o| o.to_lowercase() == lower) {
                Ok(AttributeValue::Set(option.clone()))
            } else if lower == "false" {
                Ok(AttributeValue::Clear)
            } else {
                Err("`true` or `false`".to_owned())
            }
        }
        FieldType::Enum => {
            let lower = value.trim().to_lowercase();
            field
                .options
                .iter()
                .find(|o| !o.is_empty() && o.to_lowercase() == lower)
                .map(|o| AttributeValue::Set(o.clone()))
                .ok_or_else(|| {
                    let list: Vec<String> = field
                        .options
                        .iter()
                        .filter(|o| !o.is_empty())
                        .map(|o| format!("`{o}`"))
                        .collect();
                    format!("one of {}", list.join(", "))
                })
        }
        FieldType::Date if !is_date(value) => {
            Err("a date written YYYY-MM-DD (Guacamole's DateField format)".to_owned())
        }
        FieldType::Time if !is_time(value) => {
            Err("a time written HH:MM:SS (Guacamole's TimeField format)".to_owned())
        }
        _ => Ok(AttributeValue::Set(value.to_owned())),
    }
}

/// `yyyy-MM-dd` naming a real day. Guacamole parses with a lenient
/// `SimpleDateFormat`, so `2027-02-30` would be stored as March 2 and read back
/// differently; only the canonical form of a real date is accepted.
fn is_date(value: &str) -> bool {
    let parts: Vec<&str> = value.split('-').collect();
    let [y, m, d] = parts[..] else {
        return false;
    };
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    if !(digits(y, 4) && digits(m, 2) && digits(d, 2)) {
        return false;
    }
    let (Ok(year), Ok(month), Ok(day)) = (y.parse::<u32>(), m.parse::<u32>(), d.parse::<u32>())
    else {
        return false;
    };
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    year >= 1 && (1..=days).contains(&day)
}

/// `HH:mm:ss` on a 24-hour clock (lenient parsing would roll `25:00:00` over).
fn is_time(value: &str) -> bool {
    let parts: Vec<&str> = value.split(':').collect();
    let [h, m, s] = parts[..] else {
        return false;
    };
    let within = |text: &str, max: u32| {
        text.len() == 2
            && text.bytes().all(|b| b.is_ascii_digit())
            && text.parse::<u32>().is_ok_and(|n| n <= max)
    };
    within(h, 23) && within(m, 59) && within(s, 59)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(name: &str, field_type: FieldType, options: &[&str]) -> Field {
        Field {
            name: name.to_owned(),
            field_type,
            options: options.iter().map(|o| (*o).to_owned()).collect(),
        }
    }

    #[test]
    fn builtin_schemas_match_the_jdbc_data_source() {
        let s = EstateSchema::builtin();
        let names = |fields: &[Field]| -> Vec<String> {
            fields.iter().map(|f| f.name.clone()).collect::<Vec<_>>()
        };
        assert_eq!(
            names(&s.user_attributes),
            [
                "guac-full-name",
                "guac-email-address",
                "guac-organization",
                "guac-organizational-role",
                "expired",
                "access-window-start",
                "access-window-end",
                "valid-from",
                "valid-until",
                "timezone"
            ]
        );
        assert_eq!(
            names(&s.connection_group_attributes),
            [
                "max-connections",
                "max-connections-per-user",
                "enable-session-affinity"
            ]
        );
        assert_eq!(
            s.sharing_parameters.keys().collect::<Vec<_>>(),
            ["kubernetes", "rdp", "ssh", "telnet", "vnc"]
        );
        assert_eq!(s.sharing_parameter_names(), ["read-only"]);
    }

    #[test]
    fn attribute_values_table() {
        use AttributeValue::{Clear, Set};
        let numeric = field("max-connections", FieldType::Numeric, &[]);
        let boolean = field("expired", FieldType::Boolean, &["true"]);
        let date = field("valid-until", FieldType::Date, &[]);
        let time = field("access-window-start", FieldType::Time, &[]);
        let text = field("guac-full-name", FieldType::Text, &[]);
        let set = |s: &str| Ok(Set(s.to_owned()));
        let cases: Vec<(&Field, &str, Result<AttributeValue, ()>)> = vec![
            (&numeric, " 10 ", set("10")),
            (&numeric, "010", set("10")),
            (&numeric, "ten", Err(())),
            (&numeric, "2147483648", Err(())),
            (&boolean, "TRUE", set("true")),
            (&boolean, "false", Ok(Clear)),
            (&boolean, "yes", Err(())),
            (&date, "2027-06-30", set("2027-06-30")),
            (&date, "2028-02-29", set("2028-02-29")),
            (&date, "2027-02-29", Err(())),
            (&date, "2027-6-30", Err(())),
            (&date, "30.06.2027", Err(())),
            (&date, "0000-01-01", Err(())),
            (&time, "09:00:00", set("09:00:00")),
            (&time, "23:59:59", set("23:59:59")),
            (&time, "24:00:00", Err(())),
            (&time, "9:00", Err(())),
            (&text, " Alice ", set(" Alice ")),
            (&date, "${env:UNTIL}", set("${env:UNTIL}")),
        ];
        for (f, value, expected) in cases {
            let got = attribute_value(f, value).map_err(|_| ());
            assert_eq!(got, expected, "{} = {value:?}", f.name);
        }
    }
}

//! The user and user-group rules (DESIGN.md §8). Declared fields are made
//! equal and undeclared ones left alone: a `replace` overwrites `disabled` and
//! every attribute, so it carries the server's values for what a document does
//! not write. A password is sent on create, and again only on a reset.
//!
//! Guacamole 1.6 carries `disabled` as a field and ignores it on create (a new
//! disabled principal gets a `replace` right after its add, in the same atomic
//! batch); Guacamole 1.5.x carries it as the attribute `disabled` = `"true"` or
//! null, honoured on create (docs/guacamole-versions.md §7).

use std::collections::{BTreeMap, BTreeSet};

use super::super::DiffError;
use super::super::objects::change;
use super::super::rule::Rule;
use super::attribute_changes;
use crate::desired::{Attributes, DesiredUser, DesiredUserGroup};
use crate::estate::schema::SENSITIVE_USER_ATTRIBUTES;
use crate::kinds::ObjectKey;
use crate::observed::ObservedPrincipal;
use crate::plan::{Action, Body, Change, FieldChange, PasswordChange};
use crate::value::Value;

/// The name of 1.5.x's attribute that carries `disabled`.
const LEGACY_DISABLED: &str = "disabled";

/// Why a principal created disabled gets a second change.
const DISABLED_AFTER_CREATE: &str =
    "disabled after creation: Guacamole 1.6 ignores `disabled` when it creates one";

/// The server's attributes as values (secret ones marked).
fn observed_attributes(o: &ObservedPrincipal) -> BTreeMap<String, Value> {
    o.attributes
        .iter()
        .map(|(k, v)| {
            let value = if SENSITIVE_USER_ATTRIBUTES.contains(&k.as_str()) {
                Value::secret(v.clone())
            } else {
                Value::plain(v.clone())
            };
            (k.clone(), value)
        })
        .collect()
}

/// What a principal's body carries besides its name: `disabled` (a field, or on
/// 1.5.x the attribute) and its attributes.
fn state_fields(legacy: bool, disabled: bool, attributes: &Attributes) -> Vec<(String, Body)> {
    let mut attributes = attributes.clone();
    let mut out = Vec::new();
    if legacy {
        attributes.insert(
            LEGACY_DISABLED.to_owned(),
            disabled.then(|| Value::plain("true")),
        );
    } else {
        out.push(("disabled".to_owned(), Body::Bool(disabled)));
    }
    out.push((
        "attributes".to_owned(),
        Body::optional_map(attributes.iter().map(|(k, v)| (k, v.as_ref()))),
    ));
    out
}

/// `disabled` shown as it changes.
fn disabled_change(before: bool, after: bool) -> FieldChange {
    FieldChange::Changed {
        name: "disabled".to_owned(),
        before: Value::plain(before.to_string()),
        after: Value::plain(after.to_string()),
    }
}

/// Every attribute a replace sends: the server's, with the declared keys over
/// them (a declared null clears).
fn full_attributes(declared: &Attributes, o: &ObservedPrincipal) -> Attributes {
    let mut full: Attributes = observed_attributes(o)
        .into_iter()
        .map(|(k, v)| (k, Some(v)))
        .collect();
    for (k, v) in declared {
        full.insert(k.clone(), v.clone());
    }
    full
}

/// The user rule.
pub(in crate::diff) struct UserRule<'a> {
    /// Guacamole 1.5.x (`Observed::object_by_object`).
    pub legacy: bool,
    /// Users whose declared password is sent again.
    pub resets: &'a BTreeSet<String>,
}

impl UserRule<'_> {
    fn body(
        &self,
        d: &DesiredUser,
        password: bool,
        disabled: bool,
        attributes: &Attributes,
    ) -> Body {
        let mut fields = vec![("username".to_owned(), Body::text(d.username.clone()))];
        if password && let Some(p) = &d.password {
            fields.push(("password".to_owned(), Body::Text(p.clone())));
        }
        fields.extend(state_fields(self.legacy, disabled, attributes));
        Body::Map(fields)
    }
}

impl Rule for UserRule<'_> {
    type Key = String;
    type Desired = DesiredUser;
    type Observed = ObservedPrincipal;

    fn object(&self, key: &String) -> ObjectKey {
        ObjectKey::User { name: key.clone() }
    }

    fn add(&mut self, key: &String, d: &DesiredUser) -> Change {
        let disabled = d.disabled.unwrap_or(false);
        let mut c = change(Action::Add, self.object(key));
        c.source = Some(d.source.clone());
        c.password = d.password.as_ref().map(|_| PasswordChange::SetOnCreate);
        if disabled {
            c.fields.push(FieldChange::Added {
                name: "disabled".to_owned(),
                after: Value::plain("true"),
            });
        }
        c.attributes = d
            .attributes
            .iter()
            .filter_map(|(k, v)| {
                v.as_ref().map(|v| FieldChange::Added {
                    name: k.clone(),
                    after: v.clone(),
                })
            })
            .collect();
        c.body = Some(self.body(d, true, disabled, &d.attributes));
        c
    }

    fn after_add(&mut self, key: &String, d: &DesiredUser) -> Option<Change> {
        if self.legacy || d.disabled != Some(true) {
            return None;
        }
        let mut c = change(Action::Change, self.object(key));
        c.identifier = Some(key.clone());
        c.detail = Some(DISABLED_AFTER_CREATE.to_owned());
        c.source = Some(d.source.clone());
        c.fields.push(disabled_change(false, true));
        c.body = Some(self.body(d, false, true, &d.attributes));
        Some(c)
    }

    fn compare(
        &mut self,
        key: &String,
        d: &DesiredUser,
        o: &ObservedPrincipal,
    ) -> Result<Option<Change>, DiffError> {
        let reset = self.resets.contains(key) && d.password.is_some();
        let disabled = d.disabled.unwrap_or(o.disabled);
        let attributes = attribute_changes(&d.attributes, &observed_attributes(o));
        if !reset && disabled == o.disabled && attributes.is_empty() {
            return Ok(None);
        }
        let mut c = change(Action::Change, self.object(key));
        c.identifier = Some(key.clone());
        c.source = Some(d.source.clone());
        if reset {
            c.password = Some(PasswordChange::Reset);
        }
        if disabled != o.disabled {
            c.fields.push(disabled_change(o.disabled, disabled));
        }
        c.attributes = attributes;
        c.body = Some(self.body(d, reset, disabled, &full_attributes(&d.attributes, o)));
        Ok(Some(c))
    }

    fn remove(&self, key: &String, _o: &ObservedPrincipal) -> Change {
        let mut c = change(Action::Remove, self.object(key));
        c.identifier = Some(key.clone());
        c
    }
}

/// The user-group rule.
pub(in crate::diff) struct UserGroupRule {
    pub legacy: bool,
}

impl UserGroupRule {
    fn body(&self, name: &str, disabled: bool, attributes: &Attributes) -> Body {
        let mut fields = vec![("identifier".to_owned(), Body::text(name.to_owned()))];
        fields.extend(state_fields(self.legacy, disabled, attributes));
        Body::Map(fields)
    }
}

impl Rule for UserGroupRule {
    type Key = String;
    type Desired = DesiredUserGroup;
    type Observed = ObservedPrincipal;

    fn object(&self, key: &String) -> ObjectKey {
        ObjectKey::UserGroup { name: key.clone() }
    }

    fn add(&mut self, key: &String, d: &DesiredUserGroup) -> Change {
        let disabled = d.disabled.unwrap_or(false);
        let mut c = change(Action::Add, self.object(key));
        c.source = Some(d.source.clone());
        if disabled {
            c.fields.push(FieldChange::Added {
                name: "disabled".to_owned(),
                after: Value::plain("true"),
            });
        }
        c.body = Some(self.body(key, disabled, &Attributes::new()));
        c
    }

    fn after_add(&mut self, key: &String, d: &DesiredUserGroup) -> Option<Change> {
        if self.legacy || d.disabled != Some(true) {
            return None;
        }
        let mut c = change(Action::Change, self.object(key));
        c.identifier = Some(key.clone());
        c.detail = Some(DISABLED_AFTER_CREATE.to_owned());
        c.source = Some(d.source.clone());
        c.fields.push(disabled_change(false, true));
        c.body = Some(self.body(key, true, &Attributes::new()));
        Some(c)
    }

    fn compare(
        &mut self,
        key: &String,
        d: &DesiredUserGroup,
        o: &ObservedPrincipal,
    ) -> Result<Option<Change>, DiffError> {
        let Some(disabled) = d.disabled.filter(|d| *d != o.disabled) else {
            return Ok(None);
        };
        let mut c = change(Action::Change, self.object(key));
        c.identifier = Some(key.clone());
        c.source = Some(d.source.clone());
        c.fields.push(disabled_change(o.disabled, disabled));
        c.body = Some(self.body(key, disabled, &full_attributes(&Attributes::new(), o)));
        Ok(Some(c))
    }

    fn remove(&self, key: &String, _o: &ObservedPrincipal) -> Change {
        let mut c = change(Action::Remove, self.object(key));
        c.identifier = Some(key.clone());
        c
    }
}

//! The desired side of the estate kinds (DESIGN.md §8): what the estate documents
//! declare, with every secret-bearing value resolved through the same references
//! and allow-lists as connection parameters (`${env:}`, `${file:}`, `[secrets]`)
//! and marked sensitive where it must never be shown. Passwords, sharing-profile
//! parameters and attribute values may hold references; names and permissions
//! never hold secrets and are taken as declared.
//!
//! Each kind stays small and typed: what `diff` compares and sends, plus the
//! declared places (`Source`, `Ref`) its errors point at.

use std::collections::BTreeMap;
use std::path::Path;

use crate::diagnostic::{Diagnostic, Severity};
use crate::estate::schema::{
    AttributeValue, EstateSchema, SENSITIVE_USER_ATTRIBUTES, attribute_value,
};
use crate::estate::{
    ConnectionGroup, Estate, GroupType, Permissions, Ref, SharingProfile, SharingProfileKey,
    SystemPermission, User, UserGroup,
};
use crate::model::{GroupPath, Source};
use crate::schema::Field;
use crate::secret::{self, Lookup};
use crate::value::Value;

/// Attribute values as a document writes them: `Some` sets, `None` clears; a key
/// not written is left alone.
pub type Attributes = BTreeMap<String, Option<Value>>;

/// Principals given READ by a `users` / `groups` pair (`None`: not written).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReadLists {
    pub users: Option<Vec<Ref<String>>>,
    pub groups: Option<Vec<Ref<String>>>,
}

impl ReadLists {
    /// Every principal named, users first.
    pub fn principals(&self) -> impl Iterator<Item = (crate::model::Principal, &Source)> {
        use crate::model::Principal;
        let users = self
            .users
            .iter()
            .flatten()
            .map(|r| (Principal::User(r.target.clone()), &r.source));
        let groups = self
            .groups
            .iter()
            .flatten()
            .map(|r| (Principal::UserGroup(r.target.clone()), &r.source));
        users.chain(groups)
    }

    /// Whether either list is written (READ on the object is then managed).
    #[must_use]
    pub fn is_written(&self) -> bool {
        self.users.is_some() || self.groups.is_some()
    }
}

/// A declared connection group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DesiredGroup {
    pub path: GroupPath,
    /// `None`: an existing group keeps its type, a new one is ORGANIZATIONAL.
    pub group_type: Option<GroupType>,
    pub attributes: Attributes,
    pub read: ReadLists,
    pub source: Source,
}

/// A declared sharing profile.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DesiredSharingProfile {
    pub key: SharingProfileKey,
    /// Where the profile names its connection.
    pub connection_source: Source,
    /// Exact when written.
    pub parameters: Option<BTreeMap<String, Value>>,
    pub read: ReadLists,
    pub source: Source,
}

/// A declared user group (nothing in it is resolved: names and permissions only).
pub type DesiredUserGroup = UserGroup;

/// A declared user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DesiredUser {
    pub username: String,
    /// Sensitive; sent on create and on a reset only.
    pub password: Option<Value>,
    pub disabled: Option<bool>,
    pub attributes: Attributes,
    pub system: Option<Vec<Ref<SystemPermission>>>,
    pub permissions: Permissions,
    pub source: Source,
}

/// Everything the estate documents declare, resolved.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DesiredEstate {
    pub groups: Vec<DesiredGroup>,
    pub sharing_profiles: Vec<DesiredSharingProfile>,
    pub user_groups: Vec<DesiredUserGroup>,
    pub users: Vec<DesiredUser>,
}

impl DesiredEstate {
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
            && self.sharing_profiles.is_empty()
            && self.user_groups.is_empty()
            && self.users.is_empty()
    }

    /// The declared user with this username.
    #[must_use]
    pub fn user(&self, username: &str) -> Option<&DesiredUser> {
        self.users.iter().find(|u| u.username == username)
    }
}

/// Resolves references in one value; records what was used.
struct Resolver<'a> {
    lookup: &'a dyn Lookup,
    used: &'a mut BTreeMap<secret::Used, (usize, Source)>,
    diagnostics: Vec<Diagnostic>,
}

impl Resolver<'_> {
    /// The value of `written` (a reference resolved, sensitive), `sensitive`
    /// saying whether a literal is a secret; `None` after reporting an error.
    /// `limited`: the value is stored in a column of at most 4096 characters (a
    /// parameter or attribute; a password is hashed, so it has no such limit).
    fn value(
        &mut self,
        written: &str,
        sensitive: bool,
        limited: bool,
        source: &Source,
        what: &dyn Fn() -> String,
    ) -> Option<Value> {
        let base = Path::new(&source.file)
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default();
        let mut this = Vec::new();
        match secret::resolve(written, &base, self.lookup, &mut this) {
            Ok(Some(resolved)) => {
                if limited && let Some(d) = super::too_long(&resolved, &this, source, what) {
                    self.diagnostics.push(d);
                    return None;
                }
                for u in this {
                    self.used.entry(u).or_insert_with(|| (0, source.clone())).0 += 1;
                }
                Some(Value::resolved(resolved, written))
            }
            Ok(None) if sensitive && !secret::is_token_only(written) => {
                Some(Value::secret(written))
            }
            Ok(None) => Some(Value::plain(written)),
            Err(e) => {
                let (code, help) = if e.is_refusal() {
                    (
                        "secret-not-allowed",
                        "a reference may name only what guacsync.toml's [secrets] section allows (env: variable names or globs; files: directories), never guacsync's own credentials; see SECURITY.md",
                    )
                } else {
                    (
                        "unresolved-secret",
                        "set the variable or create the file before planning; references are resolved when a plan is made",
                    )
                };
                self.error(code, source, format!("{}: {e}", what()), help);
                None
            }
        }
    }

    fn error(&mut self, code: &'static str, source: &Source, message: String, help: &str) {
        self.diagnostics.push(Diagnostic {
            severity: Severity::Error,
            code,
            file: source.file.clone(),
            line: source.line,
            column: source.column,
            message,
            help: Some(help.to_owned()),
        });
    }

    /// Attribute values resolved; a value that came from a reference is checked
    /// against its field now (the parser could only check what was written).
    fn attributes(
        &mut self,
        declared: &BTreeMap<String, Option<String>>,
        fields: &[Field],
        sensitive: &[&str],
        source: &Source,
        owner: &str,
    ) -> Option<Attributes> {
        let mut out = Attributes::new();
        let mut ok = true;
        for (name, value) in declared {
            let Some(text) = value else {
                out.insert(name.clone(), None);
                continue;
            };
            let secret = sensitive.contains(&name.as_str());
            let what = || format!("{owner}, attribute {name:?}");
            let Some(v) = self.value(text, secret, true, source, &what) else {
                ok = false;
                continue;
            };
            if !secret::has_reference(text) {
                out.insert(name.clone(), Some(v));
                continue;
            }
            match fields.iter().find(|f| f.name == *name) {
                None => {
                    out.insert(name.clone(), Some(v));
                }
                Some(field) => match attribute_value(field, v.expose()) {
                    Ok(AttributeValue::Set(canonical)) => {
                        out.insert(name.clone(), Some(Value::resolved(canonical, text.clone())));
                    }
                    Ok(AttributeValue::Clear) => {
                        out.insert(name.clone(), None);
                    }
                    Err(expected) => {
                        ok = false;
                        self.error(
                            "invalid-attribute-value",
                            source,
                            format!("{}: the value {text} resolves to something that is not {expected}", what()),
                            "Guacamole ignores any other value silently, so the object would never match",
                        );
                    }
                },
            }
        }
        ok.then_some(out)
    }
}

/// Resolves an estate. Objects with an unresolvable reference are left out and
/// reported (as connections are); the references used are added to `used`.
pub(super) fn resolve(
    estate: Estate,
    lookup: &dyn Lookup,
    used: &mut BTreeMap<secret::Used, (usize, Source)>,
) -> (DesiredEstate, Vec<Diagnostic>) {
    let schema = EstateSchema::builtin();
    let mut r = Resolver {
        lookup,
        used,
        diagnostics: Vec::new(),
    };
    let mut out = DesiredEstate::default();
    for g in estate.connection_groups {
        if let Some(d) = group(&mut r, g, &schema.connection_group_attributes) {
            out.groups.push(d);
        }
    }
    for p in estate.sharing_profiles {
        if let Some(d) = sharing_profile(&mut r, p, schema) {
            out.sharing_profiles.push(d);
        }
    }
    out.user_groups = estate.user_groups;
    for u in estate.users {
        if let Some(d) = user(&mut r, u, &schema.user_attributes) {
            out.users.push(d);
        }
    }
    (out, r.diagnostics)
}

fn group(r: &mut Resolver<'_>, g: ConnectionGroup, fields: &[Field]) -> Option<DesiredGroup> {
    let owner = format!("connection group {}", g.path);
    let attributes = r.attributes(&g.attributes, fields, &[], &g.source, &owner)?;
    Some(DesiredGroup {
        path: g.path,
        group_type: g.group_type,
        attributes,
        read: ReadLists {
            users: g.users,
            groups: g.groups,
        },
        source: g.source,
    })
}

fn sharing_profile(
    r: &mut Resolver<'_>,
    p: SharingProfile,
    schema: &EstateSchema,
) -> Option<DesiredSharingProfile> {
    let key = p.key();
    let parameters = match &p.parameters {
        None => None,
        Some(declared) => {
            let mut out = BTreeMap::new();
            let mut ok = true;
            for (name, text) in declared {
                // An unknown name is most likely a typo'd secret: never shown.
                let sensitive = schema.any_sharing_parameter(name).is_none();
                let what = || format!("sharing profile {key}, parameter {name:?}");
                match r.value(text, sensitive, true, &p.source, &what) {
                    Some(v) => {
                        out.insert(name.clone(), v);
                    }
                    None => ok = false,
                }
            }
            if !ok {
                return None;
            }
            Some(out)
        }
    };
    Some(DesiredSharingProfile {
        key,
        connection_source: p.connection.source,
        parameters,
        read: ReadLists {
            users: p.users,
            groups: p.groups,
        },
        source: p.source,
    })
}

fn user(r: &mut Resolver<'_>, u: User, fields: &[Field]) -> Option<DesiredUser> {
    let owner = format!("user {:?}", u.username);
    let attributes = r.attributes(
        &u.attributes,
        fields,
        SENSITIVE_USER_ATTRIBUTES,
        &u.source,
        &owner,
    );
    let password = match &u.password {
        None => Some(None),
        Some(p) => {
            let what = || format!("{owner}, password");
            r.value(p.written(), true, false, &p.source, &what)
                .map(Some)
        }
    };
    let (Some(attributes), Some(password)) = (attributes, password) else {
        return None;
    };
    Some(DesiredUser {
        username: u.username,
        password,
        disabled: u.disabled,
        attributes,
        system: u.system,
        permissions: u.permissions,
        source: u.source,
    })
}

//! The typed objects an estate document declares (DESIGN.md §8), as the parser
//! produces them and the desired state will take them.
//!
//! Two rules shape every type here. "Absent means left alone; present means
//! exact": every field a document may leave out is an `Option` (or, for attribute
//! maps, a per-key entry whose `None` value means "clear"), so a later stage can
//! tell "not written" from "written empty". And every object and every reference
//! to another object carries the [`Source`] it was written at, so the plan can
//! check references against the documents and the server and point at the line.
//! Server identifiers never appear: objects are named by paths and names.

use std::collections::BTreeMap;
use std::fmt;

use crate::model::{ConnKey, GroupPath, Source};
use crate::secret;
use crate::value::REDACTED;

/// Everything the estate documents of one load declare, each kind in the order
/// it was read (file order, then document order).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Estate {
    pub connection_groups: Vec<ConnectionGroup>,
    pub sharing_profiles: Vec<SharingProfile>,
    pub user_groups: Vec<UserGroup>,
    pub users: Vec<User>,
}

impl Estate {
    /// Whether no object of any kind is declared.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.connection_groups.is_empty()
            && self.sharing_profiles.is_empty()
            && self.user_groups.is_empty()
            && self.users.is_empty()
    }

    /// Appends another estate's objects (a later file's).
    pub fn extend(&mut self, other: Self) {
        self.connection_groups.extend(other.connection_groups);
        self.sharing_profiles.extend(other.sharing_profiles);
        self.user_groups.extend(other.user_groups);
        self.users.extend(other.users);
    }

    /// The declared user with this username.
    #[must_use]
    pub fn user(&self, username: &str) -> Option<&User> {
        self.users.iter().find(|u| u.username == username)
    }
}

/// A name, path or permission written in a document, with where it was written.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Ref<T> {
    pub target: T,
    pub source: Source,
}

/// The identity of a sharing profile: its primary connection and its name.
/// Written as one path, `ROOT/Prod/Web/web-1/watch-only`.
#[derive(
    Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub struct SharingProfileKey {
    pub connection: ConnKey,
    pub name: String,
}

impl fmt::Display for SharingProfileKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/", self.connection)?;
        write_escaped(f, &self.name)
    }
}

/// A path segment with `/` and `\` escaped, as group paths write them.
pub(crate) fn write_escaped(f: &mut fmt::Formatter<'_>, name: &str) -> fmt::Result {
    for c in name.chars() {
        match c {
            '/' => f.write_str("\\/")?,
            '\\' => f.write_str("\\\\")?,
            other => fmt::Write::write_char(f, other)?,
        }
    }
    Ok(())
}

/// A connection group's type (Guacamole's `ConnectionGroup.Type`, case-sensitive
/// on the wire).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum GroupType {
    Organizational,
    Balancing,
}

impl GroupType {
    pub const ALL: [Self; 2] = [Self::Organizational, Self::Balancing];

    /// The name the REST API and documents use.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Organizational => "ORGANIZATIONAL",
            Self::Balancing => "BALANCING",
        }
    }
}

/// A connection group. `group_type: None` leaves an existing group's type alone
/// and creates a new one as ORGANIZATIONAL (the server's default).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectionGroup {
    pub path: GroupPath,
    pub group_type: Option<GroupType>,
    /// Only the keys written: `Some(v)` sets, `None` (written `null` or empty)
    /// clears; a key not written is left alone.
    pub attributes: BTreeMap<String, Option<String>>,
    /// Principals given READ on the group itself; `None` when not written.
    pub users: Option<Vec<Ref<String>>>,
    pub groups: Option<Vec<Ref<String>>>,
    pub source: Source,
}

/// A sharing profile of a connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SharingProfile {
    pub connection: Ref<ConnKey>,
    pub name: String,
    /// Exact when written (a profile's parameters are replaced whole, like a
    /// connection's); null or empty values are dropped.
    pub parameters: Option<BTreeMap<String, String>>,
    /// Principals given READ on the sharing profile.
    pub users: Option<Vec<Ref<String>>>,
    pub groups: Option<Vec<Ref<String>>>,
    pub source: Source,
}

impl SharingProfile {
    #[must_use]
    pub fn key(&self) -> SharingProfileKey {
        SharingProfileKey {
            connection: self.connection.target.clone(),
            name: self.name.clone(),
        }
    }
}

/// A user group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserGroup {
    pub name: String,
    pub disabled: Option<bool>,
    /// `members.users` and `members.groups`, each exact when written.
    pub member_users: Option<Vec<Ref<String>>>,
    pub member_groups: Option<Vec<Ref<String>>>,
    /// System permissions, exact when written (`[]` revokes every one).
    pub system: Option<Vec<Ref<SystemPermission>>>,
    pub permissions: Permissions,
    pub source: Source,
}

/// A user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    pub username: String,
    /// Sent when the user is created, and on a password reset.
    pub password: Option<Password>,
    pub disabled: Option<bool>,
    pub attributes: BTreeMap<String, Option<String>>,
    pub system: Option<Vec<Ref<SystemPermission>>>,
    pub permissions: Permissions,
    pub source: Source,
}

/// A password as written: a secret reference (resolved when a plan is made) or a
/// literal. Debug and [`Password::shown`] never print a literal.
#[derive(Clone, PartialEq, Eq)]
pub struct Password {
    written: String,
    pub source: Source,
}

impl Password {
    #[must_use]
    pub fn new(written: String, source: Source) -> Self {
        Self { written, source }
    }

    /// The text as written, for resolving. Never print it.
    #[must_use]
    pub fn written(&self) -> &str {
        &self.written
    }

    /// Whether it holds a `${env:}` / `${file:}` reference.
    #[must_use]
    pub fn is_reference(&self) -> bool {
        secret::has_reference(&self.written)
    }

    /// What may be shown: the reference as written, or `(sensitive)`.
    #[must_use]
    pub fn shown(&self) -> &str {
        if self.is_reference() {
            &self.written
        } else {
            REDACTED
        }
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Password({:?} at {})", self.shown(), self.source)
    }
}

/// Object permissions of a principal, one optional map per kind: each kind that is
/// written is exact for that principal (within the scope groups).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Permissions {
    pub connections: Option<Vec<Grant<ConnKey>>>,
    pub connection_groups: Option<Vec<Grant<GroupPath>>>,
    pub sharing_profiles: Option<Vec<Grant<SharingProfileKey>>>,
    pub users: Option<Vec<Grant<String>>>,
    pub user_groups: Option<Vec<Grant<String>>>,
}

impl Permissions {
    /// Whether no kind is written.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.connections.is_none()
            && self.connection_groups.is_none()
            && self.sharing_profiles.is_none()
            && self.users.is_none()
            && self.user_groups.is_none()
    }
}

/// The levels granted on one target; sorted in Guacamole's order, no duplicates.
/// An empty list is written on purpose: nothing on that target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grant<T> {
    pub target: Ref<T>,
    pub levels: Vec<Level>,
}

/// An object permission (Guacamole's `ObjectPermission.Type`, in its order).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    Read,
    Update,
    Delete,
    Administer,
}

impl Level {
    pub const ALL: [Self; 4] = [Self::Read, Self::Update, Self::Delete, Self::Administer];

    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Read => "READ",
            Self::Update => "UPDATE",
            Self::Delete => "DELETE",
            Self::Administer => "ADMINISTER",
        }
    }
}

/// A system permission (Guacamole's `SystemPermission.Type`, in its order;
/// rest-api.md §6). `AUDIT` exists from 1.6.0 on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SystemPermission {
    CreateUser,
    CreateUserGroup,
    CreateConnection,
    CreateConnectionGroup,
    CreateSharingProfile,
    Audit,
    Administer,
}

impl SystemPermission {
    pub const ALL: [Self; 7] = [
        Self::CreateUser,
        Self::CreateUserGroup,
        Self::CreateConnection,
        Self::CreateConnectionGroup,
        Self::CreateSharingProfile,
        Self::Audit,
        Self::Administer,
    ];

    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::CreateUser => "CREATE_USER",
            Self::CreateUserGroup => "CREATE_USER_GROUP",
            Self::CreateConnection => "CREATE_CONNECTION",
            Self::CreateConnectionGroup => "CREATE_CONNECTION_GROUP",
            Self::CreateSharingProfile => "CREATE_SHARING_PROFILE",
            Self::Audit => "AUDIT",
            Self::Administer => "ADMINISTER",
        }
    }
}

macro_rules! display_as_str {
    ($($t:ty),*) => {$(
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    )*};
}
display_as_str!(GroupType, Level, SystemPermission);

//! The kinds of Guacamole directory objects guacsync manages, described as data.
//!
//! Guacamole's REST API has one shape for every kind (rest-api.md §3–§8): a
//! directory under `api/session/data/{ds}/{endpoint}` answering a map of
//! identifier → object, the same atomic JSON-Patch batch, single-object
//! POST/PUT/DELETE, and a path prefix in the permission PATCH. A [`Kind`] names one
//! of them and [`Description`] holds what observe and apply need to treat them all
//! alike; an [`ObjectKey`] is guacsync's identity of one object (a path or a name,
//! never a server identifier, DESIGN.md §1).

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::model::{ConnKey, GroupPath};

/// A kind of directory object, in dependency order: an object may refer to objects
/// of earlier kinds only (a connection to its group, a sharing profile to its
/// connection), so creating kind by kind in this order always finds its references.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Kind {
    ConnectionGroup,
    Connection,
    SharingProfile,
    UserGroup,
    User,
}

/// How the server names a new object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Identifier {
    /// A serial number the server assigns (answered in the PATCH outcome or POST echo).
    Generated,
    /// The object's own name (users and user groups).
    Name,
}

/// What guacsync knows about one kind of directory.
#[derive(Debug)]
pub struct Description {
    pub kind: Kind,
    /// The path below `api/session/data/{ds}/`.
    pub endpoint: &'static str,
    /// Singular and plural, as plans and messages say them.
    pub noun: &'static str,
    pub plural: &'static str,
    /// The permission-PATCH path prefix of an object of this kind
    /// (`/connectionPermissions/` + identifier, rest-api.md §6).
    pub permission_path: &'static str,
    /// The key of this kind in a permission set (`connectionPermissions`).
    pub permission_key: &'static str,
    pub identifier: Identifier,
    /// The field of the object that carries its identifier in a request body.
    pub identifier_field: &'static str,
    /// Whether `{endpoint}/{id}/parameters` exists (connection and sharing-profile
    /// parameters are never part of a listing, rest-api.md §3, §8).
    pub has_parameters: bool,
}

const DESCRIPTIONS: [Description; 5] = [
    Description {
        kind: Kind::ConnectionGroup,
        endpoint: "connectionGroups",
        noun: "group",
        plural: "groups",
        permission_path: "/connectionGroupPermissions/",
        permission_key: "connectionGroupPermissions",
        identifier: Identifier::Generated,
        identifier_field: "identifier",
        has_parameters: false,
    },
    Description {
        kind: Kind::Connection,
        endpoint: "connections",
        noun: "connection",
        plural: "connections",
        permission_path: "/connectionPermissions/",
        permission_key: "connectionPermissions",
        identifier: Identifier::Generated,
        identifier_field: "identifier",
        has_parameters: true,
    },
    Description {
        kind: Kind::SharingProfile,
        endpoint: "sharingProfiles",
        noun: "sharing profile",
        plural: "sharing profiles",
        permission_path: "/sharingProfilePermissions/",
        permission_key: "sharingProfilePermissions",
        identifier: Identifier::Generated,
        identifier_field: "identifier",
        has_parameters: true,
    },
    Description {
        kind: Kind::UserGroup,
        endpoint: "userGroups",
        noun: "user group",
        plural: "user groups",
        permission_path: "/userGroupPermissions/",
        permission_key: "userGroupPermissions",
        identifier: Identifier::Name,
        identifier_field: "identifier",
        has_parameters: false,
    },
    Description {
        kind: Kind::User,
        endpoint: "users",
        noun: "user",
        plural: "users",
        permission_path: "/userPermissions/",
        permission_key: "userPermissions",
        identifier: Identifier::Name,
        identifier_field: "username",
        has_parameters: false,
    },
];

impl Kind {
    /// Every kind, in dependency order.
    pub const ALL: [Self; 5] = [
        Self::ConnectionGroup,
        Self::Connection,
        Self::SharingProfile,
        Self::UserGroup,
        Self::User,
    ];

    #[must_use]
    pub fn describe(self) -> &'static Description {
        &DESCRIPTIONS[self as usize]
    }

    #[must_use]
    pub fn noun(self) -> &'static str {
        self.describe().noun
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.noun())
    }
}

/// guacsync's identity of one directory object.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum ObjectKey {
    /// A connection group, by its path.
    ConnectionGroup {
        path: GroupPath,
    },
    /// A connection, by its group path and name.
    Connection {
        #[serde(flatten)]
        key: ConnKey,
    },
    /// A sharing profile, by its primary connection and its name.
    SharingProfile {
        connection: ConnKey,
        name: String,
    },
    UserGroup {
        name: String,
    },
    User {
        name: String,
    },
}

impl ObjectKey {
    #[must_use]
    pub fn kind(&self) -> Kind {
        match self {
            Self::ConnectionGroup { .. } => Kind::ConnectionGroup,
            Self::Connection { .. } => Kind::Connection,
            Self::SharingProfile { .. } => Kind::SharingProfile,
            Self::UserGroup { .. } => Kind::UserGroup,
            Self::User { .. } => Kind::User,
        }
    }

    #[must_use]
    pub fn group(path: GroupPath) -> Self {
        Self::ConnectionGroup { path }
    }

    #[must_use]
    pub fn connection(key: ConnKey) -> Self {
        Self::Connection { key }
    }

    /// A sharing profile, by the key observe and the estate use.
    #[must_use]
    pub fn sharing_profile(key: &crate::estate::SharingProfileKey) -> Self {
        Self::SharingProfile {
            connection: key.connection.clone(),
            name: key.name.clone(),
        }
    }

    /// The object's path without its kind: `ROOT/Prod/web-1`, `alice`.
    #[must_use]
    pub fn path(&self) -> String {
        match self {
            Self::ConnectionGroup { path } => path.to_string(),
            Self::Connection { key } => key.to_string(),
            Self::SharingProfile { connection, name } => format!("{connection} / {name}"),
            Self::UserGroup { name } | Self::User { name } => name.clone(),
        }
    }
}

impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::SharingProfile { connection, name } => {
                write!(f, "sharing profile {name:?} of {connection}")
            }
            Self::UserGroup { name } | Self::User { name } => {
                write!(f, "{} {name:?}", self.kind())
            }
            _ => write!(f, "{} {}", self.kind(), self.path()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptions_are_indexed_by_kind() {
        for kind in Kind::ALL {
            assert_eq!(kind.describe().kind, kind);
        }
        let mut sorted = Kind::ALL;
        sorted.sort();
        assert_eq!(sorted, Kind::ALL, "dependency order is the enum order");
    }

    #[test]
    fn keys_display_and_serialise() {
        let conn = ConnKey {
            group: GroupPath::parse("ROOT/Prod").expect("path"),
            name: "web/1".into(),
        };
        let profile = ObjectKey::SharingProfile {
            connection: conn.clone(),
            name: "watch".into(),
        };
        assert_eq!(
            profile.to_string(),
            "sharing profile \"watch\" of ROOT/Prod/web\\/1"
        );
        assert_eq!(
            ObjectKey::connection(conn.clone()).to_string(),
            "connection ROOT/Prod/web\\/1"
        );
        assert_eq!(
            ObjectKey::User {
                name: "alice".into()
            }
            .to_string(),
            "user \"alice\""
        );
        let json = serde_json::to_value(ObjectKey::connection(conn)).expect("json");
        assert_eq!(
            json,
            serde_json::json!({"kind": "connection", "group": "ROOT/Prod", "name": "web/1"})
        );
        let back: ObjectKey = serde_json::from_value(json).expect("reads back");
        assert_eq!(back.kind(), Kind::Connection);
    }
}

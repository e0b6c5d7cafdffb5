//! The state document: everything the server holds, as one JSON file meant to be
//! read and edited by people (schemas/state.schema.json documents it). The test
//! server loads it, `guacsync --state FILE` plans and syncs against it, and
//! `guacsync export --format state` writes it.
//!
//! Writing is deterministic (objects sorted by identifier, maps by key, empty
//! collections left out), so a state file diffs well in git.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::{Deserialize, Serialize};

/// Object permissions, in Guacamole's enum order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ObjectPermission {
    Read,
    Update,
    Delete,
    Administer,
}

impl ObjectPermission {
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "READ" => Some(Self::Read),
            "UPDATE" => Some(Self::Update),
            "DELETE" => Some(Self::Delete),
            "ADMINISTER" => Some(Self::Administer),
            _ => None,
        }
    }

    pub const ALL: [Self; 4] = [Self::Read, Self::Update, Self::Delete, Self::Administer];
}

/// System permissions, in Guacamole's enum order (`AUDIT` is new in 1.6.0).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
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
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "CREATE_USER" => Some(Self::CreateUser),
            "CREATE_USER_GROUP" => Some(Self::CreateUserGroup),
            "CREATE_CONNECTION" => Some(Self::CreateConnection),
            "CREATE_CONNECTION_GROUP" => Some(Self::CreateConnectionGroup),
            "CREATE_SHARING_PROFILE" => Some(Self::CreateSharingProfile),
            "AUDIT" => Some(Self::Audit),
            "ADMINISTER" => Some(Self::Administer),
            _ => None,
        }
    }
}

#[allow(clippy::trivially_copy_pass_by_ref)] // serde's skip_serializing_if passes a reference
fn is_false(b: &bool) -> bool {
    !*b
}

/// Permissions held directly by a user or a user group, shaped like the REST API's
/// permission set. Object maps are keyed by identifier.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Permissions {
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub system_permissions: BTreeSet<SystemPermission>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub connection_permissions: BTreeMap<String, BTreeSet<ObjectPermission>>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub connection_group_permissions: BTreeMap<String, BTreeSet<ObjectPermission>>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub sharing_profile_permissions: BTreeMap<String, BTreeSet<ObjectPermission>>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub active_connection_permissions: BTreeMap<String, BTreeSet<ObjectPermission>>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub user_permissions: BTreeMap<String, BTreeSet<ObjectPermission>>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub user_group_permissions: BTreeMap<String, BTreeSet<ObjectPermission>>,
}

impl Permissions {
    #[must_use]
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UserState {
    pub username: String,
    /// Plaintext: this is a test fixture. `null` means no password can log in (a
    /// user created without one, as the web import does).
    #[serde(default)]
    pub password: Option<String>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub disabled: bool,
    /// Attributes that are set (`guac-full-name`, `valid-until`, ...).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Permissions::is_empty")]
    pub permissions: Permissions,
    /// Epoch milliseconds of the last login, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_active: Option<i64>,
    /// The user's TOTP key (base32), as `guacamole-auth-totp` keeps it after
    /// enrolment: login then also needs the current code in `guac-totp`, and each
    /// code is accepted once (see `totp.rs`). Never answered by the REST API.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub totp_secret: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UserGroupState {
    pub identifier: String,
    #[serde(default, skip_serializing_if = "is_false")]
    pub disabled: bool,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub member_users: BTreeSet<String>,
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub member_user_groups: BTreeSet<String>,
    #[serde(default, skip_serializing_if = "Permissions::is_empty")]
    pub permissions: Permissions,
}

fn root() -> String {
    "ROOT".to_owned()
}

fn organizational() -> String {
    "ORGANIZATIONAL".to_owned()
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConnectionGroupState {
    pub identifier: String,
    pub name: String,
    /// `ROOT` or another group's identifier.
    #[serde(default = "root")]
    pub parent_identifier: String,
    /// `ORGANIZATIONAL` or `BALANCING`.
    #[serde(default = "organizational", rename = "type")]
    pub group_type: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConnectionState {
    pub identifier: String,
    pub name: String,
    #[serde(default = "root")]
    pub parent_identifier: String,
    pub protocol: String,
    /// Plaintext, as JDBC stores them. Empty values are never stored.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub parameters: BTreeMap<String, String>,
    /// Attributes that are set, including arbitrary (non-schema) ones.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SharingProfileState {
    pub identifier: String,
    pub name: String,
    pub primary_connection_identifier: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub parameters: BTreeMap<String, String>,
}

/// An open session on a connection.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ActiveConnectionState {
    /// The tunnel's UUID.
    pub identifier: String,
    pub connection_identifier: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sharing_profile_identifier: Option<String>,
    pub start_date: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote_host: Option<String>,
    pub username: String,
}

/// A finished or running connection, as history lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HistoryState {
    pub identifier: String,
    pub connection_identifier: Option<String>,
    pub connection_name: String,
    pub username: String,
    pub start_date: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_date: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote_host: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uuid: Option<String>,
}

/// The next value of each serial counter (identifiers are never reused).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NextIds {
    pub connection: u64,
    pub connection_group: u64,
    pub sharing_profile: u64,
    pub history: u64,
}

impl Default for NextIds {
    fn default() -> Self {
        Self {
            connection: 1,
            connection_group: 1,
            sharing_profile: 1,
            history: 1,
        }
    }
}

/// The whole server.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct State {
    /// Format version of this document (1).
    pub version: u32,
    #[serde(default)]
    pub users: Vec<UserState>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub user_groups: Vec<UserGroupState>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub connection_groups: Vec<ConnectionGroupState>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub connections: Vec<ConnectionState>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sharing_profiles: Vec<SharingProfileState>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub active_connections: Vec<ActiveConnectionState>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<HistoryState>,
    /// Derived from the highest identifiers when left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_ids: Option<NextIds>,
}

impl Default for State {
    /// A fresh installation: `guacadmin`/`guacadmin` with every system permission
    /// and READ/UPDATE/ADMINISTER on itself, as Guacamole's initial schema creates it.
    fn default() -> Self {
        let mut permissions = Permissions {
            system_permissions: [
                SystemPermission::CreateConnection,
                SystemPermission::CreateConnectionGroup,
                SystemPermission::CreateSharingProfile,
                SystemPermission::CreateUser,
                SystemPermission::CreateUserGroup,
                SystemPermission::Administer,
            ]
            .into_iter()
            .collect(),
            ..Permissions::default()
        };
        permissions.user_permissions.insert(
            "guacadmin".to_owned(),
            [
                ObjectPermission::Read,
                ObjectPermission::Update,
                ObjectPermission::Administer,
            ]
            .into_iter()
            .collect(),
        );
        Self {
            version: 1,
            users: vec![UserState {
                username: "guacadmin".to_owned(),
                password: Some("guacadmin".to_owned()),
                disabled: false,
                attributes: BTreeMap::new(),
                permissions,
                last_active: None,
                totp_secret: None,
            }],
            user_groups: Vec::new(),
            connection_groups: Vec::new(),
            connections: Vec::new(),
            sharing_profiles: Vec::new(),
            active_connections: Vec::new(),
            history: Vec::new(),
            next_ids: None,
        }
    }
}

/// Why a state document could not be used.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Parse {
        path: String,
        source: serde_json::Error,
    },
    #[error("{path}: {message}")]
    Invalid { path: String, message: String },
}

impl State {
    /// Reads and checks a state file.
    pub fn load(path: &Path) -> Result<Self, StateError> {
        let label = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| StateError::Read {
            path: label.clone(),
            source,
        })?;
        let state: Self = serde_json::from_str(&text).map_err(|source| StateError::Parse {
            path: label.clone(),
            source,
        })?;
        crate::store::Store::from_state(&state).map_err(|message| StateError::Invalid {
            path: label,
            message,
        })?;
        Ok(state)
    }

    /// Pretty JSON with a trailing newline; deterministic.
    #[must_use]
    pub fn to_json_pretty(&self) -> String {
        // A document of strings, maps and numbers always serialises.
        let mut text = serde_json::to_string_pretty(self).unwrap_or_default();
        text.push('\n');
        text
    }
}

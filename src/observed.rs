//! What guacsync saw on the server (or in a `--state` file): the other input of
//! `diff`. Produced by `guacamole::observe`; kept apart from the desired side so the
//! two never mix. Server identifiers live here and in the plan's internals only.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::estate::SharingProfileKey;
use crate::kinds::Kind;
use crate::model::{ConnKey, GroupPath, Principal};
use crate::schema::Schema;

/// A connection group that exists on the server (ROOT is never listed).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObservedGroup {
    pub identifier: String,
    /// `ORGANIZATIONAL` or `BALANCING`.
    pub group_type: String,
}

/// A connection that exists on the server.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObservedConnection {
    pub identifier: String,
    pub protocol: String,
    /// `None` when the parameters were not fetched (the connection does not matter to
    /// this plan). When fetched: only non-empty values (the server never stores empty
    /// ones).
    pub parameters: Option<BTreeMap<String, String>>,
    /// Only attributes that are set (non-null, non-empty); JDBC reports every schema
    /// attribute, null when unset.
    pub attributes: BTreeMap<String, String>,
    /// Open sessions on this connection (`activeConnections`).
    pub active_connections: u32,
}

/// The permissions of one principal (its direct ones, as `.../permissions`
/// answers), by server identifier. `connections` and `groups` are the READ grants
/// the manifests' `users`/`groups` lists manage; `objects` and `system` hold every
/// permission, for what an estate document declares (DESIGN.md §8).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObservedGrants {
    pub connections: BTreeSet<String>,
    pub groups: BTreeSet<String>,
    /// Every object permission: kind → identifier → levels (`READ`, `UPDATE`...).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub objects: BTreeMap<Kind, BTreeMap<String, BTreeSet<String>>>,
    /// System permissions (`CREATE_USER`...).
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub system: BTreeSet<String>,
}

impl ObservedGrants {
    /// Whether the principal holds `level` on the object `identifier` of `kind`.
    #[must_use]
    pub fn holds(&self, kind: Kind, identifier: &str, level: &str) -> bool {
        self.objects
            .get(&kind)
            .and_then(|m| m.get(identifier))
            .is_some_and(|l| l.contains(level))
    }
}

/// A user or a user group as the server lists it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObservedPrincipal {
    /// Guacamole 1.6 says it as a field, 1.5.x as the `disabled` attribute; both
    /// end here (and the attribute is not among `attributes`).
    pub disabled: bool,
    /// Only attributes that are set (non-null, non-empty).
    pub attributes: BTreeMap<String, String>,
}

/// A sharing profile on the server.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObservedSharingProfile {
    pub identifier: String,
    /// `None` when not fetched (it does not matter to this plan).
    pub parameters: Option<BTreeMap<String, String>>,
}

/// The members of a user group (`memberUsers`, `memberUserGroups`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObservedMembers {
    pub users: BTreeSet<String>,
    pub groups: BTreeSet<String>,
}

/// An open session (an entry of `GET .../activeConnections`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActiveSession {
    pub identifier: String,
    pub connection_identifier: String,
    pub username: Option<String>,
}

/// Everything observed, keyed by guacsync's identities.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Observed {
    /// The data source the observation was made on (e.g. `postgresql`).
    pub data_source: String,
    /// The user guacsync is logged in as. The server grants its creator implicit
    /// permissions on every object it creates, so `exact` permission mode leaves this
    /// user alone (or every sync would revoke what the previous one was granted).
    pub session_user: String,
    pub groups: BTreeMap<GroupPath, ObservedGroup>,
    pub connections: BTreeMap<ConnKey, ObservedConnection>,
    /// Every user, by username.
    pub users: BTreeMap<String, ObservedPrincipal>,
    /// Every user group, by name.
    pub user_groups: BTreeMap<String, ObservedPrincipal>,
    /// Every sharing profile (from the tree), by its connection and name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub sharing_profiles: BTreeMap<SharingProfileKey, ObservedSharingProfile>,
    /// The members of the user groups that matter to this plan (by group name).
    /// A group absent here was not fetched.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub memberships: BTreeMap<String, ObservedMembers>,
    /// Permissions of the principals that matter to this plan. A principal that
    /// exists but is absent here was not fetched.
    pub grants: BTreeMap<Principal, ObservedGrants>,
    pub active_sessions: Vec<ActiveSession>,
    /// The server's schema (`schema/protocols`, `schema/connectionAttributes`,
    /// `schema/connectionGroupAttributes`): it decides which parameter and
    /// attribute names exist. `None` only where no server was asked (tests).
    pub schema: Option<Schema>,
    /// The attributes set on each group (by group identifier; null and empty values
    /// left out). A group `replace` overwrites every attribute, so a move carries
    /// these.
    pub group_attributes: BTreeMap<String, BTreeMap<String, String>>,
    /// The account lacks system ADMINISTER and `[server] delegated_account` allowed
    /// it: objects it cannot read may exist and were not seen.
    pub limited_view: bool,
    /// The server applies directory changes object by object (Guacamole 1.5.x, or
    /// a directory without atomic batches), as an empty PATCH found out.
    #[serde(default)]
    pub object_by_object: bool,
    /// Principals whose permissions the server's web container refuses to address:
    /// their name holds `/` or `\`, sent as `%2F` / `%5C`, which a stock Tomcat
    /// answers with 400 (rest-api.md has the Tomcat settings). Neither read nor
    /// changed.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub unaddressable: BTreeSet<Principal>,
}

impl Observed {
    /// The group path of a group identifier (`ROOT` for `"ROOT"`).
    #[must_use]
    pub fn group_path_of(&self, identifier: &str) -> Option<GroupPath> {
        if identifier == "ROOT" {
            return Some(GroupPath::root());
        }
        self.groups
            .iter()
            .find(|(_, g)| g.identifier == identifier)
            .map(|(p, _)| p.clone())
    }

    /// The schema names are checked against: the server's, else the bundled one.
    #[must_use]
    pub fn schema(&self) -> &Schema {
        self.schema.as_ref().unwrap_or_else(|| Schema::builtin())
    }

    /// The server identifier of a group path (`"ROOT"` for ROOT).
    #[must_use]
    pub fn group_identifier(&self, path: &GroupPath) -> Option<&str> {
        if path.is_root() {
            return Some("ROOT");
        }
        self.groups.get(path).map(|g| g.identifier.as_str())
    }
}

/// What the server holds, for the plan-time check of estate references
/// (`estate::references::unresolved`).
impl crate::estate::references::Existing for Observed {
    fn has(&self, target: crate::estate::references::Target<'_>) -> bool {
        use crate::estate::references::Target;
        match target {
            Target::Connection(k) => self.connections.contains_key(k),
            Target::ConnectionGroup(p) => p.is_root() || self.groups.contains_key(p),
            Target::SharingProfile(k) => self.sharing_profiles.contains_key(k),
            Target::User(u) => self.users.contains_key(u),
            Target::UserGroup(g) => self.user_groups.contains_key(g),
        }
    }
}

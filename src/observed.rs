//! What guacsync saw on the server (or in a `--state` file): the other input of
//! `diff`. Produced by `guacamole::observe`; kept apart from the desired side so the
//! two never mix. Server identifiers live here and in the plan's internals only.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::estate::SharingProfileKey;
use crate::fields::Fields;
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
    pub parameters: Option<Fields<String>>,
    /// Only attributes that are set (non-null, non-empty); JDBC reports every schema
    /// attribute, null when unset.
    pub attributes: Fields<String>,
    /// Open sessions on this connection (`activeConnections`).
    pub active_connections: u32,
}

/// The object permission levels one principal holds on one object. Guacamole's
/// `ObjectPermission.Type` has four (`READ`, `UPDATE`, `DELETE`, `ADMINISTER`,
/// rest-api.md §6), held as bits: a set of strings per object cost about 320
/// bytes (a B-tree node and the string), which made the permissions of a
/// 100,000-connection estate the largest part of a plan's memory. A level
/// Guacamole does not define (no server sends one) is kept by name beside them.
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct Levels {
    bits: u8,
    // Boxed so that a `Levels` is 16 bytes, not 32: it is held once per object
    // per principal, and the box is almost never allocated.
    #[allow(clippy::box_collection)]
    other: Option<Box<BTreeSet<String>>>,
}

impl Levels {
    /// The levels Guacamole defines, in its enum's order (the order it lists them in).
    pub const KNOWN: [&'static str; 4] = ["READ", "UPDATE", "DELETE", "ADMINISTER"];

    fn bit(level: &str) -> Option<u8> {
        Self::KNOWN.iter().position(|k| *k == level).map(|i| 1 << i)
    }

    #[must_use]
    pub fn contains(&self, level: &str) -> bool {
        match Self::bit(level) {
            Some(b) => self.bits & b != 0,
            None => self.other.as_ref().is_some_and(|o| o.contains(level)),
        }
    }

    /// Adds `level`; true when it was not there.
    pub fn insert(&mut self, level: &str) -> bool {
        if let Some(b) = Self::bit(level) {
            let new = self.bits & b == 0;
            self.bits |= b;
            return new;
        }
        self.other
            .get_or_insert_with(Box::default)
            .insert(level.to_owned())
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.bits == 0 && self.other.as_ref().is_none_or(|o| o.is_empty())
    }

    #[must_use]
    pub fn len(&self) -> usize {
        self.bits.count_ones() as usize + self.other.as_ref().map_or(0, |o| o.len())
    }

    /// The levels held: Guacamole's in its order, then any other by name.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        Self::KNOWN
            .iter()
            .enumerate()
            .filter(|(i, _)| self.bits & (1 << i) != 0)
            .map(|(_, k)| *k)
            .chain(self.other.iter().flat_map(|o| o.iter().map(String::as_str)))
    }
}

impl<'a> IntoIterator for &'a Levels {
    type Item = &'a str;
    type IntoIter = Box<dyn Iterator<Item = &'a str> + 'a>;
    fn into_iter(self) -> Self::IntoIter {
        Box::new(self.iter())
    }
}

impl<S: AsRef<str>> FromIterator<S> for Levels {
    fn from_iter<I: IntoIterator<Item = S>>(iter: I) -> Self {
        let mut levels = Self::default();
        for l in iter {
            levels.insert(l.as_ref());
        }
        levels
    }
}

/// `["READ".to_owned()].into()`, as a set of strings was built.
impl<S: AsRef<str>, const N: usize> From<[S; N]> for Levels {
    fn from(levels: [S; N]) -> Self {
        levels.into_iter().collect()
    }
}

impl std::fmt::Debug for Levels {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

impl Serialize for Levels {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.iter())
    }
}

impl<'de> Deserialize<'de> for Levels {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(Vec::<String>::deserialize(deserializer)?
            .into_iter()
            .collect())
    }
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
    pub objects: BTreeMap<Kind, BTreeMap<String, Levels>>,
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

#[cfg(test)]
mod tests {
    use super::Levels;

    #[test]
    fn levels_hold_guacamoles_four_as_bits_and_others_by_name() {
        let mut l: Levels = ["ADMINISTER", "READ"].into_iter().collect();
        assert!(l.contains("READ") && l.contains("ADMINISTER"));
        assert!(!l.contains("UPDATE") && !l.contains("read"));
        assert!(!l.insert("READ"), "already there");
        assert!(
            l.insert("AUDIT"),
            "not one of Guacamole's four: kept by name"
        );
        assert!(l.contains("AUDIT"));
        assert_eq!(
            l.iter().collect::<Vec<_>>(),
            ["READ", "ADMINISTER", "AUDIT"]
        );
        assert_eq!(l.len(), 3);
        let json = serde_json::to_string(&l).expect("json");
        assert_eq!(json, r#"["READ","ADMINISTER","AUDIT"]"#);
        let back: Levels = serde_json::from_str(&json).expect("reads back");
        assert_eq!(back, l);
        assert!(Levels::default().is_empty());
        assert_eq!(format!("{:?}", Levels::default()), "{}");
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
    pub parameters: Option<Fields<String>>,
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
    pub group_attributes: BTreeMap<String, Fields<String>>,
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

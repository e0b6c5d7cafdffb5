//! The server's data and every rule that changes it, as the JDBC data source with
//! `PostgreSQL` applies them (rest-api.md §3–§8): validation in the real order,
//! implicit permissions, cascades, the database's own limits.
//!
//! A directory PATCH runs on a clone of the store and is committed only when every
//! patch succeeded, which is the transaction the real server opens.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde_json::{Value, json};

use crate::error::{ApiError, Fail, Result};
use crate::legacy;
use crate::schema;
use crate::state::{
    ActiveConnectionState, ConnectionGroupState, ConnectionState, HistoryState, NextIds,
    ObjectPermission, Permissions, SharingProfileState, State, SystemPermission, UserGroupState,
    UserState,
};
use crate::version::GuacamoleVersion;

pub type PermSet = BTreeSet<ObjectPermission>;

/// Permissions of one entity, keyed for fast lookup.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Perms {
    pub system: BTreeSet<SystemPermission>,
    pub connection: BTreeMap<u64, PermSet>,
    pub connection_group: BTreeMap<u64, PermSet>,
    pub sharing_profile: BTreeMap<u64, PermSet>,
    pub active_connection: BTreeMap<String, PermSet>,
    pub user: BTreeMap<String, PermSet>,
    pub user_group: BTreeMap<String, PermSet>,
}

impl Perms {
    fn merge(&mut self, other: &Self) {
        self.system.extend(other.system.iter().copied());
        for (k, v) in &other.connection {
            self.connection.entry(*k).or_default().extend(v);
        }
        for (k, v) in &other.connection_group {
            self.connection_group.entry(*k).or_default().extend(v);
        }
        for (k, v) in &other.sharing_profile {
            self.sharing_profile.entry(*k).or_default().extend(v);
        }
        for (k, v) in &other.active_connection {
            self.active_connection
                .entry(k.clone())
                .or_default()
                .extend(v);
        }
        for (k, v) in &other.user {
            self.user.entry(k.clone()).or_default().extend(v);
        }
        for (k, v) in &other.user_group {
            self.user_group.entry(k.clone()).or_default().extend(v);
        }
    }
}

#[derive(Clone, Debug)]
pub struct User {
    pub password: Option<String>,
    pub disabled: bool,
    pub attributes: BTreeMap<String, String>,
    pub perms: Perms,
    pub last_active: Option<i64>,
    /// The TOTP key (base32); with it, login needs `guac-totp`.
    pub totp_secret: Option<String>,
}

#[derive(Clone, Debug)]
pub struct UserGroup {
    pub disabled: bool,
    pub attributes: BTreeMap<String, String>,
    pub member_users: BTreeSet<String>,
    pub member_groups: BTreeSet<String>,
    pub perms: Perms,
}

#[derive(Clone, Debug)]
pub struct Group {
    pub name: String,
    pub parent: Option<u64>,
    pub group_type: String,
    pub attributes: BTreeMap<String, String>,
}

#[derive(Clone, Debug)]
pub struct Connection {
    pub name: String,
    pub parent: Option<u64>,
    pub protocol: String,
    pub parameters: BTreeMap<String, String>,
    pub attributes: BTreeMap<String, String>,
}

#[derive(Clone, Debug)]
pub struct SharingProfile {
    pub name: String,
    pub primary: u64,
    pub parameters: BTreeMap<String, String>,
}

/// Who is asking, with permissions already merged from the groups they belong to.
#[derive(Clone, Debug)]
pub struct Actor {
    pub username: String,
    pub admin: bool,
    pub perms: Perms,
}

impl Actor {
    fn has(&self, map: &BTreeMap<u64, PermSet>, id: u64, p: ObjectPermission) -> bool {
        self.admin || map.get(&id).is_some_and(|s| s.contains(&p))
    }

    pub fn can_connection(&self, id: u64, p: ObjectPermission) -> bool {
        self.has(&self.perms.connection, id, p)
    }

    pub fn can_group(&self, id: u64, p: ObjectPermission) -> bool {
        self.has(&self.perms.connection_group, id, p)
    }

    pub fn can_sharing_profile(&self, id: u64, p: ObjectPermission) -> bool {
        self.has(&self.perms.sharing_profile, id, p)
    }

    pub fn can_user(&self, name: &str, p: ObjectPermission) -> bool {
        self.admin || self.perms.user.get(name).is_some_and(|s| s.contains(&p))
    }

    pub fn can_user_group(&self, name: &str, p: ObjectPermission) -> bool {
        self.admin
            || self
                .perms
                .user_group
                .get(name)
                .is_some_and(|s| s.contains(&p))
    }

    pub fn has_system(&self, p: SystemPermission) -> bool {
        self.admin || self.perms.system.contains(&p)
    }
}

fn denied() -> Fail {
    ApiError::permission_denied("Permission denied.").into()
}

/// JDBC ignores identifiers that are not numeric (`isValidIdentifier`).
#[must_use]
pub fn numeric_id(id: &str) -> Option<u64> {
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    id.parse().ok()
}

/// A parent identifier as JDBC resolves it: ROOT or null is the top level; anything
/// else must be an existing group, or the insert fails in the database (500).
fn parent_of(value: &Value, groups: &BTreeMap<u64, Group>) -> Result<Option<u64>> {
    match value {
        Value::Null => Ok(None),
        Value::String(s) if s == "ROOT" => Ok(None),
        Value::String(s) => match numeric_id(s) {
            Some(id) if groups.contains_key(&id) => Ok(Some(id)),
            _ => Err(Fail::Internal),
        },
        Value::Number(n) => match n.as_u64() {
            Some(id) if groups.contains_key(&id) => Ok(Some(id)),
            _ => Err(Fail::Internal),
        },
        _ => Err(Fail::BadJson(
            "parentIdentifier must be a string".to_owned(),
        )),
    }
}

/// A JSON scalar as Jackson binds it to a `String` field.
pub fn text_field(v: Option<&Value>, field: &str) -> Result<Option<String>> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(Value::Bool(b)) => Ok(Some(b.to_string())),
        Some(_) => Err(Fail::BadJson(format!(
            "Cannot deserialize value of type `java.lang.String` from Object value (field \"{field}\")"
        ))),
    }
}

/// A `Map<String, String>` field: `None` when missing or null.
pub fn map_field(
    v: Option<&Value>,
    field: &str,
) -> Result<Option<BTreeMap<String, Option<String>>>> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(m)) => {
            let mut out = BTreeMap::new();
            for (k, v) in m {
                out.insert(k.clone(), text_field(Some(v), field)?);
            }
            Ok(Some(out))
        }
        Some(_) => Err(Fail::BadJson(format!(
            "Cannot deserialize value of type `java.util.Map` (field \"{field}\")"
        ))),
    }
}

fn utf16_len(s: &str) -> usize {
    s.encode_utf16().count()
}

fn chars(s: &str) -> usize {
    s.chars().count()
}

/// The database column limits (`PostgreSQL` schema): breaking them is a database
/// error, which the REST layer turns into 500.
const NAME_LIMIT: usize = 128;
const PROTOCOL_LIMIT: usize = 32;
const VALUE_LIMIT: usize = 4096;

/// The stored form of a connection's parameters: non-empty values only; the
/// 4096-character check of `ConnectionService#beforeCreate/beforeUpdate` first.
fn check_parameters(
    parameters: &BTreeMap<String, Option<String>>,
    version: GuacamoleVersion,
) -> Result<()> {
    if version.is_1_5() {
        // GUACAMOLE-1948 came with 1.6.0: 1.5.x leaves the limit to the database.
        return Ok(());
    }
    for (name, value) in parameters {
        if value.as_deref().is_some_and(|v| utf16_len(v) > VALUE_LIMIT) {
            return Err(ApiError::overrun(format!(
                "The value provided for connection parameter \"{name}\" exceeds the maximum allowed length."
            ))
            .with_translation(
                "CONNECTION_PARAMETERS.DATABASE_PARAMETER_VALUE_TOO_LONG",
                json!({"MAX_SIZE": VALUE_LIMIT, "PARAMETER_NAME": name}),
            )
            .into());
        }
    }
    Ok(())
}

fn stored_parameters(
    parameters: &BTreeMap<String, Option<String>>,
) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for (name, value) in parameters {
        if let Some(v) = value.as_deref().filter(|v| !v.is_empty()) {
            // varchar(128) and varchar(4096): the insert fails in the database.
            if chars(name) > NAME_LIMIT || chars(v) > VALUE_LIMIT {
                return Err(Fail::Internal);
            }
            out.insert(name.clone(), v.to_owned());
        }
    }
    Ok(out)
}

/// How an object's attribute map is applied.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum AttributeMode {
    /// POST, PUT, PATCH add: unknown names dropped first (`filterAttributes`).
    Filtered,
    /// PATCH replace: unknown names stored as arbitrary attributes.
    Unfiltered,
}

/// Applies an attribute map the way JDBC does: every schema attribute is set from
/// the map (absent means null); arbitrary attributes are touched only when present.
fn apply_attributes(
    current: &mut BTreeMap<String, String>,
    given: &BTreeMap<String, Option<String>>,
    schema_fields: &[schema::AttributeField],
    mode: AttributeMode,
) {
    for field in schema_fields {
        let value = given.get(field.name).cloned().flatten();
        match value.as_deref().map(|v| (v, (field.normalise)(v))) {
            Some((_, Some(v))) => {
                current.insert(field.name.to_owned(), v);
            }
            // `NumericField.parse` / `parseTime` / `parseDate` threw: JDBC logs a
            // warning and skips the setter, so the value the object had stays.
            Some((v, None))
                if !v.is_empty() && matches!(field.field_type, "NUMERIC" | "TIME" | "DATE") => {}
            _ => {
                current.remove(field.name);
            }
        }
    }
    if mode == AttributeMode::Unfiltered {
        for (name, value) in given {
            if schema_fields.iter().any(|f| f.name == name) {
                continue;
            }
            match value {
                Some(v) if !v.is_empty() => {
                    current.insert(name.clone(), v.clone());
                }
                _ => {
                    current.remove(name);
                }
            }
        }
    }
}

#[derive(Clone, Debug, Default)]
pub struct Store {
    pub users: BTreeMap<String, User>,
    pub user_groups: BTreeMap<String, UserGroup>,
    pub groups: BTreeMap<u64, Group>,
    pub connections: BTreeMap<u64, Connection>,
    pub sharing_profiles: BTreeMap<u64, SharingProfile>,
    pub active: BTreeMap<String, ActiveConnectionState>,
    pub history: Vec<HistoryState>,
    pub next: NextIds,
    /// (parent, name) → id: the unique constraints `connection_name_parent` and
    /// `connection_group_name_parent`.
    conn_names: HashMap<(Option<u64>, String), u64>,
    group_names: HashMap<(Option<u64>, String), u64>,
    actors: ActorCache,
    /// The release whose rules apply (`from_state_as`).
    pub version: GuacamoleVersion,
}

/// Each user's merged permissions, worked out once between two writes: an
/// administrator of a large server holds a permission on every object, and copying
/// that per request would make the test server, not the client, the bottleneck.
/// Emptied whenever a write lock on the store is released (see
/// `Shared::write_store`), and never carried into a copy.
#[derive(Debug, Default)]
struct ActorCache(std::sync::Mutex<HashMap<String, std::sync::Arc<Actor>>>);

impl Clone for ActorCache {
    fn clone(&self) -> Self {
        Self::default()
    }
}

impl ActorCache {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, std::sync::Arc<Actor>>> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

fn perms_from(p: &Permissions) -> std::result::Result<Perms, String> {
    let ids = |m: &BTreeMap<String, PermSet>,
               what: &str|
     -> std::result::Result<BTreeMap<u64, PermSet>, String> {
        m.iter()
            .map(|(k, v)| {
                numeric_id(k)
                    .map(|id| (id, v.clone()))
                    .ok_or_else(|| format!("{what} permission on {k:?}: identifiers are numbers"))
            })
            .collect()
    };
    Ok(Perms {
        system: p.system_permissions.clone(),
        connection: ids(&p.connection_permissions, "connection")?,
        connection_group: ids(&p.connection_group_permissions, "connection group")?,
        sharing_profile: ids(&p.sharing_profile_permissions, "sharing profile")?,
        active_connection: p.active_connection_permissions.clone(),
        user: p.user_permissions.clone(),
        user_group: p.user_group_permissions.clone(),
    })
}

fn perms_to(p: &Perms) -> Permissions {
    let strs = |m: &BTreeMap<u64, PermSet>| -> BTreeMap<String, PermSet> {
        m.iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    };
    let keep = |m: &BTreeMap<String, PermSet>| -> BTreeMap<String, PermSet> {
        m.iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    };
    Permissions {
        system_permissions: p.system.clone(),
        connection_permissions: strs(&p.connection),
        connection_group_permissions: strs(&p.connection_group),
        sharing_profile_permissions: strs(&p.sharing_profile),
        active_connection_permissions: keep(&p.active_connection),
        user_permissions: keep(&p.user),
        user_group_permissions: keep(&p.user_group),
    }
}

fn parent_str(p: Option<u64>) -> String {
    p.map_or_else(|| "ROOT".to_owned(), |id| id.to_string())
}

impl Store {
    /// `from_state` for a given release: on 1.5.5 the `AUDIT` system permission,
    /// which that database cannot hold, is dropped.
    pub fn from_state_as(
        state: &State,
        version: GuacamoleVersion,
    ) -> std::result::Result<Self, String> {
        let mut store = Self::from_state(state)?;
        store.version = version;
        if version.is_1_5() {
            legacy::strip_audit(&mut store);
        }
        Ok(store)
    }

    /// Builds the store from a state document, checking what the database would
    /// enforce (numeric identifiers, existing parents, unique names).
    #[allow(clippy::too_many_lines)] // one pass per table, in dependency order
    pub fn from_state(state: &State) -> std::result::Result<Self, String> {
        if state.version != 1 {
            return Err(format!(
                "state format version {} is not supported (this server reads version 1)",
                state.version
            ));
        }
        let mut store = Self::default();
        let id_of = |id: &str, what: &str| {
            numeric_id(id).ok_or_else(|| format!("{what} identifier {id:?} is not a number"))
        };
        for g in &state.connection_groups {
            let id = id_of(&g.identifier, "connection group")?;
            if store
                .groups
                .insert(
                    id,
                    Group {
                        name: g.name.clone(),
                        parent: None,
                        group_type: g.group_type.clone(),
                        attributes: g.attributes.clone(),
                    },
                )
                .is_some()
            {
                return Err(format!("connection group {id} is listed twice"));
            }
            if !matches!(g.group_type.as_str(), "ORGANIZATIONAL" | "BALANCING") {
                return Err(format!(
                    "connection group {id}: type must be ORGANIZATIONAL or BALANCING"
                ));
            }
        }
        for g in &state.connection_groups {
            let id = id_of(&g.identifier, "connection group")?;
            let parent = if g.parent_identifier == "ROOT" {
                None
            } else {
                let p = id_of(&g.parent_identifier, "parent")?;
                if !store.groups.contains_key(&p) {
                    return Err(format!("connection group {id}: parent {p} does not exist"));
                }
                Some(p)
            };
            if let Some(group) = store.groups.get_mut(&id) {
                group.parent = parent;
            }
            if store
                .group_names
                .insert((parent, g.name.clone()), id)
                .is_some()
            {
                return Err(format!(
                    "two connection groups named {:?} in one parent",
                    g.name
                ));
            }
        }
        for id in store.groups.keys() {
            let mut seen = BTreeSet::new();
            let mut at = Some(*id);
            while let Some(g) = at {
                if !seen.insert(g) {
                    return Err(format!("connection group {id} is its own ancestor"));
                }
                at = store.groups.get(&g).and_then(|g| g.parent);
            }
        }
        for c in &state.connections {
            let id = id_of(&c.identifier, "connection")?;
            let parent = if c.parent_identifier == "ROOT" {
                None
            } else {
                let p = id_of(&c.parent_identifier, "parent")?;
                if !store.groups.contains_key(&p) {
                    return Err(format!("connection {id}: parent group {p} does not exist"));
                }
                Some(p)
            };
            if store
                .conn_names
                .insert((parent, c.name.clone()), id)
                .is_some()
            {
                return Err(format!("two connections named {:?} in one group", c.name));
            }
            let connection = Connection {
                name: c.name.clone(),
                parent,
                protocol: c.protocol.clone(),
                parameters: c
                    .parameters
                    .iter()
                    .filter(|(_, v)| !v.is_empty())
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
                attributes: c.attributes.clone(),
            };
            if store.connections.insert(id, connection).is_some() {
                return Err(format!("connection {id} is listed twice"));
            }
        }
        for s in &state.sharing_profiles {
            let id = id_of(&s.identifier, "sharing profile")?;
            let primary = id_of(&s.primary_connection_identifier, "connection")?;
            if !store.connections.contains_key(&primary) {
                return Err(format!(
                    "sharing profile {id}: connection {primary} does not exist"
                ));
            }
            store.sharing_profiles.insert(
                id,
                SharingProfile {
                    name: s.name.clone(),
                    primary,
                    parameters: s.parameters.clone(),
                },
            );
        }
        for u in &state.users {
            let user = User {
                password: u.password.clone(),
                disabled: u.disabled,
                attributes: u.attributes.clone(),
                perms: perms_from(&u.permissions)
                    .map_err(|e| format!("user {:?}: {e}", u.username))?,
                last_active: u.last_active,
                totp_secret: u.totp_secret.clone(),
            };
            if store.users.insert(u.username.clone(), user).is_some() {
                return Err(format!("user {:?} is listed twice", u.username));
            }
        }
        for g in &state.user_groups {
            let group = UserGroup {
                disabled: g.disabled,
                attributes: g.attributes.clone(),
                member_users: g.member_users.clone(),
                member_groups: g.member_user_groups.clone(),
                perms: perms_from(&g.permissions)
                    .map_err(|e| format!("user group {:?}: {e}", g.identifier))?,
            };
            if store
                .user_groups
                .insert(g.identifier.clone(), group)
                .is_some()
            {
                return Err(format!("user group {:?} is listed twice", g.identifier));
            }
        }
        for a in &state.active_connections {
            store.active.insert(a.identifier.clone(), a.clone());
        }
        store.history.clone_from(&state.history);
        let max = |it: &mut dyn Iterator<Item = u64>| it.max().map_or(1, |m| m + 1);
        let derived = NextIds {
            connection: max(&mut store.connections.keys().copied()),
            connection_group: max(&mut store.groups.keys().copied()),
            sharing_profile: max(&mut store.sharing_profiles.keys().copied()),
            history: max(&mut store
                .history
                .iter()
                .filter_map(|h| numeric_id(&h.identifier))),
        };
        store.next = match &state.next_ids {
            Some(n) => NextIds {
                connection: n.connection.max(derived.connection),
                connection_group: n.connection_group.max(derived.connection_group),
                sharing_profile: n.sharing_profile.max(derived.sharing_profile),
                history: n.history.max(derived.history),
            },
            None => derived,
        };
        Ok(store)
    }

    /// The state document of this store (deterministic order).
    #[must_use]
    pub fn to_state(&self) -> State {
        State {
            version: 1,
            users: self
                .users
                .iter()
                .map(|(name, u)| UserState {
                    username: name.clone(),
                    password: u.password.clone(),
                    disabled: u.disabled,
                    attributes: u.attributes.clone(),
                    permissions: perms_to(&u.perms),
                    last_active: u.last_active,
                    totp_secret: u.totp_secret.clone(),
                })
                .collect(),
            user_groups: self
                .user_groups
                .iter()
                .map(|(name, g)| UserGroupState {
                    identifier: name.clone(),
                    disabled: g.disabled,
                    attributes: g.attributes.clone(),
                    member_users: g.member_users.clone(),
                    member_user_groups: g.member_groups.clone(),
                    permissions: perms_to(&g.perms),
                })
                .collect(),
            connection_groups: self
                .groups
                .iter()
                .map(|(id, g)| ConnectionGroupState {
                    identifier: id.to_string(),
                    name: g.name.clone(),
                    parent_identifier: parent_str(g.parent),
                    group_type: g.group_type.clone(),
                    attributes: g.attributes.clone(),
                })
                .collect(),
            connections: self
                .connections
                .iter()
                .map(|(id, c)| ConnectionState {
                    identifier: id.to_string(),
                    name: c.name.clone(),
                    parent_identifier: parent_str(c.parent),
                    protocol: c.protocol.clone(),
                    parameters: c.parameters.clone(),
                    attributes: c.attributes.clone(),
                })
                .collect(),
            sharing_profiles: self
                .sharing_profiles
                .iter()
                .map(|(id, s)| SharingProfileState {
                    identifier: id.to_string(),
                    name: s.name.clone(),
                    primary_connection_identifier: s.primary.to_string(),
                    parameters: s.parameters.clone(),
                })
                .collect(),
            active_connections: self.active.values().cloned().collect(),
            history: self.history.clone(),
            next_ids: Some(self.next.clone()),
        }
    }

    /// The user groups a user (or a group) belongs to, directly or through other
    /// groups.
    #[must_use]
    pub fn groups_of(&self, user: Option<&str>, group: Option<&str>) -> BTreeSet<String> {
        let mut found: BTreeSet<String> = self
            .user_groups
            .iter()
            .filter(|(_, g)| {
                !g.disabled
                    && (user.is_some_and(|u| g.member_users.contains(u))
                        || group.is_some_and(|x| g.member_groups.contains(x)))
            })
            .map(|(n, _)| n.clone())
            .collect();
        loop {
            let more: Vec<String> = self
                .user_groups
                .iter()
                .filter(|(n, g)| {
                    !g.disabled
                        && !found.contains(*n)
                        && g.member_groups.iter().any(|m| found.contains(m))
                })
                .map(|(n, _)| n.clone())
                .collect();
            if more.is_empty() {
                return found;
            }
            found.extend(more);
        }
    }

    /// A user's own permissions merged with those of every group it belongs to.
    #[must_use]
    pub fn effective_perms(&self, username: &str) -> Perms {
        let mut perms = self
            .users
            .get(username)
            .map(|u| u.perms.clone())
            .unwrap_or_default();
        for g in self.groups_of(Some(username), None) {
            if let Some(group) = self.user_groups.get(&g) {
                perms.merge(&group.perms);
            }
        }
        perms
    }

    /// The actor for a logged-in user: own permissions plus those of every group
    /// the user belongs to.
    #[must_use]
    pub fn actor(&self, username: &str) -> std::sync::Arc<Actor> {
        if let Some(a) = self.actors.lock().get(username) {
            return std::sync::Arc::clone(a);
        }
        let actor = std::sync::Arc::new(self.compute_actor(username));
        self.actors
            .lock()
            .insert(username.to_owned(), std::sync::Arc::clone(&actor));
        actor
    }

    /// Forgets every cached actor; called when a write to the store ends.
    pub fn forget_actors(&self) {
        self.actors.lock().clear();
    }

    fn compute_actor(&self, username: &str) -> Actor {
        let perms = self.effective_perms(username);
        Actor {
            username: username.to_owned(),
            admin: perms.system.contains(&SystemPermission::Administer),
            perms,
        }
    }

    // ------------------------------------------------------------- connections

    /// `(parent, name)` lookup used for the duplicate-name check.
    #[must_use]
    pub fn connection_named(&self, parent: Option<u64>, name: &str) -> Option<u64> {
        self.conn_names.get(&(parent, name.to_owned())).copied()
    }

    /// Creates a connection from an `APIConnection` body (POST or PATCH add).
    /// Returns the new identifier.
    pub fn create_connection(&mut self, actor: &Actor, body: &Value) -> Result<u64> {
        let obj = body
            .as_object()
            .ok_or_else(|| Fail::BadJson("expected an object".into()))?;
        // Translation and attribute filtering happen before the JDBC checks, and a
        // missing `attributes` map is a NullPointerException there.
        let attributes = map_field(obj.get("attributes"), "attributes")?.ok_or(Fail::Internal)?;
        let parameters = map_field(obj.get("parameters"), "parameters")?.unwrap_or_default();
        let name = text_field(obj.get("name"), "name")?;
        let protocol = text_field(obj.get("protocol"), "protocol")?;
        check_parameters(&parameters, self.version)?;
        let parent_value = obj.get("parentIdentifier").cloned().unwrap_or(Value::Null);
        let parent = parent_of(&parent_value, &self.groups);
        if !actor.has_system(SystemPermission::CreateConnection) {
            return Err(denied());
        }
        let parent = parent?;
        if let Some(p) = parent
            && !actor.can_group(p, ObjectPermission::Update)
        {
            return Err(denied());
        }
        let name = name.unwrap_or_default();
        if name.trim().is_empty() {
            return Err(ApiError::bad_request("Connection names must not be blank.").into());
        }
        if self.connection_named(parent, &name).is_some() {
            return Err(ApiError::bad_request(format!(
                "The connection \"{name}\" already exists."
            ))
            .into());
        }
        let protocol = protocol.ok_or(Fail::Internal)?;
        if chars(&name) > NAME_LIMIT || chars(&protocol) > PROTOCOL_LIMIT {
            return Err(Fail::Internal);
        }
        let parameters = stored_parameters(&parameters)?;
        let mut stored_attributes = BTreeMap::new();
        apply_attributes(
            &mut stored_attributes,
            &attributes,
            schema::CONNECTION_ATTRIBUTES,
            AttributeMode::Filtered,
        );
        let id = self.next.connection;
        self.next.connection += 1;
        self.conn_names.insert((parent, name.clone()), id);
        self.connections.insert(
            id,
            Connection {
                name,
                parent,
                protocol,
                parameters,
                attributes: stored_attributes,
            },
        );
        self.grant_creator(actor, |p| &mut p.connection, id);
        Ok(id)
    }

    fn grant_creator(
        &mut self,
        actor: &Actor,
        field: impl Fn(&mut Perms) -> &mut BTreeMap<u64, PermSet>,
        id: u64,
    ) {
        if let Some(user) = self.users.get_mut(&actor.username) {
            field(&mut user.perms).insert(id, ObjectPermission::ALL.into_iter().collect());
        }
    }

    /// Applies an `APIConnection` body to an existing connection (PUT or PATCH
    /// replace): a full replacement of name, parent, protocol, parameters and
    /// attributes.
    pub fn update_connection(
        &mut self,
        actor: &Actor,
        id: u64,
        body: &Value,
        mode: AttributeMode,
    ) -> Result<()> {
        let obj = body
            .as_object()
            .ok_or_else(|| Fail::BadJson("expected an object".into()))?;
        let parameters = map_field(obj.get("parameters"), "parameters")?;
        let attributes = map_field(obj.get("attributes"), "attributes")?;
        let name = text_field(obj.get("name"), "name")?;
        let protocol = text_field(obj.get("protocol"), "protocol")?;
        let (Some(parameters), Some(attributes)) = (parameters, attributes) else {
            // `setParameters(null)` / `attributes.get` on null.
            return Err(Fail::Internal);
        };
        let Some(existing) = self.connections.get(&id).cloned() else {
            return Err(ApiError::not_found_id(&id.to_string()).into());
        };
        check_parameters(&parameters, self.version)?;
        let parent = parent_of(
            &obj.get("parentIdentifier").cloned().unwrap_or(Value::Null),
            &self.groups,
        )?;
        if !actor.can_connection(id, ObjectPermission::Update) {
            return Err(denied());
        }
        for p in [existing.parent, parent].into_iter().flatten() {
            if !actor.can_group(p, ObjectPermission::Update) {
                return Err(denied());
            }
        }
        let name = name.unwrap_or_default();
        if name.trim().is_empty() {
            return Err(ApiError::bad_request("Connection names must not be blank.").into());
        }
        if self
            .connection_named(parent, &name)
            .is_some_and(|other| other != id)
        {
            return Err(ApiError::bad_request(format!(
                "The connection \"{name}\" already exists."
            ))
            .into());
        }
        let protocol = protocol.ok_or(Fail::Internal)?;
        if chars(&name) > NAME_LIMIT || chars(&protocol) > PROTOCOL_LIMIT {
            return Err(Fail::Internal);
        }
        let parameters = stored_parameters(&parameters)?;
        let mut stored_attributes = existing.attributes.clone();
        apply_attributes(
            &mut stored_attributes,
            &attributes,
            schema::CONNECTION_ATTRIBUTES,
            mode,
        );
        self.conn_names
            .remove(&(existing.parent, existing.name.clone()));
        self.conn_names.insert((parent, name.clone()), id);
        self.connections.insert(
            id,
            Connection {
                name,
                parent,
                protocol,
                parameters,
                attributes: stored_attributes,
            },
        );
        Ok(())
    }

    /// Deletes a connection with its cascade (parameters, permissions, sharing
    /// profiles, attributes). An admin deleting a missing numeric id deletes 0 rows
    /// and succeeds.
    pub fn delete_connection(&mut self, actor: &Actor, id: u64) -> Result<()> {
        if !actor.can_connection(id, ObjectPermission::Delete) {
            return Err(denied());
        }
        if let Some(c) = self.connections.remove(&id) {
            self.conn_names.remove(&(c.parent, c.name));
            let profiles: Vec<u64> = self
                .sharing_profiles
                .iter()
                .filter(|(_, s)| s.primary == id)
                .map(|(k, _)| *k)
                .collect();
            for p in profiles {
                self.sharing_profiles.remove(&p);
                self.forget(|perms| {
                    perms.sharing_profile.remove(&p);
                });
            }
            self.forget(|perms| {
                perms.connection.remove(&id);
            });
            for h in &mut self.history {
                if h.connection_identifier.as_deref() == Some(id.to_string().as_str()) {
                    h.connection_identifier = None;
                }
            }
        }
        Ok(())
    }

    fn forget(&mut self, f: impl Fn(&mut Perms)) {
        for u in self.users.values_mut() {
            f(&mut u.perms);
        }
        for g in self.user_groups.values_mut() {
            f(&mut g.perms);
        }
    }

    // -------------------------------------------------------- connection groups

    #[must_use]
    pub fn group_named(&self, parent: Option<u64>, name: &str) -> Option<u64> {
        self.group_names.get(&(parent, name.to_owned())).copied()
    }

    fn group_fields(obj: &serde_json::Map<String, Value>) -> Result<(Option<String>, String)> {
        let name = text_field(obj.get("name"), "name")?;
        let group_type =
            text_field(obj.get("type"), "type")?.unwrap_or_else(|| "ORGANIZATIONAL".to_owned());
        if !matches!(group_type.as_str(), "ORGANIZATIONAL" | "BALANCING") {
            return Err(Fail::BadJson(format!(
                "Cannot deserialize value of type `ConnectionGroup$Type` from String \"{group_type}\""
            )));
        }
        Ok((name, group_type))
    }

    pub fn create_group(&mut self, actor: &Actor, body: &Value) -> Result<u64> {
        let obj = body
            .as_object()
            .ok_or_else(|| Fail::BadJson("expected an object".into()))?;
        let attributes = map_field(obj.get("attributes"), "attributes")?.ok_or(Fail::Internal)?;
        let (name, group_type) = Self::group_fields(obj)?;
        let parent = parent_of(
            &obj.get("parentIdentifier").cloned().unwrap_or(Value::Null),
            &self.groups,
        );
        if !actor.has_system(SystemPermission::CreateConnectionGroup) {
            return Err(denied());
        }
        let parent = parent?;
        if let Some(p) = parent
            && !actor.can_group(p, ObjectPermission::Update)
        {
            return Err(denied());
        }
        let name = name.unwrap_or_default();
        if name.trim().is_empty() {
            return Err(ApiError::bad_request("Connection group names must not be blank.").into());
        }
        if self.group_named(parent, &name).is_some() {
            return Err(ApiError::bad_request(format!(
                "The connection group \"{name}\" already exists."
            ))
            .into());
        }
        if chars(&name) > NAME_LIMIT {
            return Err(Fail::Internal);
        }
        let mut stored = BTreeMap::new();
        apply_attributes(
            &mut stored,
            &attributes,
            schema::GROUP_ATTRIBUTES,
            AttributeMode::Filtered,
        );
        let id = self.next.connection_group;
        self.next.connection_group += 1;
        self.group_names.insert((parent, name.clone()), id);
        self.groups.insert(
            id,
            Group {
                name,
                parent,
                group_type,
                attributes: stored,
            },
        );
        self.grant_creator(actor, |p| &mut p.connection_group, id);
        Ok(id)
    }

    pub fn update_group(
        &mut self,
        actor: &Actor,
        id: u64,
        body: &Value,
        mode: AttributeMode,
    ) -> Result<()> {
        let obj = body
            .as_object()
            .ok_or_else(|| Fail::BadJson("expected an object".into()))?;
        let attributes = map_field(obj.get("attributes"), "attributes")?.ok_or(Fail::Internal)?;
        let (name, group_type) = Self::group_fields(obj)?;
        let Some(existing) = self.groups.get(&id).cloned() else {
            return Err(ApiError::not_found_id(&id.to_string()).into());
        };
        let parent = parent_of(
            &obj.get("parentIdentifier").cloned().unwrap_or(Value::Null),
            &self.groups,
        )?;
        if !actor.can_group(id, ObjectPermission::Update) {
            return Err(denied());
        }
        for p in [existing.parent, parent].into_iter().flatten() {
            if !actor.can_group(p, ObjectPermission::Update) {
                return Err(denied());
            }
        }
        let name = name.unwrap_or_default();
        if name.trim().is_empty() {
            return Err(ApiError::bad_request("Connection group names must not be blank.").into());
        }
        if self
            .group_named(parent, &name)
            .is_some_and(|other| other != id)
        {
            return Err(ApiError::bad_request(format!(
                "The connection group \"{name}\" already exists."
            ))
            .into());
        }
        // Moving a group under itself or one of its descendants.
        let mut at = parent;
        while let Some(g) = at {
            if g == id {
                return Err(
                    ApiError::unsupported("A connection group may not contain itself.").into(),
                );
            }
            at = self.groups.get(&g).and_then(|g| g.parent);
        }
        if chars(&name) > NAME_LIMIT {
            return Err(Fail::Internal);
        }
        let mut stored = existing.attributes.clone();
        apply_attributes(&mut stored, &attributes, schema::GROUP_ATTRIBUTES, mode);
        self.group_names
            .remove(&(existing.parent, existing.name.clone()));
        self.group_names.insert((parent, name.clone()), id);
        self.groups.insert(
            id,
            Group {
                name,
                parent,
                group_type,
                attributes: stored,
            },
        );
        Ok(())
    }

    /// Deletes a group and, by cascade, every group and connection below it.
    pub fn delete_group(&mut self, actor: &Actor, id: u64) -> Result<()> {
        if !actor.can_group(id, ObjectPermission::Delete) {
            return Err(denied());
        }
        let Some(group) = self.groups.remove(&id) else {
            return Ok(());
        };
        self.group_names.remove(&(group.parent, group.name));
        self.forget(|p| {
            p.connection_group.remove(&id);
        });
        let children: Vec<u64> = self
            .groups
            .iter()
            .filter(|(_, g)| g.parent == Some(id))
            .map(|(k, _)| *k)
            .collect();
        let admin = Actor {
            username: actor.username.clone(),
            admin: true,
            perms: Perms::default(),
        };
        for child in children {
            self.delete_group(&admin, child)?;
        }
        let connections: Vec<u64> = self
            .connections
            .iter()
            .filter(|(_, c)| c.parent == Some(id))
            .map(|(k, _)| *k)
            .collect();
        for c in connections {
            self.delete_connection(&admin, c)?;
        }
        Ok(())
    }

    // ------------------------------------------------------- users and groups

    pub fn create_user(&mut self, actor: &Actor, body: &Value) -> Result<String> {
        let obj = body
            .as_object()
            .ok_or_else(|| Fail::BadJson("expected an object".into()))?;
        let attributes = map_field(obj.get("attributes"), "attributes")?.ok_or(Fail::Internal)?;
        let username = text_field(obj.get("username"), "username")?.unwrap_or_default();
        let password = text_field(obj.get("password"), "password")?;
        if !actor.has_system(SystemPermission::CreateUser) {
            return Err(denied());
        }
        if username.trim().is_empty() {
            return Err(ApiError::bad_request("The username must not be blank.").into());
        }
        if self.users.contains_key(&username) {
            return Err(
                ApiError::bad_request(format!("User \"{username}\" already exists.")).into(),
            );
        }
        if chars(&username) > NAME_LIMIT {
            return Err(Fail::Internal);
        }
        let mut stored = BTreeMap::new();
        apply_attributes(
            &mut stored,
            &attributes,
            schema::user_attributes(self.version),
            AttributeMode::Filtered,
        );
        // 1.5.x: a new user's restrictions are settable, `disabled` among them
        // (held by the model, not as an attribute); 1.6.0 ignores it on create.
        let mut disabled = false;
        if self.version.is_1_5() {
            stored.remove(legacy::DISABLED);
            disabled = legacy::user_disabled(&attributes) == Some(true);
        }
        let mut perms = Perms::default();
        // Every new user can read itself (`IMPLICIT_USER_PERMISSIONS`).
        perms.user.insert(
            username.clone(),
            [ObjectPermission::Read].into_iter().collect(),
        );
        self.users.insert(
            username.clone(),
            User {
                password,
                disabled,
                attributes: stored,
                perms,
                last_active: None,
                totp_secret: None,
            },
        );
        if let Some(creator) = self.users.get_mut(&actor.username) {
            creator
                .perms
                .user
                .entry(username.clone())
                .or_default()
                .extend(ObjectPermission::ALL);
        }
        Ok(username)
    }

    pub fn update_user(
        &mut self,
        actor: &Actor,
        username: &str,
        body: &Value,
        mode: AttributeMode,
        via_put: bool,
    ) -> Result<()> {
        let obj = body
            .as_object()
            .ok_or_else(|| Fail::BadJson("expected an object".into()))?;
        let attributes = map_field(obj.get("attributes"), "attributes")?.ok_or(Fail::Internal)?;
        let password = text_field(obj.get("password"), "password")?;
        let disabled = matches!(obj.get("disabled"), Some(Value::Bool(true)));
        if !self.users.contains_key(username) {
            return Err(ApiError::not_found_id(username).into());
        }
        if !actor.can_user(username, ObjectPermission::Update) {
            return Err(denied());
        }
        if via_put && self.version.is_1_5() && username == actor.username {
            // 1.5.5 `UserResource#updateObject`: nobody updates themselves by PUT.
            return Err(denied());
        }
        if via_put && password.is_some() && username == actor.username {
            return Err(ApiError::permission_denied(
                "Permission denied. The password update endpoint must be used to change the current user's password.",
            )
            .into());
        }
        let admin_of_user = actor.can_user(username, ObjectPermission::Administer);
        let Some(user) = self.users.get_mut(username) else {
            return Err(ApiError::not_found_id(username).into());
        };
        if password.is_some() {
            user.password = password;
        }
        // Restriction attributes are settable only with ADMINISTER on the user.
        let fields: Vec<schema::AttributeField> = schema::user_attributes(self.version)
            .iter()
            .filter(|f| admin_of_user || !f.restricted)
            .cloned()
            .collect();
        apply_attributes(&mut user.attributes, &attributes, &fields, mode);
        if self.version.is_1_5() {
            // The model holds it; the attribute only carries it.
            user.attributes.remove(legacy::DISABLED);
            if let Some(d) = legacy::user_disabled(&attributes).filter(|_| admin_of_user) {
                user.disabled = d;
            }
        } else {
            user.disabled = disabled;
        }
        Ok(())
    }

    pub fn delete_user(&mut self, actor: &Actor, username: &str) -> Result<()> {
        if username == actor.username {
            return Err(ApiError::unsupported("Deleting your own user is not allowed.").into());
        }
        if !actor.can_user(username, ObjectPermission::Delete) {
            return Err(denied());
        }
        if self.users.remove(username).is_some() {
            self.forget(|p| {
                p.user.remove(username);
            });
            for g in self.user_groups.values_mut() {
                g.member_users.remove(username);
            }
        }
        Ok(())
    }

    pub fn create_user_group(&mut self, actor: &Actor, body: &Value) -> Result<String> {
        let obj = body
            .as_object()
            .ok_or_else(|| Fail::BadJson("expected an object".into()))?;
        let identifier = text_field(obj.get("identifier"), "identifier")?.unwrap_or_default();
        // 1.5.x filters the map against a non-empty schema: a null map throws.
        let attributes = map_field(obj.get("attributes"), "attributes")?;
        if self.version.is_1_5() && attributes.is_none() {
            return Err(Fail::Internal);
        }
        let disabled =
            self.version.is_1_5() && legacy::group_disabled(&attributes.unwrap_or_default());
        if !actor.has_system(SystemPermission::CreateUserGroup) {
            return Err(denied());
        }
        if identifier.trim().is_empty() {
            return Err(ApiError::bad_request("The group name must not be blank.").into());
        }
        if self.user_groups.contains_key(&identifier) {
            return Err(
                ApiError::bad_request(format!("Group \"{identifier}\" already exists.")).into(),
            );
        }
        if chars(&identifier) > NAME_LIMIT {
            return Err(Fail::Internal);
        }
        self.user_groups.insert(
            identifier.clone(),
            UserGroup {
                disabled,
                attributes: BTreeMap::new(),
                member_users: BTreeSet::new(),
                member_groups: BTreeSet::new(),
                perms: Perms::default(),
            },
        );
        if let Some(creator) = self.users.get_mut(&actor.username) {
            creator
                .perms
                .user_group
                .entry(identifier.clone())
                .or_default()
                .extend(ObjectPermission::ALL);
        }
        Ok(identifier)
    }

    pub fn update_user_group(&mut self, actor: &Actor, name: &str, body: &Value) -> Result<()> {
        let obj = body
            .as_object()
            .ok_or_else(|| Fail::BadJson("expected an object".into()))?;
        let mut disabled = matches!(obj.get("disabled"), Some(Value::Bool(true)));
        if self.version.is_1_5() {
            // The top-level field does not exist; the attribute decides, and only
            // for a caller holding ADMINISTER on the group.
            let attributes =
                map_field(obj.get("attributes"), "attributes")?.ok_or(Fail::Internal)?;
            let current = self.user_groups.get(name).is_some_and(|g| g.disabled);
            disabled = if actor.can_user_group(name, ObjectPermission::Administer) {
                legacy::group_disabled(&attributes)
            } else {
                current
            };
        }
        if !self.user_groups.contains_key(name) {
            return Err(ApiError::not_found_id(name).into());
        }
        if !actor.can_user_group(name, ObjectPermission::Update) {
            return Err(denied());
        }
        if let Some(g) = self.user_groups.get_mut(name) {
            g.disabled = disabled;
        }
        Ok(())
    }

    pub fn delete_user_group(&mut self, actor: &Actor, name: &str) -> Result<()> {
        if !actor.can_user_group(name, ObjectPermission::Delete) {
            return Err(denied());
        }
        if self.user_groups.remove(name).is_some() {
            self.forget(|p| {
                p.user_group.remove(name);
            });
            for g in self.user_groups.values_mut() {
                g.member_groups.remove(name);
            }
        }
        Ok(())
    }

    // --------------------------------------------------------- sharing profiles

    pub fn create_sharing_profile(&mut self, actor: &Actor, body: &Value) -> Result<u64> {
        let obj = body
            .as_object()
            .ok_or_else(|| Fail::BadJson("expected an object".into()))?;
        let _attributes = map_field(obj.get("attributes"), "attributes")?.ok_or(Fail::Internal)?;
        let parameters = map_field(obj.get("parameters"), "parameters")?.unwrap_or_default();
        let name = text_field(obj.get("name"), "name")?.unwrap_or_default();
        let primary = text_field(
            obj.get("primaryConnectionIdentifier"),
            "primaryConnectionIdentifier",
        )?;
        if !actor.has_system(SystemPermission::CreateSharingProfile) {
            return Err(denied());
        }
        let primary = primary
            .as_deref()
            .and_then(numeric_id)
            .filter(|id| self.connections.contains_key(id))
            .ok_or(Fail::Internal)?;
        if !actor.can_connection(primary, ObjectPermission::Update) {
            return Err(denied());
        }
        if name.trim().is_empty() {
            return Err(ApiError::bad_request("Sharing profile names must not be blank.").into());
        }
        if self
            .sharing_profiles
            .values()
            .any(|s| s.primary == primary && s.name == name)
        {
            return Err(ApiError::bad_request(format!(
                "The sharing profile \"{name}\" already exists."
            ))
            .into());
        }
        let id = self.next.sharing_profile;
        self.next.sharing_profile += 1;
        self.sharing_profiles.insert(
            id,
            SharingProfile {
                name,
                primary,
                parameters: stored_parameters(&parameters)?,
            },
        );
        self.grant_creator(actor, |p| &mut p.sharing_profile, id);
        Ok(id)
    }

    pub fn update_sharing_profile(&mut self, actor: &Actor, id: u64, body: &Value) -> Result<()> {
        let obj = body
            .as_object()
            .ok_or_else(|| Fail::BadJson("expected an object".into()))?;
        let parameters = map_field(obj.get("parameters"), "parameters")?.ok_or(Fail::Internal)?;
        let name = text_field(obj.get("name"), "name")?.unwrap_or_default();
        let primary = text_field(
            obj.get("primaryConnectionIdentifier"),
            "primaryConnectionIdentifier",
        )?;
        if !self.sharing_profiles.contains_key(&id) {
            return Err(ApiError::not_found_id(&id.to_string()).into());
        }
        if !actor.can_sharing_profile(id, ObjectPermission::Update) {
            return Err(denied());
        }
        let primary = primary
            .as_deref()
            .and_then(numeric_id)
            .filter(|p| self.connections.contains_key(p))
            .ok_or(Fail::Internal)?;
        if name.trim().is_empty() {
            return Err(ApiError::bad_request("Sharing profile names must not be blank.").into());
        }
        if self
            .sharing_profiles
            .iter()
            .any(|(k, s)| *k != id && s.primary == primary && s.name == name)
        {
            return Err(ApiError::bad_request(format!(
                "The sharing profile \"{name}\" already exists."
            ))
            .into());
        }
        self.sharing_profiles.insert(
            id,
            SharingProfile {
                name,
                primary,
                parameters: stored_parameters(&parameters)?,
            },
        );
        Ok(())
    }

    pub fn delete_sharing_profile(&mut self, actor: &Actor, id: u64) -> Result<()> {
        if !actor.can_sharing_profile(id, ObjectPermission::Delete) {
            return Err(denied());
        }
        if self.sharing_profiles.remove(&id).is_some() {
            self.forget(|p| {
                p.sharing_profile.remove(&id);
            });
        }
        Ok(())
    }

    /// Closes a tunnel; an unknown UUID is a silent success.
    pub fn kill_active(&mut self, actor: &Actor, uuid: &str) -> Result<()> {
        let allowed = actor.admin
            || actor
                .perms
                .active_connection
                .get(uuid)
                .is_some_and(|s| s.contains(&ObjectPermission::Delete))
            || self
                .active
                .get(uuid)
                .is_some_and(|a| a.username == actor.username);
        if !allowed {
            return Err(denied());
        }
        if let Some(a) = self.active.remove(uuid) {
            for h in &mut self.history {
                if h.uuid.as_deref() == Some(uuid) && h.end_date.is_none() {
                    h.end_date = Some(a.start_date.max(crate::now_millis()));
                }
            }
        }
        Ok(())
    }

    #[must_use]
    pub fn active_count(&self, connection: u64) -> usize {
        let id = connection.to_string();
        self.active
            .values()
            .filter(|a| a.connection_identifier == id)
            .count()
    }

    #[must_use]
    pub fn last_active(&self, connection: u64) -> Option<i64> {
        let id = connection.to_string();
        self.history
            .iter()
            .filter(|h| h.connection_identifier.as_deref() == Some(id.as_str()))
            .map(|h| h.start_date)
            .max()
    }
}

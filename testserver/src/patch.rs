//! The three kinds of PATCH the REST API has (rest-api.md §4 and §6):
//! - a directory PATCH: add/replace/remove objects, applied in order in one
//!   transaction, every failure collected, all rolled back on any failure;
//! - a permission PATCH: parsed first, then applied as seven separate,
//!   non-transactional steps;
//! - a membership PATCH: adds, then removes.

use serde_json::{Value, json};

use crate::error::{ApiError, Fail, Result};
use crate::state::{ObjectPermission, SystemPermission};
use std::collections::BTreeMap;

use crate::store::{Actor, AttributeMode, PermSet, Perms, Store, numeric_id};

/// The directories that accept a PATCH.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Directory {
    Connections,
    ConnectionGroups,
    Users,
    UserGroups,
    SharingProfiles,
    ActiveConnections,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Add,
    Replace,
    Remove,
    Other(&'static str),
    Null,
}

/// Jackson's binding of the `op` enum: lower-case names only.
fn parse_op(v: Option<&Value>) -> Result<Op> {
    match v {
        None | Some(Value::Null) => Ok(Op::Null),
        Some(Value::String(s)) => match s.as_str() {
            "add" => Ok(Op::Add),
            "replace" => Ok(Op::Replace),
            "remove" => Ok(Op::Remove),
            "test" => Ok(Op::Other("test")),
            "copy" => Ok(Op::Other("copy")),
            "move" => Ok(Op::Other("move")),
            other => Err(Fail::BadJson(format!(
                "Cannot deserialize value of type `APIPatch$Operation` from String \"{other}\": not one of the values accepted for Enum class: [add, remove, test, copy, replace, move]"
            ))),
        },
        Some(_) => Err(Fail::BadJson("`op` must be a string".to_owned())),
    }
}

fn op_name(op: Op) -> &'static str {
    match op {
        Op::Add => "add",
        Op::Replace => "replace",
        Op::Remove => "remove",
        Op::Other(s) => s,
        Op::Null => "null",
    }
}

fn patches(body: &Value) -> Result<&Vec<Value>> {
    body.as_array().ok_or_else(|| {
        Fail::BadJson(
            "Cannot deserialize value of type `java.util.ArrayList` from Object value".to_owned(),
        )
    })
}

/// An injected per-patch failure (test hook): index and message.
pub type Injected = Option<(usize, String)>;

struct Outcome {
    op: Op,
    identifier: Option<String>,
    path: String,
    error: Option<ApiError>,
}

impl Outcome {
    fn json(&self) -> Value {
        let mut v =
            json!({"op": op_name(self.op), "identifier": self.identifier, "path": self.path});
        if let Some(e) = &self.error {
            v["error"] = json!(e.translatable);
        }
        v
    }
}

/// Applies a directory PATCH. On success the store is replaced by the patched copy
/// and the 200 body returned; on any per-patch failure nothing changes and the 400
/// `APIError` carries one outcome per patch.
pub fn directory(
    store: &mut Store,
    actor: &Actor,
    dir: Directory,
    body: &Value,
    injected: &Injected,
) -> Result<Value> {
    let list = patches(body)?;
    let mut work = store.clone();
    let mut outcomes: Vec<Outcome> = Vec::with_capacity(list.len());
    let mut failed = false;
    for (index, patch) in list.iter().enumerate() {
        let obj = patch
            .as_object()
            .ok_or_else(|| Fail::BadJson("a patch must be an object".to_owned()))?;
        let op = parse_op(obj.get("op"))?;
        if matches!(op, Op::Other(_) | Op::Null) {
            return Err(ApiError::unsupported(format!(
                "Unsupported patch operation \"{}\". Only add, replace, and remove are supported.",
                op_name(op)
            ))
            .into());
        }
        let path = match obj.get("path") {
            None | Some(Value::Null) => return Err(Fail::Internal),
            Some(Value::String(p)) => p.clone(),
            Some(_) => return Err(Fail::BadJson("`path` must be a string".to_owned())),
        };
        if !path.starts_with('/') {
            return Err(ApiError::bad_request("Patch paths must start with \"/\".").into());
        }
        let value = obj.get("value").cloned().unwrap_or(Value::Null);
        let target = path[1..].to_owned();
        let result: Result<Option<String>> = if injected.as_ref().is_some_and(|(i, _)| *i == index)
        {
            let message = injected
                .as_ref()
                .map(|(_, m)| m.clone())
                .unwrap_or_default();
            Err(ApiError::bad_request(message).into())
        } else {
            apply_one(&mut work, actor, dir, op, &target, &value)
        };
        match result {
            Ok(identifier) => outcomes.push(Outcome {
                op,
                identifier,
                path,
                error: None,
            }),
            Err(Fail::Api(e)) => {
                failed = true;
                let identifier = (op != Op::Add).then_some(target);
                outcomes.push(Outcome {
                    op,
                    identifier,
                    path,
                    error: Some(*e),
                });
            }
            // Anything else aborts the request at once, without a per-patch list.
            Err(other) => return Err(other),
        }
    }
    if failed {
        // Creations are rolled back, so successful adds lose their identifier; a
        // quirk puts successful removes in the same list (rest-api.md §4).
        for o in &mut outcomes {
            if o.error.is_none() && matches!(o.op, Op::Add | Op::Remove) {
                o.identifier = None;
            }
        }
        let mut e = ApiError::bad_request("The provided patches failed to apply.");
        e.patches = Some(outcomes.iter().map(Outcome::json).collect());
        return Err(e.into());
    }
    *store = work;
    Ok(json!({"patches": outcomes.iter().map(Outcome::json).collect::<Vec<_>>()}))
}

/// One `remove`, as the 1.5.x PATCH applies it: on the store itself, on its own
/// (`crate::legacy`).
pub(crate) fn remove_one(
    store: &mut Store,
    actor: &Actor,
    dir: Directory,
    target: &str,
) -> Result<()> {
    apply_one(store, actor, dir, Op::Remove, target, &Value::Null).map(|_| ())
}

/// Jackson's binding of `op` (a bad enum string fails the whole body): whether
/// it is `remove`.
pub(crate) fn op_is_remove(v: Option<&Value>) -> Result<bool> {
    Ok(parse_op(v)? == Op::Remove)
}

fn apply_one(
    store: &mut Store,
    actor: &Actor,
    dir: Directory,
    op: Op,
    target: &str,
    value: &Value,
) -> Result<Option<String>> {
    let numeric = |id: &str| numeric_id(id);
    match (dir, op) {
        (Directory::Connections, Op::Add) => store
            .create_connection(actor, value)
            .map(|id| Some(id.to_string())),
        (Directory::Connections, Op::Replace) => {
            let id = numeric(target).ok_or_else(|| Fail::from(ApiError::not_found_id(target)))?;
            store.update_connection(actor, id, value, AttributeMode::Unfiltered)?;
            Ok(Some(target.to_owned()))
        }
        (Directory::Connections, Op::Remove) => {
            // The `::integer` cast of a non-numeric identifier fails in PostgreSQL.
            let id = numeric(target).ok_or(Fail::Internal)?;
            store.delete_connection(actor, id)?;
            Ok(Some(target.to_owned()))
        }
        (Directory::ConnectionGroups, Op::Add) => store
            .create_group(actor, value)
            .map(|id| Some(id.to_string())),
        (Directory::ConnectionGroups, Op::Replace) => {
            let id = numeric(target).ok_or_else(|| Fail::from(ApiError::not_found_id(target)))?;
            store.update_group(actor, id, value, AttributeMode::Unfiltered)?;
            Ok(Some(target.to_owned()))
        }
        (Directory::ConnectionGroups, Op::Remove) => {
            let id = numeric(target).ok_or(Fail::Internal)?;
            store.delete_group(actor, id)?;
            Ok(Some(target.to_owned()))
        }
        (Directory::SharingProfiles, Op::Add) => store
            .create_sharing_profile(actor, value)
            .map(|id| Some(id.to_string())),
        (Directory::SharingProfiles, Op::Replace) => {
            let id = numeric(target).ok_or_else(|| Fail::from(ApiError::not_found_id(target)))?;
            store.update_sharing_profile(actor, id, value)?;
            Ok(Some(target.to_owned()))
        }
        (Directory::SharingProfiles, Op::Remove) => {
            let id = numeric(target).ok_or(Fail::Internal)?;
            store.delete_sharing_profile(actor, id)?;
            Ok(Some(target.to_owned()))
        }
        (Directory::Users, Op::Add) => store.create_user(actor, value).map(Some),
        (Directory::Users, Op::Replace) => {
            store.update_user(actor, target, value, AttributeMode::Unfiltered, false)?;
            Ok(Some(target.to_owned()))
        }
        (Directory::Users, Op::Remove) => {
            store.delete_user(actor, target)?;
            Ok(Some(target.to_owned()))
        }
        (Directory::UserGroups, Op::Add) => store.create_user_group(actor, value).map(Some),
        (Directory::UserGroups, Op::Replace) => {
            store.update_user_group(actor, target, value)?;
            Ok(Some(target.to_owned()))
        }
        (Directory::UserGroups, Op::Remove) => {
            store.delete_user_group(actor, target)?;
            Ok(Some(target.to_owned()))
        }
        (Directory::ActiveConnections, Op::Add) => {
            // Translation runs outside the per-patch try: the whole request fails.
            Err(Fail::Whole(Box::new(ApiError::unsupported(
                "Active connection records are read-only.",
            ))))
        }
        (Directory::ActiveConnections, Op::Replace) => {
            if store.active.contains_key(target) {
                Err(ApiError::unsupported("Active connection records are read-only.").into())
            } else {
                Err(ApiError::not_found_id(target).into())
            }
        }
        (Directory::ActiveConnections, Op::Remove) => {
            store.kill_active(actor, target)?;
            Ok(Some(target.to_owned()))
        }
        (_, Op::Other(_) | Op::Null) => Err(Fail::Internal),
    }
}

// ------------------------------------------------------------------ permissions

/// Who a permission PATCH is about.
#[derive(Clone, Debug)]
pub enum Entity {
    User(String),
    UserGroup(String),
}

#[derive(Default)]
struct Changes<K> {
    add: Vec<(K, ObjectPermission)>,
    remove: Vec<(K, ObjectPermission)>,
}

impl<K: PartialEq> Changes<K> {
    fn push(&mut self, add: bool, key: K, p: ObjectPermission) {
        let list = if add { &mut self.add } else { &mut self.remove };
        // The server collects changes in HashSets: duplicates count once.
        if !list.iter().any(|(k, q)| *k == key && *q == p) {
            list.push((key, p));
        }
    }
}

/// Applies a permission PATCH: everything is parsed first (a parse error changes
/// nothing); then seven steps, each on its own, in the server's order.
#[allow(clippy::too_many_lines)] // the parse table of seven paths; the steps are split out
pub fn permissions(store: &mut Store, actor: &Actor, entity: &Entity, body: &Value) -> Result<()> {
    let list = patches(body)?;
    let mut connection = Changes::<String>::default();
    let mut connection_group = Changes::<String>::default();
    let mut sharing_profile = Changes::<String>::default();
    let mut active = Changes::<String>::default();
    let mut user = Changes::<String>::default();
    let mut user_group = Changes::<String>::default();
    let mut system: (Vec<SystemPermission>, Vec<SystemPermission>) = (Vec::new(), Vec::new());
    for patch in list {
        let obj = patch
            .as_object()
            .ok_or_else(|| Fail::BadJson("a patch must be an object".to_owned()))?;
        let op = parse_op(obj.get("op"))?;
        let add = match op {
            Op::Add => true,
            Op::Remove => false,
            other => {
                return Err(ApiError::bad_request(format!(
                    "Unsupported patch operation: \"{}\"",
                    op_name(other)
                ))
                .into());
            }
        };
        let path = match obj.get("path") {
            Some(Value::String(p)) => p.clone(),
            None | Some(Value::Null) => return Err(Fail::Internal),
            Some(_) => return Err(Fail::BadJson("`path` must be a string".to_owned())),
        };
        let value = match obj.get("value") {
            Some(Value::String(v)) => v.clone(),
            None | Some(Value::Null) => return Err(Fail::Internal),
            Some(_) => return Err(Fail::BadJson("`value` must be a string".to_owned())),
        };
        if path == "/systemPermissions" {
            let p = SystemPermission::parse(&value)
                // 1.5.x `SystemPermission.Type` has no AUDIT: `valueOf` throws.
                .filter(|p| !(store.version.is_1_5() && *p == SystemPermission::Audit))
                .ok_or(Fail::Internal)?;
            let list = if add { &mut system.0 } else { &mut system.1 };
            if !list.contains(&p) {
                list.push(p);
            }
            continue;
        }
        let prefixes: [(&str, &mut Changes<String>); 6] = [
            ("/connectionPermissions/", &mut connection),
            ("/connectionGroupPermissions/", &mut connection_group),
            ("/sharingProfilePermissions/", &mut sharing_profile),
            ("/activeConnectionPermissions/", &mut active),
            ("/userPermissions/", &mut user),
            ("/userGroupPermissions/", &mut user_group),
        ];
        let mut matched = false;
        for (prefix, changes) in prefixes {
            if let Some(id) = path.strip_prefix(prefix) {
                // `Enum.valueOf` of a bad value: IllegalArgumentException.
                let p = ObjectPermission::parse(&value).ok_or(Fail::Internal)?;
                changes.push(add, id.to_owned(), p);
                matched = true;
                break;
            }
        }
        if !matched {
            return Err(
                ApiError::bad_request(format!("Unsupported patch path: \"{path}\"")).into(),
            );
        }
    }

    let can_update_entity = match entity {
        Entity::User(u) => actor.can_user(u, ObjectPermission::Update),
        Entity::UserGroup(g) => actor.can_user_group(g, ObjectPermission::Update),
    };
    let steps = Steps {
        actor,
        entity,
        can_update_entity,
    };
    steps.numeric(
        store,
        &connection,
        |p| &mut p.connection,
        |s, id| s.connections.contains_key(&id),
        |a, id| a.can_connection(id, ObjectPermission::Administer),
    )?;
    steps.numeric(
        store,
        &connection_group,
        |p| &mut p.connection_group,
        |s, id| s.groups.contains_key(&id),
        |a, id| a.can_group(id, ObjectPermission::Administer),
    )?;
    steps.numeric(
        store,
        &sharing_profile,
        |p| &mut p.sharing_profile,
        |s, id| s.sharing_profiles.contains_key(&id),
        |a, id| a.can_sharing_profile(id, ObjectPermission::Administer),
    )?;
    steps.named(
        store,
        &active,
        |p| &mut p.active_connection,
        |s, id| s.active.contains_key(id),
        |a, _| a.admin,
    )?;
    steps.named(
        store,
        &user,
        |p| &mut p.user,
        |s, id| s.users.contains_key(id),
        |a, id| a.can_user(id, ObjectPermission::Administer),
    )?;
    steps.named(
        store,
        &user_group,
        |p| &mut p.user_group,
        |s, id| s.user_groups.contains_key(id),
        |a, id| a.can_user_group(id, ObjectPermission::Administer),
    )?;
    steps.system(store, system)
}

type NumericField = fn(&mut Perms) -> &mut BTreeMap<u64, PermSet>;
type NamedField = fn(&mut Perms) -> &mut BTreeMap<String, PermSet>;

/// The seven steps of a permission PATCH, each applied on its own.
struct Steps<'a> {
    actor: &'a Actor,
    entity: &'a Entity,
    can_update_entity: bool,
}

fn denied() -> Fail {
    ApiError::permission_denied("Permission denied.").into()
}

impl Steps<'_> {
    /// Connections, groups, sharing profiles: numeric objects that must exist (a
    /// foreign key otherwise: 500).
    fn numeric(
        &self,
        store: &mut Store,
        changes: &Changes<String>,
        field: NumericField,
        exists: fn(&Store, u64) -> bool,
        administers: fn(&Actor, u64) -> bool,
    ) -> Result<()> {
        if changes.add.is_empty() && changes.remove.is_empty() {
            return Ok(());
        }
        let mut parsed: Vec<(bool, u64, ObjectPermission)> = Vec::new();
        for (add, list) in [(true, &changes.add), (false, &changes.remove)] {
            for (id, p) in list {
                let id = numeric_id(id).ok_or(Fail::Internal)?;
                if add && !exists(store, id) {
                    return Err(Fail::Internal);
                }
                parsed.push((add, id, *p));
            }
        }
        if !self.actor.admin
            && (!self.can_update_entity
                || parsed
                    .iter()
                    .any(|(_, id, _)| !administers(self.actor, *id)))
        {
            return Err(denied());
        }
        let Some(perms) = entity_perms(store, self.entity) else {
            return Ok(());
        };
        for (add, id, p) in parsed {
            if add {
                field(perms).entry(id).or_default().insert(p);
            } else if let Some(set) = field(perms).get_mut(&id) {
                set.remove(&p);
            }
        }
        Ok(())
    }

    /// Active connections, users, user groups: keyed by name; a name that does not
    /// exist is ignored (the insert joins on existing entities).
    fn named(
        &self,
        store: &mut Store,
        changes: &Changes<String>,
        field: NamedField,
        exists: fn(&Store, &str) -> bool,
        administers: fn(&Actor, &str) -> bool,
    ) -> Result<()> {
        if changes.add.is_empty() && changes.remove.is_empty() {
            return Ok(());
        }
        let mut all = changes.add.iter().chain(&changes.remove);
        if !self.actor.admin
            && (!self.can_update_entity || all.any(|(id, _)| !administers(self.actor, id)))
        {
            return Err(denied());
        }
        let adds: Vec<(String, ObjectPermission)> = changes
            .add
            .iter()
            .filter(|(id, _)| exists(store, id))
            .cloned()
            .collect();
        let Some(perms) = entity_perms(store, self.entity) else {
            return Ok(());
        };
        for (id, p) in adds {
            field(perms).entry(id).or_default().insert(p);
        }
        for (id, p) in &changes.remove {
            if let Some(set) = field(perms).get_mut(id) {
                set.remove(p);
            }
        }
        Ok(())
    }

    /// System permissions: admins only; nobody removes their own.
    fn system(
        &self,
        store: &mut Store,
        (add, remove): (Vec<SystemPermission>, Vec<SystemPermission>),
    ) -> Result<()> {
        if add.is_empty() && remove.is_empty() {
            return Ok(());
        }
        if !self.actor.admin {
            return Err(denied());
        }
        if !remove.is_empty() && matches!(self.entity, Entity::User(u) if *u == self.actor.username)
        {
            return Err(ApiError::unsupported(
                "Removing your own administrative permissions is not allowed.",
            )
            .into());
        }
        let Some(perms) = entity_perms(store, self.entity) else {
            return Ok(());
        };
        perms.system.extend(add);
        for p in remove {
            perms.system.remove(&p);
        }
        Ok(())
    }
}

fn entity_perms<'a>(store: &'a mut Store, entity: &Entity) -> Option<&'a mut Perms> {
    match entity {
        Entity::User(u) => store.users.get_mut(u).map(|u| &mut u.perms),
        Entity::UserGroup(g) => store.user_groups.get_mut(g).map(|g| &mut g.perms),
    }
}

// ------------------------------------------------------------------ membership

/// Which membership set a PATCH changes.
#[derive(Clone, Debug)]
pub enum Membership {
    /// `users/{u}/userGroups`: the groups the user belongs to.
    UserGroupsOfUser(String),
    /// `userGroups/{g}/userGroups`: the groups this group belongs to.
    ParentGroupsOfGroup(String),
    /// `userGroups/{g}/memberUsers`.
    MemberUsers(String),
    /// `userGroups/{g}/memberUserGroups`.
    MemberGroups(String),
}

/// Applies a membership PATCH: path exactly `/`, adds then removes; unknown
/// identifiers are ignored.
pub fn membership(
    store: &mut Store,
    actor: &Actor,
    which: &Membership,
    body: &Value,
) -> Result<()> {
    let list = patches(body)?;
    let mut adds = Vec::new();
    let mut removes = Vec::new();
    for patch in list {
        let obj = patch
            .as_object()
            .ok_or_else(|| Fail::BadJson("a patch must be an object".to_owned()))?;
        let op = parse_op(obj.get("op"))?;
        let path = obj.get("path").and_then(Value::as_str).unwrap_or_default();
        let value = obj
            .get("value")
            .and_then(Value::as_str)
            .ok_or(Fail::Internal)?
            .to_owned();
        match op {
            Op::Add | Op::Remove if path != "/" => {
                return Err(
                    ApiError::bad_request(format!("Unsupported patch path: \"{path}\"")).into(),
                );
            }
            Op::Add => adds.push(value),
            Op::Remove => removes.push(value),
            other => {
                return Err(ApiError::bad_request(format!(
                    "Unsupported patch operation: \"{}\"",
                    op_name(other)
                ))
                .into());
            }
        }
    }
    // (group, is_user_member, member) pairs.
    let pair = |other: &str| -> (String, bool, String) {
        match which {
            Membership::UserGroupsOfUser(u) => (other.to_owned(), true, u.clone()),
            Membership::ParentGroupsOfGroup(g) => (other.to_owned(), false, g.clone()),
            Membership::MemberUsers(g) => (g.clone(), true, other.to_owned()),
            Membership::MemberGroups(g) => (g.clone(), false, other.to_owned()),
        }
    };
    if !actor.admin {
        for other in adds.iter().chain(&removes) {
            let (group, is_user, member) = pair(other);
            let member_ok = if is_user {
                actor.can_user(&member, ObjectPermission::Update)
            } else {
                actor.can_user_group(&member, ObjectPermission::Update)
            };
            if !actor.can_user_group(&group, ObjectPermission::Update) || !member_ok {
                return Err(ApiError::permission_denied("Permission denied.").into());
            }
        }
    }
    for (add, list) in [(true, adds), (false, removes)] {
        for other in list {
            let (group, is_user, member) = pair(&other);
            let member_exists = if is_user {
                store.users.contains_key(&member)
            } else {
                store.user_groups.contains_key(&member)
            };
            let Some(g) = store.user_groups.get_mut(&group) else {
                continue;
            };
            let set = if is_user {
                &mut g.member_users
            } else {
                &mut g.member_groups
            };
            if add {
                if member_exists {
                    set.insert(member);
                }
            } else {
                set.remove(&member);
            }
        }
    }
    Ok(())
}

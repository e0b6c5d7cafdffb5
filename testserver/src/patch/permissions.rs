//! The permission PATCH of a user or user group (rest-api.md §6): every patch is
//! parsed first (a parse error changes nothing); then seven steps, one per kind of
//! permission, each on its own in the server's order, so a failing step leaves the
//! earlier ones applied. The six object steps are one generic step over
//! [`Target`].

use serde_json::Value;

use super::{adds, parse_op, patch_object, patch_path, patches};
use crate::error::{ApiError, Fail, Result};
use crate::kind::{
    ActiveConnections, Connection, Group, Identifier, Principal, SharingProfile, Target, User,
    UserGroup,
};
use crate::state::{ObjectPermission, SystemPermission};
use crate::store::{Actor, Perms, Store, denied};

/// The changes asked for one kind of permission, adds and removes in order, each
/// once (the server collects them in `HashSet`s).
struct Changes<E> {
    add: Vec<E>,
    remove: Vec<E>,
}

impl<E> Default for Changes<E> {
    fn default() -> Self {
        Self {
            add: Vec::new(),
            remove: Vec::new(),
        }
    }
}

impl<E: PartialEq> Changes<E> {
    fn push(&mut self, add: bool, entry: E) {
        let list = if add { &mut self.add } else { &mut self.remove };
        if !list.contains(&entry) {
            list.push(entry);
        }
    }

    fn is_empty(&self) -> bool {
        self.add.is_empty() && self.remove.is_empty()
    }
}

/// The object steps in the server's order, by their path prefix.
const OBJECT_STEPS: [&str; 6] = [
    Connection::PERMISSIONS,
    Group::PERMISSIONS,
    SharingProfile::PERMISSIONS,
    ActiveConnections::PERMISSIONS,
    User::PERMISSIONS,
    UserGroup::PERMISSIONS,
];

/// Applies a permission PATCH to the principal `name` of kind `P`. With
/// `injected` (a `patch-error` fault), the step that patch `index` belongs to
/// fails with a 400 carrying the message, after the steps before it were
/// applied: a failure part way through, as a real server's later statement may
/// fail (rest-api.md §6).
pub fn permissions<P: Principal>(
    store: &mut Store,
    actor: &Actor,
    name: &String,
    body: &Value,
    injected: &super::Injected,
) -> Result<()> {
    let list = patches(body)?;
    let mut objects: [Changes<(String, ObjectPermission)>; 6] = Default::default();
    let mut system = Changes::<SystemPermission>::default();
    // The step (0-5 objects, 6 system) of the patch the fault names.
    let mut failing = None;
    for (index, patch) in list.iter().enumerate() {
        let here = injected.as_ref().filter(|(i, _)| *i == index);
        let obj = patch_object(patch)?;
        let add = adds(parse_op(obj.get("op"))?)?;
        let path = patch_path(obj)?;
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
            system.push(add, p);
            if let Some((_, message)) = here {
                failing = Some((OBJECT_STEPS.len(), message));
            }
            continue;
        }
        // `/{key}/{identifier}`, the identifier taken literally.
        let found = OBJECT_STEPS.iter().enumerate().find_map(|(step, key)| {
            let id = path
                .strip_prefix('/')?
                .strip_prefix(key)?
                .strip_prefix('/')?;
            Some((step, id))
        });
        let Some((step, id)) = found else {
            return Err(
                ApiError::bad_request(format!("Unsupported patch path: \"{path}\"")).into(),
            );
        };
        // `Enum.valueOf` of a bad value: IllegalArgumentException.
        let p = ObjectPermission::parse(&value).ok_or(Fail::Internal)?;
        objects[step].push(add, (id.to_owned(), p));
        if let Some((_, message)) = here {
            failing = Some((step, message));
        }
    }
    let fail_at = |step: usize| -> Result<()> {
        match failing {
            Some((at, message)) if at == step => Err(ApiError::bad_request(message.clone()).into()),
            _ => Ok(()),
        }
    };

    let step = Step::<P> {
        actor,
        name,
        may_update: actor.can::<P>(name, ObjectPermission::Update),
        principal: std::marker::PhantomData,
    };
    let [connection, group, profile, active, user, user_group] = &objects;
    fail_at(0)?;
    step.objects::<Connection>(store, connection)?;
    fail_at(1)?;
    step.objects::<Group>(store, group)?;
    fail_at(2)?;
    step.objects::<SharingProfile>(store, profile)?;
    fail_at(3)?;
    step.objects::<ActiveConnections>(store, active)?;
    fail_at(4)?;
    step.objects::<User>(store, user)?;
    fail_at(5)?;
    step.objects::<UserGroup>(store, user_group)?;
    fail_at(6)?;
    step.system(store, &system)
}

/// What every step needs to know about the request.
struct Step<'a, P> {
    actor: &'a Actor,
    name: &'a String,
    /// UPDATE on the principal, which every non-administrator needs.
    may_update: bool,
    principal: std::marker::PhantomData<P>,
}

impl<P: Principal> Step<'_, P> {
    fn perms<'s>(&self, store: &'s mut Store) -> Option<&'s mut Perms> {
        P::table_mut(store).get_mut(self.name).map(P::perms_mut)
    }

    /// One kind of object permission: adds, then removes. Identifiers of
    /// serial-keyed objects must be numbers and an added one must exist (a foreign
    /// key otherwise: 500); a name that does not exist is skipped (the insert joins
    /// on existing entities).
    fn objects<T: Target>(
        &self,
        store: &mut Store,
        changes: &Changes<(String, ObjectPermission)>,
    ) -> Result<()> {
        if changes.is_empty() {
            return Ok(());
        }
        let mut parsed: Vec<(bool, T::Id, ObjectPermission)> = Vec::new();
        for (add, list) in [(true, &changes.add), (false, &changes.remove)] {
            for (raw, p) in list {
                let id = T::Id::parse(raw).ok_or(Fail::Internal)?;
                if add && T::Id::FOREIGN_KEY && !T::exists(store, &id) {
                    return Err(Fail::Internal);
                }
                parsed.push((add, id, *p));
            }
        }
        if !self.actor.admin
            && (!self.may_update
                || parsed
                    .iter()
                    .any(|(_, id, _)| !T::may_grant(self.actor, id)))
        {
            return Err(denied());
        }
        let parsed: Vec<_> = parsed
            .into_iter()
            .filter(|(add, id, _)| !add || T::exists(store, id))
            .collect();
        let Some(perms) = self.perms(store) else {
            return Ok(());
        };
        let grants = T::grants_mut(perms);
        for (add, id, p) in parsed {
            if add {
                grants.entry(id).or_default().insert(p);
            } else if let Some(set) = grants.get_mut(&id) {
                set.remove(&p);
            }
        }
        Ok(())
    }

    /// System permissions: administrators only; nobody removes their own.
    fn system(&self, store: &mut Store, changes: &Changes<SystemPermission>) -> Result<()> {
        if changes.is_empty() {
            return Ok(());
        }
        if !self.actor.admin {
            return Err(denied());
        }
        if !changes.remove.is_empty() && P::is_actor(self.actor, self.name) {
            return Err(ApiError::unsupported(
                "Removing your own administrative permissions is not allowed.",
            )
            .into());
        }
        let Some(perms) = self.perms(store) else {
            return Ok(());
        };
        perms.system.extend(changes.add.iter().copied());
        for p in &changes.remove {
            perms.system.remove(p);
        }
        Ok(())
    }
}

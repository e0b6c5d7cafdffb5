//! User groups (rest-api.md §7): named, holding permissions and members, with no
//! attributes on 1.6.0 and `disabled` as an attribute on 1.5.5 (`crate::legacy`).
//! The rules are `UserGroupService`'s, in its order.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::{Kind, Principal, SubResource, Target, Via};
use crate::api;
use crate::error::{Fail, Result};
use crate::legacy;
use crate::patch::Membership;
use crate::state::{ObjectPermission, Permissions, SystemPermission};
use crate::store::{
    Actor, NAME_LIMIT, PermSet, Perms, Store, chars, check_name, denied, map_field, object,
    required_map, text_field,
};
use crate::version::GuacamoleVersion;

#[derive(Clone, Debug)]
pub struct UserGroup {
    pub disabled: bool,
    pub attributes: BTreeMap<String, String>,
    pub member_users: BTreeSet<String>,
    pub member_groups: BTreeSet<String>,
    pub perms: Perms,
}

impl Target for UserGroup {
    type Id = String;
    const NOUN: &'static str = "user group";
    const PERMISSIONS: &'static str = "userGroupPermissions";

    target_in!(user_groups, user_group, user_group_permissions);
}

impl Principal for UserGroup {
    fn perms(&self) -> &Perms {
        &self.perms
    }
    fn perms_mut(&mut self) -> &mut Perms {
        &mut self.perms
    }
}

impl Kind for UserGroup {
    const ENDPOINT: &'static str = "userGroups";
    const SUB_RESOURCES: &'static [SubResource<Self>] = &[
        SubResource {
            name: "permissions",
            serve: api::permissions::<Self>,
        },
        SubResource {
            name: "userGroups",
            serve: |call, id| api::membership(call, &Membership::ParentGroupsOfGroup(id.clone())),
        },
        SubResource {
            name: "memberUsers",
            serve: |call, id| api::membership(call, &Membership::MemberUsers(id.clone())),
        },
        SubResource {
            name: "memberUserGroups",
            serve: |call, id| api::membership(call, &Membership::MemberGroups(id.clone())),
        },
    ];

    table_in!(user_groups);

    fn view(&self, store: &Store, actor: &Actor, id: &String) -> Value {
        crate::views::user_group(actor, id, self.disabled, store.version)
    }

    fn echo(body: &Value, _id: &String, version: GuacamoleVersion) -> Result<Value> {
        crate::echo::user_group(body, version)
    }

    fn create(store: &mut Store, actor: &Actor, body: &Value) -> Result<String> {
        let obj = object(body)?;
        let identifier = text_field(obj.get("identifier"), "identifier")?.unwrap_or_default();
        // 1.5.x filters the map against a non-empty schema: a null map throws.
        let attributes = map_field(obj.get("attributes"), "attributes")?;
        if store.version.is_1_5() && attributes.is_none() {
            return Err(Fail::Internal);
        }
        let disabled =
            store.version.is_1_5() && legacy::group_disabled(&attributes.unwrap_or_default());
        if !actor.has_system(SystemPermission::CreateUserGroup) {
            return Err(denied());
        }
        check_name(&identifier, "The group name must not be blank.", || {
            store
                .user_groups
                .contains_key(&identifier)
                .then(|| format!("Group \"{identifier}\" already exists."))
        })?;
        if chars(&identifier) > NAME_LIMIT {
            return Err(Fail::Internal);
        }
        let group = Self {
            disabled,
            attributes: BTreeMap::new(),
            member_users: BTreeSet::new(),
            member_groups: BTreeSet::new(),
            perms: Perms::default(),
        };
        Ok(store.created::<Self>(actor, identifier, group))
    }

    /// Only `disabled` can change (absent is false); on 1.5.5 the attribute
    /// decides, and only for a caller holding ADMINISTER on the group.
    fn update(
        store: &mut Store,
        actor: &Actor,
        name: &String,
        body: &Value,
        _via: Via,
    ) -> Result<()> {
        let obj = object(body)?;
        let mut disabled = matches!(obj.get("disabled"), Some(Value::Bool(true)));
        if store.version.is_1_5() {
            let attributes = required_map(obj, "attributes")?;
            let current = store.user_groups.get(name).is_some_and(|g| g.disabled);
            disabled = if actor.can::<Self>(name, ObjectPermission::Administer) {
                legacy::group_disabled(&attributes)
            } else {
                current
            };
        }
        store.existing::<Self>(name)?;
        if !actor.can::<Self>(name, ObjectPermission::Update) {
            return Err(denied());
        }
        if let Some(g) = store.user_groups.get_mut(name) {
            g.disabled = disabled;
        }
        Ok(())
    }

    /// Its memberships in other groups go with it.
    fn cascade(store: &mut Store, name: &String, _removed: Self) -> Result<()> {
        for g in store.user_groups.values_mut() {
            g.member_groups.remove(name);
        }
        Ok(())
    }
}

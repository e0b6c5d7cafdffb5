//! Users (rest-api.md §7): named, holding permissions, with a password that is
//! never read back and restriction attributes that only ADMINISTER on the user
//! shows or sets; on 1.5.5 `disabled` is one of those attributes (`crate::legacy`).
//! The rules are `UserService`'s, in its order.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::{Kind, Principal, SubResource, Target, Via};
use crate::api;
use crate::error::{ApiError, Result};
use crate::legacy;
use crate::patch::Membership;
use crate::schema;
use crate::server::json_reply;
use crate::state::{ObjectPermission, Permissions, SystemPermission};
use crate::store::{
    Actor, AttributeMode, NAME_LIMIT, PermSet, Perms, Store, apply_attributes, chars, check_name,
    denied, object, required_map, text_field,
};
use crate::version::GuacamoleVersion;

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

impl Target for User {
    type Id = String;
    const NOUN: &'static str = "user";
    const PERMISSIONS: &'static str = "userPermissions";

    target_in!(users, user, user_permissions);
}

impl Principal for User {
    const ONLY_ITSELF: bool = true;
    fn perms(&self) -> &Perms {
        &self.perms
    }
    fn perms_mut(&mut self) -> &mut Perms {
        &mut self.perms
    }
    fn is_actor(actor: &Actor, id: &String) -> bool {
        *id == actor.username
    }
}

impl Kind for User {
    const ENDPOINT: &'static str = "users";
    const SUB_RESOURCES: &'static [SubResource<Self>] = &[
        SubResource {
            name: "password",
            serve: api::password,
        },
        SubResource {
            name: "permissions",
            serve: api::permissions::<Self>,
        },
        SubResource {
            name: "effectivePermissions",
            serve: api::effective_permissions,
        },
        SubResource {
            name: "userGroups",
            serve: |call, id| api::membership(call, &Membership::UserGroupsOfUser(id.clone())),
        },
        SubResource {
            name: "history",
            serve: |call, _| match call.method {
                "GET" => Ok(json_reply(200, &json!([]))),
                _ => Ok(api::not_allowed()),
            },
        },
    ];

    table_in!(users);

    /// Every user sees themselves.
    fn visible(actor: &Actor, id: &String) -> bool {
        *id == actor.username || actor.can::<Self>(id, ObjectPermission::Read)
    }

    fn view(&self, store: &Store, actor: &Actor, id: &String) -> Value {
        crate::views::user(actor, id, self, store.version)
    }

    fn echo(body: &Value, _id: &String, version: GuacamoleVersion) -> Result<Value> {
        crate::echo::user(body, version)
    }

    fn create(store: &mut Store, actor: &Actor, body: &Value) -> Result<String> {
        let obj = object(body)?;
        let attributes = required_map(obj, "attributes")?;
        let username = text_field(obj.get("username"), "username")?.unwrap_or_default();
        let password = text_field(obj.get("password"), "password")?;
        if !actor.has_system(SystemPermission::CreateUser) {
            return Err(denied());
        }
        check_name(&username, "The username must not be blank.", || {
            store
                .users
                .contains_key(&username)
                .then(|| format!("User \"{username}\" already exists."))
        })?;
        if chars(&username) > NAME_LIMIT {
            return Err(crate::error::Fail::Internal);
        }
        let mut stored = BTreeMap::new();
        apply_attributes(
            &mut stored,
            &attributes,
            schema::user_attributes(store.version),
            AttributeMode::Filtered,
        );
        // 1.5.x: a new user's restrictions are settable, `disabled` among them
        // (held by the model, not as an attribute); 1.6.0 ignores it on create.
        let mut disabled = false;
        if store.version.is_1_5() {
            stored.remove(legacy::DISABLED);
            disabled = legacy::user_disabled(&attributes) == Some(true);
        }
        let mut perms = Perms::default();
        // Every new user can read itself (`IMPLICIT_USER_PERMISSIONS`).
        perms.user.insert(
            username.clone(),
            [ObjectPermission::Read].into_iter().collect(),
        );
        let user = Self {
            password,
            disabled,
            attributes: stored,
            perms,
            last_active: None,
            totp_secret: None,
        };
        Ok(store.created::<Self>(actor, username, user))
    }

    /// `password` only when given; `disabled` always (absent is false); the
    /// username in the body is ignored.
    fn update(
        store: &mut Store,
        actor: &Actor,
        username: &String,
        body: &Value,
        via: Via,
    ) -> Result<()> {
        let obj = object(body)?;
        let attributes = required_map(obj, "attributes")?;
        let password = text_field(obj.get("password"), "password")?;
        let disabled = matches!(obj.get("disabled"), Some(Value::Bool(true)));
        store.existing::<Self>(username)?;
        if !actor.can::<Self>(username, ObjectPermission::Update) {
            return Err(denied());
        }
        let oneself = via == Via::Put && *username == actor.username;
        if oneself && store.version.is_1_5() {
            // 1.5.5 `UserResource#updateObject`: nobody updates themselves by PUT.
            return Err(denied());
        }
        if oneself && password.is_some() {
            return Err(ApiError::permission_denied(
                "Permission denied. The password update endpoint must be used to change the current user's password.",
            )
            .into());
        }
        let admin_of_user = actor.can::<Self>(username, ObjectPermission::Administer);
        let version = store.version;
        let Some(user) = store.users.get_mut(username) else {
            return Err(ApiError::not_found_id(username).into());
        };
        if password.is_some() {
            user.password = password;
        }
        // Restriction attributes are settable only with ADMINISTER on the user.
        let fields: Vec<schema::AttributeField> = schema::user_attributes(version)
            .iter()
            .filter(|f| admin_of_user || !f.restricted)
            .cloned()
            .collect();
        apply_attributes(&mut user.attributes, &attributes, &fields, via.attributes());
        if version.is_1_5() {
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

    fn before_delete(actor: &Actor, username: &String) -> Result<()> {
        if *username == actor.username {
            return Err(ApiError::unsupported("Deleting your own user is not allowed.").into());
        }
        Ok(())
    }

    /// Its memberships go with it.
    fn cascade(store: &mut Store, username: &String, _removed: Self) -> Result<()> {
        for g in store.user_groups.values_mut() {
            g.member_users.remove(username);
        }
        Ok(())
    }
}

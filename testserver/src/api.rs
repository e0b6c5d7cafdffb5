//! The REST API's routes (rest-api.md §1–§10): authentication, the session's data
//! source, and each directory with its sub-resources.

use base64::Engine as _;
use serde_json::{Map, Value, json};

use crate::echo;
use crate::error::{ApiError, Fail, Result};
use crate::patch::{self, Directory, Entity, Membership};
use crate::schema;
use crate::server::{ApiRequest, Reply, Shared, empty_reply, error_reply, json_reply, text_reply};
use crate::state::{ObjectPermission, SystemPermission};
use crate::store::{Actor, AttributeMode, numeric_id};
use crate::views;

/// The sharing data source of a JDBC extension is its own name plus `-shared`
/// (`postgresql-shared`, `mysql-shared`, `sqlserver-shared`).
fn shared_data_source(ds: &str) -> String {
    format!("{ds}-shared")
}

/// `Guacamole-Token` header first (any case, non-empty), then `?token=`.
pub fn token_of(headers: &hyper::HeaderMap, query: Option<&str>) -> Option<String> {
    if let Some(v) = headers.get("guacamole-token").and_then(|v| v.to_str().ok())
        && !v.is_empty()
    {
        return Some(v.to_owned());
    }
    query_params(query)
        .into_iter()
        .find(|(k, _)| k == "token")
        .map(|(_, v)| v)
}

fn percent_decode(s: &str, plus_is_space: bool) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' if plus_is_space => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(b) => {
                        out.push(b);
                        i += 3;
                        continue;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `a=1&b=2` pairs, decoded as a form.
pub fn query_params(query: Option<&str>) -> Vec<(String, String)> {
    query
        .unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k, true), percent_decode(v, true))
        })
        .collect()
}

fn body_json(req: &ApiRequest) -> Result<Option<Value>> {
    if req.body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    serde_json::from_slice(&req.body)
        .map(Some)
        .map_err(|e| Fail::BadJson(format!("Unable to parse JSON: {e}")))
}

fn reply(result: Result<Reply>) -> Reply {
    match result {
        Ok(r) => r,
        Err(Fail::BadJson(message)) => text_reply(400, &message),
        Err(other) => match other.into_api() {
            Some(e) => error_reply(&e),
            None => empty_reply(500),
        },
    }
}

/// Routes one API request. One trailing slash is accepted everywhere, as Jersey
/// accepts it: every resource method matches `(/)?` after its path
/// (docs/guacamole-versions.md, "Trailing slashes").
pub fn route(shared: &Shared, req: &ApiRequest) -> Reply {
    let path = req.path.strip_suffix('/').unwrap_or(&req.path);
    let segments: Vec<String> = path
        .trim_start_matches('/')
        .split('/')
        .map(|s| percent_decode(s, false))
        .collect();
    let segs: Vec<&str> = segments.iter().map(String::as_str).collect();
    let method = req.method.as_str();
    match (method, segs.as_slice()) {
        ("POST", ["api", "tokens"]) => reply(login(shared, req)),
        ("DELETE", ["api", "tokens", token]) => {
            if shared.end_session(token) {
                empty_reply(204)
            } else {
                error_reply(&ApiError::not_found("No such token."))
            }
        }
        (_, ["api", "session", rest @ ..]) => {
            let token = token_of(&req.headers, req.query.as_deref());
            let Some(user) = token.as_deref().and_then(|t| shared.session_user(t)) else {
                // A GuacamoleUnauthorizedException also destroys the named session.
                if let Some(t) = &token {
                    shared.end_session(t);
                }
                return error_reply(&ApiError::session_denied());
            };
            match (method, rest) {
                ("DELETE", []) => {
                    if let Some(t) = &token {
                        shared.end_session(t);
                    }
                    empty_reply(204)
                }
                // 1.5.5 has no HEAD method on the session resource (nor a GET
                // that Jersey could answer HEAD with).
                ("HEAD", []) if shared.version().is_1_5() => text_reply(405, "Method Not Allowed"),
                ("HEAD", []) => empty_reply(204),
                (_, ["data", ds, rest @ ..]) => {
                    if *ds == shared_data_source(&shared.data_source) {
                        return reply(shared_context(method, rest));
                    }
                    if *ds != shared.data_source {
                        return error_reply(&ApiError::not_found(format!(
                            "Session not associated with authentication provider \"{ds}\"."
                        )));
                    }
                    reply(data(shared, req, &user, rest))
                }
                _ => text_reply(404, "Not Found"),
            }
        }
        _ => text_reply(404, "Not Found"),
    }
}

fn login(shared: &Shared, req: &ApiRequest) -> Result<Reply> {
    let form = query_params(std::str::from_utf8(&req.body).ok());
    let field = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    if let Some(token) = field("token")
        && let Some(user) = shared.session_user(&token)
    {
        return Ok(json_reply(200, &login_body(shared, &token, &user)));
    }
    let (mut username, mut password) = (field("username"), field("password"));
    if username.is_none() && password.is_none() {
        let basic = req
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Basic "))
            .and_then(|b| {
                base64::engine::general_purpose::STANDARD
                    .decode(b.trim())
                    .ok()
            })
            .and_then(|b| String::from_utf8(b).ok());
        if let Some(pair) = basic {
            let (u, p) = pair.split_once(':').unwrap_or((&pair, ""));
            username = Some(u.to_owned());
            password = Some(p.to_owned());
        }
    }
    let username = username.unwrap_or_default();
    let (ok, totp_secret) = {
        let store = shared.read_store();
        let user = store.users.get(&username);
        (
            user.is_some_and(|u| !u.disabled && u.password.is_some() && u.password == password),
            user.and_then(|u| u.totp_secret.clone()),
        )
    };
    if !ok {
        return Err(ApiError::invalid_login().into());
    }
    // The TOTP extension decorates the user context after the database login.
    if let Some(secret) = totp_secret {
        crate::totp::verify(
            &shared.totp_used,
            &username,
            &secret,
            field("guac-totp").as_deref(),
        )?;
    }
    if let Some(u) = shared.write_store().users.get_mut(&username) {
        u.last_active = Some(crate::now_millis());
    }
    let token = shared.new_session(&username);
    Ok(json_reply(200, &login_body(shared, &token, &username)))
}

fn login_body(shared: &Shared, token: &str, username: &str) -> Value {
    json!({
        "authToken": token,
        "username": username,
        "dataSource": shared.data_source,
        "availableDataSources": [shared.data_source, shared_data_source(&shared.data_source)],
    })
}

/// The sharing data source: it grants access only through share links, so for a
/// logged-in user every directory is empty and read-only.
fn shared_context(method: &str, rest: &[&str]) -> Result<Reply> {
    match (method, rest) {
        ("GET", ["connectionGroups", "ROOT", "tree"] | ["connectionGroups", "ROOT"]) => {
            Ok(json_reply(200, &views::root_group()))
        }
        ("GET", [_]) => Ok(json_reply(200, &json!({}))),
        _ => Err(ApiError::permission_denied("Permission denied.").into()),
    }
}

fn permission_filter(query: Option<&str>) -> Result<Vec<ObjectPermission>> {
    query_params(query)
        .into_iter()
        .filter(|(k, _)| k == "permission")
        .map(|(_, v)| {
            ObjectPermission::parse(&v)
                .ok_or_else(|| ApiError::not_found(format!("Invalid permission: \"{v}\"")).into())
        })
        .collect()
}

fn need_body(req: &ApiRequest) -> Result<Value> {
    body_json(req)?.filter(|v| !v.is_null()).ok_or_else(|| {
        ApiError::bad_request("Data must be submitted when creating objects.").into()
    })
}

fn data(shared: &Shared, req: &ApiRequest, user: &str, rest: &[&str]) -> Result<Reply> {
    let method = req.method.as_str();
    match rest {
        ["connections", tail @ ..] => connections(shared, req, user, method, tail),
        ["connectionGroups", tail @ ..] => connection_groups(shared, req, user, method, tail),
        ["users", tail @ ..] => users(shared, req, user, method, tail),
        ["self", tail @ ..] => {
            let mut path = vec![user];
            path.extend_from_slice(tail);
            users(shared, req, user, method, &path)
        }
        ["userGroups", tail @ ..] => user_groups(shared, req, user, method, tail),
        ["sharingProfiles", tail @ ..] => sharing_profiles(shared, req, user, method, tail),
        ["activeConnections", tail @ ..] => active_connections(shared, req, user, method, tail),
        ["history", kind] if method == "GET" => history(shared, req, user, kind, None),
        ["schema", which] if method == "GET" => {
            let version = shared.version();
            let body = match *which {
                "connectionAttributes" => schema::forms(schema::CONNECTION_ATTRIBUTES),
                "connectionGroupAttributes" => schema::forms(schema::GROUP_ATTRIBUTES),
                "userAttributes" => schema::forms(schema::user_attributes(version)),
                "userGroupAttributes" => schema::forms(schema::user_group_attributes(version)),
                // 1.6.0 added the user preference schema endpoint.
                "userPreferenceAttributes" if !version.is_1_5() => json!([]),
                "sharingProfileAttributes" => json!([]),
                "protocols" => schema::protocols(),
                _ => return Ok(text_reply(404, "Not Found")),
            };
            Ok(json_reply(200, &body))
        }
        _ => Ok(text_reply(404, "Not Found")),
    }
}

fn patch_directory(shared: &Shared, req: &ApiRequest, user: &str, dir: Directory) -> Result<Reply> {
    let body = body_json(req)?.unwrap_or(Value::Null);
    let mut store = shared.write_store();
    let actor = store.actor(user);
    if shared.version().is_1_5() {
        crate::legacy::directory_patch(&mut store, &actor, dir, &body, &req.injected_patch_error)?;
        return Ok(empty_reply(204));
    }
    let result = patch::directory(&mut store, &actor, dir, &body, &req.injected_patch_error)?;
    Ok(json_reply(200, &result))
}

fn connections(
    shared: &Shared,
    req: &ApiRequest,
    user: &str,
    method: &str,
    tail: &[&str],
) -> Result<Reply> {
    match (method, tail) {
        ("GET", []) => {
            let filter = permission_filter(req.query.as_deref())?;
            let store = shared.read_store();
            let actor = store.actor(user);
            let mut map = Map::new();
            for (id, c) in &store.connections {
                let perms = actor.perms.connection.get(id);
                let visible = actor.admin
                    || (actor.can_connection(*id, ObjectPermission::Read)
                        && (filter.is_empty()
                            || filter.iter().any(|p| perms.is_some_and(|s| s.contains(p)))));
                if visible {
                    map.insert(id.to_string(), views::connection(&store, *id, c));
                }
            }
            Ok(json_reply(200, &Value::Object(map)))
        }
        ("POST", []) => {
            let body = need_body(req)?;
            let mut store = shared.write_store();
            let actor = store.actor(user);
            let id = store.create_connection(&actor, &body)?;
            Ok(json_reply(200, &echo::connection(&body, id)?))
        }
        ("PATCH", []) => patch_directory(shared, req, user, Directory::Connections),
        (_, [id, sub @ ..]) => {
            let store_read = shared.read_store();
            let actor = store_read.actor(user);
            let found = numeric_id(id).filter(|n| {
                store_read.connections.contains_key(n)
                    && actor.can_connection(*n, ObjectPermission::Read)
            });
            let Some(n) = found else {
                return Err(ApiError::not_found_id(id).into());
            };
            match (method, sub) {
                ("GET", []) => {
                    let c = store_read.connections.get(&n).ok_or(Fail::Internal)?;
                    Ok(json_reply(200, &views::connection(&store_read, n, c)))
                }
                ("GET", ["parameters"]) => {
                    if !(actor.admin || actor.can_connection(n, ObjectPermission::Update)) {
                        return Err(ApiError::permission_denied(
                            "Permission to read connection parameters denied.",
                        )
                        .into());
                    }
                    let c = store_read.connections.get(&n).ok_or(Fail::Internal)?;
                    Ok(json_reply(200, &json!(c.parameters)))
                }
                ("GET", ["history"]) => {
                    drop(store_read);
                    history(shared, req, user, "connections", Some(n))
                }
                ("GET", ["sharingProfiles"]) => {
                    let map: Map<String, Value> = store_read
                        .sharing_profiles
                        .iter()
                        .filter(|(sid, s)| {
                            s.primary == n
                                && actor.can_sharing_profile(**sid, ObjectPermission::Read)
                        })
                        .map(|(sid, s)| {
                            (
                                sid.to_string(),
                                views::sharing_profile(*sid, &s.name, s.primary),
                            )
                        })
                        .collect();
                    Ok(json_reply(200, &Value::Object(map)))
                }
                ("PUT", []) => {
                    drop(store_read);
                    let body = body_json(req)?.ok_or(Fail::Internal)?;
                    let mut store = shared.write_store();
                    store.update_connection(&actor, n, &body, AttributeMode::Filtered)?;
                    Ok(empty_reply(204))
                }
                ("DELETE", []) => {
                    drop(store_read);
                    shared.write_store().delete_connection(&actor, n)?;
                    Ok(empty_reply(204))
                }
                _ => Ok(text_reply(405, "Method Not Allowed")),
            }
        }
        _ => Ok(text_reply(405, "Method Not Allowed")),
    }
}

fn connection_groups(
    shared: &Shared,
    req: &ApiRequest,
    user: &str,
    method: &str,
    tail: &[&str],
) -> Result<Reply> {
    match (method, tail) {
        ("GET", []) => {
            let store = shared.read_store();
            let actor = store.actor(user);
            let map: Map<String, Value> = store
                .groups
                .iter()
                .filter(|(id, _)| actor.can_group(**id, ObjectPermission::Read))
                .map(|(id, g)| (id.to_string(), views::group(*id, g)))
                .collect();
            Ok(json_reply(200, &Value::Object(map)))
        }
        ("POST", []) => {
            let body = need_body(req)?;
            let mut store = shared.write_store();
            let actor = store.actor(user);
            let id = store.create_group(&actor, &body)?;
            Ok(json_reply(200, &echo::group(&body, id)?))
        }
        ("PATCH", []) => patch_directory(shared, req, user, Directory::ConnectionGroups),
        (_, ["ROOT", sub @ ..]) => match (method, sub) {
            ("GET", []) => Ok(json_reply(200, &views::root_group())),
            ("GET", ["tree"]) => {
                let filter = permission_filter(req.query.as_deref())?;
                let store = shared.read_store();
                let actor = store.actor(user);
                Ok(json_reply(200, &views::tree(&store, &actor, None, &filter)))
            }
            // The root group's setters throw UnsupportedOperationException.
            ("PUT" | "DELETE", []) => Err(Fail::Internal),
            _ => Ok(text_reply(405, "Method Not Allowed")),
        },
        (_, [id, sub @ ..]) => {
            let store_read = shared.read_store();
            let actor = store_read.actor(user);
            let Some(n) = numeric_id(id).filter(|n| {
                store_read.groups.contains_key(n) && actor.can_group(*n, ObjectPermission::Read)
            }) else {
                return Err(ApiError::not_found_id(id).into());
            };
            match (method, sub) {
                ("GET", []) => {
                    let g = store_read.groups.get(&n).ok_or(Fail::Internal)?;
                    Ok(json_reply(200, &views::group(n, g)))
                }
                ("GET", ["tree"]) => {
                    let filter = permission_filter(req.query.as_deref())?;
                    Ok(json_reply(
                        200,
                        &views::tree(&store_read, &actor, Some(n), &filter),
                    ))
                }
                ("PUT", []) => {
                    drop(store_read);
                    let body = body_json(req)?.ok_or(Fail::Internal)?;
                    shared
                        .write_store()
                        .update_group(&actor, n, &body, AttributeMode::Filtered)?;
                    Ok(empty_reply(204))
                }
                ("DELETE", []) => {
                    drop(store_read);
                    shared.write_store().delete_group(&actor, n)?;
                    Ok(empty_reply(204))
                }
                _ => Ok(text_reply(405, "Method Not Allowed")),
            }
        }
        _ => Ok(text_reply(405, "Method Not Allowed")),
    }
}

fn can_read_permissions(actor: &Actor, entity: &Entity) -> bool {
    match entity {
        Entity::User(u) => *u == actor.username || actor.can_user(u, ObjectPermission::Read),
        Entity::UserGroup(g) => actor.can_user_group(g, ObjectPermission::Read),
    }
}

fn permission_resource(
    shared: &Shared,
    req: &ApiRequest,
    user: &str,
    method: &str,
    entity: &Entity,
    effective: bool,
) -> Result<Reply> {
    match method {
        "GET" => {
            let store = shared.read_store();
            let actor = store.actor(user);
            if !can_read_permissions(&actor, entity) {
                return Err(ApiError::permission_denied("Permission denied.").into());
            }
            let perms = match entity {
                Entity::User(u) if effective => store.effective_perms(u),
                Entity::User(u) => store
                    .users
                    .get(u)
                    .map(|x| x.perms.clone())
                    .unwrap_or_default(),
                Entity::UserGroup(g) => store
                    .user_groups
                    .get(g)
                    .map(|x| x.perms.clone())
                    .unwrap_or_default(),
            };
            Ok(json_reply(200, &views::permissions(&perms)))
        }
        "PATCH" if !effective => {
            let body = body_json(req)?.unwrap_or(Value::Null);
            let mut store = shared.write_store();
            let actor = store.actor(user);
            patch::permissions(&mut store, &actor, entity, &body)?;
            Ok(empty_reply(204))
        }
        _ => Ok(text_reply(405, "Method Not Allowed")),
    }
}

fn membership_resource(
    shared: &Shared,
    req: &ApiRequest,
    user: &str,
    method: &str,
    which: &Membership,
) -> Result<Reply> {
    match method {
        "GET" => {
            let store = shared.read_store();
            let list: Vec<String> = match which {
                Membership::UserGroupsOfUser(u) => store
                    .user_groups
                    .iter()
                    .filter(|(_, g)| g.member_users.contains(u))
                    .map(|(n, _)| n.clone())
                    .collect(),
                Membership::ParentGroupsOfGroup(x) => store
                    .user_groups
                    .iter()
                    .filter(|(_, g)| g.member_groups.contains(x))
                    .map(|(n, _)| n.clone())
                    .collect(),
                Membership::MemberUsers(g) => store
                    .user_groups
                    .get(g)
                    .map(|g| g.member_users.iter().cloned().collect())
                    .unwrap_or_default(),
                Membership::MemberGroups(g) => store
                    .user_groups
                    .get(g)
                    .map(|g| g.member_groups.iter().cloned().collect())
                    .unwrap_or_default(),
            };
            Ok(json_reply(200, &json!(list)))
        }
        "PATCH" => {
            let body = body_json(req)?.unwrap_or(Value::Null);
            let mut store = shared.write_store();
            let actor = store.actor(user);
            patch::membership(&mut store, &actor, which, &body)?;
            Ok(empty_reply(204))
        }
        _ => Ok(text_reply(405, "Method Not Allowed")),
    }
}

fn users(
    shared: &Shared,
    req: &ApiRequest,
    user: &str,
    method: &str,
    tail: &[&str],
) -> Result<Reply> {
    match (method, tail) {
        ("GET", []) => {
            let store = shared.read_store();
            let actor = store.actor(user);
            let map: Map<String, Value> = store
                .users
                .iter()
                .filter(|(name, _)| actor.can_user(name, ObjectPermission::Read) || *name == user)
                .map(|(name, u)| (name.clone(), views::user(&actor, name, u, shared.version())))
                .collect();
            Ok(json_reply(200, &Value::Object(map)))
        }
        ("POST", []) => {
            let body = need_body(req)?;
            let mut store = shared.write_store();
            let actor = store.actor(user);
            store.create_user(&actor, &body)?;
            Ok(json_reply(200, &echo::user(&body, shared.version())?))
        }
        ("PATCH", []) => patch_directory(shared, req, user, Directory::Users),
        (_, [name, sub @ ..]) => {
            let name = (*name).to_owned();
            {
                let store = shared.read_store();
                let actor = store.actor(user);
                if !store.users.contains_key(&name)
                    || !(name == user || actor.can_user(&name, ObjectPermission::Read))
                {
                    return Err(ApiError::not_found_id(&name).into());
                }
            }
            let entity = Entity::User(name.clone());
            match (method, sub) {
                ("GET", []) => {
                    let store = shared.read_store();
                    let actor = store.actor(user);
                    let u = store.users.get(&name).ok_or(Fail::Internal)?;
                    Ok(json_reply(
                        200,
                        &views::user(&actor, &name, u, shared.version()),
                    ))
                }
                ("PUT", []) => {
                    let body = body_json(req)?.ok_or(Fail::Internal)?;
                    let mut store = shared.write_store();
                    let actor = store.actor(user);
                    store.update_user(&actor, &name, &body, AttributeMode::Filtered, true)?;
                    Ok(empty_reply(204))
                }
                ("DELETE", []) => {
                    let mut store = shared.write_store();
                    let actor = store.actor(user);
                    store.delete_user(&actor, &name)?;
                    Ok(empty_reply(204))
                }
                ("PUT", ["password"]) => {
                    let body = body_json(req)?.unwrap_or(Value::Null);
                    let mut store = shared.write_store();
                    let actor = store.actor(user);
                    let old = body["oldPassword"].as_str().map(str::to_owned);
                    let new = body["newPassword"].as_str().map(str::to_owned);
                    let u = store.users.get_mut(&name).ok_or(Fail::Internal)?;
                    if !(actor.admin || name == user) || u.password != old {
                        return Err(ApiError::permission_denied("Permission denied.").into());
                    }
                    u.password = new;
                    Ok(empty_reply(204))
                }
                (_, ["permissions"]) => {
                    permission_resource(shared, req, user, method, &entity, false)
                }
                (_, ["effectivePermissions"]) => {
                    permission_resource(shared, req, user, method, &entity, true)
                }
                (_, ["userGroups"]) => membership_resource(
                    shared,
                    req,
                    user,
                    method,
                    &Membership::UserGroupsOfUser(name),
                ),
                ("GET", ["history"]) => Ok(json_reply(200, &json!([]))),
                _ => Ok(text_reply(405, "Method Not Allowed")),
            }
        }
        _ => Ok(text_reply(405, "Method Not Allowed")),
    }
}

fn user_groups(
    shared: &Shared,
    req: &ApiRequest,
    user: &str,
    method: &str,
    tail: &[&str],
) -> Result<Reply> {
    match (method, tail) {
        ("GET", []) => {
            let store = shared.read_store();
            let actor = store.actor(user);
            let map: Map<String, Value> = store
                .user_groups
                .iter()
                .filter(|(name, _)| actor.can_user_group(name, ObjectPermission::Read))
                .map(|(name, g)| {
                    let v = views::user_group(&actor, name, g.disabled, shared.version());
                    (name.clone(), v)
                })
                .collect();
            Ok(json_reply(200, &Value::Object(map)))
        }
        ("POST", []) => {
            let body = need_body(req)?;
            let mut store = shared.write_store();
            let actor = store.actor(user);
            store.create_user_group(&actor, &body)?;
            Ok(json_reply(200, &echo::user_group(&body, shared.version())?))
        }
        ("PATCH", []) => patch_directory(shared, req, user, Directory::UserGroups),
        (_, [name, sub @ ..]) => {
            let name = (*name).to_owned();
            {
                let store = shared.read_store();
                let actor = store.actor(user);
                if !store.user_groups.contains_key(&name)
                    || !actor.can_user_group(&name, ObjectPermission::Read)
                {
                    return Err(ApiError::not_found_id(&name).into());
                }
            }
            match (method, sub) {
                ("GET", []) => {
                    let store = shared.read_store();
                    let actor = store.actor(user);
                    let g = store.user_groups.get(&name).ok_or(Fail::Internal)?;
                    let v = views::user_group(&actor, &name, g.disabled, shared.version());
                    Ok(json_reply(200, &v))
                }
                ("PUT", []) => {
                    let body = body_json(req)?.ok_or(Fail::Internal)?;
                    let mut store = shared.write_store();
                    let actor = store.actor(user);
                    store.update_user_group(&actor, &name, &body)?;
                    Ok(empty_reply(204))
                }
                ("DELETE", []) => {
                    let mut store = shared.write_store();
                    let actor = store.actor(user);
                    store.delete_user_group(&actor, &name)?;
                    Ok(empty_reply(204))
                }
                (_, ["permissions"]) => {
                    permission_resource(shared, req, user, method, &Entity::UserGroup(name), false)
                }
                (_, ["userGroups"]) => membership_resource(
                    shared,
                    req,
                    user,
                    method,
                    &Membership::ParentGroupsOfGroup(name),
                ),
                (_, ["memberUsers"]) => {
                    membership_resource(shared, req, user, method, &Membership::MemberUsers(name))
                }
                (_, ["memberUserGroups"]) => {
                    membership_resource(shared, req, user, method, &Membership::MemberGroups(name))
                }
                _ => Ok(text_reply(405, "Method Not Allowed")),
            }
        }
        _ => Ok(text_reply(405, "Method Not Allowed")),
    }
}

fn sharing_profiles(
    shared: &Shared,
    req: &ApiRequest,
    user: &str,
    method: &str,
    tail: &[&str],
) -> Result<Reply> {
    match (method, tail) {
        ("GET", []) => {
            let store = shared.read_store();
            let actor = store.actor(user);
            let map: Map<String, Value> = store
                .sharing_profiles
                .iter()
                .filter(|(id, _)| actor.can_sharing_profile(**id, ObjectPermission::Read))
                .map(|(id, s)| {
                    (
                        id.to_string(),
                        views::sharing_profile(*id, &s.name, s.primary),
                    )
                })
                .collect();
            Ok(json_reply(200, &Value::Object(map)))
        }
        ("POST", []) => {
            let body = need_body(req)?;
            let mut store = shared.write_store();
            let actor = store.actor(user);
            let id = store.create_sharing_profile(&actor, &body)?;
            Ok(json_reply(200, &echo::sharing_profile(&body, id)?))
        }
        ("PATCH", []) => patch_directory(shared, req, user, Directory::SharingProfiles),
        (_, [id, sub @ ..]) => {
            let store_read = shared.read_store();
            let actor = store_read.actor(user);
            let Some(n) = numeric_id(id).filter(|n| {
                store_read.sharing_profiles.contains_key(n)
                    && actor.can_sharing_profile(*n, ObjectPermission::Read)
            }) else {
                return Err(ApiError::not_found_id(id).into());
            };
            match (method, sub) {
                ("GET", []) => {
                    let s = store_read.sharing_profiles.get(&n).ok_or(Fail::Internal)?;
                    Ok(json_reply(
                        200,
                        &views::sharing_profile(n, &s.name, s.primary),
                    ))
                }
                ("GET", ["parameters"]) => {
                    if !(actor.admin || actor.can_sharing_profile(n, ObjectPermission::Update)) {
                        return Err(ApiError::permission_denied(
                            "Permission to read sharing profile parameters denied.",
                        )
                        .into());
                    }
                    let s = store_read.sharing_profiles.get(&n).ok_or(Fail::Internal)?;
                    Ok(json_reply(200, &json!(s.parameters)))
                }
                ("PUT", []) => {
                    drop(store_read);
                    let body = body_json(req)?.ok_or(Fail::Internal)?;
                    shared
                        .write_store()
                        .update_sharing_profile(&actor, n, &body)?;
                    Ok(empty_reply(204))
                }
                ("DELETE", []) => {
                    drop(store_read);
                    shared.write_store().delete_sharing_profile(&actor, n)?;
                    Ok(empty_reply(204))
                }
                _ => Ok(text_reply(405, "Method Not Allowed")),
            }
        }
        _ => Ok(text_reply(405, "Method Not Allowed")),
    }
}

fn active_connections(
    shared: &Shared,
    req: &ApiRequest,
    user: &str,
    method: &str,
    tail: &[&str],
) -> Result<Reply> {
    match (method, tail) {
        ("GET", []) => {
            let store = shared.read_store();
            let actor = store.actor(user);
            let map: Map<String, Value> = store
                .active
                .values()
                .filter(|a| {
                    actor.admin
                        || a.username == user
                        || actor
                            .perms
                            .active_connection
                            .get(&a.identifier)
                            .is_some_and(|s| s.contains(&ObjectPermission::Read))
                })
                .map(|a| (a.identifier.clone(), views::active_connection(&actor, a)))
                .collect();
            Ok(json_reply(200, &Value::Object(map)))
        }
        ("PATCH", []) => patch_directory(shared, req, user, Directory::ActiveConnections),
        (_, [uuid, sub @ ..]) => {
            let uuid = (*uuid).to_owned();
            let store_read = shared.read_store();
            let actor = store_read.actor(user);
            let Some(a) = store_read.active.get(&uuid).cloned() else {
                return Err(ApiError::not_found_id(&uuid).into());
            };
            match (method, sub) {
                ("GET", []) => Ok(json_reply(200, &views::active_connection(&actor, &a))),
                ("GET", ["connection"]) => {
                    let n = numeric_id(&a.connection_identifier).ok_or(Fail::Internal)?;
                    let c = store_read.connections.get(&n).ok_or_else(|| {
                        Fail::from(ApiError::not_found_id(&a.connection_identifier))
                    })?;
                    Ok(json_reply(200, &views::connection(&store_read, n, c)))
                }
                ("DELETE", []) => {
                    drop(store_read);
                    shared.write_store().kill_active(&actor, &uuid)?;
                    Ok(empty_reply(204))
                }
                _ => Ok(text_reply(405, "Method Not Allowed")),
            }
        }
        _ => Ok(text_reply(405, "Method Not Allowed")),
    }
}

/// At most this many records (`ActivityRecordSetResource.MAXIMUM_HISTORY_SIZE`).
const MAX_HISTORY: usize = 1000;

fn history(
    shared: &Shared,
    req: &ApiRequest,
    user: &str,
    kind: &str,
    connection: Option<u64>,
) -> Result<Reply> {
    let params = query_params(req.query.as_deref());
    let mut descending = true;
    for (k, v) in &params {
        if k == "order" {
            descending = match v.as_str() {
                "startDate" => false,
                "-startDate" => true,
                other => {
                    return Err(ApiError::bad_request(format!(
                        "Invalid sort property: \"{other}\""
                    ))
                    .into());
                }
            };
        }
    }
    if kind != "connections" {
        return Ok(json_reply(200, &json!([])));
    }
    let contains: Vec<String> = params
        .iter()
        .filter(|(k, v)| k == "contains" && !v.is_empty())
        .map(|(_, v)| v.to_lowercase())
        .collect();
    let store = shared.read_store();
    let actor = store.actor(user);
    let audit = actor.has_system(SystemPermission::Audit);
    let mut records: Vec<&crate::state::HistoryState> = store
        .history
        .iter()
        .filter(|h| {
            connection
                .is_none_or(|c| h.connection_identifier.as_deref() == Some(c.to_string().as_str()))
        })
        .filter(|h| {
            audit
                || h.username == user
                || h.connection_identifier
                    .as_deref()
                    .and_then(numeric_id)
                    .is_some_and(|c| actor.can_connection(c, ObjectPermission::Read))
        })
        .filter(|h| {
            contains.iter().all(|c| {
                h.username.to_lowercase().contains(c)
                    || h.connection_name.to_lowercase().contains(c)
                    || h.remote_host
                        .as_deref()
                        .is_some_and(|r| r.to_lowercase().contains(c))
            })
        })
        .collect();
    records.sort_by_key(|h| h.start_date);
    if descending {
        records.reverse();
    }
    records.truncate(MAX_HISTORY);
    Ok(json_reply(
        200,
        &Value::Array(records.into_iter().map(views::history_record).collect()),
    ))
}

//! The REST API's routes (rest-api.md §1–§10): authentication ([`login`]), the
//! session and its data source here, every object directory through one generic
//! router ([`directory`]) over the kinds of `crate::kind`, the principals'
//! permission and membership resources ([`principal`]), and the records that are
//! not objects: active connections and history ([`records`]).

mod directory;
mod login;
mod principal;
mod records;

use serde_json::{Value, json};

pub use directory::parameters;
pub use principal::{effective_permissions, membership, password, permissions};
pub use records::history;

use crate::error::{ApiError, Fail, Result};
use crate::kind::{Connection, Group, Kind, SharingProfile, User, UserGroup};
use crate::schema;
use crate::server::{ApiRequest, Reply, Shared, empty_reply, error_reply, json_reply, text_reply};
use crate::state::ObjectPermission;
use crate::views;

/// One request inside a session: everything a handler needs.
pub struct Call<'a> {
    pub shared: &'a Shared,
    pub req: &'a ApiRequest,
    /// The session's user.
    pub user: &'a str,
    pub method: &'a str,
}

/// Jersey's answer to a method a resource does not have.
#[must_use]
pub fn not_allowed() -> Reply {
    text_reply(405, "Method Not Allowed")
}

/// Jersey's answer to a path no resource has.
fn not_found() -> Reply {
    text_reply(404, "Not Found")
}

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

/// The body as JSON; `None` when there is none.
fn body_json(req: &ApiRequest) -> Result<Option<Value>> {
    if req.body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    serde_json::from_slice(&req.body)
        .map(Some)
        .map_err(|e| Fail::BadJson(format!("Unable to parse JSON: {e}")))
}

/// The `?permission=` values of a listing: a bad one fails the parameter
/// conversion (404).
pub fn permission_filter(query: Option<&str>) -> Result<Vec<ObjectPermission>> {
    query_params(query)
        .into_iter()
        .filter(|(k, _)| k == "permission")
        .map(|(_, v)| {
            ObjectPermission::parse(&v)
                .ok_or_else(|| ApiError::not_found(format!("Invalid permission: \"{v}\"")).into())
        })
        .collect()
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
        ("POST", ["api", "tokens"]) => reply(login::login(shared, req)),
        ("DELETE", ["api", "tokens", token]) => {
            if shared.end_session(token) {
                empty_reply(204)
            } else {
                error_reply(&ApiError::not_found("No such token."))
            }
        }
        (_, ["api", "session", rest @ ..]) => session(shared, req, rest),
        _ => not_found(),
    }
}

/// `api/session/...`: everything that needs a live session.
fn session(shared: &Shared, req: &ApiRequest, rest: &[&str]) -> Reply {
    let method = req.method.as_str();
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
        // 1.5.5 has no HEAD method on the session resource (nor a GET that Jersey
        // could answer HEAD with).
        ("HEAD", []) if shared.version().is_1_5() => not_allowed(),
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
            let call = Call {
                shared,
                req,
                user: &user,
                method,
            };
            reply(data(&call, rest))
        }
        _ => not_found(),
    }
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

/// `api/session/data/{ds}/...`: the user context's resources.
fn data(call: &Call<'_>, rest: &[&str]) -> Result<Reply> {
    match rest {
        [Connection::ENDPOINT, tail @ ..] => directory::serve::<Connection>(call, tail),
        [Group::ENDPOINT, tail @ ..] => directory::serve::<Group>(call, tail),
        [SharingProfile::ENDPOINT, tail @ ..] => directory::serve::<SharingProfile>(call, tail),
        [User::ENDPOINT, tail @ ..] => directory::serve::<User>(call, tail),
        [UserGroup::ENDPOINT, tail @ ..] => directory::serve::<UserGroup>(call, tail),
        ["self", tail @ ..] => {
            let mut path = vec![call.user];
            path.extend_from_slice(tail);
            directory::serve::<User>(call, &path)
        }
        ["activeConnections", tail @ ..] => records::active_connections(call, tail),
        ["history", kind] if call.method == "GET" => history(call, kind, None),
        ["schema", which] if call.method == "GET" => Ok(schema(call, which)),
        _ => Ok(not_found()),
    }
}

/// `schema/...`: the attribute forms of each kind and the protocols.
fn schema(call: &Call<'_>, which: &str) -> Reply {
    let version = call.shared.version();
    let body = match which {
        "connectionAttributes" => schema::forms(schema::CONNECTION_ATTRIBUTES),
        "connectionGroupAttributes" => schema::forms(schema::GROUP_ATTRIBUTES),
        "userAttributes" => schema::forms(schema::user_attributes(version)),
        "userGroupAttributes" => schema::forms(schema::user_group_attributes(version)),
        // 1.6.0 added the user preference schema endpoint.
        "userPreferenceAttributes" if !version.is_1_5() => json!([]),
        "sharingProfileAttributes" => json!([]),
        "protocols" => schema::protocols(),
        _ => return not_found(),
    };
    json_reply(200, &body)
}

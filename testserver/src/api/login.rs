//! `POST api/tokens` (rest-api.md §1): a token re-used, or a login with a form or
//! HTTP Basic credentials, checked as the database extension and then the TOTP
//! extension check them.

use base64::Engine as _;
use serde_json::{Value, json};

use super::{query_params, shared_data_source};
use crate::error::{ApiError, Result};
use crate::server::{ApiRequest, Reply, Shared, json_reply};

pub(super) fn login(shared: &Shared, req: &ApiRequest) -> Result<Reply> {
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

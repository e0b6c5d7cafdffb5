//! Logging in: `POST api/tokens` with the username, password and TOTP code as a
//! form (rest-api.md §1), to the configured origin only. It is the first contact
//! with the server, so its errors name the URL tried and say what to check.

use std::time::Duration;

use reqwest::Method;

use super::client::{ClientError, api_error};
use super::credentials::{Credentials, Secret};
use super::totp;
use super::transport::{Endpoint, answer, body, endpoint, explain};
use super::wire::LoginResponse;

#[derive(serde::Deserialize)]
struct TokenResponse {
    #[serde(rename = "authToken")]
    auth_token: String,
}

/// Logs in and returns the token and what the login response says (user, data
/// source). A pre-issued token cannot log in again: an error says so.
pub(super) async fn login(
    http: &reqwest::Client,
    endpoint: &Endpoint,
    timeout: Duration,
    credentials: &Credentials,
) -> Result<(Secret, LoginResponse), ClientError> {
    let Credentials::Password {
        username,
        password,
        totp_secret,
    } = credentials
    else {
        return Err(ClientError::Login(
            "a pre-issued token cannot be renewed; issue a new GUACAMOLE_TOKEN".to_owned(),
        ));
    };
    // Checked against the configured origin before the form is built.
    let url = endpoint.url("api/tokens")?;
    let tried = format!("POST {}", endpoint::shown(&url));
    let mut form = vec![
        ("username", username.clone()),
        ("password", password.expose().to_owned()),
    ];
    if let Some(secret) = totp_secret {
        let key = totp::decode_secret(secret.expose())?;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        form.push(("guac-totp", totp::code(&key, now, 6)));
    }
    let failed = |e: &reqwest::Error| {
        ClientError::Login(format!(
            "{tried}: {}",
            explain::transport(e, endpoint, timeout)
        ))
    };
    let resp = http
        .post(url.clone())
        .form(&form)
        .send()
        .await
        .map_err(|e| failed(&e))?;
    let status = resp.status();
    if status.is_redirection() {
        return Err(ClientError::Login(format!(
            "{tried}: the server answered {}, {}",
            status.as_u16(),
            answer::redirect_text(endpoint, &url, &resp)
        )));
    }
    let content_type = answer::content_type(&resp);
    let bytes = resp.bytes().await.map_err(|e| failed(&e))?;
    if !status.is_success() {
        return Err(
            match api_error(
                &Method::POST,
                "api/tokens",
                status,
                content_type.as_deref(),
                &bytes,
            ) {
                ClientError::Api {
                    status,
                    message,
                    kind: Some(kind),
                    ..
                } => ClientError::Login(format!("{tried}: {message} ({status}, {kind})")),
                ClientError::Api {
                    status, message, ..
                } => ClientError::Login(format!(
                    "{tried}: the server answered {status}: {message}; {}",
                    explain::first_contact_hint(endpoint, status)
                )),
                other => other,
            },
        );
    }
    let not_a_login = || {
        ClientError::Login(format!(
            "{tried}: the server answered {} with {} instead of Guacamole's login response; {}",
            status.as_u16(),
            crate::secret::redact(&body::summarize(content_type.as_deref(), &bytes)),
            explain::first_contact_hint(endpoint, status.as_u16())
        ))
    };
    let token: TokenResponse = serde_json::from_slice(&bytes).map_err(|_| not_a_login())?;
    let info: LoginResponse = serde_json::from_slice(&bytes).map_err(|_| not_a_login())?;
    Ok((Secret::new(token.auth_token), info))
}

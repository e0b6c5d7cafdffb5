//! Logging in: `POST api/tokens` with the username, password and TOTP code as a
//! form (rest-api.md §1), to the configured origin only; and learning whose a
//! pre-issued token is. It is the first contact with the server, so its errors name
//! the URL tried and say what to check.

use std::time::Duration;

use reqwest::Method;

use super::client::{ClientError, api_error, encode_segment};
use super::credentials::{Credentials, Secret};
use super::limits;
use super::totp;
use super::transport::{Endpoint, answer, body, endpoint, explain};
use super::wire::LoginResponse;

#[derive(serde::Deserialize)]
struct TokenResponse {
    #[serde(rename = "authToken")]
    auth_token: String,
}

/// The TOTP step (30 s, Guacamole's `totp-period` default) and the code a login of
/// this process last sent. `guacamole-auth-totp` accepts a code once: its
/// `CodeUsageTrackingService#useCode` refuses the same (user, code) for two periods
/// after its first use, with the 400 "Provided TOTP code is not valid." that a wrong
/// code also gets.
#[derive(Default)]
pub(super) struct TotpUse(std::sync::Mutex<Option<(u64, String)>>);

const TOTP_STEP_SECS: u64 = 30;

impl TotpUse {
    fn last(&self) -> Option<(u64, String)> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    fn set(&self, step: u64, code: String) {
        *self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some((step, code));
    }
}

fn unix_ms() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis())
}

/// Whether a login answer is the TOTP extension refusing the code.
fn totp_refused(e: &ClientError) -> bool {
    matches!(e, ClientError::Api { status: 400, message, .. }
        if message == "Provided TOTP code is not valid.")
}

/// Where a login goes, and how long it may take.
pub(super) struct LoginTarget<'a> {
    pub http: &'a reqwest::Client,
    pub endpoint: &'a Endpoint,
    pub timeout: Duration,
}

/// Logs in and returns the token and what the login response says (user, data
/// source). A TOTP code is never sent twice: a re-login waits for the next step,
/// and a code the server refuses (most likely used by an earlier run in the same
/// window) is retried once with the next step's code. A pre-issued token cannot
/// log in again: an error says so.
pub(super) async fn login(
    to: &LoginTarget<'_>,
    credentials: &Credentials,
    totp_use: &TotpUse,
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
    let form = vec![
        ("username", username.clone()),
        ("password", password.expose().to_owned()),
    ];
    let Some(secret) = totp_secret else {
        return post_login(to, &form).await.map_err(|e| refusal(to, e));
    };
    let key = totp::decode_secret(secret.expose())?;
    for attempt in 0..2 {
        let mut now = unix_ms();
        let mut step = u64::try_from(now / 1000).unwrap_or(u64::MAX) / TOTP_STEP_SECS;
        while let Some((last_step, last_code)) = totp_use.last()
            && (step <= last_step || totp::code(&key, step * TOTP_STEP_SECS, 6) == last_code)
        {
            let wait = limits::until_next_step(now, TOTP_STEP_SECS);
            tracing::warn!(
                "waiting {} s for the next TOTP code: the server accepts each code once",
                wait.as_secs()
            );
            tokio::time::sleep(wait).await;
            now = unix_ms();
            step = u64::try_from(now / 1000).unwrap_or(u64::MAX) / TOTP_STEP_SECS;
        }
        let code = totp::code(&key, step * TOTP_STEP_SECS, 6);
        let mut with_code = form.clone();
        with_code.push(("guac-totp", code.clone()));
        totp_use.set(step, code);
        match post_login(to, &with_code).await {
            Err(e) if attempt == 0 && totp_refused(&e) => {
                tracing::warn!(
                    "the server refused this TOTP code, most likely used already by another login \
                     in the same 30-second window (each code is accepted once); waiting for the \
                     next code and trying once more"
                );
            }
            Err(e) if totp_refused(&e) => {
                return Err(ClientError::LoginRefused {
                    text: "the server refused the TOTP code twice, in two time steps: check \
                           GUACAMOLE_TOTP_SECRET and this machine's clock"
                        .to_owned(),
                    status: 400,
                    kind: Some("BAD_REQUEST".to_owned()),
                    requests: 2,
                });
            }
            other => {
                return other.map_err(|e| match refusal(to, e) {
                    // The refused first code was a request too.
                    ClientError::LoginRefused {
                        text,
                        status,
                        kind,
                        requests,
                    } => ClientError::LoginRefused {
                        text,
                        status,
                        kind,
                        requests: requests + attempt,
                    },
                    e => e,
                });
            }
        }
    }
    Err(ClientError::Login("the TOTP code was refused".to_owned()))
}

/// A refused login as the user should read it: Guacamole's own error with its
/// type, anything else with what to check at first contact.
fn refusal(to: &LoginTarget<'_>, e: ClientError) -> ClientError {
    let tried = tried(to.endpoint);
    match e {
        ClientError::Api {
            status,
            message,
            kind: Some(kind),
            ..
        } => ClientError::LoginRefused {
            text: format!("{tried}: {message} ({status}, {kind})"),
            status,
            kind: Some(kind),
            requests: 1,
        },
        ClientError::Api {
            status, message, ..
        } => ClientError::LoginRefused {
            text: format!(
                "{tried}: the server answered {status}: {message}; {}",
                explain::first_contact_hint(to.endpoint, status)
            ),
            status,
            kind: None,
            requests: 1,
        },
        other => other,
    }
}

fn tried(endpoint: &Endpoint) -> String {
    match endpoint.url("api/tokens") {
        Ok(url) => format!("POST {}", endpoint::shown(&url)),
        Err(_) => "POST api/tokens".to_owned(),
    }
}

/// One `POST api/tokens`, checked against the configured origin before the form is
/// built. A refusal with an answer is `ClientError::Api` (see [`refusal`]); every
/// other failure is already a `ClientError::Login` naming the URL tried.
async fn post_login(
    to: &LoginTarget<'_>,
    form: &[(&str, String)],
) -> Result<(Secret, LoginResponse), ClientError> {
    let path = "api/tokens";
    let url = to.endpoint.url(path)?;
    let tried = format!("POST {}", endpoint::shown(&url));
    let failed = |e: &reqwest::Error| {
        ClientError::Login(format!(
            "{tried}: {}",
            explain::transport(e, to.endpoint, to.timeout)
        ))
    };
    let started = std::time::Instant::now();
    let resp = to
        .http
        .post(url.clone())
        .form(form)
        .send()
        .await
        .map_err(|e| failed(&e))?;
    let status = resp.status();
    tracing::info!(
        "POST {path} -> {} ({} ms)",
        status.as_u16(),
        started.elapsed().as_millis()
    );
    if status.is_redirection() {
        return Err(ClientError::Login(format!(
            "{tried}: the server answered {}, {}",
            status.as_u16(),
            answer::redirect_text(to.endpoint, &url, &resp)
        )));
    }
    let content_type = answer::content_type(&resp);
    let bytes = limits::read_body(resp, &Method::POST, path, limits::MAX_RESPONSE_BYTES)
        .await
        .map_err(|e| match e {
            limits::BodyError::Transport(e) => failed(&e),
            // The login is the first contact: say it was the login.
            limits::BodyError::TooLarge(e) => ClientError::Login(e.to_string()),
        })?;
    if !status.is_success() {
        return Err(api_error(
            &Method::POST,
            path,
            status,
            content_type.as_deref(),
            &bytes,
        ));
    }
    let not_a_login = || {
        ClientError::Login(format!(
            "{tried}: the server answered {} with {} instead of Guacamole's login response; {}",
            status.as_u16(),
            crate::secret::redact(&body::summarize(content_type.as_deref(), &bytes)),
            explain::first_contact_hint(to.endpoint, status.as_u16())
        ))
    };
    let token: TokenResponse = serde_json::from_slice(&bytes).map_err(|_| not_a_login())?;
    let info: LoginResponse = serde_json::from_slice(&bytes).map_err(|_| not_a_login())?;
    Ok((Secret::new(token.auth_token), info))
}

/// Whose a pre-issued token is and which data source it belongs to: `POST
/// api/tokens` with the `token` field re-authenticates that session and answers
/// with the same token, its user, `dataSource` and `availableDataSources`
/// (rest-api.md §1). The token goes in the form body of that one request to the
/// server the user named. An unknown or expired token would be answered as a fresh
/// (anonymous) login with another token: that session is released and refused.
pub(super) async fn session_info(
    to: &LoginTarget<'_>,
    token: &Secret,
) -> Result<LoginResponse, ClientError> {
    let form = [("token", token.expose().to_owned())];
    let (answered, info) = post_login(to, &form).await.map_err(|e| match e {
        // Guacamole's own refusal: the token is no session of this server.
        ClientError::Api {
            status,
            kind: Some(_),
            ..
        } => ClientError::Login(format!(
            "{}: GUACAMOLE_TOKEN is not a live session (the server answered {status}); issue a new one",
            tried(to.endpoint)
        )),
        // Anything else (a 404 page, a proxy): what to check at first contact.
        other => refusal(to, other),
    })?;
    if answered != *token {
        if let Ok(url) = to
            .endpoint
            .url(&format!("api/tokens/{}", encode_segment(answered.expose())))
        {
            let _ = to.http.delete(url).send().await;
        }
        return Err(ClientError::Login(
            "GUACAMOLE_TOKEN is not a live session (the server opened a new one instead, \
             now released); issue a new token"
                .to_owned(),
        ));
    }
    Ok(info)
}

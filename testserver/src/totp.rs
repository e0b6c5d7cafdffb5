//! `guacamole-auth-totp` as it checks a login (1.6.0,
//! `extensions/guacamole-auth-totp/.../user/UserVerificationService.java#verifyIdentity`
//! and `CodeUsageTrackingService#useCode`), with its defaults (`totp-mode` sha1,
//! `totp-digits` 6, `totp-period` 30): a user with a key must send `guac-totp`;
//! the code of the current or the previous period is accepted, once: a code that
//! was used is refused for two periods after its first use, with the same answer
//! as a wrong code. Token re-authentication (`redecorate`) checks nothing.
//!
//! The code is computed here independently of guacsync's own (RFC 6238), so that
//! one checks the other.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use serde_json::json;
use sha1::Sha1;

use crate::error::{ApiError, ErrorType, Translatable};

const PERIOD_SECS: u64 = 30;
/// `CodeUsageTrackingService.INVALID_INTERVAL`: periods a used code stays refused.
const INVALID_INTERVAL: u32 = 2;

/// Codes in use: (username, code) → refused until.
#[derive(Default)]
pub struct UsedCodes(Mutex<HashMap<(String, String), Instant>>);

impl UsedCodes {
    /// `useCode`: true the first time, false while the code is still refused.
    fn use_code(&self, username: &str, code: &str) -> bool {
        let mut used = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = Instant::now();
        used.retain(|_, until| *until > now);
        let key = (username.to_owned(), code.to_owned());
        if used.contains_key(&key) {
            return false;
        }
        used.insert(
            key,
            now + Duration::from_secs(PERIOD_SECS) * INVALID_INTERVAL,
        );
        true
    }
}

/// RFC 4226 HOTP (SHA-1, 6 digits) for `counter`.
fn hotp(key: &[u8], counter: u64) -> Option<String> {
    let mut mac = Hmac::<Sha1>::new_from_slice(key).ok()?;
    mac.update(&counter.to_be_bytes());
    let hash = mac.finalize().into_bytes();
    let offset = usize::from(hash[hash.len() - 1] & 0x0f);
    let value = u32::from_be_bytes([
        hash[offset] & 0x7f,
        hash[offset + 1],
        hash[offset + 2],
        hash[offset + 3],
    ]);
    Some(format!("{:06}", value % 1_000_000))
}

fn decode(secret: &str) -> Option<Vec<u8>> {
    let cleaned: String = secret
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '=')
        .map(|c| c.to_ascii_uppercase())
        .collect();
    data_encoding::BASE32_NOPAD.decode(cleaned.as_bytes()).ok()
}

/// The 403 asking for a code (`TOTP.INFO_CODE_REQUIRED`).
fn code_required() -> ApiError {
    let message = "A TOTP authentication code is required before login can continue";
    ApiError {
        status: 403,
        kind: ErrorType::InsufficientCredentials,
        message: message.to_owned(),
        translatable: Translatable {
            key: "TOTP.INFO_CODE_REQUIRED".to_owned(),
            variables: serde_json::Value::Null,
        },
        expected: Some(json!([{"name": "guac-totp", "type": "GUAC_TOTP_CODE"}])),
        patches: None,
    }
}

/// The 400 for a wrong or reused code (`TranslatableGuacamoleClientException`).
fn not_valid() -> ApiError {
    let mut e = ApiError::bad_request("Provided TOTP code is not valid.");
    e.translatable = Translatable {
        key: "TOTP.INFO_VERIFICATION_FAILED".to_owned(),
        variables: serde_json::Value::Null,
    };
    e
}

/// Checks the `guac-totp` field of a login of `username`, whose key is `secret`.
///
/// # Errors
/// The answer the extension gives: 403 without a code, 400 for a wrong or reused one.
#[allow(clippy::result_large_err)] // the server's error value, built once per refused login
pub fn verify(
    used: &UsedCodes,
    username: &str,
    secret: &str,
    code: Option<&str>,
) -> Result<(), ApiError> {
    let Some(code) = code else {
        return Err(code_required());
    };
    let Some(key) = decode(secret) else {
        // "User ... is associated with an invalid TOTP key.": every code fails.
        return Err(not_valid());
    };
    let step = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
        / PERIOD_SECS;
    let current = hotp(&key, step);
    let previous = step.checked_sub(1).and_then(|s| hotp(&key, s));
    let matches = current.as_deref() == Some(code) || previous.as_deref() == Some(code);
    if matches && used.use_code(username, code) {
        Ok(())
    } else {
        Err(not_valid())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc4226_vectors() {
        let key = b"12345678901234567890";
        assert_eq!(hotp(key, 0).as_deref(), Some("755224"));
        assert_eq!(hotp(key, 9).as_deref(), Some("520489"));
    }

    #[test]
    fn a_code_is_accepted_once() {
        let used = UsedCodes::default();
        let secret = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"; // "12345678901234567890"
        let key = decode(secret).expect("base32");
        let step = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
            / PERIOD_SECS;
        let code = hotp(&key, step).expect("code");
        assert_eq!(
            verify(&used, "u", secret, None).map_err(|e| e.status),
            Err(403)
        );
        assert_eq!(verify(&used, "u", secret, Some(&code)), Ok(()));
        let again = verify(&used, "u", secret, Some(&code)).expect_err("reused");
        assert_eq!(
            (again.status, again.message.as_str()),
            (400, "Provided TOTP code is not valid.")
        );
        assert_eq!(
            verify(&used, "u", secret, Some("000000x")).map_err(|e| e.status),
            Err(400)
        );
    }
}

//! RFC 6238 time-based one-time passwords (HMAC-SHA1, 30-second steps, 6 digits),
//! as Guacamole's TOTP extension checks them, for accounts that require one.

use hmac::{Hmac, Mac};
use sha1::Sha1;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("GUACAMOLE_TOTP_SECRET is not valid base32")]
pub struct InvalidSecret;

/// Decodes a base32 secret as authenticator apps show it: any case, spaces and
/// padding allowed.
pub fn decode_secret(secret: &str) -> Result<Vec<u8>, InvalidSecret> {
    let cleaned: String = secret
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '=' && *c != '-')
        .map(|c| c.to_ascii_uppercase())
        .collect();
    data_encoding::BASE32_NOPAD
        .decode(cleaned.as_bytes())
        .map_err(|_| InvalidSecret)
}

/// The code for `unix_seconds`, with `digits` digits.
#[must_use]
pub fn code(key: &[u8], unix_seconds: u64, digits: u32) -> String {
    let counter = unix_seconds / 30;
    let Ok(mut mac) = Hmac::<Sha1>::new_from_slice(key) else {
        return String::new(); // HMAC accepts keys of any length
    };
    mac.update(&counter.to_be_bytes());
    let hash = mac.finalize().into_bytes();
    let offset = usize::from(hash[19] & 0x0f);
    let value = u32::from_be_bytes([
        hash[offset] & 0x7f,
        hash[offset + 1],
        hash[offset + 2],
        hash[offset + 3],
    ]);
    let modulus = 10u32.pow(digits);
    format!("{:0width$}", value % modulus, width = digits as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 appendix B, SHA-1 rows (key "12345678901234567890").
    #[test]
    fn rfc6238_vectors() {
        let key = b"12345678901234567890";
        for (t, expected) in [
            (59, "94287082"),
            (1_111_111_109, "07081804"),
            (1_111_111_111, "14050471"),
            (1_234_567_890, "89005924"),
            (2_000_000_000, "69279037"),
            (20_000_000_000, "65353130"),
        ] {
            assert_eq!(code(key, t, 8), expected, "t={t}");
        }
        assert_eq!(code(key, 59, 6), "287082");
    }

    #[test]
    fn base32_secrets() {
        assert_eq!(
            decode_secret("GEZD GNBV gy3t qojq").map(|k| k.len()),
            Ok(10)
        );
        assert_eq!(decode_secret("not*base32"), Err(InvalidSecret));
    }
}

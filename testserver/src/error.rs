//! Guacamole's error body (`APIError`, rest-api.md §2) and the failures the server
//! can produce. A `Fail::Api` is a `GuacamoleException`: inside a directory PATCH it
//! becomes a per-patch error and processing goes on. A `Fail::Internal` is any other
//! exception: it aborts the request with 500 `Unexpected internal error`.

use serde::Serialize;
use serde_json::{Value, json};

/// `APIError.Type`, chosen by exception class (rest-api.md §2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ErrorType {
    InsufficientCredentials,
    InvalidCredentials,
    PermissionDenied,
    NotFound,
    BadRequest,
    StreamError,
    InternalError,
}

/// A translatable message: `{"key": .., "variables": ..}`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Translatable {
    pub key: String,
    pub variables: Value,
}

impl Translatable {
    /// The fallback for exceptions that are not `Translatable`.
    #[must_use]
    pub fn untranslated(message: &str) -> Self {
        Self {
            key: "APP.TEXT_UNTRANSLATED".to_owned(),
            variables: json!({ "MESSAGE": message }),
        }
    }
}

/// A `GuacamoleException` as the REST layer reports it.
#[derive(Clone, Debug, PartialEq)]
pub struct ApiError {
    pub status: u16,
    pub kind: ErrorType,
    pub message: String,
    pub translatable: Translatable,
    pub expected: Option<Value>,
    pub patches: Option<Vec<Value>>,
}

impl ApiError {
    fn new(status: u16, kind: ErrorType, message: impl Into<String>) -> Self {
        let message = message.into();
        Self {
            status,
            kind,
            translatable: Translatable::untranslated(&message),
            message,
            expected: None,
            patches: None,
        }
    }

    /// `GuacamoleClientException`: 400 `BAD_REQUEST`.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, ErrorType::BadRequest, message)
    }

    /// `GuacamoleSecurityException`: 403 `PERMISSION_DENIED`.
    pub fn permission_denied(message: impl Into<String>) -> Self {
        Self::new(403, ErrorType::PermissionDenied, message)
    }

    /// The invalid, missing or expired token (`GuacamoleUnauthorizedException`).
    #[must_use]
    pub fn session_denied() -> Self {
        Self::permission_denied("Permission Denied.")
    }

    /// `GuacamoleResourceNotFoundException`: 404 `NOT_FOUND`.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(404, ErrorType::NotFound, message)
    }

    /// `Not found: "<id>"` from `DirectoryResource#getObjectByIdentifier`.
    #[must_use]
    pub fn not_found_id(id: &str) -> Self {
        Self::not_found(format!("Not found: \"{id}\""))
    }

    /// `GuacamoleUnsupportedException`: 501, typed `INTERNAL_ERROR`.
    pub fn unsupported(message: impl Into<String>) -> Self {
        Self::new(501, ErrorType::InternalError, message)
    }

    /// `GuacamoleClientOverrunException`: 413 `BAD_REQUEST`.
    pub fn overrun(message: impl Into<String>) -> Self {
        Self::new(413, ErrorType::BadRequest, message)
    }

    /// `GuacamoleServerException`: 500 with its own message.
    pub fn server(message: impl Into<String>) -> Self {
        Self::new(500, ErrorType::InternalError, message)
    }

    /// Any status with a chosen type (fault injection).
    pub fn with_status(status: u16, message: impl Into<String>) -> Self {
        let kind = match status {
            403 => ErrorType::PermissionDenied,
            404 => ErrorType::NotFound,
            400..=499 => ErrorType::BadRequest,
            _ => ErrorType::InternalError,
        };
        Self::new(status, kind, message)
    }

    /// Login failure with the fields the login form needs.
    #[must_use]
    pub fn invalid_login() -> Self {
        let mut e = Self::new(403, ErrorType::InvalidCredentials, "Invalid login");
        e.expected = Some(json!([
            {"name": "username", "type": "USERNAME"},
            {"name": "password", "type": "PASSWORD"}
        ]));
        e
    }

    #[must_use]
    pub fn with_translation(mut self, key: &str, variables: Value) -> Self {
        self.translatable = Translatable {
            key: key.to_owned(),
            variables,
        };
        self
    }

    /// The body, all six fields present and nulls written out.
    #[must_use]
    pub fn body(&self) -> Value {
        json!({
            "message": self.message,
            "translatableMessage": self.translatable,
            "statusCode": Value::Null,
            "expected": self.expected,
            "patches": self.patches,
            "type": self.kind,
        })
    }
}

/// Why a request (or one patch) failed.
#[derive(Clone, Debug, PartialEq)]
pub enum Fail {
    Api(Box<ApiError>),
    /// A non-Guacamole exception (`NullPointerException`, a database error, ...).
    Internal,
    /// A `GuacamoleException` thrown outside the per-patch `try` of a directory
    /// PATCH (while translating an add): it fails the whole request.
    Whole(Box<ApiError>),
    /// The body could not be mapped by Jackson (malformed JSON, a wrong enum
    /// string): Jersey answers 400 before Guacamole code runs, without an `APIError`
    /// body (rest-api.md §2, unconfirmed; this server answers `text/plain`).
    BadJson(String),
}

impl From<ApiError> for Fail {
    fn from(e: ApiError) -> Self {
        Self::Api(Box::new(e))
    }
}

impl Fail {
    /// The error that reaches the client (`None` for a Jackson mapping failure,
    /// which has no `APIError` body).
    #[must_use]
    pub fn into_api(self) -> Option<ApiError> {
        match self {
            Self::Api(e) | Self::Whole(e) => Some(*e),
            Self::Internal => Some(ApiError::new(
                500,
                ErrorType::InternalError,
                "Unexpected internal error",
            )),
            Self::BadJson(_) => None,
        }
    }
}

pub type Result<T> = std::result::Result<T, Fail>;

//! matrix-sdk errors as [`TransportError`]s: what is worth retrying (`Unavailable`: the server
//! unreachable, rate limited, a gateway or the server temporarily down) and what is not
//! (`Refused`: authentication, permissions, a room that does not exist, an internal error).
//! Messages never hold tokens: the sdk's error texts name endpoints and error codes only.

use matrix_sdk::ruma::api::error::ErrorKind;
use matrix_sdk::{Error, HttpError};

use crate::TransportError;

/// A request error of transport `name`.
pub(super) fn from_http(name: &str, error: &HttpError) -> TransportError {
    let unavailable = || TransportError::Unavailable(name.to_owned(), error.to_string());
    let refused = || TransportError::Refused(name.to_owned(), error.to_string());
    match error {
        HttpError::Reqwest(_) => return unavailable(),
        HttpError::Cached(inner) => return from_http(name, inner),
        _ => {}
    }
    if let Some(kind) = error.client_api_error_kind() {
        match kind {
            ErrorKind::LimitExceeded(_) => return unavailable(),
            ErrorKind::Forbidden
            | ErrorKind::UnknownToken(_)
            | ErrorKind::MissingToken
            | ErrorKind::UserDeactivated
            | ErrorKind::NotFound => return refused(),
            _ => {}
        }
    }
    match error.as_client_api_error().map(|api| api.status_code.as_u16()) {
        // Timeouts, rate limits, a gateway or the server temporarily down: try again later.
        Some(408 | 429 | 502 | 503 | 504) => unavailable(),
        Some(_) => refused(),
        None => unavailable(),
    }
}

/// An sdk error of transport `name`.
pub(super) fn from_sdk(name: &str, error: &Error) -> TransportError {
    match error {
        Error::Http(http) => from_http(name, http),
        Error::Io(io) => TransportError::Io {
            path: format!("{name} store"),
            source: std::io::Error::new(io.kind(), io.to_string()),
        },
        Error::WrongRoomState(_) | Error::Identifier(_) => {
            TransportError::Refused(name.to_owned(), error.to_string())
        }
        // Store and crypto hiccups: the loop (or the outbox) tries again later.
        _ => TransportError::Unavailable(name.to_owned(), error.to_string()),
    }
}

/// Whether an error means the request should be retried (rather than skipped or reported).
pub(super) fn is_transient(error: &TransportError) -> bool {
    matches!(error, TransportError::Unavailable(..) | TransportError::Io { .. })
}

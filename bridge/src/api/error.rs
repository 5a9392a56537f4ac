//! Errors as the API gives them: a JSON-RPC error object whose `code` is one of [`ErrorCode`]
//! (stable: clients may match on them; the spec lists them), whose `message` is the one the CLI
//! prints for the same failure, and whose `data.kind` names the code in words.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::error::Error;
use crate::store::StoreError;

/// A JSON-RPC error object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, thiserror::Error)]
#[error("{message}")]
pub struct RpcError {
    /// One of [`ErrorCode`] (a client should treat an unknown code as [`ErrorCode::Internal`]).
    pub code: i64,
    /// What went wrong, in the CLI's words; never a secret or a message text.
    pub message: String,
    /// `{"kind": NAME, ...}`: the code's name, and details some codes carry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
}

/// The error codes of the API. The JSON-RPC ones are negative; the bridge's own are 1000 and up.
/// Numbers and names never change meaning; new ones may be added.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorCode {
    /// The line is not JSON.
    ParseError,
    /// The JSON is not a JSON-RPC 2.0 request.
    InvalidRequest,
    /// No such method (or not on this connection, such as `auth` on the socket).
    MethodNotFound,
    /// The params do not fit the method (a missing field, a wrong type, an unknown field).
    InvalidParams,
    /// The daemon failed in a way the request did not cause.
    Internal,
    /// The request makes no sense as it stands (as the CLI's usage errors: an empty message, a
    /// chat without routes, a bad route).
    Usage,
    /// No chat has this name.
    NoSuchChat,
    /// A chat with this name exists already.
    ChatExists,
    /// The chat has messages: removing it needs `purge`.
    ChatHasMessages,
    /// A route names no transport set up here, or cannot be used.
    Route,
    /// An invite could not be read or made.
    Invite,
    /// The message could not be encoded (too large, a sender name unusable).
    Encode,
    /// The store failed (a database error, damaged data).
    Store,
    /// The vault failed.
    Vault,
    /// `subscribe` asked for events that were pruned: `data.first_event_id` is the oldest kept.
    EventsPruned,
    /// `subscribe` asked for events after one that does not exist yet: `data.last_event_id`.
    EventAhead,
    /// TCP only: the first request was not `auth` with the right token.
    Unauthorized,
    /// The socket serves only the daemon's own user.
    Forbidden,
    /// The daemon serves as many clients as it may.
    TooManyClients,
    /// The request line is longer than the daemon accepts (`api.max_request_bytes`).
    RequestTooLarge,
    /// The daemon is stopping.
    Stopping,
}

impl ErrorCode {
    /// Every code, in the order the spec lists them.
    pub const ALL: [ErrorCode; 21] = [
        ErrorCode::ParseError,
        ErrorCode::InvalidRequest,
        ErrorCode::MethodNotFound,
        ErrorCode::InvalidParams,
        ErrorCode::Internal,
        ErrorCode::Usage,
        ErrorCode::NoSuchChat,
        ErrorCode::ChatExists,
        ErrorCode::ChatHasMessages,
        ErrorCode::Route,
        ErrorCode::Invite,
        ErrorCode::Encode,
        ErrorCode::Store,
        ErrorCode::Vault,
        ErrorCode::EventsPruned,
        ErrorCode::EventAhead,
        ErrorCode::Unauthorized,
        ErrorCode::Forbidden,
        ErrorCode::TooManyClients,
        ErrorCode::RequestTooLarge,
        ErrorCode::Stopping,
    ];

    /// The number on the wire.
    pub const fn code(self) -> i64 {
        match self {
            ErrorCode::ParseError => -32700,
            ErrorCode::InvalidRequest => -32600,
            ErrorCode::MethodNotFound => -32601,
            ErrorCode::InvalidParams => -32602,
            ErrorCode::Internal => -32603,
            ErrorCode::Usage => 1000,
            ErrorCode::NoSuchChat => 1001,
            ErrorCode::ChatExists => 1002,
            ErrorCode::ChatHasMessages => 1003,
            ErrorCode::Route => 1004,
            ErrorCode::Invite => 1005,
            ErrorCode::Encode => 1006,
            ErrorCode::Store => 1007,
            ErrorCode::Vault => 1008,
            ErrorCode::EventsPruned => 1100,
            ErrorCode::EventAhead => 1101,
            ErrorCode::Unauthorized => 1200,
            ErrorCode::Forbidden => 1201,
            ErrorCode::TooManyClients => 1202,
            ErrorCode::RequestTooLarge => 1203,
            ErrorCode::Stopping => 1204,
        }
    }

    /// The name in `data.kind`.
    pub const fn name(self) -> &'static str {
        match self {
            ErrorCode::ParseError => "parse_error",
            ErrorCode::InvalidRequest => "invalid_request",
            ErrorCode::MethodNotFound => "method_not_found",
            ErrorCode::InvalidParams => "invalid_params",
            ErrorCode::Internal => "internal",
            ErrorCode::Usage => "usage",
            ErrorCode::NoSuchChat => "no_such_chat",
            ErrorCode::ChatExists => "chat_exists",
            ErrorCode::ChatHasMessages => "chat_has_messages",
            ErrorCode::Route => "route",
            ErrorCode::Invite => "invite",
            ErrorCode::Encode => "encode",
            ErrorCode::Store => "store",
            ErrorCode::Vault => "vault",
            ErrorCode::EventsPruned => "events_pruned",
            ErrorCode::EventAhead => "event_ahead",
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::TooManyClients => "too_many_clients",
            ErrorCode::RequestTooLarge => "request_too_large",
            ErrorCode::Stopping => "stopping",
        }
    }

    /// The code with this number, if any.
    pub fn from_code(code: i64) -> Option<ErrorCode> {
        ErrorCode::ALL.into_iter().find(|known| known.code() == code)
    }
}

impl RpcError {
    /// An error of `code` saying `message`.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> RpcError {
        RpcError { code: code.code(), message: message.into(), data: Some(json!({ "kind": code.name() })) }
    }

    /// Adds `key: value` to `data`.
    pub fn with(mut self, key: &str, value: impl Into<Value>) -> RpcError {
        if let Some(Value::Object(data)) = &mut self.data {
            data.insert(key.to_owned(), value.into());
        }
        self
    }

    /// The code, if it is one this build knows.
    pub fn kind(&self) -> Option<ErrorCode> {
        ErrorCode::from_code(self.code)
    }

    /// Params that do not fit the method.
    pub fn invalid_params(reason: impl std::fmt::Display) -> RpcError {
        RpcError::new(ErrorCode::InvalidParams, format!("invalid params: {reason}"))
    }

    /// A failure of the daemon itself.
    pub fn internal(reason: impl std::fmt::Display) -> RpcError {
        RpcError::new(ErrorCode::Internal, reason.to_string())
    }
}

impl From<Error> for RpcError {
    fn from(error: Error) -> RpcError {
        let code = match &error {
            Error::Usage(_) | Error::Secret(_) | Error::Input(_) | Error::Random(_) | Error::Clock => {
                ErrorCode::Usage
            }
            Error::Store(store) => store_code(store),
            Error::UnknownChat(_) => ErrorCode::NoSuchChat,
            Error::Pipeline(crate::pipeline::PipelineError::Store(store)) => store_code(store),
            Error::Pipeline(_) => ErrorCode::Store,
            Error::Vault(_) => ErrorCode::Vault,
            Error::Setup(_) => ErrorCode::Route,
            Error::Invite(_) => ErrorCode::Invite,
            Error::Encode(_) => ErrorCode::Encode,
            _ => ErrorCode::Internal,
        };
        RpcError::new(code, error.to_string())
    }
}

impl From<StoreError> for RpcError {
    fn from(error: StoreError) -> RpcError {
        RpcError::from(Error::Store(error))
    }
}

fn store_code(error: &StoreError) -> ErrorCode {
    match error {
        StoreError::NoSuchChat(_) | StoreError::NoSuchChatId(_) => ErrorCode::NoSuchChat,
        StoreError::ChatExists(_) => ErrorCode::ChatExists,
        StoreError::ChatHasMessages { .. } => ErrorCode::ChatHasMessages,
        StoreError::Vault(_) => ErrorCode::Vault,
        _ => ErrorCode::Store,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn codes_and_names_are_unique_and_round_trip() {
        let codes: HashSet<i64> = ErrorCode::ALL.iter().map(|c| c.code()).collect();
        let names: HashSet<&str> = ErrorCode::ALL.iter().map(|c| c.name()).collect();
        assert_eq!((codes.len(), names.len()), (ErrorCode::ALL.len(), ErrorCode::ALL.len()));
        for code in ErrorCode::ALL {
            assert_eq!(ErrorCode::from_code(code.code()), Some(code));
        }
    }

    #[test]
    fn cli_errors_keep_their_message_and_get_their_code() {
        let error = RpcError::from(Error::Store(StoreError::NoSuchChat("Famliy".into())));
        assert_eq!(
            (error.kind(), error.message.as_str()),
            (Some(ErrorCode::NoSuchChat), "no chat named \"Famliy\"")
        );
        assert_eq!(error.data, Some(json!({ "kind": "no_such_chat" })));
        let error = RpcError::from(crate::error::usage("the message is empty: nothing to send"));
        assert_eq!(error.kind(), Some(ErrorCode::Usage));
        assert_eq!(error.to_string(), "the message is empty: nothing to send");
    }
}

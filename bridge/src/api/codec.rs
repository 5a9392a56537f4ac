//! The wire: one JSON-RPC 2.0 message per line (UTF-8 JSON, `\n`-terminated, no newline
//! inside: JSON escapes it), in both directions. Lines are read with a length cap, so a client
//! cannot make the daemon buffer more than that. Requests with an `id` get exactly one response
//! with that id; requests without one are notifications and get none; the daemon's own
//! notifications (events) carry no id, so they never look like responses.

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use tokio::io::{AsyncBufRead, AsyncBufReadExt as _};

use super::error::{ErrorCode, RpcError};

/// The protocol version every message carries.
pub const JSONRPC: &str = "2.0";
/// The most requests one batch may hold.
pub const MAX_BATCH: usize = 64;

/// What reading a line gave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Line {
    /// A whole line is in the buffer (without its newline).
    Complete,
    /// The stream ended (a partial last line is dropped).
    Eof,
    /// The line is longer than the cap; the buffer holds its first part.
    TooLong,
}

/// Reads one line into `buf` (cleared first), at most `max` bytes. Cancel-safe as long as the
/// caller does not clear `buf` between calls: bytes are moved out of the reader only into it.
pub async fn read_line<R: AsyncBufRead + Unpin>(
    reader: &mut R,
    buf: &mut Vec<u8>,
    max: usize,
) -> std::io::Result<Line> {
    loop {
        let available = reader.fill_buf().await?;
        if available.is_empty() {
            return Ok(Line::Eof);
        }
        let (taken, done) = match memchr::memchr(b'\n', available) {
            Some(end) => (end, true),
            None => (available.len(), false),
        };
        let room = max.saturating_sub(buf.len());
        if taken > room {
            buf.extend_from_slice(&available[..room]);
            let consumed = room;
            reader.consume(consumed);
            return Ok(Line::TooLong);
        }
        buf.extend_from_slice(&available[..taken]);
        reader.consume(if done { taken + 1 } else { taken });
        if done {
            return Ok(Line::Complete);
        }
    }
}

/// A request as parsed from a line.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// Its id; `None` for a notification (no response).
    pub id: Option<Value>,
    /// The method.
    pub method: String,
    /// The params (`null` when absent).
    pub params: Value,
}

/// What a line held.
#[derive(Debug)]
pub enum Incoming {
    /// One request, or the error response for what was not one.
    One(Result<Request, Value>),
    /// A batch: each request, or the error response for an element that was not one.
    Batch(Vec<Result<Request, Value>>),
    /// Nothing to answer but this error (unparseable JSON, an empty or too large batch).
    Invalid(Value),
}

/// Parses one line.
pub fn parse(line: &[u8]) -> Incoming {
    let value: Value = match serde_json::from_slice(line) {
        Ok(value) => value,
        Err(error) => {
            let error = RpcError::new(ErrorCode::ParseError, format!("not JSON: {error}"));
            return Incoming::Invalid(response(Value::Null, Err(error)));
        }
    };
    match value {
        Value::Array(items) if items.is_empty() || items.len() > MAX_BATCH => {
            let error = RpcError::new(
                ErrorCode::InvalidRequest,
                format!("a batch holds 1 to {MAX_BATCH} requests, not {}", items.len()),
            );
            Incoming::Invalid(response(Value::Null, Err(error)))
        }
        Value::Array(items) => Incoming::Batch(items.into_iter().map(request).collect()),
        other => Incoming::One(request(other)),
    }
}

/// One request from a JSON value, or the error response for it.
fn request(value: Value) -> Result<Request, Value> {
    let Value::Object(mut object) = value else {
        return Err(invalid(Value::Null, "a request is a JSON object"));
    };
    let id = match object.remove("id") {
        None => None,
        Some(id @ (Value::Null | Value::Number(_) | Value::String(_))) => Some(id),
        Some(_) => return Err(invalid(Value::Null, "the id must be a number, a string or null")),
    };
    let reply_id = id.clone().unwrap_or(Value::Null);
    if object.get("jsonrpc").and_then(Value::as_str) != Some(JSONRPC) {
        return Err(invalid(reply_id, "\"jsonrpc\" must be \"2.0\""));
    }
    let Some(Value::String(method)) = object.remove("method") else {
        return Err(invalid(reply_id, "\"method\" must be a string"));
    };
    let params = object.remove("params").unwrap_or(Value::Null);
    if !matches!(params, Value::Null | Value::Object(_) | Value::Array(_)) {
        return Err(invalid(reply_id, "\"params\" must be an object"));
    }
    Ok(Request { id, method, params })
}

fn invalid(id: Value, reason: &str) -> Value {
    response(id, Err(RpcError::new(ErrorCode::InvalidRequest, format!("invalid request: {reason}"))))
}

/// A response object.
pub fn response(id: Value, result: Result<Value, RpcError>) -> Value {
    let mut object = Map::new();
    object.insert("jsonrpc".into(), Value::from(JSONRPC));
    object.insert("id".into(), id);
    match result {
        Ok(result) => object.insert("result".into(), result),
        Err(error) => object.insert("error".into(), serde_json::to_value(error).unwrap_or(Value::Null)),
    };
    Value::Object(object)
}

/// A notification line (with its newline): `{"jsonrpc":"2.0","method":..,"params":..}`.
pub fn notification(method: &str, params: &impl Serialize) -> Vec<u8> {
    #[derive(Serialize)]
    struct Notification<'a, P> {
        jsonrpc: &'static str,
        method: &'a str,
        params: &'a P,
    }
    line(&Notification { jsonrpc: JSONRPC, method, params })
}

/// A value as one line, with its newline.
pub fn line(value: &impl Serialize) -> Vec<u8> {
    // Values built here always serialise (string keys only).
    let mut bytes = serde_json::to_vec(value).unwrap_or_default();
    bytes.push(b'\n');
    bytes
}

/// Params as the type a method takes: absent or `null` means `{}`.
pub fn params<T: DeserializeOwned>(params: Value) -> Result<T, RpcError> {
    let params = if params.is_null() { Value::Object(Map::new()) } else { params };
    serde_json::from_value(params).map_err(RpcError::invalid_params)
}

/// A result value from a method's answer.
pub fn result(value: &impl Serialize) -> Result<Value, RpcError> {
    serde_json::to_value(value).map_err(RpcError::internal)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[tokio::test]
    async fn lines_are_read_whole_and_capped() {
        let input: &[u8] = b"{\"a\":1}\n0123456789abcdef\nlast";
        let mut reader = tokio::io::BufReader::with_capacity(4, input);
        let mut buf = Vec::new();
        assert_eq!(read_line(&mut reader, &mut buf, 10).await.unwrap(), Line::Complete);
        assert_eq!(buf, b"{\"a\":1}");
        buf.clear();
        assert_eq!(read_line(&mut reader, &mut buf, 10).await.unwrap(), Line::TooLong);
        assert_eq!(buf.len(), 10, "no more than the cap is kept");
        let mut rest = Vec::new();
        assert_eq!(read_line(&mut reader, &mut rest, 100).await.unwrap(), Line::Complete);
        assert_eq!(rest, b"abcdef");
        rest.clear();
        assert_eq!(read_line(&mut reader, &mut rest, 100).await.unwrap(), Line::Eof);
    }

    #[test]
    fn requests_notifications_and_bad_lines() {
        let Incoming::One(Ok(request)) = parse(br#"{"jsonrpc":"2.0","id":7,"method":"status"}"#) else {
            panic!("a request")
        };
        assert_eq!(
            (request.id, request.method.as_str(), request.params),
            (Some(json!(7)), "status", Value::Null)
        );
        let Incoming::One(Ok(notification)) = parse(br#"{"jsonrpc":"2.0","method":"x","params":{}}"#) else {
            panic!("a notification")
        };
        assert_eq!(notification.id, None);
        let Incoming::Invalid(reply) = parse(b"{nope") else { panic!("not JSON") };
        assert_eq!(reply["error"]["code"], -32700);
        let Incoming::One(Err(reply)) = parse(br#"{"jsonrpc":"1.0","id":"a","method":"x"}"#) else {
            panic!("wrong version")
        };
        assert_eq!((reply["id"].clone(), reply["error"]["code"].clone()), (json!("a"), json!(-32600)));
        let Incoming::Batch(items) = parse(br#"[{"jsonrpc":"2.0","id":1,"method":"a"},3]"#) else {
            panic!("a batch")
        };
        assert!(items[0].is_ok() && items[1].is_err());
        assert!(matches!(parse(b"[]"), Incoming::Invalid(_)));
    }

    #[test]
    fn params_default_to_an_empty_object_and_refuse_what_does_not_fit() {
        #[derive(serde::Deserialize, Debug)]
        #[serde(deny_unknown_fields)]
        struct P {
            #[serde(default)]
            after: Option<i64>,
        }
        assert_eq!(params::<P>(Value::Null).unwrap().after, None);
        let error = params::<P>(json!({"afte": 1})).unwrap_err();
        assert_eq!(error.kind(), Some(ErrorCode::InvalidParams));
        assert!(error.message.contains("afte"), "{}", error.message);
    }
}

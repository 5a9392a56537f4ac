//! The OpenRPC document of the API (`openrpc.json`, served by `rpc.discover` and printed by
//! `clm-bridge api spec`): every method with its params, result, errors and examples, the
//! notifications (`x-notifications`), and the error codes (`components.errors`). The tests below
//! hold it and the code together: the same methods in the same order, the same error codes, and
//! every example's params and result read by the Rust types of its method. The end-to-end tests
//! run every example against a real daemon (`bridge/tests/e2e/api_spec.rs`).

use std::sync::OnceLock;

use serde_json::Value;

/// The document as text.
pub fn text() -> &'static str {
    include_str!("openrpc.json")
}

/// The document.
pub fn document() -> &'static Value {
    static DOCUMENT: OnceLock<Value> = OnceLock::new();
    // The document is checked by the tests below: it parses.
    DOCUMENT.get_or_init(|| serde_json::from_str(text()).unwrap_or(Value::Null))
}

/// The method names the document lists, in order.
pub fn method_names(document: &Value) -> Vec<String> {
    document["methods"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|method| method["name"].as_str().map(str::to_owned))
        .collect()
}

/// An example's params as the object a request carries.
pub fn example_params(example: &Value) -> Value {
    let params = example["params"].as_array().into_iter().flatten();
    Value::Object(
        params
            .filter_map(|param| Some((param["name"].as_str()?.to_owned(), param["value"].clone())))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use serde::de::DeserializeOwned;

    use super::*;
    use crate::api::types::*;
    use crate::api::{API_VERSION, ErrorCode, METHODS};

    #[test]
    fn the_document_lists_the_served_methods_in_order() {
        let document = document();
        assert_eq!(document["openrpc"].as_str(), Some("1.2.6"));
        assert_eq!(document["info"]["version"].as_str(), Some(API_VERSION.to_string().as_str()));
        assert_eq!(method_names(document), METHODS);
    }

    #[test]
    fn the_document_lists_every_error_code() {
        let errors = document()["components"]["errors"].as_object().expect("components.errors");
        let mut listed: Vec<(i64, String)> = errors
            .values()
            .map(|error| {
                (error["code"].as_i64().unwrap(), error["data"]["kind"].as_str().unwrap().to_owned())
            })
            .collect();
        let mut known: Vec<(i64, String)> =
            ErrorCode::ALL.iter().map(|code| (code.code(), code.name().to_owned())).collect();
        listed.sort();
        known.sort();
        assert_eq!(listed, known);
    }

    fn reads<T: DeserializeOwned>(what: &str, value: &Value) -> Result<(), String> {
        serde_json::from_value::<T>(value.clone())
            .map(drop)
            .map_err(|error| format!("{what}: {error}: {value}"))
    }

    /// Whether an example's params and result are read by the method's types.
    fn check(method: &str, params: &Value, result: &Value) -> Result<(), String> {
        macro_rules! both {
            ($params:ty, $result:ty) => {{
                reads::<$params>("params", params)?;
                reads::<$result>("result", result)
            }};
        }
        match method {
            "identity" => both!(NoParams, Identity),
            "status" => both!(NoParams, Status),
            "chat.list" => both!(NoParams, ChatList),
            "chat.show" => both!(ChatParams, ChatView),
            "chat.add" => both!(ChatAddParams, ChatAdded),
            "chat.new" => both!(ChatNewParams, InviteView),
            "chat.invite" => both!(ChatInviteParams, InviteView),
            "chat.join" => both!(ChatJoinParams, Joined),
            "chat.rename" => both!(ChatRenameParams, Renamed),
            "chat.route" => both!(ChatRouteParams, RouteChanged),
            "chat.remove" => both!(ChatRemoveParams, Removed),
            "send" => both!(SendParams, Sent),
            "history" => both!(HistoryParams, HistoryView),
            "trash" | "restore" | "outbox.drop" => both!(IdsParams, Changed),
            "purge" => both!(PurgeParams, Changed),
            "outbox.list" => both!(NoParams, OutboxView),
            "outbox.retry" => both!(RetryParams, Changed),
            "pending.list" => both!(PendingParams, PendingView),
            "subscribe" => both!(SubscribeParams, Subscribed),
            "unsubscribe" => both!(NoParams, NoParams),
            "auth" => both!(AuthParams, NoParams),
            "rpc.discover" => reads::<NoParams>("params", params),
            other => Err(format!("no types for method {other}")),
        }
    }

    #[test]
    fn every_example_fits_its_method_and_every_method_has_one() {
        for method in document()["methods"].as_array().unwrap() {
            let name = method["name"].as_str().unwrap();
            let examples = method["examples"].as_array().unwrap_or_else(|| panic!("{name} has no examples"));
            assert!(!examples.is_empty(), "{name} has no examples");
            for example in examples {
                let result = &example["result"]["value"];
                check(name, &example_params(example), result)
                    .unwrap_or_else(|error| panic!("{name}: {error}"));
            }
            let declared: Vec<&str> =
                method["params"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
            for example in examples {
                for param in example_params(example).as_object().unwrap().keys() {
                    assert!(
                        declared.contains(&param.as_str()),
                        "{name}: example param {param} is not declared"
                    );
                }
            }
        }
    }

    #[test]
    fn every_notification_example_fits_its_type() {
        let notifications = document()["x-notifications"].as_array().expect("x-notifications");
        let names: Vec<&str> = notifications.iter().map(|n| n["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["message", "delivery", "health"]);
        for notification in notifications {
            let example = &notification["example"];
            match notification["name"].as_str().unwrap() {
                "message" => reads::<MessageEvent>("message", example),
                "delivery" => reads::<DeliveryEvent>("delivery", example),
                _ => reads::<HealthEvent>("health", example),
            }
            .unwrap();
        }
    }
}

//! The OpenRPC document against the real daemon: `api spec` is what `rpc.discover` serves,
//! every method it lists is served (and one it does not list is not), and every example runs,
//! in the document's order, against one bridge, answering with at least the example's fields.

use std::os::unix::fs::PermissionsExt as _;

use clm_bridge::api::spec::{example_params, method_names};
use clm_bridge::api::{Client, ClientError, ErrorCode};
use serde_json::Value;

use super::ApiNode;

/// The token the `auth` example shows.
const EXAMPLE_TOKEN: &str = "example-api-token-0123456789";

/// Whether `actual` has every field of `example`, with values of the same JSON type (null
/// stands for any: a field that may be absent), arrays compared by their first element.
fn fits(example: &Value, actual: &Value, path: &str) -> Result<(), String> {
    match (example, actual) {
        (Value::Null, _) | (_, Value::Null) => Ok(()),
        (Value::Object(example), Value::Object(actual)) => example.iter().try_for_each(|(key, value)| {
            let found = actual.get(key).ok_or_else(|| format!("{path}.{key} is missing"))?;
            fits(value, found, &format!("{path}.{key}"))
        }),
        (Value::Array(example), Value::Array(actual)) => match (example.first(), actual.first()) {
            (Some(example), Some(actual)) => fits(example, actual, &format!("{path}[0]")),
            _ => Ok(()),
        },
        (Value::Bool(_), Value::Bool(_))
        | (Value::Number(_), Value::Number(_))
        | (Value::String(_), Value::String(_)) => Ok(()),
        (example, actual) => Err(format!("{path}: the example has {example}, the daemon {actual}")),
    }
}

#[test]
fn the_served_methods_are_the_documented_ones_and_every_example_runs() {
    let dir = crate::support::scratch_dir("api_spec/token");
    let token = dir.join("token");
    std::fs::write(&token, EXAMPLE_TOKEN).expect("token file");
    std::fs::set_permissions(&token, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let settings = format!(
        "[api]\ntcp = \"127.0.0.1:{port}\"\ntoken_file = {}\n",
        serde_json::to_string(&token).unwrap()
    );
    let node = ApiNode::new("api_spec", "alice", &settings);
    let _daemon = node.start();

    let printed: Value = serde_json::from_str(&node.node.cli(&["api", "spec"]).succeeds()).expect("JSON");
    let mut client = node.client();
    let served = client.call_value("rpc.discover", Value::Null).expect("rpc.discover");
    assert_eq!(served, printed, "rpc.discover serves what `api spec` prints");
    assert_eq!(method_names(&printed), clm_bridge::api::METHODS);
    let missing = client.call_value("chat.delete", Value::Null).expect_err("not a method");
    assert!(matches!(missing, ClientError::Rpc(e) if e.kind() == Some(ErrorCode::MethodNotFound)));

    let mut tcp = None;
    for method in printed["methods"].as_array().expect("methods") {
        let name = method["name"].as_str().expect("a name");
        for example in method["examples"].as_array().expect("examples") {
            let params = example_params(example);
            let answer = if name == "auth" {
                // Only on TCP, as the first request: connect_tcp sends it.
                let token = params["token"].as_str().expect("a token");
                let mut connected =
                    Client::connect_tcp(("127.0.0.1", port), token).expect("the example's token");
                let answer = connected.call_value("identity", Value::Null);
                tcp = Some(connected);
                answer.map(|_| Value::Object(Default::default()))
            } else {
                client.call_value(name, params.clone())
            };
            let result = answer.unwrap_or_else(|error| panic!("{name} {params}: {error}"));
            fits(&example["result"]["value"], &result, name)
                .unwrap_or_else(|error| panic!("{name}: {error}"));
        }
    }
    assert!(tcp.is_some(), "the auth example ran");
}

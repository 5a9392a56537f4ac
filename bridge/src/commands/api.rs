//! `clm-bridge api spec | call`: the API's OpenRPC document, and one call of a running
//! daemon's method (for scripts and for trying the API out).

use std::io::{Read as _, Write};

use serde_json::Value;
use zeroize::Zeroizing;

use super::Outcome;
use super::remote::connect;
use crate::cli::{ApiCommand, GlobalArgs};
use crate::error::{Error, usage};

/// The longest params read from standard input.
const MAX_PARAMS_BYTES: u64 = 1 << 20;

/// Runs an `api` subcommand.
pub fn run(global: &GlobalArgs, command: ApiCommand, out: &mut dyn Write) -> Result<Outcome, Error> {
    match command {
        ApiCommand::Spec => {
            out.write_all(crate::api::spec::text().as_bytes())
                .and_then(|()| out.flush())
                .map_err(Error::Output)?;
        }
        ApiCommand::Call { method, params } => {
            let params = read_params(params.as_deref())?;
            let Some(mut client) = connect(global)? else {
                return Err(usage("no daemon serves this data directory: start `clm-bridge run` first"));
            };
            let result =
                client.call_value(&method, params).map_err(|error| Error::Daemon(error.to_string()))?;
            let text = serde_json::to_string_pretty(&result).map_err(|e| Error::Output(e.into()))?;
            writeln!(out, "{text}").and_then(|()| out.flush()).map_err(Error::Output)?;
        }
    }
    Ok(Outcome::Done)
}

/// The params: absent (none), `-` (standard input), or the JSON text given.
fn read_params(given: Option<&str>) -> Result<Value, Error> {
    let text = match given {
        None => return Ok(Value::Null),
        Some("-") => {
            let mut bytes = Zeroizing::new(Vec::new());
            std::io::stdin()
                .lock()
                .take(MAX_PARAMS_BYTES)
                .read_to_end(&mut bytes)
                .map_err(|source| crate::input::InputError::Read { what: "standard input".into(), source })?;
            Zeroizing::new(String::from_utf8(bytes.to_vec()).map_err(|_| usage("the params are not UTF-8"))?)
        }
        Some(text) => Zeroizing::new(text.to_owned()),
    };
    match serde_json::from_str::<Value>(&text) {
        Ok(value @ (Value::Object(_) | Value::Array(_))) => Ok(value),
        Ok(_) => Err(usage("PARAMS must be a JSON object")),
        Err(error) => Err(usage(format!("PARAMS is not JSON: {error}"))),
    }
}

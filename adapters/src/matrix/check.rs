//! Live self-checks for `clm-bridge doctor`: the saved session still logs in (whoami), a sync
//! position is stored, and this device's end-to-end keys are on the server (and signed, when
//! the account uses cross-signing). The receive loop's stores are never opened here (a running
//! daemon holds them): the checks ask the homeserver directly with the saved session's token.
//! No detail ever holds a token or password.

use std::time::Duration;

use matrix_sdk::Client;
use serde_json::{Value, json};
use zeroize::Zeroizing;

use super::session::{self, Role};
use super::{MatrixAuth, MatrixTransport, SYNC_CURSOR};
use crate::log_safe::Escaped;
use crate::{Check, Cursor};

/// The account and device the checks are about.
struct Account {
    http: matrix_sdk::reqwest::Client,
    base: String,
    token: Zeroizing<String>,
}

/// Logs the receive loop's device in now (with the password, once: its session is kept in the
/// transport's secret store and restored by every later start), so that [`check`] finds a
/// session to ask the homeserver with. `clm-bridge account add matrix` calls it; an existing
/// session is restored instead. The device's stores are opened and closed again.
pub async fn log_in(transport: &MatrixTransport) -> Result<(), crate::TransportError> {
    session::client(transport, Role::Sync).await.map(drop)
}

/// Checks the account of `transport`, each step given at most `timeout`; `cursors` are the
/// positions the bridge stored for it.
pub async fn check(transport: &MatrixTransport, cursors: &[Cursor], timeout: Duration) -> Vec<Check> {
    let mut checks = Vec::new();
    let synced = cursors.iter().any(|cursor| cursor.key == SYNC_CURSOR && !cursor.value.is_empty());
    checks.push(if synced {
        Check::ok("Matrix sync position", "stored: reading resumes where it stopped")
    } else {
        Check::warning(
            "Matrix sync position",
            "none yet: the first `clm-bridge run` starts reading from the present (or imports recent history with backfill = true)",
        )
    });
    let account = match tokio::time::timeout(timeout, login(transport)).await {
        Ok(Ok(account)) => account,
        Ok(Err(check)) => {
            checks.push(check);
            return checks;
        }
        Err(_) => {
            checks.push(Check::failure(
                "Matrix login",
                format!("no answer from {} within {timeout:?}", transport.settings.homeserver),
            ));
            return checks;
        }
    };
    let device = match tokio::time::timeout(timeout, whoami(&account)).await {
        Ok(Ok((user, device))) => {
            checks.push(Check::ok("Matrix login", format!("{} (device {device})", Escaped(&user))));
            device
        }
        Ok(Err(why)) => {
            checks.push(Check::failure("Matrix login", why));
            return checks;
        }
        Err(_) => {
            checks.push(Check::failure("Matrix login", format!("whoami: no answer within {timeout:?}")));
            return checks;
        }
    };
    let user = transport.settings.user_id.clone();
    checks.extend(match tokio::time::timeout(timeout, keys(&account, &user, &device, synced)).await {
        Ok(checks) => checks,
        Err(_) => vec![Check::failure("Matrix encryption keys", format!("no answer within {timeout:?}"))],
    });
    checks
}

/// A client for raw requests with the saved session's token (or the configured access token).
async fn login(transport: &MatrixTransport) -> Result<Account, Check> {
    let failure = |detail: String| Check::failure("Matrix login", detail);
    let token = match session::saved_token(transport, Role::Sync) {
        Ok(Some(token)) => token,
        Ok(None) => match &transport.auth {
            MatrixAuth::AccessToken(token) => token.clone(),
            MatrixAuth::Password(_) => {
                return Err(Check::warning(
                    "Matrix login",
                    "not logged in yet: the first `clm-bridge run` logs in with the password and keeps the session",
                ));
            }
        },
        Err(error) => return Err(failure(error.to_string())),
    };
    let client = Client::builder()
        .homeserver_url(transport.settings.homeserver.as_str())
        .respect_login_well_known(false)
        .build()
        .await
        .map_err(|e| failure(format!("cannot build a client for {}: {e}", transport.settings.homeserver)))?;
    let base = client.homeserver().as_str().trim_end_matches('/').to_owned();
    Ok(Account { http: client.http_client().clone(), base, token })
}

/// One authenticated request; the JSON answer, or why not (never the token).
async fn request(account: &Account, method: &str, path: &str, body: Option<Value>) -> Result<Value, String> {
    let url = format!("{}{path}", account.base);
    let builder = match method {
        "POST" => account.http.post(url).body(body.unwrap_or(Value::Null).to_string()),
        _ => account.http.get(url),
    };
    let response = builder
        .header("Authorization", format!("Bearer {}", account.token.as_str()))
        .header("Content-Type", "application/json")
        .send()
        .await
        .map_err(|e| format!("cannot reach the homeserver: {}", e.without_url()))?;
    let status = response.status();
    let bytes = response.bytes().await.map_err(|e| format!("reading the answer: {}", e.without_url()))?;
    let value: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    if status.is_success() {
        return Ok(value);
    }
    let code = value["errcode"].as_str().unwrap_or("");
    let hint = if code == "M_UNKNOWN_TOKEN" {
        ": the session was logged out or the token revoked; for a password account remove the saved session (log in again), else set a new access token"
    } else {
        ""
    };
    Err(format!("the homeserver answered {status} {}{hint}", Escaped(code)))
}

async fn whoami(account: &Account) -> Result<(String, String), String> {
    let answer = request(account, "GET", "/_matrix/client/v3/account/whoami", None).await?;
    let user = answer["user_id"].as_str().unwrap_or_default().to_owned();
    let device = answer["device_id"].as_str().unwrap_or_default().to_owned();
    if device.is_empty() {
        return Err("the token belongs to no device".into());
    }
    Ok((user, device))
}

/// Whether `device`'s keys are on the server, and its cross-signing state. Before the first
/// run (`synced` false: a device just logged in by `account add`) their absence is expected.
async fn keys(account: &Account, user: &str, device: &str, synced: bool) -> Vec<Check> {
    let body = json!({"device_keys": {user: []}});
    let answer = match request(account, "POST", "/_matrix/client/v3/keys/query", Some(body)).await {
        Ok(answer) => answer,
        Err(why) => return vec![Check::failure("Matrix encryption keys", why)],
    };
    let device_keys = &answer["device_keys"][user][device];
    let mut checks = vec![if device_keys.is_object() {
        Check::ok("Matrix encryption keys", format!("device {} has its keys on the server", Escaped(device)))
    } else {
        let missing = if synced { Check::failure } else { Check::warning };
        missing(
            "Matrix encryption keys",
            format!(
                "device {} has no keys on the server: encrypted rooms cannot reach it until `clm-bridge run` uploads them",
                Escaped(device)
            ),
        )
    }];
    checks.push(cross_signing(&answer, user, device_keys));
    checks
}

/// Cross-signing: not used (fine), or used and this device signed by it (fine), or used and
/// this device unsigned (a person should verify it).
fn cross_signing(answer: &Value, user: &str, device_keys: &Value) -> Check {
    let Some(self_signing) = answer["self_signing_keys"][user]["keys"].as_object() else {
        return Check::ok(
            "Matrix cross-signing",
            "not set up on this account: devices are trusted one by one (other clients show this one as unverified)",
        );
    };
    let signed = device_keys["signatures"][user]
        .as_object()
        .is_some_and(|signatures| self_signing.keys().any(|key| signatures.contains_key(key)));
    if signed {
        Check::ok("Matrix cross-signing", "this device is signed by the account's self-signing key")
    } else {
        Check::warning(
            "Matrix cross-signing",
            "the account uses cross-signing and this device is not verified: verify it from another session \
             (Element: Settings, Sessions), or senders who encrypt only for verified devices will not reach it",
        )
    }
}

/// What a person should do about this device's verification, if anything (said once after the
/// first sync).
pub(super) async fn verification_advice(client: &Client) -> Option<String> {
    let user = client.user_id()?;
    client.encryption().get_user_identity(user).await.ok()??;
    let device = client.encryption().get_own_device().await.ok()??;
    (!device.is_cross_signed_by_owner()).then(|| {
        format!(
            "this device is not verified by the account {} (it uses cross-signing): verify it from another \
             session, or senders who encrypt only for verified devices will not reach it",
            user
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cross_signing_is_fine_unused_or_signed_and_a_warning_when_the_device_is_not() {
        let user = "@b:h";
        let device = json!({"signatures": {user: {"ed25519:DEV": "sig"}}});
        assert_eq!(cross_signing(&json!({}), user, &device).status, crate::CheckStatus::Ok);
        let used = json!({"self_signing_keys": {user: {"keys": {"ed25519:SSK": "key"}}}});
        assert_eq!(cross_signing(&used, user, &device).status, crate::CheckStatus::Warning);
        let signed = json!({"signatures": {user: {"ed25519:DEV": "s", "ed25519:SSK": "s"}}});
        assert_eq!(cross_signing(&used, user, &signed).status, crate::CheckStatus::Ok);
    }
}

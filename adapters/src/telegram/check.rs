//! Live self-checks for `clm-bridge doctor`: the token is accepted (`getMe`), privacy mode is
//! off (`can_read_all_group_messages`: with it on, the bot sees only commands and replies in
//! groups), and each allowed chat is reachable (`getChat`). The answers are read as plain JSON,
//! so a Bot API that leaves fields out (a self-hosted server, an emulator) is reported, not
//! misread. No detail ever holds the token.

use std::time::Duration;

use serde_json::Value;

use super::TelegramTransport;
use crate::Check;
use crate::log_safe::Escaped;

/// Checks the bot of `transport`, each request given at most `timeout`.
pub async fn check(transport: &TelegramTransport, timeout: Duration) -> Vec<Check> {
    let me = match call(transport, "getMe", &serde_json::json!({}), timeout).await {
        Ok(me) => me,
        Err(why) => return vec![Check::failure("Telegram bot token", why)],
    };
    let name =
        me["username"].as_str().map_or_else(|| "(no username)".to_owned(), |n| format!("@{}", Escaped(n)));
    let mut checks =
        vec![Check::ok("Telegram bot token", format!("accepted: the bot is {name} (id {})", me["id"]))];
    checks.push(match me["can_read_all_group_messages"].as_bool() {
        Some(true) => Check::ok("Telegram privacy mode", "off: the bot reads every message of its groups"),
        Some(false) => Check::warning(
            "Telegram privacy mode",
            "on: in groups the bot sees only commands and replies to it, not the pointers people post; \
             turn it off with @BotFather (/setprivacy, Disable), then remove and re-add the bot to each group \
             (channels, where the bot is an admin, are not affected)",
        ),
        None => Check::warning(
            "Telegram privacy mode",
            "unknown: this Bot API does not say (can_read_all_group_messages is missing)",
        ),
    });
    for chat in &transport.settings.allowed_chats {
        checks.push(match call(transport, "getChat", &serde_json::json!({"chat_id": chat}), timeout).await {
            Ok(found) => {
                let title = found["title"].as_str().or(found["first_name"].as_str()).unwrap_or("");
                let kind = found["type"].as_str().unwrap_or("chat");
                Check::ok(
                    format!("Telegram chat {chat}"),
                    format!("reachable: {} `{}`", Escaped(kind), Escaped(title)),
                )
            }
            Err(why) => Check::failure(
                format!("Telegram chat {chat}"),
                format!("{why} (is the bot a member, or an admin of the channel? is the id right?)"),
            ),
        });
    }
    checks
}

/// One Bot API call: its `result`, or why not (the token blanked out of any text).
async fn call(
    transport: &TelegramTransport,
    method: &str,
    body: &Value,
    timeout: Duration,
) -> Result<Value, String> {
    let bot = &transport.bot;
    let url = format!("{}/bot{}/{method}", bot.api_url().as_str().trim_end_matches('/'), bot.token());
    let sent = bot
        .client()
        .post(url)
        .header("Content-Type", "application/json")
        .body(body.to_string())
        .timeout(timeout)
        .send()
        .await;
    let response = match sent {
        Ok(response) => response,
        Err(error) if error.is_timeout() => return Err(format!("{method}: no answer within {timeout:?}")),
        Err(error) => {
            let why = transport.scrub(&error.without_url().to_string());
            return Err(format!(
                "{method}: cannot reach the Bot API at {}: {why}",
                transport.settings.api_url
            ));
        }
    };
    let status = response.status();
    let bytes = response
        .bytes()
        .await
        .map_err(|e| format!("{method}: {}", transport.scrub(&e.without_url().to_string())))?;
    let answer: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    if answer["ok"].as_bool() == Some(true) {
        return Ok(answer["result"].clone());
    }
    let description = transport.scrub(answer["description"].as_str().unwrap_or("no description"));
    let hint = if status.as_u16() == 401 {
        ": the bot token is not valid (check token_env / token_file)"
    } else {
        ""
    };
    Err(format!("{method}: Telegram answered {status}: {}{hint}", Escaped(&description)))
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use zeroize::Zeroizing;

    use super::*;
    use crate::CheckStatus;
    use crate::telegram::TelegramSettings;
    use crate::telegram::fake_api::FakeApi;

    fn bot(api: &FakeApi, token: &str, chats: &[i64]) -> TelegramTransport {
        let settings =
            TelegramSettings { api_url: api.url(), ..TelegramSettings::new(chats.iter().copied()) };
        TelegramTransport::new("telegram.t".into(), Zeroizing::new(token.into()), settings).unwrap()
    }

    fn statuses(checks: &[Check]) -> Vec<(String, CheckStatus)> {
        checks.iter().map(|c| (c.what.clone(), c.status)).collect()
    }

    #[tokio::test]
    async fn a_refused_token_fails_without_showing_it() {
        let api = FakeApi::start(|_, _| {
            (401, json!({"ok": false, "error_code": 401, "description": "Unauthorized"}))
        });
        let checks = check(&bot(&api, "123:secret-token", &[-100]), Duration::from_secs(20)).await;
        assert_eq!(statuses(&checks), [("Telegram bot token".to_owned(), CheckStatus::Failure)]);
        assert!(
            checks[0].detail.contains("not valid") && !checks[0].detail.contains("secret-token"),
            "{checks:?}"
        );
    }

    #[tokio::test]
    async fn privacy_mode_on_is_a_warning_and_each_chat_is_asked_for() {
        let api = FakeApi::start(|method, body| match method {
            "getMe" => (
                200,
                json!({"ok": true, "result": {"id": 7, "is_bot": true, "first_name": "b", "username": "clm_bot", "can_read_all_group_messages": false}}),
            ),
            "getChat" if body["chat_id"] == -100 => (
                200,
                json!({"ok": true, "result": {"id": -100, "type": "supergroup", "title": "Family\u{202e}"}}),
            ),
            _ => (400, json!({"ok": false, "error_code": 400, "description": "Bad Request: chat not found"})),
        });
        let checks = check(&bot(&api, "123:tok", &[-100, -200]), Duration::from_secs(20)).await;
        assert_eq!(
            statuses(&checks),
            [
                ("Telegram bot token".to_owned(), CheckStatus::Ok),
                ("Telegram privacy mode".to_owned(), CheckStatus::Warning),
                ("Telegram chat -200".to_owned(), CheckStatus::Failure),
                ("Telegram chat -100".to_owned(), CheckStatus::Ok),
            ]
        );
        assert!(checks[1].detail.contains("only commands and replies"), "{}", checks[1].detail);
        assert!(checks[2].detail.contains("chat not found"), "{}", checks[2].detail);
        assert!(checks[3].detail.contains("Family\\u{202e}"), "titles are escaped: {}", checks[3].detail);
    }

    #[tokio::test]
    async fn an_unreachable_api_fails_in_bounded_time() {
        let api = FakeApi::start(|_, _| (200, json!({})));
        let url = api.url();
        drop(api);
        let settings = TelegramSettings { api_url: url, ..TelegramSettings::new([]) };
        let transport =
            TelegramTransport::new("telegram.t".into(), Zeroizing::new("1:tok".into()), settings).unwrap();
        let checks = check(&transport, Duration::from_secs(20)).await;
        assert_eq!(checks[0].status, CheckStatus::Failure);
        assert!(
            checks[0].detail.contains("cannot reach") && !checks[0].detail.contains("1:tok"),
            "{checks:?}"
        );
    }
}

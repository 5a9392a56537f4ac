//! Posting: a pointer as one monospace message, or as numbered parts; every message paced, and
//! a 429's `retry_after` waited out (up to a bound, beyond which the outbox retries later).

use std::time::Duration;

use teloxide::RequestError;
use teloxide::payloads::SendMessageSetters as _;
use teloxide::prelude::Requester as _;
use teloxide::types::{ChatId, MessageEntity, Recipient};

use super::commands::bump;
use super::pacing::ChatKey;
use super::parts::{split, utf16_len};
use super::{MESSAGE_LIMIT, TelegramTransport};
use crate::{Route, Sent, TransportError};

/// A `retry_after` longer than this is not waited out inside a send: the send fails for now
/// and the outbox retries it (the pacer still holds every send until it has passed).
const MAX_RETRY_WAIT: Duration = Duration::from_secs(60);
/// Attempts of one message when Telegram keeps answering 429.
const ATTEMPTS: usize = 4;

/// A route's chat: a numeric id (`-100123`, `42`) or a public `@username`.
pub(super) fn parse_route(route: &Route) -> Result<ChatKey, TransportError> {
    let target = route.0.trim();
    let invalid =
        |reason: &str| TransportError::InvalidRoute { route: route.0.clone(), reason: reason.into() };
    if let Some(name) = target.strip_prefix('@') {
        if name.len() >= 4 && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return Ok(ChatKey::Username(target.to_owned()));
        }
        return Err(invalid("a username is @ and at least 4 letters, digits or underscores"));
    }
    match target.parse::<i64>() {
        Ok(0) => Err(invalid("0 is no chat id")),
        Ok(id) => Ok(ChatKey::Id(id)),
        Err(_) if target.is_empty() => {
            Err(invalid("name the chat: telegram:CHAT_ID (e.g. telegram:-100123)"))
        }
        Err(_) => Err(invalid("a Telegram chat is a numeric chat id (e.g. -100123) or @username")),
    }
}

fn recipient(chat: &ChatKey) -> Recipient {
    match chat {
        ChatKey::Id(id) => Recipient::Id(ChatId(*id)),
        ChatKey::Username(name) => Recipient::ChannelUsername(name.clone()),
    }
}

impl TelegramTransport {
    /// Sends a pointer along `route`: one message, or its parts in order.
    pub(super) async fn send_pointer(&self, route: &Route, pointer: &str) -> Result<Sent, TransportError> {
        let chat = parse_route(route)?;
        let messages = split(pointer, MESSAGE_LIMIT);
        let mut ids = Vec::with_capacity(messages.len());
        for message in &messages {
            match self.post(&chat, message, true).await {
                Ok(id) => ids.push(id),
                Err(error) => {
                    bump(&self.health.send_failures);
                    self.health.failed(format!("send: {error}"));
                    return Err(error);
                }
            }
        }
        bump(&self.health.pointers_sent);
        let first = ids.first().copied().unwrap_or_default();
        let id = match ids.last() {
            Some(last) if ids.len() > 1 => format!("{}/{first}-{last}", route.0),
            _ => format!("{}/{first}", route.0),
        };
        tracing::debug!(transport = %self.name, route = %route.0, messages = ids.len(), "pointer posted");
        Ok(Sent { id })
    }

    /// Posts one message (in a monospace block when `monospace`), paced; returns its id.
    pub(super) async fn post(
        &self,
        chat: &ChatKey,
        text: &str,
        monospace: bool,
    ) -> Result<i32, TransportError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            self.pacer.wait(chat).await;
            let mut request = self.bot.send_message(recipient(chat), text);
            if monospace {
                request = request.entities(vec![MessageEntity::pre(None, 0, utf16_len(text))]);
            }
            match request.await {
                Ok(message) => {
                    bump(&self.health.messages_sent);
                    return Ok(message.id.0);
                }
                Err(RequestError::RetryAfter(seconds)) => {
                    bump(&self.health.rate_limited);
                    let wait = seconds.duration();
                    self.pacer.freeze(wait);
                    tracing::warn!(transport = %self.name, seconds = seconds.seconds(), "Telegram rate limit: waiting");
                    if wait > MAX_RETRY_WAIT || attempt >= ATTEMPTS {
                        return Err(self.map_error(RequestError::RetryAfter(seconds)));
                    }
                }
                Err(error) => return Err(self.map_error(error)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_are_chat_ids_or_usernames() {
        let parse = |t: &str| parse_route(&Route(t.to_owned()));
        assert_eq!(parse("-100123").unwrap(), ChatKey::Id(-100_123));
        assert_eq!(parse("42").unwrap(), ChatKey::Id(42));
        assert_eq!(parse("@clm_news").unwrap(), ChatKey::Username("@clm_news".into()));
        for bad in ["", "0", "abc", "@ab", "@a-b-c-d", "12x"] {
            assert!(matches!(parse(bad), Err(TransportError::InvalidRoute { .. })), "{bad:?}");
        }
    }
}

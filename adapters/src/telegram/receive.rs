//! The receive loop: `getUpdates` long polling, the offset acknowledged only after the bridge
//! committed, parts reassembled (kept as cursors until their set is complete), and the owner's
//! commands answered.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use teloxide::RequestError;
use teloxide::payloads::GetUpdatesSetters as _;
use teloxide::prelude::Requester as _;
use teloxide::requests::Request as _;
use teloxide::types::{AllowedUpdate, Message, Update, UpdateKind};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use super::TelegramTransport;
use super::commands::{self, Command, bump};
use super::pacing::ChatKey;
use super::parts::{self, Added, Limits, Part, Reassembly, SetKey};
use crate::{Cursor, Inbound, TransportError};

/// The cursor holding the next `getUpdates` offset (last update id + 1).
pub const OFFSET_KEY: &str = "offset";
/// Prefix of the cursors holding kept parts: `part:CHAT:ID:INDEX` = `COUNT\nPIECE`.
pub const PART_KEY_PREFIX: &str = "part:";

/// Something for the bridge: text to scan (maybe empty) and a cursor to store with it.
#[derive(Debug)]
struct Item {
    origin: String,
    /// The chat it came from (empty for cursors alone).
    place: String,
    text: String,
    cursor: Option<Cursor>,
}

/// Why the loop ends.
enum Halt {
    Stopped,
    Failed(TransportError),
}

fn part_key(set: &SetKey, index: u32) -> String {
    format!("{PART_KEY_PREFIX}{}:{}:{index}", set.chat, set.id)
}

/// Reads a kept part back from its cursor.
fn part_from_cursor(cursor: &Cursor) -> Option<(i64, Part)> {
    let rest = cursor.key.strip_prefix(PART_KEY_PREFIX)?;
    let mut fields = rest.rsplitn(3, ':');
    let index = fields.next()?.parse().ok()?;
    let id = fields.next()?.to_owned();
    let chat = fields.next()?.parse().ok()?;
    let (count, piece) = cursor.value.split_once('\n')?;
    let count = count.parse().ok()?;
    (!piece.is_empty()).then(|| (chat, Part { id, index, count, piece: piece.to_owned() }))
}

/// A cursor that forgets a kept part (the store keeps cursors; an empty value means none).
fn forget(set: &SetKey, index: u32) -> Item {
    Item {
        origin: String::new(),
        place: String::new(),
        text: String::new(),
        cursor: Some(Cursor { key: part_key(set, index), value: String::new() }),
    }
}

pub(super) async fn run(
    transport: Arc<TelegramTransport>,
    cursors: Vec<Cursor>,
    inbound: mpsc::Sender<Inbound>,
    stop: CancellationToken,
) -> Result<(), TransportError> {
    let mut receiver = Receiver { transport, reassembly: Reassembly::new(Limits::default()), offset: None };
    match receiver.run(cursors, &inbound, &stop).await {
        Ok(()) | Err(Halt::Stopped) => Ok(()),
        Err(Halt::Failed(error)) => Err(error),
    }
}

struct Receiver {
    transport: Arc<TelegramTransport>,
    reassembly: Reassembly,
    offset: Option<i32>,
}

impl Receiver {
    async fn run(
        &mut self,
        cursors: Vec<Cursor>,
        inbound: &mpsc::Sender<Inbound>,
        stop: &CancellationToken,
    ) -> Result<(), Halt> {
        let restored = self.restore(&cursors);
        tracing::info!(
            transport = %self.transport.name,
            chats = self.transport.settings.allowed_chats.len(),
            offset = ?self.offset,
            kept_sets = self.reassembly.pending_sets(),
            "telegram bot polling"
        );
        self.forward(restored, inbound, stop).await?;
        let allowed = vec![
            AllowedUpdate::Message,
            AllowedUpdate::EditedMessage,
            AllowedUpdate::ChannelPost,
            AllowedUpdate::EditedChannelPost,
        ];
        let timeout = self.transport.settings.poll_timeout;
        let bot = self.transport.bot.clone();
        loop {
            let offset = self.offset;
            let request = || {
                let mut request = bot
                    .get_updates()
                    .timeout(u32::try_from(timeout.as_secs()).unwrap_or(u32::MAX))
                    .allowed_updates(allowed.clone());
                if let Some(offset) = offset {
                    request = request.offset(offset);
                }
                request.send()
            };
            let asked = Instant::now();
            let updates = self.call(stop, request).await?;
            self.transport.health.poll_succeeded();
            let Some(last) = updates.last().map(|u| u.id.0) else {
                if asked.elapsed() < timeout / 2 {
                    // The server answered at once with nothing: it does not hold requests.
                    self.sleep(stop, self.transport.settings.idle_poll_interval).await?;
                }
                continue;
            };
            let mut items = Vec::new();
            for update in updates {
                items.extend(self.handle(update).await);
            }
            let next = i32::try_from(u64::from(last) + 1).unwrap_or(i32::MAX);
            let cursor = Cursor { key: OFFSET_KEY.into(), value: next.to_string() };
            match items.last_mut() {
                Some(item) if item.cursor.is_none() => item.cursor = Some(cursor),
                _ => items.push(Item {
                    origin: String::new(),
                    place: String::new(),
                    text: String::new(),
                    cursor: Some(cursor),
                }),
            }
            self.forward(items, inbound, stop).await?;
            // Committed: the next request acknowledges these updates upstream.
            self.offset = Some(next);
        }
    }

    /// Rebuilds the incomplete sets from their cursors; returns what to hand over (sets that
    /// turn out complete, cursors to forget).
    fn restore(&mut self, cursors: &[Cursor]) -> Vec<Item> {
        let mut items = Vec::new();
        for cursor in cursors {
            if cursor.key == OFFSET_KEY {
                self.offset = cursor.value.parse().ok();
                if self.offset.is_none() {
                    tracing::warn!(transport = %self.transport.name, "the stored update offset is not a number; reading from Telegram's oldest kept update");
                }
            } else if cursor.key.starts_with(PART_KEY_PREFIX) && !cursor.value.is_empty() {
                let Some((chat, part)) = part_from_cursor(cursor) else {
                    tracing::warn!(transport = %self.transport.name, key = %cursor.key, "unreadable kept part: ignored");
                    continue;
                };
                let index = part.index;
                let origin = format!("chat {chat} (parts kept across a restart)");
                // This part was kept too: forget it along with the others when its set ends.
                items.extend(self.add_part(chat, part, &origin, Some(index)));
            }
        }
        items
    }

    /// One update: what to hand over.
    async fn handle(&mut self, update: Update) -> Vec<Item> {
        let transport = Arc::clone(&self.transport);
        let health = &transport.health;
        bump(&health.updates);
        let (message, edited) = match update.kind {
            UpdateKind::Message(m) | UpdateKind::ChannelPost(m) => (m, false),
            UpdateKind::EditedMessage(m) | UpdateKind::EditedChannelPost(m) => (m, true),
            UpdateKind::Error(_) => {
                bump(&health.ignored);
                tracing::warn!(transport = %transport.name, update = update.id.0, "an update that could not be read: skipped");
                return Vec::new();
            }
            _ => {
                bump(&health.ignored);
                return Vec::new();
            }
        };
        let chat = message.chat.id.0;
        let Some(text) = message.text().or_else(|| message.caption()) else {
            bump(&health.ignored);
            return Vec::new();
        };
        if let Some(command) = commands::parse(text) {
            if !edited {
                self.answer(command, &message, chat).await;
            }
            return Vec::new();
        }
        if !self.transport.settings.allowed_chats.contains(&chat) {
            bump(&health.ignored);
            tracing::debug!(transport = %self.transport.name, chat, "update from a chat not on the allow-list: ignored");
            return Vec::new();
        }
        let origin = format!("chat {chat} message {}{}", message.id.0, if edited { " (edited)" } else { "" });
        let parsed = parts::parse(text);
        let mut items = Vec::new();
        if !parsed.other.trim().is_empty() {
            bump(&health.forwarded);
            items.push(Item {
                origin: origin.clone(),
                place: chat.to_string(),
                text: parsed.other,
                cursor: None,
            });
        }
        for part in parsed.parts {
            bump(&health.parts_received);
            items.extend(self.add_part(chat, part, &origin, None));
        }
        items
    }

    /// Adds a part; `kept` is its index when it is already kept as a cursor (restored).
    fn add_part(&mut self, chat: i64, part: Part, origin: &str, kept: Option<u32>) -> Vec<Item> {
        let name = &self.transport.name;
        let health = &self.transport.health;
        let set = SetKey { chat, id: part.id.clone() };
        let (index, count, piece) = (part.index, part.count, part.piece.clone());
        let (added, evicted) = self.reassembly.add(chat, part);
        let mut items = Vec::new();
        match added {
            Added::Kept if kept.is_none() => items.push(Item {
                origin: String::new(),
                place: String::new(),
                text: String::new(),
                cursor: Some(Cursor { key: part_key(&set, index), value: format!("{count}\n{piece}") }),
            }),
            Added::Kept => {}
            Added::Ignored(why) => {
                tracing::debug!(transport = %name, chat, set = %set.id, index, why, "part ignored");
            }
            Added::Complete { text, done } => {
                bump(&health.reassembled);
                bump(&health.forwarded);
                tracing::debug!(transport = %name, chat, set = %set.id, count, "pointer reassembled");
                items.push(Item {
                    origin: format!("{origin} ({count} parts)"),
                    place: chat.to_string(),
                    text,
                    cursor: None,
                });
                items.extend(done.iter().chain(kept.as_ref()).map(|i| forget(&set, *i)));
            }
            Added::Corrupt { done } => {
                bump(&health.sets_dropped);
                tracing::warn!(transport = %name, chat, set = %set.id, count, "the parts do not add up to their pointer (altered or mixed up): dropped");
                items.extend(done.iter().chain(kept.as_ref()).map(|i| forget(&set, *i)));
            }
        }
        for (old, indices) in evicted {
            bump(&health.sets_dropped);
            tracing::warn!(transport = %name, chat = old.chat, set = %old.id, kept = indices.len(), "too many incomplete part sets: the oldest dropped");
            items.extend(indices.iter().map(|i| forget(&old, *i)));
        }
        let pending = u64::try_from(self.reassembly.pending_sets()).unwrap_or(u64::MAX);
        health.pending_sets.store(pending, Ordering::Relaxed);
        items
    }

    /// Answers the owner's command; anyone else gets nothing.
    async fn answer(&self, command: Command, message: &Message, chat: i64) {
        let settings = &self.transport.settings;
        let from = message.from.as_ref().map(|user| user.id.0);
        let owner = settings.owner_id.filter(|owner| Some(*owner) == from);
        let allowed_here = owner.is_some_and(|owner| {
            settings.allowed_chats.contains(&chat) || i64::try_from(owner).is_ok_and(|o| o == chat)
        });
        if !allowed_here {
            tracing::debug!(transport = %self.transport.name, chat, "a command not from the owner: no answer");
            return;
        }
        let answer = match command {
            Command::Status => self.transport.health.status(&self.transport.name, Instant::now()),
            Command::Help => commands::help(&self.transport.name),
        };
        if let Err(error) = self.transport.post(&ChatKey::Id(chat), &answer, false).await {
            tracing::warn!(transport = %self.transport.name, error = %error, "could not answer a command");
        }
    }

    /// Hands items to the bridge and waits until it committed them all.
    async fn forward(
        &self,
        items: Vec<Item>,
        inbound: &mpsc::Sender<Inbound>,
        stop: &CancellationToken,
    ) -> Result<(), Halt> {
        let mut commits = Vec::with_capacity(items.len());
        for item in items {
            let (committed, acknowledged) = oneshot::channel();
            let message = Inbound {
                transport: self.transport.name.clone(),
                origin: item.origin,
                place: item.place,
                text: item.text.into_bytes(),
                cursor: item.cursor,
                committed: Some(committed),
            };
            tokio::select! {
                () = stop.cancelled() => return Err(Halt::Stopped),
                sent = inbound.send(message) => sent.map_err(|_| Halt::Failed(TransportError::Closed))?,
            }
            commits.push(acknowledged);
        }
        for acknowledged in commits {
            tokio::select! {
                () = stop.cancelled() => return Err(Halt::Stopped),
                done = acknowledged => { done.map_err(|_| Halt::Failed(TransportError::Closed))?; }
            }
        }
        Ok(())
    }

    /// A Bot API request (made by `make`, again for each attempt), cancelled by `stop`; 429
    /// answers waited out and asked again; other errors end the loop (the supervisor restarts it).
    async fn call<T, Fut>(&self, stop: &CancellationToken, make: impl Fn() -> Fut) -> Result<T, Halt>
    where
        Fut: Future<Output = Result<T, RequestError>>,
    {
        loop {
            let result = tokio::select! {
                () = stop.cancelled() => return Err(Halt::Stopped),
                result = make() => result,
            };
            match result {
                Ok(value) => return Ok(value),
                Err(RequestError::RetryAfter(seconds)) => {
                    bump(&self.transport.health.rate_limited);
                    tracing::warn!(transport = %self.transport.name, seconds = seconds.seconds(), "Telegram rate limit: waiting");
                    self.sleep(stop, seconds.duration()).await?;
                }
                Err(error) => {
                    let error = self.transport.map_error(error);
                    bump(&self.transport.health.poll_failures);
                    self.transport.health.failed(error.to_string());
                    return Err(Halt::Failed(error));
                }
            }
        }
    }

    async fn sleep(&self, stop: &CancellationToken, duration: std::time::Duration) -> Result<(), Halt> {
        tokio::select! {
            () = stop.cancelled() => Err(Halt::Stopped),
            () = tokio::time::sleep(duration) => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use zeroize::Zeroizing;

    use super::*;
    use crate::Committed;
    use crate::telegram::TelegramSettings;
    use crate::telegram::fake_api::FakeApi;

    fn new_receiver() -> Receiver {
        let mut settings = TelegramSettings::new([-100]);
        settings.owner_id = Some(77);
        let transport =
            TelegramTransport::new("telegram.t".into(), Zeroizing::new("1:token".into()), settings).unwrap();
        Receiver {
            transport: Arc::new(transport),
            reassembly: Reassembly::new(Limits::default()),
            offset: None,
        }
    }

    fn update(id: u32, kind: &str, chat: i64, body: &str) -> Update {
        let chat_json = if chat < 0 {
            format!(r#"{{"id":{chat},"type":"channel","title":"c"}}"#)
        } else {
            format!(r#"{{"id":{chat},"type":"private","first_name":"u"}}"#)
        };
        let json = format!(
            r#"{{"update_id":{id},"{kind}":{{"message_id":{id},"date":1700000000,"chat":{chat_json},{body}}}}}"#
        );
        serde_json::from_str(&json).unwrap()
    }

    #[tokio::test]
    async fn every_message_kind_of_an_allowed_chat_is_forwarded_text_or_caption() {
        let mut receiver = new_receiver();
        let texts = |items: Vec<Item>| items.into_iter().map(|i| (i.origin, i.text)).collect::<Vec<_>>();
        let cases = [
            ("message", r#""text":"a""#, "chat -100 message 1", "a"),
            ("edited_message", r#""text":"b","edit_date":1700000001"#, "chat -100 message 2 (edited)", "b"),
            ("channel_post", r#""text":"c""#, "chat -100 message 3", "c"),
            (
                "edited_channel_post",
                r#""text":"d","edit_date":1700000001"#,
                "chat -100 message 4 (edited)",
                "d",
            ),
            (
                "channel_post",
                r#""caption":"e","photo":[{"file_id":"f","file_unique_id":"u","width":1,"height":1}]"#,
                "chat -100 message 5",
                "e",
            ),
        ];
        for (id, (kind, body, origin, text)) in (1..).zip(cases) {
            let items = texts(receiver.handle(update(id, kind, -100, body)).await);
            assert_eq!(items, [(origin.to_owned(), text.to_owned())], "{kind}");
        }
        // Another chat, and a message without text: nothing.
        assert!(receiver.handle(update(6, "message", -200, r#""text":"x""#)).await.is_empty());
        assert!(receiver.handle(update(7, "channel_post", -100, r#""new_chat_title":"t""#)).await.is_empty());
        // A command is never forwarded (and nobody but the owner is answered: no request here).
        let from = r#""from":{"id":5,"is_bot":false,"first_name":"x"},"text":"/status""#;
        assert!(receiver.handle(update(8, "message", -100, from)).await.is_empty());
    }

    /// A bot on a fake Bot API whose `getUpdates` returns updates 10 and 11 to a request
    /// without an offset, and nothing otherwise.
    fn bot_on_fake_api() -> (Arc<TelegramTransport>, FakeApi) {
        let api = FakeApi::start(|method, body| {
            let updates = if method == "getUpdates" && body.get("offset").is_none() {
                json!([
                    {"update_id": 10, "message": {"message_id": 1, "date": 1700000000, "chat": {"id": -100, "type": "group", "title": "g"}, "text": "a"}},
                    {"update_id": 11, "message": {"message_id": 2, "date": 1700000000, "chat": {"id": -100, "type": "group", "title": "g"}, "text": "b"}}
                ])
            } else {
                json!([])
            };
            (200, json!({"ok": true, "result": updates}))
        });
        let mut settings = TelegramSettings::new([-100]);
        settings.api_url = api.url();
        settings.idle_poll_interval = std::time::Duration::from_millis(10);
        let transport =
            TelegramTransport::new("telegram.t".into(), Zeroizing::new("1:token".into()), settings).unwrap();
        (Arc::new(transport), api)
    }

    /// The offsets of the `getUpdates` requests received so far.
    fn offsets(api: &mut FakeApi) -> Vec<Option<i64>> {
        std::iter::from_fn(|| api.requests.try_recv().ok())
            .filter(|(method, _)| method == "getUpdates")
            .map(|(_, body)| body["offset"].as_i64())
            .collect()
    }

    #[tokio::test]
    async fn the_offset_moves_upstream_only_after_the_bridge_committed() {
        let (transport, mut api) = bot_on_fake_api();
        let (inbound, mut received) = mpsc::channel(16);
        let stop = CancellationToken::new();
        let running = tokio::spawn(run(Arc::clone(&transport), Vec::new(), inbound, stop.clone()));
        let (first, second) = (received.recv().await.unwrap(), received.recv().await.unwrap());
        assert_eq!((first.text.as_slice(), second.text.as_slice()), (&b"a"[..], &b"b"[..]));
        let cursor = second.cursor.clone().unwrap();
        assert_eq!((cursor.key.as_str(), cursor.value.as_str()), (OFFSET_KEY, "12"));

        // Not committed yet: nothing acknowledges updates 10 and 11 upstream. (Waiting here
        // cannot make a correct loop fail; a loop that polls on early shows it meanwhile.)
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        assert_eq!(offsets(&mut api), [None], "no getUpdates with offset 12 before the commit");

        // A restart before the commit reads them again: the offset came from no stored cursor.
        stop.cancel();
        running.await.unwrap().unwrap();
        let (inbound, mut again) = mpsc::channel(16);
        let stop = CancellationToken::new();
        let running = tokio::spawn(run(Arc::clone(&transport), Vec::new(), inbound, stop.clone()));
        let replayed = again.recv().await.unwrap();
        assert_eq!(replayed.text, b"a", "uncommitted updates are delivered again");
        let last = again.recv().await.unwrap();
        drop((first, second));
        // Committed: the next request acknowledges them.
        for mut message in [replayed, last] {
            message.committed.take().unwrap().send(Committed::new(0, 0)).unwrap();
        }
        let acknowledged = async {
            while !offsets(&mut api).contains(&Some(12)) {
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
        };
        tokio::time::timeout(std::time::Duration::from_secs(60), acknowledged)
            .await
            .expect("offset 12 asked for");
        stop.cancel();
        running.await.unwrap().unwrap();
    }

    #[tokio::test]
    async fn parts_are_kept_as_cursors_then_forwarded_whole_and_forgotten() {
        let mut receiver = new_receiver();
        let pointer = "p".repeat(9000);
        let messages = parts::split(&pointer, 4096);
        assert_eq!(messages.len(), 3);
        let body = |text: &str| format!(r#""text":{}"#, serde_json::to_string(text).unwrap());
        let first = receiver.handle(update(1, "channel_post", -100, &body(&messages[0]))).await;
        let kept: Vec<Cursor> = first.into_iter().map(|i| i.cursor.unwrap()).collect();
        assert_eq!(kept.len(), 1);
        assert!(kept[0].key.starts_with("part:-100:") && kept[0].key.ends_with(":1"), "{}", kept[0].key);

        // A restart: the kept part comes back from its cursor.
        let mut restarted = new_receiver();
        assert!(restarted.restore(&kept).is_empty());
        assert!(restarted.handle(update(2, "channel_post", -100, &body(&messages[2]))).await.len() == 1);
        let done = restarted.handle(update(3, "channel_post", -100, &body(&messages[1]))).await;
        assert_eq!(done[0].text, pointer);
        let forgotten: Vec<(&str, &str)> = done[1..]
            .iter()
            .map(|i| i.cursor.as_ref().map(|c| (c.key.as_str(), c.value.as_str())).unwrap())
            .collect();
        assert_eq!(forgotten.len(), 2, "both kept parts are forgotten: {forgotten:?}");
        assert!(forgotten.iter().all(|(key, value)| key.starts_with("part:-100:") && value.is_empty()));
    }
}

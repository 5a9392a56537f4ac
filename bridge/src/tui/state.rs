//! The terminal UI's state, with no terminal and no socket: chats, each chat's history,
//! unread counts, the selection, the compose line, deliveries and the transports' health.
//! It changes only through [`State::on_event`] (what the API said), [`State::on_key`] and
//! [`State::on_click`] (what the person did); those return the [`Action`]s the driver
//! carries out (API calls, quitting). Unit-tested without a terminal.

use std::collections::{BTreeMap, HashMap};

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use zeroize::Zeroizing;

use crate::api::Event;
use crate::api::types::{MessageView, Sent, TransportHealth};

/// What the API said: a notification, or the answer to an [`Action`].
#[derive(Debug, Clone)]
pub enum ApiEvent {
    /// `chat.list`: every chat's name.
    Chats(Vec<String>),
    /// `status`: each running transport's health.
    Status(Vec<TransportHealth>),
    /// `history` of one chat (a page, oldest first: the newest, or one before those loaded).
    History {
        /// The chat.
        chat: String,
        /// Its messages.
        messages: Vec<MessageView>,
        /// The page was full: older messages may be there.
        more: bool,
    },
    /// A notification of the subscription.
    Event(Event),
    /// `send` answered.
    Sent(Sent),
    /// `trash` (`trashed`) or `restore` (not) changed message `id`.
    Trashed {
        /// The message.
        id: i64,
        /// In the trash now.
        trashed: bool,
    },
    /// A call failed.
    Failed {
        /// What was tried (`send`, `history`, ...).
        what: String,
        /// The daemon's answer.
        error: String,
    },
    /// The connection to the daemon ended.
    Disconnected(String),
}

/// What the driver does for the state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// `send` `text` in `chat`.
    Send {
        /// The chat.
        chat: String,
        /// The message (only ever passed to the API call).
        text: Zeroizing<String>,
    },
    /// Load a page of `chat`'s history: the newest, or the one before message `before`.
    LoadHistory {
        /// The chat.
        chat: String,
        /// The oldest message loaded, when paging back.
        before: Option<i64>,
    },
    /// Move message `id` to the trash.
    Trash {
        /// The message.
        id: i64,
    },
    /// Take message `id` out of the trash.
    Restore {
        /// The message.
        id: i64,
    },
    /// Leave the UI.
    Quit,
}

/// Where typing goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Focus {
    /// The chat list (keys pick chats and messages).
    List,
    /// The compose line (keys type).
    Compose,
}

/// A message as the UI shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// History id.
    pub id: i64,
    /// Sent from here.
    pub sent: bool,
    /// Sender name.
    pub from: String,
    /// The text (shown escaped).
    pub text: String,
    /// The sender's time.
    pub epoch: u64,
    /// Cut short by CLM 2.0.2's sender.
    pub truncated: bool,
    /// Moved to the trash from here.
    pub trashed: bool,
}

/// One chat.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Chat {
    /// Its name.
    pub name: String,
    /// Messages received while another chat was selected.
    pub unread: usize,
    /// Its history, by id.
    pub messages: BTreeMap<i64, Message>,
    /// Whether its history was asked for.
    pub loaded: bool,
    /// The last page loaded was full: older messages may be there.
    pub older: bool,
    /// A page of older messages is being loaded.
    pub loading_older: bool,
}

/// What became of a sent message's deliveries, in short.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// Waiting in the outbox (or being tried).
    Queued,
    /// Delivered over every route.
    Delivered,
    /// Some route refused it for good.
    Failed,
}

/// The whole UI state.
#[derive(Debug)]
pub struct State {
    /// Chats, in the daemon's order.
    pub chats: Vec<Chat>,
    /// The selected chat's index.
    pub selected: usize,
    /// The message cursor in the selected chat (an index into its messages), if any.
    pub cursor: Option<usize>,
    /// Where typing goes.
    pub focus: Focus,
    /// The compose line.
    pub compose: Zeroizing<String>,
    /// Per sent message, each route's last delivery state.
    pub deliveries: HashMap<i64, BTreeMap<String, String>>,
    /// Each transport's state and detail.
    pub health: BTreeMap<String, (String, String)>,
    /// The last thing worth telling (a failed call, the daemon gone).
    pub notice: Option<String>,
    /// Sends asked for and not answered yet.
    pub sending: usize,
}

impl Default for State {
    fn default() -> Self {
        State::new()
    }
}

impl State {
    /// Nothing loaded yet; the list has the focus.
    pub fn new() -> State {
        State {
            chats: Vec::new(),
            selected: 0,
            cursor: None,
            focus: Focus::List,
            compose: Zeroizing::new(String::new()),
            deliveries: HashMap::new(),
            health: BTreeMap::new(),
            notice: None,
            sending: 0,
        }
    }

    /// The selected chat, if there is one.
    pub fn current(&self) -> Option<&Chat> {
        self.chats.get(self.selected)
    }

    /// What the API said.
    pub fn on_event(&mut self, event: ApiEvent) -> Vec<Action> {
        match event {
            ApiEvent::Chats(names) => return self.on_chats(names),
            ApiEvent::Status(transports) => {
                for transport in transports {
                    self.health.insert(transport.name, (transport.state, transport.detail));
                }
            }
            ApiEvent::History { chat, messages, more } => {
                let at = self.chat_index(&chat);
                // The message under the cursor stays under it as older ones come in above.
                let under_cursor =
                    (at == self.selected).then(|| self.cursor_message().map(|m| m.id)).flatten();
                let chat = &mut self.chats[at];
                // Each chat's history comes once newest first, then only as pages before it.
                chat.older = more;
                chat.loading_older = false;
                for message in messages {
                    chat.messages.entry(message.id).or_insert_with(|| Message {
                        id: message.id,
                        sent: message.direction == "sent",
                        from: message.from,
                        text: message.text,
                        epoch: message.epoch,
                        truncated: message.truncated,
                        trashed: message.trashed.is_some(),
                    });
                }
                if let Some(id) = under_cursor {
                    self.cursor = self.chats[at].messages.keys().position(|key| *key == id);
                }
            }
            ApiEvent::Event(event) => self.on_notification(event),
            ApiEvent::Sent(sent) => self.on_sent(sent),
            ApiEvent::Trashed { id, trashed } => {
                if let Some(message) = self.chats.iter_mut().find_map(|chat| chat.messages.get_mut(&id)) {
                    message.trashed = trashed;
                }
            }
            ApiEvent::Failed { what, error } => {
                if what == "send" {
                    self.sending = self.sending.saturating_sub(1);
                }
                self.notice = Some(format!("{what} failed: {error}"));
            }
            ApiEvent::Disconnected(why) => {
                self.notice = Some(format!("the daemon went away ({why}); q quits"));
            }
        }
        Vec::new()
    }

    fn on_chats(&mut self, names: Vec<String>) -> Vec<Action> {
        for name in names {
            self.chat_index(&name);
        }
        self.load_current()
    }

    /// The index of chat `name`, added at the end if it is new.
    fn chat_index(&mut self, name: &str) -> usize {
        if let Some(at) = self.chats.iter().position(|chat| chat.name == name) {
            return at;
        }
        self.chats.push(Chat { name: name.to_owned(), ..Chat::default() });
        self.chats.len() - 1
    }

    /// Loads the selected chat's history if it was not asked for yet.
    fn load_current(&mut self) -> Vec<Action> {
        match self.chats.get_mut(self.selected) {
            Some(chat) if !chat.loaded => {
                chat.loaded = true;
                vec![Action::LoadHistory { chat: chat.name.clone(), before: None }]
            }
            _ => Vec::new(),
        }
    }

    fn on_notification(&mut self, event: Event) {
        match event {
            Event::Message(message) => {
                let at = self.chat_index(&message.chat);
                let selected = at == self.selected;
                let chat = &mut self.chats[at];
                let sent = message.direction == "sent";
                let new = !chat.messages.contains_key(&message.id);
                chat.messages.entry(message.id).or_insert(Message {
                    id: message.id,
                    sent,
                    from: message.from,
                    text: message.text,
                    epoch: message.epoch,
                    truncated: message.truncated,
                    trashed: false,
                });
                if new && !sent && !selected {
                    chat.unread += 1;
                }
            }
            Event::Delivery(delivery) => {
                if let Some(id) = delivery.message_id {
                    self.deliveries.entry(id).or_default().insert(delivery.route, delivery.state);
                }
            }
            Event::Health(health) => {
                self.health.insert(health.transport, (health.state, health.detail));
            }
            _ => {}
        }
    }

    fn on_sent(&mut self, sent: Sent) {
        self.sending = self.sending.saturating_sub(1);
        let routes = self.deliveries.entry(sent.message_id).or_default();
        for delivery in sent.deliveries {
            // A delivery event may have come first: it is the newer word.
            routes.entry(delivery.route).or_insert(delivery.state);
        }
        self.notice = sent.routes.is_empty().then(|| {
            "sent, but the chat has no route: nothing was delivered (`clm-bridge chat route`)".to_owned()
        });
    }

    /// What became of message `id`'s deliveries, if it was sent from here in this session.
    pub fn delivery(&self, id: i64) -> Option<Delivery> {
        let states = self.deliveries.get(&id).filter(|states| !states.is_empty())?;
        Some(if states.values().any(|state| state == "failed") {
            Delivery::Failed
        } else if states.values().all(|state| state == "delivered") {
            Delivery::Delivered
        } else {
            Delivery::Queued
        })
    }

    /// What the person pressed.
    pub fn on_key(&mut self, key: KeyEvent) -> Vec<Action> {
        if key.kind == KeyEventKind::Release {
            return Vec::new();
        }
        let control = key.modifiers.contains(KeyModifiers::CONTROL);
        match key.code {
            KeyCode::Char('c') if control => return vec![Action::Quit],
            KeyCode::Tab | KeyCode::BackTab => {
                self.focus = match self.focus {
                    Focus::List => Focus::Compose,
                    Focus::Compose => Focus::List,
                };
                return Vec::new();
            }
            KeyCode::Up => return self.select(self.selected.saturating_sub(1)),
            KeyCode::Down => return self.select(self.selected + 1),
            _ => {}
        }
        match self.focus {
            Focus::List => self.on_list_key(key.code),
            Focus::Compose => self.on_compose_key(key.code, control),
        }
    }

    fn on_list_key(&mut self, code: KeyCode) -> Vec<Action> {
        match code {
            KeyCode::Char('q') => vec![Action::Quit],
            KeyCode::Char('k') => self.select(self.selected.saturating_sub(1)),
            KeyCode::Char('j') => self.select(self.selected + 1),
            KeyCode::Char('K') | KeyCode::PageUp => self.move_cursor(-1),
            KeyCode::Char('J') | KeyCode::PageDown => self.move_cursor(1),
            KeyCode::Char('t') => self.trash_or_restore(true),
            KeyCode::Char('r') => self.trash_or_restore(false),
            KeyCode::Enter | KeyCode::Char('i') => {
                self.focus = Focus::Compose;
                Vec::new()
            }
            _ => Vec::new(),
        }
    }

    fn on_compose_key(&mut self, code: KeyCode, control: bool) -> Vec<Action> {
        match code {
            KeyCode::Esc => self.focus = Focus::List,
            KeyCode::Backspace => {
                self.compose.pop();
            }
            KeyCode::Char('u') if control => self.compose.clear(),
            KeyCode::Char(c) if !control => self.compose.push(c),
            KeyCode::Enter => return self.send(),
            _ => {}
        }
        Vec::new()
    }

    fn send(&mut self) -> Vec<Action> {
        let Some(chat) = self.current() else {
            self.notice =
                Some("no chat to send in: add one with `clm-bridge chat new` or `chat join`".into());
            return Vec::new();
        };
        if self.compose.trim().is_empty() {
            return Vec::new();
        }
        let chat = chat.name.clone();
        let text = std::mem::replace(&mut self.compose, Zeroizing::new(String::new()));
        self.sending += 1;
        self.notice = None;
        vec![Action::Send { chat, text }]
    }

    /// Selects chat `index` (kept within the list), clears its unread count and loads its
    /// history the first time.
    pub fn select(&mut self, index: usize) -> Vec<Action> {
        if self.chats.is_empty() {
            return Vec::new();
        }
        let index = index.min(self.chats.len() - 1);
        if index != self.selected {
            self.cursor = None;
        }
        self.selected = index;
        self.chats[index].unread = 0;
        self.load_current()
    }

    /// Moves the message cursor by `step` (starting from the newest message); up from the
    /// oldest message loaded, the page before it is asked for.
    fn move_cursor(&mut self, step: isize) -> Vec<Action> {
        let count = self.current().map_or(0, |chat| chat.messages.len());
        if count == 0 {
            self.cursor = None;
            return Vec::new();
        }
        let at = self.cursor.unwrap_or(count).min(count);
        self.cursor = Some(at.saturating_add_signed(step).min(count - 1));
        match self.chats.get_mut(self.selected) {
            Some(chat) if step < 0 && at == 0 && chat.older && !chat.loading_older => {
                chat.loading_older = true;
                vec![Action::LoadHistory {
                    chat: chat.name.clone(),
                    before: chat.messages.keys().next().copied(),
                }]
            }
            _ => Vec::new(),
        }
    }

    /// The message under the cursor.
    pub fn cursor_message(&self) -> Option<&Message> {
        self.current()?.messages.values().nth(self.cursor?)
    }

    fn trash_or_restore(&mut self, trash: bool) -> Vec<Action> {
        match self.cursor_message() {
            Some(message) if trash && !message.trashed => vec![Action::Trash { id: message.id }],
            Some(message) if !trash && message.trashed => vec![Action::Restore { id: message.id }],
            Some(_) => Vec::new(),
            None => {
                self.notice = Some("pick a message first: J and K (or PageDown and PageUp)".into());
                Vec::new()
            }
        }
    }

    /// A click on chat `index` of the list (`None`: on the compose line).
    pub fn on_click(&mut self, chat: Option<usize>) -> Vec<Action> {
        match chat {
            Some(index) if index < self.chats.len() => {
                self.focus = Focus::List;
                self.select(index)
            }
            Some(_) => Vec::new(),
            None => {
                self.focus = Focus::Compose;
                Vec::new()
            }
        }
    }
}

#[cfg(test)]
#[path = "state_tests.rs"]
mod tests;

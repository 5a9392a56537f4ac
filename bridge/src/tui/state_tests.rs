//! The state's tests: events and keys in, state and actions out.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::*;
use crate::api::types::{DeliveryEvent, DeliveryOutcome, HealthEvent, MessageEvent};

fn key(code: KeyCode) -> KeyEvent {
    KeyEvent::new(code, KeyModifiers::NONE)
}

fn typed(state: &mut State, text: &str) -> Vec<Action> {
    text.chars().flat_map(|c| state.on_key(key(KeyCode::Char(c)))).collect()
}

fn message(id: i64, chat: &str, direction: &str, text: &str) -> ApiEvent {
    ApiEvent::Event(Event::Message(MessageEvent {
        event_id: id,
        id,
        chat: chat.into(),
        direction: direction.into(),
        from: if direction == "sent" { "me".into() } else { "bob".into() },
        text: text.into(),
        epoch: 1_763_700_000,
        format: "clm202".into(),
        truncated: false,
        transport: None,
        origin: None,
        stored_at: 1_763_700_000,
    }))
}

fn view(id: i64, chat: &str, text: &str) -> MessageView {
    MessageView {
        id,
        chat: chat.into(),
        direction: "received".into(),
        from: "bob".into(),
        text: text.into(),
        epoch: 1_763_700_000,
        format: "clm202".into(),
        truncated: false,
        stored_at: 1_763_700_000,
        trashed: None,
        arrivals: Vec::new(),
    }
}

/// Two chats, the first selected and its history asked for.
fn two_chats() -> State {
    let mut state = State::new();
    let actions = state.on_event(ApiEvent::Chats(vec!["Family".into(), "Work".into()]));
    assert_eq!(actions, [Action::LoadHistory { chat: "Family".into(), before: None }]);
    state
}

#[test]
fn chats_load_the_selected_history_once_and_messages_merge_by_id() {
    let mut state = two_chats();
    state.on_event(message(2, "Family", "received", "second"));
    state.on_event(ApiEvent::History {
        chat: "Family".into(),
        messages: vec![view(1, "Family", "first"), view(2, "Family", "second")],
        more: false,
    });
    let texts: Vec<&str> = state.chats[0].messages.values().map(|m| m.text.as_str()).collect();
    assert_eq!(texts, ["first", "second"]);
    assert_eq!(state.chats[0].unread, 0, "the selected chat has nothing unread");
    // Picking Work loads it; picking Family again does not.
    assert_eq!(
        state.on_key(key(KeyCode::Char('j'))),
        [Action::LoadHistory { chat: "Work".into(), before: None }]
    );
    assert_eq!(state.on_key(key(KeyCode::Up)), []);
    assert_eq!(state.selected, 0);
    assert_eq!(state.on_key(key(KeyCode::Up)), [], "the top stays the top");
}

#[test]
fn messages_to_another_chat_count_as_unread_until_it_is_picked() {
    let mut state = two_chats();
    state.on_event(message(1, "Work", "received", "one"));
    state.on_event(message(2, "Work", "received", "two"));
    state.on_event(message(2, "Work", "received", "two"));
    state.on_event(message(3, "Work", "sent", "mine"));
    assert_eq!(state.chats[1].unread, 2, "received and new only");
    state.on_event(message(4, "New chat", "received", "hello"));
    assert_eq!(state.chats[2].name, "New chat");
    assert_eq!(state.chats[2].unread, 1);
    state.on_key(key(KeyCode::Down));
    assert_eq!(state.chats[1].unread, 0);
}

#[test]
fn enter_in_the_compose_line_sends_and_clears_it() {
    let mut state = two_chats();
    assert_eq!(typed(&mut state, "q"), [Action::Quit], "q in the list quits");
    state.on_key(key(KeyCode::Tab));
    assert_eq!(state.focus, Focus::Compose);
    assert_eq!(typed(&mut state, "hi jtqk"), [], "letters type in the compose line");
    state.on_key(key(KeyCode::Backspace));
    assert_eq!(state.compose.as_str(), "hi jtq");
    let actions = state.on_key(key(KeyCode::Enter));
    assert_eq!(actions, [Action::Send { chat: "Family".into(), text: Zeroizing::new("hi jtq".into()) }]);
    assert_eq!(state.compose.as_str(), "");
    assert_eq!(state.on_key(key(KeyCode::Enter)), [], "nothing to send");
    assert_eq!(state.on_key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL)), [Action::Quit]);
    state.on_key(key(KeyCode::Tab));
    assert_eq!(state.focus, Focus::List);
}

#[test]
fn deliveries_follow_the_send_answer_then_the_delivery_events() {
    let mut state = two_chats();
    state.on_event(ApiEvent::Sent(Sent {
        message_id: 7,
        duplicate: false,
        chat: "Family".into(),
        pointer: "{}".into(),
        routes: vec!["drop.a".into(), "drop.b".into()],
        deliveries: ["delivered", "deferred"]
            .iter()
            .zip(["drop.a", "drop.b"])
            .map(|(state, route)| DeliveryOutcome {
                outbox_id: 1,
                route: route.into(),
                state: (*state).into(),
                sent_id: None,
                error: None,
                retry_in: None,
            })
            .collect(),
    }));
    assert_eq!(state.delivery(7), Some(Delivery::Queued));
    assert_eq!(state.delivery(8), None);
    let delivery = |route: &str, state: &str| {
        ApiEvent::Event(Event::Delivery(DeliveryEvent {
            event_id: 9,
            at: 0,
            outbox_id: 2,
            message_id: Some(7),
            route: route.into(),
            state: state.into(),
            error: None,
        }))
    };
    state.on_event(delivery("drop.b", "delivered"));
    assert_eq!(state.delivery(7), Some(Delivery::Delivered));
    state.on_event(delivery("drop.b", "failed"));
    assert_eq!(state.delivery(7), Some(Delivery::Failed));
}

#[test]
fn health_comes_from_status_then_from_events() {
    let mut state = State::new();
    state.on_event(ApiEvent::Status(vec![TransportHealth {
        name: "drop.a".into(),
        state: "starting".into(),
        detail: String::new(),
        since: 0,
    }]));
    state.on_event(ApiEvent::Event(Event::Health(HealthEvent {
        event_id: 1,
        at: 0,
        transport: "drop.a".into(),
        state: "down".into(),
        detail: "gone".into(),
    })));
    assert_eq!(state.health["drop.a"], ("down".to_owned(), "gone".to_owned()));
}

#[test]
fn the_cursor_picks_a_message_to_trash_and_restore() {
    let mut state = two_chats();
    state.on_event(ApiEvent::History {
        chat: "Family".into(),
        messages: vec![view(1, "Family", "first"), view(2, "Family", "second")],
        more: false,
    });
    assert_eq!(typed(&mut state, "t"), [], "no message picked yet");
    assert!(state.notice.is_some());
    typed(&mut state, "K");
    assert_eq!(state.cursor_message().map(|m| m.id), Some(2), "the newest first");
    typed(&mut state, "KK");
    assert_eq!(state.cursor_message().map(|m| m.id), Some(1), "the oldest stays the oldest");
    assert_eq!(typed(&mut state, "r"), [], "not in the trash");
    assert_eq!(typed(&mut state, "t"), [Action::Trash { id: 1 }]);
    state.on_event(ApiEvent::Trashed { id: 1, trashed: true });
    assert_eq!(typed(&mut state, "t"), []);
    assert_eq!(typed(&mut state, "r"), [Action::Restore { id: 1 }]);
}

#[test]
fn clicks_pick_chats_or_the_compose_line() {
    let mut state = two_chats();
    state.on_click(None);
    assert_eq!(state.focus, Focus::Compose);
    assert_eq!(state.on_click(Some(1)), [Action::LoadHistory { chat: "Work".into(), before: None }]);
    assert_eq!((state.selected, state.focus), (1, Focus::List));
    assert_eq!(state.on_click(Some(5)), []);
    assert_eq!(state.selected, 1);
}

#[test]
fn a_failed_send_and_a_lost_daemon_are_told() {
    let mut state = two_chats();
    state.on_key(key(KeyCode::Tab));
    typed(&mut state, "x");
    state.on_key(key(KeyCode::Enter));
    assert_eq!(state.sending, 1);
    state.on_event(ApiEvent::Failed { what: "send".into(), error: "no route".into() });
    assert_eq!(state.sending, 0);
    assert_eq!(state.notice.as_deref(), Some("send failed: no route"));
    state.on_event(ApiEvent::Disconnected("closed".into()));
    assert!(state.notice.as_deref().unwrap_or_default().contains("went away"));
}

#[test]
fn paging_up_past_the_oldest_message_loads_the_page_before_it_once() {
    let mut state = two_chats();
    let page = |ids: std::ops::RangeInclusive<i64>, more: bool| ApiEvent::History {
        chat: "Family".into(),
        messages: ids.map(|id| view(id, "Family", &format!("m{id}"))).collect(),
        more,
    };
    state.on_event(page(11..=13, true));
    assert_eq!(typed(&mut state, "KK"), [], "within the page");
    assert_eq!(state.cursor_message().map(|m| m.id), Some(12));
    typed(&mut state, "K");
    let asked = typed(&mut state, "K");
    assert_eq!(asked, [Action::LoadHistory { chat: "Family".into(), before: Some(11) }]);
    assert_eq!(typed(&mut state, "K"), [], "asked once until it answers");
    state.on_event(page(9..=10, false));
    assert_eq!(state.cursor_message().map(|m| m.id), Some(11), "the cursor stays on its message");
    typed(&mut state, "KK");
    assert_eq!(state.cursor_message().map(|m| m.id), Some(9));
    assert_eq!(typed(&mut state, "K"), [], "no older page: nothing asked");
}

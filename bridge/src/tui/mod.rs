//! `clm-bridge tui`: a terminal UI that is a client of the daemon's API, shaped as the rest
//! of the project (quinn-proto style): [`state::State`] is pure (events and keys in, actions
//! out), [`view`] draws it, and this module is the thin driver around them.
//!
//! Three threads feed one channel: the terminal's keys, mouse and resizes (crossterm); the
//! API's notifications, read from a connection subscribed before anything is loaded (so no
//! message falls between a history page and the stream); and the answers of the calls the
//! state asks for, made on a second connection (a `send` waiting for its deliveries never
//! holds up notifications). The main thread owns the state and the screen. Nothing but the
//! screen is written to the terminal, and the terminal is given back as it was on quitting,
//! on an error and on a panic.

pub mod state;
pub mod view;

use std::io::Write;
use std::sync::mpsc::{Receiver, Sender, channel};

use crossterm::event::{self as terminal_event, Event as TerminalEvent, MouseButton, MouseEventKind};
use crossterm::terminal::{self, EnterAlternateScreen, LeaveAlternateScreen};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;
use ratatui::layout::{Position, Rect};

use self::state::{Action, ApiEvent, State};
use crate::api::types::{Changed, ChatList, HistoryParams, HistoryView, IdsParams, NoParams, Status};
use crate::api::{Client, ClientError};

/// The newest messages of a chat loaded when it is first picked.
const HISTORY_PAGE: usize = 500;

/// What the main loop waits for.
#[derive(Debug)]
enum Input {
    Terminal(TerminalEvent),
    Api(ApiEvent),
}

/// Runs the UI on the terminal until the person quits: `events` is subscribed to the
/// notifications, `calls` makes the calls.
pub fn run(mut events: Client, calls: Client) -> std::io::Result<()> {
    events.subscribe(None).map_err(std::io::Error::other)?;
    let (inputs, input) = channel();
    let (actions, pending) = channel();
    spawn("clm-tui-events", {
        let inputs = inputs.clone();
        move || read_events(events, &inputs)
    })?;
    spawn("clm-tui-calls", {
        let inputs = inputs.clone();
        move || make_calls(calls, &pending, &inputs)
    })?;
    // Raw mode before the terminal's reader starts, so no key is read line-buffered.
    let _guard = Guard::enter()?;
    spawn("clm-tui-terminal", move || read_terminal(&inputs))?;
    let mut terminal = Terminal::new(CrosstermBackend::new(std::io::stdout()))?;
    main_loop(&mut terminal, &input, &actions)
}

fn spawn(name: &str, job: impl FnOnce() + Send + 'static) -> std::io::Result<()> {
    std::thread::Builder::new().name(name.into()).spawn(job).map(drop)
}

fn main_loop(
    terminal: &mut Terminal<CrosstermBackend<std::io::Stdout>>,
    input: &Receiver<Input>,
    actions: &Sender<Action>,
) -> std::io::Result<()> {
    let mut state = State::new();
    loop {
        terminal.draw(|frame| view::draw(frame, &state))?;
        // Everything that came meanwhile, then one drawing.
        let Ok(first) = input.recv() else { return Ok(()) };
        for next in std::iter::once(first).chain(input.try_iter()) {
            let area = Rect::from((Position::ORIGIN, terminal.size()?));
            for action in handle(&mut state, next, area) {
                if action == Action::Quit {
                    return Ok(());
                }
                // The caller thread ends only with the process.
                let _ = actions.send(action);
            }
        }
    }
}

/// One input to the state; what it asks for.
fn handle(state: &mut State, input: Input, area: Rect) -> Vec<Action> {
    match input {
        Input::Api(event) => state.on_event(event),
        Input::Terminal(TerminalEvent::Key(key)) => state.on_key(key),
        Input::Terminal(TerminalEvent::Mouse(mouse))
            if mouse.kind == MouseEventKind::Down(MouseButton::Left) =>
        {
            view::hit(state, area, mouse.column, mouse.row).map(|on| state.on_click(on)).unwrap_or_default()
        }
        Input::Terminal(TerminalEvent::Paste(text)) => {
            if state.focus == state::Focus::Compose {
                // Pasted line breaks would send: they become spaces.
                state.compose.extend(text.chars().map(|c| if c.is_control() { ' ' } else { c }));
            }
            Vec::new()
        }
        // A resize is drawn anew at the new size (ratatui resizes on drawing).
        Input::Terminal(_) => Vec::new(),
    }
}

/// The notifications, until the connection ends.
fn read_events(mut events: Client, inputs: &Sender<Input>) {
    loop {
        let event = match events.next_event() {
            Ok(event) => ApiEvent::Event(event),
            Err(error) => {
                let _ = inputs.send(Input::Api(ApiEvent::Disconnected(error.to_string())));
                return;
            }
        };
        if inputs.send(Input::Api(event)).is_err() {
            return;
        }
    }
}

/// The chats and the health first, then each call the state asks for, answered in order.
fn make_calls(mut client: Client, pending: &Receiver<Action>, inputs: &Sender<Input>) {
    let chats = client
        .call::<_, ChatList>("chat.list", &NoParams {})
        .map(|list| ApiEvent::Chats(list.chats.into_iter().map(|chat| chat.name).collect()));
    let status =
        client.call::<_, Status>("status", &NoParams {}).map(|status| ApiEvent::Status(status.transports));
    for answer in [answered("chat.list", chats), answered("status", status)] {
        let _ = inputs.send(Input::Api(answer));
    }
    for action in pending {
        let answer = call(&mut client, action);
        if inputs.send(Input::Api(answer)).is_err() {
            return;
        }
    }
}

fn answered(what: &str, result: Result<ApiEvent, ClientError>) -> ApiEvent {
    result.unwrap_or_else(|error| ApiEvent::Failed { what: what.into(), error: error.to_string() })
}

/// Makes the call `action` asks for.
fn call(client: &mut Client, action: Action) -> ApiEvent {
    match action {
        Action::Send { chat, text } => answered("send", client.send(&chat, &text).map(ApiEvent::Sent)),
        Action::LoadHistory { chat, before } => {
            let params = HistoryParams {
                chat: Some(chat.clone()),
                before: Some(before.unwrap_or(i64::MAX)),
                limit: Some(HISTORY_PAGE),
                ..HistoryParams::default()
            };
            let page = client.call::<_, HistoryView>("history", &params);
            answered(
                "history",
                page.map(|page| {
                    let more = page.messages.len() == HISTORY_PAGE;
                    ApiEvent::History { chat, messages: page.messages, more }
                }),
            )
        }
        Action::Trash { id } | Action::Restore { id } => {
            let trashed = matches!(action, Action::Trash { .. });
            let method = if trashed { "trash" } else { "restore" };
            let changed = client.call::<_, Changed>(method, &IdsParams { ids: vec![id] });
            answered(method, changed.map(|_| ApiEvent::Trashed { id, trashed }))
        }
        Action::Quit => ApiEvent::Failed { what: "quit".into(), error: "not a call".into() },
    }
}

/// The terminal's events, until it fails.
fn read_terminal(inputs: &Sender<Input>) {
    while let Ok(event) = terminal_event::read() {
        if inputs.send(Input::Terminal(event)).is_err() {
            return;
        }
    }
}

/// The terminal in raw mode on the alternate screen with mouse reports, given back as it was
/// when dropped, and by the panic hook.
#[derive(Debug)]
struct Guard;

impl Guard {
    fn enter() -> std::io::Result<Guard> {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            restore();
            previous(info);
        }));
        terminal::enable_raw_mode()?;
        let guard = Guard;
        crossterm::execute!(
            std::io::stdout(),
            EnterAlternateScreen,
            terminal_event::EnableMouseCapture,
            terminal_event::EnableBracketedPaste
        )?;
        Ok(guard)
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        restore();
    }
}

/// The terminal as it was: cooked mode, the main screen, no mouse reports, the cursor shown.
fn restore() {
    let _ = terminal::disable_raw_mode();
    let mut stdout = std::io::stdout();
    let _ = crossterm::execute!(
        stdout,
        terminal_event::DisableBracketedPaste,
        terminal_event::DisableMouseCapture,
        LeaveAlternateScreen,
        crossterm::cursor::Show
    );
    let _ = stdout.flush();
}

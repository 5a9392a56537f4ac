//! The terminal UI drawn from its [`State`] with ratatui: the chat list on the left (unread
//! counts), the selected chat's history on the right (each sent message's delivery), the
//! compose line below, and a status line with the transports' health. Other people's text
//! (chat names, senders, messages, details) goes through [`printable`] first, so it cannot
//! move the cursor, recolour the screen or reorder what is shown.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Position, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};

use super::state::{Delivery, Focus, Message, State};
use crate::display::printable;

/// Where each part of the screen is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Areas {
    /// The chat list, with its border.
    pub list: Rect,
    /// The selected chat's history, with its border.
    pub history: Rect,
    /// The compose line, with its border.
    pub compose: Rect,
    /// The status line.
    pub status: Rect,
}

/// The screen's parts for a terminal of size `area`.
pub fn areas(area: Rect) -> Areas {
    let [body, compose, status] =
        Layout::vertical([Constraint::Min(3), Constraint::Length(3), Constraint::Length(1)]).areas(area);
    let list_width = (area.width / 3).clamp(12, 30);
    let [list, history] =
        Layout::horizontal([Constraint::Length(list_width), Constraint::Min(1)]).areas(body);
    Areas { list, history, compose, status }
}

/// What a click at (`column`, `row`) is on, for [`State::on_click`]: `Some(Some(index))` a
/// chat of the list, `Some(None)` the compose line, `None` anything else.
pub fn hit(state: &State, area: Rect, column: u16, row: u16) -> Option<Option<usize>> {
    let areas = areas(area);
    let position = Position { x: column, y: row };
    if areas.compose.contains(position) {
        return Some(None);
    }
    let inner = Block::bordered().inner(areas.list);
    if !inner.contains(position) {
        return None;
    }
    Some(Some(list_offset(state, inner.height) + usize::from(row - inner.y)))
}

/// The first chat shown in a list `height` rows high: the selected one stays in sight.
fn list_offset(state: &State, height: u16) -> usize {
    state.selected.saturating_sub(usize::from(height.max(1)) - 1)
}

fn block(title: String, focused: bool) -> Block<'static> {
    let style = if focused {
        Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD)
    } else {
        Style::new().fg(Color::DarkGray)
    };
    Block::bordered().border_style(style).title(title)
}

/// Draws the whole screen.
pub fn draw(frame: &mut Frame<'_>, state: &State) {
    let areas = areas(frame.area());
    draw_list(frame, state, areas.list);
    draw_history(frame, state, areas.history);
    draw_compose(frame, state, areas.compose);
    frame.render_widget(Paragraph::new(status_line(state)), areas.status);
}

fn draw_list(frame: &mut Frame<'_>, state: &State, area: Rect) {
    let focused = state.focus == Focus::List;
    let block = block(" Chats ".into(), focused);
    let inner = block.inner(area);
    let offset = list_offset(state, inner.height);
    let lines: Vec<Line<'_>> = state
        .chats
        .iter()
        .enumerate()
        .skip(offset)
        .map(|(index, chat)| {
            let mut spans = vec![Span::raw(printable(&chat.name).into_owned())];
            if chat.unread > 0 {
                spans.push(Span::styled(format!(" ({})", chat.unread), Style::new().fg(Color::Yellow)));
            }
            let line = Line::from(spans);
            if index == state.selected {
                line.style(Style::new().add_modifier(Modifier::REVERSED))
            } else {
                line
            }
        })
        .collect();
    let lines = if lines.is_empty() { vec![Line::raw("(no chats yet)")] } else { lines };
    frame.render_widget(Paragraph::new(lines).block(block), area);
}

fn draw_history(frame: &mut Frame<'_>, state: &State, area: Rect) {
    let Some(chat) = state.current() else {
        let block = block(" History ".into(), false);
        frame.render_widget(Paragraph::new("No chat selected.").block(block), area);
        return;
    };
    let block = block(format!(" {} ", printable(&chat.name)), false);
    let inner = block.inner(area);
    let (height, width) = (usize::from(inner.height), usize::from(inner.width).max(1));
    let messages: Vec<&Message> = chat.messages.values().collect();
    let rows = |index: usize| {
        let line = message_line(state, messages[index]);
        let line = if state.cursor == Some(index) {
            line.style(Style::new().add_modifier(Modifier::REVERSED))
        } else {
            line
        };
        wrapped(line, width)
    };
    let lines = visible_rows(messages.len(), height, state.cursor, rows);
    frame.render_widget(Paragraph::new(lines).block(block), area);
}

/// The rows of `count` messages (`rows(index)` each, wrapped) that fill `height`: the newest at
/// the bottom, unless the cursor's message would be above them: then it is at the top.
fn visible_rows<'a>(
    count: usize,
    height: usize,
    cursor: Option<usize>,
    rows: impl Fn(usize) -> Vec<Line<'a>>,
) -> Vec<Line<'a>> {
    let mut tail: Vec<Vec<Line<'a>>> = Vec::new();
    let mut filled = 0;
    let mut first = count;
    while first > 0 && filled < height {
        first -= 1;
        let message = rows(first);
        filled += message.len();
        tail.push(message);
    }
    // The oldest message in the tail may be cut at its top; the cursor's must be whole.
    let whole_from = if filled > height { first + 1 } else { first };
    match cursor {
        Some(at) if at < whole_from => (at..count).flat_map(&rows).take(height).collect(),
        _ => {
            let all: Vec<Line<'a>> = tail.into_iter().rev().flatten().collect();
            all[all.len().saturating_sub(height)..].to_vec()
        }
    }
}

/// `line` cut into rows of `width` characters (styles kept): a long message is read whole.
fn wrapped(line: Line<'_>, width: usize) -> Vec<Line<'_>> {
    let base = line.style;
    let mut rows = vec![Line::default().style(base)];
    let mut used = 0;
    for span in line.spans {
        let mut rest: &str = &span.content;
        while !rest.is_empty() {
            if used == width {
                rows.push(Line::default().style(base));
                used = 0;
            }
            let take = rest.char_indices().nth(width - used).map_or(rest.len(), |(at, _)| at);
            let (piece, after) = rest.split_at(take);
            used += piece.chars().count();
            if let Some(row) = rows.last_mut() {
                row.spans.push(Span::styled(piece.to_owned(), span.style));
            }
            rest = after;
        }
    }
    rows
}

/// `HH:MM from: text`, then a sent message's delivery.
fn message_line<'a>(state: &State, message: &'a Message) -> Line<'a> {
    let time = message.epoch % 86_400;
    let mut spans = vec![
        Span::styled(format!("{:02}:{:02} ", time / 3600, time / 60 % 60), Style::new().fg(Color::DarkGray)),
        Span::styled(
            format!("{}: ", printable(&message.from)),
            Style::new().fg(if message.sent { Color::Green } else { Color::Magenta }),
        ),
        Span::raw(printable(&message.text).into_owned()),
    ];
    if message.truncated {
        spans.push(Span::raw(" [truncated by the sender's CLM]"));
    }
    if message.trashed {
        spans.push(Span::styled(" [in the trash]", Style::new().fg(Color::DarkGray)));
    }
    match state.delivery(message.id) {
        Some(Delivery::Queued) => spans.push(Span::styled(" [queued]", Style::new().fg(Color::Yellow))),
        Some(Delivery::Delivered) => spans.push(Span::styled(" [delivered]", Style::new().fg(Color::Green))),
        Some(Delivery::Failed) => spans.push(Span::styled(" [failed]", Style::new().fg(Color::Red))),
        None => {}
    }
    Line::from(spans)
}

fn draw_compose(frame: &mut Frame<'_>, state: &State, area: Rect) {
    let focused = state.focus == Focus::Compose;
    let title = if focused {
        " Message: Enter sends, Tab or Esc to the list "
    } else {
        " Message (Tab to type) · j/k chats · J/K messages · t trash · r restore · q quit "
    };
    let block = block(title.into(), focused);
    let inner = block.inner(area);
    // The end of what is typed stays in sight.
    let chars: Vec<char> = state.compose.chars().collect();
    let width = usize::from(inner.width.saturating_sub(1));
    let shown: String = chars[chars.len().saturating_sub(width)..].iter().collect();
    let shown = printable(&shown).into_owned();
    if focused {
        let column =
            u16::try_from(shown.chars().count()).unwrap_or(u16::MAX).min(inner.width.saturating_sub(1));
        frame.set_cursor_position(Position { x: inner.x + column, y: inner.y });
    }
    frame.render_widget(Paragraph::new(shown).block(block), area);
}

/// The transports' health, then what is going on.
fn status_line(state: &State) -> Line<'static> {
    let mut spans = Vec::new();
    for (name, (health, detail)) in &state.health {
        let colour = match health.as_str() {
            "up" => Color::Green,
            "down" => Color::Red,
            _ => Color::Yellow,
        };
        spans.push(Span::raw(format!("{}: ", printable(name))));
        spans.push(Span::styled(health.clone(), Style::new().fg(colour)));
        if health != "up" && !detail.is_empty() {
            spans.push(Span::raw(format!(" ({})", printable(detail))));
        }
        spans.push(Span::raw("  "));
    }
    if state.health.is_empty() {
        spans.push(Span::raw("no transport running  "));
    }
    if state.sending > 0 {
        spans.push(Span::styled("sending…  ", Style::new().fg(Color::Yellow)));
    }
    if let Some(notice) = &state.notice {
        spans.push(Span::styled(printable(notice).into_owned(), Style::new().fg(Color::Red)));
    }
    Line::from(spans)
}

#[cfg(test)]
mod tests {
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;

    use super::*;
    use crate::api::Event;
    use crate::api::types::MessageEvent;
    use crate::tui::state::ApiEvent;

    fn screen(state: &State) -> String {
        let mut terminal = Terminal::new(TestBackend::new(100, 20)).expect("a test terminal");
        terminal.draw(|frame| draw(frame, state)).expect("drawn");
        let buffer = terminal.backend().buffer();
        let mut text = String::new();
        for y in 0..buffer.area.height {
            for x in 0..buffer.area.width {
                text.push_str(buffer[(x, y)].symbol());
            }
            text.push('\n');
        }
        text
    }

    fn arriving(id: i64, chat: &str, text: &str) -> ApiEvent {
        ApiEvent::Event(Event::Message(MessageEvent {
            event_id: id,
            id,
            chat: chat.into(),
            direction: "received".into(),
            from: "bob".into(),
            text: text.into(),
            epoch: 1_763_700_000,
            format: "clm202".into(),
            truncated: false,
            transport: Some("drop.a".into()),
            origin: None,
            stored_at: 1_763_700_000,
        }))
    }

    #[test]
    fn chats_an_arriving_message_the_compose_line_and_health_are_on_screen() {
        let mut state = State::new();
        state.on_event(ApiEvent::Chats(vec!["Family".into(), "Work".into()]));
        state.on_event(arriving(1, "Family", "dinner at 7?"));
        state.on_event(arriving(2, "Work", "late\u{1b}[2Jtoday\u{202e}"));
        state.focus = Focus::Compose;
        state.compose.push_str("see you");
        state.on_event(ApiEvent::Event(Event::Health(crate::api::types::HealthEvent {
            event_id: 3,
            at: 0,
            transport: "drop.a".into(),
            state: "up".into(),
            detail: String::new(),
        })));
        let shown = screen(&state);
        assert!(shown.contains("Family"), "{shown}");
        assert!(shown.contains("Work (1)"), "the unread count: {shown}");
        assert!(shown.contains("bob: dinner at 7?"), "{shown}");
        assert!(shown.contains("see you"), "{shown}");
        assert!(shown.contains("drop.a: up"), "{shown}");
        state.on_key(crossterm::event::KeyEvent::from(crossterm::event::KeyCode::Down));
        let shown = screen(&state);
        assert!(shown.contains("late\\u{1b}[2Jtoday\\u{202e}"), "escaped: {shown}");
        assert!(!shown.contains('\u{1b}') && !shown.contains('\u{202e}'));
    }

    #[test]
    fn clicks_land_on_the_chat_drawn_there() {
        let mut state = State::new();
        state.on_event(ApiEvent::Chats(vec!["Family".into(), "Work".into()]));
        let area = Rect::new(0, 0, 100, 20);
        assert_eq!(hit(&state, area, 3, 1), Some(Some(0)));
        assert_eq!(hit(&state, area, 3, 2), Some(Some(1)));
        assert_eq!(hit(&state, area, 3, 17), Some(None), "the compose line");
        assert_eq!(hit(&state, area, 60, 5), None, "the history");
    }

    /// The rows `visible_rows` shows of messages `m0`, `m1`, ... where message `n` takes
    /// `heights[n]` rows (`mN.R`), as text.
    fn shown_rows(heights: &[usize], height: usize, cursor: Option<usize>) -> Vec<String> {
        let rows = |n: usize| (0..heights[n]).map(|r| Line::raw(format!("m{n}.{r}"))).collect::<Vec<_>>();
        visible_rows(heights.len(), height, cursor, rows).iter().map(ToString::to_string).collect()
    }

    #[test]
    fn the_newest_messages_or_the_cursor_stay_in_sight_however_many_rows_each_takes() {
        assert_eq!(shown_rows(&[1, 1, 1], 10, None), ["m0.0", "m1.0", "m2.0"]);
        assert_eq!(shown_rows(&[1; 30], 3, None), ["m27.0", "m28.0", "m29.0"]);
        assert_eq!(shown_rows(&[1; 30], 3, Some(28)), ["m27.0", "m28.0", "m29.0"]);
        assert_eq!(shown_rows(&[1; 30], 3, Some(5)), ["m5.0", "m6.0", "m7.0"]);
        // Wrapped messages: the newest one's rows at the bottom, an older one cut at its top.
        assert_eq!(shown_rows(&[3, 3, 2], 4, None), ["m1.1", "m1.2", "m2.0", "m2.1"]);
        // The cursor on a message cut at the top: it moves to the top, whole.
        assert_eq!(shown_rows(&[3, 3, 2], 4, Some(1)), ["m1.0", "m1.1", "m1.2", "m2.0"]);
    }

    #[test]
    fn a_long_message_is_wrapped_with_its_styles_and_nothing_lost() {
        let line = Line::from(vec![
            Span::styled("bob: ", Style::new().fg(Color::Magenta)),
            Span::raw("é".repeat(12)),
        ]);
        let rows = wrapped(line, 7);
        let texts: Vec<String> = rows.iter().map(ToString::to_string).collect();
        assert_eq!(texts, ["bob: éé", "ééééééé", "ééé"]);
        assert_eq!(rows[0].spans[0].style.fg, Some(Color::Magenta));
        assert_eq!(rows[1].spans[0].style.fg, None);
    }
}

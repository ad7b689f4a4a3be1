//! Key and mouse bindings: terminal events -> [`Action`]s, kept apart from the state
//! so the bindings can be read (and tested) in one place.

use super::app::{Action, Overlay};
use ratatui::crossterm::event::{
    Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseEventKind,
};

/// Lines scrolled per mouse-wheel notch.
const WHEEL_LINES: i32 = 3;

/// Maps a terminal event to an action, given the overlay that has the keyboard.
pub fn action_for(event: &Event, overlay: &Overlay) -> Option<Action> {
    match event {
        Event::Key(key) if key.kind != KeyEventKind::Release => key_action(key, overlay),
        Event::Mouse(m) => match m.kind {
            MouseEventKind::ScrollDown => Some(Action::Move(WHEEL_LINES)),
            MouseEventKind::ScrollUp => Some(Action::Move(-WHEEL_LINES)),
            _ => None,
        },
        Event::Resize(w, h) => Some(Action::Resize(*w, *h)),
        _ => None,
    }
}

fn key_action(key: &KeyEvent, overlay: &Overlay) -> Option<Action> {
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    if ctrl && matches!(key.code, KeyCode::Char('c')) {
        return Some(Action::Quit);
    }
    if *overlay == Overlay::Filter {
        return match key.code {
            KeyCode::Esc => Some(Action::Back),
            KeyCode::Enter => Some(Action::FilterDone),
            KeyCode::Backspace => Some(Action::FilterBackspace),
            KeyCode::Down => Some(Action::Move(1)),
            KeyCode::Up => Some(Action::Move(-1)),
            KeyCode::Char(c) if !ctrl => Some(Action::FilterChar(c)),
            _ => None,
        };
    }
    let action = match key.code {
        KeyCode::Char('q') => Action::Quit,
        KeyCode::Char('j') | KeyCode::Down => Action::Move(1),
        KeyCode::Char('k') | KeyCode::Up => Action::Move(-1),
        KeyCode::Char('d') if ctrl => Action::Page(1),
        KeyCode::Char('u') if ctrl => Action::Page(-1),
        KeyCode::PageDown | KeyCode::Char(' ') => Action::Page(1),
        KeyCode::PageUp | KeyCode::Char('b') => Action::Page(-1),
        KeyCode::Char('g') | KeyCode::Home => Action::Top,
        KeyCode::Char('G') | KeyCode::End => Action::Bottom,
        KeyCode::Enter | KeyCode::Char('l') | KeyCode::Right => Action::Open,
        KeyCode::Esc | KeyCode::Char('h') | KeyCode::Left | KeyCode::Backspace => Action::Back,
        KeyCode::Char('/') => Action::StartFilter,
        KeyCode::Char('t') => Action::PickTag,
        KeyCode::Char('d') => Action::CycleDifficulty,
        KeyCode::Char('?') => Action::ToggleHelp,
        KeyCode::Char('m') => Action::ToggleRead,
        KeyCode::Char('n') => Action::NextCard(1),
        KeyCode::Char('p') => Action::NextCard(-1),
        KeyCode::Char('c') => Action::ClearFilters,
        _ => return None,
    };
    Some(action)
}

/// The help overlay's rows: keys and what they do.
pub const HELP: &[(&str, &str)] = &[
    ("j k  ↓ ↑", "move / scroll one line"),
    ("PgDn PgUp  Space b", "one page down / up"),
    ("Ctrl-d Ctrl-u", "one page down / up"),
    ("g G  Home End", "first / last"),
    ("Enter l →", "open the card"),
    ("Esc h ←", "back to the list"),
    ("n p", "next / previous card"),
    ("mouse wheel", "scroll"),
    ("/", "filter by text (Enter keeps, Esc clears)"),
    ("t", "filter by tag"),
    ("d", "cycle difficulty: all, easy, medium, hard"),
    ("c", "clear all filters"),
    ("m", "toggle the read mark"),
    ("?", "this help"),
    ("q  Ctrl-c", "quit"),
];

#[cfg(test)]
mod tests {
    use super::*;
    use ratatui::crossterm::event::KeyEventState;

    fn key(code: KeyCode, modifiers: KeyModifiers) -> Event {
        Event::Key(KeyEvent {
            code,
            modifiers,
            kind: KeyEventKind::Press,
            state: KeyEventState::NONE,
        })
    }

    #[test]
    fn filter_mode_takes_letters_as_text() {
        let q = key(KeyCode::Char('q'), KeyModifiers::NONE);
        assert_eq!(action_for(&q, &Overlay::None), Some(Action::Quit));
        assert_eq!(
            action_for(&q, &Overlay::Filter),
            Some(Action::FilterChar('q'))
        );
    }

    #[test]
    fn ctrl_c_always_quits() {
        let c = key(KeyCode::Char('c'), KeyModifiers::CONTROL);
        for o in [
            Overlay::None,
            Overlay::Filter,
            Overlay::Help,
            Overlay::Tags(0),
        ] {
            assert_eq!(action_for(&c, &o), Some(Action::Quit));
        }
    }
}

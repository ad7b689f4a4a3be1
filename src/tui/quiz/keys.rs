//! Key and mouse bindings of the quiz screens: terminal events -> [`QuizAction`]s,
//! given the [`KeyMode`] of the screen (a choice list takes `j`/`k`; a number input
//! takes every printable key as text). Also the help and footer text of each mode,
//! so the bindings and their documentation sit together.

use super::app::{AnswerInput, Phase, QuizAction, QuizApp};
use crate::learn::scheduler::Rating;
use ratatui::crossterm::event::{
    Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseEventKind,
};

/// Lines scrolled per mouse-wheel notch.
const WHEEL_LINES: i32 = 3;

/// What the keyboard is doing on the current screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyMode {
    /// The help overlay is open.
    Help,
    /// Pick one choice.
    Choice,
    /// Toggle choices.
    Multi,
    /// Arrange steps.
    Order,
    /// Typing an answer; `empty` when nothing is typed yet (then `?` opens the help
    /// and Esc ends the session instead of clearing the input).
    Text { empty: bool },
    /// A recall item's model answer is shown: rate yourself.
    Rate,
    /// A simulation is running: only Ctrl-C.
    Busy,
    /// The feedback after an answer.
    Feedback,
    /// The session summary: any key leaves.
    Summary,
}

impl KeyMode {
    /// The mode of `app`'s current screen.
    pub fn of(app: &QuizApp<'_>) -> KeyMode {
        if app.help {
            KeyMode::Help
        } else {
            KeyMode::screen(app)
        }
    }

    /// The mode of the screen under any overlay.
    pub fn screen(app: &QuizApp<'_>) -> KeyMode {
        match &app.phase {
            Phase::Simulating => KeyMode::Busy,
            Phase::Feedback(_) => KeyMode::Feedback,
            Phase::Summary(_) => KeyMode::Summary,
            Phase::Question => match &app.input {
                AnswerInput::Choice { .. } => KeyMode::Choice,
                AnswerInput::Multi { .. } => KeyMode::Multi,
                AnswerInput::Order { .. } => KeyMode::Order,
                AnswerInput::Recall { revealed: true, .. } => KeyMode::Rate,
                AnswerInput::Numeric(t)
                | AnswerInput::Predict(t)
                | AnswerInput::Recall { input: t, .. } => KeyMode::Text {
                    empty: t.text.is_empty(),
                },
            },
        }
    }
}

/// Maps a terminal event to an action in `mode`.
pub fn action_for(event: &Event, mode: KeyMode) -> Option<QuizAction> {
    match event {
        Event::Key(key) if key.kind != KeyEventKind::Release => key_action(key, mode),
        Event::Mouse(m) if mode != KeyMode::Summary => match m.kind {
            MouseEventKind::ScrollDown => Some(QuizAction::Scroll(WHEEL_LINES)),
            MouseEventKind::ScrollUp => Some(QuizAction::Scroll(-WHEEL_LINES)),
            _ => None,
        },
        Event::Resize(w, h) => Some(QuizAction::Resize(*w, *h)),
        _ => None,
    }
}

fn key_action(key: &KeyEvent, mode: KeyMode) -> Option<QuizAction> {
    use QuizAction as A;
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    let shift = key.modifiers.contains(KeyModifiers::SHIFT);
    if ctrl && key.code == KeyCode::Char('c') {
        return Some(A::Quit);
    }
    let digit = |c: char| {
        c.to_digit(10)
            .filter(|d| *d >= 1)
            .and_then(|d| usize::try_from(d - 1).ok())
    };
    // Keys that scroll the text wherever no list has them.
    let scroll = |code: KeyCode| match code {
        KeyCode::PageDown => Some(A::Page(1)),
        KeyCode::PageUp => Some(A::Page(-1)),
        KeyCode::Char('d') if ctrl => Some(A::Page(1)),
        KeyCode::Char('u') if ctrl => Some(A::Page(-1)),
        _ => None,
    };
    match mode {
        KeyMode::Summary => Some(A::Quit),
        KeyMode::Busy => None,
        KeyMode::Help => match key.code {
            KeyCode::Char('?' | 'q') | KeyCode::Esc | KeyCode::Enter => Some(A::ToggleHelp),
            _ => None,
        },
        KeyMode::Text { empty } => match key.code {
            KeyCode::Enter => Some(A::Submit),
            KeyCode::Esc if empty => Some(A::Finish),
            KeyCode::Esc => Some(A::ClearInput),
            KeyCode::Char('?') if empty => Some(A::ToggleHelp),
            KeyCode::Char('u') if ctrl => Some(A::ClearInput),
            KeyCode::Char('a') if ctrl => Some(A::CursorEnd(false)),
            KeyCode::Char('e') if ctrl => Some(A::CursorEnd(true)),
            KeyCode::Char(c) if !ctrl => Some(A::Input(c)),
            KeyCode::Backspace => Some(A::Backspace),
            KeyCode::Delete => Some(A::Delete),
            KeyCode::Left => Some(A::Cursor(-1)),
            KeyCode::Right => Some(A::Cursor(1)),
            KeyCode::Home => Some(A::CursorEnd(false)),
            KeyCode::End => Some(A::CursorEnd(true)),
            KeyCode::Down => Some(A::Scroll(1)),
            KeyCode::Up => Some(A::Scroll(-1)),
            code => scroll(code),
        },
        KeyMode::Choice | KeyMode::Multi | KeyMode::Order => match key.code {
            KeyCode::Char('q') | KeyCode::Esc => Some(A::Finish),
            KeyCode::Char('?') => Some(A::ToggleHelp),
            KeyCode::Enter => Some(A::Submit),
            KeyCode::Char('J') if mode == KeyMode::Order => Some(A::MoveStep(1)),
            KeyCode::Char('K') if mode == KeyMode::Order => Some(A::MoveStep(-1)),
            KeyCode::Down if shift && mode == KeyMode::Order => Some(A::MoveStep(1)),
            KeyCode::Up if shift && mode == KeyMode::Order => Some(A::MoveStep(-1)),
            KeyCode::Char('j') | KeyCode::Down => Some(A::Select(1)),
            KeyCode::Char('k') | KeyCode::Up => Some(A::Select(-1)),
            KeyCode::Char(' ' | 'x') if mode == KeyMode::Multi => Some(A::Toggle),
            KeyCode::Char(c) if digit(c).is_some() => digit(c).map(A::Number),
            code => scroll(code),
        },
        KeyMode::Rate => match key.code {
            KeyCode::Char('q') | KeyCode::Esc => Some(A::Finish),
            KeyCode::Char('?') => Some(A::ToggleHelp),
            KeyCode::Char(c @ ('1'..='4' | 'a' | 'h' | 'g' | 'e')) => {
                crate::learn::quiz_run::parse_self_rating(&c.to_string()).map(A::Rate)
            }
            KeyCode::Char('j') | KeyCode::Down => Some(A::Scroll(1)),
            KeyCode::Char('k') | KeyCode::Up => Some(A::Scroll(-1)),
            code => scroll(code),
        },
        KeyMode::Feedback => match key.code {
            KeyCode::Char('q') | KeyCode::Esc => Some(A::Finish),
            KeyCode::Char('p') => Some(A::PlayRun),
            KeyCode::Char('?') => Some(A::ToggleHelp),
            KeyCode::Enter | KeyCode::Char(' ' | 'n' | 'l') | KeyCode::Right => Some(A::Next),
            KeyCode::Char('j') | KeyCode::Down => Some(A::Scroll(1)),
            KeyCode::Char('k') | KeyCode::Up => Some(A::Scroll(-1)),
            KeyCode::Char('g') | KeyCode::Home => Some(A::Top),
            KeyCode::Char('G') | KeyCode::End => Some(A::Bottom),
            KeyCode::Char('b') => Some(A::Page(-1)),
            code => scroll(code),
        },
    }
}

/// The footer's key hints in `mode`.
pub fn hints(mode: KeyMode) -> &'static [(&'static str, &'static str)] {
    match mode {
        KeyMode::Help => &[("Esc ?", "close help")],
        KeyMode::Choice => &[
            ("j/k", "move"),
            ("Enter", "pick"),
            ("1-9", "pick now"),
            ("?", "keys"),
            ("q", "finish"),
        ],
        KeyMode::Multi => &[
            ("j/k", "move"),
            ("Space", "toggle"),
            ("1-9", "toggle"),
            ("Enter", "submit"),
            ("?", "keys"),
            ("q", "finish"),
        ],
        KeyMode::Order => &[
            ("j/k", "select"),
            ("J/K", "move step"),
            ("Enter", "submit"),
            ("?", "keys"),
            ("q", "finish"),
        ],
        KeyMode::Text { empty: true } => &[
            ("type", "answer"),
            ("Enter", "submit"),
            ("?", "keys"),
            ("Esc", "finish"),
        ],
        KeyMode::Text { empty: false } => &[
            ("type", "answer"),
            ("Enter", "submit"),
            ("Esc", "clear"),
            ("Ctrl-c", "quit"),
        ],
        KeyMode::Rate => &[
            ("1", "again"),
            ("2", "hard"),
            ("3", "good"),
            ("4", "easy"),
            ("j/k", "scroll"),
            ("q", "finish"),
        ],
        KeyMode::Busy => &[("Ctrl-c", "quit")],
        KeyMode::Feedback => &[
            ("Enter", "next"),
            ("j/k", "scroll"),
            ("?", "keys"),
            ("q", "finish"),
        ],
        KeyMode::Summary => &[("any key", "exit")],
    }
}

/// The help overlay's rows in `mode`.
pub fn help(mode: KeyMode) -> Vec<(&'static str, &'static str)> {
    let finish = ("q Esc", "finish: show the session summary");
    let quit = ("Ctrl-c", "quit at once (answers are saved)");
    let wheel = ("mouse wheel", "scroll the text");
    let pages = ("PgDn PgUp  Ctrl-d Ctrl-u", "scroll the question text");
    match mode {
        KeyMode::Choice => vec![
            ("j k  ↓ ↑", "highlight a choice"),
            ("Enter", "pick the highlighted choice"),
            ("1-9", "pick that choice at once"),
            pages,
            wheel,
            finish,
            quit,
        ],
        KeyMode::Multi => vec![
            ("j k  ↓ ↑", "highlight a choice"),
            ("Space x", "toggle the highlighted choice"),
            ("1-9", "toggle that choice"),
            ("Enter", "submit the picked set"),
            pages,
            wheel,
            finish,
            quit,
        ],
        KeyMode::Order => vec![
            ("j k  ↓ ↑", "select a step"),
            ("J K  Shift-↓ ↑", "move the selected step down / up"),
            ("1-9", "select that step"),
            ("Enter", "submit the order"),
            pages,
            wheel,
            finish,
            quit,
        ],
        KeyMode::Text { .. } => vec![
            ("type", "your answer; numbers as 12,000  12k  1.5M  2e6"),
            ("← → Home End", "move the cursor"),
            ("Backspace Del", "delete a character"),
            ("Ctrl-u", "clear the input"),
            ("Enter", "submit (recall: show the model answer)"),
            ("↓ ↑  PgDn PgUp", "scroll the question text"),
            wheel,
            ("Esc", "clear the input; when it is empty, finish"),
            ("?", "this help (when the input is empty)"),
            quit,
        ],
        KeyMode::Rate => vec![
            ("1 2 3 4", "rate your recall: again, hard, good, easy"),
            ("a h g e", "the same"),
            ("j k  ↓ ↑", "scroll"),
            wheel,
            finish,
            quit,
        ],
        KeyMode::Feedback => vec![
            ("Enter Space n", "next question"),
            ("j k  ↓ ↑", "scroll the explanation"),
            ("PgDn PgUp  b", "one page down / up"),
            ("g G", "top / end"),
            ("p", "play a predict item's run again"),
            wheel,
            finish,
            quit,
        ],
        KeyMode::Help | KeyMode::Busy | KeyMode::Summary => vec![quit],
    }
}

/// The rating a key stands for, for the rate buttons' labels.
pub const RATE_KEYS: [(&str, Rating); 4] = [
    ("1", Rating::Again),
    ("2", Rating::Hard),
    ("3", Rating::Good),
    ("4", Rating::Easy),
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

    fn plain(c: char) -> Event {
        key(KeyCode::Char(c), KeyModifiers::NONE)
    }

    #[test]
    fn text_inputs_take_letters_that_lists_use_as_commands() {
        let text = KeyMode::Text { empty: false };
        for c in ['q', 'k', 'j', 'M', 'e', ','] {
            assert_eq!(action_for(&plain(c), text), Some(QuizAction::Input(c)));
        }
        assert_eq!(
            action_for(&plain('q'), KeyMode::Choice),
            Some(QuizAction::Finish)
        );
        assert_eq!(
            action_for(&plain('k'), KeyMode::Choice),
            Some(QuizAction::Select(-1))
        );
        // `?` opens the help only before anything is typed.
        let empty = KeyMode::Text { empty: true };
        assert_eq!(action_for(&plain('?'), empty), Some(QuizAction::ToggleHelp));
        assert_eq!(action_for(&plain('?'), text), Some(QuizAction::Input('?')));
    }

    #[test]
    fn ctrl_c_always_quits_and_the_summary_leaves_on_any_key() {
        let c = key(KeyCode::Char('c'), KeyModifiers::CONTROL);
        for mode in [
            KeyMode::Help,
            KeyMode::Choice,
            KeyMode::Text { empty: false },
            KeyMode::Busy,
            KeyMode::Feedback,
            KeyMode::Summary,
        ] {
            assert_eq!(action_for(&c, mode), Some(QuizAction::Quit));
        }
        assert_eq!(
            action_for(&plain('x'), KeyMode::Summary),
            Some(QuizAction::Quit)
        );
    }

    #[test]
    fn the_wheel_scrolls_everywhere_but_the_summary() {
        use ratatui::crossterm::event::MouseEvent;
        let wheel = |kind| {
            Event::Mouse(MouseEvent {
                kind,
                column: 0,
                row: 0,
                modifiers: KeyModifiers::NONE,
            })
        };
        let down = wheel(MouseEventKind::ScrollDown);
        assert_eq!(
            action_for(&down, KeyMode::Choice),
            Some(QuizAction::Scroll(WHEEL_LINES))
        );
        assert_eq!(
            action_for(&wheel(MouseEventKind::ScrollUp), KeyMode::Feedback),
            Some(QuizAction::Scroll(-WHEEL_LINES))
        );
        assert_eq!(action_for(&down, KeyMode::Summary), None);
        assert_eq!(
            action_for(&Event::Resize(100, 30), KeyMode::Summary),
            Some(QuizAction::Resize(100, 30))
        );
    }

    #[test]
    fn order_moves_with_capitals_and_shift_arrows() {
        assert_eq!(
            action_for(
                &key(KeyCode::Char('J'), KeyModifiers::SHIFT),
                KeyMode::Order
            ),
            Some(QuizAction::MoveStep(1))
        );
        assert_eq!(
            action_for(&key(KeyCode::Up, KeyModifiers::SHIFT), KeyMode::Order),
            Some(QuizAction::MoveStep(-1))
        );
        assert_eq!(
            action_for(&key(KeyCode::Up, KeyModifiers::SHIFT), KeyMode::Choice),
            Some(QuizAction::Select(-1))
        );
        assert_eq!(
            action_for(&plain('3'), KeyMode::Multi),
            Some(QuizAction::Number(2))
        );
        assert_eq!(action_for(&plain('0'), KeyMode::Multi), None);
        assert_eq!(
            action_for(&plain('3'), KeyMode::Rate),
            Some(QuizAction::Rate(Rating::Good))
        );
    }
}

//! The terminal UI (ratatui + crossterm, Elm style).
//!
//! The study reader:
//!
//! - [`app`]: state, the [`app::Action`] enum and `update`
//! - [`keys`]: terminal events -> actions
//! - [`view`]: pure rendering
//!
//! The other screens follow the same shape in their own modules: [`quiz`] (quiz and
//! practice questions, feedback and the session summary), [`stats`] (progress
//! charts and per-card mastery) and [`sim`] (simulation playback).
//!
//! [`run_study`], [`quiz::run_quiz`] and [`stats::run_stats`] own the terminal
//! through [`enter_terminal`]: it is restored on every exit path (normal return,
//! error, Ctrl-C, and panic through ratatui's hook).

pub mod app;
pub mod keys;
pub mod quiz;
pub mod sim;
pub mod stats;
pub mod view;
pub(crate) mod widgets;

use crate::config::Config;
use crate::content::Catalog;
use app::App;
use ratatui::crossterm::event::{self, DisableMouseCapture, EnableMouseCapture};
use ratatui::crossterm::execute;
use std::collections::HashSet;
use std::io::IsTerminal;

/// Where read marks are kept between runs.
pub trait MarkStore {
    /// Ids of the cards marked read.
    fn read_marks(&self) -> anyhow::Result<HashSet<String>>;
    /// Records a card as read (`true`) or unread.
    fn set_mark(&mut self, id: &str, read: bool) -> anyhow::Result<()>;
}

/// Restores the terminal when dropped, so early returns and errors leave it usable.
pub(crate) struct TerminalGuard {
    mouse: bool,
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        if self.mouse {
            let _ = execute!(std::io::stdout(), DisableMouseCapture);
        }
        ratatui::restore();
    }
}

/// Switches the terminal to the alternate screen in raw mode (with mouse capture when
/// the configuration asks for it). The terminal is restored when the returned guard
/// is dropped, including on early returns, errors and panics; keep the guard alive
/// as long as the terminal is used.
pub(crate) fn enter_terminal(
    config: &Config,
) -> anyhow::Result<(ratatui::DefaultTerminal, TerminalGuard)> {
    let terminal = ratatui::try_init()?;
    let guard = TerminalGuard {
        mouse: config.mouse.value,
    };
    if config.mouse.value {
        execute!(std::io::stdout(), EnableMouseCapture)?;
    }
    Ok((terminal, guard))
}

/// Runs the study reader until the user quits, optionally opening `open` first.
pub fn run_study(
    config: &Config,
    catalog: &Catalog,
    open: Option<&str>,
    marks: &mut dyn MarkStore,
) -> anyhow::Result<()> {
    if !std::io::stdin().is_terminal() {
        anyhow::bail!(
            "the reader needs a terminal on stdin; use `swelearn study ID --plain` to print a card"
        );
    }
    let read = marks.read_marks()?;
    let (mut terminal, _guard) = enter_terminal(config)?;
    let size = terminal.size()?;
    let mut app = App::new(catalog, read, (size.width, size.height));
    if let Some(id) = open {
        app.open_id(id);
    }
    let color = config.color.value.enabled(true);
    while !app.quit {
        terminal.draw(|f| {
            view::render(&app, f);
            if !color {
                widgets::monochrome(f.buffer_mut());
            }
        })?;
        let ev = event::read()?;
        let mut next = keys::action_for(&ev, &app.overlay);
        while let Some(action) = next {
            next = app.update(action);
        }
        for (id, read) in app.changed_marks.drain(..) {
            marks.set_mark(&id, read)?;
        }
    }
    Ok(())
}

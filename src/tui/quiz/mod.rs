//! The quiz and practice screens: a question at a time, the feedback after each
//! answer, and the session summary at the end (ratatui + crossterm, Elm style).
//!
//! - [`app`]: state, the [`app::QuizAction`] enum and `update`; drives a
//!   [`QuizRun`], which grades and records every answer as it is given
//! - [`keys`]: terminal events -> actions, per screen mode
//! - [`view`]: pure rendering
//!
//! [`run_quiz`] owns the terminal (restored on every exit path, see
//! [`super::enter_terminal`]) and is the only place that reads the clock.

pub mod app;
pub mod keys;
pub mod view;

use crate::config::Config;
use crate::learn::grade::Graded;
use crate::learn::quiz::QuizBank;
use crate::learn::quiz_run::{PredictRunner, QuizRun};
use crate::learn::scheduler::Scheduler;
use crate::learn::store::Store;
use crate::learn::time::Moment;
use app::{QuizAction, QuizApp};
use keys::KeyMode;
use ratatui::crossterm::event;
use std::collections::HashMap;
use std::io::IsTerminal;
use std::time::{Duration, Instant};

/// Everything a quiz or practice session runs on.
pub struct QuizSession<'a> {
    /// The planned questions.
    pub run: QuizRun<'a>,
    /// Where answers are recorded (one transaction each).
    pub store: &'a mut Store,
    /// Schedules the next review of each answered item.
    pub scheduler: &'a Scheduler,
    /// Runs the simulation of predict items.
    pub predict: &'a dyn PredictRunner,
    /// The quiz banks the run's items come from (for the summary).
    pub banks: &'a [QuizBank],
    /// e.g. "quiz · short-polling" or "practice · 15 min"
    pub title: String,
    /// practice: stop offering new questions after this long (wall clock); None for quiz
    pub time_box: Option<Duration>,
    /// card id -> title, for showing which card a question is from
    pub card_titles: HashMap<String, String>,
}

/// How often the screen is redrawn without input, so the clock in the title bar runs.
const TICK: Duration = Duration::from_millis(500);

/// Runs the session in the terminal until the items run out, the time box ends, or the
/// user quits; every answer is recorded as it is given (QuizRun::answer does that).
/// Returns the graded results (the lead prints nothing after; your summary screen shows
/// the session summary from store.session_summary before returning).
pub fn run_quiz(config: &Config, session: QuizSession<'_>) -> anyhow::Result<Vec<Graded>> {
    if !std::io::stdin().is_terminal() {
        anyhow::bail!(
            "the quiz screens need a terminal on stdin; use `--plain` to answer line by line"
        );
    }
    // The UTC offset is looked up once; a session does not span a time-zone change.
    let offset = crate::commands::now().utc_offset_s;
    let started = Instant::now();
    let clock = || QuizAction::Tick {
        now: Moment::now(offset),
        elapsed: started.elapsed(),
    };
    let colour = config.color.value.enabled(true);
    let draw = |app: &QuizApp<'_>, f: &mut ratatui::Frame| {
        view::render(app, f);
        if !colour {
            crate::tui::widgets::monochrome(f.buffer_mut());
        }
    };
    let (mut terminal, _guard) = super::enter_terminal(config)?;
    let size = terminal.size()?;
    let mut app = QuizApp::new(session, (size.width, size.height), Moment::now(offset));
    while !app.quit {
        terminal.draw(|f| draw(&app, f))?;
        let event = if event::poll(TICK)? {
            Some(event::read()?)
        } else {
            None
        };
        app.update(clock());
        let mut next = event.and_then(|e| keys::action_for(&e, KeyMode::of(&app)));
        while let Some(action) = next {
            next = app.update(action);
            if next.is_some() {
                // Show the intermediate screen ("simulating…") before the follow-up.
                terminal.draw(|f| draw(&app, f))?;
                app.update(clock());
            }
        }
        if std::mem::take(&mut app.play_run)
            && let Some((report, banner)) = app.playback()
        {
            let mut sim = crate::tui::sim::SimApp::new(vec![(report.scenario.clone(), report)]);
            sim.banner = Some(banner);
            crate::tui::sim::play(&mut terminal, colour, sim)?;
            // The session clock kept running while the run played.
            app.update(clock());
        }
    }
    if let Some(e) = app.error.take() {
        return Err(e);
    }
    Ok(std::mem::take(&mut app.session.run.results))
}

//! The quiz screens' state and its update function (Elm style): every key, mouse,
//! resize and clock event becomes a [`QuizAction`], and [`QuizApp::update`] is the
//! only place state changes. It drives a [`QuizRun`](crate::learn::quiz_run::QuizRun):
//! presents each question, builds the learner's response from the keys (a choice,
//! a set, an order, a typed number or a self-rating), grades and records it through
//! `QuizRun::answer`, shows the feedback, and ends with the session summary.
//!
//! The state never reads a clock: the runner sends [`QuizAction::Tick`] with the
//! wall-clock [`Moment`] (for the store) and the time since the session started (for
//! answer times and the practice time box) before every event, and tests send it by
//! hand. Rendering lives in `quiz::view`, key bindings in `quiz::keys`.

use super::QuizSession;
use super::view;
use crate::learn::grade::{AnswerError, Graded, Presented, Question, Response, format_approx};
use crate::learn::quiz_run::{Feedback, RunError, describe_interval};
use crate::learn::scheduler::Rating;
use crate::learn::session::SessionSummary;
use crate::learn::time::Moment;
use crate::output::theme;
use crate::tui::widgets::{hanging, markdown_lines};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use std::time::Duration;

/// The question pane is at most this wide (centred on wider terminals): lines of
/// about 95 characters are the longest that still read comfortably.
pub const MAX_PANE_WIDTH: u16 = 100;

/// Everything the learner (or the clock) can ask the quiz screens to do.
#[derive(Debug, Clone, PartialEq)]
pub enum QuizAction {
    /// Leave at once (Ctrl-C, or any key on the summary); answers are already saved.
    Quit,
    /// End the session: show the summary, or leave if nothing was answered yet.
    Finish,
    /// The clock: the wall-clock moment and the time since the session started.
    Tick {
        /// Now, for recording answers and the summary.
        now: Moment,
        /// Monotonic time since the session started.
        elapsed: Duration,
    },
    /// Move the highlighted choice or step by this many rows; negative is up.
    Select(i32),
    /// Scroll the question or feedback text by this many lines; negative is up.
    Scroll(i32),
    /// Scroll the question or feedback text by pages; negative is up.
    Page(i32),
    /// Scroll to the top of the question or feedback text.
    Top,
    /// Scroll to the end of the question or feedback text.
    Bottom,
    /// A number key (0-based): pick and submit a choice, toggle a multi choice,
    /// or highlight an order step.
    Number(usize),
    /// Toggle the highlighted choice of a multi question.
    Toggle,
    /// Move the highlighted order step down (1) or up (-1).
    MoveStep(i32),
    /// Submit the answer (or reveal a recall item's model answer).
    Submit,
    /// Run the simulation of the predict estimate just submitted (follows `Submit`
    /// so that "simulating…" is drawn first).
    Simulate,
    /// Self-rate a recall item whose model answer is shown.
    Rate(Rating),
    /// Leave the feedback for the next question.
    Next,
    /// Play a predict item's simulated run (again).
    PlayRun,
    /// A character typed into the answer input.
    Input(char),
    /// Delete the character before the cursor.
    Backspace,
    /// Delete the character under the cursor.
    Delete,
    /// Move the input cursor by this many characters.
    Cursor(i32),
    /// Move the input cursor to the start (false) or end (true).
    CursorEnd(bool),
    /// Empty the answer input.
    ClearInput,
    /// Show or hide the key help.
    ToggleHelp,
    /// The terminal was resized to (columns, rows).
    Resize(u16, u16),
}

/// A one-line text input with a cursor (counted in characters).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TextInput {
    /// The text typed.
    pub text: String,
    /// Cursor position in characters, `0..=text.chars().count()`.
    pub cursor: usize,
}

impl TextInput {
    fn byte_at(&self, char_pos: usize) -> usize {
        self.text
            .char_indices()
            .nth(char_pos)
            .map_or(self.text.len(), |(i, _)| i)
    }

    fn len(&self) -> usize {
        self.text.chars().count()
    }

    fn insert(&mut self, c: char) {
        let at = self.byte_at(self.cursor);
        self.text.insert(at, c);
        self.cursor += 1;
    }

    fn backspace(&mut self) {
        if self.cursor > 0 {
            self.cursor -= 1;
            let at = self.byte_at(self.cursor);
            self.text.remove(at);
        }
    }

    fn delete(&mut self) {
        if self.cursor < self.len() {
            let at = self.byte_at(self.cursor);
            self.text.remove(at);
        }
    }

    fn move_by(&mut self, delta: i32) {
        let to = (self.cursor as i64 + i64::from(delta)).clamp(0, self.len() as i64);
        self.cursor = usize::try_from(to).unwrap_or(0);
    }
}

/// The answer being put together for the open question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AnswerInput {
    /// The highlighted choice.
    Choice { selected: usize },
    /// The highlighted choice and which are picked.
    Multi { selected: usize, picked: Vec<bool> },
    /// The highlighted row and the steps as arranged: `arrangement[row]` is the
    /// position of that step in the shown (shuffled) list.
    Order {
        selected: usize,
        arrangement: Vec<usize>,
    },
    /// The number typed.
    Numeric(TextInput),
    /// The learner's own answer (optional) and whether the model answer is shown.
    Recall { input: TextInput, revealed: bool },
    /// The estimate typed.
    Predict(TextInput),
}

impl AnswerInput {
    /// A fresh input for `question`.
    pub fn for_question(question: &Question) -> Self {
        match question {
            Question::Choice { .. } => Self::Choice { selected: 0 },
            Question::Multi { options, .. } => Self::Multi {
                selected: 0,
                picked: vec![false; options.len()],
            },
            Question::Order { steps, .. } => Self::Order {
                selected: 0,
                arrangement: (0..steps.len()).collect(),
            },
            Question::Numeric { .. } => Self::Numeric(TextInput::default()),
            Question::Recall { .. } => Self::Recall {
                input: TextInput::default(),
                revealed: false,
            },
            Question::Predict { .. } => Self::Predict(TextInput::default()),
        }
    }

    /// The text input, when the question takes typed text now.
    pub fn text_input(&self) -> Option<&TextInput> {
        match self {
            Self::Numeric(t) | Self::Predict(t) => Some(t),
            Self::Recall {
                input,
                revealed: false,
            } => Some(input),
            _ => None,
        }
    }

    fn text_input_mut(&mut self) -> Option<&mut TextInput> {
        match self {
            Self::Numeric(t) | Self::Predict(t) => Some(t),
            Self::Recall {
                input,
                revealed: false,
            } => Some(input),
            _ => None,
        }
    }

    /// Number of rows a highlight can move over (choices or steps).
    fn rows(&self) -> usize {
        match self {
            Self::Multi { picked, .. } => picked.len(),
            Self::Order { arrangement, .. } => arrangement.len(),
            _ => 0,
        }
    }
}

/// Which screen is up.
#[derive(Debug, Clone)]
pub enum Phase {
    /// A question is open.
    Question,
    /// A predict estimate was submitted and its simulation is about to run.
    Simulating,
    /// The graded answer.
    Feedback(Box<Feedback>),
    /// The end of the session.
    Summary(Box<Summary>),
}

/// Why a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndReason {
    /// Every planned question was asked.
    Done,
    /// The practice time box ran out.
    TimeUp,
    /// The learner stopped early.
    Stopped,
}

/// What the summary screen shows.
#[derive(Debug, Clone)]
pub struct Summary {
    /// From the store, after the last answer.
    pub summary: SessionSummary,
    /// Why the session ended.
    pub reason: EndReason,
    /// Planned questions not asked.
    pub left: usize,
    /// Wall time of the session.
    pub session: Duration,
    /// Questions that could not be asked, with the reason.
    pub skipped: Vec<String>,
}

/// A message in the status line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// The text.
    pub text: String,
    /// An input problem (true) or a note.
    pub error: bool,
}

/// The quiz screens' state.
pub struct QuizApp<'a> {
    /// What the session runs on (the run, the store, ...).
    pub session: QuizSession<'a>,
    /// The current screen.
    pub phase: Phase,
    /// The answer being put together for the open question.
    pub input: AnswerInput,
    /// The question text, or the feedback, laid out for the current width.
    pub doc: Vec<Line<'static>>,
    /// The width `doc` was laid out at.
    pub doc_width: usize,
    /// First line of `doc` shown.
    pub scroll: usize,
    /// A message under the question: why an input is not an answer, or a note.
    pub status: Option<Status>,
    /// Whether the key help is shown.
    pub help: bool,
    /// Terminal size (columns, rows).
    pub size: (u16, u16),
    /// The last clock tick: wall-clock now.
    pub now: Moment,
    /// The last clock tick: time since the session started.
    pub elapsed: Duration,
    /// When (since the session started) the open question was shown.
    pub shown_at: Duration,
    /// When the open question's answer was given (predict: the estimate; recall:
    /// the reveal), if it is being processed.
    pub answered_at: Option<Duration>,
    /// Set when the terminal loop should play the predict run of the feedback
    /// shown (see [`QuizApp::playback`]); the loop clears it.
    pub play_run: bool,
    /// Set when the program should leave.
    pub quit: bool,
    /// A failure that ends the session (the store could not record an answer).
    pub error: Option<anyhow::Error>,
}

impl<'a> QuizApp<'a> {
    /// Starts the session at `now`: shows the first question (or the summary when no
    /// question can be shown).
    pub fn new(session: QuizSession<'a>, size: (u16, u16), now: Moment) -> Self {
        let mut app = QuizApp {
            session,
            phase: Phase::Question,
            input: AnswerInput::Choice { selected: 0 },
            doc: Vec::new(),
            doc_width: 0,
            scroll: 0,
            status: None,
            help: false,
            size,
            now,
            elapsed: Duration::ZERO,
            shown_at: Duration::ZERO,
            answered_at: None,
            play_run: false,
            quit: false,
            error: None,
        };
        app.next_question();
        app
    }

    /// The open question, if any.
    pub fn presented(&self) -> Option<&Presented> {
        self.session.run.current()
    }

    /// The graded results so far.
    pub fn results(&self) -> &[Graded] {
        &self.session.run.results
    }

    /// Width of the question pane: the terminal's, up to [`MAX_PANE_WIDTH`].
    pub fn pane_width(&self) -> u16 {
        self.size.0.min(MAX_PANE_WIDTH)
    }

    /// Width available to text inside the question pane.
    pub fn text_width(&self) -> usize {
        usize::from(self.pane_width().saturating_sub(4)).max(20)
    }

    /// Time left in the practice time box (None for a quiz).
    pub fn remaining(&self) -> Option<Duration> {
        self.session
            .time_box
            .map(|tb| tb.saturating_sub(self.elapsed))
    }

    /// Whether the practice time box has run out.
    pub fn time_up(&self) -> bool {
        self.remaining().is_some_and(|r| r.is_zero())
    }

    /// The typed response the current input would submit: `#2` for a choice, `1,3`
    /// for a set, `3 1 2 4` for an order, the text for a number. None for recall
    /// items (they are self-rated) and when there is no open question.
    pub fn response_text(&self) -> Option<String> {
        match &self.input {
            AnswerInput::Choice { selected } => Some(format!("#{}", selected + 1)),
            AnswerInput::Multi { picked, .. } => Some(
                picked
                    .iter()
                    .enumerate()
                    .filter(|(_, p)| **p)
                    .map(|(i, _)| (i + 1).to_string())
                    .collect::<Vec<_>>()
                    .join(","),
            ),
            AnswerInput::Order { arrangement, .. } => Some(
                arrangement
                    .iter()
                    .map(|i| (i + 1).to_string())
                    .collect::<Vec<_>>()
                    .join(" "),
            ),
            AnswerInput::Numeric(t) | AnswerInput::Predict(t) => Some(t.text.clone()),
            AnswerInput::Recall { .. } => None,
        }
    }

    /// The rows of `doc` visible.
    pub fn doc_height(&self) -> usize {
        view::question_regions(self).doc_height
    }

    /// Applies one action. Returns a follow-up action, if any.
    pub fn update(&mut self, action: QuizAction) -> Option<QuizAction> {
        match action {
            QuizAction::Quit => {
                self.quit = true;
                return None;
            }
            QuizAction::Tick { now, elapsed } => {
                self.now = now;
                self.elapsed = elapsed;
                return None;
            }
            QuizAction::Resize(w, h) => {
                self.size = (w, h);
                self.rebuild_doc();
                return None;
            }
            QuizAction::ToggleHelp => {
                self.help = !self.help;
                return None;
            }
            // The help overlay has the keyboard until it is closed.
            _ if self.help => return None,
            _ => {}
        }
        match self.phase {
            Phase::Question => self.update_question(action),
            Phase::Simulating => match action {
                QuizAction::Simulate => {
                    self.simulate();
                    None
                }
                _ => None,
            },
            Phase::Feedback(_) => {
                match action {
                    QuizAction::Next | QuizAction::Submit => self.next_question(),
                    QuizAction::Finish => self.finish(EndReason::Stopped),
                    QuizAction::PlayRun => self.play_run = self.playback().is_some(),
                    other => self.scroll_action(&other),
                }
                None
            }
            Phase::Summary(_) => None,
        }
    }

    fn update_question(&mut self, action: QuizAction) -> Option<QuizAction> {
        // Any key but the clock clears the last message.
        self.status = None;
        let rows = self.input.rows();
        let options = self.option_count();
        match (&mut self.input, action) {
            (_, QuizAction::Finish) => self.finish(EndReason::Stopped),
            (_, QuizAction::Submit) => return self.submit(),
            (AnswerInput::Choice { selected }, QuizAction::Select(d)) => {
                *selected = step(*selected, d, options);
            }
            (AnswerInput::Choice { selected }, QuizAction::Number(i)) => {
                if i < options {
                    *selected = i;
                    return self.submit();
                }
                self.no_such_row(i);
            }
            (
                AnswerInput::Multi { selected, .. } | AnswerInput::Order { selected, .. },
                QuizAction::Select(d),
            ) => *selected = step(*selected, d, rows),
            (AnswerInput::Multi { selected, picked }, QuizAction::Toggle) => {
                if let Some(p) = picked.get_mut(*selected) {
                    *p = !*p;
                }
            }
            (AnswerInput::Multi { selected, picked }, QuizAction::Number(i)) => {
                if let Some(p) = picked.get_mut(i) {
                    *p = !*p;
                    *selected = i;
                } else {
                    self.no_such_row(i);
                }
            }
            (AnswerInput::Order { selected, .. }, QuizAction::Number(i)) => {
                if i < rows {
                    *selected = i;
                } else {
                    self.no_such_row(i);
                }
            }
            (
                AnswerInput::Order {
                    selected,
                    arrangement,
                },
                QuizAction::MoveStep(d),
            ) => {
                let to = step(*selected, d, rows);
                if to != *selected {
                    arrangement.swap(*selected, to);
                    *selected = to;
                }
            }
            (AnswerInput::Recall { revealed: true, .. }, QuizAction::Rate(r)) => {
                self.answer(Response::SelfRating(r));
            }
            (
                input,
                action @ (QuizAction::Input(_)
                | QuizAction::Backspace
                | QuizAction::Delete
                | QuizAction::Cursor(_)
                | QuizAction::CursorEnd(_)
                | QuizAction::ClearInput),
            ) => {
                if let Some(t) = input.text_input_mut() {
                    match action {
                        QuizAction::Input(c) => t.insert(c),
                        QuizAction::Backspace => t.backspace(),
                        QuizAction::Delete => t.delete(),
                        QuizAction::Cursor(d) => t.move_by(d),
                        QuizAction::CursorEnd(end) => t.cursor = if end { t.len() } else { 0 },
                        _ => *t = TextInput::default(),
                    }
                }
            }
            (_, other) => self.scroll_action(&other),
        }
        None
    }

    fn option_count(&self) -> usize {
        match self.presented().map(|p| &p.question) {
            Some(Question::Choice { options, .. } | Question::Multi { options, .. }) => {
                options.len()
            }
            Some(Question::Order { steps, .. }) => steps.len(),
            _ => 0,
        }
    }

    fn no_such_row(&mut self, i: usize) {
        let n = self.option_count();
        self.status = Some(Status {
            text: format!("there is no {}: use 1 to {n}", i + 1),
            error: true,
        });
    }

    fn scroll_action(&mut self, action: &QuizAction) {
        let page = self.doc_height().saturating_sub(1).max(1) as i64;
        let delta = match action {
            QuizAction::Scroll(d) => i64::from(*d),
            QuizAction::Page(d) => i64::from(*d) * page,
            QuizAction::Top => i64::MIN / 2,
            QuizAction::Bottom => i64::MAX / 2,
            _ => return,
        };
        self.scroll = (self.scroll as i64).saturating_add(delta).max(0) as usize;
        self.clamp_scroll();
    }

    fn clamp_scroll(&mut self) {
        let max = self.doc.len().saturating_sub(self.doc_height());
        self.scroll = self.scroll.min(max);
    }

    fn submit(&mut self) -> Option<QuizAction> {
        let unit = match self.presented().map(|p| &p.question) {
            Some(Question::Predict { unit, .. }) => unit.clone(),
            Some(_) => String::new(),
            None => return None,
        };
        match &mut self.input {
            AnswerInput::Recall { revealed, .. } => {
                if !*revealed {
                    *revealed = true;
                    self.answered_at = Some(self.elapsed);
                    self.rebuild_doc();
                    // Bring the model answer into view.
                    let mark = self.model_answer_line();
                    self.scroll = mark;
                    self.clamp_scroll();
                }
                None
            }
            AnswerInput::Predict(t) => {
                // Check the estimate before spending a simulation on it.
                match crate::learn::grade::parse_number_answer(&t.text, &unit) {
                    Ok(_) => {
                        self.answered_at = Some(self.elapsed);
                        self.phase = Phase::Simulating;
                        Some(QuizAction::Simulate)
                    }
                    Err(e) => {
                        self.show_answer_error(&e);
                        None
                    }
                }
            }
            AnswerInput::Multi { picked, .. } if !picked.iter().any(|p| *p) => {
                self.status = Some(Status {
                    text: "pick at least one choice (Space or its number), then Enter".into(),
                    error: true,
                });
                None
            }
            _ => {
                if let Some(text) = self.response_text() {
                    self.answer(Response::Text(&text));
                }
                None
            }
        }
    }

    fn simulate(&mut self) {
        let text = self.response_text().unwrap_or_default();
        self.answer(Response::Text(&text));
    }

    /// Grades and records `response`; shows the feedback, or the reason it is not
    /// an answer.
    fn answer(&mut self, response: Response<'_>) {
        let answered = self.answered_at.take().unwrap_or(self.elapsed);
        let elapsed_ms =
            u64::try_from(answered.saturating_sub(self.shown_at).as_millis()).unwrap_or(u64::MAX);
        let s = &mut self.session;
        let result = s.run.answer(
            response,
            elapsed_ms,
            s.store,
            s.scheduler,
            s.predict,
            self.now,
        );
        match result {
            Ok(Ok(feedback)) => {
                // A predict challenge plays its run before the score is read.
                self.play_run = feedback.report.is_some();
                self.phase = Phase::Feedback(Box::new(feedback));
                self.scroll = 0;
                self.rebuild_doc();
            }
            Ok(Err(e)) => {
                self.phase = Phase::Question;
                self.show_answer_error(&e);
            }
            Err(RunError::Predict { item, message }) => {
                // Nothing was recorded: leave the item for another time.
                let note = format!("skipped `{item}`: the simulation failed: {message}");
                self.session.run.skipped.push(note.clone());
                self.next_question();
                self.status = Some(Status {
                    text: note,
                    error: true,
                });
            }
            Err(e @ RunError::Store(_)) => self.fail(e.into()),
        }
    }

    fn show_answer_error(&mut self, e: &AnswerError) {
        self.status = Some(Status {
            text: e.to_string(),
            error: true,
        });
    }

    fn fail(&mut self, e: anyhow::Error) {
        self.error = Some(e);
        self.quit = true;
    }

    /// Shows the next question, or the summary when there is none or time is up.
    /// The predict run the feedback shows, with the line the playback shows
    /// under it (the estimate, and how to come back).
    pub fn playback(&self) -> Option<(&crate::sim::Report, String)> {
        let Phase::Feedback(f) = &self.phase else {
            return None;
        };
        let report = f.report.as_deref()?;
        let banner = format!(
            "your estimate: {} · the score is next: q or Esc",
            f.graded.answer_text.trim()
        );
        Some((report, banner))
    }

    fn next_question(&mut self) {
        let run = &self.session.run;
        let more = run.position() < run.len();
        if self.time_up() && more && !run.results.is_empty() {
            self.finish(EndReason::TimeUp);
            return;
        }
        if self.session.run.advance(self.now).is_none() {
            self.finish(EndReason::Done);
            return;
        }
        if let Some(p) = self.session.run.current() {
            self.input = AnswerInput::for_question(&p.question);
        }
        self.phase = Phase::Question;
        self.shown_at = self.elapsed;
        self.answered_at = None;
        self.status = None;
        self.scroll = 0;
        self.rebuild_doc();
    }

    /// Ends the session: computes the summary, or leaves when nothing was answered.
    fn finish(&mut self, reason: EndReason) {
        let run = &self.session.run;
        if reason == EndReason::Stopped && run.results.is_empty() {
            self.quit = true;
            return;
        }
        // The open question (if unanswered) is not asked; the ones after it neither.
        let open = usize::from(
            matches!(self.phase, Phase::Question | Phase::Simulating) && run.current().is_some(),
        );
        let left = run.len().saturating_sub(run.position()) + open;
        match self
            .session
            .store
            .session_summary(self.session.banks, &run.results, self.now)
        {
            Ok(summary) => {
                self.phase = Phase::Summary(Box::new(Summary {
                    summary,
                    reason,
                    left: if reason == EndReason::Done { 0 } else { left },
                    session: self.elapsed,
                    skipped: run.skipped.clone(),
                }));
                self.help = false;
                self.status = None;
            }
            Err(e) => self.fail(e.into()),
        }
    }

    /// The line of `doc` where the model answer of a revealed recall item starts.
    fn model_answer_line(&self) -> usize {
        let width = self.text_width();
        self.presented()
            .map_or(0, |p| markdown_lines(&p.prompt, width).len() + 1)
    }

    /// Lays out the question or feedback text for the current width.
    pub fn rebuild_doc(&mut self) {
        let width = self.text_width();
        self.doc = match (&self.phase, self.presented()) {
            (Phase::Feedback(f), Some(p)) => feedback_doc(p, f, &self.input, width),
            (Phase::Question | Phase::Simulating, Some(p)) => question_doc(p, &self.input, width),
            _ => Vec::new(),
        };
        self.doc_width = width;
        self.clamp_scroll();
    }
}

/// `i` moved by `d`, kept within `0..n`.
fn step(i: usize, d: i32, n: usize) -> usize {
    if n == 0 {
        return 0;
    }
    (i as i64 + i64::from(d)).clamp(0, n as i64 - 1) as usize
}

fn heading(text: &str) -> Line<'static> {
    Line::from(Span::styled(text.to_string(), theme::accent()))
}

/// The colour of a rating (modifiers too, so it reads without colour).
pub(crate) fn rating_style(r: Rating) -> Style {
    let color = match r {
        Rating::Again => Color::Red,
        Rating::Hard => Color::Yellow,
        Rating::Good => Color::Green,
        Rating::Easy => Color::Cyan,
    };
    Style::default().fg(color).add_modifier(Modifier::BOLD)
}

/// The question's text: the prompt, the simulation of a predict item, and the model
/// answer of a revealed recall item.
fn question_doc(p: &Presented, input: &AnswerInput, width: usize) -> Vec<Line<'static>> {
    let mut doc = markdown_lines(&p.prompt, width);
    match (&p.question, input) {
        (
            Question::Predict {
                scenario,
                params,
                metric,
                unit,
                ..
            },
            _,
        ) => {
            doc.push(Line::default());
            let flags: Vec<String> = params.iter().map(|(k, v)| format!("{k}={v}")).collect();
            let label = "Simulation  ";
            let pad = " ".repeat(label.len());
            doc.extend(hanging(
                vec![Span::styled(label, theme::dim())],
                vec![Span::raw(pad.clone())],
                &format!("`{scenario}` {}", flags.join(" ")),
                width,
                Style::default(),
            ));
            let what = if unit.is_empty() {
                format!("`{metric}`")
            } else {
                format!("`{metric}` ({unit})")
            };
            doc.extend(hanging(
                vec![Span::styled("Metric      ", theme::dim())],
                vec![Span::raw(pad)],
                &what,
                width,
                Style::default(),
            ));
        }
        (Question::Recall { model_answer }, AnswerInput::Recall { input, revealed })
            if *revealed =>
        {
            doc.push(Line::default());
            doc.push(heading("Model answer"));
            doc.extend(markdown_lines(model_answer, width));
            if !input.text.trim().is_empty() {
                doc.push(Line::default());
                doc.push(heading("Your answer"));
                doc.extend(hanging(
                    vec![],
                    vec![],
                    input.text.trim(),
                    width,
                    Style::default(),
                ));
            }
        }
        _ => {}
    }
    doc
}

/// A labelled value with a hanging indent: `Right answer  5 s`.
fn labelled(label: &str, value: &str, width: usize, style: Style) -> Vec<Line<'static>> {
    const LABEL: usize = 14;
    hanging(
        vec![Span::styled(format!("{label:<LABEL$}"), theme::dim())],
        vec![Span::raw(" ".repeat(LABEL))],
        value,
        width,
        style,
    )
}

/// Numbered lines of `items`, each with a mark.
fn marked_list(items: &[(String, &'static str, Style)], width: usize) -> Vec<Line<'static>> {
    let mut out = Vec::new();
    for (i, (text, mark, style)) in items.iter().enumerate() {
        let first = vec![
            Span::styled(format!("  {mark} "), *style),
            Span::styled(format!("{}. ", i + 1), theme::dim()),
        ];
        let indent = 4 + (i + 1).to_string().len() + 2;
        out.extend(hanging(
            first,
            vec![Span::raw(" ".repeat(indent))],
            text,
            width,
            Style::default(),
        ));
    }
    out
}

/// The feedback text: right or wrong, the answers, the rating and when the item comes
/// back, then the explanation.
fn feedback_doc(
    p: &Presented,
    f: &Feedback,
    input: &AnswerInput,
    width: usize,
) -> Vec<Line<'static>> {
    let g = &f.graded;
    let right = Style::default()
        .fg(Color::Green)
        .add_modifier(Modifier::BOLD);
    let wrong = Style::default().fg(Color::Red).add_modifier(Modifier::BOLD);
    let verdict = match (&p.question, g.correct) {
        (Question::Recall { .. }, _) => Span::styled("● Self-rated", theme::accent()),
        (_, true) => Span::styled("✓ Right", right),
        (_, false) => Span::styled("✗ Not quite", wrong),
    };
    let mut doc = vec![Line::from(vec![
        verdict,
        Span::styled("  ·  rated ", theme::dim()),
        Span::styled(g.rating.to_string(), rating_style(g.rating)),
        Span::styled("  ·  back ", theme::dim()),
        Span::raw(describe_interval(f.next_in_days)),
    ])];
    doc.push(Line::default());
    // One decimal under 10 %, whole percents above: "2.3 %", "19 %", "0 %".
    let off_by = |e: Option<f64>| {
        e.map(|e| match e * 100.0 {
            p if p < 10.0 => format!("{} %", format_approx((p * 10.0).round() / 10.0)),
            p => format!("{} %", format_approx(p.round())),
        })
    };
    match (&p.question, input) {
        (Question::Multi { options, correct }, AnswerInput::Multi { picked, .. }) => {
            let items: Vec<(String, &'static str, Style)> = options
                .iter()
                .enumerate()
                .map(|(i, o)| {
                    let is_right = correct.contains(&i);
                    let was_picked = picked.get(i).copied().unwrap_or(false);
                    let (mark, style) = match (was_picked, is_right) {
                        (true, true) => ("✓", right),
                        (true, false) => ("✗", wrong),
                        (false, true) => ("○", wrong),
                        (false, false) => (" ", Style::default()),
                    };
                    (o.clone(), mark, style)
                })
                .collect();
            doc.push(Line::from(vec![
                Span::styled("Choices ", theme::dim()),
                Span::styled("(✓ right pick · ✗ wrong pick · ○ missed)", theme::dim()),
            ]));
            doc.extend(marked_list(&items, width));
        }
        (Question::Order { steps, correct }, AnswerInput::Order { arrangement, .. }) => {
            let yours: Vec<(String, &'static str, Style)> = arrangement
                .iter()
                .enumerate()
                .map(|(row, &s)| {
                    let ok = correct.get(row) == Some(&s);
                    let text = steps.get(s).cloned().unwrap_or_default();
                    if ok {
                        (text, "✓", right)
                    } else {
                        (text, "✗", wrong)
                    }
                })
                .collect();
            doc.push(Line::from(Span::styled("Your order", theme::dim())));
            doc.extend(marked_list(&yours, width));
            if !g.correct {
                let rights: Vec<(String, &'static str, Style)> = correct
                    .iter()
                    .map(|&s| (steps.get(s).cloned().unwrap_or_default(), " ", right))
                    .collect();
                doc.push(Line::default());
                doc.push(Line::from(Span::styled("Right order", theme::dim())));
                doc.extend(marked_list(&rights, width));
            }
        }
        (Question::Recall { model_answer }, AnswerInput::Recall { input, .. }) => {
            if !input.text.trim().is_empty() {
                doc.extend(labelled(
                    "Your answer",
                    input.text.trim(),
                    width,
                    Style::default(),
                ));
                doc.push(Line::default());
            }
            doc.push(Line::from(Span::styled("Model answer", theme::dim())));
            doc.extend(markdown_lines(model_answer, width));
        }
        (Question::Predict { .. }, _) => {
            doc.extend(labelled(
                "Your estimate",
                &g.answer_text,
                width,
                Style::default(),
            ));
            doc.extend(labelled("Simulated", &g.expected, width, right));
            if let Some(e) = off_by(g.relative_error) {
                doc.extend(labelled("Off by", &e, width, Style::default()));
            }
            if f.report.is_some() {
                doc.push(Line::from(Span::styled(
                    "p plays the run again",
                    theme::dim(),
                )));
            }
        }
        _ => {
            let yours = if g.correct { right } else { wrong };
            doc.extend(labelled("Your answer", &g.answer_text, width, yours));
            // A number is worth seeing exactly even when it was close enough.
            if !g.correct || matches!(p.question, Question::Numeric { .. }) {
                doc.extend(labelled("Right answer", &g.expected, width, right));
            }
            if let (Question::Numeric { .. }, Some(e)) = (&p.question, off_by(g.relative_error)) {
                doc.extend(labelled("Off by", &e, width, Style::default()));
            }
        }
    }
    doc.push(Line::default());
    doc.push(heading("Why"));
    doc.extend(markdown_lines(&p.explanation, width));
    doc
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // Tests panic on failure by design.
mod tests {
    use super::*;
    use crate::learn::quiz::{QuizBank, parse_quiz_bank};
    use crate::learn::quiz_run::{PredictRun, PredictRunner, QuizRun};
    use crate::learn::scheduler::Scheduler;
    use crate::learn::store::Store;
    use std::collections::HashMap;

    const T0: i64 = 1_767_225_600_000; // 2026-01-01T00:00:00Z

    const BANK: &str = r#"card: polling
items:
  - id: p-choice
    kind: choice
    prompt: Mean delay at a 10 s interval?
    choices: ["0 s", "5 s", "10 s"]
    answer: "5 s"
    explanation: Half the interval.
  - id: p-multi
    kind: multi
    prompt: Which grow?
    choices: [a, b, c, d]
    answers: [a, c]
    explanation: a and c.
  - id: p-order
    kind: order
    prompt: Order them.
    steps: [one, two, three, four]
    explanation: Counting.
  - id: p-numeric
    kind: numeric
    prompt: Seconds in a day?
    answer: 86400
    unit: s
    tolerance: { relative: 0.01 }
    explanation: 24 * 3600.
  - id: p-recall
    kind: recall
    prompt: Why poll?
    answer: It is simple.
    explanation: Simplicity.
  - id: p-predict
    kind: predict
    prompt: How long?
    scenario: herd
    params: { clients: 20000, jitter: 0 }
    metric: time_to_all_s
    unit: s
    tolerance: { relative: 0.25 }
    explanation: 20,000 / 4,000 = 5 s.
"#;

    /// A simulation that reports a fixed value, or fails; with `true`, it also
    /// returns a real (small) herd run to play back.
    struct Sim(Result<f64, String>, bool);

    impl PredictRunner for Sim {
        fn run(&self, _: &str, _: &[(String, String)], _: &str) -> Result<PredictRun, String> {
            let report = self.1.then(|| {
                let params = [("clients".to_string(), "100".to_string())];
                Box::new(crate::sim::run_by_name("herd", &params, 7).unwrap())
            });
            self.0.clone().map(|actual| PredictRun { actual, report })
        }
    }

    struct Fixture {
        banks: Vec<QuizBank>,
        store: Store,
        scheduler: Scheduler,
        sim: Sim,
        _dir: tempfile::TempDir,
    }

    fn fixture() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        Fixture {
            banks: vec![parse_quiz_bank("polling.quiz.yaml", BANK).unwrap()],
            store: Store::open(&dir.path().join("progress.db")).unwrap(),
            scheduler: Scheduler::default(),
            sim: Sim(Ok(5.0), false),
            _dir: dir,
        }
    }

    fn app<'a>(f: &'a mut Fixture, ids: &[&str], time_box: Option<Duration>) -> QuizApp<'a> {
        let ids: Vec<String> = ids.iter().map(|s| s.to_string()).collect();
        let session = QuizSession {
            run: QuizRun::new(&f.banks, &ids),
            store: &mut f.store,
            scheduler: &f.scheduler,
            predict: &f.sim,
            banks: &f.banks,
            title: "quiz · polling".into(),
            time_box,
            card_titles: HashMap::new(),
        };
        QuizApp::new(session, (80, 24), Moment::utc(T0))
    }

    fn tick(app: &mut QuizApp<'_>, secs: u64) {
        app.update(QuizAction::Tick {
            now: Moment::utc(T0 + i64::try_from(secs).unwrap() * 1000),
            elapsed: Duration::from_secs(secs),
        });
    }

    fn feedback<'b>(app: &'b QuizApp<'_>) -> &'b Feedback {
        match &app.phase {
            Phase::Feedback(f) => f,
            other => panic!("not on the feedback screen: {other:?}"),
        }
    }

    fn type_text(app: &mut QuizApp<'_>, text: &str) {
        for c in text.chars() {
            app.update(QuizAction::Input(c));
        }
    }

    #[test]
    fn multi_toggles_build_the_set_and_grade_it() {
        let mut f = fixture();
        let mut a = app(&mut f, &["p-multi"], None);
        a.update(QuizAction::Number(0));
        a.update(QuizAction::Number(2));
        assert_eq!(a.response_text().as_deref(), Some("1,3"));
        // Space toggles the highlighted one (the last toggled, 3) off again.
        a.update(QuizAction::Toggle);
        assert_eq!(a.response_text().as_deref(), Some("1"));
        a.update(QuizAction::Select(-2));
        a.update(QuizAction::Toggle);
        assert_eq!(a.response_text().as_deref(), Some(""), "row 1 toggled off");
        a.update(QuizAction::Toggle);
        assert_eq!(a.response_text().as_deref(), Some("1"));
        // Pick exactly the right set, whatever the shuffle.
        let Some(Question::Multi { correct, .. }) = a.presented().map(|p| p.question.clone())
        else {
            panic!("not a multi question")
        };
        let AnswerInput::Multi { picked, .. } = &mut a.input else {
            panic!()
        };
        for (i, p) in picked.iter_mut().enumerate() {
            *p = correct.contains(&i);
        }
        a.update(QuizAction::Submit);
        assert!(feedback(&a).graded.correct);
        assert_eq!(f.store.reviews().unwrap().len(), 1);
    }

    #[test]
    fn an_empty_multi_answer_is_refused_without_recording() {
        let mut f = fixture();
        let mut a = app(&mut f, &["p-multi"], None);
        a.update(QuizAction::Submit);
        assert!(matches!(a.phase, Phase::Question));
        assert!(a.status.as_ref().is_some_and(|s| s.error));
        drop(a);
        assert!(f.store.reviews().unwrap().is_empty());
    }

    #[test]
    fn order_moves_steps_and_grades_the_arrangement() {
        let mut f = fixture();
        let mut a = app(&mut f, &["p-order"], None);
        assert_eq!(a.response_text().as_deref(), Some("1 2 3 4"));
        a.update(QuizAction::MoveStep(1));
        assert_eq!(a.response_text().as_deref(), Some("2 1 3 4"));
        a.update(QuizAction::MoveStep(1));
        assert_eq!(a.response_text().as_deref(), Some("2 3 1 4"));
        a.update(QuizAction::Select(1));
        a.update(QuizAction::MoveStep(-1));
        assert_eq!(a.response_text().as_deref(), Some("2 3 4 1"));
        // Moving past the ends does nothing.
        a.update(QuizAction::Select(10));
        a.update(QuizAction::MoveStep(1));
        assert_eq!(a.response_text().as_deref(), Some("2 3 4 1"));
        // Arrange the right order with the keys: bubble each step into place.
        let Some(Question::Order { correct, .. }) = a.presented().map(|p| p.question.clone())
        else {
            panic!("not an order question")
        };
        for (row, want) in correct.iter().enumerate() {
            let AnswerInput::Order { arrangement, .. } = &a.input else {
                panic!()
            };
            let from = arrangement.iter().position(|s| s == want).unwrap();
            a.update(QuizAction::Number(from));
            for _ in row..from {
                a.update(QuizAction::MoveStep(-1));
            }
        }
        a.update(QuizAction::Submit);
        assert!(feedback(&a).graded.correct);
    }

    #[test]
    fn a_number_key_picks_a_choice_and_the_answer_time_is_measured() {
        let mut f = fixture();
        let mut a = app(&mut f, &["p-choice", "p-numeric"], None);
        tick(&mut a, 3);
        a.update(QuizAction::Select(1));
        assert_eq!(a.response_text().as_deref(), Some("#2"));
        tick(&mut a, 12);
        a.update(QuizAction::Number(5));
        assert!(matches!(a.phase, Phase::Question), "no choice 6");
        assert!(a.status.as_ref().is_some_and(|s| s.text.contains("1 to 3")));
        a.update(QuizAction::Number(0));
        let fb = feedback(&a);
        assert_eq!(fb.graded.elapsed_ms, 12_000);
        // The next question's clock starts when it is shown.
        tick(&mut a, 20);
        a.update(QuizAction::Next);
        tick(&mut a, 27);
        type_text(&mut a, "86,400");
        a.update(QuizAction::Submit);
        let fb = feedback(&a);
        assert!(fb.graded.correct);
        assert_eq!(fb.graded.elapsed_ms, 7_000);
    }

    #[test]
    fn input_that_is_not_a_number_keeps_the_question() {
        let mut f = fixture();
        let mut a = app(&mut f, &["p-numeric"], None);
        type_text(&mut a, "abc");
        a.update(QuizAction::Submit);
        assert!(matches!(a.phase, Phase::Question));
        let status = a.status.clone().unwrap();
        assert!(
            status.error && status.text.contains("not a number"),
            "{status:?}"
        );
        // Editing: the cursor moves, Backspace and Delete remove around it.
        a.update(QuizAction::ClearInput);
        type_text(&mut a, "86400x");
        a.update(QuizAction::Cursor(-1));
        a.update(QuizAction::Delete);
        a.update(QuizAction::CursorEnd(false));
        a.update(QuizAction::Input('+'));
        assert_eq!(a.response_text().as_deref(), Some("+86400"));
        a.update(QuizAction::Backspace);
        a.update(QuizAction::Submit);
        assert!(feedback(&a).graded.correct);
        drop(a);
        assert_eq!(f.store.reviews().unwrap().len(), 1, "only the answer");
    }

    #[test]
    fn recall_reveals_then_self_rates() {
        let mut f = fixture();
        let mut a = app(&mut f, &["p-recall"], None);
        // Rating keys do nothing before the model answer is shown.
        a.update(QuizAction::Rate(Rating::Easy));
        assert!(matches!(a.phase, Phase::Question));
        type_text(&mut a, "simple");
        tick(&mut a, 9);
        a.update(QuizAction::Submit);
        assert!(matches!(
            a.input,
            AnswerInput::Recall { revealed: true, .. }
        ));
        let doc: String = a.doc.iter().map(|l| l.to_string() + "\n").collect();
        assert!(
            doc.contains("Model answer") && doc.contains("It is simple."),
            "{doc}"
        );
        // Text keys no longer edit the answer once it is revealed.
        a.update(QuizAction::Input('x'));
        tick(&mut a, 15);
        a.update(QuizAction::Rate(Rating::Good));
        let fb = feedback(&a);
        assert_eq!(fb.graded.rating, Rating::Good);
        assert_eq!(fb.graded.elapsed_ms, 9_000, "time to the reveal");
        let doc: String = a.doc.iter().map(|l| l.to_string() + "\n").collect();
        assert!(doc.contains("simple"), "{doc}");
    }

    #[test]
    fn predict_simulates_after_showing_the_busy_screen() {
        let mut f = fixture();
        let mut a = app(&mut f, &["p-predict"], None);
        type_text(&mut a, "soon");
        assert_eq!(a.update(QuizAction::Submit), None);
        assert!(a.status.is_some(), "a bad estimate is not simulated");
        a.update(QuizAction::ClearInput);
        type_text(&mut a, "4");
        assert_eq!(a.update(QuizAction::Submit), Some(QuizAction::Simulate));
        assert!(matches!(a.phase, Phase::Simulating));
        a.update(QuizAction::Simulate);
        let fb = feedback(&a);
        assert_eq!(fb.actual, Some(5.0));
        assert!(fb.graded.correct, "4 s is within 25 % of 5 s");
        assert_eq!(fb.graded.relative_error, Some(0.2));
    }

    #[test]
    fn a_predict_run_plays_before_the_score_and_again_on_p() {
        let mut f = fixture();
        f.sim = Sim(Ok(5.0), true);
        let mut a = app(&mut f, &["p-predict"], None);
        type_text(&mut a, "4");
        a.update(QuizAction::Submit);
        a.update(QuizAction::Simulate);
        assert!(
            a.play_run,
            "the run plays as soon as the estimate is scored"
        );
        let (report, banner) = a.playback().unwrap();
        assert_eq!(report.scenario, "herd");
        assert_eq!(banner, "your estimate: 4 s · the score is next: q or Esc");
        a.play_run = false; // the terminal loop clears it after playing
        a.update(QuizAction::PlayRun);
        assert!(a.play_run, "p plays it again");
        a.play_run = false;
        a.update(QuizAction::Next);
        a.update(QuizAction::PlayRun);
        assert!(!a.play_run, "nothing to play off the predict feedback");
    }

    #[test]
    fn a_predict_runner_without_a_run_plays_nothing() {
        let mut f = fixture();
        let mut a = app(&mut f, &["p-predict"], None);
        type_text(&mut a, "4");
        a.update(QuizAction::Submit);
        a.update(QuizAction::Simulate);
        assert!(!a.play_run);
        a.update(QuizAction::PlayRun);
        assert!(!a.play_run);
        assert!(a.playback().is_none());
    }

    #[test]
    fn a_failed_simulation_skips_the_item_without_recording() {
        let mut f = fixture();
        f.sim = Sim(Err("no such scenario".into()), false);
        let mut a = app(&mut f, &["p-predict", "p-choice"], None);
        type_text(&mut a, "5");
        let next = a.update(QuizAction::Submit);
        a.update(next.unwrap());
        assert!(matches!(a.input, AnswerInput::Choice { .. }));
        assert!(
            a.status
                .as_ref()
                .is_some_and(|s| s.text.contains("no such scenario"))
        );
        assert_eq!(a.session.run.skipped.len(), 1);
        drop(a);
        assert!(f.store.reviews().unwrap().is_empty());
    }

    #[test]
    fn finishing_early_shows_the_summary_only_after_an_answer() {
        let mut f = fixture();
        let mut a = app(&mut f, &["p-choice", "p-numeric"], None);
        a.update(QuizAction::Finish);
        assert!(a.quit, "nothing answered: leave at once");

        let mut f = fixture();
        let mut a = app(&mut f, &["p-choice", "p-numeric", "p-recall"], None);
        a.update(QuizAction::Number(0));
        a.update(QuizAction::Finish);
        let Phase::Summary(s) = &a.phase else {
            panic!("no summary")
        };
        assert_eq!(s.reason, EndReason::Stopped);
        assert_eq!(s.summary.answered, 1);
        assert_eq!(s.left, 2);
        assert!(!a.quit);
    }

    #[test]
    fn the_time_box_ends_the_session_after_the_open_question() {
        let mut f = fixture();
        let mut a = app(
            &mut f,
            &["p-choice", "p-numeric", "p-recall"],
            Some(Duration::from_secs(60)),
        );
        tick(&mut a, 61);
        assert!(a.time_up());
        // The open question can still be answered.
        a.update(QuizAction::Number(1));
        assert!(matches!(a.phase, Phase::Feedback(_)));
        let note = view::answer_lines(&a).0;
        assert!(note[0].to_string().starts_with("Time is up"), "{note:?}");
        a.update(QuizAction::Next);
        let Phase::Summary(s) = &a.phase else {
            panic!("no summary")
        };
        assert_eq!(s.reason, EndReason::TimeUp);
        assert_eq!(s.left, 2);
        assert_eq!(s.session, Duration::from_secs(61));
    }

    #[test]
    fn time_up_on_the_last_question_is_simply_done() {
        let mut f = fixture();
        let mut a = app(&mut f, &["p-choice"], Some(Duration::from_secs(10)));
        tick(&mut a, 30);
        a.update(QuizAction::Number(1));
        a.update(QuizAction::Next);
        let Phase::Summary(s) = &a.phase else {
            panic!("no summary")
        };
        assert_eq!((s.reason, s.left), (EndReason::Done, 0));
    }

    #[test]
    fn the_last_answer_leads_to_the_summary_and_help_blocks_other_keys() {
        let mut f = fixture();
        let mut a = app(&mut f, &["p-choice"], None);
        a.update(QuizAction::ToggleHelp);
        a.update(QuizAction::Number(0));
        assert!(matches!(a.phase, Phase::Question), "help has the keyboard");
        a.update(QuizAction::ToggleHelp);
        a.update(QuizAction::Number(0));
        a.update(QuizAction::Next);
        let Phase::Summary(s) = &a.phase else {
            panic!("no summary")
        };
        assert_eq!((s.reason, s.left), (EndReason::Done, 0));
        assert_eq!(s.summary.answered, 1);
        a.update(QuizAction::Quit);
        assert!(a.quit);
        assert_eq!(a.results().len(), 1);
    }

    #[test]
    fn scrolling_stays_within_the_text() {
        let mut f = fixture();
        let mut a = app(&mut f, &["p-choice"], None);
        a.update(QuizAction::Page(5));
        assert_eq!(a.scroll, 0, "a short prompt does not scroll");
        a.update(QuizAction::Number(0));
        a.update(QuizAction::Resize(30, 9));
        a.update(QuizAction::Bottom);
        let max = a.doc.len().saturating_sub(a.doc_height());
        assert!(max > 0, "the feedback does not fit 30x9");
        assert_eq!(a.scroll, max);
        a.update(QuizAction::Scroll(-100));
        assert_eq!(a.scroll, 0);
    }
}

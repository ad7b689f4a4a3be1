//! Pure rendering of the quiz screens: the title bar (session, question k/N, time,
//! card), the question pane (prompt above, the kind's answer widget below, and the
//! status message under it: why an input is not an answer), the feedback, the session summary and the help overlay. Reads
//! [`QuizApp`], never changes it; [`question_regions`] is the one geometry both this
//! module and `update` (for scroll limits) use.

use super::app::{AnswerInput, EndReason, Phase, QuizApp, Summary, TextInput, rating_style};
use super::keys::{self, KeyMode, RATE_KEYS};
use crate::learn::grade::Question;
use crate::output::theme;
use crate::tui::widgets::{
    centered, clock, duration_words, footer, hanging, help_overlay, pane, percent, title_bar,
};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span, Text};
use ratatui::widgets::{Clear, Paragraph, Scrollbar, ScrollbarOrientation, ScrollbarState};
use unicode_width::UnicodeWidthStr;

/// Where the parts of the question screen go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuestionRegions {
    /// The bordered pane.
    pub pane: Rect,
    /// The question or feedback text.
    pub doc: Rect,
    /// The answer widget (empty on the feedback screen).
    pub answer: Rect,
    /// Rows of text visible (`doc.height`).
    pub doc_height: usize,
}

/// Rows the prompt keeps even when a long answer widget wants them.
const MIN_DOC_ROWS: usize = 4;

/// The question screen's geometry for `app`'s terminal size.
pub fn question_regions(app: &QuizApp<'_>) -> QuestionRegions {
    let (w, h) = app.size;
    let pane_width = app.pane_width();
    let pane = Rect {
        x: (w - pane_width) / 2,
        y: 1,
        width: pane_width,
        height: h.saturating_sub(2),
    };
    let inner = Rect {
        x: pane.x + 2,
        y: pane.y + 1,
        width: pane.width.saturating_sub(4),
        height: pane.height.saturating_sub(2),
    };
    let rows = usize::from(inner.height);
    let answer_rows = answer_lines(app).0.len();
    let gap = usize::from(answer_rows > 0);
    let min_doc = app.doc.len().clamp(1, MIN_DOC_ROWS);
    let answer_h = answer_rows.min(rows.saturating_sub(gap + min_doc));
    let doc_h = rows.saturating_sub(gap + answer_h);
    // The answer sits right under a short prompt rather than at the bottom.
    let doc_shown = if answer_rows > 0 {
        doc_h.min(app.doc.len().max(1))
    } else {
        doc_h
    };
    let doc = Rect {
        height: u16::try_from(doc_h).unwrap_or(0),
        ..inner
    };
    let answer = Rect {
        y: inner.y + u16::try_from(doc_shown + gap).unwrap_or(0),
        height: u16::try_from(answer_h).unwrap_or(0),
        ..inner
    };
    QuestionRegions {
        pane,
        doc,
        answer,
        doc_height: doc_h,
    }
}

/// Draws the whole screen.
pub fn render(app: &QuizApp<'_>, frame: &mut Frame) {
    let [top, _, bottom] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(1),
        Constraint::Length(1),
    ])
    .areas(frame.area());
    render_title(app, frame, top);
    let mode = KeyMode::of(app);
    match &app.phase {
        Phase::Summary(s) => render_summary(s, frame),
        _ => render_question(app, frame),
    }
    footer(frame, bottom, keys::hints(mode));
    if app.help {
        help_overlay(
            frame,
            &keys::help(KeyMode::screen(app)),
            "Every answer is saved as it is given.",
        );
    }
}

fn render_title(app: &QuizApp<'_>, frame: &mut Frame, area: Rect) {
    let mut left = vec![
        Span::styled(" swelearn ", theme::accent()),
        Span::styled(format!("· {} ", app.session.title), theme::dim()),
    ];
    let run = &app.session.run;
    let in_session = !matches!(app.phase, Phase::Summary(_));
    if in_session && let Some(p) = app.presented() {
        let title = app
            .session
            .card_titles
            .get(&p.card)
            .cloned()
            .unwrap_or_else(|| p.card.clone());
        left.push(Span::styled(
            format!("· {title} "),
            Style::default().add_modifier(Modifier::BOLD),
        ));
    }
    // The summary shows the session's length; the clock stops there.
    let elapsed = match &app.phase {
        Phase::Summary(s) => clock(s.session.as_secs()),
        _ => clock(app.elapsed.as_secs()),
    };
    let mut right = if in_session {
        format!("{}/{} · {elapsed}", run.position(), run.len())
    } else {
        format!("done · {elapsed}")
    };
    if let Some(rem) = app.remaining() {
        if rem.is_zero() {
            right.push_str(" · time's up");
        } else {
            // Round up so "00:00 left" is never shown while time remains.
            let secs = rem.as_secs() + u64::from(rem.subsec_nanos() > 0);
            right.push_str(&format!(" · {} left", clock(secs)));
        }
    }
    right.push(' ');
    title_bar(frame, area, left, &right);
}

fn render_question(app: &QuizApp<'_>, frame: &mut Frame) {
    let r = question_regions(app);
    let title = match (&app.phase, app.presented()) {
        (Phase::Feedback(_), Some(p)) => format!(" {} · answer ", p.kind),
        (_, Some(p)) => format!(
            " {} · about {} ",
            p.kind,
            duration_words(u64::from(p.expected_seconds) * 1000)
        ),
        _ => " Question ".to_string(),
    };
    let mut block = pane(title, true);
    if app.doc.len() > r.doc_height {
        let end = (app.scroll + r.doc_height).min(app.doc.len());
        block = block.title_bottom(
            Line::from(Span::styled(
                format!(" {end}/{} lines · PgDn more ", app.doc.len()),
                theme::dim(),
            ))
            .right_aligned(),
        );
    }
    frame.render_widget(block, r.pane);
    let end = (app.scroll + r.doc_height).min(app.doc.len());
    let shown: Vec<Line> = app.doc[app.scroll.min(end)..end].to_vec();
    frame.render_widget(Paragraph::new(Text::from(shown)), r.doc);
    if app.doc.len() > r.doc_height && r.doc_height > 0 {
        let mut state =
            ScrollbarState::new(app.doc.len().saturating_sub(r.doc_height)).position(app.scroll);
        frame.render_stateful_widget(
            Scrollbar::new(ScrollbarOrientation::VerticalRight)
                .begin_symbol(None)
                .end_symbol(None),
            Rect {
                x: r.pane.x + r.pane.width.saturating_sub(1),
                y: r.doc.y,
                width: 1,
                height: r.doc.height,
            },
            &mut state,
        );
    }
    if r.answer.height > 0 {
        let (lines, selected) = answer_lines(app);
        // Keep the highlighted choice in view when the list is taller than its room.
        let height = usize::from(r.answer.height);
        let offset = selected.map_or(0, |(_, last)| (last + 1).saturating_sub(height));
        let shown: Vec<Line> = lines.into_iter().skip(offset).take(height).collect();
        frame.render_widget(Paragraph::new(Text::from(shown)), r.answer);
        // The input is the first answer line; put the terminal cursor in it.
        let label = match &app.input {
            AnswerInput::Numeric(_) => "Answer",
            AnswerInput::Predict(_) => "Estimate",
            _ => "Your answer",
        };
        if let (Some(t), Phase::Question, false) = (app.input.text_input(), &app.phase, app.help) {
            let before: String = t.text.chars().take(t.cursor).collect();
            let x = usize::from(r.answer.x) + input_indent(label) + before.width();
            let right = r.answer.x + r.answer.width.saturating_sub(1);
            let x = u16::try_from(x).unwrap_or(u16::MAX).min(right);
            frame.set_cursor_position((x, r.answer.y));
        }
    }
}

/// The answer widget's lines for the open question (with the status message under
/// it), and the rows (first, last) of the highlighted choice or step. On the feedback
/// screen only a note when time is up.
pub fn answer_lines(app: &QuizApp<'_>) -> (Vec<Line<'static>>, Option<(usize, usize)>) {
    let note = Style::default().fg(Color::Yellow);
    match (&app.phase, app.presented()) {
        (Phase::Feedback(_), _) if app.time_up() => {
            return (
                vec![Line::from(Span::styled(
                    "Time is up: Enter shows the session summary.",
                    note,
                ))],
                None,
            );
        }
        (Phase::Question | Phase::Simulating, Some(_)) => {}
        _ => return (Vec::new(), None),
    }
    let (mut lines, selected) = widget_lines(app);
    let width = app.text_width();
    let message = match &app.status {
        Some(s) if s.error => Some((
            s.text.as_str(),
            "! ",
            Style::default()
                .fg(Color::Yellow)
                .add_modifier(Modifier::BOLD),
        )),
        Some(s) => Some((s.text.as_str(), "", theme::dim())),
        None if app.time_up() => Some((
            "Time is up: answer this last question and the session ends.",
            "",
            note,
        )),
        None => None,
    };
    if let Some((text, mark, style)) = message {
        lines.push(Line::default());
        lines.extend(hanging(
            vec![Span::styled(mark, style)],
            vec![Span::raw(" ".repeat(mark.len()))],
            text,
            width,
            style,
        ));
    }
    (lines, selected)
}

/// The kind's answer widget: choices, steps, or an input.
fn widget_lines(app: &QuizApp<'_>) -> (Vec<Line<'static>>, Option<(usize, usize)>) {
    let Some(p) = app.presented() else {
        return (Vec::new(), None);
    };
    let width = app.text_width();
    let mut lines = Vec::new();
    let mut selected_rows = None;
    let accent = theme::accent();
    let picked_style = Style::default().add_modifier(Modifier::BOLD);
    let mut push_row = |lines: &mut Vec<Line<'static>>,
                        marker: &str,
                        label: String,
                        text: &str,
                        highlighted: bool| {
        let first_row = lines.len();
        let lead = if highlighted {
            Span::styled(format!("{marker} "), accent)
        } else {
            Span::raw(format!("{} ", " ".repeat(marker.chars().count())))
        };
        let label_style = if highlighted { accent } else { theme::dim() };
        let indent = 2 + label.chars().count();
        let style = if highlighted {
            picked_style
        } else {
            Style::default()
        };
        lines.extend(hanging(
            vec![lead, Span::styled(label, label_style)],
            vec![Span::raw(" ".repeat(indent))],
            text,
            width,
            style,
        ));
        if highlighted {
            selected_rows = Some((first_row, lines.len().saturating_sub(1)));
        }
    };
    match (&p.question, &app.input) {
        (Question::Choice { options, .. }, AnswerInput::Choice { selected }) => {
            for (i, o) in options.iter().enumerate() {
                push_row(&mut lines, "›", format!("{}. ", i + 1), o, i == *selected);
            }
        }
        (Question::Multi { options, .. }, AnswerInput::Multi { selected, picked }) => {
            for (i, o) in options.iter().enumerate() {
                let mark = if picked.get(i).copied().unwrap_or(false) {
                    "[x]"
                } else {
                    "[ ]"
                };
                push_row(
                    &mut lines,
                    "›",
                    format!("{mark} {}. ", i + 1),
                    o,
                    i == *selected,
                );
            }
        }
        (
            Question::Order { steps, .. },
            AnswerInput::Order {
                selected,
                arrangement,
            },
        ) => {
            for (row, &s) in arrangement.iter().enumerate() {
                let text = steps.get(s).map_or("", String::as_str);
                push_row(
                    &mut lines,
                    "↕",
                    format!("{}. ", row + 1),
                    text,
                    row == *selected,
                );
            }
        }
        (
            Question::Numeric {
                unit, tolerance, ..
            },
            AnswerInput::Numeric(t),
        ) => {
            lines.push(input_line("Answer", t, unit));
            lines.push(Line::from(Span::styled(
                format!(
                    "{:8}right within {} · 12,000  12k  1.5M  2e6 all work",
                    "",
                    tolerance.describe(unit)
                ),
                theme::dim(),
            )));
        }
        (
            Question::Predict {
                scenario,
                unit,
                tolerance,
                ..
            },
            AnswerInput::Predict(t),
        ) => {
            if matches!(app.phase, Phase::Simulating) {
                lines.push(Line::from(vec![
                    Span::styled("Estimate ", theme::dim()),
                    Span::raw(format!("{} {unit}", t.text.trim())),
                ]));
                lines.push(Line::from(Span::styled(
                    format!("simulating {scenario}…"),
                    accent,
                )));
            } else {
                lines.push(input_line("Estimate", t, unit));
                lines.push(Line::from(Span::styled(
                    format!(
                        "{:10}right within {} of the simulated value",
                        "",
                        tolerance.describe("")
                    ),
                    theme::dim(),
                )));
            }
        }
        (Question::Recall { .. }, AnswerInput::Recall { input, revealed }) => {
            if *revealed {
                lines.push(Line::from(Span::styled(
                    "How well did you recall it?",
                    Style::default().add_modifier(Modifier::BOLD),
                )));
                let mut spans = Vec::new();
                for (k, r) in RATE_KEYS {
                    spans.push(Span::styled(format!(" {k} "), accent));
                    spans.push(Span::styled(r.to_string(), rating_style(r)));
                    spans.push(Span::raw("   "));
                }
                lines.push(Line::from(spans));
            } else {
                lines.push(input_line("Your answer", input, ""));
                lines.push(Line::from(Span::styled(
                    format!(
                        "{:13}optional: think it through, then Enter shows the model answer",
                        ""
                    ),
                    theme::dim(),
                )));
            }
        }
        _ => {}
    }
    (lines, selected_rows)
}

/// `Label › text▌ unit` with the cursor shown in reverse video.
/// `Label › text unit`; the terminal's own cursor marks the editing position (see
/// [`render_question`]), which also shows without colours and attributes.
fn input_line(label: &str, t: &TextInput, unit: &str) -> Line<'static> {
    let mut spans = vec![
        Span::styled(format!("{label} "), theme::dim()),
        Span::styled("› ", theme::accent()),
        Span::styled(
            t.text.clone(),
            Style::default().add_modifier(Modifier::BOLD),
        ),
    ];
    if !unit.is_empty() {
        spans.push(Span::styled(format!(" {unit}"), theme::dim()));
    }
    Line::from(spans)
}

/// Columns before the text of an [`input_line`] labelled `label`.
fn input_indent(label: &str) -> usize {
    label.width() + 3
}

fn render_summary(s: &Summary, frame: &mut Frame) {
    let sum = &s.summary;
    let label = |t: &str| Span::styled(format!(" {t:<13}"), theme::dim());
    let mut lines = Vec::new();
    let headline = match s.reason {
        EndReason::Done => "Session complete.".to_string(),
        EndReason::TimeUp => format!(
            "Time's up. {} planned question{} left for next time.",
            s.left,
            if s.left == 1 { "" } else { "s" }
        ),
        EndReason::Stopped => format!(
            "Stopped early. {} planned question{} not asked.",
            s.left,
            if s.left == 1 { "" } else { "s" }
        ),
    };
    lines.push(Line::from(Span::styled(
        format!(" {headline}"),
        theme::accent(),
    )));
    lines.push(Line::default());
    let plural = |n: u32, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    lines.push(Line::from(vec![
        label("Answered"),
        Span::raw(plural(sum.answered, "question")),
    ]));
    let accuracy = match sum.accuracy {
        Some(a) => format!("{} ({} of {} right)", percent(a), sum.correct, sum.answered),
        None => "—".to_string(),
    };
    lines.push(Line::from(vec![label("Accuracy"), Span::raw(accuracy)]));
    let r = sum.ratings;
    let mut ratings = vec![label("Ratings")];
    for (n, rating) in [
        (r.again, crate::learn::scheduler::Rating::Again),
        (r.hard, crate::learn::scheduler::Rating::Hard),
        (r.good, crate::learn::scheduler::Rating::Good),
        (r.easy, crate::learn::scheduler::Rating::Easy),
    ] {
        ratings.push(Span::styled(format!("{rating} "), rating_style(rating)));
        ratings.push(Span::raw(format!("{n}   ")));
    }
    lines.push(Line::from(ratings));
    lines.push(Line::from(vec![
        label("Time spent"),
        Span::raw(format!(
            "{} answering · {} in all",
            duration_words(sum.time_spent_ms),
            duration_words(u64::try_from(s.session.as_millis()).unwrap_or(u64::MAX))
        )),
    ]));
    let due = if sum.due_remaining == 0 {
        "nothing due now".to_string()
    } else {
        format!("{} due now", plural(sum.due_remaining, "item"))
    };
    lines.push(Line::from(vec![label("Still due"), Span::raw(due)]));
    let next = sum
        .next_due_date
        .clone()
        .unwrap_or_else(|| "nothing scheduled".to_string());
    lines.push(Line::from(vec![label("Next due"), Span::raw(next)]));
    let st = sum.streak;
    let mut streak = format!(
        "{} (longest {})",
        plural(st.current_days, "day"),
        st.longest_days
    );
    if st.reviewed_today {
        streak.push_str(" · studied today");
    }
    lines.push(Line::from(vec![label("Streak"), Span::raw(streak)]));
    if let Some(first) = s.skipped.first() {
        lines.push(Line::default());
        let more = match s.skipped.len() {
            1 => String::new(),
            n => format!(" (and {} more)", n - 1),
        };
        lines.push(Line::from(Span::styled(
            format!(" Skipped: {first}{more}"),
            Style::default().fg(Color::Yellow),
        )));
    }
    lines.push(Line::default());
    lines.push(Line::from(Span::styled(
        " Every answer is saved; swelearn stats shows your progress.",
        theme::dim(),
    )));
    let height = u16::try_from(lines.len() + 2).unwrap_or(u16::MAX);
    let body = frame.area();
    let body = Rect {
        y: body.y + 1,
        height: body.height.saturating_sub(2),
        ..body
    };
    let area = centered(body, 72, height);
    frame.render_widget(Clear, area);
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(ratatui::widgets::Wrap { trim: false })
            .block(pane(" Session summary ", true)),
        area,
    );
}

//! The stats screen (Elm style, in one module): what is due, retention estimates and
//! the streak, a 30-day due forecast and a 30-day review history as bar charts, and
//! per-card mastery as a scrollable table.
//!
//! It renders [`Stats`] (computed by `learn::stats`, never changed here). On a wide,
//! tall terminal everything is on one screen; at 80x24 the numbers and charts and the
//! card table are two tabs. [`StatsApp::update`] is the only place state changes,
//! [`stats_action_for`] maps keys, [`render`] is pure, and [`run_stats`] owns the
//! terminal (restored on every exit path, see [`super::enter_terminal`]).

use super::widgets::{
    centered, footer, help_overlay, monochrome, pane, percent, title_bar, truncate,
};
use crate::config::Config;
use crate::learn::stats::{DayCount, MASTERY_STABILITY_DAYS, Stats};
use crate::output::theme;
use ratatui::Frame;
use ratatui::crossterm::event::{
    self, Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseEventKind,
};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{
    Bar, BarChart, BarGroup, Cell, Padding, Paragraph, Row, Scrollbar, ScrollbarOrientation,
    ScrollbarState, Table, TableState, Tabs,
};
use std::collections::HashMap;
use std::io::IsTerminal;

/// Everything the user can ask the stats screen to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatsAction {
    /// Leave.
    Quit,
    /// Move the card selection by this many rows; negative is up.
    Move(i32),
    /// Move the card selection by pages; negative is up.
    Page(i32),
    /// Select the first card.
    Top,
    /// Select the last card.
    Bottom,
    /// Show the next (1) or previous (-1) tab.
    NextTab(i32),
    /// Show this tab.
    ShowTab(StatsTab),
    /// Show or hide the key help.
    ToggleHelp,
    /// The terminal was resized to (columns, rows).
    Resize(u16, u16),
}

/// The tabs of a small terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatsTab {
    /// Due counts, retention, streak and the charts.
    Overview,
    /// Per-card mastery.
    Cards,
}

/// Terminals at least this wide and tall show everything without tabs.
pub const WIDE: (u16, u16) = (110, 32);

/// The stats screen's state.
pub struct StatsApp<'a> {
    /// What is shown.
    pub stats: &'a Stats,
    /// Card id -> title.
    pub card_titles: &'a HashMap<String, String>,
    /// The tab shown on a small terminal.
    pub tab: StatsTab,
    /// Index of the highlighted card.
    pub selected: usize,
    /// Whether the key help is shown.
    pub help: bool,
    /// Terminal size (columns, rows).
    pub size: (u16, u16),
    /// Set when the program should leave.
    pub quit: bool,
}

impl<'a> StatsApp<'a> {
    pub fn new(
        stats: &'a Stats,
        card_titles: &'a HashMap<String, String>,
        size: (u16, u16),
    ) -> Self {
        StatsApp {
            stats,
            card_titles,
            tab: StatsTab::Overview,
            selected: 0,
            help: false,
            size,
            quit: false,
        }
    }

    /// Whether everything fits on one screen.
    pub fn wide(&self) -> bool {
        self.size.0 >= WIDE.0 && self.size.1 >= WIDE.1
    }

    /// Rows of cards visible in the table.
    fn table_rows(&self) -> usize {
        usize::from(self.size.1.saturating_sub(7)).max(1)
    }

    /// Applies one action.
    pub fn update(&mut self, action: StatsAction) {
        let last = self.stats.cards.len().saturating_sub(1);
        let move_by = |sel: usize, d: i64| (sel as i64 + d).clamp(0, last as i64) as usize;
        match action {
            StatsAction::Quit => self.quit = true,
            StatsAction::ToggleHelp => self.help = !self.help,
            StatsAction::Resize(w, h) => self.size = (w, h),
            _ if self.help => {}
            StatsAction::Move(d) => {
                self.selected = move_by(self.selected, i64::from(d));
                self.show_cards();
            }
            StatsAction::Page(d) => {
                let page = self.table_rows().saturating_sub(1).max(1) as i64;
                self.selected = move_by(self.selected, i64::from(d) * page);
                self.show_cards();
            }
            StatsAction::Top => {
                self.selected = 0;
                self.show_cards();
            }
            StatsAction::Bottom => {
                self.selected = last;
                self.show_cards();
            }
            StatsAction::NextTab(_) => {
                self.tab = match self.tab {
                    StatsTab::Overview => StatsTab::Cards,
                    StatsTab::Cards => StatsTab::Overview,
                };
            }
            StatsAction::ShowTab(t) => self.tab = t,
        }
    }

    /// Moving through the cards on a small terminal brings their tab up.
    fn show_cards(&mut self) {
        if !self.wide() {
            self.tab = StatsTab::Cards;
        }
    }

    fn title_of(&self, card: &str) -> String {
        self.card_titles
            .get(card)
            .cloned()
            .unwrap_or_else(|| card.to_string())
    }
}

/// Maps a terminal event to an action.
pub fn stats_action_for(event: &Event, help: bool) -> Option<StatsAction> {
    use StatsAction as A;
    match event {
        Event::Key(key) if key.kind != KeyEventKind::Release => key_action(key, help),
        Event::Mouse(m) => match m.kind {
            MouseEventKind::ScrollDown => Some(A::Move(3)),
            MouseEventKind::ScrollUp => Some(A::Move(-3)),
            _ => None,
        },
        Event::Resize(w, h) => Some(A::Resize(*w, *h)),
        _ => None,
    }
}

fn key_action(key: &KeyEvent, help: bool) -> Option<StatsAction> {
    use StatsAction as A;
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    if ctrl && key.code == KeyCode::Char('c') {
        return Some(A::Quit);
    }
    if help {
        return match key.code {
            KeyCode::Char('?' | 'q') | KeyCode::Esc | KeyCode::Enter => Some(A::ToggleHelp),
            _ => None,
        };
    }
    let action = match key.code {
        KeyCode::Char('q') | KeyCode::Esc => A::Quit,
        KeyCode::Char('?') => A::ToggleHelp,
        KeyCode::Char('j') | KeyCode::Down => A::Move(1),
        KeyCode::Char('k') | KeyCode::Up => A::Move(-1),
        KeyCode::Char('d') if ctrl => A::Page(1),
        KeyCode::Char('u') if ctrl => A::Page(-1),
        KeyCode::PageDown | KeyCode::Char(' ') => A::Page(1),
        KeyCode::PageUp | KeyCode::Char('b') => A::Page(-1),
        KeyCode::Char('g') | KeyCode::Home => A::Top,
        KeyCode::Char('G') | KeyCode::End => A::Bottom,
        KeyCode::Tab | KeyCode::Char('l') | KeyCode::Right => A::NextTab(1),
        KeyCode::BackTab | KeyCode::Char('h') | KeyCode::Left => A::NextTab(-1),
        KeyCode::Char('1') => A::ShowTab(StatsTab::Overview),
        KeyCode::Char('2') => A::ShowTab(StatsTab::Cards),
        _ => return None,
    };
    Some(action)
}

/// The help overlay's rows.
const HELP: &[(&str, &str)] = &[
    ("Tab h l  ← →", "switch between overview and cards"),
    ("1 2", "overview / cards"),
    ("j k  ↓ ↑", "move through the cards"),
    ("PgDn PgUp  Space b", "one page of cards"),
    ("g G  Home End", "first / last card"),
    ("mouse wheel", "scroll the cards"),
    ("?", "this help"),
    ("q Esc  Ctrl-c", "quit"),
];

/// Draws the whole screen.
pub fn render(app: &StatsApp<'_>, frame: &mut Frame) {
    let area = frame.area();
    let [top, body, bottom] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(3),
        Constraint::Length(1),
    ])
    .areas(area);
    let s = app.stats;
    title_bar(
        frame,
        top,
        vec![
            Span::styled(" swelearn ", theme::accent()),
            Span::styled("· stats", theme::dim()),
        ],
        &format!(
            "{} of {} items seen · today {} ",
            s.items_reviewed, s.items_total, s.today
        ),
    );
    if app.wide() {
        let [left, right] =
            Layout::horizontal([Constraint::Length(64), Constraint::Min(30)]).areas(body);
        render_overview(app, frame, left);
        render_cards(app, frame, right);
        footer(
            frame,
            bottom,
            &[
                ("j/k", "cards"),
                ("g/G", "first/last"),
                ("?", "keys"),
                ("q", "quit"),
            ],
        );
    } else {
        let [tabs, rest] =
            Layout::vertical([Constraint::Length(1), Constraint::Min(1)]).areas(body);
        let selected = match app.tab {
            StatsTab::Overview => 0,
            StatsTab::Cards => 1,
        };
        frame.render_widget(
            Tabs::new(vec![" 1 Overview ", " 2 Cards "])
                .select(selected)
                .style(theme::dim())
                .highlight_style(theme::accent().add_modifier(Modifier::REVERSED))
                .divider("│"),
            tabs,
        );
        match app.tab {
            StatsTab::Overview => render_overview(app, frame, rest),
            StatsTab::Cards => render_cards(app, frame, rest),
        }
        let hints: &[(&str, &str)] = match app.tab {
            StatsTab::Overview => &[("Tab", "cards"), ("?", "keys"), ("q", "quit")],
            StatsTab::Cards => &[
                ("j/k", "move"),
                ("Tab", "overview"),
                ("?", "keys"),
                ("q", "quit"),
            ],
        };
        footer(frame, bottom, hints);
    }
    if app.help {
        help_overlay(
            frame,
            HELP,
            "Plain output: swelearn stats --json (or pipe it).",
        );
    }
}

/// The three number boxes and the two charts.
fn render_overview(app: &StatsApp<'_>, frame: &mut Frame, area: Rect) {
    let [boxes, forecast, history] = Layout::vertical([
        Constraint::Length(6),
        Constraint::Fill(1),
        Constraint::Fill(1),
    ])
    .areas(area);
    let [due, retention, streak] = Layout::horizontal([
        Constraint::Ratio(1, 3),
        Constraint::Ratio(1, 3),
        Constraint::Ratio(1, 3),
    ])
    .areas(boxes);
    let s = app.stats;
    let num = |n: u32| n.to_string();
    number_box(
        frame,
        due,
        " Due ",
        &[
            ("now", num(s.due_now), s.due_now > 0),
            ("today", num(s.due_today), false),
            ("this week", num(s.due_this_week), false),
            ("new", num(s.items_new), false),
        ],
    );
    let r = &s.retention;
    let or_dash = |v: Option<f64>| v.map_or_else(|| "—".to_string(), percent);
    number_box(
        frame,
        retention,
        " Retention ",
        &[
            ("recall now", or_dash(r.mean_retrievability), false),
            ("target", percent(f64::from(r.desired)), false),
            ("right, 30 d", or_dash(r.accuracy_30d), false),
            ("reviews", format!("{} in 30 d", r.reviews_30d), false),
        ],
    );
    let st = &s.streak;
    let days = |n: u32| format!("{n} day{}", if n == 1 { "" } else { "s" });
    number_box(
        frame,
        streak,
        " Streak ",
        &[
            ("current", days(st.current_days), st.current_days > 0),
            ("longest", days(st.longest_days), false),
            (
                "today",
                if st.reviewed_today {
                    "✓ studied".to_string()
                } else {
                    "not yet".to_string()
                },
                false,
            ),
            (
                "seen",
                format!("{}/{}", s.items_reviewed, s.items_total),
                false,
            ),
        ],
    );
    let total: u32 = s.forecast.iter().map(|d| d.count).sum();
    let none_due = if s.items_reviewed == 0 {
        "nothing is scheduled yet: answer a few questions first"
    } else {
        "nothing falls due in the next 30 days"
    };
    day_chart(
        frame,
        forecast,
        &format!(" Due · next 30 days · {total} in all "),
        &s.forecast,
        Color::Cyan,
        none_due,
    );
    let reviews: u32 = s.history.iter().map(|d| d.count).sum();
    day_chart(
        frame,
        history,
        &format!(" Reviews · last 30 days · {reviews} in all "),
        &s.history,
        Color::Green,
        "no reviews yet: `swelearn practice` starts a session",
    );
}

/// A bordered box of label/value rows; `hot` values are highlighted.
fn number_box(frame: &mut Frame, area: Rect, title: &str, rows: &[(&str, String, bool)]) {
    let inner_width = usize::from(area.width.saturating_sub(4));
    let lines: Vec<Line> = rows
        .iter()
        .map(|(label, value, hot)| {
            let style = if *hot {
                theme::accent()
            } else {
                Style::default().add_modifier(Modifier::BOLD)
            };
            let pad = inner_width.saturating_sub(label.chars().count() + value.chars().count());
            Line::from(vec![
                Span::styled(label.to_string(), theme::dim()),
                Span::raw(" ".repeat(pad.max(1))),
                Span::styled(value.clone(), style),
            ])
        })
        .collect();
    let block = pane(title.to_string(), false);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let text_area = Rect {
        x: inner.x + 1,
        width: inner.width.saturating_sub(2),
        ..inner
    };
    frame.render_widget(Paragraph::new(lines), text_area);
}

/// A bar per day with the first, middle and last dates under it.
fn day_chart(
    frame: &mut Frame,
    area: Rect,
    title: &str,
    days: &[DayCount],
    color: Color,
    empty_note: &str,
) {
    let peak = days.iter().map(|d| d.count).max().unwrap_or(0);
    let mut block = pane(title.to_string(), false);
    if peak > 0 {
        block = block.title_bottom(
            Line::from(Span::styled(format!(" peak {peak}/day "), theme::dim())).right_aligned(),
        );
    }
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let inner = Rect {
        x: inner.x + 1,
        width: inner.width.saturating_sub(2),
        ..inner
    };
    if inner.height < 2 || days.is_empty() {
        return;
    }
    if peak == 0 {
        let note = Paragraph::new(Line::from(Span::styled(
            truncate(empty_note, usize::from(inner.width)),
            theme::dim(),
        )))
        .centered();
        frame.render_widget(note, centered(inner, inner.width, 1));
        return;
    }
    let n = u16::try_from(days.len()).unwrap_or(u16::MAX);
    // Bars one column wide with a gap when there is room, without one otherwise.
    let (bar_width, gap) = if inner.width >= 3 * n - 1 {
        (2, 1)
    } else if inner.width >= 2 * n - 1 {
        (1, 1)
    } else {
        (1, 0)
    };
    let bars: Vec<Bar> = days
        .iter()
        .map(|d| {
            let style = if d.day_offset == 0 {
                Style::default().fg(color).add_modifier(Modifier::BOLD)
            } else {
                Style::default().fg(color)
            };
            Bar::default()
                .value(u64::from(d.count))
                .text_value(String::new())
                .style(style)
        })
        .collect();
    let [chart, axis] = Layout::vertical([Constraint::Min(1), Constraint::Length(1)]).areas(inner);
    frame.render_widget(
        BarChart::default()
            .data(BarGroup::default().bars(&bars))
            .bar_width(bar_width)
            .bar_gap(gap),
        chart,
    );
    // Dates under the first, middle and last bars ("today" for today).
    let step = bar_width + gap;
    let span = (n * step).saturating_sub(gap);
    let mut label = vec![' '; usize::from(span.max(inner.width))];
    let mid = days.len() / 2;
    for (i, align) in [(0, 0), (mid, 1), (days.len() - 1, 2)] {
        let Some(d) = days.get(i) else { continue };
        let text: Vec<char> = if d.day_offset == 0 {
            "today".chars().collect()
        } else {
            d.date.get(5..).unwrap_or(&d.date).chars().collect()
        };
        let x = usize::from(u16::try_from(i).unwrap_or(0) * step);
        let start = match align {
            0 => x,
            1 => x.saturating_sub(text.len() / 2),
            _ => (x + usize::from(bar_width)).saturating_sub(text.len()),
        };
        for (k, c) in text.into_iter().enumerate() {
            if let Some(slot) = label.get_mut(start + k) {
                *slot = c;
            }
        }
    }
    let label: String = label.into_iter().collect();
    frame.render_widget(
        Paragraph::new(Span::styled(label.trim_end().to_string(), theme::dim())),
        axis,
    );
}

/// Per-card mastery: title, items seen, a mastery bar, recall now, due today.
fn render_cards(app: &StatsApp<'_>, frame: &mut Frame, area: Rect) {
    let s = app.stats;
    let block = pane(
        format!(" Cards · mastered = stable ≥ {MASTERY_STABILITY_DAYS:.0} days "),
        true,
    );
    if s.cards.is_empty() {
        frame.render_widget(
            Paragraph::new("No quiz items in the content.")
                .style(theme::dim())
                .block(block),
            area,
        );
        return;
    }
    const BAR: usize = 8;
    // The recall column goes first when the titles would get too short.
    let show_recall = area.width >= 64;
    let mut widths = vec![
        Constraint::Fill(1),
        Constraint::Length(5),
        Constraint::Length(BAR as u16 + 6),
        Constraint::Length(6),
        Constraint::Length(3),
    ];
    if !show_recall {
        widths.remove(3);
    }
    // Borders and padding, the selection mark, the other columns, and one space
    // between columns.
    let others: u16 = widths
        .iter()
        .map(|c| match c {
            Constraint::Length(n) => *n + 1,
            _ => 0,
        })
        .sum();
    let title_width = usize::from(area.width.saturating_sub(4 + 2 + others));
    let rows: Vec<Row> = s
        .cards
        .iter()
        .map(|c| {
            let filled = ((c.mastery * BAR as f64).round() as usize).min(BAR);
            let mastery = Line::from(vec![
                Span::styled("█".repeat(filled), Style::default().fg(Color::Green)),
                Span::styled("░".repeat(BAR - filled), theme::dim()),
                Span::raw(format!(" {:>5}", percent(c.mastery))),
            ]);
            let due = if c.due_today > 0 {
                Span::styled(c.due_today.to_string(), theme::accent())
            } else {
                Span::styled("·", theme::dim())
            };
            let mut cells = vec![
                Cell::from(truncate(&app.title_of(&c.card_id), title_width)),
                Cell::from(Line::from(format!("{}/{}", c.reviewed, c.items)).right_aligned()),
                Cell::from(mastery),
                Cell::from(Line::from(percent(c.recall_now)).right_aligned()),
                Cell::from(Line::from(due).right_aligned()),
            ];
            if !show_recall {
                cells.remove(3);
            }
            Row::new(cells)
        })
        .collect();
    let mut header = vec![
        Cell::from("Card"),
        Cell::from(Line::from("Seen").right_aligned()),
        Cell::from("Mastery"),
        Cell::from(Line::from("Recall").right_aligned()),
        Cell::from(Line::from("Due").right_aligned()),
    ];
    if !show_recall {
        header.remove(3);
    }
    let header = Row::new(header).style(Style::default().add_modifier(Modifier::BOLD));
    let table = Table::new(rows, widths)
        .header(header)
        .block(block.padding(Padding::horizontal(1)))
        .column_spacing(1)
        .row_highlight_style(Style::default().add_modifier(Modifier::REVERSED))
        .highlight_symbol("› ");
    let mut state = TableState::default().with_selected(Some(app.selected));
    frame.render_stateful_widget(table, area, &mut state);
    let visible = usize::from(area.height.saturating_sub(3));
    if s.cards.len() > visible {
        let mut sb =
            ScrollbarState::new(s.cards.len().saturating_sub(visible)).position(state.offset());
        frame.render_stateful_widget(
            Scrollbar::new(ScrollbarOrientation::VerticalRight)
                .begin_symbol(None)
                .end_symbol(None),
            Rect {
                x: area.x + area.width.saturating_sub(1),
                y: area.y + 2,
                width: 1,
                height: area.height.saturating_sub(3),
            },
            &mut sb,
        );
    }
}

/// Shows `stats` until the user quits.
pub fn run_stats(
    config: &Config,
    stats: &Stats,
    card_titles: &HashMap<String, String>,
) -> anyhow::Result<()> {
    if !std::io::stdin().is_terminal() {
        anyhow::bail!("the stats screen needs a terminal on stdin; use `swelearn stats --json`");
    }
    let colour = config.color.value.enabled(true);
    let (mut terminal, _guard) = super::enter_terminal(config)?;
    let size = terminal.size()?;
    let mut app = StatsApp::new(stats, card_titles, (size.width, size.height));
    while !app.quit {
        terminal.draw(|f| {
            render(&app, f);
            if !colour {
                monochrome(f.buffer_mut());
            }
        })?;
        if let Some(action) = stats_action_for(&event::read()?, app.help) {
            app.update(action);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ratatui::crossterm::event::KeyEventState;

    fn key(code: KeyCode) -> Event {
        Event::Key(KeyEvent {
            code,
            modifiers: KeyModifiers::NONE,
            kind: KeyEventKind::Press,
            state: KeyEventState::NONE,
        })
    }

    #[test]
    fn keys_switch_tabs_and_move() {
        assert_eq!(
            stats_action_for(&key(KeyCode::Tab), false),
            Some(StatsAction::NextTab(1))
        );
        assert_eq!(
            stats_action_for(&key(KeyCode::Char('j')), false),
            Some(StatsAction::Move(1))
        );
        assert_eq!(stats_action_for(&key(KeyCode::Char('j')), true), None);
        assert_eq!(
            stats_action_for(&key(KeyCode::Esc), true),
            Some(StatsAction::ToggleHelp)
        );
    }
}

//! Pure rendering of the study reader: the title bar, the topic list, the reader, the
//! footer with key hints, and the help and tag overlays. Reads [`App`], never changes it.

use super::app::{App, Focus, LIST_PANE_WIDTH, Overlay};
use super::keys::HELP;
use super::widgets;
use crate::content::layout;
use crate::output::theme;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span, Text};
use ratatui::widgets::{
    Block, Cell, Clear, Paragraph, Row, Scrollbar, ScrollbarOrientation, ScrollbarState, Table,
    TableState,
};

/// Draws the whole screen.
pub fn render(app: &App, frame: &mut Frame) {
    let [top, body, footer] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(3),
        Constraint::Length(1),
    ])
    .areas(frame.area());
    render_title(app, frame, top);
    if app.split() {
        let [list, reader] =
            Layout::horizontal([Constraint::Length(LIST_PANE_WIDTH), Constraint::Min(20)])
                .areas(body);
        render_list(app, frame, list);
        render_reader(app, frame, reader);
    } else if app.focus == Focus::Reader && app.reader.is_some() {
        render_reader(app, frame, body);
    } else {
        render_list(app, frame, body);
    }
    render_footer(app, frame, footer);
    match &app.overlay {
        Overlay::Help => render_help(frame),
        Overlay::Tags(i) => render_tags(app, frame, *i),
        Overlay::None | Overlay::Filter => {}
    }
}

fn render_title(app: &App, frame: &mut Frame, area: Rect) {
    let mut spans = vec![
        Span::styled(" swelearn ", theme::accent()),
        Span::styled("· study", theme::dim()),
    ];
    let mut filters = Vec::new();
    if app.overlay == Overlay::Filter || !app.text_filter.is_empty() {
        let cursor = if app.overlay == Overlay::Filter {
            "█"
        } else {
            ""
        };
        filters.push(format!("/{}{cursor}", app.text_filter));
    }
    if let Some(t) = &app.tag_filter {
        filters.push(format!("tag:{t}"));
    }
    if let Some(d) = app.difficulty_filter {
        filters.push(format!("level:{d}"));
    }
    if !filters.is_empty() {
        spans.push(Span::raw("  "));
        spans.push(Span::styled(
            filters.join("  "),
            Style::default().add_modifier(Modifier::BOLD),
        ));
    }
    let read = app
        .cards()
        .iter()
        .filter(|c| app.read.contains(&c.id))
        .count();
    let right = format!(
        "{}/{} cards · {read} read ",
        app.visible.len(),
        app.cards().len()
    );
    let left_width: usize = spans.iter().map(|s| s.width()).sum();
    let pad = usize::from(area.width).saturating_sub(left_width + right.chars().count());
    spans.push(Span::raw(" ".repeat(pad)));
    spans.push(Span::styled(right, theme::dim()));
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

fn pane_block(title: String, focused: bool) -> Block<'static> {
    widgets::pane(title, focused)
}

fn render_list(app: &App, frame: &mut Frame, area: Rect) {
    let focused = app.focus == Focus::List;
    let block = pane_block(" Topics (suggested order) ".into(), focused);
    if app.visible.is_empty() {
        let msg = Paragraph::new("No card matches the filters.\nPress c to clear them.")
            .style(theme::dim())
            .block(block);
        frame.render_widget(msg, area);
        return;
    }
    let order_width = app.cards().len().to_string().len() as u16;
    // Two lines a card: the title, then its tags, so every column fits in 80 columns.
    let rows: Vec<Row> = app
        .visible
        .iter()
        .map(|&i| {
            let card = &app.cards()[i];
            let mark = if app.read.contains(&card.id) {
                "✓"
            } else {
                "·"
            };
            let title = Text::from(vec![
                Line::from(card.title.clone()),
                Line::from(Span::styled(card.tags.join(", "), theme::dim())),
            ]);
            Row::new(vec![
                Cell::from(Span::styled(mark, theme::accent())),
                Cell::from(Span::styled(
                    format!("{:>w$}", i + 1, w = usize::from(order_width)),
                    theme::dim(),
                )),
                Cell::from(title),
                Cell::from(Span::styled(
                    card.difficulty.to_string(),
                    theme::difficulty_style(card.difficulty),
                )),
                Cell::from(Span::styled(card.estimated_time(), theme::dim())),
            ])
            .height(2)
        })
        .collect();
    let widths = [
        Constraint::Length(1),
        Constraint::Length(order_width),
        Constraint::Fill(1),
        Constraint::Length(6),
        Constraint::Length(7),
    ];
    let highlight = if focused {
        Style::default().add_modifier(Modifier::REVERSED)
    } else {
        Style::default().add_modifier(Modifier::BOLD)
    };
    let table = Table::new(rows, widths)
        .block(block)
        .column_spacing(1)
        .row_highlight_style(highlight);
    let mut state = TableState::default().with_selected(Some(app.selected));
    frame.render_stateful_widget(table, area, &mut state);
}

/// A laid-out line as ratatui text, styled by the theme.
pub(crate) fn to_ratatui(line: &layout::Line) -> Line<'static> {
    Line::from(
        line.spans
            .iter()
            .map(|s| Span::styled(s.text.clone(), theme::span_style(s.style)))
            .collect::<Vec<_>>(),
    )
}

fn render_reader(app: &App, frame: &mut Frame, area: Rect) {
    let focused = app.focus == Focus::Reader;
    let Some(reader) = &app.reader else {
        let hint = Paragraph::new("Select a card and press Enter to read it.\n\nPress ? for keys.")
            .style(theme::dim())
            .block(pane_block(" Reader ".into(), false));
        frame.render_widget(hint, area);
        return;
    };
    let card = &app.cards()[reader.card];
    let height = usize::from(area.height.saturating_sub(2));
    let total = reader.lines.len();
    let end = (reader.scroll + height).min(total);
    let shown: Vec<Line> = reader.lines[reader.scroll.min(end)..end]
        .iter()
        .map(to_ratatui)
        .collect();
    let percent = if total <= height {
        100
    } else {
        end * 100 / total
    };
    let block = pane_block(format!(" {} ", card.id), focused).title_bottom(
        Line::from(Span::styled(
            format!(" {end}/{total} · {percent}% "),
            theme::dim(),
        ))
        .right_aligned(),
    );
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let text_area = Rect {
        x: inner.x + 1,
        width: inner.width.saturating_sub(2),
        ..inner
    };
    frame.render_widget(Paragraph::new(Text::from(shown)), text_area);
    if total > height {
        let mut state = ScrollbarState::new(total.saturating_sub(height)).position(reader.scroll);
        frame.render_stateful_widget(
            Scrollbar::new(ScrollbarOrientation::VerticalRight)
                .begin_symbol(None)
                .end_symbol(None),
            Rect {
                x: area.x + area.width.saturating_sub(1),
                y: inner.y,
                width: 1,
                height: inner.height,
            },
            &mut state,
        );
    }
}

fn render_footer(app: &App, frame: &mut Frame, area: Rect) {
    let hints: &[(&str, &str)] = match (&app.overlay, app.focus) {
        (Overlay::Filter, _) => &[
            ("type", "filter"),
            ("Enter", "keep"),
            ("Esc", "clear"),
            ("↑↓", "move"),
        ],
        (Overlay::Tags(_), _) => &[("j/k", "move"), ("Enter", "pick"), ("Esc", "cancel")],
        (Overlay::Help, _) => &[("Esc ?", "close help")],
        (Overlay::None, Focus::Reader) => &[
            ("j/k", "scroll"),
            ("Space/b", "page"),
            ("n/p", "next/prev card"),
            ("Esc", "back"),
            ("?", "keys"),
            ("q", "quit"),
        ],
        (Overlay::None, Focus::List) => &[
            ("Enter", "open"),
            ("/", "filter"),
            ("t", "tag"),
            ("d", "level"),
            ("c", "clear"),
            ("?", "keys"),
            ("q", "quit"),
        ],
    };
    let mut spans = vec![Span::raw(" ")];
    for (k, v) in hints {
        spans.push(Span::styled(*k, theme::accent()));
        spans.push(Span::styled(format!(" {v}  "), theme::dim()));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

/// A rectangle of at most `w` x `h` centred in `area`.
fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width);
    let h = h.min(area.height);
    Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    }
}

fn render_help(frame: &mut Frame) {
    widgets::help_overlay(frame, HELP, "Plain output: swelearn study ID --plain");
}

fn render_tags(app: &App, frame: &mut Frame, selected: usize) {
    let choices = app.tag_choices();
    let rows: Vec<Row> = choices
        .iter()
        .map(|(t, n)| {
            Row::new(vec![
                Cell::from(t.clone().unwrap_or_else(|| "(any tag)".into())),
                Cell::from(Span::styled(n.to_string(), theme::dim())),
            ])
        })
        .collect();
    let area = centered(
        frame.area(),
        40,
        (choices.len() as u16 + 2).min(frame.area().height.saturating_sub(2)),
    );
    frame.render_widget(Clear, area);
    let table = Table::new(rows, [Constraint::Fill(1), Constraint::Length(4)])
        .block(pane_block(" Filter by tag ".into(), true))
        .row_highlight_style(Style::default().add_modifier(Modifier::REVERSED));
    let mut state = TableState::default().with_selected(Some(selected));
    frame.render_stateful_widget(table, area, &mut state);
}

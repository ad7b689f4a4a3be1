//! Small rendering helpers shared by the quiz and stats screens: the title bar, the
//! footer of key hints, bordered panes, the help overlay, centred rectangles, and
//! markdown or plain text laid out at a width (through `content::layout`) as ratatui
//! lines. Pure functions of their inputs; nothing here changes state.

use crate::content::layout::{self, layout};
use crate::content::markdown::{self, Block, Inline};
use crate::output::theme;
use crate::tui::view::to_ratatui;
use ratatui::Frame;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block as Pane, BorderType, Borders, Clear, Paragraph, Wrap};
use unicode_width::UnicodeWidthStr;

/// Markdown laid out at `width` columns, as ratatui lines.
pub(crate) fn markdown_lines(md: &str, width: usize) -> Vec<Line<'static>> {
    layout(&markdown::parse(md), width)
        .iter()
        .map(to_ratatui)
        .collect()
}

/// One short piece of text (a choice, a step) wrapped at `width`. Inline markdown
/// (`code`, *emphasis*) is honoured, but text that markdown would turn into a list
/// or heading ("1) ...", "# ...") is kept as written.
pub(crate) fn inline_lines(text: &str, width: usize) -> Vec<layout::Line> {
    let blocks = markdown::parse(text);
    let blocks = match blocks.as_slice() {
        [Block::Paragraph(_)] => blocks,
        _ => vec![Block::Paragraph(vec![Inline {
            text: text.to_string(),
            style: Default::default(),
        }])],
    };
    layout(&blocks, width)
}

/// `text` wrapped at `width`, with `first` before its first line and `rest` (usually
/// spaces of the same width) before the others: a hanging indent. `style` is patched
/// over every span of the text (e.g. bold for the selected choice).
pub(crate) fn hanging(
    first: Vec<Span<'static>>,
    rest: Vec<Span<'static>>,
    text: &str,
    width: usize,
    style: Style,
) -> Vec<Line<'static>> {
    let indent: usize = first.iter().map(Span::width).sum();
    let body = inline_lines(text, width.saturating_sub(indent).max(8));
    body.iter()
        .enumerate()
        .map(|(i, l)| {
            let mut spans = if i == 0 { first.clone() } else { rest.clone() };
            spans.extend(
                to_ratatui(l)
                    .spans
                    .into_iter()
                    .map(|s| s.patch_style(style)),
            );
            Line::from(spans)
        })
        .collect()
}

/// A rounded, bordered pane; the accent border marks the focused one.
pub(crate) fn pane(title: impl Into<Line<'static>>, focused: bool) -> Pane<'static> {
    let border = if focused {
        theme::accent()
    } else {
        theme::dim()
    };
    Pane::default()
        .borders(Borders::ALL)
        .border_type(BorderType::Rounded)
        .border_style(border)
        .title(
            title
                .into()
                .style(Style::default().add_modifier(Modifier::BOLD)),
        )
}

/// The top line: `left` spans, then `right` flush right (dim). When both do not fit,
/// the left part is cut first so the counters on the right stay readable.
pub(crate) fn title_bar(frame: &mut Frame, area: Rect, left: Vec<Span<'static>>, right: &str) {
    let width = usize::from(area.width);
    let right_width = right.width();
    // One column always separates the two parts.
    let room = width.saturating_sub(right_width + 1);
    let mut spans = Vec::new();
    let mut used = 0;
    for s in left {
        let w = s.width();
        if used + w <= room {
            used += w;
            spans.push(s);
        } else {
            let cut = truncate(&s.content, room.saturating_sub(used));
            used += cut.width();
            spans.push(Span::styled(cut, s.style));
            break;
        }
    }
    spans.push(Span::raw(" ".repeat(room.saturating_sub(used) + 1)));
    spans.push(Span::styled(right.to_string(), theme::dim()));
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

/// `s` cut to at most `width` columns, ending in `…` when cut.
pub(crate) fn truncate(s: &str, width: usize) -> String {
    if s.width() <= width {
        return s.to_string();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in s.chars() {
        let w = unicode_width::UnicodeWidthChar::width(c).unwrap_or(0);
        if used + w + 1 > width {
            break;
        }
        used += w;
        out.push(c);
    }
    if width > 0 {
        out.push('…');
    }
    out
}

/// The bottom line: key hints, key in the accent colour, action dimmed.
pub(crate) fn footer(frame: &mut Frame, area: Rect, hints: &[(&str, &str)]) {
    let mut spans = vec![Span::raw(" ")];
    for (k, v) in hints {
        spans.push(Span::styled(k.to_string(), theme::accent()));
        spans.push(Span::styled(format!(" {v}  "), theme::dim()));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

/// A rectangle of at most `w` x `h` centred in `area`.
pub(crate) fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width);
    let h = h.min(area.height);
    Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    }
}

/// The help overlay: a centred box listing `keys` and what they do, plus a note.
pub(crate) fn help_overlay(frame: &mut Frame, keys: &[(&str, &str)], note: &str) {
    let key_width = keys.iter().map(|(k, _)| k.width()).max().unwrap_or(10);
    let mut lines: Vec<Line> = keys
        .iter()
        .map(|(k, v)| {
            Line::from(vec![
                Span::styled(format!(" {k:<key_width$}  "), theme::accent()),
                Span::raw(v.to_string()),
            ])
        })
        .collect();
    if !note.is_empty() {
        lines.push(Line::default());
        lines.push(Line::from(Span::styled(format!(" {note}"), theme::dim())));
    }
    let area = centered(frame.area(), 68, lines.len() as u16 + 2);
    frame.render_widget(Clear, area);
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(pane(" Keys ", true)),
        area,
    );
}

/// Removes every colour from a rendered buffer, turning dim grey text into the DIM
/// attribute. For `NO_COLOR` or `--color never`: crossterm then writes no colour
/// codes at all, so the bold, reversed and dim attributes that mark selections stay
/// visible (with `NO_COLOR` set, crossterm turns each colour change into `ESC[;m`,
/// which also resets the attributes).
pub(crate) fn monochrome(buf: &mut Buffer) {
    for cell in &mut buf.content {
        if cell.fg == Color::DarkGray {
            cell.modifier |= Modifier::DIM;
        }
        cell.fg = Color::Reset;
        cell.bg = Color::Reset;
    }
}

/// `12:05` for a duration in whole seconds; hours when needed (`1:02:05`).
pub(crate) fn clock(seconds: u64) -> String {
    let (h, m, s) = (seconds / 3600, seconds / 60 % 60, seconds % 60);
    if h > 0 {
        format!("{h}:{m:02}:{s:02}")
    } else {
        format!("{m:02}:{s:02}")
    }
}

/// `45 s`, `4 min 12 s`, `1 h 3 min`: a duration for people.
pub(crate) fn duration_words(ms: u64) -> String {
    let s = ms / 1000;
    match s {
        0..60 => format!("{s} s"),
        60..3600 if s.is_multiple_of(60) => format!("{} min", s / 60),
        60..3600 => format!("{} min {} s", s / 60, s % 60),
        _ => format!("{} h {} min", s / 3600, s / 60 % 60),
    }
}

/// `42 %` for a fraction.
pub(crate) fn percent(fraction: f64) -> String {
    format!("{:.0} %", (fraction * 100.0).clamp(0.0, 100.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_naturally() {
        assert_eq!(clock(0), "00:00");
        assert_eq!(clock(725), "12:05");
        assert_eq!(clock(3725), "1:02:05");
        assert_eq!(duration_words(45_900), "45 s");
        assert_eq!(duration_words(120_000), "2 min");
        assert_eq!(duration_words(252_000), "4 min 12 s");
        assert_eq!(duration_words(3_780_000), "1 h 3 min");
        assert_eq!(percent(0.714), "71 %");
    }

    #[test]
    fn monochrome_keeps_attributes_and_dims_grey() {
        let mut buf = Buffer::empty(Rect::new(0, 0, 2, 1));
        buf[(0, 0)].set_style(crate::output::theme::accent());
        buf[(1, 0)].set_style(crate::output::theme::dim());
        monochrome(&mut buf);
        assert_eq!(buf[(0, 0)].fg, Color::Reset);
        assert!(buf[(0, 0)].modifier.contains(Modifier::BOLD));
        assert!(buf[(1, 0)].modifier.contains(Modifier::DIM));
    }

    #[test]
    fn truncation_keeps_the_width() {
        assert_eq!(truncate("Backpressure", 20), "Backpressure");
        assert_eq!(truncate("Backpressure", 6), "Backp…");
        assert_eq!(truncate("abc", 0), "");
    }

    #[test]
    fn list_like_choices_stay_as_written() {
        let lines = inline_lines("1) first", 40);
        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0].text(), "1) first");
        let lines = inline_lines("use `ws://`", 40);
        assert_eq!(lines[0].text(), "use ws://");
    }
}

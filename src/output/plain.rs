//! Writes laid-out lines and simple tables as text: ANSI-styled when colour is on,
//! bare otherwise (so pipes and NO_COLOR get clean text).

use super::theme;
use crate::content::Card;
use crate::content::layout::{Line, Role, SpanStyle, layout};
use crate::content::markdown;
use ratatui::style::Style;
use std::io::{self, Write};
use unicode_width::UnicodeWidthStr;

/// Writes lines, styled when `color` is true; trailing spaces are trimmed.
pub fn write_lines(out: &mut dyn Write, lines: &[Line], color: bool) -> io::Result<()> {
    for line in lines {
        let mut text = String::new();
        for span in &line.spans {
            if color {
                text.push_str(&theme::ansi(theme::span_style(span.style), &span.text));
            } else {
                text.push_str(&span.text);
            }
        }
        writeln!(out, "{}", text.trim_end())?;
    }
    Ok(())
}

/// The header lines of a card: title, metadata and prerequisites.
pub fn card_header(card: &Card, width: usize) -> Vec<Line> {
    let mut blocks = vec![markdown::Block::Heading {
        level: 1,
        content: vec![markdown::Inline {
            text: card.title.clone(),
            style: markdown::InlineStyle::default(),
        }],
    }];
    let mut meta = format!(
        "{} · {} · tags: {}",
        card.difficulty,
        card.estimated_time(),
        card.tags.join(", ")
    );
    if !card.prerequisites.is_empty() {
        meta.push_str(&format!(" · read first: {}", card.prerequisites.join(", ")));
    }
    if !card.related.is_empty() {
        meta.push_str(&format!(" · see also: {}", card.related.join(", ")));
    }
    blocks.push(markdown::Block::Paragraph(vec![markdown::Inline {
        text: meta,
        style: markdown::InlineStyle {
            emphasis: true,
            ..markdown::InlineStyle::default()
        },
    }]));
    layout(&blocks, width)
}

/// The whole card as laid-out lines: header, body, sources.
pub fn card_lines(card: &Card, width: usize) -> Vec<Line> {
    let mut lines = card_header(card, width);
    lines.push(Line::default());
    lines.extend(layout(&markdown::parse(&card.body), width));
    lines.push(Line::default());
    let mut sources = String::from("## Sources\n\n");
    for s in &card.sources {
        match &s.url {
            Some(url) => sources.push_str(&format!(
                "- [{}]({})\n",
                escape(&s.title),
                url.replace(' ', "%20")
            )),
            None => sources.push_str(&format!("- {}\n", escape(&s.title))),
        }
    }
    lines.extend(layout(&markdown::parse(&sources), width));
    lines
}

/// Keeps a source title literal inside generated markdown.
fn escape(s: &str) -> String {
    s.chars()
        .flat_map(|c| match c {
            '*' | '_' | '`' | '[' | ']' | '<' | '>' | '\\' => vec!['\\', c],
            c => vec![c],
        })
        .collect()
}

/// A plain table: a bold header row and left-aligned columns, two spaces apart.
pub fn write_table(
    out: &mut dyn Write,
    header: &[&str],
    rows: &[Vec<(String, Style)>],
    color: bool,
) -> io::Result<()> {
    let mut widths: Vec<usize> = header.iter().map(|h| h.width()).collect();
    for row in rows {
        for (i, (cell, _)) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(cell.width());
            }
        }
    }
    let head: Vec<(String, Style)> = header
        .iter()
        .map(|h| {
            (
                h.to_string(),
                theme::span_style(SpanStyle::role(Role::TableHeader)),
            )
        })
        .collect();
    for row in std::iter::once(&head).chain(rows) {
        let mut line = String::new();
        for (i, (cell, style)) in row.iter().enumerate() {
            let pad = widths
                .get(i)
                .copied()
                .unwrap_or(0)
                .saturating_sub(cell.width());
            let last = i + 1 == row.len();
            let text = if last {
                cell.clone()
            } else {
                format!("{cell}{}  ", " ".repeat(pad))
            };
            if color {
                line.push_str(&theme::ansi(*style, &text));
            } else {
                line.push_str(&text);
            }
        }
        writeln!(out, "{}", line.trim_end())?;
    }
    Ok(())
}

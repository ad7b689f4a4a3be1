//! Lays the document model out at a width: wrapped, indented, styled lines that the
//! TUI turns into ratatui text and `output::plain` turns into ANSI or bare text.
//!
//! Nothing is dropped: words wider than the width are split, code lines wider than
//! the width continue on the next line behind a `↪` marker, and tables shrink their
//! widest columns and wrap cell text.

use super::markdown::{Align, Block, Inline, InlineStyle};
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

/// What a span is, beyond its inline style; renderers pick colours from it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Role {
    #[default]
    Text,
    Heading(u8),
    /// List bullets and numbers, quote bars, heading hashes, wrap markers.
    Marker,
    CodeBlock,
    TableBorder,
    TableHeader,
}

/// The full style of a span.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct SpanStyle {
    pub role: Role,
    pub inline: InlineStyle,
}

impl SpanStyle {
    pub fn role(role: Role) -> Self {
        SpanStyle {
            role,
            inline: InlineStyle::default(),
        }
    }
}

/// A run of text with one style.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Span {
    pub text: String,
    pub style: SpanStyle,
}

impl Span {
    pub fn new(text: impl Into<String>, style: SpanStyle) -> Self {
        Span {
            text: text.into(),
            style,
        }
    }
}

/// One laid-out line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Line {
    pub spans: Vec<Span>,
}

impl Line {
    pub fn width(&self) -> usize {
        self.spans.iter().map(|s| s.text.width()).sum()
    }

    /// The line's text without styles.
    pub fn text(&self) -> String {
        self.spans.iter().map(|s| s.text.as_str()).collect()
    }

    fn push(&mut self, text: &str, style: SpanStyle) {
        if text.is_empty() {
            return;
        }
        match self.spans.last_mut() {
            Some(last) if last.style == style => last.text.push_str(text),
            _ => self.spans.push(Span::new(text, style)),
        }
    }
}

/// The narrowest width we lay out at; below this everything would be markers.
pub const MIN_WIDTH: usize = 20;

/// Lays out `blocks` at `width` columns.
pub fn layout(blocks: &[Block], width: usize) -> Vec<Line> {
    let mut out = Vec::new();
    let width = width.max(MIN_WIDTH);
    lay_blocks(
        &mut out,
        blocks,
        width,
        &Line::default(),
        &Line::default(),
        false,
    );
    out
}

/// Lays out blocks; the first output line is prefixed with `first`, the others with `rest`.
/// Inside list items, a nested list follows its paragraph without a blank line.
fn lay_blocks(
    out: &mut Vec<Line>,
    blocks: &[Block],
    width: usize,
    first: &Line,
    rest: &Line,
    in_item: bool,
) {
    for (i, block) in blocks.iter().enumerate() {
        let prefix = if i == 0 { first } else { rest };
        let nested_list = in_item && matches!(block, Block::List { .. });
        if i > 0 && !nested_list {
            out.push(trimmed(rest));
        }
        lay_block(out, block, width, prefix, rest);
    }
}

fn trimmed(prefix: &Line) -> Line {
    let mut line = prefix.clone();
    if let Some(last) = line.spans.last_mut() {
        let t = last.text.trim_end().to_string();
        last.text = t;
    }
    line.spans.retain(|s| !s.text.is_empty());
    line
}

fn lay_block(out: &mut Vec<Line>, block: &Block, width: usize, first: &Line, rest: &Line) {
    let avail = width.saturating_sub(rest.width()).max(8);
    match block {
        Block::Paragraph(inlines) => {
            wrap_into(out, inlines, avail, first, rest, Role::Text);
        }
        Block::Heading { level, content } => {
            let mut first = first.clone();
            first.push(
                &format!("{} ", "#".repeat(usize::from(*level))),
                SpanStyle::role(Role::Marker),
            );
            let mut rest = rest.clone();
            rest.push(
                &" ".repeat(usize::from(*level) + 1),
                SpanStyle::role(Role::Marker),
            );
            let avail = width.saturating_sub(rest.width()).max(8);
            wrap_into(out, content, avail, &first, &rest, Role::Heading(*level));
        }
        Block::List { start, items } => {
            let markers: Vec<String> = (0..items.len())
                .map(|i| match start {
                    Some(n) => format!("{}. ", n + i as u64),
                    None => bullet(rest).to_string(),
                })
                .collect();
            let marker_width = markers.iter().map(|m| m.width()).max().unwrap_or(2);
            for (i, (item, marker)) in items.iter().zip(&markers).enumerate() {
                let mut item_first = if i == 0 { first.clone() } else { rest.clone() };
                let pad = marker_width - marker.width();
                item_first.push(
                    &format!("{}{marker}", " ".repeat(pad)),
                    SpanStyle::role(Role::Marker),
                );
                let mut item_rest = rest.clone();
                item_rest.push(&" ".repeat(marker_width), SpanStyle::role(Role::Marker));
                lay_blocks(out, item, width, &item_first, &item_rest, true);
            }
        }
        Block::Quote(blocks) => {
            let mut q_first = first.clone();
            q_first.push("│ ", SpanStyle::role(Role::Marker));
            let mut q_rest = rest.clone();
            q_rest.push("│ ", SpanStyle::role(Role::Marker));
            lay_blocks(out, blocks, width, &q_first, &q_rest, false);
        }
        Block::Code { text, .. } => {
            let style = SpanStyle::role(Role::CodeBlock);
            for (i, raw) in text.split('\n').enumerate() {
                let raw = raw.replace('\t', "    ");
                let mut pieces = split_at_width(&raw, avail.saturating_sub(2).max(4)).into_iter();
                let head = pieces.next().unwrap_or_default();
                let mut line = if i == 0 { first.clone() } else { rest.clone() };
                if raw.width() <= avail {
                    line.push(&raw, style);
                    out.push(line);
                    continue;
                }
                line.push(&head, style);
                out.push(line);
                for piece in pieces {
                    let mut cont = rest.clone();
                    cont.push("↪ ", SpanStyle::role(Role::Marker));
                    cont.push(&piece, style);
                    out.push(cont);
                }
            }
        }
        Block::Table {
            align,
            header,
            rows,
        } => lay_table(out, align, header, rows, avail, first, rest),
        Block::Rule => {
            let mut line = first.clone();
            line.push(&"─".repeat(avail), SpanStyle::role(Role::Marker));
            out.push(line);
        }
    }
}

/// Bullets change with nesting depth, which we read off the prefix's width.
fn bullet(prefix: &Line) -> &'static str {
    match (prefix.width() / 2) % 3 {
        0 => "• ",
        1 => "◦ ",
        _ => "▪ ",
    }
}

/// A word (or a forced break) with its style, and whether a space preceded it.
struct Word<'a> {
    text: &'a str,
    style: InlineStyle,
    space_before: bool,
    hard_break: bool,
}

fn words(inlines: &[Inline]) -> Vec<Word<'_>> {
    let mut out = Vec::new();
    let mut pending_space = false;
    for inline in inlines {
        let mut rest = inline.text.as_str();
        while !rest.is_empty() {
            let ws_len = rest.len() - rest.trim_start().len();
            if ws_len > 0 {
                let ws = &rest[..ws_len];
                for _ in ws.matches('\n') {
                    out.push(Word {
                        text: "",
                        style: inline.style,
                        space_before: false,
                        hard_break: true,
                    });
                }
                pending_space = !ws.contains('\n');
                rest = &rest[ws_len..];
                continue;
            }
            let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
            out.push(Word {
                text: &rest[..end],
                style: inline.style,
                space_before: pending_space,
                hard_break: false,
            });
            pending_space = false;
            rest = &rest[end..];
        }
    }
    out
}

/// Greedy word wrap of inline runs into lines of at most `avail` columns after the prefix.
fn wrap_into(
    out: &mut Vec<Line>,
    inlines: &[Inline],
    avail: usize,
    first: &Line,
    rest: &Line,
    role: Role,
) {
    let mut line = first.clone();
    let mut used = 0usize;
    let mut empty = true;
    let start_len = out.len();
    for word in words(inlines) {
        if word.hard_break {
            out.push(std::mem::replace(&mut line, rest.clone()));
            used = 0;
            empty = true;
            continue;
        }
        let style = SpanStyle {
            role,
            inline: word.style,
        };
        let w = word.text.width();
        let space = usize::from(word.space_before && !empty);
        if !empty && used + space + w > avail {
            out.push(std::mem::replace(&mut line, rest.clone()));
            used = 0;
            empty = true;
        } else if space == 1 {
            line.push(" ", SpanStyle::role(role));
            used += 1;
        }
        if w <= avail {
            line.push(word.text, style);
            used += w;
            empty = false;
            continue;
        }
        // A word wider than the line: split it.
        for piece in split_at_width(word.text, avail) {
            if !empty {
                out.push(std::mem::replace(&mut line, rest.clone()));
            }
            used = piece.width();
            line.push(&piece, style);
            empty = false;
        }
    }
    if !empty || out.len() == start_len {
        out.push(line);
    }
}

/// Splits text into pieces of at most `width` columns (by characters).
fn split_at_width(text: &str, width: usize) -> Vec<String> {
    let mut pieces = vec![String::new()];
    let mut used = 0;
    for c in text.chars() {
        let w = c.width().unwrap_or(0);
        if used + w > width && used > 0 {
            pieces.push(String::new());
            used = 0;
        }
        if let Some(last) = pieces.last_mut() {
            last.push(c);
        }
        used += w;
    }
    pieces
}

fn lay_table(
    out: &mut Vec<Line>,
    align: &[Align],
    header: &[Vec<Inline>],
    rows: &[Vec<Vec<Inline>>],
    avail: usize,
    first: &Line,
    rest: &Line,
) {
    let ncols = align
        .len()
        .max(header.len())
        .max(rows.iter().map(Vec::len).max().unwrap_or(0));
    if ncols == 0 {
        return;
    }
    let cell_width = |cell: &[Inline]| cell.iter().map(|i| i.text.width()).sum::<usize>();
    let mut widths = vec![1usize; ncols];
    for row in std::iter::once(header).chain(rows.iter().map(Vec::as_slice)) {
        for (c, cell) in row.iter().enumerate() {
            widths[c] = widths[c].max(cell_width(cell));
        }
    }
    // Borders: "│ " before each column, " │" after the last, " │ " between.
    let frame = 3 * ncols + 1;
    while widths.iter().sum::<usize>() + frame > avail {
        let Some((widest, &w)) = widths.iter().enumerate().max_by_key(|(_, w)| **w) else {
            break;
        };
        if w <= 3 {
            break;
        }
        widths[widest] = w - 1;
    }
    let border = |left: &str, mid: &str, right: &str| -> String {
        let inner: Vec<String> = widths.iter().map(|w| "─".repeat(w + 2)).collect();
        format!("{left}{}{right}", inner.join(mid))
    };
    let bstyle = SpanStyle::role(Role::TableBorder);
    let push_border = |out: &mut Vec<Line>, text: String, is_first: bool| {
        let mut line = if is_first {
            first.clone()
        } else {
            rest.clone()
        };
        line.push(&text, bstyle);
        out.push(line);
    };
    push_border(out, border("┌", "┬", "┐"), true);
    let lay_row = |out: &mut Vec<Line>, row: &[Vec<Inline>], role: Role| {
        let cells: Vec<Vec<Line>> = (0..ncols)
            .map(|c| {
                let mut lines = Vec::new();
                let empty = Vec::new();
                let cell = row.get(c).unwrap_or(&empty);
                wrap_into(
                    &mut lines,
                    cell,
                    widths[c],
                    &Line::default(),
                    &Line::default(),
                    role,
                );
                lines
            })
            .collect();
        let height = cells.iter().map(Vec::len).max().unwrap_or(1);
        for r in 0..height {
            let mut line = rest.clone();
            line.push("│", bstyle);
            for c in 0..ncols {
                line.push(" ", bstyle);
                let content = cells[c].get(r).cloned().unwrap_or_default();
                let pad = widths[c].saturating_sub(content.width());
                let (left, right) = match align.get(c).copied().unwrap_or(Align::Left) {
                    Align::Left => (0, pad),
                    Align::Right => (pad, 0),
                    Align::Center => (pad / 2, pad - pad / 2),
                };
                line.push(&" ".repeat(left), SpanStyle::role(role));
                for span in content.spans {
                    line.push(&span.text, span.style);
                }
                line.push(&" ".repeat(right), SpanStyle::role(role));
                line.push(" │", bstyle);
            }
            out.push(line);
        }
    };
    if !header.is_empty() {
        lay_row(out, header, Role::TableHeader);
        push_border(out, border("├", "┼", "┤"), false);
    }
    for row in rows {
        lay_row(out, row, Role::Text);
    }
    push_border(out, border("└", "┴", "┘"), false);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::content::markdown::parse;

    fn text(md: &str, width: usize) -> Vec<String> {
        layout(&parse(md), width).iter().map(Line::text).collect()
    }

    #[test]
    fn wraps_paragraphs_at_the_width() {
        let lines = text("one two three four five six seven eight nine ten", 20);
        assert_eq!(
            lines,
            ["one two three four", "five six seven eight", "nine ten"]
        );
        assert!(lines.iter().all(|l| l.width() <= 20));
    }

    #[test]
    fn keeps_inline_styles_and_link_urls() {
        let lines = layout(
            &parse("Some *emph* and **bold** `code` [RFC](https://x.test/r)."),
            80,
        );
        assert_eq!(lines.len(), 1);
        assert_eq!(
            lines[0].text(),
            "Some emph and bold code RFC <https://x.test/r>."
        );
        let styled: Vec<_> = lines[0]
            .spans
            .iter()
            .map(|s| (s.text.as_str(), s.style.inline))
            .collect();
        assert!(styled.iter().any(|(t, s)| *t == "emph" && s.emphasis));
        assert!(styled.iter().any(|(t, s)| *t == "bold" && s.strong));
        assert!(styled.iter().any(|(t, s)| *t == "code" && s.code));
        assert!(
            styled
                .iter()
                .any(|(t, s)| t.contains("https://x.test/r") && s.url)
        );
    }

    #[test]
    fn autolinks_are_not_repeated() {
        assert_eq!(text("<https://a.test/x>", 80), ["https://a.test/x"]);
    }

    #[test]
    fn nested_lists_indent_and_number() {
        let md = "1. first item\n2. second\n   - nested a\n   - nested b\n3. third";
        assert_eq!(
            text(md, 80),
            [
                "1. first item",
                "2. second",
                "   ◦ nested a",
                "   ◦ nested b",
                "3. third"
            ]
        );
    }

    #[test]
    fn wrapped_list_items_hang_under_their_text() {
        let lines = text("- alpha beta gamma delta epsilon", 20);
        assert_eq!(lines, ["• alpha beta gamma", "  delta epsilon"]);
    }

    #[test]
    fn code_blocks_are_verbatim() {
        let md = "```text\nClient          Server\n  |---- GET ---->|\n  |<--- 101 -----|\n```";
        assert_eq!(
            text(md, 80),
            [
                "Client          Server",
                "  |---- GET ---->|",
                "  |<--- 101 -----|"
            ]
        );
    }

    #[test]
    fn over_wide_code_continues_instead_of_being_cut() {
        let long = "x".repeat(30);
        let lines = text(&format!("```\n{long}\n```"), 20);
        assert!(lines.len() > 1);
        let joined: String = lines.iter().map(|l| l.trim_start_matches("↪ ")).collect();
        assert_eq!(joined, long);
    }

    #[test]
    fn tables_align_columns() {
        let md = "| Name | Count |\n|:-----|------:|\n| ab | 1 |\n| c | 100 |";
        assert_eq!(
            text(md, 80),
            [
                "┌──────┬───────┐",
                "│ Name │ Count │",
                "├──────┼───────┤",
                "│ ab   │     1 │",
                "│ c    │   100 │",
                "└──────┴───────┘",
            ]
        );
    }

    #[test]
    fn wide_tables_shrink_and_wrap_within_the_width() {
        let md =
            "| a | b |\n|---|---|\n| one two three four five six | seven eight nine ten eleven |";
        let lines = text(md, 30);
        assert!(lines.iter().all(|l| l.width() <= 30), "{lines:#?}");
        let all = lines.join(" ");
        for w in ["one", "six", "seven", "eleven"] {
            assert!(all.contains(w), "{w} missing from {lines:#?}");
        }
    }

    #[test]
    fn quotes_headings_and_rules() {
        assert_eq!(text("> quoted\n> text", 80), ["│ quoted text"]);
        assert_eq!(text("## Key Points", 80), ["## Key Points"]);
        assert_eq!(
            text("a\n\n---\n\nb", 24),
            ["a", "", "─".repeat(24).as_str(), "", "b"]
        );
    }
}

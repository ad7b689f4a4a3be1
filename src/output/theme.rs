//! The colour theme, one place for both renderers: ratatui styles for the TUI and
//! crossterm's ANSI styles for plain output are derived from the same table.

use crate::content::Difficulty;
use crate::content::layout::{Role, SpanStyle};
use ratatui::style::{Color, Modifier, Style};

/// The ratatui style for a laid-out span.
pub fn span_style(s: SpanStyle) -> Style {
    let mut style = match s.role {
        Role::Text => Style::default(),
        Role::Heading(1) => Style::default()
            .fg(Color::LightCyan)
            .add_modifier(Modifier::BOLD),
        Role::Heading(2) => Style::default()
            .fg(Color::Cyan)
            .add_modifier(Modifier::BOLD),
        Role::Heading(_) => Style::default()
            .fg(Color::Blue)
            .add_modifier(Modifier::BOLD),
        Role::Marker => Style::default().fg(Color::DarkGray),
        Role::CodeBlock => Style::default().fg(Color::Yellow),
        Role::TableBorder => Style::default().fg(Color::DarkGray),
        Role::TableHeader => Style::default().add_modifier(Modifier::BOLD),
    };
    let i = s.inline;
    if i.strong {
        style = style.add_modifier(Modifier::BOLD);
    }
    if i.emphasis {
        style = style.add_modifier(Modifier::ITALIC);
    }
    if i.strike {
        style = style.add_modifier(Modifier::CROSSED_OUT);
    }
    if i.code {
        style = style.fg(Color::LightYellow);
    }
    if i.link {
        style = style
            .fg(Color::LightBlue)
            .add_modifier(Modifier::UNDERLINED);
    }
    if i.url {
        style = style.fg(Color::DarkGray);
    }
    style
}

/// Colour for a difficulty label.
pub fn difficulty_style(d: Difficulty) -> Style {
    match d {
        Difficulty::Easy => Style::default().fg(Color::Green),
        Difficulty::Medium => Style::default().fg(Color::Yellow),
        Difficulty::Hard => Style::default().fg(Color::Red),
    }
}

/// The accent used for titles, selection and keys.
pub fn accent() -> Style {
    Style::default()
        .fg(Color::Cyan)
        .add_modifier(Modifier::BOLD)
}

pub fn dim() -> Style {
    Style::default().fg(Color::DarkGray)
}

/// The same style as ANSI escape codes, via crossterm.
pub fn ansi(style: Style, text: &str) -> String {
    use ratatui::crossterm::style::{Attribute, ContentStyle, StyledContent};
    let mut cs = ContentStyle::new();
    cs.foreground_color = style.fg.map(to_crossterm);
    cs.background_color = style.bg.map(to_crossterm);
    for (m, a) in [
        (Modifier::BOLD, Attribute::Bold),
        (Modifier::ITALIC, Attribute::Italic),
        (Modifier::UNDERLINED, Attribute::Underlined),
        (Modifier::CROSSED_OUT, Attribute::CrossedOut),
        (Modifier::DIM, Attribute::Dim),
    ] {
        if style.add_modifier.contains(m) {
            cs.attributes.set(a);
        }
    }
    StyledContent::new(cs, text).to_string()
}

fn to_crossterm(c: Color) -> ratatui::crossterm::style::Color {
    use ratatui::crossterm::style::Color as C;
    match c {
        Color::Black => C::Black,
        Color::Red => C::DarkRed,
        Color::Green => C::DarkGreen,
        Color::Yellow => C::DarkYellow,
        Color::Blue => C::DarkBlue,
        Color::Magenta => C::DarkMagenta,
        Color::Cyan => C::DarkCyan,
        Color::Gray => C::Grey,
        Color::DarkGray => C::DarkGrey,
        Color::LightRed => C::Red,
        Color::LightGreen => C::Green,
        Color::LightYellow => C::Yellow,
        Color::LightBlue => C::Blue,
        Color::LightMagenta => C::Magenta,
        Color::LightCyan => C::Cyan,
        Color::White => C::White,
        Color::Rgb(r, g, b) => C::Rgb { r, g, b },
        Color::Indexed(i) => C::AnsiValue(i),
        Color::Reset => C::Reset,
    }
}

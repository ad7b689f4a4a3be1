//! The content commands: `study`, `list`, `search` and `content lint`.

use super::Ctx;
use crate::cli::{DifficultyArg, LintArgs, ListArgs, SearchArgs, StudyArgs};
use crate::content::{Card, Difficulty, lint, search as find};
use crate::output::{plain, theme};
use ratatui::style::Style;
use serde::Serialize;
use std::io::Write;
use std::process::ExitCode;

/// `swelearn study [ID]`: the TUI, or the printed card with --plain / a non-terminal.
pub fn study(ctx: &Ctx, args: &StudyArgs, out: &mut dyn Write) -> anyhow::Result<ExitCode> {
    let catalog = ctx.catalog()?;
    if let Some(id) = &args.id {
        catalog.require(id)?;
    }
    let plain = args.plain || !ctx.stdout_is_tty;
    if !plain {
        let mut marks = ctx.progress()?;
        crate::tui::run_study(&ctx.config, &catalog, args.id.as_deref(), &mut marks)?;
        return Ok(ExitCode::SUCCESS);
    }
    let width = args
        .width
        .map(usize::from)
        .or_else(|| ctx.stdout_is_tty.then(terminal_width).flatten())
        .unwrap_or(80);
    match &args.id {
        Some(id) => {
            let card = catalog.require(id)?;
            plain::write_lines(out, &plain::card_lines(card, width), ctx.color())?;
        }
        None => {
            writeln!(out, "Pick a card: swelearn study ID --plain\n")?;
            list_cards(ctx, catalog.cards().iter().collect(), out)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn terminal_width() -> Option<usize> {
    ratatui::crossterm::terminal::size()
        .ok()
        .map(|(w, _)| usize::from(w))
}

fn difficulty(d: DifficultyArg) -> Difficulty {
    match d {
        DifficultyArg::Easy => Difficulty::Easy,
        DifficultyArg::Medium => Difficulty::Medium,
        DifficultyArg::Hard => Difficulty::Hard,
    }
}

/// A card as `list --json` prints it.
#[derive(Serialize)]
struct CardJson<'a> {
    #[serde(flatten)]
    card: &'a Card,
    estimated_time: String,
    position: usize,
}

/// `swelearn list`.
pub fn list(ctx: &Ctx, args: &ListArgs, out: &mut dyn Write) -> anyhow::Result<ExitCode> {
    let catalog = ctx.catalog()?;
    if let Some(tag) = &args.tag
        && !catalog.tags().contains_key(tag.as_str())
    {
        let tags: Vec<String> = catalog.tags().into_keys().collect();
        let close: Vec<&String> = tags
            .iter()
            .filter(|t| t.contains(tag.as_str()) || tag.contains(t.as_str()))
            .collect();
        let hint = if close.is_empty() {
            format!(
                "{} tags are in use: swelearn list --json | jq -r '.[].tags[]' | sort -u",
                tags.len()
            )
        } else {
            format!(
                "did you mean {}?",
                close
                    .iter()
                    .map(|t| t.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        anyhow::bail!("no card has the tag `{tag}`; {hint}");
    }
    let cards: Vec<&Card> = catalog
        .cards()
        .iter()
        .filter(|c| args.tag.as_ref().is_none_or(|t| c.tags.contains(t)))
        .filter(|c| {
            args.difficulty
                .is_none_or(|d| c.difficulty == difficulty(d))
        })
        .collect();
    if args.json {
        let position = |c: &Card| {
            catalog
                .cards()
                .iter()
                .position(|x| x.id == c.id)
                .unwrap_or(0)
                + 1
        };
        let json: Vec<CardJson> = cards
            .iter()
            .map(|c| CardJson {
                card: c,
                estimated_time: c.estimated_time(),
                position: position(c),
            })
            .collect();
        serde_json::to_writer_pretty(&mut *out, &json)?;
        writeln!(out)?;
        return Ok(ExitCode::SUCCESS);
    }
    list_cards(ctx, cards, out)?;
    Ok(ExitCode::SUCCESS)
}

fn list_cards(ctx: &Ctx, cards: Vec<&Card>, out: &mut dyn Write) -> anyhow::Result<()> {
    // On a terminal the last column is cut to the width; piped output is never cut.
    let width = ctx.stdout_is_tty.then(terminal_width).flatten();
    let id_width = cards.iter().map(|c| c.id.len()).max().unwrap_or(2);
    let rows: Vec<Vec<(String, Style)>> = cards
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let fixed = 4 + id_width + 2 + 8 + 9;
            let mut title = format!("{}  [{}]", c.title, c.tags.join(", "));
            if let Some(w) = width
                && title.chars().count() + fixed > w
            {
                let keep = w.saturating_sub(fixed + 1).max(10);
                title = title.chars().take(keep).collect::<String>() + "…";
            }
            vec![
                (format!("{:>2}", i + 1), theme::dim()),
                (c.id.clone(), theme::accent()),
                (
                    c.difficulty.to_string(),
                    theme::difficulty_style(c.difficulty),
                ),
                (c.estimated_time(), Style::default()),
                (title, Style::default()),
            ]
        })
        .collect();
    plain::write_table(
        out,
        &[" #", "id", "level", "time", "title  [tags]"],
        &rows,
        ctx.color(),
    )?;
    Ok(())
}

#[derive(Serialize)]
struct HitJson<'a> {
    id: &'a str,
    title: &'a str,
    score: u32,
    field: find::Field,
    #[serde(skip_serializing_if = "Option::is_none")]
    line: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    excerpt: Option<&'a str>,
}

/// `swelearn search QUERY`.
pub fn search(ctx: &Ctx, args: &SearchArgs, out: &mut dyn Write) -> anyhow::Result<ExitCode> {
    let catalog = ctx.catalog()?;
    let query = args.query.join(" ");
    if query.trim().is_empty() {
        anyhow::bail!("the search query is empty");
    }
    let hits = find::search(&catalog, &query);
    if args.json {
        let json: Vec<HitJson> = hits
            .iter()
            .map(|h| HitJson {
                id: &h.card.id,
                title: &h.card.title,
                score: h.score,
                field: h.field,
                line: h.line,
                excerpt: h.excerpt.as_deref(),
            })
            .collect();
        serde_json::to_writer_pretty(&mut *out, &json)?;
        writeln!(out)?;
        return Ok(ExitCode::SUCCESS);
    }
    if hits.is_empty() {
        writeln!(out, "No card matches `{query}`.")?;
        return Ok(ExitCode::SUCCESS);
    }
    let color = ctx.color();
    let paint = |s: Style, t: &str| {
        if color {
            theme::ansi(s, t)
        } else {
            t.to_string()
        }
    };
    for hit in &hits {
        let field = match hit.field {
            find::Field::Title => "title",
            find::Field::Tag => "tag",
            find::Field::Id => "id",
            find::Field::Body => "text",
        };
        writeln!(
            out,
            "{}  {}  {}",
            paint(theme::accent(), &hit.card.id),
            hit.card.title,
            paint(theme::dim(), &format!("({field} match)"))
        )?;
        if let (Some(line), Some(excerpt)) = (hit.line, &hit.excerpt) {
            writeln!(
                out,
                "    {}{}",
                paint(theme::dim(), &format!("{line}: ")),
                excerpt
            )?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `swelearn content lint [DIR...]`.
pub fn lint(ctx: &Ctx, args: &LintArgs, out: &mut dyn Write) -> anyhow::Result<ExitCode> {
    let report = lint::lint(&args.dirs, &ctx.config.content_dirs.value)?;
    for p in &report.problems {
        writeln!(out, "{p}")?;
    }
    let summary = format!(
        "{} card{}, {} quiz bank{}: {}",
        report.cards,
        if report.cards == 1 { "" } else { "s" },
        report.quiz_files,
        if report.quiz_files == 1 { "" } else { "s" },
        match report.problems.len() {
            0 => "no problems".to_string(),
            1 => "1 problem".to_string(),
            n => format!("{n} problems"),
        }
    );
    eprintln!("{summary}");
    Ok(if report.is_clean() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

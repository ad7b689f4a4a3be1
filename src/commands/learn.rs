//! The learning commands: `quiz`, `practice`, `stats` and `progress`.
//!
//! Both quiz and practice build a [`QuizRun`] from a plan, then drive it either in the
//! TUI or with the plain loop here, which reads one answer per line from stdin (so it
//! can be scripted and tested). Every answer is recorded as soon as it is graded.

use super::{Ctx, now};
use crate::cli::{PracticeArgs, ProgressCommand, QuizArgs, StatsArgs};
use crate::content::Catalog;
use crate::content::layout::layout;
use crate::content::markdown;
use crate::learn::grade::{Graded, Presented, Question, Response, format_number};
use crate::learn::quiz::{ItemKind, QuizBank, parse_quiz_bank};
use crate::learn::quiz_run::{
    PredictRun, PredictRunner, QuizRun, describe_interval, parse_self_rating,
};
use crate::learn::scheduler::Scheduler;
use crate::learn::session::{PlanReason, SessionOptions};
use crate::learn::store::{ResetScope, Store};
use crate::output::{plain, theme};
use anyhow::Context;
use std::collections::HashSet;
use std::io::{BufRead, IsTerminal, Read, Write};
use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

/// The quiz banks of the catalog; banks with problems are skipped with a warning.
pub fn load_banks(catalog: &Catalog) -> Vec<QuizBank> {
    let mut banks = Vec::new();
    let mut broken = 0;
    for file in catalog.quiz_files() {
        match parse_quiz_bank(&file.path, &file.text) {
            Ok(bank) if catalog.get(&bank.card).is_some() => banks.push(bank),
            Ok(_) | Err(_) => broken += 1,
        }
    }
    if broken > 0 {
        eprintln!(
            "swelearn: warning: {broken} quiz bank{} skipped because of problems (run `swelearn content lint`)",
            if broken == 1 { "" } else { "s" }
        );
    }
    // Content order, so "new" questions follow the suggested study order.
    let position = |card: &str| {
        catalog
            .cards()
            .iter()
            .position(|c| c.id == card)
            .unwrap_or(usize::MAX)
    };
    banks.sort_by_key(|b| position(&b.card));
    banks
}

fn scheduler(ctx: &Ctx) -> anyhow::Result<Scheduler> {
    Ok(Scheduler::new(ctx.config.desired_retention.value)?)
}

/// Runs predict items' scenarios on the discrete-event engine (fixed seed, so an
/// item's answer is the same for everyone).
pub struct Simulations;

/// The seed predict items run with.
pub const PREDICT_SEED: u64 = 7;

impl PredictRunner for Simulations {
    fn run(
        &self,
        scenario: &str,
        params: &[(String, String)],
        metric: &str,
    ) -> Result<PredictRun, String> {
        let report =
            crate::sim::run_by_name(scenario, params, PREDICT_SEED).map_err(|e| e.to_string())?;
        let actual = report
            .metric_value(metric)
            .ok_or_else(|| format!("the run did not define `{metric}`"))?;
        Ok(PredictRun {
            actual,
            report: Some(Box::new(report)),
        })
    }
}

/// Kinds a session can ask now.
fn askable_kinds() -> Vec<ItemKind> {
    vec![
        ItemKind::Choice,
        ItemKind::Multi,
        ItemKind::Order,
        ItemKind::Numeric,
        ItemKind::Recall,
        ItemKind::Predict,
    ]
}

/// Whether to use the plain loop: asked for, or stdin/stdout is not a terminal.
fn use_plain(ctx: &Ctx, plain: bool) -> bool {
    plain || !ctx.stdout_is_tty || !std::io::stdin().is_terminal()
}

/// `swelearn quiz [ID | --tag T] [--count N]`.
pub fn quiz(ctx: &Ctx, args: &QuizArgs, out: &mut dyn Write) -> anyhow::Result<ExitCode> {
    let catalog = ctx.catalog()?;
    let cards: Vec<String> = match (&args.id, &args.tag) {
        (Some(id), _) => vec![catalog.require(id)?.id.clone()],
        (None, Some(tag)) => {
            let ids: Vec<String> = catalog
                .cards()
                .iter()
                .filter(|c| c.tags.contains(tag))
                .map(|c| c.id.clone())
                .collect();
            if ids.is_empty() {
                anyhow::bail!("no card has the tag `{tag}` (see `swelearn list`)");
            }
            ids
        }
        (None, None) => catalog.cards().iter().map(|c| c.id.clone()).collect(),
    };
    let banks = load_banks(&catalog);
    let mut store = ctx.progress()?;
    let now = now();
    let count = args.count as usize;
    let options = SessionOptions {
        max_new: count,
        max_due: Some(count),
        time_box_s: None,
        cards: Some(cards.clone()),
        kinds: Some(askable_kinds()),
    };
    let plan = store.plan_session(&banks, now, &options)?;
    let mut ids: Vec<String> = plan.items.iter().map(|i| i.item_id.clone()).collect();
    ids.truncate(count);
    // A quiz on a card asks even what is not due yet: fill up with the items due soonest.
    if ids.len() < count {
        let planned: HashSet<String> = ids.iter().cloned().collect();
        let kinds = askable_kinds();
        let mut rest = Vec::new();
        for bank in banks.iter().filter(|b| cards.contains(&b.card)) {
            for item in bank
                .items
                .iter()
                .filter(|i| kinds.contains(&i.kind()) && !planned.contains(&i.id))
            {
                let due = store.item_state(&item.id)?.map_or(i64::MIN, |s| s.due_ms);
                rest.push((due, item.id.clone()));
            }
        }
        rest.sort();
        ids.extend(rest.into_iter().map(|(_, id)| id).take(count - ids.len()));
    }
    if ids.is_empty() {
        writeln!(out, "No quiz questions for {}.", cards.join(", "))?;
        return Ok(ExitCode::SUCCESS);
    }
    let title = match (&args.id, &args.tag) {
        (Some(id), _) => format!("quiz · {id}"),
        (None, Some(tag)) => format!("quiz · tag {tag}"),
        (None, None) => "quiz · all cards".to_string(),
    };
    run_session(
        ctx, &catalog, &banks, &mut store, &ids, title, None, args.plain, out,
    )
}

/// `swelearn practice [--minutes M] [--new N]`.
pub fn practice(ctx: &Ctx, args: &PracticeArgs, out: &mut dyn Write) -> anyhow::Result<ExitCode> {
    let catalog = ctx.catalog()?;
    let banks = load_banks(&catalog);
    let mut store = ctx.progress()?;
    let now = now();
    let mut options = SessionOptions::minutes(args.minutes);
    options.max_new = args.new as usize;
    options.kinds = Some(askable_kinds());
    let plan = store.plan_session(&banks, now, &options)?;
    if plan.items.is_empty() {
        writeln!(
            out,
            "Nothing to practise: no question is due and no new one is left."
        )?;
        return Ok(ExitCode::SUCCESS);
    }
    let due = plan
        .items
        .iter()
        .filter(|i| matches!(i.reason, PlanReason::Due { .. }))
        .count();
    writeln!(
        out,
        "Practice: {} questions ({due} due for review, {} new), about {} min.",
        plan.items.len(),
        plan.items.len() - due,
        plan.estimated_seconds.div_ceil(60)
    )?;
    let ids: Vec<String> = plan.items.iter().map(|i| i.item_id.clone()).collect();
    let title = format!("practice · {} min", args.minutes);
    let time_box = std::time::Duration::from_secs(u64::from(args.minutes) * 60);
    run_session(
        ctx,
        &catalog,
        &banks,
        &mut store,
        &ids,
        title,
        Some(time_box),
        args.plain,
        out,
    )
}

#[allow(clippy::too_many_arguments)]
fn run_session(
    ctx: &Ctx,
    catalog: &Catalog,
    banks: &[QuizBank],
    store: &mut Store,
    ids: &[String],
    title: String,
    time_box: Option<std::time::Duration>,
    plain: bool,
    out: &mut dyn Write,
) -> anyhow::Result<ExitCode> {
    let scheduler = scheduler(ctx)?;
    let mut run = QuizRun::new(banks, ids);
    if !use_plain(ctx, plain) {
        let card_titles = catalog
            .cards()
            .iter()
            .map(|c| (c.id.clone(), c.title.clone()))
            .collect();
        crate::tui::quiz::run_quiz(
            &ctx.config,
            crate::tui::quiz::QuizSession {
                run,
                store,
                scheduler: &scheduler,
                predict: &Simulations,
                banks,
                title,
                time_box,
                card_titles,
            },
        )?;
        return Ok(ExitCode::SUCCESS);
    }
    let stdin = std::io::stdin();
    let mut input = stdin.lock();
    writeln!(out, "{title}\n")?;
    let results = plain_loop(
        ctx,
        &mut run,
        store,
        &scheduler,
        &Simulations,
        &mut input,
        out,
        time_box,
    )?;
    let summary = store.session_summary(banks, &results, now())?;
    writeln!(out)?;
    write_summary(out, &summary)?;
    Ok(ExitCode::SUCCESS)
}

fn width(ctx: &Ctx) -> usize {
    if ctx.stdout_is_tty {
        ratatui::crossterm::terminal::size()
            .map_or(80, |(w, _)| usize::from(w))
            .min(100)
    } else {
        80
    }
}

fn write_markdown(ctx: &Ctx, out: &mut dyn Write, md: &str) -> std::io::Result<()> {
    plain::write_lines(out, &layout(&markdown::parse(md), width(ctx)), ctx.color())
}

/// Reads one trimmed line; `None` at end of input. Piped answers are echoed so the
/// transcript reads like a typed session.
fn read_line(input: &mut dyn BufRead, out: &mut dyn Write) -> std::io::Result<Option<String>> {
    let mut line = String::new();
    if input.read_line(&mut line)? == 0 {
        return Ok(None);
    }
    let line = line.trim().to_string();
    if !std::io::stdin().is_terminal() {
        writeln!(out, "{line}")?;
    }
    Ok(Some(line))
}

fn write_question(
    ctx: &Ctx,
    out: &mut dyn Write,
    p: &Presented,
    k: usize,
    n: usize,
) -> std::io::Result<()> {
    let paint = |s, t: &str| {
        if ctx.color() {
            theme::ansi(s, t)
        } else {
            t.to_string()
        }
    };
    writeln!(
        out,
        "{}",
        paint(
            theme::accent(),
            &format!("Question {k}/{n} · {} · {}", p.card, p.kind.as_str())
        )
    )?;
    write_markdown(ctx, out, &p.prompt)?;
    match &p.question {
        Question::Choice { options, .. } => {
            for (i, o) in options.iter().enumerate() {
                writeln!(out, "  {}) {o}", i + 1)?;
            }
            writeln!(
                out,
                "{}",
                paint(theme::dim(), "(type the number of your choice)")
            )?;
        }
        Question::Multi { options, .. } => {
            for (i, o) in options.iter().enumerate() {
                writeln!(out, "  {}) {o}", i + 1)?;
            }
            writeln!(
                out,
                "{}",
                paint(theme::dim(), "(type every right number, e.g. 1,3)")
            )?;
        }
        Question::Order { steps, .. } => {
            for (i, o) in steps.iter().enumerate() {
                writeln!(out, "  {}) {o}", i + 1)?;
            }
            writeln!(
                out,
                "{}",
                paint(
                    theme::dim(),
                    "(type the numbers in the right order, e.g. 3 1 2)"
                )
            )?;
        }
        Question::Numeric {
            unit, tolerance, ..
        } => {
            writeln!(
                out,
                "{}",
                paint(
                    theme::dim(),
                    &format!("(a number in {unit}; {})", tolerance.describe(unit))
                )
            )?;
        }
        Question::Recall { .. } => {
            writeln!(
                out,
                "{}",
                paint(
                    theme::dim(),
                    "(answer in your own words, then rate yourself)"
                )
            )?;
        }
        Question::Predict {
            scenario,
            params,
            unit,
            ..
        } => {
            let params: Vec<String> = params.iter().map(|(k, v)| format!("{k}={v}")).collect();
            writeln!(out, "  scenario: {scenario} {}", params.join(" "))?;
            writeln!(
                out,
                "{}",
                paint(theme::dim(), &format!("(your estimate in {unit})"))
            )?;
        }
    }
    Ok(())
}

/// Asks every question of `run`, reading answers from `input`; stops at end of input
/// or when the time box is used. Returns the graded answers (already recorded).
#[allow(clippy::too_many_arguments)]
pub fn plain_loop(
    ctx: &Ctx,
    run: &mut QuizRun<'_>,
    store: &mut Store,
    scheduler: &Scheduler,
    predict: &dyn PredictRunner,
    input: &mut dyn BufRead,
    out: &mut dyn Write,
    time_box: Option<std::time::Duration>,
) -> anyhow::Result<Vec<Graded>> {
    let started = Instant::now();
    let n = run.len();
    'questions: while run.advance(now()).is_some() {
        if time_box.is_some_and(|t| started.elapsed() >= t) {
            writeln!(out, "Time is up.")?;
            break;
        }
        let Some(presented) = run.current().cloned() else {
            break;
        };
        write_question(ctx, out, &presented, run.position(), n)?;
        let shown = Instant::now();
        let feedback = loop {
            write!(out, "answer> ")?;
            out.flush()?;
            let Some(line) = read_line(input, out)? else {
                writeln!(out)?;
                break 'questions;
            };
            let response = if let Question::Recall { model_answer } = &presented.question {
                writeln!(out, "Model answer:")?;
                write_markdown(ctx, out, model_answer)?;
                let rating = loop {
                    write!(out, "rate yourself: 1 again, 2 hard, 3 good, 4 easy> ")?;
                    out.flush()?;
                    let Some(r) = read_line(input, out)? else {
                        writeln!(out)?;
                        break 'questions;
                    };
                    match parse_self_rating(&r) {
                        Some(rating) => break rating,
                        None => writeln!(out, "  ! type 1, 2, 3 or 4")?,
                    }
                };
                Response::SelfRating(rating)
            } else {
                Response::Text(&line)
            };
            let elapsed = u64::try_from(shown.elapsed().as_millis()).unwrap_or(u64::MAX);
            match run.answer(response, elapsed, store, scheduler, predict, now())? {
                Ok(f) => break f,
                Err(e) => writeln!(out, "  ! {e}")?,
            }
        };
        let g = &feedback.graded;
        let verdict = if g.correct {
            "✓ Right"
        } else {
            "✗ Not quite"
        };
        let style = if g.correct {
            theme::difficulty_style(crate::content::Difficulty::Easy)
        } else {
            theme::difficulty_style(crate::content::Difficulty::Hard)
        };
        let verdict = if ctx.color() {
            theme::ansi(style, verdict)
        } else {
            verdict.to_string()
        };
        if matches!(presented.question, Question::Recall { .. }) {
            writeln!(out, "{verdict}")?;
        } else {
            writeln!(out, "{verdict}: the answer is {}", g.expected)?;
        }
        if let (Some(actual), Some(err)) = (feedback.actual, g.relative_error) {
            writeln!(
                out,
                "  simulated: {} (your estimate was off by {:.0} %)",
                format_number(actual),
                err * 100.0
            )?;
        }
        // The run the estimate is scored against: its first series as a chart.
        if let Some(report) = &feedback.report
            && let Some(series) = report.series.first()
        {
            writeln!(
                out,
                "  the run: {} (seed {}), {:.1} s simulated",
                report.scenario, report.seed, report.end_s
            )?;
            for line in crate::output::text::chart_lines(report, series, width(ctx), false) {
                writeln!(out, "  {line}")?;
            }
        }
        write_markdown(ctx, out, &presented.explanation)?;
        writeln!(
            out,
            "{}\n",
            if ctx.color() {
                theme::ansi(
                    theme::dim(),
                    &format!(
                        "rated {} · back {}",
                        g.rating.as_str(),
                        describe_interval(feedback.next_in_days)
                    ),
                )
            } else {
                format!(
                    "rated {} · back {}",
                    g.rating.as_str(),
                    describe_interval(feedback.next_in_days)
                )
            }
        )?;
    }
    for s in &run.skipped {
        eprintln!("swelearn: warning: skipped a question: {s}");
    }
    Ok(run.results.clone())
}

fn write_summary(
    out: &mut dyn Write,
    s: &crate::learn::session::SessionSummary,
) -> std::io::Result<()> {
    let accuracy = s
        .accuracy
        .map_or("-".to_string(), |a| format!("{:.0} %", a * 100.0));
    writeln!(out, "Session summary")?;
    writeln!(
        out,
        "  answered   {} ({} right, accuracy {accuracy})",
        s.answered, s.correct
    )?;
    writeln!(
        out,
        "  ratings    again {} · hard {} · good {} · easy {}",
        s.ratings.again, s.ratings.hard, s.ratings.good, s.ratings.easy
    )?;
    writeln!(out, "  time       {} s", s.time_spent_ms / 1000)?;
    writeln!(out, "  still due  {}", s.due_remaining)?;
    writeln!(
        out,
        "  next due   {}",
        s.next_due_date.as_deref().unwrap_or("-")
    )?;
    writeln!(
        out,
        "  streak     {} day{} (longest {})",
        s.streak.current_days,
        if s.streak.current_days == 1 { "" } else { "s" },
        s.streak.longest_days
    )?;
    Ok(())
}

/// `swelearn stats`.
pub fn stats(ctx: &Ctx, args: &StatsArgs, out: &mut dyn Write) -> anyhow::Result<ExitCode> {
    let catalog = ctx.catalog()?;
    let banks = load_banks(&catalog);
    let scheduler = scheduler(ctx)?;
    let mut store = ctx.progress()?;
    if args.rebuild {
        let n = store.rebuild(&scheduler)?;
        eprintln!("Rebuilt {n} item states from the review log.");
    }
    let stats = store.stats(&scheduler, &banks, now())?;
    if args.json {
        serde_json::to_writer_pretty(&mut *out, &stats)?;
        writeln!(out)?;
        return Ok(ExitCode::SUCCESS);
    }
    if !use_plain(ctx, args.plain) {
        let titles = catalog
            .cards()
            .iter()
            .map(|c| (c.id.clone(), c.title.clone()))
            .collect();
        crate::tui::stats::run_stats(&ctx.config, &stats, &titles)?;
        return Ok(ExitCode::SUCCESS);
    }
    let title = |id: &str| catalog.get(id).map_or(id.to_string(), |c| c.title.clone());
    let pct = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{:.0} %", v * 100.0));
    writeln!(
        out,
        "Progress on {} ({} items: {} answered, {} new)",
        stats.today, stats.items_total, stats.items_reviewed, stats.items_new
    )?;
    writeln!(
        out,
        "  due now {} · today {} · this week {}",
        stats.due_now, stats.due_today, stats.due_this_week
    )?;
    writeln!(
        out,
        "  retention: target {:.0} %, estimated now {}, accuracy over 30 days {} ({} reviews)",
        stats.retention.desired * 100.0,
        pct(stats.retention.mean_retrievability),
        pct(stats.retention.accuracy_30d),
        stats.retention.reviews_30d
    )?;
    writeln!(
        out,
        "  streak: {} days (longest {})",
        stats.streak.current_days, stats.streak.longest_days
    )?;
    let spark = |counts: &[u32]| -> String {
        const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
        let max = counts.iter().copied().max().unwrap_or(0).max(1);
        counts
            .iter()
            .map(|&c| {
                if c == 0 {
                    '·'
                } else {
                    BARS[((c * 7).div_ceil(max)) as usize]
                }
            })
            .collect()
    };
    let forecast: Vec<u32> = stats.forecast.iter().map(|d| d.count).collect();
    let history: Vec<u32> = stats.history.iter().map(|d| d.count).collect();
    writeln!(
        out,
        "  due, next 30 days:    {}  (max {}/day)",
        spark(&forecast),
        forecast.iter().max().unwrap_or(&0)
    )?;
    writeln!(
        out,
        "  reviews, last 30 days: {}  (max {}/day)",
        spark(&history),
        history.iter().max().unwrap_or(&0)
    )?;
    writeln!(out)?;
    let rows: Vec<Vec<(String, ratatui::style::Style)>> = stats
        .cards
        .iter()
        .map(|c| {
            vec![
                (title(&c.card_id), Default::default()),
                (format!("{}/{}", c.reviewed, c.items), Default::default()),
                (format!("{:.0} %", c.mastery * 100.0), theme::accent()),
                (c.due_today.to_string(), theme::dim()),
            ]
        })
        .collect();
    plain::write_table(
        out,
        &["card", "answered", "mastery", "due today"],
        &rows,
        ctx.color(),
    )?;
    Ok(ExitCode::SUCCESS)
}

/// `swelearn progress export|import|reset`.
pub fn progress(ctx: &Ctx, cmd: &ProgressCommand, out: &mut dyn Write) -> anyhow::Result<ExitCode> {
    match cmd {
        ProgressCommand::Export { file } => {
            let store = ctx.progress()?;
            let json = store.export_json(now())?;
            if file == Path::new("-") {
                writeln!(out, "{json}")?;
            } else {
                write_new_file(file, json.as_bytes())?;
                eprintln!("Wrote progress to {}.", file.display());
            }
        }
        ProgressCommand::Import { file } => {
            let json = if file == Path::new("-") {
                let mut s = String::new();
                std::io::stdin()
                    .read_to_string(&mut s)
                    .context("cannot read stdin")?;
                s
            } else {
                std::fs::read_to_string(file)
                    .with_context(|| format!("cannot read {}", file.display()))?
            };
            let mut store = ctx.progress()?;
            let summary = store
                .import_json(&scheduler(ctx)?, &json)
                .with_context(|| format!("cannot import {}", file.display()))?;
            writeln!(
                out,
                "Imported {} reviews ({} already present) and {} read marks.",
                summary.reviews_added, summary.reviews_skipped, summary.marks_added
            )?;
        }
        ProgressCommand::Reset { card, yes } => {
            let catalog = ctx.catalog()?;
            let scope = match card {
                Some(id) => ResetScope::Card(catalog.require(id)?.id.clone()),
                None => ResetScope::All,
            };
            let what = match &scope {
                ResetScope::Card(id) => format!("the progress of card `{id}`"),
                ResetScope::All => "ALL progress".to_string(),
            };
            if !yes
                && !confirm(&format!(
                    "Delete {what} in {}? This cannot be undone (export first with `swelearn progress export FILE`). Type yes to confirm: ",
                    ctx.progress_path().display()
                ))?
            {
                writeln!(out, "Nothing deleted.")?;
                return Ok(ExitCode::from(1));
            }
            let mut store = ctx.progress()?;
            let s = store.reset(&scope)?;
            writeln!(
                out,
                "Deleted {} reviews, {} item states and {} read marks.",
                s.reviews, s.items, s.marks
            )?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Asks on the terminal; without one, refuses (pass --yes in scripts).
fn confirm(question: &str) -> anyhow::Result<bool> {
    if !std::io::stdin().is_terminal() {
        anyhow::bail!(
            "refusing to delete progress without confirmation: stdin is not a terminal; pass --yes"
        );
    }
    eprint!("{question}");
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer)?;
    Ok(answer.trim().eq_ignore_ascii_case("yes"))
}

/// Writes a file without clobbering an existing one.
fn write_new_file(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .with_context(|| format!("cannot create {} (it must not exist yet)", path.display()))?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .with_context(|| format!("cannot write {}", path.display()))
}

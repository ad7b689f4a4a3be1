//! Plays back simulation reports: the run's time series drawn up to a moving cursor,
//! a gauge of progress, and the summary metrics, with pause, step and speed keys.
//! Several reports (a `--compare`) are overlaid on one chart, one colour each.
//!
//! Elm style like the reader: [`SimAction`] -> [`SimApp::update`] -> [`render`].
//! [`run_playback`] owns the terminal and turns a timer into `Tick` actions.

use crate::output::theme;
use crate::sim::Report;
use ratatui::Frame;
use ratatui::crossterm::event::{self, Event, KeyCode, KeyEventKind, KeyModifiers};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{
    Axis, Block, Cell, Chart, Dataset, Gauge, GraphType, Paragraph, Row, Table,
};
use std::time::{Duration, Instant};

/// One playback action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SimAction {
    /// Quit the playback.
    Quit,
    /// Timer tick: advance when playing.
    Tick,
    /// Pause or resume.
    TogglePlay,
    /// Move the cursor by this many points (pauses).
    Step(i32),
    /// Faster (1) or slower (-1) playback.
    Speed(i32),
    /// Jump to the start.
    Start,
    /// Jump to the end.
    End,
    /// Show the next (1) or previous (-1) series in the chart.
    NextSeries(i32),
    /// Show or hide the key help.
    ToggleHelp,
}

/// Playback state.
pub struct SimApp<'a> {
    /// The runs, with their labels (one run: its scenario name).
    pub runs: Vec<(String, &'a Report)>,
    /// Index of the next point to reveal (0 = nothing shown yet).
    pub cursor: usize,
    pub playing: bool,
    /// Playback speed as a power of two of points per tick (0 = 1 point per tick).
    pub speed: i32,
    /// Index of the series shown in the chart.
    pub series: usize,
    pub help: bool,
    pub quit: bool,
    /// A line shown in place of the key hints (e.g. a predict challenge's
    /// estimate), if any.
    pub banner: Option<String>,
}

/// Colours of overlaid runs, in order.
const RUN_COLORS: [Color; 6] = [
    Color::Cyan,
    Color::Yellow,
    Color::Magenta,
    Color::Green,
    Color::LightRed,
    Color::LightBlue,
];

/// Ticks per second of playback.
pub const TICKS_PER_SECOND: u32 = 20;

impl<'a> SimApp<'a> {
    pub fn new(runs: Vec<(String, &'a Report)>) -> Self {
        // Start with about 10 s of playback for the whole run.
        let points = runs.iter().map(|(_, r)| r.points()).max().unwrap_or(0);
        let per_tick = (points as f64 / f64::from(TICKS_PER_SECOND * 10)).max(1.0);
        let speed = per_tick.log2().round() as i32;
        SimApp {
            runs,
            cursor: 0,
            playing: true,
            speed,
            series: 0,
            help: false,
            quit: false,
            banner: None,
        }
    }

    /// Points in the longest run.
    pub fn points(&self) -> usize {
        self.runs.iter().map(|(_, r)| r.points()).max().unwrap_or(0)
    }

    fn series_count(&self) -> usize {
        self.runs.first().map_or(0, |(_, r)| r.series.len())
    }

    /// When the longest run ended, in seconds (compared runs can end apart,
    /// e.g. a slow detector's run outlasts a fast one's).
    pub fn end_s(&self) -> f64 {
        self.runs.iter().map(|(_, r)| r.end_s).fold(0.0, f64::max)
    }

    /// Virtual time at the cursor, in seconds.
    pub fn time_s(&self) -> f64 {
        let interval = self.runs.first().map_or(0.0, |(_, r)| r.series_interval_s);
        self.cursor as f64 * interval
    }

    pub fn update(&mut self, action: SimAction) {
        let points = self.points();
        match action {
            SimAction::Quit => self.quit = true,
            SimAction::ToggleHelp => self.help = !self.help,
            _ if self.help => {}
            SimAction::Tick => {
                if self.playing {
                    let step = 1usize << self.speed.clamp(0, 20);
                    self.cursor = (self.cursor + step).min(points);
                    if self.cursor == points {
                        self.playing = false;
                    }
                }
            }
            SimAction::TogglePlay => {
                if self.cursor >= points {
                    self.cursor = 0;
                }
                self.playing = !self.playing;
            }
            SimAction::Step(d) => {
                self.playing = false;
                self.cursor = (self.cursor as i64 + i64::from(d)).clamp(0, points as i64) as usize;
            }
            SimAction::Speed(d) => self.speed = (self.speed + d).clamp(0, 20),
            SimAction::Start => self.cursor = 0,
            SimAction::End => {
                self.cursor = points;
                self.playing = false;
            }
            SimAction::NextSeries(d) => {
                let n = self.series_count().max(1) as i64;
                self.series = (self.series as i64 + i64::from(d)).rem_euclid(n) as usize;
            }
        }
    }
}

/// Maps a key to a playback action.
pub fn action_for(event: &Event) -> Option<SimAction> {
    let Event::Key(key) = event else { return None };
    if key.kind == KeyEventKind::Release {
        return None;
    }
    if key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c') {
        return Some(SimAction::Quit);
    }
    Some(match key.code {
        KeyCode::Char('q') | KeyCode::Esc => SimAction::Quit,
        KeyCode::Char(' ') | KeyCode::Char('p') => SimAction::TogglePlay,
        KeyCode::Right | KeyCode::Char('l') | KeyCode::Char('.') => SimAction::Step(1),
        KeyCode::Left | KeyCode::Char('h') | KeyCode::Char(',') => SimAction::Step(-1),
        KeyCode::Char('L') => SimAction::Step(50),
        KeyCode::Char('H') => SimAction::Step(-50),
        KeyCode::Char('+') | KeyCode::Char('=') | KeyCode::Up | KeyCode::Char('k') => {
            SimAction::Speed(1)
        }
        KeyCode::Char('-') | KeyCode::Down | KeyCode::Char('j') => SimAction::Speed(-1),
        KeyCode::Char('g') | KeyCode::Home => SimAction::Start,
        KeyCode::Char('G') | KeyCode::End => SimAction::End,
        KeyCode::Tab | KeyCode::Char('n') => SimAction::NextSeries(1),
        KeyCode::BackTab | KeyCode::Char('N') => SimAction::NextSeries(-1),
        KeyCode::Char('?') => SimAction::ToggleHelp,
        _ => return None,
    })
}

const HELP: &[(&str, &str)] = &[
    ("Space p", "pause / play (from the start when at the end)"),
    ("→ l .  ← h ,", "step one point forward / back"),
    ("L H", "step 50 points"),
    ("+ k ↑  - j ↓", "faster / slower"),
    ("g G", "start / end"),
    ("Tab n  N", "next / previous series"),
    ("?", "this help"),
    ("q Esc", "quit"),
];

/// Draws the playback screen.
pub fn render(app: &SimApp, frame: &mut Frame) {
    let Some((_, first)) = app.runs.first() else {
        return;
    };
    let [top, body, footer] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(8),
        Constraint::Length(1),
    ])
    .areas(frame.area());
    let state = if app.playing {
        "▶ playing"
    } else {
        "⏸ paused"
    };
    // A live run compared with the model shows both backends.
    let backends = app
        .runs
        .iter()
        .map(|(_, r)| r.backend.as_str())
        .fold(Vec::new(), |mut seen, b| {
            if !seen.contains(&b) {
                seen.push(b);
            }
            seen
        })
        .join(" vs ");
    let title = format!(
        " swelearn · simulate {} ({backends}) · seed {}",
        first.scenario, first.seed
    );
    let right = format!(
        "t = {:.1} s / {:.1} s · {state} · ×{} ",
        app.time_s().min(app.end_s()),
        app.end_s(),
        1u64 << app.speed.clamp(0, 20)
    );
    let room = usize::from(top.width).saturating_sub(right.chars().count() + 1);
    let title: String = if title.chars().count() > room {
        title
            .chars()
            .take(room.saturating_sub(1))
            .chain(std::iter::once('…'))
            .collect()
    } else {
        title
    };
    let pad = usize::from(top.width).saturating_sub(title.chars().count() + right.chars().count());
    frame.render_widget(
        Paragraph::new(Line::from(vec![
            Span::styled(title, theme::accent()),
            Span::raw(" ".repeat(pad)),
            Span::styled(right, theme::dim()),
        ])),
        top,
    );

    let wide = body.width >= 110;
    let (chart_area, side) = if wide {
        let side_w = side_width(app.runs.len()).min(body.width.saturating_sub(40));
        let [c, s] =
            Layout::horizontal([Constraint::Min(40), Constraint::Length(side_w)]).areas(body);
        (c, s)
    } else {
        let [c, s] = Layout::vertical([Constraint::Percentage(50), Constraint::Min(8)]).areas(body);
        (c, s)
    };
    render_chart(app, frame, chart_area);
    render_side(app, frame, side);

    match &app.banner {
        Some(b) => frame.render_widget(
            Paragraph::new(Span::styled(format!(" {b}"), theme::accent())),
            footer,
        ),
        None => {
            let hints =
                " Space pause  ←/→ step  +/- speed  Tab series  g/G start/end  ? keys  q quit";
            frame.render_widget(Paragraph::new(Span::styled(hints, theme::dim())), footer);
        }
    }
    if app.help {
        render_help(frame);
    }
}

fn block(title: String) -> Block<'static> {
    super::widgets::pane(title, false)
}

fn render_chart(app: &SimApp, frame: &mut Frame, area: Rect) {
    let Some((_, first)) = app.runs.first() else {
        return;
    };
    let Some(series) = first.series.get(app.series) else {
        frame.render_widget(
            Paragraph::new("This run has no time series.").block(block(" Chart ".into())),
            area,
        );
        return;
    };
    let interval = first.series_interval_s;
    let data: Vec<Vec<(f64, f64)>> = app
        .runs
        .iter()
        .map(|(_, r)| {
            r.series(&series.name)
                .map(|s| {
                    s.values
                        .iter()
                        .take(app.cursor)
                        .enumerate()
                        .map(|(i, v)| (i as f64 * interval, *v))
                        .collect()
                })
                .unwrap_or_default()
        })
        .collect();
    // Axes cover the whole run so the curve grows into a fixed frame.
    let x_max = (app.points() as f64 * interval).max(interval);
    let y_max = app
        .runs
        .iter()
        .filter_map(|(_, r)| r.series(&series.name))
        .flat_map(|s| s.values.iter().copied())
        .fold(0.0f64, f64::max)
        .max(1.0)
        * 1.05;
    let labels = display_labels(&app.runs, usize::from(area.width / 3).saturating_sub(4));
    let datasets: Vec<Dataset> = labels
        .into_iter()
        .zip(&data)
        .enumerate()
        .map(|(i, (label, points))| {
            Dataset::default()
                .name(label)
                .marker(Marker::Braille)
                .graph_type(GraphType::Line)
                .style(Style::default().fg(RUN_COLORS[i % RUN_COLORS.len()]))
                .data(points)
        })
        .collect();
    let title = format!(
        " {} ({}) · series {}/{} ",
        series.label,
        series.unit,
        app.series + 1,
        first.series.len()
    );
    let fmt = crate::output::fmt_si;
    let chart = Chart::new(datasets)
        .hidden_legend_constraints((Constraint::Ratio(1, 3), Constraint::Ratio(1, 3)))
        .block(block(title))
        .x_axis(
            Axis::default()
                .title("t (s)")
                .style(theme::dim())
                .bounds([0.0, x_max])
                .labels(vec![
                    Span::raw("0"),
                    Span::raw(fmt(x_max / 2.0)),
                    Span::raw(fmt(x_max)),
                ]),
        )
        .y_axis(
            Axis::default()
                .title(series.unit.clone())
                .style(theme::dim())
                .bounds([0.0, y_max])
                .labels(vec![
                    Span::raw("0"),
                    Span::raw(fmt(y_max / 2.0)),
                    Span::raw(fmt(y_max)),
                ]),
        );
    frame.render_widget(chart, area);
}

/// The value of a series at the cursor (the last revealed point).
fn value_at(report: &Report, series: &str, cursor: usize) -> Option<f64> {
    let s = report.series(series)?;
    if cursor == 0 {
        return None;
    }
    s.values
        .get(cursor.min(s.values.len()).checked_sub(1)?)
        .copied()
}

fn render_side(app: &SimApp, frame: &mut Frame, area: Rect) {
    let Some((_, first)) = app.runs.first() else {
        return;
    };
    let [gauge_area, table_area] =
        Layout::vertical([Constraint::Length(3), Constraint::Min(3)]).areas(area);
    let fmt = |v: Option<f64>| v.map_or("-".to_string(), crate::output::fmt_value);

    // The gauge: connected clients when the scenario has them, else playback progress.
    let clients = first
        .parameter("clients")
        .and_then(|p| p.value.parse::<f64>().ok());
    let connected = value_at(first, "connected", app.cursor);
    let (ratio, label, title) = match (clients, first.series("connected")) {
        (Some(n), Some(_)) if n > 0.0 => {
            let c = connected.unwrap_or(0.0);
            (
                c / n,
                format!("{} / {} connected", fmt(Some(c)), fmt(Some(n))),
                " connected clients ",
            )
        }
        _ => {
            let r = if app.points() == 0 {
                1.0
            } else {
                app.cursor as f64 / app.points() as f64
            };
            (
                r,
                format!("{:.0} % of the run shown", r * 100.0),
                " progress ",
            )
        }
    };
    let gauge = Gauge::default()
        .block(block(title.into()))
        .gauge_style(Style::default().fg(Color::Cyan))
        .ratio(ratio.clamp(0.0, 1.0))
        .label(label);
    frame.render_widget(gauge, gauge_area);

    // Series values at the cursor, then the summary metrics; once playback is
    // done the summary comes first, so it is what a short terminal shows.
    let done = app.cursor >= app.points();
    let bold = Style::default().add_modifier(Modifier::BOLD);
    let at_t = format!("at t = {:.1} s", app.time_s().min(app.end_s()));
    // The header's first cell names the section under it.
    let mut header = vec![Cell::from(if done {
        "summary".to_string()
    } else {
        at_t.clone()
    })];
    // Value columns share the table with a name column twice as wide.
    let runs = app.runs.len();
    let column = usize::from(table_area.width.saturating_sub(2)) / (runs + 2);
    let labels = display_labels(&app.runs, column.saturating_sub(1));
    let shortened = labels.iter().zip(&app.runs).any(|(l, (full, _))| l != full);
    header.extend(labels.iter().enumerate().map(|(i, label)| {
        Cell::from(Span::styled(
            label.clone(),
            Style::default().fg(RUN_COLORS[i % RUN_COLORS.len()]),
        ))
    }));
    let mut at_cursor: Vec<Row> = Vec::new();
    if done {
        at_cursor.push(Row::new(vec![Cell::from(Span::styled(at_t, bold))]));
    }
    at_cursor.extend(first.series.iter().enumerate().map(|(i, s)| {
        let style = if i == app.series {
            theme::accent()
        } else {
            Style::default()
        };
        let mut cells = vec![Cell::from(Span::styled(
            format!("{} ({})", s.name, s.unit),
            style,
        ))];
        cells.extend(
            app.runs
                .iter()
                .map(|(_, r)| Cell::from(fmt(value_at(r, &s.name, app.cursor)))),
        );
        Row::new(cells)
    }));
    let mut summary: Vec<Row> = Vec::new();
    if !done {
        summary.push(Row::new(vec![Cell::from(Span::styled(
            "summary (at the end)",
            bold,
        ))]));
    }
    summary.extend(first.metrics.iter().map(|m| {
        let mut cells = vec![Cell::from(format!("{} ({})", m.name, m.unit))];
        cells.extend(app.runs.iter().map(|(_, r)| {
            Cell::from(if done {
                fmt(r.metric_value(&m.name))
            } else {
                "…".to_string()
            })
        }));
        Row::new(cells)
    }));
    let rows: Vec<Row> = if done {
        summary.into_iter().chain(at_cursor).collect()
    } else {
        at_cursor.into_iter().chain(summary).collect()
    };
    let mut widths = vec![Constraint::Fill(2)];
    if shortened {
        // Values only (`ip-hash`): give each column its label's width.
        widths = vec![Constraint::Fill(1)];
        widths.extend(
            labels
                .iter()
                .map(|l| Constraint::Length((l.chars().count() as u16 + 1).max(9))),
        );
    } else {
        widths.extend(app.runs.iter().map(|_| Constraint::Fill(1)));
    }
    frame.render_widget(
        Table::new(rows, widths)
            .header(Row::new(header).style(Style::default().add_modifier(Modifier::BOLD)))
            .block(block(" values ".into())),
        table_area,
    );
}

/// Width of the side panel in the wide layout: room for more compared runs.
fn side_width(runs: usize) -> u16 {
    let extra = runs.saturating_sub(2).min(4) as u16;
    46 + 16 * extra
}

/// The runs' labels for headers and legends. Compared runs are labelled
/// `param=value`; when one of those would not fit in `room` columns, all are
/// shown as their values alone (`ip-hash`), which the title already explains.
pub fn display_labels(runs: &[(String, &Report)], room: usize) -> Vec<String> {
    let labels: Vec<&str> = runs.iter().map(|(l, _)| l.as_str()).collect();
    let prefix = labels
        .first()
        .and_then(|l| l.split_once('='))
        .map(|(p, _)| format!("{p}="));
    let fits = labels.iter().all(|l| l.chars().count() <= room);
    match prefix {
        Some(p) if !fits && labels.iter().all(|l| l.starts_with(&p)) => {
            labels.iter().map(|l| l[p.len()..].to_string()).collect()
        }
        _ => labels.iter().map(|l| l.to_string()).collect(),
    }
}

fn render_help(frame: &mut Frame) {
    super::widgets::help_overlay(frame, HELP, "");
}

/// Plays the runs in the terminal until the user quits.
pub fn run_playback(
    config: &crate::config::Config,
    runs: Vec<(String, &Report)>,
) -> anyhow::Result<()> {
    let (mut terminal, _guard) = super::enter_terminal(config)?;
    let color = config.color.value.enabled(true);
    play(&mut terminal, color, SimApp::new(runs))
}

/// Plays `app` on a terminal that is already set up, until the user quits
/// (the quiz screens use it to play a predict challenge's run).
pub fn play(
    terminal: &mut ratatui::DefaultTerminal,
    color: bool,
    mut app: SimApp<'_>,
) -> anyhow::Result<()> {
    let tick = Duration::from_secs(1) / TICKS_PER_SECOND;
    let mut next_tick = Instant::now() + tick;
    while !app.quit {
        terminal.draw(|f| {
            render(&app, f);
            if !color {
                super::widgets::monochrome(f.buffer_mut());
            }
        })?;
        let timeout = next_tick.saturating_duration_since(Instant::now());
        if event::poll(timeout)? {
            if let Some(a) = action_for(&event::read()?) {
                app.update(a);
            }
        } else {
            app.update(SimAction::Tick);
            next_tick = Instant::now() + tick;
        }
    }
    Ok(())
}

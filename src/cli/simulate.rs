//! `swelearn simulate ...`: the clap arguments of the simulation scenarios and
//! [`run_simulate`], which runs them and prints or writes every non-TUI output.
//!
//! The binary's CLI embeds [`SimulateCommand`] as a subcommand; when stdout is a
//! terminal and [`wants_tui`] says so, the TUI plays the run back instead.
//! Otherwise `run_simulate` turns the flags into the scenario's
//! [`ScenarioSpec`] (e.g. [`crate::sim::scenarios::herd::HerdConfig`]), runs it
//! through the generic [`crate::sim::runner`] (with a progress bar on stderr for
//! long runs), and renders the report with [`crate::output`]: a plain summary and
//! chart, or JSON, plus CSV and SVG files when asked.
//!
//! A new scenario adds a [`SimulateCommand`] variant whose args embed [`RunArgs`]
//! with `#[command(flatten)]` and implement [`ScenarioArgs`], plus one arm in each
//! of [`SimulateCommand::run_args`] and [`SimulateCommand::compute`].

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::output::compare::comparison_text;
use crate::output::csv::{comparison_csv, report_csv};
use crate::output::json::{comparison_json, report_json};
use crate::output::svg::{comparison_svg, report_svg};
use crate::output::text::{TextOptions, render_report};
use crate::sim::engine::Progress;
use crate::sim::error::SimError;
use crate::sim::runner::{compare_spec, run_spec};
use crate::sim::scenarios::herd::{BackoffPolicy, HerdConfig};
use crate::sim::spec::ScenarioSpec;

mod heartbeat;
mod racer;

pub use heartbeat::{DetectorArg, HeartbeatArgs, WireArg};
pub use racer::RacerArgs;

const HERD_ABOUT: &str = "\
Thundering herd: a server restarts and every client reconnects at once.

The model: N clients (--clients) lose their connection at t = 0. Each waits a
first delay drawn uniformly from [0, J] seconds (--jitter J; 0 = all at once,
the default and the classic herd) and tries to reconnect. The server has
--workers handshake workers, each spending --handshake-ms per handshake (2 x
0.5 ms = 4,000 handshakes/s). Attempts wait FIFO in an accept queue of --backlog
entries. An attempt that finds the queue full is refused and the client retries
after a backoff (--backoff, AWS \"Exponential Backoff And Jitter\": none = retry
after --backoff-base like a SYN retransmit; exponential = min(cap, base * 2^n);
full-jitter = random(0, min(cap, base * 2^n)); decorrelated = min(cap,
random(base, previous * 3)); n = failed attempts so far - 1). An attempt that
waits in the queue longer than --timeout is given up by its client, who backs
off and retries, but its queued handshake is still done when a worker reaches
it: wasted work, which is how real herds feed themselves. Connect latency runs
from a client's first attempt to its successful handshake.

The run is a deterministic discrete-event simulation: the same flags and --seed
give the same report, byte for byte (with --no-wall-time).";

const HERD_EXAMPLES: &str = "\
Examples:
  swelearn simulate herd --clients 100000
      100,000 clients all at once against 4,000 handshakes/s.
  swelearn simulate herd --clients 1000000 --jitter 30 --no-tui
      a million clients spread over 30 s; plain summary and chart.
  swelearn simulate herd --backlog unlimited --timeout none --jitter 10
      the fluid model: peak queue = 100,000 - 4,000/s * 10 s = 60,000.
  swelearn simulate herd --compare jitter=0,10,30
      three runs, same seed, side by side.
  swelearn simulate herd --compare backoff=none,exponential,full-jitter,decorrelated --json \\
      | jq '.reports[].metrics.time_to_all_s.value'
  swelearn simulate herd --jitter 30 --csv herd.csv --plot herd.svg
      write the time series as CSV and as a chart.

Metrics (JSON names): time_to_all_s, time_to_p99_s, connected, attempts, refused,
timeouts, wasted_handshakes, peak_queue, peak_utilization,
connect_latency_{mean,p50,p90,p99,max}_ms, capacity_per_s, fluid_time_to_all_s,
still_trying, in_flight_at_end.
Series: connected, arrivals_per_s, queue_depth, utilization, refused_per_s,
timeouts_per_s.";

/// The simulations `swelearn simulate` can run.
#[derive(Debug, Clone, PartialEq, clap::Subcommand)]
pub enum SimulateCommand {
    /// Thundering herd: every client reconnects after a server restart.
    #[command(long_about = HERD_ABOUT, after_help = HERD_EXAMPLES)]
    Herd(HerdArgs),
    /// Heartbeats: half-open connections, app pings vs TCP keepalive.
    #[command(
        long_about = heartbeat::HEARTBEAT_ABOUT,
        after_help = heartbeat::HEARTBEAT_EXAMPLES
    )]
    Heartbeat(HeartbeatArgs),
    /// The race: short polling, long polling, SSE and WebSocket on one feed.
    #[command(long_about = racer::RACER_ABOUT, after_help = racer::RACER_EXAMPLES)]
    Racer(RacerArgs),
}

/// Retry policy after a refused or timed-out attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum BackoffArg {
    /// Retry after exactly --backoff-base (a SYN retransmit).
    None,
    /// min(cap, base * 2^n).
    Exponential,
    /// random(0, min(cap, base * 2^n)).
    FullJitter,
    /// min(cap, random(base, previous sleep * 3)).
    Decorrelated,
}

impl From<BackoffArg> for BackoffPolicy {
    fn from(b: BackoffArg) -> Self {
        match b {
            BackoffArg::None => BackoffPolicy::None,
            BackoffArg::Exponential => BackoffPolicy::Exponential,
            BackoffArg::FullJitter => BackoffPolicy::FullJitter,
            BackoffArg::Decorrelated => BackoffPolicy::Decorrelated,
        }
    }
}

/// Flags every scenario shares: seed and outputs.
#[derive(Debug, Clone, PartialEq, clap::Args)]
pub struct RunArgs {
    /// Seed of the run's random numbers; the same seed and flags give the same report.
    #[arg(long, default_value_t = 7, value_name = "N")]
    pub seed: u64,

    /// Print the report as JSON on stdout (stable field names; see --help).
    #[arg(long)]
    pub json: bool,

    /// Write the time series as CSV (a time column and one column per series).
    #[arg(long, value_name = "FILE")]
    pub csv: Option<PathBuf>,

    /// Write the time series as an SVG chart.
    #[arg(long, value_name = "FILE.svg")]
    pub plot: Option<PathBuf>,

    /// Print a plain summary and text chart instead of the interactive view.
    #[arg(long)]
    pub no_tui: bool,

    /// Run one variant per value of a parameter, same seed, and show them side
    /// by side, e.g. jitter=0,30 or backoff=none,full-jitter (up to 8 values).
    #[arg(long, value_name = "PARAM=V1,V2[,...]")]
    pub compare: Option<String>,

    /// Leave the engine's wall-clock time out of the report, so two runs'
    /// JSON compare byte for byte.
    #[arg(long)]
    pub no_wall_time: bool,

    /// Draw text charts with ASCII only.
    #[arg(long)]
    pub ascii: bool,
}

/// Flags of `swelearn simulate herd`.
#[derive(Debug, Clone, PartialEq, clap::Args)]
pub struct HerdArgs {
    /// Clients that reconnect after the restart.
    #[arg(
        long,
        default_value_t = 100_000,
        value_name = "N",
        allow_negative_numbers = true
    )]
    pub clients: i64,

    /// First attempts spread uniformly over [0, SECONDS]; 0 = all at once.
    #[arg(
        long,
        default_value_t = 0.0,
        value_name = "SECONDS",
        allow_negative_numbers = true
    )]
    pub jitter: f64,

    /// Handshake workers on the server.
    #[arg(
        long,
        default_value_t = 2,
        value_name = "N",
        allow_negative_numbers = true
    )]
    pub workers: i64,

    /// Worker time per handshake, in milliseconds.
    #[arg(
        long,
        default_value_t = 0.5,
        value_name = "MS",
        allow_negative_numbers = true
    )]
    pub handshake_ms: f64,

    /// Accept-queue size (attempts waiting for a worker), or "unlimited".
    #[arg(long, default_value = "4096", value_name = "N|unlimited")]
    pub backlog: String,

    /// Retry policy after a refused or timed-out attempt.
    #[arg(long, value_enum, default_value_t = BackoffArg::FullJitter)]
    pub backoff: BackoffArg,

    /// Backoff base in seconds (also the fixed sleep of --backoff none).
    #[arg(
        long,
        default_value_t = 1.0,
        value_name = "SECONDS",
        allow_negative_numbers = true
    )]
    pub backoff_base: f64,

    /// Longest backoff sleep in seconds.
    #[arg(
        long,
        default_value_t = 30.0,
        value_name = "SECONDS",
        allow_negative_numbers = true
    )]
    pub backoff_cap: f64,

    /// Longest wait in the accept queue before a client gives up and retries,
    /// in seconds, or "none".
    #[arg(long, default_value = "10", value_name = "SECONDS|none")]
    pub timeout: String,

    /// Virtual time at which the run stops, in seconds.
    #[arg(
        long,
        default_value_t = 600.0,
        value_name = "SECONDS",
        allow_negative_numbers = true
    )]
    pub horizon: f64,

    /// Run it for real: a WebSocket server and the clients on loopback (127.0.0.1),
    /// at most 5,000 clients and 60 s of wall time; the report says `backend: live`.
    #[arg(long, conflicts_with = "compare")]
    pub live: bool,

    /// With --live: model seconds per wall second, e.g. 10 plays a 30 s jitter in
    /// 3 s (waits, handshake cost and horizon are divided; kernel timers are not).
    #[arg(long, default_value_t = 1.0, value_name = "X", requires = "live")]
    pub time_scale: f64,

    /// Seed and output flags.
    #[command(flatten)]
    pub run: RunArgs,
}

impl HerdArgs {
    /// The model configuration these flags describe (ranges are checked when it
    /// runs).
    pub fn to_config(&self) -> Result<HerdConfig, SimError> {
        let mut cfg = HerdConfig::default();
        cfg.set("clients", &self.clients.to_string())?;
        cfg.set("workers", &self.workers.to_string())?;
        cfg.jitter_s = self.jitter;
        cfg.handshake_ms = self.handshake_ms;
        cfg.set("backlog", &self.backlog)?;
        cfg.backoff = self.backoff.into();
        cfg.backoff_base_s = self.backoff_base;
        cfg.backoff_cap_s = self.backoff_cap;
        cfg.set("timeout", &self.timeout)?;
        cfg.horizon_s = self.horizon;
        Ok(cfg)
    }
}

impl ScenarioArgs for HerdArgs {
    type Spec = HerdConfig;
    fn run_args(&self) -> &RunArgs {
        &self.run
    }
    fn to_spec(&self) -> Result<HerdConfig, SimError> {
        self.to_config()
    }
}

/// What every scenario's clap arguments provide: the shared flags and the
/// scenario's configuration.
pub trait ScenarioArgs {
    /// The configuration the flags describe.
    type Spec: ScenarioSpec;
    /// The shared seed and output flags.
    fn run_args(&self) -> &RunArgs;
    /// The configuration (ranges are checked when it runs).
    fn to_spec(&self) -> Result<Self::Spec, SimError>;
}

impl SimulateCommand {
    /// The shared seed and output flags of whichever scenario was asked for.
    pub fn run_args(&self) -> &RunArgs {
        match self {
            SimulateCommand::Herd(a) => a.run_args(),
            SimulateCommand::Heartbeat(a) => a.run_args(),
            SimulateCommand::Racer(a) => a.run_args(),
        }
    }

    /// Validates the flags and runs the simulation (or every compared variant),
    /// with a progress bar on stderr when `is_tty` and stderr is a terminal.
    pub fn compute(&self, is_tty: bool) -> Result<SimOutcome, SimError> {
        match self {
            SimulateCommand::Herd(a) if a.live => {
                let opts = crate::live::herd::LiveHerdOptions {
                    time_scale: a.time_scale,
                    ..Default::default()
                };
                let mut report = crate::live::herd::run_herd(&a.to_config()?, &opts, a.run.seed)?;
                if a.run.no_wall_time {
                    report.wall_time_s = None;
                }
                Ok(SimOutcome::Single(Box::new(report)))
            }
            SimulateCommand::Herd(a) => compute_args(a, is_tty),
            SimulateCommand::Heartbeat(a) => compute_args(a, is_tty),
            SimulateCommand::Racer(a) => compute_args(a, is_tty),
        }
    }
}

/// Whether the caller should show the interactive playback view rather than
/// call [`run_simulate`]: stdout is a terminal and no flag asked for plain or
/// machine output.
pub fn wants_tui(cmd: &SimulateCommand, stdout_is_tty: bool) -> bool {
    let run = cmd.run_args();
    stdout_is_tty && !run.no_tui && !run.json
}

/// A progress bar on stderr that appears only once a run has taken a while.
struct LazyBar {
    bar: Option<ProgressBar>,
    started: Instant,
    enabled: bool,
}

impl LazyBar {
    const DELAY: Duration = Duration::from_millis(300);

    fn new(enabled: bool) -> Self {
        Self {
            bar: None,
            started: Instant::now(),
            enabled,
        }
    }

    fn update(&mut self, prefix: &str, p: Progress) {
        if !self.enabled || self.started.elapsed() < Self::DELAY {
            return;
        }
        let bar = self.bar.get_or_insert_with(|| {
            let bar = ProgressBar::with_draw_target(Some(1000), ProgressDrawTarget::stderr());
            if let Ok(style) =
                ProgressStyle::with_template("{prefix} [{bar:32}] {msg} virtual ({elapsed} wall)")
            {
                bar.set_style(style.progress_chars("=> "));
            }
            bar
        });
        bar.set_prefix(prefix.to_string());
        let frac = p.now.as_secs_f64() / p.horizon.as_secs_f64().max(1e-9);
        bar.set_position((frac * 1000.0).round().clamp(0.0, 1000.0) as u64);
        bar.set_message(format!(
            "{:.1} s / {:.0} s",
            p.now.as_secs_f64(),
            p.horizon.as_secs_f64()
        ));
    }

    fn finish(self) {
        if let Some(bar) = self.bar {
            bar.finish_and_clear();
        }
    }
}

fn write_file(path: &Path, contents: &str) -> Result<(), SimError> {
    std::fs::write(path, contents).map_err(|source| SimError::Write {
        path: path.display().to_string(),
        source,
    })
}

/// What a `simulate` command produced: one run, or compared variants.
#[derive(Debug, Clone)]
pub enum SimOutcome {
    Single(Box<crate::sim::report::Report>),
    Compare(crate::sim::report::Comparison),
}

impl SimOutcome {
    /// The runs with their labels, for the playback view.
    pub fn runs(&self) -> Vec<(String, &crate::sim::report::Report)> {
        match self {
            SimOutcome::Single(r) => vec![(r.scenario.clone(), r.as_ref())],
            SimOutcome::Compare(c) => c.variant_names().into_iter().zip(&c.reports).collect(),
        }
    }
}

/// Validates a scenario's flags and runs it (or every compared variant), with a
/// progress bar on stderr when `is_tty` and stderr is a terminal.
pub fn compute_args<A: ScenarioArgs>(args: &A, is_tty: bool) -> Result<SimOutcome, SimError> {
    compute_spec(&args.to_spec()?, args.run_args(), is_tty)
}

/// Runs `cfg` (or every variant `run.compare` asks for) with the seed and
/// wall-time choice of `run`.
pub fn compute_spec<S: ScenarioSpec>(
    cfg: &S,
    run: &RunArgs,
    is_tty: bool,
) -> Result<SimOutcome, SimError> {
    cfg.validate()?;
    let mut bar = LazyBar::new(is_tty && std::io::stderr().is_terminal());
    let outcome = if let Some(spec) = &run.compare {
        let mut cmp = compare_spec(cfg, spec, run.seed, &mut |i, n, p| {
            bar.update(&format!("variant {}/{n}", i + 1), p);
        })?;
        if run.no_wall_time {
            for r in &mut cmp.reports {
                r.wall_time_s = None;
            }
        }
        SimOutcome::Compare(cmp)
    } else {
        let (mut report, _) = run_spec(cfg, run.seed, &mut |p| bar.update(S::NAME, p))?;
        if run.no_wall_time {
            report.wall_time_s = None;
        }
        SimOutcome::Single(Box::new(report))
    };
    bar.finish();
    Ok(outcome)
}

/// Writes the `--csv` and `--plot` files; returns a note per file written.
pub fn write_files(run: &RunArgs, outcome: &SimOutcome) -> Result<Vec<String>, SimError> {
    let mut notes = Vec::new();
    if let Some(path) = &run.csv {
        let csv = match outcome {
            SimOutcome::Single(r) => report_csv(r),
            SimOutcome::Compare(c) => comparison_csv(c),
        };
        write_file(path, &csv)?;
        notes.push(format!("wrote series to {}", path.display()));
    }
    if let Some(path) = &run.plot {
        let svg = match outcome {
            SimOutcome::Single(r) => report_svg(r)?,
            SimOutcome::Compare(c) => comparison_svg(c)?,
        };
        write_file(path, &svg)?;
        notes.push(format!("wrote chart to {}", path.display()));
    }
    Ok(notes)
}

/// Runs a `simulate` command and writes every non-TUI output: the plain summary
/// and text chart (or JSON with `--json`) to `out`, and the `--csv` / `--plot`
/// files. `is_tty` says whether stdout is a terminal; a progress bar is drawn on
/// stderr only when both are terminals and the run takes more than 0.3 s.
pub fn run_simulate(
    cmd: &SimulateCommand,
    out: &mut dyn Write,
    is_tty: bool,
) -> Result<(), SimError> {
    let run = cmd.run_args();
    let text_opts = TextOptions {
        width: 80,
        ascii: run.ascii,
    };
    let outcome = cmd.compute(is_tty)?;
    let notes = write_files(run, &outcome)?;
    match (&outcome, run.json) {
        (SimOutcome::Single(r), true) => out.write_all(report_json(r)?.as_bytes())?,
        (SimOutcome::Single(r), false) => out.write_all(render_report(r, &text_opts).as_bytes())?,
        (SimOutcome::Compare(c), true) => out.write_all(comparison_json(c)?.as_bytes())?,
        (SimOutcome::Compare(c), false) => {
            out.write_all(comparison_text(c, &text_opts).as_bytes())?;
        }
    }
    // Keep stdout pure JSON under --json.
    if !run.json {
        for n in notes {
            writeln!(out, "{n}")?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{CommandFactory, Parser};

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(subcommand)]
        cmd: SimulateCommand,
    }

    fn parse(args: &[&str]) -> SimulateCommand {
        let mut full = vec!["simulate"];
        full.extend_from_slice(args);
        Cli::try_parse_from(full).expect("parses").cmd
    }

    fn run(args: &[&str]) -> Result<String, SimError> {
        let mut buf = Vec::new();
        run_simulate(&parse(args), &mut buf, false)?;
        Ok(String::from_utf8_lossy(&buf).into_owned())
    }

    #[test]
    fn cli_definition_is_valid_and_documents_every_flag() {
        Cli::command().debug_assert();
        let mut cmd = Cli::command();
        let herd = cmd.find_subcommand_mut("herd").expect("herd subcommand");
        let help = herd.render_long_help().to_string();
        for flag in [
            "--clients",
            "--jitter",
            "--workers",
            "--handshake-ms",
            "--backlog",
            "--backoff",
            "--backoff-base",
            "--backoff-cap",
            "--timeout",
            "--seed",
            "--horizon",
            "--json",
            "--csv",
            "--plot",
            "--no-tui",
            "--compare",
        ] {
            assert!(help.contains(flag), "{flag} missing from --help");
        }
        assert!(help.contains("Examples:"));
        assert!(help.contains("wasted work"));
    }

    #[test]
    fn defaults_match_the_issue() {
        #[allow(unreachable_patterns)]
        let a = match parse(&["herd"]) {
            SimulateCommand::Herd(a) => a,
            other => panic!("herd parsed as {other:?}"),
        };
        let cfg = a.to_config().expect("valid");
        assert_eq!(cfg, HerdConfig::default());
        assert_eq!(a.run.seed, 7);
    }

    #[test]
    fn plain_json_and_files() {
        let text = run(&["herd", "--clients", "3000", "--no-tui"]).expect("runs");
        assert!(text.contains("time_to_all_s"));
        let json = run(&["herd", "--clients", "3000", "--json", "--no-wall-time"]).expect("runs");
        let v: serde_json::Value = serde_json::from_str(&json).expect("pure JSON on stdout");
        assert_eq!(v["parameters"]["clients"]["value"], "3000");
        assert!(v.get("wall_time_s").is_none());
        let again = run(&["herd", "--clients", "3000", "--json", "--no-wall-time"]).expect("runs");
        assert_eq!(json, again);

        let dir = std::env::temp_dir().join(format!("swelearn-sim-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let csv = dir.join("h.csv");
        let svg = dir.join("h.svg");
        let text = run(&[
            "herd",
            "--clients",
            "2000",
            "--csv",
            csv.to_str().unwrap_or_default(),
            "--plot",
            svg.to_str().unwrap_or_default(),
        ])
        .expect("runs");
        assert!(text.contains("wrote chart"));
        assert!(
            std::fs::read_to_string(&csv)
                .expect("csv")
                .starts_with("t_s,")
        );
        assert!(
            std::fs::read_to_string(&svg)
                .expect("svg")
                .starts_with("<svg")
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn compare_runs_side_by_side() {
        let text = run(&["herd", "--clients", "2000", "--compare", "jitter=0,1"]).expect("runs");
        assert!(text.contains("compare jitter = 0 | 1"));
        let json = run(&[
            "herd",
            "--clients",
            "2000",
            "--compare",
            "backlog=10,unlimited",
            "--json",
        ])
        .expect("runs");
        let v: serde_json::Value = serde_json::from_str(&json).expect("JSON");
        assert_eq!(v["values"][1], "unlimited");
        assert_eq!(v["reports"].as_array().map(Vec::len), Some(2));
    }

    #[test]
    fn bad_flags_are_one_line_errors() {
        let cases: &[(&[&str], &str)] = &[
            (&["herd", "--jitter", "-1"], "--jitter"),
            (&["herd", "--jitter", "NaN"], "--jitter"),
            (&["herd", "--clients", "0"], "--clients"),
            (&["herd", "--workers", "0"], "--workers"),
            (&["herd", "--handshake-ms", "0"], "--handshake-ms"),
            (&["herd", "--jitter", "60", "--horizon", "30"], "--horizon"),
            (&["herd", "--backlog", "lots"], "--backlog"),
            (&["herd", "--compare", "colour=1,2"], "--compare"),
            (&["herd", "--compare", "jitter=1,-2"], "--jitter"),
            (&["herd", "--clients", "4000000000"], "--clients"),
        ];
        for (args, needle) in cases {
            let err = run(args).expect_err("invalid").to_string();
            assert!(err.contains(needle), "{args:?}: {err}");
            assert!(!err.contains('\n'), "{args:?}: {err}");
        }
    }

    #[test]
    fn tui_is_wanted_only_on_a_terminal_without_plain_flags() {
        assert!(wants_tui(&parse(&["herd"]), true));
        assert!(!wants_tui(&parse(&["herd"]), false));
        assert!(!wants_tui(&parse(&["herd", "--no-tui"]), true));
        assert!(!wants_tui(&parse(&["herd", "--json"]), true));
    }
}

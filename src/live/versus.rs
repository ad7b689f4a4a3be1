//! `simulate herd --live --compare-model`: the live herd and the model with the
//! same parameters and seed, as one [`Comparison`] over `backend` (`live`,
//! `model`), so the compare table, the overlaid TUI charts, `--json`, CSV and SVG
//! all show them side by side.
//!
//! The two reports share a series interval: the coarser of what each would pick
//! for the longer run (both are 1, 2 or 5 times a power of ten seconds, and each
//! backend's bins are a power of ten, so either can be cut to it exactly).

use super::herd::{LiveHerdOptions, MAX_POINTS, nice_interval, run_herd_raw};
use crate::sim::error::SimError;
use crate::sim::recorder::DEFAULT_MAX_POINTS;
use crate::sim::report::{Comparison, Report};
use crate::sim::runner::run_spec_outcome;
use crate::sim::scenarios::herd::HerdConfig;
use crate::sim::time::{SimDuration, SimTime};

/// The compared parameter of a live-versus-model comparison.
pub const BACKEND: &str = "backend";

/// Runs the model, then the live herd, with `cfg` and `seed`; returns them as a
/// comparison labelled `live` and `model`.
pub fn herd_live_vs_model(
    cfg: &HerdConfig,
    opts: &LiveHerdOptions,
    seed: u64,
) -> Result<Comparison, SimError> {
    // The model first: it validates the flags and checks memory in milliseconds.
    let (outcome, model_wall) = run_spec_outcome(cfg, seed, &mut |_| {})?;
    let live = run_herd_raw(cfg, opts, seed)?;
    let max_end = live.end_s().max(outcome.end.as_secs_f64());
    let model_iv = outcome
        .recorded
        .interval_for(SimTime(ns(max_end).as_nanos()), DEFAULT_MAX_POINTS)
        .as_secs_f64();
    let live_iv = nice_interval(max_end, MAX_POINTS, live.base_interval_s());
    let iv = model_iv.max(live_iv);
    let mut model = Report::from_outcome_at(&outcome, ns(iv));
    model.wall_time_s = Some(model_wall);
    let live = live.report_at(iv);
    Ok(Comparison {
        parameter: BACKEND.to_string(),
        values: vec!["live".to_string(), "model".to_string()],
        reports: vec![live, model],
    })
}

/// Seconds as a span (the values here are finite and small; anything else
/// saturates).
fn ns(secs: f64) -> SimDuration {
    SimDuration::try_from_secs_f64(secs).unwrap_or(SimDuration::MAX)
}

//! Runs validated scenarios and shapes their reports: the boundary between the
//! model and the outside world.
//!
//! This is the only place that reads the wall clock (to fill `wall_time_s`,
//! around the engine, never inside it) and the machine's available memory (to
//! refuse runs that would not fit). It serves [`super::registry::run_by_name`],
//! the CLI (`crate::cli::simulate`) and `--compare`, which runs variants with the
//! same seed and puts their series on a common time axis.

use std::time::Instant;

use super::engine::{Progress, RunOutcome, Simulation};
use super::error::SimError;
use super::recorder::DEFAULT_MAX_POINTS;
use super::registry::ParamInfo;
use super::report::{Comparison, Report};
use super::scenarios::herd::HerdConfig;
use super::spec::{self, ScenarioSpec};

/// Most variants one `--compare` may run.
pub const MAX_VARIANTS: usize = 8;

/// Bytes of memory available to a new process (Linux `MemAvailable`), if known.
pub fn available_memory_bytes() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

/// Validates `spec`, refuses runs that would not fit in memory, runs the scenario
/// and returns its report (with wall time) and the raw outcome.
pub fn run_spec<S: ScenarioSpec>(
    spec: &S,
    seed: u64,
    progress: &mut dyn FnMut(Progress),
) -> Result<(Report, RunOutcome), SimError> {
    let (outcome, wall) = run_spec_outcome(spec, seed, progress)?;
    let mut report = Report::from_outcome(&outcome);
    report.wall_time_s = Some(wall);
    Ok((report, outcome))
}

/// Like [`run_spec`] but returns the outcome and wall seconds only.
pub fn run_spec_outcome<S: ScenarioSpec>(
    spec: &S,
    seed: u64,
    progress: &mut dyn FnMut(Progress),
) -> Result<(RunOutcome, f64), SimError> {
    spec.memory()?.check(available_memory_bytes())?;
    let model = spec.build()?;
    let started = Instant::now();
    let outcome = Simulation::new(model, seed).run_with_progress(progress);
    Ok((outcome, started.elapsed().as_secs_f64()))
}

/// Runs scenario `S` from its defaults and flag-style parameters (the registry's
/// `run` for every scenario).
pub fn run_named<S: ScenarioSpec>(
    params: &[(String, String)],
    seed: u64,
) -> Result<Report, SimError> {
    let mut cfg = S::default();
    for (k, v) in params {
        cfg.set(k, v)?;
    }
    run_spec(&cfg, seed, &mut |_| {}).map(|(report, _)| report)
}

/// Checks that `S` has parameter `name` and that `value` parses for it (the
/// registry's `check_param` for every scenario).
pub fn check_named<S: ScenarioSpec>(name: &str, value: &str) -> Result<(), SimError> {
    S::default().set(name, value)
}

/// Validates the herd, refuses runs that would not fit in memory, runs it and
/// returns its report (with wall time) and the raw outcome.
pub fn run_herd(
    cfg: &HerdConfig,
    seed: u64,
    progress: &mut dyn FnMut(Progress),
) -> Result<(Report, RunOutcome), SimError> {
    run_spec(cfg, seed, progress)
}

/// Parses `PARAM=V1,V2[,V3...]` into the canonical parameter name (from the
/// scenario's parameter table `params`, names or aliases) and the values.
pub fn parse_compare(
    spec: &str,
    params: &'static [ParamInfo],
) -> Result<(&'static str, Vec<String>), SimError> {
    let bad = |reason: &str| SimError::BadCompare {
        spec: spec.to_string(),
        reason: reason.to_string(),
    };
    let (name, values) = spec.split_once('=').ok_or_else(|| {
        bad(&format!(
            "expected PARAM=V1,V2 with PARAM one of: {}",
            spec::known_params(params)
        ))
    })?;
    let param = spec::canonical_param(params, name).ok_or_else(|| {
        bad(&format!(
            "unknown parameter {:?}; known: {}",
            name.trim(),
            spec::known_params(params)
        ))
    })?;
    let values: Vec<String> = values
        .split(',')
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .collect();
    if values.is_empty() {
        return Err(bad("no values after '='"));
    }
    if values.len() > MAX_VARIANTS {
        return Err(bad(&format!("at most {MAX_VARIANTS} values")));
    }
    Ok((param, values))
}

/// Runs one variant per value of the compared parameter (everything else from
/// `base`, same seed) and returns them with a common series interval. Every
/// variant is validated (and its memory checked) before the first one runs.
pub fn compare_spec<S: ScenarioSpec>(
    base: &S,
    compare: &str,
    seed: u64,
    progress: &mut dyn FnMut(usize, usize, Progress),
) -> Result<Comparison, SimError> {
    let (param, values) = parse_compare(compare, S::PARAMS)?;
    let mut configs = Vec::with_capacity(values.len());
    for v in &values {
        let mut cfg = base.clone();
        cfg.set(param, v).map_err(|e| SimError::BadCompare {
            spec: compare.to_string(),
            reason: e.to_string(),
        })?;
        cfg.memory()?.check(available_memory_bytes())?;
        configs.push(cfg);
    }
    let n = configs.len();
    let mut runs = Vec::with_capacity(n);
    for (i, cfg) in configs.iter().enumerate() {
        runs.push(run_spec_outcome(cfg, seed, &mut |p| progress(i, n, p))?);
    }
    let max_end = runs.iter().map(|(o, _)| o.end).max().unwrap_or_default();
    let interval = runs
        .iter()
        .map(|(o, _)| o.recorded.interval_for(max_end, DEFAULT_MAX_POINTS))
        .max()
        .unwrap_or_default();
    let reports = runs
        .iter()
        .map(|(o, wall)| {
            let mut r = Report::from_outcome_at(o, interval);
            r.wall_time_s = Some(*wall);
            r
        })
        .collect();
    let values = configs
        .iter()
        .map(|c| c.get(param).unwrap_or_default())
        .collect();
    Ok(Comparison {
        parameter: param.to_string(),
        values,
        reports,
    })
}

/// [`compare_spec`] for the herd.
pub fn compare_herd(
    base: &HerdConfig,
    compare: &str,
    seed: u64,
    progress: &mut dyn FnMut(usize, usize, Progress),
) -> Result<Comparison, SimError> {
    compare_spec(base, compare, seed, progress)
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::sim::scenarios::herd;

    #[test]
    fn compare_specs_parse_and_reject_nonsense() {
        let parse_compare = |s| parse_compare(s, herd::PARAMS);
        let (p, v) = parse_compare("jitter=0,30").expect("valid");
        assert_eq!((p, v), ("jitter", vec!["0".to_string(), "30".to_string()]));
        let (p, _) = parse_compare("handshake=0.5,1").expect("valid");
        assert_eq!(p, "handshake_ms");
        let (p, _) = parse_compare("handshake-ms=0.5,1").expect("valid");
        assert_eq!(p, "handshake_ms");
        for bad in [
            "jitter",
            "colour=1,2",
            "jitter=",
            "jitter=1,2,3,4,5,6,7,8,9",
        ] {
            assert!(
                matches!(parse_compare(bad), Err(SimError::BadCompare { .. })),
                "{bad}"
            );
        }
    }

    #[test]
    fn compare_runs_variants_on_a_common_axis_with_the_same_seed() {
        let base = HerdConfig {
            clients: 4_000,
            ..HerdConfig::default()
        };
        let c = compare_herd(&base, "jitter=0,2", 7, &mut |_, _, _| {}).expect("runs");
        assert_eq!(c.values, vec!["0", "2"]);
        assert_eq!(c.reports.len(), 2);
        assert_eq!(
            c.reports[0].series_interval_s,
            c.reports[1].series_interval_s
        );
        assert!(c.reports.iter().all(|r| r.seed == 7));
        assert_eq!(
            c.reports[1].parameter("jitter").map(|p| p.value.as_str()),
            Some("2")
        );
        // A bad value is reported before anything runs.
        let err = compare_herd(&base, "workers=2,0", 7, &mut |_, _, _| {});
        assert!(matches!(
            err,
            Err(SimError::BadCompare { .. } | SimError::MustBePositive { .. })
        ));
    }

    #[test]
    fn memory_estimate_refuses_huge_runs() {
        let cfg = HerdConfig {
            clients: 4_000_000_000,
            ..HerdConfig::default()
        };
        let p = cfg.validate().expect("in range");
        let err = p.check_memory(Some(24 << 30)).expect_err("does not fit");
        assert!(matches!(err, SimError::TooMuchMemory { .. }));
        assert!(err.to_string().contains("bytes per client"), "{err}");
        assert!(p.check_memory(None).is_ok());
    }
}

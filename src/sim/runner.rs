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
use super::report::{Comparison, Report};
use super::scenarios::herd::{self, Herd, HerdConfig};

/// Most variants one `--compare` may run.
pub const MAX_VARIANTS: usize = 8;

/// Bytes of memory available to a new process (Linux `MemAvailable`), if known.
pub fn available_memory_bytes() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

/// Validates `cfg`, refuses runs that would not fit in memory, runs the herd and
/// returns its report (with wall time) and the raw outcome.
pub fn run_herd(
    cfg: &HerdConfig,
    seed: u64,
    progress: &mut dyn FnMut(Progress),
) -> Result<(Report, RunOutcome), SimError> {
    let (outcome, wall) = run_herd_outcome(cfg, seed, progress)?;
    let mut report = Report::from_outcome(&outcome);
    report.wall_time_s = Some(wall);
    Ok((report, outcome))
}

/// Like [`run_herd`] but returns the outcome and wall seconds only.
pub fn run_herd_outcome(
    cfg: &HerdConfig,
    seed: u64,
    progress: &mut dyn FnMut(Progress),
) -> Result<(RunOutcome, f64), SimError> {
    let herd = Herd::new(cfg.clone())?;
    herd.params().check_memory(available_memory_bytes())?;
    let started = Instant::now();
    let outcome = Simulation::new(herd, seed).run_with_progress(progress);
    Ok((outcome, started.elapsed().as_secs_f64()))
}

/// Parses `PARAM=V1,V2[,V3...]` into the canonical parameter name and values.
pub fn parse_compare(spec: &str) -> Result<(&'static str, Vec<String>), SimError> {
    let bad = |reason: &str| SimError::BadCompare {
        spec: spec.to_string(),
        reason: reason.to_string(),
    };
    let (name, values) = spec
        .split_once('=')
        .ok_or_else(|| bad("expected PARAM=V1,V2, e.g. jitter=0,30"))?;
    let param = herd::canonical_param(name).ok_or_else(|| {
        bad(&format!(
            "unknown parameter {:?}; known: {}",
            name.trim(),
            herd::PARAMS
                .iter()
                .map(|p| p.name.replace('_', "-"))
                .collect::<Vec<_>>()
                .join(", ")
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

/// Runs one herd per value of `param` (everything else from `base`, same seed)
/// and returns them with a common series interval. Every variant is validated
/// before the first one runs.
pub fn compare_herd(
    base: &HerdConfig,
    spec: &str,
    seed: u64,
    progress: &mut dyn FnMut(usize, usize, Progress),
) -> Result<Comparison, SimError> {
    let (param, values) = parse_compare(spec)?;
    let mut configs = Vec::with_capacity(values.len());
    for v in &values {
        let mut cfg = base.clone();
        cfg.set(param, v).map_err(|e| SimError::BadCompare {
            spec: spec.to_string(),
            reason: e.to_string(),
        })?;
        let p = cfg.validate()?;
        p.check_memory(available_memory_bytes())?;
        configs.push(cfg);
    }
    let n = configs.len();
    let mut runs = Vec::with_capacity(n);
    for (i, cfg) in configs.iter().enumerate() {
        runs.push(run_herd_outcome(cfg, seed, &mut |p| progress(i, n, p))?);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compare_specs_parse_and_reject_nonsense() {
        let (p, v) = parse_compare("jitter=0,30").expect("valid");
        assert_eq!((p, v), ("jitter", vec!["0".to_string(), "30".to_string()]));
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

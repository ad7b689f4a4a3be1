//! The scenario registry: which scenarios exist, their parameters and metric
//! names, and [`run_by_name`].
//!
//! The quiz linter checks predict items (`scenario: herd`, `metric:
//! time_to_all_s`) against [`scenario_names`] and [`metric_names`]; the quiz and
//! practice sessions run them with [`run_by_name`] and flag-style parameters
//! (`clients=100000`, `jitter=0`, `backlog=unlimited`). New scenarios add one
//! [`ScenarioInfo`] here and one arm in [`run_by_name`].

use super::error::SimError;
use super::report::Report;
use super::runner;
use super::scenarios::herd;

/// One parameter of a scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParamInfo {
    /// Stable name (snake_case of the CLI flag), e.g. `handshake_ms`.
    pub name: &'static str,
    /// Unit of the value, or empty.
    pub unit: &'static str,
    /// Default value as text.
    pub default: &'static str,
    /// What it means.
    pub help: &'static str,
}

/// One summary metric of a scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetricInfo {
    /// Stable JSON name, e.g. `time_to_all_s`.
    pub name: &'static str,
    /// Unit.
    pub unit: &'static str,
    /// What it means.
    pub help: &'static str,
}

/// A registered scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScenarioInfo {
    /// Registry name, as in `swelearn simulate NAME`.
    pub name: &'static str,
    /// One line about what it shows.
    pub summary: &'static str,
    /// Its parameters.
    pub params: &'static [ParamInfo],
    /// Its summary metrics, in report order.
    pub metrics: &'static [MetricInfo],
    /// Its time series names, in report order.
    pub series: &'static [&'static str],
}

static SCENARIOS: &[ScenarioInfo] = &[ScenarioInfo {
    name: herd::NAME,
    summary: "a server restarts and every client reconnects at once: accept queue, refusals, timeouts, backoff",
    params: herd::PARAMS,
    metrics: herd::METRICS,
    series: herd::SERIES,
}];

/// Every registered scenario.
pub fn scenarios() -> &'static [ScenarioInfo] {
    SCENARIOS
}

/// Names of the registered scenarios, e.g. `["herd"]`.
pub fn scenario_names() -> Vec<&'static str> {
    SCENARIOS.iter().map(|s| s.name).collect()
}

/// A scenario by name.
pub fn scenario(name: &str) -> Option<&'static ScenarioInfo> {
    SCENARIOS.iter().find(|s| s.name == name)
}

/// The metric names a scenario reports, or `None` for an unknown scenario.
pub fn metric_names(scenario_name: &str) -> Option<Vec<&'static str>> {
    scenario(scenario_name).map(|s| s.metrics.iter().map(|m| m.name).collect())
}

/// True when `scenario_name` reports a metric called `metric`.
pub fn has_metric(scenario_name: &str, metric: &str) -> bool {
    scenario(scenario_name).is_some_and(|s| s.metrics.iter().any(|m| m.name == metric))
}

/// Runs a scenario by name with flag-style parameters (names with `-` or `_`,
/// values as on the command line: `("jitter", "30")`, `("backlog", "unlimited")`);
/// unspecified parameters keep their defaults. The report includes the wall time.
pub fn run_by_name(
    scenario_name: &str,
    params: &[(String, String)],
    seed: u64,
) -> Result<Report, SimError> {
    match scenario_name {
        herd::NAME => {
            let mut cfg = herd::HerdConfig::default();
            for (k, v) in params {
                cfg.set(k, v)?;
            }
            runner::run_herd(&cfg, seed, &mut |_| {}).map(|(report, _)| report)
        }
        other => Err(SimError::UnknownScenario {
            name: other.to_string(),
            known: scenario_names().join(", "),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_lists_the_herd_and_its_metrics() {
        assert_eq!(scenario_names(), vec!["herd"]);
        let m = metric_names("herd").expect("herd is registered");
        for name in [
            "time_to_all_s",
            "time_to_p99_s",
            "peak_queue",
            "refused",
            "timeouts",
            "wasted_handshakes",
            "attempts",
            "connect_latency_mean_ms",
            "connect_latency_p50_ms",
            "connect_latency_p99_ms",
            "peak_utilization",
            "connected",
        ] {
            assert!(m.contains(&name), "{name} missing");
            assert!(has_metric("herd", name));
        }
        assert!(metric_names("nope").is_none());
        assert!(!has_metric("herd", "nope"));
    }

    #[test]
    fn run_by_name_takes_flag_style_parameters() {
        let p = |k: &str, v: &str| (k.to_string(), v.to_string());
        let r = run_by_name(
            "herd",
            &[
                p("clients", "2000"),
                p("jitter", "0"),
                p("backlog", "unlimited"),
                p("handshake-ms", "0.5"),
            ],
            7,
        )
        .expect("runs");
        // 2,000 handshakes at 4,000/s, all queued at t = 0: the last ends at 0.5 s.
        let t = r.metric_value("time_to_all_s").expect("all connect");
        assert!((t - 0.5).abs() < 1e-9, "{t}");
        // The report carries exactly the registered metrics, in order.
        let names: Vec<&str> = r.metrics.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(Some(names), metric_names("herd"));
        let series: Vec<&str> = r.series.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(series, herd::SERIES);
    }

    #[test]
    fn run_by_name_rejects_unknown_names() {
        assert!(matches!(
            run_by_name("nope", &[], 1),
            Err(SimError::UnknownScenario { .. })
        ));
        let bad = [("colour".to_string(), "red".to_string())];
        assert!(matches!(
            run_by_name("herd", &bad, 1),
            Err(SimError::UnknownParameter { .. })
        ));
    }
}

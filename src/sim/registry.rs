//! The scenario registry: which scenarios exist, their parameters and metric
//! names, and [`run_by_name`].
//!
//! The quiz linter checks predict items (`scenario: herd`, `metric:
//! time_to_all_s`) against [`scenario_names`] and [`metric_names`]; the quiz and
//! practice sessions run them with [`run_by_name`] and flag-style parameters
//! (`clients=100000`, `jitter=0`, `backlog=unlimited`). A new scenario adds one
//! [`ScenarioInfo`] to the table here, whose `run` and `check_param` are the
//! generic [`runner::run_named`] and [`runner::check_named`] instantiated with its
//! [`super::spec::ScenarioSpec`]; [`run_by_name`] dispatches through the table.

use super::error::SimError;
use super::report::Report;
use super::runner;
use super::scenarios::{backpressure, balance, chat, heartbeat, herd, racer};

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
    /// Other accepted spellings (snake_case), e.g. `handshake` for `handshake_ms`.
    pub aliases: &'static [&'static str],
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

/// Runs a scenario from flag-style parameters and a seed.
pub type RunFn = fn(&[(String, String)], u64) -> Result<Report, SimError>;
/// Checks one flag-style parameter and its value (parsing only).
pub type CheckParamFn = fn(&str, &str) -> Result<(), SimError>;

/// A registered scenario.
#[derive(Debug, Clone, Copy)]
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
    /// Runs it: [`runner::run_named`] for its spec.
    pub run: RunFn,
    /// Checks one parameter: [`runner::check_named`] for its spec.
    pub check_param: CheckParamFn,
}

static SCENARIOS: &[ScenarioInfo] = &[
    ScenarioInfo {
        name: herd::NAME,
        summary: "a server restarts and every client reconnects at once: accept queue, refusals, timeouts, backoff",
        params: herd::PARAMS,
        metrics: herd::METRICS,
        series: herd::SERIES,
        run: runner::run_named::<herd::HerdConfig>,
        check_param: runner::check_named::<herd::HerdConfig>,
    },
    ScenarioInfo {
        name: heartbeat::NAME,
        summary: "connections die silently (half-open): how long app pings vs TCP keepalive take to notice, and what they cost",
        params: heartbeat::PARAMS,
        metrics: heartbeat::METRICS,
        series: heartbeat::SERIES,
        run: runner::run_named::<heartbeat::HeartbeatConfig>,
        check_param: runner::check_named::<heartbeat::HeartbeatConfig>,
    },
    ScenarioInfo {
        name: racer::NAME,
        summary: "short polling, long polling, SSE and WebSocket on the same feed: requests, bytes, latency, connections",
        params: racer::PARAMS,
        metrics: racer::METRICS,
        series: racer::SERIES,
        run: runner::run_named::<racer::RacerConfig>,
        check_param: runner::check_named::<racer::RacerConfig>,
    },
    ScenarioInfo {
        name: balance::NAME,
        summary: "stateful clients behind a load balancer: round-robin vs least-connections vs hashing, a server leaves and returns",
        params: balance::PARAMS,
        metrics: balance::METRICS,
        series: balance::SERIES,
        run: runner::run_named::<balance::BalanceConfig>,
        check_param: runner::check_named::<balance::BalanceConfig>,
    },
    ScenarioInfo {
        name: backpressure::NAME,
        summary: "a producer broadcasting to fast and slow consumers: unbounded buffers, drops, disconnects, throttling",
        params: backpressure::PARAMS,
        metrics: backpressure::METRICS,
        series: backpressure::SERIES,
        run: runner::run_named::<backpressure::BackpressureConfig>,
        check_param: runner::check_named::<backpressure::BackpressureConfig>,
    },
    ScenarioInfo {
        name: chat::NAME,
        summary: "chat rooms spread over servers, with or without a pub/sub broker: who receives, latency, fan-out cost",
        params: chat::PARAMS,
        metrics: chat::METRICS,
        series: chat::SERIES,
        run: runner::run_named::<chat::ChatConfig>,
        check_param: runner::check_named::<chat::ChatConfig>,
    },
];

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
    (require(scenario_name)?.run)(params, seed)
}

/// Checks that `scenario_name` has a parameter `name` and that `value` parses
/// for it (ranges that depend on other parameters are checked when it runs).
pub fn check_param(scenario_name: &str, name: &str, value: &str) -> Result<(), SimError> {
    (require(scenario_name)?.check_param)(name, value)
}

fn require(scenario_name: &str) -> Result<&'static ScenarioInfo, SimError> {
    scenario(scenario_name).ok_or_else(|| SimError::UnknownScenario {
        name: scenario_name.to_string(),
        known: scenario_names().join(", "),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_lists_the_herd_and_its_metrics() {
        assert!(scenario_names().contains(&"herd"));
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

    #[test]
    fn check_param_parses_names_and_values() {
        assert!(check_param("herd", "handshake-ms", "0.5").is_ok());
        assert!(check_param("herd", "backlog", "unlimited").is_ok());
        assert!(matches!(
            check_param("herd", "backlog", "lots"),
            Err(SimError::InvalidValue { .. })
        ));
        assert!(matches!(
            check_param("herd", "colour", "red"),
            Err(SimError::UnknownParameter { .. })
        ));
        assert!(matches!(
            check_param("nope", "x", "1"),
            Err(SimError::UnknownScenario { .. })
        ));
    }

    #[test]
    fn every_parameter_default_parses() {
        for info in scenarios() {
            // Every parameter's default parses.
            for p in info.params {
                assert!(
                    check_param(info.name, p.name, p.default).is_ok(),
                    "{}.{}",
                    info.name,
                    p.name
                );
            }
        }
    }

    #[test]
    fn heartbeat_and_racer_are_registered_with_the_issue_metric_names() {
        let hb = metric_names("heartbeat").expect("heartbeat is registered");
        for name in [
            "detection_delay_mean_s",
            "detection_delay_max_s",
            "dead_connection_seconds",
            "heartbeat_bytes_per_s",
        ] {
            assert!(hb.contains(&name), "{name} missing");
        }
        let racer = metric_names("racer").expect("racer is registered");
        assert_eq!(racer.len(), racer::METRICS.len());
        for proto in ["short_poll", "long_poll", "sse", "websocket"] {
            for suffix in [
                "requests_per_s",
                "bytes_per_s",
                "empty_responses",
                "latency_mean_ms",
                "latency_p99_ms",
                "open_connections",
            ] {
                let name = format!("{proto}_{suffix}");
                assert!(has_metric("racer", &name), "{name} missing");
            }
        }
        let p = |k: &str, v: &str| (k.to_string(), v.to_string());
        let r = run_by_name(
            "heartbeat",
            &[p("connections", "1000"), p("ping-interval", "20")],
            7,
        )
        .expect("runs");
        // Defaults k = 2, T = 10 s: delays in (30, 50] s.
        let max = r.metric_value("detection_delay_max_s").expect("defined");
        assert!(max > 30.0 && max <= 50.0, "{max}");
        let r = run_by_name("racer", &[p("clients", "500"), p("interval", "10")], 7).expect("runs");
        assert_eq!(r.metric_value("short_poll_requests_per_s"), Some(50.0));
        assert!(check_param("racer", "hold", "30s").is_ok());
        assert!(check_param("heartbeat", "detector", "tcp-keepalive").is_ok());
        assert!(check_param("heartbeat", "detector", "psychic").is_err());
    }
}

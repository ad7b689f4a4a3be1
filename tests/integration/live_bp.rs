//! `simulate backpressure --live` and `simulate heartbeat --live`, run small
//! through the CLI: each report has the model's metric, series and parameter
//! names (plus the documented live-only ones), and what it measured obeys the
//! model's theory — conservation of messages and the buffer bound for
//! backpressure, the detection-delay bounds for heartbeats.

use serde_json::Value;

/// Names of a JSON report's `field` object (metrics, series or parameters).
fn keys(report: &Value, field: &str) -> Vec<String> {
    report[field]
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default()
}

fn json(args: &[&str]) -> Value {
    serde_json::from_str(&super::swelearn(args).ok()).expect("JSON report")
}

/// The names `live` has in `field` beyond the model's (which it must all have),
/// sorted.
fn extra(model: &Value, live: &Value, field: &str) -> Vec<String> {
    let (m, l) = (keys(model, field), keys(live, field));
    assert!(m.iter().all(|k| l.contains(k)), "{field}: {m:?} in {l:?}");
    let mut extra: Vec<String> = l.into_iter().filter(|k| !m.contains(k)).collect();
    extra.sort();
    extra
}

fn sorted(names: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = names.iter().map(|s| s.to_string()).collect();
    v.sort();
    v
}

/// Runs the model and then the live backend with the same flags; checks both
/// reports share every name and returns them.
fn model_and_live(args: &[&str], live_metrics: &[&str], live_series: &[&str]) -> (Value, Value) {
    let model = json(args);
    let live = json(&[args, &["--live"][..]].concat());
    assert_eq!(model["backend"], "model");
    assert_eq!(live["backend"], "live");
    assert_eq!(model["scenario"], live["scenario"]);
    assert_eq!(extra(&model, &live, "metrics"), sorted(live_metrics));
    assert_eq!(extra(&model, &live, "series"), sorted(live_series));
    let lens: Vec<usize> = live["series"]
        .as_object()
        .expect("series")
        .values()
        .map(|s| s["values"].as_array().map_or(0, Vec::len))
        .collect();
    assert!(
        lens[0] > 0 && lens.iter().all(|&l| l == lens[0]),
        "{lens:?}"
    );
    (model, live)
}

fn metric(report: &Value, name: &str) -> Option<f64> {
    report["metrics"][name]["value"].as_f64()
}

const BP_LIVE_METRICS: &[&str] = &[
    "offered",
    "in_transit_at_end",
    "peak_conn_buffered_bytes",
    "process_rss_start_bytes",
    "process_rss_peak_bytes",
    "process_rss_end_bytes",
    "memory_cap_stop_s",
];

#[test]
fn backpressure_live_conserves_messages_and_keeps_bounded_queues_bounded() {
    // One consumer of four reads 50 msg/s of the 400 produced: a backlog of
    // 350 msg/s, far more than its 16-message buffer and the sockets' ~8 KiB.
    const LIMIT: f64 = 8192.0;
    const SIZE: f64 = 512.0;
    for policy in [
        "drop-oldest",
        "drop-newest",
        "disconnect",
        "throttle",
        "unbounded",
    ] {
        let args = [
            "simulate",
            "backpressure",
            "--consumers",
            "4",
            "--slow-consumers",
            "1",
            "--rate",
            "400",
            "--fast-rate",
            "2000",
            "--slow-rate",
            "50",
            "--message-size",
            "512",
            "--buffer-limit",
            "8KiB",
            "--horizon",
            "1.5",
            "--policy",
            policy,
            "--json",
        ];
        let (model, live) = model_and_live(&args, BP_LIVE_METRICS, &["process_rss_bytes"]);
        let m = |name: &str| metric(&live, name).unwrap_or(f64::NAN);
        assert_eq!(extra(&model, &live, "parameters"), ["memory_cap"]);

        // Each term is counted on its own: deliveries by the consumers, drops
        // and queues by the server.
        let accounted = m("delivered")
            + m("in_transit_at_end")
            + m("dropped")
            + m("final_buffered_bytes") / SIZE;
        assert_eq!(m("offered"), accounted, "{policy}: conservation");
        assert!(m("delivered") > 0.0, "{policy}");
        assert!(m("fast_latency_p99_ms") > 0.0, "{policy}");
        assert!(m("process_rss_peak_bytes") >= m("process_rss_start_bytes"));
        assert_eq!(metric(&live, "memory_cap_stop_s"), None);

        match policy {
            "unbounded" => {
                assert_eq!(m("dropped"), 0.0);
                assert_eq!(m("produced"), 600.0);
                assert!(m("peak_conn_buffered_bytes") > 10.0 * LIMIT, "{policy}");
            }
            "throttle" => {
                assert_eq!(m("dropped"), 0.0);
                assert!(m("peak_conn_buffered_bytes") <= LIMIT);
                // The producer is held to the slow reader's pace.
                assert!(m("produced") < 300.0, "{}", m("produced"));
            }
            "disconnect" => {
                // The slow reader is closed; on a machine starved of CPU a fast
                // one can fall 16 messages behind too, so count at least one.
                let closed = m("disconnects");
                assert!((1.0..4.0).contains(&closed), "{closed}");
                assert!(m("first_disconnect_s") < 1.0);
                assert!(m("peak_conn_buffered_bytes") <= LIMIT);
                // Once closed a consumer is offered nothing more; the others are
                // offered every message.
                assert!(m("offered") < 4.0 * m("produced"));
                assert!(m("offered") >= (4.0 - closed) * m("produced"));
            }
            _ => {
                assert_eq!(m("produced"), 600.0);
                assert!(m("dropped") > 0.0, "{policy}");
                // The queue filled to its bound and never past it.
                assert_eq!(m("peak_conn_buffered_bytes"), LIMIT, "{policy}");
                assert_eq!(m("disconnects"), 0.0);
            }
        }
    }
}

#[test]
fn backpressure_live_refuses_runs_beyond_its_bounds() {
    let run = super::swelearn(&["simulate", "backpressure", "--live", "--consumers", "5000"]);
    assert_eq!(run.code(), 2);
    assert!(run.stderr().contains("at most 1000"), "{}", run.stderr());
    let run = super::swelearn(&["simulate", "backpressure", "--live", "--horizon", "600"]);
    assert_eq!(run.code(), 2);
    assert!(run.stderr().contains("at most 60 s"), "{}", run.stderr());
    let run = super::swelearn(&[
        "simulate",
        "backpressure",
        "--live",
        "--compare",
        "policy=unbounded,throttle",
    ]);
    assert_eq!(run.code(), 2, "--live runs one variant");
    let help = super::swelearn(&["simulate", "backpressure", "--help"]).ok();
    assert!(
        help.contains("--live") && help.contains("256 MiB"),
        "{help}"
    );
}

#[test]
fn heartbeat_live_detects_within_the_theory_bound() {
    // P = 5 s, T = 1 s, k = 2: every delay in ((k-1)P + T, kP + T] = (6, 11].
    // At --time-scale 10 that is 0.5 s pings and a 3.1 s run of wall time.
    let args = [
        "simulate",
        "heartbeat",
        "--connections",
        "40",
        "--dead-fraction",
        "0.5",
        "--duration",
        "20",
        "--ping-interval",
        "5",
        "--pong-timeout",
        "1",
        "--missed",
        "2",
        "--payload",
        "4",
        "--json",
    ];
    let model = json(&args);
    let live = json(&[&args[..], &["--live", "--time-scale", "10"]].concat());
    assert_eq!(live["backend"], "live");
    assert_eq!(
        extra(&model, &live, "metrics"),
        ["closed_alive", "pongs_per_s"]
    );
    assert_eq!(keys(&live, "series"), keys(&model, "series"));
    assert_eq!(extra(&model, &live, "parameters"), ["time_scale"]);

    let m = |name: &str| metric(&live, name).unwrap_or(f64::NAN);
    let model_m = |name: &str| metric(&model, name).unwrap_or(f64::NAN);
    assert_eq!(
        (m("died"), m("detected"), m("undetected")),
        (20.0, 20.0, 0.0)
    );
    assert_eq!(m("closed_alive"), 0.0, "no live connection was dropped");
    // Scheduling tolerance: 60 ms of wall time (timers firing late on a shared
    // machine, a ping read just before its client went silent), x10 here.
    let tol = 0.6;
    let (lo, hi) = (m("delay_lower_bound_s"), m("delay_upper_bound_s"));
    assert_eq!((lo, hi), (6.0, 11.0));
    assert!(
        m("detection_delay_min_s") > lo - tol,
        "{}",
        m("detection_delay_min_s")
    );
    assert!(
        m("detection_delay_max_s") <= hi + tol,
        "{}",
        m("detection_delay_max_s")
    );
    // Same seed, same deaths and ping phases as the model: the same delays up
    // to scheduling.
    for name in [
        "detection_delay_mean_s",
        "detection_delay_min_s",
        "detection_delay_max_s",
    ] {
        assert!(
            (m(name) - model_m(name)).abs() <= tol,
            "{name}: {} vs {}",
            m(name),
            model_m(name)
        );
    }
    assert!(
        (m("dead_connection_seconds") - model_m("dead_connection_seconds")).abs() <= 20.0 * tol
    );
    // Bytes counted on the socket are exactly the frames: a ping is 2 + 4 bytes,
    // a pong 6 + 4 (the client's mask).
    let window = 20.0;
    let frames = m("pings_per_s") * window * 6.0 + m("pongs_per_s") * window * 10.0;
    assert!((m("heartbeat_bytes_per_s") * window - frames).abs() < 1e-6);
    assert!(m("pongs_per_s") < m("pings_per_s"), "the dead miss pings");
    let rel = |a: f64, b: f64| (a - b).abs() / b;
    assert!(rel(m("pings_per_s"), model_m("pings_per_s")) < 0.05);
    assert!(rel(m("heartbeat_bytes_per_s"), model_m("heartbeat_bytes_per_s")) < 0.05);
    let held = &live["series"]["dead_held"]["values"];
    assert_eq!(
        held.as_array().and_then(|v| v.last()),
        Some(&Value::from(0.0))
    );
}

#[test]
fn heartbeat_live_without_a_detector_holds_the_dead_for_ever() {
    let live = json(&[
        "simulate",
        "heartbeat",
        "--live",
        "--connections",
        "20",
        "--dead-fraction",
        "0.25",
        "--duration",
        "10",
        "--detector",
        "none",
        "--time-scale",
        "10",
        "--json",
    ]);
    let m = |name: &str| metric(&live, name);
    assert_eq!(m("died"), Some(5.0));
    assert_eq!(m("undetected"), Some(5.0));
    assert_eq!(m("detection_delay_mean_s"), None);
    assert_eq!(m("dead_connection_seconds"), None);
    assert_eq!(m("pings_per_s"), Some(0.0));
    assert_eq!(m("heartbeat_bytes_per_s"), Some(0.0));
    assert_eq!(live["end_s"], 10.0);
}

#[test]
fn heartbeat_live_refuses_what_it_cannot_run() {
    let cases: &[(&[&str], &str)] = &[
        (&["--connections", "100000"], "at most 5000"),
        (&["--connections", "100"], "use --time-scale 62 or more"),
        (
            &[
                "--connections",
                "100",
                "--detector",
                "tcp-keepalive",
                "--duration",
                "10",
            ],
            "model-only",
        ),
        (
            &[
                "--connections",
                "100",
                "--duration",
                "10",
                "--time-scale",
                "5000",
            ],
            "--time-scale 1500 or less",
        ),
    ];
    for (args, needle) in cases {
        let run = super::swelearn(&[&["simulate", "heartbeat", "--live"][..], args].concat());
        assert_eq!(run.code(), 2, "{args:?}");
        let err = run.stderr();
        assert!(err.contains(needle), "{args:?}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{err}");
    }
    let run = super::swelearn(&["simulate", "heartbeat", "--time-scale", "10"]);
    assert_eq!(run.code(), 2, "--time-scale needs --live");
    let help = super::swelearn(&["simulate", "heartbeat", "--help"]).ok();
    assert!(
        help.contains("--time-scale") && help.contains("model-only"),
        "{help}"
    );
}

#[test]
fn backpressure_live_unbounded_stops_before_the_memory_cap() {
    use swelearn::live::backpressure::{LiveBackpressureOptions, run_backpressure};
    use swelearn::sim::scenarios::backpressure::{BackpressureConfig, BufferPolicy};
    let cfg = BackpressureConfig {
        consumers: 2,
        slow_consumers: 1,
        rate: 1000.0,
        slow_rate: 10.0,
        message_size: 1024,
        policy: BufferPolicy::Unbounded,
        horizon_s: 5.0,
        ..BackpressureConfig::default()
    };
    let cap = 64 * 1024;
    let opts = LiveBackpressureOptions {
        max_buffered_bytes: cap,
        ..LiveBackpressureOptions::default()
    };
    let r = run_backpressure(&cfg, &opts, 7).expect("runs");
    let m = |name: &str| r.metric_value(name).unwrap_or(f64::NAN);
    // About 64 messages pile up at ~990/s (plus what the sockets hold).
    let at = m("memory_cap_stop_s");
    assert!(at > 0.0 && at < 1.0, "{at}");
    assert_eq!(r.end_s, at);
    assert!(m("peak_buffered_bytes") <= cap as f64);
    assert!(m("final_buffered_bytes") > cap as f64 / 2.0);
    let accounted =
        m("delivered") + m("in_transit_at_end") + m("dropped") + m("final_buffered_bytes") / 1024.0;
    assert_eq!(m("offered"), accounted);
    assert_eq!(
        r.parameters
            .iter()
            .find(|p| p.name == "memory_cap")
            .map(|p| p.value.as_str()),
        Some("65536")
    );
}

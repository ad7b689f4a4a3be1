//! Tests of the heartbeat model against detection-delay theory and its own
//! bookkeeping. Each test states the theory it checks and the tolerance it allows.

use super::*;
use crate::sim::engine::Simulation;
use crate::sim::report::Report;
use crate::sim::scenarios::test_support::{self as support, metric};

fn cfg(pairs: &[(&str, &str)]) -> HeartbeatConfig {
    support::cfg(pairs)
}

fn run(c: &HeartbeatConfig, seed: u64) -> Report {
    support::run(c, seed)
}

#[test]
fn app_delay_lies_in_the_theoretical_window_and_averages_k_minus_half_p() {
    // Theory: ping every P, pong timeout T, close after k misses. The peer dies
    // u after its last answered ping, u uniform in [0, P) (independent random
    // phase), so delay = kP + T - u lies in ((k-1)P + T, kP + T] exactly and its
    // mean is (k - 1/2)P + T. Bounds: exact (integer nanoseconds). Mean: 50,000
    // deaths, standard error P / sqrt(12 * 50,000) = 0.039 s at P = 30 s; allow
    // 0.3 s (> 7 standard errors).
    for (p, k, t) in [(30.0, 2u64, 10.0), (25.0, 1, 20.0), (10.0, 3, 5.0)] {
        let c = cfg(&[
            ("connections", "100000"),
            ("dead-fraction", "0.5"),
            ("ping-interval", &p.to_string()),
            ("missed", &k.to_string()),
            ("pong-timeout", &t.to_string()),
        ]);
        let r = run(&c, 7);
        let kf = k as f64;
        let (lo, hi) = ((kf - 1.0) * p + t, kf * p + t);
        assert_eq!(metric(&r, "delay_lower_bound_s"), lo);
        assert_eq!(metric(&r, "delay_upper_bound_s"), hi);
        let (min, max) = (
            metric(&r, "detection_delay_min_s"),
            metric(&r, "detection_delay_max_s"),
        );
        assert!(min > lo && max <= hi, "P {p} k {k}: [{min}, {max}]");
        // 50,000 uniform draws reach within 0.01 % of P of both ends.
        assert!(min - lo < 0.001 * p && hi - max < 0.001 * p, "{min} {max}");
        let mean = metric(&r, "detection_delay_mean_s");
        let want = (kf - 0.5) * p + t;
        assert!(
            (mean - want).abs() < 0.3,
            "P {p} k {k}: mean {mean}, theory {want}"
        );
        assert_eq!(metric(&r, "died"), 50_000.0);
        assert_eq!(metric(&r, "detected"), 50_000.0);
        assert_eq!(metric(&r, "undetected"), 0.0);
        let p99 = metric(&r, "detection_delay_p99_s");
        assert!(p99 > mean && p99 <= max, "{p99}");
    }
}

#[test]
fn tcp_keepalive_defaults_take_up_to_two_hours_eleven_minutes() {
    // Theory (Linux defaults 7200 s / 75 s / 9 probes): the first unanswered probe
    // goes out within 7200 s of the death, 8 more follow 75 s apart and the
    // kernel gives up 75 s after the ninth: delay in (675, 7875] s, mean
    // 3600 + 675 = 4275 s. 20,000 deaths: standard error 7200 / sqrt(12 * 20,000)
    // = 14.7 s; allow 75 s (> 5 standard errors).
    let c = cfg(&[
        ("connections", "20000"),
        ("dead-fraction", "1"),
        ("detector", "tcp-keepalive"),
    ]);
    let r = run(&c, 3);
    assert_eq!(metric(&r, "delay_lower_bound_s"), 675.0);
    assert_eq!(metric(&r, "delay_upper_bound_s"), 7875.0);
    let (min, max) = (
        metric(&r, "detection_delay_min_s"),
        metric(&r, "detection_delay_max_s"),
    );
    assert!(min > 675.0 && max <= 7875.0, "[{min}, {max}]");
    let mean = metric(&r, "detection_delay_mean_s");
    assert!((mean - 4275.0).abs() < 75.0, "{mean}");
    // The app defaults find the same deaths about 78 times sooner.
    let app = run(&cfg(&[("connections", "20000"), ("dead-fraction", "1")]), 3);
    assert!(metric(&app, "detection_delay_mean_s") < 60.0);
    assert!(metric(&r, "dead_connection_seconds") > 50.0 * metric(&app, "dead_connection_seconds"));
}

#[test]
fn dead_seconds_equal_the_sum_of_delays_littles_law() {
    // Theory: the area under "half-open connections held" over time equals the
    // sum over dead connections of the time each was held, i.e. of the detection
    // delays (L = lambda W summed over the run). The model integrates the held
    // count between events (exact integer nanoseconds) and sums delays
    // separately; the two agree to float rounding (relative 1e-12).
    for detector in ["app", "tcp-keepalive"] {
        let c = cfg(&[("connections", "50000"), ("detector", detector)]);
        let r = run(&c, 11);
        let area = metric(&r, "dead_connection_seconds");
        let sum = metric(&r, "detection_delay_mean_s") * metric(&r, "detected");
        assert!(
            (area - sum).abs() <= 1e-12 * sum,
            "{detector}: {area} vs {sum}"
        );
        // Time average = area / run length.
        let mean_held = metric(&r, "mean_dead_held");
        assert!((mean_held * r.end_s - area).abs() <= 1e-9 * area);
        // The held series never exceeds the peak, and reaches it.
        let peak = metric(&r, "peak_dead_held");
        let series_max = r
            .series("dead_held")
            .map(|s| s.values.iter().copied().fold(0.0, f64::max))
            .unwrap_or_default();
        assert_eq!(series_max, peak);
    }
}

#[test]
fn heartbeat_bytes_are_n_times_frame_bytes_over_p() {
    // Theory: with no deaths every connection is pinged once per P and answers,
    // so the rate is N x (ping + pong bytes) / P. Over a window that is a whole
    // number of periods every connection sends exactly duration / P pings
    // whatever its phase, so the equality is exact (float rounding only).
    let n = 10_000.0;
    type Case<'a> = (&'a [(&'a str, &'a str)], f64, f64);
    let cases: [Case; 5] = [
        // WebSocket frames only: 2-byte ping, 6-byte masked pong.
        (&[], 8.0, 30.0),
        // A 4-byte payload is echoed: 6 + 10.
        (&[("payload", "4")], 16.0, 30.0),
        // Plus 52 bytes of IPv4 + TCP (+ timestamps) per segment.
        (&[("wire", "tcp")], 8.0 + 104.0, 30.0),
        // Plus a 22-byte TLS 1.3 record around each frame.
        (&[("wire", "tls")], 8.0 + 104.0 + 44.0, 30.0),
        // TCP keepalive: a 52-byte probe and a 52-byte ACK every 7200 s.
        (
            &[("detector", "tcp-keepalive"), ("wire", "tcp")],
            104.0,
            7200.0,
        ),
    ];
    for (extra, frame_bytes, period) in cases {
        let mut pairs = vec![
            ("connections", "10000"),
            ("dead-fraction", "0"),
            ("duration", "14400"),
        ];
        pairs.extend_from_slice(extra);
        let r = run(&cfg(&pairs), 5);
        let want = n * frame_bytes / period;
        let got = metric(&r, "heartbeat_bytes_per_s");
        assert!(
            (got - want).abs() <= 1e-9 * want,
            "{extra:?}: {got} vs {want}"
        );
        let pings = metric(&r, "pings_per_s");
        assert!((pings - n / period).abs() <= 1e-9 * n, "{pings}");
    }
    // At the WebSocket layer TCP keepalive costs nothing, and "none" sends nothing.
    let ka = run(
        &cfg(&[("detector", "tcp-keepalive"), ("dead-fraction", "0")]),
        5,
    );
    assert_eq!(metric(&ka, "heartbeat_bytes_per_s"), 0.0);
    let none = run(&cfg(&[("detector", "none")]), 5);
    assert_eq!(metric(&none, "pings_per_s"), 0.0);
}

#[test]
fn deaths_lower_the_byte_rate_only_slightly() {
    // Dead connections get pings but send no pongs, and stop being pinged when
    // closed, so the rate lies between the dead-adjusted floor and N x 8 / P.
    let r = run(&cfg(&[("dead-fraction", "0.5")]), 9);
    let full = 100_000.0 * 8.0 / 30.0;
    let got = metric(&r, "heartbeat_bytes_per_s");
    assert!(got < full && got > 0.5 * full, "{got}");
}

#[test]
fn without_a_detector_every_dead_connection_is_held_for_ever() {
    // Nothing closes a dead connection: all 10,000 deaths are still held when
    // the run stops at the end of the window, the held count only grows, and
    // the totals that would grow without bound are undefined rather than a
    // number that would look smaller than a slow detector's.
    let hb = Heartbeat::new(cfg(&[("detector", "none")])).expect("valid");
    let mut sim = Simulation::new(hb, 4);
    while sim.step() {}
    // Theory: deaths uniform over [0, D) held until D total M x D / 2 on
    // average (M = 10,000, D = 3600 s: 18,000,000 connection-s); standard
    // error M D / sqrt(12 M) ~ 0.29 %; allow 2 %.
    let area_s = sim.scenario().held_area as f64 / 1e9;
    let r = Report::from_outcome(&sim.finish());
    assert!((area_s / 18_000_000.0 - 1.0).abs() < 0.02, "{area_s}");
    assert!(r.metric_value("detection_delay_mean_s").is_none());
    assert!(r.metric_value("delay_upper_bound_s").is_none());
    assert!(r.metric_value("dead_connection_seconds").is_none());
    assert_eq!(metric(&r, "undetected"), 10_000.0);
    assert_eq!(metric(&r, "detected"), 0.0);
    assert_eq!(metric(&r, "peak_dead_held"), 10_000.0);
    assert_eq!(r.end_s, 3600.0);
    let held = r
        .series("dead_held")
        .map(|s| s.values.clone())
        .unwrap_or_default();
    assert!(held.windows(2).all(|w| w[0] <= w[1]));
}

#[test]
fn conservation_every_death_is_detected_or_still_held() {
    // Every death is counted once; with a detector the run continues until the
    // last detection, so nothing is left held; the cumulative series end at the
    // counters and the held series returns to zero.
    for pairs in [
        vec![("connections", "30000"), ("dead-fraction", "0.3")],
        vec![
            ("connections", "1000"),
            ("dead-fraction", "1"),
            ("missed", "5"),
        ],
        vec![
            ("connections", "5000"),
            ("detector", "tcp-keepalive"),
            ("keepalive-time", "600"),
            ("keepalive-probes", "3"),
        ],
        vec![("connections", "100"), ("dead-fraction", "0")],
    ] {
        let c = cfg(&pairs);
        let hb = Heartbeat::new(c.clone()).expect("valid");
        let dead = hb.params().dead;
        let mut sim = Simulation::new(hb, 2);
        while sim.step() {}
        assert_eq!(sim.engine().pending(), 0, "{pairs:?}");
        let events = sim.engine().events_processed();
        let r = Report::from_outcome(&sim.finish());
        assert_eq!(metric(&r, "died"), dead as f64);
        assert_eq!(
            metric(&r, "detected") + metric(&r, "undetected"),
            dead as f64
        );
        assert_eq!(metric(&r, "undetected"), 0.0);
        // Three events per dead connection: death, first missed probe, close.
        assert_eq!(events, 3 * dead);
        let last = |name: &str| {
            r.series(name)
                .and_then(|s| s.values.last().copied())
                .unwrap_or_default()
        };
        assert_eq!(last("died"), dead as f64);
        assert_eq!(last("detected"), dead as f64);
    }
}

#[test]
fn same_seed_same_json_and_different_seed_differs() {
    // A run is a pure function of (parameters, seed).
    let c = cfg(&[("connections", "20000"), ("dead-fraction", "0.2")]);
    let a = run(&c, 7).without_wall_time().to_json().expect("json");
    let b = run(&c, 7).without_wall_time().to_json().expect("json");
    let d = run(&c, 8).without_wall_time().to_json().expect("json");
    assert_eq!(a, b);
    assert_ne!(a, d);
}

#[test]
fn report_carries_the_registered_metrics_and_series_in_order() {
    let r = run(&cfg(&[("connections", "1000")]), 1);
    let names: Vec<&str> = r.metrics.iter().map(|m| m.name.as_str()).collect();
    let want: Vec<&str> = METRICS.iter().map(|m| m.name).collect();
    assert_eq!(names, want);
    let series: Vec<&str> = r.series.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(series, SERIES);
    let params: Vec<&str> = r.parameters.iter().map(|p| p.name.as_str()).collect();
    let want: Vec<&str> = PARAMS.iter().map(|p| p.name).collect();
    assert_eq!(params, want);
    assert!(r.points() <= 2_000);
}

#[test]
fn bad_parameters_give_the_right_errors() {
    let err = |pairs: &[(&str, &str)]| -> SimError {
        let mut c = HeartbeatConfig::default();
        for (k, v) in pairs {
            if let Err(e) = c.set(k, v) {
                return e;
            }
        }
        c.validate().expect_err("should be invalid")
    };
    let cases: &[(&[(&str, &str)], &str)] = &[
        (&[("connections", "0")], "--connections"),
        (&[("connections", "-5")], "--connections"),
        (&[("connections", "1e9")], "--connections"),
        (&[("dead-fraction", "1.5")], "--dead-fraction"),
        (&[("dead-fraction", "-0.1")], "--dead-fraction"),
        (&[("dead-fraction", "half")], "--dead-fraction"),
        (&[("duration", "0")], "--duration"),
        (&[("ping-interval", "-30")], "--ping-interval"),
        (&[("ping-interval", "NaN")], "--ping-interval"),
        (&[("missed", "0")], "--missed"),
        (&[("pong-timeout", "0")], "--pong-timeout"),
        (&[("keepalive-time", "40000")], "--keepalive-time"),
        (&[("keepalive-probes", "200")], "--keepalive-probes"),
        (&[("payload", "126")], "--payload"),
        (&[("detector", "psychic")], "--detector"),
        (&[("wire", "pigeon")], "--wire"),
        (&[("colour", "red")], "colour"),
    ];
    for (pairs, needle) in cases {
        let msg = err(pairs).to_string();
        assert!(msg.contains(needle), "{pairs:?}: {msg}");
        assert!(!msg.contains('\n'), "{pairs:?}: {msg}");
    }
    assert!(err(&[("payload", "126")]).to_string().contains("125"));
    assert!(matches!(
        err(&[("missed", "0")]),
        SimError::MustBePositive {
            param: "missed",
            ..
        }
    ));
    // Memory: a million deaths do not fit in 20 MiB.
    let p = cfg(&[("connections", "1000000"), ("dead-fraction", "1")])
        .validate()
        .expect("valid");
    assert!(matches!(
        p.check_memory(Some(20 << 20)),
        Err(SimError::TooMuchMemory { .. })
    ));
    assert!(p.check_memory(Some(1 << 30)).is_ok());
}

#[test]
fn values_accept_units_aliases_and_percentages() {
    let c = cfg(&[
        ("--ping-interval", "500ms"),
        ("duration", "2h"),
        ("dead", "25%"),
        ("keepalive_interval", "1min"),
        ("k", "3"),
        ("detector", "keepalive"),
        ("connections", "1_000"),
    ]);
    assert_eq!(c.ping_interval_s, 0.5);
    assert_eq!(c.duration_s, 7200.0);
    assert_eq!(c.dead_fraction, 0.25);
    assert_eq!(c.keepalive_intvl_s, 60.0);
    assert_eq!(c.missed, 3);
    assert_eq!(c.detector, Detector::TcpKeepalive);
    assert_eq!(c.connections, 1000);
    assert_eq!(c.get("detector").as_deref(), Some("tcp-keepalive"));
    for d in Detector::ALL {
        assert_eq!(Detector::parse(d.as_str()), Some(d));
    }
    for w in Wire::ALL {
        assert_eq!(Wire::parse(w.as_str()), Some(w));
    }
}

#[test]
fn predict_items_teach_what_the_model_shows() {
    // Every embedded predict item on this scenario runs, and the value its
    // explanation teaches is within the item's own tolerance of the result.
    support::check_taught_predictions(
        NAME,
        &[
            ("heartbeats-predict-mean-delay", 55.0),
            ("heartbeats-predict-keepalive-worst", 7875.0),
            ("heartbeats-predict-ping-bytes", 266_667.0),
        ],
    );
}

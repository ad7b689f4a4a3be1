//! Tests of the backpressure model against the fluid model and queueing
//! arguments, and exact conservation of messages. Each test states the theory
//! it checks and the tolerance it allows.

use super::*;
use crate::sim::engine::Simulation;
use crate::sim::report::Report;
use crate::sim::scenarios::test_support::{self as support, metric, rel_err};

fn cfg(pairs: &[(&str, &str)]) -> BackpressureConfig {
    support::cfg(pairs)
}

fn run(c: &BackpressureConfig, seed: u64) -> Report {
    support::run(c, seed)
}

#[test]
fn unbounded_buffers_grow_at_rate_in_minus_rate_out_times_size() {
    // Theory (fluid model): a slow consumer receives 1,000 msg/s and reads 500
    // msg/s, so its buffer grows by (1000 - 500) x 1,024 bytes = 512,000 bytes/s,
    // and k slow consumers hold k times that: after 60 s, k x 30,720,000 bytes.
    // Reads take uniform [1, 3] ms (mean 2 ms, sd 0.58 ms); the count of 30,000
    // reads then varies by about 0.29 x sqrt(30,000) = 50 messages, 0.2 % of
    // the backlog: allow 1 %.
    for k in [1.0, 3.0] {
        let c = cfg(&[("slow-consumers", &k.to_string()), ("policy", "unbounded")]);
        let r = run(&c, 7);
        let want = k * 512_000.0 * 60.0;
        assert_eq!(metric(&r, "fluid_growth_bytes_per_s"), k * 512_000.0);
        let got = metric(&r, "final_buffered_bytes");
        assert!(rel_err(got, want) < 0.01, "k = {k}: {got} vs {want}");
        // The buffer only grows, so the peak is (within one message per
        // consumer) the final value.
        let peak = metric(&r, "peak_buffered_bytes");
        assert!(
            peak >= got && peak - got <= k * 2.0 * 1024.0,
            "{peak} {got}"
        );
        // Halfway through, the series shows half the backlog (within 2 %).
        let series = r.series("buffered_bytes").expect("series");
        let at = (30.0 / r.series_interval_s) as usize;
        let mid = series.values[at];
        assert!(rel_err(mid, want / 2.0) < 0.02, "at 30 s: {mid}");
        assert_eq!(metric(&r, "dropped"), 0.0);
    }
}

#[test]
fn fast_consumers_never_queue_and_see_only_their_read_time() {
    // Theory: a fast consumer reads in uniform [0.5, 1.5] / 2,000 s = [0.25,
    // 0.75] ms, always less than the 1 ms between messages, so it never has a
    // message waiting: its latency is its read time, mean 0.5 ms and 99th
    // percentile 0.25 + 0.99 x 0.5 = 0.745 ms, whatever the slow consumer does
    // (isolation). Over 540,000 reads the sampling error is < 0.1 %, the
    // histogram's precision 0.1 %: allow 0.5 %.
    for policy in BufferPolicy::ALL {
        if policy == BufferPolicy::Throttle {
            continue; // throttling slows the producer; latency stays, rate drops
        }
        let r = run(&cfg(&[("policy", policy.as_str())]), 3);
        let p99 = metric(&r, "fast_latency_p99_ms");
        let mean = metric(&r, "fast_latency_mean_ms");
        assert!(rel_err(p99, 0.745) < 0.005, "{policy:?}: p99 {p99}");
        assert!(rel_err(mean, 0.5) < 0.005, "{policy:?}: mean {mean}");
    }
}

#[test]
fn bounded_buffers_cap_memory_and_set_the_latency() {
    // Theory: a 1 MiB limit holds 1,024 messages of 1 KiB. Once full (after
    // 1,024 / 500 = 2.05 s), the slow consumer's buffer stays full: peak memory is
    // exactly 1 MiB and everything beyond 500 msg/s is dropped, about
    // 60,000 - 30,000 - 1,024 = 28,976 messages (1 %: read-count noise as
    // above).
    //
    // drop-newest: a message that gets in waits behind 1,023 others, each read
    // in 2 ms on average, then is read itself: latency about 1,024 x 2 ms =
    // 2.05 s. drop-oldest: the head of the queue leaves at the arrival rate
    // (500 reads plus 500 drops per second), so a message reaches it after
    // 1,024 / 1,000 s = 1.02 s and is then read in 2 ms: about 1.03 s. Fresher
    // data for the same memory. These are steady-state values; a 300 s run
    // (one slow, one fast consumer) keeps the 2 s warm-up under 0.5 % of the
    // mean. Allow 2 % on the mean and 3 % on the p99 (a sum of ~1,000 reads
    // spreads by ~1 %).
    for (policy, want_s) in [("drop-newest", 2.048), ("drop-oldest", 1.026)] {
        let long = [("consumers", "2"), ("policy", policy), ("horizon", "300")];
        let r = run(&cfg(&long), 5);
        let mean_s = metric(&r, "slow_latency_mean_ms") / 1e3;
        assert!(rel_err(mean_s, want_s) < 0.02, "{policy}: mean {mean_s} s");
        let p99_s = metric(&r, "slow_latency_p99_ms") / 1e3;
        assert!(
            p99_s >= mean_s && rel_err(p99_s, want_s) < 0.03,
            "{policy}: p99 {p99_s} s"
        );

        let r = run(&cfg(&[("policy", policy)]), 5);
        assert_eq!(metric(&r, "peak_buffered_bytes"), 1_048_576.0, "{policy}");
        let dropped = metric(&r, "dropped");
        assert!(
            rel_err(dropped, 28_976.0) < 0.01,
            "{policy}: dropped {dropped}"
        );
        assert_eq!(metric(&r, "disconnects"), 0.0);
    }
}

#[test]
fn disconnect_closes_each_slow_consumer_when_its_buffer_fills() {
    // Theory: the buffer fills at 500 msg/s, so 1,024 waiting messages are
    // reached at 1,024 / 500 = 2.05 s; the next message does not fit and the
    // connection is closed. Every slow consumer goes (exactly k disconnects),
    // no fast one does, and nothing stays buffered. Read noise over ~1,000 reads
    // moves the time by about 1 %: allow 3 %.
    for k in [1u32, 4] {
        let r = run(
            &cfg(&[("policy", "disconnect"), ("slow-consumers", &k.to_string())]),
            9,
        );
        assert_eq!(metric(&r, "disconnects"), f64::from(k));
        let t = metric(&r, "first_disconnect_s");
        assert!(rel_err(t, 2.05) < 0.03, "first disconnect at {t} s");
        assert_eq!(metric(&r, "final_buffered_bytes"), 0.0);
        // Each buffer peaks at the limit just before its connection closes; they
        // close at slightly different times, so the total peaks a little below
        // k x 1 MiB (exactly 1 MiB for k = 1).
        let peak = metric(&r, "peak_buffered_bytes");
        assert!(peak <= f64::from(k) * 1_048_576.0 && peak > f64::from(k - 1) * 1_048_576.0);
        if k == 1 {
            assert_eq!(peak, 1_048_576.0);
        }
        let open = r.series("connected_consumers").expect("series");
        assert_eq!(open.values.last().copied(), Some(10.0 - f64::from(k)));
    }
}

#[test]
fn throttle_loses_nothing_and_paces_everyone_to_the_slowest() {
    // Theory: the slow consumer's buffer fills at 1,000 - 500 msg/s, holding
    // 1,024 messages after 2.048 s (2,048 produced); from then on the producer
    // waits whenever it is full, so it emits at the slow reader's 500 msg/s:
    // 2,048 + 500 x 57.952 = 31,024 messages instead of 60,000 (allow 2 %).
    // Nothing is dropped and memory stays at the limit.
    let r = run(&cfg(&[("policy", "throttle")]), 4);
    assert_eq!(metric(&r, "dropped"), 0.0);
    assert_eq!(metric(&r, "disconnects"), 0.0);
    assert!(metric(&r, "peak_buffered_bytes") <= 1_048_576.0);
    let produced = metric(&r, "produced");
    let want = 2_048.0 + 500.0 * (60.0 - 2.048);
    assert!(
        rel_err(produced, want) < 0.02,
        "produced {produced}, want {want}"
    );
    assert!(rel_err(metric(&r, "throughput_per_s"), produced / 60.0) < 1e-12);
    // Fast consumers still read each message in their own read time.
    assert!(metric(&r, "fast_latency_p99_ms") < 0.75);
}

/// Runs to the end and checks every message is delivered, dropped, waiting or
/// being read, per connection.
fn check_conservation(c: &BackpressureConfig, seed: u64) {
    let mut sim = Simulation::new(Backpressure::new(c.clone()).expect("valid"), seed);
    while sim.step() {}
    let m = sim.scenario();
    let mut offered = 0;
    for (i, cons) in m.consumers.iter().enumerate() {
        let reading = u64::from(cons.reading.is_some());
        assert_eq!(
            cons.offered,
            cons.delivered + cons.dropped + cons.waiting + reading,
            "{c:?}: consumer {i}"
        );
        let run_total: u64 = cons.runs.iter().map(|r| u64::from(r.1)).sum();
        assert_eq!(run_total, cons.waiting);
        if cons.connected {
            // An open connection was offered every message.
            assert_eq!(cons.offered, m.produced);
        }
        offered += cons.offered;
    }
    let delivered: u64 = m.consumers.iter().map(|c| c.delivered).sum();
    let dropped: u64 = m.consumers.iter().map(|c| c.dropped).sum();
    let waiting: u64 = m.consumers.iter().map(|c| c.waiting).sum();
    let reading = m.consumers.iter().filter(|c| c.reading.is_some()).count() as u64;
    assert_eq!(offered, delivered + dropped + waiting + reading);
    assert_eq!(
        (delivered, dropped, waiting),
        (m.delivered, m.dropped, m.total_waiting)
    );
    let produced = m.produced;
    let r = Report::from_outcome(&sim.finish());
    assert_eq!(metric(&r, "produced"), produced as f64);
    assert_eq!(metric(&r, "delivered"), delivered as f64);
    assert_eq!(metric(&r, "dropped"), dropped as f64);
    assert_eq!(
        metric(&r, "final_buffered_bytes"),
        (waiting * c.message_size) as f64
    );
    // The rate series integrate to the counters.
    let iv = r.series_interval_s;
    let total = |name: &str| {
        r.series(name)
            .map(|s| s.values.iter().sum::<f64>() * iv)
            .unwrap_or_default()
    };
    for (name, want) in [
        ("produced_per_s", produced),
        ("delivered_per_s", delivered),
        ("dropped_per_s", dropped),
    ] {
        let got = total(name);
        assert!(
            (got - want as f64).abs() <= 1e-6 * (want as f64).max(1.0),
            "{name}: {got} vs {want}"
        );
    }
}

#[test]
fn every_message_is_delivered_dropped_or_still_buffered() {
    // Exact: for every connection, messages offered = delivered + dropped +
    // waiting + being read; totals and series agree with the counters.
    for policy in BufferPolicy::ALL {
        for (slow, limit) in [("1", "1MiB"), ("3", "5000"), ("10", "1KiB")] {
            let c = cfg(&[
                ("policy", policy.as_str()),
                ("slow-consumers", slow),
                ("buffer-limit", limit),
                ("horizon", "20"),
            ]);
            check_conservation(&c, 1);
        }
    }
}

#[test]
fn same_seed_same_json_and_different_seed_differs() {
    // Theory: a run is a pure function of (parameters, seed); the seed draws
    // every read time.
    for policy in ["unbounded", "drop-oldest", "throttle"] {
        let c = cfg(&[("policy", policy), ("horizon", "10")]);
        let a = run(&c, 7).without_wall_time().to_json().expect("json");
        let b = run(&c, 7).without_wall_time().to_json().expect("json");
        let d = run(&c, 8).without_wall_time().to_json().expect("json");
        assert_eq!(a, b, "{policy}");
        assert_ne!(a, d, "{policy}");
    }
}

#[test]
fn the_report_carries_the_registered_metrics_and_series() {
    let r = run(&cfg(&[("horizon", "2")]), 1);
    let names: Vec<&str> = r.metrics.iter().map(|m| m.name.as_str()).collect();
    let want: Vec<&str> = METRICS.iter().map(|m| m.name).collect();
    assert_eq!(names, want);
    let series: Vec<&str> = r.series.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(series, SERIES);
    assert!(r.metric_value("first_disconnect_s").is_none());
    // With no fast consumer the fast latency is undefined, not zero.
    let r = run(&cfg(&[("horizon", "2"), ("slow-consumers", "10")]), 1);
    assert!(r.metric_value("fast_latency_p99_ms").is_none());
}

#[test]
fn bad_parameters_give_clear_errors() {
    let err = |pairs: &[(&str, &str)]| -> SimError {
        let mut c = BackpressureConfig::default();
        for (k, v) in pairs {
            if let Err(e) = ScenarioSpec::set(&mut c, k, v) {
                return e;
            }
        }
        c.validate().expect_err("should be invalid")
    };
    let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (vec![("consumers", "0")], "--consumers"),
        (
            vec![("slow-consumers", "11")],
            "--slow-consumers 11 is too large",
        ),
        (vec![("slow-consumers", "-1")], "--slow-consumers"),
        (vec![("rate", "0")], "--rate"),
        (vec![("rate", "fast")], "--rate"),
        (vec![("slow-rate", "-5")], "--slow-rate"),
        (vec![("fast-rate", "NaN")], "--fast-rate"),
        (vec![("message-size", "0")], "--message-size"),
        (vec![("message-size", "1 parsec")], "--message-size"),
        (
            vec![("policy", "drop-oldest"), ("buffer-limit", "100")],
            "--buffer-limit 100 is too small",
        ),
        (vec![("policy", "sometimes")], "--policy"),
        (vec![("rate", "1e9"), ("horizon", "100")], "--rate"),
        (vec![("horizon", "0")], "--horizon"),
        (vec![("colour", "red")], "known parameters"),
    ];
    for (pairs, needle) in cases {
        let msg = err(&pairs).to_string();
        assert!(msg.contains(needle), "{pairs:?}: {msg}");
        assert!(!msg.contains('\n'), "{msg}");
    }
    // The limit does not matter to an unbounded buffer.
    assert!(
        cfg(&[("policy", "unbounded"), ("buffer-limit", "1")])
            .validate()
            .is_ok()
    );
}

#[test]
fn sizes_accept_units() {
    assert_eq!(parse_bytes("1024"), Some(1024));
    assert_eq!(parse_bytes("64KiB"), Some(65_536));
    assert_eq!(parse_bytes("64k"), Some(65_536));
    assert_eq!(parse_bytes("1MiB"), Some(1_048_576));
    assert_eq!(parse_bytes("1.5MB"), Some(1_500_000));
    assert_eq!(parse_bytes("2 GiB"), Some(2 << 30));
    assert_eq!(parse_bytes("1e3"), Some(1000));
    assert_eq!(parse_bytes("0.5"), None);
    assert_eq!(parse_bytes("lots"), None);
    let c = cfg(&[("buffer", "64KiB"), ("size", "512")]);
    assert_eq!(c.get("buffer_limit").as_deref(), Some("65536"));
    assert_eq!(c.get("message_size").as_deref(), Some("512"));
    for p in BufferPolicy::ALL {
        assert_eq!(BufferPolicy::parse(p.as_str()), Some(p));
    }
}

//! Tests of the racer model against polling theory, byte accounting and
//! conservation. Each test states the theory it checks and the tolerance it allows.

use super::*;
use crate::sim::engine::Simulation;
use crate::sim::report::Report;
use crate::sim::scenarios::test_support::{self as support, metric, rel_err};

fn cfg(pairs: &[(&str, &str)]) -> RacerConfig {
    support::cfg(pairs)
}

fn run(c: &RacerConfig, seed: u64) -> Report {
    support::run(c, seed)
}

#[test]
fn short_polling_waits_half_an_interval_on_average() {
    // Theory: an event published at a uniform time waits for the client's next
    // poll, uniform in [0, I): mean I/2, 99th percentile 0.99 I, plus the
    // one-way trip rtt/2. 100,000 clients on 5,000 timer phases and 200 events:
    // the mean over clients of a uniform wait has a standard error below
    // I / sqrt(12 x 100,000) = 0.09 % of I (and averaging over events shrinks
    // it further); allow 1 % of I/2 on the mean and 1 % of I on the p99.
    for (interval, rtt_ms) in [(5.0, 0.0), (10.0, 0.0), (2.0, 100.0)] {
        let c = cfg(&[
            ("clients", "100000"),
            ("interval", &interval.to_string()),
            ("rtt-ms", &rtt_ms.to_string()),
            ("event-rate", "0.5"),
            ("duration", "400"),
        ]);
        let r = run(&c, 7);
        let one_way_ms = rtt_ms / 2.0;
        let mean = metric(&r, "short_poll_latency_mean_ms");
        let want = interval * 1e3 / 2.0 + one_way_ms;
        assert!(
            (mean - want).abs() < 0.01 * interval * 1e3 / 2.0,
            "I {interval}: mean {mean} ms, theory {want} ms"
        );
        let p99 = metric(&r, "short_poll_latency_p99_ms");
        let want99 = 0.99 * interval * 1e3 + one_way_ms;
        assert!(
            (p99 - want99).abs() < 0.01 * interval * 1e3,
            "I {interval}: p99 {p99} ms, theory {want99} ms"
        );
    }
}

#[test]
fn short_polling_costs_n_over_interval_requests_per_second() {
    // Theory: each client polls once per interval, so requests/s = N / I and a
    // client makes 86,400 / I requests a day. Over a window that is a whole
    // number of intervals every client polls exactly duration / I times whatever
    // its phase, so the equality is exact (float rounding only), events or not.
    for (clients, interval, rate) in [(10_000u64, 5.0, 0.2), (3_000, 10.0, 0.0), (777, 0.5, 3.0)] {
        let c = cfg(&[
            ("clients", &clients.to_string()),
            ("interval", &interval.to_string()),
            ("event-rate", &rate.to_string()),
            ("duration", "600"),
        ]);
        let r = run(&c, 3);
        let rps = metric(&r, "short_poll_requests_per_s");
        let want = clients as f64 / interval;
        assert!(rel_err(rps, want) < 1e-12, "{rps} vs {want}");
        let per_client_per_day = rps / clients as f64 * 86_400.0;
        assert!(rel_err(per_client_per_day, 86_400.0 / interval) < 1e-12);
        // Little's law: each poll is outstanding for one round trip (100 ms).
        let open = metric(&r, "short_poll_open_connections");
        assert!(rel_err(open, want * 0.1) < 1e-12, "{open}");
    }
}

#[test]
fn short_polling_mostly_returns_nothing_when_events_are_rare() {
    // Theory: a poll window of length I holds no event with probability
    // exp(-rate x I) for Poisson events: rate 0.2/s, I = 5 s gives e^-1 = 0.368.
    // 36,000 s hold 7,200 windows per client, so the empty fraction's standard
    // error is below sqrt(0.368 x 0.632 / 7,200) = 0.0057; allow 0.03 (> 5 se).
    let c = cfg(&[
        ("clients", "100"),
        ("event-rate", "0.2"),
        ("interval", "5"),
        ("duration", "36000"),
    ]);
    let r = run(&c, 5);
    let requests = metric(&r, "short_poll_requests_per_s") * 36_000.0;
    let empty = metric(&r, "short_poll_empty_responses") / requests;
    assert!((empty - (-1.0f64).exp()).abs() < 0.03, "{empty}");
}

#[test]
fn idle_long_polling_costs_n_over_hold_requests_per_second() {
    // Theory: with no events every held request times out after H and the
    // client asks again one round trip later, so requests/s = N / (H + rtt) and
    // every response is empty. With rtt = 0 and a window of whole holds each
    // client makes exactly duration / H requests: exact. With rtt = 1 s the
    // cycles drift against the window edges by at most one request per client:
    // allow 1 / (duration / (H + rtt)) = 3.3 % relative.
    let c = cfg(&[
        ("clients", "20000"),
        ("event-rate", "0"),
        ("hold", "30"),
        ("rtt-ms", "0"),
        ("duration", "600"),
    ]);
    let r = run(&c, 1);
    let rps = metric(&r, "long_poll_requests_per_s");
    assert!(rel_err(rps, 20_000.0 / 30.0) < 1e-12, "{rps}");
    assert_eq!(metric(&r, "long_poll_empty_responses"), 20_000.0 * 20.0);
    assert!(r.metric_value("long_poll_latency_mean_ms").is_none());
    assert_eq!(metric(&r, "events"), 0.0);

    let c = cfg(&[
        ("clients", "20000"),
        ("event-rate", "0"),
        ("hold", "29"),
        ("rtt-ms", "1000"),
        ("duration", "600"),
    ]);
    let rps = metric(&run(&c, 1), "long_poll_requests_per_s");
    assert!(rel_err(rps, 20_000.0 / 30.0) < 0.034, "{rps}");
}

#[test]
fn long_polling_delays_an_event_by_at_most_one_extra_round_trip() {
    // Theory: a held request is answered the instant an event arrives (latency
    // rtt/2). An event that lands while the client's next request is still on
    // its way waits for it: at most one round trip more. So every long-polling
    // latency lies in [rtt/2, 3 rtt/2] (exact, integer nanoseconds), and when
    // events are rare the mean stays close to rtt/2.
    let c = cfg(&[("clients", "50000"), ("event-rate", "2"), ("rtt-ms", "100")]);
    let racer = Racer::new(c).expect("valid");
    let mut sim = Simulation::new(racer, 9);
    while sim.step() {}
    let lp_min = sim.scenario().tally[LP].min_latency;
    let r = Report::from_outcome(&sim.finish());
    assert_eq!(lp_min, 50_000_000);
    let max = r
        .metric_value("long_poll_latency_p99_ms")
        .unwrap_or(f64::MAX);
    assert!(max <= 150.0, "{max}");
    let mean = metric(&r, "long_poll_latency_mean_ms");
    // P(an event lands in a 100 ms gap) ~ rate x rtt = 0.2, waiting 50 ms on
    // average there: mean ~ 50 + 0.2 x 50 = 60 ms; allow 50 to 70.
    assert!((50.0..70.0).contains(&mean), "{mean}");
}

#[test]
fn long_polling_makes_one_request_per_event_or_per_hold() {
    // Theory: a long poll ends at the next event or after the hold H, whichever
    // comes first, and the next one starts a round trip later. For Poisson
    // events of rate l the cycle lasts E[min(Exp(l), H)] + rtt =
    // (1 - e^(-l H)) / l + rtt, so requests/s = N / that: 0.1/s, H = 30 s,
    // rtt 0.1 s gives a cycle of 9.602 s. 100 h of events hold about 37,000
    // cycles, whose mean has a standard error below 10 s / sqrt(37,000) = 0.5 %;
    // allow 3 %. When events come once per interval, long polling costs as
    // many requests as short polling: it only saves when events are rarer.
    let c = cfg(&[
        ("clients", "10"),
        ("event-rate", "0.1"),
        ("hold", "30"),
        ("interval", "60"),
        ("duration", "360000"),
    ]);
    let r = run(&c, 8);
    let cycle = (1.0 - (-3.0f64).exp()) / 0.1 + 0.1;
    let rps = metric(&r, "long_poll_requests_per_s");
    assert!(
        rel_err(rps, 10.0 / cycle) < 0.03,
        "{rps} vs {}",
        10.0 / cycle
    );
    // Timeouts: a fraction e^(-l H) = e^-3 = 5 % of cycles end empty (allow 1 %).
    let empty = metric(&r, "long_poll_empty_responses") / (rps * 360_000.0);
    assert!((empty - (-3.0f64).exp()).abs() < 0.01, "{empty}");
}

#[test]
fn long_polling_under_a_fast_feed_becomes_polling_every_round_trip() {
    // Theory: with events far more frequent than one per round trip, every new
    // request finds events waiting and is answered at once, so each client makes
    // one request per rtt: requests/s -> N / rtt (here 1,000 x 10/s = 10,000/s).
    // The start-up (phases still spread) lasts about one round trip; allow 1 %.
    let c = cfg(&[
        ("clients", "1000"),
        ("event-rate", "200"),
        ("rtt-ms", "100"),
        ("duration", "60"),
    ]);
    let r = run(&c, 2);
    let rps = metric(&r, "long_poll_requests_per_s");
    assert!(rel_err(rps, 10_000.0) < 0.01, "{rps}");
    assert_eq!(metric(&r, "long_poll_empty_responses"), 0.0);
}

#[test]
fn streams_deliver_in_one_way_time_with_small_frames() {
    // Theory: SSE and WebSocket write each event to every open stream at once:
    // latency rtt/2 exactly, no requests, N connections; bytes/s = N x events/s
    // x frame bytes, with a 100-byte payload framed as 100 + 2 (WebSocket) and
    // 100 + 8 + 2 + 4 = 114 (SSE in an HTTP/1.1 chunk of 0x6c bytes). Exact.
    let c = cfg(&[
        ("clients", "10000"),
        ("event-rate", "0.2"),
        ("duration", "600"),
    ]);
    let r = run(&c, 4);
    let events = metric(&r, "events");
    assert_eq!(events, 120.0);
    for (proto, frame) in [("sse", 114.0), ("websocket", 102.0)] {
        assert_eq!(metric(&r, &format!("{proto}_latency_mean_ms")), 50.0);
        assert_eq!(metric(&r, &format!("{proto}_latency_p99_ms")), 50.0);
        assert_eq!(metric(&r, &format!("{proto}_requests_per_s")), 0.0);
        assert_eq!(metric(&r, &format!("{proto}_open_connections")), 10_000.0);
        let want = 10_000.0 * events * frame / 600.0;
        let got = metric(&r, &format!("{proto}_bytes_per_s"));
        assert!(rel_err(got, want) < 1e-12, "{proto}: {got} vs {want}");
    }
    assert_eq!(ws_header_bytes(125), 2);
    assert_eq!(ws_header_bytes(126), 4);
    assert_eq!(ws_header_bytes(70_000), 10);
    assert_eq!(sse_event_bytes(100), 114);
    assert_eq!(sse_event_bytes(8), 16 + 2 + 4);
}

#[test]
fn every_event_reaches_every_client_once_by_every_protocol() {
    // Conservation: deliveries = clients x events for each protocol, in every
    // regime (rare and frequent events, tiny and huge intervals, zero rtt);
    // payload bytes never exceed total bytes; nothing is left in the queue that
    // could still deliver.
    let cases: Vec<Vec<(&str, &str)>> = vec![
        vec![("clients", "5000")],
        vec![("clients", "300"), ("event-rate", "20"), ("duration", "30")],
        vec![("clients", "1000"), ("interval", "0.5"), ("hold", "1")],
        vec![("clients", "100"), ("interval", "600"), ("rtt-ms", "0")],
        vec![("clients", "2000"), ("hold", "0.05"), ("rtt-ms", "300")],
        vec![("clients", "1"), ("event-rate", "1000"), ("duration", "10")],
    ];
    for pairs in cases {
        let c = cfg(&pairs);
        let racer = Racer::new(c).expect("valid");
        let want = racer.params().clients * racer.params().events;
        let r = Report::from_outcome(&Simulation::new(racer, 6).run());
        for proto in PROTOCOLS {
            let got = metric(&r, &format!("{proto}_delivered"));
            assert_eq!(got, want as f64, "{pairs:?}: {proto}");
            let overhead = r.metric_value(&format!("{proto}_overhead_fraction"));
            assert!(
                overhead.is_none_or(|f| (0.0..=1.0).contains(&f)),
                "{overhead:?}"
            );
        }
        assert!(r.end_s >= 600.0_f64.min(r.end_s));
    }
}

#[test]
fn the_race_orders_the_protocols_as_interviewers_expect() {
    // Defaults (10,000 clients, an event every 10 s on average, 5 s polls): the
    // streams are fastest and cheapest, short polling is the slowest and costs the
    // most requests and bytes, long polling sits in between, and more than half
    // of short polls come back empty (theory: e^-0.5 = 61 %).
    let r = run(&RacerConfig::default(), 7);
    let m = |n: &str| metric(&r, n);
    assert!(m("websocket_bytes_per_s") < m("sse_bytes_per_s"));
    assert!(m("sse_bytes_per_s") < m("long_poll_bytes_per_s"));
    assert!(m("long_poll_bytes_per_s") < m("short_poll_bytes_per_s"));
    assert!(m("websocket_latency_mean_ms") < m("long_poll_latency_mean_ms"));
    assert!(m("long_poll_latency_mean_ms") < m("short_poll_latency_mean_ms"));
    assert!(m("long_poll_requests_per_s") < m("short_poll_requests_per_s"));
    let polls = m("short_poll_requests_per_s") * 600.0;
    assert!(m("short_poll_empty_responses") > 0.5 * polls);
    assert!(m("short_poll_overhead_fraction") > 0.8);
    assert!(m("websocket_overhead_fraction") < 0.02);
}

#[test]
fn a_million_clients_cost_no_more_than_their_timer_groups() {
    // The grouping makes work independent of N beyond the phase draws: a
    // million clients run as at most 5,000 + 30,000 groups at the defaults.
    let c = cfg(&[("clients", "1000000")]);
    let racer = Racer::new(c).expect("valid");
    assert_eq!(racer.params().sp_groups, 5_000);
    assert_eq!(racer.params().lp_groups, 30_000);
    let r = run(&cfg(&[("clients", "1000000")]), 7);
    assert_eq!(
        metric(&r, "websocket_delivered"),
        1_000_000.0 * metric(&r, "events")
    );
    assert!(r.events_processed < 1_000_000, "{}", r.events_processed);
}

#[test]
fn same_seed_same_json_and_different_seed_differs() {
    // A run is a pure function of (parameters, seed).
    let c = cfg(&[("clients", "3000"), ("event-rate", "1")]);
    let a = run(&c, 7).without_wall_time().to_json().expect("json");
    let b = run(&c, 7).without_wall_time().to_json().expect("json");
    let d = run(&c, 8).without_wall_time().to_json().expect("json");
    assert_eq!(a, b);
    assert_ne!(a, d);
}

#[test]
fn report_carries_the_registered_metrics_and_series_in_order() {
    let r = run(&cfg(&[("clients", "100")]), 1);
    let names: Vec<&str> = r.metrics.iter().map(|m| m.name.as_str()).collect();
    let want: Vec<&str> = METRICS.iter().map(|m| m.name).collect();
    assert_eq!(names, want);
    for proto in PROTOCOLS {
        for suffix in [
            "requests_per_s",
            "bytes_per_s",
            "empty_responses",
            "latency_mean_ms",
            "latency_p99_ms",
            "open_connections",
        ] {
            let name = format!("{proto}_{suffix}");
            assert!(names.contains(&name.as_str()), "{name}");
        }
    }
    let series: Vec<&str> = r.series.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(series, SERIES);
    assert!(r.points() <= 2_000);
}

#[test]
fn bad_parameters_give_the_right_errors() {
    let err = |pairs: &[(&str, &str)]| -> SimError {
        let mut c = RacerConfig::default();
        for (k, v) in pairs {
            if let Err(e) = c.set(k, v) {
                return e;
            }
        }
        c.validate().expect_err("should be invalid")
    };
    let cases: &[(&[(&str, &str)], &str)] = &[
        (&[("clients", "0")], "--clients"),
        (&[("clients", "1e9")], "--clients"),
        (&[("event-rate", "-1")], "--event-rate"),
        (&[("event-rate", "often")], "--event-rate"),
        (&[("event-rate", "inf")], "--event-rate"),
        (&[("event-rate", "100000")], "--event-rate"),
        (&[("event-rate", "1000")], "--event-rate"),
        (&[("interval", "0")], "--interval"),
        (&[("hold", "-3")], "--hold"),
        (&[("rtt-ms", "-1")], "--rtt-ms"),
        (&[("duration", "1e9")], "--duration"),
        (&[("interval", "0.000001")], "--duration"),
        (&[("duration", "1e7")], "--event-rate"),
        (&[("event-bytes", "-5")], "--event-bytes"),
        (&[("request-bytes", "lots")], "--request-bytes"),
        (&[("colour", "red")], "colour"),
    ];
    for (pairs, needle) in cases {
        let msg = err(pairs).to_string();
        assert!(msg.contains(needle), "{pairs:?}: {msg}");
        assert!(!msg.contains('\n'), "{pairs:?}: {msg}");
    }
    let p = RacerConfig::default().validate().expect("valid");
    assert!(p.check_memory(Some(1 << 30)).is_ok());
    assert!(p.check_memory(Some(1 << 20)).is_err());
}

#[test]
fn values_accept_units_and_aliases() {
    let c = cfg(&[
        ("--interval", "500ms"),
        ("timeout", "1min"),
        ("rtt", "0.2s"),
        ("rate", "5/s"),
        ("payload", "64"),
        ("clients", "1_000"),
    ]);
    assert_eq!(c.interval_s, 0.5);
    assert_eq!(c.hold_s, 60.0);
    assert!((c.rtt_ms - 200.0).abs() < 1e-9);
    assert_eq!(c.event_rate, 5.0);
    assert_eq!(c.event_bytes, 64);
    assert_eq!(c.clients, 1000);
    assert_eq!(c.get("rtt_ms").as_deref(), Some("200"));
}

#[test]
fn predict_items_teach_what_the_model_shows() {
    // Every embedded predict item on this scenario runs, and the value its
    // explanation teaches is within the item's own tolerance of the result.
    support::check_taught_predictions(
        NAME,
        &[
            ("short-polling-predict-mean-latency", 5000.0),
            ("choosing-a-transport-predict-idle-long-poll", 997.0),
            ("choosing-a-transport-predict-long-poll-busy", 2000.0),
            ("choosing-a-transport-predict-websocket-bytes", 1_020_000.0),
        ],
    );
}

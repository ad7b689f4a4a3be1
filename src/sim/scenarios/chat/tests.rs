//! Tests of the chat model against sampling and queueing theory, and exact
//! conservation of recipients. Each test states the theory it checks and the
//! tolerance it allows.

use super::*;
use crate::sim::engine::Simulation;
use crate::sim::report::Report;
use crate::sim::scenarios::test_support::{self as support, metric, rel_err};

fn cfg(pairs: &[(&str, &str)]) -> ChatConfig {
    support::cfg(pairs)
}

fn run(c: &ChatConfig, seed: u64) -> Report {
    support::run(c, seed)
}

/// Runs to the end and returns the report and the finished model.
fn run_model(c: &ChatConfig, seed: u64) -> (Report, Chat) {
    let mut sim = Simulation::new(Chat::new(c.clone()).expect("valid config"), seed);
    while sim.step() {}
    let model = sim.scenario().clone();
    (Report::from_outcome(&sim.finish()), model)
}

#[test]
fn without_a_broker_only_same_server_members_receive() {
    // Theory: clients sit on servers in turn, so each of S servers has n = C/S
    // of the C = 100,000 clients; members are drawn without replacement, so
    // another member shares the sender's server with probability
    // (n - 1) / (C - 1): 9,999 / 99,999 = 0.09999 for S = 10 and 24,999 / 99,999
    // = 0.24999 for S = 4. That is the expected delivery ratio. Over 10,000
    // messages x 49 recipients the binomial standard error is below 0.001
    // (allowing for messages in the same room being correlated, below 0.002):
    // allow 0.008.
    for (servers, want) in [("10", 9_999.0 / 99_999.0), ("4", 24_999.0 / 99_999.0)] {
        let c = cfg(&[("servers", servers), ("broker", "none")]);
        let r = run(&c, 7);
        assert!((metric(&r, "expected_delivery_ratio") - want).abs() < 1e-12);
        let got = metric(&r, "delivery_ratio");
        assert!((got - want).abs() < 0.008, "S = {servers}: {got} vs {want}");
        assert_eq!(metric(&r, "broker_msgs_per_s"), 0.0);
        // Exact: every intended recipient was written to, is queued, or was
        // on another server.
        assert_eq!(
            metric(&r, "intended"),
            metric(&r, "delivered") + metric(&r, "in_flight_at_end") + metric(&r, "missed")
        );
        assert_eq!(metric(&r, "messages"), 10_000.0);
        assert_eq!(metric(&r, "intended"), 10_000.0 * 49.0);
    }
}

#[test]
fn with_pubsub_every_member_receives_and_the_broker_fans_out() {
    // Theory: the broker forwards to every other server with members, so every
    // member but the sender is reached: delivery ratio exactly 1 and
    // messages x (members - 1) writes, fan-out = rate x (K - 1) / S per server
    // (19,900/s for K = 200; only the writes of the last millisecond are still
    // in flight, 0.01 %: allow 0.1 %). With 200 members every one of 10
    // servers has a member (a server is empty with probability 0.9^200 =
    // 7e-10), so each message costs the broker 1 publish + 9 forwards: exactly
    // 10 x 1,000 msg/s.
    let c = cfg(&[("rooms", "100"), ("room-size", "200")]);
    let r = run(&c, 7);
    assert_eq!(metric(&r, "delivery_ratio"), 1.0);
    assert_eq!(metric(&r, "missed"), 0.0);
    assert_eq!(
        metric(&r, "delivered") + metric(&r, "in_flight_at_end"),
        10_000.0 * 199.0
    );
    let fanout = metric(&r, "fanout_writes_per_s");
    assert!(rel_err(fanout, 19_900.0) < 0.001, "{fanout}");
    assert_eq!(metric(&r, "broker_msgs_per_s"), 10_000.0);

    // With 50 members a server has none of a room's members with probability
    // prod_{j<50} (C - n - j) / (C - j) = 0.0051, so a room has on average
    // 10 x (1 - 0.0051) = 9.949 subscribed servers and a message costs the
    // broker that many messages (1 publish + the others). Over 10,000 messages
    // in 1,000 rooms the spread is well under 0.5 %: allow 1 %.
    let (c_total, n) = (100_000.0_f64, 10_000.0_f64);
    let empty: f64 = (0..50)
        .map(|j| (c_total - n - f64::from(j)) / (c_total - f64::from(j)))
        .product();
    let want = 1_000.0 * 10.0 * (1.0 - empty);
    let r = run(&cfg(&[]), 7);
    let got = metric(&r, "broker_msgs_per_s");
    assert!(rel_err(got, want) < 0.01, "{got} vs {want}");
}

#[test]
fn light_load_latency_is_the_broker_hop_plus_the_write() {
    // Theory: with two members per room there is one recipient. It shares the
    // sender's server with probability p = 9,999 / 99,999 and gets the message
    // after one 5 us write; otherwise after the 1 ms broker hop and the write.
    // Servers are idle (0.05 % busy), so mean latency = 0.005 + 1 x (1 - p) =
    // 0.905 ms. The Bernoulli spread over 10,000 messages is 0.003 ms (0.3 %):
    // allow 2 %. Without a broker every delivered message took exactly 5 us.
    let c = cfg(&[("room-size", "2")]);
    let r = run(&c, 3);
    let p = 9_999.0 / 99_999.0;
    let want = 0.005 + (1.0 - p);
    let got = metric(&r, "latency_mean_ms");
    assert!(rel_err(got, want) < 0.02, "{got} vs {want}");
    assert!(rel_err(metric(&r, "latency_p99_ms"), 1.005) < 0.002);

    let r = run(&cfg(&[("room-size", "2"), ("broker", "none")]), 3);
    assert!(rel_err(metric(&r, "latency_mean_ms"), 0.005) < 1e-9);
    assert!(rel_err(metric(&r, "latency_max_ms"), 0.005) < 1e-9);
}

#[test]
fn a_large_room_pays_for_its_fan_out() {
    // Theory: one room of 10,000 members on 10 servers has c_s ~ 1,000 members
    // on each. A message keeps each server writing for c_s x 5 us ~ 5 ms, and
    // the k-th local recipient waits k x 5 us (plus the 1 ms hop on the other
    // servers). At 10 msg/s the servers are idle between messages, so for a
    // sender on server o the mean latency is
    //   [w m_o (m_o + 1) / 2 + sum_{s != o} (c_s hop + w c_s (c_s + 1) / 2)] / (K - 1)
    // with m_o = c_o - 1, averaged over o with weight c_o / K: about
    // 0.9 + 2.5 = 3.4 ms. Over 100 messages the spread from which server
    // posts is under 0.3 %: allow 1 %.
    let c = cfg(&[("rooms", "1"), ("room-size", "10000"), ("rate", "10")]);
    let (r, model) = run_model(&c, 11);
    let (w, hop, k) = (0.005, 1.0, 10_000.0);
    let servers = model.servers_of(0).to_vec();
    let expected: f64 = servers
        .iter()
        .map(|&(o, c_o)| {
            let sum: f64 = servers
                .iter()
                .map(|&(s, c_s)| {
                    let c_s = f64::from(c_s);
                    if s == o {
                        let m = c_s - 1.0;
                        w * m * (m + 1.0) / 2.0
                    } else {
                        c_s * hop + w * c_s * (c_s + 1.0) / 2.0
                    }
                })
                .sum();
            f64::from(c_o) / k * sum / (k - 1.0)
        })
        .sum();
    let got = metric(&r, "latency_mean_ms");
    assert!(rel_err(got, expected) < 0.01, "{got} vs {expected}");
    // The slowest recipients wait for a whole server's batch: p99 lies between
    // the hop plus 90 % of the average batch and the hop plus the largest batch.
    let largest = servers
        .iter()
        .map(|&(_, n)| f64::from(n))
        .fold(0.0, f64::max);
    let p99 = metric(&r, "latency_p99_ms");
    assert!(
        p99 > hop + 0.9 * 1_000.0 * w && p99 <= hop + largest * w * 1.001,
        "{p99}"
    );
    // Each server does ~1,000 writes per message, 10 messages per second.
    let fanout = metric(&r, "fanout_writes_per_s");
    assert!(rel_err(fanout, 10.0 * 9_999.0 / 10.0) < 0.002, "{fanout}");
}

#[test]
fn an_overloaded_server_falls_behind_without_bound() {
    // Theory: each server must write rate x K / S x w = 150 x 1,000 x 10 us = 1.5
    // seconds of work per second (rho = 1.5). It can do only 1, so over 2 s it
    // completes 2 s / 10 us = 200,000 writes of ~300,000: a third,
    // (rho - 1) / rho, is still queued at the end, and the latency grows with
    // the run. Members per server vary by ~3 %, so allow 3 %.
    let c = cfg(&[
        ("rooms", "1"),
        ("room-size", "10000"),
        ("rate", "150"),
        ("write-us", "10"),
        ("horizon", "2"),
    ]);
    let r = run(&c, 5);
    let queued = metric(&r, "in_flight_at_end") / metric(&r, "intended");
    assert!(rel_err(queued, 1.0 / 3.0) < 0.03, "{queued}");
    assert!(metric(&r, "max_server_utilization") > 0.999);
    // The last messages wait behind about 0.5 s of backlog per second run.
    assert!(metric(&r, "latency_max_ms") > 500.0);
}

/// Checks the identities of one run.
fn check_conservation(c: &ChatConfig, seed: u64) {
    let (r, m) = run_model(c, seed);
    assert_eq!(m.intended, m.delivered + m.in_flight + m.missed, "{c:?}");
    assert_eq!(m.intended, m.messages * u64::from(m.p.room_size - 1));
    if m.p.broker == BrokerMode::PubSub {
        assert_eq!(m.missed, 0);
    } else {
        assert_eq!(m.broker_msgs, 0);
    }
    // Every room has exactly room_size members, indexed by server.
    for room in 0..m.p.rooms as usize {
        let total: u32 = m.servers_of(room).iter().map(|&(_, n)| n).sum();
        assert_eq!(total, m.p.room_size);
    }
    let iv = r.series_interval_s;
    let total = |name: &str| {
        r.series(name)
            .map(|s| s.values.iter().sum::<f64>() * iv)
            .unwrap_or_default()
    };
    for (name, want) in [
        ("deliveries_per_s", m.delivered),
        ("messages_per_s", m.messages),
        ("broker_msgs_per_s", m.broker_msgs),
    ] {
        let got = total(name);
        assert!(
            (got - want as f64).abs() <= 1e-6 * (want as f64).max(1.0),
            "{name}: {got} vs {want}"
        );
    }
    assert_eq!(metric(&r, "delivered"), m.delivered as f64);
}

#[test]
fn every_recipient_is_delivered_in_flight_or_missed() {
    // Exact bookkeeping in both modes, light and overloaded, with the horizon
    // cutting deliveries short.
    for broker in ["none", "pubsub"] {
        for extra in [
            vec![("rooms", "200"), ("room-size", "30"), ("horizon", "3")],
            vec![
                ("rooms", "2"),
                ("room-size", "5000"),
                ("rate", "300"),
                ("horizon", "1"),
            ],
            vec![
                ("servers", "7"),
                ("clients", "1000"),
                ("room-size", "1000"),
                ("rooms", "3"),
                ("horizon", "0.5"),
            ],
            vec![
                ("servers", "1"),
                ("room-size", "3"),
                ("hop-ms", "0"),
                ("write-us", "0"),
                ("horizon", "1"),
            ],
        ] {
            let mut pairs = vec![("broker", broker)];
            pairs.extend(extra);
            check_conservation(&cfg(&pairs), 2);
        }
    }
}

#[test]
fn same_seed_same_json_and_different_seed_differs() {
    // Theory: a run is a pure function of (parameters, seed); the seed draws the
    // rooms' members and every post's room and sender.
    for broker in ["none", "pubsub"] {
        let c = cfg(&[("broker", broker), ("horizon", "2")]);
        let a = run(&c, 7).without_wall_time().to_json().expect("json");
        let b = run(&c, 7).without_wall_time().to_json().expect("json");
        let d = run(&c, 8).without_wall_time().to_json().expect("json");
        assert_eq!(a, b, "{broker}");
        assert_ne!(a, d, "{broker}");
    }
}

#[test]
fn the_report_carries_the_registered_metrics_and_series() {
    let r = run(&cfg(&[("horizon", "1")]), 1);
    let names: Vec<&str> = r.metrics.iter().map(|m| m.name.as_str()).collect();
    let want: Vec<&str> = METRICS.iter().map(|m| m.name).collect();
    assert_eq!(names, want);
    let series: Vec<&str> = r.series.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(series, SERIES);
    assert!(METRICS.iter().all(|m| !m.unit.is_empty()));
}

#[test]
fn bad_parameters_give_clear_errors() {
    let err = |pairs: &[(&str, &str)]| -> SimError {
        let mut c = ChatConfig::default();
        for (k, v) in pairs {
            if let Err(e) = ScenarioSpec::set(&mut c, k, v) {
                return e;
            }
        }
        c.validate().expect_err("should be invalid")
    };
    let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (vec![("servers", "0")], "--servers"),
        (vec![("servers", "100000")], "--servers"),
        (vec![("clients", "0")], "--clients"),
        (vec![("room-size", "1")], "--room-size 1 is too small"),
        (
            vec![("room-size", "200000")],
            "--room-size 200000 is too large",
        ),
        (vec![("rooms", "100000"), ("room-size", "10000")], "--rooms"),
        (vec![("rate", "0")], "--rate"),
        (vec![("rate", "1e9"), ("horizon", "100")], "--rate"),
        (vec![("broker", "kafka")], "--broker"),
        (vec![("hop-ms", "-1")], "--hop-ms"),
        (vec![("write-us", "x")], "--write-us"),
        (vec![("horizon", "0")], "--horizon"),
        (vec![("colour", "red")], "known parameters"),
    ];
    for (pairs, needle) in cases {
        let msg = err(&pairs).to_string();
        assert!(msg.contains(needle), "{pairs:?}: {msg}");
        assert!(!msg.contains('\n'), "{msg}");
    }
}

#[test]
fn values_accept_units_and_aliases() {
    let c = cfg(&[
        ("broker", "redis"),
        ("hop", "2ms"),
        ("write", "1us"),
        ("members", "10_000"),
    ]);
    assert_eq!(c.broker, BrokerMode::PubSub);
    assert_eq!(c.hop_ms, 2.0);
    assert!((c.write_us - 1.0).abs() < 1e-9);
    assert_eq!(c.room_size, 10_000);
    assert_eq!(c.get("broker").as_deref(), Some("pubsub"));
    for b in BrokerMode::ALL {
        assert_eq!(BrokerMode::parse(b.as_str()), Some(b));
    }
    // Uneven spreads: 10 clients on 4 servers are 3, 3, 2, 2.
    let p = cfg(&[
        ("clients", "10"),
        ("servers", "4"),
        ("room-size", "2"),
        ("broker", "none"),
    ])
    .validate_params()
    .expect("valid");
    let counts: Vec<u64> = (0..4).map(|s| p.clients_on(s)).collect();
    assert_eq!(counts, [3, 3, 2, 2]);
    let want = (3.0 / 10.0 * 2.0 / 9.0) * 2.0 + (2.0 / 10.0 * 1.0 / 9.0) * 2.0;
    assert!((p.expected_delivery_ratio() - want).abs() < 1e-12);
}

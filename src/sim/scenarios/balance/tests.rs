//! Tests of the balance model against hashing and routing theory and its own
//! bookkeeping. Each test states the theory it checks and the tolerance it allows.

use super::*;
use crate::sim::engine::Simulation;
use crate::sim::report::Report;
use crate::sim::scenarios::test_support::{self as support, metric, rel_err};

fn cfg(pairs: &[(&str, &str)]) -> BalanceConfig {
    support::cfg(pairs)
}

fn run(c: &BalanceConfig, seed: u64) -> Report {
    support::run(c, seed)
}

#[test]
fn round_robin_misses_about_s_minus_1_over_s() {
    // Theory: between two connections of one client the balancer routes a
    // random number of other connections, so round-robin's pointer lands on any
    // of the S servers with probability 1/S and a reconnection finds its session
    // with probability 1/S: miss ratio (S - 1) / S. With 20,000 clients
    // reconnecting every 10 s on average for 60 s (~120,000 reconnections) the
    // binomial standard error is under 0.0015; allow 0.01.
    for (servers, want) in [("4", 0.75), ("10", 0.9)] {
        let c = cfg(&[
            ("clients", "20000"),
            ("servers", servers),
            ("policy", "round-robin"),
            ("lifetime", "10"),
            ("fail-at", "none"),
            ("recover-at", "none"),
            ("horizon", "60"),
        ]);
        let r = run(&c, 7);
        let got = metric(&r, "session_miss_ratio");
        assert!((got - want).abs() < 0.01, "S = {servers}: {got} vs {want}");
        assert!(metric(&r, "connections") > 100_000.0);
        // Round-robin hands out connections in turn, so the counts stay close:
        // each server's count drifts only by random connection ends.
        assert!(metric(&r, "imbalance") < 1.1, "{}", metric(&r, "imbalance"));
    }
}

#[test]
fn least_connections_keeps_servers_within_a_few_connections() {
    // Theory: every new connection goes to a least-loaded server, so the spread
    // between the busiest and the least-loaded server stays within a couple of
    // connections; with 2,000 connections per server the busiest holds at most
    // 0.5 % more than the mean.
    let c = cfg(&[
        ("clients", "20000"),
        ("servers", "10"),
        ("policy", "least-connections"),
        ("lifetime", "10"),
        ("fail-at", "none"),
        ("recover-at", "none"),
        ("horizon", "60"),
    ]);
    let r = run(&c, 7);
    assert!(
        metric(&r, "peak_imbalance") < 1.005,
        "{}",
        metric(&r, "peak_imbalance")
    );
    assert!(metric(&r, "peak_server_connections") <= 2_010.0);
}

#[test]
fn hash_policies_are_sticky_while_the_pool_is_stable() {
    // Theory: a hash policy maps a client's fixed key to the same server while
    // the pool does not change, so no reconnection ever misses its session.
    for policy in ["ip-hash", "sticky", "consistent-hash"] {
        let c = cfg(&[
            ("clients", "5000"),
            ("policy", policy),
            ("fail-at", "none"),
            ("recover-at", "none"),
            ("horizon", "60"),
        ]);
        let r = run(&c, 3);
        assert_eq!(metric(&r, "session_misses"), 0.0, "{policy}");
        assert_eq!(metric(&r, "session_miss_ratio"), 0.0, "{policy}");
        assert!(r.metric_value("remapped_fraction").is_none());
        assert_eq!(metric(&r, "reconnects"), 0.0);
    }
}

/// A run of 40,000 clients under `policy` where the last of `servers` leaves at
/// 25 s and (optionally) returns at 50 s; every client reconnects at least once
/// in between and after (a connection lasts at most 2 x 10 s, an offline gap at
/// most 2 x 1 s, forced reconnects come at most 1 s late: 23 s < 25 s).
fn failover(policy: &str, servers: &str, vnodes: &str, recover: &str) -> Report {
    let c = cfg(&[
        ("clients", "40000"),
        ("servers", servers),
        ("policy", policy),
        ("vnodes", vnodes),
        ("lifetime", "10"),
        ("fail-at", "25"),
        ("recover-at", recover),
        ("horizon", "75"),
    ]);
    run(&c, 11)
}

#[test]
fn modulo_hashing_remaps_s_minus_1_over_s() {
    // Theory: with n live servers a key k goes to live[k mod n]. Removing the
    // last of S servers keeps a key on its server iff k mod S == k mod (S - 1),
    // which holds for exactly S - 1 of every S (S - 1) consecutive keys: the
    // remapped fraction is (S - 1) / S. For 40,000 uniformly random keys the
    // binomial standard error is under 0.0022; allow 0.009 (4 sigma).
    for (servers, want) in [("4", 0.75), ("10", 0.9)] {
        let r = failover("ip-hash", servers, "1", "none");
        let got = metric(&r, "remapped_fraction");
        assert!((got - want).abs() < 0.009, "S = {servers}: {got} vs {want}");
        // Every remapped client misses its session exactly once (on its first
        // reconnection after the failure) and nobody else misses: exact.
        assert_eq!(metric(&r, "session_misses"), (got * 40_000.0).round());
        // Forced reconnects: the failed server's clients that are connected at
        // that moment. A client is connected lifetime / (lifetime + think) =
        // 10 / 11 of the time (renewal theory), so about C / S x 10 / 11
        // (binomial spread under 100; allow 400).
        let s: f64 = servers.parse().expect("number");
        let forced = metric(&r, "reconnects");
        let want = 40_000.0 / s * 10.0 / 11.0;
        assert!((forced - want).abs() < 400.0, "{forced} vs {want}");
    }
}

#[test]
fn consistent_hashing_remaps_about_1_over_s() {
    // Theory: on a ring, removing a server moves only the keys on its arcs, its
    // share of the ring, whose mean is 1/S. With V virtual nodes per server the
    // share is a sum of V arcs, with a relative standard deviation of about
    // 1/sqrt(V) = 7 % at V = 200: allow 0.1 +- 0.03 (over 4 sigma).
    let r = failover("consistent-hash", "10", "200", "50");
    let remapped = metric(&r, "remapped_fraction");
    assert!((remapped - 0.1).abs() < 0.03, "{remapped}");
    // The clients that move are exactly the failed server's clients; those
    // connected at that moment (10/11 of them, see above) are forcibly
    // reconnected (binomial spread about 0.5 %): allow 2 % around that.
    let moved = (remapped * 40_000.0).round();
    let forced = metric(&r, "reconnects");
    assert!(
        forced <= moved && rel_err(forced, moved * 10.0 / 11.0) < 0.02,
        "{forced}"
    );
    // When the server returns, exactly the same keys move back (the ring is
    // the original one again).
    assert_eq!(metric(&r, "remapped_back_fraction"), remapped);
    // Misses: once when leaving, once when coming back (every client reconnects
    // at least once after 50 s: horizon 75 s > 50 + 2 x 10 + 2 x 1 s).
    assert_eq!(metric(&r, "session_misses"), 2.0 * moved);

    // Modulo hashing moves the same (S - 1)/S of clients back on recovery.
    let m = failover("ip-hash", "10", "1", "50");
    assert_eq!(
        metric(&m, "remapped_back_fraction"),
        metric(&m, "remapped_fraction")
    );
}

#[test]
fn ring_balance_needs_virtual_nodes() {
    // Theory: with one point per server the S arcs are the spacings of S
    // uniform points; the largest is about H_S / S of the ring (H_10 = 2.93), so
    // the busiest server holds ~2.9x the mean (widely spread: assert > 1.5).
    // With V points per server a server's share has a relative spread of about
    // 1/sqrt(V), and the largest of S shares is about 1 + sqrt(2 ln S / V)
    // times the mean: 1.15 at V = 200 (assert < 1.3). Modulo hashing spreads
    // 100,000 keys binomially: 1 + sqrt(2 ln S * (S - 1) / C) = 1.02 (assert
    // < 1.04). Without failures and with reconnections at once (think 0) every
    // client is always connected to its key's server, so these ratios hold at
    // every sample.
    let base = [
        ("clients", "100000"),
        ("servers", "10"),
        ("think", "0"),
        ("fail-at", "none"),
        ("recover-at", "none"),
        ("horizon", "30"),
    ];
    let imbalance = |extra: &[(&str, &str)]| {
        let mut pairs = base.to_vec();
        pairs.extend_from_slice(extra);
        let r = run(&cfg(&pairs), 5);
        let (mean, peak) = (metric(&r, "imbalance"), metric(&r, "peak_imbalance"));
        assert!((mean - peak).abs() < 1e-9 * peak, "{mean} vs {peak}");
        metric(&r, "imbalance")
    };
    let one = imbalance(&[("policy", "consistent-hash"), ("vnodes", "1")]);
    let many = imbalance(&[("policy", "consistent-hash"), ("vnodes", "200")]);
    let modulo = imbalance(&[("policy", "ip-hash")]);
    assert!(one > 1.5, "1 vnode: {one}");
    assert!(many > 1.0 && many < 1.3, "200 vnodes: {many}");
    assert!(modulo > 1.0 && modulo < 1.04, "ip-hash: {modulo}");
}

#[test]
fn accounting_adds_up_for_every_policy() {
    // Identities: every routed connection is a first connection or a
    // reconnection; at the end every client is connected or waiting for its
    // forced reconnect; the servers' counts add up to the connected clients;
    // the connects series integrates to the connection count.
    for policy in Policy::ALL {
        let c = cfg(&[
            ("clients", "20000"),
            ("policy", policy.as_str()),
            ("fail-at", "30"),
            ("recover-at", "31"),
            ("reconnect-jitter", "5"),
            ("horizon", "32"),
        ]);
        let mut sim = Simulation::new(Balance::new(c).expect("valid"), 2);
        while sim.step() {}
        let m = sim.scenario();
        let clients = u64::from(m.p.clients);
        assert_eq!(m.connections, clients + m.reconnections, "{policy:?}");
        assert!(m.online <= clients);
        let sum: u64 = m.counts.iter().map(|&c| u64::from(c)).sum();
        assert_eq!(sum, m.online);
        // Sessions: one per client, minus those lost with the failed server
        // whose clients have not reconnected yet.
        let sessions: u64 = m.sessions.iter().sum();
        assert!(sessions <= clients && sessions >= m.online);
        assert!(m.forced > 0);
        let (connections, misses) = (m.connections, m.misses);
        let r = Report::from_outcome(&sim.finish());
        let iv = r.series_interval_s;
        let total = |name: &str| {
            r.series(name)
                .map(|s| s.values.iter().sum::<f64>() * iv)
                .unwrap_or_default()
        };
        assert!((total("connects_per_s") - connections as f64).abs() < 1e-6 * connections as f64);
        assert!((total("session_misses_per_s") - misses as f64).abs() < 1e-6 * connections as f64);
        assert!(metric(&r, "session_misses") <= metric(&r, "connections"));
        assert_eq!(r.end_s, 32.0);
        // The pool shrank at 30 s and grew back at 31 s; the series shows it.
        let live = r
            .series("live_servers")
            .map(|s| s.values.clone())
            .unwrap_or_default();
        assert_eq!(live.first().copied(), Some(10.0));
        assert!(live.contains(&9.0));
        assert_eq!(live.last().copied(), Some(10.0));
    }
}

#[test]
fn same_seed_same_json_and_different_seed_differs() {
    // Theory: a run is a pure function of (parameters, seed); the seed picks the
    // clients' keys, the ring and every connection lifetime.
    for policy in ["round-robin", "ip-hash", "consistent-hash"] {
        let c = cfg(&[("clients", "5000"), ("policy", policy), ("horizon", "100")]);
        let a = run(&c, 7).without_wall_time().to_json().expect("json");
        let b = run(&c, 7).without_wall_time().to_json().expect("json");
        let d = run(&c, 8).without_wall_time().to_json().expect("json");
        assert_eq!(a, b, "{policy}");
        assert_ne!(a, d, "{policy}");
    }
}

#[test]
fn the_report_carries_the_registered_metrics_and_series() {
    let r = run(&cfg(&[("clients", "1000")]), 1);
    let names: Vec<&str> = r.metrics.iter().map(|m| m.name.as_str()).collect();
    let want: Vec<&str> = METRICS.iter().map(|m| m.name).collect();
    assert_eq!(names, want);
    let series: Vec<&str> = r.series.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(series, SERIES);
    assert!(r.points() <= 2_000);
    assert!(METRICS.iter().all(|m| !m.unit.is_empty()));
}

#[test]
fn bad_parameters_give_clear_errors() {
    let err = |pairs: &[(&str, &str)]| -> SimError {
        let mut c = BalanceConfig::default();
        for (k, v) in pairs {
            if let Err(e) = ScenarioSpec::set(&mut c, k, v) {
                return e;
            }
        }
        c.validate().expect_err("should be invalid")
    };
    let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (vec![("clients", "0")], "--clients"),
        (vec![("servers", "0")], "--servers"),
        (vec![("servers", "1")], "--servers 1 is too small"),
        (vec![("servers", "20000")], "--servers"),
        (vec![("vnodes", "0")], "--vnodes"),
        (vec![("policy", "random")], "--policy"),
        (vec![("lifetime", "0")], "--lifetime"),
        (vec![("lifetime", "soon")], "--lifetime"),
        (vec![("fail-at", "200")], "--fail-at"),
        (
            vec![("recover-at", "50")],
            "--recover-at 50 s must be greater than --fail-at 60 s",
        ),
        (vec![("fail-at", "none")], "--recover-at 90 needs --fail-at"),
        (vec![("reconnect-jitter", "-1")], "--reconnect-jitter"),
        (vec![("colour", "red")], "known parameters"),
        (
            vec![
                ("policy", "consistent-hash"),
                ("servers", "10000"),
                ("vnodes", "5000"),
            ],
            "--vnodes",
        ),
    ];
    for (pairs, needle) in cases {
        let msg = err(&pairs).to_string();
        assert!(msg.contains(needle), "{pairs:?}: {msg}");
        assert!(!msg.contains('\n'), "{msg}");
    }
    // One server is fine when nothing fails.
    assert!(
        cfg(&[
            ("servers", "1"),
            ("fail-at", "none"),
            ("recover-at", "none")
        ])
        .validate()
        .is_ok()
    );
}

#[test]
fn values_accept_aliases_and_units() {
    let c = cfg(&[
        ("policy", "sticky"),
        ("--fail-at", "1min"),
        ("recover", "none"),
        ("lifetime", "500ms"),
        ("clients", "1e4"),
    ]);
    assert_eq!(c.policy, Policy::IpHash);
    assert_eq!(c.fail_at_s, Some(60.0));
    assert_eq!(c.recover_at_s, None);
    assert_eq!(c.lifetime_s, 0.5);
    assert_eq!(c.get("policy").as_deref(), Some("ip-hash"));
    assert_eq!(c.get("recover_at").as_deref(), Some("none"));
    for p in Policy::ALL {
        assert_eq!(Policy::parse(p.as_str()), Some(p));
    }
    // The memory estimate names the flag that drives it.
    let m = c.memory().expect("valid");
    assert_eq!((m.flag, m.bytes_per), ("clients", 49));
    assert!(matches!(
        m.check(Some(1 << 20)),
        Err(SimError::TooMuchMemory { .. })
    ));
}

#[test]
fn spread_and_tournament_track_the_extremes() {
    // The histogram's least and largest count and the tournament's argmin agree
    // with a brute-force scan after every change, including a server leaving
    // and coming back.
    let n = 7;
    let mut counts = vec![0u32; n];
    let mut alive = vec![true; n];
    let mut spread = Spread::new(n as u32);
    let mut tree = Tournament::new(n);
    let mut rng = crate::sim::rng::SimRng::seed_from(4);
    for step in 0..20_000 {
        let i = rng.below(n as u64) as usize;
        if step == 5_000 {
            spread.remove(counts[3]);
            counts[3] = 0;
            alive[3] = false;
            tree.set(3, u32::MAX);
        } else if step == 12_000 {
            alive[3] = true;
            spread.add_empty();
            tree.set(3, 0);
        } else if alive[i] {
            if counts[i] > 0 && rng.below(2) == 0 {
                spread.dec(counts[i]);
                counts[i] -= 1;
            } else {
                spread.inc(counts[i]);
                counts[i] += 1;
            }
            tree.set(i, counts[i]);
        }
        let live: Vec<u32> = (0..n).filter(|&s| alive[s]).map(|s| counts[s]).collect();
        assert_eq!(spread.max, *live.iter().max().expect("live"), "step {step}");
        assert_eq!(spread.min, *live.iter().min().expect("live"), "step {step}");
        let argmin = (0..n)
            .filter(|&s| alive[s])
            .min_by_key(|&s| (counts[s], s))
            .expect("live");
        assert_eq!(tree.top(), argmin, "step {step}");
    }
}

#[test]
fn the_ring_index_finds_the_same_server_as_a_binary_search() {
    // The bucket index is an optimisation only: every key maps to the first
    // point clockwise, as a plain binary search over the ring says, before and
    // after a server leaves.
    for vnodes in [1, 3, 100] {
        let mut m = Router::new(Policy::ConsistentHash, 10);
        m.build_ring(vnodes, 0x5EED);
        assert_eq!(m.ring_all.len(), 10 * vnodes as usize);
        let mut rng = crate::sim::rng::SimRng::seed_from(8);
        for round in 0..2 {
            if round == 1 {
                m.set_alive(9, false, std::iter::empty);
                assert_eq!(m.ring.len(), 9 * vnodes as usize);
            }
            for k in 0..20_000u64 {
                let key = if k < 4 {
                    [0, 1, u64::MAX - 1, u64::MAX][k as usize]
                } else {
                    rng.next_u64()
                };
                let i = m.ring.partition_point(|&(point, _)| point < key);
                let want = m.ring.get(i).or(m.ring.first()).map(|&(_, s)| s);
                assert_eq!(Some(m.hash_target(key)), want, "key {key}");
            }
        }
    }
}

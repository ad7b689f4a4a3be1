//! Tests of the herd model against queueing theory and its own bookkeeping.
//! Each test states the theory it checks and the tolerance it allows.

use super::*;
use crate::sim::engine::Simulation;
use crate::sim::report::Report;
use crate::sim::scenarios::test_support::{self as support, metric, rel_err};

fn cfg(pairs: &[(&str, &str)]) -> HerdConfig {
    support::cfg(pairs)
}

fn run(c: &HerdConfig, seed: u64) -> Report {
    support::run(c, seed)
}

#[test]
fn fluid_model_all_at_once_is_exact() {
    // Theory: N = 100,000 attempts at t = 0, 2 workers at 0.5 ms each, unlimited
    // backlog, no timeouts. Two start at once, 99,998 wait, and the server works
    // back to back: the last handshake ends at N * 0.5 ms / 2 = 25 s exactly.
    let c = cfg(&[
        ("jitter", "0"),
        ("backlog", "unlimited"),
        ("timeout", "none"),
    ]);
    let r = run(&c, 7);
    assert_eq!(metric(&r, "time_to_all_s"), 25.0);
    assert_eq!(metric(&r, "peak_queue"), 99_998.0);
    assert_eq!(metric(&r, "attempts"), 100_000.0);
    assert_eq!(metric(&r, "refused"), 0.0);
    assert_eq!(metric(&r, "peak_utilization"), 1.0);
    // The fluid bound max(J, N / capacity) is reached exactly here.
    assert_eq!(metric(&r, "fluid_time_to_all_s"), 25.0);
}

#[test]
fn fluid_model_overloaded_jitter() {
    // Theory (fluid model): arrivals at N/J = 10,000/s for J = 10 s against a
    // capacity of 4,000/s. The queue grows at 6,000/s until t = J, peaking at
    // N - capacity * J = 60,000, and the server stays busy until
    // max(J, N / capacity) = 25 s. Randomness in the uniform arrival times moves
    // these by about sqrt(N) ~ 300 arrivals, i.e. well under 1 %; allow 2 % on
    // the peak and 0.5 % on the finish time.
    let c = cfg(&[
        ("jitter", "10"),
        ("backlog", "unlimited"),
        ("timeout", "none"),
    ]);
    let r = run(&c, 7);
    let t = metric(&r, "time_to_all_s");
    assert!(rel_err(t, 25.0) < 0.005, "time_to_all_s = {t}");
    let q = metric(&r, "peak_queue");
    assert!(rel_err(q, 60_000.0) < 0.02, "peak_queue = {q}");
    // The series show the same peak (max within an interval).
    let series_peak = r
        .series("queue_depth")
        .map(|s| s.values.iter().copied().fold(0.0, f64::max))
        .unwrap_or_default();
    assert_eq!(series_peak, q);
}

#[test]
fn fluid_model_underloaded_jitter() {
    // Theory: with J = 30 s, N / J = 3,333/s is below the capacity of 4,000/s, so
    // time_to_all = max(J, N / capacity) = J = 30 s plus the last client's short
    // wait; the queue never builds beyond a random-fluctuation scale (the fluid
    // peak N - capacity * J is negative). Allow 0.5 % on the time and a peak queue
    // under 1 % of N.
    let c = cfg(&[
        ("jitter", "30"),
        ("backlog", "unlimited"),
        ("timeout", "none"),
    ]);
    let r = run(&c, 7);
    let t = metric(&r, "time_to_all_s");
    assert!(t >= 29.9 && rel_err(t, 30.0) < 0.005, "time_to_all_s = {t}");
    let q = metric(&r, "peak_queue");
    assert!(q < 1_000.0, "peak_queue = {q}");
    assert_eq!(metric(&r, "connected"), 100_000.0);
}

/// Pollaczek-Khinchine mean wait for M/D/1: Wq = rho / (2 mu (1 - rho)).
fn md1_wait_s(lambda: f64, service_s: f64) -> f64 {
    let mu = 1.0 / service_s;
    let rho = lambda / mu;
    rho / (2.0 * mu * (1.0 - rho))
}

#[test]
fn light_load_matches_md1_mean_wait() {
    // Theory: N first attempts uniform over [0, J] are a Poisson process of rate
    // N / J conditioned on its count, so one worker with a fixed 0.5 ms
    // handshake and no refusals or timeouts is an M/D/1 queue (we use c = 1, where
    // the Pollaczek-Khinchine formula is exact). Connect latency = wait + 0.5 ms.
    // At rho = 0.5 (Wq = 0.25 ms) and rho = 0.8 (Wq = 1 ms), the measured mean wait
    // must be within 5 % of the formula (the start-up transient and sampling error
    // are about 1 % at these sample sizes).
    for (clients, rho) in [("100000", 0.5), ("160000", 0.8)] {
        let c = cfg(&[
            ("clients", clients),
            ("jitter", "100"),
            ("workers", "1"),
            ("handshake-ms", "0.5"),
            ("backlog", "unlimited"),
            ("timeout", "none"),
        ]);
        let r = run(&c, 11);
        let lambda = c.clients as f64 / 100.0;
        assert!((lambda * 0.0005 - rho).abs() < 1e-12);
        let want_ms = md1_wait_s(lambda, 0.0005) * 1e3;
        let got_ms = metric(&r, "connect_latency_mean_ms") - 0.5;
        assert!(
            rel_err(got_ms, want_ms) < 0.05,
            "rho {rho}: mean wait {got_ms} ms, M/D/1 says {want_ms} ms"
        );
        assert_eq!(metric(&r, "refused"), 0.0);
        // Utilization over the busiest second is near rho (Poisson bursts lift it).
        let u = metric(&r, "peak_utilization");
        assert!(u >= rho && u <= 1.0, "peak utilization {u}");
    }
}

#[test]
fn same_seed_same_json_and_different_seed_differs() {
    // Theory: the engine has no hidden inputs, so a run is a pure function of
    // (parameters, seed): byte-identical JSON once the wall time is left out.
    let c = cfg(&[("clients", "20000"), ("jitter", "3")]);
    let a = run(&c, 7).without_wall_time().to_json().expect("json");
    let b = run(&c, 7).without_wall_time().to_json().expect("json");
    let d = run(&c, 8).without_wall_time().to_json().expect("json");
    assert_eq!(a, b);
    assert_ne!(a, d);
}

/// Runs step by step and checks every bookkeeping identity at the end.
fn check_accounting(c: &HerdConfig, seed: u64) -> Report {
    let herd = Herd::new(c.clone()).expect("valid config");
    let mut sim = Simulation::new(herd, seed);
    while sim.step() {}
    let h = sim.scenario();
    let pending = h.pending_attempts();
    let (attempts, refused, connected, wasted, in_flight, timeouts) = (
        h.attempts,
        h.refused,
        h.connected,
        h.wasted,
        h.in_flight,
        h.timeouts,
    );
    let n = u64::from(h.p.clients);
    let outcome = sim.finish();
    let r = Report::from_outcome(&outcome);

    // Identity 1: every attempt is refused or accepted into the queue/a worker.
    let accepted = attempts - refused;
    // Identity 2: every accepted attempt connected its client, was wasted (its
    // client had given up), or was still in flight at the horizon.
    assert_eq!(accepted, connected + wasted + in_flight, "{c:?}");
    // Identity 3: a wasted handshake's client timed out first.
    assert!(timeouts >= wasted);
    // Identity 4: every client is connected or still trying, and each client still
    // trying has exactly one pending retry or a not-given-up handshake in flight.
    let still_trying = n - connected;
    assert!(still_trying <= pending + in_flight);
    assert!(pending <= still_trying);
    // Identity 5: the engine counts every attempt as an event (the herd runs
    // them a wheel bucket per engine event).
    assert_eq!(outcome.events_processed, attempts);
    // The report agrees with the model.
    assert_eq!(metric(&r, "attempts"), attempts as f64);
    assert_eq!(metric(&r, "refused"), refused as f64);
    assert_eq!(metric(&r, "connected"), connected as f64);
    assert_eq!(metric(&r, "still_trying"), still_trying as f64);
    assert_eq!(metric(&r, "in_flight_at_end"), in_flight as f64);
    // Series integrate to the counters (rates * interval; float error < 1e-6).
    let iv = r.series_interval_s;
    let total = |name: &str| -> f64 {
        r.series(name)
            .map(|s| s.values.iter().sum::<f64>() * iv)
            .unwrap_or_default()
    };
    assert!((total("arrivals_per_s") - attempts as f64).abs() < 1e-6 * attempts as f64 + 1e-6);
    assert!((total("refused_per_s") - refused as f64).abs() < 1e-6 * refused as f64 + 1e-6);
    assert!((total("timeouts_per_s") - timeouts as f64).abs() < 1e-6 * timeouts as f64 + 1e-6);
    let last_connected = r
        .series("connected")
        .and_then(|s| s.values.last().copied())
        .unwrap_or_default();
    assert_eq!(last_connected, connected as f64);
    r
}

/// Retries 0.2 ms apart, sooner than a wheel bucket (0.26 ms) is wide: many
/// land in the bucket being run.
const SOONER_THAN_A_BUCKET: &[(&str, &str)] = &[
    ("clients", "500"),
    ("jitter", "0.05"),
    ("backoff", "none"),
    ("backoff-base", "0.0002"),
    ("backlog", "50"),
    ("horizon", "10"),
];

#[test]
fn accounting_adds_up_in_every_regime() {
    // Default overload (refusals), a horizon that cuts the run short (clients
    // still trying), timeouts with wasted work, and every backoff policy.
    let cases: Vec<Vec<(&str, &str)>> = vec![
        vec![("clients", "50000"), ("jitter", "5")],
        vec![("clients", "50000"), ("jitter", "0"), ("horizon", "4")],
        vec![
            ("clients", "30000"),
            ("backlog", "unlimited"),
            ("timeout", "2"),
            ("backoff", "none"),
            ("horizon", "20"),
        ],
        vec![
            ("clients", "20000"),
            ("backoff", "exponential"),
            ("backlog", "100"),
        ],
        vec![
            ("clients", "20000"),
            ("backoff", "decorrelated"),
            ("backlog", "100"),
        ],
        vec![("clients", "5000"), ("backlog", "0"), ("workers", "3")],
        SOONER_THAN_A_BUCKET.to_vec(),
    ];
    for pairs in cases {
        let r = check_accounting(&cfg(&pairs), 3);
        assert!(metric(&r, "attempts") >= metric(&r, "connected"));
    }
}

/// Runs `c` with every wheel bucket either run by acceptance thresholds
/// (refusals in bucket order) or sorted and run one attempt at a time.
fn run_both_ways(c: &HerdConfig, seed: u64) -> (String, String) {
    let json = |passes: usize| {
        let mut herd = Herd::new(c.clone()).expect("valid config");
        herd.passes_before_sort = passes;
        let outcome = Simulation::new(herd, seed).run();
        Report::from_outcome(&outcome)
            .without_wall_time()
            .to_json()
            .expect("json")
    };
    (json(PASSES_BEFORE_SORT), json(0))
}

#[test]
fn threshold_passes_accept_exactly_what_time_order_accepts() {
    // Theory: a refusal changes nothing on the server, so running a bucket's
    // refusals out of time order cannot change which attempts are accepted.
    // With backoff that draws no random numbers (none, exponential) the two
    // ways of running a bucket must then give the same report, byte for byte:
    // overload with refusals, timeouts with wasted work, retries that land in
    // the bucket being run, and the horizon cutting the run short.
    let cases: Vec<Vec<(&str, &str)>> = vec![
        vec![
            ("clients", "40000"),
            ("jitter", "3"),
            ("backoff", "exponential"),
            ("backlog", "200"),
            ("timeout", "0.02"),
        ],
        SOONER_THAN_A_BUCKET.to_vec(),
        vec![
            ("clients", "30000"),
            ("jitter", "0"),
            ("backoff", "none"),
            ("workers", "3"),
            ("horizon", "5"),
        ],
    ];
    for pairs in cases {
        let c = cfg(&pairs);
        let (passes, sorted) = run_both_ways(&c, 5);
        assert_eq!(passes, sorted, "{pairs:?}");
        let r = run(&c, 5);
        assert!(metric(&r, "refused") > 0.0, "{pairs:?} refuses nothing");
    }
}

#[test]
fn one_word_and_two_word_wheels_run_the_same_herd() {
    // The wheel's storage layout is an encoding, not a model choice: packing
    // an attempt's time offset and client state into one word must give the
    // same run, byte for byte, as keeping them in two, for every backoff
    // policy (decorrelated keeps its previous sleep in the state).
    for backoff in ["none", "exponential", "full-jitter", "decorrelated"] {
        let c = cfg(&[
            ("clients", "30000"),
            ("jitter", "2"),
            ("backoff", backoff),
            ("backlog", "300"),
            ("timeout", "0.05"),
        ]);
        let json = |one_word: bool| {
            let mut herd = Herd::new(c.clone()).expect("valid config");
            herd.one_word = one_word;
            let outcome = Simulation::new(herd, 9).run();
            Report::from_outcome(&outcome)
                .without_wall_time()
                .to_json()
                .expect("json")
        };
        let one = json(true);
        assert_eq!(one, json(false), "{backoff}");
        let r = run(&c, 9);
        assert!(metric(&r, "refused") > 0.0, "{backoff} refuses nothing");
        assert!(metric(&r, "timeouts") > 0.0, "{backoff} times nothing out");
    }
}

#[test]
fn a_full_backlog_refuses_and_a_timeout_wastes_work() {
    // Theory: 10,000 attempts at t = 0 with backlog 100: 2 go straight to the two
    // workers, 100 queue, and the other 9,898 are refused at once.
    let c = cfg(&[
        ("clients", "10000"),
        ("backlog", "100"),
        ("timeout", "none"),
    ]);
    let r = run(&c, 1);
    assert_eq!(metric(&r, "peak_queue"), 100.0);
    assert!(metric(&r, "refused") >= 9_898.0);
    assert_eq!(metric(&r, "connected"), 10_000.0);

    // Theory: 100,000 attempts at t = 0, unlimited backlog, 10 s timeout. The
    // attempt in queue position k (0-based) starts at floor(k / 2) * 0.5 ms, so
    // those with k >= 40,002 wait more than 10 s and time out; their handshakes
    // are still done later (wasted) while their clients retry 1 s later and queue
    // again behind the wasted ones. This herd feeds itself: with no backoff the
    // queue never drains below 10 s of work, so it does not recover in 120 s.
    let c = cfg(&[
        ("jitter", "0"),
        ("backlog", "unlimited"),
        ("timeout", "10"),
        ("backoff", "none"),
        ("horizon", "120"),
    ]);
    let r = run(&c, 1);
    assert!(metric(&r, "timeouts") >= 59_998.0);
    assert!(metric(&r, "wasted_handshakes") >= 59_998.0);
    assert!(r.metric_value("time_to_all_s").is_none());
    // The same herd with full-jitter backoff and the default backlog recovers.
    let c = cfg(&[("jitter", "0"), ("horizon", "120")]);
    assert!(run(&c, 1).metric_value("time_to_all_s").is_some());
}

#[test]
fn p99_comes_before_all() {
    let c = cfg(&[("clients", "10000"), ("jitter", "1")]);
    let r = run(&c, 5);
    let p99 = metric(&r, "time_to_p99_s");
    let all = metric(&r, "time_to_all_s");
    assert!(p99 <= all && p99 > 0.0);
    assert!(metric(&r, "connect_latency_p50_ms") <= metric(&r, "connect_latency_p99_ms"));
    assert!(metric(&r, "connect_latency_p99_ms") <= metric(&r, "connect_latency_max_ms"));
    // The series end where the run ended and stay under the point limit.
    assert!(r.points() <= 2_000);
    assert!((r.points() as f64 - (all / r.series_interval_s).ceil()).abs() <= 1.0);
}

#[test]
fn a_run_cut_by_the_horizon_reports_undefined_times() {
    let c = cfg(&[("clients", "100000"), ("horizon", "5")]);
    let r = run(&c, 2);
    assert!(r.metric_value("time_to_all_s").is_none());
    assert_eq!(r.end_s, 5.0);
    assert!(metric(&r, "still_trying") > 0.0);
}

#[test]
fn backoff_policies_respect_their_bounds() {
    // Theory (AWS "Exponential Backoff And Jitter"), base 1 s, cap 30 s, with
    // attempt = failures - 1: none = base; exponential = min(cap, base * 2^attempt);
    // full jitter in [0, that]; decorrelated in [base, min(cap, 3 * previous)].
    let (base, cap) = (SimDuration::from_secs(1), SimDuration::from_secs(30));
    let mut rng = SimRng::seed_from(9);
    for failures in 1..=70u32 {
        let ceiling = if failures > 63 {
            cap.as_nanos()
        } else {
            cap.as_nanos()
                .min(base.as_nanos().saturating_mul(1 << (failures - 1)))
        };
        let mut prev = 0;
        let s =
            |p, prev: &mut u64, rng: &mut SimRng| backoff_sleep(p, base, cap, failures, prev, rng);
        assert_eq!(s(BackoffPolicy::None, &mut prev, &mut rng), base);
        assert_eq!(
            s(BackoffPolicy::Exponential, &mut prev, &mut rng).as_nanos(),
            ceiling
        );
        for _ in 0..50 {
            let fj = s(BackoffPolicy::FullJitter, &mut prev, &mut rng).as_nanos();
            assert!(fj <= ceiling);
        }
    }
    assert_eq!(
        backoff_sleep(BackoffPolicy::Exponential, base, cap, 3, &mut 0, &mut rng),
        SimDuration::from_secs(4)
    );
    let mut prev = base.as_nanos();
    for _ in 0..1_000 {
        let before = prev;
        let d = backoff_sleep(
            BackoffPolicy::Decorrelated,
            base,
            cap,
            1,
            &mut prev,
            &mut rng,
        )
        .as_nanos();
        assert!(d >= base.as_nanos() && d <= cap.as_nanos() && d <= before * 3);
        assert_eq!(prev, d);
    }
    // Full jitter's mean is half its ceiling: 4 s ceiling -> 2 s, within 2 %
    // for 20,000 draws (standard error ~0.4 %).
    let n = 20_000;
    let mean = (0..n)
        .map(|_| {
            backoff_sleep(BackoffPolicy::FullJitter, base, cap, 3, &mut 0, &mut rng).as_secs_f64()
        })
        .sum::<f64>()
        / f64::from(n);
    assert!(rel_err(mean, 2.0) < 0.02, "{mean}");
}

#[test]
fn bad_parameters_give_the_right_errors() {
    let err = |pairs: &[(&str, &str)]| -> SimError {
        let mut c = HerdConfig::default();
        for (k, v) in pairs {
            if let Err(e) = c.set(k, v) {
                return e;
            }
        }
        c.validate().expect_err("should be invalid")
    };
    assert!(matches!(
        err(&[("jitter", "-1")]),
        SimError::MustBeNonNegative {
            param: "jitter",
            ..
        }
    ));
    assert!(matches!(
        err(&[("jitter", "NaN")]),
        SimError::MustBeNonNegative {
            param: "jitter",
            ..
        }
    ));
    assert!(matches!(
        err(&[("clients", "0")]),
        SimError::MustBePositive {
            param: "clients",
            ..
        }
    ));
    assert!(matches!(
        err(&[("clients", "-3")]),
        SimError::MustBePositive {
            param: "clients",
            ..
        }
    ));
    assert!(matches!(
        err(&[("workers", "0")]),
        SimError::MustBePositive {
            param: "workers",
            ..
        }
    ));
    assert!(matches!(
        err(&[("handshake-ms", "0")]),
        SimError::MustBePositive {
            param: "handshake-ms",
            ..
        }
    ));
    assert!(matches!(
        err(&[("handshake-ms", "-2")]),
        SimError::MustBePositive {
            param: "handshake-ms",
            ..
        }
    ));
    assert!(matches!(
        err(&[("timeout", "0")]),
        SimError::MustBePositive {
            param: "timeout",
            ..
        }
    ));
    assert!(matches!(
        err(&[("jitter", "30"), ("horizon", "10")]),
        SimError::HorizonTooShort { .. }
    ));
    assert!(matches!(
        err(&[("backoff-cap", "0.5")]),
        SimError::CapBelowBase { .. }
    ));
    assert!(matches!(
        err(&[("clients", "5000000000")]),
        SimError::TooLarge {
            param: "clients",
            ..
        }
    ));
    assert!(matches!(
        err(&[("horizon", "1e9")]),
        SimError::TooLarge {
            param: "horizon",
            ..
        }
    ));
    assert!(matches!(
        err(&[("colour", "red")]),
        SimError::UnknownParameter { .. }
    ));
    assert!(matches!(
        err(&[("jitter", "soon")]),
        SimError::InvalidValue {
            param: "jitter",
            ..
        }
    ));
    assert!(matches!(
        err(&[("backoff", "sometimes")]),
        SimError::InvalidValue {
            param: "backoff",
            ..
        }
    ));
    assert!(matches!(
        err(&[("backlog", "lots")]),
        SimError::InvalidValue {
            param: "backlog",
            ..
        }
    ));
    // Messages are one line and name the flag.
    let msg = err(&[("jitter", "-1")]).to_string();
    assert!(msg.contains("--jitter") && !msg.contains('\n'), "{msg}");
    let msg = err(&[("jitter", "30"), ("horizon", "10")]).to_string();
    assert!(
        msg.contains("--horizon 10 s") && !msg.contains('\n'),
        "{msg}"
    );
    // Memory: 1,000,000 clients do not fit in 10 MiB.
    let p = HerdConfig {
        clients: 1_000_000,
        ..HerdConfig::default()
    }
    .validate()
    .expect("valid");
    assert!(matches!(
        p.check_memory(Some(10 << 20)),
        Err(SimError::TooMuchMemory { .. })
    ));
    assert!(p.check_memory(Some(1 << 30)).is_ok());
}

#[test]
fn values_accept_units_and_words() {
    let c = cfg(&[
        ("jitter", "500ms"),
        ("handshake_ms", "250us"),
        ("backlog", "unlimited"),
        ("timeout", "none"),
        ("--backoff-base", "2s"),
        ("backoff_cap", "1min"),
        ("clients", "1_000"),
    ]);
    assert_eq!(c.jitter_s, 0.5);
    assert!((c.handshake_ms - 0.25).abs() < 1e-12);
    assert_eq!(c.backlog, None);
    assert_eq!(c.timeout_s, None);
    assert_eq!(c.backoff_base_s, 2.0);
    assert_eq!(c.backoff_cap_s, 60.0);
    assert_eq!(c.clients, 1000);
    assert_eq!(c.get("backlog").as_deref(), Some("unlimited"));
    assert_eq!(cfg(&[("clients", "1e6")]).clients, 1_000_000);
}

//! Scenario benchmarks for issue 6: whole runs of the balance, backpressure and
//! chat models at a million clients or messages, the same path as
//! `swelearn simulate NAME ...` minus the printing.
//!
//! Run: `cargo bench --bench scenarios` (add `-- balance` to filter). For the
//! CLI-equivalent wall time and peak memory use the release binary under
//! `hyperfine` or `/usr/bin/time -v` (see BENCHMARKS.md).

use divan::Bencher;
use divan::counter::ItemsCount;
use swelearn::sim::engine::Simulation;
use swelearn::sim::scenarios::backpressure::BackpressureConfig;
use swelearn::sim::scenarios::balance::BalanceConfig;
use swelearn::sim::scenarios::chat::ChatConfig;
use swelearn::sim::spec::ScenarioSpec;

fn main() {
    divan::main();
}

/// A configuration from flag-style pairs over the defaults.
fn spec<S: ScenarioSpec>(pairs: &[(&str, &str)]) -> S {
    let mut s = S::default();
    for (k, v) in pairs {
        s.set(k, v).expect("valid benchmark parameter");
    }
    s
}

/// Benchmarks whole runs of `cfg`, counting engine events as items.
fn whole_run<S: ScenarioSpec>(bencher: Bencher, cfg: S) {
    let events = Simulation::new(cfg.build().expect("valid"), 7)
        .run()
        .events_processed;
    bencher
        .counter(ItemsCount::new(events))
        .bench_local(|| Simulation::new(cfg.build().expect("valid"), 7).run());
}

/// `simulate balance --clients 1000000 --policy P`: 1 M clients, 120 s, a
/// server leaving at 60 s and returning at 90 s (~4.5 M events).
#[divan::bench(
    sample_count = 5,
    sample_size = 1,
    args = ["round-robin", "least-connections", "ip-hash", "consistent-hash"]
)]
fn balance_1m_clients(bencher: Bencher, policy: &str) {
    whole_run(
        bencher,
        spec::<BalanceConfig>(&[("clients", "1000000"), ("policy", policy)]),
    );
}

/// `simulate backpressure --rate 20000 --fast-rate 40000 --horizon 50`:
/// 1 M messages to 10 consumers (~10 M events). Throttle is left out: it
/// slows the producer to the slow reader, so it never reaches 1 M messages.
#[divan::bench(
    sample_count = 5,
    sample_size = 1,
    args = ["unbounded", "drop-oldest", "disconnect"]
)]
fn backpressure_1m_messages(bencher: Bencher, policy: &str) {
    whole_run(
        bencher,
        spec::<BackpressureConfig>(&[
            ("rate", "20000"),
            ("fast-rate", "40000"),
            ("horizon", "50"),
            ("policy", policy),
        ]),
    );
}

/// `simulate chat --rate 100000 --room-size 10 [--broker none]`: 1 M messages,
/// 9 M recipient writes with the broker.
#[divan::bench(sample_count = 5, sample_size = 1, args = ["pubsub", "none"])]
fn chat_1m_messages(bencher: Bencher, broker: &str) {
    whole_run(
        bencher,
        spec::<ChatConfig>(&[("rate", "100000"), ("room-size", "10"), ("broker", broker)]),
    );
}

/// `simulate chat --rooms 1 --room-size 10000 --rate 100`: one large room,
/// 1,000 messages, 10 M recipient writes.
#[divan::bench(sample_count = 5, sample_size = 1)]
fn chat_large_room(bencher: Bencher) {
    whole_run(
        bencher,
        spec::<ChatConfig>(&[("rooms", "1"), ("room-size", "10000"), ("rate", "100")]),
    );
}

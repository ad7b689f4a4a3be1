//! Racer benchmarks: whole runs of the four-protocol race, the same path as
//! `swelearn simulate racer` minus the printing.
//!
//! Run: `cargo bench --bench racer`. For the CLI-equivalent wall time and peak
//! memory use the release binary under `/usr/bin/time` (see BENCHMARKS.md).

use divan::Bencher;
use divan::counter::ItemsCount;
use swelearn::sim::engine::Simulation;
use swelearn::sim::scenarios::racer::{Racer, RacerConfig};

fn main() {
    divan::main();
}

fn racer(bencher: Bencher, cfg: RacerConfig) {
    // Count events once so the throughput is in events per second.
    let events = Simulation::new(Racer::new(cfg.clone()).expect("valid"), 7)
        .run()
        .events_processed;
    bencher
        .counter(ItemsCount::new(events))
        .bench_local(|| Simulation::new(Racer::new(cfg.clone()).expect("valid"), 7).run());
}

/// Defaults: 10,000 clients, 60 events (600,000 deliveries per protocol).
#[divan::bench(sample_count = 10, sample_size = 1)]
fn racer_10k_clients(bencher: Bencher) {
    racer(bencher, RacerConfig::default());
}

/// 1,000,000 clients, defaults otherwise (60,000,000 deliveries per protocol).
#[divan::bench(sample_count = 10, sample_size = 1)]
fn racer_1m_clients(bencher: Bencher) {
    racer(
        bencher,
        RacerConfig {
            clients: 1_000_000,
            ..RacerConfig::default()
        },
    );
}

/// 1,000 clients and 1,000 events: 1,000,000 messages per protocol, each
/// short-polling group stepping through every event.
#[divan::bench(sample_count = 10, sample_size = 1)]
fn racer_1m_messages(bencher: Bencher) {
    racer(
        bencher,
        RacerConfig {
            clients: 1_000,
            event_rate: 1_000.0 / 600.0,
            ..RacerConfig::default()
        },
    );
}

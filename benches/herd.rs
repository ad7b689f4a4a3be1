//! Herd benchmarks: whole runs of the thundering-herd model, the same path as
//! `swelearn simulate herd --jitter 30` minus the printing.
//!
//! Run: `cargo bench --bench herd`. For the CLI-equivalent wall time and peak
//! memory use the example front end under `/usr/bin/time -v` (see
//! BENCHMARKS.md).

use divan::Bencher;
use divan::counter::ItemsCount;
use swelearn::sim::engine::Simulation;
use swelearn::sim::scenarios::herd::{Herd, HerdConfig};

fn main() {
    divan::main();
}

fn herd(bencher: Bencher, clients: u64) {
    let cfg = HerdConfig {
        clients,
        jitter_s: 30.0,
        ..HerdConfig::default()
    };
    // Count events (attempts) once so the throughput is in events per second.
    let events = Simulation::new(Herd::new(cfg.clone()).expect("valid"), 7)
        .run()
        .events_processed;
    bencher
        .counter(ItemsCount::new(events))
        .bench_local(|| Simulation::new(Herd::new(cfg.clone()).expect("valid"), 7).run());
}

/// 100,000 clients, jitter 30 s, defaults otherwise (100,000 events).
#[divan::bench(sample_count = 20, sample_size = 1)]
fn herd_100k_jitter30(bencher: Bencher) {
    herd(bencher, 100_000);
}

/// 1,000,000 clients, jitter 30 s, defaults otherwise (~12 million events).
#[divan::bench(sample_count = 5, sample_size = 1)]
fn herd_1m_jitter30(bencher: Bencher) {
    herd(bencher, 1_000_000);
}

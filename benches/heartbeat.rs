//! Heartbeat benchmarks: whole runs of the heartbeat model, the same path as
//! `swelearn simulate heartbeat` minus the printing.
//!
//! Run: `cargo bench --bench heartbeat`. For the CLI-equivalent wall time and
//! peak memory use the release binary under `/usr/bin/time` (see BENCHMARKS.md).

use divan::Bencher;
use divan::counter::ItemsCount;
use swelearn::sim::engine::Simulation;
use swelearn::sim::scenarios::heartbeat::{Detector, Heartbeat, HeartbeatConfig};

fn main() {
    divan::main();
}

fn heartbeat(bencher: Bencher, cfg: HeartbeatConfig) {
    // Count events once so the throughput is in events per second.
    let events = Simulation::new(Heartbeat::new(cfg.clone()).expect("valid"), 7)
        .run()
        .events_processed;
    bencher
        .counter(ItemsCount::new(events))
        .bench_local(|| Simulation::new(Heartbeat::new(cfg.clone()).expect("valid"), 7).run());
}

/// 1,000,000 connections, defaults otherwise (100,000 die: 300,000 events).
#[divan::bench(sample_count = 10, sample_size = 1)]
fn heartbeat_1m_connections(bencher: Bencher) {
    heartbeat(
        bencher,
        HeartbeatConfig {
            connections: 1_000_000,
            ..HeartbeatConfig::default()
        },
    );
}

/// 1,000,000 connections that all die (3,000,000 events).
#[divan::bench(sample_count = 10, sample_size = 1)]
fn heartbeat_1m_connections_all_die(bencher: Bencher) {
    heartbeat(
        bencher,
        HeartbeatConfig {
            connections: 1_000_000,
            dead_fraction: 1.0,
            ..HeartbeatConfig::default()
        },
    );
}

/// 1,000,000 connections under TCP keepalive (a 3.2 h run).
#[divan::bench(sample_count = 10, sample_size = 1)]
fn heartbeat_1m_connections_tcp_keepalive(bencher: Bencher) {
    heartbeat(
        bencher,
        HeartbeatConfig {
            connections: 1_000_000,
            detector: Detector::TcpKeepalive,
            ..HeartbeatConfig::default()
        },
    );
}

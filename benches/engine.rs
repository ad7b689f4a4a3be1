//! Engine benchmarks: the classic *hold model* (Jones 1986) on the event queue.
//!
//! The queue is filled with `pending` events; each operation pops the earliest
//! and pushes one new event at `popped time + increment`, so the pending count
//! stays constant, as in a steady-state simulation. Throughput is reported in
//! events (one pop + one push) per second. Increments are uniform on [0, 2 s]
//! (mean 1 s) or exponential with mean 1 s (whose `ln` costs ~10 ns per draw by
//! itself). A `std::collections::BinaryHeap` keyed by (time, sequence) is the
//! baseline.
//!
//! Run: `cargo bench --bench engine` (add `-- hold_ladder` to filter).

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use divan::Bencher;
use divan::counter::ItemsCount;
use swelearn::sim::queue::EventQueue;
use swelearn::sim::rng::SimRng;
use swelearn::sim::time::SimTime;

fn main() {
    divan::main();
}

/// Operations per measured sample.
const OPS: usize = 1_000_000;
const MEAN_NS: u64 = 1_000_000_000;

#[derive(Clone, Copy)]
enum Dist {
    Uniform,
    Exponential,
}

#[inline]
fn increment(rng: &mut SimRng, d: Dist) -> u64 {
    match d {
        Dist::Uniform => rng.below(2 * MEAN_NS),
        Dist::Exponential => rng.exp(MEAN_NS as f64) as u64,
    }
}

fn ladder(bencher: Bencher, pending: usize, d: Dist) {
    let mut rng = SimRng::seed_from(1);
    let mut q = EventQueue::new();
    for i in 0..pending {
        q.push(SimTime(increment(&mut rng, d)), i as u32);
    }
    // Warm up to the steady state before measuring.
    for _ in 0..pending {
        if let Some(e) = q.pop() {
            q.push(SimTime(e.time.0 + increment(&mut rng, d)), e.event);
        }
    }
    bencher.counter(ItemsCount::new(OPS)).bench_local(|| {
        for _ in 0..OPS {
            if let Some(e) = q.pop() {
                q.push(SimTime(e.time.0 + increment(&mut rng, d)), e.event);
            }
        }
    });
}

/// Ladder queue, uniform increments.
#[divan::bench(args = [1_000, 1_000_000], sample_count = 15, sample_size = 1)]
fn hold_ladder_uniform(bencher: Bencher, pending: usize) {
    ladder(bencher, pending, Dist::Uniform);
}

/// Ladder queue, exponential increments.
#[divan::bench(args = [1_000, 1_000_000], sample_count = 15, sample_size = 1)]
fn hold_ladder_exponential(bencher: Bencher, pending: usize) {
    ladder(bencher, pending, Dist::Exponential);
}

/// Baseline: a binary heap of (time, seq, event), uniform increments.
#[divan::bench(args = [1_000, 1_000_000], sample_count = 15, sample_size = 1)]
fn hold_binary_heap_uniform(bencher: Bencher, pending: usize) {
    let mut rng = SimRng::seed_from(1);
    let mut heap = BinaryHeap::with_capacity(pending);
    let mut seq = 0u64;
    for i in 0..pending {
        heap.push(Reverse((increment(&mut rng, Dist::Uniform), seq, i as u32)));
        seq += 1;
    }
    bencher.counter(ItemsCount::new(OPS)).bench_local(|| {
        for _ in 0..OPS {
            if let Some(Reverse((t, _, ev))) = heap.pop() {
                heap.push(Reverse((t + increment(&mut rng, Dist::Uniform), seq, ev)));
                seq += 1;
            }
        }
    });
}

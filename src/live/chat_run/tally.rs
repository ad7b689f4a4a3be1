//! What a live chat run counts, from many tasks at once: receipts and their
//! publish-to-deliver latency (HDR histograms, sharded by client so the
//! clients' tasks rarely meet on a lock), each server's writes and busy time,
//! posts and broker messages, and drops.
//!
//! Times are measured from [`Tally::start`] (the first post) on the monotonic
//! clock every task shares; nothing before it is binned.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

/// Receipt shards (client id modulo this).
const SHARDS: usize = 8;
/// Largest latency the histograms hold exactly, ns (1 hour); longer ones are
/// clamped (the exact maximum is kept apart).
const MAX_LATENCY_NS: u64 = 3_600_000_000_000;

/// A latency histogram with an exact sum and maximum.
#[derive(Debug, Clone)]
pub(super) struct Latencies {
    hist: Histogram<u64>,
    sum_ns: u128,
    max_ns: u64,
}

impl Latencies {
    fn new() -> Self {
        // 1 ns .. 1 h at three significant digits (~250 KiB). Creation only
        // fails for invalid bounds, and these are constants.
        let hist = Histogram::new_with_bounds(1, MAX_LATENCY_NS, 3)
            .unwrap_or_else(|_| unreachable!("constant, valid histogram bounds"));
        Self {
            hist,
            sum_ns: 0,
            max_ns: 0,
        }
    }

    fn record(&mut self, ns: u64) {
        self.hist.saturating_record(ns.clamp(1, MAX_LATENCY_NS));
        self.sum_ns += u128::from(ns);
        self.max_ns = self.max_ns.max(ns);
    }

    fn add(&mut self, other: &Latencies) {
        // Same bounds on both sides, so adding cannot fail.
        let _ = self.hist.add(&other.hist);
        self.sum_ns += other.sum_ns;
        self.max_ns = self.max_ns.max(other.max_ns);
    }

    /// Samples recorded.
    pub fn count(&self) -> u64 {
        self.hist.len()
    }

    /// Mean in ms, or `None` without samples.
    pub fn mean_ms(&self) -> Option<f64> {
        (self.count() > 0).then(|| self.sum_ns as f64 / self.count() as f64 / 1e6)
    }

    /// Quantile `q` in ms (three significant digits, never above the maximum).
    pub fn quantile_ms(&self, q: f64) -> Option<f64> {
        (self.count() > 0).then(|| self.hist.value_at_quantile(q).min(self.max_ns) as f64 / 1e6)
    }

    /// The exact maximum in ms.
    pub fn max_ms(&self) -> Option<f64> {
        (self.count() > 0).then(|| self.max_ns as f64 / 1e6)
    }
}

/// One shard of receipts.
#[derive(Debug)]
struct Receipts {
    all: Latencies,
    local: Latencies,
    remote: Latencies,
    /// Receipts per series interval.
    bins: Vec<u64>,
}

/// One server's counts.
#[derive(Debug, Default)]
struct ServerCounts {
    /// Messages written to clients.
    writes: u64,
    /// Seconds spent fanning out and writing, in all and per interval.
    busy_s: f64,
    busy_bins: Vec<f64>,
    /// Longest wait in the server's dispatch queue per interval, us.
    backlog_bins: Vec<f64>,
}

/// Posts and broker messages per interval.
#[derive(Debug, Default)]
struct Flow {
    posts: Vec<u64>,
    broker: Vec<u64>,
}

/// Everything a run counts; shared by every task through an `Arc`.
#[derive(Debug)]
pub(super) struct Tally {
    t0: OnceLock<Instant>,
    interval_s: f64,
    receipts: Vec<Mutex<Receipts>>,
    servers: Vec<Mutex<ServerCounts>>,
    flow: Mutex<Flow>,
    delivered: AtomicU64,
    dropped: AtomicU64,
    broker_msgs: AtomicU64,
    failure: Mutex<Option<String>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn bump<T: Copy + Default>(bins: &mut Vec<T>, i: usize, f: impl FnOnce(T) -> T) {
    if bins.len() <= i {
        bins.resize(i + 1, T::default());
    }
    bins[i] = f(bins[i]);
}

impl Tally {
    /// A tally for `servers` servers with series bins of `interval_s` seconds.
    pub fn new(servers: usize, interval_s: f64) -> Self {
        Self {
            t0: OnceLock::new(),
            interval_s,
            receipts: (0..SHARDS)
                .map(|_| {
                    Mutex::new(Receipts {
                        all: Latencies::new(),
                        local: Latencies::new(),
                        remote: Latencies::new(),
                        bins: Vec::new(),
                    })
                })
                .collect(),
            servers: (0..servers).map(|_| Mutex::default()).collect(),
            flow: Mutex::default(),
            delivered: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            broker_msgs: AtomicU64::new(0),
            failure: Mutex::new(None),
        }
    }

    /// Marks the first post: time zero of every measurement.
    pub fn start(&self) -> Instant {
        *self.t0.get_or_init(Instant::now)
    }

    /// Time since the start (zero before it).
    pub fn since_start(&self, at: Instant) -> Duration {
        self.t0
            .get()
            .map_or(Duration::ZERO, |t0| at.saturating_duration_since(*t0))
    }

    /// Nanoseconds since the start, as the clients stamp their posts.
    pub fn now_ns(&self) -> u64 {
        u64::try_from(self.since_start(Instant::now()).as_nanos()).unwrap_or(u64::MAX)
    }

    /// Seconds of a series interval.
    pub fn interval_s(&self) -> f64 {
        self.interval_s
    }

    fn bin(&self, at: Instant) -> Option<usize> {
        self.t0.get()?;
        Some((self.since_start(at).as_secs_f64() / self.interval_s) as usize)
    }

    /// Client `client` received, `now_ns` after the start ([`Self::now_ns`]),
    /// a message posted `latency_ns` before; `local` when its sender is on the
    /// same server.
    pub fn receipt(&self, client: u32, now_ns: u64, latency_ns: u64, local: bool) {
        let bin = self
            .t0
            .get()
            .map(|_| (now_ns as f64 / 1e9 / self.interval_s) as usize);
        let mut r = lock(&self.receipts[client as usize % SHARDS]);
        r.all.record(latency_ns);
        if local {
            r.local.record(latency_ns);
        } else {
            r.remote.record(latency_ns);
        }
        if let Some(i) = bin {
            bump(&mut r.bins, i, |v| v + 1);
        }
        drop(r);
        self.delivered.fetch_add(1, Ordering::Relaxed);
    }

    /// Server `server` spent `from..to` fanning out a message (`writes`
    /// copies written or queued) that waited `waited` in its dispatch queue.
    pub fn dispatched(
        &self,
        server: u16,
        writes: u64,
        waited: Duration,
        from: Instant,
        to: Instant,
    ) {
        let busy = to.saturating_duration_since(from).as_secs_f64();
        let mut s = lock(&self.servers[usize::from(server)]);
        s.writes += writes;
        let Some(i) = self.bin(from) else { return };
        s.busy_s += busy;
        bump(&mut s.busy_bins, i, |v| v + busy);
        let us = waited.as_secs_f64() * 1e6;
        bump(&mut s.backlog_bins, i, |v: f64| v.max(us));
    }

    /// A post was handed to its sender.
    pub fn posted(&self) {
        if let Some(i) = self.bin(Instant::now()) {
            bump(&mut lock(&self.flow).posts, i, |v| v + 1);
        }
    }

    /// `n` broker messages (publishes or forwards) went through.
    pub fn broker(&self, n: u64) {
        self.broker_msgs.fetch_add(n, Ordering::Relaxed);
        if let Some(i) = self.bin(Instant::now()) {
            bump(&mut lock(&self.flow).broker, i, |v| v + n);
        }
    }

    /// `n` recipients will not get a message: a queue on its way was full.
    pub fn dropped(&self, n: u64) {
        self.dropped.fetch_add(n, Ordering::Relaxed);
    }

    /// Records the first failure that makes the run impossible (e.g. a broker
    /// that refuses a subscription).
    pub fn fail(&self, why: String) {
        lock(&self.failure).get_or_insert(why);
    }

    /// The failure recorded, if any.
    pub fn failure(&self) -> Option<String> {
        lock(&self.failure).clone()
    }

    /// Receipts so far.
    pub fn delivered(&self) -> u64 {
        self.delivered.load(Ordering::Relaxed)
    }

    /// Drops so far.
    pub fn drops(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Broker messages so far.
    pub fn broker_msgs(&self) -> u64 {
        self.broker_msgs.load(Ordering::Relaxed)
    }

    /// The receipts' latencies: all, same-server, cross-server.
    pub fn latencies(&self) -> [Latencies; 3] {
        let mut out = [Latencies::new(), Latencies::new(), Latencies::new()];
        for shard in &self.receipts {
            let r = lock(shard);
            out[0].add(&r.all);
            out[1].add(&r.local);
            out[2].add(&r.remote);
        }
        out
    }

    /// Receipts per interval, over all shards.
    pub fn receipt_bins(&self) -> Vec<u64> {
        let mut out: Vec<u64> = Vec::new();
        for shard in &self.receipts {
            for (i, &v) in lock(shard).bins.iter().enumerate() {
                bump(&mut out, i, |x| x + v);
            }
        }
        out
    }

    /// Per server: writes and busy seconds.
    pub fn server_totals(&self) -> Vec<(u64, f64)> {
        self.servers
            .iter()
            .map(|s| {
                let s = lock(s);
                (s.writes, s.busy_s)
            })
            .collect()
    }

    /// Busy seconds per interval over all servers, and the longest dispatch
    /// wait per interval (us) over all servers.
    pub fn server_bins(&self) -> (Vec<f64>, Vec<f64>) {
        let (mut busy, mut backlog): (Vec<f64>, Vec<f64>) = (Vec::new(), Vec::new());
        for s in &self.servers {
            let s = lock(s);
            for (i, &v) in s.busy_bins.iter().enumerate() {
                bump(&mut busy, i, |x| x + v);
            }
            for (i, &v) in s.backlog_bins.iter().enumerate() {
                bump(&mut backlog, i, |x: f64| x.max(v));
            }
        }
        (busy, backlog)
    }

    /// Posts and broker messages per interval.
    pub fn flow_bins(&self) -> (Vec<u64>, Vec<u64>) {
        let f = lock(&self.flow);
        (f.posts.clone(), f.broker.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn receipts_are_split_into_local_and_remote_and_binned() {
        let t = Tally::new(2, 0.01);
        t.receipt(1, 0, 5_000_000, true);
        assert_eq!(
            t.receipt_bins(),
            Vec::<u64>::new(),
            "nothing binned before the start"
        );
        t.start();
        t.receipt(2, t.now_ns(), 1_000_000, true);
        t.receipt(3, t.now_ns(), 3_000_000, false);
        let [all, local, remote] = t.latencies();
        assert_eq!((all.count(), local.count(), remote.count()), (3, 2, 1));
        assert_eq!(all.max_ms(), Some(5.0));
        assert_eq!(all.mean_ms(), Some(3.0));
        assert_eq!(remote.quantile_ms(0.99), Some(3.0));
        assert_eq!(t.receipt_bins().iter().sum::<u64>(), 2);
        assert_eq!(t.delivered(), 3);
    }

    #[test]
    fn the_first_failure_is_kept() {
        let t = Tally::new(1, 0.01);
        assert_eq!(t.failure(), None);
        t.fail("first".into());
        t.fail("second".into());
        assert_eq!(t.failure().as_deref(), Some("first"));
    }
}

//! The recorder: fixed-interval time series, latency histograms and counters.
//!
//! A scenario registers what it measures when it starts ([`Recorder::add_series`],
//! [`Recorder::add_counter`], [`Recorder::add_latency`]) and then records with cheap,
//! allocation-free calls from its event handlers. Series are kept in fine *base bins*
//! (a power of ten of nanoseconds chosen so a run to its horizon has at most
//! [`MAX_BASE_BINS`] of them) and merged into at most a few thousand points when the
//! report is built ([`Recorded::series`]), so a run that ends early still plays back
//! smoothly. Values can be recorded for any instant up to the horizon, not only
//! "now": a model that already knows when a handshake will finish records it then.
//!
//! The engine ([`super::engine`]) owns one recorder per run; [`super::report`] turns
//! what it [`Recorded`] into a `Report`.

use hdrhistogram::Histogram;

use super::time::{NANOS_PER_SEC, SimDuration, SimTime};

/// The most fine-grained bins a series keeps while a run is in progress.
pub const MAX_BASE_BINS: u64 = 100_000;
/// The default most points a report's series have.
pub const DEFAULT_MAX_POINTS: usize = 2_000;

/// How a series' bins turn into values.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SeriesKind {
    /// Events per second: the count in an interval divided by its length.
    Rate,
    /// A running total: the sum of all counts up to the end of the interval.
    Cumulative,
    /// The largest value of a gauge seen during the interval.
    GaugeMax,
    /// Busy time as a fraction of `capacity` parallel units over the interval (0..1).
    Utilization {
        /// How many units could be busy at once (e.g. worker threads).
        capacity: u64,
    },
}

/// Handle of a registered series (`Default` is the first one registered, a
/// placeholder for scenarios that register theirs in `init`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SeriesId(usize);
/// Handle of a registered counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CounterId(usize);
/// Handle of a registered latency histogram (`Default`: the first registered).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LatencyId(usize);

#[derive(Debug, Clone)]
struct SeriesBuf {
    name: &'static str,
    unit: &'static str,
    label: &'static str,
    kind: SeriesKind,
    bins: Vec<u64>,
    /// The bin last written and its start: a series is mostly written at or
    /// just after the instant it was last written at, so this saves the
    /// division (each series has its own, as models write different series
    /// at different instants, e.g. arrivals now and completions later).
    cursor: usize,
    cursor_start: u64,
}

/// A latency histogram in nanoseconds with an exact mean and maximum.
#[derive(Debug, Clone)]
pub struct LatencyHistogram {
    hist: Histogram<u64>,
    sum_ns: u128,
    count: u64,
    max_ns: u64,
}

/// Mean and percentiles of one latency histogram, in nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LatencySummary {
    /// Number of samples.
    pub count: u64,
    /// Exact arithmetic mean.
    pub mean_ns: f64,
    /// Median (within 0.1 %: three significant digits).
    pub p50_ns: u64,
    /// 90th percentile (within 0.1 %).
    pub p90_ns: u64,
    /// 99th percentile (within 0.1 %).
    pub p99_ns: u64,
    /// Exact maximum.
    pub max_ns: u64,
}

impl LatencyHistogram {
    fn new() -> Self {
        // 1 ns .. 2^62 ns (146 years) at three significant digits: ~300 KiB,
        // allocated once per run. Creation only fails for invalid bounds.
        let hist = Histogram::new_with_bounds(1, 1 << 62, 3)
            .unwrap_or_else(|_| unreachable!("constant, valid histogram bounds"));
        Self {
            hist,
            sum_ns: 0,
            count: 0,
            max_ns: 0,
        }
    }

    /// Adds one sample.
    #[inline]
    pub fn record(&mut self, d: SimDuration) {
        let ns = d.as_nanos();
        self.hist.saturating_record(ns.max(1));
        self.sum_ns += u128::from(ns);
        self.count += 1;
        self.max_ns = self.max_ns.max(ns);
    }

    /// Adds `n` samples of the same value (a group of clients that all saw it).
    #[inline]
    pub fn record_n(&mut self, d: SimDuration, n: u64) {
        if n == 0 {
            return;
        }
        let ns = d.as_nanos();
        self.hist.saturating_record_n(ns.max(1), n);
        self.sum_ns += u128::from(ns) * u128::from(n);
        self.count += n;
        self.max_ns = self.max_ns.max(ns);
    }

    /// The summary, or `None` when nothing was recorded.
    pub fn summary(&self) -> Option<LatencySummary> {
        if self.count == 0 {
            return None;
        }
        Some(LatencySummary {
            count: self.count,
            mean_ns: self.sum_ns as f64 / self.count as f64,
            p50_ns: self.hist.value_at_quantile(0.50).min(self.max_ns),
            p90_ns: self.hist.value_at_quantile(0.90).min(self.max_ns),
            p99_ns: self.hist.value_at_quantile(0.99).min(self.max_ns),
            max_ns: self.max_ns,
        })
    }
}

/// Collects a run's measurements; see the module documentation.
#[derive(Debug, Clone)]
pub struct Recorder {
    base: u64,
    nbins: usize,
    series: Vec<SeriesBuf>,
    counters: Vec<(&'static str, u64)>,
    latencies: Vec<(&'static str, LatencyHistogram)>,
}

/// The smallest power of ten of nanoseconds (at least 1 µs) that covers `horizon`
/// in at most [`MAX_BASE_BINS`] bins.
pub fn base_interval_for(horizon: SimTime) -> SimDuration {
    let mut base = 1_000u64;
    while horizon.as_nanos() / base >= MAX_BASE_BINS {
        match base.checked_mul(10) {
            Some(b) => base = b,
            None => break,
        }
    }
    SimDuration(base)
}

impl Recorder {
    /// A recorder for a run that can last until `horizon`.
    pub fn new(horizon: SimTime) -> Self {
        let base = base_interval_for(horizon).as_nanos();
        let nbins = (horizon.as_nanos() / base) as usize + 1;
        Self {
            base,
            nbins,
            series: Vec::new(),
            counters: Vec::new(),
            latencies: Vec::new(),
        }
    }

    /// Length of one base bin.
    pub fn base_interval(&self) -> SimDuration {
        SimDuration(self.base)
    }

    /// Registers a series (its bins are allocated now, once).
    pub fn add_series(
        &mut self,
        name: &'static str,
        unit: &'static str,
        label: &'static str,
        kind: SeriesKind,
    ) -> SeriesId {
        self.series.push(SeriesBuf {
            name,
            unit,
            label,
            kind,
            bins: vec![0; self.nbins],
            cursor: 0,
            cursor_start: 0,
        });
        SeriesId(self.series.len() - 1)
    }

    /// Registers a counter starting at zero.
    pub fn add_counter(&mut self, name: &'static str) -> CounterId {
        self.counters.push((name, 0));
        CounterId(self.counters.len() - 1)
    }

    /// Registers a latency histogram.
    pub fn add_latency(&mut self, name: &'static str) -> LatencyId {
        self.latencies.push((name, LatencyHistogram::new()));
        LatencyId(self.latencies.len() - 1)
    }

    /// Series `id`'s bins and the index of the one holding instant `t`, or
    /// `None` past the horizon.
    #[inline]
    fn bin(&mut self, id: SeriesId, t: SimTime) -> Option<(&mut SeriesBuf, usize)> {
        let t = t.as_nanos();
        let (base, nbins) = (self.base, self.nbins);
        let s = &mut self.series[id.0];
        let from = t.wrapping_sub(s.cursor_start);
        if from < base {
            let i = s.cursor;
            return Some((s, i));
        }
        let i = if from < base.saturating_mul(2) {
            s.cursor + 1
        } else {
            (t / base) as usize
        };
        if i >= nbins {
            return None;
        }
        s.cursor = i;
        s.cursor_start = i as u64 * base;
        Some((s, i))
    }

    /// Adds `n` to a `Rate` or `Cumulative` series at instant `t`.
    #[inline]
    pub fn count(&mut self, id: SeriesId, t: SimTime, n: u64) {
        if let Some((s, i)) = self.bin(id, t) {
            s.bins[i] += n;
        }
    }

    /// Raises a `GaugeMax` series' bin holding `t` to at least `value`.
    #[inline]
    pub fn gauge_max(&mut self, id: SeriesId, t: SimTime, value: u64) {
        if let Some((s, i)) = self.bin(id, t) {
            let b = &mut s.bins[i];
            *b = (*b).max(value);
        }
    }

    /// Adds the busy span `[start, end)` to a `Utilization` series, split across
    /// the bins it overlaps.
    #[inline]
    pub fn busy(&mut self, id: SeriesId, start: SimTime, end: SimTime) {
        let base = self.base;
        let (mut s, e) = (start.as_nanos(), end.as_nanos());
        while s < e {
            let Some((buf, i)) = self.bin(id, SimTime(s)) else {
                return;
            };
            let upto = e.min((i as u64 + 1) * base);
            buf.bins[i] += upto - s;
            s = upto;
        }
    }

    /// Adds every bin of the count series `from` into the same bin of `into`
    /// (a series that is the sum of two others, kept apart on a hot path).
    pub fn add_counts(&mut self, into: SeriesId, from: SeriesId) {
        if into.0 == from.0 {
            return;
        }
        let src = std::mem::take(&mut self.series[from.0].bins);
        for (d, s) in self.series[into.0].bins.iter_mut().zip(&src) {
            *d += s;
        }
        self.series[from.0].bins = src;
    }

    /// Adds `n` to a counter.
    #[inline]
    pub fn incr(&mut self, id: CounterId, n: u64) {
        self.counters[id.0].1 += n;
    }

    /// A counter's current value.
    #[inline]
    pub fn counter(&self, id: CounterId) -> u64 {
        self.counters[id.0].1
    }

    /// Records one latency sample.
    #[inline]
    pub fn latency(&mut self, id: LatencyId, d: SimDuration) {
        self.latencies[id.0].1.record(d);
    }

    /// Records `n` samples of the same latency (e.g. every client of a group).
    #[inline]
    pub fn latency_n(&mut self, id: LatencyId, d: SimDuration, n: u64) {
        self.latencies[id.0].1.record_n(d, n);
    }

    /// The summary of a latency histogram so far.
    pub fn latency_summary(&self, id: LatencyId) -> Option<LatencySummary> {
        self.latencies[id.0].1.summary()
    }

    /// Closes the recording at `end` (the bins after it are dropped).
    pub fn finish(self, end: SimTime) -> Recorded {
        // Keep the bin holding `end` itself: the last client may connect exactly then.
        let used = ((end.as_nanos() / self.base) as usize + 1).min(self.nbins);
        let series = self
            .series
            .into_iter()
            .map(|mut s| {
                s.bins.truncate(used);
                s
            })
            .collect();
        Recorded {
            base: self.base,
            end,
            series,
            counters: self.counters,
            latencies: self
                .latencies
                .into_iter()
                .map(|(n, h)| (n, h.summary()))
                .collect(),
        }
    }
}

/// What a finished run recorded, at base resolution; turned into report series by
/// [`Recorded::series`].
#[derive(Debug, Clone)]
pub struct Recorded {
    base: u64,
    end: SimTime,
    series: Vec<SeriesBuf>,
    counters: Vec<(&'static str, u64)>,
    latencies: Vec<(&'static str, Option<LatencySummary>)>,
}

/// One series after merging base bins into report points.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesValues {
    /// Stable machine name, e.g. `queue_depth`.
    pub name: &'static str,
    /// Unit of the values, e.g. `1/s`.
    pub unit: &'static str,
    /// A short description for people.
    pub label: &'static str,
    /// One value per interval, the first covering `[0, interval)`.
    pub values: Vec<f64>,
}

const NICE_STEPS: [u64; 3] = [1, 2, 5];

impl Recorded {
    /// The instant the recording was closed.
    pub fn end(&self) -> SimTime {
        self.end
    }

    /// Length of one base bin.
    pub fn base_interval(&self) -> SimDuration {
        SimDuration(self.base)
    }

    /// The counters, in registration order.
    pub fn counters(&self) -> &[(&'static str, u64)] {
        &self.counters
    }

    /// The latency summaries, in registration order.
    pub fn latencies(&self) -> &[(&'static str, Option<LatencySummary>)] {
        &self.latencies
    }

    /// The smallest "nice" interval (1, 2 or 5 times a power of ten, and a whole
    /// number of base bins) that covers `[0, span]` in at most `max_points` points.
    pub fn interval_for(&self, span: SimTime, max_points: usize) -> SimDuration {
        let max_points = max_points.max(1) as u64;
        let mut decade = self.base;
        loop {
            for step in NICE_STEPS {
                let iv = decade.saturating_mul(step);
                // Points: one per interval up to and including the one holding `span`.
                if span.as_nanos() / iv < max_points || iv == u64::MAX {
                    return SimDuration(iv);
                }
            }
            decade = decade.saturating_mul(10);
        }
    }

    /// The series with at most `max_points` points each, at a common interval.
    pub fn series(&self, max_points: usize) -> (SimDuration, Vec<SeriesValues>) {
        let iv = self.interval_for(self.end, max_points);
        (iv, self.series_at(iv))
    }

    /// The series merged to `interval`, which must be a multiple of the base
    /// interval (it is rounded up to one otherwise).
    pub fn series_at(&self, interval: SimDuration) -> Vec<SeriesValues> {
        let m = interval.as_nanos().div_ceil(self.base).max(1) as usize;
        let iv_ns = (m as u64).saturating_mul(self.base);
        self.series
            .iter()
            .map(|s| {
                let mut running = 0u64;
                let values = s
                    .bins
                    .chunks(m)
                    .map(|chunk| match s.kind {
                        // count * 1e9 is exact below 2^53 and the one division is
                        // correctly rounded, so e.g. 3 events in 5 s print as 0.6.
                        SeriesKind::Rate => {
                            chunk.iter().sum::<u64>() as f64 * NANOS_PER_SEC as f64 / iv_ns as f64
                        }
                        SeriesKind::Cumulative => {
                            running += chunk.iter().sum::<u64>();
                            running as f64
                        }
                        SeriesKind::GaugeMax => chunk.iter().copied().max().unwrap_or(0) as f64,
                        SeriesKind::Utilization { capacity } => {
                            chunk.iter().sum::<u64>() as f64
                                / (iv_ns as f64 * capacity.max(1) as f64)
                        }
                    })
                    .collect();
                SeriesValues {
                    name: s.name,
                    unit: s.unit,
                    label: s.label,
                    values,
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = NANOS_PER_SEC;

    #[test]
    fn base_interval_is_a_power_of_ten_with_few_bins() {
        assert_eq!(base_interval_for(SimTime(600 * S)), SimDuration(10_000_000));
        assert_eq!(base_interval_for(SimTime(1)), SimDuration(1_000));
        assert_eq!(base_interval_for(SimTime(60 * S)), SimDuration(1_000_000));
        assert_eq!(base_interval_for(SimTime::MAX).as_nanos() % 10, 0);
    }

    #[test]
    fn series_kinds_merge_as_documented() {
        // Horizon 10 s -> base 1 ms. Record in the first two seconds.
        let mut r = Recorder::new(SimTime(10 * S));
        let rate = r.add_series("rate", "1/s", "", SeriesKind::Rate);
        let cum = r.add_series("cum", "n", "", SeriesKind::Cumulative);
        let gauge = r.add_series("gauge", "n", "", SeriesKind::GaugeMax);
        let util = r.add_series("util", "", "", SeriesKind::Utilization { capacity: 2 });
        for k in 0..100u64 {
            r.count(rate, SimTime(k * S / 100), 1); // 100 events in [0, 1) s
            r.count(cum, SimTime(k * S / 50), 1); // 50 in [0,1), 50 in [1,2)
        }
        r.gauge_max(gauge, SimTime(S / 2), 7);
        r.gauge_max(gauge, SimTime(S / 3), 3);
        // One worker busy for all of [0.5, 1.5) s: half of 2 workers' capacity in
        // each of the two 1-second intervals it overlaps... 0.5 s / (2 * 1 s) = 0.25.
        r.busy(util, SimTime(S / 2), SimTime(3 * S / 2));
        let hits = r.add_counter("hits");
        r.incr(hits, 2);
        r.incr(hits, 3);
        assert_eq!(r.counter(hits), 5);
        let rec = r.finish(SimTime(2 * S));
        assert_eq!(rec.counters(), &[("hits", 5)]);
        let out = rec.series_at(SimDuration(S));
        // Three points: [0, 1), [1, 2) and the one holding the end instant 2 s.
        assert_eq!(out[0].values, vec![100.0, 0.0, 0.0]);
        assert_eq!(out[1].values, vec![50.0, 100.0, 100.0]);
        assert_eq!(out[2].values, vec![7.0, 0.0, 0.0]);
        assert_eq!(out[3].values, vec![0.25, 0.25, 0.0]);
    }

    #[test]
    fn report_points_stay_under_the_limit_with_nice_intervals() {
        let r = Recorder::new(SimTime(600 * S));
        let rec = r.finish(SimTime(37 * S));
        let iv = rec.interval_for(SimTime(37 * S), 2_000);
        assert_eq!(iv, SimDuration(20_000_000)); // 20 ms -> 1851 points
        let (iv2, _) = rec.series(2_000);
        assert_eq!(iv, iv2);
        assert_eq!(
            rec.interval_for(SimTime(600 * S), 2_000),
            SimDuration(500_000_000)
        );
    }

    #[test]
    fn add_counts_sums_two_series_bin_by_bin() {
        // Horizon 10 s -> base 1 ms: a point of 1 s holds 1000 base bins.
        let mut r = Recorder::new(SimTime(10 * S));
        let all = r.add_series("all", "1/s", "", SeriesKind::Rate);
        let some = r.add_series("some", "1/s", "", SeriesKind::Rate);
        r.count(all, SimTime(S / 2), 3); // [0, 1) s
        r.count(some, SimTime(S / 4), 2); // [0, 1) s
        r.count(some, SimTime(3 * S / 2), 5); // [1, 2) s
        r.add_counts(all, some);
        r.add_counts(all, all); // a series into itself: no change
        let rec = r.finish(SimTime(2 * S));
        let out = rec.series_at(SimDuration(S));
        assert_eq!(out[0].values, vec![5.0, 5.0, 0.0]);
        assert_eq!(out[1].values, vec![2.0, 5.0, 0.0]);
    }

    #[test]
    fn records_past_the_horizon_are_ignored() {
        let mut r = Recorder::new(SimTime(S));
        let a = r.add_series("a", "", "", SeriesKind::Rate);
        let u = r.add_series("u", "", "", SeriesKind::Utilization { capacity: 1 });
        r.count(a, SimTime(5 * S), 1);
        r.busy(u, SimTime(S - 10), SimTime(S + 1_000_000));
        let rec = r.finish(SimTime(S));
        let v = rec.series_at(SimDuration(S));
        assert_eq!(v[0].values.iter().sum::<f64>(), 0.0);
    }

    #[test]
    fn latency_summary_is_exact_for_mean_and_max() {
        let mut h = LatencyHistogram::new();
        assert!(h.summary().is_none());
        for ms in 1..=100u64 {
            h.record(SimDuration::from_millis(ms));
        }
        let s = h.summary().unwrap_or_else(|| unreachable!());
        assert_eq!(s.count, 100);
        assert!((s.mean_ns - 50.5e6).abs() < 1e-3);
        assert_eq!(s.max_ns, 100_000_000);
        // Percentiles within three significant digits.
        assert!((s.p50_ns as f64 - 50e6).abs() / 50e6 < 2e-3, "{}", s.p50_ns);
        assert!((s.p99_ns as f64 - 99e6).abs() / 99e6 < 2e-3, "{}", s.p99_ns);
    }
}

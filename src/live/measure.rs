//! What the scenario runners measure on the machine, shaped for a [`Report`]:
//! fixed-interval series bins ([`Bins`]) in the model's seconds, latency
//! histograms of fixed size ([`Latencies`], so recording a sample never grows the
//! process), and the process's resident memory ([`rss_bytes`]).
//!
//! Used by [`super::backpressure`] and [`super::heartbeat`].
//!
//! [`Report`]: crate::sim::report::Report

use crate::sim::report::Series;
use hdrhistogram::Histogram;

/// A series interval giving at most about 500 points over `horizon_s`: a power
/// of ten seconds times 1, 2 or 5, at least 10 ms.
pub fn interval_for(horizon_s: f64) -> f64 {
    let raw = (horizon_s / 500.0).max(0.01);
    let decade = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * decade)
        .find(|&v| v >= raw)
        .unwrap_or(10.0 * decade)
}

/// How a series' samples combine within one interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinKind {
    /// Counts per interval, reported per second.
    Rate,
    /// Counts per interval, reported as the running total.
    Cumulative,
    /// The largest sample in the interval; an interval without one repeats the
    /// last sample before it (the state did not change).
    GaugeMax,
}

/// One series being collected: a value per interval of `interval_s` model
/// seconds.
#[derive(Debug, Clone)]
pub struct Bins {
    name: &'static str,
    unit: &'static str,
    label: &'static str,
    kind: BinKind,
    interval_s: f64,
    /// Per interval: the sum or the largest sample, and the last sample.
    values: Vec<Option<(f64, f64)>>,
}

impl Bins {
    /// An empty series.
    pub fn new(
        name: &'static str,
        unit: &'static str,
        label: &'static str,
        kind: BinKind,
        interval_s: f64,
    ) -> Self {
        Self {
            name,
            unit,
            label,
            kind,
            interval_s,
            values: Vec::new(),
        }
    }

    fn slot(&mut self, at_s: f64) -> &mut Option<(f64, f64)> {
        let i = (at_s.max(0.0) / self.interval_s) as usize;
        // Bounded by the run's length: callers record only within it.
        if self.values.len() <= i {
            self.values.resize(i + 1, None);
        }
        &mut self.values[i]
    }

    /// Adds `v` to the interval holding `at_s` (rate and cumulative series).
    pub fn add(&mut self, at_s: f64, v: f64) {
        let slot = self.slot(at_s);
        *slot = Some((slot.map_or(0.0, |s| s.0) + v, v));
    }

    /// Records a gauge sample at `at_s`, keeping the interval's largest.
    pub fn max(&mut self, at_s: f64, v: f64) {
        let slot = self.slot(at_s);
        *slot = Some((slot.map_or(v, |s| s.0.max(v)), v));
    }

    /// The finished series over `[0, end_s)`.
    pub fn finish(self, end_s: f64) -> Series {
        let n = ((end_s / self.interval_s).ceil() as usize).max(1);
        let mut raw = self.values;
        raw.resize(n.max(raw.len()), None);
        raw.truncate(n);
        let iv = self.interval_s;
        let values = match self.kind {
            BinKind::Rate => raw.iter().map(|v| v.map_or(0.0, |s| s.0) / iv).collect(),
            BinKind::Cumulative => raw
                .iter()
                .scan(0.0, |sum, v| {
                    *sum += v.map_or(0.0, |s| s.0);
                    Some(*sum)
                })
                .collect(),
            BinKind::GaugeMax => raw
                .iter()
                .scan(0.0, |last, v| {
                    let (most, final_sample) = v.unwrap_or((*last, *last));
                    *last = final_sample;
                    Some(most)
                })
                .collect(),
        };
        Series {
            name: self.name.to_string(),
            unit: self.unit.to_string(),
            label: self.label.to_string(),
            values,
        }
    }
}

/// A latency histogram in microseconds (1 us to 1 day, three significant
/// digits, allocated once) with an exact mean.
#[derive(Debug, Clone)]
pub struct Latencies {
    hist: Histogram<u64>,
    sum_us: f64,
}

impl Default for Latencies {
    fn default() -> Self {
        Self::new()
    }
}

impl Latencies {
    /// An empty histogram.
    pub fn new() -> Self {
        let hist = Histogram::new_with_bounds(1, 86_400_000_000, 3)
            .unwrap_or_else(|_| unreachable!("constant, valid histogram bounds"));
        Self { hist, sum_us: 0.0 }
    }

    /// Adds one sample, in seconds.
    pub fn record_s(&mut self, s: f64) {
        let us = (s.max(0.0) * 1e6).round();
        self.hist.saturating_record((us as u64).max(1));
        self.sum_us += us;
    }

    /// Samples recorded.
    pub fn count(&self) -> u64 {
        self.hist.len()
    }

    /// The mean in milliseconds, or `None` when empty.
    pub fn mean_ms(&self) -> Option<f64> {
        (self.count() > 0).then(|| self.sum_us / self.count() as f64 / 1000.0)
    }

    /// The `q` quantile in milliseconds (within 0.1 %), or `None` when empty.
    pub fn quantile_ms(&self, q: f64) -> Option<f64> {
        (self.count() > 0).then(|| self.hist.value_at_quantile(q) as f64 / 1000.0)
    }
}

/// This process's resident set size in bytes (Linux: `VmRSS` in
/// /proc/self/status), or `None` where it cannot be read.
pub fn rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_are_round_and_few() {
        assert_eq!(interval_for(1.0), 0.01);
        assert_eq!(interval_for(600.0), 2.0);
        assert!((interval_for(30.0) - 0.1).abs() < 1e-12);
    }

    #[test]
    fn bins_shape_rates_totals_and_gauges() {
        let mut r = Bins::new("r", "1/s", "", BinKind::Rate, 0.5);
        r.add(0.1, 1.0);
        r.add(0.2, 1.0);
        r.add(1.2, 3.0);
        assert_eq!(r.finish(1.5).values, [4.0, 0.0, 6.0]);
        let mut c = Bins::new("c", "n", "", BinKind::Cumulative, 0.5);
        c.add(0.1, 1.0);
        c.add(1.2, 3.0);
        assert_eq!(c.finish(2.0).values, [1.0, 1.0, 4.0, 4.0]);
        let mut g = Bins::new("g", "n", "", BinKind::GaugeMax, 0.5);
        g.max(0.1, 5.0);
        g.max(0.2, 2.0);
        g.max(1.1, 1.0);
        // The second interval has no sample: the state was still 2, not 5.
        assert_eq!(g.finish(2.0).values, [5.0, 2.0, 1.0, 1.0]);
    }

    #[test]
    fn latencies_keep_mean_and_quantiles() {
        let mut l = Latencies::new();
        assert_eq!(l.mean_ms(), None);
        for ms in 1..=100 {
            l.record_s(f64::from(ms) / 1000.0);
        }
        assert_eq!(l.count(), 100);
        assert!((l.mean_ms().unwrap_or(0.0) - 50.5).abs() < 1e-9);
        let p99 = l.quantile_ms(0.99).unwrap_or(0.0);
        assert!((p99 - 99.0).abs() < 0.1, "{p99}");
    }

    #[test]
    fn this_process_has_a_resident_size() {
        if std::path::Path::new("/proc/self/status").exists() {
            assert!(rss_bytes().is_some_and(|b| b > 0));
        }
    }
}

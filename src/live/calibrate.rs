//! `simulate herd --calibrate`: measures what one WebSocket handshake really
//! costs on this machine, so the model can extrapolate from it.
//!
//! The burst is a small live herd: 2,000 in-process clients reconnect at once
//! (no jitter, unlimited backlog up to `somaxconn`, no timeout) to the live
//! herd's own server with one worker and no added cost, and every connection is
//! held until the last one is in, as in a real herd. A first, untimed burst of
//! the same size warms the process up (it faults in the memory thousands of
//! connections need, which a cold first burst pays for on top, and which the
//! live run that follows finds ready). The cost per handshake is
//! the burst's wall time until the last client connected divided by the
//! handshakes: everything one connection costs here, all in — the server's
//! accept and handshake, and the clients' connects and handshakes, which share
//! the same cores (as they do in `--live`). That is the number that predicts a
//! live run on this machine. On a 2-core machine the clients' side is most of
//! it: the calibration also reports how long the worker itself was busy per
//! handshake ([`Calibration::worker_ms`]), which is what a server whose clients
//! sit elsewhere would spend. More workers than cores add no capacity here,
//! although the model will count them.

use super::error::LiveError;
use super::herd::{LiveHerdOptions, run_herd_raw};
use crate::sim::scenarios::herd::{BackoffPolicy, HerdConfig};
use std::fmt;
use std::time::Duration;

/// How big the burst is and how long it may take.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CalibrateOptions {
    /// Clients in the burst: one handshake each.
    pub handshakes: u64,
    /// Longest the burst may take on the wall clock.
    pub max_wall: Duration,
}

impl Default for CalibrateOptions {
    fn default() -> Self {
        Self {
            handshakes: 2_000,
            max_wall: Duration::from_secs(20),
        }
    }
}

/// What the burst measured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Calibration {
    /// Handshakes in the burst.
    pub handshakes: u64,
    /// Wall time from the burst's start until the last handshake completed.
    pub elapsed: Duration,
    /// Time the worker itself was busy (accepting and handshaking), in total.
    pub worker_busy: Duration,
}

impl Calibration {
    /// Wall milliseconds one worker spends per handshake, all in.
    pub fn service_ms(&self) -> f64 {
        self.elapsed.as_secs_f64() * 1000.0 / self.handshakes.max(1) as f64
    }

    /// Milliseconds the worker itself was busy per handshake (the server's share
    /// of [`Self::service_ms`]).
    pub fn worker_ms(&self) -> f64 {
        self.worker_busy.as_secs_f64() * 1000.0 / self.handshakes.max(1) as f64
    }

    /// The cost handed to the model as `--handshake-ms`: [`Self::service_ms`]
    /// rounded to 0.1 µs.
    pub fn handshake_ms(&self) -> f64 {
        ((self.service_ms() * 1e4).round() / 1e4).max(1e-4)
    }

    /// Handshakes per second on one worker.
    pub fn per_s(&self) -> f64 {
        self.handshakes as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// A short summary for a report parameter.
    pub fn summary(&self) -> String {
        format!(
            "{} handshakes/s on 1 worker, from {} handshakes",
            crate::output::group_thousands(self.per_s().round() as i64),
            crate::output::group_thousands(self.handshakes as i64)
        )
    }
}

impl fmt::Display for Calibration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "calibrated: handshake {} ms per worker, all in ({} handshakes/s on 1 worker with \
             the clients on the same cores; the worker itself was busy {:.4} ms of each), \
             measured from {} handshakes on loopback",
            self.handshake_ms(),
            crate::output::group_thousands(self.per_s().round() as i64),
            self.worker_ms(),
            crate::output::group_thousands(self.handshakes as i64)
        )
    }
}

/// Runs the burst and returns what it measured.
pub fn calibrate_handshake(opts: &CalibrateOptions) -> Result<Calibration, LiveError> {
    let cfg = HerdConfig {
        clients: opts.handshakes,
        jitter_s: 0.0,
        workers: 1,
        // Not slept: the live server adds no cost (`natural_handshake`).
        handshake_ms: 1.0,
        backlog: None,
        backoff: BackoffPolicy::FullJitter,
        timeout_s: None,
        horizon_s: opts.max_wall.as_secs_f64(),
        ..HerdConfig::default()
    };
    let live = LiveHerdOptions {
        max_wall: opts.max_wall,
        natural_handshake: true,
        ..LiveHerdOptions::default()
    };
    // The warm-up burst; only its errors matter.
    run_herd_raw(&cfg, &live, 1)?;
    let report = run_herd_raw(&cfg, &live, 2)?.report();
    let all = report.metric_value("time_to_all_s");
    // Utilization is busy time over the interval, for one worker.
    let busy_s = report.series("utilization").map_or(0.0, |u| {
        u.values.iter().sum::<f64>() * report.series_interval_s
    });
    match all {
        Some(all) if all > 0.0 => Ok(Calibration {
            handshakes: opts.handshakes,
            elapsed: Duration::from_secs_f64(all),
            worker_busy: Duration::from_secs_f64(busy_s.min(all)),
        }),
        _ => Err(LiveError::Config(format!(
            "calibration failed: {} of {} handshakes completed within {} s; the machine may be \
             overloaded",
            report.metric_value("connected").unwrap_or(0.0),
            opts.handshakes,
            opts.max_wall.as_secs()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_small_burst_measures_a_cost() {
        let c = calibrate_handshake(&CalibrateOptions {
            handshakes: 100,
            max_wall: Duration::from_secs(20),
        })
        .expect("calibrates");
        assert_eq!(c.handshakes, 100);
        assert!(c.service_ms() > 0.0 && c.handshake_ms() > 0.0);
        assert!(c.worker_ms() > 0.0 && c.worker_ms() <= c.service_ms());
        assert!((c.per_s() * c.service_ms() / 1000.0 - 1.0).abs() < 1e-9);
        let line = c.to_string();
        assert!(line.starts_with("calibrated: handshake "), "{line}");
        assert!(line.contains("from 100 handshakes"), "{line}");
    }

    #[test]
    fn the_figures_follow_from_the_measurement() {
        let c = Calibration {
            handshakes: 2_000,
            elapsed: Duration::from_millis(500),
            worker_busy: Duration::from_millis(100),
        };
        assert_eq!(c.handshake_ms(), 0.25);
        assert!((c.per_s() - 4_000.0).abs() < 1e-9);
        assert_eq!(c.worker_ms(), 0.05);
        assert_eq!(
            c.summary(),
            "4,000 handshakes/s on 1 worker, from 2,000 handshakes"
        );
        assert!(c.to_string().contains("busy 0.0500 ms of each"));
    }
}

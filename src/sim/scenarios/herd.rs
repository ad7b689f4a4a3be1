//! The thundering-herd scenario (issue 3): a server restarts and every client
//! reconnects at once.
//!
//! **Model.** `clients` clients lose their connection at t = 0. Each waits a first
//! delay drawn uniformly from `[0, jitter]` (whole nanoseconds) and tries to
//! reconnect. The server has `workers` handshake workers, each spending
//! `handshake_ms` per handshake, fed FIFO from an accept queue of at most `backlog`
//! waiting attempts (or unlimited). An attempt that must wait while `backlog`
//! attempts already wait is *refused*; the client sleeps per the backoff policy
//! and tries again. An attempt that waits in the queue longer than `timeout`
//! (measured from when it was queued to when a worker takes it) is given up by its
//! client at `queued + timeout`, and the client sleeps and tries again, but its
//! queued handshake stays in the queue and a worker still spends `handshake_ms` on
//! it when it is reached (a *wasted* handshake). A client is connected when a
//! handshake it has not given up on completes. Connect latency runs from a client's
//! first attempt to that moment.
//!
//! **Backoff** (AWS Architecture Blog, "Exponential Backoff And Jitter"), with
//! `attempt` = the client's failed attempts so far minus one (so the first retry
//! uses `base`): `none` sleeps exactly `base` (1 s by default, like a SYN
//! retransmit); `exponential` sleeps `min(cap, base * 2^attempt)`; `full-jitter`
//! sleeps uniform in `[0, min(cap, base * 2^attempt)]`; `decorrelated` sleeps
//! `min(cap, uniform in [base, previous_sleep * 3])` with `previous_sleep` starting
//! at `base`.
//!
//! **How it runs fast.** Every handshake takes the same time and the queue is
//! FIFO, so when an attempt is queued its start time is already determined: the
//! n-th accepted attempt starts at `max(arrival, start of attempt n - workers +
//! handshake)` (the earliest-free worker is always the one that started
//! `workers` attempts ago). The model therefore has one kind of event, a
//! client's attempt; it learns at that moment whether the attempt will connect,
//! be refused or time out, and records completions, busy time and timeouts at
//! the instants they will happen. The accept queue is a FIFO of start times, and
//! its depth at time `t` is the number of queued attempts that start after `t`.
//!
//! In a big herd almost every attempt is refused, and a refusal changes nothing
//! on the server: only acceptances need to be run in time order. Pending
//! attempts therefore wait in a timing wheel of unsorted buckets about one
//! handshake interval wide ([`wheel`]), not in the engine's event queue; one
//! engine event (a [`HerdTick`]) runs the buckets of the next few tens of
//! milliseconds. Within a bucket, the earliest instant at which an attempt
//! could be accepted follows from the queue and the workers; every attempt
//! before it is refused, in the order the bucket holds them, and the earliest
//! one at or after it is accepted; repeat. Refused attempts draw their backoff
//! in that order, which differs from strict time order, so a run is a
//! different (equally likely) draw than a one-event-at-a-time run with the
//! same seed would be; acceptances, and so every server-side measurement,
//! follow the model exactly. A bucket that needs many passes is sorted and run
//! one attempt at a time.
//!
//! A client's whole state travels in its pending attempt ([`HerdEvent`]): its
//! number, and its failure count or, for decorrelated backoff, its previous
//! sleep. Its first-attempt time, needed again only when it connects, is drawn
//! from its number ([`crate::sim::rng::hashed_below`]) rather than stored.
//! There are no per-client arrays, so the hot path never touches memory at a
//! random client's address, and a waiting client costs 8 bytes of wheel
//! (16 bytes when the state and the time offset do not fit in one word). One
//! rounding keeps the state small, far below anything the metrics show:
//! decorrelated backoff remembers its previous sleep rounded up to 1/65,535 of
//! the cap (0.46 ms at a 30 s cap).
//!
//! Talks to: the engine ([`crate::sim::engine`]) for time, events and the RNG; the
//! recorder for series; [`crate::sim::registry`] lists it as `herd`.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

use wheel::{Slot, Wheel};

use crate::sim::engine::Engine;
use crate::sim::error::SimError;
use crate::sim::recorder::{LatencyId, Recorder, SeriesId, SeriesKind};
use crate::sim::registry::{MetricInfo, ParamInfo};
use crate::sim::report::{Metric, Parameter};
use crate::sim::rng::{SimRng, hashed_below};
use crate::sim::scenario::{Finish, Scenario};
use crate::sim::spec::{self, MemoryEstimate, fmt_num, is_unlimited, parse_count, parse_seconds};
use crate::sim::time::{NANOS_PER_SEC, SimDuration, SimTime};

/// The registry name.
pub const NAME: &str = "herd";

/// Most clients one run may have (counts and the 99 % target stay in `u32`).
pub const MAX_CLIENTS: u64 = u32::MAX as u64;
/// Most handshake workers.
pub const MAX_WORKERS: u64 = 1_000_000;
/// Longest horizon, in seconds (about 116 days).
pub const MAX_HORIZON_S: f64 = 10_000_000.0;

/// How a client waits before retrying a refused or timed-out attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BackoffPolicy {
    /// Retry after exactly `base` (a SYN retransmit).
    None,
    /// `min(cap, base * 2^attempt)`.
    Exponential,
    /// Uniform in `[0, min(cap, base * 2^attempt)]`.
    #[default]
    FullJitter,
    /// `min(cap, uniform in [base, previous * 3])`.
    Decorrelated,
}

impl BackoffPolicy {
    /// All policies, in help order.
    pub const ALL: [BackoffPolicy; 4] = [
        BackoffPolicy::None,
        BackoffPolicy::Exponential,
        BackoffPolicy::FullJitter,
        BackoffPolicy::Decorrelated,
    ];

    /// The CLI spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            BackoffPolicy::None => "none",
            BackoffPolicy::Exponential => "exponential",
            BackoffPolicy::FullJitter => "full-jitter",
            BackoffPolicy::Decorrelated => "decorrelated",
        }
    }

    /// Parses the CLI spelling (and `_`/short aliases).
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().replace('_', "-").as_str() {
            "none" | "fixed" => Some(BackoffPolicy::None),
            "exponential" | "exp" => Some(BackoffPolicy::Exponential),
            "full-jitter" | "full" | "jitter" => Some(BackoffPolicy::FullJitter),
            "decorrelated" | "decorrelated-jitter" => Some(BackoffPolicy::Decorrelated),
            _ => None,
        }
    }
}

/// Herd parameters as the user gives them (seconds, milliseconds, counts), before
/// validation. `Default` is the documented CLI defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct HerdConfig {
    /// Clients that reconnect.
    pub clients: u64,
    /// First attempts are uniform in `[0, jitter_s]` seconds.
    pub jitter_s: f64,
    /// Handshake workers.
    pub workers: u64,
    /// Milliseconds per handshake.
    pub handshake_ms: f64,
    /// Accept-queue size; `None` = unlimited.
    pub backlog: Option<u64>,
    /// Retry policy.
    pub backoff: BackoffPolicy,
    /// Backoff base, seconds.
    pub backoff_base_s: f64,
    /// Backoff cap, seconds.
    pub backoff_cap_s: f64,
    /// Longest wait in the queue before the client gives up, seconds; `None` = never.
    pub timeout_s: Option<f64>,
    /// Stop time, seconds.
    pub horizon_s: f64,
}

impl Default for HerdConfig {
    fn default() -> Self {
        Self {
            clients: 100_000,
            jitter_s: 0.0,
            workers: 2,
            handshake_ms: 0.5,
            backlog: Some(4096),
            backoff: BackoffPolicy::FullJitter,
            backoff_base_s: 1.0,
            backoff_cap_s: 30.0,
            timeout_s: Some(10.0),
            horizon_s: 600.0,
        }
    }
}

/// The herd's parameters: name, unit, default and meaning (the registry's table).
pub const PARAMS: &[ParamInfo] = &[
    ParamInfo {
        name: "clients",
        unit: "clients",
        default: "100000",
        help: "clients that lose their connection at t = 0 and reconnect",
        aliases: &[],
    },
    ParamInfo {
        name: "jitter",
        unit: "s",
        default: "0",
        help: "first attempts are spread uniformly over [0, jitter] seconds (0 = all at once)",
        aliases: &[],
    },
    ParamInfo {
        name: "workers",
        unit: "workers",
        default: "2",
        help: "handshake workers on the server",
        aliases: &[],
    },
    ParamInfo {
        name: "handshake_ms",
        unit: "ms",
        default: "0.5",
        help: "worker time per handshake",
        aliases: &["handshake"],
    },
    ParamInfo {
        name: "backlog",
        unit: "entries",
        default: "4096",
        help: "accept-queue size (waiting attempts), or unlimited",
        aliases: &[],
    },
    ParamInfo {
        name: "backoff",
        unit: "",
        default: "full-jitter",
        help: "retry policy: none, exponential, full-jitter or decorrelated",
        aliases: &[],
    },
    ParamInfo {
        name: "backoff_base",
        unit: "s",
        default: "1",
        help: "backoff base (and the fixed sleep of --backoff none)",
        aliases: &["base"],
    },
    ParamInfo {
        name: "backoff_cap",
        unit: "s",
        default: "30",
        help: "longest backoff sleep",
        aliases: &["cap"],
    },
    ParamInfo {
        name: "timeout",
        unit: "s",
        default: "10",
        help: "longest wait in the accept queue before the client gives up and retries, or none",
        aliases: &[],
    },
    ParamInfo {
        name: "horizon",
        unit: "s",
        default: "600",
        help: "virtual time at which the run stops",
        aliases: &[],
    },
];

/// The herd's summary metrics, in report order.
pub const METRICS: &[MetricInfo] = &[
    MetricInfo {
        name: "time_to_all_s",
        unit: "s",
        help: "until every client connected",
    },
    MetricInfo {
        name: "time_to_p99_s",
        unit: "s",
        help: "until 99% of clients connected",
    },
    MetricInfo {
        name: "connected",
        unit: "clients",
        help: "connected at the end",
    },
    MetricInfo {
        name: "attempts",
        unit: "attempts",
        help: "first tries and retries",
    },
    MetricInfo {
        name: "refused",
        unit: "attempts",
        help: "refused: accept queue full",
    },
    MetricInfo {
        name: "timeouts",
        unit: "attempts",
        help: "given up after --timeout in queue",
    },
    MetricInfo {
        name: "wasted_handshakes",
        unit: "handshakes",
        help: "done for clients who gave up",
    },
    MetricInfo {
        name: "peak_queue",
        unit: "entries",
        help: "largest accept-queue depth",
    },
    MetricInfo {
        name: "peak_utilization",
        unit: "fraction",
        help: "busiest second of worker time",
    },
    MetricInfo {
        name: "connect_latency_mean_ms",
        unit: "ms",
        help: "first attempt -> connected, mean",
    },
    MetricInfo {
        name: "connect_latency_p50_ms",
        unit: "ms",
        help: "connect latency, median",
    },
    MetricInfo {
        name: "connect_latency_p90_ms",
        unit: "ms",
        help: "connect latency, 90th pct",
    },
    MetricInfo {
        name: "connect_latency_p99_ms",
        unit: "ms",
        help: "connect latency, 99th pct",
    },
    MetricInfo {
        name: "connect_latency_max_ms",
        unit: "ms",
        help: "connect latency, slowest",
    },
    MetricInfo {
        name: "capacity_per_s",
        unit: "1/s",
        help: "workers / handshake time",
    },
    MetricInfo {
        name: "fluid_time_to_all_s",
        unit: "s",
        help: "max(jitter, clients / capacity)",
    },
    MetricInfo {
        name: "still_trying",
        unit: "clients",
        help: "not connected at the end",
    },
    MetricInfo {
        name: "in_flight_at_end",
        unit: "attempts",
        help: "handshakes unfinished at the end",
    },
];

/// Names of the herd's time series, in report order.
pub const SERIES: &[&str] = &[
    "connected",
    "arrivals_per_s",
    "queue_depth",
    "utilization",
    "refused_per_s",
    "timeouts_per_s",
];

/// Canonical parameter name for a user spelling (`--handshake-ms`, `handshake_ms`,
/// `handshake`).
pub fn canonical_param(name: &str) -> Option<&'static str> {
    spec::canonical_param(PARAMS, name)
}

impl HerdConfig {
    /// Sets one parameter from text, e.g. `("jitter", "30")`, `("backlog",
    /// "unlimited")`, `("handshake-ms", "0.5")`, `("timeout", "none")`. Times
    /// accept a unit suffix (`500ms`, `2s`, `1min`). Ranges are checked by
    /// [`HerdConfig::validate`].
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), SimError> {
        let Some(param) = canonical_param(name) else {
            return Err(spec::unknown_param(NAME, PARAMS, name));
        };
        let flag: &'static str = match param {
            "handshake_ms" => "handshake-ms",
            "backoff_base" => "backoff-base",
            "backoff_cap" => "backoff-cap",
            other => other,
        };
        let bad = |expected: &'static str| SimError::InvalidValue {
            param: flag,
            value: value.to_string(),
            expected,
        };
        const SECONDS: &str = "a number of seconds such as 30, 0.5 or 500ms";
        const COUNT: &str = "a whole number such as 100000";
        match param {
            "clients" | "workers" => {
                let n = parse_count(value).ok_or_else(|| bad(COUNT))?;
                if n <= 0 {
                    return Err(SimError::MustBePositive {
                        param: flag,
                        value: value.trim().to_string(),
                    });
                }
                let n = u64::try_from(n).unwrap_or(u64::MAX);
                if param == "clients" {
                    self.clients = n;
                } else {
                    self.workers = n;
                }
            }
            "jitter" => self.jitter_s = parse_seconds(value, 1.0).ok_or_else(|| bad(SECONDS))?,
            "handshake_ms" => {
                let s = parse_seconds(value, 1e-3)
                    .ok_or_else(|| bad("a number of milliseconds such as 0.5"))?;
                self.handshake_ms = s * 1e3;
            }
            "backlog" => {
                if is_unlimited(value) {
                    self.backlog = None;
                } else {
                    let n = parse_count(value)
                        .ok_or_else(|| bad("a whole number such as 4096, or unlimited"))?;
                    if n < 0 {
                        return Err(SimError::MustBeNonNegative {
                            param: flag,
                            value: value.trim().to_string(),
                        });
                    }
                    self.backlog = Some(u64::try_from(n).unwrap_or(u64::MAX));
                }
            }
            "backoff" => {
                self.backoff = BackoffPolicy::parse(value)
                    .ok_or_else(|| bad("none, exponential, full-jitter or decorrelated"))?;
            }
            "backoff_base" => {
                self.backoff_base_s = parse_seconds(value, 1.0).ok_or_else(|| bad(SECONDS))?;
            }
            "backoff_cap" => {
                self.backoff_cap_s = parse_seconds(value, 1.0).ok_or_else(|| bad(SECONDS))?;
            }
            "timeout" => {
                self.timeout_s = if is_unlimited(value) {
                    None
                } else {
                    Some(
                        parse_seconds(value, 1.0)
                            .ok_or_else(|| bad("seconds such as 10, or none"))?,
                    )
                };
            }
            "horizon" => self.horizon_s = parse_seconds(value, 1.0).ok_or_else(|| bad(SECONDS))?,
            _ => unreachable!("canonical_param returns only names in PARAMS"),
        }
        Ok(())
    }

    /// The parameter's current value as text, e.g. `unlimited` (for `--compare`
    /// labels and reports).
    pub fn get(&self, param: &str) -> Option<String> {
        Some(match canonical_param(param)? {
            "clients" => self.clients.to_string(),
            "jitter" => fmt_num(self.jitter_s),
            "workers" => self.workers.to_string(),
            "handshake_ms" => fmt_num(self.handshake_ms),
            "backlog" => self.backlog.map_or("unlimited".into(), |b| b.to_string()),
            "backoff" => self.backoff.as_str().to_string(),
            "backoff_base" => fmt_num(self.backoff_base_s),
            "backoff_cap" => fmt_num(self.backoff_cap_s),
            "timeout" => self.timeout_s.map_or("none".into(), fmt_num),
            "horizon" => fmt_num(self.horizon_s),
            _ => return None,
        })
    }

    /// The parameters for a report, in [`PARAMS`] order.
    pub fn parameters(&self) -> Vec<Parameter> {
        PARAMS
            .iter()
            .map(|p| Parameter::new(p.name, self.get(p.name).unwrap_or_default(), p.unit))
            .collect()
    }

    /// Checks every range and converts to engine units.
    pub fn validate(&self) -> Result<HerdParams, SimError> {
        fn secs(param: &'static str, s: f64, positive: bool) -> Result<SimDuration, SimError> {
            let d = SimDuration::try_from_secs_f64(s);
            match d {
                Some(d) if !positive || d.as_nanos() > 0 => Ok(d),
                None if s.is_finite() && s > 0.0 => Err(SimError::TooLarge {
                    param,
                    value: fmt_num(s),
                    max: format!("{MAX_HORIZON_S} s"),
                }),
                _ if positive => Err(SimError::MustBePositive {
                    param,
                    value: fmt_num(s),
                }),
                _ => Err(SimError::MustBeNonNegative {
                    param,
                    value: fmt_num(s),
                }),
            }
        }
        let too_large =
            |param, value: String, max: String| SimError::TooLarge { param, value, max };

        if self.clients == 0 {
            return Err(SimError::MustBePositive {
                param: "clients",
                value: "0".into(),
            });
        }
        if self.clients > MAX_CLIENTS {
            return Err(too_large(
                "clients",
                self.clients.to_string(),
                MAX_CLIENTS.to_string(),
            ));
        }
        if self.workers == 0 {
            return Err(SimError::MustBePositive {
                param: "workers",
                value: "0".into(),
            });
        }
        if self.workers > MAX_WORKERS {
            return Err(too_large(
                "workers",
                self.workers.to_string(),
                MAX_WORKERS.to_string(),
            ));
        }
        for (param, v) in [
            ("jitter", self.jitter_s),
            ("horizon", self.horizon_s),
            ("backoff-base", self.backoff_base_s),
            ("backoff-cap", self.backoff_cap_s),
        ] {
            if v > MAX_HORIZON_S {
                return Err(too_large(param, fmt_num(v), format!("{MAX_HORIZON_S} s")));
            }
        }
        let jitter = secs("jitter", self.jitter_s, false)?;
        let handshake =
            secs("handshake-ms", self.handshake_ms / 1e3, true).map_err(|e| match e {
                SimError::MustBePositive { .. } => SimError::MustBePositive {
                    param: "handshake-ms",
                    value: fmt_num(self.handshake_ms),
                },
                other => other,
            })?;
        let backoff_base = secs("backoff-base", self.backoff_base_s, true)?;
        let backoff_cap = secs("backoff-cap", self.backoff_cap_s, true)?;
        if backoff_cap < backoff_base {
            return Err(SimError::CapBelowBase {
                cap_s: self.backoff_cap_s,
                base_s: self.backoff_base_s,
            });
        }
        let timeout = match self.timeout_s {
            None => None,
            Some(t) if t > MAX_HORIZON_S => None,
            Some(t) => Some(secs("timeout", t, true)?),
        };
        let horizon = secs("horizon", self.horizon_s, true)?;
        if horizon < jitter {
            return Err(SimError::HorizonTooShort {
                horizon_s: self.horizon_s,
                jitter_s: self.jitter_s,
            });
        }
        // In u32 range (checked above).
        let clients = u32::try_from(self.clients).unwrap_or(u32::MAX);
        let workers = u32::try_from(self.workers).unwrap_or(u32::MAX);
        Ok(HerdParams {
            clients,
            jitter,
            workers,
            handshake,
            backlog: self.backlog,
            backoff: self.backoff,
            backoff_base,
            backoff_cap,
            timeout,
            horizon: SimTime(horizon.as_nanos()),
        })
    }
}

/// Validated herd parameters in engine units.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HerdParams {
    /// Clients (>= 1).
    pub clients: u32,
    /// Spread of first attempts.
    pub jitter: SimDuration,
    /// Workers (>= 1).
    pub workers: u32,
    /// Time per handshake (>= 1 ns).
    pub handshake: SimDuration,
    /// Accept-queue size; `None` = unlimited.
    pub backlog: Option<u64>,
    /// Retry policy.
    pub backoff: BackoffPolicy,
    /// Backoff base.
    pub backoff_base: SimDuration,
    /// Backoff cap (>= base).
    pub backoff_cap: SimDuration,
    /// Longest queue wait; `None` = never give up.
    pub timeout: Option<SimDuration>,
    /// Stop time (>= jitter).
    pub horizon: SimTime,
}

impl HerdParams {
    /// Handshakes per second the server can do.
    pub fn capacity_per_s(&self) -> f64 {
        f64::from(self.workers) * NANOS_PER_SEC as f64 / self.handshake.as_nanos() as f64
    }

    /// Estimated peak memory per client, in bytes: its pending attempt (8
    /// bytes in the wheel, 16 in the bucket being run) with slack for the
    /// worst case, when every client tries at t = 0 (16 bytes in one bucket's
    /// growing buffer, then the sort's scratch space: 48), plus its queued
    /// start time when the backlog is unlimited.
    pub fn bytes_per_client(&self) -> u64 {
        let mut b = 48;
        if self.backlog.is_none() {
            b += 8;
        }
        b
    }

    /// Estimated peak memory of a run.
    pub fn memory(&self) -> MemoryEstimate {
        let fixed = 16 << 20; // recorder bins, histogram, binary
        let per_second = self.horizon.as_nanos() / NANOS_PER_SEC * 8;
        MemoryEstimate::new(
            "clients",
            u64::from(self.clients),
            "client",
            self.bytes_per_client(),
            fixed + per_second + u64::from(self.workers) * 8,
        )
    }

    /// Estimated peak memory of a run, in bytes.
    pub fn estimated_bytes(&self) -> u64 {
        self.memory().total_bytes
    }

    /// Refuses a run that would not fit in `available` bytes.
    pub fn check_memory(&self, available: Option<u64>) -> Result<(), SimError> {
        self.memory().check(available)
    }
}

spec::forward_scenario_spec!(HerdConfig => Herd);

/// `min(cap, base * 2^(failures - 1))` in ns: the exponential sleep, and the
/// top of the full-jitter range, after `failures` (>= 1) failed attempts.
#[inline]
pub fn exp_ceiling(base: SimDuration, cap: SimDuration, failures: u32) -> u64 {
    let (base, cap) = (base.as_nanos(), cap.as_nanos());
    let attempt = failures.saturating_sub(1);
    if attempt >= 63 {
        cap
    } else {
        cap.min(base.saturating_mul(1u64 << attempt))
    }
}

/// Draws the next backoff sleep for a client with `failures` failed attempts so
/// far (>= 1); `prev` is its previous sleep (only used, and updated, by
/// decorrelated backoff).
#[inline]
pub fn backoff_sleep(
    policy: BackoffPolicy,
    base: SimDuration,
    cap: SimDuration,
    failures: u32,
    prev: &mut u64,
    rng: &mut SimRng,
) -> SimDuration {
    let ceiling = || exp_ceiling(base, cap, failures);
    let (base, cap) = (base.as_nanos(), cap.as_nanos());
    SimDuration(match policy {
        BackoffPolicy::None => base,
        BackoffPolicy::Exponential => ceiling(),
        BackoffPolicy::FullJitter => rng.between(0, ceiling()),
        BackoffPolicy::Decorrelated => {
            let hi = (*prev).max(base).saturating_mul(3);
            let s = cap.min(rng.between(base, hi));
            *prev = s;
            s
        }
    })
}

/// A client's state, carried by its pending attempt (kept in the [`wheel`]):
/// the client's number above [`Herd::low_bits`] low bits that hold, for
/// decorrelated backoff, the previous sleep in cap/65,535 units, and for the
/// other policies the failures so far (saturating at [`FAILURES_MAX`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HerdEvent(u64);

/// Low bits of a [`HerdEvent`] holding the failures so far.
const FAILURE_BITS: u32 = 6;
/// Low bits of a [`HerdEvent`] holding decorrelated backoff's previous sleep.
const PREV_BITS: u32 = 16;
/// Failures are remembered up to this many; from 64 failures on, every
/// policy's sleep no longer grows (see [`exp_ceiling`]).
const FAILURES_MAX: u64 = (1 << FAILURE_BITS) - 1;

/// The next attempt of a client refused at `at`, with full-jitter backoff:
/// as [`backoff_sleep`] draws it (`between(0, c)` is `below(c + 1)`), with
/// the range looked up in `ceilings` (`exp_ceiling + 1` by failure count).
/// Kept apart from [`Herd::retry`] so that the refusal pass can call it
/// without the policy tests (the most common policy, on the hottest path).
#[inline(always)]
fn full_jitter_retry(
    ceilings: &[u64; FAILURES_MAX as usize + 2],
    rng: &mut SimRng,
    ev: HerdEvent,
    at: u64,
) -> Slot {
    let f = ev.0 & FAILURES_MAX;
    let sleep = rng.below(ceilings[(f + 1) as usize]);
    Slot {
        t: at.saturating_add(sleep),
        ev: HerdEvent(ev.0 + u64::from(f < FAILURES_MAX)),
    }
}

/// The herd's engine event: run the wheel's buckets from the event's time to
/// the end of its coarse bucket (see [`wheel`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HerdTick;

/// Passes over a bucket (one acceptance each) before it is sorted instead.
const PASSES_BEFORE_SORT: usize = 8;
/// A bucket with more attempts than this, met while the accept queue has
/// room for more than this, is sorted at once.
const SORT_WHEN_ROOM_FOR: usize = 16;

/// The herd model's state; see the module documentation.
#[derive(Debug)]
pub struct Herd {
    cfg: HerdConfig,
    p: HerdParams,
    /// Key of the counter-based draw of each client's first-attempt time
    /// ([`hashed_below`]), drawn from the run's generator by `init`.
    first_key: u64,
    /// Bits of a [`HerdEvent`] below the client's number.
    low_bits: u32,
    /// Unit of the remembered previous sleep (decorrelated backoff), ns.
    prev_unit: u64,
    /// Start times of queued attempts that have not started yet (nondecreasing).
    waiting: VecDeque<u64>,
    /// When each worker slot is next free; slot `n mod workers` serves attempt n.
    free_at: Vec<u64>,
    slot: usize,
    backlog_limit: u64,
    /// Next base-bin boundary at which to sample the queue depth.
    next_sample: u64,
    sample_every: u64,
    /// The base bin `[bin_start, bin_end)` of the last bucket run.
    bin_start: u64,
    bin_end: u64,
    busy_by_second: Vec<u64>,
    /// Set by `init`, before any event.
    ids: Ids,
    /// Pending attempts (built by `init`).
    wheel: Wheel,
    /// The bucket being run (its buffer is reused).
    live: Vec<Slot>,
    /// `run_sorted`'s merge heap of in-bucket retries (time, order, client).
    heap: BinaryHeap<Reverse<(u64, u64, u64)>>,
    /// `run_sorted`'s scratch list, reused.
    extra: Vec<Slot>,
    /// `exp_ceiling + 1` by failure count (full jitter's draw range).
    ceilings: [u64; FAILURES_MAX as usize + 2],
    /// [`PASSES_BEFORE_SORT`]; tests set 0 to run every bucket sorted.
    passes_before_sort: usize,
    /// Let the wheel store an attempt in one word when it fits; tests turn it
    /// off to check the two-word layout gives the same run.
    one_word: bool,
    attempts: u64,
    refused: u64,
    timeouts: u64,
    wasted: u64,
    connected: u64,
    in_flight: u64,
    peak_queue: u64,
    p99_target: u64,
    time_to_p99: Option<u64>,
    time_to_all: Option<u64>,
}

#[derive(Debug, Clone, Copy, Default)]
struct Ids {
    connected: SeriesId,
    arrivals: SeriesId,
    queue: SeriesId,
    util: SeriesId,
    refused: SeriesId,
    timeouts: SeriesId,
    latency: LatencyId,
}

impl Herd {
    /// A herd ready to run; memory for per-client state is allocated in `init`.
    pub fn new(cfg: HerdConfig) -> Result<Self, SimError> {
        let p = cfg.validate()?;
        let n = u64::from(p.clients);
        Ok(Self {
            cfg,
            p,
            first_key: 0,
            low_bits: if p.backoff == BackoffPolicy::Decorrelated {
                PREV_BITS
            } else {
                FAILURE_BITS
            },
            prev_unit: p
                .backoff_cap
                .as_nanos()
                .div_ceil(u64::from(u16::MAX))
                .max(1),
            waiting: VecDeque::new(),
            free_at: Vec::new(),
            slot: 0,
            backlog_limit: p.backlog.unwrap_or(u64::MAX),
            next_sample: 0,
            sample_every: 1,
            bin_start: 0,
            bin_end: 0,
            busy_by_second: Vec::new(),
            ids: Ids::default(),
            wheel: Wheel::default(),
            live: Vec::new(),
            heap: BinaryHeap::new(),
            extra: Vec::new(),
            ceilings: std::array::from_fn(|f| {
                exp_ceiling(p.backoff_base, p.backoff_cap, f as u32) + 1
            }),
            passes_before_sort: PASSES_BEFORE_SORT,
            one_word: true,
            attempts: 0,
            refused: 0,
            timeouts: 0,
            wasted: 0,
            connected: 0,
            in_flight: 0,
            peak_queue: 0,
            p99_target: (n * 99).div_ceil(100).max(1),
            time_to_p99: None,
            time_to_all: None,
        })
    }

    /// The validated parameters.
    pub fn params(&self) -> &HerdParams {
        &self.p
    }

    /// Wheel bucket width: about one handshake interval of the whole server,
    /// so an overloaded bucket holds about one acceptance.
    fn bucket_ns(&self) -> u64 {
        (self.p.handshake.as_nanos() / u64::from(self.p.workers)).max(1)
    }

    /// How far ahead of an attempt its client's next attempt can be: the
    /// timeout, then the longest sleep.
    fn reach_ns(&self) -> u64 {
        let sleep = self.p.backoff_base.max(self.p.backoff_cap).as_nanos();
        let wait = self.p.timeout.map_or(0, |t| t.as_nanos());
        sleep.saturating_add(wait)
    }

    /// Removes queued attempts that a worker has taken by time `t`.
    #[inline]
    fn retire(&mut self, t: u64) {
        while let Some(&s) = self.waiting.front() {
            if s > t {
                break;
            }
            self.waiting.pop_front();
        }
    }

    /// Samples the queue depth at every base-bin boundary up to `t`, so the
    /// queue-depth series also shows the queue draining between arrivals.
    #[inline]
    fn sample_until(&mut self, eng: &mut Engine<HerdTick>, ids: Ids, t: u64) {
        while self.next_sample <= t {
            let b = self.next_sample;
            self.retire(b);
            eng.rec
                .gauge_max(ids.queue, SimTime(b), self.waiting.len() as u64);
            self.next_sample = b.saturating_add(self.sample_every);
            if self.next_sample == u64::MAX {
                break;
            }
        }
    }

    /// Adds the busy span `[start, end)` (clipped to the horizon) to the per-second
    /// tallies behind `peak_utilization`.
    #[inline]
    fn add_busy_seconds(&mut self, start: u64, end: u64) {
        let end = end.min(self.p.horizon.as_nanos());
        let mut s = start;
        while s < end {
            let sec = (s / NANOS_PER_SEC) as usize;
            let upto = end.min((sec as u64 + 1) * NANOS_PER_SEC);
            if let Some(b) = self.busy_by_second.get_mut(sec) {
                *b += upto - s;
            }
            s = upto;
        }
    }

    /// The client's next attempt after a failure noticed at `at`.
    #[inline(always)]
    fn retry(&mut self, rng: &mut SimRng, ev: HerdEvent, at: u64) -> Slot {
        if self.p.backoff == BackoffPolicy::FullJitter {
            return full_jitter_retry(&self.ceilings, rng, ev, at);
        }
        let (sleep, ev) = if self.p.backoff == BackoffPolicy::Decorrelated {
            let prev_mask = (1 << PREV_BITS) - 1;
            let mut prev = (ev.0 & prev_mask) * self.prev_unit;
            let sleep = backoff_sleep(
                self.p.backoff,
                self.p.backoff_base,
                self.p.backoff_cap,
                1,
                &mut prev,
                rng,
            );
            let q = prev.div_ceil(self.prev_unit).min(prev_mask);
            (sleep.as_nanos(), HerdEvent((ev.0 & !prev_mask) | q))
        } else {
            let f = (ev.0 & FAILURES_MAX) + 1;
            let sleep = backoff_sleep(
                self.p.backoff,
                self.p.backoff_base,
                self.p.backoff_cap,
                f as u32,
                &mut 0,
                rng,
            )
            .as_nanos();
            let stored = f.min(FAILURES_MAX);
            (sleep, HerdEvent((ev.0 & !FAILURES_MAX) | stored))
        };
        Slot {
            t: at.saturating_add(sleep),
            ev,
        }
    }

    /// When client `client` makes its first attempt, ns: uniform in
    /// `[0, jitter]`, drawn from the client's number so that it need not be
    /// stored.
    #[inline]
    fn first_attempt(&self, client: u64) -> u64 {
        let jitter = self.p.jitter.as_nanos();
        hashed_below(self.first_key, client, jitter.saturating_add(1))
    }

    /// Files a retry: into `live` if it falls in the bucket being run (before
    /// `end`), else into the wheel.
    #[inline(always)]
    fn file(&mut self, live: &mut Vec<Slot>, end: u64, r: Slot) {
        if r.t < end {
            live.push(r);
        } else {
            self.wheel.push(r);
        }
    }

    /// Brings the server to time `t` (no acceptance in between): samples the
    /// queue depth at the bin boundaries passed, then retires the attempts
    /// that have started.
    #[inline]
    fn catch_up(&mut self, eng: &mut Engine<HerdTick>, t: u64) {
        if t >= self.next_sample {
            self.sample_until(eng, self.ids, t);
        }
        self.retire(t);
    }

    /// The earliest instant at or after `c` at which an attempt would be
    /// accepted, given the acceptances so far: `c` itself unless the accept queue
    /// is full and every worker busy at `c`; then the first moment a worker frees
    /// up or enough queued attempts have started to leave a free place.
    #[inline]
    fn accept_threshold(&mut self, eng: &mut Engine<HerdTick>, c: u64) -> u64 {
        self.catch_up(eng, c);
        let free = self.free_at[self.slot];
        let len = self.waiting.len() as u64;
        if free <= c || len < self.backlog_limit {
            return c;
        }
        // Queued starts are nondecreasing: once the (len - limit)-th has
        // started, fewer than `limit` still wait.
        let k = (len - self.backlog_limit) as usize;
        let place = self.waiting.get(k).copied().unwrap_or(u64::MAX);
        free.min(place)
    }

    /// Free places in the accept queue (after [`Herd::accept_threshold`]).
    #[inline]
    fn room(&self) -> usize {
        let free = self.backlog_limit.saturating_sub(self.waiting.len() as u64);
        usize::try_from(free).unwrap_or(usize::MAX)
    }

    /// A refused attempt at `a.t` (the accept queue full, every worker busy);
    /// the caller counts it. `per_event`: record it in the refused series now
    /// (else the caller adds the bucket's refusals at once). `rng` is the
    /// run's generator, or a copy of it the caller keeps in registers over a
    /// run of refusals and writes back.
    #[inline(always)]
    fn refuse(
        &mut self,
        rec: &mut Recorder,
        rng: &mut SimRng,
        live: &mut Vec<Slot>,
        end: u64,
        a: Slot,
        per_event: bool,
    ) {
        if per_event {
            rec.count(self.ids.refused, SimTime(a.t), 1);
        }
        let r = self.retry(rng, a.ev, a.t);
        self.file(live, end, r);
    }

    /// An accepted attempt at `a.t`: a worker slot is committed and the
    /// handshake will happen; the client connects, or gives up at its timeout
    /// and retries (see the module documentation).
    fn accept(&mut self, eng: &mut Engine<HerdTick>, live: &mut Vec<Slot>, end: u64, a: Slot) {
        let t = a.t;
        self.catch_up(eng, t);
        let ids = self.ids;
        let horizon = self.p.horizon.as_nanos();
        let h = self.p.handshake.as_nanos();
        eng.rec.count(ids.arrivals, SimTime(t), 1);

        let start = t.max(self.free_at[self.slot]);
        debug_assert!(start == t || (self.waiting.len() as u64) < self.backlog_limit);
        let done = start.saturating_add(h);
        self.free_at[self.slot] = done;
        self.slot += 1;
        if self.slot == self.free_at.len() {
            self.slot = 0;
        }
        if start > t {
            self.waiting.push_back(start);
            let depth = self.waiting.len() as u64;
            self.peak_queue = self.peak_queue.max(depth);
            eng.rec.gauge_max(ids.queue, SimTime(t), depth);
        }
        eng.rec.busy(ids.util, SimTime(start), SimTime(done));
        self.add_busy_seconds(start, done);

        let timed_out = self.p.timeout.filter(|to| start - t > to.as_nanos());
        if let Some(to) = timed_out {
            let gave_up = t.saturating_add(to.as_nanos());
            if gave_up <= horizon {
                self.timeouts += 1;
                eng.rec.count(ids.timeouts, SimTime(gave_up), 1);
            }
            if done <= horizon {
                self.wasted += 1;
            } else {
                self.in_flight += 1;
            }
            let r = self.retry(eng.rng(), a.ev, gave_up);
            self.file(live, end, r);
        } else if done <= horizon {
            self.connected += 1;
            eng.rec.count(ids.connected, SimTime(done), 1);
            let first = self.first_attempt(a.ev.0 >> self.low_bits);
            eng.rec.latency(ids.latency, SimDuration(done - first));
            if self.connected == self.p99_target {
                self.time_to_p99 = Some(done);
            }
            if self.connected == u64::from(self.p.clients) {
                self.time_to_all = Some(done);
            }
        } else {
            self.in_flight += 1;
        }
    }

    /// Runs the attempts of one bucket, `[start, end)`, given in push order in
    /// `live` (which grows with retries that fall in the bucket). Returns how
    /// many ran; attempts after the horizon stay in `live`.
    ///
    /// Only accepted attempts change the server, so only they need time order.
    /// Each pass finds the acceptance threshold `s` (see
    /// [`Herd::accept_threshold`]), refuses every attempt before it in any
    /// order, and accepts the earliest one at or after it (ties: push order).
    /// A bucket is about one handshake interval wide, so an overloaded one
    /// holds tens to hundreds of attempts and about one acceptance: each
    /// attempt is looked at once or twice, and nothing is sorted. A bucket that
    /// needs many passes (a crowded bucket while the queue has room, as when
    /// every client tries at t = 0) is sorted instead
    /// ([`Herd::run_sorted`]).
    fn run_bucket(
        &mut self,
        eng: &mut Engine<HerdTick>,
        live: &mut Vec<Slot>,
        start: u64,
        end: u64,
    ) -> u64 {
        let horizon = self.p.horizon.as_nanos();
        // Refusals are added to their series per bucket when it lies in one bin.
        if !(self.bin_start..self.bin_end).contains(&start) {
            let base = self.sample_every;
            self.bin_start = start / base * base;
            self.bin_end = self.bin_start.saturating_add(base);
        }
        let per_event = end > self.bin_end;
        let refused_before = self.refused;
        let mut c = start;
        let mut ran = 0u64;
        let mut passes = 0;
        loop {
            if passes == self.passes_before_sort {
                ran += self.run_sorted(eng, live, end, per_event);
                break;
            }
            passes += 1;
            let s = self.accept_threshold(eng, c);
            if s == c && live.len() > SORT_WHEN_ROOM_FOR && self.room() > SORT_WHEN_ROOM_FOR {
                // The queue has room for many: the next attempts will all be
                // accepted, one pass each; sorting is cheaper. (A full queue
                // with one place free at `c` is the common overloaded case:
                // one acceptance, then the passes refuse the rest.)
                ran += self.run_sorted(eng, live, end, per_event);
                break;
            }
            // Refuse before `s`, never past the horizon; only attempts up to
            // the horizon can be accepted.
            let s = s.min(horizon.saturating_add(1));
            // The generator is copied so that it stays in registers.
            let mut rng = eng.rng().clone();
            let (n, best) = if self.p.backoff == BackoffPolicy::FullJitter && !per_event {
                self.pass::<true>(&mut eng.rec, &mut rng, live, s, end, false)
            } else {
                self.pass::<false>(&mut eng.rec, &mut rng, live, s, end, per_event)
            };
            *eng.rng() = rng;
            self.refused += n;
            ran += n;
            if best == usize::MAX {
                break;
            }
            let a = live.remove(best);
            ran += 1;
            c = a.t;
            self.accept(eng, live, end, a);
        }
        if !per_event {
            let n = self.refused - refused_before;
            eng.rec.count(self.ids.refused, SimTime(start), n);
        }
        ran
    }

    /// One pass over the bucket's attempts in `live`: refuses (and counts)
    /// those before `s`, keeps the others in order, and returns how many it
    /// refused and the index of the earliest one kept (the first of equals)
    /// if it is not past the horizon, else `usize::MAX`. `FULL_JITTER`: the backoff is full
    /// jitter and `per_event` false, for a leaner loop on the common path.
    #[inline(always)]
    fn pass<const FULL_JITTER: bool>(
        &mut self,
        rec: &mut Recorder,
        rng: &mut SimRng,
        live: &mut Vec<Slot>,
        s: u64,
        end: u64,
        per_event: bool,
    ) -> (u64, usize) {
        let mut refused = 0;
        let mut best = usize::MAX;
        let mut best_t = self.p.horizon.as_nanos().saturating_add(1);
        let (mut i, mut j) = (0, 0);
        while i < live.len() {
            let a = live[i];
            i += 1;
            if a.t < s {
                refused += 1;
                if FULL_JITTER {
                    let r = full_jitter_retry(&self.ceilings, rng, a.ev, a.t);
                    self.file(live, end, r);
                } else {
                    self.refuse(rec, rng, live, end, a, per_event);
                }
            } else {
                if a.t < best_t {
                    best = j;
                    best_t = a.t;
                }
                live[j] = a;
                j += 1;
            }
        }
        live.truncate(j);
        (refused, best)
    }

    /// Runs a bucket's attempts one by one in time order (ties: push order):
    /// `live` sorted once, retries that fall in the bucket merged from a heap.
    fn run_sorted(
        &mut self,
        eng: &mut Engine<HerdTick>,
        live: &mut Vec<Slot>,
        end: u64,
        per_event: bool,
    ) -> u64 {
        let horizon = self.p.horizon.as_nanos();
        live.sort_by_key(|a| a.t);
        let mut heap = std::mem::take(&mut self.heap);
        heap.clear();
        let mut seq = 0u64;
        let mut extra = std::mem::take(&mut self.extra);
        let mut ran = 0u64;
        let mut i = 0;
        loop {
            let from_live = match (live.get(i), heap.peek()) {
                (Some(a), Some(Reverse((t, _, _)))) => a.t <= *t,
                (Some(_), None) => true,
                (None, Some(_)) => false,
                (None, None) => break,
            };
            let a = if from_live {
                i += 1;
                live[i - 1]
            } else {
                match heap.pop() {
                    Some(Reverse((t, _, ev))) => Slot {
                        t,
                        ev: HerdEvent(ev),
                    },
                    None => break,
                }
            };
            if a.t > horizon {
                // Everything left is later still.
                extra.push(a);
                continue;
            }
            ran += 1;
            let s = self.accept_threshold(eng, a.t);
            if a.t < s {
                self.refused += 1;
                let mut rng = eng.rng().clone();
                self.refuse(&mut eng.rec, &mut rng, &mut extra, end, a, per_event);
                *eng.rng() = rng;
            } else {
                self.accept(eng, &mut extra, end, a);
            }
            for r in extra.drain(..) {
                heap.push(Reverse((r.t, seq, r.ev.0)));
                seq += 1;
            }
        }
        // Only attempts past the horizon are left.
        live.clear();
        live.append(&mut extra);
        self.heap = heap;
        self.extra = extra;
        ran
    }

    /// Attempts waiting to run (for the accounting tests).
    #[cfg(test)]
    pub(crate) fn pending_attempts(&self) -> u64 {
        self.wheel.len() as u64
    }
}

impl Scenario for Herd {
    type Event = HerdTick;

    fn name(&self) -> &'static str {
        NAME
    }

    fn parameters(&self) -> Vec<Parameter> {
        self.cfg.parameters()
    }

    fn horizon(&self) -> SimTime {
        self.p.horizon
    }

    fn init(&mut self, eng: &mut Engine<HerdTick>) {
        let rec = &mut eng.rec;
        let ids = Ids {
            connected: rec.add_series(
                "connected",
                "clients",
                "clients connected",
                SeriesKind::Cumulative,
            ),
            arrivals: rec.add_series(
                "arrivals_per_s",
                "1/s",
                "attempts per second (first tries and retries)",
                SeriesKind::Rate,
            ),
            queue: rec.add_series(
                "queue_depth",
                "entries",
                "accept-queue depth (max in interval)",
                SeriesKind::GaugeMax,
            ),
            util: rec.add_series(
                "utilization",
                "fraction",
                "worker utilization",
                SeriesKind::Utilization {
                    capacity: u64::from(self.p.workers),
                },
            ),
            refused: rec.add_series(
                "refused_per_s",
                "1/s",
                "attempts refused per second",
                SeriesKind::Rate,
            ),
            timeouts: rec.add_series(
                "timeouts_per_s",
                "1/s",
                "attempts timed out per second",
                SeriesKind::Rate,
            ),
            latency: rec.add_latency("connect_latency"),
        };
        self.sample_every = rec.base_interval().as_nanos();
        self.ids = ids;

        self.free_at = vec![0; self.p.workers as usize];
        let queue_cap = self.p.backlog.map_or(4096, |b| b.min(1 << 20));
        self.waiting = VecDeque::with_capacity(queue_cap.min(u64::from(self.p.clients)) as usize);
        let seconds = (self.p.horizon.as_nanos() / NANOS_PER_SEC) as usize + 1;
        let client_bits = 64 - u64::from(self.p.clients - 1).leading_zeros();
        // 0: two words per attempt (see `one_word`).
        let ev_bits = if self.one_word {
            client_bits + self.low_bits
        } else {
            0
        };
        self.wheel = Wheel::new(self.bucket_ns(), self.reach_ns(), ev_bits);
        self.busy_by_second = vec![0; seconds];

        // Decorrelated backoff starts from previous sleep = base.
        let low = if self.p.backoff == BackoffPolicy::Decorrelated {
            let q = self.p.backoff_base.as_nanos().div_ceil(self.prev_unit);
            q.min((1 << PREV_BITS) - 1)
        } else {
            0
        };
        self.first_key = eng.rng().next_u64();
        for client in 0..u64::from(self.p.clients) {
            self.wheel.push_initial(Slot {
                t: self.first_attempt(client),
                ev: HerdEvent((client << self.low_bits) | low),
            });
        }
        self.wheel.seal();
        if let Some(first) = self.wheel.advance() {
            eng.schedule_at(SimTime(first), HerdTick);
        }
    }

    /// Runs the wheel's buckets from the tick's time to the end of its coarse
    /// bucket (tens of milliseconds), then schedules the next tick.
    fn handle(&mut self, eng: &mut Engine<HerdTick>, _tick: HerdTick) {
        let horizon = self.p.horizon.as_nanos();
        let window_end = self.wheel.open_end();
        let mut start = eng.now().as_nanos();
        let mut live = std::mem::take(&mut self.live);
        let mut ran = 0;
        loop {
            let end = start + self.wheel.width();
            self.wheel.take_current(&mut live);
            ran += self.run_bucket(eng, &mut live, start, end);
            if !live.is_empty() {
                // Past the horizon: the run is over; they stay pending.
                self.wheel.put_back(&mut live);
                break;
            }
            if self.connected == u64::from(self.p.clients) {
                break;
            }
            match self.wheel.advance() {
                Some(next) if next < window_end && next <= horizon => start = next,
                Some(next) => {
                    eng.schedule_at(SimTime(next), HerdTick);
                    break;
                }
                None => break,
            }
        }
        self.attempts += ran;
        eng.counts_as(ran);
        self.live = live;
    }

    fn finish(&mut self, eng: &mut Engine<HerdTick>) -> Finish {
        let ids = self.ids;
        let horizon = self.p.horizon.as_nanos();
        let end = self.time_to_all.unwrap_or(horizon);
        // Sample the queue up to the last bin that will be reported.
        let last_bin_start = end.saturating_sub(1) / self.sample_every * self.sample_every;
        self.sample_until(eng, ids, last_bin_start);
        // `handle` counted only accepted attempts as arrivals.
        eng.rec.add_counts(ids.arrivals, ids.refused);

        let n = u64::from(self.p.clients);
        let capacity = self.p.capacity_per_s();
        let busiest = self.busy_by_second.iter().copied().max().unwrap_or(0);
        let peak_util = busiest as f64 / (f64::from(self.p.workers) * NANOS_PER_SEC as f64);
        let lat = eng.rec.latency_summary(ids.latency);
        let ms = |ns: f64| ns / 1e6;
        let secs = |ns: u64| ns as f64 / NANOS_PER_SEC as f64;
        let fluid = self.p.jitter.as_secs_f64().max(n as f64 / capacity);
        let values: Vec<Option<f64>> = vec![
            self.time_to_all.map(secs),
            self.time_to_p99.map(secs),
            Some(self.connected as f64),
            Some(self.attempts as f64),
            Some(self.refused as f64),
            Some(self.timeouts as f64),
            Some(self.wasted as f64),
            Some(self.peak_queue as f64),
            Some(peak_util),
            lat.map(|l| ms(l.mean_ns)),
            lat.map(|l| ms(l.p50_ns as f64)),
            lat.map(|l| ms(l.p90_ns as f64)),
            lat.map(|l| ms(l.p99_ns as f64)),
            lat.map(|l| ms(l.max_ns as f64)),
            Some(capacity),
            Some(fluid),
            Some((n - self.connected) as f64),
            Some(self.in_flight as f64),
        ];
        let metrics = METRICS
            .iter()
            .zip(values)
            .map(|(info, v)| Metric::new(info.name, v, info.unit, info.help))
            .collect();
        Finish {
            metrics,
            end: SimTime(end),
        }
    }
}

mod wheel;

#[cfg(test)]
mod tests;

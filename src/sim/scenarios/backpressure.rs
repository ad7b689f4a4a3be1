//! The backpressure scenario (issue 6): one producer broadcasting to fast and
//! slow consumers, and what each per-connection buffer policy costs.
//!
//! **Model.** A producer emits a `message_size`-byte message every `1 / rate`
//! seconds from t = 0 until the horizon and offers it to each of `consumers`
//! connections. Each connection has an outbound buffer of waiting messages and
//! a reader that takes one message at a time from it: the first
//! `slow_consumers` read at `slow_rate` messages/s, the others at `fast_rate`;
//! one read takes a time drawn uniformly from `[0.5, 1.5]` times `1 / rate` of
//! that consumer (network and client jitter), and a message is *delivered* when
//! its read ends. A message being read has left the buffer (it is in the
//! socket); buffered bytes are the waiting messages times `message_size`.
//!
//! **Policies** (per connection; `buffer_limit` bytes hold
//! `floor(buffer_limit / message_size)` waiting messages):
//!
//! - `unbounded`: every message waits, memory grows without limit;
//! - `drop-oldest`: a full buffer drops its oldest waiting message to make room
//!   (readers get the freshest data; gaps in the stream);
//! - `drop-newest`: a full buffer drops the arriving message (readers get stale
//!   data; gaps in the stream);
//! - `disconnect`: a message that does not fit closes the connection, like a
//!   browser `bufferedAmount` check or Redis' `client-output-buffer-limit`; its
//!   waiting and in-flight messages and the arriving one are lost, and it gets
//!   nothing more;
//! - `throttle`: the producer waits until every connection has room before it
//!   emits (TCP-style backpressure to the source): nothing is lost, memory is
//!   bounded, and every consumer gets the slowest one's pace.
//!
//! **Theory.** With `unbounded`, a slow consumer's buffer grows at
//! `(rate - slow_rate) * message_size` bytes/s (the fluid model; reads are
//! random but average `slow_rate`). A bounded buffer fills in
//! `capacity / (rate - slow_rate)` seconds and then holds a message for about
//! `capacity / slow_rate` seconds. A fast consumer whose longest read
//! (`1.5 / fast_rate`) is shorter than the producer's interval never queues: its
//! latency is its read time, uniform in `[0.5, 1.5] / fast_rate`, with p99 at
//! `1.49 / fast_rate`. Conservation holds per connection and in total:
//! messages offered = delivered + dropped + waiting + being read.
//!
//! **How it runs.** Two kinds of event: the producer's next message and a
//! consumer's read ending. Buffers are queues of runs of consecutive message
//! numbers (one run unless `drop-newest` leaves gaps); a message's production
//! time is its number times the period (rounded to a nanosecond), or, under
//! `throttle`, is kept in a small ring of the messages still alive.
//!
//! Talks to: the engine ([`crate::sim::engine`]) for time, events and the RNG; the
//! recorder for series and latency histograms; [`crate::sim::registry`] lists it
//! as `backpressure`.

use std::collections::VecDeque;

use crate::sim::engine::Engine;
use crate::sim::error::SimError;
use crate::sim::recorder::{LatencyId, SeriesId, SeriesKind};
use crate::sim::registry::{MetricInfo, ParamInfo};
use crate::sim::report::{Metric, Parameter};
use crate::sim::scenario::{Finish, Scenario};
use crate::sim::spec::{
    self, MemoryEstimate, ScenarioSpec, count_in_range, count_value, duration_value, fmt_num,
    number_value, positive_value, seconds_value,
};
use crate::sim::time::{NANOS_PER_SEC, SimDuration, SimTime};

/// The registry name.
pub const NAME: &str = "backpressure";

/// Most consumers.
pub const MAX_CONSUMERS: u64 = 1_000_000;
/// Most messages one run may produce (message numbers are `u32`).
pub const MAX_MESSAGES: f64 = 4_000_000_000.0;
/// Highest rate, messages per second.
pub const MAX_RATE: f64 = 1e9;
/// Largest message, bytes (1 GiB).
pub const MAX_MESSAGE_SIZE: u64 = 1 << 30;
/// Largest buffer limit, bytes (1 TiB).
pub const MAX_BUFFER: u64 = 1 << 40;
/// Longest horizon, in seconds (about 116 days).
pub const MAX_HORIZON_S: f64 = 10_000_000.0;

/// What a connection does when its buffer is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BufferPolicy {
    /// No limit: every message waits.
    #[default]
    Unbounded,
    /// Drop the oldest waiting message to make room.
    DropOldest,
    /// Drop the arriving message.
    DropNewest,
    /// Close the connection.
    Disconnect,
    /// Make the producer wait until every connection has room.
    Throttle,
}

impl BufferPolicy {
    /// All policies, in help order.
    pub const ALL: [BufferPolicy; 5] = [
        BufferPolicy::Unbounded,
        BufferPolicy::DropOldest,
        BufferPolicy::DropNewest,
        BufferPolicy::Disconnect,
        BufferPolicy::Throttle,
    ];

    /// The CLI spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            BufferPolicy::Unbounded => "unbounded",
            BufferPolicy::DropOldest => "drop-oldest",
            BufferPolicy::DropNewest => "drop-newest",
            BufferPolicy::Disconnect => "disconnect",
            BufferPolicy::Throttle => "throttle",
        }
    }

    /// Parses the CLI spelling and a few aliases.
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().replace('_', "-").as_str() {
            "unbounded" | "none" | "unlimited" => Some(BufferPolicy::Unbounded),
            "drop-oldest" | "oldest" | "drop-head" => Some(BufferPolicy::DropOldest),
            "drop-newest" | "newest" | "drop-tail" => Some(BufferPolicy::DropNewest),
            "disconnect" | "close" | "kick" => Some(BufferPolicy::Disconnect),
            "throttle" | "block" | "backpressure" => Some(BufferPolicy::Throttle),
            _ => None,
        }
    }

    /// Whether `buffer_limit` applies.
    pub fn is_bounded(self) -> bool {
        self != BufferPolicy::Unbounded
    }
}

/// Backpressure parameters as the user gives them, before validation. `Default`
/// is the documented CLI defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct BackpressureConfig {
    /// Connections the producer broadcasts to.
    pub consumers: u64,
    /// How many of them are slow.
    pub slow_consumers: u64,
    /// Messages per second produced.
    pub rate: f64,
    /// Messages per second a fast consumer reads.
    pub fast_rate: f64,
    /// Messages per second a slow consumer reads.
    pub slow_rate: f64,
    /// Bytes per message.
    pub message_size: u64,
    /// What a full buffer does.
    pub policy: BufferPolicy,
    /// Bytes one connection may buffer (bounded policies).
    pub buffer_limit: u64,
    /// Stop time, seconds.
    pub horizon_s: f64,
}

impl Default for BackpressureConfig {
    fn default() -> Self {
        Self {
            consumers: 10,
            slow_consumers: 1,
            rate: 1000.0,
            fast_rate: 2000.0,
            slow_rate: 500.0,
            message_size: 1024,
            policy: BufferPolicy::Unbounded,
            buffer_limit: 1 << 20,
            horizon_s: 60.0,
        }
    }
}

/// The backpressure scenario's parameters (the registry's table).
pub const PARAMS: &[ParamInfo] = &[
    ParamInfo {
        name: "consumers",
        unit: "connections",
        default: "10",
        help: "connections the producer broadcasts every message to",
        aliases: &["clients"],
    },
    ParamInfo {
        name: "slow_consumers",
        unit: "connections",
        default: "1",
        help: "how many of them read at --slow-rate",
        aliases: &["slow"],
    },
    ParamInfo {
        name: "rate",
        unit: "msg/s",
        default: "1000",
        help: "messages produced per second",
        aliases: &["producer_rate"],
    },
    ParamInfo {
        name: "fast_rate",
        unit: "msg/s",
        default: "2000",
        help: "messages per second a fast consumer reads",
        aliases: &[],
    },
    ParamInfo {
        name: "slow_rate",
        unit: "msg/s",
        default: "500",
        help: "messages per second a slow consumer reads",
        aliases: &[],
    },
    ParamInfo {
        name: "message_size",
        unit: "bytes",
        default: "1024",
        help: "bytes per message",
        aliases: &["size"],
    },
    ParamInfo {
        name: "policy",
        unit: "",
        default: "unbounded",
        help: "unbounded, drop-oldest, drop-newest, disconnect or throttle",
        aliases: &[],
    },
    ParamInfo {
        name: "buffer_limit",
        unit: "bytes",
        default: "1048576",
        help: "bytes one connection may buffer (all policies but unbounded)",
        aliases: &["limit", "buffer"],
    },
    ParamInfo {
        name: "horizon",
        unit: "s",
        default: "60",
        help: "the producer runs until this virtual time, then the run stops",
        aliases: &[],
    },
];

/// The backpressure scenario's summary metrics, in report order.
pub const METRICS: &[MetricInfo] = &[
    MetricInfo {
        name: "peak_buffered_bytes",
        unit: "bytes",
        help: "most bytes buffered, all conns",
    },
    MetricInfo {
        name: "final_buffered_bytes",
        unit: "bytes",
        help: "bytes buffered at the end",
    },
    MetricInfo {
        name: "dropped",
        unit: "messages",
        help: "lost: dropped or disconnected",
    },
    MetricInfo {
        name: "disconnects",
        unit: "connections",
        help: "closed for a full buffer",
    },
    MetricInfo {
        name: "slow_latency_p99_ms",
        unit: "ms",
        help: "slow consumers, produce->read",
    },
    MetricInfo {
        name: "fast_latency_p99_ms",
        unit: "ms",
        help: "fast consumers, produce->read",
    },
    MetricInfo {
        name: "slow_latency_mean_ms",
        unit: "ms",
        help: "slow consumers, mean",
    },
    MetricInfo {
        name: "fast_latency_mean_ms",
        unit: "ms",
        help: "fast consumers, mean",
    },
    MetricInfo {
        name: "produced",
        unit: "messages",
        help: "messages the producer emitted",
    },
    MetricInfo {
        name: "delivered",
        unit: "messages",
        help: "reads completed, all conns",
    },
    MetricInfo {
        name: "throughput_per_s",
        unit: "msg/s",
        help: "produced / run time",
    },
    MetricInfo {
        name: "first_disconnect_s",
        unit: "s",
        help: "when the first conn closed",
    },
    MetricInfo {
        name: "fluid_growth_bytes_per_s",
        unit: "bytes/s",
        help: "theory: slow x (in-out) x size",
    },
];

/// Names of the backpressure scenario's time series, in report order.
pub const SERIES: &[&str] = &[
    "buffered_bytes",
    "produced_per_s",
    "delivered_per_s",
    "dropped_per_s",
    "connected_consumers",
];

/// Canonical parameter name for a user spelling (`--slow-rate`, `slow_rate`).
pub fn canonical_param(name: &str) -> Option<&'static str> {
    spec::canonical_param(PARAMS, name)
}

fn flag(param: &'static str) -> &'static str {
    match param {
        "slow_consumers" => "slow-consumers",
        "fast_rate" => "fast-rate",
        "slow_rate" => "slow-rate",
        "message_size" => "message-size",
        "buffer_limit" => "buffer-limit",
        other => other,
    }
}

/// Parses a size in bytes: `1024`, `64KiB`, `1MiB`, `1.5MB`, `2g` (K/M/G are
/// powers of 1000 with `B`, 1024 with `iB` or alone).
pub fn parse_bytes(value: &str) -> Option<i128> {
    let v = value.trim().to_ascii_lowercase().replace(['_', ','], "");
    let split = v
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-' || c == '+' || c == 'e'))
        .unwrap_or(v.len());
    let (num, unit) = v.split_at(split);
    let scale: f64 = match unit.trim() {
        "" | "b" | "bytes" => 1.0,
        "kb" => 1e3,
        "k" | "kib" => 1024.0,
        "mb" => 1e6,
        "m" | "mib" => 1_048_576.0,
        "gb" => 1e9,
        "g" | "gib" => 1_073_741_824.0,
        _ => return None,
    };
    let x = num.trim().parse::<f64>().ok()? * scale;
    (x.is_finite() && x.fract() == 0.0 && x.abs() < 1e30).then_some(x as i128)
}

fn bytes_value(flag: &'static str, value: &str) -> Result<u64, SimError> {
    let n = parse_bytes(value).ok_or_else(|| SimError::InvalidValue {
        param: flag,
        value: value.to_string(),
        expected: "a whole number of bytes such as 1024, 64KiB or 1MiB",
    })?;
    if n <= 0 {
        return Err(SimError::MustBePositive {
            param: flag,
            value: value.trim().to_string(),
        });
    }
    Ok(u64::try_from(n).unwrap_or(u64::MAX))
}

impl ScenarioSpec for BackpressureConfig {
    type Model = Backpressure;
    const NAME: &'static str = NAME;
    const PARAMS: &'static [ParamInfo] = PARAMS;

    /// Sets one parameter from text, e.g. `("policy", "drop-oldest")`,
    /// `("buffer-limit", "64KiB")`, `("slow-rate", "500")`.
    fn set(&mut self, name: &str, value: &str) -> Result<(), SimError> {
        let Some(param) = canonical_param(name) else {
            return Err(spec::unknown_param(NAME, PARAMS, name));
        };
        let f = flag(param);
        const RATE: &str = "messages per second such as 1000 or 0.5";
        match param {
            "consumers" => self.consumers = count_value(f, value, false)?,
            "slow_consumers" => self.slow_consumers = count_value(f, value, true)?,
            "rate" => self.rate = number_value(f, value, RATE)?,
            "fast_rate" => self.fast_rate = number_value(f, value, RATE)?,
            "slow_rate" => self.slow_rate = number_value(f, value, RATE)?,
            "message_size" => self.message_size = bytes_value(f, value)?,
            "buffer_limit" => self.buffer_limit = bytes_value(f, value)?,
            "policy" => {
                self.policy = BufferPolicy::parse(value).ok_or_else(|| SimError::InvalidValue {
                    param: f,
                    value: value.to_string(),
                    expected: "unbounded, drop-oldest, drop-newest, disconnect or throttle",
                })?;
            }
            "horizon" => self.horizon_s = seconds_value(f, value)?,
            _ => unreachable!("canonical_param returns only names in PARAMS"),
        }
        Ok(())
    }

    fn get(&self, name: &str) -> Option<String> {
        Some(match canonical_param(name)? {
            "consumers" => self.consumers.to_string(),
            "slow_consumers" => self.slow_consumers.to_string(),
            "rate" => fmt_num(self.rate),
            "fast_rate" => fmt_num(self.fast_rate),
            "slow_rate" => fmt_num(self.slow_rate),
            "message_size" => self.message_size.to_string(),
            "policy" => self.policy.as_str().to_string(),
            "buffer_limit" => self.buffer_limit.to_string(),
            "horizon" => fmt_num(self.horizon_s),
            _ => return None,
        })
    }

    fn memory(&self) -> Result<MemoryEstimate, SimError> {
        Ok(self.validate_params()?.memory())
    }

    fn build(&self) -> Result<Backpressure, SimError> {
        Backpressure::new(self.clone())
    }
}

impl BackpressureConfig {
    /// Checks every range and converts to engine units.
    pub fn validate_params(&self) -> Result<BackpressureParams, SimError> {
        let consumers = count_in_range("consumers", self.consumers, false, MAX_CONSUMERS)?;
        if self.slow_consumers > consumers {
            return Err(SimError::TooLarge {
                param: "slow-consumers",
                value: self.slow_consumers.to_string(),
                max: format!("--consumers ({consumers})"),
            });
        }
        let rate = positive_value("rate", self.rate, MAX_RATE)?;
        let fast_rate = positive_value("fast-rate", self.fast_rate, MAX_RATE)?;
        let slow_rate = positive_value("slow-rate", self.slow_rate, MAX_RATE)?;
        let size = count_in_range("message-size", self.message_size, false, MAX_MESSAGE_SIZE)?;
        let limit = count_in_range("buffer-limit", self.buffer_limit, false, MAX_BUFFER)?;
        if self.policy.is_bounded() && limit < size {
            return Err(SimError::TooSmall {
                param: "buffer-limit",
                value: limit.to_string(),
                why: format!("it must hold at least one message of --message-size {size} bytes"),
            });
        }
        let horizon = duration_value("horizon", self.horizon_s, true, MAX_HORIZON_S)?;
        let messages = (rate * self.horizon_s).ceil();
        if messages > MAX_MESSAGES {
            return Err(SimError::TooLarge {
                param: "rate",
                value: fmt_num(rate),
                max: format!(
                    "{} over --horizon {} s (at most {MAX_MESSAGES} messages)",
                    fmt_num((MAX_MESSAGES / self.horizon_s).floor()),
                    fmt_num(self.horizon_s)
                ),
            });
        }
        let period = |r: f64| ((NANOS_PER_SEC as f64 / r).round() as u64).max(1);
        Ok(BackpressureParams {
            consumers: u32::try_from(consumers).unwrap_or(u32::MAX),
            slow_consumers: u32::try_from(self.slow_consumers).unwrap_or(u32::MAX),
            interval: SimDuration(period(rate)),
            period_ns: NANOS_PER_SEC as f64 / rate,
            fast_read: SimDuration(period(fast_rate)),
            slow_read: SimDuration(period(slow_rate)),
            message_size: size,
            policy: self.policy,
            capacity: if self.policy.is_bounded() {
                limit / size
            } else {
                u64::MAX
            },
            horizon: SimTime(horizon.as_nanos()),
            messages: messages as u64,
            rate,
            slow_rate,
        })
    }
}

/// Validated backpressure parameters in engine units.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BackpressureParams {
    /// Connections (>= 1).
    pub consumers: u32,
    /// Slow ones among them (the first `slow_consumers`).
    pub slow_consumers: u32,
    /// Time between two produced messages, rounded to a nanosecond (the
    /// throttled producer's pace).
    pub interval: SimDuration,
    /// Exact time between two messages, ns: message `m` is produced at
    /// `round(m x period_ns)` unless throttled.
    pub period_ns: f64,
    /// Mean read time of a fast consumer.
    pub fast_read: SimDuration,
    /// Mean read time of a slow consumer.
    pub slow_read: SimDuration,
    /// Bytes per message.
    pub message_size: u64,
    /// Full-buffer policy.
    pub policy: BufferPolicy,
    /// Waiting messages a buffer holds (`u64::MAX` when unbounded).
    pub capacity: u64,
    /// Stop time.
    pub horizon: SimTime,
    /// Most messages the producer can emit before the horizon.
    pub messages: u64,
    /// Messages produced per second, as given.
    pub rate: f64,
    /// Slow consumers' read rate, as given.
    pub slow_rate: f64,
}

impl BackpressureParams {
    /// Estimated peak memory: per consumer its state and run queue (up to one
    /// run per waiting message under drop-newest), plus the latency histograms.
    pub fn memory(&self) -> MemoryEstimate {
        let runs = if self.policy == BufferPolicy::DropNewest {
            self.capacity.min(1 << 24) * 8
        } else {
            64
        };
        let ring = if self.policy == BufferPolicy::Throttle {
            self.ring_len() * 8
        } else {
            0
        };
        MemoryEstimate::new(
            "consumers",
            u64::from(self.consumers),
            "consumer",
            96 + runs,
            (16 << 20) + ring,
        )
    }

    /// Under throttle, the alive messages are at most `capacity` waiting plus
    /// one being read per consumer, all within `capacity + 1` consecutive
    /// numbers; no more than the run produces.
    pub fn ring_len(&self) -> u64 {
        self.capacity
            .saturating_add(2)
            .min(self.messages.saturating_add(1))
    }

    /// The fluid model's buffer growth with an unbounded buffer, bytes/s.
    pub fn fluid_growth_bytes_per_s(&self) -> f64 {
        f64::from(self.slow_consumers)
            * (self.rate - self.slow_rate).max(0.0)
            * self.message_size as f64
    }
}

/// One event: the producer's next message (`u64::MAX`) or consumer `c`'s read
/// ending (`c`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackpressureEvent(u64);

const PRODUCE: u64 = u64::MAX;

/// One connection's state.
#[derive(Debug, Clone, Default)]
struct Consumer {
    /// Waiting messages as runs of consecutive numbers: (first, count).
    runs: VecDeque<(u32, u32)>,
    waiting: u64,
    /// The message being read, if any.
    reading: Option<u32>,
    connected: bool,
    slow: bool,
    offered: u64,
    delivered: u64,
    dropped: u64,
}

impl Consumer {
    #[inline]
    fn push(&mut self, m: u32) {
        if let Some(last) = self.runs.back_mut()
            && last.0.wrapping_add(last.1) == m
        {
            last.1 += 1;
        } else {
            self.runs.push_back((m, 1));
        }
        self.waiting += 1;
    }

    #[inline]
    fn pop(&mut self) -> Option<u32> {
        let front = self.runs.front_mut()?;
        let m = front.0;
        front.0 = front.0.wrapping_add(1);
        front.1 -= 1;
        if front.1 == 0 {
            self.runs.pop_front();
        }
        self.waiting -= 1;
        Some(m)
    }
}

#[derive(Debug, Clone, Copy)]
struct Ids {
    buffered: SeriesId,
    produced: SeriesId,
    delivered: SeriesId,
    dropped: SeriesId,
    connected: SeriesId,
    slow_latency: LatencyId,
    fast_latency: LatencyId,
}

/// The backpressure model's state; see the module documentation.
#[derive(Debug)]
pub struct Backpressure {
    cfg: BackpressureConfig,
    p: BackpressureParams,
    consumers: Vec<Consumer>,
    /// Under throttle: production times of the messages still alive, by
    /// number modulo the ring's length.
    ring: Vec<u64>,
    /// Number of the next message.
    next: u32,
    /// Under throttle: the producer is waiting for room.
    blocked: bool,
    /// Consumers with no room for one more message (throttle only).
    full: u64,
    total_waiting: u64,
    peak_waiting: u64,
    connected: u64,
    disconnects: u64,
    first_disconnect: Option<SimTime>,
    produced: u64,
    delivered: u64,
    dropped: u64,
    ids: Option<Ids>,
}

impl Backpressure {
    /// A model ready to run.
    pub fn new(cfg: BackpressureConfig) -> Result<Self, SimError> {
        let p = cfg.validate_params()?;
        Ok(Self {
            cfg,
            p,
            consumers: Vec::new(),
            ring: Vec::new(),
            next: 0,
            blocked: false,
            full: 0,
            total_waiting: 0,
            peak_waiting: 0,
            connected: 0,
            disconnects: 0,
            first_disconnect: None,
            produced: 0,
            delivered: 0,
            dropped: 0,
            ids: None,
        })
    }

    /// The validated parameters.
    pub fn params(&self) -> &BackpressureParams {
        &self.p
    }

    fn ids(&self) -> Ids {
        self.ids
            .unwrap_or_else(|| unreachable!("Backpressure::init registers the series first"))
    }

    /// When message `m` was produced.
    #[inline]
    fn produced_at(&self, m: u32) -> u64 {
        if self.ring.is_empty() {
            (f64::from(m) * self.p.period_ns).round() as u64
        } else {
            self.ring[m as usize % self.ring.len()]
        }
    }

    /// Starts reading message `m` on consumer `c` now.
    #[inline]
    fn start_read(&mut self, eng: &mut Engine<BackpressureEvent>, c: usize, m: u32) {
        let cons = &mut self.consumers[c];
        cons.reading = Some(m);
        let mean = if cons.slow {
            self.p.slow_read
        } else {
            self.p.fast_read
        }
        .as_nanos();
        let read = eng.rng().between(mean / 2, mean + mean / 2);
        eng.schedule_in(SimDuration(read), BackpressureEvent(c as u64));
    }

    /// Updates the throttle's count of full consumers after `c`'s buffer changed
    /// from `before` waiting messages.
    #[inline]
    fn track_full(&mut self, c: usize, before: u64) {
        if self.p.policy == BufferPolicy::Throttle {
            let cap = self.p.capacity;
            let (was, is) = (before >= cap, self.consumers[c].waiting >= cap);
            if is && !was {
                self.full += 1;
            } else if was && !is {
                self.full -= 1;
            }
        }
    }

    /// Offers message `m` to consumer `c` under the buffer policy.
    #[inline]
    fn offer(&mut self, eng: &mut Engine<BackpressureEvent>, c: usize, m: u32) {
        let cap = self.p.capacity;
        let dropped = self.ids().dropped;
        let cons = &mut self.consumers[c];
        cons.offered += 1;
        if cons.reading.is_none() {
            self.start_read(eng, c, m);
            return;
        }
        let before = cons.waiting;
        if before < cap {
            cons.push(m);
            self.total_waiting += 1;
            self.track_full(c, before);
            return;
        }
        let t = eng.now();
        match self.p.policy {
            BufferPolicy::DropOldest => {
                cons.pop();
                cons.push(m);
                cons.dropped += 1;
                self.dropped += 1;
                eng.rec.count(dropped, t, 1);
            }
            // Throttle never offers to a full buffer; count it as a drop if a
            // zero-capacity corner ever did.
            BufferPolicy::DropNewest | BufferPolicy::Throttle | BufferPolicy::Unbounded => {
                cons.dropped += 1;
                self.dropped += 1;
                eng.rec.count(dropped, t, 1);
            }
            BufferPolicy::Disconnect => {
                // The waiting messages, the one being read and the arriving one.
                let lost = cons.waiting + 1 + u64::from(cons.reading.is_some());
                cons.runs.clear();
                cons.runs.shrink_to_fit();
                self.total_waiting -= cons.waiting;
                cons.waiting = 0;
                cons.reading = None;
                cons.connected = false;
                cons.dropped += lost;
                self.dropped += lost;
                eng.rec.count(dropped, t, lost);
                self.connected -= 1;
                self.disconnects += 1;
                self.first_disconnect.get_or_insert(t);
            }
        }
    }

    /// Emits the next message to every connected consumer and schedules the
    /// one after.
    fn produce(&mut self, eng: &mut Engine<BackpressureEvent>) {
        let t = eng.now();
        let ids = self.ids();
        let m = self.next;
        self.next += 1;
        self.produced += 1;
        if !self.ring.is_empty() {
            let len = self.ring.len();
            self.ring[m as usize % len] = t.as_nanos();
        }
        eng.rec.count(ids.produced, t, 1);
        for c in 0..self.consumers.len() {
            if self.consumers[c].connected {
                self.offer(eng, c, m);
            }
        }
        self.peak_waiting = self.peak_waiting.max(self.total_waiting);
        eng.rec
            .gauge_max(ids.buffered, t, self.total_waiting * self.p.message_size);
        eng.rec.gauge_max(ids.connected, t, self.connected);
        // Unthrottled, message m is at round(m x period): no drift from a
        // rounded interval. Throttled, the producer paces from where it is.
        let at = if self.ring.is_empty() {
            SimTime((f64::from(self.next) * self.p.period_ns).round() as u64)
        } else {
            t + self.p.interval
        };
        if at < self.p.horizon {
            eng.schedule_at(at, BackpressureEvent(PRODUCE));
        }
    }

    /// Consumer `c` finished reading: deliver, then start the next message.
    fn read_done(&mut self, eng: &mut Engine<BackpressureEvent>, c: usize) {
        let t = eng.now();
        let ids = self.ids();
        let cons = &mut self.consumers[c];
        let Some(m) = cons.reading.take() else {
            return; // disconnected while reading
        };
        if !cons.connected {
            return;
        }
        cons.delivered += 1;
        let slow = cons.slow;
        let before = cons.waiting;
        let next = cons.pop();
        self.delivered += 1;
        eng.rec.count(ids.delivered, t, 1);
        let latency = SimDuration(t.as_nanos() - self.produced_at(m));
        let hist = if slow {
            ids.slow_latency
        } else {
            ids.fast_latency
        };
        eng.rec.latency(hist, latency);
        if let Some(n) = next {
            self.total_waiting -= 1;
            self.track_full(c, before);
            self.start_read(eng, c, n);
        }
        if self.blocked && self.full == 0 {
            self.blocked = false;
            self.produce(eng);
        }
    }
}

impl Scenario for Backpressure {
    type Event = BackpressureEvent;

    fn name(&self) -> &'static str {
        NAME
    }

    fn parameters(&self) -> Vec<Parameter> {
        self.cfg.parameters()
    }

    fn horizon(&self) -> SimTime {
        self.p.horizon
    }

    fn init(&mut self, eng: &mut Engine<BackpressureEvent>) {
        let rec = &mut eng.rec;
        self.ids = Some(Ids {
            buffered: rec.add_series(
                "buffered_bytes",
                "bytes",
                "bytes buffered, all connections",
                SeriesKind::GaugeMax,
            ),
            produced: rec.add_series(
                "produced_per_s",
                "msg/s",
                "messages produced per second",
                SeriesKind::Rate,
            ),
            delivered: rec.add_series(
                "delivered_per_s",
                "msg/s",
                "reads completed per second",
                SeriesKind::Rate,
            ),
            dropped: rec.add_series(
                "dropped_per_s",
                "msg/s",
                "messages lost per second",
                SeriesKind::Rate,
            ),
            connected: rec.add_series(
                "connected_consumers",
                "connections",
                "connections still open",
                SeriesKind::GaugeMax,
            ),
            slow_latency: rec.add_latency("slow_latency"),
            fast_latency: rec.add_latency("fast_latency"),
        });
        let n = self.p.consumers as usize;
        self.consumers = (0..n)
            .map(|c| Consumer {
                connected: true,
                slow: c < self.p.slow_consumers as usize,
                ..Consumer::default()
            })
            .collect();
        self.connected = n as u64;
        if self.p.policy == BufferPolicy::Throttle {
            self.ring = vec![0; self.p.ring_len() as usize];
        }
        eng.schedule_at(SimTime::ZERO, BackpressureEvent(PRODUCE));
    }

    #[inline]
    fn handle(&mut self, eng: &mut Engine<BackpressureEvent>, ev: BackpressureEvent) {
        if ev.0 == PRODUCE {
            if self.full > 0 {
                self.blocked = true; // resumes when a read makes room
            } else {
                self.produce(eng);
            }
        } else {
            self.read_done(eng, ev.0 as usize);
        }
    }

    fn finish(&mut self, eng: &mut Engine<BackpressureEvent>) -> Finish {
        let ids = self.ids();
        let end = self.p.horizon;
        // The gauges' last point shows the state at the end.
        eng.rec
            .gauge_max(ids.buffered, end, self.total_waiting * self.p.message_size);
        eng.rec.gauge_max(ids.connected, end, self.connected);
        let size = self.p.message_size as f64;
        let ms = |ns: f64| ns / 1e6;
        let slow = eng.rec.latency_summary(ids.slow_latency);
        let fast = eng.rec.latency_summary(ids.fast_latency);
        let values = [
            Some(self.peak_waiting as f64 * size),
            Some(self.total_waiting as f64 * size),
            Some(self.dropped as f64),
            Some(self.disconnects as f64),
            slow.map(|l| ms(l.p99_ns as f64)),
            fast.map(|l| ms(l.p99_ns as f64)),
            slow.map(|l| ms(l.mean_ns)),
            fast.map(|l| ms(l.mean_ns)),
            Some(self.produced as f64),
            Some(self.delivered as f64),
            Some(self.produced as f64 / end.as_secs_f64()),
            self.first_disconnect.map(SimTime::as_secs_f64),
            Some(self.p.fluid_growth_bytes_per_s()),
        ];
        let metrics = METRICS
            .iter()
            .zip(values)
            .map(|(info, v)| Metric::new(info.name, v, info.unit, info.help))
            .collect();
        Finish { metrics, end }
    }
}

#[cfg(test)]
mod tests;

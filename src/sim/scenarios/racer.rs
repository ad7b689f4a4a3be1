//! The racer scenario (issue 6): short polling, long polling, Server-Sent Events
//! and WebSocket carry the same event stream to the same clients, side by side.
//!
//! **Workload.** `clients` clients all follow one feed. `event_rate x duration`
//! events (rounded) are published at independent uniform times in
//! `[0, duration)` (a Poisson process of rate `event_rate` conditioned on its
//! count), and every event goes to every client. Each protocol runs on its own
//! copy of the workload, so none slows another; the server answers instantly
//! and has no capacity limit. The network adds `rtt_ms / 2` each way.
//!
//! **Protocols.**
//! - *Short polling*: every client sends a request every `interval` (each
//!   client's timer at its own random phase); the response carries every event
//!   published since the client's previous poll, or nothing (an *empty
//!   response*). An event waits for the next poll: on average `interval / 2`.
//! - *Long polling*: the server holds each request until an event arrives (it
//!   then responds at once) or `hold` seconds pass (an empty response); the
//!   client sends its next request as soon as a response arrives, so the new
//!   request reaches the server one round trip after the response left. Events
//!   published during that round trip wait for it. At t = 0 every client has a
//!   request held, with hold timers at random phases (an idle system's steady
//!   state).
//! - *SSE* and *WebSocket*: one long-lived stream per client, opened before the
//!   run; each event is written to every stream at once.
//!
//! **Latency** runs from publication to arrival at the client (so SSE and
//! WebSocket see exactly `rtt / 2`). **Requests, bytes and empty responses** are
//! counted over `[0, duration)`; the run then continues until every event has
//! reached every client by every protocol (`*_delivered` = clients x events).
//! **Open connections** are requests or streams outstanding at once (time
//! average): a short poll is outstanding for one round trip, so by Little's law
//! `clients x rtt / interval`; a long-polling client always has one; a stream
//! is always open. Idle keep-alive connections are not counted.
//!
//! **Bytes** (HTTP and WebSocket layers; TCP/IP and TLS are not counted):
//! a poll costs `request_bytes` of request headers (default 500, an estimate
//! for a browser GET without cookies; real ones run 300-800 bytes) and
//! `response_bytes` of response headers (default 250, an estimate), plus the
//! events' payloads in the body (JSON brackets and commas not counted). An SSE
//! event costs `data: ` + payload + two newlines (8 bytes), inside an HTTP/1.1
//! chunk (hex length + 4 bytes of CRLFs); a server WebSocket frame costs 2
//! header bytes up to 125 bytes of payload, 4 up to 65,535, else 10 (server
//! frames are unmasked). Stream handshakes happen before the run and are not
//! counted; neither are SSE comment or WebSocket ping keep-alives (see
//! `simulate heartbeat`).
//!
//! **How it runs fast.** Clients whose timers share a phase behave identically,
//! so each protocol simulates timer *groups*: a client's timer phase is a point
//! on a grid of `max(1 ms, period / 65,536)` (timers have millisecond
//! resolution anyway), and clients on the same point form one group with a
//! count. Short-polling groups poll as one; long-polling groups that are both
//! waiting when an event arrives respond together and stay merged for the rest
//! of the run, which is also why long polling turns every event into a burst
//! of re-polls. A million clients cost as much as 65,536 groups at most; the
//! work grows with groups x events for short polling.
//!
//! Talks to: the engine ([`crate::sim::engine`]) for time, events and the RNG;
//! the recorder for series and latency histograms; [`crate::sim::registry`]
//! lists it as `racer`.

use crate::sim::engine::Engine;
use crate::sim::error::SimError;
use crate::sim::recorder::{LatencyId, LatencySummary, SeriesId, SeriesKind};
use crate::sim::registry::{MetricInfo, ParamInfo};
use crate::sim::report::{Metric, Parameter};
use crate::sim::scenario::{Finish, Scenario};
use crate::sim::spec::{self, MemoryEstimate, fmt_num, parse_count, parse_seconds};
use crate::sim::time::{NANOS_PER_MILLI, NANOS_PER_SEC, SimDuration, SimTime};

/// The registry name.
pub const NAME: &str = "racer";

/// Most clients one run may have (each costs two random draws).
pub const MAX_CLIENTS: u64 = 100_000_000;
/// Most events one run may publish.
pub const MAX_EVENTS: u64 = 10_000_000;
/// Most timer groups x events short polling may step through.
pub const MAX_POLL_WORK: u64 = 500_000_000;
/// Most engine events (polls, hold timeouts, re-requests, publications) a run
/// may be expected to take.
pub const MAX_ENGINE_EVENTS: f64 = 200_000_000.0;
/// Longest duration or timer, in seconds (about 116 days).
pub const MAX_SECONDS: f64 = 10_000_000.0;
/// Most timer phases (groups) per protocol.
pub const MAX_GROUPS: u64 = 65_536;
/// Finest timer phase grid.
pub const TIMER_RESOLUTION: SimDuration = SimDuration(NANOS_PER_MILLI);
/// Largest header or payload size, bytes.
pub const MAX_BYTES: u64 = 1 << 30;

/// SSE framing per single-line event: `data: ` (6) and the blank line (2).
pub const SSE_FIELD_BYTES: u64 = 8;

/// The four protocols, in report order.
pub const PROTOCOLS: [&str; 4] = ["short_poll", "long_poll", "sse", "websocket"];

/// Racer parameters as the user gives them, before validation. `Default` is the
/// documented CLI defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct RacerConfig {
    /// Clients following the feed.
    pub clients: u64,
    /// Events published per second (each goes to every client).
    pub event_rate: f64,
    /// Publication window and measurement window, seconds.
    pub duration_s: f64,
    /// Short-polling interval, seconds.
    pub interval_s: f64,
    /// Long-polling hold timeout, seconds.
    pub hold_s: f64,
    /// Network round trip, milliseconds.
    pub rtt_ms: f64,
    /// Payload bytes per event.
    pub event_bytes: u64,
    /// HTTP request header bytes per poll.
    pub request_bytes: u64,
    /// HTTP response header bytes per poll response.
    pub response_bytes: u64,
}

impl Default for RacerConfig {
    fn default() -> Self {
        Self {
            clients: 10_000,
            event_rate: 0.1,
            duration_s: 600.0,
            interval_s: 5.0,
            hold_s: 30.0,
            rtt_ms: 100.0,
            event_bytes: 100,
            request_bytes: 500,
            response_bytes: 250,
        }
    }
}

/// The racer's parameters: name, unit, default and meaning.
pub const PARAMS: &[ParamInfo] = &[
    ParamInfo {
        name: "clients",
        unit: "clients",
        default: "10000",
        help: "clients following one feed; every event goes to every client",
        aliases: &[],
    },
    ParamInfo {
        name: "event_rate",
        unit: "1/s",
        default: "0.1",
        help: "events published per second (uniform random times)",
        aliases: &["rate", "events_per_s"],
    },
    ParamInfo {
        name: "duration",
        unit: "s",
        default: "600",
        help: "window in which events are published and rates are measured",
        aliases: &[],
    },
    ParamInfo {
        name: "interval",
        unit: "s",
        default: "5",
        help: "short polling: seconds between a client's polls",
        aliases: &["poll_interval"],
    },
    ParamInfo {
        name: "hold",
        unit: "s",
        default: "30",
        help: "long polling: how long the server holds a request without events",
        aliases: &["hold_timeout", "timeout"],
    },
    ParamInfo {
        name: "rtt_ms",
        unit: "ms",
        default: "100",
        help: "network round trip; every delivery takes half of it",
        aliases: &["rtt"],
    },
    ParamInfo {
        name: "event_bytes",
        unit: "B",
        default: "100",
        help: "payload bytes per event",
        aliases: &["payload", "payload_bytes"],
    },
    ParamInfo {
        name: "request_bytes",
        unit: "B",
        default: "500",
        help: "HTTP request header bytes per poll (an estimate; cookies add more)",
        aliases: &[],
    },
    ParamInfo {
        name: "response_bytes",
        unit: "B",
        default: "250",
        help: "HTTP response header bytes per poll response (an estimate)",
        aliases: &[],
    },
];

macro_rules! per_protocol {
    ($suffix:literal, $unit:literal, $help:literal) => {
        [
            MetricInfo {
                name: concat!("short_poll_", $suffix),
                unit: $unit,
                help: $help,
            },
            MetricInfo {
                name: concat!("long_poll_", $suffix),
                unit: $unit,
                help: $help,
            },
            MetricInfo {
                name: concat!("sse_", $suffix),
                unit: $unit,
                help: $help,
            },
            MetricInfo {
                name: concat!("websocket_", $suffix),
                unit: $unit,
                help: $help,
            },
        ]
    };
}

const REQUESTS: [MetricInfo; 4] = per_protocol!("requests_per_s", "1/s", "HTTP requests");
const BYTES: [MetricInfo; 4] = per_protocol!("bytes_per_s", "B/s", "bytes, both directions");
const OVERHEAD: [MetricInfo; 4] =
    per_protocol!("overhead_fraction", "fraction", "headers + framing share");
const EMPTY: [MetricInfo; 4] =
    per_protocol!("empty_responses", "responses", "responses with no event");
const LAT_MEAN: [MetricInfo; 4] = per_protocol!("latency_mean_ms", "ms", "publish -> client, mean");
const LAT_P99: [MetricInfo; 4] = per_protocol!("latency_p99_ms", "ms", "publish -> client, p99");
const OPEN: [MetricInfo; 4] =
    per_protocol!("open_connections", "connections", "requests/streams open");
const DELIVERED: [MetricInfo; 4] =
    per_protocol!("delivered", "messages", "event deliveries to clients");
const SHARED: [MetricInfo; 2] = [
    MetricInfo {
        name: "events",
        unit: "events",
        help: "events published",
    },
    MetricInfo {
        name: "payload_bytes_per_s",
        unit: "B/s",
        help: "payload every protocol must carry",
    },
];

const fn concat_metrics() -> [MetricInfo; 34] {
    let groups: [&[MetricInfo]; 9] = [
        &REQUESTS, &BYTES, &OVERHEAD, &EMPTY, &LAT_MEAN, &LAT_P99, &OPEN, &DELIVERED, &SHARED,
    ];
    let mut out = [SHARED[0]; 34];
    let mut n = 0;
    let mut g = 0;
    while g < groups.len() {
        let mut i = 0;
        while i < groups[g].len() {
            out[n] = groups[g][i];
            n += 1;
            i += 1;
        }
        g += 1;
    }
    out
}

const ALL_METRICS: [MetricInfo; 34] = concat_metrics();

/// The racer's summary metrics, in report order: each measure for the four
/// protocols side by side, then the shared ones.
pub const METRICS: &[MetricInfo] = &ALL_METRICS;

/// Names of the racer's time series, in report order.
pub const SERIES: &[&str] = &[
    "long_poll_requests_per_s",
    "short_poll_requests_per_s",
    "short_poll_bytes_per_s",
    "long_poll_bytes_per_s",
    "sse_bytes_per_s",
    "websocket_bytes_per_s",
    "events_per_s",
];

/// Canonical parameter name for a user spelling (`--event-rate`, `event_rate`,
/// an alias such as `rate`).
pub fn canonical_param(name: &str) -> Option<&'static str> {
    spec::canonical_param(PARAMS, name)
}

/// Parses seconds with an optional unit suffix (`500ms`, `2s`, `1min`, `2h`).
fn parse_secs(value: &str) -> Option<f64> {
    let v = value.trim().to_ascii_lowercase();
    match v.strip_suffix('h') {
        Some(hours) => hours.trim().parse::<f64>().ok().map(|h| h * 3600.0),
        None => parse_seconds(&v, 1.0),
    }
}

fn flag_of(param: &'static str) -> &'static str {
    match param {
        "event_rate" => "event-rate",
        "rtt_ms" => "rtt-ms",
        "event_bytes" => "event-bytes",
        "request_bytes" => "request-bytes",
        "response_bytes" => "response-bytes",
        other => other,
    }
}

/// Bytes of a server-to-client WebSocket frame header for a payload of `n` bytes
/// (RFC 6455 5.2: 7-bit length, or 16-bit, or 64-bit; server frames unmasked).
pub fn ws_header_bytes(n: u64) -> u64 {
    match n {
        0..=125 => 2,
        126..=65_535 => 4,
        _ => 10,
    }
}

/// Bytes on the wire for one SSE event with an `n`-byte single-line payload
/// inside an HTTP/1.1 chunk: `data: `, payload, `\n\n`, plus the chunk's hex
/// length line and two CRLFs.
pub fn sse_event_bytes(n: u64) -> u64 {
    let body = n + SSE_FIELD_BYTES;
    let hex_digits = u64::from((64 - body.leading_zeros()).div_ceil(4).max(1));
    body + hex_digits + 4
}

/// Timer groups for a period: a grid of `max(1 ms, period / 65,536)`.
fn groups_for(period: SimDuration) -> u64 {
    (period.as_nanos() / TIMER_RESOLUTION.as_nanos()).clamp(1, MAX_GROUPS)
}

impl RacerConfig {
    /// Sets one parameter from text, e.g. `("interval", "5")`, `("rtt-ms",
    /// "50")`. Times accept unit suffixes (`500ms`, `2s`, `1min`); `rtt_ms`
    /// without one is in milliseconds. Ranges are checked by
    /// [`RacerConfig::validate`].
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), SimError> {
        let Some(param) = canonical_param(name) else {
            return Err(spec::unknown_param(NAME, PARAMS, name));
        };
        let flag = flag_of(param);
        let bad = |expected: &'static str| SimError::InvalidValue {
            param: flag,
            value: value.to_string(),
            expected,
        };
        const SECONDS: &str = "a number of seconds such as 30, 0.5 or 500ms";
        let count = || -> Result<u64, SimError> {
            let n = parse_count(value).ok_or_else(|| bad("a whole number such as 10000"))?;
            if n < 0 && param == "clients" {
                return Err(SimError::MustBePositive {
                    param: flag,
                    value: value.trim().to_string(),
                });
            }
            if n < 0 {
                return Err(SimError::MustBeNonNegative {
                    param: flag,
                    value: value.trim().to_string(),
                });
            }
            Ok(u64::try_from(n).unwrap_or(u64::MAX))
        };
        match param {
            "clients" => {
                self.clients = count()?;
                if self.clients == 0 {
                    return Err(SimError::MustBePositive {
                        param: flag,
                        value: value.trim().to_string(),
                    });
                }
            }
            "event_rate" => {
                let v = value.trim().to_ascii_lowercase();
                let v = v.strip_suffix("/s").unwrap_or(&v);
                self.event_rate = v
                    .trim()
                    .parse::<f64>()
                    .map_err(|_| bad("events per second such as 0.2 or 10"))?;
            }
            "duration" => self.duration_s = parse_secs(value).ok_or_else(|| bad(SECONDS))?,
            "interval" => self.interval_s = parse_secs(value).ok_or_else(|| bad(SECONDS))?,
            "hold" => self.hold_s = parse_secs(value).ok_or_else(|| bad(SECONDS))?,
            "rtt_ms" => {
                let s = parse_seconds(value, 1e-3)
                    .ok_or_else(|| bad("a number of milliseconds such as 100"))?;
                self.rtt_ms = s * 1e3;
            }
            "event_bytes" => self.event_bytes = count()?,
            "request_bytes" => self.request_bytes = count()?,
            "response_bytes" => self.response_bytes = count()?,
            _ => unreachable!("canonical_param returns only names in PARAMS"),
        }
        Ok(())
    }

    /// The parameter's current value as text (for `--compare` labels and reports).
    pub fn get(&self, param: &str) -> Option<String> {
        Some(match canonical_param(param)? {
            "clients" => self.clients.to_string(),
            "event_rate" => fmt_num(self.event_rate),
            "duration" => fmt_num(self.duration_s),
            "interval" => fmt_num(self.interval_s),
            "hold" => fmt_num(self.hold_s),
            "rtt_ms" => fmt_num(self.rtt_ms),
            "event_bytes" => self.event_bytes.to_string(),
            "request_bytes" => self.request_bytes.to_string(),
            "response_bytes" => self.response_bytes.to_string(),
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
    pub fn validate(&self) -> Result<RacerParams, SimError> {
        fn secs(
            param: &'static str,
            s: f64,
            positive: bool,
            shown: f64,
        ) -> Result<SimDuration, SimError> {
            if s.is_finite() && s > MAX_SECONDS {
                return Err(SimError::TooLarge {
                    param,
                    value: fmt_num(shown),
                    max: format!("{MAX_SECONDS} s"),
                });
            }
            match SimDuration::try_from_secs_f64(s) {
                Some(d) if !positive || d.as_nanos() > 0 => Ok(d),
                _ if positive => Err(SimError::MustBePositive {
                    param,
                    value: fmt_num(shown),
                }),
                _ => Err(SimError::MustBeNonNegative {
                    param,
                    value: fmt_num(shown),
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
        let duration = secs("duration", self.duration_s, true, self.duration_s)?;
        let interval = secs("interval", self.interval_s, true, self.interval_s)?;
        let hold = secs("hold", self.hold_s, true, self.hold_s)?;
        let rtt = secs("rtt-ms", self.rtt_ms / 1e3, false, self.rtt_ms)?;
        if !self.event_rate.is_finite() || self.event_rate < 0.0 {
            return Err(SimError::MustBeNonNegative {
                param: "event-rate",
                value: fmt_num(self.event_rate),
            });
        }
        for (param, v) in [
            ("event-bytes", self.event_bytes),
            ("request-bytes", self.request_bytes),
            ("response-bytes", self.response_bytes),
        ] {
            if v > MAX_BYTES {
                return Err(too_large(param, v.to_string(), MAX_BYTES.to_string()));
            }
        }
        let events_f = (self.event_rate * self.duration_s).round();
        // Rounded down to three decimals, so the suggested rate is accepted.
        let max_rate =
            |max_events: u64| ((max_events as f64 / self.duration_s) * 1e3).floor() / 1e3;
        if events_f > MAX_EVENTS as f64 {
            return Err(too_large(
                "event-rate",
                fmt_num(self.event_rate),
                format!(
                    "{} events/s over {} s ({MAX_EVENTS} events)",
                    fmt_num(max_rate(MAX_EVENTS)),
                    fmt_num(self.duration_s)
                ),
            ));
        }
        let events = events_f as u64;
        let sp_groups = groups_for(interval).min(self.clients);
        let lp_groups = groups_for(hold).min(self.clients);
        if sp_groups.saturating_mul(events) > MAX_POLL_WORK {
            return Err(too_large(
                "event-rate",
                fmt_num(self.event_rate),
                format!(
                    "{} events/s with {} short-polling timer groups over {} s (groups x events <= {MAX_POLL_WORK}); use fewer events or clients, or a shorter --interval",
                    fmt_num(max_rate(MAX_POLL_WORK / sp_groups)),
                    sp_groups,
                    fmt_num(self.duration_s)
                ),
            ));
        }
        // Engine events per second of the window, at worst: every short-polling
        // group polls each interval, every long-polling group times out each
        // hold (an idle feed) or re-requests each round trip (a busy one), and
        // each publication is one event.
        let per_s = sp_groups as f64 / interval.as_secs_f64()
            + lp_groups as f64 / (hold.as_secs_f64() + rtt.as_secs_f64())
            + 1.0 / rtt.as_secs_f64().max(1e-3)
            + self.event_rate;
        if per_s * self.duration_s > MAX_ENGINE_EVENTS {
            let max_s = (MAX_ENGINE_EVENTS / per_s).floor();
            return Err(too_large(
                "duration",
                fmt_num(self.duration_s),
                format!(
                    "{} s with these timers (about {} timer events per simulated second; at most {MAX_ENGINE_EVENTS} in all); use a longer --interval or --hold, or fewer clients",
                    fmt_num(max_s),
                    per_s.round()
                ),
            ));
        }
        let horizon = duration
            .as_nanos()
            .saturating_add(interval.as_nanos())
            .saturating_add(rtt.as_nanos().saturating_mul(2))
            .saturating_add(NANOS_PER_SEC);
        Ok(RacerParams {
            clients: self.clients,
            events,
            duration,
            interval,
            hold,
            rtt,
            event_bytes: self.event_bytes,
            request_bytes: self.request_bytes,
            response_bytes: self.response_bytes,
            sse_bytes: sse_event_bytes(self.event_bytes),
            ws_bytes: self.event_bytes + ws_header_bytes(self.event_bytes),
            sp_groups,
            lp_groups,
            horizon: SimTime(horizon),
        })
    }
}

/// Validated racer parameters in engine units.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RacerParams {
    /// Clients (>= 1).
    pub clients: u64,
    /// Events published.
    pub events: u64,
    /// Publication and measurement window.
    pub duration: SimDuration,
    /// Short-polling interval.
    pub interval: SimDuration,
    /// Long-polling hold timeout.
    pub hold: SimDuration,
    /// Round trip.
    pub rtt: SimDuration,
    /// Payload bytes per event.
    pub event_bytes: u64,
    /// Request header bytes per poll.
    pub request_bytes: u64,
    /// Response header bytes per poll response.
    pub response_bytes: u64,
    /// Bytes of one SSE event on the wire.
    pub sse_bytes: u64,
    /// Bytes of one WebSocket frame on the wire.
    pub ws_bytes: u64,
    /// Most short-polling timer groups.
    pub sp_groups: u64,
    /// Most long-polling timer groups.
    pub lp_groups: u64,
    /// Latest instant the run can need.
    pub horizon: SimTime,
}

impl RacerParams {
    /// Estimated peak memory: 8 bytes per event time, the timer groups and the
    /// recorder; clients themselves hold nothing (they live in groups).
    pub fn memory(&self) -> MemoryEstimate {
        let total = (16u64 << 20)
            .saturating_add(self.events.saturating_mul(8))
            .saturating_add((self.sp_groups + self.lp_groups) * 64);
        MemoryEstimate::new(
            "clients",
            self.clients,
            "client",
            total.div_ceil(self.clients.max(1)),
            0,
        )
    }

    /// Refuses a run that would not fit in `available` bytes.
    pub fn check_memory(&self, available: Option<u64>) -> Result<(), SimError> {
        self.memory().check(available)
    }
}

spec::forward_scenario_spec!(RacerConfig => Racer);

/// The racer's event, packed in 64 bits: kind in the top byte, an event or
/// group index below.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RacerEvent(u64);

const KIND_SHIFT: u32 = 56;
const INDEX_MASK: u64 = (1 << KIND_SHIFT) - 1;
/// An event is published (index = event number).
const PUBLISH: u64 = 0;
/// A short-polling group polls.
const SP_POLL: u64 = 1;
/// A long-polling group's held request times out.
const LP_TIMEOUT: u64 = 2;
/// A long-polling group's next request reaches the server.
const LP_ARRIVE: u64 = 3;

impl RacerEvent {
    #[inline]
    fn new(kind: u64, index: usize) -> Self {
        RacerEvent((kind << KIND_SHIFT) | (index as u64 & INDEX_MASK))
    }
    #[inline]
    fn kind(self) -> u64 {
        self.0 >> KIND_SHIFT
    }
    #[inline]
    fn index(self) -> usize {
        (self.0 & INDEX_MASK) as usize
    }
}

/// Counters of one protocol.
#[derive(Debug, Clone, Copy, Default)]
struct Tally {
    /// Requests that reached the server in the window.
    requests: u64,
    /// Responses without events sent in the window.
    empty: u64,
    /// Bytes in the window, both directions.
    bytes: u128,
    /// Payload bytes among them.
    payload: u128,
    /// Event deliveries (whole run).
    delivered: u64,
    /// Shortest latency seen, ns.
    min_latency: u64,
}

/// A short-polling timer group.
#[derive(Debug, Clone, Copy)]
struct PollGroup {
    clients: u64,
    /// First event not yet delivered to this group.
    next: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LongState {
    /// A request is held at the server until `due` (its hold timeout).
    Waiting,
    /// The next request reaches the server at `due`.
    InFlight,
    /// Merged into another group, or finished.
    Gone,
}

/// A long-polling timer group.
#[derive(Debug, Clone, Copy)]
struct LongGroup {
    clients: u64,
    next: usize,
    state: LongState,
    due: u64,
    listed: bool,
}

#[derive(Debug, Clone, Copy)]
struct Ids {
    sp_req: SeriesId,
    lp_req: SeriesId,
    sp_bytes: SeriesId,
    lp_bytes: SeriesId,
    sse_bytes: SeriesId,
    ws_bytes: SeriesId,
    events: SeriesId,
    latency: [LatencyId; 4],
}

const SP: usize = 0;
const LP: usize = 1;
const SSE: usize = 2;
const WS: usize = 3;

/// The racer model's state; see the module documentation.
#[derive(Debug)]
pub struct Racer {
    cfg: RacerConfig,
    p: RacerParams,
    ids: Option<Ids>,
    /// Publication times, strictly increasing, nanoseconds.
    times: Vec<u64>,
    polls: Vec<PollGroup>,
    longs: Vec<LongGroup>,
    /// Long-polling groups that may be waiting (checked when an event arrives).
    waiting: Vec<u32>,
    tally: [Tally; 4],
    now: u64,
    last_delivery: u64,
}

impl Racer {
    /// A racer run ready to start.
    pub fn new(cfg: RacerConfig) -> Result<Self, SimError> {
        let p = cfg.validate()?;
        Ok(Self {
            cfg,
            p,
            ids: None,
            times: Vec::new(),
            polls: Vec::new(),
            longs: Vec::new(),
            waiting: Vec::new(),
            tally: [Tally {
                min_latency: u64::MAX,
                ..Tally::default()
            }; 4],
            now: 0,
            last_delivery: 0,
        })
    }

    /// The validated parameters.
    pub fn params(&self) -> &RacerParams {
        &self.p
    }

    fn ids(&self) -> Ids {
        self.ids
            .unwrap_or_else(|| unreachable!("Racer::init registers the series first"))
    }

    #[inline]
    fn in_window(&self, t: u64) -> bool {
        t < self.p.duration.as_nanos()
    }

    /// Spreads `clients` over `groups` timer phases `step` apart; returns the
    /// occupied phases with their counts.
    fn draw_groups(
        eng: &mut Engine<RacerEvent>,
        clients: u64,
        period: SimDuration,
    ) -> Vec<(u64, u64)> {
        let slots = groups_for(period);
        let step = period.as_nanos() / slots;
        let mut counts = vec![0u64; slots as usize];
        for _ in 0..clients {
            counts[eng.rng().below(slots) as usize] += 1;
        }
        counts
            .into_iter()
            .enumerate()
            .filter(|&(_, n)| n > 0)
            .map(|(i, n)| (i as u64 * step, n))
            .collect()
    }

    /// Delivers the events published by `t` that group `next..` has not had,
    /// to `clients` clients responding at `t`; returns how many events and the
    /// new `next`.
    #[inline]
    fn deliver(
        &mut self,
        eng: &mut Engine<RacerEvent>,
        proto: usize,
        clients: u64,
        mut next: usize,
        t: u64,
    ) -> (u64, usize) {
        let half = self.p.rtt.as_nanos() / 2;
        let lat_id = self.ids().latency[proto];
        let start = next;
        while next < self.times.len() && self.times[next] <= t {
            let lat = t - self.times[next] + half;
            eng.rec.latency_n(lat_id, SimDuration(lat), clients);
            let tally = &mut self.tally[proto];
            tally.min_latency = tally.min_latency.min(lat);
            next += 1;
        }
        let k = (next - start) as u64;
        if k > 0 {
            self.tally[proto].delivered += k * clients;
            self.last_delivery = self.last_delivery.max(t + half);
        }
        (k, next)
    }

    /// Counts a poll response of `k` events to `clients` clients at `t`.
    #[inline]
    fn respond(
        &mut self,
        eng: &mut Engine<RacerEvent>,
        proto: usize,
        clients: u64,
        k: u64,
        t: u64,
    ) {
        let ids = self.ids();
        let series = if proto == SP {
            ids.sp_bytes
        } else {
            ids.lp_bytes
        };
        let payload = u128::from(clients) * u128::from(k) * u128::from(self.p.event_bytes);
        let bytes = u128::from(clients) * u128::from(self.p.response_bytes) + payload;
        eng.rec
            .count(series, SimTime(t), u64::try_from(bytes).unwrap_or(u64::MAX));
        if self.in_window(t) {
            let tally = &mut self.tally[proto];
            tally.bytes += bytes;
            tally.payload += payload;
            if k == 0 {
                tally.empty += clients;
            }
        }
    }

    /// Counts `clients` poll requests reaching the server at `t`.
    #[inline]
    fn request(&mut self, eng: &mut Engine<RacerEvent>, proto: usize, clients: u64, t: u64) {
        let ids = self.ids();
        let (req_series, byte_series) = if proto == SP {
            (ids.sp_req, ids.sp_bytes)
        } else {
            (ids.lp_req, ids.lp_bytes)
        };
        let bytes = u128::from(clients) * u128::from(self.p.request_bytes);
        eng.rec.count(req_series, SimTime(t), clients);
        eng.rec.count(
            byte_series,
            SimTime(t),
            u64::try_from(bytes).unwrap_or(u64::MAX),
        );
        if self.in_window(t) {
            self.tally[proto].requests += clients;
            self.tally[proto].bytes += bytes;
        }
    }

    /// True once every event has been published and, for a group that has had
    /// them all, the window is over: it stops polling.
    #[inline]
    fn group_done(&self, next: usize, t: u64) -> bool {
        next >= self.times.len() && !self.in_window(t)
    }

    fn publish(&mut self, eng: &mut Engine<RacerEvent>, i: usize) {
        let ids = self.ids();
        let t = eng.now().as_nanos();
        let n = self.p.clients;
        let half = SimDuration(self.p.rtt.as_nanos() / 2);
        eng.rec.count(ids.events, SimTime(t), 1);

        // Streams: every client gets it one-way later.
        for (proto, frame, series) in [
            (SSE, self.p.sse_bytes, ids.sse_bytes),
            (WS, self.p.ws_bytes, ids.ws_bytes),
        ] {
            eng.rec.latency_n(ids.latency[proto], half, n);
            let bytes = u128::from(n) * u128::from(frame);
            eng.rec
                .count(series, SimTime(t), u64::try_from(bytes).unwrap_or(u64::MAX));
            let tally = &mut self.tally[proto];
            tally.delivered += n;
            tally.min_latency = tally.min_latency.min(half.as_nanos());
            if t < self.p.duration.as_nanos() {
                tally.bytes += bytes;
                tally.payload += u128::from(n) * u128::from(self.p.event_bytes);
            }
        }
        self.last_delivery = self.last_delivery.max(t + half.as_nanos());

        // Long polling: every waiting group responds now, and they merge.
        let mut listed = std::mem::take(&mut self.waiting);
        let mut target: Option<usize> = None;
        for &g in &listed {
            let g = g as usize;
            self.longs[g].listed = false;
            if self.longs[g].state != LongState::Waiting {
                continue;
            }
            debug_assert_eq!(
                self.longs[g].next, i,
                "a waiting group has had every earlier event"
            );
            match target {
                None => target = Some(g),
                Some(tg) => {
                    let c = self.longs[g].clients;
                    self.longs[tg].clients += c;
                    self.longs[g].clients = 0;
                    self.longs[g].state = LongState::Gone;
                }
            }
        }
        listed.clear();
        self.waiting = listed;
        if let Some(tg) = target {
            let c = self.longs[tg].clients;
            let (k, next) = self.deliver(eng, LP, c, self.longs[tg].next, t);
            self.respond(eng, LP, c, k, t);
            let arrive = t + self.p.rtt.as_nanos();
            let g = &mut self.longs[tg];
            g.next = next;
            g.state = LongState::InFlight;
            g.due = arrive;
            eng.schedule_at(SimTime(arrive), RacerEvent::new(LP_ARRIVE, tg));
        }

        if let Some(&next_t) = self.times.get(i + 1) {
            eng.schedule_at(SimTime(next_t), RacerEvent::new(PUBLISH, i + 1));
        }
    }

    fn short_poll(&mut self, eng: &mut Engine<RacerEvent>, g: usize) {
        let t = eng.now().as_nanos();
        let PollGroup { clients, next } = self.polls[g];
        self.request(eng, SP, clients, t);
        let (k, next) = self.deliver(eng, SP, clients, next, t);
        self.respond(eng, SP, clients, k, t);
        self.polls[g].next = next;
        if !self.group_done(next, t) {
            eng.schedule_in(self.p.interval, RacerEvent::new(SP_POLL, g));
        }
    }

    fn long_timeout(&mut self, eng: &mut Engine<RacerEvent>, g: usize) {
        let t = eng.now().as_nanos();
        let grp = self.longs[g];
        if grp.state != LongState::Waiting || grp.due != t {
            return; // answered by an event since, or merged
        }
        self.respond(eng, LP, grp.clients, 0, t);
        if self.group_done(grp.next, t) {
            self.longs[g].state = LongState::Gone;
            return;
        }
        let arrive = t + self.p.rtt.as_nanos();
        self.longs[g].state = LongState::InFlight;
        self.longs[g].due = arrive;
        eng.schedule_at(SimTime(arrive), RacerEvent::new(LP_ARRIVE, g));
    }

    fn long_arrive(&mut self, eng: &mut Engine<RacerEvent>, g: usize) {
        let t = eng.now().as_nanos();
        let grp = self.longs[g];
        if grp.state != LongState::InFlight || grp.due != t {
            return;
        }
        self.request(eng, LP, grp.clients, t);
        let (k, next) = self.deliver(eng, LP, grp.clients, grp.next, t);
        self.longs[g].next = next;
        if k > 0 {
            // Events published during the round trip: answer at once.
            self.respond(eng, LP, grp.clients, k, t);
            if self.group_done(next, t) {
                self.longs[g].state = LongState::Gone;
                return;
            }
            let arrive = t + self.p.rtt.as_nanos();
            self.longs[g].due = arrive;
            eng.schedule_at(SimTime(arrive), RacerEvent::new(LP_ARRIVE, g));
        } else if self.group_done(next, t) {
            self.longs[g].state = LongState::Gone;
        } else {
            let due = t + self.p.hold.as_nanos();
            let grp = &mut self.longs[g];
            grp.state = LongState::Waiting;
            grp.due = due;
            if !grp.listed {
                grp.listed = true;
                self.waiting.push(g as u32);
            }
            eng.schedule_at(SimTime(due), RacerEvent::new(LP_TIMEOUT, g));
        }
    }

    fn all_delivered(&self) -> bool {
        let want = self.p.clients * self.p.events;
        self.tally.iter().all(|t| t.delivered == want)
    }
}

impl Scenario for Racer {
    type Event = RacerEvent;

    fn name(&self) -> &'static str {
        NAME
    }

    fn parameters(&self) -> Vec<Parameter> {
        self.cfg.parameters()
    }

    fn horizon(&self) -> SimTime {
        self.p.horizon
    }

    fn init(&mut self, eng: &mut Engine<RacerEvent>) {
        let rec = &mut eng.rec;
        let rate = |rec: &mut crate::sim::recorder::Recorder, name, unit, label| {
            rec.add_series(name, unit, label, SeriesKind::Rate)
        };
        let ids = Ids {
            lp_req: rate(
                rec,
                "long_poll_requests_per_s",
                "1/s",
                "long-polling requests per second",
            ),
            sp_req: rate(
                rec,
                "short_poll_requests_per_s",
                "1/s",
                "short-polling requests per second",
            ),
            sp_bytes: rate(
                rec,
                "short_poll_bytes_per_s",
                "B/s",
                "short-polling bytes per second",
            ),
            lp_bytes: rate(
                rec,
                "long_poll_bytes_per_s",
                "B/s",
                "long-polling bytes per second",
            ),
            sse_bytes: rate(rec, "sse_bytes_per_s", "B/s", "SSE bytes per second"),
            ws_bytes: rate(
                rec,
                "websocket_bytes_per_s",
                "B/s",
                "WebSocket bytes per second",
            ),
            events: rate(rec, "events_per_s", "1/s", "events published per second"),
            latency: [
                rec.add_latency("short_poll_latency"),
                rec.add_latency("long_poll_latency"),
                rec.add_latency("sse_latency"),
                rec.add_latency("websocket_latency"),
            ],
        };
        self.ids = Some(ids);

        // Publication times: uniform, sorted, made strictly increasing.
        let d = self.p.duration.as_nanos();
        let mut times: Vec<u64> = (0..self.p.events).map(|_| eng.rng().below(d)).collect();
        times.sort_unstable();
        for i in 1..times.len() {
            if times[i] <= times[i - 1] {
                times[i] = times[i - 1] + 1;
            }
        }
        self.times = times;

        // Short polling: groups poll at phase + j * interval.
        let polls = Self::draw_groups(eng, self.p.clients, self.p.interval);
        self.polls = polls
            .iter()
            .map(|&(_, clients)| PollGroup { clients, next: 0 })
            .collect();
        for (g, &(phase, _)) in polls.iter().enumerate() {
            eng.schedule_at(SimTime(phase), RacerEvent::new(SP_POLL, g));
        }

        // Long polling: every group has a request held, timing out at its phase.
        let longs = Self::draw_groups(eng, self.p.clients, self.p.hold);
        self.longs = longs
            .iter()
            .map(|&(phase, clients)| LongGroup {
                clients,
                next: 0,
                state: LongState::Waiting,
                due: phase,
                listed: true,
            })
            .collect();
        self.waiting = (0..self.longs.len() as u32).collect();
        for (g, &(phase, _)) in longs.iter().enumerate() {
            eng.schedule_at(SimTime(phase), RacerEvent::new(LP_TIMEOUT, g));
        }

        if let Some(&t0) = self.times.first() {
            eng.schedule_at(SimTime(t0), RacerEvent::new(PUBLISH, 0));
        }
    }

    #[inline]
    fn handle(&mut self, eng: &mut Engine<RacerEvent>, event: RacerEvent) {
        self.now = eng.now().as_nanos();
        match event.kind() {
            PUBLISH => self.publish(eng, event.index()),
            SP_POLL => self.short_poll(eng, event.index()),
            LP_TIMEOUT => self.long_timeout(eng, event.index()),
            _ => self.long_arrive(eng, event.index()),
        }
    }

    fn is_finished(&self) -> bool {
        !self.in_window(self.now) && self.all_delivered()
    }

    fn finish(&mut self, eng: &mut Engine<RacerEvent>) -> Finish {
        let ids = self.ids();
        let end = self.p.duration.as_nanos().max(self.last_delivery);
        let window_s = self.p.duration.as_secs_f64();
        let n = self.p.clients as f64;
        let lat: Vec<Option<LatencySummary>> = ids
            .latency
            .iter()
            .map(|&id| eng.rec.latency_summary(id))
            .collect();
        let ms = |ns: f64| ns / 1e6;
        let per_s = |x: f64| x / window_s;
        let rtt_s = self.p.rtt.as_secs_f64();
        let mut values: Vec<Option<f64>> = Vec::with_capacity(METRICS.len());
        values.extend(self.tally.iter().map(|t| Some(per_s(t.requests as f64))));
        values.extend(self.tally.iter().map(|t| Some(per_s(t.bytes as f64))));
        values.extend(
            self.tally
                .iter()
                .map(|t| (t.bytes > 0).then(|| (t.bytes - t.payload) as f64 / t.bytes as f64)),
        );
        values.extend(self.tally.iter().map(|t| Some(t.empty as f64)));
        values.extend(lat.iter().map(|l| l.map(|l| ms(l.mean_ns))));
        values.extend(lat.iter().map(|l| l.map(|l| ms(l.p99_ns as f64))));
        values.extend([
            // Little's law: each short poll is outstanding for one round trip.
            Some(per_s(self.tally[SP].requests as f64) * rtt_s),
            Some(n),
            Some(n),
            Some(n),
        ]);
        values.extend(self.tally.iter().map(|t| Some(t.delivered as f64)));
        values.push(Some(self.p.events as f64));
        values.push(Some(per_s(
            n * self.p.events as f64 * self.p.event_bytes as f64,
        )));
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

#[cfg(test)]
mod tests;

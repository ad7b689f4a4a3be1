//! The heartbeat scenario (issue 6): how long a server holds connections whose
//! peer died silently, and what it costs to find out sooner.
//!
//! **Model.** `connections` idle connections are open at t = 0. A fraction
//! `dead_fraction` of them (rounded to a whole number) die silently, each at a time
//! drawn uniformly from `[0, duration)`: the peer vanishes without a FIN or RST
//! (a phone leaves coverage, a NAT drops its mapping), so the server holds a
//! *half-open* connection until a detector declares it dead and closes it. Network
//! delay is taken as zero (much smaller than any timeout here), and live peers
//! always answer.
//!
//! **Detectors.** Every connection has a probe timer with period `P`, started at
//! a random phase (uniform in `[0, P)`, as a server that spreads its timers does).
//! A probe sent at or before the instant of death is answered; the first probe
//! after it is the first *missed* one.
//! - `app` (WebSocket ping/pong or an application heartbeat): a ping every
//!   `ping_interval` P; a ping without a pong within `pong_timeout` T is missed,
//!   and after `missed` k consecutive misses the connection is closed, at the
//!   k-th missed ping + T. With the peer dying a time `u` after its last
//!   answered ping (`u` uniform in `[0, P)`), the detection delay is
//!   `kP + T - u`: it lies in `((k-1)P + T, kP + T]` and averages `(k - 1/2)P + T`.
//! - `tcp-keepalive` (Linux `SO_KEEPALIVE`): on an idle connection the kernel
//!   sends a probe after `keepalive_time` (default 7200 s, `tcp_keepalive_time`)
//!   without traffic; an answered probe restarts that wait. Once a probe goes
//!   unanswered it re-probes every `keepalive_intvl` (75 s) and drops the
//!   connection when `keepalive_probes` (9) probes in a row went unanswered, one
//!   interval after the last: delay in `(9 x 75, 7200 + 9 x 75] = (675, 7875]` s.
//! - `none`: nothing probes; a dead connection is held for ever. The run stops
//!   at `duration`, and the totals that would grow without bound
//!   (`dead_connection_seconds`, `mean_dead_held`) are undefined (`null`).
//!
//! Both detectors are the same machine: a first missed probe at most one period
//! `P` after the death, then `k - 1` more probes `r` apart, then a final wait
//! `W` (app: `r = P`, `W = T`; keepalive: `P = keepalive_time`,
//! `k = keepalive_probes`, `r = W = keepalive_intvl`), so every delay lies in
//! `((k-1)r + W, P + (k-1)r + W]`.
//!
//! **Bytes.** What `--wire` counts per probe and per answer: `ws` (default)
//! counts WebSocket frames only: a ping with an empty payload is 2 bytes from
//! the server, its pong 6 bytes from the client (client frames carry a 4-byte
//! mask), plus the echoed `payload` each; TCP keepalive probes are below the
//! WebSocket layer and count 0. `tcp` adds 52 bytes of IPv4 and TCP headers
//! (20 + 20 + 12 for the timestamp option) per segment, so a keepalive probe and
//! its ACK are 52 bytes each; `tls` adds a further 22 bytes of TLS 1.3 record
//! overhead to each WebSocket frame (5-byte header, 1-byte content type, 16-byte
//! AEAD tag). Delayed ACKs are not counted. Byte and probe rates cover
//! `[0, duration)`.
//!
//! **Measured.** Detection delay (death to close), its distribution; *dead
//! connection-seconds*, the integral over time of half-open connections held
//! (which, by construction, equals the sum of the delays: a check the tests
//! make); heartbeat bytes and probes per second. The run goes on after
//! `duration` until the last dead connection is detected.
//!
//! **How it runs fast.** Live connections cost one phase draw and one division
//! (their probe count over the window); only dead connections have events: their
//! death, their first missed probe and their detection, each computed in closed
//! form when the death is drawn.
//!
//! Talks to: the engine ([`crate::sim::engine`]) for time, events and the RNG;
//! the recorder for series; [`crate::sim::registry`] lists it as `heartbeat`.

use crate::sim::engine::Engine;
use crate::sim::error::SimError;
use crate::sim::recorder::{LatencyId, SeriesId, SeriesKind};
use crate::sim::registry::{MetricInfo, ParamInfo};
use crate::sim::report::{Metric, Parameter};
use crate::sim::scenario::{Finish, Scenario};
use crate::sim::spec::{self, MemoryEstimate, fmt_num, parse_count, parse_seconds};
use crate::sim::time::{NANOS_PER_SEC, SimDuration, SimTime};

/// The registry name.
pub const NAME: &str = "heartbeat";

/// Most connections one run may have (each costs a few random draws).
pub const MAX_CONNECTIONS: u64 = 100_000_000;
/// Longest duration or timer, in seconds (about 116 days).
pub const MAX_SECONDS: f64 = 10_000_000.0;
/// Most consecutive missed pings before closing.
pub const MAX_MISSED: u64 = 1_000;
/// Largest ping payload: RFC 6455 control frames carry at most 125 bytes.
pub const MAX_CONTROL_PAYLOAD: u64 = 125;
/// Linux's limit on `TCP_KEEPIDLE` and `TCP_KEEPINTVL`, seconds (`MAX_TCP_KEEPIDLE`).
pub const MAX_TCP_KEEPALIVE_S: f64 = 32_767.0;
/// Linux's limit on `TCP_KEEPCNT` (`MAX_TCP_KEEPCNT`).
pub const MAX_TCP_KEEPCNT: u64 = 127;

/// WebSocket header of a server-to-client ping with a payload under 126 bytes.
pub const WS_PING_HEADER_BYTES: u64 = 2;
/// WebSocket header of a client-to-server pong: 2 bytes plus the 4-byte mask.
pub const WS_PONG_HEADER_BYTES: u64 = 6;
/// IPv4 (20) + TCP (20) + TCP timestamp option (12) bytes per segment.
pub const TCP_IP_HEADER_BYTES: u64 = 52;
/// TLS 1.3 record overhead: 5-byte header, 1-byte inner content type, 16-byte tag.
pub const TLS_RECORD_BYTES: u64 = 22;

/// Who finds dead connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Detector {
    /// Pings every `ping_interval`, close after `missed` pongs missed.
    #[default]
    App,
    /// Linux TCP keepalive with the `keepalive_*` timers.
    TcpKeepalive,
    /// Nothing probes.
    None,
}

impl Detector {
    /// All detectors, in help order.
    pub const ALL: [Detector; 3] = [Detector::App, Detector::TcpKeepalive, Detector::None];

    /// The CLI spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Detector::App => "app",
            Detector::TcpKeepalive => "tcp-keepalive",
            Detector::None => "none",
        }
    }

    /// Parses the CLI spelling (and a few aliases).
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().replace('_', "-").as_str() {
            "app" | "ping" | "ping-pong" | "websocket" | "ws" => Some(Detector::App),
            "tcp-keepalive" | "keepalive" | "tcp" | "so-keepalive" => Some(Detector::TcpKeepalive),
            "none" | "off" => Some(Detector::None),
            _ => None,
        }
    }
}

/// Which bytes the heartbeat byte rate counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Wire {
    /// WebSocket frames only.
    #[default]
    Ws,
    /// Plus IPv4 and TCP headers per segment.
    Tcp,
    /// Plus TCP/IP headers and a TLS 1.3 record per WebSocket frame.
    Tls,
}

impl Wire {
    /// All choices, in help order.
    pub const ALL: [Wire; 3] = [Wire::Ws, Wire::Tcp, Wire::Tls];

    /// The CLI spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Wire::Ws => "ws",
            Wire::Tcp => "tcp",
            Wire::Tls => "tls",
        }
    }

    /// Parses the CLI spelling.
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "ws" | "websocket" | "frames" => Some(Wire::Ws),
            "tcp" | "ip" | "tcp-ip" => Some(Wire::Tcp),
            "tls" | "wss" => Some(Wire::Tls),
            _ => None,
        }
    }
}

/// Heartbeat parameters as the user gives them, before validation. `Default` is
/// the documented CLI defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct HeartbeatConfig {
    /// Open, idle connections at t = 0.
    pub connections: u64,
    /// Fraction of them that die silently during the run (0..=1).
    pub dead_fraction: f64,
    /// Deaths are uniform over `[0, duration_s)`; rates cover this window.
    pub duration_s: f64,
    /// Who detects dead connections.
    pub detector: Detector,
    /// Application ping period, seconds.
    pub ping_interval_s: f64,
    /// Consecutive missed pongs before closing.
    pub missed: u64,
    /// How long a pong may take, seconds.
    pub pong_timeout_s: f64,
    /// `tcp_keepalive_time`, seconds.
    pub keepalive_time_s: f64,
    /// `tcp_keepalive_intvl`, seconds.
    pub keepalive_intvl_s: f64,
    /// `tcp_keepalive_probes`.
    pub keepalive_probes: u64,
    /// Ping payload bytes (echoed in the pong).
    pub payload: u64,
    /// Which bytes to count.
    pub wire: Wire,
}

impl Default for HeartbeatConfig {
    fn default() -> Self {
        Self {
            connections: 100_000,
            dead_fraction: 0.1,
            duration_s: 3600.0,
            detector: Detector::App,
            ping_interval_s: 30.0,
            missed: 2,
            pong_timeout_s: 10.0,
            keepalive_time_s: 7200.0,
            keepalive_intvl_s: 75.0,
            keepalive_probes: 9,
            payload: 0,
            wire: Wire::Ws,
        }
    }
}

/// The heartbeat's parameters: name, unit, default and meaning.
pub const PARAMS: &[ParamInfo] = &[
    ParamInfo {
        name: "connections",
        unit: "connections",
        default: "100000",
        help: "idle connections open at t = 0",
        aliases: &["clients", "conns"],
    },
    ParamInfo {
        name: "dead_fraction",
        unit: "fraction",
        default: "0.1",
        help: "fraction that die silently (half-open), at uniform random times over the duration",
        aliases: &["dead", "fraction"],
    },
    ParamInfo {
        name: "duration",
        unit: "s",
        default: "3600",
        help: "window over which connections die and rates are measured",
        aliases: &[],
    },
    ParamInfo {
        name: "detector",
        unit: "",
        default: "app",
        help: "app (ping/pong), tcp-keepalive (Linux SO_KEEPALIVE) or none",
        aliases: &[],
    },
    ParamInfo {
        name: "ping_interval",
        unit: "s",
        default: "30",
        help: "app detector: seconds between pings (P)",
        aliases: &["interval", "ping"],
    },
    ParamInfo {
        name: "missed",
        unit: "pings",
        default: "2",
        help: "app detector: consecutive missed pongs before closing (k)",
        aliases: &["k", "misses", "missed_pongs"],
    },
    ParamInfo {
        name: "pong_timeout",
        unit: "s",
        default: "10",
        help: "app detector: how long a pong may take before its ping counts as missed (T)",
        aliases: &["timeout"],
    },
    ParamInfo {
        name: "keepalive_time",
        unit: "s",
        default: "7200",
        help: "tcp-keepalive: idle time before the first probe (tcp_keepalive_time)",
        aliases: &["keepidle"],
    },
    ParamInfo {
        name: "keepalive_intvl",
        unit: "s",
        default: "75",
        help: "tcp-keepalive: seconds between unanswered probes (tcp_keepalive_intvl)",
        aliases: &["keepalive_interval", "keepintvl"],
    },
    ParamInfo {
        name: "keepalive_probes",
        unit: "probes",
        default: "9",
        help: "tcp-keepalive: unanswered probes before the kernel drops the connection",
        aliases: &["keepcnt"],
    },
    ParamInfo {
        name: "payload",
        unit: "B",
        default: "0",
        help: "ping payload bytes, echoed in the pong (at most 125)",
        aliases: &[],
    },
    ParamInfo {
        name: "wire",
        unit: "",
        default: "ws",
        help: "bytes counted: ws (WebSocket frames), tcp (+52 B TCP/IP per segment), tls (+22 B TLS record)",
        aliases: &[],
    },
];

/// The heartbeat's summary metrics, in report order.
pub const METRICS: &[MetricInfo] = &[
    MetricInfo {
        name: "detection_delay_mean_s",
        unit: "s",
        help: "death -> close, mean",
    },
    MetricInfo {
        name: "detection_delay_min_s",
        unit: "s",
        help: "death -> close, shortest",
    },
    MetricInfo {
        name: "detection_delay_p99_s",
        unit: "s",
        help: "death -> close, 99th pct",
    },
    MetricInfo {
        name: "detection_delay_max_s",
        unit: "s",
        help: "death -> close, longest",
    },
    MetricInfo {
        name: "delay_lower_bound_s",
        unit: "s",
        help: "theory: every delay is above this",
    },
    MetricInfo {
        name: "delay_upper_bound_s",
        unit: "s",
        help: "theory: no delay exceeds this",
    },
    MetricInfo {
        name: "dead_connection_seconds",
        unit: "conn*s",
        help: "half-open connections held x time",
    },
    MetricInfo {
        name: "mean_dead_held",
        unit: "connections",
        help: "half-open held, time average",
    },
    MetricInfo {
        name: "peak_dead_held",
        unit: "connections",
        help: "half-open held, most at once",
    },
    MetricInfo {
        name: "died",
        unit: "connections",
        help: "died silently",
    },
    MetricInfo {
        name: "detected",
        unit: "connections",
        help: "found dead and closed",
    },
    MetricInfo {
        name: "undetected",
        unit: "connections",
        help: "still held at the end",
    },
    MetricInfo {
        name: "heartbeat_bytes_per_s",
        unit: "B/s",
        help: "probe + answer bytes (see --wire)",
    },
    MetricInfo {
        name: "pings_per_s",
        unit: "1/s",
        help: "probes sent by the server",
    },
];

/// Names of the heartbeat's time series, in report order.
pub const SERIES: &[&str] = &["dead_held", "died", "detected", "heartbeat_bytes_per_s"];

/// Canonical parameter name for a user spelling (`--ping-interval`,
/// `ping_interval`, an alias such as `interval`).
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

/// The CLI flag of a canonical parameter name.
fn flag_of(param: &'static str) -> &'static str {
    match param {
        "dead_fraction" => "dead-fraction",
        "ping_interval" => "ping-interval",
        "pong_timeout" => "pong-timeout",
        "keepalive_time" => "keepalive-time",
        "keepalive_intvl" => "keepalive-intvl",
        "keepalive_probes" => "keepalive-probes",
        other => other,
    }
}

impl HeartbeatConfig {
    /// Sets one parameter from text, e.g. `("ping-interval", "30")`,
    /// `("detector", "tcp-keepalive")`. Times accept `ms`, `s`, `min` and `h`
    /// suffixes. Ranges are checked by [`HeartbeatConfig::validate`].
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
        const SECONDS: &str = "a number of seconds such as 30, 0.5, 500ms or 2h";
        let count = || -> Result<u64, SimError> {
            let n = parse_count(value).ok_or_else(|| bad("a whole number such as 100000"))?;
            let at_least_one = matches!(param, "connections" | "missed" | "keepalive_probes");
            if n <= 0 && at_least_one {
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
            "connections" => self.connections = count()?,
            "dead_fraction" => {
                let v = value.trim();
                self.dead_fraction = match v.strip_suffix('%') {
                    Some(p) => p.trim().parse::<f64>().ok().map(|x| x / 100.0),
                    None => v.parse::<f64>().ok(),
                }
                .ok_or_else(|| bad("a fraction such as 0.1 or 10%"))?;
            }
            "duration" => self.duration_s = parse_secs(value).ok_or_else(|| bad(SECONDS))?,
            "detector" => {
                self.detector =
                    Detector::parse(value).ok_or_else(|| bad("app, tcp-keepalive or none"))?;
            }
            "ping_interval" => {
                self.ping_interval_s = parse_secs(value).ok_or_else(|| bad(SECONDS))?;
            }
            "missed" => self.missed = count()?,
            "pong_timeout" => {
                self.pong_timeout_s = parse_secs(value).ok_or_else(|| bad(SECONDS))?
            }
            "keepalive_time" => {
                self.keepalive_time_s = parse_secs(value).ok_or_else(|| bad(SECONDS))?;
            }
            "keepalive_intvl" => {
                self.keepalive_intvl_s = parse_secs(value).ok_or_else(|| bad(SECONDS))?;
            }
            "keepalive_probes" => self.keepalive_probes = count()?,
            "payload" => self.payload = count()?,
            "wire" => self.wire = Wire::parse(value).ok_or_else(|| bad("ws, tcp or tls"))?,
            _ => unreachable!("canonical_param returns only names in PARAMS"),
        }
        Ok(())
    }

    /// The parameter's current value as text (for `--compare` labels and reports).
    pub fn get(&self, param: &str) -> Option<String> {
        Some(match canonical_param(param)? {
            "connections" => self.connections.to_string(),
            "dead_fraction" => fmt_num(self.dead_fraction),
            "duration" => fmt_num(self.duration_s),
            "detector" => self.detector.as_str().to_string(),
            "ping_interval" => fmt_num(self.ping_interval_s),
            "missed" => self.missed.to_string(),
            "pong_timeout" => fmt_num(self.pong_timeout_s),
            "keepalive_time" => fmt_num(self.keepalive_time_s),
            "keepalive_intvl" => fmt_num(self.keepalive_intvl_s),
            "keepalive_probes" => self.keepalive_probes.to_string(),
            "payload" => self.payload.to_string(),
            "wire" => self.wire.as_str().to_string(),
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
    pub fn validate(&self) -> Result<HeartbeatParams, SimError> {
        /// A positive span of at most `max` seconds.
        fn secs(param: &'static str, s: f64, max: f64) -> Result<SimDuration, SimError> {
            if s.is_finite() && s > max {
                return Err(SimError::TooLarge {
                    param,
                    value: fmt_num(s),
                    max: format!("{max} s"),
                });
            }
            match SimDuration::try_from_secs_f64(s) {
                Some(d) if d.as_nanos() > 0 => Ok(d),
                _ => Err(SimError::MustBePositive {
                    param,
                    value: fmt_num(s),
                }),
            }
        }
        let too_large =
            |param, value: String, max: String| SimError::TooLarge { param, value, max };
        let positive = |param, n: u64| {
            if n == 0 {
                Err(SimError::MustBePositive {
                    param,
                    value: "0".into(),
                })
            } else {
                Ok(())
            }
        };

        positive("connections", self.connections)?;
        if self.connections > MAX_CONNECTIONS {
            return Err(too_large(
                "connections",
                self.connections.to_string(),
                MAX_CONNECTIONS.to_string(),
            ));
        }
        if self.dead_fraction.is_nan() || self.dead_fraction < 0.0 {
            return Err(SimError::MustBeNonNegative {
                param: "dead-fraction",
                value: fmt_num(self.dead_fraction),
            });
        }
        if self.dead_fraction > 1.0 {
            return Err(too_large(
                "dead-fraction",
                fmt_num(self.dead_fraction),
                "1 (every connection)".into(),
            ));
        }
        let duration = secs("duration", self.duration_s, MAX_SECONDS)?;
        // Validate every timer, used or not, so a typo is caught whichever
        // detector a later --compare picks.
        let ping = secs("ping-interval", self.ping_interval_s, MAX_SECONDS)?;
        let pong_timeout = secs("pong-timeout", self.pong_timeout_s, MAX_SECONDS)?;
        positive("missed", self.missed)?;
        if self.missed > MAX_MISSED {
            return Err(too_large(
                "missed",
                self.missed.to_string(),
                MAX_MISSED.to_string(),
            ));
        }
        let ka_time = secs("keepalive-time", self.keepalive_time_s, MAX_TCP_KEEPALIVE_S)?;
        let ka_intvl = secs(
            "keepalive-intvl",
            self.keepalive_intvl_s,
            MAX_TCP_KEEPALIVE_S,
        )?;
        positive("keepalive-probes", self.keepalive_probes)?;
        if self.keepalive_probes > MAX_TCP_KEEPCNT {
            return Err(too_large(
                "keepalive-probes",
                self.keepalive_probes.to_string(),
                format!("{MAX_TCP_KEEPCNT} (Linux TCP_KEEPCNT)"),
            ));
        }
        if self.payload > MAX_CONTROL_PAYLOAD {
            return Err(too_large(
                "payload",
                self.payload.to_string(),
                format!("{MAX_CONTROL_PAYLOAD} bytes (RFC 6455 control frames)"),
            ));
        }

        let timing = match self.detector {
            Detector::App => Some(Timing {
                period: ping,
                probes: self.missed as u32,
                retry: ping,
                wait: pong_timeout,
            }),
            Detector::TcpKeepalive => Some(Timing {
                period: ka_time,
                probes: self.keepalive_probes as u32,
                retry: ka_intvl,
                wait: ka_intvl,
            }),
            Detector::None => None,
        };
        let longest = timing.map_or(0, |t| t.upper_bound_ns());
        let horizon_ns = duration.as_nanos().saturating_add(longest);
        if SimDuration(horizon_ns).as_secs_f64() > 2.0 * MAX_SECONDS {
            return Err(too_large(
                "duration",
                fmt_num(self.duration_s),
                "a run (duration + longest detection delay) of 20,000,000 s".into(),
            ));
        }

        let (ping_bytes, pong_bytes) = match (self.detector, self.wire) {
            (Detector::None, _) | (Detector::TcpKeepalive, Wire::Ws) => (0, 0),
            (Detector::TcpKeepalive, _) => (TCP_IP_HEADER_BYTES, TCP_IP_HEADER_BYTES),
            (Detector::App, wire) => {
                let extra = match wire {
                    Wire::Ws => 0,
                    Wire::Tcp => TCP_IP_HEADER_BYTES,
                    Wire::Tls => TCP_IP_HEADER_BYTES + TLS_RECORD_BYTES,
                };
                (
                    WS_PING_HEADER_BYTES + self.payload + extra,
                    WS_PONG_HEADER_BYTES + self.payload + extra,
                )
            }
        };
        // dead_fraction is in [0, 1], so the product is at most `connections`.
        let dead =
            ((self.connections as f64 * self.dead_fraction).round() as u64).min(self.connections);
        Ok(HeartbeatParams {
            connections: self.connections,
            dead,
            duration,
            timing,
            ping_bytes,
            pong_bytes,
            horizon: SimTime(horizon_ns),
        })
    }
}

/// When a detector probes and when it gives up, in engine units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// Probe period while the peer answers (P, or `keepalive_time`).
    pub period: SimDuration,
    /// Unanswered probes before closing (k, or `keepalive_probes`).
    pub probes: u32,
    /// Spacing of the unanswered probes (P, or `keepalive_intvl`).
    pub retry: SimDuration,
    /// Wait after the last unanswered probe (T, or `keepalive_intvl`).
    pub wait: SimDuration,
}

impl Timing {
    /// From the first missed probe to the close: `(k - 1) r + W`, nanoseconds.
    pub fn after_first_miss_ns(&self) -> u64 {
        u64::from(self.probes - 1)
            .saturating_mul(self.retry.as_nanos())
            .saturating_add(self.wait.as_nanos())
    }

    /// Every delay is strictly above this, nanoseconds.
    pub fn lower_bound_ns(&self) -> u64 {
        self.after_first_miss_ns()
    }

    /// No delay exceeds this, nanoseconds: `P + (k - 1) r + W`.
    pub fn upper_bound_ns(&self) -> u64 {
        self.period
            .as_nanos()
            .saturating_add(self.after_first_miss_ns())
    }
}

/// Validated heartbeat parameters in engine units.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HeartbeatParams {
    /// Connections (>= 1).
    pub connections: u64,
    /// Connections that die (round(connections x dead_fraction)).
    pub dead: u64,
    /// Death window and rate window.
    pub duration: SimDuration,
    /// The detector's timers; `None` when nothing detects.
    pub timing: Option<Timing>,
    /// Bytes per probe (server to client) as counted by `--wire`.
    pub ping_bytes: u64,
    /// Bytes per answer (client to server).
    pub pong_bytes: u64,
    /// `duration` + the longest possible detection delay.
    pub horizon: SimTime,
}

impl HeartbeatParams {
    /// Estimated peak memory per dead connection: up to one 16-byte pending event,
    /// times the queue's worst measured buffer slack (3x).
    pub const BYTES_PER_DEAD: u64 = 48;

    /// Estimated peak memory of a run (per connection: the dead share of
    /// [`Self::BYTES_PER_DEAD`]; live connections hold nothing).
    pub fn memory(&self) -> MemoryEstimate {
        let per = (u128::from(self.dead) * u128::from(Self::BYTES_PER_DEAD))
            .div_ceil(u128::from(self.connections.max(1)));
        MemoryEstimate::new(
            "connections",
            self.connections,
            "connection",
            u64::try_from(per).unwrap_or(u64::MAX),
            16 << 20,
        )
    }

    /// Refuses a run that would not fit in `available` bytes.
    pub fn check_memory(&self, available: Option<u64>) -> Result<(), SimError> {
        self.memory().check(available)
    }
}

spec::forward_scenario_spec!(HeartbeatConfig => Heartbeat);

/// The heartbeat's event: a dead connection's next stage, packed in 64 bits
/// (kind in the top two bits; for a death, the nanoseconds until its first
/// missed probe in the rest).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeartbeatEvent(u64);

const KIND_SHIFT: u32 = 62;
const PAYLOAD_MASK: u64 = (1 << KIND_SHIFT) - 1;
const DIE: u64 = 0;
const MISS: u64 = 1;
const DETECT: u64 = 2;

impl HeartbeatEvent {
    #[inline]
    fn die(until_first_miss_ns: u64) -> Self {
        HeartbeatEvent(until_first_miss_ns & PAYLOAD_MASK)
    }
    #[inline]
    fn of(kind: u64) -> Self {
        HeartbeatEvent(kind << KIND_SHIFT)
    }
    #[inline]
    fn kind(self) -> u64 {
        self.0 >> KIND_SHIFT
    }
    #[inline]
    fn payload(self) -> u64 {
        self.0 & PAYLOAD_MASK
    }
}

#[derive(Debug, Clone, Copy)]
struct Ids {
    held: SeriesId,
    died: SeriesId,
    detected: SeriesId,
    bytes: SeriesId,
    delay: LatencyId,
}

/// The heartbeat model's state; see the module documentation.
#[derive(Debug)]
pub struct Heartbeat {
    cfg: HeartbeatConfig,
    p: HeartbeatParams,
    ids: Option<Ids>,
    /// Dead connections the server still holds, and how many of them have not
    /// yet missed a probe (`unnoticed`) or have (`suspect`).
    held: u64,
    unnoticed: u64,
    suspect: u64,
    died: u64,
    detected: u64,
    peak_held: u64,
    /// Integral of `held` over time, connection-nanoseconds.
    held_area: u128,
    last_t: u64,
    last_detect: u64,
    /// Sum, minimum and maximum of detection delays, nanoseconds.
    delay_sum: u128,
    delay_min: u64,
    delay_max: u64,
    /// Probes sent and answered in `[0, duration)`.
    probes_in_window: u128,
    answers_in_window: u128,
    next_sample: u64,
    sample_every: u64,
}

impl Heartbeat {
    /// A heartbeat run ready to start.
    pub fn new(cfg: HeartbeatConfig) -> Result<Self, SimError> {
        let p = cfg.validate()?;
        Ok(Self {
            cfg,
            p,
            ids: None,
            held: 0,
            unnoticed: 0,
            suspect: 0,
            died: 0,
            detected: 0,
            peak_held: 0,
            held_area: 0,
            last_t: 0,
            last_detect: 0,
            delay_sum: 0,
            delay_min: u64::MAX,
            delay_max: 0,
            probes_in_window: 0,
            answers_in_window: 0,
            next_sample: 0,
            sample_every: 1,
        })
    }

    /// The validated parameters.
    pub fn params(&self) -> &HeartbeatParams {
        &self.p
    }

    fn ids(&self) -> Ids {
        self.ids
            .unwrap_or_else(|| unreachable!("Heartbeat::init registers the series first"))
    }

    /// Heartbeat bytes per second expected from the current states: live
    /// connections are probed and answer every period; dead ones are probed
    /// (unanswered) every period, then every retry interval once suspected.
    fn bytes_rate(&self) -> u64 {
        let Some(t) = self.p.timing else {
            return 0;
        };
        let live = self.p.connections - self.died;
        let per_period = (live as f64 * (self.p.ping_bytes + self.p.pong_bytes) as f64
            + self.unnoticed as f64 * self.p.ping_bytes as f64)
            / t.period.as_secs_f64();
        let per_retry = self.suspect as f64 * self.p.ping_bytes as f64 / t.retry.as_secs_f64();
        (per_period + per_retry).round() as u64
    }

    /// Brings the integral of `held` and the sampled gauges up to `t` (the
    /// state has been constant since the last event).
    #[inline]
    fn advance(&mut self, eng: &mut Engine<HeartbeatEvent>, ids: Ids, t: u64) {
        self.held_area += u128::from(self.held) * u128::from(t - self.last_t);
        self.last_t = t;
        if self.next_sample <= t {
            let rate = self.bytes_rate();
            while self.next_sample <= t {
                let b = SimTime(self.next_sample);
                eng.rec.gauge_max(ids.held, b, self.held);
                eng.rec.gauge_max(ids.bytes, b, rate);
                self.next_sample = self.next_sample.saturating_add(self.sample_every);
                if self.next_sample == u64::MAX {
                    break;
                }
            }
        }
    }

    fn end(&self) -> u64 {
        self.p.duration.as_nanos().max(self.last_detect)
    }
}

impl Scenario for Heartbeat {
    type Event = HeartbeatEvent;

    fn name(&self) -> &'static str {
        NAME
    }

    fn parameters(&self) -> Vec<Parameter> {
        self.cfg.parameters()
    }

    fn horizon(&self) -> SimTime {
        self.p.horizon
    }

    fn init(&mut self, eng: &mut Engine<HeartbeatEvent>) {
        let rec = &mut eng.rec;
        let ids = Ids {
            held: rec.add_series(
                "dead_held",
                "connections",
                "half-open connections the server still holds",
                SeriesKind::GaugeMax,
            ),
            died: rec.add_series(
                "died",
                "connections",
                "connections that died silently",
                SeriesKind::Cumulative,
            ),
            detected: rec.add_series(
                "detected",
                "connections",
                "dead connections detected and closed",
                SeriesKind::Cumulative,
            ),
            bytes: rec.add_series(
                "heartbeat_bytes_per_s",
                "B/s",
                "heartbeat bytes per second (expected from current states)",
                SeriesKind::GaugeMax,
            ),
            delay: rec.add_latency("detection_delay"),
        };
        self.sample_every = rec.base_interval().as_nanos();
        self.ids = Some(ids);

        let d_ns = self.p.duration.as_nanos();
        let (mut probes, mut answers) = (0u128, 0u128);
        for i in 0..self.p.connections {
            let dies = i < self.p.dead;
            let Some(t) = self.p.timing else {
                if dies {
                    let d = eng.rng().below(d_ns);
                    eng.schedule_at(SimTime(d), HeartbeatEvent::die(0));
                }
                continue;
            };
            let period = t.period.as_nanos();
            let phase = eng.rng().below(period);
            if !dies {
                // Probes at phase + j * period in [0, duration), all answered.
                let n = if phase < d_ns {
                    (d_ns - 1 - phase) / period + 1
                } else {
                    0
                };
                probes += u128::from(n);
                answers += u128::from(n);
                continue;
            }
            let d = eng.rng().below(d_ns);
            // Probes at or before the death are answered; the next one is missed.
            let answered = if d >= phase {
                (d - phase) / period + 1
            } else {
                0
            };
            let first_miss = phase + answered * period;
            let retry = t.retry.as_nanos();
            let unanswered = if first_miss < d_ns {
                u64::from(t.probes).min((d_ns - 1 - first_miss) / retry + 1)
            } else {
                0
            };
            probes += u128::from(answered + unanswered);
            answers += u128::from(answered);
            eng.schedule_at(SimTime(d), HeartbeatEvent::die(first_miss - d));
        }
        self.probes_in_window = probes;
        self.answers_in_window = answers;
    }

    #[inline]
    fn handle(&mut self, eng: &mut Engine<HeartbeatEvent>, event: HeartbeatEvent) {
        let ids = self.ids();
        let t = eng.now().as_nanos();
        self.advance(eng, ids, t);
        match event.kind() {
            DIE => {
                self.held += 1;
                self.died += 1;
                self.peak_held = self.peak_held.max(self.held);
                eng.rec.count(ids.died, SimTime(t), 1);
                if let Some(tm) = self.p.timing {
                    let gap = event.payload();
                    let delay = gap + tm.after_first_miss_ns();
                    eng.rec.latency(ids.delay, SimDuration(delay));
                    self.delay_sum += u128::from(delay);
                    self.delay_min = self.delay_min.min(delay);
                    self.delay_max = self.delay_max.max(delay);
                    self.unnoticed += 1;
                    eng.schedule_at(SimTime(t + gap), HeartbeatEvent::of(MISS));
                }
            }
            MISS => {
                self.unnoticed -= 1;
                self.suspect += 1;
                if let Some(tm) = self.p.timing {
                    eng.schedule_in(
                        SimDuration(tm.after_first_miss_ns()),
                        HeartbeatEvent::of(DETECT),
                    );
                }
            }
            _ => {
                self.suspect -= 1;
                self.held -= 1;
                self.detected += 1;
                self.last_detect = t;
                eng.rec.count(ids.detected, SimTime(t), 1);
            }
        }
        eng.rec.gauge_max(ids.held, SimTime(t), self.held);
        eng.rec.gauge_max(ids.bytes, SimTime(t), self.bytes_rate());
    }

    fn finish(&mut self, eng: &mut Engine<HeartbeatEvent>) -> Finish {
        let ids = self.ids();
        let end = self.end();
        self.advance(eng, ids, end);

        let secs = |ns: u64| ns as f64 / NANOS_PER_SEC as f64;
        let window_s = self.p.duration.as_secs_f64();
        let lat = eng.rec.latency_summary(ids.delay);
        let detected_any = self.p.timing.is_some() && self.delay_max > 0;
        let mean =
            detected_any.then(|| self.delay_sum as f64 / self.died as f64 / NANOS_PER_SEC as f64);
        let area_s = self.held_area as f64 / NANOS_PER_SEC as f64;
        let bytes = self.probes_in_window as f64 * self.p.ping_bytes as f64
            + self.answers_in_window as f64 * self.p.pong_bytes as f64;
        let values: Vec<Option<f64>> = vec![
            mean,
            detected_any.then(|| secs(self.delay_min)),
            lat.filter(|_| detected_any).map(|l| secs(l.p99_ns)),
            detected_any.then(|| secs(self.delay_max)),
            self.p.timing.map(|t| secs(t.lower_bound_ns())),
            self.p.timing.map(|t| secs(t.upper_bound_ns())),
            // Without a detector a dead connection is held forever: no total.
            self.p.timing.map(|_| area_s),
            self.p.timing.map(|_| area_s / secs(end.max(1))),
            Some(self.peak_held as f64),
            Some(self.died as f64),
            Some(self.detected as f64),
            Some(self.held as f64),
            Some(bytes / window_s),
            Some(self.probes_in_window as f64 / window_s),
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

#[cfg(test)]
mod tests;

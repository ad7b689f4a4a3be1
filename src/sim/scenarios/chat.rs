//! The distributed chat scenario (issue 6): chat servers behind a load balancer,
//! rooms whose members are spread over them, and a pub/sub broker (or none).
//!
//! **Model.** `clients` clients are spread over `servers` servers in turn
//! (client `i` on server `i mod servers`, like a balancer handing out
//! connections). Each of `rooms` rooms has `room_size` members drawn uniformly
//! without replacement from the clients. Every `1 / rate` seconds until the
//! horizon someone posts: a uniformly random room and a uniformly random member
//! of it as the sender. The sender's server writes the message to the room's
//! other members on that server. With `broker = pubsub` it also publishes the
//! message to a broker, which forwards it to every *other* server that has a
//! member of the room (servers subscribe to the rooms their clients are in);
//! it arrives there `hop_ms` later and that server writes it to its members.
//! With `broker = none` members on other servers never get it.
//!
//! **Fan-out cost.** A server writes to one recipient at a time, `write_us` per
//! write, first come first served: a message reaching a server with `m` local
//! recipients at time `a` occupies it from `max(a, busy until)` for `m x
//! write_us`, and its k-th recipient has it `k x write_us` after the start.
//! Latency runs from posting to that write; a write still queued at the horizon
//! is *in flight*.
//!
//! **Theory.** Without a broker a recipient is reached only if it shares the
//! sender's server. With `n_s` clients on server `s` out of `C` and members drawn
//! without replacement, another member is on the sender's server with
//! probability `sum_s (n_s / C) (n_s - 1) / (C - 1)`, which is the expected
//! delivery ratio (`expected_delivery_ratio`; `(C/S - 1) / (C - 1)`, about
//! `1 / S`, when `S` divides `C`). With the broker every member but the sender
//! is reached: writes = messages x (room_size - 1), and each message costs the
//! broker one publish plus one forward per other subscribed server. A server's
//! write load is `rate x room_size / S x write_us`; above 1 its queue, and the
//! latency, grow without bound. Conservation: intended recipients = delivered +
//! in flight + missed (no broker), exactly.
//!
//! **How it runs fast.** Two events per message at most: the post, and the
//! broker's delivery to the other servers `hop_ms` later (all at once). Writes
//! are not events: a server's FIFO makes each write's time known when the
//! message reaches it. Rooms are stored as their members' servers (2 bytes per
//! member) plus, per room, the list of (server, members there).
//!
//! Talks to: the engine ([`crate::sim::engine`]) for time, events and the RNG; the
//! recorder for series and the latency histogram; [`crate::sim::registry`] lists
//! it as `chat`.

use std::collections::HashSet;

use crate::sim::engine::Engine;
use crate::sim::error::SimError;
use crate::sim::recorder::{LatencyId, SeriesId, SeriesKind};
use crate::sim::registry::{MetricInfo, ParamInfo};
use crate::sim::report::{Metric, Parameter};
use crate::sim::rng::SimRng;
use crate::sim::scenario::{Finish, Scenario};
use crate::sim::spec::{
    self, MemoryEstimate, ScenarioSpec, count_in_range, count_value, duration_value, fmt_num,
    number_value, parse_seconds, positive_value, seconds_value,
};
use crate::sim::time::{NANOS_PER_SEC, SimDuration, SimTime};

/// The registry name.
pub const NAME: &str = "chat";

/// Most servers (indices fit in `u16`).
pub const MAX_SERVERS: u64 = 10_000;
/// Most clients.
pub const MAX_CLIENTS: u64 = u32::MAX as u64;
/// Most room memberships in all (`rooms x room_size`).
pub const MAX_MEMBERSHIPS: u64 = 100_000_000;
/// Most messages one run may post.
pub const MAX_MESSAGES: f64 = 4_000_000_000.0;
/// Highest message rate, messages per second.
pub const MAX_RATE: f64 = 1e9;
/// Longest horizon, in seconds (about 116 days).
pub const MAX_HORIZON_S: f64 = 10_000_000.0;

/// How servers share messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BrokerMode {
    /// No broker: a server only reaches its own clients.
    None,
    /// A pub/sub broker forwards each message to the other servers in the room.
    #[default]
    PubSub,
}

impl BrokerMode {
    /// All modes, in help order.
    pub const ALL: [BrokerMode; 2] = [BrokerMode::None, BrokerMode::PubSub];

    /// The CLI spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            BrokerMode::None => "none",
            BrokerMode::PubSub => "pubsub",
        }
    }

    /// Parses the CLI spelling and aliases (`redis`, `pub-sub`).
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().replace('_', "-").as_str() {
            "none" | "off" | "no" | "local" => Some(BrokerMode::None),
            "pubsub" | "pub-sub" | "redis" | "broker" | "on" => Some(BrokerMode::PubSub),
            _ => None,
        }
    }
}

/// Chat parameters as the user gives them, before validation. `Default` is the
/// documented CLI defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatConfig {
    /// Chat servers.
    pub servers: u64,
    /// Connected clients, spread over the servers in turn.
    pub clients: u64,
    /// Rooms.
    pub rooms: u64,
    /// Members per room.
    pub room_size: u64,
    /// Messages posted per second, over all rooms.
    pub rate: f64,
    /// Broker mode.
    pub broker: BrokerMode,
    /// Broker hop (publish + forward), milliseconds.
    pub hop_ms: f64,
    /// Time a server spends per recipient write, microseconds.
    pub write_us: f64,
    /// Stop time, seconds.
    pub horizon_s: f64,
}

impl Default for ChatConfig {
    fn default() -> Self {
        Self {
            servers: 10,
            clients: 100_000,
            rooms: 1_000,
            room_size: 50,
            rate: 1_000.0,
            broker: BrokerMode::PubSub,
            hop_ms: 1.0,
            write_us: 5.0,
            horizon_s: 10.0,
        }
    }
}

/// The chat scenario's parameters (the registry's table).
pub const PARAMS: &[ParamInfo] = &[
    ParamInfo {
        name: "servers",
        unit: "servers",
        default: "10",
        help: "chat servers; client i connects to server i mod servers",
        aliases: &[],
    },
    ParamInfo {
        name: "clients",
        unit: "clients",
        default: "100000",
        help: "connected clients",
        aliases: &[],
    },
    ParamInfo {
        name: "rooms",
        unit: "rooms",
        default: "1000",
        help: "rooms; members are drawn at random from the clients",
        aliases: &[],
    },
    ParamInfo {
        name: "room_size",
        unit: "members",
        default: "50",
        help: "members per room",
        aliases: &["size", "members"],
    },
    ParamInfo {
        name: "rate",
        unit: "msg/s",
        default: "1000",
        help: "messages posted per second over all rooms",
        aliases: &[],
    },
    ParamInfo {
        name: "broker",
        unit: "",
        default: "pubsub",
        help: "none (servers only reach their own clients) or pubsub",
        aliases: &[],
    },
    ParamInfo {
        name: "hop_ms",
        unit: "ms",
        default: "1",
        help: "broker hop: publish plus forward to another server",
        aliases: &["hop"],
    },
    ParamInfo {
        name: "write_us",
        unit: "us",
        default: "5",
        help: "server time per recipient write",
        aliases: &["write"],
    },
    ParamInfo {
        name: "horizon",
        unit: "s",
        default: "10",
        help: "messages are posted until this virtual time, then the run stops",
        aliases: &[],
    },
];

/// The chat scenario's summary metrics, in report order.
pub const METRICS: &[MetricInfo] = &[
    MetricInfo {
        name: "delivery_ratio",
        unit: "fraction",
        help: "recipients reached / intended",
    },
    MetricInfo {
        name: "expected_delivery_ratio",
        unit: "fraction",
        help: "theory for this broker mode",
    },
    MetricInfo {
        name: "latency_mean_ms",
        unit: "ms",
        help: "post -> write, mean",
    },
    MetricInfo {
        name: "latency_p50_ms",
        unit: "ms",
        help: "post -> write, median",
    },
    MetricInfo {
        name: "latency_p99_ms",
        unit: "ms",
        help: "post -> write, 99th pct",
    },
    MetricInfo {
        name: "latency_max_ms",
        unit: "ms",
        help: "post -> write, slowest",
    },
    MetricInfo {
        name: "fanout_writes_per_s",
        unit: "1/s",
        help: "writes per server per second",
    },
    MetricInfo {
        name: "broker_msgs_per_s",
        unit: "1/s",
        help: "publishes + forwards per s",
    },
    MetricInfo {
        name: "max_server_utilization",
        unit: "fraction",
        help: "busiest server's write time",
    },
    MetricInfo {
        name: "messages",
        unit: "messages",
        help: "messages posted",
    },
    MetricInfo {
        name: "intended",
        unit: "recipients",
        help: "messages x (room size - 1)",
    },
    MetricInfo {
        name: "delivered",
        unit: "recipients",
        help: "writes done by the end",
    },
    MetricInfo {
        name: "in_flight_at_end",
        unit: "recipients",
        help: "writes still queued at the end",
    },
    MetricInfo {
        name: "missed",
        unit: "recipients",
        help: "on another server, no broker",
    },
];

/// Names of the chat scenario's time series, in report order.
pub const SERIES: &[&str] = &[
    "deliveries_per_s",
    "messages_per_s",
    "broker_msgs_per_s",
    "utilization",
    "write_backlog_us",
];

/// Canonical parameter name for a user spelling (`--room-size`, `room_size`).
pub fn canonical_param(name: &str) -> Option<&'static str> {
    spec::canonical_param(PARAMS, name)
}

fn flag(param: &'static str) -> &'static str {
    match param {
        "room_size" => "room-size",
        "hop_ms" => "hop-ms",
        "write_us" => "write-us",
        other => other,
    }
}

impl ScenarioSpec for ChatConfig {
    type Model = Chat;
    const NAME: &'static str = NAME;
    const PARAMS: &'static [ParamInfo] = PARAMS;

    /// Sets one parameter from text, e.g. `("broker", "none")`, `("room-size",
    /// "10000")`, `("hop-ms", "2")`.
    fn set(&mut self, name: &str, value: &str) -> Result<(), SimError> {
        let Some(param) = canonical_param(name) else {
            return Err(spec::unknown_param(NAME, PARAMS, name));
        };
        let f = flag(param);
        match param {
            "servers" => self.servers = count_value(f, value, false)?,
            "clients" => self.clients = count_value(f, value, false)?,
            "rooms" => self.rooms = count_value(f, value, false)?,
            "room_size" => self.room_size = count_value(f, value, false)?,
            "rate" => {
                self.rate = number_value(f, value, "messages per second such as 1000 or 0.5")?;
            }
            "broker" => {
                self.broker = BrokerMode::parse(value).ok_or_else(|| SimError::InvalidValue {
                    param: f,
                    value: value.to_string(),
                    expected: "none or pubsub",
                })?;
            }
            "hop_ms" => {
                let s = parse_seconds(value, 1e-3).ok_or_else(|| SimError::InvalidValue {
                    param: f,
                    value: value.to_string(),
                    expected: "a number of milliseconds such as 1 or 0.5",
                })?;
                self.hop_ms = s * 1e3;
            }
            "write_us" => {
                let s = parse_seconds(value, 1e-6).ok_or_else(|| SimError::InvalidValue {
                    param: f,
                    value: value.to_string(),
                    expected: "a number of microseconds such as 5 or 0.5",
                })?;
                self.write_us = s * 1e6;
            }
            "horizon" => self.horizon_s = seconds_value(f, value)?,
            _ => unreachable!("canonical_param returns only names in PARAMS"),
        }
        Ok(())
    }

    fn get(&self, name: &str) -> Option<String> {
        Some(match canonical_param(name)? {
            "servers" => self.servers.to_string(),
            "clients" => self.clients.to_string(),
            "rooms" => self.rooms.to_string(),
            "room_size" => self.room_size.to_string(),
            "rate" => fmt_num(self.rate),
            "broker" => self.broker.as_str().to_string(),
            "hop_ms" => fmt_num(self.hop_ms),
            "write_us" => fmt_num(self.write_us),
            "horizon" => fmt_num(self.horizon_s),
            _ => return None,
        })
    }

    fn memory(&self) -> Result<MemoryEstimate, SimError> {
        Ok(self.validate_params()?.memory())
    }

    fn build(&self) -> Result<Chat, SimError> {
        Chat::new(self.clone())
    }
}

impl ChatConfig {
    /// Checks every range and converts to engine units.
    pub fn validate_params(&self) -> Result<ChatParams, SimError> {
        let servers = count_in_range("servers", self.servers, false, MAX_SERVERS)?;
        let clients = count_in_range("clients", self.clients, false, MAX_CLIENTS)?;
        let rooms = count_in_range("rooms", self.rooms, false, MAX_MEMBERSHIPS)?;
        if self.room_size < 2 {
            return Err(SimError::TooSmall {
                param: "room-size",
                value: self.room_size.to_string(),
                why: "a room needs a sender and at least one recipient (2 or more)".into(),
            });
        }
        if self.room_size > clients {
            return Err(SimError::TooLarge {
                param: "room-size",
                value: self.room_size.to_string(),
                max: format!("--clients ({clients})"),
            });
        }
        if rooms.saturating_mul(self.room_size) > MAX_MEMBERSHIPS {
            return Err(SimError::TooLarge {
                param: "rooms",
                value: rooms.to_string(),
                max: format!(
                    "{} with --room-size {} ({MAX_MEMBERSHIPS} memberships in all)",
                    MAX_MEMBERSHIPS / self.room_size,
                    self.room_size
                ),
            });
        }
        let rate = positive_value("rate", self.rate, MAX_RATE)?;
        let horizon = duration_value("horizon", self.horizon_s, true, MAX_HORIZON_S)?;
        if (rate * self.horizon_s).ceil() > MAX_MESSAGES {
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
        let hop = duration_value("hop-ms", self.hop_ms / 1e3, false, MAX_HORIZON_S).map_err(
            |e| match e {
                SimError::MustBeNonNegative { param, .. } => SimError::MustBeNonNegative {
                    param,
                    value: fmt_num(self.hop_ms),
                },
                other => other,
            },
        )?;
        let write =
            duration_value("write-us", self.write_us / 1e6, false, MAX_HORIZON_S).map_err(|e| {
                match e {
                    SimError::MustBeNonNegative { param, .. } => SimError::MustBeNonNegative {
                        param,
                        value: fmt_num(self.write_us),
                    },
                    other => other,
                }
            })?;
        Ok(ChatParams {
            servers: u16::try_from(servers).unwrap_or(u16::MAX),
            clients: u32::try_from(clients).unwrap_or(u32::MAX),
            rooms: u32::try_from(rooms).unwrap_or(u32::MAX),
            room_size: u32::try_from(self.room_size).unwrap_or(u32::MAX),
            period_ns: NANOS_PER_SEC as f64 / rate,
            broker: self.broker,
            hop,
            write,
            horizon: SimTime(horizon.as_nanos()),
        })
    }
}

/// Validated chat parameters in engine units.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ChatParams {
    /// Servers (1..=10,000).
    pub servers: u16,
    /// Clients (>= room size).
    pub clients: u32,
    /// Rooms (>= 1).
    pub rooms: u32,
    /// Members per room (2..=clients).
    pub room_size: u32,
    /// Time between two posts, ns (post `i` is at `round(i x period_ns)`).
    pub period_ns: f64,
    /// Broker mode.
    pub broker: BrokerMode,
    /// Broker hop.
    pub hop: SimDuration,
    /// Server time per write.
    pub write: SimDuration,
    /// Stop time.
    pub horizon: SimTime,
}

impl ChatParams {
    /// Estimated peak memory: per room its members' servers (2 bytes each),
    /// its (server, count) list (at most 8 bytes per member) and the sampling
    /// set while it is drawn.
    pub fn memory(&self) -> MemoryEstimate {
        let per_room = u64::from(self.room_size) * 10 + 16;
        let fixed = (16 << 20) + u64::from(self.room_size) * 16 + u64::from(self.servers) * 32;
        MemoryEstimate::new("rooms", u64::from(self.rooms), "room", per_room, fixed)
    }

    /// Clients on server `s` when clients are spread in turn.
    pub fn clients_on(&self, s: u16) -> u64 {
        let (c, n) = (u64::from(self.clients), u64::from(self.servers));
        c / n + u64::from(u64::from(s) < c % n)
    }

    /// The delivery ratio theory expects: 1 with the broker; without it, the
    /// chance that another member shares the sender's server,
    /// `sum_s (n_s / C) (n_s - 1) / (C - 1)`.
    pub fn expected_delivery_ratio(&self) -> f64 {
        match self.broker {
            BrokerMode::PubSub => 1.0,
            BrokerMode::None => {
                let c = f64::from(self.clients);
                if self.clients < 2 {
                    return 1.0;
                }
                (0..self.servers)
                    .map(|s| {
                        let n = self.clients_on(s) as f64;
                        n / c * (n - 1.0).max(0.0) / (c - 1.0)
                    })
                    .sum()
            }
        }
    }
}

/// Draws one room's `k` members from clients `0..c` without replacement
/// (Floyd's algorithm: `k` draws), handing each to `add` in draw order.
/// `chosen` is scratch space. The model and the live run (`simulate chat
/// --live`) both draw rooms with it, in room order from the run's RNG, so one
/// seed gives both the same rooms.
pub fn draw_members(
    rng: &mut SimRng,
    c: u64,
    k: u64,
    chosen: &mut HashSet<u64>,
    mut add: impl FnMut(u64),
) {
    chosen.clear();
    for j in (c - k)..c {
        let t = rng.below(j + 1);
        let member = if chosen.insert(t) {
            t
        } else {
            chosen.insert(j);
            j
        };
        add(member);
    }
}

/// The next post's room and its sender's place among the room's members (the
/// index into the room's draw order), drawn as the model draws them.
#[inline]
pub fn draw_post(rng: &mut SimRng, p: &ChatParams) -> (usize, usize) {
    let r = rng.below(u64::from(p.rooms)) as usize;
    let sender = rng.below(u64::from(p.room_size)) as usize;
    (r, sender)
}

/// When post `i` (from 0) is made, ns from the start: `round(i x period)`, so
/// a rounded interval never drifts. Posts stop at the horizon.
#[inline]
pub fn post_time_ns(p: &ChatParams, i: u64) -> u64 {
    (i as f64 * p.period_ns).round() as u64
}

/// One event: a post (`u64::MAX`), or the broker delivering room `r`'s message
/// from origin server `o` to the other servers (`r << 16 | o`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChatEvent(u64);

const POST: u64 = u64::MAX;

#[derive(Debug, Clone, Copy)]
struct Ids {
    deliveries: SeriesId,
    messages: SeriesId,
    broker: SeriesId,
    util: SeriesId,
    backlog: SeriesId,
    latency: LatencyId,
}

/// The chat model's state; see the module documentation.
#[derive(Debug, Clone)]
pub struct Chat {
    cfg: ChatConfig,
    p: ChatParams,
    /// Room `r`'s members' servers: `member_server[r * room_size ..][.. room_size]`.
    member_server: Vec<u16>,
    /// Room `r`'s (server, members there): `room_servers[room_off[r] .. room_off[r + 1]]`.
    room_servers: Vec<(u16, u32)>,
    room_off: Vec<u32>,
    /// When each server's writer is next free, ns.
    busy_until: Vec<u64>,
    /// Write time per server within the horizon, ns.
    busy_ns: Vec<u64>,
    messages: u64,
    intended: u64,
    delivered: u64,
    in_flight: u64,
    missed: u64,
    broker_msgs: u64,
    ids: Option<Ids>,
}

impl Chat {
    /// A model ready to run; rooms are drawn in `init` from the run's RNG.
    pub fn new(cfg: ChatConfig) -> Result<Self, SimError> {
        let p = cfg.validate_params()?;
        let s = usize::from(p.servers);
        Ok(Self {
            cfg,
            p,
            member_server: Vec::new(),
            room_servers: Vec::new(),
            room_off: Vec::new(),
            busy_until: vec![0; s],
            busy_ns: vec![0; s],
            messages: 0,
            intended: 0,
            delivered: 0,
            in_flight: 0,
            missed: 0,
            broker_msgs: 0,
            ids: None,
        })
    }

    /// The validated parameters.
    pub fn params(&self) -> &ChatParams {
        &self.p
    }

    fn ids(&self) -> Ids {
        self.ids
            .unwrap_or_else(|| unreachable!("Chat::init registers the series first"))
    }

    /// Draws every room's members (Floyd's algorithm: a uniform sample without
    /// replacement in `room_size` draws) and indexes them by server.
    fn draw_rooms(&mut self, eng: &mut Engine<ChatEvent>) {
        let (k, c, s) = (
            self.p.room_size as usize,
            u64::from(self.p.clients),
            u64::from(self.p.servers),
        );
        let rooms = self.p.rooms as usize;
        self.member_server = Vec::with_capacity(rooms * k);
        self.room_off = Vec::with_capacity(rooms + 1);
        self.room_off.push(0);
        let mut chosen: HashSet<u64> = HashSet::with_capacity(k);
        let mut count = vec![0u32; usize::from(self.p.servers)];
        let mut touched: Vec<u16> = Vec::new();
        for _ in 0..rooms {
            draw_members(eng.rng(), c, k as u64, &mut chosen, |member| {
                let server = (member % s) as u16;
                self.member_server.push(server);
                if count[usize::from(server)] == 0 {
                    touched.push(server);
                }
                count[usize::from(server)] += 1;
            });
            for &srv in &touched {
                self.room_servers.push((srv, count[usize::from(srv)]));
                count[usize::from(srv)] = 0;
            }
            touched.clear();
            self.room_off
                .push(u32::try_from(self.room_servers.len()).unwrap_or(u32::MAX));
        }
    }

    /// Room `r`'s (server, members) list.
    #[inline]
    fn servers_of(&self, r: usize) -> &[(u16, u32)] {
        &self.room_servers[self.room_off[r] as usize..self.room_off[r + 1] as usize]
    }

    /// Server `s` receives a message posted at `posted` at `arrive` for `m` of
    /// its clients: its writer does them one by one, FIFO.
    #[inline]
    fn fan_out(&mut self, eng: &mut Engine<ChatEvent>, s: u16, posted: u64, arrive: u64, m: u32) {
        if m == 0 {
            return;
        }
        let ids = self.ids();
        let i = usize::from(s);
        let w = self.p.write.as_nanos();
        let horizon = self.p.horizon.as_nanos();
        let start = arrive.max(self.busy_until[i]);
        let end = start.saturating_add(w.saturating_mul(u64::from(m)));
        self.busy_until[i] = end;
        self.busy_ns[i] += end.min(horizon).saturating_sub(start.min(horizon));
        eng.rec.busy(ids.util, SimTime(start), SimTime(end));
        eng.rec
            .gauge_max(ids.backlog, SimTime(arrive), (end - arrive) / 1_000);
        // Writes done by the horizon: k * w <= horizon - start.
        let done = if start > horizon {
            0
        } else {
            // With free writes (w = 0) all are done at once.
            (horizon - start)
                .checked_div(w)
                .map_or(u64::from(m), |n| n.min(u64::from(m)))
        };
        for k in 1..=done {
            let at = start + k * w;
            eng.rec.latency(ids.latency, SimDuration(at - posted));
            eng.rec.count(ids.deliveries, SimTime(at), 1);
        }
        self.delivered += done;
        self.in_flight += u64::from(m) - done;
    }

    fn post(&mut self, eng: &mut Engine<ChatEvent>) {
        let ids = self.ids();
        let t = eng.now().as_nanos();
        self.messages += 1;
        eng.rec.count(ids.messages, SimTime(t), 1);
        let k = self.p.room_size;
        let (r, sender) = draw_post(eng.rng(), &self.p);
        let origin = self.member_server[r * k as usize + sender];
        self.intended += u64::from(k - 1);
        let local = self
            .servers_of(r)
            .iter()
            .find(|&&(s, _)| s == origin)
            .map_or(0, |&(_, n)| n - 1);
        self.fan_out(eng, origin, t, t, local);
        let remote = k - 1 - local;
        match self.p.broker {
            BrokerMode::None => self.missed += u64::from(remote),
            BrokerMode::PubSub => {
                let others = self.servers_of(r).len() as u64 - 1;
                self.broker_msgs += 1;
                eng.rec.count(ids.broker, SimTime(t), 1);
                let at = SimTime(t) + self.p.hop;
                if others > 0 && at <= self.p.horizon {
                    self.broker_msgs += others;
                    eng.rec.count(ids.broker, at, others);
                    eng.schedule_at(at, ChatEvent(((r as u64) << 16) | u64::from(origin)));
                } else {
                    // No other server has members (remote is 0), or the forwards
                    // would arrive after the run: still on their way.
                    self.in_flight += u64::from(remote);
                }
            }
        }
        let next = post_time_ns(&self.p, self.messages);
        if next < self.p.horizon.as_nanos() {
            eng.schedule_at(SimTime(next), ChatEvent(POST));
        }
    }

    /// The broker's forwards of room `r`'s message from `origin` reach the other
    /// servers now.
    fn forward(&mut self, eng: &mut Engine<ChatEvent>, r: usize, origin: u16) {
        let arrive = eng.now().as_nanos();
        let posted = arrive - self.p.hop.as_nanos();
        let (lo, hi) = (self.room_off[r] as usize, self.room_off[r + 1] as usize);
        for i in lo..hi {
            let (s, n) = self.room_servers[i];
            if s != origin {
                self.fan_out(eng, s, posted, arrive, n);
            }
        }
    }
}

impl Scenario for Chat {
    type Event = ChatEvent;

    fn name(&self) -> &'static str {
        NAME
    }

    fn parameters(&self) -> Vec<Parameter> {
        self.cfg.parameters()
    }

    fn horizon(&self) -> SimTime {
        self.p.horizon
    }

    fn init(&mut self, eng: &mut Engine<ChatEvent>) {
        let rec = &mut eng.rec;
        self.ids = Some(Ids {
            deliveries: rec.add_series(
                "deliveries_per_s",
                "1/s",
                "recipient writes per second",
                SeriesKind::Rate,
            ),
            messages: rec.add_series(
                "messages_per_s",
                "msg/s",
                "messages posted per second",
                SeriesKind::Rate,
            ),
            broker: rec.add_series(
                "broker_msgs_per_s",
                "1/s",
                "broker publishes and forwards per second",
                SeriesKind::Rate,
            ),
            util: rec.add_series(
                "utilization",
                "fraction",
                "servers' write time (all servers)",
                SeriesKind::Utilization {
                    capacity: u64::from(self.p.servers),
                },
            ),
            backlog: rec.add_series(
                "write_backlog_us",
                "us",
                "write queue a message met",
                SeriesKind::GaugeMax,
            ),
            latency: rec.add_latency("delivery_latency"),
        });
        self.draw_rooms(eng);
        eng.schedule_at(SimTime::ZERO, ChatEvent(POST));
    }

    #[inline]
    fn handle(&mut self, eng: &mut Engine<ChatEvent>, ev: ChatEvent) {
        if ev.0 == POST {
            self.post(eng);
        } else {
            self.forward(eng, (ev.0 >> 16) as usize, ev.0 as u16);
        }
    }

    fn finish(&mut self, eng: &mut Engine<ChatEvent>) -> Finish {
        let ids = self.ids();
        let end = self.p.horizon;
        let secs = end.as_secs_f64();
        let lat = eng.rec.latency_summary(ids.latency);
        let ms = |ns: f64| ns / 1e6;
        let servers = f64::from(self.p.servers);
        let busiest = self.busy_ns.iter().copied().max().unwrap_or(0);
        let reached = self.delivered + self.in_flight;
        let values = [
            (self.intended > 0).then(|| reached as f64 / self.intended as f64),
            Some(self.p.expected_delivery_ratio()),
            lat.map(|l| ms(l.mean_ns)),
            lat.map(|l| ms(l.p50_ns as f64)),
            lat.map(|l| ms(l.p99_ns as f64)),
            lat.map(|l| ms(l.max_ns as f64)),
            Some(self.delivered as f64 / servers / secs),
            Some(self.broker_msgs as f64 / secs),
            Some(busiest as f64 / end.as_nanos() as f64),
            Some(self.messages as f64),
            Some(self.intended as f64),
            Some(self.delivered as f64),
            Some(self.in_flight as f64),
            Some(self.missed as f64),
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

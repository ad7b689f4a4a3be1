//! The load-balancing scenario (issue 6): stateful clients behind a load
//! balancer, and what happens to their sessions when a server leaves and returns.
//!
//! **Model.** `clients` clients connect at t = 0 through a load balancer to
//! `servers` servers. A connection lasts a time drawn uniformly from
//! `[0, 2 * lifetime]` (mean `lifetime`); the client then stays offline for a
//! time uniform in `[0, 2 * think]` (reconnecting at once when `think` is 0),
//! and the balancer routes its new connection by `policy`:
//!
//! - `round-robin`: the next live server in turn;
//! - `least-connections`: the live server with the fewest open connections
//!   (lowest index on ties);
//! - `ip-hash` (alias `sticky`): `live[key mod n]` for the client's fixed 64-bit
//!   key and the `n` live servers in index order: modulo hashing;
//! - `consistent-hash`: the first point clockwise from the key on a hash ring
//!   holding `vnodes` points per live server (Karger et al. 1997).
//!
//! A client's session state lives on the server of its last connection. A
//! reconnection that lands on another server is a *session miss*; the session is
//! rebuilt there (so it moves). At `fail_at` the last server (index `servers - 1`)
//! is removed: its connections drop, their sessions are lost, and those clients
//! reconnect after a delay uniform in `[0, reconnect_jitter]` (*forced
//! reconnects*). At `recover_at` it is added back, empty; open connections stay
//! where they are and only new connections see the new pool.
//!
//! **Remapping.** When the pool changes, `remapped_fraction` counts the clients
//! whose routing target changes: for the hash policies, every client whose
//! key maps to another server under the new pool (whether or not it is
//! connected to the failed one); for round-robin and least-connections, which
//! have no client-to-server mapping, the clients whose session was on the
//! failed server. Theory: modulo hashing moves `(S - 1) / S` of the clients when
//! one of `S` servers leaves (exactly: a key keeps its server iff
//! `k mod S == k mod (S - 1)`, which holds for `S - 1` of every `S (S - 1)`
//! consecutive keys), a ring moves only the failed server's share, about `1 / S`;
//! round-robin sends a reconnection to any of the `S` servers, so about
//! `(S - 1) / S` of reconnections miss their session.
//!
//! **Imbalance** is the busiest live server's connections over the mean per live
//! server, sampled at the end of every recorder bin and averaged over the run
//! (`peak_imbalance` is the largest sample).
//!
//! **How it runs fast.** Two events per connection, its start and its end (one
//! when `think` is 0: the end is also the next routing decision). Like the
//! herd's, a client's whole state travels in its one pending event (8 bytes:
//! index, last server, that server's epoch, kind), so the hot path never
//! touches memory at a random client's address. A failure bumps the failing
//! server's epoch, which makes the pending events of its clients stale; it
//! finds those clients in a bitset (1 bit per client) and schedules their
//! forced reconnects. Least-connections routes with a tournament tree over the
//! servers' connection counts (O(log S) per change); the imbalance samples read
//! the least and largest count from a histogram of counts (O(1) per change).
//!
//! Talks to: the engine ([`crate::sim::engine`]) for time, events and the RNG; the
//! recorder for series; [`crate::sim::registry`] lists it as `balance`.
//! The routing itself (pool, round-robin turn, ring, least-connections tree)
//! is [`Router`], which the live proxy (`crate::live::balance`) uses as is.

use crate::sim::engine::Engine;
use crate::sim::error::SimError;
use crate::sim::recorder::{SeriesId, SeriesKind};
use crate::sim::registry::{MetricInfo, ParamInfo};
use crate::sim::report::{Metric, Parameter};
use crate::sim::scenario::{Finish, Scenario};
use crate::sim::spec::{
    self, MemoryEstimate, ScenarioSpec, count_in_range, count_value, duration_value, fmt_num,
    mix64, optional_seconds_value, seconds_value,
};
use crate::sim::time::{SimDuration, SimTime};

/// The registry name.
pub const NAME: &str = "balance";

/// Most clients (indices stay below `u32::MAX`, which marks control events).
pub const MAX_CLIENTS: u64 = u32::MAX as u64 - 1;
/// Most servers (indices fit in `u16` below the two session markers).
pub const MAX_SERVERS: u64 = 10_000;
/// Most virtual nodes per server.
pub const MAX_VNODES: u64 = 10_000;
/// Most points on the hash ring (`servers * vnodes`).
pub const MAX_RING_POINTS: u64 = 10_000_000;
/// Longest horizon, in seconds (about 116 days).
pub const MAX_HORIZON_S: f64 = 10_000_000.0;

/// How the balancer picks a server for a new connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Policy {
    /// The next live server in turn.
    #[default]
    RoundRobin,
    /// The live server with the fewest open connections.
    LeastConnections,
    /// `live[key mod n]`: sticky by modulo hashing.
    IpHash,
    /// A hash ring with virtual nodes: sticky, and stable when the pool changes.
    ConsistentHash,
}

impl Policy {
    /// All policies, in help order.
    pub const ALL: [Policy; 4] = [
        Policy::RoundRobin,
        Policy::LeastConnections,
        Policy::IpHash,
        Policy::ConsistentHash,
    ];

    /// The CLI spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Policy::RoundRobin => "round-robin",
            Policy::LeastConnections => "least-connections",
            Policy::IpHash => "ip-hash",
            Policy::ConsistentHash => "consistent-hash",
        }
    }

    /// Parses the CLI spelling and aliases (`sticky` = `ip-hash`, `rr`, `lc`,
    /// `ring`).
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().replace('_', "-").as_str() {
            "round-robin" | "rr" | "roundrobin" => Some(Policy::RoundRobin),
            "least-connections" | "least-conn" | "leastconn" | "lc" => {
                Some(Policy::LeastConnections)
            }
            "ip-hash" | "sticky" | "hash" | "modulo" | "modulo-hash" => Some(Policy::IpHash),
            "consistent-hash" | "consistent" | "ring" | "hash-ring" => Some(Policy::ConsistentHash),
            _ => None,
        }
    }

    /// Whether the policy maps each client to a server by its key.
    pub fn is_hash(self) -> bool {
        matches!(self, Policy::IpHash | Policy::ConsistentHash)
    }
}

/// Balance parameters as the user gives them, before validation. `Default` is the
/// documented CLI defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct BalanceConfig {
    /// Clients, each with one connection at a time.
    pub clients: u64,
    /// Servers behind the balancer.
    pub servers: u64,
    /// Routing policy.
    pub policy: Policy,
    /// Ring points per server (consistent-hash only).
    pub vnodes: u64,
    /// Mean connection lifetime, seconds (uniform in `[0, 2 * lifetime]`).
    pub lifetime_s: f64,
    /// Mean offline gap before a reconnection, seconds (uniform in `[0, 2 * think]`).
    pub think_s: f64,
    /// When the last server is removed, seconds; `None` = never.
    pub fail_at_s: Option<f64>,
    /// When it is added back, seconds; `None` = never.
    pub recover_at_s: Option<f64>,
    /// Forced reconnects are spread uniformly over this many seconds.
    pub reconnect_jitter_s: f64,
    /// Stop time, seconds.
    pub horizon_s: f64,
}

impl Default for BalanceConfig {
    fn default() -> Self {
        Self {
            clients: 10_000,
            servers: 10,
            policy: Policy::RoundRobin,
            vnodes: 100,
            lifetime_s: 60.0,
            think_s: 1.0,
            fail_at_s: Some(60.0),
            recover_at_s: Some(90.0),
            reconnect_jitter_s: 1.0,
            horizon_s: 120.0,
        }
    }
}

/// The balance scenario's parameters (the registry's table).
pub const PARAMS: &[ParamInfo] = &[
    ParamInfo {
        name: "clients",
        unit: "clients",
        default: "10000",
        help: "clients, each holding one connection at a time and session state on its server",
        aliases: &[],
    },
    ParamInfo {
        name: "servers",
        unit: "servers",
        default: "10",
        help: "servers behind the load balancer",
        aliases: &[],
    },
    ParamInfo {
        name: "policy",
        unit: "",
        default: "round-robin",
        help: "round-robin, least-connections, ip-hash (alias sticky) or consistent-hash",
        aliases: &["lb", "balancer"],
    },
    ParamInfo {
        name: "vnodes",
        unit: "points/server",
        default: "100",
        help: "virtual nodes per server on the consistent-hash ring",
        aliases: &["virtual_nodes"],
    },
    ParamInfo {
        name: "lifetime",
        unit: "s",
        default: "60",
        help: "mean connection lifetime; each lasts uniform [0, 2 x lifetime]",
        aliases: &["session"],
    },
    ParamInfo {
        name: "think",
        unit: "s",
        default: "1",
        help: "mean offline gap before a client reconnects; uniform [0, 2 x think], 0 = at once",
        aliases: &["gap"],
    },
    ParamInfo {
        name: "fail_at",
        unit: "s",
        default: "60",
        help: "when the last server is removed (its clients must reconnect), or none",
        aliases: &["fail"],
    },
    ParamInfo {
        name: "recover_at",
        unit: "s",
        default: "90",
        help: "when it is added back, or none",
        aliases: &["recover"],
    },
    ParamInfo {
        name: "reconnect_jitter",
        unit: "s",
        default: "1",
        help: "forced reconnects are spread uniformly over this many seconds",
        aliases: &["jitter"],
    },
    ParamInfo {
        name: "horizon",
        unit: "s",
        default: "120",
        help: "virtual time at which the run stops",
        aliases: &[],
    },
];

/// The balance scenario's summary metrics, in report order.
pub const METRICS: &[MetricInfo] = &[
    MetricInfo {
        name: "imbalance",
        unit: "ratio",
        help: "busiest / mean, run average",
    },
    MetricInfo {
        name: "peak_imbalance",
        unit: "ratio",
        help: "busiest / mean, worst moment",
    },
    MetricInfo {
        name: "session_miss_ratio",
        unit: "fraction",
        help: "reconnections off-session",
    },
    MetricInfo {
        name: "session_misses",
        unit: "connections",
        help: "reconnections that missed",
    },
    MetricInfo {
        name: "remapped_fraction",
        unit: "fraction",
        help: "clients moved by the failure",
    },
    MetricInfo {
        name: "remapped_back_fraction",
        unit: "fraction",
        help: "clients moved by the return",
    },
    MetricInfo {
        name: "reconnects",
        unit: "connections",
        help: "forced by the failure",
    },
    MetricInfo {
        name: "connections",
        unit: "connections",
        help: "routed: first + reconnects",
    },
    MetricInfo {
        name: "peak_server_connections",
        unit: "connections",
        help: "most on one server",
    },
];

/// Names of the balance scenario's time series, in report order.
pub const SERIES: &[&str] = &[
    "session_misses_per_s",
    "connections_max",
    "connections_min",
    "connected",
    "live_servers",
    "connects_per_s",
    "forced_reconnects_per_s",
];

/// Canonical parameter name for a user spelling (`--fail-at`, `fail_at`, `fail`).
pub fn canonical_param(name: &str) -> Option<&'static str> {
    spec::canonical_param(PARAMS, name)
}

/// The flag spelling of a canonical name.
fn flag(param: &'static str) -> &'static str {
    match param {
        "fail_at" => "fail-at",
        "recover_at" => "recover-at",
        "reconnect_jitter" => "reconnect-jitter",
        other => other,
    }
}

impl ScenarioSpec for BalanceConfig {
    type Model = Balance;
    const NAME: &'static str = NAME;
    const PARAMS: &'static [ParamInfo] = PARAMS;

    /// Sets one parameter from text, e.g. `("policy", "sticky")`, `("fail-at",
    /// "none")`, `("lifetime", "500ms")`.
    fn set(&mut self, name: &str, value: &str) -> Result<(), SimError> {
        let Some(param) = canonical_param(name) else {
            return Err(spec::unknown_param(NAME, PARAMS, name));
        };
        let f = flag(param);
        match param {
            "clients" => self.clients = count_value(f, value, false)?,
            "servers" => self.servers = count_value(f, value, false)?,
            "vnodes" => self.vnodes = count_value(f, value, false)?,
            "policy" => {
                self.policy = Policy::parse(value).ok_or_else(|| SimError::InvalidValue {
                    param: f,
                    value: value.to_string(),
                    expected: "round-robin, least-connections, ip-hash (or sticky) or consistent-hash",
                })?;
            }
            "lifetime" => self.lifetime_s = seconds_value(f, value)?,
            "think" => self.think_s = seconds_value(f, value)?,
            "fail_at" => self.fail_at_s = optional_seconds_value(f, value)?,
            "recover_at" => self.recover_at_s = optional_seconds_value(f, value)?,
            "reconnect_jitter" => self.reconnect_jitter_s = seconds_value(f, value)?,
            "horizon" => self.horizon_s = seconds_value(f, value)?,
            _ => unreachable!("canonical_param returns only names in PARAMS"),
        }
        Ok(())
    }

    fn get(&self, name: &str) -> Option<String> {
        let never = |x: Option<f64>| x.map_or_else(|| "none".to_string(), fmt_num);
        Some(match canonical_param(name)? {
            "clients" => self.clients.to_string(),
            "servers" => self.servers.to_string(),
            "policy" => self.policy.as_str().to_string(),
            "vnodes" => self.vnodes.to_string(),
            "lifetime" => fmt_num(self.lifetime_s),
            "think" => fmt_num(self.think_s),
            "fail_at" => never(self.fail_at_s),
            "recover_at" => never(self.recover_at_s),
            "reconnect_jitter" => fmt_num(self.reconnect_jitter_s),
            "horizon" => fmt_num(self.horizon_s),
            _ => return None,
        })
    }

    fn memory(&self) -> Result<MemoryEstimate, SimError> {
        Ok(self.validate_params()?.memory())
    }

    fn build(&self) -> Result<Balance, SimError> {
        Balance::new(self.clone())
    }
}

impl BalanceConfig {
    /// Checks every range and converts to engine units.
    pub fn validate_params(&self) -> Result<BalanceParams, SimError> {
        let clients = count_in_range("clients", self.clients, false, MAX_CLIENTS)?;
        let servers = count_in_range("servers", self.servers, false, MAX_SERVERS)?;
        let vnodes = count_in_range("vnodes", self.vnodes, false, MAX_VNODES)?;
        if self.policy == Policy::ConsistentHash && servers * vnodes > MAX_RING_POINTS {
            return Err(SimError::TooLarge {
                param: "vnodes",
                value: vnodes.to_string(),
                max: format!("{} with --servers {servers}", MAX_RING_POINTS / servers),
            });
        }
        let horizon = duration_value("horizon", self.horizon_s, true, MAX_HORIZON_S)?;
        let lifetime = duration_value("lifetime", self.lifetime_s, true, MAX_HORIZON_S)?;
        let think = duration_value("think", self.think_s, false, MAX_HORIZON_S)?;
        let jitter = duration_value(
            "reconnect-jitter",
            self.reconnect_jitter_s,
            false,
            MAX_HORIZON_S,
        )?;
        let at = |param: &'static str, s: f64| -> Result<SimTime, SimError> {
            if s.is_finite() && s > self.horizon_s {
                return Err(SimError::TooLarge {
                    param,
                    value: fmt_num(s),
                    max: format!("--horizon {} s", fmt_num(self.horizon_s)),
                });
            }
            Ok(SimTime(
                duration_value(param, s, false, MAX_HORIZON_S)?.as_nanos(),
            ))
        };
        let fail_at = self.fail_at_s.map(|s| at("fail-at", s)).transpose()?;
        let recover_at = self.recover_at_s.map(|s| at("recover-at", s)).transpose()?;
        match (fail_at, recover_at) {
            (None, Some(_)) => {
                return Err(SimError::Requires {
                    param: "recover-at",
                    value: fmt_num(self.recover_at_s.unwrap_or_default()),
                    needs: "--fail-at (a server must fail before it can recover)",
                });
            }
            (Some(f), Some(r)) if r <= f => {
                return Err(SimError::MustExceed {
                    param: "recover-at",
                    value: format!("{} s", fmt_num(self.recover_at_s.unwrap_or_default())),
                    other: "fail-at",
                    other_value: format!("{} s", fmt_num(self.fail_at_s.unwrap_or_default())),
                });
            }
            _ => {}
        }
        if fail_at.is_some() && servers < 2 {
            return Err(SimError::TooSmall {
                param: "servers",
                value: servers.to_string(),
                why:
                    "--fail-at removes one server, so at least 2 are needed (or use --fail-at none)"
                        .into(),
            });
        }
        Ok(BalanceParams {
            clients: u32::try_from(clients).unwrap_or(u32::MAX - 1),
            servers: u16::try_from(servers).unwrap_or(u16::MAX),
            policy: self.policy,
            vnodes: u32::try_from(vnodes).unwrap_or(u32::MAX),
            lifetime,
            think,
            fail_at,
            recover_at,
            reconnect_jitter: jitter,
            horizon: SimTime(horizon.as_nanos()),
        })
    }
}

/// Validated balance parameters in engine units.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BalanceParams {
    /// Clients (>= 1).
    pub clients: u32,
    /// Servers (1..=10,000).
    pub servers: u16,
    /// Routing policy.
    pub policy: Policy,
    /// Ring points per server.
    pub vnodes: u32,
    /// Mean connection lifetime (> 0).
    pub lifetime: SimDuration,
    /// Mean offline gap (0 = reconnect at once).
    pub think: SimDuration,
    /// When the last server leaves.
    pub fail_at: Option<SimTime>,
    /// When it returns (after `fail_at`).
    pub recover_at: Option<SimTime>,
    /// Spread of forced reconnects.
    pub reconnect_jitter: SimDuration,
    /// Stop time.
    pub horizon: SimTime,
}

impl BalanceParams {
    /// Estimated peak memory: per client its pending event (16 bytes, which
    /// carries all its state, times the event queue's 3x worst buffer slack) and
    /// one bit; the ring (all points, the live ones, and its index).
    pub fn memory(&self) -> MemoryEstimate {
        let ring = if self.policy == Policy::ConsistentHash {
            u64::from(self.servers) * u64::from(self.vnodes) * (16 * 2 + 8)
        } else {
            0
        };
        let fixed = (16 << 20) + ring + u64::from(self.servers) * 64;
        MemoryEstimate::new("clients", u64::from(self.clients), "client", 49, fixed)
    }
}

/// "Never connected" as a last server.
const NO_SESSION: u16 = u16::MAX;
/// "Its server failed and the session is gone" as a last server.
const LOST: u16 = u16::MAX - 1;
/// The client index of control events (server down / up).
const CONTROL: u32 = u32::MAX;

/// One event of a client, carrying its whole state: client index (bits
/// 32..64), the server of its last connection or [`NO_SESSION`] / [`LOST`]
/// (bits 16..32), that server's epoch when the client connected (bits 8..16)
/// and the kind (bit 0: 1 = its connection ends, 0 = it connects). Client
/// `u32::MAX` is the server leaving (epoch 0) or returning (epoch 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BalanceEvent(u64);

impl BalanceEvent {
    #[inline]
    fn new(client: u32, last: u16, epoch: u8, ends: bool) -> Self {
        BalanceEvent(
            (u64::from(client) << 32)
                | (u64::from(last) << 16)
                | (u64::from(epoch) << 8)
                | u64::from(ends),
        )
    }
    #[inline]
    fn client(self) -> u32 {
        (self.0 >> 32) as u32
    }
    #[inline]
    fn last(self) -> u16 {
        (self.0 >> 16) as u16
    }
    #[inline]
    fn epoch(self) -> u8 {
        (self.0 >> 8) as u8
    }
    #[inline]
    fn ends(self) -> bool {
        self.0 & 1 == 1
    }
}

/// A tournament tree over per-server connection counts: the least-loaded
/// server (lowest index on ties) in O(1), updates in O(log S). Used to route
/// least-connections; dead servers hold `u32::MAX`.
#[derive(Debug, Clone)]
struct Tournament {
    size: usize,
    vals: Vec<u32>,
    win: Vec<u32>,
}

impl Tournament {
    fn new(n: usize) -> Self {
        let size = n.next_power_of_two().max(1);
        let mut vals = vec![u32::MAX; size];
        vals[..n].fill(0);
        let mut t = Self {
            size,
            vals,
            win: vec![0; 2 * size],
        };
        for i in 0..size {
            t.win[size + i] = i as u32;
        }
        for node in (1..size).rev() {
            t.win[node] = t.better(t.win[2 * node], t.win[2 * node + 1]);
        }
        t
    }

    /// The winner of `a` and `b` (`a` on ties), without a branch: counts are
    /// nearly equal, so a branch here would be mispredicted half the time.
    #[inline]
    fn better(&self, a: u32, b: u32) -> u32 {
        let take_b = u32::from(self.vals[b as usize] < self.vals[a as usize]);
        a ^ ((a ^ b) & take_b.wrapping_neg())
    }

    #[inline]
    fn set(&mut self, i: usize, v: u32) {
        self.vals[i] = v;
        let mut node = (self.size + i) / 2;
        while node >= 1 {
            self.win[node] = self.better(self.win[2 * node], self.win[2 * node + 1]);
            node /= 2;
        }
    }

    /// The least-loaded index (when `size` is 1 the single leaf).
    #[inline]
    fn top(&self) -> usize {
        if self.size == 1 {
            0
        } else {
            self.win[1] as usize
        }
    }
}

/// The live servers' connection counts as a histogram (count -> servers), with
/// the smallest and largest count kept up to date in O(1) per change: a count
/// moves by one at a time, so the extremes move by at most one.
#[derive(Debug, Clone)]
struct Spread {
    hist: Vec<u32>,
    min: u32,
    max: u32,
}

impl Spread {
    fn new(live: u32) -> Self {
        Self {
            hist: vec![live],
            min: 0,
            max: 0,
        }
    }

    #[inline]
    fn slot(&mut self, c: u32) -> &mut u32 {
        let c = c as usize;
        if c >= self.hist.len() {
            self.hist.resize(c + 1, 0);
        }
        &mut self.hist[c]
    }

    /// A live server goes from `c` to `c + 1` connections.
    #[inline]
    fn inc(&mut self, c: u32) {
        *self.slot(c) -= 1;
        *self.slot(c + 1) += 1;
        self.max = self.max.max(c + 1);
        if c == self.min && self.hist[c as usize] == 0 {
            self.min = c + 1;
        }
    }

    /// A live server goes from `c` to `c - 1` connections.
    #[inline]
    fn dec(&mut self, c: u32) {
        *self.slot(c) -= 1;
        *self.slot(c - 1) += 1;
        if c == self.max && self.hist[c as usize] == 0 {
            self.max = c - 1;
        }
        self.min = self.min.min(c - 1);
    }

    /// A server with `c` connections leaves (at least one other stays).
    fn remove(&mut self, c: u32) {
        *self.slot(c) -= 1;
        let used = |h: &[u32], i: usize| h.get(i).is_some_and(|&n| n > 0);
        while self.max > 0 && !used(&self.hist, self.max as usize) {
            self.max -= 1;
        }
        while (self.min as usize) < self.hist.len() && !used(&self.hist, self.min as usize) {
            self.min += 1;
        }
    }

    /// A server joins with no connections.
    fn add_empty(&mut self) {
        *self.slot(0) += 1;
        self.min = 0;
    }
}

/// The load balancer's routing state, shared by the model and the live proxy
/// (`crate::live::balance`): which servers are in the pool, the round-robin
/// turn, the hash ring and its lookup index, and (for least-connections) each
/// server's open connections in a tournament tree.
///
/// Hash policies route by a client's 64-bit key ([`client_key`]); round-robin
/// and least-connections ignore it, so [`Router::route`] takes the key as a
/// closure and computes it only when needed.
#[derive(Debug, Clone)]
pub struct Router {
    policy: Policy,
    alive: Vec<bool>,
    /// Live servers in index order.
    live: Vec<u16>,
    /// Every server's ring points, sorted by (point, server).
    ring_all: Vec<(u64, u16)>,
    /// The live servers' ring points.
    ring: Vec<(u64, u16)>,
    /// For each of `2^(64 - ring_shift)` key buckets, the first live point at
    /// or after the bucket's start.
    ring_index: Vec<u32>,
    ring_shift: u32,
    /// Round-robin's next position in `live`.
    rr: usize,
    /// Open connections per server (least-connections only).
    loads: Vec<u32>,
    /// Least-loaded live server, for least-connections routing.
    min_tree: Tournament,
}

/// A client's fixed 64-bit routing key (its "IP address" hashed) under a run's
/// `salt`.
#[inline]
pub fn client_key(salt: u64, client: u32) -> u64 {
    mix64(salt ^ u64::from(client))
}

impl Router {
    /// Every one of `servers` servers live and empty; a consistent-hash router
    /// routes nothing until [`Router::build_ring`].
    pub fn new(policy: Policy, servers: u16) -> Self {
        let s = usize::from(servers);
        let lc = policy == Policy::LeastConnections;
        Self {
            policy,
            alive: vec![true; s],
            live: (0..servers).collect(),
            ring_all: Vec::new(),
            ring: Vec::new(),
            ring_index: Vec::new(),
            ring_shift: 63,
            rr: 0,
            loads: vec![0; if lc { s } else { 0 }],
            min_tree: Tournament::new(if lc { s } else { 1 }),
        }
    }

    /// Places `vnodes` points per server on the ring at positions fixed by
    /// `salt` (consistent-hash only; other policies ignore it).
    pub fn build_ring(&mut self, vnodes: u32, salt: u64) {
        if self.policy != Policy::ConsistentHash {
            return;
        }
        let servers = self.alive.len() as u16;
        let mut ring = Vec::with_capacity(usize::from(servers) * vnodes as usize);
        for s in 0..servers {
            for v in 0..vnodes {
                let point = mix64(salt ^ ((u64::from(s) << 32) | u64::from(v)));
                ring.push((point, s));
            }
        }
        ring.sort_unstable();
        self.ring_all = ring;
        self.rebuild_pool();
    }

    /// The routing policy.
    pub fn policy(&self) -> Policy {
        self.policy
    }

    /// Live servers in index order.
    pub fn live(&self) -> &[u16] {
        &self.live
    }

    /// Whether server `s` is in the pool.
    pub fn is_alive(&self, s: u16) -> bool {
        self.alive.get(usize::from(s)).copied().unwrap_or(false)
    }

    /// Where a hash policy sends `key` with the current pool.
    #[inline]
    pub fn hash_target(&self, key: u64) -> u16 {
        match self.policy {
            Policy::ConsistentHash => {
                // The index gives the first point at or after the key's bucket;
                // a bucket holds one point on average, so this scans ~1 step.
                let mut i = self
                    .ring_index
                    .get((key >> self.ring_shift) as usize)
                    .map_or(0, |&i| i as usize);
                while i < self.ring.len() && self.ring[i].0 < key {
                    i += 1;
                }
                self.ring
                    .get(i)
                    .or(self.ring.first())
                    .map_or(0, |&(_, s)| s)
            }
            _ => self.live[(key % self.live.len() as u64) as usize],
        }
    }

    /// Picks the server for a new connection; `key` is asked for only by the
    /// hash policies. At least one server must be live.
    #[inline]
    pub fn route(&mut self, key: impl FnOnce() -> u64) -> u16 {
        match self.policy {
            Policy::RoundRobin => {
                // The pool may have shrunk since the last turn.
                if self.rr >= self.live.len() {
                    self.rr = 0;
                }
                let s = self.live[self.rr];
                self.rr += 1;
                s
            }
            Policy::LeastConnections => self.min_tree.top() as u16,
            Policy::IpHash | Policy::ConsistentHash => self.hash_target(key()),
        }
    }

    /// Server `s` now has `n` open connections (used by least-connections;
    /// other policies ignore it). A server out of the pool keeps its count
    /// but is never picked.
    #[inline]
    pub fn set_load(&mut self, s: u16, n: u32) {
        if self.policy != Policy::LeastConnections {
            return;
        }
        let i = usize::from(s);
        if let Some(l) = self.loads.get_mut(i) {
            *l = n;
        }
        if self.alive[i] {
            self.min_tree.set(i, n);
        }
    }

    /// Takes server `s` out of the pool or puts it back, and returns how many
    /// of the clients whose keys `keys` yields now route elsewhere (always 0
    /// for the policies without a client-to-server mapping).
    pub fn set_alive<I: Iterator<Item = u64>>(
        &mut self,
        s: u16,
        alive: bool,
        keys: impl Fn() -> I,
    ) -> u64 {
        let i = usize::from(s);
        if !self.policy.is_hash() {
            self.alive[i] = alive;
            self.rebuild_pool();
            return 0;
        }
        let before: Vec<u16> = keys().map(|k| self.hash_target(k)).collect();
        self.alive[i] = alive;
        self.rebuild_pool();
        keys()
            .zip(before)
            .filter(|&(k, b)| self.hash_target(k) != b)
            .count() as u64
    }

    fn rebuild_pool(&mut self) {
        self.live = (0..self.alive.len() as u16)
            .filter(|&s| self.alive[usize::from(s)])
            .collect();
        if self.policy == Policy::ConsistentHash {
            self.ring = self
                .ring_all
                .iter()
                .copied()
                .filter(|&(_, s)| self.alive[usize::from(s)])
                .collect();
            self.index_ring();
        }
        if self.policy == Policy::LeastConnections {
            for (i, &alive) in self.alive.iter().enumerate() {
                let load = if alive { self.loads[i] } else { u32::MAX };
                self.min_tree.set(i, load);
            }
        }
    }

    /// Builds the ring's lookup index: the key space cut into `2^bits` equal
    /// buckets (about one point each), and for each bucket the first point at
    /// or after its start.
    fn index_ring(&mut self) {
        let bits = (self.ring.len().max(1).next_power_of_two().trailing_zeros()).max(1);
        self.ring_shift = 64 - bits;
        self.ring_index = (0..1u64 << bits)
            .map(|b| {
                let start = b << self.ring_shift;
                self.ring.partition_point(|&(point, _)| point < start) as u32
            })
            .collect();
    }
}

#[derive(Debug, Clone, Copy)]
struct Ids {
    connected: SeriesId,
    conn_max: SeriesId,
    conn_min: SeriesId,
    live: SeriesId,
    connects: SeriesId,
    misses: SeriesId,
    forced: SeriesId,
}

/// The balance model's state; see the module documentation.
#[derive(Debug)]
pub struct Balance {
    cfg: BalanceConfig,
    p: BalanceParams,
    key_salt: u64,
    /// The server that fails (the last one).
    failing: u16,
    /// Open connections per server.
    counts: Vec<u32>,
    /// Clients whose session lives on each server (connected or not).
    sessions: Vec<u64>,
    /// Bumped when a server fails: events from before carry the old epoch.
    epochs: Vec<u8>,
    /// Clients connected to the failing server, as a bitset (only it fails).
    on_failing: Vec<u64>,
    /// The balancer's pool, ring and least-connections tree.
    router: Router,
    /// Least and largest connection counts of the live servers.
    spread: Spread,
    ids: Option<Ids>,
    sample_every: u64,
    /// End of the next recorder bin to sample.
    next_sample: u64,
    online: u64,
    connections: u64,
    reconnections: u64,
    misses: u64,
    forced: u64,
    remapped: Option<u64>,
    remapped_back: Option<u64>,
    imbalance_sum: f64,
    imbalance_samples: u64,
    imbalance_peak: f64,
    peak_server: u32,
}

impl Balance {
    /// A model ready to run.
    pub fn new(cfg: BalanceConfig) -> Result<Self, SimError> {
        let p = cfg.validate_params()?;
        let s = usize::from(p.servers);
        Ok(Self {
            cfg,
            p,
            key_salt: 0,
            failing: p.servers - 1,
            counts: vec![0; s],
            sessions: vec![0; s],
            epochs: vec![0; s],
            on_failing: Vec::new(),
            router: Router::new(p.policy, p.servers),
            spread: Spread::new(u32::from(p.servers)),
            ids: None,
            sample_every: 1,
            next_sample: 1,
            online: 0,
            connections: 0,
            reconnections: 0,
            misses: 0,
            forced: 0,
            remapped: None,
            remapped_back: None,
            imbalance_sum: 0.0,
            imbalance_samples: 0,
            imbalance_peak: 0.0,
            peak_server: 0,
        })
    }

    /// The validated parameters.
    pub fn params(&self) -> &BalanceParams {
        &self.p
    }

    fn ids(&self) -> Ids {
        self.ids
            .unwrap_or_else(|| unreachable!("Balance::init registers the series first"))
    }

    /// Picks the server for a new connection of `client`.
    #[inline]
    fn route(&mut self, client: u32) -> u16 {
        let salt = self.key_salt;
        self.router.route(|| client_key(salt, client))
    }

    /// One more (`up`) or one fewer connection on live server `s`; returns the
    /// new count.
    #[inline]
    fn bump(&mut self, s: u16, up: bool) -> u32 {
        let i = usize::from(s);
        let c = self.counts[i];
        let n = if up {
            self.spread.inc(c);
            c + 1
        } else {
            self.spread.dec(c);
            c - 1
        };
        self.counts[i] = n;
        self.router.set_load(s, n);
        n
    }

    #[inline]
    fn mark_failing(&mut self, client: u32, on: bool) {
        if let Some(word) = self.on_failing.get_mut(client as usize / 64) {
            let bit = 1u64 << (client % 64);
            if on {
                *word |= bit;
            } else {
                *word &= !bit;
            }
        }
    }

    /// Takes the failing server out of the pool or puts it back; returns how
    /// many clients' hash target that changed (0 for the policies without a
    /// client-to-server mapping).
    fn set_failing_alive(&mut self, alive: bool) -> u64 {
        let salt = self.key_salt;
        let clients = self.p.clients;
        self.router.set_alive(self.failing, alive, || {
            (0..clients).map(move |c| client_key(salt, c))
        })
    }

    /// The failing server leaves: its connections drop, its sessions are lost,
    /// and its clients reconnect.
    fn fail(&mut self, eng: &mut Engine<BalanceEvent>) {
        let f = self.failing;
        let fi = usize::from(f);
        let stranded = self.sessions[fi];
        let remapped = self.set_failing_alive(false);
        self.remapped = Some(if self.p.policy.is_hash() {
            remapped
        } else {
            stranded
        });
        // Every event carrying the old epoch of this server is now stale.
        self.epochs[fi] = self.epochs[fi].wrapping_add(1);
        self.sessions[fi] = 0;
        let now = eng.now();
        let jitter = self.p.reconnect_jitter.as_nanos();
        let mut dropped = 0u64;
        for w in 0..self.on_failing.len() {
            let mut word = std::mem::take(&mut self.on_failing[w]);
            while word != 0 {
                let client = (w * 64) as u32 + word.trailing_zeros();
                word &= word - 1;
                let delay = SimDuration(eng.rng().between(0, jitter));
                eng.schedule_at(now + delay, BalanceEvent::new(client, LOST, 0, false));
                dropped += 1;
            }
        }
        self.online -= dropped;
        self.forced += dropped;
        self.spread.remove(self.counts[fi]);
        self.counts[fi] = 0;
        self.router.set_load(f, 0);
        eng.rec.count(self.ids().forced, now, dropped);
    }

    /// The failed server returns, empty.
    fn recover(&mut self) {
        let fi = usize::from(self.failing);
        self.counts[fi] = 0;
        self.router.set_load(self.failing, 0);
        let remapped = self.set_failing_alive(true);
        self.remapped_back = Some(remapped);
        self.spread.add_empty();
    }

    /// Routes a new connection of `client`, whose last connection was to `prev`
    /// (at that server's `epoch`), and schedules its end.
    #[inline]
    fn connect(&mut self, eng: &mut Engine<BalanceEvent>, client: u32, prev: u16, epoch: u8) {
        let t = eng.now();
        let ids = self.ids();
        let lost = match prev {
            NO_SESSION | LOST => true,
            p => self.epochs[usize::from(p)] != epoch,
        };
        if !lost {
            self.sessions[usize::from(prev)] -= 1;
        }
        let s = self.route(client);
        let si = usize::from(s);
        let count = self.bump(s, true);
        self.sessions[si] += 1;
        if s == self.failing {
            self.mark_failing(client, true);
        }
        self.peak_server = self.peak_server.max(count);
        self.online += 1;
        self.connections += 1;
        eng.rec.count(ids.connects, t, 1);
        if prev != NO_SESSION {
            self.reconnections += 1;
            if lost || prev != s {
                self.misses += 1;
                eng.rec.count(ids.misses, t, 1);
            }
        }
        let life = eng.rng().between(0, 2 * self.p.lifetime.as_nanos());
        eng.schedule_at(
            t + SimDuration(life),
            BalanceEvent::new(client, s, self.epochs[si], true),
        );
    }

    /// Records the state at the end of every recorder bin that ends by `t`.
    #[inline]
    fn sample_until(&mut self, eng: &mut Engine<BalanceEvent>, t: u64) {
        let ids = self.ids();
        while self.next_sample <= t {
            let bin = SimTime(self.next_sample - self.sample_every);
            let live = self.router.live().len() as u64;
            let max = u64::from(self.spread.max);
            let min = u64::from(self.spread.min);
            eng.rec.gauge_max(ids.connected, bin, self.online);
            eng.rec.gauge_max(ids.conn_max, bin, max);
            eng.rec.gauge_max(ids.conn_min, bin, min);
            eng.rec.gauge_max(ids.live, bin, live);
            if self.online > 0 && live > 0 {
                let mean = self.online as f64 / live as f64;
                let imbalance = max as f64 / mean;
                self.imbalance_sum += imbalance;
                self.imbalance_samples += 1;
                self.imbalance_peak = self.imbalance_peak.max(imbalance);
            }
            self.next_sample = self.next_sample.saturating_add(self.sample_every);
            if self.next_sample == u64::MAX {
                break;
            }
        }
    }
}

impl Scenario for Balance {
    type Event = BalanceEvent;

    fn name(&self) -> &'static str {
        NAME
    }

    fn parameters(&self) -> Vec<Parameter> {
        self.cfg.parameters()
    }

    fn horizon(&self) -> SimTime {
        self.p.horizon
    }

    fn init(&mut self, eng: &mut Engine<BalanceEvent>) {
        let rec = &mut eng.rec;
        self.ids = Some(Ids {
            misses: rec.add_series(
                "session_misses_per_s",
                "1/s",
                "session misses per second",
                SeriesKind::Rate,
            ),
            conn_max: rec.add_series(
                "connections_max",
                "connections",
                "busiest server's connections",
                SeriesKind::GaugeMax,
            ),
            conn_min: rec.add_series(
                "connections_min",
                "connections",
                "least-loaded live server's connections",
                SeriesKind::GaugeMax,
            ),
            connected: rec.add_series(
                "connected",
                "clients",
                "clients connected",
                SeriesKind::GaugeMax,
            ),
            live: rec.add_series(
                "live_servers",
                "servers",
                "servers in the pool",
                SeriesKind::GaugeMax,
            ),
            connects: rec.add_series(
                "connects_per_s",
                "1/s",
                "connections routed per second",
                SeriesKind::Rate,
            ),
            forced: rec.add_series(
                "forced_reconnects_per_s",
                "1/s",
                "forced reconnects per second",
                SeriesKind::Rate,
            ),
        });
        self.sample_every = rec.base_interval().as_nanos();
        self.next_sample = self.sample_every;

        // Keys and ring points come from the run's RNG, so the seed picks the
        // clients' "addresses" and the ring's layout.
        self.key_salt = eng.rng().next_u64();
        let ring_salt = eng.rng().next_u64();
        self.router.build_ring(self.p.vnodes, ring_salt);
        if self.p.fail_at.is_some() {
            self.on_failing = vec![0; (self.p.clients as usize).div_ceil(64)];
        }
        for c in 0..self.p.clients {
            eng.schedule_at(SimTime::ZERO, BalanceEvent::new(c, NO_SESSION, 0, false));
        }
        if let Some(t) = self.p.fail_at {
            eng.schedule_at(t, BalanceEvent::new(CONTROL, 0, 0, false));
        }
        if let Some(t) = self.p.recover_at {
            eng.schedule_at(t, BalanceEvent::new(CONTROL, 0, 1, false));
        }
    }

    #[inline]
    fn handle(&mut self, eng: &mut Engine<BalanceEvent>, ev: BalanceEvent) {
        let t = eng.now();
        if t.as_nanos() >= self.next_sample {
            self.sample_until(eng, t.as_nanos());
        }
        let client = ev.client();
        if client == CONTROL {
            if ev.epoch() == 0 {
                self.fail(eng);
            } else {
                self.recover();
            }
            return;
        }
        if !ev.ends() {
            self.connect(eng, client, ev.last(), ev.epoch());
            return;
        }
        let s = ev.last();
        if self.epochs[usize::from(s)] != ev.epoch() {
            return; // dropped by the failure, which scheduled the reconnect
        }
        self.bump(s, false);
        if s == self.failing {
            self.mark_failing(client, false);
        }
        self.online -= 1;
        let think = self.p.think.as_nanos();
        if think > 0 {
            let gap = SimDuration(eng.rng().between(0, 2 * think));
            eng.schedule_at(t + gap, BalanceEvent::new(client, s, ev.epoch(), false));
        } else {
            self.connect(eng, client, s, ev.epoch());
        }
    }

    fn finish(&mut self, eng: &mut Engine<BalanceEvent>) -> Finish {
        let end = self.p.horizon.as_nanos();
        // Sample every bin up to and including the one holding the end.
        self.sample_until(eng, end.saturating_add(self.sample_every));
        let n = f64::from(self.p.clients);
        let sampled = self.imbalance_samples > 0;
        let values = [
            sampled.then(|| self.imbalance_sum / self.imbalance_samples as f64),
            sampled.then_some(self.imbalance_peak),
            (self.reconnections > 0).then(|| self.misses as f64 / self.reconnections as f64),
            Some(self.misses as f64),
            self.remapped.map(|r| r as f64 / n),
            self.remapped_back.map(|r| r as f64 / n),
            Some(self.forced as f64),
            Some(self.connections as f64),
            Some(f64::from(self.peak_server)),
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

//! Load balancing for real (`simulate balance --live`): `--servers` WebSocket
//! backends, a layer-4 load-balancing proxy in front of them, and `--clients`
//! in-process clients that hold a session on the backend they reach, close
//! their connection after its lifetime, and reconnect through the proxy. The
//! run fills the same [`Report`] as the model (`backend: "live"`), with the
//! model's metric and series names.
//!
//! How the model's terms map onto the machine:
//! - *Balancer*: a TCP listener on 127.0.0.1 that picks a backend for each new
//!   connection with the model's own routing code ([`Router`]: round-robin
//!   turn, least-connections tree fed with the proxy's open-connection counts,
//!   modulo hashing, the same hash ring), connects to it and splices bytes both
//!   ways with `tokio::io::copy_bidirectional_with_sizes` (4 KiB each way). It
//!   never reads a byte to route.
//! - *Client identity*: client `i` binds its socket to its own loopback source
//!   address, 127.1.0.1 + `i` (all of 127.0.0.0/8 is loopback on Linux), and the
//!   proxy hashes the peer address it accepted, as `ip-hash` (nginx `ip_hash`,
//!   HAProxy `balance source`) does. Chosen over an `X-Client-Id` header so the
//!   proxy stays layer 4 (no parsing or buffering of the handshake before
//!   routing) and ip-hash hashes a real address. The key is the model's
//!   [`client_key`] of that address's offset, under the run's seeded salt, and
//!   the ring comes from the same seed, so for the same `--seed` every client
//!   hashes to the same server as in the model.
//! - *Session*: after the WebSocket handshake the client sends
//!   `hello CLIENT TOKEN` (token 0: no session yet). The backend keeps, per
//!   client, the token of the session it holds; a matching token is a hit,
//!   anything else is a *session miss* and the backend creates a new session
//!   (new token), so the session moves, as in the model. It answers
//!   `new|hit|miss SERVER TOKEN`. Misses are counted by the backends.
//! - *Failure*: at `--fail-at` the last backend leaves the proxy's pool and is
//!   stopped: its listener closes and its connections drop without a closing
//!   handshake; their clients see the drop and reconnect through the proxy
//!   after a delay uniform in `[0, --reconnect-jitter]` (*forced reconnects*).
//!   Its sessions are gone. At `--recover-at` it is started again, empty (on
//!   the same port when it is free), and rejoins the pool.
//! - *Remapping*: for the hash policies, `remapped_fraction` asks the proxy's
//!   router, just before and after the pool changes, where every client's
//!   address goes (the model's definition); for round-robin and
//!   least-connections, the clients whose session was on the failed backend
//!   when it stopped, as the clients last heard from the backends.
//! - *Imbalance*: the proxy's open connections per live backend, sampled at the
//!   end of every series interval.
//! - *Time scale*: lifetimes, think times, jitter, failure and recovery times
//!   and the horizon are divided by `time_scale`; reports are in model seconds.
//!
//! Live-only metric: `failed_attempts`, connection attempts that reached no
//! backend (routed to the failing backend as it stopped) and were retried after
//! 20 ms of wall time.
//!
//! Bounds: at most [`LiveBalanceOptions::max_clients`] clients (4 descriptors
//! each: client, proxy in, proxy out, backend), [`LiveBalanceOptions::max_servers`]
//! backends, [`LiveBalanceOptions::max_wall`] of wall time (longer runs are
//! refused, naming the time scale that fits) and
//! [`LiveBalanceOptions::max_connects_per_s`] expected new connections per wall
//! second; every task is stopped at the end.

use super::addr;
use super::error::LiveError;
use super::herd::{fmt, interval_for};
use super::limits::{FdReport, KIB, WsLimits, somaxconn};
use crate::sim::report::{Backend, Metric, Parameter, Report, SCHEMA_VERSION, Series};
use crate::sim::rng::SimRng;
use crate::sim::scenarios::balance::{self, BalanceConfig, BalanceParams, Router, client_key};
use crate::sim::spec::ScenarioSpec;
use crate::sim::time::SimDuration;
use futures_util::{SinkExt, StreamExt};
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Bounds of a live balance run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LiveBalanceOptions {
    /// Model seconds per wall second (1: real time; 4: a 120 s run takes 30 s).
    pub time_scale: f64,
    /// Most clients one run may start.
    pub max_clients: u64,
    /// Most backends one run may start.
    pub max_servers: u64,
    /// Longest the run may take on the wall clock.
    pub max_wall: Duration,
    /// Most new connections per wall second the run may expect
    /// (clients / (lifetime + think) x time scale).
    pub max_connects_per_s: f64,
}

impl Default for LiveBalanceOptions {
    fn default() -> Self {
        Self {
            time_scale: 1.0,
            max_clients: 2_000,
            max_servers: 32,
            max_wall: Duration::from_secs(60),
            max_connects_per_s: 1_500.0,
        }
    }
}

/// Client 0's source address, 127.1.0.1; client `i` uses this plus `i`.
const CLIENT_BASE: u32 = 0x7F01_0001;
/// Splice buffer of the proxy, each direction, in bytes.
const SPLICE_BUF: usize = 4 * KIB;
/// Longest a connect, handshake and hello may take, wall time.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Wall-time pause before retrying an attempt that reached no backend.
const RETRY: Duration = Duration::from_millis(20);
/// A client with no session yet, in `session_on`.
const NO_SERVER: u32 = u32::MAX;

/// Series in report order (the model's names), and whether each is a rate.
const SERIES: [(&str, &str, &str, bool); 7] = [
    (
        "session_misses_per_s",
        "1/s",
        "session misses per second",
        true,
    ),
    (
        "connections_max",
        "connections",
        "busiest server's connections",
        false,
    ),
    (
        "connections_min",
        "connections",
        "least-loaded live server's connections",
        false,
    ),
    ("connected", "clients", "clients connected", false),
    ("live_servers", "servers", "servers in the pool", false),
    (
        "connects_per_s",
        "1/s",
        "connections routed per second",
        true,
    ),
    (
        "forced_reconnects_per_s",
        "1/s",
        "forced reconnects per second",
        true,
    ),
];
const MISSES: usize = 0;
const CONN_MAX: usize = 1;
const CONN_MIN: usize = 2;
const CONNECTED: usize = 3;
const LIVE: usize = 4;
const CONNECTS: usize = 5;
const FORCED: usize = 6;

/// Runs the balance scenario on loopback and returns its report.
pub fn run_balance(
    cfg: &BalanceConfig,
    opts: &LiveBalanceOptions,
    seed: u64,
) -> Result<Report, LiveError> {
    let p = cfg
        .validate_params()
        .map_err(|e| LiveError::Config(e.to_string()))?;
    let scale = opts.time_scale;
    super::limits::check_time_scale(scale)?;
    let clients = u64::from(p.clients);
    if clients > opts.max_clients {
        return Err(LiveError::Config(format!(
            "--clients {clients} is more than a live run starts (at most {}); the model \
             (without --live) runs millions",
            opts.max_clients
        )));
    }
    if u64::from(p.servers) > opts.max_servers {
        return Err(LiveError::Config(format!(
            "--servers {} is more than a live run starts (at most {} backends)",
            p.servers, opts.max_servers
        )));
    }
    let horizon_s = p.horizon.as_secs_f64();
    let max_wall = opts.max_wall.as_secs_f64();
    if horizon_s / scale > max_wall {
        return Err(LiveError::Config(format!(
            "--horizon {} s at --time-scale {} takes {:.0} s of wall time; a live run takes \
             at most {max_wall:.0} s: use --time-scale {} or more",
            fmt(horizon_s),
            fmt(scale),
            horizon_s / scale,
            fmt((horizon_s / max_wall * 1000.0).ceil() / 1000.0)
        )));
    }
    let cycle_s = p.lifetime.as_secs_f64() + p.think.as_secs_f64();
    let churn = clients as f64 / cycle_s * scale;
    if churn > opts.max_connects_per_s {
        let most = (opts.max_connects_per_s * cycle_s / scale).floor();
        return Err(LiveError::Config(format!(
            "{clients} clients with --lifetime {} s and --think {} s at --time-scale {} open \
             about {churn:.0} connections per wall second; a live run allows {:.0}: use at most \
             {most:.0} clients, longer lifetimes or a smaller time scale",
            fmt(p.lifetime.as_secs_f64()),
            fmt(p.think.as_secs_f64()),
            fmt(scale),
            opts.max_connects_per_s
        )));
    }
    FdReport::read()?.check(clients, 4)?;
    let runtime = crate::live::runtime()?;
    let started = Instant::now();
    let run = runtime.block_on(balance_async(p, scale, seed));
    runtime.shutdown_timeout(Duration::from_secs(1));
    let run = run?;
    let mut parameters = cfg.parameters();
    parameters.push(Parameter::new("time_scale", fmt(scale), "x"));
    Ok(run.into_report(&p, parameters, seed, started.elapsed()))
}

/// What the backends, the proxy and the clients tallied.
#[derive(Debug, Default)]
struct Tally {
    /// Per series, per interval: counts (rates) or samples (gauges).
    bins: [Vec<f64>; 7],
    connections: u64,
    reconnections: u64,
    misses: u64,
    forced: u64,
    failed_attempts: u64,
    disconnects: u64,
    remapped: Option<u64>,
    remapped_back: Option<u64>,
    imbalance_sum: f64,
    imbalance_samples: u64,
    imbalance_peak: f64,
}

/// The proxy's routing state.
#[derive(Debug)]
struct Pool {
    router: Router,
    /// Open proxied connections per backend.
    counts: Vec<u32>,
    peak: u32,
}

/// State shared by the backends, the proxy, the clients and the controller.
struct Lab {
    t0: Instant,
    scale: f64,
    interval_s: f64,
    clients: u32,
    key_salt: u64,
    pool: Mutex<Pool>,
    /// Each backend's current address (it may change when it restarts).
    backends: Mutex<Vec<SocketAddr>>,
    tally: Mutex<Tally>,
    online: AtomicU64,
    /// The backend holding each client's session, as the client last heard.
    session_on: Vec<AtomicU32>,
    next_token: AtomicU64,
}

impl Lab {
    /// Model seconds since the start.
    fn now_s(&self) -> f64 {
        self.t0.elapsed().as_secs_f64() * self.scale
    }

    fn with<R>(&self, f: impl FnOnce(&mut Tally) -> R) -> R {
        f(&mut self.tally.lock().unwrap_or_else(PoisonError::into_inner))
    }

    fn pool<R>(&self, f: impl FnOnce(&mut Pool) -> R) -> R {
        f(&mut self.pool.lock().unwrap_or_else(PoisonError::into_inner))
    }

    fn bin_index(&self, at_s: f64) -> usize {
        (at_s / self.interval_s).max(0.0) as usize
    }

    /// Adds one to a rate series now.
    fn count(t: &mut Tally, series: usize, bin: usize) {
        let bins = &mut t.bins[series];
        if bins.len() <= bin {
            bins.resize(bin + 1, 0.0);
        }
        bins[bin] += 1.0;
    }

    fn keys(&self) -> impl Iterator<Item = u64> + use<> {
        let salt = self.key_salt;
        (0..self.clients).map(move |c| client_key(salt, c))
    }
}

/// A finished run before it is shaped into a report.
struct Run {
    lab: Arc<Lab>,
    n_bins: usize,
}

async fn balance_async(p: BalanceParams, scale: f64, seed: u64) -> Result<Run, LiveError> {
    let backlog = somaxconn().unwrap_or(4096).min(4096);
    let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
    // The model draws the clients' key salt, then the ring's, from the run's
    // seeded RNG: the same draws give the same keys and the same ring.
    let mut rng = SimRng::seed_from(seed);
    let key_salt = rng.next_u64();
    let ring_salt = rng.next_u64();
    let mut router = Router::new(p.policy, p.servers);
    router.build_ring(p.vnodes, ring_salt);

    let servers = usize::from(p.servers);
    let mut listeners = Vec::with_capacity(servers);
    let mut addrs = Vec::with_capacity(servers);
    for _ in 0..servers {
        let l = addr::bind(loopback, backlog)?;
        addrs.push(l.local_addr().map_err(LiveError::Runtime)?);
        listeners.push(l);
    }
    let proxy = addr::bind(loopback, backlog)?;
    let proxy_addr = proxy.local_addr().map_err(LiveError::Runtime)?;
    let horizon_s = p.horizon.as_secs_f64();
    let wall = |d: SimDuration| Duration::from_secs_f64(d.as_secs_f64() / scale);
    let lab = Arc::new(Lab {
        t0: Instant::now(),
        scale,
        interval_s: interval_for(horizon_s),
        clients: p.clients,
        key_salt,
        pool: Mutex::new(Pool {
            router,
            counts: vec![0; servers],
            peak: 0,
        }),
        backends: Mutex::new(addrs.clone()),
        tally: Mutex::default(),
        online: AtomicU64::new(0),
        session_on: (0..p.clients).map(|_| AtomicU32::new(NO_SERVER)).collect(),
        next_token: AtomicU64::new(0),
    });
    let stop = CancellationToken::new();
    let tasks = TaskTracker::new();
    let ws = WsLimits::default().with_max_message(256).config();

    let mut backend_stops = Vec::with_capacity(servers);
    for (i, l) in listeners.into_iter().enumerate() {
        let token = stop.child_token();
        backend_stops.push(token.clone());
        tasks.spawn(backend(l, i as u16, ws, lab.clone(), token, tasks.clone()));
    }
    tasks.spawn(run_proxy(proxy, lab.clone(), stop.clone(), tasks.clone()));
    tasks.spawn(sampler(lab.clone(), stop.clone()));
    for i in 0..p.clients {
        let rng = SimRng::seed_from(seed ^ (u64::from(i) + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        tasks.spawn(client(i, proxy_addr, p, rng, ws, lab.clone(), stop.clone()));
    }

    let at = |s: SimDuration| tokio::time::Instant::from_std(lab.t0) + wall(s);
    let failing = p.servers - 1;
    let fi = usize::from(failing);
    if let Some(fail) = p.fail_at {
        tokio::time::sleep_until(at(SimDuration(fail.as_nanos()))).await;
        let moved = lab.pool(|pool| pool.router.set_alive(failing, false, || lab.keys()));
        let stranded = lab
            .session_on
            .iter()
            .filter(|s| s.load(Ordering::Relaxed) == u32::from(failing))
            .count() as u64;
        let remapped = if p.policy.is_hash() { moved } else { stranded };
        lab.with(|t| t.remapped = Some(remapped));
        backend_stops[fi].cancel();
    }
    if let Some(recover) = p.recover_at {
        tokio::time::sleep_until(at(SimDuration(recover.as_nanos()))).await;
        // Back on its old port when it is free, else on a new one.
        let l = match addr::bind(addrs[fi], backlog) {
            Ok(l) => l,
            Err(_) => addr::bind(loopback, backlog)?,
        };
        let new_addr = l.local_addr().map_err(LiveError::Runtime)?;
        lab.backends.lock().unwrap_or_else(PoisonError::into_inner)[fi] = new_addr;
        tasks.spawn(backend(
            l,
            failing,
            ws,
            lab.clone(),
            stop.child_token(),
            tasks.clone(),
        ));
        let moved = lab.pool(|pool| {
            pool.counts[fi] = 0;
            pool.router.set_load(failing, 0);
            pool.router.set_alive(failing, true, || lab.keys())
        });
        lab.with(|t| t.remapped_back = Some(moved));
    }
    tokio::time::sleep_until(at(SimDuration(p.horizon.as_nanos()))).await;
    let n_bins = ((horizon_s / lab.interval_s).ceil() as usize).max(1);
    // The last interval's sample, if the sampler has not taken it.
    sample(&lab, n_bins - 1);
    stop.cancel();
    tasks.close();
    let _ = tokio::time::timeout(Duration::from_secs(5), tasks.wait()).await;
    Ok(Run { lab, n_bins })
}

/// One backend: accepts WebSocket sessions until `stop`, then drops every
/// connection at once (no closing handshake), as a crashed server would.
async fn backend(
    listener: TcpListener,
    index: u16,
    ws: WebSocketConfig,
    lab: Arc<Lab>,
    stop: CancellationToken,
    tasks: TaskTracker,
) {
    // Client -> token of the session this backend holds for it.
    let sessions: Arc<Mutex<HashMap<u32, u64>>> = Arc::default();
    loop {
        let stream = tokio::select! {
            a = listener.accept() => match a {
                Ok((s, _)) => s,
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
            () = stop.cancelled() => return,
        };
        let (lab, stop, sessions) = (lab.clone(), stop.clone(), sessions.clone());
        tasks.spawn(async move {
            tokio::select! {
                () = serve_session(stream, index, ws, &lab, &sessions) => {}
                () = stop.cancelled() => {}
            }
        });
    }
}

/// One session on a backend: the hello, the verdict, then reading until the
/// client closes.
async fn serve_session(
    stream: TcpStream,
    index: u16,
    cfg: WebSocketConfig,
    lab: &Lab,
    sessions: &Mutex<HashMap<u32, u64>>,
) {
    let _ = stream.set_nodelay(true);
    let Ok(Ok(mut ws)) = tokio::time::timeout(
        CONNECT_TIMEOUT,
        tokio_tungstenite::accept_async_with_config(stream, Some(cfg)),
    )
    .await
    else {
        return;
    };
    let hello = match tokio::time::timeout(CONNECT_TIMEOUT, ws.next()).await {
        Ok(Some(Ok(Message::Text(t)))) => parse_hello(t.as_str(), lab.clients),
        _ => None,
    };
    let Some((client, token)) = hello else {
        return;
    };
    let verdict = {
        let mut held = sessions.lock().unwrap_or_else(PoisonError::into_inner);
        let verdict = if token == 0 {
            "new"
        } else if held.get(&client) == Some(&token) {
            "hit"
        } else {
            "miss"
        };
        let token = if verdict == "hit" {
            token
        } else {
            let t = lab.next_token.fetch_add(1, Ordering::Relaxed) + 1;
            held.insert(client, t);
            t
        };
        (verdict, token)
    };
    let bin = lab.bin_index(lab.now_s());
    lab.with(|t| {
        t.connections += 1;
        Lab::count(t, CONNECTS, bin);
        if token != 0 {
            t.reconnections += 1;
            if verdict.0 != "hit" {
                t.misses += 1;
                Lab::count(t, MISSES, bin);
            }
        }
    });
    let reply = format!("{} {index} {}", verdict.0, verdict.1);
    if ws.send(Message::text(reply)).await.is_err() {
        return;
    }
    // The session stays open until the client closes it; tungstenite answers
    // its Close frame.
    while let Some(Ok(_)) = ws.next().await {}
}

/// `hello CLIENT TOKEN` from one of the run's clients.
fn parse_hello(text: &str, clients: u32) -> Option<(u32, u64)> {
    let mut words = text.split_ascii_whitespace();
    if words.next()? != "hello" {
        return None;
    }
    let client: u32 = words.next()?.parse().ok()?;
    let token: u64 = words.next()?.parse().ok()?;
    (client < clients).then_some((client, token))
}

/// The client whose source address is `ip`, if it is one of the run's.
fn client_of(ip: IpAddr, clients: u32) -> Option<u32> {
    let IpAddr::V4(v4) = ip.to_canonical() else {
        return None;
    };
    let i = u32::from(v4).checked_sub(CLIENT_BASE)?;
    (i < clients).then_some(i)
}

/// Client `i`'s source address.
fn client_ip(i: u32) -> Ipv4Addr {
    Ipv4Addr::from(CLIENT_BASE + i)
}

/// The load-balancing proxy: routes each accepted connection by the pool's
/// policy and splices it to the chosen backend.
async fn run_proxy(
    listener: TcpListener,
    lab: Arc<Lab>,
    stop: CancellationToken,
    tasks: TaskTracker,
) {
    loop {
        let (stream, peer) = tokio::select! {
            a = listener.accept() => match a {
                Ok(a) => a,
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
            () = stop.cancelled() => return,
        };
        // Anything not from one of the run's client addresses is dropped.
        let Some(client) = client_of(peer.ip(), lab.clients) else {
            continue;
        };
        let (lab, stop) = (lab.clone(), stop.clone());
        tasks.spawn(async move {
            tokio::select! {
                () = relay(stream, client, &lab) => {}
                () = stop.cancelled() => {}
            }
        });
    }
}

/// Routes one connection and splices it until either side closes.
async fn relay(mut inbound: TcpStream, client: u32, lab: &Lab) {
    let salt = lab.key_salt;
    let Some(server) = lab.pool(|pool| {
        if pool.router.live().is_empty() {
            return None;
        }
        let s = pool.router.route(|| client_key(salt, client));
        let i = usize::from(s);
        pool.counts[i] += 1;
        pool.peak = pool.peak.max(pool.counts[i]);
        pool.router.set_load(s, pool.counts[i]);
        Some(s)
    }) else {
        return;
    };
    let addr = lab.backends.lock().unwrap_or_else(PoisonError::into_inner)[usize::from(server)];
    if let Ok(Ok(mut outbound)) =
        tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(addr)).await
    {
        let _ = inbound.set_nodelay(true);
        let _ = outbound.set_nodelay(true);
        let _ = tokio::io::copy_bidirectional_with_sizes(
            &mut inbound,
            &mut outbound,
            SPLICE_BUF,
            SPLICE_BUF,
        )
        .await;
    }
    lab.pool(|pool| {
        let i = usize::from(server);
        pool.counts[i] = pool.counts[i].saturating_sub(1);
        pool.router.set_load(server, pool.counts[i]);
    });
}

/// Samples the gauges at the end of every series interval.
async fn sampler(lab: Arc<Lab>, stop: CancellationToken) {
    let every = Duration::from_secs_f64(lab.interval_s / lab.scale);
    let start = tokio::time::Instant::from_std(lab.t0);
    let mut ticks = tokio::time::interval_at(start + every, every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            t = ticks.tick() => {
                let bin = ((t - start).as_secs_f64() / every.as_secs_f64()).round() as usize;
                sample(&lab, bin.saturating_sub(1));
            }
            () = stop.cancelled() => return,
        }
    }
}

/// Records the gauges and one imbalance sample into interval `bin` (once).
fn sample(lab: &Lab, bin: usize) {
    let (max, min, sum, live) = lab.pool(|pool| {
        let live = pool.router.live();
        let counts = live.iter().map(|&s| pool.counts[usize::from(s)]);
        (
            counts.clone().max().unwrap_or(0),
            counts.clone().min().unwrap_or(0),
            counts.map(u64::from).sum::<u64>(),
            live.len(),
        )
    });
    let online = lab.online.load(Ordering::Relaxed);
    lab.with(|t| {
        if t.bins[CONNECTED].len() > bin {
            return; // already sampled
        }
        for (series, v) in [
            (CONN_MAX, f64::from(max)),
            (CONN_MIN, f64::from(min)),
            (CONNECTED, online as f64),
            (LIVE, live as f64),
        ] {
            t.bins[series].resize(bin + 1, 0.0);
            t.bins[series][bin] = v;
        }
        if sum > 0 && live > 0 {
            let imbalance = f64::from(max) / (sum as f64 / live as f64);
            t.imbalance_sum += imbalance;
            t.imbalance_samples += 1;
            t.imbalance_peak = t.imbalance_peak.max(imbalance);
        }
    });
}

/// How a client's connection ended.
enum Ended {
    /// Its lifetime passed and the client closed it.
    Closed,
    /// The server side dropped it.
    Dropped,
}

type ClientWs = WebSocketStream<TcpStream>;

/// One client: connects at t = 0, holds each connection for its lifetime,
/// thinks, reconnects; reconnects after the jitter when its connection drops.
#[allow(clippy::too_many_arguments)]
async fn client(
    i: u32,
    proxy: SocketAddr,
    p: BalanceParams,
    mut rng: SimRng,
    ws: WebSocketConfig,
    lab: Arc<Lab>,
    stop: CancellationToken,
) {
    let scale = lab.scale;
    let wall = |ns: u64| Duration::from_secs_f64(ns as f64 / 1e9 / scale);
    let mut token = 0u64;
    loop {
        let attempt = tokio::time::timeout(CONNECT_TIMEOUT, open_session(i, token, proxy, ws));
        let opened = tokio::select! {
            r = attempt => r.ok().flatten(),
            () = stop.cancelled() => return,
        };
        let Some((mut conn, server, new_token)) = opened else {
            lab.with(|t| t.failed_attempts += 1);
            tokio::select! {
                () = tokio::time::sleep(RETRY) => continue,
                () = stop.cancelled() => return,
            }
        };
        token = new_token;
        lab.session_on[i as usize].store(server, Ordering::Relaxed);
        lab.online.fetch_add(1, Ordering::Relaxed);
        let life = wall(rng.between(0, 2 * p.lifetime.as_nanos()));
        let ended = tokio::select! {
            () = tokio::time::sleep(life) => Ended::Closed,
            () = dropped(&mut conn) => Ended::Dropped,
            () = stop.cancelled() => return,
        };
        if stop.is_cancelled() {
            // The run ended (and took the backends down) while this was polled.
            return;
        }
        lab.online.fetch_sub(1, Ordering::Relaxed);
        let gap = match ended {
            Ended::Closed => {
                lab.with(|t| t.disconnects += 1);
                let _ = tokio::time::timeout(Duration::from_secs(1), async {
                    if conn.close(None).await.is_ok() {
                        while let Some(Ok(_)) = conn.next().await {}
                    }
                })
                .await;
                let think = p.think.as_nanos();
                if think > 0 {
                    rng.between(0, 2 * think)
                } else {
                    0
                }
            }
            Ended::Dropped => {
                let bin = lab.bin_index(lab.now_s());
                lab.with(|t| {
                    t.forced += 1;
                    t.disconnects += 1;
                    Lab::count(t, FORCED, bin);
                });
                rng.between(0, p.reconnect_jitter.as_nanos())
            }
        };
        drop(conn);
        tokio::select! {
            () = tokio::time::sleep(wall(gap)) => {}
            () = stop.cancelled() => return,
        }
    }
}

/// Completes when the server side ends the connection.
async fn dropped(conn: &mut ClientWs) {
    while let Some(Ok(_)) = conn.next().await {}
}

/// Connects from client `i`'s own address through the proxy, says hello with
/// its session token, and returns the connection, the backend and the
/// session's token.
async fn open_session(
    i: u32,
    token: u64,
    proxy: SocketAddr,
    cfg: WebSocketConfig,
) -> Option<(ClientWs, u32, u64)> {
    let socket = TcpSocket::new_v4().ok()?;
    socket
        .bind(SocketAddr::new(IpAddr::V4(client_ip(i)), 0))
        .ok()?;
    let stream = socket.connect(proxy).await.ok()?;
    let _ = stream.set_nodelay(true);
    let (mut conn, _) = tokio_tungstenite::client_async_with_config(
        format!("ws://{proxy}/session"),
        stream,
        Some(cfg),
    )
    .await
    .ok()?;
    conn.send(Message::text(format!("hello {i} {token}")))
        .await
        .ok()?;
    let reply = match conn.next().await? {
        Ok(Message::Text(t)) => t,
        _ => return None,
    };
    let mut words = reply.as_str().split_ascii_whitespace();
    let _verdict = words.next()?;
    let server: u32 = words.next()?.parse().ok()?;
    let new_token: u64 = words.next()?.parse().ok()?;
    Some((conn, server, new_token))
}

impl Run {
    fn into_report(
        self,
        p: &BalanceParams,
        parameters: Vec<Parameter>,
        seed: u64,
        wall: Duration,
    ) -> Report {
        let lab = self.lab;
        let iv = lab.interval_s;
        let n = f64::from(p.clients);
        let peak = lab.pool(|pool| pool.peak);
        let mut t = std::mem::take(&mut *lab.tally.lock().unwrap_or_else(PoisonError::into_inner));
        let series = SERIES
            .iter()
            .enumerate()
            .map(|(k, (name, unit, label, rate))| {
                let mut values = std::mem::take(&mut t.bins[k]);
                values.resize(self.n_bins.max(values.len()), 0.0);
                values.truncate(self.n_bins);
                if *rate {
                    values.iter_mut().for_each(|v| *v /= iv);
                }
                Series {
                    name: (*name).to_string(),
                    unit: (*unit).to_string(),
                    label: (*label).to_string(),
                    values,
                }
            })
            .collect();
        let sampled = t.imbalance_samples > 0;
        let values = [
            sampled.then(|| t.imbalance_sum / t.imbalance_samples as f64),
            sampled.then_some(t.imbalance_peak),
            (t.reconnections > 0).then(|| t.misses as f64 / t.reconnections as f64),
            Some(t.misses as f64),
            t.remapped.map(|r| r as f64 / n),
            t.remapped_back.map(|r| r as f64 / n),
            Some(t.forced as f64),
            Some(t.connections as f64),
            Some(f64::from(peak)),
        ];
        let mut metrics: Vec<Metric> = balance::METRICS
            .iter()
            .zip(values)
            .map(|(info, v)| Metric::new(info.name, v, info.unit, info.help))
            .collect();
        metrics.push(Metric::new(
            "failed_attempts",
            Some(t.failed_attempts as f64),
            "connections",
            "attempts that reached no backend",
        ));
        let horizon_s = p.horizon.as_secs_f64();
        Report {
            schema: SCHEMA_VERSION,
            scenario: balance::NAME.to_string(),
            backend: Backend::Live,
            seed,
            parameters,
            metrics,
            series_interval_s: iv,
            series,
            events_processed: t.connections + t.disconnects,
            end_s: horizon_s,
            horizon_s,
            wall_time_s: Some(wall.as_secs_f64()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn series_are_the_models_in_order() {
        let names: Vec<&str> = SERIES.iter().map(|s| s.0).collect();
        assert_eq!(names, balance::SERIES);
    }

    #[test]
    fn client_addresses_map_back_to_clients() {
        for i in [0, 1, 255, 256, 1999] {
            assert_eq!(client_of(IpAddr::V4(client_ip(i)), 2000), Some(i));
        }
        assert_eq!(client_of(IpAddr::V4(client_ip(10)), 10), None);
        assert_eq!(client_of("127.0.0.1".parse().expect("ip"), 10), None);
        assert_eq!(client_ip(0).to_string(), "127.1.0.1");
        assert_eq!(client_ip(300).to_string(), "127.1.1.45");
    }

    #[test]
    fn hellos_parse_strictly() {
        assert_eq!(parse_hello("hello 3 0", 10), Some((3, 0)));
        assert_eq!(parse_hello("hello 3 99", 10), Some((3, 99)));
        assert_eq!(parse_hello("hello 10 1", 10), None);
        assert_eq!(parse_hello("hi 3 1", 10), None);
        assert_eq!(parse_hello("hello 3", 10), None);
    }

    #[test]
    fn runs_beyond_the_bounds_are_refused_in_one_line() {
        let opts = LiveBalanceOptions::default();
        let cases: &[(BalanceConfig, &str)] = &[
            (BalanceConfig::default(), "at most 2000"),
            (
                BalanceConfig {
                    clients: 100,
                    ..BalanceConfig::default()
                },
                "--time-scale 2 or more",
            ),
            (
                BalanceConfig {
                    clients: 2000,
                    lifetime_s: 0.1,
                    think_s: 0.0,
                    horizon_s: 10.0,
                    fail_at_s: Some(5.0),
                    recover_at_s: None,
                    ..BalanceConfig::default()
                },
                "use at most 150 clients",
            ),
        ];
        for (cfg, needle) in cases {
            let err = run_balance(cfg, &opts, 1).expect_err("refused").to_string();
            assert!(err.contains(needle), "{err}");
            assert!(!err.contains('\n'), "{err}");
        }
    }
}

//! Heartbeats for real (`simulate heartbeat --live`): a WebSocket server on
//! loopback that pings each of `--connections` tokio-tungstenite clients in this
//! process every `--ping-interval` and drops a connection after `--missed` pings
//! in a row went without a pong within `--pong-timeout`. The run fills the same
//! [`Report`] as the model (`backend: "live"`), with the model's metric and series
//! names plus `closed_alive` and `pongs_per_s`.
//!
//! How the model's terms map onto the machine:
//! - *Dying silently*: the first `round(connections x dead_fraction)` clients go
//!   silent at seeded uniform times in `[0, duration)`: they stop polling their
//!   socket — no more reads, so no more pongs — but keep the TCP connection
//!   open, so to the server they are half-open. (Their kernel still ACKs, which
//!   is why TCP keepalive would never notice them here: the `tcp-keepalive`
//!   detector stays model-only.) The same seed draws the same death times and
//!   ping phases as the model.
//! - *Pings*: each server connection pings at `phase + j x P` (phase uniform in
//!   `[0, P)`, absolute deadlines, no drift); a ping counts as answered when a
//!   pong arrives within `T` of it. After `k` misses in a row the server drops
//!   the connection (no Close frame: the peer would not answer it).
//! - *Detection delay*: from the instant the client stopped polling to the
//!   server's drop, both on this process's monotonic clock. Theory bounds it by
//!   `((k-1)P + T, kP + T]`; timer lateness under load can push a delay past the
//!   upper bound by a few milliseconds of wall time (times the time scale).
//! - *Bytes*: the server's socket is wrapped in a byte counter, so
//!   `heartbeat_bytes_per_s` is the WebSocket bytes that really crossed it —
//!   pings (2 bytes + payload from the server) and pongs (6 bytes + payload: the
//!   client's 4-byte mask) — plus, for `--wire tcp` or `tls`, the model's
//!   per-frame header overhead, which loopback cannot show.
//! - *Time scale*: every timer (deaths, P, T, the run's length) is divided by
//!   `time_scale` and measured times multiplied back, so reports are in the
//!   model's seconds.
//!
//! Bounds: at most [`LiveHeartbeatOptions::max_connections`] connections and what
//! the open-file limit allows (2 descriptors each), at most
//! [`LiveHeartbeatOptions::max_wall`] of wall time (the run is refused, naming
//! the time scale that fits), pings at least [`MIN_PING_WALL`] apart and at
//! most [`LiveHeartbeatOptions::max_pings_per_s`] over all connections.

use super::error::LiveError;
use super::limits::{FdReport, WsLimits};
use super::measure::{BinKind, Bins, interval_for};
use super::sockets::{Counted, connect_small, listen_small};
use crate::sim::report::{Backend, Metric, Parameter, Report, SCHEMA_VERSION};
use crate::sim::rng::SimRng;
use crate::sim::scenarios::heartbeat::{
    self, Detector, HeartbeatConfig, HeartbeatParams, TCP_IP_HEADER_BYTES, TLS_RECORD_BYTES, Wire,
};
use futures_util::{SinkExt, StreamExt};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::sync::{Notify, Semaphore};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Bytes, Message};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Shortest wall time between two pings of one connection: tokio's timers fire
/// on a 1 ms grid, so shorter periods would measure the grid.
pub const MIN_PING_WALL: Duration = Duration::from_millis(20);
/// Shortest wall time a pong may take.
pub const MIN_PONG_WALL: Duration = Duration::from_millis(5);
/// Wall time the run waits past the theoretical last detection, for late timers.
const GRACE: Duration = Duration::from_millis(500);
/// Longest wait for every client to connect.
const SETUP: Duration = Duration::from_secs(30);

/// Bounds of a live heartbeat run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LiveHeartbeatOptions {
    /// Model seconds per wall second (1: real time; 100: an hour in 36 s).
    pub time_scale: f64,
    /// Most connections one run opens.
    pub max_connections: u64,
    /// Longest the run may take on the wall clock.
    pub max_wall: Duration,
    /// Most pings per wall second over all connections.
    pub max_pings_per_s: f64,
}

impl Default for LiveHeartbeatOptions {
    fn default() -> Self {
        Self {
            time_scale: 1.0,
            max_connections: 5_000,
            max_wall: Duration::from_secs(60),
            max_pings_per_s: 50_000.0,
        }
    }
}

const HELD: usize = 0;
const DIED: usize = 1;
const DETECTED: usize = 2;
const BYTES: usize = 3;

/// Runs the heartbeat scenario on loopback and returns its report.
pub fn run_heartbeat(
    cfg: &HeartbeatConfig,
    opts: &LiveHeartbeatOptions,
    seed: u64,
) -> Result<Report, LiveError> {
    let p = cfg
        .validate()
        .map_err(|e| LiveError::Config(e.to_string()))?;
    check(&p, cfg, opts)?;
    FdReport::read()?.check(p.connections, 2)?;
    let runtime = crate::live::runtime()?;
    let started = std::time::Instant::now();
    let run = runtime.block_on(heartbeat_async(p, cfg, opts.time_scale, seed))?;
    runtime.shutdown_timeout(Duration::from_secs(1));
    let mut parameters = cfg.parameters();
    parameters.push(Parameter::new("time_scale", fmt(opts.time_scale), "x"));
    Ok(run.into_report(&p, parameters, seed, started.elapsed()))
}

fn fmt(v: f64) -> String {
    crate::sim::spec::fmt_num(v)
}

/// Refuses runs beyond the live bounds, naming what fits.
fn check(
    p: &HeartbeatParams,
    cfg: &HeartbeatConfig,
    opts: &LiveHeartbeatOptions,
) -> Result<(), LiveError> {
    let bad = |m: String| Err(LiveError::Config(m));
    let scale = opts.time_scale;
    super::limits::check_time_scale(scale)?;
    if cfg.detector == Detector::TcpKeepalive {
        return bad(
            "--live runs the app and none detectors; tcp-keepalive is model-only (a silent \
             client's kernel still answers keepalive probes, so on loopback it never fires)"
                .to_string(),
        );
    }
    if p.connections > opts.max_connections {
        return bad(format!(
            "--connections {} is more than a live run opens (at most {}); the model (without \
             --live) runs millions",
            p.connections, opts.max_connections
        ));
    }
    let run_s = p.horizon.as_secs_f64();
    let max_wall = opts.max_wall.as_secs_f64();
    if run_s / scale > max_wall {
        return bad(format!(
            "--duration {} s plus up to {} s of detection takes {} s of wall time at \
             --time-scale {}; a live run takes at most {max_wall} s (use --time-scale {} or \
             more, or a shorter --duration)",
            fmt(cfg.duration_s),
            fmt(run_s - cfg.duration_s),
            fmt((run_s / scale * 10.0).ceil() / 10.0),
            fmt(scale),
            fmt((run_s / max_wall).ceil())
        ));
    }
    if let Some(t) = p.timing {
        let ping_wall = t.period.as_secs_f64() / scale;
        if ping_wall < MIN_PING_WALL.as_secs_f64() {
            return bad(format!(
                "--ping-interval {} s at --time-scale {} is {:.1} ms of wall time; a live run \
                 needs at least {} ms between pings (use --time-scale {} or less)",
                fmt(cfg.ping_interval_s),
                fmt(scale),
                ping_wall * 1000.0,
                MIN_PING_WALL.as_millis(),
                fmt((t.period.as_secs_f64() / MIN_PING_WALL.as_secs_f64()).floor())
            ));
        }
        let pong_wall = t.wait.as_secs_f64() / scale;
        if pong_wall < MIN_PONG_WALL.as_secs_f64() {
            return bad(format!(
                "--pong-timeout {} s at --time-scale {} is {:.1} ms of wall time; a live run \
                 needs at least {} ms (use --time-scale {} or less)",
                fmt(cfg.pong_timeout_s),
                fmt(scale),
                pong_wall * 1000.0,
                MIN_PONG_WALL.as_millis(),
                fmt((t.wait.as_secs_f64() / MIN_PONG_WALL.as_secs_f64()).floor())
            ));
        }
        let pings = p.connections as f64 / ping_wall;
        if pings > opts.max_pings_per_s {
            return bad(format!(
                "--connections {} pinged every {:.1} ms of wall time is {pings:.0} pings/s; a \
                 live run sends at most {} (use fewer connections or a lower --time-scale)",
                p.connections,
                ping_wall * 1000.0,
                opts.max_pings_per_s
            ));
        }
    }
    Ok(())
}

/// What the server and the clients tallied.
#[derive(Debug)]
struct Tally {
    bins: Vec<Bins>,
    /// Per client: when it went silent and when the server dropped it (model s).
    silent_at: Vec<Option<f64>>,
    closed_at: Vec<Option<f64>>,
    held: u64,
    peak_held: u64,
    died: u64,
    detected: u64,
    closed_alive: u64,
    pings_in_window: u64,
    pongs_in_window: u64,
    bytes_in_window: u64,
    /// Server connections that finished their handshake and got their id.
    ready: u64,
}

struct Shared {
    scale: f64,
    duration_s: f64,
    dead: u64,
    connections: u64,
    /// Per-frame bytes `--wire` adds to what the socket carries.
    wire_extra: u64,
    t0: OnceLock<Instant>,
    /// Cancelled once `t0` is set.
    start: CancellationToken,
    all_ready: Notify,
    all_detected: Notify,
    tally: Mutex<Tally>,
}

impl Shared {
    fn tally(&self) -> MutexGuard<'_, Tally> {
        self.tally.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn t0(&self) -> Instant {
        self.t0.get().copied().unwrap_or_else(Instant::now)
    }

    /// Model seconds since the start at wall instant `at`.
    fn secs(&self, at: Instant) -> f64 {
        at.saturating_duration_since(self.t0()).as_secs_f64() * self.scale
    }

    /// Wall duration of `s` model seconds.
    fn wall(&self, s: f64) -> Duration {
        Duration::from_secs_f64((s / self.scale).max(0.0))
    }

    fn silent(&self, id: usize, at: Instant) {
        let s = self.secs(at);
        let mut t = self.tally();
        t.silent_at[id] = Some(s);
        t.held += 1;
        t.died += 1;
        t.peak_held = t.peak_held.max(t.held);
        let held = t.held as f64;
        t.bins[HELD].max(s, held);
        t.bins[DIED].add(s, 1.0);
    }

    fn closed(&self, id: usize, at: Instant) {
        let s = self.secs(at);
        let mut t = self.tally();
        if t.silent_at[id].is_none() {
            t.closed_alive += 1;
            return;
        }
        t.closed_at[id] = Some(s);
        t.held -= 1;
        t.detected += 1;
        let held = t.held as f64;
        t.bins[HELD].max(s, held);
        t.bins[DETECTED].add(s, 1.0);
        if t.detected == self.dead {
            self.all_detected.notify_one();
        }
    }

    /// `bytes` of ping or pong frames crossed the socket at `at`; `ping` says
    /// which frame it was.
    fn frame(&self, at: Instant, bytes: u64, ping: bool) {
        let s = self.secs(at);
        let bytes = bytes + self.wire_extra;
        let mut t = self.tally();
        t.bins[BYTES].add(s, bytes as f64);
        if s < self.duration_s {
            t.bytes_in_window += bytes;
            if ping {
                t.pings_in_window += 1;
            } else {
                t.pongs_in_window += 1;
            }
        }
    }
}

/// A finished run before it is shaped into a report.
struct Run {
    sh: Arc<Shared>,
    end_s: f64,
}

async fn heartbeat_async(
    p: HeartbeatParams,
    cfg: &HeartbeatConfig,
    scale: f64,
    seed: u64,
) -> Result<Run, LiveError> {
    let n = p.connections as usize;
    // The model's draws, in the model's order: a phase per connection when a
    // detector probes, then a death time for each of the first `dead`.
    let mut rng = SimRng::seed_from(seed);
    let d_ns = p.duration.as_nanos();
    let mut phases = Vec::with_capacity(n);
    let mut deaths = Vec::with_capacity(n);
    for i in 0..p.connections {
        phases.push(
            p.timing
                .map(|t| rng.below(t.period.as_nanos()) as f64 / 1e9),
        );
        deaths.push((i < p.dead).then(|| rng.below(d_ns) as f64 / 1e9));
    }
    let listener = listen_small(1024)?;
    let server = listener.local_addr().map_err(LiveError::Runtime)?;
    let interval_s = interval_for(p.horizon.as_secs_f64());
    let bin = |name, unit, label, kind| Bins::new(name, unit, label, kind, interval_s);
    let wire_extra = match (cfg.detector, cfg.wire) {
        (Detector::App, Wire::Tcp) => TCP_IP_HEADER_BYTES,
        (Detector::App, Wire::Tls) => TCP_IP_HEADER_BYTES + TLS_RECORD_BYTES,
        _ => 0,
    };
    let sh = Arc::new(Shared {
        scale,
        duration_s: p.duration.as_secs_f64(),
        dead: p.dead,
        connections: p.connections,
        wire_extra,
        t0: OnceLock::new(),
        start: CancellationToken::new(),
        all_ready: Notify::new(),
        all_detected: Notify::new(),
        tally: Mutex::new(Tally {
            bins: vec![
                bin(
                    "dead_held",
                    "connections",
                    "half-open connections the server still holds",
                    BinKind::GaugeMax,
                ),
                bin(
                    "died",
                    "connections",
                    "connections that died silently",
                    BinKind::Cumulative,
                ),
                bin(
                    "detected",
                    "connections",
                    "dead connections detected and closed",
                    BinKind::Cumulative,
                ),
                bin(
                    "heartbeat_bytes_per_s",
                    "B/s",
                    "heartbeat bytes per second (measured)",
                    BinKind::Rate,
                ),
            ],
            silent_at: vec![None; n],
            closed_at: vec![None; n],
            held: 0,
            peak_held: 0,
            died: 0,
            detected: 0,
            closed_alive: 0,
            pings_in_window: 0,
            pongs_in_window: 0,
            bytes_in_window: 0,
            ready: 0,
        }),
    });
    let stop = CancellationToken::new();
    let tasks = TaskTracker::new();
    let payload = Bytes::from(vec![0x5a; cfg.payload as usize]);
    let ws = WsLimits::default().with_max_message(1024).config();
    let conn = ConnConfig {
        timing: p.timing.map(|t| {
            (
                sh.wall(t.period.as_secs_f64()),
                sh.wall(t.wait.as_secs_f64()),
                t.probes,
            )
        }),
        payload,
        ws,
    };
    tasks.spawn(serve(
        listener,
        Arc::new(phases),
        conn,
        sh.clone(),
        stop.clone(),
        tasks.clone(),
    ));
    let dialing = Arc::new(Semaphore::new(64));
    for (id, death) in deaths.into_iter().enumerate() {
        tasks.spawn(client(
            id,
            server,
            death,
            ws,
            dialing.clone(),
            sh.clone(),
            stop.clone(),
        ));
    }
    let ready = async {
        loop {
            let notified = sh.all_ready.notified();
            if sh.tally().ready == p.connections {
                return;
            }
            notified.await;
        }
    };
    if tokio::time::timeout(SETUP, ready).await.is_err() {
        stop.cancel();
        tasks.close();
        let _ = tokio::time::timeout(Duration::from_secs(5), tasks.wait()).await;
        return Err(LiveError::Config(format!(
            "the {n} connections were not all open within {} s",
            SETUP.as_secs()
        )));
    }
    // A little ahead, so the first pings and deaths are not already late.
    let t0 = Instant::now() + Duration::from_millis(20);
    let _ = sh.t0.set(t0);
    sh.start.cancel();
    let duration_s = p.duration.as_secs_f64();
    tokio::time::sleep_until(t0 + sh.wall(duration_s)).await;
    if p.timing.is_some() {
        let horizon_at = t0 + sh.wall(p.horizon.as_secs_f64()) + GRACE;
        if sh.tally().detected < p.dead {
            tokio::select! {
                () = sh.all_detected.notified() => {}
                () = tokio::time::sleep_until(horizon_at) => {}
            }
        }
    }
    let now_s = sh.secs(Instant::now());
    let end_s = {
        let t = sh.tally();
        let last = t.closed_at.iter().flatten().copied().fold(0.0, f64::max);
        if p.timing.is_none() {
            duration_s
        } else if t.detected == p.dead {
            duration_s.max(last)
        } else {
            duration_s.max(now_s)
        }
    };
    stop.cancel();
    tasks.close();
    let _ = tokio::time::timeout(Duration::from_secs(5), tasks.wait()).await;
    Ok(Run { sh, end_s })
}

/// What every server connection shares.
#[derive(Clone)]
struct ConnConfig {
    /// Ping period, pong timeout (wall) and misses before closing; `None`: no pings.
    timing: Option<(Duration, Duration, u32)>,
    payload: Bytes,
    ws: WebSocketConfig,
}

/// Accepts connections until stopped; each learns its client's id, waits for
/// the start and runs the detector.
async fn serve(
    listener: tokio::net::TcpListener,
    phases: Arc<Vec<Option<f64>>>,
    conn: ConnConfig,
    sh: Arc<Shared>,
    stop: CancellationToken,
    tasks: TaskTracker,
) {
    loop {
        let stream = tokio::select! {
            a = listener.accept() => match a { Ok((s, _)) => s, Err(_) => continue },
            () = stop.cancelled() => return,
        };
        let (phases, conn, sh, stop) = (phases.clone(), conn.clone(), sh.clone(), stop.clone());
        tasks.spawn(async move {
            tokio::select! {
                () = detect(stream, &phases, &conn, &sh) => {}
                () = stop.cancelled() => {}
            }
        });
    }
}

/// One server connection: handshake, the client's id, then pings until `k`
/// misses in a row (or the run ends).
async fn detect(stream: TcpStream, phases: &[Option<f64>], conn: &ConnConfig, sh: &Shared) {
    let _ = stream.set_nodelay(true);
    let stream = Counted::new(stream);
    let count = stream.count();
    let Ok(socket) = tokio_tungstenite::accept_async_with_config(stream, Some(conn.ws)).await
    else {
        return;
    };
    let (mut sink, mut source) = socket.split();
    let id = match source.next().await {
        Some(Ok(Message::Text(t))) => match t.parse::<usize>() {
            Ok(id) if id < phases.len() => id,
            _ => return,
        },
        _ => return,
    };
    {
        let mut t = sh.tally();
        t.ready += 1;
        if t.ready == sh.connections {
            sh.all_ready.notify_one();
        }
    }
    sh.start.cancelled().await;
    let mut seen = count.total();
    let Some((period, wait, k)) = conn.timing else {
        // No detector: hold the connection until the run ends.
        while let Some(Ok(_)) = source.next().await {}
        return;
    };
    let phase = phases[id].unwrap_or(0.0);
    let mut next_ping = sh.t0() + sh.wall(phase);
    // Pings waiting for their pong deadline: (sent, deadline).
    let mut pending: VecDeque<(Instant, Instant)> = VecDeque::new();
    let mut last_pong: Option<Instant> = None;
    let mut misses = 0u32;
    loop {
        let deadline = pending.front().map(|&(_, d)| d);
        tokio::select! {
            biased;
            m = source.next() => match m {
                Some(Ok(Message::Pong(_))) => {
                    let now = Instant::now();
                    last_pong = Some(now);
                    let total = count.total();
                    sh.frame(now, total - seen, false);
                    seen = total;
                }
                Some(Ok(_)) => {}
                // The client left on its own (it never does in a run).
                _ => return,
            },
            () = tokio::time::sleep_until(deadline.unwrap_or(next_ping)), if deadline.is_some() => {
                let Some((sent, _)) = pending.pop_front() else { continue };
                if last_pong.is_some_and(|t| t >= sent) {
                    misses = 0;
                } else {
                    misses += 1;
                    if misses >= k {
                        // Drop without a Close: a dead peer would not answer it.
                        sh.closed(id, Instant::now());
                        return;
                    }
                }
            }
            () = tokio::time::sleep_until(next_ping) => {
                let sent = Instant::now();
                // A silent peer's receive buffer may fill with pings: never let
                // a blocked send hold up the deadlines.
                let _ = tokio::time::timeout(period, sink.send(Message::Ping(conn.payload.clone()))).await;
                let total = count.total();
                sh.frame(sent, total - seen, true);
                seen = total;
                pending.push_back((sent, sent + wait));
                next_ping += period;
            }
        }
    }
}

/// One client: connects, says its id, answers pings (tungstenite does, as long
/// as the socket is polled) and, if it is to die, stops polling at its death
/// time while keeping the connection open.
async fn client(
    id: usize,
    server: SocketAddr,
    death_s: Option<f64>,
    ws: WebSocketConfig,
    dialing: Arc<Semaphore>,
    sh: Arc<Shared>,
    stop: CancellationToken,
) {
    let url = format!("ws://{server}/");
    let connect = async {
        let _permit = dialing.acquire().await.map_err(std::io::Error::other)?;
        let stream = connect_small(server).await?;
        let (mut socket, _) =
            tokio_tungstenite::client_async_with_config(url.as_str(), stream, Some(ws))
                .await
                .map_err(std::io::Error::other)?;
        socket
            .send(Message::text(id.to_string()))
            .await
            .map_err(std::io::Error::other)?;
        Ok::<_, std::io::Error>(socket)
    };
    let mut socket = tokio::select! {
        r = connect => match r { Ok(s) => s, Err(_) => return },
        () = stop.cancelled() => return,
    };
    loop {
        tokio::select! {
            biased;
            () = stop.cancelled() => return,
            () = sh.start.cancelled() => break,
            m = socket.next() => if !matches!(m, Some(Ok(_))) { return },
        }
    }
    let die = death_s.map(|d| sh.t0() + sh.wall(d));
    loop {
        tokio::select! {
            biased;
            () = stop.cancelled() => return,
            () = tokio::time::sleep_until(die.unwrap_or_else(Instant::now)), if die.is_some() => break,
            m = socket.next() => if !matches!(m, Some(Ok(_))) { return },
        }
    }
    sh.silent(id, Instant::now());
    // Half-open: the connection stays, nobody reads it.
    stop.cancelled().await;
    drop(socket);
}

impl Run {
    fn into_report(
        self,
        p: &HeartbeatParams,
        parameters: Vec<Parameter>,
        seed: u64,
        wall: Duration,
    ) -> Report {
        let sh = self.sh.clone();
        let mut t = sh.tally();
        let end_s = self.end_s;
        let window_s = p.duration.as_secs_f64();
        let mut delays: Vec<f64> = t
            .silent_at
            .iter()
            .zip(&t.closed_at)
            .filter_map(|(s, c)| Some(c.as_ref()? - s.as_ref()?))
            .collect();
        delays.sort_by(f64::total_cmp);
        let area: f64 = t
            .silent_at
            .iter()
            .zip(&t.closed_at)
            .filter_map(|(s, c)| Some((c.unwrap_or(end_s) - (*s)?).max(0.0)))
            .sum();
        let pct = |q: f64| {
            (!delays.is_empty()).then(|| {
                let rank = ((q * delays.len() as f64).ceil() as usize).clamp(1, delays.len());
                delays[rank - 1]
            })
        };
        let timed = p.timing.is_some();
        let secs = |ns: u64| ns as f64 / 1e9;
        let values = [
            (!delays.is_empty()).then(|| delays.iter().sum::<f64>() / delays.len() as f64),
            delays.first().copied(),
            pct(0.99),
            delays.last().copied(),
            p.timing.map(|t| secs(t.lower_bound_ns())),
            p.timing.map(|t| secs(t.upper_bound_ns())),
            timed.then_some(area),
            timed.then(|| area / end_s.max(1e-9)),
            Some(t.peak_held as f64),
            Some(t.died as f64),
            Some(t.detected as f64),
            Some(t.held as f64),
            Some(t.bytes_in_window as f64 / window_s),
            Some(t.pings_in_window as f64 / window_s),
        ];
        let mut metrics: Vec<Metric> = heartbeat::METRICS
            .iter()
            .zip(values)
            .map(|(info, v)| Metric::new(info.name, v, info.unit, info.help))
            .collect();
        metrics.push(Metric::new(
            "pongs_per_s",
            Some(t.pongs_in_window as f64 / window_s),
            "1/s",
            "pongs received (live)",
        ));
        metrics.push(Metric::new(
            "closed_alive",
            Some(t.closed_alive as f64),
            "connections",
            "live conns closed by mistake (live)",
        ));
        let events = t.pings_in_window + t.pongs_in_window + t.died + t.detected;
        let series = std::mem::take(&mut t.bins)
            .into_iter()
            .map(|b| b.finish(end_s))
            .collect();
        Report {
            schema: SCHEMA_VERSION,
            scenario: heartbeat::NAME.to_string(),
            backend: Backend::Live,
            seed,
            parameters,
            metrics,
            series_interval_s: interval_for(p.horizon.as_secs_f64()),
            series,
            events_processed: events,
            end_s,
            horizon_s: p.horizon.as_secs_f64(),
            wall_time_s: Some(wall.as_secs_f64()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(cfg: HeartbeatConfig, opts: LiveHeartbeatOptions, needle: &str) {
        let p = cfg.validate().expect("valid model config");
        let err = check(&p, &cfg, &opts).expect_err(needle).to_string();
        assert!(err.contains(needle), "{err}");
        assert!(!err.contains('\n'), "{err}");
    }

    #[test]
    fn runs_beyond_the_bounds_are_refused_naming_what_fits() {
        let small = HeartbeatConfig {
            connections: 100,
            duration_s: 40.0,
            ping_interval_s: 5.0,
            pong_timeout_s: 1.0,
            ..HeartbeatConfig::default()
        };
        let opts = LiveHeartbeatOptions::default();
        let p = small.validate().expect("valid");
        assert!(check(&p, &small, &opts).is_ok());
        refused(
            HeartbeatConfig::default(),
            opts,
            "--connections 100000 is more than a live run opens (at most 5000)",
        );
        // 3600 s + 70 s of detection: 3670 s of wall time; 60 s needs x62.
        refused(
            HeartbeatConfig {
                connections: 100,
                ..HeartbeatConfig::default()
            },
            opts,
            "use --time-scale 62 or more",
        );
        refused(
            HeartbeatConfig {
                detector: Detector::TcpKeepalive,
                ..small.clone()
            },
            opts,
            "tcp-keepalive is model-only",
        );
        refused(
            small.clone(),
            LiveHeartbeatOptions {
                time_scale: 1000.0,
                ..opts
            },
            "use --time-scale 250 or less",
        );
        refused(
            small,
            LiveHeartbeatOptions {
                time_scale: f64::NAN,
                ..opts
            },
            "--time-scale",
        );
    }
}

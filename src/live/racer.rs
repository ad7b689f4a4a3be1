//! The race for real (`simulate racer --live`): the lab server
//! ([`super::server::run`]) on loopback, and for each of `--clients` clients
//! four real clients — a short poller (`GET /poll`), a long poller
//! (`GET /longpoll`), an SSE stream (`GET /sse`) and a WebSocket
//! (`/ws/feed`) — all following the one feed, while a publisher `POST`s the
//! events to `/publish` at the model's publication times. The run fills the
//! same [`Report`] as the model (`backend: "live"`), with the model's metric
//! and series names.
//!
//! How the model's terms map onto the machine:
//! - *Workload*: the same `--event-rate x --duration` publication times as the
//!   model (drawn from the same seeded RNG in the same order), each event's
//!   text being its number, a space and `x` padding to `--event-bytes` bytes.
//!   The four protocols share one server and one feed (the model gives each a
//!   copy; here they compete for the same two cores).
//! - *Bytes* are counted on the wire: every client socket is wrapped in a
//!   [`Counted`] adapter, so request and response headers, JSON, SSE framing,
//!   HTTP chunk lines and WebSocket frame headers are measured, not estimated.
//!   The HTTP clients are raw HTTP/1.1 over tokio TCP (keep-alive), each
//!   request padded with an `X-Pad` header to exactly `--request-bytes` (a
//!   browser's headers and cookies; nothing is added when the bare request is
//!   already longer). Response headers are whatever the server sends, so
//!   `--response-bytes` is not used live. Stream handshakes happen before
//!   t = 0 and are not counted, as in the model.
//! - *Round trip*: loopback's own is a few tens of microseconds, so the
//!   clients add `--rtt-ms`: a request waits `rtt / 2` before it is written
//!   and a response counts as arrived `rtt / 2` after it is read (and only
//!   then does a long poller ask again); a stream message counts as arrived
//!   `rtt / 2` after it is read.
//! - *Timers*: short pollers poll every `--interval` from a random phase (the
//!   model's phase grid). As in the model, every long poller has a request
//!   held at t = 0: it is written 200 ms (wall) before t = 0, so it is not
//!   counted, and asks the server (`&timeout=`) to hold it only until the
//!   client's random phase; later ones are held up to `--hold`.
//! - *Latency* runs from the moment the publisher starts its `POST` to the
//!   client's receipt (plus the emulated half round trip).
//! - *Open connections*: requests outstanding (from the client's first
//!   intent to the response's arrival) or streams open, time-averaged over the
//!   window.
//! - *Time scale*: publication times, intervals, holds, the round trip and
//!   the horizon are divided by `time_scale`; measured times are multiplied
//!   back, so reports are in model seconds.
//!
//! The run ends when every client has had every event by every protocol (the
//! model's end), or at the model's horizon.
//!
//! Bounds: at most [`LiveRacerOptions::max_clients`] clients (four
//! connections each, two descriptors per connection), [`LiveRacerOptions::max_events`]
//! events, [`LiveRacerOptions::max_deliveries`] deliveries per protocol,
//! [`LiveRacerOptions::max_ops_per_s`] expected requests and messages per
//! wall second and [`LiveRacerOptions::max_wall`] of wall time (longer runs are
//! refused, naming the time scale that fits); every task stops at the end.

use super::addr;
use super::counted::{ByteSink, Counted};
use super::error::LiveError;
use super::herd::{fmt, interval_for};
use super::limits::{FdReport, KIB, WsLimits, somaxconn};
use super::server::{self, ServerConfig};
use crate::sim::report::{Backend, Metric, Parameter, Report, SCHEMA_VERSION, Series};
use crate::sim::rng::SimRng;
use crate::sim::scenarios::racer::{self, RacerConfig, RacerParams};
use futures_util::StreamExt;
use hdrhistogram::Histogram;
use serde::Deserialize;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Bounds of a live racer run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LiveRacerOptions {
    /// Model seconds per wall second (1: real time; 20: a 600 s window takes 30 s).
    pub time_scale: f64,
    /// Most clients one run may start (each has four connections).
    pub max_clients: u64,
    /// Most events one run may publish.
    pub max_events: u64,
    /// Most deliveries (clients x events) per protocol.
    pub max_deliveries: u64,
    /// Most requests and stream messages the run may expect per wall second.
    pub max_ops_per_s: f64,
    /// Longest the run may take on the wall clock.
    pub max_wall: Duration,
}

impl Default for LiveRacerOptions {
    fn default() -> Self {
        Self {
            time_scale: 1.0,
            max_clients: 500,
            max_events: 5_000,
            max_deliveries: 1_000_000,
            max_ops_per_s: 20_000.0,
            max_wall: Duration::from_secs(60),
        }
    }
}

/// Protocol indices, in the model's order ([`racer::PROTOCOLS`]).
const SP: usize = 0;
const LP: usize = 1;
const SSE: usize = 2;
const WS: usize = 3;

/// Series in report order (the model's names); all are rates.
const SERIES: [(&str, &str, &str); 7] = [
    (
        "long_poll_requests_per_s",
        "1/s",
        "long-polling requests per second",
    ),
    (
        "short_poll_requests_per_s",
        "1/s",
        "short-polling requests per second",
    ),
    (
        "short_poll_bytes_per_s",
        "B/s",
        "short-polling bytes per second",
    ),
    (
        "long_poll_bytes_per_s",
        "B/s",
        "long-polling bytes per second",
    ),
    ("sse_bytes_per_s", "B/s", "SSE bytes per second"),
    ("websocket_bytes_per_s", "B/s", "WebSocket bytes per second"),
    ("events_per_s", "1/s", "events published per second"),
];
/// The bytes series of each protocol.
const BYTES_SERIES: [usize; 4] = [2, 3, 4, 5];
const EVENTS_SERIES: usize = 6;

/// Smallest live event: its number and a space must fit.
const MIN_EVENT_BYTES: u64 = 8;
/// Largest live event (the lab's publish limit is sized to fit).
const MAX_EVENT_BYTES: u64 = 4 * KIB as u64;
/// Largest padded request (the server reads at most 16 KiB of headers).
const MAX_REQUEST_BYTES: u64 = 8 * KIB as u64;
/// Most events one poll response carries (the lab's `MAX_BATCH` is 100).
const MAX_EVENTS_PER_POLL: f64 = 50.0;
/// Largest response head or body a client accepts, in bytes.
const MAX_RESPONSE: usize = 1 << 20;
/// Longest setup (connects, stream handshakes) may take, wall time.
const SETUP_TIMEOUT: Duration = Duration::from_secs(20);
/// Wall time between the start signal and t = 0, in which the long pollers
/// write the requests the model has held since before t = 0.
const START_MARGIN: Duration = Duration::from_millis(200);

/// Runs the racer on loopback and returns its report.
pub fn run_racer(
    cfg: &RacerConfig,
    opts: &LiveRacerOptions,
    seed: u64,
) -> Result<Report, LiveError> {
    let p = cfg
        .validate()
        .map_err(|e| LiveError::Config(e.to_string()))?;
    check(cfg, &p, opts)?;
    FdReport::read()?.check(p.clients * 4, 2)?;
    let runtime = crate::live::runtime()?;
    let started = Instant::now();
    let run = runtime.block_on(racer_async(p, opts.time_scale, seed));
    runtime.shutdown_timeout(Duration::from_secs(1));
    let run = run?;
    let mut parameters = cfg.parameters();
    parameters.push(Parameter::new("time_scale", fmt(opts.time_scale), "x"));
    Ok(run.into_report(&p, parameters, seed, started.elapsed()))
}

/// Refuses runs beyond the live bounds, each with a one-line reason.
fn check(cfg: &RacerConfig, p: &RacerParams, opts: &LiveRacerOptions) -> Result<(), LiveError> {
    let bad = |m: String| Err(LiveError::Config(m));
    let scale = opts.time_scale;
    super::limits::check_time_scale(scale)?;
    if p.clients > opts.max_clients {
        return bad(format!(
            "--clients {} is more than a live run starts (at most {}, with four connections \
             each); the model (without --live) runs millions",
            p.clients, opts.max_clients
        ));
    }
    if p.events > opts.max_events {
        return bad(format!(
            "--event-rate {} x --duration {} s is {} events; a live run publishes at most {}",
            fmt(cfg.event_rate),
            fmt(cfg.duration_s),
            p.events,
            opts.max_events
        ));
    }
    if p.clients * p.events > opts.max_deliveries {
        return bad(format!(
            "{} clients x {} events is {} deliveries per protocol; a live run makes at most {}: \
             use at most {} clients",
            p.clients,
            p.events,
            p.clients * p.events,
            opts.max_deliveries,
            opts.max_deliveries / p.events.max(1)
        ));
    }
    if !(MIN_EVENT_BYTES..=MAX_EVENT_BYTES).contains(&p.event_bytes) {
        return bad(format!(
            "--event-bytes {} is out of range for a live run ({MIN_EVENT_BYTES} to \
             {MAX_EVENT_BYTES}: each event carries its number)",
            p.event_bytes
        ));
    }
    if p.request_bytes > MAX_REQUEST_BYTES {
        return bad(format!(
            "--request-bytes {} is more than a live request carries (at most {MAX_REQUEST_BYTES})",
            p.request_bytes
        ));
    }
    let per_poll = cfg.event_rate * cfg.interval_s;
    if per_poll > MAX_EVENTS_PER_POLL {
        return bad(format!(
            "--event-rate {} x --interval {} s is {per_poll:.0} events per short poll; a live \
             run allows {MAX_EVENTS_PER_POLL:.0} (the lab answers a poll with at most 100)",
            fmt(cfg.event_rate),
            fmt(cfg.interval_s)
        ));
    }
    let horizon_s = p.horizon.as_secs_f64();
    let max_wall = opts.max_wall.as_secs_f64();
    if horizon_s / scale > max_wall {
        return bad(format!(
            "--duration {} s (plus an interval, a round trip and 1 s: {} s) at --time-scale {} \
             takes {:.0} s of wall time; a live run takes at most {max_wall:.0} s: use \
             --time-scale {} or more",
            fmt(cfg.duration_s),
            fmt(horizon_s),
            fmt(scale),
            horizon_s / scale,
            fmt((horizon_s / max_wall * 1000.0).ceil() / 1000.0)
        ));
    }
    let n = p.clients as f64;
    let ops = scale
        * n
        * (1.0 / cfg.interval_s + 1.0 / cfg.hold_s.max(cfg.rtt_ms / 1e3) + 3.0 * cfg.event_rate);
    if ops > opts.max_ops_per_s {
        let most = (n * opts.max_ops_per_s / ops).floor();
        return bad(format!(
            "these flags at --time-scale {} make about {ops:.0} requests and messages per wall \
             second; a live run allows {:.0}: use at most {most:.0} clients, a longer \
             --interval or --hold, or a smaller time scale",
            fmt(scale),
            opts.max_ops_per_s
        ));
    }
    Ok(())
}

/// One protocol's tallies.
#[derive(Debug)]
struct Proto {
    /// Requests written in the window.
    requests: u64,
    /// Responses without events read in the window.
    empty: u64,
    /// Bytes both ways in the window.
    bytes: u64,
    /// Event payload bytes among them.
    payload: u64,
    /// Events delivered to clients (whole run).
    delivered: u64,
    /// Request- or stream-seconds open within the window (model seconds).
    open_s: f64,
    /// Latency, model microseconds.
    latency: Histogram<u64>,
}

#[derive(Debug)]
struct Tally {
    protos: [Proto; 4],
    /// Per series, per interval: counts.
    bins: [Vec<f64>; 7],
    last_delivery_s: f64,
    setup_errors: Vec<String>,
}

/// The run's clock and tallies, shared by every client.
struct Rec {
    /// Set when every client is ready: t = 0.
    t0: OnceLock<Instant>,
    scale: f64,
    interval_s: f64,
    duration_s: f64,
    tally: Mutex<Tally>,
    /// Per event: wall nanoseconds after t0 at which its publication began, + 1
    /// (0: not yet).
    published: Vec<AtomicU64>,
    /// Deliveries so far, all protocols.
    delivered: AtomicU64,
    ready: AtomicU64,
}

impl Rec {
    /// Model seconds since t = 0, or `None` before it.
    fn now_s(&self) -> Option<f64> {
        Some(self.since_t0()?.as_secs_f64() * self.scale)
    }

    /// Wall time since t = 0, or `None` before it.
    fn since_t0(&self) -> Option<Duration> {
        Instant::now().checked_duration_since(*self.t0.get()?)
    }

    fn with<R>(&self, f: impl FnOnce(&mut Tally) -> R) -> R {
        f(&mut self.tally.lock().unwrap_or_else(PoisonError::into_inner))
    }

    fn bin(&self, t: &mut Tally, series: usize, at_s: f64, add: f64) {
        let i = (at_s / self.interval_s).max(0.0) as usize;
        let bins = &mut t.bins[series];
        if bins.len() <= i {
            bins.resize(i + 1, 0.0);
        }
        bins[i] += add;
    }

    fn in_window(&self, at_s: f64) -> bool {
        at_s < self.duration_s
    }

    /// A poll request is written now.
    fn request(&self, proto: usize) {
        let Some(now) = self.now_s() else { return };
        let series = if proto == SP { 1 } else { 0 };
        self.with(|t| {
            self.bin(t, series, now, 1.0);
            if self.in_window(now) {
                t.protos[proto].requests += 1;
            }
        });
    }

    /// A poll response with `events` events is read now.
    fn response(&self, proto: usize, events: usize) {
        let Some(now) = self.now_s() else { return };
        if events == 0 && self.in_window(now) {
            self.with(|t| t.protos[proto].empty += 1);
        }
    }

    /// Event `seq` (`len` payload bytes) reaches a client now, plus `extra_s`
    /// model seconds of emulated network.
    fn deliver(&self, proto: usize, seq: usize, len: usize, extra_s: f64) {
        let (Some(since), Some(published)) = (self.since_t0(), self.published.get(seq)) else {
            return;
        };
        let at = published.load(Ordering::Acquire);
        if at == 0 {
            return; // not one of ours
        }
        let now_wall = since.as_nanos() as f64;
        let now = now_wall / 1e9 * self.scale;
        let latency_us = ((now_wall - (at - 1) as f64) / 1e3 * self.scale + extra_s * 1e6).max(1.0);
        self.delivered.fetch_add(1, Ordering::Relaxed);
        self.with(|t| {
            let p = &mut t.protos[proto];
            p.latency.saturating_record(latency_us.round() as u64);
            p.delivered += 1;
            if self.in_window(now) {
                p.payload += len as u64;
            }
            t.last_delivery_s = t.last_delivery_s.max(now + extra_s);
        });
    }

    /// A request or stream was open from `from_s` to `to_s` (model seconds).
    fn open(&self, proto: usize, from_s: f64, to_s: f64) {
        let span = to_s.min(self.duration_s) - from_s.max(0.0);
        if span > 0.0 {
            self.with(|t| t.protos[proto].open_s += span);
        }
    }

    fn setup_failed(&self, what: String) {
        self.with(|t| t.setup_errors.push(what));
    }
}

impl ByteSink for Rec {
    fn bytes(&self, tag: usize, n: usize, _inbound: bool) {
        let (Some(now), Some(&series)) = (self.now_s(), BYTES_SERIES.get(tag)) else {
            return; // handshakes before t = 0 are not counted
        };
        self.with(|t| {
            self.bin(t, series, now, n as f64);
            if self.in_window(now) {
                t.protos[tag].bytes += n as u64;
            }
        });
    }
}

/// What every client task needs.
#[derive(Clone)]
struct Ctx {
    rec: Arc<Rec>,
    server: SocketAddr,
    events: u64,
    /// Half the emulated round trip, wall time and model seconds.
    half_wall: Duration,
    half_s: f64,
    request_bytes: usize,
    go: CancellationToken,
    stop: CancellationToken,
}

impl Ctx {
    fn wall(&self, model_s: f64) -> Duration {
        Duration::from_secs_f64((model_s / self.rec.scale).max(0.0))
    }

    /// The wall-clock instant of model time `model_s`.
    fn at(&self, model_s: f64) -> Option<tokio::time::Instant> {
        let t0 = self.rec.t0.get()?;
        Some(tokio::time::Instant::from_std(*t0) + self.wall(model_s))
    }

    /// Waits for t = 0; false when the run stopped first.
    async fn started(&self) -> bool {
        self.rec.ready.fetch_add(1, Ordering::AcqRel);
        tokio::select! {
            () = self.go.cancelled() => true,
            () = self.stop.cancelled() => false,
        }
    }

    /// Whether a poller has had every event and the window is over.
    fn poller_done(&self, last_id: u64) -> bool {
        last_id >= self.events && self.rec.now_s().is_some_and(|now| !self.rec.in_window(now))
    }
}

/// A finished run before it is shaped into a report.
struct Run {
    rec: Arc<Rec>,
    end_s: f64,
    horizon_s: f64,
    events: u64,
}

async fn racer_async(p: RacerParams, scale: f64, seed: u64) -> Result<Run, LiveError> {
    // The model's draws, in the model's order: publication times, then each
    // short poller's phase, then each long poller's.
    let mut rng = SimRng::seed_from(seed);
    let d = p.duration.as_nanos();
    let mut times: Vec<u64> = (0..p.events).map(|_| rng.below(d)).collect();
    times.sort_unstable();
    for i in 1..times.len() {
        if times[i] <= times[i - 1] {
            times[i] = times[i - 1] + 1;
        }
    }
    let phase = |rng: &mut SimRng, period: u64| {
        let slots = (period / 1_000_000).clamp(1, 65_536);
        rng.below(slots) * (period / slots)
    };
    let sp_phase: Vec<u64> = (0..p.clients)
        .map(|_| phase(&mut rng, p.interval.as_nanos()))
        .collect();
    let lp_phase: Vec<u64> = (0..p.clients)
        .map(|_| phase(&mut rng, p.hold.as_nanos()))
        .collect();

    let horizon_s = p.horizon.as_secs_f64();
    let to_wall = |s: f64| Duration::from_secs_f64(s / scale);
    let backlog = somaxconn().unwrap_or(4096).min(4096);
    let listener = addr::bind(SocketAddr::from(([127, 0, 0, 1], 0)), backlog)?;
    let server_addr = listener.local_addr().map_err(LiveError::Runtime)?;
    let cfg = ServerConfig {
        tick: None,
        long_poll_hold: to_wall(p.hold.as_secs_f64()),
        // The model counts no keep-alives: none during the run.
        sse_heartbeat: Duration::from_secs(3600),
        feed_capacity: usize::try_from(p.events).unwrap_or(usize::MAX).max(1) + 16,
        max_publish: 2 * MAX_EVENT_BYTES as usize,
        max_connections: usize::try_from(p.clients * 4 + 16).unwrap_or(usize::MAX),
        header_read_timeout: to_wall(horizon_s) + Duration::from_secs(10),
        grace: Duration::from_secs(2),
        ..ServerConfig::default()
    };
    let rec = Arc::new(Rec {
        t0: OnceLock::new(),
        scale,
        interval_s: interval_for(horizon_s),
        duration_s: p.duration.as_secs_f64(),
        tally: Mutex::new(Tally {
            protos: std::array::from_fn(|_| Proto {
                requests: 0,
                empty: 0,
                bytes: 0,
                payload: 0,
                delivered: 0,
                open_s: 0.0,
                latency: Histogram::new_with_bounds(1, 1 << 40, 3)
                    .unwrap_or_else(|_| unreachable!("1..2^40 at 3 digits is a valid range")),
            }),
            bins: Default::default(),
            last_delivery_s: 0.0,
            setup_errors: Vec::new(),
        }),
        published: (0..p.events).map(|_| AtomicU64::new(0)).collect(),
        delivered: AtomicU64::new(0),
        ready: AtomicU64::new(0),
    });
    let stop = CancellationToken::new();
    let tasks = TaskTracker::new();
    let server_stop = stop.clone();
    tasks.spawn(async move {
        let _ = server::run(listener, cfg, server_stop.cancelled_owned()).await;
    });
    let ctx = Ctx {
        rec: rec.clone(),
        server: server_addr,
        events: p.events,
        half_wall: to_wall(p.rtt.as_secs_f64() / 2.0),
        half_s: p.rtt.as_secs_f64() / 2.0,
        request_bytes: usize::try_from(p.request_bytes).unwrap_or(usize::MAX),
        go: CancellationToken::new(),
        stop: stop.clone(),
    };
    let interval_s = p.interval.as_secs_f64();
    for i in 0..p.clients as usize {
        let sp = sp_phase[i] as f64 / 1e9;
        let lp = lp_phase[i] as f64 / 1e9;
        tasks.spawn(short_poller(ctx.clone(), sp, interval_s));
        tasks.spawn(long_poller(ctx.clone(), lp));
        tasks.spawn(sse_client(ctx.clone()));
        tasks.spawn(ws_client(ctx.clone()));
    }
    let publisher = {
        let ctx = ctx.clone();
        let payload_len = usize::try_from(p.event_bytes).unwrap_or(usize::MAX);
        tasks.spawn(async move { publish(ctx, times, payload_len).await })
    };

    // Setup: every client connected (streams through their handshakes).
    let want = p.clients * 4 + 1;
    let setup_deadline = tokio::time::Instant::now() + SETUP_TIMEOUT;
    let failed = loop {
        let errors = rec.with(|t| t.setup_errors.first().cloned());
        if let Some(e) = errors {
            break Some(e);
        }
        if rec.ready.load(Ordering::Acquire) >= want {
            break None;
        }
        if tokio::time::Instant::now() >= setup_deadline {
            break Some(format!(
                "only {} of {want} clients were ready after {} s",
                rec.ready.load(Ordering::Acquire),
                SETUP_TIMEOUT.as_secs()
            ));
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    if let Some(e) = failed {
        stop.cancel();
        tasks.close();
        let _ = tokio::time::timeout(Duration::from_secs(5), tasks.wait()).await;
        return Err(LiveError::Config(format!(
            "the live racer could not start: {e}"
        )));
    }
    let t0 = Instant::now() + START_MARGIN;
    let _ = rec.t0.set(t0);
    ctx.go.cancel();

    // Until every client has had every event by every protocol, after the
    // window, or the horizon.
    let target = p.clients * p.events * 4;
    let window_end = tokio::time::Instant::from_std(t0) + to_wall(rec.duration_s);
    let horizon_end = tokio::time::Instant::from_std(t0) + to_wall(horizon_s);
    tokio::time::sleep_until(window_end).await;
    while rec.delivered.load(Ordering::Relaxed) < target
        && tokio::time::Instant::now() < horizon_end
    {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let end_s = rec.now_s().unwrap_or(0.0).min(horizon_s);
    stop.cancel();
    tasks.close();
    let _ = publisher.await;
    let _ = tokio::time::timeout(Duration::from_secs(5), tasks.wait()).await;
    let end_s = rec
        .with(|t| t.last_delivery_s)
        .max(rec.duration_s)
        .min(end_s.max(rec.duration_s));
    Ok(Run {
        rec,
        end_s,
        horizon_s,
        events: p.events,
    })
}

/// The text of event `seq`: its number, a space, `x` up to `len` bytes.
fn payload(seq: usize, len: usize) -> String {
    let mut s = format!("{seq} ");
    let pad = len.saturating_sub(s.len());
    s.extend(std::iter::repeat_n('x', pad));
    s
}

/// The event number at the start of an event's text.
fn seq_of(data: &str) -> Option<usize> {
    data.split(' ').next()?.parse().ok()
}

/// Publishes each event at its time over one keep-alive connection (not
/// counted: it stands in for the application).
async fn publish(ctx: Ctx, times: Vec<u64>, payload_len: usize) {
    let conn = async {
        let s = TcpStream::connect(ctx.server).await?;
        s.set_nodelay(true)?;
        Ok::<_, io::Error>(BufReader::with_capacity(4 * KIB, s))
    };
    let mut io = match tokio::time::timeout(SETUP_TIMEOUT, conn).await {
        Ok(Ok(io)) => io,
        Ok(Err(e)) => return ctx.rec.setup_failed(format!("publisher: {e}")),
        Err(_) => return ctx.rec.setup_failed("publisher: connect timed out".into()),
    };
    if !ctx.started().await {
        return;
    }
    let host = ctx.server.to_string();
    for (seq, &t) in times.iter().enumerate() {
        let Some(at) = ctx.at(t as f64 / 1e9) else {
            return;
        };
        tokio::select! {
            () = tokio::time::sleep_until(at) => {}
            () = ctx.stop.cancelled() => return,
        }
        let body = payload(seq, payload_len);
        let req = format!(
            "POST /publish HTTP/1.1\r\nHost: {host}\r\nContent-Type: text/plain\r\n\
             Content-Length: {}\r\n\r\n{body}",
            body.len()
        );
        if let (Some(since), Some(slot)) = (ctx.rec.since_t0(), ctx.rec.published.get(seq)) {
            slot.store(since.as_nanos() as u64 + 1, Ordering::Release);
        }
        if let Some(now) = ctx.rec.now_s() {
            ctx.rec
                .with(|tally| ctx.rec.bin(tally, EVENTS_SERIES, now, 1.0));
        }
        let sent = async {
            io.get_mut().write_all(req.as_bytes()).await?;
            let head = read_head(&mut io).await?;
            read_body(&mut io, &head).await?;
            Ok::<_, io::Error>(head.status)
        };
        let ok = tokio::select! {
            r = sent => matches!(r, Ok(200)),
            () = ctx.stop.cancelled() => return,
        };
        if !ok {
            return;
        }
    }
}

/// A client's buffered HTTP connection, counted under its protocol.
type Http = BufReader<Counted<TcpStream>>;

async fn connect(ctx: &Ctx, proto: usize) -> io::Result<Http> {
    let s = TcpStream::connect(ctx.server).await?;
    s.set_nodelay(true)?;
    let sink: Arc<dyn ByteSink> = ctx.rec.clone();
    Ok(BufReader::with_capacity(
        4 * KIB,
        Counted::new(s, proto, sink),
    ))
}

/// A `GET` of `path` padded with an `X-Pad` header to exactly `pad_to` bytes
/// when that is longer than the bare request.
fn get_request(path: &str, host: &str, accept: &str, pad_to: usize) -> String {
    let base = format!(
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: swelearn-racer\r\nAccept: {accept}\r\n"
    );
    const PAD: &str = "X-Pad: \r\n";
    let bare = base.len() + 2;
    if pad_to >= bare + PAD.len() {
        let x = "x".repeat(pad_to - bare - PAD.len());
        format!("{base}X-Pad: {x}\r\n\r\n")
    } else {
        format!("{base}\r\n")
    }
}

/// A response's status line and the headers that frame its body.
#[derive(Debug)]
struct Head {
    status: u16,
    content_length: Option<usize>,
    chunked: bool,
}

fn invalid(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_string())
}

async fn read_line<R: tokio::io::AsyncBufRead + Unpin>(io: &mut R) -> io::Result<Vec<u8>> {
    let mut line = Vec::new();
    let n = io
        .take(MAX_RESPONSE as u64)
        .read_until(b'\n', &mut line)
        .await?;
    if n == 0 {
        return Err(io::ErrorKind::UnexpectedEof.into());
    }
    if line.last() != Some(&b'\n') {
        return Err(invalid("line too long"));
    }
    while matches!(line.last(), Some(b'\n' | b'\r')) {
        line.pop();
    }
    Ok(line)
}

async fn read_head<R: tokio::io::AsyncBufRead + Unpin>(io: &mut R) -> io::Result<Head> {
    let status_line = read_line(io).await?;
    let status = std::str::from_utf8(&status_line)
        .ok()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| invalid("bad status line"))?;
    let mut head = Head {
        status,
        content_length: None,
        chunked: false,
    };
    for _ in 0..100 {
        let line = read_line(io).await?;
        if line.is_empty() {
            return Ok(head);
        }
        let text = String::from_utf8_lossy(&line);
        if let Some((name, value)) = text.split_once(':') {
            let (name, value) = (name.trim(), value.trim());
            if name.eq_ignore_ascii_case("content-length") {
                head.content_length = value.parse().ok();
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                head.chunked = value.eq_ignore_ascii_case("chunked");
            }
        }
    }
    Err(invalid("too many headers"))
}

/// The next chunk of a chunked body, or `None` after the last.
async fn read_chunk<R: tokio::io::AsyncBufRead + Unpin>(io: &mut R) -> io::Result<Option<Vec<u8>>> {
    let line = read_line(io).await?;
    let text = String::from_utf8_lossy(&line);
    let size = text.split(';').next().unwrap_or("").trim();
    let size = usize::from_str_radix(size, 16).map_err(|_| invalid("bad chunk size"))?;
    if size > MAX_RESPONSE {
        return Err(invalid("chunk too large"));
    }
    if size == 0 {
        read_line(io).await?; // the empty trailer line
        return Ok(None);
    }
    let mut chunk = vec![0u8; size + 2];
    io.read_exact(&mut chunk).await?;
    chunk.truncate(size);
    Ok(Some(chunk))
}

async fn read_body<R: tokio::io::AsyncBufRead + Unpin>(
    io: &mut R,
    head: &Head,
) -> io::Result<Vec<u8>> {
    if head.chunked {
        let mut body = Vec::new();
        while let Some(chunk) = read_chunk(io).await? {
            body.extend_from_slice(&chunk);
            if body.len() > MAX_RESPONSE {
                return Err(invalid("body too large"));
            }
        }
        return Ok(body);
    }
    let len = head.content_length.unwrap_or(0);
    if len > MAX_RESPONSE {
        return Err(invalid("body too large"));
    }
    let mut body = vec![0u8; len];
    io.read_exact(&mut body).await?;
    Ok(body)
}

/// A poll or long-poll answer (the lab's JSON).
#[derive(Debug, Deserialize)]
struct PollBody {
    events: Vec<PollEvent>,
    last_id: u64,
}

#[derive(Debug, Deserialize)]
struct PollEvent {
    data: String,
}

/// One poll on a keep-alive connection, with the emulated round trip (the
/// uplink half only when `uplink`); returns the answer. Requests written
/// before t = 0 are not counted.
async fn poll_once(
    ctx: &Ctx,
    io: &mut Http,
    proto: usize,
    path: &str,
    uplink: bool,
) -> io::Result<PollBody> {
    if uplink {
        tokio::time::sleep(ctx.half_wall).await;
    }
    let host = ctx.server.to_string();
    let req = get_request(path, &host, "application/json", ctx.request_bytes);
    ctx.rec.request(proto);
    io.get_mut().write_all(req.as_bytes()).await?;
    let head = read_head(io).await?;
    let body = read_body(io, &head).await?;
    if head.status != 200 {
        return Err(invalid("poll refused"));
    }
    let answer: PollBody = serde_json::from_slice(&body).map_err(|_| invalid("bad poll JSON"))?;
    ctx.rec.response(proto, answer.events.len());
    tokio::time::sleep(ctx.half_wall).await;
    Ok(answer)
}

/// Takes a poll answer: every event it carries reaches the client now.
fn take(ctx: &Ctx, proto: usize, answer: &PollBody, last: &mut u64) {
    for e in &answer.events {
        if let Some(seq) = seq_of(&e.data) {
            ctx.rec.deliver(proto, seq, e.data.len(), 0.0);
        }
    }
    *last = (*last).max(answer.last_id);
}

/// Runs `f` until it returns or the run stops.
async fn or_stop<T>(ctx: &Ctx, f: impl Future<Output = T>) -> Option<T> {
    tokio::select! {
        r = f => Some(r),
        () = ctx.stop.cancelled() => None,
    }
}

/// Polls every `interval_s` from `phase_s` until it has every event and the
/// window is over.
async fn short_poller(ctx: Ctx, phase_s: f64, interval_s: f64) {
    let mut io = match tokio::time::timeout(SETUP_TIMEOUT, connect(&ctx, SP)).await {
        Ok(Ok(io)) => io,
        _ => {
            return ctx
                .rec
                .setup_failed("a short poller could not connect".into());
        }
    };
    if !ctx.started().await {
        return;
    }
    let Some(first) = ctx.at(phase_s) else { return };
    let mut ticks = tokio::time::interval_at(first, ctx.wall(interval_s));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last = 0u64;
    loop {
        if or_stop(&ctx, ticks.tick()).await.is_none() || ctx.poller_done(last) {
            return;
        }
        let start = ctx.rec.now_s().unwrap_or(0.0);
        let path = format!("/poll?since={last}");
        match or_stop(&ctx, poll_once(&ctx, &mut io, SP, &path, true)).await {
            None => return,
            Some(Ok(answer)) => take(&ctx, SP, &answer, &mut last),
            Some(Err(_)) => {
                // The keep-alive connection closed: open another for the next poll.
                match or_stop(&ctx, connect(&ctx, SP)).await {
                    Some(Ok(new)) => io = new,
                    _ => return,
                }
            }
        }
        ctx.rec.open(SP, start, ctx.rec.now_s().unwrap_or(start));
    }
}

/// Asks again as soon as each answer arrives; the first request is held only
/// until the client's phase.
async fn long_poller(ctx: Ctx, phase_s: f64) {
    let mut io = match tokio::time::timeout(SETUP_TIMEOUT, connect(&ctx, LP)).await {
        Ok(Ok(io)) => io,
        _ => {
            return ctx
                .rec
                .setup_failed("a long poller could not connect".into());
        }
    };
    if !ctx.started().await {
        return;
    }
    let mut last = 0u64;
    let mut first = true;
    loop {
        if ctx.poller_done(last) {
            return;
        }
        let start = ctx.rec.now_s().unwrap_or(0.0);
        let path = if first {
            // Written before t = 0 and held until the client's phase.
            let wait = ctx.at(phase_s).map_or(Duration::ZERO, |at| {
                at.saturating_duration_since(tokio::time::Instant::now())
            });
            format!("/longpoll?since={last}&timeout={}", wait.as_secs_f64())
        } else {
            format!("/longpoll?since={last}")
        };
        let uplink = !first;
        first = false;
        match or_stop(&ctx, poll_once(&ctx, &mut io, LP, &path, uplink)).await {
            None => {
                ctx.rec.open(LP, start, ctx.rec.now_s().unwrap_or(start));
                return;
            }
            Some(Ok(answer)) => take(&ctx, LP, &answer, &mut last),
            Some(Err(_)) => match or_stop(&ctx, connect(&ctx, LP)).await {
                Some(Ok(new)) => io = new,
                _ => return,
            },
        }
        ctx.rec.open(LP, start, ctx.rec.now_s().unwrap_or(start));
    }
}

/// One SSE stream, opened before t = 0; every `data:` line is an event.
async fn sse_client(ctx: Ctx) {
    let open = async {
        let mut io = connect(&ctx, SSE).await?;
        let host = ctx.server.to_string();
        let req = get_request("/sse", &host, "text/event-stream", 0);
        io.get_mut().write_all(req.as_bytes()).await?;
        let head = read_head(&mut io).await?;
        if head.status != 200 || !head.chunked {
            return Err(invalid("no event stream"));
        }
        // The greeting comment, so it is not counted in the run.
        read_chunk(&mut io).await?;
        Ok::<_, io::Error>(io)
    };
    let mut io = match tokio::time::timeout(SETUP_TIMEOUT, open).await {
        Ok(Ok(io)) => io,
        _ => return ctx.rec.setup_failed("an SSE stream could not open".into()),
    };
    if !ctx.started().await {
        return;
    }
    let mut line = Vec::new();
    let mut got = 0u64;
    let ended = loop {
        let chunk = match or_stop(&ctx, read_chunk(&mut io)).await {
            None => break None,
            Some(Ok(Some(c))) => c,
            Some(_) => break ctx.rec.now_s(),
        };
        for &b in &chunk {
            if b != b'\n' {
                line.push(b);
                continue;
            }
            if let Some(data) = line.strip_prefix(b"data: ") {
                let data = String::from_utf8_lossy(data);
                if let Some(seq) = seq_of(&data) {
                    ctx.rec.deliver(SSE, seq, data.len(), ctx.half_s);
                    got += 1;
                }
            }
            line.clear();
        }
        if got >= ctx.events {
            // Every event is in: hold the stream open until the run ends.
            ctx.stop.cancelled().await;
            break None;
        }
    };
    ctx.rec.open(SSE, 0.0, ended.unwrap_or(f64::INFINITY));
}

/// One WebSocket on `/ws/feed`, opened before t = 0; every text message is an
/// event.
async fn ws_client(ctx: Ctx) {
    let open = async {
        let s = TcpStream::connect(ctx.server).await?;
        s.set_nodelay(true)?;
        let sink: Arc<dyn ByteSink> = ctx.rec.clone();
        let io = Counted::new(s, WS, sink);
        let url = format!("ws://{}/ws/feed", ctx.server);
        let cfg = WsLimits::default().config();
        tokio_tungstenite::client_async_with_config(url, io, Some(cfg))
            .await
            .map_err(io::Error::other)
    };
    let mut ws = match tokio::time::timeout(SETUP_TIMEOUT, open).await {
        Ok(Ok((ws, _))) => ws,
        _ => return ctx.rec.setup_failed("a WebSocket could not open".into()),
    };
    if !ctx.started().await {
        return;
    }
    let mut got = 0u64;
    let ended = loop {
        match or_stop(&ctx, ws.next()).await {
            None => break None,
            Some(Some(Ok(Message::Text(t)))) => {
                if let Some(seq) = seq_of(t.as_str()) {
                    ctx.rec.deliver(WS, seq, t.len(), ctx.half_s);
                    got += 1;
                }
                if got >= ctx.events {
                    ctx.stop.cancelled().await;
                    break None;
                }
            }
            Some(Some(Ok(_))) => {}
            Some(_) => break ctx.rec.now_s(),
        }
    };
    ctx.rec.open(WS, 0.0, ended.unwrap_or(f64::INFINITY));
}

impl Run {
    fn into_report(
        self,
        p: &RacerParams,
        parameters: Vec<Parameter>,
        seed: u64,
        wall: Duration,
    ) -> Report {
        let rec = self.rec;
        let iv = rec.interval_s;
        let window_s = rec.duration_s;
        let n_bins = ((self.end_s / iv).ceil() as usize).max(1);
        let mut t = rec.tally.lock().unwrap_or_else(PoisonError::into_inner);
        let series = SERIES
            .iter()
            .enumerate()
            .map(|(k, (name, unit, label))| {
                let mut values = std::mem::take(&mut t.bins[k]);
                values.resize(n_bins.max(values.len()), 0.0);
                values.truncate(n_bins);
                values.iter_mut().for_each(|v| *v /= iv);
                Series {
                    name: (*name).to_string(),
                    unit: (*unit).to_string(),
                    label: (*label).to_string(),
                    values,
                }
            })
            .collect();
        let per_s = |x: f64| x / window_s;
        let pr = &t.protos;
        let mut values: Vec<Option<f64>> = Vec::with_capacity(racer::METRICS.len());
        values.extend(pr.iter().map(|p| Some(per_s(p.requests as f64))));
        values.extend(pr.iter().map(|p| Some(per_s(p.bytes as f64))));
        values.extend(pr.iter().map(|p| {
            (p.bytes > 0).then(|| p.bytes.saturating_sub(p.payload) as f64 / p.bytes as f64)
        }));
        values.extend(pr.iter().map(|p| Some(p.empty as f64)));
        values.extend(
            pr.iter()
                .map(|p| (!p.latency.is_empty()).then(|| p.latency.mean() / 1e3)),
        );
        values.extend(pr.iter().map(|p| {
            (!p.latency.is_empty()).then(|| p.latency.value_at_quantile(0.99) as f64 / 1e3)
        }));
        values.extend(pr.iter().map(|p| Some(p.open_s / window_s)));
        values.extend(pr.iter().map(|p| Some(p.delivered as f64)));
        values.push(Some(self.events as f64));
        values.push(Some(per_s(
            p.clients as f64 * self.events as f64 * p.event_bytes as f64,
        )));
        let metrics = racer::METRICS
            .iter()
            .zip(values)
            .map(|(info, v)| Metric::new(info.name, v, info.unit, info.help))
            .collect();
        let events_processed = pr.iter().map(|p| p.delivered + p.requests).sum();
        Report {
            schema: SCHEMA_VERSION,
            scenario: racer::NAME.to_string(),
            backend: Backend::Live,
            seed,
            parameters,
            metrics,
            series_interval_s: iv,
            series,
            events_processed,
            end_s: self.end_s,
            horizon_s: self.horizon_s,
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
        assert_eq!(names, racer::SERIES);
        for (proto, &series) in BYTES_SERIES.iter().enumerate() {
            assert!(SERIES[series].0.starts_with(racer::PROTOCOLS[proto]));
        }
        assert_eq!(SERIES[EVENTS_SERIES].0, "events_per_s");
    }

    #[test]
    fn payloads_carry_their_number_at_the_asked_size() {
        let p = payload(42, 100);
        assert_eq!(p.len(), 100);
        assert_eq!(seq_of(&p), Some(42));
        assert_eq!(payload(12345, 4), "12345 ", "never cut the number");
    }

    #[test]
    fn requests_are_padded_to_the_asked_size() {
        let r = get_request("/poll?since=3", "127.0.0.1:9", "application/json", 500);
        assert_eq!(r.len(), 500);
        assert!(r.ends_with("\r\n\r\n") && r.contains("X-Pad: x"));
        let bare = get_request("/poll?since=3", "127.0.0.1:9", "application/json", 10);
        assert!(!bare.contains("X-Pad") && bare.len() > 10);
    }

    #[tokio::test]
    async fn heads_and_chunked_bodies_parse() {
        let raw = b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n3;x=1\r\n, w\r\n0\r\n\r\n";
        let mut io = BufReader::new(&raw[..]);
        let head = read_head(&mut io).await.expect("head");
        assert_eq!((head.status, head.chunked), (200, true));
        assert_eq!(read_body(&mut io, &head).await.expect("body"), b"hello, w");
        let raw = b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\n\r\nbusy";
        let mut io = BufReader::new(&raw[..]);
        let head = read_head(&mut io).await.expect("head");
        assert_eq!((head.status, head.content_length), (503, Some(4)));
        assert_eq!(read_body(&mut io, &head).await.expect("body"), b"busy");
        let mut io = BufReader::new(&b"zz\r\n"[..]);
        assert!(read_chunk(&mut io).await.is_err());
    }

    #[test]
    fn runs_beyond_the_bounds_are_refused_in_one_line() {
        let opts = LiveRacerOptions::default();
        let small = RacerConfig {
            clients: 10,
            duration_s: 5.0,
            event_rate: 2.0,
            interval_s: 1.0,
            hold_s: 2.0,
            ..RacerConfig::default()
        };
        let cases: &[(RacerConfig, &str)] = &[
            (RacerConfig::default(), "at most 500"),
            (
                RacerConfig {
                    clients: 10,
                    ..RacerConfig::default()
                },
                "use --time-scale 10.104 or more",
            ),
            (
                RacerConfig {
                    event_bytes: 4,
                    ..small.clone()
                },
                "--event-bytes 4",
            ),
            (
                RacerConfig {
                    event_rate: 100.0,
                    ..small.clone()
                },
                "events per short poll",
            ),
            (
                RacerConfig {
                    clients: 500,
                    interval_s: 0.01,
                    ..small.clone()
                },
                "use at most 187 clients",
            ),
        ];
        for (cfg, needle) in cases {
            let err = run_racer(cfg, &opts, 1).expect_err("refused").to_string();
            assert!(err.contains(needle), "{err}");
            assert!(!err.contains('\n'), "{err}");
        }
    }
}

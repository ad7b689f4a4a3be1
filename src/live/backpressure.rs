//! Backpressure for real (`simulate backpressure --live`): a WebSocket server on
//! loopback whose producer broadcasts a `--message-size` message every
//! `1 / --rate` seconds to `--consumers` tokio-tungstenite clients in this
//! process, the first `--slow-consumers` of which read at `--slow-rate`. The run
//! fills the same [`Report`] as the model (`backend: "live"`), with the model's
//! metric and series names plus a few live-only ones.
//!
//! How the model's terms map onto the machine:
//! - *Buffer*: each server connection has an application send queue (messages
//!   waiting for its writer task). Its bytes are counted exactly — message
//!   payloads, `--message-size` each — and `--policy` is applied to it as in the
//!   model, at `floor(--buffer-limit / --message-size)` messages. A message sits
//!   in the queue until its writer takes it, typically microseconds, so even a
//!   fast connection counts for one message now and then.
//! - *In the socket*: a message the writer took is in tungstenite's write buffer
//!   or the kernel. Every socket asks for 4 KiB send and receive buffers
//!   ([`SOCKET_BUFFER`](super::sockets::SOCKET_BUFFER), about 8 KiB each as Linux doubles it), so a slow reader
//!   fills them within a few messages and the backlog shows in the queue rather
//!   than in autotuned megabytes of kernel memory.
//! - *Read*: a consumer takes one message from its socket, then spends a read
//!   time drawn uniformly from `[0.5, 1.5]` times `1 / rate` (seeded), and the
//!   message is delivered at the end of that read. Readers pace themselves on a
//!   clock allowed to run up to 2 ms ahead of the wall clock, because tokio's
//!   timers fire on a 1 ms grid and a 2,000 msg/s reader would otherwise be
//!   slowed to the grid; delivery is stamped with that clock.
//! - *Throttle*: the producer waits until every queue has room, as in the model;
//!   the sockets' few kilobytes are extra slack the model does not have.
//! - *Disconnect*: the server empties the queue (those messages and the arriving
//!   one are lost), finishes the message in flight and sends a Close. Messages
//!   already in the socket still reach the client and count as delivered (the
//!   model counts them lost).
//!
//! At the horizon the producer stops, each queue's contents are what the run
//! reports as still buffered (`final_buffered_bytes`), and the consumers read
//! what is left in their sockets at full speed until the server's Close:
//! `in_transit_at_end`. So, exactly, `offered = delivered + in_transit_at_end +
//! dropped + final_buffered_bytes / message_size`, each term counted separately
//! (the consumers count deliveries, the server counts drops and queues).
//!
//! Live-only metrics: `offered`, `in_transit_at_end`,
//! `peak_conn_buffered_bytes` (one connection's largest queue, at most
//! `--buffer-limit` under a bounded policy), `process_rss_{start,peak,end}_bytes`
//! (this process's resident memory from /proc/self/status, clients included:
//! at the producer's start, the largest sampled every 50 ms, at the horizon) and
//! `memory_cap_stop_s`. Live-only series: `process_rss_bytes`.
//!
//! Bounds: at most [`LiveBackpressureOptions::max_consumers`] consumers and what
//! the open-file limit allows (2 descriptors each), a horizon of at most
//! [`LiveBackpressureOptions::max_wall`] (the run is in real time), bounded
//! message and byte rates, and at most
//! [`LiveBackpressureOptions::max_buffered_bytes`] buffered: an unbounded run
//! stops before its queues would pass it (`memory_cap_stop_s`), and a bounded
//! run whose limits could pass it is refused.

use super::error::LiveError;
use super::limits::{FdReport, WsLimits};
use super::measure::{BinKind, Bins, Latencies, interval_for, rss_bytes};
use super::sockets::{connect_small, listen_small};
use crate::sim::report::{Backend, Metric, Parameter, Report, SCHEMA_VERSION};
use crate::sim::rng::SimRng;
use crate::sim::scenarios::backpressure::{
    self, BackpressureConfig, BackpressureParams, BufferPolicy,
};
use crate::sim::spec::ScenarioSpec;
use futures_util::{FutureExt, SinkExt, StreamExt};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::sync::{Notify, Semaphore};
use tokio::time::Instant;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::{Bytes, Message};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Smallest message: it carries its number and production time (16 bytes).
pub const MIN_MESSAGE_SIZE: u64 = 16;
/// Largest message a live run sends (the lab's message limit).
pub const MAX_MESSAGE_SIZE: u64 = 64 * 1024;

/// Bounds of a live backpressure run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LiveBackpressureOptions {
    /// Most consumers one run connects.
    pub max_consumers: u64,
    /// Most messages offered per second over all connections (rate x consumers).
    pub max_offered_per_s: f64,
    /// Most bytes offered per second over all connections.
    pub max_bytes_per_s: f64,
    /// Most bytes the server's queues may hold together.
    pub max_buffered_bytes: u64,
    /// Longest horizon (the producer runs in real time).
    pub max_wall: Duration,
}

impl Default for LiveBackpressureOptions {
    fn default() -> Self {
        Self {
            max_consumers: 1_000,
            max_offered_per_s: 100_000.0,
            max_bytes_per_s: 64.0 * 1024.0 * 1024.0,
            max_buffered_bytes: 256 << 20,
            max_wall: Duration::from_secs(60),
        }
    }
}

/// How far a reader's clock may run ahead of the wall clock (tokio's timer grid
/// is 1 ms).
const READ_SLACK: Duration = Duration::from_millis(2);
/// Longest wait for every consumer to connect.
const SETUP: Duration = Duration::from_secs(20);
/// Longest wait for the consumers to read what is left in their sockets.
const DRAIN: Duration = Duration::from_secs(10);
/// How often memory and buffered bytes are sampled.
const SAMPLE: Duration = Duration::from_millis(50);

const BUFFERED: usize = 0;
const PRODUCED: usize = 1;
const DELIVERED: usize = 2;
const DROPPED: usize = 3;
const CONNECTED: usize = 4;
const RSS: usize = 5;

/// Runs backpressure on loopback and returns its report.
pub fn run_backpressure(
    cfg: &BackpressureConfig,
    opts: &LiveBackpressureOptions,
    seed: u64,
) -> Result<Report, LiveError> {
    let p = cfg
        .validate_params()
        .map_err(|e| LiveError::Config(e.to_string()))?;
    check(&p, cfg, opts)?;
    FdReport::read()?.check(u64::from(p.consumers), 2)?;
    let runtime = crate::live::runtime()?;
    let started = std::time::Instant::now();
    let run = runtime.block_on(backpressure_async(p, opts.max_buffered_bytes, seed))?;
    runtime.shutdown_timeout(Duration::from_secs(1));
    let mut parameters = cfg.parameters();
    parameters.push(Parameter::new(
        "memory_cap",
        opts.max_buffered_bytes.to_string(),
        "bytes",
    ));
    Ok(run.into_report(&p, parameters, seed, started.elapsed()))
}

/// Refuses runs beyond the live bounds, naming the largest that fits.
fn check(
    p: &BackpressureParams,
    cfg: &BackpressureConfig,
    opts: &LiveBackpressureOptions,
) -> Result<(), LiveError> {
    let bad = |m: String| Err(LiveError::Config(m));
    let consumers = u64::from(p.consumers);
    if consumers > opts.max_consumers {
        return bad(format!(
            "--consumers {consumers} is more than a live run connects (at most {}); the model \
             (without --live) runs a million",
            opts.max_consumers
        ));
    }
    if !(MIN_MESSAGE_SIZE..=MAX_MESSAGE_SIZE).contains(&p.message_size) {
        return bad(format!(
            "--message-size {} is outside what a live run sends ({MIN_MESSAGE_SIZE} to \
             {MAX_MESSAGE_SIZE} bytes)",
            p.message_size
        ));
    }
    let horizon_s = p.horizon.as_secs_f64();
    let max_wall = opts.max_wall.as_secs_f64();
    if horizon_s > max_wall {
        return bad(format!(
            "--horizon {horizon_s} s is longer than a live run takes (at most {max_wall} s: \
             it runs in real time)"
        ));
    }
    let offered = cfg.rate * consumers as f64;
    let bytes = offered * p.message_size as f64;
    if offered > opts.max_offered_per_s || bytes > opts.max_bytes_per_s {
        let most = (opts.max_offered_per_s / consumers as f64)
            .min(opts.max_bytes_per_s / (consumers * p.message_size) as f64);
        return bad(format!(
            "--rate {} to {consumers} consumers of {}-byte messages offers {offered} messages \
             ({bytes} bytes) per second; a live run offers at most {} messages and {} bytes per \
             second (here, --rate {} or less)",
            cfg.rate,
            p.message_size,
            opts.max_offered_per_s,
            opts.max_bytes_per_s,
            most.floor()
        ));
    }
    if p.policy.is_bounded() {
        let most = p
            .capacity
            .saturating_mul(p.message_size)
            .saturating_mul(consumers);
        if most > opts.max_buffered_bytes {
            return bad(format!(
                "--buffer-limit {} x --consumers {consumers} could buffer {most} bytes, more \
                 than the {} a live run may (at this many consumers, --buffer-limit {} or less)",
                cfg.buffer_limit,
                opts.max_buffered_bytes,
                opts.max_buffered_bytes / consumers
            ));
        }
    }
    Ok(())
}

/// One server connection's application send queue.
#[derive(Debug, Default)]
struct Queue {
    msgs: VecDeque<Bytes>,
    /// No more messages go in or out (disconnected, or the run ended).
    closed: bool,
    offered: u64,
    dropped: u64,
    /// Most messages it held at once.
    peak: u64,
}

#[derive(Debug, Default)]
struct Conn {
    queue: Mutex<Queue>,
    /// Wakes the connection's writer.
    ready: Notify,
}

/// What offering a message to one connection did.
enum Offer {
    Queued,
    Dropped,
    Disconnected { lost: u64 },
    Closed,
}

/// What the producer, the writers and the consumers tallied.
#[derive(Debug)]
struct Tally {
    bins: Vec<Bins>,
    produced: u64,
    delivered: u64,
    drained: u64,
    dropped: u64,
    disconnects: u64,
    connected: u64,
    first_disconnect_s: Option<f64>,
    rss_peak: u64,
    slow: Latencies,
    fast: Latencies,
}

/// State shared by every task of a run.
struct Shared {
    policy: BufferPolicy,
    /// Messages one queue holds (`u64::MAX` when unbounded).
    capacity: u64,
    size: u64,
    /// Production times are nanoseconds since `base`.
    base: Instant,
    /// When the producer started; series run from here.
    t0: OnceLock<Instant>,
    /// Bytes in all queues, and the most there ever were.
    buffered: AtomicU64,
    peak_buffered: AtomicU64,
    /// A queue made room (throttle).
    room: Notify,
    /// The horizon passed: consumers read what is left at full speed.
    drain: CancellationToken,
    tally: Mutex<Tally>,
}

impl Shared {
    fn tally(&self) -> MutexGuard<'_, Tally> {
        self.tally.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Seconds since the producer started at `at`.
    fn secs(&self, at: Instant) -> f64 {
        self.t0
            .get()
            .map_or(0.0, |t0| at.saturating_duration_since(*t0).as_secs_f64())
    }
}

impl Conn {
    fn queue(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Offers `msg` under the policy; returns what happened and the bytes
    /// buffered over all queues right after.
    fn offer(&self, msg: &Bytes, sh: &Shared) -> (Offer, u64) {
        let size = sh.size;
        let mut q = self.queue();
        if q.closed {
            return (Offer::Closed, sh.buffered.load(Ordering::Relaxed));
        }
        q.offered += 1;
        if (q.msgs.len() as u64) < sh.capacity {
            q.msgs.push_back(msg.clone());
            q.peak = q.peak.max(q.msgs.len() as u64);
            // Updated under the queue's lock, so a writer's pop cannot come first.
            let now = sh.buffered.fetch_add(size, Ordering::Relaxed) + size;
            sh.peak_buffered.fetch_max(now, Ordering::Relaxed);
            return (Offer::Queued, now);
        }
        let offer = match sh.policy {
            BufferPolicy::DropOldest => {
                q.msgs.pop_front();
                q.msgs.push_back(msg.clone());
                q.dropped += 1;
                Offer::Dropped
            }
            BufferPolicy::Disconnect => {
                let waiting = q.msgs.len() as u64;
                q.msgs = VecDeque::new();
                q.closed = true;
                q.dropped += waiting + 1;
                sh.buffered.fetch_sub(waiting * size, Ordering::Relaxed);
                Offer::Disconnected { lost: waiting + 1 }
            }
            // The throttled producer offers only when every queue has room.
            BufferPolicy::DropNewest | BufferPolicy::Throttle | BufferPolicy::Unbounded => {
                q.dropped += 1;
                Offer::Dropped
            }
        };
        (offer, sh.buffered.load(Ordering::Relaxed))
    }

    /// The next message for the writer, or `None` once the queue is closed.
    async fn pop(&self, sh: &Shared) -> Option<Bytes> {
        loop {
            {
                let mut q = self.queue();
                if q.closed {
                    return None;
                }
                if let Some(m) = q.msgs.pop_front() {
                    sh.buffered.fetch_sub(sh.size, Ordering::Relaxed);
                    drop(q);
                    if sh.policy == BufferPolicy::Throttle {
                        sh.room.notify_waiters();
                    }
                    return Some(m);
                }
            }
            // notify_one keeps a permit, so a push between the check and here
            // is not missed.
            self.ready.notified().await;
        }
    }

    fn has_room(&self, capacity: u64) -> bool {
        let q = self.queue();
        q.closed || (q.msgs.len() as u64) < capacity
    }

    /// Closes the queue, waking its writer.
    fn close(&self) {
        self.queue().closed = true;
        self.ready.notify_one();
    }
}

/// Why the producer stopped.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Stopped {
    Horizon,
    /// The queues would have passed the memory cap at this time (s).
    MemoryCap(f64),
}

/// A finished run before it is shaped into a report.
struct Run {
    sh: Arc<Shared>,
    end_s: f64,
    stopped: Stopped,
    offered: u64,
    final_waiting: u64,
    peak_conn: u64,
    rss_start: Option<u64>,
    rss_end: Option<u64>,
}

async fn backpressure_async(
    p: BackpressureParams,
    memory_cap: u64,
    seed: u64,
) -> Result<Run, LiveError> {
    let n = p.consumers as usize;
    let listener = listen_small(1024)?;
    let server = listener.local_addr().map_err(LiveError::Runtime)?;
    let interval_s = interval_for(p.horizon.as_secs_f64());
    let bin = |name, unit, label, kind| Bins::new(name, unit, label, kind, interval_s);
    let sh = Arc::new(Shared {
        policy: p.policy,
        capacity: p.capacity,
        size: p.message_size,
        base: Instant::now(),
        t0: OnceLock::new(),
        buffered: AtomicU64::new(0),
        peak_buffered: AtomicU64::new(0),
        room: Notify::new(),
        drain: CancellationToken::new(),
        tally: Mutex::new(Tally {
            bins: vec![
                bin(
                    "buffered_bytes",
                    "bytes",
                    "bytes buffered, all connections",
                    BinKind::GaugeMax,
                ),
                bin(
                    "produced_per_s",
                    "msg/s",
                    "messages produced per second",
                    BinKind::Rate,
                ),
                bin(
                    "delivered_per_s",
                    "msg/s",
                    "reads completed per second",
                    BinKind::Rate,
                ),
                bin(
                    "dropped_per_s",
                    "msg/s",
                    "messages lost per second",
                    BinKind::Rate,
                ),
                bin(
                    "connected_consumers",
                    "connections",
                    "connections still open",
                    BinKind::GaugeMax,
                ),
                bin(
                    "process_rss_bytes",
                    "bytes",
                    "this process's resident memory (live only)",
                    BinKind::GaugeMax,
                ),
            ],
            produced: 0,
            delivered: 0,
            drained: 0,
            dropped: 0,
            disconnects: 0,
            connected: n as u64,
            first_disconnect_s: None,
            rss_peak: 0,
            slow: Latencies::new(),
            fast: Latencies::new(),
        }),
    });
    let stop = CancellationToken::new();
    let tasks = TaskTracker::new();
    let consumers = TaskTracker::new();
    let ws = WsLimits::default()
        .with_max_message(p.message_size as usize)
        .config();

    // The consumers connect, at most 64 handshakes at a time.
    let dialing = Arc::new(Semaphore::new(64));
    for i in 0..n {
        let slow = i < p.slow_consumers as usize;
        let rng = SimRng::seed_from(seed ^ (i as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let mean = if slow { p.slow_read } else { p.fast_read };
        consumers.spawn(consume(
            server,
            slow,
            Duration::from_nanos(mean.as_nanos()),
            rng,
            ws,
            dialing.clone(),
            sh.clone(),
            stop.clone(),
        ));
    }
    let accept_all = async {
        let mut conns = Vec::with_capacity(n);
        for _ in 0..n {
            let (stream, _) = listener.accept().await?;
            let _ = stream.set_nodelay(true);
            let socket = tokio_tungstenite::accept_async_with_config(stream, Some(ws))
                .await
                .map_err(std::io::Error::other)?;
            let conn = Arc::new(Conn::default());
            tasks.spawn(write(conn.clone(), socket, sh.clone(), stop.clone()));
            conns.push(conn);
        }
        Ok::<_, std::io::Error>(conns)
    };
    let conns = match tokio::time::timeout(SETUP, accept_all).await {
        Ok(Ok(conns)) => conns,
        failed => {
            stop.cancel();
            tasks.close();
            consumers.close();
            let _ = tokio::time::timeout(Duration::from_secs(5), tasks.wait()).await;
            let _ = tokio::time::timeout(Duration::from_secs(5), consumers.wait()).await;
            let why = match failed {
                Ok(Err(e)) => e.to_string(),
                _ => format!("not all connected within {} s", SETUP.as_secs()),
            };
            return Err(LiveError::Config(format!(
                "the {n} consumers could not connect: {why}"
            )));
        }
    };
    drop(listener);

    let rss_start = rss_bytes();
    let t0 = Instant::now();
    let _ = sh.t0.set(t0);
    let horizon_at = t0 + Duration::from_nanos(p.horizon.as_nanos());
    tasks.spawn(sample(sh.clone(), sh.drain.clone()));
    let stopped = produce(&conns, &sh, &p, horizon_at, memory_cap, &stop).await;
    if stopped == Stopped::Horizon {
        // The last message may come well before the horizon; reads go on until it.
        tokio::time::sleep_until(horizon_at).await;
    }
    let end_s = match stopped {
        Stopped::MemoryCap(at_s) => at_s,
        Stopped::Horizon => sh.secs(horizon_at),
    };
    sh.drain.cancel();
    let rss_end = rss_bytes();
    let (mut offered, mut final_waiting, mut peak_conn) = (0, 0, 0);
    for c in &conns {
        let mut q = c.queue();
        q.closed = true;
        offered += q.offered;
        final_waiting += q.msgs.len() as u64;
        peak_conn = peak_conn.max(q.peak);
        drop(q);
        c.ready.notify_one();
    }
    {
        let mut t = sh.tally();
        let buffered = sh.buffered.load(Ordering::Relaxed) as f64;
        t.bins[BUFFERED].max(end_s, buffered);
        let connected = t.connected as f64;
        t.bins[CONNECTED].max(end_s, connected);
    }
    consumers.close();
    let _ = tokio::time::timeout(DRAIN, consumers.wait()).await;
    stop.cancel();
    tasks.close();
    let _ = tokio::time::timeout(Duration::from_secs(5), tasks.wait()).await;
    let _ = tokio::time::timeout(Duration::from_secs(5), consumers.wait()).await;
    Ok(Run {
        sh,
        end_s,
        stopped,
        offered,
        final_waiting,
        peak_conn,
        rss_start,
        rss_end,
    })
}

/// The producer: message `m` at `m / rate` (or, throttled, one interval after
/// the previous once every queue has room), offered to every open connection.
async fn produce(
    conns: &[Arc<Conn>],
    sh: &Shared,
    p: &BackpressureParams,
    horizon_at: Instant,
    memory_cap: u64,
    stop: &CancellationToken,
) -> Stopped {
    let t0 = sh.t0.get().copied().unwrap_or(sh.base);
    let throttle = p.policy == BufferPolicy::Throttle;
    let interval = Duration::from_nanos(p.interval.as_nanos());
    // Throttled: the next message one interval after the previous one was due,
    // or after it went out if it had to wait for room (so a timer firing late
    // does not slow the producer, a slow reader does).
    let mut throttled_due = t0;
    let mut m: u64 = 0;
    while m < p.messages {
        let due = if throttle {
            throttled_due
        } else {
            t0 + Duration::from_nanos((m as f64 * p.period_ns).round() as u64)
        };
        if due >= horizon_at {
            break;
        }
        if due > Instant::now() {
            tokio::select! {
                () = tokio::time::sleep_until(due) => {}
                () = stop.cancelled() => break,
            }
        } else if m % 32 == 31 {
            // Catching up (rates above the 1 ms timer grid, or a busy machine):
            // let the writers and readers on this worker run.
            tokio::task::yield_now().await;
        }
        let mut waited = false;
        if throttle {
            match room(conns, sh, horizon_at, stop).await {
                Some(w) => waited = w,
                None => break,
            }
        }
        let now = Instant::now();
        let at_s = sh.secs(now);
        if p.policy == BufferPolicy::Unbounded {
            let open = sh.tally().connected;
            let would = sh.buffered.load(Ordering::Relaxed) + open * sh.size;
            if would > memory_cap {
                return Stopped::MemoryCap(at_s);
            }
        }
        let produced_ns = now.saturating_duration_since(sh.base).as_nanos() as u64;
        let msg = message(m, produced_ns, sh.size as usize);
        let (mut dropped, mut closed, mut most) = (0u64, 0u64, 0u64);
        for c in conns {
            let (offer, buffered) = c.offer(&msg, sh);
            most = most.max(buffered);
            match offer {
                Offer::Queued => c.ready.notify_one(),
                Offer::Dropped => dropped += 1,
                Offer::Disconnected { lost } => {
                    dropped += lost;
                    closed += 1;
                    c.ready.notify_one();
                }
                Offer::Closed => {}
            }
        }
        let mut t = sh.tally();
        t.produced += 1;
        t.dropped += dropped;
        t.disconnects += closed;
        t.connected -= closed;
        if closed > 0 {
            t.first_disconnect_s.get_or_insert(at_s);
        }
        let connected = t.connected as f64;
        t.bins[PRODUCED].add(at_s, 1.0);
        t.bins[DROPPED].add(at_s, dropped as f64);
        t.bins[BUFFERED].max(at_s, most as f64);
        t.bins[CONNECTED].max(at_s, connected);
        drop(t);
        throttled_due = if waited { now } else { due } + interval;
        m += 1;
    }
    Stopped::Horizon
}

/// Waits until every queue has room: `Some(waited)`, or `None` when the
/// horizon or the stop came first.
async fn room(
    conns: &[Arc<Conn>],
    sh: &Shared,
    horizon_at: Instant,
    stop: &CancellationToken,
) -> Option<bool> {
    let mut waited = false;
    loop {
        let made_room = sh.room.notified();
        tokio::pin!(made_room);
        made_room.as_mut().enable();
        if conns.iter().all(|c| c.has_room(sh.capacity)) {
            return Some(waited);
        }
        waited = true;
        tokio::select! {
            () = made_room => {}
            () = tokio::time::sleep_until(horizon_at) => return None,
            () = stop.cancelled() => return None,
        }
    }
}

/// A message: its number and production time (ns since the run's base), then
/// zeros up to `size` bytes.
fn message(m: u64, produced_ns: u64, size: usize) -> Bytes {
    let mut v = vec![0u8; size];
    v[..8].copy_from_slice(&m.to_le_bytes());
    v[8..16].copy_from_slice(&produced_ns.to_le_bytes());
    Bytes::from(v)
}

fn produced_ns(data: &[u8]) -> Option<u64> {
    let b: [u8; 8] = data.get(8..16)?.try_into().ok()?;
    Some(u64::from_le_bytes(b))
}

/// A server connection's writer: sends its queue's messages one at a time (the
/// next waits until the socket took the previous), then a Close once the queue
/// is closed.
async fn write(
    conn: Arc<Conn>,
    socket: WebSocketStream<TcpStream>,
    sh: Arc<Shared>,
    stop: CancellationToken,
) {
    let (mut sink, mut stream) = socket.split();
    loop {
        let next = tokio::select! {
            m = conn.pop(&sh) => m,
            () = stop.cancelled() => return,
        };
        let Some(msg) = next else { break };
        let sent = tokio::select! {
            r = sink.send(Message::Binary(msg)) => r.is_ok(),
            () = stop.cancelled() => return,
        };
        if !sent {
            // The consumer is gone: stop queueing for it.
            conn.close();
            return;
        }
    }
    tokio::select! {
        _ = async {
            let _ = sink.send(Message::Close(None)).await;
            while let Some(Ok(_)) = stream.next().await {}
        } => {}
        () = stop.cancelled() => {}
    }
}

/// One consumer: reads a message, spends its read time, delivers; after the
/// horizon, reads what is left at full speed until the server's Close.
#[allow(clippy::too_many_arguments)]
async fn consume(
    server: SocketAddr,
    slow: bool,
    mean: Duration,
    mut rng: SimRng,
    ws: tokio_tungstenite::tungstenite::protocol::WebSocketConfig,
    dialing: Arc<Semaphore>,
    sh: Arc<Shared>,
    stop: CancellationToken,
) {
    let url = format!("ws://{server}/");
    let connect = async {
        let _permit = dialing.acquire().await.map_err(std::io::Error::other)?;
        let stream = connect_small(server).await?;
        tokio_tungstenite::client_async_with_config(url.as_str(), stream, Some(ws))
            .await
            .map_err(std::io::Error::other)
    };
    let mut socket = tokio::select! {
        r = connect => match r { Ok((s, _)) => s, Err(_) => return },
        () = stop.cancelled() => return,
    };
    let mean_ns = mean.as_nanos() as u64;
    let mut free_at: Option<Instant> = None;
    loop {
        // A message already waiting was there before the reader was free; one
        // that has to be waited for arrives now.
        let (msg, idle) = match socket.next().now_or_never() {
            Some(m) => (m, false),
            None => tokio::select! {
                m = socket.next() => (m, true),
                () = stop.cancelled() => return,
            },
        };
        let received = Instant::now();
        let data = match msg {
            Some(Ok(Message::Binary(b))) => b,
            Some(Ok(Message::Close(_)) | Err(_)) | None => return,
            Some(Ok(_)) => continue,
        };
        if sh.drain.is_cancelled() {
            sh.tally().drained += 1;
            continue;
        }
        let Some(ns) = produced_ns(&data) else {
            continue;
        };
        let produced = sh.base + Duration::from_nanos(ns);
        let arrived = if idle { received } else { produced };
        let start = free_at.map_or(arrived, |f| f.max(arrived));
        let read = rng.between(mean_ns / 2, mean_ns + mean_ns / 2);
        let end = start + Duration::from_nanos(read);
        if end > Instant::now() {
            tokio::select! {
                () = tokio::time::sleep_until(end) => {}
                () = sh.drain.cancelled() => {
                    sh.tally().drained += 1;
                    continue;
                }
                () = stop.cancelled() => return,
            }
        }
        let now = Instant::now();
        let done = end.max(now.checked_sub(READ_SLACK).unwrap_or(now));
        free_at = Some(done);
        let at_s = sh.secs(done);
        let latency_s = done.saturating_duration_since(produced).as_secs_f64();
        let mut t = sh.tally();
        t.delivered += 1;
        t.bins[DELIVERED].add(at_s, 1.0);
        if slow {
            t.slow.record_s(latency_s);
        } else {
            t.fast.record_s(latency_s);
        }
    }
}

/// Samples memory and buffered bytes until the horizon.
async fn sample(sh: Arc<Shared>, until: CancellationToken) {
    let mut every = tokio::time::interval(SAMPLE);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            _ = every.tick() => {}
            () = until.cancelled() => return,
        }
        let at_s = sh.secs(Instant::now());
        let rss = rss_bytes();
        let buffered = sh.buffered.load(Ordering::Relaxed) as f64;
        let mut t = sh.tally();
        if let Some(rss) = rss {
            t.rss_peak = t.rss_peak.max(rss);
            t.bins[RSS].max(at_s, rss as f64);
        }
        t.bins[BUFFERED].max(at_s, buffered);
        let connected = t.connected as f64;
        t.bins[CONNECTED].max(at_s, connected);
    }
}

impl Run {
    fn into_report(
        self,
        p: &BackpressureParams,
        parameters: Vec<Parameter>,
        seed: u64,
        wall: Duration,
    ) -> Report {
        let size = p.message_size as f64;
        let sh = self.sh.clone();
        let mut t = sh.tally();
        let bins = std::mem::take(&mut t.bins);
        let end_s = self.end_s.max(1e-9);
        let rss_peak = [self.rss_start, self.rss_end, Some(t.rss_peak)]
            .into_iter()
            .flatten()
            .max();
        let values = [
            Some(self.sh.peak_buffered.load(Ordering::Relaxed) as f64),
            Some(self.final_waiting as f64 * size),
            Some(t.dropped as f64),
            Some(t.disconnects as f64),
            t.slow.quantile_ms(0.99),
            t.fast.quantile_ms(0.99),
            t.slow.mean_ms(),
            t.fast.mean_ms(),
            Some(t.produced as f64),
            Some(t.delivered as f64),
            Some(t.produced as f64 / end_s),
            t.first_disconnect_s,
            Some(p.fluid_growth_bytes_per_s()),
        ];
        let mut metrics: Vec<Metric> = backpressure::METRICS
            .iter()
            .zip(values)
            .map(|(info, v)| Metric::new(info.name, v, info.unit, info.help))
            .collect();
        let live = [
            (
                "offered",
                Some(self.offered as f64),
                "messages",
                "offered to open conns (live)",
            ),
            (
                "in_transit_at_end",
                Some(t.drained as f64),
                "messages",
                "in sockets at the end (live)",
            ),
            (
                "peak_conn_buffered_bytes",
                Some(self.peak_conn as f64 * size),
                "bytes",
                "one conn's largest queue (live)",
            ),
            (
                "process_rss_start_bytes",
                self.rss_start.map(|b| b as f64),
                "bytes",
                "RSS at the start (live)",
            ),
            (
                "process_rss_peak_bytes",
                rss_peak.map(|b| b as f64),
                "bytes",
                "RSS, largest sample (live)",
            ),
            (
                "process_rss_end_bytes",
                self.rss_end.map(|b| b as f64),
                "bytes",
                "RSS at the end (live)",
            ),
            (
                "memory_cap_stop_s",
                match self.stopped {
                    Stopped::MemoryCap(s) => Some(s),
                    Stopped::Horizon => None,
                },
                "s",
                "stopped at the memory cap (live)",
            ),
        ];
        metrics.extend(
            live.into_iter()
                .map(|(name, v, unit, help)| Metric::new(name, v, unit, help)),
        );
        let interval_s = interval_for(p.horizon.as_secs_f64());
        let series = bins.into_iter().map(|b| b.finish(self.end_s)).collect();
        Report {
            schema: SCHEMA_VERSION,
            scenario: backpressure::NAME.to_string(),
            backend: Backend::Live,
            seed,
            parameters,
            metrics,
            series_interval_s: interval_s,
            series,
            events_processed: t.produced + t.delivered + t.dropped,
            end_s: self.end_s,
            horizon_s: p.horizon.as_secs_f64(),
            wall_time_s: Some(wall.as_secs_f64()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_carry_their_production_time() {
        let m = message(7, 123_456, 64);
        assert_eq!(m.len(), 64);
        assert_eq!(produced_ns(&m), Some(123_456));
        assert_eq!(produced_ns(&m[..10]), None);
    }

    #[test]
    fn runs_beyond_the_bounds_are_refused_naming_what_fits() {
        let opts = LiveBackpressureOptions::default();
        let refused = |cfg: BackpressureConfig, needle: &str| {
            let p = cfg.validate_params().expect("valid model config");
            let err = check(&p, &cfg, &opts).expect_err(needle).to_string();
            assert!(err.contains(needle), "{err}");
            assert!(!err.contains('\n'));
        };
        refused(
            BackpressureConfig {
                consumers: 5_000,
                ..Default::default()
            },
            "at most 1000",
        );
        refused(
            BackpressureConfig {
                horizon_s: 120.0,
                ..Default::default()
            },
            "at most 60 s",
        );
        refused(
            BackpressureConfig {
                consumers: 100,
                rate: 5_000.0,
                ..Default::default()
            },
            "--rate 655 or less",
        );
        refused(
            BackpressureConfig {
                message_size: 8,
                ..Default::default()
            },
            "--message-size 8",
        );
        refused(
            BackpressureConfig {
                consumers: 500,
                rate: 10.0,
                policy: BufferPolicy::DropOldest,
                ..Default::default()
            },
            "--buffer-limit 536870 or less",
        );
        let ok = BackpressureConfig::default();
        let p = ok.validate_params().expect("valid");
        assert!(check(&p, &ok, &opts).is_ok());
    }
}

//! The thundering herd for real (`simulate herd --live`): a WebSocket server on
//! loopback whose handshakes are made to cost `--handshake-ms` on each of
//! `--workers` workers, and `--clients` in-process clients that reconnect after
//! its restart with the chosen jitter and backoff. The run fills the same
//! [`Report`] as the model (`backend: "live"`), with the model's metric and series
//! names, so outputs, the TUI and comparisons work unchanged.
//!
//! How the model's terms map onto the machine:
//! - *Restart*: the run starts with the new listener up and every client
//!   disconnected; client `i` first tries at a seeded uniform time in `[0, jitter]`.
//! - *Workers and handshake cost*: the server accepts a connection only when a
//!   worker is free, sleeps the handshake time, then completes the WebSocket
//!   handshake; waiting connections sit in the kernel's accept queue, sized by
//!   `--backlog` (capped by `net.core.somaxconn`; `unlimited` means that cap).
//! - *Refused*: an attempt refused or reset. When the accept queue is full Linux
//!   does not refuse but drops the SYN, and the client's kernel retransmits it
//!   after 1 s, 2 s, ... — the delays the model's `none` backoff stands for; the
//!   extra metric `listen_overflows` counts those drops (`ListenOverflows` in
//!   /proc/net/netstat, machine-wide, so other traffic can add to it).
//! - *Timeout*: a client gives up when connect plus handshake take longer than
//!   `--timeout`; a handshake the server then does for nobody is *wasted*
//!   (failed handshakes plus completed ones beyond the clients connected).
//! - *Queue depth*: the listener's accept-queue length, sampled from /proc/net/tcp.
//! - *Time scale*: every client and server wait (jitter, backoff, timeout,
//!   handshake, horizon) is divided by `time_scale`, and measured times are
//!   multiplied back, so reports are in the model's seconds. Kernel timers (SYN
//!   retransmits) are not scaled, so with a scale above 1 they look longer.
//!
//! Bounds: at most [`LiveHerdOptions::max_clients`] clients and what the
//! open-file limit allows (2 descriptors per client), at most
//! [`LiveHerdOptions::max_wall`] of wall time; every task is stopped at the end.

use super::addr;
use super::error::LiveError;
use super::limits::{FdReport, WsLimits, somaxconn};
use crate::sim::report::{Backend, Metric, Parameter, Report, SCHEMA_VERSION, Series};
use crate::sim::rng::SimRng;
use crate::sim::scenarios::herd::{self, HerdConfig, HerdParams, backoff_sleep};
use crate::sim::time::SimDuration;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Bounds of a live herd run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LiveHerdOptions {
    /// Model seconds per wall second (1: real time; 10: a 30 s jitter takes 3 s).
    pub time_scale: f64,
    /// Most clients one run may start.
    pub max_clients: u64,
    /// Longest the run may take on the wall clock; the horizon is cut to fit.
    pub max_wall: Duration,
}

impl Default for LiveHerdOptions {
    fn default() -> Self {
        Self {
            time_scale: 1.0,
            max_clients: 5_000,
            max_wall: Duration::from_secs(60),
        }
    }
}

/// Series in report order (the model's names).
const SERIES: [(&str, &str, &str); 6] = [
    ("connected", "clients", "clients connected"),
    (
        "arrivals_per_s",
        "1/s",
        "attempts per second (first tries and retries)",
    ),
    (
        "queue_depth",
        "entries",
        "accept-queue depth (max in interval)",
    ),
    ("utilization", "fraction", "worker utilization"),
    ("refused_per_s", "1/s", "attempts refused per second"),
    ("timeouts_per_s", "1/s", "attempts timed out per second"),
];
const CONNECTED: usize = 0;
const ARRIVALS: usize = 1;
const QUEUE: usize = 2;
const BUSY: usize = 3;
const REFUSED: usize = 4;
const TIMEOUTS: usize = 5;

/// Runs the herd on loopback and returns its report.
pub fn run_herd(cfg: &HerdConfig, opts: &LiveHerdOptions, seed: u64) -> Result<Report, LiveError> {
    let p = cfg
        .validate()
        .map_err(|e| LiveError::Config(e.to_string()))?;
    let scale = opts.time_scale;
    if !(scale.is_finite() && (0.001..=10_000.0).contains(&scale)) {
        return Err(LiveError::Config(format!(
            "--time-scale {scale} is out of range (0.001 to 10000)"
        )));
    }
    let clients = u64::from(p.clients);
    if clients > opts.max_clients {
        return Err(LiveError::Config(format!(
            "--clients {clients} is more than a live run starts (at most {}); the model \
             (without --live) runs millions",
            opts.max_clients
        )));
    }
    FdReport::read()?.check(clients, 2)?;
    let horizon_wall = Duration::from_secs_f64(p.horizon.as_secs_f64() / scale).min(opts.max_wall);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(LiveError::Runtime)?;
    let started = Instant::now();
    let run = runtime.block_on(herd_async(p, scale, horizon_wall, seed))?;
    runtime.shutdown_timeout(Duration::from_secs(1));
    let mut parameters = cfg.parameters();
    parameters.push(Parameter::new("time_scale", fmt(scale), "x"));
    Ok(run.into_report(&p, parameters, seed, started.elapsed()))
}

/// What the clients and the server tallied.
#[derive(Debug, Default)]
struct Tally {
    /// Per series, per interval: counts (or busy seconds, or max queue depth).
    bins: [Vec<f64>; 6],
    /// Busy model-seconds per model second, for `peak_utilization`.
    busy_by_second: Vec<f64>,
    latencies_ms: Vec<f64>,
    attempts: u64,
    refused: u64,
    timeouts: u64,
    wasted: u64,
    /// Handshakes the server completed.
    served: u64,
    peak_queue: u64,
    time_to_p99_s: Option<f64>,
    time_to_all_s: Option<f64>,
}

struct Recorder {
    t0: Instant,
    scale: f64,
    interval_s: f64,
    tally: Mutex<Tally>,
    connected: AtomicU64,
    in_flight: AtomicU64,
    p99_target: u64,
    clients: u64,
    all_connected: Notify,
}

impl Recorder {
    /// Model seconds since the restart.
    fn now_s(&self) -> f64 {
        self.t0.elapsed().as_secs_f64() * self.scale
    }

    fn with<R>(&self, f: impl FnOnce(&mut Tally) -> R) -> R {
        f(&mut self.tally.lock().unwrap_or_else(PoisonError::into_inner))
    }

    fn bin(&self, t: &mut Tally, series: usize, at_s: f64, add: f64) {
        let i = (at_s / self.interval_s) as usize;
        let bins = &mut t.bins[series];
        if bins.len() <= i {
            bins.resize(i + 1, 0.0);
        }
        if series == QUEUE {
            bins[i] = bins[i].max(add);
        } else {
            bins[i] += add;
        }
    }

    fn attempt(&self) {
        let now = self.now_s();
        self.with(|t| {
            t.attempts += 1;
            self.bin(t, ARRIVALS, now, 1.0);
        });
    }

    fn failed(&self, series: usize) {
        let now = self.now_s();
        self.with(|t| {
            if series == TIMEOUTS {
                t.timeouts += 1;
            } else {
                t.refused += 1;
            }
            self.bin(t, series, now, 1.0);
        });
    }

    fn connected(&self, first_s: f64) {
        let now = self.now_s();
        let n = self.connected.fetch_add(1, Ordering::Relaxed) + 1;
        self.with(|t| {
            self.bin(t, CONNECTED, now, 1.0);
            t.latencies_ms.push((now - first_s) * 1000.0);
            if n == self.p99_target {
                t.time_to_p99_s = Some(now);
            }
            if n == self.clients {
                t.time_to_all_s = Some(now);
            }
        });
        if n == self.clients {
            self.all_connected.notify_one();
        }
    }

    fn busy(&self, start_s: f64, end_s: f64) {
        self.with(|t| {
            self.bin(t, BUSY, start_s, end_s - start_s);
            let sec = start_s as usize;
            if t.busy_by_second.len() <= sec {
                t.busy_by_second.resize(sec + 1, 0.0);
            }
            t.busy_by_second[sec] += end_s - start_s;
        });
    }

    fn queue(&self, depth: u64) {
        let now = self.now_s();
        self.with(|t| {
            t.peak_queue = t.peak_queue.max(depth);
            self.bin(t, QUEUE, now, depth as f64);
        });
    }
}

/// A finished run before it is shaped into a report.
struct Run {
    rec: Arc<Recorder>,
    end_s: f64,
    horizon_s: f64,
    overflows: u64,
    events: u64,
}

async fn herd_async(
    p: HerdParams,
    scale: f64,
    horizon_wall: Duration,
    seed: u64,
) -> Result<Run, LiveError> {
    let cap = somaxconn().unwrap_or(4096);
    let backlog = p
        .backlog
        .map_or(cap, |b| u32::try_from(b).unwrap_or(u32::MAX).clamp(1, cap));
    let listener = addr::bind(SocketAddr::from(([127, 0, 0, 1], 0)), backlog)?;
    let local = listener.local_addr().map_err(LiveError::Runtime)?;
    let horizon_s = horizon_wall.as_secs_f64() * scale;
    let wall = |d: SimDuration| Duration::from_secs_f64(d.as_secs_f64() / scale);
    let clients = u64::from(p.clients);
    let rec = Arc::new(Recorder {
        t0: Instant::now(),
        scale,
        interval_s: interval_for(horizon_s),
        tally: Mutex::default(),
        connected: AtomicU64::new(0),
        in_flight: AtomicU64::new(0),
        p99_target: clients.saturating_mul(99).div_ceil(100).max(1),
        clients,
        all_connected: Notify::new(),
    });
    let overflows_before = listen_overflows();
    let stop = CancellationToken::new();
    let tasks = TaskTracker::new();
    let ws = WsLimits::default().config();

    tasks.spawn(serve(
        listener,
        p.workers,
        wall(p.handshake),
        ws,
        rec.clone(),
        stop.clone(),
        tasks.clone(),
    ));
    tasks.spawn(sample_queue(local.port(), rec.clone(), stop.clone()));
    let mut rng = SimRng::seed_from(seed);
    for i in 0..clients {
        let first = SimDuration(rng.between(0, p.jitter.as_nanos()));
        let client_rng = SimRng::seed_from(seed ^ (i + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        tasks.spawn(client(
            local,
            p,
            scale,
            first,
            client_rng,
            ws,
            rec.clone(),
            stop.clone(),
        ));
    }
    tokio::select! {
        () = rec.all_connected.notified() => {}
        () = tokio::time::sleep(horizon_wall) => {}
    }
    let end_s = rec.now_s().min(horizon_s);
    stop.cancel();
    tasks.close();
    let _ = tokio::time::timeout(Duration::from_secs(5), tasks.wait()).await;
    let overflows = listen_overflows().saturating_sub(overflows_before);
    let events = rec.with(|t| t.attempts) + rec.connected.load(Ordering::Relaxed);
    Ok(Run {
        rec,
        end_s,
        horizon_s,
        overflows,
        events,
    })
}

/// The server: `workers` handshakes at a time, each costing `handshake`.
async fn serve(
    listener: TcpListener,
    workers: u32,
    handshake: Duration,
    ws: tokio_tungstenite::tungstenite::protocol::WebSocketConfig,
    rec: Arc<Recorder>,
    stop: CancellationToken,
    tasks: TaskTracker,
) {
    let free = Arc::new(Semaphore::new(workers as usize));
    loop {
        let worker = tokio::select! {
            w = free.clone().acquire_owned() => match w { Ok(w) => w, Err(_) => return },
            () = stop.cancelled() => return,
        };
        let stream = tokio::select! {
            a = listener.accept() => match a { Ok((s, _)) => s, Err(_) => continue },
            () = stop.cancelled() => return,
        };
        let (rec, stop) = (rec.clone(), stop.clone());
        tasks.spawn(async move {
            let start = rec.now_s();
            rec.in_flight.fetch_add(1, Ordering::Relaxed);
            let done = tokio::select! {
                r = async {
                    tokio::time::sleep(handshake).await;
                    tokio_tungstenite::accept_async_with_config(stream, Some(ws)).await
                } => Some(r),
                () = stop.cancelled() => None,
            };
            rec.in_flight.fetch_sub(1, Ordering::Relaxed);
            rec.busy(start, rec.now_s());
            drop(worker);
            match done {
                Some(Ok(conn)) => {
                    rec.with(|t| t.served += 1);
                    stop.cancelled().await;
                    drop(conn);
                }
                Some(Err(_)) => rec.with(|t| t.wasted += 1),
                None => {}
            }
        });
    }
}

/// One client: first attempt at `first`, then retries with backoff until
/// connected or stopped.
#[allow(clippy::too_many_arguments)]
async fn client(
    server: SocketAddr,
    p: HerdParams,
    scale: f64,
    first: SimDuration,
    mut rng: SimRng,
    ws: tokio_tungstenite::tungstenite::protocol::WebSocketConfig,
    rec: Arc<Recorder>,
    stop: CancellationToken,
) {
    let wall = |d: SimDuration| Duration::from_secs_f64(d.as_secs_f64() / scale);
    let until = tokio::time::Instant::from_std(rec.t0) + wall(first);
    tokio::select! {
        () = tokio::time::sleep_until(until) => {}
        () = stop.cancelled() => return,
    }
    let first_s = rec.now_s();
    let url = format!("ws://{server}/");
    let mut failures = 0u32;
    let mut prev = p.backoff_base.as_nanos();
    loop {
        rec.attempt();
        let attempt = async {
            let stream = TcpStream::connect(server).await?;
            let _ = stream.set_nodelay(true);
            tokio_tungstenite::client_async_with_config(url.as_str(), stream, Some(ws))
                .await
                .map_err(std::io::Error::other)
        };
        let outcome = tokio::select! {
            r = async {
                match p.timeout {
                    Some(t) => tokio::time::timeout(wall(t), attempt).await.ok(),
                    None => Some(attempt.await),
                }
            } => r,
            () = stop.cancelled() => return,
        };
        match outcome {
            Some(Ok((conn, _))) => {
                rec.connected(first_s);
                stop.cancelled().await;
                drop(conn);
                return;
            }
            Some(Err(_)) => rec.failed(REFUSED),
            None => rec.failed(TIMEOUTS),
        }
        failures = failures.saturating_add(1);
        let sleep = backoff_sleep(
            p.backoff,
            p.backoff_base,
            p.backoff_cap,
            failures,
            &mut prev,
            &mut rng,
        );
        tokio::select! {
            () = tokio::time::sleep(wall(sleep)) => {}
            () = stop.cancelled() => return,
        }
    }
}

/// Samples the listener's accept-queue length every 50 ms of wall time (reading
/// /proc/net/tcp costs about 1 ms per 10,000 sockets).
async fn sample_queue(port: u16, rec: Arc<Recorder>, stop: CancellationToken) {
    let mut every = tokio::time::interval(Duration::from_millis(50));
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            _ = every.tick() => {
                if let Some(depth) = accept_queue(port) {
                    rec.queue(depth);
                }
            }
            () = stop.cancelled() => return,
        }
    }
}

/// The accept-queue length of the IPv4 listener on `port` (Linux: the rx_queue
/// column of its LISTEN line in /proc/net/tcp).
fn accept_queue(port: u16) -> Option<u64> {
    let table = std::fs::read_to_string("/proc/net/tcp").ok()?;
    let local = format!(":{port:04X}");
    table.lines().skip(1).find_map(|line| {
        let f: Vec<&str> = line.split_whitespace().take(5).collect();
        if f.len() == 5 && f[1].ends_with(&local) && f[3] == "0A" {
            let rx = f[4].split(':').nth(1)?;
            u64::from_str_radix(rx, 16).ok()
        } else {
            None
        }
    })
}

/// The machine's accept-queue overflow count (`TcpExt: ListenOverflows`).
fn listen_overflows() -> u64 {
    let Ok(netstat) = std::fs::read_to_string("/proc/net/netstat") else {
        return 0;
    };
    let mut lines = netstat.lines().filter(|l| l.starts_with("TcpExt:"));
    let (Some(names), Some(values)) = (lines.next(), lines.next()) else {
        return 0;
    };
    names
        .split_whitespace()
        .zip(values.split_whitespace())
        .find(|(n, _)| *n == "ListenOverflows")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0)
}

/// A series interval giving at most about 500 points over `horizon_s`, a power
/// of ten seconds times 1, 2 or 5, at least 10 ms.
pub(super) fn interval_for(horizon_s: f64) -> f64 {
    let raw = (horizon_s / 500.0).max(0.01);
    let decade = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * decade)
        .find(|&v| v >= raw)
        .unwrap_or(10.0 * decade)
}

fn fmt(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

impl Run {
    fn into_report(
        self,
        p: &HerdParams,
        parameters: Vec<Parameter>,
        seed: u64,
        wall: Duration,
    ) -> Report {
        let rec = self.rec;
        let iv = rec.interval_s;
        let workers = f64::from(p.workers);
        let clients = u64::from(p.clients);
        let connected = rec.connected.load(Ordering::Relaxed);
        let in_flight = rec.in_flight.load(Ordering::Relaxed);
        let mut t = std::mem::take(&mut *rec.tally.lock().unwrap_or_else(PoisonError::into_inner));
        let n_bins = ((self.end_s / iv).ceil() as usize).max(1);
        let series = SERIES
            .iter()
            .enumerate()
            .map(|(k, (name, unit, label))| {
                let mut raw = std::mem::take(&mut t.bins[k]);
                raw.resize(n_bins.max(raw.len()), 0.0);
                raw.truncate(n_bins);
                let values = match k {
                    CONNECTED => raw
                        .iter()
                        .scan(0.0, |sum, v| {
                            *sum += v;
                            Some(*sum)
                        })
                        .collect(),
                    BUSY => raw.iter().map(|b| (b / (workers * iv)).min(1.0)).collect(),
                    QUEUE => raw,
                    _ => raw.iter().map(|c| c / iv).collect(),
                };
                Series {
                    name: (*name).to_string(),
                    unit: (*unit).to_string(),
                    label: (*label).to_string(),
                    values,
                }
            })
            .collect();

        let mut lat = std::mem::take(&mut t.latencies_ms);
        lat.sort_by(f64::total_cmp);
        let pct = |q: f64| {
            (!lat.is_empty()).then(|| {
                let rank = ((q * lat.len() as f64).ceil() as usize).clamp(1, lat.len());
                lat[rank - 1]
            })
        };
        let mean = (!lat.is_empty()).then(|| lat.iter().sum::<f64>() / lat.len() as f64);
        let capacity = p.capacity_per_s();
        let fluid = p.jitter.as_secs_f64().max(clients as f64 / capacity);
        let peak_util = t.busy_by_second.iter().copied().fold(0.0, f64::max) / workers;
        let values = [
            t.time_to_all_s,
            t.time_to_p99_s,
            Some(connected as f64),
            Some(t.attempts as f64),
            Some(t.refused as f64),
            Some(t.timeouts as f64),
            // A client that gave up may still leave its request behind; the
            // server then completes a handshake nobody reads.
            Some((t.wasted + t.served.saturating_sub(connected)) as f64),
            Some(t.peak_queue as f64),
            Some(peak_util.min(1.0)),
            mean,
            pct(0.5),
            pct(0.9),
            pct(0.99),
            lat.last().copied(),
            Some(capacity),
            Some(fluid),
            Some((clients - connected.min(clients)) as f64),
            Some(in_flight as f64),
        ];
        let mut metrics: Vec<Metric> = herd::METRICS
            .iter()
            .zip(values)
            .map(|(info, v)| Metric::new(info.name, v, info.unit, info.help))
            .collect();
        metrics.push(Metric::new(
            "listen_overflows",
            Some(self.overflows as f64),
            "packets",
            "SYNs dropped: accept queue full (machine-wide)",
        ));
        Report {
            schema: SCHEMA_VERSION,
            scenario: herd::NAME.to_string(),
            backend: Backend::Live,
            seed,
            parameters,
            metrics,
            series_interval_s: iv,
            series,
            events_processed: self.events,
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
    fn intervals_are_round_and_few() {
        assert_eq!(interval_for(1.0), 0.01);
        assert_eq!(interval_for(600.0), 2.0);
        assert!((interval_for(30.0) - 0.1).abs() < 1e-12);
    }

    #[test]
    fn the_accept_queue_of_a_listener_is_read() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = l.local_addr().expect("addr").port();
        let _c = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
        if std::path::Path::new("/proc/net/tcp").exists() {
            assert_eq!(accept_queue(port), Some(1));
        }
    }
}

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
//!   tokio's timer has a 1 ms resolution, so a worker keeps its own clock: one
//!   that comes back for the next connection within [`WORKER_SLACK`] of its
//!   previous finish sleeps until that finish plus the handshake time, not
//!   from now, so oversleeping does not pile up and a busy worker does one
//!   handshake per `--handshake-ms` on average (the real handshake's own time
//!   counts toward it when shorter). With `--calibrate` no time is added at all.
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
//! Where the clients run ([`plan_clients`]): in this process when they fit its
//! open-file limit (2 descriptors per client: its socket and the server's end),
//! otherwise in child processes (this executable again, with the hidden
//! `__live-herd-clients` command, see [`super::herd_split`]) of at most
//! [`DEFAULT_CLIENTS_PER_CHILD`] clients each, so this process keeps only the
//! server's ends (1 descriptor per client) and each child has its own limit.
//! Every client, wherever it runs, produces one [`ClientRecord`] (its attempt,
//! refusal and timeout times and when it connected, on the common start
//! instant's clock), and the records fill the report the same way; the extra
//! parameter `client_processes` says how many children there were (0: none).
//!
//! Bounds: at most [`LiveHerdOptions::max_clients`] clients and what the
//! open-file limit allows (the server's ends must fit this process), at most
//! [`LiveHerdOptions::max_wall`] of wall time; every task is stopped and every
//! child process ended (killed if it does not exit) at the end.

use super::addr;
use super::error::LiveError;
use super::limits::{FdReport, WsLimits, somaxconn};
use crate::sim::report::{Backend, Metric, Parameter, Report, SCHEMA_VERSION, Series};
use crate::sim::rng::SimRng;
use crate::sim::scenarios::herd::{self, HerdConfig, HerdParams, backoff_sleep};
use crate::sim::time::SimDuration;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Bounds of a live herd run.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveHerdOptions {
    /// Model seconds per wall second (1: real time; 10: a 30 s jitter takes 3 s).
    pub time_scale: f64,
    /// Most clients one run may start (the open-file limit may allow fewer).
    pub max_clients: u64,
    /// Longest the run may take on the wall clock; the horizon is cut to fit.
    pub max_wall: Duration,
    /// Add no handshake cost: workers take what the handshake really costs on
    /// this machine (`--calibrate`), not `handshake_ms` of sleep each.
    pub natural_handshake: bool,
    /// Most clients one process runs (`--clients-per-process`): more than this
    /// (or than fit this process's open-file limit, when `None`) run in child
    /// processes of at most this many each ([`DEFAULT_CLIENTS_PER_CHILD`] when
    /// `None`).
    pub clients_per_process: Option<u64>,
    /// The executable the child processes run (`None`: this one). It must
    /// understand the hidden `__live-herd-clients` command.
    pub client_program: Option<PathBuf>,
}

impl Default for LiveHerdOptions {
    fn default() -> Self {
        Self {
            time_scale: 1.0,
            max_clients: MAX_CLIENTS,
            max_wall: Duration::from_secs(60),
            natural_handshake: false,
            clients_per_process: None,
            client_program: None,
        }
    }
}

/// The hard cap on a live herd's clients: the server's ends of 19,000
/// connections fit a 20,000 open-file limit with room to spare.
pub const MAX_CLIENTS: u64 = 19_000;

/// Most clients one child process runs unless `--clients-per-process` says
/// otherwise: what one process ran before clients moved out.
pub const DEFAULT_CLIENTS_PER_CHILD: u64 = 10_000;

/// Most child processes one run starts.
pub const MAX_CHILDREN: u64 = 16;

/// Where a run's clients go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientPlan {
    /// In this process, next to the server (2 descriptors per client here).
    InProcess,
    /// In `children` child processes of at most `per_child` clients each (1
    /// descriptor per client here, 1 in its child).
    Children {
        /// Child processes.
        children: u64,
        /// Most clients per child.
        per_child: u64,
    },
}

/// Decides where `clients` clients run: in this process when they fit `fds`
/// (and `per_process`, when given), otherwise in children; refuses a run whose
/// server side does not fit, naming the largest that does.
pub fn plan_clients(
    clients: u64,
    fds: &FdReport,
    per_process: Option<u64>,
) -> Result<ClientPlan, LiveError> {
    let in_max = fds.max_connections(FDS_PER_CLIENT);
    let budget = per_process.map_or(in_max, |n| n.min(in_max));
    if clients <= budget {
        return Ok(ClientPlan::InProcess);
    }
    // The server's ends stay here: one descriptor each.
    fds.check(clients, 1)?;
    let per_child = per_process
        .unwrap_or(DEFAULT_CLIENTS_PER_CHILD)
        .min(fds.max_connections(1))
        .max(1);
    let children = clients.div_ceil(per_child);
    if children > MAX_CHILDREN {
        return Err(LiveError::Config(format!(
            "--clients-per-process {per_child} would need {children} client processes for \
             {clients} clients; at most {MAX_CHILDREN} are started (use at least {})",
            clients.div_ceil(MAX_CHILDREN)
        )));
    }
    Ok(ClientPlan::Children {
        children,
        per_child,
    })
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
    Ok(run_herd_raw(cfg, opts, seed)?.report())
}

/// A finished live run, before its series are cut to an interval: lets a
/// comparison with the model put both on one time axis ([`LiveRun::report_at`]).
pub struct LiveRun {
    run: Run,
    params: HerdParams,
    parameters: Vec<Parameter>,
    seed: u64,
    wall: Duration,
}

impl LiveRun {
    /// Model seconds at which the run ended (everyone connected, or the horizon).
    pub fn end_s(&self) -> f64 {
        self.run.end_s
    }

    /// The finest interval the series can be cut to, in seconds (a power of ten).
    pub fn base_interval_s(&self) -> f64 {
        self.run.rec.base_s
    }

    /// The report with series at the run's own interval (about 500 points at most).
    pub fn report(self) -> Report {
        let iv = nice_interval(self.run.end_s, MAX_POINTS, self.run.rec.base_s);
        self.report_at(iv)
    }

    /// The report with series at `interval_s`, rounded up to a whole number of
    /// base intervals.
    pub fn report_at(self, interval_s: f64) -> Report {
        self.run.into_report(
            &self.params,
            self.parameters,
            self.seed,
            self.wall,
            interval_s,
        )
    }
}

/// Most points a live report's series have at its own interval: a live series is
/// noisier than the model's, so it is cut coarser.
pub const MAX_POINTS: usize = 500;

/// Most base bins a run keeps per series.
const MAX_BASE_BINS: f64 = 20_000.0;

/// Runs the herd on loopback and returns the finished run.
pub fn run_herd_raw(
    cfg: &HerdConfig,
    opts: &LiveHerdOptions,
    seed: u64,
) -> Result<LiveRun, LiveError> {
    let p = cfg
        .validate()
        .map_err(|e| LiveError::Config(e.to_string()))?;
    let scale = opts.time_scale;
    super::limits::check_time_scale(scale)?;
    let clients = u64::from(p.clients);
    let fds = FdReport::read()?;
    if clients > opts.max_clients {
        return Err(LiveError::Config(format!(
            "--clients {clients} is more than a live run starts (at most {}); the model \
             (without --live) runs millions",
            opts.max_clients.min(fds.max_connections(1))
        )));
    }
    let plan = plan_clients(clients, &fds, opts.clients_per_process)?;
    let program = match (plan, &opts.client_program) {
        (ClientPlan::InProcess, _) => None,
        (_, Some(p)) => Some(p.clone()),
        (_, None) => Some(std::env::current_exe().map_err(|e| {
            LiveError::Config(format!(
                "cannot find this executable to run the clients in child processes: {e}"
            ))
        })?),
    };
    let horizon_wall = Duration::from_secs_f64(p.horizon.as_secs_f64() / scale).min(opts.max_wall);
    let runtime = crate::live::runtime()?;
    let started = Instant::now();
    let handshake = if opts.natural_handshake {
        Duration::ZERO
    } else {
        Duration::from_secs_f64(p.handshake.as_secs_f64() / scale)
    };
    let split = match (plan, program) {
        (ClientPlan::Children { per_child, .. }, Some(program)) => Some(Split {
            program,
            per_child,
            max_wall: opts.max_wall,
        }),
        _ => None,
    };
    let run = runtime.block_on(herd_async(p, scale, horizon_wall, handshake, seed, split));
    runtime.shutdown_timeout(Duration::from_secs(1));
    let run = run?;
    let mut parameters = cfg.parameters();
    parameters.push(Parameter::new("time_scale", fmt(scale), "x"));
    let children = match plan {
        ClientPlan::InProcess => 0,
        ClientPlan::Children { children, .. } => children,
    };
    parameters.push(Parameter::new(
        "client_processes",
        children.to_string(),
        "processes",
    ));
    Ok(LiveRun {
        run,
        params: p,
        parameters,
        seed,
        wall: started.elapsed(),
    })
}

/// Descriptors per client when the clients run in this process: the client's
/// socket and the server's.
pub const FDS_PER_CLIENT: u64 = 2;

/// How a run's clients are split over child processes.
pub(crate) struct Split {
    pub(crate) program: PathBuf,
    pub(crate) per_child: u64,
    pub(crate) max_wall: Duration,
}

/// What one client did, on the run's clock (model seconds since the common
/// start instant): the unit a child process reports, one JSON line each.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ClientRecord {
    /// The client's index in `0..clients`.
    pub i: u64,
    /// When its first attempt was due.
    pub first: f64,
    /// When each attempt started.
    pub attempts: Vec<f64>,
    /// When each refused (or reset) attempt failed.
    pub refused: Vec<f64>,
    /// When each attempt timed out.
    pub timeouts: Vec<f64>,
    /// When it connected (`None`: it had not when the run stopped).
    pub connected: Option<f64>,
}

/// The run's clock: model seconds since the common start instant.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Clock {
    pub(crate) t0: Instant,
    pub(crate) scale: f64,
}

impl Clock {
    pub(crate) fn now_s(&self) -> f64 {
        self.t0.elapsed().as_secs_f64() * self.scale
    }

    /// Wall time of `d` model time.
    fn wall(&self, d: SimDuration) -> Duration {
        Duration::from_secs_f64(d.as_secs_f64() / self.scale)
    }
}

/// What a client needs of the herd's parameters.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ClientParams {
    pub(crate) backoff: herd::BackoffPolicy,
    pub(crate) backoff_base: SimDuration,
    pub(crate) backoff_cap: SimDuration,
    pub(crate) timeout: Option<SimDuration>,
}

impl From<&HerdParams> for ClientParams {
    fn from(p: &HerdParams) -> Self {
        Self {
            backoff: p.backoff,
            backoff_base: p.backoff_base,
            backoff_cap: p.backoff_cap,
            timeout: p.timeout,
        }
    }
}

/// Client `i`'s first-attempt delay and its own RNG, the same wherever it runs:
/// delays are drawn in client order from the run's seed.
pub(crate) fn schedule(
    seed: u64,
    jitter: SimDuration,
    range: std::ops::Range<u64>,
) -> Vec<(u64, SimDuration, SimRng)> {
    let mut rng = SimRng::seed_from(seed);
    (0..range.end)
        .filter_map(|i| {
            let first = SimDuration(rng.between(0, jitter.as_nanos()));
            range.contains(&i).then(|| {
                let client_rng =
                    SimRng::seed_from(seed ^ (i + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
                (i, first, client_rng)
            })
        })
        .collect()
}

/// What the clients and the server tallied.
#[derive(Debug, Default)]
struct Tally {
    /// Per series, per base interval: counts, busy seconds, or the largest queue
    /// depth sampled (NaN: no sample in that bin).
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
    /// When each client connected.
    connected_at: Vec<f64>,
}

pub(crate) struct Recorder {
    clock: Clock,
    /// Width of one bin, in model seconds.
    base_s: f64,
    tally: Mutex<Tally>,
    connected: AtomicU64,
    in_flight: AtomicU64,
    p99_target: u64,
    clients: u64,
    pub(crate) all_connected: Notify,
}

impl Recorder {
    /// Model seconds since the restart.
    fn now_s(&self) -> f64 {
        self.clock.now_s()
    }

    fn with<R>(&self, f: impl FnOnce(&mut Tally) -> R) -> R {
        f(&mut self.tally.lock().unwrap_or_else(PoisonError::into_inner))
    }

    fn bin(&self, t: &mut Tally, series: usize, at_s: f64, add: f64) {
        // `as` saturates: a time a hair before the start lands in bin 0.
        let i = (at_s / self.base_s) as usize;
        let bins = &mut t.bins[series];
        if bins.len() <= i {
            bins.resize(i + 1, if series == QUEUE { f64::NAN } else { 0.0 });
        }
        if series == QUEUE {
            // NaN (no sample yet) loses to any sample.
            bins[i] = bins[i].max(add);
        } else {
            bins[i] += add;
        }
    }

    /// Adds what one client did.
    pub(crate) fn merge(&self, r: &ClientRecord) {
        let n = match r.connected {
            Some(_) => self.connected.fetch_add(1, Ordering::Relaxed) + 1,
            None => 0,
        };
        self.with(|t| {
            t.attempts += r.attempts.len() as u64;
            t.refused += r.refused.len() as u64;
            t.timeouts += r.timeouts.len() as u64;
            for (series, times) in [
                (ARRIVALS, &r.attempts),
                (REFUSED, &r.refused),
                (TIMEOUTS, &r.timeouts),
            ] {
                for &at in times {
                    self.bin(t, series, at, 1.0);
                }
            }
            if let Some(at) = r.connected {
                self.bin(t, CONNECTED, at, 1.0);
                t.latencies_ms.push((at - r.first) * 1000.0);
                t.connected_at.push(at);
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
    handshake: Duration,
    seed: u64,
    split: Option<Split>,
) -> Result<Run, LiveError> {
    let cap = somaxconn().unwrap_or(4096);
    let backlog = p
        .backlog
        .map_or(cap, |b| u32::try_from(b).unwrap_or(u32::MAX).clamp(1, cap));
    let listener = addr::bind(SocketAddr::from(([127, 0, 0, 1], 0)), backlog)?;
    let local = listener.local_addr().map_err(LiveError::Runtime)?;
    let horizon_s = horizon_wall.as_secs_f64() * scale;
    let clients = u64::from(p.clients);
    // Children start first (they only connect at the common start instant).
    let mut children = match &split {
        Some(s) => Some(
            super::herd_split::Children::spawn(
                s,
                &super::herd_split::ChildSpec::new(local, &p, scale, seed, s.max_wall, 0..0),
                clients,
            )
            .await?,
        ),
        None => None,
    };
    // A short lead lets every child see the start instant before it comes.
    let lead = if children.is_some() {
        Duration::from_millis(20)
    } else {
        Duration::ZERO
    };
    let start_wall = std::time::SystemTime::now() + lead;
    let clock = Clock {
        t0: Instant::now() + lead,
        scale,
    };
    let rec = Arc::new(Recorder {
        clock,
        base_s: base_interval(horizon_s),
        tally: Mutex::default(),
        connected: AtomicU64::new(0),
        in_flight: AtomicU64::new(0),
        p99_target: clients.saturating_mul(99).div_ceil(100).max(1),
        clients,
        all_connected: Notify::new(),
    });
    let overflows_before = listen_overflows();
    // Clients stop (and report) before the server does, so connections the
    // server drops as it shuts down are not counted as refusals.
    let stop = CancellationToken::new();
    let clients_stop = CancellationToken::new();
    let tasks = TaskTracker::new();
    let client_tasks = TaskTracker::new();
    let ws = WsLimits::default().config();

    tasks.spawn(serve(
        listener,
        p.workers,
        handshake,
        ws,
        rec.clone(),
        stop.clone(),
        tasks.clone(),
    ));
    tasks.spawn(sample_queue(local.port(), rec.clone(), stop.clone()));
    let failed = CancellationToken::new();
    match children.as_mut() {
        Some(c) => c.go(start_wall, rec.clone(), failed.clone()).await?,
        None => {
            let cp = ClientParams::from(&p);
            for (i, first, rng) in schedule(seed, p.jitter, 0..clients) {
                let rec2 = rec.clone();
                client_tasks.spawn(client(
                    local,
                    cp,
                    clock,
                    i,
                    first,
                    rng,
                    ws,
                    clients_stop.clone(),
                    move |r| rec2.merge(&r),
                ));
            }
        }
    }
    tokio::select! {
        () = rec.all_connected.notified() => {}
        () = tokio::time::sleep(horizon_wall) => {}
        () = failed.cancelled() => {}
    }
    let end_s = rec.now_s().min(horizon_s);
    clients_stop.cancel();
    tasks.close();
    // Children report their remaining clients and exit (or are killed).
    let children_result = match children {
        Some(c) => c.finish().await,
        None => Ok(()),
    };
    // In-process clients report as soon as they see the stop, then close.
    client_tasks.close();
    let _ = tokio::time::timeout(Duration::from_secs(5), client_tasks.wait()).await;
    stop.cancel();
    let _ = tokio::time::timeout(Duration::from_secs(5), tasks.wait()).await;
    children_result?;
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

/// How late a worker may come back for its next connection and still count as
/// busy since its last finish (tokio's timer resolution, plus a margin).
pub const WORKER_SLACK: Duration = Duration::from_millis(2);

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
    // Each worker's last finish (`None`: idle), taken by whichever worker runs.
    let clocks = Arc::new(Mutex::new(vec![
        None::<tokio::time::Instant>;
        workers as usize
    ]));
    loop {
        let worker = tokio::select! {
            w = free.clone().acquire_owned() => match w { Ok(w) => w, Err(_) => return },
            () = stop.cancelled() => return,
        };
        let stream = tokio::select! {
            a = listener.accept() => match a { Ok((s, _)) => s, Err(_) => continue },
            () = stop.cancelled() => return,
        };
        let (rec, stop, clocks) = (rec.clone(), stop.clone(), clocks.clone());
        tasks.spawn(async move {
            let start = rec.now_s();
            rec.in_flight.fetch_add(1, Ordering::Relaxed);
            let now = tokio::time::Instant::now();
            let clock = clocks
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .pop()
                .flatten();
            let begin = match clock {
                Some(c) if now.saturating_duration_since(c) <= WORKER_SLACK => c,
                _ => now,
            };
            let finish = begin + handshake;
            let done = tokio::select! {
                r = async {
                    if !handshake.is_zero() {
                        tokio::time::sleep_until(finish).await;
                    }
                    tokio_tungstenite::accept_async_with_config(stream, Some(ws)).await
                } => Some(r),
                () = stop.cancelled() => None,
            };
            clocks
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(Some(finish));
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

/// A client's connection once it is in.
type Conn = tokio_tungstenite::WebSocketStream<TcpStream>;

/// One client: first attempt at `first`, then retries with backoff until
/// connected or stopped; hands its record to `report` once (when it connects,
/// or when the run stops first), and holds its connection until the stop.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn client(
    server: SocketAddr,
    p: ClientParams,
    clock: Clock,
    i: u64,
    first: SimDuration,
    rng: SimRng,
    ws: tokio_tungstenite::tungstenite::protocol::WebSocketConfig,
    stop: CancellationToken,
    report: impl FnOnce(ClientRecord),
) {
    let mut record = ClientRecord {
        i,
        first: first.as_secs_f64(),
        ..ClientRecord::default()
    };
    let conn = tokio::select! {
        // The stop wins a tie, so nothing is noted after the run ended.
        biased;
        () = stop.cancelled() => None,
        c = attempts(server, p, clock, first, rng, ws, &mut record) => Some(c),
    };
    report(record);
    if let Some(conn) = conn {
        stop.cancelled().await;
        drop(conn);
    }
}

/// Tries until connected, noting every attempt in `record`.
async fn attempts(
    server: SocketAddr,
    p: ClientParams,
    clock: Clock,
    first: SimDuration,
    mut rng: SimRng,
    ws: tokio_tungstenite::tungstenite::protocol::WebSocketConfig,
    record: &mut ClientRecord,
) -> Conn {
    tokio::time::sleep_until(tokio::time::Instant::from_std(clock.t0) + clock.wall(first)).await;
    record.first = clock.now_s();
    let url = format!("ws://{server}/");
    let mut failures = 0u32;
    let mut prev = p.backoff_base.as_nanos();
    loop {
        record.attempts.push(clock.now_s());
        let attempt = async {
            let stream = TcpStream::connect(server).await?;
            let _ = stream.set_nodelay(true);
            tokio_tungstenite::client_async_with_config(url.as_str(), stream, Some(ws))
                .await
                .map_err(std::io::Error::other)
        };
        let outcome = match p.timeout {
            Some(t) => tokio::time::timeout(clock.wall(t), attempt).await.ok(),
            None => Some(attempt.await),
        };
        match outcome {
            Some(Ok((conn, _))) => {
                record.connected = Some(clock.now_s());
                return conn;
            }
            Some(Err(_)) => record.refused.push(clock.now_s()),
            None => record.timeouts.push(clock.now_s()),
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
        tokio::time::sleep(clock.wall(sleep)).await;
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

/// The bin width of a run that may last `horizon_s` model seconds: a power of
/// ten seconds, at least 1 ms, with at most [`MAX_BASE_BINS`] bins.
fn base_interval(horizon_s: f64) -> f64 {
    let raw = (horizon_s / MAX_BASE_BINS).max(0.001);
    10f64.powi(raw.log10().ceil() as i32)
}

/// The smallest interval of 1, 2 or 5 times a power of ten seconds, at least
/// `base_s` (a power of ten, so the result is a whole number of bases), that
/// covers `[0, span_s]` in at most `max_points` points — the model recorder's
/// rule, so live and model series can share an interval.
pub fn nice_interval(span_s: f64, max_points: usize, base_s: f64) -> f64 {
    let max_points = max_points.max(1) as f64;
    let mut decade = base_s;
    loop {
        for step in [1.0, 2.0, 5.0] {
            let iv = decade * step;
            if (span_s / iv).floor() < max_points || !iv.is_finite() {
                return iv;
            }
        }
        decade *= 10.0;
    }
}

/// A series interval giving at most 500 points over `horizon_s`: 1, 2 or 5
/// times a power of ten seconds, at least 10 ms.
pub(crate) fn interval_for(horizon_s: f64) -> f64 {
    nice_interval(horizon_s, 500, 0.01)
}

pub(crate) fn fmt(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

/// Merges `k` base bins into one, giving `n` values: sums, or for the queue
/// the largest sample, each bin without one holding the previous sample.
fn coarsen(mut raw: Vec<f64>, gauge: bool, k: usize, n: usize) -> Vec<f64> {
    raw.resize(n * k, if gauge { f64::NAN } else { 0.0 });
    if gauge {
        let mut last = 0.0;
        for v in &mut raw {
            if v.is_nan() {
                *v = last;
            } else {
                last = *v;
            }
        }
    }
    raw.chunks(k)
        .map(|c| {
            if gauge {
                c.iter().copied().fold(0.0, f64::max)
            } else {
                c.iter().sum()
            }
        })
        .collect()
}

impl Run {
    fn into_report(
        self,
        p: &HerdParams,
        parameters: Vec<Parameter>,
        seed: u64,
        wall: Duration,
        interval_s: f64,
    ) -> Report {
        let rec = self.rec;
        // Whole base bins per report interval.
        let k = ((interval_s / rec.base_s).round() as usize).max(1);
        let iv = k as f64 * rec.base_s;
        let workers = f64::from(p.workers);
        let clients = u64::from(p.clients);
        let connected = rec.connected.load(Ordering::Relaxed);
        let in_flight = rec.in_flight.load(Ordering::Relaxed);
        let mut t = std::mem::take(&mut *rec.tally.lock().unwrap_or_else(PoisonError::into_inner));
        let n_bins = ((self.end_s / iv).ceil() as usize).max(1);
        let series = SERIES
            .iter()
            .enumerate()
            .map(|(s, (name, unit, label))| {
                let raw = coarsen(std::mem::take(&mut t.bins[s]), s == QUEUE, k, n_bins);
                let values = match s {
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

        let mut at = std::mem::take(&mut t.connected_at);
        at.sort_by(f64::total_cmp);
        let nth = |n: u64| at.get((n as usize).wrapping_sub(1)).copied();
        let time_to_p99_s = nth(rec.p99_target);
        let time_to_all_s = nth(clients);
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
            time_to_all_s,
            time_to_p99_s,
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
        assert_eq!(base_interval(1.0), 0.001);
        assert_eq!(base_interval(60.0), 0.01);
        assert_eq!(base_interval(600.0), 0.1);
        let iv = nice_interval(1.25, MAX_POINTS, 0.001);
        assert!((iv - 0.005).abs() < 1e-12, "{iv}");
        assert!((nice_interval(60.0, MAX_POINTS, 0.01) - 0.2).abs() < 1e-12);
        assert_eq!(nice_interval(0.0, MAX_POINTS, 0.01), 0.01);
    }

    #[test]
    fn bins_merge_into_sums_and_held_queue_samples() {
        assert_eq!(coarsen(vec![1.0, 2.0, 3.0], false, 2, 3), [3.0, 3.0, 0.0]);
        let q = vec![f64::NAN, 4.0, f64::NAN, f64::NAN, 1.0];
        assert_eq!(coarsen(q, true, 2, 3), [4.0, 4.0, 1.0]);
    }

    #[test]
    fn clients_move_to_children_only_when_they_do_not_fit() {
        let fds = FdReport {
            soft: 20_000,
            hard: 20_000,
            in_use: 44,
        };
        let plan = |n, per| plan_clients(n, &fds, per);
        assert_eq!(plan(9_000, None).ok(), Some(ClientPlan::InProcess));
        assert_eq!(plan(9_850, None).ok(), Some(ClientPlan::InProcess));
        let children = |children| ClientPlan::Children {
            children,
            per_child: DEFAULT_CLIENTS_PER_CHILD,
        };
        assert_eq!(plan(9_851, None).ok(), Some(children(1)));
        assert_eq!(plan(19_000, None).ok(), Some(children(2)));
        // The server's ends must fit here: 20,000 - 44 - 256 of them.
        let err = plan(19_701, None).expect_err("too many").to_string();
        assert!(err.contains("the largest run that fits is 19700"), "{err}");
        assert_eq!(plan(40, Some(50)).ok(), Some(ClientPlan::InProcess));
        assert_eq!(
            plan(120, Some(50)).ok(),
            Some(ClientPlan::Children {
                children: 3,
                per_child: 50
            })
        );
        let err = plan(19_000, Some(50))
            .expect_err("too many children")
            .to_string();
        assert!(err.contains("would need 380 client processes"), "{err}");
        assert!(err.contains("use at least 1188"), "{err}");
    }

    #[test]
    fn a_child_that_fails_ends_the_run_with_one_line() {
        let cfg = HerdConfig {
            clients: 120,
            jitter_s: 0.1,
            horizon_s: 5.0,
            ..HerdConfig::default()
        };
        for (program, why) in [
            ("/bin/false", "exited before it was ready"),
            // Prints its arguments forever: not the protocol; it is killed.
            ("/usr/bin/yes", "instead of ready"),
            ("/nonexistent/swelearn", "cannot start a client process"),
        ] {
            if !std::path::Path::new(program).exists() && !program.starts_with("/nonexistent") {
                continue;
            }
            let opts = LiveHerdOptions {
                clients_per_process: Some(50),
                client_program: Some(PathBuf::from(program)),
                ..LiveHerdOptions::default()
            };
            let err = match run_herd_raw(&cfg, &opts, 1) {
                Ok(_) => panic!("{program} cannot run clients"),
                Err(e) => e.to_string(),
            };
            assert!(err.contains(why), "{program}: {err}");
            assert!(!err.contains('\n'), "{err}");
        }
    }

    #[test]
    fn a_child_runs_the_same_clients_as_the_parent() {
        let jitter = SimDuration(1_000_000_000);
        let all = schedule(9, jitter, 0..120);
        let slice = schedule(9, jitter, 50..100);
        assert_eq!(slice.len(), 50);
        for ((i, first, _), (j, f2, _)) in all[50..100].iter().zip(&slice) {
            assert_eq!((i, first), (j, f2));
        }
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

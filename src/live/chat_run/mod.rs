//! Distributed chat for real (`simulate chat --live`): `--servers` WebSocket
//! chat server instances on loopback (each with its own listener on
//! 127.0.0.1:0), `--clients` tokio-tungstenite clients spread over them in turn
//! and joined to the model's rooms, posting at `--rate`; the servers share
//! messages through no broker, the embedded in-process broker, or a Redis on
//! loopback. The run fills the same [`Report`] as the model (`backend: "live"`),
//! with the model's metric and series names.
//!
//! How the model's terms map onto the machine:
//! - *Rooms and posts*: drawn from the seeded RNG exactly as the model draws
//!   them, so a seed gives the same rooms, senders and `messages`, `intended`
//!   and `missed` counts as the model run with the same flags (when the horizon
//!   is not cut). Post `i` is handed to its sender at `round(i / rate)` seconds.
//! - *Fan-out*: a server frames the post once and writes the same bytes to
//!   every local member's socket (two fan-out shards per server, one vectored
//!   write per recipient and batch); see [`server`]. With a broker it also
//!   publishes the frame; the broker forwards it to the other servers with
//!   members in the room, which fan it out in turn ([`broker`]).
//! - *`--hop-ms` and `--write-us`* are not used: the hop and the write cost are
//!   whatever this machine takes, which is what the run measures.
//! - *Latency*: from the sender handing the frame to its socket to the
//!   recipient reading it (HDR histogram, three significant digits). Extra
//!   metrics split it into same-server and cross-server receipts.
//! - *Delivered*: receipts counted by the clients. `delivery_ratio` is
//!   delivered / intended. After the last post the run waits (up to
//!   [`LiveChatOptions::drain`]) until every recipient not missed by design has
//!   received its copy or had it dropped; what is still missing then is
//!   `in_flight_at_end`. A copy is *dropped* (extra metric `dropped`) when a
//!   bounded queue on its way was full: a connection's backlog while its
//!   socket is full ([`server::CONN_QUEUE`] frames), a server's dispatch or
//!   shard queue, or the broker's.
//! - *Utilization*: each server's time spent dispatching and writing (wall
//!   time around the work, measured per message or batch) over the run's
//!   time. The model's server writes one recipient at a time; a live server
//!   writes from two shards on both cores, so this can pass 1.
//! - *Write backlog*: the longest a message waited in a server's dispatch or
//!   shard queue before its fan-out began, per interval.
//! - *Time*: the run is real time (no time scale): rates are per wall second.
//!
//! Bounds: at most [`LiveChatOptions::max_clients`] clients, what the
//! open-file limit allows (2 descriptors per client, 3 per server),
//! [`LiveChatOptions::max_servers`] servers and
//! [`LiveChatOptions::max_memberships`] room memberships; every queue is
//! bounded; the posting horizon is cut so setup, posting and drain fit in
//! [`LiveChatOptions::max_wall`]. Every task stops at the end of the run.

mod broker;
mod client;
mod plan;
mod server;
mod tally;

pub use broker::{loopback_redis_url, redis_url_problem};

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{Semaphore, mpsc};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::addr;
use super::error::LiveError;
use super::herd::interval_for;
use super::limits::{FD_HEADROOM, FdReport, WsLimits, somaxconn};
use crate::sim::report::{Backend, Metric, Parameter, Report, SCHEMA_VERSION, Series};
use crate::sim::rng::SimRng;
use crate::sim::scenarios::chat::{self, BrokerMode, ChatConfig, draw_post, post_time_ns};
use crate::sim::spec::ScenarioSpec;
use broker::BrokerLink;
use client::{Client, Post, Ready};
use plan::Plan;
use server::{Ctx, DISPATCH_QUEUE};
use tally::Tally;

/// Bounds of a live chat run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LiveChatOptions {
    /// Most clients one run may start.
    pub max_clients: u64,
    /// Most server instances one run may start.
    pub max_servers: u64,
    /// Most room memberships (`rooms x room_size`).
    pub max_memberships: u64,
    /// Longest the whole run may take on the wall clock; the posting horizon
    /// is cut to fit.
    pub max_wall: Duration,
    /// Longest wait after the last post for copies still on their way.
    pub drain: Duration,
}

impl Default for LiveChatOptions {
    fn default() -> Self {
        Self {
            max_clients: 5_000,
            max_servers: 64,
            max_memberships: 1_000_000,
            max_wall: Duration::from_secs(60),
            drain: Duration::from_secs(5),
        }
    }
}

/// Descriptors each server instance may hold: its listener and, with Redis,
/// a publish and a subscribe connection.
const FDS_PER_SERVER: u64 = 3;
/// Clients handshaking at once.
const CONNECT_GATE: usize = 128;
/// Posts waiting for one client before the scheduler waits for it.
const POST_QUEUE: usize = 64;
/// Longest setup (servers, connections, joins) may take.
const MAX_SETUP: Duration = Duration::from_secs(30);

/// Series in report order: the model's names, units and labels.
const SERIES: [(&str, &str, &str); 5] = [
    ("deliveries_per_s", "1/s", "recipient writes per second"),
    ("messages_per_s", "msg/s", "messages posted per second"),
    (
        "broker_msgs_per_s",
        "1/s",
        "broker publishes and forwards per second",
    ),
    (
        "utilization",
        "fraction",
        "servers' write time (all servers)",
    ),
    ("write_backlog_us", "us", "write queue a message met"),
];

/// Runs the chat scenario on loopback and returns its report. `redis` is a
/// loopback `redis://` URL to use as the broker instead of the embedded one
/// (with `cfg.broker` = pubsub).
pub fn run_chat(
    cfg: &ChatConfig,
    redis: Option<&str>,
    opts: &LiveChatOptions,
    seed: u64,
) -> Result<Report, LiveError> {
    let p = cfg
        .validate_params()
        .map_err(|e| LiveError::Config(e.to_string()))?;
    let redis = match redis {
        Some(_) if p.broker == BrokerMode::None => {
            return Err(LiveError::Config(
                "--broker none cannot also use a Redis URL".into(),
            ));
        }
        Some(url) => Some(loopback_redis_url(url)?),
        None => None,
    };
    let (servers, clients) = (u64::from(p.servers), u64::from(p.clients));
    if clients > opts.max_clients {
        return Err(LiveError::Config(format!(
            "--clients {clients} is more than a live run starts (at most {}); the model \
             (without --live) runs millions",
            opts.max_clients
        )));
    }
    if servers > opts.max_servers {
        return Err(LiveError::Config(format!(
            "--servers {servers} is more than a live run starts (at most {})",
            opts.max_servers
        )));
    }
    let memberships = u64::from(p.rooms) * u64::from(p.room_size);
    if memberships > opts.max_memberships {
        return Err(LiveError::Config(format!(
            "--rooms {} x --room-size {} is {memberships} memberships, more than a live run \
             holds (at most {})",
            p.rooms, p.room_size, opts.max_memberships
        )));
    }
    check_fds(&FdReport::read()?, clients, servers)?;

    let started = Instant::now();
    let mut rng = SimRng::seed_from(seed);
    let plan = Arc::new(Plan::draw(p, &mut rng));
    let runtime = crate::live::runtime()?;
    let run = runtime.block_on(chat_async(plan.clone(), rng, redis.clone(), *opts, started));
    runtime.shutdown_timeout(Duration::from_secs(1));
    let run = run?;
    let mut parameters = cfg.parameters();
    let backend = match (&p.broker, &redis) {
        (BrokerMode::None, _) => "none".to_string(),
        (BrokerMode::PubSub, None) => "embedded".to_string(),
        (BrokerMode::PubSub, Some(url)) => format!("redis {}", broker::redis_endpoint(url)),
    };
    parameters.push(Parameter::new("broker_backend", backend, ""));
    Ok(run.into_report(&plan, parameters, seed, started.elapsed()))
}

/// Refuses a run whose clients and servers need more descriptors than the
/// process may open, naming the most clients that fit.
fn check_fds(fd: &FdReport, clients: u64, servers: u64) -> Result<(), LiveError> {
    let headroom = FD_HEADROOM + FDS_PER_SERVER * servers;
    let max = fd.soft.saturating_sub(fd.in_use + headroom) / 2;
    if clients <= max {
        return Ok(());
    }
    Err(LiveError::FdLimit {
        wanted: clients,
        needed: clients * 2 + headroom,
        per_conn: 2,
        headroom,
        soft: fd.soft,
        in_use: fd.in_use,
        max,
    })
}

/// A finished run before it is shaped into a report.
struct Run {
    tally: Arc<Tally>,
    messages: u64,
    intended: u64,
    missed: u64,
    horizon_s: f64,
    end_s: f64,
    connect_s: f64,
}

async fn chat_async(
    plan: Arc<Plan>,
    rng: SimRng,
    redis: Option<String>,
    opts: LiveChatOptions,
    started: Instant,
) -> Result<Run, LiveError> {
    let stop = CancellationToken::new();
    let tasks = TaskTracker::new();
    let run = drive(plan, rng, redis, opts, started, &stop, &tasks).await;
    stop.cancel();
    tasks.close();
    let _ = tokio::time::timeout(Duration::from_secs(5), tasks.wait()).await;
    run
}

#[allow(clippy::too_many_lines)]
async fn drive(
    plan: Arc<Plan>,
    mut rng: SimRng,
    redis: Option<String>,
    opts: LiveChatOptions,
    started: Instant,
    stop: &CancellationToken,
    tasks: &TaskTracker,
) -> Result<Run, LiveError> {
    let p = plan.p;
    let servers = usize::from(p.servers);
    let longest = p.horizon.as_secs_f64().min(opts.max_wall.as_secs_f64());
    let tally = Arc::new(Tally::new(servers, interval_for(longest)));
    let ws = WsLimits::default().with_max_message(4 * 1024).config();
    let backlog = somaxconn().unwrap_or(4096).min(4096);

    // Servers: listeners and dispatch queues first (the broker needs them all).
    let mut listeners = Vec::with_capacity(servers);
    let mut addrs = Vec::with_capacity(servers);
    let mut queues = Vec::with_capacity(servers);
    let mut inboxes = Vec::with_capacity(servers);
    for _ in 0..servers {
        let l = addr::bind(std::net::SocketAddr::from(([127, 0, 0, 1], 0)), backlog)?;
        addrs.push(l.local_addr().map_err(LiveError::Runtime)?);
        listeners.push(l);
        let (tx, rx) = mpsc::channel(DISPATCH_QUEUE);
        queues.push(tx);
        inboxes.push(rx);
    }
    let ctx = |index: usize| Ctx {
        index: index as u16,
        plan: plan.clone(),
        tally: tally.clone(),
        ws,
        stop: stop.clone(),
        tasks: tasks.clone(),
    };
    let mut links = Vec::with_capacity(servers);
    match (p.broker, &redis) {
        (BrokerMode::None, _) => links.extend((0..servers).map(|_| BrokerLink::None)),
        (BrokerMode::PubSub, None) => {
            let (bus, inbox) = mpsc::channel(broker::BROKER_QUEUE);
            tasks.spawn(broker::run_bus(
                inbox,
                queues.clone(),
                plan.clone(),
                tally.clone(),
                stop.clone(),
            ));
            links.extend((0..servers).map(|_| BrokerLink::Embedded(bus.clone())));
        }
        (BrokerMode::PubSub, Some(url)) => {
            let prefix = broker::run_prefix();
            for (s, queue) in queues.iter().enumerate() {
                links.push(
                    broker::connect_redis(
                        url,
                        prefix.clone(),
                        s as u16,
                        queue.clone(),
                        plan.clone(),
                        tally.clone(),
                        stop.clone(),
                        tasks,
                    )
                    .await?,
                );
            }
        }
    }
    for (s, ((listener, inbox), link)) in listeners.into_iter().zip(inboxes).zip(links).enumerate()
    {
        tasks.spawn(server::dispatcher(inbox, link, ctx(s)));
        tasks.spawn(server::accept_loop(listener, ctx(s), queues[s].clone()));
    }
    drop(queues);

    // Clients: connect, join, report ready.
    let clients = p.clients;
    let gate = Arc::new(Semaphore::new(CONNECT_GATE));
    let (ready_tx, mut ready_rx) = mpsc::channel::<Ready>(1024);
    let mut posts = Vec::with_capacity(clients as usize);
    for id in 0..clients {
        let (tx, rx) = mpsc::channel::<Post>(POST_QUEUE);
        posts.push(tx);
        let c = Client {
            id,
            server: addrs[usize::from(plan.server_of(id))],
            plan: plan.clone(),
            tally: tally.clone(),
            ws,
            stop: stop.clone(),
        };
        tasks.spawn(c.run(rx, ready_tx.clone(), gate.clone()));
    }
    drop(ready_tx);
    let setup_limit = MAX_SETUP.min(opts.max_wall / 2);
    let setup_deadline = tokio::time::Instant::from_std(started + setup_limit);
    let mut joined = 0u32;
    let mut check = tokio::time::interval(Duration::from_millis(50));
    while joined < clients {
        tokio::select! {
            r = ready_rx.recv() => match r {
                Some(Ok(())) => joined += 1,
                Some(Err(e)) => return Err(LiveError::Setup(e)),
                None => break,
            },
            _ = check.tick() => fail_if_broken(&tally, &redis)?,
            () = tokio::time::sleep_until(setup_deadline) => break,
        }
    }
    fail_if_broken(&tally, &redis)?;
    if joined < clients {
        return Err(LiveError::Setup(format!(
            "only {joined} of {clients} clients connected and joined their rooms within {} s",
            setup_limit.as_secs()
        )));
    }
    let connect_s = started.elapsed().as_secs_f64();

    // Posting: the model's schedule and draws, over the (possibly cut) horizon.
    let budget = opts
        .max_wall
        .saturating_sub(started.elapsed())
        .saturating_sub(opts.drain);
    let horizon = Duration::from_nanos(p.horizon.as_nanos()).min(budget);
    if horizon.is_zero() {
        return Err(LiveError::Setup(format!(
            "setup took {connect_s:.1} s, leaving no time to post within the {} s limit",
            opts.max_wall.as_secs()
        )));
    }
    let horizon_ns = u64::try_from(horizon.as_nanos()).unwrap_or(u64::MAX);
    let t0 = tally.start();
    let post_deadline = tokio::time::Instant::from_std(t0 + horizon);
    let k = u64::from(p.room_size);
    let (mut messages, mut intended, mut missed) = (0u64, 0u64, 0u64);
    for i in 0.. {
        let at = post_time_ns(&p, i);
        if at >= horizon_ns {
            break;
        }
        let when = tokio::time::Instant::from_std(t0 + Duration::from_nanos(at));
        if when > tokio::time::Instant::now() {
            tokio::time::sleep_until(when).await;
        }
        let (r, idx) = draw_post(&mut rng, &p);
        let sender = plan.member(r, idx);
        let post = Post {
            room: r as u32,
            seq: i,
        };
        match tokio::time::timeout_at(post_deadline, posts[sender as usize].send(post)).await {
            Ok(Ok(())) => {}
            // The sender is gone, or the schedule fell behind past the horizon.
            _ => break,
        }
        tally.posted();
        messages += 1;
        intended += k - 1;
        if p.broker == BrokerMode::None {
            let local = u64::from(plan.here(r, plan.server_of(sender))) - 1;
            missed += k - 1 - local;
        }
        if i % 256 == 255 {
            fail_if_broken(&tally, &redis)?;
        }
    }
    drop(posts);
    let horizon_s = tally
        .since_start(Instant::now())
        .as_secs_f64()
        .max(horizon.as_secs_f64());

    // Drain: wait for every copy not missed by design to arrive or be dropped.
    let expected = intended - missed;
    let drain_deadline = Instant::now() + opts.drain;
    while tally.delivered() + tally.drops() < expected && Instant::now() < drain_deadline {
        fail_if_broken(&tally, &redis)?;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let end_s = tally.since_start(Instant::now()).as_secs_f64();
    Ok(Run {
        tally,
        messages,
        intended,
        missed,
        horizon_s,
        end_s,
        connect_s,
    })
}

/// Ends the run when a server recorded a failure it cannot work around.
fn fail_if_broken(tally: &Tally, redis: &Option<String>) -> Result<(), LiveError> {
    match (tally.failure(), redis) {
        (None, _) => Ok(()),
        (Some(reason), Some(url)) => Err(LiveError::Broker {
            url: format!("redis://{}", broker::redis_endpoint(url)),
            reason,
        }),
        (Some(reason), None) => Err(LiveError::Setup(reason)),
    }
}

impl Run {
    fn into_report(
        self,
        plan: &Plan,
        parameters: Vec<Parameter>,
        seed: u64,
        wall: Duration,
    ) -> Report {
        let p = &plan.p;
        let t = &self.tally;
        let iv = t.interval_s();
        let servers = f64::from(p.servers);
        let delivered = t.delivered();
        let dropped = t.drops();
        let broker_msgs = t.broker_msgs();
        let in_flight = self
            .intended
            .saturating_sub(self.missed + delivered + dropped);
        let totals = t.server_totals();
        let writes: u64 = totals.iter().map(|&(w, _)| w).sum();
        let busiest = totals.iter().map(|&(_, b)| b).fold(0.0, f64::max);
        let [all, local, remote] = t.latencies();
        let per_s = |n: u64| n as f64 / self.horizon_s;

        let n_bins = ((self.end_s / iv).ceil() as usize).max(1);
        let fit = |mut v: Vec<f64>| {
            v.resize(n_bins.max(v.len()), 0.0);
            v.truncate(n_bins);
            v
        };
        let rate = |v: Vec<u64>| fit(v.into_iter().map(|c| c as f64 / iv).collect());
        let (posts, broker_bins) = t.flow_bins();
        let (busy, backlog) = t.server_bins();
        let values = [
            rate(t.receipt_bins()),
            rate(posts),
            rate(broker_bins),
            fit(busy.into_iter().map(|b| b / (servers * iv)).collect()),
            fit(backlog),
        ];
        let series = SERIES
            .iter()
            .zip(values)
            .map(|((name, unit, label), values)| Series {
                name: (*name).to_string(),
                unit: (*unit).to_string(),
                label: (*label).to_string(),
                values,
            })
            .collect();

        let model_values = [
            (self.intended > 0).then(|| delivered as f64 / self.intended as f64),
            Some(p.expected_delivery_ratio()),
            all.mean_ms(),
            all.quantile_ms(0.5),
            all.quantile_ms(0.99),
            all.max_ms(),
            Some(per_s(writes) / servers),
            Some(per_s(broker_msgs)),
            (self.end_s > 0.0).then(|| busiest / self.end_s),
            Some(self.messages as f64),
            Some(self.intended as f64),
            Some(delivered as f64),
            Some(in_flight as f64),
            Some(self.missed as f64),
        ];
        let mut metrics: Vec<Metric> = chat::METRICS
            .iter()
            .zip(model_values)
            .map(|(info, v)| Metric::new(info.name, v, info.unit, info.help))
            .collect();
        metrics.extend([
            Metric::new(
                "dropped",
                Some(dropped as f64),
                "recipients",
                "copies dropped: a queue on the way was full",
            ),
            Metric::new(
                "delivered_per_s",
                Some(per_s(delivered)),
                "1/s",
                "recipients reached per second, all servers",
            ),
            Metric::new(
                "latency_local_p99_ms",
                local.quantile_ms(0.99),
                "ms",
                "post -> read, same server, 99th pct",
            ),
            Metric::new(
                "latency_remote_p99_ms",
                remote.quantile_ms(0.99),
                "ms",
                "post -> read, via the broker, 99th pct",
            ),
            Metric::new(
                "connect_s",
                Some(self.connect_s),
                "s",
                "setup: servers up, clients connected and joined",
            ),
        ]);
        Report {
            schema: SCHEMA_VERSION,
            scenario: chat::NAME.to_string(),
            backend: Backend::Live,
            seed,
            parameters,
            metrics,
            series_interval_s: iv,
            series,
            events_processed: self.messages + delivered + broker_msgs,
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
    fn runs_beyond_the_fd_limit_name_the_most_clients_that_fit() {
        let fd = FdReport {
            soft: 20_000,
            hard: 20_000,
            in_use: 44,
        };
        assert!(check_fds(&fd, 9_000, 4).is_ok());
        let err = check_fds(&fd, 10_000, 4).expect_err("too many").to_string();
        // (20,000 - 44 - 256 - 12) / 2 = 9,844.
        assert!(err.contains("largest run that fits is 9844"), "{err}");
    }

    #[test]
    fn bounds_and_broker_urls_are_checked_before_anything_starts() {
        let cfg = ChatConfig {
            clients: 6_000,
            ..ChatConfig::default()
        };
        let err = run_chat(&cfg, None, &LiveChatOptions::default(), 1)
            .expect_err("too many clients")
            .to_string();
        assert!(err.contains("at most 5000"), "{err}");
        let cfg = ChatConfig {
            clients: 100,
            servers: 2,
            rooms: 10,
            room_size: 5,
            ..ChatConfig::default()
        };
        let err = run_chat(
            &cfg,
            Some("redis://192.168.1.9:6379"),
            &LiveChatOptions::default(),
            1,
        )
        .expect_err("not loopback")
        .to_string();
        assert!(err.contains("not loopback"), "{err}");
        let none = ChatConfig {
            broker: BrokerMode::None,
            ..cfg
        };
        assert!(
            run_chat(
                &none,
                Some("redis://127.0.0.1"),
                &LiveChatOptions::default(),
                1
            )
            .is_err()
        );
    }
}

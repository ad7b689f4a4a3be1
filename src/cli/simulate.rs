//! `swelearn simulate ...`: the clap arguments of the simulation scenarios and
//! [`run_simulate`], which runs them and prints or writes every non-TUI output.
//!
//! The binary's CLI embeds [`SimulateCommand`] as a subcommand; when stdout is a
//! terminal and [`wants_tui`] says so, the TUI plays the run back instead.
//! Otherwise `run_simulate` turns the flags into the scenario's
//! [`ScenarioSpec`] (e.g. [`crate::sim::scenarios::herd::HerdConfig`]), runs it
//! through the generic [`crate::sim::runner`] (with a progress bar on stderr for
//! long runs), and renders the report with [`crate::output`]: a plain summary and
//! chart, or JSON, plus CSV and SVG files when asked.
//!
//! A new scenario adds a [`SimulateCommand`] variant whose args embed [`RunArgs`]
//! with `#[command(flatten)]` and implement [`ScenarioArgs`], plus one arm in each
//! of [`SimulateCommand::run_args`] and [`SimulateCommand::compute`].

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::output::compare::comparison_text;
use crate::output::csv::{comparison_csv, report_csv};
use crate::output::json::{comparison_json, report_json};
use crate::output::svg::{comparison_svg, report_svg};
use crate::output::text::{TextOptions, render_report};
use crate::sim::engine::Progress;
use crate::sim::error::SimError;
use crate::sim::runner::{compare_spec, run_spec};
use crate::sim::scenarios::backpressure::{BackpressureConfig, BufferPolicy};
use crate::sim::scenarios::balance::{BalanceConfig, Policy};
use crate::sim::scenarios::chat::{BrokerMode, ChatConfig};
use crate::sim::scenarios::herd::{BackoffPolicy, HerdConfig};
use crate::sim::spec::ScenarioSpec;

mod heartbeat;
mod herd_live;
mod racer;

pub use heartbeat::{DetectorArg, HeartbeatArgs, WireArg};
pub use racer::RacerArgs;

const HERD_ABOUT: &str = "\
Thundering herd: a server restarts and every client reconnects at once.

The model: N clients (--clients) lose their connection at t = 0. Each waits a
first delay drawn uniformly from [0, J] seconds (--jitter J; 0 = all at once,
the default and the classic herd) and tries to reconnect. The server has
--workers handshake workers, each spending --handshake-ms per handshake (2 x
0.5 ms = 4,000 handshakes/s). Attempts wait FIFO in an accept queue of --backlog
entries. An attempt that finds the queue full is refused and the client retries
after a backoff (--backoff, AWS \"Exponential Backoff And Jitter\": none = retry
after --backoff-base like a SYN retransmit; exponential = min(cap, base * 2^n);
full-jitter = random(0, min(cap, base * 2^n)); decorrelated = min(cap,
random(base, previous * 3)); n = failed attempts so far - 1). An attempt that
waits in the queue longer than --timeout is given up by its client, who backs
off and retries, but its queued handshake is still done when a worker reaches
it: wasted work, which is how real herds feed themselves. Connect latency runs
from a client's first attempt to its successful handshake.

The run is a deterministic discrete-event simulation: the same flags and --seed
give the same report, byte for byte (with --no-wall-time).";

const HERD_EXAMPLES: &str = "\
Examples:
  swelearn simulate herd --clients 100000
      100,000 clients all at once against 4,000 handshakes/s.
  swelearn simulate herd --clients 1000000 --jitter 30 --no-tui
      a million clients spread over 30 s; plain summary and chart.
  swelearn simulate herd --backlog unlimited --timeout none --jitter 10
      the fluid model: peak queue = 100,000 - 4,000/s * 10 s = 60,000.
  swelearn simulate herd --compare jitter=0,10,30
      three runs, same seed, side by side.
  swelearn simulate herd --compare backoff=none,exponential,full-jitter,decorrelated --json \\
      | jq '.reports[].metrics.time_to_all_s.value'
  swelearn simulate herd --jitter 30 --csv herd.csv --plot herd.svg
      write the time series as CSV and as a chart.
  swelearn simulate herd --live --compare-model --clients 5000 --jitter 2
      the same herd on real loopback sockets, next to the model.
  swelearn simulate herd --live --clients 19000 --jitter 5 --handshake-ms 0.1
      past one process's open-file limit: the clients run in child processes.
  swelearn simulate herd --calibrate --clients 1000000 --workers 1 --no-tui
      measure this machine's handshake cost, then model a million clients.
  swelearn simulate herd --calibrate --live --compare-model --clients 5000 \
      --workers 1 --backlog unlimited --timeout none
      calibrate, then run live (natural cost) and model side by side.

Metrics (JSON names): time_to_all_s, time_to_p99_s, connected, attempts, refused,
timeouts, wasted_handshakes, peak_queue, peak_utilization,
connect_latency_{mean,p50,p90,p99,max}_ms, capacity_per_s, fluid_time_to_all_s,
still_trying, in_flight_at_end.
Series: connected, arrivals_per_s, queue_depth, utilization, refused_per_s,
timeouts_per_s.";

const BALANCE_ABOUT: &str = "\
Load balancing stateful connections: round-robin vs least-connections vs
hashing, and what a server leaving and returning does to sessions.

The model: --clients clients connect at t = 0 through a load balancer to
--servers servers. A connection lasts uniform [0, 2 x --lifetime] seconds; the
client is then offline for uniform [0, 2 x --think] seconds and reconnects,
and the balancer routes the new connection by --policy:
round-robin (the next live server in turn), least-connections (the live server
with the fewest connections), ip-hash (alias sticky: the client's fixed hash
modulo the number of live servers) or consistent-hash (a hash ring with
--vnodes points per server). A client keeps session state on the server of its
last connection; a reconnection that lands elsewhere is a session miss and the
session is rebuilt there. At --fail-at the last server leaves: its connections
drop and those clients reconnect within --reconnect-jitter seconds (forced
reconnects). At --recover-at it returns, empty; open connections stay put.

What to look for (theory): round-robin misses about (S-1)/S of reconnections;
hashing misses none until the pool changes. When one of S servers leaves,
modulo hashing remaps about (S-1)/S of all clients (exactly: a key stays iff
k mod S == k mod (S-1)), a hash ring only the leaving server's 1/S, and both
move the same clients back when it returns. imbalance is the busiest server's
connections over the mean per live server, averaged over the run; a ring needs
virtual nodes to be even.

The run is a deterministic discrete-event simulation: the same flags and --seed
give the same report, byte for byte (with --no-wall-time).";

const BALANCE_EXAMPLES: &str = "\
Examples:
  swelearn simulate balance
      10,000 clients, 10 servers, round-robin; server 9 leaves at 60 s.
  swelearn simulate balance --compare policy=round-robin,sticky,consistent-hash
      session misses and remapping per policy, same seed.
  swelearn simulate balance --policy consistent-hash --compare vnodes=1,10,200
      how virtual nodes even out a hash ring.
  swelearn simulate balance --policy ip-hash --servers 4 --json \\
      | jq .metrics.remapped_fraction.value
  swelearn simulate balance --clients 1000000 --no-tui
      a million clients, plain summary.

Metrics (JSON names): imbalance, peak_imbalance, session_miss_ratio,
session_misses, remapped_fraction, remapped_back_fraction, reconnects,
connections, peak_server_connections.
Series: session_misses_per_s, connections_max, connections_min, connected,
live_servers, connects_per_s, forced_reconnects_per_s.

Live (--live): real WebSocket backends on 127.0.0.1 behind a layer-4 proxy
that routes each new connection with the model's routing code and splices the
bytes. Client i connects from its own address 127.1.0.1 + i, which ip-hash and
consistent-hash hash (so the proxy never parses a byte). After the handshake
the client says hello with its session token; the backend answers hit, miss
or new, and misses are counted there. At --fail-at the last backend leaves the
pool and is stopped (its connections drop), at --recover-at it is started
again, empty. Same metric and series names, plus failed_attempts (attempts
routed to the stopping backend, retried after 20 ms). Runs longer than 60 s of
wall time are refused: add --time-scale, e.g.
  swelearn simulate balance --live --clients 500 --lifetime 5 --time-scale 4";

const BACKPRESSURE_ABOUT: &str = "\
Backpressure: one producer broadcasting to fast and slow consumers, and what
each per-connection buffer policy costs in memory, loss and latency.

The model: a producer emits a --message-size byte message every 1/--rate
seconds and offers it to each of --consumers connections. Each connection has
an outbound buffer and a reader that takes one message at a time: the first
--slow-consumers read --slow-rate messages/s, the others --fast-rate (each read
takes uniform [0.5, 1.5] x the mean, for network jitter). A message is
delivered when its read ends; latency runs from production to delivery.
Buffered bytes are the waiting messages (the one being read is in the socket).

--policy says what a connection does when its buffer (--buffer-limit bytes)
has no room: unbounded (never full: memory grows), drop-oldest (drop the oldest
waiting message: readers get fresh data), drop-newest (drop the arriving one:
readers get stale data), disconnect (close the connection, like a browser
bufferedAmount check or Redis' client-output-buffer-limit; what it held is
lost) or throttle (the producer waits until every connection has room: nothing
is lost, but everyone gets the slowest consumer's pace).

What to look for (theory): an unbounded buffer grows at (rate - slow-rate) x
message-size bytes/s per slow consumer (fluid_growth_bytes_per_s). A bounded
one fills in capacity / (rate - slow-rate) s (first_disconnect_s), then holds
a message about capacity / slow-rate s with drop-newest but only capacity /
rate s with drop-oldest. Fast consumers' latency stays their read time, p99 =
1.49 / fast-rate, unless the producer is throttled. Every message offered is
delivered, dropped, waiting or being read: exactly.

--live runs it on real sockets, in real time: a loopback WebSocket server whose
producer broadcasts to in-process clients; each connection's application send
queue applies --policy and its bytes are counted exactly; the slow clients
really read slowly, and 4 KiB socket buffers keep the kernel from hiding the
backlog. Messages still in the sockets at the end are read out and reported as
in_transit_at_end, so offered = delivered + in_transit_at_end + dropped +
final_buffered_bytes / message-size holds exactly. Extra live metrics: offered,
in_transit_at_end, peak_conn_buffered_bytes, process_rss_{start,peak,end}_bytes
and memory_cap_stop_s (an unbounded run stops before its queues pass 256 MiB);
extra series: process_rss_bytes.

The run is a deterministic discrete-event simulation: the same flags and --seed
give the same report, byte for byte (with --no-wall-time).";

const BACKPRESSURE_EXAMPLES: &str = "\
Examples:
  swelearn simulate backpressure
      1 slow consumer of 10, unbounded buffers: memory grows 512 kB/s.
  swelearn simulate backpressure --compare \\
      policy=unbounded,drop-oldest,drop-newest,disconnect,throttle
      memory, loss and latency of each policy, same seed.
  swelearn simulate backpressure --policy drop-oldest --compare \\
      buffer-limit=64KiB,1MiB,16MiB
      a bigger buffer holds more memory and older messages.
  swelearn simulate backpressure --slow-consumers 3 --json \\
      | jq .metrics.final_buffered_bytes.value
  swelearn simulate backpressure --rate 20000 --fast-rate 40000 \\
      --horizon 50 --no-tui
      a million messages to 10 consumers.
  swelearn simulate backpressure --live --policy drop-oldest --no-tui
      the default run on real sockets: the server's memory stays flat.

Metrics (JSON names): peak_buffered_bytes, final_buffered_bytes, dropped,
disconnects, slow_latency_p99_ms, fast_latency_p99_ms, slow_latency_mean_ms,
fast_latency_mean_ms, produced, delivered, throughput_per_s,
first_disconnect_s, fluid_growth_bytes_per_s.
Series: buffered_bytes, produced_per_s, delivered_per_s, dropped_per_s,
connected_consumers.";

const CHAT_ABOUT: &str = "\
Distributed chat: rooms whose members sit on different servers, with or without
a pub/sub broker between the servers, and what fan-out costs.

The model: --clients clients are spread over --servers servers in turn (client
i on server i mod servers). Each of --rooms rooms has --room-size members
drawn at random from the clients. Every 1/--rate seconds a random member of a
random room posts. Its server writes the message to the room's members on that
server. With --broker pubsub it also publishes it to a broker, which forwards
it (--hop-ms later) to every other server with members in the room, which
writes it to its own members. With --broker none the members on other servers
never get it. A server writes to one recipient at a time, --write-us each,
first come first served; latency runs from posting to the recipient's write.

What to look for (theory): without a broker a recipient is reached only if it
shares the sender's server, so the delivery ratio is about 1/S (exactly
sum_s (n_s/C)(n_s - 1)/(C - 1) for n_s clients on server s: the
expected_delivery_ratio metric). With the broker every member but the sender
is reached: messages x (room-size - 1) writes, and each message costs the
broker one publish plus one forward per other server in the room. A large
room makes each server write room-size/S times per message: the k-th
recipient waits k x write-us, and once rate x room-size/S x write-us passes 1
the servers fall behind without bound (max_server_utilization, in_flight).

The run is a deterministic discrete-event simulation: the same flags and --seed
give the same report, byte for byte (with --no-wall-time).

--live runs it for real, in real time: --servers WebSocket chat servers, each
with its own listener on 127.0.0.1, and --clients tokio-tungstenite clients
(client i on server i mod servers) that join the same rooms the model draws for
the seed and post on the model's schedule. A server writes a post to its own
members (framed once, the same bytes written to every socket) and, with
--broker pubsub, publishes it to the embedded in-process broker, or with
--broker redis://127.0.0.1:PORT to a real Redis (PUBLISH/SUBSCRIBE, a channel
per room; loopback hosts only). Latency runs from the sender's socket to the
recipient's read; delivered counts what clients read, after waiting up to 5 s
for the last copies. --hop-ms and --write-us are not used (the machine's own
costs are measured). Extra live metrics: dropped (a full queue on the way),
delivered_per_s, latency_local_p99_ms, latency_remote_p99_ms (same server vs
through the broker) and connect_s. Bounds: 5,000 clients, 64 servers,
1,000,000 memberships, the open-file limit (2 per client, 3 per server) and
60 s of wall time; the horizon is cut to fit.";

const CHAT_EXAMPLES: &str = "\
Examples:
  swelearn simulate chat
      10 servers, 1,000 rooms of 50, 1,000 msg/s through a pub/sub broker.
  swelearn simulate chat --compare broker=none,pubsub
      without a broker only same-server members get the message (~1/S).
  swelearn simulate chat --rooms 1 --room-size 10000 --rate 10
      one 10,000-member room: ~1,000 writes per server per message.
  swelearn simulate chat --rooms 1 --compare room-size=100,1000,10000 \\
      --rate 50
      fan-out cost grows with the room until the servers fall behind.
  swelearn simulate chat --broker none --servers 4 --json \\
      | jq .metrics.delivery_ratio.value
  swelearn simulate chat --rate 100000 --room-size 10 --no-tui
      a million messages in 10 s.
  swelearn simulate chat --live --servers 2 --clients 1000 --rooms 20 \
      --room-size 100 --rate 200 --horizon 5 --broker none
      the same rooms on real sockets: without a broker about half arrive.
  swelearn simulate chat --live --servers 2 --clients 1000 --rooms 1 \
      --room-size 1000 --rate 110 --horizon 10 \
      --broker redis://127.0.0.1:6379
      about 110,000 deliveries/s, half of them through a local Redis.

Metrics (JSON names): delivery_ratio, expected_delivery_ratio,
latency_{mean,p50,p99,max}_ms, fanout_writes_per_s (per server),
broker_msgs_per_s, max_server_utilization, messages, intended, delivered,
in_flight_at_end, missed.
Series: deliveries_per_s, messages_per_s, broker_msgs_per_s, utilization,
write_backlog_us.";

/// The simulations `swelearn simulate` can run.
#[derive(Debug, Clone, PartialEq, clap::Subcommand)]
pub enum SimulateCommand {
    /// Thundering herd: every client reconnects after a server restart.
    #[command(long_about = HERD_ABOUT, after_help = HERD_EXAMPLES)]
    Herd(HerdArgs),
    /// Heartbeats: half-open connections, app pings vs TCP keepalive.
    #[command(
        long_about = heartbeat::HEARTBEAT_ABOUT,
        after_help = heartbeat::HEARTBEAT_EXAMPLES
    )]
    Heartbeat(HeartbeatArgs),
    /// The race: short polling, long polling, SSE and WebSocket on one feed.
    #[command(long_about = racer::RACER_ABOUT, after_help = racer::RACER_EXAMPLES)]
    Racer(RacerArgs),
    /// Load balancing: sticky vs round-robin, hashing when a server leaves.
    #[command(long_about = BALANCE_ABOUT, after_help = BALANCE_EXAMPLES)]
    Balance(BalanceArgs),
    /// Backpressure: slow consumers, buffer limits, drops and throttling.
    #[command(long_about = BACKPRESSURE_ABOUT, after_help = BACKPRESSURE_EXAMPLES)]
    Backpressure(BackpressureArgs),
    /// Distributed chat: rooms across servers, with or without a pub/sub broker.
    #[command(long_about = CHAT_ABOUT, after_help = CHAT_EXAMPLES)]
    Chat(ChatArgs),
}

/// Retry policy after a refused or timed-out attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum BackoffArg {
    /// Retry after exactly --backoff-base (a SYN retransmit).
    None,
    /// min(cap, base * 2^n).
    Exponential,
    /// random(0, min(cap, base * 2^n)).
    FullJitter,
    /// min(cap, random(base, previous sleep * 3)).
    Decorrelated,
}

impl From<BackoffArg> for BackoffPolicy {
    fn from(b: BackoffArg) -> Self {
        match b {
            BackoffArg::None => BackoffPolicy::None,
            BackoffArg::Exponential => BackoffPolicy::Exponential,
            BackoffArg::FullJitter => BackoffPolicy::FullJitter,
            BackoffArg::Decorrelated => BackoffPolicy::Decorrelated,
        }
    }
}

/// How the balancer routes a new connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PolicyArg {
    /// The next live server in turn.
    RoundRobin,
    /// The live server with the fewest open connections.
    LeastConnections,
    /// Sticky: the client's hash modulo the live servers (alias: sticky).
    #[value(alias = "sticky")]
    IpHash,
    /// Sticky: a hash ring with --vnodes points per server.
    ConsistentHash,
}

impl From<PolicyArg> for Policy {
    fn from(p: PolicyArg) -> Self {
        match p {
            PolicyArg::RoundRobin => Policy::RoundRobin,
            PolicyArg::LeastConnections => Policy::LeastConnections,
            PolicyArg::IpHash => Policy::IpHash,
            PolicyArg::ConsistentHash => Policy::ConsistentHash,
        }
    }
}

/// What a connection does when its buffer is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum BufferPolicyArg {
    /// No limit: every message waits and memory grows.
    Unbounded,
    /// Drop the oldest waiting message to make room.
    DropOldest,
    /// Drop the arriving message.
    DropNewest,
    /// Close the connection; what it held is lost.
    Disconnect,
    /// The producer waits until every connection has room.
    Throttle,
}

impl From<BufferPolicyArg> for BufferPolicy {
    fn from(p: BufferPolicyArg) -> Self {
        match p {
            BufferPolicyArg::Unbounded => BufferPolicy::Unbounded,
            BufferPolicyArg::DropOldest => BufferPolicy::DropOldest,
            BufferPolicyArg::DropNewest => BufferPolicy::DropNewest,
            BufferPolicyArg::Disconnect => BufferPolicy::Disconnect,
            BufferPolicyArg::Throttle => BufferPolicy::Throttle,
        }
    }
}

/// How chat servers share messages (`--broker`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BrokerArg {
    /// No broker: a server reaches only its own clients.
    None,
    /// A pub/sub broker forwards to every other server in the room (with
    /// --live: the embedded in-process broker).
    Pubsub,
    /// With --live: pub/sub through the Redis at this loopback URL.
    Redis(String),
}

impl BrokerArg {
    /// The model's broker mode (a Redis URL is pub/sub).
    pub fn mode(&self) -> BrokerMode {
        match self {
            BrokerArg::None => BrokerMode::None,
            BrokerArg::Pubsub | BrokerArg::Redis(_) => BrokerMode::PubSub,
        }
    }
}

/// Parses `--broker`: none, pubsub (aliases as the model takes them) or a
/// loopback `redis://` URL.
fn parse_broker(s: &str) -> Result<BrokerArg, String> {
    if s.contains("://") {
        return crate::live::chat_run::redis_url_problem(s)
            .map_or_else(|| Ok(BrokerArg::Redis(s.to_string())), Err);
    }
    match BrokerMode::parse(s) {
        Some(BrokerMode::None) => Ok(BrokerArg::None),
        Some(BrokerMode::PubSub) => Ok(BrokerArg::Pubsub),
        None => Err(
            "expected none, pubsub, or (with --live) a Redis URL on this machine \
                     such as redis://127.0.0.1:6379"
                .to_string(),
        ),
    }
}

/// Flags every scenario shares: seed and outputs.
#[derive(Debug, Clone, PartialEq, clap::Args)]
pub struct RunArgs {
    /// Seed of the run's random numbers; the same seed and flags give the same report.
    #[arg(long, default_value_t = 7, value_name = "N")]
    pub seed: u64,

    /// Print the report as JSON on stdout (stable field names; see --help).
    #[arg(long)]
    pub json: bool,

    /// Write the time series as CSV (a time column and one column per series).
    #[arg(long, value_name = "FILE")]
    pub csv: Option<PathBuf>,

    /// Write the time series as an SVG chart.
    #[arg(long, value_name = "FILE.svg")]
    pub plot: Option<PathBuf>,

    /// Print a plain summary and text chart instead of the interactive view.
    #[arg(long)]
    pub no_tui: bool,

    /// Run one variant per value of a parameter, same seed, and show them side
    /// by side, e.g. jitter=0,30 or policy=round-robin,sticky (up to 8 values;
    /// any flag of the scenario, without the dashes).
    #[arg(long, value_name = "PARAM=V1,V2[,...]")]
    pub compare: Option<String>,

    /// Leave the engine's wall-clock time out of the report, so two runs'
    /// JSON compare byte for byte.
    #[arg(long)]
    pub no_wall_time: bool,

    /// Draw text charts with ASCII only.
    #[arg(long)]
    pub ascii: bool,
}

/// Flags of `swelearn simulate herd`.
#[derive(Debug, Clone, PartialEq, clap::Args)]
pub struct HerdArgs {
    /// Clients that reconnect after the restart.
    #[arg(
        long,
        default_value_t = 100_000,
        value_name = "N",
        allow_negative_numbers = true
    )]
    pub clients: i64,

    /// First attempts spread uniformly over [0, SECONDS]; 0 = all at once.
    #[arg(
        long,
        default_value_t = 0.0,
        value_name = "SECONDS",
        allow_negative_numbers = true
    )]
    pub jitter: f64,

    /// Handshake workers on the server.
    #[arg(
        long,
        default_value_t = 2,
        value_name = "N",
        allow_negative_numbers = true
    )]
    pub workers: i64,

    /// Worker time per handshake, in milliseconds.
    #[arg(
        long,
        default_value_t = 0.5,
        value_name = "MS",
        allow_negative_numbers = true
    )]
    pub handshake_ms: f64,

    /// Accept-queue size (attempts waiting for a worker), or "unlimited".
    #[arg(long, default_value = "4096", value_name = "N|unlimited")]
    pub backlog: String,

    /// Retry policy after a refused or timed-out attempt.
    #[arg(long, value_enum, default_value_t = BackoffArg::FullJitter)]
    pub backoff: BackoffArg,

    /// Backoff base in seconds (also the fixed sleep of --backoff none).
    #[arg(
        long,
        default_value_t = 1.0,
        value_name = "SECONDS",
        allow_negative_numbers = true
    )]
    pub backoff_base: f64,

    /// Longest backoff sleep in seconds.
    #[arg(
        long,
        default_value_t = 30.0,
        value_name = "SECONDS",
        allow_negative_numbers = true
    )]
    pub backoff_cap: f64,

    /// Longest wait in the accept queue before a client gives up and retries,
    /// in seconds, or "none".
    #[arg(long, default_value = "10", value_name = "SECONDS|none")]
    pub timeout: String,

    /// Virtual time at which the run stops, in seconds.
    #[arg(
        long,
        default_value_t = 600.0,
        value_name = "SECONDS",
        allow_negative_numbers = true
    )]
    pub horizon: f64,

    /// Run it for real: a WebSocket server and the clients on loopback (127.0.0.1),
    /// at most 19,000 clients and 60 s of wall time; the report says `backend:
    /// live`. Clients run in this process while they fit its open-file limit (2
    /// descriptors each), otherwise in child processes of this program (up to
    /// 10,000 clients each, 1 descriptor each there) and only the server's ends
    /// stay here (1 each); a run whose server side does not fit is refused,
    /// naming the largest that does. The parameter client_processes says how
    /// many children ran (0: none).
    #[arg(long, conflicts_with = "compare")]
    pub live: bool,

    /// With --live: run at most N clients per process; more go to child
    /// processes of at most N each (at most 16 children), e.g. to measure the
    /// server with its clients in another process.
    #[arg(long, value_name = "N", requires = "live",
          value_parser = clap::value_parser!(u64).range(1..))]
    pub clients_per_process: Option<u64>,

    /// With --live: then run the model with the same flags and seed, and show
    /// both side by side, labelled live and model (the compare table, one chart
    /// per series with both curves, both reports under --json).
    #[arg(long, requires = "live")]
    pub compare_model: bool,

    /// Measure this machine's real handshake cost first (a live herd of 2,000
    /// clients on loopback against one worker with no added cost, after a
    /// warm-up burst: about 1-3 s) and use it as --handshake-ms, so the model
    /// extrapolates from what was measured; --workers is kept. The cost is all
    /// in (the in-process clients share the cores); the line printed also says
    /// how long the worker itself was busy. With --live the live server adds no
    /// cost either: its workers take the natural time.
    #[arg(long, conflicts_with = "handshake_ms")]
    pub calibrate: bool,

    /// With --live: model seconds per wall second, e.g. 10 plays a 30 s jitter in
    /// 3 s (waits, handshake cost and horizon are divided; kernel timers are not).
    #[arg(long, default_value_t = 1.0, value_name = "X", requires = "live")]
    pub time_scale: f64,

    /// Seed and output flags.
    #[command(flatten)]
    pub run: RunArgs,
}

impl HerdArgs {
    /// The model configuration these flags describe (ranges are checked when it
    /// runs).
    pub fn to_config(&self) -> Result<HerdConfig, SimError> {
        let mut cfg = HerdConfig::default();
        cfg.set("clients", &self.clients.to_string())?;
        cfg.set("workers", &self.workers.to_string())?;
        cfg.jitter_s = self.jitter;
        cfg.handshake_ms = self.handshake_ms;
        cfg.set("backlog", &self.backlog)?;
        cfg.backoff = self.backoff.into();
        cfg.backoff_base_s = self.backoff_base;
        cfg.backoff_cap_s = self.backoff_cap;
        cfg.set("timeout", &self.timeout)?;
        cfg.horizon_s = self.horizon;
        Ok(cfg)
    }
}

/// Flags of `swelearn simulate balance`.
#[derive(Debug, Clone, PartialEq, clap::Args)]
pub struct BalanceArgs {
    /// Clients, each holding one connection and session state on its server.
    #[arg(
        long,
        default_value_t = 10_000,
        value_name = "N",
        allow_negative_numbers = true
    )]
    pub clients: i64,

    /// Servers behind the load balancer.
    #[arg(
        long,
        default_value_t = 10,
        value_name = "N",
        allow_negative_numbers = true
    )]
    pub servers: i64,

    /// How the balancer routes each new connection.
    #[arg(long, value_enum, default_value_t = PolicyArg::RoundRobin)]
    pub policy: PolicyArg,

    /// Points per server on the consistent-hash ring (virtual nodes).
    #[arg(
        long,
        default_value_t = 100,
        value_name = "N",
        allow_negative_numbers = true
    )]
    pub vnodes: i64,

    /// Mean connection lifetime in seconds; each lasts uniform [0, 2 x this].
    #[arg(
        long,
        default_value_t = 60.0,
        value_name = "SECONDS",
        allow_negative_numbers = true
    )]
    pub lifetime: f64,

    /// Mean offline gap before a client reconnects, in seconds; each is
    /// uniform [0, 2 x this]; 0 = reconnect at once.
    #[arg(
        long,
        default_value_t = 1.0,
        value_name = "SECONDS",
        allow_negative_numbers = true
    )]
    pub think: f64,

    /// When the last server leaves the pool, in seconds, or "none".
    #[arg(long, default_value = "60", value_name = "SECONDS|none")]
    pub fail_at: String,

    /// When it returns (empty), in seconds, or "none".
    #[arg(long, default_value = "90", value_name = "SECONDS|none")]
    pub recover_at: String,

    /// Forced reconnects are spread uniformly over this many seconds.
    #[arg(
        long,
        default_value_t = 1.0,
        value_name = "SECONDS",
        allow_negative_numbers = true
    )]
    pub reconnect_jitter: f64,

    /// Virtual time at which the run stops, in seconds.
    #[arg(
        long,
        default_value_t = 120.0,
        value_name = "SECONDS",
        allow_negative_numbers = true
    )]
    pub horizon: f64,

    /// Run it for real on loopback (127.0.0.1): --servers WebSocket backends behind
    /// a load-balancing proxy that routes with the model's code, and --clients
    /// clients, each from its own address 127.1.0.1 + i; at most 2,000 clients, 32
    /// servers and 60 s of wall time; the report says `backend: live`.
    #[arg(long, conflicts_with = "compare")]
    pub live: bool,

    /// With --live: model seconds per wall second, e.g. 4 plays the 120 s default
    /// run in 30 s (lifetimes, think times, jitter, --fail-at, --recover-at and
    /// --horizon are divided).
    #[arg(long, default_value_t = 1.0, value_name = "X", requires = "live")]
    pub time_scale: f64,

    /// Seed and output flags.
    #[command(flatten)]
    pub run: RunArgs,
}

impl ScenarioArgs for BalanceArgs {
    type Spec = BalanceConfig;
    fn run_args(&self) -> &RunArgs {
        &self.run
    }
    fn to_spec(&self) -> Result<BalanceConfig, SimError> {
        let mut cfg = BalanceConfig::default();
        cfg.set("clients", &self.clients.to_string())?;
        cfg.set("servers", &self.servers.to_string())?;
        cfg.set("vnodes", &self.vnodes.to_string())?;
        cfg.policy = self.policy.into();
        cfg.lifetime_s = self.lifetime;
        cfg.think_s = self.think;
        cfg.set("fail-at", &self.fail_at)?;
        cfg.set("recover-at", &self.recover_at)?;
        cfg.reconnect_jitter_s = self.reconnect_jitter;
        cfg.horizon_s = self.horizon;
        Ok(cfg)
    }
}

/// Flags of `swelearn simulate backpressure`.
#[derive(Debug, Clone, PartialEq, clap::Args)]
pub struct BackpressureArgs {
    /// Connections the producer broadcasts every message to.
    #[arg(
        long,
        default_value_t = 10,
        value_name = "N",
        allow_negative_numbers = true
    )]
    pub consumers: i64,

    /// How many of them are slow (read at --slow-rate).
    #[arg(
        long,
        default_value_t = 1,
        value_name = "N",
        allow_negative_numbers = true
    )]
    pub slow_consumers: i64,

    /// Messages produced per second.
    #[arg(
        long,
        default_value_t = 1000.0,
        value_name = "MSG/S",
        allow_negative_numbers = true
    )]
    pub rate: f64,

    /// Messages per second a fast consumer reads.
    #[arg(
        long,
        default_value_t = 2000.0,
        value_name = "MSG/S",
        allow_negative_numbers = true
    )]
    pub fast_rate: f64,

    /// Messages per second a slow consumer reads.
    #[arg(
        long,
        default_value_t = 500.0,
        value_name = "MSG/S",
        allow_negative_numbers = true
    )]
    pub slow_rate: f64,

    /// Bytes per message (units allowed: 1024, 4KiB).
    #[arg(long, default_value = "1024", value_name = "BYTES")]
    pub message_size: String,

    /// What a connection does when its buffer has no room.
    #[arg(long, value_enum, default_value_t = BufferPolicyArg::Unbounded)]
    pub policy: BufferPolicyArg,

    /// Bytes one connection may buffer (all policies but unbounded; 64KiB, 1MiB).
    #[arg(long, default_value = "1MiB", value_name = "BYTES")]
    pub buffer_limit: String,

    /// The producer runs until this virtual time, in seconds.
    #[arg(
        long,
        default_value_t = 60.0,
        value_name = "SECONDS",
        allow_negative_numbers = true
    )]
    pub horizon: f64,

    /// Run it for real, in real time: a WebSocket server on 127.0.0.1 whose
    /// per-connection send queues apply --policy, and in-process clients that
    /// really read slowly (4 KiB socket buffers; at most 1,000 consumers, a 60 s
    /// horizon and 256 MiB buffered); adds process memory to the report.
    #[arg(long, conflicts_with = "compare")]
    pub live: bool,

    /// Seed and output flags.
    #[command(flatten)]
    pub run: RunArgs,
}

impl ScenarioArgs for BackpressureArgs {
    type Spec = BackpressureConfig;
    fn run_args(&self) -> &RunArgs {
        &self.run
    }
    fn to_spec(&self) -> Result<BackpressureConfig, SimError> {
        let mut cfg = BackpressureConfig::default();
        cfg.set("consumers", &self.consumers.to_string())?;
        cfg.set("slow-consumers", &self.slow_consumers.to_string())?;
        cfg.rate = self.rate;
        cfg.fast_rate = self.fast_rate;
        cfg.slow_rate = self.slow_rate;
        cfg.set("message-size", &self.message_size)?;
        cfg.policy = self.policy.into();
        cfg.set("buffer-limit", &self.buffer_limit)?;
        cfg.horizon_s = self.horizon;
        Ok(cfg)
    }
}

/// Flags of `swelearn simulate chat`.
#[derive(Debug, Clone, PartialEq, clap::Args)]
pub struct ChatArgs {
    /// Chat servers; client i connects to server i mod servers.
    #[arg(
        long,
        default_value_t = 10,
        value_name = "N",
        allow_negative_numbers = true
    )]
    pub servers: i64,

    /// Connected clients.
    #[arg(
        long,
        default_value_t = 100_000,
        value_name = "N",
        allow_negative_numbers = true
    )]
    pub clients: i64,

    /// Rooms; members are drawn at random from the clients.
    #[arg(
        long,
        default_value_t = 1_000,
        value_name = "N",
        allow_negative_numbers = true
    )]
    pub rooms: i64,

    /// Members per room (e.g. 10000 for one large room).
    #[arg(
        long,
        default_value_t = 50,
        value_name = "N",
        allow_negative_numbers = true
    )]
    pub room_size: i64,

    /// Messages posted per second over all rooms.
    #[arg(
        long,
        default_value_t = 1000.0,
        value_name = "MSG/S",
        allow_negative_numbers = true
    )]
    pub rate: f64,

    /// How servers share messages: none (a server reaches only its own
    /// clients), pubsub (a broker forwards to the other servers; with --live the
    /// embedded in-process broker), or with --live a Redis URL on loopback such
    /// as redis://127.0.0.1:6379 (real Redis PUBLISH/SUBSCRIBE, one channel per
    /// room; other hosts are refused).
    #[arg(
        long,
        default_value = "pubsub",
        value_parser = parse_broker,
        value_name = "none|pubsub|redis://HOST:PORT"
    )]
    pub broker: BrokerArg,

    /// Broker hop (publish plus forward to another server), in milliseconds.
    #[arg(
        long,
        default_value_t = 1.0,
        value_name = "MS",
        allow_negative_numbers = true
    )]
    pub hop_ms: f64,

    /// Server time per recipient write, in microseconds.
    #[arg(
        long,
        default_value_t = 5.0,
        value_name = "US",
        allow_negative_numbers = true
    )]
    pub write_us: f64,

    /// Messages are posted until this virtual time, in seconds.
    #[arg(
        long,
        default_value_t = 10.0,
        value_name = "SECONDS",
        allow_negative_numbers = true
    )]
    pub horizon: f64,

    /// Run it for real: --servers WebSocket chat servers and --clients clients on
    /// loopback (127.0.0.1), in real time, at most 5,000 clients and 60 s of wall
    /// time; --hop-ms and --write-us are measured, not used. The report says
    /// `backend: live`.
    #[arg(long, conflicts_with = "compare")]
    pub live: bool,

    /// Seed and output flags.
    #[command(flatten)]
    pub run: RunArgs,
}

impl ChatArgs {
    /// Runs the scenario on loopback (`--live`).
    fn run_live(&self) -> Result<crate::sim::report::Report, SimError> {
        let redis = match &self.broker {
            BrokerArg::Redis(url) => Some(url.as_str()),
            BrokerArg::None | BrokerArg::Pubsub => None,
        };
        let opts = crate::live::chat_run::LiveChatOptions::default();
        let mut report =
            crate::live::chat_run::run_chat(&self.to_spec()?, redis, &opts, self.run.seed)?;
        if self.run.no_wall_time {
            report.wall_time_s = None;
        }
        Ok(report)
    }
}

impl ScenarioArgs for ChatArgs {
    type Spec = ChatConfig;
    fn run_args(&self) -> &RunArgs {
        &self.run
    }
    fn to_spec(&self) -> Result<ChatConfig, SimError> {
        let mut cfg = ChatConfig::default();
        cfg.set("servers", &self.servers.to_string())?;
        cfg.set("clients", &self.clients.to_string())?;
        cfg.set("rooms", &self.rooms.to_string())?;
        cfg.set("room-size", &self.room_size.to_string())?;
        cfg.rate = self.rate;
        cfg.broker = self.broker.mode();
        cfg.hop_ms = self.hop_ms;
        cfg.write_us = self.write_us;
        cfg.horizon_s = self.horizon;
        Ok(cfg)
    }
}

impl ScenarioArgs for HerdArgs {
    type Spec = HerdConfig;
    fn run_args(&self) -> &RunArgs {
        &self.run
    }
    fn to_spec(&self) -> Result<HerdConfig, SimError> {
        self.to_config()
    }
}

/// What every scenario's clap arguments provide: the shared flags and the
/// scenario's configuration.
pub trait ScenarioArgs {
    /// The configuration the flags describe.
    type Spec: ScenarioSpec;
    /// The shared seed and output flags.
    fn run_args(&self) -> &RunArgs;
    /// The configuration (ranges are checked when it runs).
    fn to_spec(&self) -> Result<Self::Spec, SimError>;
}

impl SimulateCommand {
    /// The shared seed and output flags of whichever scenario was asked for.
    pub fn run_args(&self) -> &RunArgs {
        match self {
            SimulateCommand::Herd(a) => a.run_args(),
            SimulateCommand::Heartbeat(a) => a.run_args(),
            SimulateCommand::Racer(a) => a.run_args(),
            SimulateCommand::Balance(a) => a.run_args(),
            SimulateCommand::Backpressure(a) => a.run_args(),
            SimulateCommand::Chat(a) => a.run_args(),
        }
    }

    /// Validates the flags and runs the simulation (or every compared variant),
    /// with a progress bar on stderr when `is_tty` and stderr is a terminal.
    pub fn compute(&self, is_tty: bool) -> Result<SimOutcome, SimError> {
        match self {
            SimulateCommand::Herd(a) if a.live || a.calibrate => herd_live::compute(a, is_tty),
            SimulateCommand::Herd(a) => compute_args(a, is_tty),
            SimulateCommand::Heartbeat(a) if a.live => {
                let opts = crate::live::heartbeat::LiveHeartbeatOptions {
                    time_scale: a.time_scale,
                    ..Default::default()
                };
                let mut report =
                    crate::live::heartbeat::run_heartbeat(&a.to_config()?, &opts, a.run.seed)?;
                if a.run.no_wall_time {
                    report.wall_time_s = None;
                }
                Ok(SimOutcome::Single(Box::new(report)))
            }
            SimulateCommand::Heartbeat(a) => compute_args(a, is_tty),
            SimulateCommand::Racer(a) if a.live => {
                let opts = crate::live::racer::LiveRacerOptions {
                    time_scale: a.time_scale,
                    ..Default::default()
                };
                let mut report = crate::live::racer::run_racer(&a.to_config()?, &opts, a.run.seed)?;
                if a.run.no_wall_time {
                    report.wall_time_s = None;
                }
                Ok(SimOutcome::Single(Box::new(report)))
            }
            SimulateCommand::Racer(a) => compute_args(a, is_tty),
            SimulateCommand::Balance(a) if a.live => {
                let opts = crate::live::balance::LiveBalanceOptions {
                    time_scale: a.time_scale,
                    ..Default::default()
                };
                let mut report =
                    crate::live::balance::run_balance(&a.to_spec()?, &opts, a.run.seed)?;
                if a.run.no_wall_time {
                    report.wall_time_s = None;
                }
                Ok(SimOutcome::Single(Box::new(report)))
            }
            SimulateCommand::Balance(a) => compute_args(a, is_tty),
            SimulateCommand::Backpressure(a) if a.live => {
                let opts = crate::live::backpressure::LiveBackpressureOptions::default();
                let mut report =
                    crate::live::backpressure::run_backpressure(&a.to_spec()?, &opts, a.run.seed)?;
                if let Some(at) = report.metric_value("memory_cap_stop_s") {
                    eprintln!(
                        "note: stopped at {at:.1} s: the unbounded queues would have passed the \
                         {} MiB a live run may buffer",
                        opts.max_buffered_bytes >> 20
                    );
                }
                if a.run.no_wall_time {
                    report.wall_time_s = None;
                }
                Ok(SimOutcome::Single(Box::new(report)))
            }
            SimulateCommand::Backpressure(a) => compute_args(a, is_tty),
            SimulateCommand::Chat(a) if a.live => Ok(SimOutcome::Single(Box::new(a.run_live()?))),
            SimulateCommand::Chat(ChatArgs {
                broker: BrokerArg::Redis(url),
                ..
            }) => Err(SimError::InvalidValue {
                param: "broker",
                value: url.clone(),
                expected: "none or pubsub: a Redis URL runs only with --live",
            }),
            SimulateCommand::Chat(a) => compute_args(a, is_tty),
        }
    }
}

/// Whether the caller should show the interactive playback view rather than
/// call [`run_simulate`]: stdout is a terminal and no flag asked for plain or
/// machine output.
pub fn wants_tui(cmd: &SimulateCommand, stdout_is_tty: bool) -> bool {
    let run = cmd.run_args();
    stdout_is_tty && !run.no_tui && !run.json
}

/// A progress bar on stderr that appears only once a run has taken a while.
struct LazyBar {
    bar: Option<ProgressBar>,
    started: Instant,
    enabled: bool,
}

impl LazyBar {
    const DELAY: Duration = Duration::from_millis(300);

    fn new(enabled: bool) -> Self {
        Self {
            bar: None,
            started: Instant::now(),
            enabled,
        }
    }

    fn update(&mut self, prefix: &str, p: Progress) {
        if !self.enabled || self.started.elapsed() < Self::DELAY {
            return;
        }
        let bar = self.bar.get_or_insert_with(|| {
            let bar = ProgressBar::with_draw_target(Some(1000), ProgressDrawTarget::stderr());
            if let Ok(style) =
                ProgressStyle::with_template("{prefix} [{bar:32}] {msg} virtual ({elapsed} wall)")
            {
                bar.set_style(style.progress_chars("=> "));
            }
            bar
        });
        bar.set_prefix(prefix.to_string());
        let frac = p.now.as_secs_f64() / p.horizon.as_secs_f64().max(1e-9);
        bar.set_position((frac * 1000.0).round().clamp(0.0, 1000.0) as u64);
        bar.set_message(format!(
            "{:.1} s / {:.0} s",
            p.now.as_secs_f64(),
            p.horizon.as_secs_f64()
        ));
    }

    fn finish(self) {
        if let Some(bar) = self.bar {
            bar.finish_and_clear();
        }
    }
}

fn write_file(path: &Path, contents: &str) -> Result<(), SimError> {
    std::fs::write(path, contents).map_err(|source| SimError::Write {
        path: path.display().to_string(),
        source,
    })
}

/// What a `simulate` command produced: one run, or compared variants.
#[derive(Debug, Clone)]
pub enum SimOutcome {
    Single(Box<crate::sim::report::Report>),
    Compare(crate::sim::report::Comparison),
}

impl SimOutcome {
    /// The runs with their labels, for the playback view.
    pub fn runs(&self) -> Vec<(String, &crate::sim::report::Report)> {
        match self {
            SimOutcome::Single(r) => vec![(r.scenario.clone(), r.as_ref())],
            SimOutcome::Compare(c) => c.variant_names().into_iter().zip(&c.reports).collect(),
        }
    }
}

/// Validates a scenario's flags and runs it (or every compared variant), with a
/// progress bar on stderr when `is_tty` and stderr is a terminal.
pub fn compute_args<A: ScenarioArgs>(args: &A, is_tty: bool) -> Result<SimOutcome, SimError> {
    compute_spec(&args.to_spec()?, args.run_args(), is_tty)
}

/// Runs `cfg` (or every variant `run.compare` asks for) with the seed and
/// wall-time choice of `run`.
pub fn compute_spec<S: ScenarioSpec>(
    cfg: &S,
    run: &RunArgs,
    is_tty: bool,
) -> Result<SimOutcome, SimError> {
    cfg.validate()?;
    let mut bar = LazyBar::new(is_tty && std::io::stderr().is_terminal());
    let outcome = if let Some(spec) = &run.compare {
        let mut cmp = compare_spec(cfg, spec, run.seed, &mut |i, n, p| {
            bar.update(&format!("variant {}/{n}", i + 1), p);
        })?;
        if run.no_wall_time {
            for r in &mut cmp.reports {
                r.wall_time_s = None;
            }
        }
        SimOutcome::Compare(cmp)
    } else {
        let (mut report, _) = run_spec(cfg, run.seed, &mut |p| bar.update(S::NAME, p))?;
        if run.no_wall_time {
            report.wall_time_s = None;
        }
        SimOutcome::Single(Box::new(report))
    };
    bar.finish();
    Ok(outcome)
}

/// Writes the `--csv` and `--plot` files; returns a note per file written.
pub fn write_files(run: &RunArgs, outcome: &SimOutcome) -> Result<Vec<String>, SimError> {
    let mut notes = Vec::new();
    if let Some(path) = &run.csv {
        let csv = match outcome {
            SimOutcome::Single(r) => report_csv(r),
            SimOutcome::Compare(c) => comparison_csv(c),
        };
        write_file(path, &csv)?;
        notes.push(format!("wrote series to {}", path.display()));
    }
    if let Some(path) = &run.plot {
        let svg = match outcome {
            SimOutcome::Single(r) => report_svg(r)?,
            SimOutcome::Compare(c) => comparison_svg(c)?,
        };
        write_file(path, &svg)?;
        notes.push(format!("wrote chart to {}", path.display()));
    }
    Ok(notes)
}

/// Runs a `simulate` command and writes every non-TUI output: the plain summary
/// and text chart (or JSON with `--json`) to `out`, and the `--csv` / `--plot`
/// files. `is_tty` says whether stdout is a terminal; a progress bar is drawn on
/// stderr only when both are terminals and the run takes more than 0.3 s.
pub fn run_simulate(
    cmd: &SimulateCommand,
    out: &mut dyn Write,
    is_tty: bool,
) -> Result<(), SimError> {
    let run = cmd.run_args();
    let text_opts = TextOptions {
        width: 80,
        ascii: run.ascii,
    };
    let outcome = cmd.compute(is_tty)?;
    let notes = write_files(run, &outcome)?;
    match (&outcome, run.json) {
        (SimOutcome::Single(r), true) => out.write_all(report_json(r)?.as_bytes())?,
        (SimOutcome::Single(r), false) => out.write_all(render_report(r, &text_opts).as_bytes())?,
        (SimOutcome::Compare(c), true) => out.write_all(comparison_json(c)?.as_bytes())?,
        (SimOutcome::Compare(c), false) => {
            out.write_all(comparison_text(c, &text_opts).as_bytes())?;
        }
    }
    // Keep stdout pure JSON under --json.
    if !run.json {
        for n in notes {
            writeln!(out, "{n}")?;
        }
    }
    Ok(())
}

/// `swelearn simulate ...` parsed and run in-process, for the tests of this
/// module and its scenario submodules.
#[cfg(test)]
pub(crate) mod test_cli {
    use super::{SimError, SimulateCommand, run_simulate};
    use clap::Parser;

    #[derive(Debug, Parser)]
    pub struct Cli {
        #[command(subcommand)]
        pub cmd: SimulateCommand,
    }

    /// Parses `simulate ARGS...` (the scenario name first).
    pub fn parse(args: &[&str]) -> SimulateCommand {
        let mut full = vec!["simulate"];
        full.extend_from_slice(args);
        Cli::try_parse_from(full).expect("parses").cmd
    }

    /// Runs `simulate ARGS...` to plain output.
    pub fn run(args: &[&str]) -> Result<String, SimError> {
        let mut buf = Vec::new();
        run_simulate(&parse(args), &mut buf, false)?;
        Ok(String::from_utf8_lossy(&buf).into_owned())
    }

    /// `args` after the scenario name.
    pub fn with(scenario: &'static str, args: &[&'static str]) -> Vec<&'static str> {
        std::iter::once(scenario)
            .chain(args.iter().copied())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::test_cli::{Cli, parse, run};
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_valid_and_documents_every_flag() {
        Cli::command().debug_assert();
        let mut cmd = Cli::command();
        let herd = cmd.find_subcommand_mut("herd").expect("herd subcommand");
        let help = herd.render_long_help().to_string();
        for flag in [
            "--clients",
            "--jitter",
            "--workers",
            "--handshake-ms",
            "--backlog",
            "--backoff",
            "--backoff-base",
            "--backoff-cap",
            "--timeout",
            "--seed",
            "--horizon",
            "--json",
            "--csv",
            "--plot",
            "--no-tui",
            "--compare",
            "--compare-model",
            "--calibrate",
        ] {
            assert!(help.contains(flag), "{flag} missing from --help");
        }
        assert!(help.contains("Examples:"));
        assert!(help.contains("wasted work"));
    }

    #[test]
    fn defaults_match_the_issue() {
        let a = match parse(&["herd"]) {
            SimulateCommand::Herd(a) => a,
            other => panic!("herd parsed as {other:?}"),
        };
        let cfg = a.to_config().expect("valid");
        assert_eq!(cfg, HerdConfig::default());
        assert_eq!(a.run.seed, 7);
    }

    #[test]
    fn plain_json_and_files() {
        let text = run(&["herd", "--clients", "3000", "--no-tui"]).expect("runs");
        assert!(text.contains("time_to_all_s"));
        let json = run(&["herd", "--clients", "3000", "--json", "--no-wall-time"]).expect("runs");
        let v: serde_json::Value = serde_json::from_str(&json).expect("pure JSON on stdout");
        assert_eq!(v["parameters"]["clients"]["value"], "3000");
        assert!(v.get("wall_time_s").is_none());
        let again = run(&["herd", "--clients", "3000", "--json", "--no-wall-time"]).expect("runs");
        assert_eq!(json, again);

        let dir = std::env::temp_dir().join(format!("swelearn-sim-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let csv = dir.join("h.csv");
        let svg = dir.join("h.svg");
        let text = run(&[
            "herd",
            "--clients",
            "2000",
            "--csv",
            csv.to_str().unwrap_or_default(),
            "--plot",
            svg.to_str().unwrap_or_default(),
        ])
        .expect("runs");
        assert!(text.contains("wrote chart"));
        assert!(
            std::fs::read_to_string(&csv)
                .expect("csv")
                .starts_with("t_s,")
        );
        assert!(
            std::fs::read_to_string(&svg)
                .expect("svg")
                .starts_with("<svg")
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn compare_runs_side_by_side() {
        let text = run(&["herd", "--clients", "2000", "--compare", "jitter=0,1"]).expect("runs");
        assert!(text.contains("compare jitter = 0 | 1"));
        let json = run(&[
            "herd",
            "--clients",
            "2000",
            "--compare",
            "backlog=10,unlimited",
            "--json",
        ])
        .expect("runs");
        let v: serde_json::Value = serde_json::from_str(&json).expect("JSON");
        assert_eq!(v["values"][1], "unlimited");
        assert_eq!(v["reports"].as_array().map(Vec::len), Some(2));
    }

    #[test]
    fn bad_flags_are_one_line_errors() {
        let cases: &[(&[&str], &str)] = &[
            (&["herd", "--jitter", "-1"], "--jitter"),
            (&["herd", "--jitter", "NaN"], "--jitter"),
            (&["herd", "--clients", "0"], "--clients"),
            (&["herd", "--workers", "0"], "--workers"),
            (&["herd", "--handshake-ms", "0"], "--handshake-ms"),
            (&["herd", "--jitter", "60", "--horizon", "30"], "--horizon"),
            (&["herd", "--backlog", "lots"], "--backlog"),
            (&["herd", "--compare", "colour=1,2"], "--compare"),
            (&["herd", "--compare", "jitter=1,-2"], "--jitter"),
            (&["herd", "--clients", "4000000000"], "--clients"),
        ];
        for (args, needle) in cases {
            let err = run(args).expect_err("invalid").to_string();
            assert!(err.contains(needle), "{args:?}: {err}");
            assert!(!err.contains('\n'), "{args:?}: {err}");
        }
    }

    #[test]
    fn every_scenario_documents_its_flags_model_and_examples() {
        let mut cmd = Cli::command();
        let cases: &[(&str, &[&str], &str)] = &[
            (
                "balance",
                &[
                    "--clients",
                    "--servers",
                    "--policy",
                    "--vnodes",
                    "--lifetime",
                    "--think",
                    "--fail-at",
                    "--recover-at",
                    "--reconnect-jitter",
                    "--horizon",
                    "--live",
                    "--time-scale",
                    "sticky",
                ],
                "(S-1)/S",
            ),
            (
                "backpressure",
                &[
                    "--consumers",
                    "--slow-consumers",
                    "--rate",
                    "--fast-rate",
                    "--slow-rate",
                    "--message-size",
                    "--policy",
                    "--buffer-limit",
                    "drop-oldest",
                    "throttle",
                ],
                "client-output-buffer-limit",
            ),
            (
                "chat",
                &[
                    "--servers",
                    "--clients",
                    "--rooms",
                    "--room-size",
                    "--rate",
                    "--broker",
                    "--hop-ms",
                    "--write-us",
                    "pubsub",
                ],
                "1/S",
            ),
        ];
        for (name, flags, theory) in cases {
            let sub = cmd.find_subcommand_mut(name).expect("subcommand");
            let help = sub.render_long_help().to_string();
            for flag in flags
                .iter()
                .chain(&["--seed", "--json", "--csv", "--plot", "--compare"])
            {
                assert!(help.contains(flag), "{name}: {flag} missing from --help");
            }
            assert!(
                help.contains("Examples:") && help.contains(theory),
                "{name}"
            );
            assert!(help.contains("Metrics (JSON names)"), "{name}");
        }
    }

    #[test]
    fn defaults_match_the_models() {
        match parse(&["balance"]) {
            SimulateCommand::Balance(a) => {
                assert_eq!(a.to_spec().expect("valid"), BalanceConfig::default());
            }
            other => panic!("{other:?}"),
        }
        match parse(&["backpressure"]) {
            SimulateCommand::Backpressure(a) => {
                assert_eq!(a.to_spec().expect("valid"), BackpressureConfig::default());
            }
            other => panic!("{other:?}"),
        }
        match parse(&["chat"]) {
            SimulateCommand::Chat(a) => {
                assert_eq!(a.to_spec().expect("valid"), ChatConfig::default());
            }
            other => panic!("{other:?}"),
        }
        match parse(&["balance", "--policy", "sticky"]) {
            SimulateCommand::Balance(a) => assert_eq!(a.policy, PolicyArg::IpHash),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn new_scenarios_run_plain_json_and_compare() {
        let small: &[&[&str]] = &[
            &["balance", "--clients", "2000", "--horizon", "100"],
            &["backpressure", "--horizon", "5"],
            &[
                "chat",
                "--clients",
                "10000",
                "--rooms",
                "50",
                "--horizon",
                "1",
            ],
        ];
        for args in small {
            let text = run(&[args, &["--no-tui"][..]].concat()).expect("runs");
            assert!(text.lines().all(|l| l.chars().count() <= 80), "{text}");
            let json = run(&[args, &["--json", "--no-wall-time"][..]].concat()).expect("runs");
            let v: serde_json::Value = serde_json::from_str(&json).expect("pure JSON");
            assert_eq!(v["scenario"], args[0]);
            let again = run(&[args, &["--json", "--no-wall-time"][..]].concat()).expect("runs");
            assert_eq!(json, again, "{args:?}");
        }
        let text = run(&[
            "balance",
            "--clients",
            "2000",
            "--compare",
            "policy=round-robin,sticky,consistent-hash",
        ])
        .expect("runs");
        assert!(text.contains("compare policy = round-robin | ip-hash | consistent-hash"));
        assert!(text.lines().all(|l| l.chars().count() <= 80), "{text}");
        let json = run(&[
            "backpressure",
            "--horizon",
            "5",
            "--compare",
            "policy=unbounded,drop-oldest,drop-newest,disconnect,throttle",
            "--json",
        ])
        .expect("runs");
        let v: serde_json::Value = serde_json::from_str(&json).expect("JSON");
        assert_eq!(v["reports"].as_array().map(Vec::len), Some(5));
        let text =
            run(&["chat", "--horizon", "1", "--compare", "broker=none,pubsub"]).expect("runs");
        assert!(text.contains("delivery_ratio"));
    }

    #[test]
    fn new_scenarios_reject_bad_flags_in_one_line() {
        let cases: &[(&[&str], &str)] = &[
            (&["balance", "--servers", "1"], "--servers"),
            (&["balance", "--recover-at", "30"], "--recover-at"),
            (&["balance", "--fail-at", "soon"], "--fail-at"),
            (&["balance", "--compare", "policy=rr,random"], "--policy"),
            (
                &["backpressure", "--slow-consumers", "20"],
                "--slow-consumers",
            ),
            (&["backpressure", "--message-size", "0"], "--message-size"),
            (
                &[
                    "backpressure",
                    "--policy",
                    "drop-newest",
                    "--buffer-limit",
                    "10",
                ],
                "--buffer-limit",
            ),
            (&["chat", "--room-size", "1"], "--room-size"),
            (&["chat", "--rate", "-1"], "--rate"),
            (&["chat", "--compare", "colour=red,blue"], "--compare"),
        ];
        for (args, needle) in cases {
            let err = run(args).expect_err("invalid").to_string();
            assert!(err.contains(needle), "{args:?}: {err}");
            assert!(!err.contains('\n'), "{args:?}: {err}");
        }
    }

    #[test]
    fn tui_is_wanted_only_on_a_terminal_without_plain_flags() {
        assert!(wants_tui(&parse(&["herd"]), true));
        assert!(!wants_tui(&parse(&["herd"]), false));
        assert!(!wants_tui(&parse(&["herd", "--no-tui"]), true));
        assert!(!wants_tui(&parse(&["herd", "--json"]), true));
    }
}

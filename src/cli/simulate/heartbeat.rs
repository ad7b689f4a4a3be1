//! `swelearn simulate heartbeat`: its clap flags, `--help` text and conversion
//! to a [`HeartbeatConfig`]. [`super::SimulateCommand`] embeds [`HeartbeatArgs`];
//! the generic runner in [`super`] does the rest.

use crate::sim::error::SimError;
use crate::sim::scenarios::heartbeat::{Detector, HeartbeatConfig, Wire};

use super::{RunArgs, ScenarioArgs};

/// The long `--help` text: the model.
pub const HEARTBEAT_ABOUT: &str = "\
Heartbeats: how long a server holds connections whose peer died silently.

The model: --connections idle connections are open at t = 0. A share of them
(--dead-fraction) die silently, each at a uniform random time in
[0, --duration): no FIN, no RST (a phone left coverage, a NAT dropped the
mapping), so the server holds a half-open connection, with its file descriptor
and buffers, until a detector closes it. Each connection's probe timer starts at
a random phase. Network delay is taken as zero; live peers always answer.

Detectors (--detector):
  app            the server pings every --ping-interval P; a ping without a
                 pong within --pong-timeout T is missed; after --missed k
                 misses in a row the connection is closed. Delay = kP + T - u,
                 with u uniform in [0, P) (the death's offset after the last
                 answered ping): in ((k-1)P + T, kP + T], mean (k - 1/2)P + T.
  tcp-keepalive  Linux SO_KEEPALIVE: a probe after --keepalive-time seconds
                 idle (tcp_keepalive_time, 7200), then one every
                 --keepalive-intvl (75) and a drop after --keepalive-probes (9)
                 unanswered: delay in (675, 7875] s, about 2 h 11 min at worst.
  none           nothing probes; dead connections are held for ever: the run
                 stops at --duration and dead_connection_seconds is n/a.

Bytes (--wire): ws counts WebSocket frames only: a ping with an empty payload
is 2 bytes from the server and its pong 6 bytes from the client (client frames
carry a 4-byte mask), plus --payload bytes each; keepalive probes are below
that layer and count 0. tcp adds 52 bytes of IPv4 + TCP headers (with the
timestamp option) per segment, so a keepalive probe and its ACK are 52 bytes
each; tls also adds a 22-byte TLS 1.3 record to each WebSocket frame. The ACKs
of pings and pongs are not counted.

Rates cover [0, --duration); the run then continues until the last dead
connection is closed. dead_connection_seconds integrates the half-open
connections held over time, which equals the sum of the detection delays.

--live runs it on real sockets: a loopback WebSocket server pings every client
on its own timer and drops a connection after k missed pongs; the clients that
die stop reading their socket at their (seeded) death time but keep it open,
half-open as far as the server can tell. Delays run from that instant to the
drop; bytes are counted on the server's socket. The tcp-keepalive detector
stays model-only: a silent client's kernel still answers keepalive probes.
--time-scale divides every timer, so an hour can run in under a minute. Extra
live metrics: pongs_per_s, closed_alive (live connections dropped by mistake).

The run is a deterministic discrete-event simulation: the same flags and --seed
give the same report, byte for byte (with --no-wall-time).";

/// The `--help` epilogue: examples, metric and series names.
pub const HEARTBEAT_EXAMPLES: &str = "\
Examples:
  swelearn simulate heartbeat
      100,000 connections, 10 % die over an hour; ping every 30 s, close after
      2 missed pongs + 10 s: each is found within 40-70 s (mean 55 s).
  swelearn simulate heartbeat --compare detector=app,tcp-keepalive,none --no-tui
      the same deaths found in about a minute, about 71 minutes, or never.
  swelearn simulate heartbeat --compare ping-interval=10,30,60
      faster detection costs proportionally more pings.
  swelearn simulate heartbeat --connections 1000000 --dead-fraction 0 --wire tls \\
      --json | jq .metrics.heartbeat_bytes_per_s.value
      the heartbeat bill for a million idle connections over TLS.
  swelearn simulate heartbeat --ping-interval 25 --pong-timeout 20 --missed 1
      Socket.IO's defaults: every delay in (20, 45] s.
  swelearn simulate heartbeat --live --connections 1000 --duration 600 \\
      --time-scale 20 --no-tui
      the same on real sockets: 1,000 clients, 100 go silent; 34 s of wall time.

Metrics (JSON names): detection_delay_{mean,min,p99,max}_s,
delay_lower_bound_s, delay_upper_bound_s, dead_connection_seconds,
mean_dead_held, peak_dead_held, died, detected, undetected,
heartbeat_bytes_per_s, pings_per_s.
Series: dead_held, died, detected, heartbeat_bytes_per_s.";

/// Who detects dead connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DetectorArg {
    /// Ping/pong every --ping-interval; close after --missed misses.
    App,
    /// Linux TCP keepalive with the --keepalive-* timers.
    TcpKeepalive,
    /// Nothing probes.
    None,
}

impl From<DetectorArg> for Detector {
    fn from(d: DetectorArg) -> Self {
        match d {
            DetectorArg::App => Detector::App,
            DetectorArg::TcpKeepalive => Detector::TcpKeepalive,
            DetectorArg::None => Detector::None,
        }
    }
}

/// Which bytes the heartbeat byte rate counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum WireArg {
    /// WebSocket frames only (2-byte ping, 6-byte pong).
    Ws,
    /// Plus 52 bytes of IPv4 + TCP headers per segment.
    Tcp,
    /// Plus TCP/IP headers and a 22-byte TLS 1.3 record per frame.
    Tls,
}

impl From<WireArg> for Wire {
    fn from(w: WireArg) -> Self {
        match w {
            WireArg::Ws => Wire::Ws,
            WireArg::Tcp => Wire::Tcp,
            WireArg::Tls => Wire::Tls,
        }
    }
}

/// Flags of `swelearn simulate heartbeat`.
#[derive(Debug, Clone, PartialEq, clap::Args)]
pub struct HeartbeatArgs {
    /// Idle connections open at t = 0.
    #[arg(
        long,
        default_value_t = 100_000,
        value_name = "N",
        allow_negative_numbers = true
    )]
    pub connections: i64,

    /// Fraction of connections that die silently during --duration.
    #[arg(
        long,
        default_value_t = 0.1,
        value_name = "FRACTION",
        allow_negative_numbers = true
    )]
    pub dead_fraction: f64,

    /// Seconds over which connections die (and rates are measured).
    #[arg(
        long,
        default_value_t = 3600.0,
        value_name = "SECONDS",
        allow_negative_numbers = true
    )]
    pub duration: f64,

    /// Who detects dead connections.
    #[arg(long, value_enum, default_value_t = DetectorArg::App)]
    pub detector: DetectorArg,

    /// app: seconds between pings (P).
    #[arg(
        long,
        default_value_t = 30.0,
        value_name = "SECONDS",
        allow_negative_numbers = true
    )]
    pub ping_interval: f64,

    /// app: consecutive missed pongs before closing (k).
    #[arg(
        long,
        default_value_t = 2,
        value_name = "K",
        allow_negative_numbers = true
    )]
    pub missed: i64,

    /// app: seconds a pong may take before its ping counts as missed (T).
    #[arg(
        long,
        default_value_t = 10.0,
        value_name = "SECONDS",
        allow_negative_numbers = true
    )]
    pub pong_timeout: f64,

    /// tcp-keepalive: idle seconds before the first probe (tcp_keepalive_time).
    #[arg(
        long,
        default_value_t = 7200.0,
        value_name = "SECONDS",
        allow_negative_numbers = true
    )]
    pub keepalive_time: f64,

    /// tcp-keepalive: seconds between unanswered probes (tcp_keepalive_intvl).
    #[arg(
        long,
        default_value_t = 75.0,
        value_name = "SECONDS",
        allow_negative_numbers = true
    )]
    pub keepalive_intvl: f64,

    /// tcp-keepalive: unanswered probes before the connection is dropped
    /// (tcp_keepalive_probes).
    #[arg(
        long,
        default_value_t = 9,
        value_name = "N",
        allow_negative_numbers = true
    )]
    pub keepalive_probes: i64,

    /// Ping payload in bytes, echoed by the pong (at most 125).
    #[arg(
        long,
        default_value_t = 0,
        value_name = "BYTES",
        allow_negative_numbers = true
    )]
    pub payload: i64,

    /// Which bytes heartbeat_bytes_per_s counts.
    #[arg(long, value_enum, default_value_t = WireArg::Ws)]
    pub wire: WireArg,

    /// Run it for real: a WebSocket server on 127.0.0.1 pings real clients, some
    /// of which go silent (stop reading, connection left open); detectors app
    /// and none (tcp-keepalive stays model-only); at most 5,000 connections and
    /// 60 s of wall time; the report says `backend: live`.
    #[arg(long, conflicts_with = "compare")]
    pub live: bool,

    /// With --live: model seconds per wall second, e.g. 100 plays --duration 3600
    /// in 36 s (deaths, pings, timeouts and the run are divided; reports stay in
    /// model seconds).
    #[arg(long, default_value_t = 1.0, value_name = "X", requires = "live")]
    pub time_scale: f64,

    /// Seed and output flags.
    #[command(flatten)]
    pub run: RunArgs,
}

impl HeartbeatArgs {
    /// The model configuration these flags describe (ranges are checked when it
    /// runs).
    pub fn to_config(&self) -> Result<HeartbeatConfig, SimError> {
        let mut cfg = HeartbeatConfig::default();
        cfg.set("connections", &self.connections.to_string())?;
        cfg.set("missed", &self.missed.to_string())?;
        cfg.set("keepalive-probes", &self.keepalive_probes.to_string())?;
        cfg.set("payload", &self.payload.to_string())?;
        cfg.dead_fraction = self.dead_fraction;
        cfg.duration_s = self.duration;
        cfg.detector = self.detector.into();
        cfg.ping_interval_s = self.ping_interval;
        cfg.pong_timeout_s = self.pong_timeout;
        cfg.keepalive_time_s = self.keepalive_time;
        cfg.keepalive_intvl_s = self.keepalive_intvl;
        cfg.wire = self.wire.into();
        Ok(cfg)
    }
}

impl ScenarioArgs for HeartbeatArgs {
    type Spec = HeartbeatConfig;
    fn run_args(&self) -> &RunArgs {
        &self.run
    }
    fn to_spec(&self) -> Result<HeartbeatConfig, SimError> {
        self.to_config()
    }
}

#[cfg(test)]
mod tests {
    use super::super::SimulateCommand;
    use super::super::test_cli::{self, Cli};
    use super::*;
    use clap::CommandFactory;

    fn parse(args: &[&'static str]) -> SimulateCommand {
        test_cli::parse(&test_cli::with("heartbeat", args))
    }

    fn run(args: &[&'static str]) -> Result<String, SimError> {
        test_cli::run(&test_cli::with("heartbeat", args))
    }

    #[test]
    fn help_documents_every_flag_the_model_and_examples() {
        let mut cmd = Cli::command();
        let sub = cmd
            .find_subcommand_mut("heartbeat")
            .expect("heartbeat subcommand");
        let help = sub.render_long_help().to_string();
        for flag in [
            "--connections",
            "--dead-fraction",
            "--duration",
            "--detector",
            "--ping-interval",
            "--missed",
            "--pong-timeout",
            "--keepalive-time",
            "--keepalive-intvl",
            "--keepalive-probes",
            "--payload",
            "--wire",
            "--seed",
            "--json",
            "--csv",
            "--plot",
            "--compare",
        ] {
            assert!(help.contains(flag), "{flag} missing from --help");
        }
        for text in ["Examples:", "(k - 1/2)P + T", "(675, 7875]", "4-byte mask"] {
            assert!(help.contains(text), "{text} missing from --help");
        }
    }

    #[test]
    fn flag_defaults_are_the_model_defaults() {
        let SimulateCommand::Heartbeat(a) = parse(&[]) else {
            panic!("heartbeat parsed as another scenario");
        };
        assert_eq!(a.to_config().expect("valid"), HeartbeatConfig::default());
        assert_eq!(a.run.seed, 7);
    }

    #[test]
    fn plain_json_and_compare() {
        let text = run(&["--connections", "2000", "--no-tui"]).expect("runs");
        assert!(text.contains("detection_delay_mean_s"));
        let json = run(&["--connections", "2000", "--json", "--no-wall-time"]).expect("runs");
        let v: serde_json::Value = serde_json::from_str(&json).expect("pure JSON");
        assert_eq!(v["scenario"], "heartbeat");
        assert_eq!(v["metrics"]["delay_upper_bound_s"]["value"], 70);
        let again = run(&["--connections", "2000", "--json", "--no-wall-time"]).expect("runs");
        assert_eq!(json, again);
        let text = run(&[
            "--connections",
            "2000",
            "--compare",
            "detector=app,tcp-keepalive",
        ])
        .expect("runs");
        assert!(
            text.contains("compare detector = app | tcp-keepalive"),
            "{text}"
        );
    }

    #[test]
    fn bad_flags_are_one_line_errors() {
        let cases: &[(&[&str], &str)] = &[
            (&["--connections", "0"], "--connections"),
            (&["--dead-fraction", "1.5"], "--dead-fraction"),
            (&["--ping-interval", "-1"], "--ping-interval"),
            (&["--missed", "-2"], "--missed"),
            (&["--payload", "200"], "--payload"),
            (&["--compare", "colour=1,2"], "--compare"),
            (&["--compare", "missed=1,0"], "--missed"),
        ];
        for (args, needle) in cases {
            let err = run(args).expect_err("invalid").to_string();
            assert!(err.contains(needle), "{args:?}: {err}");
            assert!(!err.contains('\n'), "{args:?}: {err}");
        }
    }
}

//! `swelearn simulate racer`: its clap flags, `--help` text and conversion to a
//! [`RacerConfig`]. [`super::SimulateCommand`] embeds [`RacerArgs`]; the generic
//! runner in [`super`] does the rest.

use crate::sim::error::SimError;
use crate::sim::scenarios::racer::RacerConfig;

use super::{RunArgs, ScenarioArgs};

/// The long `--help` text: the model and its byte assumptions.
pub const RACER_ABOUT: &str = "\
The race: short polling, long polling, SSE and WebSocket on the same feed.

The workload: --clients clients follow one feed; --event-rate x --duration
events are published at uniform random times in [0, --duration) and every event
goes to every client. Each protocol carries its own copy; the server answers
instantly and the network adds --rtt-ms / 2 each way.

  short polling   each client polls every --interval (timers at random
                  phases); a response carries the events since its last poll,
                  or none (an empty response). An event waits for the next
                  poll: interval / 2 on average.
  long polling    the server holds each request until an event (answered at
                  once) or for --hold seconds (an empty response); the client
                  asks again on receipt, so its next request arrives one round
                  trip later, and events in that gap wait for it.
  SSE, WebSocket  one stream per client, opened before the run; each event is
                  written to every stream at once.

Latency runs from publication to arrival at the client. Requests, bytes and
empty responses are counted over [0, --duration); the run then continues until
every event has reached every client by every protocol. open_connections counts
requests or streams outstanding at once (a short poll is outstanding for one
round trip: clients x rtt / interval); idle keep-alive sockets are not counted.

Bytes (HTTP and WebSocket layers; TCP/IP and TLS are not counted; the header
sizes are estimates you can change): a poll costs --request-bytes of request
headers (500; a browser GET without cookies is roughly 300-800) and
--response-bytes of response headers (250), plus the events' payloads
(--event-bytes each). An SSE event costs \"data: \" + payload + a blank line
(8 bytes) inside an HTTP/1.1 chunk (hex length + 4 bytes of CRLFs). A server
WebSocket frame costs the payload + 2 header bytes (4 above 125 bytes of
payload, 10 above 65,535). Stream handshakes and keep-alives are not counted
(see `simulate heartbeat`).

Clients whose timers share a phase (on a grid of 1 ms, or period / 65,536 for
long periods) are simulated as one group, so a million clients cost no more than
65,536 groups. The run is deterministic: the same flags and --seed give the
same report, byte for byte (with --no-wall-time).";

/// The `--help` epilogue: examples, metric and series names.
pub const RACER_EXAMPLES: &str = "\
Examples:
  swelearn simulate racer
      10,000 clients, an event every 10 s on average, 5 s polls, 30 s holds.
  swelearn simulate racer --compare interval=1,5,30 --no-tui
      shorter polls cut latency (interval / 2) and multiply requests
      (clients / interval).
  swelearn simulate racer --event-rate 0 --json \\
      | jq .metrics.long_poll_requests_per_s.value
      an idle feed still costs clients / (hold + rtt) long-poll requests/s.
  swelearn simulate racer --compare event-rate=0.01,0.2,5
      long polling saves requests only while events are rarer than polls.
  swelearn simulate racer --clients 1000000 --no-tui
      a million clients.

Metrics (JSON names), one set per protocol, prefixed short_poll_, long_poll_,
sse_ and websocket_: requests_per_s, bytes_per_s, overhead_fraction,
empty_responses, latency_mean_ms, latency_p99_ms, open_connections, delivered;
plus events and payload_bytes_per_s.
Series: long_poll_requests_per_s, short_poll_requests_per_s,
{short_poll,long_poll,sse,websocket}_bytes_per_s, events_per_s.

Live (--live): the lab server on 127.0.0.1 and, per client, four real clients:
GET /poll every --interval, GET /longpoll asking again on each answer, an SSE
stream on /sse and a WebSocket on /ws/feed, while a publisher POSTs each event
to /publish at the model's times. Bytes are counted on the wire (headers, JSON,
chunk and frame framing included); each poll request is padded with an X-Pad
header to exactly --request-bytes, response headers are the server's own
(--response-bytes is not used). The clients add --rtt-ms: a request waits
rtt/2 before it is written and anything read counts as arrived rtt/2 later.
Same metric and series names as the model. Runs longer than 60 s of wall
time are refused: add --time-scale, e.g.
  swelearn simulate racer --live --clients 200 --event-rate 1 --duration 60 \\
      --interval 2 --hold 10 --time-scale 2";

/// Flags of `swelearn simulate racer`.
#[derive(Debug, Clone, PartialEq, clap::Args)]
pub struct RacerArgs {
    /// Clients following the feed; every event goes to every client.
    #[arg(
        long,
        default_value_t = 10_000,
        value_name = "N",
        allow_negative_numbers = true
    )]
    pub clients: i64,

    /// Events published per second (at uniform random times).
    #[arg(
        long,
        default_value_t = 0.1,
        value_name = "PER_S",
        allow_negative_numbers = true
    )]
    pub event_rate: f64,

    /// Seconds during which events are published (and rates are measured).
    #[arg(
        long,
        default_value_t = 600.0,
        value_name = "SECONDS",
        allow_negative_numbers = true
    )]
    pub duration: f64,

    /// Short polling: seconds between a client's polls.
    #[arg(
        long,
        default_value_t = 5.0,
        value_name = "SECONDS",
        allow_negative_numbers = true
    )]
    pub interval: f64,

    /// Long polling: seconds the server holds a request without events.
    #[arg(
        long,
        default_value_t = 30.0,
        value_name = "SECONDS",
        allow_negative_numbers = true
    )]
    pub hold: f64,

    /// Network round trip in milliseconds; each delivery takes half of it.
    #[arg(
        long,
        default_value_t = 100.0,
        value_name = "MS",
        allow_negative_numbers = true
    )]
    pub rtt_ms: f64,

    /// Payload bytes per event.
    #[arg(
        long,
        default_value_t = 100,
        value_name = "BYTES",
        allow_negative_numbers = true
    )]
    pub event_bytes: i64,

    /// HTTP request header bytes per poll (an estimate).
    #[arg(
        long,
        default_value_t = 500,
        value_name = "BYTES",
        allow_negative_numbers = true
    )]
    pub request_bytes: i64,

    /// HTTP response header bytes per poll response (an estimate).
    #[arg(
        long,
        default_value_t = 250,
        value_name = "BYTES",
        allow_negative_numbers = true
    )]
    pub response_bytes: i64,

    /// Run it for real on loopback (127.0.0.1): the lab server, and per client a
    /// short poller, a long poller, an SSE stream and a WebSocket, with bytes
    /// counted on the wire; at most 500 clients, 5,000 events and 60 s of wall
    /// time; the report says `backend: live`.
    #[arg(long, conflicts_with = "compare")]
    pub live: bool,

    /// With --live: model seconds per wall second, e.g. 20 plays a 600 s window in
    /// 30 s (publication times, --interval, --hold, --rtt-ms and the horizon are
    /// divided).
    #[arg(long, default_value_t = 1.0, value_name = "X", requires = "live")]
    pub time_scale: f64,

    /// Seed and output flags.
    #[command(flatten)]
    pub run: RunArgs,
}

impl RacerArgs {
    /// The model configuration these flags describe (ranges are checked when it
    /// runs).
    pub fn to_config(&self) -> Result<RacerConfig, SimError> {
        let mut cfg = RacerConfig::default();
        cfg.set("clients", &self.clients.to_string())?;
        cfg.set("event-bytes", &self.event_bytes.to_string())?;
        cfg.set("request-bytes", &self.request_bytes.to_string())?;
        cfg.set("response-bytes", &self.response_bytes.to_string())?;
        cfg.event_rate = self.event_rate;
        cfg.duration_s = self.duration;
        cfg.interval_s = self.interval;
        cfg.hold_s = self.hold;
        cfg.rtt_ms = self.rtt_ms;
        Ok(cfg)
    }
}

impl ScenarioArgs for RacerArgs {
    type Spec = RacerConfig;
    fn run_args(&self) -> &RunArgs {
        &self.run
    }
    fn to_spec(&self) -> Result<RacerConfig, SimError> {
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
        test_cli::parse(&test_cli::with("racer", args))
    }

    fn run(args: &[&'static str]) -> Result<String, SimError> {
        test_cli::run(&test_cli::with("racer", args))
    }

    #[test]
    fn help_documents_every_flag_the_model_and_examples() {
        let mut cmd = Cli::command();
        let sub = cmd.find_subcommand_mut("racer").expect("racer subcommand");
        let help = sub.render_long_help().to_string();
        for flag in [
            "--clients",
            "--event-rate",
            "--duration",
            "--interval",
            "--hold",
            "--rtt-ms",
            "--event-bytes",
            "--request-bytes",
            "--response-bytes",
            "--live",
            "--time-scale",
            "--seed",
            "--json",
            "--csv",
            "--plot",
            "--compare",
        ] {
            assert!(help.contains(flag), "{flag} missing from --help");
        }
        for text in ["Examples:", "interval / 2", "estimates", "chunk", "X-Pad"] {
            assert!(help.contains(text), "{text} missing from --help");
        }
    }

    #[test]
    fn flag_defaults_are_the_model_defaults() {
        let SimulateCommand::Racer(a) = parse(&[]) else {
            panic!("racer parsed as another scenario");
        };
        assert_eq!(a.to_config().expect("valid"), RacerConfig::default());
        assert_eq!(a.run.seed, 7);
    }

    #[test]
    fn plain_json_and_compare() {
        let text = run(&["--clients", "500", "--no-tui"]).expect("runs");
        assert!(text.contains("short_poll_latency_mean_ms"));
        let json = run(&["--clients", "500", "--json", "--no-wall-time"]).expect("runs");
        let v: serde_json::Value = serde_json::from_str(&json).expect("pure JSON");
        assert_eq!(v["scenario"], "racer");
        assert_eq!(v["metrics"]["short_poll_requests_per_s"]["value"], 100);
        let again = run(&["--clients", "500", "--json", "--no-wall-time"]).expect("runs");
        assert_eq!(json, again);
        let json =
            run(&["--clients", "500", "--compare", "interval=1,10", "--json"]).expect("runs");
        let v: serde_json::Value = serde_json::from_str(&json).expect("JSON");
        assert_eq!(v["values"][1], "10");
        assert_eq!(
            v["reports"][0]["metrics"]["short_poll_requests_per_s"]["value"],
            500
        );
    }

    #[test]
    fn bad_flags_are_one_line_errors() {
        let cases: &[(&[&str], &str)] = &[
            (&["--clients", "0"], "--clients"),
            (&["--event-rate", "-1"], "--event-rate"),
            (&["--interval", "0"], "--interval"),
            (&["--hold", "-5"], "--hold"),
            (&["--rtt-ms", "NaN"], "--rtt-ms"),
            (&["--request-bytes", "-1"], "--request-bytes"),
            (&["--compare", "hold=10,abc"], "--hold"),
        ];
        for (args, needle) in cases {
            let err = run(args).expect_err("invalid").to_string();
            assert!(err.contains(needle), "{args:?}: {err}");
            assert!(!err.contains('\n'), "{args:?}: {err}");
        }
    }
}

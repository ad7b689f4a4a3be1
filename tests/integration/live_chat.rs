//! `simulate chat --live`: real chat servers, clients and brokers on loopback,
//! checked against the model's report for the same flags and seed.
//!
//! The Redis test starts its own `redis-server` on a free loopback port and
//! stops it at the end. Without `redis-server` on PATH it fails under CI=true
//! and is skipped (with install instructions) elsewhere.

use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A small run: 2 servers, 50 clients, 10 rooms of 10, 100 msg/s for 1 s.
const SMALL: [&str; 16] = [
    "simulate",
    "chat",
    "--servers",
    "2",
    "--clients",
    "50",
    "--rooms",
    "10",
    "--room-size",
    "10",
    "--rate",
    "100",
    "--horizon",
    "1",
    "--seed",
    "3",
];

fn json(args: &[&str]) -> serde_json::Value {
    let mut all = args.to_vec();
    all.push("--json");
    serde_json::from_str(&super::swelearn(&all).ok()).expect("json report")
}

fn live(broker: &str) -> serde_json::Value {
    let mut args = SMALL.to_vec();
    args.extend(["--broker", broker, "--live"]);
    json(&args)
}

fn metric(report: &serde_json::Value, name: &str) -> f64 {
    report["metrics"][name]["value"]
        .as_f64()
        .unwrap_or_else(|| panic!("metric {name} in {}", report["metrics"]))
}

fn keys(report: &serde_json::Value, field: &str) -> Vec<String> {
    report[field]
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default()
}

/// The names the live report has beyond the model's (which it must all have).
fn extra(model: &serde_json::Value, live: &serde_json::Value, field: &str) -> Vec<String> {
    let (m, l) = (keys(model, field), keys(live, field));
    assert!(m.iter().all(|k| l.contains(k)), "{field}: {m:?} in {l:?}");
    l.into_iter().filter(|k| !m.contains(k)).collect()
}

/// Every recipient is delivered, with nothing dropped, missed or left over.
fn assert_all_delivered(r: &serde_json::Value) {
    assert_eq!(metric(r, "delivery_ratio"), 1.0, "{}", r["metrics"]);
    assert_eq!(metric(r, "delivered"), metric(r, "intended"));
    assert_eq!(metric(r, "dropped"), 0.0);
    assert_eq!(metric(r, "in_flight_at_end"), 0.0);
    assert_eq!(metric(r, "missed"), 0.0);
    assert!(metric(r, "broker_msgs_per_s") > 0.0);
    assert!(
        metric(r, "latency_remote_p99_ms") > 0.0,
        "cross-server copies"
    );
    assert!(metric(r, "latency_p99_ms") < 1_000.0);
}

#[test]
fn chat_live_without_a_broker_matches_the_model() {
    let mut model_args = SMALL.to_vec();
    model_args.extend(["--broker", "none"]);
    let model = json(&model_args);
    let live = live("none");

    assert_eq!(
        (&model["backend"], &live["backend"]),
        (&"model".into(), &"live".into())
    );
    assert_eq!(model["scenario"], live["scenario"]);
    assert_eq!(
        extra(&model, &live, "metrics"),
        [
            "connect_s",
            "delivered_per_s",
            "dropped",
            "latency_local_p99_ms",
            "latency_remote_p99_ms",
        ]
    );
    assert_eq!(extra(&model, &live, "parameters"), ["broker_backend"]);
    assert_eq!(keys(&model, "series"), keys(&live, "series"));
    let lens: Vec<usize> = live["series"]
        .as_object()
        .expect("series")
        .values()
        .map(|s| s["values"].as_array().map_or(0, Vec::len))
        .collect();
    assert!(
        lens[0] > 0 && lens.iter().all(|&l| l == lens[0]),
        "{lens:?}"
    );

    // The same seed draws the same rooms and senders as the model.
    for name in ["messages", "intended", "missed", "expected_delivery_ratio"] {
        assert_eq!(metric(&live, name), metric(&model, name), "{name}");
    }
    // Every member on the sender's server gets it, nobody else.
    let reached = metric(&model, "delivered") + metric(&model, "in_flight_at_end");
    assert_eq!(metric(&live, "delivered"), reached);
    assert_eq!(metric(&live, "dropped"), 0.0);
    assert_eq!(metric(&live, "in_flight_at_end"), 0.0);
    assert_eq!(metric(&live, "broker_msgs_per_s"), 0.0);
    assert!(live["metrics"]["latency_remote_p99_ms"]["value"].is_null());
    // With 2 servers about half the members share the sender's server:
    // theory says 24/49 = 0.49; 100 posts to 10 rooms stay within 0.1 of it.
    let (got, want) = (
        metric(&live, "delivery_ratio"),
        metric(&live, "expected_delivery_ratio"),
    );
    assert!((want - 24.0 / 49.0).abs() < 1e-12, "{want}");
    assert!(
        (got - want).abs() < 0.1,
        "delivery ratio {got}, theory {want}"
    );
    assert!(metric(&live, "fanout_writes_per_s") > 0.0);
}

#[test]
fn chat_live_through_the_embedded_broker_delivers_every_copy() {
    let r = live("pubsub");
    assert_eq!(r["parameters"]["broker_backend"]["value"], "embedded");
    assert_eq!(metric(&r, "messages"), 100.0);
    assert_eq!(metric(&r, "intended"), 900.0);
    assert_all_delivered(&r);
}

/// A `redis-server` this test started; killed when dropped.
struct RedisServer {
    child: Child,
    port: u16,
}

impl RedisServer {
    /// Starts one on a free loopback port, or `None` when it is not installed.
    fn start() -> Option<RedisServer> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        let child = match child {
            Ok(c) => c,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
            Err(e) => panic!("cannot start redis-server: {e}"),
        };
        let server = RedisServer { child, port };
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "redis-server did not listen on {port}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Some(server)
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn chat_live_through_redis_delivers_every_copy() {
    let Some(redis) = RedisServer::start() else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "redis-server is not on PATH, and CI needs it for this test: \
             sudo apt-get install -y redis-server"
        );
        eprintln!(
            "skipping chat_live_through_redis_delivers_every_copy: redis-server is not on \
             PATH (install it with `sudo apt-get install -y redis-server`)"
        );
        return;
    };
    let url = format!("redis://127.0.0.1:{}", redis.port);
    let r = live(&url);
    assert_eq!(
        r["parameters"]["broker_backend"]["value"],
        format!("redis 127.0.0.1:{}", redis.port)
    );
    assert_all_delivered(&r);
    drop(redis);
}

#[test]
fn chat_live_refuses_what_it_cannot_or_must_not_do() {
    let run = super::swelearn(&["simulate", "chat", "--live", "--clients", "100000"]);
    assert_eq!(run.code(), 2);
    assert!(run.stderr().contains("at most 5000"), "{}", run.stderr());

    let mut args = SMALL.to_vec();
    args.extend(["--live", "--broker", "redis://10.1.2.3:6379"]);
    let run = super::swelearn(&args);
    assert_eq!(run.code(), 2);
    assert!(run.stderr().contains("not loopback"), "{}", run.stderr());

    let mut args = SMALL.to_vec();
    args.extend(["--broker", "redis://127.0.0.1:6379"]);
    let run = super::swelearn(&args);
    assert_eq!(run.code(), 2);
    assert!(
        run.stderr().contains("only with --live"),
        "{}",
        run.stderr()
    );

    // Nothing listens on a port just freed: a clear error, not a hang.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let url = format!("redis://127.0.0.1:{port}");
    let mut args = SMALL.to_vec();
    args.extend(["--live", "--broker", &url]);
    let run = super::swelearn(&args);
    assert_ne!(run.code(), 0);
    let err = run.stderr();
    assert!(err.contains("cannot use the Redis broker"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
}

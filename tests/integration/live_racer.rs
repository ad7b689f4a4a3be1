//! `simulate racer --live`: short poll, long poll, SSE and WebSocket clients
//! against the lab server on loopback, run small through the CLI and checked
//! against the model's report and the textbook figures; and the lab's
//! `/ws/feed` endpoint the WebSocket clients use.

use futures_util::StreamExt;
use std::time::Duration;
use swelearn::live::{self, ServerConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::Message;

/// Metric, parameter or series names of a JSON report.
fn keys(report: &serde_json::Value, field: &str) -> Vec<String> {
    report[field]
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default()
}

fn metric(report: &serde_json::Value, name: &str) -> f64 {
    report["metrics"][name]["value"]
        .as_f64()
        .unwrap_or_else(|| panic!("{name} has no value: {}", report["metrics"]))
}

#[test]
fn racer_live_fills_the_models_report_with_measured_bytes() {
    let args = [
        "simulate",
        "racer",
        "--clients",
        "20",
        "--event-rate",
        "2",
        "--duration",
        "4",
        "--interval",
        "0.5",
        "--hold",
        "2",
        "--rtt-ms",
        "10",
        "--seed",
        "3",
        "--json",
    ];
    let model: serde_json::Value =
        serde_json::from_str(&super::swelearn(&args).ok()).expect("model json");
    let mut live_args = args.to_vec();
    live_args.push("--live");
    let live: serde_json::Value =
        serde_json::from_str(&super::swelearn(&live_args).ok()).expect("live json");

    assert_eq!(
        (&model["backend"], &live["backend"]),
        (&"model".into(), &"live".into())
    );
    assert_eq!(keys(&model, "metrics"), keys(&live, "metrics"));
    let mut params = keys(&model, "parameters");
    params.push("time_scale".into());
    assert_eq!(params, keys(&live, "parameters"));
    assert_eq!(keys(&model, "series"), keys(&live, "series"));

    // Same workload: the publication times come from the same seed.
    let events = metric(&live, "events");
    assert_eq!(events, metric(&model, "events"));
    assert_eq!(events, 8.0);
    for proto in ["short_poll", "long_poll", "sse", "websocket"] {
        assert_eq!(
            metric(&live, &format!("{proto}_delivered")),
            20.0 * events,
            "{proto}: every client had every event"
        );
        let bytes = metric(&live, &format!("{proto}_bytes_per_s"));
        assert!(bytes > 0.0, "{proto}: bytes counted");
    }
    // Each client polls every 0.5 s from its own phase: 8 polls in the 4 s
    // window, 20 / 0.5 = 40 requests/s; 5 % allows a poll at the window's
    // edge to slip out on a loaded machine.
    let sp = metric(&live, "short_poll_requests_per_s");
    assert!((sp - 40.0).abs() <= 2.0, "short-poll requests/s {sp}");
    // Streams make no requests once open, as in the model.
    assert_eq!(metric(&live, "websocket_requests_per_s"), 0.0);
    assert_eq!(metric(&live, "sse_requests_per_s"), 0.0);
    // Headers dominate a short poll: 500 request bytes (padded) and the
    // server's response headers against 100-byte events.
    assert!(metric(&live, "short_poll_bytes_per_s") >= 500.0 * sp);
    assert!(metric(&live, "short_poll_overhead_fraction") > 0.5);
    // A WebSocket frame of a 100-byte text is 102 bytes: the 160 deliveries
    // published in the window, minus any that arrived after it.
    let ws = metric(&live, "websocket_bytes_per_s") * 4.0;
    assert!(
        (0.75 * 160.0 * 102.0..=160.0 * 102.0).contains(&ws),
        "websocket bytes {ws}"
    );
    assert!((metric(&live, "websocket_overhead_fraction") - 2.0 / 102.0).abs() < 1e-9);
    // Short polling waits for the next poll (interval / 2 = 250 ms on
    // average); the others are pushed at once.
    let sp_lat = metric(&live, "short_poll_latency_mean_ms");
    assert!(
        (100.0..=450.0).contains(&sp_lat),
        "short-poll latency {sp_lat}"
    );
    for proto in ["long_poll", "sse", "websocket"] {
        let lat = metric(&live, &format!("{proto}_latency_mean_ms"));
        assert!(lat >= 5.0 && lat < sp_lat, "{proto} latency {lat}");
    }
    // A long poller always has a request open; a stream is always open.
    let lp_open = metric(&live, "long_poll_open_connections");
    assert!((lp_open - 20.0).abs() < 1.0, "long-poll open {lp_open}");
    assert_eq!(metric(&live, "websocket_open_connections"), 20.0);
    let series_len = live["series"]["events_per_s"]["values"]
        .as_array()
        .map_or(0, Vec::len);
    assert!(series_len > 0);
}

#[test]
fn racer_live_refuses_runs_beyond_its_bounds() {
    let run = super::swelearn(&["simulate", "racer", "--live"]);
    assert_eq!(run.code(), 2);
    assert!(run.stderr().contains("at most 500"), "{}", run.stderr());
    let run = super::swelearn(&["simulate", "racer", "--live", "--clients", "10"]);
    assert_eq!(run.code(), 2);
    assert!(run.stderr().contains("--time-scale"), "{}", run.stderr());
    let run = super::swelearn(&["simulate", "racer", "--time-scale", "10"]);
    assert_eq!(run.code(), 2, "--time-scale needs --live");
}

#[tokio::test]
async fn the_ws_feed_pushes_each_published_event() {
    let listener = live::bind("127.0.0.1:0".parse().expect("addr"), 64).expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let cfg = ServerConfig {
        tick: None,
        ..ServerConfig::default()
    };
    let server = tokio::spawn(live::run(listener, cfg, async move {
        let _ = stopped.await;
    }));
    let wait = Duration::from_secs(5);
    let (mut ws, _) = tokio::time::timeout(
        wait,
        tokio_tungstenite::connect_async(format!("ws://{addr}/ws/feed")),
    )
    .await
    .expect("in time")
    .expect("handshake");
    for text in ["first", "second"] {
        let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
        let req = format!(
            "POST /publish HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{text}",
            text.len()
        );
        s.write_all(req.as_bytes()).await.expect("send");
        let mut resp = Vec::new();
        tokio::time::timeout(wait, s.read_to_end(&mut resp))
            .await
            .expect("in time")
            .expect("read");
        let msg = tokio::time::timeout(wait, ws.next())
            .await
            .expect("in time")
            .expect("open")
            .expect("no error");
        assert_eq!(msg, Message::text(text));
    }
    let _ = stop.send(());
    let summary = tokio::time::timeout(wait, server)
        .await
        .expect("stops")
        .expect("task")
        .expect("ran");
    assert_eq!(summary.unfinished, 0);
    assert_eq!(summary.ws_sessions, 1);
}

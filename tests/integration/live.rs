//! The live lab against real clients on loopback: a tokio-tungstenite client
//! against the WebSocket endpoints, a plain TCP client speaking HTTP/1.1 to the
//! feed endpoints, and `swelearn lab serve` run as a process and stopped with
//! SIGINT. Every server binds 127.0.0.1:0 and is stopped at the end of its test.

use futures_util::{SinkExt, StreamExt};
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use swelearn::live::{self, LiveError, OriginPolicy, ServeSummary, ServerConfig, WsLimits};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

/// Upper bound on any single wait in these tests.
const WAIT: Duration = Duration::from_secs(5);

/// A lab server running in the test's runtime.
struct Lab {
    addr: SocketAddr,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<Result<ServeSummary, LiveError>>,
}

impl Lab {
    async fn start(cfg: ServerConfig) -> Lab {
        let listener = live::bind("127.0.0.1:0".parse().expect("addr"), 64).expect("bind");
        let addr = listener.local_addr().expect("local addr");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(live::run(listener, cfg, async move {
            let _ = stopped.await;
        }));
        Lab { addr, stop, task }
    }

    fn ws(&self, path: &str) -> String {
        format!("ws://{}{path}", self.addr)
    }

    /// Stops the server and checks that every task finished.
    async fn stop(self) -> ServeSummary {
        let _ = self.stop.send(());
        let summary = tokio::time::timeout(WAIT, self.task)
            .await
            .expect("server stops in time")
            .expect("server task")
            .expect("server ran");
        assert_eq!(summary.unfinished, 0, "every task stopped");
        summary
    }
}

/// A quiet configuration: no ticks, so the feed holds only what a test publishes.
fn quiet() -> ServerConfig {
    ServerConfig {
        tick: None,
        ..ServerConfig::default()
    }
}

type Client = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<TcpStream>>;

async fn connect(url: &str) -> Client {
    let (ws, resp) = tokio::time::timeout(WAIT, tokio_tungstenite::connect_async(url))
        .await
        .expect("handshake in time")
        .expect("handshake");
    assert_eq!(resp.status(), 101);
    ws
}

/// The next data message's text (pings and pongs skipped).
async fn next_text(ws: &mut Client) -> String {
    loop {
        let msg = tokio::time::timeout(WAIT, ws.next())
            .await
            .expect("a message in time")
            .expect("stream open")
            .expect("no error");
        match msg {
            Message::Text(t) => return t.to_string(),
            Message::Ping(_) | Message::Pong(_) => {}
            other => panic!("expected text, got {other:?}"),
        }
    }
}

/// The next chat line that is not a `* ...` notice.
async fn next_line(ws: &mut Client) -> String {
    loop {
        let line = next_text(ws).await;
        if !line.starts_with("* ") {
            return line;
        }
    }
}

/// One HTTP/1.1 request with `Connection: close`; returns status line + headers
/// and the body.
async fn http(addr: SocketAddr, request: &str) -> (String, String) {
    let mut s = TcpStream::connect(addr).await.expect("connect");
    s.write_all(request.as_bytes()).await.expect("send");
    let mut raw = Vec::new();
    tokio::time::timeout(WAIT, s.read_to_end(&mut raw))
        .await
        .expect("response in time")
        .expect("read");
    let text = String::from_utf8(raw).expect("utf-8 response");
    let (head, body) = text.split_once("\r\n\r\n").expect("headers end");
    (head.to_string(), body.to_string())
}

/// Reads from a stream until `seen` contains `needle`.
async fn read_until(s: &mut TcpStream, seen: &mut String, needle: &str) {
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + WAIT;
    while !seen.contains(needle) {
        let n = tokio::time::timeout_at(deadline, s.read(&mut buf))
            .await
            .unwrap_or_else(|_| panic!("no {needle:?} in time: {seen}"))
            .expect("read");
        assert!(n > 0, "stream ended early: {seen}");
        seen.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
}

async fn get(addr: SocketAddr, path: &str) -> (String, String) {
    http(
        addr,
        &format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"),
    )
    .await
}

async fn publish(addr: SocketAddr, text: &str) -> u64 {
    let (head, body) = http(
        addr,
        &format!(
            "POST /publish HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{text}",
            text.len()
        ),
    )
    .await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let v: serde_json::Value = serde_json::from_str(&body).expect("json");
    v["id"].as_u64().expect("id")
}

#[tokio::test]
async fn echo_returns_every_message_and_shutdown_closes_with_1001() {
    let lab = Lab::start(quiet()).await;
    let mut ws = connect(&lab.ws("/ws/echo")).await;
    ws.send(Message::text("hello")).await.expect("send");
    assert_eq!(next_text(&mut ws).await, "hello");
    ws.send(Message::binary(vec![0u8, 1, 2, 255]))
        .await
        .expect("send");
    let back = tokio::time::timeout(WAIT, ws.next())
        .await
        .expect("in time");
    assert_eq!(
        back.map(|m| m.ok()),
        Some(Some(Message::binary(vec![0u8, 1, 2, 255])))
    );

    let summary = lab.stop().await;
    assert_eq!(summary.ws_sessions, 1);
    let close = tokio::time::timeout(WAIT, ws.next())
        .await
        .expect("in time");
    match close {
        Some(Ok(Message::Close(Some(frame)))) => assert_eq!(frame.code, CloseCode::Away),
        other => panic!("expected close 1001, got {other:?}"),
    }
}

#[tokio::test]
async fn chat_reaches_every_member_of_the_room_and_no_one_else() {
    let lab = Lab::start(quiet()).await;
    let mut ann = connect(&lab.ws("/ws/chat/r1?name=ann")).await;
    let mut bob = connect(&lab.ws("/ws/chat/r1?name=bob")).await;
    let mut cat = connect(&lab.ws("/ws/chat/r2?name=cat")).await;
    // Members join before the handshake answers, so nothing can be missed.
    ann.send(Message::text("hi all")).await.expect("send");
    assert_eq!(next_line(&mut bob).await, "ann: hi all");
    assert_eq!(next_line(&mut ann).await, "ann: hi all", "the sender too");
    bob.send(Message::text("hi ann")).await.expect("send");
    assert_eq!(next_line(&mut ann).await, "bob: hi ann");
    assert_eq!(next_line(&mut bob).await, "bob: hi ann");
    // cat's own line is the first message cat hears: nothing came over from r1.
    cat.send(Message::text("anyone?")).await.expect("send");
    assert_eq!(next_line(&mut cat).await, "cat: anyone?");
    // Leaving is announced to the room.
    bob.close(None).await.expect("close");
    assert_eq!(next_text(&mut ann).await, "* bob left r1 (1 here)");
    drop(cat);

    // A bad room name is refused before the upgrade.
    let err = tokio_tungstenite::connect_async(lab.ws("/ws/chat/no%20spaces"))
        .await
        .expect_err("bad room");
    match err {
        tokio_tungstenite::tungstenite::Error::Http(resp) => assert_eq!(resp.status(), 400),
        other => panic!("{other}"),
    }
    lab.stop().await;
}

#[tokio::test]
async fn handshake_rejects_an_origin_outside_the_allow_list() {
    let cfg = ServerConfig {
        origins: OriginPolicy::only(&["http://good.example"]).expect("origin"),
        ..quiet()
    };
    let lab = Lab::start(cfg).await;
    let handshake = |origin: Option<&str>| {
        let mut req = lab.ws("/ws/echo").into_client_request().expect("request");
        if let Some(o) = origin {
            req.headers_mut()
                .insert("origin", o.parse().expect("header value"));
        }
        tokio_tungstenite::connect_async(req)
    };
    match handshake(Some("http://evil.example")).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => {
            assert_eq!(resp.status(), 403)
        }
        other => panic!("expected 403, got {:?}", other.map(|(_, r)| r.status())),
    }
    let (mut ws, _) = handshake(Some("http://good.example"))
        .await
        .expect("allowed");
    ws.send(Message::text("ok")).await.expect("send");
    assert_eq!(next_text(&mut ws).await, "ok");
    let own = format!("http://{}", lab.addr);
    assert!(handshake(Some(&own)).await.is_ok(), "the server's own page");
    assert!(handshake(None).await.is_ok(), "non-browser clients");
    lab.stop().await;
}

#[tokio::test]
async fn an_oversize_message_is_closed_with_1009() {
    let cfg = ServerConfig {
        ws: WsLimits::default().with_max_message(1024),
        ..quiet()
    };
    let lab = Lab::start(cfg).await;
    let mut ws = connect(&lab.ws("/ws/echo")).await;
    let fits = "x".repeat(1024);
    ws.send(Message::text(fits.clone())).await.expect("send");
    assert_eq!(next_text(&mut ws).await, fits);
    ws.send(Message::text("y".repeat(4096)))
        .await
        .expect("send");
    let close = tokio::time::timeout(WAIT, ws.next())
        .await
        .expect("in time");
    match close {
        Some(Ok(Message::Close(Some(frame)))) => {
            assert_eq!(frame.code, CloseCode::Size);
            assert!(frame.reason.contains("1024"), "{}", frame.reason);
        }
        other => panic!("expected close 1009, got {other:?}"),
    }
    lab.stop().await;
}

#[tokio::test]
async fn sse_resumes_after_last_event_id_and_streams_new_events() {
    let lab = Lab::start(quiet()).await;
    for text in ["one", "two", "three"] {
        publish(lab.addr, text).await;
    }
    let mut s = TcpStream::connect(lab.addr).await.expect("connect");
    let req = format!(
        "GET /sse HTTP/1.1\r\nHost: {}\r\nAccept: text/event-stream\r\nLast-Event-ID: 1\r\n\r\n",
        lab.addr
    );
    s.write_all(req.as_bytes()).await.expect("send");
    let mut seen = String::new();
    read_until(&mut s, &mut seen, "data: three\n\n").await;
    assert!(seen.contains("text/event-stream"), "{seen}");
    assert!(!seen.contains("data: one"), "id 1 was seen already: {seen}");
    let two = seen.find("id: 2\ndata: two\n\n").expect("event 2");
    let three = seen.find("id: 3\ndata: three\n\n").expect("event 3");
    assert!(two < three);
    assert!(seen.contains("retry: "), "{seen}");

    publish(lab.addr, "four\nlines").await;
    read_until(&mut s, &mut seen, "data: lines\n\n").await;
    assert!(
        seen.contains("id: 4\ndata: four\ndata: lines\n\n"),
        "{seen}"
    );
    lab.stop().await;
}

#[tokio::test]
async fn sse_sends_heartbeat_comments_when_quiet() {
    let cfg = ServerConfig {
        sse_heartbeat: Duration::from_millis(50),
        ..quiet()
    };
    let lab = Lab::start(cfg).await;
    let mut s = TcpStream::connect(lab.addr).await.expect("connect");
    let req = format!("GET /sse HTTP/1.1\r\nHost: {}\r\n\r\n", lab.addr);
    s.write_all(req.as_bytes()).await.expect("send");
    let mut seen = String::new();
    read_until(&mut s, &mut seen, ": heartbeat\n").await;
    // Shutdown ends the open stream too.
    lab.stop().await;
}

#[tokio::test]
async fn short_poll_answers_at_once_and_long_poll_waits_for_an_event_or_the_hold() {
    let cfg = ServerConfig {
        long_poll_hold: Duration::from_secs(1),
        ..quiet()
    };
    let lab = Lab::start(cfg).await;
    let addr = lab.addr;
    let (head, body) = get(addr, "/poll?since=0").await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let v: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert_eq!(v["events"], serde_json::json!([]));

    // Nothing arrives: the long poll returns empty at the server's hold time...
    let start = Instant::now();
    let (_, body) = get(addr, "/longpoll?since=0").await;
    let held = start.elapsed();
    let v: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert_eq!(
        (&v["timed_out"], &v["last_id"]),
        (&serde_json::json!(true), &serde_json::json!(0))
    );
    assert!(held >= Duration::from_secs(1), "{held:?}");
    assert!(held < WAIT, "{held:?}");
    // ...or at a shorter one the client asks for.
    let start = Instant::now();
    let (_, body) = get(addr, "/longpoll?since=0&timeout=0.2").await;
    assert!(start.elapsed() >= Duration::from_millis(200));
    assert!(body.contains("\"timed_out\":true"), "{body}");

    // An event published while it waits ends it early with that event.
    let waiting = tokio::spawn(get(addr, "/longpoll?since=0"));
    tokio::time::sleep(Duration::from_millis(50)).await;
    let id = publish(addr, "news").await;
    let (_, body) = waiting.await.expect("long poll");
    let v: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert_eq!(v["timed_out"], false, "{body}");
    assert_eq!(v["events"][0]["data"], "news");
    assert_eq!(v["last_id"], id);
    // Short poll sees nothing after it.
    let (_, body) = get(addr, &format!("/poll?since={id}")).await;
    let v: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert_eq!(v["events"], serde_json::json!([]));
    assert_eq!(v["last_id"], id);
    lab.stop().await;
}

#[tokio::test]
async fn non_loopback_addresses_are_refused() {
    for addr in ["0.0.0.0:0", "192.168.1.10:8765", "[::]:0"] {
        let err = live::bind(addr.parse().expect("addr"), 64).expect_err(addr);
        assert!(matches!(err, LiveError::NotLoopback { .. }), "{err}");
        assert!(err.to_string().contains("loopback"), "{err}");
    }
    assert!(live::bind("127.0.0.1:0".parse().expect("addr"), 64).is_ok());
}

#[test]
fn lab_serve_refuses_a_non_loopback_bind_address() {
    let run = super::swelearn(&["lab", "serve", "--bind", "0.0.0.0", "--port", "0"]);
    assert_eq!(run.code(), 2);
    assert!(
        run.stderr().contains("refusing to listen on 0.0.0.0"),
        "{}",
        run.stderr()
    );
}

#[test]
fn lab_serve_serves_until_sigint_and_exits_0() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_swelearn"))
        .args(["lab", "serve", "--port", "0", "--tick", "0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn swelearn");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let mut banner = String::new();
    let url = loop {
        let line = lines.next().expect("a banner line").expect("utf-8");
        banner.push_str(&line);
        banner.push('\n');
        if let Some(url) = line.trim().strip_prefix("WebSocket echo") {
            break url.trim().to_string();
        }
    };
    assert!(url.starts_with("ws://127.0.0.1:"), "{url}");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let mut ws = connect(&url).await;
        ws.send(Message::text("from a test")).await.expect("send");
        assert_eq!(next_text(&mut ws).await, "from a test");
        let status = Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
        let close = tokio::time::timeout(WAIT, ws.next())
            .await
            .expect("in time");
        assert!(
            matches!(close, Some(Ok(Message::Close(Some(ref f)))) if f.code == CloseCode::Away),
            "{close:?}"
        );
    });
    let deadline = Instant::now() + WAIT;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("lab serve did not stop on SIGINT");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    assert_eq!(status.code(), Some(0), "{banner}{rest:?}");
    assert!(
        rest.iter()
            .any(|l| l.starts_with("stopped: served 1 connection (1 WebSocket session)")),
        "{rest:?}"
    );
}

/// Metric, parameter or series names of a JSON report.
fn keys(report: &serde_json::Value, field: &str) -> Vec<String> {
    report[field]
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default()
}

#[test]
fn herd_live_fills_the_same_report_as_the_model() {
    let args = [
        "simulate",
        "herd",
        "--clients",
        "60",
        "--jitter",
        "0.3",
        "--handshake-ms",
        "1",
        "--horizon",
        "20",
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
    assert_eq!(model["scenario"], live["scenario"]);
    assert_eq!(model["seed"], live["seed"]);
    let extra = |model: Vec<String>, live: Vec<String>| -> Vec<String> {
        assert!(
            model.iter().all(|k| live.contains(k)),
            "{model:?} in {live:?}"
        );
        live.into_iter().filter(|k| !model.contains(k)).collect()
    };
    assert_eq!(
        extra(keys(&model, "metrics"), keys(&live, "metrics")),
        ["listen_overflows"]
    );
    assert_eq!(
        extra(keys(&model, "parameters"), keys(&live, "parameters")),
        ["client_processes", "time_scale"]
    );
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

    let m = |name: &str| live["metrics"][name]["value"].as_f64();
    assert_eq!(m("connected"), Some(60.0));
    assert_eq!(m("still_trying"), Some(0.0));
    let all = m("time_to_all_s").expect("everyone connected");
    assert!((0.0..20.0).contains(&all), "{all}");
    assert!(m("connect_latency_p99_ms").is_some());
    assert!(live["wall_time_s"].as_f64().is_some());
}

#[test]
fn herd_live_refuses_runs_beyond_its_bounds() {
    let run = super::swelearn(&["simulate", "herd", "--live", "--clients", "100000"]);
    assert_eq!(run.code(), 2);
    assert!(run.stderr().contains("at most "), "{}", run.stderr());
    let run = super::swelearn(&["simulate", "herd", "--time-scale", "10"]);
    assert_eq!(run.code(), 2, "--time-scale needs --live");
}

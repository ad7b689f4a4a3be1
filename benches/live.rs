//! Live-lab benchmarks on loopback: how many idle WebSocket connections the lab
//! server holds and what each costs it in memory, how many handshakes per second
//! it completes, and what the herd's `--calibrate` burst measures.
//!
//! Run: `cargo bench --bench live` (every phase, ~30 s), or one phase:
//! `cargo bench --bench live -- held-split 9000`, `held-in-process 9000`,
//! `handshakes 10000`, `calibrate`.
//!
//! Each memory phase runs in a fresh child process (this binary again), so the
//! resident-set growth it reports is not hidden by memory an earlier phase freed.
//! Attribution:
//! - `held-split`: the lab server runs in this process, the clients in a child
//!   process, so the server's RSS growth per connection is the server's alone
//!   (user-space memory: tasks, buffers, hyper and tungstenite state; kernel
//!   socket buffers are not in any process's RSS).
//! - `held-in-process`: server and clients in one process (2 descriptors per
//!   connection, as `simulate herd --live` runs): the growth is both sides
//!   together, an upper bound for either.

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use swelearn::live::calibrate::{CalibrateOptions, calibrate_handshake};
use swelearn::live::{self, FdReport, ServerConfig, WsLimits};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;

type Client = WebSocketStream<TcpStream>;

/// Clients connecting at once while a phase opens its connections.
const CONNECT_CONCURRENCY: usize = 64;

fn main() {
    // cargo passes `--bench`; everything else is ours.
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let n = |i: usize, default: usize| args.get(i).and_then(|s| s.parse().ok()).unwrap_or(default);
    match args.first().map(String::as_str) {
        Some("held-split") => held_split(n(1, 9_000)),
        Some("held-in-process") => held_in_process(n(1, 9_000)),
        Some("handshakes") => handshakes(n(1, 10_000) as u64),
        Some("calibrate") => calibrate(),
        Some("clients-child") => clients_child(&args[1..]),
        Some(other) => eprintln!("unknown phase {other}"),
        None => {
            println!("machine: {} cores; {}", cores(), fd_report());
            for phase in [
                &["held-split", "9000"][..],
                &["held-in-process", "9000"],
                &["handshakes", "10000"],
                &["calibrate"],
            ] {
                let status = Command::new(std::env::current_exe().expect("own path"))
                    .args(phase)
                    .status()
                    .expect("run phase");
                assert!(status.success(), "{phase:?} failed");
            }
        }
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

fn fd_report() -> String {
    FdReport::read().map_or_else(|e| e.to_string(), |r| r.to_string())
}

/// Resident set size of this process, in bytes (Linux).
fn rss() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

/// A lab server on 127.0.0.1 for `max` connections; returns its address and a
/// sender that stops it.
async fn lab_server(max: usize) -> (SocketAddr, tokio::sync::oneshot::Sender<()>) {
    let listener = live::bind("127.0.0.1:0".parse().expect("addr"), 4096).expect("bind");
    let addr = listener.local_addr().expect("addr");
    let cfg = ServerConfig {
        max_connections: max,
        tick: None,
        ..ServerConfig::default()
    };
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let _ = live::run(listener, cfg, rx).await;
    });
    (addr, tx)
}

async fn connect(addr: SocketAddr) -> Result<Client, String> {
    let stream = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    let _ = stream.set_nodelay(true);
    let url = format!("ws://{addr}/ws/echo");
    tokio_tungstenite::client_async_with_config(url, stream, Some(WsLimits::default().config()))
        .await
        .map(|(ws, _)| ws)
        .map_err(|e| e.to_string())
}

/// Opens `n` echo connections, `CONNECT_CONCURRENCY` at a time.
async fn open_clients(addr: SocketAddr, n: usize) -> Vec<Client> {
    let gate = Arc::new(Semaphore::new(CONNECT_CONCURRENCY));
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let gate = gate.clone();
            tokio::spawn(async move {
                let _permit = gate.acquire_owned().await.expect("gate");
                connect(addr).await
            })
        })
        .collect();
    let mut clients = Vec::with_capacity(n);
    for t in tasks {
        match t.await.expect("task") {
            Ok(c) => clients.push(c),
            Err(e) => panic!("connection {} failed: {e}", clients.len()),
        }
    }
    clients
}

/// Sends one short message on every connection and reads its echo.
async fn echo_all(clients: &mut [Client]) -> usize {
    let mut ok = 0;
    for c in clients.iter_mut() {
        if c.send(Message::text("ping 0123456789abcdef")).await.is_ok()
            && matches!(c.next().await, Some(Ok(Message::Text(_))))
        {
            ok += 1;
        }
    }
    ok
}

fn kib(bytes: f64) -> String {
    format!("{:.1} KiB", bytes / 1024.0)
}

/// Server here, clients in a child process: server-only memory per connection.
fn held_split(n: usize) {
    println!("held-split: {n} idle WebSocket connections, clients in a child process");
    let rt = runtime();
    rt.block_on(async {
        let (addr, stop) = lab_server(n + 64).await;
        // Let the server settle, then take the baseline.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let before = rss();
        let started = Instant::now();
        let mut child = Command::new(std::env::current_exe().expect("own path"))
            .args(["clients-child", &addr.to_string(), &n.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn clients");
        let mut reader = BufReader::new(child.stdout.take().expect("child stdout"));
        let (mut reader, line) = tokio::task::spawn_blocking(move || {
            let mut line = String::new();
            let _ = reader.read_line(&mut line);
            (reader, line)
        })
        .await
        .expect("read child");
        let opened = started.elapsed();
        assert!(line.starts_with("ready"), "child said {line:?}");
        tokio::time::sleep(Duration::from_millis(500)).await;
        let idle = rss();
        println!(
            "  opened in {:.2} s; server RSS {} -> {} (+{}): {} per idle connection (server only)",
            opened.as_secs_f64(),
            kib(before as f64),
            kib(idle as f64),
            kib(idle.saturating_sub(before) as f64),
            kib(idle.saturating_sub(before) as f64 / n as f64)
        );
        // `echo` asks the child to echo once on every connection; closing stdin
        // then lets it exit.
        let mut stdin = child.stdin.take().expect("child stdin");
        let _ = stdin.write_all(b"echo\n");
        let _ = stdin.flush();
        let echoed = tokio::task::spawn_blocking(move || {
            let mut out = String::new();
            let _ = reader.read_line(&mut out);
            drop(stdin);
            let _ = child.wait();
            out
        })
        .await
        .expect("child");
        let after = rss();
        println!(
            "  after one echo on each ({}): server RSS +{} over the baseline, {} per connection",
            echoed.trim(),
            kib(after.saturating_sub(before) as f64),
            kib(after.saturating_sub(before) as f64 / n as f64)
        );
        let _ = stop.send(());
    });
    rt.shutdown_timeout(Duration::from_secs(2));
}

/// The child of `held-split`: opens the connections, says `ready`, waits for
/// `echo` on stdin, echoes once on each, says how many answered, exits at EOF.
fn clients_child(args: &[String]) {
    let addr: SocketAddr = args.first().and_then(|a| a.parse().ok()).expect("address");
    let n: usize = args.get(1).and_then(|a| a.parse().ok()).expect("count");
    let _ = FdReport::read();
    let rt = runtime();
    rt.block_on(async {
        let mut clients = open_clients(addr, n).await;
        println!("ready {}", clients.len());
        let _ = std::io::stdout().flush();
        let mut line = String::new();
        let _ = tokio::task::spawn_blocking(move || {
            let _ = std::io::stdin().read_line(&mut line);
            line
        })
        .await;
        let ok = echo_all(&mut clients).await;
        println!("{ok}/{n} echoed");
        let _ = std::io::stdout().flush();
        let _ = tokio::task::spawn_blocking(|| {
            let mut rest = String::new();
            let _ = std::io::stdin().read_line(&mut rest);
        })
        .await;
    });
    rt.shutdown_timeout(Duration::from_secs(1));
}

/// Server and clients in this process: both sides together.
fn held_in_process(n: usize) {
    let fds = FdReport::read().expect("rlimit");
    println!(
        "held-in-process: {n} idle WebSocket connections, server and clients in one process \
         ({} descriptors)",
        2 * n
    );
    fds.check(n as u64, 2).expect("fits the open-file limit");
    let rt = runtime();
    rt.block_on(async {
        let (addr, stop) = lab_server(n + 64).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let before = rss();
        let started = Instant::now();
        let mut clients = open_clients(addr, n).await;
        let opened = started.elapsed();
        tokio::time::sleep(Duration::from_millis(500)).await;
        let idle = rss();
        let open_fds = std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count());
        println!(
            "  opened in {:.2} s, {open_fds} descriptors open; RSS +{}: {} per connection \
             (server and client together)",
            opened.as_secs_f64(),
            kib(idle.saturating_sub(before) as f64),
            kib(idle.saturating_sub(before) as f64 / n as f64)
        );
        let ok = echo_all(&mut clients).await;
        println!("  {ok}/{n} answered an echo");
        drop(clients);
        let _ = stop.send(());
    });
    rt.shutdown_timeout(Duration::from_secs(2));
}

/// Sustained handshakes per second: 32 clients in this process connect, finish
/// the handshake and hang up, over and over, against the lab server.
fn handshakes(total: u64) {
    const CONCURRENCY: u64 = 32;
    const WARMUP: u64 = 500;
    println!(
        "handshakes: {total} WebSocket handshakes against the lab server (/ws/echo), \
         {CONCURRENCY} clients at a time in the same process"
    );
    let rt = runtime();
    rt.block_on(async {
        let (addr, stop) = lab_server(1024).await;
        let tickets = Arc::new(AtomicU64::new(0));
        let done = Arc::new(AtomicU64::new(0));
        let failed = Arc::new(AtomicU64::new(0));
        let warm = Arc::new(std::sync::Mutex::new(None::<Instant>));
        let started = Instant::now();
        let tasks: Vec<_> = (0..CONCURRENCY)
            .map(|_| {
                let (tickets, done, failed, warm) =
                    (tickets.clone(), done.clone(), failed.clone(), warm.clone());
                tokio::spawn(async move {
                    while tickets.fetch_add(1, Ordering::Relaxed) < total {
                        match connect(addr).await {
                            Ok(ws) => {
                                drop(ws);
                                if done.fetch_add(1, Ordering::Relaxed) + 1 == WARMUP {
                                    *warm.lock().expect("lock") = Some(Instant::now());
                                }
                            }
                            Err(_) => {
                                failed.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.expect("client task");
        }
        let end = Instant::now();
        let from = warm.lock().expect("lock").unwrap_or(started);
        let timed = done.load(Ordering::Relaxed).saturating_sub(WARMUP);
        let secs = (end - from).as_secs_f64();
        println!(
            "  {} completed, {} failed; {timed} after a {WARMUP}-handshake warm-up in {:.3} s: \
             {:.0} handshakes/s",
            done.load(Ordering::Relaxed),
            failed.load(Ordering::Relaxed),
            secs,
            timed as f64 / secs
        );
        let _ = stop.send(());
    });
    rt.shutdown_timeout(Duration::from_secs(2));
}

/// The `simulate herd --calibrate` burst.
fn calibrate() {
    match calibrate_handshake(&CalibrateOptions::default()) {
        Ok(c) => println!("calibrate (the herd server, 1 worker): {c}"),
        Err(e) => println!("calibrate failed: {e}"),
    }
}

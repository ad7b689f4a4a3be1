//! The lab server: [`run`] takes a bound loopback listener and a shutdown future,
//! accepts connections until the future completes, serves each one with hyper
//! (HTTP/1.1, upgraded to WebSocket where asked), then stops every task it started.
//!
//! Shaped like mini-redis's server: a semaphore bounds open connections (the
//! accept loop waits for a free slot, so excess clients queue in the kernel's
//! accept backlog), a [`CancellationToken`] tells every connection, stream and
//! WebSocket session to finish, and a [`TaskTracker`] waits for them, at most
//! [`ServerConfig::grace`].

use super::chat::Rooms;
use super::error::LiveError;
use super::feed::Feed;
use super::limits::WsLimits;
use super::origin::OriginPolicy;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower_service::Service;

/// Everything a lab server needs to know; [`Default`] is what `lab serve` uses.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// WebSocket buffer and message limits.
    pub ws: WsLimits,
    /// Which browser origins may open WebSockets.
    pub origins: OriginPolicy,
    /// Most connections open at once (HTTP and WebSocket together).
    pub max_connections: usize,
    /// Longest a long poll is held before it returns empty.
    pub long_poll_hold: Duration,
    /// Quiet time after which an SSE stream sends a heartbeat comment.
    pub sse_heartbeat: Duration,
    /// Publish a `tick N` event this often (`None`: never).
    pub tick: Option<Duration>,
    /// Events the feed keeps for poll, long poll and SSE resumption.
    pub feed_capacity: usize,
    /// Largest `POST /publish` body, in bytes.
    pub max_publish: usize,
    /// Largest HTTP/1 read buffer per connection, in bytes (hyper's minimum is 8 KiB).
    pub http_max_buf: usize,
    /// Longest a client may take to send a request's headers.
    pub header_read_timeout: Duration,
    /// Longest shutdown waits for open connections and sessions to finish.
    pub grace: Duration,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            ws: WsLimits::default(),
            origins: OriginPolicy::any(),
            max_connections: 1024,
            long_poll_hold: Duration::from_secs(25),
            sse_heartbeat: Duration::from_secs(15),
            tick: Some(Duration::from_secs(5)),
            feed_capacity: 1024,
            max_publish: 4 * 1024,
            http_max_buf: 16 * 1024,
            header_read_timeout: Duration::from_secs(10),
            grace: Duration::from_secs(3),
        }
    }
}

impl ServerConfig {
    /// Checks values that would otherwise panic deep inside hyper or tokio.
    pub fn validate(&self) -> Result<(), LiveError> {
        let bad = |m: &str| Err(LiveError::Config(m.to_string()));
        if self.max_connections == 0 {
            return bad("max_connections must be at least 1");
        }
        if self.http_max_buf < 8 * 1024 {
            return bad("http_max_buf must be at least 8 KiB (hyper's minimum)");
        }
        if self.tick.is_some_and(|t| t.is_zero()) {
            return bad("tick must be longer than zero (or off)");
        }
        if self.sse_heartbeat.is_zero() {
            return bad("sse_heartbeat must be longer than zero");
        }
        Ok(())
    }
}

/// What a finished server did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServeSummary {
    /// Connections accepted.
    pub connections: u64,
    /// WebSocket sessions opened.
    pub ws_sessions: u64,
    /// Events published to the feed.
    pub events: u64,
    /// Tasks still running when the grace period ended (0: a clean stop).
    pub unfinished: usize,
}

/// State shared by every handler of one server.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) cfg: ServerConfig,
    pub(crate) feed: Feed,
    pub(crate) rooms: Arc<Rooms>,
    pub(crate) cancel: CancellationToken,
    pub(crate) tasks: TaskTracker,
    pub(crate) ws_sessions: AtomicU64,
}

/// A connection's slot in the connection limit, carried by each of its requests
/// so an upgraded WebSocket keeps the slot after hyper lets go of the connection.
#[derive(Debug, Clone)]
pub(crate) struct ConnSlot(#[allow(dead_code)] pub(crate) Arc<OwnedSemaphorePermit>);

/// Serves the lab on `listener` until `shutdown` completes, then closes every
/// connection (WebSockets with 1001 "going away"), ends streams and long polls,
/// and waits up to [`ServerConfig::grace`] for all of its tasks.
///
/// The listener must be bound to loopback (see [`super::addr::bind`]); any other
/// address is refused before anything is served.
pub async fn run(
    listener: TcpListener,
    mut cfg: ServerConfig,
    shutdown: impl Future,
) -> Result<ServeSummary, LiveError> {
    let local = listener.local_addr().map_err(LiveError::Runtime)?;
    super::addr::loopback_addr(local)?;
    cfg.validate()?;
    cfg.origins = cfg.origins.with_own(local);

    let cancel = CancellationToken::new();
    let tasks = TaskTracker::new();
    let shared = Arc::new(Shared {
        feed: Feed::new(cfg.feed_capacity),
        rooms: Arc::new(Rooms::default()),
        cancel: cancel.clone(),
        tasks: tasks.clone(),
        ws_sessions: AtomicU64::new(0),
        cfg,
    });
    if let Some(every) = shared.cfg.tick {
        tasks.spawn(ticker(shared.clone(), every));
    }
    let router = super::http::router(shared.clone());
    let slots = Arc::new(Semaphore::new(shared.cfg.max_connections));
    let mut connections = 0u64;

    tokio::pin!(shutdown);
    loop {
        let slot = tokio::select! {
            biased;
            _ = &mut shutdown => break,
            slot = slots.clone().acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => break, // never closed; stop rather than spin
            },
        };
        let stream = tokio::select! {
            biased;
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => stream,
                Err(e) => {
                    // Out of descriptors or an aborted handshake: wait a little and
                    // go on; the slot returns to the pool.
                    if !is_connection_error(&e) {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                    continue;
                }
            },
        };
        connections += 1;
        tasks.spawn(serve_connection(
            stream,
            router.clone(),
            ConnSlot(Arc::new(slot)),
            shared.clone(),
        ));
    }

    drop(listener);
    cancel.cancel();
    tasks.close();
    let unfinished = match tokio::time::timeout(shared.cfg.grace, tasks.wait()).await {
        Ok(()) => 0,
        Err(_) => tasks.len(),
    };
    Ok(ServeSummary {
        connections,
        ws_sessions: shared.ws_sessions.load(Ordering::Relaxed),
        events: shared.feed.newest(),
        unfinished,
    })
}

/// Errors that concern one connection only, not the listener.
fn is_connection_error(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(
        e.kind(),
        ConnectionRefused | ConnectionAborted | ConnectionReset | Interrupted
    )
}

/// Serves HTTP/1.1 on one connection until the peer leaves, the connection is
/// upgraded, or shutdown asks it to finish its current response.
async fn serve_connection(stream: TcpStream, router: Router, slot: ConnSlot, shared: Arc<Shared>) {
    // Chat and echo lines are small; do not hold them back for coalescing.
    let _ = stream.set_nodelay(true);
    let svc = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
        req.extensions_mut().insert(slot.clone());
        let mut router = router.clone();
        async move { router.call(req).await }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .max_buf_size(shared.cfg.http_max_buf)
        .timer(TokioTimer::new())
        .header_read_timeout(shared.cfg.header_read_timeout);
    let conn = builder
        .serve_connection(TokioIo::new(stream), svc)
        .with_upgrades();
    tokio::pin!(conn);
    let mut draining = false;
    loop {
        tokio::select! {
            _ = conn.as_mut() => break,
            () = shared.cancel.cancelled(), if !draining => {
                conn.as_mut().graceful_shutdown();
                draining = true;
            }
        }
    }
}

/// Publishes `tick N` every `every` until shutdown.
async fn ticker(shared: Arc<Shared>, every: Duration) {
    let mut interval = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut n = 0u64;
    loop {
        tokio::select! {
            _ = interval.tick() => {
                n += 1;
                shared.feed.publish(format!("tick {n}"));
            }
            () = shared.cancel.cancelled() => return,
        }
    }
}

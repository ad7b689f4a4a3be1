//! The pub/sub bus between the chat servers of a live run: none, the embedded
//! in-process broker (a task holding each room's subscribed servers), or a real
//! Redis server on loopback (`PUBLISH` / `SUBSCRIBE`, one channel per room).
//!
//! A server subscribes to a room when its first member joins and publishes
//! every message its clients post; the broker hands it to every *other*
//! subscribed server. Each server's link is a [`BrokerLink`]; publishing never
//! waits (a full queue drops the message, and the recipients it would have
//! reached are counted as dropped), so a slow broker cannot deadlock the
//! servers that feed it.
//!
//! Redis URLs must name a loopback host ([`loopback_redis_url`]); channel names
//! carry a per-run prefix so two runs sharing a Redis never hear each other.
//!
//! Talks to: [`super::server`] (dispatch queues), [`super::tally`], and Redis
//! through the `redis` crate.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use redis::aio::{MultiplexedConnection, PubSubSink, PubSubStream};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Utf8Bytes;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::plan::Plan;
use super::server::Dispatch;
use super::tally::Tally;
use crate::live::error::LiveError;

/// Messages the embedded broker and each Redis publisher queue before they drop.
pub(super) const BROKER_QUEUE: usize = 65_536;
/// Publishes sent to Redis in one pipeline, at most.
const PUBLISH_BATCH: usize = 256;
/// Channels named in one `SUBSCRIBE`.
const SUBSCRIBE_BATCH: usize = 1_000;
/// Longest wait for Redis to answer a connect or a subscribe.
const REDIS_TIMEOUT: Duration = Duration::from_secs(5);

/// Checks that `url` is a `redis://` URL whose host is loopback (127.0.0.0/8,
/// ::1 or `localhost`) and returns it; the live lab sends load nowhere else.
pub fn loopback_redis_url(url: &str) -> Result<String, LiveError> {
    match redis_url_problem(url) {
        None => Ok(url.to_string()),
        Some(why) => Err(LiveError::Config(format!("--broker {url}: {why}"))),
    }
}

/// What is wrong with `url` as a live run's Redis broker, or `None` when it is
/// a `redis://` URL on a loopback host.
pub fn redis_url_problem(url: &str) -> Option<String> {
    if !url.starts_with("redis://") {
        return Some(
            "only redis://HOST:PORT URLs on this machine are accepted \
             (e.g. redis://127.0.0.1:6379)"
                .into(),
        );
    }
    let client = match redis::Client::open(url) {
        Ok(c) => c,
        Err(e) => return Some(format!("not a Redis URL ({e})")),
    };
    match client.get_connection_info().addr() {
        redis::ConnectionAddr::Tcp(host, _) => {
            let h = host.trim_start_matches('[').trim_end_matches(']');
            let loopback = h.eq_ignore_ascii_case("localhost")
                || h.parse::<IpAddr>()
                    .is_ok_and(|ip| ip.to_canonical().is_loopback());
            (!loopback).then(|| {
                format!(
                    "host `{host}` is not loopback; the live lab talks to a Redis on \
                     127.0.0.1, ::1 or localhost only"
                )
            })
        }
        _ => Some("only plain TCP redis:// URLs are accepted".into()),
    }
}

/// `host:port` of a Redis URL, for reports (no user name or password).
pub(super) fn redis_endpoint(url: &str) -> String {
    match redis::Client::open(url).map(|c| c.get_connection_info().addr().clone()) {
        Ok(redis::ConnectionAddr::Tcp(h, p)) => format!("{h}:{p}"),
        _ => "?".to_string(),
    }
}

/// What the embedded broker is told.
#[derive(Debug)]
pub(super) enum BusEvent {
    /// Server `server` has members in `room` now.
    Subscribe { room: u32, server: u16 },
    /// Server `origin` publishes `frame` to `room`.
    Publish {
        room: u32,
        origin: u16,
        frame: Utf8Bytes,
    },
}

/// The embedded broker: forwards each publish to the room's other subscribers.
pub(super) async fn run_bus(
    mut inbox: mpsc::Receiver<BusEvent>,
    servers: Vec<mpsc::Sender<Dispatch>>,
    plan: Arc<Plan>,
    tally: Arc<Tally>,
    stop: CancellationToken,
) {
    let mut subs: HashMap<u32, Vec<u16>> = HashMap::new();
    loop {
        let ev = tokio::select! {
            ev = inbox.recv() => match ev { Some(ev) => ev, None => return },
            () = stop.cancelled() => return,
        };
        match ev {
            BusEvent::Subscribe { room, server } => subs.entry(room).or_default().push(server),
            BusEvent::Publish {
                room,
                origin,
                frame,
            } => {
                tally.broker(1);
                let Some(subscribers) = subs.get(&room) else {
                    continue;
                };
                let mut forwards = 0;
                for &s in subscribers {
                    if s == origin {
                        continue;
                    }
                    let fwd = Dispatch::Forward {
                        room,
                        frame: frame.clone(),
                        at: Instant::now(),
                    };
                    if servers[usize::from(s)].try_send(fwd).is_ok() {
                        forwards += 1;
                    } else {
                        tally.dropped(u64::from(plan.here(room as usize, s)));
                    }
                }
                tally.broker(forwards);
            }
        }
    }
}

/// A publish waiting for the Redis publisher task.
#[derive(Debug)]
pub(super) struct Outgoing {
    room: u32,
    payload: String,
}

/// One server's connection to the bus.
pub(super) enum BrokerLink {
    /// No broker: messages stay on their server.
    None,
    /// The embedded broker's queue.
    Embedded(mpsc::Sender<BusEvent>),
    /// Redis: the subscription half, and the publisher task's queue.
    Redis {
        sink: PubSubSink,
        publish: mpsc::Sender<Outgoing>,
        prefix: Arc<str>,
    },
}

impl BrokerLink {
    /// Subscribes server `server` to `rooms`; returns when the broker has them.
    pub async fn subscribe(&mut self, server: u16, rooms: &[u32]) -> Result<(), String> {
        match self {
            BrokerLink::None => Ok(()),
            BrokerLink::Embedded(bus) => {
                for &room in rooms {
                    bus.send(BusEvent::Subscribe { room, server })
                        .await
                        .map_err(|_| "the embedded broker stopped".to_string())?;
                }
                Ok(())
            }
            BrokerLink::Redis { sink, prefix, .. } => {
                for chunk in rooms.chunks(SUBSCRIBE_BATCH) {
                    let names: Vec<String> = chunk.iter().map(|r| channel(prefix, *r)).collect();
                    match tokio::time::timeout(REDIS_TIMEOUT, sink.subscribe(names)).await {
                        Ok(Ok(())) => {}
                        Ok(Err(e)) => return Err(format!("Redis refused SUBSCRIBE: {e}")),
                        Err(_) => {
                            return Err(format!(
                                "Redis did not confirm SUBSCRIBE within {} s",
                                REDIS_TIMEOUT.as_secs()
                            ));
                        }
                    }
                }
                Ok(())
            }
        }
    }

    /// Publishes `frame`, posted on server `origin`, to `room` without waiting.
    pub fn publish(&self, origin: u16, room: u32, frame: &Utf8Bytes, plan: &Plan, tally: &Tally) {
        let sent = match self {
            BrokerLink::None => return,
            BrokerLink::Embedded(bus) => bus
                .try_send(BusEvent::Publish {
                    room,
                    origin,
                    frame: frame.clone(),
                })
                .is_ok(),
            BrokerLink::Redis { publish, .. } => publish
                .try_send(Outgoing {
                    room,
                    payload: format!("{origin} {}", frame.as_str()),
                })
                .is_ok(),
        };
        if !sent {
            tally.dropped(u64::from(plan.elsewhere(room as usize, origin)));
        }
    }
}

/// Room `room`'s channel name.
fn channel(prefix: &str, room: u32) -> String {
    format!("{prefix}{room}")
}

/// Connects server `server` to Redis: a multiplexed connection for `PUBLISH`
/// (driven by a publisher task that pipelines what queued up) and a pub/sub
/// connection whose messages a reader task hands to the server's dispatcher.
#[allow(clippy::too_many_arguments)]
pub(super) async fn connect_redis(
    url: &str,
    prefix: Arc<str>,
    server: u16,
    dispatch: mpsc::Sender<Dispatch>,
    plan: Arc<Plan>,
    tally: Arc<Tally>,
    stop: CancellationToken,
    tasks: &TaskTracker,
) -> Result<BrokerLink, LiveError> {
    let unreachable = |e: String| LiveError::Broker {
        url: format!("redis://{}", redis_endpoint(url)),
        reason: e,
    };
    let client = redis::Client::open(url).map_err(|e| unreachable(e.to_string()))?;
    let connect = async {
        let conn = client.get_multiplexed_async_connection().await?;
        let pubsub = client.get_async_pubsub().await?;
        Ok::<_, redis::RedisError>((conn, pubsub))
    };
    let (conn, pubsub) = match tokio::time::timeout(REDIS_TIMEOUT, connect).await {
        Ok(Ok(c)) => c,
        Ok(Err(e)) => return Err(unreachable(e.to_string())),
        Err(_) => return Err(unreachable("no answer within 5 s".into())),
    };
    let (sink, stream) = pubsub.split();
    let (publish, outgoing) = mpsc::channel(BROKER_QUEUE);
    tasks.spawn(publisher(
        conn,
        outgoing,
        prefix.clone(),
        server,
        plan.clone(),
        tally.clone(),
        stop.clone(),
    ));
    tasks.spawn(subscriber(stream, server, dispatch, plan, tally, stop));
    Ok(BrokerLink::Redis {
        sink,
        publish,
        prefix,
    })
}

/// Sends queued publishes to Redis, as many as wait (up to a batch) per pipeline.
async fn publisher(
    mut conn: MultiplexedConnection,
    mut outgoing: mpsc::Receiver<Outgoing>,
    prefix: Arc<str>,
    origin: u16,
    plan: Arc<Plan>,
    tally: Arc<Tally>,
    stop: CancellationToken,
) {
    let mut batch: Vec<Outgoing> = Vec::with_capacity(PUBLISH_BATCH);
    loop {
        tokio::select! {
            n = outgoing.recv_many(&mut batch, PUBLISH_BATCH) => if n == 0 { return },
            () = stop.cancelled() => return,
        }
        let mut pipe = redis::pipe();
        for m in &batch {
            pipe.publish(channel(&prefix, m.room), m.payload.as_str())
                .ignore();
        }
        let sent: redis::RedisResult<()> = tokio::select! {
            r = pipe.query_async(&mut conn) => r,
            () = stop.cancelled() => return,
        };
        match sent {
            Ok(()) => tally.broker(batch.len() as u64),
            Err(e) => {
                for m in &batch {
                    tally.dropped(u64::from(plan.elsewhere(m.room as usize, origin)));
                }
                tally.fail(format!("Redis PUBLISH failed: {e}"));
            }
        }
        batch.clear();
    }
}

/// Hands every message from another server to this server's dispatcher.
async fn subscriber(
    mut stream: PubSubStream,
    me: u16,
    dispatch: mpsc::Sender<Dispatch>,
    plan: Arc<Plan>,
    tally: Arc<Tally>,
    stop: CancellationToken,
) {
    loop {
        let msg = tokio::select! {
            m = stream.next() => match m { Some(m) => m, None => return },
            () = stop.cancelled() => return,
        };
        let Some(room) = msg
            .get_channel_name()
            .rsplit(':')
            .next()
            .and_then(|r| r.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(text) = std::str::from_utf8(msg.get_payload_bytes()) else {
            continue;
        };
        let Some((origin, frame)) = text.split_once(' ') else {
            continue;
        };
        if origin.parse::<u16>().ok() == Some(me) {
            // Redis also delivers a publish to its own publisher's subscription.
            continue;
        }
        tally.broker(1);
        let fwd = Dispatch::Forward {
            room,
            frame: Utf8Bytes::from(frame),
            at: Instant::now(),
        };
        if dispatch.try_send(fwd).is_err() {
            tally.dropped(u64::from(plan.here(room as usize, me)));
        }
    }
}

/// The per-run channel prefix, `swelearn:chat:PID-NANOS:`.
pub(super) fn run_prefix() -> Arc<str> {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("swelearn:chat:{}-{nanos}:", std::process::id()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_redis_urls_pass() {
        for ok in [
            "redis://127.0.0.1:6379",
            "redis://localhost",
            "redis://127.0.0.2:7000/1",
            "redis://[::1]:6379",
        ] {
            assert!(loopback_redis_url(ok).is_ok(), "{ok}");
        }
        for bad in [
            "redis://10.0.0.1:6379",
            "redis://example.com",
            "redis://localhost.example.com",
            "rediss://127.0.0.1:6379",
            "unix:///tmp/redis.sock",
            "http://127.0.0.1:6379",
        ] {
            let err = loopback_redis_url(bad).expect_err(bad).to_string();
            assert!(err.contains("--broker"), "{err}");
            assert!(!err.contains('\n'), "one line: {err}");
        }
    }

    #[test]
    fn reports_name_the_endpoint_without_credentials() {
        assert_eq!(
            redis_endpoint("redis://:secret@127.0.0.1:6400"),
            "127.0.0.1:6400"
        );
    }
}

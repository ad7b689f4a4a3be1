//! One chat server instance of a live run: its own loopback listener, one task
//! per WebSocket connection, and a dispatcher task that owns the server's rooms.
//!
//! Frames (text):
//! - client to server: `J r1 r2 ...` joins rooms, `R` asks for `OK` once the
//!   joins (and the broker subscriptions they need) are done, `P room seq
//!   sender t_ns` posts a message;
//! - server to client: `OK`, and each posted `P ...` frame unchanged.
//!
//! Fan-out: the dispatcher takes a post (or a broker forward), and queues the
//! *same* frame — one `Utf8Bytes` shared by reference count, never copied per
//! recipient — on each local member's bounded write queue; each connection task
//! writes what its queue holds with `feed` and one `flush`. A full queue drops
//! that recipient's copy (counted). Posts are then published to the broker.
//!
//! Talks to: [`super::broker`] (subscribe, publish, forwards in), [`super::tally`].

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::broker::BrokerLink;
use super::plan::Plan;
use super::tally::Tally;

/// Messages a connection's write queue holds before copies for it are dropped.
pub(super) const CONN_QUEUE: usize = 256;
/// Events a server's dispatch queue holds (posts wait, forwards drop).
pub(super) const DISPATCH_QUEUE: usize = 8_192;
/// Most messages written between two flushes.
const WRITE_BATCH: usize = 64;
/// Longest a closing handshake may take at the end of a run.
const CLOSE_TIMEOUT: Duration = Duration::from_millis(200);

/// What a server's dispatcher is told.
#[derive(Debug)]
pub(super) enum Dispatch {
    /// A connection is open; its write queue.
    Open {
        conn: u32,
        out: mpsc::Sender<Message>,
    },
    /// A connection's client joins rooms.
    Join { conn: u32, rooms: Vec<u32> },
    /// A connection's client asks for `OK`.
    Ready { conn: u32 },
    /// A connection's client posts `frame` to `room`.
    Post {
        conn: u32,
        room: u32,
        frame: Utf8Bytes,
        at: Instant,
    },
    /// The broker forwards `frame`, posted on another server, to `room`.
    Forward {
        room: u32,
        frame: Utf8Bytes,
        at: Instant,
    },
}

/// What every task of one server shares.
#[derive(Clone)]
pub(super) struct Ctx {
    pub index: u16,
    pub plan: Arc<Plan>,
    pub tally: Arc<Tally>,
    pub ws: WebSocketConfig,
    pub stop: CancellationToken,
    pub tasks: TaskTracker,
}

/// Accepts connections until the run stops.
pub(super) async fn accept_loop(listener: TcpListener, ctx: Ctx, dispatch: mpsc::Sender<Dispatch>) {
    let mut next = 0u32;
    loop {
        let stream = tokio::select! {
            a = listener.accept() => match a { Ok((s, _)) => s, Err(_) => continue },
            () = ctx.stop.cancelled() => return,
        };
        let _ = stream.set_nodelay(true);
        ctx.tasks
            .spawn(connection(stream, next, ctx.clone(), dispatch.clone()));
        next = next.wrapping_add(1);
    }
}

/// One client's connection: reads its frames, writes its queue.
async fn connection(stream: TcpStream, conn: u32, ctx: Ctx, dispatch: mpsc::Sender<Dispatch>) {
    let accepted = tokio::select! {
        r = tokio_tungstenite::accept_async_with_config(stream, Some(ctx.ws)) => r,
        () = ctx.stop.cancelled() => return,
    };
    let Ok(mut ws) = accepted else { return };
    let (out, mut queue) = mpsc::channel(CONN_QUEUE);
    if dispatch.send(Dispatch::Open { conn, out }).await.is_err() {
        return;
    }
    loop {
        tokio::select! {
            biased;
            () = ctx.stop.cancelled() => {
                let _ = tokio::time::timeout(CLOSE_TIMEOUT, ws.close(None)).await;
                return;
            }
            m = queue.recv() => {
                let Some(first) = m else { return };
                let from = Instant::now();
                let mut writes = u64::from(is_delivery(&first));
                if ws.feed(first).await.is_err() {
                    return;
                }
                for _ in 1..WRITE_BATCH {
                    let Ok(m) = queue.try_recv() else { break };
                    writes += u64::from(is_delivery(&m));
                    if ws.feed(m).await.is_err() {
                        return;
                    }
                }
                if ws.flush().await.is_err() {
                    return;
                }
                ctx.tally.wrote(ctx.index, writes, from, Instant::now());
            }
            m = ws.next() => {
                let text = match m {
                    Some(Ok(Message::Text(t))) => t,
                    Some(Ok(_)) => continue,
                    Some(Err(_)) | None => return,
                };
                let Some(ev) = parse(conn, text) else { continue };
                // Waiting here pushes back on this client through TCP.
                if dispatch.send(ev).await.is_err() {
                    return;
                }
            }
        }
    }
}

fn is_delivery(m: &Message) -> bool {
    matches!(m, Message::Text(t) if t.as_bytes().first() == Some(&b'P'))
}

/// A client frame as a dispatcher event; `None` for anything else.
fn parse(conn: u32, text: Utf8Bytes) -> Option<Dispatch> {
    let s = text.as_str();
    match s.as_bytes().first()? {
        b'P' => {
            let room = s.get(2..)?.split(' ').next()?.parse().ok()?;
            Some(Dispatch::Post {
                conn,
                room,
                frame: text,
                at: Instant::now(),
            })
        }
        b'J' => {
            let rooms = s
                .get(1..)?
                .split_ascii_whitespace()
                .map(str::parse)
                .collect::<Result<Vec<u32>, _>>()
                .ok()?;
            Some(Dispatch::Join { conn, rooms })
        }
        b'R' => Some(Dispatch::Ready { conn }),
        _ => None,
    }
}

/// The server's rooms: fans each post and forward out to local members, and
/// publishes posts to the broker.
pub(super) async fn dispatcher(
    mut inbox: mpsc::Receiver<Dispatch>,
    mut link: BrokerLink,
    ctx: Ctx,
) {
    let mut outs: Vec<Option<mpsc::Sender<Message>>> = Vec::new();
    let mut rooms: HashMap<u32, Vec<u32>> = HashMap::new();
    loop {
        let ev = tokio::select! {
            ev = inbox.recv() => match ev { Some(ev) => ev, None => return },
            () = ctx.stop.cancelled() => return,
        };
        match ev {
            Dispatch::Open { conn, out } => {
                let i = conn as usize;
                if outs.len() <= i {
                    outs.resize(i + 1, None);
                }
                outs[i] = Some(out);
            }
            Dispatch::Join {
                conn,
                rooms: joined,
            } => {
                let mut new = Vec::new();
                for r in joined {
                    if r >= ctx.plan.p.rooms {
                        continue;
                    }
                    let members = rooms.entry(r).or_default();
                    if members.is_empty() {
                        new.push(r);
                    }
                    members.push(conn);
                }
                if let Err(why) = link.subscribe(ctx.index, &new).await {
                    ctx.tally.fail(why);
                }
            }
            Dispatch::Ready { conn } => {
                if let Some(Some(out)) = outs.get(conn as usize) {
                    let _ = out.try_send(Message::text("OK"));
                }
            }
            Dispatch::Post {
                conn,
                room,
                frame,
                at,
            } => {
                let from = Instant::now();
                fan_out(&ctx, &outs, rooms.get(&room), Some(conn), &frame);
                link.publish(ctx.index, room, &frame, &ctx.plan, &ctx.tally);
                ctx.tally
                    .dispatched(ctx.index, from - at, from, Instant::now());
            }
            Dispatch::Forward { room, frame, at } => {
                let from = Instant::now();
                fan_out(&ctx, &outs, rooms.get(&room), None, &frame);
                ctx.tally
                    .dispatched(ctx.index, from - at, from, Instant::now());
            }
        }
    }
}

/// Queues `frame` for every local member but the sender.
fn fan_out(
    ctx: &Ctx,
    outs: &[Option<mpsc::Sender<Message>>],
    members: Option<&Vec<u32>>,
    sender: Option<u32>,
    frame: &Utf8Bytes,
) {
    let Some(members) = members else { return };
    let mut dropped = 0;
    for &m in members {
        if Some(m) == sender {
            continue;
        }
        let queued = outs
            .get(m as usize)
            .and_then(Option::as_ref)
            .is_some_and(|out| out.try_send(Message::Text(frame.clone())).is_ok());
        if !queued {
            dropped += 1;
        }
    }
    if dropped > 0 {
        ctx.tally.dropped(dropped);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_frames_parse_and_junk_is_ignored() {
        match parse(3, Utf8Bytes::from("P 17 4 9 123")) {
            Some(Dispatch::Post {
                conn: 3, room: 17, ..
            }) => {}
            other => panic!("{other:?}"),
        }
        match parse(1, Utf8Bytes::from("J 1 2 40")) {
            Some(Dispatch::Join { conn: 1, rooms }) => assert_eq!(rooms, [1, 2, 40]),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            parse(2, Utf8Bytes::from("R")),
            Some(Dispatch::Ready { conn: 2 })
        ));
        for junk in ["", "P", "P x", "J 1 two", "hello"] {
            assert!(parse(0, Utf8Bytes::from(junk)).is_none(), "{junk:?}");
        }
    }
}

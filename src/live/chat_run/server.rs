//! One chat server instance of a live run: its own loopback listener, one task
//! per WebSocket connection, a dispatcher task that owns the server's rooms and
//! its link to the broker, and [`FAN_OUT_SHARDS`] fan-out tasks that write.
//!
//! Frames (text):
//! - client to server: `J r1 r2 ...` joins rooms, `R` asks for `OK` once the
//!   joins (and the broker subscriptions they need) are done, `P room seq
//!   sender t_ns` posts a message;
//! - server to client: `OK`, and each posted `P ...` frame unchanged.
//!
//! Fan-out, the hot path: the dispatcher encodes a message's WebSocket frame
//! *once* ([`text_frame`]: server frames are unmasked, so every recipient gets
//! the same bytes, shared by reference count) and hands it to the shards that
//! own members of the room. A shard takes whatever queued up (up to
//! [`SHARD_BATCH`] messages), gathers each connection's frames in order and
//! writes them with one non-blocking vectored write: one system call per
//! recipient when the server keeps up, fewer when it falls behind, and no task
//! wake-up per recipient. Only when a socket is full does the rest wait in
//! that connection's backlog ([`CONN_QUEUE`] frames), which the connection's
//! task writes as the socket drains; a full backlog drops that recipient's
//! copy (counted). Posts are also published to the broker.
//!
//! The connection task reads with tokio-tungstenite over the same socket
//! ([`SharedStream`]). It never writes while a shard does: after the handshake
//! the server only writes frames the shards send, and the closing frame at the
//! end of the run (clients here never ping).
//!
//! Talks to: [`super::broker`] (subscribe, publish, forwards in), [`super::tally`].

use std::collections::{HashMap, VecDeque};
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, mpsc};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::protocol::frame::Frame as WsFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::broker::BrokerLink;
use super::plan::Plan;
use super::tally::Tally;

/// Frames a connection's backlog holds (while its socket is full) before
/// copies for it are dropped.
pub(super) const CONN_QUEUE: usize = 256;
/// Events a server's dispatch queue holds (posts wait, forwards drop).
pub(super) const DISPATCH_QUEUE: usize = 8_192;
/// Longest a closing handshake may take at the end of a run.
const CLOSE_TIMEOUT: Duration = Duration::from_millis(200);

/// What a server's dispatcher is told.
#[derive(Debug)]
pub(super) enum Dispatch {
    /// A connection is open; where its frames go.
    Open { conn: u32, out: Arc<ConnOut> },
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

/// An encoded WebSocket frame, shared by every recipient.
pub(super) type Frame = Arc<[u8]>;

/// A final, unmasked text frame (as a server sends it) carrying `payload`.
pub(super) fn text_frame(payload: &[u8]) -> Frame {
    let mut f = Vec::with_capacity(payload.len() + 10);
    WsFrame::message(payload.to_vec(), OpCode::Data(Data::Text), true)
        .format(&mut f)
        .expect("writing a frame into a Vec cannot fail");
    f.into()
}

/// Where one connection's frames go: its socket, and the backlog of frames
/// (with how much of the first is written) waiting for it to drain.
#[derive(Debug)]
pub(super) struct ConnOut {
    stream: Arc<TcpStream>,
    backlog: Mutex<VecDeque<(Frame, usize)>>,
    wake: Notify,
}

impl ConnOut {
    fn new(stream: Arc<TcpStream>) -> Self {
        Self {
            stream,
            backlog: Mutex::new(VecDeque::new()),
            wake: Notify::new(),
        }
    }

    fn backlog(&self) -> MutexGuard<'_, VecDeque<(Frame, usize)>> {
        self.backlog.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Writes `frames` now (one vectored write) if nothing waits before them,
    /// and queues what the socket did not take; behind a backlog they queue.
    /// Returns the copies written or queued, and those dropped because the
    /// backlog is full or the connection broken.
    fn send_all(&self, frames: &[Frame]) -> (u64, u64) {
        let mut backlog = self.backlog();
        let mut written = 0;
        if backlog.is_empty() {
            let result = if let [one] = frames {
                self.stream.try_write(one)
            } else {
                let slices: Vec<IoSlice<'_>> = frames.iter().map(|f| IoSlice::new(f)).collect();
                self.stream.try_write_vectored(&slices)
            };
            written = match result {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => 0,
                Err(_) => return (0, frames.len() as u64),
            };
        }
        let was_empty = backlog.is_empty();
        let (mut sent, mut dropped) = (0, 0);
        for f in frames {
            if written >= f.len() {
                written -= f.len();
                sent += 1;
            } else if written > 0 || backlog.len() < CONN_QUEUE {
                // A frame partly written must be finished whatever the cap.
                backlog.push_back((f.clone(), written));
                written = 0;
                sent += 1;
            } else {
                dropped += 1;
            }
        }
        let wake = was_empty && !backlog.is_empty();
        drop(backlog);
        if wake {
            self.wake.notify_one();
        }
        (sent, dropped)
    }

    /// Writes the backlog as the socket drains, until it is empty.
    async fn drain(&self) -> io::Result<()> {
        loop {
            if self.backlog().is_empty() {
                return Ok(());
            }
            self.stream.writable().await?;
            let mut backlog = self.backlog();
            // Only this task removes or advances the front entry.
            let Some((frame, off)) = backlog.front_mut() else {
                return Ok(());
            };
            match self.stream.try_write(&frame[*off..]) {
                Ok(n) => {
                    *off += n;
                    if *off == frame.len() {
                        backlog.pop_front();
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
        }
    }
}

/// A TCP stream shared between the tungstenite reader and the dispatcher's
/// writes (readiness-based, so no `&mut` is needed).
struct SharedStream(Arc<TcpStream>);

impl AsyncRead for SharedStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        loop {
            ready!(self.0.poll_read_ready(cx))?;
            match self.0.try_read(buf.initialize_unfilled()) {
                Ok(n) => {
                    buf.advance(n);
                    return Poll::Ready(Ok(()));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }
}

impl AsyncWrite for SharedStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        loop {
            ready!(self.0.poll_write_ready(cx))?;
            match self.0.try_write(buf) {
                Ok(n) => return Poll::Ready(Ok(n)),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        // The socket closes when its last handle drops.
        Poll::Ready(Ok(()))
    }
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

/// One client's connection: reads its frames, and writes its backlog when the
/// dispatcher could not write directly.
async fn connection(stream: TcpStream, conn: u32, ctx: Ctx, dispatch: mpsc::Sender<Dispatch>) {
    let stream = Arc::new(stream);
    let accepted = tokio::select! {
        r = tokio_tungstenite::accept_async_with_config(SharedStream(stream.clone()), Some(ctx.ws)) => r,
        () = ctx.stop.cancelled() => return,
    };
    let Ok(mut ws) = accepted else { return };
    let out = Arc::new(ConnOut::new(stream));
    let open = Dispatch::Open {
        conn,
        out: out.clone(),
    };
    if dispatch.send(open).await.is_err() {
        return;
    }
    let serve = async {
        loop {
            tokio::select! {
                () = out.wake.notified() => {
                    if out.drain().await.is_err() {
                        return;
                    }
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
    };
    tokio::select! {
        () = serve => {}
        () = ctx.stop.cancelled() => {
            let _ = tokio::time::timeout(CLOSE_TIMEOUT, ws.close(None)).await;
        }
    }
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

/// Fan-out shards per server: each owns the connections `conn mod
/// FAN_OUT_SHARDS` and writes to them, so one server's writes use both cores.
pub(super) const FAN_OUT_SHARDS: usize = 2;
/// Events a shard takes in one go; frames for the same connection among them
/// go out in one system call.
pub(super) const SHARD_BATCH: usize = 64;

/// What a fan-out shard is told.
#[derive(Debug)]
enum ShardEvent {
    Open {
        conn: u32,
        out: Arc<ConnOut>,
    },
    Join {
        conn: u32,
        rooms: Vec<u32>,
    },
    Ready {
        conn: u32,
    },
    Send {
        room: u32,
        frame: Frame,
        sender: Option<u32>,
        at: Instant,
    },
}

/// The server's rooms: subscribes them at the broker, hands each post and
/// forward (framed once) to the fan-out shards, and publishes posts.
pub(super) async fn dispatcher(
    mut inbox: mpsc::Receiver<Dispatch>,
    mut link: BrokerLink,
    ctx: Ctx,
) {
    let mut shards = Vec::with_capacity(FAN_OUT_SHARDS);
    for _ in 0..FAN_OUT_SHARDS {
        let (tx, rx) = mpsc::channel(DISPATCH_QUEUE);
        ctx.tasks.spawn(shard(rx, ctx.clone()));
        shards.push(tx);
    }
    let shard_of = |conn: u32| conn as usize % FAN_OUT_SHARDS;
    // Per room, its local members in each shard.
    let mut rooms: HashMap<u32, [u32; FAN_OUT_SHARDS]> = HashMap::new();
    loop {
        let ev = tokio::select! {
            ev = inbox.recv() => match ev { Some(ev) => ev, None => return },
            () = ctx.stop.cancelled() => return,
        };
        // Setup events wait for room in a shard's queue; shards never wait
        // for the dispatcher, so this cannot deadlock.
        let setup = match ev {
            Dispatch::Open { conn, out } => Some((conn, ShardEvent::Open { conn, out })),
            Dispatch::Join {
                conn,
                rooms: joined,
            } => {
                let joined: Vec<u32> = joined
                    .into_iter()
                    .filter(|&r| r < ctx.plan.p.rooms)
                    .collect();
                let mut new = Vec::new();
                for &r in &joined {
                    let counts = rooms.entry(r).or_default();
                    if counts.iter().all(|&c| c == 0) {
                        new.push(r);
                    }
                    counts[shard_of(conn)] += 1;
                }
                if let Err(why) = link.subscribe(ctx.index, &new).await {
                    ctx.tally.fail(why);
                }
                Some((
                    conn,
                    ShardEvent::Join {
                        conn,
                        rooms: joined,
                    },
                ))
            }
            Dispatch::Ready { conn } => Some((conn, ShardEvent::Ready { conn })),
            Dispatch::Post {
                conn,
                room,
                frame,
                at,
            } => {
                let from = Instant::now();
                send_to_shards(
                    &ctx,
                    &shards,
                    rooms.get(&room),
                    room,
                    Some(conn),
                    &frame,
                    at,
                );
                link.publish(ctx.index, room, &frame, &ctx.plan, &ctx.tally);
                ctx.tally
                    .dispatched(ctx.index, 0, from - at, from, Instant::now());
                None
            }
            Dispatch::Forward { room, frame, at } => {
                let from = Instant::now();
                send_to_shards(&ctx, &shards, rooms.get(&room), room, None, &frame, at);
                ctx.tally
                    .dispatched(ctx.index, 0, from - at, from, Instant::now());
                None
            }
        };
        if let Some((conn, ev)) = setup
            && shards[shard_of(conn)].send(ev).await.is_err()
        {
            return;
        }
    }
}

/// Hands a message to every shard with members of `room` (but the sender);
/// a full shard queue drops the copies for its members.
fn send_to_shards(
    ctx: &Ctx,
    shards: &[mpsc::Sender<ShardEvent>],
    counts: Option<&[u32; FAN_OUT_SHARDS]>,
    room: u32,
    sender: Option<u32>,
    text: &Utf8Bytes,
    at: Instant,
) {
    let Some(counts) = counts else { return };
    let frame = text_frame(text.as_bytes());
    for (i, shard) in shards.iter().enumerate() {
        let from_here = sender.is_some_and(|c| c as usize % FAN_OUT_SHARDS == i);
        let recipients = counts[i] - u32::from(from_here);
        if recipients == 0 {
            continue;
        }
        let ev = ShardEvent::Send {
            room,
            frame: frame.clone(),
            sender,
            at,
        };
        if shard.try_send(ev).is_err() {
            ctx.tally.dropped(u64::from(recipients));
        }
    }
}

/// One fan-out shard: its connections and their rooms. It takes what queued
/// up (up to a batch), gathers the frames for each connection in order, and
/// writes each connection's frames with one vectored write.
async fn shard(mut inbox: mpsc::Receiver<ShardEvent>, ctx: Ctx) {
    let mut outs: Vec<Option<Arc<ConnOut>>> = Vec::new();
    let mut rooms: HashMap<u32, Vec<u32>> = HashMap::new();
    // Frames gathered per connection in this batch, and which have some.
    let mut pending: Vec<Vec<Frame>> = Vec::new();
    let mut touched: Vec<u32> = Vec::new();
    let mut batch = Vec::with_capacity(SHARD_BATCH);
    let ok = text_frame(b"OK");
    loop {
        tokio::select! {
            n = inbox.recv_many(&mut batch, SHARD_BATCH) => if n == 0 { return },
            () = ctx.stop.cancelled() => return,
        }
        let from = Instant::now();
        let mut waited = Duration::ZERO;
        for ev in batch.drain(..) {
            match ev {
                ShardEvent::Open { conn, out } => {
                    let i = conn as usize;
                    if outs.len() <= i {
                        outs.resize(i + 1, None);
                        pending.resize_with(i + 1, Vec::new);
                    }
                    outs[i] = Some(out);
                }
                ShardEvent::Join {
                    conn,
                    rooms: joined,
                } => {
                    for r in joined {
                        rooms.entry(r).or_default().push(conn);
                    }
                }
                ShardEvent::Ready { conn } => {
                    if let Some(Some(out)) = outs.get(conn as usize) {
                        let _ = out.send_all(std::slice::from_ref(&ok));
                    }
                }
                ShardEvent::Send {
                    room,
                    frame,
                    sender,
                    at,
                } => {
                    waited = waited.max(from.saturating_duration_since(at));
                    for &m in rooms.get(&room).map_or(&[][..], Vec::as_slice) {
                        if Some(m) == sender {
                            continue;
                        }
                        let p = &mut pending[m as usize];
                        if p.is_empty() {
                            touched.push(m);
                        }
                        p.push(frame.clone());
                    }
                }
            }
        }
        let (mut sent, mut dropped) = (0, 0);
        for m in touched.drain(..) {
            let frames = &mut pending[m as usize];
            match outs.get(m as usize).and_then(Option::as_ref) {
                Some(out) => {
                    let (s, d) = out.send_all(frames);
                    sent += s;
                    dropped += d;
                }
                None => dropped += frames.len() as u64,
            }
            frames.clear();
        }
        if dropped > 0 {
            ctx.tally.dropped(dropped);
        }
        if sent > 0 {
            ctx.tally
                .dispatched(ctx.index, sent, waited, from, Instant::now());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_carry_rfc6455_length_headers() {
        // RFC 6455 section 5.2: FIN + text opcode (0x81), no mask bit, then a 7-bit
        // length, or 126 + 16-bit, or 127 + 64-bit length, big-endian.
        let cases: [(usize, &[u8]); 5] = [
            (0, &[0x81, 0]),
            (125, &[0x81, 125]),
            (126, &[0x81, 126, 0, 126]),
            (65_535, &[0x81, 126, 0xff, 0xff]),
            (65_536, &[0x81, 127, 0, 0, 0, 0, 0, 1, 0, 0]),
        ];
        for (n, header) in cases {
            let payload = vec![b'x'; n];
            let f = text_frame(&payload);
            assert_eq!(&f[..header.len()], header, "{n} bytes");
            assert_eq!(f.len(), header.len() + n, "{n} bytes");
        }
    }

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

    /// A peer that does not read: the first frames fill the socket, the rest
    /// wait in the backlog in order, and past it copies are dropped.
    #[tokio::test]
    async fn a_full_socket_queues_in_order_then_drops() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let client = TcpStream::connect(addr).await.expect("connect");
        let (server, _) = listener.accept().await.expect("accept");
        let out = ConnOut::new(Arc::new(server));
        let frame = text_frame(&[b'y'; 60_000]);
        let mut sent = 0;
        while out.send_all(std::slice::from_ref(&frame)) == (1, 0) {
            sent += 1;
            assert!(sent < 100_000, "never fills");
        }
        assert_eq!(out.backlog().len(), CONN_QUEUE);
        // Behind a full backlog a batch is dropped whole.
        assert_eq!(out.send_all(&[frame.clone(), frame.clone()]), (0, 2));
        // The peer reads everything; the backlog drains to empty.
        let reader = tokio::spawn(async move {
            use tokio::io::AsyncReadExt;
            let mut client = client;
            let mut buf = vec![0u8; 1 << 16];
            let mut total = 0usize;
            while total < sent * frame.len() {
                let n = client.read(&mut buf).await.expect("read");
                assert!(n > 0);
                total += n;
            }
            total
        });
        out.drain().await.expect("drain");
        assert!(out.backlog().is_empty());
        assert_eq!(reader.await.expect("reader"), sent * 60_004);
    }
}

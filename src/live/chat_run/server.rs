//! One chat server instance of a live run: its own loopback listener, one task
//! per WebSocket connection, and a dispatcher task that owns the server's rooms.
//!
//! Frames (text):
//! - client to server: `J r1 r2 ...` joins rooms, `R` asks for `OK` once the
//!   joins (and the broker subscriptions they need) are done, `P room seq
//!   sender t_ns` posts a message;
//! - server to client: `OK`, and each posted `P ...` frame unchanged.
//!
//! Fan-out, the hot path: the dispatcher encodes a message's WebSocket frame
//! *once* ([`text_frame`]: server frames are unmasked, so every recipient gets
//! the same bytes) and writes it to each local member's socket with a
//! non-blocking `try_write` — one system call per recipient, no task wake-up,
//! no copy. Only when a socket is full does the rest wait in that
//! connection's backlog ([`CONN_QUEUE`] frames, shared by reference count),
//! which the connection's task writes when the socket drains; a full backlog
//! drops that recipient's copy (counted). Posts are then published to the
//! broker.
//!
//! The connection task reads with tokio-tungstenite over the same socket
//! ([`SharedStream`]). It never writes while the dispatcher does: after the
//! handshake the server only writes frames the dispatcher sends, and the
//! closing frame at the end of the run (clients here never ping).
//!
//! Talks to: [`super::broker`] (subscribe, publish, forwards in), [`super::tally`].

use std::collections::{HashMap, VecDeque};
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, mpsc};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
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
    let n = payload.len();
    let mut f = Vec::with_capacity(n + 10);
    f.push(0x81); // FIN + text
    if n < 126 {
        f.push(n as u8);
    } else if let Ok(short) = u16::try_from(n) {
        f.push(126);
        f.extend_from_slice(&short.to_be_bytes());
    } else {
        f.push(127);
        f.extend_from_slice(&(n as u64).to_be_bytes());
    }
    f.extend_from_slice(payload);
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

/// How a send went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sent {
    /// Written, or queued behind earlier frames.
    Ok,
    /// Backlog full or connection broken: this copy is lost.
    Dropped,
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

    /// Writes `frame` now if nothing waits before it, else queues it.
    fn send(&self, frame: &Frame) -> Sent {
        let mut backlog = self.backlog();
        if !backlog.is_empty() {
            if backlog.len() >= CONN_QUEUE {
                return Sent::Dropped;
            }
            backlog.push_back((frame.clone(), 0));
            return Sent::Ok;
        }
        let written = match self.stream.try_write(frame) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => 0,
            Err(_) => return Sent::Dropped,
        };
        if written < frame.len() {
            backlog.push_back((frame.clone(), written));
            drop(backlog);
            self.wake.notify_one();
        }
        Sent::Ok
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

/// The server's rooms: fans each post and forward out to local members, and
/// publishes posts to the broker.
pub(super) async fn dispatcher(
    mut inbox: mpsc::Receiver<Dispatch>,
    mut link: BrokerLink,
    ctx: Ctx,
) {
    let mut outs: Vec<Option<Arc<ConnOut>>> = Vec::new();
    let mut rooms: HashMap<u32, Vec<u32>> = HashMap::new();
    let ok = text_frame(b"OK");
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
                    let _ = out.send(&ok);
                }
            }
            Dispatch::Post {
                conn,
                room,
                frame,
                at,
            } => {
                let from = Instant::now();
                let writes = fan_out(&ctx, &outs, rooms.get(&room), Some(conn), &frame);
                link.publish(ctx.index, room, &frame, &ctx.plan, &ctx.tally);
                ctx.tally
                    .dispatched(ctx.index, writes, from - at, from, Instant::now());
            }
            Dispatch::Forward { room, frame, at } => {
                let from = Instant::now();
                let writes = fan_out(&ctx, &outs, rooms.get(&room), None, &frame);
                ctx.tally
                    .dispatched(ctx.index, writes, from - at, from, Instant::now());
            }
        }
    }
}

/// Sends `frame` to every local member but the sender; returns the copies
/// written or queued.
fn fan_out(
    ctx: &Ctx,
    outs: &[Option<Arc<ConnOut>>],
    members: Option<&Vec<u32>>,
    sender: Option<u32>,
    text: &Utf8Bytes,
) -> u64 {
    let Some(members) = members else { return 0 };
    let frame = text_frame(text.as_bytes());
    let (mut sent, mut dropped) = (0, 0);
    for &m in members {
        if Some(m) == sender {
            continue;
        }
        let out = outs.get(m as usize).and_then(Option::as_ref);
        match out.map(|o| o.send(&frame)) {
            Some(Sent::Ok) => sent += 1,
            Some(Sent::Dropped) | None => dropped += 1,
        }
    }
    if dropped > 0 {
        ctx.tally.dropped(dropped);
    }
    sent
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio_tungstenite::tungstenite::protocol::frame::Frame as WsFrame;
    use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};

    #[test]
    fn frames_are_encoded_as_tungstenite_encodes_them() {
        for n in [0usize, 2, 125, 126, 1000, 65_535, 65_536, 70_000] {
            let payload = vec![b'x'; n];
            let mut want = Vec::new();
            WsFrame::message(payload.clone(), OpCode::Data(Data::Text), true)
                .format(&mut want)
                .expect("encode");
            assert_eq!(&*text_frame(&payload), want.as_slice(), "{n} bytes");
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
        while out.send(&frame) == Sent::Ok {
            sent += 1;
            assert!(sent < 100_000, "never fills");
        }
        assert_eq!(out.backlog().len(), CONN_QUEUE);
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

//! Sockets for the scenario runners that must not let the kernel hide a backlog:
//! a loopback listener and client connections with small, explicit `SO_SNDBUF`
//! and `SO_RCVBUF` ([`SOCKET_BUFFER`], set before `listen`/`connect` so TCP
//! autotuning stays off), and [`Counted`], a stream wrapper that counts the bytes
//! that cross it (what a WebSocket frame really costs on the wire).
//!
//! Used by [`super::backpressure`] and [`super::heartbeat`]; binds through
//! [`super::addr::loopback_addr`], so nothing but loopback is ever opened.

use super::addr;
use super::error::LiveError;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpSocket, TcpStream};

/// Bytes asked for each socket's send and receive buffer. Linux doubles the
/// value for its bookkeeping, so a socket holds about 8 KiB each way; a default
/// loopback socket autotunes to megabytes and would swallow a slow reader's
/// backlog where the application cannot see it.
pub const SOCKET_BUFFER: u32 = 4096;

fn small(socket: &TcpSocket) -> io::Result<()> {
    socket.set_send_buffer_size(SOCKET_BUFFER)?;
    socket.set_recv_buffer_size(SOCKET_BUFFER)
}

/// A listener on 127.0.0.1 (port chosen by the kernel) whose accepted sockets
/// inherit the small buffers, with an explicit accept `backlog`.
pub fn listen_small(backlog: u32) -> Result<TcpListener, LiveError> {
    let addr = addr::loopback_addr(SocketAddr::from(([127, 0, 0, 1], 0)))?;
    let err = |source| LiveError::Bind { addr, source };
    let socket = TcpSocket::new_v4().map_err(err)?;
    socket.set_reuseaddr(true).map_err(err)?;
    small(&socket).map_err(err)?;
    socket.bind(addr).map_err(err)?;
    socket.listen(backlog).map_err(err)
}

/// Connects to a loopback `server` with small buffers and Nagle off.
pub async fn connect_small(server: SocketAddr) -> io::Result<TcpStream> {
    let server = addr::loopback_addr(server).map_err(io::Error::other)?;
    let socket = TcpSocket::new_v4()?;
    small(&socket)?;
    socket.set_nodelay(true)?;
    socket.connect(server).await
}

/// Bytes read from and written to a [`Counted`] stream.
#[derive(Debug, Default)]
pub struct ByteCount {
    read: AtomicU64,
    written: AtomicU64,
}

impl ByteCount {
    /// Bytes read plus bytes written so far.
    pub fn total(&self) -> u64 {
        self.read.load(Ordering::Relaxed) + self.written.load(Ordering::Relaxed)
    }
}

/// A stream that counts every byte read from and written to it.
#[derive(Debug)]
pub struct Counted<S> {
    inner: S,
    count: Arc<ByteCount>,
}

impl<S> Counted<S> {
    /// Wraps `inner`; the counts start at zero.
    pub fn new(inner: S) -> Self {
        Self {
            inner,
            count: Arc::default(),
        }
    }

    /// The shared counters (they outlive the stream).
    pub fn count(&self) -> Arc<ByteCount> {
        self.count.clone()
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Counted<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let r = Pin::new(&mut this.inner).poll_read(cx, buf);
        let n = buf.filled().len().saturating_sub(before);
        this.count.read.fetch_add(n as u64, Ordering::Relaxed);
        r
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Counted<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = &r {
            this.count.written.fetch_add(*n as u64, Ordering::Relaxed);
        }
        r
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn accepted_and_connected_sockets_keep_small_buffers_and_bytes_are_counted() {
        let listener = listen_small(16).expect("listen");
        let addr = listener.local_addr().expect("addr");
        let (client, accepted) = tokio::join!(connect_small(addr), listener.accept());
        let client = client.expect("connect");
        let (server, _) = accepted.expect("accept");
        let buf = |s: TcpStream| {
            let std = s.into_std().expect("std stream");
            TcpSocket::from_std_stream(std)
                .send_buffer_size()
                .expect("SO_SNDBUF")
        };
        let (mut client, server) = (Counted::new(client), server);
        let count = client.count();
        client.write_all(b"hello").await.expect("write");
        let mut server = server;
        let mut got = [0u8; 5];
        server.read_exact(&mut got).await.expect("read");
        server.write_all(b"hi").await.expect("write back");
        let mut back = [0u8; 2];
        client.read_exact(&mut back).await.expect("read back");
        assert_eq!(count.total(), 7);
        // Linux reports twice the value asked for; autotuned sockets are far larger.
        assert!(buf(server) <= 4 * SOCKET_BUFFER);
    }

    #[test]
    fn only_loopback_is_dialled() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let err = rt
            .block_on(connect_small(SocketAddr::from(([10, 0, 0, 1], 80))))
            .expect_err("refused");
        assert!(err.to_string().contains("loopback"), "{err}");
    }
}

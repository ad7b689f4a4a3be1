//! [`Counted`]: an `AsyncRead + AsyncWrite` wrapper that reports every byte
//! that crosses it, so a client measures what it really sent and received on
//! the wire (HTTP headers, chunk framing, WebSocket frame headers included)
//! rather than estimating it. Used by the racer's live clients
//! ([`super::racer`]); the counting itself is the [`ByteSink`]'s business.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Where a [`Counted`] stream reports its bytes.
pub trait ByteSink: Send + Sync {
    /// `n` bytes were read (`inbound`) or written on the stream of `tag`.
    fn bytes(&self, tag: usize, n: usize, inbound: bool);
}

/// A stream whose reads and writes are reported to a [`ByteSink`] under a tag.
pub struct Counted<S> {
    inner: S,
    tag: usize,
    sink: Arc<dyn ByteSink>,
}

impl<S> Counted<S> {
    /// Wraps `inner`, reporting its bytes to `sink` under `tag`.
    pub fn new(inner: S, tag: usize, sink: Arc<dyn ByteSink>) -> Self {
        Self { inner, tag, sink }
    }

    /// The wrapped stream.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Counted<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        let n = buf.filled().len().saturating_sub(before);
        if n > 0 {
            self.sink.bytes(self.tag, n, true);
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Counted<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = polled
            && n > 0
        {
            self.sink.bytes(self.tag, n, false);
        }
        polled
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[derive(Default)]
    struct Tally(Mutex<Vec<(usize, usize, bool)>>);

    impl ByteSink for Tally {
        fn bytes(&self, tag: usize, n: usize, inbound: bool) {
            if let Ok(mut v) = self.0.lock() {
                v.push((tag, n, inbound));
            }
        }
    }

    #[tokio::test]
    async fn every_byte_each_way_is_reported() {
        let (a, mut b) = tokio::io::duplex(64);
        let tally = Arc::new(Tally::default());
        let mut c = Counted::new(a, 3, tally.clone());
        c.write_all(b"hello").await.expect("write");
        let mut got = [0u8; 5];
        b.read_exact(&mut got).await.expect("read");
        b.write_all(b"answer!").await.expect("write");
        let mut back = [0u8; 7];
        c.read_exact(&mut back).await.expect("read");
        let v = tally.0.lock().expect("lock").clone();
        let out: usize = v.iter().filter(|e| !e.2).map(|e| e.1).sum();
        let inn: usize = v.iter().filter(|e| e.2).map(|e| e.1).sum();
        assert_eq!((out, inn), (5, 7));
        assert!(v.iter().all(|e| e.0 == 3));
    }
}

//! One client of a live chat run: a tokio-tungstenite WebSocket to its server
//! (client `i` on server `i mod servers`), which joins its rooms, reports ready,
//! then posts when the scheduler tells it to and records every message it
//! receives with its publish-to-deliver latency.
//!
//! A post is stamped with the time its sender hands it to the socket (ns since
//! the run's start on the shared monotonic clock); a receipt's latency is the
//! receive time minus that stamp, so it spans the sender's socket, its server,
//! the broker and the recipient's server and socket.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio::sync::{Semaphore, mpsc};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_util::sync::CancellationToken;

use super::plan::Plan;
use super::tally::Tally;

/// Rooms named in one join frame.
const JOIN_BATCH: usize = 512;
/// Connection attempts before a client gives up (the accept queue may be full
/// for a moment while thousands connect).
const CONNECT_TRIES: u32 = 5;

/// A post the scheduler hands to a client.
#[derive(Debug, Clone, Copy)]
pub(super) struct Post {
    pub room: u32,
    pub seq: u64,
}

/// How a client's setup ended.
pub(super) type Ready = Result<(), String>;

/// What a client needs.
pub(super) struct Client {
    pub id: u32,
    pub server: SocketAddr,
    pub plan: Arc<Plan>,
    pub tally: Arc<Tally>,
    pub ws: WebSocketConfig,
    pub stop: CancellationToken,
}

impl Client {
    /// Connects, joins, reports on `ready`, then posts and receives until the
    /// run stops. `gate` bounds how many clients handshake at once.
    pub async fn run(
        self,
        mut posts: mpsc::Receiver<Post>,
        ready: mpsc::Sender<Ready>,
        gate: Arc<Semaphore>,
    ) {
        let setup = async {
            let _permit = gate.acquire().await.map_err(|_| "stopped".to_string())?;
            let mut ws = self.connect().await?;
            for chunk in self.plan.rooms_of(self.id).chunks(JOIN_BATCH) {
                let mut frame = String::from("J");
                for r in chunk {
                    frame.push(' ');
                    frame.push_str(&r.to_string());
                }
                ws.feed(Message::text(frame))
                    .await
                    .map_err(|e| e.to_string())?;
            }
            ws.send(Message::text("R"))
                .await
                .map_err(|e| e.to_string())?;
            loop {
                match ws.next().await {
                    Some(Ok(Message::Text(t))) if t.as_str() == "OK" => return Ok(ws),
                    Some(Ok(_)) => {}
                    Some(Err(e)) => return Err(e.to_string()),
                    None => return Err("the server closed the connection".to_string()),
                }
            }
        };
        let mut ws = tokio::select! {
            r = setup => match r {
                Ok(ws) => ws,
                Err(e) => {
                    let _ = ready.send(Err(format!("client {} ({}): {e}", self.id, self.server))).await;
                    return;
                }
            },
            () = self.stop.cancelled() => return,
        };
        if ready.send(Ok(())).await.is_err() {
            return;
        }
        drop(ready);
        let my_server = self.plan.server_of(self.id);
        let serve = async {
            let mut posting = true;
            loop {
                tokio::select! {
                    p = posts.recv(), if posting => match p {
                        Some(p) => {
                            let t = self.tally.now_ns();
                            let frame = format!("P {} {} {} {t}", p.room, p.seq, self.id);
                            if ws.send(Message::text(frame)).await.is_err() {
                                return;
                            }
                        }
                        None => posting = false,
                    },
                    m = ws.next() => match m {
                        Some(Ok(Message::Text(t))) => {
                            if let Some((sender, at)) = parse_delivery(t.as_str()) {
                                let now = self.tally.now_ns();
                                let local = self.plan.server_of(sender) == my_server;
                                self.tally
                                    .receipt(self.id, now, now.saturating_sub(at), local);
                            }
                        }
                        Some(Ok(_)) => {}
                        Some(Err(_)) | None => return,
                    },
                }
            }
        };
        tokio::select! {
            () = serve => {}
            () = self.stop.cancelled() => {}
        }
    }

    async fn connect(&self) -> Result<tokio_tungstenite::WebSocketStream<TcpStream>, String> {
        let url = format!("ws://{}/chat", self.server);
        let mut last = String::new();
        for attempt in 0..CONNECT_TRIES {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(50 << attempt)).await;
            }
            let stream = match TcpStream::connect(self.server).await {
                Ok(s) => s,
                Err(e) => {
                    last = e.to_string();
                    continue;
                }
            };
            let _ = stream.set_nodelay(true);
            match tokio_tungstenite::client_async_with_config(url.as_str(), stream, Some(self.ws))
                .await
            {
                Ok((ws, _)) => return Ok(ws),
                Err(e) => last = e.to_string(),
            }
        }
        Err(format!(
            "cannot connect after {CONNECT_TRIES} tries: {last}"
        ))
    }
}

/// The sender and post stamp of a delivered `P room seq sender t_ns` frame.
fn parse_delivery(s: &str) -> Option<(u32, u64)> {
    let mut f = s.strip_prefix("P ")?.split(' ');
    let (_room, _seq) = (f.next()?, f.next()?);
    let sender = f.next()?.parse().ok()?;
    let at = f.next()?.parse().ok()?;
    Some((sender, at))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deliveries_carry_sender_and_stamp() {
        assert_eq!(parse_delivery("P 3 7 42 1000"), Some((42, 1000)));
        assert_eq!(parse_delivery("OK"), None);
        assert_eq!(parse_delivery("P 3 7 x 1000"), None);
    }
}

//! WebSocket endpoints: the RFC 6455 handshake on top of hyper's upgrade (with the
//! Origin check), then tokio-tungstenite sessions — `/ws/echo` sends every message
//! back, `/ws/chat/{room}` relays text to every member of the room, `/ws/feed`
//! pushes the feed's events (the same feed as poll, long poll and SSE).
//!
//! Each session runs on the server's task tracker with the connection's slot in
//! the connection limit, uses the buffer and size limits of [`WsLimits`], closes
//! oversize messages with 1009, binary chat messages with 1003, and ends with 1001
//! when the server shuts down.

use super::chat::Membership;
use super::limits::WsLimits;
use super::server::{ConnSlot, Shared};
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::{SinkExt, StreamExt};
use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use serde::Deserialize;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::io::AsyncReadExt;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Error as WsError;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role};
use tokio_util::sync::CancellationToken;

/// A server-side WebSocket over an upgraded hyper connection.
type Ws = WebSocketStream<TokioIo<Upgraded>>;

/// Longest a closing handshake may take before the connection is dropped.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(1);

/// `GET /ws/echo`: every text or binary message comes back unchanged.
pub(crate) async fn echo(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let cancel = shared.cancel.clone();
    let limits = shared.cfg.ws;
    upgrade(&shared, req, move |ws| echo_session(ws, limits, cancel))
}

/// Query of a feed handshake.
#[derive(Debug, Deserialize)]
pub(crate) struct FeedWsQuery {
    /// Send the events after this id (default: only events published from now on).
    since: Option<u64>,
}

/// `GET /ws/feed[?since=N]`: every feed event as one text message holding the
/// event's text, from the handshake on (or after id N). The starting point is
/// fixed before the handshake completes, so a client that sees 101 gets every
/// later event.
pub(crate) async fn feed(
    State(shared): State<Arc<Shared>>,
    Query(q): Query<FeedWsQuery>,
    req: Request,
) -> Response {
    // Subscribe before reading the newest id so nothing published in between is missed.
    let newest = shared.feed.subscribe();
    let last = q.since.unwrap_or_else(|| shared.feed.newest());
    let limits = shared.cfg.ws;
    let s = shared.clone();
    upgrade(&shared, req, move |ws| {
        feed_session(ws, s, newest, last, limits)
    })
}

/// Query of a chat handshake.
#[derive(Debug, Deserialize)]
pub(crate) struct ChatQuery {
    /// The member's name (default `guest-N`).
    name: Option<String>,
}

/// `GET /ws/chat/{room}?name=NAME`: joins the room before the handshake completes,
/// so a client that sees 101 already receives the room's messages.
pub(crate) async fn chat(
    State(shared): State<Arc<Shared>>,
    Path(room): Path<String>,
    Query(q): Query<ChatQuery>,
    req: Request,
) -> Response {
    if let Err(refusal) = check_handshake(req.headers(), &shared) {
        return *refusal;
    }
    let member = match shared.rooms.join(&room, q.name.as_deref()) {
        Ok(m) => m,
        Err(e) => {
            let status = match e {
                super::chat::JoinError::TooManyRooms => StatusCode::SERVICE_UNAVAILABLE,
                super::chat::JoinError::BadName { .. } => StatusCode::BAD_REQUEST,
            };
            return (status, format!("{e}\n")).into_response();
        }
    };
    let cancel = shared.cancel.clone();
    let limits = shared.cfg.ws;
    upgrade(&shared, req, move |ws| {
        chat_session(ws, member, limits, cancel)
    })
}

/// Checks the handshake headers and the Origin; `Err` is the refusal to send.
fn check_handshake(headers: &HeaderMap, shared: &Shared) -> Result<String, Box<Response>> {
    let has_token = |name: header::HeaderName, token: &str| {
        headers.get_all(name).iter().any(|v| {
            v.to_str()
                .is_ok_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
        })
    };
    if !has_token(header::UPGRADE, "websocket") || !has_token(header::CONNECTION, "upgrade") {
        return Err(Box::new(
            (
                StatusCode::UPGRADE_REQUIRED,
                [(header::UPGRADE, "websocket")],
                "This is a WebSocket endpoint: connect with a WebSocket client, \
             e.g. `websocat ws://HOST:PORT/ws/echo` (see `swelearn lab serve --help`).\n",
            )
                .into_response(),
        ));
    }
    if headers
        .get(header::SEC_WEBSOCKET_VERSION)
        .is_none_or(|v| v.as_bytes() != b"13")
    {
        return Err(Box::new(
            (
                StatusCode::UPGRADE_REQUIRED,
                [(header::SEC_WEBSOCKET_VERSION, "13")],
                "Only WebSocket version 13 (RFC 6455) is spoken here.\n",
            )
                .into_response(),
        ));
    }
    let Some(key) = headers.get(header::SEC_WEBSOCKET_KEY) else {
        return Err(Box::new(
            (StatusCode::BAD_REQUEST, "Sec-WebSocket-Key is missing.\n").into_response(),
        ));
    };
    let origin = headers
        .get(header::ORIGIN)
        .map(|o| o.to_str().unwrap_or("?"));
    if !shared.cfg.origins.allows(origin) {
        let allowed = shared.cfg.origins.allowed().join(", ");
        return Err(Box::new(
            (
                StatusCode::FORBIDDEN,
                format!(
                    "Origin {} is not allowed to open WebSockets here (allowed: {allowed}).\n",
                    origin.unwrap_or("-")
                ),
            )
                .into_response(),
        ));
    }
    Ok(derive_accept_key(key.as_bytes()))
}

/// Answers 101 and runs `session` on the upgraded connection in the server's task
/// tracker; refuses the handshake when it is not one.
fn upgrade<F, Fut>(shared: &Arc<Shared>, mut req: Request, session: F) -> Response
where
    F: FnOnce(Ws) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let accept = match check_handshake(req.headers(), shared) {
        Ok(a) => a,
        Err(refusal) => return *refusal,
    };
    let Ok(accept) = HeaderValue::from_str(&accept) else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let on_upgrade = hyper::upgrade::on(&mut req);
    let slot = req.extensions().get::<ConnSlot>().cloned();
    let config = shared.cfg.ws.config();
    shared.ws_sessions.fetch_add(1, Ordering::Relaxed);
    shared.tasks.spawn(async move {
        // Held for the session's life: the connection still counts against the limit.
        let _slot = slot;
        if let Ok(upgraded) = on_upgrade.await {
            let ws = WebSocketStream::from_raw_socket(
                TokioIo::new(upgraded),
                Role::Server,
                Some(config),
            )
            .await;
            session(ws).await;
        }
    });
    (
        StatusCode::SWITCHING_PROTOCOLS,
        [
            (header::UPGRADE, HeaderValue::from_static("websocket")),
            (header::CONNECTION, HeaderValue::from_static("Upgrade")),
            (header::SEC_WEBSOCKET_ACCEPT, accept),
        ],
    )
        .into_response()
}

async fn echo_session(mut ws: Ws, limits: WsLimits, cancel: CancellationToken) {
    loop {
        tokio::select! {
            msg = ws.next() => match msg {
                Some(Ok(m @ (Message::Text(_) | Message::Binary(_)))) => {
                    if ws.send(m).await.is_err() {
                        return;
                    }
                }
                // Pings are answered by tungstenite; after a Close, `next` ends.
                Some(Ok(_)) => {}
                Some(Err(e)) => return refuse(ws, e, &limits).await,
                None => return,
            },
            () = cancel.cancelled() => return going_away(ws).await,
        }
    }
}

async fn feed_session(
    mut ws: Ws,
    shared: Arc<Shared>,
    mut newest: tokio::sync::watch::Receiver<u64>,
    mut last: u64,
    limits: WsLimits,
) {
    loop {
        let batch = shared.feed.after(last);
        for e in &batch.events {
            if ws.send(Message::text(e.data.to_string())).await.is_err() {
                return;
            }
        }
        last = batch.last_id;
        if !batch.events.is_empty() {
            continue; // a full batch may have left more
        }
        tokio::select! {
            changed = newest.changed() => if changed.is_err() { return },
            msg = ws.next() => match msg {
                // Pings are answered by tungstenite; the client has nothing to say.
                Some(Ok(_)) => {}
                Some(Err(e)) => return refuse(ws, e, &limits).await,
                None => return,
            },
            () = shared.cancel.cancelled() => return going_away(ws).await,
        }
    }
}

async fn chat_session(
    mut ws: Ws,
    mut member: Membership,
    limits: WsLimits,
    cancel: CancellationToken,
) {
    use tokio::sync::broadcast::error::RecvError;
    loop {
        tokio::select! {
            msg = ws.next() => match msg {
                Some(Ok(Message::Text(text))) => member.say(text.as_str()),
                Some(Ok(Message::Binary(_))) => {
                    return close(ws, CloseCode::Unsupported, "chat takes text messages").await;
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => return refuse(ws, e, &limits).await,
                None => return,
            },
            line = member.rx.recv() => match line {
                Ok(line) => {
                    if ws.send(Message::Text(line)).await.is_err() {
                        return;
                    }
                }
                Err(RecvError::Lagged(n)) => {
                    let notice = format!("* you missed {n} lines: reading too slowly");
                    if ws.send(Message::text(notice)).await.is_err() {
                        return;
                    }
                }
                Err(RecvError::Closed) => return,
            },
            () = cancel.cancelled() => return going_away(ws).await,
        }
    }
}

/// Closes after a read error with the code that names it.
async fn refuse(ws: Ws, err: WsError, limits: &WsLimits) {
    match err {
        WsError::Capacity(_) => {
            let reason = format!("message larger than {} bytes", limits.max_message);
            close(ws, CloseCode::Size, &reason).await;
        }
        WsError::Utf8(_) => close(ws, CloseCode::Invalid, "text is not UTF-8").await,
        WsError::Protocol(_) => close(ws, CloseCode::Protocol, "protocol error").await,
        // The peer is gone or the socket failed: nothing to say.
        _ => {}
    }
}

/// Sends a Close frame after an error, then reads and discards what the peer
/// still sends (the rest of an oversize message) for a short while, so the
/// socket is not closed with unread data — which would reset the connection and
/// could lose the Close frame before the peer reads it.
async fn close(mut ws: Ws, code: CloseCode, reason: &str) {
    let frame = CloseFrame {
        code,
        reason: reason.into(),
    };
    let _ = tokio::time::timeout(CLOSE_TIMEOUT, ws.close(Some(frame))).await;
    let io = ws.get_mut();
    let mut sink = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + CLOSE_TIMEOUT;
    let mut drained = 0usize;
    while drained < 1 << 20 {
        match tokio::time::timeout_at(deadline, io.read(&mut sink)).await {
            Ok(Ok(n)) if n > 0 => drained += n,
            _ => break,
        }
    }
}

/// The server is stopping: close with 1001 and wait briefly for the peer's reply.
async fn going_away(mut ws: Ws) {
    let frame = CloseFrame {
        code: CloseCode::Away,
        reason: "server shutting down".into(),
    };
    let _ = tokio::time::timeout(CLOSE_TIMEOUT, async {
        if ws.close(Some(frame)).await.is_ok() {
            while let Some(Ok(_)) = ws.next().await {}
        }
    })
    .await;
}

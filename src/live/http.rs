//! The HTTP side of the lab, on axum: the routes, the feed endpoints (short
//! poll, long poll, SSE, publish; the WebSocket feed is in [`super::ws`]) and a
//! plain-text index.
//!
//! axum runs on the hyper connections that [`super::server`] drives, so its
//! handlers only shape requests and responses; the feed holds the data.

use super::feed::{Batch, Wait};
use super::server::Shared;
use super::ws;
use axum::Router;
use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::{any, get, post};
use futures_util::Stream;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// Every route of the lab server.
pub(crate) fn router(shared: Arc<Shared>) -> Router {
    let limit = shared.cfg.max_publish;
    Router::new()
        .route("/", get(index))
        .route("/poll", get(poll))
        .route("/longpoll", get(long_poll))
        .route("/sse", get(sse))
        .route("/publish", post(publish))
        .route("/ws/echo", any(ws::echo))
        .route("/ws/chat/{room}", any(ws::chat))
        .route("/ws/feed", any(ws::feed))
        .layer(DefaultBodyLimit::max(limit))
        .with_state(shared)
}

/// Query of the feed endpoints.
#[derive(Debug, Deserialize)]
struct FeedQuery {
    /// Return events after this id (default 0 for polls, "now" for SSE).
    since: Option<u64>,
    /// Long poll: hold at most this many seconds (capped by the server's hold).
    timeout: Option<f64>,
}

/// `GET /`: what this server offers.
async fn index() -> &'static str {
    "swelearn lab server (loopback only)\n\
     GET  /poll?since=N      events after id N, at once (JSON)\n\
     GET  /longpoll?since=N  events after id N, waiting for one up to the hold time (JSON)\n\
     GET  /sse               Server-Sent Events from now on (Last-Event-ID or ?since=N to resume)\n\
     POST /publish           body = the event's text; returns its id\n\
     WS   /ws/echo           every message comes back\n\
     WS   /ws/chat/ROOM      ?name=NAME; text goes to every member of ROOM\n\
     WS   /ws/feed           the feed's events as text messages from now on (?since=N to resume)\n"
}

/// `GET /poll?since=N`: the events after N, immediately.
async fn poll(State(s): State<Arc<Shared>>, Query(q): Query<FeedQuery>) -> Json<Batch> {
    Json(s.feed.after(q.since.unwrap_or(0)))
}

/// A long poll's answer.
#[derive(Debug, Serialize)]
struct LongPoll {
    #[serde(flatten)]
    batch: Batch,
    /// True when the hold time passed with no new event.
    timed_out: bool,
}

/// `GET /longpoll?since=N[&timeout=S]`: the events after N as soon as there are
/// some, or an empty answer with `timed_out` after the hold time.
async fn long_poll(State(s): State<Arc<Shared>>, Query(q): Query<FeedQuery>) -> Response {
    let since = q.since.unwrap_or(0);
    let max = s.cfg.long_poll_hold;
    let hold = q
        .timeout
        .and_then(|t| Duration::try_from_secs_f64(t).ok())
        .map_or(max, |t| t.min(max));
    let batch = s.feed.after(since);
    if !batch.events.is_empty() || batch.gap {
        return Json(LongPoll {
            batch,
            timed_out: false,
        })
        .into_response();
    }
    match s.feed.wait_after(since, hold, &s.cancel).await {
        Wait::Ready => Json(LongPoll {
            batch: s.feed.after(since),
            timed_out: false,
        })
        .into_response(),
        Wait::TimedOut => Json(LongPoll {
            batch,
            timed_out: true,
        })
        .into_response(),
        Wait::Shutdown => (
            StatusCode::SERVICE_UNAVAILABLE,
            [("retry-after", "1")],
            "server shutting down\n",
        )
            .into_response(),
    }
}

/// `POST /publish`: the body becomes an event.
async fn publish(State(s): State<Arc<Shared>>, body: String) -> Response {
    // SSE ends a line at CR, LF or CRLF; keep one kind so `data:` lines split right.
    let text = body.replace("\r\n", "\n").replace('\r', "\n");
    let text = text.strip_suffix('\n').unwrap_or(&text);
    if text.is_empty() {
        return (
            StatusCode::BAD_REQUEST,
            "the body is the event's text; it is empty\n",
        )
            .into_response();
    }
    let id = s.feed.publish(text);
    Json(serde_json::json!({ "id": id })).into_response()
}

/// `GET /sse`: the feed as Server-Sent Events, resuming after `Last-Event-ID`
/// (or `?since=N`), with heartbeat comments when it is quiet.
async fn sse(
    State(s): State<Arc<Shared>>,
    headers: HeaderMap,
    Query(q): Query<FeedQuery>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let resume = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .or(q.since);
    let heartbeat = s.cfg.sse_heartbeat;
    // Subscribe before reading the log so nothing published in between is missed.
    let newest = s.feed.subscribe();
    let last = resume.unwrap_or_else(|| s.feed.newest());
    let hello = Event::default()
        .retry(Duration::from_secs(2))
        .comment(match resume {
            Some(id) => format!("swelearn lab feed, resuming after id {id}"),
            None => format!("swelearn lab feed, new events after id {last}"),
        });
    let state = SseState {
        shared: s,
        newest,
        last,
        pending: VecDeque::from([hello]),
    };
    let stream = futures_util::stream::unfold(state, |mut st| async move {
        let event = st.next().await?;
        Some((Ok(event), st))
    });
    Sse::new(stream).keep_alive(KeepAlive::new().interval(heartbeat).text("heartbeat"))
}

/// One SSE client's position in the feed.
struct SseState {
    shared: Arc<Shared>,
    newest: watch::Receiver<u64>,
    last: u64,
    pending: VecDeque<Event>,
}

impl SseState {
    /// The next event to send, or `None` when the server shuts down.
    async fn next(&mut self) -> Option<Event> {
        loop {
            if let Some(e) = self.pending.pop_front() {
                return Some(e);
            }
            let batch = self.shared.feed.after(self.last);
            if batch.gap {
                self.pending.push_back(Event::default().comment(format!(
                    "gap: events after id {} are no longer kept; resuming from the oldest",
                    self.last
                )));
            }
            for e in &batch.events {
                self.pending
                    .push_back(Event::default().id(e.id.to_string()).data(&*e.data));
            }
            self.last = batch.last_id;
            if !self.pending.is_empty() {
                continue;
            }
            tokio::select! {
                changed = self.newest.changed() => changed.ok()?,
                () = self.shared.cancel.cancelled() => return None,
            }
        }
    }
}

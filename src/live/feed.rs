//! The event feed behind the HTTP endpoints: a bounded log of numbered events
//! that short poll reads, long poll waits on and SSE streams from.
//!
//! Ids start at 1 and grow by one per event, so a client resumes with "everything
//! after id N" (`?since=N`, or SSE's `Last-Event-ID`). The log keeps the newest
//! [`Feed::capacity`] events; a client that asks for older ones is told there was a
//! gap. Waiting uses a `watch` channel of the newest id, so no waiter can miss an
//! event published between its read and its wait.

use serde::Serialize;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// Most events one poll response carries.
pub const MAX_BATCH: usize = 100;

/// One event of the feed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FeedEvent {
    /// Its id (1, 2, ...).
    pub id: u64,
    /// Its text.
    #[serde(serialize_with = "as_str")]
    pub data: Arc<str>,
}

fn as_str<S: serde::Serializer>(s: &Arc<str>, ser: S) -> Result<S::Ok, S::Error> {
    ser.serialize_str(s)
}

/// The events after some id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Batch {
    /// Events after the asked id, oldest first, at most [`MAX_BATCH`].
    pub events: Vec<FeedEvent>,
    /// The id to ask after next time: the last event returned, or the asked one.
    pub last_id: u64,
    /// True when events after the asked id are missing: they were dropped from the
    /// bounded log, or the id is newer than any event (the server restarted).
    pub gap: bool,
}

/// How a wait for new events ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wait {
    /// Events after the id are available.
    Ready,
    /// The hold time passed without one.
    TimedOut,
    /// The server is shutting down.
    Shutdown,
}

/// A bounded, numbered event log shared by every HTTP client.
#[derive(Debug)]
pub struct Feed {
    log: Mutex<VecDeque<FeedEvent>>,
    newest: watch::Sender<u64>,
    capacity: usize,
}

impl Feed {
    /// An empty feed keeping the newest `capacity` events (at least 1).
    pub fn new(capacity: usize) -> Self {
        Self {
            log: Mutex::new(VecDeque::with_capacity(capacity.max(1))),
            newest: watch::Sender::new(0),
            capacity: capacity.max(1),
        }
    }

    /// Events kept.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// The newest id (0 before the first event).
    pub fn newest(&self) -> u64 {
        *self.newest.borrow()
    }

    /// Appends an event and wakes every waiter; returns its id.
    pub fn publish(&self, data: impl Into<Arc<str>>) -> u64 {
        let mut log = self.log.lock().unwrap_or_else(PoisonError::into_inner);
        let id = self.newest() + 1;
        if log.len() == self.capacity {
            log.pop_front();
        }
        log.push_back(FeedEvent {
            id,
            data: data.into(),
        });
        // Under the lock, so ids in the log and in the channel agree.
        self.newest.send_replace(id);
        id
    }

    /// Up to [`MAX_BATCH`] events after `since`.
    pub fn after(&self, since: u64) -> Batch {
        let log = self.log.lock().unwrap_or_else(PoisonError::into_inner);
        let newest = log.back().map_or(0, |e| e.id);
        // An id from the future means the log was reset: start over from the oldest.
        let (since, reset) = if since > newest {
            (0, true)
        } else {
            (since, false)
        };
        let oldest = log.front().map_or(newest + 1, |e| e.id);
        let gap = reset || (since + 1 < oldest && oldest > 1);
        let events: Vec<FeedEvent> = log
            .iter()
            .filter(|e| e.id > since)
            .take(MAX_BATCH)
            .cloned()
            .collect();
        let last_id = events.last().map_or(since, |e| e.id);
        Batch {
            events,
            last_id,
            gap,
        }
    }

    /// Waits until an event after `since` exists, `hold` passes, or `cancel` fires.
    pub async fn wait_after(&self, since: u64, hold: Duration, cancel: &CancellationToken) -> Wait {
        let mut rx = self.newest.subscribe();
        tokio::select! {
            r = rx.wait_for(|&newest| newest != since) => match r {
                Ok(_) => Wait::Ready,
                Err(_) => Wait::Shutdown,
            },
            () = tokio::time::sleep(hold) => Wait::TimedOut,
            () = cancel.cancelled() => Wait::Shutdown,
        }
    }

    /// A receiver that changes whenever an event is published.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.newest.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_after_an_id_and_gaps() {
        let feed = Feed::new(3);
        assert_eq!(feed.after(0).events, vec![]);
        for i in 1..=5 {
            assert_eq!(feed.publish(format!("e{i}")), i);
        }
        // The log holds ids 3..=5.
        let b = feed.after(3);
        assert_eq!(b.events.iter().map(|e| e.id).collect::<Vec<_>>(), [4, 5]);
        assert_eq!((b.last_id, b.gap), (5, false));
        let b = feed.after(2);
        assert_eq!((b.events.len(), b.gap), (3, false), "3 is the oldest kept");
        let b = feed.after(0);
        assert_eq!((b.events.len(), b.gap), (3, true), "1 and 2 were dropped");
        let b = feed.after(5);
        assert_eq!((b.events.len(), b.last_id, b.gap), (0, 5, false));
        let b = feed.after(99);
        assert_eq!(
            (b.events.len(), b.last_id, b.gap),
            (3, 5, true),
            "restarted"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn long_wait_ends_at_the_hold_time_exactly() {
        let feed = Feed::new(8);
        let cancel = CancellationToken::new();
        let start = tokio::time::Instant::now();
        let w = feed.wait_after(0, Duration::from_secs(25), &cancel).await;
        assert_eq!(w, Wait::TimedOut);
        assert_eq!(start.elapsed(), Duration::from_secs(25));
    }

    #[tokio::test(start_paused = true)]
    async fn long_wait_ends_when_an_event_arrives_or_on_shutdown() {
        let feed = Arc::new(Feed::new(8));
        let cancel = CancellationToken::new();
        let f = feed.clone();
        let publisher = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(3)).await;
            f.publish("hello")
        });
        let start = tokio::time::Instant::now();
        let w = feed.wait_after(0, Duration::from_secs(25), &cancel).await;
        assert_eq!((w, start.elapsed()), (Wait::Ready, Duration::from_secs(3)));
        assert_eq!(publisher.await.ok(), Some(1));
        // Already newer: no wait at all.
        assert_eq!(
            feed.wait_after(0, Duration::from_secs(25), &cancel).await,
            Wait::Ready
        );
        cancel.cancel();
        assert_eq!(
            feed.wait_after(1, Duration::from_secs(25), &cancel).await,
            Wait::Shutdown
        );
    }
}

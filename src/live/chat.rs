//! Chat rooms: a room is a `broadcast` channel that every member's WebSocket task
//! subscribes to. [`Rooms::join`] admits a member (creating the room on first use)
//! and returns a [`Membership`] whose drop announces the departure and removes an
//! empty room, so rooms never outlive their members.
//!
//! Lines are plain text: `alice: hello` for messages and `* ...` for notices, so
//! they read well in websocat or wscat.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use tokio::sync::broadcast;
use tokio_tungstenite::tungstenite::Utf8Bytes;

/// Lines a room buffers for a slow member before it starts missing some.
pub const ROOM_BUFFER: usize = 256;
/// Most rooms open at once.
pub const MAX_ROOMS: usize = 1024;
/// Longest room or member name, in bytes.
pub const MAX_NAME: usize = 64;

/// Why a member could not join.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JoinError {
    /// The room or member name has characters other than letters, digits, `.`, `_`, `-`.
    #[error("{what} `{name}` must be 1 to {MAX_NAME} letters, digits, `.`, `_` or `-`")]
    BadName {
        /// "room" or "name".
        what: &'static str,
        /// The name as given.
        name: String,
    },
    /// [`MAX_ROOMS`] rooms are open.
    #[error("{MAX_ROOMS} rooms are open already; join an existing one")]
    TooManyRooms,
}

/// All rooms of one server.
#[derive(Debug, Default)]
pub struct Rooms {
    rooms: Mutex<HashMap<String, Room>>,
    next_guest: AtomicU64,
}

#[derive(Debug)]
struct Room {
    tx: broadcast::Sender<Utf8Bytes>,
    members: usize,
}

/// One member's place in a room; dropping it leaves the room.
#[derive(Debug)]
pub struct Membership {
    rooms: Arc<Rooms>,
    room: String,
    name: String,
    tx: broadcast::Sender<Utf8Bytes>,
    /// Lines sent to the room, this member's own included, in the room's order.
    pub rx: broadcast::Receiver<Utf8Bytes>,
}

/// Checks a room or member name.
pub fn valid_name(what: &'static str, name: &str) -> Result<(), JoinError> {
    let ok = !name.is_empty()
        && name.len() <= MAX_NAME
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(JoinError::BadName {
            what,
            name: name.chars().take(MAX_NAME + 8).collect(),
        })
    }
}

impl Rooms {
    /// Adds a member called `name` (or `guest-N`) to `room` and announces it.
    pub fn join(self: &Arc<Self>, room: &str, name: Option<&str>) -> Result<Membership, JoinError> {
        valid_name("room", room)?;
        let name = match name {
            Some(n) => {
                valid_name("name", n)?;
                n.to_string()
            }
            None => format!(
                "guest-{}",
                self.next_guest.fetch_add(1, Ordering::Relaxed) + 1
            ),
        };
        let mut rooms = self.rooms.lock().unwrap_or_else(PoisonError::into_inner);
        if !rooms.contains_key(room) && rooms.len() >= MAX_ROOMS {
            return Err(JoinError::TooManyRooms);
        }
        let entry = rooms.entry(room.to_string()).or_insert_with(|| Room {
            tx: broadcast::Sender::new(ROOM_BUFFER),
            members: 0,
        });
        entry.members += 1;
        let rx = entry.tx.subscribe();
        let tx = entry.tx.clone();
        let here = entry.members;
        drop(rooms);
        let _ = tx.send(format!("* {name} joined {room} ({here} here)").into());
        Ok(Membership {
            rooms: self.clone(),
            room: room.to_string(),
            name,
            tx,
            rx,
        })
    }

    /// Rooms open now.
    pub fn len(&self) -> usize {
        self.rooms
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// True when no room is open.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Membership {
    /// The member's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The room's name.
    pub fn room(&self) -> &str {
        &self.room
    }

    /// Sends `text` to every member as `name: text`.
    pub fn say(&self, text: &str) {
        // An error means no receiver, which cannot happen while we hold one.
        let _ = self.tx.send(format!("{}: {text}", self.name).into());
    }
}

impl Drop for Membership {
    fn drop(&mut self) {
        let mut rooms = self
            .rooms
            .rooms
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let left = match rooms.get_mut(&self.room) {
            Some(room) => {
                room.members = room.members.saturating_sub(1);
                room.members
            }
            None => 0,
        };
        if left == 0 {
            rooms.remove(&self.room);
        } else {
            let _ = self
                .tx
                .send(format!("* {} left {} ({left} here)", self.name, self.room).into());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_hear_their_room_only_and_empty_rooms_close() {
        let rooms = Arc::new(Rooms::default());
        let mut a = rooms.join("lobby", Some("alice")).expect("join");
        let mut b = rooms.join("lobby", None).expect("join");
        let mut c = rooms.join("other", Some("carol")).expect("join");
        assert_eq!(b.name(), "guest-1");
        a.say("hi");
        assert_eq!(
            a.rx.try_recv().expect("notice").as_str(),
            "* alice joined lobby (1 here)"
        );
        assert_eq!(
            a.rx.try_recv().expect("notice").as_str(),
            "* guest-1 joined lobby (2 here)"
        );
        assert_eq!(a.rx.try_recv().expect("line").as_str(), "alice: hi");
        assert_eq!(
            b.rx.try_recv().expect("notice").as_str(),
            "* guest-1 joined lobby (2 here)"
        );
        assert_eq!(b.rx.try_recv().expect("line").as_str(), "alice: hi");
        assert_eq!(
            c.rx.try_recv().expect("notice").as_str(),
            "* carol joined other (1 here)"
        );
        assert!(c.rx.try_recv().is_err(), "nothing from lobby");
        drop(b);
        assert_eq!(
            a.rx.try_recv().expect("notice").as_str(),
            "* guest-1 left lobby (1 here)"
        );
        drop(a);
        drop(c);
        assert!(rooms.is_empty());
    }

    #[test]
    fn names_are_checked() {
        let rooms = Arc::new(Rooms::default());
        assert!(matches!(
            rooms.join("a b", None),
            Err(JoinError::BadName { what: "room", .. })
        ));
        assert!(rooms.join("ok", Some("")).is_err());
        assert!(rooms.join(&"x".repeat(MAX_NAME + 1), None).is_err());
        assert!(rooms.is_empty());
    }
}

//! Who is where in a live chat run: the rooms' members drawn exactly as the
//! model draws them ([`chat::draw_members`], the same seeded RNG in the same
//! order), each client's rooms, and each room's members per server.
//!
//! The servers never read the plan to route messages — they learn their rooms
//! from the clients' join frames and the broker's subscriptions. The scheduler
//! uses it to pick senders, and the tally uses it for bookkeeping the model
//! also does: recipients intended, missed (no broker), and how many a dropped
//! message would have reached.

use std::collections::HashSet;

use crate::sim::rng::SimRng;
use crate::sim::scenarios::chat::{self, ChatParams};

/// The drawn rooms of one run.
#[derive(Debug)]
pub(super) struct Plan {
    /// The validated model parameters.
    pub p: ChatParams,
    /// Room `r`'s members (client ids) in draw order:
    /// `members[r * room_size ..][.. room_size]`.
    members: Vec<u32>,
    /// Room `r`'s (server, members there): `room_servers[room_off[r] .. room_off[r + 1]]`.
    room_servers: Vec<(u16, u32)>,
    room_off: Vec<usize>,
    /// Client `c`'s rooms: `client_rooms[client_off[c] .. client_off[c + 1]]`.
    client_rooms: Vec<u32>,
    client_off: Vec<usize>,
}

impl Plan {
    /// Draws every room from `rng` (which then goes on to draw the posts).
    pub fn draw(p: ChatParams, rng: &mut SimRng) -> Self {
        let (k, c, s) = (
            p.room_size as usize,
            u64::from(p.clients),
            u64::from(p.servers),
        );
        let rooms = p.rooms as usize;
        let mut members = Vec::with_capacity(rooms * k);
        let mut chosen = HashSet::with_capacity(k);
        for _ in 0..rooms {
            draw_into(rng, c, k as u64, &mut chosen, &mut members);
        }
        let mut room_servers = Vec::new();
        let mut room_off = Vec::with_capacity(rooms + 1);
        room_off.push(0);
        let mut count = vec![0u32; usize::from(p.servers)];
        let mut touched: Vec<u16> = Vec::new();
        for room in members.chunks(k.max(1)) {
            for &m in room {
                let srv = (u64::from(m) % s) as u16;
                if count[usize::from(srv)] == 0 {
                    touched.push(srv);
                }
                count[usize::from(srv)] += 1;
            }
            for &srv in &touched {
                room_servers.push((srv, count[usize::from(srv)]));
                count[usize::from(srv)] = 0;
            }
            touched.clear();
            room_off.push(room_servers.len());
        }
        // Each client's rooms, by a counting sort of the memberships.
        let mut client_off = vec![0usize; c as usize + 1];
        for &m in &members {
            client_off[m as usize + 1] += 1;
        }
        for i in 0..c as usize {
            client_off[i + 1] += client_off[i];
        }
        let mut fill = client_off.clone();
        let mut client_rooms = vec![0u32; members.len()];
        for (i, &m) in members.iter().enumerate() {
            client_rooms[fill[m as usize]] = (i / k.max(1)) as u32;
            fill[m as usize] += 1;
        }
        Self {
            p,
            members,
            room_servers,
            room_off,
            client_rooms,
            client_off,
        }
    }

    /// The server client `client` connects to (`client mod servers`, as in the model).
    pub fn server_of(&self, client: u32) -> u16 {
        (client % u32::from(self.p.servers)) as u16
    }

    /// Member `i` (in draw order) of room `r`.
    pub fn member(&self, r: usize, i: usize) -> u32 {
        self.members[r * self.p.room_size as usize + i]
    }

    /// The rooms client `c` is in, ascending.
    pub fn rooms_of(&self, c: u32) -> &[u32] {
        &self.client_rooms[self.client_off[c as usize]..self.client_off[c as usize + 1]]
    }

    /// Room `r`'s members on server `s`.
    pub fn here(&self, r: usize, s: u16) -> u32 {
        self.room_servers[self.room_off[r]..self.room_off[r + 1]]
            .iter()
            .find(|&&(srv, _)| srv == s)
            .map_or(0, |&(_, n)| n)
    }

    /// Room `r`'s members on servers other than `s`.
    pub fn elsewhere(&self, r: usize, s: u16) -> u32 {
        self.p.room_size - self.here(r, s)
    }
}

fn draw_into(rng: &mut SimRng, c: u64, k: u64, chosen: &mut HashSet<u64>, out: &mut Vec<u32>) {
    chat::draw_members(rng, c, k, chosen, |m| out.push(m as u32));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::scenarios::chat::{BrokerMode, ChatConfig};

    fn plan(servers: u64, clients: u64, rooms: u64, room_size: u64) -> Plan {
        let cfg = ChatConfig {
            servers,
            clients,
            rooms,
            room_size,
            broker: BrokerMode::None,
            ..ChatConfig::default()
        };
        let p = cfg.validate_params().expect("valid");
        Plan::draw(p, &mut SimRng::seed_from(5))
    }

    #[test]
    fn rooms_have_distinct_members_counted_per_server() {
        let pl = plan(3, 40, 25, 7);
        for r in 0..25 {
            let mut seen: Vec<u32> = (0..7).map(|i| pl.member(r, i)).collect();
            let per_server: u32 = (0..3).map(|s| pl.here(r, s)).sum();
            assert_eq!(per_server, 7);
            for s in 0..3 {
                let n = seen.iter().filter(|&&m| pl.server_of(m) == s).count() as u32;
                assert_eq!(pl.here(r, s), n);
                assert_eq!(pl.elsewhere(r, s), 7 - n);
            }
            seen.sort_unstable();
            seen.dedup();
            assert_eq!(seen.len(), 7, "members are drawn without replacement");
        }
    }

    #[test]
    fn every_membership_is_listed_under_its_client() {
        let pl = plan(2, 30, 12, 5);
        let total: usize = (0..30).map(|c| pl.rooms_of(c).len()).sum();
        assert_eq!(total, 12 * 5);
        for c in 0..30u32 {
            for &r in pl.rooms_of(c) {
                assert!((0..5).any(|i| pl.member(r as usize, i) == c));
            }
        }
    }
}

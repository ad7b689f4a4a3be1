//! The herd's calendar of pending attempts: a two-level timing wheel of
//! unsorted buckets.
//!
//! Every pending attempt lies within a bounded distance of "now" (a retry comes
//! at most `timeout + max(base, cap)` after the attempt that failed), so a ring
//! of calendar buckets sized to that distance holds all of them, and a push is
//! an append. Two levels keep those appends cheap: pushing into one of tens of
//! thousands of buckets would miss the CPU cache on nearly every push, so the
//! ring has [`COARSE_MAX`] or fewer *coarse* buckets (chunked lists,
//! [`crate::sim::chunks`]), each [`FINE`] fine buckets wide, and only the coarse
//! bucket being worked through is spread over the fine buckets. Each attempt is
//! thus copied twice, each time into one of a few hundred buckets whose tails
//! stay in the cache. First attempts spread over a jitter longer than the ring
//! wait in a *far* list, sorted once, and move into the ring as it comes within
//! reach.
//!
//! A big herd keeps one pending attempt per waiting client, nearly all of them
//! in the coarse buckets, written and read back seconds later from main memory;
//! so the coarse buckets store an attempt in one `u64` when it fits: its time
//! as an offset within its coarse bucket (whose start the ring position gives)
//! above the client's packed state. When the two do not fit in 64 bits (very
//! many clients with a very wide coarse bucket), each attempt takes two `u64`s,
//! time and state.
//!
//! Buckets are not sorted here: the herd ([`super`]) takes a fine bucket at a
//! time and decides which of its attempts need time order (only the few it
//! accepts do).

use super::HerdEvent;
use crate::sim::chunks::{List, Pool};

/// One pending attempt: when it happens and the client's packed state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Slot {
    /// Attempt time, ns.
    pub t: u64,
    /// The client.
    pub ev: HerdEvent,
}

/// Fine buckets per coarse bucket (a power of two).
pub const FINE: u64 = 256;
const FINE_BITS: u32 = FINE.trailing_zeros();
/// Most coarse buckets in the ring.
pub const COARSE_MAX: u64 = 1024;
/// Words per pool chunk (4 KiB, an even number so that a two-word attempt
/// never straddles chunks): a coarse bucket is read seconds after it was
/// written, from main memory for big herds, and a 4 KiB sequential run per
/// chunk keeps the prefetcher ahead; 1,024 partly filled tails cost at most
/// 4 MiB.
const CHUNK: usize = 512;

/// The two-level ring plus a sorted list of attempts beyond it.
#[derive(Debug, Default)]
pub(super) struct Wheel {
    /// Fine bucket width is `2^shift` ns; a coarse bucket is [`FINE`] of them.
    shift: u32,
    coarse_mask: u64,
    /// A coarse bucket stores an attempt as one word, `(offset in the coarse
    /// bucket << ev_bits) | state`, or (`ev_bits` == 0) as two, time and state.
    ev_bits: u32,
    /// The open coarse bucket's attempts, by fine bucket.
    fine: Vec<Vec<Slot>>,
    coarse: Vec<List>,
    pool: Pool<u64, CHUNK>,
    /// Absolute number (`time >> shift`) of the current fine bucket.
    cur: u64,
    /// Absolute number of the open coarse bucket (the one `fine` holds): every
    /// coarse bucket in the ring lies in `(open, open + coarse buckets)`.
    open: u64,
    /// The current fine bucket was handed out by [`Wheel::take_current`].
    taken: bool,
    in_fine: usize,
    in_coarse: usize,
    /// Attempts beyond the ring's reach, latest first (so the earliest is
    /// popped from the end; equal times pop in push order).
    far: Vec<Slot>,
}

impl Wheel {
    /// A wheel whose fine buckets are about `bucket_ns` wide (rounded up to a
    /// power of two, at least 1 µs) and whose ring reaches at least `reach_ns`
    /// ahead of the open coarse bucket, for attempts whose states
    /// ([`HerdEvent`]) are below `2^ev_bits` (0: unknown; two words each).
    pub fn new(bucket_ns: u64, reach_ns: u64, ev_bits: u32) -> Self {
        let mut shift = (64 - bucket_ns.max(1).saturating_sub(1).leading_zeros()).clamp(10, 40);
        let count = |shift: u32| ((reach_ns >> (shift + FINE_BITS)) + 2).next_power_of_two();
        while count(shift) > COARSE_MAX && shift < 50 {
            shift += 1;
        }
        let n = count(shift).min(COARSE_MAX);
        let one_word = ev_bits > 0 && shift + FINE_BITS + ev_bits <= 64;
        Self {
            shift,
            coarse_mask: n - 1,
            ev_bits: if one_word { ev_bits } else { 0 },
            fine: (0..FINE).map(|_| Vec::new()).collect(),
            coarse: vec![List::EMPTY; n as usize],
            ..Self::default()
        }
    }

    /// Fine bucket width, ns.
    #[inline]
    pub fn width(&self) -> u64 {
        1 << self.shift
    }

    /// End of the open coarse bucket, ns: [`Wheel::advance`] returns times
    /// before it without opening another.
    #[inline]
    pub fn open_end(&self) -> u64 {
        (self.open + 1) << (self.shift + FINE_BITS)
    }

    /// Pending attempts (the taken bucket not included).
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.in_fine + self.in_coarse + self.far.len()
    }

    /// Adds an attempt after the current fine bucket (the herd keeps attempts
    /// that fall in the bucket it is working on to itself), or anywhere before
    /// the first [`Wheel::advance`].
    #[inline(always)]
    pub fn push(&mut self, s: Slot) {
        let (shift, ev_bits, mask) = (self.shift, self.ev_bits, self.coarse_mask);
        let b = s.t >> shift;
        debug_assert!(b >= self.cur + u64::from(self.taken), "push into the past");
        let k = b >> FINE_BITS;
        let ahead = k - self.open;
        if ahead == 0 {
            self.fine[(b & (FINE - 1)) as usize].push(s);
            self.in_fine += 1;
        } else if ahead <= mask {
            let list = &mut self.coarse[(k & mask) as usize];
            if ev_bits > 0 {
                let offset = s.t - (k << (shift + FINE_BITS));
                self.pool.push(list, (offset << ev_bits) | s.ev.0);
            } else {
                self.pool.push(list, s.t);
                self.pool.push(list, s.ev.0);
            }
            self.in_coarse += 1;
        } else {
            self.push_far(s);
        }
    }

    /// Beyond the ring: keep the far list latest first, after equal times so
    /// that it pops after them.
    #[cold]
    fn push_far(&mut self, s: Slot) {
        let i = self.far.partition_point(|x| x.t > s.t);
        self.far.insert(i, s);
    }

    /// Adds many first attempts quickly; call [`Wheel::seal`] before taking any.
    pub fn push_initial(&mut self, s: Slot) {
        if (s.t >> (self.shift + FINE_BITS)) - self.open <= self.coarse_mask {
            self.push(s);
        } else {
            self.far.push(s);
        }
    }

    /// Sorts the far list after [`Wheel::push_initial`] (stable: equal times
    /// keep push order when popped).
    pub fn seal(&mut self) {
        self.far.reverse();
        self.far.sort_by_key(|s| std::cmp::Reverse(s.t));
    }

    /// Moves far attempts that the ring now reaches into it.
    fn pull_far(&mut self) {
        while let Some(&s) = self.far.last() {
            let k = s.t >> (self.shift + FINE_BITS);
            if k - self.open > self.coarse_mask {
                break;
            }
            self.far.pop();
            self.push(s);
        }
    }

    /// Opens coarse bucket `k` (> the open one): spreads it over the fine
    /// buckets.
    fn open_coarse(&mut self, k: u64) {
        debug_assert!(k > self.open);
        debug_assert_eq!(self.in_fine, 0);
        self.open = k;
        self.cur = k << FINE_BITS;
        let list = std::mem::replace(
            &mut self.coarse[(k & self.coarse_mask) as usize],
            List::EMPTY,
        );
        let (fine, shift, ev_bits) = (&mut self.fine, self.shift, self.ev_bits);
        let attempts = if ev_bits > 0 { list.len } else { list.len / 2 };
        self.in_coarse -= attempts;
        self.in_fine += attempts;
        let start = k << (shift + FINE_BITS);
        if ev_bits > 0 {
            let state = (1 << ev_bits) - 1;
            self.pool.drain(list, |chunk| {
                for &w in chunk {
                    let offset = w >> ev_bits;
                    fine[(offset >> shift) as usize].push(Slot {
                        t: start | offset,
                        ev: HerdEvent(w & state),
                    });
                }
            });
        } else {
            self.pool.drain(list, |chunk| {
                for w in chunk.chunks_exact(2) {
                    let s = Slot {
                        t: w[0],
                        ev: HerdEvent(w[1]),
                    };
                    fine[((s.t >> shift) & (FINE - 1)) as usize].push(s);
                }
            });
        }
        self.pull_far();
    }

    /// Moves to the first fine bucket holding attempts (after the taken one)
    /// and returns its start time; `None` when nothing is pending.
    pub fn advance(&mut self) -> Option<u64> {
        if self.taken {
            self.cur += 1;
            self.taken = false;
        }
        loop {
            if self.in_fine > 0 {
                // Every fine attempt lies in the open coarse bucket, at or
                // after `cur`.
                while self.fine[(self.cur & (FINE - 1)) as usize].is_empty() {
                    self.cur += 1;
                    debug_assert!(self.cur >> FINE_BITS == self.open, "lost fine attempts");
                }
                return Some(self.cur << self.shift);
            }
            let next = if self.in_coarse > 0 {
                self.open + 1
            } else {
                // Only far attempts are left (or none): jump to the earliest.
                let first = self.far.last()?.t >> (self.shift + FINE_BITS);
                first.max(self.open + 1)
            };
            self.open_coarse(next);
        }
    }

    /// Hands the current fine bucket's attempts to the caller in `into` (which
    /// must be empty; the bucket keeps its buffer for reuse), in push order.
    pub fn take_current(&mut self, into: &mut Vec<Slot>) {
        debug_assert!(into.is_empty());
        let b = &mut self.fine[(self.cur & (FINE - 1)) as usize];
        std::mem::swap(b, into);
        self.in_fine -= into.len();
        self.taken = true;
    }

    /// Returns attempts the caller did not run (past the horizon) to the taken
    /// bucket; `from` is left empty.
    pub fn put_back(&mut self, from: &mut Vec<Slot>) {
        debug_assert!(self.taken);
        let b = &mut self.fine[(self.cur & (FINE - 1)) as usize];
        self.in_fine += from.len();
        b.append(from);
        self.taken = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slot(t: u64, id: u64) -> Slot {
        Slot {
            t,
            ev: HerdEvent(id),
        }
    }

    /// Drains the wheel bucket by bucket, sorting each (stable), as the herd's
    /// time order would see it.
    fn drain(w: &mut Wheel) -> Vec<(u64, u64)> {
        let mut out = Vec::new();
        let mut buf = Vec::new();
        while let Some(start) = w.advance() {
            w.take_current(&mut buf);
            buf.sort_by_key(|s| s.t);
            for s in buf.drain(..) {
                assert!(s.t >= start && s.t < start + w.width());
                out.push((s.t, s.ev.0));
            }
        }
        out
    }

    #[test]
    fn far_and_near_attempts_come_out_in_time_order() {
        // One word per attempt (13 bits of state below 18 of offset), and two
        // (47 bits of state do not fit beside the offset).
        far_and_near_in_order(13, 13);
        far_and_near_in_order(47, 0);
    }

    fn far_and_near_in_order(ev_bits: u32, packed_bits: u32) {
        // A ring reaching ~1 ms with 1 µs buckets; first attempts over 10 ms, so
        // most start in the far list. Ties keep push order.
        let mut w = Wheel::new(1_000, 1_000_000, ev_bits);
        assert_eq!(w.ev_bits, packed_bits);
        assert_eq!(w.width(), 1024);
        let mut want = Vec::new();
        let mut x = 12_345u64;
        for _ in 0..5_000 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let t = (x >> 33) % 10_000_000 / 7 * 7;
            // States use every bit allowed.
            let ev = (x >> 7) & ((1 << ev_bits) - 1);
            w.push_initial(slot(t, ev));
            want.push((t, ev));
        }
        w.seal();
        want.sort_by_key(|&(t, _)| t);
        assert_eq!(w.len(), 5_000);
        assert_eq!(drain(&mut w), want);
        assert_eq!(w.len(), 0);
        assert_eq!(w.advance(), None);
    }

    #[test]
    fn pushes_while_running_land_in_order_and_put_back_keeps_them() {
        let mut w = Wheel::new(1_000, 100_000, 8);
        w.push_initial(slot(5_000, 1));
        w.seal();
        let mut buf = Vec::new();
        assert_eq!(w.advance(), Some(4 * 1024));
        w.take_current(&mut buf);
        assert_eq!(buf, vec![slot(5_000, 1)]);
        buf.clear();
        // Within reach, then far beyond it (the far list keeps equal times in push
        // order), then a nearer one.
        w.push(slot(90_000, 2));
        w.push(slot(5_000_000, 3));
        w.push(slot(5_000_000, 4));
        w.push(slot(6_000, 5));
        let got = drain(&mut w);
        assert_eq!(
            got,
            vec![(6_000, 5), (90_000, 2), (5_000_000, 3), (5_000_000, 4)]
        );
        // A bucket put back is handed out again.
        w.push(slot(7_000_000, 6));
        let start = w.advance().expect("one pending");
        w.take_current(&mut buf);
        w.put_back(&mut buf);
        assert!(buf.is_empty());
        assert_eq!(w.advance(), Some(start));
        assert_eq!(w.len(), 1);
    }
}

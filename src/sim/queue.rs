//! The pending-event set: a ladder queue ordered by time, then insertion order.
//!
//! A discrete-event simulation only schedules events at or after "now", and most
//! of them some way into the future. A *ladder queue* (Tang, Goh and Thng, ACM
//! TOMACS 2005) exploits that with three tiers:
//!
//! - **top**: an unsorted list of far-future events (a push is an append);
//! - **rungs**: calendars of `2^k`-nanosecond buckets (unsorted lists). When the
//!   nearer tiers run dry, the top is spread over a new rung of at most
//!   [`TOP_BUCKETS`] buckets (few enough that every bucket's tail stays in the
//!   CPU cache while pushes land in random buckets) covering [`OVERSPAN`] times
//!   the top's span, so that events scheduled while the rung is being used
//!   mostly land in it instead of going through the top again; a bucket that
//!   turns out to hold more than [`SPLIT_ABOVE`] events is sorted by a counting
//!   sort over sub-buckets of about [`SUB_TARGET`] events (up to
//!   [`COUNT_SORT_MAX`] events) or else spread over a finer rung below it;
//! - **bottom**: the current bucket, sorted latest first, so a pop takes its
//!   last entry and an event scheduled shortly after "now" is inserted near
//!   the end, moving few entries.
//!
//! Each event is copied a few times (push, spread, sort), always as an append,
//! instead of sifting through `log n` levels of a heap, which is why at a
//! million pending events this runs several times faster than a binary or radix
//! heap (see `benches/engine.rs` and `BENCHMARKS.md`).
//!
//! **Memory.** Every list (the top and each bucket) is a chain of fixed-size
//! chunks of [`CHUNK`] entries ([`super::chunks`]) taken from one shared
//! pool, and a chunk is returned to the pool as soon as it has been read. So
//! the queue holds little more than its live events (one partly filled chunk
//! per list), and the chunk a push writes into is usually the one just freed,
//! still in the CPU cache. After warm-up neither pushes nor pops allocate.
//!
//! **Order** is exact: by time, and events with equal times in the order they
//! were pushed, the deterministic tie-break the engine ([`super::engine`])
//! promises. It needs no sequence numbers: events with equal times always sit in
//! the same tier and bucket, every move between tiers appends them in the order
//! it reads them, and the bottom is sorted with *stable* sorts (the counting sort
//! writes each sub-bucket in reverse read order, and the sorts latest first
//! keep that order), so equal times pop in push order. Entries are just
//! (time, event): 16 bytes for a `u32` or packed `u64` event.

use super::chunks::{CHUNK, List, Pool};
use super::time::SimTime;

/// Most buckets when the top is spread into the first rung.
pub const TOP_BUCKETS: usize = 512;
/// Events per bucket a finer rung aims for.
pub const TARGET_PER_BUCKET: usize = 16;
/// A bucket with more events than this (spread over more than one nanosecond) is
/// not insertion-sorted whole: it takes the counting sort, or a finer rung.
pub const SPLIT_ABOVE: usize = 64;
/// A bucket of up to this many events is sorted straight into the bottom by a
/// counting sort instead of being spread over a finer rung.
pub const COUNT_SORT_MAX: usize = 8192;
/// Events per sub-bucket the counting sort aims for.
pub const SUB_TARGET: usize = 4;
/// Longest run sorted by insertion (longer ones use the standard stable sort).
const INSERTION_SORT_MAX: usize = 2 * SPLIT_ABOVE;
/// Rung 0 covers this many times the top's span.
pub const OVERSPAN: u64 = 2;
/// Most rungs at once (each is at least twice as fine as the one above).
const MAX_RUNGS: usize = 32;

/// One pending event: when it fires and what it is.
#[derive(Debug, Clone, Copy)]
pub struct Entry<E> {
    /// When the event fires.
    pub time: SimTime,
    /// The scenario's event.
    pub event: E,
}

/// A calendar of equal, power-of-two-wide buckets covering `[start, end)`.
#[derive(Debug, Clone)]
struct Rung {
    buckets: Vec<List>,
    start: u64,
    end: u64,
    shift: u32,
    /// Next bucket not yet handed down.
    cur: usize,
    len: usize,
}

impl Rung {
    fn empty() -> Self {
        Self {
            buckets: Vec::new(),
            start: 0,
            end: 0,
            shift: 0,
            cur: 0,
            len: 0,
        }
    }

    /// Resets this rung to cover `[start, start + span)` (`span` >= 1) with
    /// `want` buckets rounded to a power of two, at most `span` of them.
    fn reset(&mut self, start: u64, span: u64, want: usize) {
        let mut nb = (want.max(1).next_power_of_two() as u64).min(span.max(1));
        if !nb.is_power_of_two() {
            nb = nb.next_power_of_two() / 2;
        }
        // A span over 2^63 needs two buckets of 2^63: shifts stop at 63.
        if span > 1 << 63 {
            nb = nb.max(2);
        }
        // Smallest shift with nb << shift >= span.
        let per_bucket = span.div_ceil(nb);
        let shift = (64 - (per_bucket - 1).leading_zeros()).min(63);
        let total = if nb.leading_zeros() < shift {
            u64::MAX
        } else {
            nb << shift
        };
        let nb = nb as usize;
        if self.buckets.len() < nb {
            self.buckets.resize(nb, List::EMPTY);
        }
        self.start = start;
        self.shift = shift;
        self.end = start.saturating_add(total);
        self.cur = 0;
        self.len = 0;
    }

    #[inline]
    fn bucket_of(&self, t: u64) -> usize {
        ((t - self.start) >> self.shift) as usize
    }
}

/// A monotone priority queue of events ordered by time, then insertion order.
#[derive(Debug, Clone)]
pub struct EventQueue<E> {
    pool: Pool<Entry<E>>,
    /// The pending events of the current bucket, sorted *latest first* (ties:
    /// last pushed first), so that a pop takes the last entry and an event
    /// scheduled a little after now is inserted near the end, moving few entries.
    bottom: Vec<Entry<E>>,
    /// Every pending event in `bottom` is earlier than this; every other is not.
    bottom_end: u64,
    /// Active rungs, coarsest first; each finer one subdivides the bucket its
    /// parent handed down last.
    rungs: Vec<Rung>,
    /// `rungs[i].end`, kept inline for the push fast path.
    ends: [u64; MAX_RUNGS],
    /// Retired rungs kept for their bucket arrays.
    spare: Vec<Rung>,
    /// The counting sort's per-sub-bucket counts, reused.
    hist: Vec<u32>,
    top: List,
    top_min: u64,
    top_max: u64,
    len: usize,
    floor: u64,
}

impl<E: Copy> Default for EventQueue<E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<E: Copy> EventQueue<E> {
    /// An empty queue whose clock starts at time zero.
    pub fn new() -> Self {
        Self {
            pool: Pool::new(),
            bottom: Vec::new(),
            bottom_end: 0,
            rungs: Vec::new(),
            ends: [0; MAX_RUNGS],
            spare: Vec::new(),
            hist: Vec::new(),
            top: List::EMPTY,
            top_min: u64::MAX,
            top_max: 0,
            len: 0,
            floor: 0,
        }
    }

    /// Number of pending events.
    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when no event is pending.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The time of the last popped event: pushes before it are clamped to it.
    #[inline]
    pub fn floor(&self) -> SimTime {
        SimTime(self.floor)
    }

    /// Bytes of memory the queue holds (chunk pool, bottom, bucket arrays).
    pub fn memory_bytes(&self) -> usize {
        let entry = std::mem::size_of::<Entry<E>>();
        let buckets: usize = self
            .rungs
            .iter()
            .chain(&self.spare)
            .map(|r| r.buckets.capacity() * std::mem::size_of::<List>())
            .sum();
        self.pool.memory_bytes()
            + self.bottom.capacity() * entry
            + self.hist.capacity() * 4
            + buckets
    }

    /// Schedules `event` at `time`. A time before the last popped event would
    /// break monotonicity; it is clamped to that time (the engine never asks).
    #[inline(always)]
    pub fn push(&mut self, time: SimTime, event: E) {
        let t = time.0.max(self.floor);
        let e = Entry {
            time: SimTime(t),
            event,
        };
        self.len += 1;
        if t < self.bottom_end {
            self.push_bottom(e);
            return;
        }
        let mut d = self.rungs.len();
        while d > 0 {
            d -= 1;
            if t < self.ends[d] {
                let r = &mut self.rungs[d];
                let j = r.bucket_of(t);
                self.pool.push(&mut r.buckets[j], e);
                r.len += 1;
                return;
            }
        }
        self.top_min = self.top_min.min(t);
        self.top_max = self.top_max.max(t);
        self.pool.push(&mut self.top, e);
    }

    /// An event due within the bucket being consumed: insert it so that it pops
    /// after every pending event with the same or an earlier time (the bottom is
    /// latest first, so that is just before them).
    #[cold]
    fn push_bottom(&mut self, e: Entry<E>) {
        let t = e.time.0;
        let i = self.bottom.partition_point(|x| x.time.0 > t);
        self.bottom.insert(i, e);
    }

    /// Removes and returns the earliest event (ties: first pushed first).
    #[inline]
    pub fn pop(&mut self) -> Option<Entry<E>> {
        if self.bottom.is_empty() {
            if self.len == 0 {
                return None;
            }
            self.refill();
        }
        let e = self.bottom.pop()?;
        self.len -= 1;
        self.floor = e.time.0;
        Some(e)
    }

    /// Puts back the entry just returned by [`EventQueue::pop`] (used when the
    /// engine pops an event past its horizon and stops). Only valid directly after
    /// that `pop`, with no push in between.
    pub fn unpop(&mut self, entry: Entry<E>) {
        self.bottom.push(entry);
        self.len += 1;
    }

    /// The earliest pending time, if any, without removing it.
    pub fn peek_time(&mut self) -> Option<SimTime> {
        if self.bottom.is_empty() {
            if self.len == 0 {
                return None;
            }
            self.refill();
        }
        self.bottom.last().map(|e| e.time)
    }

    /// Moves every entry of `list`, in order, into the buckets of `rung`, and
    /// frees the list's chunks as it goes. Every entry must fall in the rung.
    fn spread_into(pool: &mut Pool<Entry<E>>, list: List, rung: &mut Rung) {
        let mut c = list.head;
        let mut left = list.len;
        while left > 0 {
            let n = left.min(CHUNK);
            let base = c as usize * CHUNK;
            for i in base..base + n {
                let e = pool.slots[i];
                let k = rung.bucket_of(e.time.0);
                pool.push(&mut rung.buckets[k], e);
            }
            left -= n;
            let next = pool.next[c as usize];
            pool.free.push(c);
            c = next;
        }
        rung.len += list.len;
    }

    /// Appends every entry of `list`, in order, to the bottom and frees its chunks.
    fn copy_to_bottom(&mut self, list: List) {
        self.bottom.reserve(list.len);
        let bottom = &mut self.bottom;
        self.pool
            .drain(list, |chunk| bottom.extend_from_slice(chunk));
    }

    /// The bottom is used up and `len > 0`: hand it the next non-empty bucket.
    #[cold]
    #[inline(never)]
    fn refill(&mut self) {
        self.bottom.clear();
        loop {
            let depth = self.rungs.len();
            let Some(r) = self.rungs.last_mut() else {
                self.spread_top();
                continue;
            };
            if r.len == 0 {
                // Every bucket of this rung was handed down: its range is done.
                self.bottom_end = r.end;
                if let Some(done) = self.rungs.pop() {
                    self.spare.push(done);
                }
                continue;
            }
            let mut j = r.cur;
            while r.buckets[j].len == 0 {
                j += 1;
            }
            let bucket_start = r.start + ((j as u64) << r.shift);
            let bucket_end = bucket_start.saturating_add(1u64 << r.shift).min(r.end);
            let list = std::mem::replace(&mut r.buckets[j], List::EMPTY);
            r.cur = j + 1;
            r.len -= list.len;
            if list.len > SPLIT_ABOVE && list.len <= COUNT_SORT_MAX && r.shift > 0 {
                // Small enough to sort outright, too big for an insertion sort.
                let shift = r.shift;
                self.bottom_end = bucket_end;
                self.count_sort_to_bottom(list, bucket_start, shift);
                return;
            }
            if list.len > SPLIT_ABOVE && r.shift > 0 && depth < MAX_RUNGS {
                // A crowded bucket: spread it, in order, over a finer rung below.
                let mut fine = self.spare.pop().unwrap_or_else(Rung::empty);
                fine.reset(
                    bucket_start,
                    bucket_end - bucket_start,
                    list.len / TARGET_PER_BUCKET,
                );
                self.bottom_end = bucket_start;
                self.ends[depth] = fine.end;
                Self::spread_into(&mut self.pool, list, &mut fine);
                self.rungs.push(fine);
                continue;
            }
            self.bottom_end = bucket_end;
            self.copy_to_bottom(list);
            // Reversed, equal times are latest-pushed first, as the sort keeps.
            self.bottom.reverse();
            sort_latest_first(&mut self.bottom);
            return;
        }
    }

    /// Sorts the bucket `list` (`2^shift` ns from `start`) into the bottom,
    /// latest first: a stable counting sort by sub-bucket (about [`SUB_TARGET`]
    /// events each), written from the end of the bottom, then an insertion sort
    /// that only has to order each sub-bucket.
    fn count_sort_to_bottom(&mut self, list: List, start: u64, shift: u32) {
        let n = list.len;
        let nsub = (n / SUB_TARGET)
            .next_power_of_two()
            .min(1usize << shift.min(30));
        let sub_shift = shift - nsub.trailing_zeros();
        let sub_of = |e: &Entry<E>| ((e.time.0 - start) >> sub_shift) as usize;
        // Pass 1: count each sub-bucket (into hist[k + 1]); the prefix sums then
        // make hist[k] the number of events in earlier sub-buckets.
        self.hist.clear();
        self.hist.resize(nsub + 1, 0);
        let hist = &mut self.hist;
        self.pool.read(list, |chunk| {
            for e in chunk {
                hist[sub_of(e) + 1] += 1;
            }
        });
        let mut crowded = 0;
        for k in 1..=nsub {
            crowded = crowded.max(self.hist[k]);
            self.hist[k] += self.hist[k - 1];
        }
        // Pass 2: scatter in read order from the end of the bottom, so each
        // sub-bucket lands latest-pushed first, and free the chunks.
        let filler = self.pool.slots[list.head as usize * CHUNK];
        self.bottom.resize(n, filler);
        let (hist, bottom) = (&mut self.hist, &mut self.bottom);
        self.pool.drain(list, |chunk| {
            for e in chunk {
                let k = sub_of(e);
                bottom[n - 1 - hist[k] as usize] = *e;
                hist[k] += 1;
            }
        });
        if crowded as usize <= INSERTION_SORT_MAX {
            // No entry moves past its sub-bucket (they hold disjoint time ranges).
            insertion_sort_latest_first(&mut self.bottom);
        } else {
            // Some sub-bucket is crowded: sort each one on its own, so a crowd
            // costs n log n rather than n^2. hist[k] is now where k ends.
            let mut a = 0;
            for k in 0..nsub {
                let b = self.hist[k] as usize;
                sort_latest_first(&mut self.bottom[n - b..n - a]);
                a = b;
            }
        }
    }

    /// No rungs and an empty bottom: spread the top, in order, over a new rung.
    fn spread_top(&mut self) {
        let (lo, hi) = (self.top_min, self.top_max);
        let mut rung = self.spare.pop().unwrap_or_else(Rung::empty);
        let span = (hi - lo).saturating_add(1);
        let top = std::mem::replace(&mut self.top, List::EMPTY);
        rung.reset(
            lo,
            span.saturating_mul(OVERSPAN),
            (TOP_BUCKETS.min(top.len / 4)) * OVERSPAN as usize,
        );
        self.top_min = u64::MAX;
        self.top_max = 0;
        // Nothing is pending in [bottom_end, lo): the bottom may reach up to lo.
        self.bottom_end = lo;
        self.ends[0] = rung.end;
        Self::spread_into(&mut self.pool, top, &mut rung);
        self.rungs.push(rung);
    }
}

/// Sorts `v` latest first, keeping entries with equal times in their order: an
/// insertion sort for the short buckets the ladder hands down, the standard
/// library's stable sort for long ones (a bucket of ties that cannot be split).
fn sort_latest_first<E: Copy>(v: &mut [Entry<E>]) {
    if v.len() > INSERTION_SORT_MAX {
        v.sort_by_key(|e| std::cmp::Reverse(e.time.0));
    } else {
        insertion_sort_latest_first(v);
    }
}

/// A stable insertion sort, latest first.
fn insertion_sort_latest_first<E: Copy>(v: &mut [Entry<E>]) {
    for i in 1..v.len() {
        let x = v[i];
        let mut j = i;
        while j > 0 && v[j - 1].time.0 < x.time.0 {
            v[j] = v[j - 1];
            j -= 1;
        }
        v[j] = x;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::rng::SimRng;
    use std::collections::BinaryHeap;

    #[test]
    fn pops_in_time_then_insertion_order() {
        let mut q = EventQueue::new();
        q.push(SimTime(5), 'a');
        q.push(SimTime(1), 'b');
        q.push(SimTime(5), 'c');
        q.push(SimTime(1), 'd');
        q.push(SimTime(0), 'e');
        let order: Vec<char> = std::iter::from_fn(|| q.pop().map(|e| e.event)).collect();
        assert_eq!(order, vec!['e', 'b', 'd', 'a', 'c']);
        assert!(q.is_empty());
    }

    /// The queue under test beside a binary heap of (time, push sequence): the
    /// order any correct queue must pop in.
    struct Mirror {
        q: EventQueue<u64>,
        reference: BinaryHeap<std::cmp::Reverse<(u64, u64)>>,
        seq: u64,
    }

    impl Mirror {
        fn new() -> Self {
            Self {
                q: EventQueue::new(),
                reference: BinaryHeap::new(),
                seq: 0,
            }
        }

        fn push(&mut self, t: u64) {
            self.q.push(SimTime(t), self.seq);
            self.reference.push(std::cmp::Reverse((t, self.seq)));
            self.seq += 1;
        }

        /// Pops from both and checks they agree; the time popped, if any.
        fn pop(&mut self, step: u64) -> Option<u64> {
            let want = self.reference.pop().map(|r| r.0);
            let got = self.q.pop().map(|e| (e.time.0, e.event));
            assert_eq!(got, want, "step {step}");
            want.map(|(t, _)| t)
        }

        /// Pops everything left, checking every pop.
        fn drain(&mut self) {
            while self.pop(u64::MAX).is_some() {}
        }
    }

    #[test]
    fn matches_a_binary_heap_on_a_random_hold_workload() {
        // Theory: any correct priority queue pops the same (time, seq) sequence;
        // the reference carries explicit sequence numbers, the queue does not.
        let mut rng = SimRng::seed_from(42);
        let mut m = Mirror::new();
        let mut now = 0u64;
        for _ in 0..5_000 {
            m.push(rng.below(1_000_000));
        }
        for step in 0..50_000u64 {
            now = m.pop(step).unwrap_or(now);
            // Push one or two events in the future, sometimes at exactly `now`.
            for _ in 0..(1 + step % 2) {
                let dt = if rng.below(10) == 0 {
                    0
                } else {
                    rng.below(1 << (step % 40))
                };
                m.push(now + dt);
            }
            // And sometimes drain a few to exercise small sizes.
            if step % 1000 == 999 {
                for _ in 0..3000 {
                    now = m.pop(step).unwrap_or(now);
                }
            }
            assert_eq!(m.q.len(), m.reference.len());
        }
    }

    #[test]
    fn crowded_buckets_ties_and_pushes_at_now_keep_exact_order() {
        // Theory: any correct queue pops by (time, push order). The workload mixes
        // a million-wide spread, heavy ties (many events at a handful of times,
        // which defeats splitting), crowded buckets that must split into finer
        // rungs, and pushes at exactly "now" into the bucket being consumed.
        let mut rng = SimRng::seed_from(5);
        let mut m = Mirror::new();
        for i in 0..20_000u64 {
            m.push(match i % 4 {
                0 => 1_000 * (i % 7),           // ties at 7 instants
                1 => rng.below(1 << 20),        // dense: crowded buckets
                2 => rng.below(1 << 40),        // wide spread
                _ => 5_000_000 + rng.below(64), // a tight cluster
            });
        }
        for step in 0..60_000u64 {
            let Some(t) = m.pop(step) else { break };
            match step % 5 {
                0 => m.push(t),     // now
                1 => m.push(t + 1), // just after
                2 => m.push(t + rng.below(1 << 30)),
                _ => {}
            }
        }
        m.drain();
        // The queue keeps working after running dry.
        let q = &mut m.q;
        q.push(SimTime(u64::MAX - 5), 1);
        q.push(SimTime(u64::MAX - 5), 2);
        assert_eq!(q.pop().map(|e| e.event), Some(1));
        assert_eq!(q.pop().map(|e| e.event), Some(2));
    }

    #[test]
    fn counting_sorted_buckets_keep_exact_order() {
        // Theory: as above, pops follow (time, push order). 100,000 events over
        // 2^30 ns fill the first rung's buckets with about 200 each, so they take
        // the counting sort; 15% of them sit at 20 instants (750 ties each), so
        // some sub-buckets are crowded and take the per-sub-bucket sort; and the
        // pushes a little after "now" land in a large bottom.
        let mut rng = SimRng::seed_from(21);
        let mut m = Mirror::new();
        for i in 0..100_000u64 {
            m.push(if i % 20 < 3 {
                (i / 20 % 20) << 22
            } else {
                rng.below(1 << 30)
            });
        }
        for step in 0..150_000u64 {
            let Some(t) = m.pop(step) else { break };
            match step % 4 {
                0 => m.push(t),
                1 => m.push(t + rng.below(1 << 12)),
                2 => m.push(t + rng.below(1 << 30)),
                _ => {}
            }
        }
        m.drain();
    }

    #[test]
    fn memory_stays_close_to_the_live_events() {
        // A million events through a hold loop: the pool should not hold more
        // than the live events plus a partly filled chunk per list (well under 2x).
        let mut rng = SimRng::seed_from(9);
        let mut q = EventQueue::new();
        let n = 200_000u32;
        for i in 0..n {
            q.push(SimTime(rng.below(1 << 32)), i);
        }
        for _ in 0..1_000_000 {
            if let Some(e) = q.pop() {
                q.push(SimTime(e.time.0 + rng.below(1 << 32)), e.event);
            }
        }
        let live = n as usize * std::mem::size_of::<Entry<u32>>();
        assert!(
            q.memory_bytes() < 2 * live,
            "{} bytes for {live} live",
            q.memory_bytes()
        );
    }

    #[test]
    fn bucket_sort_is_stable_for_short_and_long_buckets() {
        // Theory: a stable sort latest first equals the standard library's stable
        // sort by descending time; few distinct times force many ties, and the
        // lengths take both paths.
        let mut rng = SimRng::seed_from(11);
        for len in [
            0usize,
            1,
            2,
            17,
            INSERTION_SORT_MAX,
            INSERTION_SORT_MAX + 1,
            1000,
        ] {
            let mut v: Vec<Entry<u32>> = (0..len as u32)
                .map(|i| Entry {
                    time: SimTime(rng.below(7)),
                    event: i,
                })
                .collect();
            let mut want = v.clone();
            want.sort_by_key(|e| std::cmp::Reverse(e.time.0));
            sort_latest_first(&mut v);
            let key = |v: &[Entry<u32>]| v.iter().map(|e| (e.time.0, e.event)).collect::<Vec<_>>();
            assert_eq!(key(&v), key(&want), "len {len}");
        }
    }

    #[test]
    fn unpop_restores_the_entry() {
        let mut q = EventQueue::new();
        q.push(SimTime(10), 1u32);
        q.push(SimTime(20), 2u32);
        let e = q.pop().map(|e| (e.time, e.event));
        assert_eq!(e, Some((SimTime(10), 1)));
        q.unpop(Entry {
            time: SimTime(10),
            event: 1,
        });
        assert_eq!(q.peek_time(), Some(SimTime(10)));
        assert_eq!(q.len(), 2);
        assert_eq!(q.pop().map(|e| e.event), Some(1));
        assert_eq!(q.pop().map(|e| e.event), Some(2));
        assert_eq!(q.pop().map(|e| e.event), None);
    }

    #[test]
    fn past_times_are_clamped_to_the_floor() {
        let mut q = EventQueue::new();
        q.push(SimTime(100), 'x');
        assert_eq!(q.pop().map(|e| e.time), Some(SimTime(100)));
        q.push(SimTime(3), 'y');
        assert_eq!(
            q.pop().map(|e| (e.time, e.event)),
            Some((SimTime(100), 'y'))
        );
    }

    #[test]
    fn handles_extreme_times() {
        let mut q = EventQueue::new();
        q.push(SimTime(u64::MAX), 1);
        q.push(SimTime(0), 0);
        q.push(SimTime(1 << 63), 2);
        let v: Vec<i32> = std::iter::from_fn(|| q.pop().map(|e| e.event)).collect();
        assert_eq!(v, vec![0, 2, 1]);
    }
}

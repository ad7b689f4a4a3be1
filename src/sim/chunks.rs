//! Chunked lists: unsorted lists of `Copy` entries stored as chains of
//! fixed-size chunks taken from one shared pool.
//!
//! The event queue ([`super::queue`]) and the herd's wheel keep many lists
//! (calendar buckets) that are filled by appends and read once, front to back.
//! Chaining fixed-size chunks from a pool, and returning each chunk as soon
//! as it has been read, keeps memory close to the live entries (one partly
//! filled chunk per list) instead of each list keeping the largest buffer it
//! ever needed, and the chunk a push writes into is usually the one just freed,
//! still in the CPU cache. After warm-up, neither pushes nor reads allocate.
//!
//! The chunk size is the pool's choice: small chunks waste little in partly
//! filled tails; large ones are read in longer sequential runs, which matters
//! when a list is read long after it was written (from main memory, where
//! the hardware prefetcher needs a run to follow).

/// Entries per chunk, unless a pool says otherwise.
pub const CHUNK: usize = 64;
/// "No chunk".
const NIL: u32 = u32::MAX;

/// An unsorted list: a chain of pool chunks.
#[derive(Debug, Clone, Copy)]
pub(crate) struct List {
    pub head: u32,
    pub tail: u32,
    pub len: usize,
}

impl List {
    pub const EMPTY: List = List {
        head: NIL,
        tail: NIL,
        len: 0,
    };
}

/// Fixed-size chunks of entries shared by every list, with a LIFO free list.
#[derive(Debug, Clone)]
pub(crate) struct Pool<T, const C: usize = CHUNK> {
    /// Chunk `c` is `slots[c * C..(c + 1) * C]`.
    pub slots: Vec<T>,
    /// The chunk after chunk `c` in its list.
    pub next: Vec<u32>,
    /// Chunks not in any list.
    pub free: Vec<u32>,
}

impl<T: Copy, const C: usize> Default for Pool<T, C> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Copy, const C: usize> Pool<T, C> {
    pub fn new() -> Self {
        Self {
            slots: Vec::new(),
            next: Vec::new(),
            free: Vec::new(),
        }
    }

    /// Appends `e` to `list`.
    #[inline(always)]
    pub fn push(&mut self, list: &mut List, e: T) {
        let off = list.len % C;
        if off == 0 {
            self.link_new_chunk(list, e);
        }
        self.slots[list.tail as usize * C + off] = e;
        list.len += 1;
    }

    /// Gives `list` a fresh tail chunk (its current tail is full or it is empty).
    #[cold]
    #[inline(never)]
    fn link_new_chunk(&mut self, list: &mut List, filler: T) {
        let c = self.alloc(filler);
        if list.len == 0 {
            list.head = c;
        } else {
            self.next[list.tail as usize] = c;
        }
        list.tail = c;
    }

    #[inline]
    fn alloc(&mut self, filler: T) -> u32 {
        if let Some(c) = self.free.pop() {
            self.next[c as usize] = NIL;
            return c;
        }
        let c = u32::try_from(self.next.len()).unwrap_or_else(|_| unreachable!("over 2^32 chunks"));
        self.next.push(NIL);
        self.slots.extend(std::iter::repeat_n(filler, C));
        c
    }

    /// Hands `list`'s entries to `f` a chunk at a time, in push order.
    #[inline]
    pub fn read(&self, list: List, mut f: impl FnMut(&[T])) {
        let mut c = list.head;
        let mut left = list.len;
        while left > 0 {
            let n = left.min(C);
            let base = c as usize * C;
            f(&self.slots[base..base + n]);
            left -= n;
            c = self.next[c as usize];
        }
    }

    /// Like [`Pool::read`], and returns each chunk to the pool once `f` has
    /// read it. While `f` reads a chunk, the CPU is asked to fetch the next
    /// one: a list read long after it was written comes from main memory,
    /// and the hardware prefetcher cannot guess where the next chunk is.
    #[inline]
    pub fn drain(&mut self, list: List, mut f: impl FnMut(&[T])) {
        let line = (64 / std::mem::size_of::<T>().max(1)).max(1);
        let mut c = list.head;
        let mut left = list.len;
        while left > 0 {
            let n = left.min(C);
            let base = c as usize * C;
            let next = self.next[c as usize];
            if left > n {
                let ahead = (left - n).min(C);
                let next_base = next as usize * C;
                for i in (0..ahead).step_by(line) {
                    prefetch(&self.slots[next_base + i]);
                }
            }
            f(&self.slots[base..base + n]);
            left -= n;
            self.free.push(c);
            c = next;
        }
    }

    /// Bytes held by the pool.
    pub fn memory_bytes(&self) -> usize {
        self.slots.capacity() * std::mem::size_of::<T>()
            + (self.next.capacity() + self.free.capacity()) * 4
    }
}

/// Asks the CPU to start fetching the cache line holding `x` into its
/// caches. Only a hint: it changes no value, and does nothing where the
/// instruction is not available.
#[inline(always)]
fn prefetch<T>(x: &T) {
    #[cfg(all(
        any(target_arch = "x86", target_arch = "x86_64"),
        target_feature = "sse"
    ))]
    safe_arch::prefetch_t0(x);
    #[cfg(not(all(
        any(target_arch = "x86", target_arch = "x86_64"),
        target_feature = "sse"
    )))]
    let _ = x;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_keep_push_order_and_reuse_freed_chunks() {
        check_lists::<CHUNK>();
        check_lists::<8>();
        check_lists::<256>();
    }

    fn check_lists<const C: usize>() {
        let mut pool: Pool<u32, C> = Pool::new();
        let (mut a, mut b) = (List::EMPTY, List::EMPTY);
        for i in 0..200u32 {
            pool.push(if i % 3 == 0 { &mut a } else { &mut b }, i);
        }
        let mut got = Vec::new();
        pool.drain(a, |c| got.extend_from_slice(c));
        assert_eq!(got, (0..200).filter(|i| i % 3 == 0).collect::<Vec<_>>());
        let chunks = pool.next.len();
        // a's chunks are free again: a new list of the same size needs no more.
        let mut c = List::EMPTY;
        for i in 0..67 {
            pool.push(&mut c, i);
        }
        assert_eq!(pool.next.len(), chunks);
        got.clear();
        pool.drain(b, |ch| got.extend_from_slice(ch));
        assert_eq!(got, (0..200).filter(|i| i % 3 != 0).collect::<Vec<_>>());
    }
}

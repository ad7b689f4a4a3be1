//! Seeded, portable randomness for quizzes: choice shuffles and template parameters.
//!
//! `rand`'s distributions (`random_range`, `shuffle`) are allowed to change their
//! output between releases, which would change which question a stored seed means.
//! So this module keeps only the generator from `rand_pcg` (PCG64-MCG, whose output
//! stream is fixed by the algorithm) and implements the two things we need on top of
//! it — an unbiased integer below `n` and a Fisher–Yates shuffle — in a few lines we
//! own. Seeds are derived from stable strings with FNV-1a, never from `std`'s hasher.

use rand_pcg::Pcg64Mcg;
use rand_pcg::rand_core::{Rng, SeedableRng};

/// A deterministic random source for one attempt.
#[derive(Debug, Clone)]
pub struct QuizRng(Pcg64Mcg);

impl QuizRng {
    /// A generator fully determined by `seed`.
    pub fn new(seed: u64) -> Self {
        Self(Pcg64Mcg::seed_from_u64(seed))
    }

    /// Next raw 64-bit value.
    pub fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }

    /// A uniform integer in `0..n` (`0` when `n == 0`), without modulo bias
    /// (Lemire's multiply-and-reject method).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            return 0;
        }
        let threshold = n.wrapping_neg() % n;
        loop {
            let m = u128::from(self.next_u64()) * u128::from(n);
            // Low 64 bits decide rejection; high 64 bits are the result.
            let low = m as u64;
            if low >= threshold {
                return (m >> 64) as u64;
            }
        }
    }

    /// Shuffles `items` in place (Fisher–Yates).
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i as u64 + 1) as usize;
            items.swap(i, j);
        }
    }
}

/// A stable 64-bit seed from several strings (FNV-1a over the parts, separated).
pub fn seed_from(parts: &[&str]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for b in p.bytes().chain(std::iter::once(0xff)) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    h
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // Tests panic on failure by design.
mod tests {
    use super::*;

    const PINNED_RAW: u64 = 0xdb51_d062_deef_2483;
    const PINNED_SHUFFLE: [u32; 8] = [3, 4, 1, 6, 7, 5, 0, 2];

    #[test]
    fn reproducible_and_in_range() {
        let mut a = QuizRng::new(7);
        let mut b = QuizRng::new(7);
        let xs: Vec<u64> = (0..100).map(|_| a.below(10)).collect();
        let ys: Vec<u64> = (0..100).map(|_| b.below(10)).collect();
        assert_eq!(xs, ys);
        assert!(xs.iter().all(|&x| x < 10));
        // All values show up: the generator is not stuck.
        for v in 0..10 {
            assert!(xs.contains(&v));
        }
        assert_eq!(a.below(0), 0);
        assert_eq!(a.below(1), 0);
    }

    #[test]
    fn shuffle_is_a_permutation() {
        let mut r = QuizRng::new(42);
        let mut v: Vec<u32> = (0..20).collect();
        r.shuffle(&mut v);
        let mut sorted = v.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..20).collect::<Vec<_>>());
        assert_ne!(v, sorted, "a 20-element shuffle left everything in place");
    }

    #[test]
    fn output_is_pinned() {
        // A stored seed must mean the same question after any dependency upgrade.
        let mut r = QuizRng::new(1);
        let raw = r.next_u64();
        let mut v: Vec<u32> = (0..8).collect();
        QuizRng::new(2024).shuffle(&mut v);
        assert_eq!(raw, PINNED_RAW);
        assert_eq!(v, PINNED_SHUFFLE);
    }

    #[test]
    fn seeds_are_stable() {
        // Pinned: changing this value changes every stored attempt's meaning.
        assert_eq!(seed_from(&["a", "b"]), 0xd2b3_7181_9297_f98a);
        assert_ne!(seed_from(&["ab", ""]), seed_from(&["a", "b"]));
        assert_eq!(seed_from(&[]), 0xcbf2_9ce4_8422_2325);
    }
}

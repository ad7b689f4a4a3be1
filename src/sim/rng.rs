//! The one seeded random-number generator of a simulation run.
//!
//! [`SimRng`] wraps a PCG-64 (MCG variant, `rand_pcg::Pcg64Mcg`) seeded from a
//! `u64` with `rand_core`'s portable `seed_from_u64`. Every draw the models make goes
//! through the few methods here, which use only integer arithmetic (plus one exact
//! int-to-float conversion), so the same seed yields the same draws on every
//! platform and every release of this crate that keeps these formulas. The engine
//! ([`super::engine`]) owns one per run and lends it to the scenario.

use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64Mcg;

/// A small, fast, portable, seeded generator. Not cryptographic.
#[derive(Debug, Clone)]
pub struct SimRng {
    inner: Pcg64Mcg,
}

impl SimRng {
    /// A generator whose whole sequence is fixed by `seed`.
    pub fn seed_from(seed: u64) -> Self {
        Self {
            inner: Pcg64Mcg::seed_from_u64(seed),
        }
    }

    /// 64 uniformly random bits.
    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        self.inner.next_u64()
    }

    /// Uniform in `[0, n)`; returns 0 when `n == 0`.
    ///
    /// Lemire's multiply-shift with rejection, so it is exactly uniform and needs a
    /// division only in the rare rejection branch.
    #[inline]
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            return 0;
        }
        let mut m = u128::from(self.next_u64()) * u128::from(n);
        let mut low = m as u64;
        if low < n {
            let threshold = n.wrapping_neg() % n;
            while low < threshold {
                m = u128::from(self.next_u64()) * u128::from(n);
                low = m as u64;
            }
        }
        (m >> 64) as u64
    }

    /// Uniform in the closed range `[lo, hi]` (swapped if given backwards).
    #[inline]
    pub fn between(&mut self, lo: u64, hi: u64) -> u64 {
        let (lo, hi) = if lo <= hi { (lo, hi) } else { (hi, lo) };
        match (hi - lo).checked_add(1) {
            Some(span) => lo + self.below(span),
            // The full u64 range: every value is allowed.
            None => self.next_u64(),
        }
    }

    /// Uniform in `[0, 1)` with 53 random bits.
    #[inline]
    pub fn unit_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Exponentially distributed with the given mean (inverse-CDF method).
    ///
    /// Uses `f64::ln`, whose last bit may differ between C libraries; scenarios
    /// that promise cross-platform byte-identical reports avoid it (the herd does).
    #[inline]
    pub fn exp(&mut self, mean: f64) -> f64 {
        -(1.0 - self.unit_f64()).ln() * mean
    }
}

/// A draw uniform in `[0, n)` (0 when `n == 0`) fixed by `(key, index)` alone,
/// so a model can draw a value for item `index` when it first needs it and
/// draw the same value again later instead of storing it.
///
/// Counter-based: the draws for `index` come from a SplitMix64 stream (Steele,
/// Lea and Flood, "Fast splittable pseudorandom number generators", 2014)
/// started at `key ^ mix(index)`, made exactly uniform with Lemire's
/// multiply-shift and rejection. Integer arithmetic only, so portable like
/// [`SimRng`]. `key` should itself be a draw from the run's [`SimRng`].
#[inline]
pub fn hashed_below(key: u64, index: u64, n: u64) -> u64 {
    if n == 0 {
        return 0;
    }
    let mut state = key ^ splitmix_mix(index);
    let mut next = || {
        state = state.wrapping_add(SPLITMIX_GAMMA);
        splitmix_mix(state)
    };
    let mut m = u128::from(next()) * u128::from(n);
    if (m as u64) < n {
        let threshold = n.wrapping_neg() % n;
        while (m as u64) < threshold {
            m = u128::from(next()) * u128::from(n);
        }
    }
    (m >> 64) as u64
}

const SPLITMIX_GAMMA: u64 = 0x9e37_79b9_7f4a_7c15;

/// SplitMix64's output function (a bijection on `u64`).
#[inline]
fn splitmix_mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_sequence_and_different_seed_differs() {
        let mut a = SimRng::seed_from(7);
        let mut b = SimRng::seed_from(7);
        let mut c = SimRng::seed_from(8);
        let xs: Vec<u64> = (0..8).map(|_| a.next_u64()).collect();
        let ys: Vec<u64> = (0..8).map(|_| b.next_u64()).collect();
        let zs: Vec<u64> = (0..8).map(|_| c.next_u64()).collect();
        assert_eq!(xs, ys);
        assert_ne!(xs, zs);
    }

    #[test]
    fn below_and_between_stay_in_range() {
        let mut r = SimRng::seed_from(1);
        for n in [1u64, 2, 3, 7, 1000, u64::MAX] {
            for _ in 0..1000 {
                assert!(r.below(n) < n);
            }
        }
        for _ in 0..1000 {
            let x = r.between(5, 9);
            assert!((5..=9).contains(&x));
        }
        assert_eq!(r.between(4, 4), 4);
        let _ = r.between(0, u64::MAX);
    }

    #[test]
    fn below_is_roughly_uniform() {
        // Theory: each of 10 cells gets 1/10 of 100,000 draws; the standard deviation
        // of a cell count is sqrt(100000 * 0.1 * 0.9) ~ 95, so +-600 is > 6 sigma.
        let mut r = SimRng::seed_from(3);
        let mut cells = [0u32; 10];
        for _ in 0..100_000 {
            cells[r.below(10) as usize] += 1;
        }
        for c in cells {
            assert!((9_400..=10_600).contains(&c), "cell count {c}");
        }
    }

    #[test]
    fn hashed_below_is_fixed_by_key_and_index_in_range_and_roughly_uniform() {
        assert_eq!(hashed_below(5, 9, 1_000), hashed_below(5, 9, 1_000));
        let a: Vec<u64> = (0..64).map(|i| hashed_below(5, i, u64::MAX)).collect();
        let b: Vec<u64> = (0..64).map(|i| hashed_below(6, i, u64::MAX)).collect();
        assert_ne!(a, b);
        assert_eq!(hashed_below(5, 9, 0), 0);
        assert_eq!(hashed_below(5, 9, 1), 0);
        // Theory as in `below_is_roughly_uniform`: 10 cells of 100,000 draws,
        // cell standard deviation ~95, so +-600 is > 6 sigma. Consecutive
        // indices, as the herd uses them.
        let mut cells = [0u32; 10];
        for i in 0..100_000 {
            let x = hashed_below(0x1234_5678, i, 10);
            cells[x as usize] += 1;
        }
        for c in cells {
            assert!((9_400..=10_600).contains(&c), "cell count {c}");
        }
        // A range that is not a power of two near 2^64 exercises rejection.
        let n = (u64::MAX / 3) * 2;
        assert!((0..1_000).all(|i| hashed_below(1, i, n) < n));
    }

    #[test]
    fn exp_has_the_right_mean() {
        // Theory: the sample mean of 200,000 Exp(mean 2) draws has a standard error of
        // 2 / sqrt(200000) ~ 0.0045; 0.03 is > 6 standard errors.
        let mut r = SimRng::seed_from(11);
        let n = 200_000;
        let sum: f64 = (0..n).map(|_| r.exp(2.0)).sum();
        assert!((sum / n as f64 - 2.0).abs() < 0.03);
    }
}

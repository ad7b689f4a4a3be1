//! Virtual time: integer nanoseconds since the start of a run.
//!
//! [`SimTime`] is a point on the virtual clock and [`SimDuration`] a span of it.
//! Both are `u64` nanoseconds, so ordering is exact and runs never depend on
//! floating-point rounding; the engine ([`super::engine`]), the recorder and every
//! scenario speak in these types, and only reports convert to seconds for people.

use std::fmt;
use std::ops::{Add, Sub};

/// Nanoseconds per second.
pub const NANOS_PER_SEC: u64 = 1_000_000_000;
/// Nanoseconds per millisecond.
pub const NANOS_PER_MILLI: u64 = 1_000_000;

/// A point in virtual time, in nanoseconds since the run started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct SimTime(pub u64);

/// A span of virtual time, in nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct SimDuration(pub u64);

impl SimTime {
    /// The start of every run.
    pub const ZERO: SimTime = SimTime(0);
    /// The latest representable instant (about 584 years).
    pub const MAX: SimTime = SimTime(u64::MAX);

    /// Nanoseconds since the start.
    #[inline]
    pub const fn as_nanos(self) -> u64 {
        self.0
    }

    /// Seconds since the start, for people and reports.
    #[inline]
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / NANOS_PER_SEC as f64
    }

    /// `self + d`, saturating at [`SimTime::MAX`] instead of wrapping.
    #[inline]
    pub const fn saturating_add(self, d: SimDuration) -> SimTime {
        SimTime(self.0.saturating_add(d.0))
    }

    /// The span from `earlier` to `self`, or zero if `earlier` is later.
    #[inline]
    pub const fn saturating_since(self, earlier: SimTime) -> SimDuration {
        SimDuration(self.0.saturating_sub(earlier.0))
    }
}

impl SimDuration {
    /// No time at all.
    pub const ZERO: SimDuration = SimDuration(0);
    /// The longest representable span.
    pub const MAX: SimDuration = SimDuration(u64::MAX);

    /// A span of whole nanoseconds.
    #[inline]
    pub const fn from_nanos(ns: u64) -> Self {
        SimDuration(ns)
    }

    /// A span of whole milliseconds (saturating).
    #[inline]
    pub const fn from_millis(ms: u64) -> Self {
        SimDuration(ms.saturating_mul(NANOS_PER_MILLI))
    }

    /// A span of whole seconds (saturating).
    #[inline]
    pub const fn from_secs(s: u64) -> Self {
        SimDuration(s.saturating_mul(NANOS_PER_SEC))
    }

    /// Converts seconds to the nearest nanosecond; `None` for negative, NaN or
    /// too-large values (callers turn that into a parameter error).
    pub fn try_from_secs_f64(secs: f64) -> Option<Self> {
        if !secs.is_finite() || secs < 0.0 {
            return None;
        }
        let ns = (secs * NANOS_PER_SEC as f64).round();
        // 2^64 is exactly representable; anything at or above it does not fit.
        if ns >= 18_446_744_073_709_551_616.0 {
            return None;
        }
        Some(SimDuration(ns as u64))
    }

    /// Nanoseconds in the span.
    #[inline]
    pub const fn as_nanos(self) -> u64 {
        self.0
    }

    /// Seconds in the span, for people and reports.
    #[inline]
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / NANOS_PER_SEC as f64
    }

    /// Milliseconds in the span, for people and reports.
    #[inline]
    pub fn as_millis_f64(self) -> f64 {
        self.0 as f64 / NANOS_PER_MILLI as f64
    }
}

impl Add<SimDuration> for SimTime {
    type Output = SimTime;
    /// Saturating: virtual time never wraps around.
    #[inline]
    fn add(self, d: SimDuration) -> SimTime {
        self.saturating_add(d)
    }
}

impl Sub<SimTime> for SimTime {
    type Output = SimDuration;
    /// Saturating at zero.
    #[inline]
    fn sub(self, earlier: SimTime) -> SimDuration {
        self.saturating_since(earlier)
    }
}

impl fmt::Display for SimTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.3} s", self.as_secs_f64())
    }
}

impl fmt::Display for SimDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.3} s", self.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_convert_to_nanoseconds_and_reject_bad_values() {
        assert_eq!(
            SimDuration::try_from_secs_f64(1.5),
            Some(SimDuration(1_500_000_000))
        );
        assert_eq!(
            SimDuration::try_from_secs_f64(0.0005),
            Some(SimDuration(500_000))
        );
        assert_eq!(SimDuration::try_from_secs_f64(-1.0), None);
        assert_eq!(SimDuration::try_from_secs_f64(f64::NAN), None);
        assert_eq!(SimDuration::try_from_secs_f64(f64::INFINITY), None);
        assert_eq!(SimDuration::try_from_secs_f64(1e20), None);
    }

    #[test]
    fn arithmetic_saturates() {
        assert_eq!(SimTime::MAX + SimDuration(1), SimTime::MAX);
        assert_eq!(SimTime(5) - SimTime(9), SimDuration::ZERO);
        assert_eq!(SimTime(9) - SimTime(5), SimDuration(4));
    }
}

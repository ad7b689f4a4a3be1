//! Timestamps and local calendar days for the learning core.
//!
//! Nothing in `learn` reads the clock: every function takes a [`Moment`] (Unix
//! milliseconds plus the UTC offset in force for the user), built once at the edge
//! (CLI/TUI) with [`Moment::now`] or explicitly in tests. Days are *local* days:
//! a review at 23:30 and one at 00:10 are on different days even though they are
//! 40 min apart, which is what "study every day" and "due today" mean to a person.
//! No date crate is needed: day numbers are `floor((unix_s + offset_s) / 86 400)` and
//! the only calendar output (`YYYY-MM-DD`) uses the civil-from-days algorithm.

use serde::{Deserialize, Serialize};
use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds in one day.
pub const DAY_MS: i64 = 86_400_000;

/// A point in time as the learner sees it: Unix time in milliseconds and the
/// local UTC offset in seconds (east positive, e.g. +3 600 for CET in winter).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Moment {
    /// Milliseconds since 1970-01-01T00:00:00Z.
    pub unix_ms: i64,
    /// Local offset from UTC in seconds.
    pub utc_offset_s: i32,
}

impl Moment {
    /// A moment at `unix_ms` with the given UTC offset (seconds, clamped to ±18 h).
    pub fn new(unix_ms: i64, utc_offset_s: i32) -> Self {
        Self {
            unix_ms,
            utc_offset_s: utc_offset_s.clamp(-18 * 3600, 18 * 3600),
        }
    }

    /// A moment in UTC.
    pub fn utc(unix_ms: i64) -> Self {
        Self::new(unix_ms, 0)
    }

    /// The wall clock now, with the offset supplied by the caller (the caller knows
    /// the time zone; `learn` does not depend on a time-zone database).
    pub fn now(utc_offset_s: i32) -> Self {
        let unix_ms = match SystemTime::now().duration_since(UNIX_EPOCH) {
            Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
            // A clock before 1970 is a broken clock; treat it as the epoch.
            Err(_) => 0,
        };
        Self::new(unix_ms, utc_offset_s)
    }

    /// The local day number (days since 1970-01-01 in local time).
    pub fn day(self) -> i64 {
        local_day(self.unix_ms, self.utc_offset_s)
    }

    /// Unix milliseconds at which local day `day` starts, with this moment's offset.
    pub fn start_of_day(self, day: i64) -> i64 {
        day.saturating_mul(DAY_MS)
            .saturating_sub(i64::from(self.utc_offset_s) * 1000)
    }

    /// The same offset, `ms` milliseconds later.
    pub fn plus_ms(self, ms: i64) -> Self {
        Self::new(self.unix_ms.saturating_add(ms), self.utc_offset_s)
    }
}

/// The local day number of `unix_ms` under `utc_offset_s`.
pub fn local_day(unix_ms: i64, utc_offset_s: i32) -> i64 {
    unix_ms
        .saturating_add(i64::from(utc_offset_s) * 1000)
        .div_euclid(DAY_MS)
}

/// `YYYY-MM-DD` for a day number (proleptic Gregorian calendar).
pub fn date_string(day: i64) -> String {
    let (y, m, d) = civil_from_days(day);
    format!("{y:04}-{m:02}-{d:02}")
}

/// Howard Hinnant's `civil_from_days`: day number since 1970-01-01 -> (year, month, day).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // [0, 146096]
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365]
    let mp = (5 * doy + 2) / 153; // [0, 11]
    let d = doy - (153 * mp + 2) / 5 + 1; // [1, 31]
    let m = if mp < 10 { mp + 3 } else { mp - 9 }; // [1, 12]
    let y = if m <= 2 { y + 1 } else { y };
    // d and m are in small ranges established above.
    (y, m as u32, d as u32)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // Tests panic on failure by design.
mod tests {
    use super::*;

    #[test]
    fn local_days_respect_offset() {
        // 2024-03-10T23:30:00Z
        let t = 1_710_113_400_000;
        assert_eq!(date_string(local_day(t, 0)), "2024-03-10");
        assert_eq!(date_string(local_day(t, 3600)), "2024-03-11");
        assert_eq!(date_string(local_day(t, -5 * 3600)), "2024-03-10");
        let m = Moment::new(t, 3600);
        assert_eq!(local_day(m.start_of_day(m.day()), 3600), m.day());
        assert_eq!(local_day(m.start_of_day(m.day()) - 1, 3600), m.day() - 1);
    }

    #[test]
    fn civil_dates() {
        assert_eq!(date_string(0), "1970-01-01");
        assert_eq!(date_string(-1), "1969-12-31");
        assert_eq!(date_string(19_782), "2024-02-29");
        assert_eq!(date_string(11_016), "2000-02-29");
    }
}

//! Spaced-repetition scheduling: FSRS-6 (the `fsrs` crate, default parameters).
//!
//! Given an item's previous [`ItemState`] (or none for a new item), a [`Rating`] and
//! the current [`Moment`], [`Scheduler::review`] returns the next state: FSRS memory
//! (stability in days, difficulty 1..10), the next due time, and counters. `store`
//! calls it once per recorded answer and again, in log order, to `rebuild`; `stats`
//! and `session` use [`Scheduler::retrievability`].
//!
//! Day arithmetic follows FSRS's own model, which counts whole days: the elapsed
//! time given to FSRS is the number of *local* days between the last review and now
//! (so a second review on the same day uses FSRS-6's short-term formula). Due
//! dates are the start of the local day `interval` days from today, so an item is
//! "due today" all day, like in Anki. An `Again` is not pushed to another day:
//! FSRS gives a failed item a stability of hours, so it comes back after
//! [`RELEARN_DELAY_MS`] (10 min), in the same session if the session is still
//! running. No fuzz is applied, so schedules are reproducible.

use std::fmt;
use std::str::FromStr;

use fsrs::{FSRS, MemoryState};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::learn::time::{DAY_MS, Moment};

/// Default desired retention: the probability of recall FSRS aims for at review time.
pub const DEFAULT_DESIRED_RETENTION: f32 = 0.9;
/// Lowest and highest desired retention accepted (the range Anki allows).
pub const RETENTION_RANGE: (f32, f32) = (0.7, 0.99);
/// How long after an `Again` the item is due again: 10 min.
pub const RELEARN_DELAY_MS: i64 = 10 * 60 * 1000;
/// Longest interval scheduled: 100 years, in days.
pub const MAX_INTERVAL_DAYS: u32 = 36_500;

/// Errors of the scheduler.
#[derive(Debug, Error)]
pub enum SchedulerError {
    /// Desired retention outside [`RETENTION_RANGE`].
    #[error("desired retention {0} is outside 0.7..=0.99")]
    Retention(f32),
    /// The FSRS model rejected an input (e.g. a non-finite stored state).
    #[error("FSRS rejected the state of item `{item}`: {message}")]
    Fsrs {
        /// The item whose state was rejected.
        item: String,
        /// The crate's message.
        message: String,
    },
}

/// A review rating, as in FSRS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Rating {
    /// Forgot / wrong.
    Again = 1,
    /// Right, with difficulty (or slowly).
    Hard = 2,
    /// Right.
    Good = 3,
    /// Right and effortless (or fast).
    Easy = 4,
}

impl Rating {
    /// All ratings, worst first.
    pub const ALL: [Rating; 4] = [Self::Again, Self::Hard, Self::Good, Self::Easy];

    /// 1..=4, as FSRS and the review log use.
    pub fn as_u8(self) -> u8 {
        self as u8
    }

    /// From 1..=4.
    pub fn from_u8(v: u8) -> Option<Self> {
        Self::ALL.get(usize::from(v).checked_sub(1)?).copied()
    }

    /// Lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Again => "again",
            Self::Hard => "hard",
            Self::Good => "good",
            Self::Easy => "easy",
        }
    }
}

impl fmt::Display for Rating {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Rating {
    type Err = String;

    /// Accepts `1`..`4` or the names, case-insensitively (`again`, `a`, ...).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim().to_ascii_lowercase();
        let r = match t.as_str() {
            "1" | "again" | "a" => Self::Again,
            "2" | "hard" | "h" => Self::Hard,
            "3" | "good" | "g" => Self::Good,
            "4" | "easy" | "e" => Self::Easy,
            _ => {
                return Err(format!(
                    "`{s}` is not a rating: use 1-4 or again/hard/good/easy"
                ));
            }
        };
        Ok(r)
    }
}

/// FSRS memory state.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Memory {
    /// Days until retrievability falls to 90 %.
    pub stability: f32,
    /// 1 (easy) ..= 10 (hard).
    pub difficulty: f32,
}

impl From<MemoryState> for Memory {
    fn from(m: MemoryState) -> Self {
        Self {
            stability: m.stability,
            difficulty: m.difficulty,
        }
    }
}

impl From<Memory> for MemoryState {
    fn from(m: Memory) -> Self {
        Self {
            stability: m.stability,
            difficulty: m.difficulty,
        }
    }
}

/// The scheduling state of one reviewed item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ItemState {
    /// Quiz item id.
    pub item_id: String,
    /// The card the item belonged to at its last review.
    pub card_id: String,
    /// FSRS memory after the last review.
    pub memory: Memory,
    /// When the item is next due (Unix ms).
    pub due_ms: i64,
    /// When it was last reviewed (Unix ms).
    pub last_review_ms: i64,
    /// The local day number of the last review.
    pub last_day: i64,
    /// Number of reviews.
    pub reps: u32,
    /// Number of `Again` ratings after the first review.
    pub lapses: u32,
}

/// The outcome of scheduling one review.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Scheduled {
    /// The item's new state.
    pub state: ItemState,
    /// The interval FSRS computed, in days (fractional, before rounding).
    pub fsrs_interval_days: f32,
    /// Whole days until due (0 for a relearn after `Again`).
    pub scheduled_days: u32,
}

/// FSRS with a desired retention.
#[derive(Debug, Clone)]
pub struct Scheduler {
    fsrs: FSRS,
    desired_retention: f32,
}

impl Default for Scheduler {
    fn default() -> Self {
        Self {
            fsrs: FSRS::default(),
            desired_retention: DEFAULT_DESIRED_RETENTION,
        }
    }
}

impl Scheduler {
    /// FSRS-6 default parameters and the given desired retention.
    pub fn new(desired_retention: f32) -> Result<Self, SchedulerError> {
        let (lo, hi) = RETENTION_RANGE;
        if !(lo..=hi).contains(&desired_retention) {
            return Err(SchedulerError::Retention(desired_retention));
        }
        Ok(Self {
            desired_retention,
            ..Self::default()
        })
    }

    /// The desired retention.
    pub fn desired_retention(&self) -> f32 {
        self.desired_retention
    }

    /// The four possible next memory states and intervals (days), straight from FSRS.
    pub fn next_states(
        &self,
        item_id: &str,
        previous: Option<Memory>,
        elapsed_days: u32,
    ) -> Result<fsrs::NextStates, SchedulerError> {
        self.fsrs
            .next_states(
                previous.map(Into::into),
                self.desired_retention,
                elapsed_days,
            )
            .map_err(|e| SchedulerError::Fsrs {
                item: item_id.to_string(),
                message: e.to_string(),
            })
    }

    /// Schedules a review of `item_id` rated `rating` at `now`. `previous` is the
    /// item's state before this review (`None` for its first review).
    pub fn review(
        &self,
        item_id: &str,
        card_id: &str,
        previous: Option<&ItemState>,
        rating: Rating,
        now: Moment,
    ) -> Result<Scheduled, SchedulerError> {
        let today = now.day();
        let elapsed = previous.map_or(0, |p| elapsed_days(p.last_day, today));
        let next = self.next_states(item_id, previous.map(|p| p.memory), elapsed)?;
        let chosen = match rating {
            Rating::Again => next.again,
            Rating::Hard => next.hard,
            Rating::Good => next.good,
            Rating::Easy => next.easy,
        };
        let (due_ms, scheduled_days) = if rating == Rating::Again {
            (now.unix_ms.saturating_add(RELEARN_DELAY_MS), 0)
        } else {
            let days = whole_days(chosen.interval);
            (now.start_of_day(today + i64::from(days)), days)
        };
        let (reps, lapses) = previous.map_or((0, 0), |p| (p.reps, p.lapses));
        let lapse = u32::from(previous.is_some() && rating == Rating::Again);
        Ok(Scheduled {
            state: ItemState {
                item_id: item_id.to_string(),
                card_id: card_id.to_string(),
                memory: chosen.memory.into(),
                due_ms,
                last_review_ms: now.unix_ms,
                last_day: today,
                reps: reps.saturating_add(1),
                lapses: lapses.saturating_add(lapse),
            },
            fsrs_interval_days: chosen.interval,
            scheduled_days,
        })
    }

    /// Whole days until due for each rating, for showing "Good: 3 d" before answering.
    pub fn preview_days(
        &self,
        item_id: &str,
        previous: Option<&ItemState>,
        now: Moment,
    ) -> Result<[u32; 4], SchedulerError> {
        let elapsed = previous.map_or(0, |p| elapsed_days(p.last_day, now.day()));
        let n = self.next_states(item_id, previous.map(|p| p.memory), elapsed)?;
        Ok([
            0,
            whole_days(n.hard.interval),
            whole_days(n.good.interval),
            whole_days(n.easy.interval),
        ])
    }

    /// The probability of recalling the item now, by the FSRS-6 forgetting curve
    /// (elapsed time counted in fractional days since the last review).
    pub fn retrievability(&self, state: &ItemState, now: Moment) -> f64 {
        let days = (now.unix_ms - state.last_review_ms).max(0) as f64 / DAY_MS as f64;
        let decay = fsrs::DEFAULT_PARAMETERS[20];
        let r = fsrs::current_retrievability(state.memory.into(), days as f32, decay);
        if r.is_finite() {
            f64::from(r).clamp(0.0, 1.0)
        } else {
            0.0
        }
    }
}

fn elapsed_days(last_day: i64, today: i64) -> u32 {
    u32::try_from((today - last_day).max(0)).unwrap_or(u32::MAX)
}

/// An FSRS interval rounded to whole days, at least 1 and at most
/// [`MAX_INTERVAL_DAYS`].
fn whole_days(interval: f32) -> u32 {
    if interval.is_finite() {
        (interval.round().max(1.0) as u32).min(MAX_INTERVAL_DAYS)
    } else {
        MAX_INTERVAL_DAYS
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // Tests panic on failure by design.
mod tests {
    use super::*;

    const T0: i64 = 1_767_225_600_000; // 2026-01-01T00:00:00Z

    fn at(days: f64) -> Moment {
        Moment::utc(T0 + (days * DAY_MS as f64) as i64)
    }

    #[test]
    fn ratings_round_trip() {
        for r in Rating::ALL {
            assert_eq!(Rating::from_u8(r.as_u8()), Some(r));
            assert_eq!(r.as_str().parse::<Rating>(), Ok(r));
        }
        assert_eq!(Rating::from_u8(0), None);
        assert_eq!(Rating::from_u8(5), None);
        assert_eq!("G".parse::<Rating>(), Ok(Rating::Good));
        assert!("ok".parse::<Rating>().is_err());
    }

    #[test]
    fn retention_is_validated() {
        assert!(Scheduler::new(0.9).is_ok());
        assert!(matches!(
            Scheduler::new(0.5),
            Err(SchedulerError::Retention(_))
        ));
        assert!(Scheduler::new(1.0).is_err());
        assert!(Scheduler::new(f32::NAN).is_err());
    }

    #[test]
    fn first_review_matches_the_crate() {
        let s = Scheduler::default();
        let direct = FSRS::default().next_states(None, 0.9, 0).unwrap();
        let good = s.review("i", "c", None, Rating::Good, at(0.0)).unwrap();
        assert_eq!(good.state.memory, Memory::from(direct.good.memory));
        assert_eq!(good.fsrs_interval_days, direct.good.interval);
        // FSRS-6 defaults: a first Good has stability w[2] = 2.3065 days.
        assert_eq!(good.state.memory.stability, fsrs::DEFAULT_PARAMETERS[2]);
        assert_eq!(good.scheduled_days, 2);
        assert_eq!(good.state.due_ms, T0 + 2 * DAY_MS);
        assert_eq!((good.state.reps, good.state.lapses), (1, 0));
        let easy = s.review("i", "c", None, Rating::Easy, at(0.0)).unwrap();
        assert_eq!(easy.scheduled_days, 8);
        let again = s.review("i", "c", None, Rating::Again, at(0.0)).unwrap();
        assert_eq!(again.state.due_ms, T0 + RELEARN_DELAY_MS);
        assert_eq!(again.state.lapses, 0, "failing a new item is not a lapse");
    }

    #[test]
    fn interval_grows_after_good_and_shrinks_after_again() {
        let s = Scheduler::default();
        let mut st = s.review("i", "c", None, Rating::Good, at(0.0)).unwrap();
        let mut day = 0.0;
        let mut last_interval = st.scheduled_days;
        for _ in 0..4 {
            day += f64::from(st.scheduled_days);
            let next = s
                .review("i", "c", Some(&st.state), Rating::Good, at(day))
                .unwrap();
            assert!(
                next.scheduled_days > last_interval,
                "{} !> {last_interval}",
                next.scheduled_days
            );
            assert!(next.state.memory.stability > st.state.memory.stability);
            last_interval = next.scheduled_days;
            st = next;
        }
        // Check the chained state against the crate directly.
        let elapsed =
            u32::try_from(at(day + f64::from(st.scheduled_days)).day() - st.state.last_day)
                .unwrap();
        let direct = FSRS::default()
            .next_states(Some(st.state.memory.into()), 0.9, elapsed)
            .unwrap();
        day += f64::from(st.scheduled_days);
        let failed = s
            .review("i", "c", Some(&st.state), Rating::Again, at(day))
            .unwrap();
        assert_eq!(failed.state.memory, Memory::from(direct.again.memory));
        assert_eq!(failed.fsrs_interval_days, direct.again.interval);
        assert!(failed.state.memory.stability < st.state.memory.stability);
        assert!(failed.fsrs_interval_days < st.fsrs_interval_days);
        assert_eq!(failed.state.lapses, 1);
        assert_eq!(failed.state.reps, 6);
        // The relearn the same day uses elapsed = 0 (short-term stability).
        let relearn_at = at(day).plus_ms(RELEARN_DELAY_MS);
        let direct = FSRS::default()
            .next_states(Some(failed.state.memory.into()), 0.9, 0)
            .unwrap();
        let relearn = s
            .review("i", "c", Some(&failed.state), Rating::Good, relearn_at)
            .unwrap();
        assert_eq!(relearn.state.memory, Memory::from(direct.good.memory));
    }

    #[test]
    fn lower_retention_means_longer_intervals() {
        let hi = Scheduler::new(0.95).unwrap();
        let lo = Scheduler::new(0.8).unwrap();
        let a = hi.review("i", "c", None, Rating::Easy, at(0.0)).unwrap();
        let b = lo.review("i", "c", None, Rating::Easy, at(0.0)).unwrap();
        assert!(b.fsrs_interval_days > a.fsrs_interval_days);
    }

    #[test]
    fn due_is_the_start_of_a_local_day() {
        let s = Scheduler::default();
        // 23:00 local (UTC+2) on day D: Good (2 d) is due at 00:00 local of D+2.
        let now = Moment::new(T0 + 21 * 3_600_000, 2 * 3600);
        let r = s.review("i", "c", None, Rating::Good, now).unwrap();
        assert_eq!(r.state.due_ms, now.start_of_day(now.day() + 2));
        assert_eq!(
            crate::learn::time::local_day(r.state.due_ms, 2 * 3600),
            now.day() + 2
        );
    }

    #[test]
    fn retrievability_follows_the_curve() {
        let s = Scheduler::default();
        let st = s
            .review("i", "c", None, Rating::Good, at(0.0))
            .unwrap()
            .state;
        assert!((s.retrievability(&st, at(0.0)) - 1.0).abs() < 1e-6);
        // At t = stability, FSRS retrievability is 90 % by definition.
        let r = s.retrievability(&st, at(f64::from(st.memory.stability)));
        assert!((r - 0.9).abs() < 1e-3, "{r}");
        assert!(s.retrievability(&st, at(30.0)) < r);
        assert_eq!(s.preview_days("i", None, at(0.0)).unwrap(), [0, 1, 2, 8]);
    }
}

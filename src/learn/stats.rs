//! Progress statistics as plain serializable data: what is due, how well the
//! learner retains, the study streak, per-card mastery, a 30-day due forecast and a
//! 30-day review history. `store` gathers the inputs ([`crate::learn::store::Store::stats`]);
//! the CLI prints [`Stats`] as JSON and the TUI draws it as charts.
//!
//! Definitions (all days are the learner's local days, see `time`):
//!
//! * **due now / today / this week**: content items already reviewed whose due time
//!   is at or before now / before the end of today / before the end of the 7th day
//!   counting today. New (never reviewed) items are counted separately.
//! * **retention**: `mean_retrievability` is the mean FSRS probability of recall, now,
//!   over reviewed items (what FSRS believes); `accuracy_30d` is the fraction of right
//!   answers among reviews in the last 30 days (what actually happened).
//! * **streak**: consecutive days with at least one review, ending today — or
//!   yesterday, so the streak is not shown as broken before today's session.
//! * **mastery** of a card: the fraction of its items whose FSRS stability is at
//!   least [`MASTERY_STABILITY_DAYS`] (21 days, Anki's "mature"), i.e. items the
//!   learner would still recall with 90 % probability three weeks from now;
//!   `recall_now` is the mean retrievability over all its items, counting new
//!   items as 0.
//!
//! Items in the store that no longer exist in the content are ignored.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use crate::learn::quiz::QuizBank;
use crate::learn::scheduler::{ItemState, Scheduler};
use crate::learn::store::ReviewRecord;
use crate::learn::time::{Moment, date_string, local_day};

/// Days of review history reported (ending today).
pub const HISTORY_DAYS: u32 = 30;
/// Days of due forecast reported (starting today).
pub const FORECAST_DAYS: u32 = 30;
/// Stability (days) at which an item counts as mastered.
pub const MASTERY_STABILITY_DAYS: f32 = 21.0;

/// An item of the current content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContentItem {
    /// Item id.
    pub item_id: String,
    /// Its card.
    pub card_id: String,
}

/// The items of `banks`, in order.
pub fn content_items(banks: &[QuizBank]) -> Vec<ContentItem> {
    banks
        .iter()
        .flat_map(|b| {
            b.items.iter().map(|i| ContentItem {
                item_id: i.id.clone(),
                card_id: i.card.clone(),
            })
        })
        .collect()
}

/// Everything `swelearn stats` shows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stats {
    /// When computed (Unix ms).
    pub generated_at_ms: i64,
    /// Today's local date, `YYYY-MM-DD`.
    pub today: String,
    /// Items in the content.
    pub items_total: u32,
    /// Of those, reviewed at least once.
    pub items_reviewed: u32,
    /// Of those, never reviewed.
    pub items_new: u32,
    /// Reviewed items due now.
    pub due_now: u32,
    /// Reviewed items due by the end of today (includes `due_now`).
    pub due_today: u32,
    /// Reviewed items due by the end of the 7th day counting today.
    pub due_this_week: u32,
    /// Retention estimates.
    pub retention: Retention,
    /// The study streak.
    pub streak: Streak,
    /// Per-card mastery, in content order.
    pub cards: Vec<CardMastery>,
    /// Items falling due per day, [`FORECAST_DAYS`] entries from today (today
    /// includes overdue items).
    pub forecast: Vec<DayCount>,
    /// Reviews per day, [`HISTORY_DAYS`] entries ending today.
    pub history: Vec<DayCount>,
}

/// Retention estimates.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Retention {
    /// The scheduler's target.
    pub desired: f32,
    /// Mean FSRS retrievability now over reviewed items (None if none).
    pub mean_retrievability: Option<f64>,
    /// Reviews in the last [`HISTORY_DAYS`] days.
    pub reviews_30d: u32,
    /// Right answers among them.
    pub correct_30d: u32,
    /// `correct_30d / reviews_30d` (None if no reviews).
    pub accuracy_30d: Option<f64>,
}

/// The study streak.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Streak {
    /// Consecutive days with a review, ending today or yesterday.
    pub current_days: u32,
    /// Longest such run ever.
    pub longest_days: u32,
    /// Whether there was a review today.
    pub reviewed_today: bool,
}

/// Mastery of one card.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CardMastery {
    /// The card.
    pub card_id: String,
    /// Its items in the content.
    pub items: u32,
    /// Of those, reviewed.
    pub reviewed: u32,
    /// Of those, with stability >= [`MASTERY_STABILITY_DAYS`].
    pub mastered: u32,
    /// `mastered / items` (0 for a card without items).
    pub mastery: f64,
    /// Mean retrievability now over all items, new items counting 0.
    pub recall_now: f64,
    /// Items due by the end of today.
    pub due_today: u32,
}

/// A count for one local day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DayCount {
    /// `YYYY-MM-DD`.
    pub date: String,
    /// Days from today (negative in the history).
    pub day_offset: i32,
    /// The count.
    pub count: u32,
}

/// Streak over `days` (distinct local days with a review, any order).
pub fn streak(days: &[i64], today: i64) -> Streak {
    let mut d: Vec<i64> = days.iter().copied().filter(|&x| x <= today).collect();
    d.sort_unstable();
    d.dedup();
    let mut longest = 0u32;
    let mut run = 0u32;
    let mut prev: Option<i64> = None;
    for &x in &d {
        run = if prev == Some(x - 1) { run + 1 } else { 1 };
        longest = longest.max(run);
        prev = Some(x);
    }
    let reviewed_today = d.last() == Some(&today);
    let end = match d.last() {
        Some(&last) if last == today || last == today - 1 => last,
        _ => {
            return Streak {
                current_days: 0,
                longest_days: longest,
                reviewed_today,
            };
        }
    };
    let mut current = 0u32;
    for &x in d.iter().rev() {
        if x == end - i64::from(current) {
            current += 1;
        } else {
            break;
        }
    }
    Streak {
        current_days: current,
        longest_days: longest,
        reviewed_today,
    }
}

fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Computes [`Stats`]. `recent` must hold at least the reviews of the last
/// [`HISTORY_DAYS`] local days; `review_days` every local day with a review (for
/// the streak).
pub fn compute(
    items: &[ContentItem],
    states: &HashMap<String, ItemState>,
    recent: &[ReviewRecord],
    review_days: &[i64],
    scheduler: &Scheduler,
    now: Moment,
) -> Stats {
    let today = now.day();
    let end_of_today = now.start_of_day(today + 1);
    let end_of_week = now.start_of_day(today + 7);
    let mut forecast = vec![0u32; FORECAST_DAYS as usize];
    let (mut due_now, mut due_today, mut due_week, mut reviewed) = (0, 0, 0, 0);
    let mut r_sum = 0.0;
    // Per card, in content order.
    let mut cards: Vec<CardMastery> = Vec::new();
    let mut card_index: HashMap<&str, usize> = HashMap::new();
    for it in items {
        let ci = *card_index.entry(&it.card_id).or_insert_with(|| {
            cards.push(CardMastery {
                card_id: it.card_id.clone(),
                items: 0,
                reviewed: 0,
                mastered: 0,
                mastery: 0.0,
                recall_now: 0.0,
                due_today: 0,
            });
            cards.len() - 1
        });
        let card = &mut cards[ci];
        card.items += 1;
        let Some(st) = states.get(&it.item_id) else {
            continue;
        };
        reviewed += 1;
        card.reviewed += 1;
        let r = scheduler.retrievability(st, now);
        r_sum += r;
        card.recall_now += r;
        if st.memory.stability >= MASTERY_STABILITY_DAYS {
            card.mastered += 1;
        }
        if st.due_ms <= now.unix_ms {
            due_now += 1;
        }
        if st.due_ms < end_of_today {
            due_today += 1;
            card.due_today += 1;
        }
        if st.due_ms < end_of_week {
            due_week += 1;
        }
        let offset = (local_day(st.due_ms, now.utc_offset_s) - today).max(0);
        if let Some(slot) = usize::try_from(offset)
            .ok()
            .and_then(|o| forecast.get_mut(o))
        {
            *slot += 1;
        }
    }
    for c in &mut cards {
        if c.items > 0 {
            c.mastery = f64::from(c.mastered) / f64::from(c.items);
            c.recall_now /= f64::from(c.items);
        }
    }
    let first_day = today - i64::from(HISTORY_DAYS) + 1;
    let mut history = vec![0u32; HISTORY_DAYS as usize];
    let (mut reviews_30d, mut correct_30d) = (0u32, 0u32);
    for r in recent {
        let d = r.day();
        if d < first_day || d > today {
            continue;
        }
        if let Some(slot) = usize::try_from(d - first_day)
            .ok()
            .and_then(|i| history.get_mut(i))
        {
            *slot += 1;
        }
        reviews_30d += 1;
        correct_30d += u32::from(r.correct);
    }
    let day_counts = |start: i64, counts: Vec<u32>| -> Vec<DayCount> {
        counts
            .into_iter()
            .enumerate()
            .map(|(i, count)| {
                let day = start + i as i64;
                DayCount {
                    date: date_string(day),
                    day_offset: i32::try_from(day - today).unwrap_or(0),
                    count,
                }
            })
            .collect()
    };
    let mut days: BTreeMap<i64, ()> = review_days.iter().map(|&d| (d, ())).collect();
    days.extend(recent.iter().map(|r| (r.day(), ())));
    let all_days: Vec<i64> = days.into_keys().collect();
    Stats {
        generated_at_ms: now.unix_ms,
        today: date_string(today),
        items_total: count(items.len()),
        items_reviewed: reviewed,
        items_new: count(items.len()).saturating_sub(reviewed),
        due_now,
        due_today,
        due_this_week: due_week,
        retention: Retention {
            desired: scheduler.desired_retention(),
            mean_retrievability: (reviewed > 0).then(|| r_sum / f64::from(reviewed)),
            reviews_30d,
            correct_30d,
            accuracy_30d: (reviews_30d > 0)
                .then(|| f64::from(correct_30d) / f64::from(reviews_30d)),
        },
        streak: streak(&all_days, today),
        cards,
        forecast: day_counts(today, forecast),
        history: day_counts(first_day, history),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // Tests panic on failure by design.
mod tests {
    use super::*;
    use crate::learn::scheduler::{Memory, Rating};
    use crate::learn::time::DAY_MS;

    // 2026-03-15T12:00:00Z, viewed from UTC-5 (07:00 local).
    const NOW_MS: i64 = 1_773_576_000_000;
    const OFFSET: i32 = -5 * 3600;

    fn now() -> Moment {
        Moment::new(NOW_MS, OFFSET)
    }

    fn state(
        id: &str,
        card: &str,
        stability: f32,
        due_in_days: f64,
        reviewed_days_ago: f64,
    ) -> ItemState {
        ItemState {
            item_id: id.into(),
            card_id: card.into(),
            memory: Memory {
                stability,
                difficulty: 5.0,
            },
            due_ms: NOW_MS + (due_in_days * DAY_MS as f64) as i64,
            last_review_ms: NOW_MS - (reviewed_days_ago * DAY_MS as f64) as i64,
            last_day: 0,
            reps: 1,
            lapses: 0,
        }
    }

    fn rev(days_ago: f64, correct: bool) -> ReviewRecord {
        ReviewRecord {
            time_ms: NOW_MS - (days_ago * DAY_MS as f64) as i64,
            utc_offset_s: OFFSET,
            item_id: "x".into(),
            card_id: "a".into(),
            rating: if correct { Rating::Good } else { Rating::Again },
            correct,
            answer: String::new(),
            elapsed_ms: 1000,
            stability: 1.0,
            difficulty: 5.0,
        }
    }

    fn items() -> Vec<ContentItem> {
        [
            ("a-1", "a"),
            ("a-2", "a"),
            ("a-3", "a"),
            ("b-1", "b"),
            ("b-2", "b"),
        ]
        .iter()
        .map(|(i, c)| ContentItem {
            item_id: (*i).into(),
            card_id: (*c).into(),
        })
        .collect()
    }

    #[test]
    fn hand_built_log() {
        let states: HashMap<String, ItemState> = [
            state("a-1", "a", 30.0, -2.0, 20.0),     // overdue, mastered
            state("a-2", "a", 3.0, 0.4, 2.0),        // due later today (local 16:36)
            state("b-1", "b", 10.0, 3.0, 7.0),       // due in 3 days
            state("b-2", "b", 50.0, 45.0, 1.0),      // beyond the forecast, mastered
            state("gone-1", "gone", 1.0, -1.0, 1.0), // no longer in content: ignored
        ]
        .into_iter()
        .map(|s| (s.item_id.clone(), s))
        .collect();
        // Reviews: today (2, one wrong), yesterday, 2 days ago, then a gap, 40 days ago.
        let recent = vec![
            rev(40.0, true),
            rev(2.0, true),
            rev(1.0, true),
            rev(0.1, false),
            rev(0.05, true),
        ];
        let sched = Scheduler::default();
        let s = compute(&items(), &states, &recent, &[], &sched, now());
        assert_eq!(s.today, "2026-03-15");
        assert_eq!((s.items_total, s.items_reviewed, s.items_new), (5, 4, 1));
        assert_eq!((s.due_now, s.due_today, s.due_this_week), (1, 2, 3));
        assert_eq!(
            s.streak,
            Streak {
                current_days: 3,
                longest_days: 3,
                reviewed_today: true
            }
        );
        assert_eq!(s.retention.reviews_30d, 4);
        assert_eq!(s.retention.correct_30d, 3);
        assert_eq!(s.retention.accuracy_30d, Some(0.75));
        let expected_r: f64 = ["a-1", "a-2", "b-1", "b-2"]
            .iter()
            .map(|id| sched.retrievability(&states[*id], now()))
            .sum::<f64>()
            / 4.0;
        assert_eq!(s.retention.mean_retrievability, Some(expected_r));
        assert!(expected_r > 0.7 && expected_r < 1.0);

        assert_eq!(s.cards.len(), 2);
        let a = &s.cards[0];
        assert_eq!(
            (
                a.card_id.as_str(),
                a.items,
                a.reviewed,
                a.mastered,
                a.due_today
            ),
            ("a", 3, 2, 1, 2)
        );
        assert!((a.mastery - 1.0 / 3.0).abs() < 1e-12);
        let b = &s.cards[1];
        assert_eq!((b.mastered, b.mastery), (1, 0.5));

        assert_eq!(s.forecast.len(), 30);
        assert_eq!(
            s.forecast[0],
            DayCount {
                date: "2026-03-15".into(),
                day_offset: 0,
                count: 2
            }
        );
        assert_eq!(s.forecast[3].count, 1);
        assert_eq!(s.forecast.iter().map(|d| d.count).sum::<u32>(), 3);
        assert_eq!(s.history.len(), 30);
        assert_eq!(
            s.history[29],
            DayCount {
                date: "2026-03-15".into(),
                day_offset: 0,
                count: 2
            }
        );
        assert_eq!(s.history[28].count, 1);
        assert_eq!(s.history[27].count, 1);
        assert_eq!(s.history[0].date, "2026-02-14");
        assert_eq!(s.history.iter().map(|d| d.count).sum::<u32>(), 4);
        // Serializes for `stats --json`.
        let json = serde_json::to_string(&s).unwrap();
        assert!(json.contains("\"due_today\":2"));
    }

    #[test]
    fn local_days_decide_history_and_streak() {
        // 03:00 UTC on the 15th is still the 14th in UTC-5.
        let r = ReviewRecord {
            time_ms: NOW_MS - 9 * 3_600_000,
            ..rev(0.0, true)
        };
        let s = compute(
            &items(),
            &HashMap::new(),
            &[r],
            &[],
            &Scheduler::default(),
            now(),
        );
        assert_eq!(s.history[28].count, 1);
        assert_eq!(s.history[29].count, 0);
        assert_eq!(
            s.streak,
            Streak {
                current_days: 1,
                longest_days: 1,
                reviewed_today: false
            }
        );
        assert_eq!(s.retention.mean_retrievability, None);
        assert_eq!(s.retention.accuracy_30d, Some(1.0));
    }

    #[test]
    fn streaks() {
        let t = 1000;
        assert_eq!(streak(&[], t).current_days, 0);
        assert_eq!(streak(&[t], t).current_days, 1);
        assert_eq!(
            streak(&[t - 1], t),
            Streak {
                current_days: 1,
                longest_days: 1,
                reviewed_today: false
            }
        );
        assert_eq!(
            streak(&[t - 2], t).current_days,
            0,
            "a missed day breaks it"
        );
        assert_eq!(streak(&[t - 3, t - 2, t - 1], t).current_days, 3);
        let s = streak(
            &[t - 20, t - 19, t - 18, t - 17, t - 5, t - 4, t, t, t + 3],
            t,
        );
        assert_eq!(
            (s.current_days, s.longest_days, s.reviewed_today),
            (1, 4, true)
        );
    }
}

//! Practice-session planning and the end-of-session summary.
//!
//! [`plan_session`] picks what to ask: due items first, most overdue first; then up
//! to `max_new` never-reviewed items (items of cards the learner has read first, in
//! content order); all within an optional time box measured in each item's
//! `expected_seconds`. It is pure: the caller passes the banks, the item states and
//! study marks from `store`, and `now`. The TUI and `swelearn practice`/`quiz` walk
//! the plan, `grade` each answer and `store.record` it; an item answered `Again`
//! becomes due again 10 min later (see `scheduler`), so a caller that wants to
//! re-ask failures in the same session can re-plan at the end.
//! [`summarize`] turns the session's graded answers into a [`SessionSummary`].

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use crate::learn::grade::Graded;
use crate::learn::quiz::{ItemKind, QuizBank};
use crate::learn::scheduler::{ItemState, Rating};
use crate::learn::stats::{Streak, streak};
use crate::learn::time::{Moment, date_string, local_day};

/// What a session may contain.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionOptions {
    /// Most never-reviewed items to introduce.
    pub max_new: usize,
    /// Most due items to include (None: all).
    pub max_due: Option<usize>,
    /// Stop adding items once their expected time would exceed this many seconds.
    /// At least one item is always planned when any is available.
    pub time_box_s: Option<u32>,
    /// Only items of these cards (None: all).
    pub cards: Option<Vec<String>>,
    /// Only items of these kinds (None: all), e.g. to leave out `predict` when no
    /// simulation can run.
    pub kinds: Option<Vec<ItemKind>>,
}

impl Default for SessionOptions {
    fn default() -> Self {
        Self {
            max_new: 10,
            max_due: None,
            time_box_s: None,
            cards: None,
            kinds: None,
        }
    }
}

impl SessionOptions {
    /// A time-boxed session of `minutes` (`swelearn practice --minutes N`).
    pub fn minutes(minutes: u32) -> Self {
        Self {
            time_box_s: Some(minutes.saturating_mul(60)),
            ..Self::default()
        }
    }
}

/// Why an item is in the plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "reason", rename_all = "lowercase")]
pub enum PlanReason {
    /// It is due; `overdue_ms` is how long ago it became due.
    Due {
        /// Milliseconds since it became due.
        overdue_ms: i64,
    },
    /// It was never reviewed.
    New,
}

/// One planned question.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlannedItem {
    /// Item id (look it up in the banks to `present` it).
    pub item_id: String,
    /// Its card.
    pub card_id: String,
    /// Its kind.
    pub kind: ItemKind,
    /// Why it is planned.
    pub reason: PlanReason,
    /// Its expected answering time (s).
    pub expected_seconds: u32,
}

/// A session plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SessionPlan {
    /// The questions, in the order to ask them.
    pub items: Vec<PlannedItem>,
    /// Due items matching the options.
    pub due_total: usize,
    /// Of those, planned.
    pub due_planned: usize,
    /// Never-reviewed items matching the options.
    pub new_available: usize,
    /// Of those, planned.
    pub new_planned: usize,
    /// Sum of the planned items' expected seconds.
    pub estimated_seconds: u32,
}

/// Plans a session; see the module doc. `read_cards` maps card ids to when they
/// were last read (from `store.read_marks()`).
pub fn plan_session(
    banks: &[QuizBank],
    states: &HashMap<String, ItemState>,
    read_cards: &BTreeMap<String, i64>,
    now: Moment,
    options: &SessionOptions,
) -> SessionPlan {
    let wanted = |card: &str, kind: ItemKind| {
        options
            .cards
            .as_ref()
            .is_none_or(|cs| cs.iter().any(|c| c == card))
            && options.kinds.as_ref().is_none_or(|ks| ks.contains(&kind))
    };
    let mut due: Vec<(i64, PlannedItem)> = Vec::new();
    let mut new_read: Vec<PlannedItem> = Vec::new();
    let mut new_unread: Vec<PlannedItem> = Vec::new();
    for bank in banks {
        for item in &bank.items {
            if !wanted(&item.card, item.kind()) {
                continue;
            }
            let planned = |reason| PlannedItem {
                item_id: item.id.clone(),
                card_id: item.card.clone(),
                kind: item.kind(),
                reason,
                expected_seconds: item.expected_seconds(),
            };
            match states.get(&item.id) {
                Some(st) if st.due_ms <= now.unix_ms => due.push((
                    st.due_ms,
                    planned(PlanReason::Due {
                        overdue_ms: now.unix_ms - st.due_ms,
                    }),
                )),
                Some(_) => {}
                None if read_cards.contains_key(&item.card) => {
                    new_read.push(planned(PlanReason::New));
                }
                None => new_unread.push(planned(PlanReason::New)),
            }
        }
    }
    // Most overdue first; ties by id so plans are reproducible.
    due.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.item_id.cmp(&b.1.item_id)));
    let due_total = due.len();
    let new_available = new_read.len() + new_unread.len();

    let mut items = Vec::new();
    let mut seconds: u32 = 0;
    let fits = |seconds: u32, extra: u32, planned: usize| {
        planned == 0
            || options
                .time_box_s
                .is_none_or(|limit| seconds.saturating_add(extra) <= limit)
    };
    let max_due = options.max_due.unwrap_or(usize::MAX);
    for (_, p) in due.into_iter().take(max_due) {
        if !fits(seconds, p.expected_seconds, items.len()) {
            break;
        }
        seconds = seconds.saturating_add(p.expected_seconds);
        items.push(p);
    }
    let due_planned = items.len();
    for p in new_read.into_iter().chain(new_unread).take(options.max_new) {
        if !fits(seconds, p.expected_seconds, items.len()) {
            break;
        }
        seconds = seconds.saturating_add(p.expected_seconds);
        items.push(p);
    }
    let new_planned = items.len() - due_planned;
    SessionPlan {
        items,
        due_total,
        due_planned,
        new_available,
        new_planned,
        estimated_seconds: seconds,
    }
}

/// Counts of each rating.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct RatingCounts {
    /// Again.
    pub again: u32,
    /// Hard.
    pub hard: u32,
    /// Good.
    pub good: u32,
    /// Easy.
    pub easy: u32,
}

/// What the learner sees at the end of a session.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SessionSummary {
    /// Questions answered.
    pub answered: u32,
    /// Right answers.
    pub correct: u32,
    /// `correct / answered` (None if nothing was answered).
    pub accuracy: Option<f64>,
    /// Ratings given.
    pub ratings: RatingCounts,
    /// Total answering time (ms).
    pub time_spent_ms: u64,
    /// Items still due now (e.g. failed items waiting for their 10 min relearn).
    pub due_remaining: u32,
    /// The next time an item falls due after now (Unix ms).
    pub next_due_ms: Option<i64>,
    /// Its local date, `YYYY-MM-DD`.
    pub next_due_date: Option<String>,
    /// The study streak including this session.
    pub streak: Streak,
}

/// Summarises a session from its graded answers and the store's state after it.
/// `states` should be restricted to current content (see `stats`) when possible;
/// `review_days` are the local days with a review (`store.review_days()`).
pub fn summarize(
    results: &[Graded],
    states: &HashMap<String, ItemState>,
    review_days: &[i64],
    now: Moment,
) -> SessionSummary {
    let mut ratings = RatingCounts::default();
    for g in results {
        match g.rating {
            Rating::Again => ratings.again += 1,
            Rating::Hard => ratings.hard += 1,
            Rating::Good => ratings.good += 1,
            Rating::Easy => ratings.easy += 1,
        }
    }
    let answered = u32::try_from(results.len()).unwrap_or(u32::MAX);
    let correct = u32::try_from(results.iter().filter(|g| g.correct).count()).unwrap_or(u32::MAX);
    let next_due_ms = states
        .values()
        .map(|s| s.due_ms)
        .filter(|&d| d > now.unix_ms)
        .min();
    let mut days = review_days.to_vec();
    if !results.is_empty() {
        days.push(now.day());
    }
    SessionSummary {
        answered,
        correct,
        accuracy: (answered > 0).then(|| f64::from(correct) / f64::from(answered)),
        ratings,
        time_spent_ms: results.iter().map(|g| g.elapsed_ms).sum(),
        due_remaining: u32::try_from(states.values().filter(|s| s.due_ms <= now.unix_ms).count())
            .unwrap_or(u32::MAX),
        next_due_ms,
        next_due_date: next_due_ms.map(|d| date_string(local_day(d, now.utc_offset_s))),
        streak: streak(&days, now.day()),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // Tests panic on failure by design.
mod tests {
    use super::*;
    use crate::learn::grade::{Response, grade, present};
    use crate::learn::quiz::parse_quiz_bank;
    use crate::learn::scheduler::Scheduler;
    use crate::learn::store::{NewReview, Store};
    use crate::learn::time::DAY_MS;

    const T0: i64 = 1_767_225_600_000; // 2026-01-01T00:00:00Z

    fn bank(card: &str, n: usize) -> QuizBank {
        let mut text = format!("card: {card}\nitems:\n");
        for i in 1..=n {
            text.push_str(&format!(
                "  - id: {card}-{i}\n    kind: choice\n    prompt: q{i}\n    choices: [x, y]\n    answer: x\n    explanation: e\n    expected_seconds: 60\n"
            ));
        }
        parse_quiz_bank(&format!("{card}.quiz.yaml"), &text).unwrap()
    }

    fn due_state(id: &str, card: &str, due_ms: i64) -> (String, ItemState) {
        (
            id.to_string(),
            ItemState {
                item_id: id.into(),
                card_id: card.into(),
                memory: crate::learn::scheduler::Memory {
                    stability: 3.0,
                    difficulty: 5.0,
                },
                due_ms,
                last_review_ms: due_ms - 3 * DAY_MS,
                last_day: 0,
                reps: 1,
                lapses: 0,
            },
        )
    }

    #[test]
    fn due_first_most_overdue_first_then_new() {
        let banks = [bank("a", 4), bank("b", 3)];
        let now = Moment::utc(T0);
        let states: HashMap<_, _> = [
            due_state("a-1", "a", T0 - 1000),       // overdue 1 s
            due_state("b-2", "b", T0 - 5 * DAY_MS), // overdue 5 days
            due_state("a-2", "a", T0 + DAY_MS),     // not due
            due_state("a-3", "a", T0),              // due exactly now
        ]
        .into_iter()
        .collect();
        let read: BTreeMap<String, i64> = [("b".to_string(), T0 - DAY_MS)].into_iter().collect();
        let plan = plan_session(&banks, &states, &read, now, &SessionOptions::default());
        let ids: Vec<&str> = plan.items.iter().map(|p| p.item_id.as_str()).collect();
        // Due: b-2 (5 d), a-1 (1 s), a-3 (0 s); new: read card b first, then a.
        assert_eq!(ids, ["b-2", "a-1", "a-3", "b-1", "b-3", "a-4"]);
        assert_eq!(
            plan.items[0].reason,
            PlanReason::Due {
                overdue_ms: 5 * DAY_MS
            }
        );
        assert_eq!(plan.items[3].reason, PlanReason::New);
        assert_eq!(
            (
                plan.due_total,
                plan.due_planned,
                plan.new_available,
                plan.new_planned
            ),
            (3, 3, 3, 3)
        );
        assert_eq!(plan.estimated_seconds, 6 * 60);

        let opts = SessionOptions {
            max_new: 1,
            ..SessionOptions::default()
        };
        let plan = plan_session(&banks, &states, &read, now, &opts);
        assert_eq!(plan.items.len(), 4);

        let opts = SessionOptions {
            cards: Some(vec!["a".into()]),
            ..SessionOptions::default()
        };
        let plan = plan_session(&banks, &states, &read, now, &opts);
        let ids: Vec<&str> = plan.items.iter().map(|p| p.item_id.as_str()).collect();
        assert_eq!(ids, ["a-1", "a-3", "a-4"]);

        let opts = SessionOptions {
            kinds: Some(vec![ItemKind::Numeric]),
            ..SessionOptions::default()
        };
        assert!(
            plan_session(&banks, &states, &read, now, &opts)
                .items
                .is_empty()
        );
    }

    #[test]
    fn time_box() {
        let banks = [bank("a", 10)];
        let now = Moment::utc(T0);
        let empty = HashMap::new();
        let plan = plan_session(
            &banks,
            &empty,
            &BTreeMap::new(),
            now,
            &SessionOptions::minutes(3),
        );
        assert_eq!(plan.items.len(), 3, "3 min fits three 60 s items");
        assert_eq!(plan.estimated_seconds, 180);
        let tiny = SessionOptions {
            time_box_s: Some(10),
            ..SessionOptions::default()
        };
        let plan = plan_session(&banks, &empty, &BTreeMap::new(), now, &tiny);
        assert_eq!(plan.items.len(), 1, "at least one item is always planned");
    }

    #[test]
    fn full_session_and_summary() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("p.db")).unwrap();
        let sched = Scheduler::default();
        let banks = [bank("a", 3)];
        let now = Moment::utc(T0);
        let plan = plan_session(
            &banks,
            &store.item_states().unwrap(),
            &store.read_marks().unwrap(),
            now,
            &SessionOptions::default(),
        );
        assert_eq!(plan.items.len(), 3);
        let mut results = Vec::new();
        for (i, p) in plan.items.iter().enumerate() {
            let item = banks[0].items.iter().find(|it| it.id == p.item_id).unwrap();
            let shown = present(
                item,
                crate::learn::grade::attempt_seed(&item.id, now.unix_ms),
            )
            .unwrap();
            // Wrong on the second item.
            let answer = if i == 1 { "y" } else { "x" };
            let g = grade(&shown, Response::Text(answer), 30_000).unwrap();
            store
                .record(&sched, &NewReview::from(&g), now.plus_ms(i as i64 * 40_000))
                .unwrap();
            results.push(g);
        }
        let later = now.plus_ms(3 * 40_000);
        let states = store.item_states().unwrap();
        let s = summarize(&results, &states, &store.review_days().unwrap(), later);
        assert_eq!((s.answered, s.correct), (3, 2));
        assert_eq!(s.accuracy, Some(2.0 / 3.0));
        assert_eq!(
            s.ratings,
            RatingCounts {
                again: 1,
                hard: 0,
                good: 2,
                easy: 0
            }
        );
        assert_eq!(s.time_spent_ms, 90_000);
        assert_eq!(s.due_remaining, 0);
        // The failed item comes back 10 min after it was answered.
        assert_eq!(s.next_due_ms, Some(now.unix_ms + 40_000 + 10 * 60_000));
        assert_eq!(s.next_due_date.as_deref(), Some("2026-01-01"));
        assert_eq!(s.streak.current_days, 1);
        // Re-planning 10 min later picks up the failed item only.
        let replan = plan_session(
            &banks,
            &states,
            &BTreeMap::new(),
            now.plus_ms(11 * 60_000),
            &SessionOptions::default(),
        );
        let ids: Vec<&str> = replan.items.iter().map(|p| p.item_id.as_str()).collect();
        assert_eq!(ids, ["a-2"]);
        assert_eq!(summarize(&[], &states, &[], later).accuracy, None);
    }
}

//! One run of questions (a `quiz` or a `practice` session): presents each planned
//! item, grades the learner's response, and records it in the store at once (one
//! transaction per answer), so quitting or a crash loses at most the open question.
//!
//! The plain (stdin) loop and the TUI both drive a [`QuizRun`]; it owns no terminal.
//! Predict items call back into the simulation through a [`PredictRunner`].

use crate::learn::grade::{self, AnswerError, Graded, Presented, Question, Response};
use crate::learn::quiz::{QuizBank, QuizItem};
use crate::learn::scheduler::{Rating, Scheduler};
use crate::learn::store::{NewReview, Store, StoreError};
use crate::learn::time::Moment;
use crate::sim::Report;
use thiserror::Error;

/// Runs a simulation for a predict item and returns the metric's value.
pub trait PredictRunner {
    /// Runs `scenario` with `params` and returns `metric` (and the run, to play
    /// back); `Err` is a message.
    fn run(
        &self,
        scenario: &str,
        params: &[(String, String)],
        metric: &str,
    ) -> Result<PredictRun, String>;
}

/// What a predict item's simulation gave.
#[derive(Debug, Clone)]
pub struct PredictRun {
    /// The metric's value.
    pub actual: f64,
    /// The whole run, for playing it back; `None` when the runner has none.
    pub report: Option<Box<Report>>,
}

/// Failures of a run that are not the learner's input.
#[derive(Debug, Error)]
pub enum RunError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("predict item `{item}`: the simulation failed: {message}")]
    Predict { item: String, message: String },
}

/// What the learner sees after answering.
#[derive(Debug, Clone)]
pub struct Feedback {
    pub graded: Graded,
    /// Days until the item is due again.
    pub next_in_days: f64,
    /// For predict items: the simulated value.
    pub actual: Option<f64>,
    /// For predict items: the run that gave it.
    pub report: Option<Box<Report>>,
}

/// A sequence of items to ask, in order.
pub struct QuizRun<'a> {
    items: Vec<&'a QuizItem>,
    next: usize,
    current: Option<Presented>,
    /// Graded answers so far.
    pub results: Vec<Graded>,
    /// Items skipped because they could not be presented, with the reason.
    pub skipped: Vec<String>,
}

impl<'a> QuizRun<'a> {
    /// A run over `ids`, looked up in `banks` (unknown ids are skipped).
    pub fn new(banks: &'a [QuizBank], ids: &[String]) -> Self {
        let items = ids
            .iter()
            .filter_map(|id| crate::learn::quiz::find_item(banks, id))
            .collect();
        QuizRun {
            items,
            next: 0,
            current: None,
            results: Vec::new(),
            skipped: Vec::new(),
        }
    }

    /// Number of items in the run.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// 1-based position of the current question.
    pub fn position(&self) -> usize {
        self.next
    }

    /// The question being asked, if any.
    pub fn current(&self) -> Option<&Presented> {
        self.current.as_ref()
    }

    /// Moves to the next question; `None` when the run is over.
    pub fn advance(&mut self, now: Moment) -> Option<&Presented> {
        self.current = None;
        while let Some(item) = self.items.get(self.next) {
            self.next += 1;
            match grade::present(item, grade::attempt_seed(&item.id, now.unix_ms)) {
                Ok(p) => {
                    self.current = Some(p);
                    break;
                }
                Err(e) => self.skipped.push(e.to_string()),
            }
        }
        self.current.as_ref()
    }

    /// Grades typed text (or a self-rating for recall items) and records it.
    /// `Ok(Err(_))` is input that is not an answer: ask again.
    pub fn answer(
        &mut self,
        response: Response<'_>,
        elapsed_ms: u64,
        store: &mut Store,
        scheduler: &Scheduler,
        predict: &dyn PredictRunner,
        now: Moment,
    ) -> Result<Result<Feedback, AnswerError>, RunError> {
        let Some(presented) = &self.current else {
            return Ok(Err(AnswerError::Empty));
        };
        let (response, actual) = match (&presented.question, response) {
            (
                Question::Predict {
                    scenario,
                    params,
                    metric,
                    unit,
                    ..
                },
                Response::Text(text),
            ) => {
                let estimate = match grade::parse_number_answer(text, unit) {
                    Ok(v) => v,
                    Err(e) => return Ok(Err(e)),
                };
                let run =
                    predict
                        .run(scenario, params, metric)
                        .map_err(|message| RunError::Predict {
                            item: presented.item_id.clone(),
                            message,
                        })?;
                let actual = run.actual;
                (Response::Prediction { estimate, actual }, Some(run))
            }
            (_, r) => (r, None),
        };
        let graded = match grade::grade(presented, response, elapsed_ms) {
            Ok(g) => g,
            Err(e) => return Ok(Err(e)),
        };
        let scheduled = store.record(scheduler, &NewReview::from(&graded), now)?;
        self.results.push(graded.clone());
        Ok(Ok(Feedback {
            graded,
            next_in_days: (scheduled.state.due_ms - now.unix_ms) as f64 / 86_400_000.0,
            actual: actual.as_ref().map(|r| r.actual),
            report: actual.and_then(|r| r.report),
        }))
    }
}

/// Parses a self-rating typed as 1-4 or again/hard/good/easy.
pub fn parse_self_rating(input: &str) -> Option<Rating> {
    match input.trim().to_ascii_lowercase().as_str() {
        "1" | "a" | "again" => Some(Rating::Again),
        "2" | "h" | "hard" => Some(Rating::Hard),
        "3" | "g" | "good" => Some(Rating::Good),
        "4" | "e" | "easy" => Some(Rating::Easy),
        _ => None,
    }
}

/// "in 3 days", "in 10 min", "tomorrow": when an item comes back.
pub fn describe_interval(days: f64) -> String {
    if days < 1.0 / 24.0 {
        format!("in {} min", (days * 24.0 * 60.0).round().max(1.0))
    } else if days < 1.0 {
        format!("in {} h", (days * 24.0).round().max(1.0))
    } else if days < 1.5 {
        "tomorrow".to_string()
    } else if days < 60.0 {
        format!("in {} days", days.round())
    } else {
        format!("in {:.0} months", days / 30.4)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn self_ratings_parse() {
        assert_eq!(parse_self_rating(" 3 "), Some(Rating::Good));
        assert_eq!(parse_self_rating("Easy"), Some(Rating::Easy));
        assert_eq!(parse_self_rating("5"), None);
    }

    #[test]
    fn intervals_read_naturally() {
        assert_eq!(describe_interval(10.0 / 1440.0), "in 10 min");
        assert_eq!(describe_interval(1.0), "tomorrow");
        assert_eq!(describe_interval(3.2), "in 3 days");
        assert_eq!(describe_interval(120.0), "in 4 months");
    }
}

//! Presenting a quiz item for one attempt and grading the answer by evidence.
//!
//! [`present`] turns a [`QuizItem`] and a seed into a [`Presented`] question: choices
//! and order steps shuffled, template parameters drawn and substituted into the
//! prompt with thousands separators. [`grade`] checks a [`Response`] against it and
//! returns a [`Graded`] result carrying the FSRS [`Rating`] the answer earned:
//!
//! * wrong → `Again`;
//! * right but slower than the item's `expected_seconds` → `Hard`;
//! * right in under [`EASY_FRACTION`] (40 %) of `expected_seconds` → `Easy`;
//! * otherwise right → `Good`;
//! * recall items → the learner's self-rating after seeing the model answer.
//!
//! Input that is not an answer at all (`7` for four choices, `abc` for a number) is an
//! [`AnswerError`], not a wrong answer: the UI shows the message and asks again. The
//! TUI and the plain `quiz` command both call these two functions; `store` records
//! the [`Graded`] result.

use std::collections::BTreeMap;

use serde::Serialize;
use thiserror::Error;

use crate::learn::quiz::{ItemBody, ItemKind, QuizItem, Tolerance, placeholders, sample_params};
use crate::learn::rng::{QuizRng, seed_from};
use crate::learn::scheduler::Rating;

/// A right answer given in less than this fraction of `expected_seconds` rates Easy.
/// 40 %: fast enough that the answer was recalled, not worked out.
pub const EASY_FRACTION: f64 = 0.4;

/// A question as shown for one attempt.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Presented {
    /// The item's id.
    pub item_id: String,
    /// The item's card.
    pub card: String,
    /// The item's kind.
    pub kind: ItemKind,
    /// The seed this attempt was drawn with.
    pub seed: u64,
    /// The prompt with template values filled in (markdown).
    pub prompt: String,
    /// The explanation with template values filled in (markdown).
    pub explanation: String,
    /// Seconds within which a right answer rates Good rather than Hard.
    pub expected_seconds: u32,
    /// What to show and what is right.
    pub question: Question,
}

/// The kind-specific part of a presented question. Indices are 0-based positions in
/// the shown lists; the UI numbers them from 1.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Question {
    /// Pick one.
    Choice {
        /// The choices in shown order.
        options: Vec<String>,
        /// Position of the right one.
        correct: usize,
    },
    /// Pick the right set.
    Multi {
        /// The choices in shown order.
        options: Vec<String>,
        /// Positions of the right ones, ascending.
        correct: Vec<usize>,
    },
    /// Put in order.
    Order {
        /// The steps in shown (shuffled) order.
        steps: Vec<String>,
        /// `correct[i]` is the position in `steps` of the i-th step of the right order.
        correct: Vec<usize>,
    },
    /// Type a number.
    Numeric {
        /// The right value for the drawn parameters.
        answer: f64,
        /// Unit to show next to the input.
        unit: String,
        /// Accepted closeness.
        tolerance: Tolerance,
        /// The drawn parameter values.
        params: BTreeMap<String, f64>,
    },
    /// Recall, then self-rate.
    Recall {
        /// The model answer (markdown), shown after the learner has thought.
        model_answer: String,
    },
    /// Estimate a simulation metric; the caller runs the simulation.
    Predict {
        /// Scenario name.
        scenario: String,
        /// Scenario flags and values.
        params: Vec<(String, String)>,
        /// Metric to estimate.
        metric: String,
        /// Its unit.
        unit: String,
        /// Accepted closeness.
        tolerance: Tolerance,
    },
}

/// Why an item cannot be presented.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum PresentError {
    /// The template answer failed for the drawn values (validation samples many
    /// draws, but not every combination).
    #[error("item `{item}`: the answer cannot be computed for {params}: {message}")]
    Template {
        /// The item.
        item: String,
        /// The drawn values.
        params: String,
        /// What went wrong.
        message: String,
    },
}

/// A seed for one attempt of `item_id` at `unix_ms`: different every attempt,
/// reproducible from the review log.
pub fn attempt_seed(item_id: &str, unix_ms: i64) -> u64 {
    seed_from(&["attempt", item_id, &unix_ms.to_string()])
}

/// Draws one attempt of `item`.
pub fn present(item: &QuizItem, seed: u64) -> Result<Presented, PresentError> {
    let mut rng = QuizRng::new(seed);
    let mut prompt = item.prompt.clone();
    let mut explanation = item.explanation.clone();
    let question = match &item.body {
        ItemBody::Choice(c) => {
            let mut order: Vec<usize> = (0..c.choices.len()).collect();
            rng.shuffle(&mut order);
            Question::Choice {
                options: order.iter().map(|&i| c.choices[i].clone()).collect(),
                correct: order.iter().position(|&i| i == c.answer).unwrap_or(0),
            }
        }
        ItemBody::Multi(m) => {
            let mut order: Vec<usize> = (0..m.choices.len()).collect();
            rng.shuffle(&mut order);
            let mut correct: Vec<usize> = order
                .iter()
                .enumerate()
                .filter(|(_, i)| m.answers.contains(i))
                .map(|(pos, _)| pos)
                .collect();
            correct.sort_unstable();
            Question::Multi {
                options: order.iter().map(|&i| m.choices[i].clone()).collect(),
                correct,
            }
        }
        ItemBody::Order(o) => {
            let n = o.steps.len();
            let mut order: Vec<usize> = (0..n).collect();
            rng.shuffle(&mut order);
            // Never show the steps already in the right order.
            if n >= 2 && order.iter().enumerate().all(|(pos, &i)| pos == i) {
                order.rotate_left(1);
            }
            let mut correct = vec![0; n];
            for (pos, &i) in order.iter().enumerate() {
                correct[i] = pos;
            }
            Question::Order {
                steps: order.iter().map(|&i| o.steps[i].clone()).collect(),
                correct,
            }
        }
        ItemBody::Numeric(n) => {
            let params = sample_params(&n.params, &mut rng);
            let answer = n.answer.eval(&params).map_err(|e| PresentError::Template {
                item: item.id.clone(),
                params: params
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(", "),
                message: e.to_string(),
            })?;
            prompt = substitute(&prompt, &params);
            explanation = substitute(&explanation, &params);
            Question::Numeric {
                answer,
                unit: n.unit.clone(),
                tolerance: n.tolerance,
                params,
            }
        }
        ItemBody::Recall(r) => Question::Recall {
            model_answer: r.answer.clone(),
        },
        ItemBody::Predict(p) => Question::Predict {
            scenario: p.scenario.clone(),
            params: p.params.clone(),
            metric: p.metric.clone(),
            unit: p.unit.clone(),
            tolerance: p.tolerance,
        },
    };
    Ok(Presented {
        item_id: item.id.clone(),
        card: item.card.clone(),
        kind: item.kind(),
        seed,
        prompt,
        explanation,
        expected_seconds: item.expected_seconds(),
        question,
    })
}

/// Replaces `{name}` placeholders whose name is in `values`.
fn substitute(text: &str, values: &BTreeMap<String, f64>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for (pos, name) in placeholders(text) {
        if let Some(v) = values.get(name) {
            out.push_str(&text[last..pos]);
            out.push_str(&format_number(*v));
            last = pos + name.len() + 2;
        }
    }
    out.push_str(&text[last..]);
    out
}

/// A number for people: thousands separators, at most 6 decimals and 12 significant
/// digits, no trailing zeros: `86400` → `86,400`,
/// `0.25` → `0.25`. Used for template values, which must show exactly.
pub fn format_number(v: f64) -> String {
    format_digits(v, 12)
}

/// Like [`format_number`] with at most 6 significant digits after the integer part
/// is written in full (`27.306667` → `27.3067`, `5,666.666667` → `5,666.67`): for
/// computed answers and estimates, where more digits are noise.
pub fn format_approx(v: f64) -> String {
    format_digits(v, 6)
}

fn format_digits(v: f64, significant: usize) -> String {
    if !v.is_finite() {
        return v.to_string();
    }
    if v.abs() >= 1e15 {
        return format!("{v:e}");
    }
    let abs = v.abs();
    // Limiting significant digits also hides float noise (2,880,000.0000005).
    let decimals = if abs > 0.0 && abs < 1.0 {
        ((-abs.log10()).floor() as usize + significant).min(15)
    } else {
        let int_digits = abs.log10().floor().max(0.0) as usize + 1;
        significant.saturating_sub(int_digits).min(6)
    };
    let s = format!("{abs:.decimals$}");
    let (int, frac) = s.split_once('.').unwrap_or((&s, ""));
    let frac = frac.trim_end_matches('0');
    let mut grouped = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    let neg = v < 0.0 && (int != "0" || !frac.is_empty());
    format!(
        "{}{grouped}{}{frac}",
        if neg { "-" } else { "" },
        if frac.is_empty() { "" } else { "." }
    )
}

/// A learner's response to a presented question.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Response<'a> {
    /// Typed text: a choice number (`2`, `#2`) or its exact text; a set of numbers
    /// (`1,3` or `1 3`); an order (`3 1 2 4`, `3,1,2,4`, or `3124` up to 9 steps);
    /// or a number (`12,000`, `12k`, `1.5M`, `2e6`, optionally followed by the unit).
    Text(&'a str),
    /// The self-rating of a recall item.
    SelfRating(Rating),
    /// A predict item: the learner's estimate (parse it with
    /// [`parse_number_answer`] *before* running the simulation) and the simulated
    /// value.
    Prediction {
        /// The learner's estimate.
        estimate: f64,
        /// The metric's value from the simulation run.
        actual: f64,
    },
}

/// Input that is not an answer; the UI shows the message and asks again.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum AnswerError {
    /// Nothing typed.
    #[error("type an answer")]
    Empty,
    /// Not a position or the text of a choice.
    #[error("`{input}` is not a choice: type a number from 1 to {count} or the choice's text")]
    NotAChoice {
        /// What was typed.
        input: String,
        /// Number of choices.
        count: usize,
    },
    /// A number that is also the text of another choice.
    #[error(
        "`{input}` is ambiguous: it is choice {text_position}'s text and also a position; type `#{input}` for position {input} or `#{text_position}`"
    )]
    Ambiguous {
        /// What was typed.
        input: String,
        /// 1-based position of the choice whose text matched.
        text_position: usize,
    },
    /// A position out of range in a multi or order answer.
    #[error("`{input}` is not a number from 1 to {count}")]
    OutOfRange {
        /// The offending token.
        input: String,
        /// Number of entries.
        count: usize,
    },
    /// An order answer that is not a permutation.
    #[error("give every number from 1 to {count} exactly once, e.g. `{example}`")]
    NotAPermutation {
        /// Number of steps.
        count: usize,
        /// An example of the expected form.
        example: String,
    },
    /// Not a number.
    #[error("`{input}` is not a number: {reason}")]
    BadNumber {
        /// What was typed.
        input: String,
        /// Why.
        reason: String,
    },
    /// A response of the wrong shape for the kind (a UI bug, not a user error).
    #[error("a {given} response cannot answer a {kind} item")]
    WrongResponse {
        /// The item's kind.
        kind: ItemKind,
        /// The response given.
        given: &'static str,
    },
}

/// The graded result of one attempt.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Graded {
    /// The item.
    pub item_id: String,
    /// Its card.
    pub card: String,
    /// Whether the answer was right (for recall: the self-rating was not Again).
    pub correct: bool,
    /// The FSRS rating earned.
    pub rating: Rating,
    /// The answer as understood, in content terms (choice texts, not positions), for
    /// the review log.
    pub answer_text: String,
    /// The right answer, for display.
    pub expected: String,
    /// |given - right| / |right| for numeric and predict items (None when right is 0).
    pub relative_error: Option<f64>,
    /// Time taken to answer, in ms.
    pub elapsed_ms: u64,
}

/// The rating earned by a graded answer (see the module doc).
pub fn rating_for(correct: bool, elapsed_ms: u64, expected_seconds: u32) -> Rating {
    let expected_ms = f64::from(expected_seconds) * 1000.0;
    let elapsed = elapsed_ms as f64;
    if !correct {
        Rating::Again
    } else if elapsed > expected_ms {
        Rating::Hard
    } else if elapsed < EASY_FRACTION * expected_ms {
        Rating::Easy
    } else {
        Rating::Good
    }
}

/// Grades `response` to `presented`, answered in `elapsed_ms`.
pub fn grade(
    presented: &Presented,
    response: Response<'_>,
    elapsed_ms: u64,
) -> Result<Graded, AnswerError> {
    let wrong = |given| AnswerError::WrongResponse {
        kind: presented.kind,
        given,
    };
    let mut relative_error = None;
    let (correct, answer_text, expected, rating) = match (&presented.question, response) {
        (Question::Choice { options, correct }, Response::Text(t)) => {
            let pick = parse_choice(t, options)?;
            (
                pick == *correct,
                shown(options, pick).to_string(),
                shown(options, *correct).to_string(),
                None,
            )
        }
        (Question::Multi { options, correct }, Response::Text(t)) => {
            let picks = parse_positions(t, options.len())?;
            let mut set = picks.clone();
            set.sort_unstable();
            set.dedup();
            let show = |ix: &[usize]| {
                ix.iter()
                    .map(|&i| shown(options, i))
                    .collect::<Vec<_>>()
                    .join("; ")
            };
            (set == *correct, show(&set), show(correct), None)
        }
        (Question::Order { steps, correct }, Response::Text(t)) => {
            let seq = parse_order(t, steps.len())?;
            let show = |ix: &[usize]| {
                ix.iter()
                    .map(|&i| shown(steps, i))
                    .collect::<Vec<_>>()
                    .join(" > ")
            };
            (seq == *correct, show(&seq), show(correct), None)
        }
        (
            Question::Numeric {
                answer,
                unit,
                tolerance,
                ..
            },
            Response::Text(t),
        ) => {
            let given = parse_number_answer(t, unit)?;
            relative_error = rel_err(given, *answer);
            (
                tolerance.accepts(given, *answer),
                with_unit(given, unit),
                format!(
                    "{} ({})",
                    with_unit(*answer, unit),
                    tolerance.describe(unit)
                ),
                None,
            )
        }
        (Question::Recall { model_answer }, Response::SelfRating(r)) => (
            r != Rating::Again,
            format!("self-rated {r}"),
            model_answer.clone(),
            Some(r),
        ),
        (
            Question::Predict {
                unit, tolerance, ..
            },
            Response::Prediction { estimate, actual },
        ) => {
            if !estimate.is_finite() {
                return Err(AnswerError::BadNumber {
                    input: estimate.to_string(),
                    reason: "not finite".into(),
                });
            }
            relative_error = rel_err(estimate, actual);
            (
                actual.is_finite() && tolerance.accepts(estimate, actual),
                with_unit(estimate, unit),
                format!("{} ({})", with_unit(actual, unit), tolerance.describe(unit)),
                None,
            )
        }
        (_, Response::Text(_)) => return Err(wrong("typed")),
        (_, Response::SelfRating(_)) => return Err(wrong("self-rating")),
        (_, Response::Prediction { .. }) => return Err(wrong("prediction")),
    };
    let rating =
        rating.unwrap_or_else(|| rating_for(correct, elapsed_ms, presented.expected_seconds));
    Ok(Graded {
        item_id: presented.item_id.clone(),
        card: presented.card.clone(),
        correct,
        rating,
        answer_text,
        expected,
        relative_error,
        elapsed_ms,
    })
}

/// The text at a position; `present` guarantees positions are in range, this keeps
/// a hand-built [`Presented`] from panicking.
fn shown(list: &[String], i: usize) -> &str {
    list.get(i).map_or("?", String::as_str)
}

fn rel_err(given: f64, right: f64) -> Option<f64> {
    (right != 0.0 && right.is_finite()).then(|| (given - right).abs() / right.abs())
}

fn with_unit(v: f64, unit: &str) -> String {
    if unit.is_empty() {
        format_approx(v)
    } else {
        format!("{} {unit}", format_approx(v))
    }
}

fn parse_choice(input: &str, options: &[String]) -> Result<usize, AnswerError> {
    let t = input.trim();
    if t.is_empty() {
        return Err(AnswerError::Empty);
    }
    let n = options.len();
    if let Some(rest) = t.strip_prefix('#') {
        return match rest.trim().parse::<usize>() {
            Ok(p) if (1..=n).contains(&p) => Ok(p - 1),
            _ => Err(AnswerError::NotAChoice {
                input: t.to_string(),
                count: n,
            }),
        };
    }
    let by_text = options.iter().position(|o| normalize(o) == normalize(t));
    let by_position = t
        .parse::<usize>()
        .ok()
        .filter(|p| (1..=n).contains(p))
        .map(|p| p - 1);
    match (by_position, by_text) {
        (Some(p), Some(x)) if p != x => Err(AnswerError::Ambiguous {
            input: t.to_string(),
            text_position: x + 1,
        }),
        (Some(p), _) => Ok(p),
        (None, Some(x)) => Ok(x),
        (None, None) => Err(AnswerError::NotAChoice {
            input: t.to_string(),
            count: n,
        }),
    }
}

/// Lowercase with runs of whitespace collapsed.
fn normalize(s: &str) -> String {
    s.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// Positions (1-based in the text) separated by commas and/or spaces; 0-based out.
fn parse_positions(input: &str, n: usize) -> Result<Vec<usize>, AnswerError> {
    let tokens: Vec<&str> = input
        .split(|c: char| c == ',' || c == '>' || c == ';' || c.is_whitespace())
        .filter(|s| !s.is_empty())
        .collect();
    if tokens.is_empty() {
        return Err(AnswerError::Empty);
    }
    tokens
        .into_iter()
        .map(|tok| {
            tok.parse::<usize>()
                .ok()
                .filter(|p| (1..=n).contains(p))
                .map(|p| p - 1)
                .ok_or_else(|| AnswerError::OutOfRange {
                    input: tok.to_string(),
                    count: n,
                })
        })
        .collect()
}

fn parse_order(input: &str, n: usize) -> Result<Vec<usize>, AnswerError> {
    let t = input.trim();
    let seq = if n <= 9 && t.len() == n && t.bytes().all(|b| b.is_ascii_digit()) {
        // "3124": one digit per step.
        t.bytes()
            .map(|b| {
                let p = usize::from(b - b'0');
                if (1..=n).contains(&p) {
                    Ok(p - 1)
                } else {
                    Err(AnswerError::OutOfRange {
                        input: char::from(b).to_string(),
                        count: n,
                    })
                }
            })
            .collect::<Result<Vec<_>, _>>()?
    } else {
        parse_positions(t, n)?
    };
    let mut seen = vec![false; n];
    let is_perm = seq.len() == n && seq.iter().all(|&p| !std::mem::replace(&mut seen[p], true));
    if !is_perm {
        let example: Vec<String> = (1..=n).rev().map(|i| i.to_string()).collect();
        return Err(AnswerError::NotAPermutation {
            count: n,
            example: example.join(" "),
        });
    }
    Ok(seq)
}

/// Parses a typed number: optional sign; digits with optional thousands
/// separators (`,` in groups of three, `_` or spaces); a decimal point; an exponent
/// (`2e6`); a suffix `k`/`K` (10^3), `M` (10^6) or `G` (10^9); optionally followed
/// by `unit` (case-insensitive). `m` is refused as ambiguous (milli or mega?).
pub fn parse_number_answer(input: &str, unit: &str) -> Result<f64, AnswerError> {
    let bad = |reason: &str| AnswerError::BadNumber {
        input: input.trim().to_string(),
        reason: reason.to_string(),
    };
    let mut t = input.trim();
    if t.is_empty() {
        return Err(AnswerError::Empty);
    }
    let unit = unit.trim();
    if !unit.is_empty()
        && t.len() > unit.len()
        && let Some(head) = t.get(..t.len() - unit.len())
        && t[head.len()..].eq_ignore_ascii_case(unit)
    {
        t = head.trim_end();
    }
    let (sign, rest) = match t.as_bytes().first() {
        Some(b'-') => (-1.0, &t[1..]),
        Some(b'+') => (1.0, &t[1..]),
        _ => (1.0, t),
    };
    let rest = rest.trim_start();
    let (body, scale) = match rest.chars().last() {
        Some('k' | 'K') => (&rest[..rest.len() - 1], 1e3),
        Some('M') => (&rest[..rest.len() - 1], 1e6),
        Some('G') => (&rest[..rest.len() - 1], 1e9),
        Some('m') => return Err(bad("`m` is ambiguous; use `M` for million")),
        _ => (rest, 1.0),
    };
    let body = body.trim_end();
    if body.is_empty() {
        return Err(bad("no digits"));
    }
    // Split off the exponent so that separators are only checked in the mantissa.
    let (mantissa, exponent) = match body.find(['e', 'E']) {
        Some(i) => (&body[..i], Some(&body[i + 1..])),
        None => (body, None),
    };
    let (int_part, frac_part) = match mantissa.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (mantissa, None),
    };
    let int_digits = strip_separators(int_part).ok_or_else(|| {
        bad("thousands separators go every three digits (12,345); use `.` for decimals")
    })?;
    if int_digits.is_empty() && frac_part.is_none_or(str::is_empty) {
        return Err(bad("no digits"));
    }
    let mut clean = if int_digits.is_empty() {
        "0".to_string()
    } else {
        int_digits
    };
    if let Some(f) = frac_part {
        if !f.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad("unexpected characters after the decimal point"));
        }
        clean.push('.');
        clean.push_str(f);
        clean.push('0');
    }
    if let Some(e) = exponent {
        let e = e.trim();
        let digits = e.strip_prefix(['+', '-']).unwrap_or(e);
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad("the exponent needs digits, e.g. 2e6"));
        }
        clean.push('e');
        clean.push_str(e);
    }
    let v: f64 = clean.parse().map_err(|_| bad("not a decimal number"))?;
    let v = sign * v * scale;
    if v.is_finite() {
        Ok(v)
    } else {
        Err(bad("too large"))
    }
}

/// Digits of an integer part with separators removed, or None when separators are
/// misplaced or other characters appear.
fn strip_separators(s: &str) -> Option<String> {
    let s = s.trim();
    let groups: Vec<&str> = s.split([',', '_', ' ', '\u{a0}', '\u{202f}']).collect();
    if !groups.iter().all(|g| g.bytes().all(|b| b.is_ascii_digit())) {
        return None;
    }
    if groups.len() > 1 {
        let first_ok = (1..=3).contains(&groups[0].len());
        let rest_ok = groups[1..].iter().all(|g| g.len() == 3);
        if !(first_ok && rest_ok) {
            return None;
        }
    }
    Some(groups.concat())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // Tests panic on failure by design.
mod tests {
    use super::*;
    use crate::learn::quiz::{QuizBank, parse_quiz_bank, tests::SAMPLE};

    fn bank() -> QuizBank {
        parse_quiz_bank("content/realtime/short-polling.quiz.yaml", SAMPLE).unwrap()
    }

    fn item(id: &str) -> QuizItem {
        bank()
            .items
            .into_iter()
            .find(|i| i.id.ends_with(id))
            .unwrap()
    }

    const FAST: u64 = 1_000;
    const NORMAL: u64 = 20_000;

    #[test]
    fn choice() {
        let p = present(&item("mean-latency"), 1).unwrap();
        let Question::Choice { options, correct } = &p.question else {
            panic!()
        };
        assert_eq!(options[*correct], "5 s");
        let right = (correct + 1).to_string();
        let wrong = ((correct + 1) % 4 + 1).to_string();
        let g = grade(&p, Response::Text(&right), NORMAL).unwrap();
        assert!(g.correct);
        assert_eq!(g.rating, Rating::Good);
        assert_eq!(g.answer_text, "5 s");
        assert_eq!(
            grade(&p, Response::Text(" 5 S "), FAST).unwrap().rating,
            Rating::Easy
        );
        assert_eq!(
            grade(&p, Response::Text("5   s"), 31_000).unwrap().rating,
            Rating::Hard
        );
        assert!(
            grade(&p, Response::Text(&format!("#{right}")), NORMAL)
                .unwrap()
                .correct
        );
        let g = grade(&p, Response::Text(&wrong), FAST).unwrap();
        assert!(!g.correct);
        assert_eq!(g.rating, Rating::Again);
        assert_eq!(g.expected, "5 s");
        assert!(!grade(&p, Response::Text("0 s"), NORMAL).unwrap().correct);
        assert!(matches!(
            grade(&p, Response::Text("5"), NORMAL),
            Err(AnswerError::NotAChoice { count: 4, .. })
        ));
        assert!(matches!(
            grade(&p, Response::Text("#0"), NORMAL),
            Err(AnswerError::NotAChoice { .. })
        ));
        assert_eq!(
            grade(&p, Response::Text("  "), NORMAL),
            Err(AnswerError::Empty)
        );
        assert!(matches!(
            grade(&p, Response::SelfRating(Rating::Good), NORMAL),
            Err(AnswerError::WrongResponse { .. })
        ));
    }

    #[test]
    fn choice_texts_that_look_like_positions() {
        let text = "card: c\nitems:\n  - id: c-n\n    kind: choice\n    prompt: p\n    choices: [\"1\", \"2\", \"4\", \"8\"]\n    answer: \"4\"\n    explanation: e\n";
        let it = parse_quiz_bank("c.quiz.yaml", text)
            .unwrap()
            .items
            .remove(0);
        for seed in 0..20 {
            let p = present(&it, seed).unwrap();
            let Question::Choice { options, correct } = &p.question else {
                panic!()
            };
            let pos_of_4 = correct + 1;
            if options[*correct] == pos_of_4.to_string() {
                // "4" is both the text and the position of the same choice.
                assert!(grade(&p, Response::Text("4"), NORMAL).unwrap().correct);
            } else if pos_of_4 != 4 {
                assert!(matches!(
                    grade(&p, Response::Text("4"), NORMAL),
                    Err(AnswerError::Ambiguous { .. })
                ));
                assert!(
                    grade(&p, Response::Text(&format!("#{pos_of_4}")), NORMAL)
                        .unwrap()
                        .correct
                );
            }
        }
    }

    #[test]
    fn multi() {
        let p = present(&item("costs"), 3).unwrap();
        let Question::Multi { options, correct } = &p.question else {
            panic!()
        };
        assert_eq!(correct.len(), 2);
        let nums: Vec<String> = correct.iter().map(|c| (c + 1).to_string()).collect();
        for input in [
            nums.join(","),
            nums.join(" "),
            format!(" {} , {} ", nums[1], nums[0]),
            format!("{0},{0},{1}", nums[0], nums[1]),
        ] {
            let g = grade(&p, Response::Text(&input), NORMAL).unwrap();
            assert!(g.correct, "{input}");
        }
        let g = grade(&p, Response::Text(&nums[0]), NORMAL).unwrap();
        assert!(!g.correct, "a subset is wrong");
        let all = "1 2 3";
        assert!(
            !grade(&p, Response::Text(all), NORMAL).unwrap().correct,
            "a superset is wrong"
        );
        assert_eq!(options.len(), 3);
        assert!(matches!(
            grade(&p, Response::Text("1,4"), NORMAL),
            Err(AnswerError::OutOfRange { .. })
        ));
        assert!(matches!(
            grade(&p, Response::Text("1,x"), NORMAL),
            Err(AnswerError::OutOfRange { .. })
        ));
        assert_eq!(
            grade(&p, Response::Text(" , "), NORMAL),
            Err(AnswerError::Empty)
        );
    }

    #[test]
    fn order() {
        let it = item("steps");
        for seed in 0..30 {
            let p = present(&it, seed).unwrap();
            let Question::Order { steps, correct } = &p.question else {
                panic!()
            };
            let shown_in_order: Vec<usize> = (0..steps.len()).collect();
            assert_ne!(correct, &shown_in_order, "seed {seed} shows the answer");
        }
        let p = present(&it, 5).unwrap();
        let Question::Order { correct, .. } = &p.question else {
            panic!()
        };
        let nums: Vec<String> = correct.iter().map(|c| (c + 1).to_string()).collect();
        for input in [
            nums.join(" "),
            nums.join(","),
            nums.join(""),
            nums.join(" > "),
        ] {
            let g = grade(&p, Response::Text(&input), NORMAL).unwrap();
            assert!(g.correct, "{input}");
            assert_eq!(
                g.answer_text,
                "send request > server checks > respond > wait interval"
            );
        }
        let mut swapped = nums.clone();
        swapped.swap(0, 1);
        assert!(
            !grade(&p, Response::Text(&swapped.join(" ")), NORMAL)
                .unwrap()
                .correct
        );
        assert!(matches!(
            grade(&p, Response::Text("1 1 2 3"), NORMAL),
            Err(AnswerError::NotAPermutation { count: 4, .. })
        ));
        assert!(matches!(
            grade(&p, Response::Text("1 2 3"), NORMAL),
            Err(AnswerError::NotAPermutation { .. })
        ));
        assert!(matches!(
            grade(&p, Response::Text("1250"), NORMAL),
            Err(AnswerError::OutOfRange { .. })
        ));
    }

    #[test]
    fn numeric_template_is_reproducible_and_in_range() {
        let it = item("requests-per-day");
        let a = present(&it, 99).unwrap();
        let b = present(&it, 99).unwrap();
        assert_eq!(a, b);
        let mut prompts = std::collections::BTreeSet::new();
        for seed in 0..200 {
            let p = present(&it, seed).unwrap();
            let Question::Numeric { answer, params, .. } = &p.question else {
                panic!()
            };
            let users = params["users"];
            let interval = params["interval_s"];
            assert!((1000.0..=100_000.0).contains(&users) && users % 1000.0 == 0.0);
            assert!([2.0, 5.0, 10.0, 30.0, 60.0].contains(&interval));
            assert_eq!(*answer, users * 86400.0 / interval);
            assert!(p.prompt.contains(&format_number(users)));
            assert!(!p.prompt.contains('{'), "{}", p.prompt);
            assert!(
                p.explanation
                    .contains(&format!("/ {} requests", format_number(interval)))
            );
            prompts.insert(p.prompt);
        }
        assert!(
            prompts.len() > 100,
            "only {} distinct prompts",
            prompts.len()
        );
    }

    #[test]
    fn numeric_grading() {
        let it = item("requests-per-day");
        let p = present(&it, 7).unwrap();
        let Question::Numeric { answer, .. } = p.question.clone() else {
            panic!()
        };
        let exact = format_number(answer);
        let g = grade(&p, Response::Text(&exact), NORMAL).unwrap();
        assert!(g.correct, "{exact}");
        assert_eq!(g.relative_error, Some(0.0));
        let close = format!("{}", answer * 1.04);
        assert!(grade(&p, Response::Text(&close), NORMAL).unwrap().correct);
        let far = format!("{}", answer * 1.06);
        let g = grade(&p, Response::Text(&far), NORMAL).unwrap();
        assert!(!g.correct);
        assert_eq!(g.rating, Rating::Again);
        assert!((g.relative_error.unwrap() - 0.06).abs() < 1e-9);
        assert!(
            g.expected.ends_with("requests/day (±5 %)"),
            "{}",
            g.expected
        );
        let with_unit = format!("{exact} requests/day");
        assert!(
            grade(&p, Response::Text(&with_unit), NORMAL)
                .unwrap()
                .correct
        );

        let fixed = present(&item("fixed"), 0).unwrap();
        for ok in [
            "86400", "86,400", "86 400", "86_400", "86.4k", "86.4K", "8.64e4", "0.0864M", "+86400",
            "86400 s", "86400s", "86400.0",
        ] {
            assert!(
                grade(&fixed, Response::Text(ok), NORMAL).unwrap().correct,
                "{ok}"
            );
        }
        assert!(
            !grade(&fixed, Response::Text("86401"), NORMAL)
                .unwrap()
                .correct
        );
        assert!(
            !grade(&fixed, Response::Text("-86400"), NORMAL)
                .unwrap()
                .correct
        );
    }

    #[test]
    fn number_formats() {
        let n = |s: &str| parse_number_answer(s, "");
        assert_eq!(n("1,234,567.5"), Ok(1_234_567.5));
        assert_eq!(n("1.5M"), Ok(1_500_000.0));
        assert_eq!(n("2G"), Ok(2e9));
        assert_eq!(n("12 k"), Ok(12_000.0));
        assert_eq!(n("-3.5e-2"), Ok(-0.035));
        assert_eq!(n(".5"), Ok(0.5));
        assert_eq!(n("1E3"), Ok(1000.0));
        assert_eq!(parse_number_answer("25 ms", "ms"), Ok(25.0));
        assert_eq!(parse_number_answer("25MS", "ms"), Ok(25.0));
        assert_eq!(parse_number_answer("12 %", "%"), Ok(12.0));
        for bad in [
            "1,23", "12,3456", "1.2.3", "abc", "1e", "5m", "inf", "NaN", "k", "1,5", "--1",
            "1e400", "0x10", "1/2",
        ] {
            assert!(
                matches!(n(bad), Err(AnswerError::BadNumber { .. })),
                "{bad} -> {:?}",
                n(bad)
            );
        }
        assert_eq!(n(""), Err(AnswerError::Empty));
    }

    #[test]
    fn formatting() {
        assert_eq!(format_number(86400.0), "86,400");
        assert_eq!(format_number(100_000.0), "100,000");
        assert_eq!(format_number(999.0), "999");
        assert_eq!(format_number(-1234.5), "-1,234.5");
        assert_eq!(format_number(0.25), "0.25");
        assert_eq!(format_number(0.000_123_456_78), "0.00012345678");
        assert_eq!(format_number(2_880_000.000_000_5), "2,880,000");
        assert_eq!(format_number(0.0), "0");
        assert_eq!(format_number(-0.0), "0");
        assert_eq!(format_number(1e20), "1e20");
        assert_eq!(format_approx(27.306_666_7), "27.3067");
        assert_eq!(format_approx(5_666.666_667), "5,666.67");
        assert_eq!(format_approx(3_600_000.4), "3,600,000");
        assert_eq!(format_approx(0.000_123_456_78), "0.000123457");
    }

    #[test]
    fn recall_uses_the_self_rating() {
        let p = present(&item("why"), 0).unwrap();
        for r in Rating::ALL {
            let g = grade(&p, Response::SelfRating(r), 500_000).unwrap();
            assert_eq!(g.rating, r);
            assert_eq!(g.correct, r != Rating::Again);
        }
        assert!(matches!(
            grade(&p, Response::Text("x"), 1),
            Err(AnswerError::WrongResponse { .. })
        ));
    }

    #[test]
    fn predict_is_scored_by_relative_error() {
        let p = present(&item("herd"), 0).unwrap();
        let g = grade(
            &p,
            Response::Prediction {
                estimate: 30.0,
                actual: 25.0,
            },
            NORMAL,
        )
        .unwrap();
        assert!(g.correct);
        assert!((g.relative_error.unwrap() - 0.2).abs() < 1e-12);
        assert_eq!(g.expected, "25 s (±25 %)");
        let g = grade(
            &p,
            Response::Prediction {
                estimate: 5.0,
                actual: 25.0,
            },
            NORMAL,
        )
        .unwrap();
        assert!(!g.correct);
        assert_eq!(g.rating, Rating::Again);
        assert!((g.relative_error.unwrap() - 0.8).abs() < 1e-12);
        let g = grade(
            &p,
            Response::Prediction {
                estimate: 1.0,
                actual: 0.0,
            },
            NORMAL,
        )
        .unwrap();
        assert_eq!(g.relative_error, None);
        assert!(!g.correct);
        assert!(
            grade(
                &p,
                Response::Prediction {
                    estimate: f64::NAN,
                    actual: 1.0
                },
                NORMAL
            )
            .is_err()
        );
    }

    #[test]
    fn rating_thresholds() {
        // expected 30 s: Easy below 12 s, Good to 30 s, Hard above.
        assert_eq!(rating_for(true, 11_999, 30), Rating::Easy);
        assert_eq!(rating_for(true, 12_000, 30), Rating::Good);
        assert_eq!(rating_for(true, 30_000, 30), Rating::Good);
        assert_eq!(rating_for(true, 30_001, 30), Rating::Hard);
        assert_eq!(rating_for(false, 1, 30), Rating::Again);
    }

    #[test]
    fn seeds_differ_per_attempt() {
        assert_ne!(attempt_seed("a", 1), attempt_seed("a", 2));
        assert_ne!(attempt_seed("a", 1), attempt_seed("b", 1));
    }
}

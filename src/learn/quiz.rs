//! Quiz items: the model of every kind and the parser/validator of `<id>.quiz.yaml`.
//!
//! The format is specified in `docs/content-format.md`. [`parse_quiz_bank`] turns a
//! file's text into a [`QuizBank`] or a list of [`QuizProblem`]s, each rendered as
//! `file:line: message`, so `content lint` and the embedded-content test can report
//! every problem at once. Checks that need knowledge from elsewhere — which card ids
//! exist, which simulation scenarios and metrics exist, ids repeated across banks —
//! are separate functions taking that knowledge as parameters
//! ([`check_references`], [`check_unique_ids`]), so this module depends on neither
//! `content` nor `sim`.
//!
//! YAML is read with `saphyr-parser` (a YAML 1.2 event parser) into a tiny tree that
//! keeps the line of every node. That gives exact lines for semantic problems
//! (an `answer` not among the `choices` is reported on the `answer:` line), reports
//! duplicate keys and unknown fields, and never coerces types behind our back:
//! every scalar is kept as text and only converted where the format wants a number,
//! so `answer: no` stays the string "no" and `choices: [1, 2]` are the strings "1", "2".

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use saphyr_parser::{Event, Parser, ScalarStyle};
use thiserror::Error;

use crate::learn::expr::Expr;
use crate::learn::rng::{QuizRng, seed_from};

/// One problem in a quiz file, displayed as `file:line: message`.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{file}:{line}: {message}")]
pub struct QuizProblem {
    /// The path given for messages.
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// What is wrong and, where possible, how to fix it.
    pub message: String,
}

/// The quiz items of one card, as read from one file.
#[derive(Debug, Clone, PartialEq)]
pub struct QuizBank {
    /// The path the bank was read from (for messages).
    pub file: String,
    /// The card the items belong to.
    pub card: String,
    /// The line of `card:`.
    pub card_line: usize,
    /// The items, in file order.
    pub items: Vec<QuizItem>,
}

/// The kinds of quiz item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ItemKind {
    /// Pick one of several choices.
    Choice,
    /// Pick exactly the right set of choices.
    Multi,
    /// Put steps in order.
    Order,
    /// Type a number (optionally from a template).
    Numeric,
    /// Recall freely, then self-rate against a model answer.
    Recall,
    /// Estimate a simulation metric before it runs.
    Predict,
}

impl ItemKind {
    /// All kinds, in the order of the format's table.
    pub const ALL: [ItemKind; 6] = [
        Self::Choice,
        Self::Multi,
        Self::Order,
        Self::Numeric,
        Self::Recall,
        Self::Predict,
    ];

    /// The name used in YAML.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Choice => "choice",
            Self::Multi => "multi",
            Self::Order => "order",
            Self::Numeric => "numeric",
            Self::Recall => "recall",
            Self::Predict => "predict",
        }
    }

    fn from_name(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Seconds a right answer may take before it rates Hard when the item gives no
    /// `expected_seconds`. Reading time dominates for choice items; arithmetic and
    /// estimation take longer.
    pub fn default_expected_seconds(self) -> u32 {
        match self {
            Self::Choice => 30,
            Self::Multi => 45,
            Self::Order => 60,
            Self::Numeric => 90,
            Self::Recall => 60,
            Self::Predict => 60,
        }
    }

    fn fields(self) -> &'static [&'static str] {
        match self {
            Self::Choice => &["choices", "answer"],
            Self::Multi => &["choices", "answers"],
            Self::Order => &["steps"],
            Self::Numeric => &["answer", "unit", "tolerance", "params"],
            Self::Recall => &["answer"],
            Self::Predict => &["scenario", "params", "metric", "unit", "tolerance"],
        }
    }
}

impl fmt::Display for ItemKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Fields every item has.
const COMMON_FIELDS: [&str; 5] = ["id", "kind", "prompt", "explanation", "expected_seconds"];

/// One quiz item.
#[derive(Debug, Clone, PartialEq)]
pub struct QuizItem {
    /// Stable id; progress is keyed on it.
    pub id: String,
    /// The card this item belongs to (the bank's `card`).
    pub card: String,
    /// Line of the item in its file.
    pub line: usize,
    /// The question (markdown; numeric templates have `{name}` placeholders).
    pub prompt: String,
    /// Why the answer is what it is (markdown), shown after answering.
    pub explanation: String,
    /// Seconds a right answer may take before it rates Hard, if the item sets it.
    pub expected_seconds: Option<u32>,
    /// Kind-specific data.
    pub body: ItemBody,
}

impl QuizItem {
    /// The item's kind.
    pub fn kind(&self) -> ItemKind {
        match self.body {
            ItemBody::Choice(_) => ItemKind::Choice,
            ItemBody::Multi(_) => ItemKind::Multi,
            ItemBody::Order(_) => ItemKind::Order,
            ItemBody::Numeric(_) => ItemKind::Numeric,
            ItemBody::Recall(_) => ItemKind::Recall,
            ItemBody::Predict(_) => ItemKind::Predict,
        }
    }

    /// `expected_seconds`, or the kind's default.
    pub fn expected_seconds(&self) -> u32 {
        self.expected_seconds
            .unwrap_or_else(|| self.kind().default_expected_seconds())
    }
}

/// Kind-specific item data.
#[derive(Debug, Clone, PartialEq)]
pub enum ItemBody {
    /// `kind: choice`.
    Choice(ChoiceItem),
    /// `kind: multi`.
    Multi(MultiItem),
    /// `kind: order`.
    Order(OrderItem),
    /// `kind: numeric`.
    Numeric(NumericItem),
    /// `kind: recall`.
    Recall(RecallItem),
    /// `kind: predict`.
    Predict(PredictItem),
}

/// A single-answer multiple-choice item.
#[derive(Debug, Clone, PartialEq)]
pub struct ChoiceItem {
    /// The choices as written (2+, distinct).
    pub choices: Vec<String>,
    /// Index of the right choice in `choices`.
    pub answer: usize,
}

/// A multiple-answer item: the right set must be picked exactly.
#[derive(Debug, Clone, PartialEq)]
pub struct MultiItem {
    /// The choices as written (2+, distinct).
    pub choices: Vec<String>,
    /// Indices of the right choices in `choices` (1+, ascending, distinct).
    pub answers: Vec<usize>,
}

/// An ordering item.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderItem {
    /// The steps in their correct order (2+, distinct).
    pub steps: Vec<String>,
}

/// A numeric item, possibly a template.
#[derive(Debug, Clone, PartialEq)]
pub struct NumericItem {
    /// The answer: a number or an expression over `params`.
    pub answer: Expr,
    /// Unit of the answer, shown with the prompt (may be empty).
    pub unit: String,
    /// How close an answer must be.
    pub tolerance: Tolerance,
    /// Template parameters, in file order (empty for a fixed question).
    pub params: Vec<Param>,
}

/// A recall item.
#[derive(Debug, Clone, PartialEq)]
pub struct RecallItem {
    /// The model answer (markdown).
    pub answer: String,
}

/// A predict-then-simulate item.
#[derive(Debug, Clone, PartialEq)]
pub struct PredictItem {
    /// Simulation scenario name.
    pub scenario: String,
    /// The scenario's flags (without `--`) and their values, in file order.
    pub params: Vec<(String, String)>,
    /// The metric to estimate (a JSON metric name of the scenario).
    pub metric: String,
    /// Unit of the metric.
    pub unit: String,
    /// How close an estimate must be to count as right.
    pub tolerance: Tolerance,
}

/// How close a numeric answer must be.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Tolerance {
    /// Within this fraction of the right value (0.1 = within 10 %).
    Relative(f64),
    /// Within ± this many units.
    Absolute(f64),
}

impl Tolerance {
    /// Whether `given` is close enough to `expected`. A tiny slack (1e-9 relative)
    /// absorbs floating-point noise so that `absolute: 0` still accepts `0.3` for
    /// `0.1 + 0.2`.
    pub fn accepts(self, given: f64, expected: f64) -> bool {
        let slack = 1e-9 * expected.abs().max(1.0);
        let diff = (given - expected).abs();
        match self {
            Self::Relative(r) => diff <= r * expected.abs() + slack,
            Self::Absolute(a) => diff <= a + slack,
        }
    }

    /// Human form: `±10 %` or `±5`.
    pub fn describe(self, unit: &str) -> String {
        match self {
            Self::Relative(r) => format!("±{} %", trim_float(r * 100.0)),
            Self::Absolute(a) if unit.is_empty() => format!("±{}", trim_float(a)),
            Self::Absolute(a) => format!("±{} {unit}", trim_float(a)),
        }
    }
}

fn trim_float(v: f64) -> String {
    let s = format!("{v:.6}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_string()
}

/// A template parameter.
#[derive(Debug, Clone, PartialEq)]
pub struct Param {
    /// Name used in `{name}` placeholders and in the answer expression.
    pub name: String,
    /// Which values it can take.
    pub spec: ParamSpec,
}

/// The values a template parameter can take.
#[derive(Debug, Clone, PartialEq)]
pub enum ParamSpec {
    /// `min + k * step` for every k with the value `<= max`.
    Range {
        /// Smallest value.
        min: f64,
        /// Largest value.
        max: f64,
        /// Distance between values (default 1).
        step: f64,
    },
    /// One of a list.
    Choices(Vec<f64>),
}

/// Most values a range parameter may have; more is almost surely a typo in `step`.
const MAX_RANGE_VALUES: u64 = 1_000_000_000;

impl ParamSpec {
    /// Number of distinct values.
    pub fn len(&self) -> u64 {
        match self {
            Self::Range { min, max, step } => {
                let n = ((max - min) / step + 1e-9).floor();
                if n.is_finite() && n >= 0.0 {
                    // n <= MAX_RANGE_VALUES was validated for parsed items.
                    (n as u64).saturating_add(1)
                } else {
                    0
                }
            }
            Self::Choices(v) => v.len() as u64,
        }
    }

    /// Whether there is no value.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The `k`-th value (`k < len()`), rounded to the decimals of `min` and `step`
    /// so that `0.1 + 2 * 0.1` shows as `0.3`.
    pub fn value(&self, k: u64) -> f64 {
        match self {
            Self::Range { min, step, .. } => {
                let v = min + k as f64 * step;
                let decimals = decimals(*min).max(decimals(*step));
                let p = 10f64.powi(decimals);
                (v * p).round() / p
            }
            Self::Choices(v) => v.get(k as usize).copied().unwrap_or(f64::NAN),
        }
    }

    /// A uniformly drawn value.
    pub fn sample(&self, rng: &mut QuizRng) -> f64 {
        self.value(rng.below(self.len()))
    }

    fn first(&self) -> f64 {
        self.value(0)
    }

    fn last(&self) -> f64 {
        self.value(self.len().saturating_sub(1))
    }
}

/// Decimal digits needed to write `x` exactly (0..=9).
fn decimals(x: f64) -> i32 {
    for d in 0..=9 {
        let scaled = x * 10f64.powi(d);
        if (scaled - scaled.round()).abs() < 1e-6 {
            return d;
        }
    }
    9
}

/// Draws one value per parameter (in declaration order, so a seed always means the
/// same values).
pub fn sample_params(params: &[Param], rng: &mut QuizRng) -> BTreeMap<String, f64> {
    params
        .iter()
        .map(|p| (p.name.clone(), p.spec.sample(rng)))
        .collect()
}

/// The `{name}` placeholders in `text`, with their byte offsets. Only a
/// `{identifier}` is a placeholder, so JSON or code in a prompt is left alone.
pub fn placeholders(text: &str) -> Vec<(usize, &str)> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'{' {
            let start = i + 1;
            let mut j = start;
            while j < bytes.len() && (bytes[j].is_ascii_alphanumeric() || bytes[j] == b'_') {
                j += 1;
            }
            if j > start && j < bytes.len() && bytes[j] == b'}' && !bytes[start].is_ascii_digit() {
                out.push((i, &text[start..j]));
                i = j + 1;
                continue;
            }
        }
        i += 1;
    }
    out
}

/// The item with id `id` in any of `banks`.
pub fn find_item<'b>(banks: &'b [QuizBank], id: &str) -> Option<&'b QuizItem> {
    banks.iter().flat_map(|b| &b.items).find(|i| i.id == id)
}

// ---------------------------------------------------------------------------------
// External knowledge.

/// What the simulation module knows about scenarios, for checking predict items.
pub trait SimCatalog {
    /// Whether `scenario` exists.
    fn has_scenario(&self, scenario: &str) -> bool;
    /// Whether `scenario` reports a JSON metric called `metric`.
    fn has_metric(&self, scenario: &str, metric: &str) -> bool;
    /// The scenario names, for "known: ..." hints (may be empty).
    fn scenario_names(&self) -> Vec<String> {
        Vec::new()
    }
    /// Checks one scenario flag and its value; `Err` holds the reason.
    fn check_param(&self, _scenario: &str, _name: &str, _value: &str) -> Result<(), String> {
        Ok(())
    }
}

/// Problems with references from a bank to things outside it: the `card` must be a
/// known card id, and predict items must name a known scenario, metric and flags.
pub fn check_references(
    bank: &QuizBank,
    is_known_card: &dyn Fn(&str) -> bool,
    sim: &dyn SimCatalog,
) -> Vec<QuizProblem> {
    let mut out = Vec::new();
    let mut problem = |line: usize, message: String| {
        out.push(QuizProblem {
            file: bank.file.clone(),
            line,
            message,
        });
    };
    if !is_known_card(&bank.card) {
        problem(
            bank.card_line,
            format!("`card: {}` is not the id of any card", bank.card),
        );
    }
    for item in &bank.items {
        let ItemBody::Predict(p) = &item.body else {
            continue;
        };
        if !sim.has_scenario(&p.scenario) {
            let names = sim.scenario_names();
            let hint = if names.is_empty() {
                String::new()
            } else {
                format!(" (known: {})", names.join(", "))
            };
            problem(
                item.line,
                format!(
                    "item `{}`: unknown scenario `{}`{hint}",
                    item.id, p.scenario
                ),
            );
            continue;
        }
        if !sim.has_metric(&p.scenario, &p.metric) {
            problem(
                item.line,
                format!(
                    "item `{}`: scenario `{}` has no metric `{}` (see `swelearn simulate {} --help`)",
                    item.id, p.scenario, p.metric, p.scenario
                ),
            );
        }
        for (name, value) in &p.params {
            if let Err(why) = sim.check_param(&p.scenario, name, value) {
                problem(
                    item.line,
                    format!(
                        "item `{}`: param `{name}: {value}` for scenario `{}`: {why}",
                        item.id, p.scenario
                    ),
                );
            }
        }
    }
    out
}

/// Ids used by more than one item across `banks` (ids within one bank are already
/// checked by [`parse_quiz_bank`]). Each repeat is reported at the later place and
/// names the first.
pub fn check_unique_ids(banks: &[QuizBank]) -> Vec<QuizProblem> {
    let mut first: HashMap<&str, (&str, usize)> = HashMap::new();
    let mut out = Vec::new();
    for bank in banks {
        for item in &bank.items {
            match first.get(item.id.as_str()) {
                Some(&(file, line)) if file != bank.file => out.push(QuizProblem {
                    file: bank.file.clone(),
                    line: item.line,
                    message: format!(
                        "id `{}` is also used at {file}:{line}; item ids must be unique across all content",
                        item.id
                    ),
                }),
                Some(_) => {}
                None => {
                    first.insert(&item.id, (&bank.file, item.line));
                }
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------------
// A line-carrying YAML tree built from saphyr-parser events.

#[derive(Debug, Clone)]
enum Node {
    Scalar {
        text: String,
        plain: bool,
        line: usize,
    },
    Seq {
        items: Vec<Node>,
        line: usize,
    },
    Map {
        entries: Vec<(Key, Node)>,
        line: usize,
    },
}

#[derive(Debug, Clone)]
struct Key {
    name: String,
    line: usize,
}

impl Node {
    fn line(&self) -> usize {
        match self {
            Self::Scalar { line, .. } | Self::Seq { line, .. } | Self::Map { line, .. } => *line,
        }
    }

    fn is_null(&self) -> bool {
        matches!(self, Self::Scalar { text, plain: true, .. }
            if matches!(text.as_str(), "" | "~" | "null" | "Null" | "NULL"))
    }

    fn describe(&self) -> &'static str {
        match self {
            _ if self.is_null() => "nothing",
            Self::Scalar { .. } => "a single value",
            Self::Seq { .. } => "a list",
            Self::Map { .. } => "a mapping",
        }
    }
}

enum Frame {
    Seq {
        items: Vec<Node>,
        line: usize,
    },
    Map {
        entries: Vec<(Key, Node)>,
        key: Option<Key>,
        line: usize,
    },
}

/// Parses YAML text into a tree; `Err` is (line, message) for syntax problems.
fn load_yaml(text: &str) -> Result<Option<Node>, (usize, String)> {
    let mut stack: Vec<Frame> = Vec::new();
    let mut root: Option<Node> = None;
    let mut documents = 0;
    for ev in Parser::new_from_str(text) {
        let (event, span) =
            ev.map_err(|e| (e.marker().line(), format!("YAML syntax: {}", e.info())))?;
        let line = span.start.line();
        let node = match event {
            Event::DocumentStart(_) => {
                documents += 1;
                if documents > 1 {
                    return Err((line, "more than one YAML document in the file".into()));
                }
                continue;
            }
            Event::Alias(_) => {
                return Err((
                    line,
                    "YAML aliases (`*name`) are not supported in quiz files; write the value out"
                        .into(),
                ));
            }
            Event::Scalar(value, style, _, _) => Node::Scalar {
                text: value.into_owned(),
                plain: style == ScalarStyle::Plain,
                line,
            },
            Event::SequenceStart(_, _) => {
                stack.push(Frame::Seq {
                    items: Vec::new(),
                    line,
                });
                continue;
            }
            Event::MappingStart(_, _) => {
                stack.push(Frame::Map {
                    entries: Vec::new(),
                    key: None,
                    line,
                });
                continue;
            }
            Event::SequenceEnd | Event::MappingEnd => match stack.pop() {
                Some(Frame::Seq { items, line }) => Node::Seq { items, line },
                Some(Frame::Map { entries, line, .. }) => Node::Map { entries, line },
                None => return Err((line, "YAML syntax: unbalanced collection".into())),
            },
            Event::StreamStart | Event::StreamEnd | Event::DocumentEnd | Event::Nothing => {
                continue;
            }
        };
        match stack.last_mut() {
            None => root = Some(node),
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map { entries, key, .. }) => match key.take() {
                Some(k) => entries.push((k, node)),
                None => match node {
                    Node::Scalar { text, line, .. } => *key = Some(Key { name: text, line }),
                    other => {
                        return Err((
                            other.line(),
                            "a mapping key must be a plain word, not a list or mapping".into(),
                        ));
                    }
                },
            },
        }
    }
    Ok(root)
}

// ---------------------------------------------------------------------------------
// Parsing and validation.

struct Ctx<'f> {
    file: &'f str,
    problems: Vec<QuizProblem>,
}

impl Ctx<'_> {
    fn problem(&mut self, line: usize, message: impl Into<String>) {
        self.problems.push(QuizProblem {
            file: self.file.to_string(),
            line,
            message: message.into(),
        });
    }
}

/// The fields of one mapping, with duplicate-key detection and tracking of which
/// keys were consumed, so that the rest can be reported as unknown.
struct Fields<'n> {
    entries: Vec<(&'n Key, &'n Node)>,
    used: Vec<bool>,
    line: usize,
    /// Prefix for messages, e.g. "item `x`: ".
    who: String,
}

impl<'n> Fields<'n> {
    fn new(ctx: &mut Ctx<'_>, entries: &'n [(Key, Node)], line: usize, who: String) -> Self {
        let mut seen: HashMap<&str, usize> = HashMap::new();
        let mut kept = Vec::new();
        for (k, v) in entries {
            if let Some(first) = seen.get(k.name.as_str()) {
                ctx.problem(
                    k.line,
                    format!("{who}duplicate key `{}` (first at line {first})", k.name),
                );
                continue;
            }
            seen.insert(&k.name, k.line);
            kept.push((k, v));
        }
        let used = vec![false; kept.len()];
        Self {
            entries: kept,
            used,
            line,
            who,
        }
    }

    fn get(&mut self, name: &str) -> Option<&'n Node> {
        let i = self.entries.iter().position(|(k, _)| k.name == name)?;
        self.used[i] = true;
        Some(self.entries[i].1)
    }

    /// A required field; reports it when missing or null.
    fn required(&mut self, ctx: &mut Ctx<'_>, name: &str) -> Option<&'n Node> {
        match self.get(name) {
            None => {
                ctx.problem(self.line, format!("{}missing field `{name}`", self.who));
                None
            }
            Some(n) if n.is_null() => {
                ctx.problem(n.line(), format!("{}field `{name}` is empty", self.who));
                None
            }
            Some(n) => Some(n),
        }
    }

    /// An optional field; null counts as absent.
    fn optional(&mut self, name: &str) -> Option<&'n Node> {
        self.get(name).filter(|n| !n.is_null())
    }

    fn report_unknown(&self, ctx: &mut Ctx<'_>, context: &str, allowed: &[&str]) {
        for (i, (k, _)) in self.entries.iter().enumerate() {
            if !self.used[i] {
                ctx.problem(
                    k.line,
                    format!(
                        "{}unknown field `{}` {context} (allowed: {})",
                        self.who,
                        k.name,
                        allowed.join(", ")
                    ),
                );
            }
        }
    }
}

fn scalar_text<'n>(ctx: &mut Ctx<'_>, who: &str, name: &str, node: &'n Node) -> Option<&'n str> {
    match node {
        Node::Scalar { text, .. } => Some(text),
        other => {
            ctx.problem(
                other.line(),
                format!("{who}`{name}` must be text, found {}", other.describe()),
            );
            None
        }
    }
}

/// Required non-empty text.
fn req_text(ctx: &mut Ctx<'_>, f: &mut Fields<'_>, name: &str) -> Option<String> {
    let node = f.required(ctx, name)?;
    let t = scalar_text(ctx, &f.who, name, node)?;
    if t.trim().is_empty() {
        ctx.problem(node.line(), format!("{}field `{name}` is empty", f.who));
        return None;
    }
    Some(t.to_string())
}

fn parse_number(s: &str) -> Option<f64> {
    let s = s.trim();
    // Rust accepts "inf"/"NaN"; the format does not.
    if !s
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, '.' | '-' | '+' | 'e' | 'E'))
    {
        return None;
    }
    s.parse::<f64>().ok().filter(|v| v.is_finite())
}

fn number(ctx: &mut Ctx<'_>, who: &str, name: &str, node: &Node) -> Option<f64> {
    let t = scalar_text(ctx, who, name, node)?;
    let v = parse_number(t);
    if v.is_none() {
        ctx.problem(
            node.line(),
            format!("{who}`{name}` must be a number, found `{t}`"),
        );
    }
    v
}

/// A list of distinct, non-empty strings with at least `min` entries.
fn text_list(
    ctx: &mut Ctx<'_>,
    f: &mut Fields<'_>,
    name: &str,
    min: usize,
) -> Option<Vec<(String, usize)>> {
    let node = f.required(ctx, name)?;
    let Node::Seq { items, line } = node else {
        ctx.problem(
            node.line(),
            format!(
                "{}`{name}` must be a list, found {}",
                f.who,
                node.describe()
            ),
        );
        return None;
    };
    let mut out: Vec<(String, usize)> = Vec::new();
    let mut ok = true;
    for n in items {
        let Some(t) = scalar_text(ctx, &f.who, name, n) else {
            ok = false;
            continue;
        };
        let t = t.trim();
        if t.is_empty() || n.is_null() {
            ctx.problem(n.line(), format!("{}`{name}` has an empty entry", f.who));
            ok = false;
        } else if let Some((_, l)) = out.iter().find(|(s, _)| s == t) {
            ctx.problem(
                n.line(),
                format!("{}`{name}` lists \"{t}\" twice (also line {l})", f.who),
            );
            ok = false;
        } else {
            out.push((t.to_string(), n.line()));
        }
    }
    if items.len() < min {
        ctx.problem(
            *line,
            format!(
                "{}`{name}` needs at least {min} entries, found {}",
                f.who,
                items.len()
            ),
        );
        ok = false;
    }
    ok.then_some(out)
}

fn tolerance(ctx: &mut Ctx<'_>, f: &mut Fields<'_>) -> Option<Tolerance> {
    let node = f.required(ctx, "tolerance")?;
    let who = f.who.clone();
    let hint =
        "`tolerance` must be `{ relative: 0.1 }` (within 10 %) or `{ absolute: 5 }` (within ±5)";
    let Node::Map { entries, line } = node else {
        ctx.problem(node.line(), format!("{who}{hint}"));
        return None;
    };
    if entries.len() != 1 {
        ctx.problem(*line, format!("{who}{hint}; found {} keys", entries.len()));
        return None;
    }
    let (k, v) = &entries[0];
    let value = number(ctx, &who, &format!("tolerance.{}", k.name), v)?;
    match k.name.as_str() {
        "relative" if value > 0.0 && value <= 1.0 => Some(Tolerance::Relative(value)),
        "relative" => {
            ctx.problem(
                v.line(),
                format!(
                    "{who}`tolerance.relative` must be in (0, 1] (a fraction: 0.1 = 10 %), found {value}; use `absolute: 0` for an exact answer"
                ),
            );
            None
        }
        "absolute" if value >= 0.0 => Some(Tolerance::Absolute(value)),
        "absolute" => {
            ctx.problem(
                v.line(),
                format!("{who}`tolerance.absolute` must be 0 or more, found {value}"),
            );
            None
        }
        other => {
            ctx.problem(k.line, format!("{who}unknown tolerance `{other}`; {hint}"));
            None
        }
    }
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn is_valid_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 100
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

fn template_params(ctx: &mut Ctx<'_>, who: &str, node: &Node) -> Option<Vec<Param>> {
    let Node::Map { entries, .. } = node else {
        ctx.problem(
            node.line(),
            format!("{who}`params` must be a mapping of name: {{ min, max, step }} or {{ choices: [...] }}"),
        );
        return None;
    };
    let mut out = Vec::new();
    let mut ok = true;
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (k, v) in entries {
        let pwho = format!("{who}param `{}`: ", k.name);
        if let Some(first) = seen.insert(&k.name, k.line) {
            ctx.problem(
                k.line,
                format!("{who}duplicate param `{}` (first at line {first})", k.name),
            );
            ok = false;
            continue;
        }
        if !is_identifier(&k.name) {
            ctx.problem(
                k.line,
                format!("{pwho}a param name is letters, digits and `_`, not starting with a digit"),
            );
            ok = false;
            continue;
        }
        if Expr::parse(&k.name).is_err() {
            ctx.problem(k.line, format!("{pwho}`{}` is a function name", k.name));
            ok = false;
            continue;
        }
        let Node::Map {
            entries: spec,
            line,
        } = v
        else {
            ctx.problem(
                v.line(),
                format!(
                    "{pwho}expected {{ min, max, step }} or {{ choices: [...] }}, found {}",
                    v.describe()
                ),
            );
            ok = false;
            continue;
        };
        let mut f = Fields::new(ctx, spec, *line, pwho.clone());
        let spec = if let Some(choices) = f.get("choices") {
            f.report_unknown(ctx, "next to `choices`", &["choices"]);
            let Node::Seq { items, line } = choices else {
                ctx.problem(
                    choices.line(),
                    format!("{pwho}`choices` must be a list of numbers"),
                );
                ok = false;
                continue;
            };
            let values: Vec<Option<f64>> = items
                .iter()
                .map(|n| number(ctx, &pwho, "choices", n))
                .collect();
            if values.is_empty() {
                ctx.problem(*line, format!("{pwho}`choices` is empty"));
            }
            if values.is_empty() || values.iter().any(Option::is_none) {
                ok = false;
                continue;
            }
            ParamSpec::Choices(values.into_iter().flatten().collect())
        } else {
            let min = f
                .required(ctx, "min")
                .and_then(|n| number(ctx, &pwho, "min", n));
            let max = f
                .required(ctx, "max")
                .and_then(|n| number(ctx, &pwho, "max", n));
            let step = match f.optional("step") {
                Some(n) => number(ctx, &pwho, "step", n),
                None => Some(1.0),
            };
            f.report_unknown(
                ctx,
                "in a range param",
                &["min", "max", "step", "or choices"],
            );
            let (Some(min), Some(max), Some(step)) = (min, max, step) else {
                ok = false;
                continue;
            };
            if min > max {
                ctx.problem(
                    *line,
                    format!("{pwho}`min` ({min}) is greater than `max` ({max})"),
                );
                ok = false;
                continue;
            }
            if step <= 0.0 {
                ctx.problem(
                    *line,
                    format!("{pwho}`step` must be greater than 0, found {step}"),
                );
                ok = false;
                continue;
            }
            let spec = ParamSpec::Range { min, max, step };
            if (max - min) / step > MAX_RANGE_VALUES as f64 {
                ctx.problem(
                    *line,
                    format!("{pwho}more than {MAX_RANGE_VALUES} values; is `step` right?"),
                );
                ok = false;
                continue;
            }
            spec
        };
        out.push(Param {
            name: k.name.clone(),
            spec,
        });
    }
    ok.then_some(out)
}

/// How many random draws the validator evaluates a template answer on, besides the
/// all-smallest and all-largest corners.
const TEMPLATE_CHECK_SAMPLES: usize = 64;

/// The parts of a numeric item that its template checks look at.
struct Template<'a> {
    item_line: usize,
    who: &'a str,
    id: &'a str,
    prompt: &'a str,
    explanation: &'a str,
    answer: &'a Expr,
    answer_line: usize,
    params: &'a [Param],
}

fn check_template(ctx: &mut Ctx<'_>, t: &Template<'_>) {
    let Template {
        item_line,
        who,
        id,
        prompt,
        explanation,
        answer,
        answer_line,
        params,
    } = *t;
    let declared: Vec<&str> = params.iter().map(|p| p.name.as_str()).collect();
    let in_prompt: Vec<&str> = placeholders(prompt).into_iter().map(|(_, n)| n).collect();
    for name in &in_prompt {
        if !declared.contains(name) {
            ctx.problem(
                item_line,
                format!("{who}the prompt uses `{{{name}}}` but `params` does not declare `{name}`"),
            );
        }
    }
    for (_, name) in placeholders(explanation) {
        if !declared.contains(&name) {
            ctx.problem(
                item_line,
                format!(
                    "{who}the explanation uses `{{{name}}}` but `params` does not declare `{name}`"
                ),
            );
        }
    }
    for name in &declared {
        if !in_prompt.contains(name) {
            ctx.problem(
                item_line,
                format!(
                    "{who}param `{name}` is declared but the prompt never shows it as `{{{name}}}`"
                ),
            );
        }
    }
    let mut undeclared = false;
    for name in answer.names() {
        if !declared.contains(&name) {
            undeclared = true;
            ctx.problem(
                answer_line,
                format!("{who}`answer` uses `{name}`, which is not declared in `params`"),
            );
        }
    }
    if undeclared {
        return;
    }
    // Evaluate over the corners and seeded samples: a template whose answer is
    // infinite or undefined for some drawn values would fail at review time.
    let corner = |pick_last: bool| -> BTreeMap<String, f64> {
        params
            .iter()
            .map(|p| {
                let v = if pick_last {
                    p.spec.last()
                } else {
                    p.spec.first()
                };
                (p.name.clone(), v)
            })
            .collect()
    };
    let mut rng = QuizRng::new(seed_from(&["validate", id]));
    let draws = std::iter::once(corner(false))
        .chain(std::iter::once(corner(true)))
        .chain((0..TEMPLATE_CHECK_SAMPLES).map(|_| sample_params(params, &mut rng)));
    for vars in draws {
        if let Err(e) = answer.eval(&vars) {
            let shown: Vec<String> = vars.iter().map(|(k, v)| format!("{k}={v}")).collect();
            ctx.problem(
                answer_line,
                format!(
                    "{who}`answer: {answer}` cannot be evaluated for {}: {e}",
                    if shown.is_empty() {
                        "the item".to_string()
                    } else {
                        shown.join(", ")
                    }
                ),
            );
            return;
        }
    }
}

fn parse_item(ctx: &mut Ctx<'_>, card: &str, node: &Node) -> Option<QuizItem> {
    let Node::Map { entries, line } = node else {
        ctx.problem(
            node.line(),
            format!(
                "each entry of `items` must be a mapping (`- id: ...`), found {}",
                node.describe()
            ),
        );
        return None;
    };
    let line = *line;
    // The id first, so that every later message can name the item.
    let id_node = entries.iter().find(|(k, _)| k.name == "id").map(|(_, v)| v);
    let id_text = match id_node {
        Some(Node::Scalar { text, .. }) => Some(text.trim().to_string()),
        _ => None,
    };
    let who = match &id_text {
        Some(id) if !id.is_empty() => format!("item `{id}`: "),
        _ => "item: ".to_string(),
    };
    let mut f = Fields::new(ctx, entries, line, who.clone());
    let id = req_text(ctx, &mut f, "id");
    if let (Some(id), Some(n)) = (&id, id_node)
        && !is_valid_id(id)
    {
        ctx.problem(
            n.line(),
            format!(
                "{who}id must be lowercase letters, digits and '-' (e.g. `{card}-mean-latency`)"
            ),
        );
    }
    let kind_node = f.required(ctx, "kind");
    let kind = match kind_node {
        Some(n) => match scalar_text(ctx, &who, "kind", n) {
            Some(k) => {
                let k = k.trim();
                let kind = ItemKind::from_name(k);
                if kind.is_none() {
                    let known: Vec<&str> = ItemKind::ALL.iter().map(|k| k.as_str()).collect();
                    ctx.problem(
                        n.line(),
                        format!("{who}unknown kind `{k}` (known: {})", known.join(", ")),
                    );
                }
                kind
            }
            None => None,
        },
        None => None,
    };
    let prompt = req_text(ctx, &mut f, "prompt");
    let explanation = req_text(ctx, &mut f, "explanation");
    let expected_seconds = match f.optional("expected_seconds") {
        None => None,
        Some(n) => match number(ctx, &who, "expected_seconds", n) {
            Some(v) if v.fract() == 0.0 && (1.0..=3600.0).contains(&v) => Some(v as u32),
            Some(v) => {
                ctx.problem(
                    n.line(),
                    format!("{who}`expected_seconds` must be a whole number of seconds from 1 to 3600, found {v}"),
                );
                None
            }
            None => None,
        },
    };
    let kind = kind?;
    let body = parse_body(
        ctx,
        &mut f,
        kind,
        prompt.as_deref(),
        explanation.as_deref(),
        id.as_deref(),
        line,
    );
    let allowed: Vec<&str> = COMMON_FIELDS.iter().chain(kind.fields()).copied().collect();
    f.report_unknown(ctx, &format!("for kind `{kind}`"), &allowed);
    Some(QuizItem {
        id: id?,
        card: card.to_string(),
        line,
        prompt: prompt?,
        explanation: explanation?,
        expected_seconds,
        body: body?,
    })
}

fn parse_body(
    ctx: &mut Ctx<'_>,
    f: &mut Fields<'_>,
    kind: ItemKind,
    prompt: Option<&str>,
    explanation: Option<&str>,
    id: Option<&str>,
    item_line: usize,
) -> Option<ItemBody> {
    let who = f.who.clone();
    match kind {
        ItemKind::Choice => {
            let choices = text_list(ctx, f, "choices", 2);
            let answer = f.required(ctx, "answer");
            let answer_text = answer.and_then(|n| scalar_text(ctx, &who, "answer", n));
            let (choices, answer, answer_text) = (choices?, answer?, answer_text?);
            let Some(idx) = choices.iter().position(|(c, _)| c == answer_text.trim()) else {
                ctx.problem(
                    answer.line(),
                    format!("{who}`answer: {answer_text}` is not one of the choices (it must match one exactly)"),
                );
                return None;
            };
            Some(ItemBody::Choice(ChoiceItem {
                choices: choices.into_iter().map(|(c, _)| c).collect(),
                answer: idx,
            }))
        }
        ItemKind::Multi => {
            let choices = text_list(ctx, f, "choices", 2);
            let answers = text_list(ctx, f, "answers", 1)?;
            let choices = choices?;
            let mut idx = Vec::new();
            let mut ok = true;
            for (a, line) in &answers {
                match choices.iter().position(|(c, _)| c == a) {
                    Some(i) => idx.push(i),
                    None => {
                        ctx.problem(
                            *line,
                            format!("{who}answer \"{a}\" is not one of the choices (it must match one exactly)"),
                        );
                        ok = false;
                    }
                }
            }
            idx.sort_unstable();
            ok.then(|| {
                ItemBody::Multi(MultiItem {
                    choices: choices.into_iter().map(|(c, _)| c).collect(),
                    answers: idx,
                })
            })
        }
        ItemKind::Order => {
            let steps = text_list(ctx, f, "steps", 2)?;
            Some(ItemBody::Order(OrderItem {
                steps: steps.into_iter().map(|(s, _)| s).collect(),
            }))
        }
        ItemKind::Recall => {
            let answer = req_text(ctx, f, "answer")?;
            Some(ItemBody::Recall(RecallItem { answer }))
        }
        ItemKind::Numeric => {
            let answer_node = f.required(ctx, "answer");
            let answer = match answer_node {
                Some(n) => match scalar_text(ctx, &who, "answer", n) {
                    Some(t) => match Expr::parse(t) {
                        Ok(e) => Some((e, n.line())),
                        Err(e) => {
                            ctx.problem(
                                n.line(),
                                format!("{who}`answer: {t}` is not a valid expression: {e}"),
                            );
                            None
                        }
                    },
                    None => None,
                },
                None => None,
            };
            let unit = match f.required(ctx, "unit") {
                Some(n) => scalar_text(ctx, &who, "unit", n).map(|t| t.trim().to_string()),
                // `unit: ""` is allowed for a dimensionless number, but say so explicitly.
                None => None,
            };
            let tol = tolerance(ctx, f);
            let params = match f.optional("params") {
                Some(n) => template_params(ctx, &who, n),
                None => Some(Vec::new()),
            };
            // The template checks need only the answer and params, so they run even
            // when another field has a problem: lint reports everything at once.
            if let (Some(prompt), Some(explanation), Some(id), Some(answer), Some(params)) =
                (prompt, explanation, id, &answer, &params)
            {
                check_template(
                    ctx,
                    &Template {
                        item_line,
                        who: &who,
                        id,
                        prompt,
                        explanation,
                        answer: &answer.0,
                        answer_line: answer.1,
                        params,
                    },
                );
            }
            let (answer, unit, tolerance, params) = (answer?, unit?, tol?, params?);
            Some(ItemBody::Numeric(NumericItem {
                answer: answer.0,
                unit,
                tolerance,
                params,
            }))
        }
        ItemKind::Predict => {
            let scenario = req_text(ctx, f, "scenario");
            let metric = req_text(ctx, f, "metric");
            let unit = match f.required(ctx, "unit") {
                Some(n) => scalar_text(ctx, &who, "unit", n).map(|t| t.trim().to_string()),
                None => None,
            };
            let tol = tolerance(ctx, f);
            let params = match f.optional("params") {
                None => Some(Vec::new()),
                Some(Node::Map { entries, line }) => {
                    let pf = Fields::new(ctx, entries, *line, format!("{who}params: "));
                    let mut out = Vec::new();
                    let mut ok = true;
                    for (k, v) in pf.entries.clone() {
                        match scalar_text(ctx, &pf.who, &k.name, v) {
                            Some(t) if !v.is_null() => {
                                out.push((k.name.clone(), t.trim().to_string()))
                            }
                            Some(_) => {
                                ctx.problem(
                                    v.line(),
                                    format!("{}`{}` has no value", pf.who, k.name),
                                );
                                ok = false;
                            }
                            None => ok = false,
                        }
                    }
                    ok.then_some(out)
                }
                Some(other) => {
                    ctx.problem(
                        other.line(),
                        format!("{who}`params` must be a mapping of flag: value (e.g. {{ clients: 100000 }})"),
                    );
                    None
                }
            };
            Some(ItemBody::Predict(PredictItem {
                scenario: scenario?,
                params: params?,
                metric: metric?,
                unit: unit?,
                tolerance: tol?,
            }))
        }
    }
}

/// The well-formed items of a file and every problem found.
fn parse_partial(file: &str, text: &str) -> (QuizBank, Vec<QuizProblem>) {
    let empty = || QuizBank {
        file: file.to_string(),
        card: String::new(),
        card_line: 1,
        items: Vec::new(),
    };
    let mut ctx = Ctx {
        file,
        problems: Vec::new(),
    };
    let root = match load_yaml(text) {
        Ok(Some(root)) => root,
        Ok(None) => {
            ctx.problem(1, "the file is empty; expected `card:` and `items:`");
            return (empty(), ctx.problems);
        }
        Err((line, message)) => {
            ctx.problem(line, message);
            return (empty(), ctx.problems);
        }
    };
    let Node::Map { entries, line } = &root else {
        ctx.problem(
            root.line(),
            format!(
                "expected a mapping with `card:` and `items:`, found {}",
                root.describe()
            ),
        );
        return (empty(), ctx.problems);
    };
    let mut f = Fields::new(&mut ctx, entries, *line, String::new());
    let card_node = f.required(&mut ctx, "card");
    let card = card_node
        .and_then(|n| scalar_text(&mut ctx, "", "card", n))
        .map(|s| s.trim().to_string());
    let card_line = card_node.map_or(1, Node::line);
    if let Some(card) = &card {
        if !is_valid_id(card) {
            ctx.problem(
                card_line,
                format!("`card: {card}` is not a card id (lowercase letters, digits and '-')"),
            );
        }
        let name = file.rsplit(['/', '\\']).next().unwrap_or(file);
        if let Some(stem) = name.strip_suffix(".quiz.yaml")
            && stem != card
        {
            ctx.problem(
                card_line,
                format!("`card: {card}` does not match the file name `{name}`; the quiz bank of card `{card}` is `{card}.quiz.yaml`"),
            );
        }
    }
    let items_node = f.required(&mut ctx, "items");
    f.report_unknown(&mut ctx, "at the top level", &["card", "items"]);
    let card = card.unwrap_or_default();
    let mut items = Vec::new();
    match items_node {
        Some(Node::Seq { items: nodes, line }) => {
            if nodes.is_empty() {
                ctx.problem(*line, "`items` is empty");
            }
            // Duplicates are found on the raw ids, so an item with other problems
            // still counts.
            let mut seen: HashMap<&str, usize> = HashMap::new();
            for n in nodes {
                if let Node::Map { entries, line } = n
                    && let Some((_, Node::Scalar { text: id, .. })) =
                        entries.iter().find(|(k, _)| k.name == "id")
                    && !id.trim().is_empty()
                {
                    match seen.get(id.trim()) {
                        Some(first) => ctx.problem(
                            *line,
                            format!("duplicate id `{}` (first at line {first})", id.trim()),
                        ),
                        None => {
                            seen.insert(id.trim(), *line);
                        }
                    }
                }
                if let Some(item) = parse_item(&mut ctx, &card, n) {
                    items.push(item);
                }
            }
        }
        Some(other) => ctx.problem(
            other.line(),
            format!(
                "`items` must be a list of items (`- id: ...`), found {}",
                other.describe()
            ),
        ),
        None => {}
    }
    (
        QuizBank {
            file: file.to_string(),
            card,
            card_line,
            items,
        },
        ctx.problems,
    )
}

/// Parses and validates the text of a quiz file. `file` is only used in messages
/// (give the path as the user should see it). On success every item passed every
/// check that needs only this file; see [`check_references`] and
/// [`check_unique_ids`] for the rest, or [`lint_quiz_bank`] for all of them.
pub fn parse_quiz_bank(file: &str, text: &str) -> Result<QuizBank, Vec<QuizProblem>> {
    let (bank, problems) = parse_partial(file, text);
    if problems.is_empty() {
        Ok(bank)
    } else {
        Err(problems)
    }
}

/// Every problem of one quiz file, for `swelearn content lint`: the file's own
/// problems and the reference checks of [`check_references`] on the items that
/// parsed. Returns the bank of well-formed items too, so that the caller can run
/// [`check_unique_ids`] across files. An empty list means the file is fine.
pub fn lint_quiz_bank(
    file: &str,
    text: &str,
    is_known_card: &dyn Fn(&str) -> bool,
    sim: &dyn SimCatalog,
) -> (QuizBank, Vec<QuizProblem>) {
    let (bank, mut problems) = parse_partial(file, text);
    // A missing `card:` is already reported; do not report it again as unknown.
    let known = |c: &str| c.is_empty() || is_known_card(c);
    problems.extend(check_references(&bank, &known, sim));
    problems.sort_by_key(|p| p.line);
    (bank, problems)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // Tests panic on failure by design.
pub(crate) mod tests {
    use super::*;

    const FILE: &str = "content/realtime/short-polling.quiz.yaml";

    fn ok(text: &str) -> QuizBank {
        match parse_quiz_bank(FILE, text) {
            Ok(b) => b,
            Err(p) => panic!("unexpected problems:\n{}", render(&p)),
        }
    }

    fn render(p: &[QuizProblem]) -> String {
        p.iter().map(|p| format!("{p}\n")).collect()
    }

    /// Problems as `line: message` strings.
    fn problems(text: &str) -> Vec<String> {
        match parse_quiz_bank(FILE, text) {
            Ok(_) => panic!("expected problems"),
            Err(p) => p
                .into_iter()
                .map(|p| {
                    assert_eq!(p.file, FILE);
                    format!("{}: {}", p.line, p.message)
                })
                .collect(),
        }
    }

    fn has(problems: &[String], needle: &str) {
        assert!(
            problems.iter().any(|p| p.contains(needle)),
            "no problem containing {needle:?} in {problems:#?}"
        );
    }

    pub(crate) const SAMPLE: &str = r#"card: short-polling
items:
  - id: short-polling-mean-latency
    kind: choice
    prompt: A client polls every 10 s. What is the mean delay before it sees an event?
    choices: ["0 s", "5 s", "10 s", "20 s"]
    answer: "5 s"
    explanation: Events arrive uniformly within an interval, so on average half of it.
    expected_seconds: 30
  - id: short-polling-costs
    kind: multi
    prompt: Which grow with the polling rate?
    choices: [requests, empty responses, event latency]
    answers: [requests, empty responses]
    explanation: More polls mean more requests, most of them empty.
  - id: short-polling-steps
    kind: order
    prompt: Order a poll.
    steps: [send request, server checks, respond, wait interval]
    explanation: It is a loop.
  - id: short-polling-requests-per-day
    kind: numeric
    prompt: "{users} users each poll every {interval_s} s, all day. Requests per day?"
    params:
      users: { min: 1000, max: 100000, step: 1000 }
      interval_s: { choices: [2, 5, 10, 30, 60] }
    answer: users * 86400 / interval_s
    unit: requests/day
    tolerance: { relative: 0.05 }
    explanation: |
      A day has 86,400 s, so each user sends 86,400 / {interval_s} requests.
  - id: short-polling-fixed
    kind: numeric
    prompt: Seconds in a day?
    answer: 86400
    unit: s
    tolerance: { absolute: 0 }
    explanation: 24 * 3600.
  - id: short-polling-why
    kind: recall
    prompt: Why is short polling wasteful?
    answer: |
      Most responses are empty.
    explanation: Think of the ratio of events to polls.
  - id: short-polling-herd
    kind: predict
    prompt: "100,000 clients reconnect at once. How long until all are connected?"
    scenario: herd
    params: { clients: 100000, jitter: 0, backlog: unlimited }
    metric: time_to_all_s
    unit: s
    tolerance: { relative: 0.25 }
    explanation: 100000 / 4000 = 25 s.
"#;

    #[test]
    fn parses_every_kind() {
        let bank = ok(SAMPLE);
        assert_eq!(bank.card, "short-polling");
        assert_eq!(bank.items.len(), 7);
        let kinds: Vec<ItemKind> = bank.items.iter().map(QuizItem::kind).collect();
        assert_eq!(
            kinds,
            [
                ItemKind::Choice,
                ItemKind::Multi,
                ItemKind::Order,
                ItemKind::Numeric,
                ItemKind::Numeric,
                ItemKind::Recall,
                ItemKind::Predict
            ]
        );
        let first = &bank.items[0];
        assert_eq!(first.line, 3);
        assert_eq!(first.expected_seconds(), 30);
        assert_eq!(
            first.body,
            ItemBody::Choice(ChoiceItem {
                choices: vec!["0 s".into(), "5 s".into(), "10 s".into(), "20 s".into()],
                answer: 1
            })
        );
        let ItemBody::Multi(m) = &bank.items[1].body else {
            panic!()
        };
        assert_eq!(m.answers, vec![0, 1]);
        assert_eq!(bank.items[1].expected_seconds(), 45);
        let ItemBody::Numeric(n) = &bank.items[3].body else {
            panic!()
        };
        assert_eq!(n.params.len(), 2);
        assert_eq!(n.params[0].spec.len(), 100);
        assert_eq!(n.tolerance, Tolerance::Relative(0.05));
        let ItemBody::Numeric(fixed) = &bank.items[4].body else {
            panic!()
        };
        assert_eq!(fixed.answer.constant(), Some(86400.0));
        let ItemBody::Predict(p) = &bank.items[6].body else {
            panic!()
        };
        assert_eq!(
            p.params[2],
            ("backlog".to_string(), "unlimited".to_string())
        );
        assert_eq!(p.scenario, "herd");
    }

    fn replace(from: &str, to: &str) -> String {
        assert!(SAMPLE.contains(from), "sample lacks {from:?}");
        SAMPLE.replacen(from, to, 1)
    }

    #[test]
    fn malformed_yaml_has_a_line() {
        let p = problems("card: x\nitems:\n  - id: a\n    kind: [choice\n");
        assert_eq!(p.len(), 1);
        assert!(
            p[0].starts_with("5: YAML syntax") || p[0].starts_with("4: YAML syntax"),
            "{p:?}"
        );
        let p = problems("card: x\n  bad indent: y\n");
        assert!(p[0].contains("YAML syntax"), "{p:?}");
        has(&problems(""), "the file is empty");
        has(&problems("- a\n- b\n"), "expected a mapping");
        has(&problems("card: &a x\nitems: *a\n"), "aliases");
        has(
            &problems("card: x\n---\ncard: y\n"),
            "more than one YAML document",
        );
    }

    #[test]
    fn unknown_kind_and_fields() {
        let p = problems(&replace("kind: order", "kind: ordering"));
        has(
            &p,
            "17: item `short-polling-steps`: unknown kind `ordering` (known: choice, multi, order, numeric, recall, predict)",
        );
        let p = problems(&replace(
            "    expected_seconds: 30\n",
            "    expected_seconds: 30\n    hint: no\n",
        ));
        has(
            &p,
            "10: item `short-polling-mean-latency`: unknown field `hint` for kind `choice`",
        );
        let p = problems(&replace("    steps:", "    answer: x\n    steps:"));
        has(&p, "unknown field `answer` for kind `order`");
        let p = problems(&replace(
            "card: short-polling\n",
            "card: short-polling\nversion: 2\n",
        ));
        has(&p, "2: unknown field `version` at the top level");
        let p = problems(&replace("    explanation: It is a loop.\n", ""));
        has(
            &p,
            "16: item `short-polling-steps`: missing field `explanation`",
        );
        let p = problems(&replace(
            "    prompt: Order a poll.\n    steps",
            "    prompt: Order a poll.\n    prompt: again\n    steps",
        ));
        has(
            &p,
            "19: item `short-polling-steps`: duplicate key `prompt` (first at line 18)",
        );
        let p = problems(&replace("kind: recall", "kind: [recall]"));
        has(&p, "`kind` must be text, found a list");
        let p = problems(&replace("expected_seconds: 30", "expected_seconds: 0.5"));
        has(&p, "`expected_seconds` must be a whole number");
    }

    #[test]
    fn choice_answers_must_be_among_choices() {
        let p = problems(&replace("answer: \"5 s\"", "answer: 5s"));
        has(
            &p,
            "7: item `short-polling-mean-latency`: `answer: 5s` is not one of the choices",
        );
        let p = problems(&replace("    answer: \"5 s\"\n", ""));
        has(
            &p,
            "3: item `short-polling-mean-latency`: missing field `answer`",
        );
        let p = problems(&replace(
            "[\"0 s\", \"5 s\", \"10 s\", \"20 s\"]",
            "[\"5 s\"]",
        ));
        has(&p, "`choices` needs at least 2 entries, found 1");
        let p = problems(&replace(
            "[\"0 s\", \"5 s\", \"10 s\", \"20 s\"]",
            "[\"5 s\", \"5 s\"]",
        ));
        has(&p, "`choices` lists \"5 s\" twice");
        let p = problems(&replace(
            "answers: [requests, empty responses]",
            "answers: [requests, latency]",
        ));
        has(
            &p,
            "14: item `short-polling-costs`: answer \"latency\" is not one of the choices",
        );
        let p = problems(&replace(
            "answers: [requests, empty responses]",
            "answers: []",
        ));
        has(&p, "`answers` needs at least 1 entries, found 0");
        let p = problems(&replace(
            "steps: [send request, server checks, respond, wait interval]",
            "steps: [send request]",
        ));
        has(&p, "`steps` needs at least 2 entries");
    }

    #[test]
    fn tolerance_is_checked() {
        for (bad, msg) in [
            ("{ relative: 5 }", "must be in (0, 1]"),
            ("{ relative: 0 }", "must be in (0, 1]"),
            ("{ absolute: -1 }", "must be 0 or more"),
            ("{ relative: 0.1, absolute: 2 }", "found 2 keys"),
            ("{ percent: 5 }", "unknown tolerance `percent`"),
            ("{ relative: lots }", "must be a number"),
            ("0.05", "`tolerance` must be `{ relative"),
            ("{ relative: .inf }", "must be a number"),
        ] {
            let p = problems(&replace(
                "tolerance: { relative: 0.05 }",
                &format!("tolerance: {bad}"),
            ));
            has(&p, msg);
            assert!(p.iter().all(|p| p.starts_with("29:")), "{p:?}");
        }
    }

    #[test]
    fn templates_are_checked() {
        let p = problems(&replace("every {interval_s} s", "every {interval} s"));
        has(
            &p,
            "the prompt uses `{interval}` but `params` does not declare `interval`",
        );
        has(
            &p,
            "param `interval_s` is declared but the prompt never shows it",
        );
        let p = problems(&replace(
            "answer: users * 86400 / interval_s",
            "answer: users * 86400 / interval",
        ));
        has(
            &p,
            "27: item `short-polling-requests-per-day`: `answer` uses `interval`, which is not declared",
        );
        let p = problems(&replace(
            "answer: users * 86400 / interval_s",
            "answer: users * 86400 / (interval_s",
        ));
        has(&p, "is not a valid expression: column");
        let p = problems(&replace(
            "answer: users * 86400 / interval_s",
            "answer: users / (interval_s - 2)",
        ));
        has(
            &p,
            "cannot be evaluated for interval_s=2, users=1000: division by zero",
        );
        let p = problems(&replace(
            "answer: users * 86400 / interval_s",
            "answer: sqrt(30 - interval_s) * users",
        ));
        has(&p, "is not a finite number");
        let p = problems(&replace(
            "{ min: 1000, max: 100000, step: 1000 }",
            "{ min: 1000, max: 10, step: 1000 }",
        ));
        has(&p, "`min` (1000) is greater than `max` (10)");
        let p = problems(&replace(
            "{ min: 1000, max: 100000, step: 1000 }",
            "{ min: 1000, max: 100000, step: 0 }",
        ));
        has(&p, "`step` must be greater than 0");
        let p = problems(&replace(
            "{ min: 1000, max: 100000, step: 1000 }",
            "{ min: 1000, max: 100000, stride: 1000 }",
        ));
        has(&p, "unknown field `stride` in a range param");
        let p = problems(&replace(
            "{ choices: [2, 5, 10, 30, 60] }",
            "{ choices: [] }",
        ));
        has(&p, "`choices` is empty");
        let p = problems(&replace(
            "{ choices: [2, 5, 10, 30, 60] }",
            "{ choices: [2, five] }",
        ));
        has(&p, "must be a number, found `five`");
        let p = problems(&replace("answer: 86400", "answer: 1/0"));
        has(&p, "division by zero");
        let p = problems(&replace(
            "{interval_s} requests.",
            "{users_total} requests.",
        ));
        has(&p, "the explanation uses `{users_total}`");
    }

    #[test]
    fn ids_are_checked() {
        let p = problems(&replace(
            "id: short-polling-costs",
            "id: short-polling-mean-latency",
        ));
        has(
            &p,
            "10: duplicate id `short-polling-mean-latency` (first at line 3)",
        );
        let p = problems(&replace("id: short-polling-costs", "id: Short Polling"));
        has(&p, "id must be lowercase letters, digits and '-'");
        let p = problems(&replace("card: short-polling", "card: long-polling"));
        has(
            &p,
            "1: `card: long-polling` does not match the file name `short-polling.quiz.yaml`",
        );
        let p = problems(&replace("  - id: short-polling-why\n", "  - \n"));
        has(&p, "missing field `id`");
    }

    #[test]
    fn yaml_types_are_not_coerced() {
        let text = "card: c\nitems:\n  - id: c-yes\n    kind: choice\n    prompt: p\n    choices: [yes, no, 1, 1.0]\n    answer: no\n    explanation: e\n";
        let bank = parse_quiz_bank("c.quiz.yaml", text).unwrap();
        let ItemBody::Choice(c) = &bank.items[0].body else {
            panic!()
        };
        assert_eq!(c.choices, ["yes", "no", "1", "1.0"]);
        assert_eq!(c.answer, 1);
    }

    struct Sim;
    impl SimCatalog for Sim {
        fn has_scenario(&self, s: &str) -> bool {
            s == "herd"
        }
        fn has_metric(&self, s: &str, m: &str) -> bool {
            s == "herd" && m == "time_to_all_s"
        }
        fn scenario_names(&self) -> Vec<String> {
            vec!["herd".into()]
        }
        fn check_param(&self, _: &str, name: &str, _: &str) -> Result<(), String> {
            if name == "clientz" {
                Err("unknown flag".into())
            } else {
                Ok(())
            }
        }
    }

    #[test]
    fn references_are_checked() {
        let bank = ok(SAMPLE);
        assert!(check_references(&bank, &|c| c == "short-polling", &Sim).is_empty());
        let p = check_references(&bank, &|_| false, &Sim);
        assert_eq!(p.len(), 1);
        assert_eq!(
            p[0].to_string(),
            format!("{FILE}:1: `card: short-polling` is not the id of any card")
        );
        let bad = ok(&replace("scenario: herd", "scenario: stampede"));
        let p = check_references(&bad, &|_| true, &Sim);
        assert_eq!(
            p[0].to_string(),
            format!(
                "{FILE}:45: item `short-polling-herd`: unknown scenario `stampede` (known: herd)"
            )
        );
        let bad = ok(&replace("metric: time_to_all_s", "metric: time_to_all"));
        let p = check_references(&bad, &|_| true, &Sim);
        assert!(
            p[0].message
                .contains("scenario `herd` has no metric `time_to_all`")
        );
        let bad = ok(&replace("{ clients: 100000,", "{ clientz: 100000,"));
        let p = check_references(&bad, &|_| true, &Sim);
        assert!(
            p[0].message
                .contains("param `clientz: 100000` for scenario `herd`: unknown flag")
        );
    }

    #[test]
    fn lint_reports_everything_at_once() {
        let text = replace(
            "tolerance: { relative: 0.05 }",
            "tolerance: { relative: 5 }",
        )
        .replace("scenario: herd", "scenario: stampede")
        .replace(
            "id: short-polling-fixed",
            "id: short-polling-requests-per-day",
        )
        .replace(
            "answer: users * 86400 / interval_s",
            "answer: users / (interval_s - 2)",
        );
        let (bank, p) = lint_quiz_bank(FILE, &text, &|_| true, &Sim);
        let p: Vec<String> = p
            .iter()
            .map(|p| format!("{}: {}", p.line, p.message))
            .collect();
        has(
            &p,
            "27: item `short-polling-requests-per-day`: `answer: users / (interval_s - 2)` cannot be evaluated",
        );
        has(
            &p,
            "29: item `short-polling-requests-per-day`: `tolerance.relative` must be in (0, 1]",
        );
        has(
            &p,
            "32: duplicate id `short-polling-requests-per-day` (first at line 21)",
        );
        has(
            &p,
            "45: item `short-polling-herd`: unknown scenario `stampede`",
        );
        assert_eq!(p.len(), 4, "{p:#?}");
        assert_eq!(bank.items.len(), 6, "the well-formed items are returned");
        let (_, p) = lint_quiz_bank(FILE, SAMPLE, &|_| true, &Sim);
        assert!(p.is_empty());
        let (_, p) = lint_quiz_bank(FILE, "items: []\n", &|_| false, &Sim);
        let p: Vec<String> = p.iter().map(|p| p.message.clone()).collect();
        assert_eq!(p, ["missing field `card`", "`items` is empty"]);
    }

    #[test]
    fn ids_unique_across_banks() {
        let a = ok(SAMPLE);
        let mut b = a.clone();
        b.file = "other/short-polling.quiz.yaml".into();
        b.items.truncate(1);
        let p = check_unique_ids(&[a, b]);
        assert_eq!(p.len(), 1);
        assert_eq!(
            p[0].to_string(),
            format!(
                "other/short-polling.quiz.yaml:3: id `short-polling-mean-latency` is also used at {FILE}:3; item ids must be unique across all content"
            )
        );
    }

    #[test]
    fn placeholders_only_match_identifiers() {
        let p: Vec<&str> = placeholders("a {x} {y_2} {} {1a} {a b} {\"k\": 1} {{z}}")
            .into_iter()
            .map(|(_, n)| n)
            .collect();
        assert_eq!(p, ["x", "y_2", "z"]);
    }

    #[test]
    fn range_values_are_exact() {
        let s = ParamSpec::Range {
            min: 0.1,
            max: 0.5,
            step: 0.1,
        };
        assert_eq!(s.len(), 5);
        assert_eq!(s.value(2), 0.3);
        assert_eq!(s.value(4), 0.5);
        let s = ParamSpec::Range {
            min: 1000.0,
            max: 100_000.0,
            step: 1000.0,
        };
        assert_eq!(s.len(), 100);
        assert_eq!(s.value(99), 100_000.0);
    }

    #[test]
    fn tolerance_accepts() {
        assert!(Tolerance::Relative(0.1).accepts(109.0, 100.0));
        assert!(!Tolerance::Relative(0.1).accepts(111.0, 100.0));
        assert!(Tolerance::Absolute(0.0).accepts(0.1 + 0.2, 0.3));
        assert!(Tolerance::Absolute(5.0).accepts(-5.0, 0.0));
        assert!(!Tolerance::Absolute(5.0).accepts(5.1, 0.0));
        assert_eq!(Tolerance::Relative(0.05).describe("s"), "±5 %");
        assert_eq!(Tolerance::Absolute(2.5).describe("ms"), "±2.5 ms");
    }
}

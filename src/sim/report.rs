//! The `Report`: the one plain-data result of a simulation run that every output
//! and view consumes.
//!
//! Both backends fill it: the discrete-event engine now (`backend: "model"`), the
//! live loopback runner later (`backend: "live"`). It is built from an engine
//! [`RunOutcome`] by [`Report::from_outcome`] and read by `crate::output` (text,
//! JSON, CSV, SVG, comparison) and by the TUI's playback view.
//!
//! JSON shape (field names are stable; `parameters`, `metrics` and `series` are
//! objects keyed by name, in the scenario's display order):
//!
//! ```json
//! {
//!   "schema": 1, "scenario": "herd", "backend": "model", "seed": 7,
//!   "parameters": { "clients": { "value": "100000", "unit": "clients" }, ... },
//!   "metrics": { "time_to_all_s": { "value": 30.0012, "unit": "s", "label": "..." }, ... },
//!   "series_interval_s": 0.02,
//!   "series": { "connected": { "unit": "clients", "label": "...", "values": [ ... ] }, ... },
//!   "events_processed": 181734, "end_s": 30.0012, "horizon_s": 600,
//!   "wall_time_s": 0.012
//! }
//! ```
//!
//! so `jq .metrics.time_to_all_s.value` reads a metric. A metric whose value is
//! not defined for the run (e.g. `time_to_all_s` when some clients never connected
//! before the horizon) has `"value": null`. Whole-number values are written
//! without a fraction. `wall_time_s` is the only wall-clock number; it is measured
//! outside the model, and omitted when `None` so two runs can be compared byte
//! for byte ([`Report::without_wall_time`]).

use serde::de::{MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::engine::RunOutcome;
use super::recorder::DEFAULT_MAX_POINTS;
use super::time::SimDuration;

/// Version of the report's JSON shape.
pub const SCHEMA_VERSION: u32 = 1;

/// Which backend produced a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// The discrete-event model.
    Model,
    /// Real loopback servers and clients.
    Live,
}

impl Backend {
    /// The JSON spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Model => "model",
            Backend::Live => "live",
        }
    }
}

/// One input parameter, as the user would write it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Parameter {
    /// Stable name (snake_case of the CLI flag), e.g. `handshake_ms`.
    #[serde(skip)]
    pub name: String,
    /// The value as text, e.g. `30`, `unlimited`, `full-jitter`.
    pub value: String,
    /// Unit of the value, or empty.
    pub unit: String,
}

impl Parameter {
    /// A parameter.
    pub fn new(name: impl Into<String>, value: impl Into<String>, unit: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            value: value.into(),
            unit: unit.into(),
        }
    }
}

/// One summary metric.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metric {
    /// Stable name, e.g. `time_to_all_s` (the unit is part of the name when the
    /// value has one).
    #[serde(skip)]
    pub name: String,
    /// The value, or `None` when the run did not define it.
    #[serde(serialize_with = "number_or_null")]
    pub value: Option<f64>,
    /// Unit, e.g. `s`, `ms`, `clients`, `fraction`.
    pub unit: String,
    /// A short description for people.
    pub label: String,
}

impl Metric {
    /// A metric.
    pub fn new(
        name: impl Into<String>,
        value: Option<f64>,
        unit: impl Into<String>,
        label: impl Into<String>,
    ) -> Self {
        Self {
            name: name.into(),
            value,
            unit: unit.into(),
            label: label.into(),
        }
    }
}

/// One time series: values at a fixed interval from time zero.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Series {
    /// Stable name, e.g. `queue_depth`.
    #[serde(skip)]
    pub name: String,
    /// Unit of the values.
    pub unit: String,
    /// A short description for people.
    pub label: String,
    /// Value `i` describes the interval `[i * interval, (i + 1) * interval)`: a rate
    /// over it, a gauge's maximum in it, or a running total at its end.
    pub values: Vec<f64>,
}

/// The result of one simulation run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// Version of this shape ([`SCHEMA_VERSION`]).
    pub schema: u32,
    /// The scenario's registry name, e.g. `herd`.
    pub scenario: String,
    /// Which backend produced it.
    pub backend: Backend,
    /// The RNG seed.
    pub seed: u64,
    /// Input parameters, keyed by name.
    #[serde(with = "named")]
    pub parameters: Vec<Parameter>,
    /// Summary metrics, keyed by name.
    #[serde(with = "named")]
    pub metrics: Vec<Metric>,
    /// Seconds between two consecutive series values.
    pub series_interval_s: f64,
    /// Time series, keyed by name, all with the same interval and length.
    #[serde(with = "named")]
    pub series: Vec<Series>,
    /// Events the engine processed.
    pub events_processed: u64,
    /// Virtual time at which the run ended, in seconds.
    pub end_s: f64,
    /// The horizon (latest possible end), in seconds.
    pub horizon_s: f64,
    /// Wall-clock seconds the engine took, measured outside the model; `None`
    /// (omitted from JSON) for byte-comparable reports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wall_time_s: Option<f64>,
}

impl Report {
    /// Shapes an engine outcome into a report with at most
    /// [`DEFAULT_MAX_POINTS`] points per series.
    pub fn from_outcome(outcome: &RunOutcome) -> Self {
        let iv = outcome
            .recorded
            .interval_for(outcome.end, DEFAULT_MAX_POINTS);
        Self::from_outcome_at(outcome, iv)
    }

    /// Shapes an engine outcome into a report whose series have the given interval
    /// (used to give compared variants a common time axis).
    pub fn from_outcome_at(outcome: &RunOutcome, interval: SimDuration) -> Self {
        let base = outcome.recorded.base_interval().as_nanos();
        let iv_ns = interval.as_nanos().div_ceil(base).max(1) * base;
        let series = outcome
            .recorded
            .series_at(SimDuration(iv_ns))
            .into_iter()
            .map(|s| Series {
                name: s.name.to_string(),
                unit: s.unit.to_string(),
                label: s.label.to_string(),
                values: s.values,
            })
            .collect();
        Self {
            schema: SCHEMA_VERSION,
            scenario: outcome.scenario.to_string(),
            backend: Backend::Model,
            seed: outcome.seed,
            parameters: outcome.parameters.clone(),
            metrics: outcome.metrics.clone(),
            series_interval_s: SimDuration(iv_ns).as_secs_f64(),
            series,
            events_processed: outcome.events_processed,
            end_s: outcome.end.as_secs_f64(),
            horizon_s: outcome.horizon.as_secs_f64(),
            wall_time_s: None,
        }
    }

    /// The same report with the wall-clock time removed, for byte comparisons.
    pub fn without_wall_time(mut self) -> Self {
        self.wall_time_s = None;
        self
    }

    /// A metric by name.
    pub fn metric(&self, name: &str) -> Option<&Metric> {
        self.metrics.iter().find(|m| m.name == name)
    }

    /// A metric's value by name (`None` if absent or undefined).
    pub fn metric_value(&self, name: &str) -> Option<f64> {
        self.metric(name).and_then(|m| m.value)
    }

    /// A parameter by name.
    pub fn parameter(&self, name: &str) -> Option<&Parameter> {
        self.parameters.iter().find(|p| p.name == name)
    }

    /// A series by name.
    pub fn series(&self, name: &str) -> Option<&Series> {
        self.series.iter().find(|s| s.name == name)
    }

    /// Number of points in each series.
    pub fn points(&self) -> usize {
        self.series.first().map_or(0, |s| s.values.len())
    }

    /// Pretty JSON with a trailing newline.
    pub fn to_json(&self) -> Result<String, serde_json::Error> {
        let mut s = serde_json::to_string_pretty(self)?;
        s.push('\n');
        Ok(s)
    }
}

/// Several runs of one scenario that differ in one parameter (same seed).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    /// The parameter that varies, e.g. `jitter`.
    pub parameter: String,
    /// Its values, one per report, as typed.
    pub values: Vec<String>,
    /// The runs, in the order of `values`, with a common series interval.
    pub reports: Vec<Report>,
}

impl Comparison {
    /// Short names of the variants, e.g. `jitter=0`; a live run compared with
    /// the model is named by its backend alone (`live`, `model`).
    pub fn variant_names(&self) -> Vec<String> {
        if self.parameter == "backend" {
            return self.values.clone();
        }
        self.values
            .iter()
            .map(|v| format!("{}={v}", self.parameter))
            .collect()
    }

    /// Pretty JSON with a trailing newline.
    pub fn to_json(&self) -> Result<String, serde_json::Error> {
        let mut s = serde_json::to_string_pretty(self)?;
        s.push('\n');
        Ok(s)
    }
}

/// Writes whole numbers without a fraction (`4096`, not `4096.0`), others as
/// shortest round-trip decimals, and `None` as `null`.
fn number_or_null<S: Serializer>(v: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
    match *v {
        Some(x) if x.is_finite() && x.fract() == 0.0 && x.abs() < 9.0e15 => {
            s.serialize_i64(x as i64)
        }
        Some(x) if x.is_finite() => s.serialize_f64(x),
        _ => s.serialize_none(),
    }
}

/// Items that are stored in a JSON object under their `name`.
trait Named {
    fn name(&self) -> &str;
    fn set_name(&mut self, name: String);
}

macro_rules! impl_named {
    ($($t:ty),*) => {$(
        impl Named for $t {
            fn name(&self) -> &str {
                &self.name
            }
            fn set_name(&mut self, name: String) {
                self.name = name;
            }
        }
    )*};
}
impl_named!(Parameter, Metric, Series);

/// Serializes a `Vec` of named items as a JSON object in order, and back.
mod named {
    use super::*;
    use std::fmt;
    use std::marker::PhantomData;

    pub(super) fn serialize<S, T>(items: &[T], s: S) -> Result<S::Ok, S::Error>
    where
        S: Serializer,
        T: Named + Serialize,
    {
        let mut map = s.serialize_map(Some(items.len()))?;
        for item in items {
            map.serialize_entry(item.name(), item)?;
        }
        map.end()
    }

    pub(super) fn deserialize<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
    where
        D: Deserializer<'de>,
        T: Named + Deserialize<'de>,
    {
        struct V<T>(PhantomData<T>);
        impl<'de, T: Named + Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = Vec<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object keyed by name")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Vec<T>, A::Error> {
                let mut out = Vec::with_capacity(map.size_hint().unwrap_or(0));
                while let Some((k, mut v)) = map.next_entry::<String, T>()? {
                    v.set_name(k);
                    out.push(v);
                }
                Ok(out)
            }
        }
        d.deserialize_map(V(PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Report {
        Report {
            schema: SCHEMA_VERSION,
            scenario: "herd".into(),
            backend: Backend::Model,
            seed: 7,
            parameters: vec![
                Parameter::new("clients", "100", "clients"),
                Parameter::new("backlog", "unlimited", "entries"),
            ],
            metrics: vec![
                Metric::new(
                    "time_to_all_s",
                    Some(30.25),
                    "s",
                    "time until all connected",
                ),
                Metric::new("peak_queue", Some(4096.0), "entries", "largest queue"),
                Metric::new("time_to_p99_s", None, "s", "never"),
            ],
            series_interval_s: 0.5,
            series: vec![Series {
                name: "connected".into(),
                unit: "clients".into(),
                label: "connected clients".into(),
                values: vec![0.0, 1.5],
            }],
            events_processed: 12,
            end_s: 1.0,
            horizon_s: 600.0,
            wall_time_s: Some(0.001),
        }
    }

    #[test]
    fn json_is_keyed_by_name_and_round_trips() {
        let r = sample();
        let json = r.to_json().expect("serializes");
        let v: serde_json::Value = serde_json::from_str(&json).expect("valid JSON");
        assert_eq!(v["metrics"]["time_to_all_s"]["value"], 30.25);
        assert_eq!(v["metrics"]["peak_queue"]["value"].to_string(), "4096");
        assert!(v["metrics"]["time_to_p99_s"]["value"].is_null());
        assert_eq!(v["parameters"]["backlog"]["value"], "unlimited");
        assert_eq!(v["series"]["connected"]["values"][1], 1.5);
        assert_eq!(v["backend"], "model");
        let back: Report = serde_json::from_str(&json).expect("deserializes");
        assert_eq!(back, r);
        // Order is kept.
        assert!(json.find("time_to_all_s") < json.find("peak_queue"));
    }

    #[test]
    fn wall_time_can_be_left_out() {
        let json = sample().without_wall_time().to_json().expect("serializes");
        assert!(!json.contains("wall_time"));
        let back: Report = serde_json::from_str(&json).expect("deserializes");
        assert_eq!(back.wall_time_s, None);
    }
}

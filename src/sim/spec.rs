//! `ScenarioSpec`: a scenario's user-facing configuration, the one trait the runner,
//! the registry and the CLI need to run any scenario generically.
//!
//! A spec holds parameters as the user gives them (seconds, milliseconds, counts,
//! policy names) before validation. It can be set from flag-style text
//! ([`ScenarioSpec::set`], used by `--compare`, predict items and
//! [`super::registry::run_by_name`]), read back as text ([`ScenarioSpec::get`],
//! for labels and reports), estimate its memory ([`ScenarioSpec::memory`], which
//! also validates every range) and build the model that runs on the engine
//! ([`ScenarioSpec::build`]). [`super::runner`] is generic over it.
//!
//! The parsing helpers here ([`parse_seconds`], [`parse_count`], [`is_unlimited`],
//! [`fmt_num`]) give every scenario the same value syntax: `30`, `0.5`, `500ms`,
//! `1min`, `100_000`, `1e6`, `unlimited`.

use std::fmt::Debug;

use super::error::SimError;
use super::registry::ParamInfo;
use super::report::Parameter;
use super::scenario::Scenario;

/// Implements [`ScenarioSpec`] for a configuration whose inherent `set`, `get`,
/// `parameters` and `validate` (giving parameters with a `memory()` estimate)
/// do the work, and whose model has `new(config)`; `NAME` and `PARAMS` must be
/// in scope. Usage: `spec::forward_scenario_spec!(HerdConfig => Herd);`.
macro_rules! forward_scenario_spec {
    ($config:ident => $model:ident) => {
        impl $crate::sim::spec::ScenarioSpec for $config {
            type Model = $model;
            const NAME: &'static str = NAME;
            const PARAMS: &'static [$crate::sim::registry::ParamInfo] = PARAMS;

            fn set(&mut self, name: &str, value: &str) -> Result<(), $crate::sim::error::SimError> {
                $config::set(self, name, value)
            }

            fn get(&self, name: &str) -> Option<String> {
                $config::get(self, name)
            }

            fn parameters(&self) -> Vec<$crate::sim::report::Parameter> {
                $config::parameters(self)
            }

            fn memory(
                &self,
            ) -> Result<$crate::sim::spec::MemoryEstimate, $crate::sim::error::SimError> {
                Ok($config::validate(self)?.memory())
            }

            fn build(&self) -> Result<$model, $crate::sim::error::SimError> {
                $model::new(self.clone())
            }
        }
    };
}
pub(crate) use forward_scenario_spec;

/// A scenario's configuration, before validation; see the module documentation.
pub trait ScenarioSpec: Clone + Default + Debug {
    /// The model this configuration builds.
    type Model: Scenario;

    /// The registry name, e.g. `herd`.
    const NAME: &'static str;

    /// The parameter table (name, unit, default, help), in report order.
    const PARAMS: &'static [ParamInfo];

    /// The canonical parameter name for a user spelling (`--handshake-ms`,
    /// `handshake_ms`, an alias), or `None` if the scenario has no such parameter.
    fn canonical_param(name: &str) -> Option<&'static str> {
        canonical_param(Self::PARAMS, name)
    }

    /// Sets one parameter from text, e.g. `("jitter", "30")`. Parse errors are
    /// reported here; ranges are checked by [`ScenarioSpec::memory`] and
    /// [`ScenarioSpec::build`].
    fn set(&mut self, name: &str, value: &str) -> Result<(), SimError>;

    /// A parameter's current value as text (`unlimited`, `30`), or `None` for an
    /// unknown name.
    fn get(&self, name: &str) -> Option<String>;

    /// The parameters for a report, in [`ScenarioSpec::PARAMS`] order.
    fn parameters(&self) -> Vec<Parameter> {
        Self::PARAMS
            .iter()
            .map(|p| Parameter::new(p.name, self.get(p.name).unwrap_or_default(), p.unit))
            .collect()
    }

    /// Validates every range and estimates the run's peak memory.
    fn memory(&self) -> Result<MemoryEstimate, SimError>;

    /// Validates and builds the model, ready for `Simulation::new`.
    fn build(&self) -> Result<Self::Model, SimError>;

    /// Validates every range (and nothing else).
    fn validate(&self) -> Result<(), SimError> {
        self.memory().map(|_| ())
    }
}

/// What a run is expected to hold in memory at its peak, by its biggest driver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryEstimate {
    /// The flag that drives memory, e.g. `clients`.
    pub flag: &'static str,
    /// Its value.
    pub count: u64,
    /// What one unit of it is called, singular, e.g. `client`.
    pub per: &'static str,
    /// Estimated bytes per unit.
    pub bytes_per: u64,
    /// Estimated total bytes, including fixed costs.
    pub total_bytes: u64,
}

impl MemoryEstimate {
    /// `count * bytes_per + fixed` bytes, saturating.
    pub fn new(
        flag: &'static str,
        count: u64,
        per: &'static str,
        bytes_per: u64,
        fixed: u64,
    ) -> Self {
        Self {
            flag,
            count,
            per,
            bytes_per,
            total_bytes: count.saturating_mul(bytes_per).saturating_add(fixed),
        }
    }

    /// Refuses a run that would not fit in `available` bytes (`None`: unknown,
    /// never refused).
    pub fn check(&self, available: Option<u64>) -> Result<(), SimError> {
        let Some(available) = available else {
            return Ok(());
        };
        if self.total_bytes > available {
            return Err(SimError::TooMuchMemory {
                flag: self.flag,
                count: self.count,
                per: self.per,
                bytes_per: self.bytes_per,
                needed_mib: self.total_bytes.div_ceil(1 << 20),
                available_mib: available >> 20,
            });
        }
        Ok(())
    }
}

/// Normalises a user spelling of a parameter: trims, drops a leading `--`,
/// lowercases and turns `-` into `_`.
pub fn normalize_param(name: &str) -> String {
    name.trim()
        .trim_start_matches("--")
        .to_ascii_lowercase()
        .replace('-', "_")
}

/// The canonical name in `params` for a user spelling, matching names and aliases.
pub fn canonical_param(params: &'static [ParamInfo], name: &str) -> Option<&'static str> {
    let n = normalize_param(name);
    params
        .iter()
        .find(|p| p.name == n || p.aliases.iter().any(|a| *a == n))
        .map(|p| p.name)
}

/// The parameter names as flags (`handshake-ms`), comma-separated, for hints.
pub fn known_params(params: &[ParamInfo]) -> String {
    params
        .iter()
        .map(|p| p.name.replace('_', "-"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The error for a parameter name `scenario` does not have.
pub fn unknown_param(scenario: &'static str, params: &[ParamInfo], name: &str) -> SimError {
    SimError::UnknownParameter {
        scenario,
        name: name.to_string(),
        known: known_params(params),
    }
}

/// Parses a number with an optional unit suffix (`ms`, `us`, `s`, `min`) into
/// seconds; `default_scale` is seconds per unit when no suffix is given (1 for
/// seconds, 0.001 for milliseconds).
pub fn parse_seconds(value: &str, default_scale: f64) -> Option<f64> {
    let v = value.trim().to_ascii_lowercase();
    let (num, scale) = if let Some(n) = v.strip_suffix("ms") {
        (n, 1e-3)
    } else if let Some(n) = v.strip_suffix("us").or_else(|| v.strip_suffix("µs")) {
        (n, 1e-6)
    } else if let Some(n) = v.strip_suffix("min") {
        (n, 60.0)
    } else if let Some(n) = v.strip_suffix('s') {
        (n, 1.0)
    } else {
        (v.as_str(), default_scale)
    };
    num.trim().parse::<f64>().ok().map(|x| x * scale)
}

/// Parses a whole count: `100000`, `100_000`, `100,000`, `1e6`; negative numbers
/// parse (and fail validation later with a clearer message).
pub fn parse_count(value: &str) -> Option<i128> {
    let v = value.trim().replace(['_', ','], "");
    if let Ok(n) = v.parse::<i128>() {
        return Some(n);
    }
    let f = v.parse::<f64>().ok()?;
    (f.is_finite() && f.fract() == 0.0 && f.abs() < 1e30).then_some(f as i128)
}

/// Parses a plain number (`0.5`, `1e3`, `1_000`).
pub fn parse_number(value: &str) -> Option<f64> {
    value.trim().replace('_', "").parse::<f64>().ok()
}

/// Whether `value` means "no limit" (`unlimited`, `none`, `inf`, `off`, `never`).
pub fn is_unlimited(value: &str) -> bool {
    matches!(
        value.trim().to_ascii_lowercase().as_str(),
        "unlimited" | "none" | "inf" | "infinite" | "off" | "never"
    )
}

/// Formats a number the way a user would type it (`30`, `0.5`).
pub fn fmt_num(x: f64) -> String {
    format!("{x}")
}

/// What [`count_value`] and friends say a count looks like.
pub const COUNT: &str = "a whole number such as 1000";
/// What [`seconds_value`] says a time looks like.
pub const SECONDS: &str = "a number of seconds such as 30, 0.5 or 500ms";

/// Parses a whole count for `--flag`: `InvalidValue` when it is not a whole
/// number, `MustBePositive` (or `MustBeNonNegative` when `allow_zero`) when it is
/// out of range; values above `u64::MAX` saturate (and fail a range check).
pub fn count_value(flag: &'static str, value: &str, allow_zero: bool) -> Result<u64, SimError> {
    let n = parse_count(value).ok_or_else(|| SimError::InvalidValue {
        param: flag,
        value: value.to_string(),
        expected: COUNT,
    })?;
    if n < 0 || (n == 0 && !allow_zero) {
        let value = value.trim().to_string();
        return Err(if allow_zero {
            SimError::MustBeNonNegative { param: flag, value }
        } else {
            SimError::MustBePositive { param: flag, value }
        });
    }
    Ok(u64::try_from(n).unwrap_or(u64::MAX))
}

/// Parses seconds (with an optional unit suffix) for `--flag`; ranges are
/// checked later by [`duration_value`].
pub fn seconds_value(flag: &'static str, value: &str) -> Result<f64, SimError> {
    parse_seconds(value, 1.0).ok_or_else(|| SimError::InvalidValue {
        param: flag,
        value: value.to_string(),
        expected: SECONDS,
    })
}

/// Parses seconds or a word meaning "never" (`none`, `never`, `off`).
pub fn optional_seconds_value(flag: &'static str, value: &str) -> Result<Option<f64>, SimError> {
    if is_unlimited(value) {
        return Ok(None);
    }
    parse_seconds(value, 1.0)
        .map(Some)
        .ok_or_else(|| SimError::InvalidValue {
            param: flag,
            value: value.to_string(),
            expected: "a number of seconds such as 60, or none",
        })
}

/// Parses a plain number for `--flag` (`expected` says what it should look like).
pub fn number_value(
    flag: &'static str,
    value: &str,
    expected: &'static str,
) -> Result<f64, SimError> {
    parse_number(value).ok_or_else(|| SimError::InvalidValue {
        param: flag,
        value: value.to_string(),
        expected,
    })
}

/// Checks a time in seconds for `--flag` and converts it: finite, >= 0 (> 0 when
/// `positive`) and at most `max_s`.
pub fn duration_value(
    flag: &'static str,
    secs: f64,
    positive: bool,
    max_s: f64,
) -> Result<super::time::SimDuration, SimError> {
    if secs.is_finite() && secs > max_s {
        return Err(SimError::TooLarge {
            param: flag,
            value: fmt_num(secs),
            max: format!("{} s", fmt_num(max_s)),
        });
    }
    match super::time::SimDuration::try_from_secs_f64(secs) {
        Some(d) if !positive || d.as_nanos() > 0 => Ok(d),
        _ if positive => Err(SimError::MustBePositive {
            param: flag,
            value: fmt_num(secs),
        }),
        _ => Err(SimError::MustBeNonNegative {
            param: flag,
            value: fmt_num(secs),
        }),
    }
}

/// Checks a finite rate or size `x > 0` for `--flag`, at most `max`.
pub fn positive_value(flag: &'static str, x: f64, max: f64) -> Result<f64, SimError> {
    if !(x.is_finite() && x > 0.0) {
        return Err(SimError::MustBePositive {
            param: flag,
            value: fmt_num(x),
        });
    }
    if x > max {
        return Err(SimError::TooLarge {
            param: flag,
            value: fmt_num(x),
            max: fmt_num(max),
        });
    }
    Ok(x)
}

/// Checks a count `1 <= n <= max` (or `0 <= n` when `allow_zero`) for `--flag`.
pub fn count_in_range(
    flag: &'static str,
    n: u64,
    allow_zero: bool,
    max: u64,
) -> Result<u64, SimError> {
    if n == 0 && !allow_zero {
        return Err(SimError::MustBePositive {
            param: flag,
            value: "0".into(),
        });
    }
    if n > max {
        return Err(SimError::TooLarge {
            param: flag,
            value: n.to_string(),
            max: max.to_string(),
        });
    }
    Ok(n)
}

/// A 64-bit mixing function (SplitMix64's finaliser): a fixed, portable hash of
/// an integer, used for client keys and hash-ring points.
#[inline]
pub fn mix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: &[ParamInfo] = &[
        ParamInfo {
            name: "handshake_ms",
            unit: "ms",
            default: "0.5",
            help: "",
            aliases: &["handshake"],
        },
        ParamInfo {
            name: "jitter",
            unit: "s",
            default: "0",
            help: "",
            aliases: &[],
        },
    ];

    #[test]
    fn names_and_aliases_are_canonicalised() {
        assert_eq!(canonical_param(P, "--Handshake-MS"), Some("handshake_ms"));
        assert_eq!(canonical_param(P, "handshake"), Some("handshake_ms"));
        assert_eq!(canonical_param(P, " jitter "), Some("jitter"));
        assert_eq!(canonical_param(P, "colour"), None);
        assert_eq!(known_params(P), "handshake-ms, jitter");
    }

    #[test]
    fn values_parse_with_units() {
        assert_eq!(parse_seconds("500ms", 1.0), Some(0.5));
        assert_eq!(parse_seconds("2", 1e-3), Some(0.002));
        assert_eq!(parse_seconds("1min", 1.0), Some(60.0));
        assert_eq!(parse_seconds("soon", 1.0), None);
        assert_eq!(parse_count("1_000"), Some(1000));
        assert_eq!(parse_count("1e6"), Some(1_000_000));
        assert_eq!(parse_count("1.5"), None);
        assert_eq!(parse_number("1_000.5"), Some(1000.5));
        assert!(is_unlimited("Unlimited") && !is_unlimited("10"));
    }

    #[test]
    fn memory_estimates_refuse_what_does_not_fit() {
        let m = MemoryEstimate::new("clients", 1_000_000, "client", 48, 16 << 20);
        assert_eq!(m.total_bytes, 48_000_000 + (16 << 20));
        assert!(m.check(None).is_ok());
        assert!(m.check(Some(1 << 30)).is_ok());
        let err = m.check(Some(10 << 20)).expect_err("too big");
        let msg = err.to_string();
        assert!(msg.contains("--clients 1000000") && msg.contains("48 bytes per client"));
        assert!(msg.contains("use fewer clients"), "{msg}");
    }
}

//! `SimError`: every way a simulation request can fail, as one-line messages.
//!
//! Parameter parsing and validation ([`super::scenarios`], [`super::registry`]), the
//! CLI front end (`crate::cli::simulate`) and the renderers (`crate::output`) all
//! return these; the binary's `main` only prints them. Messages name the flag the
//! user typed and what would be accepted.

use thiserror::Error;

/// A failed simulation request.
#[derive(Debug, Error)]
pub enum SimError {
    /// The scenario name is not in the registry.
    #[error("unknown scenario {name:?}; known scenarios: {known}")]
    UnknownScenario {
        /// What was asked for.
        name: String,
        /// Comma-separated list of valid names.
        known: String,
    },

    /// A parameter name the scenario does not have.
    #[error("unknown {scenario} parameter {name:?}; known parameters: {known}")]
    UnknownParameter {
        /// The scenario.
        scenario: &'static str,
        /// What was asked for.
        name: String,
        /// Comma-separated list of valid names.
        known: String,
    },

    /// A value that does not parse as the parameter's type.
    #[error("invalid value {value:?} for --{param}: expected {expected}")]
    InvalidValue {
        /// The parameter (flag name without dashes).
        param: &'static str,
        /// What was given.
        value: String,
        /// What would be accepted, e.g. "a number of seconds such as 30 or 0.5".
        expected: &'static str,
    },

    /// A negative or non-finite value where zero or more is required.
    #[error("--{param} must be a finite number >= 0, got {value}")]
    MustBeNonNegative {
        /// The parameter.
        param: &'static str,
        /// What was given, as typed or printed.
        value: String,
    },

    /// Zero, a negative or a non-finite value where more than zero is required.
    #[error("--{param} must be greater than 0, got {value}")]
    MustBePositive {
        /// The parameter.
        param: &'static str,
        /// What was given.
        value: String,
    },

    /// A value above what the model supports.
    #[error("--{param} {value} is too large; the most this model supports is {max}")]
    TooLarge {
        /// The parameter.
        param: &'static str,
        /// What was given.
        value: String,
        /// The largest accepted value.
        max: String,
    },

    /// The backoff cap is below its base.
    #[error("--backoff-cap {cap_s} s must be at least --backoff-base {base_s} s")]
    CapBelowBase {
        /// The cap in seconds.
        cap_s: f64,
        /// The base in seconds.
        base_s: f64,
    },

    /// The run would stop before every client had even made its first attempt.
    #[error(
        "--horizon {horizon_s} s is shorter than --jitter {jitter_s} s: clients would still be making their first attempts when the run stops"
    )]
    HorizonTooShort {
        /// The horizon in seconds.
        horizon_s: f64,
        /// The jitter in seconds.
        jitter_s: f64,
    },

    /// The run would need more memory than the machine has available.
    #[error(
        "--{flag} {count} would need about {needed_mib} MiB ({bytes_per} bytes per {per}) but only {available_mib} MiB of memory is available; use fewer {per}s"
    )]
    TooMuchMemory {
        /// The flag that drives memory, e.g. `clients`.
        flag: &'static str,
        /// Its value.
        count: u64,
        /// One unit of it, singular, e.g. `client`.
        per: &'static str,
        /// Estimated bytes per unit.
        bytes_per: u64,
        /// Estimated total in MiB.
        needed_mib: u64,
        /// Available memory in MiB.
        available_mib: u64,
    },

    /// A value that must come after another one.
    #[error("--{param} {value} must be greater than --{other} {other_value}")]
    MustExceed {
        /// The parameter.
        param: &'static str,
        /// Its value, with unit.
        value: String,
        /// The parameter it must exceed.
        other: &'static str,
        /// That parameter's value, with unit.
        other_value: String,
    },

    /// A parameter that only makes sense together with another one.
    #[error("--{param} {value} needs {needs}")]
    Requires {
        /// The parameter.
        param: &'static str,
        /// Its value.
        value: String,
        /// What it needs, e.g. "--fail-at (a server must fail before it can recover)".
        needs: &'static str,
    },

    /// A value below what the model supports.
    #[error("--{param} {value} is too small; {why}")]
    TooSmall {
        /// The parameter.
        param: &'static str,
        /// What was given.
        value: String,
        /// What would be accepted and why.
        why: String,
    },

    /// A malformed `--compare` specification.
    #[error("invalid --compare {spec:?}: {reason}")]
    BadCompare {
        /// What was given.
        spec: String,
        /// What is wrong with it.
        reason: String,
    },

    /// Writing an output file failed.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file.
        path: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    /// Writing to the output stream failed.
    #[error("cannot write the report: {0}")]
    Output(#[from] std::io::Error),

    /// Drawing a chart failed.
    #[error("cannot draw the chart: {0}")]
    Plot(String),

    /// JSON encoding failed.
    #[error("cannot encode the report as JSON: {0}")]
    Json(#[from] serde_json::Error),

    /// A live (loopback) run could not start or was refused (`--live`).
    #[error(transparent)]
    Live(#[from] crate::live::LiveError),
}

//! Deterministic discrete-event simulation of real-time-web failure modes.
//!
//! Module map:
//! - [`time`] - virtual time (`SimTime`, `SimDuration`, integer nanoseconds);
//! - [`rng`] - the run's one seeded, portable RNG;
//! - [`queue`] - the pending-event set (a ladder queue, ties in insertion order);
//! - [`engine`] - clock + queue + RNG + recorder, and the `Simulation` `step()`/`run()` driver;
//! - [`recorder`] - fixed-interval series, latency histograms, counters;
//! - [`scenario`] - the `Scenario` trait every model implements;
//! - [`spec`] - the `ScenarioSpec` trait every model's configuration implements
//!   (set/get by name, validation, memory estimate, build), shared value parsing;
//! - [`scenarios`] - the models (`herd`);
//! - [`report`] - the `Report` every output and view consumes (model or live backend);
//! - [`registry`] - scenario names, parameters, metric names, `run_by_name`;
//! - [`runner`] - generic over `ScenarioSpec`: validation against the machine,
//!   wall-time measurement, `--compare`;
//! - [`error`] - `SimError`.
//!
//! Data flows one way: a scenario runs on the engine, the recorder collects, the
//! runner shapes a `Report`, and `crate::output` / the TUI render it.

pub(crate) mod chunks;
pub mod engine;
pub mod error;
pub mod queue;
pub mod recorder;
pub mod registry;
pub mod report;
pub mod rng;
pub mod runner;
pub mod scenario;
pub mod scenarios;
pub mod spec;
pub mod time;

pub use error::SimError;
pub use registry::{metric_names, run_by_name, scenario_names};
pub use report::{Backend, Comparison, Metric, Parameter, Report, Series};

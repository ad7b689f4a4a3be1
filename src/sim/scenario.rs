//! The `Scenario` trait: what a model must provide to run on the engine.
//!
//! A scenario describes itself (registry name, parameters, horizon), schedules its
//! first events in [`Scenario::init`], reacts to each event in
//! [`Scenario::handle`] through the [`Engine`] it is lent (clock, scheduling, RNG,
//! recorder), and reports its summary metrics in [`Scenario::finish`].
//! [`super::engine::Simulation`] drives it; [`super::scenarios`] holds the models
//! and [`super::registry`] lists them by name.

use super::engine::Engine;
use super::report::{Metric, Parameter};
use super::time::SimTime;

/// What a scenario hands back when the run ends.
#[derive(Debug, Clone)]
pub struct Finish {
    /// Summary metrics in display order, with stable names and units.
    pub metrics: Vec<Metric>,
    /// The instant the run really ended (e.g. when the last client connected), at
    /// most the horizon; the report's series stop there.
    pub end: SimTime,
}

/// A model that runs on the discrete-event engine.
///
/// Events are small `Copy` values (at most 8 bytes keeps a queue entry at 16
/// bytes): an enum carrying `u32` indices into the scenario's struct-of-arrays
/// state, or, like the herd's, the entity's whole packed state. The hot path
/// never allocates.
pub trait Scenario {
    /// The scenario's event type.
    type Event: Copy;

    /// The registry name, e.g. `herd`.
    fn name(&self) -> &'static str;

    /// The parameters, as the user would write them, for the report.
    fn parameters(&self) -> Vec<Parameter>;

    /// No event after this instant runs.
    fn horizon(&self) -> SimTime;

    /// Registers series and counters and schedules the first events.
    fn init(&mut self, engine: &mut Engine<Self::Event>);

    /// Reacts to one event at `engine.now()`.
    fn handle(&mut self, engine: &mut Engine<Self::Event>, event: Self::Event);

    /// True when nothing more can happen that the report cares about; the run then
    /// stops even if events are pending. Checked after every event.
    #[inline]
    fn is_finished(&self) -> bool {
        false
    }

    /// Computes the summary metrics at the end of the run.
    fn finish(&mut self, engine: &mut Engine<Self::Event>) -> Finish;
}

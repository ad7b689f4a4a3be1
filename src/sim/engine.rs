//! The discrete-event engine: a virtual clock, the pending-event queue, the run's
//! seeded RNG and its recorder, plus the `step()`/`run()` driver.
//!
//! [`Engine`] is what a scenario's handlers see: `now()`, `schedule_at()`,
//! `rng()` and `rec` (the [`Recorder`]). [`Simulation`] owns a scenario
//! ([`super::scenario::Scenario`]) and an engine and drives them, in the shape of
//! turmoil's `Sim`: [`Simulation::step`] processes one event, [`Simulation::run`]
//! runs to the end and returns a [`RunOutcome`] that [`super::report`] turns into a
//! `Report`.
//!
//! Guarantees: time is integer nanoseconds ([`SimTime`]); events at equal times run
//! in the order they were scheduled; all randomness comes from one [`SimRng`]
//! seeded per run; nothing here reads the wall clock, spawns threads or allocates
//! per event (events are `Copy` and the queue reuses its buffers). The same seed
//! and parameters therefore replay the same run, event for event.

use super::queue::EventQueue;
use super::recorder::{Recorded, Recorder};
use super::report::{Metric, Parameter};
use super::rng::SimRng;
use super::scenario::{Finish, Scenario};
use super::time::{SimDuration, SimTime};

/// Clock, event queue, RNG and recorder of one run.
#[derive(Debug)]
pub struct Engine<E> {
    now: SimTime,
    horizon: SimTime,
    queue: EventQueue<E>,
    rng: SimRng,
    processed: u64,
    /// The run's measurements.
    pub rec: Recorder,
}

impl<E: Copy> Engine<E> {
    /// A fresh engine at time zero that will not run events after `horizon`.
    pub fn new(seed: u64, horizon: SimTime) -> Self {
        Self {
            now: SimTime::ZERO,
            horizon,
            queue: EventQueue::new(),
            rng: SimRng::seed_from(seed),
            processed: 0,
            rec: Recorder::new(horizon),
        }
    }

    /// The current virtual time.
    #[inline]
    pub fn now(&self) -> SimTime {
        self.now
    }

    /// The last instant at which events still run.
    #[inline]
    pub fn horizon(&self) -> SimTime {
        self.horizon
    }

    /// The run's random-number generator.
    #[inline]
    pub fn rng(&mut self) -> &mut SimRng {
        &mut self.rng
    }

    /// Schedules `event` at `at`; a time in the past is treated as "now".
    #[inline]
    pub fn schedule_at(&mut self, at: SimTime, event: E) {
        debug_assert!(
            at >= self.now,
            "scheduled in the past: {at:?} < {:?}",
            self.now
        );
        self.queue.push(at.max(self.now), event);
    }

    /// Schedules `event` after `delay` from now.
    #[inline]
    pub fn schedule_in(&mut self, delay: SimDuration, event: E) {
        self.queue.push(self.now + delay, event);
    }

    /// Number of events waiting to run (including any past the horizon).
    #[inline]
    pub fn pending(&self) -> usize {
        self.queue.len()
    }

    /// Number of events run so far.
    #[inline]
    pub fn events_processed(&self) -> u64 {
        self.processed
    }

    /// Declares that the event being handled stood for `n` model events (a
    /// scenario that runs a batch of its own events per engine event, like the
    /// herd's wheel buckets), so `events_processed` counts model events.
    #[inline]
    pub fn counts_as(&mut self, n: u64) {
        self.processed = (self.processed + n).saturating_sub(1);
    }

    /// Removes the next event due at or before the horizon and advances the clock
    /// to it; `None` when none is left (the clock then rests at the horizon if an
    /// event lies beyond it, else at the last event).
    #[inline]
    pub fn next_event(&mut self) -> Option<E> {
        let entry = self.queue.pop()?;
        if entry.time > self.horizon {
            self.queue.unpop(entry);
            self.now = self.horizon;
            return None;
        }
        self.now = entry.time;
        self.processed += 1;
        Some(entry.event)
    }
}

/// Where a run is, for progress bars: virtual time against the horizon.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Progress {
    /// Current virtual time.
    pub now: SimTime,
    /// The run's horizon.
    pub horizon: SimTime,
    /// Events run so far.
    pub events: u64,
}

/// Everything a finished run produced, before it is shaped into a `Report`.
#[derive(Debug, Clone)]
pub struct RunOutcome {
    /// The scenario's registry name.
    pub scenario: &'static str,
    /// The parameters as the user would write them.
    pub parameters: Vec<Parameter>,
    /// The RNG seed.
    pub seed: u64,
    /// Summary metrics, in the scenario's order.
    pub metrics: Vec<Metric>,
    /// Time series and counters at base resolution.
    pub recorded: Recorded,
    /// Events the engine ran.
    pub events_processed: u64,
    /// The instant the run ended (all done, or the horizon).
    pub end: SimTime,
    /// The horizon it was given.
    pub horizon: SimTime,
}

/// A scenario and its engine: the deterministic run loop.
#[derive(Debug)]
pub struct Simulation<S: Scenario> {
    scenario: S,
    engine: Engine<S::Event>,
    seed: u64,
    done: bool,
}

/// How many events between two progress callbacks.
const PROGRESS_EVERY: u64 = 1 << 18;

impl<S: Scenario> Simulation<S> {
    /// Sets up the run: creates the engine and lets the scenario schedule its
    /// first events.
    pub fn new(mut scenario: S, seed: u64) -> Self {
        let mut engine = Engine::new(seed, scenario.horizon());
        scenario.init(&mut engine);
        Self {
            scenario,
            engine,
            seed,
            done: false,
        }
    }

    /// The engine, for inspection (tests, progress).
    pub fn engine(&self) -> &Engine<S::Event> {
        &self.engine
    }

    /// The scenario, for inspection.
    pub fn scenario(&self) -> &S {
        &self.scenario
    }

    /// Current virtual time.
    pub fn now(&self) -> SimTime {
        self.engine.now()
    }

    /// Runs one event. Returns `false` once the run is over (no event left before
    /// the horizon, or the scenario says it is finished).
    pub fn step(&mut self) -> bool {
        if self.done {
            return false;
        }
        match self.engine.next_event() {
            Some(ev) => {
                self.scenario.handle(&mut self.engine, ev);
                if self.scenario.is_finished() {
                    self.done = true;
                }
                true
            }
            None => {
                self.done = true;
                false
            }
        }
    }

    /// Runs to the end and returns the outcome.
    pub fn run(self) -> RunOutcome {
        self.run_with_progress(&mut |_| {})
    }

    /// Runs to the end, calling `progress` every few hundred thousand events.
    pub fn run_with_progress(mut self, progress: &mut dyn FnMut(Progress)) -> RunOutcome {
        let mut next_progress = PROGRESS_EVERY;
        while !self.done {
            match self.engine.next_event() {
                Some(ev) => {
                    self.scenario.handle(&mut self.engine, ev);
                    if self.scenario.is_finished() {
                        self.done = true;
                    }
                    if self.engine.processed >= next_progress {
                        next_progress = self.engine.processed + PROGRESS_EVERY;
                        progress(Progress {
                            now: self.engine.now,
                            horizon: self.engine.horizon,
                            events: self.engine.processed,
                        });
                    }
                }
                None => self.done = true,
            }
        }
        self.finish()
    }

    /// Ends the run where it is and collects the outcome.
    pub fn finish(mut self) -> RunOutcome {
        let Finish { metrics, end } = self.scenario.finish(&mut self.engine);
        let end = end.min(self.engine.horizon);
        let Engine {
            rec,
            processed,
            horizon,
            ..
        } = self.engine;
        RunOutcome {
            scenario: self.scenario.name(),
            parameters: self.scenario.parameters(),
            seed: self.seed,
            metrics,
            recorded: rec.finish(end),
            events_processed: processed,
            end,
            horizon,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::recorder::SeriesKind;
    use crate::sim::report::Metric;

    /// A ping-pong scenario: `n` tokens each hop every 1 ms until the horizon.
    struct Hops {
        n: u32,
        horizon: SimTime,
        seen: Vec<(u64, u32)>,
    }

    impl Scenario for Hops {
        type Event = u32;
        fn name(&self) -> &'static str {
            "hops"
        }
        fn parameters(&self) -> Vec<Parameter> {
            vec![Parameter::new("n", self.n.to_string(), "")]
        }
        fn horizon(&self) -> SimTime {
            self.horizon
        }
        fn init(&mut self, eng: &mut Engine<u32>) {
            let s = eng.rec.add_series("hops", "1/s", "hops", SeriesKind::Rate);
            assert_eq!(format!("{s:?}"), "SeriesId(0)");
            for i in 0..self.n {
                eng.schedule_at(SimTime::ZERO, i);
            }
        }
        fn handle(&mut self, eng: &mut Engine<u32>, ev: u32) {
            self.seen.push((eng.now().as_nanos(), ev));
            let jitter = eng.rng().below(3);
            eng.schedule_in(SimDuration::from_millis(1 + jitter), ev);
        }
        fn finish(&mut self, eng: &mut Engine<u32>) -> Finish {
            Finish {
                metrics: vec![Metric::new(
                    "pending",
                    Some(eng.pending() as f64),
                    "events",
                    "",
                )],
                end: eng.horizon(),
            }
        }
    }

    #[test]
    fn equal_times_run_in_scheduling_order_and_stop_at_the_horizon() {
        let h = Hops {
            n: 3,
            horizon: SimTime(1_000_000),
            seen: Vec::new(),
        };
        let mut sim = Simulation::new(h, 1);
        while sim.step() {}
        let seen = &sim.scenario().seen;
        assert_eq!(&seen[..3], &[(0, 0), (0, 1), (0, 2)]);
        // Every event ran at or before the 1 ms horizon.
        assert!(seen.iter().all(|&(t, _)| t <= 1_000_000));
        assert_eq!(sim.now(), SimTime(1_000_000));
        assert_eq!(sim.engine().pending(), 3);
        assert!(!sim.step());
    }

    #[test]
    fn same_seed_replays_event_for_event() {
        let run = |seed| {
            let h = Hops {
                n: 50,
                horizon: SimTime(50_000_000),
                seen: Vec::new(),
            };
            let mut sim = Simulation::new(h, seed);
            while sim.step() {}
            sim.scenario().seen.clone()
        };
        assert_eq!(run(9), run(9));
        assert_ne!(run(9), run(10));
    }

    #[test]
    fn run_reports_events_and_progress() {
        let h = Hops {
            n: 1000,
            horizon: SimTime(1_000_000_000),
            seen: Vec::new(),
        };
        let mut calls = 0;
        let out = Simulation::new(h, 3).run_with_progress(&mut |p| {
            calls += 1;
            assert!(p.now <= p.horizon);
        });
        assert!(out.events_processed > 300_000);
        assert!(calls >= 1);
        assert_eq!(out.scenario, "hops");
        assert_eq!(out.end, SimTime(1_000_000_000));
    }
}

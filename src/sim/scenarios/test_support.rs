//! Helpers shared by the scenarios' tests: build a configuration the way the
//! CLI does, run it, read its metrics, and check the quiz's predict items.

use crate::content::catalog::Catalog;
use crate::learn::quiz::{ItemBody, parse_quiz_bank};
use crate::sim::engine::Simulation;
use crate::sim::report::Report;
use crate::sim::spec::ScenarioSpec;

/// The defaults with `(name, value)` pairs set as the CLI sets them.
pub fn cfg<S: ScenarioSpec>(pairs: &[(&str, &str)]) -> S {
    let mut c = S::default();
    for (k, v) in pairs {
        c.set(k, v).expect("valid test parameter");
    }
    c
}

/// Builds the model and runs it to the end with `seed`.
pub fn run<S: ScenarioSpec>(c: &S, seed: u64) -> Report {
    let model = c.build().expect("valid config");
    Report::from_outcome(&Simulation::new(model, seed).run())
}

/// A summary metric that must be defined.
pub fn metric(r: &Report, name: &str) -> f64 {
    r.metric_value(name)
        .unwrap_or_else(|| panic!("metric {name} is undefined"))
}

/// |got - want| / |want|.
pub fn rel_err(got: f64, want: f64) -> f64 {
    (got - want).abs() / want.abs()
}

/// Every predict item of `scenario` in the embedded quiz banks, run as the quiz
/// runs it (the registry, seed 7), lands within the item's own tolerance of the
/// value its explanation teaches (`taught`: item id, value); and every such
/// item is listed there.
pub fn check_taught_predictions(scenario: &str, taught: &[(&str, f64)]) {
    let catalog = Catalog::load(&[]).expect("embedded content loads");
    let mut seen = 0;
    for file in catalog.quiz_files() {
        let bank = parse_quiz_bank(&file.path, &file.text).expect("valid bank");
        for item in &bank.items {
            let ItemBody::Predict(p) = &item.body else {
                continue;
            };
            if p.scenario != scenario {
                continue;
            }
            let r = crate::sim::registry::run_by_name(scenario, &p.params, 7).expect("runs");
            let got = metric(&r, &p.metric);
            let (_, want) = taught
                .iter()
                .find(|(id, _)| *id == item.id)
                .unwrap_or_else(|| panic!("add {} to the taught values", item.id));
            assert!(
                p.tolerance.accepts(got, *want),
                "{}: model {got}, taught {want}",
                item.id
            );
            seen += 1;
        }
    }
    assert_eq!(seen, taught.len());
}

//! `swelearn content lint`: checks cards and quiz banks and reports every problem as
//! `file:line: message`.
//!
//! Card problems come from the parser and the catalog's cross-card checks; quiz banks
//! are checked by the quiz module against the catalog's card ids.

use super::card::Problem;
use super::catalog::{Catalog, ContentError, ContentFile};
use crate::learn::quiz::{QuizBank, QuizProblem, check_unique_ids};
use crate::sim::{SimError, registry};
use std::path::PathBuf;

/// What a lint run found.
#[derive(Debug, Default)]
pub struct LintReport {
    pub cards: usize,
    pub quiz_files: usize,
    pub problems: Vec<Problem>,
}

impl LintReport {
    pub fn is_clean(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Lints the given directories; with none, the embedded content plus `config_dirs`.
pub fn lint(dirs: &[PathBuf], config_dirs: &[PathBuf]) -> Result<LintReport, ContentError> {
    let (catalog, extra_known) = if dirs.is_empty() {
        (Catalog::load(config_dirs)?, Vec::new())
    } else {
        let (mut catalog, embedded) = Catalog::load_dirs(dirs)?;
        catalog.recheck_with(&embedded);
        (catalog, embedded)
    };
    Ok(lint_catalog(&catalog, &extra_known))
}

/// Lints an already loaded catalog; `extra_known` ids exist outside it.
pub fn lint_catalog(catalog: &Catalog, extra_known: &[String]) -> LintReport {
    let mut problems = catalog.problems().to_vec();
    let known = |id: &str| catalog.get(id).is_some() || extra_known.iter().any(|k| k == id);
    let banks: Vec<QuizBank> = catalog
        .quiz_files()
        .iter()
        .map(|file| lint_quiz_file(file, &known, &mut problems))
        .collect();
    problems.extend(check_unique_ids(&banks).into_iter().map(from_quiz));
    problems.sort_by(|a, b| (&a.path, a.line).cmp(&(&b.path, b.line)));
    problems.dedup();
    LintReport {
        cards: catalog.cards().len(),
        quiz_files: catalog.quiz_files().len(),
        problems,
    }
}

/// The simulation registry, as the quiz checker sees it.
pub struct Scenarios;

impl crate::learn::quiz::SimCatalog for Scenarios {
    fn has_scenario(&self, scenario: &str) -> bool {
        registry::scenario(scenario).is_some()
    }
    fn has_metric(&self, scenario: &str, metric: &str) -> bool {
        registry::has_metric(scenario, metric)
    }
    fn scenario_names(&self) -> Vec<String> {
        registry::scenario_names()
            .into_iter()
            .map(String::from)
            .collect()
    }
    fn check_param(&self, scenario: &str, name: &str, value: &str) -> Result<(), String> {
        match registry::check_param(scenario, name, value) {
            // An unknown scenario is reported once, by `has_scenario`.
            Err(SimError::UnknownScenario { .. }) | Ok(()) => Ok(()),
            Err(SimError::UnknownParameter { known, .. }) => {
                Err(format!("unknown parameter `{name}` (known: {known})"))
            }
            Err(e) => Err(e.to_string()),
        }
    }
}

/// Parses and validates one quiz bank; returns the bank (for cross-bank checks).
fn lint_quiz_file(
    file: &ContentFile,
    known_card: &dyn Fn(&str) -> bool,
    problems: &mut Vec<Problem>,
) -> QuizBank {
    let (bank, found) =
        crate::learn::quiz::lint_quiz_bank(&file.path, &file.text, known_card, &Scenarios);
    problems.extend(found.into_iter().map(from_quiz));
    bank
}

fn from_quiz(p: QuizProblem) -> Problem {
    Problem {
        path: p.file,
        line: p.line,
        message: p.message,
    }
}

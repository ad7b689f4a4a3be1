//! `swelearn content lint`: checks cards and quiz banks and reports every problem as
//! `file:line: message`.
//!
//! Card problems come from the parser and the catalog's cross-card checks; quiz banks
//! are checked by the quiz module against the catalog's card ids.

use super::card::Problem;
use super::catalog::{Catalog, ContentError, ContentFile};
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
    for file in catalog.quiz_files() {
        problems.extend(lint_quiz_file(file, &known));
    }
    problems.sort_by(|a, b| (&a.path, a.line).cmp(&(&b.path, b.line)));
    problems.dedup();
    LintReport {
        cards: catalog.cards().len(),
        quiz_files: catalog.quiz_files().len(),
        problems,
    }
}

/// Checks that a quiz bank is YAML whose `card` names a known card.
fn lint_quiz_file(file: &ContentFile, known_card: &dyn Fn(&str) -> bool) -> Vec<Problem> {
    let problem = |line: usize, message: String| Problem {
        path: file.path.clone(),
        line,
        message,
    };
    let value: serde_yaml_ng::Value = match serde_yaml_ng::from_str(&file.text) {
        Ok(v) => v,
        Err(e) => {
            let line = e.location().map_or(1, |l| l.line());
            return vec![problem(line, format!("malformed YAML: {e}"))];
        }
    };
    let card_line = file
        .text
        .lines()
        .position(|l| l.starts_with("card:"))
        .map_or(1, |i| i + 1);
    match value.get("card").and_then(|v| v.as_str()) {
        Some(id) if known_card(id) => Vec::new(),
        Some(id) => vec![problem(
            card_line,
            format!("quiz bank for unknown card `{id}`"),
        )],
        None => vec![problem(
            1,
            "missing field `card` (the id of the card this bank belongs to)".into(),
        )],
    }
}

//! The embedded content pack: every card has the required sections and sources, its
//! diagrams fit an 80-column terminal, and the pack forms a learning order.

use swelearn::content::Catalog;
use swelearn::content::layout::{Role, layout};
use swelearn::content::markdown::{Block, parse};

const SECTIONS: [&str; 4] = [
    "Overview",
    "When to Use",
    "Trade-offs & Gotchas",
    "Key Points for Interviews",
];

fn embedded() -> Catalog {
    Catalog::load(&[]).expect("embedded content loads")
}

#[test]
fn every_card_has_the_sections_in_order_and_names_sources() {
    let catalog = embedded();
    for card in catalog.cards() {
        let headings: Vec<String> = parse(&card.body)
            .iter()
            .filter_map(|b| match b {
                Block::Heading { level: 2, content } => {
                    Some(content.iter().map(|i| i.text.as_str()).collect())
                }
                _ => None,
            })
            .collect();
        let positions: Vec<Option<usize>> = SECTIONS
            .iter()
            .map(|s| headings.iter().position(|h| h == s))
            .collect();
        assert!(
            positions.iter().all(Option::is_some),
            "{}: sections {headings:?}",
            card.id
        );
        assert!(
            positions.windows(2).all(|w| w[0] < w[1]),
            "{}: sections out of order {headings:?}",
            card.id
        );
        assert!(!card.sources.is_empty(), "{} has no sources", card.id);
    }
}

#[test]
fn diagrams_render_intact_in_an_80_column_terminal() {
    // The reader at 80 columns leaves 76 for text; a code line that does not fit would
    // continue on a `↪` line, which breaks an ASCII diagram.
    for card in embedded().cards() {
        for line in layout(&parse(&card.body), 76) {
            let split = line
                .spans
                .iter()
                .any(|s| s.style.role == Role::Marker && s.text.starts_with('↪'));
            assert!(
                !split,
                "{}: code line wider than 76 columns: {}",
                card.id,
                line.text()
            );
        }
    }
}

#[test]
fn the_pack_is_large_enough_and_its_order_respects_prerequisites() {
    let catalog = embedded();
    assert!(
        catalog.cards().len() >= 24,
        "{} cards",
        catalog.cards().len()
    );
    for (i, card) in catalog.cards().iter().enumerate() {
        for p in &card.prerequisites {
            let j = catalog
                .cards()
                .iter()
                .position(|c| &c.id == p)
                .expect("known prerequisite");
            assert!(j < i, "{} comes before its prerequisite {p}", card.id);
        }
    }
}

#[test]
fn every_card_has_a_valid_quiz_bank_of_at_least_eight_items() {
    use swelearn::learn::quiz::{ItemKind, parse_quiz_bank};
    let catalog = embedded();
    let report = swelearn::content::lint::lint_catalog(&catalog, &[]);
    let problems: Vec<String> = report.problems.iter().map(ToString::to_string).collect();
    assert!(problems.is_empty(), "{problems:#?}");
    for card in catalog.cards() {
        let file = catalog
            .quiz_files()
            .iter()
            .find(|f| f.path.ends_with(&format!("/{}.quiz.yaml", card.id)))
            .unwrap_or_else(|| panic!("{} has no quiz bank", card.id));
        let bank = parse_quiz_bank(&file.path, &file.text).expect("valid bank");
        assert_eq!(bank.card, card.id);
        assert!(
            bank.items.len() >= 8,
            "{}: {} items",
            card.id,
            bank.items.len()
        );
        let kinds: std::collections::HashSet<ItemKind> =
            bank.items.iter().map(|i| i.kind()).collect();
        assert!(kinds.len() >= 4, "{}: only {kinds:?}", card.id);
    }
}

#[test]
fn numeric_templates_give_finite_positive_answers_over_many_draws() {
    // Every numeric item is presented with 200 seeds: each draw must substitute all
    // placeholders and evaluate to a finite answer (the back-of-envelope estimates
    // are all positive quantities).
    use swelearn::learn::grade::{Question, present};
    use swelearn::learn::quiz::parse_quiz_bank;
    let catalog = embedded();
    let mut checked = 0;
    for file in catalog.quiz_files() {
        let bank = parse_quiz_bank(&file.path, &file.text).expect("valid bank");
        for item in &bank.items {
            for seed in 0..200 {
                let p = present(item, seed).unwrap_or_else(|e| panic!("{}: {e}", item.id));
                if let Question::Numeric { answer, .. } = p.question {
                    assert!(
                        !has_placeholder(&p.prompt),
                        "{}: unfilled placeholder in {}",
                        item.id,
                        p.prompt
                    );
                    assert!(
                        answer.is_finite() && answer > 0.0,
                        "{} seed {seed}: {answer}",
                        item.id
                    );
                    checked += 1;
                }
            }
        }
    }
    assert!(checked > 0);
}

#[test]
fn every_predict_item_runs_and_defines_its_metric() {
    // The content pack's predict items point at real scenarios: each runs with
    // its parameters (at the seed practice uses) and reports a finite value
    // for the metric it asks about.
    use swelearn::learn::quiz::{ItemBody, parse_quiz_bank};
    let catalog = embedded();
    let mut ran = Vec::new();
    for file in catalog.quiz_files() {
        let bank = parse_quiz_bank(&file.path, &file.text).expect("valid bank");
        for item in &bank.items {
            let ItemBody::Predict(p) = &item.body else {
                continue;
            };
            let report = swelearn::sim::run_by_name(&p.scenario, &p.params, 7)
                .unwrap_or_else(|e| panic!("{}: {e}", item.id));
            let value = report
                .metric_value(&p.metric)
                .unwrap_or_else(|| panic!("{}: {} undefined", item.id, p.metric));
            assert!(value.is_finite(), "{}: {value}", item.id);
            ran.push(p.scenario.clone());
        }
    }
    for scenario in ["herd", "balance", "backpressure", "chat"] {
        assert!(
            ran.iter().any(|s| s == scenario),
            "no predict item for {scenario}"
        );
    }
}

/// True when `text` still holds a `{name}` template placeholder.
fn has_placeholder(text: &str) -> bool {
    text.split('{').skip(1).any(|rest| {
        rest.split_once('}').is_some_and(|(name, _)| {
            !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        })
    })
}

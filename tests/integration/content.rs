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

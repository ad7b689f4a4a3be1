//! Start-up work of `swelearn list` and `swelearn study ID --plain`, in-process: load
//! the embedded catalog (parse every card's frontmatter), then lay out one card.
//! The whole-process figures (hyperfine) are in BENCHMARKS.md.

use swelearn::content::Catalog;
use swelearn::output::plain::card_lines;

fn main() {
    divan::main();
}

#[divan::bench]
fn load_embedded_catalog() -> usize {
    Catalog::load(&[]).map(|c| c.cards().len()).unwrap_or(0)
}

#[divan::bench]
fn layout_longest_card_at_80_columns(bencher: divan::Bencher) {
    let catalog = Catalog::load(&[]).ok();
    let card = catalog
        .as_ref()
        .and_then(|c| c.cards().iter().max_by_key(|c| c.body.len()));
    bencher.bench(|| card.map(|c| card_lines(c, 80).len()));
}

#[divan::bench]
fn search_the_catalog(bencher: divan::Bencher) {
    let catalog = Catalog::load(&[]).unwrap_or_default();
    bencher.bench(|| swelearn::content::search::search(&catalog, "backoff jitter").len());
}

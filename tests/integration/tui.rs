//! The study reader rendered into ratatui's TestBackend at 80x24 and 120x40 and
//! snapshot-tested with insta: the list, the reader with a table and a code block,
//! the text filter and the help overlay. Fixture cards keep the snapshots stable.

use super::fixture;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use std::collections::HashSet;
use swelearn::content::Catalog;
use swelearn::tui::app::{Action, App, Focus};
use swelearn::tui::view::render;

fn catalog() -> Catalog {
    Catalog::load_dirs(&[fixture("cards")])
        .expect("fixtures load")
        .0
}

fn draw(app: &App, w: u16, h: u16) -> String {
    let mut terminal = Terminal::new(TestBackend::new(w, h)).expect("terminal");
    terminal.draw(|f| render(app, f)).expect("draw");
    let buf = terminal.backend().buffer();
    let mut out = String::new();
    for y in 0..h {
        let mut line = String::new();
        for x in 0..w {
            line.push_str(buf[(x, y)].symbol());
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

fn app(catalog: &Catalog, w: u16, h: u16) -> App<'_> {
    let read: HashSet<String> = ["alpha".to_string()].into();
    App::new(catalog, read, (w, h))
}

#[test]
fn list_80x24() {
    let c = catalog();
    insta::assert_snapshot!(draw(&app(&c, 80, 24), 80, 24));
}

#[test]
fn list_and_reader_side_by_side_120x40() {
    let c = catalog();
    let mut a = app(&c, 120, 40);
    a.update(Action::Move(1));
    a.update(Action::Open);
    insta::assert_snapshot!(draw(&a, 120, 40));
}

#[test]
fn reader_with_table_and_code_80x24() {
    let c = catalog();
    let mut a = app(&c, 80, 24);
    a.open_id("beta");
    assert_eq!(a.focus, Focus::Reader);
    insta::assert_snapshot!(draw(&a, 80, 24));
    a.update(Action::Page(1));
    insta::assert_snapshot!("reader_with_table_and_code_80x24_page2", draw(&a, 80, 24));
}

#[test]
fn text_filter_80x24() {
    let c = catalog();
    let mut a = app(&c, 80, 24);
    a.update(Action::StartFilter);
    for ch in "scal".chars() {
        a.update(Action::FilterChar(ch));
    }
    assert_eq!(a.visible.len(), 1);
    insta::assert_snapshot!(draw(&a, 80, 24));
}

#[test]
fn help_overlay_80x24_and_120x40() {
    let c = catalog();
    let mut a = app(&c, 80, 24);
    a.update(Action::ToggleHelp);
    insta::assert_snapshot!(draw(&a, 80, 24));
    let mut a = app(&c, 120, 40);
    a.update(Action::ToggleHelp);
    insta::assert_snapshot!(draw(&a, 120, 40));
}

#[test]
fn tag_and_difficulty_filters() {
    let c = catalog();
    let mut a = app(&c, 80, 24);
    a.update(Action::PickTag);
    insta::assert_snapshot!(draw(&a, 80, 24));
    // (any tag), basics, diagrams, polling, scaling, websocket: pick "scaling".
    for _ in 0..4 {
        a.update(Action::Move(1));
    }
    a.update(Action::Open);
    assert_eq!(a.tag_filter.as_deref(), Some("scaling"));
    assert_eq!(a.visible.len(), 1);
    a.update(Action::ClearFilters);
    a.update(Action::CycleDifficulty);
    a.update(Action::CycleDifficulty);
    assert_eq!(a.visible.len(), 1, "only beta is medium");
}

#[test]
fn resize_keeps_the_reader_usable_and_back_returns_to_the_list() {
    let c = catalog();
    let mut a = app(&c, 120, 40);
    a.open_id("beta");
    a.update(Action::Resize(80, 24));
    let screen = draw(&a, 80, 24);
    assert!(screen.contains("Opcode"), "{screen}");
    a.update(Action::Back);
    assert_eq!(a.focus, Focus::List);
    let screen = draw(&a, 80, 24);
    assert!(screen.contains("Topics"), "{screen}");
}

#[test]
fn opening_marks_read_and_m_toggles() {
    let c = catalog();
    let mut a = app(&c, 80, 24);
    a.open_id("gamma");
    assert!(a.read.contains("gamma"));
    a.update(Action::ToggleRead);
    assert!(!a.read.contains("gamma"));
    assert_eq!(
        a.changed_marks,
        [("gamma".to_string(), true), ("gamma".to_string(), false)]
    );
}

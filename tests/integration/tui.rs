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
    buffer_text(terminal.backend().buffer(), w, h)
}

/// The screen as text, trailing spaces trimmed.
pub fn buffer_text(buf: &ratatui::buffer::Buffer, w: u16, h: u16) -> String {
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

mod sim_playback {
    //! The simulation playback view on a small, fixed herd run.
    use super::*;
    use swelearn::sim::run_by_name;
    use swelearn::tui::sim::{SimAction, SimApp, render};

    fn report(jitter: &str) -> swelearn::sim::Report {
        let params = [
            ("clients".to_string(), "2000".to_string()),
            ("jitter".to_string(), jitter.to_string()),
        ];
        run_by_name("herd", &params, 7)
            .expect("herd runs")
            .without_wall_time()
    }

    fn draw(app: &SimApp, w: u16, h: u16) -> String {
        let mut terminal = Terminal::new(TestBackend::new(w, h)).expect("terminal");
        terminal.draw(|f| render(app, f)).expect("draw");
        super::buffer_text(terminal.backend().buffer(), w, h)
    }

    #[test]
    fn playback_halfway_and_at_the_end_80x24() {
        let r = report("1");
        let mut app = SimApp::new(vec![("herd".into(), &r)]);
        app.update(SimAction::TogglePlay);
        let half = app.points() as i32 / 2;
        app.update(SimAction::Step(half));
        assert!(!app.playing, "stepping pauses");
        insta::assert_snapshot!(draw(&app, 80, 24));
        app.update(SimAction::End);
        let end = draw(&app, 80, 24);
        assert!(end.contains("2,000 / 2,000 connected"), "{end}");
        insta::assert_snapshot!("playback_end_80x24", end);
    }

    #[test]
    fn compare_overlays_variants_120x40() {
        let a = report("0");
        let b = report("1");
        let mut app = SimApp::new(vec![("jitter=0".into(), &a), ("jitter=1".into(), &b)]);
        app.update(SimAction::End);
        app.update(SimAction::NextSeries(2));
        let screen = draw(&app, 120, 40);
        assert!(
            screen.contains("jitter=0") && screen.contains("jitter=1"),
            "{screen}"
        );
        insta::assert_snapshot!(screen);
    }

    #[test]
    fn every_scenario_plays_back_and_compares() {
        // The playback view is generic over reports: each scenario's run and a
        // three-way comparison draw at 80x24 and 120x40 without losing labels.
        let p = |k: &str, v: &str| (k.to_string(), v.to_string());
        // (scenario, base parameters, compared parameter, its values)
        type Case<'a> = (&'a str, Vec<(String, String)>, &'a str, [&'a str; 3]);
        let cases: Vec<Case> = vec![
            (
                "balance",
                vec![p("clients", "2000")],
                "policy",
                ["round-robin", "ip-hash", "consistent-hash"],
            ),
            (
                "backpressure",
                vec![p("horizon", "5")],
                "policy",
                ["unbounded", "drop-oldest", "throttle"],
            ),
            (
                "chat",
                vec![p("rooms", "100"), p("horizon", "1")],
                "broker",
                ["none", "pubsub", "pubsub"],
            ),
        ];
        for (name, base, param, values) in cases {
            let reports: Vec<swelearn::sim::Report> = values
                .iter()
                .map(|v| {
                    let mut params = base.clone();
                    params.push(p(param, v));
                    run_by_name(name, &params, 7)
                        .expect("runs")
                        .without_wall_time()
                })
                .collect();
            let mut app = SimApp::new(vec![(name.into(), &reports[0])]);
            app.update(SimAction::End);
            let screen = draw(&app, 80, 24);
            assert!(screen.contains(&format!("simulate {name}")), "{screen}");
            let runs = values
                .iter()
                .zip(&reports)
                .map(|(v, r)| (format!("{param}={v}"), r))
                .collect();
            let mut app = SimApp::new(runs);
            app.update(SimAction::End);
            app.update(SimAction::NextSeries(1));
            let screen = draw(&app, 120, 40);
            // Long `param=value` labels are shown as their values.
            assert!(screen.contains(values[1]), "{screen}");
        }
    }

    #[test]
    fn balance_policies_side_by_side_120x40() {
        let p = |k: &str, v: &str| (k.to_string(), v.to_string());
        let reports: Vec<swelearn::sim::Report> = ["round-robin", "sticky", "consistent-hash"]
            .iter()
            .map(|policy| {
                run_by_name("balance", &[p("clients", "2000"), p("policy", policy)], 7)
                    .expect("runs")
                    .without_wall_time()
            })
            .collect();
        let labels = [
            "policy=round-robin",
            "policy=ip-hash",
            "policy=consistent-hash",
        ];
        let runs = labels.iter().map(|l| l.to_string()).zip(&reports).collect();
        let mut app = SimApp::new(runs);
        app.update(SimAction::End);
        insta::assert_snapshot!(draw(&app, 120, 40));
    }

    #[test]
    fn ticks_advance_only_while_playing() {
        let r = report("1");
        let mut app = SimApp::new(vec![("herd".into(), &r)]);
        app.update(SimAction::Tick);
        let after_one = app.cursor;
        assert!(after_one > 0);
        app.update(SimAction::TogglePlay);
        app.update(SimAction::Tick);
        assert_eq!(app.cursor, after_one);
        app.update(SimAction::Speed(1));
        app.update(SimAction::TogglePlay);
        app.update(SimAction::Tick);
        assert!(app.cursor > after_one);
    }
}

//! The quiz, feedback, summary and stats screens rendered into ratatui's TestBackend
//! and snapshot-tested with insta, at 80x24 (and 120x40). The fixture quiz banks in
//! tests/fixtures/cards, a fixed clock and a temporary progress store keep the
//! snapshots stable: questions are shuffled with a seed drawn from the item id and
//! the time, so the same moment always shows the same order.

use super::fixture;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use std::collections::HashMap;
use std::time::Duration;
use swelearn::content::Catalog;
use swelearn::learn::grade::Question;
use swelearn::learn::quiz::{QuizBank, parse_quiz_bank};
use swelearn::learn::quiz_run::{PredictRun, PredictRunner, QuizRun};
use swelearn::learn::scheduler::{Rating, Scheduler};
use swelearn::learn::store::{NewReview, Store};
use swelearn::learn::time::{DAY_MS, Moment};
use swelearn::tui::quiz::QuizSession;
use swelearn::tui::quiz::app::{AnswerInput, Phase, QuizAction, QuizApp};
use swelearn::tui::stats::{StatsAction, StatsApp, StatsTab};

/// 2026-03-15T12:00:00Z.
const T0: i64 = 1_773_576_000_000;

fn draw_with(w: u16, h: u16, render: impl FnOnce(&mut ratatui::Frame)) -> String {
    let mut terminal = Terminal::new(TestBackend::new(w, h)).expect("terminal");
    terminal.draw(render).expect("draw");
    crate::tui::buffer_text(terminal.backend().buffer(), w, h)
}

fn draw(app: &QuizApp<'_>) -> String {
    let (w, h) = app.size;
    draw_with(w, h, |f| swelearn::tui::quiz::view::render(app, f))
}

/// A simulation that always reports 6.2 s.
struct Sim;

impl PredictRunner for Sim {
    fn run(&self, _: &str, _: &[(String, String)], _: &str) -> Result<PredictRun, String> {
        Ok(PredictRun {
            actual: 6.2,
            report: None,
        })
    }
}

struct Fixture {
    banks: Vec<QuizBank>,
    titles: HashMap<String, String>,
    store: Store,
    scheduler: Scheduler,
    _dir: tempfile::TempDir,
}

fn fixture_banks() -> (Vec<QuizBank>, HashMap<String, String>) {
    let catalog = Catalog::load_dirs(&[fixture("cards")])
        .expect("fixtures load")
        .0;
    let mut banks: Vec<QuizBank> = catalog
        .quiz_files()
        .iter()
        .map(|f| parse_quiz_bank(&f.path, &f.text).expect("fixture bank parses"))
        .collect();
    banks.sort_by(|a, b| a.card.cmp(&b.card));
    let titles = catalog
        .cards()
        .iter()
        .map(|c| (c.id.clone(), c.title.clone()))
        .collect();
    (banks, titles)
}

fn setup() -> Fixture {
    let dir = tempfile::tempdir().expect("tmp");
    let (banks, titles) = fixture_banks();
    Fixture {
        banks,
        titles,
        store: Store::open(&dir.path().join("progress.db")).expect("store"),
        scheduler: Scheduler::default(),
        _dir: dir,
    }
}

fn start<'a>(
    f: &'a mut Fixture,
    ids: &[&str],
    title: &str,
    time_box: Option<Duration>,
    size: (u16, u16),
) -> QuizApp<'a> {
    let ids: Vec<String> = ids.iter().map(|s| s.to_string()).collect();
    let session = QuizSession {
        run: QuizRun::new(&f.banks, &ids),
        store: &mut f.store,
        scheduler: &f.scheduler,
        predict: &Sim,
        banks: &f.banks,
        title: title.to_string(),
        time_box,
        card_titles: f.titles.clone(),
    };
    QuizApp::new(session, size, Moment::utc(T0))
}

fn tick(app: &mut QuizApp<'_>, secs: u64) {
    app.update(QuizAction::Tick {
        now: Moment::utc(T0 + secs as i64 * 1000),
        elapsed: Duration::from_secs(secs),
    });
}

fn type_text(app: &mut QuizApp<'_>, text: &str) {
    for c in text.chars() {
        app.update(QuizAction::Input(c));
    }
}

/// 1-based position of the right choice of the open choice question.
fn right_choice(app: &QuizApp<'_>) -> usize {
    match app.presented().map(|p| &p.question) {
        Some(Question::Choice { correct, .. }) => *correct,
        other => panic!("not a choice question: {other:?}"),
    }
}

#[test]
fn choice_question_80x24() {
    let mut f = setup();
    let mut a = start(
        &mut f,
        &["alpha-mean-delay", "alpha-costs"],
        "quiz · alpha",
        None,
        (80, 24),
    );
    tick(&mut a, 14);
    a.update(QuizAction::Select(1));
    insta::assert_snapshot!(draw(&a));
}

#[test]
fn choice_question_120x40() {
    let mut f = setup();
    let mut a = start(
        &mut f,
        &["alpha-mean-delay", "alpha-costs", "beta-close-opcode"],
        "practice · 15 min",
        Some(Duration::from_secs(15 * 60)),
        (120, 40),
    );
    tick(&mut a, 75);
    insta::assert_snapshot!(draw(&a));
}

#[test]
fn numeric_question_with_an_input_error_80x24() {
    let mut f = setup();
    let mut a = start(
        &mut f,
        &["alpha-requests-per-day"],
        "quiz · alpha",
        None,
        (80, 24),
    );
    type_text(&mut a, "12 thousand");
    a.update(QuizAction::Submit);
    assert!(matches!(a.phase, Phase::Question));
    insta::assert_snapshot!(draw(&a));
    drop(a);
    assert!(f.store.reviews().expect("reviews").is_empty());
}

#[test]
fn order_question_after_moving_a_step_80x24() {
    let mut f = setup();
    let mut a = start(
        &mut f,
        &["beta-handshake-order"],
        "quiz · beta",
        None,
        (80, 24),
    );
    a.update(QuizAction::Select(1));
    a.update(QuizAction::MoveStep(1));
    insta::assert_snapshot!(draw(&a));
}

#[test]
fn multi_question_with_two_picked_80x24() {
    let mut f = setup();
    let mut a = start(&mut f, &["alpha-costs"], "quiz · alpha", None, (80, 24));
    a.update(QuizAction::Number(0));
    a.update(QuizAction::Number(2));
    assert_eq!(a.response_text().as_deref(), Some("1,3"));
    insta::assert_snapshot!(draw(&a));
}

#[test]
fn feedback_after_a_wrong_choice_80x24() {
    let mut f = setup();
    let mut a = start(
        &mut f,
        &["alpha-mean-delay", "alpha-costs"],
        "quiz · alpha",
        None,
        (80, 24),
    );
    tick(&mut a, 20);
    let wrong = (right_choice(&a) + 1) % 4;
    a.update(QuizAction::Number(wrong));
    assert!(matches!(a.phase, Phase::Feedback(_)));
    insta::assert_snapshot!(draw(&a));
}

#[test]
fn recall_revealed_and_predict_feedback_80x24() {
    let mut f = setup();
    let mut a = start(
        &mut f,
        &["alpha-why-wasteful", "gamma-herd-burst"],
        "practice · 10 min",
        Some(Duration::from_secs(600)),
        (80, 24),
    );
    type_text(&mut a, "empty responses");
    a.update(QuizAction::Submit);
    assert!(matches!(
        a.input,
        AnswerInput::Recall { revealed: true, .. }
    ));
    insta::assert_snapshot!("recall_revealed_80x24", draw(&a));
    a.update(QuizAction::Rate(Rating::Hard));
    a.update(QuizAction::Next);
    tick(&mut a, 40);
    type_text(&mut a, "5");
    let follow = a.update(QuizAction::Submit);
    assert_eq!(follow, Some(QuizAction::Simulate));
    insta::assert_snapshot!("predict_simulating_80x24", draw(&a));
    a.update(QuizAction::Simulate);
    insta::assert_snapshot!("predict_feedback_80x24", draw(&a));
}

#[test]
fn summary_80x24() {
    let mut f = setup();
    let mut a = start(
        &mut f,
        &[
            "alpha-mean-delay",
            "beta-close-opcode",
            "gamma-seconds-per-day",
        ],
        "quiz · all cards",
        None,
        (80, 24),
    );
    tick(&mut a, 10);
    let right = right_choice(&a);
    a.update(QuizAction::Number(right));
    a.update(QuizAction::Next);
    tick(&mut a, 50);
    let wrong = (right_choice(&a) + 1) % 4;
    a.update(QuizAction::Number(wrong));
    a.update(QuizAction::Next);
    tick(&mut a, 65);
    type_text(&mut a, "86400");
    a.update(QuizAction::Submit);
    a.update(QuizAction::Next);
    let Phase::Summary(s) = &a.phase else {
        panic!("no summary");
    };
    assert_eq!((s.summary.answered, s.summary.correct), (3, 2));
    insta::assert_snapshot!(draw(&a));
    drop(a);
    assert_eq!(f.store.reviews().expect("reviews").len(), 3);
}

/// A store with reviews on several days up to T0, and the stats it gives at T0: some
/// items well learnt, some due now (one forgotten), some due soon, some new.
fn stats_fixture() -> (swelearn::learn::stats::Stats, HashMap<String, String>) {
    use Rating::{Again, Easy, Good, Hard};
    let mut f = setup();
    // (item, card, [(days ago, rating)])
    type Log<'a> = (&'a str, &'a str, &'a [(i64, Rating)]);
    let reviews: &[Log] = &[
        (
            "alpha-mean-delay",
            "alpha",
            &[(28, Good), (20, Good), (12, Good), (4, Good)],
        ),
        (
            "alpha-costs",
            "alpha",
            &[(27, Good), (19, Easy), (9, Good), (3, Good)],
        ),
        ("alpha-why-wasteful", "alpha", &[(6, Good)]),
        ("alpha-requests-per-day", "alpha", &[(9, Good), (2, Again)]),
        ("beta-close-opcode", "beta", &[(1, Good)]),
        ("beta-control-frames", "beta", &[(10, Good), (3, Good)]),
        ("beta-handshake-order", "beta", &[(5, Hard)]),
        (
            "gamma-seconds-per-day",
            "gamma",
            &[(12, Good), (7, Good), (0, Easy)],
        ),
    ];
    for (item, card, log) in reviews {
        for (days_ago, rating) in log.iter() {
            let review = NewReview {
                item_id: item,
                card_id: card,
                rating: *rating,
                correct: *rating != Again,
                answer: "x",
                elapsed_ms: 20_000,
            };
            // Reviews in the morning; today's two hours before now.
            let at = Moment::utc(T0 - days_ago * DAY_MS - 2 * 3_600_000);
            f.store.record(&f.scheduler, &review, at).expect("record");
        }
    }
    let stats = f
        .store
        .stats(&f.scheduler, &f.banks, Moment::utc(T0))
        .expect("stats");
    (stats, f.titles.clone())
}

#[test]
fn stats_overview_and_cards_80x24() {
    let (stats, titles) = stats_fixture();
    assert!(stats.items_reviewed > 0);
    let mut app = StatsApp::new(&stats, &titles, (80, 24));
    let draw_stats =
        |app: &StatsApp<'_>| draw_with(80, 24, |f| swelearn::tui::stats::render(app, f));
    insta::assert_snapshot!("stats_overview_80x24", draw_stats(&app));
    app.update(StatsAction::Move(1));
    assert_eq!(app.tab, StatsTab::Cards, "moving through cards shows them");
    insta::assert_snapshot!("stats_cards_80x24", draw_stats(&app));
    app.update(StatsAction::NextTab(1));
    assert_eq!(app.tab, StatsTab::Overview);
}

#[test]
fn stats_on_one_screen_120x40() {
    let (stats, titles) = stats_fixture();
    let app = StatsApp::new(&stats, &titles, (120, 40));
    insta::assert_snapshot!(draw_with(120, 40, |f| swelearn::tui::stats::render(
        &app, f
    )));
}

#[test]
fn stats_with_no_reviews_80x24() {
    let f = setup();
    let stats = f
        .store
        .stats(&f.scheduler, &f.banks, Moment::utc(T0))
        .expect("stats");
    let app = StatsApp::new(&stats, &f.titles, (80, 24));
    let screen = draw_with(80, 24, |fr| swelearn::tui::stats::render(&app, fr));
    assert!(screen.contains("no reviews yet"), "{screen}");
}

#[test]
fn every_screen_survives_tiny_and_resized_terminals() {
    let mut f = setup();
    let mut a = start(
        &mut f,
        &["beta-handshake-order", "alpha-requests-per-day"],
        "quiz",
        None,
        (80, 24),
    );
    for (w, h) in [(20, 6), (1, 1), (200, 60), (80, 24)] {
        a.update(QuizAction::Resize(w, h));
        draw(&a);
    }
    a.update(QuizAction::Submit);
    a.update(QuizAction::Resize(24, 8));
    draw(&a);
    let (stats, titles) = stats_fixture();
    for (w, h) in [(20, 6), (1, 1), (110, 32)] {
        let app = StatsApp::new(&stats, &titles, (w, h));
        draw_with(w, h, |fr| swelearn::tui::stats::render(&app, fr));
    }
}

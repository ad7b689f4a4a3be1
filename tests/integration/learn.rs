//! Quizzes, practice, stats and progress driven through the CLI with piped answers and
//! a temporary data directory: answers are graded and saved one by one, a killed
//! session keeps what was answered, and damaged databases are never overwritten.

use super::Run;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

/// A data dir shared by several runs.
struct Data(tempfile::TempDir);

impl Data {
    fn new() -> Data {
        Data(tempfile::tempdir().expect("tmp"))
    }
    fn path(&self) -> &std::path::Path {
        self.0.path()
    }
    fn run(&self, args: &[&str]) -> Run {
        let dir = self.path().to_str().expect("utf-8").to_string();
        let mut all = vec!["--data-dir", dir.as_str()];
        all.extend_from_slice(args);
        Run::new(&all)
    }
    /// Starts swelearn with piped stdin and stdout, for interactive tests.
    fn spawn(&self, args: &[&str]) -> std::process::Child {
        Command::new(env!("CARGO_BIN_EXE_swelearn"))
            .arg("--data-dir")
            .arg(self.path())
            .args(args)
            .env("XDG_CONFIG_HOME", self.path().join("cfg"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn")
    }

    fn stats(&self) -> serde_json::Value {
        let out = self.run(&["stats", "--json"]).output().ok();
        serde_json::from_str(&out).expect("stats json")
    }
}

fn with_stdin(run: Run, input: &str) -> super::Done {
    run.stdin(input).output()
}

#[test]
fn a_plain_predict_item_simulates_scores_and_shows_the_run() {
    let data = Data::new();
    let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/predict");
    let out = with_stdin(
        data.run(&["quiz", "epsilon", "--plain", "--content-dir", fixtures]),
        "6\n",
    );
    let stdout = out.ok();
    // 20,000 clients at 2 workers x 0.5 ms = 4,000/s: 5 s; 6 is 20 % off, inside 25 %.
    assert!(
        stdout.contains("✓ Right: the answer is 5 s (±25 %)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("simulated: 5 (your estimate was off by 20 %)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("the run: herd (seed 7), 5.0 s simulated"),
        "{stdout}"
    );
    assert!(
        stdout.contains("clients connected (clients), max 20,000"),
        "{stdout}"
    );
}

#[test]
fn a_plain_quiz_grades_piped_answers_and_stats_count_them() {
    let data = Data::new();
    // Three questions; garbage is re-asked, not graded.
    let out = with_stdin(
        data.run(&["quiz", "short-polling", "--count", "3", "--plain"]),
        "2\nnonsense\n1\n12\n",
    );
    let stdout = out.ok();
    assert!(stdout.contains("Question 1/3 · short-polling"), "{stdout}");
    assert!(stdout.contains("! `nonsense` is not a choice"), "{stdout}");
    assert!(stdout.contains("Session summary"), "{stdout}");
    assert!(stdout.contains("answered   3"), "{stdout}");
    let stats = data.stats();
    assert_eq!(stats["items_reviewed"], 3, "{stats}");
    assert_eq!(stats["retention"]["reviews_30d"], 3);
    assert_eq!(stats["streak"]["current_days"], 1);
    let card = stats["cards"]
        .as_array()
        .expect("cards")
        .iter()
        .find(|c| c["card_id"] == "short-polling")
        .cloned()
        .expect("card");
    assert_eq!(card["reviewed"], 3);
}

#[test]
fn end_of_input_ends_the_session_cleanly() {
    let data = Data::new();
    let out = with_stdin(
        data.run(&["quiz", "--tag", "polling", "--count", "5", "--plain"]),
        "1\n",
    );
    let stdout = out.ok();
    assert!(stdout.contains("answered   1"), "{stdout}");
}

/// Reads stdout until the program waits at a prompt ending in "> "; `None` at EOF.
fn until_prompt(out: &mut impl std::io::Read) -> Option<String> {
    let mut text = Vec::new();
    let mut byte = [0u8; 1];
    while !text.ends_with(b"> ") {
        match out.read(&mut byte) {
            Ok(1) => text.push(byte[0]),
            _ => return None,
        }
    }
    Some(String::from_utf8_lossy(&text).into_owned())
}

/// The numbered options of the last question in `screen`: (number, text).
fn options(screen: &str) -> Vec<(usize, String)> {
    let last = screen.rfind("Question ").map_or(screen, |i| &screen[i..]);
    last.lines()
        .filter_map(|l| {
            let (n, text) = l.trim_start().split_once(") ")?;
            Some((n.parse().ok()?, text.to_string()))
        })
        .collect()
}

#[test]
fn every_kind_is_graded_from_typed_answers() {
    // Drives a session interactively: reads each question, works out the right answer
    // from what is shown (choices are shuffled per attempt), and types it.
    let data = Data::new();
    let fixture = super::fixture("quiz");
    let mut child = data.spawn(&[
        "--content-dir",
        fixture.to_str().expect("utf-8"),
        "quiz",
        "delta",
        "--plain",
    ]);
    let mut stdin = child.stdin.take().expect("stdin");
    let mut stdout = child.stdout.take().expect("stdout");
    let mut transcript = String::new();
    while let Some(screen) = until_prompt(&mut stdout) {
        transcript.push_str(&screen);
        let opts = options(&screen);
        let answer = if screen.ends_with("rate yourself: 1 again, 2 hard, 3 good, 4 easy> ") {
            "3".to_string()
        } else if screen.contains("Pick the right one.") {
            "right choice".to_string()
        } else if screen.contains("Pick every yes.") {
            let yes: Vec<String> = opts
                .iter()
                .filter(|(_, t)| t.contains("yes"))
                .map(|(n, _)| n.to_string())
                .collect();
            yes.join(",")
        } else if screen.contains("Put them in order.") {
            let mut steps = opts.clone();
            steps.sort_by(|a, b| a.1.cmp(&b.1));
            steps
                .iter()
                .map(|(n, _)| n.to_string())
                .collect::<Vec<_>>()
                .join(" ")
        } else if screen.contains("clients each poll every 10 s") {
            let last = &screen[screen.rfind("Question ").unwrap_or(0)..];
            let n: String = last
                .lines()
                .nth(1)
                .unwrap_or("")
                .split_whitespace()
                .next()
                .unwrap_or("0")
                .replace(',', "");
            (n.parse::<f64>().expect("n") / 10.0).to_string()
        } else {
            "my own words".to_string()
        };
        writeln!(stdin, "{answer}").expect("type");
    }
    let _ = child.wait();
    assert_eq!(transcript.matches("✓ Right").count(), 4, "{transcript}");
    assert!(transcript.contains("Model answer:"), "{transcript}");
    let stats = data.stats();
    assert_eq!(stats["retention"]["reviews_30d"], 5, "{transcript}");
    assert_eq!(
        stats["retention"]["correct_30d"], 5,
        "recall rated Good counts as right"
    );
}

#[test]
fn a_killed_session_keeps_every_answer_already_given() {
    let data = Data::new();
    let mut child = data.spawn(&["quiz", "short-polling", "--count", "5", "--plain"]);
    let mut stdin = child.stdin.take().expect("stdin");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    stdin.write_all(b"1\n2\n").expect("answer");
    stdin.flush().expect("flush");
    // Wait until both answers were graded (each feedback ends with "rated ...").
    let mut rated = 0;
    let mut line = String::new();
    while rated < 2 {
        line.clear();
        if stdout.read_line(&mut line).expect("read") == 0 {
            break;
        }
        if line.contains("rated ") {
            rated += 1;
        }
    }
    assert_eq!(rated, 2);
    child.kill().expect("SIGKILL");
    let _ = child.wait();
    let stats = data.stats();
    assert_eq!(stats["retention"]["reviews_30d"], 2, "{stats}");
}

#[test]
fn practice_plans_new_items_within_the_time_box() {
    let data = Data::new();
    let stdout = with_stdin(
        data.run(&["practice", "--minutes", "2", "--new", "3", "--plain"]),
        "1\n1\n1\n1\n1\n",
    )
    .ok();
    assert!(
        stdout.starts_with("Practice: 3 questions (0 due for review, 3 new)"),
        "{stdout}"
    );
    assert!(stdout.contains("answered   3"), "{stdout}");
}

#[test]
fn export_import_and_reset_move_and_delete_progress() {
    let a = Data::new();
    with_stdin(
        a.run(&["quiz", "short-polling", "--count", "2", "--plain"]),
        "1\n1\n",
    )
    .ok();
    let file = a.path().join("export.json");
    a.run(&["progress", "export", file.to_str().expect("utf-8")])
        .output()
        .ok();
    // Never clobbers an existing file.
    let again = a
        .run(&["progress", "export", file.to_str().expect("utf-8")])
        .output();
    assert_eq!(again.code(), 2);

    let b = Data::new();
    let out = b
        .run(&["progress", "import", file.to_str().expect("utf-8")])
        .output()
        .ok();
    assert!(
        out.starts_with("Imported 2 reviews (0 already present)"),
        "{out}"
    );
    let out = b
        .run(&["progress", "import", file.to_str().expect("utf-8")])
        .output()
        .ok();
    assert!(
        out.starts_with("Imported 0 reviews (2 already present)"),
        "{out}"
    );
    assert_eq!(b.stats()["items_reviewed"], 2);

    // Reset asks; without a terminal and without --yes it refuses and deletes nothing.
    let refused = b.run(&["progress", "reset"]).output();
    assert_eq!(refused.code(), 2);
    assert!(
        refused.stderr().contains("pass --yes"),
        "{}",
        refused.stderr()
    );
    assert_eq!(b.stats()["items_reviewed"], 2);
    let out = b
        .run(&["progress", "reset", "--card", "short-polling", "--yes"])
        .output()
        .ok();
    assert!(out.starts_with("Deleted 2 reviews"), "{out}");
    assert_eq!(b.stats()["items_reviewed"], 0);
}

#[test]
fn rebuild_reproduces_the_state_from_the_log() {
    let data = Data::new();
    with_stdin(
        data.run(&["quiz", "short-polling", "--count", "3", "--plain"]),
        "2\n1\n1\n",
    )
    .ok();
    let before = data.stats();
    let out = data.run(&["stats", "--json", "--rebuild"]).output();
    assert_eq!(out.code(), 0);
    assert!(
        out.stderr().contains("Rebuilt 3 item states"),
        "{}",
        out.stderr()
    );
    let mut after: serde_json::Value = serde_json::from_str(&out.stdout()).expect("json");
    // Retrievability decays by the millisecond; everything else must be identical.
    let mut before = before;
    for s in [&mut before, &mut after] {
        s["generated_at_ms"] = 0.into();
        s["retention"]["mean_retrievability"] = 0.into();
        for c in s["cards"].as_array_mut().expect("cards") {
            c["recall_now"] = 0.into();
        }
    }
    assert!(before == after, "stats changed after rebuild");
}

#[test]
fn damaged_databases_give_a_clear_error_and_are_never_overwritten() {
    let data = Data::new();
    let db = data.path().join("progress.db");
    std::fs::write(&db, b"this is not a database, but it is somebody's file").expect("write");
    let run = data.run(&["stats"]).output();
    assert_eq!(run.code(), 2);
    assert!(
        run.stderr().contains(&db.display().to_string()),
        "{}",
        run.stderr()
    );
    assert_eq!(
        std::fs::read(&db).expect("read"),
        b"this is not a database, but it is somebody's file"
    );

    // A database from a newer swelearn.
    let newer = Data::new();
    with_stdin(
        newer.run(&["quiz", "short-polling", "--count", "1", "--plain"]),
        "1\n",
    )
    .ok();
    let db = newer.path().join("progress.db");
    let conn = rusqlite::Connection::open(&db).expect("open");
    conn.execute("UPDATE schema_version SET version = 999", [])
        .expect("bump");
    drop(conn);
    let before = std::fs::read(&db).expect("read");
    let run = newer.run(&["stats"]).output();
    assert_eq!(run.code(), 2);
    assert!(run.stderr().contains("999"), "{}", run.stderr());
    assert_eq!(std::fs::read(&db).expect("read"), before);
}

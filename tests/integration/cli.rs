//! The CLI as a user drives it: output and exit codes of list, search, study --plain,
//! content lint, config layering, completions and bad input.

use super::{Run, fixture, swelearn};

fn fixtures_only(args: &[&str]) -> Run {
    // Fixture cards are added on top of the embedded ones.
    let dir = fixture("cards");
    let mut all = vec!["--content-dir", dir.to_str().expect("utf-8 path")];
    all.extend_from_slice(args);
    Run::new(&all)
}

#[test]
fn list_shows_the_embedded_cards_in_study_order() {
    let out = swelearn(&["list"]).ok();
    let first = out.lines().nth(1).expect("a card row");
    assert!(first.contains("realtime-landscape"), "{out}");
    assert!(out.contains("short-polling"));
    assert!(!out.contains("\x1b["), "no colour when piped");
}

#[test]
fn list_filters_by_tag_and_difficulty_and_prints_json() {
    let out = fixtures_only(&[
        "list",
        "--tag",
        "websocket",
        "--difficulty",
        "medium",
        "--json",
    ])
    .output()
    .ok();
    let cards: serde_json::Value = serde_json::from_str(&out).expect("json");
    let ids: Vec<&str> = cards
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|c| c["id"].as_str())
        .collect();
    assert!(ids.contains(&"beta"), "{ids:?}");
    for c in cards.as_array().expect("array") {
        assert_eq!(c["difficulty"], "medium");
        assert!(
            c["tags"]
                .as_array()
                .expect("tags")
                .iter()
                .any(|t| t == "websocket")
        );
        assert!(c["estimated_time"].is_string());
        assert!(c["sources"].as_array().is_some_and(|s| !s.is_empty()));
    }
}

#[test]
fn unknown_tag_and_bad_flag_values_are_one_clear_line() {
    let run = swelearn(&["list", "--tag", "nonsense"]);
    assert_eq!(run.code(), 2);
    assert!(
        run.stderr()
            .starts_with("swelearn: error: no card has the tag `nonsense`"),
        "{}",
        run.stderr()
    );
    let run = swelearn(&["list", "--difficulty", "brutal"]);
    assert_eq!(run.code(), 2);
    assert!(
        run.stderr().contains("invalid value 'brutal'"),
        "{}",
        run.stderr()
    );
}

#[test]
fn search_ranks_title_and_tag_hits_above_body_hits_and_shows_the_line() {
    let out = fixtures_only(&["search", "polling", "--json"])
        .output()
        .ok();
    let hits: serde_json::Value = serde_json::from_str(&out).expect("json");
    let hits = hits.as_array().expect("array");
    let pos = |id: &str| hits.iter().position(|h| h["id"] == id);
    let alpha = pos("alpha").expect("alpha matches by tag");
    assert_eq!(hits[alpha]["field"], "tag");
    // A card that says "polling" only in its text ranks below every title/tag hit.
    let body_hits: Vec<usize> = hits
        .iter()
        .enumerate()
        .filter(|(_, h)| h["field"] == "body")
        .map(|(i, _)| i)
        .collect();
    let head_hits: Vec<usize> = hits
        .iter()
        .enumerate()
        .filter(|(_, h)| h["field"] != "body")
        .map(|(i, _)| i)
        .collect();
    assert!(!body_hits.is_empty() && !head_hits.is_empty());
    assert!(head_hits.iter().max() < body_hits.iter().min());

    let text = fixtures_only(&["search", "jitter", "backoff"])
        .output()
        .ok();
    assert!(
        text.contains("gamma  Gamma Scaling  (text match)"),
        "{text}"
    );
    assert!(
        text.contains("Gamma mentions backoff and jitter in the body only."),
        "{text}"
    );
}

#[test]
fn study_plain_renders_tables_code_lists_and_links() {
    let out = fixtures_only(&["study", "beta", "--plain"]).output().ok();
    for expected in [
        "# Beta Tables and Diagrams",
        "medium · 15min · tags: websocket, diagrams · read first: alpha",
        "│ Opcode │ Meaning │ Control │",
        "│    0x8 │ close   │   yes   │",
        "  |--- GET /chat (Upgrade: websocket) --->|",
        "  |<========== frames both ways =========>|",
        "1. First step.",
        "2. Second step, with a link <https://example.org/spec>.",
        "│ A quote about the upgrade handshake.",
        "• RFC 6455: The WebSocket Protocol <https://www.rfc-editor.org/rfc/rfc6455>",
    ] {
        assert!(out.contains(expected), "missing {expected:?} in:\n{out}");
    }
    assert!(!out.contains("\x1b["));
}

#[test]
fn study_wraps_at_the_requested_width_and_colours_only_when_asked() {
    let out = swelearn(&["study", "short-polling", "--plain", "--width", "50"]).ok();
    use unicode_width::UnicodeWidthStr;
    let too_wide: Vec<&str> = out
        .lines()
        .filter(|l| l.width() > 50 && !l.starts_with("  |"))
        .collect();
    assert!(too_wide.iter().all(|l| l.contains("http")), "{too_wide:#?}");
    let coloured = swelearn(&["study", "short-polling", "--plain", "--color", "always"]).ok();
    assert!(coloured.contains("\x1b["));
    let no_color = Run::new(&["study", "short-polling", "--plain", "--color", "always"])
        .env("NO_COLOR", "1")
        .output()
        .ok();
    assert!(!no_color.contains("\x1b["), "NO_COLOR wins");
}

#[test]
fn unknown_card_id_is_an_error_with_a_hint() {
    let run = swelearn(&["study", "polling", "--plain"]);
    assert_eq!(run.code(), 2);
    let err = run.stderr();
    assert!(
        err.starts_with("swelearn: error: no card with id `polling`; did you mean"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[test]
fn lint_is_clean_on_the_embedded_content_and_the_fixtures() {
    let run = swelearn(&["content", "lint"]);
    assert_eq!(run.code(), 0, "{}{}", run.stdout(), run.stderr());
    assert!(run.stderr().contains("no problems"));
    let run = swelearn(&["content", "lint", fixture("cards").to_str().expect("path")]);
    assert_eq!(run.code(), 0, "{}{}", run.stdout(), run.stderr());
}

#[test]
fn lint_reports_every_problem_as_file_line_message() {
    let dir = fixture("broken");
    let run = swelearn(&["content", "lint", dir.to_str().expect("path")]);
    assert_eq!(run.code(), 1);
    let out = run.stdout();
    let d = dir.display();
    for expected in [
        format!("{d}/bad-fields.md:5: bad difficulty `brutal`: expected easy, medium or hard"),
        format!("{d}/bad-fields.md:6: bad estimated_time `soon`"),
        format!("{d}/bad-fields.md:8: unknown field `colour`"),
        format!("{d}/bad-yaml.md:4: malformed YAML in frontmatter"),
        format!("{d}/empty-body.md:10: empty body"),
        format!("{d}/ok.md:2: duplicate id `ok`: also used by {d}/ok-dup.md"),
    ] {
        assert!(
            out.lines().any(|l| l.starts_with(&expected)),
            "missing {expected:?} in:\n{out}"
        );
    }
    // bad-fields.md fails to parse, so its unknown prerequisite is not checked; a valid
    // card with one is:
    let tmp = tempfile::tempdir().expect("tmp");
    let card = std::fs::read_to_string(fixture("cards/gamma.md")).expect("read");
    std::fs::write(
        tmp.path().join("g.md"),
        card.replace("[beta]", "[nope, short-polling]"),
    )
    .expect("write");
    let run = swelearn(&["content", "lint", tmp.path().to_str().expect("path")]);
    assert_eq!(run.code(), 1);
    assert_eq!(
        run.stdout().trim(),
        format!(
            "{}/g.md:7: unknown prerequisite id `nope`",
            tmp.path().display()
        )
    );
}

#[test]
fn a_broken_user_card_warns_but_the_rest_still_works() {
    let run = Run::new(&["list"])
        .env("SWELEARN_CONTENT_DIRS", fixture("broken"))
        .output();
    assert_eq!(run.code(), 0, "{}", run.stderr());
    assert!(
        run.stderr().contains("swelearn: warning:"),
        "{}",
        run.stderr()
    );
    assert!(run.stdout().contains("short-polling"));
    assert!(run.stdout().contains(" ok "), "valid user cards are listed");
}

#[test]
fn unreadable_content_dir_is_an_error() {
    let run = swelearn(&["list", "--content-dir", "/nonexistent/cards"]);
    assert_eq!(run.code(), 2);
    assert!(
        run.stderr()
            .starts_with("swelearn: error: cannot read content directory /nonexistent/cards"),
        "{}",
        run.stderr()
    );
}

#[test]
fn config_layers_file_env_and_flags_with_sources() {
    let run = Run::new(&["config", "--json"]);
    let cfg_dir = run.home.join("config/swelearn");
    std::fs::create_dir_all(&cfg_dir).expect("mkdir");
    std::fs::write(
        cfg_dir.join("swelearn.toml"),
        "[ui]\ncolor = \"never\"\nmouse = false\n",
    )
    .expect("write");
    let out = run.env("SWELEARN_MOUSE", "true").output().ok();
    let c: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(c["color"]["value"], "never");
    assert_eq!(c["color"]["source"]["kind"], "file");
    assert_eq!(c["color"]["source"]["line"], 2);
    assert_eq!(c["mouse"]["value"], true);
    assert_eq!(c["mouse"]["source"]["var"], "SWELEARN_MOUSE");
    assert_eq!(c["data_dir"]["source"]["kind"], "default");

    let out = swelearn(&[
        "config",
        "--data-dir",
        "/tmp/elsewhere",
        "--color",
        "always",
    ])
    .ok();
    assert!(out.contains("data dir:    /tmp/elsewhere"), "{out}");
    assert!(out.contains("flag --color"), "{out}");
    assert!(
        out.contains("(not found: built-in defaults apply)"),
        "{out}"
    );
}

#[test]
fn config_errors_name_file_and_line() {
    let tmp = tempfile::tempdir().expect("tmp");
    let file = tmp.path().join("bad.toml");
    std::fs::write(&file, "[content]\ndirs = []\nfolders = [\"x\"]\n").expect("write");
    let run = swelearn(&["--config", file.to_str().expect("path"), "list"]);
    assert_eq!(run.code(), 2);
    assert!(
        run.stderr().starts_with(&format!(
            "swelearn: error: {}:3: unknown field `folders`",
            file.display()
        )),
        "{}",
        run.stderr()
    );
}

#[test]
fn completions_are_generated() {
    let out = swelearn(&["completions", "bash"]).ok();
    assert!(out.contains("swelearn") && out.contains("study"));
}

#[test]
fn help_lists_only_built_commands_with_examples() {
    let out = swelearn(&["--help"]).ok();
    for cmd in [
        "study",
        "list",
        "search",
        "content",
        "config",
        "completions",
    ] {
        assert!(out.contains(cmd), "{cmd} missing from --help");
    }
    assert!(out.contains("Examples:"));
}

#[test]
fn the_reader_refuses_to_start_without_a_terminal() {
    // stdout piped: `study` without an id prints the list instead of starting the TUI.
    let out = swelearn(&["study"]).ok();
    assert!(out.contains("Pick a card"));
}

//! The live herd's comparison with the model (`--live --compare-model`), the
//! handshake calibration (`--calibrate`) and the open-file limit refusal, driven
//! through the CLI.

use std::process::Command;

/// Metric values of one report of a JSON comparison.
fn metric(report: &serde_json::Value, name: &str) -> Option<f64> {
    report["metrics"][name]["value"].as_f64()
}

const SMALL: [&str; 12] = [
    "simulate",
    "herd",
    "--clients",
    "60",
    "--jitter",
    "0.3",
    "--handshake-ms",
    "1",
    "--horizon",
    "20",
    "--seed",
    "3",
];

#[test]
fn live_and_model_are_compared_side_by_side() {
    let mut args = SMALL.to_vec();
    args.extend(["--live", "--compare-model", "--json"]);
    let v: serde_json::Value =
        serde_json::from_str(&super::swelearn(&args).ok()).expect("pure JSON on stdout");
    assert_eq!(v["parameter"], "backend");
    assert_eq!(v["values"], serde_json::json!(["live", "model"]));
    let reports = v["reports"].as_array().expect("reports");
    assert_eq!(reports.len(), 2);
    let (live, model) = (&reports[0], &reports[1]);
    assert_eq!(
        (&live["backend"], &model["backend"]),
        (&"live".into(), &"model".into())
    );
    assert_eq!(live["seed"], model["seed"]);
    for p in ["clients", "jitter", "workers", "handshake_ms", "horizon"] {
        assert_eq!(live["parameters"][p], model["parameters"][p], "{p}");
    }
    // One time axis for both.
    assert_eq!(live["series_interval_s"], model["series_interval_s"]);
    assert_eq!(metric(live, "connected"), Some(60.0));
    assert_eq!(metric(model, "connected"), Some(60.0));
    // Jitter 0.3 s over 60 clients, 2,000 handshakes/s: both finish soon after 0.3 s.
    let model_all = metric(model, "time_to_all_s").expect("model finishes");
    assert!((0.25..0.4).contains(&model_all), "{model_all}");
    assert!(metric(live, "time_to_all_s").is_some());

    // Plain text: the compare table with a live and a model column.
    let mut args = SMALL.to_vec();
    args.extend(["--live", "--compare-model", "--no-tui"]);
    let text = super::swelearn(&args).ok();
    assert!(
        text.contains("compare backend = live | model (same seed 3)"),
        "{text}"
    );
    let row = text
        .lines()
        .find(|l| l.starts_with("connected "))
        .expect("metric row");
    assert_eq!(
        row.split_whitespace().collect::<Vec<_>>(),
        ["connected", "60", "60", "clients"]
    );
    assert!(text.lines().any(|l| l.starts_with("model |")), "{text}");
    assert!(text.lines().any(|l| l.starts_with(" live |")), "{text}");
}

#[test]
fn compare_model_needs_live_and_excludes_compare() {
    let run = super::swelearn(&["simulate", "herd", "--compare-model"]);
    assert_eq!(run.code(), 2, "{}", run.stderr());
    let run = super::swelearn(&[
        "simulate",
        "herd",
        "--live",
        "--compare-model",
        "--compare",
        "jitter=0,1",
    ]);
    assert_eq!(run.code(), 2, "{}", run.stderr());
    let run = super::swelearn(&["simulate", "herd", "--calibrate", "--handshake-ms", "2"]);
    assert_eq!(run.code(), 2, "{}", run.stderr());
}

#[test]
fn calibration_feeds_the_measured_cost_to_model_and_live() {
    let run = super::swelearn(&[
        "simulate",
        "herd",
        "--calibrate",
        "--live",
        "--compare-model",
        "--clients",
        "200",
        "--workers",
        "1",
        "--json",
    ]);
    let stderr = run.stderr();
    let v: serde_json::Value = serde_json::from_str(&run.ok()).expect("pure JSON on stdout");
    let line = stderr
        .lines()
        .find(|l| l.starts_with("calibrated: handshake "))
        .unwrap_or_else(|| panic!("no calibration line in {stderr}"));
    assert!(line.contains("from 2,000 handshakes"), "{line}");
    let measured: f64 = line
        .trim_start_matches("calibrated: handshake ")
        .split_whitespace()
        .next()
        .and_then(|ms| ms.parse().ok())
        .expect("a number of ms");
    assert!(measured > 0.0 && measured < 100.0, "{measured}");
    for r in v["reports"].as_array().expect("reports") {
        let used: f64 = r["parameters"]["handshake_ms"]["value"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .expect("handshake_ms");
        assert!((used - measured).abs() < 1e-9, "{used} vs {measured}");
        assert_eq!(
            r["parameters"]["workers"]["value"], "1",
            "--workers is kept"
        );
        let note = r["parameters"]["calibration"]["value"]
            .as_str()
            .unwrap_or("");
        assert!(note.contains("handshakes/s on 1 worker"), "{note}");
        assert_eq!(metric(r, "connected"), Some(200.0));
    }

    // Without --live: the model alone, with the measured cost.
    let run = super::swelearn(&[
        "simulate",
        "herd",
        "--calibrate",
        "--clients",
        "1000",
        "--no-tui",
    ]);
    assert!(
        run.stderr().contains("calibrated: handshake "),
        "{}",
        run.stderr()
    );
    let text = run.ok();
    assert!(text.contains("calibration"), "{text}");
}

/// `swelearn ARGS` with the open-file limit lowered to `limit` (soft and hard,
/// by a child shell, for swelearn and its children alone).
fn with_fd_limit(limit: u32, args: &[&str]) -> std::process::Output {
    let home = tempfile::tempdir().expect("temp home");
    let script = format!("ulimit -n {limit} && exec \"$0\" \"$@\"");
    Command::new("sh")
        .args(["-c", &script, env!("CARGO_BIN_EXE_swelearn")])
        .args(args)
        .env_clear()
        .env("HOME", home.path())
        .env("XDG_DATA_HOME", home.path().join("data"))
        .env("XDG_CONFIG_HOME", home.path().join("config"))
        .output()
        .expect("run sh")
}

#[test]
fn a_run_beyond_the_open_file_limit_is_refused_in_one_line() {
    let out = with_fd_limit(600, &["simulate", "herd", "--live", "--clients", "400"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("open-file limit is 600"), "{stderr}");
    let largest: u64 = stderr
        .split("the largest run that fits is ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no largest run named: {stderr}"));
    // The clients would go to children; the server's ends must fit here: 600
    // descriptors minus those open and 256 spare, 1 per client.
    assert!((200..=344).contains(&largest), "{largest}");
    assert!(
        stderr.contains("400 connections need about 656 file descriptors (1 per connection"),
        "{stderr}"
    );
}

/// Metrics of a JSON report as a map.
fn run_json(out: &std::process::Output) -> serde_json::Value {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    serde_json::from_slice(&out.stdout).expect("pure JSON on stdout")
}

/// A live report's totals agree with themselves: everyone connected, and every
/// attempt ended connected, refused or timed out.
fn assert_accounted(r: &serde_json::Value, clients: f64) {
    let m = |name: &str| metric(r, name).unwrap_or_else(|| panic!("no {name}"));
    assert_eq!(m("connected"), clients);
    assert_eq!(m("still_trying"), 0.0);
    assert_eq!(m("attempts"), m("connected") + m("refused") + m("timeouts"));
    assert!(m("time_to_all_s") >= m("time_to_p99_s"));
    let last = r["series"]["connected"]["values"]
        .as_array()
        .and_then(|v| v.last())
        .and_then(serde_json::Value::as_f64);
    assert_eq!(last, Some(clients), "the connected series ends at all");
    let arrivals: f64 = r["series"]["arrivals_per_s"]["values"]
        .as_array()
        .expect("arrivals")
        .iter()
        .filter_map(serde_json::Value::as_f64)
        .sum::<f64>()
        * r["series_interval_s"].as_f64().expect("interval");
    assert!((arrivals - m("attempts")).abs() < 1e-6, "{arrivals}");
}

#[test]
fn clients_in_child_processes_fill_the_same_report() {
    let args = [
        "simulate",
        "herd",
        "--live",
        "--clients",
        "120",
        "--jitter",
        "0.3",
        "--handshake-ms",
        "1",
        "--horizon",
        "20",
        "--seed",
        "3",
        "--json",
    ];
    let inside = run_json(&with_fd_limit(20_000, &args));
    let mut split_args = args.to_vec();
    split_args.extend(["--clients-per-process", "50"]);
    let split = run_json(&with_fd_limit(20_000, &split_args));
    assert_eq!(inside["parameters"]["client_processes"]["value"], "0");
    assert_eq!(split["parameters"]["client_processes"]["value"], "3");
    for r in [&inside, &split] {
        assert_accounted(r, 120.0);
    }
    let keys = |r: &serde_json::Value, f: &str| -> Vec<String> {
        r[f].as_object().expect(f).keys().cloned().collect()
    };
    for f in ["metrics", "series", "parameters"] {
        assert_eq!(keys(&inside, f), keys(&split, f), "{f}");
    }

    // Past this process's limit: under 600 descriptors 300 clients do not fit
    // in-process (2 each) but their server ends do (1 each): one child runs them.
    let out = with_fd_limit(
        600,
        &[
            "simulate",
            "herd",
            "--live",
            "--clients",
            "300",
            "--jitter",
            "0.3",
            "--json",
        ],
    );
    let over = run_json(&out);
    assert_eq!(over["parameters"]["client_processes"]["value"], "1");
    assert_accounted(&over, 300.0);

    // Too many children for the clients is a one-line error, not a run.
    let mut many = args.to_vec();
    many.extend(["--clients-per-process", "5"]);
    let out = with_fd_limit(20_000, &many);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("would need 24 client processes"),
        "{stderr}"
    );
}

#[test]
fn the_playback_overlays_live_and_model() {
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;
    use swelearn::live::herd::LiveHerdOptions;
    use swelearn::live::versus::herd_live_vs_model;
    use swelearn::sim::scenarios::herd::HerdConfig;
    use swelearn::tui::sim::{SimAction, SimApp, render};

    let cfg = HerdConfig {
        clients: 50,
        jitter_s: 0.2,
        handshake_ms: 1.0,
        horizon_s: 20.0,
        ..HerdConfig::default()
    };
    let c = herd_live_vs_model(&cfg, &LiveHerdOptions::default(), 3).expect("runs");
    let names = c.variant_names();
    assert_eq!(names, ["live", "model"]);
    let mut app = SimApp::new(names.into_iter().zip(&c.reports).collect());
    app.update(SimAction::End);
    let mut terminal = Terminal::new(TestBackend::new(120, 40)).expect("terminal");
    terminal.draw(|f| render(&app, f)).expect("draw");
    let screen: String = terminal
        .backend()
        .buffer()
        .content()
        .iter()
        .map(|cell| cell.symbol())
        .collect();
    assert!(screen.contains("simulate herd (live vs model)"), "{screen}");
    assert!(
        screen.contains("live") && screen.contains("model"),
        "{screen}"
    );
}

#[test]
fn a_run_cut_by_its_horizon_counts_no_refusals_from_its_own_teardown() {
    // 400 clients at once, 1 worker at 20 ms (50 handshakes/s), 1 s horizon and
    // a 4096-entry queue: about 50 connect, nobody is ever refused, and nobody
    // retries. The clients still waiting when the run stops must not be counted
    // as refused when the server closes behind them; with clients in child
    // processes too.
    for per_process in [None, Some("150")] {
        let mut args = vec![
            "simulate",
            "herd",
            "--live",
            "--clients",
            "400",
            "--jitter",
            "0",
            "--workers",
            "1",
            "--handshake-ms",
            "20",
            "--backlog",
            "4096",
            "--horizon",
            "1",
            "--json",
        ];
        if let Some(n) = per_process {
            args.extend(["--clients-per-process", n]);
        }
        let v: serde_json::Value =
            serde_json::from_str(&super::swelearn(&args).ok()).expect("JSON");
        let connected = metric(&v, "connected").expect("connected");
        assert!(connected < 400.0, "{per_process:?}: {connected}");
        assert_eq!(metric(&v, "refused"), Some(0.0), "{per_process:?}");
        assert_eq!(metric(&v, "timeouts"), Some(0.0), "{per_process:?}");
        assert_eq!(metric(&v, "attempts"), Some(400.0), "{per_process:?}");
    }
}

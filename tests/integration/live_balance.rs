//! `simulate balance --live`: backends behind the load-balancing proxy on
//! loopback, run small through the CLI, checked against the model's report and
//! the textbook figures.

/// Metric, parameter or series names of a JSON report.
fn keys(report: &serde_json::Value, field: &str) -> Vec<String> {
    report[field]
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default()
}

/// The model's and the live run's JSON reports for the same flags.
fn model_and_live(args: &[&str]) -> (serde_json::Value, serde_json::Value) {
    let mut full = vec!["simulate", "balance"];
    full.extend_from_slice(args);
    full.push("--json");
    let model: serde_json::Value =
        serde_json::from_str(&super::swelearn(&full).ok()).expect("model json");
    full.push("--live");
    let live = super::swelearn(&full);
    let live: serde_json::Value = serde_json::from_str(&live.ok()).expect("live json");
    (model, live)
}

fn metric(report: &serde_json::Value, name: &str) -> f64 {
    report["metrics"][name]["value"]
        .as_f64()
        .unwrap_or_else(|| panic!("{name} has no value: {}", report["metrics"]))
}

#[test]
fn balance_live_round_robin_misses_about_s_minus_1_over_s() {
    let (model, live) = model_and_live(&[
        "--clients",
        "60",
        "--servers",
        "4",
        "--policy",
        "round-robin",
        "--lifetime",
        "0.5",
        "--think",
        "0.1",
        "--fail-at",
        "3",
        "--recover-at",
        "4.5",
        "--reconnect-jitter",
        "0.2",
        "--horizon",
        "6",
        "--seed",
        "3",
    ]);
    assert_eq!(
        (&model["backend"], &live["backend"]),
        (&"model".into(), &"live".into())
    );
    assert_eq!(model["scenario"], live["scenario"]);
    let extra = |model: Vec<String>, live: Vec<String>| -> Vec<String> {
        assert!(
            model.iter().all(|k| live.contains(k)),
            "{model:?} in {live:?}"
        );
        live.into_iter().filter(|k| !model.contains(k)).collect()
    };
    assert_eq!(
        extra(keys(&model, "metrics"), keys(&live, "metrics")),
        ["failed_attempts"]
    );
    assert_eq!(
        extra(keys(&model, "parameters"), keys(&live, "parameters")),
        ["time_scale"]
    );
    assert_eq!(keys(&model, "series"), keys(&live, "series"));
    let lens: Vec<usize> = live["series"]
        .as_object()
        .expect("series")
        .values()
        .map(|s| s["values"].as_array().map_or(0, Vec::len))
        .collect();
    assert!(
        lens[0] > 0 && lens.iter().all(|&l| l == lens[0]),
        "{lens:?}"
    );

    // About 60 x 6 s / 0.6 s = 600 connections, 540 of them reconnections: a
    // binomial standard error of 0.02 around (S-1)/S = 0.75; the tolerance is
    // four of them.
    let ratio = metric(&live, "session_miss_ratio");
    assert!((ratio - 0.75).abs() < 0.08, "miss ratio {ratio}");
    let connections = metric(&live, "connections");
    assert!((400.0..=700.0).contains(&connections), "{connections}");
    // Server 3 held about a quarter of the 60 clients when it stopped; each of
    // them was forced to reconnect, and it came back.
    let forced = metric(&live, "reconnects");
    assert!((3.0..=30.0).contains(&forced), "forced {forced}");
    let stranded = metric(&live, "remapped_fraction");
    assert!((stranded - 0.25).abs() < 0.2, "stranded {stranded}");
    assert_eq!(metric(&live, "remapped_back_fraction"), 0.0);
    let live_servers = live["series"]["live_servers"]["values"]
        .as_array()
        .expect("values");
    assert_eq!(live_servers.first().and_then(|v| v.as_f64()), Some(4.0));
    assert!(live_servers.iter().any(|v| v.as_f64() == Some(3.0)));
    assert_eq!(live_servers.last().and_then(|v| v.as_f64()), Some(4.0));
    let imbalance = metric(&live, "imbalance");
    assert!((1.0..2.0).contains(&imbalance), "imbalance {imbalance}");
}

#[test]
fn balance_live_consistent_hash_remaps_about_1_over_s() {
    let (model, live) = model_and_live(&[
        "--clients",
        "200",
        "--servers",
        "4",
        "--policy",
        "consistent-hash",
        "--vnodes",
        "100",
        "--lifetime",
        "1",
        "--think",
        "0.2",
        "--fail-at",
        "2",
        "--recover-at",
        "3.5",
        "--reconnect-jitter",
        "0.2",
        "--horizon",
        "4.5",
        "--seed",
        "11",
    ]);
    // The proxy routes with the model's ring and keys from the same seed, so the
    // clients that move are exactly the model's.
    let remapped = metric(&live, "remapped_fraction");
    assert_eq!(remapped, metric(&model, "remapped_fraction"));
    assert_eq!(
        metric(&live, "remapped_back_fraction"),
        metric(&model, "remapped_back_fraction")
    );
    // 1/S = 0.25; with 200 clients the binomial standard error is 0.03 and 100
    // virtual nodes keep the failed server's arc share within about 0.03 of
    // 1/S: a tolerance of 0.1.
    assert!((remapped - 0.25).abs() < 0.1, "remapped {remapped}");
    // Sticky: only the moved clients miss (when the server leaves and when it
    // returns), far fewer than round-robin's 3/4.
    let ratio = metric(&live, "session_miss_ratio");
    assert!(ratio < 0.4, "miss ratio {ratio}");
    assert!(metric(&live, "session_misses") > 0.0);
    // The proxy takes the backend out of the pool before stopping it, so only
    // attempts already routed to it can fail: a handful at most.
    let failed = metric(&live, "failed_attempts");
    assert!(failed <= 0.05 * metric(&live, "connections"), "{failed}");
}

#[test]
fn balance_live_refuses_runs_beyond_its_bounds() {
    let run = super::swelearn(&["simulate", "balance", "--live"]);
    assert_eq!(run.code(), 2);
    assert!(run.stderr().contains("at most 2000"), "{}", run.stderr());
    let run = super::swelearn(&["simulate", "balance", "--live", "--clients", "100"]);
    assert_eq!(run.code(), 2);
    assert!(
        run.stderr().contains("use --time-scale 2 or more"),
        "{}",
        run.stderr()
    );
    let run = super::swelearn(&["simulate", "balance", "--time-scale", "10"]);
    assert_eq!(run.code(), 2, "--time-scale needs --live");
}

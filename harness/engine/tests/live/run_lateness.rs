//! The harness's trust in its own timing, end to end on the local runtime: a starved harness and a
//! lateness bound it cannot meet give `error` (never a verdict), and `error` runs are retried.

use std::path::{Path, PathBuf};
use std::time::Duration;

use bc_engine::check::Verdict;
use bc_engine::env::RuntimeKind;
use bc_engine::report::{self, Journal, JunitReport, Reporters};
use bc_engine::run::{parse_capabilities, run, RunEvent, RunOptions, ScenarioResult};
use bc_test_support::{harness_bins, workspace_root};
use tokio::sync::{mpsc, watch};

fn suite(dir: &Path) -> PathBuf {
    let config = workspace_root().join("fixtures/config/default.yaml");
    let text = format!(
        "version: 1\nid: late\nagent: agent1001\nconfig: {}\nbudget: 10s\nscenarios:\n  - id: login\n    rules: [BC-4]\n    steps:\n      - expect_logged_in: {{site: B}}\n      - wait: 1s\n",
        config.display()
    );
    let p = dir.join("late.yaml");
    std::fs::write(&p, text).unwrap();
    p
}

fn opts(dir: &Path) -> RunOptions {
    let desktop = harness_bins().join("bc-reference-desktop");
    let mut o = RunOptions::new(vec![suite(dir)], desktop.display().to_string());
    o.runtime = RuntimeKind::Local;
    o.capabilities = parse_capabilities("stat_server").unwrap();
    o.bin_dir = Some(harness_bins());
    o
}

fn never() -> watch::Receiver<bool> {
    let (tx, rx) = watch::channel(false);
    std::mem::forget(tx);
    rx
}

fn finished(events: &[RunEvent]) -> Vec<&ScenarioResult> {
    events
        .iter()
        .filter_map(|e| match e {
            RunEvent::ScenarioFinished { result } => Some(result.as_ref()),
            _ => None,
        })
        .collect()
}

/// One runtime thread for everything: blocking it starves the wake loop and the feeds alike.
#[tokio::test(flavor = "current_thread")]
async fn a_starved_harness_reports_error_not_a_verdict() {
    let tmp = tempfile::tempdir().unwrap();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let starve = async {
        let mut seen = Vec::new();
        while let Some(e) = rx.recv().await {
            // The wait step has begun: the desktop is logged in; now nobody in the harness runs.
            if matches!(e, RunEvent::StepStarted { index: 1, .. }) {
                std::thread::sleep(Duration::from_millis(900));
            }
            seen.push(e);
        }
        seen
    };
    let (res, seen) = tokio::join!(run(opts(tmp.path()), never(), tx), starve);
    res.expect("usable input");
    let r = finished(&seen)[0];
    assert_eq!(r.verdict, Verdict::Error, "{:#?}", r.errors);
    assert!(
        r.errors.iter().any(|e| e.contains("harness overloaded")),
        "{:?}",
        r.errors
    );
    let t = r.timing.expect("timing recorded");
    assert!(t.worst().0 > t.bound_us, "{t:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unmeetable_bound_is_an_error_retried_and_reported() {
    let tmp = tempfile::tempdir().unwrap();
    let mut o = opts(tmp.path());
    // No harness is ever 0 µs late: every attempt is an error, whatever the desktop does.
    o.max_lateness = Duration::ZERO;
    o.retry_errors = 1;
    let reporters = Reporters {
        console: None,
        junit: JunitReport::default(),
        journal: Journal::new(),
        junit_path: Some(tmp.path().join("out/junit.xml")),
        journal_path: Some(tmp.path().join("out/journal.json")),
        html: None,
    };
    let (tx, rx) = mpsc::unbounded_channel();
    let (res, problems) = tokio::join!(run(o, never(), tx), report::drive(rx, reporters));
    assert_eq!(res.expect("usable input").errors, 1);
    assert!(problems.is_empty(), "{problems:?}");
    let journal: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(tmp.path().join("out/journal.json")).unwrap(),
    )
    .unwrap();
    let events = journal["events"].as_array().unwrap();
    assert_eq!(events[0]["retry_errors"], 1);
    let r = events
        .iter()
        .find(|e| e["event"] == "scenario_finished")
        .unwrap();
    let result = &r["result"];
    assert_eq!(result["verdict"], "error");
    assert_eq!(result["retries"], 1);
    let errors = result["errors"].as_array().unwrap();
    assert!(
        errors[0]
            .as_str()
            .unwrap()
            .starts_with("attempt 1 (retried): harness overloaded"),
        "{errors:?}"
    );
    assert!(result["timing"]["decision_lag_us"].is_i64(), "{result}");
    let xml = std::fs::read_to_string(tmp.path().join("out/junit.xml")).unwrap();
    assert!(xml.contains(r#"#retries" value="1""#), "{xml}");
    assert!(xml.contains(r#"name="retry_errors" value="1""#), "{xml}");
    assert!(xml.contains(r#"#harness.decision_lag""#), "{xml}");
}

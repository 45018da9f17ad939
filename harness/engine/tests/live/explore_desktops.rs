//! Exploration against real desktops (local runtime: 12 bc-mock processes behind bc-toxiproxy):
//! the reference desktop survives a fixed seed; faulty ones fail, shrink to a few operations, and
//! the written suite fails the same way when run by the ordinary runner.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bc_engine::check::Verdict;
use bc_engine::env::RuntimeKind;
use bc_engine::explore::{signatures, ExploreOptions, GenConfig, ShrinkLimits};
use bc_engine::report::{self, Journal, JunitReport, Reporters};
use bc_engine::run::{run, RunEvent, RunOptions};
use bc_test_support::{harness_bins, workspace_root};
use tokio::sync::{mpsc, watch};

/// One exploration at a time: each starts 12 mocks and a proxy on a shared 2-core machine.
fn serial() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

fn desktop(defect: Option<&str>) -> String {
    let bin = harness_bins().join("bc-reference-desktop");
    match defect {
        Some(d) => format!("{} --defect {d}", bin.display()),
        None => bin.display().to_string(),
    }
}

struct Explored {
    code: bc_engine::exit::ExitCode,
    report: bc_engine::explore::ExploreReport,
    progress: Vec<String>,
    junit: String,
    journal: serde_json::Value,
    _dir: tempfile::TempDir,
}

fn options(defect: Option<&str>, dir: &Path) -> ExploreOptions {
    let mut o = ExploreOptions::new(desktop(defect));
    o.runtime = RuntimeKind::Local;
    o.bin_dir = Some(harness_bins());
    o.config = Some(workspace_root().join("fixtures/config/default.yaml"));
    o.out_dir = dir.join("failures");
    o.budget = Duration::from_secs(6);
    o.settle = Duration::from_millis(2500);
    // Two environments side by side: cases and shrink candidates run in batches, as by default,
    // without loading the test machine with the default's four.
    o.jobs = Some(2);
    o.shrink = ShrinkLimits {
        max_runs: 10,
        max_time: Duration::from_secs(240),
        ..ShrinkLimits::default()
    };
    o
}

async fn explore(opts: ExploreOptions, dir: tempfile::TempDir) -> Explored {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let sink = lines.clone();
    let opts = ExploreOptions {
        progress: Some(Arc::new(move |l: &str| {
            eprintln!("{l}");
            sink.lock().unwrap().push(l.to_string());
        })),
        ..opts
    };
    let junit = dir.path().join("junit.xml");
    let journal = dir.path().join("journal.json");
    let reporters = Reporters {
        console: None,
        junit: JunitReport::default(),
        journal: Journal::new(),
        junit_path: Some(junit.clone()),
        journal_path: Some(journal.clone()),
        html: None,
    };
    let (_tx, cancel) = watch::channel(false);
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let (res, problems) = tokio::time::timeout(Duration::from_secs(600), async {
        tokio::join!(
            bc_engine::explore::explore(opts, cancel, tx),
            report::drive(rx, reporters)
        )
    })
    .await
    .expect("exploration within 10 minutes");
    let report = res.expect("exploration starts");
    let code = report::exit_code(report.exit_code(), &problems);
    assert!(problems.is_empty(), "{problems:?}");
    let progress = lines.lock().unwrap().clone();
    Explored {
        code,
        report,
        progress,
        junit: std::fs::read_to_string(junit).unwrap(),
        journal: serde_json::from_str(&std::fs::read_to_string(journal).unwrap()).unwrap(),
        _dir: dir,
    }
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    let _g = serial();
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(f)
}

#[test]
fn the_reference_desktop_survives_a_fixed_seed() {
    block_on(reference())
}

async fn reference() {
    let dir = tempfile::tempdir().unwrap();
    let mut o = options(None, dir.path());
    o.seed = 20_261_125;
    o.cases = 3;
    o.gen = GenConfig {
        min_ops: 5,
        max_ops: 10,
        ..GenConfig::default()
    };
    let e = explore(o, dir).await;
    assert!(e.report.failure.is_none(), "{:?}", e.report.failure);
    assert_eq!(
        e.code,
        bc_engine::exit::ExitCode::Success,
        "{:?}",
        e.report.summary
    );
    assert_eq!(e.report.summary.passed, 3, "{:?}", e.report.summary);
    // Seeds and replay commands are printed, one testcase per case in JUnit and the journal.
    for s in [20_261_125u64, 20_261_126, 20_261_127] {
        assert!(
            e.progress.iter().any(|l| l.contains(&format!("seed {s}:"))
                && l.contains(&format!("--seed {s} --cases 1"))),
            "{:?}",
            e.progress
        );
    }
    assert_eq!(e.junit.matches("<testcase ").count(), 3, "{}", e.junit);
    let finished = e.journal["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["event"] == "scenario_finished")
        .count();
    assert_eq!(finished, 3);
}

/// Runs a written suite with the ordinary runner (what `bc-harness run FILE` does).
async fn run_suite(path: &Path, defect: Option<&str>) -> bc_engine::run::ScenarioResult {
    let mut o = RunOptions::new(vec![path.to_path_buf()], desktop(defect));
    o.runtime = RuntimeKind::Local;
    o.bin_dir = Some(harness_bins());
    // An overloaded machine gives `error`, never a verdict: re-run instead of failing the test.
    o.retry_errors = 2;
    let (tx, mut rx) = mpsc::unbounded_channel();
    let (_c, cancel) = watch::channel(false);
    let (res, results) = tokio::join!(run(o, cancel, tx), async {
        let mut v = Vec::new();
        while let Some(e) = rx.recv().await {
            if let RunEvent::ScenarioFinished { result } = e {
                v.push(*result);
            }
        }
        v
    });
    res.expect("the written suite runs");
    assert_eq!(results.len(), 1);
    results.into_iter().next().unwrap()
}

async fn finds_and_shrinks(defect: &str, focus: &[&str], seed: u64, expected: &str) {
    let dir = tempfile::tempdir().unwrap();
    let mut o = options(Some(defect), dir.path());
    o.seed = seed;
    o.cases = 4;
    o.gen = GenConfig {
        min_ops: 5,
        max_ops: 7,
        focus: focus.iter().map(|s| s.to_string()).collect(),
        ..GenConfig::default()
    };
    let e = explore(o, dir).await;
    let f = e
        .report
        .failure
        .clone()
        .unwrap_or_else(|| panic!("{defect}: no failure found; {:?}", e.progress));
    assert_eq!(e.code, bc_engine::exit::ExitCode::Failed);
    assert!(
        f.signature.contains(expected),
        "{defect}: broke {} ({})",
        f.signature,
        f.observed
    );
    assert!(
        f.shrunk_ops <= 3 && f.shrunk_ops < f.original_ops,
        "{defect}: shrunk to {} of {} operations",
        f.shrunk_ops,
        f.original_ops
    );
    let text = std::fs::read_to_string(&f.suite_path).unwrap();
    assert!(text.contains(&format!("# broken: {}", f.check)), "{text}");
    assert!(text.contains(&format!("seed {}", f.case_seed)), "{text}");
    assert!(text.contains("timeline of the last failing run:"), "{text}");
    assert!(text.contains("bc-harness run "), "{text}");
    bc_suite::load_file(&f.suite_path).expect("the written suite is valid");
    let r = run_suite(&f.suite_path, Some(defect)).await;
    assert_eq!(r.verdict, Verdict::Fail, "{defect}: {:?}", r.failures);
    assert!(
        signatures(&r).contains(&f.signature),
        "{defect}: the suite broke {:?}, exploring broke {}",
        signatures(&r),
        f.signature
    );
    // The reproduction blames the defect, not the schedule: the reference desktop passes it.
    let r = run_suite(&f.suite_path, None).await;
    assert_eq!(
        r.verdict,
        Verdict::Pass,
        "reference on {defect}'s suite: {:?}",
        r.failures
    );
}

#[test]
fn no_keepalive_is_found_shrunk_and_reproduced() {
    block_on(finds_and_shrinks(
        "no-keepalive",
        &["black_hole", "freeze_server"],
        7,
        "expect_logged_in",
    ))
}

#[test]
fn dual_login_is_found_shrunk_and_reproduced() {
    block_on(finds_and_shrinks(
        "dual-login",
        &["refuse", "kill_server"],
        17,
        "never_logged_in_at_both_peers",
    ))
}

#[test]
fn switch_on_ha_is_found_shrunk_and_reproduced() {
    block_on(finds_and_shrinks(
        "switch-on-ha",
        &["ha_failover"],
        5,
        "BC-",
    ))
}

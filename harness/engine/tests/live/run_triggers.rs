//! `on:` triggers end to end against the reference desktop: the certification races pass with the
//! fault inside its window (local and Docker runtimes), and a trigger that never fires makes the
//! scenario `inconclusive`, naming it, never `pass`.

use std::path::{Path, PathBuf};

use bc_engine::check::Verdict;
use bc_engine::env::RuntimeKind;
use bc_engine::observe::EntryKind;
use bc_engine::run::{parse_capabilities, run, RunEvent, RunOptions, ScenarioResult};
use bc_test_support::{harness_bins, workspace_root};
use tokio::sync::{mpsc, watch};

fn opts(paths: Vec<PathBuf>, runtime: RuntimeKind) -> RunOptions {
    let desktop = harness_bins().join("bc-reference-desktop");
    let mut o = RunOptions::new(paths, desktop.display().to_string());
    o.runtime = runtime;
    o.capabilities = parse_capabilities("stat_server,auto_answer").unwrap();
    o.bin_dir = Some(harness_bins());
    o.budget = Some(std::time::Duration::from_secs(10));
    o.seed = 19;
    o
}

/// One environment at a time: two of 12 processes each on 2 cores make the harness late, and a
/// late harness rightly answers `error` instead of a verdict.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn results(o: RunOptions) -> Vec<ScenarioResult> {
    let _one = SERIAL.lock().await;
    let (tx, mut rx) = mpsc::unbounded_channel();
    let (_keep, cancel) = watch::channel(false);
    let handle = tokio::spawn(run(o, cancel, tx));
    let mut out = Vec::new();
    while let Some(e) = rx.recv().await {
        if let RunEvent::ScenarioFinished { result } = e {
            out.push(*result);
        }
    }
    handle.await.expect("runner task").expect("usable suites");
    out
}

fn notes(r: &ScenarioResult) -> Vec<String> {
    r.timeline
        .as_ref()
        .map(|t| {
            t.entries
                .iter()
                .filter_map(|e| match &e.kind {
                    EntryKind::Note { message } => Some(message.clone()),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Every race passes and says, on its timeline, that the fault landed inside its window.
fn assert_races_pass(rs: &[ScenarioResult]) {
    assert_eq!(rs.len(), 12, "6 races x 2 preferred sites");
    for r in rs {
        let n = notes(r);
        assert_eq!(
            r.verdict,
            Verdict::Pass,
            "{}: {:?} {:?} {:?}",
            r.info.id,
            r.failures.first().map(|f| &f.observed),
            r.inconclusive,
            r.errors
        );
        assert!(
            n.iter().any(|m| m.contains("inside its window")),
            "{}: no window confirmation in {n:?}",
            r.info.id
        );
        assert!(
            n.iter().any(|m| m.starts_with("trigger latency: ")),
            "{}: no latency in {n:?}",
            r.info.id
        );
    }
}

fn races() -> PathBuf {
    workspace_root().join("suites/certification/bc03-bc05-races.yaml")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn races_pass_on_the_reference_with_the_fault_inside_its_window() {
    assert_races_pass(&results(opts(vec![races()], RuntimeKind::Local)).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn races_pass_on_docker_too() {
    if RuntimeKind::Auto.resolve().await != RuntimeKind::Docker {
        eprintln!("SKIPPED races_pass_on_docker_too: no docker engine answers");
        return;
    }
    assert_races_pass(&results(opts(vec![races()], RuntimeKind::Docker)).await);
}

fn never_fires(dir: &Path) -> PathBuf {
    let config = workspace_root().join("fixtures/config/default.yaml");
    // agent1001 prefers B: it never sends RequestAgentLogin to A's SIP Server.
    let text = format!(
        r#"version: 1
id: triggers
agent: agent1001
config: {config}
scenarios:
  - id: never-fires
    rules: [BC-3]
    steps:
      - start_desktop
      - on: {{desktop_sends: RequestAgentLogin, at: A/sip_server, timeout: 2s}}
      - kill_site: B
      - expect_logged_in: {{site: A}}
"#,
        config = config.display()
    );
    let p = dir.join("triggers.yaml");
    std::fs::write(&p, text).unwrap();
    p
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trigger_that_never_fires_is_inconclusive_and_named() {
    let dir = tempfile::tempdir().unwrap();
    let rs = results(opts(vec![never_fires(dir.path())], RuntimeKind::Local)).await;
    let [r] = rs.as_slice() else {
        panic!("one run expected, got {}", rs.len())
    };
    assert_eq!(r.verdict, Verdict::Inconclusive, "{:?}", r.errors);
    assert_eq!(
        r.inconclusive,
        vec![
            "trigger `on desktop_sends RequestAgentLogin at A/sip_server (nth 1)` never fired within 2s"
                .to_string()
        ]
    );
    // The steps after the trigger did not run: no site was killed.
    let faults = r
        .timeline
        .as_ref()
        .unwrap()
        .entries
        .iter()
        .filter(|e| matches!(e.kind, EntryKind::Fault { .. }))
        .count();
    assert_eq!(faults, 0);
}

/// A race is the desktop's only while it still waits for the held answer: a fault that takes
/// effect later than the harness's bound after the message was seen makes the scenario `error`
/// (a bound of 1 ms, which no real injection meets, stands in for a starved machine).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fault_later_than_the_bound_after_its_trigger_is_the_harness_s_error() {
    let mut o = opts(vec![races()], RuntimeKind::Local);
    o.filter = Some("sip-failover-during-login".into());
    o.max_lateness = std::time::Duration::from_millis(1);
    let rs = results(o).await;
    assert_eq!(rs.len(), 2, "one race x 2 preferred sites");
    for r in &rs {
        assert_eq!(r.verdict, Verdict::Error, "{}: {:?}", r.info.id, r.errors);
        assert!(
            r.errors
                .iter()
                .any(|e| e.starts_with("harness overloaded: ")
                    && e.contains("the fault took effect")
                    && e.contains("the desktop may have stopped waiting")),
            "{}: {:?}",
            r.info.id,
            r.errors
        );
    }
}

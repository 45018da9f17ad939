//! End to end: the runner against the real reference desktop on the local runtime (12 bc-mock
//! processes behind bc-toxiproxy), checking verdicts, JUnit XML, journal and exit codes.

use std::path::{Path, PathBuf};
use std::time::Duration;

use bc_engine::check::Verdict;
use bc_engine::env::{EnvConfig, Environment, InstanceId, RuntimeKind, Topology};
use bc_engine::exit::ExitCode;
use bc_engine::report::{self, Journal, JunitReport, Reporters};
use bc_engine::run::{parse_capabilities, run, RunError, RunOptions};
use bc_test_support::{harness_bins, workspace_root};
use tokio::sync::watch;

use crate::meddle;

fn suite(dir: &Path) -> PathBuf {
    let config = workspace_root().join("fixtures/config/default.yaml");
    let text = format!(
        r#"version: 1
id: e2e
agent: agent1001
config: {config}
budget: 10s
scenarios:
  - id: kill-preferred
    rules: [BC-4, BC-5]
    steps:
      - expect_logged_in: {{site: B}}
      - kill_site: B
      - expect_logged_in: {{site: A, measure: to_a}}
    invariants:
      - never_logged_in_at_both_peers
      - never_split: {{longer_than: 5s}}
  - id: impossible
    rules: [BC-9]
    steps:
      - expect_logged_in: {{site: B}}
      - kill_site: A
      - kill_site: B
      - expect_logged_in: {{site: A, within: 1s}}
  - id: needs-failback
    rules: [BC-12]
    requires: [failback]
    steps:
      - expect_logged_in: {{site: B}}
"#,
        config = config.display()
    );
    let p = dir.join("e2e.yaml");
    std::fs::write(&p, text).unwrap();
    p
}

fn opts(paths: Vec<PathBuf>, desktop: String) -> RunOptions {
    let mut o = RunOptions::new(paths, desktop);
    o.runtime = RuntimeKind::Local;
    o.capabilities = parse_capabilities("stat_server,auto_answer").unwrap();
    o.bin_dir = Some(harness_bins());
    o.seed = 7;
    o
}

fn reporters(dir: &Path) -> Reporters {
    Reporters {
        console: None,
        junit: JunitReport::default(),
        journal: Journal::new(),
        junit_path: Some(dir.join("out/junit.xml")),
        journal_path: Some(dir.join("out/journal.json")),
        html: None,
    }
}

/// A run wired to its reports, as the command line does it.
async fn run_and_report(
    opts: RunOptions,
    reporters: Reporters,
    cancel: watch::Receiver<bool>,
) -> Result<(ExitCode, Vec<String>), RunError> {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let (res, problems) = tokio::join!(run(opts, cancel, tx), report::drive(rx, reporters));
    res.map(|s| (report::exit_code(s.exit_code(), &problems), problems))
}

fn never() -> watch::Receiver<bool> {
    let (tx, rx) = watch::channel(false);
    std::mem::forget(tx);
    rx
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reference_desktop_suite_verdicts_and_junit() {
    let tmp = tempfile::tempdir().unwrap();
    let desktop = harness_bins()
        .join("bc-reference-desktop")
        .display()
        .to_string();
    let run = run_and_report(
        opts(vec![suite(tmp.path())], desktop),
        reporters(tmp.path()),
        never(),
    );
    let (code, problems) = tokio::time::timeout(Duration::from_secs(120), run)
        .await
        .expect("run finished")
        .expect("usable input");
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(code, ExitCode::Failed, "one scenario is built to fail");

    // The desktop is identified by its program file's hash and the version it reports.
    let journal = std::fs::read_to_string(tmp.path().join("out/journal.json")).unwrap();
    let journal: serde_json::Value = serde_json::from_str(&journal).unwrap();
    let id = &journal["events"][0]["desktop_identity"];
    assert_eq!(id["version"], "bc-reference-desktop 0.1.0", "{id}");
    let program = harness_bins().join("bc-reference-desktop");
    let expected = bc_engine::run::identity::sha256_file(&program).unwrap();
    assert_eq!(id["sha256"], expected.as_str(), "{id}");

    let xml = std::fs::read_to_string(tmp.path().join("out/junit.xml")).unwrap();
    assert!(
        xml.contains(r#"<testsuite name="e2e" tests="3" skipped="1" errors="0" failures="1""#),
        "{xml}"
    );
    assert!(
        xml.contains(r#"<testcase name="e2e/kill-preferred [BC-4, BC-5]""#),
        "{xml}"
    );
    assert!(
        xml.contains(r#"<testcase name="e2e/needs-failback [BC-12]""#),
        "{xml}"
    );
    // The default (junit-10.xsd) flavour keys a run's facts by its id in the suite's properties.
    assert!(xml.contains(r#"#measured.to_a""#), "{xml}");
    assert!(xml.contains(r#"#seed" value="7""#), "{xml}");
    // The failure names the expectation, its deadline and what was seen instead.
    let fail = xml
        .split(r#"<testcase name="e2e/impossible [BC-9]""#)
        .nth(1)
        .expect("impossible case");
    assert!(fail.contains("<failure"), "{fail}");
    assert!(fail.contains("expect_logged_in A"), "{fail}");
    assert!(fail.contains("deadline: +"), "{fail}");
    assert!(fail.contains("not logged in at A"), "{fail}");
    assert!(fail.contains("FAULT #2 kill_site B"), "{fail}");
    assert!(xml.contains("desktop lacks capability failback"), "{xml}");

    let journal: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(tmp.path().join("out/journal.json")).unwrap(),
    )
    .unwrap();
    let finished: Vec<&serde_json::Value> = journal["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["event"] == "scenario_finished")
        .collect();
    assert_eq!(finished.len(), 3);
    let pass = finished
        .iter()
        .find(|e| e["result"]["info"]["scenario_id"] == "kill-preferred")
        .unwrap();
    assert_eq!(pass["result"]["verdict"], "pass");
    let entries = pass["result"]["timeline"]["entries"].as_array().unwrap();
    assert!(
        entries.iter().any(|e| e["entry"] == "fault"),
        "timeline has the fault"
    );
    assert!(entries
        .iter()
        .any(|e| e["entry"] == "observed" && e["event"]["kind"] == "agent_login"));
    // The step's own kill_site is the harness's doing: no infrastructure entry, no error.
    assert!(
        !entries.iter().any(|e| e["entry"] == "infra"),
        "a requested kill was flagged: {entries:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn defect_never_switches_fails_bc4_and_usage_errors_are_reported() {
    let tmp = tempfile::tempdir().unwrap();
    let desktop = format!(
        "{} --defect never-switches",
        harness_bins().join("bc-reference-desktop").display()
    );
    let mut o = opts(vec![suite(tmp.path())], desktop);
    o.filter = Some("kill-preferred".into());
    let (code, _) = tokio::time::timeout(
        Duration::from_secs(120),
        run_and_report(o, reporters(tmp.path()), never()),
    )
    .await
    .expect("run finished")
    .expect("usable input");
    assert_eq!(code, ExitCode::Failed);
    let xml = std::fs::read_to_string(tmp.path().join("out/junit.xml")).unwrap();
    assert!(
        xml.contains(r#"tests="1""#) && xml.contains("<failure"),
        "{xml}"
    );

    // Unusable input never starts an environment.
    let bad = run_and_report(
        opts(vec![tmp.path().join("missing.yaml")], "true".into()),
        reporters(tmp.path()),
        never(),
    )
    .await;
    assert!(bad.unwrap_err().to_string().contains("missing.yaml"));
    let bad = run_and_report(
        opts(vec![suite(tmp.path())], "/no/such/desktop".into()),
        reporters(tmp.path()),
        never(),
    )
    .await;
    assert!(bad.unwrap_err().to_string().contains("not found"));
}

fn one_scenario_suite(dir: &Path, steps: &str) -> PathBuf {
    let config = workspace_root().join("fixtures/config/default.yaml");
    let text = format!(
        "version: 1\nid: e2e-one\nagent: agent1001\nconfig: {}\nbudget: 10s\nscenarios:\n  - id: only\n    rules: [BC-4]\n    steps:\n{steps}",
        config.display()
    );
    let p = dir.join("one.yaml");
    std::fs::write(&p, text).unwrap();
    p
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn early_desktop_exit_is_a_failure_with_its_log_tail() {
    let tmp = tempfile::tempdir().unwrap();
    let suite = one_scenario_suite(tmp.path(), "      - expect_logged_in: {site: B}\n");
    let desktop = r#"/bin/sh -c "echo reading configuration; echo boom >&2; exit 7""#.to_string();
    let (code, _) = tokio::time::timeout(
        Duration::from_secs(60),
        run_and_report(opts(vec![suite], desktop), reporters(tmp.path()), never()),
    )
    .await
    .expect("run finished")
    .expect("usable input");
    assert_eq!(code, ExitCode::Failed);
    let xml = std::fs::read_to_string(tmp.path().join("out/junit.xml")).unwrap();
    assert!(xml.contains("desktop exited early with code 7"), "{xml}");
    assert!(xml.contains("boom"), "{xml}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interrupt_heals_kills_and_reports_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    let suite = one_scenario_suite(
        tmp.path(),
        "      - expect_logged_in: {site: B}\n      - kill_site: B\n      - wait: 60s\n",
    );
    let desktop = harness_bins()
        .join("bc-reference-desktop")
        .display()
        .to_string();
    let (tx, rx) = watch::channel(false);
    let t0 = std::time::Instant::now();
    let run = tokio::spawn(run_and_report(
        opts(vec![suite], desktop),
        reporters(tmp.path()),
        rx,
    ));
    // Interrupt once the fault is in place (the scenario then waits 60 s).
    tokio::time::sleep(Duration::from_secs(4)).await;
    tx.send(true).unwrap();
    let (code, _) = tokio::time::timeout(Duration::from_secs(30), run)
        .await
        .expect("stopped promptly")
        .unwrap()
        .unwrap();
    assert!(t0.elapsed() < Duration::from_secs(40));
    assert_eq!(code, ExitCode::HarnessError);
    let journal: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(tmp.path().join("out/journal.json")).unwrap(),
    )
    .unwrap();
    let events = journal["events"].as_array().unwrap();
    let result = &events
        .iter()
        .find(|e| e["event"] == "scenario_finished")
        .unwrap()["result"];
    assert_eq!(result["verdict"], "error");
    assert!(result["errors"][0]
        .as_str()
        .unwrap()
        .contains("interrupted"));
    let finished = events
        .iter()
        .find(|e| e["event"] == "run_finished")
        .unwrap();
    assert_eq!(finished["summary"]["interrupted"], true);
    // The desktop process is gone.
    let entries = result["timeline"]["entries"].as_array().unwrap();
    let pid = entries.iter().find(|e| e["desktop"] == "started").unwrap()["pid"]
        .as_u64()
        .unwrap();
    assert!(
        !Path::new(&format!("/proc/{pid}")).exists(),
        "desktop {pid} still running"
    );
}

/// A local environment of the default topology (two sites, Stat Servers).
async fn local_env() -> Environment {
    let topology = Topology::load(workspace_root().join("fixtures/config/default.yaml")).unwrap();
    let mut cfg = EnvConfig::new(topology).with_runtime(RuntimeKind::Local);
    cfg.bin_dir = Some(harness_bins());
    Environment::start(cfg).await.expect("environment starts")
}

/// SIGKILL from outside the harness, as a crash or an operator would.
fn sigkill(pid: u32) {
    // SAFETY: a plain syscall on a process this test's environment started.
    assert_eq!(unsafe { libc::kill(pid as i32, libc::SIGKILL) }, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fault_proxy_killed_behind_the_harness_is_an_infrastructure_error() {
    let mut env = local_env().await;
    let pid = env.runtime().proxy_watch().borrow().pid.expect("proxy pid");
    let sc = meddle::planned(meddle::HA_SUITE, meddle::SIP_FAILOVER_A);
    // Step 2 waits 30 s for the agent to stay logged in: the proxy dies during it.
    let r = meddle::run_meddled(&mut env, &sc, 2, async move { sigkill(pid) }).await;
    eprintln!("errors: {:?}\nfailures: {:?}", r.errors, r.failures);
    assert_eq!(r.verdict, Verdict::Error, "{:?} {:?}", r.errors, r.failures);
    assert!(
        r.errors[0]
            .starts_with("infrastructure: the fault proxy exited unexpectedly (signal 9) at +"),
        "{:?}",
        r.errors
    );
    let infra = meddle::infra_entries(&r);
    assert_eq!(infra.len(), 1, "{infra:?}");
    assert!(
        infra[0]
            .1
            .contains("INFRA fault proxy exited unexpectedly (signal 9)"),
        "{infra:?}"
    );
    let xml = meddle::junit_of(&r);
    assert!(xml.contains("<error"), "{xml}");
    assert!(!xml.contains("<failure"), "{xml}");
    assert!(
        xml.contains("infrastructure: the fault proxy exited unexpectedly (signal 9)"),
        "{xml}"
    );
    let _ = env.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mock_no_step_touches_killed_is_an_error_and_the_steps_kill_is_not() {
    let mut env = local_env().await;
    let stat_a = InstanceId::new(
        "A",
        bc_protocol::ServerKind::StatServer,
        bc_protocol::Role::Primary,
    );
    let pid = env.instance_status(&stat_a).unwrap().pid.expect("pid");
    let sc = meddle::planned(meddle::HA_SUITE, meddle::SIP_FAILOVER_A);
    // The desktop reconnects to the Stat Server backup and would pass: the environment left the
    // plan all the same. Step 1's ha_failover killed A's SIP Server primary: requested, not flagged.
    let r = meddle::run_meddled(&mut env, &sc, 2, async move { sigkill(pid) }).await;
    eprintln!("errors: {:?}\nfailures: {:?}", r.errors, r.failures);
    assert_eq!(r.verdict, Verdict::Error, "{:?} {:?}", r.errors, r.failures);
    assert!(
        r.errors[0].starts_with(
            "infrastructure: A.stat_server.primary exited unexpectedly (signal 9) at +"
        ),
        "{:?}",
        r.errors
    );
    let infra = meddle::infra_entries(&r);
    assert_eq!(infra.len(), 1, "only the Stat Server: {infra:?}");
    assert_eq!(infra[0].0, "A.stat_server.primary");
    assert!(
        infra[0]
            .1
            .contains("INFRA A.stat_server.primary exited unexpectedly (signal 9)"),
        "{infra:?}"
    );
    let _ = env.shutdown().await;
}

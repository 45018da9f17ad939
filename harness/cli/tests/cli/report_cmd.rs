//! `bc-harness report`: the HTML page from a journal (an old one without the newer run facts too),
//! again from that page's embedded journal, and unreadable input as a usage error.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn run(args: &[&Path]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_bc-harness"))
        .arg("report")
        .args(args)
        .output()
        .expect("bc-harness runs")
}

/// A journal as an older harness wrote it: `run_started` without suites, filter or version.
fn old_journal() -> String {
    let fixture = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/timelines/kill-site-switchover.json");
    let timeline = std::fs::read_to_string(fixture).unwrap();
    format!(
        r#"{{"version":1,"events":[
{{"event":"run_started","to_run":1,"skipped":0,"jobs":1,"desktop":"desk --config {{config}}","runtime":"local","seed":7,"capabilities":["stat_server"],"started_us":1764000000000000}},
{{"event":"scenario_finished","result":{{"info":{{"id":"s/kill-site[preferred=A]","suite_id":"s","file":"suites/s.yaml","scenario_id":"kill-site","rules":["BC-4"],"budget_ms":10000}},"verdict":"pass","started_us":1764000000000000,"duration_ms":13000,"seed":7,"runtime":"local","timeline":{timeline}}}}},
{{"event":"run_finished","summary":{{"passed":1,"failed":0,"inconclusive":0,"errors":0,"skipped":0,"interrupted":false}},"duration_ms":13100}}]}}"#
    )
}

#[test]
fn report_renders_a_journal_and_its_own_page_again() {
    let dir = tempfile::tempdir().unwrap();
    let (journal, first, second) = (
        dir.path().join("j.json"),
        dir.path().join("a.html"),
        dir.path().join("b.html"),
    );
    std::fs::write(&journal, old_journal()).unwrap();
    let out = run(&[&journal, Path::new("--html"), &first]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let page = std::fs::read_to_string(&first).unwrap();
    assert!(page.contains("data-scenario=\"s/kill-site[preferred=A]\""));
    assert!(
        page.contains("not recorded (older journal)"),
        "missing facts are said to be missing"
    );
    assert!(
        page.contains("bc-harness run suites/s.yaml --desktop"),
        "replay from the suite files"
    );
    let out = run(&[&first, Path::new("--html"), &second]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(&second).unwrap(),
        page,
        "the embedded journal gives the same page"
    );
}

#[test]
fn unreadable_input_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("x.html");
    std::fs::write(&page, "<html><body>no journal</body></html>").unwrap();
    let out = run(&[&page, Path::new("--html"), &dir.path().join("y.html")]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no embedded journal"));
    let out = run(&[
        &dir.path().join("missing.json"),
        Path::new("--html"),
        &dir.path().join("y.html"),
    ]);
    assert_eq!(out.status.code(), Some(2));
}

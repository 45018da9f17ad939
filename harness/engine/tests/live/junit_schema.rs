//! The default JUnit validates against the Jenkins xunit plugin's `junit-10.xsd` (fixtures/junit)
//! with `xmllint --schema`, for a run holding every verdict kind and hostile desktop output.

use crate::html_support;

use std::path::PathBuf;
use std::process::Command;

use bc_engine::check::Verdict;
use bc_engine::event::{HarnessTiming, ScenarioResult};
use bc_engine::report::junit::{Flavour, JunitReport};
use html_support::{invariants, journal, logged_in, result};

/// Desktop output a real desktop could write: escapes, NUL, a bell, bytes that are not UTF-8
/// (decoded lossily, as the process output reader does), markup.
fn hostile() -> Vec<String> {
    let raw = b"nul\x00 bell\x07 esc\x1b[31mred\x1b[0m bad\xff\xfe utf8 </system-out> ]]> <&>";
    vec![
        String::from_utf8_lossy(raw).into_owned(),
        "form feed\x0c vertical tab\x0b del\x7f".into(),
    ]
}

/// One result of each verdict kind: pass and fail and inconclusive from recorded timelines
/// replayed through the checkers, error as the runner makes it for an overloaded harness,
/// skipped as the planner makes it for an inapplicable run.
fn every_verdict() -> Vec<ScenarioResult> {
    let mut pass_checks = invariants();
    pass_checks.push(logged_in("B", 5_000, 2));
    let pass = result("kill-site-switchover", &["BC-4", "BC-5"], &pass_checks);
    let mut fail_checks = invariants();
    fail_checks.push(logged_in("B", 5_000, 2));
    let fail = result("never-switches", &["BC-4"], &fail_checks);
    let mut inconclusive = result("lost-events", &["BC-1"], &invariants());
    let mut error = result("quiet", &["BC-6"], &invariants());
    let timing = HarnessTiming {
        decision_lag_us: 900_000,
        bound_us: 500_000,
        ..HarnessTiming::default()
    };
    error
        .errors
        .push(timing.overloaded().expect("past the bound"));
    error.timing = Some(timing);
    error.verdict = error.verdict.worsen(Verdict::Error);
    let mut skipped = ScenarioResult::skipped(
        error.info.clone(),
        "needs capability stat_server, not declared".into(),
        7,
    );
    skipped.info.id = "fixtures/needs-stat-server".into();
    skipped.info.scenario_id = "needs-stat-server".into();
    inconclusive.log_tail = hostile();
    let mut all = vec![pass, fail, inconclusive, error, skipped];
    for r in &mut all {
        if r.verdict != Verdict::Skipped {
            r.log_tail.extend(hostile());
        }
    }
    all
}

fn xml(results: Vec<ScenarioResult>, flavour: Flavour) -> String {
    let j = journal(results);
    let mut junit = JunitReport::new(flavour);
    for e in j.events() {
        junit.event(e);
    }
    junit.to_xml()
}

/// `xmllint --schema` on `xml`; `None` when xmllint is not installed.
fn xmllint(xml: &str, name: &str) -> Option<(bool, String)> {
    let xsd = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/junit/junit-10.xsd");
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("junit_schema");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join(name);
    std::fs::write(&file, xml).unwrap();
    let out = Command::new("xmllint")
        .arg("--noout")
        .arg("--schema")
        .arg(&xsd)
        .arg(&file)
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stderr).into_owned();
    Some((out.status.success(), text))
}

#[test]
fn default_junit_validates_against_junit_10_xsd() {
    let results = every_verdict();
    let kinds: Vec<&str> = results.iter().map(|r| r.verdict.as_str()).collect();
    assert_eq!(
        kinds,
        ["pass", "fail", "inconclusive", "error", "skipped"],
        "the fixture run must hold every verdict kind"
    );
    let x = xml(results, Flavour::Strict);
    let Some((valid, text)) = xmllint(&x, "strict.xml") else {
        eprintln!("SKIPPED: xmllint not found (Debian: apt-get install libxml2-utils)");
        return;
    };
    assert!(
        valid,
        "default JUnit is not valid junit-10.xsd:\n{text}\n{x}"
    );
    // What the schema moved: the measurements are still there, keyed by run id.
    assert!(
        x.contains("fixtures/kill-site-switchover#measured.switchover"),
        "{x}"
    );
    assert!(x.contains("<failure") && x.contains("<error") && x.contains("<skipped"));
}

#[test]
fn rich_flavour_is_what_the_strict_schema_rejects() {
    // The check above can fail: the rich form, with testcase properties, is refused.
    let x = xml(every_verdict(), Flavour::Rich);
    let Some((valid, text)) = xmllint(&x, "rich.xml") else {
        eprintln!("SKIPPED: xmllint not found (Debian: apt-get install libxml2-utils)");
        return;
    };
    assert!(!valid, "rich JUnit unexpectedly valid");
    assert!(
        text.contains("properties") || text.contains("skipped"),
        "{text}"
    );
}

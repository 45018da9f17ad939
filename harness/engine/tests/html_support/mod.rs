//! Shared by the HTML report tests: scenario results made by replaying the recorded timelines
//! (fixtures/timelines) through the pure checkers, and a run's events around them.

use std::path::PathBuf;

use bc_engine::check::{replay, Activation, CheckSpec, MeasureSpec, Status};
use bc_engine::event::{RunEvent, ScenarioInfo, ScenarioResult, Summary};
use bc_engine::observe::Timeline;
use bc_engine::report::Journal;
use bc_protocol::ServerKind;

pub fn load(name: &str) -> Timeline {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/timelines")
        .join(format!("{name}.json"));
    Timeline::load(&p).unwrap_or_else(|e| panic!("{e}"))
}

pub fn logged_in(site: &str, within_ms: u64, step: usize) -> (Activation, CheckSpec) {
    let servers = ServerKind::ALL.to_vec();
    let from = "kill_site".to_string();
    let spec = CheckSpec::LoggedIn {
        site: Some(site.into()),
        servers,
        within_ms,
        from,
        measure: None,
    };
    (Activation::Step(step), spec)
}

pub fn invariants() -> Vec<(Activation, CheckSpec)> {
    [
        CheckSpec::NeverLoggedInAtBothPeers,
        CheckSpec::NeverSplit {
            longer_than_ms: 5_000,
        },
        CheckSpec::MaxSwitchovers {
            count: 1,
            per_ms: 30_000,
        },
        CheckSpec::NoSwitchoverOnHaFailover,
        CheckSpec::DesktopAlive,
    ]
    .into_iter()
    .map(|c| (Activation::Start, c))
    .collect()
}

/// The result of replaying `fixture` through `checks`, as the runner would report it.
pub fn result(fixture: &str, rules: &[&str], checks: &[(Activation, CheckSpec)]) -> ScenarioResult {
    let t = load(fixture);
    let o = replay(
        &t,
        checks,
        &[MeasureSpec::Switchover, MeasureSpec::Detection],
    );
    let failures = o.checks.iter().filter_map(|c| match &c.status {
        Status::Fail(f) => Some(f.clone()),
        _ => None,
    });
    let start = t.start_us().unwrap_or(0);
    let info = ScenarioInfo {
        id: format!("fixtures/{fixture}"),
        suite_id: "fixtures".into(),
        file: "fixtures/timelines".into(),
        scenario_id: fixture.into(),
        title: Some(format!("recorded timeline {fixture}")),
        rules: rules.iter().map(|r| r.to_string()).collect(),
        preferred_site: None,
        budget_ms: 10_000,
    };
    let mut r = ScenarioResult::skipped(info, String::new(), 7);
    r.skip_reason = None;
    r.verdict = o.verdict;
    r.failures = failures.collect();
    r.checks = o.checks;
    r.measurements = o.measurements;
    r.started_us = start;
    r.duration_ms = ((t.end_us().unwrap_or(start) - start) / 1000) as u64;
    r.log_tail = vec!["desktop says <hello> & \u{1b}[1mbold".into()];
    r.runtime = "local".into();
    r.timeline = Some(t);
    r
}

/// A run's events around these results.
pub fn journal(results: Vec<ScenarioResult>) -> Journal {
    let mut j = Journal::new();
    j.event(&RunEvent::RunStarted {
        to_run: results.len(),
        skipped: 0,
        jobs: 1,
        desktop: "target/debug/bc-reference-desktop --config {config}".into(),
        runtime: "local".into(),
        seed: 7,
        budget_ms: Some(10_000),
        capabilities: vec!["stat_server".into()],
        started_us: 1_764_770_400_000_000,
        suites: vec!["fixtures/timelines".into()],
        retry_errors: 0,
        filter: None,
        harness_version: "0.1.0".into(),
        timers: None,
        desktop_identity: Some(bc_engine::event::identity::DesktopIdentity {
            program: "/opt/desk/bc-reference-desktop".into(),
            sha256: Some("ab".repeat(32)),
            version: Some("bc-reference-desktop 0.1.0".into()),
        }),
        suite_hash: "cd".repeat(32),
        partition: None,
        plan: Vec::new(),
        repeat: None,
        pass_policy: None,
        max_lateness_ms: None,
    });
    let mut summary = Summary::default();
    for r in results {
        summary.add(r.verdict);
        j.event(&RunEvent::ScenarioFinished {
            result: Box::new(r),
        });
    }
    j.event(&RunEvent::RunFinished {
        summary,
        duration_ms: 1234,
    });
    j
}

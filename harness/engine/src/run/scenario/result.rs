//! The result of a finished scenario: the evaluator's outcome with the harness errors, failures,
//! inconclusive reasons, measurements, the desktop's log tail and the timeline.

use std::time::Instant;

use super::driver::Driver;
use super::infra::infra_errors;
use crate::check::{inconclusive_reasons, Outcome, Status, Verdict};
use crate::event::verdict::{verdict_with_errors, STANDS};
use crate::event::{ScenarioInfo, ScenarioResult};

/// What the result carries besides what the driver knows.
pub(super) struct Run {
    pub info: ScenarioInfo,
    pub started: Instant,
    pub seed: u64,
    pub runtime: String,
    /// When the steps ended (before the teardown, whose entries still count).
    pub end_us: i64,
}

/// Concludes the evaluation at the end of the scenario (unless `concluded` already) and builds
/// its result.
pub(super) fn build(d: &mut Driver<'_>, run: Run, concluded: Option<Outcome>) -> ScenarioResult {
    let outcome = concluded.unwrap_or_else(|| d.ev.finish(run.end_us));
    // The infrastructure's errors come first: the JUnit `<error>` quotes the first one.
    let mut errors = infra_errors(d.ev.timeline());
    errors.extend(d.errors.iter().cloned());
    // The worst lateness of the whole scenario, not the first that crossed the bound.
    errors.extend(d.pace.timing.overloaded());
    let mut failures = Vec::new();
    let mut inconclusive = inconclusive_reasons(&outcome.checks);
    for c in &outcome.checks {
        match &c.status {
            Status::Fail(f) => failures.push(f.clone()),
            Status::Error { reason } => errors.push(format!("{}: {reason}", c.spec.describe())),
            _ => {}
        }
    }
    let mut verdict = verdict_with_errors(outcome.verdict, &failures, &errors);
    if verdict == Verdict::Fail && !errors.is_empty() {
        errors.push(STANDS.into());
    }
    if !d.inconclusive.is_empty() {
        verdict = verdict.worsen(Verdict::Inconclusive);
        inconclusive.extend(d.inconclusive.iter().cloned());
    }
    ScenarioResult {
        info: run.info,
        verdict,
        failures,
        errors,
        inconclusive,
        skip_reason: None,
        checks: outcome.checks,
        measurements: outcome.measurements,
        started_us: d.start_us,
        duration_ms: run.started.elapsed().as_millis() as u64,
        log_tail: d.log_tail.clone(),
        seed: run.seed,
        runtime: run.runtime,
        timeline: Some(d.ev.timeline().clone()),
        timing: Some(d.pace.timing),
        retries: 0,
    }
}

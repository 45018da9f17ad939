//! `run --repeat K --herd-of N`: each repeated run's synthesised herd (`check::fleet::synth`)
//! reported as a run of its own, so that every report and the exit code carry it.

use std::collections::BTreeMap;

use tokio::sync::mpsc;

use crate::check::fleet::synth::{judge, sample, Sample};
use crate::check::{Activation, CheckSpec, Registered, Status, Verdict};
use crate::event::repeat;
use crate::event::{RunEvent, ScenarioInfo, ScenarioResult, Summary};

/// Reports the synthesised herd of each repeated run as a run of its own, counted in `summary`.
pub(super) fn add(
    finished: &mut Vec<ScenarioResult>,
    summary: &mut Summary,
    sink: &mpsc::UnboundedSender<RunEvent>,
    agents: u32,
    seed: u64,
) {
    for r in herds(finished, agents, seed) {
        summary.add(r.verdict);
        let _ = sink.send(RunEvent::ScenarioFinished {
            result: Box::new(r.clone()),
        });
        finished.push(r);
    }
}

/// The synthesised herd of each repeated run (`--herd-of`), from its repetitions' timelines.
fn herds(results: &[ScenarioResult], agents: u32, seed: u64) -> Vec<ScenarioResult> {
    by_run(results)
        .into_iter()
        .filter_map(|(id, reps)| result(id, &reps, agents, seed))
        .collect()
}

/// The repetitions of each repeated run, by run id.
pub(super) fn by_run(results: &[ScenarioResult]) -> BTreeMap<&str, Vec<&ScenarioResult>> {
    let mut by_run: BTreeMap<&str, Vec<&ScenarioResult>> = BTreeMap::new();
    for r in results {
        if let (base, Some(_)) = repeat::split_id(&r.info.id) {
            by_run.entry(base).or_default().push(r);
        }
    }
    by_run
}

/// The samples of the repetitions that measured the desktop: a repetition that ended in `error`
/// (or was not run) is no measurement of it.
pub(super) fn measured(repetitions: &[&ScenarioResult]) -> Vec<Sample> {
    repetitions
        .iter()
        .filter(|r| matches!(r.verdict, Verdict::Pass | Verdict::Fail))
        .filter_map(|r| r.timeline.as_ref().and_then(sample))
        .collect()
}

/// The synthesised herd of a repeated run as a result of its own (`RUN-ID (herd of N from K
/// runs)`), so that every report and the exit code carry it like any run: HERD-1 within the run's
/// budget and HERD-2, their failures naming their rules. `None` when no repetition ran.
fn result(
    id: &str,
    repetitions: &[&ScenarioResult],
    agents: u32,
    seed: u64,
) -> Option<ScenarioResult> {
    let first = repetitions.first()?;
    let samples = measured(repetitions);
    let budget_ms = first.info.budget_ms;
    let [h1, h2] = judge(
        &samples,
        agents as usize,
        i64::try_from(budget_ms).unwrap_or(i64::MAX / 1000) * 1000,
    );
    let specs = [
        CheckSpec::HerdLoggedIn {
            agents,
            within_ms: budget_ms,
        },
        CheckSpec::HerdBurst {
            agents,
            window_ms: 100,
            max_percent: 20,
        },
    ];
    let mut checks = Vec::new();
    let mut failures = Vec::new();
    for (spec, mut status) in specs.into_iter().zip([h1, h2]) {
        if let Status::Fail(f) = &mut status {
            f.rules = spec
                .own_rule()
                .map(|r| vec![r.to_string()])
                .unwrap_or_default();
            f.expected = format!(
                "{} (a floor of {agents} synthesised from {} measured runs of one desktop)",
                spec.expected(),
                samples.len()
            );
            failures.push(f.clone());
        }
        checks.push(Registered {
            spec,
            activation: Activation::Start,
            status,
        });
    }
    // Either check undecided makes the herd inconclusive: a pass of the other is not a herd's pass.
    let verdict = checks.iter().fold(Verdict::Pass, |v, c| match c.status {
        Status::Pass => v,
        Status::Fail(_) => v.worsen(Verdict::Fail),
        _ => v.worsen(Verdict::Inconclusive),
    });
    let inconclusive = crate::check::inconclusive_reasons(&checks);
    Some(ScenarioResult {
        info: ScenarioInfo {
            id: format!("{} (herd of {agents} from {} runs)", id, repetitions.len()),
            rules: vec!["HERD-1".into(), "HERD-2".into()],
            ..first.info.clone()
        },
        verdict,
        failures,
        errors: Vec::new(),
        inconclusive,
        skip_reason: None,
        checks,
        measurements: Vec::new(),
        started_us: first.started_us,
        duration_ms: 0,
        log_tail: Vec::new(),
        seed,
        runtime: first.runtime.clone(),
        timeline: None,
        timing: None,
        retries: 0,
    })
}

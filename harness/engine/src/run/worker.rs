//! The workers of a run: each takes planned scenarios off one shared queue and runs them in its
//! session (retrying errors, stopping repeats, keeping a failed environment); events go to one sink.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use bc_suite::PlannedScenario;
use tokio::sync::{mpsc, watch};

use super::keep::KeepSlot;
use super::load::PlannedRun;
use super::scenario::{info, INTERRUPTED};
use super::session::Session;
use crate::check::Verdict;
use crate::event::repeat;
use crate::event::{RunEvent, ScenarioResult, Summary};

/// What the workers share: the queue, the retry and stop rules, and where events go.
pub(super) struct Shared {
    pub retry_errors: u32,
    /// Each run with its seed (a repetition's id ends in ` #K`, its seed derived from the run's).
    pub queue: Mutex<VecDeque<(PlannedScenario, u64)>>,
    pub until_fail: bool,
    /// `--fail-fast`: the first run that failed or was inconclusive stops the queue.
    pub fail_fast: bool,
    /// The run id that stopped the queue under `--fail-fast`.
    pub stopped_by: Mutex<Option<String>>,
    /// Cancels the running scenarios: set on a signal, and by `--fail-fast`.
    pub stop: Arc<watch::Sender<bool>>,
    /// Run ids with a failed repetition (`--until-fail` skips the rest).
    pub failed: Mutex<std::collections::HashSet<String>>,
    /// Where a kept environment goes (`--keep-env`), and the run id it was kept for.
    pub keep: Option<KeepSlot>,
    pub kept_for: Mutex<Option<String>>,
    pub sink: mpsc::UnboundedSender<RunEvent>,
}

impl Shared {
    fn emit(&self, e: RunEvent) {
        let _ = self.sink.send(e);
    }
}

/// One worker: takes planned scenarios off the queue and runs them in its session.
pub(super) async fn worker(
    shared: Arc<Shared>,
    mut session: Session,
    cancel: watch::Receiver<bool>,
) {
    let sink = shared.sink.clone();
    let emit = move |e: RunEvent| {
        let _ = sink.send(e);
    };
    loop {
        let Some((sc, seed)) = shared
            .queue
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .pop_front()
        else {
            break;
        };
        let base = repeat::split_id(&sc.id).0.to_string();
        let stopped = shared.until_fail
            && shared
                .failed
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .contains(&base);
        let kept_for = shared
            .kept_for
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let stopped_by = shared
            .stopped_by
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let fail_fast = |id: &str| format!("--fail-fast stopped the run after {id} did not pass");
        let result = if let Some(id) = &stopped_by {
            ScenarioResult::skipped(info(&sc), format!("not run: {}", fail_fast(id)), seed)
        } else if *cancel.borrow() {
            ScenarioResult::skipped(info(&sc), "not run: the run was interrupted".into(), seed)
        } else if let Some(id) = kept_for {
            ScenarioResult::skipped(
                info(&sc),
                format!("not run: --keep-env kept the environment of {id}, which failed"),
                seed,
            )
        } else if stopped {
            ScenarioResult::skipped(
                info(&sc),
                "not repeated: an earlier repetition failed (--until-fail)".into(),
                seed,
            )
        } else {
            let r = attempts(&mut session, &sc, seed, &shared, &cancel, &emit).await;
            let by = shared
                .stopped_by
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone();
            match by {
                // Cut short by another run's failure: no verdict of its own (`not run`).
                Some(id) if r.errors.iter().any(|e| e == INTERRUPTED) => ScenarioResult::skipped(
                    info(&sc),
                    format!("not run: cancelled, {}", fail_fast(&id)),
                    seed,
                ),
                _ => r,
            }
        };
        // A harness error says nothing about the desktop, so only a failure or an inconclusive
        // verdict (both exit 1) stops the queue.
        if shared.fail_fast && matches!(result.verdict, Verdict::Fail | Verdict::Inconclusive) {
            let mut by = shared.stopped_by.lock().unwrap_or_else(|e| e.into_inner());
            if by.is_none() {
                *by = Some(sc.id.clone());
                let _ = shared.stop.send(true);
            }
        }
        if result.verdict == Verdict::Fail {
            let mut failed = shared.failed.lock().unwrap_or_else(|e| e.into_inner());
            failed.insert(base);
        }
        if session.has_kept() {
            *shared.kept_for.lock().unwrap_or_else(|e| e.into_inner()) = Some(sc.id.clone());
        }
        shared.emit(RunEvent::ScenarioFinished {
            result: Box::new(result),
        });
    }
    match (session.take_kept(), &shared.keep) {
        (Some(k), Some(slot)) => slot.put(k),
        _ => session.shutdown().await,
    }
}

/// Runs a scenario, and again while it ends in `error` and retries are left (`--retry-errors`):
/// an error says nothing about the desktop, a failure does and is never retried. The result
/// counts the retries and keeps the earlier attempts' errors.
async fn attempts(
    session: &mut Session,
    sc: &PlannedScenario,
    seed: u64,
    shared: &Shared,
    cancel: &watch::Receiver<bool>,
    emit: &(dyn Fn(RunEvent) + Send + Sync),
) -> ScenarioResult {
    let mut earlier = Vec::new();
    let mut retries = 0;
    loop {
        let mut r = session.scenario(sc, seed, cancel.clone(), emit).await;
        let again = r.verdict == Verdict::Error && retries < shared.retry_errors;
        if !again || *cancel.borrow() {
            r.retries = retries;
            let mut errors = std::mem::take(&mut earlier);
            errors.append(&mut r.errors);
            r.errors = errors;
            return r;
        }
        retries += 1;
        earlier.extend(
            r.errors
                .iter()
                .map(|e| format!("attempt {retries}{}{e}", crate::event::verdict::RETRIED)),
        );
    }
}

/// Passes the workers' events on, counting verdicts; keeps the results when `keep` (repeated runs).
pub(super) async fn forward(
    rx: &mut mpsc::UnboundedReceiver<RunEvent>,
    sink: &mpsc::UnboundedSender<RunEvent>,
    summary: &mut Summary,
    keep: bool,
) -> Vec<ScenarioResult> {
    let mut kept = Vec::new();
    while let Some(e) = rx.recv().await {
        if let RunEvent::ScenarioFinished { result } = &e {
            summary.add(result.verdict);
            if keep {
                kept.push((**result).clone());
            }
        }
        let _ = sink.send(e);
    }
    kept
}

/// The queue: each run `n` times (ids `RUN-ID #K`, seeds derived from the run seed), or once as is.
pub(super) fn repetitions(
    to_run: Vec<PlannedRun>,
    seed: u64,
    n: u32,
) -> VecDeque<(PlannedScenario, u64)> {
    let mut q = VecDeque::new();
    for r in to_run {
        if n <= 1 {
            q.push_back((r.scenario, seed));
            continue;
        }
        for k in 1..=n {
            let mut sc = r.scenario.clone();
            sc.id = repeat::repetition_id(&sc.id, k);
            q.push_back((sc, repeat::seed(seed, k)));
        }
    }
    q
}

//! What counts as a certificate (docs/certification.md): every run for the declared profile executed
//! at the suites' own budgets, unfiltered, nothing inconclusive or in error; else the reasons why not.

use crate::check::Verdict;
use crate::event::RunEvent;

/// Follows a run's events and says whether its report may be called a certificate.
#[derive(Debug, Default, Clone)]
pub struct Policy {
    started: bool,
    exploration: bool,
    filter: Option<String>,
    partition: Option<String>,
    budget_ms: Option<u64>,
    max_lateness_ms: Option<u64>,
    harness_version: String,
    identified: bool,
    ran: usize,
    not_run: usize,
    inconclusive: usize,
    errors: usize,
    interrupted: bool,
    finished: bool,
}

impl Policy {
    /// Consumes one event.
    pub fn event(&mut self, e: &RunEvent) {
        match e {
            RunEvent::RunStarted {
                suites,
                filter,
                budget_ms,
                max_lateness_ms,
                harness_version,
                desktop_identity,
                partition,
                ..
            } if !self.started => {
                self.partition = partition.clone();
                self.started = true;
                self.exploration = suites.is_empty();
                self.filter = filter.clone();
                self.budget_ms = *budget_ms;
                self.max_lateness_ms = *max_lateness_ms;
                self.harness_version = harness_version.clone();
                self.identified = desktop_identity
                    .as_ref()
                    .is_some_and(|d| d.sha256.is_some());
            }
            RunEvent::ScenarioFinished { result } => match result.verdict {
                // Inapplicable to the declared profile is fine; "not run" (interrupted) is not.
                Verdict::Skipped
                    if result
                        .skip_reason
                        .as_deref()
                        .is_some_and(|s| s.starts_with("not run")) =>
                {
                    self.not_run += 1
                }
                Verdict::Skipped => {}
                Verdict::Inconclusive => {
                    self.ran += 1;
                    self.inconclusive += 1
                }
                Verdict::Error => {
                    self.ran += 1;
                    self.errors += 1
                }
                Verdict::Pass | Verdict::Fail => self.ran += 1,
            },
            RunEvent::RunFinished { summary, .. } => {
                self.finished = true;
                self.interrupted |= summary.interrupted;
            }
            _ => {}
        }
    }

    /// Why the report is not a certificate; empty when it is one.
    pub fn reasons(&self) -> Vec<String> {
        let mut out = Vec::new();
        if !self.started {
            out.push("the journal has no run_started event".into());
            return out;
        }
        if self.exploration {
            out.push("an exploration (random cases), not a run of the certification suites".into());
        }
        if let Some(f) = &self.filter {
            out.push(format!(
                "--filter {f}: only some of the mandatory runs were selected"
            ));
        }
        if let Some(p) = &self.partition {
            out.push(format!(
                "one shard (--partition {p}): merge every shard with `bc-harness merge`"
            ));
        }
        if let Some(b) = self.budget_ms {
            out.push(format!("--budget {b}ms: not the suites' standard budgets"));
        }
        if let Some(l) = self.max_lateness_ms {
            out.push(format!(
                "--max-lateness {l}ms: not the harness's standard lateness bound"
            ));
        }
        if self.harness_version.is_empty() {
            out.push("the harness version is not recorded".into());
        }
        if !self.identified {
            out.push("the desktop's program file could not be identified (no hash)".into());
        }
        if self.interrupted || !self.finished {
            out.push("the run was interrupted before its end".into());
        }
        if self.not_run > 0 {
            out.push(format!("{} mandatory run(s) not executed", self.not_run));
        }
        if self.ran == 0 {
            out.push("no scenario ran".into());
        }
        if self.inconclusive > 0 {
            out.push(format!(
                "{} run(s) inconclusive: nothing certain was learnt about them",
                self.inconclusive
            ));
        }
        if self.errors > 0 {
            out.push(format!("{} run(s) ended in a harness error", self.errors));
        }
        out
    }

    /// The reasons for a whole recorded run.
    pub fn of(events: &[RunEvent]) -> Vec<String> {
        let mut p = Policy::default();
        for e in events {
            p.event(e);
        }
        p.reasons()
    }
}

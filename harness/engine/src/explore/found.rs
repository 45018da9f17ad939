//! What an exploration found: its report, the failure it shrank and wrote, and the signature that
//! tells whether a shrink candidate "fails the same way".

use std::path::PathBuf;

use super::shrink::{Outcome, StopReason};
use crate::check::Verdict;
use crate::event::{ScenarioResult, Summary};

/// A failure found, shrunk and written.
#[derive(Debug, Clone)]
pub struct FoundFailure {
    /// Case number.
    pub case: usize,
    /// Its seed (replay with `--seed SEED --cases 1`).
    pub case_seed: u64,
    /// The broken check, without parameters.
    pub signature: String,
    /// The broken check as worded by the checker, and what was observed.
    pub check: String,
    /// What was observed instead.
    pub observed: String,
    /// Operations of the original schedule.
    pub original_ops: usize,
    /// Operations of the shrunk schedule.
    pub shrunk_ops: usize,
    /// Budget of the original case, ms.
    pub original_budget_ms: u64,
    /// Budget of the written suite (shrunk, at least `--shrink-min-budget`), ms.
    pub budget_ms: u64,
    /// What the original schedule waits up to the final heal (pauses, one budget per checkpoint), ms.
    pub original_waits_ms: u64,
    /// The same for the written suite, ms.
    pub waits_ms: u64,
    /// Candidate runs made while shrinking.
    pub shrink_runs: usize,
    /// Why shrinking stopped.
    pub shrink_stop: StopReason,
    /// The suite written.
    pub suite_path: PathBuf,
    /// Command replaying the original case.
    pub replay: String,
    /// Command running the written suite.
    pub run_command: String,
}

/// What an exploration found.
#[derive(Debug, Clone, Default)]
pub struct ExploreReport {
    /// Counts by verdict (explored cases only; shrink runs are not cases).
    pub summary: Summary,
    /// Cases run.
    pub cases_run: usize,
    /// The first failure, shrunk.
    pub failure: Option<FoundFailure>,
    /// `--max-time` stopped the exploration early.
    pub stopped_by_time: bool,
}

impl ExploreReport {
    /// Exit code: 0 nothing found, 1 a failure found, 3 harness errors or interrupted.
    pub fn exit_code(&self) -> crate::exit::ExitCode {
        use crate::exit::ExitCode;
        if self.summary.interrupted || self.summary.errors > 0 {
            ExitCode::HarnessError
        } else if self.failure.is_some() || self.summary.failed > 0 {
            ExitCode::Failed
        } else {
            ExitCode::Success
        }
    }
}

/// The broken checks of a result, without parameters (what "fails the same way" compares):
/// `expect_logged_in`, `invariant never_logged_in_at_both_peers [BC-6]`, ...
pub fn signatures(r: &ScenarioResult) -> Vec<String> {
    r.failures.iter().map(failure_signature).collect()
}

/// The signature of one failure.
pub fn failure_signature(f: &crate::check::Failure) -> String {
    let words: Vec<&str> = f.check.split_whitespace().collect();
    let head = match words.as_slice() {
        ["invariant", name, ..] => format!("invariant {name}"),
        [first, ..] => first.to_string(),
        [] => String::new(),
    };
    if f.rules.is_empty() {
        head
    } else {
        format!("{head} [{}]", f.rules.join(", "))
    }
}

pub(super) fn outcome(r: &ScenarioResult) -> Outcome {
    match r.verdict {
        Verdict::Pass => Outcome::Pass,
        Verdict::Fail => Outcome::Fail {
            signatures: signatures(r),
        },
        v => Outcome::Other(v.as_str().to_string()),
    }
}

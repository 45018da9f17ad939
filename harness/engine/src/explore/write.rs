//! Writing a shrunk failure: the reproducing suite with a comment header (what broke, the seeds,
//! the commands, the timeline of the last failing run), checked to load again.

use std::path::PathBuf;

use super::case::{CaseRun, Explorer};
use super::emit::dur;
use super::found::{failure_signature, FoundFailure};
use super::options::{quote, ExploreOptions};
use super::resolve::resolve;
use super::runner::secs;
use super::schedule::Schedule;
use super::shrink::{Candidate, Shrunk};
use crate::event::ScenarioResult;
use crate::observe::format;

/// Writes the shrunk failure of case `case` as a suite; a failure to write leaves the returned
/// `suite_path` empty (and says why).
pub(super) fn write_failure(
    ex: &Explorer<'_>,
    case: usize,
    schedule: &Schedule,
    target: &str,
    shrunk: &Shrunk,
    best: &CaseRun,
) -> FoundFailure {
    let opts = ex.opts;
    let case_seed = schedule.seed;
    let f = best
        .result
        .failures
        .iter()
        .find(|f| failure_signature(f) == target)
        .or(best.result.failures.first())
        .cloned();
    let path = ex.suite_path(case_seed);
    let mut found = FoundFailure {
        case,
        case_seed,
        signature: target.to_string(),
        check: f.as_ref().map(|f| f.check.clone()).unwrap_or_default(),
        observed: f.as_ref().map(|f| f.observed.clone()).unwrap_or_default(),
        original_ops: schedule.ops.len(),
        shrunk_ops: shrunk.schedule.ops.len(),
        original_budget_ms: shrunk.original_budget_ms,
        budget_ms: shrunk.budget_ms,
        original_waits_ms: Candidate {
            schedule: resolve(schedule, &ex.spec).schedule(case_seed),
            budget_ms: shrunk.original_budget_ms,
        }
        .waits_ms(),
        waits_ms: Candidate {
            schedule: shrunk.schedule.clone(),
            budget_ms: shrunk.budget_ms,
        }
        .waits_ms(),
        shrink_runs: shrunk.runs,
        shrink_stop: shrunk.stop,
        suite_path: path.clone(),
        replay: opts.replay_command(case_seed),
        run_command: format!(
            "bc-harness run {} --desktop {} --seed {case_seed}",
            quote(&path.display().to_string()),
            quote(&opts.desktop)
        ),
    };
    let h = header(opts, &found, &shrunk.schedule, &best.result);
    // The suite runs at the budget the shrunk schedule failed with.
    let spec = ex.spec_at(shrunk.budget_ms);
    let text = super::emit::emit(
        &resolve(&shrunk.schedule, &spec),
        &spec,
        &ex.meta(case_seed, h),
    );
    debug_assert!(text.ends_with(&best.text));
    let written = std::fs::write(&path, &text)
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
        .and_then(|()| {
            bc_suite::load_file(&path)
                .map(|_| ())
                .map_err(|d| bc_suite::render_plain(&d.errors))
        });
    if let Err(e) = written {
        opts.say(&format!("explore: error: {e}"));
        found.suite_path = PathBuf::new();
    } else {
        opts.say(&format!(
            "explore: minimal failing schedule ({} operations, budget {}, waits {}; broke {}) written to {}\n  reproduce: {}",
            found.shrunk_ops,
            dur(found.budget_ms),
            secs(found.waits_ms),
            found.signature,
            path.display(),
            found.run_command
        ));
    }
    found
}

/// The comment header of a written failure: what broke, the seeds, the commands, the timeline.
fn header(
    opts: &ExploreOptions,
    found: &FoundFailure,
    shrunk: &Schedule,
    result: &ScenarioResult,
) -> Vec<String> {
    let mut h = vec![
        "Minimal failing schedule found by `bc-harness explore`.".to_string(),
        format!("broken: {}", found.check),
        format!("observed: {}", found.observed.lines().next().unwrap_or("")),
        format!(
            "case {} seed {} (explore --seed {}): {} operations, shrunk to {} in {} runs ({:?})",
            found.case,
            found.case_seed,
            opts.seed,
            found.original_ops,
            shrunk.ops.len(),
            found.shrink_runs,
            found.shrink_stop
        ),
    ];
    if found.budget_ms < found.original_budget_ms {
        h.push(format!(
            "budget shrunk from {} to {} (--shrink-min-budget {}): waits before the final heal {} -> {}",
            dur(found.original_budget_ms),
            dur(found.budget_ms),
            dur(opts.shrink.min_budget.as_millis() as u64),
            secs(found.original_waits_ms),
            secs(found.waits_ms)
        ));
    }
    h.extend([
        format!(
            "replay the original case (budget {}): {}",
            dur(found.original_budget_ms),
            found.replay
        ),
        format!(
            "reproduce this file (budget {}):      {}",
            dur(found.budget_ms),
            found.run_command
        ),
        String::new(),
        "timeline of the last failing run:".into(),
    ]);
    if let Some(tl) = &result.timeline {
        let start = tl.start_us().unwrap_or(0);
        let lines: Vec<String> = tl
            .sorted()
            .into_iter()
            .filter(|e| !format::is_noise(&e.kind))
            .map(|e| format!("  {}", format::line(e, start)))
            .collect();
        let n = lines.len();
        const MAX: usize = 150;
        if n > MAX {
            h.extend(lines[..MAX / 2].iter().cloned());
            h.push(format!("  ... {} entries left out ...", n - MAX));
            h.extend(lines[n - MAX / 2..].iter().cloned());
        } else {
            h.extend(lines);
        }
    }
    h.push(String::new());
    h
}

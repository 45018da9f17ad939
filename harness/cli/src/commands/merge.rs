//! `bc-harness merge JOURNAL... --junit F --html F`: the shards of a partitioned run as one run,
//! through the usual reports; refuses journals of different runs, names missing and duplicated runs.

use std::path::PathBuf;

use bc_engine::exit::ExitCode;
use bc_engine::report::{html, merge};

use super::shared::{usage, ReportArgs};

/// Arguments of `merge`.
#[derive(clap::Args)]
pub struct Args {
    /// Journals (`run --journal`) or HTML reports of the shards.
    #[arg(required = true, value_name = "JOURNAL")]
    journals: Vec<PathBuf>,
    #[command(flatten)]
    reports: ReportArgs,
}

/// Runs the subcommand: the merged run's exit code; 2 for journals that are not shards of one
/// run; 3 when runs are missing or duplicated (the reports are still written).
pub fn run(a: Args) -> ExitCode {
    let mut shards = Vec::new();
    for p in &a.journals {
        match html::load(p) {
            Ok(j) => shards.push((p.display().to_string(), j.events().to_vec())),
            Err(e) => return usage(e),
        }
    }
    let merged = match merge::merge(&shards) {
        Ok(m) => m,
        Err(e) => return usage(format!("cannot merge: {e}")),
    };
    let mut reps = a.reports.reporters();
    for e in &merged.events {
        reps.event(e);
    }
    let problems = reps.write();
    for p in &problems {
        eprintln!("error: {p}");
    }
    for id in &merged.missing {
        eprintln!("missing: {id} (planned, in no shard)");
    }
    for id in &merged.duplicated {
        eprintln!("duplicated: {id} (in more than one shard; the first kept)");
    }
    if !merged.missing.is_empty() || !merged.duplicated.is_empty() {
        eprintln!(
            "error: the shards do not cover the run exactly once: {} missing, {} duplicated",
            merged.missing.len(),
            merged.duplicated.len()
        );
        return ExitCode::HarnessError;
    }
    let summary = merged.events.iter().rev().find_map(|e| match e {
        bc_engine::event::RunEvent::RunFinished { summary, .. } => Some(summary.exit_code()),
        _ => None,
    });
    bc_engine::report::exit_code(summary.unwrap_or(ExitCode::HarnessError), &problems)
}

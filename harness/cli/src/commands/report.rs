//! `bc-harness report JOURNAL... --html FILE`: renders the HTML report from journals written by
//! `run --journal`, or from the journal embedded in an earlier HTML report; nothing is re-run.

use std::path::PathBuf;

use bc_engine::exit::ExitCode;
use bc_engine::report::html;

use super::shared::usage;

/// Arguments of `report`.
#[derive(clap::Args)]
pub struct Args {
    /// JSON journals (`run --journal`), or HTML reports carrying their journal; several are merged.
    #[arg(required = true, value_name = "JOURNAL")]
    journals: Vec<PathBuf>,
    /// Where the HTML report goes.
    #[arg(long, value_name = "FILE")]
    html: PathBuf,
}

/// Runs the subcommand: 0 written, 2 unreadable input, 3 the page could not be written.
pub fn run(a: Args) -> ExitCode {
    let mut journals = Vec::new();
    for p in &a.journals {
        match html::load(p) {
            Ok(j) => journals.push(j),
            Err(e) => return usage(e),
        }
    }
    let report = html::HtmlReport::from_journal(html::merge(journals), a.html);
    match report.write() {
        Ok(()) => {
            eprintln!("wrote {}", report.path().display());
            ExitCode::Success
        }
        Err(e) => {
            eprintln!(
                "error: cannot write HTML report {}: {e}",
                report.path().display()
            );
            ExitCode::HarnessError
        }
    }
}

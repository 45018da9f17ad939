//! `bc-harness verify cert.html`: checks a certificate offline (journal hash, verdicts re-derived
//! by the checkers from the embedded timelines, page = its journal); 0 accepted, 1 rejected.

use std::path::PathBuf;

use bc_engine::exit::ExitCode;
use bc_engine::report::verify::verify;

use super::shared::usage;

/// Arguments of `verify`.
#[derive(clap::Args)]
pub struct Args {
    /// An HTML report written by `run --html` or `report --html`.
    #[arg(value_name = "PAGE")]
    page: PathBuf,
}

/// Runs the subcommand: 0 accepted, 1 rejected (with the reason), 2 unreadable.
pub fn run(a: Args) -> ExitCode {
    let page = match std::fs::read(&a.page) {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(e) => return usage(format!("{}: {e}", a.page.display())),
    };
    match verify(&page) {
        Ok(v) => {
            println!(
                "{}: accepted: journal sha256 {}; {} verdict(s) re-derived by the checkers, {} taken as recorded (skipped, or errors before any timeline)",
                a.page.display(),
                v.sha256,
                v.rederived,
                v.recorded
            );
            if let Some(note) = v.not_compared {
                println!("note: {note}");
            }
            ExitCode::Success
        }
        Err(reason) => {
            eprintln!("{}: REJECTED: {reason}", a.page.display());
            ExitCode::Failed
        }
    }
}

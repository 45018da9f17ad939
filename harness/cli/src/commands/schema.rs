//! `bc-harness schema [--write FILE]`: the JSON Schema of the suite format, generated from
//! the bc-suite model (the committed copy lives at suites/schema.json).

use std::path::PathBuf;

use bc_engine::exit::ExitCode;

/// Arguments of `schema`.
#[derive(clap::Args)]
pub struct Args {
    /// Write the schema to this file instead of stdout (e.g. suites/schema.json).
    #[arg(long)]
    write: Option<PathBuf>,
}

/// Runs the subcommand.
pub fn run(args: Args) -> ExitCode {
    let text = bc_suite::schema_json();
    match args.write {
        None => {
            print!("{text}");
            ExitCode::Success
        }
        Some(p) => match std::fs::write(&p, text) {
            Ok(()) => ExitCode::Success,
            Err(e) => {
                eprintln!("error: cannot write {}: {e}", p.display());
                ExitCode::HarnessError
            }
        },
    }
}

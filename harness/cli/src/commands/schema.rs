//! `bc-harness schema [--write FILE]`: the JSON Schema of the suite format, generated from
//! the bc-suite model (the committed copy lives at suites/schema.json).

use std::path::PathBuf;

use crate::exit_codes;

/// Arguments of `schema`.
#[derive(clap::Args)]
pub struct Args {
    /// Write the schema to this file instead of stdout (e.g. suites/schema.json).
    #[arg(long)]
    write: Option<PathBuf>,
}

/// Runs the subcommand.
pub fn run(args: Args) -> u8 {
    let text = bc_suite::schema_json();
    match args.write {
        None => {
            print!("{text}");
            exit_codes::OK
        }
        Some(p) => match std::fs::write(&p, text) {
            Ok(()) => exit_codes::OK,
            Err(e) => {
                eprintln!("error: cannot write {}: {e}", p.display());
                exit_codes::HARNESS_ERROR
            }
        },
    }
}

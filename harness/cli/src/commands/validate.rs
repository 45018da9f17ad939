//! `bc-harness validate PATH...`: checks suites, prints one line per valid file on stdout,
//! rendered errors on stderr; exit 0 when every file is valid, 2 otherwise.

use std::path::PathBuf;

use crate::commands::load::load_all;
use crate::exit_codes;

/// Arguments of `validate`.
#[derive(clap::Args)]
pub struct Args {
    /// Suite files or directories (searched recursively for *.yaml / *.yml).
    #[arg(required = true)]
    paths: Vec<PathBuf>,
}

/// Runs the subcommand.
pub fn run(args: Args) -> u8 {
    let loaded = match load_all(&args.paths) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: {e}");
            return exit_codes::SUITE_OR_USAGE_ERROR;
        }
    };
    for s in &loaded.suites {
        let n = s.suite.scenarios.len();
        println!(
            "ok    {} ({} scenario{})",
            s.path.display(),
            n,
            if n == 1 { "" } else { "s" }
        );
    }
    if loaded.invalid > 0 {
        eprintln!(
            "{} valid, {} invalid suite file{}",
            loaded.suites.len(),
            loaded.invalid,
            if loaded.invalid == 1 { "" } else { "s" }
        );
        exit_codes::SUITE_OR_USAGE_ERROR
    } else {
        exit_codes::OK
    }
}

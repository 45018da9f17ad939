//! `bc-harness validate PATH...`: checks suites, prints one line per valid file on stdout,
//! rendered errors on stderr; exit 0 when every file is valid, 2 otherwise.

use std::path::PathBuf;

use crate::commands::load::load_all;
use bc_engine::exit::ExitCode;

/// Arguments of `validate`.
#[derive(clap::Args)]
pub struct Args {
    /// Suite files or directories (searched recursively for *.yaml / *.yml).
    #[arg(required = true)]
    paths: Vec<PathBuf>,
}

/// Runs the subcommand.
pub fn run(args: Args) -> ExitCode {
    let loaded = match load_all(&args.paths) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::Usage;
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
        ExitCode::Usage
    } else {
        ExitCode::Success
    }
}

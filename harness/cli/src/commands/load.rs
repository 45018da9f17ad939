//! Loading suites for validate and list: bc-suite's one set loader, with errors rendered on stderr
//! (colours only on a terminal).

use std::io::IsTerminal;
use std::path::PathBuf;

use bc_suite::{LoadedSuite, SuiteError};

/// Outcome of loading every suite named on the command line.
pub struct Loaded {
    /// The valid suites.
    pub suites: Vec<LoadedSuite>,
    /// Number of files with errors.
    pub invalid: usize,
}

/// Renders errors to stderr (colours only on a terminal without NO_COLOR).
pub fn report(errors: &[SuiteError]) {
    let colour = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let text = if colour {
        bc_suite::diagnostic::render_for_terminal(errors)
    } else {
        bc_suite::render_plain(errors)
    };
    eprint!("{text}");
}

/// Discovers and loads suites (bc-suite's `load_set`, as `run` does) and reports every error;
/// `Err` is a usage error message (missing path, no suite).
pub fn load_all(paths: &[PathBuf]) -> Result<Loaded, String> {
    let set = bc_suite::load_set(paths).map_err(|e| e.to_string())?;
    report(&set.errors);
    Ok(Loaded {
        suites: set.suites,
        invalid: set.invalid_files,
    })
}

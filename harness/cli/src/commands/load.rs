//! Loading suites for any subcommand: discover files, validate them, report errors on stderr.
//! Also checks that suite ids are unique across the files of one invocation.

use std::collections::HashMap;
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

/// Discovers and loads suites; `Err` is a usage error message (missing path, no suite).
pub fn load_all(paths: &[PathBuf]) -> Result<Loaded, String> {
    let files = bc_suite::discover(paths)?;
    if files.is_empty() {
        return Err("no suite file (*.yaml, *.yml) found".into());
    }
    let mut suites: Vec<LoadedSuite> = Vec::new();
    let mut invalid = 0;
    for f in files {
        match bc_suite::load_file(&f) {
            Ok(s) => suites.push(s),
            Err(d) => {
                invalid += 1;
                report(&d.errors);
            }
        }
    }
    // Suite ids must be unique across files, since run ids and reports use them.
    let mut seen: HashMap<String, PathBuf> = HashMap::new();
    let mut keep = Vec::new();
    for s in suites {
        if let Some(first) = seen.get(&s.suite.id.value) {
            let mut d = bc_suite::Diagnostics::new(&s.path.display().to_string(), s.text.clone());
            d.semantic(
                s.suite.id.span,
                format!(
                    "duplicate suite id `{}` (also used by {})",
                    s.suite.id.value,
                    first.display()
                ),
                Some("suite ids must be unique across the suites of a run".into()),
            );
            report(&d.errors);
            invalid += 1;
        } else {
            seen.insert(s.suite.id.value.clone(), s.path.clone());
            keep.push(s);
        }
    }
    Ok(Loaded {
        suites: keep,
        invalid,
    })
}

//! The one entry into the front end for a command line's worth of suites (run, validate, list):
//! discover the files, load each, and check what only the set can see (suite ids unique across files).

use std::collections::HashMap;
use std::path::PathBuf;

use crate::diagnostic::{Diagnostics, SuiteError};
use crate::load::{load_file, LoadedSuite};

/// Every suite named by a command line: the valid ones and every error, file by file.
#[derive(Debug)]
pub struct SuiteSet {
    /// The valid suites, in discovery order (a file whose id repeats an earlier one is not here).
    pub suites: Vec<LoadedSuite>,
    /// Every error, in file order.
    pub errors: Vec<SuiteError>,
    /// How many files had errors.
    pub invalid_files: usize,
}

impl SuiteSet {
    /// True when every file was valid.
    pub fn is_valid(&self) -> bool {
        self.errors.is_empty()
    }
}

/// Why no set could be formed: the command line names nothing loadable (a usage error).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SetError {
    /// A path does not exist or a directory cannot be read.
    #[error("{0}")]
    Paths(String),
    /// No suite file under the paths.
    #[error("no suite files (*.yaml, *.yml) under {0}")]
    Empty(String),
}

/// Discovers and loads every suite under `paths`; errors in files are collected, not fatal.
pub fn load_set(paths: &[PathBuf]) -> Result<SuiteSet, SetError> {
    let files = crate::discover(paths).map_err(SetError::Paths)?;
    if files.is_empty() {
        let shown: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
        return Err(SetError::Empty(shown.join(", ")));
    }
    let mut set = SuiteSet {
        suites: Vec::new(),
        errors: Vec::new(),
        invalid_files: 0,
    };
    // Suite ids must be unique across files: run ids and reports are prefixed by them.
    let mut seen: HashMap<String, PathBuf> = HashMap::new();
    for f in files {
        let loaded = match load_file(&f) {
            Ok(s) => s,
            Err(d) => {
                set.invalid_files += 1;
                set.errors.extend(d.errors);
                continue;
            }
        };
        if let Some(first) = seen.get(&loaded.suite.id.value) {
            let mut d = Diagnostics::new(&loaded.path.display().to_string(), loaded.text.clone());
            d.semantic(
                loaded.suite.id.span,
                format!(
                    "duplicate suite id `{}` (also used by {})",
                    loaded.suite.id.value,
                    first.display()
                ),
                Some("suite ids must be unique across the suites of a run".into()),
            );
            set.invalid_files += 1;
            set.errors.extend(d.errors);
        } else {
            seen.insert(loaded.suite.id.value.clone(), loaded.path.clone());
            set.suites.push(loaded);
        }
    }
    Ok(set)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An example suite with its config path made absolute, so a copy loads from anywhere.
    fn example() -> String {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let text =
            std::fs::read_to_string(root.join("suites/examples/01-first-suite.yaml")).unwrap();
        let config = root.join("fixtures/config/default.yaml");
        text.replace(
            "fixtures/config/default.yaml",
            &config.display().to_string(),
        )
    }

    #[test]
    fn a_suite_id_used_by_two_files_is_an_error_at_the_second() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.yaml"), example()).unwrap();
        std::fs::write(dir.path().join("b.yaml"), example()).unwrap();
        let set = load_set(&[dir.path().to_path_buf()]).unwrap();
        assert_eq!(set.suites.len(), 1, "{:?}", set.errors);
        assert_eq!(set.invalid_files, 1);
        let text = crate::render_plain(&set.errors);
        assert!(
            text.contains("duplicate suite id `example-first`"),
            "{text}"
        );
        assert!(text.contains("b.yaml"), "{text}");
    }

    #[test]
    fn nothing_to_load_is_a_usage_error() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            load_set(&[dir.path().to_path_buf()]),
            Err(SetError::Empty(_))
        ));
        assert!(matches!(
            load_set(&[dir.path().join("missing")]),
            Err(SetError::Paths(_))
        ));
    }
}

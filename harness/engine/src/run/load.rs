//! From command-line paths to scenario runs: discover suite files, parse and validate them with
//! bc-suite, plan (scenarios x parameters), filter, and mark inapplicable runs with their skip reason.

use std::path::PathBuf;
use std::time::Duration;

use bc_suite::{Capability, PlanOptions, PlannedScenario};

/// A planned run and, when it does not apply to the desktop, why.
#[derive(Debug, Clone)]
pub struct PlannedRun {
    /// The concrete scenario.
    pub scenario: PlannedScenario,
    /// Set when the run is skipped.
    pub skip: Option<String>,
}

/// Why a set of suites cannot be run (exit code 2).
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// A path does not exist or cannot be read.
    #[error("{0}")]
    Paths(String),
    /// No suite file under the paths.
    #[error("no suite files (*.yaml, *.yml) under {0}")]
    Empty(String),
    /// Suite files with errors; `rendered` holds every diagnostic with its source snippet.
    #[error("{count} error(s) in suite files:\n{rendered}")]
    Invalid {
        /// How many errors.
        count: usize,
        /// Diagnostics as text.
        rendered: String,
    },
    /// Planning failed.
    #[error("cannot plan {file}: {message}")]
    Plan {
        /// The file.
        file: String,
        /// Why.
        message: String,
    },
    /// The capability list or profile is wrong.
    #[error("{0}")]
    Capabilities(String),
}

/// Parses `a,b` capability names; unknown names are an error listing the known ones.
pub fn parse_capabilities(list: &str) -> Result<Vec<Capability>, LoadError> {
    let mut out = Vec::new();
    for name in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let c = Capability::ALL
            .into_iter()
            .find(|c| c.as_str() == name)
            .ok_or_else(|| {
                let known: Vec<&str> = Capability::ALL.iter().map(|c| c.as_str()).collect();
                LoadError::Capabilities(format!(
                    "unknown capability `{name}` (known: {})",
                    known.join(", ")
                ))
            })?;
        if !out.contains(&c) {
            out.push(c);
        }
    }
    Ok(out)
}

/// Whether a run id matches a `--filter` pattern: `*` matches any text, otherwise a substring match.
pub fn matches_filter(id: &str, pattern: &str) -> bool {
    if !pattern.contains('*') {
        return id.contains(pattern);
    }
    let parts: Vec<&str> = pattern.split('*').collect();
    let mut rest = id;
    for (i, part) in parts.iter().enumerate() {
        if part.is_empty() {
            continue;
        }
        if i == 0 {
            if !rest.starts_with(part) {
                return false;
            }
            rest = &rest[part.len()..];
        } else if let Some(pos) = rest.find(part) {
            rest = &rest[pos + part.len()..];
        } else {
            return false;
        }
    }
    parts.last().is_none_or(|l| l.is_empty() || id.ends_with(l))
}

/// Loads, validates and plans every suite under `paths`, in file order.
pub fn load_runs(
    paths: &[PathBuf],
    budget: Option<Duration>,
    filter: Option<&str>,
    capabilities: &[Capability],
) -> Result<Vec<PlannedRun>, LoadError> {
    let set = bc_suite::load_set(paths).map_err(|e| match e {
        bc_suite::SetError::Paths(p) => LoadError::Paths(p),
        bc_suite::SetError::Empty(p) => LoadError::Empty(p),
    })?;
    if !set.is_valid() {
        return Err(LoadError::Invalid {
            count: set.errors.len(),
            rendered: bc_suite::render_plain(&set.errors),
        });
    }
    let loaded = set.suites;
    let options = PlanOptions { budget };
    let mut runs = Vec::new();
    for l in &loaded {
        let planned = bc_suite::plan(l, &options).map_err(|e| LoadError::Plan {
            file: l.path.display().to_string(),
            message: e.to_string(),
        })?;
        for scenario in planned {
            if filter.is_some_and(|p| !matches_filter(&scenario.id, p)) {
                continue;
            }
            let skip = scenario.skip_reason(capabilities);
            runs.push(PlannedRun { scenario, skip });
        }
    }
    Ok(runs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_patterns() {
        assert!(matches_filter("cert/kill-site[preferred=A]", "kill-site"));
        assert!(matches_filter(
            "cert/kill-site[preferred=A]",
            "cert/*preferred=A*"
        ));
        assert!(!matches_filter(
            "cert/kill-site[preferred=B]",
            "cert/*preferred=A*"
        ));
        assert!(matches_filter("cert/x", "*"));
        assert!(!matches_filter("cert/x", "other"));
    }

    #[test]
    fn capabilities_parse_and_reject_unknown() {
        assert_eq!(
            parse_capabilities("stat_server, auto_answer").unwrap(),
            vec![Capability::StatServer, Capability::AutoAnswer]
        );
        let e = parse_capabilities("stat_srv").unwrap_err().to_string();
        assert!(e.contains("unknown capability `stat_srv`"), "{e}");
    }
}

//! Finds the helper binaries (bc-mock, bc-toxiproxy, bc-reference-desktop) in the cargo target dir.
//! Order: the configured dir, `BC_BIN_DIR`, the current executable's dir, then its parent.

use super::error::EnvError;
use std::path::{Path, PathBuf};

/// The directories searched for helper binaries, in order.
pub fn candidate_dirs(explicit: Option<&Path>) -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Some(d) = explicit {
        dirs.push(d.to_path_buf());
    }
    if let Some(d) = std::env::var_os("BC_BIN_DIR") {
        dirs.push(PathBuf::from(d));
    }
    if let Ok(exe) = std::env::current_exe() {
        if let Some(d) = exe.parent() {
            dirs.push(d.to_path_buf());
            // Tests and examples run from target/<profile>/{deps,examples}.
            if let Some(p) = d.parent() {
                dirs.push(p.to_path_buf());
            }
        }
    }
    dirs
}

/// The path of binary `name` (from cargo package `package`), or an error naming where it looked.
pub fn find_binary(
    explicit: Option<&Path>,
    name: &str,
    package: &str,
) -> Result<PathBuf, EnvError> {
    let dirs = candidate_dirs(explicit);
    for d in &dirs {
        let p = d.join(name);
        if p.is_file() {
            return Ok(p);
        }
    }
    Err(EnvError::BinaryNotFound {
        name: name.to_string(),
        package: package.to_string(),
        looked_in: dirs
            .iter()
            .map(|d| d.display().to_string())
            .collect::<Vec<_>>()
            .join(", "),
    })
}

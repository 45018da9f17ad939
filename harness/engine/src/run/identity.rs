//! Finds out what a run certifies: the desktop (its program resolved as the OS would, hashed, asked
//! for `--version`: 2 s, stdin closed, killed after; docs/desktop-contract.md) and the suites' hash.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::event::identity::DesktopIdentity;

/// SHA-256 over the suite files (sorted by path, each path and content), hex: shards and certificates
/// of the same suites, given by the same paths, have the same hash.
pub fn suite_hash(files: &[&str]) -> String {
    let mut files: Vec<&str> = files.to_vec();
    files.sort_unstable();
    files.dedup();
    let mut h = Sha256::new();
    for f in files {
        h.update(f.as_bytes());
        h.update([0]);
        h.update(std::fs::read(f).unwrap_or_default());
        h.update([0]);
    }
    hex(&h.finalize())
}

/// How long a desktop gets to print its version and exit.
const VERSION_TIMEOUT: Duration = Duration::from_secs(2);

/// The program a command line starts: its first word, looked up in PATH unless it names a path.
pub fn resolve(command: &str) -> Option<PathBuf> {
    let first = shlex::split(command)?.into_iter().next()?;
    if first.contains('/') {
        return Some(PathBuf::from(first));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(&first))
        .find(|p| p.is_file())
}

/// SHA-256 of a file, hex.
pub fn sha256_file(path: &Path) -> Option<String> {
    let bytes = std::fs::read(path).ok()?;
    Some(hex(&Sha256::digest(&bytes)))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The desktop's identity; a desktop that cannot say its version is still identified by its hash.
pub async fn identify(command: &str) -> DesktopIdentity {
    let Some(program) = resolve(command) else {
        return DesktopIdentity {
            program: command.to_string(),
            ..DesktopIdentity::default()
        };
    };
    let program = std::fs::canonicalize(&program).unwrap_or(program);
    DesktopIdentity {
        sha256: sha256_file(&program),
        version: version(&program).await,
        program: program.display().to_string(),
    }
}

/// The first non-empty line of `PROGRAM --version`, if it exits 0 in time; BC_DESKTOP_CONFIG is
/// unset so a desktop that ignores the flag has nothing to connect to.
async fn version(program: &Path) -> Option<String> {
    let child = tokio::process::Command::new(program)
        .arg("--version")
        .env_remove("BC_DESKTOP_CONFIG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .ok()?;
    let out = tokio::time::timeout(VERSION_TIMEOUT, child.wait_with_output())
        .await
        .ok()?
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().map(str::trim).find(|l| !l.is_empty())?;
    Some(line.chars().filter(|c| !c.is_control()).take(200).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_through_path_and_keeps_paths() {
        assert_eq!(
            resolve("./target/debug/x --config {config}"),
            Some(PathBuf::from("./target/debug/x"))
        );
        let sh = resolve("sh -c true").expect("sh on PATH");
        assert!(sh.is_absolute() && sh.ends_with("sh"), "{sh:?}");
        assert_eq!(resolve("no-such-program-bc-harness"), None);
    }

    #[tokio::test]
    async fn a_program_without_version_is_still_hashed() {
        // `true --version` prints nothing on some systems and a line on others; either way the
        // file is hashed.
        let id = identify("true").await;
        assert_eq!(id.sha256.as_ref().map(String::len), Some(64), "{id:?}");
    }
}

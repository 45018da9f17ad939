//! The state directory of a running lab environment: `state.json` says how to reach the process that
//! owns it (its control endpoint, pid) and what it runs; the desktop connection file sits beside it.

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The file name of the state in a state directory.
pub const STATE_FILE: &str = "state.json";

/// What `env status/fault/heal/down` and `run --attach` need to reach a running environment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabState {
    /// Format version of this file.
    pub version: u32,
    /// The `env up` process that owns the environment.
    pub pid: u32,
    /// `local` or `docker`.
    pub runtime: String,
    /// Base URL of the owner's control endpoint (`/status`, `/faults`, `/down`).
    pub control_url: String,
    /// Base URL of the fault proxy's Toxiproxy API (for third-party clients).
    pub proxy_api_url: String,
    /// The configuration database the mocks serve.
    pub config: PathBuf,
    /// The agent the connection file is for.
    pub agent: String,
    /// The desktop connection file.
    pub connection_file: PathBuf,
    /// µs since the Unix epoch when the environment was ready.
    pub started_us: i64,
}

impl LabState {
    /// Writes `state.json` into `dir` atomically (a reader never sees half a file).
    pub fn write(&self, dir: &Path) -> std::io::Result<PathBuf> {
        let path = dir.join(STATE_FILE);
        let tmp = dir.join(format!(".{STATE_FILE}.tmp"));
        std::fs::write(&tmp, serde_json::to_string_pretty(self).unwrap_or_default())?;
        std::fs::rename(&tmp, &path)?;
        Ok(path)
    }

    /// Reads `state.json` of `dir`, with a hint when there is none.
    pub fn read(dir: &Path) -> Result<LabState, String> {
        let path = dir.join(STATE_FILE);
        let text = std::fs::read_to_string(&path).map_err(|e| {
            format!(
                "no running environment at {} ({e})\nhint: start one with `bc-harness env up --state-dir {}`",
                path.display(),
                dir.display()
            )
        })?;
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Whether the owning process still exists.
    pub fn is_alive(&self) -> bool {
        pid_alive(self.pid)
    }
}

/// Whether a process with this pid exists (a zombie counts as gone).
pub fn pid_alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state is the field after the parenthesised command name.
        Ok(s) => s
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|st| st != "Z" && st != "X"),
        Err(_) => false,
    }
}

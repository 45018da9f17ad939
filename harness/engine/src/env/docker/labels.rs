//! Owner labels put on every container and network the harness creates, and the liveness test on them.
//! A run is identified by a random id plus the pid and start time of its process, so a sweep can tell dead runs.

use std::collections::HashMap;

/// Present (value `true`) on everything the harness creates; `clean` removes all of it.
pub const OWNED: &str = "bc-harness.owned";
/// The run id of the environment that created the object.
pub const RUN: &str = "bc-harness.run";
/// Pid of the process that created the object.
pub const PID: &str = "bc-harness.pid";
/// Start time (clock ticks since boot, /proc/PID/stat field 22) of that process, so a reused pid is not "alive".
pub const PID_START: &str = "bc-harness.pid-start";
/// Present (value `true`) on the objects of an environment `env up` keeps for a lab: `clean`
/// leaves them while their owner lives (`env down` removes them).
pub const LAB: &str = "bc-harness.lab";
/// Set (to anything) in a process whose environments are lab environments.
pub const LAB_ENV_VAR: &str = "BC_HARNESS_LAB";
/// Which server instance (or `proxy`) a container plays.
pub const INSTANCE: &str = "bc-harness.instance";

/// The owner of the objects of one environment: its run id and creating process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunOwner {
    pub run_id: String,
    pub pid: u32,
    pub pid_start: Option<u64>,
}

impl RunOwner {
    /// A fresh run id owned by this process.
    pub fn current() -> RunOwner {
        let pid = std::process::id();
        RunOwner {
            run_id: new_run_id(pid),
            pid,
            pid_start: process_start_ticks(pid),
        }
    }

    /// The labels to put on a container or network of this run.
    pub fn labels(&self) -> HashMap<String, String> {
        let mut labels = HashMap::new();
        labels.insert(OWNED.to_string(), "true".to_string());
        labels.insert(RUN.to_string(), self.run_id.clone());
        labels.insert(PID.to_string(), self.pid.to_string());
        if let Some(start) = self.pid_start {
            labels.insert(PID_START.to_string(), start.to_string());
        }
        if std::env::var_os(LAB_ENV_VAR).is_some() {
            labels.insert(LAB.to_string(), "true".to_string());
        }
        labels
    }

    /// Reads the owner back from an object's labels; `None` when the labels are not ours or are malformed.
    pub fn from_labels(labels: &HashMap<String, String>) -> Option<RunOwner> {
        if labels.get(OWNED).map(String::as_str) != Some("true") {
            return None;
        }
        Some(RunOwner {
            run_id: labels.get(RUN)?.clone(),
            pid: labels.get(PID)?.parse().ok()?,
            pid_start: labels.get(PID_START).and_then(|s| s.parse().ok()),
        })
    }

    /// True while the creating process still runs (same pid and, where known, same start time).
    pub fn is_alive(&self) -> bool {
        match (process_start_ticks(self.pid), self.pid_start) {
            (None, _) => false,
            (Some(now), Some(then)) => now == then,
            (Some(_), None) => true,
        }
    }
}

/// A short, unique-enough run id: time, pid and a random part, hex (container names allow [a-zA-Z0-9_.-]).
fn new_run_id(pid: u32) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let random: u32 = rand::random();
    let mixed = (nanos as u64) ^ ((pid as u64) << 32) ^ random as u64;
    format!("{:010x}", mixed & 0xff_ffff_ffff)
}

/// Start time of a process in clock ticks since boot; `None` when the process does not exist.
pub fn process_start_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may contain spaces and parentheses: fields restart after the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    // After ')' come field 3 (state) onwards; starttime is field 22, i.e. index 19 here.
    rest.split_whitespace().nth(19)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_process_is_alive_and_labels_round_trip() {
        let owner = RunOwner::current();
        assert!(owner.pid_start.is_some());
        let back = RunOwner::from_labels(&owner.labels()).expect("labels parse");
        assert_eq!(back, owner);
        assert!(back.is_alive());
    }

    #[test]
    fn reused_pid_or_missing_process_is_dead() {
        let mut owner = RunOwner::current();
        owner.pid_start = owner.pid_start.map(|s| s + 1);
        assert!(
            !owner.is_alive(),
            "a different start time means another process"
        );
        owner.pid = u32::MAX - 1;
        assert!(!owner.is_alive());
    }

    #[test]
    fn foreign_labels_are_not_ours() {
        let mut labels = HashMap::new();
        labels.insert(RUN.to_string(), "x".to_string());
        assert_eq!(RunOwner::from_labels(&labels), None);
    }
}

//! One timeline entry: a mock observation, an injected fault or heal, a marker, a step, a desktop event.
//! Every entry carries a wall-clock µs timestamp (mocks' `ts_us`, faults' confirmed effect time).

use bc_protocol::{ObservedEvent, ServerKind};
use serde::{Deserialize, Serialize};

/// A member of an HA pair, as named in the timeline (`primary` / `backup`).
pub use bc_protocol::Role;

/// One entry of a scenario's timeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// Wall-clock time in microseconds since the Unix epoch.
    pub ts_us: i64,
    /// What happened.
    #[serde(flatten)]
    pub kind: EntryKind,
}

/// What an entry records. Serialised with `"entry": "<snake_case>"` beside the other fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "entry", rename_all = "snake_case")]
pub enum EntryKind {
    /// An event published by a mock server instance.
    Observed {
        /// The event, as the mock published it.
        event: ObservedEvent,
    },
    /// A fault the harness injected and saw confirmed (`ts_us` is when it took effect).
    Fault {
        /// Sequential id within the scenario, used by heals.
        id: u32,
        /// Marker the step set, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        marker: Option<String>,
        /// Human description, e.g. `kill_site A`.
        description: String,
        /// What it did to instances and links (drives the derived state).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        effects: Vec<Effect>,
    },
    /// A fault undone (`fault: None` for a heal-all).
    Heal {
        /// The fault healed, if one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        fault: Option<u32>,
        /// Human description.
        description: String,
        /// What it restored.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        effects: Vec<Effect>,
    },
    /// A named instant (a step's marker or a `mark` step).
    Marker {
        /// The marker name.
        name: String,
    },
    /// A scenario step began.
    Step {
        /// Index in the planned scenario.
        index: usize,
        /// Human description.
        description: String,
    },
    /// Something about the desktop process.
    Desktop(DesktopEvent),
    /// A harness note (preconditions applied, environment reset, problems).
    Note {
        /// The text.
        message: String,
    },
}

/// Desktop process lifecycle and output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "desktop", rename_all = "snake_case")]
pub enum DesktopEvent {
    /// The process was spawned.
    Started {
        /// Its pid.
        pid: u32,
        /// The command line.
        command: String,
    },
    /// A line the desktop printed (`stderr: true` for stderr).
    Log {
        /// The line.
        line: String,
        /// From stderr rather than stdout.
        #[serde(default)]
        stderr: bool,
    },
    /// The process ended.
    Exited {
        /// Exit code, if it exited normally.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        code: Option<i32>,
        /// True when the harness stopped it (scenario end), false for an early exit.
        expected: bool,
    },
}

/// What a fault or heal did to a target; the derived state reads these.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Effect {
    /// The instances or links hit.
    pub target: Target,
    /// The change.
    pub change: Change,
}

/// Instances or links: a site, optionally one server kind, optionally one member of the pair.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Target {
    /// The site.
    pub site: String,
    /// One kind, or all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<ServerKind>,
    /// One member, or both.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
}

impl Target {
    /// A whole site.
    pub fn site(site: &str) -> Target {
        Target {
            site: site.to_string(),
            server: None,
            role: None,
        }
    }
    /// Whether an instance `(site, server, role)` is covered.
    pub fn covers(&self, site: &str, server: ServerKind, role: Role) -> bool {
        self.site == site
            && self.server.is_none_or(|s| s == server)
            && self.role.is_none_or(|r| r == role)
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.site)?;
        if let Some(s) = self.server {
            write!(f, "/{}", s.as_str())?;
        }
        if let Some(r) = self.role {
            write!(
                f,
                "/{}",
                if r == Role::Primary {
                    "primary"
                } else {
                    "backup"
                }
            )?;
        }
        Ok(())
    }
}

/// The change an effect makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    /// Processes killed (SIGKILL): they cannot report their clients' disconnects.
    Killed,
    /// Processes stopped gracefully.
    Stopped,
    /// Processes frozen (SIGSTOP): sessions look live but nothing flows.
    Frozen,
    /// Links black-holed: sessions look live but nothing flows.
    BlackHoled,
    /// Links refusing connections.
    Refused,
    /// Connections reset.
    Reset,
    /// Logins rejected.
    RejectingLogins,
    /// Some other degradation (latency, bandwidth, ...).
    Degraded,
    /// HA failover / switchover inside the site.
    HaFailover,
    /// Configuration changed.
    ConfigChanged,
    /// A call delivered.
    CallDelivered,
    /// Back to normal (process restarted / thawed, link restored, rejection off).
    Restored,
}

impl Change {
    /// Partitions hide a session's end from the servers (BC-6 tolerance).
    pub fn is_partition(self) -> bool {
        matches!(self, Change::Frozen | Change::BlackHoled)
    }
    /// Changes that make the desktop lose a site (used to pick the fault switchover times count from).
    pub fn is_site_loss(self) -> bool {
        matches!(
            self,
            Change::Killed
                | Change::Stopped
                | Change::Frozen
                | Change::BlackHoled
                | Change::Refused
                | Change::Reset
                | Change::RejectingLogins
        )
    }
}

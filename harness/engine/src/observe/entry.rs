//! One timeline entry: observation, fault, heal, marker, step, desktop or infrastructure event.
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
        /// A fault aimed at some agents of a herd: them (its effects are theirs alone); empty:
        /// every agent.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        agents: Vec<String>,
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
    /// The environment left the plan: a server instance or the fault proxy (process or container)
    /// went down or stopped answering with no step causing it. The scenario's verdict is `error`.
    Infra {
        /// Who: an instance (`A.stat_server.primary`) or `fault proxy`.
        component: String,
        /// What happened to it.
        cause: InfraCause,
    },
}

/// What happened to a piece of infrastructure that no step touched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum InfraCause {
    /// The process or container exited: its exit code, or the signal that ended it.
    Exited {
        /// Exit code, when it exited by itself.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        code: Option<i32>,
        /// Signal number, when a signal ended it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        signal: Option<i32>,
    },
    /// A step of the lab's own setup failed, e.g. the start hook of a desktop the harness does not
    /// launch (`run --attach`): the vendor's tooling, not the desktop's behaviour.
    Failed {
        /// What the stand-in reported.
        reason: String,
    },
    /// Its HTTP API (`control API` of a mock, `API` of the proxy) missed `probes` health probes
    /// in a row, each given `timeout_ms`.
    Unresponsive {
        /// Which API.
        api: String,
        /// Consecutive probes without an answer.
        probes: u32,
        /// How long each probe waited.
        timeout_ms: u64,
    },
}

impl std::fmt::Display for InfraCause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            InfraCause::Exited {
                signal: Some(s), ..
            } => write!(f, "exited unexpectedly (signal {s})"),
            InfraCause::Exited { code: Some(c), .. } => {
                write!(f, "exited unexpectedly (exit code {c})")
            }
            InfraCause::Exited { .. } => write!(f, "exited unexpectedly"),
            InfraCause::Failed { reason } => write!(f, "failed: {reason}"),
            InfraCause::Unresponsive {
                api,
                probes,
                timeout_ms,
            } => write!(
                f,
                "{api} stopped answering ({probes} probes in a row unanswered within {:.1} s each)",
                *timeout_ms as f64 / 1000.0
            ),
        }
    }
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
    /// One group of four SIP Servers, or every group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<u32>,
}

impl Target {
    /// A whole site.
    pub fn site(site: &str) -> Target {
        Target {
            site: site.to_string(),
            server: None,
            role: None,
            group: None,
        }
    }
    /// Whether an instance `(site, server, role)` of group 1 is covered.
    pub fn covers(&self, site: &str, server: ServerKind, role: Role) -> bool {
        self.covers_in(site, server, role, 1)
    }
    /// Whether an instance `(site, server, role)` of group `group` is covered.
    pub fn covers_in(&self, site: &str, server: ServerKind, role: Role, group: u32) -> bool {
        self.site == site
            && self.server.is_none_or(|s| s == server)
            && self.role.is_none_or(|r| r == role)
            && self.group.is_none_or(|g| g == group)
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.site)?;
        if let Some(s) = self.server {
            write!(f, "/{}", s.as_str())?;
        }
        if let Some(g) = self.group {
            write!(f, "/g{g}")?;
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
    /// Links cut from desktop to server: the desktop's logout and close are lost, so its old
    /// session there cannot be seen ending (a partition, like a black hole).
    CutToServer,
    /// Links cut from server to desktop: the server still hears the desktop (requests, Pings,
    /// close), so its sessions stay visible and count for BC-6 (not a partition).
    CutToDesktop,
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
    /// A call the servers refused: no Ready agent on the DN at the site or its peers (the
    /// desktop's state, so the call still counts as offered: `expect_call_answered` fails).
    CallRefused,
    /// Back to normal (process restarted / thawed, link restored, rejection off).
    Restored,
}

impl Change {
    /// Partitions hide a session's end from the servers (BC-6 tolerance).
    pub fn is_partition(self) -> bool {
        matches!(
            self,
            Change::Frozen | Change::BlackHoled | Change::CutToServer
        )
    }
    /// Changes that make the desktop lose a site (used to pick the fault switchover times count from).
    pub fn is_site_loss(self) -> bool {
        matches!(
            self,
            Change::Killed
                | Change::Stopped
                | Change::Frozen
                | Change::BlackHoled
                | Change::CutToServer
                | Change::CutToDesktop
                | Change::Refused
                | Change::Reset
                | Change::RejectingLogins
        )
    }
}

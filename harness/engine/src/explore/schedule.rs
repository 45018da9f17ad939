//! A chaos schedule: timed operations (faults, heals, checkpoints) with every site concrete.
//! Pure data: the generator makes it, the model validates it, the emitter writes it as a suite.

use std::fmt;

use bc_suite::{Level, Role, ServerKind, Site};
use serde::Serialize;

/// A server member: site, kind and HA slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct Member {
    /// The site.
    pub site: Site,
    /// The server kind.
    pub kind: ServerKind,
    /// The HA slot.
    pub role: Role,
}

/// Links from the desktop: a site, one pair, or one member.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct Link {
    /// The site.
    pub site: Site,
    /// One kind, or every kind.
    pub kind: Option<ServerKind>,
    /// One member (only with a kind), or both.
    pub role: Option<Role>,
}

impl Link {
    /// Whether the link covers this member.
    pub fn covers(&self, site: Site, kind: ServerKind, role: Role) -> bool {
        self.site == site
            && self.kind.is_none_or(|k| k == kind)
            && self.role.is_none_or(|r| r == role)
    }
    /// Whether two link targets share a member.
    pub fn overlaps(&self, o: &Link) -> bool {
        self.site == o.site
            && (self.kind.is_none() || o.kind.is_none() || self.kind == o.kind)
            && (self.role.is_none() || o.role.is_none() || self.role == o.role)
    }
    /// Whether it covers any member of the pair.
    pub fn touches(&self, site: Site, kind: ServerKind) -> bool {
        self.site == site && self.kind.is_none_or(|k| k == kind)
    }
}

impl fmt::Display for Link {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.site)?;
        if let Some(k) = self.kind {
            write!(f, "/{k}")?;
        }
        if let Some(r) = self.role {
            write!(f, "/{}", r.as_str())?;
        }
        Ok(())
    }
}

impl fmt::Display for Member {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}/{}", self.site, self.kind, self.role.as_str())
    }
}

/// A link fault and its parameters (mild enough that a conformant desktop keeps working, except
/// for the three that cut the link).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkKind {
    /// Proxy disabled.
    Refuse,
    /// Nothing flows.
    BlackHole,
    /// TCP RST.
    Reset,
    /// Added delay.
    Latency {
        /// Delay.
        ms: u64,
        /// Jitter.
        jitter_ms: u64,
    },
    /// Random delay.
    Jitter {
        /// Maximum delay.
        ms: u64,
    },
    /// Rate limit.
    Bandwidth {
        /// KB/s.
        kb_per_s: u64,
    },
    /// Delayed close.
    SlowClose {
        /// Delay, ms.
        delay_ms: u64,
    },
    /// Close after some bytes.
    LimitData {
        /// Bytes.
        bytes: u64,
    },
    /// One direction cut (`to_server`: the desktop's bytes are lost; `to_desktop`: the server's).
    PartitionOneWay {
        /// Which direction is cut.
        to_desktop: bool,
    },
    /// Sliced packets.
    Slicer {
        /// Average slice.
        average_size: u64,
        /// Variation.
        size_variation: u64,
        /// Delay between slices, µs.
        delay_us: u64,
    },
}

impl LinkKind {
    /// The ones that cut the link (the desktop loses it; a one-way partition too: either its
    /// keep-alive hears nothing, or the server's client timeout closes the connection).
    pub fn is_blocking(&self) -> bool {
        matches!(
            self,
            LinkKind::Refuse
                | LinkKind::BlackHole
                | LinkKind::Reset
                | LinkKind::PartitionOneWay { .. }
        )
    }
    /// The suite keyword.
    pub fn keyword(&self) -> &'static str {
        match self {
            LinkKind::Refuse => "refuse",
            LinkKind::BlackHole => "black_hole",
            LinkKind::Reset => "reset",
            LinkKind::Latency { .. } => "latency",
            LinkKind::Jitter { .. } => "jitter",
            LinkKind::Bandwidth { .. } => "bandwidth",
            LinkKind::SlowClose { .. } => "slow_close",
            LinkKind::LimitData { .. } => "limit_data",
            LinkKind::Slicer { .. } => "slicer",
            LinkKind::PartitionOneWay { .. } => "partition_one_way",
        }
    }
}

/// One fault of the suite language, concrete.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultOp {
    /// SIGKILL every server of the site.
    KillSite(Site),
    /// Graceful stop of every server of the site.
    StopSite(Site),
    /// SIGKILL one member.
    KillServer(Member),
    /// Graceful stop of one member.
    StopServer(Member),
    /// SIGSTOP one member.
    FreezeServer(Member),
    /// Kill the active member, promote its partner.
    HaFailover(Site, ServerKind),
    /// Promote the standby, demote the active member.
    HaSwitchover(Site, ServerKind),
    /// A link fault.
    Link(Link, LinkKind),
    /// Refused for the first half of each period, `count` times.
    Flap {
        /// The links.
        link: Link,
        /// One cycle, ms.
        period_ms: u64,
        /// Cycles.
        count: u32,
    },
    /// Login requests rejected by the pair.
    RejectLogins(Site, ServerKind),
    /// New clients of the pair turned away as overloaded (retry after 3 s).
    Overload(Site, ServerKind),
    /// Write (`Some`) or clear (`None`) the preferred site at a level.
    PreferredSite(Level, Option<Site>),
    /// A call through this site's SIP Server peer.
    DeliverCall(Site),
}

impl FaultOp {
    /// The suite keyword of the step.
    pub fn keyword(&self) -> &'static str {
        match self {
            FaultOp::KillSite(_) => "kill_site",
            FaultOp::StopSite(_) => "stop_site",
            FaultOp::KillServer(_) => "kill_server",
            FaultOp::StopServer(_) => "stop_server",
            FaultOp::FreezeServer(_) => "freeze_server",
            FaultOp::HaFailover(..) => "ha_failover",
            FaultOp::HaSwitchover(..) => "ha_switchover",
            FaultOp::Link(_, k) => k.keyword(),
            FaultOp::Flap { .. } => "flap",
            FaultOp::RejectLogins(..) => "reject_logins",
            FaultOp::Overload(..) => "overload",
            FaultOp::PreferredSite(_, Some(_)) => "set_preferred_site",
            FaultOp::PreferredSite(_, None) => "clear_preferred_site",
            FaultOp::DeliverCall(_) => "deliver_call",
        }
    }
    /// Whether `heal: MARKER` undoes it (the suite language's rule).
    pub fn healable_by_marker(&self) -> bool {
        !matches!(
            self,
            FaultOp::HaFailover(..)
                | FaultOp::HaSwitchover(..)
                | FaultOp::PreferredSite(..)
                | FaultOp::DeliverCall(_)
        )
    }
}

/// Every fault keyword the generator can draw (for `--focus`).
pub const FAULT_KINDS: [&str; 23] = [
    "kill_site",
    "stop_site",
    "kill_server",
    "stop_server",
    "freeze_server",
    "ha_failover",
    "ha_switchover",
    "refuse",
    "black_hole",
    "reset",
    "latency",
    "jitter",
    "bandwidth",
    "slow_close",
    "limit_data",
    "slicer",
    "flap",
    "partition_one_way",
    "reject_logins",
    "overload",
    "set_preferred_site",
    "clear_preferred_site",
    "deliver_call",
];

/// How a heal is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HealVia {
    /// `heal: fN`.
    Marker,
    /// The matching `restore_site` / `restore_server` / `thaw_server` step.
    Restore,
}

/// One operation of a schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    /// Inject fault number `id` (its marker is `f{id}`).
    Fault {
        /// Number, unique in the schedule.
        id: u32,
        /// The fault.
        fault: FaultOp,
    },
    /// Heal fault `id`, which must still be active.
    Heal {
        /// The fault.
        id: u32,
        /// How it is written.
        via: HealVia,
    },
    /// Wait one budget, then expect the agent logged in (where the model says it must be).
    Checkpoint,
}

/// What the desktop does that sets off an operation placed on a trigger (the suite's `on:`
/// step, armed in the mock that sees it when the operation before began, holding the message
/// until the operation is applied). Only placed right after an operation that makes the desktop
/// move to the trigger's site, where it must connect and log in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    /// The desktop opens a connection to this pair (held before it is served).
    Connects(Site, ServerKind),
    /// The desktop's `RequestAgentLogin` at this site's SIP Server: handled at once, its answer
    /// held until the operation is applied.
    Login(Site),
}

impl Trigger {
    /// The site it waits at.
    pub fn site(&self) -> Site {
        match self {
            Trigger::Connects(s, _) | Trigger::Login(s) => *s,
        }
    }
}

impl fmt::Display for Trigger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Trigger::Connects(s, k) => write!(f, "connects: {s}/{k}"),
            Trigger::Login(s) => {
                write!(
                    f,
                    "desktop_sends: RequestAgentLogin, at: {s}/sip_server, hold: reply"
                )
            }
        }
    }
}

/// An operation and the pause before it, or the trigger it waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct TimedOp {
    /// Pause before the operation, ms (0: right after the previous one, overlapping it); with a
    /// trigger, the pause after the trigger fired (`after:`).
    pub wait_ms: u64,
    /// The operation.
    pub op: Op,
    /// Placed on a trigger instead of at a time (faults and heals only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub on: Option<Trigger>,
}

impl TimedOp {
    /// An operation at a time (after a pause).
    pub fn at(wait_ms: u64, op: Op) -> TimedOp {
        TimedOp {
            wait_ms,
            op,
            on: None,
        }
    }
}

/// A whole schedule: operations in order; the final heal and settling are implied.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Schedule {
    /// The seed it was generated from.
    pub seed: u64,
    /// The operations.
    pub ops: Vec<TimedOp>,
}

impl Schedule {
    /// Number of operations.
    pub fn len(&self) -> usize {
        self.ops.len()
    }
    /// True without operations.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }
    /// Operations placed on triggers.
    pub fn triggers(&self) -> usize {
        self.ops.iter().filter(|o| o.on.is_some()).count()
    }
}

//! The engine-facing, concrete form of a scenario: sites resolved, defaults filled, markers named.
//! Produced by [`crate::plan()`]; the engine runs these and never reads the YAML model.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Serialize, Serializer};

use crate::model::{Direction, FlapMode, HoldMode, ReleaseMode};
use crate::target::{LinkTarget, ServerTarget};
use crate::vocab::{Capability, Level, RuleId, ServerKind, Site};

fn ser_dur<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(&humantime::format_duration(*d))
}

fn ser_opt_dur<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => ser_dur(d, s),
        None => s.serialize_none(),
    }
}

/// One concrete run: a scenario for one value of its parameters.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlannedScenario {
    /// Unique run id: `SUITE/SCENARIO`, plus `[preferred=A]` for parameterised runs.
    pub id: String,
    /// The suite's id.
    pub suite_id: String,
    /// The scenario's id within the suite.
    pub scenario_id: String,
    /// The suite file.
    pub file: PathBuf,
    /// Line of the scenario in the suite file.
    pub line: u32,
    /// Scenario title, else the suite's.
    pub title: Option<String>,
    /// Scenario description.
    pub description: Option<String>,
    /// Rules checked: suite rules plus scenario rules, sorted, no duplicates.
    pub rules: Vec<RuleId>,
    /// Tags: suite tags plus scenario tags, in order, no duplicates.
    pub tags: Vec<String>,
    /// Capabilities needed (suite's plus scenario's); lacking one means skipped.
    pub requires: Vec<Capability>,
    /// Capabilities whose declaration makes the scenario inapplicable (skipped).
    pub skip_if: Vec<Capability>,
    /// Sites that exist.
    pub sites: Vec<Site>,
    /// Whether Stat Server pairs exist.
    pub stat_server: bool,
    /// Whether servers run as HA pairs (primary + backup).
    pub ha: bool,
    /// The mocks' client timeout for this run, when the suite sets one (else the run's).
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "ser_opt_dur"
    )]
    pub server_client_timeout: Option<Duration>,
    /// The mocks' ping interval for this run, when the suite sets one (else the run's).
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "ser_opt_dur"
    )]
    pub server_ping_interval: Option<Duration>,
    /// Declared server capacity, one entry per limited server kind (`topology.capacity`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub capacity: Vec<crate::capacity::CapacityPlan>,
    /// SIP Servers keep a closed connection's agent logged in (`topology.keep_agents_on_disconnect`).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub keep_agents_on_disconnect: bool,
    /// Groups of four SIP Servers (`topology.groups`, 1 unless declared).
    #[serde(skip_serializing_if = "is_one")]
    pub groups: u32,
    /// Resolved path of the configuration database YAML.
    pub config_path: PathBuf,
    /// Username of the agent.
    pub agent: String,
    /// The agent's preferred site for this run: the parameter or pin when set, else resolved
    /// from the configuration database (Person > Agent Group > Tenant); `None` if unset there.
    pub preferred_site: Option<Site>,
    /// True when the engine must write `preferred_site` on the Person (annex
    /// `business-continuity/preferred-site`) before the desktop starts (pinned or parameterised).
    pub pin_preferred_site: bool,
    /// The budget: command line, else scenario, else suite, else 60 s.
    #[serde(serialize_with = "ser_dur")]
    pub budget: Duration,
    /// The steps. Always contains exactly one [`Action::StartDesktop`] (inserted first when the
    /// suite did not place one).
    pub steps: Vec<PlannedStep>,
    /// A herd of generated agents instead of [`PlannedScenario::agent`] (`herd:`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub herd: Option<HerdPlan>,
    /// Checked continuously from the desktop's start to the scenario's end.
    pub invariants: Vec<PlannedInvariant>,
    /// Named durations to report (from `measurements:` and from `measure:` on expectations).
    pub measurements: Vec<PlannedMeasurement>,
}

/// A planned herd: how many agents, in how many desktop processes, preferring which site.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct HerdPlan {
    /// How many agents.
    pub agents: u32,
    /// How many desktop processes serve them (equal to `agents`: one standard desktop per agent).
    pub desktops: u32,
    /// Percent of the agents preferring each site, in site order, summing to 100.
    pub preferred: Vec<(Site, u32)>,
    /// HERD-2's bound in percent of the agents per 100 ms window.
    pub max_burst_percent: u32,
    /// HERD-5's bound in percent of a retry round's agents' intervals per 250 ms slot.
    pub max_round_percent: u32,
    /// HERD-4's bound in attempts per agent in the busiest minute.
    pub max_attempts_per_minute: u32,
    /// The desktop processes start evenly spaced over this (zero: all at once).
    pub ramp: std::time::Duration,
}

impl HerdPlan {
    /// HERD-4's default bound: attempts per agent in the busiest minute (full jitter capped at
    /// 2 s may make about 60; twice that is hammering).
    pub const DEFAULT_MAX_ATTEMPTS_PER_MINUTE: u32 = 120;

    /// The default number of desktop processes for `agents`: one each up to 10, else one per 50.
    pub fn default_desktops(agents: u32) -> u32 {
        if agents <= 10 {
            agents
        } else {
            agents.div_ceil(50)
        }
    }

    /// Each agent's preferred site, in agent order: sites dealt in proportion and interleaved,
    /// so that every desktop process serves a mix (each agent goes to the site furthest behind
    /// its share so far; ties to the earlier site).
    pub fn deal(&self) -> Vec<Site> {
        let mut dealt = vec![0i64; self.preferred.len()];
        (1..=i64::from(self.agents))
            .map(|n| {
                let (k, _) = self
                    .preferred
                    .iter()
                    .enumerate()
                    .map(|(k, (_, pct))| (k, i64::from(*pct) * n - dealt[k] * 100))
                    .fold((0, i64::MIN), |b, c| if c.1 > b.1 { c } else { b });
                dealt[k] += 1;
                self.preferred[k].0
            })
            .collect()
    }
}

fn is_one(n: &u32) -> bool {
    *n == 1
}

impl Action {
    /// The group of four SIP Servers a fault aims at (`SITE/sip_server/gN`), if it names one.
    pub fn group(&self) -> Option<u32> {
        match self {
            Action::KillServer(t)
            | Action::StopServer(t)
            | Action::FreezeServer(t)
            | Action::ThawServer(t)
            | Action::RestoreServer(t)
            | Action::RejectLogins(t)
            | Action::Overload(t, _) => t.group,
            Action::HaFailover { group, .. } | Action::HaSwitchover { group, .. } => *group,
            Action::Link { link, .. } | Action::Flap { link, .. } => link.group,
            _ => None,
        }
    }
}

impl PlannedScenario {
    /// Why this run does not apply to a desktop declaring `declared`, or `None` if it applies.
    pub fn skip_reason(&self, declared: &[Capability]) -> Option<String> {
        // The phone is the run's, not the desktop's: say how to provide it.
        if self.requires.contains(&Capability::Phone) && !declared.contains(&Capability::Phone) {
            return Some("the run has no phone (add --phone builtin or --phone CMD)".into());
        }
        let missing: Vec<String> = self
            .requires
            .iter()
            .filter(|c| !declared.contains(c))
            .map(|c| c.to_string())
            .collect();
        if !missing.is_empty() {
            return Some(format!("desktop lacks capability {}", missing.join(", ")));
        }
        let excluded: Vec<String> = self
            .skip_if
            .iter()
            .filter(|c| declared.contains(c))
            .map(|c| c.to_string())
            .collect();
        if !excluded.is_empty() {
            return Some(format!(
                "not applicable to desktops declaring {}",
                excluded.join(", ")
            ));
        }
        None
    }
}

/// One step of a run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlannedStep {
    /// Position in [`PlannedScenario::steps`].
    pub index: usize,
    /// Line in the suite file (0 for the implicit start).
    pub line: u32,
    /// Marker set when this step begins (see docs/suite-format.md, "Markers"), if any.
    pub marker: Option<String>,
    /// What to do.
    pub action: Action,
    /// A link fault aimed at some of a herd's agents (`share:` / `agents:`); `None`: all.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aim: Option<crate::aim::Aim>,
    /// An expectation about one group of a herd with aimed faults; `None`: every agent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub among: Option<crate::aim::AgentGroup>,
}

/// What a step does, with every site concrete and every default filled in.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Start the desktop.
    StartDesktop,
    /// SIGKILL every server of the site.
    KillSite(Site),
    /// Graceful stop of every server of the site (forced logout, then close).
    StopSite(Site),
    /// Restart every server of the site and remove every link fault towards it.
    RestoreSite(Site),
    /// SIGKILL one server (role `None`: the member currently serving).
    KillServer(ServerTarget<Site>),
    /// Graceful stop of one server: forced logout, then close (role `None`: the serving one).
    StopServer(ServerTarget<Site>),
    /// SIGSTOP one server (role `None`: the serving one).
    FreezeServer(ServerTarget<Site>),
    /// SIGCONT one server (role `None`: every frozen member of the pair).
    ThawServer(ServerTarget<Site>),
    /// Restart one server (role `None`: every killed or stopped member of the pair).
    RestoreServer(ServerTarget<Site>),
    /// Kill the primary of the pair and promote the backup.
    HaFailover {
        /// The site.
        site: Site,
        /// The pair.
        server: ServerKind,
        /// One group's SIP Server pair (`SITE/sip_server/gN`), else group 1's.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        group: Option<u32>,
    },
    /// Graceful switchover: the backup becomes primary.
    HaSwitchover {
        /// The site.
        site: Site,
        /// The pair.
        server: ServerKind,
        /// One group's SIP Server pair (`SITE/sip_server/gN`), else group 1's.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        group: Option<u32>,
    },
    /// A fault on links from the desktop (stays until healed).
    Link {
        /// Which links.
        link: LinkTarget<Site>,
        /// Which fault.
        fault: LinkFault,
    },
    /// Flapping link: `count` cycles of `period` (down for the first half, up for the second).
    Flap {
        /// Which links.
        link: LinkTarget<Site>,
        /// How the link is down.
        mode: FlapMode,
        /// One cycle.
        #[serde(serialize_with = "ser_dur")]
        period: Duration,
        /// Number of cycles.
        count: u32,
    },
    /// The server answers login requests with an error until healed.
    RejectLogins(ServerTarget<Site>),
    /// Every new client of the server pair is turned away as overloaded (until healed).
    Overload(ServerTarget<Site>, crate::model::OverloadAnswer),
    /// Write (`Some`) or remove (`None`) `business-continuity/preferred-site` on one object.
    SetPreferredSite {
        /// The level.
        level: Level,
        /// Object name at that level (tenant name, group name or username), resolved.
        name: String,
        /// New value, or `None` to clear.
        site: Option<Site>,
    },
    /// Deliver a call to the agent's DN through this site's SIP Server peer.
    DeliverCall {
        /// The site whose peer delivers the call.
        via: Site,
    },
    /// The agent's phone dials `number`; its INVITE must reach `via`'s SIP Server peer within
    /// `within` (PH-3).
    PhoneDials {
        /// The site whose peer must receive the INVITE.
        via: Site,
        /// The number dialled.
        number: String,
        /// Deadline for the INVITE.
        #[serde(serialize_with = "ser_dur")]
        within: Duration,
    },
    /// Undo faults.
    Heal(HealTarget),
    /// Wait until a mock sees the trigger's message; the next step acts then.
    On(PlannedTrigger),
    /// Sleep.
    Wait(#[serde(serialize_with = "ser_dur")] Duration),
    /// Only sets its marker.
    Mark,
    /// Wait until logged in at `site` on `servers`; fail at `within` after marker `from`.
    ExpectLoggedIn {
        /// The site; `None`: either site, with every required server at the same one.
        site: Option<Site>,
        /// Servers required; `None`: SIP Server and CS Proxy, plus Stat Server when the
        /// desktop declares `stat_server`.
        servers: Option<Vec<ServerKind>>,
        /// Deadline after the marker.
        #[serde(serialize_with = "ser_dur")]
        within: Duration,
        /// Marker the deadline counts from.
        from: String,
        /// Measurement name to report the elapsed time under.
        measure: Option<String>,
    },
    /// Fail if, during `duration` from now, the agent is seen logged in at another site or
    /// logged out of `servers` at `site` for longer than a reconnection.
    ExpectStaysLoggedIn {
        /// The site.
        site: Site,
        /// How long.
        #[serde(serialize_with = "ser_dur")]
        duration: Duration,
        /// Servers checked; `None`: SIP Server and CS Proxy.
        servers: Option<Vec<ServerKind>>,
        /// Logged-out gaps tolerated in the window.
        gaps: u32,
    },
    /// Wait until no connection from the desktop reaches any server at `site`.
    ExpectDisconnected {
        /// The site.
        site: Site,
        /// Deadline after the marker.
        #[serde(serialize_with = "ser_dur")]
        within: Duration,
        /// Marker the deadline counts from.
        from: String,
    },
    /// Wait until the call delivered at marker `from` is answered.
    ExpectCallAnswered {
        /// Deadline after the marker.
        #[serde(serialize_with = "ser_dur")]
        within: Duration,
        /// Marker of the `deliver_call` step.
        from: String,
        /// Measurement name.
        measure: Option<String>,
    },
}

impl Action {
    /// True for the steps that wait for or check the desktop (`expect_*`).
    pub fn is_expectation(&self) -> bool {
        matches!(
            self,
            Action::ExpectLoggedIn { .. }
                | Action::ExpectStaysLoggedIn { .. }
                | Action::ExpectDisconnected { .. }
                | Action::ExpectCallAnswered { .. }
        )
    }
}

/// What fires a trigger.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TriggerKind {
    /// The desktop sends this message to the server.
    DesktopSends(String),
    /// The server sends this message to the desktop.
    Event(String),
    /// The desktop connects to the server.
    Connects,
    /// A connection of the desktop to the server ends.
    Disconnects,
}

/// A trigger armed in the mock of one server (`on:` in a suite, docs/suite-format.md).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlannedTrigger {
    /// What fires it.
    pub kind: TriggerKind,
    /// The server whose mock is armed (role `None`: the member serving when armed).
    pub at: ServerTarget<Site>,
    /// Fires on the n-th occurrence after arming (>= 1).
    pub nth: u32,
    /// Past this without firing the scenario is `inconclusive`.
    #[serde(serialize_with = "ser_dur")]
    pub timeout: Duration,
    /// Delay between firing and the next step.
    #[serde(serialize_with = "ser_dur")]
    pub after: Duration,
    /// What waits until the next step's fault is applied.
    pub hold: HoldMode,
    /// What happens to the held message then.
    pub then: ReleaseMode,
}

/// A fault applied to links (toxiproxy vocabulary in brackets).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkFault {
    /// Proxy disabled: connections refused.
    Refuse,
    /// Nothing flows (`timeout` toxic with timeout 0).
    BlackHole,
    /// TCP RST (`reset_peer`).
    Reset,
    /// `latency` toxic.
    Latency {
        /// Delay, ms.
        ms: u64,
        /// Jitter, ms.
        jitter_ms: u64,
    },
    /// `latency` toxic with latency 0 and this jitter.
    Jitter {
        /// Jitter, ms.
        ms: u64,
    },
    /// `bandwidth` toxic.
    Bandwidth {
        /// Rate, KB/s.
        kb_per_s: u64,
    },
    /// `slow_close` toxic.
    SlowClose {
        /// Delay before close.
        #[serde(serialize_with = "ser_dur")]
        delay: Duration,
    },
    /// `limit_data` toxic.
    LimitData {
        /// Bytes before close.
        bytes: u64,
    },
    /// `timeout` toxic 0 on one stream (`upstream` for `to_server`, `downstream` for `to_desktop`).
    OneWay {
        /// The direction cut.
        direction: Direction,
    },
    /// `slicer` toxic.
    Slicer {
        /// Average slice size, bytes.
        average_size: u64,
        /// Size variation, bytes.
        size_variation: u64,
        /// Delay between slices, µs.
        delay_us: u64,
    },
}

/// What a heal step undoes.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HealTarget {
    /// Every fault still active: restore killed/stopped servers and sites, thaw frozen ones,
    /// remove link faults and flapping, accept logins again. Configuration changes stay.
    All,
    /// The fault set by one earlier step.
    Marker {
        /// The marker.
        marker: String,
        /// Index of the step that set it in [`PlannedScenario::steps`].
        step: usize,
    },
}

/// A property checked over the whole run.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PlannedInvariant {
    /// Never logged in at both SIP Server peers at once.
    NeverLoggedInAtBothPeers,
    /// HERD-3 for one desktop: no retry of an overloaded server before its advertised delay.
    HonoursOverload,
    /// Never connected to both sites' servers for longer than this.
    NeverSplit {
        /// Tolerance.
        #[serde(serialize_with = "ser_dur")]
        longer_than: Duration,
    },
    /// At most `count` switchovers in any window `per`.
    MaxSwitchovers {
        /// Allowed switchovers.
        count: u32,
        /// Window (defaults to the budget).
        #[serde(serialize_with = "ser_dur")]
        per: Duration,
    },
    /// At most `count` connections turned away by overloaded servers in any window `per`.
    MaxAttempts {
        /// Allowed turned-away connections.
        count: u32,
        /// Window (defaults to the budget).
        #[serde(serialize_with = "ser_dur")]
        per: Duration,
    },
    /// HERD-4 for one desktop: the mean pause between rounds of turned-away attempts is at least
    /// `min_mean_pause`, judged once `rounds` rounds were seen.
    BacksOff {
        /// Least mean pause.
        #[serde(serialize_with = "ser_dur")]
        min_mean_pause: Duration,
        /// Fewest rounds to judge.
        rounds: u32,
    },
    /// At most `count` same-site reconnections in any window `per`.
    MaxReconnects {
        /// Allowed reconnections.
        count: u32,
        /// Window (defaults to the budget).
        #[serde(serialize_with = "ser_dur")]
        per: Duration,
    },
}

/// A named duration to report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlannedMeasurement {
    /// Name.
    pub name: String,
    /// Marker it starts at.
    pub from: String,
    /// State that ends it.
    pub until: PlannedObservation,
    /// Step index of the expectation that defined it with `measure:`, if any.
    pub step: Option<usize>,
}

/// The observed state that ends a measurement.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PlannedObservation {
    /// Fully logged in at the site (`None`: at either site).
    LoggedIn(Option<Site>),
    /// First connection attempt at the site.
    FirstContact(Site),
    /// No connection left at the site.
    Disconnected(Site),
    /// The call answered.
    CallAnswered,
}

/// Options of [`crate::plan()`].
#[derive(Debug, Clone, Default)]
pub struct PlanOptions {
    /// Budget from the command line; overrides suite and scenario budgets.
    pub budget: Option<Duration>,
}

//! The typed suite model: what a suite file says, exactly as written (symbolic sites kept).
//! Deserialized from YAML with locations; [`crate::plan()`] turns it into concrete runs.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::duration::HumanDuration;
use crate::short_form::short_payload;
use crate::span::Spanned;
use crate::target::{LinkTarget, ServerTarget};
use crate::vocab::{Capability, Level, RuleId, ServerKind, Site, SiteRef};

/// The newest suite format version this crate reads.
pub const FORMAT_VERSION: u32 = 1;

/// Default configuration database, relative to the suite file or one of its ancestors.
pub const DEFAULT_CONFIG: &str = "fixtures/config/default.yaml";

/// The most agents a herd may have: 2,000 is the documented target (docs/benchmarks.md); more
/// is allowed for experiments, not much more for an open-file limit of 65,536.
pub const MAX_HERD_AGENTS: u64 = 5_000;
/// The most groups of four SIP Servers a topology may declare (`topology.groups`).
pub const MAX_GROUPS: u32 = 8;

/// Default budget for expectations and switchovers (docs/rules.md: 60 s).
pub const DEFAULT_BUDGET: std::time::Duration = std::time::Duration::from_secs(60);

fn is_false(b: &bool) -> bool {
    !*b
}
fn is_true(b: &bool) -> bool {
    *b
}
fn yes() -> bool {
    true
}

/// One suite file: metadata, the simulated deployment, and its scenarios.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Suite {
    /// Format version; must be `1`.
    #[schemars(extend("const" = 1))]
    pub version: Spanned<u32>,
    /// Unique id of the suite (kebab-case recommended).
    pub id: Spanned<String>,
    /// One-line title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Longer explanation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Free-form tags (e.g. `smoke`, `certification`), inherited by every scenario.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Spanned<String>>,
    /// Rules covered by every scenario (scenarios may add more).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<Spanned<RuleId>>,
    /// Capabilities the desktop must declare for every scenario to apply (else skipped).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub requires: Vec<Spanned<Capability>>,
    /// Capabilities that make every scenario inapplicable (skipped) when declared.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skip_if: Vec<Spanned<Capability>>,
    /// The simulated deployment (default: sites A and B, Stat Server present, HA pairs).
    #[serde(default, skip_serializing_if = "Topology::is_default")]
    pub topology: Topology,
    /// Configuration database YAML, relative to the suite file, else to one of its ancestor
    /// directories (the repository root). Default `fixtures/config/default.yaml`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<Spanned<String>>,
    /// Username of the agent the desktop logs in as (a person of the configuration database).
    pub agent: Spanned<String>,
    /// Default budget of every scenario (default `60s`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget: Option<Spanned<HumanDuration>>,
    /// The scenarios (at least one).
    pub scenarios: Vec<Spanned<Scenario>>,
}

/// The simulated deployment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Topology {
    /// Sites that exist (default `[A, B]`). Steps may only name these.
    #[serde(default = "Topology::default_sites")]
    pub sites: Vec<Spanned<Site>>,
    /// Whether each site runs a Stat Server pair (default true).
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub stat_server: bool,
    /// Whether each server kind runs as an HA pair with a backup (default true).
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub ha: bool,
    /// How long the mocks keep a client they hear nothing from before closing it (default: the
    /// run's setting, 2 s). Longer than the suite's checks, no server closes a silent session
    /// for the desktop: whether the desktop drops a hidden old session itself shows (BC-6).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_client_timeout: Option<Spanned<HumanDuration>>,
    /// How often the mocks ping each client (default: the run's setting, 500 ms). A floor of
    /// thousands of agents declares a realistic one (seconds), as a deployment's ADDP does:
    /// at 500 ms the keep-alives alone are tens of thousands of messages a second.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_ping_interval: Option<Spanned<HumanDuration>>,
    /// Declared server capacity per server kind (default: infinitely fast, never overloaded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity: Option<crate::capacity::Capacities>,
    /// SIP Servers keep an agent logged in when its desktop's connection closes (default false:
    /// the disconnect logs it out). With it, only the desktop's own RequestAgentLogout ends a
    /// login: a desktop that leaves a site without logging out leaves its agent logged in there,
    /// which shows as logged in at both peers (BC-6).
    #[serde(default, skip_serializing_if = "is_false")]
    pub keep_agents_on_disconnect: bool,
    /// Groups of four SIP Servers (default 1): each group is one SIP Server HA pair per site, and
    /// every agent's DN belongs to one group's switch. CS Proxy and Stat Server stay one pair per
    /// site. Targets name a group as `SITE/sip_server/gN`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub groups: Option<Spanned<u32>>,
}

impl Topology {
    /// How many groups of four SIP Servers (1 unless declared).
    pub fn group_count(&self) -> u32 {
        self.groups.as_ref().map_or(1, |g| g.value)
    }
    fn default_sites() -> Vec<Spanned<Site>> {
        vec![Spanned::new(Site::A), Spanned::new(Site::B)]
    }
    /// True when this is the default topology.
    pub fn is_default(&self) -> bool {
        *self == Topology::default()
    }
    /// Whether a site exists.
    pub fn has_site(&self, s: Site) -> bool {
        self.sites.iter().any(|x| x.value == s)
    }
    /// Whether a server kind exists.
    pub fn has_server(&self, k: ServerKind) -> bool {
        k != ServerKind::StatServer || self.stat_server
    }
}

impl Default for Topology {
    fn default() -> Self {
        Topology {
            sites: Self::default_sites(),
            stat_server: true,
            ha: true,
            server_client_timeout: None,
            server_ping_interval: None,
            capacity: None,
            keep_agents_on_disconnect: false,
            groups: None,
        }
    }
}

/// One scenario: an ordered list of steps plus invariants checked over its whole run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Id, unique within the suite.
    pub id: Spanned<String>,
    /// One-line title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Longer explanation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Rules this scenario checks (added to the suite's).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<Spanned<RuleId>>,
    /// Tags (added to the suite's).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Spanned<String>>,
    /// Capabilities needed (added to the suite's); skipped when the desktop lacks one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub requires: Vec<Spanned<Capability>>,
    /// Capabilities that make this scenario inapplicable (added to the suite's).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skip_if: Vec<Spanned<Capability>>,
    /// Agent username overriding the suite's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<Spanned<String>>,
    /// Budget overriding the suite's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget: Option<Spanned<HumanDuration>>,
    /// Pin the agent's preferred site (set at Person level before the desktop starts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred_site: Option<Spanned<Site>>,
    /// Run once with preferred site A and once with B (set at Person level before start).
    #[serde(default, skip_serializing_if = "is_false")]
    pub for_each_preferred_site: bool,
    /// A floor of generated agents instead of the one agent: each is checked against every
    /// expectation and invariant, and the fleet rules judge them together (docs/rules.md HERD-n).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub herd: Option<Spanned<Herd>>,
    /// The steps, run in order (at least one).
    pub steps: Vec<Spanned<Step>>,
    /// Properties checked continuously over the whole scenario.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub invariants: Vec<Spanned<Invariant>>,
    /// Named durations to measure and report.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub measurements: Vec<Spanned<Measurement>>,
}

/// A herd: agents generated into the configuration database, served by one or more desktop
/// processes, their preferred sites dealt by a declared share.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Herd {
    /// How many agents (2 to [`crate::MAX_HERD_AGENTS`]).
    pub agents: Spanned<u64>,
    /// How many desktop processes serve them; default one per agent up to 10 agents, else one
    /// per 50 agents. Fewer processes than agents needs a desktop that serves many (`agents` in
    /// the connection file, docs/desktop-contract.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub desktops: Option<Spanned<u64>>,
    /// Percent of the agents preferring each site (summing to 100); default: every agent the
    /// scenario's preferred site.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub preferred: Vec<Spanned<HerdShare>>,
    /// HERD-2's bound: the largest percent of the agents whose first contact after the first
    /// fault may fall in one 100 ms window (default 20).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_burst_percent: Option<Spanned<u64>>,
    /// HERD-5's bound: the largest percent of a retry round's agents whose intervals from beginning
    /// the round before may fall in one 250 ms slot, from the fourth round on (default 60).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_round_percent: Option<Spanned<u64>>,
    /// HERD-4's bound: the most attempts per agent in the busiest minute at a server turning
    /// clients away (default 120, what full jitter capped at 2 s may make).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_attempts_per_minute: Option<Spanned<u64>>,
    /// Over how long the desktop processes start, evenly spaced: a floor logs in over minutes,
    /// not at one instant (default: all at once). At most 10 minutes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ramp: Option<Spanned<HumanDuration>>,
}

/// One site's share of a herd's agents.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HerdShare {
    /// The site.
    pub site: Spanned<Site>,
    /// Percent of the agents (0-100).
    pub percent: Spanned<u64>,
}

short_payload! {
    /// A whole site: `A` or `{site: A, marker: name}`.
    pub struct SiteAction / SiteActionLong {
        "The site (`A`, `B`, `preferred`, `other`)." site: SiteRef as "site",
        "Name of the marker this step sets (default: the step keyword)." marker: Spanned<String>,
    }
}

short_payload! {
    /// One server: `A/sip_server[/primary]` or `{server: ..., marker: name}`.
    pub struct ServerAction / ServerActionLong {
        "The server: `SITE/KIND` or `SITE/KIND/ROLE`." server: ServerTarget as "server",
        "Name of the marker this step sets (default: the step keyword)." marker: Spanned<String>,
    }
}

short_payload! {
    /// A server pair turned overloaded: `A/config_server` or `{server: ..., answer: refuse, marker: name}`.
    pub struct OverloadAction / OverloadActionLong {
        "The server pair: `SITE/KIND`." server: ServerTarget as "server",
        "How a new client is turned away (default `error`)." answer: Spanned<OverloadAnswer>,
        "Name of the marker this step sets (default: the step keyword)." marker: Spanned<String>,
    }
}

/// How an overloaded server turns a new client away.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OverloadAnswer {
    /// `EventError 429 overloaded, retry after 3000 ms`: the desktop is told how long to wait.
    #[default]
    Error,
    /// The connection is accepted and closed at once, with no answer (a server past its
    /// connection limit): the desktop only learns that it failed, and must back off by itself.
    Refuse,
}

short_payload! {
    /// Links from the desktop: `A`, `A/sip_server`, `A/sip_server/backup` or `{link: ..., marker: name}`.
    pub struct LinkAction / LinkActionLong {
        "The links: `SITE`, `SITE/KIND` or `SITE/KIND/ROLE`." link: LinkTarget as "link",
        "Name of the marker this step sets (default: the step keyword)." marker: Spanned<String>,
        "In a herd: only this share of the agents' links (`10%`), chosen by the run's seed." share: Spanned<crate::aim::Percent>,
        "In a herd: only these agents' links (`[herd0001, herd0007]`)." agents: Vec<Spanned<String>>,
    }
}

short_payload! {
    /// A call delivered to the agent's DN through one site's SIP Server peer: `A` or `{via: A}`.
    pub struct CallDelivery / CallDeliveryLong {
        "The site whose SIP Server peer delivers the call." via: SiteRef as "site",
        "Name of the marker this step sets (default `deliver_call`)." marker: Spanned<String>,
    }
}

short_payload! {
    /// The agent's phone dials a number (`dial NUMBER` on its stdin) and its INVITE must reach one
    /// site's SIP Server peer (PH-3): `preferred` or `{via: other, number: "5000", within: 5s}`.
    pub struct PhoneDial / PhoneDialLong {
        "The site whose SIP Server peer must receive the phone's INVITE." via: SiteRef as "site",
        "The number dialled (default `5000`, an outside number)." number: Spanned<String>,
        "How long the INVITE may take to arrive there (default 5s)." within: Spanned<HumanDuration>,
        "Name of the marker this step sets (default `phone_dials`)." marker: Spanned<String>,
    }
}

/// Latency (and optional jitter) added on links.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LatencyFault {
    /// The links.
    pub link: Spanned<LinkTarget>,
    /// Added delay in milliseconds.
    pub ms: Spanned<u64>,
    /// Random variation in milliseconds (default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jitter_ms: Option<Spanned<u64>>,
    /// Marker name (default `latency`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub marker: Option<Spanned<String>>,
    /// In a herd: only this share of the agents' links (`10%`), chosen by the run's seed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub share: Option<Spanned<crate::aim::Percent>>,
    /// In a herd: only these agents' links (`[herd0001, herd0007]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agents: Option<Vec<Spanned<String>>>,
}

/// Jitter alone (random delay between 0 and `ms`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct JitterFault {
    /// The links.
    pub link: Spanned<LinkTarget>,
    /// Maximum random delay in milliseconds.
    pub ms: Spanned<u64>,
    /// Marker name (default `jitter`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub marker: Option<Spanned<String>>,
    /// In a herd: only this share of the agents' links (`10%`), chosen by the run's seed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub share: Option<Spanned<crate::aim::Percent>>,
    /// In a herd: only these agents' links (`[herd0001, herd0007]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agents: Option<Vec<Spanned<String>>>,
}

/// Bandwidth limit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BandwidthFault {
    /// The links.
    pub link: Spanned<LinkTarget>,
    /// Rate in kilobytes per second (> 0).
    pub kb_per_s: Spanned<u64>,
    /// Marker name (default `bandwidth`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub marker: Option<Spanned<String>>,
    /// In a herd: only this share of the agents' links (`10%`), chosen by the run's seed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub share: Option<Spanned<crate::aim::Percent>>,
    /// In a herd: only these agents' links (`[herd0001, herd0007]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agents: Option<Vec<Spanned<String>>>,
}

/// Delay before a closed connection is closed on the other side.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SlowCloseFault {
    /// The links.
    pub link: Spanned<LinkTarget>,
    /// Delay before the close is passed on.
    pub delay: Spanned<HumanDuration>,
    /// Marker name (default `slow_close`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub marker: Option<Spanned<String>>,
    /// In a herd: only this share of the agents' links (`10%`), chosen by the run's seed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub share: Option<Spanned<crate::aim::Percent>>,
    /// In a herd: only these agents' links (`[herd0001, herd0007]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agents: Option<Vec<Spanned<String>>>,
}

/// Close connections after a number of bytes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LimitDataFault {
    /// The links.
    pub link: Spanned<LinkTarget>,
    /// Bytes let through before the connection is closed (> 0).
    pub bytes: Spanned<u64>,
    /// Marker name (default `limit_data`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub marker: Option<Spanned<String>>,
    /// In a herd: only this share of the agents' links (`10%`), chosen by the run's seed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub share: Option<Spanned<crate::aim::Percent>>,
    /// In a herd: only these agents' links (`[herd0001, herd0007]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agents: Option<Vec<Spanned<String>>>,
}

/// Slice data into small packets with delays.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SlicerFault {
    /// The links.
    pub link: Spanned<LinkTarget>,
    /// Average slice size in bytes (> 0).
    pub average_size: Spanned<u64>,
    /// Variation of the slice size in bytes (default 0, < average_size).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size_variation: Option<Spanned<u64>>,
    /// Delay between slices in microseconds (default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay_us: Option<Spanned<u64>>,
    /// Marker name (default `slicer`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub marker: Option<Spanned<String>>,
    /// In a herd: only this share of the agents' links (`10%`), chosen by the run's seed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub share: Option<Spanned<crate::aim::Percent>>,
    /// In a herd: only these agents' links (`[herd0001, herd0007]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agents: Option<Vec<Spanned<String>>>,
}

/// How a flapping link is down during its down phases.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FlapMode {
    /// Proxy disabled (connections refused).
    #[default]
    Refuse,
    /// Silent partition (nothing flows).
    BlackHole,
    /// Connections reset.
    Reset,
}

/// A link going down and up repeatedly: `count` cycles of `period` (down half, up half).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FlapFault {
    /// The links.
    pub link: Spanned<LinkTarget>,
    /// One full cycle: down for half of it, then up for the other half (> 0).
    pub period: Spanned<HumanDuration>,
    /// Number of cycles (>= 1); the link is up after the last one.
    pub count: Spanned<u32>,
    /// How the link is down (default `refuse`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<Spanned<FlapMode>>,
    /// Marker name (default `flap`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub marker: Option<Spanned<String>>,
    /// In a herd: only this share of the agents' links (`10%`), chosen by the run's seed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub share: Option<Spanned<crate::aim::Percent>>,
    /// In a herd: only these agents' links (`[herd0001, herd0007]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agents: Option<Vec<Spanned<String>>>,
}

/// The direction a one-way partition cuts (Jepsen's asymmetric partition).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Desktop to server cut: requests vanish, the server's answers and events still arrive.
    ToServer,
    /// Server to desktop cut: answers and events vanish, the desktop's requests still arrive.
    ToDesktop,
}

impl Direction {
    /// Spelling in YAML.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::ToServer => "to_server",
            Direction::ToDesktop => "to_desktop",
        }
    }
}

/// One direction of links cut, the other still flowing (docs/suite-format.md, one-way partitions).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OneWayFault {
    /// The links.
    pub link: Spanned<LinkTarget>,
    /// Which direction is cut: `to_server` or `to_desktop`.
    pub direction: Spanned<Direction>,
    /// Marker name (default `partition_one_way`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub marker: Option<Spanned<String>>,
    /// In a herd: only this share of the agents' links (`10%`), chosen by the run's seed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub share: Option<Spanned<crate::aim::Percent>>,
    /// In a herd: only these agents' links (`[herd0001, herd0007]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agents: Option<Vec<Spanned<String>>>,
}

/// Set the preferred site (`business-continuity/preferred-site`) at one configuration level.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SetPreferredSite {
    /// Which object's annex: `tenant`, `agent_group` or `person`.
    pub level: Spanned<Level>,
    /// Object name (tenant name, group name or username); default: the agent's own
    /// tenant, first agent group, or the agent itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<Spanned<String>>,
    /// The site to set.
    pub site: Spanned<SiteRef>,
    /// Marker name (default `set_preferred_site`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub marker: Option<Spanned<String>>,
}

/// Remove the preferred site at one configuration level.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ClearPreferredSite {
    /// Which object's annex: `tenant`, `agent_group` or `person`.
    pub level: Spanned<Level>,
    /// Object name; default as for `set_preferred_site`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<Spanned<String>>,
    /// Marker name (default `clear_preferred_site`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub marker: Option<Spanned<String>>,
}

/// What a trigger does with the message that fired it until the harness has applied the next
/// step's fault (the mock holds it; docs/suite-format.md, "Triggers").
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum HoldMode {
    /// The triggering message itself waits (a request before the server handles it, an event
    /// before it is written, a connection before it is served).
    #[default]
    Message,
    /// The server handles the request at once; its answer waits (`desktop_sends` only).
    Reply,
    /// Nothing waits: the harness acts as soon as it hears of the message.
    None,
}

impl HoldMode {
    /// Spelling in YAML.
    pub fn as_str(self) -> &'static str {
        match self {
            HoldMode::Message => "message",
            HoldMode::Reply => "reply",
            HoldMode::None => "none",
        }
    }
}

/// What happens to a held message once the fault is applied.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReleaseMode {
    /// It goes on (handled, or written) as if nothing happened.
    #[default]
    Release,
    /// It is discarded (a request never handled, an answer or event never written).
    Drop,
}

impl ReleaseMode {
    /// Spelling in YAML.
    pub fn as_str(self) -> &'static str {
        match self {
            ReleaseMode::Release => "release",
            ReleaseMode::Drop => "drop",
        }
    }
}

/// `on:` waits until a mock sees something of the desktop, then the next step acts: exactly one
/// of `desktop_sends`, `event`, `connects`, `disconnects`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Trigger {
    /// A message the desktop sends (`RequestAgentLogin`), seen at the server `at`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub desktop_sends: Option<Spanned<String>>,
    /// A message the server `at` sends to the desktop (`EventAgentLogin`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<Spanned<String>>,
    /// The desktop opens a connection to this server (`SITE/KIND[/ROLE]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connects: Option<Spanned<ServerTarget>>,
    /// A connection of the desktop to this server ends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disconnects: Option<Spanned<ServerTarget>>,
    /// The server that sees the message (`SITE/KIND[/ROLE]`; without a role, the member serving
    /// when the trigger is armed). Required with `desktop_sends` and `event`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<Spanned<ServerTarget>>,
    /// Fire on the n-th occurrence after the trigger is armed (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nth: Option<Spanned<u32>>,
    /// How long to wait for it (default: the budget); past it the scenario is `inconclusive`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Spanned<HumanDuration>>,
    /// Delay between the trigger firing and the next step (default `0ms`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<Spanned<HumanDuration>>,
    /// What waits until the next step's fault is applied (default `message`; `none` on `disconnects`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hold: Option<Spanned<HoldMode>>,
    /// What happens to the held message then (default `release`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub then: Option<Spanned<ReleaseMode>>,
    /// Marker set when the trigger fires (default `on`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub marker: Option<Spanned<String>>,
}

/// "Logged in at SITE (on these servers) within D from marker M".
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExpectLoggedIn {
    /// The site; omitted: at either site, as long as every server is at the same one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub site: Option<Spanned<SiteRef>>,
    /// Servers that must all hold the agent's session at that site (default: `sip_server`,
    /// `config_server`, plus `stat_server` when the desktop declares `stat_server`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub servers: Option<Vec<Spanned<ServerKind>>>,
    /// Deadline (default: the budget).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub within: Option<Spanned<HumanDuration>>,
    /// Marker the deadline counts from (default: the latest marker before this step).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<Spanned<String>>,
    /// Report the time from `from` to the observed state under this measurement name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub measure: Option<Spanned<String>>,
    /// In a herd with aimed faults: only the agents they `hit`, or only those they `spared`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agents: Option<Spanned<crate::aim::AgentGroup>>,
}

/// "Stays logged in at SITE for D": no disconnection, no switchover (HA failover, BC-7/8).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExpectStaysLoggedIn {
    /// The site.
    pub site: Spanned<SiteRef>,
    /// How long the agent must stay there (> 0).
    #[serde(rename = "for")]
    pub duration: Spanned<HumanDuration>,
    /// Servers checked (default: `sip_server` and `config_server`). A short reconnection to the
    /// same site (HA failover) is allowed; being logged in at the other site is not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub servers: Option<Vec<Spanned<ServerKind>>>,
    /// How many logged-out gaps (reconnections) the window tolerates (default 1); each may last
    /// as long as the desktop's declared timers allow.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gaps: Option<Spanned<u32>>,
    /// In a herd with aimed faults: only the agents they `hit`, or only those they `spared`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agents: Option<Spanned<crate::aim::AgentGroup>>,
}

/// "Connected to nothing at SITE (within D)": no connection from the desktop to any server there.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExpectDisconnected {
    /// The site.
    pub site: Spanned<SiteRef>,
    /// Deadline (default: the budget).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub within: Option<Spanned<HumanDuration>>,
    /// Marker the deadline counts from (default: the latest marker before this step).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<Spanned<String>>,
}

/// "Call answered within D": the last delivered call (or the one at marker `from`) is answered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExpectCallAnswered {
    /// Deadline (default: the budget).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub within: Option<Spanned<HumanDuration>>,
    /// Marker of the `deliver_call` step (default: the latest `deliver_call`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<Spanned<String>>,
    /// Report the answer time under this measurement name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub measure: Option<Spanned<String>>,
}

/// One step of a scenario. Written as a single-key mapping (`- kill_site: A`), except
/// `start_desktop`, a plain word.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    /// Start the desktop here (marker `start`). Without it, the desktop starts before step 1.
    StartDesktop,
    /// Kill every server of a site (SIGKILL).
    KillSite(SiteAction),
    /// Stop a site gracefully (forced logout, then close).
    StopSite(SiteAction),
    /// Restart every server of a site and heal its links.
    RestoreSite(SiteAction),
    /// Kill one server kind at one site (the serving member, or the given role).
    KillServer(ServerAction),
    /// Stop one server gracefully (forced logout, then close).
    StopServer(ServerAction),
    /// Freeze a server (SIGSTOP: connections open, nothing answers).
    FreezeServer(ServerAction),
    /// Thaw a frozen server (SIGCONT).
    ThawServer(ServerAction),
    /// Restart a killed or stopped server.
    RestoreServer(ServerAction),
    /// HA failover: kill the primary and promote the backup (`SITE/KIND`, no role).
    HaFailover(ServerAction),
    /// Graceful HA switchover: the backup takes over, the old primary becomes backup.
    HaSwitchover(ServerAction),
    /// Links administratively down: the proxy stops listening (connections refused).
    Refuse(LinkAction),
    /// Silent partition: connections stay open, nothing flows.
    BlackHole(LinkAction),
    /// Connections torn down with TCP RST.
    Reset(LinkAction),
    /// Added latency.
    Latency(LatencyFault),
    /// Added jitter.
    Jitter(JitterFault),
    /// Bandwidth limit.
    Bandwidth(BandwidthFault),
    /// Delayed close.
    SlowClose(SlowCloseFault),
    /// Close after some bytes.
    LimitData(LimitDataFault),
    /// Slice data into small delayed packets.
    Slicer(SlicerFault),
    /// Flapping link.
    Flap(FlapFault),
    /// One direction of links cut, the other still flowing.
    PartitionOneWay(OneWayFault),
    /// The server answers login requests with an error (until healed).
    RejectLogins(ServerAction),
    /// The server pair turns every new client away (until healed): `EventError 429 overloaded,
    /// retry after 3000 ms`, or with `answer: refuse` a connection closed at once; clients already
    /// there stay.
    Overload(OverloadAction),
    /// Set the preferred site at a configuration level.
    SetPreferredSite(SetPreferredSite),
    /// Clear the preferred site at a configuration level.
    ClearPreferredSite(ClearPreferredSite),
    /// Deliver a call to the agent through a site's SIP Server peer.
    DeliverCall(CallDelivery),
    /// The agent's phone dials out; its INVITE must reach the given site's peer (needs `phone`).
    PhoneDials(PhoneDial),
    /// Undo the fault set by a marker, or `all` faults.
    Heal(Spanned<String>),
    /// Wait until a mock sees a message or connection of the desktop; the next step acts then.
    On(Box<Trigger>),
    /// Do nothing for a while.
    Wait(Spanned<HumanDuration>),
    /// Set a named marker at this instant.
    Mark(Spanned<String>),
    /// Wait until logged in at a site (fails after the deadline).
    ExpectLoggedIn(ExpectLoggedIn),
    /// Check the agent stays logged in at a site for a while.
    ExpectStaysLoggedIn(ExpectStaysLoggedIn),
    /// Wait until nothing is connected at a site.
    ExpectDisconnected(ExpectDisconnected),
    /// Wait until a delivered call is answered.
    ExpectCallAnswered(ExpectCallAnswered),
}

/// A property checked over the whole scenario run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Invariant {
    /// Never logged in at both SIP Server peers at once (BC-6).
    NeverLoggedInAtBothPeers,
    /// Never connected to different sites (split) for longer than this (BC-5).
    NeverSplit {
        /// Longest tolerated split.
        longer_than: Spanned<HumanDuration>,
    },
    /// At most `count` switchovers in any window of `per` (BC-11).
    MaxSwitchovers {
        /// Most switchovers allowed per window.
        count: Spanned<u32>,
        /// Window length (default: the budget).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        per: Option<Spanned<HumanDuration>>,
    },
    /// After an overload answer the desktop does not try that server again before the delay it
    /// was given (HERD-3 for one desktop).
    HonoursOverload,
    /// At most `count` connections turned away by overloaded servers in any window of `per`
    /// (HERD-4 for one desktop: it backs off instead of hammering servers that turn it away).
    MaxAttempts {
        /// Most turned-away connections allowed per window.
        count: Spanned<u32>,
        /// Window length (default: the budget).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        per: Option<Spanned<HumanDuration>>,
    },
    /// After a round in which servers of every site turned the desktop away, it pauses before
    /// the next round: the mean pause between rounds is at least `min_mean_pause`, judged once
    /// `rounds` rounds were seen (HERD-4 for one desktop: it backs off between retry rounds).
    BacksOff {
        /// Least mean pause between the end of one round and the start of the next.
        min_mean_pause: Spanned<HumanDuration>,
        /// Fewest rounds (the first included, so `rounds - 1` pauses) over which the mean is
        /// judged; with fewer the invariant is not exercised. At least 2.
        rounds: Spanned<u32>,
    },
    /// At most `count` sessions re-opened at the same site in any window of `per` (BC-11: a
    /// degraded link below the declared keep-alive timeout must not churn the sessions).
    MaxReconnects {
        /// Most same-site reconnections allowed per window.
        count: Spanned<u32>,
        /// Window length (default: the budget).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        per: Option<Spanned<HumanDuration>>,
    },
}

/// A named duration from a marker to an observed state, carried by reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Measurement {
    /// Name in reports (e.g. `detection`, `switchover`).
    pub name: Spanned<String>,
    /// Marker the duration starts at.
    pub from: Spanned<String>,
    /// The state that ends it.
    pub until: Spanned<Observation>,
}

/// An observed desktop state ending a measurement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Observation {
    /// Fully logged in at the site.
    LoggedIn(SiteRef),
    /// First connection attempt to any server of the site (detection).
    FirstContact(SiteRef),
    /// No connection left at the site.
    Disconnected(SiteRef),
    /// A delivered call answered.
    CallAnswered,
}

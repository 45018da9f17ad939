//! The shared vocabulary: sites, server kinds, roles, rule ids, capabilities, hierarchy levels.
//! Spelled exactly as the rest of bc-harness spells them (`A`, `sip_server`, `BC-4`, ...).

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

// Sites, server kinds, HA roles and configuration levels are the words every crate shares.
pub use bc_vocab::{Level, Role, ServerKind, Site};

/// A site as written in a suite: concrete (`A`, `B`) or symbolic (`preferred`, `other`),
/// the symbolic ones being resolved by [`crate::plan()`] against the scenario's preferred site.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum SiteRef {
    /// Site A.
    A,
    /// Site B.
    B,
    /// The agent's preferred site for this (possibly parameterised) scenario.
    #[serde(rename = "preferred")]
    Preferred,
    /// The site that is not the preferred one.
    #[serde(rename = "other")]
    Other,
}

impl SiteRef {
    /// Resolves against the preferred site.
    pub fn resolve(self, preferred: Site) -> Site {
        match self {
            SiteRef::A => Site::A,
            SiteRef::B => Site::B,
            SiteRef::Preferred => preferred,
            SiteRef::Other => preferred.other(),
        }
    }
    /// The concrete site, if this is not symbolic.
    pub fn concrete(self) -> Option<Site> {
        match self {
            SiteRef::A => Some(Site::A),
            SiteRef::B => Some(Site::B),
            _ => None,
        }
    }
    /// Spelling in YAML.
    pub fn as_str(self) -> &'static str {
        match self {
            SiteRef::A => "A",
            SiteRef::B => "B",
            SiteRef::Preferred => "preferred",
            SiteRef::Other => "other",
        }
    }
    /// All spellings, for suggestions.
    pub const NAMES: [&'static str; 4] = ["A", "B", "preferred", "other"];
    pub(crate) fn parse(s: &str) -> Option<SiteRef> {
        Some(match s {
            "A" => SiteRef::A,
            "B" => SiteRef::B,
            "preferred" => SiteRef::Preferred,
            "other" => SiteRef::Other,
            _ => return None,
        })
    }
}

impl From<Site> for SiteRef {
    fn from(s: Site) -> Self {
        match s {
            Site::A => SiteRef::A,
            Site::B => SiteRef::B,
        }
    }
}

impl fmt::Display for SiteRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A Business Continuity rule of docs/rules.md, `BC-1` .. `BC-12`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
pub enum RuleId {
    /// Logged in at the preferred site at start.
    #[serde(rename = "BC-1")]
    Bc1,
    /// Preferred site resolved hierarchically, re-read at every connection.
    #[serde(rename = "BC-2")]
    Bc2,
    /// Initial login failure at the preferred site leads to the other site.
    #[serde(rename = "BC-3")]
    Bc3,
    /// Loss of login at the current site leads to a DR switchover.
    #[serde(rename = "BC-4")]
    Bc4,
    /// A switchover is whole (all connections at one site).
    #[serde(rename = "BC-5")]
    Bc5,
    /// One SIP Server peer at a time.
    #[serde(rename = "BC-6")]
    Bc6,
    /// HA failover is not a site failure.
    #[serde(rename = "BC-7")]
    Bc7,
    /// Stat Server loss alone does not force DR (unless declared).
    #[serde(rename = "BC-8")]
    Bc8,
    /// Liveness with both sites down.
    #[serde(rename = "BC-9")]
    Bc9,
    /// Calls reach the desktop after a switchover.
    #[serde(rename = "BC-10")]
    Bc10,
    /// No thrashing under a flapping link.
    #[serde(rename = "BC-11")]
    Bc11,
    /// Failback (declared capability).
    #[serde(rename = "BC-12")]
    Bc12,
}

impl RuleId {
    /// All rules in order.
    pub const ALL: [RuleId; 12] = [
        RuleId::Bc1,
        RuleId::Bc2,
        RuleId::Bc3,
        RuleId::Bc4,
        RuleId::Bc5,
        RuleId::Bc6,
        RuleId::Bc7,
        RuleId::Bc8,
        RuleId::Bc9,
        RuleId::Bc10,
        RuleId::Bc11,
        RuleId::Bc12,
    ];
    /// The rule number (1..=12).
    pub fn number(self) -> u8 {
        self as u8 + 1
    }
}

impl fmt::Display for RuleId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BC-{}", self.number())
    }
}

/// A declared capability of the desktop under test; scenarios needing one it lacks are skipped.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Capability {
    /// The desktop uses Stat Server.
    StatServer,
    /// The desktop fails back to the preferred site when it recovers (BC-12).
    Failback,
    /// The desktop performs a DR switchover when Stat Server alone is lost (BC-8, WDE-like).
    StatLossTriggersDr,
    /// The desktop answers delivered calls automatically (needed to observe BC-10).
    AutoAnswer,
    /// The run has the agent's SIP phone (`run --phone`): SIP on the wire, PH-1 and PH-2 checked.
    /// The harness declares it from `--phone`, never a profile.
    Phone,
}

impl Capability {
    /// All capabilities in order.
    pub const ALL: [Capability; 5] = [
        Capability::StatServer,
        Capability::Failback,
        Capability::StatLossTriggersDr,
        Capability::AutoAnswer,
        Capability::Phone,
    ];
    /// Spelling in YAML.
    pub fn as_str(self) -> &'static str {
        match self {
            Capability::StatServer => "stat_server",
            Capability::Failback => "failback",
            Capability::StatLossTriggersDr => "stat_loss_triggers_dr",
            Capability::AutoAnswer => "auto_answer",
            Capability::Phone => "phone",
        }
    }
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

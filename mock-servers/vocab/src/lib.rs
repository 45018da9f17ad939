//! The words every part of bc-harness shares, defined once: sites, server kinds, HA roles and the
//! levels of the configuration hierarchy. No I/O and no async: the protocol, the mocks, the pure suite
//! language and the engine all depend on this crate, and it depends only on serde and schemars.

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A concrete site of the two-site deployment.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
pub enum Site {
    /// Site A.
    A,
    /// Site B.
    B,
}

impl Site {
    /// Both sites, in order.
    pub const ALL: [Site; 2] = [Site::A, Site::B];
    /// The other site of the pair.
    pub fn other(self) -> Site {
        match self {
            Site::A => Site::B,
            Site::B => Site::A,
        }
    }
    /// `"A"` or `"B"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Site::A => "A",
            Site::B => "B",
        }
    }
    /// The site spelled `s`, if any.
    pub fn parse(s: &str) -> Option<Site> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }
}

impl fmt::Display for Site {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The three server kinds a desktop talks to at each site.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ServerKind {
    /// SIP Server (DN registration, agent login, calls). Mandatory.
    SipServer,
    /// Configuration Server Proxy (configuration, agent authentication). Mandatory.
    ConfigServer,
    /// Stat Server (real-time statistics). Optional.
    StatServer,
}

impl ServerKind {
    /// Every kind, in report order (the order a desktop connects: configuration first).
    pub const ALL: [ServerKind; 3] = [
        ServerKind::ConfigServer,
        ServerKind::SipServer,
        ServerKind::StatServer,
    ];
    /// Every spelling, in declaration order (the order suite hints list them).
    pub const NAMES: [&'static str; 3] = ["sip_server", "config_server", "stat_server"];
    /// The snake_case name used on the wire, in suites, reports and the desktop connection file.
    pub fn as_str(self) -> &'static str {
        match self {
            ServerKind::SipServer => "sip_server",
            ServerKind::ConfigServer => "config_server",
            ServerKind::StatServer => "stat_server",
        }
    }
    /// The kind spelled `s`, if any.
    pub fn parse(s: &str) -> Option<ServerKind> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

impl fmt::Display for ServerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The member of an HA pair (a slot: it does not change when the backup is promoted).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The member currently serving.
    Primary,
    /// The standby member.
    Backup,
}

impl Role {
    /// Both roles, in order.
    pub const ALL: [Role; 2] = [Role::Primary, Role::Backup];
    /// Every spelling, for suggestions.
    pub const NAMES: [&'static str; 2] = ["primary", "backup"];
    /// The spelling in suites, on the wire and in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Primary => "primary",
            Role::Backup => "backup",
        }
    }
    /// The role spelled `s`, if any.
    pub fn parse(s: &str) -> Option<Role> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }
    /// The other member of the pair.
    pub fn other(self) -> Role {
        match self {
            Role::Primary => Role::Backup,
            Role::Backup => Role::Primary,
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A level of the configuration hierarchy where the preferred site may be set (BC-2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// The tenant (lowest precedence).
    Tenant,
    /// An agent group (overrides the tenant).
    AgentGroup,
    /// The person (overrides everything).
    Person,
}

impl Level {
    /// Every level, lowest precedence first.
    pub const ALL: [Level; 3] = [Level::Tenant, Level::AgentGroup, Level::Person];
    /// The spelling in suites and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Tenant => "tenant",
            Level::AgentGroup => "agent_group",
            Level::Person => "person",
        }
    }
    /// The level spelled `s`, if any.
    pub fn parse(s: &str) -> Option<Level> {
        Self::ALL.into_iter().find(|l| l.as_str() == s)
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Every message name of the desktop protocol, as it appears in the `message` attribute (the
/// protocol's `Message::NAMES`): defined here so the pure suite language can check trigger names.
pub const MESSAGE_NAMES: &[&str] = &[
    "RequestRegisterClient",
    "EventClientRegistered",
    "EventError",
    "Ping",
    "Pong",
    "EventLinkDisconnected",
    "RequestReadObjects",
    "EventObjectsRead",
    "EventObjectsSent",
    "EventObjectUpdated",
    "RequestRegisterAddress",
    "EventRegistered",
    "RequestUnregisterAddress",
    "EventUnregistered",
    "RequestAgentLogin",
    "EventAgentLogin",
    "RequestAgentReady",
    "EventAgentReady",
    "RequestAgentNotReady",
    "EventAgentNotReady",
    "RequestAgentLogout",
    "EventAgentLogout",
    "EventRinging",
    "RequestAnswerCall",
    "EventEstablished",
    "RequestReleaseCall",
    "EventReleased",
    "RequestMakeCall",
    "EventDialing",
    "RequestOpenStatistic",
    "EventStatisticOpened",
    "EventInfo",
    "RequestCloseStatistic",
    "EventStatisticClosed",
];

/// Whether a desktop may send this message: requests and the keep-alive (`Ping`, `Pong`).
pub fn sent_by_desktop(message: &str) -> bool {
    !message.starts_with("Event")
}

/// Whether a server may send this message: events and the keep-alive (`Ping`, `Pong`).
pub fn sent_by_server(message: &str) -> bool {
    !message.starts_with("Request")
}

#[cfg(test)]
mod tests {
    use super::{sent_by_desktop, sent_by_server, Level, Role, ServerKind, Site, MESSAGE_NAMES};

    /// Every message is sent by someone, and only the keep-alive by both sides.
    #[test]
    fn every_message_has_a_sender() {
        for m in MESSAGE_NAMES {
            assert!(sent_by_desktop(m) || sent_by_server(m), "{m}");
            let both = sent_by_desktop(m) && sent_by_server(m);
            assert_eq!(both, matches!(*m, "Ping" | "Pong"), "{m}");
        }
    }

    /// The keyword lists and the parsers come from the enums: every spelling parses back.
    #[test]
    fn every_word_round_trips() {
        for k in ServerKind::ALL {
            assert_eq!(ServerKind::parse(k.as_str()), Some(k));
            assert!(ServerKind::NAMES.contains(&k.as_str()));
        }
        assert_eq!(ServerKind::NAMES.len(), ServerKind::ALL.len());
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()), Some(r));
            assert_eq!(Role::NAMES[r as usize], r.as_str());
        }
        for s in Site::ALL {
            assert_eq!(Site::parse(s.as_str()), Some(s));
            assert_eq!(s.other().other(), s);
        }
        for l in Level::ALL {
            assert_eq!(Level::parse(l.as_str()), Some(l));
        }
    }

    /// Serde spells every word as `as_str` does (suites, the wire and the timeline agree).
    #[test]
    fn serde_spelling_is_as_str() {
        fn spelled<T: serde::Serialize>(v: T) -> String {
            serde_json::to_string(&v).unwrap_or_default()
        }
        for k in ServerKind::ALL {
            assert_eq!(spelled(k), format!("\"{k}\""));
        }
        for r in Role::ALL {
            assert_eq!(spelled(r), format!("\"{r}\""));
        }
        for s in Site::ALL {
            assert_eq!(spelled(s), format!("\"{s}\""));
        }
        for l in Level::ALL {
            assert_eq!(spelled(l), format!("\"{l}\""));
        }
    }
}

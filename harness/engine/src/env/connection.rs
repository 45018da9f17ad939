//! The desktop connection file (docs/desktop-contract.md): agent credentials plus, per site and
//! server kind, the fault proxy's primary and backup addresses, and with SIP each site's one SIP
//! address (the fault proxy's UDP link, as a phone knows a site's virtual IP). Never the mocks'
//! own addresses. Version 1 for one group of four SIP Servers; version 2 adds the groups.

use super::error::EnvError;
use super::runtime::SipLink;
use super::topology::{Agent, InstanceId, Topology};
use bc_protocol::{Role, ServerKind};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::Path;

/// Addresses of one HA pair.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PairAddrs {
    pub primary: String,
    pub backup: String,
}

/// The JSON file a desktop reads (`BC_DESKTOP_CONFIG`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectionFile {
    pub version: u32,
    pub application: String,
    pub username: String,
    pub password: String,
    pub agent_id: String,
    pub dn: String,
    /// site -> server kind (`config_server`, `sip_server`, `stat_server`) -> pair.
    pub sites: BTreeMap<String, BTreeMap<String, PairAddrs>>,
    /// site -> the site's SIP address for phones (UDP); absent without SIP on the wire.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub sip: BTreeMap<String, String>,
    /// A herd's process serving several agents: each one's credentials and DN (the fields
    /// above repeat the first). Absent for one agent.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub agents: Vec<FloorAgent>,
    /// The local address to connect from (a herd's agents: docs/desktop-contract.md); absent
    /// for a single desktop.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_address: Option<String>,
    /// Version 2: the group of four SIP Servers of the top-level agent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<u32>,
    /// Version 2: group (`"1"`, `"2"`, ...) -> site -> that group's SIP Server pair.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub groups: BTreeMap<String, BTreeMap<String, PairAddrs>>,
}

/// One agent of a multi-agent connection file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FloorAgent {
    pub username: String,
    pub password: String,
    pub agent_id: String,
    pub dn: String,
    /// The local address this agent's connections come from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_address: Option<String>,
    /// Version 2: the agent's group of four SIP Servers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<u32>,
}

impl From<&Agent> for FloorAgent {
    fn from(a: &Agent) -> FloorAgent {
        FloorAgent {
            username: a.username.clone(),
            password: a.password.clone(),
            agent_id: a.agent_id.clone(),
            dn: a.dn.clone(),
            source_address: super::floor::index(&a.username)
                .map(|i| super::floor::source_address(i).to_string()),
            group: None,
        }
    }
}

impl ConnectionFile {
    /// Builds the file for `agent` from the desktop-visible proxy addresses.
    pub fn build(
        topology: &Topology,
        agent: &Agent,
        proxies: &HashMap<InstanceId, SocketAddr>,
        sip: &[SipLink],
    ) -> Result<ConnectionFile, EnvError> {
        let grouped = topology.groups() > 1;
        let own = topology.group_of(agent)?;
        let pair = |site: &String, server, group| -> Result<PairAddrs, EnvError> {
            let addr = |role| {
                let id = InstanceId::new(site.clone(), server, role).in_group(group);
                proxies
                    .get(&id)
                    .map(|a| a.to_string())
                    .ok_or_else(|| EnvError::UnknownInstance(id.to_string()))
            };
            Ok(PairAddrs {
                primary: addr(Role::Primary)?,
                backup: addr(Role::Backup)?,
            })
        };
        let mut sites = BTreeMap::new();
        for site in topology.sites() {
            let mut servers = BTreeMap::new();
            for server in topology.servers() {
                // A SIP Server pair is the agent's group's; the others serve every group.
                let group = if server == ServerKind::SipServer {
                    own
                } else {
                    1
                };
                servers.insert(server.as_str().to_string(), pair(site, server, group)?);
            }
            sites.insert(site.clone(), servers);
        }
        let mut groups = BTreeMap::new();
        if grouped {
            for g in topology.groups_of(ServerKind::SipServer) {
                let mut by_site = BTreeMap::new();
                for site in topology.sites() {
                    by_site.insert(site.clone(), pair(site, ServerKind::SipServer, g)?);
                }
                groups.insert(g.to_string(), by_site);
            }
        }
        Ok(ConnectionFile {
            version: if grouped { 2 } else { 1 },
            application: "bc-desktop".into(),
            username: agent.username.clone(),
            password: agent.password.clone(),
            agent_id: agent.agent_id.clone(),
            dn: agent.dn.clone(),
            sites,
            sip: sip
                .iter()
                .map(|l| (l.site.clone(), l.listen.to_string()))
                .collect(),
            agents: Vec::new(),
            source_address: None,
            group: grouped.then_some(own),
            groups,
        })
    }

    /// One agent of a multi-agent file: with groups (version 2) it names its group.
    pub fn floor_agent(&self, agent: &Agent) -> FloorAgent {
        FloorAgent {
            group: (self.version >= 2).then_some(agent.group),
            ..FloorAgent::from(agent)
        }
    }

    /// Writes it as pretty JSON.
    pub fn write(&self, path: &Path) -> Result<(), EnvError> {
        let text = serde_json::to_string_pretty(self).unwrap_or_default();
        std::fs::write(path, text).map_err(|source| EnvError::Io {
            what: format!("cannot write connection file {}", path.display()),
            source,
        })
    }
}

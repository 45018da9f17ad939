//! What the simulated deployment looks like: sites, server kinds, HA slots, and the agents of the
//! configuration database (read from the same YAML file the mock CS Proxies load).

use super::error::EnvError;
pub use super::instance_id::InstanceId;
use bc_protocol::{Role, ServerKind};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Annex of a configuration object: section -> option -> value (same shape as the mocks').
pub type Annex = BTreeMap<String, BTreeMap<String, String>>;

/// Annex section and option holding the preferred site.
pub const PREFERRED_SITE_SECTION: &str = "business-continuity";
/// Annex option holding the preferred site.
pub const PREFERRED_SITE_OPTION: &str = "preferred-site";

/// An agent of the configuration database, with what a desktop needs to log in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Agent {
    pub dbid: i64,
    pub username: String,
    pub password: String,
    /// The agent login id (first of the person's `agent_logins`).
    pub agent_id: String,
    pub dn: String,
    pub tenant_dbid: i64,
    pub agent_group_dbids: Vec<i64>,
    pub annex: Annex,
    /// The group of four SIP Servers whose switch holds the agent's DN (the DN's `group` in the
    /// configuration database, default 1).
    pub group: u32,
}

/// A tenant or agent group of the configuration database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedObject {
    pub dbid: i64,
    pub name: String,
    pub annex: Annex,
}

/// The parts of the configuration database the harness needs (agents, tenants, groups).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConfigDb {
    pub tenants: Vec<NamedObject>,
    pub agent_groups: Vec<NamedObject>,
    pub persons: Vec<Agent>,
}

#[derive(Deserialize)]
struct RawDb {
    #[serde(default)]
    tenants: Vec<RawNamed>,
    #[serde(default)]
    agent_groups: Vec<RawNamed>,
    #[serde(default)]
    persons: Vec<RawPerson>,
    #[serde(default)]
    dns: Vec<RawDn>,
}

#[derive(Deserialize)]
struct RawDn {
    number: String,
    #[serde(default)]
    group: Option<u32>,
}

#[derive(Deserialize)]
struct RawNamed {
    dbid: i64,
    name: String,
    #[serde(default)]
    annex: Annex,
}

#[derive(Deserialize)]
struct RawPerson {
    dbid: i64,
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    employee_id: Option<String>,
    #[serde(default)]
    tenant_dbid: i64,
    #[serde(default)]
    agent_group_dbids: Vec<i64>,
    #[serde(default)]
    agent_logins: Vec<String>,
    #[serde(default)]
    dn: Option<String>,
    #[serde(default)]
    annex: Annex,
}

impl ConfigDb {
    /// Parses the snake_case YAML of `fixtures/config/default.yaml`.
    pub fn parse(yaml: &str) -> Result<ConfigDb, String> {
        let raw: RawDb = serde_saphyr::from_str(yaml).map_err(|e| e.to_string())?;
        let named = |v: Vec<RawNamed>| {
            v.into_iter()
                .map(|r| NamedObject {
                    dbid: r.dbid,
                    name: r.name,
                    annex: r.annex,
                })
                .collect()
        };
        let group_of = |dn: &Option<String>| {
            raw.dns
                .iter()
                .find(|d| Some(&d.number) == dn.as_ref())
                .and_then(|d| d.group)
                .unwrap_or(1)
        };
        let persons = raw
            .persons
            .into_iter()
            .map(|p| Agent {
                group: group_of(&p.dn),
                dbid: p.dbid,
                agent_id: p
                    .agent_logins
                    .first()
                    .cloned()
                    .or(p.employee_id)
                    .unwrap_or_else(|| p.dbid.to_string()),
                dn: p.dn.unwrap_or_default(),
                username: p.username,
                password: p.password,
                tenant_dbid: p.tenant_dbid,
                agent_group_dbids: p.agent_group_dbids,
                annex: p.annex,
            })
            .collect();
        Ok(ConfigDb {
            tenants: named(raw.tenants),
            agent_groups: named(raw.agent_groups),
            persons,
        })
    }

    /// Reads and parses a configuration database file.
    pub fn load(path: &Path) -> Result<ConfigDb, EnvError> {
        let text = std::fs::read_to_string(path).map_err(|e| EnvError::ConfigDb {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        ConfigDb::parse(&text).map_err(|reason| EnvError::ConfigDb {
            path: path.to_path_buf(),
            reason,
        })
    }

    pub fn person(&self, username: &str) -> Option<&Agent> {
        self.persons.iter().find(|p| p.username == username)
    }

    pub fn tenant(&self, name: &str) -> Option<&NamedObject> {
        self.tenants.iter().find(|t| t.name == name)
    }

    pub fn agent_group(&self, name: &str) -> Option<&NamedObject> {
        self.agent_groups.iter().find(|g| g.name == name)
    }
}

/// The deployment: which sites, whether Stat Servers run, and the configuration database.
#[derive(Debug, Clone)]
pub struct Topology {
    sites: Vec<String>,
    stat_server: bool,
    /// Declared server capacity, per limited server kind (none: infinitely fast servers).
    capacity: Vec<super::capacity::Capacity>,
    /// SIP Servers keep a closed connection's agents logged in (`--keep-agents-on-disconnect`).
    keep_agents: bool,
    /// Groups of four SIP Servers (one SIP Server pair per site each).
    groups: u32,
    config_db_path: PathBuf,
    db: ConfigDb,
}

impl Topology {
    /// Sites `A` and `B`, Stat Servers on, agents read from `config_db` (YAML).
    pub fn load(config_db: impl Into<PathBuf>) -> Result<Topology, EnvError> {
        let config_db_path = config_db.into();
        let db = ConfigDb::load(&config_db_path)?;
        // Absolute, so that servers started from another working directory find it too.
        let config_db_path = std::fs::canonicalize(&config_db_path).unwrap_or(config_db_path);
        Ok(Topology {
            sites: vec!["A".into(), "B".into()],
            stat_server: true,
            capacity: Vec::new(),
            keep_agents: false,
            groups: 1,
            config_db_path,
            db,
        })
    }

    /// Replaces the site names (at least one, unique, non-empty, no dots).
    pub fn with_sites<S: Into<String>>(
        mut self,
        sites: impl IntoIterator<Item = S>,
    ) -> Result<Topology, EnvError> {
        let sites: Vec<String> = sites.into_iter().map(Into::into).collect();
        if sites.is_empty() {
            return Err(EnvError::Topology("at least one site is needed".into()));
        }
        for (i, s) in sites.iter().enumerate() {
            if s.is_empty() || s.contains('.') || s.contains(char::is_whitespace) {
                return Err(EnvError::Topology(format!(
                    "invalid site name `{s}` (non-empty, no dots, no spaces)"
                )));
            }
            if sites[..i].contains(s) {
                return Err(EnvError::Topology(format!("duplicate site `{s}`")));
            }
        }
        self.sites = sites;
        Ok(self)
    }

    /// Turns the Stat Servers on or off.
    pub fn with_stat_server(mut self, on: bool) -> Topology {
        self.stat_server = on;
        self
    }

    /// Declares server capacity (a suite's `topology.capacity`).
    pub fn with_capacity(mut self, capacity: Vec<super::capacity::Capacity>) -> Topology {
        self.capacity = capacity;
        self
    }

    /// The declared server capacity, per limited server kind.
    pub fn capacity(&self) -> &[super::capacity::Capacity] {
        &self.capacity
    }

    /// SIP Servers that keep an agent logged in when its connection closes (a suite's
    /// `topology.keep_agents_on_disconnect`).
    pub fn with_keep_agents(mut self, on: bool) -> Topology {
        self.keep_agents = on;
        self
    }

    /// Declares `n` groups of four SIP Servers (at least 1; a suite's `topology.groups`).
    pub fn with_groups(mut self, n: u32) -> Topology {
        self.groups = n.max(1);
        self
    }

    /// How many groups of four SIP Servers.
    pub fn groups(&self) -> u32 {
        self.groups
    }

    /// The group whose SIP Servers serve `agent`: its DN's group, or 1 with a single group (whose
    /// SIP Servers serve every DN); a group the topology lacks is an error.
    pub fn group_of(&self, agent: &Agent) -> Result<u32, EnvError> {
        match (self.groups, agent.group) {
            (1, _) => Ok(1),
            (n, g) if g <= n => Ok(g),
            (n, g) => Err(EnvError::Topology(format!(
                "agent {}'s DN {} is on the switch of group {g}, and the topology has {n} groups",
                agent.username, agent.dn
            ))),
        }
    }

    /// The groups an instance of `kind` exists in: every group for a SIP Server, else group 1.
    pub fn groups_of(&self, kind: ServerKind) -> std::ops::RangeInclusive<u32> {
        match kind {
            ServerKind::SipServer => 1..=self.groups,
            _ => 1..=1,
        }
    }

    /// The arguments every instance of `kind` gets from the declared server behaviour (capacity,
    /// kept agents), at start and at every restart.
    pub fn server_args(&self, kind: ServerKind) -> Vec<String> {
        let mut args = super::capacity::mock_args(&self.capacity, kind);
        if self.keep_agents && kind == ServerKind::SipServer {
            args.push("--keep-agents-on-disconnect".into());
        }
        args
    }

    pub fn sites(&self) -> &[String] {
        &self.sites
    }

    pub fn has_site(&self, site: &str) -> bool {
        self.sites.iter().any(|s| s == site)
    }

    pub fn stat_server(&self) -> bool {
        self.stat_server
    }

    pub fn config_db_path(&self) -> &Path {
        &self.config_db_path
    }

    pub fn config_db(&self) -> &ConfigDb {
        &self.db
    }

    /// The server kinds deployed at every site, in report order.
    pub fn servers(&self) -> Vec<ServerKind> {
        ServerKind::ALL
            .into_iter()
            .filter(|k| self.stat_server || *k != ServerKind::StatServer)
            .collect()
    }

    pub fn has_server(&self, server: ServerKind) -> bool {
        self.stat_server || server != ServerKind::StatServer
    }

    /// Every instance: sites x servers (SIP Servers x groups) x {primary, backup}.
    pub fn instances(&self) -> Vec<InstanceId> {
        let mut out = Vec::new();
        for site in &self.sites {
            for server in self.servers() {
                for group in self.groups_of(server) {
                    for role in Role::ALL {
                        out.push(InstanceId::new(site.clone(), server, role).in_group(group));
                    }
                }
            }
        }
        out
    }

    /// The agent with this username, or a clear error.
    pub fn agent(&self, username: &str) -> Result<&Agent, EnvError> {
        self.db
            .person(username)
            .ok_or_else(|| EnvError::UnknownAgent(username.to_string()))
    }

    pub fn agents(&self) -> &[Agent] {
        &self.db.persons
    }
}

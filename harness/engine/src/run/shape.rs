//! The shape of environment a scenario needs (sites, Stat Servers, keep-alive, capacity, a herd's
//! floor, groups): scenarios of equal shapes share one environment, a new shape replaces it.

use std::path::PathBuf;

use bc_suite::PlannedScenario;

use crate::env::capacity::Capacity;
use crate::env::Topology;

/// The shape of environment a scenario needs; equal shapes share an environment.
#[derive(Debug, Clone, PartialEq)]
pub struct Shape {
    pub(super) config: PathBuf,
    pub(super) sites: Vec<String>,
    pub(super) stat_server: bool,
    /// The suite's mock client timeout (`topology.server_client_timeout`), else the run's.
    pub(super) client_timeout_ms: Option<u64>,
    /// The suite's mock ping interval (`topology.server_ping_interval`), else the run's.
    pub(super) ping_interval_ms: Option<u64>,
    /// The suite's declared server capacity (`topology.capacity`).
    pub(super) capacity: Vec<Capacity>,
    /// SIP Servers keep a closed connection's agents (`topology.keep_agents_on_disconnect`).
    pub(super) keep_agents: bool,
    /// A herd's generated agents, as each one's preferred site in agent order (empty: no herd):
    /// the configuration database gets them added (`env::floor`).
    pub(super) floor: Vec<String>,
    /// Groups of four SIP Servers (`topology.groups`).
    pub(super) groups: u32,
}

impl Shape {
    /// The shape a planned scenario needs.
    pub fn of(sc: &PlannedScenario) -> Shape {
        Shape {
            config: sc.config_path.clone(),
            sites: sc.sites.iter().map(|s| s.as_str().to_string()).collect(),
            stat_server: sc.stat_server,
            client_timeout_ms: sc
                .server_client_timeout
                .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
            ping_interval_ms: sc
                .server_ping_interval
                .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
            capacity: sc.capacity.iter().map(capacity).collect(),
            keep_agents: sc.keep_agents_on_disconnect,
            floor: sc
                .herd
                .as_ref()
                .map(|h| h.deal().iter().map(|s| s.as_str().to_string()).collect())
                .unwrap_or_default(),
            groups: sc.groups,
        }
    }

    /// The default topology of a configuration database: sites A and B with Stat Servers.
    pub fn of_config(config: PathBuf) -> Shape {
        Shape {
            config,
            sites: vec!["A".into(), "B".into()],
            stat_server: true,
            client_timeout_ms: None,
            ping_interval_ms: None,
            capacity: Vec::new(),
            keep_agents: false,
            floor: Vec::new(),
            groups: 1,
        }
    }

    /// The topology, and for a herd the directory holding its floor's configuration database.
    pub(super) fn topology(&self) -> Result<(Topology, Option<tempfile::TempDir>), String> {
        let (path, dir) = if self.floor.is_empty() {
            (self.config.clone(), None)
        } else {
            let dir = tempfile::Builder::new()
                .prefix("bc-floor-")
                .tempdir()
                .map_err(|e| format!("cannot create the herd's floor directory: {e}"))?;
            let path =
                crate::env::floor::write_floor(&self.config, &self.floor, self.groups, dir.path())
                    .map_err(|e| e.to_string())?;
            (path, Some(dir))
        };
        let topo = Topology::load(path)
            .and_then(|t| t.with_sites(self.sites.clone()))
            .map(|t| {
                t.with_stat_server(self.stat_server)
                    .with_capacity(self.capacity.clone())
                    .with_keep_agents(self.keep_agents)
                    .with_groups(self.groups)
            })
            .map_err(|e| e.to_string())?;
        Ok((topo, dir))
    }
}

/// A kind's declared limits as the environment applies them.
fn capacity(c: &bc_suite::CapacityPlan) -> Capacity {
    Capacity {
        server: c.server,
        max_clients: c.max_clients,
        login_rate: c.login_rate,
        login_burst: c.login_burst,
        retry_after_ms: c.retry_after_ms,
        refuse: c.answer == bc_suite::OverloadAnswer::Refuse,
    }
}

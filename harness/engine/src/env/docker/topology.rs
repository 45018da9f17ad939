//! What an environment in Docker is made of: the server instances, their ports inside the containers, and
//! each mock's command line (peers are named by container name on the environment's network).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bc_protocol::{Role, ServerKind};

use super::container::RunState;
use super::error::DockerError;

/// Port a mock's desktop protocol listens on inside its container.
pub const MOCK_LISTEN_PORT: u16 = 7000;
/// Port of a mock's control API inside its container.
pub const MOCK_CONTROL_PORT: u16 = 7001;
/// Port of the fault proxy's Toxiproxy-compatible API inside its container.
pub const PROXY_API_PORT: u16 = 8474;
/// First of the proxy's listen ports inside its container (one per server instance, in instance order).
pub const PROXY_FIRST_LISTEN_PORT: u16 = 10000;
/// Where the configuration database file is baked into the mock image.
pub const CONFIG_PATH: &str = "/etc/bc/config.yaml";
/// Port of the SIP Server HA sync link inside a backup's container.
pub const SIP_SYNC_PORT: u16 = 7002;
/// Prefix of the line bc-mock prints on stdout once it listens.
pub const MOCK_READY_PREFIX: &str = "bc-mock ready";
/// Prefix of the line bc-toxiproxy prints once its API listens.
pub const PROXY_READY_PREFIX: &str = "bc-toxiproxy listening on";

/// One server instance: kind, site and HA slot.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct InstanceId {
    pub kind: ServerKind,
    pub site: String,
    pub role: Role,
}

impl InstanceId {
    pub fn new(site: impl Into<String>, kind: ServerKind, role: Role) -> InstanceId {
        InstanceId {
            kind,
            site: site.into(),
            role,
        }
    }

    pub fn role_str(&self) -> &'static str {
        match self.role {
            Role::Primary => "primary",
            Role::Backup => "backup",
        }
    }

    /// `sip_server-A-primary`: the proxy's name for this instance's link, and the instance label.
    pub fn slug(&self) -> String {
        format!("{}-{}-{}", self.kind.as_str(), self.site, self.role_str())
    }

    /// The bc-mock subcommand for this kind.
    pub fn subcommand(&self) -> &'static str {
        match self.kind {
            ServerKind::SipServer => "sip-server",
            ServerKind::ConfigServer => "config-proxy",
            ServerKind::StatServer => "stat-server",
        }
    }
}

impl std::fmt::Display for InstanceId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.slug())
    }
}

/// Called synchronously on every state change of a mock (start, kill, stop, pause, unpause, unexpected exit).
pub type StatusHook = Arc<dyn Fn(&InstanceId, MockStatus) + Send + Sync>;

/// Run state of one mock as the environment knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MockStatus {
    pub state: RunState,
    /// Bumped at every (re)start: a new incarnation restarts its event seq at 0.
    pub incarnation: u64,
    /// The control API of this incarnation (its host port may differ after a restart).
    pub control: SocketAddr,
    /// Host pid of this incarnation's process while it runs.
    pub pid: Option<u32>,
}

/// Arguments for a Toxiproxy image's entrypoint (toxiproxy-server, Go-style flags): the API on every
/// interface of the container at PROXY_API_PORT, and a fixed seed as ours gets.
pub fn toxiproxy_server_args() -> Vec<String> {
    vec![
        "-host=0.0.0.0".into(),
        format!("-port={PROXY_API_PORT}"),
        "-seed=1".into(),
    ]
}

/// What to start.
#[derive(Clone)]
pub struct DockerTopology {
    /// Site names (letters, digits, `-`, `_`).
    pub sites: Vec<String>,
    pub kinds: Vec<ServerKind>,
    /// Contents of the configuration database YAML given to every mock.
    pub config_yaml: Vec<u8>,
    /// Flags given to every mock (e.g. `--ping-interval-ms 500`).
    pub mock_flags: Vec<String>,
    /// bc-toxiproxy arguments (it must serve its API on 0.0.0.0:PROXY_API_PORT).
    pub proxy_args: Vec<String>,
    /// Create one proxy link per instance (name = slug, upstream = container). Off when the caller does it.
    pub proxy_links: bool,
    /// Also publish each mock's desktop port on 127.0.0.1 (bypassing the proxy). Off by default: every
    /// published port costs a docker-proxy process at start.
    pub publish_direct: bool,
    pub ready_timeout: Duration,
    /// SIGTERM-to-SIGKILL grace of the graceful stop.
    pub stop_grace: Duration,
    /// Told of every mock state change.
    pub on_status: Option<StatusHook>,
}

impl DockerTopology {
    /// Two sites, three kinds, the given configuration database.
    pub fn standard(config_yaml: Vec<u8>) -> DockerTopology {
        DockerTopology {
            sites: vec!["A".into(), "B".into()],
            kinds: ServerKind::ALL.to_vec(),
            config_yaml,
            mock_flags: Vec::new(),
            proxy_args: [
                "--host",
                "0.0.0.0",
                "--port",
                &PROXY_API_PORT.to_string(),
                "--seed",
                "1",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect(),
            proxy_links: true,
            publish_direct: false,
            ready_timeout: Duration::from_secs(15),
            stop_grace: Duration::from_secs(2),
            on_status: None,
        }
    }

    /// Every instance, in a stable order (site, kind, primary before backup).
    pub fn instances(&self) -> Vec<InstanceId> {
        let mut out = Vec::new();
        for site in &self.sites {
            for &kind in &self.kinds {
                for role in [Role::Primary, Role::Backup] {
                    out.push(InstanceId::new(site.clone(), kind, role));
                }
            }
        }
        out
    }

    /// Checks site names (they become part of container names) and that there is something to start.
    pub fn validate(&self) -> Result<(), DockerError> {
        if self.sites.is_empty() || self.kinds.is_empty() {
            return Err(DockerError::Topology("no sites or no server kinds".into()));
        }
        for (i, site) in self.sites.iter().enumerate() {
            let ok = !site.is_empty()
                && site
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
            if !ok {
                return Err(DockerError::Topology(format!(
                    "site name {site:?} must be letters, digits, '-' or '_'"
                )));
            }
            if self.sites[..i].iter().any(|s| s.eq_ignore_ascii_case(site)) {
                return Err(DockerError::Topology(format!(
                    "site {site} is listed twice"
                )));
            }
        }
        Ok(())
    }

    /// The bc-mock arguments of an instance inside its container (peers named by container name).
    pub fn mock_args(
        &self,
        id: &InstanceId,
        host_of: &dyn Fn(&InstanceId) -> String,
    ) -> Vec<String> {
        let mut args: Vec<String> = vec![
            id.subcommand().into(),
            "--site".into(),
            id.site.clone(),
            "--role".into(),
            id.role_str().into(),
            "--listen".into(),
            format!("0.0.0.0:{MOCK_LISTEN_PORT}"),
            "--control".into(),
            format!("0.0.0.0:{MOCK_CONTROL_PORT}"),
            "--config".into(),
            CONFIG_PATH.into(),
        ];
        args.extend(self.mock_flags.iter().cloned());
        if id.kind == ServerKind::SipServer {
            // The HA pair's state-sync link: the backup listens, the primary connects to it.
            match id.role {
                Role::Backup => {
                    args.extend(["--sync-listen".into(), format!("0.0.0.0:{SIP_SYNC_PORT}")])
                }
                Role::Primary => {
                    let backup = InstanceId::new(id.site.clone(), id.kind, Role::Backup);
                    args.extend([
                        "--sync-to".into(),
                        format!("{}:{SIP_SYNC_PORT}", host_of(&backup)),
                    ]);
                }
            }
            // Every SIP Server of every other site is a peer (calls are redirected there).
            for peer in self.instances() {
                if peer.kind == ServerKind::SipServer && peer.site != id.site {
                    args.extend([
                        "--peer".into(),
                        format!("http://{}:{MOCK_CONTROL_PORT}", host_of(&peer)),
                    ]);
                }
            }
        }
        args
    }
}

/// Container name (and DNS name on the network) of an instance.
pub fn container_name(run_id: &str, id: &InstanceId) -> String {
    format!(
        "bc-{run_id}-{}-{}-{}",
        id.kind.as_str().replace('_', "-"),
        id.site.to_ascii_lowercase(),
        id.role_str()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn topology() -> DockerTopology {
        DockerTopology::standard(b"tenants: []\n".to_vec())
    }

    #[test]
    fn standard_topology_has_twelve_instances_in_a_stable_order() {
        let ids = topology().instances();
        assert_eq!(ids.len(), 12);
        assert_eq!(ids[0].slug(), "config_server-A-primary");
        assert_eq!(ids[11].slug(), "stat_server-B-backup");
    }

    #[test]
    fn sip_servers_get_their_sync_link_and_the_other_sites_peers() {
        let t = topology();
        let host = |id: &InstanceId| container_name("run", id);
        let primary = InstanceId::new("A", ServerKind::SipServer, Role::Primary);
        let args = t.mock_args(&primary, &host).join(" ");
        assert!(
            args.starts_with("sip-server --site A --role primary --listen 0.0.0.0:7000"),
            "{args}"
        );
        assert!(
            args.contains("--sync-to bc-run-sip-server-a-backup:7002"),
            "{args}"
        );
        assert!(
            args.contains("--peer http://bc-run-sip-server-b-primary:7001"),
            "{args}"
        );
        assert!(
            args.contains("--peer http://bc-run-sip-server-b-backup:7001"),
            "{args}"
        );
        assert!(
            !args.contains("sip-server-a-primary:7001"),
            "not its own peer: {args}"
        );
        let backup = InstanceId::new("A", ServerKind::SipServer, Role::Backup);
        assert!(t
            .mock_args(&backup, &host)
            .join(" ")
            .contains("--sync-listen 0.0.0.0:7002"));
        let stat = InstanceId::new("B", ServerKind::StatServer, Role::Backup);
        let args = t.mock_args(&stat, &host).join(" ");
        assert!(
            !args.contains("--peer") && !args.contains("--sync"),
            "{args}"
        );
    }

    #[test]
    fn bad_site_names_are_refused() {
        let mut t = topology();
        t.sites = vec!["A".into(), "a".into()];
        assert!(
            t.validate().is_err(),
            "container names are lowercase: A and a collide"
        );
        t.sites = vec!["A.B".into()];
        assert!(t.validate().is_err());
        t.sites = Vec::new();
        assert!(t.validate().is_err());
        t.sites = vec!["east-1".into()];
        assert!(t.validate().is_ok());
    }
}

//! Where things are inside an environment's containers: ports, the config file, container names derived
//! from the env's `InstanceId`, and each mock's command line (peers named by container name on the network).

use bc_protocol::{Role, ServerKind};

use super::error::DockerError;
use crate::env::{InstanceId, KeepAlive};

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
/// The `bc-harness.instance` label value of the proxy container.
pub const PROXY_INSTANCE: &str = "proxy";

/// Container name (and DNS name on the network) of an instance: `bc-<run>-sip-server-a-primary`,
/// `bc-<run>-sip-server-g2-a-primary` for a group after the first (group 1 keeps its old name).
/// Derived, not a second id: DNS names are case-insensitive and `.`/`_` read badly in them.
pub fn container_name(run_id: &str, id: &InstanceId) -> String {
    let group = if id.group > 1 {
        format!("g{}-", id.group)
    } else {
        String::new()
    };
    format!(
        "bc-{run_id}-{}-{group}{}-{}",
        id.server.as_str().replace('_', "-"),
        id.site.to_ascii_lowercase(),
        id.role.as_str()
    )
}

/// Container name of the run's fault proxy.
pub fn proxy_container_name(run_id: &str) -> String {
    format!("bc-{run_id}-proxy")
}

/// The proxy's listen port (inside its container) for the instance at `index` in instance order.
pub fn proxy_listen_port(index: usize) -> Result<u16, DockerError> {
    u16::try_from(index)
        .ok()
        .and_then(|i| PROXY_FIRST_LISTEN_PORT.checked_add(i))
        .ok_or_else(|| DockerError::Topology(format!("too many instances ({index})")))
}

/// Checks that the site names can be part of container names: letters, digits, `-`, `_`, and distinct
/// even ignoring case (container names are lowercased).
pub fn validate_sites(sites: &[String]) -> Result<(), DockerError> {
    if sites.is_empty() {
        return Err(DockerError::Topology("no sites".into()));
    }
    for (i, site) in sites.iter().enumerate() {
        let ok = !site.is_empty()
            && site
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !ok {
            return Err(DockerError::Topology(format!(
                "site name {site:?} must be letters, digits, '-' or '_'"
            )));
        }
        if sites[..i].iter().any(|s| s.eq_ignore_ascii_case(site)) {
            return Err(DockerError::Topology(format!(
                "site {site} is listed twice"
            )));
        }
    }
    Ok(())
}

/// bc-toxiproxy's arguments: its API on every interface of the container, a fixed seed.
pub fn our_proxy_args() -> Vec<String> {
    let port = PROXY_API_PORT.to_string();
    ["--host", "0.0.0.0", "--port", &port, "--seed", "1"]
        .iter()
        .map(|s| s.to_string())
        .collect()
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

/// The bc-mock subcommand of a server kind.
fn subcommand(server: ServerKind) -> &'static str {
    match server {
        ServerKind::SipServer => "sip-server",
        ServerKind::ConfigServer => "config-proxy",
        ServerKind::StatServer => "stat-server",
    }
}

/// The bc-mock arguments of an instance inside its container. `instances` is the whole deployment (SIP
/// peers are the other sites' SIP Servers); `host_of` names a peer's container.
pub fn mock_args(
    id: &InstanceId,
    instances: &[InstanceId],
    keepalive: KeepAlive,
    host_of: &dyn Fn(&InstanceId) -> String,
) -> Vec<String> {
    let mut args: Vec<String> = vec![
        subcommand(id.server).into(),
        "--site".into(),
        id.site.clone(),
        "--role".into(),
        id.role.as_str().into(),
        "--listen".into(),
        format!("0.0.0.0:{MOCK_LISTEN_PORT}"),
        "--control".into(),
        format!("0.0.0.0:{MOCK_CONTROL_PORT}"),
        "--config".into(),
        CONFIG_PATH.into(),
    ];
    args.extend(keepalive.mock_args());
    if id.server == ServerKind::SipServer {
        // The HA pair's state-sync link: the backup listens, the primary connects to it.
        match id.role {
            Role::Backup => {
                args.extend(["--sync-listen".into(), format!("0.0.0.0:{SIP_SYNC_PORT}")])
            }
            Role::Primary => {
                args.extend([
                    "--sync-to".into(),
                    format!("{}:{SIP_SYNC_PORT}", host_of(&id.partner())),
                ]);
            }
        }
        // Every SIP Server of the same group at every other site is a peer (calls are redirected
        // there: the group of four is the unit of BC), as on the local runtime.
        for peer in instances {
            if peer.server == ServerKind::SipServer
                && peer.site != id.site
                && peer.group == id.group
            {
                args.extend([
                    "--peer".into(),
                    format!("http://{}:{MOCK_CONTROL_PORT}", host_of(peer)),
                ]);
            }
        }
        // With more than one group each SIP Server serves only its group's DNs.
        if instances.iter().any(|i| i.group > 1) {
            args.extend(["--group".into(), id.group.to_string()]);
        }
    }
    args
}

#[cfg(test)]
mod tests {
    use super::*;

    fn instances() -> Vec<InstanceId> {
        let mut out = Vec::new();
        for site in ["A", "B"] {
            for server in ServerKind::ALL {
                for role in bc_protocol::Role::ALL {
                    out.push(InstanceId::new(site, server, role));
                }
            }
        }
        out
    }

    #[test]
    fn container_names_derive_from_the_instance_id() {
        let id = InstanceId::new("A", ServerKind::SipServer, Role::Primary);
        assert_eq!(id.to_string(), "A.sip_server.primary");
        assert_eq!(container_name("run", &id), "bc-run-sip-server-a-primary");
        assert_eq!(proxy_container_name("run"), "bc-run-proxy");
        assert_eq!(proxy_listen_port(3).unwrap(), 10003);
    }

    #[test]
    fn sip_servers_get_their_sync_link_and_the_other_sites_peers() {
        let all = instances();
        let host = |id: &InstanceId| container_name("run", id);
        let keepalive = KeepAlive::default();
        let primary = InstanceId::new("A", ServerKind::SipServer, Role::Primary);
        let args = mock_args(&primary, &all, keepalive, &host).join(" ");
        assert!(
            args.starts_with("sip-server --site A --role primary --listen 0.0.0.0:7000"),
            "{args}"
        );
        assert!(args.contains("--ping-interval-ms 500"), "{args}");
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
        let backup = primary.partner();
        assert!(mock_args(&backup, &all, keepalive, &host)
            .join(" ")
            .contains("--sync-listen 0.0.0.0:7002"));
        let stat = InstanceId::new("B", ServerKind::StatServer, Role::Backup);
        let args = mock_args(&stat, &all, keepalive, &host).join(" ");
        assert!(
            !args.contains("--peer") && !args.contains("--sync"),
            "{args}"
        );
    }

    #[test]
    fn a_second_group_gets_its_own_containers_peers_and_sync_link() {
        let mut all = instances();
        for site in ["A", "B"] {
            for role in bc_protocol::Role::ALL {
                all.push(InstanceId::new(site, ServerKind::SipServer, role).in_group(2));
            }
        }
        let host = |id: &InstanceId| container_name("run", id);
        let g2 = InstanceId::new("A", ServerKind::SipServer, Role::Primary).in_group(2);
        assert_eq!(host(&g2), "bc-run-sip-server-g2-a-primary");
        let args = mock_args(&g2, &all, KeepAlive::default(), &host).join(" ");
        assert!(
            args.contains("--sync-to bc-run-sip-server-g2-a-backup:7002"),
            "{args}"
        );
        assert!(
            args.contains("--peer http://bc-run-sip-server-g2-b-primary:7001"),
            "{args}"
        );
        assert!(
            !args.contains("--peer http://bc-run-sip-server-b-primary"),
            "{args}"
        );
        assert!(args.ends_with("--group 2"), "{args}");
        let g1 = InstanceId::new("B", ServerKind::SipServer, Role::Backup);
        let args = mock_args(&g1, &all, KeepAlive::default(), &host).join(" ");
        assert!(
            args.contains("--peer http://bc-run-sip-server-a-primary:7001"),
            "{args}"
        );
        assert!(!args.contains("g2"), "{args}");
        assert!(args.ends_with("--group 1"), "{args}");
    }

    #[test]
    fn bad_site_names_are_refused() {
        let sites = |s: &[&str]| s.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(
            validate_sites(&sites(&["A", "a"])).is_err(),
            "container names are lowercase: A and a collide"
        );
        assert!(validate_sites(&sites(&["A.B"])).is_err());
        assert!(validate_sites(&[]).is_err());
        assert!(validate_sites(&sites(&["east-1"])).is_ok());
    }
}

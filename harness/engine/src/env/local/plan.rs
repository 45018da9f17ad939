//! The local runtime's plan: loopback ports for every instance (allocated up front, below the
//! ephemeral range) and each bc-mock's command line, HA sync links and peers included; with SIP,
//! each SIP Server's listener and each site's SIP link (so a 302 can name the peer's link).

use crate::env::error::EnvError;
use crate::env::runtime::{InstanceAddrs, KeepAlive, SipLink};
use crate::env::topology::{InstanceId, Topology};
use bc_protocol::{Role, ServerKind};
use std::collections::{BTreeSet, HashMap};
use std::net::SocketAddr;

/// Ports planned for the environments of this process that are still up: a killed instance's port
/// is free in the kernel until it restarts, and another environment (`--jobs`) must not take it.
static LEASED: std::sync::Mutex<BTreeSet<u16>> = std::sync::Mutex::new(BTreeSet::new());

/// An environment's planned ports, kept out of every later plan in this process until dropped.
#[derive(Debug, Default)]
pub(crate) struct PortLease(Vec<u16>);

impl PortLease {
    fn take(ports: &[u16]) -> PortLease {
        let mut leased = LEASED.lock().unwrap_or_else(|e| e.into_inner());
        leased.extend(ports.iter().copied());
        PortLease(ports.to_vec())
    }
}

impl Drop for PortLease {
    fn drop(&mut self) {
        let mut leased = LEASED.lock().unwrap_or_else(|e| e.into_inner());
        for p in &self.0 {
            leased.remove(p);
        }
    }
}

fn leased(port: u16) -> bool {
    LEASED
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .contains(&port)
}

/// Picks `n` distinct free loopback ports below the kernel's ephemeral range, so that no outgoing
/// connection (whose local port comes from that range) can take one between allocation and bind,
/// nor later while an instance is down and about to restart on the same port; and none that
/// another environment of this process has planned (its instance may be down right now).
fn free_ports(n: usize) -> Result<(Vec<u16>, PortLease), EnvError> {
    let low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .next()
                .and_then(|p| p.parse::<u16>().ok())
        })
        .unwrap_or(32768);
    const FLOOR: u16 = 10_000;
    let mut held = Vec::new();
    if low > FLOOR + 1000 {
        let span = u32::from(low - FLOOR);
        // Different environments (parallel tests, parallel runs) start at different places.
        let mut x = (std::process::id() as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
            ^ (std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(0));
        for _ in 0..n * 50 {
            if held.len() == n {
                break;
            }
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let port = FLOOR + (x % u64::from(span)) as u16;
            if leased(port) {
                continue;
            }
            if let Ok(l) = std::net::TcpListener::bind(("127.0.0.1", port)) {
                held.push(l);
            }
        }
    }
    // Fallback (tiny or unknown range): let the kernel choose.
    while held.len() < n {
        held.push(
            std::net::TcpListener::bind("127.0.0.1:0").map_err(|source| EnvError::Io {
                what: "cannot allocate a loopback port".into(),
                source,
            })?,
        );
    }
    let ports = held
        .iter()
        .map(|l| {
            l.local_addr()
                .map(|a| a.port())
                .map_err(|source| EnvError::Io {
                    what: "cannot allocate a loopback port".into(),
                    source,
                })
        })
        .collect::<Result<Vec<u16>, EnvError>>()?;
    let lease = PortLease::take(&ports);
    Ok((ports, lease))
}

fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// The local runtime's plan: every instance with its command line and addresses, and the sites'
/// SIP links (empty without SIP).
pub(super) struct Plan {
    pub instances: Vec<(InstanceId, Vec<String>, InstanceAddrs)>,
    pub sip_links: Vec<SipLink>,
    /// The ports above, kept from other environments of this process while this one lives.
    pub lease: PortLease,
}

/// Every instance with its command line and addresses; `sip_host` (SIP on the wire) is where the
/// fault proxy's SIP links listen.
pub(super) fn plan(
    topology: &Topology,
    ka: KeepAlive,
    sip_host: Option<std::net::IpAddr>,
) -> Result<Plan, EnvError> {
    if sip_host.is_some() && topology.groups() > 1 {
        // A phone registers with one SIP address per site; which group's peer would answer it
        // is not modelled yet.
        return Err(EnvError::Topology(
            "SIP on the wire (--phone) needs a topology of one group of four SIP Servers".into(),
        ));
    }
    let ids = topology.instances();
    let sip_servers = ids
        .iter()
        .filter(|i| i.server == ServerKind::SipServer)
        .count();
    let sip_backups = ids
        .iter()
        .filter(|i| i.server == ServerKind::SipServer && i.role == Role::Backup)
        .count();
    let sites = topology.sites();
    let sip_ports = match sip_host {
        Some(_) => sip_servers + sites.len(),
        None => 0,
    };
    let (ports, lease) = free_ports(ids.len() * 2 + sip_backups + sip_ports)?;
    let mut ports = ports.into_iter();
    let mut next = || loopback(ports.next().unwrap_or(0));
    let mut addrs: HashMap<InstanceId, InstanceAddrs> = HashMap::new();
    // The HA sync link of each SIP Server pair: one per site and group.
    let mut sync: HashMap<(String, u32), SocketAddr> = HashMap::new();
    for id in &ids {
        let is_sip = id.server == ServerKind::SipServer;
        addrs.insert(
            id.clone(),
            InstanceAddrs {
                listen: next(),
                control: next(),
                sip: (is_sip && sip_host.is_some()).then(&mut next),
            },
        );
        if is_sip && id.role == Role::Backup {
            sync.insert((id.site.clone(), id.group), next());
        }
    }
    let sip_links: Vec<SipLink> = match sip_host {
        Some(host) => sites
            .iter()
            .map(|site| SipLink {
                site: site.clone(),
                name: SipLink::name_for(site),
                listen: SocketAddr::new(host, next().port()),
            })
            .collect(),
        None => Vec::new(),
    };
    let config = topology.config_db_path().display().to_string();
    let mut out = Vec::new();
    for id in ids {
        let a = addrs[&id];
        let sub = match id.server {
            ServerKind::SipServer => "sip-server",
            ServerKind::ConfigServer => "config-proxy",
            ServerKind::StatServer => "stat-server",
        };
        let mut args: Vec<String> = vec![
            sub.into(),
            "--site".into(),
            id.site.clone(),
            "--role".into(),
            id.role.as_str().into(),
            "--listen".into(),
            a.listen.to_string(),
            "--control".into(),
            a.control.to_string(),
            "--config".into(),
            config.clone(),
        ];
        args.extend(ka.mock_args());
        args.extend(topology.server_args(id.server));
        if id.server == ServerKind::SipServer {
            let sync_addr = sync[&(id.site.clone(), id.group)];
            match id.role {
                Role::Backup => args.extend(["--sync-listen".into(), sync_addr.to_string()]),
                Role::Primary => args.extend(["--sync-to".into(), sync_addr.to_string()]),
            }
            args.extend(group_args(topology, &id, &addrs));
            if let Some(sip) = a.sip {
                args.extend(["--sip-listen".into(), sip.to_string()]);
                let expires = crate::env::sip::GRANTED_EXPIRES_SECS;
                args.extend(["--sip-expires-secs".into(), expires.to_string()]);
                // A 302 names the peer site as its clients reach it: that site's SIP link (with
                // more than two sites, the next one in topology order).
                if let Some(peer) = peer_link(&sip_links, &id.site) {
                    args.extend(["--sip-peer-contact".into(), peer.listen.to_string()]);
                }
            }
        }
        out.push((id, args, a));
    }
    Ok(Plan {
        instances: out,
        sip_links,
        lease,
    })
}

/// A SIP Server's group arguments: every SIP Server of the same group at every other site is a
/// peer (calls are redirected there: the group of four is the unit of BC); with more than one
/// group each SIP Server serves only its group's DNs.
fn group_args(
    topology: &Topology,
    id: &InstanceId,
    addrs: &HashMap<InstanceId, InstanceAddrs>,
) -> Vec<String> {
    let mut args = Vec::new();
    for (peer, pa) in addrs {
        if peer.server == ServerKind::SipServer && peer.site != id.site && peer.group == id.group {
            args.extend(["--peer".into(), pa.control_url()]);
        }
    }
    if topology.groups() > 1 {
        args.extend(["--group".into(), id.group.to_string()]);
    }
    args
}

/// The SIP link a site's 302s point at: the next site's, in topology order.
fn peer_link<'a>(links: &'a [SipLink], site: &str) -> Option<&'a SipLink> {
    let i = links.iter().position(|l| l.site == site)?;
    (1..links.len())
        .map(|k| &links[(i + k) % links.len()])
        .next()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_living_lease_keeps_its_ports_out_of_later_plans_until_dropped() {
        let (first, lease) = free_ports(40).expect("ports");
        for _ in 0..20 {
            let (later, _l) = free_ports(40).expect("ports");
            assert!(
                later.iter().all(|p| !first.contains(p)),
                "a leased port was handed out again"
            );
        }
        assert!(first.iter().all(|p| leased(*p)));
        drop(lease);
        assert!(
            first.iter().all(|p| !leased(*p)),
            "dropping the lease frees its ports"
        );
    }
}

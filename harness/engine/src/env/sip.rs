//! The sites' SIP addresses for phones: one UDP link per site in the fault proxy, created with the
//! desktop's links and kept pointing at the pair's active SIP Server, as a real site's virtual IP.

use super::error::EnvError;
use super::runtime::{Runtime, SipLink};
use super::shared::Shared;
use super::topology::InstanceId;
use bc_protocol::{Role, ServerKind};
use bc_toxiproxy::client::{ProxyConfig, ProxyUpdate};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// The registrations the SIP Servers grant when the harness runs phones: short, so that a phone's
/// refresh (at most this long after its last one) finds a returned peer within a scenario.
pub const GRANTED_EXPIRES_SECS: u32 = 6;

/// How often the follower asks which instance of each pair is active. A promotion is decided
/// inside the pair (no process event tells the harness), so it is polled, as keepalived would.
const FOLLOW_EVERY: Duration = Duration::from_millis(200);

/// A SIP Server instance's SIP listener.
fn sip_addr(runtime: &dyn Runtime, id: &InstanceId) -> Result<SocketAddr, EnvError> {
    runtime
        .status(id)?
        .addrs
        .sip
        .ok_or_else(|| EnvError::Unsupported(format!("SIP on the wire without a listener at {id}")))
}

/// The proxy configurations of the sites' SIP links, each pointing at its site's primary.
pub(super) fn configs(runtime: &dyn Runtime) -> Result<Vec<ProxyConfig>, EnvError> {
    runtime
        .sip_links()
        .iter()
        .map(|l| {
            let primary = InstanceId::new(l.site.clone(), ServerKind::SipServer, Role::Primary);
            let up = sip_addr(runtime, &primary)?;
            Ok(ProxyConfig::udp(
                &l.name,
                l.listen.to_string(),
                up.to_string(),
            ))
        })
        .collect()
}

/// Keeps every site's SIP link pointing at the pair's active instance until `stop`: the promoted
/// backup, holding mirrored bindings, then reaches each phone over the same flow.
pub(super) fn follow(shared: Arc<Shared>, mut stop: watch::Receiver<bool>) -> JoinHandle<()> {
    tokio::spawn(async move {
        let links: Vec<SipLink> = shared.runtime.sip_links();
        let mut current: HashMap<String, SocketAddr> = HashMap::new();
        loop {
            for l in &links {
                let Ok(active) = shared.active_instance(&l.site, ServerKind::SipServer).await
                else {
                    continue;
                };
                let Ok(up) = sip_addr(shared.runtime.as_ref(), &active) else {
                    continue;
                };
                let first = !current.contains_key(&l.site);
                if current.get(&l.site) == Some(&up) {
                    continue;
                }
                // The link starts at the primary; only a move needs telling the proxy.
                let primary = InstanceId::new(l.site.clone(), ServerKind::SipServer, Role::Primary);
                let at_primary = sip_addr(shared.runtime.as_ref(), &primary).ok() == Some(up);
                if first && at_primary {
                    current.insert(l.site.clone(), up);
                    continue;
                }
                let update = ProxyUpdate {
                    upstream: Some(up.to_string()),
                    ..ProxyUpdate::default()
                };
                match shared.toxi.update_proxy(&l.name, &update).await {
                    Ok(_) => {
                        tracing::debug!(link = %l.name, upstream = %up, "SIP link follows {active}");
                        current.insert(l.site.clone(), up);
                    }
                    Err(e) => tracing::debug!(link = %l.name, error = %e, "SIP link not moved"),
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(FOLLOW_EVERY) => {}
                _ = stop.changed() => return,
            }
            if *stop.borrow() {
                return;
            }
        }
    })
}

//! Link faults aimed at some agents of a herd: the fault's toxics carry the hit agents' source
//! addresses (the fault proxy's `clients` extension), so the other agents' connections are untouched.

use std::fmt;
use std::net::IpAddr;

use super::guard::{Applied, HealAction};
use super::link::{link_names, link_toxics, remove_toxics};
use super::{Fault, FaultError, LinkFault, LinkSelector};
use crate::env::now_us;
use crate::env::shared::Shared;
use crate::env::RuntimeKind;
use bc_toxiproxy::client::{Stream, Toxic};

/// The agents of a herd a fault reaches: their source addresses (what the proxy matches), their
/// usernames (what the timeline names), and the herd's size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AimedAt {
    pub clients: Vec<IpAddr>,
    pub agents: Vec<String>,
    pub of: usize,
}

impl fmt::Display for AimedAt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "(for {} of {} agents: {})",
            self.agents.len(),
            self.of,
            crate::check::fleet::named_list(&self.agents)
        )
    }
}

/// Why a fault cannot be aimed at `clients` in this environment, if it cannot.
pub(super) fn aimable(shared: &Shared, clients: &[IpAddr]) -> Result<(), String> {
    if shared.runtime.kind() != RuntimeKind::Local {
        return Err("a fault aimed at some agents needs the local runtime: on Docker the fault proxy sees the engine's address, not each agent's".into());
    }
    if clients.is_empty() {
        return Err("aimed at no agent".into());
    }
    Ok(())
}

/// The toxics of an aimed fault: the link fault's own, or for `refuse` (a listener cannot refuse
/// some clients only) a reset of their connections, each aimed at `clients`.
pub(super) fn aimed_toxics(lf: &LinkFault, tag: &str, clients: &[IpAddr]) -> Vec<Toxic> {
    let toxics = link_toxics(lf, tag).unwrap_or_else(|| {
        vec![Toxic::reset_peer(Stream::Downstream, 0).named(format!("{tag}_refuse_downstream"))]
    });
    toxics
        .into_iter()
        .map(|t| t.for_clients(clients.to_vec()))
        .collect()
}

/// Whether a proxy lists toxic `t` as added, with its clients: a proxy without the extension (a
/// real Toxiproxy) would list it without them and apply it to every agent, which is not the fault.
pub(super) fn lists(listed: &[Toxic], t: &Toxic) -> bool {
    listed
        .iter()
        .any(|x| x.name == t.name && x.clients == t.clients)
}

pub(super) async fn apply(
    shared: &Shared,
    fault: &Fault,
    links: &LinkSelector,
    lf: &LinkFault,
    clients: &[IpAddr],
) -> Result<Applied, FaultError> {
    let name = fault.to_string();
    let invalid = |reason: String| FaultError::Invalid {
        fault: name.clone(),
        reason,
    };
    aimable(shared, clients).map_err(invalid)?;
    let (proxies, _) = link_names(shared, links).map_err(invalid)?;
    let not_confirmed = |reason: String| FaultError::NotConfirmed {
        fault: name.clone(),
        reason,
    };
    let tag = format!("bc{}", shared.faults.next_id());
    let toxics = aimed_toxics(lf, &tag, clients);
    let mut added = Vec::new();
    let mut actions = Vec::new();
    for p in &proxies {
        for t in &toxics {
            if let Err(e) = shared.toxi.add_toxic(p, t).await {
                let _ = remove_toxics(shared, &added).await;
                return Err(not_confirmed(format!("adding {} to {p}: {e}", t.name)));
            }
            added.push((p.clone(), t.name.clone()));
            actions.push(format!(
                "{p}: +{} {} for {} client(s)",
                t.r#type,
                t.name,
                clients.len()
            ));
        }
    }
    let at = now_us();
    for p in &proxies {
        let state = match shared.toxi.proxy(p).await {
            Ok(s) => s,
            Err(e) => {
                let _ = remove_toxics(shared, &added).await;
                return Err(not_confirmed(e.to_string()));
            }
        };
        for t in &toxics {
            if !lists(&state.toxics, t) {
                let _ = remove_toxics(shared, &added).await;
                return Err(not_confirmed(format!(
                    "{p} does not list toxic {} aimed at its clients (a fault proxy without the `clients` extension, docs/toxiproxy.md)",
                    t.name
                )));
            }
        }
    }
    Ok(Applied::new(
        at,
        actions,
        vec![HealAction::RemoveToxics(added)],
    ))
}

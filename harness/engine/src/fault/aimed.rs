//! Link faults aimed at some agents of a herd: the fault's toxics carry the hit agents' source
//! addresses (the fault proxy's `clients` extension), so the other agents' connections are untouched.

use std::net::IpAddr;

use super::guard::{Applied, HealAction};
use super::link::{link_names, link_toxics, remove_toxics};
use super::{Fault, FaultError, LinkFault, LinkSelector};
use crate::env::now_us;
use crate::env::shared::Shared;
use crate::env::RuntimeKind;
use bc_toxiproxy::client::{Stream, Toxic};

/// The toxics of an aimed fault: the link fault's own, or for `refuse` (a listener cannot refuse
/// some clients only) a reset of their connections, each aimed at `clients`.
fn aimed_toxics(lf: &LinkFault, tag: &str, clients: &[IpAddr]) -> Vec<Toxic> {
    let toxics = link_toxics(lf, tag).unwrap_or_else(|| {
        vec![Toxic::reset_peer(Stream::Downstream, 0).named(format!("{tag}_refuse_downstream"))]
    });
    toxics
        .into_iter()
        .map(|t| t.for_clients(clients.to_vec()))
        .collect()
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
    if shared.runtime.kind() != RuntimeKind::Local {
        return Err(invalid(
            "a fault aimed at some agents needs the local runtime: on Docker the fault proxy sees the engine's address, not each agent's".into(),
        ));
    }
    if clients.is_empty() {
        return Err(invalid("aimed at no agent".into()));
    }
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
    // Read back: a proxy without the extension (a real Toxiproxy) would list the toxic without
    // its clients and apply it to every agent, which is not this fault.
    for p in &proxies {
        let state = match shared.toxi.proxy(p).await {
            Ok(s) => s,
            Err(e) => {
                let _ = remove_toxics(shared, &added).await;
                return Err(not_confirmed(e.to_string()));
            }
        };
        for t in &toxics {
            let listed = state.toxics.iter().find(|x| x.name == t.name);
            if listed.is_none_or(|x| x.clients != t.clients) {
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

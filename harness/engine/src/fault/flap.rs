//! Flapping links, every mode behind one guard: the link fault on for half a period (down), off for
//! the other half (up), `count` times. The first down is applied inline, the rest by a task.

use std::net::IpAddr;
use std::sync::{Arc, Weak};
use std::time::Duration;

use bc_toxiproxy::client::Toxic;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::aimed::{aimable, aimed_toxics, lists};
use super::guard::{Applied, HealAction};
use super::link::{link_names, link_toxics, remove_toxics, set_enabled, toxic_targets};
use super::{Fault, FaultError, LinkFault, LinkSelector};
use crate::env::now_us;
use crate::env::shared::Shared;

/// A phase change of a flap after its first down, as the background task makes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FlapPhase {
    /// A change began at `from_us`; its `Down` or `Up` (stamped later) follows.
    Changing { from_us: i64 },
    /// The link fault is on again and confirmed, since `at_us`.
    Down { at_us: i64 },
    /// The link fault is off and confirmed, since `at_us`.
    Up { at_us: i64 },
    /// A change failed; the flapping stopped (the guard's heal still brings the links up).
    Failed { reason: String },
}

/// What a phase does to the selected proxies: disable them, or add toxics with one fixed tag (so
/// that the heal plan, made once, removes whatever phase the flap is in).
enum Down {
    Refuse(Vec<String>),
    Toxics(Vec<(String, Toxic)>),
}

impl Down {
    async fn on(&self, shared: &Shared) -> Result<(i64, Vec<String>), String> {
        match self {
            Down::Refuse(proxies) => {
                let actions = set_enabled(shared, proxies, false).await?;
                Ok((now_us(), actions))
            }
            Down::Toxics(list) => {
                let r = add_toxics(shared, list).await;
                if r.is_err() {
                    // Leave nothing half-applied behind.
                    let _ = remove_toxics(shared, &self.names()).await;
                }
                r
            }
        }
    }

    async fn off(&self, shared: &Shared) -> Result<i64, String> {
        match self {
            Down::Refuse(proxies) => set_enabled(shared, proxies, true).await?,
            Down::Toxics(_) => remove_toxics(shared, &self.names()).await?,
        };
        Ok(now_us())
    }

    fn names(&self) -> Vec<(String, String)> {
        match self {
            Down::Refuse(_) => Vec::new(),
            Down::Toxics(list) => list
                .iter()
                .map(|(p, t)| (p.clone(), t.name.clone()))
                .collect(),
        }
    }

    fn heal(&self) -> HealAction {
        match self {
            Down::Refuse(proxies) => HealAction::EnableProxies(proxies.clone()),
            Down::Toxics(_) => HealAction::RemoveToxics(self.names()),
        }
    }
}

/// Adds the toxics, then reads every proxy back (with the clients an aimed toxic names); the effect
/// time is when the last one was added.
async fn add_toxics(
    shared: &Shared,
    list: &[(String, Toxic)],
) -> Result<(i64, Vec<String>), String> {
    let mut actions = Vec::new();
    for (p, t) in list {
        shared
            .toxi
            .add_toxic(p, t)
            .await
            .map_err(|e| format!("adding {} to {p}: {e}", t.name))?;
        actions.push(format!("{p}: +{} {}", t.r#type, t.name));
    }
    let at = now_us();
    for (p, t) in list {
        let state = shared.toxi.proxy(p).await.map_err(|e| e.to_string())?;
        if !lists(&state.toxics, t) {
            let aimed = if t.clients.is_empty() {
                ""
            } else {
                " aimed at its clients (a fault proxy without the `clients` extension, docs/toxiproxy.md)"
            };
            return Err(format!("{p} does not list toxic {}{aimed}", t.name));
        }
    }
    Ok((at, actions))
}

/// Starts flapping; with `clients`, only the links of the agents connecting from them flap (their
/// toxics aimed at them, as `aimed` does it; a herd has no phone, so no SIP link).
pub(super) async fn apply(
    shared: &Arc<Shared>,
    fault: &Fault,
    links: &LinkSelector,
    lf: &LinkFault,
    period: Duration,
    count: u32,
    clients: Option<&[IpAddr]>,
) -> Result<Applied, FaultError> {
    let name = fault.to_string();
    let invalid = |reason: String| FaultError::Invalid {
        fault: name.clone(),
        reason,
    };
    if count == 0 {
        return Err(invalid("count must be at least 1".into()));
    }
    if period < Duration::from_millis(2) {
        return Err(invalid("period must be at least 2 ms".into()));
    }
    if let Some(clients) = clients {
        aimable(shared, clients).map_err(invalid)?;
    }
    let (mut proxies, sip) = link_names(shared, links).map_err(invalid)?;
    let tag = format!("bc{}", shared.faults.next_id());
    let down = match (clients, link_toxics(lf, &tag)) {
        (Some(clients), _) => Down::Toxics(toxic_targets(
            &proxies,
            None,
            &aimed_toxics(lf, &tag, clients),
        )),
        (None, None) => {
            proxies.extend(sip);
            Down::Refuse(proxies.clone())
        }
        (None, Some(toxics)) => Down::Toxics(toxic_targets(&proxies, sip.as_deref(), &toxics)),
    };
    let start = Instant::now();
    let (at, mut actions) = down
        .on(shared)
        .await
        .map_err(|reason| FaultError::NotConfirmed {
            fault: name.clone(),
            reason,
        })?;
    let half = period / 2;
    let whom = clients.map_or(String::new(), |c| format!(" for {} client(s)", c.len()));
    actions.push(format!(
        "flapping {} link(s){whom}: {count} x ({} ms down, {} ms up) in the background",
        proxies.len(),
        half.as_millis(),
        half.as_millis()
    ));
    let heal = vec![down.heal()];
    let (tx, rx) = mpsc::unbounded_channel();
    let task = tokio::spawn(flap(Arc::downgrade(shared), down, start, half, count, tx));
    let mut applied = Applied::new(at, actions, heal);
    applied.task = Some(task);
    applied.phases = Some(rx);
    Ok(applied)
}

/// Makes the phase changes after the first down, on a fixed grid from `start` (no drift); the
/// links end up. A heal aborts it.
async fn flap(
    shared: Weak<Shared>,
    down: Down,
    start: Instant,
    half: Duration,
    count: u32,
    phases: mpsc::UnboundedSender<FlapPhase>,
) {
    for change in 1..count.saturating_mul(2) {
        tokio::time::sleep_until(start + half * change).await;
        // The environment is gone: nothing left to flap.
        let Some(shared) = shared.upgrade() else {
            return;
        };
        let _ = phases.send(FlapPhase::Changing { from_us: now_us() });
        let r = if change % 2 == 0 {
            down.on(&shared)
                .await
                .map(|(at_us, _)| FlapPhase::Down { at_us })
        } else {
            down.off(&shared).await.map(|at_us| FlapPhase::Up { at_us })
        };
        let failed = r.is_err();
        let _ = phases.send(r.unwrap_or_else(|reason| FlapPhase::Failed { reason }));
        if failed {
            return;
        }
    }
}

//! Flapping links: a bounded background task that refuses the selected links for half a period,
//! restores them for the other half, `count` times. The first "down" is applied and confirmed inline.

use super::guard::{Applied, HealAction};
use super::select::resolve_links;
use super::{Fault, FaultError, LinkSelector};
use crate::env::environment::Shared;
use crate::env::now_us;
use bc_toxiproxy::client::{Client, ProxyUpdate};
use std::time::Duration;

pub(super) async fn apply(
    shared: &Shared,
    fault: &Fault,
    links: &LinkSelector,
    period: Duration,
    count: u32,
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
    let proxies: Vec<String> = resolve_links(&shared.topology, links)
        .map_err(invalid)?
        .iter()
        .map(|i| i.proxy_name())
        .collect();
    let mut actions = super::link::set_enabled(shared, &proxies, false)
        .await
        .map_err(|reason| FaultError::NotConfirmed {
            fault: name.clone(),
            reason,
        })?;
    let at = now_us();
    actions.push(format!(
        "flapping {} link(s): {count} x ({} ms down, {} ms up) in the background",
        proxies.len(),
        (period / 2).as_millis(),
        (period / 2).as_millis()
    ));
    let task = tokio::spawn(toggle(
        shared.toxi.clone(),
        proxies.clone(),
        period / 2,
        count,
    ));
    let mut applied = Applied::new(at, actions, vec![HealAction::EnableProxies(proxies)]);
    applied.task = Some(task);
    Ok(applied)
}

/// Runs the remaining toggles; the links start down and end up.
async fn toggle(toxi: Client, proxies: Vec<String>, half: Duration, count: u32) {
    for cycle in 0..count {
        if cycle > 0 {
            set(&toxi, &proxies, false).await;
        }
        tokio::time::sleep(half).await;
        set(&toxi, &proxies, true).await;
        tokio::time::sleep(half).await;
    }
}

async fn set(toxi: &Client, proxies: &[String], on: bool) {
    let update = ProxyUpdate {
        enabled: Some(on),
        ..ProxyUpdate::default()
    };
    for p in proxies {
        if let Err(e) = toxi.update_proxy(p, &update).await {
            tracing::warn!(proxy = %p, error = %e, "flap toggle failed");
        }
    }
}

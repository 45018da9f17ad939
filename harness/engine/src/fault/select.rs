//! Selectors as data: which instances or desktop links a fault covers, computed from the topology
//! before anything is touched (so it can be checked and unit-tested on its own).

use super::{LinkSelector, ServerSelector};
use crate::env::{InstanceId, Topology};
use bc_protocol::Role;

fn check_site(topology: &Topology, site: &str) -> Result<(), String> {
    if topology.has_site(site) {
        Ok(())
    } else {
        Err(format!(
            "unknown site `{site}` (sites: {})",
            topology.sites().join(", ")
        ))
    }
}

/// Every instance of a site.
pub fn site_instances(topology: &Topology, site: &str) -> Result<Vec<InstanceId>, String> {
    check_site(topology, site)?;
    Ok(topology
        .instances()
        .into_iter()
        .filter(|i| i.site == site)
        .collect())
}

/// The instances a server selector covers (both slots when `role` is `None`).
pub fn resolve_servers(
    topology: &Topology,
    sel: &ServerSelector,
) -> Result<Vec<InstanceId>, String> {
    check_site(topology, &sel.site)?;
    if !topology.has_server(sel.server) {
        return Err(format!(
            "the topology has no {} (stat_server is off)",
            sel.server.as_str()
        ));
    }
    check_group(topology, sel.group)?;
    Ok(topology
        .groups_of(sel.server)
        .filter(|g| sel.group.is_none_or(|want| want == *g))
        .flat_map(|g| {
            Role::ALL
                .into_iter()
                .filter(|r| sel.role.is_none_or(|want| want == *r))
                .map(move |r| InstanceId::new(sel.site.clone(), sel.server, r).in_group(g))
        })
        .collect())
}

/// The desktop links (one proxy per instance) a link selector covers.
pub fn resolve_links(topology: &Topology, sel: &LinkSelector) -> Result<Vec<InstanceId>, String> {
    check_site(topology, &sel.site)?;
    check_group(topology, sel.group)?;
    if let Some(s) = sel.server {
        if !topology.has_server(s) {
            return Err(format!(
                "the topology has no {} (stat_server is off)",
                s.as_str()
            ));
        }
    }
    Ok(topology
        .instances()
        .into_iter()
        .filter(|i| i.site == sel.site)
        .filter(|i| sel.server.is_none_or(|s| s == i.server))
        .filter(|i| sel.role.is_none_or(|r| r == i.role))
        .filter(|i| sel.group.is_none_or(|g| g == i.group))
        .collect())
}

/// A group the topology has (none: every group).
fn check_group(topology: &Topology, group: Option<u32>) -> Result<(), String> {
    match group {
        Some(g) if !(1..=topology.groups()).contains(&g) => Err(format!(
            "unknown group g{g} (the topology has {} group(s) of four SIP Servers)",
            topology.groups()
        )),
        _ => Ok(()),
    }
}

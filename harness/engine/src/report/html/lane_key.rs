//! Which lane an instance is drawn on and in what order, and which lanes a fault's effects hit:
//! one lane per instance, the SIP Servers of each group apart (their connection ids overlap).

use std::collections::BTreeSet;

use bc_protocol::{Role, ServerKind};

use crate::observe::Target;

/// A lane: one server instance (`A.sip_server.primary`, `A.sip_server.g2.primary`) or the desktop
/// (`server == None`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct LaneKey {
    /// Position of the site in the subject's site list.
    pub site_order: usize,
    /// The site.
    pub site: String,
    /// Report order of the server kind (configuration first, as a desktop connects).
    pub kind_order: usize,
    /// The server kind; `None` for the desktop lane.
    pub server: Option<ServerKind>,
    /// The group of four SIP Servers (1 for the other kinds and the desktop); after the kind so
    /// a site's SIP Server pairs sit together, group 1 first.
    pub group: u32,
    /// The HA slot.
    pub role: Role,
}

impl LaneKey {
    /// The lane of an instance; `sites` is the subject's site list (unknown sites go last).
    pub fn instance(
        sites: &[String],
        site: &str,
        server: ServerKind,
        role: Role,
        group: u32,
    ) -> LaneKey {
        LaneKey {
            site_order: sites.iter().position(|s| s == site).unwrap_or(sites.len()),
            site: site.to_string(),
            kind_order: kind_order(server),
            server: Some(server),
            group: group.max(1),
            role,
        }
    }

    /// The desktop's lane, after every server's.
    pub fn desktop() -> LaneKey {
        LaneKey {
            site_order: usize::MAX,
            site: String::new(),
            kind_order: 0,
            server: None,
            group: 1,
            role: Role::Primary,
        }
    }

    /// The instance's name (`A.sip_server.primary`, `A.sip_server.g2.primary`), or `desktop`.
    /// Spelt as the environment's `InstanceId` spells it, which `report` may not depend on.
    pub fn label(&self) -> String {
        match self.server {
            // Group 1 keeps the name it had before groups existed (goldens compare it).
            Some(k) if self.group > 1 => format!(
                "{}.{}.g{}.{}",
                self.site,
                k.as_str(),
                self.group,
                self.role.as_str()
            ),
            Some(k) => format!("{}.{}.{}", self.site, k.as_str(), self.role.as_str()),
            None => "desktop".into(),
        }
    }
}

fn kind_order(k: ServerKind) -> usize {
    ServerKind::ALL.iter().position(|x| *x == k).unwrap_or(0)
}

/// The lanes of every instance `t` covers, in a stable order. `sip_groups` are the SIP Server
/// groups to consider (those seen in the timeline); a target naming a group adds it, so a fault on
/// an idle group's peer still gets its lane. Only SIP Servers come in groups.
pub fn hit(sites: &[String], t: &Target, sip_groups: &BTreeSet<u32>) -> Vec<LaneKey> {
    let mut lanes = Vec::new();
    for k in ServerKind::ALL {
        let groups: BTreeSet<u32> = match k {
            ServerKind::SipServer => sip_groups.iter().copied().chain(t.group).collect(),
            _ => BTreeSet::from([1]),
        };
        for g in groups {
            for r in Role::ALL {
                if t.covers_in(&t.site, k, r, g) {
                    lanes.push(LaneKey::instance(sites, &t.site, k, r, g));
                }
            }
        }
    }
    lanes
}

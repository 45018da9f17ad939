//! The name of one server instance (`A.sip_server.primary`, `A.sip_server.g2.backup`): it names
//! the fault proxy's link to it and appears in events, journals and the lab's wire format.

use bc_protocol::{Role, ServerKind};
use std::fmt;

/// One server instance of the deployment: `A.sip_server.primary`; a SIP Server of another group
/// of four than the first names its group: `A.sip_server.g2.primary`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct InstanceId {
    pub site: String,
    pub server: ServerKind,
    /// The configured HA slot; it does not change when the backup is promoted.
    pub role: Role,
    /// The group of four SIP Servers (1-based; always 1 for CS Proxy and Stat Server, which
    /// serve every group of their site).
    pub group: u32,
}

impl InstanceId {
    pub fn new(site: impl Into<String>, server: ServerKind, role: Role) -> Self {
        InstanceId {
            site: site.into(),
            server,
            role,
            group: 1,
        }
    }

    /// The same instance slot in group `group` (SIP Servers only have more than one).
    pub fn in_group(mut self, group: u32) -> Self {
        self.group = group.max(1);
        self
    }

    /// The other instance of the same HA pair.
    pub fn partner(&self) -> InstanceId {
        InstanceId::new(self.site.clone(), self.server, self.role.other()).in_group(self.group)
    }

    /// Parses the display form back: `A.sip_server.primary`, `A.sip_server.g2.backup`.
    pub fn parse(s: &str) -> Option<InstanceId> {
        let parts: Vec<&str> = s.split('.').collect();
        let (site, kind, group, role) = match parts[..] {
            [site, kind, role] => (site, kind, 1, role),
            [site, kind, g, role] => {
                let g: u32 = g.strip_prefix('g')?.parse().ok()?;
                (g >= 2).then_some(())?;
                (site, kind, g, role)
            }
            _ => return None,
        };
        let server = ServerKind::parse(kind)?;
        let role = Role::parse(role)?;
        Some(InstanceId::new(site, server, role).in_group(group))
    }

    /// The fault proxy's name for the desktop's link to this instance (same as `Display`).
    pub fn proxy_name(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for InstanceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.", self.site, self.server.as_str())?;
        // Group 1 keeps the name it had before groups existed (proxies, journals, goldens).
        if self.group > 1 {
            write!(f, "g{}.", self.group)?;
        }
        write!(f, "{}", self.role.as_str())
    }
}

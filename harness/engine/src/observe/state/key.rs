//! The key of one server instance in the folded state: site, kind, HA slot and group of four
//! SIP Servers, printed as before groups existed for group 1.

use bc_protocol::{Role, ServerKind};
use serde::Serialize;

/// One server instance: site, kind and configured HA slot (with its group of four SIP Servers).
pub type InstanceKey = (String, ServerKind, RoleKey);

/// The configured HA slot made orderable for map keys, with the instance's group (1 for CS
/// Proxy, Stat Server and a deployment of one group): two groups' SIP Servers at one site are
/// different instances whose connection ids may coincide.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RoleKey {
    backup: bool,
    group: u32,
}

impl From<Role> for RoleKey {
    fn from(r: Role) -> Self {
        RoleKey::new(r, 1)
    }
}

impl RoleKey {
    pub(super) fn new(r: Role, group: u32) -> Self {
        RoleKey {
            backup: r == Role::Backup,
            group,
        }
    }

    pub(super) fn role(self) -> Role {
        if self.backup {
            Role::Backup
        } else {
            Role::Primary
        }
    }

    pub(super) fn group(self) -> u32 {
        self.group
    }
}

/// `Primary` / `Backup` as before groups existed; another group's slot adds it: `Primary/g2`.
impl std::fmt::Debug for RoleKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.backup { "Backup" } else { "Primary" })?;
        if self.group > 1 {
            write!(f, "/g{}", self.group)?;
        }
        Ok(())
    }
}

impl Serialize for RoleKey {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&format_args!("{self:?}"))
    }
}

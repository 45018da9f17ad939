//! What a fault's effects do to the folded state: kills and stops end the sessions there,
//! partitions hide them, a heal starts a grace period of one client timeout.

use crate::observe::entry::{Change, Effect, Target};

use super::SessionState;

impl SessionState {
    pub(super) fn effect(&mut self, eff: &Effect, ts: i64) {
        match eff.change {
            Change::Killed | Change::Stopped => {
                if eff.change == Change::Killed {
                    self.restarted
                        .retain(|i| !eff.target.covers_in(&i.0, i.1, i.2.role(), i.2.group()));
                    self.killed.push(eff.target.clone());
                }
                self.conns.retain(|(inst, _), _| {
                    !eff.target
                        .covers_in(&inst.0, inst.1, inst.2.role(), inst.2.group())
                });
                self.closed.retain(|(inst, _)| {
                    !eff.target
                        .covers_in(&inst.0, inst.1, inst.2.role(), inst.2.group())
                });
                // A restarted process starts its event sequence again.
                self.last_seq.retain(|inst, _| {
                    !eff.target
                        .covers_in(&inst.0, inst.1, inst.2.role(), inst.2.group())
                });
            }
            c if c.is_partition() => self.partitions.push(eff.target.clone()),
            Change::Restored => {
                let timeout = self.subject.client_timeout_ms as i64 * 1000;
                let (healed, kept): (Vec<Target>, Vec<Target>) = self
                    .partitions
                    .drain(..)
                    .partition(|p| overlaps(p, &eff.target));
                self.partitions = kept;
                for p in healed {
                    self.grace.push((p, ts + timeout));
                }
            }
            _ => {}
        }
    }
}

fn overlaps(a: &Target, b: &Target) -> bool {
    a.site == b.site
        && (a.server.is_none() || b.server.is_none() || a.server == b.server)
        && (a.role.is_none() || b.role.is_none() || a.role == b.role)
        && (a.group.is_none() || b.group.is_none() || a.group == b.group)
}

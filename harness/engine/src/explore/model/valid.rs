//! Which operations the model accepts now: faults that can be injected in the current state,
//! heals that apply to an active fault, checkpoints where a site is certainly usable.

use bc_suite::{Role, ServerKind};

use super::{Model, Proc};
use crate::explore::schedule::{FaultOp, HealVia, Link, Member, Op, Trigger};

impl Model {
    fn any_active_except_degradation(&self) -> bool {
        self.active.values().any(|f| match f.fault {
            FaultOp::Link(_, k) => k.is_blocking(),
            _ => true,
        })
    }

    fn link_busy(&self, l: &Link) -> bool {
        self.active.values().any(|f| match f.fault {
            FaultOp::Link(o, _) | FaultOp::Flap { link: o, .. } => o.overlaps(l),
            _ => false,
        })
    }

    /// Whether a fault may be injected now.
    pub fn can_inject(&self, f: &FaultOp) -> bool {
        let kinds = self.spec.kinds();
        let member_ok = |m: &Member| kinds.contains(&m.kind) && self.proc(m) == Some(Proc::Up);
        match f {
            FaultOp::KillSite(s) | FaultOp::StopSite(s) => self
                .pairs
                .iter()
                .filter(|((site, _), _)| site == s)
                .all(|(_, p)| p.procs == [Proc::Up, Proc::Up]),
            FaultOp::KillServer(m) | FaultOp::StopServer(m) => {
                // Killing an active backup would leave the pair without a primary once both
                // restart (a restarted backup starts as standby): never do it.
                member_ok(m)
                    && !(m.role == Role::Backup
                        && self.active_role(m.site, m.kind) == Some(Role::Backup))
            }
            FaultOp::FreezeServer(m) => member_ok(m),
            FaultOp::HaFailover(s, k) | FaultOp::HaSwitchover(s, k) => {
                kinds.contains(k)
                    && self.settled
                    && !self.any_active_except_degradation()
                    && self
                        .pairs
                        .get(&(*s, *k))
                        .is_some_and(|p| p.procs == [Proc::Up, Proc::Up] && p.active.is_some())
            }
            FaultOp::Link(l, _) => l.kind.is_none_or(|k| kinds.contains(&k)) && !self.link_busy(l),
            FaultOp::Flap { link, .. } => {
                !self.ha_armed
                    && link.kind.is_none_or(|k| kinds.contains(&k))
                    && !self.link_busy(link)
            }
            FaultOp::RejectLogins(_, k) | FaultOp::Overload(_, k) => {
                kinds.contains(k) && !self.active.values().any(|a| a.fault == *f)
            }
            FaultOp::PreferredSite(..) | FaultOp::DeliverCall(_) => true,
        }
    }

    /// Whether fault `id` may be healed this way now.
    pub fn can_heal(&self, id: u32, via: HealVia) -> bool {
        let Some(f) = self.active.get(&id) else {
            return false;
        };
        match via {
            HealVia::Marker => f.fault.healable_by_marker(),
            HealVia::Restore => match f.fault {
                // restore_site also restarts what other faults took down there; links must be
                // clean so that its effect on links (if any) cannot matter.
                FaultOp::KillSite(s) | FaultOp::StopSite(s) => !self.active.values().any(|o| {
                    matches!(o.fault, FaultOp::Link(l, _) | FaultOp::Flap { link: l, .. } if l.site == s)
                }),
                FaultOp::KillServer(_)
                | FaultOp::StopServer(_)
                | FaultOp::FreezeServer(_)
                | FaultOp::HaFailover(..) => true,
                _ => false,
            },
        }
    }

    /// Whether `op` may be placed on trigger `t` now: a fault or heal, right after the operation
    /// that made the desktop move to the trigger's site (so it will connect and log in there; a
    /// trigger anywhere else may never fire). Stat Server connections are not awaited: a
    /// desktop that does not declare `stat_server` may never open one.
    pub fn can_trigger(&self, t: &Trigger, op: &Op) -> bool {
        matches!(op, Op::Fault { .. } | Op::Heal { .. })
            && self.moved_to == Some(t.site())
            && !matches!(t, Trigger::Connects(_, ServerKind::StatServer))
    }

    /// Whether the operation is valid now.
    pub fn can(&self, op: &Op) -> bool {
        match op {
            Op::Fault { id, fault } => !self.active.contains_key(id) && self.can_inject(fault),
            Op::Heal { id, via } => self.can_heal(*id, *via),
            Op::Checkpoint => !self.settled && self.checkpoint_site().is_some(),
        }
    }
}

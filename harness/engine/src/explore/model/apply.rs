//! How operations change the model: time passing (flaps end), faults taking members down or
//! moving a pair's active member, heals reviving them, checkpoints settling the desktop.

use std::collections::BTreeMap;

use bc_suite::{Role, ServerKind, Site};

use super::{role, slot, ActiveFault, Model, Proc, SiteState, FLAP_MARGIN_MS};
use crate::explore::schedule::{FaultOp, HealVia, Member, Op, TimedOp};

impl Model {
    /// Moves model time forward (flaps that ended are over).
    pub fn advance(&mut self, ms: u64) {
        self.now_ms += ms;
        // Flaps end by themselves.
        let now = self.now_ms;
        self.active.retain(|_, f| match f.fault {
            FaultOp::Flap {
                period_ms, count, ..
            } => now < f.at_ms + period_ms * count as u64 + FLAP_MARGIN_MS,
            _ => true,
        });
    }

    fn take_down(&mut self, m: &Member, to: Proc) {
        if let Some(p) = self.pairs.get_mut(&(m.site, m.kind)) {
            let i = slot(m.role);
            p.procs[i] = to;
            if to == Proc::Down && p.active == Some(i) {
                p.active = None;
            }
        }
    }

    /// Starts down and thaws frozen members, with the environment's role rules: a restarted member
    /// whose partner is active becomes standby; a restarted primary otherwise serves.
    fn revive(&mut self, members: &[Member]) {
        let mut started: BTreeMap<(Site, ServerKind), Vec<usize>> = BTreeMap::new();
        for m in members {
            if let Some(p) = self.pairs.get_mut(&(m.site, m.kind)) {
                let i = slot(m.role);
                match p.procs[i] {
                    Proc::Down => {
                        p.procs[i] = Proc::Up;
                        started.entry((m.site, m.kind)).or_default().push(i);
                    }
                    Proc::Frozen => p.procs[i] = Proc::Up,
                    Proc::Up => {}
                }
            }
        }
        for (key, s) in started {
            let p = self.pairs.get_mut(&key).expect("known pair");
            let partner_serving = p.active.is_some_and(|a| !s.contains(&a));
            if !partner_serving && s.contains(&0) {
                p.active = Some(0);
            }
        }
        // Process faults whose members all run again are over.
        let pairs = &self.pairs;
        self.active.retain(|_, f| {
            f.members.is_empty()
                || f.members
                    .iter()
                    .any(|m| pairs[&(m.site, m.kind)].procs[slot(m.role)] != Proc::Up)
        });
    }

    fn site_loss(&self, f: &FaultOp) -> bool {
        match f {
            FaultOp::KillSite(_)
            | FaultOp::StopSite(_)
            | FaultOp::KillServer(_)
            | FaultOp::StopServer(_)
            | FaultOp::FreezeServer(_)
            | FaultOp::RejectLogins(..)
            | FaultOp::Overload(..) => true,
            FaultOp::Link(_, k) => k.is_blocking(),
            _ => false,
        }
    }

    /// Applies a valid operation (check with [`Model::can`] first).
    pub fn apply(&mut self, t: &TimedOp) {
        self.advance(t.wait_ms);
        self.moved_to = None;
        match t.op {
            Op::Fault { id, fault } => self.apply_fault(id, fault),
            Op::Heal { id, via } => self.apply_heal(id, via),
            Op::Checkpoint => {
                // A checkpoint that names a site fails unless the desktop is there.
                if let Some(Some(site)) = self.checkpoint_site() {
                    self.known = Some(site);
                }
                self.advance(self.spec.budget_ms);
                self.settled = true;
            }
        }
        self.track_known(&t.op);
        // A conformant desktop leaves a broken site for a clean one.
        let cur = self.current;
        if self.site_state(cur) == SiteState::Broken
            && self.site_state(cur.other()) == SiteState::Clean
        {
            self.current = cur.other();
        }
    }

    /// Where the desktop certainly is after `op` (see [`Model::known`]), and whether `op` made it
    /// move for certain.
    fn track_known(&mut self, op: &Op) {
        let Some(k) = self.known else {
            return;
        };
        if matches!(op, Op::Heal { .. }) && self.spec.failback {
            self.known = None;
        } else if self.site_state(k) != SiteState::Clean {
            self.known = None;
            if self.site_state(k) == SiteState::Broken
                && self.site_state(k.other()) == SiteState::Clean
            {
                self.moved_to = Some(k.other());
            }
        }
    }

    fn apply_fault(&mut self, id: u32, fault: FaultOp) {
        if self.site_loss(&fault) {
            self.ha_armed = false;
        }
        let mut members = Vec::new();
        match fault {
            FaultOp::KillSite(s) | FaultOp::StopSite(s) => {
                for k in self.spec.kinds() {
                    for r in [Role::Primary, Role::Backup] {
                        let m = Member {
                            site: s,
                            kind: k,
                            role: r,
                        };
                        self.take_down(&m, Proc::Down);
                        members.push(m);
                    }
                }
            }
            FaultOp::KillServer(m) | FaultOp::StopServer(m) => {
                self.take_down(&m, Proc::Down);
                members.push(m);
            }
            FaultOp::FreezeServer(m) => {
                self.take_down(&m, Proc::Frozen);
                members.push(m);
            }
            FaultOp::HaFailover(s, k) => {
                self.ha_armed = true;
                let p = self.pairs.get_mut(&(s, k)).expect("valid");
                let a = p.active.expect("valid");
                p.procs[a] = Proc::Down;
                p.active = Some(1 - a);
                members.push(Member {
                    site: s,
                    kind: k,
                    role: role(a),
                });
            }
            FaultOp::HaSwitchover(s, k) => {
                self.ha_armed = true;
                let p = self.pairs.get_mut(&(s, k)).expect("valid");
                p.active = p.active.map(|a| 1 - a);
            }
            _ => {}
        }
        let stored = !matches!(
            fault,
            FaultOp::HaSwitchover(..) | FaultOp::PreferredSite(..) | FaultOp::DeliverCall(_)
        );
        if stored {
            self.active.insert(
                id,
                ActiveFault {
                    fault,
                    at_ms: self.now_ms,
                    members,
                },
            );
        }
        self.settled = false;
    }

    fn apply_heal(&mut self, id: u32, via: HealVia) {
        let f = self.active.get(&id).cloned().expect("valid heal");
        match (via, f.fault) {
            (HealVia::Restore, FaultOp::KillSite(s) | FaultOp::StopSite(s)) => {
                let all: Vec<Member> = self
                    .pairs
                    .keys()
                    .filter(|(site, _)| *site == s)
                    .flat_map(|(site, k)| {
                        [Role::Primary, Role::Backup].map(|r| Member {
                            site: *site,
                            kind: *k,
                            role: r,
                        })
                    })
                    .collect();
                self.revive(&all);
            }
            _ if !f.members.is_empty() => self.revive(&f.members),
            _ => {
                self.active.remove(&id);
            }
        }
        self.active.remove(&id);
        self.settled = false;
    }
}

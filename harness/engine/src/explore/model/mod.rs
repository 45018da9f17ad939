//! The reference model a schedule runs against (members up, links cut, faults active, what a
//! conformant desktop must achieve); the generator and shrinking only keep what it accepts.

use std::collections::BTreeMap;

use bc_suite::{Role, ServerKind, Site};

mod apply;
mod valid;

use super::schedule::{FaultOp, Member};

/// A flap counts as active this long after its last cycle (real time runs a little behind).
pub const FLAP_MARGIN_MS: u64 = 1000;

/// What the model needs to know about the run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spec {
    /// Budget: checkpoint length and expectation deadline, ms.
    pub budget_ms: u64,
    /// Settling period after the final heal, ms.
    pub settle_ms: u64,
    /// The agent's preferred site (where the desktop logs in first).
    pub preferred: Site,
    /// Whether the topology has Stat Server pairs.
    pub stat_server: bool,
    /// The desktop declares `stat_server`: "logged in" includes the Stat Server.
    pub stat_required: bool,
    /// The desktop declares `stat_loss_triggers_dr`: a Stat Server pair loss is a site loss.
    pub stat_loss_dr: bool,
    /// The desktop declares `failback`: a heal may bring it back to the preferred site.
    pub failback: bool,
}

impl Spec {
    /// Defaults for a budget and a preferred site.
    pub fn new(budget_ms: u64, preferred: Site) -> Spec {
        Spec {
            budget_ms,
            settle_ms: 2500,
            preferred,
            stat_server: true,
            stat_required: false,
            stat_loss_dr: false,
            failback: false,
        }
    }
    /// The server kinds that exist.
    pub fn kinds(&self) -> Vec<ServerKind> {
        let mut v = vec![ServerKind::ConfigServer, ServerKind::SipServer];
        if self.stat_server {
            v.push(ServerKind::StatServer);
        }
        v
    }
}

/// A process state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proc {
    /// Running.
    Up,
    /// Killed or stopped.
    Down,
    /// SIGSTOPped.
    Frozen,
}

/// What a conformant desktop can do at a site right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum SiteState {
    /// Every needed pair serves: the desktop can log in and stay.
    Clean,
    /// Not certain either way (rejected logins, flapping, optional server lost).
    Uncertain,
    /// A needed pair cannot serve: the desktop cannot be logged in here.
    Broken,
}

#[derive(Debug, Clone)]
struct Pair {
    procs: [Proc; 2],
    active: Option<usize>,
}

fn slot(r: Role) -> usize {
    match r {
        Role::Primary => 0,
        Role::Backup => 1,
    }
}

fn role(i: usize) -> Role {
    if i == 0 {
        Role::Primary
    } else {
        Role::Backup
    }
}

/// A fault still in effect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActiveFault {
    /// The fault.
    pub fault: FaultOp,
    /// Model time it was injected, ms.
    pub at_ms: u64,
    /// Members it took down or froze (process faults, HA failover).
    pub members: Vec<Member>,
}

/// The model state.
#[derive(Debug, Clone)]
pub struct Model {
    spec: Spec,
    pairs: BTreeMap<(Site, ServerKind), Pair>,
    active: BTreeMap<u32, ActiveFault>,
    /// Model time, ms since the desktop logged in first.
    pub now_ms: u64,
    /// An HA failover/switchover happened and no site-level loss since (the runner's BC-7 check
    /// is armed: a flap, which it does not count as a loss, must not follow).
    ha_armed: bool,
    /// The previous operation was a passed checkpoint (the desktop is logged in, not switching).
    settled: bool,
    /// Where a conformant desktop is most likely logged in.
    pub current: Site,
    /// Where the desktop certainly is: the preferred site at the start, the site a checkpoint
    /// found it at; unknown from the moment its site stops being clean (it may be leaving) or,
    /// with failback, after a heal (it may be returning).
    pub known: Option<Site>,
    /// The site the last operation certainly made the desktop move to: it broke the site where the
    /// desktop was known to be while the other was clean, so the desktop must now connect and log
    /// in there, and an operation placed on a trigger at that site will be set off.
    pub moved_to: Option<Site>,
}

impl Model {
    /// Everything up, the desktop logged in at the preferred site.
    pub fn new(spec: &Spec) -> Model {
        let mut pairs = BTreeMap::new();
        for s in Site::ALL {
            for k in spec.kinds() {
                pairs.insert(
                    (s, k),
                    Pair {
                        procs: [Proc::Up, Proc::Up],
                        active: Some(0),
                    },
                );
            }
        }
        Model {
            spec: spec.clone(),
            pairs,
            active: BTreeMap::new(),
            now_ms: 0,
            ha_armed: false,
            settled: true,
            current: spec.preferred,
            known: Some(spec.preferred),
            moved_to: None,
        }
    }

    /// The spec.
    pub fn spec(&self) -> &Spec {
        &self.spec
    }

    /// State of one member.
    pub fn proc(&self, m: &Member) -> Option<Proc> {
        self.pairs
            .get(&(m.site, m.kind))
            .map(|p| p.procs[slot(m.role)])
    }

    /// The active (serving) member of a pair.
    pub fn active_role(&self, site: Site, kind: ServerKind) -> Option<Role> {
        self.pairs
            .get(&(site, kind))
            .and_then(|p| p.active)
            .map(role)
    }

    /// Faults still in effect, by id.
    pub fn active(&self) -> &BTreeMap<u32, ActiveFault> {
        &self.active
    }

    /// Whether the previous operation was a checkpoint.
    pub fn settled(&self) -> bool {
        self.settled
    }

    fn pair_state(&self, site: Site, kind: ServerKind) -> SiteState {
        let Some(p) = self.pairs.get(&(site, kind)) else {
            return SiteState::Clean;
        };
        let Some(a) = p.active else {
            return SiteState::Broken;
        };
        if p.procs[a] != Proc::Up {
            return SiteState::Broken;
        }
        let mut st = SiteState::Clean;
        for f in self.active.values() {
            match f.fault {
                FaultOp::Link(l, k) if k.is_blocking() && l.covers(site, kind, role(a)) => {
                    return SiteState::Broken
                }
                FaultOp::Flap { link, .. } if link.touches(site, kind) => st = SiteState::Uncertain,
                FaultOp::RejectLogins(s, k) | FaultOp::Overload(s, k) if s == site && k == kind => {
                    st = SiteState::Uncertain
                }
                _ => {}
            }
        }
        st
    }

    /// What a conformant desktop can do at a site.
    pub fn site_state(&self, site: Site) -> SiteState {
        let mut st = self
            .pair_state(site, ServerKind::ConfigServer)
            .max(self.pair_state(site, ServerKind::SipServer));
        if self.spec.stat_server {
            let s = self.pair_state(site, ServerKind::StatServer);
            if self.spec.stat_loss_dr {
                st = st.max(s);
            } else if self.spec.stat_required && s != SiteState::Clean {
                st = st.max(SiteState::Uncertain);
            }
        }
        st
    }

    /// Where a checkpoint now must find the agent: `Some(Some(site))` at that site (the other is
    /// broken), `Some(None)` at either, `None` when no site is certainly usable (no checkpoint).
    pub fn checkpoint_site(&self) -> Option<Option<Site>> {
        let a = self.site_state(Site::A);
        let b = self.site_state(Site::B);
        match (a, b) {
            (SiteState::Clean, SiteState::Broken) => Some(Some(Site::A)),
            (SiteState::Broken, SiteState::Clean) => Some(Some(Site::B)),
            (SiteState::Clean, _) | (_, SiteState::Clean) => Some(None),
            _ => None,
        }
    }

    /// Whether anything is still broken, frozen or degraded (the final heal has work to do).
    pub fn needs_heal(&self) -> bool {
        !self.active.is_empty() || self.pairs.values().any(|p| p.procs != [Proc::Up, Proc::Up])
    }
}

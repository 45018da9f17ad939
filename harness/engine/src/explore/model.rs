//! The reference model of the environment a schedule runs against: which members are up, which
//! links are cut, which faults are still active, and what a conformant desktop must achieve.
//! The generator only draws operations the model accepts; shrinking replays candidates through it.

use std::collections::BTreeMap;

use bc_suite::{Role, ServerKind, Site};

use super::schedule::{FaultOp, HealVia, Member, Op, Schedule, TimedOp};

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
                FaultOp::RejectLogins(s, k) if s == site && k == kind => st = SiteState::Uncertain,
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

    fn any_active_except_degradation(&self) -> bool {
        self.active.values().any(|f| match f.fault {
            FaultOp::Link(_, k) => k.is_blocking(),
            _ => true,
        })
    }

    fn link_busy(&self, l: &super::schedule::Link) -> bool {
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
            FaultOp::RejectLogins(s, k) => {
                kinds.contains(k)
                    && !self
                        .active
                        .values()
                        .any(|f| f.fault == FaultOp::RejectLogins(*s, *k))
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

    /// Whether the operation is valid now.
    pub fn can(&self, op: &Op) -> bool {
        match op {
            Op::Fault { id, fault } => !self.active.contains_key(id) && self.can_inject(fault),
            Op::Heal { id, via } => self.can_heal(*id, *via),
            Op::Checkpoint => !self.settled && self.checkpoint_site().is_some(),
        }
    }

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
            | FaultOp::RejectLogins(..) => true,
            FaultOp::Link(_, k) => k.is_blocking(),
            _ => false,
        }
    }

    /// Applies a valid operation (check with [`Model::can`] first).
    #[expect(
        clippy::too_many_lines,
        reason = "to be split into one function per step (issue 12's 100-line limit)"
    )]
    pub fn apply(&mut self, t: &TimedOp) {
        self.advance(t.wait_ms);
        match t.op {
            Op::Fault { id, fault } => {
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
                    FaultOp::HaSwitchover(..)
                        | FaultOp::PreferredSite(..)
                        | FaultOp::DeliverCall(_)
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
            Op::Heal { id, via } => {
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
            Op::Checkpoint => {
                self.advance(self.spec.budget_ms);
                self.settled = true;
            }
        }
        // A conformant desktop leaves a broken site for a clean one.
        let cur = self.current;
        if self.site_state(cur) == SiteState::Broken
            && self.site_state(cur.other()) == SiteState::Clean
        {
            self.current = cur.other();
        }
    }

    /// Whether anything is still broken, frozen or degraded (the final heal has work to do).
    pub fn needs_heal(&self) -> bool {
        !self.active.is_empty() || self.pairs.values().any(|p| p.procs != [Proc::Up, Proc::Up])
    }
}

/// One resolved operation: valid in order, with where its checkpoint expects the agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedOp {
    /// The operation.
    pub op: TimedOp,
    /// For checkpoints: the site (`None`: either site).
    pub expect_site: Option<Site>,
    /// Model time when it starts, ms.
    pub at_ms: u64,
    /// For heals: the fault healed, as it was just before.
    pub healed: Option<ActiveFault>,
}

/// A schedule replayed through the model: invalid operations dropped, checkpoints placed, and
/// the switchover bound a conformant desktop respects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// The valid operations.
    pub ops: Vec<ResolvedOp>,
    /// Most DR switchovers a conformant desktop makes over the whole run (BC-11).
    pub max_switchovers: u32,
    /// Whether the final heal has something to undo.
    pub needs_final_heal: bool,
    /// Model duration up to the final heal, ms.
    pub duration_ms: u64,
}

impl Resolved {
    /// The surviving operations as a schedule.
    pub fn schedule(&self, seed: u64) -> Schedule {
        Schedule {
            seed,
            ops: self.ops.iter().map(|r| r.op).collect(),
        }
    }
}

fn break_capable(f: &FaultOp, spec: &Spec) -> bool {
    let kind_counts = |k: ServerKind| k != ServerKind::StatServer || spec.stat_loss_dr;
    match f {
        FaultOp::KillSite(_) | FaultOp::StopSite(_) => true,
        FaultOp::KillServer(m) | FaultOp::StopServer(m) | FaultOp::FreezeServer(m) => {
            kind_counts(m.kind)
        }
        FaultOp::Link(l, k) => k.is_blocking() && l.kind.is_none_or(kind_counts),
        FaultOp::RejectLogins(_, k) => kind_counts(*k),
        _ => false,
    }
}

/// Replays a schedule through the model, dropping what is invalid in its new context (after
/// shrinking removed operations).
pub fn resolve(s: &Schedule, spec: &Spec) -> Resolved {
    let mut m = Model::new(spec);
    let mut ops = Vec::new();
    for t in &s.ops {
        // Validity is judged after the pause (a pause can end a flap).
        let mut probe = m.clone();
        probe.advance(t.wait_ms);
        if !probe.can(&t.op) {
            continue;
        }
        let expect_site = match t.op {
            Op::Checkpoint => probe.checkpoint_site().flatten(),
            _ => None,
        };
        let healed = match t.op {
            Op::Heal { id, .. } => probe.active().get(&id).cloned(),
            _ => None,
        };
        let at_ms = probe.now_ms;
        m = probe;
        m.apply(&TimedOp {
            wait_ms: 0,
            op: t.op,
        });
        ops.push(ResolvedOp {
            op: *t,
            expect_site,
            at_ms,
            healed,
        });
    }
    // BC-11 bound: every break-capable fault may cause one switchover; a flap alone causes at
    // most one, unless other breaks happen while it flaps (then each cycle may).
    let mut bound = 0u32;
    for (i, r) in ops.iter().enumerate() {
        let Op::Fault { fault, .. } = r.op.op else {
            if spec.failback && matches!(r.op.op, Op::Heal { .. }) {
                bound += 1;
            }
            continue;
        };
        if let FaultOp::Flap {
            period_ms, count, ..
        } = fault
        {
            let end = r.at_ms + period_ms * count as u64 + FLAP_MARGIN_MS + spec.budget_ms;
            let others = ops.iter().enumerate().any(|(j, o)| {
                j != i
                    && o.at_ms <= end
                    && matches!(o.op.op, Op::Fault { fault, .. } if break_capable(&fault, spec) || matches!(fault, FaultOp::Flap { .. }))
                    && o.at_ms + spec.budget_ms >= r.at_ms
            });
            bound += if others { count } else { 1 };
        } else if break_capable(&fault, spec) {
            bound += 1;
        }
    }
    if spec.failback {
        bound += 1;
    }
    Resolved {
        max_switchovers: bound,
        needs_final_heal: m.needs_heal(),
        duration_ms: m.now_ms,
        ops,
    }
}

//! What one planned run exercises, as row keys of the coverage table (`BC-4 black_hole/sip_server`).
//! Read from the run's rules, steps, faults and targets only: no desktop runs, nothing is guessed.

use std::collections::BTreeSet;

use crate::config::{ConfigDb, PREFERRED_OPTION, PREFERRED_SECTION};
use crate::model::{Direction, FlapMode};
use crate::planned::{Action, HealTarget, LinkFault, PlannedInvariant, PlannedScenario};
use crate::vocab::{Capability, Level, Role, RuleId, ServerKind, Site};

/// The kinds of fault a step injects, in the words of docs/rules.md and the suite keywords.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Fault {
    Killed,
    Stopped,
    Refused,
    BlackHole,
    Reset,
    Frozen,
    LoginRejected,
    OneWayToServer,
    OneWayToDesktop,
    LimitData,
    SlowClose,
    Latency,
    Jitter,
    Bandwidth,
    Slicer,
    FlapRefuse,
    FlapBlackHole,
    FlapReset,
    HaFailover,
    HaSwitchover,
}

impl Fault {
    /// The spelling in row keys (the suite keyword, or `flap_MODE`, `one_way_DIRECTION`).
    pub fn as_str(self) -> &'static str {
        match self {
            Fault::Killed => "killed",
            Fault::Stopped => "stopped",
            Fault::Refused => "refused",
            Fault::BlackHole => "black_hole",
            Fault::Reset => "reset",
            Fault::Frozen => "frozen",
            Fault::LoginRejected => "login_rejected",
            Fault::OneWayToServer => "one_way_to_server",
            Fault::OneWayToDesktop => "one_way_to_desktop",
            Fault::LimitData => "limit_data",
            Fault::SlowClose => "slow_close",
            Fault::Latency => "latency",
            Fault::Jitter => "jitter",
            Fault::Bandwidth => "bandwidth",
            Fault::Slicer => "slicer",
            Fault::FlapRefuse => "flap_refuse",
            Fault::FlapBlackHole => "flap_black_hole",
            Fault::FlapReset => "flap_reset",
            Fault::HaFailover => "ha_failover",
            Fault::HaSwitchover => "ha_switchover",
        }
    }
    /// Faults that end a session or make a server unusable (the "site down" family).
    fn takes_down(self) -> bool {
        matches!(
            self,
            Fault::Killed
                | Fault::Stopped
                | Fault::Refused
                | Fault::BlackHole
                | Fault::Reset
                | Fault::Frozen
                | Fault::LoginRejected
                | Fault::OneWayToServer
                | Fault::OneWayToDesktop
                | Fault::LimitData
        )
    }
}

/// One fault step: what, where, on which server kinds, and for which HA member.
#[derive(Debug, Clone)]
pub(crate) struct Hit {
    pub fault: Fault,
    pub site: Site,
    pub kinds: Vec<ServerKind>,
    pub role: Option<Role>,
}

fn one(k: ServerKind) -> Vec<ServerKind> {
    vec![k]
}

/// The fault a step injects, if it injects one.
pub(crate) fn hit(a: &Action) -> Option<Hit> {
    let all = || ServerKind::ALL.to_vec();
    let (fault, site, kinds, role) = match a {
        Action::KillSite(s) => (Fault::Killed, *s, all(), None),
        Action::StopSite(s) => (Fault::Stopped, *s, all(), None),
        Action::KillServer(t) => (Fault::Killed, t.site, one(t.server), t.role),
        Action::StopServer(t) => (Fault::Stopped, t.site, one(t.server), t.role),
        Action::FreezeServer(t) => (Fault::Frozen, t.site, one(t.server), t.role),
        // An overload answer is a rejected login (429 rather than 403) for the rows' purpose.
        Action::RejectLogins(t) | Action::Overload(t, _) => {
            (Fault::LoginRejected, t.site, one(t.server), t.role)
        }
        Action::HaFailover { site, server, .. } => (Fault::HaFailover, *site, one(*server), None),
        Action::HaSwitchover { site, server, .. } => {
            (Fault::HaSwitchover, *site, one(*server), None)
        }
        Action::Link { link, fault } => {
            let f = match fault {
                LinkFault::Refuse => Fault::Refused,
                LinkFault::BlackHole => Fault::BlackHole,
                LinkFault::Reset => Fault::Reset,
                LinkFault::Latency { .. } => Fault::Latency,
                LinkFault::Jitter { .. } => Fault::Jitter,
                LinkFault::Bandwidth { .. } => Fault::Bandwidth,
                LinkFault::SlowClose { .. } => Fault::SlowClose,
                LinkFault::LimitData { .. } => Fault::LimitData,
                LinkFault::Slicer { .. } => Fault::Slicer,
                LinkFault::OneWay {
                    direction: Direction::ToServer,
                } => Fault::OneWayToServer,
                LinkFault::OneWay {
                    direction: Direction::ToDesktop,
                } => Fault::OneWayToDesktop,
            };
            (f, link.site, link.server.map_or_else(all, one), link.role)
        }
        Action::Flap { link, mode, .. } => {
            let f = match mode {
                FlapMode::Refuse => Fault::FlapRefuse,
                FlapMode::BlackHole => Fault::FlapBlackHole,
                FlapMode::Reset => Fault::FlapReset,
            };
            (f, link.site, link.server.map_or_else(all, one), link.role)
        }
        _ => return None,
    };
    Some(Hit {
        fault,
        site,
        kinds,
        role,
    })
}

/// Which sites have their CS Proxy or SIP Server down at each step: faults set by markers,
/// undone by heals, restores and thaws (enough to tell "the other site was up" at an expectation).
#[derive(Default)]
struct Down {
    /// (marker or step index, site) of every fault still active on a mandatory server.
    active: Vec<(String, Site, Vec<ServerKind>)>,
}

impl Down {
    fn apply(&mut self, index: usize, marker: Option<&str>, a: &Action) {
        let mandatory = |k: &ServerKind| *k != ServerKind::StatServer;
        match a {
            Action::Heal(HealTarget::All) => self.active.clear(),
            Action::Heal(HealTarget::Marker { marker, .. }) => {
                self.active.retain(|(m, _, _)| m != marker);
            }
            Action::RestoreSite(s) => self.active.retain(|(_, site, _)| site != s),
            Action::RestoreServer(t) | Action::ThawServer(t) => {
                for (_, site, kinds) in &mut self.active {
                    if *site == t.site {
                        kinds.retain(|k| *k != t.server);
                    }
                }
                self.active.retain(|(_, _, kinds)| !kinds.is_empty());
            }
            _ => {
                if let Some(h) = hit(a).filter(|h| h.fault.takes_down()) {
                    let kinds: Vec<ServerKind> =
                        h.kinds.iter().copied().filter(mandatory).collect();
                    if !kinds.is_empty() {
                        let key = marker.map_or_else(|| format!("#{index}"), str::to_owned);
                        self.active.push((key, h.site, kinds));
                    }
                }
            }
        }
    }
    fn is_down(&self, s: Site) -> bool {
        self.active.iter().any(|(_, site, _)| *site == s)
    }
}

fn annex_site(annex: &crate::config::ConfigDb, level: Level, name: &str) -> Option<Site> {
    let a = match level {
        Level::Person => &annex.persons.iter().find(|p| p.username == name)?.annex,
        Level::AgentGroup => &annex.agent_groups.iter().find(|g| g.name == name)?.annex,
        Level::Tenant => &annex.tenants.iter().find(|t| t.name == name)?.annex,
    };
    Site::parse(a.get(PREFERRED_SECTION)?.get(PREFERRED_OPTION)?.trim())
}

/// Writes (or clears) the preferred site on one object of a copy of the database.
fn write(db: &mut ConfigDb, level: Level, name: &str, site: Option<Site>) {
    let annex = match level {
        Level::Person => db
            .persons
            .iter_mut()
            .find(|p| p.username == name)
            .map(|p| &mut p.annex),
        Level::AgentGroup => db
            .agent_groups
            .iter_mut()
            .find(|g| g.name == name)
            .map(|g| &mut g.annex),
        Level::Tenant => db
            .tenants
            .iter_mut()
            .find(|t| t.name == name)
            .map(|t| &mut t.annex),
    };
    if let Some(annex) = annex {
        let section = annex.entry(PREFERRED_SECTION.to_owned()).or_default();
        match site {
            Some(s) => section.insert(PREFERRED_OPTION.to_owned(), s.as_str().to_owned()),
            None => section.remove(PREFERRED_OPTION),
        };
    }
}

/// The level the agent's preferred site comes from, and whether two of its groups set it
/// differently (so only the first in `AgentGroupDBIDs` order gives the right answer).
fn source(db: &ConfigDb, agent: &str) -> Option<(Level, bool)> {
    let p = db.person(agent)?;
    if annex_site(db, Level::Person, agent).is_some() {
        return Some((Level::Person, false));
    }
    let groups: Vec<Site> = db
        .groups_of(p)
        .filter_map(|g| annex_site(db, Level::AgentGroup, &g.name))
        .collect();
    if let Some(first) = groups.first() {
        return Some((Level::AgentGroup, groups.iter().any(|g| g != first)));
    }
    db.tenant_of(p)
        .and_then(|t| annex_site(db, Level::Tenant, &t.name))
        .map(|_| (Level::Tenant, false))
}

/// Every row key the run exercises.
pub fn facts(sc: &PlannedScenario, db: &ConfigDb) -> BTreeSet<String> {
    let Some(preferred) = sc.preferred_site else {
        return BTreeSet::new();
    };
    let started = sc
        .steps
        .iter()
        .position(|s| s.action == Action::StartDesktop)
        .unwrap_or(0);
    let mut w = Walk {
        sc,
        preferred,
        started,
        out: BTreeSet::new(),
        db: db.clone(),
        down: Down::default(),
        faults: Vec::new(),
        both_down_at_start: false,
        both_down: false,
        changed: None,
        call_after_fault: false,
    };
    for (i, step) in sc.steps.iter().enumerate() {
        w.step(i, step.marker.as_deref(), &step.action);
    }
    let faults = std::mem::take(&mut w.faults);
    let mut out = std::mem::take(&mut w.out);
    let rule = |r| w.rule(r);
    bc6(sc, &faults, preferred, &mut |r, v| {
        if rule(r) {
            out.insert(format!("{r} {v}"));
        }
    });
    out
}

const MANDATORY: [ServerKind; 2] = [ServerKind::ConfigServer, ServerKind::SipServer];

/// The walk over one run's steps, with what earlier steps did.
struct Walk<'a> {
    sc: &'a PlannedScenario,
    preferred: Site,
    /// Index of the start step.
    started: usize,
    out: BTreeSet<String>,
    /// The configuration database as the steps so far left it.
    db: ConfigDb,
    down: Down,
    /// Faults injected after the start at any site.
    faults: Vec<Hit>,
    both_down_at_start: bool,
    both_down: bool,
    /// The effective preference after a change made while the desktop runs.
    changed: Option<Site>,
    call_after_fault: bool,
}

impl Walk<'_> {
    /// A scenario checks rule `r` when it names it, or (BC-6) carries its invariant.
    fn rule(&self, r: RuleId) -> bool {
        self.sc.rules.contains(&r)
            || (r == RuleId::Bc6
                && self
                    .sc
                    .invariants
                    .contains(&PlannedInvariant::NeverLoggedInAtBothPeers))
    }

    fn add(&mut self, r: RuleId, value: String) {
        if self.rule(r) {
            self.out.insert(format!("{r} {value}"));
        }
    }

    fn step(&mut self, i: usize, marker: Option<&str>, a: &Action) {
        if i == self.started {
            self.at_start();
        }
        self.down.apply(i, marker, a);
        self.both_down |= Site::ALL.iter().all(|s| self.down.is_down(*s));
        if let Action::SetPreferredSite { level, name, site } = a {
            write(&mut self.db, *level, name, *site);
            if i < self.started {
                self.add(RuleId::Bc2, format!("changed_before_start/{level}"));
            } else {
                self.changed = self.db.preferred_site(&self.sc.agent);
            }
        }
        if let Some(h) = hit(a) {
            self.fault(i, h);
        }
        match a {
            Action::ExpectLoggedIn {
                site: Some(s),
                servers,
                ..
            } => self.expect_logged_in(*s, servers.as_deref()),
            Action::ExpectStaysLoggedIn { site, .. } => self.reread(*site),
            Action::DeliverCall { via } => {
                self.call_after_fault = !self.faults.is_empty() && *via != self.preferred;
            }
            Action::ExpectCallAnswered { .. } => {
                let branch = if self.call_after_fault {
                    "after_switchover"
                } else {
                    "before_fault"
                };
                self.add(RuleId::Bc10, branch.into());
            }
            _ => {}
        }
    }

    /// The preference the desktop reads at start, and where it comes from (BC-2).
    fn at_start(&mut self) {
        if self.sc.pin_preferred_site {
            self.add(RuleId::Bc2, "person".into());
        } else if let Some((level, order)) = source(&self.db, &self.sc.agent) {
            self.add(RuleId::Bc2, level.as_str().into());
            if order {
                self.add(RuleId::Bc2, "first_agent_group_in_order".into());
            }
        }
        self.both_down_at_start = Site::ALL.iter().all(|s| self.down.is_down(*s));
    }

    fn fault(&mut self, i: usize, h: Hit) {
        if h.site != self.preferred {
            return;
        }
        let after = i > self.started;
        for k in &h.kinds {
            if MANDATORY.contains(k) {
                let rule = if after { RuleId::Bc4 } else { RuleId::Bc3 };
                self.add(rule, format!("{}/{k}", h.fault.as_str()));
            }
            if after {
                match (h.fault, h.role) {
                    (Fault::HaFailover, _) => self.add(RuleId::Bc7, format!("{k}/primary")),
                    (Fault::HaSwitchover, _) => self.add(RuleId::Bc7, format!("{k}/switchover")),
                    (Fault::Killed, Some(Role::Backup)) => {
                        self.add(RuleId::Bc7, format!("{k}/backup"));
                    }
                    _ => {}
                }
            }
        }
        if !after {
            return;
        }
        if h.kinds == [ServerKind::StatServer] && h.fault.takes_down() {
            let branch = if self.sc.requires.contains(&Capability::StatLossTriggersDr) {
                "dr_declared"
            } else {
                "no_dr"
            };
            self.add(RuleId::Bc8, format!("{branch}/{}", h.fault.as_str()));
        }
        if !h.fault.takes_down() {
            self.add(RuleId::Bc11, h.fault.as_str().into());
        }
        self.faults.push(h);
    }

    fn expect_logged_in(&mut self, s: Site, servers: Option<&[ServerKind]>) {
        let kinds = servers.map_or_else(|| MANDATORY.to_vec(), <[ServerKind]>::to_vec);
        for k in &kinds {
            if s == self.preferred && self.faults.is_empty() {
                self.add(RuleId::Bc1, k.to_string());
            }
            if s != self.preferred {
                self.add(RuleId::Bc5, k.to_string());
            }
        }
        self.reread(s);
        if self.both_down {
            let when = if self.both_down_at_start {
                "both_down_at_start".to_owned()
            } else if s == self.preferred {
                "preferred_returns".to_owned()
            } else {
                "other_returns".to_owned()
            };
            self.add(RuleId::Bc9, when);
        }
        if s == self.preferred {
            let faults: Vec<&'static str> = self.faults.iter().map(|h| h.fault.as_str()).collect();
            for f in faults {
                self.add(RuleId::Bc12, f.into());
            }
        }
    }

    /// A re-read preference shows only where it decides the site: the changed value is
    /// expected while the other site is up (with one site down, any desktop ends at the survivor).
    fn reread(&mut self, s: Site) {
        if self.changed == Some(s) && !self.down.is_down(s.other()) && !self.down.is_down(s) {
            let branch = if self.sc.requires.contains(&Capability::Failback) {
                "failback"
            } else {
                "no_failback"
            };
            self.add(RuleId::Bc2, format!("reread_at_reconnection/{branch}"));
        }
    }
}

/// A mock client timeout at least this long outlasts a freeze that a desktop's keep-alive ends
/// (seconds, where the default 2 s expires during it and closes the old session at the thaw).
const UNMASKED_CLIENT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// BC-6's branches: how the old SIP session looks to the servers when the desktop leaves it.
fn bc6(
    sc: &PlannedScenario,
    faults: &[Hit],
    preferred: Site,
    add: &mut impl FnMut(RuleId, String),
) {
    let healed = sc.steps.iter().any(|s| {
        matches!(
            s.action,
            Action::Heal(_) | Action::ThawServer(_) | Action::RestoreSite(_)
        )
    });
    // The desktop's own close shows only where no server closes the silent session first: the
    // mocks keep silent clients longer than the check that the old site is left.
    let unmasked = sc.server_client_timeout.is_some_and(|t| {
        t >= UNMASKED_CLIENT_TIMEOUT
            && sc.steps.iter().any(|s| {
                matches!(s.action, Action::ExpectDisconnected { site, .. } if site == preferred)
            })
    });
    for h in faults.iter().filter(|h| h.site == preferred) {
        let sip = h.kinds.contains(&ServerKind::SipServer);
        let branch = match h.fault {
            Fault::Killed | Fault::Stopped | Fault::Refused | Fault::Reset
                if h.kinds == [ServerKind::ConfigServer] =>
            {
                "old_session_visible"
            }
            Fault::BlackHole if sip && healed => "behind_black_hole_healed",
            Fault::Frozen if sip && healed => "behind_frozen_server_thawed",
            Fault::OneWayToDesktop if sip => "one_way_to_desktop",
            Fault::OneWayToServer if sip => "one_way_to_server",
            _ => continue,
        };
        if unmasked && sip && healed && h.fault == Fault::Frozen {
            add(RuleId::Bc6, "dropped_by_desktop_unmasked".into());
        }
        // Only servers that keep an agent past its connection show whether the desktop logs the
        // agent out itself (a disconnect logs it out everywhere else).
        if sc.keep_agents_on_disconnect && branch == "old_session_visible" {
            add(RuleId::Bc6, "logged_out_by_desktop".into());
        }
        add(RuleId::Bc6, branch.into());
    }
}
